//! End-to-end tests of `picasso node` and `picasso keygen` as real
//! processes on 127.0.0.1 port 0 and temp-dir Unix sockets:
//!
//! - the node's `ready` line, its monitoring Data fetched with our
//!   `app::Client` and with python-ndn, the Ed25519 signature verified
//!   against the node's public key file, plausible values;
//! - `GET /metrics` serves Prometheus text;
//! - idle resident memory (printed; must stay ≤ 20 MB for a release build,
//!   ≤ 40 MB for the unoptimised test build);
//! - SIGTERM exits 0 and removes the socket file;
//! - keygen file formats, modes and refusal to overwrite.
//!
//! Python comes from `$PICASSO_PYTHON`, else `scripts/pyenv.sh`;
//! `PICASSO_SKIP_PYTHON=1` skips the python-ndn part.

#![forbid(unsafe_code)]

#[path = "support/fwd.rs"]
mod fwd;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Context};
use fwd::{Proc, PICASSO};
use picasso_agent::keys;
use picasso_agent::monitor::schema::MonitorReport;
use picasso_forwarder::app::{Client, FaceAddr};
use picasso_tlv::{Interest, KeyLocator, Name};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A running `picasso node` and where it listens.
struct NodeProc {
    proc: Proc,
    unix: PathBuf,
    metrics: SocketAddr,
    http: SocketAddr,
    key_hex: String,
}

fn start_node(dir: &Path, id: &str, extra: &[&str]) -> anyhow::Result<NodeProc> {
    let unix = dir.join("fwd.sock");
    let unix_s = unix.display().to_string();
    let data = dir.display().to_string();
    let mut args = vec![
        "node",
        "--id",
        id,
        "--data-dir",
        &data,
        "--fwd-unix",
        &unix_s,
        "--fwd-tcp",
        "127.0.0.1:0",
        "--fwd-udp",
        "",
        "--http",
        "127.0.0.1:0",
        "--metrics",
        "127.0.0.1:0",
        "--ip",
        "127.0.0.1",
    ];
    args.extend_from_slice(extra);
    let proc = Proc::start(&args, &[("RUST_LOG", "info")])?;
    let line = proc.line(Duration::from_secs(30))?;
    ensure!(
        line.starts_with("ready node="),
        "unexpected first line {line:?}"
    );
    let field = |k: &str| -> anyhow::Result<String> {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .map(str::to_owned)
            .with_context(|| format!("no {k} in {line:?}"))
    };
    ensure!(
        field("monitor=")? == format!("/picasso/node/{id}/monitor"),
        "{line}"
    );
    Ok(NodeProc {
        metrics: field("metrics=")?.parse()?,
        http: field("http=")?.parse()?,
        key_hex: field("key=")?,
        unix,
        proc,
    })
}

/// `GET path` over HTTP/1.1; returns (status, content-type, body).
fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let (head, body) = text.split_once("\r\n\r\n").context("no header end")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .context("no status")?
        .parse()?;
    let ctype = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_default();
    Ok((status, ctype, body.to_owned()))
}

fn check_report(r: &MonitorReport, id: &str) -> anyhow::Result<()> {
    ensure!(r.pi_id == id, "PiID {}", r.pi_id);
    ensure!(r.pi_ip == "127.0.0.1", "PiIP {}", r.pi_ip);
    ensure!(r.soft_resources.os == "Linux", "{:?}", r.soft_resources);
    ensure!(r.node.mem_total_bytes > 0, "{:?}", r.node);
    ensure!(r.node.cpu_cores >= 1, "{:?}", r.node);
    ensure!(r.node.disk_total_bytes > 0, "{:?}", r.node);
    ensure!(
        r.resource_usage
            .mem_usage()
            .is_some_and(|m| m > 0.0 && m <= 100.0),
        "{:?}",
        r.resource_usage
    );
    ensure!(
        r.resource_usage.cpu_load().is_some(),
        "{:?}",
        r.resource_usage
    );
    ensure!(
        r.resource_usage.cpu_usage().is_some(),
        "{:?}",
        r.resource_usage
    );
    ensure!(r.hard_resources.mem.ends_with(" GB") || r.hard_resources.mem.ends_with(" MB"));
    ensure!(r.interval_ms == 1000, "{}", r.interval_ms);
    ensure!(
        ["docker", "process"].contains(&r.runtime.as_str()),
        "{}",
        r.runtime
    );
    Ok(())
}

