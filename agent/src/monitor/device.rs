//! The CPU of an emulated device: when a node confines its containers to a
//! cgroup parent with a CPU quota (a test bed emulating a Raspberry Pi on
//! a bigger machine), the host's CPU figures say nothing about the device.
//! [`DeviceCpu`] reads the parent's quota and usage instead, so the node
//! reports CPU use as a percentage of its own quota and the orchestrator
//! sees each emulated Pi saturate on its own.
//!
//! cgroup v1 (`cpu.cfs_quota_us` / `cpu.cfs_period_us`, `cpuacct.usage`)
//! and v2 (`cpu.max`, `cpu.stat`'s `usage_usec`) are both read; the parent
//! is a path as the Docker engine's `cgroupfs` driver takes it
//! (`/picasso-testbed/pi1`).

use std::path::{Path, PathBuf};
use std::time::Instant;

/// Reads one cgroup's CPU quota and usage.
#[derive(Debug)]
pub struct DeviceCpu {
    /// Cores granted by the quota.
    quota_cores: f64,
    /// Usage file.
    usage: PathBuf,
    /// v2 (µs in `cpu.stat`) rather than v1 (ns in `cpuacct.usage`).
    v2: bool,
    /// Previous (usage ns, when).
    prev: Option<(u64, Instant)>,
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

impl DeviceCpu {
    /// Opens the cgroup `parent` (as given to the engine) using the
    /// mounts in `/proc/mounts`; an error says why it cannot be read (no
    /// such cgroup, no quota set).
    pub fn open(parent: &str) -> Result<Self, String> {
        let mounts = read(Path::new("/proc/mounts"))?;
        Self::open_in(&mounts, parent)
    }

    /// As [`DeviceCpu::open`] with the mount table given.
    pub fn open_in(mounts: &str, parent: &str) -> Result<Self, String> {
        let rel = parent.trim_start_matches('/');
        let (mut cpu, mut acct, mut unified) = (None, None, None);
        for line in mounts.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 4 {
                continue;
            }
            match f[2] {
                "cgroup2" => unified = Some(PathBuf::from(f[1])),
                "cgroup" => {
                    let opts: Vec<&str> = f[3].split(',').collect();
                    if opts.contains(&"cpu") {
                        cpu = Some(PathBuf::from(f[1]));
                    }
                    if opts.contains(&"cpuacct") {
                        acct = Some(PathBuf::from(f[1]));
                    }
                }
                _ => {}
            }
        }
        if let Some(cpu) = cpu {
            let dir = cpu.join(rel);
            let quota: i64 = read(&dir.join("cpu.cfs_quota_us"))?
                .trim()
                .parse()
                .map_err(|e| format!("cpu.cfs_quota_us: {e}"))?;
            let period: i64 = read(&dir.join("cpu.cfs_period_us"))?
                .trim()
                .parse()
                .map_err(|e| format!("cpu.cfs_period_us: {e}"))?;
            if quota <= 0 || period <= 0 {
                return Err(format!("{} has no CPU quota", dir.display()));
            }
            let usage = acct.unwrap_or(cpu).join(rel).join("cpuacct.usage");
            return Ok(Self {
                quota_cores: quota as f64 / period as f64,
                usage,
                v2: false,
                prev: None,
            });
        }
        let root = unified.ok_or("no cgroup cpu controller is mounted")?;
        let dir = root.join(rel);
        let max = read(&dir.join("cpu.max"))?;
        let mut it = max.split_whitespace();
        let (quota, period) = (it.next().unwrap_or("max"), it.next().unwrap_or("100000"));
        let quota: f64 = quota
            .parse()
            .map_err(|_| format!("{} has no CPU quota", dir.display()))?;
        let period: f64 = period.parse().map_err(|e| format!("cpu.max period: {e}"))?;
        if quota <= 0.0 || period <= 0.0 {
            return Err(format!("{} has no CPU quota", dir.display()));
        }
        Ok(Self {
            quota_cores: quota / period,
            usage: dir.join("cpu.stat"),
            v2: true,
            prev: None,
        })
    }

