//! The cluster view: the read-only snapshot the engine decides on.
//!
//! Owns the view's types and how a node's [`MonitorReport`] becomes a
//! [`NodeView`]. It does not poll nodes (the monitoring manager will, and
//! call [`ClusterView::from_reports`]) nor decide anything (the engine
//! does). Every figure the engine uses is a plain field, so tests and the
//! simulator build views directly.
//!
//! ```text
//! MonitorReport ─ NodeView::from_report ─┐
//! deployer: in-flight deployments ───────┼─► ClusterView { nodes, services, in_flight, unserved }
//! orchestrator's forwarder: requests     │
//!   for services that run nowhere ───────┘
//! ```

use std::collections::{BTreeMap, BTreeSet};

use picasso_agent::monitor::schema::MonitorReport;
use serde::Serialize;

/// A node's id (the report's `PiID`).
pub type NodeId = String;

/// One container (replica) as a node reported it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ContainerView {
    /// The runtime's id.
    pub id: String,
    /// Its name without Docker's slash (`picasso-n1-S1-2`).
    pub name: String,
    /// The service it is a replica of (label `picasso.service`).
    pub service: Option<String>,
    /// Its replica number on the node (label `picasso.replica`, read
    /// back from the name's last `-<n>`).
    pub replica: Option<u32>,
    /// The engine image reference it runs.
    pub image: String,
    /// True when it runs.
    pub running: bool,
    /// CPU since the previous sample, percent of one core (the paper's
    /// per-container CPU utilisation); `None` on a first sample.
    pub cpu_percent: Option<f64>,
    /// Memory in use, bytes.
    pub mem_bytes: Option<u64>,
}

/// One service's demand on one node, as the node's gateway measured it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DemandView {
    /// Completed requests per second (last 10 s).
    pub requests_per_sec: f64,
    /// Requests sent to replicas and not yet answered.
    pub in_flight: usize,
    /// Share of requests that succeeded, 0–1.
    pub success_rate: f64,
    /// Median latency, ms.
    pub latency_p50_ms: Option<f64>,
    /// 95th-percentile latency, ms.
    pub latency_p95_ms: Option<f64>,
}

impl DemandView {
    /// Concurrent users this demand amounts to: the larger of the
    /// requests in flight and Little's law (throughput × latency).
    pub fn concurrent_users(&self) -> f64 {
        let little = self.requests_per_sec * self.latency_p50_ms.unwrap_or(0.0) / 1000.0;
        little.max(self.in_flight as f64)
    }

    /// True when requests arrive or are being served.
    pub fn is_active(&self) -> bool {
        self.requests_per_sec > 0.0 || self.in_flight > 0
    }
}

/// One node as the engine sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NodeView {
    /// Its id.
    pub id: NodeId,
    /// False once it missed several polls; its replicas count as lost.
    pub reachable: bool,
    /// When its last report arrived, Unix ms.
    pub last_seen_ms: u64,
    /// CPU in use, percent of all cores.
    pub cpu_percent: f64,
    /// One-minute load average.
    pub load: f64,
    /// Memory in use, percent.
    pub mem_percent: f64,
    /// Total memory, bytes (0 when unknown).
    pub mem_total_bytes: u64,
    /// Logical CPUs.
    pub cores: usize,
    /// Cores the node may give services, when limited (cgroup quota).
    pub cpu_quota: Option<f64>,
    /// Measured bandwidth from the repo to the node, MB/s, when known
    /// (from image fetch statistics).
    pub bandwidth_mb_s: Option<f64>,
    /// Repo images the node holds (fetched or loaded).
    pub images: BTreeSet<String>,
    /// False when the container engine is stopped (starting it costs
    /// ≈3.4 s on a Pi).
    pub engine_running: bool,
    /// Its containers.
    pub containers: Vec<ContainerView>,
    /// Per-service demand measured by its gateway.
    pub demand: BTreeMap<String, DemandView>,
    /// Nodes nearest to it first (for on-demand placement), when known.
    pub neighbours: Vec<NodeId>,
}

