//! `picasso node`: an edge node — forwarder and agent in one process (or
//! the agent attached to a forwarder that already runs). Flags override
//! the TOML config; SIGTERM and SIGINT stop it cleanly (exit 0). Once up
//! it prints one line on stdout,
//! `ready node=ID unix=… tcp=… udp=… http=ADDR metrics=ADDR monitor=NAME runtime=KIND key=HEX`
//! (bound ports, useful with port 0); logs go to stderr (`RUST_LOG`).
//!
//! `picasso keygen --out FILE` writes an Ed25519 key pair: FILE (the
//! 32-byte seed in hex, mode 0600) and FILE.pub (the public key in hex).

use std::path::PathBuf;

use clap::Args;
use picasso_agent::keys;
use picasso_agent::node::{Node, NodeConfig};

/// Arguments of `picasso node`.
#[derive(Args, Debug)]
pub struct NodeArgs {
    /// The node id (required here or in the config).
    #[arg(long)]
    id: Option<String>,
    /// TOML configuration file (flags override it).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The node's Ed25519 key file (default DATA_DIR/node.key, generated
    /// when absent).
    #[arg(long)]
    key: Option<PathBuf>,
    /// The orchestrator's Ed25519 public key file (verifies commands).
    #[arg(long)]
    orchestrator_key: Option<PathBuf>,
    /// Data directory (default /var/lib/picasso).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// HTTP ingress address ("" disables; default 127.0.0.1:8080).
    #[arg(long)]
    http: Option<String>,
    /// Prometheus metrics address ("" disables; default 127.0.0.1:9464).
    #[arg(long)]
    metrics: Option<String>,
    /// Attach to this forwarder instead of embedding one: unix:PATH or
    /// tcp:HOST:PORT (ours or NFD).
    #[arg(long, value_name = "FACE")]
    external_fwd: Option<String>,
    /// Container runtime: auto, docker or process.
    #[arg(long)]
    runtime: Option<String>,
    /// Monitoring interval in milliseconds (default 1000).
    #[arg(long)]
    monitor_interval_ms: Option<u64>,
    /// Address reported as PiIP (detected by default).
    #[arg(long)]
    ip: Option<String>,
    #[command(flatten)]
    fwd: super::EmbeddedFwdArgs,
}

/// Builds the configuration from the file and the flags.
fn config(args: NodeArgs) -> anyhow::Result<NodeConfig> {
    let mut c = match &args.config {
        Some(p) => NodeConfig::from_file(p)?,
        None => NodeConfig::default(),
    };
    let set = |dst: &mut String, v: Option<String>| {
        if let Some(v) = v {
            *dst = v;
        }
    };
    set(&mut c.id, args.id);
    set(&mut c.http, args.http);
    set(&mut c.metrics, args.metrics);
    set(&mut c.runtime, args.runtime);
    if let Some(d) = args.data_dir {
        c.data_dir = d;
    }
    c.key = args.key.or(c.key);
    c.orchestrator_key = args.orchestrator_key.or(c.orchestrator_key);
    c.external_fwd = args.external_fwd.or(c.external_fwd);
    c.monitor.ip = args.ip.or(c.monitor.ip);
    if let Some(ms) = args.monitor_interval_ms {
        c.monitor.interval_ms = ms;
    }
    args.fwd.apply(&mut c.forwarder);
    anyhow::ensure!(
        !c.id.is_empty(),
        "a node id is needed: --id ID or id in the config"
    );
    Ok(c)
}

/// Runs the node until SIGTERM or SIGINT.
pub fn run(args: NodeArgs) -> anyhow::Result<()> {
    let config = config(args)?;
    let rt = super::runtime(config.forwarder.worker_threads)?;
    rt.block_on(async move {
        let shutdown = super::shutdown_on_signals()?;
        let node = Node::start(&config).await?;
        println!(
            "ready node={} {} monitor={} runtime={} key={}",
            node.id(),
            node.endpoints(),
            node.monitor_name().to_uri(),
            node.runtime().kind(),
            node.key().public_hex()
        );
        node.run(shutdown).await;
        Ok(())
    })
}

/// Arguments of `picasso keygen`.
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// The private key file to write (its public key goes to FILE.pub).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

/// Writes a key pair and prints the public key in hex.
pub fn keygen(args: KeygenArgs) -> anyhow::Result<()> {
    let pair = keys::generate_key_files(&args.out, args.force)?;
    println!("{}", pair.public_hex());
    Ok(())
}
