//! The committed fuzz seeds are real packets: every `packet` seed (from
//! python-ndn and from our encoder) decodes, every `name_uri` seed parses,
//! and the in-order `lp_reassembly` seeds reassemble a packet that decodes.

use std::path::PathBuf;
use std::time::Instant;

use bytes::Bytes;
use picasso_tlv::lp::{Reassembler, ReassemblerConfig};
use picasso_tlv::types::{DATA, INTEREST, LP_PACKET};
use picasso_tlv::wire::{self, SpanReader};
use picasso_tlv::{Data, Interest, LpPacket, Name};

fn seeds(target: &str) -> Vec<(String, Bytes)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut out: Vec<(String, Bytes)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, Bytes::from(std::fs::read(&p).unwrap()))
        })
        .collect();
    out.sort();
    assert!(out.len() >= 3, "seeds for {target} in {}", dir.display());
    out
}

#[test]
fn packet_seeds_decode() {
    for (name, w) in seeds("packet") {
        let (typ, _) = wire::single_span(&w).unwrap();
        let ok = match typ {
            INTEREST => Interest::decode(w).map(|_| ()),
            DATA => Data::decode(w).map(|_| ()),
            LP_PACKET => LpPacket::decode(w).map(|_| ()),
            t => panic!("{name}: outer type {t}"),
        };
        assert_eq!(ok, Ok(()), "{name}");
    }
}

#[test]
fn name_uri_seeds_parse() {
    for (name, s) in seeds("name_uri") {
        let n = Name::from_uri(std::str::from_utf8(&s).unwrap());
        assert!(n.is_ok(), "{name}: {n:?}");
    }
}

#[test]
fn lp_reassembly_seeds_reassemble() {
    for (name, stream) in seeds("lp_reassembly") {
        if !name.contains("order") && !name.contains("reverse") {
            continue;
        }
        let mut r = Reassembler::new(ReassemblerConfig::default());
        let mut s = SpanReader::new(&stream, 0..stream.len());
        let mut whole = Vec::new();
        while !s.is_empty() {
            let start = s.position();
            let (_, range) = s.read().unwrap();
            let lp = LpPacket::decode(stream.slice(start..range.end)).unwrap();
            if let Some(p) = r.receive(0, lp, Instant::now()).unwrap() {
                whole.push(p);
            }
        }
        assert_eq!(whole.len(), 1, "{name}");
        let frag = whole[0].fragment.clone().unwrap();
        assert!(
            Data::decode(frag).is_ok(),
            "{name}: reassembled Data decodes"
        );
    }
}
