//! Node figures from sysinfo: CPU use and load, memory, the data disk, CPU
//! model and cores, OS. Reads `/proc` (and one `statvfs`) per sample; the
//! process table is never scanned, which is what keeps a sample cheap.
//!
//! Owns the sysinfo state between samples (CPU use is a difference of two
//! readings). Does not own containers or the gateway (see [`super`]).

use std::path::{Path, PathBuf};

use sysinfo::{CpuRefreshKind, DiskRefreshKind, Disks, MemoryRefreshKind, System};

use super::schema::{human_bytes, HardResources, NodeMetrics, ResourceUsage, SoftResources};

/// What does not change while the node runs, read once.
#[derive(Debug, Clone)]
struct Fixed {
    soft: SoftResources,
    cpu_model: String,
    cpu_cores: usize,
    cpu_physical_cores: Option<usize>,
    cpu_mhz: u64,
    arch: String,
}

/// The node part of one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemSample {
    /// The paper's `softResources`.
    pub soft: SoftResources,
    /// The paper's `hardResources`.
    pub hard: HardResources,
    /// The paper's `resourceUsage`.
    pub usage: ResourceUsage,
    /// The same as numbers.
    pub node: NodeMetrics,
}

/// Samples the node's resources; keep one and call [`sample`](Self::sample)
/// at each interval.
pub struct SystemSampler {
    sys: System,
    disks: Disks,
    /// Index in `disks` of the disk holding `data_dir`.
    disk: Option<usize>,
    fixed: Fixed,
}

impl std::fmt::Debug for SystemSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemSampler")
            .field("cpu", &self.fixed.cpu_model)
            .finish()
    }
}

/// The disk whose mount point is the longest prefix of `path`.
fn disk_of(disks: &Disks, path: &Path) -> Option<usize> {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from("/"));
    disks
        .list()
        .iter()
        .enumerate()
        .filter(|(_, d)| path.starts_with(d.mount_point()) && d.total_space() > 0)
        .max_by_key(|(_, d)| d.mount_point().as_os_str().len())
        .map(|(i, _)| i)
}

impl SystemSampler {
    /// A sampler reporting the disk that holds `data_dir` (the root file
    /// system when it does not exist).
    pub fn new(data_dir: &Path) -> Self {
        let mut sys = System::new();
        sys.refresh_cpu_list(CpuRefreshKind::everything());
        let cpus = sys.cpus();
        let cpu_model = cpus
            .first()
            .map(|c| c.brand().trim().to_owned())
            .filter(|b| !b.is_empty())
            .unwrap_or_else(System::cpu_arch);
        let cpu_mhz = cpus.first().map(|c| c.frequency()).unwrap_or(0);
        let fixed = Fixed {
            soft: SoftResources {
                os: match std::env::consts::OS {
                    "linux" => "Linux".to_owned(),
                    "macos" => "macOS".to_owned(),
                    other => other.to_owned(),
                },
                os_version: System::long_os_version().unwrap_or_default(),
                kernel: System::kernel_version().unwrap_or_default(),
                hostname: System::host_name().unwrap_or_default(),
            },
            cpu_model,
            cpu_cores: cpus.len().max(1),
            cpu_physical_cores: System::physical_core_count(),
            cpu_mhz,
            arch: System::cpu_arch(),
        };
        let disks =
            Disks::new_with_refreshed_list_specifics(DiskRefreshKind::nothing().with_storage());
        let disk = disk_of(&disks, data_dir);
        Self {
            sys,
            disks,
            disk,
            fixed,
        }
    }

