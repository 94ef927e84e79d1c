//! `picasso testbed`: the main job. Starts an orchestrator and N emulated
//! Raspberry Pis on this machine, registers the sample services, shows a
//! request by name and over HTTP, then puts load on a service until the
//! orchestrator replicates it, printing progress and the orchestrator's
//! decisions with their reasons, and ends with a summary (also as JSON).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use hyper::Method;
use serde::Serialize;
use serde_json::{json, Value};

use crate::api::Http;
use crate::cluster::{Cluster, ClusterConfig, RuntimeKind};
use crate::services::{self, SampleService};

/// What `picasso testbed` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// Nodes (default 4).
    pub nodes: usize,
    /// Seconds of load (default 60).
    pub duration: u64,
    /// Where to write the JSON summary.
    pub json: Option<PathBuf>,
    /// `auto`, `docker` or `process`.
    pub runtime: String,
    /// CPUs per emulated Pi (0 disables the quota).
    pub cpus: f64,
    /// Link RTT in ms (0 disables the delay).
    pub rtt_ms: f64,
    /// The orchestrator's policy.
    pub policy: String,
    /// Concurrent users of the load.
    pub users: usize,
    /// Working directory (default: a fresh one under the system temp dir).
    pub dir: Option<PathBuf>,
    /// The `picasso` binary (default: this one).
    pub bin: Option<PathBuf>,
    /// Node id prefix (default `pi`: pi1, pi2, …).
    pub node_prefix: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            nodes: 4,
            duration: 60,
            json: None,
            runtime: "auto".into(),
            cpus: 0.4,
            rtt_ms: 5.0,
            policy: "threshold".into(),
            users: 100,
            dir: None,
            bin: None,
            node_prefix: "pi".into(),
        }
    }
}

/// The end-of-run summary (`--json`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// `docker` or `process`.
    pub runtime: String,
    /// Node ids.
    pub nodes: Vec<String>,
    /// Services registered.
    pub services: Vec<String>,
    /// Requests sent (by name and over HTTP, load included).
    pub requests: u64,
    /// Successful answers / requests.
    pub success_rate: f64,
    /// Replicas added on a node that already ran the service.
    pub replications_local: u64,
    /// Replicas added on a node that did not.
    pub replications_remote: u64,
    /// Every decision the orchestrator logged, with its reason.
    pub decisions: Vec<Value>,
    /// The policy.
    pub policy: String,
    /// CPU emulation in effect.
    pub cpu_emulation: String,
    /// Latency emulation in effect.
    pub link_emulation: String,
    /// Load phases: per slice, time, users, success rate, latencies, replicas.
    pub timeline: Vec<Value>,
    /// Wall time of the whole run, s.
    pub elapsed_sec: f64,
}

/// Picks the runtime: Docker when an engine answers (or asked for).
pub async fn pick_runtime(asked: &str) -> anyhow::Result<(RuntimeKind, String)> {
    let docker = picasso_agent::runtime::docker::DockerRuntime::connect_default().await;
    match (asked, docker) {
        ("docker", Ok(_)) | ("auto", Ok(_)) => {
            Ok((RuntimeKind::Docker, "a Docker engine answers".into()))
        }
        ("docker", Err(e)) => bail!("runtime docker: no Docker engine answers: {e}"),
        ("process", _) => Ok((RuntimeKind::Process, "asked for".into())),
        ("auto", Err(e)) => Ok((
            RuntimeKind::Process,
            format!("no Docker engine answers ({e})"),
        )),
        (other, _) => bail!("runtime: {other:?} is not auto, docker or process"),
    }
}

/// Prints a line prefixed with the elapsed time.
pub fn say(t0: Instant, msg: impl AsRef<str>) {
    println!("[{:6.1}s] {}", t0.elapsed().as_secs_f64(), msg.as_ref());
}

