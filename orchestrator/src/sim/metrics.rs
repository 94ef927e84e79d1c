//! What a run measures, per policy.

use serde::Serialize;

/// Response-time histogram: 1 ms bins up to 30 s, weighted by requests.
#[derive(Debug, Clone)]
pub struct Histogram {
    bins: Vec<f64>,
    total: f64,
    sum_s: f64,
}

const BIN_S: f64 = 0.001;
const BINS: usize = 30_000;

impl Default for Histogram {
    fn default() -> Self {
        Self {
            bins: vec![0.0; BINS + 1],
            total: 0.0,
            sum_s: 0.0,
        }
    }
}

impl Histogram {
    /// Adds `weight` requests answered in `seconds`.
    pub fn add(&mut self, seconds: f64, weight: f64) {
        if weight <= 0.0 || !seconds.is_finite() {
            return;
        }
        let i = ((seconds / BIN_S) as usize).min(BINS);
        self.bins[i] += weight;
        self.total += weight;
        self.sum_s += seconds * weight;
    }

    /// The mean, s (0 when empty).
    pub fn mean_s(&self) -> f64 {
        if self.total > 0.0 {
            self.sum_s / self.total
        } else {
            0.0
        }
    }

    /// The `q` quantile (0–1), s, to the bin's upper edge (0 when empty).
    pub fn quantile_s(&self, q: f64) -> f64 {
        if self.total <= 0.0 {
            return 0.0;
        }
        let want = q * self.total;
        let mut seen = 0.0;
        for (i, w) in self.bins.iter().enumerate() {
            seen += w;
            if seen >= want {
                return (i + 1) as f64 * BIN_S;
            }
        }
        (BINS + 1) as f64 * BIN_S
    }
}

/// One policy's results over a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyReport {
    /// The policy.
    pub policy: String,
    /// Requests users sent.
    pub requests_offered: f64,
    /// Requests answered.
    pub requests_served: f64,
    /// Requests failed: no replica, no replica with room, node down.
    pub requests_failed: f64,
    /// `requests_served / requests_offered`.
    pub success_rate: f64,
    /// Service-seconds (a service with demand, for one simulated second)
    /// whose mean response time was above the spec's `responseTime` or
    /// that served nothing.
    pub violation_seconds: u64,
    /// Service-seconds with demand.
    pub demanded_seconds: u64,
    /// Service-seconds with at least 1 % of requests failed.
    pub failing_seconds: u64,
    /// Running replicas summed over each simulated second.
    pub replica_seconds: f64,
    /// Most replicas running at once.
    pub peak_replicas: u64,
    /// Deployments on a node that already ran (or was getting) the service.
    pub deployments_local: u64,
    /// Deployments on another node.
    pub deployments_remote: u64,
    /// Deployments lost because their node failed before they finished.
    pub deployments_failed: u64,
    /// Deployments that did not start: the node's memory was full.
    pub deployments_out_of_memory: u64,
    /// Replicas removed.
    pub removals: u64,
    /// What the engine held (wanted to act and did not).
    pub holds: u64,
    /// Mean response time of served requests, ms.
    pub mean_response_ms: f64,
    /// 95th percentile, ms.
    pub p95_response_ms: f64,
    /// Node failures that cost services replicas.
    pub node_losses: u64,
    /// Services that lost replicas to a failure, and had them back.
    pub recoveries: u64,
    /// ... and never had them back before the run ended.
    pub unrecovered: u64,
    /// Mean time from a node failure to the service's replicas being
    /// back (or the policy deciding on fewer), s.
    pub mean_recovery_s: f64,
    /// The longest, s.
    pub max_recovery_s: f64,
    /// Wall time of the run, s.
    pub wall_s: f64,
    /// CPU time of the run, s, where the platform tells.
    pub cpu_s: Option<f64>,
    /// Wall time spent in `engine::plan`, s.
    pub engine_wall_s: f64,
    /// Slowest single `engine::plan` call, ms.
    pub engine_max_tick_ms: f64,
}
