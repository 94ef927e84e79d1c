//! End-to-end tests of `picasso orchestrator` and its CLI with real
//! processes on 127.0.0.1: an orchestrator and three `picasso node
//! --runtime process`, linked by UDP neighbours (each node names the
//! orchestrator's UDP address), each with its own data dir and ports.
//!
//! The service runs as a local process (`python3 -m http.server`, bound
//! to the `$HOST`/`$PORT` the process runtime gives it); its "image" is a
//! small `docker save`-shaped archive the nodes fetch from the repo by
//! name, as they would a real one.
//!
//! - `repo add` → nothing runs (the spec's minimum is 0) → `deploy` → a
//!   request to another node's HTTP ingress is answered by the service;
//! - `scale S 2` puts the replicas on distinct nodes;
//! - a node stopped: `status --json` shows it unreachable and its replica
//!   comes back on the third node, answering;
//! - the orchestrator restarted on the same data dir resumes: no new
//!   deployment, no duplicate replica;
//! - bad specs and API input are refused naming the field, non-zero exit;
//! - a process that is not an enrolled node answering its monitor name
//!   with reports signed by another key is counted as forged and ignored;
//! - an orchestrator SIGKILLed right after writing the desired state of
//!   `scale S 2` finishes the deployment once restarted, no duplicate;
//! - a node cut off (SIGSTOP) is replaced; reconnected (SIGCONT), its old
//!   replica is removed: two replicas, two servers.
//!
//! It prints the reaction times it observed (scale → the new replica
//! answering, node stopped → its replacement answering) beside the cold
//! first deployment of the run.

#![forbid(unsafe_code)]

#[path = "support/fwd.rs"]
mod fwd;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use fwd::{run, wait_until, Proc};
use serde_json::{json, Value};

const SERVICE: &str = "orchweb";
const IMAGE: &str = "orch-test-web";
const LONG: Duration = Duration::from_secs(90);

/// A running `picasso node` and where it listens.
struct NodeProc {
    id: String,
    proc: Option<Proc>,
    http: SocketAddr,
}

/// A running orchestrator.
struct OrchProc {
    proc: Proc,
    api: String,
}

fn field(line: &str, k: &str) -> anyhow::Result<String> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(k))
        .map(str::to_owned)
        .with_context(|| format!("no {k} in {line:?}"))
}

fn free_udp_port() -> anyhow::Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn keygen(path: &Path) -> anyhow::Result<()> {
    run(
        &["keygen", "--out", &path.display().to_string()],
        Duration::from_secs(10),
    )?;
    Ok(())
}

/// A base port with a free block of 128 ports above it.
fn free_port_base() -> anyhow::Result<u16> {
    for _ in 0..200 {
        let base = 30_000 + (rand_u16() % 300) * 100;
        let free = (0..128).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if free {
            return Ok(base);
        }
    }
    anyhow::bail!("no free block of 128 ports")
}

fn rand_u16() -> u16 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (t ^ std::process::id()) as u16
}

fn start_orchestrator(dir: &Path, udp_port: u16, enroll: &[String]) -> anyhow::Result<OrchProc> {
    start_orchestrator_with(dir, udp_port, enroll, &[])
}

fn start_orchestrator_with(
    dir: &Path,
    udp_port: u16,
    enroll: &[String],
    extra: &[&str],
) -> anyhow::Result<OrchProc> {
    let config = dir.join("orch.toml");
    if !config.exists() {
        // Replicas get host ports from a block free now (the config file
        // is the one way to set it; the flags override the rest).
        std::fs::write(
            &config,
            format!("port-base = {}\ntick-ms = 5000\n", free_port_base()?),
        )?;
    }
    let config_s = config.display().to_string();
    let data = dir.join("orch");
    let (data_s, key_s) = (
        data.display().to_string(),
        dir.join("orch.key").display().to_string(),
    );
    let unix = dir.join("orch.sock").display().to_string();
    let udp = format!("127.0.0.1:{udp_port}");
    let mut args = vec![
        "orchestrator",
        "--config",
        &config_s,
        "--data-dir",
        &data_s,
        "--key",
        &key_s,
        "--api",
        "127.0.0.1:0",
        "--fwd-unix",
        &unix,
        "--fwd-tcp",
        "",
        "--fwd-udp",
        &udp,
    ];
    // 300 ms ticks and polls unless `extra` says otherwise.
    for flag in ["--tick-ms", "--monitor-interval-ms"] {
        if !extra.contains(&flag) {
            args.extend([flag, "300"]);
        }
    }
    for e in enroll {
        args.push("--enroll");
        args.push(e);
    }
    args.extend_from_slice(extra);
    let proc = Proc::start(&args, &[("RUST_LOG", "info")])?;
    let line = proc.line(Duration::from_secs(30))?;
    ensure!(line.starts_with("ready orchestrator="), "{line:?}");
    Ok(OrchProc {
        api: format!("http://{}", field(&line, "api=")?),
        proc,
    })
}

fn start_node(dir: &Path, id: &str, orch_udp: u16) -> anyhow::Result<NodeProc> {
    let home = dir.join(id);
    std::fs::create_dir_all(&home)?;
    let s = |p: PathBuf| p.display().to_string();
    let (data, key, orch_key, unix) = (
        s(home.clone()),
        s(dir.join(format!("{id}.key"))),
        s(dir.join("orch.key.pub")),
        s(home.join("fwd.sock")),
    );
    let neighbor = format!("udp://127.0.0.1:{orch_udp}");
    let args = [
        "node",
        "--id",
        id,
        "--data-dir",
        &data,
        "--key",
        &key,
        "--orchestrator-key",
        &orch_key,
        "--runtime",
        "process",
        "--fwd-unix",
        &unix,
        "--fwd-tcp",
        "",
        "--fwd-udp",
        "127.0.0.1:0",
        "--fwd-neighbor",
        &neighbor,
        "--http",
        "127.0.0.1:0",
        "--metrics",
        "127.0.0.1:0",
        "--ip",
        "127.0.0.1",
        "--monitor-interval-ms",
        "300",
    ];
    let proc = Proc::start(&args, &[("RUST_LOG", "info")])?;
    let line = proc.line(Duration::from_secs(30))?;
    ensure!(line.starts_with("ready node="), "{line:?}");
    Ok(NodeProc {
        id: id.to_owned(),
        http: field(&line, "http=")?.parse()?,
        proc: Some(proc),
    })
}

impl NodeProc {
    /// SIGTERM: the node stops and the process runtime kills its replicas.
    fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut p) = self.proc.take() {
            let st = p.terminate(Duration::from_secs(20))?;
            ensure!(st.success(), "node {} exited {st}", self.id);
        }
        Ok(())
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        // A clean stop kills the replicas too (SIGKILL would orphan them).
        let _ = self.stop();
    }
}

/// `GET path`: (status, body).
fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
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
    Ok((status, body.to_owned()))
}

/// True when `node`'s ingress answers the service with the marker.
fn answered(node: &NodeProc, marker: &str) -> bool {
    matches!(http_get(node.http, &format!("/{SERVICE}/index.html")),
        Ok((200, body)) if body.contains(marker))
}

/// `picasso ARGS --api API`: Ok(stdout) or Err(stderr).
fn cli(api: &str, args: &[&str]) -> Result<String, String> {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--api", api]);
    run(&all, Duration::from_secs(60))
        .map(|o| String::from_utf8_lossy(&o).into_owned())
        .map_err(|e| format!("{e:#}"))
}

