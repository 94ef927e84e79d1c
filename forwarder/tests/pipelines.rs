//! Pipeline tests: one forwarder driven through its public API, with faces
//! played by the test (packets in, outbox out). Time is explicit.

use std::time::{Duration, Instant};

use picasso_forwarder::fw::{nack_reason, Forwarder, ForwarderLimits, OutPacket, Outgoing};
use picasso_forwarder::FaceId;
use picasso_tlv::{Data, Interest, Name, Signer};

const CONSUMER: FaceId = FaceId(300);
const CONSUMER2: FaceId = FaceId(301);
const UP1: FaceId = FaceId(400);
const UP2: FaceId = FaceId(401);

fn n(s: &str) -> Name {
    Name::from_uri(s).unwrap()
}

fn interest(s: &str, nonce: u32) -> Interest {
    Interest::new(n(s)).with_nonce(nonce).with_lifetime_ms(1000)
}

fn data(s: &str) -> Data {
    let mut d = Data::new(n(s))
        .with_content(&b"payload"[..])
        .with_freshness_ms(10_000);
    d.sign(&Signer::DigestSha256);
    d
}

fn fwd() -> Forwarder {
    let mut f = Forwarder::new(ForwarderLimits::default());
    for face in [CONSUMER, CONSUMER2, UP1, UP2] {
        f.add_face(face, false);
    }
    f
}

fn only(out: Vec<Outgoing>) -> Outgoing {
    assert_eq!(out.len(), 1, "expected exactly one packet out, got {out:?}");
    out.into_iter().next().unwrap()
}

#[test]
fn no_route_gives_nack_no_route_at_once() {
    let mut f = fwd();
    let t = Instant::now();
    f.on_incoming_interest(CONSUMER, interest("/nowhere", 1), None, t);
    let o = only(f.take_outbox());
    assert_eq!(o.face, CONSUMER);
    assert!(matches!(
        o.packet,
        OutPacket::Nack {
            reason: nack_reason::NO_ROUTE,
            ..
        }
    ));
    assert!(f.pit.is_empty());
}

#[test]
fn forwards_returns_data_then_serves_from_cache() {
    let mut f = fwd();
    let t = Instant::now();
    f.fib.add_next_hop(&n("/svc"), UP1, 10);
    f.on_incoming_interest(
        CONSUMER,
        interest("/svc/a", 1),
        Some(bytes::Bytes::from_static(b"tok")),
        t,
    );
    let o = only(f.take_outbox());
    assert_eq!(o.face, UP1);
    assert!(matches!(&o.packet, OutPacket::Interest(i) if i.name() == &n("/svc/a")));
    f.on_incoming_data(UP1, data("/svc/a"), false, t + Duration::from_millis(5));
    let o = only(f.take_outbox());
    assert_eq!(o.face, CONSUMER);
    assert_eq!(
        o.pit_token.as_deref(),
        Some(&b"tok"[..]),
        "PIT token echoed"
    );
    assert!(matches!(&o.packet, OutPacket::Data(d) if d.name() == &n("/svc/a")));
    assert_eq!(f.counters.satisfied_interests, 1);
    // Second request: content store hit, nothing goes upstream.
    f.on_incoming_interest(
        CONSUMER2,
        interest("/svc/a", 2),
        None,
        t + Duration::from_millis(10),
    );
    let o = only(f.take_outbox());
    assert_eq!(o.face, CONSUMER2);
    assert!(matches!(o.packet, OutPacket::Data(_)));
    assert_eq!(f.cs.hits, 1);
}

#[test]
fn no_cache_data_is_not_cached() {
    let mut f = fwd();
    let t = Instant::now();
    f.fib.add_next_hop(&n("/svc"), UP1, 10);
    f.on_incoming_interest(CONSUMER, interest("/svc/a", 1), None, t);
    f.take_outbox();
    f.on_incoming_data(UP1, data("/svc/a"), true, t);
    f.take_outbox();
    assert!(f.cs.is_empty());
}

#[test]
fn aggregation_sends_one_interest_and_answers_both() {
    let mut f = fwd();
    let t = Instant::now();
    f.fib.add_next_hop(&n("/svc"), UP1, 10);
    f.on_incoming_interest(CONSUMER, interest("/svc/x", 1), None, t);
    f.on_incoming_interest(
        CONSUMER2,
        interest("/svc/x", 2),
        None,
        t + Duration::from_millis(1),
    );
    let out = f.take_outbox();
    assert_eq!(
        out.iter()
            .filter(|o| matches!(o.packet, OutPacket::Interest(_)))
            .count(),
        1
    );
    f.on_incoming_data(UP1, data("/svc/x"), false, t + Duration::from_millis(3));
    let mut faces: Vec<_> = f.take_outbox().into_iter().map(|o| o.face).collect();
    faces.sort();
    assert_eq!(faces, [CONSUMER, CONSUMER2]);
}

