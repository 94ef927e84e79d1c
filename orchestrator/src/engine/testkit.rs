//! Builders for engine tests: specs, nodes with replicas and demand, and a
//! runner that checks every step has a reason.

use std::collections::BTreeMap;

use serde_json::json;

use super::{plan, policy_by_name, EngineConfig, EngineState, Plan, Step};
use crate::spec::ServiceSpec;
use crate::view::{ClusterView, ContainerView, DemandView, NodeView};

/// A spec: `(name, image MB, maxUsers, responseTime s, availability %,
/// numUsers, min, max)`.
#[allow(clippy::too_many_arguments)]
pub fn spec(
    name: &str,
    image_mb: f64,
    max_users: u32,
    response_time_s: f64,
    availability: f64,
    num_users: u32,
    min: u32,
    max: u32,
) -> ServiceSpec {
    ServiceSpec::from_value(&json!({
        "par": {"serviceName": name, "imageName": format!("img-{name}"), "imageSize": image_mb,
                "maxUsers": max_users, "startUpTime": 1, "replicas": {"min": min, "max": max}},
        "QoS": {"responseTime": response_time_s, "availability": availability, "numUsers": num_users}
    }))
    .expect("test spec is valid")
}

/// The specs by name.
pub fn specs(list: &[ServiceSpec]) -> BTreeMap<String, ServiceSpec> {
    list.iter()
        .map(|s| (s.service_name.clone(), s.clone()))
        .collect()
}

/// A reachable node with `cores` CPUs at `cpu` percent.
pub fn node(id: &str, cores: usize, cpu: f64) -> NodeView {
    let mut n = NodeView::new(id, cores);
    n.cpu_percent = cpu;
    n.last_seen_ms = 0;
    n
}

/// Adds replica `replica` of `service` at `cpu` percent of one core.
pub fn with_replica(mut n: NodeView, service: &str, replica: u32, cpu: f64) -> NodeView {
    n.containers.push(ContainerView {
        id: format!("{}-{service}-{replica}", n.id),
        name: format!("picasso-{}-{service}-{replica}", n.id),
        service: Some(service.to_owned()),
        replica: Some(replica),
        image: format!("picasso/{service}:1"),
        running: true,
        cpu_percent: Some(cpu),
        mem_bytes: Some(1 << 20),
    });
    n
}

/// Adds gateway demand: `rps` requests/s at `p50_ms`, `in_flight` users.
pub fn with_demand(
    mut n: NodeView,
    service: &str,
    rps: f64,
    in_flight: usize,
    p50_ms: f64,
) -> NodeView {
    n.demand.insert(
        service.to_owned(),
        DemandView {
            requests_per_sec: rps,
            in_flight,
            success_rate: 1.0,
            latency_p50_ms: Some(p50_ms),
            latency_p95_ms: Some(p50_ms * 2.0),
        },
    );
    n
}

/// A view of `nodes`.
pub fn view(nodes: Vec<NodeView>) -> ClusterView {
    let mut v = ClusterView::default();
    for n in nodes {
        v.nodes.insert(n.id.clone(), n);
    }
    v.derive_services();
    v
}

/// Runs `policy` once with the default config; asserts every step and
/// hold has a reason.
pub fn run(
    policy: &str,
    v: &ClusterView,
    s: &BTreeMap<String, ServiceSpec>,
    now_ms: u64,
    state: &EngineState,
) -> (Plan, EngineState) {
    run_with(policy, v, s, now_ms, state, &EngineConfig::default())
}

/// [`run`] with a config.
pub fn run_with(
    policy: &str,
    v: &ClusterView,
    s: &BTreeMap<String, ServiceSpec>,
    now_ms: u64,
    state: &EngineState,
    config: &EngineConfig,
) -> (Plan, EngineState) {
    let policy = policy_by_name(policy).expect("known policy");
    let (p, st) = plan(v, s, now_ms, state, policy.as_ref(), config);
    for step in &p.steps {
        assert!(
            !step.reason().trim().is_empty(),
            "step without a reason: {step:?}"
        );
    }
    for h in &p.held {
        assert!(!h.reason.trim().is_empty(), "hold without a reason: {h:?}");
    }
    (p, st)
}

/// The deploys of a plan as `(service, node)`.
pub fn deploys(p: &Plan) -> Vec<(String, String)> {
    p.steps
        .iter()
        .filter_map(|s| match s {
            Step::Deploy { service, node, .. } => Some((service.clone(), node.clone())),
            Step::Remove { .. } => None,
        })
        .collect()
}

/// The removals of a plan as `(service, node)`.
pub fn removes(p: &Plan) -> Vec<(String, String)> {
    p.steps
        .iter()
        .filter_map(|s| match s {
            Step::Remove { service, node, .. } => Some((service.clone(), node.clone())),
            Step::Deploy { .. } => None,
        })
        .collect()
}

/// `(service, node)` pairs from string slices.
pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(s, n)| (s.to_string(), n.to_string()))
        .collect()
}
