//! Emulated Raspberry Pis: one cgroup per test-bed node with a CPU quota,
//! used as the cgroup parent of that node's containers, so the replicas of
//! one node share one small device's CPU as on the paper's test bed.
//!
//! Works with cgroup v1 (the `cpu` and `cpuacct` controllers) and v2 (the
//! unified hierarchy with `cpu.max`) when the Docker engine uses the
//! `cgroupfs` driver, whose cgroup parent is a plain path. Anything else
//! (no write access, the `systemd` driver) is reported as a reason, and the
//! test bed says it runs without CPU emulation.

use std::path::{Path, PathBuf};

use picasso_agent::monitor::device::read_usage_ns;

/// The test bed's cgroup, under which every node gets one.
pub const ROOT: &str = "picasso-testbed";
/// CFS period used for quotas, µs.
const PERIOD_US: u64 = 100_000;

/// Which cgroup hierarchy this machine offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// cgroup v1: per-controller mounts.
    V1 {
        /// The `cpu` controller's mount point.
        cpu: PathBuf,
        /// The `cpuacct` controller's mount point (usage), when mounted.
        cpuacct: Option<PathBuf>,
    },
    /// cgroup v2: the unified hierarchy's mount point.
    V2(PathBuf),
}

/// Finds the hierarchy from /proc/mounts.
pub fn detect() -> Result<Hierarchy, String> {
    let mounts = std::fs::read_to_string("/proc/mounts")
        .map_err(|e| format!("cannot read /proc/mounts: {e}"))?;
    detect_from(&mounts)
}

fn detect_from(mounts: &str) -> Result<Hierarchy, String> {
    let mut cpu = None;
    let mut cpuacct = None;
    let mut unified = None;
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 {
            continue;
        }
        let (path, kind, opts) = (f[1], f[2], f[3]);
        match kind {
            "cgroup2" if path == "/sys/fs/cgroup" => unified = Some(PathBuf::from(path)),
            "cgroup" => {
                let opts: Vec<&str> = opts.split(',').collect();
                if opts.contains(&"cpu") {
                    cpu = Some(PathBuf::from(path));
                }
                if opts.contains(&"cpuacct") {
                    cpuacct = Some(PathBuf::from(path));
                }
            }
            _ => {}
        }
    }
    if let Some(root) = unified {
        return Ok(Hierarchy::V2(root));
    }
    match cpu {
        Some(cpu) => Ok(Hierarchy::V1 { cpu, cpuacct }),
        None => Err("no cgroup cpu controller is mounted".into()),
    }
}

/// One node's CPU-limited cgroup.
#[derive(Debug, Clone)]
pub struct NodeCgroup {
    /// The node.
    pub node: String,
    /// CPUs granted (e.g. 0.4).
    pub cpus: f64,
    /// The cgroup parent to give the container engine, e.g.
    /// `/picasso-testbed/n1`.
    pub parent: String,
    /// Directories made (removed on [`NodeCgroup::remove`], deepest first).
    dirs: Vec<PathBuf>,
    /// Where CPU usage (ns) is read.
    usage: Option<PathBuf>,
    /// v2 reports µs in cpu.stat instead of ns in cpuacct.usage.
    v2: bool,
    /// The cgroup's directory in the cpu controller (cpu.stat).
    cpu_dir: PathBuf,
    /// Its directory in the memory controller, when there is one.
    mem_dir: Option<PathBuf>,
}

/// A snapshot of a node cgroup's counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CgroupSnapshot {
    /// CPU time of everything in it, ns.
    pub usage_ns: u64,
    /// CFS periods elapsed and periods in which the quota ran out.
    pub periods: u64,
    /// Periods throttled.
    pub throttled: u64,
    /// Memory in use, bytes (0 when unknown).
    pub memory_bytes: u64,
    /// CPU time per child cgroup (one per container), ns.
    pub children: Vec<(String, u64)>,
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value)
        .map_err(|e| format!("cannot write {value:?} to {}: {e}", path.display()))
}