impl NodeView {
    /// A reachable node with `cores` CPUs and nothing running.
    pub fn new(id: &str, cores: usize) -> Self {
        Self {
            id: id.to_owned(),
            reachable: true,
            cores,
            engine_running: true,
            ..Self::default()
        }
    }
}

impl NodeView {
    /// Cores services may use: the quota when known, else all cores.
    pub fn capacity_cores(&self) -> f64 {
        self.cpu_quota.unwrap_or(self.cores.max(1) as f64)
    }

    /// Cores in use (all processes; of the quota when the node has one,
    /// since its `cpu_percent` is then a share of the quota).
    pub fn busy_cores(&self) -> f64 {
        self.cpu_percent / 100.0 * self.capacity_cores()
    }

    /// The running containers of `service`.
    pub fn replicas_of<'a>(&'a self, service: &'a str) -> impl Iterator<Item = &'a ContainerView> {
        self.containers
            .iter()
            .filter(move |c| c.running && c.service.as_deref() == Some(service))
    }

    /// The services its running containers are replicas of (with
    /// repeats).
    pub fn replicas_of_any(&self) -> impl Iterator<Item = &str> {
        self.containers
            .iter()
            .filter(|c| c.running)
            .filter_map(|c| c.service.as_deref())
    }

    /// True when the node holds `image`, or runs `service` (so it holds
    /// its image under the engine's reference).
    pub fn has_image(&self, image: &str, service: &str) -> bool {
        self.images.contains(image) || self.replicas_of(service).next().is_some()
    }

    /// The node as its monitoring report describes it, received at
    /// `received_ms` (Unix ms). Reports from the paper's agent (strings
    /// only) and from ours (typed `node` and `services`) both work.
    pub fn from_report(report: &MonitorReport, received_ms: u64) -> Self {
        let typed = report.schema > 0;
        let cores = if report.node.cpu_cores > 0 {
            report.node.cpu_cores
        } else {
            cores_from_description(&report.hard_resources.cpu)
        };
        let cpu_percent = if typed {
            report.node.cpu_percent
        } else {
            report.resource_usage.cpu_usage().unwrap_or(0.0)
        };
        let load = if typed {
            report.node.load_average[0]
        } else {
            report.resource_usage.cpu_load().unwrap_or(0.0)
        };
        let mem_percent = if typed {
            report.node.mem_percent
        } else {
            report.resource_usage.mem_usage().unwrap_or(0.0)
        };
        let containers = report
            .containers
            .iter()
            .map(|c| {
                let state = c.state.to_ascii_lowercase();
                ContainerView {
                    id: c.id.clone(),
                    name: c.bare_name().to_owned(),
                    service: c.service.clone(),
                    replica: replica_from_name(c.bare_name()),
                    image: c.image.clone(),
                    running: state == "running" || (state.is_empty() && c.status.starts_with("Up")),
                    cpu_percent: c.cpu_percent,
                    mem_bytes: c.mem_bytes(),
                }
            })
            .collect();
        let demand = report
            .services
            .iter()
            .map(|d| {
                (
                    d.service.clone(),
                    DemandView {
                        requests_per_sec: d.requests_per_sec,
                        in_flight: d.in_flight,
                        success_rate: d.success_rate,
                        latency_p50_ms: d.latency_p50_ms,
                        latency_p95_ms: d.latency_p95_ms,
                    },
                )
            })
            .collect();
        Self {
            id: report.pi_id.clone(),
            reachable: true,
            last_seen_ms: received_ms,
            cpu_percent,
            load,
            mem_percent,
            mem_total_bytes: report.node.mem_total_bytes,
            cores,
            cpu_quota: report.node.cpu_quota.filter(|q| *q > 0.0),
            bandwidth_mb_s: None,
            images: BTreeSet::new(),
            engine_running: report.runtime != "stopped",
            containers,
            demand,
            neighbours: Vec::new(),
        }
    }
}

/// Cores from the paper's CPU description (`A 1.2GHz quad-core ARMv8 CPU`).
fn cores_from_description(cpu: &str) -> usize {
    let lower = cpu.to_ascii_lowercase();
    [
        ("single-core", 1),
        ("dual-core", 2),
        ("quad-core", 4),
        ("hexa-core", 6),
        ("octa-core", 8),
    ]
    .iter()
    .find(|(w, _)| lower.contains(w))
    .map(|(_, n)| *n)
    .unwrap_or(1)
}