#[test]
fn node_serves_signed_monitoring_data_metrics_and_stops_on_sigterm() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut node = start_node(dir.path(), "SEG_1", &[])?;
    // The key was generated in the data dir, and the ready line names it.
    let pub_file = dir.path().join("node.key.pub");
    let verifier = keys::load_public_key(&pub_file)?;
    ensure!(std::fs::read_to_string(&pub_file)?.trim() == node.key_hex);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let name = Name::from_uri("/picasso/node/SEG_1/monitor")?;
    let (first, second) = rt.block_on(async {
        let client = Client::connect(&FaceAddr::Unix(node.unix.clone())).await?;
        let ask = || {
            Interest::new(name.clone())
                .with_can_be_prefix(true)
                .with_must_be_fresh(true)
                .with_lifetime_ms(4000)
        };
        let first = client.express(ask()).await?;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let second = client.express(ask()).await?;
        anyhow::Ok((first, second))
    })?;
    for d in [&first, &second] {
        d.verify(&verifier)
            .map_err(|e| anyhow::anyhow!("signature: {e:?}"))?;
        ensure!(d.freshness_ms() == Some(1000), "{:?}", d.freshness_ms());
        ensure!(
            d.signature_info().key_locator
                == Some(KeyLocator::Name(Name::from_uri("/picasso/node/SEG_1/KEY")?)),
            "{:?}",
            d.signature_info().key_locator
        );
        ensure!(name.is_prefix_of(d.name()) && d.name().len() == name.len() + 2);
    }
    let r1 = MonitorReport::from_json(&first.content())?;
    let r2 = MonitorReport::from_json(&second.content())?;
    check_report(&r1, "SEG_1")?;
    check_report(&r2, "SEG_1")?;
    ensure!(r2.timestamp > r1.timestamp, "a fresh sample after 1.5 s");
    // The paper's keys are strings in the JSON itself.
    let v: serde_json::Value = serde_json::from_slice(&second.content())?;
    for k in ["cpuLoad", "memUsage", "cpuUsage"] {
        ensure!(
            v["resourceUsage"][k].is_string(),
            "{k}: {}",
            v["resourceUsage"][k]
        );
    }

    // python-ndn fetches and verifies it with its own Ed25519 verifier.
    if let Some(py) = fwd::python("the python-ndn fetch") {
        let out = Command::new(py)
            .arg(Path::new(ROOT).join("tests/interop/monitor_fetch.py"))
            .arg("/picasso/node/SEG_1/monitor")
            .arg(&node.key_hex)
            .env(
                "NDN_CLIENT_TRANSPORT",
                format!("unix://{}", node.unix.display()),
            )
            .output()?;
        ensure!(
            out.status.success(),
            "python-ndn fetch failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        ensure!(v["verified"] == true, "{v}");
        ensure!(v["freshness"] == 1000, "{v}");
        ensure!(v["keyLocator"] == "/picasso/node/SEG_1/KEY", "{v}");
        let r: MonitorReport = serde_json::from_value(v["report"].clone())?;
        check_report(&r, "SEG_1")?;
    }

    // Prometheus text.
    let (status, ctype, body) = http_get(node.metrics, "/metrics")?;
    ensure!(status == 200, "{status}");
    ensure!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    ensure!(
        body.contains("# TYPE picasso_node_memory_total_bytes gauge"),
        "{body}"
    );
    let mem: f64 = body
        .lines()
        .find_map(|l| l.strip_prefix("picasso_node_memory_total_bytes{node=\"SEG_1\"} "))
        .context("no memory gauge")?
        .parse()?;
    ensure!(mem > 0.0);
    ensure!(body.contains("process_resident_memory_bytes "), "{body}");
    ensure!(http_get(node.metrics, "/other")?.0 == 404);
    // The ingress answers (no service: 503 Nack NoRoute or 504).
    let (status, _, _) = http_get(node.http, "/nosuch/x")?;
    ensure!(status == 503 || status == 504, "ingress status {status}");

    // Idle memory.
    std::thread::sleep(Duration::from_secs(2));
    let rss = node.proc.rss_kb()?;
    eprintln!("picasso node idle RSS: {rss} kB (debug build)");
    ensure!(rss <= 40 * 1024, "idle RSS {rss} kB");

    let status = node.proc.terminate(Duration::from_secs(10))?;
    ensure!(status.code() == Some(0), "exit status {status}");
    ensure!(!node.unix.exists(), "socket file left behind");
    ensure!(
        node.proc.stderr_text().contains("node stopped"),
        "{}",
        node.proc.stderr_text()
    );
    Ok(())
}

