//! The deployer against real agents' command handlers (`Exec` on the fake
//! runtime) behind an in-process forwarder: plans deployed with signed
//! commands the nodes verify, no duplicates on re-reconcile, backoff while
//! a node is unreachable, removals, a restart that resumes from the
//! persisted desired state, and refusals recorded with the field.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use picasso_agent::exec::{Exec, ExecConfig, ReplicaRegistry};
use picasso_agent::gateway::ReplicaEndpoint;
use picasso_agent::runtime::fake::FakeRuntime;
use picasso_agent::runtime::{
    ContainerState, Runtime, Step as RtStep, LABEL_REPLICA, LABEL_SERVICE,
};
use picasso_forwarder::app::Client;
use picasso_forwarder::face::in_process;
use picasso_forwarder::runtime::{self, ForwarderHandle};
use picasso_orchestrator::deployer::{Deployer, DeployerConfig, SpecLookup};
use picasso_orchestrator::engine::{Plan, Step};
use picasso_orchestrator::spec::ServiceSpec;
use picasso_orchestrator::view::{ClusterView, ContainerView, NodeView};
use picasso_tlv::{Name, Signer};

const IMAGE: &str = "test-img";

struct NoRegistry;
impl ReplicaRegistry for NoRegistry {
    fn add_replica(&self, _: &str, _: ReplicaEndpoint) {}
    fn remove_replica(&self, _: &str, _: &str) {}
}

fn root() -> Name {
    Name::from_uri("/picasso").unwrap()
}

fn key_name() -> Name {
    Name::from_uri("/picasso/KEY/orchestrator").unwrap()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

struct TestNode {
    id: String,
    fake: Arc<FakeRuntime>,
    exec: Exec,
    client: Client,
}

impl TestNode {
    async fn start(fwd: &ForwarderHandle, id: &str, key: &Signer, dir: &Path, serve: bool) -> Self {
        let client = Client::from_app_face(in_process::connect(fwd).await.unwrap());
        let mut config = ExecConfig::new(id, key.verifier(), dir.join(id));
        config.orchestrator_key_name = Some(key_name());
        let fake = Arc::new(FakeRuntime::new());
        fake.add_image(IMAGE);
        let exec = Exec::new(config, fake.clone(), client.clone(), Arc::new(NoRegistry));
        let node = Self {
            id: id.to_owned(),
            fake,
            exec,
            client,
        };
        if serve {
            node.serve().await;
        }
        node
    }

    async fn serve(&self) {
        self.exec.serve(&self.client).await.unwrap();
    }

    /// (service, replica, running) of every container.
    async fn containers(&self) -> Vec<(String, u32, bool)> {
        let mut v: Vec<_> = self
            .fake
            .list(&BTreeMap::new())
            .await
            .unwrap()
            .into_iter()
            .map(|c| {
                (
                    c.labels[LABEL_SERVICE].clone(),
                    c.labels[LABEL_REPLICA].parse().unwrap(),
                    c.state == ContainerState::Running,
                )
            })
            .collect();
        v.sort();
        v
    }

    fn creates(&self) -> usize {
        self.fake
            .calls()
            .iter()
            .filter(|(s, _)| *s == RtStep::Create)
            .count()
    }

    /// The node as a monitoring report at `at` would show it.
    async fn view(&self, at: u64) -> NodeView {
        let mut n = NodeView::new(&self.id, 4);
        n.last_seen_ms = at;
        n.containers = self
            .fake
            .list(&BTreeMap::new())
            .await
            .unwrap()
            .into_iter()
            .map(|c| ContainerView {
                id: c.id.0.clone(),
                name: c.name.clone(),
                service: c.labels.get(LABEL_SERVICE).cloned(),
                replica: c.labels.get(LABEL_REPLICA).and_then(|r| r.parse().ok()),
                image: c.image.clone(),
                running: c.state == ContainerState::Running,
                ..ContainerView::default()
            })
            .collect();
        n
    }
}

async fn view_of(nodes: &[&TestNode], at: u64) -> ClusterView {
    let mut v = ClusterView::default();
    for n in nodes {
        v = v.with_node(n.view(at).await);
    }
    v
}

fn spec_json(service: &str) -> String {
    format!(
        r#"{{"par":{{"serviceName":"{service}","imageName":"{IMAGE}","imageSize":"1","maxUsers":"50","startUpTime":"1"}},
            "QoS":{{"responseTime":"5","availability":"99","numUsers":"10"}}}}"#
    )
}

