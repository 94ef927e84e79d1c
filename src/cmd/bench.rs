//! `picasso bench …`: benchmarks. `ping` measures Interest/Data exchanges
//! through a forwarder against the same-run direct baseline; the work is in
//! `picasso_forwarder::bench`.

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use picasso_forwarder::app::FaceAddr;
use picasso_forwarder::bench::{ping, PingConfig, Transport};

/// Subcommands of `picasso bench`.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// N concurrent consumers against one producer, through a forwarder
    /// (or --direct, with none in between).
    Ping(PingArgs),
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
                    "{} over {:?}, {} consumers: {:.0} exchanges/s, p50 {} µs, p99 {} µs, {} timeouts, {} nacks",
                    r.mode, r.transport, r.consumers, r.exchanges_per_sec, r.p50_us, r.p99_us, r.timeouts, r.nacks
                );
            }
            Ok(())
        }
    }
}
