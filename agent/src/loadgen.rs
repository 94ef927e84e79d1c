//! An ab-like load generator for named services (`picasso bench http|ndn`,
//! and the test bed's load): `concurrency` users, each sending one request
//! after another, `requests` in total (or for a `duration`), over HTTP to a
//! URL ([`http`]) or as NDN Interests for `/<root>/svc/<service>/…` through
//! a forwarder ([`ndn`]).
//!
//! Owns: the schedule (which user sends the next request and when to
//! stop), the users' request loops, classifying each outcome, exact
//! latency accounting ([`latency`]) and the [`Report`]. Does not own: the
//! HTTP and NDN formats (hyper; [`crate::gateway::message`] and the
//! forwarder's [`Client`](picasso_forwarder::app::Client)) or printing
//! (the `picasso bench` command).
//!
//! ```text
//!            ┌── user 1: claim #i ─► request ─► outcome ─► tally 1 ──┐
//! Schedule ──┼── user 2: …                                            ├─► Report
//! (n, dur,   └── user c: …                                            │
//!  stop)              └──────────► Progress (atomic running counts) ◄─┘ (watched live)
//! ```
//!
//! **Counting.** Every request ends in exactly one outcome: a success
//! (HTTP 2xx) or a failure of one [`FailureKind`] (the status class of
//! another answer, a Nack by reason, a timeout, a connection error, an
//! unreadable answer). Latency is measured from the moment a user starts
//! a request (connecting first when it has no connection) to the last
//! byte of the response body (and the server's close of a connection
//! that is not kept; the last segment for NDN), and the latency
//! statistics cover the *successful* requests only, each sample kept to
//! the microsecond. Throughput is all requests over the run's duration
//! (ab's "requests per second"); `bytes` counts response bodies.
//!
//! **Schedule.** Users take request numbers from one shared counter, so
//! exactly `requests` are sent whatever the users' speeds; with a
//! `duration` no request starts after it has passed (those in flight
//! finish, bounded by `timeout`). [`Progress::stop`] ends a run early the
//! same way and still yields a report.

pub mod http;
pub mod latency;
pub mod ndn;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
// tokio's clock: the std clock normally, the paused one in tests.
use tokio::time::Instant;

pub use http::{http, HttpConfig};
pub use latency::Latencies;
pub use ndn::{ndn, NdnConfig};

/// How much load, the part common to HTTP and NDN.
#[derive(Debug, Clone)]
pub struct Load {
    /// Concurrent users (ab's `-c`); each sends its requests one after another.
    pub concurrency: usize,
    /// Requests in total (ab's `-n`); `None` = as many as fit in `duration`.
    pub requests: Option<u64>,
    /// Longest run; `None` = until `requests` are done.
    pub duration: Option<Duration>,
    /// Longest wait for one request, connecting included.
    pub timeout: Duration,
    /// Running counts, shared with whoever shows progress (clone the Arc
    /// before the run starts).
    pub progress: Arc<Progress>,
}

impl Default for Load {
    fn default() -> Self {
        Self {
            concurrency: 1,
            requests: Some(1),
            duration: None,
            timeout: Duration::from_secs(30),
            progress: Arc::default(),
        }
    }
}

/// A load that cannot run, naming the offending field.
#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    /// A configuration field is out of range.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field (`concurrency`, `requests`, `duration`, `timeout`,
        /// `url`, `segmentWindow`).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The URL's host does not resolve.
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        /// The host and port.
        host: String,
        /// The cause.
        source: std::io::Error,
    },
}

fn invalid(field: &'static str, reason: impl Into<String>) -> LoadgenError {
    LoadgenError::Invalid {
        field,
        reason: reason.into(),
    }
}