fn specs(list: Vec<ServiceSpec>) -> SpecLookup {
    let map: BTreeMap<String, ServiceSpec> = list
        .into_iter()
        .map(|s| (s.service_name.clone(), s))
        .collect();
    Arc::new(move |name: &str, _node: &str| map.get(name).cloned())
}

fn s1() -> ServiceSpec {
    ServiceSpec::from_json(spec_json("S1").as_bytes()).unwrap()
}

fn deploy(service: &str, node: &str, replica: u32) -> Step {
    Step::Deploy {
        service: service.into(),
        node: node.into(),
        replica,
        reason: "test".into(),
    }
}

fn remove(service: &str, node: &str, replica: u32) -> Step {
    Step::Remove {
        service: service.into(),
        node: node.into(),
        replica: Some(replica),
        container: String::new(),
        reason: "test".into(),
    }
}

fn plan(steps: Vec<Step>) -> Plan {
    Plan {
        time: now_ms(),
        policy: "threshold".into(),
        steps,
        held: Vec::new(),
    }
}

struct World {
    fwd: ForwarderHandle,
    key: Signer,
    orchestrator: Client,
    dir: tempfile::TempDir,
}

impl World {
    async fn new() -> Self {
        let (fwd, _) = runtime::spawn(Default::default());
        let orchestrator = Client::from_app_face(in_process::connect(&fwd).await.unwrap());
        Self {
            fwd,
            key: Signer::ed25519_generate(key_name()),
            orchestrator,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    async fn node(&self, id: &str, serve: bool) -> TestNode {
        TestNode::start(&self.fwd, id, &self.key, self.dir.path(), serve).await
    }

    fn deployer(&self, specs: SpecLookup) -> Deployer {
        Deployer::with_config(
            self.orchestrator.clone(),
            self.key.clone(),
            root(),
            &self.dir.path().join("orchestrator"),
            specs,
            DeployerConfig {
                command_lifetime: Duration::from_secs(2),
                ..DeployerConfig::default()
            },
        )
        .unwrap()
    }
}

#[tokio::test]
async fn deploys_a_plan_on_two_nodes_without_duplicates() {
    let w = World::new().await;
    let (n1, n2) = (w.node("n1", true).await, w.node("n2", true).await);
    let d = w.deployer(specs(vec![s1()]));
    d.apply(&plan(vec![
        deploy("S1", "n1", 1),
        deploy("S1", "n2", 1),
        deploy("S1", "n2", 2),
    ]))
    .unwrap();
    assert_eq!(d.in_flight().len(), 3);

    let t = now_ms();
    let view = view_of(&[&n1, &n2], t).await;
    let started = d.reconcile(&view, t);
    assert_eq!(
        started.len(),
        2,
        "one command per (service, node): {started:?}"
    );
    // While those are in flight, another tick sends nothing.
    assert!(d.reconcile(&view, t + 1).is_empty());
    d.idle().await;

    assert_eq!(n1.containers().await, [("S1".to_owned(), 1, true)]);
    assert_eq!(
        n2.containers().await,
        [("S1".to_owned(), 1, true), ("S1".to_owned(), 2, true)]
    );
    let results = d.recent_results();
    assert_eq!(results.len(), 2);
    assert!(
        results.iter().all(|r| r.ok && r.timings.is_some()),
        "{results:?}"
    );
    let on_n2 = results.iter().find(|r| r.node == "n2").unwrap();
    assert_eq!(on_n2.replicas, [1, 2]);
    assert_eq!(on_n2.container_ids.len(), 2);

    // The view has not caught up: confirmations stand, nothing re-sent,
    // and the confirmed replicas still count as owed for the engine (so
    // it plans none of them again before a report shows them).
    assert!(d.reconcile(&view, now_ms()).is_empty());
    assert_eq!(d.in_flight().len(), 3, "{:?}", d.in_flight());
    // A fresh view: nothing differs, nothing owed.
    let t = now_ms() + 1;
    assert!(d.reconcile(&view_of(&[&n1, &n2], t).await, t).is_empty());
    assert!(d.in_flight().is_empty());
    assert_eq!((n1.creates(), n2.creates()), (1, 2));
}

#[tokio::test]
async fn an_unreachable_node_is_retried_with_backoff_and_completes() {
    let w = World::new().await;
    let n1 = w.node("n1", false).await;
    let d = w.deployer(specs(vec![s1()]));
    d.apply(&plan(vec![deploy("S1", "n1", 1)])).unwrap();

    let t0 = now_ms();
    let view = view_of(&[&n1], t0).await;
    assert_eq!(d.reconcile(&view, t0).len(), 1);
    d.idle().await;
    let r = d.recent_results();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].error.as_deref(), Some("unreachable"), "{r:?}");
    let first_retry = d.retry_at("n1").unwrap();
    assert!(first_retry >= t0 + 1_000, "{first_retry} vs {t0}");
    // Still owed: the engine must count it.
    assert_eq!(d.in_flight().len(), 1);

