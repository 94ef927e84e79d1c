//! The orchestrator process (`picasso orchestrator`) as a library: an
//! [`OrchestratorConfig`] (TOML, overridable by flags) and
//! [`Orchestrator::start`], which brings up on one tokio runtime an
//! embedded forwarder (a node of the NDN network like any other; its
//! router announces what the orchestrator serves), the service repo
//! served by name, the monitoring manager over the enrolled nodes, the
//! deployer, the tick loop and the HTTP API ([`crate::api`]).
//!
//! ```text
//!  Orchestrator::start
//!    ├─ forwarder::daemon::Daemon::start ── in-process face ──► app::Client
//!    ├─ key (load or generate)            signs commands, manifests, specs
//!    ├─ Repo::open(data/repo).serve       /<root>/repo/spec/…, /<root>/repo/image/…
//!    ├─ /<root>/svc (cost svc-cost)       requests for services that run nowhere
//!    ├─ MonitoringManager + enroll        /<root>/node/<id>/monitor
//!    ├─ Deployer (data/desired.json)      /<root>/node/<id>/cmd/…
//!    ├─ state.json                        policy, enrolled nodes, operator intent
//!    ├─ tick every tick-ms:
//!    │     view = monitoring.view() + deployer.in_flight() + unserved requests
//!    │     plan = operator pins ─► availability ─► policy ─► operator counts
//!    │     deployer.apply(plan); deployer.reconcile(view); decisions logged
//!    └─ api::serve                        HTTP JSON API + GET /metrics
//! ```
//!
//! **Requests for services that run nowhere.** The orchestrator registers
//! `/<root>/svc` with a high cost (`svc-cost`), so only Interests no node
//! serves (no longer prefix `/<root>/svc/<service>` is routed) reach it.
//! Each is recorded as a [`UnservedRequest`] for the next tick and
//! answered at once with a Nack (NoRoute): the consumer learns quickly
//! that the service is not there yet and retries; the `on-demand` policy
//! deploys it near the requester meanwhile. The requester is named by an
//! optional `from=<node>` component after the service
//! (`/<root>/svc/<service>/from=<node>/…`); a forwarder face does not
//! name a node, so without it `from_node` is unknown.
//!
//! **Restart.** Desired placements come back from `desired.json`, the
//! operator's intent, policy and enrolled nodes from `state.json`. The
//! engine plans only once every enrolled node has reported since the
//! start, or after a grace of [`STARTUP_GRACE_MS`] (at least 4 × the
//! polls a node may miss), so a node whose route is not learned yet is
//! not mistaken for one without replicas; the deployer reconciles from
//! the first tick.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use picasso_agent::keys::{self, KeyError, KeyPair};
use picasso_forwarder::app::{Answer, Client};
use picasso_forwarder::daemon::{self, Daemon, DaemonError};
use picasso_tlv::lp::NackReason;
use picasso_tlv::mgmt::ControlParameters;
use picasso_tlv::{Interest, Name, Verifier};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::deployer::{Deployer, DeployerConfig, DeployerError, SpecLookup};
use crate::engine::{
    self, availability, Action, Decision, EngineConfig, EngineState, Plan, Planner, Policy, Replica,
};
use crate::monitoring::{MonitoringConfig, MonitoringManager};
use crate::repo::{Repo, RepoError};
use crate::spec::ServiceSpec;
use crate::state::{OperatorIntent, OrchestratorState, PortBook, StateError, STATE_FILE};
use crate::view::{ClusterView, UnservedRequest};

/// Default API address.
pub const DEFAULT_API: &str = "127.0.0.1:7070";
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/picasso-orchestrator";
/// File name of the orchestrator key in the data directory.
pub const KEY_FILE: &str = "orchestrator.key";
/// Shortest wait after the start before the engine plans while an
/// enrolled node has not reported yet.
pub const STARTUP_GRACE_MS: u64 = 10_000;
/// Most distinct (service, requester) pairs of unserved requests kept
/// between two ticks (and of remembered holds).
pub const MAX_UNSERVED: usize = 4096;
/// Default policy.
pub const DEFAULT_POLICY: &str = "threshold";

