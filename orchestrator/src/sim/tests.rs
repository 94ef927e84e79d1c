//! The simulator's tests: determinism, conservation, the paper's lesson,
//! and redeployment after a node loss.

use super::scenario::{spec_for, NodeDef, ServiceDef, KINDS};
use super::*;
use crate::engine::{policy_by_name, Planner};

fn small_config() -> SimConfig {
    SimConfig {
        nodes: 60,
        services: 20,
        rps: 1500.0,
        duration_s: 400,
        seed: 42,
        failures_per_hour: Some(30.0),
        flash_per_hour: 30.0,
        ..SimConfig::default()
    }
}

fn all_policies() -> Vec<Box<dyn Policy>> {
    engine::POLICIES
        .iter()
        .map(|n| policy_by_name(n).unwrap())
        .collect()
}

/// The report without its wall-clock figures.
fn deterministic(mut r: PolicyReport) -> PolicyReport {
    r.wall_s = 0.0;
    r.cpu_s = None;
    r.engine_wall_s = 0.0;
    r.engine_max_tick_ms = 0.0;
    r
}

#[test]
fn same_seed_same_result_other_seed_other_result() {
    let cfg = small_config();
    let a = compare(&cfg, &all_policies()).unwrap();
    let b = compare(&cfg, &all_policies()).unwrap();
    let c = compare(
        &SimConfig {
            seed: 43,
            ..small_config()
        },
        &all_policies(),
    )
    .unwrap();
    assert_eq!(a.events, b.events);
    for (x, y) in a.policies.iter().zip(&b.policies) {
        assert_eq!(deterministic(x.clone()), deterministic(y.clone()));
    }
    assert_ne!(
        deterministic(a.policies[0].clone()),
        deterministic(c.policies[0].clone())
    );
    // The scenario did something: failures, crowds, deployments.
    assert!(a.node_failures > 0 && a.flash_crowds > 0, "{a:?}");
    assert!(a.policies.iter().all(|p| p.deployments_remote > 0));
}

#[test]
fn requests_served_plus_failed_equal_offered() {
    let c = compare(&small_config(), &all_policies()).unwrap();
    for p in &c.policies {
        assert!(p.requests_offered > 100_000.0, "{p:?}");
        let diff = (p.requests_served + p.requests_failed - p.requests_offered).abs();
        assert!(
            diff <= 1e-9 * p.requests_offered,
            "{}: {} + {} != {}",
            p.policy,
            p.requests_served,
            p.requests_failed,
            p.requests_offered
        );
        assert!(p.success_rate > 0.0 && p.success_rate <= 1.0);
    }
}

#[test]
fn bad_configuration_names_the_field() {
    let bad = SimConfig {
        nodes: 0,
        ..SimConfig::default()
    };
    let e = compare(&bad, &all_policies()).unwrap_err();
    assert!(e.to_string().starts_with("nodes:"), "{e}");
    let bad = SimConfig {
        balance_util: 0.99,
        ..SimConfig::default()
    };
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .starts_with("balance-util:"));
}

/// `nodes` idle Pis in a row 0.1 apart; one busybox service whose users
/// all sit at node 0, a replica there at the start; responseTime 0.1 s
/// (five times busybox's 20 ms); no failures unless `events` has some.
fn line(nodes: usize, base_rps: f64, events: Vec<(u64, Event)>) -> Scenario {
    let busybox = KINDS[1];
    assert_eq!(busybox.name, "busybox");
    Scenario {
        nodes: (0..nodes)
            .map(|i| NodeDef {
                id: format!("n{i}"),
                pos: (0.1 * i as f64, 0.0),
                cores: 4.0,
                mem_mb: 1024.0,
                base_mem_mb: 200.0,
                background_cores: 0.0,
                bandwidth_mb_s: 10.0,
                engine_running: true,
            })
            .collect(),
        services: vec![ServiceDef {
            spec: spec_for("web", &busybox, 0.1, 99.0, 64).unwrap(),
            kind: busybox,
            base_rps,
            diurnal_amplitude: 0.0,
            diurnal_phase: 0.0,
            active: true,
            ingress: vec![(0, 1.0)],
            initial_node: Some(0),
        }],
        events,
        day_s: 3600.0,
    }
}

fn line_config(duration_s: u64) -> SimConfig {
    SimConfig {
        duration_s,
        failures_per_hour: Some(0.0),
        flash_per_hour: 0.0,
        ..SimConfig::default()
    }
}

