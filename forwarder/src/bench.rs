//! `picasso bench ping`: N concurrent consumers, each on its own face,
//! send Interests `/picasso/ping/<run>/<c>/<lane>/<seq>` to one producer,
//! one at a time per lane: a consumer keeps `window` Interests in flight
//! (window 1: each waits for its Data before the next, like ndnping; a
//! larger window is a pipelined consumer such as ndncatchunks),
//! either through a forwarder (an in-process one listening on a Unix socket
//! or UDP, or a running one) or directly to the producer's own listener
//! (`direct`, the same-run baseline with no forwarder in between). The
//! producer is the same code in both cases: a [`Client`] handler that
//! answers every Interest with a signed (DigestSha256) Data.
//!
//! ```text
//!  consumers ×N ──unix/udp──► forwarder ──unix/udp──► producer
//!  consumers ×N ──unix/udp────────────────────────────► producer (direct)
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use picasso_tlv::{Component, Data, Interest, Name, Signer};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::app::{Client, ExpressError, FaceAddr};
use crate::face::udp::{UdpChannel, UdpConfig};

/// The transport consumers and producer use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Unix stream sockets.
    Unix,
    /// UDP datagrams on loopback.
    Udp,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct PingConfig {
    /// Transport for the in-process forwarder or the direct producer.
    pub transport: Transport,
    /// A running forwarder to go through instead of an in-process one.
    pub fwd: Option<FaceAddr>,
    /// No forwarder: consumers talk to the producer's listener.
    pub direct: bool,
    /// Concurrent consumers.
    pub consumers: usize,
    /// Interests each consumer keeps in flight (at least 1).
    pub window: usize,
    /// Measured duration (after a short warm-up).
    pub duration: Duration,
    /// Data content size in bytes.
    pub payload: usize,
    /// Where the producer registers when `fwd` is a UDP face (UDP faces
    /// are non-local, as in NFD, so they cannot register prefixes);
    /// default: the forwarder's default Unix socket.
    pub producer_fwd: Option<FaceAddr>,
}

impl Default for PingConfig {
    fn default() -> Self {
        Self {
            transport: Transport::Unix,
            fwd: None,
            direct: false,
            consumers: 8,
            window: 1,
            duration: Duration::from_secs(5),
            payload: 100,
            producer_fwd: None,
        }
    }
}

/// The result, as `--json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PingReport {
    /// Completed Interest/Data exchanges per second.
    pub exchanges_per_sec: f64,
    /// Median round-trip time, µs.
    pub p50_us: u64,
    /// 99th percentile round-trip time, µs.
    pub p99_us: u64,
    /// Interests that timed out.
    pub timeouts: u64,
    /// Interests answered with a Nack.
    pub nacks: u64,
    /// Completed exchanges.
    pub exchanges: u64,
    /// Consumers.
    pub consumers: usize,
    /// Interests in flight per consumer.
    pub window: usize,
    /// `forwarder` or `direct`.
    pub mode: &'static str,
    /// The transport.
    pub transport: Transport,
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A socket could not be opened.
    #[error("bench i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The producer could not register its prefix.
    #[error("producer registration failed: {0}")]
    Register(#[from] crate::app::RegisterError),
    /// Nothing was exchanged.
    #[error("no exchange completed (timeouts {timeouts}, nacks {nacks})")]
    NoExchange {
        /// Timeouts.
        timeouts: u64,
        /// Nacks.
        nacks: u64,
    },
}

/// The prefix pings go to.
pub fn ping_prefix() -> Name {
    Name::from_uri("/picasso/ping").unwrap_or_default()
}

fn producer_handler(payload: Bytes) -> impl Fn(Interest) -> std::future::Ready<Option<Data>> {
    move |i: Interest| {
        let mut d = Data::new(i.name().clone()).with_content(payload.clone());
        d.sign(&Signer::DigestSha256);
        std::future::ready(Some(d))
    }
}

fn temp_socket(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "picasso-bench-{}-{tag}-{:08x}.sock",
        std::process::id(),
        rand::random::<u32>()
    ))
}

/// Removes a socket file when dropped.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Serves the producer directly on a Unix socket: one producer client per connection.
async fn direct_unix(
    payload: Bytes,
    cancel: CancellationToken,
) -> std::io::Result<(FaceAddr, RemoveOnDrop)> {
    let path = temp_socket("direct");
    let listener = tokio::net::UnixListener::bind(&path)?;
    tokio::spawn(async move {
        loop {
            let conn = tokio::select! {
                _ = cancel.cancelled() => break,
                c = listener.accept() => c,
            };
            let Ok((stream, _)) = conn else { continue };
            let Ok(stream) = crate::face::socket::QuietStream::unix(stream) else {
                continue;
            };
            let c = Client::from_stream(stream);
            c.set_handler(ping_prefix(), producer_handler(payload.clone()));
        }
    });
    Ok((FaceAddr::Unix(path.clone()), RemoveOnDrop(path)))
}

