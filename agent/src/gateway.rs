//! The service gateway: NDN Interests for `/<root>/svc/<service>/<path…>`
//! in, HTTP requests to the local replicas of `<service>` out.
//!
//! Owns: the set of local replicas per service, their health, the choice
//! of replica per request, the prefix registrations, the cache of large
//! responses and the per-service metrics. Does not own: starting
//! containers (the service execution module calls [`Gateway::add_replica`]
//! and [`Gateway::remove_replica`]), forwarding, or the HTTP side facing
//! users (that is [`crate::ingress`]).
//!
//! ```text
//! Interest /picasso/svc/S/a/b/<digest?> ──► handler ──► pick replica (least outstanding,
//!          ApplicationParameters = HttpRequest          Nack(Congestion) when all are at maxUsers)
//!                                              │ hyper, pooled keep-alive connections
//!                                              ▼
//!                                     GET http://replica/a/b ──► HttpResponse
//!                                              │
//! Data …/a/b/<digest?>/v=V/seg=0 ◄─────────────┤ one packet: done; more: kept by version,
//! Interest …/a/b/v=V/seg=n ──► ResponseCache ──┘ later segments answered from the cache
//! ```
//!
//! **Request format.** An Interest's name after the service prefix gives
//! the HTTP path, one generic component per path segment (see
//! [`naming`]). Method, query, headers and body travel in
//! ApplicationParameters as an [`message::HttpRequest`] TLV; an Interest
//! without ApplicationParameters is a bare `GET`. Its
//! ParametersSha256DigestComponent ends the path, so a Data for one
//! request can never satisfy an Interest for another.
//!
//! **Response format.** The Data content, joined over all segments, is an
//! [`message::HttpResponse`] TLV (status, end-to-end headers, body).
//! Interests should carry CanBePrefix: the answer is segment 0 named
//! `<Interest name>/v=<ver>/seg=0` with FinalBlockId = last segment. If it
//! is larger than one packet, segments 1… are fetched by Interests for
//! `<Interest name without its digest>/v=<ver>/seg=<n>` and are answered
//! from a bounded per-gateway cache of responses by version for a while
//! (the replica is called once per request, never per segment). A gateway
//! that does not hold that version answers Nack(NoRoute), so the
//! load-balance strategy tries the node that does. An Interest without
//! CanBePrefix gets a one-packet response as Data named exactly like the
//! Interest (a convenience for simple NDN consumers); a larger response
//! then becomes a 502 explaining that CanBePrefix is needed.
//!
//! **Caching.** A response whose Cache-Control gives a positive
//! `max-age`/`s-maxage` (and none of `no-store`, `no-cache`, `private`) gets that as
//! FreshnessPeriod. Any other response gets no FreshnessPeriod and is sent
//! with the NDNLPv2 CachePolicy NoCache header (`app::Answer::DataNoCache`)
//! so the local forwarder does not store it; consumers that must never be
//! served a stored copy (the ingress does this) set MustBeFresh, which a
//! Data without FreshnessPeriod never satisfies from a content store.
//!
//! **Replicas.** A replica is healthy from the moment it is added until
//! it fails `unhealthy_after` consecutive health checks (a `GET` of
//! `health_path` that errs, times out or returns ≥ 500); one passing check
//! makes it healthy again. The prefix is registered while a service has a
//! healthy replica and unregistered when none is left. Each request goes
//! to the healthy replica with the fewest outstanding requests (ties in
//! turn) whose outstanding count is below its `max_users` (0 = no limit);
//! when every healthy replica is full the gateway answers Nack(Congestion)
//! and the forwarder's strategy tries another node. Errors talking to a
//! replica become 502 (504 on timeout) responses, uncacheable.

pub mod message;
pub mod metrics;
pub mod naming;
pub mod response_cache;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use picasso_forwarder::app::{Answer, Client};
use picasso_tlv::lp::NackReason;
use picasso_tlv::mgmt::ControlParameters;
use picasso_tlv::{Component, Data, Interest, Name, Signer};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use message::{freshness_ms, is_hop_by_hop, HttpRequest, HttpResponse};
use metrics::{Outcome, Recorder, ServiceMetrics};
use naming::{parse_request, segment_name, service_prefix, Request};
use response_cache::{CachedResponse, ResponseCache};

