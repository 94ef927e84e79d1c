//! Starting and stopping the test bed's processes: one `picasso
//! orchestrator` and N `picasso node`s, each a separate process with its
//! own embedded forwarder, linked over UDP through delaying relays
//! ([`crate::links`]), each node's containers confined to its own CPU
//! quota ([`crate::cpu`]).
//!
//! Topology: the orchestrator is linked to every node, and the nodes form
//! a line (pi1 – pi2 – … – piN), so a request entering at one node reaches
//! a replica on another over one or more emulated links.

use std::fs::File;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::api::Http;
use crate::cpu::{self, NodeCgroup};
use crate::links::Link;

/// The container runtime the test bed's nodes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    /// Docker containers.
    Docker,
    /// Local processes.
    Process,
}

impl RuntimeKind {
    /// `docker` or `process`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::Docker => "docker",
            RuntimeKind::Process => "process",
        }
    }
}

/// How to build the test bed.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Node count (≥ 1).
    pub nodes: usize,
    /// Working directory (keys, data dirs, logs, sockets).
    pub dir: PathBuf,
    /// The `picasso` binary.
    pub bin: PathBuf,
    /// Runtime of the nodes.
    pub runtime: RuntimeKind,
    /// CPUs per emulated Pi (its containers' quota); `None`: no quota.
    pub cpus_per_node: Option<f64>,
    /// One-way delay of each link (the paper: 2.5 ms, 5 ms RTT).
    pub link_delay: Duration,
    /// The orchestrator's policy.
    pub policy: String,
    /// Orchestrator tick and monitoring interval, ms.
    pub tick_ms: u64,
    /// Start the orchestrator (the experiments place replicas themselves
    /// and run without one).
    pub with_orchestrator: bool,
    /// Node ids are `<prefix>1`, `<prefix>2`, … (default `pi`); distinct
    /// prefixes let two test beds share one machine and Docker engine.
    pub node_prefix: String,
}

/// One running node.
#[derive(Debug)]
pub struct NodeProc {
    /// Its id (`pi1`, …).
    pub id: String,
    /// The process.
    pub child: Child,
    /// Its HTTP ingress.
    pub http: SocketAddr,
    /// Its forwarder's Unix socket (for by-name clients).
    pub unix: PathBuf,
    /// Its Prometheus endpoint.
    pub metrics: SocketAddr,
    /// Its forwarder's UDP face.
    pub udp: SocketAddr,
    /// Its CPU quota, when emulated.
    pub cgroup: Option<NodeCgroup>,
    /// Log file.
    pub log: PathBuf,
}

/// The running test bed.
#[derive(Debug)]
pub struct Cluster {
    /// The configuration.
    pub config: ClusterConfig,
    /// The orchestrator process.
    pub orchestrator: Option<Child>,
    /// Its API.
    pub api: Http,
    /// Its API address.
    pub api_addr: SocketAddr,
    /// Its forwarder's Unix socket.
    pub orch_unix: PathBuf,
    /// The nodes.
    pub nodes: Vec<NodeProc>,
    /// The links.
    pub links: Vec<(String, String, Link)>,
    /// What CPU emulation does here (or why it is off).
    pub cpu_note: String,
    /// What latency emulation does here.
    pub link_note: String,
    cancel: CancellationToken,
    stopped: bool,
}

/// A free TCP port on 127.0.0.1.
pub fn free_tcp() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// A free UDP port on 127.0.0.1.
pub fn free_udp() -> anyhow::Result<SocketAddr> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?)
}

fn spawn(bin: &Path, args: &[String], log: &Path) -> anyhow::Result<Child> {
    let out = File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let err = out.try_clone()?;
    Command::new(bin)
        .args(args)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        )
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // Its own process group: stopping the test bed signals the group,
        // so service processes a node started go with it.
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))
}