#[test]
fn node_attaches_to_an_external_forwarder() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let fwd = fwd::Fwd::start(dir.path(), "ext", &[])?;
    let data = dir.path().join("data").display().to_string();
    let face = fwd.unix_face();
    let mut node = Proc::start(
        &[
            "node",
            "--id",
            "ext1",
            "--data-dir",
            &data,
            "--external-fwd",
            &face,
            "--http",
            "",
            "--metrics",
            "",
            "--runtime",
            "process",
        ],
        &[("RUST_LOG", "info")],
    )?;
    let line = node.line(Duration::from_secs(30))?;
    ensure!(line.contains(&format!("fwd={face}")), "{line}");
    ensure!(line.contains("runtime=process"), "{line}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let d = rt.block_on(async {
        let client = Client::connect(&FaceAddr::Unix(fwd.unix.clone())).await?;
        // No CanBePrefix: the one-packet Data named exactly like the Interest.
        let i = Interest::new(Name::from_uri("/picasso/node/ext1/monitor")?)
            .with_must_be_fresh(true)
            .with_lifetime_ms(4000);
        anyhow::Ok(client.express(i).await?)
    })?;
    ensure!(d.name().to_uri() == "/picasso/node/ext1/monitor");
    d.verify(&keys::load_public_key(
        &Path::new(&data).join("node.key.pub"),
    )?)
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let r = MonitorReport::from_json(&d.content())?;
    ensure!(r.pi_id == "ext1" && r.runtime == "process", "{r:?}");
    let status = node.terminate(Duration::from_secs(10))?;
    ensure!(status.code() == Some(0), "exit status {status}");
    Ok(())
}

#[test]
fn keygen_writes_hex_files_and_refuses_to_overwrite() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("orch.key");
    let run = |args: &[&str]| Command::new(PICASSO).args(args).output();
    let o = run(&["keygen", "--out", out.to_str().context("path")?])?;
    ensure!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let printed = String::from_utf8(o.stdout)?.trim().to_owned();
    let seed = std::fs::read_to_string(&out)?;
    let public = std::fs::read_to_string(keys::public_path(&out))?;
    ensure!(seed.len() == 65 && seed.ends_with('\n'), "{seed:?}");
    ensure!(hex::decode(seed.trim())?.len() == 32);
    ensure!(
        public.trim() == printed && printed.len() == 64,
        "{public:?}"
    );
    ensure!(std::fs::metadata(&out)?.permissions().mode() & 0o777 == 0o600);
    let pair = keys::load_key_pair(&out)?;
    ensure!(pair.public_hex() == printed);

    let o = run(&["keygen", "--out", out.to_str().context("path")?])?;
    ensure!(!o.status.success(), "overwrote without --force");
    ensure!(
        String::from_utf8_lossy(&o.stderr).contains("exists (use --force"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    ensure!(
        std::fs::read_to_string(&out)? == seed,
        "changed without --force"
    );
    let o = run(&["keygen", "--out", out.to_str().context("path")?, "--force"])?;
    ensure!(o.status.success());
    ensure!(
        std::fs::read_to_string(&out)? != seed,
        "--force did not overwrite"
    );
    Ok(())
}

/// Sends `verb` to node `id` as the orchestrator would and returns the JSON reply.
fn command(
    unix: &Path,
    id: &str,
    verb: &str,
    signer: &picasso_tlv::Signer,
) -> anyhow::Result<serde_json::Value> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let client = Client::connect(&FaceAddr::Unix(unix.to_path_buf())).await?;
        let root = Name::from_uri("/picasso")?;
        let i = picasso_agent::exec::signed_command(
            &root,
            id,
            verb,
            b"{}",
            signer,
            Duration::from_secs(10),
        );
        let d = client.express(i).await?;
        anyhow::Ok(serde_json::from_slice(&d.content())?)
    })
}

#[test]
fn node_obeys_its_orchestrator_and_refuses_everyone_else() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let orch_key = dir.path().join("orch.key");
    let orch = keys::generate_key_files(&orch_key, false)?;
    let orch_pub = keys::public_path(&orch_key).display().to_string();
    let node = start_node(
        dir.path(),
        "n7",
        &["--orchestrator-key", &orch_pub, "--runtime", "process"],
    )?;
    let key_name = Name::from_uri("/picasso/orchestrator/KEY")?;
    // The orchestrator's signed `list` is obeyed.
    let reply = command(&node.unix, "n7", "list", &orch.signer(key_name.clone()))?;
    ensure!(reply["node"] == "n7", "{reply}");
    ensure!(reply["containers"].is_array(), "{reply}");
    // A command signed by another key is refused with a reason.
    let forger = keys::KeyPair::generate();
    let reply = command(&node.unix, "n7", "list", &forger.signer(key_name))?;
    ensure!(reply["error"] == "refused", "{reply}");
    drop(node);

    // A node without the orchestrator's key refuses every command.
    let dir2 = tempfile::tempdir()?;
    let node = start_node(dir2.path(), "n8", &["--runtime", "process"])?;
    let reply = command(
        &node.unix,
        "n8",
        "list",
        &orch.signer(Name::from_uri("/picasso/orchestrator/KEY")?),
    )?;
    ensure!(reply["error"] == "refused", "{reply}");
    ensure!(
        reply["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no orchestrator key")),
        "{reply}"
    );
    Ok(())
}
