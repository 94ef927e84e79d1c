//! `picasso node` against the real Docker engine, end to end: the node runs
//! as a real process (port 0, temp dirs), the test plays the orchestrator
//! (a generated Ed25519 key, signed command Interests) and the service repo
//! (an in-test `ImagePublisher` on a face to the node's forwarder).
//!
//! - `a_signed_deploy_serves_over_ndn_and_http_and_survives_the_engine_going_away`:
//!   the busybox-httpd image is absent from the engine; a deploy with
//!   `replicas: 2` fails at the `fetch` step while the repo answers
//!   Nack(NoRoute) half-way (nothing left running, no image), then a
//!   second deploy resumes the fetch (resumedFrom + segmentsFetched =
//!   segments) and runs both replicas; `/picasso/svc/<s>/index.html` and
//!   the 80 kB `/image.jpg` are fetched byte for byte with `picasso get`,
//!   with python-ndn (`tests/interop/svc_fetch.py`) and over the HTTP
//!   ingress; both replicas served requests (the monitoring JSON's
//!   `services[].replica_requests`, and `/metrics`); then the node's
//!   Docker endpoint (an in-test Unix-socket proxy in front of
//!   /var/run/docker.sock, given as `DOCKER_HOST`) goes away: a deploy
//!   fails naming the step and the engine endpoint, while the monitoring
//!   Data keeps coming (fresh samples) and the running service keeps
//!   answering over NDN.
//! - `bad_descriptors_and_forged_commands_start_nothing`: descriptors with
//!   a bad `port_host` or `replicas` are refused with `invalid` naming the
//!   field and the value; a deploy signed by another key is refused; the
//!   engine then holds no container of the node although the image is
//!   there.
//!
//! A guard removes every container labelled with the node's id, whatever
//! happens. Both tests hold one lock: the first removes the image the
//! second loads. Python comes from `$PICASSO_PYTHON`, else
//! `scripts/pyenv.sh`; `PICASSO_SKIP_PYTHON=1` skips the python-ndn part.

#![forbid(unsafe_code)]

#[path = "support/fwd.rs"]
mod fwd;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{ensure, Context};
use fwd::{picasso_bin, Proc};
use picasso_agent::exec::signed_command;
use picasso_agent::image_repo::{ImagePublisher, SEGMENT_SIZE};
use picasso_agent::images::{self, HostFiles, ServiceImage};
use picasso_agent::keys::{self, KeyPair};
use picasso_agent::monitor::schema::MonitorReport;
use picasso_agent::runtime::docker::DockerRuntime;
use picasso_agent::runtime::{Runtime, RuntimeError, LABEL_NODE};
use picasso_forwarder::app::{Answer, Client, FaceAddr};
use picasso_tlv::lp::NackReason;
use picasso_tlv::{Interest, Name};
use serde_json::{json, Value};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinSet;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// The engine the proxy forwards to.
const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// One test at a time: the first removes the image the second loads.
static ENGINE: Mutex<()> = Mutex::new(());

fn engine_lock() -> std::sync::MutexGuard<'static, ()> {
    ENGINE.lock().unwrap_or_else(|e| e.into_inner())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Removes every container of node `node` when dropped.
struct Cleanup {
    node: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let node = self.node.clone();
        // Drop cannot await (and may run inside no runtime): use a thread.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let Ok(docker) = DockerRuntime::connect(DOCKER_SOCKET).await else {
                    return;
                };
                let filter = BTreeMap::from([(LABEL_NODE.to_owned(), node)]);
                for c in docker.list(&filter).await.unwrap_or_default() {
                    let _ = docker.remove(&c.id, true).await;
                }
            })
        })
        .join();
    }
}