/// Serves the producer directly on a UDP socket: one producer client per peer.
async fn direct_udp(payload: Bytes, cancel: CancellationToken) -> std::io::Result<FaceAddr> {
    let socket = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await?);
    let local = socket.local_addr()?;
    tokio::spawn(async move {
        let mut peers: HashMap<SocketAddr, mpsc::Sender<Bytes>> = HashMap::new();
        let mut buf = vec![0u8; 65_536];
        loop {
            let (n, from) = tokio::select! {
                _ = cancel.cancelled() => break,
                r = socket.recv_from(&mut buf) => match r { Ok(x) => x, Err(_) => continue },
            };
            if !peers.contains_key(&from) {
                if peers.len() >= 4096 {
                    continue;
                }
                let (in_tx, in_rx) = mpsc::channel::<Bytes>(1024);
                let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(1024);
                let c = Client::from_channels(out_tx, in_rx);
                c.set_handler(ping_prefix(), producer_handler(payload.clone()));
                let s = socket.clone();
                tokio::spawn(async move {
                    while let Some(f) = out_rx.recv().await {
                        let _ = s.send_to(&f, from).await;
                    }
                });
                peers.insert(from, in_tx);
            }
            if let Some(tx) = peers.get(&from) {
                // A full queue drops, as a link would.
                let _ = tx.try_send(Bytes::copy_from_slice(&buf[..n]));
            }
        }
    });
    Ok(FaceAddr::Udp(local.to_string()))
}

#[derive(Default)]
struct ConsumerResult {
    latencies_us: Vec<u32>,
    timeouts: u64,
    nacks: u64,
}

/// One lane of a consumer: sequential Interests, each sent when the
/// previous one is answered.
async fn consume(
    client: Client,
    run: u32,
    (id, lane): (usize, usize),
    warm_until: Instant,
    stop_at: Instant,
) -> ConsumerResult {
    let mut r = ConsumerResult::default();
    // The run id keeps a forwarder's cache from answering a later run.
    let base = ping_prefix()
        .append_str(&format!("{run:08x}"))
        .append_str(&id.to_string())
        .append_str(&lane.to_string());
    let mut seq: u64 = 0;
    loop {
        let start = Instant::now();
        if start >= stop_at {
            break;
        }
        let i = Interest::new(base.append(&Component::sequence_num(seq))).with_lifetime_ms(1000);
        seq += 1;
        let res = client.express(i).await;
        let end = Instant::now();
        if start < warm_until {
            continue;
        }
        match res {
            Ok(_) => r
                .latencies_us
                .push((end - start).as_micros().min(u32::MAX as u128) as u32),
            Err(ExpressError::Timeout) => r.timeouts += 1,
            Err(ExpressError::Nack(_)) => r.nacks += 1,
            Err(ExpressError::Closed) => break,
        }
    }
    r
}

/// Starts `window` lanes per consumer, all on that consumer's face.
fn spawn_lanes(
    clients: Vec<Client>,
    window: usize,
    run: u32,
    warm_until: Instant,
    stop_at: Instant,
) -> Vec<tokio::task::JoinHandle<ConsumerResult>> {
    clients
        .into_iter()
        .enumerate()
        .flat_map(|(id, c)| {
            (0..window).map(move |lane| {
                tokio::spawn(consume(c.clone(), run, (id, lane), warm_until, stop_at))
            })
        })
        .collect()
}

fn percentile(sorted: &[u32], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    u64::from(sorted[idx.min(sorted.len() - 1)])
}