/// Room left in a packet for everything but the content (MetaInfo,
/// SignatureInfo, a DigestSha256 SignatureValue and the TLV headers).
const DATA_OVERHEAD: usize = 256;
/// Smallest segment content size, whatever the name length.
const MIN_CHUNK: usize = 1024;
/// Time kept back from an Interest's lifetime to answer a timeout in time.
const ANSWER_MARGIN: Duration = Duration::from_millis(200);

/// How a gateway behaves.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The name root (`/picasso`).
    pub root: Name,
    /// Longest wait for a replica's response (also bounded by the
    /// Interest's lifetime).
    pub request_timeout: Duration,
    /// The path health checks `GET`.
    pub health_path: String,
    /// Time between health checks of each replica.
    pub health_interval: Duration,
    /// Longest wait for a health check.
    pub health_timeout: Duration,
    /// Consecutive failed checks that make a replica unhealthy.
    pub unhealthy_after: u32,
    /// Largest response body accepted from a replica.
    pub max_response_bytes: usize,
    /// Byte budget of the cache of multi-segment responses.
    pub response_cache_bytes: usize,
    /// How long a multi-segment response stays fetchable.
    pub response_cache_ttl: Duration,
    /// Idle keep-alive connections kept per replica.
    pub pool_idle_per_replica: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            root: Name::from_uri("/picasso").unwrap_or_default(),
            request_timeout: Duration::from_secs(10),
            health_path: "/".to_string(),
            health_interval: Duration::from_secs(2),
            health_timeout: Duration::from_secs(1),
            unhealthy_after: 3,
            max_response_bytes: 64 << 20,
            response_cache_bytes: 64 << 20,
            response_cache_ttl: Duration::from_secs(30),
            pool_idle_per_replica: 256,
        }
    }
}

/// One local replica of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaEndpoint {
    /// Its id (the container id), unique within the service.
    pub id: String,
    /// Where its HTTP server listens.
    pub addr: SocketAddr,
    /// Concurrent requests it takes (the spec's maxUsers); 0 = no limit.
    pub max_users: usize,
}

#[derive(Debug)]
struct Replica {
    endpoint: ReplicaEndpoint,
    outstanding: usize,
    /// Requests sent to it since it was added (shows the balancing).
    requests: u64,
    failed_checks: u32,
    healthy: bool,
}

#[derive(Debug, Default)]
struct Service {
    replicas: Vec<Replica>,
    /// Where the next tie-break starts.
    turn: usize,
    metrics: Recorder,
}

impl Service {
    fn healthy(&self) -> usize {
        self.replicas.iter().filter(|r| r.healthy).count()
    }
}

struct State {
    services: HashMap<String, Service>,
    cache: ResponseCache,
}

type HttpClient = hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>;

struct Inner {
    client: Client,
    config: GatewayConfig,
    http: HttpClient,
    state: Mutex<State>,
    /// Services whose prefix is registered now (kept by the registrar).
    registered: Mutex<HashSet<String>>,
    /// Wakes the registrar when a service may have gained or lost its
    /// last healthy replica.
    changed: Notify,
    cancel: CancellationToken,
    last_version: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update under these locks is a single step, so a poisoned lock
    // (a panic elsewhere while holding it) still guards consistent state.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The service gateway of one node.
pub struct Gateway {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("root", &self.inner.config.root.to_uri())
            .finish()
    }
}

