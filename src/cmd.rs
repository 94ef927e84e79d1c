//! One module per command group, and what they share.

pub mod bench;
pub mod fwd;
pub mod images;
pub mod name;
pub mod nfdc;
pub mod node;
pub mod orchestrator;
pub mod packet;
pub mod sim;
pub mod testbed;
pub mod transfer;

/// The flags of a forwarder embedded in `picasso node` or `picasso
/// orchestrator` (they override its `[forwarder]` config section).
#[derive(clap::Args, Debug)]
pub struct EmbeddedFwdArgs {
    /// Embedded forwarder: Unix socket ("" disables; default /run/nfd/nfd.sock).
    #[arg(long)]
    fwd_unix: Option<String>,
    /// Embedded forwarder: TCP address ("" disables; default 0.0.0.0:6363).
    #[arg(long)]
    fwd_tcp: Option<String>,
    /// Embedded forwarder: UDP address ("" disables; default 0.0.0.0:6363).
    #[arg(long)]
    fwd_udp: Option<String>,
    /// Embedded forwarder: a neighbour, udp://HOST:PORT (repeatable).
    #[arg(long = "fwd-neighbor", value_name = "URI")]
    fwd_neighbors: Vec<String>,
    /// Most microseconds the embedded forwarder busy-polls for the next packet
    /// before sleeping (adaptive; 0: never; default 200).
    #[arg(long, value_name = "US")]
    fwd_busy_poll_us: Option<u64>,
    /// Tokio worker threads (0: single-threaded runtime, the default).
    #[arg(long)]
    worker_threads: Option<usize>,
}

impl EmbeddedFwdArgs {
    /// Applies the flags given to `c`.
    pub fn apply(self, c: &mut picasso_forwarder::daemon::Config) {
        if let Some(u) = self.fwd_unix {
            c.unix = u;
        }
        if let Some(t) = self.fwd_tcp {
            c.tcp = t;
        }
        if let Some(u) = self.fwd_udp {
            c.udp = u;
        }
        c.neighbor.extend(
            self.fwd_neighbors
                .iter()
                .map(|n| picasso_forwarder::daemon::Neighbor::new(n)),
        );
        if let Some(us) = self.fwd_busy_poll_us {
            c.busy_poll_us = us;
        }
        if let Some(w) = self.worker_threads {
            c.worker_threads = w;
        }
    }
}

/// Installs SIGTERM and SIGINT handlers at once (a signal that comes right
/// after "ready" must stop the daemon cleanly) and returns a token cancelled
/// by the first of them. Call within a runtime, before starting.
pub fn shutdown_on_signals() -> anyhow::Result<tokio_util::sync::CancellationToken> {
    use anyhow::Context;
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let token = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
            _ = int.recv() => tracing::info!("SIGINT: stopping"),
        }
        token.cancel();
    });
    Ok(shutdown)
}

/// A tokio runtime: single-threaded for 0 workers, else multi-threaded.
pub fn runtime(workers: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    let rt = if workers == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()?
    };
    Ok(rt)
}

/// Logs to stderr, filtered by `RUST_LOG` (default `default_level`).
pub fn init_tracing(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
