//! The `qos` policy: keeps each service within its spec — `numUsers`
//! concurrent users, each answered within `responseTime`, no replica past
//! `maxUsers` — using the response-time model ([`super::model`]).
//!
//! Each tick, per service: the users to plan for are the larger of the
//! measured concurrent users (gateway demand) and the spec's `numUsers`;
//! the model predicts the response time of the current placement. While
//! the prediction misses the spec, the policy adds the replica whose
//! cost-weighted response time `R_eff` is lowest — every reachable node is
//! a candidate, the service's own nodes included, and the cost (image
//! transfer at the node's bandwidth unless it holds the image, engine
//! start, instantiation) is part of the score. A local replica on a
//! saturated node predicts no gain (the replicas share its CPU), so the
//! paper's lesson falls out of the model: remote wins. A candidate must cut
//! `R_eff` by `min_gain` or relieve a replica past `maxUsers`; when none
//! does the policy holds and says why. One replica is removed when the
//! prediction without it stays within `scale_down_margin` of both limits
//! and the down cool-down has passed.

use std::collections::BTreeMap;

use super::model::{self, Prediction, ServiceProfile};
use super::{Planner, Policy};
use crate::spec::ServiceSpec;

/// Most replicas the policy adds to one service in one tick.
const MAX_ADDS_PER_TICK: u32 = 16;

/// The qos policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Qos;

impl Policy for Qos {
    fn name(&self) -> &'static str {
        "qos"
    }

    fn plan(&self, p: &mut Planner<'_>) {
        let specs = p.specs;
        for (service, spec) in specs {
            plan_service(p, service, spec);
        }
    }
}

/// Concurrent users of `service` the gateways measure, summed.
pub fn measured_users(p: &Planner<'_>, service: &str) -> f64 {
    p.demanding(service)
        .filter_map(|n| n.demand.get(service))
        .map(|d| d.concurrent_users())
        .sum()
}

/// The current placement: replicas per node with the cores free there.
fn placement(p: &Planner<'_>, service: &str) -> BTreeMap<String, (u32, f64)> {
    p.per_node(service)
        .into_iter()
        .filter_map(|(node, r)| {
            let n = p.view.nodes.get(&node)?;
            Some((node, (r, model::free_cores(n, service, &p.config.model))))
        })
        .collect()
}

fn with_one_more(
    p: &Planner<'_>,
    service: &str,
    base: &BTreeMap<String, (u32, f64)>,
    node: &str,
) -> BTreeMap<String, (u32, f64)> {
    let mut m = base.clone();
    match m.get_mut(node) {
        Some(e) => e.0 += 1,
        None => {
            if let Some(n) = p.view.nodes.get(node) {
                m.insert(
                    node.to_owned(),
                    (1, model::free_cores(n, service, &p.config.model)),
                );
            }
        }
    }
    m
}

struct Candidate {
    node: String,
    after: Prediction,
    effective_s: f64,
    cost: model::ReplicationCost,
    local: bool,
}

