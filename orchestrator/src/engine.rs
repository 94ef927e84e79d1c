//! The orchestration engine: a pure function from (cluster view, specs,
//! clock, state) to a plan, each step with its reason.
//!
//! Owns the plan and decision types, the [`Policy`] seam (the paper's
//! "algorithm repository") and the pass every policy shares
//! ([`availability`]). It does not carry plans out (the deployer will)
//! nor gather the view ([`crate::view`]).
//!
//! ```text
//! plan(view, specs, now, state, policy, config)
//!   ├─ availability::plan   replicas of lost nodes again elsewhere, spread
//!   │                       over distinct nodes, spec minimum
//!   └─ policy.plan          threshold | qos | on-demand
//!        ── both write steps into one Planner, which counts steps already
//!           planned and deployments in flight as replicas, so passes never
//!           double up ──► (Plan { steps, held }, EngineState for the next tick)
//! ```
//!
//! Only services with a spec are managed; containers of other services
//! count as node load and are otherwise left alone.
//!
//! Layout: [`model`] (the response-time model from the paper's
//! measurements), [`availability`], [`threshold`], [`qos`], [`on_demand`].
//! Nothing here reads a clock or does I/O: state that lives across ticks
//! (cool-downs, idle timers) is the explicit [`EngineState`], passed in and
//! returned, so the same code runs in tests and in a simulator.

pub mod availability;
pub mod model;
pub mod on_demand;
pub mod qos;
pub mod threshold;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::spec::ServiceSpec;
use crate::view::{ClusterView, NodeId, NodeView};

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Start a replica.
    Deploy,
    /// Stop and remove a replica.
    Remove,
    /// Wanted to act, did not (no candidate, cool-down): not a step.
    Hold,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Action::Deploy => "deploy",
            Action::Remove => "remove",
            Action::Hold => "hold",
        })
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Step {
    /// Start replica `replica` of `service` on `node`.
    Deploy {
        /// The service.
        service: String,
        /// The node.
        node: NodeId,
        /// The replica number on that node (1 + the highest in use).
        replica: u32,
        /// Why.
        reason: String,
    },
    /// Remove a replica of `service` from `node`.
    Remove {
        /// The service.
        service: String,
        /// The node.
        node: NodeId,
        /// Its replica number, when known.
        replica: Option<u32>,
        /// Its container id.
        container: String,
        /// Why.
        reason: String,
    },
}

impl Step {
    /// The step's action.
    pub fn action(&self) -> Action {
        match self {
            Step::Deploy { .. } => Action::Deploy,
            Step::Remove { .. } => Action::Remove,
        }
    }

    /// The service it concerns.
    pub fn service(&self) -> &str {
        match self {
            Step::Deploy { service, .. } | Step::Remove { service, .. } => service,
        }
    }

    /// The node it concerns.
    pub fn node(&self) -> &str {
        match self {
            Step::Deploy { node, .. } | Step::Remove { node, .. } => node,
        }
    }

    /// Why.
    pub fn reason(&self) -> &str {
        match self {
            Step::Deploy { reason, .. } | Step::Remove { reason, .. } => reason,
        }
    }
}

/// A decision as the API shows it:
/// `{"time", "action", "service", "node", "reason"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// When, Unix ms.
    pub time: u64,
    /// What.
    pub action: Action,
    /// Which service.
    pub service: String,
    /// Which node (empty for a hold that concerns no node).
    pub node: String,
    /// Why.
    pub reason: String,
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} on {}: {}",
            self.time, self.action, self.service, self.node, self.reason
        )
    }
}

/// What the engine decided in one tick.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    /// When it was made, Unix ms.
    pub time: u64,
    /// The policy that made it.
    pub policy: String,
    /// The steps, in the order to carry them out.
    pub steps: Vec<Step>,
    /// What the engine wanted to do and did not, with why (for the log).
    pub held: Vec<Decision>,
}

impl Plan {
    /// The steps as decisions (the API's log).
    pub fn decisions(&self) -> Vec<Decision> {
        self.steps
            .iter()
            .map(|s| Decision {
                time: self.time,
                action: s.action(),
                service: s.service().to_owned(),
                node: s.node().to_owned(),
                reason: s.reason().to_owned(),
            })
            .collect()
    }
}

