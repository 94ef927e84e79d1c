//! End-to-end routing between real `picasso fwd` processes on 127.0.0.1
//! (port 0, temp-dir sockets):
//!
//! - a line of five forwarders, each given only its predecessor as
//!   `--neighbor udp://HOST:PORT` (no name: the router learns it by probing,
//!   and the predecessor accepts the unconfigured sender): a prefix served
//!   with `picasso put` on node 5 is routed on node 1 within 3 s of its
//!   registration and `picasso get` on node 1 fetches it; after node 3 is
//!   killed (SIGKILL) nodes 2 and 1 withdraw the route within 3 hello
//!   intervals (+ slack). Run with short hellos and with the default 1 s.
//! - two forwarders with `--multicast` (group on loopback, random port from
//!   the `[routing]` config section) find each other and route.
//!
//! Times are measured by polling `picasso fib --json` every 10 ms and are
//! printed (`--nocapture`).

#![forbid(unsafe_code)]

#[path = "support/fwd.rs"]
mod fwd;

use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use fwd::{run, wait_until, Fwd, Proc};

/// The bound on propagation along a 5-node line.
const PROPAGATION: Duration = Duration::from_secs(3);
/// Allowed beyond 3 hello intervals for a withdrawal: the dead check runs
/// every min(interval/8, 100 ms), plus the update to node 1 and the FIB
/// poll (a `picasso fib` process). Node 3's last answer came at most one
/// interval before the kill, so a dead multiplier of 4 or more mostly
/// fails this bound.
const WITHDRAW_SLACK: Duration = Duration::from_millis(300);

/// The router's status on `f` (`picasso status --json`, key `routing`).
fn routing(f: &Fwd) -> anyhow::Result<serde_json::Value> {
    let st = f.json("status")?;
    Ok(st["routing"].clone())
}

fn alive_neighbours(f: &Fwd) -> anyhow::Result<usize> {
    let r = routing(f)?;
    Ok(r["neighbours"]
        .as_array()
        .map_or(0, |a| a.iter().filter(|n| n["alive"] == true).count()))
}

