//! `picasso sim` end to end: the JSON shape (camelCase, one report per
//! policy), the same seed giving the same figures, and bad input refused
//! with the flag named.

#[path = "support/fwd.rs"]
mod fwd;

use std::process::Command;
use std::time::Duration;

use fwd::{run, PICASSO};
use serde_json::Value;

const ARGS: [&str; 11] = [
    "sim",
    "--nodes",
    "40",
    "--services",
    "8",
    "--rps",
    "400",
    "--duration",
    "120",
    "--seed",
    "9",
];

fn sim_json() -> Value {
    let mut args = ARGS.to_vec();
    args.push("--json");
    let out = run(&args, Duration::from_secs(120)).expect("picasso sim runs");
    serde_json::from_slice(&out).expect("picasso sim --json prints JSON")
}

#[test]
fn sim_json_compares_every_policy_and_is_deterministic() {
    let a = sim_json();
    let policies = a["policies"].as_array().expect("policies");
    let names: Vec<&str> = policies
        .iter()
        .map(|p| p["policy"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["threshold", "qos", "on-demand"]);
    for p in policies {
        for key in [
            "violationSeconds",
            "requestsFailed",
            "replicaSeconds",
            "deploymentsLocal",
            "deploymentsRemote",
            "meanResponseMs",
            "p95ResponseMs",
            "meanRecoveryS",
            "wallS",
        ] {
            assert!(p.get(key).is_some(), "{key} missing in {p}");
        }
        assert!(p["requestsOffered"].as_f64().unwrap() > 10_000.0, "{p}");
    }
    assert_eq!(a["config"]["nodes"], 40);
    let b = sim_json();
    for (x, y) in policies.iter().zip(b["policies"].as_array().unwrap()) {
        for key in [
            "violationSeconds",
            "requestsServed",
            "replicaSeconds",
            "removals",
        ] {
            assert_eq!(x[key], y[key], "{key} differs between runs of one seed");
        }
    }
}

#[test]
fn sim_table_and_refusals() {
    let out = run(&ARGS, Duration::from_secs(120)).expect("picasso sim runs");
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("QoS violations (service-s)"), "{text}");
    assert!(
        text.contains("threshold") && text.contains("on-demand"),
        "{text}"
    );
    for (args, want) in [
        (vec!["sim", "--nodes", "0"], "--nodes:"),
        (vec!["sim", "--policy", "fastest"], "--policy"),
        (vec!["sim", "--duration", "0"], "--duration:"),
    ] {
        let o = Command::new(PICASSO).args(&args).output().unwrap();
        assert!(!o.status.success(), "{args:?} accepted");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