fn status(api: &str) -> anyhow::Result<Value> {
    let out = cli(api, &["status", "--json", "--decisions", "200"]).map_err(anyhow::Error::msg)?;
    Ok(serde_json::from_str(&out)?)
}

/// The nodes running a replica of the service, per `status --json`.
fn replica_nodes(st: &Value) -> Vec<String> {
    st["services"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["name"] == SERVICE)
        .flat_map(|s| s["replicas"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r["node"].as_str().map(str::to_owned))
        .collect()
}

/// True when the replica of the service on `node` answers on its own host
/// port (the block the orchestrator's `ports.json` gives the node, plus
/// the replica number less one), not through any forwarder.
fn replica_answers(dir: &Path, st: &Value, node: &str, marker: &str) -> anyhow::Result<bool> {
    let Some(replica) = st["services"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["name"] == SERVICE)
        .flat_map(|s| s["replicas"].as_array().cloned().unwrap_or_default())
        .find(|r| r["node"] == node)
        .and_then(|r| r["replica"].as_u64())
    else {
        return Ok(false);
    };
    let ports: Value = serde_json::from_slice(&std::fs::read(dir.join("orch/ports.json"))?)?;
    let base = ports[format!("{SERVICE}/{node}")]
        .as_u64()
        .context("no port block")?;
    let addr = SocketAddr::from(([127, 0, 0, 1], (base + replica - 1) as u16));
    Ok(matches!(http_get(addr, "/index.html"), Ok((200, body)) if body.contains(marker)))
}

/// Every running container of the service on reachable nodes.
fn containers(st: &Value) -> usize {
    st["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["reachable"] == true)
        .flat_map(|n| n["containers"].as_array().cloned().unwrap_or_default())
        .filter(|c| c["service"] == SERVICE && c["running"] == true)
        .count()
}

fn node_reachable(st: &Value, id: &str) -> Option<bool> {
    st["nodes"]
        .as_array()?
        .iter()
        .find(|n| n["id"] == id)
        .and_then(|n| n["reachable"].as_bool())
}

/// A minimal `docker save` archive (manifest.json and a config blob).
fn write_archive(path: &Path) -> anyhow::Result<()> {
    let mut b = tar::Builder::new(Vec::new());
    let manifest = r#"[{"Config":"cfg.json","RepoTags":["picasso/orch-test-web:1"],"Layers":[]}]"#;
    for (name, data) in [
        ("manifest.json", manifest.as_bytes().to_vec()),
        ("cfg.json", vec![b' '; 20_000]),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, &data[..])?;
    }
    std::fs::write(path, b.into_inner()?)?;
    Ok(())
}

/// The python interpreter itself, not a launcher script that would fork
/// it: stopping a replica must stop the server.
fn python_executable() -> anyhow::Result<String> {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .context("python3 is needed to run the test service")?;
    let python = String::from_utf8(out.stdout)?.trim().to_owned();
    ensure!(!python.is_empty(), "python3 gives no sys.executable");
    Ok(python)
}

fn write_spec(path: &Path, www: &Path, python: &str) -> anyhow::Result<()> {
    let spec = json!({
        "par": {
            "serviceName": SERVICE, "imageName": IMAGE, "imageSize": "1",
            "maxUsers": "20", "startUpTime": "1",
            "command": ["sh", "-c", format!(
                "exec '{python}' -m http.server \"$PORT\" --bind \"$HOST\" --directory '{}'",
                www.display())],
            "healthPath": "/",
            "replicas": {"min": 0, "max": 4}
        },
        "QoS": {"responseTime": "2", "availability": "99", "numUsers": "1"}
    });
    std::fs::write(path, serde_json::to_vec_pretty(&spec)?)?;
    Ok(())
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// What the processes said, for a failure's message.
fn diagnostics(orch: &OrchProc, nodes: &[NodeProc]) -> String {
    let mut s = format!(
        "status: {}\n--- orchestrator stderr:\n{}",
        status(&orch.api)
            .map(|v| v.to_string())
            .unwrap_or_else(|e| e.to_string()),
        tail(&orch.proc.stderr_text(), 40)
    );
    for n in nodes {
        if let Some(p) = &n.proc {
            s.push_str(&format!(
                "\n--- node {} stderr:\n{}",
                n.id,
                tail(&p.stderr_text(), 25)
            ));
        }
    }
    s
}

/// Kills, when dropped, every process whose command line holds `marker`
/// (the test's own temp dir): a stopped node leaves its process-runtime
/// replicas running, so the test reaps the servers it caused itself.
struct Reaper {
    marker: String,
}

impl Reaper {
    fn pids(&self) -> Vec<u32> {
        pids_with(&self.marker)
    }
}

/// Every process (but this one) whose command line holds `marker`.
fn pids_with(marker: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != std::process::id())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(marker))
                .unwrap_or(false)
        })
        .collect()
}

impl Drop for Reaper {
    fn drop(&mut self) {
        for pid in self.pids() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    }
}

#[test]
fn orchestrator_deploys_scales_recovers_and_resumes() -> anyhow::Result<()> {
    let python = python_executable()?;
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let www = dir.join("www");
    std::fs::create_dir_all(&www)?;
    let _reaper = Reaper {
        marker: www.display().to_string(),
    };
    let marker = format!("orchestrated-{}", std::process::id());
    std::fs::write(www.join("index.html"), format!("<p>{marker}</p>\n"))?;
    let (spec, archive) = (dir.join("spec.json"), dir.join("image.tar"));
    write_spec(&spec, &www, &python)?;
    write_archive(&archive)?;

    keygen(&dir.join("orch.key"))?;
    let ids = ["n1", "n2", "n3"];
    let mut enroll = Vec::new();
    for id in ids {
        keygen(&dir.join(format!("{id}.key")))?;
        enroll.push(format!(
            "{id}={}",
            dir.join(format!("{id}.key.pub")).display()
        ));
    }
    let orch_udp = free_udp_port()?;
    let mut orch = start_orchestrator(dir, orch_udp, &enroll)?;
    let mut nodes: Vec<NodeProc> = ids
        .iter()
        .map(|id| start_node(dir, id, orch_udp))
        .collect::<anyhow::Result<_>>()?;
    let result = scenario(
        dir, &spec, &archive, &marker, &ids, orch_udp, &mut orch, &mut nodes,
    );
    if let Err(e) = &result {
        eprintln!("{e:#}\n{}", diagnostics(&orch, &nodes));
    }
    for n in &mut nodes {
        n.stop()?;
    }
    let st = orch.proc.terminate(Duration::from_secs(20))?;
    ensure!(st.success(), "orchestrator exited {st}");
    result
}

