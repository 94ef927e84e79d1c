//! CPU and memory limits of process replicas, enforced where the OS lets
//! an unprivileged-or-not agent do it:
//!
//! 1. **cgroup v2** (`<mount>/cgroup.controllers` exists): the replica gets
//!    `<mount>/<parent>/<name>/` with `cpu.max` (`<quota> 100000`) and
//!    `memory.max`; the `cpu` and `memory` controllers are enabled in the
//!    `cgroup.subtree_control` of every ancestor from the mount down.
//! 2. **cgroup v1** (`<mount>/cpu` and `<mount>/memory` hierarchies, as
//!    with Docker's `cgroupfs` driver on older hosts): `<mount>/cpu/<parent>/<name>/`
//!    with `cpu.cfs_period_us`/`cpu.cfs_quota_us` and
//!    `<mount>/memory/<parent>/<name>/` with `memory.limit_in_bytes`.
//! 3. Otherwise (no hierarchy, or not writable): memory only, as
//!    `RLIMIT_AS` set by `ulimit -v` in a `/bin/sh` wrapper that then
//!    `exec`s the command (the crate forbids `unsafe`, so no `pre_exec`).
//!    RLIMIT_AS bounds the address space, not resident memory, and there
//!    is no per-process CPU rate limit: CPU is then not enforced.
//!
//! `<parent>` is the node's cgroup parent (the one Docker containers get
//! through `HostConfig.CgroupParent`, so a test bed that caps a node's
//! parent caps its processes and containers alike), default `picasso`.
//! The child joins its cgroup right after it is spawned: what it does
//! before that (microseconds of `exec`) is not counted.
//!
//! This module does not start processes ([`super::ProcessRuntime`] does).

use std::io;
use std::path::{Component, Path, PathBuf};

/// CFS period used for CPU quotas, µs (cgroup v1 and v2 default).
pub const CPU_PERIOD_US: u64 = 100_000;
/// Parent cgroup used when the spec names none.
pub const DEFAULT_PARENT: &str = "picasso";

/// A cgroup hierarchy the runtime can create groups in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// The unified hierarchy, mounted at `root`.
    V2 {
        /// Mount point (`/sys/fs/cgroup`).
        root: PathBuf,
    },
    /// Legacy per-controller hierarchies.
    V1 {
        /// The `cpu` controller's mount.
        cpu: PathBuf,
        /// The `memory` controller's mount.
        memory: PathBuf,
    },
}

/// A replica's cgroup (one directory per hierarchy used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    /// 1 or 2.
    pub version: u8,
    /// The directories created, innermost; the child joins each.
    pub dirs: Vec<PathBuf>,
}

/// How a replica's limits are enforced, for logs and reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enforcement {
    /// No limit was asked for.
    Unlimited,
    /// A cgroup with `cpu` and `memory` as asked.
    Cgroup(Cgroup),
    /// Memory as RLIMIT_AS; CPU not enforced; `why` no cgroup.
    Rlimit {
        /// The address-space limit, KiB.
        kib: Option<u64>,
        /// Whether a CPU limit was asked for (and is not enforced).
        cpu_asked: bool,
        /// Why no cgroup was used.
        why: String,
    },
}

