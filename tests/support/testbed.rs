//! What every `picasso testbed` test checks in the JSON summary.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::ensure;
use serde_json::Value;

/// Checks a summary's fields; returns it.
pub fn check_summary(path: &Path, runtime: &str, prefix: &str) -> anyhow::Result<Value> {
    let s: Value = serde_json::from_slice(&std::fs::read(path)?)?;
    ensure!(s["runtime"] == runtime, "runtime: {s}");
    ensure!(
        s["nodes"] == serde_json::json!([format!("{prefix}1"), format!("{prefix}2")]),
        "nodes: {}",
        s["nodes"]
    );
    ensure!(
        s["services"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == "S1")),
        "services: {}",
        s["services"]
    );
    let requests = s["requests"].as_u64().unwrap_or(0);
    ensure!(requests >= 40, "requests: {requests}");
    let rate = s["successRate"].as_f64().unwrap_or(0.0);
    ensure!(rate >= 0.9, "successRate: {rate}");
    for k in ["replicationsLocal", "replicationsRemote"] {
        ensure!(s[k].is_u64(), "{k}: {}", s[k]);
    }
    let decisions = s["decisions"].as_array().cloned().unwrap_or_default();
    ensure!(!decisions.is_empty(), "no decisions: {s}");
    for d in &decisions {
        ensure!(
            d["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "a decision without a reason: {d}"
        );
    }
    ensure!(
        !s["timeline"].as_array().unwrap_or(&Vec::new()).is_empty(),
        "no load timeline: {s}"
    );
    Ok(s)
}

/// Runs `picasso testbed` with 2 nodes, 6 s of load by 10 users, node ids
/// `<prefix>1..2`, in `dir`; returns its output, its working directory
/// and the JSON summary's path.
pub fn run_testbed(
    runtime: &str,
    prefix: &str,
    dir: &Path,
    timeout: Duration,
) -> anyhow::Result<(String, PathBuf, PathBuf)> {
    let work = dir.join("bed");
    let summary = dir.join("summary.json");
    let out = crate::fwd::run(
        &[
            "testbed",
            "--runtime",
            runtime,
            "--nodes",
            "2",
            "--duration",
            "6",
            "--users",
            "10",
            "--node-prefix",
            prefix,
            "--dir",
            work.to_str().unwrap_or_default(),
            "--json",
            summary.to_str().unwrap_or_default(),
        ],
        timeout,
    )?;
    Ok((String::from_utf8_lossy(&out).into_owned(), work, summary))
}