impl Gateway {
    /// A gateway answering through `client` (its face to the forwarder);
    /// starts the health checks and the registrar on the current runtime.
    pub fn new(client: Client, config: GatewayConfig) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(config.pool_idle_per_replica)
            .build(connector);
        let cache = ResponseCache::new(config.response_cache_bytes, config.response_cache_ttl);
        let inner = Arc::new(Inner {
            client,
            config,
            http,
            state: Mutex::new(State {
                services: HashMap::new(),
                cache,
            }),
            registered: Mutex::new(HashSet::new()),
            changed: Notify::new(),
            cancel: CancellationToken::new(),
            last_version: AtomicU64::new(0),
        });
        tokio::spawn(registrar(inner.clone()));
        tokio::spawn(health_checks(inner.clone()));
        Self { inner }
    }

    /// Adds (or replaces, by id) a local replica of `service`.
    pub fn add_replica(&self, service: &str, endpoint: ReplicaEndpoint) {
        {
            let mut st = lock(&self.inner.state);
            let svc = st.services.entry(service.to_string()).or_default();
            svc.replicas.retain(|r| r.endpoint.id != endpoint.id);
            svc.replicas.push(Replica {
                endpoint,
                outstanding: 0,
                requests: 0,
                failed_checks: 0,
                healthy: true,
            });
        }
        self.inner.changed.notify_one();
    }

    /// Removes replica `id` of `service`; false when there was none.
    pub fn remove_replica(&self, service: &str, id: &str) -> bool {
        let removed = {
            let mut st = lock(&self.inner.state);
            let Some(svc) = st.services.get_mut(service) else {
                return false;
            };
            let before = svc.replicas.len();
            svc.replicas.retain(|r| r.endpoint.id != id);
            let removed = svc.replicas.len() != before;
            if svc.replicas.is_empty() {
                st.services.remove(service);
            }
            removed
        };
        self.inner.changed.notify_one();
        removed
    }

    /// Services whose prefix is registered on the forwarder now.
    pub fn registered_services(&self) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.inner.registered).iter().cloned().collect();
        v.sort();
        v
    }

    /// Each service's figures now, by service name.
    pub fn metrics(&self) -> Vec<ServiceMetrics> {
        let now = Instant::now();
        let st = lock(&self.inner.state);
        let mut v: Vec<ServiceMetrics> = st
            .services
            .iter()
            .map(|(name, svc)| {
                let in_flight = svc.replicas.iter().map(|r| r.outstanding).sum();
                let mut m =
                    svc.metrics
                        .snapshot(name, in_flight, (svc.replicas.len(), svc.healthy()), now);
                m.replica_requests = svc
                    .replicas
                    .iter()
                    .map(|r| (r.endpoint.id.clone(), r.requests))
                    .collect();
                m
            })
            .collect();
        v.sort_by(|a, b| a.service.cmp(&b.service));
        v
    }

    /// Stops health checks and unregisters every prefix (best effort).
    pub fn shutdown(&self) {
        self.inner.cancel.cancel();
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.inner.cancel.cancel();
    }
}

/// Keeps the forwarder's registrations in line with the services that
/// have a healthy replica.
async fn registrar(inner: Arc<Inner>) {
    let mut with_handler: HashSet<String> = HashSet::new();
    loop {
        let want: HashSet<String> = lock(&inner.state)
            .services
            .iter()
            .filter(|(_, s)| s.healthy() > 0)
            .map(|(n, _)| n.clone())
            .collect();
        let have = lock(&inner.registered).clone();
        let mut retry = false;
        for s in want.difference(&have) {
            if with_handler.insert(s.clone()) {
                install_handler(&inner, s);
            }
            let prefix = service_prefix(&inner.config.root, s);
            match rib(&inner.client, "register", prefix).await {
                Ok(()) => {
                    lock(&inner.registered).insert(s.clone());
                }
                Err(e) => {
                    tracing::warn!(service = %s, error = %e, "gateway: register failed");
                    retry = true;
                }
            }
        }
        for s in have.difference(&want) {
            let prefix = service_prefix(&inner.config.root, s);
            match rib(&inner.client, "unregister", prefix).await {
                Ok(()) => {
                    lock(&inner.registered).remove(s);
                }
                Err(e) => {
                    tracing::warn!(service = %s, error = %e, "gateway: unregister failed");
                    retry = true;
                }
            }
        }
        tokio::select! {
            _ = inner.cancel.cancelled() => break,
            _ = inner.changed.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)), if retry => {}
        }
    }
    let have: Vec<String> = lock(&inner.registered).drain().collect();
    for s in have {
        let prefix = service_prefix(&inner.config.root, &s);
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            rib(&inner.client, "unregister", prefix),
        )
        .await;
    }
}

