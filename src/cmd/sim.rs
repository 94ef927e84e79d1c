//! `picasso sim`: runs the orchestration engine's policies on a synthetic
//! network (the work is in `picasso_orchestrator::sim`) and prints a
//! comparison table, or JSON with `--json`.

use std::io::Write;

use anyhow::Context;
use clap::Args;
use picasso_orchestrator::engine::{policy_by_name, Policy, POLICIES};
use picasso_orchestrator::sim::{compare, Comparison, SimConfig, SimError};

/// Arguments of `picasso sim`.
#[derive(Args, Debug)]
pub struct SimArgs {
    /// Nodes (Raspberry Pis).
    #[arg(long, default_value_t = 1000)]
    nodes: usize,
    /// Services.
    #[arg(long, default_value_t = 200)]
    services: usize,
    /// Mean requests per second over all services.
    #[arg(long, default_value_t = 10_000.0)]
    rps: f64,
    /// Simulated time, s.
    #[arg(long, default_value_t = 3600)]
    duration: u64,
    /// threshold, qos, on-demand, or all.
    #[arg(long, default_value = "all")]
    policy: String,
    /// The seed (same seed, same scenario and results).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Node failures per simulated hour (default: 1 % of the nodes).
    #[arg(long)]
    failures_per_hour: Option<f64>,
    /// Mean time a failed node stays down, s.
    #[arg(long, default_value_t = 600.0)]
    mean_downtime: f64,
    /// Flash crowds per simulated hour.
    #[arg(long, default_value_t = 20.0)]
    flash_per_hour: f64,
    /// The diurnal period, s.
    #[arg(long, default_value_t = 3600.0)]
    day: f64,
    /// Print JSON (camelCase) instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `picasso sim`.
pub fn run(args: SimArgs) -> anyhow::Result<()> {
    let names: Vec<&str> = if args.policy == "all" {
        POLICIES.to_vec()
    } else {
        vec![args.policy.as_str()]
    };
    let policies: Vec<Box<dyn Policy>> = names
        .iter()
        .map(|n| policy_by_name(n).context("--policy"))
        .collect::<anyhow::Result<_>>()?;
    let cfg = SimConfig {
        nodes: args.nodes,
        services: args.services,
        rps: args.rps,
        duration_s: args.duration,
        seed: args.seed,
        day_s: args.day,
        flash_per_hour: args.flash_per_hour,
        failures_per_hour: args.failures_per_hour,
        mean_downtime_s: args.mean_downtime,
        ..SimConfig::default()
    };
    let c = compare(&cfg, &policies).map_err(|e| match e {
        SimError::Config { field, message } => anyhow::anyhow!("--{field}: {message}"),
        other => anyhow::anyhow!(other),
    })?;
    let text = if args.json {
        serde_json::to_string_pretty(&c)? + "\n"
    } else {
        table(&c)
    };
    // A closed pipe (`| head`) is not an error.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// The comparison as a text table, one column per policy.
pub fn table(c: &Comparison) -> String {
    let mut out = format!(
        "picasso sim: {} nodes, {} services, {} req/s, {} s simulated, seed {}\n\
         scenario: {} events ({} node failures, {} flash crowds), generated in {:.2} s\n\n",
        c.config.nodes,
        c.config.services,
        c.config.rps,
        c.config.duration_s,
        c.config.seed,
        c.events,
        c.node_failures,
        c.flash_crowds,
        c.generate_wall_s
    );
    let mut row =
        |label: &str, f: &dyn Fn(&picasso_orchestrator::sim::metrics::PolicyReport) -> String| {
            out.push_str(&format!("{label:<34}"));
            for p in &c.policies {
                out.push_str(&format!("{:>16}", f(p)));
            }
            out.push('\n');
        };
    row("policy", &|p| p.policy.clone());
    row("QoS violations (service-s)", &|p| {
        format!("{} / {}", p.violation_seconds, p.demanded_seconds)
    });
    row("service-s with >1% failed", &|p| {
        p.failing_seconds.to_string()
    });
    row("requests offered", &|p| {
        format!("{:.0}", p.requests_offered)
    });
    row("requests failed", &|p| format!("{:.0}", p.requests_failed));
    row("success rate", &|p| format!("{:.4}", p.success_rate));
    row("mean response (ms)", &|p| {
        format!("{:.1}", p.mean_response_ms)
    });
    row("p95 response (ms)", &|p| {
        format!("{:.0}", p.p95_response_ms)
    });
    row("replica-seconds", &|p| format!("{:.0}", p.replica_seconds));
    row("peak replicas", &|p| p.peak_replicas.to_string());
    row("deployments local / remote", &|p| {
        format!("{} / {}", p.deployments_local, p.deployments_remote)
    });
    row("deployments lost to failures", &|p| {
        p.deployments_failed.to_string()
    });
    row("deployments out of memory", &|p| {
        p.deployments_out_of_memory.to_string()
    });
    row("removals", &|p| p.removals.to_string());
    row("holds", &|p| p.holds.to_string());
    row("node losses costing replicas", &|p| {
        p.node_losses.to_string()
    });
    row("recovery mean / max (s)", &|p| {
        format!("{:.1} / {:.0}", p.mean_recovery_s, p.max_recovery_s)
    });
    row("never recovered", &|p| p.unrecovered.to_string());
    row("wall time (s)", &|p| format!("{:.1}", p.wall_s));
    row("  CPU time (s)", &|p| {
        p.cpu_s.map_or("-".to_owned(), |c| format!("{c:.1}"))
    });
    let simulated = c.config.duration_s as f64;
    row("  speed (simulated / wall)", &|p| {
        format!("{:.0}x", simulated / p.wall_s.max(1e-9))
    });
    row("  in engine::plan (s)", &|p| {
        format!("{:.1}", p.engine_wall_s)
    });
    row("  slowest plan (ms)", &|p| {
        format!("{:.1}", p.engine_max_tick_ms)
    });
    out
}
