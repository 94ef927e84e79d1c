//! Table-driven tests of the policies and the availability pass.

use super::model::{self, ServiceProfile};
use super::testkit::*;
use super::{EngineConfig, EngineState, ServiceState, Step};
use std::collections::BTreeMap;

/// `threshold`: local while the node has headroom, remote when saturated.
#[test]
fn threshold_replicates_locally_with_headroom_and_remotely_when_saturated() {
    let s = specs(&[spec("S", 100.0, 50, 1.0, 90.0, 0, 1, 8)]);
    struct Case {
        name: &'static str,
        nodes: Vec<crate::view::NodeView>,
        deploys: Vec<(&'static str, &'static str)>,
        removes: Vec<(&'static str, &'static str)>,
        reason: &'static str,
    }
    let cases = vec![
        Case {
            name: "hot container, node with headroom: local",
            nodes: vec![
                with_replica(node("n1", 4, 40.0), "S", 1, 95.0),
                node("n2", 4, 5.0),
            ],
            deploys: vec![("S", "n1")],
            removes: vec![],
            reason: "has headroom",
        },
        Case {
            name: "hot container, saturated node: least-loaded other",
            nodes: vec![
                with_replica(node("n1", 4, 90.0), "S", 1, 95.0),
                node("n2", 4, 50.0),
                node("n3", 4, 20.0),
            ],
            deploys: vec![("S", "n3")],
            removes: vec![],
            reason: "no headroom",
        },
        Case {
            name: "below the threshold: nothing",
            nodes: vec![
                with_replica(node("n1", 4, 50.0), "S", 1, 60.0),
                node("n2", 4, 5.0),
            ],
            deploys: vec![],
            removes: vec![],
            reason: "",
        },
        Case {
            name: "all cold, two replicas: one fewer, the local duplicate",
            nodes: vec![
                with_replica(with_replica(node("n1", 4, 10.0), "S", 1, 5.0), "S", 2, 5.0),
                node("n2", 4, 5.0),
            ],
            deploys: vec![],
            removes: vec![("S", "n1")],
            reason: "low threshold",
        },
        Case {
            name: "all cold, one replica: the minimum stays",
            nodes: vec![with_replica(node("n1", 4, 10.0), "S", 1, 5.0)],
            deploys: vec![],
            removes: vec![],
            reason: "",
        },
    ];
    for c in cases {
        let v = view(c.nodes);
        let (p, _) = run("threshold", &v, &s, 1_000_000, &EngineState::default());
        assert_eq!(deploys(&p), pairs(&c.deploys), "{}: {:#?}", c.name, p);
        assert_eq!(removes(&p), pairs(&c.removes), "{}: {:#?}", c.name, p);
        if !c.reason.is_empty() {
            assert!(
                p.steps[0].reason().contains(c.reason),
                "{}: {}",
                c.name,
                p.steps[0].reason()
            );
        }
    }
    // At the spec's maximum: a hold, no step.
    let s1 = specs(&[spec("S", 100.0, 50, 1.0, 90.0, 0, 1, 1)]);
    let v = view(vec![
        with_replica(node("n1", 4, 40.0), "S", 1, 95.0),
        node("n2", 4, 5.0),
    ]);
    let (p, _) = run("threshold", &v, &s1, 0, &EngineState::default());
    assert!(p.steps.is_empty());
    assert!(p.held[0].reason.contains("maximum of 1"), "{:?}", p.held);
}

/// On an emulated device with a 0.4-core quota, a container at 38% of one
/// core is saturated (95% of what it can get): the threshold policy acts,
/// and remotely, because the device itself is at 97% of its quota.
#[test]
fn threshold_reads_container_cpu_against_a_devices_quota() {
    let s = specs(&[spec("S", 100.0, 50, 1.0, 90.0, 0, 1, 8)]);
    let pi = |id: &str, cpu: f64| {
        let mut n = node(id, 2, cpu);
        n.cpu_quota = Some(0.4);
        n
    };
    let v = view(vec![
        with_replica(pi("pi1", 97.0), "S", 1, 38.0),
        pi("pi2", 3.0),
    ]);
    let (p, _) = run("threshold", &v, &s, 1_000_000, &EngineState::default());
    assert_eq!(deploys(&p), pairs(&[("S", "pi2")]), "{p:#?}");
    assert!(
        p.steps[0].reason().contains("95% CPU"),
        "{}",
        p.steps[0].reason()
    );
    // Without the quota the same container is far below the threshold.
    let v = view(vec![
        with_replica(node("pi1", 2, 20.0), "S", 1, 38.0),
        node("pi2", 2, 3.0),
    ]);
    let (p, _) = run("threshold", &v, &s, 1_000_000, &EngineState::default());
    assert!(p.steps.is_empty(), "{p:#?}");
}