async fn rib(
    client: &Client,
    verb: &str,
    prefix: Name,
) -> Result<(), picasso_forwarder::app::RegisterError> {
    let params = ControlParameters {
        name: Some(prefix),
        ..ControlParameters::default()
    };
    client.command("rib", verb, &params).await.map(|_| ())
}

/// Installs the Interest handler of `service` (once; it stays while the
/// route comes and goes, and answers Nack(NoRoute) when no replica is left).
fn install_handler(inner: &Arc<Inner>, service: &str) {
    let weak = Arc::downgrade(inner);
    let svc = service.to_string();
    inner.client.set_handler(
        service_prefix(&inner.config.root, service),
        move |interest: Interest| {
            let weak = weak.clone();
            let svc = svc.clone();
            async move {
                match weak.upgrade() {
                    Some(inner) => inner.on_interest(&svc, interest).await,
                    None => Answer::Silent,
                }
            }
        },
    );
}

/// Periodically checks every replica's health.
async fn health_checks(inner: Arc<Inner>) {
    let mut tick = tokio::time::interval(inner.config.health_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = inner.cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let targets: Vec<(String, String, SocketAddr)> = lock(&inner.state)
            .services
            .iter()
            .flat_map(|(s, svc)| {
                svc.replicas
                    .iter()
                    .map(move |r| (s.clone(), r.endpoint.id.clone(), r.endpoint.addr))
            })
            .collect();
        let mut checks = tokio::task::JoinSet::new();
        for (s, id, addr) in targets {
            let inner = inner.clone();
            checks.spawn(async move {
                let ok = inner.check(addr).await;
                (s, id, ok)
            });
        }
        let mut flipped = false;
        while let Some(res) = checks.join_next().await {
            let Ok((s, id, ok)) = res else { continue };
            let mut st = lock(&inner.state);
            let Some(r) = st
                .services
                .get_mut(&s)
                .and_then(|svc| svc.replicas.iter_mut().find(|r| r.endpoint.id == id))
            else {
                continue;
            };
            let was = r.healthy;
            if ok {
                r.failed_checks = 0;
                r.healthy = true;
            } else {
                r.failed_checks = r.failed_checks.saturating_add(1);
                if r.failed_checks >= inner.config.unhealthy_after {
                    r.healthy = false;
                }
            }
            if was != r.healthy {
                tracing::info!(service = %s, replica = %id, healthy = r.healthy, "gateway: replica health changed");
                flipped = true;
            }
        }
        if flipped {
            inner.changed.notify_one();
        }
    }
}

/// What a call to a replica produced.
struct Called {
    response: HttpResponse,
    outcome: Outcome,
}

impl Inner {
    async fn check(&self, addr: SocketAddr) -> bool {
        let uri = format!("http://{addr}{}", self.config.health_path);
        let Ok(req) = hyper::Request::get(uri).body(Full::new(Bytes::new())) else {
            return false;
        };
        let fut = async {
            let resp = self.http.request(req).await.ok()?;
            let status = resp.status();
            // Drain the body so the connection goes back to the pool.
            let _ = resp.into_body().collect().await;
            Some(status.as_u16() < 500)
        };
        matches!(
            tokio::time::timeout(self.config.health_timeout, fut).await,
            Ok(Some(true))
        )
    }

    async fn on_interest(self: Arc<Self>, service: &str, interest: Interest) -> Answer {
        let prefix = service_prefix(&self.config.root, service);
        match parse_request(&prefix, interest.name()) {
            None => self.answer_now(
                &interest,
                HttpResponse::text(400, "name is not an HTTP path"),
            ),
            Some(Request::Segment {
                path,
                version,
                segment,
            }) => self.on_segment(service, &path, version, segment, &interest),
            Some(Request::Call { path }) => self.on_call(service, path, interest).await,
        }
    }

