//! `picasso orchestrator` with a `picasso node --runtime docker` on the
//! real Docker engine, end to end on 127.0.0.1: the busybox-httpd image is
//! built with `picasso images build`, uploaded with `repo add --image`
//! under a repo name the engine does not know (so the node must fetch it
//! from the orchestrator by name, segment by segment, and load it), then
//! `deploy` runs it: the node's HTTP ingress answers with the image's
//! page, the orchestrator lists the replica and the fetch bandwidth it
//! measured. `repo remove` then removes the container from the engine.
//!
//! A guard removes every container labelled with the test node's id,
//! whatever happens.

#![forbid(unsafe_code)]

#[path = "support/fwd.rs"]
mod fwd;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{ensure, Context};
use fwd::{run, wait_until, Proc};
use picasso_agent::images::page_html;
use picasso_agent::runtime::docker::DockerRuntime;
use picasso_agent::runtime::{Runtime, LABEL_NODE};
use serde_json::{json, Value};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const DOCKER_SOCKET: &str = "/var/run/docker.sock";
const LONG: Duration = Duration::from_secs(120);

/// Removes every container of node `node` when dropped.
struct Cleanup {
    node: String,
}

fn node_containers(node: &str) -> anyhow::Result<usize> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let docker = DockerRuntime::connect(DOCKER_SOCKET).await?;
        let filter = BTreeMap::from([(LABEL_NODE.to_owned(), node.to_owned())]);
        Ok(docker.list(&filter).await?.len())
    })
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let node = self.node.clone();
        // Drop may run inside no runtime: a thread with its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let Ok(docker) = DockerRuntime::connect(DOCKER_SOCKET).await else {
                    return;
                };
                let filter = BTreeMap::from([(LABEL_NODE.to_owned(), node)]);
                for c in docker.list(&filter).await.unwrap_or_default() {
                    let _ = docker.remove(&c.id, true).await;
                }
            })
        })
        .join();
    }
}

fn field(line: &str, k: &str) -> anyhow::Result<String> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(k))
        .map(str::to_owned)
        .with_context(|| format!("no {k} in {line:?}"))
}

fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let (head, body) = text.split_once("\r\n\r\n").context("no header end")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .context("no status")?
        .parse()?;
    Ok((status, body.to_owned()))
}

fn cli(api: &str, args: &[&str]) -> anyhow::Result<String> {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--api", api]);
    Ok(String::from_utf8(run(&all, Duration::from_secs(120))?)?)
}

/// A base port with a free block of 64 ports above it, below the kernel's
/// ephemeral range (32768–60999 here): Docker binds these ports later, and
/// one handed out by bind(0) may meanwhile go to another test's connection.
fn free_port_base() -> anyhow::Result<u16> {
    let seed = std::process::id() as u16;
    for k in 0..300u16 {
        let base = 20_000 + ((seed.wrapping_add(k * 7)) % 120) * 100;
        if (0..64).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return Ok(base);
        }
    }
    anyhow::bail!("no free block of 64 ports")
}