/// Uploads a service's image and spec to the orchestrator's repo.
pub async fn register(api: &Http, s: &SampleService) -> anyhow::Result<()> {
    let tar = std::fs::read(&s.archive)
        .with_context(|| format!("cannot read {}", s.archive.display()))?;
    let r = api
        .request(
            Method::PUT,
            &format!("/api/repo/images/{}", s.image),
            Some(Bytes::from(tar)),
        )
        .await?;
    if !r.status.is_success() {
        bail!(
            "uploading image {}: {} {}",
            s.image,
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }
    api.post_json("/api/repo/specs", &s.spec).await?;
    Ok(())
}

/// Result of one `picasso bench` run (its `--json`).
#[derive(Debug, Clone, Default)]
pub struct BenchResult {
    /// Requests sent.
    pub requests: u64,
    /// Successful ones.
    pub successes: u64,
    /// Mean latency, ms.
    pub mean_ms: f64,
    /// p50, ms.
    pub p50_ms: f64,
    /// p95, ms.
    pub p95_ms: f64,
    /// p99, ms.
    pub p99_ms: f64,
    /// Requests per second.
    pub throughput: f64,
    /// The whole JSON.
    pub raw: Value,
}

impl BenchResult {
    /// Success rate (1 when nothing was sent).
    pub fn success_rate(&self) -> f64 {
        if self.requests == 0 {
            1.0
        } else {
            self.successes as f64 / self.requests as f64
        }
    }

    fn from_json(v: Value) -> Self {
        let f = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        BenchResult {
            requests: f("requests") as u64,
            successes: f("successes") as u64,
            mean_ms: f("meanMs"),
            p50_ms: f("p50Ms"),
            p95_ms: f("p95Ms"),
            p99_ms: f("p99Ms"),
            throughput: f("throughput"),
            raw: v,
        }
    }
}

/// `url` with a query that makes every request of one bench run, and of
/// every run, its own URL: `?run=<unique>&r={n}` (the load generator puts
/// the request's number for `{n}`). Identical GETs would be aggregated by
/// the forwarders and answered from their content stores, and the
/// replicas would not see the load.
pub fn numbered(url: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static RUN: AtomicU64 = AtomicU64::new(0);
    let run = RUN.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}run={}-{t}-{run}&r={{n}}", std::process::id())
}

/// How many requests one HTTP load sends.
#[derive(Debug, Clone, Copy)]
pub enum Amount {
    /// Exactly this many (`-n`).
    Requests(usize),
    /// As many as fit in this many seconds (`--duration`).
    Seconds(u64),
}

/// The arguments of `picasso bench http`: `users` concurrent users on
/// `url`, `amount` requests, each within `timeout_ms`, a connection per
/// request unless `keep_alive`.
pub fn http_load(
    url: &str,
    users: usize,
    amount: Amount,
    timeout_ms: u64,
    keep_alive: bool,
) -> Vec<String> {
    let mut a = vec![
        "http".to_owned(),
        url.to_owned(),
        "-c".into(),
        users.to_string(),
    ];
    match amount {
        Amount::Requests(n) => a.extend(["-n".to_owned(), n.to_string()]),
        Amount::Seconds(s) => a.extend(["--duration".to_owned(), s.to_string()]),
    }
    a.extend(["--timeout-ms".to_owned(), timeout_ms.to_string()]);
    if !keep_alive {
        a.push("--no-keep-alive".into());
    }
    a
}

