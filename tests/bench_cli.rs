//! `picasso bench http|ndn` as a user runs it: against a tiny HTTP/1.1
//! server on 127.0.0.1 and a real `picasso fwd`; the JSON report's fields,
//! the human summary, and bad flags refused with the flag named.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[path = "support/fwd.rs"]
mod support;
use support::{run, Fwd};

/// An HTTP/1.1 keep-alive server answering every request `200 ok`,
/// counting connections and requests (threads, std only).
fn http_server() -> (SocketAddr, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let reqs = Arc::new(AtomicUsize::new(0));
    let (c, r) = (conns.clone(), reqs.clone());
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(s) = s else { return };
            c.fetch_add(1, Ordering::SeqCst);
            let r = r.clone();
            std::thread::spawn(move || {
                let mut w = s.try_clone().unwrap();
                let mut rd = BufReader::new(s);
                let mut line = String::new();
                loop {
                    // Read one request head (no bodies in these tests).
                    let mut close = false;
                    loop {
                        line.clear();
                        match rd.read_line(&mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        if line.to_ascii_lowercase().starts_with("connection: close") {
                            close = true;
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    r.fetch_add(1, Ordering::SeqCst);
                    if w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .is_err()
                        || close
                    {
                        return;
                    }
                }
            });
        }
    });
    (addr, conns, reqs)
}

fn json(out: Vec<u8>) -> serde_json::Value {
    serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out));
    })
}

const T: Duration = Duration::from_secs(60);

#[test]
fn http_json_report_and_summary() -> anyhow::Result<()> {
    let (addr, conns, reqs) = http_server();
    let url = format!("http://{addr}/index.html");
    let r = json(run(
        &["bench", "http", &url, "-c", "3", "-n", "30", "--json"],
        T,
    )?);
    assert_eq!(r["requests"], 30);
    assert_eq!(r["successes"], 30);
    assert_eq!(r["successRate"], 1.0);
    assert_eq!(r["concurrency"], 3);
    assert_eq!(r["bytes"], 60);
    assert_eq!(r["failures"], serde_json::json!({}));
    assert_eq!(r["keepAlive"], true);
    for k in [
        "meanMs",
        "p50Ms",
        "p95Ms",
        "p99Ms",
        "maxMs",
        "throughput",
        "durationSec",
    ] {
        assert!(r[k].as_f64().is_some_and(|v| v > 0.0), "{k} in {r}");
    }
    assert_eq!(conns.load(Ordering::SeqCst), 3, "one connection per user");
    assert_eq!(reqs.load(Ordering::SeqCst), 30);

    let out = run(
        &[
            "bench",
            "http",
            &url,
            "-c",
            "2",
            "-n",
            "8",
            "--no-keep-alive",
        ],
        T,
    )?;
    let text = String::from_utf8(out)?;
    assert!(text.contains("Complete requests:      8\n"), "{text}");
    assert!(
        text.contains("Successful requests:    8 (100.00%)"),
        "{text}"
    );
    assert!(text.contains("(a connection per request)"), "{text}");
    assert_eq!(conns.load(Ordering::SeqCst), 3 + 8);
    Ok(())
}

#[test]
fn bad_flags_are_refused_naming_the_flag() {
    let url = "http://127.0.0.1:9/";
    for (args, flag) in [
        (vec!["-c", "0", "-n", "1"], "--concurrency"),
        (vec!["-c", "5", "-n", "2"], "-c/--concurrency"),
        (vec!["-c", "1"], "--requests"),
        (vec!["-n", "0"], "--requests"),
        (vec!["--duration", "0"], "--duration"),
        (vec!["--duration", "soon"], "--duration"),
        (vec!["-n", "1", "--timeout-ms", "0"], "--timeout-ms"),
        (vec!["-n", "1", "--bogus"], "--bogus"),
    ] {
        let mut all = vec!["bench", "http", url];
        all.extend(&args);
        let e = run(&all, T).expect_err("must fail").to_string();
        assert!(e.contains(flag), "{args:?}: {e}");
    }
    let e = run(&["bench", "http", "ftp://127.0.0.1/", "-n", "1"], T)
        .unwrap_err()
        .to_string();
    assert!(e.contains("invalid URL") && e.contains("ftp"), "{e}");
    let e = run(
        &[
            "bench",
            "ndn",
            "/picasso/svc/x",
            "--fwd",
            "pipe:x",
            "-n",
            "1",
        ],
        T,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("pipe:x"), "{e}");
    let e = run(
        &[
            "bench",
            "ndn",
            "/picasso/svc/x",
            "--fwd",
            "unix:/nonexistent/fwd.sock",
            "-n",
            "1",
        ],
        T,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("cannot connect to the forwarder"), "{e}");
}

#[test]
fn ndn_through_a_forwarder_that_has_no_route() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let fwd = Fwd::start(dir.path(), "f", &[])?;
    let r = json(run(
        &[
            "bench",
            "ndn",
            "/picasso/svc/nowhere/index.html",
            "--fwd",
            &fwd.unix_face(),
            "-c",
            "4",
            "-n",
            "40",
            "--json",
        ],
        T,
    )?);
    assert_eq!(r["protocol"], "ndn");
    assert_eq!(r["requests"], 40);
    assert_eq!(r["successes"], 0);
    assert_eq!(r["failures"], serde_json::json!({"nackNoRoute": 40}));
    assert_eq!(r["p50Ms"], serde_json::Value::Null);
    Ok(())
}

/// `bench image-fetch` both ways: as a node (an embedded forwarder, the
/// publisher in a child process) and through a running forwarder. Every
/// run fetches the whole file; the scratch space is gone afterwards.
#[test]
fn image_fetch_as_a_node_and_through_a_running_forwarder() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("image.tar");
    let size = 300_001usize;
    std::fs::write(
        &file,
        (0..size).map(|i| (i % 253) as u8).collect::<Vec<u8>>(),
    )?;
    let out = dir.path().join("out");
    let fwd = Fwd::start(dir.path(), "f", &[])?;
    let face = fwd.unix_face();
    let file_arg = file.display().to_string();
    let out_arg = out.display().to_string();
    let base = [
        "bench",
        "image-fetch",
        "--file",
        &file_arg,
        "--dir",
        &out_arg,
        "--runs",
        "2",
    ];
    for (extra, fetcher) in [
        (vec![], "in-process face of an embedded forwarder"),
        (vec!["--fwd", face.as_str()], "unix face"),
    ] {
        let extra_is_empty = extra.is_empty();
        let mut args = base.to_vec();
        args.extend(extra);
        let text = String::from_utf8(run(&args, T)?)?;
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        for (run, r) in lines.iter().enumerate() {
            assert_eq!(r["run"], run, "{r}");
            assert_eq!(r["bytes"], size, "{r}");
            assert!(r["mbPerSec"].as_f64().unwrap() > 0.0, "{r}");
            assert_eq!(r["fetcher"], fetcher, "{r}");
            // CPU figures: this process always; the repo's when it is a
            // process of its own.
            let cpu = &r["cpuSeconds"];
            assert!(cpu["fetcherProcess"].as_f64().unwrap() >= 0.0, "{r}");
            assert_eq!(cpu["repoProcess"].is_number(), extra_is_empty, "{r}");
            assert!(cpu["verify"].as_f64().unwrap() > 0.0, "{r}");
        }
        assert_eq!(
            std::fs::read_dir(&out)?.count(),
            0,
            "scratch space left behind"
        );
    }
    Ok(())
}
