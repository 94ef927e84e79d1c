//! The routing protocol between real forwarders in one process, over UDP on
//! 127.0.0.1: propagation along a line, withdrawal, neighbour loss,
//! multipath, and multicast discovery.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use picasso_forwarder::app::Client;
use picasso_forwarder::face::{in_process, udp};
use picasso_forwarder::fw::ForwarderLimits;
use picasso_forwarder::routing::message::Hello;
use picasso_forwarder::routing::{
    MulticastConfig, NeighbourConfig, Router, RouterHandle, RouterStatus, RoutingConfig,
};
use picasso_forwarder::runtime::{self, ForwarderHandle};
use picasso_forwarder::FaceId;
use picasso_tlv::{Data, Interest, Name, Signer};

const HELLO: Duration = Duration::from_millis(200);
/// Propagation bound the issue sets.
const PROPAGATION: Duration = Duration::from_secs(3);

fn n(s: &str) -> Name {
    Name::from_uri(s).unwrap()
}

struct Node {
    name: String,
    fwd: ForwarderHandle,
    udp: udp::UdpChannel,
    router: Option<RouterHandle>,
}

impl Node {
    async fn new(name: &str) -> Self {
        let (fwd, _join) = runtime::spawn(ForwarderLimits::default());
        let udp = udp::UdpChannel::bind(
            fwd.clone(),
            "127.0.0.1:0".parse().unwrap(),
            udp::UdpConfig::default(),
        )
        .await
        .unwrap();
        Self {
            name: name.to_string(),
            fwd,
            udp,
            router: None,
        }
    }

    fn config(&self) -> RoutingConfig {
        let mut c = RoutingConfig::new(self.name.clone());
        c.hello_interval = HELLO;
        c.rib_poll_interval = Duration::from_millis(50);
        c.udp = Some(self.udp.clone());
        c
    }

    fn start(&mut self, config: RoutingConfig) {
        self.router = Some(Router::spawn(self.fwd.clone(), config).unwrap());
    }

    async fn status(&self) -> RouterStatus {
        self.router.as_ref().unwrap().status().await.unwrap()
    }

