//! End-to-end tests of `picasso fwd`, `put` and `get` as real processes on
//! 127.0.0.1 port 0 and temp-dir Unix sockets:
//!
//! - SIGTERM exits 0 and removes the socket file;
//! - two forwarders peer over UDP (`--neighbor udp://…`, routing learns
//!   the route) and a file served with `picasso put` on one is fetched
//!   byte for byte with `picasso get` on the other;
//! - bounded resources: a flood of distinct-name Interests keeps the
//!   forwarder's memory under a bound while another consumer is served; a
//!   face that never reads drops and counts instead of stalling the
//!   others; malformed packets are dropped and counted, never a panic.
//!
//! The flood sends `PICASSO_FLOOD_INTERESTS` Interests (default 1 000 000)
//! for at most 10 s; the debug build sends them all in about 8 s on an idle
//! machine, a release build in under 2 s. The test prints how many went out.

#![forbid(unsafe_code)]

#[path = "support/fwd.rs"]
mod fwd;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use fwd::{Fwd, Proc, PICASSO};
use picasso_forwarder::app::{Client, FaceAddr};
use picasso_tlv::{Data, Interest, Name, Signer};

use fwd::run as run_bounded;

#[test]
fn sigterm_exits_cleanly_and_removes_the_socket() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut f = Fwd::start(dir.path(), "term", &[])?;
    ensure!(f.unix.exists(), "socket file not created");
    ensure!(f.tcp.is_some_and(|a| a.port() != 0), "no tcp port");
    // A connected client must not keep it from stopping.
    let _conn = UnixStream::connect(&f.unix)?;
    let status = f.proc.terminate(Duration::from_secs(10))?;
    ensure!(status.code() == Some(0), "exit status {status}");
    ensure!(!f.unix.exists(), "socket file left behind");
    ensure!(
        f.proc.stderr_text().contains("forwarder stopped"),
        "{}",
        f.proc.stderr_text()
    );
    Ok(())
}