impl Enforcement {
    /// One line: `cgroup-v2 …`, `rlimit-as …; cpu not enforced (…)`, `none`.
    pub fn describe(&self) -> String {
        match self {
            Enforcement::Unlimited => "none".to_owned(),
            Enforcement::Cgroup(c) => format!(
                "cgroup-v{} {}",
                c.version,
                c.dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Enforcement::Rlimit {
                kib,
                cpu_asked,
                why,
            } => {
                let mem = match kib {
                    Some(k) => format!("rlimit-as {k} KiB"),
                    None => "memory not limited".to_owned(),
                };
                let cpu = if *cpu_asked { "; cpu not enforced" } else { "" };
                format!("{mem}{cpu} (no cgroup: {why})")
            }
        }
    }
}

fn write(path: &Path, value: &str) -> io::Result<()> {
    std::fs::write(path, value)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

fn mkdir(path: &Path) -> io::Result<()> {
    std::fs::create_dir_all(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// The parent as a relative path: leading `/` dropped, `..` refused.
pub fn parent_path(parent: Option<&str>) -> io::Result<PathBuf> {
    let p = parent.unwrap_or(DEFAULT_PARENT).trim_start_matches('/');
    let p = if p.is_empty() { DEFAULT_PARENT } else { p };
    let path = PathBuf::from(p);
    if path.components().all(|c| matches!(c, Component::Normal(_))) {
        Ok(path)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cgroup parent {p:?} is not a relative path of plain names"),
        ))
    }
}

/// The replica's directory name: the container name, `[A-Za-z0-9_.-]`.
fn leaf(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("r{s}")
    } else {
        s
    }
}

/// CPU quota per period for `cores` (at least 1 ms, as the kernel asks).
pub fn cpu_quota_us(cores: f64) -> u64 {
    ((cores * CPU_PERIOD_US as f64).round() as u64).max(1000)
}

impl Hierarchy {
    /// The hierarchy mounted at `mount` (normally `/sys/fs/cgroup`), if any.
    pub fn detect(mount: &Path) -> Option<Self> {
        if mount.join("cgroup.controllers").is_file() {
            return Some(Hierarchy::V2 {
                root: mount.to_owned(),
            });
        }
        let cpu = ["cpu", "cpu,cpuacct", "cpuacct,cpu"]
            .iter()
            .map(|d| mount.join(d))
            .find(|d| d.join("cgroup.procs").is_file())?;
        let memory = mount.join("memory");
        memory
            .join("cgroup.procs")
            .is_file()
            .then_some(Hierarchy::V1 { cpu, memory })
    }

