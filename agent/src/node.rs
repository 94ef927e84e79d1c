//! The node process (`picasso node`) as a library: a [`NodeConfig`] (TOML,
//! overridable by flags) and [`Node::start`], which brings up on one tokio
//! runtime the forwarder (embedded, or an external one over a Unix or TCP
//! face), the container runtime, the service gateway, the monitoring
//! agent, the HTTP ingress and the Prometheus `/metrics` endpoint, and
//! [`Node::shutdown`] that stops them all.
//!
//! ```text
//!  NodeConfig ──► Node::start
//!                   ├─ forwarder::daemon::Daemon::start  (or Client::connect(external_fwd))
//!                   ├─ in-process face ──► app::Client (shared by all below)
//!                   ├─ runtime::detect ──► Arc<dyn Runtime>
//!                   ├─ keys::load_or_generate(node key), orchestrator public key
//!                   ├─ Gateway::new(client)              /<root>/svc/…
//!                   ├─ Monitor::start(client, runtime, gateway, key)  /<root>/node/<id>/monitor
//!                   ├─ Ingress::bind(a face of its own)  HTTP :8080
//!                   └─ metrics listener                  GET /metrics (Prometheus text)
//!  Node::shutdown ── cancel ──► ingress, metrics, monitor, gateway, forwarder (socket removed)
//! ```
//!
//! It does not own service execution (signed commands, image fetch): that
//! module takes [`Node::client`], [`Node::runtime`], [`Node::gateway`] and
//! [`Node::orchestrator_key`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use picasso_forwarder::app::{Client, FaceAddr};
use picasso_forwarder::daemon::{self, Daemon, DaemonError};
use picasso_tlv::{Interest, Name, Verifier};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::exec::{Exec, ExecConfig, ReplicaRegistry};
use crate::gateway::{Gateway, GatewayConfig};
use crate::ingress::{Ingress, IngressConfig, IngressError};
use crate::keys::{self, KeyError, KeyPair};
use crate::monitor::{self, Monitor, MonitorConfig, MonitorError};
use crate::runtime::{self, Runtime};

/// Default HTTP ingress address.
pub const DEFAULT_HTTP: &str = "127.0.0.1:8080";
/// Default Prometheus metrics address (the OpenMetrics exporter port).
pub const DEFAULT_METRICS: &str = "127.0.0.1:9464";
/// Default data directory (node key, images).
pub const DEFAULT_DATA_DIR: &str = "/var/lib/picasso";
/// File name of the node key in the data directory.
pub const NODE_KEY_FILE: &str = "node.key";

