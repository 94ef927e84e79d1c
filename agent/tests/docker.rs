//! The Docker runtime against the real engine (scripts/deps.sh makes sure
//! one answers): build each paper image, load its archive, run it on a
//! 127.0.0.1 port, fetch the page and picture, stats, list, stop, remove.
//! Containers carry a per-test label and a guard removes them even when a
//! test fails.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use picasso_agent::images::{self, HostFiles, ServiceImage};
use picasso_agent::runtime::docker::DockerRuntime;
use picasso_agent::runtime::{
    detect_at, managed_labels, ContainerSpec, ContainerState, Runtime, RuntimeError, RuntimeKind,
    Step,
};

use common::{Cleanup, TEST_LABEL};

fn images_dir() -> PathBuf {
    common::workspace().join("target/images-test")
}

async fn roundtrip(image: ServiceImage) -> anyhow::Result<()> {
    let docker = DockerRuntime::connect_default().await?;
    let host = HostFiles::debian(common::static_httpd()?);

    let t = Instant::now();
    let built = images::build(&docker, image, &host, &images_dir(), false).await?;
    let build_time = t.elapsed();
    assert!(built.size > 80_000, "archive of {} bytes", built.size);

    // Load from the archive into an engine that does not have the image.
    match docker.remove_image(image.tag()).await {
        Ok(()) | Err(RuntimeError::NoSuchImage { .. } | RuntimeError::NoSuchContainer { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    assert!(!docker.has_image(image.tag()).await?);
    let t = Instant::now();
    let loaded = docker.load_image(&built.archive).await?;
    let load_time = t.elapsed();
    assert_eq!(loaded.tags, vec![image.tag().to_owned()]);
    assert!(loaded.id.starts_with("sha256:"), "{}", loaded.id);
    assert!(docker.has_image(image.tag()).await?);

    let run = format!("{}-{}", std::process::id(), image.name());
    let _cleanup = Cleanup::new(TEST_LABEL, &run);
    let port = common::free_port()?;
    let mut labels = managed_labels(image.name(), 1, "test-node");
    labels.insert(TEST_LABEL.to_owned(), run.clone());
    let spec = ContainerSpec {
        name: format!("picasso-test-{run}"),
        image: image.tag().to_owned(),
        host_ip: "127.0.0.1".to_owned(),
        port_host: Some(port),
        port_container: Some(80),
        cpu_limit: Some(0.5),
        memory_limit: Some(64 << 20),
        labels,
        ..Default::default()
    };
    let t = Instant::now();
    let id = docker.create(&spec).await?;
    let create_time = t.elapsed();
    let t = Instant::now();
    docker.start(&id).await?;
    let start_time = t.elapsed();

    let t = Instant::now();
    let page = tokio::task::spawn_blocking(move || {
        common::get_when_up(port, "/index.html", Duration::from_secs(10))
    })
    .await??;
    let first_answer = t.elapsed();
    assert_eq!(page.status, 200);
    assert_eq!(page.body, images::page_html().as_bytes());
    let picture = tokio::task::spawn_blocking(move || common::get(port, "/image.jpg")).await??;
    assert_eq!(picture.status, 200);
    assert_eq!(picture.header("content-type"), Some("image/jpeg"));
    assert_eq!(picture.body, images::page_jpeg()?);

    let stats = docker.stats(&id).await?;
    assert!(stats.memory_bytes > 0, "{stats:?}");
    assert!(stats.cpu_total_ns > 0, "{stats:?}");
    assert_eq!(stats.cpu_percent, None, "first sample has no previous one");
    let stats = docker.stats(&id).await?;
    assert!(stats.cpu_percent.is_some(), "{stats:?}");

    let filter = BTreeMap::from([(TEST_LABEL.to_owned(), run.clone())]);
    let listed = docker.list(&filter).await?;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let info = &listed[0];
    assert_eq!(info.id, id);
    assert_eq!(info.name, spec.name);
    assert_eq!(info.image, image.tag());
    assert_eq!(info.state, ContainerState::Running);
    assert!(info.status.starts_with("Up "), "{}", info.status);
    assert_eq!(info.port_host, Some(port));
    assert_eq!(info.port_container, Some(80));
    assert_eq!(info.labels["managed-by"], "picasso");
    assert_eq!(info.labels["picasso.service"], image.name());

    let t = Instant::now();
    docker.stop(&id, Duration::from_secs(5)).await?;
    let stop_time = t.elapsed();
    let listed = docker.list(&filter).await?;
    assert_eq!(listed[0].state, ContainerState::Exited);
    assert!(
        listed[0].status.starts_with("Exited ("),
        "{}",
        listed[0].status
    );
    // Stopping again is not an error.
    docker.stop(&id, Duration::from_secs(1)).await?;
    docker.remove(&id, false).await?;
    assert!(docker.list(&filter).await?.is_empty(), "orphans left");
    let err = docker.start(&id).await.unwrap_err();
    assert!(matches!(err, RuntimeError::NoSuchContainer { .. }), "{err}");

    eprintln!(
        "{}: archive {} bytes ({}), build {:.2} s, load {:.2} s, create {:.3} s, start {:.3} s, first answer {:.3} s, stop {:.3} s, memory {} bytes",
        image.tag(),
        built.size,
        if built.rebuilt { "built" } else { "up to date" },
        build_time.as_secs_f64(),
        load_time.as_secs_f64(),
        create_time.as_secs_f64(),
        start_time.as_secs_f64(),
        first_answer.as_secs_f64(),
        stop_time.as_secs_f64(),
        stats.memory_bytes,
    );
    Ok(())
}

#[tokio::test]
async fn busybox_httpd_image_serves_the_page() -> anyhow::Result<()> {
    roundtrip(ServiceImage::BusyboxHttpd).await
}

#[tokio::test]
async fn nginx_image_serves_the_page() -> anyhow::Result<()> {
    roundtrip(ServiceImage::Nginx).await
}

#[tokio::test]
async fn tinyhttpd_image_serves_the_page() -> anyhow::Result<()> {
    roundtrip(ServiceImage::TinyHttpd).await
}

#[tokio::test]
async fn a_bad_archive_fails_at_the_load_step() -> anyhow::Result<()> {
    let docker = DockerRuntime::connect_default().await?;
    let dir = common::workspace().join("target/images-test");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("bad-{}.tar", std::process::id()));
    std::fs::write(&path, b"not a docker save archive, just bytes".repeat(100))?;
    let result = docker.load_image(&path).await;
    std::fs::remove_file(&path)?;
    let err = result.expect_err("garbage loaded as an image");
    assert_eq!(err.step(), Some(Step::LoadImage), "{err}");
    assert!(err.to_string().starts_with("load image "), "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    let missing = docker
        .load_image(&dir.join("no-such.tar"))
        .await
        .unwrap_err();
    assert_eq!(missing.step(), Some(Step::LoadImage), "{missing}");
    Ok(())
}

#[tokio::test]
async fn the_api_version_is_negotiated() -> anyhow::Result<()> {
    let docker = DockerRuntime::connect_default().await?;
    let v = docker.version().await?;
    eprintln!(
        "docker {} engine API {} negotiated {}",
        v.version, v.engine_api, v.negotiated_api
    );
    assert_eq!(v.kind, RuntimeKind::Docker);
    let parse = |s: &str| -> anyhow::Result<(u32, u32)> {
        let (a, b) = s.split_once('.').context("no dot")?;
        Ok((a.parse()?, b.parse()?))
    };
    let engine = parse(&v.engine_api)?;
    let negotiated = parse(&v.negotiated_api)?;
    let client = (
        bollard::API_DEFAULT_VERSION.major_version as u32,
        bollard::API_DEFAULT_VERSION.minor_version as u32,
    );
    assert_eq!(negotiated, engine.min(client));
    Ok(())
}

#[tokio::test]
async fn an_unreachable_engine_is_named() {
    let err = DockerRuntime::connect("unix:///nonexistent/docker.sock")
        .await
        .unwrap_err();
    assert!(matches!(err, RuntimeError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("docker engine unreachable at unix:///nonexistent/docker.sock"),
        "{err}"
    );
    // Nothing listens on TCP port 1 of loopback.
    let err = DockerRuntime::connect("tcp://127.0.0.1:1")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("docker engine unreachable at tcp://127.0.0.1:1"),
        "{err}"
    );
}

#[tokio::test]
async fn detect_prefers_docker_and_falls_back_to_processes() {
    let rt: Arc<dyn Runtime> = detect_at("unix:///var/run/docker.sock").await;
    assert_eq!(rt.kind(), RuntimeKind::Docker);
    let rt = detect_at("unix:///nonexistent/docker.sock").await;
    assert_eq!(rt.kind(), RuntimeKind::Process);
}

/// The node's cgroup parent (what the test bed caps, e.g. 0.4 CPU per
/// emulated Pi) holds its Docker containers and its process replicas
/// alike, whatever the engine's cgroup driver.
#[tokio::test]
async fn the_cgroup_parent_holds_containers_and_process_replicas() -> anyhow::Result<()> {
    use picasso_agent::runtime::process::ProcessRuntime;
    let docker = DockerRuntime::connect_default().await?;
    let host = HostFiles::debian(common::static_httpd()?);
    let image = ServiceImage::TinyHttpd;
    let built = images::build(&docker, image, &host, &images_dir(), false).await?;
    if !docker.has_image(image.tag()).await? {
        docker.load_image(&built.archive).await?;
    }
    let engine = bollard::Docker::connect_with_local_defaults()?
        .negotiate_version()
        .await?;
    let info = engine.info().await?;
    let driver = info
        .cgroup_driver
        .map(|d| format!("{d:?}"))
        .unwrap_or_default();
    let run = format!("{}-cg", std::process::id());
    // systemd's driver takes slices; cgroupfs an absolute path.
    let (parent, in_path) = if driver.to_lowercase().contains("systemd") {
        let s = format!("picasso-test-{}.slice", std::process::id());
        (s.clone(), s)
    } else {
        let p = format!("picasso-test-{}", std::process::id());
        (format!("/{p}"), format!("/{p}/"))
    };
    eprintln!(
        "engine cgroup driver {driver}, version {:?}; parent {parent}",
        info.cgroup_version
    );
    let _cleanup = Cleanup::new(TEST_LABEL, &run);
    let mut labels = managed_labels("cg", 1, "test-node");
    labels.insert(TEST_LABEL.to_owned(), run.clone());
    let spec = ContainerSpec {
        name: format!("picasso-test-{run}"),
        image: image.tag().to_owned(),
        host_ip: "127.0.0.1".to_owned(),
        port_host: Some(common::free_port()?),
        port_container: Some(80),
        cpu_limit: Some(0.4),
        memory_limit: Some(64 << 20),
        labels,
        cgroup_parent: Some(parent.clone()),
        ..Default::default()
    };
    let id = docker.create(&spec).await?;
    docker.start(&id).await?;
    let inspected = engine.inspect_container(&id.0, None).await?;
    let pid = inspected
        .state
        .and_then(|s| s.pid)
        .context("a running container has a pid")?;
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    assert!(cgroups.contains(&in_path), "{cgroups}");

    // A process replica under the same parent lands beside it.
    let procs = ProcessRuntime::new();
    let mut pspec = ContainerSpec {
        name: format!("picasso-test-{run}-p"),
        image: "none".to_owned(),
        command: vec!["sleep".into(), "30".into()],
        cpu_limit: Some(0.2),
        memory_limit: Some(32 << 20),
        cgroup_parent: Some(parent.clone()),
        ..Default::default()
    };
    pspec.labels = managed_labels("cg", 2, "test-node");
    let pid_p = procs.create(&pspec).await?;
    procs.start(&pid_p).await?;
    let listed = procs.list(&BTreeMap::new()).await?;
    let how = &listed[0].labels[picasso_agent::runtime::process::LABEL_LIMITS];
    eprintln!("process replica limits: {how}");
    if procs.cgroups().is_some() && !driver.to_lowercase().contains("systemd") {
        assert!(how.starts_with("cgroup-v"), "{how}");
        assert!(how.contains(&in_path), "{how}");
    }
    procs.remove(&pid_p, true).await?;
    docker.remove(&id, true).await?;
    // The parent the engine made (cgroupfs) goes once empty.
    if let Some(h) = procs.cgroups() {
        let rel = parent.trim_start_matches('/');
        let dirs = match h {
            picasso_agent::runtime::process::limits::Hierarchy::V2 { root } => vec![root.join(rel)],
            picasso_agent::runtime::process::limits::Hierarchy::V1 { .. } => {
                std::fs::read_dir("/sys/fs/cgroup")?
                    .filter_map(Result::ok)
                    .map(|e| e.path().join(rel))
                    .collect()
            }
        };
        for d in dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
    Ok(())
}
