//! `picasso bench …`: benchmarks. `ping` measures Interest/Data exchanges
//! through a forwarder against the same-run direct baseline; the work is in
//! `picasso_forwarder::bench`. `image-fetch` fetches a file published as
//! an image as a node does (fetcher in-process with an embedded forwarder,
//! the repo's publisher in a child process, `image-serve`); `deploy` plays
//! the orchestrator and its repo against a running `picasso node`;
//! `scripts/bench-agent.sh` sets them side by side
//! with their baselines (curl from nginx, a deploy of an image the engine
//! already has). `http` and `ndn` are the ab-like load generator
//! (`picasso_agent::loadgen`): c users, n requests, against a URL or a
//! service name; `scripts/bench-http.sh` sets `http` beside real `ab`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use picasso_agent::exec::signed_command;
use picasso_agent::image_repo::{ImageFetchOptions, ImageFetcher, ImagePublisher, SEGMENT_SIZE};
use picasso_agent::keys;
use picasso_agent::loadgen::{self, HttpConfig, Load, LoadgenError, NdnConfig, Progress, Report};
use picasso_forwarder::app::{Client, FaceAddr};
use picasso_forwarder::bench::{ping, PingConfig, Transport};
use picasso_forwarder::daemon::{self, Daemon};
use picasso_forwarder::face::in_process;
use picasso_tlv::Name;
use serde_json::{json, Value};

/// Subcommands of `picasso bench`.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// N concurrent consumers against one producer, through a forwarder
    /// (or --direct, with none in between).
    Ping(PingArgs),
    /// Fetches a file published as an image by name, as a node fetches an
    /// image: by default the fetcher runs in this process on an in-process
    /// face of an embedded forwarder (the node's own), and the publisher in
    /// a child process (the repo) on a Unix face of it. With --fwd, both are
    /// faces of a running forwarder instead.
    ImageFetch(ImageFetchArgs),
    /// The repo side of `image-fetch`: publishes a file as an image on a
    /// forwarder and serves it until standard input closes.
    #[command(hide = true)]
    ImageServe(ImageServeArgs),
    /// Publishes an image archive and sends a node a signed deploy (then,
    /// unless --keep, a remove), as the orchestrator would; prints the
    /// node's reply.
    Deploy(DeployArgs),
    /// ab-like HTTP load: C users each GET the URL one request after
    /// another, N requests in all (or for --duration); keep-alive by default.
    Http(HttpArgs),
    /// The same as Interests for a service name (/picasso/svc/<service>/…)
    /// through a forwarder, each request its own name, segmented answers
    /// fetched whole.
    Ndn(NdnArgs),
}

/// The load flags `http` and `ndn` share.
#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Concurrent users (as ab -c); each sends its requests one after another.
    #[arg(short = 'c', long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    concurrency: u64,
    /// Requests in all (as ab -n); required unless --duration is given.
    #[arg(short = 'n', long, value_parser = clap::value_parser!(u64).range(1..), required_unless_present = "duration")]
    requests: Option<u64>,
    /// Stop starting requests after this many seconds (with -n: whichever comes first).
    #[arg(long, value_name = "SECS", value_parser = positive_secs)]
    duration: Option<f64>,
    /// Longest wait for one request, connecting included (NDN: also the Interest lifetime).
    #[arg(long, default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_ms: u64,
    /// Tokio worker threads (0 or 1: one thread, as ab).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

