//! The HTTP ingress: an HTTP/1.1 server on every node (default port 8080)
//! that turns `METHOD /<service>/<path…>?<query>` into an Interest for
//! `/<root>/svc/<service>/<path…>` and the Data that comes back into the
//! HTTP response, wherever the forwarder found the service.
//!
//! Owns: the listening socket, the connections (keep-alive, one task
//! each), the translation in both directions and the fetching of the
//! remaining segments of a large response. Does not own: where the
//! request is served (the forwarder's strategy) or the formats (shared
//! with the gateway, [`crate::gateway::message`] and
//! [`crate::gateway::naming`]).
//!
//! ```text
//! HTTP client ─► Ingress ─► Interest …/svc/S/a/b/<digest>  (CanBePrefix, MustBeFresh,
//!                  ▲           ApplicationParameters = HttpRequest)
//!                  │        ◄─ Data …/v=V/seg=0, FinalBlockId = k
//!                  │        ─► Interests …/v=V/seg=1..k, a window at a time
//!                  └─ HttpResponse (status, headers incl. Cache-Control, body)
//! ```
//!
//! Every request carries ApplicationParameters (method, query, end-to-end
//! headers, body, and a nonce unless the method is safe), so its name ends
//! in a digest of the whole request: a content store can only answer it
//! with the response to an identical safe request, and only while fresh (MustBeFresh; responses the service
//! marked uncacheable have no FreshnessPeriod and are never served from a
//! store). A request body must fit in one Interest
//! (`max_request_body`, 413 beyond). Errors: Nack(NoRoute) or
//! Nack(Congestion) → 503 with the reason in the body, no Data in time
//! → 504, an unreadable Data → 502.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use picasso_forwarder::app::{Client, ExpressError};
use picasso_tlv::lp::NackReason;
use picasso_tlv::{Component, Data, Interest, Name};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::gateway::message::{is_hop_by_hop, HttpRequest, HttpResponse};
use crate::gateway::naming::{request_name, segments_base};

/// The ingress's default port.
pub const DEFAULT_PORT: u16 = 8080;

/// How an ingress behaves.
#[derive(Debug, Clone)]
pub struct IngressConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The name root (`/picasso`).
    pub root: Name,
    /// Interest lifetime of each request and segment Interest.
    pub lifetime: Duration,
    /// Largest request body (it must fit in one Interest).
    pub max_request_body: usize,
    /// Segment Interests in flight at once while reassembling.
    pub segment_window: usize,
    /// Largest reassembled response.
    pub max_response_bytes: usize,
    /// Open-file limit to raise the soft limit to at startup (capped by the
    /// hard limit), so many connections can be held.
    pub nofile: u64,
}

impl Default for IngressConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)),
            root: Name::from_uri("/picasso").unwrap_or_default(),
            lifetime: Duration::from_secs(4),
            max_request_body: 7 * 1024,
            segment_window: 16,
            max_response_bytes: 256 << 20,
            nofile: 65_536,
        }
    }
}

/// Why the ingress could not start.
#[derive(Debug, thiserror::Error)]
pub enum IngressError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// A bound HTTP ingress, ready to [`run`](Ingress::run).
#[derive(Debug)]
pub struct Ingress {
    listener: TcpListener,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    client: Client,
    config: IngressConfig,
}

impl Ingress {
    /// Raises the open-files limit and binds `config.listen`.
    pub async fn bind(client: Client, config: IngressConfig) -> Result<Self, IngressError> {
        match rlimit::increase_nofile_limit(config.nofile) {
            Ok(n) => tracing::debug!(nofile = n, "ingress: open-files limit"),
            Err(e) => tracing::warn!(error = %e, "ingress: cannot raise the open-files limit"),
        }
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| IngressError::Bind {
                    addr: config.listen,
                    source,
                })?;
        Ok(Self {
            listener,
            shared: Arc::new(Shared { client, config }),
        })
    }

    /// The address it listens on (the port chosen when 0 was asked for).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves connections until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let (stream, _peer) = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = self.listener.accept() => match r {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of descriptors and the like: back off, go on.
                        tracing::warn!(error = %e, "ingress: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let shared = self.shared.clone();
            let stop = shutdown.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let shared = shared.clone();
                    async move { Ok::<_, std::convert::Infallible>(shared.serve(req).await) }
                });
                let conn = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), svc);
                tokio::pin!(conn);
                tokio::select! {
                    _ = conn.as_mut() => {}
                    _ = stop.cancelled() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
            });
        }
    }
}

fn reply(status: u16, text: String) -> hyper::Response<Full<Bytes>> {
    to_http(HttpResponse::text(status, text))
}

fn to_http(resp: HttpResponse) -> hyper::Response<Full<Bytes>> {
    let mut b = hyper::Response::builder().status(resp.status);
    for (n, v) in &resp.headers {
        if !is_hop_by_hop(n) {
            b = b.header(n.as_str(), v.as_ref());
        }
    }
    b.body(Full::new(resp.body)).unwrap_or_else(|e| {
        let mut r = hyper::Response::new(Full::new(Bytes::from(format!(
            "the service's response has an invalid head: {e}"
        ))));
        *r.status_mut() = hyper::StatusCode::BAD_GATEWAY;
        r
    })
}

