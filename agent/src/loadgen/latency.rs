//! Exact latency accounting: every sample is kept, to the microsecond, as
//! a run-length list of sorted values, so percentiles are the values of
//! real requests (nearest rank) and not averages of averages or buckets.
//!
//! Owns: recording (one recorder per simulated user, no locks), merging
//! recorders, and the statistics. Memory is bounded by the number of
//! *distinct* microsecond values seen (plus a small buffer), not by the
//! number of requests, so an hour-long run costs no more than a minute.

use std::time::Duration;

/// Samples buffered before they are sorted into the run-length list.
const BUFFER: usize = 4096;

/// Latency samples, exact to 1 µs (the mean and the maximum to 1 ns).
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    /// Unsorted recent samples, µs.
    buffer: Vec<u32>,
    /// Sorted distinct values (µs) with their counts.
    runs: Vec<(u32, u64)>,
    count: u64,
    sum_ns: u128,
    min_ns: u64,
    max_ns: u64,
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Merges two sorted run-length lists.
fn merge_runs(a: &[(u32, u64)], b: &[(u32, u64)]) -> Vec<(u32, u64)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (va, ca) = a[i];
        let (vb, cb) = b[j];
        match va.cmp(&vb) {
            std::cmp::Ordering::Less => {
                out.push((va, ca));
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push((vb, cb));
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push((va, ca + cb));
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

impl Latencies {
    /// No samples.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one sample.
    pub fn record(&mut self, d: Duration) {
        let ns = nanos(d);
        if self.count == 0 || ns < self.min_ns {
            self.min_ns = ns;
        }
        self.max_ns = self.max_ns.max(ns);
        self.count += 1;
        self.sum_ns += u128::from(ns);
        self.buffer.push(micros(d));
        if self.buffer.len() >= BUFFER {
            self.compact();
        }
    }

    /// Sorts the buffer into the run-length list.
    fn compact(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        self.buffer.sort_unstable();
        let mut fresh: Vec<(u32, u64)> = Vec::new();
        for &v in &self.buffer {
            match fresh.last_mut() {
                Some((last, n)) if *last == v => *n += 1,
                _ => fresh.push((v, 1)),
            }
        }
        self.buffer.clear();
        self.runs = merge_runs(&self.runs, &fresh);
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, mut other: Latencies) {
        if other.count == 0 {
            return;
        }
        other.compact();
        self.compact();
        if self.count == 0 || other.min_ns < self.min_ns {
            self.min_ns = other.min_ns;
        }
        self.max_ns = self.max_ns.max(other.max_ns);
        self.count += other.count;
        self.sum_ns += other.sum_ns;
        self.runs = merge_runs(&self.runs, &other.runs);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The mean (exact, from the nanosecond sum); `None` without samples.
    pub fn mean(&self) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let ns = self.sum_ns / u128::from(self.count);
        Some(Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX)))
    }

    /// The smallest sample; `None` without samples.
    pub fn min(&self) -> Option<Duration> {
        (self.count > 0).then(|| Duration::from_nanos(self.min_ns))
    }

    /// The largest sample; `None` without samples.
    pub fn max(&self) -> Option<Duration> {
        (self.count > 0).then(|| Duration::from_nanos(self.max_ns))
    }

    /// The `p`-th percentile (0 < p ≤ 100) by nearest rank: the smallest
    /// sample (µs) such that at least p% of the samples are ≤ it. `None`
    /// without samples.
    pub fn percentile(&mut self, p: f64) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        self.compact();
        let p = p.clamp(0.0, 100.0);
        // The rank, 1-based: ceil(p/100 · N), at least 1. Integer
        // arithmetic on p in millionths keeps 99.9 from becoming 99.8999….
        let millionths = (p * 1e6).round() as u128;
        let rank = (millionths * u128::from(self.count)).div_ceil(100_000_000);
        let rank = u64::try_from(rank).unwrap_or(u64::MAX).max(1);
        let mut seen = 0u64;
        for &(v, n) in &self.runs {
            seen += n;
            if seen >= rank {
                return Some(Duration::from_micros(u64::from(v)));
            }
        }
        // Unreachable when the counts add up; the largest is the answer.
        self.runs
            .last()
            .map(|&(v, _)| Duration::from_micros(u64::from(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn nearest_rank_percentiles_of_one_to_a_hundred() {
        let mut l = Latencies::new();
        // Recorded out of order, across several compactions.
        for i in (1..=100u64).rev() {
            for _ in 0..BUFFER / 10 {
                l.record(us(i));
            }
        }
        assert_eq!(l.count(), 100 * (BUFFER / 10) as u64);
        assert_eq!(l.percentile(50.0), Some(us(50)));
        assert_eq!(l.percentile(95.0), Some(us(95)));
        assert_eq!(l.percentile(99.0), Some(us(99)));
        assert_eq!(l.percentile(100.0), Some(us(100)));
        assert_eq!(l.percentile(0.0), Some(us(1)));
        assert_eq!(l.mean(), Some(Duration::from_nanos(50_500)));
        assert_eq!(l.min(), Some(us(1)));
        assert_eq!(l.max(), Some(us(100)));
    }

    #[test]
    fn small_sets_take_the_ceiling_rank() {
        let mut l = Latencies::new();
        for v in [10, 20, 30, 40] {
            l.record(us(v));
        }
        // ceil(0.5·4) = 2nd, ceil(0.95·4) = 4th, ceil(0.25·4) = 1st.
        assert_eq!(l.percentile(50.0), Some(us(20)));
        assert_eq!(l.percentile(95.0), Some(us(40)));
        assert_eq!(l.percentile(25.0), Some(us(10)));
        assert_eq!(l.percentile(25.1), Some(us(20)));
    }

    #[test]
    fn merging_equals_recording_everything_in_one() {
        let samples: Vec<u64> = (0..20_000u64).map(|i| (i * 7919) % 3001 + 5).collect();
        let mut whole = Latencies::new();
        let mut parts = vec![Latencies::new(), Latencies::new(), Latencies::new()];
        for (i, &s) in samples.iter().enumerate() {
            whole.record(us(s));
            parts[i % 3].record(us(s));
        }
        let mut merged = Latencies::new();
        for p in parts {
            merged.merge(p);
        }
        let mut sorted = samples.clone();
        sorted.sort_unstable();
        // Ranks: ceil(p/100 · 20,000).
        for (p, rank) in [
            (1.0, 200),
            (50.0, 10_000),
            (66.6, 13_320),
            (95.0, 19_000),
            (99.9, 19_980),
            (100.0, 20_000),
        ] {
            let want = us(sorted[rank - 1]);
            assert_eq!(whole.percentile(p), Some(want), "p{p}");
            assert_eq!(merged.percentile(p), Some(want), "p{p} merged");
        }
        assert_eq!(merged.mean(), whole.mean());
        assert_eq!(merged.max(), Some(us(3005)));
        assert_eq!(merged.min(), Some(us(5)));
    }

    #[test]
    fn memory_follows_distinct_values_not_requests() {
        let mut l = Latencies::new();
        for i in 0..100_000u64 {
            l.record(us(i % 10));
        }
        l.compact();
        assert_eq!(l.runs.len(), 10);
        assert!(l.buffer.capacity() <= BUFFER * 2);
        assert_eq!(l.percentile(50.0), Some(us(4)));
    }

    #[test]
    fn no_samples_no_statistics() {
        let mut l = Latencies::new();
        assert_eq!(l.mean(), None);
        assert_eq!(l.percentile(50.0), None);
        assert_eq!(l.max(), None);
        l.merge(Latencies::new());
        assert_eq!(l.count(), 0);
    }
}