    /// (next-hop node, cost, hops) of `prefix` in the routing table.
    async fn hops(&self, prefix: &str) -> Vec<(String, u64, u64)> {
        self.status()
            .await
            .table
            .get(&n(prefix))
            .map(|r| {
                r.next_hops
                    .iter()
                    .map(|h| (h.node.clone(), h.cost, h.hops))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Faces of the FIB entry of `prefix` (what forwarding really uses).
    async fn fib_faces(&self, prefix: &str) -> Vec<FaceId> {
        let p = n(prefix);
        let mut v: Vec<FaceId> = self
            .fwd
            .call(move |core| {
                core.fwd
                    .fib
                    .find_exact(&p)
                    .map(|e| e.next_hops.iter().map(|h| h.face).collect())
                    .unwrap_or_default()
            })
            .await
            .unwrap();
        v.sort();
        v
    }

    async fn face_to(&self, other: &Node) -> FaceId {
        self.udp.connect(other.udp.local).await.unwrap()
    }

    async fn client(&self) -> Client {
        Client::from_app_face(in_process::connect(&self.fwd).await.unwrap())
    }
}

/// Polls `cond` every 10 ms until it holds; returns how long that took,
/// or panics after `limit` with `what`.
async fn wait_for<F, Fut>(limit: Duration, what: &str, mut cond: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let t = Instant::now();
    loop {
        if cond().await {
            return t.elapsed();
        }
        assert!(
            t.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn serve(client: &Client, prefix: &str, tag: &'static str) {
    client
        .register(n(prefix), move |i: Interest| async move {
            let mut d = Data::new(i.name().clone()).with_content(tag.as_bytes().to_vec());
            d.sign(&Signer::DigestSha256);
            Some(d)
        })
        .await
        .expect("register");
}

/// Nodes 1–5 in a line, each configured with its line neighbours.
async fn line(count: usize) -> Vec<Node> {
    let mut nodes = Vec::new();
    for i in 1..=count {
        nodes.push(Node::new(&format!("n{i}")).await);
    }
    for i in 0..count {
        let mut c = nodes[i].config();
        for j in [i.wrapping_sub(1), i + 1] {
            if let Some(nb) = nodes.get(j) {
                c.neighbours.push(NeighbourConfig {
                    node: Some(nb.name.clone()),
                    addr: nb.udp.local,
                });
            }
        }
        nodes[i].start(c);
    }
    nodes
}

async fn all_neighbours_up(nodes: &[Node]) {
    for node in nodes {
        wait_for(Duration::from_secs(5), "neighbours up", || async {
            node.status().await.neighbours.iter().all(|nb| nb.alive)
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_of_five_propagates_withdraws_and_loses_a_neighbour() {
    let mut nodes = line(5).await;
    all_neighbours_up(&nodes).await;

    // (a) A producer on node 5: node 1 gets a route within 3 s.
    let producer = nodes[4].client().await;
    let t0 = Instant::now();
    serve(&producer, "/picasso/svc/S1", "from-n5").await;
    let took = wait_for(PROPAGATION, "route to S1 on n1", || async {
        !nodes[0].hops("/picasso/svc/S1").await.is_empty()
    })
    .await;
    let took = took.max(t0.elapsed());
    println!("propagation n5 -> n1: {took:?}");
    assert!(took < PROPAGATION, "propagation took {took:?}");
    let h = nodes[0].hops("/picasso/svc/S1").await;
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].0, "n2");
    assert_eq!(h[0].2, 4, "four hops from n1 to n5");
    // The RIB route is in the FIB and points at the face to n2.
    assert_eq!(
        nodes[0].fib_faces("/picasso/svc/S1").await,
        [nodes[0].face_to(&nodes[1]).await]
    );
    // Node 5 serves it itself: no learned route there.
    assert!(nodes[4].status().await.table[&n("/picasso/svc/S1")].is_local());
    let consumer = nodes[0].client().await;
    let d = consumer
        .express(Interest::new(n("/picasso/svc/S1/x")).with_lifetime_ms(2000))
        .await
        .expect("data from n5 through the line");
    assert_eq!(&d.content()[..], b"from-n5");

    // (d) S3 served on n2 and n4: n1 goes to the nearest, n2 (1 hop), n5
    // to n4, and n3, one hop from both, gets a next hop towards each.
    let p2 = nodes[1].client().await;
    let p4 = nodes[3].client().await;
    serve(&p2, "/picasso/svc/S3", "n2").await;
    serve(&p4, "/picasso/svc/S3", "n4").await;
    wait_for(PROPAGATION, "S3 on n3 via n2 and n4", || async {
        nodes[2].hops("/picasso/svc/S3").await.len() == 2
    })
    .await;
    // Distance vector may pass through a longer route first (n4's offer
    // reaching n1 before n2's own); within the bound it settles.
    let nearest = |i: usize, via: &'static str| {
        let node = &nodes[i];
        move || async move {
            let h = node.hops("/picasso/svc/S3").await;
            h.len() == 1 && h[0].0 == via && h[0].2 == 1
        }
    };
    wait_for(PROPAGATION, "S3 on n1 via n2", nearest(0, "n2")).await;
    wait_for(PROPAGATION, "S3 on n5 via n4", nearest(4, "n4")).await;
    let h1 = nodes[0].hops("/picasso/svc/S3").await;
    assert_eq!(h1.len(), 1);
    assert_eq!((h1[0].0.as_str(), h1[0].2), ("n2", 1));
    let h5 = nodes[4].hops("/picasso/svc/S3").await;
    assert_eq!(h5.len(), 1);
    assert_eq!((h5[0].0.as_str(), h5[0].2), ("n4", 1));
    let mut via: Vec<String> = nodes[2]
        .hops("/picasso/svc/S3")
        .await
        .into_iter()
        .map(|h| h.0)
        .collect();
    via.sort();
    assert_eq!(via, ["n2", "n4"]);
    assert_eq!(nodes[2].fib_faces("/picasso/svc/S3").await.len(), 2);

    // (b) The producer unregisters: the route is withdrawn along the line.
    let t0 = Instant::now();
    producer.unregister(n("/picasso/svc/S1")).await.unwrap();
    for node in &nodes[..4] {
        wait_for(PROPAGATION, "S1 withdrawn", || async {
            node.hops("/picasso/svc/S1").await.is_empty()
        })
        .await;
        assert!(node.fib_faces("/picasso/svc/S1").await.is_empty());
    }
    let took = t0.elapsed();
    println!("withdrawal n5 -> n1: {took:?}");
    assert!(took < PROPAGATION);

    // (c) Node 3 dies: n2 and n1 withdraw routes through it within 3 hello intervals.
    serve(&producer, "/picasso/svc/S1", "from-n5").await;
    wait_for(PROPAGATION, "S1 back on n1", || async {
        !nodes[0].hops("/picasso/svc/S1").await.is_empty()
    })
    .await;
    let dead = nodes.remove(2);
    let t0 = Instant::now();
    dead.fwd.shutdown();
    let limit = HELLO * 3;
    let t_n2 = wait_for(limit * 2, "n2 to lose n3", || async {
        let st = nodes[1].status().await;
        let n3 = st.neighbours.iter().find(|nb| nb.node == "n3").unwrap();
        !n3.alive && !st.table.contains_key(&n("/picasso/svc/S1"))
    })
    .await;
    wait_for(limit * 2, "n1 to withdraw S1", || async {
        nodes[0].hops("/picasso/svc/S1").await.is_empty()
            && nodes[0].fib_faces("/picasso/svc/S1").await.is_empty()
    })
    .await;
    let t_n1 = t0.elapsed();
    println!("neighbour loss: n2 withdrew after {t_n2:?}, n1 after {t_n1:?} (3 hello intervals = {limit:?})");
    // The dead interval counts from the last answered hello, which came
    // before the kill; allow one tick of the router's clock (interval/8)
    // and scheduling on a loaded machine.
    let slack = HELLO / 4;
    assert!(t_n2 <= limit + slack, "n2 took {t_n2:?}");
    assert!(t_n1 <= limit + slack, "n1 took {t_n1:?}");
    // S3 is still reachable from n1 through n2, which serves it.
    assert_eq!(nodes[0].hops("/picasso/svc/S3").await.len(), 1);
    for node in &nodes {
        node.fwd.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_served_on_two_neighbours_gets_two_next_hops() {
    // a — b and a — c; b and c both serve S2.
    let mut a = Node::new("a").await;
    let mut b = Node::new("b").await;
    let mut c = Node::new("c").await;
    let mut ca = a.config();
    for nb in [&b, &c] {
        ca.neighbours.push(NeighbourConfig {
            node: Some(nb.name.clone()),
            addr: nb.udp.local,
        });
    }
    let mut cb = b.config();
    cb.neighbours
        .push(format!("a=udp4://{}", a.udp.local).parse().unwrap());
    let mut cc = c.config();
    cc.neighbours
        .push(format!("a=udp4://{}", a.udp.local).parse().unwrap());
    a.start(ca);
    b.start(cb);
    c.start(cc);
    let pb = b.client().await;
    let pc = c.client().await;
    serve(&pb, "/picasso/svc/S2", "b").await;
    serve(&pc, "/picasso/svc/S2", "c").await;
    wait_for(PROPAGATION, "two next hops on a", || async {
        a.hops("/picasso/svc/S2").await.len() == 2
    })
    .await;
    let mut via: Vec<String> = a
        .hops("/picasso/svc/S2")
        .await
        .into_iter()
        .map(|h| h.0)
        .collect();
    via.sort();
    assert_eq!(via, ["b", "c"]);
    let mut want = vec![a.face_to(&b).await, a.face_to(&c).await];
    want.sort();
    assert_eq!(a.fib_faces("/picasso/svc/S2").await, want);
    // b must not learn S2 back from a (it serves it, and split horizon).
    assert!(b.status().await.table[&n("/picasso/svc/S2")].is_local());
    // c stops serving: a keeps only b.
    pc.unregister(n("/picasso/svc/S2")).await.unwrap();
    wait_for(PROPAGATION, "one next hop left", || async {
        a.hops("/picasso/svc/S2").await.len() == 1
    })
    .await;
    assert_eq!(a.hops("/picasso/svc/S2").await[0].0, "b");
    for x in [&a, &b, &c] {
        x.fwd.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_routing_messages_are_dropped_and_counted() {
    let mut a = Node::new("a").await;
    a.start(a.config());
    let rogue = a.client().await;
    wait_for(Duration::from_secs(2), "router up", || async {
        !a.fib_faces("/localhop/picasso/routing/a").await.is_empty()
    })
    .await;
    for (name, params) in [
        (
            "/localhop/picasso/routing/a/update/b/v=1",
            Some(vec![0xCBu8, 40, 1]),
        ),
        ("/localhop/picasso/routing/a/bogus/b/seq=1", None),
        ("/localhop/picasso/routing/a/hello", None),
        ("/localhop/picasso/hello/x/seq=1", Some(vec![0xC9, 2, 0, 0])),
        // Probes: garbage parameters, no sender, a Hello naming someone else.
        (
            "/localhop/picasso/probe/127.0.0.1:9/x/seq=1",
            Some(vec![0xC9, 9]),
        ),
        ("/localhop/picasso/probe/127.0.0.1:9", None),
        (
            "/localhop/picasso/probe/127.0.0.1:9/x/seq=2",
            Some(hello("y").encode().to_vec()),
        ),
    ] {
        let mut i = Interest::new(n(name)).with_lifetime_ms(200);
        if let Some(p) = params {
            i = i.with_app_params(p);
        }
        let _ = rogue.express(i).await;
    }
    // A well-formed probe is answered with the router's name; the sender
    // (an app, not a UDP face) is not taken as a neighbour.
    let reply = rogue
        .express(
            Interest::new(n("/localhop/picasso/probe/127.0.0.1:9/z/seq=3"))
                .with_must_be_fresh(true)
                .with_lifetime_ms(500)
                .with_app_params(hello("z").encode()),
        )
        .await
        .expect("probe answered");
    assert_eq!(Hello::decode(reply.content()).unwrap().node, "a");
    let st = a.status().await;
    assert_eq!(st.counters.malformed, 7, "{:?}", st.counters);
    assert_eq!(st.counters.neighbours_adopted, 0, "{:?}", st.counters);
    assert!(st.neighbours.is_empty());
    assert!(st.table.is_empty());
    a.fwd.shutdown();
}

fn hello(node: &str) -> Hello {
    Hello {
        node: node.into(),
        instance: 1,
        udp: None,
        held: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multicast_discovery_on_loopback() {
    // A random port keeps concurrent runs on this host apart.
    let port = 40_000 + rand::random::<u16>() % 20_000;
    let group = SocketAddrV4::new(Ipv4Addr::new(224, 0, 23, 170), port);
    let mut a = Node::new("mc-a").await;
    let mut b = Node::new("mc-b").await;
    for x in [&mut a, &mut b] {
        let mut c = x.config();
        c.multicast = Some(MulticastConfig {
            iface: Ipv4Addr::LOCALHOST,
            group,
        });
        x.start(c);
    }
    let st = a.status().await;
    // Wait until the multicast face attempt has finished.
    let st = if st.multicast.is_none() {
        tokio::time::sleep(Duration::from_millis(200)).await;
        a.status().await
    } else {
        st
    };
    if let Some(Err(e)) = &st.multicast {
        println!(
            "MULTICAST UNAVAILABLE: {e}. Discovery on loopback needs the host to \
             accept IP_ADD_MEMBERSHIP on 127.0.0.1 (e.g. `ip link set lo multicast on` \
             and `ip route add 224.0.0.0/4 dev lo`); the test checks nothing else."
        );
        return;
    }
    let t0 = Instant::now();
    loop {
        let sa = a.status().await;
        let sb = b.status().await;
        let up = |st: &RouterStatus, other: &str| {
            st.neighbours
                .iter()
                .any(|nb| nb.node == other && nb.alive && nb.discovered)
        };
        if up(&sa, "mc-b") && up(&sb, "mc-a") {
            println!("multicast discovery took {:?}", t0.elapsed());
            break;
        }
        if t0.elapsed() > Duration::from_secs(3) {
            let route = std::process::Command::new("ip")
                .args(["route", "get", &group.ip().to_string()])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
            panic!(
                "the multicast face is up but the nodes did not find each other \
                 (a: {:?}, b: {:?}); `ip route get {}` says {route:?}",
                sa.counters,
                sb.counters,
                group.ip()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Discovered neighbours route like configured ones.
    let pb = b.client().await;
    serve(&pb, "/picasso/svc/MC", "b").await;
    wait_for(
        PROPAGATION,
        "route over the discovered neighbour",
        || async { !a.hops("/picasso/svc/MC").await.is_empty() },
    )
    .await;
    a.fwd.shutdown();
    b.fwd.shutdown();
}

#[test]
fn neighbour_specs_with_and_without_names() {
    let named: NeighbourConfig = "edge-2=udp4://127.0.0.1:6363".parse().unwrap();
    assert_eq!(named.node.as_deref(), Some("edge-2"));
    let unnamed: NeighbourConfig = "udp://127.0.0.1:6363".parse().unwrap();
    assert_eq!(unnamed, NeighbourConfig::unnamed(named.addr));
    for bad in [
        "a/b=udp4://127.0.0.1:1",
        "tcp4://127.0.0.1:1",
        "udp4://host",
        "=udp4://127.0.0.1:1",
    ] {
        assert!(bad.parse::<NeighbourConfig>().is_err(), "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unnamed_neighbour_is_probed_accepted_and_forgotten_when_silent() {
    // b knows a by address only; a knows nothing of b.
    let mut a = Node::new("a").await;
    let mut b = Node::new("b").await;
    let fast = Duration::from_millis(50);
    let mut ca = a.config();
    ca.hello_interval = fast;
    a.start(ca);
    let mut cb = b.config();
    cb.hello_interval = fast;
    cb.neighbours.push(NeighbourConfig::unnamed(a.udp.local));
    b.start(cb);
    wait_for(Duration::from_secs(2), "a and b up", || async {
        let (sa, sb) = (a.status().await, b.status().await);
        let up = |s: &RouterStatus, other: &str| {
            s.neighbours.iter().any(|nb| nb.node == other && nb.alive)
        };
        up(&sa, "b") && up(&sb, "a")
    })
    .await;
    let (sa, sb) = (a.status().await, b.status().await);
    assert!(sb.unnamed.is_empty(), "{:?}", sb.unnamed);
    assert!(sb.counters.probes_sent >= 1, "{:?}", sb.counters);
    assert!(!sb.neighbours[0].discovered, "b configured a");
    assert_eq!(sa.counters.neighbours_adopted, 1, "{:?}", sa.counters);
    assert!(sa.neighbours[0].discovered, "a accepted b");
    // b goes away: a loses it, then forgets it (10 dead intervals = 1.5 s).
    b.fwd.shutdown();
    let t = wait_for(Duration::from_secs(4), "b forgotten", || async {
        a.status().await.neighbours.is_empty()
    })
    .await;
    println!("silent accepted neighbour forgotten after {t:?}");
    assert_eq!(a.status().await.counters.neighbours_lost, 1);
    assert!(a.fib_faces("/localhop/picasso/routing/b").await.is_empty());
    a.fwd.shutdown();
}
