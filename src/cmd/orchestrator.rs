//! `picasso orchestrator` (the process: flags override the TOML config;
//! SIGTERM and SIGINT stop it cleanly) and the client commands that talk
//! to its API: `status`, `repo`, `deploy`, `scale`, `policy`.
//!
//! Once up the orchestrator prints one line on stdout,
//! `ready orchestrator=ID unix=… tcp=… udp=… api=ADDR policy=NAME key=HEX`;
//! logs go to stderr (`RUST_LOG`). The client commands reach the API at
//! `--api URL`, else `$PICASSO_API`, else http://127.0.0.1:7070; a
//! refusal is printed with its reason and exits non-zero.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use picasso_orchestrator::client::{escape_segment, ApiClient, Body};
use picasso_orchestrator::server::{Orchestrator, OrchestratorConfig};
use serde_json::{json, Value};

/// Arguments of `picasso orchestrator`.
#[derive(Args, Debug)]
pub struct OrchestratorArgs {
    /// Its id (default "orchestrator").
    #[arg(long)]
    id: Option<String>,
    /// TOML configuration file (flags override it).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The Ed25519 key file (default DATA_DIR/orchestrator.key, generated
    /// when absent; its .pub is what nodes get as --orchestrator-key).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Data directory: repo, desired state, enrolled nodes, policy
    /// (default /var/lib/picasso-orchestrator).
    #[arg(long, alias = "data")]
    data_dir: Option<PathBuf>,
    /// HTTP API and /metrics address (default 127.0.0.1:7070).
    #[arg(long)]
    api: Option<String>,
    /// Policy: threshold, qos or on-demand (default: the one chosen last,
    /// else threshold).
    #[arg(long)]
    policy: Option<String>,
    /// Milliseconds between engine ticks (default 1000).
    #[arg(long)]
    tick_ms: Option<u64>,
    /// Milliseconds between monitoring polls (default 1000).
    #[arg(long)]
    monitor_interval_ms: Option<u64>,
    /// Enroll a node: ID=PUBKEYFILE (its key's .pub file; repeatable).
    #[arg(long, value_name = "ID=PUBKEYFILE")]
    enroll: Vec<String>,
    #[command(flatten)]
    fwd: super::EmbeddedFwdArgs,
}

fn config(args: OrchestratorArgs) -> anyhow::Result<OrchestratorConfig> {
    let mut c = match &args.config {
        Some(p) => OrchestratorConfig::from_file(p)?,
        None => OrchestratorConfig::default(),
    };
    let set = |dst: &mut String, v: Option<String>| {
        if let Some(v) = v {
            *dst = v;
        }
    };
    set(&mut c.id, args.id);
    set(&mut c.api, args.api);
    if let Some(d) = args.data_dir {
        c.data_dir = d;
    }
    c.key = args.key.or(c.key);
    c.policy = args.policy.or(c.policy);
    if let Some(ms) = args.tick_ms {
        c.tick_ms = ms;
    }
    if let Some(ms) = args.monitor_interval_ms {
        c.monitor_interval_ms = ms;
    }
    c.enroll.extend(args.enroll);
    args.fwd.apply(&mut c.forwarder);
    Ok(c)
}

/// Runs the orchestrator until SIGTERM or SIGINT.
pub fn run(args: OrchestratorArgs) -> anyhow::Result<()> {
    let config = config(args)?;
    let rt = super::runtime(config.forwarder.worker_threads)?;
    rt.block_on(async move {
        let shutdown = super::shutdown_on_signals()?;
        let orch = Orchestrator::start(&config).await?;
        println!(
            "ready orchestrator={} {} policy={} key={}",
            orch.id(),
            orch.endpoints(),
            orch.policy(),
            orch.public_key_hex()
        );
        orch.run(shutdown).await;
        Ok(())
    })
}

/// Where the client commands find the API.
#[derive(Args, Debug, Clone)]
pub struct ApiArg {
    /// The orchestrator's API (default $PICASSO_API, else
    /// http://127.0.0.1:7070).
    #[arg(long, alias = "orchestrator", value_name = "URL", global = true)]
    api: Option<String>,
}

impl ApiArg {
    fn client(&self) -> anyhow::Result<ApiClient> {
        Ok(ApiClient::from_flag(self.api.as_deref())?)
    }
}

/// Arguments of `picasso status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    api: ApiArg,
    /// Print the API's JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// How many recent decisions to show.
    #[arg(long, default_value_t = 10)]
    decisions: usize,
    /// Show this forwarder's status instead (unix:PATH or tcp:HOST:PORT),
    /// as `nfdc status` does.
    #[arg(long, value_name = "FACE")]
    fwd: Option<String>,
}

