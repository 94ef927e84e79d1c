//! The response-time model, from the paper's measurements (§IV); used by
//! the `qos` policy and meant for the simulator.
//!
//! Owns the formulas and their constants; it knows nothing of plans.
//!
//! **Service profile.** A service has a base response time `t0` (seconds,
//! one request on an idle replica) and a CPU demand `c` (core-seconds per
//! request). Both are estimated from the view ([`ServiceProfile::estimate`]):
//! `c = B / X` (the service demand law: the cores its containers keep busy
//! over its throughput, summed over nodes) and `t0` = the lowest median
//! latency seen on a node with headroom; unmeasured, the constants'
//! defaults apply.
//!
//! **One node.** `N` concurrent users (closed loop, as the paper's `ab`
//! clients) reach `r ≥ 1` replicas of the service on a node with `F` cores
//! free for it (its capacity less what everything else keeps busy). The
//! replicas share the node's CPU (Figs. 5–8: two or four local replicas
//! split the load but not the device), so by the asymptotic bound of a
//! closed queueing system
//!
//! ```text
//! R(N, r, F) = max(t0, N · c / F) · (1 + ε · (r − 1))
//! ```
//!
//! with `ε` the per-local-replica overhead (tomcat's response time rose
//! slightly with more local replicas, Fig. 7c; nginx and busybox stayed
//! flat). Local replication therefore never lowers `R` on a saturated node;
//! remote replication splits `N` over nodes and does.
//!
//! **Saturation.** One replica serves at most `maxUsers` concurrent users
//! (Fig. 3: success falls past a container's own limit); with `u = N / r`
//! users per replica the predicted success rate is `min(1, maxUsers / u)`.
//!
//! **Placement.** Users are spread over replicas evenly (the gateways
//! balance by outstanding requests), so a node with `r_n` of the `r`
//! replicas gets `N · r_n / r` users; the service's predicted response time
//! is the worst node's.
//!
//! **Replication cost** (§IV-E, Fig. 9), for a new replica on node n:
//!
//! ```text
//! T = S / b_n          image transfer: imageSize (MB) / bandwidth (MB/s), 0 if n holds the image
//!   + E                engine start, 3.37 s, 0 when the engine runs
//!   + max(I, startUpTime)   instantiation: 1.42–1.48 s per container on a Pi 3 (I = 1.45),
//!                           or the spec's own startUpTime when longer
//! ```
//!
//! **Choosing.** Over a horizon `H`, a replica that takes `T` seconds to
//! come up leaves users at the current `R_now` for `T` and gives `R_new`
//! after, so its cost-weighted response time is
//! `R_eff = (min(T, H) · max(R_now, R_new) + (H − min(T, H)) · R_new) / H`; the
//! candidate with the lowest `R_eff` wins, which prefers a node that holds
//! the image when bandwidth is low and refuses a replica that cannot pay
//! back its cost within the horizon.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::spec::ServiceSpec;
use crate::view::{ClusterView, NodeView};

/// The model's constants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelConstants {
    /// Container instantiation on a Pi 3, s (Fig. 9: 1.42 nano, 1.46
    /// busybox, 1.44 nginx, 1.48 tomcat).
    pub instantiation_s: f64,
    /// Booting a stopped Docker engine on a Pi 3, s (Fig. 9: 3.37).
    pub engine_start_s: f64,
    /// Response-time overhead of each extra local replica, share (ε).
    pub local_overhead: f64,
    /// `t0` when no latency is measured, s.
    pub default_base_s: f64,
    /// `c` when no throughput is measured, core-seconds per request.
    pub default_demand_core_s: f64,
    /// Fewest cores counted free on a node (a busy node still gives a
    /// new replica some CPU), share of its capacity.
    pub min_free_share: f64,
}

impl Default for ModelConstants {
    fn default() -> Self {
        Self {
            instantiation_s: 1.45,
            engine_start_s: 3.37,
            local_overhead: 0.05,
            default_base_s: 0.05,
            default_demand_core_s: 0.01,
            min_free_share: 0.05,
        }
    }
}

/// A service's base response time and CPU demand.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ServiceProfile {
    /// `t0`: response time of one request on an idle replica, s.
    pub base_s: f64,
    /// `c`: CPU per request, core-seconds.
    pub demand_core_s: f64,
}

impl ServiceProfile {
    /// Estimates `service`'s profile from the view (see the module docs).
    pub fn estimate(view: &ClusterView, service: &str, k: &ModelConstants) -> Self {
        Self::estimate_over(view.reachable(), service, k)
    }

