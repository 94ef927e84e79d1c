//! Service execution: the node's command handler for
//! `<root>/node/<id>/cmd/{deploy,stop,remove,list}`.
//!
//! Owns the authentication of commands (v0.3 signed Interests, Ed25519,
//! verified against the orchestrator's public key the node was configured
//! with; SignatureTime within a window, SignatureNonce never seen twice,
//! SignatureSeqNum increasing when present), the deploy sequence
//! (fetch → load → create → start → probe → register with the gateway)
//! with its timings and its rollback, `stop`, `remove`, `list`, and the
//! adoption of labelled containers when the agent restarts.
//!
//! It does not own the container engine (a [`Runtime`]), the image
//! transfer ([`crate::image_repo`]), nor the gateway's internals: it tells a
//! [`ReplicaRegistry`] (the [`Gateway`], or a recorder in tests) which
//! replicas are up.
//!
//! ```text
//! signed Interest ─► authenticate ─► deploy: inspect ─► fetch ─► load ─► create ─► start ─► probe ─► registry
//!                         │                 └──────── failure at any step: rollback ──────────┘
//!                         └─ refused: {"error": "refused", "reason": …} + a log line
//! ```
//!
//! Replies are Data named as the Interest, JSON content, signed by the
//! node's key when one is configured (DigestSha256 otherwise), never cached.
//! A deploy reply:
//!
//! ```text
//! { "node": "n1", "service": "S1", "image": "picasso/busybox-httpd:1", "imageSource": "repo",
//!   "containerId": "dbef…", "timings": { "fetchMs": 210.3, "loadMs": 95.1, "createMs": 40.2,
//!   "startMs": 180.7, "probeMs": 12.5, "totalMs": 540.0 },
//!   "replicas": [ { "replica": 1, "containerId": "dbef…", "name": "picasso-n1-S1-1",
//!                   "port_host": 8002, "port_container": 80, "existing": false, "timings": {…} } ],
//!   "fetch": { "resumedFrom": 0, "segmentsFetched": 155, "bytesFetched": 1234567, … } }
//! ```
//!
//! An error reply: `{ "error": "failed", "step": "start", "reason": "…",
//! "timings": {…} }` (`error` is `refused`, `invalid` (with `field`),
//! `unknown command` or `failed`).

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use picasso_forwarder::app::{Answer, Client, RegisterError};
use picasso_tlv::signature::signature_type;
use picasso_tlv::{Data, Interest, KeyLocator, Name, Signer, Verifier};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::descriptor::{Descriptor, DescriptorError, Target};
use crate::gateway::{Gateway, ReplicaEndpoint};
use crate::image_repo::{ImageFetchOptions, ImageFetchStats, ImageFetcher};
use crate::runtime::{
    managed_labels, ContainerId, ContainerInfo, ContainerSpec, ContainerState, LoadedImage,
    Runtime, RuntimeError, LABEL_MANAGED_BY, LABEL_NODE, LABEL_REPLICA, LABEL_SERVICE,
    MANAGED_BY_VALUE,
};

/// Label carrying a replica's maxUsers, so adoption restores it.
pub const LABEL_MAX_USERS: &str = "picasso.max-users";

/// Where the node tells which replicas are up: the gateway, in a node.
pub trait ReplicaRegistry: Send + Sync {
    /// A replica of `service` is up at `endpoint`.
    fn add_replica(&self, service: &str, endpoint: ReplicaEndpoint);
    /// Replica `id` of `service` is gone.
    fn remove_replica(&self, service: &str, id: &str);
}

impl ReplicaRegistry for Gateway {
    fn add_replica(&self, service: &str, endpoint: ReplicaEndpoint) {
        Gateway::add_replica(self, service, endpoint);
    }

    fn remove_replica(&self, service: &str, id: &str) {
        Gateway::remove_replica(self, service, id);
    }
}

