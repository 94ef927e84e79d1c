//! The monitoring report's JSON schema, shared by the node's monitoring
//! agent (which writes it) and the orchestrator's monitoring manager
//! (which parses it).
//!
//! The paper's keys come first and keep the paper's types: every value is
//! a string (`"cpuLoad": "0.04"`, `"memUsage": "14"`, container
//! `"port_host": "8002"`), names are spelled as in the paper (`PiID`,
//! `softResources.OS`, container `memUsage`). New keys sit beside them
//! with typed values: [`MonitorReport::node`] (numbers),
//! [`MonitorReport::services`] (the gateway's demand figures),
//! [`MonitorReport::timestamp`], [`MonitorReport::runtime`].
//!
//! ```text
//! { "softResources": {"OS": "Linux", …}, "hardResources": {"mem","disk","cpu"},
//!   "resourceUsage": {"cpuLoad","memUsage","cpuUsage"}, "PiID", "PiIP",
//!   "containers": [{"status","port_host","memUsage","name","port_container",
//!                   "cpuUsage","image","id", + "state","cpuPercent",…}],
//!   + "node": {…numbers…}, "services": [{…}], "timestamp", "interval_ms", "runtime" }
//! ```
//!
//! Parsing is lenient about additions (unknown keys are ignored, new keys
//! have defaults) so an orchestrator can read reports from older and newer
//! agents, and from the paper's own agent (only the paper's keys).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the added (non-paper) keys; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// Why a report could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The bytes are not a monitoring report.
    #[error("invalid monitoring report: {0}")]
    Json(#[from] serde_json::Error),
}

/// One node's status: the paper's monitoring JSON plus our additions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorReport {
    /// Software: the OS.
    #[serde(rename = "softResources")]
    pub soft_resources: SoftResources,
    /// Hardware: memory, disk, CPU, as human strings.
    #[serde(rename = "hardResources")]
    pub hard_resources: HardResources,
    /// Current load, as strings.
    #[serde(rename = "resourceUsage")]
    pub resource_usage: ResourceUsage,
    /// The node id (`SEG_1`).
    #[serde(rename = "PiID")]
    pub pi_id: String,
    /// The node's IP address.
    #[serde(rename = "PiIP")]
    pub pi_ip: String,
    /// The containers (or processes) the node runs.
    #[serde(default)]
    pub containers: Vec<ContainerReport>,
    /// Added: the node figures as numbers.
    #[serde(default)]
    pub node: NodeMetrics,
    /// Added: per-service demand measured by the node's gateway.
    #[serde(default)]
    pub services: Vec<ServiceDemand>,
    /// Added: when the sample was taken, Unix milliseconds.
    #[serde(default)]
    pub timestamp: u64,
    /// Added: the sampling interval (the Data's FreshnessPeriod), ms.
    #[serde(default)]
    pub interval_ms: u64,
    /// Added: which container runtime runs the services (`docker`,
    /// `process`, `fake`).
    #[serde(default)]
    pub runtime: String,
    /// Added: [`SCHEMA_VERSION`] of the writer (0: the paper's agent).
    #[serde(default)]
    pub schema: u32,
}

/// The paper's `softResources`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftResources {
    /// Operating system name (`Linux`).
    #[serde(rename = "OS")]
    pub os: String,
    /// Added: distribution and version (`Debian GNU/Linux 12`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub os_version: String,
    /// Added: kernel version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kernel: String,
    /// Added: host name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
}

/// The paper's `hardResources`: human-readable strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardResources {
    /// Total memory (`1 GB`).
    pub mem: String,
    /// Total size of the data disk (`16 GB`).
    pub disk: String,
    /// CPU description (`A 1.2GHz quad-core ARMv8 CPU`).
    pub cpu: String,
}

/// The paper's `resourceUsage`: numbers written as strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceUsage {
    /// One-minute load average (`0.04`).
    #[serde(rename = "cpuLoad")]
    pub cpu_load: String,
    /// Memory in use, percent of total (`14`).
    #[serde(rename = "memUsage")]
    pub mem_usage: String,
    /// CPU in use, percent of all cores (`24.31`).
    #[serde(rename = "cpuUsage")]
    pub cpu_usage: String,
}

impl ResourceUsage {
    /// The one-minute load average as a number.
    pub fn cpu_load(&self) -> Option<f64> {
        self.cpu_load.trim().parse().ok()
    }

    /// Memory in use as a percentage.
    pub fn mem_usage(&self) -> Option<f64> {
        self.mem_usage.trim().parse().ok()
    }

    /// CPU in use as a percentage.
    pub fn cpu_usage(&self) -> Option<f64> {
        self.cpu_usage.trim().parse().ok()
    }
}

