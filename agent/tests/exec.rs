//! Service execution against the fake runtime, through a real in-process
//! forwarder: signed commands from an "orchestrator" client, images
//! published under `/picasso/repo/image/…`, each step's failure rolled
//! back and named, refused commands, idempotence and adoption.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use picasso_agent::exec::{signed_command, Exec, ExecConfig, ReplicaRegistry};
use picasso_agent::gateway::ReplicaEndpoint;
use picasso_agent::image_repo::{ImageFetchOptions, ImagePublisher};
use picasso_agent::runtime::fake::FakeRuntime;
use picasso_agent::runtime::{ContainerState, Runtime, Step};
use picasso_forwarder::app::Client;
use picasso_forwarder::face::in_process;
use picasso_forwarder::runtime::{self, ForwarderHandle};
use picasso_tlv::{Interest, Name, Signer};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NODE: &str = "n1";
const TAG: &str = "picasso/test:1";

/// Records what the exec tells the gateway.
#[derive(Default)]
struct Recorder {
    up: Mutex<Vec<(String, ReplicaEndpoint)>>,
    down: Mutex<Vec<(String, String)>>,
}

impl ReplicaRegistry for Recorder {
    fn add_replica(&self, service: &str, endpoint: ReplicaEndpoint) {
        self.up.lock().unwrap().push((service.to_owned(), endpoint));
    }
    fn remove_replica(&self, service: &str, id: &str) {
        self.down
            .lock()
            .unwrap()
            .push((service.to_owned(), id.to_owned()));
    }
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn root() -> Name {
    Name::from_uri("/picasso").unwrap()
}

/// A minimal `docker save` archive the fake runtime can "load".
fn fake_archive(path: &std::path::Path) {
    let mut b = tar::Builder::new(Vec::new());
    let manifest = format!(r#"[{{"Config":"abc123.json","RepoTags":["{TAG}"],"Layers":[]}}]"#);
    let mut h = tar::Header::new_gnu();
    h.set_size(manifest.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "manifest.json", manifest.as_bytes())
        .unwrap();
    let filler = vec![7u8; 50_000];
    let mut h = tar::Header::new_gnu();
    h.set_size(filler.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "abc123.json", &filler[..]).unwrap();
    std::fs::write(path, b.into_inner().unwrap()).unwrap();
}

/// An HTTP server on 127.0.0.1 that answers 200 to everything.
async fn http_ok() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    port
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Node {
    _fwd: ForwarderHandle,
    _dir: TempDir,
    orchestrator: Client,
    key: Signer,
    fake: Arc<FakeRuntime>,
    exec: Exec,
    recorder: Arc<Recorder>,
    publisher: Arc<ImagePublisher>,
    agent_client: Client,
    config: ExecConfig,
}

impl Node {
    /// A forwarder, the exec of node `n1` on a fake runtime, and an
    /// orchestrator client; the fake archive published when `publish`.
    async fn start(publish: bool) -> Self {
        let (fwd, _) = runtime::spawn(Default::default());
        let agent_client = Client::from_app_face(in_process::connect(&fwd).await.unwrap());
        let orchestrator = Client::from_app_face(in_process::connect(&fwd).await.unwrap());
        let dir = std::env::temp_dir().join(format!(
            "picasso-exec-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let key = Signer::ed25519_generate(Name::from_uri("/picasso/KEY/orchestrator").unwrap());
        let archive = dir.join("test.tar");
        fake_archive(&archive);
        let publisher = Arc::new(
            ImagePublisher::from_file(&root(), "test-img", Some(TAG), &archive, 1, 8000, &key)
                .unwrap(),
        );
        if publish {
            publisher.serve(&orchestrator).await.unwrap();
        }
        let mut config = ExecConfig::new(NODE, key.verifier(), dir.join("data"));
        config.orchestrator_key_name = Some(Name::from_uri("/picasso/KEY/orchestrator").unwrap());
        config.probe_timeout = Duration::from_millis(400);
        config.fetch = ImageFetchOptions {
            lifetime: Duration::from_millis(200),
            max_retries: 1,
            ..ImageFetchOptions::default()
        };
        let fake = Arc::new(FakeRuntime::new());
        let recorder = Arc::new(Recorder::default());
        let exec = Exec::new(
            config.clone(),
            fake.clone(),
            agent_client.clone(),
            recorder.clone(),
        );
        exec.serve(&agent_client).await.unwrap();
        Node {
            _fwd: fwd,
            _dir: TempDir(dir),
            orchestrator,
            key,
            fake,
            exec,
            recorder,
            publisher,
            agent_client,
            config,
        }
    }

    async fn send_interest(&self, i: Interest) -> Value {
        let d = self.orchestrator.express(i).await.expect("a reply");
        serde_json::from_slice(&d.content()).expect("JSON reply")
    }

    async fn send(&self, verb: &str, params: Value) -> Value {
        let i = signed_command(
            &root(),
            NODE,
            verb,
            params.to_string().as_bytes(),
            &self.key,
            Duration::from_secs(10),
        );
        self.send_interest(i).await
    }

    async fn containers(&self) -> usize {
        self.fake.list(&BTreeMap::new()).await.unwrap().len()
    }

    fn creates(&self) -> usize {
        self.fake
            .calls()
            .iter()
            .filter(|(s, _)| *s == Step::Create)
            .count()
    }
}

fn descriptor(port: u16) -> Value {
    json!({"imageName": "test-img", "serviceName": "S1", "port_host": port.to_string(),
           "port_container": "80", "cpu": "0.5", "memory": "64m", "maxUsers": "7",
           "env": {"MODE": "test"}})
}

#[tokio::test]
async fn deploy_fetches_loads_starts_probes_and_is_idempotent() {
    let node = Node::start(true).await;
    let port = http_ok().await;
    let r = node.send("deploy", descriptor(port)).await;
    assert_eq!(r["containerId"], "fake-000001", "{r}");
    assert_eq!(r["imageSource"], "repo", "{r}");
    assert_eq!(r["image"], TAG, "{r}");
    for step in [
        "fetchMs", "loadMs", "createMs", "startMs", "probeMs", "totalMs",
    ] {
        assert!(r["timings"][step].as_f64().is_some(), "{step} missing: {r}");
    }
    assert_eq!(
        r["fetch"]["segmentsFetched"],
        node.publisher.manifest().segments
    );
    assert_eq!(r["replicas"][0]["port_host"], port);
    assert_eq!(r["replicas"][0]["existing"], false);
    let list = node.fake.list(&BTreeMap::new()).await.unwrap();
    assert_eq!(list.len(), 1);
    let c = &list[0];
    assert_eq!(c.state, ContainerState::Running);
    assert_eq!((c.port_host, c.port_container), (Some(port), Some(80)));
    assert_eq!(c.image, TAG);
    assert_eq!(c.labels["picasso.service"], "S1");
    assert_eq!(c.labels["picasso.replica"], "1");
    assert_eq!(c.labels["picasso.node"], NODE);
    assert_eq!(c.labels["managed-by"], "picasso");
    assert_eq!(c.name, "picasso-n1-S1-1");
    // The memory limit reached the runtime (the fake reports it as usage).
    assert_eq!(node.fake.stats(&c.id).await.unwrap().memory_bytes, 64 << 20);
    {
        let up = node.recorder.up.lock().unwrap();
        assert_eq!(up.len(), 1);
        assert_eq!(up[0].0, "S1");
        assert_eq!(up[0].1.id, "fake-000001");
        assert_eq!(up[0].1.addr.to_string(), format!("127.0.0.1:{port}"));
        assert_eq!(up[0].1.max_users, 7);
    }
    // The fetched archive is not kept after loading.
    let (done, partial, _) = {
        let f = picasso_agent::image_repo::ImageFetcher::new(
            node.agent_client.clone(),
            root(),
            node.key.verifier(),
            node.config.data_dir.join("images"),
            ImageFetchOptions::default(),
        );
        f.paths(node.publisher.manifest())
    };
    assert!(!done.exists() && !partial.exists());

    // Deploying again returns the running replica, creates nothing.
    let again = node.send("deploy", descriptor(port)).await;
    assert_eq!(again["containerId"], "fake-000001", "{again}");
    assert_eq!(again["replicas"][0]["existing"], true);
    assert_eq!(again["imageSource"], "none");
    assert_eq!(node.creates(), 1);
    assert_eq!(node.containers().await, 1);

    // list, stop, remove.
    let l = node.send("list", json!({})).await;
    assert_eq!(l["containers"].as_array().unwrap().len(), 1, "{l}");
    assert_eq!(l["containers"][0]["id"], "fake-000001");
    let s = node.send("stop", json!({"serviceName": "S1"})).await;
    assert_eq!(s["stopped"], json!(["fake-000001"]), "{s}");
    assert_eq!(
        node.fake.list(&BTreeMap::new()).await.unwrap()[0].state,
        ContainerState::Exited
    );
    assert_eq!(node.recorder.down.lock().unwrap().len(), 1);
    // A stopped replica is replaced by the next deploy, not duplicated.
    let re = node.send("deploy", descriptor(port)).await;
    assert_eq!(re["containerId"], "fake-000002", "{re}");
    assert_eq!(re["imageSource"], "engine");
    assert_eq!(node.containers().await, 1);
    let rm = node.send("remove", json!({"serviceName": "S1"})).await;
    assert_eq!(rm["removed"], json!(["fake-000002"]), "{rm}");
    assert_eq!(node.containers().await, 0);
}

#[tokio::test]
async fn several_replicas_get_consecutive_ports() {
    let node = Node::start(true).await;
    let mut d = descriptor(0);
    d["port_host"] = json!(null);
    d["replicas"] = json!(3);
    let r = node.send("deploy", d).await;
    let ids: Vec<&str> = r["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["containerId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["fake-000001", "fake-000002", "fake-000003"], "{r}");
    assert_eq!(node.containers().await, 3);
}

#[tokio::test]
async fn one_replica_by_number_starts_only_that_one_and_never_twice() {
    let node = Node::start(true).await;
    let one = |r: Value| {
        let mut d = descriptor(0);
        d["port_host"] = json!(null);
        d["replica"] = r;
        d
    };
    let replicas_of = |r: &Value| -> Vec<(u64, bool)> {
        r["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["replica"].as_u64().unwrap(),
                    x["existing"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let r = node.send("deploy", one(json!(3))).await;
    assert_eq!(replicas_of(&r), [(3, false)], "{r}");
    let list = node.fake.list(&BTreeMap::new()).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].labels["picasso.replica"], "3");
    assert_eq!(list[0].name, "picasso-n1-S1-3");
    // Again: the running container, nothing created.
    let again = node.send("deploy", one(json!("3"))).await;
    assert_eq!(replicas_of(&again), [(3, true)], "{again}");
    assert_eq!(again["containerId"], r["containerId"]);
    assert_eq!(node.creates(), 1);
    // Another number: that one only, 3 left alone.
    let r1 = node.send("deploy", one(json!(1))).await;
    assert_eq!(replicas_of(&r1), [(1, false)], "{r1}");
    assert_eq!((node.creates(), node.containers().await), (2, 2));
    // The count form still works beside it: only the hole (2) is filled.
    let mut d = descriptor(0);
    d["port_host"] = json!(null);
    d["replicas"] = json!(3);
    let all = node.send("deploy", d).await;
    assert_eq!(
        replicas_of(&all),
        [(1, true), (2, false), (3, true)],
        "{all}"
    );
    assert_eq!((node.creates(), node.containers().await), (3, 3));
    // A bad number is refused naming the field, nothing started.
    for bad in [json!(0), json!(65), json!("x")] {
        let r = node.send("deploy", one(bad)).await;
        assert_eq!(
            (&r["error"], &r["field"]),
            (&json!("invalid"), &json!("replica")),
            "{r}"
        );
    }
    let mut both = one(json!(2));
    both["replicas"] = json!(2);
    let r = node.send("deploy", both).await;
    assert_eq!(r["field"], "replica", "{r}");
    assert_eq!((node.creates(), node.containers().await), (3, 3));
}

/// Asserts a failed deploy: error names `step`, no container left, image
/// gone when `image_left` is false.
async fn assert_rolled_back(node: &Node, r: &Value, step: &str, image_left: bool) {
    assert_eq!(r["error"], "failed", "{r}");
    assert_eq!(r["step"], step, "{r}");
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{step}: ")),
        "{r}"
    );
    assert_eq!(node.containers().await, 0, "orphan container after {step}");
    assert_eq!(
        node.fake.has_image(TAG).await.unwrap(),
        image_left,
        "{step}"
    );
    assert!(node.recorder.up.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_fetch_names_the_step_and_creates_nothing() {
    let node = Node::start(false).await;
    let r = node.send("deploy", descriptor(http_ok().await)).await;
    assert_rolled_back(&node, &r, "fetch", false).await;
    assert_eq!(node.creates(), 0);
    assert!(r["reason"].as_str().unwrap().contains("manifest"), "{r}");
}

#[tokio::test]
async fn each_failing_step_rolls_back_and_is_named() {
    for (step, fail) in [
        ("load", Some(Step::LoadImage)),
        ("create", Some(Step::Create)),
        ("start", Some(Step::Start)),
        ("probe", None),
    ] {
        let node = Node::start(true).await;
        let port = match fail {
            Some(s) => {
                node.fake.fail_once(s);
                http_ok().await
            }
            None => closed_port(),
        };
        let r = node.send("deploy", descriptor(port)).await;
        assert_rolled_back(&node, &r, step, false).await;
        assert!(r["timings"]["fetchMs"].as_f64().is_some(), "{r}");
        // After the failure the same deploy succeeds.
        let ok = node.send("deploy", descriptor(http_ok().await)).await;
        assert!(ok["containerId"].is_string(), "{step}: {ok}");
        assert_eq!(node.containers().await, 1);
    }
}

#[tokio::test]
async fn a_failure_keeps_an_image_this_deploy_did_not_load() {
    let node = Node::start(true).await;
    node.fake.add_image("test-img");
    node.fake.fail_once(Step::Start);
    let r = node.send("deploy", descriptor(http_ok().await)).await;
    assert_eq!(r["step"], "start", "{r}");
    assert_eq!(node.containers().await, 0);
    assert!(node.fake.has_image("test-img").await.unwrap());
    assert!(!node
        .fake
        .calls()
        .iter()
        .any(|(s, _)| *s == Step::RemoveImage || *s == Step::LoadImage));
}

#[tokio::test]
async fn unsigned_forged_stale_and_replayed_commands_are_refused() {
    let node = Node::start(true).await;
    let port = http_ok().await;
    let params = descriptor(port).to_string();
    let name = picasso_agent::exec::command_prefix(&root(), NODE).append_str("deploy");

    let unsigned = Interest::new(name.clone())
        .with_app_params(params.clone().into_bytes())
        .with_lifetime_ms(2000);
    let r = node.send_interest(unsigned).await;
    assert_eq!(r, json!({"error": "refused", "reason": "unsigned command"}));

    // Signed by another key under the orchestrator's key name.
    let forger = Signer::ed25519_generate(Name::from_uri("/picasso/KEY/orchestrator").unwrap());
    let forged = signed_command(
        &root(),
        NODE,
        "deploy",
        params.as_bytes(),
        &forger,
        Duration::from_secs(2),
    );
    let r = node.send_interest(forged).await;
    assert_eq!(r["error"], "refused");
    assert_eq!(
        r["reason"],
        "signature does not verify with the orchestrator key"
    );

    // Another key name.
    let other = Signer::ed25519_generate(Name::from_uri("/someone/KEY/else").unwrap());
    let r = node
        .send_interest(signed_command(
            &root(),
            NODE,
            "deploy",
            params.as_bytes(),
            &other,
            Duration::from_secs(2),
        ))
        .await;
    assert_eq!(r["error"], "refused");
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .starts_with("key /someone/KEY/else is not"),
        "{r}"
    );

    // A valid signature with a tampered descriptor.
    let mut tampered = signed_command(
        &root(),
        NODE,
        "deploy",
        params.as_bytes(),
        &node.key,
        Duration::from_secs(2),
    );
    tampered.set_app_params(Some(descriptor(1).to_string().into_bytes().into()));
    let r = node.send_interest(tampered).await;
    assert_eq!(r["error"], "refused", "{r}");

    // Ten minutes old.
    let mut stale = Interest::new(name.clone())
        .with_app_params(params.clone().into_bytes())
        .with_lifetime_ms(2000);
    let mut info = node.key.signature_info();
    info.nonce = Some(bytes::Bytes::from_static(b"12345678"));
    info.time = Some(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            - 600_000,
    );
    stale.sign(&node.key, info);
    let r = node.send_interest(stale).await;
    assert_eq!(r["error"], "refused");
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains("off the node's clock"),
        "{r}"
    );

    assert_eq!(node.creates(), 0, "a refused command created a container");

    // Replay: the same signed command twice.
    let cmd = signed_command(
        &root(),
        NODE,
        "deploy",
        params.as_bytes(),
        &node.key,
        Duration::from_secs(5),
    );
    let first = node.send_interest(cmd.clone()).await;
    assert!(first["containerId"].is_string(), "{first}");
    node.send("remove", json!({"serviceName": "S1"})).await;
    let replayed = node.send_interest(cmd).await;
    assert_eq!(replayed["error"], "refused", "{replayed}");
    assert!(replayed["reason"]
        .as_str()
        .unwrap()
        .starts_with("replayed: SignatureNonce"));
    assert_eq!(node.containers().await, 0, "the replay ran");

    // Unknown verbs are answered, after authentication.
    let r = node.send("reboot", json!({})).await;
    assert_eq!(r["error"], "unknown command", "{r}");
}

#[tokio::test]
async fn a_bad_descriptor_is_refused_naming_the_field_and_nothing_runs() {
    let node = Node::start(true).await;
    let mut d = descriptor(8080);
    d["port_host"] = json!("abc");
    let r = node.send("deploy", d).await;
    assert_eq!(
        r,
        json!({"error": "invalid", "field": "port_host", "reason": "port_host: \"abc\" is not a port"})
    );
    let r = node.send("deploy", json!({"port_host": 80})).await;
    assert_eq!(r["field"], "imageName", "{r}");
    assert!(node.fake.calls().is_empty(), "{:?}", node.fake.calls());
}

#[tokio::test]
async fn a_restarted_agent_adopts_its_running_containers() {
    let node = Node::start(true).await;
    let (a, b) = (http_ok().await, http_ok().await);
    let mut d = descriptor(a);
    d["serviceName"] = json!("A");
    node.send("deploy", d).await;
    let mut d = descriptor(b);
    d["serviceName"] = json!("B");
    d["maxUsers"] = json!(3);
    node.send("deploy", d).await;
    node.send("stop", json!({"serviceName": "A"})).await;

    // Another node's container on the same engine is not adopted.
    let mut labels = picasso_agent::runtime::managed_labels("C", 1, "n2");
    labels.insert("x".into(), "y".into());
    let other = node
        .fake
        .create(&picasso_agent::runtime::ContainerSpec {
            name: "other".into(),
            image: TAG.into(),
            port_host: Some(9),
            labels,
            ..Default::default()
        })
        .await
        .unwrap();
    node.fake.start(&other).await.unwrap();

    let recorder = Arc::new(Recorder::default());
    let restarted = Exec::new(
        node.config.clone(),
        node.fake.clone(),
        node.agent_client.clone(),
        recorder.clone(),
    );
    let adopted = restarted.adopt().await.unwrap();
    assert_eq!(adopted.len(), 1, "{adopted:?}");
    let up = recorder.up.lock().unwrap().clone();
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].0, "B");
    assert_eq!(up[0].1.addr.port(), b);
    assert_eq!(up[0].1.max_users, 3);
    // Listing through the old exec still sees both of its containers.
    assert_eq!(node.exec.list().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_process_replica_reports_how_its_limits_are_enforced() {
    let (fwd, _) = runtime::spawn(Default::default());
    let client = Client::from_app_face(in_process::connect(&fwd).await.unwrap());
    let dir = std::env::temp_dir().join(format!(
        "picasso-exec-limits-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let _dir = TempDir(dir.clone());
    let key = Signer::ed25519_generate(Name::from_uri("/picasso/KEY/orchestrator").unwrap());
    let mut config = ExecConfig::new(NODE, key.verifier(), dir.join("data"));
    config.cgroup_parent = Some(format!("/picasso-exec-test-{}", std::process::id()));
    let rt = Arc::new(picasso_agent::runtime::process::ProcessRuntime::new());
    rt.add_image("sleeper");
    let exec = Exec::new(config, rt.clone(), client, Arc::new(Recorder::default()));
    let mut d = picasso_agent::descriptor::Descriptor::new("sleeper", "lim");
    d.command = vec!["sleep".into(), "30".into()];
    d.cpu = Some(0.25);
    d.memory = Some(48 << 20);
    let report = exec.deploy(&d).await.unwrap();
    let limits = report.replicas[0].limits.clone().unwrap();
    // Whichever the host allows, it is named, with the memory limit in force.
    assert!(
        limits.starts_with("cgroup-v")
            || limits.starts_with("rlimit-as 49152 KiB; cpu not enforced"),
        "{limits}"
    );
    if limits.starts_with("cgroup-v") {
        assert!(
            limits.contains(&format!(
                "/picasso-exec-test-{}/picasso-n1-lim-1",
                std::process::id()
            )),
            "{limits}"
        );
    }
    // Without limits the reply says nothing about them.
    d.cpu = None;
    d.memory = None;
    d.replica = Some(2);
    let report = exec.deploy(&d).await.unwrap();
    assert_eq!(report.replicas[0].limits, None);
    for c in rt.list(&BTreeMap::new()).await.unwrap() {
        rt.remove(&c.id, true).await.unwrap();
    }
    if let Some(h) = rt.cgroups() {
        let parent = format!("picasso-exec-test-{}", std::process::id());
        match h {
            picasso_agent::runtime::process::limits::Hierarchy::V2 { root } => {
                let _ = std::fs::remove_dir(root.join(&parent));
            }
            picasso_agent::runtime::process::limits::Hierarchy::V1 { cpu, memory } => {
                let _ = std::fs::remove_dir(cpu.join(&parent));
                let _ = std::fs::remove_dir(memory.join(&parent));
            }
        }
    }
}
