//! Writes seed inputs for the cargo-fuzz targets, encoded by this crate
//! (python-ndn's seeds come from `tlv/fuzz/seeds/gen_pyndn_seeds.py`).
//!
//! ```text
//! cargo run -p picasso-tlv --example fuzz_seeds [DIR]    # DIR: tlv/fuzz/seeds
//! ```

use std::path::{Path, PathBuf};

use anyhow::Context;
use bytes::{Bytes, BytesMut};
use picasso_tlv::lp::{self, NackReason};
use picasso_tlv::types::IGNORED;
use picasso_tlv::{wire, Component, Data, Interest, LpPacket, Name, Signer};

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    let path = d.join(format!("ours-{name}"));
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// A control element of the lp_reassembly target: switch to `peer` and
/// advance the clock by `advance * 10` ms.
fn control(peer: u8, advance: u8) -> Vec<u8> {
    let mut b = BytesMut::new();
    wire::write_tlv(&mut b, IGNORED, &[peer, advance]);
    b.to_vec()
}

fn main() -> anyhow::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds"));
    let name = |s: &str| Name::from_uri(s).context("seed name");
    let key = name("/picasso/KEY/1")?;
    let signers = [
        ("digest", Signer::DigestSha256),
        (
            "hmac",
            Signer::Hmac {
                key: Bytes::from_static(b"secret"),
                key_name: key.clone(),
            },
        ),
        ("ed25519", Signer::ed25519_from_seed(&[7; 32], key)?),
    ];

    // packet: Interests, Data and LpPackets.
    let typical = Interest::new(name("/picasso/svc/S1/index.html/seg=0")?)
        .with_nonce(0x0102_0304)
        .with_lifetime_ms(4000)
        .encode();
    write(&dir, "packet", "interest_typical", &typical)?;
    let full = Interest::new(name("/picasso/svc/v=3/t=5/seq=9/off=1")?)
        .with_can_be_prefix(true)
        .with_must_be_fresh(true)
        .with_forwarding_hint(vec![name("/edge/n1")?, name("/core")?])
        .with_nonce(7)
        .with_lifetime_ms(100_000)
        .with_hop_limit(64)
        .with_app_params(&b"{\"svc\":\"S1\"}"[..])
        .encode();
    write(&dir, "packet", "interest_all_fields", &full)?;
    for (label, signer) in &signers {
        let mut i = Interest::new(name("/picasso/node/n1/cmd/deploy")?).with_app_params(&b"{}"[..]);
        let mut info = signer.signature_info();
        info.nonce = Some(Bytes::from_static(&[1, 2, 3, 4, 5, 6, 7, 8]));
        info.time = Some(1_750_000_000_000);
        info.seq_num = Some(1);
        i.sign(signer, info);
        write(
            &dir,
            "packet",
            &format!("interest_signed_{label}"),
            &i.encode(),
        )?;
        let mut d = Data::new(name("/picasso/svc/S1/v=1/seg=0")?)
            .with_content_type(0)
            .with_freshness_ms(1000)
            .with_final_block_id(Component::segment(2))
            .with_content(vec![0x5A; 300]);
        let w = d.sign_with_info(signer, signer.signature_info());
        write(&dir, "packet", &format!("data_{label}"), &w)?;
    }
    let cmd = Interest::new_command(
        &name("/localhost/nfd/rib/register")?,
        &signers[0].1,
        1000,
        42,
    );
    write(&dir, "packet", "interest_command", &cmd.to_wire())?;
    let nack = LpPacket::nack(NackReason::NoRoute, typical.clone()).encode();
    write(&dir, "packet", "lp_nack", &nack)?;
    let mut with_headers = LpPacket::wrap(full.clone());
    with_headers.pit_token = Some(Bytes::from_static(&[0xAB; 8]));
    with_headers.congestion_mark = Some(1);
    with_headers.tx_sequence = Some(99);
    with_headers.acks = vec![97, 98];
    write(&dir, "packet", "lp_headers", &with_headers.encode())?;

    // lp_reassembly: fragments of a 1500-octet Data, in and out of order,
    // interleaved between two peers, with a timeout and a duplicate.
    let mut big = Data::new(name("/picasso/repo/image/seg=0")?).with_content(vec![0xC3; 1500]);
    let big = big.sign(&signers[0].1);
    let frags = lp::fragment_network_packet(big, 200, 1000).context("fragmenting")?;
    write(&dir, "lp_reassembly", "in_order", &frags.concat())?;
    let mut shuffled: Vec<Bytes> = frags.iter().rev().cloned().collect();
    shuffled.push(frags[1].clone());
    write(
        &dir,
        "lp_reassembly",
        "reversed_duplicate",
        &shuffled.concat(),
    )?;
    let mut two_peers = Vec::new();
    for (i, f) in frags.iter().enumerate() {
        two_peers.extend(control(0, 1));
        two_peers.extend_from_slice(f);
        two_peers.extend(control(1, 1));
        two_peers.extend_from_slice(&frags[frags.len() - 1 - i]);
    }
    write(&dir, "lp_reassembly", "two_peers", &two_peers)?;
    let mut timeout = frags[..2].concat();
    timeout.extend(control(0, 60));
    timeout.extend(frags[2..].concat());
    write(&dir, "lp_reassembly", "timeout_midway", &timeout)?;
    let mut mixed = nack.to_vec();
    mixed.extend_from_slice(&frags[0]);
    mixed.extend(control(0, 0xFF));
    mixed.extend(frags[1..].concat());
    write(&dir, "lp_reassembly", "forget_peer", &mixed)?;

    // name_uri: our canonical URIs.
    for (i, n) in [
        "/picasso/svc/S1/v=3/seg=12",
        "/32=kw/t=1700000000000000/seq=5/off=10/...",
        "/a/sha256digest=0000000000000000000000000000000000000000000000000000000000000000",
    ]
    .iter()
    .enumerate()
    {
        write(
            &dir,
            "name_uri",
            &format!("uri{i}"),
            name(n)?.to_uri().as_bytes(),
        )?;
    }
    println!("seeds written under {}", dir.display());
    Ok(())
}
