//! The orchestrator's HTTP API against an in-process [`Orchestrator`]
//! (forwarder without listeners, API on 127.0.0.1 port 0), driven with the
//! CLI's blocking [`ApiClient`]:
//!
//! - specs stored and listed; bad specs and bad bodies refused with 400
//!   and the field's name; unknown paths 404, wrong methods 405;
//! - an image uploaded (streamed), listed with its sha256, removed; an
//!   upload cut half-way leaves no image and no temp file;
//! - nodes enrolled by API, a bad key refused naming `key`;
//! - policy and enrolled nodes survive a restart on the same data dir;
//! - `/metrics` is Prometheus text with the orchestrator's families.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use picasso_orchestrator::client::{ApiClient, Body, ClientError};
use picasso_orchestrator::server::{Orchestrator, OrchestratorConfig};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn config(dir: &Path) -> OrchestratorConfig {
    let mut c = OrchestratorConfig {
        data_dir: dir.to_owned(),
        api: "127.0.0.1:0".to_owned(),
        tick_ms: 100,
        monitor_interval_ms: 100,
        ..OrchestratorConfig::default()
    };
    c.forwarder.unix = String::new();
    c.forwarder.tcp = String::new();
    c.forwarder.udp = String::new();
    c
}

fn start(rt: &tokio::runtime::Runtime, dir: &Path) -> (Orchestrator, ApiClient) {
    let o = rt.block_on(Orchestrator::start(&config(dir))).unwrap();
    let c = ApiClient::new(&format!("http://{}", o.endpoints().api)).unwrap();
    (o, c)
}

fn refused(r: Result<Value, ClientError>) -> (u16, String) {
    match r {
        Err(ClientError::Refused { status, reason }) => (status, reason),
        other => panic!("not refused: {other:?}"),
    }
}

fn spec(name: &str) -> Value {
    json!({
        "par": {"serviceName": name, "imageName": "img", "imageSize": "1", "maxUsers": "5",
                "startUpTime": "1", "replicas": {"min": 0, "max": 2}},
        "QoS": {"responseTime": "1", "availability": "99", "numUsers": "1"}
    })
}

