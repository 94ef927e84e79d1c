//! The availability pass, run before every policy: replicas of a lost
//! node are deployed again elsewhere, each service keeps its spec's
//! minimum, and its replicas sit on as many distinct nodes as its
//! `QoS.availability` needs.
//!
//! Nodes needed: with each node up a share `a` of the time
//! (`EngineConfig::node_availability`), replicas on `k` distinct nodes give
//! `1 − (1 − a)^k`; the pass wants the smallest `k` reaching the spec's
//! availability (99.99 % with `a` = 0.99 → 2), capped by the reachable
//! nodes and the spec's maximum. These steps ignore cool-downs: losing a
//! node is not flapping.

use super::Planner;

/// Most distinct nodes the pass asks for.
const MAX_NODES: u32 = 16;

/// The smallest `k` with `1 − (1 − a)^k ≥ availability / 100`.
pub fn nodes_needed(availability_percent: f64, node_availability: f64) -> u32 {
    let target = availability_percent / 100.0;
    let a = node_availability.clamp(0.0, 1.0);
    if target >= 1.0 {
        // Never met by any k; ask for the most.
        return MAX_NODES;
    }
    (1..=MAX_NODES)
        .find(|k| 1.0 - (1.0 - a).powi(*k as i32) >= target - 1e-12)
        .unwrap_or(MAX_NODES)
}

/// Adds the availability steps; `keeps_minimum` false (on-demand) leaves
/// idle services alone so they may scale to zero.
pub fn plan(p: &mut Planner<'_>, keeps_minimum: bool) {
    let specs = p.specs;
    for (service, spec) in specs {
        let idle = !keeps_minimum && p.idle_for(service) >= p.config.idle_after_ms;
        if idle {
            continue;
        }
        let max = spec.replicas.max;
        // 1. Replicas of lost nodes, again elsewhere.
        let lost = p
            .view
            .services
            .get(service)
            .map(|s| s.lost.clone())
            .unwrap_or_default();
        let keys: Vec<String> = lost
            .iter()
            .map(|r| format!("{}/{}", r.node, r.container))
            .collect();
        p.service_state(service)
            .replaced
            .retain(|k| keys.contains(k));
        for (r, key) in lost.iter().zip(keys) {
            if p.state
                .services
                .get(service)
                .is_some_and(|s| s.replaced.contains(&key))
            {
                continue;
            }
            if p.replicas(service).len() as u32 >= max {
                break;
            }
            let hosting = p.per_node(service);
            let target = p
                .least_loaded(|n| !hosting.contains_key(&n.id))
                .or_else(|| p.least_loaded(|_| true))
                .map(|n| n.id.clone());
            let age_s = p
                .view
                .nodes
                .get(&r.node)
                .map(|n| p.now_ms.saturating_sub(n.last_seen_ms) / 1000)
                .unwrap_or(0);
            let what = format!(
                "replica {} of {service} on node {} is lost (node unreachable, last seen {age_s} s ago)",
                r.replica.map_or("?".to_owned(), |n| n.to_string()),
                r.node
            );
            match target {
                Some(node) => {
                    p.deploy(service, &node, format!("{what}: deployed again here"));
                    p.service_state(service).replaced.insert(key);
                }
                None => p.hold(
                    service,
                    &r.node,
                    format!("{what}: no reachable node can host it"),
                ),
            }
        }
        // 2. The spec's minimum.
        let floor = if keeps_minimum { spec.replicas.min } else { 0 };
        loop {
            let have = p.replicas(service).len() as u32;
            if have >= floor {
                break;
            }
            let hosting = p.per_node(service);
            let target = p
                .least_loaded(|n| !hosting.contains_key(&n.id))
                .or_else(|| p.least_loaded(|_| true))
                .map(|n| n.id.clone());
            let Some(node) = target else {
                p.hold(service, "", format!("{have} replicas, below the spec's minimum {floor}, and no node can host one"));
                break;
            };
            p.deploy(
                service,
                &node,
                format!("{have} replicas, below the spec's minimum of {floor}; least-loaded node"),
            );
        }
        // 3. Distinct nodes for the availability asked.
        let have = p.replicas(service).len() as u32;
        if have == 0 {
            continue;
        }
        let reachable = p.hostable_count();
        let want = nodes_needed(spec.availability, p.config.node_availability)
            .min(reachable)
            .min(max);
        loop {
            let hosting = p.per_node(service);
            let distinct = hosting.len() as u32;
            if distinct >= want || p.replicas(service).len() as u32 >= max {
                break;
            }
            let Some(node) = p
                .least_loaded(|n| !hosting.contains_key(&n.id))
                .map(|n| n.id.clone())
            else {
                break;
            };
            p.deploy(
                service,
                &node,
                format!(
                    "availability {}% needs replicas on {want} distinct nodes (node availability {}), they are on {distinct}",
                    spec.availability, p.config.node_availability
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_needed_follows_the_formula() {
        for (avail, a, k) in [
            (99.99, 0.99, 2),
            (99.0, 0.99, 1),
            (99.9999, 0.99, 3),
            (50.0, 0.9, 1),
            (99.9, 0.9, 3),
            (100.0, 0.9, MAX_NODES),
        ] {
            assert_eq!(nodes_needed(avail, a), k, "{avail}% with a={a}");
        }
    }
}