/// One entry of the paper's `containers`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerReport {
    /// Human status (`Up 3 hours`).
    pub status: String,
    /// Published host port (`8002`; empty when none).
    pub port_host: String,
    /// Memory in use, bytes (`2015232`).
    #[serde(rename = "memUsage")]
    pub mem_usage: String,
    /// Docker's name with its leading slash (`/adisorn`).
    pub name: String,
    /// Container port (`80`; empty when none).
    pub port_container: String,
    /// Cumulative CPU time, nanoseconds (`58986155`), as in the paper's
    /// agent (Docker's `cpu_stats.cpu_usage.total_usage`).
    #[serde(rename = "cpuUsage")]
    pub cpu_usage: String,
    /// The image (`hyprriot/rpi-busybox-httpd:latest`).
    pub image: String,
    /// The runtime's id.
    pub id: String,
    /// Added: lifecycle state (`running`, `exited`, …).
    #[serde(default)]
    pub state: String,
    /// Added: CPU use since the previous sample, percent of one core
    /// (Docker's formula); absent on a container's first sample.
    #[serde(rename = "cpuPercent", default)]
    pub cpu_percent: Option<f64>,
    /// Added: the service it is a replica of (label `picasso.service`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

impl ContainerReport {
    /// The name without Docker's leading slash.
    pub fn bare_name(&self) -> &str {
        self.name.strip_prefix('/').unwrap_or(&self.name)
    }

    /// Memory in use, bytes.
    pub fn mem_bytes(&self) -> Option<u64> {
        self.mem_usage.trim().parse().ok()
    }

    /// Cumulative CPU time, nanoseconds.
    pub fn cpu_total_ns(&self) -> Option<u64> {
        self.cpu_usage.trim().parse().ok()
    }

    /// The host port as a number.
    pub fn port_host(&self) -> Option<u16> {
        self.port_host.trim().parse().ok()
    }

    /// The container port as a number.
    pub fn port_container(&self) -> Option<u16> {
        self.port_container.trim().parse().ok()
    }
}

/// Added: the node's figures as numbers (what `hardResources` and
/// `resourceUsage` say as strings, and more).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeMetrics {
    /// CPU in use, percent of all cores, since the previous sample.
    pub cpu_percent: f64,
    /// Load averages over 1, 5 and 15 minutes.
    pub load_average: [f64; 3],
    /// Total memory, bytes.
    pub mem_total_bytes: u64,
    /// Memory in use (total less available), bytes.
    pub mem_used_bytes: u64,
    /// Memory in use, percent.
    pub mem_percent: f64,
    /// Size of the disk holding the node's data directory, bytes.
    pub disk_total_bytes: u64,
    /// Space left on it for unprivileged users, bytes.
    pub disk_available_bytes: u64,
    /// Where that disk is mounted.
    pub disk_mount: String,
    /// CPU model (`Cortex-A53`, `Intel(R) Xeon(R) …`).
    pub cpu_model: String,
    /// Logical CPUs.
    pub cpu_cores: usize,
    /// Physical cores, when known.
    pub cpu_physical_cores: Option<usize>,
    /// CPU frequency, MHz (0 when unknown).
    pub cpu_mhz: u64,
    /// CPU architecture (`aarch64`, `x86_64`).
    pub arch: String,
    /// Seconds since boot.
    pub uptime_secs: u64,
    /// How long taking this sample took, microseconds (the agent's own cost).
    pub sample_micros: u64,
    /// Cores the node's services may use when it emulates a small device
    /// with a cgroup CPU quota; `cpu_percent` is then a share of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_quota: Option<f64>,
}

/// Added: one service's demand as the node's gateway measured it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceDemand {
    /// The service name.
    pub service: String,
    /// Local replicas known to the gateway.
    pub replicas: usize,
    /// Of which healthy.
    pub healthy_replicas: usize,
    /// Completed requests per second over the last 10 s.
    pub requests_per_sec: f64,
    /// Requests sent to replicas and not yet answered.
    pub in_flight: usize,
    /// Requests sent to replicas since the gateway started.
    pub requests_total: u64,
    /// Share of completed requests that succeeded, 0–1.
    pub success_rate: f64,
    /// Median latency of recent requests, ms.
    pub latency_p50_ms: Option<f64>,
    /// 95th-percentile latency of recent requests, ms.
    pub latency_p95_ms: Option<f64>,
    /// Nack(Congestion) answered because every replica was full.
    pub congestion_nacks: u64,
    /// Requests sent to each local replica since it was added, by
    /// replica (container) id: how the gateway balanced them.
    pub replica_requests: BTreeMap<String, u64>,
}

