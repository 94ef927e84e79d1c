//! `picasso sim`: a discrete-event simulator that drives the real
//! orchestration engine ([`crate::engine::plan`] with its policies and the
//! availability pass) with thousands of synthetic nodes and services, and
//! compares the policies on QoS violations and replicas used.
//!
//! Owns the synthetic world ([`scenario`]), its clock, the fluid traffic
//! model and the metrics ([`metrics`]). It decides nothing: every deploy
//! and remove comes from `engine::plan`, exactly as the orchestrator would
//! call it, on the [`ClusterView`] the monitoring manager would build.
//!
//! ```text
//! Scenario::generate(seed) ── nodes, services, timeline (moves, flash crowds,
//!        │                    idle periods, node failures) — same for every policy
//!        ▼
//! every simulated second:
//!   timeline events ≤ now ─► world          deployments finishing ≤ now ─► replicas
//!   demand (fluid, per ingress node and service)
//!     └─ routing: nearest replica with room (balance level, then up to saturation), rest fails
//!   response time per node: R = t0 · (1 + ε(r−1)) / (1 − ρ) + RTT      ─► metrics
//!   ClusterView (nodes, containers, gateway demand, in_flight, unserved)
//!     └─ engine::plan(view, specs, now, state, policy, config) ─► steps
//!          Deploy: completes after transfer (size / bandwidth unless cached,
//!                  queued per node) + engine start (3.37 s if stopped)
//!                  + instantiation (max(1.45 s, startUpTime))
//!          Remove: at once
//! ```
//!
//! **Model.** Nodes are Raspberry Pi 3s: 4 cores, 1 GB, some background
//! load, a bandwidth from the repo of 2–20 MB/s, 30 % with their container
//! engine stopped. Services are the paper's four web servers (Table I's
//! image sizes, Fig. 3's concurrency limits as `maxUsers`, per-request CPU
//! from Fig. 7) with Zipf popularity; each service's users sit around a
//! centre node (40 % there, 20 % at each of its three nearest neighbours)
//! that walks to a neighbour now and then; demand follows a (compressed)
//! day, the less popular services come and go (so `on-demand` has
//! something to scale to zero), flash crowds multiply a service's demand
//! at a random place for one to five minutes, and nodes fail and come back
//! empty (images kept, engine stopped).
//!
//! Demand is fluid — a rate per ingress node and service for each one-second
//! tick, not one event per request — so an hour of a 1,000-node network at
//! 10,000 requests/s is 3,600 ticks. A node's CPU is shared by every
//! replica on it: with utilisation `ρ` (background plus each served
//! request's CPU demand `c`, over 4 cores) a request to a replica there
//! takes `R = t0 · (1 + ε(r − 1)) / (1 − ρ)` (processor sharing; `ε` the
//! per-local-replica overhead of [`crate::engine::model`]), plus the
//! round trip to the replica's node (5 ms plus distance). This is the
//! open-system counterpart of the engine's closed-loop bound
//! `max(t0, N·c/F)`: both say that a second replica on the same node
//! leaves `ρ`, hence `R`, where it was, and a replica elsewhere splits it.
//! Requests go to the nearest replica with room, as the forwarder's load
//! balancing does: first every replica up to the balance utilisation
//! (`balance_util`, nearest first), then up to saturation (`max_util`);
//! a replica also takes no more than `maxUsers` concurrent users
//! (`λ·R`, Little's law). What finds no room fails.
//!
//! Each tick's view carries what the real monitoring would report: node
//! CPU (percent of all cores), load, memory, per-container CPU (percent of
//! one core), the gateway's demand per service on the node that serves it
//! (completed requests/s, requests in flight `λ·R`, success rate, median
//! latency), deployments in flight, and requests for services that run
//! nowhere (`unserved`, what `on-demand` reacts to). A failed node stays
//! reachable in the view until `detect_ms` has passed (missed polls), then
//! its replicas are lost.
//!
//! **Benchmark** (`cargo run --release -- sim`, the default scenario:
//! 1,000 nodes, 200 services, 10,000 requests/s, one simulated hour, seed
//! 1; a 2-core machine shared with other builds): 4.5 s of CPU (10.5 s
//! wall, 344× real time) for `threshold`, 9.4 s (18.9 s) for `qos`, 4.4 s
//! (8.8 s) for `on-demand`, most of it in `engine::plan`, whose per-tick node index
//! (see [`crate::engine`]) cut the three runs from 34 / 161 / 78 s wall to
//! 13 / 24 / 9 s with identical results. The README section on `picasso
//! sim` has the policies' figures.