/// Replica numbers continue after the highest on the node.
#[test]
fn a_local_replica_takes_the_next_number() {
    let s = specs(&[spec("S", 100.0, 50, 1.0, 90.0, 0, 1, 8)]);
    let v = view(vec![with_replica(
        with_replica(node("n1", 4, 40.0), "S", 1, 95.0),
        "S",
        3,
        50.0,
    )]);
    let (p, _) = run("threshold", &v, &s, 0, &EngineState::default());
    assert!(
        matches!(&p.steps[..], [Step::Deploy { replica: 4, .. }]),
        "{p:#?}"
    );
}

/// Hysteresis: CPU oscillating around the threshold adds at most one
/// replica per cool-down and removes none.
#[test]
fn oscillating_load_does_not_flap() {
    let s = specs(&[spec("S", 100.0, 50, 1.0, 90.0, 0, 1, 64)]);
    for policy in ["threshold", "on-demand"] {
        let cfg = EngineConfig::default();
        let mut state = EngineState::default();
        let mut deploy_times = Vec::new();
        for tick in 0..40u64 {
            let t = tick * 5_000;
            let cpu = if tick % 2 == 1 { 81.0 } else { 79.0 };
            let n1 = with_demand(
                with_replica(node("n1", 4, 50.0), "S", 1, cpu),
                "S",
                10.0,
                1,
                10.0,
            );
            let v = view(vec![n1, node("n2", 4, 5.0)]);
            let (p, st) = run_with(policy, &v, &s, t, &state, &cfg);
            state = st;
            assert!(removes(&p).is_empty(), "{policy} t={t}: {p:#?}");
            if !deploys(&p).is_empty() {
                deploy_times.push(t);
            }
        }
        assert!(deploy_times.len() >= 2, "{policy}: {deploy_times:?}");
        for w in deploy_times.windows(2) {
            assert!(
                w[1] - w[0] >= cfg.up_cooldown_ms,
                "{policy}: {deploy_times:?}"
            );
        }
    }
    // And a scale-down waits for the down cool-down after a scale-up.
    let v = view(vec![with_replica(
        with_replica(node("n1", 4, 10.0), "S", 1, 5.0),
        "S",
        2,
        5.0,
    )]);
    let mut state = EngineState::default();
    state.services.insert(
        "S".into(),
        ServiceState {
            last_up_ms: Some(100_000),
            ..ServiceState::default()
        },
    );
    let (p, _) = run("threshold", &v, &s, 150_000, &state);
    assert!(p.steps.is_empty(), "{p:#?}");
    let (p, _) = run("threshold", &v, &s, 220_000, &state);
    assert_eq!(removes(&p).len(), 1, "{p:#?}");
}

/// A saturated node: 200 users, 4 cores all busy with S.
fn saturated_n1() -> crate::view::NodeView {
    let n = with_replica(node("n1", 4, 100.0), "S", 1, 400.0);
    // 400 req/s with 4 cores busy: c = 0.01 core-s; 200 users in flight.
    with_demand(n, "S", 400.0, 200, 500.0)
}

