//! A multi-forwarder topology over in-memory links: several synchronous
//! [`Forwarder`]s, and a harness that carries each one's outbox across the
//! links to its neighbours. No runtime and no sockets; time is explicit, so
//! every run takes the same path.
//!
//! ```text
//!        A ──── B           consumers on A, B and C (face 400)
//!        │ ╲    │           the producer on D (face 500)
//!        │  ╲   │           links: A–B, A–C, B–D, C–D and the cross link B–C
//!        C ──── D
//! ```
//!
//! Covered: Interest aggregation at an intermediate node, content store
//! hits on the path, loop detection (PIT nonces and the dead nonce list),
//! Nack(NoRoute) from a dead end, and failover when a link or a route fails.

use std::time::{Duration, Instant};

use picasso_forwarder::fw::{nack_reason, Forwarder, ForwarderLimits, OutPacket};
use picasso_forwarder::FaceId;
use picasso_tlv::{Data, Interest, Name, Signer};

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;
const D: usize = 3;
const CONSUMER: FaceId = FaceId(400);
const PRODUCER: FaceId = FaceId(500);
const LINKS: [(usize, usize); 5] = [(A, B), (A, C), (B, D), (C, D), (B, C)];

fn n(s: &str) -> Name {
    Name::from_uri(s).unwrap()
}

/// On every node the face to node `to` is `300 + to`.
fn face(to: usize) -> FaceId {
    FaceId(300 + to as u64)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Interest,
    Data,
    Nack(u64),
}

fn kind(p: &OutPacket) -> Kind {
    match p {
        OutPacket::Interest(_) => Kind::Interest,
        OutPacket::Data(_) => Kind::Data,
        OutPacket::Nack { reason, .. } => Kind::Nack(*reason),
    }
}

fn packet_name(p: &OutPacket) -> Name {
    match p {
        OutPacket::Interest(i) | OutPacket::Nack { interest: i, .. } => i.name().clone(),
        OutPacket::Data(d) => d.name().clone(),
    }
}

struct Net {
    fwd: Vec<Forwarder>,
    /// Links that are up, as (node, node) pairs.
    up: Vec<(usize, usize)>,
    now: Instant,
    /// Every packet that crossed a link: (from, to, kind, name).
    wire: Vec<(usize, usize, Kind, Name)>,
    /// Packets for the applications: (node, face, packet).
    apps: Vec<(usize, FaceId, OutPacket)>,
    /// Packets lost on a failed link.
    lost: usize,
}

impl Net {
    /// The diamond with its cross link, and routes for `/svc` towards D
    /// (A prefers B: cost 1 against 2 through C).
    fn new() -> Self {
        let mut fwd: Vec<Forwarder> = (0..4)
            .map(|_| Forwarder::new(ForwarderLimits::default()))
            .collect();
        for &(x, y) in &LINKS {
            fwd[x].add_face(face(y), false);
            fwd[y].add_face(face(x), false);
        }
        for f in fwd.iter_mut() {
            f.add_face(CONSUMER, true);
        }
        fwd[D].add_face(PRODUCER, true);
        let svc = n("/svc");
        fwd[A].fib.add_next_hop(&svc, face(B), 1);
        fwd[A].fib.add_next_hop(&svc, face(C), 2);
        fwd[B].fib.add_next_hop(&svc, face(D), 1);
        fwd[C].fib.add_next_hop(&svc, face(D), 1);
        fwd[D].fib.add_next_hop(&svc, PRODUCER, 0);
        Self {
            fwd,
            up: LINKS.to_vec(),
            now: Instant::now(),
            wire: Vec::new(),
            apps: Vec::new(),
            lost: 0,
        }
    }

    /// The node at the other end of `face` on `node`, if it is a link.
    fn peer(&self, node: usize, f: FaceId) -> Option<usize> {
        let to = (f.0.checked_sub(300)?) as usize;
        LINKS
            .iter()
            .any(|&(x, y)| (x, y) == (node, to) || (y, x) == (node, to))
            .then_some(to)
    }

    fn is_up(&self, x: usize, y: usize) -> bool {
        self.up.iter().any(|&l| l == (x, y) || l == (y, x))
    }