/// Why the orchestrator could not start or an operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum OrchestratorError {
    /// The configuration file could not be read.
    #[error("cannot read config {path}: {source}")]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration is not valid TOML or has unknown keys.
    #[error("invalid orchestrator config: {0}")]
    ParseConfig(#[from] toml::de::Error),
    /// A value is invalid (the message names the field).
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
    /// The embedded forwarder could not start.
    #[error("forwarder: {0}")]
    Forwarder(#[from] DaemonError),
    /// A key file could not be read or written.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The repo failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// The deployer's state failed.
    #[error(transparent)]
    Deployer(#[from] DeployerError),
    /// The durable state failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// A name could not be registered on the forwarder.
    #[error("cannot register {prefix}: {reason}")]
    Register {
        /// The prefix.
        prefix: String,
        /// Why.
        reason: String,
    },
    /// The API listener could not be bound.
    #[error("cannot listen for the API on {addr}: {source}")]
    Api {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

fn invalid(field: &str, reason: impl Into<String>) -> OrchestratorError {
    OrchestratorError::Invalid {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// The orchestrator's configuration; every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct OrchestratorConfig {
    /// Its id (the routing node name when the forwarder's is not set).
    pub id: String,
    /// The name root.
    pub root: String,
    /// Repo, desired state, enrolled nodes, chosen policy.
    pub data_dir: PathBuf,
    /// The Ed25519 private key file (default `<data-dir>/orchestrator.key`,
    /// generated when absent, as `picasso keygen` writes it).
    pub key: Option<PathBuf>,
    /// HTTP API and `/metrics` address.
    pub api: String,
    /// The policy (`threshold`, `qos`, `on-demand`); absent: the one
    /// chosen last (kept in the data dir), else `threshold`.
    pub policy: Option<String>,
    /// Milliseconds between ticks of the engine.
    pub tick_ms: u64,
    /// Milliseconds between monitoring polls of each node.
    pub monitor_interval_ms: u64,
    /// Polls a node may miss before it is unreachable.
    pub missed_polls: u32,
    /// Nodes to enroll: `ID=PUBKEYFILE` (the node's `.pub` key file).
    pub enroll: Vec<String>,
    /// Route cost of `/<root>/svc` (high: any node serving a service wins).
    pub svc_cost: u64,
    /// Decisions kept for the API.
    pub max_decisions: usize,
    /// First host port given to replicas whose spec sets no `port_host`
    /// (blocks of 32 per service and node, distinct cluster-wide).
    pub port_base: u16,
    /// The engine's tunables (`[engine]`: thresholds, cool-downs, idle
    /// time, model constants; see [`EngineConfig`]).
    pub engine: EngineConfig,
    /// The embedded forwarder (same keys as `picasso fwd`'s config).
    pub forwarder: daemon::Config,
}

impl Default for OrchestratorConfig {
    fn default() -> Self {
        Self {
            id: "orchestrator".to_owned(),
            root: "/picasso".to_owned(),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            key: None,
            api: DEFAULT_API.to_owned(),
            policy: None,
            tick_ms: 1000,
            monitor_interval_ms: 1000,
            missed_polls: 3,
            enroll: Vec::new(),
            svc_cost: 10_000,
            max_decisions: 512,
            port_base: 20_000,
            engine: EngineConfig::default(),
            forwarder: daemon::Config::default(),
        }
    }
}

impl OrchestratorConfig {
    /// Reads a TOML configuration file.
    pub fn from_file(path: &Path) -> Result<Self, OrchestratorError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| OrchestratorError::ReadConfig {
                path: path.to_path_buf(),
                source,
            })?;
        Self::from_toml(&text)
    }

    /// Parses a TOML configuration.
    pub fn from_toml(text: &str) -> Result<Self, OrchestratorError> {
        Ok(toml::from_str(text)?)
    }

    /// The key file: `key`, or `<data-dir>/orchestrator.key`.
    pub fn key_path(&self) -> PathBuf {
        self.key
            .clone()
            .unwrap_or_else(|| self.data_dir.join(KEY_FILE))
    }
}

/// `ID=FILE` of `--enroll`.
pub fn parse_enroll(spec: &str) -> Result<(String, PathBuf), OrchestratorError> {
    match spec.split_once('=') {
        Some((id, file)) if !id.is_empty() && !id.contains('/') && !file.is_empty() => {
            Ok((id.to_owned(), PathBuf::from(file)))
        }
        _ => Err(invalid("enroll", format!("{spec:?} is not ID=PUBKEYFILE"))),
    }
}

/// A verifier from a hex Ed25519 public key (`field` names it in errors).
pub fn verifier_from_hex(field: &str, hex_key: &str) -> Result<Verifier, OrchestratorError> {
    let bytes = hex::decode(hex_key.trim())
        .map_err(|_| invalid(field, format!("{hex_key:?} is not hex")))?;
    let arr = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        invalid(
            field,
            format!("{} bytes, an Ed25519 key has 32", bytes.len()),
        )
    })?;
    Verifier::ed25519_from_public(&arr).map_err(|_| invalid(field, "not an Ed25519 public key"))
}

/// Current time, Unix ms.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub ticks: AtomicU64,
    pub ticks_planned: AtomicU64,
    pub tick_ns_total: AtomicU64,
    pub tick_ns_last: AtomicU64,
    pub unserved_requests: AtomicU64,
    pub api_requests: AtomicU64,
    pub api_errors: AtomicU64,
    pub decisions: Mutex<BTreeMap<String, u64>>,
}

pub(crate) struct Inner {
    pub id: String,
    pub root: Name,
    pub config: OrchestratorConfig,
    pub key: KeyPair,
    pub repo: Arc<Repo>,
    pub monitoring: MonitoringManager,
    pub deployer: Deployer,
    pub engine_config: EngineConfig,
    state_path: PathBuf,
    pub state: Mutex<OrchestratorState>,
    engine_state: Mutex<EngineState>,
    unserved: Mutex<BTreeMap<(String, Option<String>), UnservedRequest>>,
    decisions: Mutex<VecDeque<Decision>>,
    last_holds: Mutex<BTreeMap<(String, String), String>>,
    pub metrics: Metrics,
    pub started_ms: u64,
    started: Instant,
    tick_lock: tokio::sync::Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update under these locks is one step: a poisoned lock still
    // guards consistent data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where a started orchestrator listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The embedded forwarder's listeners.
    pub forwarder: daemon::Endpoints,
    /// The API's bound address.
    pub api: SocketAddr,
}

impl std::fmt::Display for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fwd = self.forwarder.to_string();
        if !fwd.is_empty() {
            write!(f, "{fwd} ")?;
        }
        write!(f, "api={}", self.api)
    }
}

/// A running orchestrator.
pub struct Orchestrator {
    inner: Arc<Inner>,
    endpoints: Endpoints,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    forwarder: Option<JoinHandle<Result<(), DaemonError>>>,
}

impl std::fmt::Debug for Orchestrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orchestrator")
            .field("id", &self.inner.id)
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

/// A refusal of an API operation: the HTTP status and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 400 (bad input), 404 (no such thing) or 500.
    pub status: u16,
    /// Why, naming the field.
    pub reason: String,
}

impl Refusal {
    /// A 400.
    pub fn bad(reason: impl Into<String>) -> Self {
        Self {
            status: 400,
            reason: reason.into(),
        }
    }
    /// A 404.
    pub fn not_found(reason: impl Into<String>) -> Self {
        Self {
            status: 404,
            reason: reason.into(),
        }
    }
    /// A 500.
    pub fn internal(reason: impl Into<String>) -> Self {
        Self {
            status: 500,
            reason: reason.into(),
        }
    }
}

impl From<RepoError> for Refusal {
    fn from(e: RepoError) -> Self {
        match &e {
            RepoError::Spec(_) | RepoError::ImageName { .. } => Refusal::bad(e.to_string()),
            RepoError::NotFound { .. } => Refusal::not_found(e.to_string()),
            RepoError::Io { .. } => Refusal::internal(e.to_string()),
        }
    }
}