#[allow(clippy::too_many_arguments)]
fn scenario(
    dir: &Path,
    spec: &Path,
    archive: &Path,
    marker: &str,
    ids: &[&str],
    orch_udp: u16,
    orch: &mut OrchProc,
    nodes: &mut [NodeProc],
) -> anyhow::Result<()> {
    let api = orch.api.clone();

    wait_until(LONG, "every node reachable", || {
        let st = status(&api)?;
        Ok(ids.iter().all(|id| node_reachable(&st, id) == Some(true)))
    })?;

    // Bad input is refused, naming the field.
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        br#"{"par":{"serviceName":"x","imageName":"i","imageSize":"1","maxUsers":true,"startUpTime":"1"},
             "QoS":{"responseTime":"1","availability":"99","numUsers":"1"}}"#,
    )?;
    let e = cli(&api, &["repo", "add", "--spec", &bad.display().to_string()]).unwrap_err();
    ensure!(e.contains("par.maxUsers") && e.contains("400"), "{e}");
    let e = cli(&api, &["deploy", "nosuch"]).unwrap_err();
    ensure!(e.contains("service") && e.contains("nosuch"), "{e}");
    let e = cli(&api, &["policy", "set", "fastest"]).unwrap_err();
    ensure!(e.contains("name") && e.contains("fastest"), "{e}");
    let client = picasso_orchestrator::client::ApiClient::new(&api)?;
    for (path, body, want) in [
        (
            "/api/scale",
            json!({"service": SERVICE, "replicas": "many"}),
            "replicas",
        ),
        ("/api/scale", json!({"replicas": 1}), "service"),
        ("/api/nodes", json!({"id": "n9", "key": "zz"}), "key"),
        ("/api/deploy", json!({"service": 7}), "service"),
    ] {
        match client.post(path, &body) {
            Err(picasso_orchestrator::client::ClientError::Refused { status, reason }) => {
                ensure!(
                    status == 400 || status == 404,
                    "{path} {body}: {status} {reason}"
                );
                ensure!(reason.starts_with(want), "{path} {body}: {reason}");
            }
            other => anyhow::bail!("{path} {body}: not refused: {other:?}"),
        }
    }

    // The spec and its image; min 0: nothing runs until `deploy`.
    cli(
        &api,
        &[
            "repo",
            "add",
            "--spec",
            &spec.display().to_string(),
            "--image",
            &archive.display().to_string(),
        ],
    )
    .map_err(anyhow::Error::msg)?;
    let listed = cli(&api, &["repo", "list"]).map_err(anyhow::Error::msg)?;
    ensure!(
        listed.contains(SERVICE) && listed.contains(IMAGE),
        "{listed}"
    );
    let ticks = |api: &str| -> anyhow::Result<f64> {
        let text = picasso_orchestrator::client::ApiClient::new(api)?.get_text("/metrics")?;
        text.lines()
            .find_map(|l| l.strip_prefix("picasso_orchestrator_ticks_planned_total "))
            .context("no ticks_planned_total")?
            .trim()
            .parse::<f64>()
            .context("ticks")
    };
    let t0 = ticks(&api)?;
    wait_until(LONG, "five ticks", || Ok(ticks(&api)? >= t0 + 5.0))?;
    ensure!(
        replica_nodes(&status(&api)?).is_empty(),
        "deployed before asked"
    );

    // deploy → a request to a node answered (through routing, whichever
    // node runs it).
    let t = Instant::now();
    cli(&api, &["deploy", SERVICE]).map_err(anyhow::Error::msg)?;
    wait_until(LONG, "the service answering at n3's ingress", || {
        Ok(answered(&nodes[2], marker))
    })?;
    let first_deploy = t.elapsed();
    wait_until(LONG, "one replica listed", || {
        Ok(replica_nodes(&status(&api)?).len() == 1)
    })?;
    let before_scale = replica_nodes(&status(&api)?);

    // scale 2 → distinct nodes.
    let t = Instant::now();
    cli(&api, &["scale", SERVICE, "2"]).map_err(anyhow::Error::msg)?;
    wait_until(LONG, "two replicas on distinct nodes", || {
        let on = replica_nodes(&status(&api)?);
        Ok(on.len() == 2 && on.iter().collect::<BTreeSet<_>>().len() == 2)
    })?;
    let scaled = t.elapsed();
    wait_until(LONG, "the new replica answering on its own port", || {
        let st = status(&api)?;
        let on = replica_nodes(&st);
        Ok(match on.iter().find(|n| !before_scale.contains(n)) {
            Some(n) => replica_answers(dir, &st, n, marker)?,
            None => false,
        })
    })?;
    let scaled_answering = t.elapsed();

    // A node hosting a replica stops: unreachable, replaced elsewhere.
    let before_stop = replica_nodes(&status(&api)?);
    let victim = nodes
        .iter()
        .position(|n| n.id == before_stop[0])
        .context("victim")?;
    let t = Instant::now();
    nodes[victim].stop()?;
    let others: Vec<usize> = (0..nodes.len()).filter(|i| *i != victim).collect();
    wait_until(LONG, "the replica replaced on the other nodes", || {
        let st = status(&api)?;
        let on = replica_nodes(&st);
        Ok(node_reachable(&st, &nodes[victim].id) == Some(false)
            && on.len() == 2
            && others.iter().all(|i| on.contains(&nodes[*i].id)))
    })?;
    let replaced = t.elapsed();
    wait_until(LONG, "the replacement answering on its own port", || {
        let st = status(&api)?;
        let on = replica_nodes(&st);
        Ok(match on.iter().find(|n| !before_stop.contains(n)) {
            Some(n) => replica_answers(dir, &st, n, marker)?,
            None => false,
        })
    })?;
    let replaced_answering = t.elapsed();
    for i in &others {
        wait_until(LONG, "the service answering on the survivors", || {
            Ok(answered(&nodes[*i], marker))
        })?;
    }
    let recovered = t.elapsed();
    let st = status(&api)?;
    let why =
        st["decisions"].as_array().into_iter().flatten().any(|d| {
            d["action"] == "deploy" && d["reason"].as_str().unwrap_or("").contains("lost")
        });
    ensure!(
        why,
        "no decision says the replica was lost: {}",
        st["decisions"]
    );
    let human = cli(&api, &["status"]).map_err(anyhow::Error::msg)?;
    ensure!(human.contains("NO") && human.contains(SERVICE), "{human}");

    // The orchestrator restarts on its data dir: no new deployment, no
    // duplicate.
    let st = orch.proc.terminate(Duration::from_secs(20))?;
    ensure!(st.success(), "orchestrator exited {st}");
    *orch = start_orchestrator(dir, orch_udp, &[])?;
    let api = orch.api.clone();
    let t0 = ticks(&api)?;
    wait_until(LONG, "ten ticks after the restart", || {
        Ok(ticks(&api)? >= t0 + 10.0)
    })?;
    let st = status(&api)?;
    ensure!(replica_nodes(&st).len() == 2, "{}", st["services"]);
    ensure!(containers(&st) == 2, "duplicates: {}", st["nodes"]);
    let deploys = st["decisions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["action"] == "deploy")
        .count();
    ensure!(
        deploys == 0,
        "deployed after the restart: {}",
        st["decisions"]
    );
    for i in &others {
        ensure!(
            answered(&nodes[*i], marker),
            "not answering after the restart"
        );
    }

    // The stopped node comes back: its old replica was replaced, so it
    // is not started there again.
    nodes[victim] = start_node(dir, ids[victim], orch_udp)?;
    wait_until(LONG, "the node back", || {
        Ok(node_reachable(&status(&api)?, ids[victim]) == Some(true))
    })?;
    // Never a third replica meanwhile (not even one trimmed later).
    let t0 = ticks(&api)?;
    let mut most = 0;
    wait_until(LONG, "ten ticks after its return", || {
        most = most.max(containers(&status(&api)?));
        Ok(ticks(&api)? >= t0 + 10.0)
    })?;
    ensure!(most == 2, "{most} replicas after the node came back");
    let st = status(&api)?;
    ensure!(replica_nodes(&st).len() == 2, "{}", st["services"]);
    ensure!(containers(&st) == 2, "duplicates: {}", st["nodes"]);

    println!(
        "orchestrator reaction times (process runtime, loopback, tick 300 ms, monitor 300 ms):\n  \
         first deploy → answering (cold, image fetched; baseline) {:>6.0} ms\n  \
         scale 1→2 → second replica running (listed)            {:>6.0} ms\n  \
         scale 1→2 → second replica answering on its port       {:>6.0} ms\n  \
         node stopped → its replacement running (listed)        {:>6.0} ms\n  \
         node stopped → its replacement answering on its port   {:>6.0} ms\n  \
         node stopped → both survivors' ingresses answering     {:>6.0} ms",
        first_deploy.as_secs_f64() * 1000.0,
        scaled.as_secs_f64() * 1000.0,
        scaled_answering.as_secs_f64() * 1000.0,
        replaced.as_secs_f64() * 1000.0,
        replaced_answering.as_secs_f64() * 1000.0,
        recovered.as_secs_f64() * 1000.0,
    );
    Ok(())
}