    /// Cores the quota grants.
    pub fn quota_cores(&self) -> f64 {
        self.quota_cores
    }

    fn usage_ns(&self) -> Option<u64> {
        read_usage_ns(&self.usage, self.v2)
    }

    /// CPU used since the previous call, percent of the quota (0–100;
    /// `None` on the first call or when the usage cannot be read).
    pub fn sample(&mut self) -> Option<f64> {
        let now = Instant::now();
        let usage = self.usage_ns()?;
        let prev = self.prev.replace((usage, now));
        let (u0, t0) = prev?;
        let wall = now.duration_since(t0).as_secs_f64();
        if wall <= 0.0 {
            return None;
        }
        let cores = usage.saturating_sub(u0) as f64 / 1e9 / wall;
        Some((cores / self.quota_cores * 100.0).clamp(0.0, 100.0))
    }
}

/// CPU time a cgroup used, ns, from its usage file: v1 `cpuacct.usage`
/// (ns) or v2 `cpu.stat` (`usage_usec`); `None` when unreadable.
pub fn read_usage_ns(file: &Path, v2: bool) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    if v2 {
        text.lines()
            .find_map(|l| l.strip_prefix("usage_usec "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|us| us * 1000)
    } else {
        text.trim().parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_quota_and_usage() {
        let dir = tempfile::tempdir().unwrap();
        let cpu = dir.path().join("cpu");
        let acct = dir.path().join("cpuacct");
        std::fs::create_dir_all(cpu.join("tb/pi1")).unwrap();
        std::fs::create_dir_all(acct.join("tb/pi1")).unwrap();
        std::fs::write(cpu.join("tb/pi1/cpu.cfs_quota_us"), "40000\n").unwrap();
        std::fs::write(cpu.join("tb/pi1/cpu.cfs_period_us"), "100000\n").unwrap();
        std::fs::write(acct.join("tb/pi1/cpuacct.usage"), "1000\n").unwrap();
        let mounts = format!(
            "cgroup {} cgroup rw,cpu 0 0\ncgroup {} cgroup rw,cpuacct 0 0\n",
            cpu.display(),
            acct.display()
        );
        let mut d = DeviceCpu::open_in(&mounts, "/tb/pi1").unwrap();
        assert!((d.quota_cores() - 0.4).abs() < 1e-9);
        assert_eq!(d.sample(), None, "the first sample has no interval");
        std::thread::sleep(std::time::Duration::from_millis(50));
        // 10 s of CPU in ~50 ms is far above the quota: clamped to 100%.
        std::fs::write(acct.join("tb/pi1/cpuacct.usage"), "10000001000\n").unwrap();
        assert_eq!(d.sample(), Some(100.0));
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(d.sample(), Some(0.0), "no use since");

        std::fs::write(cpu.join("tb/pi1/cpu.cfs_quota_us"), "-1\n").unwrap();
        let e = DeviceCpu::open_in(&mounts, "/tb/pi1").unwrap_err();
        assert!(e.contains("no CPU quota"), "{e}");
        assert!(DeviceCpu::open_in(&mounts, "/tb/none").is_err());
    }

    #[test]
    fn v2_quota() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tb/pi2")).unwrap();
        std::fs::write(dir.path().join("tb/pi2/cpu.max"), "50000 100000\n").unwrap();
        std::fs::write(
            dir.path().join("tb/pi2/cpu.stat"),
            "usage_usec 5\nuser_usec 3\n",
        )
        .unwrap();
        let mounts = format!("cgroup2 {} cgroup2 rw 0 0\n", dir.path().display());
        let mut d = DeviceCpu::open_in(&mounts, "tb/pi2").unwrap();
        assert!((d.quota_cores() - 0.5).abs() < 1e-9);
        assert_eq!(d.sample(), None);
        std::fs::write(dir.path().join("tb/pi2/cpu.max"), "max 100000\n").unwrap();
        assert!(DeviceCpu::open_in(&mounts, "tb/pi2").is_err());
    }
}