#[test]
fn orchestrator_deploys_a_repo_image_on_docker() -> anyhow::Result<()> {
    // The image, as `picasso images build` makes it.
    let out = Path::new(ROOT).join("target/images-test");
    run(
        &[
            "images",
            "build",
            "--only",
            "busybox-httpd",
            "--out",
            &out.display().to_string(),
        ],
        Duration::from_secs(300),
    )?;
    let archive = out.join("busybox-httpd.tar");
    ensure!(archive.is_file(), "no archive at {}", archive.display());

    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let node_id = format!("orchd{}", std::process::id());
    let _cleanup = Cleanup {
        node: node_id.clone(),
    };
    let s = |p: PathBuf| p.display().to_string();
    run(
        &["keygen", "--out", &s(dir.join("orch.key"))],
        Duration::from_secs(10),
    )?;
    run(
        &["keygen", "--out", &s(dir.join("node.key"))],
        Duration::from_secs(10),
    )?;
    let config = dir.join("orch.toml");
    std::fs::write(&config, format!("port-base = {}\n", free_port_base()?))?;
    let orch_udp = UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port();
    let enroll = format!("{node_id}={}", s(dir.join("node.key.pub")));
    let udp = format!("127.0.0.1:{orch_udp}");
    let mut orch = Proc::start(
        &[
            "orchestrator",
            "--config",
            &s(config),
            "--data-dir",
            &s(dir.join("orch")),
            "--key",
            &s(dir.join("orch.key")),
            "--api",
            "127.0.0.1:0",
            "--fwd-unix",
            &s(dir.join("orch.sock")),
            "--fwd-tcp",
            "",
            "--fwd-udp",
            &udp,
            "--tick-ms",
            "300",
            "--monitor-interval-ms",
            "300",
            "--enroll",
            &enroll,
        ],
        &[("RUST_LOG", "info")],
    )?;
    let line = orch.line(Duration::from_secs(30))?;
    let api = format!("http://{}", field(&line, "api=")?);
    let home = dir.join("node");
    std::fs::create_dir_all(&home)?;
    let neighbor = format!("udp://127.0.0.1:{orch_udp}");
    let mut node = Proc::start(
        &[
            "node",
            "--id",
            &node_id,
            "--data-dir",
            &s(home.clone()),
            "--key",
            &s(dir.join("node.key")),
            "--orchestrator-key",
            &s(dir.join("orch.key.pub")),
            "--runtime",
            "docker",
            "--fwd-unix",
            &s(home.join("fwd.sock")),
            "--fwd-tcp",
            "",
            "--fwd-udp",
            "127.0.0.1:0",
            "--fwd-neighbor",
            &neighbor,
            "--http",
            "127.0.0.1:0",
            "--metrics",
            "127.0.0.1:0",
            "--ip",
            "127.0.0.1",
            "--monitor-interval-ms",
            "300",
        ],
        &[("RUST_LOG", "info")],
    )?;
    let line = node.line(Duration::from_secs(30))?;
    let http: SocketAddr = field(&line, "http=")?.parse()?;

    let result = (|| -> anyhow::Result<()> {
        let service = format!("bb{}", std::process::id());
        let image = format!("orch-docker-test-{service}");
        let spec = dir.join("spec.json");
        std::fs::write(
            &spec,
            serde_json::to_vec(&json!({
                "par": {"serviceName": service, "imageName": image, "imageSize": "2",
                        "maxUsers": "20", "startUpTime": "1", "port_container": 80,
                        "healthPath": "/index.html", "replicas": {"min": 0, "max": 2}},
                "QoS": {"responseTime": "2", "availability": "99", "numUsers": "1"}
            }))?,
        )?;
        let added = cli(
            &api,
            &["repo", "add", "--spec", &s(spec), "--image", &s(archive)],
        )?;
        ensure!(added.contains(&image), "{added}");
        wait_until(LONG, "the node reachable", || {
            let st: Value = serde_json::from_str(&cli(&api, &["status", "--json"])?)?;
            Ok(st["nodes"][0]["reachable"] == true)
        })?;
        let t = std::time::Instant::now();
        cli(&api, &["deploy", &service, "--node", &node_id])?;
        let page = page_html();
        wait_until(LONG, "the page over the node's ingress", || {
            Ok(matches!(http_get(http, &format!("/{service}/index.html")),
                Ok((200, body)) if body == page))
        })?;
        let with_fetch = t.elapsed();
        let st: Value = serde_json::from_str(&cli(&api, &["status", "--json"])?)?;
        let n = &st["nodes"][0];
        ensure!(
            n["bandwidthMBps"].as_f64().is_some_and(|b| b > 0.0),
            "the node did not fetch the image from the repo: {n}"
        );
        wait_until(LONG, "the replica listed", || {
            let st: Value = serde_json::from_str(&cli(&api, &["status", "--json"])?)?;
            Ok(st["services"][0]["replicas"][0]["node"] == node_id.as_str())
        })?;
        ensure!(node_containers(&node_id)? == 1);
        // Removing the service removes its container.
        cli(&api, &["repo", "remove", &service])?;
        wait_until(LONG, "the container removed", || {
            Ok(node_containers(&node_id)? == 0)
        })?;

        // Stored again naming the engine reference it loads as: the node,
        // which has that image now, runs it without fetching.
        let added = cli(
            &api,
            &[
                "repo",
                "add",
                "--spec",
                &s(dir.join("spec.json")),
                "--image",
                &s(out.join("busybox-httpd.tar")),
                "--tag",
                "picasso/busybox-httpd:1",
            ],
        )?;
        ensure!(added.contains(&image), "{added}");
        let t = std::time::Instant::now();
        cli(&api, &["deploy", &service, "--node", &node_id])?;
        wait_until(LONG, "the page again", || {
            Ok(matches!(http_get(http, &format!("/{service}/index.html")),
                Ok((200, body)) if body == page))
        })?;
        let cached = t.elapsed();
        println!(
            "docker: deploy → answering, image fetched from the repo {:.0} ms, image on the node {:.0} ms (ratio {:.2})",
            with_fetch.as_secs_f64() * 1000.0,
            cached.as_secs_f64() * 1000.0,
            with_fetch.as_secs_f64() / cached.as_secs_f64().max(1e-9)
        );
        Ok(())
    })();
    if let Err(e) = &result {
        eprintln!(
            "{e:#}\n--- orchestrator:\n{}\n--- node:\n{}",
            orch.stderr_text(),
            node.stderr_text()
        );
    }
    node.terminate(Duration::from_secs(20))?;
    orch.terminate(Duration::from_secs(20))?;
    result
}
