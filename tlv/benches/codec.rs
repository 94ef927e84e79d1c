//! Codec throughput: decode and encode of the packets a forwarder handles
//! most, and the name operations its tables do per packet.
//!
//! ```text
//! cargo bench -p picasso-tlv --bench codec            # full run
//! scripts/bench-codec.sh                              # short run + python-ndn baseline
//! ```
//!
//! Every packet decoded here is also written as hex to
//! `target/codec-bench/<packet>.hex` (or `$PICASSO_BENCH_PACKETS`), so that
//! `benches/pyndn_decode.py` times python-ndn on the very same bytes.
//! Throughput is reported per packet (criterion's "elem/s" = decodes/s).

use std::collections::hash_map::DefaultHasher;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::hint::black_box;
use std::path::PathBuf;

use bytes::Bytes;
use criterion::{criterion_group, BatchSize, Criterion, Throughput};
use picasso_tlv::lp::{self, Reassembler, ReassemblerConfig};
use picasso_tlv::{Data, Interest, LpPacket, Name, Signer};

/// FxHash, the multiply-rotate hash rustc uses for its own tables (the
/// `rustc-hash` crate's algorithm, inlined to avoid a dependency): the fast
/// non-keyed choice for name tables fed by trusted code.
#[derive(Default, Clone, Copy)]
struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

fn name(s: &str) -> Name {
    Name::from_uri(s).expect("bench names are valid")
}

/// The typical Interest: 5-component name, Nonce, InterestLifetime.
fn typical_interest() -> Interest {
    Interest::new(name("/picasso/svc/S1/index.html/seg=0"))
        .with_nonce(0x0102_0304)
        .with_lifetime_ms(4000)
}

fn data(content_len: usize) -> Data {
    Data::new(name("/picasso/svc/S1/index.html/v=1/seg=0"))
        .with_freshness_ms(10_000)
        .with_content(vec![0xA5u8; content_len])
}

/// The packets both this bench and `pyndn_decode.py` decode.
fn packets() -> Vec<(&'static str, Bytes)> {
    vec![
        ("interest", typical_interest().encode()),
        ("data_1k", data(1024).sign(&Signer::DigestSha256)),
        ("data_8k", data(8192).sign(&Signer::DigestSha256)),
        ("lp_interest", lp_interest()),
    ]
}

/// The typical Interest in an LpPacket with a PitToken, as NFD's UDP and
/// Ethernet faces send it.
fn lp_interest() -> Bytes {
    let mut p = LpPacket::wrap(typical_interest().encode());
    p.pit_token = Some(Bytes::from_static(&[
        0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6, 0x07, 0x18,
    ]));
    p.encode()
}

fn write_packets() {
    let dir = std::env::var_os("PICASSO_BENCH_PACKETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/codec-bench"));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("codec bench: cannot create {}: {e}", dir.display());
        return;
    }
    for (n, w) in packets() {
        let hex: String = w.iter().map(|b| format!("{b:02x}")).collect();
        let path = dir.join(format!("{n}.hex"));
        if let Err(e) = std::fs::write(&path, hex + "\n") {
            eprintln!("codec bench: cannot write {}: {e}", path.display());
        }
    }
}

fn bench_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    for (n, w) in packets() {
        if n.starts_with("interest") {
            g.bench_function(n, |b| b.iter(|| Interest::decode(black_box(w.clone()))));
        } else if n.starts_with("lp") {
            // The whole packet: headers and the Interest inside, as
            // pyndn_decode.py does on its side.
            g.bench_function(n, |b| {
                b.iter(|| {
                    let lp = LpPacket::decode(black_box(w.clone())).expect("valid LpPacket");
                    Interest::decode(lp.fragment.expect("has a fragment"))
                })
            });
        } else {
            g.bench_function(n, |b| b.iter(|| Data::decode(black_box(w.clone()))));
        }
    }
    g.finish();
}

fn bench_encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(1));
    let i = typical_interest();
    // `to_wire` on an Interest without a cached wire encodes afresh each time.
    g.bench_function("interest", |b| b.iter(|| black_box(&i).to_wire()));
    for (n, len) in [("data_1k_sign_digest", 1024), ("data_8k_sign_digest", 8192)] {
        let d = data(len);
        g.bench_function(n, |b| {
            b.iter_batched_ref(
                || d.clone(),
                |d| d.sign(&Signer::DigestSha256),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn hash_with<B: BuildHasher>(b: &B, n: &Name) -> u64 {
    b.hash_one(n)
}

fn bench_names(c: &mut Criterion) {
    let mut g = c.benchmark_group("name");
    g.throughput(Throughput::Elements(1));
    let n = name("/picasso/svc/S1/index.html/seg=0");
    let fib_prefix = name("/picasso/svc");
    let other = name("/picasso/node/n1");
    let sip = BuildHasherDefault::<DefaultHasher>::default();
    let fx = BuildHasherDefault::<FxHasher>::default();
    g.bench_function("hash_siphash", |b| {
        b.iter(|| hash_with(&sip, black_box(&n)))
    });
    g.bench_function("hash_fxhash", |b| b.iter(|| hash_with(&fx, black_box(&n))));
    // A longest-prefix match hashes every prefix of the name, longest first.
    g.bench_function("hash_all_prefixes_fxhash", |b| {
        b.iter(|| {
            let n = black_box(&n);
            (0..=n.len()).rev().fold(0u64, |acc, k| {
                let mut h = fx.build_hasher();
                h.write(n.prefix_value(k));
                acc ^ h.finish()
            })
        })
    });
    g.bench_function("prefix", |b| b.iter(|| black_box(&n).prefix(black_box(3))));
    g.bench_function("is_prefix_of", |b| {
        b.iter(|| {
            black_box(&fib_prefix).is_prefix_of(black_box(&n))
                && !black_box(&other).is_prefix_of(black_box(&n))
        })
    });
    g.finish();
}

fn bench_lp(c: &mut Criterion) {
    let mut g = c.benchmark_group("lp");
    g.throughput(Throughput::Elements(1));
    let w = lp_interest();
    let p = LpPacket::decode(w.clone()).expect("bench LpPacket decodes");
    g.bench_function("encode_interest", |b| b.iter(|| black_box(&p).encode()));
    // An 8 KiB Data over a 1400-octet MTU: 7 fragments, one packet per iteration.
    let big = data(8192).sign(&Signer::DigestSha256);
    let frags = lp::fragment_network_packet(big.clone(), 1400, 0).expect("fragments");
    g.bench_function("fragment_data_8k_mtu1400", |b| {
        b.iter(|| lp::fragment_network_packet(black_box(big.clone()), 1400, 0))
    });
    g.bench_function("decode_reassemble_data_8k_mtu1400", |b| {
        let mut r = Reassembler::new(ReassemblerConfig::default());
        let now = std::time::Instant::now();
        b.iter(|| {
            let mut out = None;
            for f in &frags {
                let lp = LpPacket::decode(f.clone()).expect("fragment decodes");
                if let Ok(Some(p)) = r.receive(0, lp, now) {
                    out = Some(p);
                }
            }
            out
        })
    });
    g.finish();
}

criterion_group!(benches, bench_decode, bench_encode, bench_names, bench_lp);

fn main() {
    write_packets();
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
