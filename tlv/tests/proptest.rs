//! Property tests for the codec: every type survives encode → decode with
//! its values intact, names survive URI print → parse, and no decoder panics
//! on arbitrary (or mutated valid) input.
//!
//! Case counts are kept small enough for the whole file to run in a few
//! seconds in a debug build; the cargo-fuzz targets under `tlv/fuzz` do the
//! long runs.

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;

use picasso_tlv::data::content_type;
use picasso_tlv::signature::ValidityPeriod;
use picasso_tlv::types::*;
use picasso_tlv::{wire, Component, Data, Interest, KeyLocator, Name, SignatureInfo, Signer};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Failures are reported with their minimal input; no files.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn arb_bytes(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

/// Any valid name component: every convention the URI scheme knows, plus
/// other types with arbitrary values (including number-convention types
/// whose value is not a shortest NonNegativeInteger).
fn arb_component() -> impl Strategy<Value = Component> {
    prop_oneof![
        4 => arb_bytes(12).prop_map(Component::generic),
        // Values made of periods exercise the "..." rule.
        1 => (0usize..5).prop_map(|n| Component::generic(vec![b'.'; n])),
        1 => any::<u64>().prop_map(Component::segment),
        1 => any::<u64>().prop_map(Component::version),
        1 => any::<u64>().prop_map(Component::timestamp),
        1 => any::<u64>().prop_map(Component::sequence_num),
        1 => any::<u64>().prop_map(Component::byte_offset),
        1 => any::<[u8; 32]>().prop_map(Component::implicit_digest),
        1 => any::<[u8; 32]>().prop_map(Component::params_digest),
        1 => arb_bytes(6).prop_map(|v| Component::new(KEYWORD_COMPONENT, v)),
        2 => (3u64..=0xFFFF, arb_bytes(9)).prop_map(|(t, v)| Component::new(t, v)),
    ]
}

fn arb_name() -> impl Strategy<Value = Name> {
    vec(arb_component(), 0..7).prop_map(|c| Name::from_components(&c))
}

/// A name without a ParametersSha256DigestComponent, as an application
/// hands to `Interest::new` (the codec adds the digest itself).
fn arb_request_name() -> impl Strategy<Value = Name> {
    vec(arb_component(), 0..7).prop_map(|c| {
        let c: Vec<Component> = c
            .into_iter()
            .filter(|c| c.typ() != PARAMETERS_SHA256_DIGEST_COMPONENT)
            .collect();
        Name::from_components(&c)
    })
}

fn arb_timestamp() -> impl Strategy<Value = String> {
    (
        1970u32..9999,
        1u32..13,
        1u32..29,
        0u32..24,
        0u32..60,
        0u32..60,
    )
        .prop_map(|(y, mo, d, h, mi, s)| format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}"))
}

fn arb_key_locator() -> impl Strategy<Value = KeyLocator> {
    prop_oneof![
        arb_name().prop_map(KeyLocator::Name),
        arb_bytes(32).prop_map(KeyLocator::KeyDigest),
    ]
}

/// The optional SignatureInfo fields an application adds on top of what the
/// signer sets (type and KeyLocator).
#[derive(Debug, Clone)]
struct InfoExtras {
    validity_period: Option<ValidityPeriod>,
    nonce: Option<Bytes>,
    time: Option<u64>,
    seq_num: Option<u64>,
}

fn arb_info_extras() -> impl Strategy<Value = InfoExtras> {
    (
        proptest::option::of((arb_timestamp(), arb_timestamp()).prop_map(|(a, b)| {
            ValidityPeriod {
                not_before: a,
                not_after: b,
            }
        })),
        proptest::option::of(vec(any::<u8>(), 1..=16).prop_map(Bytes::from)),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(|(validity_period, nonce, time, seq_num)| InfoExtras {
            validity_period,
            nonce,
            time,
            seq_num,
        })
}

fn with_extras(mut info: SignatureInfo, x: &InfoExtras) -> SignatureInfo {
    info.validity_period = x.validity_period.clone();
    info.nonce = x.nonce.clone();
    info.time = x.time;
    info.seq_num = x.seq_num;
    info
}

fn arb_signature_info() -> impl Strategy<Value = SignatureInfo> {
    (
        any::<u64>(),
        proptest::option::of(arb_key_locator()),
        arb_info_extras(),
    )
        .prop_map(|(t, kl, x)| {
            let mut info = SignatureInfo::new(t);
            info.key_locator = kl;
            with_extras(info, &x)
        })
}

/// One signer of each of the three signature types we can produce.
fn arb_signer() -> impl Strategy<Value = Signer> {
    prop_oneof![
        Just(Signer::DigestSha256),
        (arb_bytes(40), arb_name()).prop_map(|(key, key_name)| Signer::Hmac { key, key_name }),
        (any::<[u8; 32]>(), arb_name()).prop_map(|(seed, key_name)| {
            Signer::ed25519_from_seed(&seed, key_name).expect("seed is 32 bytes")
        }),
    ]
}

/// Unsigned Interest fields; `app_params` may be present.
#[derive(Debug, Clone)]
struct InterestFields {
    name: Name,
    can_be_prefix: bool,
    must_be_fresh: bool,
    forwarding_hint: Vec<Name>,
    nonce: Option<u32>,
    lifetime_ms: Option<u64>,
    hop_limit: Option<u8>,
    app_params: Option<Bytes>,
}

fn arb_interest_fields() -> impl Strategy<Value = InterestFields> {
    (
        arb_request_name(),
        any::<bool>(),
        any::<bool>(),
        vec(arb_name(), 0..3),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u8>()),
        proptest::option::of(arb_bytes(64)),
    )
        .prop_map(
            |(
                name,
                can_be_prefix,
                must_be_fresh,
                forwarding_hint,
                nonce,
                lifetime_ms,
                hop_limit,
                app_params,
            )| InterestFields {
                name,
                can_be_prefix,
                must_be_fresh,
                forwarding_hint,
                nonce,
                lifetime_ms,
                hop_limit,
                app_params,
            },
        )
}

fn build_interest(f: &InterestFields) -> Interest {
    let mut i = Interest::new(f.name.clone())
        .with_can_be_prefix(f.can_be_prefix)
        .with_must_be_fresh(f.must_be_fresh)
        .with_forwarding_hint(f.forwarding_hint.clone());
    i.set_nonce(f.nonce);
    i.set_lifetime_ms(f.lifetime_ms);
    i.set_hop_limit(f.hop_limit);
    i.set_app_params(f.app_params.clone());
    i
}

fn assert_interest_fields(d: &Interest, f: &InterestFields) {
    assert_eq!(d.name_without_params_digest(), f.name);
    let has_digest = d
        .name()
        .components()
        .any(|c| c.typ() == PARAMETERS_SHA256_DIGEST_COMPONENT);
    assert_eq!(has_digest, d.app_params().is_some());
    assert_eq!(d.can_be_prefix(), f.can_be_prefix);
    assert_eq!(d.must_be_fresh(), f.must_be_fresh);
    assert_eq!(d.forwarding_hint(), &f.forwarding_hint[..]);
    assert_eq!(d.nonce(), f.nonce);
    assert_eq!(d.lifetime_ms(), f.lifetime_ms);
    assert_eq!(d.hop_limit(), f.hop_limit);
}

/// Drops the cached wire so that `encode` really encodes.
fn uncached(i: &Interest) -> Interest {
    let mut c = i.clone();
    c.set_hop_limit(i.hop_limit());
    assert!(c.cached_wire().is_none());
    c
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn name_round_trip(name in arb_name()) {
        let w = name.to_wire();
        prop_assert_eq!(w.len(), name.wire_len());
        let d = Name::decode(w).unwrap();
        prop_assert_eq!(&d, &name);
        prop_assert_eq!(d.len(), name.len());
        let a: Vec<Component> = d.components().collect();
        let b: Vec<Component> = name.components().collect();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn component_round_trip(c in arb_component()) {
        let d = Component::decode(c.to_wire()).unwrap();
        prop_assert_eq!(&d, &c);
        let u = Component::from_uri(&c.to_uri()).unwrap();
        prop_assert_eq!(u, c);
    }

    #[test]
    fn name_uri_round_trip(name in arb_name()) {
        let uri = name.to_uri();
        let parsed = Name::from_uri(&uri).unwrap();
        prop_assert_eq!(&parsed, &name, "uri {}", uri);
        // The canonical form is a fixed point.
        prop_assert_eq!(parsed.to_uri(), uri);
    }

    #[test]
    fn name_prefix_laws(name in arb_name(), n in 0usize..8) {
        let p = name.prefix(n);
        prop_assert_eq!(p.len(), n.min(name.len()));
        prop_assert!(p.is_prefix_of(&name));
        prop_assert!(p <= name);
        let rebuilt = Name::from_components(&name.components().take(n).collect::<Vec<_>>());
        prop_assert_eq!(p, rebuilt);
    }

    #[test]
    fn signature_info_round_trip(info in arb_signature_info()) {
        let w = info.to_wire(SIGNATURE_INFO);
        prop_assert_eq!(w.len(), info.wire_len(SIGNATURE_INFO));
        let e = wire::read_single(w).unwrap();
        prop_assert_eq!(e.typ, SIGNATURE_INFO);
        prop_assert_eq!(SignatureInfo::decode_value(e.value).unwrap(), info);
    }

    #[test]
    fn interest_round_trip(f in arb_interest_fields()) {
        let mut i = build_interest(&f);
        let w = i.encode();
        let d = Interest::decode(w.clone()).unwrap();
        assert_interest_fields(&d, &f);
        prop_assert_eq!(d.app_params(), f.app_params.as_ref());
        prop_assert_eq!(d.signature_info(), None);
        prop_assert_eq!(d.cached_wire(), Some(&w));
        // A fresh encoding of the decoded fields is byte-identical.
        prop_assert_eq!(uncached(&d).encode(), w);
    }
}

proptest! {
    // Signing (Ed25519 especially) is slow in debug builds.
    #![proptest_config(config(64))]

    #[test]
    fn signed_interest_round_trip(
        f in arb_interest_fields(),
        signer in arb_signer(),
        x in arb_info_extras(),
    ) {
        let mut i = build_interest(&f);
        let info = with_extras(signer.signature_info(), &x);
        i.sign(&signer, info.clone());
        let w = i.encode();
        let d = Interest::decode(w.clone()).unwrap();
        assert_interest_fields(&d, &f);
        // sign() adds empty parameters when there were none.
        let params = f.app_params.clone().unwrap_or_default();
        prop_assert_eq!(d.app_params(), Some(&params));
        prop_assert_eq!(d.signature_info(), Some(&info));
        prop_assert_eq!(d.signature_value(), i.signature_value());
        prop_assert_eq!(d.signature_value().map(|v| v.len()), Some(signer.signature_len()));
        prop_assert_eq!(d.verify(&signer.verifier()), Ok(()));
        prop_assert_eq!(uncached(&d).encode(), w);
    }

    #[test]
    fn data_round_trip(
        name in arb_name(),
        content_type in proptest::option::of(prop_oneof![
            Just(content_type::BLOB),
            Just(content_type::LINK),
            Just(content_type::KEY),
            Just(content_type::NACK),
            any::<u64>(),
        ]),
        freshness in proptest::option::of(any::<u64>()),
        final_block_id in proptest::option::of(arb_component()),
        content in proptest::option::of(arb_bytes(2000)),
        signer in arb_signer(),
        x in arb_info_extras(),
    ) {
        let mut d = Data::new(name.clone());
        if let Some(t) = content_type {
            d = d.with_content_type(t);
        }
        if let Some(f) = freshness {
            d = d.with_freshness_ms(f);
        }
        if let Some(c) = &final_block_id {
            d = d.with_final_block_id(c.clone());
        }
        if let Some(c) = &content {
            d = d.with_content(c.clone());
        }
        let info = with_extras(signer.signature_info(), &x);
        let w = d.sign_with_info(&signer, info.clone());
        let p = Data::decode(w.clone()).unwrap();
        prop_assert_eq!(p.name(), &name);
        prop_assert_eq!(p.content_type(), content_type);
        prop_assert_eq!(p.freshness_ms(), freshness);
        prop_assert_eq!(p.final_block_id(), final_block_id.as_ref());
        prop_assert_eq!(p.has_content(), content.is_some());
        prop_assert_eq!(p.content(), content.unwrap_or_default());
        prop_assert_eq!(p.signature_info(), &info);
        prop_assert_eq!(p.signature_value().len(), signer.signature_len());
        prop_assert_eq!(p.wire(), Some(&w));
        prop_assert_eq!(p.verify(&signer.verifier()), Ok(()));
        // The decoded packet is the signed one, signed range included.
        prop_assert_eq!(&p, &d);
    }
}

/// A valid Interest, Data or signed Interest to mutate.
fn arb_valid_packet() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        arb_interest_fields().prop_map(|f| build_interest(&f).encode()),
        (arb_interest_fields(), arb_info_extras()).prop_map(|(f, x)| {
            let mut i = build_interest(&f);
            i.sign(
                &Signer::DigestSha256,
                with_extras(Signer::DigestSha256.signature_info(), &x),
            );
            i.encode()
        }),
        (arb_name(), arb_bytes(64), any::<u64>()).prop_map(|(n, c, f)| {
            Data::new(n)
                .with_freshness_ms(f)
                .with_final_block_id(Component::segment(1))
                .with_content(c)
                .sign(&Signer::Hmac {
                    key: Bytes::from_static(b"k"),
                    key_name: Name::from_uri("/k").unwrap(),
                })
        }),
    ]
}