/// A Unix-socket proxy in front of the Docker engine, so a test can make
/// the engine unreachable for one node: [`DockerProxy::stop`] closes the
/// listener, cuts every open connection and removes the socket file.
struct DockerProxy {
    path: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl DockerProxy {
    /// Listens on `path`, forwarding each connection to [`DOCKER_SOCKET`].
    fn start(rt: &tokio::runtime::Runtime, path: &Path) -> anyhow::Result<Self> {
        let listener = rt.block_on(async { UnixListener::bind(path) })?;
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = rt.spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    r = listener.accept() => {
                        let Ok((mut down, _)) = r else { continue };
                        conns.spawn(async move {
                            if let Ok(mut up) = UnixStream::connect(DOCKER_SOCKET).await {
                                let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                            }
                        });
                    }
                }
            }
            // Dropping the set aborts every connection mid-way.
            conns.abort_all();
        });
        Ok(Self {
            path: path.to_owned(),
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `DOCKER_HOST` for the node.
    fn docker_host(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    /// Stops forwarding: the engine is unreachable through the proxy.
    fn stop(&mut self, rt: &tokio::runtime::Runtime) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), t).await });
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A running `picasso node` and where it listens.
struct NodeProc {
    proc: Proc,
    unix: PathBuf,
    http: SocketAddr,
    metrics: SocketAddr,
}

fn start_node(
    dir: &Path,
    id: &str,
    orchestrator_pub: &Path,
    env: &[(&str, &str)],
) -> anyhow::Result<NodeProc> {
    let unix = dir.join("fwd.sock");
    let unix_s = unix.display().to_string();
    let data = dir.join("data").display().to_string();
    let orch = orchestrator_pub.display().to_string();
    let args = [
        "node",
        "--id",
        id,
        "--data-dir",
        &data,
        "--orchestrator-key",
        &orch,
        "--runtime",
        "docker",
        "--fwd-unix",
        &unix_s,
        "--fwd-tcp",
        "",
        "--fwd-udp",
        "",
        "--http",
        "127.0.0.1:0",
        "--metrics",
        "127.0.0.1:0",
        "--ip",
        "127.0.0.1",
        "--monitor-interval-ms",
        "500",
    ];
    let mut env = env.to_vec();
    if !env.iter().any(|(k, _)| *k == "RUST_LOG") {
        env.push(("RUST_LOG", "info"));
    }
    let proc = Proc::start(&args, &env)?;
    let line = proc.line(Duration::from_secs(30))?;
    ensure!(line.starts_with("ready node="), "unexpected line {line:?}");
    ensure!(line.contains("runtime=docker"), "{line}");
    let field = |k: &str| -> anyhow::Result<String> {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .map(str::to_owned)
            .with_context(|| format!("no {k} in {line:?}"))
    };
    Ok(NodeProc {
        http: field("http=")?.parse()?,
        metrics: field("metrics=")?.parse()?,
        unix,
        proc,
    })
}

/// The orchestrator: its key and a face to the node's forwarder.
struct Orchestrator {
    client: Client,
    key: KeyPair,
    node: String,
}

impl Orchestrator {
    /// Sends `verb` with `params`, signed by `key`, and returns the JSON reply.
    async fn send_as(&self, key: &KeyPair, verb: &str, params: &Value) -> anyhow::Result<Value> {
        let root = Name::from_uri("/picasso")?;
        let signer = key.signer(Name::from_uri("/picasso/orchestrator/KEY")?);
        let i = signed_command(
            &root,
            &self.node,
            verb,
            params.to_string().as_bytes(),
            &signer,
            Duration::from_secs(90),
        );
        let d = self
            .client
            .express(i)
            .await
            .with_context(|| format!("no reply to {verb}"))?;
        Ok(serde_json::from_slice(&d.content())?)
    }

    async fn send(&self, verb: &str, params: &Value) -> anyhow::Result<Value> {
        self.send_as(&self.key, verb, params).await
    }

    /// A fresh monitoring report of the node.
    async fn monitor(&self) -> anyhow::Result<MonitorReport> {
        let name = Name::from_uri(&format!("/picasso/node/{}/monitor", self.node))?;
        let i = Interest::new(name)
            .with_can_be_prefix(true)
            .with_must_be_fresh(true)
            .with_lifetime_ms(4000);
        let d = self.client.express(i).await.context("no monitoring Data")?;
        ensure!(
            d.final_block_id().is_none()
                || d.final_block_id().and_then(|c| c.as_segment()) == Some(0),
            "the report should fit one segment here"
        );
        Ok(MonitorReport::from_json(&d.content())?)
    }
}

