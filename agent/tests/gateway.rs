//! The gateway and the ingress against real sockets on 127.0.0.1: a tiny
//! hyper server per replica, forwarders from `runtime::spawn`, and (for
//! the two-node case) a UDP link between two forwarders.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use picasso_agent::gateway::message::{HttpRequest, HttpResponse};
use picasso_agent::gateway::naming::{request_name, segments_base};
use picasso_agent::gateway::{Gateway, GatewayConfig, ReplicaEndpoint};
use picasso_agent::ingress::{Ingress, IngressConfig};
use picasso_forwarder::app::{Client, ExpressError};
use picasso_forwarder::face::{in_process, udp};
use picasso_forwarder::fw::load_balance::LoadBalance;
use picasso_forwarder::fw::ForwarderLimits;
use picasso_forwarder::runtime::{self, ForwarderHandle};
use picasso_tlv::lp::NackReason;
use picasso_tlv::mgmt::ControlParameters;
use picasso_tlv::{Component, Interest, Name};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

const BIG: usize = 200_000;

fn root() -> Name {
    Name::from_uri("/picasso").unwrap()
}

fn big_body() -> Bytes {
    Bytes::from((0..BIG).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>())
}

/// A replica: an HTTP server that counts what it serves.
#[derive(Clone)]
struct Replica {
    addr: SocketAddr,
    id: &'static str,
    hits: Arc<AtomicUsize>,
    healthy: Arc<AtomicBool>,
}

