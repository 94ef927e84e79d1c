//! `picasso testbed`: the local test bed (see the picasso-testbed crate).

use std::path::PathBuf;

use clap::Args;
use picasso_testbed::demo::{self, Options};

/// Arguments of `picasso testbed`.
#[derive(Args, Debug)]
pub struct TestbedArgs {
    /// Emulated Raspberry Pis (each a `picasso node` process).
    #[arg(long, default_value_t = 4)]
    nodes: usize,
    /// Seconds of load on the sample service.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Write the JSON summary here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Container runtime of the nodes: auto, docker or process.
    #[arg(long, default_value = "auto")]
    runtime: String,
    /// CPUs of each emulated Pi (its containers' quota; 0: no quota).
    #[arg(long, default_value_t = 0.4)]
    cpus: f64,
    /// RTT of every link in ms (0: no added latency).
    #[arg(long, default_value_t = 5.0)]
    rtt_ms: f64,
    /// The orchestrator's policy: threshold, qos or on-demand.
    #[arg(long, default_value = "threshold")]
    policy: String,
    /// Concurrent users of the load.
    #[arg(long, default_value_t = 100)]
    users: usize,
    /// Working directory (logs, keys, data); default a fresh temp dir.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Node ids are PREFIX1, PREFIX2, … (two test beds on one machine
    /// need distinct prefixes).
    #[arg(long, default_value = "pi")]
    node_prefix: String,
}

/// Runs the test bed until done or interrupted (Ctrl-C stops every
/// process and removes the containers).
pub fn run(args: TestbedArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.nodes >= 1, "--nodes: at least 1");
    anyhow::ensure!(args.duration >= 1, "--duration: at least 1 second");
    anyhow::ensure!(args.users >= 1, "--users: at least 1");
    anyhow::ensure!(
        args.cpus >= 0.0 && args.cpus.is_finite(),
        "--cpus: a number ≥ 0"
    );
    anyhow::ensure!(
        args.rtt_ms >= 0.0 && args.rtt_ms.is_finite(),
        "--rtt-ms: a number ≥ 0"
    );
    let opts = Options {
        nodes: args.nodes,
        duration: args.duration,
        json: args.json,
        runtime: args.runtime,
        cpus: args.cpus,
        rtt_ms: args.rtt_ms,
        policy: args.policy,
        users: args.users,
        dir: args.dir,
        bin: None,
        node_prefix: args.node_prefix,
    };
    let rt = super::runtime(2)?;
    rt.block_on(async move {
        let stop = stop_signal()?;
        tokio::select! {
            r = demo::run(opts) => r.map(|_| ()),
            // Dropping the run stops the cluster (processes, containers, cgroups).
            s = stop => anyhow::bail!("{s}: the test bed was stopped and cleaned up"),
        }
    })
}

/// Arguments of `picasso experiments`.
#[derive(Args, Debug)]
pub struct ExperimentsArgs {
    /// Report directory (report.md, PNG plots, results.json).
    #[arg(long, default_value = "report")]
    out: PathBuf,
    /// Only these parts: fig3, fig5 (Figs. 5–8), fig9, loop (repeatable).
    #[arg(long = "only", value_name = "PART")]
    only: Vec<String>,
    /// Requests per user in Figs. 5–8 (the paper: 100).
    #[arg(long, default_value_t = 100)]
    requests_per_user: usize,
    /// Requests per point of the Fig. 3 sweep (the paper: 10000).
    #[arg(long, default_value_t = 5000)]
    sweep_requests: usize,
    /// User counts of the Fig. 3 sweep, comma-separated.
    #[arg(
        long,
        default_value = "5,10,50,100,200,500,1000",
        value_delimiter = ','
    )]
    sweep: Vec<usize>,
    /// CPUs of each emulated Pi.
    #[arg(long, default_value_t = 0.4)]
    cpus: f64,
    /// RTT of every link in ms.
    #[arg(long, default_value_t = 5.0)]
    rtt_ms: f64,
    /// Container runtime of the nodes: auto, docker or process.
    #[arg(long, default_value = "auto")]
    runtime: String,
    /// Seconds of the closed-loop (qos) run; 0 skips it.
    #[arg(long, default_value_t = 90)]
    closed_loop_secs: u64,
    /// Working directory; default a fresh temp dir.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Load through each node's HTTP ingress (PiCasso's path) instead of
    /// straight to the containers' ports (the paper's method).
    #[arg(long)]
    via_ingress: bool,
    /// Only write the report (into --out) from an earlier run's
    /// results.json; runs nothing.
    #[arg(long, value_name = "FILE")]
    report_from: Option<PathBuf>,
}

/// Runs the paper's experiments and writes the report.
pub fn experiments(args: ExperimentsArgs) -> anyhow::Result<()> {
    if let Some(file) = &args.report_from {
        use anyhow::Context;
        let json = std::fs::read(file)
            .with_context(|| format!("--report-from: cannot read {}", file.display()))?;
        let results: picasso_testbed::experiments::Results = serde_json::from_slice(&json)
            .with_context(|| format!("--report-from: {} is not a results.json", file.display()))?;
        std::fs::create_dir_all(&args.out)?;
        let report = picasso_testbed::experiments::write_report(&args.out, &results)?;
        println!("report written to {}", report.display());
        return Ok(());
    }
    for p in &args.only {
        anyhow::ensure!(
            ["fig3", "fig5", "fig9", "loop"].contains(&p.as_str()),
            "--only: {p:?} is not fig3, fig5, fig9 or loop"
        );
    }
    anyhow::ensure!(
        args.requests_per_user >= 1,
        "--requests-per-user: at least 1"
    );
    anyhow::ensure!(
        !args.sweep.is_empty() && !args.sweep.contains(&0),
        "--sweep: user counts ≥ 1"
    );
    let opts = picasso_testbed::experiments::ExpOptions {
        out: args.out,
        requests_per_user: args.requests_per_user,
        sweep_requests: args.sweep_requests,
        sweep: args.sweep,
        cpus: args.cpus,
        rtt_ms: args.rtt_ms,
        runtime: args.runtime,
        bin: None,
        dir: args.dir,
        closed_loop_secs: args.closed_loop_secs,
        only: args.only,
        via_ingress: args.via_ingress,
    };
    let rt = super::runtime(2)?;
    rt.block_on(async move {
        let stop = stop_signal()?;
        tokio::select! {
            r = picasso_testbed::experiments::run(opts) => r.map(|_| ()),
            s = stop => anyhow::bail!("{s}: the test bed was stopped and cleaned up"),
        }
    })
}

/// Resolves with the signal's name on SIGINT, SIGTERM or SIGHUP (the run
/// is then dropped, which stops and cleans up the test bed).
fn stop_signal() -> anyhow::Result<impl std::future::Future<Output = &'static str>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => "interrupted (SIGINT)",
            _ = term.recv() => "terminated (SIGTERM)",
            _ = hup.recv() => "hung up (SIGHUP)",
        }
    })
}
