//! `picasso testbed` end to end with the process runtime: an orchestrator
//! and two nodes as separate processes, the sample service registered,
//! deployed, asked by name and over HTTP, loaded; the JSON summary holds
//! what the issue names; nothing is left running afterwards.

#[path = "support/fwd.rs"]
mod fwd;
#[path = "support/testbed.rs"]
mod summary;

use std::time::Duration;

use anyhow::ensure;
use fwd::run;
use summary::{check_summary, run_testbed};

/// Processes whose command line mentions `marker`.
fn processes_mentioning(marker: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            if String::from_utf8_lossy(&cmd).contains(marker) {
                pids.push(pid);
            }
        }
    }
    pids
}

#[test]
fn a_process_test_bed_runs_and_cleans_up() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (text, work, summary) =
        run_testbed("process", "tbp", dir.path(), Duration::from_secs(240))?;
    ensure!(text.contains("runtime: process"), "{text}");
    ensure!(text.contains("by name:"), "{text}");
    ensure!(text.contains("== PiCasso test bed: summary =="), "{text}");
    check_summary(&summary, "process", "tbp")?;
    let left = processes_mentioning(work.to_str().unwrap());
    ensure!(left.is_empty(), "processes left running: {left:?}");
    Ok(())
}

#[test]
fn bad_flags_are_refused_naming_them() {
    for (args, want) in [
        (&["testbed", "--duration", "0"][..], "--duration"),
        (&["testbed", "--nodes", "0"][..], "--nodes"),
        (
            &["testbed", "--runtime", "podman", "--duration", "1"][..],
            "runtime",
        ),
        (
            &[
                "testbed",
                "--node-prefix",
                "a/b",
                "--runtime",
                "process",
                "--duration",
                "1",
            ][..],
            "node prefix",
        ),
        (&["experiments", "--only", "fig4"][..], "--only"),
    ] {
        let e = run(args, Duration::from_secs(60)).unwrap_err().to_string();
        assert!(e.contains(want), "{args:?}: {e}");
    }
}