/// Two consecutive free ports on 127.0.0.1 (replica k gets port_host + k - 1).
fn free_port_pair() -> anyhow::Result<u16> {
    // Below the kernel's ephemeral range (32768–60999 here): a port the
    // kernel hands out with bind(0) may go to another test's outgoing
    // connection before Docker binds it (seen once: "address already in
    // use" at start).
    let first = 20_000 + (std::process::id() % 6_000) as u16 * 2;
    for k in 0..3_000u16 {
        let p = 20_000 + (first - 20_000 + 2 * k) % 12_000;
        let a = TcpListener::bind(("127.0.0.1", p));
        if a.is_ok() && TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return Ok(p);
        }
    }
    anyhow::bail!("no two consecutive free ports in 20000..32000")
}

/// Response headers, names in lower case.
type Headers = Vec<(String, String)>;

/// `GET path` over HTTP/1.1: (status, headers, body).
fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, Headers, Vec<u8>)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(15)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no header end")?;
    let head = String::from_utf8(raw[..end].to_vec())?;
    let body = raw[end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .context("no status")?
        .parse()?;
    let headers: Headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    if let Some((_, len)) = headers.iter().find(|(n, _)| n == "content-length") {
        ensure!(len.parse::<usize>()? == body.len(), "truncated body");
    }
    Ok((status, headers, body))
}