/// `picasso repo …`.
#[derive(Subcommand, Debug)]
pub enum RepoCommand {
    /// Store a service spec (and the image it names).
    Add {
        /// The spec JSON file (the paper's par/QoS).
        #[arg(long, value_name = "FILE")]
        spec: PathBuf,
        /// A `docker save` archive stored as the spec's imageName.
        #[arg(long, value_name = "TAR")]
        image: Option<PathBuf>,
        /// The engine reference the archive loads as (default: its own).
        #[arg(long)]
        tag: Option<String>,
    },
    /// List specs and images.
    List {
        /// Print the API's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a service's spec (its replicas are removed), or an image.
    Remove {
        /// The service (or, with --image, the image).
        name: String,
        /// NAME is an image.
        #[arg(long)]
        image: bool,
    },
}

/// Arguments of `picasso repo`.
#[derive(Args, Debug)]
pub struct RepoArgs {
    #[command(flatten)]
    api: ApiArg,
    #[command(subcommand)]
    command: RepoCommand,
}

/// Arguments of `picasso deploy`.
#[derive(Args, Debug)]
pub struct DeployArgs {
    #[command(flatten)]
    api: ApiArg,
    /// The service.
    service: String,
    /// Run a replica on this node (kept there).
    #[arg(long)]
    node: Option<String>,
}

/// Arguments of `picasso scale`.
#[derive(Args, Debug)]
pub struct ScaleArgs {
    #[command(flatten)]
    api: ApiArg,
    /// The service.
    service: String,
    /// Replicas to keep.
    replicas: u32,
}

/// `picasso policy …`.
#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Choose the policy (threshold, qos, on-demand).
    Set {
        /// Its name.
        name: String,
    },
    /// Print the policy in use.
    Get,
}

/// Arguments of `picasso policy`.
#[derive(Args, Debug)]
pub struct PolicyArgs {
    #[command(flatten)]
    api: ApiArg,
    #[command(subcommand)]
    command: PolicyCommand,
}

fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.1}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// Prints rows as aligned columns.
fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 < r.len() {
                width[i] = width[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 < cells.len() {
                s.push_str(&format!("{c:<w$}  ", w = width[i]));
            } else {
                s.push_str(c);
            }
        }
        println!("{}", s.trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r.clone());
    }
}

fn clock(ms: &Value) -> String {
    let Some(ms) = ms.as_u64() else {
        return "-".to_owned();
    };
    let s = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        ms % 1000
    )
}

/// `picasso status`.
pub fn status(args: StatusArgs) -> anyhow::Result<()> {
    if let Some(fwd) = args.fwd {
        return super::nfdc::run(super::nfdc::NfdcCommand::Status {
            opts: super::nfdc::Opts::new(fwd, args.json),
        });
    }
    let c = args.api.client()?;
    let v = c.get(&format!("/api/status?decisions={}", args.decisions))?;
    if args.json {
        print_json(&v);
        return Ok(());
    }
    println!(
        "orchestrator {}  policy {}  api {}",
        text(&v["id"]),
        text(&v["policy"]),
        c.addr()
    );
    println!();
    let nodes: Vec<Vec<String>> = v["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            let containers = n["containers"].as_array().map_or(0, Vec::len);
            vec![
                text(&n["id"]),
                if n["reachable"] == true { "yes" } else { "NO" }.to_owned(),
                format!("{:.1}", n["cpuUsage"].as_f64().unwrap_or(0.0)),
                format!("{:.2}", n["load"].as_f64().unwrap_or(0.0)),
                format!("{:.1}", n["memUsage"].as_f64().unwrap_or(0.0)),
                containers.to_string(),
            ]
        })
        .collect();
    table(
        &["NODE", "REACHABLE", "CPU%", "LOAD", "MEM%", "CONTAINERS"],
        &nodes,
    );
    println!();
    let services: Vec<Vec<String>> = v["services"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let placed: Vec<String> = s["replicas"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| format!("{}#{}", text(&r["node"]), text(&r["replica"])))
                .collect();
            let q = &s["qos"];
            let qos = match s["qosMet"].as_bool() {
                Some(true) => "met".to_owned(),
                Some(false) => format!(
                    "NOT MET ({})",
                    q["unmet"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(text)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                None => "unmanaged".to_owned(),
            };
            let p95 = q["latencyP95Ms"]
                .as_f64()
                .map_or("-".to_owned(), |l| format!("{l:.0} ms"));
            vec![
                text(&s["name"]),
                placed.len().to_string(),
                s["inFlight"].as_array().map_or(0, Vec::len).to_string(),
                p95,
                placed.join(" "),
                qos,
            ]
        })
        .collect();
    table(
        &["SERVICE", "REPLICAS", "PENDING", "P95", "ON", "QOS"],
        &services,
    );
    println!();
    let decisions: Vec<Vec<String>> = v["decisions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            vec![
                clock(&d["time"]),
                text(&d["action"]),
                text(&d["service"]),
                text(&d["node"]),
                text(&d["reason"]),
            ]
        })
        .collect();
    table(&["TIME", "ACTION", "SERVICE", "NODE", "REASON"], &decisions);
    Ok(())
}

