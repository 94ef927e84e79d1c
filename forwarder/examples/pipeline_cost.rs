//! The forwarder's per-exchange pipeline cost, for `valgrind --tool=callgrind`
//! (deterministic instruction counts, unlike timings on a shared machine):
//! 16 local consumer faces send Interests `/picasso/ping/run/<c>/<seq>` to
//! one producer face, each answered by its Data, as `picasso bench ping`
//! does, but with no sockets or runtime. Packets are decoded from wire
//! before the measured part; only [`run`] is measured:
//!
//! ```text
//! cargo build --release --example pipeline_cost
//! valgrind --tool=callgrind --toggle-collect='pipeline_cost::run' target/release/examples/pipeline_cost 100000
//! ```
//!
//! Instructions per exchange = the collected total / the exchange count.
//! The default (100 000) fills and cycles the 65 536-entry content store.

use std::time::{Duration, Instant};

use picasso_forwarder::fw::{Forwarder, ForwarderLimits};
use picasso_forwarder::FaceId;
use picasso_tlv::{Component, Data, Interest, Name, Signer};

const CONSUMERS: u64 = 16;
const PRODUCER: FaceId = FaceId(500);

#[inline(never)]
fn run(fwd: &mut Forwarder, packets: Vec<(FaceId, Interest, Data)>, t0: Instant) -> usize {
    let mut sent = 0;
    for (n, (face, interest, data)) in packets.into_iter().enumerate() {
        // Time advances 10 µs per exchange (100 000 exchanges per second).
        let now = t0 + Duration::from_micros(10 * n as u64);
        fwd.on_incoming_interest(face, interest, None, now);
        sent += fwd.take_outbox().len();
        fwd.on_incoming_data(PRODUCER, data, false, now);
        sent += fwd.take_outbox().len();
        if n % 500 == 0 {
            fwd.on_tick(now);
        }
    }
    sent
}

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let mut fwd = Forwarder::new(ForwarderLimits::default());
    for c in 0..CONSUMERS {
        fwd.add_face(FaceId(300 + c), true);
    }
    fwd.add_face(PRODUCER, true);
    let prefix = Name::from_uri("/picasso/ping").unwrap();
    fwd.fib.add_next_hop(&prefix, PRODUCER, 0);
    let base = prefix.append_str("0badcafe");
    let packets: Vec<_> = (0..count)
        .map(|n| {
            let c = n as u64 % CONSUMERS;
            let name = base
                .append_str(&c.to_string())
                .append(&Component::sequence_num(n as u64 / CONSUMERS));
            let i = Interest::new(name.clone())
                .with_nonce(n as u32)
                .with_lifetime_ms(1000);
            let i = Interest::decode(i.to_wire()).unwrap();
            let mut d = Data::new(name).with_content(vec![0x5a; 100]);
            let wire = d.sign(&Signer::DigestSha256);
            (FaceId(300 + c), i, Data::decode(wire).unwrap())
        })
        .collect();
    let sent = run(&mut fwd, packets, Instant::now());
    assert_eq!(sent, 2 * count, "every Interest forwarded and answered");
    println!("{count} exchanges, {sent} packets sent");
}