/// Waits until `log` has a line starting with `ready` (what `picasso node`
/// and `picasso orchestrator` print once they serve), or the process dies.
fn wait_ready(child: &mut Child, log: &Path, what: &str, within: Duration) -> anyhow::Result<()> {
    let t = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.lines().any(|l| l.starts_with("ready")) {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!(
                "{what} exited ({status}) before it was ready; its log {}:\n{}",
                log.display(),
                tail(&text, 20)
            );
        }
        if t.elapsed() > within {
            bail!(
                "{what} not ready within {within:?}; its log {}:\n{}",
                log.display(),
                tail(&text, 20)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Removes the Docker containers a previous run of node `id` left.
pub fn remove_node_containers(id: &str) {
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label=picasso.node={id}")])
        .output();
    if let Ok(out) = out {
        let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .arg("rm")
                .arg("-f")
                .args(&ids)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Cluster {
    /// The node ids of a test bed of `n` nodes.
    pub fn node_ids(prefix: &str, n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("{prefix}{i}")).collect()
    }

    /// Starts everything; on failure, stops what was started.
    pub async fn start(config: ClusterConfig) -> anyhow::Result<Cluster> {
        anyhow::ensure!(config.nodes >= 1, "nodes: at least one node is needed");
        std::fs::create_dir_all(&config.dir)
            .with_context(|| format!("cannot create {}", config.dir.display()))?;
        let dir = config.dir.canonicalize()?;
        anyhow::ensure!(
            !config.node_prefix.is_empty()
                && config
                    .node_prefix
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "node prefix: {:?} is not letters, digits and '-'",
            config.node_prefix
        );
        let ids = Self::node_ids(&config.node_prefix, config.nodes);
        if config.runtime == RuntimeKind::Docker {
            for id in &ids {
                remove_node_containers(id);
            }
        }

        // Keys: the orchestrator's and every node's.
        let orch_key = dir.join("orchestrator.key");
        picasso_agent::keys::generate_key_files(&orch_key, true)?;
        for id in &ids {
            picasso_agent::keys::generate_key_files(&dir.join(format!("{id}.key")), true)?;
        }

        // CPU emulation.
        let mut cgroups: Vec<Option<NodeCgroup>> = Vec::new();
        let mut cpu_note = String::from("off (not asked for)");
        if let Some(cpus) = config.cpus_per_node {
            match cpu::detect() {
                Ok(h) => {
                    let mut err = None;
                    for id in &ids {
                        match NodeCgroup::create(&h, id, cpus) {
                            Ok(g) => cgroups.push(Some(g)),
                            Err(e) => {
                                err = Some(e);
                                break;
                            }
                        }
                    }
                    match err {
                        None => {
                            cpu_note = format!(
                                "each node's {} confined to {cpus} CPU (cgroup parent /{}/<node>)",
                                if config.runtime == RuntimeKind::Docker {
                                    "containers"
                                } else {
                                    "service processes"
                                },
                                cpu::ROOT
                            )
                        }
                        Some(e) => {
                            for g in cgroups.drain(..).flatten() {
                                let _ = g.remove();
                            }
                            cpu_note = format!("off: {e}");
                        }
                    }
                }
                Err(e) => cpu_note = format!("off: {e}"),
            }
        }
        cgroups.resize_with(ids.len(), || None);

        let cancel = CancellationToken::new();
        let mut cluster = Cluster {
            api: Http::new("http://127.0.0.1:1", Duration::from_secs(5)),
            api_addr: "127.0.0.1:1".parse()?,
            orch_unix: dir.join("orchestrator.sock"),
            config: ClusterConfig {
                dir: dir.clone(),
                ..config
            },
            orchestrator: None,
            nodes: Vec::new(),
            links: Vec::new(),
            cpu_note,
            link_note: String::new(),
            cancel: cancel.clone(),
            stopped: false,
        };
        match cluster.launch(&ids, cgroups).await {
            Ok(()) => Ok(cluster),
            Err(e) => {
                cluster.stop();
                Err(e)
            }
        }
    }

    async fn launch(
        &mut self,
        ids: &[String],
        cgroups: Vec<Option<NodeCgroup>>,
    ) -> anyhow::Result<()> {
        let dir = self.config.dir.clone();
        let delay = self.config.link_delay;
        let orch_udp = free_udp()?;
        let node_udp: Vec<SocketAddr> = ids.iter().map(|_| free_udp()).collect::<Result<_, _>>()?;

        // Links: orchestrator–node and node–node (a line).
        let mut neighbors: Vec<Vec<String>> = vec![Vec::new(); ids.len() + 1]; // 0 = orchestrator
        let mut pairs: Vec<(usize, usize)> = if self.config.with_orchestrator {
            (1..=ids.len()).map(|i| (0, i)).collect()
        } else {
            Vec::new()
        };
        pairs.extend((1..ids.len()).map(|i| (i, i + 1)));
        let addr = |k: usize| if k == 0 { orch_udp } else { node_udp[k - 1] };
        let name = |k: usize| {
            if k == 0 {
                "orchestrator".to_owned()
            } else {
                ids[k - 1].clone()
            }
        };
        for (a, b) in pairs {
            if delay.is_zero() {
                neighbors[a].push(format!("udp://{}", addr(b)));
                neighbors[b].push(format!("udp://{}", addr(a)));
            } else {
                let link = Link::start(addr(a), addr(b), delay, self.cancel.clone()).await?;
                neighbors[a].push(format!("udp://{}", link.a_side));
                neighbors[b].push(format!("udp://{}", link.b_side));
                self.links.push((name(a), name(b), link));
            }
        }
        self.link_note = if delay.is_zero() {
            "no added latency".into()
        } else {
            format!(
                "{} ms RTT on every link by user-space UDP relays (the kernel's netem {})",
                (delay * 2).as_secs_f64() * 1000.0,
                if netem_available() {
                    "is available but would delay all loopback traffic"
                } else {
                    "qdisc is not available here"
                }
            )
        };

        // Nodes.
        for (i, id) in ids.iter().enumerate() {
            let data = dir.join(id);
            std::fs::create_dir_all(&data)?;
            let http = free_tcp()?;
            let metrics = free_tcp()?;
            let unix = dir.join(format!("{id}.sock"));
            let conf = dir.join(format!("{id}.toml"));
            let mut toml = format!("id = {id:?}\n");
            if let Some(g) = &cgroups[i] {
                toml.push_str(&format!("cgroup-parent = {:?}\n", g.parent));
            }
            std::fs::write(&conf, toml)?;
            let mut args: Vec<String> = vec![
                "node".into(),
                "--config".into(),
                conf.display().to_string(),
                "--data-dir".into(),
                data.display().to_string(),
                "--key".into(),
                dir.join(format!("{id}.key")).display().to_string(),
                "--orchestrator-key".into(),
                dir.join("orchestrator.key.pub").display().to_string(),
                "--runtime".into(),
                self.config.runtime.as_str().into(),
                "--http".into(),
                http.to_string(),
                "--metrics".into(),
                metrics.to_string(),
                "--fwd-unix".into(),
                unix.display().to_string(),
                "--fwd-tcp".into(),
                String::new(),
                "--fwd-udp".into(),
                node_udp[i].to_string(),
                "--monitor-interval-ms".into(),
                self.config.tick_ms.to_string(),
                "--ip".into(),
                "127.0.0.1".into(),
                "--worker-threads".into(),
                "2".into(),
                // The nodes share this host's cores, as real Pis do not: a
                // forwarder busy-polling for its next packet would take
                // CPU from the other nodes and the load.
                "--fwd-busy-poll-us".into(),
                "0".into(),
            ];
            for n in &neighbors[i + 1] {
                args.push("--fwd-neighbor".into());
                args.push(n.clone());
            }
            let log = dir.join(format!("{id}.log"));
            let child = spawn(&self.config.bin, &args, &log)?;
            self.nodes.push(NodeProc {
                id: id.clone(),
                child,
                http,
                unix,
                metrics,
                udp: node_udp[i],
                cgroup: cgroups[i].clone(),
                log,
            });
        }

        if !self.config.with_orchestrator {
            for n in &mut self.nodes {
                wait_ready(
                    &mut n.child,
                    &n.log,
                    &format!("node {}", n.id),
                    Duration::from_secs(30),
                )?;
            }
            return Ok(());
        }
        // The orchestrator.
        let api = free_tcp()?;
        let mut args: Vec<String> = vec![
            "orchestrator".into(),
            "--data-dir".into(),
            dir.join("orchestrator").display().to_string(),
            "--key".into(),
            dir.join("orchestrator.key").display().to_string(),
            "--api".into(),
            api.to_string(),
            "--policy".into(),
            self.config.policy.clone(),
            "--tick-ms".into(),
            self.config.tick_ms.to_string(),
            "--monitor-interval-ms".into(),
            self.config.tick_ms.to_string(),
            "--fwd-unix".into(),
            self.orch_unix.display().to_string(),
            "--fwd-tcp".into(),
            String::new(),
            "--fwd-udp".into(),
            orch_udp.to_string(),
            "--fwd-busy-poll-us".into(),
            "0".into(),
        ];
        for n in &neighbors[0] {
            args.push("--fwd-neighbor".into());
            args.push(n.clone());
        }
        for id in ids {
            args.push("--enroll".into());
            args.push(format!(
                "{id}={}",
                dir.join(format!("{id}.key.pub")).display()
            ));
        }
        let log = dir.join("orchestrator.log");
        self.orchestrator = Some(spawn(&self.config.bin, &args, &log)?);
        self.api_addr = api;
        self.api = Http::new(&format!("http://{api}"), Duration::from_secs(10));

        for n in &mut self.nodes {
            wait_ready(
                &mut n.child,
                &n.log,
                &format!("node {}", n.id),
                Duration::from_secs(30),
            )?;
        }
        let orch = self.orchestrator.as_mut().expect("just started");
        wait_ready(orch, &log, "the orchestrator", Duration::from_secs(30))?;
        Ok(())
    }

    /// Waits until the orchestrator sees every node reachable.
    pub async fn wait_all_reachable(&self, within: Duration) -> anyhow::Result<()> {
        let t = Instant::now();
        let mut last = String::new();
        while t.elapsed() < within {
            match self.api.get_json("/api/nodes").await {
                Ok(v) => {
                    let nodes = nodes_of(&v);
                    let up = nodes.iter().filter(|n| reachable(n)).count();
                    if up >= self.nodes.len() {
                        return Ok(());
                    }
                    last = format!("{up} of {} nodes reachable", self.nodes.len());
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bail!("the orchestrator did not see every node within {within:?}: {last}")
    }

    /// The node with this id.
    pub fn node(&self, id: &str) -> Option<&NodeProc> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Stops every process (SIGTERM, then SIGKILL after 5 s), removes the
    /// nodes' containers and the CPU cgroups, stops the links. Idempotent.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let mut children: Vec<&mut Child> = self.nodes.iter_mut().map(|n| &mut n.child).collect();
        if let Some(o) = self.orchestrator.as_mut() {
            children.push(o);
        }
        for c in &children {
            let _ = kill(Pid::from_raw(c.id() as i32), Signal::SIGTERM);
        }
        let groups: Vec<Pid> = children
            .iter()
            .map(|c| Pid::from_raw(c.id() as i32))
            .collect();
        let t = Instant::now();
        for c in children {
            while c.try_wait().ok().flatten().is_none() && t.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        // Whatever the nodes started and left (service processes) goes too.
        for g in groups {
            let _ = nix::sys::signal::killpg(g, Signal::SIGKILL);
        }
        if self.config.runtime == RuntimeKind::Docker {
            for n in &self.nodes {
                remove_node_containers(&n.id);
            }
        }
        for n in &self.nodes {
            if let Some(g) = &n.cgroup {
                if let Err(e) = g.remove() {
                    tracing::warn!("cgroup of {}: {e}", n.id);
                }
            }
        }
        self.cancel.cancel();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether the kernel offers the netem qdisc (`tc` answers for it).
pub fn netem_available() -> bool {
    Command::new("tc")
        .args([
            "qdisc", "add", "dev", "lo", "root", "handle", "1:", "netem", "delay", "0ms",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| {
            if s.success() {
                let _ = Command::new("tc")
                    .args(["qdisc", "del", "dev", "lo", "root"])
                    .status();
            }
            s.success()
        })
        .unwrap_or(false)
}

/// The node objects of an `/api/nodes` answer (an array, or `{"nodes": […]}`).
pub fn nodes_of(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Object(o) => match o.get("nodes") {
            Some(Value::Array(a)) => a.clone(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Whether a node object says it is reachable.
pub fn reachable(n: &Value) -> bool {
    n.get("reachable").and_then(Value::as_bool).unwrap_or(false)
}
