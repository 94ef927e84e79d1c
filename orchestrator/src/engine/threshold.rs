//! The `threshold` policy, the paper's rule: a container whose CPU exceeds
//! a threshold is replicated — on the same node while the node has
//! headroom, else on the least-loaded other node. When every replica of a
//! service is below a low threshold, one is removed.
//!
//! The band between the two thresholds and the cool-downs
//! (`EngineConfig::up_cooldown_ms`, `down_cooldown_ms`) are its hysteresis:
//! a load oscillating around the high threshold adds at most one replica
//! per cool-down and removes none.

use super::{Planner, Policy};
use crate::spec::ServiceSpec;

/// The threshold policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Threshold;

impl Policy for Threshold {
    fn name(&self) -> &'static str {
        "threshold"
    }

    fn plan(&self, p: &mut Planner<'_>) {
        let specs = p.specs;
        for (service, spec) in specs {
            scale(p, service, spec);
        }
    }
}

/// The threshold rule for one service (also used by `on-demand` once a
/// service runs).
pub fn scale(p: &mut Planner<'_>, service: &str, spec: &ServiceSpec) {
    if p.touched(service) || p.has_in_flight(service) {
        return;
    }
    let cfg = p.config;
    // The hottest running replica on a reachable node.
    let mut hottest: Option<(String, String, f64)> = None;
    let mut all_cool = true;
    let mut any = false;
    for n in p.view.reachable() {
        for c in n.replicas_of(service) {
            any = true;
            // A container's CPU is a percentage of one core; on a device
            // with less than one core (a quota) it saturates at the quota.
            let scale = n.capacity_cores().min(1.0);
            match c.cpu_percent.map(|cpu| cpu / scale) {
                Some(cpu) => {
                    if cpu >= cfg.cpu_low_percent {
                        all_cool = false;
                    }
                    let hotter = match &hottest {
                        Some(h) => cpu > h.2,
                        None => true,
                    };
                    if cpu > cfg.cpu_high_percent && hotter {
                        hottest = Some((n.id.clone(), c.name.clone(), cpu));
                    }
                }
                None => all_cool = false,
            }
        }
    }
    if let Some((node_id, container, cpu)) = hottest {
        let what = format!(
            "container {container} at {cpu:.0}% CPU, above the {:.0}% threshold",
            cfg.cpu_high_percent
        );
        if !p.may_scale_up(service) {
            p.hold(
                service,
                &node_id,
                format!("{what}; in the scale-up cool-down"),
            );
            return;
        }
        if p.replicas(service).len() as u32 >= spec.replicas.max {
            p.hold(
                service,
                &node_id,
                format!(
                    "{what}; already at the spec's maximum of {}",
                    spec.replicas.max
                ),
            );
            return;
        }
        let node = &p.view.nodes[&node_id];
        if node.cpu_percent < cfg.headroom_percent && p.can_host(node) {
            let reason = format!(
                "{what}; node {node_id} at {:.0}% CPU has headroom (below {:.0}%): local replica",
                node.cpu_percent, cfg.headroom_percent
            );
            p.deploy(service, &node_id, reason);
            return;
        }
        let local_cpu = node.cpu_percent;
        match p
            .least_loaded(|n| n.id != node_id)
            .map(|n| (n.id.clone(), n.cpu_percent))
        {
            Some((other, other_cpu)) => p.deploy(
                service,
                &other,
                format!(
                    "{what}; node {node_id} at {local_cpu:.0}% CPU has no headroom (limit {:.0}%): \
                     remote replica on the least-loaded node {other} ({other_cpu:.0}% CPU)",
                    cfg.headroom_percent
                ),
            ),
            None => p.hold(
                service,
                &node_id,
                format!(
                    "{what}; node {node_id} has no headroom and no other node can host a replica"
                ),
            ),
        }
        return;
    }
    if any && all_cool && p.may_scale_down(service) {
        if let Some(r) = p.removable(service, spec) {
            let reason = format!(
                "every replica of {service} below the {:.0}% low threshold: one fewer",
                cfg.cpu_low_percent
            );
            p.remove(service, &r, reason);
        }
    }
}