fn line_of_five(hello_ms: Option<u64>) -> anyhow::Result<()> {
    let interval = Duration::from_millis(hello_ms.unwrap_or(1000));
    let dir = tempfile::tempdir()?;
    let hello = hello_ms.map(|ms| ms.to_string());
    let mut nodes: Vec<Fwd> = Vec::new();
    for i in 1..=5 {
        let mut extra: Vec<String> = Vec::new();
        if let Some(prev) = nodes.last() {
            extra.push("--neighbor".into());
            extra.push(format!("udp://{}", prev.udp.context("no udp")?));
        }
        if let Some(h) = &hello {
            extra.push("--hello-interval".into());
            extra.push(h.clone());
        }
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let f = Fwd::start(dir.path(), &format!("n{i}"), &extra)?;
        ensure!(f.node.is_some(), "node {i} runs no router");
        nodes.push(f);
    }
    // The line is up: ends have one live neighbour, the middle two.
    let up = wait_until(Duration::from_secs(10), "line up", || {
        for (i, n) in nodes.iter().enumerate() {
            let want = if i == 0 || i == 4 { 1 } else { 2 };
            if alive_neighbours(n)? != want {
                return Ok(false);
            }
        }
        Ok(true)
    })?;
    println!("hello {interval:?}: line of five up after {up:?}");
    // The names were learned (nobody was given one).
    let r2 = routing(&nodes[1])?;
    let names: Vec<&str> = r2["neighbours"]
        .as_array()
        .context("no neighbours")?
        .iter()
        .filter_map(|n| n["node"].as_str())
        .collect();
    for i in [0, 2] {
        let want = nodes[i].node.as_deref().unwrap_or_default();
        ensure!(names.contains(&want), "node 2 knows {names:?}, not {want}");
    }

    let file = dir.path().join("line.bin");
    let content: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&file, &content)?;
    let prefix = "/picasso/line/file";
    let put = Proc::start(
        &[
            "put",
            "--fwd",
            &nodes[4].unix_face(),
            prefix,
            &file.display().to_string(),
        ],
        &[],
    )?;
    let line = put.line(Duration::from_secs(20))?;
    ensure!(line.starts_with("serving"), "{line}");
    // "serving" is printed once the registration is acknowledged.
    let took = wait_until(PROPAGATION, "route on node 1", || {
        nodes[0].has_route(prefix)
    })?;
    println!("hello {interval:?}: registration on node 5 -> route on node 1: {took:?}");
    let r1 = routing(&nodes[0])?;
    let hops = r1["routes"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["prefix"] == prefix))
        .map(|r| r["hops"].clone());
    ensure!(
        hops == Some(serde_json::json!(4)),
        "node 1 route hops {hops:?}"
    );
    let got = run(
        &[
            "get",
            "--fwd",
            &nodes[0].unix_face(),
            "--lifetime-ms",
            "1000",
            "--retries",
            "3",
            prefix,
        ],
        Duration::from_secs(30),
    )?;
    ensure!(
        got == content,
        "node 1 fetched {} bytes, differing",
        got.len()
    );

    // Node 3 dies without a word.
    nodes[2].proc.child.kill()?;
    let killed = Instant::now();
    let _ = nodes[2].proc.child.wait();
    let bound = interval * 3 + WITHDRAW_SLACK;
    let (mut gone2, mut gone1) = (None, None);
    while gone1.is_none() || gone2.is_none() {
        if gone2.is_none() && !nodes[1].has_route(prefix)? {
            gone2 = Some(killed.elapsed());
        }
        if gone1.is_none() && !nodes[0].has_route(prefix)? {
            gone1 = Some(killed.elapsed());
        }
        ensure!(
            killed.elapsed() < bound * 2,
            "routes not withdrawn within {:?} (node 2: {gone2:?}, node 1: {gone1:?})",
            bound * 2
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let (gone1, gone2) = (gone1.unwrap_or_default(), gone2.unwrap_or_default());
    println!(
        "hello {interval:?}: node 3 killed -> withdrawn on node 2 after {gone2:?}, node 1 after {gone1:?} (bound {bound:?})"
    );
    ensure!(
        gone2 <= bound,
        "node 2 withdrew after {gone2:?} > {bound:?}"
    );
    ensure!(
        gone1 <= bound,
        "node 1 withdrew after {gone1:?} > {bound:?}"
    );
    // Node 2 saw node 3 go.
    let lost = routing(&nodes[1])?["counters"]["neighboursLost"].clone();
    ensure!(
        lost == serde_json::json!(1),
        "node 2 lost {lost} neighbours"
    );
    Ok(())
}

#[test]
fn line_of_five_unnamed_neighbours_short_hellos() -> anyhow::Result<()> {
    line_of_five(Some(250))
}

#[test]
fn line_of_five_unnamed_neighbours_default_hellos() -> anyhow::Result<()> {
    line_of_five(None)
}

#[test]
fn multicast_discovery_between_two_daemons() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // A random port keeps concurrent runs on this host apart.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let port = 40_000 + (nanos ^ std::process::id()) % 20_000;
    let config = dir.path().join("mc.toml");
    std::fs::write(
        &config,
        format!(
            "[routing]\nhello-interval-ms = 200\nmulticast-iface = \"127.0.0.1\"\n\
             multicast-group = \"224.0.23.170:{port}\"\n"
        ),
    )?;
    let config = config.display().to_string();
    let args = ["--config", config.as_str(), "--multicast"];
    let a = Fwd::start(dir.path(), "mca", &args)?;
    let b = Fwd::start(dir.path(), "mcb", &args)?;
    let mc = routing(&a)?["multicast"].clone();
    if let Some(e) = mc["error"].as_str() {
        println!(
            "MULTICAST UNAVAILABLE: {e}. Discovery on loopback needs the host to accept \
             IP_ADD_MEMBERSHIP on 127.0.0.1; the test checks nothing else."
        );
        return Ok(());
    }
    ensure!(mc["faceId"].is_u64(), "no multicast face: {mc}");
    let found = wait_until(Duration::from_secs(3), "multicast discovery", || {
        Ok(alive_neighbours(&a)? == 1 && alive_neighbours(&b)? == 1)
    })?;
    println!("multicast discovery between two daemons took {found:?}");
    let nb = routing(&a)?["neighbours"][0].clone();
    ensure!(
        nb["discovered"] == true && nb["node"].as_str() == b.node.as_deref(),
        "{nb}"
    );

    let file = dir.path().join("mc.bin");
    std::fs::write(&file, b"found by multicast")?;
    let put = Proc::start(
        &[
            "put",
            "--fwd",
            &b.unix_face(),
            "/picasso/mc/file",
            &file.display().to_string(),
        ],
        &[],
    )?;
    put.line(Duration::from_secs(20))?;
    let took = wait_until(PROPAGATION, "route on a", || {
        a.has_route("/picasso/mc/file")
    })?;
    println!("multicast neighbour: registration on b -> route on a: {took:?}");
    let got = run(
        &["get", "--fwd", &a.unix_face(), "/picasso/mc/file"],
        Duration::from_secs(30),
    )?;
    ensure!(got == b"found by multicast", "{got:?}");
    Ok(())
}

#[test]
fn named_neighbours_node_names_and_no_routing() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let a = Fwd::start(dir.path(), "alpha", &["--node-name", "alpha"])?;
    ensure!(a.node.as_deref() == Some("alpha"), "{:?}", a.node);
    let a_uri = format!("udp://{}", a.udp.context("no udp")?);
    // A named neighbour needs no probe.
    let b = Fwd::start(
        dir.path(),
        "beta",
        &[
            "--neighbor",
            &format!("alpha={a_uri}"),
            "--hello-interval",
            "200",
        ],
    )?;
    // The default name: host name and UDP port.
    let b_port = b.udp.context("no udp")?.port().to_string();
    ensure!(
        b.node.as_deref().is_some_and(|n| n.ends_with(&b_port)),
        "{:?}",
        b.node
    );
    wait_until(Duration::from_secs(5), "alpha up on beta", || {
        Ok(alive_neighbours(&b)? == 1)
    })?;
    let r = routing(&b)?;
    ensure!(r["counters"]["probesSent"] == 0, "{}", r["counters"]);
    let nb = &r["neighbours"][0];
    ensure!(nb["node"] == "alpha" && nb["discovered"] == false, "{nb}");
    // No static default route: routing decides.
    ensure!(!b.has_route("/")?, "beta has a static / route");

    // Without routing, a neighbour gets a default route and no router runs.
    let c = Fwd::start(dir.path(), "gamma", &["--no-routing", "--neighbor", &a_uri])?;
    ensure!(c.node.is_none(), "gamma runs a router");
    ensure!(c.has_route("/")?, "gamma has no / route");
    ensure!(
        c.json("status")?.get("routing").is_none(),
        "routing status without a router"
    );
    Ok(())
}