/// One service's state across ticks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceState {
    /// When the engine last added a replica, Unix ms.
    pub last_up_ms: Option<u64>,
    /// When the engine last removed a replica, Unix ms.
    pub last_down_ms: Option<u64>,
    /// When the service last had a request, Unix ms.
    pub last_active_ms: Option<u64>,
    /// Lost replicas (`<node>/<container>`) already deployed again, so a
    /// node that stays unreachable is replaced once; forgotten when the
    /// replica leaves the view's lost list.
    #[serde(default)]
    pub replaced: std::collections::BTreeSet<String>,
}

/// What the engine remembers between ticks: passed in, returned updated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineState {
    /// Per service.
    pub services: BTreeMap<String, ServiceState>,
}

/// The engine's tunables; the defaults follow the paper where it has a
/// figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineConfig {
    /// threshold: a container above this CPU (percent of one core) is
    /// replicated.
    pub cpu_high_percent: f64,
    /// threshold: replicas are removed when all are below this.
    pub cpu_low_percent: f64,
    /// A node below this CPU (percent of all cores) has headroom for a
    /// local replica.
    pub headroom_percent: f64,
    /// A node above this memory use takes no new replica.
    pub mem_limit_percent: f64,
    /// No scale-up of a service within this long of its previous one.
    pub up_cooldown_ms: u64,
    /// No scale-down within this long of any scaling of the service.
    pub down_cooldown_ms: u64,
    /// on-demand: a service idle this long scales to zero.
    pub idle_after_ms: u64,
    /// qos: the horizon over which a replica's cost is paid back, s.
    pub horizon_s: f64,
    /// qos: a new replica must cut the cost-weighted response time by at
    /// least this share.
    pub min_gain: f64,
    /// qos: a replica is removed only if the prediction without it stays
    /// below this share of the responseTime and maxUsers (hysteresis).
    pub scale_down_margin: f64,
    /// availability: the availability of one node, 0–1.
    pub node_availability: f64,
    /// qos: bandwidth assumed when a node's is unmeasured, MB/s.
    pub default_bandwidth_mb_s: f64,
    /// qos: the model's constants (see [`model`]).
    pub model: model::ModelConstants,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            cpu_high_percent: 80.0,
            cpu_low_percent: 20.0,
            headroom_percent: 75.0,
            mem_limit_percent: 90.0,
            up_cooldown_ms: 30_000,
            down_cooldown_ms: 120_000,
            idle_after_ms: 300_000,
            horizon_s: 60.0,
            min_gain: 0.1,
            scale_down_margin: 0.6,
            node_availability: 0.99,
            default_bandwidth_mb_s: 10.0,
            model: model::ModelConstants::default(),
        }
    }
}

/// A deployment policy: one entry of the algorithm repository.
pub trait Policy: std::fmt::Debug + Send + Sync {
    /// Its name (`threshold`, `qos`, `on-demand`).
    fn name(&self) -> &'static str;