impl MonitorReport {
    /// Parses a report (the Data content, all segments joined).
    pub fn from_json(bytes: &[u8]) -> Result<Self, SchemaError> {
        Ok(serde_json::from_slice(bytes)?)
    }

    /// The report as compact JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Invariant: every field serialises (strings, numbers, options,
        // vectors of those); serde_json only fails on maps with non-string
        // keys or failing Serialize impls, neither of which occur here.
        serde_json::to_vec(self).expect("a monitoring report always serialises")
    }
}

/// Bytes as the paper writes sizes: `1 GB`, `16 GB`, `7.7 GB`, `512 MB`
/// (powers of 1024, one decimal below 10 units, trailing `.0` dropped).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = if value < 10.0 && unit > 0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    };
    let text = text.strip_suffix(".0").unwrap_or(&text).to_owned();
    format!("{text} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The paper's example, verbatim but for the missing comma after
    /// `"cpuUsage": "58986155"` (a typo in the paper).
    const PAPER: &str = r#"{ "softResources": { "OS": "Linux" },
  "hardResources": { "mem": "1 GB", "disk": "16 GB", "cpu":
                    "A 1.2GHz quad-core ARMv8 CPU" },
  "resourceUsage": { "cpuLoad": "0.04", "memUsage": "14",
                    "cpuUsage": "24.31" },
  "PiID": "SEG_1",
  "PiIP": "192.0.0.2",
  "containers": [ { "status": "Up 3 hours", "port_host": "8002",
                   "memUsage": "2015232", "name": "/adisorn",
                   "port_container": "80", "cpuUsage": "58986155",
                   "image": "hyprriot/rpi-busybox-httpd:latest",
                   "id": "dbef34542d2649a1d97521ef042c4b59ec7b" } ] }"#;

    #[test]
    fn parses_the_papers_report() {
        let r = MonitorReport::from_json(PAPER.as_bytes()).unwrap();
        assert_eq!(r.pi_id, "SEG_1");
        assert_eq!(r.pi_ip, "192.0.0.2");
        assert_eq!(r.soft_resources.os, "Linux");
        assert_eq!(r.hard_resources.mem, "1 GB");
        assert_eq!(r.hard_resources.cpu, "A 1.2GHz quad-core ARMv8 CPU");
        assert_eq!(r.resource_usage.cpu_load(), Some(0.04));
        assert_eq!(r.resource_usage.mem_usage(), Some(14.0));
        assert_eq!(r.resource_usage.cpu_usage(), Some(24.31));
        let c = &r.containers[0];
        assert_eq!(c.bare_name(), "adisorn");
        assert_eq!(c.mem_bytes(), Some(2_015_232));
        assert_eq!(c.cpu_total_ns(), Some(58_986_155));
        assert_eq!(c.port_host(), Some(8002));
        assert_eq!(c.port_container(), Some(80));
        assert_eq!(c.cpu_percent, None);
        assert_eq!(r.schema, 0, "the paper's agent has no schema key");
        assert!(r.services.is_empty());
    }

    #[test]
    fn papers_report_round_trips_with_the_same_paper_keys() {
        let r = MonitorReport::from_json(PAPER.as_bytes()).unwrap();
        let again = MonitorReport::from_json(&r.to_json()).unwrap();
        assert_eq!(r, again);
        let ours: serde_json::Value = serde_json::from_slice(&r.to_json()).unwrap();
        let paper: serde_json::Value = serde_json::from_str(PAPER).unwrap();
        for key in ["softResources", "hardResources", "resourceUsage"] {
            for (k, v) in paper[key].as_object().unwrap() {
                assert_eq!(&ours[key][k], v, "{key}.{k}");
            }
        }
        for (k, v) in paper["containers"][0].as_object().unwrap() {
            assert_eq!(&ours["containers"][0][k], v, "containers[0].{k}");
        }
        assert_eq!(ours["PiID"], paper["PiID"]);
        assert_eq!(ours["PiIP"], paper["PiIP"]);
    }

    #[test]
    fn rejects_what_is_not_a_report() {
        let e = MonitorReport::from_json(br#"{"PiID": 3}"#).unwrap_err();
        assert!(
            e.to_string().starts_with("invalid monitoring report"),
            "{e}"
        );
        assert!(MonitorReport::from_json(b"not json").is_err());
    }

    #[test]
    fn sizes_read_like_the_papers() {
        assert_eq!(human_bytes(1 << 30), "1 GB");
        assert_eq!(human_bytes(16 << 30), "16 GB");
        assert_eq!(human_bytes(8_260_000_000), "7.7 GB");
        assert_eq!(human_bytes(512 << 20), "512 MB");
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(3 << 40), "3 TB");
    }
}
