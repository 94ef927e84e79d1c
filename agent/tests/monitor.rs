//! The monitoring agent against the real Docker engine (scripts/deps.sh
//! makes sure one answers), in-process through [`Node::start`]:
//!
//! - a running busybox-httpd container appears in `containers` with its
//!   status, ports, memory and, from its second sample on, a CPU %;
//!   `/metrics` carries its gauges; a guard removes the container even
//!   when the test fails;
//! - the CPU cost of sampling, measured with `getrusage(RUSAGE_THREAD)`
//!   over 60 samples on a current-thread runtime (so the figure is the
//!   sampler's own work, Docker round trips included) and scaled to one
//!   sample per second: it must stay under 1% of one core.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context};
use picasso_agent::images::{self, HostFiles, ServiceImage};
use picasso_agent::monitor::schema::MonitorReport;
use picasso_agent::monitor::{MonitorConfig, Sampler};
use picasso_agent::node::{Node, NodeConfig};
use picasso_agent::runtime::docker::DockerRuntime;
use picasso_agent::runtime::{managed_labels, ContainerSpec, Runtime};
use picasso_forwarder::app::{Client, FaceAddr};
use picasso_tlv::{Interest, Name};

use common::{Cleanup, TEST_LABEL};

/// Makes sure the busybox-httpd image is in the engine (built when not).
async fn ensure_image(docker: &DockerRuntime) -> anyhow::Result<()> {
    let image = ServiceImage::BusyboxHttpd;
    if docker.has_image(image.tag()).await? {
        return Ok(());
    }
    let host = HostFiles::debian(common::static_httpd()?);
    let out = common::workspace().join("target/images-test");
    let built = images::build(docker, image, &host, &out, false).await?;
    if !docker.has_image(image.tag()).await? {
        docker.load_image(&built.archive).await?;
    }
    Ok(())
}

async fn fetch(client: &Client, name: &Name) -> anyhow::Result<MonitorReport> {
    let d = client
        .express(
            Interest::new(name.clone())
                .with_can_be_prefix(true)
                .with_must_be_fresh(true)
                .with_lifetime_ms(4000),
        )
        .await?;
    Ok(MonitorReport::from_json(&d.content())?)
}