impl Load {
    /// Checks the ranges: at least one user, a request budget or a
    /// duration, no more users than requests, a positive timeout.
    pub fn validate(&self) -> Result<(), LoadgenError> {
        if self.concurrency == 0 {
            return Err(invalid("concurrency", "must be at least 1"));
        }
        if self.requests.is_none() && self.duration.is_none() {
            return Err(invalid(
                "requests",
                "give a number of requests or a duration",
            ));
        }
        if let Some(n) = self.requests {
            if n == 0 {
                return Err(invalid("requests", "must be at least 1"));
            }
            if self.concurrency as u64 > n {
                return Err(invalid(
                    "concurrency",
                    format!(
                        "{} users exceed the {n} requests (each user sends at least one)",
                        self.concurrency
                    ),
                ));
            }
        }
        if self.duration.is_some_and(|d| d.is_zero()) {
            return Err(invalid("duration", "must be positive"));
        }
        if self.timeout.is_zero() {
            return Err(invalid("timeout", "must be positive"));
        }
        Ok(())
    }
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FailureKind {
    /// An HTTP answer with a 1xx final status or one outside 100–599.
    HttpOther,
    /// An HTTP 3xx answer (redirects are not followed, as ab).
    Http3xx,
    /// An HTTP 4xx answer.
    Http4xx,
    /// An HTTP 5xx answer (for NDN: the service's status, or the
    /// gateway's 502/504).
    Http5xx,
    /// No complete answer within the timeout.
    Timeout,
    /// The connection could not be made or broke (for NDN: the face closed).
    Connection,
    /// NDN Nack, reason Congestion (every replica tried is full).
    NackCongestion,
    /// NDN Nack, reason Duplicate.
    NackDuplicate,
    /// NDN Nack, reason NoRoute (nothing serves the name).
    NackNoRoute,
    /// NDN Nack with no or another reason.
    NackOther,
    /// An answer that is not an HTTP response (NDN content that does not
    /// decode as an HttpResponse, a response too large, segments missing).
    BadResponse,
}

impl FailureKind {
    /// The kind for an HTTP status that is not 2xx.
    pub fn of_status(status: u16) -> Self {
        match status {
            300..=399 => Self::Http3xx,
            400..=499 => Self::Http4xx,
            500..=599 => Self::Http5xx,
            _ => Self::HttpOther,
        }
    }

    /// The camelCase name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HttpOther => "httpOther",
            Self::Http3xx => "http3xx",
            Self::Http4xx => "http4xx",
            Self::Http5xx => "http5xx",
            Self::Timeout => "timeout",
            Self::Connection => "connection",
            Self::NackCongestion => "nackCongestion",
            Self::NackDuplicate => "nackDuplicate",
            Self::NackNoRoute => "nackNoRoute",
            Self::NackOther => "nackOther",
            Self::BadResponse => "badResponse",
        }
    }
}

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer with this many body bytes.
    Success {
        /// Body bytes.
        bytes: u64,
    },
    /// A failure; `bytes` of body were received anyway (an error page).
    Failure {
        /// Why.
        kind: FailureKind,
        /// Body bytes.
        bytes: u64,
    },
}

impl Outcome {
    /// A failure without a body.
    pub fn failed(kind: FailureKind) -> Self {
        Outcome::Failure { kind, bytes: 0 }
    }

    /// The outcome of an HTTP answer with `status` and `bytes` of body.
    pub fn of_status(status: u16, bytes: u64) -> Self {
        if (200..300).contains(&status) {
            Outcome::Success { bytes }
        } else {
            Outcome::Failure {
                kind: FailureKind::of_status(status),
                bytes,
            }
        }
    }
}

/// Running counts of a load, updated by every user as requests end.
#[derive(Debug, Default)]
pub struct Progress {
    started: AtomicU64,
    completed: AtomicU64,
    successes: AtomicU64,
    bytes: AtomicU64,
    success_latency_us: AtomicU64,
    stop: AtomicBool,
}

/// A copy of the running counts at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgressSnapshot {
    /// Requests started.
    pub started: u64,
    /// Requests ended (successes and failures).
    pub completed: u64,
    /// Requests that succeeded.
    pub successes: u64,
    /// Body bytes received.
    pub bytes: u64,
    /// Sum of the successful requests' latencies, µs (the difference of
    /// two snapshots over the difference of `successes` is the mean
    /// latency of that interval).
    pub success_latency_us: u64,
}

impl ProgressSnapshot {
    /// Requests that failed.
    pub fn failures(&self) -> u64 {
        self.completed - self.successes
    }
}