    /// Creates (or reuses) the cgroup `<parent>/<name>` with the limits.
    pub fn create(
        &self,
        parent: Option<&str>,
        name: &str,
        cpu: Option<f64>,
        memory: Option<u64>,
    ) -> io::Result<Cgroup> {
        let rel = parent_path(parent)?.join(leaf(name));
        match self {
            Hierarchy::V2 { root } => {
                // Controllers must be enabled in every ancestor's subtree.
                let mut dir = root.clone();
                for part in rel.components() {
                    let control = dir.join("cgroup.subtree_control");
                    let enabled = std::fs::read_to_string(&control).unwrap_or_default();
                    for ctl in ["cpu", "memory"] {
                        if !enabled.split_whitespace().any(|c| c == ctl) {
                            write(&control, &format!("+{ctl}"))?;
                        }
                    }
                    dir.push(part);
                    mkdir(&dir)?;
                }
                if let Some(c) = cpu {
                    write(
                        &dir.join("cpu.max"),
                        &format!("{} {CPU_PERIOD_US}", cpu_quota_us(c)),
                    )?;
                }
                if let Some(m) = memory {
                    write(&dir.join("memory.max"), &m.to_string())?;
                    // No swap beyond the limit where swap is accounted.
                    let swap = dir.join("memory.swap.max");
                    if swap.exists() {
                        let _ = write(&swap, "0");
                    }
                }
                Ok(Cgroup {
                    version: 2,
                    dirs: vec![dir],
                })
            }
            Hierarchy::V1 {
                cpu: cpu_root,
                memory: mem_root,
            } => {
                let cpu_dir = cpu_root.join(&rel);
                let mem_dir = mem_root.join(&rel);
                mkdir(&cpu_dir)?;
                mkdir(&mem_dir)?;
                if let Some(c) = cpu {
                    write(
                        &cpu_dir.join("cpu.cfs_period_us"),
                        &CPU_PERIOD_US.to_string(),
                    )?;
                    write(
                        &cpu_dir.join("cpu.cfs_quota_us"),
                        &cpu_quota_us(c).to_string(),
                    )?;
                }
                if let Some(m) = memory {
                    write(&mem_dir.join("memory.limit_in_bytes"), &m.to_string())?;
                }
                Ok(Cgroup {
                    version: 1,
                    dirs: vec![cpu_dir, mem_dir],
                })
            }
        }
    }
}

impl Cgroup {
    /// Moves process `pid` into the cgroup.
    pub fn join(&self, pid: u32) -> io::Result<()> {
        for d in &self.dirs {
            write(&d.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// The processes in the cgroup (the replica and anything it forked).
    pub fn pids(&self) -> Vec<i32> {
        let mut out: Vec<i32> = self
            .dirs
            .iter()
            .filter_map(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
            .flat_map(|s| {
                s.split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Removes the directories (they must hold no process any more).
    pub fn remove(&self) {
        for d in &self.dirs {
            if let Err(e) = std::fs::remove_dir(d) {
                tracing::debug!(dir = %d.display(), error = %e, "cgroup not removed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "picasso-limits-{tag}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn parents_are_relative_plain_paths() {
        assert_eq!(parent_path(None).unwrap(), PathBuf::from("picasso"));
        assert_eq!(
            parent_path(Some("/picasso-n1")).unwrap(),
            PathBuf::from("picasso-n1")
        );
        assert_eq!(parent_path(Some("/")).unwrap(), PathBuf::from("picasso"));
        assert!(parent_path(Some("/a/../../etc")).is_err());
        assert_eq!(leaf("picasso-n1-S1-2"), "picasso-n1-S1-2");
        assert_eq!(leaf("../x"), "r.._x");
        assert_eq!(cpu_quota_us(0.4), 40_000);
        assert_eq!(cpu_quota_us(0.001), 1000);
    }

    /// A v2 layout as files in a temporary directory (the kernel's files
    /// are plain files there): the limits and controllers are written.
    #[test]
    fn v2_writes_cpu_max_memory_max_and_enables_controllers() {
        let root = temp("v2");
        std::fs::write(root.join("cgroup.controllers"), "cpu memory io").unwrap();
        let h = Hierarchy::detect(&root).unwrap();
        assert_eq!(h, Hierarchy::V2 { root: root.clone() });
        let cg = h
            .create(Some("/pi-1"), "picasso-n1-S1-1", Some(0.4), Some(64 << 20))
            .unwrap();
        let dir = root.join("pi-1/picasso-n1-S1-1");
        assert_eq!(cg.dirs, vec![dir.clone()]);
        assert_eq!(
            std::fs::read_to_string(dir.join("cpu.max")).unwrap(),
            "40000 100000"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("memory.max")).unwrap(),
            (64u64 << 20).to_string()
        );
        // The last controller written wins in a plain file; in cgroupfs
        // both accumulate. Either way each ancestor was written to.
        for d in [&root, &root.join("pi-1")] {
            assert!(d.join("cgroup.subtree_control").exists(), "{}", d.display());
        }
        assert!(Enforcement::Cgroup(cg).describe().starts_with("cgroup-v2 "));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn v1_writes_cfs_quota_and_memory_limit() {
        let root = temp("v1");
        for d in ["cpu", "memory"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
            std::fs::write(root.join(d).join("cgroup.procs"), "").unwrap();
        }
        let h = Hierarchy::detect(&root).unwrap();
        let cg = h.create(None, "r1", Some(1.5), Some(32 << 20)).unwrap();
        assert_eq!(cg.version, 1);
        let cpu = root.join("cpu/picasso/r1");
        assert_eq!(
            std::fs::read_to_string(cpu.join("cpu.cfs_quota_us")).unwrap(),
            "150000"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("memory/picasso/r1/memory.limit_in_bytes")).unwrap(),
            (32u64 << 20).to_string()
        );
        cg.join(4242).unwrap();
        assert_eq!(cg.pids(), vec![4242]);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn no_hierarchy_is_none() {
        let root = temp("none");
        assert_eq!(Hierarchy::detect(&root), None);
        let _ = std::fs::remove_dir_all(&root);
        let r = Enforcement::Rlimit {
            kib: Some(65536),
            cpu_asked: true,
            why: "none at /x".into(),
        };
        assert_eq!(
            r.describe(),
            "rlimit-as 65536 KiB; cpu not enforced (no cgroup: none at /x)"
        );
    }
}
