//! Service execution against the real Docker engine: the busybox httpd
//! archive is published under `/picasso/repo/image/busybox-httpd` with a
//! signed manifest on an in-process forwarder, the image is removed from
//! the engine, and a signed deploy command makes the node fetch (first
//! interrupted, then resumed), load, create, start and probe it; the page
//! is then fetched from the mapped port byte for byte, and stop/remove
//! leave no container. A guard removes the node's containers whatever
//! happens.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use picasso_agent::exec::{signed_command, Exec, ExecConfig, ReplicaRegistry};
use picasso_agent::gateway::ReplicaEndpoint;
use picasso_agent::image_repo::{ImageFetchOptions, ImagePublisher, SEGMENT_SIZE};
use picasso_agent::images::{self, HostFiles, ServiceImage};
use picasso_agent::runtime::docker::DockerRuntime;
use picasso_agent::runtime::{Runtime, RuntimeError, LABEL_NODE};
use picasso_forwarder::app::Client;
use picasso_forwarder::face::in_process;
use picasso_forwarder::runtime;
use picasso_tlv::{Interest, Name, Signer};
use serde_json::{json, Value};

use common::Cleanup;

struct NoGateway;
impl ReplicaRegistry for NoGateway {
    fn add_replica(&self, _: &str, _: ReplicaEndpoint) {}
    fn remove_replica(&self, _: &str, _: &str) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_deploy_fetches_loads_and_runs_busybox() -> anyhow::Result<()> {
    let docker = Arc::new(DockerRuntime::connect_default().await?);
    let image = ServiceImage::BusyboxHttpd;
    let host = HostFiles::debian(common::static_httpd()?);
    let built = images::build(
        &docker,
        image,
        &host,
        &common::workspace().join("target/images-test"),
        false,
    )
    .await?;
    match docker.remove_image(image.tag()).await {
        Ok(()) | Err(RuntimeError::NoSuchImage { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    assert!(!docker.has_image(image.tag()).await?);

    let node = format!("exec-docker-{}", std::process::id());
    let _cleanup = Cleanup::new(LABEL_NODE, &node);
    let root = Name::from_uri("/picasso")?;
    let (fwd, _) = runtime::spawn(Default::default());
    let agent = Client::from_app_face(in_process::connect(&fwd).await?);
    let orchestrator = Client::from_app_face(in_process::connect(&fwd).await?);
    let key_name = Name::from_uri("/picasso/KEY/orchestrator")?;
    let key = Signer::ed25519_generate(key_name.clone());

    // The repo: publishes the archive, but serves segments only below
    // `limit` (the first fetch is interrupted there).
    let publisher = Arc::new(ImagePublisher::from_file(
        &root,
        image.name(),
        Some(image.tag()),
        &built.archive,
        1,
        SEGMENT_SIZE,
        &key,
    )?);
    let segments = publisher.manifest().segments;
    let limit = Arc::new(AtomicU64::new(segments / 2));
    let (p, l) = (publisher.clone(), limit.clone());
    orchestrator
        .register(publisher.prefix().clone(), move |i: Interest| {
            let seg = i.name().last().and_then(|c| c.as_segment());
            let d = match seg {
                Some(n) if n >= l.load(Ordering::SeqCst) => None,
                _ => p.answer(&i),
            };
            async move { d }
        })
        .await?;

    let data_dir = common::workspace().join(format!("target/exec-docker-{}", std::process::id()));
    let mut config = ExecConfig::new(&node, key.verifier(), data_dir.clone());
    config.orchestrator_key_name = Some(key_name);
    config.probe_timeout = Duration::from_secs(15);
    config.fetch = ImageFetchOptions {
        lifetime: Duration::from_millis(300),
        max_retries: 2,
        ..ImageFetchOptions::default()
    };
    let exec = Exec::new(config, docker.clone(), agent.clone(), Arc::new(NoGateway));
    exec.serve(&agent).await?;

    let port = common::free_port()?;
    let service = format!("bb{}", std::process::id());
    let descriptor = json!({
        "imageName": image.name(), "serviceName": service, "port_host": port.to_string(),
        "port_container": "80", "cpu": "0.5", "memory": "64m", "healthPath": "/index.html"
    });
    let send = |verb: &str, params: &Value| {
        let i = signed_command(
            &root,
            &node,
            verb,
            params.to_string().as_bytes(),
            &key,
            Duration::from_secs(60),
        );
        let c = orchestrator.clone();
        async move {
            let d = c.express(i).await.context("no reply")?;
            anyhow::Ok(serde_json::from_slice::<Value>(&d.content())?)
        }
    };

    // First deploy: the repo stops half-way, the fetch fails, nothing runs.
    let r = send("deploy", &descriptor).await?;
    assert_eq!(r["error"], "failed", "{r}");
    assert_eq!(r["step"], "fetch", "{r}");
    assert!(!docker.has_image(image.tag()).await?);
    let filter = BTreeMap::from([(LABEL_NODE.to_owned(), node.clone())]);
    assert!(docker.list(&filter).await?.is_empty());

    // The repo recovers: the deploy resumes the fetch and runs the image.
    limit.store(u64::MAX, Ordering::SeqCst);
    let r = send("deploy", &descriptor).await?;
    assert!(r["containerId"].is_string(), "{r}");
    assert_eq!(r["imageSource"], "repo", "{r}");
    assert_eq!(r["image"], image.tag(), "{r}");
    let resumed = r["fetch"]["resumedFrom"].as_u64().context("resumedFrom")?;
    let fetched = r["fetch"]["segmentsFetched"]
        .as_u64()
        .context("segmentsFetched")?;
    assert!(
        resumed >= segments / 4,
        "resumed from {resumed} of {segments}"
    );
    assert_eq!(resumed + fetched, segments, "{r}");
    let id = r["containerId"].as_str().unwrap_or_default().to_owned();
    let page = tokio::task::spawn_blocking(move || common::get(port, "/index.html")).await??;
    assert_eq!(page.status, 200);
    assert_eq!(page.body, images::page_html().as_bytes());
    eprintln!(
        "deploy of {} ({} bytes, {segments} segments, resumed at {resumed}): {}",
        image.tag(),
        built.size,
        r["timings"]
    );

    // Idempotent, then stop and remove leave nothing.
    let again = send("deploy", &descriptor).await?;
    assert_eq!(again["containerId"], id.as_str(), "{again}");
    assert_eq!(docker.list(&filter).await?.len(), 1);
    let l = send("list", &json!({})).await?;
    assert_eq!(l["containers"][0]["id"], id.as_str(), "{l}");
    let s = send("stop", &json!({"serviceName": service})).await?;
    assert_eq!(s["stopped"], json!([id]), "{s}");
    let rm = send("remove", &json!({"serviceName": service})).await?;
    assert_eq!(rm["removed"], json!([id]), "{rm}");
    assert!(docker.list(&filter).await?.is_empty(), "orphans left");
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(())
}