#[test]
fn duplicate_nonce_from_another_face_is_a_loop() {
    let mut f = fwd();
    let t = Instant::now();
    f.fib.add_next_hop(&n("/svc"), UP1, 10);
    f.on_incoming_interest(CONSUMER, interest("/svc/x", 7), None, t);
    f.take_outbox();
    f.on_incoming_interest(CONSUMER2, interest("/svc/x", 7), None, t);
    let o = only(f.take_outbox());
    assert_eq!(o.face, CONSUMER2);
    assert!(matches!(
        o.packet,
        OutPacket::Nack {
            reason: nack_reason::DUPLICATE,
            ..
        }
    ));
    assert_eq!(f.counters.loops, 1);
    // After satisfaction the nonce is in the dead nonce list.
    f.on_incoming_data(UP1, data("/svc/x"), true, t);
    f.take_outbox();
    f.on_incoming_interest(CONSUMER2, interest("/svc/x", 7), None, t);
    assert!(matches!(
        only(f.take_outbox()).packet,
        OutPacket::Nack {
            reason: nack_reason::DUPLICATE,
            ..
        }
    ));
}

#[test]
fn upstream_nacks_propagate_downstream() {
    let mut f = fwd();
    let t = Instant::now();
    f.fib.add_next_hop(&n("/svc"), UP1, 10);
    let i = interest("/svc/x", 9);
    f.on_incoming_interest(CONSUMER, i.clone(), None, t);
    f.take_outbox();
    f.on_incoming_nack(UP1, i, nack_reason::CONGESTION, t);
    let o = only(f.take_outbox());
    assert_eq!(o.face, CONSUMER);
    assert!(matches!(
        o.packet,
        OutPacket::Nack {
            reason: nack_reason::CONGESTION,
            ..
        }
    ));
    assert!(f.pit.is_empty());
}

#[test]
fn load_balance_retries_next_hop_on_congestion() {
    let mut f = fwd();
    let t = Instant::now();
    f.set_strategy(&n("/svc"), &n("/localhost/nfd/strategy/load-balance"))
        .unwrap();
    f.fib.add_next_hop(&n("/svc"), UP1, 10);
    f.fib.add_next_hop(&n("/svc"), UP2, 20);
    let i = interest("/svc/x", 9);
    f.on_incoming_interest(CONSUMER, i.clone(), None, t);
    let first = only(f.take_outbox());
    let other = if first.face == UP1 { UP2 } else { UP1 };
    f.on_incoming_nack(
        first.face,
        i,
        nack_reason::CONGESTION,
        t + Duration::from_millis(1),
    );
    let retry = only(f.take_outbox());
    assert_eq!(retry.face, other, "retried on the other replica");
    f.on_incoming_data(other, data("/svc/x"), true, t + Duration::from_millis(4));
    assert_eq!(only(f.take_outbox()).face, CONSUMER);
}

#[test]
fn load_balance_spreads_by_rtt_and_outstanding() {
    let mut f = fwd();
    let mut t = Instant::now();
    f.set_strategy(&n("/svc"), &n("/localhost/nfd/strategy/load-balance"))
        .unwrap();
    f.fib.add_next_hop(&n("/svc"), UP1, 10);
    f.fib.add_next_hop(&n("/svc"), UP2, 10);
    // Measure: UP1 answers in 1 ms, UP2 in 20 ms.
    let mut counts = std::collections::HashMap::new();
    for k in 0..200u32 {
        let name = format!("/svc/r{k}");
        f.on_incoming_interest(CONSUMER, interest(&name, k + 1), None, t);
        let o = only(f.take_outbox());
        *counts.entry(o.face).or_insert(0) += 1;
        let rtt = if o.face == UP1 { 1 } else { 20 };
        t += Duration::from_millis(rtt);
        f.on_incoming_data(o.face, data(&name), true, t);
        f.take_outbox();
    }
    let fast = counts.get(&UP1).copied().unwrap_or(0);
    let slow = counts.get(&UP2).copied().unwrap_or(0);
    assert!(
        fast > 5 * slow,
        "fast replica should take most requests: {fast} vs {slow}"
    );
    assert!(slow >= 1, "slow replica is still probed");
}

