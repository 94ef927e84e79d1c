//! The load generator against real sockets on 127.0.0.1 and in-process
//! forwarders: a hyper server that answers by request number (some 500s,
//! some slow, some never) and counts connections and concurrency; NDN
//! producers that answer, Nack, stay silent, and the real gateway in
//! front of a replica with a segmented answer.

use std::collections::{BTreeMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use picasso_agent::gateway::message::{HttpRequest, HttpResponse};
use picasso_agent::gateway::naming::request_name;
use picasso_agent::gateway::{Gateway, GatewayConfig, ReplicaEndpoint};
use picasso_agent::loadgen::{
    self, FailureKind, HttpConfig, Load, LoadgenError, NdnConfig, Progress, Report,
};
use picasso_forwarder::app::{Answer, Client};
use picasso_forwarder::face::in_process;
use picasso_forwarder::fw::ForwarderLimits;
use picasso_forwarder::runtime::{self, ForwarderHandle};
use picasso_tlv::lp::NackReason;
use picasso_tlv::{Data, Name};
use tokio::net::TcpListener;

/// What the test server answers its k-th request (1-based) for a path.
type Rule = Arc<dyn Fn(usize, &str) -> (u16, Duration, Bytes) + Send + Sync>;

/// What the test server saw.
#[derive(Default)]
struct Stats {
    accepted: AtomicUsize,
    open: AtomicUsize,
    max_open: AtomicUsize,
    requests: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// `Connection: close` requests.
    close_requests: AtomicUsize,
}

fn up(now: &AtomicUsize, max: &AtomicUsize) {
    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
    max.fetch_max(n, Ordering::SeqCst);
}

/// An HTTP/1.1 server (keep-alive) on 127.0.0.1:0 answering by `rule`.
async fn server(rule: Rule) -> (SocketAddr, Arc<Stats>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stats = Arc::new(Stats::default());
    let st = stats.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            st.accepted.fetch_add(1, Ordering::SeqCst);
            up(&st.open, &st.max_open);
            let st = st.clone();
            let rule = rule.clone();
            tokio::spawn(async move {
                let st2 = st.clone();
                let svc = hyper::service::service_fn(move |req: hyper::Request<_>| {
                    let st = st2.clone();
                    let rule = rule.clone();
                    async move {
                        let k = st.requests.fetch_add(1, Ordering::SeqCst) + 1;
                        if req
                            .headers()
                            .get("connection")
                            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"))
                        {
                            st.close_requests.fetch_add(1, Ordering::SeqCst);
                        }
                        up(&st.in_flight, &st.max_in_flight);
                        let (status, delay, body) = rule(k, req.uri().path());
                        if !delay.is_zero() {
                            tokio::time::sleep(delay).await;
                        }
                        st.in_flight.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, Infallible>(
                            hyper::Response::builder()
                                .status(status)
                                .body(Full::new(body))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
                st.open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (addr, stats)
}

fn load(c: usize, n: u64) -> Load {
    Load {
        concurrency: c,
        requests: Some(n),
        timeout: Duration::from_secs(20),
        ..Load::default()
    }
}

async fn with_deadline<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("test took longer than 60 s")
}

/// Statistics that hold for any report with successes.
fn check_latency_order(r: &Report) {
    let v = [r.min_ms, r.p50_ms, r.p95_ms, r.p99_ms, r.max_ms].map(|x| x.unwrap());
    // Percentiles are whole microseconds (floored), min/max exact.
    assert!(v.windows(2).all(|w| w[0] <= w[1] + 0.001), "{v:?}");
    let mean = r.mean_ms.unwrap();
    assert!(v[0] <= mean && mean <= v[4], "{v:?} mean {mean}");
}

/// `{n}` in the URL numbers the requests: every one has its own URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_numbered_urls_are_all_distinct() {
    with_deadline(async {
        let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let s2 = seen.clone();
        let rule: Rule = Arc::new(move |_, path| {
            s2.lock().unwrap().push(path.to_owned());
            (200, Duration::ZERO, Bytes::from_static(b"ok"))
        });
        let (addr, _stats) = server(rule).await;
        let n = 60u64;
        let cfg = HttpConfig {
            url: format!("http://{addr}/x/{{n}}/{{n}}"),
            keep_alive: true,
            load: load(4, n),
        };
        let r = loadgen::http(&cfg).await.unwrap();
        assert_eq!(r.successes, n);
        let paths = seen.lock().unwrap().clone();
        let distinct: std::collections::BTreeSet<&String> = paths.iter().collect();
        assert_eq!(paths.len() as u64, n);
        assert_eq!(distinct.len() as u64, n, "{paths:?}");
        for p in &paths {
            let (num, rest) = p.strip_prefix("/x/").unwrap().split_once('/').unwrap();
            assert!(num.parse::<u64>().is_ok(), "{p}");
            assert_eq!(rest, "0", "a second {{n}} is 0: {p}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_keep_alive_counts_are_exact_and_c_connections_are_used() {
    with_deadline(async {
        // Every 5th request fails with 500, every 7th (that is not a
        // 500) is answered after 20 ms.
        let rule: Rule = Arc::new(|k, _| match k {
            k if k.is_multiple_of(5) => (500, Duration::ZERO, Bytes::from_static(b"fail")),
            k if k.is_multiple_of(7) => (
                200,
                Duration::from_millis(20),
                Bytes::from_static(b"slow ok"),
            ),
            _ => (200, Duration::ZERO, Bytes::from_static(b"ok")),
        });
        let (addr, stats) = server(rule.clone()).await;
        let (n, c) = (210u64, 6usize);
        let progress = Progress::new();
        let cfg = HttpConfig {
            url: format!("http://{addr}/x"),
            keep_alive: true,
            load: Load {
                progress: progress.clone(),
                ..load(c, n)
            },
        };
        let r = loadgen::http(&cfg).await.unwrap();
        let fails = (1..=n as usize).filter(|k| k.is_multiple_of(5)).count() as u64;
        let bytes: usize = (1..=n as usize).map(|k| rule(k, "/x").2.len()).sum();
        assert_eq!(r.requests, n);
        assert_eq!(r.successes, n - fails);
        assert_eq!(r.failures, BTreeMap::from([(FailureKind::Http5xx, fails)]));
        assert_eq!(r.success_rate, 0.8);
        assert_eq!(r.bytes, bytes as u64);
        assert_eq!(r.concurrency, c);
        assert_eq!(r.keep_alive, Some(true));
        // The server saw exactly n requests on exactly c connections, all
        // of them open at once, and never more than c requests at a time.
        assert_eq!(stats.requests.load(Ordering::SeqCst), n as usize);
        assert_eq!(stats.accepted.load(Ordering::SeqCst), c);
        assert_eq!(stats.max_open.load(Ordering::SeqCst), c);
        assert!(stats.max_in_flight.load(Ordering::SeqCst) <= c);
        assert_eq!(stats.close_requests.load(Ordering::SeqCst), 0);
        // The slow answers are successes, so the slowest took ≥ 20 ms.
        assert!(r.max_ms.unwrap() >= 20.0, "{r:?}");
        check_latency_order(&r);
        assert!(r.throughput > 0.0 && r.duration_sec > 0.0);
        let s = progress.snapshot();
        assert_eq!(
            (s.started, s.completed, s.successes, s.bytes),
            (n, n, r.successes, r.bytes)
        );
        // The JSON has the documented camelCase fields.
        let j = serde_json::to_value(&r).unwrap();
        for k in [
            "requests",
            "successes",
            "successRate",
            "failures",
            "meanMs",
            "p50Ms",
            "p95Ms",
            "p99Ms",
            "maxMs",
            "throughput",
            "durationSec",
            "bytes",
            "concurrency",
        ] {
            assert!(j.get(k).is_some(), "{k} missing in {j}");
        }
        assert_eq!(j["failures"]["http5xx"], fails);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_without_keep_alive_connects_once_per_request() {
    with_deadline(async {
        let rule: Rule = Arc::new(|k, path| match path {
            "/missing" => (404, Duration::ZERO, Bytes::from_static(b"no")),
            _ if k.is_multiple_of(3) => (200, Duration::from_millis(5), Bytes::from_static(b"hi")),
            _ => (200, Duration::ZERO, Bytes::from_static(b"hi")),
        });
        let (addr, stats) = server(rule).await;
        let (n, c) = (60u64, 5usize);
        let cfg = HttpConfig {
            url: format!("http://{addr}/index.html"),
            keep_alive: false,
            load: load(c, n),
        };
        let r = loadgen::http(&cfg).await.unwrap();
        assert_eq!((r.requests, r.successes, r.bytes), (n, n, 2 * n));
        assert!(r.failures.is_empty());
        assert_eq!(r.keep_alive, Some(false));
        assert_eq!(stats.accepted.load(Ordering::SeqCst), n as usize);
        assert_eq!(stats.close_requests.load(Ordering::SeqCst), n as usize);
        // (The server notices a closed connection a little after the
        // user has moved on, so only its requests in flight are bounded by c.)
        assert!(stats.max_in_flight.load(Ordering::SeqCst) <= c);
        check_latency_order(&r);

        // 4xx answers are failures of their class; no latency figures.
        let cfg = HttpConfig {
            url: format!("http://{addr}/missing"),
            keep_alive: false,
            load: load(2, 8),
        };
        let r = loadgen::http(&cfg).await.unwrap();
        assert_eq!(r.failures, BTreeMap::from([(FailureKind::Http4xx, 8)]));
        assert_eq!((r.successes, r.success_rate, r.bytes), (0, 0.0, 16));
        assert_eq!((r.mean_ms, r.p50_ms, r.max_ms), (None, None, None));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_timeouts_and_connection_errors_are_counted() {
    with_deadline(async {
        // Every 4th request is never answered in time.
        let rule: Rule = Arc::new(|k, _| {
            let delay = if k.is_multiple_of(4) { 30 } else { 0 };
            (200, Duration::from_secs(delay), Bytes::from_static(b"ok"))
        });
        let (addr, stats) = server(rule).await;
        let (n, c) = (40u64, 4usize);
        let cfg = HttpConfig {
            url: format!("http://{addr}/"),
            keep_alive: true,
            load: Load {
                timeout: Duration::from_millis(300),
                ..load(c, n)
            },
        };
        let r = loadgen::http(&cfg).await.unwrap();
        assert_eq!(r.requests, n);
        assert_eq!(r.failures, BTreeMap::from([(FailureKind::Timeout, 10)]));
        assert_eq!(r.successes, 30);
        assert_eq!(stats.requests.load(Ordering::SeqCst), n as usize);
        // A connection whose request timed out is not reused: at most one
        // new connection per timeout.
        let accepted = stats.accepted.load(Ordering::SeqCst);
        assert!((c..=c + 10).contains(&accepted), "{accepted}");
        // Only the successes count toward latency: none near the timeout.
        assert!(r.max_ms.unwrap() < 300.0, "{r:?}");

        // Nothing listens: every request is a connection error.
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead = closed.local_addr().unwrap();
        drop(closed);
        let cfg = HttpConfig {
            url: format!("http://{dead}/"),
            keep_alive: true,
            load: load(3, 9),
        };
        let r = loadgen::http(&cfg).await.unwrap();
        assert_eq!(r.failures, BTreeMap::from([(FailureKind::Connection, 9)]));
        assert_eq!(r.successes, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_duration_bounds_the_run_and_stop_ends_it() {
    with_deadline(async {
        let rule: Rule = Arc::new(|_, _| (200, Duration::from_millis(2), Bytes::from_static(b"x")));
        let (addr, stats) = server(rule).await;
        let cfg = HttpConfig {
            url: format!("http://{addr}/"),
            keep_alive: true,
            load: Load {
                requests: None,
                duration: Some(Duration::from_millis(300)),
                ..load(3, 1)
            },
        };
        let r = loadgen::http(&cfg).await.unwrap();
        assert!(r.requests >= 3, "{r:?}");
        assert_eq!(r.requests, r.successes);
        assert_eq!(stats.requests.load(Ordering::SeqCst) as u64, r.requests);
        assert!(r.duration_sec > 0.2 && r.duration_sec < 20.0, "{r:?}");

        // stop() during an open-ended run: the report comes back.
        let progress = Progress::new();
        let cfg = HttpConfig {
            url: format!("http://{addr}/"),
            keep_alive: true,
            load: Load {
                requests: None,
                duration: Some(Duration::from_secs(3600)),
                progress: progress.clone(),
                ..load(2, 1)
            },
        };
        let run = tokio::spawn(async move { loadgen::http(&cfg).await });
        while progress.snapshot().completed < 20 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        progress.stop();
        let r = run.await.unwrap().unwrap();
        assert!(r.requests >= 20);
        assert_eq!(r.requests, progress.snapshot().completed);
    })
    .await;
}

/// A raw HTTP/1.1 server answering its k-th request (1-based) with the
/// k-th of a few framings, written a few bytes at a time; after every 5th
/// answer it closes the connection without a word (an idle close, racing
/// the client's next request on it).
async fn raw_server() -> (SocketAddr, Arc<Stats>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stats = Arc::new(Stats::default());
    let st = stats.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            st.accepted.fetch_add(1, Ordering::SeqCst);
            let st = st.clone();
            tokio::spawn(async move {
                let _ = s.set_nodelay(true);
                let mut buf = Vec::new();
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        let mut chunk = [0u8; 1024];
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    buf.drain(..end + 4);
                    let k = st.requests.fetch_add(1, Ordering::SeqCst) + 1;
                    let (answer, close) = RAW_ANSWERS[k % RAW_ANSWERS.len()];
                    for piece in answer.as_bytes().chunks(7) {
                        if s.write_all(piece).await.is_err() {
                            return;
                        }
                        tokio::task::yield_now().await;
                    }
                    if close || k.is_multiple_of(5) {
                        return;
                    }
                }
            });
        }
    });
    (addr, stats)
}

/// (answer, close after it); the body of each is 11 bytes.
const RAW_ANSWERS: [(&str, bool); 5] = [
    (
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
        false,
    ),
    (
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
        false,
    ),
    ("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello world", true),
    ("HTTP/1.0 200 OK\r\nContent-Length: 11\r\n\r\nhello world", true),
    (
        "HTTP/1.1 404 Not Found\r\ncontent-length: 11\r\n\r\nhello world",
        false,
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_framings_and_idle_closes() {
    with_deadline(async {
        let (addr, stats) = raw_server().await;
        let (n, c) = (100u64, 4usize);
        let cfg = HttpConfig {
            url: format!("http://{addr}/"),
            keep_alive: true,
            load: load(c, n),
        };
        let r = loadgen::http(&cfg).await.unwrap();
        // Chunked, after a 100 Continue, until close, HTTP/1.0: successes;
        // the 404s fail; an idle close is no failure (the request is sent
        // again on a new connection, and the server saw it once).
        assert_eq!(r.requests, n);
        assert_eq!(r.failures, BTreeMap::from([(FailureKind::Http4xx, n / 5)]));
        assert_eq!(r.successes, n - n / 5);
        assert_eq!(r.bytes, 11 * n);
        assert_eq!(stats.requests.load(Ordering::SeqCst), n as usize);
        assert!(stats.accepted.load(Ordering::SeqCst) > c);
    })
    .await;
}

#[tokio::test]
async fn bad_loads_are_refused_naming_the_field() {
    let field = |r: Result<Report, LoadgenError>| match r {
        Err(LoadgenError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    let cfg = |url: &str, load: Load| HttpConfig {
        url: url.into(),
        keep_alive: true,
        load,
    };
    assert_eq!(
        field(loadgen::http(&cfg("ftp://127.0.0.1/", load(1, 1))).await),
        "url"
    );
    assert_eq!(
        field(loadgen::http(&cfg("http://127.0.0.1:9/", load(5, 2))).await),
        "concurrency"
    );
    let (fwd, _) = runtime::spawn(ForwarderLimits::default());
    let client = Client::from_app_face(in_process::connect(&fwd).await.unwrap());
    let mut ndn = NdnConfig::new(Name::from_uri("/picasso/svc/x").unwrap(), load(1, 1));
    ndn.segment_window = 0;
    assert_eq!(field(loadgen::ndn(&client, &ndn).await), "segmentWindow");
    fwd.shutdown();
}

fn root() -> Name {
    Name::from_uri("/picasso").unwrap()
}

async fn forwarder() -> (ForwarderHandle, Client) {
    let (fwd, _) = runtime::spawn(ForwarderLimits::default());
    let consumer = Client::from_app_face(in_process::connect(&fwd).await.unwrap());
    (fwd, consumer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndn_nothing_serves_the_name_is_nack_no_route() {
    with_deadline(async {
        let (fwd, consumer) = forwarder().await;
        let cfg = NdnConfig::new(request_name(&root(), "nowhere", "/x"), load(4, 20));
        let r = loadgen::ndn(&consumer, &cfg).await.unwrap();
        assert_eq!(r.requests, 20);
        assert_eq!(r.failures, BTreeMap::from([(FailureKind::NackNoRoute, 20)]));
        assert_eq!(r.protocol, "ndn");
        assert_eq!(r.target, "/picasso/svc/nowhere/x");
        fwd.shutdown();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndn_answers_nacks_and_silence_are_counted_by_kind() {
    with_deadline(async {
        let (fwd, consumer) = forwarder().await;
        let producer = Client::from_app_face(in_process::connect(&fwd).await.unwrap());
        let seen = Arc::new(AtomicUsize::new(0));
        let names = Arc::new(Mutex::new(HashSet::new()));
        let (s, nm) = (seen.clone(), names.clone());
        // k-th Interest: every 5th Nack(Congestion), every 7th a 503,
        // every 11th no answer, the others 200 "hello".
        producer
            .register(
                Name::from_uri("/picasso/svc/echo").unwrap(),
                move |i: picasso_tlv::Interest| {
                    let k = s.fetch_add(1, Ordering::SeqCst) + 1;
                    let fresh = i.must_be_fresh() && i.can_be_prefix();
                    let req = i.app_params().map(|p| HttpRequest::decode(p.clone()));
                    let unique = nm.lock().unwrap().insert(i.name().to_string());
                    async move {
                        assert!(fresh, "MustBeFresh and CanBePrefix");
                        let req = req.expect("ApplicationParameters").expect("an HttpRequest");
                        assert_eq!(req.method, "GET");
                        assert!(unique, "each request has its own name");
                        let status = match k {
                            k if k.is_multiple_of(5) => {
                                return Answer::Nack(NackReason::Congestion)
                            }
                            k if k.is_multiple_of(7) => 503,
                            k if k.is_multiple_of(11) => return Answer::Silent,
                            _ => 200,
                        };
                        let body = if status == 200 { "hello" } else { "busy" };
                        let resp = HttpResponse::text(status, body).encode();
                        let mut d = Data::new(i.name().clone()).with_content(resp);
                        d.sign(&picasso_tlv::Signer::DigestSha256);
                        Answer::DataNoCache(d)
                    }
                },
            )
            .await
            .unwrap();
        let n = 154u64;
        let cfg = NdnConfig::new(
            request_name(&root(), "echo", "/index.html"),
            Load {
                timeout: Duration::from_millis(400),
                ..load(7, n)
            },
        );
        let r = loadgen::ndn(&consumer, &cfg).await.unwrap();
        let count = |f: &dyn Fn(u64) -> bool| (1..=n).filter(|&k| f(k)).count() as u64;
        let nacks = count(&|k| k.is_multiple_of(5));
        let unavailable = count(&|k| !k.is_multiple_of(5) && k.is_multiple_of(7));
        let silent =
            count(&|k| !k.is_multiple_of(5) && !k.is_multiple_of(7) && k.is_multiple_of(11));
        let ok = n - nacks - unavailable - silent;
        assert_eq!(seen.load(Ordering::SeqCst) as u64, n);
        assert_eq!(names.lock().unwrap().len() as u64, n);
        assert_eq!(r.requests, n);
        assert_eq!(r.successes, ok);
        assert_eq!(
            r.failures,
            BTreeMap::from([
                (FailureKind::Http5xx, unavailable),
                (FailureKind::Timeout, silent),
                (FailureKind::NackCongestion, nacks),
            ])
        );
        assert_eq!(r.bytes, ok * 5 + unavailable * 4);
        check_latency_order(&r);
        fwd.shutdown();
    })
    .await;
}

const BIG: usize = 100_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndn_segmented_answers_through_the_gateway_are_reassembled() {
    with_deadline(async {
        let body = Bytes::from((0..BIG).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
        let b = body.clone();
        let big_calls = Arc::new(AtomicUsize::new(0));
        let calls = big_calls.clone();
        let rule: Rule = Arc::new(move |_, path| match path {
            "/big" => {
                calls.fetch_add(1, Ordering::SeqCst);
                (200, Duration::ZERO, b.clone())
            }
            "/broken" => (500, Duration::ZERO, Bytes::from_static(b"broken")),
            _ => (200, Duration::ZERO, Bytes::from_static(b"up")),
        });
        let (addr, _stats) = server(rule).await;
        let (fwd, consumer) = forwarder().await;
        let gw_client = Client::from_app_face(in_process::connect(&fwd).await.unwrap());
        let gateway = Gateway::new(
            gw_client,
            GatewayConfig {
                health_path: "/health".into(),
                ..GatewayConfig::default()
            },
        );
        gateway.add_replica(
            "web",
            ReplicaEndpoint {
                id: "r1".into(),
                addr,
                max_users: 0,
            },
        );
        for _ in 0..500 {
            if gateway.registered_services() == ["web"] {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(gateway.registered_services(), ["web"]);
        let n = 24u64;
        let cfg = NdnConfig::new(request_name(&root(), "web", "/big"), load(3, n));
        let r = loadgen::ndn(&consumer, &cfg).await.unwrap();
        assert_eq!(r.successes, n, "{r:?}");
        assert_eq!(r.bytes, n * BIG as u64);
        // One replica call per request: the answers were segmented (100 kB)
        // and segments 1… came from the gateway's cache.
        assert_eq!(big_calls.load(Ordering::SeqCst), n as usize);

        let cfg = NdnConfig::new(request_name(&root(), "web", "/broken"), load(2, 6));
        let r = loadgen::ndn(&consumer, &cfg).await.unwrap();
        assert_eq!(r.failures, BTreeMap::from([(FailureKind::Http5xx, 6)]));
        assert_eq!(r.bytes, 6 * 6);
        gateway.shutdown();
        fwd.shutdown();
    })
    .await;
}
