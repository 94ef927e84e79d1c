//! The monitoring manager's CPU cost with 1,000 simulated nodes polled
//! every second for 10 s.
//!
//! The forwarder and one producer answering every
//! `/picasso/node/<id>/monitor` with pre-signed Data (a distinct Ed25519
//! key per node) run on a runtime of their own; the manager and its client
//! run on a current-thread runtime on a dedicated thread, so that thread's
//! CPU time (`/proc/thread-self/schedstat`) is the manager's own work:
//! Interests, Data decoding, one Ed25519 verification and one JSON parse
//! per node per second, the round's bookkeeping.
//!
//! Release figure: `cargo test --release -p picasso-orchestrator --test
//! monitoring_cpu -- --nocapture` (asserts < 25% of one core). Debug builds
//! print the figure and assert a loose bound (unoptimised Ed25519 and JSON
//! are many times slower).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use picasso_agent::keys::KeyPair;
use picasso_agent::monitor::schema::MonitorReport;
use picasso_agent::monitor::{key_name, monitor_name, Packets};
use picasso_forwarder::app::Client;
use picasso_forwarder::face::in_process;
use picasso_forwarder::runtime;
use picasso_orchestrator::monitoring::{MonitoringConfig, MonitoringManager};
use picasso_tlv::{Data, Interest, Name};

const NODES: usize = 1000;
const SECONDS: u64 = 10;

const REPORT: &str = r#"{ "softResources": {"OS": "Linux"},
  "hardResources": {"mem": "1 GB", "disk": "16 GB", "cpu": "x"},
  "resourceUsage": {"cpuLoad": "9", "memUsage": "9", "cpuUsage": "9"},
  "PiID": "n1", "PiIP": "10.0.0.1", "schema": 1, "runtime": "docker",
  "containers": [
    {"status": "Up 1 minute", "port_host": "8002", "memUsage": "1000", "name": "/picasso-n1-S1-2",
     "port_container": "80", "cpuUsage": "5", "image": "picasso/nginx:1", "id": "c2",
     "state": "running", "cpuPercent": 91.5, "service": "S1"}],
  "node": {"cpu_percent": 62.5, "load_average": [3.5, 2, 1], "mem_percent": 40,
           "mem_total_bytes": 1000000, "cpu_cores": 4},
  "services": [{"service": "S1", "replicas": 1, "requests_per_sec": 200, "in_flight": 30,
                "success_rate": 0.99, "latency_p50_ms": 250, "latency_p95_ms": 900}] }"#;

/// CPU time this thread has run, from `/proc/thread-self/schedstat`.
fn thread_cpu() -> Duration {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    let ns: u64 = s.split_whitespace().next().unwrap().parse().unwrap();
    Duration::from_nanos(ns)
}

#[test]
fn cpu_cost_of_1000_nodes_at_1s() {
    let root = Name::from_uri("/picasso").unwrap();
    let ids: Vec<String> = (0..NODES).map(|i| format!("n{i}")).collect();
    let keys: Vec<KeyPair> = ids.iter().map(|_| KeyPair::generate()).collect();
    // One pre-signed report per node, FreshnessPeriod = the interval.
    let data: HashMap<String, Data> = ids
        .iter()
        .zip(&keys)
        .map(|(id, k)| {
            let mut r = MonitorReport::from_json(REPORT.as_bytes()).unwrap();
            r.pi_id = id.clone();
            let p = Packets::new(
                &monitor_name(&root, id),
                1,
                &r.to_json(),
                Duration::from_secs(1),
                7000,
                &k.signer(key_name(&root, id)),
            );
            (id.clone(), p.segments[0].clone())
        })
        .collect();
    let data = Arc::new(data);

    let net = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (h, manager_face, _producer) = net.block_on(async {
        let (h, _) = runtime::spawn(Default::default());
        let producer = Client::from_app_face(in_process::connect(&h).await.unwrap());
        let d = data.clone();
        producer
            .register(root.append_str("node"), move |i: Interest| {
                let id = i
                    .name()
                    .get(2)
                    .map(|c| String::from_utf8_lossy(c.value()).into_owned());
                let answer = id.and_then(|id| d.get(&id).cloned());
                async move { answer }
            })
            .await
            .unwrap();
        let face = in_process::connect(&h).await.unwrap();
        (h, face, producer)
    });

    let verifiers: Vec<_> = keys.iter().map(KeyPair::verifier).collect();
    let ids2 = ids.clone();
    let (cpu, wall, counters, reachable) = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let m = MonitoringManager::start(
                Client::from_app_face(manager_face),
                MonitoringConfig {
                    concurrency: NODES,
                    ..MonitoringConfig::default()
                },
            );
            for (id, v) in ids2.iter().zip(verifiers) {
                m.enroll(id, v).unwrap();
            }
            let (cpu0, t0) = (thread_cpu(), Instant::now());
            tokio::time::sleep(Duration::from_secs(SECONDS)).await;
            let (cpu, wall) = (thread_cpu() - cpu0, t0.elapsed());
            let reachable = m.view().reachable().count();
            (cpu, wall, m.counters(), reachable)
        })
    })
    .join()
    .unwrap();
    drop(h);

    let share = cpu.as_secs_f64() / wall.as_secs_f64();
    println!(
        "monitoring {NODES} nodes at 1 s for {wall:?}: manager thread CPU {cpu:?} = {:.1}% of one core; \
         {} rounds, {} polls, {} answered, {} timeouts, {} forged, {} malformed; {reachable} reachable",
        share * 100.0,
        counters.rounds,
        counters.polls,
        counters.answered,
        counters.timeouts,
        counters.forged,
        counters.malformed,
    );
    assert_eq!(counters.forged + counters.malformed, 0, "{counters:?}");
    let bound = if cfg!(debug_assertions) { 3.0 } else { 0.25 };
    assert!(share < bound, "{:.1}% of one core", share * 100.0);
    if !cfg!(debug_assertions) {
        // Optimised, every round completes and every node answers.
        assert!(counters.rounds >= SECONDS, "{counters:?}");
        assert_eq!(reachable, NODES);
        assert!(
            counters.answered as f64 >= 0.95 * counters.polls as f64,
            "{counters:?}"
        );
    }
}