/// `qos`: remote over local on a saturated node, until the prediction meets
/// the spec.
#[test]
fn qos_replicates_remotely_from_a_saturated_node_and_meets_the_spec() {
    let spec_s = spec("S", 100.0, 50, 0.3, 90.0, 0, 1, 8);
    let s = specs(std::slice::from_ref(&spec_s));
    let v = view(vec![saturated_n1(), node("n2", 4, 5.0), node("n3", 4, 5.0)]);
    let (p, _) = run("qos", &v, &s, 0, &EngineState::default());
    let d = deploys(&p);
    assert_eq!(d, pairs(&[("S", "n2"), ("S", "n3"), ("S", "n1")]), "{p:#?}");
    assert!(
        p.steps[0]
            .reason()
            .contains("a local replica on n1 would give"),
        "{}",
        p.steps[0].reason()
    );
    // The resulting placement meets responseTime and maxUsers per the model.
    let k = EngineConfig::default().model;
    let profile = ServiceProfile::estimate(&v, "S", &k);
    assert!((profile.demand_core_s - 0.01).abs() < 1e-9, "{profile:?}");
    let mut placement = BTreeMap::new();
    placement.insert(
        "n1".to_string(),
        (2, model::free_cores(&v.nodes["n1"], "S", &k)),
    );
    placement.insert(
        "n2".to_string(),
        (1, model::free_cores(&v.nodes["n2"], "S", &k)),
    );
    placement.insert(
        "n3".to_string(),
        (1, model::free_cores(&v.nodes["n3"], "S", &k)),
    );
    let pred = model::predict(&profile, &spec_s, 200.0, &placement, &k);
    assert!(pred.meets(&spec_s), "{pred:?}");
    // A saturated node alone, CPU-bound (150 users, maxUsers 200): a
    // local replica would not help, so none.
    let s = specs(&[spec("S", 100.0, 200, 0.3, 90.0, 0, 1, 8)]);
    let v = view(vec![with_demand(
        with_replica(node("n1", 4, 100.0), "S", 1, 400.0),
        "S",
        400.0,
        150,
        375.0,
    )]);
    let (p, _) = run("qos", &v, &s, 0, &EngineState::default());
    assert!(p.steps.is_empty(), "{p:#?}");
    assert!(
        p.held[0]
            .reason
            .contains("a local replica on n1 would give"),
        "{:?}",
        p.held
    );
}

/// `qos` with no load: numUsers alone sets the replicas.
#[test]
fn qos_meets_num_users_from_the_spec() {
    for (num_users, max_users, want_total) in
        [(100, 50, 2), (120, 50, 3), (40, 50, 1), (200, 25, 8)]
    {
        let spec_s = spec("S", 100.0, max_users, 1.0, 90.0, num_users, 1, 16);
        let s = specs(std::slice::from_ref(&spec_s));
        let nodes = (1..=8)
            .map(|i| {
                let n = node(&format!("n{i}"), 4, 5.0);
                if i == 1 {
                    with_replica(n, "S", 1, 1.0)
                } else {
                    n
                }
            })
            .collect();
        let v = view(nodes);
        let (p, _) = run("qos", &v, &s, 0, &EngineState::default());
        let total = 1 + deploys(&p).len();
        assert_eq!(
            total, want_total,
            "numUsers {num_users} maxUsers {max_users}: {p:#?}"
        );
        // The first added replica is remote (the users split, the CPU too).
        if want_total > 1 {
            assert_ne!(deploys(&p)[0].1, "n1", "{p:#?}");
        }
    }
}

/// `qos` counts the image transfer: with low bandwidth the node that holds
/// the image wins although busier; with high bandwidth the idle one.
#[test]
fn qos_accounts_for_image_transfer() {
    let s = specs(&[spec("S", 100.0, 50, 0.3, 90.0, 0, 1, 2)]);
    for (bandwidth, want) in [(0.5, "n3"), (1.0, "n3"), (100.0, "n2")] {
        let mut n2 = node("n2", 4, 5.0);
        n2.bandwidth_mb_s = Some(bandwidth);
        let mut n3 = node("n3", 4, 30.0);
        n3.bandwidth_mb_s = Some(bandwidth);
        n3.images.insert("img-S".into());
        let v = view(vec![saturated_n1(), n2, n3]);
        let (p, _) = run("qos", &v, &s, 0, &EngineState::default());
        assert_eq!(
            deploys(&p),
            pairs(&[("S", want)]),
            "bandwidth {bandwidth}: {p:#?}"
        );
        let reason = p.steps[0].reason();
        assert!(reason.contains("transfer"), "{reason}");
    }
}

/// `qos` scales down with margin, and not inside the cool-down.
#[test]
fn qos_scales_down_with_margin() {
    let s = specs(&[spec("S", 100.0, 50, 1.0, 90.0, 10, 1, 8)]);
    let nodes = vec![
        with_demand(
            with_replica(node("n1", 4, 10.0), "S", 1, 5.0),
            "S",
            10.0,
            2,
            20.0,
        ),
        with_replica(node("n2", 4, 20.0), "S", 1, 5.0),
        with_replica(node("n3", 4, 5.0), "S", 1, 5.0),
    ];
    let v = view(nodes);
    let (p, st) = run("qos", &v, &s, 1_000_000, &EngineState::default());
    assert_eq!(
        removes(&p),
        pairs(&[("S", "n2")]),
        "busiest node first: {p:#?}"
    );
    let (p, _) = run("qos", &v, &s, 1_010_000, &st);
    assert!(p.steps.is_empty(), "inside the down cool-down: {p:#?}");
}