pub mod metrics;
pub mod rng;
pub mod scenario;

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde::Serialize;

use crate::engine::{self, EngineConfig, EngineState, Policy, Step};
use crate::spec::{ServiceSpec, SpecError};
use crate::view::{ClusterView, ContainerView, DemandView, InFlight, NodeView, UnservedRequest};
use metrics::{Histogram, PolicyReport};
use scenario::{dist, Event, Scenario};

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimConfig {
    /// Nodes.
    pub nodes: usize,
    /// Services.
    pub services: usize,
    /// Mean requests per second over all services (while active).
    pub rps: f64,
    /// Simulated time, s.
    pub duration_s: u64,
    /// The seed: the same seed gives the same scenario and results.
    pub seed: u64,
    /// The diurnal period, s (a compressed day by default).
    pub day_s: f64,
    /// Mean time between moves of a service's users, s.
    pub move_every_s: f64,
    /// Flash crowds per simulated hour.
    pub flash_per_hour: f64,
    /// Node failures per simulated hour, cluster-wide (`None`: 1 % of the
    /// nodes).
    pub failures_per_hour: Option<f64>,
    /// Mean time a failed node stays down, s.
    pub mean_downtime_s: f64,
    /// How long before the monitoring marks a silent node unreachable, ms.
    pub detect_ms: u64,
    /// Utilisation up to which the forwarder prefers the nearest replica.
    pub balance_util: f64,
    /// Utilisation at which a node takes no more requests.
    pub max_util: f64,
    /// The engine's tunables.
    #[serde(skip)]
    pub engine: EngineConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            nodes: 1000,
            services: 200,
            rps: 10_000.0,
            duration_s: 3600,
            seed: 1,
            day_s: 3600.0,
            move_every_s: 600.0,
            flash_per_hour: 20.0,
            failures_per_hour: None,
            mean_downtime_s: 600.0,
            detect_ms: 3000,
            balance_util: 0.6,
            max_util: 0.95,
            engine: EngineConfig::default(),
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// A field is out of range.
    #[error("{field}: {message}")]
    Config {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A generated spec did not validate.
    #[error("generated spec refused: {0}")]
    Spec(#[from] SpecError),
}

impl SimConfig {
    /// Checks the fields; the error names the first bad one.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |field, message: &str| {
            Err(SimError::Config {
                field,
                message: message.to_owned(),
            })
        };
        if self.nodes == 0 || self.nodes > 100_000 {
            return bad("nodes", "must be 1..=100000");
        }
        if self.services == 0 || self.services > 100_000 {
            return bad("services", "must be 1..=100000");
        }
        if !(self.rps.is_finite() && self.rps >= 0.0) {
            return bad("rps", "must be a number ≥ 0");
        }
        if self.duration_s == 0 || self.duration_s > 30 * 86_400 {
            return bad("duration", "must be 1..=2592000 s");
        }
        if !(self.day_s.is_finite() && self.day_s > 0.0) {
            return bad("day", "must be more than 0 s");
        }
        if !(self.move_every_s.is_finite() && self.move_every_s > 0.0) {
            return bad("move-every", "must be more than 0 s");
        }
        if !(self.flash_per_hour.is_finite() && self.flash_per_hour >= 0.0) {
            return bad("flash-per-hour", "must be ≥ 0");
        }
        if let Some(f) = self.failures_per_hour {
            if !(f.is_finite() && f >= 0.0) {
                return bad("failures-per-hour", "must be ≥ 0");
            }
        }
        if !(self.mean_downtime_s.is_finite() && self.mean_downtime_s > 0.0) {
            return bad("mean-downtime", "must be more than 0 s");
        }
        if !(self.max_util > 0.0 && self.max_util < 1.0) {
            return bad("max-util", "must be in (0, 1)");
        }
        if !(self.balance_util > 0.0 && self.balance_util <= self.max_util) {
            return bad("balance-util", "must be in (0, max-util]");
        }
        Ok(())
    }
}