/// A `docker save`-shaped archive of about `size` bytes.
fn archive(size: usize) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let manifest = br#"[{"Config":"c.json","RepoTags":["t/api:1"],"Layers":[]}]"#;
    for (name, data) in [
        ("manifest.json", manifest.to_vec()),
        ("c.json", vec![7u8; size]),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn api_stores_refuses_streams_and_persists() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (o, c) = start(&rt, tmp.path());

    // Specs.
    let bytes = serde_json::to_vec(&spec("S1")).unwrap();
    let r = c
        .call("POST", "/api/repo/specs", Body::Bytes(&bytes))
        .unwrap();
    assert_eq!(r["stored"], "S1");
    let mut bad = spec("S2");
    bad["QoS"]["availability"] = json!([1]);
    let bytes = serde_json::to_vec(&bad).unwrap();
    let (status, reason) = refused(c.call("POST", "/api/repo/specs", Body::Bytes(&bytes)));
    assert_eq!(status, 400);
    assert!(reason.contains("QoS.availability"), "{reason}");
    let (status, reason) = refused(c.call("POST", "/api/repo/specs", Body::Bytes(b"{not json")));
    assert_eq!(status, 400);
    assert!(reason.contains("spec"), "{reason}");
    let repo = c.get("/api/repo").unwrap();
    assert_eq!(repo["specs"].as_array().unwrap().len(), 1);

    // Bad bodies and paths.
    for (path, body, field) in [
        ("/api/scale", json!({"service": "S1"}), "replicas"),
        (
            "/api/scale",
            json!({"service": "S1", "replicas": 1.5}),
            "replicas",
        ),
        ("/api/deploy", json!({"service": ""}), "service"),
        (
            "/api/deploy",
            json!({"service": "S1", "node": "nobody"}),
            "node",
        ),
        ("/api/policy", json!({"name": 3}), "name"),
        ("/api/nodes", json!({"id": "n1", "key": "00"}), "key"),
        ("/api/nodes", json!({"id": "a/b", "key": "00"}), "id"),
        ("/api/deploy", json!([1]), "body"),
    ] {
        let (status, reason) = refused(c.post(path, &body));
        assert_eq!(status, 400, "{path} {body}: {reason}");
        assert!(reason.starts_with(field), "{path} {body}: {reason}");
    }
    let (status, reason) = refused(c.post("/api/scale", &json!({"service": "zz", "replicas": 1})));
    assert_eq!(
        (status, reason.starts_with("service")),
        (404, true),
        "{reason}"
    );
    assert_eq!(refused(c.get("/api/nothing")).0, 404);
    assert_eq!(refused(c.call("DELETE", "/api/status", Body::Empty)).0, 405);

    // Scale and deploy are kept as the operator's intent.
    c.post("/api/scale", &json!({"service": "S1", "replicas": "2"}))
        .unwrap();
    let services = c.get("/api/services").unwrap();
    assert_eq!(services[0]["operator"]["replicas"], 2, "{services}");
    assert_eq!(services[0]["bounds"]["min"], 2, "{services}");

    // Images: streamed in, listed, removed.
    let tar = archive(300_000);
    let want = hex::encode(Sha256::digest(&tar));
    let r = c
        .call(
            "PUT",
            "/api/repo/images/img?tag=t%2Fapi%3A1",
            Body::Bytes(&tar),
        )
        .unwrap();
    assert_eq!(r["sha256"], want.as_str(), "{r}");
    assert_eq!(r["size"], tar.len());
    let repo = c.get("/api/repo").unwrap();
    assert_eq!(repo["images"][0]["tag"], "t/api:1", "{repo}");
    assert_eq!(repo["specs"][0]["image"], true, "{repo}");
    let images_dir = tmp.path().join("repo/images");
    assert!(files(&images_dir).contains(&format!("{want}.tar")));
    // An upload cut half-way: no image, nothing left behind.
    let before = files(&images_dir);
    {
        let mut s = TcpStream::connect(o.endpoints().api).unwrap();
        write!(
            s,
            "PUT /api/repo/images/cut HTTP/1.1\r\nHost: x\r\nContent-Length: 500000\r\n\r\n"
        )
        .unwrap();
        s.write_all(&tar[..100_000]).unwrap();
        s.flush().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        s.shutdown(std::net::Shutdown::Both).unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    }
    let mut settled = false;
    for _ in 0..200 {
        if files(&images_dir) == before {
            settled = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(settled, "{:?} vs {before:?}", files(&images_dir));
    assert!(c.get("/api/repo").unwrap()["images"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["name"] != "cut"));
    c.call("DELETE", "/api/repo/images/img", Body::Empty)
        .unwrap();
    assert_eq!(
        refused(c.call("DELETE", "/api/repo/images/img", Body::Empty)).0,
        404
    );
    assert!(!files(&images_dir).contains(&format!("{want}.tar")));

    // Nodes and policy, then a restart.
    let key = picasso_agent::keys::KeyPair::generate();
    c.post("/api/nodes", &json!({"id": "n1", "key": key.public_hex()}))
        .unwrap();
    c.post("/api/policy", &json!({"name": "on-demand"}))
        .unwrap();
    let metrics = c.get_text("/metrics").unwrap();
    for family in [
        "picasso_orchestrator_ticks_total",
        "picasso_orchestrator_decisions_total{action=\"deploy\"}",
        "picasso_orchestrator_nodes{state=\"unreachable\"} 1",
        "picasso_orchestrator_commands_total{result=\"ok\"}",
        "picasso_orchestrator_qos_met{service=\"S1\"} 0",
    ] {
        assert!(metrics.contains(family), "{family} missing:\n{metrics}");
    }
    rt.block_on(o.shutdown());
    let (o, c) = start(&rt, tmp.path());
    let st = c.get("/api/status").unwrap();
    assert_eq!(st["policy"], "on-demand");
    assert_eq!(st["nodes"][0]["id"], "n1");
    assert_eq!(st["nodes"][0]["key"], key.public_hex().as_str());
    assert_eq!(st["services"][0]["operator"]["replicas"], 2);
    // Removing the service forgets the operator's intent.
    c.call("DELETE", "/api/repo/S1", Body::Empty).unwrap();
    assert_eq!(
        refused(c.call("DELETE", "/api/repo/S1", Body::Empty)).0,
        404
    );
    assert!(c
        .get("/api/services")
        .unwrap()
        .as_array()
        .unwrap()
        .is_empty());
    rt.block_on(o.shutdown());
}