fn positive_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(v),
        Ok(_) => Err("must be a number of seconds in (0, 86400]".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Arguments of `picasso bench http`.
#[derive(Args, Debug)]
pub struct HttpArgs {
    /// http://HOST[:PORT]/PATH[?QUERY]; the placeholder `{` `n` `}` (n in
    /// braces, no spaces) in it becomes the request's
    /// number (every request its own URL: no cache or aggregation answers
    /// one request for another)
    url: String,
    #[command(flatten)]
    load: LoadArgs,
    /// A new connection per request, `Connection: close` (plain ab,
    /// without -k).
    #[arg(long)]
    no_keep_alive: bool,
}

/// Arguments of `picasso bench ndn`.
#[derive(Args, Debug)]
pub struct NdnArgs {
    /// The request name, e.g. /picasso/svc/bb/index.html.
    name: String,
    /// The forwarder: unix:PATH, tcp:HOST:PORT or udp:HOST:PORT.
    #[arg(long, default_value_t = format!("unix:{}", picasso_forwarder::app::DEFAULT_SOCKET))]
    fwd: String,
    #[command(flatten)]
    load: LoadArgs,
    /// Segment Interests in flight at once per request.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=1024))]
    segment_window: u64,
}

/// Arguments of `picasso bench image-fetch`.
#[derive(Args, Debug)]
pub struct ImageFetchArgs {
    /// A running forwarder (unix:PATH): the publisher and the fetcher each
    /// get a face of it, both in this process. Without it, the fetcher is
    /// on an in-process face of a forwarder embedded here (as in `picasso
    /// node`) and the publisher in another process.
    #[arg(long)]
    fwd: Option<String>,
    /// The file to publish.
    #[arg(long)]
    file: PathBuf,
    /// Where the fetcher writes (a fresh subfolder per run).
    #[arg(long)]
    dir: PathBuf,
    /// Runs (each under a new version, so no content store helps).
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// Tokio worker threads of this process (0: one thread; default: 0 as
    /// `picasso node` without --fwd, else 2).
    #[arg(long)]
    worker_threads: Option<usize>,
}

/// Arguments of `picasso bench image-serve`.
#[derive(Args, Debug)]
pub struct ImageServeArgs {
    /// The forwarder to publish on (unix:PATH).
    #[arg(long)]
    fwd: String,
    /// The file to publish.
    #[arg(long)]
    file: PathBuf,
    /// The image name.
    #[arg(long)]
    image: String,
    /// The key pair file that signs the manifest.
    #[arg(long)]
    key: PathBuf,
}

/// Arguments of `picasso bench deploy`.
#[derive(Args, Debug)]
pub struct DeployArgs {
    /// The node's forwarder (unix:PATH).
    #[arg(long)]
    fwd: String,
    /// The node id.
    #[arg(long)]
    node: String,
    /// The orchestrator's private key file (the node has its .pub).
    #[arg(long)]
    orchestrator_key: PathBuf,
    /// The image name (`/picasso/repo/image/<image>`).
    #[arg(long)]
    image: String,
    /// The engine tag the archive loads as.
    #[arg(long)]
    tag: String,
    /// The `docker save` archive to publish.
    #[arg(long)]
    archive: PathBuf,
    /// The service name.
    #[arg(long)]
    service: String,
    /// Host port of replica 1.
    #[arg(long)]
    port: u16,
    /// Leave the service running (no remove after the deploy).
    #[arg(long)]
    keep: bool,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

async fn connect(fwd: &str) -> anyhow::Result<Client> {
    let addr: FaceAddr = fwd.parse().map_err(anyhow::Error::msg)?;
    Client::connect(&addr)
        .await
        .with_context(|| format!("cannot connect to the forwarder at {addr}"))
}

/// Publishes `args.file` under a new image name per run and fetches it
/// back (see [`BenchCommand::ImageFetch`] for where each end runs).
async fn image_fetch(args: &ImageFetchArgs) -> anyhow::Result<Vec<Value>> {
    let root = Name::from_uri("/picasso")?;
    let work = args
        .dir
        .join(format!("bench-{}-{}", std::process::id(), unix_ms()));
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let cleanup = RemoveOnDrop(work.clone());
    let key_file = work.join("repo.key");
    let pair = keys::generate_key_files(&key_file, true)?;
    let key = pair.signer(Name::from_uri("/picasso/bench/KEY")?);
    // The node's side: its embedded forwarder, with the repo's socket.
    let cancel = tokio_util::sync::CancellationToken::new();
    let (fwd, embedded) = match &args.fwd {
        Some(f) => (f.clone(), None),
        None => {
            // In the temporary directory, not under --dir: a Unix socket's
            // path must stay under 108 bytes, whatever --dir is.
            let sock = std::env::temp_dir().join(format!(
                "picasso-fetch-{}-{}.sock",
                std::process::id(),
                unix_ms()
            ));
            let config = daemon::Config {
                unix: sock.display().to_string(),
                tcp: String::new(),
                udp: String::new(),
                ..daemon::Config::default()
            };
            let d = Daemon::start(&config).await?;
            let handle = d.handle().clone();
            let run = tokio::spawn(d.run(cancel.child_token()));
            (format!("unix:{}", sock.display()), Some((handle, run)))
        }
    };
    let mut results = Vec::new();
    for run in 0..args.runs {
        let image = format!("bench-{}-{run}", unix_ms());
        let consumer = match &embedded {
            Some((handle, _)) => in_process::connect(handle)
                .await
                .map(Client::from_app_face)
                .map_err(|_| anyhow::anyhow!("the embedded forwarder stopped"))?,
            None => connect(&fwd).await?,
        };
        // The repo: another process, or (with --fwd) this one.
        let mut child = None;
        let mut _publisher_face = None;
        if embedded.is_some() {
            child = Some(spawn_image_serve(&fwd, &args.file, &image, &key_file).await?);
        } else {
            _publisher_face = Some(publish(&fwd, &args.file, &image, &key).await?);
        }
        let dir = work.join(&image);
        let fetcher = ImageFetcher::new(
            consumer,
            root.clone(),
            key.verifier(),
            dir.clone(),
            ImageFetchOptions::default(),
        );
        let repo_pid = child.as_ref().and_then(|c| c.id()).map(|p| p.to_string());
        let cpu_before = (
            cpu_seconds("self"),
            repo_pid.as_deref().and_then(cpu_seconds),
        );
        let t = Instant::now();
        let got = fetcher.fetch(&image).await?;
        let wall = t.elapsed().as_secs_f64();
        let cpu_after = (
            cpu_seconds("self"),
            repo_pid.as_deref().and_then(cpu_seconds),
        );
        let spent = |a: Option<f64>, b: Option<f64>| Some(((b? - a?) * 100.0).round() / 100.0);
        let bytes = got.stats.bytes_fetched;
        results.push(json!({
            "run": run, "bytes": bytes, "seconds": wall,
            "mbPerSec": bytes as f64 / 1e6 / wall,
            "retransmissions": got.stats.retransmissions,
            "decreases": got.stats.decreases,
            "cpuSeconds": {
                "fetcherProcess": spent(cpu_before.0, cpu_after.0),
                "repoProcess": spent(cpu_before.1, cpu_after.1),
                "verify": got.stats.verify_seconds,
                "write": got.stats.write_seconds,
            },
            "fetcher": if embedded.is_some() { "in-process face of an embedded forwarder" } else { "unix face" },
            "publisher": if embedded.is_some() { "another process, unix face" } else { "unix face, this process" },
        }));
        let _ = std::fs::remove_dir_all(&dir);
        if let Some(mut c) = child {
            let _ = c.kill().await;
        }
    }
    cancel.cancel();
    if let Some((_, run)) = embedded {
        let _ = run.await;
    }
    drop(cleanup);
    Ok(results)
}

/// CPU time (user + system) of process `pid` (or `self`) so far, seconds,
/// from `/proc/<pid>/stat` (clock ticks of USER_HZ, 100 on Linux: 10 ms
/// resolution).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count
    // from after its closing one, which starts field 3.
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Removes a directory when dropped (the bench's scratch space).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts `picasso bench image-serve` and waits until it serves.
async fn spawn_image_serve(
    fwd: &str,
    file: &std::path::Path,
    image: &str,
    key: &std::path::Path,
) -> anyhow::Result<tokio::process::Child> {
    use tokio::io::AsyncBufReadExt;
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let mut child = tokio::process::Command::new(exe)
        .args(["bench", "image-serve", "--fwd", fwd, "--image", image])
        .arg("--file")
        .arg(file)
        .arg("--key")
        .arg(key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the publisher process")?;
    let out = child.stdout.take().context("no stdout")?;
    let mut line = String::new();
    let ready = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::io::BufReader::new(out).read_line(&mut line),
    )
    .await;
    match ready {
        Ok(Ok(_)) if line.trim() == "ready" => Ok(child),
        _ => {
            let _ = child.kill().await;
            anyhow::bail!("the publisher process did not start (it said {line:?})")
        }
    }
}

/// Publishes `file` as image `image` (a new version, manifest signed with
/// `key`) on a face of the forwarder at `fwd`; serves while the returned
/// client lives.
async fn publish(
    fwd: &str,
    file: &std::path::Path,
    image: &str,
    key: &picasso_tlv::Signer,
) -> anyhow::Result<Client> {
    let producer = connect(fwd).await?;
    let publisher = Arc::new(ImagePublisher::from_file(
        &Name::from_uri("/picasso")?,
        image,
        None,
        file,
        unix_ms(),
        SEGMENT_SIZE,
        key,
    )?);
    publisher.serve(&producer).await?;
    Ok(producer)
}

/// `picasso bench image-serve`: publishes, says `ready`, serves until
/// standard input closes.
async fn image_serve(args: &ImageServeArgs) -> anyhow::Result<()> {
    use tokio::io::AsyncReadExt;
    let pair = keys::load_key_pair(&args.key)?;
    let key = pair.signer(Name::from_uri("/picasso/bench/KEY")?);
    let _producer = publish(&args.fwd, &args.file, &args.image, &key).await?;
    println!("ready");
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    Ok(())
}

/// Publishes the archive, deploys, and (unless --keep) removes.
async fn deploy(args: &DeployArgs) -> anyhow::Result<Value> {
    let root = Name::from_uri("/picasso")?;
    let pair = keys::load_key_pair(&args.orchestrator_key)?;
    let signer = pair.signer(Name::from_uri("/picasso/orchestrator/KEY")?);
    let repo = connect(&args.fwd).await?;
    let orchestrator = connect(&args.fwd).await?;
    let publisher = Arc::new(ImagePublisher::from_file(
        &root,
        &args.image,
        Some(&args.tag),
        &args.archive,
        unix_ms(),
        SEGMENT_SIZE,
        &signer,
    )?);
    publisher.serve(&repo).await?;
    let send = |verb: &str, params: Value| {
        let i = signed_command(
            &root,
            &args.node,
            verb,
            params.to_string().as_bytes(),
            &signer,
            Duration::from_secs(120),
        );
        let c = orchestrator.clone();
        let verb = verb.to_owned();
        async move {
            let d = c
                .express(i)
                .await
                .with_context(|| format!("no reply to {verb}"))?;
            anyhow::Ok(serde_json::from_slice::<Value>(&d.content())?)
        }
    };
    let t = Instant::now();
    let reply = send(
        "deploy",
        json!({
            "imageName": args.image, "serviceName": args.service,
            "port_host": args.port, "port_container": 80, "healthPath": "/index.html"
        }),
    )
    .await?;
    let wall_ms = t.elapsed().as_secs_f64() * 1e3;
    anyhow::ensure!(reply["containerId"].is_string(), "deploy failed: {reply}");
    if !args.keep {
        let r = send("remove", json!({"serviceName": args.service})).await?;
        anyhow::ensure!(r["removed"].is_array(), "remove failed: {r}");
    }
    Ok(json!({"wallMs": wall_ms, "reply": reply}))
}

/// The transport of `bench ping`.
#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum TransportArg {
    /// Unix stream sockets.
    Unix,
    /// UDP on loopback.
    Udp,
}

/// Arguments of `picasso bench ping`.
#[derive(Args, Debug)]
pub struct PingArgs {
    /// A running forwarder to go through (unix:PATH or udp:HOST:PORT);
    /// default: an in-process forwarder on --transport.
    #[arg(long)]
    fwd: Option<String>,
    /// Where the producer registers when --fwd is udp: (UDP faces are
    /// non-local and cannot register); default unix:/run/nfd/nfd.sock.
    #[arg(long)]
    producer_fwd: Option<String>,
    /// Consumers talk straight to the producer (the baseline).
    #[arg(long)]
    direct: bool,
    /// Transport of the in-process forwarder or the direct producer.
    #[arg(long, value_enum, default_value = "unix")]
    transport: TransportArg,
    /// Concurrent consumers.
    #[arg(long, default_value_t = 8)]
    consumers: usize,
    /// Interests each consumer keeps in flight (1: the next is sent when
    /// the previous is answered, like ndnping; more: a pipelined consumer).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=256))]
    window: u64,
    /// Measured seconds.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Data content bytes.
    #[arg(long, default_value_t = 100)]
    payload: usize,
    /// Tokio worker threads (0: single-threaded).
    #[arg(long, default_value_t = 2)]
    worker_threads: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

impl LoadArgs {
    fn load(&self) -> Load {
        Load {
            concurrency: usize::try_from(self.concurrency).unwrap_or(usize::MAX),
            requests: self.requests,
            duration: self.duration.map(Duration::from_secs_f64),
            timeout: Duration::from_millis(self.timeout_ms),
            progress: Progress::new(),
        }
    }
}

/// A library error about a field, told with the flag that sets it.
fn flag_error(e: LoadgenError) -> anyhow::Error {
    match e {
        LoadgenError::Invalid { field, reason } => {
            let flag = match field {
                "concurrency" => "-c/--concurrency",
                "requests" => "-n/--requests",
                "duration" => "--duration",
                "timeout" => "--timeout-ms",
                "segmentWindow" => "--segment-window",
                "url" => "URL",
                "name" => "NAME",
                other => other,
            };
            anyhow::anyhow!("invalid {flag}: {reason}")
        }
        other => other.into(),
    }
}

/// Runs a load on a runtime of `threads` workers, showing progress on a
/// terminal, and prints the report.
fn run_load<F>(args: &LoadArgs, target: &str, load: Load, go: F) -> anyhow::Result<()>
where
    F: std::future::Future<Output = anyhow::Result<Report>>,
{
    let rt = super::runtime(if args.threads <= 1 { 0 } else { args.threads })?;
    let progress = load.progress.clone();
    let show = !args.json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let report = rt.block_on(async move {
        if show {
            eprintln!("Benchmarking {target} ({} users)…", load.concurrency);
            let total = load.requests;
            let p = progress.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                tick.tick().await;
                let mut last = 0;
                loop {
                    tick.tick().await;
                    let s = p.snapshot();
                    let of = total.map(|n| format!("/{n}")).unwrap_or_default();
                    eprint!(
                        "\r  {}{of} requests, {} req/s, {} failed   ",
                        s.completed,
                        s.completed - last,
                        s.failures()
                    );
                    last = s.completed;
                }
            });
        }
        let r = go.await;
        if show {
            eprintln!();
        }
        r
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", summary(&report));
    }
    Ok(())
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
}

/// ab's summary, for a person.
fn summary(r: &Report) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let mode = match r.keep_alive {
        Some(true) => " (keep-alive)",
        Some(false) => " (a connection per request)",
        None => "",
    };
    let _ = writeln!(
        o,
        "Target:                 {} {}{mode}",
        r.protocol, r.target
    );
    let _ = writeln!(o, "Concurrency level:      {}", r.concurrency);
    let _ = writeln!(o, "Time taken for tests:   {:.3} seconds", r.duration_sec);
    let _ = writeln!(o, "Complete requests:      {}", r.requests);
    let _ = writeln!(
        o,
        "Successful requests:    {} ({:.2}%)",
        r.successes,
        r.success_rate * 100.0
    );
    let _ = writeln!(o, "Failed requests:        {}", r.failed());
    if !r.failures.is_empty() {
        let kinds: Vec<String> = r
            .failures
            .iter()
            .map(|(k, n)| format!("{}: {n}", k.as_str()))
            .collect();
        let _ = writeln!(o, "   ({})", kinds.join(", "));
    }
    let _ = writeln!(o, "Body bytes received:    {} bytes", r.bytes);
    let _ = writeln!(
        o,
        "Requests per second:    {:.2} [#/sec] (mean)",
        r.throughput
    );
    let _ = writeln!(
        o,
        "Time per request:       {} [ms] (mean, successful requests)",
        fmt_ms(r.mean_ms)
    );
    let _ = writeln!(o);
    let _ = writeln!(o, "Latency of the successful requests (ms)");
    for (label, v) in [
        ("min", r.min_ms),
        ("50%", r.p50_ms),
        ("95%", r.p95_ms),
        ("99%", r.p99_ms),
        ("max", r.max_ms),
    ] {
        let _ = writeln!(o, "  {label:>4}  {:>10}", fmt_ms(v));
    }
    o
}

/// Runs a `picasso bench` subcommand.
pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Ping(a) => {
            let fwd: Option<FaceAddr> = match &a.fwd {
                Some(f) => Some(f.parse().map_err(anyhow::Error::msg)?),
                None => None,
            };
            let config = PingConfig {
                transport: match a.transport {
                    TransportArg::Unix => Transport::Unix,
                    TransportArg::Udp => Transport::Udp,
                },
                fwd,
                direct: a.direct,
                consumers: a.consumers,
                window: a.window as usize,
                duration: Duration::from_secs_f64(a.duration.clamp(0.1, 3600.0)),
                payload: a.payload,
                producer_fwd: match &a.producer_fwd {
                    Some(f) => Some(f.parse().map_err(anyhow::Error::msg)?),
                    None => None,
                },
            };
            let rt = super::runtime(a.worker_threads)?;
            let r = rt.block_on(ping(&config))?;
            if a.json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!(
                    "{} over {:?}, {} consumers × {} in flight: {:.0} exchanges/s, p50 {} µs, p99 {} µs, {} timeouts, {} nacks",
                    r.mode, r.transport, r.consumers, r.window, r.exchanges_per_sec, r.p50_us, r.p99_us, r.timeouts, r.nacks
                );
            }
            Ok(())
        }
        BenchCommand::ImageFetch(a) => {
            let threads = a
                .worker_threads
                .unwrap_or(if a.fwd.is_some() { 2 } else { 0 });
            let rt = super::runtime(threads)?;
            for r in rt.block_on(image_fetch(&a))? {
                println!("{r}");
            }
            Ok(())
        }
        BenchCommand::ImageServe(a) => {
            let rt = super::runtime(0)?;
            rt.block_on(image_serve(&a))
        }
        BenchCommand::Deploy(a) => {
            let rt = super::runtime(2)?;
            println!("{}", rt.block_on(deploy(&a))?);
            Ok(())
        }
        BenchCommand::Http(a) => {
            let config = HttpConfig {
                url: a.url.clone(),
                keep_alive: !a.no_keep_alive,
                load: a.load.load(),
            };
            let load = config.load.clone();
            run_load(&a.load, &a.url, load, async move {
                loadgen::http(&config).await.map_err(flag_error)
            })
        }
        BenchCommand::Ndn(a) => {
            let name =
                Name::from_uri(&a.name).with_context(|| format!("invalid NAME {:?}", a.name))?;
            let mut config = NdnConfig::new(name, a.load.load());
            config.segment_window = usize::try_from(a.segment_window).unwrap_or(16);
            let load = config.load.clone();
            let fwd = a.fwd.clone();
            run_load(&a.load, &a.name, load, async move {
                let client = connect(&fwd).await?;
                loadgen::ndn(&client, &config).await.map_err(flag_error)
            })
        }
    }
}