/// `on-demand`: a request for a service that runs nowhere reaches the
/// orchestrator (its `/picasso/svc` route), is answered with a Nack and
/// recorded; the policy deploys the service and the retried request is
/// answered by it.
#[test]
fn a_request_for_a_service_that_runs_nowhere_deploys_it_on_demand() -> anyhow::Result<()> {
    let python = python_executable()?;
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let www = dir.join("www");
    std::fs::create_dir_all(&www)?;
    let _reaper = Reaper {
        marker: www.display().to_string(),
    };
    let marker = format!("on-demand-{}", std::process::id());
    std::fs::write(www.join("index.html"), format!("<p>{marker}</p>\n"))?;
    let (spec, archive) = (dir.join("spec.json"), dir.join("image.tar"));
    write_spec(&spec, &www, &python)?;
    write_archive(&archive)?;
    keygen(&dir.join("orch.key"))?;
    let ids = ["d1", "d2"];
    let mut enroll = Vec::new();
    for id in ids {
        keygen(&dir.join(format!("{id}.key")))?;
        enroll.push(format!(
            "{id}={}",
            dir.join(format!("{id}.key.pub")).display()
        ));
    }
    let orch_udp = free_udp_port()?;
    let mut orch = start_orchestrator_with(dir, orch_udp, &enroll, &["--policy", "on-demand"])?;
    let api = orch.api.clone();
    let mut nodes: Vec<NodeProc> = ids
        .iter()
        .map(|id| start_node(dir, id, orch_udp))
        .collect::<anyhow::Result<_>>()?;
    let result = (|| -> anyhow::Result<()> {
        wait_until(LONG, "every node reachable", || {
            let st = status(&api)?;
            Ok(ids.iter().all(|id| node_reachable(&st, id) == Some(true)))
        })?;
        cli(
            &api,
            &[
                "repo",
                "add",
                "--spec",
                &spec.display().to_string(),
                "--image",
                &archive.display().to_string(),
            ],
        )
        .map_err(anyhow::Error::msg)?;
        ensure!(
            cli(&api, &["policy", "get"])
                .map_err(anyhow::Error::msg)?
                .trim()
                == "on-demand"
        );
        ensure!(replica_nodes(&status(&api)?).is_empty(), "deployed unasked");
        let t = Instant::now();
        wait_until(LONG, "the service deployed on demand and answering", || {
            Ok(answered(&nodes[1], &marker))
        })?;
        let reacted = t.elapsed();
        let st = status(&api)?;
        let why = st["decisions"].as_array().into_iter().flatten().any(|d| {
            d["action"] == "deploy" && d["reason"].as_str().unwrap_or("").contains("runs nowhere")
        });
        ensure!(why, "no on-demand decision: {}", st["decisions"]);
        let metrics = picasso_orchestrator::client::ApiClient::new(&api)?.get_text("/metrics")?;
        let unserved = metrics
            .lines()
            .find_map(|l| l.strip_prefix("picasso_orchestrator_unserved_requests_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .context("no unserved_requests_total")?;
        ensure!(unserved >= 1.0, "{metrics}");
        println!(
            "on-demand: first request → the service answering {:.0} ms ({unserved} requests reached the orchestrator)",
            reacted.as_secs_f64() * 1000.0
        );
        Ok(())
    })();
    if let Err(e) = &result {
        eprintln!("{e:#}\n{}", diagnostics(&orch, &nodes));
    }
    for n in &mut nodes {
        n.stop()?;
    }
    let st = orch.proc.terminate(Duration::from_secs(20))?;
    ensure!(st.success(), "orchestrator exited {st}");
    result
}

/// A counter (or one labelled series) of the orchestrator's `/metrics`.
fn metric_value(api: &str, series: &str) -> anyhow::Result<f64> {
    let text = picasso_orchestrator::client::ApiClient::new(api)?.get_text("/metrics")?;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .with_context(|| format!("no {series} in /metrics"))?
        .trim()
        .parse::<f64>()
        .with_context(|| format!("{series} is not a number"))
}

/// How the forger signs the report it serves for the absent node `n2`.
#[derive(Clone, Copy, Debug)]
enum Forgery {
    /// Its own key, naming n2's key as the KeyLocator.
    OwnKey,
    /// The genuine enrolled node n1's key, naming n2's key.
    OtherNodesKeyAsN2,
    /// n1's key, honestly naming n1's key (n1 vouching for n2).
    OtherNodesKeyAsItself,
}

/// A forged node's monitoring data is ignored: a process that is not the
/// enrolled node `n2` (absent) connects to the orchestrator's forwarder,
/// registers `/picasso/node/n2/monitor` and answers the polls with a
/// well-formed report (claiming a running replica), signed by a key other
/// than n2's enrolled one. The orchestrator counts each answer as forged
/// and keeps n2 unreachable, never seen, with no containers, while the
/// genuine node n1 stays reachable.
#[test]
fn a_forged_nodes_monitoring_data_is_ignored() -> anyhow::Result<()> {
    use picasso_agent::keys::{load_key_pair, KeyPair};
    use picasso_agent::monitor::{key_name, monitor_name, Packets};
    use picasso_forwarder::app::{Client, FaceAddr};
    use picasso_tlv::{Interest, Name};
    use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
    use std::sync::Arc;

    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    keygen(&dir.join("orch.key"))?;
    let mut enroll = Vec::new();
    for id in ["n1", "n2"] {
        keygen(&dir.join(format!("{id}.key")))?;
        enroll.push(format!(
            "{id}={}",
            dir.join(format!("{id}.key.pub")).display()
        ));
    }
    let orch_udp = free_udp_port()?;
    let mut orch = start_orchestrator(dir, orch_udp, &enroll)?;
    let api = orch.api.clone();
    let mut nodes = vec![start_node(dir, "n1", orch_udp)?];

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let result = (|| -> anyhow::Result<()> {
        wait_until(LONG, "n1 reachable", || {
            Ok(node_reachable(&status(&api)?, "n1") == Some(true))
        })?;
        let root = Name::from_uri("/picasso")?;
        let forger = KeyPair::generate();
        let n1 = load_key_pair(&dir.join("n1.key"))?;
        let mode = Arc::new(AtomicU8::new(0));
        let answers = Arc::new(AtomicU64::new(0));
        let report = format!(
            r#"{{"softResources": {{"OS": "Linux"}},
              "hardResources": {{"mem": "1 GB", "disk": "16 GB", "cpu": "x"}},
              "resourceUsage": {{"cpuLoad": "1", "memUsage": "1", "cpuUsage": "1"}},
              "PiID": "n2", "PiIP": "127.0.0.1", "schema": 1, "runtime": "process",
              "containers": [{{"status": "Up 1 minute", "port_host": "8002", "memUsage": "1000",
                "name": "/picasso-n2-{SERVICE}-1", "port_container": "80", "cpuUsage": "5",
                "image": "picasso/{IMAGE}:1", "id": "forged", "state": "running",
                "cpuPercent": 1.5, "service": "{SERVICE}"}}],
              "node": {{"cpu_percent": 1.5, "load_average": [0.1, 0.1, 0.1], "mem_percent": 10,
                "mem_total_bytes": 1000000, "cpu_cores": 4}},
              "services": []}}"#
        );
        let prefix = monitor_name(&root, "n2");
        let client = rt.block_on(Client::connect(&FaceAddr::Unix(dir.join("orch.sock"))))?;
        let (m, a, p, r) = (mode.clone(), answers.clone(), prefix.clone(), root.clone());
        rt.block_on(client.register(prefix, move |i: Interest| {
            let n = a.fetch_add(1, Ordering::Relaxed) + 1;
            let (key, locator) = match m.load(Ordering::Relaxed) {
                0 => (&forger, "n2"),
                1 => (&n1, "n2"),
                _ => (&n1, "n1"),
            };
            let packets = Packets::new(
                &p,
                n,
                report.as_bytes(),
                Duration::from_millis(5),
                8000,
                &key.signer(key_name(&r, locator)),
            );
            let answer = i.can_be_prefix().then(|| packets.segments[0].clone());
            async move { answer }
        }))
        .map_err(|e| anyhow::anyhow!("register: {e}"))?;

        let forged = "picasso_orchestrator_monitoring_polls_total{outcome=\"forged\"}";
        for (k, how) in [
            Forgery::OwnKey,
            Forgery::OtherNodesKeyAsN2,
            Forgery::OtherNodesKeyAsItself,
        ]
        .into_iter()
        .enumerate()
        {
            mode.store(k as u8, Ordering::Relaxed);
            let (a0, f0) = (answers.load(Ordering::Relaxed), metric_value(&api, forged)?);
            wait_until(LONG, "five forged answers counted", || {
                Ok(answers.load(Ordering::Relaxed) >= a0 + 5
                    && metric_value(&api, forged)? >= f0 + 5.0)
            })?;
            let st = status(&api)?;
            let n2 = st["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|n| n["id"] == "n2")
                .with_context(|| format!("n2 not listed: {}", st["nodes"]))?;
            ensure!(
                n2["reachable"] == false && n2["lastSeen"].is_null(),
                "{how:?}: the forged node is taken as seen: {n2}"
            );
            ensure!(
                n2["containers"].as_array().is_none_or(|c| c.is_empty()),
                "{how:?}: the forged containers are used: {n2}"
            );
            ensure!(
                node_reachable(&st, "n1") == Some(true),
                "{how:?}: {}",
                st["nodes"]
            );
            let listed = picasso_orchestrator::client::ApiClient::new(&api)?.get("/api/nodes")?;
            let listed_n2 = listed
                .as_array()
                .into_iter()
                .flatten()
                .find(|n| n["id"] == "n2")
                .context("n2 not in /api/nodes")?;
            ensure!(
                listed_n2["reachable"] == false,
                "{how:?}: /api/nodes: {listed_n2}"
            );
        }
        ensure!(
            metric_value(
                &api,
                "picasso_orchestrator_monitoring_polls_total{outcome=\"malformed\"}"
            )? == 0.0,
            "a forged answer was counted as malformed, not forged"
        );
        Ok(())
    })();
    if let Err(e) = &result {
        eprintln!("{e:#}\n{}", diagnostics(&orch, &nodes));
    }
    drop(rt);
    for n in &mut nodes {
        n.stop()?;
    }
    let st = orch.proc.terminate(Duration::from_secs(20))?;
    ensure!(st.success(), "orchestrator exited {st}");
    result
}

/// The placements of the service in the orchestrator's `desired.json`.
fn desired_placements(dir: &Path) -> usize {
    std::fs::read(dir.join("orch/desired.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| {
            v["services"][SERVICE].as_object().map(|nodes| {
                nodes
                    .values()
                    .filter_map(|r| r.as_object())
                    .map(|r| r.len())
                    .sum()
            })
        })
        .unwrap_or(0)
}

/// An orchestrator killed (SIGKILL) right after it wrote the desired state
/// of `scale S 2`, before the deployments are confirmed, finishes them
/// once restarted on its data dir: exactly two replicas, on distinct
/// nodes, each answering on its own port, never a third meanwhile.
#[test]
fn an_orchestrator_killed_mid_deployment_finishes_it_after_a_restart() -> anyhow::Result<()> {
    let python = python_executable()?;
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let www = dir.join("www");
    std::fs::create_dir_all(&www)?;
    let _reaper = Reaper {
        marker: www.display().to_string(),
    };
    let marker = format!("mid-deploy-{}", std::process::id());
    std::fs::write(www.join("index.html"), format!("<p>{marker}</p>\n"))?;
    let (spec, archive) = (dir.join("spec.json"), dir.join("image.tar"));
    write_spec(&spec, &www, &python)?;
    write_archive(&archive)?;
    keygen(&dir.join("orch.key"))?;
    let ids = ["m1", "m2"];
    let mut enroll = Vec::new();
    for id in ids {
        keygen(&dir.join(format!("{id}.key")))?;
        enroll.push(format!(
            "{id}={}",
            dir.join(format!("{id}.key.pub")).display()
        ));
    }
    let orch_udp = free_udp_port()?;
    let mut orch = start_orchestrator(dir, orch_udp, &enroll)?;
    let mut nodes: Vec<NodeProc> = ids
        .iter()
        .map(|id| start_node(dir, id, orch_udp))
        .collect::<anyhow::Result<_>>()?;
    let result = (|| -> anyhow::Result<()> {
        let api = orch.api.clone();
        wait_until(LONG, "every node reachable", || {
            let st = status(&api)?;
            Ok(ids.iter().all(|id| node_reachable(&st, id) == Some(true)))
        })?;
        cli(
            &api,
            &[
                "repo",
                "add",
                "--spec",
                &spec.display().to_string(),
                "--image",
                &archive.display().to_string(),
            ],
        )
        .map_err(anyhow::Error::msg)?;
        ensure!(desired_placements(dir) == 0, "placed before asked");
        cli(&api, &["scale", SERVICE, "2"]).map_err(anyhow::Error::msg)?;
        wait_until(LONG, "two placements in desired.json", || {
            Ok(desired_placements(dir) == 2)
        })?;
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &orch.proc.pid().to_string()])
            .status()?;
        ensure!(killed.success(), "kill -KILL failed");
        // Gone (its UDP port and socket released) before the restart binds them.
        orch.proc.child.wait()?;
        let running_at_kill = servers(&www);
        orch = start_orchestrator(dir, orch_udp, &[])?;
        let api = orch.api.clone();
        wait_until(
            LONG,
            "two replicas on distinct nodes, each answering",
            || {
                let st = status(&api)?;
                let on = replica_nodes(&st);
                if on.len() != 2 || on.iter().collect::<BTreeSet<_>>().len() != 2 {
                    return Ok(false);
                }
                for n in &on {
                    if !replica_answers(dir, &st, n, &marker)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            },
        )?;
        let ticks = "picasso_orchestrator_ticks_planned_total";
        let t0 = metric_value(&api, ticks)?;
        let mut most = 0;
        wait_until(LONG, "ten ticks after the deployment finished", || {
            most = most.max(containers(&status(&api)?));
            Ok(metric_value(&api, ticks)? >= t0 + 10.0)
        })?;
        ensure!(most == 2, "{most} replicas after the restart");
        ensure!(servers(&www) == 2, "{} servers run", servers(&www));
        ensure!(desired_placements(dir) == 2, "desired.json changed");
        for n in &nodes {
            ensure!(answered(n, &marker), "{} does not answer", n.id);
        }
        println!("killed mid-deployment with {running_at_kill} of 2 replicas running; finished after the restart");
        Ok(())
    })();
    if let Err(e) = &result {
        eprintln!("{e:#}\n{}", diagnostics(&orch, &nodes));
    }
    for n in &mut nodes {
        n.stop()?;
    }
    let st = orch.proc.terminate(Duration::from_secs(20))?;
    ensure!(st.success(), "orchestrator exited {st}");
    result
}