/// Runs `picasso bench <args> --json` (the project's ab-like load
/// generator, a separate process like the paper's test machine).
pub async fn bench(bin: &Path, args: &[String]) -> anyhow::Result<BenchResult> {
    let out = tokio::process::Command::new(bin)
        .arg("bench")
        .args(args)
        .arg("--json")
        .output()
        .await
        .context("cannot run picasso bench")?;
    if !out.status.success() {
        bail!(
            "picasso bench {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "picasso bench printed {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })?;
    Ok(BenchResult::from_json(v))
}

/// The replicas per service and node the orchestrator reports
/// (`/api/services`).
pub async fn replicas(api: &Http) -> anyhow::Result<BTreeMap<String, BTreeMap<String, u64>>> {
    let v = api.get_json("/api/services").await?;
    Ok(replicas_of(&v))
}

/// Reads `{service: {node: count}}` from an `/api/services` answer: an
/// array (or `{"services": …}`) of objects with `name`/`service` and
/// `replicas` given as a list of `{node}` objects or a map node → count.
pub fn replicas_of(v: &Value) -> BTreeMap<String, BTreeMap<String, u64>> {
    let list: Vec<Value> = match v {
        Value::Array(a) => a.clone(),
        Value::Object(o) => match o.get("services") {
            Some(Value::Array(a)) => a.clone(),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, s)| {
                    let mut s = s.clone();
                    if s.get("name").is_none() {
                        s["name"] = json!(k);
                    }
                    s
                })
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let mut out = BTreeMap::new();
    for s in list {
        let Some(name) = s
            .get("name")
            .or_else(|| s.get("service"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let mut per: BTreeMap<String, u64> = BTreeMap::new();
        match s.get("replicas").or_else(|| s.get("placements")) {
            Some(Value::Array(rs)) => {
                for r in rs {
                    if let Some(n) = r.get("node").and_then(Value::as_str) {
                        *per.entry(n.to_owned()).or_default() += 1;
                    }
                }
            }
            Some(Value::Object(m)) => {
                for (n, c) in m {
                    let c = c
                        .as_u64()
                        .or_else(|| c.as_array().map(|a| a.len() as u64))
                        .unwrap_or(0);
                    if c > 0 {
                        per.insert(n.clone(), c);
                    }
                }
            }
            _ => {}
        }
        out.insert(name.to_owned(), per);
    }
    out
}

/// The decisions (`/api/decisions`: an array or `{"decisions": […]}`).
pub async fn decisions(api: &Http) -> anyhow::Result<Vec<Value>> {
    let v = api.get_json("/api/decisions").await?;
    Ok(match v {
        Value::Array(a) => a,
        Value::Object(mut o) => match o.remove("decisions") {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    })
}

/// Counts replications in a decision log, in order: the first deploy of a
/// service starts it; a later deploy on a node that already runs it is a
/// local replication, on another node a remote one.
pub fn count_replications(decisions: &[Value]) -> (u64, u64) {
    let mut running: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let (mut local, mut remote) = (0, 0);
    for d in decisions {
        let s = |k: &str| {
            d.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (action, service, node) = (s("action"), s("service"), s("node"));
        let per = running.entry(service).or_default();
        match action.as_str() {
            "deploy" => {
                let total: u64 = per.values().sum();
                if total > 0 {
                    if per.get(&node).copied().unwrap_or(0) > 0 {
                        local += 1;
                    } else {
                        remote += 1;
                    }
                }
                *per.entry(node).or_default() += 1;
            }
            "remove" => {
                if let Some(c) = per.get_mut(&node) {
                    *c = c.saturating_sub(1);
                }
            }
            _ => {}
        }
    }
    (local, remote)
}

fn show_replicas(r: &BTreeMap<String, u64>) -> String {
    if r.is_empty() {
        return "none".into();
    }
    r.iter()
        .map(|(n, c)| format!("{n}×{c}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Waits until `url` answers 200 (a service reachable over HTTP).
pub async fn wait_http_ok(url: &str, within: Duration) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let http = Http::new("", Duration::from_secs(5));
    let mut last = String::new();
    while t.elapsed() < within {
        match http.request(Method::GET, url, None).await {
            Ok(r) if r.status.is_success() => return Ok(t.elapsed()),
            Ok(r) => last = format!("{} {}", r.status, String::from_utf8_lossy(&r.body)),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    bail!("{url} did not answer 200 within {within:?}: {last}")
}

/// The whole run.
pub async fn run(opts: Options) -> anyhow::Result<Summary> {
    let t0 = Instant::now();
    let bin = match &opts.bin {
        Some(b) => b.clone(),
        None => std::env::current_exe().context("cannot find the picasso binary")?,
    };
    let (runtime, why) = pick_runtime(&opts.runtime).await?;
    say(t0, format!("runtime: {} ({why})", runtime.as_str()));
    let dir = match &opts.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("picasso-testbed-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    say(
        t0,
        format!("working directory {} (logs, keys, data)", dir.display()),
    );
    say(t0, "preparing the sample services' images…");
    let samples = services::prepare(runtime, &bin, &dir)?;

    let mut cluster = Cluster::start(ClusterConfig {
        nodes: opts.nodes,
        dir: dir.clone(),
        bin: bin.clone(),
        runtime,
        cpus_per_node: (opts.cpus > 0.0).then_some(opts.cpus),
        link_delay: Duration::from_secs_f64(opts.rtt_ms.max(0.0) / 2000.0),
        policy: opts.policy.clone(),
        tick_ms: 1000,
        with_orchestrator: true,
        node_prefix: opts.node_prefix.clone(),
    })
    .await?;
    say(
        t0,
        format!(
            "started the orchestrator (API http://{}) and {} nodes",
            cluster.api_addr,
            cluster.nodes.len()
        ),
    );
    say(t0, format!("CPU emulation: {}", cluster.cpu_note));
    say(t0, format!("latency emulation: {}", cluster.link_note));
    let result = scenario(&opts, &bin, &cluster, &samples, t0).await;
    cluster.stop();
    let mut summary = result?;
    summary.runtime = runtime.as_str().into();
    summary.cpu_emulation = cluster.cpu_note.clone();
    summary.link_emulation = cluster.link_note.clone();
    summary.elapsed_sec = t0.elapsed().as_secs_f64();
    print_summary(&summary);
    if let Some(path) = &opts.json {
        let tmp = path.with_extension("json.part");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&summary)?)?;
        std::fs::rename(&tmp, path)?;
        println!("summary written to {}", path.display());
    }
    Ok(summary)
}

async fn scenario(
    opts: &Options,
    bin: &Path,
    cluster: &Cluster,
    samples: &[SampleService],
    t0: Instant,
) -> anyhow::Result<Summary> {
    cluster.wait_all_reachable(Duration::from_secs(30)).await?;
    say(
        t0,
        "the orchestrator sees every node (monitoring by name works)",
    );
    for s in samples {
        register(&cluster.api, s).await?;
        say(
            t0,
            format!(
                "registered service {} (image {}, {} bytes)",
                s.name,
                s.image,
                std::fs::metadata(&s.archive)?.len()
            ),
        );
    }
    let main = &samples[0];
    let first = &cluster.nodes[0];
    let last = cluster.nodes.last().expect("at least one node");
    cluster
        .api
        .post_json(
            "/api/deploy",
            &json!({"service": main.name, "node": first.id}),
        )
        .await?;
    say(
        t0,
        format!(
            "asked for {} on {} (the node fetches the image by name)",
            main.name, first.id
        ),
    );
    let local_url = format!("http://{}/{}{}", first.http, main.name, main.path);
    let took = wait_http_ok(&local_url, Duration::from_secs(90)).await?;
    say(
        t0,
        format!(
            "{} answers over HTTP at {} after {:.1}s",
            main.name,
            first.id,
            took.as_secs_f64()
        ),
    );

    let mut requests = 0u64;
    let mut successes = 0u64;
    // A request by name from the far end of the line, and over HTTP there.
    let name = format!("/picasso/svc/{}{}", main.name, main.path);
    let by_name = bench(
        bin,
        &[
            "ndn".into(),
            name.clone(),
            "--fwd".into(),
            format!("unix:{}", last.unix.display()),
            "-c".into(),
            "1".into(),
            "-n".into(),
            "20".into(),
        ],
    )
    .await?;
    requests += by_name.requests;
    successes += by_name.successes;
    say(
        t0,
        format!(
            "by name: 20 Interests for {name} from {} (over {} links) → {:.0}% answered, p50 {:.2} ms",
            last.id,
            cluster.nodes.len() - 1,
            by_name.success_rate() * 100.0,
            by_name.p50_ms
        ),
    );
    let far_url = format!("http://{}/{}{}", last.http, main.name, main.path);
    let over_http = bench(
        bin,
        &http_load(&far_url, 1, Amount::Requests(20), 30_000, true),
    )
    .await?;
    requests += over_http.requests;
    successes += over_http.successes;
    say(
        t0,
        format!(
            "over HTTP: 20 GETs {far_url} → {:.0}% answered, p50 {:.2} ms",
            over_http.success_rate() * 100.0,
            over_http.p50_ms
        ),
    );

    // Load until the orchestrator replicates.
    say(
        t0,
        format!(
            "load: {} users on {} through {}'s ingress for {} s (policy {})",
            opts.users, main.name, first.id, opts.duration, opts.policy
        ),
    );
    let mut timeline = Vec::new();
    let slice = 5u64.min(opts.duration.max(1));
    let load_start = Instant::now();
    let mut seen = 0usize;
    let mut shown_holds: BTreeSet<String> = BTreeSet::new();
    while load_start.elapsed() < Duration::from_secs(opts.duration) {
        let left = opts
            .duration
            .saturating_sub(load_start.elapsed().as_secs())
            .max(1);
        let secs = slice.min(left);
        let cpu_before: Vec<Option<u64>> = cluster
            .nodes
            .iter()
            .map(|n| n.cgroup.as_ref().and_then(|g| g.usage_ns()))
            .collect();
        let t_slice = Instant::now();
        // Each request its own URL, so the replicas do the work
        // (identical GETs would be aggregated and cached).
        let args = http_load(
            &numbered(&local_url),
            opts.users,
            Amount::Seconds(secs),
            10_000,
            true,
        );
        let r = bench(bin, &args).await?;
        let wall = t_slice.elapsed().as_secs_f64();
        requests += r.requests;
        successes += r.successes;
        let cpu: Vec<String> = cluster
            .nodes
            .iter()
            .zip(&cpu_before)
            .filter_map(|(n, before)| {
                let g = n.cgroup.as_ref()?;
                let used = g.usage_ns()?.saturating_sub((*before)?);
                Some(format!(
                    "{} {:.0}%",
                    n.id,
                    used as f64 / 1e9 / wall / g.cpus * 100.0
                ))
            })
            .collect();
        let reps = replicas(&cluster.api).await.unwrap_or_default();
        let mine = reps.get(&main.name).cloned().unwrap_or_default();
        say(
            t0,
            format!(
                "{:>5.0} req/s  ok {:5.1}%  mean {:7.1} ms  p95 {:7.1} ms  replicas {}  quota use: {}",
                r.throughput,
                r.success_rate() * 100.0,
                r.mean_ms,
                r.p95_ms,
                show_replicas(&mine),
                if cpu.is_empty() { "n/a".into() } else { cpu.join(", ") }
            ),
        );
        let ds = decisions(&cluster.api).await.unwrap_or_default();
        for d in ds.iter().skip(seen) {
            let s = |k: &str| {
                d.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            // A hold repeated with other figures (a cool-down) is shown once.
            let shape: String = format!("{} {} {}", s("action"), s("service"), s("reason"))
                .chars()
                .filter(|c| !c.is_ascii_digit())
                .collect();
            if s("action") == "hold" && !shown_holds.insert(shape) {
                continue;
            }
            say(
                t0,
                format!(
                    "  decision: {} {} on {} — {}",
                    s("action"),
                    s("service"),
                    s("node"),
                    s("reason")
                ),
            );
        }
        seen = seen.max(ds.len());
        timeline.push(json!({
            "t": load_start.elapsed().as_secs_f64(),
            "users": opts.users,
            "throughput": r.throughput,
            "successRate": r.success_rate(),
            "meanMs": r.mean_ms,
            "p95Ms": r.p95_ms,
            "replicas": mine,
        }));
    }

    let decisions = decisions(&cluster.api).await.unwrap_or_default();
    let (local, remote) = count_replications(&decisions);
    let services: BTreeSet<String> = samples.iter().map(|s| s.name.clone()).collect();
    Ok(Summary {
        runtime: String::new(),
        nodes: cluster.nodes.iter().map(|n| n.id.clone()).collect(),
        services: services.into_iter().collect(),
        requests,
        success_rate: if requests == 0 {
            0.0
        } else {
            successes as f64 / requests as f64
        },
        replications_local: local,
        replications_remote: remote,
        decisions,
        policy: opts.policy.clone(),
        cpu_emulation: String::new(),
        link_emulation: String::new(),
        timeline,
        elapsed_sec: 0.0,
    })
}

fn print_summary(s: &Summary) {
    println!();
    println!("== PiCasso test bed: summary ==");
    println!("runtime            {}", s.runtime);
    println!("nodes              {}", s.nodes.join(", "));
    println!("services           {}", s.services.join(", "));
    println!("policy             {}", s.policy);
    println!("CPU emulation      {}", s.cpu_emulation);
    println!("latency emulation  {}", s.link_emulation);
    println!("requests           {}", s.requests);
    println!("success rate       {:.2}%", s.success_rate * 100.0);
    println!(
        "replications       {} local, {} remote",
        s.replications_local, s.replications_remote
    );
    println!("decisions          {}", s.decisions.len());
    for d in &s.decisions {
        let f = |k: &str| {
            d.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        println!(
            "  {} {} on {}: {}",
            f("action"),
            f("service"),
            f("node"),
            f("reason")
        );
    }
    println!("elapsed            {:.1} s", s.elapsed_sec);
}

/// Whether a Docker CLI is on PATH (used to clean up containers).
pub fn docker_cli() -> bool {
    Command::new("docker")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replications_are_counted_in_order() {
        let d = |a: &str, s: &str, n: &str| json!({"action": a, "service": s, "node": n, "reason": "r"});
        let log = vec![
            d("deploy", "S1", "pi1"), // starts S1
            d("deploy", "S1", "pi1"), // local
            d("deploy", "S1", "pi2"), // remote
            d("remove", "S1", "pi1"),
            d("remove", "S1", "pi1"),
            d("deploy", "S1", "pi1"), // remote again: pi1 runs none now
            d("hold", "S1", "pi3"),
            d("deploy", "S2", "pi3"), // starts S2
        ];
        assert_eq!(count_replications(&log), (1, 2));
    }

    #[test]
    fn replicas_from_either_shape() {
        let a = json!([{"name": "S1", "replicas": [{"node": "pi1"}, {"node": "pi1"}, {"node": "pi2"}]}]);
        let b = json!({"services": {"S1": {"replicas": {"pi1": 2, "pi2": 1, "pi3": 0}}}});
        let want = BTreeMap::from([(
            "S1".to_owned(),
            BTreeMap::from([("pi1".to_owned(), 2), ("pi2".to_owned(), 1)]),
        )]);
        assert_eq!(replicas_of(&a), want);
        assert_eq!(replicas_of(&b), want);
    }
}