    // Within the backoff: nothing sent.
    assert!(d.reconcile(&view, first_retry - 1).is_empty());
    // After it: sent, fails again, the wait doubles.
    assert_eq!(d.reconcile(&view, first_retry).len(), 1);
    d.idle().await;
    let second_retry = d.retry_at("n1").unwrap();
    assert!(
        second_retry >= first_retry + 2_000,
        "{second_retry} vs {first_retry}"
    );

    // The node comes up: the next attempt completes.
    n1.serve().await;
    assert!(d.reconcile(&view, second_retry - 1).is_empty());
    assert_eq!(d.reconcile(&view, second_retry).len(), 1);
    d.idle().await;
    assert!(d.recent_results().last().unwrap().ok);
    assert_eq!(d.retry_at("n1"), None);
    assert_eq!(n1.containers().await, [("S1".to_owned(), 1, true)]);
    // Owed until a report shows it.
    assert_eq!(d.in_flight().len(), 1);
    let t = now_ms() + 1;
    d.reconcile(&view_of(&[&n1], t).await, t);
    assert!(d.in_flight().is_empty());
}

#[tokio::test]
async fn remove_steps_remove() {
    let w = World::new().await;
    let n1 = w.node("n1", true).await;
    let d = w.deployer(specs(vec![s1()]));
    d.apply(&plan(vec![deploy("S1", "n1", 1), deploy("S1", "n1", 2)]))
        .unwrap();
    let t = now_ms();
    d.reconcile(&view_of(&[&n1], t).await, t);
    d.idle().await;
    assert_eq!(n1.containers().await.len(), 2);

    d.apply(&plan(vec![remove("S1", "n1", 1)])).unwrap();
    let t = now_ms() + 1;
    let started = d.reconcile(&view_of(&[&n1], t).await, t);
    assert_eq!(started.len(), 1);
    assert_eq!(
        (started[0].verb.as_str(), started[0].replicas.as_slice()),
        ("remove", &[1][..])
    );
    d.idle().await;
    assert_eq!(n1.containers().await, [("S1".to_owned(), 2, true)]);

    // Replica 3 with a hole at 1: the deployer asks for replica 3 alone,
    // the node starts exactly that one (nothing to remove afterwards).
    d.apply(&plan(vec![deploy("S1", "n1", 3)])).unwrap();
    let t = now_ms() + 2;
    let creates = n1.creates();
    let started = d.reconcile(&view_of(&[&n1], t).await, t);
    assert_eq!(
        (started[0].verb.as_str(), started[0].replicas.as_slice()),
        ("deploy", &[3][..])
    );
    d.idle().await;
    assert_eq!(n1.creates(), creates + 1, "only replica 3 was created");
    assert_eq!(
        n1.containers().await,
        [("S1".to_owned(), 2, true), ("S1".to_owned(), 3, true)]
    );
    let t = now_ms() + 3;
    assert!(d.reconcile(&view_of(&[&n1], t).await, t).is_empty());

    // Scale to zero: the service stays managed, its replicas go.
    d.apply(&plan(vec![remove("S1", "n1", 2), remove("S1", "n1", 3)]))
        .unwrap();
    for i in 0..2 {
        let t = now_ms() + 10 + i;
        assert_eq!(d.reconcile(&view_of(&[&n1], t).await, t).len(), 1);
        d.idle().await;
    }
    assert!(n1.containers().await.is_empty());
    let t = now_ms() + 20;
    assert!(d.reconcile(&view_of(&[&n1], t).await, t).is_empty());
}