/// `on-demand`: the first request deploys near the requester.
#[test]
fn on_demand_deploys_near_the_requester() {
    let s = specs(&[spec("S", 100.0, 50, 1.0, 90.0, 0, 0, 4)]);
    let unserved = |from: &str| crate::view::UnservedRequest {
        service: "S".into(),
        from_node: Some(from.into()),
        at_ms: 0,
        count: 3,
    };
    let mut busy = node("n2", 4, 95.0);
    busy.neighbours = vec!["n4".into(), "n3".into()];
    for (nodes, from, want, reason) in [
        (
            vec![node("n1", 4, 5.0), node("n2", 4, 50.0)],
            "n2",
            "n2",
            "requester",
        ),
        (
            vec![
                node("n1", 4, 1.0),
                busy.clone(),
                node("n3", 4, 10.0),
                node("n4", 4, 20.0),
            ],
            "n2",
            "n4",
            "nearest neighbour n4",
        ),
        (
            vec![node("n1", 4, 30.0), node("n3", 4, 10.0)],
            "n9",
            "n3",
            "least-loaded",
        ),
    ] {
        let mut v = view(nodes);
        v.unserved.push(unserved(from));
        let (p, _) = run("on-demand", &v, &s, 0, &EngineState::default());
        assert_eq!(deploys(&p), pairs(&[("S", want)]), "{p:#?}");
        assert!(
            p.steps[0].reason().contains(reason),
            "{}",
            p.steps[0].reason()
        );
    }
    // Already running: no second deployment. No spec: a hold.
    let mut v = view(vec![with_replica(node("n1", 4, 5.0), "S", 1, 1.0)]);
    v.unserved.push(unserved("n1"));
    v.unserved.push(crate::view::UnservedRequest {
        service: "X".into(),
        ..unserved("n1")
    });
    let (p, _) = run("on-demand", &v, &s, 0, &EngineState::default());
    assert!(p.steps.is_empty(), "{p:#?}");
    assert!(p
        .held
        .iter()
        .any(|h| h.service == "X" && h.reason.contains("no spec")));
}

/// `on-demand`: idle for the configured time, scaled to zero — not before,
/// and not brought back by the availability pass.
#[test]
fn on_demand_scales_idle_services_to_zero() {
    // availability 99.99 would want 2 nodes; min 1 would want a replica.
    let s = specs(&[spec("S", 100.0, 50, 1.0, 99.99, 0, 1, 4)]);
    let cfg = EngineConfig::default();
    let busy = view(vec![
        with_demand(
            with_replica(node("n1", 4, 5.0), "S", 1, 1.0),
            "S",
            5.0,
            1,
            10.0,
        ),
        with_replica(node("n2", 4, 5.0), "S", 1, 1.0),
    ]);
    let idle = view(vec![
        with_replica(node("n1", 4, 5.0), "S", 1, 1.0),
        with_replica(node("n2", 4, 5.0), "S", 1, 1.0),
    ]);
    let (p, st) = run("on-demand", &busy, &s, 10_000, &EngineState::default());
    assert!(p.steps.is_empty(), "{p:#?}");
    let (p, st) = run("on-demand", &idle, &s, 10_000 + cfg.idle_after_ms - 1, &st);
    assert!(p.steps.is_empty(), "not idle long enough: {p:#?}");
    let (p, st) = run("on-demand", &idle, &s, 10_000 + cfg.idle_after_ms, &st);
    assert_eq!(removes(&p), pairs(&[("S", "n1"), ("S", "n2")]), "{p:#?}");
    assert!(p
        .steps
        .iter()
        .all(|s| s.reason().contains("scaled to zero")));
    // Scaled to zero, nothing brings it back until a request.
    let (p, _) = run(
        "on-demand",
        &view(vec![node("n1", 4, 5.0), node("n2", 4, 5.0)]),
        &s,
        10_000 + cfg.idle_after_ms + 5_000,
        &st,
    );
    assert!(p.steps.is_empty(), "{p:#?}");
    // Under threshold (keeps the minimum), the availability pass would.
    let (p, _) = run(
        "threshold",
        &view(vec![node("n1", 4, 5.0), node("n2", 4, 5.0)]),
        &s,
        0,
        &EngineState::default(),
    );
    assert_eq!(deploys(&p).len(), 2, "{p:#?}");
}

