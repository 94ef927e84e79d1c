//! `picasso fwd`: the forwarding daemon. Flags override the TOML config;
//! SIGTERM and SIGINT stop it cleanly (socket file removed, exit 0). Once
//! listening it prints one line `ready unix=… tcp=… udp=…` on stdout (the
//! bound ports, useful with port 0, and `node=NAME` when the router runs);
//! logs go to stderr (`RUST_LOG`).

use std::path::PathBuf;

use clap::Args;
use picasso_forwarder::daemon::{Config, Daemon, Neighbor};

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
    /// A neighbour forwarder, udp://HOST:PORT or NAME=udp://HOST:PORT
    /// (repeatable). It becomes a routing neighbour (its name learned by
    /// probing when not given); with --no-routing it gets a route for `/`.
    #[arg(long = "neighbor", value_name = "[NAME=]URI")]
    neighbors: Vec<String>,
    /// This node's routing name (default: host name and UDP port).
    #[arg(long, value_name = "NAME")]
    node_name: Option<String>,
    /// Milliseconds between routing hellos (default 1000); a neighbour is
    /// lost after 3 unanswered intervals.
    #[arg(long, value_name = "MS")]
    hello_interval: Option<u64>,
    /// Discover neighbours by multicast on NFD's group (224.0.23.170:56363).
    #[arg(long)]
    multicast: bool,
    /// Address of the interface to join the multicast group on.
    #[arg(long, value_name = "IP")]
    multicast_iface: Option<String>,
    /// Do not run the router (neighbours then get static routes only).
    #[arg(long, conflicts_with = "multicast")]
    no_routing: bool,
    /// Most microseconds the forwarder busy-polls for the next packet
    /// before sleeping (adaptive; 0: never; default 200).
    #[arg(long, value_name = "US")]
    busy_poll_us: Option<u64>,
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
    if let Some(us) = args.busy_poll_us {
        c.busy_poll_us = us;
    }
    if let Some(w) = args.worker_threads {
        c.worker_threads = w;
    }
    if let Some(n) = &args.node_name {
        c.routing.node_name = n.clone();
    }
    if let Some(ms) = args.hello_interval {
        c.routing.hello_interval_ms = ms;
    }
    if args.multicast {
        c.routing.multicast = true;
    }
    if let Some(i) = &args.multicast_iface {
        c.routing.multicast_iface = i.clone();
    }
    if args.no_routing {
        c.routing.enabled = false;
    }
    Ok(c)
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(args: FwdArgs) -> anyhow::Result<()> {
    let config = config(&args)?;
    let rt = super::runtime(config.worker_threads)?;
    rt.block_on(async move {
        let shutdown = super::shutdown_on_signals()?;
        let daemon = Daemon::start(&config).await?;
        match daemon.node_name() {
            Some(node) => println!("ready {} node={node}", daemon.endpoints()),
            None => println!("ready {}", daemon.endpoints()),
        }
        daemon.run(shutdown).await?;
        Ok(())
    })
}