/// The replica number at the end of a container name (`picasso-n1-S1-2` → 2).
fn replica_from_name(name: &str) -> Option<u32> {
    name.rsplit_once('-')?.1.parse().ok()
}

/// A replica of a service somewhere in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaRef {
    /// The node it runs on.
    pub node: NodeId,
    /// Its replica number there, when known.
    pub replica: Option<u32>,
    /// Its container id.
    pub container: String,
}

/// One service across the cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceView {
    /// Replicas the deployer is asked to keep (its desired state), if set.
    pub desired: Option<u32>,
    /// Running replicas on reachable nodes.
    pub replicas: Vec<ReplicaRef>,
    /// Replicas on nodes that are no longer reachable.
    pub lost: Vec<ReplicaRef>,
}

/// A deployment sent to a node and not answered yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InFlight {
    /// The service.
    pub service: String,
    /// The node.
    pub node: NodeId,
    /// The replica number asked for.
    pub replica: u32,
    /// When it was sent, Unix ms.
    pub since_ms: u64,
}

/// Requests that reached the orchestrator for a service that runs nowhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnservedRequest {
    /// The service asked for.
    pub service: String,
    /// The node the request entered the network at, when known.
    pub from_node: Option<NodeId>,
    /// When the last one arrived, Unix ms.
    pub at_ms: u64,
    /// How many arrived since the previous view.
    pub count: u64,
}

/// The whole snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClusterView {
    /// Every node known, by id.
    pub nodes: BTreeMap<NodeId, NodeView>,
    /// Every service that runs or ran somewhere (derived from the nodes
    /// by [`ClusterView::derive_services`]), plus desired counts.
    pub services: BTreeMap<String, ServiceView>,
    /// Deployments sent and not answered yet.
    pub in_flight: Vec<InFlight>,
    /// Requests for services that run nowhere.
    pub unserved: Vec<UnservedRequest>,
}

impl ClusterView {
    /// A view of the nodes `(report, received at, Unix ms)`; a node whose
    /// report is older than `unreachable_after_ms` at `now_ms` is marked
    /// unreachable.
    pub fn from_reports<'a>(
        reports: impl IntoIterator<Item = (&'a MonitorReport, u64)>,
        now_ms: u64,
        unreachable_after_ms: u64,
    ) -> Self {
        let mut view = Self::default();
        for (report, at) in reports {
            let mut node = NodeView::from_report(report, at);
            node.reachable = now_ms.saturating_sub(at) <= unreachable_after_ms;
            view.nodes.insert(node.id.clone(), node);
        }
        view.derive_services();
        view
    }

    /// Adds `node` (replacing one of the same id) and re-derives services.
    pub fn with_node(mut self, node: NodeView) -> Self {
        self.nodes.insert(node.id.clone(), node);
        self.derive_services();
        self
    }

    /// Rebuilds [`ClusterView::services`]' replica lists from the nodes'
    /// containers, keeping the desired counts.
    pub fn derive_services(&mut self) {
        for s in self.services.values_mut() {
            s.replicas.clear();
            s.lost.clear();
        }
        for node in self.nodes.values() {
            for c in &node.containers {
                let Some(service) = c.service.as_ref().filter(|_| c.running) else {
                    continue;
                };
                let r = ReplicaRef {
                    node: node.id.clone(),
                    replica: c.replica,
                    container: c.id.clone(),
                };
                let entry = self.services.entry(service.clone()).or_default();
                if node.reachable {
                    entry.replicas.push(r);
                } else {
                    entry.lost.push(r);
                }
            }
        }
    }