impl Orchestrator {
    /// Starts every part; on error, what was started is stopped.
    pub async fn start(config: &OrchestratorConfig) -> Result<Self, OrchestratorError> {
        if config.id.is_empty() || config.id.contains('/') {
            return Err(invalid("id", format!("{:?} is not a node id", config.id)));
        }
        let root = Name::from_uri(&config.root)
            .map_err(|_| invalid("root", format!("{:?} is not a name", config.root)))?;
        if config.tick_ms == 0 {
            return Err(invalid("tick-ms", "must be at least 1"));
        }
        if config.monitor_interval_ms == 0 {
            return Err(invalid("monitor-interval-ms", "must be at least 1"));
        }
        if config.missed_polls == 0 {
            return Err(invalid("missed-polls", "must be at least 1"));
        }
        let api_addr = {
            use std::net::ToSocketAddrs;
            config
                .api
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| invalid("api", format!("{:?} is not HOST:PORT", config.api)))?
        };
        if let Some(p) = &config.policy {
            engine::policy_by_name(p).map_err(|e| invalid("policy", e.to_string()))?;
        }
        let enroll_files = config
            .enroll
            .iter()
            .map(|e| parse_enroll(e))
            .collect::<Result<Vec<_>, _>>()?;
        let mut enrolled = Vec::new();
        for (id, file) in enroll_files {
            keys::load_public_key(&file)?;
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            // The verifier loads raw or hex; keep it as hex.
            let hex_key = if hex::decode(text.trim()).is_ok_and(|b| b.len() == 32) {
                text.trim().to_owned()
            } else {
                hex::encode(std::fs::read(&file).map_err(|source| KeyError::Io {
                    path: file.clone(),
                    source,
                })?)
            };
            enrolled.push((id, hex_key));
        }

        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            invalid(
                "data-dir",
                format!("cannot create {}: {e}", config.data_dir.display()),
            )
        })?;
        let key = keys::load_or_generate(&config.key_path())?;
        let key_name = root.clone().append_str("orchestrator").append_str("KEY");
        let state_path = config.data_dir.join(STATE_FILE);
        let mut state = OrchestratorState::load(&state_path)?;
        let mut changed = false;
        for (id, hex_key) in enrolled {
            if state.nodes.get(&id) != Some(&hex_key) {
                state.nodes.insert(id, hex_key);
                changed = true;
            }
        }
        if let Some(p) = &config.policy {
            if state.policy.as_deref() != Some(p.as_str()) {
                state.policy = Some(p.clone());
                changed = true;
            }
        }
        if changed {
            state.save(&state_path)?;
        }

        let (repo, problems) = Repo::open(
            config.data_dir.join("repo"),
            root.clone(),
            key.signer(key_name.clone()),
        )?;
        if !problems.is_empty() {
            tracing::warn!(count = problems.len(), "repo: entries skipped at start");
        }
        let repo = Arc::new(repo);

        let cancel = CancellationToken::new();
        let mut fwd_config = config.forwarder.clone();
        if fwd_config.routing.node_name.is_empty() {
            fwd_config.routing.node_name = config.id.clone();
        }
        let daemon = Daemon::start(&fwd_config).await?;
        let fwd_endpoints = daemon.endpoints().clone();
        let client = match picasso_forwarder::face::in_process::connect(daemon.handle()).await {
            Ok(face) => Client::from_app_face(face),
            Err(_) => return Err(DaemonError::Stopped.into()),
        };
        let forwarder = tokio::spawn(daemon.run(cancel.child_token()));
        let stop_fwd = |cancel: &CancellationToken, fwd: JoinHandle<_>| {
            cancel.cancel();
            async move {
                let _ = tokio::time::timeout(Duration::from_secs(5), fwd).await;
            }
        };

        if let Err(e) = repo.serve(&client).await {
            stop_fwd(&cancel, forwarder).await;
            return Err(OrchestratorError::Register {
                prefix: repo.spec_prefix().to_uri(),
                reason: e.to_string(),
            });
        }

        let monitoring = MonitoringManager::start(
            client.clone(),
            MonitoringConfig {
                interval: Duration::from_millis(config.monitor_interval_ms),
                missed_polls_unreachable: config.missed_polls,
                root: root.clone(),
                ..MonitoringConfig::default()
            },
        );
        for (id, hex_key) in &state.nodes {
            let enrolled = verifier_from_hex("nodes", hex_key).and_then(|v| {
                monitoring
                    .enroll(id, v)
                    .map_err(|e| invalid("nodes", e.to_string()))
            });
            if let Err(e) = enrolled {
                tracing::warn!(node = %id, error = %e, "cannot enroll a stored node");
            }
        }
        let ports = match PortBook::open(&config.data_dir, config.port_base) {
            Ok(p) => Arc::new(p),
            Err(e) => {
                monitoring.shutdown();
                stop_fwd(&cancel, forwarder).await;
                return Err(e.into());
            }
        };
        let lookup_repo = repo.clone();
        let specs: SpecLookup = Arc::new(move |s: &str, node: &str| {
            let mut spec = lookup_repo.spec(s)?;
            if spec.descriptor.port_host.is_none() {
                spec.descriptor.port_host = Some(ports.port(s, node)?);
            }
            Some(spec)
        });
        let deployer = match Deployer::with_config(
            client.clone(),
            key.signer(key_name),
            root.clone(),
            &config.data_dir,
            specs,
            DeployerConfig {
                max_decisions: config.max_decisions,
                ..DeployerConfig::default()
            },
        ) {
            Ok(d) => d,
            Err(e) => {
                monitoring.shutdown();
                stop_fwd(&cancel, forwarder).await;
                return Err(e.into());
            }
        };

        let inner = Arc::new(Inner {
            id: config.id.clone(),
            root: root.clone(),
            config: config.clone(),
            key,
            repo,
            monitoring,
            deployer,
            engine_config: config.engine.clone(),
            state_path,
            state: Mutex::new(state),
            engine_state: Mutex::new(EngineState::default()),
            unserved: Mutex::new(BTreeMap::new()),
            decisions: Mutex::new(VecDeque::new()),
            last_holds: Mutex::new(BTreeMap::new()),
            metrics: Metrics::default(),
            started_ms: now_ms(),
            started: Instant::now(),
            tick_lock: tokio::sync::Mutex::new(()),
        });

        if let Err(e) = register_svc(&inner, &client).await {
            inner.monitoring.shutdown();
            stop_fwd(&cancel, forwarder).await;
            return Err(e);
        }

        let listener = match tokio::net::TcpListener::bind(api_addr).await {
            Ok(l) => l,
            Err(source) => {
                inner.monitoring.shutdown();
                stop_fwd(&cancel, forwarder).await;
                return Err(OrchestratorError::Api {
                    addr: config.api.clone(),
                    source,
                });
            }
        };
        let api = listener
            .local_addr()
            .map_err(|source| OrchestratorError::Api {
                addr: config.api.clone(),
                source,
            })?;
        let tasks = vec![
            tokio::spawn(crate::api::serve(
                listener,
                inner.clone(),
                cancel.child_token(),
            )),
            tokio::spawn(tick_loop(inner.clone(), cancel.child_token())),
        ];
        Ok(Self {
            inner,
            endpoints: Endpoints {
                forwarder: fwd_endpoints,
                api,
            },
            cancel,
            tasks,
            forwarder: Some(forwarder),
        })
    }

    /// Where it listens.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Its id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Its public key, hex (what nodes are given as `--orchestrator-key`).
    pub fn public_key_hex(&self) -> String {
        self.inner.key.public_hex()
    }

    /// The policy in use.
    pub fn policy(&self) -> String {
        self.inner.policy_name()
    }

    /// Serves until `shutdown` is cancelled (or the forwarder stops), then
    /// shuts down.
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

    /// Stops the tick loop, the API, monitoring and the forwarder (bounded
    /// waits). Commands in flight are abandoned; the desired state on disk
    /// lets the next start finish them.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.inner.monitoring.shutdown();
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        if let Some(fwd) = self.forwarder {
            let _ = tokio::time::timeout(Duration::from_secs(5), fwd).await;
        }
        tracing::info!("orchestrator stopped");
    }
}