    /// [`ServiceProfile::estimate`] over `nodes` (the reachable ones; only
    /// those with demand for `service` count).
    pub fn estimate_over<'a>(
        nodes: impl IntoIterator<Item = &'a NodeView>,
        service: &str,
        k: &ModelConstants,
    ) -> Self {
        let (mut busy, mut throughput) = (0.0, 0.0);
        let mut base: Option<f64> = None;
        for n in nodes {
            let Some(d) = n.demand.get(service) else {
                continue;
            };
            if d.requests_per_sec > 0.0 {
                throughput += d.requests_per_sec;
                busy += service_busy_cores(n, service);
            }
            if let Some(p50) = d.latency_p50_ms {
                if n.busy_cores() < 0.5 * n.capacity_cores() {
                    let s = p50 / 1000.0;
                    base = Some(base.map_or(s, |b: f64| b.min(s)));
                }
            }
        }
        let demand_core_s = if throughput > 0.0 && busy > 0.0 {
            busy / throughput
        } else {
            k.default_demand_core_s
        };
        Self {
            base_s: base.unwrap_or(k.default_base_s),
            demand_core_s,
        }
    }
}

/// Cores `service`'s containers keep busy on `n` (their CPU, or the
/// node's when no container figure is known).
pub fn service_busy_cores(n: &NodeView, service: &str) -> f64 {
    let mut known = false;
    let mut cores = 0.0;
    for c in n.replicas_of(service) {
        if let Some(p) = c.cpu_percent {
            known = true;
            cores += p / 100.0;
        }
    }
    if known {
        cores
    } else {
        n.busy_cores()
    }
}

/// Cores of `n` free for `service`: capacity less what everything else
/// keeps busy, at least `min_free_share` of the capacity.
pub fn free_cores(n: &NodeView, service: &str, k: &ModelConstants) -> f64 {
    let capacity = n.capacity_cores();
    let own = if n.replicas_of(service).next().is_some() {
        service_busy_cores(n, service)
    } else {
        0.0
    };
    let others = (n.busy_cores() - own).max(0.0);
    (capacity - others).max(k.min_free_share * capacity)
}

/// `R(N, r, F)`: the response time on one node (module docs), s.
pub fn node_response_time(
    p: &ServiceProfile,
    users: f64,
    replicas: u32,
    free_cores: f64,
    k: &ModelConstants,
) -> f64 {
    let cpu_bound = users * p.demand_core_s / free_cores.max(1e-9);
    p.base_s.max(cpu_bound) * (1.0 + k.local_overhead * replicas.saturating_sub(1) as f64)
}

/// What a placement is predicted to give.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prediction {
    /// The worst node's response time, s.
    pub response_time_s: f64,
    /// Concurrent users per replica.
    pub users_per_replica: f64,
    /// Predicted share of requests served, 0–1.
    pub success_rate: f64,
    /// Replicas in all.
    pub replicas: u32,
}

impl Prediction {
    /// True when the prediction meets `spec`'s responseTime and maxUsers.
    pub fn meets(&self, spec: &ServiceSpec) -> bool {
        self.replicas > 0
            && self.response_time_s <= spec.response_time_s
            && self.users_per_replica <= spec.max_users as f64
    }
}

/// Predicts `users` concurrent users over `placement` (replicas per node,
/// with the cores free for the service on each).
pub fn predict(
    p: &ServiceProfile,
    spec: &ServiceSpec,
    users: f64,
    placement: &BTreeMap<String, (u32, f64)>,
    k: &ModelConstants,
) -> Prediction {
    let total: u32 = placement.values().map(|(r, _)| *r).sum();
    if total == 0 {
        return Prediction {
            response_time_s: f64::INFINITY,
            users_per_replica: f64::INFINITY,
            success_rate: if users > 0.0 { 0.0 } else { 1.0 },
            replicas: 0,
        };
    }
    let mut worst: f64 = 0.0;
    for (r, free) in placement.values().filter(|(r, _)| *r > 0) {
        let n_users = users * *r as f64 / total as f64;
        worst = worst.max(node_response_time(p, n_users, *r, *free, k));
    }
    let u = users / total as f64;
    Prediction {
        response_time_s: worst,
        users_per_replica: u,
        success_rate: if u > 0.0 {
            (spec.max_users as f64 / u).min(1.0)
        } else {
            1.0
        },
        replicas: total,
    }
}

