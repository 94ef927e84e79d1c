//! Starting `picasso` processes for the end-to-end tests: a forwarder on
//! temp-dir sockets and port 0 (its `ready …` line says where it listens),
//! killed when dropped, its stderr collected.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};

/// The `picasso` binary under test.
pub const PICASSO: &str = env!("CARGO_BIN_EXE_picasso");

/// The binary the tests start: `$PICASSO_BIN` when set (a copy made right
/// after building, for target directories shared between checkouts whose
/// builds overwrite `target/debug/picasso`), else [`PICASSO`].
pub fn picasso_bin() -> String {
    std::env::var("PICASSO_BIN").unwrap_or_else(|_| PICASSO.to_owned())
}

/// A child process killed on drop, with its stderr collected.
pub struct Proc {
    /// The child.
    pub child: Child,
    /// Everything it wrote to stderr so far.
    pub stderr: Arc<Mutex<String>>,
    /// Lines it wrote to stdout.
    pub stdout: mpsc::Receiver<String>,
    /// The stderr reader, finished once the child's stderr is closed.
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// Starts `picasso ARGS` with `env`.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut cmd = Command::new(picasso_bin());
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().context("cannot start picasso")?;
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().context("no stderr")?;
        let sink = stderr.clone();
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    // Keep the last 1 MB only.
                    if s.len() > 2 << 20 {
                        let cut = s.len() - (1 << 20);
                        let cut = (cut..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(0);
                        s.drain(..cut);
                    }
                }
            }
        });
        let out = child.stdout.take().context("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            child,
            stderr,
            stdout: rx,
            stderr_reader: Some(stderr_reader),
        })
    }

    /// The next stdout line, within `timeout`.
    pub fn line(&self, timeout: Duration) -> anyhow::Result<String> {
        self.stdout.recv_timeout(timeout).map_err(|_| {
            anyhow!(
                "no output line within {timeout:?}; stderr:\n{}",
                self.stderr_text()
            )
        })
    }

    /// What it wrote to stderr.
    pub fn stderr_text(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> anyhow::Result<std::process::ExitStatus> {
        let st = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()?;
        anyhow::ensure!(st.success(), "kill -TERM failed");
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait()? {
                // Let the reader take everything the child wrote before exiting.
                if let Some(r) = self.stderr_reader.take() {
                    let until = std::time::Instant::now() + Duration::from_secs(2);
                    while !r.is_finished() && std::time::Instant::now() < until {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    if r.is_finished() {
                        let _ = r.join();
                    }
                }
                return Ok(s);
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "no exit within {timeout:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Resident memory in kB (VmRSS).
    pub fn rss_kb(&self) -> anyhow::Result<u64> {
        rss_kb(self.pid())
    }
}

/// VmRSS of a process in kB.
pub fn rss_kb(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")
}

/// A running `picasso fwd` and where it listens.
pub struct Fwd {
    /// The process.
    pub proc: Proc,
    /// Its Unix socket.
    pub unix: PathBuf,
    /// Its TCP address, if enabled.
    pub tcp: Option<SocketAddr>,
    /// Its UDP address, if enabled.
    pub udp: Option<SocketAddr>,
    /// Its routing node name, when the router runs.
    pub node: Option<String>,
}

impl Fwd {
    /// Starts a forwarder on `dir/name.sock`, TCP and UDP on 127.0.0.1 port
    /// 0, with extra flags.
    pub fn start(dir: &Path, name: &str, extra: &[&str]) -> anyhow::Result<Self> {
        let unix = dir.join(format!("{name}.sock"));
        let unix_s = unix.display().to_string();
        let mut args = vec![
            "fwd",
            "--unix",
            &unix_s,
            "--tcp",
            "127.0.0.1:0",
            "--udp",
            "127.0.0.1:0",
        ];
        args.extend_from_slice(extra);
        let proc = Proc::start(&args, &[("RUST_LOG", "info")])?;
        let line = proc.line(Duration::from_secs(20))?;
        let field = |k: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(k))
                .and_then(|v| v.parse().ok())
        };
        anyhow::ensure!(line.starts_with("ready"), "unexpected first line {line:?}");
        Ok(Self {
            tcp: field("tcp="),
            udp: field("udp="),
            node: line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("node="))
                .map(str::to_string),
            unix,
            proc,
        })
    }

    /// `unix:PATH` for `--fwd`.
    pub fn unix_face(&self) -> String {
        format!("unix:{}", self.unix.display())
    }

    /// `picasso SUBCOMMAND --fwd unix:… --json` parsed.
    pub fn json(&self, subcommand: &str) -> anyhow::Result<serde_json::Value> {
        let out = run(
            &[subcommand, "--fwd", &self.unix_face(), "--json"],
            Duration::from_secs(10),
        )?;
        Ok(serde_json::from_slice(&out)?)
    }

    /// Whether the FIB has an entry for `prefix` with a next hop.
    pub fn has_route(&self, prefix: &str) -> anyhow::Result<bool> {
        let fib = self.json("fib")?;
        Ok(fib.as_array().is_some_and(|a| {
            a.iter().any(|e| {
                e["prefix"] == prefix && e["nextHops"].as_array().is_some_and(|h| !h.is_empty())
            })
        }))
    }
}

/// Runs `picasso ARGS` to completion within `timeout`; returns stdout, or
/// an error with stderr when it fails.
pub fn run(args: &[&str], timeout: Duration) -> anyhow::Result<Vec<u8>> {
    let mut child = Command::new(PICASSO)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut out = child.stdout.take().context("no stdout")?;
    let mut err = child.stderr.take().context("no stderr")?;
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("picasso {args:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    anyhow::ensure!(
        status.success(),
        "picasso {args:?} failed ({status}): {stderr}"
    );
    Ok(stdout)
}

/// Polls `cond` every 10 ms until it holds; returns how long that took,
/// or an error naming `what` after `timeout`.
pub fn wait_until(
    timeout: Duration,
    what: &str,
    mut cond: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    loop {
        if cond()? {
            return Ok(t0.elapsed());
        }
        anyhow::ensure!(t0.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The python interpreter with python-ndn (`$PICASSO_PYTHON`, else the venv
/// `scripts/pyenv.sh` makes), or `None` only when `PICASSO_SKIP_PYTHON=1`
/// asks to skip `what` on purpose; a failed install fails the test.
pub fn python(what: &str) -> Option<PathBuf> {
    if std::env::var("PICASSO_SKIP_PYTHON").as_deref() == Ok("1") {
        eprintln!("PICASSO_SKIP_PYTHON=1: skipping {what}");
        return None;
    }
    if let Ok(p) = std::env::var("PICASSO_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pyenv.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("cannot run scripts/pyenv.sh");
    assert!(
        out.status.success(),
        "scripts/pyenv.sh could not install python-ndn (set PICASSO_SKIP_PYTHON=1 to skip {what} on purpose)"
    );
    Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}
