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