/// A run of every policy asked on one scenario.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    /// The configuration.
    pub config: SimConfig,
    /// Scenario events (moves, sessions, flash crowds, failures).
    pub events: usize,
    /// Node failures in the scenario.
    pub node_failures: usize,
    /// Flash crowds in the scenario.
    pub flash_crowds: usize,
    /// Wall time generating the scenario, s.
    pub generate_wall_s: f64,
    /// One report per policy, in the order asked.
    pub policies: Vec<PolicyReport>,
}

/// Generates the scenario of `cfg` and runs each of `policies` on it.
pub fn compare(cfg: &SimConfig, policies: &[Box<dyn Policy>]) -> Result<Comparison, SimError> {
    cfg.validate()?;
    let started = Instant::now();
    let scenario = Scenario::generate(cfg)?;
    let generate_wall_s = started.elapsed().as_secs_f64();
    let count = |f: fn(&Event) -> bool| scenario.events.iter().filter(|(_, e)| f(e)).count();
    Ok(Comparison {
        config: cfg.clone(),
        events: scenario.events.len(),
        node_failures: count(|e| matches!(e, Event::NodeDown { .. })),
        flash_crowds: count(|e| matches!(e, Event::FlashStart { .. })),
        generate_wall_s,
        policies: policies
            .iter()
            .map(|p| run(&scenario, cfg, p.as_ref()))
            .collect(),
    })
}

/// Runs `policy` on `scenario` for `cfg.duration_s` simulated seconds.
pub fn run(scenario: &Scenario, cfg: &SimConfig, policy: &dyn Policy) -> PolicyReport {
    let started = Instant::now();
    let cpu_started = thread_cpu_s();
    let mut w = World::new(scenario, cfg);
    for t in 0..cfg.duration_s {
        w.tick(t * 1000, policy);
    }
    let mut r = w.finish(policy.name(), started.elapsed().as_secs_f64());
    r.cpu_s = match (cpu_started, thread_cpu_s()) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    r
}

/// CPU time of the calling thread, s (Linux `/proc/thread-self/stat`,
/// user + system at 100 ticks/s); `None` elsewhere. Wall time alone
/// misleads on a shared machine.
pub fn thread_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line.
    let user: f64 = f.get(11)?.parse().ok()?;
    let system: f64 = f.get(12)?.parse().ok()?;
    Some((user + system) / 100.0)
}

/// Round-trip time between nodes `a` and `b`, s: none on the node
/// itself, else the paper's 5 ms plus distance.
pub fn rtt_s(a: (f64, f64), b: (f64, f64), same: bool) -> f64 {
    if same {
        0.0
    } else {
        0.005 + 0.03 * dist(a, b)
    }
}

/// The response time of a replica on a node at utilisation `util` with
/// `local` replicas of the service there (module docs), s.
pub fn replica_response_s(base_s: f64, local: u32, util: f64, local_overhead: f64) -> f64 {
    base_s * (1.0 + local_overhead * local.saturating_sub(1) as f64) / (1.0 - util).max(1e-3)
}

#[derive(Debug, Clone)]
struct NodeState {
    /// Failures not yet recovered from (0 = up).
    down: u32,
    epoch: u32,
    down_since_ms: u64,
    engine_running: bool,
    link_free_ms: u64,
    fetched: bool,
    mem_used_mb: f64,
    /// Cores busy this tick.
    cpu: f64,
}

#[derive(Debug, Clone)]
struct Replica {
    node: usize,
    container: ContainerView,
}

#[derive(Debug, Clone, Default)]
struct Host {
    node: usize,
    replicas: u32,
    served: f64,
    failed: f64,
    rtt_weighted: f64,
    response_s: f64,
}

/// A flash crowd under way: (id, where, extra requests/s).
type Flash = (u64, Vec<(usize, f64)>, f64);

#[derive(Debug, Clone)]
struct ServiceState {
    replicas: Vec<Replica>,
    active: bool,
    factor: f64,
    ingress: Vec<(usize, f64)>,
    flashes: Vec<Flash>,
    removals: u64,
}

#[derive(Debug, Clone)]
struct Pending {
    service: usize,
    node: usize,
    replica: u32,
    since_ms: u64,
    done_ms: u64,
    epoch: u32,
}