/// Registers `/<root>/svc` with `svc-cost` and records what reaches it.
async fn register_svc(inner: &Arc<Inner>, client: &Client) -> Result<(), OrchestratorError> {
    let prefix = inner.root.clone().append_str("svc");
    let me = Arc::downgrade(inner);
    let depth = prefix.len();
    client.set_handler(prefix.clone(), move |i: Interest| {
        if let Some(inner) = me.upgrade() {
            inner.record_unserved(&i, depth);
        }
        async move { Answer::Nack(NackReason::NoRoute) }
    });
    let params = ControlParameters {
        name: Some(prefix.clone()),
        cost: Some(inner.config.svc_cost),
        ..ControlParameters::default()
    };
    client
        .command("rib", "register", &params)
        .await
        .map_err(|e| OrchestratorError::Register {
            prefix: prefix.to_uri(),
            reason: e.to_string(),
        })?;
    Ok(())
}

async fn tick_loop(inner: Arc<Inner>, cancel: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_millis(inner.config.tick_ms));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = every.tick() => {}
        }
        inner.tick().await;
    }
}

/// Plans one tick: the operator's pins, the availability pass, the
/// policy, then the operator's replica counts (planned deployments beyond
/// the count are dropped, running replicas beyond it removed, pinned
/// nodes' last replica kept). Pure, like [`engine::plan`].
pub fn plan_tick(
    view: &ClusterView,
    specs: &BTreeMap<String, ServiceSpec>,
    now_ms: u64,
    state: &EngineState,
    policy: &dyn Policy,
    config: &EngineConfig,
    operator: &BTreeMap<String, OperatorIntent>,
) -> (Plan, EngineState) {
    let mut p = Planner::new(view, specs, now_ms, state, policy.name(), config);
    p.track_activity();
    for (service, intent) in operator {
        if !specs.contains_key(service) {
            continue;
        }
        for node in &intent.pins {
            if p.per_node(service).contains_key(node) {
                continue;
            }
            match view.nodes.get(node) {
                Some(n) if p.can_host(n) => p.deploy(
                    service,
                    node,
                    format!("the operator asked for {service} on node {node}"),
                ),
                Some(n) if !n.reachable => p.hold(
                    service,
                    node,
                    format!(
                        "the operator asked for {service} on node {node}, which is unreachable"
                    ),
                ),
                Some(_) => p.hold(
                    service,
                    node,
                    format!(
                        "the operator asked for {service} on node {node}, which is out of memory"
                    ),
                ),
                None => p.hold(
                    service,
                    node,
                    format!(
                        "the operator asked for {service} on node {node}, which is not enrolled"
                    ),
                ),
            }
        }
    }
    let replaced_before: BTreeMap<String, std::collections::BTreeSet<String>> = p
        .state
        .services
        .iter()
        .map(|(s, st)| (s.clone(), st.replaced.clone()))
        .collect();
    availability::plan(&mut p, policy.keeps_minimum());
    // A lost replica deployed again elsewhere is no longer wanted where it
    // was: when its node comes back, the deployer removes it there instead
    // of keeping both (or starting it again).
    let newly: Vec<(String, String)> = p
        .state
        .services
        .iter()
        .flat_map(|(s, st)| {
            let before = replaced_before.get(s);
            st.replaced
                .iter()
                .filter(move |k| !before.is_some_and(|b| b.contains(*k)))
                .map(move |k| (s.clone(), k.clone()))
        })
        .collect();
    for (service, key) in newly {
        let lost = view
            .services
            .get(&service)
            .and_then(|sv| {
                sv.lost
                    .iter()
                    .find(|r| format!("{}/{}", r.node, r.container) == key)
            })
            .cloned();
        if let Some(r) = lost.filter(|r| r.replica.is_some()) {
            p.remove(
                &service,
                &Replica {
                    node: r.node.clone(),
                    replica: r.replica,
                    container: r.container.clone(),
                    pending: false,
                },
                format!(
                    "replica {} on unreachable node {} was deployed again elsewhere: not wanted there any more",
                    r.replica.unwrap_or(0),
                    r.node
                ),
            );
        }
    }
    policy.plan(&mut p);
    // The policy may not empty a pinned node.
    for (service, intent) in operator {
        for node in &intent.pins {
            while !p.per_node(service).contains_key(node) {
                let Some(i) = p.plan.steps.iter().rposition(|s| {
                    s.action() == Action::Remove && s.service() == service && s.node() == node
                }) else {
                    break;
                };
                let s = p.plan.steps.remove(i);
                p.hold(
                    service,
                    node,
                    format!(
                        "not removed ({}): the operator asked for {service} on node {node}",
                        s.reason()
                    ),
                );
            }
        }
    }
    for (service, intent) in operator {
        if intent.replicas.is_none() {
            continue;
        }
        // The effective spec's bounds already hold the operator's count.
        let Some(spec) = specs.get(service) else {
            continue;
        };
        trim(&mut p, service, spec.replicas.max, intent);
    }
    (p.plan, p.state)
}

/// Brings `service` down to `want` replicas: this tick's deployments go
/// first (newest first), then running replicas (never a pinned node's
/// last one; the node with the most replicas, then the busiest, then the
/// highest replica number).
fn trim(p: &mut Planner<'_>, service: &str, want: u32, intent: &OperatorIntent) {
    loop {
        let all = p.replicas(service);
        if all.len() as u32 <= want {
            return;
        }
        let planned = p
            .plan
            .steps
            .iter()
            .rposition(|s| s.action() == Action::Deploy && s.service() == service);
        if let Some(i) = planned {
            let s = p.plan.steps.remove(i);
            p.hold(
                service,
                s.node(),
                format!(
                    "not deployed ({}): the operator keeps {service} at {want} replicas",
                    s.reason()
                ),
            );
            continue;
        }
        let per_node = p.per_node(service);
        let cpu = |node: &str| p.view.nodes.get(node).map_or(0.0, |n| n.cpu_percent);
        let victim: Option<Replica> = all
            .into_iter()
            .filter(|r| !r.pending && r.replica.is_some())
            .filter(|r| !(intent.pins.contains(&r.node) && per_node[&r.node] <= 1))
            .max_by(|a, b| {
                per_node[&a.node]
                    .cmp(&per_node[&b.node])
                    .then(cpu(&a.node).total_cmp(&cpu(&b.node)))
                    .then(a.replica.cmp(&b.replica))
                    .then(b.node.cmp(&a.node))
            });
        let Some(victim) = victim else {
            return;
        };
        let have = per_node.values().sum::<u32>();
        p.remove(
            service,
            &victim,
            format!("the operator scaled {service} to {want} replicas; {have} present"),
        );
    }
}