impl Progress {
    /// Fresh counts.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// The counts now.
    pub fn snapshot(&self) -> ProgressSnapshot {
        // `completed` first: a request ended later than this read may show
        // in the other counts, never the other way round.
        let completed = self.completed.load(Ordering::Acquire);
        ProgressSnapshot {
            started: self.started.load(Ordering::Relaxed).max(completed),
            completed,
            successes: self.successes.load(Ordering::Relaxed).min(completed),
            bytes: self.bytes.load(Ordering::Relaxed),
            success_latency_us: self.success_latency_us.load(Ordering::Relaxed),
        }
    }

    /// Asks the run to start no more requests; those in flight finish and
    /// the run returns its report.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// True once [`Progress::stop`] was called.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn on_end(&self, outcome: Outcome, latency: Duration) {
        match outcome {
            Outcome::Success { bytes } => {
                self.successes.fetch_add(1, Ordering::Relaxed);
                self.bytes.fetch_add(bytes, Ordering::Relaxed);
                let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                self.success_latency_us.fetch_add(us, Ordering::Relaxed);
            }
            Outcome::Failure { bytes, .. } => {
                self.bytes.fetch_add(bytes, Ordering::Relaxed);
            }
        }
        self.completed.fetch_add(1, Ordering::Release);
    }
}

/// Hands out request numbers to the users and says when to stop.
#[derive(Debug)]
struct Schedule {
    next: AtomicU64,
    limit: u64,
    deadline: Option<Instant>,
    progress: Arc<Progress>,
}

impl Schedule {
    fn new(load: &Load, start: Instant) -> Self {
        Self {
            next: AtomicU64::new(0),
            limit: load.requests.unwrap_or(u64::MAX),
            deadline: load.duration.map(|d| start + d),
            progress: load.progress.clone(),
        }
    }

    /// The number of the next request to send, or `None` when the run is over.
    fn claim(&self) -> Option<u64> {
        if self.progress.stopped() || self.deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        if i >= self.limit {
            return None;
        }
        self.progress.started.fetch_add(1, Ordering::Relaxed);
        Some(i)
    }
}

/// What one user saw.
#[derive(Debug, Default)]
struct Tally {
    requests: u64,
    successes: u64,
    bytes: u64,
    failures: BTreeMap<FailureKind, u64>,
    latencies: Latencies,
    last_end: Option<Instant>,
}

impl Tally {
    fn record(&mut self, outcome: Outcome, latency: Duration, progress: &Progress) {
        self.requests += 1;
        match outcome {
            Outcome::Success { bytes } => {
                self.successes += 1;
                self.bytes += bytes;
                self.latencies.record(latency);
            }
            Outcome::Failure { kind, bytes } => {
                self.bytes += bytes;
                *self.failures.entry(kind).or_insert(0) += 1;
            }
        }
        self.last_end = Some(Instant::now());
        progress.on_end(outcome, latency);
    }

    fn merge(&mut self, other: Tally) {
        self.requests += other.requests;
        self.successes += other.successes;
        self.bytes += other.bytes;
        for (k, n) in other.failures {
            *self.failures.entry(k).or_insert(0) += n;
        }
        self.latencies.merge(other.latencies);
        self.last_end = self.last_end.max(other.last_end);
    }
}

/// The result of a load, ab's summary as data. Serialized in camelCase;
/// latencies in milliseconds, `null` when no request succeeded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// `http` or `ndn`.
    pub protocol: String,
    /// The URL or the name.
    pub target: String,
    /// Users.
    pub concurrency: usize,
    /// HTTP only: whether each user kept one connection (ab -k).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub keep_alive: Option<bool>,
    /// Requests sent and ended.
    pub requests: u64,
    /// Requests answered with 2xx.
    pub successes: u64,
    /// successes / requests (0 when none were sent).
    pub success_rate: f64,
    /// Failed requests by kind; kinds that did not occur are absent.
    pub failures: BTreeMap<FailureKind, u64>,
    /// Mean latency of the successful requests.
    pub mean_ms: Option<f64>,
    /// Fastest successful request.
    pub min_ms: Option<f64>,
    /// Median (nearest rank, 1 µs resolution).
    pub p50_ms: Option<f64>,
    /// 95th percentile.
    pub p95_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// Slowest successful request.
    pub max_ms: Option<f64>,
    /// requests / durationSec.
    pub throughput: f64,
    /// From the start to the end of the last request.
    pub duration_sec: f64,
    /// Response body bytes received (failures' bodies included).
    pub bytes: u64,
}

