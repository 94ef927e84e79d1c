//! The deployer: carries plans out with signed commands and reconciles
//! desired against actual state on every tick.
//!
//! Owns the desired state (per service, the `(node, replica)` placements
//! the engine decided), its durable copy (`desired.json` in the data dir,
//! written temp file + fsync + rename on every change), the commands in
//! flight, per-node backoff, the results of commands and the image
//! bandwidth measured from deploy replies. It does not decide anything
//! (the [`crate::engine`] does) nor poll nodes (the monitoring manager
//! builds the [`ClusterView`] it reconciles against).
//!
//! ```text
//! Plan ─► apply ─► DesiredState ─► desired.json (temp + fsync + rename)
//!                       │
//! ClusterView ─► reconcile(view, now) ─► per (service, node): missing replicas? ─► deploy
//!                       │                                     orphan replica?    ─► remove
//!                       └─ skipped while a command for the pair is in flight, while the
//!                          node backs off (1 s → 30 s) or the pair's last command failed
//! command task ─► signed Interest /picasso/node/<n>/cmd/<verb> ─► reply ─► results,
//!                 confirmations, bandwidth, backoff
//! ```
//!
//! Never duplicates: at most one command per (service, node) is in flight,
//! the agent's deploy is idempotent (re-sending returns the running
//! replicas), and a replica confirmed by a reply counts as running until a
//! report newer than the reply says otherwise. When the desired replicas
//! on a node are exactly `1..=n`, one deploy with `"replicas": n` starts
//! the missing ones; otherwise (one missing, or holes left by removals) a
//! deploy with `"replica": r` starts exactly replica `r`, one per command.
//! Should a node still start a replica that is not desired, the command
//! task removes it at once, and reconcile removes any it missed.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use picasso_agent::exec::signed_command;
use picasso_forwarder::app::Client;
use picasso_tlv::{Name, Signer};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::engine::{Decision, Plan, Step};
use crate::spec::ServiceSpec;
use crate::view::{ClusterView, InFlight, NodeId};

/// The file the desired state is kept in, inside the data dir.
pub const DESIRED_FILE: &str = "desired.json";
/// The version of [`DesiredState`]'s JSON form.
pub const DESIRED_VERSION: u32 = 1;

/// Why the deployer could not keep its desired state.
#[derive(Debug, thiserror::Error)]
pub enum DeployerError {
    /// Reading or writing the desired state failed.
    #[error("desired state {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The desired state file is not valid.
    #[error("desired state {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// One desired replica: why and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// When the engine decided it, Unix ms.
    #[serde(rename = "sinceMs")]
    pub since_ms: u64,
    /// The engine's reason.
    pub reason: String,
}

/// What should run: per service, per node, the replica numbers.
///
/// A service present with no placements is managed and scaled to zero:
/// its replicas are removed. Services never mentioned by a plan are left
/// alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredState {
    /// [`DESIRED_VERSION`].
    pub version: u32,
    /// Service → node → replica → placement.
    pub services: BTreeMap<String, BTreeMap<NodeId, BTreeMap<u32, Placement>>>,
}

impl Default for DesiredState {
    fn default() -> Self {
        Self {
            version: DESIRED_VERSION,
            services: BTreeMap::new(),
        }
    }
}