/// A test policy: one replica of `web` on `node` at the first tick, then
/// nothing (no availability pass either).
#[derive(Debug)]
struct OneMore(Option<&'static str>);

impl Policy for OneMore {
    fn name(&self) -> &'static str {
        "one-more"
    }
    fn plan(&self, p: &mut Planner<'_>) {
        if let (Some(node), 0) = (self.0, p.now_ms) {
            p.deploy("web", node, "test".into());
        }
    }
}

#[test]
fn local_replication_on_a_saturated_node_does_not_help_remote_does() {
    // 500 req/s × 10 ms of CPU = 5 cores wanted of node 0's 4: saturated.
    let sc = line(2, 500.0, Vec::new());
    let cfg = line_config(120);
    let alone = run(&sc, &cfg, &OneMore(None));
    let local = run(&sc, &cfg, &OneMore(Some("n0")));
    let remote = run(&sc, &cfg, &OneMore(Some("n1")));
    assert_eq!((local.deployments_local, remote.deployments_remote), (1, 1));
    // Saturated alone: requests fail, and the response time is far past 0.1 s.
    assert!(
        alone.requests_failed > 0.0 && alone.mean_response_ms > 100.0,
        "{alone:?}"
    );
    // A second replica on the same Pi shares its CPU: no better (the
    // per-local-replica overhead makes it slightly worse), and as many fail.
    assert!(
        local.mean_response_ms >= alone.mean_response_ms,
        "local {} < alone {}",
        local.mean_response_ms,
        alone.mean_response_ms
    );
    assert!(local.requests_failed >= alone.requests_failed * 0.95);
    // A replica on another Pi splits the load: far faster, nothing fails
    // once it runs (after its 1.45 s instantiation).
    assert!(
        remote.mean_response_ms < 0.5 * alone.mean_response_ms,
        "remote {} vs alone {}",
        remote.mean_response_ms,
        alone.mean_response_ms
    );
    assert!(remote.requests_failed < 0.1 * alone.requests_failed);
    assert!(remote.violation_seconds < local.violation_seconds);
}

#[test]
fn qos_policy_ends_with_fewer_violations_than_threshold() {
    // Node 0 at 50 % (200 req/s), then 70 % at t = 60 s, then 125 % (500
    // req/s) at t = 75 s. At 70 % the threshold rule sees a container past
    // 80 % of a core on a node below its 75 % headroom and replicates
    // locally — which cannot help, and starts its 30 s cool-down, so when
    // the node saturates at 75 s it waits, then adds one remote replica
    // per cool-down. The qos policy predicts from the model that a local
    // replica gains nothing and adds the remote replicas the prediction
    // needs in one tick. Deterministic: no randomness in this scenario.
    let sc = line(
        6,
        200.0,
        vec![
            (
                60_000,
                Event::Scale {
                    service: 0,
                    factor: 1.4,
                },
            ),
            (
                75_000,
                Event::Scale {
                    service: 0,
                    factor: 2.5,
                },
            ),
        ],
    );
    let cfg = line_config(300);
    let threshold = run(&sc, &cfg, policy_by_name("threshold").unwrap().as_ref());
    let qos = run(&sc, &cfg, policy_by_name("qos").unwrap().as_ref());
    assert!(threshold.deployments_local >= 1, "{threshold:?}");
    assert_eq!(qos.deployments_local, 0, "{qos:?}");
    assert!(
        qos.violation_seconds < threshold.violation_seconds,
        "qos {} vs threshold {} violation-seconds",
        qos.violation_seconds,
        threshold.violation_seconds
    );
    assert!(qos.requests_failed < threshold.requests_failed);
}

#[test]
fn a_lost_node_s_replicas_are_deployed_again_elsewhere() {
    // 100 req/s at node 0 (1 core), its only replica there;
    // node 0 fails at 30 s and stays down.
    let sc = line(
        3,
        100.0,
        vec![
            (30_000, Event::NodeDown { node: 0 }),
            (10_000_000, Event::NodeUp { node: 0 }),
        ],
    );
    let cfg = line_config(200);
    for policy in all_policies() {
        let r = run(&sc, &cfg, policy.as_ref());
        assert_eq!(r.node_losses, 1, "{r:?}");
        // Recovered means replicas running again on live nodes.
        assert_eq!((r.recoveries, r.unrecovered), (1, 0), "{r:?}");
        // Detection (3 s) + transfer (2.16 MB at 10 MB/s) + instantiation
        // (1.45 s), within a few ticks.
        assert!(
            r.max_recovery_s >= 4.0 && r.max_recovery_s <= 10.0,
            "{}: {r:?}",
            r.policy
        );
        assert!(r.deployments_remote >= 1);
        // Its users moved to node 1 and are served after the recovery.
        assert!(r.success_rate > 0.9, "{r:?}");
    }
}