/// `picasso get NAME` through the node's forwarder: stdout, or the error.
fn picasso_get(unix: &Path, name: &str) -> anyhow::Result<Vec<u8>> {
    let out = Command::new(picasso_bin())
        .args(["get", "--fwd", &format!("unix:{}", unix.display()), name])
        .output()?;
    ensure!(
        out.status.success(),
        "picasso get {name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(out.stdout)
}

/// python-ndn's fetch of a service's answer: (JSON summary, body).
fn python_get(py: &Path, unix: &Path, name: &str, dir: &Path) -> anyhow::Result<(Value, Vec<u8>)> {
    let body_file = dir.join("py-body");
    let out = Command::new(py)
        .arg(Path::new(ROOT).join("tests/interop/svc_fetch.py"))
        .arg(name)
        .arg(&body_file)
        .env("NDN_CLIENT_TRANSPORT", format!("unix://{}", unix.display()))
        .output()?;
    ensure!(
        out.status.success(),
        "python-ndn fetch of {name} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)?;
    Ok((v, std::fs::read(&body_file)?))
}

/// The busybox-httpd archive, built (or up to date) under target/images-test.
async fn busybox_archive(docker: &DockerRuntime) -> anyhow::Result<images::BuiltImage> {
    // busybox-httpd needs only /bin/busybox from the host.
    let host = HostFiles::debian(PathBuf::from("/nonexistent/picasso-httpd"));
    Ok(images::build(
        docker,
        ServiceImage::BusyboxHttpd,
        &host,
        &Path::new(ROOT).join("target/images-test"),
        false,
    )
    .await?)
}

/// The last lines of a log, for failure messages.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn node_filter(node: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(LABEL_NODE.to_owned(), node.to_owned())])
}

#[test]
fn a_signed_deploy_serves_over_ndn_and_http_and_survives_the_engine_going_away(
) -> anyhow::Result<()> {
    let _engine = engine_lock();
    let py = fwd::python("the python-ndn fetches");
    let rt = runtime()?;
    let dir = tempfile::tempdir()?;
    let id = format!("e2e-{}", std::process::id());
    let _cleanup = Cleanup { node: id.clone() };
    let image = ServiceImage::BusyboxHttpd;
    let docker = rt.block_on(DockerRuntime::connect(DOCKER_SOCKET))?;
    let built = rt.block_on(busybox_archive(&docker))?;
    // The engine must not have the image: the node fetches it by name.
    rt.block_on(async {
        match docker.remove_image(image.tag()).await {
            Ok(()) | Err(RuntimeError::NoSuchImage { .. }) => {}
            Err(e) => return Err(anyhow::Error::from(e)),
        }
        ensure!(!docker.has_image(image.tag()).await?);
        anyhow::Ok(())
    })?;

    let orch_file = dir.path().join("orch.key");
    let key = keys::generate_key_files(&orch_file, false)?;
    let mut proxy = DockerProxy::start(&rt, &dir.path().join("docker-proxy.sock"))?;
    let docker_host = proxy.docker_host();
    let node = start_node(
        dir.path(),
        &id,
        &keys::public_path(&orch_file),
        &[("DOCKER_HOST", docker_host.as_str())],
    )?;
    let client = rt.block_on(Client::connect(&FaceAddr::Unix(node.unix.clone())))?;
    let orch = Orchestrator {
        client: client.clone(),
        key,
        node: id.clone(),
    };

    // The repo, on its own face: serves the archive's segments below
    // `limit` and answers Nack(NoRoute) above it (the repo going away).
    let root = Name::from_uri("/picasso")?;
    let publisher = Arc::new(ImagePublisher::from_file(
        &root,
        image.name(),
        Some(image.tag()),
        &built.archive,
        1,
        SEGMENT_SIZE,
        &orch
            .key
            .signer(Name::from_uri("/picasso/orchestrator/KEY")?),
    )?);
    let segments = publisher.manifest().segments;
    let limit = Arc::new(AtomicU64::new(segments / 2));
    let repo = rt.block_on(Client::connect(&FaceAddr::Unix(node.unix.clone())))?;
    let (p, l) = (publisher.clone(), limit.clone());
    rt.block_on(
        repo.register(publisher.prefix().clone(), move |i: Interest| {
            let seg = i.name().last().and_then(|c| c.as_segment());
            let answer = match seg {
                Some(n) if n >= l.load(Ordering::SeqCst) => Answer::Nack(NackReason::NoRoute),
                _ => p.answer(&i).into(),
            };
            async move { answer }
        }),
    )?;

    let service = "bb";
    let port = free_port_pair()?;
    let descriptor = json!({
        "imageName": image.name(), "serviceName": service, "replicas": 2,
        "port_host": port.to_string(), "port_container": "80",
        "cpu": "0.5", "memory": "64m", "healthPath": "/index.html"
    });

    // 1. The fetch is interrupted: the deploy fails at `fetch`, nothing runs.
    let r = rt.block_on(orch.send("deploy", &descriptor))?;
    ensure!(r["error"] == "failed", "{r}");
    ensure!(r["step"] == "fetch", "{r}");
    rt.block_on(async {
        ensure!(!docker.has_image(image.tag()).await?, "image loaded");
        let left = docker.list(&node_filter(&id)).await?;
        ensure!(left.is_empty(), "containers left: {left:?}");
        anyhow::Ok(())
    })?;

    // 2. The repo is back: the deploy resumes the fetch and runs two replicas.
    limit.store(u64::MAX, Ordering::SeqCst);
    let r = rt.block_on(orch.send("deploy", &descriptor))?;
    ensure!(
        r["containerId"].is_string(),
        "{r}\nnode stderr:\n{}",
        tail(&node.proc.stderr_text())
    );
    ensure!(r["imageSource"] == "repo", "{r}");
    ensure!(r["image"] == image.tag(), "{r}");
    let resumed = r["fetch"]["resumedFrom"].as_u64().context("resumedFrom")?;
    let fetched = r["fetch"]["segmentsFetched"].as_u64().context("fetched")?;
    ensure!(
        resumed >= segments / 4,
        "resumed from {resumed} of {segments}: {r}"
    );
    ensure!(resumed + fetched == segments, "{r}");
    let replicas = r["replicas"].as_array().context("replicas")?;
    ensure!(replicas.len() == 2, "{r}");
    let ids: Vec<String> = replicas
        .iter()
        .map(|x| x["containerId"].as_str().unwrap_or_default().to_owned())
        .collect();
    ensure!(ids[0] != ids[1] && !ids[0].is_empty(), "{r}");
    eprintln!(
        "deploy of {} ({} bytes, {segments} segments, resumed at {resumed}): {}",
        image.tag(),
        built.size,
        r["timings"]
    );

    // 3. The page and the picture, byte for byte, three ways.
    let html = images::page_html().as_bytes().to_vec();
    let jpeg = images::page_jpeg()?;
    for (path, want, ctype) in [
        ("/index.html", &html, "text/html"),
        ("/image.jpg", &jpeg, "image/jpeg"),
    ] {
        let name = format!("/picasso/svc/{service}{path}");
        let got = picasso_get(&node.unix, &name)?;
        ensure!(
            &got == want,
            "picasso get {name}: {} bytes, want {}",
            got.len(),
            want.len()
        );
        if let Some(py) = &py {
            let (v, body) = python_get(py, &node.unix, &name, dir.path())?;
            ensure!(v["status"] == 200, "{v}");
            ensure!(
                &body == want,
                "python-ndn {name}: {} bytes, want {}",
                body.len(),
                want.len()
            );
            if path == "/image.jpg" {
                ensure!(v["segments"].as_u64() > Some(1), "not segmented: {v}");
            }
        }
        let (status, headers, body) = http_get(node.http, &format!("/{service}{path}"))?;
        ensure!(
            status == 200,
            "ingress {path}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        ensure!(&body == want, "ingress {path}: {} bytes", body.len());
        let ct = headers
            .iter()
            .find(|(n, _)| n == "content-type")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        ensure!(ct.starts_with(ctype), "ingress {path}: content-type {ct}");
    }
    // A missing file: `picasso get` fails naming the status.
    let out = Command::new(picasso_bin())
        .args([
            "get",
            "--fwd",
            &format!("unix:{}", node.unix.display()),
            &format!("/picasso/svc/{service}/nosuch.html"),
        ])
        .output()?;
    ensure!(!out.status.success(), "a 404 must fail");
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(err.contains("HTTP status 404"), "{err}");

    // 4. Balanced: both replicas served requests.
    for _ in 0..20 {
        let (status, _, body) = http_get(node.http, &format!("/{service}/index.html"))?;
        ensure!(status == 200 && body == html, "{status}");
    }
    // Monitoring samples every 500 ms (docker stats can make a sample
    // slower): wait, bounded, for one taken after the requests.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let (report, demand) = loop {
        let report = rt.block_on(orch.monitor())?;
        let demand = report
            .services
            .iter()
            .find(|s| s.service == service)
            .cloned();
        match demand {
            Some(d) if d.replica_requests.values().sum::<u64>() >= 20 => break (report, d),
            other => {
                ensure!(
                    std::time::Instant::now() < deadline,
                    "no report with the 20 requests of {service} within 20 s: {other:?}"
                );
                std::thread::sleep(Duration::from_millis(300));
            }
        }
    };
    ensure!(
        demand.replicas == 2 && demand.healthy_replicas == 2,
        "{demand:?}"
    );
    ensure!(demand.replica_requests.len() == 2, "{demand:?}");
    for c in &ids {
        let n = demand.replica_requests.get(c).copied().unwrap_or(0);
        ensure!(n >= 5, "replica {c} served {n} requests: {demand:?}");
    }
    ensure!(
        demand.requests_total >= 20 && demand.success_rate > 0.9,
        "{demand:?}"
    );
    let (status, _, metrics) = http_get(node.metrics, "/metrics")?;
    ensure!(status == 200);
    let metrics = String::from_utf8(metrics)?;
    for c in &ids {
        ensure!(
            metrics.contains(&format!(
                "picasso_service_replica_requests_total{{node=\"{id}\",service=\"{service}\",replica=\"{c}\"}}"
            )),
            "{metrics}"
        );
    }
    ensure!(report.containers.len() == 2, "{:?}", report.containers);

    // 5. The engine goes away: a deploy fails naming the step and the
    //    engine; monitoring keeps answering; the service keeps serving.
    proxy.stop(&rt);
    let other = json!({
        "imageName": image.name(), "serviceName": "bb2",
        "port_host": free_port_pair()?.to_string(), "port_container": "80"
    });
    let r = rt.block_on(orch.send("deploy", &other))?;
    ensure!(r["error"] == "failed", "{r}");
    ensure!(r["step"] == "inspect", "{r}");
    let reason = r["reason"].as_str().unwrap_or_default();
    ensure!(
        reason.contains("docker engine unreachable") && reason.contains(&docker_host),
        "{r}"
    );
    let before = rt.block_on(orch.monitor())?;
    // New samples keep coming (bounded wait; the interval is 500 ms).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let after = loop {
        std::thread::sleep(Duration::from_millis(600));
        let r = rt.block_on(orch.monitor())?;
        if r.timestamp > before.timestamp || std::time::Instant::now() > deadline {
            break r;
        }
    };
    ensure!(after.pi_id == id, "{}", after.pi_id);
    ensure!(
        after.timestamp > before.timestamp && before.timestamp >= report.timestamp,
        "stale monitoring: {} {} {}",
        report.timestamp,
        before.timestamp,
        after.timestamp
    );
    let got = picasso_get(&node.unix, &format!("/picasso/svc/{service}/index.html"))?;
    ensure!(got == html, "the running service stopped answering");
    let stderr = node.proc.stderr_text();
    ensure!(!stderr.contains("panicked"), "the node panicked:\n{stderr}");
    drop(node);
    Ok(())
}

