//! Recorded plans (Nomad style): the engine runs over a scripted sequence
//! of views of a small simulated world, a stand-in deployer applies each
//! plan to the world, and the decisions are printed (run with
//! `--nocapture`) and compared with the recording.
//!
//! The world: nodes of 2 cores; each service request costs `C` = 0.02
//! core-seconds and takes `T0` = 0.5 s on an idle replica; `N` users (closed
//! loop) spread evenly over the reachable replicas. A node with `N_n` users
//! serves `X_n = min(N_n / T0, cores / C)` requests/s at `R_n = N_n / X_n`
//! (the replicas share its cores), its containers split `X_n · C` cores.

use std::collections::BTreeMap;

use super::testkit::{node, run, spec, specs, with_demand, with_replica};
use super::{EngineState, Plan, Step};
use crate::spec::ServiceSpec;
use crate::view::{ClusterView, NodeView};

const C: f64 = 0.02;
const T0: f64 = 0.5;
const CORES: usize = 2;

/// A change to the world before a tick.
enum Event {
    /// Set the concurrent users of service `S`.
    Users(f64),
    /// A node stops answering.
    Lose(&'static str),
    /// Nothing changes.
    Tick,
}

struct World {
    /// `(node, replica)` of every replica of `S`, and which nodes are up.
    replicas: Vec<(String, u32)>,
    up: BTreeMap<String, bool>,
    /// When each lost node was lost, ms.
    lost_at: BTreeMap<String, u64>,
    users: f64,
}

impl World {
    fn new(nodes: &[&str], replicas: &[(&str, u32)]) -> Self {
        Self {
            replicas: replicas.iter().map(|(n, r)| (n.to_string(), *r)).collect(),
            up: nodes.iter().map(|n| (n.to_string(), true)).collect(),
            lost_at: BTreeMap::new(),
            users: 0.0,
        }
    }

    fn view(&self, now_ms: u64) -> ClusterView {
        let live: Vec<_> = self.replicas.iter().filter(|(n, _)| self.up[n]).collect();
        let mut nodes: Vec<NodeView> = Vec::new();
        for (id, up) in &self.up {
            let here: Vec<u32> = self
                .replicas
                .iter()
                .filter(|(n, _)| n == id)
                .map(|(_, r)| *r)
                .collect();
            let users = if live.is_empty() || !up {
                0.0
            } else {
                self.users * here.len() as f64 / live.len() as f64
            };
            let x = (users / T0).min(CORES as f64 / C);
            let busy = x * C;
            let mut n = node(id, CORES, busy / CORES as f64 * 100.0);
            n.reachable = *up;
            n.last_seen_ms = self.lost_at.get(id).copied().unwrap_or(now_ms);
            for r in &here {
                n = with_replica(n, "S", *r, busy / here.len() as f64 * 100.0);
            }
            if users > 0.0 {
                n = with_demand(n, "S", x, users.round() as usize, users / x * 1000.0);
            }
            nodes.push(n);
        }
        super::testkit::view(nodes)
    }

    fn apply(&mut self, plan: &Plan) {
        for s in &plan.steps {
            match s {
                Step::Deploy { node, replica, .. } => self.replicas.push((node.clone(), *replica)),
                Step::Remove { node, replica, .. } => self
                    .replicas
                    .retain(|(n, r)| !(n == node && Some(*r) == *replica)),
            }
        }
    }
}

/// Runs `policy` over `script` (seconds, event); returns the decisions as
/// `t=<s> <action> <service> <node>` and prints them with their reasons.
fn record(
    policy: &str,
    s: &BTreeMap<String, ServiceSpec>,
    mut world: World,
    script: &[(u64, Event)],
) -> Vec<String> {
    let mut state = EngineState::default();
    let mut out = Vec::new();
    for (t, event) in script {
        match event {
            Event::Users(n) => world.users = *n,
            Event::Lose(node) => {
                world.up.insert(node.to_string(), false);
                world
                    .lost_at
                    .insert(node.to_string(), t.saturating_sub(10) * 1000);
            }
            Event::Tick => {}
        }
        let now = t * 1000;
        let (plan, st) = run(policy, &world.view(now), s, now, &state);
        state = st;
        for d in plan.decisions() {
            eprintln!(
                "[{policy}] t={t:>4} {} {} on {}: {}",
                d.action, d.service, d.node, d.reason
            );
            out.push(format!("t={t} {} {} {}", d.action, d.service, d.node));
        }
        for h in &plan.held {
            eprintln!("[{policy}] t={t:>4} hold {}: {}", h.service, h.reason);
        }
        world.apply(&plan);
    }
    out
}

#[test]
fn threshold_recorded() {
    let s = specs(&[spec("S", 50.0, 50, 1.0, 90.0, 0, 1, 8)]);
    let world = World::new(&["n1", "n2", "n3"], &[("n1", 1)]);
    let got = record(
        "threshold",
        &s,
        world,
        &[
            (0, Event::Users(15.0)),  // 60 % of a core: nothing
            (10, Event::Users(25.0)), // 100 %, node at 50 %: local
            (20, Event::Users(60.0)), // saturated, in the cool-down: hold
            (40, Event::Tick),        // node at 100 %: remote, least loaded
            (100, Event::Tick),       // 80 % each: stable
            (200, Event::Users(6.0)), // all cold: the local duplicate goes
            (210, Event::Tick),       // down cool-down
            (330, Event::Tick),       // one more goes
            (340, Event::Lose("n2")), // the last replica's node is lost (seen at 330)
            (350, Event::Tick),       // redeployed once, not again
            (360, Event::Tick),
        ],
    );
    assert_eq!(
        got,
        [
            "t=10 deploy S n1",
            "t=40 deploy S n2",
            "t=200 remove S n1",
            "t=330 remove S n1",
            "t=340 deploy S n1",
        ]
    );
}

#[test]
fn qos_recorded() {
    let s = specs(&[spec("S", 50.0, 50, 1.0, 90.0, 0, 1, 8)]);
    let world = World::new(&["n1", "n2", "n3"], &[("n1", 1)]);
    let got = record(
        "qos",
        &s,
        world,
        &[
            (0, Event::Users(20.0)),  // 0.5 s, 20 users: within the spec
            (10, Event::Users(80.0)), // 80 users > maxUsers: remote beats local
            (20, Event::Tick),        // 40 per replica, 0.4 s: stable
            (30, Event::Users(200.0)),
            (40, Event::Tick),
            (200, Event::Users(20.0)),
            (210, Event::Tick),
            (330, Event::Tick),
            (460, Event::Tick),
            (600, Event::Tick),
            (610, Event::Lose("n3")),
            (620, Event::Tick),
        ],
    );
    assert_eq!(
        got,
        [
            // 80 users > maxUsers 50 on one replica: remote (0.40 s) beats
            // local (0.84 s).
            "t=10 deploy S n2",
            // 200 users (cool-down at 30): a third node, then local
            // duplicates where the image is, until 5 replicas predict 0.84 s.
            "t=40 deploy S n3",
            "t=40 deploy S n1",
            "t=40 deploy S n2",
            // Load falls: one replica per down cool-down, local duplicates first.
            "t=200 remove S n1",
            "t=330 remove S n2",
            "t=460 remove S n1",
            "t=600 remove S n2",
            // The last replica's node is lost: deployed again, once.
            "t=610 deploy S n1",
        ]
    );
}