/// The parts of a replica's cost on one node, s.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReplicationCost {
    /// Image transfer (0 when the node holds it).
    pub transfer_s: f64,
    /// Engine start (0 when it runs).
    pub engine_s: f64,
    /// Instantiation.
    pub instantiation_s: f64,
}

impl ReplicationCost {
    /// The whole cost, s.
    pub fn total_s(&self) -> f64 {
        self.transfer_s + self.engine_s + self.instantiation_s
    }
}

/// The cost of a new replica of `spec` on `n` (module docs);
/// `default_bandwidth_mb_s` when `n`'s is unmeasured.
pub fn replication_cost(
    spec: &ServiceSpec,
    n: &NodeView,
    default_bandwidth_mb_s: f64,
    k: &ModelConstants,
) -> ReplicationCost {
    let transfer_s = if n.has_image(&spec.image_name, &spec.service_name) {
        0.0
    } else {
        spec.image_size_mb / n.bandwidth_mb_s.unwrap_or(default_bandwidth_mb_s).max(1e-6)
    };
    ReplicationCost {
        transfer_s,
        engine_s: if n.engine_running {
            0.0
        } else {
            k.engine_start_s
        },
        instantiation_s: k.instantiation_s.max(spec.startup_time_s),
    }
}

/// `R_eff`: the response time over `horizon_s` when a change from
/// `now_s` to `new_s` takes `cost_s` to happen (module docs).
pub fn cost_weighted(now_s: f64, new_s: f64, cost_s: f64, horizon_s: f64) -> f64 {
    let t = cost_s.clamp(0.0, horizon_s);
    if horizon_s <= 0.0 {
        return now_s;
    }
    if !now_s.is_finite() {
        // Nothing serves now: any replica is worth its cost.
        return new_s + t;
    }
    // While the replica comes up users see today's response time, or the
    // new one if that is worse (a slower arrival of a worse state is not
    // better).
    (t * now_s.max(new_s) + (horizon_s - t) * new_s) / horizon_s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k() -> ModelConstants {
        ModelConstants::default()
    }

    #[test]
    fn local_replicas_share_the_device_remote_ones_do_not() {
        // busybox-like: 10 ms of CPU per request, 100 users on a 1-core share.
        let p = ServiceProfile {
            base_s: 0.02,
            demand_core_s: 0.01,
        };
        let one = node_response_time(&p, 100.0, 1, 1.0, &k());
        let four_local = node_response_time(&p, 100.0, 4, 1.0, &k());
        let remote = node_response_time(&p, 25.0, 1, 1.0, &k());
        assert!((one - 1.0).abs() < 1e-9, "{one}");
        assert!(
            four_local >= one,
            "local replicas must not help: {four_local} < {one}"
        );
        assert!((remote - 0.25).abs() < 1e-9, "{remote}");
        // The paper's 4Con-4Pi improved busybox by 77 %; the model says 75 %.
        assert!((1.0 - remote / one - 0.75).abs() < 1e-9);
        // Unloaded: the base time.
        assert_eq!(node_response_time(&p, 1.0, 1, 1.0, &k()), 0.02);
    }

    #[test]
    fn cost_follows_the_papers_figures() {
        let spec = crate::spec::ServiceSpec::from_json(
            br#"{"par":{"serviceName":"S1","imageName":"armhfbuild/nginx","imageSize":"368",
            "maxUsers":"50","startUpTime":"1"},"QoS":{"responseTime":"5","availability":"99","numUsers":"100"}}"#,
        )
        .unwrap();
        let mut n = NodeView::new("n", 4);
        n.bandwidth_mb_s = Some(4.0);
        let c = replication_cost(&spec, &n, 10.0, &k());
        assert_eq!(
            (c.transfer_s, c.engine_s, c.instantiation_s),
            (92.0, 0.0, 1.45)
        );
        n.engine_running = false;
        n.images.insert("armhfbuild/nginx".into());
        let c = replication_cost(&spec, &n, 10.0, &k());
        assert!((c.total_s() - (3.37 + 1.45)).abs() < 1e-9);
        // Cost-weighted response time.
        assert_eq!(cost_weighted(2.0, 1.0, 0.0, 60.0), 1.0);
        assert_eq!(cost_weighted(2.0, 1.0, 30.0, 60.0), 1.5);
        assert_eq!(cost_weighted(2.0, 1.0, 600.0, 60.0), 2.0);
        // A worse state is not made better by arriving later.
        assert_eq!(cost_weighted(1.0, 2.0, 30.0, 60.0), 2.0);
    }
}