    /// Adds its steps to `planner` (which already holds the availability
    /// pass's).
    fn plan(&self, planner: &mut Planner<'_>);

    /// False when the policy scales idle services to zero, so the
    /// availability pass does not enforce the spec's minimum on them.
    fn keeps_minimum(&self) -> bool {
        true
    }
}

/// Why a policy name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no policy named {name:?} (known: threshold, qos, on-demand)")]
pub struct UnknownPolicy {
    /// The name given.
    pub name: String,
}

/// The policy called `name`.
pub fn policy_by_name(name: &str) -> Result<Box<dyn Policy>, UnknownPolicy> {
    match name {
        "threshold" => Ok(Box::new(threshold::Threshold)),
        "qos" => Ok(Box::new(qos::Qos)),
        "on-demand" | "on_demand" | "ondemand" => Ok(Box::new(on_demand::OnDemand)),
        _ => Err(UnknownPolicy {
            name: name.to_owned(),
        }),
    }
}

/// The names [`policy_by_name`] knows.
pub const POLICIES: [&str; 3] = ["threshold", "qos", "on-demand"];

/// Runs one tick: the availability pass, then `policy`. Pure: the result
/// depends only on the arguments.
pub fn plan(
    view: &ClusterView,
    specs: &BTreeMap<String, ServiceSpec>,
    now_ms: u64,
    state: &EngineState,
    policy: &dyn Policy,
    config: &EngineConfig,
) -> (Plan, EngineState) {
    let mut planner = Planner::new(view, specs, now_ms, state, policy.name(), config);
    planner.track_activity();
    availability::plan(&mut planner, policy.keeps_minimum());
    policy.plan(&mut planner);
    (planner.plan, planner.state)
}

impl<'a> Planner<'a> {
    /// A planner for one tick: the view's per-service indexes built once,
    /// an empty plan named after `policy`.
    pub fn new(
        view: &'a ClusterView,
        specs: &'a BTreeMap<String, ServiceSpec>,
        now_ms: u64,
        state: &EngineState,
        policy: &str,
        config: &'a EngineConfig,
    ) -> Self {
        Planner {
            view,
            hosting: hosting_index(view, |n: &NodeView| n.replicas_of_any()),
            demanding: hosting_index(view, |n: &NodeView| n.demand.keys().map(String::as_str)),
            hostable: view
                .reachable()
                .filter(|n| n.mem_percent < config.mem_limit_percent)
                .count() as u32,
            specs,
            now_ms,
            config,
            state: state.clone(),
            plan: Plan {
                time: now_ms,
                policy: policy.to_owned(),
                ..Plan::default()
            },
        }
    }
}

/// A replica as the planner counts it: running, in flight or planned.
#[derive(Debug, Clone, PartialEq)]
pub struct Replica {
    /// The node.
    pub node: NodeId,
    /// Its number there, when known.
    pub replica: Option<u32>,
    /// Its container id (empty when not started yet).
    pub container: String,
    /// True when it does not run yet (in flight or planned this tick).
    pub pending: bool,
}

/// The reachable nodes per service that `services` names for each node,
/// in node order: built once per tick so [`Planner::replicas`] and the
/// demand queries visit only the nodes that matter (at 1,000 nodes,
/// scanning every node for every query dominated a tick).
fn hosting_index<'a, I>(
    view: &'a ClusterView,
    services: impl Fn(&'a NodeView) -> I,
) -> BTreeMap<&'a str, Vec<&'a NodeView>>
where
    I: Iterator<Item = &'a str>,
{
    let mut m: BTreeMap<&str, Vec<&NodeView>> = BTreeMap::new();
    for node in view.reachable() {
        for s in services(node) {
            let v = m.entry(s).or_default();
            if !matches!(v.last(), Some(n) if n.id == node.id) {
                v.push(node);
            }
        }
    }
    m
}

/// The working state of one tick: inputs, the plan so far and the state.
#[derive(Debug)]
pub struct Planner<'a> {
    /// The snapshot.
    pub view: &'a ClusterView,
    /// Reachable nodes per service they run (see [`hosting_index`]).
    hosting: BTreeMap<&'a str, Vec<&'a NodeView>>,
    /// Reachable nodes per service their gateway measured demand for.
    demanding: BTreeMap<&'a str, Vec<&'a NodeView>>,
    /// Reachable nodes below the memory limit ([`Planner::can_host`]).
    hostable: u32,
    /// The specs, by service.
    pub specs: &'a BTreeMap<String, ServiceSpec>,
    /// The clock, Unix ms.
    pub now_ms: u64,
    /// The tunables.
    pub config: &'a EngineConfig,
    /// State across ticks (updated as steps are planned).
    pub state: EngineState,
    /// The plan so far.
    pub plan: Plan,
}