    fn deliver(&mut self, node: usize, f: FaceId, p: OutPacket) {
        let now = self.now;
        match p {
            OutPacket::Interest(i) => self.fwd[node].on_incoming_interest(f, i, None, now),
            OutPacket::Data(d) => self.fwd[node].on_incoming_data(f, d, false, now),
            OutPacket::Nack { interest, reason } => {
                self.fwd[node].on_incoming_nack(f, interest, reason, now)
            }
        }
    }

    /// Moves packets until every outbox is empty.
    fn run(&mut self) {
        for _ in 0..1000 {
            let mut moved = false;
            for node in 0..self.fwd.len() {
                for o in self.fwd[node].take_outbox() {
                    moved = true;
                    match self.peer(node, o.face) {
                        Some(to) if self.is_up(node, to) => {
                            self.wire
                                .push((node, to, kind(&o.packet), packet_name(&o.packet)));
                            self.deliver(to, face(node), o.packet);
                        }
                        Some(_) => self.lost += 1,
                        None => self.apps.push((node, o.face, o.packet)),
                    }
                }
            }
            if !moved {
                return;
            }
        }
        panic!("packets still moving after 1000 rounds");
    }

    /// Lets `d` pass: timers fire, then packets move.
    fn advance(&mut self, d: Duration) {
        self.now += d;
        let now = self.now;
        for f in self.fwd.iter_mut() {
            f.on_tick(now);
        }
        self.run();
    }

    /// A consumer on `node` expresses `name` with `nonce`.
    fn express(&mut self, node: usize, name: &str, nonce: u32) {
        let i = Interest::new(n(name))
            .with_nonce(nonce)
            .with_lifetime_ms(4000);
        self.deliver(node, CONSUMER, OutPacket::Interest(i));
    }

    /// The producer on D answers `name`.
    fn answer(&mut self, name: &str) {
        let mut d = Data::new(n(name))
            .with_content(&b"content"[..])
            .with_freshness_ms(10_000);
        d.sign(&Signer::DigestSha256);
        self.deliver(D, PRODUCER, OutPacket::Data(d));
    }

    /// Takes what reached the application on (`node`, `face`).
    fn take_app(&mut self, node: usize, f: FaceId) -> Vec<(Kind, Name)> {
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.apps)
            .into_iter()
            .partition(|(x, y, _)| (*x, *y) == (node, f));
        self.apps = rest;
        mine.into_iter()
            .map(|(_, _, p)| (kind(&p), packet_name(&p)))
            .collect()
    }

    /// How many packets of `k` for `name` crossed from `from` to `to`.
    fn count(&self, from: usize, to: usize, k: Kind, name: &str) -> usize {
        let name = n(name);
        self.wire
            .iter()
            .filter(|(x, y, kk, nn)| (*x, *y, *kk) == (from, to, k) && *nn == name)
            .count()
    }
}

#[test]
fn interests_aggregate_at_an_intermediate_node_and_caches_answer_later_requests() {
    let mut net = Net::new();
    // A consumer on B and one on A (whose Interest goes through B) ask for the same name.
    net.express(B, "/svc/agg", 2);
    net.express(A, "/svc/agg", 1);
    net.run();
    // B forwarded one Interest; the producer saw one.
    assert_eq!(net.count(A, B, Kind::Interest, "/svc/agg"), 1);
    assert_eq!(net.count(B, D, Kind::Interest, "/svc/agg"), 1);
    assert_eq!(net.take_app(D, PRODUCER), [(Kind::Interest, n("/svc/agg"))]);
    net.answer("/svc/agg");
    net.run();
    assert_eq!(net.take_app(A, CONSUMER), [(Kind::Data, n("/svc/agg"))]);
    assert_eq!(net.take_app(B, CONSUMER), [(Kind::Data, n("/svc/agg"))]);

    // A consumer on C: C has nothing, D answers from its content store.
    net.express(C, "/svc/agg", 3);
    net.run();
    assert_eq!(net.take_app(C, CONSUMER), [(Kind::Data, n("/svc/agg"))]);
    assert_eq!(net.count(C, D, Kind::Interest, "/svc/agg"), 1);
    assert_eq!(net.count(D, C, Kind::Data, "/svc/agg"), 1);
    assert!(
        net.take_app(D, PRODUCER).is_empty(),
        "served from D's cache"
    );

    // Again on A: A's own content store answers; nothing crosses a link.
    let before = net.wire.len();
    net.express(A, "/svc/agg", 4);
    net.run();
    assert_eq!(net.take_app(A, CONSUMER), [(Kind::Data, n("/svc/agg"))]);
    assert_eq!(net.wire.len(), before);
}