impl Report {
    /// Total failed requests.
    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }
}

fn ms(d: Option<Duration>) -> Option<f64> {
    // From integer nanoseconds: 3909 µs prints as 3.909, not 3.9090000000000003.
    d.map(|d| d.as_nanos() as f64 / 1e6)
}

/// One simulated user: sends the requests it claims, one at a time. It
/// keeps its own connection (if any) between requests; a request future
/// may be dropped half-way (on timeout), which the next call must survive.
trait User: Send + 'static {
    /// Sends request number `i` and waits for its whole answer.
    fn request(&mut self, i: u64) -> impl Future<Output = Outcome> + Send;
}

/// Runs `load.concurrency` users made by `make_user`, each sending the
/// requests it claims from the shared schedule, and sums up what they saw.
async fn run<U: User>(
    load: &Load,
    protocol: &str,
    target: String,
    mut make_user: impl FnMut() -> U,
) -> Report {
    let start = Instant::now();
    let schedule = Arc::new(Schedule::new(load, start));
    let timeout = load.timeout;
    let mut users = tokio::task::JoinSet::new();
    for _ in 0..load.concurrency {
        let schedule = schedule.clone();
        let mut user = make_user();
        users.spawn(async move {
            let mut tally = Tally::default();
            while let Some(i) = schedule.claim() {
                let t = Instant::now();
                let outcome = match tokio::time::timeout(timeout, user.request(i)).await {
                    Ok(o) => o,
                    Err(_) => Outcome::failed(FailureKind::Timeout),
                };
                tally.record(outcome, t.elapsed(), &schedule.progress);
            }
            tally
        });
    }
    let mut total = Tally::default();
    while let Some(r) = users.join_next().await {
        match r {
            Ok(t) => total.merge(t),
            // A user that panicked loses its tally; say so rather than hide it.
            Err(e) => tracing::error!(error = %e, "loadgen: a user task failed"),
        }
    }
    let end = total.last_end.unwrap_or_else(Instant::now);
    let duration = end.saturating_duration_since(start);
    let secs = duration.as_secs_f64();
    let mut lat = total.latencies;
    Report {
        protocol: protocol.to_string(),
        target,
        concurrency: load.concurrency,
        keep_alive: None,
        requests: total.requests,
        successes: total.successes,
        success_rate: if total.requests == 0 {
            0.0
        } else {
            total.successes as f64 / total.requests as f64
        },
        failures: total.failures,
        mean_ms: ms(lat.mean()),
        min_ms: ms(lat.min()),
        p50_ms: ms(lat.percentile(50.0)),
        p95_ms: ms(lat.percentile(95.0)),
        p99_ms: ms(lat.percentile(99.0)),
        max_ms: ms(lat.max()),
        throughput: if secs > 0.0 {
            total.requests as f64 / secs
        } else {
            0.0
        },
        duration_sec: secs,
        bytes: total.bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A user whose answers a closure scripts.
    struct Scripted<F>(F);

    impl<F, Fut> User for Scripted<F>
    where
        F: FnMut(u64) -> Fut + Send + 'static,
        Fut: Future<Output = Outcome> + Send,
    {
        fn request(&mut self, i: u64) -> impl Future<Output = Outcome> + Send {
            (self.0)(i)
        }
    }

    #[test]
    fn validation_names_the_field() {
        let field = |l: Load| match l.validate() {
            Err(LoadgenError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let ok = Load {
            concurrency: 4,
            requests: Some(10),
            ..Load::default()
        };
        ok.validate().unwrap();
        assert_eq!(
            field(Load {
                concurrency: 0,
                ..ok.clone()
            }),
            "concurrency"
        );
        assert_eq!(
            field(Load {
                concurrency: 11,
                ..ok.clone()
            }),
            "concurrency"
        );
        assert_eq!(
            field(Load {
                requests: Some(0),
                ..ok.clone()
            }),
            "requests"
        );
        assert_eq!(
            field(Load {
                requests: None,
                ..ok.clone()
            }),
            "requests"
        );
        assert_eq!(
            field(Load {
                requests: None,
                duration: Some(Duration::ZERO),
                ..ok.clone()
            }),
            "duration"
        );
        assert_eq!(
            field(Load {
                timeout: Duration::ZERO,
                ..ok.clone()
            }),
            "timeout"
        );
        // A duration alone allows any number of users.
        Load {
            concurrency: 1000,
            requests: None,
            duration: Some(Duration::from_secs(1)),
            ..ok
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn status_classes() {
        assert_eq!(Outcome::of_status(204, 0), Outcome::Success { bytes: 0 });
        let kind = |s| match Outcome::of_status(s, 3) {
            Outcome::Failure { kind, bytes: 3 } => kind,
            o => panic!("{o:?}"),
        };
        assert_eq!(kind(301), FailureKind::Http3xx);
        assert_eq!(kind(404), FailureKind::Http4xx);
        assert_eq!(kind(503), FailureKind::Http5xx);
        assert_eq!(kind(101), FailureKind::HttpOther);
        assert_eq!(kind(600), FailureKind::HttpOther);
        let json = serde_json::to_string(&BTreeMap::from([
            (FailureKind::Http5xx, 2u64),
            (FailureKind::NackNoRoute, 1),
        ]))
        .unwrap();
        assert_eq!(json, r#"{"http5xx":2,"nackNoRoute":1}"#);
        for k in [FailureKind::Timeout, FailureKind::BadResponse] {
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn exactly_n_requests_over_c_users_and_a_stop_ends_early() {
        let load = Load {
            concurrency: 7,
            requests: Some(100),
            ..Load::default()
        };
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let s = seen.clone();
        let r = run(&load, "test", "t".into(), move || {
            let s = s.clone();
            Scripted(move |i: u64| {
                s.lock().unwrap().push(i);
                async move {
                    tokio::time::sleep(Duration::from_millis(1 + i % 5)).await;
                    if i.is_multiple_of(10) {
                        Outcome::failed(FailureKind::Http5xx)
                    } else {
                        Outcome::Success { bytes: 10 }
                    }
                }
            })
        })
        .await;
        let mut seen = seen.lock().unwrap().clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..100).collect::<Vec<u64>>());
        assert_eq!(r.requests, 100);
        assert_eq!(r.successes, 90);
        assert_eq!(r.failures, BTreeMap::from([(FailureKind::Http5xx, 10)]));
        assert_eq!(r.bytes, 900);
        assert!((r.success_rate - 0.9).abs() < 1e-12);
        assert_eq!(r.min_ms, Some(1.0)); // i = 5, 15, …
        assert_eq!(r.max_ms, Some(5.0));
        let snap = load.progress.snapshot();
        assert_eq!((snap.completed, snap.successes, snap.bytes), (100, 90, 900));

        // A request that outlives the timeout is a timeout; stop() ends the run.
        let progress = Progress::new();
        let load = Load {
            concurrency: 2,
            requests: None,
            duration: Some(Duration::from_secs(3600)),
            timeout: Duration::from_millis(50),
            progress: progress.clone(),
        };
        let p = progress.clone();
        let r = run(&load, "test", "t".into(), move || {
            let p = p.clone();
            Scripted(move |i: u64| {
                if i == 9 {
                    p.stop();
                }
                async move {
                    let d = if i.is_multiple_of(2) { 10 } else { 100 };
                    tokio::time::sleep(Duration::from_millis(d)).await;
                    Outcome::Success { bytes: 1 }
                }
            })
        })
        .await;
        assert_eq!(r.requests, 10);
        assert_eq!(r.successes, 5);
        assert_eq!(r.failures, BTreeMap::from([(FailureKind::Timeout, 5)]));
        assert_eq!(r.max_ms, Some(10.0));
    }
}