impl Replica {
    /// Paths: `/health` (200 or 500), `/echo` (method and body back),
    /// `/big` (200 kB, cacheable), `/slow` (after `delay`), anything else
    /// `hello from <id> <path>`; all but `/big` uncacheable.
    async fn start(id: &'static str, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let r = Replica {
            addr: listener.local_addr().unwrap(),
            id,
            hits: Arc::default(),
            healthy: Arc::new(AtomicBool::new(true)),
        };
        let me = r.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                let me = me.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let me = me.clone();
                        async move { Ok::<_, Infallible>(me.serve(req, delay).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(s), svc)
                        .await;
                });
            }
        });
        r
    }

    async fn serve(
        &self,
        req: hyper::Request<Incoming>,
        delay: Duration,
    ) -> hyper::Response<Full<Bytes>> {
        let path = req.uri().path().to_string();
        if path == "/health" {
            let code = if self.healthy.load(Ordering::SeqCst) {
                200
            } else {
                500
            };
            return hyper::Response::builder()
                .status(code)
                .body(Full::new(Bytes::new()))
                .unwrap();
        }
        self.hits.fetch_add(1, Ordering::SeqCst);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let method = req.method().to_string();
        let query = req.uri().query().unwrap_or("").to_string();
        let body = req.into_body().collect().await.unwrap().to_bytes();
        let b = hyper::Response::builder().header("x-replica", self.id);
        match path.as_str() {
            "/big" => b
                .header("cache-control", "public, max-age=60")
                .body(Full::new(big_body())),
            "/echo" => b
                .status(201)
                .header("x-method", method)
                .header("cache-control", "no-store")
                .body(Full::new(body)),
            _ => b.body(Full::new(Bytes::from(format!(
                "hello from {} {path}{}",
                self.id,
                if query.is_empty() {
                    String::new()
                } else {
                    format!("?{query}")
                }
            )))),
        }
        .unwrap()
    }

    fn endpoint(&self, max_users: usize) -> ReplicaEndpoint {
        ReplicaEndpoint {
            id: self.id.to_string(),
            addr: self.addr,
            max_users,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A forwarder with a gateway on its own face and a consumer face.
struct Node {
    fwd: ForwarderHandle,
    gateway: Gateway,
    consumer: Client,
}

fn fast_health() -> GatewayConfig {
    GatewayConfig {
        health_path: "/health".into(),
        health_interval: Duration::from_millis(50),
        health_timeout: Duration::from_millis(500),
        unhealthy_after: 2,
        ..GatewayConfig::default()
    }
}

impl Node {
    async fn start(config: GatewayConfig) -> Self {
        let (fwd, _) = runtime::spawn(ForwarderLimits::default());
        let gw_client = Client::from_app_face(in_process::connect(&fwd).await.unwrap());
        let consumer = Client::from_app_face(in_process::connect(&fwd).await.unwrap());
        Node {
            gateway: Gateway::new(gw_client, config),
            fwd,
            consumer,
        }
    }

    async fn wait_registered(&self, services: &[&str]) {
        let want: Vec<String> = services.iter().map(|s| s.to_string()).collect();
        for _ in 0..200 {
            if self.gateway.registered_services() == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "registered {:?}, want {:?}",
            self.gateway.registered_services(),
            want
        );
    }

    async fn ingress(&self, lifetime: Duration) -> (SocketAddr, CancellationToken) {
        let client = Client::from_app_face(in_process::connect(&self.fwd).await.unwrap());
        let ingress = Ingress::bind(
            client,
            IngressConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                lifetime,
                ..IngressConfig::default()
            },
        )
        .await
        .unwrap();
        let addr = ingress.local_addr().unwrap();
        let stop = CancellationToken::new();
        tokio::spawn(ingress.run(stop.clone()));
        (addr, stop)
    }
}

/// Expresses a request and reassembles its response, as an NDN app would.
async fn ndn_request(
    c: &Client,
    service: &str,
    path: &str,
    req: HttpRequest,
) -> Result<HttpResponse, ExpressError> {
    let i = Interest::new(request_name(&root(), service, path))
        .with_can_be_prefix(true)
        .with_must_be_fresh(true)
        .with_lifetime_ms(3000)
        .with_app_params(req.encode());
    let first = c.express(i).await?;
    let last = first
        .final_block_id()
        .and_then(|c| c.as_segment())
        .unwrap_or(0);
    let mut content = first.content().to_vec();
    let base = segments_base(first.name());
    for s in 1..=last {
        let d = c
            .express(Interest::new(base.append(&Component::segment(s))).with_lifetime_ms(3000))
            .await?;
        content.extend_from_slice(&d.content());
    }
    Ok(HttpResponse::decode(Bytes::from(content)).unwrap())
}

fn get(query: &str) -> HttpRequest {
    HttpRequest {
        method: "GET".into(),
        query: query.into(),
        ..HttpRequest::default()
    }
}

/// An HTTP/1.1 connection to `addr` that keeps alive.
async fn http_conn(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let s = TcpStream::connect(addr).await.unwrap();
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
        .await
        .unwrap();
    tokio::spawn(conn);
    send
}

async fn http_send(
    send: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    method: &str,
    uri: &str,
    body: &'static [u8],
) -> (u16, hyper::HeaderMap, Bytes) {
    send.ready().await.unwrap();
    let req = hyper::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "ingress")
        .body(Full::new(Bytes::from_static(body)))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body)
}