impl Planner<'_> {
    /// The replicas of `service` on reachable nodes: running, in flight,
    /// and deployed by this plan, less those this plan removes.
    pub fn replicas(&self, service: &str) -> Vec<Replica> {
        let mut out: Vec<Replica> = Vec::new();
        let hosting = self.hosting.get(service).map_or(&[][..], |v| v.as_slice());
        for node in hosting {
            for c in node.replicas_of(service) {
                out.push(Replica {
                    node: node.id.clone(),
                    replica: c.replica,
                    container: c.id.clone(),
                    pending: false,
                });
            }
        }
        for f in self.view.in_flight.iter().filter(|f| f.service == service) {
            let reachable = self.view.nodes.get(&f.node).is_some_and(|n| n.reachable);
            let dup = out
                .iter()
                .any(|r| r.node == f.node && r.replica == Some(f.replica));
            if reachable && !dup {
                out.push(Replica {
                    node: f.node.clone(),
                    replica: Some(f.replica),
                    container: String::new(),
                    pending: true,
                });
            }
        }
        for s in &self.plan.steps {
            match s {
                Step::Deploy {
                    service: sv,
                    node,
                    replica,
                    ..
                } if sv == service => out.push(Replica {
                    node: node.clone(),
                    replica: Some(*replica),
                    container: String::new(),
                    pending: true,
                }),
                Step::Remove {
                    service: sv,
                    node,
                    container,
                    ..
                } if sv == service => {
                    out.retain(|r| !(r.node == *node && r.container == *container));
                }
                _ => {}
            }
        }
        out
    }

    /// The reachable nodes whose gateway measured demand for `service`,
    /// in node order.
    pub fn demanding(&self, service: &str) -> impl Iterator<Item = &NodeView> {
        self.demanding
            .get(service)
            .map_or(&[][..], |v| v.as_slice())
            .iter()
            .copied()
    }

    /// How many nodes may take a new replica ([`Planner::can_host`]).
    pub fn hostable_count(&self) -> u32 {
        self.hostable
    }

    /// Replicas of `service` per node.
    pub fn per_node(&self, service: &str) -> BTreeMap<NodeId, u32> {
        let mut m = BTreeMap::new();
        for r in self.replicas(service) {
            *m.entry(r.node).or_insert(0) += 1;
        }
        m
    }

    /// True when `service` has a deployment in flight.
    pub fn has_in_flight(&self, service: &str) -> bool {
        self.view.in_flight.iter().any(|f| f.service == service)
    }

    /// True when `node` may take a new replica: reachable and below the
    /// memory limit.
    pub fn can_host(&self, node: &NodeView) -> bool {
        node.reachable && node.mem_percent < self.config.mem_limit_percent
    }

    /// The state of `service` (created on first use).
    pub fn service_state(&mut self, service: &str) -> &mut ServiceState {
        self.state.services.entry(service.to_owned()).or_default()
    }

    /// True when `service` may scale up now (outside its up cool-down).
    pub fn may_scale_up(&self, service: &str) -> bool {
        let s = self.state.services.get(service);
        match s.and_then(|s| s.last_up_ms) {
            Some(t) => self.now_ms.saturating_sub(t) >= self.config.up_cooldown_ms,
            None => true,
        }
    }

    /// True when `service` may scale down now (outside the down cool-down
    /// after any scaling).
    pub fn may_scale_down(&self, service: &str) -> bool {
        let s = self.state.services.get(service);
        let last = s.map(|s| s.last_up_ms.max(s.last_down_ms)).unwrap_or(None);
        match last {
            Some(t) => self.now_ms.saturating_sub(t) >= self.config.down_cooldown_ms,
            None => true,
        }
    }

    /// Plans a new replica of `service` on `node`.
    pub fn deploy(&mut self, service: &str, node: &str, reason: String) {
        let replica = self.next_replica(service, node);
        tracing::info!(service, node, replica, %reason, "plan: deploy");
        self.plan.steps.push(Step::Deploy {
            service: service.to_owned(),
            node: node.to_owned(),
            replica,
            reason,
        });
        let now = self.now_ms;
        self.service_state(service).last_up_ms = Some(now);
    }

    /// Plans the removal of `replica`.
    pub fn remove(&mut self, service: &str, replica: &Replica, reason: String) {
        tracing::info!(service, node = %replica.node, %reason, "plan: remove");
        self.plan.steps.push(Step::Remove {
            service: service.to_owned(),
            node: replica.node.clone(),
            replica: replica.replica,
            container: replica.container.clone(),
            reason,
        });
        let now = self.now_ms;
        self.service_state(service).last_down_ms = Some(now);
    }

    /// Records something the engine wanted to do and did not.
    pub fn hold(&mut self, service: &str, node: &str, reason: String) {
        self.plan.held.push(Decision {
            time: self.now_ms,
            action: Action::Hold,
            service: service.to_owned(),
            node: node.to_owned(),
            reason,
        });
    }

    /// Starts or restarts each service's idle timer: a service with
    /// requests (gateway demand, or requests reaching the orchestrator) is
    /// active now; one never seen starts its timer now.
    pub(crate) fn track_activity(&mut self) {
        let mut active = std::collections::BTreeSet::new();
        for n in self.view.reachable() {
            for (s, d) in &n.demand {
                if d.is_active() {
                    active.insert(s.clone());
                }
            }
        }
        for u in &self.view.unserved {
            if u.count > 0 {
                active.insert(u.service.clone());
            }
        }
        let now = self.now_ms;
        let known: Vec<String> = self
            .specs
            .keys()
            .cloned()
            .chain(active.iter().cloned())
            .collect();
        for s in known {
            let st = self.service_state(&s);
            if active.contains(&s) || st.last_active_ms.is_none() {
                st.last_active_ms = Some(now);
            }
        }
    }

    /// How long `service` has had no request, ms.
    pub fn idle_for(&self, service: &str) -> u64 {
        let last = self
            .state
            .services
            .get(service)
            .and_then(|s| s.last_active_ms)
            .unwrap_or(self.now_ms);
        self.now_ms.saturating_sub(last)
    }

    /// The replica number a new replica of `service` gets on `node`.
    fn next_replica(&self, service: &str, node: &str) -> u32 {
        let mut highest = 0;
        if let Some(n) = self.view.nodes.get(node) {
            for c in n
                .containers
                .iter()
                .filter(|c| c.service.as_deref() == Some(service))
            {
                highest = highest.max(c.replica.unwrap_or(0));
            }
        }
        for r in self.replicas(service) {
            if r.node == node {
                highest = highest.max(r.replica.unwrap_or(0));
            }
        }
        highest + 1
    }

    /// The replica of `service` to remove when scaling down, if one may
    /// go: never below the spec's minimum (at least 1) nor below the
    /// distinct nodes its availability needs; a second replica on a node
    /// goes first (local duplicates do not help, see [`model`]), then the
    /// one on the busiest node, then the highest replica number.
    pub fn removable(&self, service: &str, spec: &ServiceSpec) -> Option<Replica> {
        let all = self.replicas(service);
        if all.len() as u32 <= spec.replicas.min.max(1) {
            return None;
        }
        let reachable = self.hostable_count();
        let want_nodes =
            availability::nodes_needed(spec.availability, self.config.node_availability)
                .min(reachable)
                .min(spec.replicas.max);
        let per_node = self.per_node(service);
        let cpu = |node: &str| self.view.nodes.get(node).map_or(0.0, |n| n.cpu_percent);
        all.into_iter()
            .filter(|r| !r.pending)
            .filter(|r| per_node[&r.node] > 1 || per_node.len() as u32 > want_nodes)
            .max_by(|a, b| {
                per_node[&a.node]
                    .cmp(&per_node[&b.node])
                    .then(cpu(&a.node).total_cmp(&cpu(&b.node)))
                    .then(a.replica.cmp(&b.replica))
                    .then(b.node.cmp(&a.node))
            })
    }

    /// True when this plan already has a step for `service`.
    pub fn touched(&self, service: &str) -> bool {
        self.plan.steps.iter().any(|s| s.service() == service)
    }

    /// The reachable node with the lowest CPU that can host, among those
    /// `filter` accepts (ties by load, then id).
    pub fn least_loaded(&self, filter: impl Fn(&NodeView) -> bool) -> Option<&NodeView> {
        self.view
            .reachable()
            .filter(|n| self.can_host(n) && filter(n))
            .min_by(|a, b| {
                a.cpu_percent
                    .total_cmp(&b.cpu_percent)
                    .then(a.load.total_cmp(&b.load))
                    .then(a.id.cmp(&b.id))
            })
    }
}

#[cfg(test)]
mod policy_tests;
#[cfg(test)]
mod recorded;
#[cfg(test)]
pub(crate) mod testkit;