    /// The reachable nodes.
    pub fn reachable(&self) -> impl Iterator<Item = &NodeView> {
        self.nodes.values().filter(|n| n.reachable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &str = r#"{ "softResources": {"OS": "Linux"},
      "hardResources": {"mem": "1 GB", "disk": "16 GB", "cpu": "x"},
      "resourceUsage": {"cpuLoad": "9", "memUsage": "9", "cpuUsage": "9"},
      "PiID": "n1", "PiIP": "10.0.0.1", "schema": 1, "runtime": "docker",
      "containers": [
        {"status": "Up 1 minute", "port_host": "8002", "memUsage": "1000", "name": "/picasso-n1-S1-2",
         "port_container": "80", "cpuUsage": "5", "image": "picasso/nginx:1", "id": "c2",
         "state": "running", "cpuPercent": 91.5, "service": "S1"},
        {"status": "Exited", "port_host": "", "memUsage": "0", "name": "/picasso-n1-S1-3",
         "port_container": "80", "cpuUsage": "5", "image": "picasso/nginx:1", "id": "c3",
         "state": "exited", "service": "S1"}],
      "node": {"cpu_percent": 62.5, "load_average": [3.5, 2, 1], "mem_percent": 40,
               "mem_total_bytes": 1000000, "cpu_cores": 4},
      "services": [{"service": "S1", "replicas": 1, "requests_per_sec": 200, "in_flight": 30,
                    "success_rate": 0.99, "latency_p50_ms": 250, "latency_p95_ms": 900}] }"#;

    #[test]
    fn builds_a_node_from_our_report() {
        let r = MonitorReport::from_json(OURS.as_bytes()).unwrap();
        let n = NodeView::from_report(&r, 7);
        assert_eq!((n.id.as_str(), n.last_seen_ms, n.cores), ("n1", 7, 4));
        assert_eq!((n.cpu_percent, n.load, n.mem_percent), (62.5, 3.5, 40.0));
        assert_eq!(n.busy_cores(), 2.5);
        assert_eq!(n.containers.len(), 2);
        let c = &n.containers[0];
        assert_eq!(
            (c.replica, c.running, c.cpu_percent),
            (Some(2), true, Some(91.5))
        );
        assert!(!n.containers[1].running);
        assert_eq!(n.replicas_of("S1").count(), 1);
        assert!(n.has_image("nginx", "S1"));
        assert!(!n.has_image("nginx", "S2"));
        let d = &n.demand["S1"];
        assert_eq!(d.in_flight, 30);
        // Little's law: 200/s × 0.25 s = 50 users, more than the 30 in flight.
        assert_eq!(d.concurrent_users(), 50.0);
    }

    #[test]
    fn builds_a_node_from_the_papers_report() {
        let paper = r#"{ "softResources": { "OS": "Linux" },
          "hardResources": { "mem": "1 GB", "disk": "16 GB", "cpu": "A 1.2GHz quad-core ARMv8 CPU" },
          "resourceUsage": { "cpuLoad": "0.04", "memUsage": "14", "cpuUsage": "24.31" },
          "PiID": "SEG_1", "PiIP": "192.0.0.2",
          "containers": [ { "status": "Up 3 hours", "port_host": "8002", "memUsage": "2015232",
             "name": "/adisorn", "port_container": "80", "cpuUsage": "58986155",
             "image": "hyprriot/rpi-busybox-httpd:latest", "id": "dbef" } ] }"#;
        let r = MonitorReport::from_json(paper.as_bytes()).unwrap();
        let n = NodeView::from_report(&r, 1);
        assert_eq!(
            (n.cores, n.cpu_percent, n.load, n.mem_percent),
            (4, 24.31, 0.04, 14.0)
        );
        assert!(n.containers[0].running);
        assert_eq!(n.containers[0].service, None);
        assert_eq!(n.containers[0].replica, None);
    }

    #[test]
    fn stale_reports_make_lost_replicas() {
        let r = MonitorReport::from_json(OURS.as_bytes()).unwrap();
        let mut r2 = r.clone();
        r2.pi_id = "n2".into();
        let v = ClusterView::from_reports([(&r, 10_000), (&r2, 1_000)], 10_000, 5_000);
        assert!(v.nodes["n1"].reachable);
        assert!(!v.nodes["n2"].reachable);
        let s = &v.services["S1"];
        assert_eq!(s.replicas.len(), 1);
        assert_eq!(s.replicas[0].node, "n1");
        assert_eq!(s.lost.len(), 1);
        assert_eq!(s.lost[0].node, "n2");
    }
}