/// Runs the ping benchmark.
pub async fn ping(config: &PingConfig) -> Result<PingReport, BenchError> {
    let payload = Bytes::from(vec![0x5a; config.payload]);
    let cancel = CancellationToken::new();
    let _stop = cancel.clone().drop_guard();
    let mut _files = Vec::new();
    let mut forwarder = None;
    let target = if config.direct {
        match config.transport {
            Transport::Unix => {
                let (addr, file) = direct_unix(payload.clone(), cancel.clone()).await?;
                _files.push(file);
                addr
            }
            Transport::Udp => direct_udp(payload.clone(), cancel.clone()).await?,
        }
    } else {
        let target = match &config.fwd {
            Some(a) => a.clone(),
            None => {
                let (h, _join) = crate::runtime::spawn_polling(
                    Default::default(),
                    Duration::from_micros(crate::daemon::DEFAULT_BUSY_POLL_US),
                );
                let addr = match config.transport {
                    Transport::Unix => {
                        let path = temp_socket("fwd");
                        let guard = crate::face::stream::listen_unix(h.clone(), &path).await?;
                        forwarder = Some((h.clone(), Some(guard)));
                        FaceAddr::Unix(path)
                    }
                    Transport::Udp => {
                        let ch = UdpChannel::bind(
                            h.clone(),
                            "127.0.0.1:0".parse().map_err(std::io::Error::other)?,
                            UdpConfig::default(),
                        )
                        .await?;
                        forwarder = Some((h.clone(), None));
                        FaceAddr::Udp(ch.local.to_string())
                    }
                };
                addr
            }
        };
        // The producer needs a local face to register its prefix.
        let producer = match (&target, &config.producer_fwd, &forwarder) {
            (_, Some(p), _) => Client::connect(p).await?,
            (FaceAddr::Udp(_), None, Some((h, _))) => Client::from_app_face(
                crate::face::in_process::connect(h)
                    .await
                    .map_err(std::io::Error::other)?,
            ),
            (FaceAddr::Udp(_), None, None) => {
                Client::connect(&FaceAddr::Unix(crate::app::DEFAULT_SOCKET.into())).await?
            }
            _ => Client::connect(&target).await?,
        };
        producer
            .register(ping_prefix(), producer_handler(payload.clone()))
            .await?;
        // The producer's face stays open while its read task runs.
        target
    };
    let mut clients = Vec::with_capacity(config.consumers);
    for _ in 0..config.consumers.max(1) {
        clients.push(Client::connect(&target).await?);
    }
    let warm = Duration::from_millis(300);
    let start = Instant::now();
    let warm_until = start + warm;
    let stop_at = warm_until + config.duration;
    let run: u32 = rand::random();
    let window = config.window.max(1);
    let tasks = spawn_lanes(clients, window, run, warm_until, stop_at);
    let mut all = Vec::new();
    let (mut timeouts, mut nacks) = (0, 0);
    for t in tasks {
        if let Ok(r) = t.await {
            all.extend(r.latencies_us);
            timeouts += r.timeouts;
            nacks += r.nacks;
        }
    }
    let measured = Instant::now()
        .saturating_duration_since(warm_until)
        .max(Duration::from_millis(1));
    if let Some((h, _guard)) = forwarder {
        h.shutdown();
    }
    if all.is_empty() {
        return Err(BenchError::NoExchange { timeouts, nacks });
    }
    all.sort_unstable();
    Ok(PingReport {
        exchanges_per_sec: all.len() as f64 / measured.as_secs_f64(),
        p50_us: percentile(&all, 0.50),
        p99_us: percentile(&all, 0.99),
        timeouts,
        nacks,
        exchanges: all.len() as u64,
        consumers: config.consumers.max(1),
        window,
        mode: if config.direct { "direct" } else { "forwarder" },
        transport: match &config.fwd {
            Some(FaceAddr::Udp(_)) => Transport::Udp,
            Some(_) => Transport::Unix,
            None => config.transport,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(transport: Transport, direct: bool) -> PingReport {
        ping(&PingConfig {
            transport,
            direct,
            consumers: 2,
            duration: Duration::from_millis(300),
            ..PingConfig::default()
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ping_runs_through_the_forwarder_and_direct() {
        for t in [Transport::Unix, Transport::Udp] {
            for direct in [false, true] {
                let r = run(t, direct).await;
                assert!(r.exchanges > 10, "{t:?} direct={direct}: {r:?}");
                assert!(r.p50_us > 0 && r.p99_us >= r.p50_us, "{r:?}");
            }
        }
    }

    /// Exchanges one consumer with `window` lanes completes in 400 ms
    /// against a producer that takes 40 ms per answer.
    async fn exchanges_against_a_slow_producer(window: usize) -> usize {
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        let producer = Client::from_stream(crate::face::socket::QuietStream::unix(a).unwrap());
        producer.set_handler(ping_prefix(), |i: Interest| async move {
            tokio::time::sleep(Duration::from_millis(40)).await;
            let mut d = Data::new(i.name().clone()).with_content(Bytes::from_static(b"x"));
            d.sign(&Signer::DigestSha256);
            Some(d)
        });
        let consumer = Client::from_stream(crate::face::socket::QuietStream::unix(b).unwrap());
        let start = Instant::now();
        let lanes = spawn_lanes(
            vec![consumer],
            window,
            1,
            start,
            start + Duration::from_millis(400),
        );
        let mut done = 0;
        for l in lanes {
            let r = l.await.unwrap();
            assert_eq!((r.timeouts, r.nacks), (0, 0));
            done += r.latencies_us.len();
        }
        done
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipelined_consumers_keep_their_window_in_flight() {
        // One at a time: at most 400 / 40 answers (plus the one in flight
        // at the stop). Four lanes on the same face wait side by side.
        let sequential = exchanges_against_a_slow_producer(1).await;
        let pipelined = exchanges_against_a_slow_producer(4).await;
        assert!(sequential <= 11, "{sequential}");
        assert!(
            pipelined >= 2 * sequential && pipelined > 20,
            "{pipelined} vs {sequential}"
        );
        // And through ping: every lane of every consumer is answered.
        let r = ping(&PingConfig {
            consumers: 2,
            window: 4,
            duration: Duration::from_millis(300),
            ..PingConfig::default()
        })
        .await
        .unwrap();
        assert!(r.exchanges > 10 && r.timeouts == 0 && r.nacks == 0, "{r:?}");
    }

    #[test]
    fn percentiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), 51);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&[], 0.5), 0);
    }
}