/// A mutation of a valid packet: flipped, inserted, removed bytes and a cut.
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn arb_edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        1 => any::<usize>().prop_map(Edit::Remove),
        1 => any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn mutate(w: &[u8], edits: &[Edit]) -> Bytes {
    let mut v = w.to_vec();
    for e in edits {
        let n = v.len().max(1);
        match *e {
            Edit::Set(i, b) if !v.is_empty() => v[i % n] = b,
            Edit::Insert(i, b) => v.insert(i % (v.len() + 1), b),
            Edit::Remove(i) if !v.is_empty() => {
                v.remove(i % n);
            }
            Edit::Truncate(i) => v.truncate(i % (v.len() + 1)),
            _ => {}
        }
    }
    Bytes::from(v)
}

/// Whatever decodes also re-encodes to something that decodes to the same fields.
fn check_reencode(w: Bytes) {
    if let Ok(i) = Interest::decode(w.clone()) {
        let again = Interest::decode(uncached(&i).encode()).unwrap();
        assert_eq!(again.name(), i.name());
        assert_eq!(again.nonce(), i.nonce());
        assert_eq!(again.lifetime_ms(), i.lifetime_ms());
        assert_eq!(again.hop_limit(), i.hop_limit());
        assert_eq!(again.forwarding_hint(), i.forwarding_hint());
        assert_eq!(again.app_params(), i.app_params());
        assert_eq!(again.signature_info(), i.signature_info());
        assert_eq!(again.signature_value(), i.signature_value());
    }
    if let Ok(d) = Data::decode(w.clone()) {
        let mut c = d.clone();
        let w2 = c.sign_with_info(&Signer::DigestSha256, d.signature_info().clone());
        let again = Data::decode(w2).unwrap();
        assert_eq!(again.name(), d.name());
        assert_eq!(again.content_type(), d.content_type());
        assert_eq!(again.freshness_ms(), d.freshness_ms());
        assert_eq!(again.final_block_id(), d.final_block_id());
        assert_eq!(again.content(), d.content());
        assert_eq!(again.signature_info(), d.signature_info());
    }
    if let Ok(n) = Name::decode(w) {
        assert_eq!(Name::decode(n.to_wire()).unwrap(), n);
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn decoders_never_panic_on_bytes(b in vec(any::<u8>(), 0..256)) {
        let b = Bytes::from(b);
        let _ = Name::decode(b.clone());
        let _ = Component::decode(b.clone());
        let _ = SignatureInfo::decode_value(b.clone());
        let _ = wire::frame_len(&b);
        check_reencode(b);
    }

    #[test]
    fn decoders_never_panic_on_typed_bytes(
        typ in prop_oneof![Just(INTEREST), Just(DATA), Just(NAME)],
        body in vec(any::<u8>(), 0..200),
    ) {
        // A right outer type and length so the decoders get past the header.
        let mut v = Vec::new();
        let mut out = bytes::BytesMut::new();
        wire::write_header(&mut out, typ, body.len());
        v.extend_from_slice(&out);
        v.extend_from_slice(&body);
        check_reencode(Bytes::from(v));
    }

    #[test]
    fn decoders_never_panic_on_mutations(w in arb_valid_packet(), edits in vec(arb_edit(), 1..4)) {
        check_reencode(mutate(&w, &edits));
    }

    #[test]
    fn uri_parsers_never_panic(s in ".{0,40}") {
        if let Ok(c) = Component::from_uri(&s) {
            prop_assert_eq!(Component::from_uri(&c.to_uri()).unwrap(), c);
        }
        if let Ok(n) = Name::from_uri(&s) {
            let u = n.to_uri();
            prop_assert_eq!(Name::from_uri(&u).unwrap(), n, "{:?} printed as {:?}", s, u);
        }
    }

    #[test]
    fn uri_parsers_never_panic_on_uri_alphabet(
        s in "(ndn:)?(/(seg=|v=|t=|seq=|off=|sha256digest=|params-sha256=|[0-9]{1,5}=)?([a-zA-Z0-9._~=-]|%[0-9a-fA-F]{2}|%){0,10}){0,5}"
    ) {
        if let Ok(n) = Name::from_uri(&s) {
            let u = n.to_uri();
            prop_assert_eq!(Name::from_uri(&u).unwrap(), n, "{:?} printed as {:?}", s, u);
        }
    }
}

#[test]
fn uri_number_convention_needs_shortest_nni() {
    // Regression: a SegmentNameComponent whose value is the 2-octet NNI
    // 0x0001 used to print as "seg=1", which parses to the 1-octet form: a
    // different name. It must print in the typed form instead.
    let n = Name::decode(Bytes::from_static(&[0x07, 0x04, 0x32, 0x02, 0x00, 0x01])).unwrap();
    assert_eq!(n.to_uri(), "/50=%00%01");
    assert_eq!(Name::from_uri(&n.to_uri()).unwrap(), n);
    assert_eq!(Name::from_uri("/seg=1").unwrap().to_uri(), "/seg=1");
}

// ---------------------------------------------------------------------------
// NDNLPv2 reassembly and NFD management datasets. (LpPacket and
// ControlParameters/ControlResponse/RibEntry round trips live next to their
// code in lp.rs and mgmt.rs.)

mod lp_and_mgmt {
    use std::time::{Duration, Instant};

    use super::*;
    use picasso_tlv::lp::{self, Reassembler, ReassemblerConfig};
    use picasso_tlv::mgmt::{
        self, CsInfo, FacePersistency, FaceScope, FaceStatus, FibEntry, ForwarderStatus, LinkType,
        MgmtTlv, NextHopRecord, StrategyChoice,
    };
    use picasso_tlv::LpPacket;

    const CONFIG: ReassemblerConfig = ReassemblerConfig {
        max_fragments: 8,
        max_partial_packets: 3,
        max_buffered_bytes: 1000,
        timeout: Duration::from_millis(500),
    };

    /// One step of a link: a fragment (real or made up) from a peer, after a pause.
    #[derive(Debug, Clone)]
    struct Step {
        peer: u64,
        pause_ms: u64,
        lp: LpPacket,
    }

    fn arb_fragment() -> impl Strategy<Value = LpPacket> {
        (
            proptest::option::of(0u64..6),
            proptest::option::of(0u64..6),
            proptest::option::of(0u64..10),
            proptest::option::of(arb_bytes(400)),
        )
            .prop_map(|(frag_index, frag_count, sequence, fragment)| LpPacket {
                frag_index,
                frag_count,
                sequence,
                fragment,
                ..LpPacket::default()
            })
    }

    fn arb_steps() -> impl Strategy<Value = Vec<Step>> {
        // Real fragments of a packet, plus made-up ones, in any order.
        (
            arb_bytes(1500),
            60usize..400,
            vec(arb_fragment(), 0..20),
            vec((0u64..3, 0u64..300), 0..40),
        )
            .prop_flat_map(|(payload, mtu, junk, timing)| {
                let mut lps: Vec<LpPacket> = lp::fragment_network_packet(payload, mtu, 0)
                    .map(|f| {
                        f.into_iter()
                            .map(|w| LpPacket::decode(w).unwrap())
                            .collect()
                    })
                    .unwrap_or_default();
                lps.extend(junk);
                let n = lps.len();
                (
                    Just(lps),
                    Just(timing),
                    proptest::sample::subsequence((0..n).collect::<Vec<_>>(), 0..=n).prop_shuffle(),
                )
            })
            .prop_map(|(lps, timing, order)| {
                order
                    .into_iter()
                    .enumerate()
                    .map(|(i, k)| {
                        let (peer, pause_ms) = timing.get(i).copied().unwrap_or((0, 0));
                        Step {
                            peer,
                            pause_ms,
                            lp: lps[k].clone(),
                        }
                    })
                    .collect()
            })
    }

    fn arb_name_small() -> impl Strategy<Value = Name> {
        vec(arb_component(), 0..4).prop_map(|c| Name::from_components(&c))
    }

    prop_compose! {
        fn arb_face_status()(
            ids in vec(any::<u64>(), 13),
            uri in "[ -~]{0,24}",
            local_uri in "[ -~]{0,24}",
            expiration in proptest::option::of(any::<u32>()),
            base in proptest::option::of(any::<u64>()),
            threshold in proptest::option::of(any::<u64>()),
            mtu in proptest::option::of(any::<u64>()),
        ) -> FaceStatus {
            FaceStatus {
                face_id: ids[0],
                uri,
                local_uri,
                expiration_period: expiration.map(|ms| Duration::from_millis(u64::from(ms))),
                face_scope: FaceScope(ids[1] % 2),
                face_persistency: FacePersistency(ids[2] % 3),
                link_type: LinkType(ids[3] % 3),
                base_congestion_marking_interval: base.map(Duration::from_nanos),
                default_congestion_threshold: threshold,
                mtu,
                n_in_interests: ids[4],
                n_in_data: ids[5],
                n_in_nacks: ids[6],
                n_out_interests: ids[7],
                n_out_data: ids[8],
                n_out_nacks: ids[9],
                n_in_bytes: ids[10],
                n_out_bytes: ids[11],
                flags: ids[12],
            }
        }
    }

    prop_compose! {
        fn arb_forwarder_status()(
            version in "[ -~]{0,24}",
            n in vec(any::<u64>(), 14),
        ) -> ForwarderStatus {
            ForwarderStatus {
                nfd_version: version,
                start_timestamp: n[0],
                current_timestamp: n[1],
                n_name_tree_entries: n[2],
                n_fib_entries: n[3],
                n_pit_entries: n[4],
                n_measurements_entries: n[5],
                n_cs_entries: n[6],
                n_in_interests: n[7],
                n_in_data: n[8],
                n_in_nacks: n[9],
                n_out_interests: n[10],
                n_out_data: n[11],
                n_out_nacks: n[12],
                n_satisfied_interests: n[13],
                ..ForwarderStatus::default()
            }
        }
    }

    fn list_round_trip<T: MgmtTlv + PartialEq + std::fmt::Debug>(items: &[T]) {
        let content = mgmt::encode_list(items);
        assert_eq!(&mgmt::decode_list::<T>(content).unwrap()[..], items);
        for i in items {
            assert_eq!(&T::decode(i.encode()).unwrap(), i);
        }
    }

    proptest! {
        #![proptest_config(config(256))]

        #[test]
        fn reassembler_stays_within_bounds(steps in arb_steps()) {
            let mut r = Reassembler::new(CONFIG);
            let mut now = Instant::now();
            for s in steps {
                now += Duration::from_millis(s.pause_ms);
                let fragmented = s.lp.frag_count.is_some_and(|c| c > 1);
                if let Ok(Some(whole)) = r.receive(s.peer, s.lp, now) {
                    prop_assert!(whole.frag_index.is_none() && whole.frag_count.is_none());
                    if fragmented {
                        let len = whole.fragment.map_or(0, |f| f.len());
                        prop_assert!(len <= CONFIG.max_buffered_bytes);
                    }
                }
                prop_assert!(r.buffered_bytes() <= CONFIG.max_buffered_bytes);
                prop_assert!(r.partial_packets() <= CONFIG.max_partial_packets);
            }
            r.expire(now + CONFIG.timeout);
            prop_assert_eq!((r.partial_packets(), r.buffered_bytes()), (0, 0));
        }

        #[test]
        fn fragments_in_order_reassemble_exactly(payload in arb_bytes(3000), mtu in 50usize..600) {
            let wire = Data::new(Name::from_uri("/a").unwrap())
                .with_content(payload)
                .sign(&Signer::DigestSha256);
            let frags = lp::fragment_network_packet(wire.clone(), mtu, 7).unwrap();
            prop_assert!(frags.iter().all(|f| f.len() <= mtu));
            let mut r = Reassembler::new(ReassemblerConfig::default());
            let mut out = None;
            for f in frags {
                if let Some(p) = r.receive(1, LpPacket::decode(f).unwrap(), Instant::now()).unwrap() {
                    out = Some(p);
                }
            }
            prop_assert_eq!(out.and_then(|p| p.fragment), Some(wire));
            prop_assert_eq!(r.buffered_bytes(), 0);
        }

        #[test]
        fn face_status_round_trip(items in vec(arb_face_status(), 0..4)) {
            list_round_trip(&items);
        }

        #[test]
        fn fib_and_strategy_datasets_round_trip(
            fib in vec((arb_name_small(), vec((any::<u64>(), any::<u64>()), 0..4)), 0..4),
            choices in vec((arb_name_small(), arb_name_small()), 0..4),
        ) {
            let fib: Vec<FibEntry> = fib
                .into_iter()
                .map(|(name, hops)| FibEntry {
                    name,
                    next_hops: hops
                        .into_iter()
                        .map(|(face_id, cost)| NextHopRecord { face_id, cost })
                        .collect(),
                })
                .collect();
            list_round_trip(&fib);
            let choices: Vec<StrategyChoice> = choices
                .into_iter()
                .map(|(name, strategy)| StrategyChoice { name, strategy })
                .collect();
            list_round_trip(&choices);
        }

        #[test]
        fn cs_info_and_forwarder_status_round_trip(
            n in vec(any::<u64>(), 5),
            status in arb_forwarder_status(),
        ) {
            let cs = CsInfo { capacity: n[0], flags: n[1], n_entries: n[2], n_hits: n[3], n_misses: n[4] };
            list_round_trip(&[cs]);
            prop_assert_eq!(ForwarderStatus::decode(status.encode()).unwrap(), status);
        }

        #[test]
        fn mgmt_decoders_never_panic(b in vec(any::<u8>(), 0..200)) {
            let b = Bytes::from(b);
            let _ = mgmt::decode_list::<FaceStatus>(b.clone());
            let _ = mgmt::decode_list::<FibEntry>(b.clone());
            let _ = mgmt::decode_list::<StrategyChoice>(b.clone());
            let _ = mgmt::decode_list::<CsInfo>(b.clone());
            let _ = mgmt::decode_list::<mgmt::RibEntry>(b.clone());
            let _ = mgmt::ControlParameters::decode(b.clone());
            let _ = mgmt::ControlResponse::decode(b.clone());
            let _ = ForwarderStatus::decode(b.clone());
            if let Ok(lp) = LpPacket::decode(b) {
                prop_assert_eq!(LpPacket::decode(lp.encode()).unwrap(), lp);
            }
        }
    }
}
