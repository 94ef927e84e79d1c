//! Per-service request metrics the gateway keeps for the monitoring agent:
//! counters plus a bounded window of recent completions from which the
//! rate and the latency percentiles are computed on demand. No I/O; time
//! is passed in.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Completions kept for rates and percentiles.
const WINDOW_SAMPLES: usize = 4096;
/// The span over which requests/s is computed.
const RATE_WINDOW: Duration = Duration::from_secs(10);

/// How one request ended, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The replica answered with a status below 500.
    Success,
    /// The replica failed (status ≥ 500, transport error or timeout).
    Failure,
}

/// Counters and recent samples of one service.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    requests: u64,
    successes: u64,
    failures: u64,
    congestion_nacks: u64,
    segments_served: u64,
    /// (completed at, latency) of recent requests, oldest first.
    recent: VecDeque<(Instant, Duration)>,
}

impl Recorder {
    /// Records a request sent to a replica that completed at `now`.
    pub fn complete(&mut self, outcome: Outcome, latency: Duration, now: Instant) {
        self.requests += 1;
        match outcome {
            Outcome::Success => self.successes += 1,
            Outcome::Failure => self.failures += 1,
        }
        if self.recent.len() == WINDOW_SAMPLES {
            self.recent.pop_front();
        }
        self.recent.push_back((now, latency));
    }

    /// Records a Nack(Congestion) answered because every replica was full.
    pub fn congestion(&mut self) {
        self.congestion_nacks += 1;
    }

    /// Records a later segment served from the response cache.
    pub fn segment(&mut self) {
        self.segments_served += 1;
    }

    /// The figures as of `now`.
    pub fn snapshot(
        &self,
        service: &str,
        in_flight: usize,
        replicas: (usize, usize),
        now: Instant,
    ) -> ServiceMetrics {
        let in_window = self
            .recent
            .iter()
            .filter(|(t, _)| now.saturating_duration_since(*t) <= RATE_WINDOW)
            .count();
        let mut lat: Vec<Duration> = self.recent.iter().map(|(_, l)| *l).collect();
        lat.sort_unstable();
        let pct = |p: f64| -> Option<Duration> {
            if lat.is_empty() {
                return None;
            }
            let idx = ((lat.len() as f64 - 1.0) * p).round() as usize;
            lat.get(idx.min(lat.len() - 1)).copied()
        };
        let done = self.successes + self.failures;
        ServiceMetrics {
            service: service.to_string(),
            replicas: replicas.0,
            healthy_replicas: replicas.1,
            in_flight,
            requests_total: self.requests,
            requests_per_sec: in_window as f64 / RATE_WINDOW.as_secs_f64(),
            success_rate: if done == 0 {
                1.0
            } else {
                self.successes as f64 / done as f64
            },
            latency_p50: pct(0.50),
            latency_p95: pct(0.95),
            congestion_nacks: self.congestion_nacks,
            segments_served: self.segments_served,
            replica_requests: Vec::new(),
        }
    }
}

/// A service's figures at one moment, for the monitoring agent.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceMetrics {
    /// The service name.
    pub service: String,
    /// Local replicas known.
    pub replicas: usize,
    /// Of which healthy.
    pub healthy_replicas: usize,
    /// Requests sent to replicas and not yet answered.
    pub in_flight: usize,
    /// Requests sent to replicas since the gateway started.
    pub requests_total: u64,
    /// Completed requests per second over the last 10 s.
    pub requests_per_sec: f64,
    /// Share of completed requests that succeeded (1.0 before any).
    pub success_rate: f64,
    /// Median latency of recent requests.
    pub latency_p50: Option<Duration>,
    /// 95th percentile latency of recent requests.
    pub latency_p95: Option<Duration>,
    /// Nack(Congestion) answered because every replica was at maxUsers.
    pub congestion_nacks: u64,
    /// Later segments served from the response cache.
    pub segments_served: u64,
    /// Requests sent to each replica since it was added, by replica id
    /// (filled in by the gateway, which knows its replicas).
    pub replica_requests: Vec<(String, u64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_rate_and_success() {
        let t0 = Instant::now();
        let mut r = Recorder::default();
        for ms in 1..=100u64 {
            let outcome = if ms <= 90 {
                Outcome::Success
            } else {
                Outcome::Failure
            };
            r.complete(outcome, Duration::from_millis(ms), t0);
        }
        r.congestion();
        let m = r.snapshot("s", 2, (3, 2), t0 + Duration::from_secs(1));
        assert_eq!(m.requests_total, 100);
        assert!((m.success_rate - 0.9).abs() < 1e-9);
        assert_eq!(m.latency_p50, Some(Duration::from_millis(51)));
        assert_eq!(m.latency_p95, Some(Duration::from_millis(95)));
        assert!((m.requests_per_sec - 10.0).abs() < 1e-9);
        assert_eq!((m.in_flight, m.replicas, m.healthy_replicas), (2, 3, 2));
        assert_eq!(m.congestion_nacks, 1);
        // Outside the rate window the rate falls to zero, percentiles stay.
        let later = r.snapshot("s", 0, (0, 0), t0 + Duration::from_secs(60));
        assert_eq!(later.requests_per_sec, 0.0);
        assert!(later.latency_p50.is_some());
    }
}