fn express_error(service: &str, e: &ExpressError) -> hyper::Response<Full<Bytes>> {
    match e {
        ExpressError::Nack(code) => match NackReason::from_code(*code) {
            NackReason::Congestion => reply(
                503,
                format!("service {service:?}: every replica that was tried is at capacity (Nack Congestion)\n"),
            ),
            NackReason::NoRoute => reply(
                503,
                format!("service {service:?}: no route, no node serves it (Nack NoRoute)\n"),
            ),
            other => reply(503, format!("service {service:?}: Nack {other:?}\n")),
        },
        ExpressError::Timeout => reply(504, format!("service {service:?}: no answer in time\n")),
        ExpressError::Closed => reply(502, "the face to the forwarder is closed\n".to_string()),
    }
}

impl Shared {
    async fn serve(&self, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or("").to_string();
        let rest = path.strip_prefix('/').unwrap_or(&path);
        let (service, svc_path) = match rest.split_once('/') {
            Some((s, p)) => (s.to_string(), format!("/{p}")),
            None => (rest.to_string(), "/".to_string()),
        };
        if service.is_empty() {
            return reply(404, "use /<service>/<path>\n".to_string());
        }
        let method = req.method().as_str().to_string();
        let headers: Vec<(String, Bytes)> = req
            .headers()
            .iter()
            .filter(|(n, _)| !is_hop_by_hop(n.as_str()))
            .map(|(n, v)| (n.as_str().to_string(), Bytes::copy_from_slice(v.as_bytes())))
            .collect();
        let max = self.config.max_request_body;
        let body = match Limited::new(req.into_body(), max).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return reply(
                    413,
                    format!(
                        "request body larger than {max} octets (it must fit in one Interest)\n"
                    ),
                )
            }
        };
        let nonce = match method.as_str() {
            "GET" | "HEAD" | "OPTIONS" => Bytes::new(),
            _ => Bytes::copy_from_slice(&rand::random::<u64>().to_be_bytes()),
        };
        let params = HttpRequest {
            method,
            query,
            headers,
            body,
            nonce,
        }
        .encode();
        let name = request_name(&self.config.root, &service, &svc_path);
        let lifetime = self.config.lifetime.as_millis() as u64;
        let interest = Interest::new(name)
            .with_can_be_prefix(true)
            .with_must_be_fresh(true)
            .with_lifetime_ms(lifetime)
            .with_app_params(params);
        let first = match self.client.express(interest).await {
            Ok(d) => d,
            Err(e) => return express_error(&service, &e),
        };
        let content = match self.reassemble(first).await {
            Ok(c) => c,
            Err(Fetch::Express(e)) => return express_error(&service, &e),
            Err(Fetch::TooLarge) => {
                return reply(
                    502,
                    format!(
                        "response larger than {} octets\n",
                        self.config.max_response_bytes
                    ),
                )
            }
        };
        match HttpResponse::decode(content) {
            Ok(r) => to_http(r),
            Err(e) => reply(502, format!("unreadable response from {service:?}: {e}\n")),
        }
    }

    /// The joined content of every segment, starting from segment 0.
    async fn reassemble(&self, first: Data) -> Result<Bytes, Fetch> {
        let last_is_segment = first.name().last().and_then(|c| c.as_segment());
        let final_seg = first
            .final_block_id()
            .and_then(|c| c.as_segment())
            .unwrap_or(0);
        if last_is_segment != Some(0) || final_seg == 0 {
            return Ok(first.content());
        }
        let chunk = first.content().len().max(1) as u64;
        if final_seg.saturating_add(1).saturating_mul(chunk) > self.config.max_response_bytes as u64
        {
            return Err(Fetch::TooLarge);
        }
        let base = segments_base(first.name());
        let lifetime = self.config.lifetime.as_millis() as u64;
        let window = Arc::new(Semaphore::new(self.config.segment_window.max(1)));
        let mut fetches = tokio::task::JoinSet::new();
        for seg in 1..=final_seg {
            let client = self.client.clone();
            let name = base.append(&Component::segment(seg));
            let window = window.clone();
            fetches.spawn(async move {
                let _permit = window.acquire_owned().await;
                let i = Interest::new(name)
                    .with_must_be_fresh(true)
                    .with_lifetime_ms(lifetime);
                (seg, client.express(i).await)
            });
        }
        let mut parts: Vec<Option<Bytes>> = vec![None; final_seg as usize];
        while let Some(r) = fetches.join_next().await {
            let Ok((seg, res)) = r else {
                return Err(Fetch::Express(ExpressError::Closed));
            };
            match res {
                Ok(d) => parts[(seg - 1) as usize] = Some(d.content()),
                Err(e) => {
                    fetches.abort_all();
                    return Err(Fetch::Express(e));
                }
            }
        }
        let mut out = BytesMut::with_capacity((final_seg as usize + 1) * chunk as usize);
        out.extend_from_slice(&first.content());
        for p in parts.into_iter().flatten() {
            out.extend_from_slice(&p);
        }
        Ok(out.freeze())
    }
}

enum Fetch {
    Express(ExpressError),
    TooLarge,
}
