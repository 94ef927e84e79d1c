//! [`ProcessRuntime`]: service replicas as local child processes, the
//! embedded default when no container engine answers.
//!
//! A spec's `command` is run with `PORT=<port_host>` and
//! `HOST=<host_ip>` in its environment (plus the spec's `env`); the
//! process must listen there itself, so `port_container` is only recorded.
//! CPU and memory limits are enforced by [`limits`]: a cgroup per replica
//! under the spec's cgroup parent (v2, else v1) when the hierarchy is
//! writable, else memory alone as RLIMIT_AS; which one was applied is
//! logged and shown as the `picasso.limits` label in [`Runtime::list`].
//! Images have no meaning here: [`Runtime::load_image`] reads
//! the archive's manifest and remembers its tags, so the agent's flow
//! (has image? load, create, start) is the same on both runtimes.
//!
//! Stats come from `/proc/<pid>/stat` (utime + stime) and
//! `/proc/<pid>/statm` (resident pages). Children (and, with a cgroup,
//! whatever they forked) are killed when stopped, removed, or when the
//! runtime is dropped.

pub mod limits;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use nix::sys::signal::{kill, Signal};
use nix::unistd::{sysconf, Pid, SysconfVar};

use limits::{Cgroup, Enforcement, Hierarchy};

use super::{
    human_duration, read_archive_manifest, ContainerId, ContainerInfo, ContainerSpec,
    ContainerState, ContainerStats, EngineVersion, LoadedImage, Runtime, RuntimeError, RuntimeKind,
    Step,
};

/// The label [`Runtime::list`] adds to say how a replica's limits are
/// enforced ([`Enforcement::describe`]).
pub const LABEL_LIMITS: &str = "picasso.limits";
/// Where cgroup hierarchies are mounted.
pub const CGROUP_MOUNT: &str = "/sys/fs/cgroup";

/// How often `stop` checks whether a signalled child has exited.
const STOP_POLL: Duration = Duration::from_millis(20);

/// One tracked process.
#[derive(Debug)]
struct Proc {
    /// What it was created from.
    spec: ContainerSpec,
    /// Creation time, Unix seconds.
    created: i64,
    /// The child while it runs (and until reaped).
    child: Option<Child>,
    /// When it was last started.
    started: Option<Instant>,
    /// Exit code (or 128 + signal) and when it was seen to exit.
    exited: Option<(i32, Instant)>,
    /// Previous (process CPU ns, wall time) for the CPU percentage.
    prev_cpu: Option<(u64, Instant)>,
    /// How the limits of the last start are enforced.
    enforcement: Option<Enforcement>,
}

impl Proc {
    fn cgroup(&self) -> Option<&Cgroup> {
        match &self.enforcement {
            Some(Enforcement::Cgroup(c)) => Some(c),
            _ => None,
        }
    }
}