/// QoS of one service as measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QosReport {
    /// True when every measured figure is within the spec.
    pub met: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unmet: Vec<String>,
    /// Replicas running on reachable nodes.
    pub replicas: u32,
    /// Distinct nodes they run on.
    pub distinct_nodes: u32,
    /// Distinct nodes the spec's availability needs (capped by the
    /// reachable nodes).
    pub nodes_needed: u32,
    /// The spec's response time, ms.
    pub response_time_ms: f64,
    /// The worst node's measured p95 latency, ms (none without requests).
    pub latency_p95_ms: Option<f64>,
    /// Requests per second, all gateways.
    pub requests_per_sec: f64,
    /// Concurrent users measured, all gateways.
    pub concurrent_users: f64,
    /// The spec's maxUsers per replica.
    pub max_users: u32,
    /// Lowest measured success rate, 0–1.
    pub success_rate: Option<f64>,
}

/// Measures `spec`'s QoS in `view`.
pub fn qos_report(view: &ClusterView, spec: &ServiceSpec, config: &EngineConfig) -> QosReport {
    let service = &spec.service_name;
    let mut replicas = 0u32;
    let mut nodes = 0u32;
    let (mut p95, mut rps, mut users, mut success): (Option<f64>, f64, f64, Option<f64>) =
        (None, 0.0, 0.0, None);
    for n in view.reachable() {
        let here = n.replicas_of(service).filter(|c| c.running).count() as u32;
        replicas += here;
        if here > 0 {
            nodes += 1;
        }
        if let Some(d) = n.demand.get(service) {
            rps += d.requests_per_sec;
            users += d.concurrent_users();
            if d.is_active() {
                if let Some(l) = d.latency_p95_ms {
                    p95 = Some(p95.map_or(l, |m: f64| m.max(l)));
                }
                success = Some(success.map_or(d.success_rate, |m: f64| m.min(d.success_rate)));
            }
        }
    }
    let hostable = view.reachable().count() as u32;
    let needed = availability::nodes_needed(spec.availability, config.node_availability)
        .min(hostable.max(1))
        .min(spec.replicas.max.max(1));
    let mut unmet = Vec::new();
    if replicas == 0 {
        unmet.push("no replica runs".to_owned());
    }
    if let Some(l) = p95 {
        if l > spec.response_time_s * 1000.0 {
            unmet.push(format!(
                "p95 latency {l:.0} ms exceeds the responseTime {} ms",
                spec.response_time_s * 1000.0
            ));
        }
    }
    if replicas > 0 && users / replicas as f64 > spec.max_users as f64 {
        unmet.push(format!(
            "{:.1} users per replica exceed maxUsers {}",
            users / replicas as f64,
            spec.max_users
        ));
    }
    if replicas > 0 && nodes < needed {
        unmet.push(format!(
            "availability {}% needs {needed} distinct nodes, replicas are on {nodes}",
            spec.availability
        ));
    }
    QosReport {
        met: unmet.is_empty(),
        unmet,
        replicas,
        distinct_nodes: nodes,
        nodes_needed: needed,
        response_time_ms: spec.response_time_s * 1000.0,
        latency_p95_ms: p95,
        requests_per_sec: rps,
        concurrent_users: users,
        max_users: spec.max_users,
        success_rate: success,
    }
}

impl Inner {
    pub(crate) fn policy_name(&self) -> String {
        lock(&self.state)
            .policy
            .clone()
            .unwrap_or_else(|| DEFAULT_POLICY.to_owned())
    }

    /// Records an Interest that reached `/<root>/svc`.
    fn record_unserved(&self, i: &Interest, depth: usize) {
        let name = i.name();
        let text = |k: usize| {
            name.get(k)
                .and_then(|c| String::from_utf8(c.value().to_vec()).ok())
        };
        let Some(service) = text(depth).filter(|s| !s.is_empty()) else {
            return;
        };
        let from = text(depth + 1).and_then(|c| c.strip_prefix("from=").map(str::to_owned));
        self.metrics
            .unserved_requests
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!(%service, from = ?from, "a request for a service that runs nowhere");
        let now = now_ms();
        let mut u = lock(&self.unserved);
        if u.len() >= MAX_UNSERVED && !u.contains_key(&(service.clone(), from.clone())) {
            // A flood of names between two ticks: counted, not kept.
            return;
        }
        let e = u
            .entry((service.clone(), from.clone()))
            .or_insert_with(|| UnservedRequest {
                service,
                from_node: from,
                at_ms: now,
                count: 0,
            });
        e.count += 1;
    }

    /// The specs with the operator's intent applied.
    pub(crate) fn effective_specs(&self) -> BTreeMap<String, ServiceSpec> {
        let operator = lock(&self.state).operator.clone();
        self.repo
            .specs()
            .into_iter()
            .map(|(name, spec)| {
                let spec = match operator.get(&name) {
                    Some(intent) => intent.apply(&spec),
                    None => spec,
                };
                (name, spec)
            })
            .collect()
    }

    /// The cluster view: monitoring, deployments owed (in flight, or
    /// desired and not running), measured bandwidth.
    pub(crate) fn view(&self) -> ClusterView {
        let mut view = self.monitoring.view();
        view.in_flight = self.deployer.owed(&view);
        for n in view.nodes.values_mut() {
            if n.bandwidth_mb_s.is_none() {
                n.bandwidth_mb_s = self.deployer.bandwidth(&n.id);
            }
        }
        view
    }

    /// True once every enrolled node has reported since the start, or the
    /// start-up grace is over (a node down for good must not stop the
    /// engine). Until then a node may look empty only because no route
    /// to it is known yet, and planning would double its replicas.
    fn view_settled(&self, view: &ClusterView) -> bool {
        let grace = Duration::from_millis(
            (self.config.monitor_interval_ms * u64::from(self.config.missed_polls) * 4)
                .max(STARTUP_GRACE_MS),
        );
        self.started.elapsed() >= grace || view.nodes.values().all(|n| n.last_seen_ms > 0)
    }