/// The service's servers running (processes whose command line names the
/// test's `www` dir).
fn servers(www: &Path) -> usize {
    pids_with(&www.display().to_string()).len()
}

/// Sends `signal` to `pid`.
fn signal(pid: u32, signal: &str) -> anyhow::Result<()> {
    let st = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()?;
    ensure!(st.success(), "kill {signal} {pid} failed");
    Ok(())
}

/// Resumes a SIGSTOPped process when dropped (a stopped node would not
/// handle the SIGTERM of its clean stop).
struct Resume(u32);

impl Drop for Resume {
    fn drop(&mut self) {
        let _ = signal(self.0, "-CONT");
    }
}

/// A node cut off (its process SIGSTOPped: it neither answers polls nor
/// commands, its replica keeps running) is marked unreachable and its
/// replica redeployed on the spare node; reconnected (SIGCONT), it reports
/// the old replica again, and the replicas settle at the wanted two, on
/// distinct nodes, with two servers left running, and stay there.
#[test]
fn a_node_cut_off_and_reconnected_is_reconciled_without_duplicates() -> anyhow::Result<()> {
    let python = python_executable()?;
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let www = dir.join("www");
    std::fs::create_dir_all(&www)?;
    let _reaper = Reaper {
        marker: www.display().to_string(),
    };
    let marker = format!("cut-off-{}", std::process::id());
    std::fs::write(www.join("index.html"), format!("<p>{marker}</p>\n"))?;
    let (spec, archive) = (dir.join("spec.json"), dir.join("image.tar"));
    write_spec(&spec, &www, &python)?;
    write_archive(&archive)?;
    keygen(&dir.join("orch.key"))?;
    let ids = ["c1", "c2", "c3"];
    let mut enroll = Vec::new();
    for id in ids {
        keygen(&dir.join(format!("{id}.key")))?;
        enroll.push(format!(
            "{id}={}",
            dir.join(format!("{id}.key.pub")).display()
        ));
    }
    let orch_udp = free_udp_port()?;
    let mut orch = start_orchestrator(dir, orch_udp, &enroll)?;
    let mut nodes: Vec<NodeProc> = ids
        .iter()
        .map(|id| start_node(dir, id, orch_udp))
        .collect::<anyhow::Result<_>>()?;
    let result = (|| -> anyhow::Result<()> {
        let api = orch.api.clone();
        wait_until(LONG, "every node reachable", || {
            let st = status(&api)?;
            Ok(ids.iter().all(|id| node_reachable(&st, id) == Some(true)))
        })?;
        cli(
            &api,
            &[
                "repo",
                "add",
                "--spec",
                &spec.display().to_string(),
                "--image",
                &archive.display().to_string(),
            ],
        )
        .map_err(anyhow::Error::msg)?;
        cli(&api, &["scale", SERVICE, "2"]).map_err(anyhow::Error::msg)?;
        wait_until(LONG, "two replicas on distinct nodes", || {
            let st = status(&api)?;
            let on = replica_nodes(&st);
            Ok(on.len() == 2
                && on.iter().collect::<BTreeSet<_>>().len() == 2
                && containers(&st) == 2)
        })?;
        let before = replica_nodes(&status(&api)?);
        let victim = nodes
            .iter()
            .position(|n| n.id == before[0])
            .context("victim")?;
        let spare = nodes
            .iter()
            .position(|n| !before.contains(&n.id))
            .context("spare")?;
        let pid = nodes[victim].proc.as_ref().context("victim runs")?.pid();

        // Cut off.
        signal(pid, "-STOP")?;
        let resume = Resume(pid);
        wait_until(
            LONG,
            "the cut-off node unreachable, its replica on the spare",
            || {
                let st = status(&api)?;
                let on = replica_nodes(&st);
                Ok(node_reachable(&st, ids[victim]) == Some(false)
                    && on.len() == 2
                    && on.contains(&ids[spare].to_owned())
                    && replica_answers(dir, &st, ids[spare], &marker)?)
            },
        )?;
        ensure!(
            servers(&www) == 3,
            "the cut-off node's replica should still run: {} servers",
            servers(&www)
        );

        // Reconnected.
        drop(resume);
        wait_until(LONG, "the node back", || {
            Ok(node_reachable(&status(&api)?, ids[victim]) == Some(true))
        })?;
        wait_until(LONG, "two replicas, two servers", || {
            let st = status(&api)?;
            let on = replica_nodes(&st);
            Ok(on.len() == 2
                && on.iter().collect::<BTreeSet<_>>().len() == 2
                && containers(&st) == 2
                && servers(&www) == 2)
        })?;
        let ticks = "picasso_orchestrator_ticks_planned_total";
        let t0 = metric_value(&api, ticks)?;
        let mut most = 0;
        wait_until(LONG, "ten ticks after it settled", || {
            most = most.max(containers(&status(&api)?));
            Ok(metric_value(&api, ticks)? >= t0 + 10.0)
        })?;
        ensure!(most == 2, "{most} replicas after it settled");
        let st = status(&api)?;
        ensure!(replica_nodes(&st).len() == 2, "{}", st["services"]);
        ensure!(servers(&www) == 2, "{} servers", servers(&www));
        for n in &nodes {
            ensure!(answered(n, &marker), "{} does not answer", n.id);
        }
        Ok(())
    })();
    if let Err(e) = &result {
        eprintln!("{e:#}\n{}", diagnostics(&orch, &nodes));
    }
    for n in &mut nodes {
        n.stop()?;
    }
    let st = orch.proc.terminate(Duration::from_secs(20))?;
    ensure!(st.success(), "orchestrator exited {st}");
    result
}