impl DesiredState {
    /// Loads `path`; an absent file is the empty state.
    pub fn load(path: &Path) -> Result<Self, DeployerError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(DeployerError::Io {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let state: Self = serde_json::from_slice(&bytes).map_err(|e| DeployerError::Corrupt {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        if state.version != DESIRED_VERSION {
            return Err(DeployerError::Corrupt {
                path: path.to_owned(),
                reason: format!("version {} is not {DESIRED_VERSION}", state.version),
            });
        }
        Ok(state)
    }

    /// Writes to `path` atomically: a temp file beside it, fsync, rename,
    /// fsync of the directory.
    pub fn save(&self, path: &Path) -> Result<(), DeployerError> {
        let io = |source| DeployerError::Io {
            path: path.to_owned(),
            source,
        };
        let tmp = path.with_extension("json.tmp");
        // Invariant: strings, integers and maps of them always serialize.
        let bytes = serde_json::to_vec_pretty(self).expect("desired state serializes");
        {
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(&bytes).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)?;
        if let Some(dir) = path.parent() {
            // Makes the rename durable; not every platform can open a
            // directory, and the data is already in place.
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// The replicas of `service` desired on `node`.
    pub fn replicas(&self, service: &str, node: &str) -> BTreeSet<u32> {
        self.services
            .get(service)
            .and_then(|n| n.get(node))
            .map(|r| r.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Every desired placement as `(service, node, replica, placement)`.
    pub fn placements(&self) -> impl Iterator<Item = (&str, &str, u32, &Placement)> {
        self.services.iter().flat_map(|(s, nodes)| {
            nodes.iter().flat_map(move |(n, reps)| {
                reps.iter()
                    .map(move |(r, p)| (s.as_str(), n.as_str(), *r, p))
            })
        })
    }

    /// Carries one plan step into the desired state; true when it changed.
    fn apply_step(&mut self, step: &Step, now_ms: u64) -> bool {
        match step {
            Step::Deploy {
                service,
                node,
                replica,
                reason,
            } => {
                let reps = self
                    .services
                    .entry(service.clone())
                    .or_default()
                    .entry(node.clone())
                    .or_default();
                if reps.contains_key(replica) {
                    return false;
                }
                reps.insert(
                    *replica,
                    Placement {
                        since_ms: now_ms,
                        reason: reason.clone(),
                    },
                );
                true
            }
            Step::Remove {
                service,
                node,
                replica,
                ..
            } => {
                let nodes = self.services.entry(service.clone()).or_default();
                let changed = match (replica, nodes.get_mut(node)) {
                    (Some(r), Some(reps)) => reps.remove(r).is_some(),
                    _ => false,
                };
                if nodes.get(node).is_some_and(|r| r.is_empty()) {
                    nodes.remove(node);
                }
                changed
            }
        }
    }
}

/// The deployer's tunables.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployerConfig {
    /// Lifetime of a command Interest: long enough for an image fetch
    /// (re-sending is safe, deploy is idempotent on the node).
    pub command_lifetime: Duration,
    /// First wait after a node did not answer, ms; doubles per failure.
    pub backoff_initial_ms: u64,
    /// Longest wait between attempts, ms.
    pub backoff_max_ms: u64,
    /// Command results kept for the API.
    pub max_results: usize,
    /// Decisions kept for the API.
    pub max_decisions: usize,
}

impl Default for DeployerConfig {
    fn default() -> Self {
        Self {
            command_lifetime: Duration::from_secs(60),
            backoff_initial_ms: 1_000,
            backoff_max_ms: 30_000,
            max_results: 256,
            max_decisions: 1_024,
        }
    }
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandResult {
    /// When it ended, Unix ms (the tick's clock plus the command's time).
    #[serde(rename = "timeMs")]
    pub time_ms: u64,
    /// `deploy` or `remove`.
    pub verb: String,
    /// The service.
    pub service: String,
    /// The node.
    pub node: NodeId,
    /// The replicas it concerned.
    pub replicas: Vec<u32>,
    /// True when the node carried it out.
    pub ok: bool,
    /// Containers of the replicas (deploy) or removed (remove).
    #[serde(rename = "containerIds")]
    pub container_ids: Vec<String>,
    /// The node's step timings (deploy), as it sent them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings: Option<Value>,
    /// The node's error kind (`refused`, `invalid`, `failed`, …), or
    /// `unreachable` when no reply came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The deploy step that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The descriptor field refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Round-trip time, ms.
    #[serde(rename = "elapsedMs")]
    pub elapsed_ms: u64,
}

/// A command the deployer started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Command {
    /// `deploy` or `remove`.
    pub verb: String,
    /// The service.
    pub service: String,
    /// The node.
    pub node: NodeId,
    /// Replicas it is meant to start (deploy) or the one it removes.
    pub replicas: Vec<u32>,
}

/// The spec of a service as deployed on a node, by (service, node): the
/// repo's spec, with the host port the orchestrator gives that node when
/// the spec sets none.
pub type SpecLookup = Arc<dyn Fn(&str, &str) -> Option<ServiceSpec> + Send + Sync>;

/// Exponential wait after failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Backoff {
    delay_ms: u64,
    retry_at_ms: u64,
}

type PairKey = (String, NodeId);
type ReplicaKey = (String, NodeId, u32);

#[derive(Debug, Default)]
struct State {
    desired: DesiredState,
    /// Commands in flight, one per (service, node).
    in_flight: BTreeMap<PairKey, (Command, u64)>,
    /// Nodes that did not answer.
    node_backoff: BTreeMap<NodeId, Backoff>,
    /// Pairs whose last command the node refused or failed.
    pair_backoff: BTreeMap<PairKey, Backoff>,
    /// Replicas a deploy reply confirmed, when.
    deployed: BTreeMap<ReplicaKey, u64>,
    /// Replicas a remove reply confirmed gone, when.
    removed: BTreeMap<ReplicaKey, u64>,
    /// Desired replicas not (known to be) running, as of the last tick.
    pending: BTreeSet<ReplicaKey>,
    results: VecDeque<CommandResult>,
    decisions: VecDeque<Decision>,
    /// Measured repo → node bandwidth, MB/s (moving average).
    bandwidth: BTreeMap<NodeId, f64>,
    counters: DeployerCounters,
}

/// What the deployer did since it started (for `/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployerCounters {
    /// Commands sent (deploy and remove, retries and clean-ups included).
    pub commands: u64,
    /// Commands the node carried out.
    pub ok: u64,
    /// Commands refused, failed or unanswered.
    pub failed: u64,
    /// Of the failures, those the node did not answer.
    pub unreachable: u64,
    /// Commands sent again for a pair or node whose last command failed.
    pub retries: u64,
}

struct Inner {
    client: Client,
    signer: Signer,
    root: Name,
    path: PathBuf,
    specs: SpecLookup,
    config: DeployerConfig,
    state: Mutex<State>,
    idle: tokio::sync::Notify,
}

/// Carries plans out and reconciles desired with actual state.
#[derive(Clone)]
pub struct Deployer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Deployer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployer")
            .field("path", &self.inner.path)
            .finish()
    }
}

fn bump(b: Option<Backoff>, now_ms: u64, config: &DeployerConfig) -> Backoff {
    let delay_ms = match b {
        Some(b) => (b.delay_ms * 2).min(config.backoff_max_ms),
        None => config.backoff_initial_ms.min(config.backoff_max_ms),
    };
    Backoff {
        delay_ms,
        retry_at_ms: now_ms + delay_ms,
    }
}

impl Deployer {
    /// A deployer sending commands through `client`, signed by `signer`
    /// (the orchestrator key, its KeyLocator a name), under `root`
    /// (`/picasso`), keeping its desired state in `data_dir`, taking
    /// descriptors from `specs`. Loads the desired state left by a
    /// previous run.
    pub fn new(
        client: Client,
        signer: Signer,
        root: Name,
        data_dir: &Path,
        specs: SpecLookup,
    ) -> Result<Self, DeployerError> {
        Self::with_config(
            client,
            signer,
            root,
            data_dir,
            specs,
            DeployerConfig::default(),
        )
    }

    /// As [`Deployer::new`], with tunables.
    pub fn with_config(
        client: Client,
        signer: Signer,
        root: Name,
        data_dir: &Path,
        specs: SpecLookup,
        config: DeployerConfig,
    ) -> Result<Self, DeployerError> {
        std::fs::create_dir_all(data_dir).map_err(|source| DeployerError::Io {
            path: data_dir.to_owned(),
            source,
        })?;
        let path = data_dir.join(DESIRED_FILE);
        let desired = DesiredState::load(&path)?;
        let pending = desired
            .placements()
            .map(|(s, n, r, _)| (s.to_owned(), n.to_owned(), r))
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                signer,
                root,
                path,
                specs,
                config,
                state: Mutex::new(State {
                    desired,
                    pending,
                    ..State::default()
                }),
                idle: tokio::sync::Notify::new(),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every update under this lock is a single step: a poisoned lock
        // still guards consistent data.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `plan`'s steps into the desired state (persisted before this
    /// returns) and records its decisions. Commands go out on the next
    /// [`Deployer::reconcile`].
    pub fn apply(&self, plan: &Plan) -> Result<(), DeployerError> {
        let mut st = self.lock();
        let mut next = st.desired.clone();
        let mut changed = false;
        for step in &plan.steps {
            changed |= next.apply_step(step, plan.time);
            if let Step::Deploy {
                service,
                node,
                replica,
                ..
            } = step
            {
                st.pending.insert((service.clone(), node.clone(), *replica));
            }
            if let Step::Remove {
                service,
                node,
                replica: None,
                container,
                ..
            } = step
            {
                tracing::warn!(%service, %node, %container, "remove step without a replica number: left alone");
            }
        }
        if changed {
            next.save(&self.inner.path)?;
            st.desired = next;
        }
        for d in plan.decisions() {
            st.decisions.push_back(d);
        }
        while st.decisions.len() > self.inner.config.max_decisions {
            st.decisions.pop_front();
        }
        Ok(())
    }

    /// The desired state.
    pub fn desired(&self) -> DesiredState {
        self.lock().desired.clone()
    }

    /// Deployments sent or owed and not running yet (desired replicas not
    /// seen running), for [`ClusterView::in_flight`], so the engine counts
    /// them and plans no second replica in their place.
    pub fn in_flight(&self) -> Vec<InFlight> {
        let st = self.lock();
        // Replicas a reply confirmed but no report shows yet count too:
        // without them the engine would plan the replica a second time
        // in the gap between the reply and the node's next report.
        let owed: BTreeSet<&ReplicaKey> = st.pending.iter().chain(st.deployed.keys()).collect();
        owed.into_iter()
            .filter_map(|(s, n, r)| {
                let p = st.desired.services.get(s)?.get(n)?.get(r)?;
                Some(InFlight {
                    service: s.clone(),
                    node: n.clone(),
                    replica: *r,
                    since_ms: p.since_ms,
                })
            })
            .collect()
    }

    /// Every desired replica `view` does not show running (sent, owed,
    /// confirmed but not reported yet, or crashed and about to be started
    /// again by [`Deployer::reconcile`]), plus [`Deployer::in_flight`]:
    /// what the engine must count as coming, so it never plans a second
    /// replica in the place of one the deployer still keeps.
    pub fn owed(&self, view: &ClusterView) -> Vec<InFlight> {
        let mut out = self.in_flight();
        let st = self.lock();
        for (service, node, replica, p) in st.desired.placements() {
            let running = view
                .nodes
                .get(node)
                .is_some_and(|n| n.replicas_of(service).any(|c| c.replica == Some(replica)));
            let listed = out
                .iter()
                .any(|f| f.service == service && f.node == node && f.replica == replica);
            if !running && !listed {
                out.push(InFlight {
                    service: service.to_owned(),
                    node: node.to_owned(),
                    replica,
                    since_ms: p.since_ms,
                });
            }
        }
        out
    }

    /// The commands in flight now.
    pub fn commands_in_flight(&self) -> Vec<Command> {
        self.lock()
            .in_flight
            .values()
            .map(|(c, _)| c.clone())
            .collect()
    }

    /// The latest command results, oldest first.
    pub fn recent_results(&self) -> Vec<CommandResult> {
        self.lock().results.iter().cloned().collect()
    }

    /// The latest decisions applied, oldest first.
    pub fn decisions(&self) -> Vec<Decision> {
        self.lock().decisions.iter().cloned().collect()
    }

    /// The command counters so far.
    pub fn counters(&self) -> DeployerCounters {
        self.lock().counters
    }

    /// Repo → `node` bandwidth measured from image fetches, MB/s.
    pub fn bandwidth(&self, node: &str) -> Option<f64> {
        self.lock().bandwidth.get(node).copied()
    }

    /// When `node` will next be tried after it failed to answer, Unix ms.
    pub fn retry_at(&self, node: &str) -> Option<u64> {
        self.lock().node_backoff.get(node).map(|b| b.retry_at_ms)
    }

    /// Waits until no command is in flight.
    pub async fn idle(&self) {
        loop {
            let notified = self.inner.idle.notified();
            if self.lock().in_flight.is_empty() {
                return;
            }
            notified.await;
        }
    }

    /// Compares the desired state with `view` at `now_ms` (Unix ms) and
    /// starts a command for each (service, node) that differs and is not
    /// in flight or backing off; returns the commands started. Nodes the
    /// view marks unreachable are left alone (the engine replaces their
    /// replicas). Must run inside a tokio runtime.
    pub fn reconcile(&self, view: &ClusterView, now_ms: u64) -> Vec<Command> {
        let mut st = self.lock();
        let mut started = Vec::new();
        let mut pending = BTreeSet::new();
        let services: Vec<String> = st.desired.services.keys().cloned().collect();
        for service in services {
            let mut nodes: BTreeSet<NodeId> =
                st.desired.services[&service].keys().cloned().collect();
            for n in view.nodes.values() {
                if n.containers
                    .iter()
                    .any(|c| c.service.as_deref() == Some(service.as_str()))
                {
                    nodes.insert(n.id.clone());
                }
            }
            for node in nodes {
                let nv = view.nodes.get(&node);
                if nv.is_some_and(|n| !n.reachable) {
                    continue;
                }
                // A confirmation newer than the node's report stands.
                let newer_than_view = |at: u64| match nv {
                    Some(n) => n.last_seen_ms < at,
                    None => true,
                };
                let desired = st.desired.replicas(&service, &node);
                let containers = nv
                    .map(|n| {
                        n.containers
                            .iter()
                            .filter(|c| c.service.as_deref() == Some(service.as_str()))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                let running: BTreeSet<u32> = containers
                    .iter()
                    .filter(|c| c.running)
                    .filter_map(|c| c.replica)
                    .collect();
                let present: BTreeSet<u32> = containers.iter().filter_map(|c| c.replica).collect();
                let key_of = |r: u32| (service.clone(), node.clone(), r);
                let missing: Vec<u32> = desired
                    .iter()
                    .copied()
                    .filter(|r| {
                        !running.contains(r)
                            && !st
                                .deployed
                                .get(&key_of(*r))
                                .is_some_and(|at| newer_than_view(*at))
                    })
                    .collect();
                let orphans: Vec<u32> = present
                    .iter()
                    .copied()
                    .filter(|r| {
                        !desired.contains(r)
                            && !st
                                .removed
                                .get(&key_of(*r))
                                .is_some_and(|at| newer_than_view(*at))
                    })
                    .collect();
                for r in &missing {
                    pending.insert(key_of(*r));
                }
                // Confirmations the view has caught up with are forgotten.
                for r in &running {
                    st.deployed.remove(&key_of(*r));
                }
                for r in desired.iter().filter(|r| !present.contains(r)) {
                    st.removed.remove(&key_of(*r));
                }
                let pair = (service.clone(), node.clone());
                if missing.is_empty() && orphans.is_empty() {
                    st.pair_backoff.remove(&pair);
                    continue;
                }
                if st.in_flight.contains_key(&pair)
                    || st
                        .node_backoff
                        .get(&node)
                        .is_some_and(|b| b.retry_at_ms > now_ms)
                    || st
                        .pair_backoff
                        .get(&pair)
                        .is_some_and(|b| b.retry_at_ms > now_ms)
                {
                    continue;
                }
                let (cmd, params) = if !missing.is_empty() {
                    let Some(spec) = (self.inner.specs)(&service, &node) else {
                        let result = CommandResult {
                            time_ms: now_ms,
                            verb: "deploy".to_owned(),
                            service: service.clone(),
                            node: node.clone(),
                            replicas: missing.clone(),
                            ok: false,
                            container_ids: Vec::new(),
                            timings: None,
                            error: Some("no spec".to_owned()),
                            reason: Some(format!("no spec for service {service:?}")),
                            step: None,
                            field: None,
                            elapsed_ms: 0,
                        };
                        let b = bump(
                            st.pair_backoff.get(&pair).copied(),
                            now_ms,
                            &self.inner.config,
                        );
                        st.pair_backoff.insert(pair, b);
                        push_result(&mut st, result, self.inner.config.max_results);
                        continue;
                    };
                    let top = desired.iter().copied().max().unwrap_or(1);
                    let (descriptor, replicas) =
                        if missing.len() > 1 && desired.len() == top as usize {
                            // Desired is exactly 1..=top: one command for all.
                            (spec.descriptor(top), missing)
                        } else {
                            // Exactly the first missing one; the next tick does the rest.
                            let r = missing[0];
                            let mut d = spec.descriptor(1);
                            d.replica = Some(r);
                            (d, vec![r])
                        };
                    (
                        Command {
                            verb: "deploy".to_owned(),
                            service: service.clone(),
                            node: node.clone(),
                            replicas,
                        },
                        descriptor.to_json(),
                    )
                } else {
                    let r = orphans[0];
                    let params = json!({"serviceName": service, "replica": r})
                        .to_string()
                        .into_bytes();
                    (
                        Command {
                            verb: "remove".to_owned(),
                            service: service.clone(),
                            node: node.clone(),
                            replicas: vec![r],
                        },
                        params,
                    )
                };
                if st.pair_backoff.contains_key(&pair) || st.node_backoff.contains_key(&node) {
                    st.counters.retries += 1;
                }
                st.in_flight.insert(pair.clone(), (cmd.clone(), now_ms));
                started.push(cmd.clone());
                let me = self.clone();
                let keep = desired.clone();
                tokio::spawn(async move {
                    me.run(pair, cmd, params, keep, now_ms).await;
                });
            }
        }
        st.pending = pending;
        started
    }

    /// Sends one command and records what came of it.
    async fn run(
        &self,
        pair: PairKey,
        cmd: Command,
        params: Vec<u8>,
        desired: BTreeSet<u32>,
        sent_ms: u64,
    ) {
        let (result, reply) = self.send(&cmd, &params, sent_ms).await;
        let mut extra = Vec::new();
        {
            let mut st = self.lock();
            let config = &self.inner.config;
            match (&result.error, &reply) {
                (Some(e), _) if e == "unreachable" => {
                    let b = bump(
                        st.node_backoff.get(&cmd.node).copied(),
                        result.time_ms,
                        config,
                    );
                    tracing::info!(node = %cmd.node, retry_in_ms = b.delay_ms, reason = ?result.reason, "node unreachable: backing off");
                    st.node_backoff.insert(cmd.node.clone(), b);
                }
                (Some(_), _) => {
                    st.node_backoff.remove(&cmd.node);
                    let b = bump(st.pair_backoff.get(&pair).copied(), result.time_ms, config);
                    tracing::warn!(service = %cmd.service, node = %cmd.node, verb = %cmd.verb, error = ?result.error, reason = ?result.reason, step = ?result.step, field = ?result.field, "command failed");
                    st.pair_backoff.insert(pair.clone(), b);
                }
                (None, Some(v)) => {
                    st.node_backoff.remove(&cmd.node);
                    st.pair_backoff.remove(&pair);
                    if cmd.verb == "deploy" {
                        for rep in v["replicas"].as_array().into_iter().flatten() {
                            let Some(r) = rep["replica"].as_u64().map(|r| r as u32) else {
                                continue;
                            };
                            let key = (cmd.service.clone(), cmd.node.clone(), r);
                            st.removed.remove(&key);
                            st.pending.remove(&key);
                            if desired.contains(&r) {
                                st.deployed.insert(key, result.time_ms);
                            } else if rep["existing"] == Value::Bool(false) {
                                extra.push(r);
                            }
                        }
                        if let Some(mb_s) = fetch_throughput(&v["fetch"]) {
                            let avg = match st.bandwidth.get(&cmd.node) {
                                Some(old) => 0.5 * old + 0.5 * mb_s,
                                None => mb_s,
                            };
                            st.bandwidth.insert(cmd.node.clone(), avg);
                        }
                        tracing::info!(service = %cmd.service, node = %cmd.node, replicas = ?cmd.replicas, "deployed");
                    } else {
                        for r in &cmd.replicas {
                            let key = (cmd.service.clone(), cmd.node.clone(), *r);
                            st.deployed.remove(&key);
                            st.removed.insert(key, result.time_ms);
                        }
                        tracing::info!(service = %cmd.service, node = %cmd.node, replicas = ?cmd.replicas, "removed");
                    }
                }
                (None, None) => {}
            }
            push_result(&mut st, result, config.max_results);
        }
        // Replicas the node started below the one asked for, not desired.
        for r in extra {
            let c = Command {
                verb: "remove".to_owned(),
                service: cmd.service.clone(),
                node: cmd.node.clone(),
                replicas: vec![r],
            };
            let params = json!({"serviceName": c.service, "replica": r})
                .to_string()
                .into_bytes();
            let (result, reply) = self.send(&c, &params, sent_ms).await;
            let mut st = self.lock();
            if reply.is_some() && result.ok {
                st.removed
                    .insert((c.service.clone(), c.node.clone(), r), result.time_ms);
            }
            push_result(&mut st, result, self.inner.config.max_results);
        }
        self.lock().in_flight.remove(&pair);
        self.inner.idle.notify_waiters();
    }

    /// Expresses `cmd`; its result, and the reply JSON when it succeeded.
    async fn send(
        &self,
        cmd: &Command,
        params: &[u8],
        sent_ms: u64,
    ) -> (CommandResult, Option<Value>) {
        let interest = signed_command(
            &self.inner.root,
            &cmd.node,
            &cmd.verb,
            params,
            &self.inner.signer,
            self.inner.config.command_lifetime,
        );
        let t = Instant::now();
        let reply = self.inner.client.express(interest).await;
        let elapsed_ms = t.elapsed().as_millis() as u64;
        let mut result = CommandResult {
            time_ms: sent_ms + elapsed_ms,
            verb: cmd.verb.clone(),
            service: cmd.service.clone(),
            node: cmd.node.clone(),
            replicas: cmd.replicas.clone(),
            ok: false,
            container_ids: Vec::new(),
            timings: None,
            error: None,
            reason: None,
            step: None,
            field: None,
            elapsed_ms,
        };
        let data = match reply {
            Ok(d) => d,
            Err(e) => {
                result.error = Some("unreachable".to_owned());
                result.reason = Some(e.to_string());
                return (result, None);
            }
        };
        let v: Value = match serde_json::from_slice(&data.content()) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                result.error = Some("malformed".to_owned());
                result.reason = Some("the reply is not a JSON object".to_owned());
                return (result, None);
            }
        };
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        if let Some(error) = text("error") {
            result.error = Some(error);
            result.reason = text("reason");
            result.step = text("step");
            result.field = text("field");
            result.timings = v.get("timings").cloned();
            return (result, None);
        }
        result.ok = true;
        if cmd.verb == "deploy" {
            result.timings = v.get("timings").cloned();
            result.container_ids = v["replicas"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| {
                    r["replica"]
                        .as_u64()
                        .is_some_and(|n| cmd.replicas.contains(&(n as u32)))
                })
                .filter_map(|r| r["containerId"].as_str().map(str::to_owned))
                .collect();
        } else {
            result.container_ids = v["removed"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect();
        }
        (result, Some(v))
    }
}

fn push_result(st: &mut State, result: CommandResult, max: usize) {
    st.counters.commands += 1;
    if result.ok {
        st.counters.ok += 1;
    } else {
        st.counters.failed += 1;
        if result.error.as_deref() == Some("unreachable") {
            st.counters.unreachable += 1;
        }
    }
    st.results.push_back(result);
    while st.results.len() > max {
        st.results.pop_front();
    }
}

/// MB/s of an image fetch from a deploy reply's `fetch` stats, when it
/// moved bytes over the network.
fn fetch_throughput(fetch: &Value) -> Option<f64> {
    let bytes = fetch.get("bytesFetched")?.as_f64()?;
    let seconds = fetch.get("seconds")?.as_f64()?;
    (bytes > 0.0 && seconds > 0.0).then(|| bytes / seconds / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(service: &str, node: &str, replica: u32) -> Step {
        Step::Deploy {
            service: service.into(),
            node: node.into(),
            replica,
            reason: "test".into(),
        }
    }

    #[test]
    fn desired_state_round_trips_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DESIRED_FILE);
        assert_eq!(DesiredState::load(&path).unwrap(), DesiredState::default());
        let mut d = DesiredState::default();
        assert!(d.apply_step(&deploy("S1", "n1", 1), 5));
        assert!(!d.apply_step(&deploy("S1", "n1", 1), 6));
        assert!(d.apply_step(&deploy("S1", "n2", 2), 7));
        d.save(&path).unwrap();
        assert!(!path.with_extension("json.tmp").exists());
        let back = DesiredState::load(&path).unwrap();
        assert_eq!(back, d);
        assert_eq!(back.replicas("S1", "n1"), BTreeSet::from([1]));
        let text = std::fs::read_to_string(&path).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(v["services"]["S1"]["n2"]["2"]["sinceMs"], 7);
    }

    #[test]
    fn removing_the_last_replica_keeps_the_service_managed() {
        let mut d = DesiredState::default();
        d.apply_step(&deploy("S1", "n1", 1), 1);
        let rm = Step::Remove {
            service: "S1".into(),
            node: "n1".into(),
            replica: Some(1),
            container: "c".into(),
            reason: "idle".into(),
        };
        assert!(d.apply_step(&rm, 2));
        assert!(d.services["S1"].is_empty());
        assert_eq!(d.placements().count(), 0);
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DESIRED_FILE);
        std::fs::write(&path, b"{nope").unwrap();
        let e = DesiredState::load(&path).unwrap_err();
        assert!(e.to_string().contains("desired.json"), "{e}");
    }

    #[test]
    fn backoff_doubles_to_the_cap() {
        let c = DeployerConfig::default();
        let mut b = bump(None, 0, &c);
        assert_eq!((b.delay_ms, b.retry_at_ms), (1_000, 1_000));
        let mut delays = vec![b.delay_ms];
        for _ in 0..6 {
            b = bump(Some(b), 100, &c);
            delays.push(b.delay_ms);
        }
        assert_eq!(delays, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
        assert_eq!(b.retry_at_ms, 30_100);
    }

    #[test]
    fn throughput_from_fetch_stats() {
        let f = json!({"bytesFetched": 2_000_000, "seconds": 0.5});
        assert_eq!(fetch_throughput(&f), Some(4.0));
        assert_eq!(
            fetch_throughput(&json!({"bytesFetched": 0, "seconds": 1})),
            None
        );
        assert_eq!(fetch_throughput(&Value::Null), None);
    }
}