    /// One tick: view, plan, apply, reconcile.
    pub(crate) async fn tick(&self) {
        let _one = self.tick_lock.lock().await;
        let t = Instant::now();
        let now = now_ms();
        let mut view = self.view();
        view.unserved = std::mem::take(&mut *lock(&self.unserved))
            .into_values()
            .collect();
        let planned = self.view_settled(&view);
        if planned {
            let specs = self.effective_specs();
            let operator = lock(&self.state).operator.clone();
            let policy = engine::policy_by_name(&self.policy_name())
                .unwrap_or_else(|_| Box::new(engine::threshold::Threshold));
            let state = lock(&self.engine_state).clone();
            let (plan, next) = plan_tick(
                &view,
                &specs,
                now,
                &state,
                policy.as_ref(),
                &self.engine_config,
                &operator,
            );
            *lock(&self.engine_state) = next;
            match self.deployer.apply(&plan) {
                Ok(()) => self.log(&plan),
                Err(e) => {
                    tracing::error!(error = %e, "cannot keep the desired state: plan dropped")
                }
            }
            self.metrics.ticks_planned.fetch_add(1, Ordering::Relaxed);
        } else {
            // Requests seen before the view settled still count.
            let mut u = lock(&self.unserved);
            for r in view.unserved.drain(..) {
                u.insert((r.service.clone(), r.from_node.clone()), r);
            }
        }
        // The desired state is carried out from the first tick (nodes not
        // reporting yet are left alone): a restart finishes deployments.
        self.deployer.reconcile(&view, now);
        let ns = t.elapsed().as_nanos() as u64;
        self.metrics.ticks.fetch_add(1, Ordering::Relaxed);
        self.metrics.tick_ns_total.fetch_add(ns, Ordering::Relaxed);
        self.metrics.tick_ns_last.store(ns, Ordering::Relaxed);
    }

    /// Keeps `plan`'s decisions; a hold repeating the last one for its
    /// (service, node) is not kept again.
    fn log(&self, plan: &Plan) {
        let mut out = plan.decisions();
        {
            let mut holds = lock(&self.last_holds);
            if holds.len() > MAX_UNSERVED {
                holds.clear();
            }
            for h in &plan.held {
                let key = (h.service.clone(), h.node.clone());
                if holds.get(&key) != Some(&h.reason) {
                    holds.insert(key, h.reason.clone());
                    out.push(h.clone());
                }
            }
            for d in plan.decisions() {
                holds.remove(&(d.service.clone(), d.node.clone()));
            }
        }
        self.push_decisions(out);
    }

    pub(crate) fn push_decisions(&self, out: Vec<Decision>) {
        if out.is_empty() {
            return;
        }
        {
            let mut m = lock(&self.metrics.decisions);
            for d in &out {
                *m.entry(d.action.to_string()).or_insert(0) += 1;
            }
        }
        let mut log = lock(&self.decisions);
        for d in out {
            tracing::info!(action = %d.action, service = %d.service, node = %d.node, reason = %d.reason, "decision");
            log.push_back(d);
        }
        while log.len() > self.config.max_decisions.max(1) {
            log.pop_front();
        }
    }

    /// The recent decisions, oldest first.
    pub(crate) fn decisions(&self) -> Vec<Decision> {
        lock(&self.decisions).iter().cloned().collect()
    }

    fn save_state(&self, st: &OrchestratorState) -> Result<(), Refusal> {
        st.save(&self.state_path)
            .map_err(|e| Refusal::internal(e.to_string()))
    }

    /// Changes the durable state with `f` (saved before it is used).
    fn update_state(
        &self,
        f: impl FnOnce(&mut OrchestratorState) -> Result<(), Refusal>,
    ) -> Result<(), Refusal> {
        let mut st = lock(&self.state);
        let mut next = st.clone();
        f(&mut next)?;
        self.save_state(&next)?;
        *st = next;
        Ok(())
    }

    /// `POST /api/policy`.
    pub(crate) fn set_policy(&self, name: &str) -> Result<String, Refusal> {
        let p = engine::policy_by_name(name).map_err(|e| Refusal::bad(format!("name: {e}")))?;
        let canonical = p.name().to_owned();
        self.update_state(|s| {
            s.policy = Some(canonical.clone());
            Ok(())
        })?;
        tracing::info!(policy = %canonical, "policy set");
        Ok(canonical)
    }

    /// `POST /api/nodes`.
    pub(crate) fn enroll(&self, id: &str, hex_key: &str) -> Result<(), Refusal> {
        if id.is_empty() || id.contains('/') || id.len() > 255 {
            return Err(Refusal::bad(format!("id: {id:?} is not a node id")));
        }
        let v = verifier_from_hex("key", hex_key).map_err(|e| Refusal::bad(e.to_string()))?;
        let hex_key = hex_key.trim().to_lowercase();
        self.update_state(|s| {
            s.nodes.insert(id.to_owned(), hex_key.clone());
            Ok(())
        })?;
        self.monitoring
            .enroll(id, v)
            .map_err(|e| Refusal::bad(format!("id: {e}")))?;
        tracing::info!(node = %id, "node enrolled");
        Ok(())
    }

    /// `POST /api/scale`.
    pub(crate) fn scale(&self, service: &str, replicas: u32) -> Result<(), Refusal> {
        let spec = self
            .repo
            .spec(service)
            .ok_or_else(|| Refusal::not_found(format!("service: no spec named {service:?}")))?;
        if replicas > crate::spec::MAX_REPLICAS {
            return Err(Refusal::bad(format!(
                "replicas: {replicas} is more than {}",
                crate::spec::MAX_REPLICAS
            )));
        }
        self.update_state(|s| {
            let e = s.operator.entry(service.to_owned()).or_default();
            e.replicas = Some(replicas);
            // Fewer replicas than pinned nodes: the pins give way.
            if (replicas as usize) < e.pins.len() {
                e.pins.clear();
            }
            Ok(())
        })?;
        tracing::info!(service, replicas, image = %spec.image_name, "scaled by the operator");
        Ok(())
    }

    /// `POST /api/deploy`.
    pub(crate) fn deploy(&self, service: &str, node: Option<&str>) -> Result<(), Refusal> {
        if self.repo.spec(service).is_none() {
            return Err(Refusal::not_found(format!(
                "service: no spec named {service:?}"
            )));
        }
        if let Some(n) = node {
            if !self.monitoring.nodes().iter().any(|e| e == n) {
                return Err(Refusal::bad(format!("node: {n:?} is not enrolled")));
            }
        }
        self.update_state(|s| {
            let e = s.operator.entry(service.to_owned()).or_default();
            e.deployed = true;
            if let Some(n) = node {
                e.pins.insert(n.to_owned());
                if let Some(r) = e.replicas {
                    e.replicas = Some(r.max(e.pins.len() as u32));
                }
            } else if e.replicas == Some(0) {
                e.replicas = Some(1);
            }
            Ok(())
        })
    }