fn plan_service(p: &mut Planner<'_>, service: &str, spec: &ServiceSpec) {
    if p.has_in_flight(service) {
        return;
    }
    let k = p.config.model.clone();
    let profile = ServiceProfile::estimate_over(p.demanding(service), service, &k);
    let users = measured_users(p, service).max(spec.num_users as f64);
    let mut current = placement(p, service);
    let mut now = model::predict(&profile, spec, users, &current, &k);
    if users <= 0.0 && now.replicas == 0 {
        // Nobody to serve and nothing running: the spec's minimum (the
        // availability pass) decides.
        return;
    }
    let limits = format!(
        "responseTime {} s, maxUsers {}",
        spec.response_time_s, spec.max_users
    );

    if !now.meets(spec) {
        if !p.may_scale_up(service) && !p.touched(service) {
            p.hold(
                service,
                "",
                format!(
                    "predicted {:.2} s for {users:.0} users ({limits}); in the scale-up cool-down",
                    now.response_time_s
                ),
            );
            return;
        }
        for _ in 0..MAX_ADDS_PER_TICK {
            if now.meets(spec) || now.replicas >= spec.replicas.max {
                break;
            }
            let Some(best) = best_candidate(p, service, spec, &profile, users, &current, &now)
            else {
                let local = current
                    .keys()
                    .next()
                    .map(|n| {
                        let after = model::predict(
                            &profile,
                            spec,
                            users,
                            &with_one_more(p, service, &current, n),
                            &k,
                        );
                        format!(
                            "; a local replica on {n} would give {:.2} s",
                            after.response_time_s
                        )
                    })
                    .unwrap_or_default();
                p.hold(
                    service,
                    "",
                    format!(
                        "predicted {:.2} s for {users:.0} users ({limits}) and no node improves it{local}",
                        now.response_time_s
                    ),
                );
                break;
            };
            let mut reason = format!(
                "predicted {:.2} s for {users:.0} users, {:.0} per replica ({limits}); \
                 a replica on {} gives {:.2} s after {:.1} s (transfer {:.1} s, engine {:.1} s, \
                 instantiation {:.2} s), {:.2} s cost-weighted over {} s",
                now.response_time_s,
                now.users_per_replica,
                best.node,
                best.after.response_time_s,
                best.cost.total_s(),
                best.cost.transfer_s,
                best.cost.engine_s,
                best.cost.instantiation_s,
                best.effective_s,
                p.config.horizon_s
            );
            if !best.local {
                // Say what a local replica would have given: the paper's lesson.
                if let Some((n, _)) = current
                    .iter()
                    .max_by(|a, b| a.1 .0.cmp(&b.1 .0).then(b.0.cmp(a.0)))
                {
                    let after = model::predict(
                        &profile,
                        spec,
                        users,
                        &with_one_more(p, service, &current, n),
                        &k,
                    );
                    reason.push_str(&format!(
                        "; a local replica on {n} would give {:.2} s",
                        after.response_time_s
                    ));
                }
            }
            p.deploy(service, &best.node, reason);
            current = with_one_more(p, service, &current, &best.node);
            now = best.after;
        }
        return;
    }

    // Scale down, with margin.
    if p.touched(service) || !p.may_scale_down(service) {
        return;
    }
    let Some(victim) = p.removable(service, spec) else {
        return;
    };
    let mut fewer = current.clone();
    if let Some(e) = fewer.get_mut(&victim.node) {
        e.0 -= 1;
    }
    let after = model::predict(&profile, spec, users, &fewer, &k);
    let m = p.config.scale_down_margin;
    if after.replicas > 0
        && after.response_time_s <= spec.response_time_s * m
        && after.users_per_replica <= spec.max_users as f64 * m
    {
        p.remove(
            service,
            &victim,
            format!(
                "with one fewer replica the prediction is {:.2} s and {:.0} users per replica for {users:.0} users, \
                 within {:.0}% of {limits}",
                after.response_time_s,
                after.users_per_replica,
                m * 100.0
            ),
        );
    }
}

fn best_candidate(
    p: &Planner<'_>,
    service: &str,
    spec: &ServiceSpec,
    profile: &ServiceProfile,
    users: f64,
    current: &BTreeMap<String, (u32, f64)>,
    now: &Prediction,
) -> Option<Candidate> {
    let k = &p.config.model;
    let saturated = now.users_per_replica > spec.max_users as f64;
    let mut best: Option<Candidate> = None;
    for n in p.view.reachable().filter(|n| p.can_host(n)) {
        let after = model::predict(
            profile,
            spec,
            users,
            &with_one_more(p, service, current, &n.id),
            k,
        );
        let cost = model::replication_cost(spec, n, p.config.default_bandwidth_mb_s, k);
        let effective_s = model::cost_weighted(
            now.response_time_s,
            after.response_time_s,
            cost.total_s(),
            p.config.horizon_s,
        );
        let gains = effective_s < now.response_time_s * (1.0 - p.config.min_gain)
            || (saturated
                && after.users_per_replica < now.users_per_replica
                && cost.total_s() < p.config.horizon_s);
        if !gains {
            continue;
        }
        let c = Candidate {
            node: n.id.clone(),
            after,
            effective_s,
            cost,
            local: current.contains_key(&n.id),
        };
        let better = match &best {
            None => true,
            Some(b) => {
                (!c.after.meets(spec), c.effective_s, c.cost.total_s()).partial_cmp(&(
                    !b.after.meets(spec),
                    b.effective_s,
                    b.cost.total_s(),
                )) == Some(std::cmp::Ordering::Less)
            }
        };
        if better {
            best = Some(c);
        }
    }
    best
}
