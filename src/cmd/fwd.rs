//! `picasso fwd`: the forwarding daemon. Flags override the TOML config;
//! SIGTERM and SIGINT stop it cleanly (socket file removed, exit 0). Once
//! listening it prints one line `ready unix=… tcp=… udp=…` on stdout (the
//! bound ports, useful with port 0); logs go to stderr (`RUST_LOG`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use picasso_forwarder::daemon::{Config, Daemon, Neighbor};
use tokio_util::sync::CancellationToken;

/// Arguments of `picasso fwd`.
#[derive(Args, Debug)]
pub struct FwdArgs {
    /// TOML configuration file (flags override it).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Unix socket to listen on ("" disables; default /run/nfd/nfd.sock).
    #[arg(long)]
    unix: Option<String>,
    /// TCP address to listen on ("" disables; default 0.0.0.0:6363).
    #[arg(long)]
    tcp: Option<String>,
    /// UDP address to listen on ("" disables; default 0.0.0.0:6363).
    #[arg(long)]
    udp: Option<String>,
    /// A neighbour forwarder, udp://HOST:PORT (repeatable); routed for `/`.
    #[arg(long = "neighbor", value_name = "URI")]
    neighbors: Vec<String>,
    /// Tokio worker threads (0: single-threaded runtime).
    #[arg(long)]
    worker_threads: Option<usize>,
}

/// Builds the configuration from the file and the flags.
fn config(args: &FwdArgs) -> anyhow::Result<Config> {
    let mut c = match &args.config {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    };
    if let Some(u) = &args.unix {
        c.unix = u.clone();
    }
    if let Some(t) = &args.tcp {
        c.tcp = t.clone();
    }
    if let Some(u) = &args.udp {
        c.udp = u.clone();
    }
    c.neighbor
        .extend(args.neighbors.iter().map(|n| Neighbor::new(n)));
    if let Some(w) = args.worker_threads {
        c.worker_threads = w;
    }
    Ok(c)
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(args: FwdArgs) -> anyhow::Result<()> {
    let config = config(&args)?;
    let rt = super::runtime(config.worker_threads)?;
    rt.block_on(async move {
        use tokio::signal::unix::{signal, SignalKind};
        // Handlers first: a signal right after "ready" must stop us cleanly.
        let mut term =
            signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
        let mut int =
            signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;
        let daemon = Daemon::start(&config).await?;
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: stopping"),
                _ = int.recv() => tracing::info!("SIGINT: stopping"),
            }
            token.cancel();
        });
        println!("ready {}", daemon.endpoints());
        daemon.run(shutdown).await?;
        Ok(())
    })
}