    /// A later segment, from the response cache.
    fn on_segment(
        &self,
        service: &str,
        path: &str,
        version: u64,
        segment: u64,
        interest: &Interest,
    ) -> Answer {
        let mut st = lock(&self.state);
        let Some(resp) = st.cache.get(version, Instant::now()) else {
            return Answer::Nack(NackReason::NoRoute);
        };
        if resp.service != service || resp.path != path {
            return Answer::Nack(NackReason::NoRoute);
        }
        let Some(content) = resp.segment(segment) else {
            return Answer::Nack(NackReason::NoRoute);
        };
        if let Some(svc) = st.services.get_mut(service) {
            svc.metrics.segment();
        }
        drop(st);
        make_data(
            interest.name().clone(),
            content,
            resp.freshness_ms,
            Some(resp.final_segment()),
        )
    }

    /// A new request: pick a replica, call it, answer segment 0.
    async fn on_call(self: Arc<Self>, service: &str, path: String, interest: Interest) -> Answer {
        let request = match interest.app_params() {
            None => Ok(HttpRequest {
                method: "GET".into(),
                ..HttpRequest::default()
            }),
            Some(p) => HttpRequest::decode(p.clone()),
        };
        let request = match request {
            Ok(r) => r,
            Err(e) => {
                return self.answer_now(
                    &interest,
                    HttpResponse::text(400, format!("bad ApplicationParameters: {e}")),
                )
            }
        };
        let replica = match self.pick(service) {
            Ok(r) => r,
            Err(reason) => return Answer::Nack(reason),
        };
        let started = Instant::now();
        let budget = self
            .config
            .request_timeout
            .min(interest.lifetime().saturating_sub(ANSWER_MARGIN))
            .max(Duration::from_millis(100));
        let called = self.call(replica.addr, &path, request, budget).await;
        let now = Instant::now();
        {
            let mut st = lock(&self.state);
            if let Some(svc) = st.services.get_mut(service) {
                if let Some(r) = svc
                    .replicas
                    .iter_mut()
                    .find(|r| r.endpoint.id == replica.id)
                {
                    r.outstanding = r.outstanding.saturating_sub(1);
                }
                svc.metrics.complete(called.outcome, now - started, now);
            }
        }
        self.answer(service, &path, &interest, called.response)
    }

    /// The replica for the next request, counted as outstanding.
    fn pick(&self, service: &str) -> Result<ReplicaEndpoint, NackReason> {
        let mut st = lock(&self.state);
        let Some(svc) = st.services.get_mut(service) else {
            return Err(NackReason::NoRoute);
        };
        if svc.healthy() == 0 {
            return Err(NackReason::NoRoute);
        }
        let n = svc.replicas.len();
        let start = svc.turn % n.max(1);
        let best = (0..n)
            .map(|k| (start + k) % n)
            .filter(|&i| {
                let r = &svc.replicas[i];
                r.healthy && (r.endpoint.max_users == 0 || r.outstanding < r.endpoint.max_users)
            })
            .min_by_key(|&i| svc.replicas[i].outstanding);
        let Some(i) = best else {
            svc.metrics.congestion();
            return Err(NackReason::Congestion);
        };
        svc.turn = svc.turn.wrapping_add(1);
        let r = &mut svc.replicas[i];
        r.outstanding += 1;
        r.requests += 1;
        Ok(r.endpoint.clone())
    }

    async fn call(
        &self,
        addr: SocketAddr,
        path: &str,
        request: HttpRequest,
        budget: Duration,
    ) -> Called {
        let fail = |status: u16, text: String| Called {
            response: HttpResponse::text(status, text),
            outcome: Outcome::Failure,
        };
        let query = if request.query.is_empty() {
            String::new()
        } else {
            format!("?{}", request.query)
        };
        let mut builder = hyper::Request::builder()
            .method(request.method.as_str())
            .uri(format!("http://{addr}{path}{query}"));
        for (n, v) in &request.headers {
            if !is_hop_by_hop(n) {
                builder = builder.header(n.as_str(), v.as_ref());
            }
        }
        let req = match builder.body(Full::new(request.body)) {
            Ok(r) => r,
            Err(e) => {
                return Called {
                    response: HttpResponse::text(400, format!("bad request: {e}")),
                    outcome: Outcome::Success,
                }
            }
        };
        let max = self.config.max_response_bytes;
        let exchange = async {
            let resp = self
                .http
                .request(req)
                .await
                .map_err(|e| format!("replica {addr}: {e}"))?;
            let status = resp.status().as_u16();
            let headers: Vec<(String, Bytes)> = resp
                .headers()
                .iter()
                .filter(|(n, _)| !is_hop_by_hop(n.as_str()))
                .map(|(n, v)| (n.as_str().to_string(), Bytes::copy_from_slice(v.as_bytes())))
                .collect();
            let body = Limited::new(resp.into_body(), max)
                .collect()
                .await
                .map_err(|e| format!("replica {addr} body: {e}"))?
                .to_bytes();
            Ok::<_, String>(HttpResponse {
                status,
                headers,
                body,
            })
        };
        match tokio::time::timeout(budget, exchange).await {
            Err(_) => fail(
                504,
                format!("replica {addr} did not answer within {budget:?}"),
            ),
            Ok(Err(e)) => fail(502, e),
            Ok(Ok(response)) => Called {
                outcome: if response.status >= 500 {
                    Outcome::Failure
                } else {
                    Outcome::Success
                },
                response,
            },
        }
    }