/// Settings of the command handler.
#[derive(Debug, Clone)]
pub struct ExecConfig {
    /// This node's id (`/picasso/node/<id>/cmd`, labels, container names).
    pub node_id: String,
    /// The name root, `/picasso`.
    pub root: Name,
    /// The orchestrator's public key: only commands it signed are obeyed.
    pub orchestrator_key: Verifier,
    /// When set, a command's KeyLocator must name this key.
    pub orchestrator_key_name: Option<Name>,
    /// Signs replies when set (DigestSha256 otherwise).
    pub node_signer: Option<Signer>,
    /// Where image archives are fetched to.
    pub data_dir: PathBuf,
    /// Host address ports are published on.
    pub host_ip: String,
    /// How far a command's SignatureTime may be from the node's clock.
    pub replay_window: Duration,
    /// How long a new replica has to answer its first HTTP probe.
    pub probe_timeout: Duration,
    /// Time between probes.
    pub probe_interval: Duration,
    /// SIGTERM-to-SIGKILL time when stopping.
    pub stop_timeout: Duration,
    /// Image fetcher settings.
    pub fetch: ImageFetchOptions,
    /// Parent cgroup of the containers.
    pub cgroup_parent: Option<String>,
    /// Keep fetched archives after loading them (else they are deleted).
    pub keep_archives: bool,
}

impl ExecConfig {
    /// Defaults for node `node_id` obeying `orchestrator_key`, storing
    /// archives under `data_dir`.
    pub fn new(node_id: &str, orchestrator_key: Verifier, data_dir: PathBuf) -> Self {
        Self {
            node_id: node_id.to_owned(),
            root: Name::from_uri("/picasso").unwrap_or_default(),
            orchestrator_key,
            orchestrator_key_name: None,
            node_signer: None,
            data_dir,
            host_ip: "127.0.0.1".to_owned(),
            replay_window: Duration::from_secs(60),
            probe_timeout: Duration::from_secs(30),
            probe_interval: Duration::from_millis(50),
            stop_timeout: Duration::from_secs(5),
            fetch: ImageFetchOptions::default(),
            cgroup_parent: None,
            keep_archives: false,
        }
    }

    /// `<root>/node/<id>/cmd`.
    pub fn command_prefix(&self) -> Name {
        command_prefix(&self.root, &self.node_id)
    }
}

/// `<root>/node/<node>/cmd`.
pub fn command_prefix(root: &Name, node: &str) -> Name {
    root.append_str("node").append_str(node).append_str("cmd")
}

/// Builds a signed command Interest for `<root>/node/<node>/cmd/<verb>`
/// (v0.3: SignatureTime now, a random 8-byte SignatureNonce), carrying
/// `params` (JSON) as ApplicationParameters — what the orchestrator sends.
pub fn signed_command(
    root: &Name,
    node: &str,
    verb: &str,
    params: &[u8],
    signer: &Signer,
    lifetime: Duration,
) -> Interest {
    let mut i = Interest::new(command_prefix(root, node).append_str(verb))
        .with_app_params(Bytes::copy_from_slice(params))
        .with_lifetime_ms(lifetime.as_millis() as u64);
    let mut info = signer.signature_info();
    info.nonce = Some(Bytes::copy_from_slice(&rand::random::<u64>().to_be_bytes()));
    info.time = Some(unix_ms());
    i.sign(signer, info);
    i
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A step of a deployment; named in failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployStep {
    /// Looking at the engine's containers and images.
    Inspect,
    /// Fetching the image from the repo.
    Fetch,
    /// Loading the archive into the engine.
    Load,
    /// Creating the container.
    Create,
    /// Starting it.
    Start,
    /// Waiting for its first successful HTTP answer.
    Probe,
}

impl std::fmt::Display for DeployStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeployStep::Inspect => "inspect",
            DeployStep::Fetch => "fetch",
            DeployStep::Load => "load",
            DeployStep::Create => "create",
            DeployStep::Start => "start",
            DeployStep::Probe => "probe",
        })
    }
}

