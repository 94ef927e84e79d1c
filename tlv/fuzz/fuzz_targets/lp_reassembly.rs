//! A stream of LpPackets (TLV elements back to back, as the seeds are) fed
//! into a Reassembler with small limits. It must never panic, never hold
//! more than its byte bound or partial-packet bound, and whatever it hands
//! up must be a whole packet (no FragIndex/FragCount) within those bounds.
//!
//! Control elements steer the run without a custom input format: a TLV of
//! type 126 (which every decoder ignores) with value `[peer, advance]`
//! switches the sending peer and moves the clock forward `advance * 10` ms;
//! a value of `[peer, 0xFF]` makes the face of `peer` go down
//! (`forget_peer`).

#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use picasso_tlv::lp::{Reassembler, ReassemblerConfig};
use picasso_tlv::types::IGNORED;
use picasso_tlv::wire::SpanReader;
use picasso_tlv::LpPacket;

const CONFIG: ReassemblerConfig = ReassemblerConfig {
    max_fragments: 16,
    max_partial_packets: 4,
    max_buffered_bytes: 2048,
    timeout: Duration::from_millis(500),
};

fuzz_target!(|input: &[u8]| {
    let buf = bytes::Bytes::copy_from_slice(input);
    let mut r = SpanReader::new(&buf, 0..buf.len());
    let mut reassembler = Reassembler::new(CONFIG);
    let start = Instant::now();
    let mut now = start;
    let mut peer = 0u64;
    let mut reassembled = 0u64;
    while !r.is_empty() {
        let element_start = r.position();
        let Ok((typ, range)) = r.read() else {
            break;
        };
        if typ == IGNORED {
            match buf[range] {
                [p, 0xFF] => reassembler.forget_peer(u64::from(p)),
                [p, advance] => {
                    peer = u64::from(p);
                    now += Duration::from_millis(u64::from(advance) * 10);
                }
                _ => {}
            }
            continue;
        }
        let Ok(lp) = LpPacket::decode(buf.slice(element_start..range.end)) else {
            continue;
        };
        let fragmented = lp.frag_count.is_some_and(|c| c > 1);
        match reassembler.receive(peer, lp, now) {
            Ok(Some(whole)) => {
                assert!(whole.frag_index.is_none() && whole.frag_count.is_none());
                if fragmented {
                    reassembled += 1;
                    // Every piece was held at once, within the byte bound.
                    let len = whole.fragment.as_ref().map_or(0, |f| f.len());
                    assert!(len <= CONFIG.max_buffered_bytes, "reassembled {len} octets");
                }
            }
            Ok(None) | Err(_) => {}
        }
        assert!(
            reassembler.buffered_bytes() <= CONFIG.max_buffered_bytes,
            "holding {} octets",
            reassembler.buffered_bytes()
        );
        assert!(reassembler.partial_packets() <= CONFIG.max_partial_packets);
        assert_eq!(reassembler.counters().packets_reassembled, reassembled);
    }
    // Everything times out in the end.
    reassembler.expire(now + CONFIG.timeout);
    assert_eq!(reassembler.partial_packets(), 0);
    assert_eq!(reassembler.buffered_bytes(), 0);
});