#[tokio::test]
async fn a_container_appears_with_status_ports_memory_and_cpu_percent() -> anyhow::Result<()> {
    let docker = DockerRuntime::connect_default().await?;
    ensure_image(&docker).await?;
    let image = ServiceImage::BusyboxHttpd;
    let run = format!("{}-monitor", std::process::id());
    let _cleanup = Cleanup::new(TEST_LABEL, &run);
    let port = common::free_port()?;
    let mut labels = managed_labels(image.name(), 1, "mon-node");
    labels.insert(TEST_LABEL.to_owned(), run.clone());
    let spec = ContainerSpec {
        name: format!("picasso-test-{run}"),
        image: image.tag().to_owned(),
        host_ip: "127.0.0.1".to_owned(),
        port_host: Some(port),
        port_container: Some(80),
        memory_limit: Some(64 << 20),
        labels,
        ..Default::default()
    };
    let id = docker.create(&spec).await?;
    docker.start(&id).await?;
    tokio::task::spawn_blocking(move || {
        common::get_when_up(port, "/index.html", Duration::from_secs(10))
    })
    .await??;

    let dir = tempfile::tempdir()?;
    let sock = dir.path().join("fwd.sock");
    let mut config = NodeConfig {
        id: "mon-node".to_owned(),
        data_dir: dir.path().to_path_buf(),
        http: String::new(),
        metrics: "127.0.0.1:0".to_owned(),
        runtime: "docker".to_owned(),
        ..NodeConfig::default()
    };
    config.monitor.interval_ms = 500;
    config.forwarder.unix = sock.display().to_string();
    config.forwarder.tcp = String::new();
    config.forwarder.udp = String::new();
    let node = Node::start(&config).await?;
    let client = Client::connect(&FaceAddr::Unix(sock.clone())).await?;
    let name = node.monitor_name();

    // Wait for a few samples so the container has a CPU % (it needs a
    // previous stats reading).
    let mut updates = node.monitor().updates();
    while *updates.borrow_and_update() < 3 {
        tokio::time::timeout(Duration::from_secs(5), updates.changed()).await??;
    }
    let report = fetch(&client, &name).await?;
    let c = report
        .containers
        .iter()
        .find(|c| c.id == id.0)
        .with_context(|| format!("container {id} missing from {:?}", report.containers))?;
    ensure!(c.status.starts_with("Up "), "{}", c.status);
    ensure!(c.state == "running", "{}", c.state);
    ensure!(c.name == format!("/{}", spec.name), "{}", c.name);
    ensure!(c.image == image.tag(), "{}", c.image);
    ensure!(c.port_host == port.to_string(), "{}", c.port_host);
    ensure!(c.port_container == "80", "{}", c.port_container);
    ensure!(c.mem_bytes().is_some_and(|m| m > 0), "{}", c.mem_usage);
    ensure!(c.cpu_total_ns().is_some_and(|n| n > 0), "{}", c.cpu_usage);
    let pct = c.cpu_percent.context("no CPU % on a later sample")?;
    ensure!(
        (0.0..=100.0 * report.node.cpu_cores as f64).contains(&pct),
        "{pct}"
    );
    ensure!(
        c.service.as_deref() == Some(image.name()),
        "{:?}",
        c.service
    );
    ensure!(report.runtime == "docker");

    let metrics = node.endpoints().metrics.context("no metrics address")?;
    let body = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(metrics)?;
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
        let mut t = String::new();
        s.read_to_string(&mut t)?;
        Ok(t)
    })
    .await??;
    let needle = format!("picasso_container_memory_bytes{{node=\"mon-node\",id=\"{id}\"");
    ensure!(body.contains(&needle), "{body}");
    ensure!(
        body.contains("picasso_container_cpu_usage_percent{"),
        "{body}"
    );
    eprintln!(
        "container {} in the report: status {:?}, memory {} bytes, cpu {:.3}%",
        c.bare_name(),
        c.status,
        c.mem_usage,
        pct
    );
    node.shutdown().await;
    ensure!(!sock.exists(), "socket file left behind");
    docker.remove(&id, true).await?;
    Ok(())
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    use nix::sys::resource::{getrusage, UsageWho};
    let u = getrusage(UsageWho::RUSAGE_THREAD).expect("getrusage");
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    tv(u.user_time()) + tv(u.system_time())
}

#[test]
fn sampling_costs_under_one_percent_of_a_core_at_one_per_second() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let runtime: Arc<dyn Runtime> = picasso_agent::runtime::detect().await;
        let config = MonitorConfig {
            ip: Some("127.0.0.1".to_owned()),
            // Every container of the engine, the heavier case.
            container_labels: BTreeMap::new(),
            ..MonitorConfig::new("cost")
        };
        let mut sampler = Sampler::new(config, runtime.clone(), None);
        let warm = sampler.sample().await;
        const SAMPLES: u32 = 60;
        let before = thread_cpu();
        let mut wall = Duration::ZERO;
        for _ in 0..SAMPLES {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let t = std::time::Instant::now();
            let r = sampler.sample().await;
            wall += t.elapsed();
            ensure!(r.node.mem_total_bytes > 0);
        }
        let cpu = thread_cpu() - before;
        let per_sample = cpu / SAMPLES;
        let percent_at_1s = per_sample.as_secs_f64() * 100.0;
        eprintln!(
            "sampling cost ({} runtime, {} containers, {} build): {:.0} µs CPU per sample \
             ({:.0} µs wall), {:.3}% of one core at one sample per second",
            runtime.kind(),
            warm.containers.len(),
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            per_sample.as_secs_f64() * 1e6,
            (wall / SAMPLES).as_secs_f64() * 1e6,
            percent_at_1s
        );
        ensure!(percent_at_1s < 1.0, "{percent_at_1s:.3}% of a core");
        Ok(())
    })
}