fn mkdir(path: &Path, made: &mut Vec<PathBuf>) -> Result<(), String> {
    if !path.exists() {
        std::fs::create_dir(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        made.push(path.to_owned());
    }
    Ok(())
}

impl NodeCgroup {
    /// Makes `<ROOT>/<node>` with a quota of `cpus` CPUs.
    pub fn create(h: &Hierarchy, node: &str, cpus: f64) -> Result<NodeCgroup, String> {
        if !(cpus > 0.0 && cpus.is_finite()) {
            return Err(format!("cpus: {cpus} is not a positive number"));
        }
        let quota = ((cpus * PERIOD_US as f64).round() as u64).max(1000);
        let mut dirs = Vec::new();
        let parent = format!("/{ROOT}/{node}");
        let result = (|| match h {
            Hierarchy::V1 { cpu, cpuacct } => {
                mkdir(&cpu.join(ROOT), &mut dirs)?;
                let dir = cpu.join(ROOT).join(node);
                mkdir(&dir, &mut dirs)?;
                write(&dir.join("cpu.cfs_period_us"), &PERIOD_US.to_string())?;
                write(&dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
                let usage = match cpuacct {
                    Some(acct) if acct != cpu => {
                        mkdir(&acct.join(ROOT), &mut dirs)?;
                        mkdir(&acct.join(ROOT).join(node), &mut dirs)?;
                        acct.join(ROOT).join(node).join("cpuacct.usage")
                    }
                    _ => dir.join("cpuacct.usage"),
                };
                Ok((
                    Some(usage),
                    false,
                    dir.clone(),
                    memory_v1(&h_mem_v1(), node),
                ))
            }
            Hierarchy::V2(root) => {
                let controllers =
                    std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
                if !controllers.split_whitespace().any(|c| c == "cpu") {
                    return Err("the cgroup v2 root does not offer the cpu controller".into());
                }
                write(&root.join("cgroup.subtree_control"), "+cpu")?;
                mkdir(&root.join(ROOT), &mut dirs)?;
                write(&root.join(ROOT).join("cgroup.subtree_control"), "+cpu")?;
                let dir = root.join(ROOT).join(node);
                mkdir(&dir, &mut dirs)?;
                write(&dir.join("cpu.max"), &format!("{quota} {PERIOD_US}"))?;
                Ok((
                    Some(dir.join("cpu.stat")),
                    true,
                    dir.clone(),
                    Some(dir.clone()),
                ))
            }
        })();
        match result {
            Ok((usage, v2, cpu_dir, mem_dir)) => Ok(NodeCgroup {
                node: node.to_owned(),
                cpus,
                parent,
                dirs,
                usage,
                v2,
                cpu_dir,
                mem_dir,
            }),
            Err(e) => {
                for d in dirs.iter().rev() {
                    let _ = std::fs::remove_dir(d);
                }
                Err(e)
            }
        }
    }

    /// CPU time used by everything in the cgroup so far, ns.
    pub fn usage_ns(&self) -> Option<u64> {
        read_usage_ns(self.usage.as_ref()?, self.v2)
    }

    /// Reads every counter now.
    pub fn snapshot(&self) -> CgroupSnapshot {
        let mut s = CgroupSnapshot {
            usage_ns: self.usage_ns().unwrap_or(0),
            ..CgroupSnapshot::default()
        };
        let stat = std::fs::read_to_string(self.cpu_dir.join("cpu.stat")).unwrap_or_default();
        for l in stat.lines() {
            let mut f = l.split_whitespace();
            match (f.next(), f.next().and_then(|v| v.parse::<u64>().ok())) {
                (Some("nr_periods"), Some(v)) => s.periods = v,
                (Some("nr_throttled"), Some(v)) => s.throttled = v,
                _ => {}
            }
        }
        if let Some(m) = &self.mem_dir {
            let file = if self.v2 {
                "memory.current"
            } else {
                "memory.usage_in_bytes"
            };
            s.memory_bytes = std::fs::read_to_string(m.join(file))
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
        }
        // Children: the containers' cgroups.
        let dir = match (&self.usage, self.v2) {
            (Some(u), _) => u.parent().map(Path::to_path_buf),
            _ => None,
        };
        if let Some(dir) = dir {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for e in entries.flatten() {
                    if !e.file_type().is_ok_and(|t| t.is_dir()) {
                        continue;
                    }
                    let name = e.file_name().to_string_lossy().into_owned();
                    let file = if self.v2 { "cpu.stat" } else { "cpuacct.usage" };
                    let ns = read_usage_ns(&e.path().join(file), self.v2);
                    if let Some(ns) = ns {
                        s.children.push((name, ns));
                    }
                }
            }
        }
        s.children.sort();
        s
    }

    /// Removes the directories this made (the engine must have removed its
    /// containers first; a busy cgroup is left and reported).
    pub fn remove(&self) -> Result<(), String> {
        let mut errors = Vec::new();
        // Deepest first; the shared ROOT may still hold other nodes.
        for d in self.dirs.iter().rev() {
            if d.file_name().is_some_and(|n| n == ROOT) {
                // Shared with the other nodes: only once it is empty.
                let _ = std::fs::remove_dir(d);
                continue;
            }
            if let Err(e) = remove_tree(d) {
                errors.push(format!("{}: {e}", d.display()));
            }
        }
        // The shared root goes with its last node, whoever made it.
        for dir in [
            Some(self.cpu_dir.as_path()),
            self.usage.as_deref().and_then(Path::parent),
        ] {
            if let Some(root) = dir.and_then(Path::parent) {
                if root.file_name().is_some_and(|n| n == ROOT) {
                    let _ = std::fs::remove_dir(root);
                }
            }
        }
        // The engine made the parent in its other controllers (memory,
        // pids, …) too: remove those, leaving nothing behind.
        if let Ok(mounts) = std::fs::read_to_string("/proc/mounts") {
            for l in mounts.lines() {
                let f: Vec<&str> = l.split_whitespace().collect();
                if f.len() >= 3 && (f[2] == "cgroup" || f[2] == "cgroup2") {
                    let root = Path::new(f[1]).join(ROOT);
                    let _ = remove_tree(&root.join(&self.node));
                    let _ = std::fs::remove_dir(&root);
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

/// The v1 memory controller's mount point, if any.
fn h_mem_v1() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() >= 4 && f[2] == "cgroup" && f[3].split(',').any(|o| o == "memory"))
            .then(|| PathBuf::from(f[1]))
    })
}

/// The node's directory in the v1 memory controller (the engine makes it
/// when it starts a container under the parent).
fn memory_v1(mount: &Option<PathBuf>, node: &str) -> Option<PathBuf> {
    mount.as_ref().map(|m| m.join(ROOT).join(node))
}

/// Removes an empty cgroup and any empty children the engine left.
fn remove_tree(dir: &Path) -> std::io::Result<()> {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = remove_tree(&e.path());
            }
        }
    }
    std::fs::remove_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_v1_and_v2() {
        let v1 = "cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n\
                  cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0\n\
                  cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n";
        assert_eq!(
            detect_from(v1).unwrap(),
            Hierarchy::V1 {
                cpu: "/sys/fs/cgroup/cpu".into(),
                cpuacct: Some("/sys/fs/cgroup/cpuacct".into())
            }
        );
        let joint = "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0\n";
        assert_eq!(
            detect_from(joint).unwrap(),
            Hierarchy::V1 {
                cpu: "/sys/fs/cgroup/cpu,cpuacct".into(),
                cpuacct: Some("/sys/fs/cgroup/cpu,cpuacct".into())
            }
        );
        let v2 = "cgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0\n";
        assert_eq!(
            detect_from(v2).unwrap(),
            Hierarchy::V2("/sys/fs/cgroup".into())
        );
        assert!(detect_from("proc /proc proc rw 0 0\n").is_err());
    }

    #[test]
    fn a_quota_on_a_fake_v1_tree_and_its_removal() {
        let dir = tempfile::tempdir().unwrap();
        let cpu = dir.path().join("cpu");
        std::fs::create_dir(&cpu).unwrap();
        let h = Hierarchy::V1 {
            cpu: cpu.clone(),
            cpuacct: None,
        };
        let g = NodeCgroup::create(&h, "n1", 0.4).unwrap();
        assert_eq!(g.parent, "/picasso-testbed/n1");
        let quota =
            std::fs::read_to_string(cpu.join("picasso-testbed/n1/cpu.cfs_quota_us")).unwrap();
        assert_eq!(quota, "40000");
        std::fs::write(cpu.join("picasso-testbed/n1/cpuacct.usage"), "123\n").unwrap();
        assert_eq!(g.usage_ns(), Some(123));
        std::fs::remove_file(cpu.join("picasso-testbed/n1/cpuacct.usage")).unwrap();
        std::fs::remove_file(cpu.join("picasso-testbed/n1/cpu.cfs_quota_us")).unwrap();
        std::fs::remove_file(cpu.join("picasso-testbed/n1/cpu.cfs_period_us")).unwrap();
        let g2 = NodeCgroup::create(&h, "n2", 0.4).unwrap();
        g.remove().unwrap();
        assert!(
            cpu.join("picasso-testbed/n2").exists(),
            "another node's cgroup stays"
        );
        for f in ["cpu.cfs_quota_us", "cpu.cfs_period_us"] {
            std::fs::remove_file(cpu.join("picasso-testbed/n2").join(f)).unwrap();
        }
        g2.remove().unwrap();
        assert!(!cpu.join("picasso-testbed").exists());
        assert!(NodeCgroup::create(&h, "n1", 0.0)
            .unwrap_err()
            .contains("cpus"));
    }
}