#[derive(Debug, Clone)]
struct Outage {
    service: usize,
    since_ms: u64,
    before: usize,
    removals: u64,
}

struct World<'a> {
    sc: &'a Scenario,
    cfg: &'a SimConfig,
    nodes: Vec<NodeState>,
    services: Vec<ServiceState>,
    specs: BTreeMap<String, ServiceSpec>,
    service_index: HashMap<String, usize>,
    node_index: HashMap<String, usize>,
    view: ClusterView,
    state: EngineState,
    pending: Vec<Pending>,
    next_event: usize,
    next_container: u64,
    outages: Vec<Outage>,
    hist: Histogram,
    r: PolicyReport,
    recovery_sum_s: f64,
}

impl<'a> World<'a> {
    fn new(sc: &'a Scenario, cfg: &'a SimConfig) -> Self {
        let mut view = ClusterView::default();
        let neighbours = Scenario::neighbours(&sc.nodes, scenario::NEIGHBOURS);
        for (i, n) in sc.nodes.iter().enumerate() {
            let mut v = NodeView::new(&n.id, n.cores as usize);
            v.mem_total_bytes = (n.mem_mb * 1024.0 * 1024.0) as u64;
            v.engine_running = n.engine_running;
            v.neighbours = neighbours[i]
                .iter()
                .map(|j| sc.nodes[*j].id.clone())
                .collect();
            view.nodes.insert(n.id.clone(), v);
        }
        let nodes = sc
            .nodes
            .iter()
            .map(|n| NodeState {
                down: 0,
                epoch: 0,
                down_since_ms: 0,
                engine_running: n.engine_running,
                link_free_ms: 0,
                fetched: false,
                mem_used_mb: 0.0,
                cpu: 0.0,
            })
            .collect();
        let mut w = Self {
            sc,
            cfg,
            nodes,
            services: Vec::new(),
            specs: sc
                .services
                .iter()
                .map(|s| (s.spec.service_name.clone(), s.spec.clone()))
                .collect(),
            service_index: sc
                .services
                .iter()
                .enumerate()
                .map(|(i, s)| (s.spec.service_name.clone(), i))
                .collect(),
            node_index: sc
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| (n.id.clone(), i))
                .collect(),
            view,
            state: EngineState::default(),
            pending: Vec::new(),
            next_event: 0,
            next_container: 0,
            outages: Vec::new(),
            hist: Histogram::default(),
            r: PolicyReport::default(),
            recovery_sum_s: 0.0,
        };
        for (i, s) in sc.services.iter().enumerate() {
            w.services.push(ServiceState {
                replicas: Vec::new(),
                active: s.active,
                factor: 1.0,
                ingress: s.ingress.clone(),
                flashes: Vec::new(),
                removals: 0,
            });
            if let Some(node) = s.initial_node {
                // Already running at the start: the image is there.
                w.add_replica(i, node, 1);
                w.nodes[node].engine_running = true;
            }
        }
        w
    }

    fn add_replica(&mut self, service: usize, node: usize, number: u32) {
        let def = &self.sc.services[service];
        let name = &def.spec.service_name;
        let nid = &self.sc.nodes[node].id;
        self.next_container += 1;
        let container = ContainerView {
            id: format!("c{}", self.next_container),
            name: format!("picasso-{nid}-{name}-{number}"),
            service: Some(name.clone()),
            replica: Some(number),
            image: def.spec.image_name.clone(),
            running: true,
            cpu_percent: Some(0.0),
            mem_bytes: Some((def.kind.mem_mb * 1024.0 * 1024.0) as u64),
        };
        self.services[service]
            .replicas
            .push(Replica { node, container });
        self.nodes[node].mem_used_mb += def.kind.mem_mb;
        if let Some(v) = self.view.nodes.get_mut(nid) {
            v.images.insert(def.spec.image_name.clone());
        }
    }

    fn up(&self, node: usize) -> bool {
        self.nodes[node].down == 0
    }

    fn apply_events(&mut self, now_ms: u64) {
        while let Some((t, e)) = self.sc.events.get(self.next_event) {
            if *t > now_ms {
                break;
            }
            self.next_event += 1;
            match e {
                Event::Move { service, ingress } => {
                    self.services[*service].ingress = ingress.clone()
                }
                Event::Scale { service, factor } => self.services[*service].factor = *factor,
                Event::Active { service, active } => self.services[*service].active = *active,
                Event::FlashStart {
                    service,
                    id,
                    ingress,
                    extra_rps,
                } => self.services[*service]
                    .flashes
                    .push((*id, ingress.clone(), *extra_rps)),
                Event::FlashEnd { service, id } => {
                    self.services[*service].flashes.retain(|f| f.0 != *id)
                }
                Event::NodeDown { node } => self.node_down(*node, now_ms),
                Event::NodeUp { node } => self.node_up(*node),
            }
        }
    }

    fn running_up(&self, service: usize) -> usize {
        self.services[service]
            .replicas
            .iter()
            .filter(|r| self.up(r.node))
            .count()
    }

    fn node_down(&mut self, node: usize, now_ms: u64) {
        self.nodes[node].down += 1;
        if self.nodes[node].down > 1 {
            return;
        }
        let mut lost_any = false;
        for s in 0..self.services.len() {
            if self.services[s].replicas.iter().any(|r| r.node == node) {
                lost_any = true;
                // Counted before the node is down (it is already marked,
                // so add its own replicas back).
                let before = self.running_up(s)
                    + self.services[s]
                        .replicas
                        .iter()
                        .filter(|r| r.node == node)
                        .count();
                self.outages.push(Outage {
                    service: s,
                    since_ms: now_ms,
                    before,
                    removals: self.services[s].removals,
                });
            }
        }
        if lost_any {
            self.r.node_losses += 1;
        }
        let n = &mut self.nodes[node];
        n.epoch += 1;
        n.down_since_ms = now_ms;
    }

    fn node_up(&mut self, node: usize) {
        let n = &mut self.nodes[node];
        n.down = n.down.saturating_sub(1);
        if n.down > 0 {
            return;
        }
        // Back empty: containers gone, images kept, engine stopped.
        n.engine_running = false;
        n.mem_used_mb = 0.0;
        for s in &mut self.services {
            s.replicas.retain(|r| r.node != node);
        }
    }

    fn complete_deployments(&mut self, now_ms: u64) {
        let mut done = Vec::new();
        self.pending.retain(|p| {
            if p.done_ms <= now_ms {
                done.push(p.clone());
                false
            } else {
                true
            }
        });
        for p in done {
            if !(self.up(p.node) && self.nodes[p.node].epoch == p.epoch) {
                self.r.deployments_failed += 1;
                continue;
            }
            // The image arrived either way.
            self.nodes[p.node].fetched = true;
            let def = &self.sc.nodes[p.node];
            let wanted = self.sc.services[p.service].kind.mem_mb;
            if def.base_mem_mb + self.nodes[p.node].mem_used_mb + wanted > def.mem_mb {
                self.r.deployments_out_of_memory += 1;
                let image = self.sc.services[p.service].spec.image_name.clone();
                if let Some(v) = self.view.nodes.get_mut(&def.id) {
                    v.images.insert(image);
                }
                continue;
            }
            self.add_replica(p.service, p.node, p.replica);
        }
    }

    /// Demand, routing, response times and the metrics of one second;
    /// returns the hosts per service and the unserved requests.
    fn serve(&mut self, now_ms: u64) -> (Vec<Vec<Host>>, Vec<UnservedRequest>) {
        let k_eps = self.cfg.engine.model.local_overhead;
        let t = now_ms as f64 / 1000.0;
        for (i, n) in self.nodes.iter_mut().enumerate() {
            n.cpu = if n.down == 0 {
                self.sc.nodes[i].background_cores
            } else {
                0.0
            };
        }
        // Hosts: replicas on up nodes, grouped by node.
        let mut hosts: Vec<Vec<Host>> = Vec::with_capacity(self.services.len());
        for s in &self.services {
            let mut h: Vec<Host> = Vec::new();
            for r in s.replicas.iter().filter(|r| self.nodes[r.node].down == 0) {
                match h.iter_mut().find(|x| x.node == r.node) {
                    Some(x) => x.replicas += 1,
                    None => h.push(Host {
                        node: r.node,
                        replicas: 1,
                        ..Host::default()
                    }),
                }
            }
            hosts.push(h);
        }
        // Demand per (service, ingress), with the hosts by distance.
        struct Flow {
            service: usize,
            ingress: usize,
            left: f64,
            order: Vec<(f64, usize)>,
        }
        let mut flows: Vec<Flow> = Vec::new();
        let mut offered = vec![0.0; self.services.len()];
        for (si, s) in self.services.iter().enumerate() {
            let def = &self.sc.services[si];
            let phase = std::f64::consts::TAU * t / self.sc.day_s + def.diurnal_phase;
            let rate = if s.active {
                def.base_rps * s.factor * (1.0 + def.diurnal_amplitude * phase.sin()).max(0.0)
            } else {
                0.0
            };
            let mut at: Vec<(usize, f64)> = s.ingress.iter().map(|(n, w)| (*n, rate * w)).collect();
            for (_, ingress, extra) in &s.flashes {
                at.extend(ingress.iter().map(|(n, w)| (*n, extra * w)));
            }
            for (node, rps) in at {
                if rps <= 0.0 {
                    continue;
                }
                offered[si] += rps;
                // Users of a failed node attach to its nearest live neighbour.
                let ingress = if self.up(node) {
                    Some(node)
                } else {
                    self.view.nodes[&self.sc.nodes[node].id]
                        .neighbours
                        .iter()
                        .map(|id| self.node_index[id])
                        .find(|j| self.up(*j))
                };
                let Some(ingress) = ingress else {
                    // Nobody to attach to: lost at once.
                    flows.push(Flow {
                        service: si,
                        ingress: node,
                        left: rps,
                        order: Vec::new(),
                    });
                    continue;
                };
                let p = self.sc.nodes[ingress].pos;
                let mut order: Vec<(f64, usize)> = hosts[si]
                    .iter()
                    .enumerate()
                    .map(|(hi, h)| (rtt_s(p, self.sc.nodes[h.node].pos, h.node == ingress), hi))
                    .collect();
                order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                flows.push(Flow {
                    service: si,
                    ingress,
                    left: rps,
                    order,
                });
            }
        }
        // Nearest replica with room: up to the balance level, then up to
        // saturation.
        for cap in [self.cfg.balance_util, self.cfg.max_util] {
            for f in flows.iter_mut() {
                let def = &self.sc.services[f.service];
                let c = def.kind.demand_core_s;
                for (rtt, hi) in &f.order {
                    if f.left <= 0.0 {
                        break;
                    }
                    let h = &mut hosts[f.service][*hi];
                    let node = &mut self.nodes[h.node];
                    let cores = self.sc.nodes[h.node].cores;
                    let cpu_room = ((cap * cores - node.cpu) / c).max(0.0);
                    let r_cap = replica_response_s(def.kind.base_s, h.replicas, cap, k_eps);
                    let user_room =
                        (def.kind.max_users as f64 * h.replicas as f64 / r_cap - h.served).max(0.0);
                    let take = f.left.min(cpu_room).min(user_room);
                    if take > 0.0 {
                        h.served += take;
                        h.rtt_weighted += take * rtt;
                        node.cpu += take * c;
                        f.left -= take;
                    }
                }
            }
        }
        // What found no room fails; it is seen at the nearest replica's
        // gateway, or by the orchestrator when the service runs nowhere.
        let mut unserved: BTreeMap<usize, (f64, usize, f64)> = BTreeMap::new();
        let mut failed = vec![0.0; self.services.len()];
        for f in &flows {
            if f.left <= 0.0 {
                continue;
            }
            failed[f.service] += f.left;
            match f.order.first() {
                Some((_, hi)) => hosts[f.service][*hi].failed += f.left,
                None => {
                    let e = unserved.entry(f.service).or_insert((0.0, f.ingress, 0.0));
                    e.0 += f.left;
                    if f.left > e.2 {
                        e.1 = f.ingress;
                        e.2 = f.left;
                    }
                }
            }
        }
        // Response times and metrics.
        let mut replicas_now = 0u64;
        for (si, hs) in hosts.iter_mut().enumerate() {
            let def = &self.sc.services[si];
            let (mut served, mut weighted) = (0.0, 0.0);
            for h in hs.iter_mut() {
                replicas_now += h.replicas as u64;
                let util = self.nodes[h.node].cpu / self.sc.nodes[h.node].cores;
                h.response_s = replica_response_s(def.kind.base_s, h.replicas, util, k_eps);
                if h.served > 0.0 {
                    let mean_rtt = h.rtt_weighted / h.served;
                    self.hist.add(h.response_s + mean_rtt, h.served);
                    served += h.served;
                    weighted += h.served * h.response_s + h.rtt_weighted;
                }
            }
            self.r.requests_offered += offered[si];
            self.r.requests_served += served;
            self.r.requests_failed += failed[si];
            if offered[si] > 0.0 {
                self.r.demanded_seconds += 1;
                if served <= 0.0 || weighted / served > def.spec.response_time_s {
                    self.r.violation_seconds += 1;
                }
                if failed[si] > 0.01 * offered[si] {
                    self.r.failing_seconds += 1;
                }
            }
        }
        self.r.replica_seconds += replicas_now as f64;
        self.r.peak_replicas = self.r.peak_replicas.max(replicas_now);
        let unserved = unserved
            .into_iter()
            .map(|(si, (count, from, _))| UnservedRequest {
                service: self.sc.services[si].spec.service_name.clone(),
                from_node: Some(self.sc.nodes[from].id.clone()),
                at_ms: now_ms,
                count: count.ceil() as u64,
            })
            .collect();
        (hosts, unserved)
    }

    /// Updates the view in place as the monitoring manager would build it.
    fn update_view(&mut self, now_ms: u64, hosts: &[Vec<Host>], unserved: Vec<UnservedRequest>) {
        for (i, def) in self.sc.nodes.iter().enumerate() {
            let n = &self.nodes[i];
            let v = self
                .view
                .nodes
                .get_mut(&def.id)
                .expect("every node has a view");
            v.containers.clear();
            v.demand.clear();
            if n.down == 0 {
                v.reachable = true;
                v.last_seen_ms = now_ms;
                let util = (n.cpu / def.cores).min(1.0);
                v.cpu_percent = util * 100.0;
                v.load = n.cpu + util / (1.0 - util).max(0.05);
                v.mem_percent = (def.base_mem_mb + n.mem_used_mb) / def.mem_mb * 100.0;
                v.engine_running = n.engine_running;
                v.bandwidth_mb_s = n.fetched.then_some(def.bandwidth_mb_s);
            } else {
                // Silent: reachable until the monitoring gives up on it.
                v.last_seen_ms = n.down_since_ms;
                v.reachable = now_ms.saturating_sub(n.down_since_ms) < self.cfg.detect_ms;
            }
        }
        for (si, s) in self.services.iter().enumerate() {
            let def = &self.sc.services[si];
            for r in &s.replicas {
                let nid = &self.sc.nodes[r.node].id;
                let v = self.view.nodes.get_mut(nid).expect("every node has a view");
                let mut c = r.container.clone();
                let h = hosts[si].iter().find(|h| h.node == r.node);
                c.cpu_percent = Some(h.map_or(0.0, |h| {
                    h.served * def.kind.demand_core_s / h.replicas as f64 * 100.0
                }));
                v.containers.push(c);
            }
            for h in &hosts[si] {
                let total = h.served + h.failed;
                if total <= 0.0 {
                    continue;
                }
                let v = self
                    .view
                    .nodes
                    .get_mut(&self.sc.nodes[h.node].id)
                    .expect("every node has a view");
                v.demand.insert(
                    def.spec.service_name.clone(),
                    DemandView {
                        requests_per_sec: h.served,
                        in_flight: (total * h.response_s).round() as usize,
                        success_rate: h.served / total,
                        latency_p50_ms: Some(h.response_s * 1000.0),
                        latency_p95_ms: Some(h.response_s * 1000.0),
                    },
                );
            }
        }
        self.view.in_flight = self
            .pending
            .iter()
            .map(|p| InFlight {
                service: self.sc.services[p.service].spec.service_name.clone(),
                node: self.sc.nodes[p.node].id.clone(),
                replica: p.replica,
                since_ms: p.since_ms,
            })
            .collect();
        self.view.unserved = unserved;
        self.view.derive_services();
    }

    fn apply(&mut self, now_ms: u64, steps: &[Step]) {
        let k = &self.cfg.engine.model;
        for step in steps {
            let (Some(&si), Some(&ni)) = (
                self.service_index.get(step.service()),
                self.node_index.get(step.node()),
            ) else {
                continue;
            };
            match step {
                Step::Deploy { replica, .. } => {
                    let local = self.services[si].replicas.iter().any(|r| r.node == ni)
                        || self.pending.iter().any(|p| p.service == si && p.node == ni);
                    if local {
                        self.r.deployments_local += 1;
                    } else {
                        self.r.deployments_remote += 1;
                    }
                    let def = &self.sc.services[si];
                    let node = &self.sc.nodes[ni];
                    let has_image = self.view.nodes[&node.id]
                        .images
                        .contains(&def.spec.image_name);
                    let n = &mut self.nodes[ni];
                    let transfer_ms = if has_image {
                        0
                    } else {
                        (def.spec.image_size_mb / node.bandwidth_mb_s * 1000.0).ceil() as u64
                    };
                    // Transfers to one node queue on its link.
                    let fetched_ms = n.link_free_ms.max(now_ms) + transfer_ms;
                    if transfer_ms > 0 {
                        n.link_free_ms = fetched_ms;
                    }
                    let engine_ms = if n.engine_running {
                        0
                    } else {
                        n.engine_running = true;
                        (k.engine_start_s * 1000.0).round() as u64
                    };
                    let inst_ms =
                        (k.instantiation_s.max(def.spec.startup_time_s) * 1000.0).round() as u64;
                    self.pending.push(Pending {
                        service: si,
                        node: ni,
                        replica: *replica,
                        since_ms: now_ms,
                        done_ms: fetched_ms + engine_ms + inst_ms,
                        epoch: n.epoch,
                    });
                }
                Step::Remove { container, .. } => {
                    let s = &mut self.services[si];
                    if let Some(pos) = s
                        .replicas
                        .iter()
                        .position(|r| r.node == ni && r.container.id == *container)
                    {
                        s.replicas.remove(pos);
                        s.removals += 1;
                        self.r.removals += 1;
                        self.nodes[ni].mem_used_mb -= self.sc.services[si].kind.mem_mb;
                    }
                }
            }
        }
    }

    fn track_recovery(&mut self, now_ms: u64) {
        let mut open = std::mem::take(&mut self.outages);
        open.retain(|o| {
            let decided = self.services[o.service].removals - o.removals;
            if self.running_up(o.service) as u64 + decided >= o.before as u64 {
                let s = (now_ms - o.since_ms) as f64 / 1000.0;
                self.r.recoveries += 1;
                self.recovery_sum_s += s;
                self.r.max_recovery_s = self.r.max_recovery_s.max(s);
                false
            } else {
                true
            }
        });
        self.outages = open;
    }

    fn tick(&mut self, now_ms: u64, policy: &dyn Policy) {
        self.apply_events(now_ms);
        self.complete_deployments(now_ms);
        let (hosts, unserved) = self.serve(now_ms);
        self.update_view(now_ms, &hosts, unserved);
        let started = Instant::now();
        let (plan, state) = engine::plan(
            &self.view,
            &self.specs,
            now_ms,
            &self.state,
            policy,
            &self.cfg.engine,
        );
        let took = started.elapsed().as_secs_f64();
        self.r.engine_wall_s += took;
        self.r.engine_max_tick_ms = self.r.engine_max_tick_ms.max(took * 1000.0);
        self.state = state;
        self.r.holds += plan.held.len() as u64;
        self.apply(now_ms, &plan.steps);
        self.track_recovery(now_ms);
    }

    fn finish(mut self, policy: &str, wall_s: f64) -> PolicyReport {
        self.r.policy = policy.to_owned();
        self.r.unrecovered = self.outages.len() as u64;
        self.r.mean_recovery_s = if self.r.recoveries > 0 {
            self.recovery_sum_s / self.r.recoveries as f64
        } else {
            0.0
        };
        self.r.success_rate = if self.r.requests_offered > 0.0 {
            self.r.requests_served / self.r.requests_offered
        } else {
            1.0
        };
        self.r.mean_response_ms = self.hist.mean_s() * 1000.0;
        self.r.p95_response_ms = self.hist.quantile_s(0.95) * 1000.0;
        self.r.wall_s = wall_s;
        self.r
    }
}

#[cfg(test)]
mod tests;