fn read_spec(path: &Path) -> anyhow::Result<(Vec<u8>, Value)> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read the spec {}", path.display()))?;
    let v: Value =
        serde_json::from_slice(&bytes).with_context(|| format!("{}: not JSON", path.display()))?;
    Ok((bytes, v))
}

/// `picasso repo`.
pub fn repo(args: RepoArgs) -> anyhow::Result<()> {
    let c = args.api.client()?;
    match args.command {
        RepoCommand::Add { spec, image, tag } => {
            let (bytes, v) = read_spec(&spec)?;
            if let Some(tar) = image {
                let name = v["par"]["imageName"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .context("par.imageName: missing (needed to store --image)")?;
                let mut path = format!("/api/repo/images/{}", escape_segment(name));
                if let Some(t) = &tag {
                    path.push_str(&format!("?tag={}", escape_segment(t)));
                }
                let r = c
                    .call("PUT", &path, Body::File(&tar))
                    .with_context(|| format!("storing the image {name}"))?;
                println!(
                    "image {name}: {} bytes, sha256 {}",
                    text(&r["size"]),
                    text(&r["sha256"])
                );
            }
            let r = c
                .call("POST", "/api/repo/specs", Body::Bytes(&bytes))
                .context("storing the spec")?;
            println!("spec {} stored", text(&r["stored"]));
        }
        RepoCommand::List { json } => {
            let v = c.get("/api/repo")?;
            if json {
                print_json(&v);
                return Ok(());
            }
            let specs: Vec<Vec<String>> = v["specs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    vec![
                        text(&s["serviceName"]),
                        text(&s["imageName"]),
                        if s["image"] == true { "yes" } else { "no" }.to_owned(),
                        format!(
                            "{}..{}",
                            text(&s["replicas"]["min"]),
                            text(&s["replicas"]["max"])
                        ),
                        text(&s["maxUsers"]),
                        text(&s["responseTime"]),
                    ]
                })
                .collect();
            table(
                &[
                    "SERVICE",
                    "IMAGE",
                    "STORED",
                    "REPLICAS",
                    "MAXUSERS",
                    "RESPONSE(s)",
                ],
                &specs,
            );
            println!();
            let images: Vec<Vec<String>> = v["images"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| {
                    vec![
                        text(&i["name"]),
                        text(&i["size"]),
                        text(&i["tag"]),
                        text(&i["sha256"]),
                    ]
                })
                .collect();
            table(&["IMAGE", "BYTES", "TAG", "SHA256"], &images);
        }
        RepoCommand::Remove { name, image } => {
            let path = if image {
                format!("/api/repo/images/{}", escape_segment(&name))
            } else {
                format!("/api/repo/{}", escape_segment(&name))
            };
            c.call("DELETE", &path, Body::Empty)?;
            println!("{} {name} removed", if image { "image" } else { "service" });
        }
    }
    Ok(())
}

/// `picasso deploy`.
pub fn deploy(args: DeployArgs) -> anyhow::Result<()> {
    let c = args.api.client()?;
    let mut body = json!({"service": args.service});
    if let Some(n) = &args.node {
        body["node"] = json!(n);
    }
    c.post("/api/deploy", &body)?;
    match &args.node {
        Some(n) => println!("{} will run on {n}", args.service),
        None => println!("{} will run", args.service),
    }
    Ok(())
}

/// `picasso scale`.
pub fn scale(args: ScaleArgs) -> anyhow::Result<()> {
    let c = args.api.client()?;
    c.post(
        "/api/scale",
        &json!({"service": args.service, "replicas": args.replicas}),
    )?;
    println!("{} scaled to {}", args.service, args.replicas);
    Ok(())
}

/// `picasso policy`.
pub fn policy(args: PolicyArgs) -> anyhow::Result<()> {
    let c = args.api.client()?;
    match args.command {
        PolicyCommand::Set { name } => {
            let v = c.post("/api/policy", &json!({"name": name}))?;
            println!("policy {}", text(&v["policy"]));
        }
        PolicyCommand::Get => {
            let v = c.get("/api/status?decisions=0")?;
            println!("{}", text(&v["policy"]));
        }
    }
    Ok(())
}