#[tokio::test]
async fn a_restarted_deployer_finishes_without_orphans_or_duplicates() {
    let w = World::new().await;
    let n1 = w.node("n1", true).await;
    let n2 = w.node("n2", false).await;
    {
        let d = w.deployer(specs(vec![s1()]));
        d.apply(&plan(vec![
            deploy("S1", "n1", 1),
            deploy("S1", "n1", 2),
            deploy("S1", "n2", 1),
        ]))
        .unwrap();
        let t = now_ms();
        d.reconcile(&view_of(&[&n1, &n2], t).await, t);
        d.idle().await;
        // n1 deployed, n2 unreachable; then replica 2 on n1 is planned
        // away and the orchestrator "crashes" before sending the remove.
        d.apply(&plan(vec![remove("S1", "n1", 2)])).unwrap();
    }
    assert_eq!(n1.containers().await.len(), 2);
    assert!(n2.containers().await.is_empty());

    n2.serve().await;
    let d = w.deployer(specs(vec![s1()]));
    assert_eq!(d.desired().replicas("S1", "n1"), [1].into());
    assert_eq!(d.desired().replicas("S1", "n2"), [1].into());
    for i in 0..3 {
        let t = now_ms() + i;
        d.reconcile(&view_of(&[&n1, &n2], t).await, t);
        d.idle().await;
    }
    assert_eq!(n1.containers().await, [("S1".to_owned(), 1, true)]);
    assert_eq!(n2.containers().await, [("S1".to_owned(), 1, true)]);
    assert_eq!((n1.creates(), n2.creates()), (2, 1));
    let t = now_ms() + 10;
    assert!(d.reconcile(&view_of(&[&n1, &n2], t).await, t).is_empty());
}

#[tokio::test]
async fn a_refusal_is_recorded_with_the_field() {
    let w = World::new().await;
    let n1 = w.node("n1", true).await;
    let mut bad = s1();
    // Below the node's 6 MiB minimum: the node refuses the descriptor.
    bad.descriptor.memory = Some(1024);
    let d = w.deployer(specs(vec![bad]));
    d.apply(&plan(vec![deploy("S1", "n1", 1)])).unwrap();
    let t = now_ms();
    let view = view_of(&[&n1], t).await;
    assert_eq!(d.reconcile(&view, t).len(), 1);
    d.idle().await;
    let r = d.recent_results();
    assert_eq!(r.len(), 1);
    assert!(!r[0].ok);
    assert_eq!(r[0].error.as_deref(), Some("invalid"));
    assert_eq!(r[0].field.as_deref(), Some("memory"), "{r:?}");
    assert!(n1.containers().await.is_empty());
    // The pair backs off; the node stays reachable.
    assert!(d.reconcile(&view, t + 10).is_empty());
    assert_eq!(d.retry_at("n1"), None);
}