/// Why the node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The configuration file could not be read.
    #[error("cannot read config {path}: {source}")]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration is not valid TOML or has unknown keys.
    #[error("invalid node config: {0}")]
    ParseConfig(#[from] toml::de::Error),
    /// A configured value is invalid.
    #[error("invalid config value {field}: {value:?}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// The offending value.
        value: String,
    },
    /// The embedded forwarder could not start.
    #[error("forwarder: {0}")]
    Forwarder(#[from] DaemonError),
    /// The external forwarder could not be reached.
    #[error("cannot connect to the forwarder at {addr}: {source}")]
    Connect {
        /// The face address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// A key file could not be read or written.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Service execution could not be mounted.
    #[error("service execution: {0}")]
    Exec(String),
    /// The requested container runtime is not available.
    #[error("runtime {kind}: {reason}")]
    Runtime {
        /// The runtime asked for.
        kind: String,
        /// Why it is not available.
        reason: String,
    },
    /// The HTTP ingress could not start.
    #[error(transparent)]
    Ingress(#[from] IngressError),
    /// The metrics listener could not be bound.
    #[error("cannot listen for metrics on {addr}: {source}")]
    Metrics {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The monitoring agent could not start.
    #[error(transparent)]
    Monitor(#[from] MonitorError),
}

/// The strategy the embedded forwarder uses for `<root>/svc` unless the
/// configuration names another: spreads requests over local replicas and
/// other nodes by RTT and load, and tries the next when one answers
/// Nack(Congestion).
pub const SERVICE_STRATEGY: &str = "/localhost/nfd/strategy/load-balance";

/// The node's configuration; every field but `id` has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct NodeConfig {
    /// The node id (`PiID`; the `<id>` of `/<root>/node/<id>/…`).
    pub id: String,
    /// The name root.
    pub root: String,
    /// Where the node keeps its key (and, later, images).
    pub data_dir: PathBuf,
    /// The node's Ed25519 private key file (see [`crate::keys`]); default
    /// `<data-dir>/node.key`, generated when absent.
    pub key: Option<PathBuf>,
    /// The orchestrator's Ed25519 public key file: commands must verify
    /// against it. Loaded at start and handed to service execution as
    /// [`Node::orchestrator_key`]; `None` leaves the node without a command
    /// verifier (it then refuses every command).
    pub orchestrator_key: Option<PathBuf>,
    /// Parent cgroup of the node's containers and process replicas (e.g.
    /// one per emulated Pi, with its own CPU quota): an absolute path such
    /// as `/picasso-n1` with Docker's `cgroupfs` driver (the container
    /// lands in `<mount>[/<controller>]/picasso-n1/<id>`, beside the
    /// process replicas' `…/picasso-n1/<name>`), a `name.slice` with the
    /// `systemd` driver. Process replicas default to `picasso`.
    pub cgroup_parent: Option<String>,
    /// HTTP ingress address; empty disables the ingress.
    pub http: String,
    /// Prometheus `/metrics` address; empty disables it.
    pub metrics: String,
    /// An external forwarder to attach to instead of embedding one
    /// (`unix:PATH` or `tcp:HOST:PORT`; ours or NFD); `[forwarder]` is then
    /// ignored.
    pub external_fwd: Option<String>,
    /// Container runtime: `auto` (Docker if an engine answers, else local
    /// processes), `docker` or `process`.
    pub runtime: String,
    /// Monitoring agent settings.
    pub monitor: MonitorSection,
    /// The embedded forwarder (same keys as `picasso fwd`'s config).
    pub forwarder: daemon::Config,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            id: String::new(),
            root: "/picasso".to_owned(),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            key: None,
            orchestrator_key: None,
            cgroup_parent: None,
            http: DEFAULT_HTTP.to_owned(),
            metrics: DEFAULT_METRICS.to_owned(),
            external_fwd: None,
            runtime: "auto".to_owned(),
            monitor: MonitorSection::default(),
            forwarder: daemon::Config::default(),
        }
    }
}

/// The `[monitor]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct MonitorSection {
    /// Sampling interval, ms (also the Data's FreshnessPeriod).
    pub interval_ms: u64,
    /// The address reported as `PiIP`; detected when absent.
    pub ip: Option<String>,
    /// Report every container of the engine, not only the ones PiCasso
    /// runs for this node.
    pub all_containers: bool,
}

impl Default for MonitorSection {
    fn default() -> Self {
        Self {
            interval_ms: monitor::DEFAULT_INTERVAL.as_millis() as u64,
            ip: None,
            all_containers: false,
        }
    }
}

impl NodeConfig {
    /// Reads a TOML configuration file.
    pub fn from_file(path: &Path) -> Result<Self, NodeError> {
        let text = std::fs::read_to_string(path).map_err(|source| NodeError::ReadConfig {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Parses a TOML configuration.
    pub fn from_toml(text: &str) -> Result<Self, NodeError> {
        Ok(toml::from_str(text)?)
    }

    /// The node key file: `key`, or `<data-dir>/node.key`.
    pub fn key_path(&self) -> PathBuf {
        self.key
            .clone()
            .unwrap_or_else(|| self.data_dir.join(NODE_KEY_FILE))
    }
}

/// Where a started node can be reached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeEndpoints {
    /// The embedded forwarder's listeners (empty with an external one).
    pub forwarder: daemon::Endpoints,
    /// The external forwarder attached to, if any.
    pub external_fwd: Option<String>,
    /// The HTTP ingress's bound address.
    pub http: Option<SocketAddr>,
    /// The metrics listener's bound address.
    pub metrics: Option<SocketAddr>,
}

impl std::fmt::Display for NodeEndpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        let fwd = self.forwarder.to_string();
        if !fwd.is_empty() {
            parts.push(fwd);
        }
        if let Some(e) = &self.external_fwd {
            parts.push(format!("fwd={e}"));
        }
        if let Some(a) = self.http {
            parts.push(format!("http={a}"));
        }
        if let Some(a) = self.metrics {
            parts.push(format!("metrics={a}"));
        }
        f.write_str(&parts.join(" "))
    }
}