/// CPU time (user + system) of `pid` so far.
fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // After the command's closing parenthesis: state is field 3, utime 14.
    let rest = stat.rsplit_once(')').context("stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>()? + f[12].parse::<u64>()?;
    let hz = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse::<u64>().ok())
        .unwrap_or(100);
    Ok(Duration::from_millis(ticks * 1000 / hz))
}

/// The orchestrator's CPU (percent of one core) and RSS over `window`.
fn usage(orch: &OrchProc, window: Duration) -> anyhow::Result<(f64, u64)> {
    let pid = orch.proc.pid();
    let (c0, t0) = (cpu_time(pid)?, Instant::now());
    std::thread::sleep(window);
    let (c1, t1) = (cpu_time(pid)?, Instant::now());
    let cpu = (c1 - c0).as_secs_f64() / (t1 - t0).as_secs_f64() * 100.0;
    Ok((cpu, orch.proc.rss_kb()?))
}

/// Issue 5 item 7: the orchestrator's CPU and memory polling 1,000
/// simulated nodes, beside the same process with none enrolled (the
/// same-run baseline). One in-test producer on the orchestrator's
/// forwarder answers `/picasso/node/<id>/monitor` for every simulated
/// node with a report signed by that node's own (enrolled) key.
/// `scripts/bench-orchestrator.sh` runs it.
#[test]
#[ignore = "benchmark: scripts/bench-orchestrator.sh"]
fn bench_orchestrator_with_1000_simulated_nodes() -> anyhow::Result<()> {
    use picasso_agent::keys::KeyPair;
    use picasso_agent::monitor::{key_name, Packets};
    use picasso_forwarder::app::{Client, FaceAddr};
    use picasso_tlv::{Interest, Name};
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    const NODES: usize = 1000;
    // The simulated nodes sign every answer in this (debug) test process:
    // a poll a second by default ($PICASSO_BENCH_MONITOR_MS).
    let interval_ms: u64 = match std::env::var("PICASSO_BENCH_MONITOR_MS") {
        Ok(v) => v.parse().context("PICASSO_BENCH_MONITOR_MS")?,
        Err(_) => 1000,
    };
    let window = Duration::from_secs(20);
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    keygen(&dir.join("orch.key"))?;
    let interval = interval_ms.to_string();
    let orch = start_orchestrator_with(
        dir,
        free_udp_port()?,
        &[],
        &["--monitor-interval-ms", &interval, "--tick-ms", "1000"],
    )?;
    let api = orch.api.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = (|| -> anyhow::Result<()> {
        std::thread::sleep(Duration::from_secs(3));
        let (idle_cpu, idle_rss) = usage(&orch, window)?;

        let root = Name::from_uri("/picasso")?;
        let keys: Arc<HashMap<String, KeyPair>> = Arc::new(
            (0..NODES)
                .map(|i| (format!("sim{i:04}"), KeyPair::generate()))
                .collect(),
        );
        let answers = Arc::new(AtomicU64::new(0));
        let client = rt.block_on(Client::connect(&FaceAddr::Unix(dir.join("orch.sock"))))?;
        let (k, a, r) = (keys.clone(), answers.clone(), root.clone());
        let (idx, plen) = (root.len() + 1, root.len() + 3);
        rt.block_on(
            client.register(root.append_str("node"), move |i: Interest| {
                let id = i
                    .name()
                    .get(idx)
                    .map(|c| String::from_utf8_lossy(c.value()).into_owned());
                let answer = id.and_then(|id| {
                    let key = k.get(&id)?;
                    let n = a.fetch_add(1, Ordering::Relaxed) + 1;
                    let prefix = i.name().prefix(plen);
                    let report = format!(
                        r#"{{"softResources": {{"OS": "Linux"}},
                      "hardResources": {{"mem": "1 GB", "disk": "16 GB", "cpu": "x"}},
                      "resourceUsage": {{"cpuLoad": "1", "memUsage": "10", "cpuUsage": "5"}},
                      "PiID": "{id}", "PiIP": "127.0.0.1", "schema": 1, "runtime": "process",
                      "containers": [],
                      "node": {{"cpu_percent": 5, "load_average": [0.1, 0.1, 0.1],
                        "mem_percent": 10, "mem_total_bytes": 1000000000, "cpu_cores": 4}},
                      "services": []}}"#
                    );
                    let packets = Packets::new(
                        &prefix,
                        n,
                        report.as_bytes(),
                        Duration::from_millis(5),
                        8000,
                        &key.signer(key_name(&r, &id)),
                    );
                    i.can_be_prefix().then(|| packets.segments[0].clone())
                });
                async move { answer }
            }),
        )
        .map_err(|e| anyhow::anyhow!("register: {e}"))?;
        let api_client = picasso_orchestrator::client::ApiClient::new(&api)?;
        for (id, key) in keys.iter() {
            api_client
                .post("/api/nodes", &json!({"id": id, "key": key.public_hex()}))
                .map_err(|e| anyhow::anyhow!("enroll {id}: {e:?}"))?;
        }
        wait_until(LONG * 4, "every simulated node reachable", || {
            let nodes = api_client.get("/api/nodes")?;
            Ok(nodes
                .as_array()
                .map(|n| n.iter().filter(|n| n["reachable"] == true).count())
                == Some(NODES))
        })?;
        let answered = "picasso_orchestrator_monitoring_polls_total{outcome=\"answered\"}";
        let a0 = metric_value(&api, answered)?;
        let t = Instant::now();
        let (busy_cpu, busy_rss) = usage(&orch, window)?;
        let rate = (metric_value(&api, answered)? - a0) / t.elapsed().as_secs_f64();
        let forged = metric_value(
            &api,
            "picasso_orchestrator_monitoring_polls_total{outcome=\"forged\"}",
        )?;
        ensure!(forged == 0.0, "{forged} simulated answers counted forged");
        println!(
            "orchestrator with {NODES} simulated nodes (monitoring every {interval_ms} ms, tick 1000 ms, {}s windows):\n  \
             no node enrolled (baseline)   CPU {idle_cpu:>6.1} % of a core   RSS {:>7.1} MB\n  \
             {NODES} nodes polled             CPU {busy_cpu:>6.1} % of a core   RSS {:>7.1} MB   ({rate:.0} verified reports/s)\n  \
             ratio                          CPU {:>6.1}×                RSS {:>7.2}×",
            window.as_secs(),
            idle_rss as f64 / 1024.0,
            busy_rss as f64 / 1024.0,
            busy_cpu / idle_cpu.max(0.1),
            busy_rss as f64 / idle_rss.max(1) as f64,
        );
        Ok(())
    })();
    if let Err(e) = &result {
        eprintln!("{e:#}\n{}", tail(&orch.proc.stderr_text(), 30));
    }
    drop(rt);
    let mut orch = orch;
    let st = orch.proc.terminate(Duration::from_secs(20))?;
    ensure!(st.success(), "orchestrator exited {st}");
    result
}