async fn with_deadline<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("test took longer than 60 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_through_ndn_returns_the_body() {
    with_deadline(async {
        let r = Replica::start("r1", Duration::ZERO).await;
        let node = Node::start(fast_health()).await;
        node.gateway.add_replica("web", r.endpoint(0));
        node.wait_registered(&["web"]).await;
        let resp = ndn_request(&node.consumer, "web", "/a/b", get("x=1"))
            .await
            .unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(&resp.body[..], b"hello from r1 /a/b?x=1");
        assert_eq!(resp.header("x-replica").map(|v| &v[..]), Some(&b"r1"[..]));
        // A bare Interest (no ApplicationParameters, no CanBePrefix) is a GET
        // answered under its exact name.
        let d = node
            .consumer
            .express(Interest::new(request_name(&root(), "web", "/plain")).with_lifetime_ms(3000))
            .await
            .unwrap();
        let resp = HttpResponse::decode(d.content()).unwrap();
        assert_eq!(&resp.body[..], b"hello from r1 /plain");
        assert_eq!(d.freshness_ms(), None, "no Cache-Control: uncacheable");
        let m = node.gateway.metrics();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].requests_total, 2);
        assert_eq!(m[0].success_rate, 1.0);
        assert!(m[0].latency_p50.is_some());
        assert_eq!(m[0].replica_requests, vec![(r.endpoint(0).id, 2)]);
        assert_eq!(r.hits(), 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_large_response_is_segmented_and_reassembled() {
    with_deadline(async {
        let r = Replica::start("r1", Duration::ZERO).await;
        let node = Node::start(fast_health()).await;
        node.gateway.add_replica("web", r.endpoint(0));
        node.wait_registered(&["web"]).await;
        let i = Interest::new(request_name(&root(), "web", "/big"))
            .with_can_be_prefix(true)
            .with_must_be_fresh(true)
            .with_lifetime_ms(3000)
            .with_app_params(get("").encode());
        let first = node.consumer.express(i).await.unwrap();
        let last = first.final_block_id().and_then(|c| c.as_segment()).unwrap();
        assert!(last >= 20, "200 kB in {} segments", last + 1);
        assert_eq!(first.freshness_ms(), Some(60_000), "max-age=60");
        assert!(first
            .name()
            .get(first.name().len() - 2)
            .unwrap()
            .as_version()
            .is_some());
        let resp = ndn_request(&node.consumer, "web", "/big", get("again"))
            .await
            .unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body.len(), BIG);
        assert_eq!(resp.body, big_body());
        assert_eq!(r.hits(), 2, "one replica call per request, not per segment");
        assert!(node.gateway.metrics()[0].segments_served >= last);
        // A segment of a version this gateway never made: Nack(NoRoute).
        let bogus = request_name(&root(), "web", "/big")
            .append(&Component::version(1))
            .append(&Component::segment(1));
        assert_eq!(
            node.consumer
                .express(Interest::new(bogus).with_lifetime_ms(1000))
                .await,
            Err(ExpressError::Nack(NackReason::NoRoute.code()))
        );
        // Through the ingress, byte for byte, with the Cache-Control.
        let (addr, _stop) = node.ingress(Duration::from_secs(3)).await;
        let mut c = http_conn(addr).await;
        let (status, headers, body) = http_send(&mut c, "GET", "/web/big", b"").await;
        assert_eq!(status, 200);
        assert_eq!(body, big_body());
        assert_eq!(headers.get("cache-control").unwrap(), "public, max-age=60");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_ingress_get_and_post_over_one_kept_alive_connection() {
    with_deadline(async {
        let r = Replica::start("r1", Duration::ZERO).await;
        let node = Node::start(fast_health()).await;
        node.gateway.add_replica("web", r.endpoint(0));
        node.wait_registered(&["web"]).await;
        let (addr, _stop) = node.ingress(Duration::from_secs(3)).await;
        let mut c = http_conn(addr).await;
        let (status, headers, body) = http_send(&mut c, "GET", "/web/x/y?z=1", b"").await;
        assert_eq!(status, 200);
        assert_eq!(&body[..], b"hello from r1 /x/y?z=1");
        assert_eq!(headers.get("x-replica").unwrap(), "r1");
        // Same connection: POST echo, twice (identical POSTs are not merged).
        for _ in 0..2 {
            let (status, headers, body) =
                http_send(&mut c, "POST", "/web/echo", b"ping pong").await;
            assert_eq!(status, 201);
            assert_eq!(&body[..], b"ping pong");
            assert_eq!(headers.get("x-method").unwrap(), "POST");
            assert_eq!(headers.get("cache-control").unwrap(), "no-store");
        }
        assert_eq!(r.hits(), 3);
        // A body that cannot fit in one Interest.
        let big: &'static [u8] = Box::leak(vec![b'x'; 20_000].into_boxed_slice());
        let (status, _, _) = http_send(&mut c, "POST", "/web/echo", big).await;
        assert_eq!(status, 413);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d_least_outstanding_sends_fewer_to_the_slow_replica() {
    with_deadline(async {
        let fast = Replica::start("fast", Duration::from_millis(5)).await;
        let slow = Replica::start("slow", Duration::from_millis(300)).await;
        let node = Node::start(fast_health()).await;
        node.gateway.add_replica("web", fast.endpoint(0));
        node.gateway.add_replica("web", slow.endpoint(0));
        node.wait_registered(&["web"]).await;
        let mut workers = Vec::new();
        for w in 0..4 {
            let c = node.consumer.clone();
            workers.push(tokio::spawn(async move {
                for k in 0..10 {
                    let resp = ndn_request(&c, "web", "/slow", get(&format!("w={w}&k={k}")))
                        .await
                        .unwrap();
                    assert_eq!(resp.status, 200);
                }
            }));
        }
        for w in workers {
            w.await.unwrap();
        }
        let (f, s) = (fast.hits(), slow.hits());
        assert_eq!(f + s, 40);
        assert!(s >= 1, "the slow replica gets requests too ({f}/{s})");
        assert!(
            s * 2 < f,
            "the slow replica gets fewer ({f} fast, {s} slow)"
        );
    })
    .await;
}

async fn set_load_balance(c: &Client) {
    let params = ControlParameters {
        name: Some(Name::from_uri("/picasso/svc").unwrap()),
        strategy: Some(LoadBalance::strategy_name()),
        ..ControlParameters::default()
    };
    c.command("strategy-choice", "set", &params).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_full_replica_nacks_congestion_and_the_other_node_serves() {
    with_deadline(async {
        let ra = Replica::start("ra", Duration::from_millis(800)).await;
        let rb = Replica::start("rb", Duration::ZERO).await;
        let a = Node::start(fast_health()).await;
        let b = Node::start(fast_health()).await;
        a.gateway.add_replica("web", ra.endpoint(1));
        b.gateway.add_replica("web", rb.endpoint(1));
        a.wait_registered(&["web"]).await;
        b.wait_registered(&["web"]).await;
        // Node A reaches node B over UDP; its local replica is preferred (cost 0).
        let ua = udp::UdpChannel::bind(
            a.fwd.clone(),
            "127.0.0.1:0".parse().unwrap(),
            udp::UdpConfig::default(),
        )
        .await
        .unwrap();
        let ub = udp::UdpChannel::bind(
            b.fwd.clone(),
            "127.0.0.1:0".parse().unwrap(),
            udp::UdpConfig::default(),
        )
        .await
        .unwrap();
        let to_b = ua.connect(ub.local).await.unwrap();
        a.fwd
            .add_route(Name::from_uri("/picasso/svc/web").unwrap(), to_b, 10)
            .await
            .unwrap();
        set_load_balance(&a.consumer).await;
        // The first request occupies A's only slot for 800 ms...
        let c = a.consumer.clone();
        let first = tokio::spawn(async move { ndn_request(&c, "web", "/one", get("")).await });
        tokio::time::sleep(Duration::from_millis(150)).await;
        // ...so the second is Nacked by A's gateway and served by B.
        let second = ndn_request(&a.consumer, "web", "/two", get(""))
            .await
            .unwrap();
        assert_eq!(&second.body[..], b"hello from rb /two");
        let first = first.await.unwrap().unwrap();
        assert_eq!(&first.body[..], b"hello from ra /one");
        assert_eq!(a.gateway.metrics()[0].congestion_nacks, 1);
        assert_eq!((ra.hits(), rb.hits()), (1, 1));
        // With B gone too, the consumer sees the Nack.
        b.gateway.remove_replica("web", "rb");
        b.wait_registered(&[]).await;
        let c = a.consumer.clone();
        let hold = tokio::spawn(async move { ndn_request(&c, "web", "/three", get("")).await });
        tokio::time::sleep(Duration::from_millis(150)).await;
        let r = ndn_request(&a.consumer, "web", "/four", get("")).await;
        assert!(matches!(r, Err(ExpressError::Nack(_))), "{r:?}");
        assert!(hold.await.unwrap().is_ok());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f_no_route_is_503_and_silence_is_504() {
    with_deadline(async {
        let node = Node::start(fast_health()).await;
        let (addr, _stop) = node.ingress(Duration::from_millis(500)).await;
        let mut c = http_conn(addr).await;
        let (status, _, body) = http_send(&mut c, "GET", "/nowhere/x", b"").await;
        assert_eq!(status, 503);
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.contains("no route") && text.contains("nowhere"),
            "{text}"
        );
        // A producer that never answers.
        let mute = Client::from_app_face(in_process::connect(&node.fwd).await.unwrap());
        mute.register(
            Name::from_uri("/picasso/svc/mute").unwrap(),
            |_i: Interest| async { None },
        )
        .await
        .unwrap();
        let (status, _, body) = http_send(&mut c, "GET", "/mute/x", b"").await;
        assert_eq!(status, 504, "{}", String::from_utf8_lossy(&body));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g_failed_health_checks_unregister_the_prefix() {
    with_deadline(async {
        let r = Replica::start("r1", Duration::ZERO).await;
        let node = Node::start(fast_health()).await;
        node.gateway.add_replica("web", r.endpoint(0));
        node.wait_registered(&["web"]).await;
        assert!(ndn_request(&node.consumer, "web", "/", get(""))
            .await
            .is_ok());
        r.healthy.store(false, Ordering::SeqCst);
        node.wait_registered(&[]).await;
        assert_eq!(node.gateway.metrics()[0].healthy_replicas, 0);
        assert_eq!(
            ndn_request(&node.consumer, "web", "/", get("1"))
                .await
                .err(),
            Some(ExpressError::Nack(NackReason::NoRoute.code()))
        );
        // It comes back after one passing check.
        r.healthy.store(true, Ordering::SeqCst);
        node.wait_registered(&["web"]).await;
        assert!(ndn_request(&node.consumer, "web", "/", get("2"))
            .await
            .is_ok());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h_a_thousand_concurrent_keep_alive_connections() {
    with_deadline(async {
        let r = Replica::start("r1", Duration::from_millis(10)).await;
        let node = Node::start(fast_health()).await;
        node.gateway.add_replica("web", r.endpoint(0));
        node.wait_registered(&["web"]).await;
        let (addr, _stop) = node.ingress(Duration::from_secs(20)).await;
        // Open them all first, so all 1,000 are held at once.
        let mut conns = Vec::new();
        for _ in 0..1000 {
            conns.push(http_conn(addr).await);
        }
        let mut tasks = Vec::new();
        for (k, mut c) in conns.into_iter().enumerate() {
            tasks.push(tokio::spawn(async move {
                let mut ok = 0;
                for round in 0..2 {
                    let uri = format!("/web/c?k={k}&r={round}");
                    let (status, _, body) = http_send_owned(&mut c, &uri).await;
                    if status == 200 && body == format!("hello from r1 /c?k={k}&r={round}") {
                        ok += 1;
                    }
                }
                ok
            }));
        }
        let mut ok = 0;
        for t in tasks {
            ok += t.await.unwrap();
        }
        assert_eq!(ok, 2000);
        assert_eq!(r.hits(), 2000);
    })
    .await;
}

async fn http_send_owned(
    send: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    uri: &str,
) -> (u16, hyper::HeaderMap, String) {
    let (s, h, b) = http_send_uri(send, uri).await;
    (s, h, String::from_utf8_lossy(&b).into_owned())
}

async fn http_send_uri(
    send: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    uri: &str,
) -> (u16, hyper::HeaderMap, Bytes) {
    send.ready().await.unwrap();
    let req = hyper::Request::get(uri)
        .header("host", "ingress")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (
        status,
        headers,
        resp.into_body().collect().await.unwrap().to_bytes(),
    )
}
