//! `picasso testbed` on the real Docker engine: containers under each
//! node's CPU-quota cgroup; afterwards no container of the test bed's
//! nodes and no cgroup of theirs is left.

#[path = "support/fwd.rs"]
mod fwd;

use std::process::Command;
use std::time::Duration;

use anyhow::ensure;
use shared::run_testbed;

#[path = "support/testbed.rs"]
mod shared;

#[test]
fn a_docker_test_bed_runs_and_leaves_nothing_behind() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (text, _work, summary) =
        run_testbed("docker", "tbd", dir.path(), Duration::from_secs(400))?;
    ensure!(text.contains("runtime: docker"), "{text}");
    shared::check_summary(&summary, "docker", "tbd")?;
    for node in ["tbd1", "tbd2"] {
        let ps = Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                &format!("label=picasso.node={node}"),
            ])
            .output()?;
        ensure!(
            String::from_utf8_lossy(&ps.stdout).trim().is_empty(),
            "containers of {node} left"
        );
        for controller in ["cpu", "cpuacct", "memory"] {
            let p = format!("/sys/fs/cgroup/{controller}/picasso-testbed/{node}");
            ensure!(!std::path::Path::new(&p).exists(), "{p} left");
        }
        ensure!(
            !std::path::Path::new(&format!("/sys/fs/cgroup/picasso-testbed/{node}")).exists(),
            "cgroup v2 dir of {node} left"
        );
    }
    Ok(())
}
