//! What every `picasso testbed` test checks in the JSON summary.

use std::path::Path;

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