/// SIGKILLs whatever is left in `cgroup` (what the replica forked).
fn kill_cgroup(cgroup: &Cgroup) {
    for pid in cgroup.pids() {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// `program` as `execvp` would find it.
fn resolve_program(program: &str) -> Option<std::path::PathBuf> {
    if program.contains('/') {
        let p = std::path::PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

impl Proc {
    /// Reaps the child if it has exited.
    fn reap(&mut self) {
        if let Some(child) = &mut self.child {
            if let Ok(Some(status)) = child.try_wait() {
                use std::os::unix::process::ExitStatusExt;
                let code = status
                    .code()
                    .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
                self.exited = Some((code, Instant::now()));
                self.child = None;
            }
        }
    }

    fn state(&self) -> ContainerState {
        if self.child.is_some() {
            ContainerState::Running
        } else if self.exited.is_some() {
            ContainerState::Exited
        } else {
            ContainerState::Created
        }
    }

    /// Docker-like status text.
    fn status(&self) -> String {
        match (&self.child, self.started, self.exited) {
            (Some(_), Some(started), _) => format!("Up {}", human_duration(started.elapsed())),
            (None, _, Some((code, at))) => {
                format!("Exited ({code}) {} ago", human_duration(at.elapsed()))
            }
            _ => "Created".to_owned(),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    procs: HashMap<ContainerId, Proc>,
    images: HashSet<String>,
    next_id: u64,
}

/// Service replicas as local child processes.
#[derive(Debug)]
pub struct ProcessRuntime {
    state: Mutex<State>,
    /// Where cgroups are looked for.
    cgroup_mount: std::path::PathBuf,
    /// The hierarchy found there, if any.
    cgroups: Option<Hierarchy>,
}

impl Default for ProcessRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcessRuntime {
    /// An empty runtime: no processes, no images; cgroups from
    /// [`CGROUP_MOUNT`] when there are any.
    pub fn new() -> Self {
        Self::with_cgroup_mount(Path::new(CGROUP_MOUNT))
    }

    /// An empty runtime looking for cgroup hierarchies at `mount`.
    pub fn with_cgroup_mount(mount: &Path) -> Self {
        let cgroups = Hierarchy::detect(mount);
        tracing::debug!(mount = %mount.display(), ?cgroups, "process runtime cgroups");
        Self {
            state: Mutex::default(),
            cgroup_mount: mount.to_owned(),
            cgroups,
        }
    }

    /// The cgroup hierarchy replicas are limited with, if any.
    pub fn cgroups(&self) -> Option<&Hierarchy> {
        self.cgroups.as_ref()
    }

    /// Records `image` as present (what `load_image` does from an archive).
    pub fn add_image(&self, image: &str) {
        self.lock().images.insert(image.to_owned());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere mid-update; the
        // table of children is still the best record we have.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key of `id` (or of the container named `id`).
    fn key(state: &State, id: &ContainerId, step: Step) -> Result<ContainerId, RuntimeError> {
        if state.procs.contains_key(id) {
            return Ok(id.clone());
        }
        state
            .procs
            .iter()
            .find(|(_, p)| p.spec.name == id.0)
            .map(|(k, _)| k.clone())
            .ok_or_else(|| RuntimeError::NoSuchContainer {
                step,
                id: id.0.clone(),
            })
    }

    /// Finds `id` (or the container named `id`).
    fn find<'a>(
        state: &'a mut State,
        id: &ContainerId,
        step: Step,
    ) -> Result<&'a mut Proc, RuntimeError> {
        let key = Self::key(state, id, step)?;
        state
            .procs
            .get_mut(&key)
            .ok_or_else(|| RuntimeError::NoSuchContainer {
                step,
                id: id.0.clone(),
            })
    }
}

/// Removes `cgroup` once the killed processes have left it (bounded wait).
async fn remove_cgroup(cgroup: &Cgroup) {
    for _ in 0..50 {
        if cgroup.pids().is_empty() {
            break;
        }
        tokio::time::sleep(STOP_POLL).await;
    }
    cgroup.remove();
}

/// Sends SIGTERM, waits up to `timeout`, then SIGKILL; reaps the child.
async fn terminate(
    child: &mut Child,
    timeout: Duration,
) -> std::io::Result<std::process::ExitStatus> {
    if let Some(status) = child.try_wait()? {
        return Ok(status);
    }
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        tokio::time::sleep(STOP_POLL).await;
    }
    child.kill()?;
    child.wait()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Cumulative CPU time (ns) and resident memory (bytes) of `pid`.
fn proc_usage(pid: u32) -> std::io::Result<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces:
    // count fields after the last ')'. utime and stime are fields 14, 15.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields
        .get(11..13)
        .unwrap_or(&[])
        .iter()
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    let hz = sysconf(SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100)
        .max(1) as u64;
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm"))?;
    let resident: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .unwrap_or(0);
    let page = sysconf(SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096)
        .max(1) as u64;
    Ok((ticks * 1_000_000_000 / hz, resident * page))
}

#[async_trait]
impl Runtime for ProcessRuntime {
    fn node_stopping(&self) {
        Self::kill_all(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }

    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Process
    }

    async fn version(&self) -> Result<EngineVersion, RuntimeError> {
        Ok(EngineVersion {
            kind: RuntimeKind::Process,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            engine_api: String::new(),
            negotiated_api: String::new(),
        })
    }

    async fn has_image(&self, image: &str) -> Result<bool, RuntimeError> {
        Ok(self.lock().images.contains(image))
    }

    async fn load_image(&self, archive: &Path) -> Result<LoadedImage, RuntimeError> {
        let path = archive.to_owned();
        let loaded = tokio::task::spawn_blocking(move || read_archive_manifest(&path))
            .await
            .map_err(|e| RuntimeError::Failed {
                step: Step::LoadImage,
                target: archive.display().to_string(),
                reason: e.to_string(),
            })??;
        let mut state = self.lock();
        state.images.insert(loaded.id.clone());
        state.images.extend(loaded.tags.iter().cloned());
        Ok(loaded)
    }

    async fn remove_image(&self, image: &str) -> Result<(), RuntimeError> {
        if self.lock().images.remove(image) {
            Ok(())
        } else {
            Err(RuntimeError::NoSuchImage {
                step: Step::RemoveImage,
                image: image.to_owned(),
            })
        }
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<ContainerId, RuntimeError> {
        if spec.command.is_empty() {
            return Err(RuntimeError::InvalidSpec {
                step: Step::Create,
                target: spec.name.clone(),
                reason: "the process runtime needs a command".to_owned(),
            });
        }
        let mut state = self.lock();
        if state.procs.values().any(|p| p.spec.name == spec.name) {
            return Err(RuntimeError::Conflict {
                step: Step::Create,
                target: spec.name.clone(),
                reason: "name already in use".to_owned(),
            });
        }
        state.next_id += 1;
        let id = ContainerId(format!("proc-{:06}", state.next_id));
        state.procs.insert(
            id.clone(),
            Proc {
                spec: spec.clone(),
                created: unix_now(),
                child: None,
                started: None,
                exited: None,
                prev_cpu: None,
                enforcement: None,
            },
        );
        Ok(id)
    }

    async fn start(&self, id: &ContainerId) -> Result<(), RuntimeError> {
        let mut state = self.lock();
        let proc = Self::find(&mut state, id, Step::Start)?;
        proc.reap();
        if proc.child.is_some() {
            return Ok(());
        }
        let spec = &proc.spec;
        let target = || format!("{} ({})", spec.name, spec.command[0]);
        let (cpu, memory) = (spec.cpu_limit, spec.memory_limit);
        let mut cgroup = None;
        let mut why = String::new();
        if cpu.is_some() || memory.is_some() {
            match &self.cgroups {
                Some(h) => match h.create(spec.cgroup_parent.as_deref(), &spec.name, cpu, memory) {
                    Ok(c) => cgroup = Some(c),
                    Err(e) => why = e.to_string(),
                },
                None => why = format!("no cgroup hierarchy at {}", self.cgroup_mount.display()),
            }
        }
        let rlimit_kib = match cgroup {
            None => memory.map(|m| (m / 1024).max(1)),
            Some(_) => None,
        };
        let mut cmd = match rlimit_kib {
            Some(kib) => {
                // Resolved here so a missing program fails the start, as
                // without the wrapper.
                if resolve_program(&spec.command[0]).is_none() {
                    return Err(RuntimeError::Failed {
                        step: Step::Start,
                        target: target(),
                        reason: "program not found".to_owned(),
                    });
                }
                let mut c = Command::new("/bin/sh");
                c.args(["-c", "ulimit -v \"$0\" || exit 126; exec \"$@\""])
                    .arg(kib.to_string())
                    .args(&spec.command);
                c
            }
            None => {
                let mut c = Command::new(&spec.command[0]);
                c.args(&spec.command[1..]);
                c
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(port) = spec.port_host {
            cmd.env("PORT", port.to_string());
        }
        cmd.env(
            "HOST",
            if spec.host_ip.is_empty() {
                "127.0.0.1"
            } else {
                &spec.host_ip
            },
        );
        for kv in &spec.env {
            if let Some((k, v)) = kv.split_once('=') {
                cmd.env(k, v);
            }
        }
        let mut child = cmd.spawn().map_err(|e| RuntimeError::Failed {
            step: Step::Start,
            target: target(),
            reason: e.to_string(),
        })?;
        if let Some(c) = &cgroup {
            if let Err(e) = c.join(child.id()) {
                let _ = child.kill();
                let _ = child.wait();
                c.remove();
                return Err(RuntimeError::Failed {
                    step: Step::Start,
                    target: target(),
                    reason: format!("joining its cgroup: {e}"),
                });
            }
        }
        let enforcement = match cgroup {
            Some(c) => Enforcement::Cgroup(c),
            None if cpu.is_some() || memory.is_some() => Enforcement::Rlimit {
                kib: rlimit_kib,
                cpu_asked: cpu.is_some(),
                why,
            },
            None => Enforcement::Unlimited,
        };
        match &enforcement {
            Enforcement::Rlimit { .. } => {
                tracing::warn!(replica = %spec.name, limits = %enforcement.describe(), "limits only partly enforced")
            }
            _ => tracing::info!(replica = %spec.name, limits = %enforcement.describe(), "limits"),
        }
        proc.enforcement = Some(enforcement);
        proc.child = Some(child);
        proc.started = Some(Instant::now());
        proc.exited = None;
        proc.prev_cpu = None;
        Ok(())
    }

    async fn stop(&self, id: &ContainerId, timeout: Duration) -> Result<(), RuntimeError> {
        // Take the child out so the lock is not held while waiting.
        let (key, child) = {
            let mut state = self.lock();
            let key = Self::key(&state, id, Step::Stop)?;
            let proc = Self::find(&mut state, &key, Step::Stop)?;
            proc.reap();
            let child = proc.child.take();
            (key, child)
        };
        let Some(mut child) = child else {
            return Ok(());
        };
        let status = terminate(&mut child, timeout).await;
        let mut state = self.lock();
        if let Some(proc) = state.procs.get_mut(&key) {
            if let Some(c) = proc.cgroup() {
                kill_cgroup(c);
            }
            use std::os::unix::process::ExitStatusExt;
            let code = match &status {
                Ok(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
                Err(_) => 137,
            };
            proc.exited = Some((code, Instant::now()));
        }
        status.map(|_| ()).map_err(|e| RuntimeError::Failed {
            step: Step::Stop,
            target: id.0.clone(),
            reason: e.to_string(),
        })
    }

    async fn remove(&self, id: &ContainerId, force: bool) -> Result<(), RuntimeError> {
        let child = {
            let mut state = self.lock();
            let key = Self::key(&state, id, Step::Remove)?;
            let proc = Self::find(&mut state, &key, Step::Remove)?;
            proc.reap();
            if proc.child.is_some() && !force {
                return Err(RuntimeError::Conflict {
                    step: Step::Remove,
                    target: id.0.clone(),
                    reason: "it is running: stop it first or force".to_owned(),
                });
            }
            state.procs.remove(&key)
        };
        if let Some(mut proc) = child {
            if let Some(mut child) = proc.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
            if let Some(c) = proc.cgroup() {
                kill_cgroup(c);
                remove_cgroup(c).await;
            }
        }
        Ok(())
    }

    async fn list(
        &self,
        labels: &BTreeMap<String, String>,
    ) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let mut state = self.lock();
        let mut out: Vec<ContainerInfo> = state
            .procs
            .iter_mut()
            .filter(|(_, p)| labels.iter().all(|(k, v)| p.spec.labels.get(k) == Some(v)))
            .map(|(id, p)| {
                p.reap();
                ContainerInfo {
                    id: id.clone(),
                    name: p.spec.name.clone(),
                    image: p.spec.image.clone(),
                    status: p.status(),
                    state: p.state(),
                    port_host: p.spec.port_host,
                    port_container: p.spec.port_container,
                    labels: {
                        let mut l = p.spec.labels.clone();
                        if let Some(e) = &p.enforcement {
                            l.insert(LABEL_LIMITS.to_owned(), e.describe());
                        }
                        l
                    },
                    created: p.created,
                }
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn stats(&self, id: &ContainerId) -> Result<ContainerStats, RuntimeError> {
        let mut state = self.lock();
        let proc = Self::find(&mut state, id, Step::Stats)?;
        proc.reap();
        let pid = proc
            .child
            .as_ref()
            .map(Child::id)
            .ok_or_else(|| RuntimeError::Failed {
                step: Step::Stats,
                target: id.0.clone(),
                reason: "not running".to_owned(),
            })?;
        let (cpu_total_ns, memory_bytes) = proc_usage(pid).map_err(|e| RuntimeError::Failed {
            step: Step::Stats,
            target: format!("{id} (pid {pid})"),
            reason: e.to_string(),
        })?;
        let now = Instant::now();
        let cpu_percent = proc.prev_cpu.and_then(|(prev_ns, at)| {
            let wall = now.duration_since(at).as_nanos() as f64;
            (wall > 0.0).then(|| cpu_total_ns.saturating_sub(prev_ns) as f64 / wall * 100.0)
        });
        proc.prev_cpu = Some((cpu_total_ns, now));
        Ok(ContainerStats {
            memory_bytes,
            cpu_total_ns,
            cpu_percent,
        })
    }
}

impl ProcessRuntime {
    /// Kills every replica this runtime started (and its cgroup's
    /// processes) and removes their cgroups; the processes are not
    /// adopted by a later node, so they must not outlive this one.
    fn kill_all(state: &mut State) {
        for proc in state.procs.values_mut() {
            if let Some(child) = &mut proc.child {
                let _ = child.kill();
                let _ = child.wait();
            }
            if let Some(c) = proc.cgroup() {
                kill_cgroup(c);
                // Killed processes leave their cgroup when reaped, which
                // for grandchildren takes their parent (or init) a moment.
                for _ in 0..50 {
                    if c.pids().is_empty() {
                        break;
                    }
                    std::thread::sleep(STOP_POLL);
                }
                c.remove();
            }
        }
    }
}

impl Drop for ProcessRuntime {
    fn drop(&mut self) {
        Self::kill_all(self.state.get_mut().unwrap_or_else(|p| p.into_inner()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sleeper(name: &str) -> ContainerSpec {
        ContainerSpec {
            name: name.to_owned(),
            image: "none".to_owned(),
            command: vec!["sleep".to_owned(), "30".to_owned()],
            labels: super::super::managed_labels("sleep", 1, "test"),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn runs_stats_stops_and_removes_a_child() {
        let rt = ProcessRuntime::new();
        let id = rt.create(&sleeper("s1")).await.unwrap();
        let listed = rt.list(&BTreeMap::new()).await.unwrap();
        assert_eq!(listed[0].status, "Created");
        assert_eq!(listed[0].state, ContainerState::Created);
        rt.start(&id).await.unwrap();
        let listed = rt
            .list(&super::super::managed_labels("sleep", 1, "test"))
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].state, ContainerState::Running);
        assert!(listed[0].status.starts_with("Up "), "{}", listed[0].status);
        let stats = rt.stats(&id).await.unwrap();
        assert!(stats.memory_bytes > 0);
        assert_eq!(stats.cpu_percent, None);
        let again = rt.stats(&id).await.unwrap();
        assert!(again.cpu_percent.is_some());
        rt.stop(&id, Duration::from_secs(2)).await.unwrap();
        let listed = rt.list(&BTreeMap::new()).await.unwrap();
        assert_eq!(listed[0].state, ContainerState::Exited);
        // SIGTERM kills sleep: 128 + 15.
        assert!(
            listed[0].status.starts_with("Exited (143) "),
            "{}",
            listed[0].status
        );
        rt.remove(&id, false).await.unwrap();
        assert!(rt.list(&BTreeMap::new()).await.unwrap().is_empty());
    }

    /// A stopping node takes its service processes with it: none is
    /// running afterwards (they could not be adopted by the next node).
    #[tokio::test]
    async fn a_stopping_node_stops_its_processes() {
        let rt = ProcessRuntime::new();
        let mut spec = sleeper("k");
        let marker = format!("picasso-node-stopping-{}", std::process::id());
        // The marker is the shell's $0: in its command line as long as it
        // runs (an exec would replace it).
        spec.command = vec![
            "sh".into(),
            "-c".into(),
            "while :; do sleep 1; done".into(),
            marker.clone(),
        ];
        let id = rt.create(&spec).await.unwrap();
        rt.start(&id).await.unwrap();
        let running = || {
            std::fs::read_dir("/proc")
                .unwrap()
                .flatten()
                .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
                .any(|c| String::from_utf8_lossy(&c).contains(&marker))
        };
        // The child shows its command line once it has exec'd.
        for _ in 0..200 {
            if running() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(running(), "the replica runs");
        rt.node_stopping();
        // The shell is killed and reaped before node_stopping returns; a
        // child it forked that had not yet exec'd `sleep` still shows the
        // shell's command line (it failed once so under a loaded CI run)
        // and is gone once it execs or the cgroup kill reaches it. A
        // replica that outlived its node would still be there after 2 s.
        for _ in 0..100 {
            if !running() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!running(), "the replica outlived its node");
        let info = &rt.list(&BTreeMap::new()).await.unwrap()[0];
        assert_ne!(info.state, ContainerState::Running, "{info:?}");
    }

    #[tokio::test]
    async fn a_command_that_exits_reports_its_code() {
        let rt = ProcessRuntime::new();
        let mut spec = sleeper("f");
        spec.command = vec!["sh".into(), "-c".into(), "exit 3".into()];
        let id = rt.create(&spec).await.unwrap();
        rt.start(&id).await.unwrap();
        for _ in 0..100 {
            if rt.list(&BTreeMap::new()).await.unwrap()[0].state == ContainerState::Exited {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let info = &rt.list(&BTreeMap::new()).await.unwrap()[0];
        assert!(info.status.starts_with("Exited (3) "), "{}", info.status);
    }

    #[tokio::test]
    async fn refuses_specs_without_command_and_duplicate_names() {
        let rt = ProcessRuntime::new();
        let mut spec = sleeper("a");
        spec.command.clear();
        let err = rt.create(&spec).await.unwrap_err();
        assert!(matches!(err, RuntimeError::InvalidSpec { .. }), "{err}");
        rt.create(&sleeper("a")).await.unwrap();
        let err = rt.create(&sleeper("a")).await.unwrap_err();
        assert!(matches!(err, RuntimeError::Conflict { .. }), "{err}");
        let err = rt.start(&ContainerId::from("nope")).await.unwrap_err();
        assert!(err.to_string().contains("no such container nope"), "{err}");
    }

    /// Polls `f` every 20 ms for up to 10 s.
    async fn wait_until(mut f: impl FnMut() -> bool) -> bool {
        for _ in 0..500 {
            if f() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    fn pid_of(rt: &ProcessRuntime, id: &ContainerId) -> u32 {
        let mut s = rt.lock();
        ProcessRuntime::find(&mut s, id, Step::Stats)
            .unwrap()
            .child
            .as_ref()
            .unwrap()
            .id()
    }

    /// "Max address space" of `pid`, bytes.
    fn address_space_limit(pid: u32) -> Option<u64> {
        let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max address space"))?;
        line.split_whitespace().nth(3)?.parse().ok()
    }

    #[tokio::test]
    async fn without_cgroups_memory_is_an_address_space_limit() {
        let empty = std::env::temp_dir().join(format!("picasso-nocg-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        let rt = ProcessRuntime::with_cgroup_mount(&empty);
        assert!(rt.cgroups().is_none());
        let mut spec = sleeper("lim");
        spec.cpu_limit = Some(0.5);
        spec.memory_limit = Some(64 << 20);
        let id = rt.create(&spec).await.unwrap();
        rt.start(&id).await.unwrap();
        let pid = pid_of(&rt, &id);
        assert!(
            wait_until(|| address_space_limit(pid) == Some(64 << 20)).await,
            "{:?}",
            address_space_limit(pid)
        );
        let label = rt.list(&BTreeMap::new()).await.unwrap()[0].labels[LABEL_LIMITS].clone();
        assert!(
            label.starts_with(
                "rlimit-as 65536 KiB; cpu not enforced (no cgroup: no cgroup hierarchy at"
            ),
            "{label}"
        );
        // A program that is not there still fails the start.
        let mut missing = sleeper("missing");
        missing.command = vec!["/nonexistent/picasso-prog".into()];
        missing.memory_limit = Some(64 << 20);
        let m = rt.create(&missing).await.unwrap();
        assert!(rt.start(&m).await.is_err());
        // Without limits, nothing is wrapped or limited.
        let plain = rt.create(&sleeper("plain")).await.unwrap();
        rt.start(&plain).await.unwrap();
        let list = rt.list(&BTreeMap::new()).await.unwrap();
        let p = list.iter().find(|c| c.id == plain).unwrap();
        assert_eq!(p.labels[LABEL_LIMITS], "none");
        let _ = std::fs::remove_dir_all(&empty);
    }

    /// On this host's real hierarchy: a cgroup per replica under the
    /// parent, CPU throttled to the quota, gone after remove. Where no
    /// hierarchy is writable the runtime must say it fell back.
    #[tokio::test]
    async fn cgroup_limits_are_applied_and_removed() {
        let rt = ProcessRuntime::new();
        let parent = format!("picasso-test-{}", std::process::id());
        let mut spec = sleeper("picasso-t-burn-1");
        spec.command = vec!["sh".into(), "-c".into(), "while :; do :; done".into()];
        spec.cpu_limit = Some(0.1);
        spec.memory_limit = Some(32 << 20);
        spec.cgroup_parent = Some(format!("/{parent}"));
        let id = rt.create(&spec).await.unwrap();
        rt.start(&id).await.unwrap();
        let pid = pid_of(&rt, &id);
        let label = rt.list(&BTreeMap::new()).await.unwrap()[0].labels[LABEL_LIMITS].clone();
        eprintln!("limits: {label}");
        let Some(Enforcement::Cgroup(cg)) = rt.lock().procs[&id].enforcement.clone() else {
            // No writable hierarchy here: the fallback is reported as such.
            assert!(
                label.starts_with("rlimit-as 32768 KiB; cpu not enforced"),
                "{label}"
            );
            rt.remove(&id, true).await.unwrap();
            return;
        };
        assert!(
            label.starts_with(&format!("cgroup-v{} ", cg.version)),
            "{label}"
        );
        let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        assert!(
            own.contains(&format!("/{parent}/picasso-t-burn-1")),
            "{own}"
        );
        let (quota_file, mem_file, mem_dir, cpu_dir) = match cg.version {
            2 => ("cpu.max", "memory.max", &cg.dirs[0], &cg.dirs[0]),
            _ => (
                "cpu.cfs_quota_us",
                "memory.limit_in_bytes",
                &cg.dirs[1],
                &cg.dirs[0],
            ),
        };
        let quota = std::fs::read_to_string(cpu_dir.join(quota_file)).unwrap();
        assert!(quota.starts_with("10000"), "{quota}");
        let mem = std::fs::read_to_string(mem_dir.join(mem_file)).unwrap();
        assert_eq!(mem.trim(), (32u64 << 20).to_string());
        // The busy loop is throttled by the kernel.
        let throttled = || {
            std::fs::read_to_string(cpu_dir.join("cpu.stat"))
                .unwrap_or_default()
                .lines()
                .find_map(|l| l.strip_prefix("nr_throttled "))
                .and_then(|n| n.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        assert!(wait_until(|| throttled() > 0).await, "never throttled");
        rt.remove(&id, true).await.unwrap();
        for d in &cg.dirs {
            assert!(!d.exists(), "{} left behind", d.display());
            let _ = std::fs::remove_dir(d.parent().unwrap());
        }
    }

    #[tokio::test]
    async fn running_remove_needs_force_and_drop_kills_children() {
        let rt = ProcessRuntime::new();
        let id = rt.create(&sleeper("k")).await.unwrap();
        rt.start(&id).await.unwrap();
        assert!(rt.remove(&id, false).await.is_err());
        let id2 = rt.create(&sleeper("k2")).await.unwrap();
        rt.start(&id2).await.unwrap();
        let pid = {
            let mut s = rt.lock();
            ProcessRuntime::find(&mut s, &id2, Step::Stats)
                .unwrap()
                .child
                .as_ref()
                .unwrap()
                .id()
        };
        rt.remove(&id, true).await.unwrap();
        drop(rt);
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "child {pid} outlived the runtime"
        );
    }
}