#[test]
fn load_balance_retries_after_upstream_timeout() {
    let mut f = fwd();
    let t = Instant::now();
    f.set_strategy(&n("/svc"), &n("/localhost/nfd/strategy/load-balance"))
        .unwrap();
    f.fib.add_next_hop(&n("/svc"), UP1, 10);
    f.fib.add_next_hop(&n("/svc"), UP2, 20);
    let i = Interest::new(n("/svc/slow"))
        .with_nonce(5)
        .with_lifetime_ms(4000);
    f.on_incoming_interest(CONSUMER, i, None, t);
    let first = only(f.take_outbox());
    // Unmeasured hops get a 1 s timeout; nothing answers.
    f.on_tick(t + Duration::from_millis(1001));
    let retry = only(f.take_outbox());
    assert_ne!(retry.face, first.face);
}

#[test]
fn pit_expiry_counts_unsatisfied() {
    let mut f = fwd();
    let t = Instant::now();
    f.fib.add_next_hop(&n("/svc"), UP1, 10);
    f.on_incoming_interest(CONSUMER, interest("/svc/x", 1), None, t);
    f.take_outbox();
    assert!(f.on_tick(t + Duration::from_millis(999)).is_some());
    assert_eq!(f.pit.len(), 1);
    f.on_tick(t + Duration::from_millis(1000));
    assert!(f.pit.is_empty());
    assert_eq!(f.counters.unsatisfied_interests, 1);
}

#[test]
fn localhost_scope_is_enforced() {
    let mut f = fwd();
    let t = Instant::now();
    f.add_face(FaceId(500), true);
    f.fib.add_next_hop(&n("/localhost/x"), UP1, 0);
    // From a non-local face: dropped.
    f.on_incoming_interest(CONSUMER, interest("/localhost/x/y", 1), None, t);
    assert!(f.take_outbox().is_empty());
    assert_eq!(f.face(CONSUMER).unwrap().counters.drops, 1);
    // From a local face, but the only next hop is non-local: NoRoute.
    f.on_incoming_interest(FaceId(500), interest("/localhost/x/y", 2), None, t);
    assert!(matches!(
        only(f.take_outbox()).packet,
        OutPacket::Nack {
            reason: nack_reason::NO_ROUTE,
            ..
        }
    ));
}

#[test]
fn unsolicited_data_is_dropped() {
    let mut f = fwd();
    f.on_incoming_data(UP1, data("/nobody/asked"), false, Instant::now());
    assert!(f.take_outbox().is_empty());
    assert!(f.cs.is_empty());
    assert_eq!(f.counters.unsolicited_data, 1);
}

#[test]
fn pit_capacity_bounds_a_flood() {
    let mut f = Forwarder::new(ForwarderLimits {
        pit_entries: 100,
        ..ForwarderLimits::default()
    });
    f.add_face(CONSUMER, false);
    f.add_face(CONSUMER2, false);
    f.add_face(UP1, false);
    f.fib.add_next_hop(&n("/"), UP1, 0);
    let t = Instant::now();
    for k in 0..1000u32 {
        f.on_incoming_interest(CONSUMER, interest(&format!("/flood/{k}"), k + 1), None, t);
    }
    // One face gets half the table; the rest stays for the others.
    assert_eq!(f.pit.len(), 50);
    assert_eq!(f.counters.pit_full_drops, 950);
    for k in 0..100u32 {
        f.on_incoming_interest(
            CONSUMER2,
            interest(&format!("/other/{k}"), k + 5000),
            None,
            t,
        );
    }
    assert_eq!(f.pit.len(), 100);
    assert_eq!(f.counters.pit_full_drops, 1000);
}

#[test]
fn hop_limit_is_decremented_and_zero_is_dropped() {
    let mut f = fwd();
    let t = Instant::now();
    f.fib.add_next_hop(&n("/svc"), UP1, 10);
    f.on_incoming_interest(CONSUMER, interest("/svc/h", 1).with_hop_limit(3), None, t);
    let o = only(f.take_outbox());
    assert!(matches!(&o.packet, OutPacket::Interest(i) if i.hop_limit() == Some(2)));
    f.on_incoming_interest(CONSUMER, interest("/svc/z", 2).with_hop_limit(0), None, t);
    assert!(f.take_outbox().is_empty());
}