#[test]
fn a_config_file_is_read_and_flags_override_it() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("fwd.toml");
    std::fs::write(
        &config,
        "tcp = \"\"\nudp = \"127.0.0.1:0\"\n[limits]\npit-entries = 100\n\
         [[strategy]]\nprefix = \"/m\"\nstrategy = \"/localhost/nfd/strategy/multicast\"\n",
    )?;
    let sock = dir.path().join("c.sock");
    let p = Proc::start(
        &[
            "fwd",
            "--config",
            &config.display().to_string(),
            "--unix",
            &sock.display().to_string(),
        ],
        &[],
    )?;
    let line = p.line(Duration::from_secs(20))?;
    ensure!(line.contains("unix="), "{line}");
    ensure!(!line.contains("tcp="), "tcp should be disabled: {line}");
    ensure!(line.contains("udp=127.0.0.1:"), "{line}");
    // A bad config is an error naming the key.
    std::fs::write(&config, "bogus = 1\n")?;
    let out = Command::new(PICASSO)
        .args(["fwd", "--config", &config.display().to_string()])
        .output()?;
    ensure!(!out.status.success());
    ensure!(
        String::from_utf8_lossy(&out.stderr).contains("bogus"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[test]
fn two_forwarders_peer_over_udp_and_route_between_them() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let a = Fwd::start(dir.path(), "a", &[])?;
    let a_udp = a.udp.context("a has no udp")?;
    let neighbor = format!("udp://{a_udp}");
    let b = Fwd::start(dir.path(), "b", &["--neighbor", &neighbor])?;

    // 150 kB of varied bytes: ~19 segments, each fragmented over UDP.
    let content: Vec<u8> = (0..150_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let file = dir.path().join("blob.bin");
    std::fs::write(&file, &content)?;
    let put = Proc::start(
        &[
            "put",
            "--fwd",
            &a.unix_face(),
            "/picasso/test/blob",
            &file.display().to_string(),
        ],
        &[],
    )?;
    let line = put.line(Duration::from_secs(20))?;
    ensure!(line.starts_with("serving /picasso/test/blob/v="), "{line}");
    // b configured a by address only: no static route, the router learns
    // a's name by probing and installs the route to what a serves.
    let took = fwd::wait_until(Duration::from_secs(5), "route on b", || {
        b.has_route("/picasso/test/blob")
    })?;
    println!("route to a's prefix on b after {took:?}");

    let got = run_bounded(
        &[
            "get",
            "--fwd",
            &b.unix_face(),
            "--lifetime-ms",
            "1000",
            "--retries",
            "5",
            "/picasso/test/blob",
        ],
        Duration::from_secs(60),
    )?;
    ensure!(got.len() == content.len(), "got {} bytes", got.len());
    ensure!(got == content, "content differs");

    // The same over UDP and TCP faces to the forwarder.
    let via_udp = run_bounded(
        &[
            "get",
            "--fwd",
            &format!("udp:{}", b.udp.context("b has no udp")?),
            "/picasso/test/blob",
        ],
        Duration::from_secs(60),
    )?;
    ensure!(via_udp == content, "udp fetch differs");
    let via_tcp = run_bounded(
        &[
            "get",
            "--fwd",
            &format!("tcp:{}", a.tcp.context("a has no tcp")?),
            "/picasso/test/blob",
        ],
        Duration::from_secs(60),
    )?;
    ensure!(via_tcp == content, "tcp fetch differs");
    Ok(())
}

#[test]
fn put_with_an_ed25519_key_and_get_verifying_it() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let f = Fwd::start(dir.path(), "k", &[])?;
    let seed = [7u8; 32];
    let key = dir.path().join("key.hex");
    std::fs::write(&key, hex::encode(seed))?;
    let public = match Signer::ed25519_from_seed(&seed, Name::from_uri("/k")?)? {
        Signer::Ed25519 { key, .. } => key.verifying_key().to_bytes(),
        _ => anyhow::bail!("not ed25519"),
    };
    let pubfile = dir.path().join("key.pub");
    std::fs::write(&pubfile, hex::encode(public))?;
    let wrong = dir.path().join("wrong.pub");
    let wrong_key = match Signer::ed25519_from_seed(&[9u8; 32], Name::from_uri("/k")?)? {
        Signer::Ed25519 { key, .. } => key.verifying_key().to_bytes(),
        _ => anyhow::bail!("not ed25519"),
    };
    std::fs::write(&wrong, hex::encode(wrong_key))?;
    let file = dir.path().join("small.txt");
    std::fs::write(&file, b"signed hello\n")?;
    let put = Proc::start(
        &[
            "put",
            "--fwd",
            &f.unix_face(),
            "--key",
            &key.display().to_string(),
            "/signed/file",
            &file.display().to_string(),
        ],
        &[],
    )?;
    put.line(Duration::from_secs(20))?;
    let got = run_bounded(
        &[
            "get",
            "--fwd",
            &f.unix_face(),
            "--verify-key",
            &pubfile.display().to_string(),
            "/signed/file",
        ],
        Duration::from_secs(30),
    )?;
    ensure!(got == b"signed hello\n", "{got:?}");
    let bad = run_bounded(
        &[
            "get",
            "--fwd",
            &f.unix_face(),
            "--verify-key",
            &wrong.display().to_string(),
            "/signed/file",
        ],
        Duration::from_secs(30),
    );
    ensure!(
        bad.as_ref()
            .is_err_and(|e| e.to_string().contains("bad signature")),
        "{bad:?}"
    );
    Ok(())
}

fn interest_wire(name: &str, nonce: u32) -> bytes::Bytes {
    let mut i = Interest::new(Name::from_uri(name).unwrap_or_default())
        .with_nonce(nonce)
        .with_lifetime_ms(4000);
    i.encode()
}

/// Reads one TLV frame from a blocking stream.
fn read_frame(s: &mut UnixStream) -> anyhow::Result<bytes::Bytes> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(n) = picasso_tlv::wire::frame_len(&buf)? {
            return Ok(bytes::Bytes::copy_from_slice(&buf[..n]));
        }
        let n = s.read(&mut chunk)?;
        ensure!(n > 0, "stream closed");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[test]
fn bounded_resources_under_flood_slow_faces_and_malformed_packets() -> anyhow::Result<()> {
    // The bound for the limits configured below (10 000 PIT entries of
    // ~2.5 kB each with their Interests, a 4 MB content store, queues).
    const RSS_BOUND_KB: u64 = 64 * 1024;
    let flood_count: u64 = std::env::var("PICASSO_FLOOD_INTERESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("fwd.toml");
    std::fs::write(
        &config,
        "[limits]\npit-entries = 10000\ncs-entries = 2000\ncs-bytes = 4194304\n\
         dead-nonces = 20000\n",
    )?;
    let unix = dir.path().join("flood.sock");
    let fwd = Proc::start(
        &[
            "fwd",
            "--config",
            &config.display().to_string(),
            "--unix",
            &unix.display().to_string(),
            "--tcp",
            "",
            "--udp",
            "127.0.0.1:0",
        ],
        &[("RUST_LOG", "info,picasso_forwarder::runtime=debug")],
    )?;
    let ready = fwd.line(Duration::from_secs(20))?;
    let udp_addr: std::net::SocketAddr = ready
        .split_whitespace()
        .find_map(|w| w.strip_prefix("udp="))
        .context("no udp")?
        .parse()?;
    let idle_rss = fwd.rss_kb()?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let addr = FaceAddr::Unix(unix.clone());
    let (producer, silent, consumer) = rt.block_on(async {
        let producer = Client::connect(&addr).await?;
        producer
            .register(Name::from_uri("/good")?, |i: Interest| async move {
                let mut d = Data::new(i.name().clone()).with_content(&b"ok"[..]);
                d.sign(&Signer::DigestSha256);
                Some(d)
            })
            .await?;
        let silent = Client::connect(&addr).await?;
        silent
            .register(Name::from_uri("/silent")?, |_i: Interest| async move {
                None::<Data>
            })
            .await?;
        let consumer = Client::connect(&addr).await?;
        anyhow::Ok((producer, silent, consumer))
    })?;

    // Malformed packets on a stream face: dropped, and the face keeps working.
    let mut bad = UnixStream::connect(&unix)?;
    bad.set_read_timeout(Some(Duration::from_secs(5)))?;
    bad.write_all(&[0x05, 0x03, 0xff, 0xff, 0xff])?; // an Interest that is not one
    bad.write_all(&[0x06, 0x02, 0x07, 0x09])?; // a Data with a truncated Name
    bad.write_all(&[0x64, 0x02, 0x50, 0x05])?; // an LpPacket with a bad fragment
    bad.write_all(&interest_wire("/good/after-malformed", 1))?;
    let reply = Data::decode(read_frame(&mut bad)?)?;
    ensure!(reply.name().to_uri() == "/good/after-malformed");
    // And on a UDP face.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0")?;
    udp.set_read_timeout(Some(Duration::from_secs(5)))?;
    udp.send_to(&[0x05, 0x01], udp_addr)?;
    udp.send_to(&[0xff; 10], udp_addr)?;
    udp.send_to(&interest_wire("/good/udp-after-malformed", 2), udp_addr)?;
    let mut buf = [0u8; 9000];
    let n = udp.recv(&mut buf)?;
    let reply = Data::decode(bytes::Bytes::copy_from_slice(&buf[..n]))?;
    ensure!(reply.name().to_uri() == "/good/udp-after-malformed");

    // A face that never reads: its Data piles up and must be dropped.
    let mut slow = UnixStream::connect(&unix)?;
    let mut batch = Vec::new();
    for k in 0..20_000u32 {
        batch.extend_from_slice(&interest_wire(&format!("/good/slow/{k}"), k));
    }
    slow.set_write_timeout(Some(Duration::from_secs(10)))?;
    slow.write_all(&batch)?;
    // Let the producer answer the burst (that is not what is measured: a
    // producer face that cannot keep up drops too); the slow face keeps
    // not reading for the rest of the test.
    std::thread::sleep(Duration::from_secs(2));

    // The flood: distinct names under a prefix whose producer never answers.
    let done = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let flood = {
        let unix = unix.clone();
        let sent = sent.clone();
        let done = done.clone();
        std::thread::spawn(move || -> anyhow::Result<()> {
            let mut s = UnixStream::connect(&unix)?;
            s.set_write_timeout(Some(Duration::from_secs(5)))?;
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut k = 0u64;
            let mut buf = Vec::with_capacity(64 * 1024);
            while k < flood_count && Instant::now() < deadline {
                buf.clear();
                for _ in 0..1000 {
                    buf.extend_from_slice(&interest_wire(&format!("/silent/{k}"), k as u32));
                    k += 1;
                }
                s.write_all(&buf)?;
                sent.store(k, Ordering::Relaxed);
            }
            done.store(true, Ordering::Relaxed);
            // Keep the face open a moment so its PIT entries are live while measured.
            std::thread::sleep(Duration::from_millis(300));
            Ok(())
        })
    };
    let pid = fwd.pid();
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut max = 0;
            while !done.load(Ordering::Relaxed) {
                max = max.max(fwd::rss_kb(pid).unwrap_or(0));
                std::thread::sleep(Duration::from_millis(50));
            }
            max.max(fwd::rss_kb(pid).unwrap_or(0))
        })
    };
    // Meanwhile another consumer keeps being served.
    let (ok, failed, worst) = rt.block_on(async {
        let (mut ok, mut failed, mut worst) = (0u64, 0u64, Duration::ZERO);
        let mut k = 0u64;
        let start = Instant::now();
        while !done.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(30) {
            let t = Instant::now();
            let i = Interest::new(Name::from_uri(&format!("/good/c/{k}"))?).with_lifetime_ms(2000);
            k += 1;
            match consumer.express(i).await {
                Ok(_) => ok += 1,
                Err(e) => {
                    eprintln!(
                        "consumer Interest {k} failed after {:?}: {e}",
                        start.elapsed()
                    );
                    failed += 1
                }
            }
            worst = worst.max(t.elapsed());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        anyhow::Ok((ok, failed, worst))
    })?;
    flood
        .join()
        .map_err(|_| anyhow::anyhow!("flood thread panicked"))??;
    let max_rss = sampler.join().unwrap_or(0);
    let flooded = sent.load(Ordering::Relaxed);
    eprintln!(
        "flood: {flooded} Interests sent; consumer {ok} ok / {failed} failed, worst {worst:?}; \
         RSS idle {idle_rss} kB, max {max_rss} kB"
    );
    ensure!(flooded >= 20_000, "the flood only sent {flooded} Interests");
    ensure!(
        ok >= 20 && failed * 20 <= ok,
        "consumer starved: {ok} ok, {failed} failed"
    );
    ensure!(
        max_rss < RSS_BOUND_KB,
        "RSS {max_rss} kB over the {RSS_BOUND_KB} kB bound"
    );

    // Closing the slow and malformed faces logs their drop counters.
    drop(slow);
    drop(bad);
    std::thread::sleep(Duration::from_millis(500));
    // The forwarder is still alive and serving.
    let still = rt.block_on(async {
        consumer
            .express(Interest::new(Name::from_uri("/good/final")?).with_lifetime_ms(2000))
            .await
            .map_err(anyhow::Error::from)
    })?;
    ensure!(still.content().as_ref() == b"ok");
    let log = fwd.stderr_text();
    ensure!(
        log.matches("dropped a malformed packet").count() >= 3,
        "malformed packets not counted:\n{log}"
    );
    let face_drops: Vec<u64> = log
        .lines()
        .filter(|l| l.contains("face down"))
        .filter_map(|l| l.split("drops=").nth(1))
        .filter_map(|v| v.split_whitespace().next()?.parse().ok())
        .collect();
    ensure!(
        face_drops.iter().any(|&d| d > 1000),
        "no face dropped what it could not send: {face_drops:?}\n{log}"
    );
    ensure!(!log.contains("panicked"), "{log}");
    drop((producer, silent));
    Ok(())
}