/// A running node.
#[derive(Debug)]
pub struct Node {
    id: String,
    root: Name,
    endpoints: NodeEndpoints,
    client: Client,
    runtime: Arc<dyn Runtime>,
    gateway: Arc<Gateway>,
    monitor: Arc<Monitor>,
    /// Service execution; `None` without an orchestrator key (every
    /// command is then refused).
    exec: Option<Exec>,
    key: KeyPair,
    orchestrator_key: Option<Verifier>,
    cancel: CancellationToken,
    /// Ingress and metrics tasks.
    tasks: Vec<JoinHandle<()>>,
    /// The embedded forwarder's task, if any.
    forwarder: Option<JoinHandle<Result<(), DaemonError>>>,
}

fn invalid(field: &'static str, value: &str) -> NodeError {
    NodeError::Invalid {
        field,
        value: value.to_owned(),
    }
}

fn parse_addr(field: &'static str, s: &str) -> Result<SocketAddr, NodeError> {
    use std::net::ToSocketAddrs;
    s.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| invalid(field, s))
}

/// Mounts service execution under `<root>/node/<id>/cmd` when the node
/// knows the orchestrator's key (adopting the containers that carry its
/// labels); without the key, every command is refused with a reason.
async fn start_exec(
    config: &NodeConfig,
    root: &Name,
    client: &Client,
    runtime: &Arc<dyn Runtime>,
    gateway: &Arc<Gateway>,
    key: &KeyPair,
    orchestrator_key: Option<Verifier>,
) -> Result<Option<Exec>, NodeError> {
    let prefix = crate::exec::command_prefix(root, &config.id);
    let Some(orchestrator_key) = orchestrator_key else {
        let id = config.id.clone();
        client
            .register(prefix, move |i: Interest| {
                let id = id.clone();
                async move {
                    tracing::warn!(name = %i.name(), "command refused: no orchestrator key configured");
                    let body = serde_json::json!({
                        "error": "refused",
                        "reason": format!("node {id} has no orchestrator key configured (--orchestrator-key)"),
                    });
                    let mut d = picasso_tlv::Data::new(i.name().clone()).with_content(body.to_string().into_bytes());
                    d.sign(&picasso_tlv::Signer::DigestSha256);
                    Some(d)
                }
            })
            .await
            .map_err(|e| NodeError::Exec(e.to_string()))?;
        return Ok(None);
    };
    let mut exec_config =
        ExecConfig::new(&config.id, orchestrator_key, config.data_dir.join("images"));
    exec_config.root = root.clone();
    exec_config.node_signer = Some(key.signer(crate::monitor::key_name(root, &config.id)));
    exec_config.cgroup_parent = config.cgroup_parent.clone();
    let registry: Arc<dyn ReplicaRegistry> = gateway.clone();
    let exec = Exec::new(exec_config, runtime.clone(), client.clone(), registry);
    exec.serve(client)
        .await
        .map_err(|e| NodeError::Exec(e.to_string()))?;
    match exec.adopt().await {
        Ok(adopted) if !adopted.is_empty() => {
            tracing::info!(count = adopted.len(), "adopted running replicas");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not list containers to adopt"),
    }
    Ok(Some(exec))
}

impl Node {
    /// Starts every part of the node; on error, what was started is stopped.
    pub async fn start(config: &NodeConfig) -> Result<Self, NodeError> {
        if config.id.is_empty() || config.id.contains('/') {
            return Err(invalid("id", &config.id));
        }
        let root = Name::from_uri(&config.root).map_err(|_| invalid("root", &config.root))?;
        if config.monitor.interval_ms == 0 {
            return Err(invalid("monitor.interval-ms", "0"));
        }
        let http = (!config.http.is_empty())
            .then(|| parse_addr("http", &config.http))
            .transpose()?;
        let metrics_addr = (!config.metrics.is_empty())
            .then(|| parse_addr("metrics", &config.metrics))
            .transpose()?;
        let key = keys::load_or_generate(&config.key_path())?;
        let orchestrator_key = config
            .orchestrator_key
            .as_deref()
            .map(keys::load_public_key)
            .transpose()?;
        let runtime = pick_runtime(&config.runtime).await?;

        let cancel = CancellationToken::new();
        let mut endpoints = NodeEndpoints::default();
        // The ingress gets a face of its own: a forwarder never sends an
        // Interest back out of the face it came in on, so requests from an
        // ingress sharing the gateway's face would never reach the gateway.
        let (client, ingress_client, forwarder) = match &config.external_fwd {
            Some(addr) => {
                let face: FaceAddr = addr.parse().map_err(|_| invalid("external-fwd", addr))?;
                if matches!(face, FaceAddr::Udp(_)) {
                    // A producer needs a local face to register prefixes.
                    return Err(invalid("external-fwd", addr));
                }
                let connect = || async {
                    Client::connect(&face)
                        .await
                        .map_err(|source| NodeError::Connect {
                            addr: addr.clone(),
                            source,
                        })
                };
                let client = connect().await?;
                let ingress_client = match http {
                    Some(_) => Some(connect().await?),
                    None => None,
                };
                endpoints.external_fwd = Some(face.to_string());
                (client, ingress_client, None)
            }
            None => {
                // Services are balanced over local replicas and other
                // nodes, retried elsewhere on Nack(Congestion): the
                // load-balance strategy under <root>/svc unless the
                // configuration chose one.
                let mut fwd = config.forwarder.clone();
                let svc = format!("{}/svc", config.root.trim_end_matches('/'));
                if !fwd.strategy.iter().any(|s| s.prefix == svc) {
                    fwd.strategy.push(daemon::StrategyChoice {
                        prefix: svc,
                        strategy: SERVICE_STRATEGY.to_owned(),
                    });
                }
                let daemon = Daemon::start(&fwd).await?;
                endpoints.forwarder = daemon.endpoints().clone();
                let app_face = || async {
                    picasso_forwarder::face::in_process::connect(daemon.handle())
                        .await
                        .map(Client::from_app_face)
                        .map_err(|_| DaemonError::Stopped)
                };
                let client = app_face().await?;
                let ingress_client = match http {
                    Some(_) => Some(app_face().await?),
                    None => None,
                };
                (
                    client,
                    ingress_client,
                    Some(tokio::spawn(daemon.run(cancel.child_token()))),
                )
            }
        };
        let gateway = Arc::new(Gateway::new(
            client.clone(),
            GatewayConfig {
                root: root.clone(),
                ..GatewayConfig::default()
            },
        ));
        // This node's own containers: several nodes may share one engine
        // (a test bed), and each must report only what it runs.
        let container_labels = if config.monitor.all_containers {
            BTreeMap::new()
        } else {
            let mut l = MonitorConfig::new(&config.id).container_labels;
            l.insert(crate::runtime::LABEL_NODE.to_owned(), config.id.clone());
            l
        };
        let monitor_config = MonitorConfig {
            root: root.clone(),
            interval: Duration::from_millis(config.monitor.interval_ms),
            ip: config.monitor.ip.clone(),
            data_dir: config.data_dir.clone(),
            container_labels,
            cgroup_parent: config.cgroup_parent.clone(),
            ..MonitorConfig::new(&config.id)
        };
        let monitor = match Monitor::start(
            &client,
            monitor_config,
            runtime.clone(),
            Some(gateway.clone()),
            &key,
        )
        .await
        {
            Ok(m) => Arc::new(m),
            Err(e) => {
                gateway.shutdown();
                cancel.cancel();
                if let Some(fwd) = forwarder {
                    let _ = tokio::time::timeout(Duration::from_secs(5), fwd).await;
                }
                return Err(e.into());
            }
        };
        let exec = match start_exec(
            config,
            &root,
            &client,
            &runtime,
            &gateway,
            &key,
            orchestrator_key.clone(),
        )
        .await
        {
            Ok(e) => e,
            Err(e) => {
                monitor.shutdown();
                gateway.shutdown();
                cancel.cancel();
                if let Some(fwd) = forwarder {
                    let _ = tokio::time::timeout(Duration::from_secs(5), fwd).await;
                }
                return Err(e);
            }
        };
        let mut node = Node {
            id: config.id.clone(),
            root,
            endpoints,
            client,
            runtime,
            gateway,
            monitor,
            exec,
            key,
            orchestrator_key,
            cancel,
            tasks: Vec::new(),
            forwarder,
        };
        let ingress = http.zip(ingress_client);
        match node.open(ingress, metrics_addr).await {
            Ok(()) => Ok(node),
            Err(e) => {
                node.shutdown().await;
                Err(e)
            }
        }
    }

    /// Opens the HTTP ingress (on its own face) and the metrics listener.
    async fn open(
        &mut self,
        ingress: Option<(SocketAddr, Client)>,
        metrics_addr: Option<SocketAddr>,
    ) -> Result<(), NodeError> {
        if let Some((listen, ingress_client)) = ingress {
            let ingress = Ingress::bind(
                ingress_client,
                IngressConfig {
                    listen,
                    root: self.root.clone(),
                    ..IngressConfig::default()
                },
            )
            .await?;
            self.endpoints.http = Some(ingress.local_addr().map_err(|e| {
                NodeError::Ingress(IngressError::Bind {
                    addr: listen,
                    source: e,
                })
            })?);
            self.tasks
                .push(tokio::spawn(ingress.run(self.cancel.child_token())));
        }
        if let Some(addr) = metrics_addr {
            let bind_err = |source| NodeError::Metrics {
                addr: addr.to_string(),
                source,
            };
            let listener = TcpListener::bind(addr).await.map_err(bind_err)?;
            self.endpoints.metrics = Some(listener.local_addr().map_err(bind_err)?);
            self.tasks.push(tokio::spawn(serve_metrics(
                listener,
                self.monitor.clone(),
                self.cancel.child_token(),
            )));
        }
        Ok(())
    }

    /// The node id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the node listens.
    pub fn endpoints(&self) -> &NodeEndpoints {
        &self.endpoints
    }

    /// The node's face to its forwarder (for service execution).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The container runtime in use.
    pub fn runtime(&self) -> &Arc<dyn Runtime> {
        &self.runtime
    }

    /// Service execution, when the node has the orchestrator's key.
    pub fn exec(&self) -> Option<&Exec> {
        self.exec.as_ref()
    }

    /// The service gateway (service execution adds and removes replicas).
    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    /// The monitoring agent.
    pub fn monitor(&self) -> &Arc<Monitor> {
        &self.monitor
    }

    /// The node's key pair (signs its monitoring Data).
    pub fn key(&self) -> &KeyPair {
        &self.key
    }

    /// The verifier of the orchestrator's commands, from
    /// [`NodeConfig::orchestrator_key`].
    pub fn orchestrator_key(&self) -> Option<&Verifier> {
        self.orchestrator_key.as_ref()
    }

    /// The name the monitoring agent answers.
    pub fn monitor_name(&self) -> Name {
        monitor::monitor_name(&self.root, &self.id)
    }

    /// A token that stops the node when cancelled (see [`Node::run`]).
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Serves until `shutdown` is cancelled (or the embedded forwarder
    /// stops), then shuts down.
    pub async fn run(mut self, shutdown: CancellationToken) {
        match self.forwarder.as_mut() {
            Some(fwd) => {
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    r = fwd => {
                        tracing::error!("the forwarder stopped: {r:?}");
                        self.forwarder = None;
                    }
                }
            }
            None => shutdown.cancelled().await,
        }
        self.shutdown().await;
    }

    /// Stops the ingress, metrics, monitoring agent, gateway and the
    /// embedded forwarder (its Unix socket file is removed), and waits for
    /// them (bounded).
    pub async fn shutdown(self) {
        self.cancel.cancel();
        // Local service processes go with the node (containers stay).
        self.runtime.node_stopping();
        self.monitor.shutdown();
        self.gateway.shutdown();
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        if let Some(fwd) = self.forwarder {
            let _ = tokio::time::timeout(Duration::from_secs(5), fwd).await;
        }
        tracing::info!("node stopped");
    }
}

async fn pick_runtime(kind: &str) -> Result<Arc<dyn Runtime>, NodeError> {
    match kind {
        "auto" => Ok(runtime::detect().await),
        "docker" => {
            let endpoint = std::env::var("DOCKER_HOST")
                .unwrap_or_else(|_| runtime::docker::DEFAULT_ENDPOINT.to_owned());
            let docker = runtime::docker::DockerRuntime::connect(&endpoint)
                .await
                .map_err(|e| NodeError::Runtime {
                    kind: kind.to_owned(),
                    reason: e.to_string(),
                })?;
            Ok(Arc::new(docker))
        }
        "process" => Ok(Arc::new(runtime::process::ProcessRuntime::new())),
        other => Err(invalid("runtime", other)),
    }
}

/// Serves `GET /metrics` (Prometheus text) until `cancel`.
async fn serve_metrics(listener: TcpListener, monitor: Arc<Monitor>, cancel: CancellationToken) {
    loop {
        let stream = tokio::select! {
            _ = cancel.cancelled() => return,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let monitor = monitor.clone();
        let stop = cancel.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let monitor = monitor.clone();
                async move {
                    let resp = if req.uri().path() == "/metrics" {
                        hyper::Response::builder()
                            .header("content-type", monitor::prometheus::CONTENT_TYPE)
                            .body(Full::new(Bytes::from(monitor.prometheus())))
                    } else {
                        hyper::Response::builder()
                            .status(404)
                            .body(Full::new(Bytes::from_static(b"see /metrics\n")))
                    };
                    resp
                }
            });
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.cancelled() => {}
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_sections() {
        let c = NodeConfig::from_toml(r#"id = "n1""#).unwrap();
        assert_eq!(c.id, "n1");
        assert_eq!(c.http, DEFAULT_HTTP);
        assert_eq!(c.metrics, DEFAULT_METRICS);
        assert_eq!(c.monitor.interval_ms, 1000);
        assert_eq!(c.forwarder, daemon::Config::default());
        assert_eq!(c.key_path(), PathBuf::from("/var/lib/picasso/node.key"));
        let c = NodeConfig::from_toml(
            r#"
            id = "SEG_1"
            data-dir = "/tmp/p"
            orchestrator-key = "/etc/picasso/orchestrator.pub"
            http = ""
            runtime = "process"
            [monitor]
            interval-ms = 500
            ip = "192.0.0.2"
            [forwarder]
            unix = "/tmp/p/nfd.sock"
            tcp = ""
            "#,
        )
        .unwrap();
        assert_eq!(c.monitor.interval_ms, 500);
        assert_eq!(c.monitor.ip.as_deref(), Some("192.0.0.2"));
        assert_eq!(c.forwarder.unix, "/tmp/p/nfd.sock");
        assert_eq!(c.key_path(), PathBuf::from("/tmp/p/node.key"));
        assert_eq!(
            c.orchestrator_key.as_deref(),
            Some(Path::new("/etc/picasso/orchestrator.pub"))
        );
        let e = NodeConfig::from_toml("idd = 3").unwrap_err();
        assert!(e.to_string().contains("idd"), "{e}");
    }
}