#[test]
fn a_looping_interest_is_nacked_as_duplicate() {
    let mut net = Net::new();
    // Routes that go round A → B → C → A.
    let p = n("/loop");
    net.fwd[A].fib.add_next_hop(&p, face(B), 1);
    net.fwd[B].fib.add_next_hop(&p, face(C), 1);
    net.fwd[C].fib.add_next_hop(&p, face(A), 1);
    net.express(A, "/loop/x", 7);
    net.run();
    assert_eq!(net.count(C, A, Kind::Interest, "/loop/x"), 1);
    // A recognises its own nonce and refuses it.
    assert_eq!(
        net.count(A, C, Kind::Nack(nack_reason::DUPLICATE), "/loop/x"),
        1
    );
    assert_eq!(net.fwd[A].counters.loops, 1);
    // The Nack travels back and the consumer learns of it.
    assert_eq!(
        net.take_app(A, CONSUMER),
        [(Kind::Nack(nack_reason::DUPLICATE), n("/loop/x"))]
    );
    // The Interest crossed each link of the loop exactly once.
    assert_eq!(net.count(A, B, Kind::Interest, "/loop/x"), 1);
    assert_eq!(net.count(B, C, Kind::Interest, "/loop/x"), 1);
}

#[test]
fn a_nonce_seen_before_is_caught_by_the_dead_nonce_list() {
    // MustBeFresh and Data fresh for less than the list's lifetime: a
    // looping copy would not be answered from the content store, so the
    // satisfied Interest's nonce is remembered (NFD's rule).
    let mut net = Net::new();
    let fresh = |nonce| {
        Interest::new(n("/svc/dnl"))
            .with_nonce(nonce)
            .with_must_be_fresh(true)
            .with_lifetime_ms(4000)
    };
    net.deliver(B, CONSUMER, OutPacket::Interest(fresh(9)));
    net.run();
    let mut d = Data::new(n("/svc/dnl"))
        .with_content(&b"content"[..])
        .with_freshness_ms(1000);
    d.sign(&Signer::DigestSha256);
    net.deliver(D, PRODUCER, OutPacket::Data(d));
    net.run();
    assert_eq!(net.take_app(B, CONSUMER), [(Kind::Data, n("/svc/dnl"))]);
    // The PIT entry is gone; a copy of the same Interest comes back to B
    // over the cross link once the Data is stale: the dead nonce list
    // recognises it.
    assert!(net.fwd[B].pit.is_empty());
    net.now += Duration::from_millis(1500);
    net.deliver(B, face(C), OutPacket::Interest(fresh(9)));
    net.run();
    assert_eq!(
        net.count(B, C, Kind::Nack(nack_reason::DUPLICATE), "/svc/dnl"),
        1
    );
    assert_eq!(net.fwd[B].counters.loops, 1);
    assert_eq!(
        net.count(B, D, Kind::Interest, "/svc/dnl"),
        1,
        "not forwarded again"
    );
}

#[test]
fn a_satisfied_interest_answered_from_the_store_leaves_no_dead_nonce() {
    // No MustBeFresh: a looping copy is answered from B's content store,
    // so the nonce is not kept (NFD's rule) and the copy gets the Data.
    let mut net = Net::new();
    net.express(B, "/svc/cs", 9);
    net.run();
    net.answer("/svc/cs");
    net.run();
    assert_eq!(net.take_app(B, CONSUMER), [(Kind::Data, n("/svc/cs"))]);
    assert!(net.fwd[B].dead_nonces.is_empty());
    let i = Interest::new(n("/svc/cs"))
        .with_nonce(9)
        .with_lifetime_ms(4000);
    net.deliver(B, face(C), OutPacket::Interest(i));
    net.run();
    assert_eq!(net.count(B, C, Kind::Data, "/svc/cs"), 1);
    assert_eq!(net.fwd[B].counters.loops, 0);
    assert_eq!(net.count(B, D, Kind::Interest, "/svc/cs"), 1);
}