#[test]
fn bench_ping_prints_the_json_report_through_a_forwarder_and_direct() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let f = Fwd::start(dir.path(), "bench", &[])?;
    let fwd_face = f.unix_face();
    let udp_face = format!("udp:{}", f.udp.context("no udp")?);
    let runs: [&[&str]; 4] = [
        &["--fwd", &fwd_face],
        &["--fwd", &udp_face, "--producer-fwd", &fwd_face],
        &["--direct"],
        &["--direct", "--transport", "udp"],
    ];
    for extra in runs {
        let mut args = vec![
            "bench",
            "ping",
            "--consumers",
            "2",
            "--duration",
            "0.3",
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = run_bounded(&args, Duration::from_secs(30))?;
        let v: serde_json::Value = serde_json::from_slice(&out)
            .with_context(|| format!("{args:?}: {}", String::from_utf8_lossy(&out)))?;
        for key in ["exchangesPerSec", "p50Us", "p99Us", "timeouts", "nacks"] {
            ensure!(
                v.get(key).is_some_and(|x| x.is_number()),
                "{args:?}: no {key} in {v}"
            );
        }
        ensure!(
            v["exchangesPerSec"].as_f64().unwrap_or(0.0) > 10.0,
            "{args:?}: {v}"
        );
        ensure!(v["p99Us"].as_u64() >= v["p50Us"].as_u64(), "{args:?}: {v}");
    }
    Ok(())
}