#[test]
fn bad_descriptors_and_forged_commands_start_nothing() -> anyhow::Result<()> {
    let _engine = engine_lock();
    let rt = runtime()?;
    let dir = tempfile::tempdir()?;
    let id = format!("e2e-bad-{}", std::process::id());
    let _cleanup = Cleanup { node: id.clone() };
    let image = ServiceImage::BusyboxHttpd;
    // The image is in the engine: a command that got through would run it.
    let docker = rt.block_on(DockerRuntime::connect(DOCKER_SOCKET))?;
    let built = rt.block_on(busybox_archive(&docker))?;
    rt.block_on(async {
        if !docker.has_image(image.tag()).await? {
            docker.load_image(&built.archive).await?;
        }
        anyhow::Ok(())
    })?;

    let orch_file = dir.path().join("orch.key");
    let key = keys::generate_key_files(&orch_file, false)?;
    let node = start_node(dir.path(), &id, &keys::public_path(&orch_file), &[])?;
    let client = rt.block_on(Client::connect(&FaceAddr::Unix(node.unix.clone())))?;
    let orch = Orchestrator {
        client,
        key,
        node: id.clone(),
    };
    let port = free_port_pair()?;
    let good = json!({
        "imageName": image.tag(), "serviceName": "bad", "replicas": 1,
        "port_host": port, "port_container": 80, "healthPath": "/index.html"
    });
    for (field, value, shown) in [
        ("port_host", json!("abc"), "\"abc\""),
        ("replicas", json!([2]), "[2]"),
        ("port_container", json!(70000), "70000"),
    ] {
        let mut d = good.clone();
        d[field] = value;
        let r = rt.block_on(orch.send("deploy", &d))?;
        ensure!(r["error"] == "invalid", "{field}: {r}");
        ensure!(r["field"] == field, "{field}: {r}");
        let reason = r["reason"].as_str().unwrap_or_default();
        ensure!(
            reason.starts_with(&format!("{field}: ")) && reason.contains(shown),
            "{field}: {r}"
        );
    }
    // A well-formed deploy signed by someone else.
    let forger = KeyPair::generate();
    let r = rt.block_on(orch.send_as(&forger, "deploy", &good))?;
    ensure!(r["error"] == "refused", "{r}");
    ensure!(
        r["reason"]
            .as_str()
            .is_some_and(|s| s.contains("does not verify")),
        "{r}"
    );
    let l = rt.block_on(orch.send("list", &json!({})))?;
    ensure!(l["containers"] == json!([]), "{l}");
    let left = rt.block_on(docker.list(&node_filter(&id)))?;
    ensure!(left.is_empty(), "containers started: {left:?}");
    drop(node);
    Ok(())
}