/// Time each step took, milliseconds; absent when skipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timings {
    /// Image fetch.
    #[serde(rename = "fetchMs", skip_serializing_if = "Option::is_none")]
    pub fetch: Option<f64>,
    /// Image load.
    #[serde(rename = "loadMs", skip_serializing_if = "Option::is_none")]
    pub load: Option<f64>,
    /// Container creation.
    #[serde(rename = "createMs", skip_serializing_if = "Option::is_none")]
    pub create: Option<f64>,
    /// Container start.
    #[serde(rename = "startMs", skip_serializing_if = "Option::is_none")]
    pub start: Option<f64>,
    /// Start to first successful HTTP probe.
    #[serde(rename = "probeMs", skip_serializing_if = "Option::is_none")]
    pub probe: Option<f64>,
    /// The whole command.
    #[serde(rename = "totalMs", skip_serializing_if = "Option::is_none")]
    pub total: Option<f64>,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// Why a command was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Not signed by the orchestrator, or replayed.
    #[error("refused: {0}")]
    Refused(String),
    /// The descriptor or target is invalid.
    #[error("invalid: {0}")]
    Invalid(#[from] DescriptorError),
    /// No such verb.
    #[error("unknown command {0:?}")]
    UnknownVerb(String),
    /// A step failed; everything this command did was rolled back.
    #[error("{step} failed: {reason}")]
    Failed {
        /// The step.
        step: DeployStep,
        /// What went wrong.
        reason: String,
        /// Steps done before the failure.
        timings: Timings,
    },
}

impl CommandError {
    /// The JSON error reply.
    pub fn to_json(&self) -> Value {
        match self {
            CommandError::Refused(reason) => json!({"error": "refused", "reason": reason}),
            CommandError::Invalid(e) => {
                json!({"error": "invalid", "field": e.field, "reason": e.to_string()})
            }
            CommandError::UnknownVerb(v) => {
                json!({"error": "unknown command", "reason": format!("no command {v:?}")})
            }
            CommandError::Failed {
                step,
                reason,
                timings,
            } => {
                json!({"error": "failed", "step": step, "reason": format!("{step}: {reason}"), "timings": timings})
            }
        }
    }
}

/// One replica in a deploy reply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicaReport {
    /// Replica number (1-based).
    pub replica: u32,
    /// The container.
    #[serde(rename = "containerId")]
    pub container_id: ContainerId,
    /// The container's name.
    pub name: String,
    /// Host port.
    pub port_host: Option<u16>,
    /// Container port.
    pub port_container: Option<u16>,
    /// True when it was already running (nothing was done).
    pub existing: bool,
    /// create/start/probe times of this replica.
    pub timings: Timings,
    /// How its CPU and memory limits are enforced, when it was started
    /// with some: `engine` (Docker's HostConfig), or the process runtime's
    /// account (`cgroup-v2 …`, `cgroup-v1 …`, `rlimit-as …; cpu not enforced …`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<String>,
}

/// The reply to a successful deploy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployReport {
    /// This node.
    pub node: String,
    /// The service.
    pub service: String,
    /// The engine reference the replicas run.
    pub image: String,
    /// `engine` (already there), `repo` (fetched and loaded) or `none`
    /// (every replica already ran).
    #[serde(rename = "imageSource")]
    pub image_source: String,
    /// The first replica's container.
    #[serde(rename = "containerId")]
    pub container_id: ContainerId,
    /// fetch and load, the first new replica's create/start/probe, total.
    pub timings: Timings,
    /// Every replica asked for.
    pub replicas: Vec<ReplicaReport>,
    /// What the image fetch did, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch: Option<ImageFetchStats>,
}

/// Replay memory: nonces seen within the window, the last SeqNum.
#[derive(Debug, Default)]
struct ReplayGuard {
    nonces: HashMap<Bytes, Instant>,
    last_seq: Option<u64>,
}

/// Most nonces remembered (bounds memory under a flood of valid commands).
const MAX_NONCES: usize = 100_000;

struct Inner {
    config: ExecConfig,
    runtime: Arc<dyn Runtime>,
    registry: Arc<dyn ReplicaRegistry>,
    fetcher: ImageFetcher,
    replay: Mutex<ReplayGuard>,
    /// One state-changing command at a time: no duplicate replicas from
    /// concurrent deploys.
    serial: tokio::sync::Mutex<()>,
}