/// Issue 5 item 7: the time from a load step to the new replica serving,
/// with the `threshold` policy (a replica above 80 % of a core is
/// replicated). The service burns 50 ms of CPU per `/burn` request; four
/// client threads load its one replica on its own port from a given
/// instant; the figure is the time until a second replica answers on its
/// port, printed beside the run's first deployment (deploy → answering).
/// The image (a small archive) is fetched by the node the policy picks.
/// `scripts/bench-orchestrator.sh` runs it.
#[test]
#[ignore = "benchmark: scripts/bench-orchestrator.sh"]
fn bench_load_step_to_new_replica_serving() -> anyhow::Result<()> {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    let python = python_executable()?;
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let www = dir.join("www");
    std::fs::create_dir_all(&www)?;
    let _reaper = Reaper {
        marker: www.display().to_string(),
    };
    let marker = format!("load-step-{}", std::process::id());
    let server = www.join("burner.py");
    std::fs::write(
        &server,
        format!(
            "import http.server, os, time\n\
             class H(http.server.BaseHTTPRequestHandler):\n\
             \x20   def do_GET(self):\n\
             \x20       if self.path.startswith('/burn'):\n\
             \x20           t = time.process_time()\n\
             \x20           while time.process_time() - t < 0.05:\n\
             \x20               pass\n\
             \x20       body = b'<p>{marker}</p>'\n\
             \x20       self.send_response(200)\n\
             \x20       self.send_header('Content-Length', str(len(body)))\n\
             \x20       self.end_headers()\n\
             \x20       self.wfile.write(body)\n\
             \x20   def log_message(self, *a):\n\
             \x20       pass\n\
             http.server.ThreadingHTTPServer((os.environ['HOST'], int(os.environ['PORT'])), H).serve_forever()\n"
        ),
    )?;
    let (spec, archive) = (dir.join("spec.json"), dir.join("image.tar"));
    let spec_json = json!({
        "par": {
            "serviceName": SERVICE, "imageName": IMAGE, "imageSize": "1",
            "maxUsers": "20", "startUpTime": "1",
            "command": ["sh", "-c", format!("exec '{python}' '{}'", server.display())],
            "healthPath": "/",
            "replicas": {"min": 0, "max": 2}
        },
        "QoS": {"responseTime": "2", "availability": "99", "numUsers": "1"}
    });
    std::fs::write(&spec, serde_json::to_vec_pretty(&spec_json)?)?;
    write_archive(&archive)?;
    std::fs::write(
        dir.join("orch.toml"),
        format!(
            "port-base = {}\ntick-ms = 5000\n[engine]\nup_cooldown_ms = 2000\n",
            free_port_base()?
        ),
    )?;
    keygen(&dir.join("orch.key"))?;
    let ids = ["l1", "l2"];
    let mut enroll = Vec::new();
    for id in ids {
        keygen(&dir.join(format!("{id}.key")))?;
        enroll.push(format!(
            "{id}={}",
            dir.join(format!("{id}.key.pub")).display()
        ));
    }
    let orch_udp = free_udp_port()?;
    let mut orch = start_orchestrator_with(dir, orch_udp, &enroll, &["--policy", "threshold"])?;
    let mut nodes: Vec<NodeProc> = ids
        .iter()
        .map(|id| start_node(dir, id, orch_udp))
        .collect::<anyhow::Result<_>>()?;
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    let result = (|| -> anyhow::Result<()> {
        let api = orch.api.clone();
        wait_until(LONG, "every node reachable", || {
            let st = status(&api)?;
            Ok(ids.iter().all(|id| node_reachable(&st, id) == Some(true)))
        })?;
        cli(
            &api,
            &[
                "repo",
                "add",
                "--spec",
                &spec.display().to_string(),
                "--image",
                &archive.display().to_string(),
            ],
        )
        .map_err(anyhow::Error::msg)?;
        let t = Instant::now();
        cli(&api, &["deploy", SERVICE]).map_err(anyhow::Error::msg)?;
        let mut first = String::new();
        wait_until(LONG, "the first replica answering on its port", || {
            let st = status(&api)?;
            let on = replica_nodes(&st);
            if on.len() != 1 || !replica_answers(dir, &st, &on[0], &marker)? {
                return Ok(false);
            }
            first = on[0].clone();
            Ok(true)
        })?;
        let deployed = t.elapsed();
        // Out of the scale-up cool-down the deployment started.
        std::thread::sleep(Duration::from_secs(3));
        let st = status(&api)?;
        let replica = st["services"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["name"] == SERVICE)
            .flat_map(|s| s["replicas"].as_array().cloned().unwrap_or_default())
            .find_map(|r| r["replica"].as_u64())
            .context("replica number")?;
        let ports: Value = serde_json::from_slice(&std::fs::read(dir.join("orch/ports.json"))?)?;
        let base = ports[format!("{SERVICE}/{first}")]
            .as_u64()
            .context("no port block")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], (base + replica - 1) as u16));

        let t = Instant::now();
        for _ in 0..4 {
            let (stop, served) = (stop.clone(), served.clone());
            load.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if matches!(http_get(addr, "/burn"), Ok((200, _))) {
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        let mut second = String::new();
        wait_until(LONG, "a second replica answering on its port", || {
            let st = status(&api)?;
            let placed = placements(&st);
            if placed.len() != 2 {
                return Ok(false);
            }
            let ports: Value =
                serde_json::from_slice(&std::fs::read(dir.join("orch/ports.json"))?)?;
            for (n, r) in placed {
                if (n.as_str(), r) == (first.as_str(), replica) {
                    continue;
                }
                let Some(base) = ports[format!("{SERVICE}/{n}")].as_u64() else {
                    return Ok(false);
                };
                let addr = SocketAddr::from(([127, 0, 0, 1], (base + r - 1) as u16));
                if matches!(http_get(addr, "/"), Ok((200, b)) if b.contains(&marker)) {
                    second = format!("{n}, replica {r}");
                    return Ok(true);
                }
            }
            Ok(false)
        })?;
        let reacted = t.elapsed();
        let st = status(&api)?;
        let why = st["decisions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["action"] == "deploy")
            .filter_map(|d| d["reason"].as_str())
            .find(|r| r.contains("threshold"))
            .unwrap_or("?")
            .to_owned();
        println!(
            "load step → new replica serving (threshold policy, tick 300 ms, monitoring 300 ms):\n  \
             deploy → first replica answering (baseline)   {:>6.0} ms\n  \
             load step → second replica answering           {:>6.0} ms   (on {second}; {} requests served meanwhile)\n  \
             ratio                                           {:>6.2}×\n  \
             decision: {why}",
            deployed.as_secs_f64() * 1000.0,
            reacted.as_secs_f64() * 1000.0,
            served.load(Ordering::Relaxed),
            reacted.as_secs_f64() / deployed.as_secs_f64(),
        );
        Ok(())
    })();
    stop.store(true, Ordering::Relaxed);
    for h in load {
        let _ = h.join();
    }
    if let Err(e) = &result {
        eprintln!("{e:#}\n{}", diagnostics(&orch, &nodes));
    }
    for n in &mut nodes {
        n.stop()?;
    }
    let st = orch.proc.terminate(Duration::from_secs(20))?;
    ensure!(st.success(), "orchestrator exited {st}");
    result
}

/// The service's (node, replica number) placements, per `status --json`.
fn placements(st: &Value) -> Vec<(String, u64)> {
    st["services"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["name"] == SERVICE)
        .flat_map(|s| s["replicas"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| Some((r["node"].as_str()?.to_owned(), r["replica"].as_u64()?)))
        .collect()
}
