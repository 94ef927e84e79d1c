//! Outer type dispatch over arbitrary bytes, as a face's receive path does:
//! Interest, Data or LpPacket (and the Interest or Data in an unfragmented
//! LpPacket's Fragment). Whatever decodes is encoded afresh and decoded
//! again, and the two decodings must agree field by field.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use picasso_tlv::types::{DATA, INTEREST, LP_PACKET};
use picasso_tlv::{wire, Data, Interest, LpPacket, Name, Signer};

fn interest(w: Bytes) {
    let Ok(i) = Interest::decode(w.clone()) else {
        return;
    };
    assert_eq!(i.cached_wire(), Some(&w));
    // Setting a field to its own value drops the cached wire: encode afresh.
    let mut fresh = i.clone();
    fresh.set_hop_limit(i.hop_limit());
    let w2 = fresh.encode();
    let again = Interest::decode(w2.clone()).expect("re-encoded Interest decodes");
    assert_eq!(again.name(), i.name());
    assert_eq!(again.can_be_prefix(), i.can_be_prefix());
    assert_eq!(again.must_be_fresh(), i.must_be_fresh());
    assert_eq!(again.forwarding_hint(), i.forwarding_hint());
    assert_eq!(again.nonce(), i.nonce());
    assert_eq!(again.lifetime_ms(), i.lifetime_ms());
    assert_eq!(again.hop_limit(), i.hop_limit());
    assert_eq!(again.app_params(), i.app_params());
    assert_eq!(again.signature_info(), i.signature_info());
    assert_eq!(again.signature_value(), i.signature_value());
    let _ = i.command_signature();
    // A canonical encoding is a fixed point.
    let mut fresh2 = again.clone();
    fresh2.set_hop_limit(again.hop_limit());
    assert_eq!(fresh2.encode(), w2);
}

fn data(w: Bytes) {
    let Ok(d) = Data::decode(w.clone()) else {
        return;
    };
    assert_eq!(d.wire(), Some(&w));
    let _ = d.verify(&Signer::DigestSha256.verifier());
    // Data is encoded by signing; keep the decoded SignatureInfo.
    let mut fresh = d.clone();
    let w2 = fresh.sign_with_info(&Signer::DigestSha256, d.signature_info().clone());
    let again = Data::decode(w2).expect("re-encoded Data decodes");
    assert_eq!(again.name(), d.name());
    assert_eq!(again.content_type(), d.content_type());
    assert_eq!(again.freshness_ms(), d.freshness_ms());
    assert_eq!(again.final_block_id(), d.final_block_id());
    assert_eq!(again.has_content(), d.has_content());
    assert_eq!(again.content(), d.content());
    assert_eq!(again.signature_info(), d.signature_info());
    assert_eq!(again, fresh);
}

fn lp_packet(w: Bytes) {
    let Ok(lp) = LpPacket::decode(w) else {
        return;
    };
    let w2 = lp.encode();
    assert_eq!(w2.len(), lp.wire_len());
    let again = LpPacket::decode(w2.clone()).expect("re-encoded LpPacket decodes");
    assert_eq!(again, lp);
    assert_eq!(again.encode(), w2, "canonical encoding is a fixed point");
    let _ = (lp.is_nack(), lp.nack_reason(), lp.encode_for_link());
    // A whole network-layer packet in the Fragment goes up the stack.
    if let (Some(frag), false) = (&lp.fragment, lp.is_fragmented()) {
        match wire::single_span(frag).map(|(t, _)| t) {
            Ok(INTEREST) => interest(frag.clone()),
            Ok(DATA) => data(frag.clone()),
            _ => {}
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let w = Bytes::copy_from_slice(input);
    let Ok(outer) = wire::read_single(w.clone()) else {
        // Not one element: a stream face would still try to frame it.
        let _ = wire::frame_len(input);
        return;
    };
    match outer.typ {
        INTEREST => interest(w),
        DATA => data(w),
        LP_PACKET => lp_packet(w),
        _ => {
            if let Ok(n) = Name::decode(w) {
                assert_eq!(Name::decode(n.to_wire()).expect("name re-decodes"), n);
            }
        }
    }
});