    /// `DELETE /api/repo/<service>`: the spec goes, its replicas are
    /// removed and the operator's intent forgotten.
    pub(crate) fn remove_service(&self, service: &str) -> Result<(), Refusal> {
        self.repo.remove_spec(service)?;
        self.update_state(|s| {
            s.operator.remove(service);
            Ok(())
        })?;
        let desired = self.deployer.desired();
        let now = now_ms();
        let mut plan = Plan {
            time: now,
            policy: "operator".to_owned(),
            ..Plan::default()
        };
        for (s, node, replica, _) in desired.placements() {
            if s == service {
                plan.steps.push(engine::Step::Remove {
                    service: service.to_owned(),
                    node: node.to_owned(),
                    replica: Some(replica),
                    container: String::new(),
                    reason: format!("the operator removed {service} from the repo"),
                });
            }
        }
        self.deployer
            .apply(&plan)
            .map_err(|e| Refusal::internal(e.to_string()))?;
        self.log(&plan);
        Ok(())
    }

    /// `GET /api/nodes`.
    pub(crate) fn nodes_json(&self, view: &ClusterView) -> Value {
        let keys = lock(&self.state).nodes.clone();
        let nodes: Vec<Value> = view
            .nodes
            .values()
            .map(|n| {
                let containers: Vec<Value> = n
                    .containers
                    .iter()
                    .map(|c| {
                        json!({
                            "id": c.id, "name": c.name, "service": c.service,
                            "replica": c.replica, "image": c.image, "running": c.running,
                            "cpuUsage": c.cpu_percent, "memBytes": c.mem_bytes,
                        })
                    })
                    .collect();
                json!({
                    "id": n.id,
                    "reachable": n.reachable,
                    "lastSeen": (n.last_seen_ms > 0).then_some(n.last_seen_ms),
                    "cpuUsage": n.cpu_percent,
                    "load": n.load,
                    "memUsage": n.mem_percent,
                    "cores": n.cores,
                    "images": n.images,
                    "bandwidthMBps": n.bandwidth_mb_s,
                    "retryAt": self.deployer.retry_at(&n.id),
                    "key": keys.get(&n.id),
                    "containers": containers,
                })
            })
            .collect();
        Value::Array(nodes)
    }

    /// `GET /api/services`.
    pub(crate) fn services_json(&self, view: &ClusterView) -> Value {
        let specs = self.effective_specs();
        let desired = self.deployer.desired();
        let operator = lock(&self.state).operator.clone();
        let mut names: Vec<String> = specs.keys().cloned().collect();
        for s in view.services.keys() {
            if !names.contains(s) {
                names.push(s.clone());
            }
        }
        names.sort();
        let out: Vec<Value> = names
            .iter()
            .map(|name| {
                let sv = view.services.get(name);
                let replicas: Vec<Value> = sv
                    .map(|s| {
                        s.replicas
                            .iter()
                            .map(|r| json!({"node": r.node, "container": r.container, "replica": r.replica}))
                            .collect()
                    })
                    .unwrap_or_default();
                let lost: Vec<Value> = sv
                    .map(|s| {
                        s.lost
                            .iter()
                            .map(|r| json!({"node": r.node, "container": r.container, "replica": r.replica}))
                            .collect()
                    })
                    .unwrap_or_default();
                let want: Vec<Value> = desired
                    .placements()
                    .filter(|(s, ..)| s == name)
                    .map(|(_, node, replica, p)| {
                        json!({"node": node, "replica": replica, "since": p.since_ms, "reason": p.reason})
                    })
                    .collect();
                let in_flight: Vec<Value> = view
                    .in_flight
                    .iter()
                    .filter(|f| &f.service == name)
                    .map(|f| json!({"node": f.node, "replica": f.replica, "since": f.since_ms}))
                    .collect();
                let qos = specs
                    .get(name)
                    .map(|spec| qos_report(view, spec, &self.engine_config));
                json!({
                    "name": name,
                    "managed": specs.contains_key(name),
                    "image": specs.get(name).map(|s| s.image_name.clone()),
                    "bounds": specs.get(name).map(|s| s.replicas),
                    "operator": operator.get(name),
                    "replicas": replicas,
                    "lost": lost,
                    "desired": want,
                    "inFlight": in_flight,
                    "qosMet": qos.as_ref().map(|q| q.met),
                    "qos": qos,
                })
            })
            .collect();
        Value::Array(out)
    }

    /// `GET /api/repo`.
    pub(crate) fn repo_json(&self) -> Value {
        let specs: Vec<Value> = self
            .repo
            .specs()
            .values()
            .map(|s| {
                let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
                v["image"] = json!(self.repo.images().contains_key(&s.image_name));
                v
            })
            .collect();
        let images: Vec<Value> = self
            .repo
            .images()
            .values()
            .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
            .collect();
        json!({"specs": specs, "images": images})
    }

