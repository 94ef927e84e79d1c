//! The `on-demand` policy: the first request for a service that runs
//! nowhere deploys it near the requester; a service with no request for
//! `EngineConfig::idle_after_ms` scales to zero. In between, the
//! [`threshold`](super::threshold::scale) rule scales it.
//!
//! "Near": the node the request entered the network at when it has
//! headroom, else its neighbours nearest first, else the least-loaded
//! node. The idle timer lives in [`EngineState`](super::EngineState)
//! (`last_active_ms`), restarted by any gateway demand or request reaching
//! the orchestrator.

use std::collections::BTreeMap;

use super::{threshold, Planner, Policy};

/// The on-demand policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct OnDemand;

impl Policy for OnDemand {
    fn name(&self) -> &'static str {
        "on-demand"
    }

    fn keeps_minimum(&self) -> bool {
        false
    }

    fn plan(&self, p: &mut Planner<'_>) {
        // Requests per service, with the first requester named.
        let mut asked: BTreeMap<String, (u64, Option<String>)> = BTreeMap::new();
        for u in p.view.unserved.iter().filter(|u| u.count > 0) {
            let e = asked.entry(u.service.clone()).or_insert((0, None));
            e.0 += u.count;
            if e.1.is_none() {
                e.1.clone_from(&u.from_node);
            }
        }
        for (service, (count, from)) in &asked {
            if !p.specs.contains_key(service) {
                p.hold(
                    service,
                    from.as_deref().unwrap_or(""),
                    format!("{count} requests for {service}, which has no spec"),
                );
                continue;
            }
            if !p.replicas(service).is_empty() {
                continue;
            }
            deploy_near(p, service, *count, from.as_deref());
        }
        let specs = p.specs;
        for (service, spec) in specs {
            let idle = p.idle_for(service);
            let running: Vec<_> = p
                .replicas(service)
                .into_iter()
                .filter(|r| !r.pending)
                .collect();
            if idle >= p.config.idle_after_ms {
                for r in &running {
                    p.remove(
                        service,
                        r,
                        format!(
                            "no request for {} s (idle limit {} s): scaled to zero",
                            idle / 1000,
                            p.config.idle_after_ms / 1000
                        ),
                    );
                }
            } else if !running.is_empty() {
                threshold::scale(p, service, spec);
            }
        }
    }
}

fn deploy_near(p: &mut Planner<'_>, service: &str, count: u64, from: Option<&str>) {
    let headroom = p.config.headroom_percent;
    let ok = |id: &str| {
        p.view
            .nodes
            .get(id)
            .is_some_and(|n| p.can_host(n) && n.cpu_percent < headroom)
    };
    let what = format!("{count} requests for {service}, which runs nowhere");
    if let Some(from) = from {
        if ok(from) {
            p.deploy(
                service,
                from,
                format!("{what}: deployed at the requester's node {from}"),
            );
            return;
        }
        let neighbours = p
            .view
            .nodes
            .get(from)
            .map(|n| n.neighbours.clone())
            .unwrap_or_default();
        if let Some(n) = neighbours.iter().find(|n| ok(n)) {
            p.deploy(
                service,
                n,
                format!(
                    "{what}: the requester's node {from} has no headroom; nearest neighbour {n}"
                ),
            );
            return;
        }
    }
    match p.least_loaded(|_| true).map(|n| n.id.clone()) {
        Some(n) => p.deploy(service, &n, format!("{what}: least-loaded node {n}")),
        None => p.hold(
            service,
            from.unwrap_or(""),
            format!("{what}: no node can host it"),
        ),
    }
}
