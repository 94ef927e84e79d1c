//! python-ndn applications on our forwarder (`picasso fwd` as a process):
//! a producer (NDNApp with KeychainDigest, and NDNAppv2) registers a prefix
//! and a python-ndn consumer of the other API fetches from it, over the Unix
//! and the TCP face. The scripts are `tests/interop/fwd_app.py`; they find
//! the forwarder through `NDN_CLIENT_TRANSPORT`, as python-ndn's client
//! configuration reads it.
//!
//! Python comes from `$PICASSO_PYTHON`, else `scripts/pyenv.sh` creates the
//! venv. When neither works the test fails; `PICASSO_SKIP_PYTHON=1` is the
//! only way to skip it.

#![forbid(unsafe_code)]

#[path = "support/fwd.rs"]
mod fwd;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use fwd::Fwd;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn script() -> PathBuf {
    Path::new(ROOT).join("tests/interop/fwd_app.py")
}

/// Starts a producer and waits for its "ready" line.
fn producer(
    py: &Path,
    transport: &str,
    version: &str,
    prefix: &str,
    content: &str,
) -> anyhow::Result<Killed> {
    use std::io::BufRead;
    let mut child = Command::new(py)
        .arg(script())
        .args(["produce", version, prefix, content])
        .env("NDN_CLIENT_TRANSPORT", transport)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let out = child.stdout.take().context("no stdout")?;
    let child = Killed(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .context("producer did not get ready")?;
    ensure!(
        line.trim() == "ready",
        "producer {version} on {transport}: {line:?}"
    );
    Ok(child)
}

/// Runs a consumer to completion (bounded) and returns what it printed.
fn consume(py: &Path, transport: &str, version: &str, name: &str) -> anyhow::Result<String> {
    let mut child = Killed(
        Command::new(py)
            .arg(script())
            .args(["consume", version, name])
            .env("NDN_CLIENT_TRANSPORT", transport)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.0.try_wait()?.is_none() {
        ensure!(
            Instant::now() < deadline,
            "consumer {version} on {transport} hung"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = String::new();
    let mut err = String::new();
    use std::io::Read;
    if let Some(mut o) = child.0.stdout.take() {
        o.read_to_string(&mut out)?;
    }
    if let Some(mut e) = child.0.stderr.take() {
        e.read_to_string(&mut err)?;
    }
    let status = child.0.wait()?;
    ensure!(
        status.success(),
        "consumer {version} on {transport} failed: {err}"
    );
    Ok(out)
}

#[test]
fn python_ndn_producers_and_consumers_over_unix_and_tcp() -> anyhow::Result<()> {
    let Some(py) = fwd::python("the python-ndn forwarder interop test") else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let f = Fwd::start(dir.path(), "py", &[])?;
    let unix = format!("unix://{}", f.unix.display());
    let tcp = format!("tcp://{}", f.tcp.context("no tcp")?);
    for transport in [&unix, &tcp] {
        for (producer_v, consumer_v) in [("v1", "v2"), ("v2", "v1")] {
            let tag = if transport.starts_with("unix") {
                "unix"
            } else {
                "tcp"
            };
            let prefix = format!("/interop/{tag}/{producer_v}");
            let content = format!("hello from python-ndn {producer_v} over {tag}");
            let _p = producer(&py, transport, producer_v, &prefix, &content)?;
            // The consumer goes over the other transport: both faces carry it.
            let other = if transport == &unix { &tcp } else { &unix };
            let got = consume(&py, other, consumer_v, &format!("{prefix}/item/1"))?;
            ensure!(got == content, "{producer_v}→{consumer_v}: got {got:?}");
            let got = consume(&py, transport, producer_v, &format!("{prefix}/item/2"))?;
            ensure!(got == content, "{producer_v}→{producer_v}: got {got:?}");
        }
    }
    Ok(())
}