#[test]
fn a_dead_end_answers_nack_no_route() {
    let mut net = Net::new();
    net.fwd[A].fib.add_next_hop(&n("/deadend"), face(B), 1);
    net.express(A, "/deadend/x", 11);
    net.run();
    assert_eq!(
        net.count(B, A, Kind::Nack(nack_reason::NO_ROUTE), "/deadend/x"),
        1
    );
    assert_eq!(
        net.take_app(A, CONSUMER),
        [(Kind::Nack(nack_reason::NO_ROUTE), n("/deadend/x"))]
    );
    assert!(net.fwd[A].pit.is_empty() && net.fwd[B].pit.is_empty());
}

#[test]
fn traffic_fails_over_when_the_preferred_link_goes_down() {
    let mut net = Net::new();
    net.express(A, "/svc/one", 20);
    net.run();
    assert_eq!(
        net.count(A, B, Kind::Interest, "/svc/one"),
        1,
        "B preferred"
    );
    net.answer("/svc/one");
    net.run();
    assert_eq!(net.take_app(A, CONSUMER), [(Kind::Data, n("/svc/one"))]);
    // The A–B link fails: its face goes away with its routes.
    net.up.retain(|&l| l != (A, B));
    net.fwd[A].remove_face(face(B));
    net.express(A, "/svc/two", 21);
    net.run();
    assert_eq!(net.count(A, B, Kind::Interest, "/svc/two"), 0);
    assert_eq!(net.count(A, C, Kind::Interest, "/svc/two"), 1);
    assert_eq!(net.count(C, D, Kind::Interest, "/svc/two"), 1);
    net.answer("/svc/two");
    net.run();
    assert_eq!(net.take_app(A, CONSUMER), [(Kind::Data, n("/svc/two"))]);
}

#[test]
fn load_balance_fails_over_on_nack() {
    let mut net = Net::new();
    let lb = picasso_forwarder::fw::load_balance::LoadBalance::strategy_name();
    net.fwd[A].set_strategy(&n("/svc"), &lb).unwrap();
    // B loses its route: it answers Nack(NoRoute) and A tries C.
    assert!(net.fwd[B].fib.remove_next_hop(&n("/svc"), face(D)));
    net.express(A, "/svc/nack", 30);
    net.run();
    assert_eq!(
        net.count(B, A, Kind::Nack(nack_reason::NO_ROUTE), "/svc/nack"),
        1
    );
    assert_eq!(net.count(A, C, Kind::Interest, "/svc/nack"), 1);
    net.answer("/svc/nack");
    net.run();
    assert_eq!(net.take_app(A, CONSUMER), [(Kind::Data, n("/svc/nack"))]);
}

#[test]
fn load_balance_fails_over_when_a_link_goes_silent() {
    let mut net = Net::new();
    let lb = picasso_forwarder::fw::load_balance::LoadBalance::strategy_name();
    net.fwd[A].set_strategy(&n("/svc"), &lb).unwrap();
    // The A–B link drops everything silently (the face stays up).
    net.up.retain(|&l| l != (A, B));
    net.express(A, "/svc/silent", 31);
    net.run();
    assert_eq!(net.lost, 1, "sent to B first (lower cost), and lost");
    assert_eq!(net.count(A, C, Kind::Interest, "/svc/silent"), 0);
    // Before the retransmission timeout (1 s without measurements) nothing happens.
    net.advance(Duration::from_millis(900));
    assert_eq!(net.count(A, C, Kind::Interest, "/svc/silent"), 0);
    net.advance(Duration::from_millis(200));
    assert_eq!(net.count(A, C, Kind::Interest, "/svc/silent"), 1);
    net.answer("/svc/silent");
    net.run();
    assert_eq!(net.take_app(A, CONSUMER), [(Kind::Data, n("/svc/silent"))]);
}