    /// A response the gateway made itself (never cached).
    fn answer_now(&self, interest: &Interest, mut response: HttpResponse) -> Answer {
        response
            .headers
            .push(("cache-control".to_string(), Bytes::from_static(b"no-store")));
        let version = self.next_version();
        let name = if interest.can_be_prefix() {
            segment_name(interest.name(), version, 0)
        } else {
            interest.name().clone()
        };
        make_data(name, response.encode(), None, Some(0))
    }

    /// Segment 0 of `response`, keeping the rest for later segment Interests.
    fn answer(
        &self,
        service: &str,
        path: &str,
        interest: &Interest,
        response: HttpResponse,
    ) -> Answer {
        let freshness = freshness_ms(response.header("cache-control").map(|v| v.as_ref()));
        let content = response.encode();
        let version = self.next_version();
        let first = segment_name(interest.name(), version, 0);
        let chunk = picasso_tlv::MAX_PACKET_SIZE
            .saturating_sub(first.wire_len() + DATA_OVERHEAD)
            .max(MIN_CHUNK);
        if content.len() <= chunk {
            let name = if interest.can_be_prefix() {
                first
            } else {
                interest.name().clone()
            };
            return make_data(name, content, freshness, Some(0));
        }
        if !interest.can_be_prefix() {
            return self.answer_now(
                interest,
                HttpResponse::text(
                    502,
                    format!(
                        "the response is {} octets, more than one packet: express the Interest with CanBePrefix to fetch it by segment",
                        content.len()
                    ),
                ),
            );
        }
        let cached = CachedResponse {
            service: service.to_string(),
            path: path.to_string(),
            content,
            chunk,
            freshness_ms: freshness,
        };
        let final_segment = cached.final_segment();
        let seg0 = cached.segment(0).unwrap_or_default();
        lock(&self.state)
            .cache
            .insert(version, cached, Instant::now());
        make_data(first, seg0, freshness, Some(final_segment))
    }

    /// A fresh version number: microseconds since the epoch, strictly
    /// increasing within this gateway, with random low bits so two nodes'
    /// gateways hardly ever pick the same one.
    fn next_version(&self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        let candidate = (now << 8) | u64::from(rand::random::<u8>());
        let mut last = self.last_version.load(Ordering::Relaxed);
        loop {
            let v = candidate.max(last + 1);
            match self.last_version.compare_exchange_weak(
                last,
                v,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return v,
                Err(l) => last = l,
            }
        }
    }
}

/// A signed (DigestSha256) Data; uncacheable when `freshness_ms` is `None`.
fn make_data(
    name: Name,
    content: Bytes,
    freshness_ms: Option<u64>,
    final_segment: Option<u64>,
) -> Answer {
    let mut d = Data::new(name).with_content(content);
    if let Some(f) = freshness_ms {
        d = d.with_freshness_ms(f);
    }
    if let Some(last) = final_segment {
        d = d.with_final_block_id(Component::segment(last));
    }
    d.sign(&Signer::DigestSha256);
    match freshness_ms {
        Some(_) => Answer::Data(d),
        None => Answer::DataNoCache(d),
    }
}