    /// `GET /api/status`.
    pub(crate) fn status_json(&self, decisions: usize) -> Value {
        let view = self.view();
        let mut d = self.decisions();
        let skip = d.len().saturating_sub(decisions);
        d.drain(..skip);
        json!({
            "id": self.id,
            "time": now_ms(),
            "since": self.started_ms,
            "policy": self.policy_name(),
            "key": self.key.public_hex(),
            "nodes": self.nodes_json(&view),
            "services": self.services_json(&view),
            "decisions": d,
            "commands": {
                "inFlight": self.deployer.commands_in_flight(),
                "counters": self.deployer.counters(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testkit::{node, spec, specs, with_replica};
    use crate::engine::Step;

    fn view(nodes: Vec<crate::view::NodeView>) -> ClusterView {
        let mut v = ClusterView::default();
        for n in nodes {
            v = v.with_node(n);
        }
        v
    }

    fn intent(replicas: Option<u32>, pins: &[&str]) -> BTreeMap<String, OperatorIntent> {
        BTreeMap::from([(
            "S".to_owned(),
            OperatorIntent {
                replicas,
                pins: pins.iter().map(|p| p.to_string()).collect(),
                deployed: true,
            },
        )])
    }

    fn tick(v: &ClusterView, op: &BTreeMap<String, OperatorIntent>, min: u32, max: u32) -> Plan {
        let raw = specs(&[spec("S", 10.0, 50, 1.0, 50.0, 1, min, max)]);
        let effective: BTreeMap<String, ServiceSpec> = raw
            .into_iter()
            .map(|(k, s)| {
                let s = op.get(&k).map_or(s.clone(), |i| i.apply(&s));
                (k, s)
            })
            .collect();
        let policy = engine::policy_by_name("threshold").unwrap();
        let (plan, _) = plan_tick(
            v,
            &effective,
            1_000_000,
            &EngineState::default(),
            policy.as_ref(),
            &EngineConfig::default(),
            op,
        );
        for s in &plan.steps {
            assert!(!s.reason().is_empty(), "{s:?}");
        }
        plan
    }

    fn deploys(p: &Plan) -> Vec<String> {
        p.steps
            .iter()
            .filter(|s| s.action() == Action::Deploy)
            .map(|s| s.node().to_owned())
            .collect()
    }

    #[test]
    fn scale_up_spreads_and_scale_down_keeps_pins() {
        let v = view(vec![
            with_replica(node("a", 4, 5.0), "S", 1, 1.0),
            node("b", 4, 5.0),
            node("c", 4, 20.0),
        ]);
        // scale 2: one more, on another node.
        let p = tick(&v, &intent(Some(2), &[]), 0, 8);
        assert_eq!(deploys(&p), ["b"], "{p:?}");
        // deploy --node c with scale 2: the pin is honoured.
        let p = tick(&v, &intent(Some(2), &["c"]), 0, 8);
        assert_eq!(deploys(&p), ["c"], "{p:?}");
        // Three running, scaled to 1 with a pin on c: a and b go, c stays.
        let v3 = view(vec![
            with_replica(node("a", 4, 5.0), "S", 1, 1.0),
            with_replica(node("b", 4, 5.0), "S", 1, 1.0),
            with_replica(node("c", 4, 20.0), "S", 1, 1.0),
        ]);
        let p = tick(&v3, &intent(Some(1), &["c"]), 0, 8);
        let removed: Vec<&str> = p
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Remove { node, .. } => Some(node.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(removed.len(), 2, "{p:?}");
        assert!(!removed.contains(&"c"), "{p:?}");
        assert!(p.steps.iter().all(|s| s.reason().contains("operator")));
        // Scaled to 0: everything goes.
        let p = tick(&v3, &intent(Some(0), &[]), 0, 8);
        assert_eq!(p.steps.len(), 3, "{p:?}");
    }

    #[test]
    fn a_replaced_lost_replica_is_no_longer_desired_where_it_was() {
        let mut a = with_replica(node("a", 4, 5.0), "S", 1, 1.0);
        a.reachable = false;
        let v = view(vec![a, node("b", 4, 5.0)]);
        let p = tick(&v, &intent(None, &[]), 1, 8);
        let steps: Vec<(Action, &str, Option<u32>)> = p
            .steps
            .iter()
            .map(|s| match s {
                Step::Deploy { node, replica, .. } => {
                    (Action::Deploy, node.as_str(), Some(*replica))
                }
                Step::Remove { node, replica, .. } => (Action::Remove, node.as_str(), *replica),
            })
            .collect();
        assert_eq!(
            steps,
            [
                (Action::Deploy, "b", Some(1)),
                (Action::Remove, "a", Some(1))
            ],
            "{p:?}"
        );
    }

    #[test]
    fn a_deploy_without_scale_raises_the_minimum_only() {
        let v = view(vec![node("a", 4, 5.0), node("b", 4, 50.0)]);
        // Spec min 0: nothing runs without the operator.
        assert!(tick(&v, &BTreeMap::new(), 0, 8).steps.is_empty());
        let p = tick(&v, &intent(None, &[]), 0, 8);
        assert_eq!(deploys(&p), ["a"], "{p:?}");
        // Pinned to the busier node: it goes there, not also elsewhere.
        let p = tick(&v, &intent(None, &["b"]), 0, 8);
        assert_eq!(deploys(&p), ["b"], "{p:?}");
        // A pin on an unknown node is held with its reason.
        let p = tick(&v, &intent(None, &["zz"]), 0, 8);
        assert!(
            p.held.iter().any(|h| h.reason.contains("not enrolled")),
            "{p:?}"
        );
    }

    #[test]
    fn qos_report_names_what_is_missed() {
        let s = spec("S", 10.0, 2, 0.1, 99.99, 1, 1, 8);
        let mut a = with_replica(node("a", 4, 5.0), "S", 1, 1.0);
        a.demand.insert(
            "S".to_owned(),
            crate::view::DemandView {
                requests_per_sec: 10.0,
                in_flight: 5,
                success_rate: 1.0,
                latency_p50_ms: Some(50.0),
                latency_p95_ms: Some(250.0),
            },
        );
        let v = view(vec![a, node("b", 4, 5.0)]);
        let q = qos_report(&v, &s, &EngineConfig::default());
        assert!(!q.met);
        assert_eq!(q.replicas, 1);
        assert_eq!(q.latency_p95_ms, Some(250.0));
        let text = q.unmet.join("; ");
        assert!(text.contains("p95 latency 250 ms exceeds"), "{text}");
        assert!(text.contains("distinct nodes"), "{text}");
        let none = qos_report(&view(vec![node("a", 4, 5.0)]), &s, &EngineConfig::default());
        assert_eq!(none.unmet, ["no replica runs"]);
    }

    #[test]
    fn config_and_enroll_flags_parse() {
        let c = OrchestratorConfig::from_toml(
            "id = \"o1\"\napi = \"127.0.0.1:0\"\npolicy = \"qos\"\nenroll = [\"n1=/k.pub\"]\n[engine]\nup_cooldown_ms = 5\n[forwarder]\nunix = \"\"\n",
        )
        .unwrap();
        assert_eq!(c.id, "o1");
        assert_eq!(c.engine.up_cooldown_ms, 5);
        assert_eq!(c.tick_ms, 1000);
        assert!(OrchestratorConfig::from_toml("tick = 3").is_err());
        assert_eq!(
            parse_enroll("n1=/a/b.pub").unwrap(),
            ("n1".to_owned(), PathBuf::from("/a/b.pub"))
        );
        for bad in ["n1", "=x", "a/b=x", "n1="] {
            assert!(parse_enroll(bad)
                .unwrap_err()
                .to_string()
                .starts_with("enroll:"));
        }
        assert!(verifier_from_hex("key", "zz")
            .unwrap_err()
            .to_string()
            .starts_with("key:"));
        assert!(verifier_from_hex("key", &"ab".repeat(16))
            .unwrap_err()
            .to_string()
            .contains("16 bytes"));
    }
}