    /// Reads the node's figures now. CPU use is since the previous call
    /// (since boot on the first).
    pub fn sample(&mut self) -> SystemSample {
        self.sys.refresh_cpu_usage();
        self.sys
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        let (disk_total, disk_available, disk_mount) =
            match self.disk.and_then(|i| self.disks.list_mut().get_mut(i)) {
                Some(d) => {
                    d.refresh_specifics(DiskRefreshKind::nothing().with_storage());
                    (
                        d.total_space(),
                        d.available_space(),
                        d.mount_point().display().to_string(),
                    )
                }
                None => (0, 0, String::new()),
            };
        let load = System::load_average();
        let total = self.sys.total_memory();
        let used = total.saturating_sub(self.sys.available_memory());
        let mem_percent = if total == 0 {
            0.0
        } else {
            used as f64 / total as f64 * 100.0
        };
        let cpu_percent = f64::from(self.sys.global_cpu_usage());
        let f = &self.fixed;
        let cpu = if f.cpu_mhz > 0 {
            format!(
                "{}, {:.1}GHz, {} cores, {}",
                f.cpu_model,
                f.cpu_mhz as f64 / 1000.0,
                f.cpu_cores,
                f.arch
            )
        } else {
            format!("{}, {} cores, {}", f.cpu_model, f.cpu_cores, f.arch)
        };
        SystemSample {
            soft: f.soft.clone(),
            hard: HardResources {
                mem: human_bytes(total),
                disk: human_bytes(disk_total),
                cpu,
            },
            usage: ResourceUsage {
                cpu_load: format!("{:.2}", load.one),
                mem_usage: format!("{mem_percent:.0}"),
                cpu_usage: format!("{cpu_percent:.2}"),
            },
            node: NodeMetrics {
                cpu_percent,
                load_average: [load.one, load.five, load.fifteen],
                mem_total_bytes: total,
                mem_used_bytes: used,
                mem_percent,
                disk_total_bytes: disk_total,
                disk_available_bytes: disk_available,
                disk_mount,
                cpu_model: f.cpu_model.clone(),
                cpu_cores: f.cpu_cores,
                cpu_physical_cores: f.cpu_physical_cores,
                cpu_mhz: f.cpu_mhz,
                arch: f.arch.clone(),
                uptime_secs: System::uptime(),
                sample_micros: 0,
                cpu_quota: None,
            },
        }
    }
}

/// The node's primary IPv4 address: the source address the kernel picks
/// for a route off the machine (a connected UDP socket; nothing is sent),
/// `127.0.0.1` without such a route.
pub fn primary_ip() -> String {
    let probe = || -> std::io::Result<std::net::IpAddr> {
        let s = std::net::UdpSocket::bind("0.0.0.0:0")?;
        // TEST-NET-1 (RFC 5737): routable, never answered; connect only
        // selects the route.
        s.connect("192.0.2.1:9")?;
        Ok(s.local_addr()?.ip())
    };
    probe()
        .map(|ip| ip.to_string())
        .unwrap_or_else(|_| "127.0.0.1".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_plausible() {
        let mut s = SystemSampler::new(Path::new("/"));
        let first = s.sample();
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
        let x = s.sample();
        assert_eq!(x.soft.os, "Linux");
        assert!(x.node.mem_total_bytes > 0);
        assert!(x.node.mem_used_bytes <= x.node.mem_total_bytes);
        assert!((0.0..=100.0).contains(&x.node.mem_percent));
        assert!((0.0..=100.0).contains(&x.node.cpu_percent));
        assert!(x.node.cpu_cores >= 1);
        assert!(x.node.disk_total_bytes > 0, "{:?}", x.node);
        assert!(x.node.disk_available_bytes <= x.node.disk_total_bytes);
        assert!(x.hard.mem.ends_with("B"), "{}", x.hard.mem);
        assert!(x.usage.cpu_load.parse::<f64>().unwrap() >= 0.0);
        assert!(x.usage.cpu_usage.parse::<f64>().is_ok());
        assert!(x.usage.mem_usage.parse::<f64>().is_ok());
        assert_eq!(first.hard.cpu, x.hard.cpu);
        assert!(!primary_ip().is_empty());
    }
}