/// Availability: replicas spread over distinct nodes; a lost node's
/// replicas are deployed again elsewhere, for every policy.
#[test]
fn availability_spreads_and_redeploys_lost_replicas() {
    for policy in super::POLICIES {
        // 99.99 % with nodes at 99 %: two distinct nodes.
        let s = specs(&[spec("S", 100.0, 50, 1.0, 99.99, 0, 1, 8)]);
        let v = view(vec![
            with_replica(
                with_replica(node("n1", 4, 20.0), "S", 1, 10.0),
                "S",
                2,
                10.0,
            ),
            node("n2", 4, 40.0),
            node("n3", 4, 10.0),
        ]);
        let (p, _) = run(policy, &v, &s, 0, &EngineState::default());
        assert_eq!(
            deploys(&p)[..1],
            pairs(&[("S", "n3")])[..],
            "{policy}: {p:#?}"
        );
        assert!(
            p.steps[0].reason().contains("distinct nodes"),
            "{policy}: {p:#?}"
        );

        // n1 lost with S's replica; n2 runs one; n3 is free: S goes to n3.
        let mut lost = with_replica(node("n1", 4, 20.0), "S", 1, 10.0);
        lost.reachable = false;
        let v = view(vec![
            lost,
            with_replica(node("n2", 4, 30.0), "S", 1, 10.0),
            node("n3", 4, 50.0),
        ]);
        let (p, _) = run(policy, &v, &s, 60_000, &EngineState::default());
        assert_eq!(
            deploys(&p)[..1],
            pairs(&[("S", "n3")])[..],
            "{policy}: {p:#?}"
        );
        assert!(
            p.steps[0].reason().contains("lost"),
            "{policy}: {}",
            p.steps[0].reason()
        );
        assert_eq!(deploys(&p).len(), 1, "{policy}: {p:#?}");
        // Distinct nodes: nothing removes the last replica of a node while
        // availability needs it.
        assert!(removes(&p).is_empty(), "{policy}: {p:#?}");
    }
}

/// In-flight deployments count as replicas: no second deployment.
#[test]
fn in_flight_deployments_are_not_doubled() {
    let s = specs(&[spec("S", 100.0, 50, 1.0, 99.99, 0, 1, 8)]);
    let mut v = view(vec![
        with_replica(node("n1", 4, 20.0), "S", 1, 10.0),
        node("n2", 4, 5.0),
    ]);
    v.in_flight.push(crate::view::InFlight {
        service: "S".into(),
        node: "n2".into(),
        replica: 1,
        since_ms: 0,
    });
    for policy in super::POLICIES {
        let (p, _) = run(policy, &v, &s, 0, &EngineState::default());
        assert!(p.steps.is_empty(), "{policy}: {p:#?}");
    }
}

#[test]
fn decisions_have_the_api_shape() {
    let s = specs(&[spec("S", 100.0, 50, 1.0, 90.0, 0, 1, 8)]);
    let v = view(vec![with_replica(node("n1", 4, 40.0), "S", 1, 95.0)]);
    let (p, _) = run("threshold", &v, &s, 1234, &EngineState::default());
    let json = serde_json::to_value(p.decisions()).unwrap();
    let d = &json[0];
    assert_eq!(d["time"], 1234);
    assert_eq!(d["action"], "deploy");
    assert_eq!(d["service"], "S");
    assert_eq!(d["node"], "n1");
    assert!(d["reason"].as_str().unwrap().contains("95%"));
    assert_eq!(d.as_object().unwrap().len(), 5);
    assert!(super::policy_by_name("nope")
        .unwrap_err()
        .to_string()
        .contains("nope"));
}

/// Pure: the same inputs give the same plan and state; the input state is
/// not touched; a service with no users, nothing running and minimum 0
/// gets nothing from qos.
#[test]
fn the_engine_is_a_function_of_its_inputs() {
    let s = specs(&[
        spec("S", 100.0, 50, 0.3, 99.99, 0, 1, 8),
        spec("Z", 100.0, 50, 0.3, 90.0, 0, 0, 8),
    ]);
    let v = view(vec![saturated_n1(), node("n2", 4, 5.0), node("n3", 4, 5.0)]);
    let state = EngineState::default();
    for policy in super::POLICIES {
        let a = run(policy, &v, &s, 5_000, &state);
        let b = run(policy, &v, &s, 5_000, &state);
        assert_eq!(a, b, "{policy}");
        assert!(
            deploys(&a.0).iter().all(|(svc, _)| svc == "S"),
            "{policy}: {:#?}",
            a.0
        );
    }
    assert_eq!(state, EngineState::default());
}