/// The node's service execution: command handler and deployer.
#[derive(Clone)]
pub struct Exec {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Exec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exec")
            .field("node", &self.inner.config.node_id)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Updates under this lock are single steps: a poisoned lock still
    // guards consistent data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn failed(step: DeployStep, timings: &Timings) -> impl FnOnce(String) -> CommandError + '_ {
    move |reason| CommandError::Failed {
        step,
        reason,
        timings: timings.clone(),
    }
}

impl Exec {
    /// Service execution on `runtime`, fetching images through `client`,
    /// reporting replicas to `registry`.
    pub fn new(
        config: ExecConfig,
        runtime: Arc<dyn Runtime>,
        client: Client,
        registry: Arc<dyn ReplicaRegistry>,
    ) -> Self {
        let fetcher = ImageFetcher::new(
            client,
            config.root.clone(),
            config.orchestrator_key.clone(),
            config.data_dir.join("images"),
            config.fetch.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                config,
                runtime,
                registry,
                fetcher,
                replay: Mutex::default(),
                serial: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ExecConfig {
        &self.inner.config
    }

    /// Registers `<root>/node/<id>/cmd` on `client`'s forwarder and answers
    /// the commands under it.
    pub async fn serve(&self, client: &Client) -> Result<(), RegisterError> {
        let me = self.clone();
        client
            .register(self.inner.config.command_prefix(), move |i: Interest| {
                let me = me.clone();
                async move { Answer::DataNoCache(me.handle(i).await) }
            })
            .await?;
        Ok(())
    }

    /// Answers one command Interest: the reply Data (JSON result or error).
    pub async fn handle(&self, interest: Interest) -> Data {
        let content = match self.dispatch(&interest).await {
            Ok(v) => v,
            Err(e) => {
                match &e {
                    CommandError::Refused(reason) => {
                        tracing::warn!(name = %interest.name(), %reason, "command refused")
                    }
                    other => {
                        tracing::info!(name = %interest.name(), error = %other, "command failed")
                    }
                }
                e.to_json()
            }
        };
        let mut d = Data::new(interest.name().clone()).with_content(content.to_string());
        match &self.inner.config.node_signer {
            Some(s) => d.sign(s),
            None => d.sign(&Signer::DigestSha256),
        };
        d
    }

    async fn dispatch(&self, interest: &Interest) -> Result<Value, CommandError> {
        self.authenticate(interest)?;
        let prefix = self.inner.config.command_prefix();
        let verb = interest
            .name()
            .get(prefix.len())
            .filter(|_| prefix.is_prefix_of(interest.name()))
            .map(|c| String::from_utf8_lossy(c.value()).into_owned())
            .unwrap_or_default();
        let params = interest.app_params().cloned().unwrap_or_default();
        match verb.as_str() {
            "deploy" => {
                let d = Descriptor::from_json(&params)?;
                Ok(serde_json::to_value(self.deploy(&d).await?).unwrap_or(Value::Null))
            }
            "stop" => {
                let t = Target::from_json(&params)?;
                let ids = self.stop(&t).await?;
                Ok(json!({"node": self.inner.config.node_id, "stopped": ids}))
            }
            "remove" => {
                let t = Target::from_json(&params)?;
                let ids = self.remove(&t).await?;
                Ok(json!({"node": self.inner.config.node_id, "removed": ids}))
            }
            "list" => {
                let list = self.list().await.map_err(|e| CommandError::Failed {
                    step: DeployStep::Inspect,
                    reason: e.to_string(),
                    timings: Timings::default(),
                })?;
                Ok(json!({"node": self.inner.config.node_id, "containers": list}))
            }
            other => Err(CommandError::UnknownVerb(other.to_owned())),
        }
    }

    /// Checks that `interest` is a fresh command signed by the orchestrator.
    pub fn authenticate(&self, interest: &Interest) -> Result<(), CommandError> {
        let refuse = |r: String| Err(CommandError::Refused(r));
        let config = &self.inner.config;
        let Some(info) = interest.signature_info() else {
            return refuse("unsigned command".to_owned());
        };
        if info.signature_type != signature_type::ED25519 {
            return refuse(format!(
                "signature type {} is not Ed25519",
                info.signature_type
            ));
        }
        if let Some(want) = &config.orchestrator_key_name {
            match &info.key_locator {
                Some(KeyLocator::Name(n)) if n == want => {}
                Some(KeyLocator::Name(n)) => {
                    return refuse(format!("key {n} is not the orchestrator key {want}"))
                }
                _ => return refuse(format!("no KeyLocator naming the orchestrator key {want}")),
            }
        }
        if interest.verify(&config.orchestrator_key).is_err() {
            return refuse("signature does not verify with the orchestrator key".to_owned());
        }
        let Some(time) = info.time else {
            return refuse("no SignatureTime".to_owned());
        };
        let now = unix_ms();
        let window = config.replay_window.as_millis() as u64;
        if now.abs_diff(time) > window {
            return refuse(format!(
                "SignatureTime {time} is {} ms off the node's clock (window {window} ms)",
                now.abs_diff(time)
            ));
        }
        let Some(nonce) = &info.nonce else {
            return refuse("no SignatureNonce".to_owned());
        };
        let mut guard = lock(&self.inner.replay);
        let now_i = Instant::now();
        if let Some(seen) = guard.nonces.get(nonce) {
            if *seen > now_i {
                return refuse(format!(
                    "replayed: SignatureNonce {} seen before",
                    hex::encode(nonce)
                ));
            }
        }
        if let (Some(seq), Some(last)) = (info.seq_num, guard.last_seq) {
            if seq <= last {
                return refuse(format!(
                    "replayed: SignatureSeqNum {seq} is not above {last}"
                ));
            }
        }
        if guard.nonces.len() >= MAX_NONCES {
            guard.nonces.retain(|_, until| *until > now_i);
            if guard.nonces.len() >= MAX_NONCES {
                return refuse("too many commands within the replay window".to_owned());
            }
        }
        // A nonce is remembered for as long as its time can pass the check.
        guard
            .nonces
            .insert(nonce.clone(), now_i + config.replay_window * 2);
        if let Some(seq) = info.seq_num {
            guard.last_seq = Some(seq);
        }
        Ok(())
    }

    fn labels(&self, service: &str, replica: Option<u32>) -> BTreeMap<String, String> {
        let mut l = BTreeMap::from([
            (LABEL_MANAGED_BY.to_owned(), MANAGED_BY_VALUE.to_owned()),
            (LABEL_NODE.to_owned(), self.inner.config.node_id.clone()),
            (LABEL_SERVICE.to_owned(), service.to_owned()),
        ]);
        if let Some(r) = replica {
            l.insert(LABEL_REPLICA.to_owned(), r.to_string());
        }
        l
    }

    fn probe_ip(&self) -> IpAddr {
        match self.inner.config.host_ip.parse::<IpAddr>() {
            Ok(ip) if !ip.is_unspecified() => ip,
            _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }

    fn container_name(&self, service: &str, replica: u32) -> String {
        let node: String = self
            .inner
            .config
            .node_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        format!("picasso-{node}-{service}-{replica}")
    }

    /// Deploys `d`: makes replicas 1..=`d.replicas` of the service run (or
    /// exactly replica `d.replica`), fetching and loading the image when
    /// the engine lacks it. A replica already running is reported as it is
    /// (`existing`), never started twice. On failure everything this call
    /// did is undone and the error names the step.
    pub async fn deploy(&self, d: &Descriptor) -> Result<DeployReport, CommandError> {
        let _serial = self.inner.serial.lock().await;
        let started = Instant::now();
        let rt = &self.inner.runtime;
        let mut timings = Timings::default();
        let service = d.service_name.as_str();

        let existing = rt
            .list(&self.labels(service, None))
            .await
            .map_err(|e| failed(DeployStep::Inspect, &timings)(e.to_string()))?;
        let replica_of = |c: &ContainerInfo| {
            c.labels
                .get(LABEL_REPLICA)
                .and_then(|r| r.parse::<u32>().ok())
        };
        let running = |r: u32| {
            existing
                .iter()
                .find(|c| replica_of(c) == Some(r) && c.state == ContainerState::Running)
        };
        let wanted = d.replica_numbers();
        let needed: Vec<u32> = wanted
            .iter()
            .copied()
            .filter(|r| running(*r).is_none())
            .collect();

        // The image.
        let mut image = d.image_name.clone();
        let mut image_source = "none";
        let mut loaded: Option<LoadedImage> = None;
        let mut fetch_stats = None;
        if !needed.is_empty() {
            image_source = "engine";
            let present = rt
                .has_image(&d.image_name)
                .await
                .map_err(|e| failed(DeployStep::Inspect, &timings)(e.to_string()))?;
            if !present {
                let t = Instant::now();
                let manifest = self
                    .inner
                    .fetcher
                    .manifest(&d.image_name)
                    .await
                    .map_err(|e| failed(DeployStep::Fetch, &timings)(e.to_string()))?;
                let tagged = match &manifest.tag {
                    Some(tag) => rt
                        .has_image(tag)
                        .await
                        .map_err(|e| failed(DeployStep::Inspect, &timings)(e.to_string()))?,
                    None => false,
                };
                if tagged {
                    image = manifest.tag.clone().unwrap_or_default();
                } else {
                    image_source = "repo";
                    let fetched = self
                        .inner
                        .fetcher
                        .fetch_current(&manifest)
                        .await
                        .map_err(|e| failed(DeployStep::Fetch, &timings)(e.to_string()))?;
                    // The version fetched may be newer than the manifest
                    // asked for first (republished meanwhile).
                    let manifest = fetched.manifest.clone();
                    timings.fetch = Some(ms(t.elapsed()));
                    fetch_stats = Some(fetched.stats.clone());
                    let t = Instant::now();
                    let result = rt.load_image(&fetched.path).await;
                    if !self.inner.config.keep_archives {
                        let _ = std::fs::remove_file(&fetched.path);
                    }
                    let l = match result {
                        Ok(l) => l,
                        Err(e) => {
                            // A failed load may still have left an image.
                            if let Some(tag) = &manifest.tag {
                                let _ = rt.remove_image(tag).await;
                            }
                            return Err(failed(DeployStep::Load, &timings)(e.to_string()));
                        }
                    };
                    timings.load = Some(ms(t.elapsed()));
                    image = match &manifest.tag {
                        Some(tag) if l.tags.contains(tag) => tag.clone(),
                        _ => l.tags.first().cloned().unwrap_or_else(|| l.id.clone()),
                    };
                    loaded = Some(l);
                }
            }
        }

        // The replicas.
        let mut created: Vec<ContainerId> = Vec::new();
        let mut reports = Vec::new();
        let mut first_new: Option<Timings> = None;
        let result = async {
            for &r in &wanted {
                if let Some(c) = running(r) {
                    reports.push(ReplicaReport {
                        replica: r,
                        container_id: c.id.clone(),
                        name: c.name.clone(),
                        port_host: c.port_host,
                        port_container: c.port_container,
                        existing: true,
                        timings: Timings::default(),
                        limits: None,
                    });
                    continue;
                }
                // A stopped or never-started replica is replaced.
                for c in existing.iter().filter(|c| replica_of(c) == Some(r)) {
                    rt.remove(&c.id, true)
                        .await
                        .map_err(|e| failed(DeployStep::Create, &timings)(e.to_string()))?;
                }
                let mut rt_timings = Timings::default();
                let mut labels = managed_labels(service, r, &self.inner.config.node_id);
                labels.insert(LABEL_MAX_USERS.to_owned(), d.max_users.to_string());
                let spec = ContainerSpec {
                    name: self.container_name(service, r),
                    image: image.clone(),
                    command: d.command.clone(),
                    env: d.env_list(),
                    host_ip: self.inner.config.host_ip.clone(),
                    port_host: d.port_host_of(r),
                    port_container: d.port_container,
                    cpu_limit: d.cpu,
                    memory_limit: d.memory,
                    labels,
                    cgroup_parent: self.inner.config.cgroup_parent.clone(),
                };
                let t = Instant::now();
                let id = rt
                    .create(&spec)
                    .await
                    .map_err(|e| failed(DeployStep::Create, &timings)(e.to_string()))?;
                rt_timings.create = Some(ms(t.elapsed()));
                created.push(id.clone());
                let t = Instant::now();
                rt.start(&id)
                    .await
                    .map_err(|e| failed(DeployStep::Start, &timings)(e.to_string()))?;
                rt_timings.start = Some(ms(t.elapsed()));
                let limits = if d.cpu.is_some() || d.memory.is_some() {
                    let listed = rt.list(&self.labels(service, Some(r))).await.ok();
                    let told = listed
                        .iter()
                        .flatten()
                        .find(|c| c.id == id)
                        .and_then(|c| c.labels.get(crate::runtime::process::LABEL_LIMITS))
                        .cloned();
                    Some(told.unwrap_or_else(|| "engine".to_owned()))
                } else {
                    None
                };
                if let Some(port) = spec.port_host {
                    let t = Instant::now();
                    self.probe(port, &d.health_path)
                        .await
                        .map_err(failed(DeployStep::Probe, &timings))?;
                    rt_timings.probe = Some(ms(t.elapsed()));
                }
                first_new.get_or_insert_with(|| rt_timings.clone());
                reports.push(ReplicaReport {
                    replica: r,
                    container_id: id,
                    name: spec.name,
                    port_host: spec.port_host,
                    port_container: spec.port_container,
                    existing: false,
                    timings: rt_timings,
                    limits,
                });
            }
            Ok::<(), CommandError>(())
        }
        .await;

        if let Err(e) = result {
            self.roll_back(&created, loaded.as_ref()).await;
            return Err(e);
        }
        for rep in reports.iter().filter(|r| !r.existing) {
            if let Some(port) = rep.port_host {
                self.inner.registry.add_replica(
                    service,
                    ReplicaEndpoint {
                        id: rep.container_id.0.clone(),
                        addr: SocketAddr::new(self.probe_ip(), port),
                        max_users: d.max_users as usize,
                    },
                );
            }
        }
        if let Some(t) = first_new {
            timings.create = t.create;
            timings.start = t.start;
            timings.probe = t.probe;
        }
        timings.total = Some(ms(started.elapsed()));
        let report = DeployReport {
            node: self.inner.config.node_id.clone(),
            service: service.to_owned(),
            image,
            image_source: image_source.to_owned(),
            container_id: reports
                .first()
                .map(|r| r.container_id.clone())
                .unwrap_or_else(|| ContainerId(String::new())),
            timings,
            replicas: reports,
            fetch: fetch_stats,
        };
        tracing::info!(
            service,
            node = %report.node,
            container = %report.container_id,
            timings = ?report.timings,
            "deployed"
        );
        Ok(report)
    }

    /// Undoes a failed deploy: removes the containers it created and the
    /// image it loaded.
    async fn roll_back(&self, created: &[ContainerId], loaded: Option<&LoadedImage>) {
        let rt = &self.inner.runtime;
        for id in created {
            if let Err(e) = rt.remove(id, true).await {
                tracing::warn!(container = %id, error = %e, "rollback: container not removed");
            }
        }
        if let Some(l) = loaded {
            for tag in &l.tags {
                let _ = rt.remove_image(tag).await;
            }
            if !l.id.is_empty() {
                let _ = rt.remove_image(&l.id).await;
            }
        }
    }

    /// GETs `path` on the replica's host port until it answers (any status
    /// below 400) or the probe timeout passes.
    async fn probe(&self, port: u16, path: &str) -> Result<(), String> {
        let addr = SocketAddr::new(self.probe_ip(), port);
        let deadline = Instant::now() + self.inner.config.probe_timeout;
        loop {
            let last =
                match tokio::time::timeout(Duration::from_secs(2), http_status(addr, path)).await {
                    Ok(Ok(status)) if status < 400 => return Ok(()),
                    Ok(Ok(status)) => format!("GET {path} answered {status}"),
                    Ok(Err(e)) => format!("GET {path}: {e}"),
                    Err(_) => format!("GET {path}: no answer within 2 s"),
                };
            if Instant::now() >= deadline {
                return Err(format!(
                    "{addr} did not answer within {:?}: {last}",
                    self.inner.config.probe_timeout
                ));
            }
            tokio::time::sleep(self.inner.config.probe_interval).await;
        }
    }

    /// Stops the target's replicas; returns their ids.
    pub async fn stop(&self, t: &Target) -> Result<Vec<ContainerId>, CommandError> {
        let _serial = self.inner.serial.lock().await;
        let rt = &self.inner.runtime;
        let none = Timings::default();
        let list = rt
            .list(&self.labels(&t.service_name, t.replica))
            .await
            .map_err(|e| failed(DeployStep::Inspect, &none)(e.to_string()))?;
        let mut ids = Vec::new();
        for c in list {
            self.inner.registry.remove_replica(&t.service_name, &c.id.0);
            rt.stop(&c.id, self.inner.config.stop_timeout)
                .await
                .map_err(|e| failed(DeployStep::Inspect, &none)(e.to_string()))?;
            ids.push(c.id);
        }
        Ok(ids)
    }

    /// Removes the target's replicas (stopping them first); returns their ids.
    pub async fn remove(&self, t: &Target) -> Result<Vec<ContainerId>, CommandError> {
        let _serial = self.inner.serial.lock().await;
        let rt = &self.inner.runtime;
        let none = Timings::default();
        let list = rt
            .list(&self.labels(&t.service_name, t.replica))
            .await
            .map_err(|e| failed(DeployStep::Inspect, &none)(e.to_string()))?;
        let mut ids = Vec::new();
        for c in list {
            self.inner.registry.remove_replica(&t.service_name, &c.id.0);
            rt.remove(&c.id, true)
                .await
                .map_err(|e| failed(DeployStep::Inspect, &none)(e.to_string()))?;
            ids.push(c.id);
        }
        Ok(ids)
    }

    /// The containers this node manages (its labels), running or not.
    pub async fn list(&self) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let labels = BTreeMap::from([
            (LABEL_MANAGED_BY.to_owned(), MANAGED_BY_VALUE.to_owned()),
            (LABEL_NODE.to_owned(), self.inner.config.node_id.clone()),
        ]);
        self.inner.runtime.list(&labels).await
    }

    /// At startup: registers every running container carrying this node's
    /// labels with the registry; returns them.
    pub async fn adopt(&self) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let mut adopted = Vec::new();
        for c in self.list().await? {
            let Some(service) = c.labels.get(LABEL_SERVICE).cloned() else {
                continue;
            };
            if c.state != ContainerState::Running {
                tracing::info!(container = %c.id, %service, state = %c.state, "not adopting a replica that does not run");
                continue;
            }
            if let Some(port) = c.port_host {
                let max_users = c
                    .labels
                    .get(LABEL_MAX_USERS)
                    .and_then(|m| m.parse().ok())
                    .unwrap_or(0);
                self.inner.registry.add_replica(
                    &service,
                    ReplicaEndpoint {
                        id: c.id.0.clone(),
                        addr: SocketAddr::new(self.probe_ip(), port),
                        max_users,
                    },
                );
            }
            tracing::info!(container = %c.id, %service, "adopted");
            adopted.push(c);
        }
        Ok(adopted)
    }
}

/// One `GET path` over a new connection; the response's status code.
async fn http_status(addr: SocketAddr, path: &str) -> std::io::Result<u16> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: picasso-probe\r\n\r\n")
            .as_bytes(),
    )
    .await?;
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .filter(|_| line.starts_with("HTTP/"))
        .ok_or_else(|| std::io::Error::other("not an HTTP response"))
}
