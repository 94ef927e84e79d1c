//! The orchestrator's HTTP JSON API and its Prometheus `/metrics`
//! (hyper 1, HTTP/1.1).
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | GET | `/api/status[?decisions=N]` | | nodes, services, recent decisions, policy, commands |
//! | GET | `/api/nodes` | | every enrolled node: reachability, load, containers |
//! | GET | `/api/services` | | replicas per node, desired, in flight, QoS met with the measured figures |
//! | GET | `/api/decisions` | | recent decisions with reasons, oldest first |
//! | GET | `/api/repo` | | specs and images |
//! | POST | `/api/repo/specs` | a spec (JSON) | the stored spec |
//! | PUT | `/api/repo/images/<name>[?tag=T]` | a `docker save` archive | the signed manifest |
//! | DELETE | `/api/repo/images/<name>` | | |
//! | DELETE | `/api/repo/<service>` | | (its replicas are removed) |
//! | POST | `/api/deploy` | `{"service", "node"?}` | |
//! | POST | `/api/scale` | `{"service", "replicas"}` | |
//! | POST | `/api/policy` | `{"name"}` | |
//! | POST | `/api/nodes` | `{"id", "key": hex}` | |
//! | GET | `/metrics` | | Prometheus text |
//!
//! Refusals are JSON `{"error": "<field>: <reason>"}` with 400 (bad
//! input), 404 (no such service, image or path) or 405, 413, 500. An image
//! upload is streamed to a temp file beside its content address, hashed on
//! the way, fsynced and renamed ([`crate::repo::Repo::put_image`]); a
//! broken upload leaves nothing behind.

use std::convert::Infallible;
use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::server::{Inner, Refusal};

/// Largest JSON body accepted.
pub const MAX_JSON_BODY: usize = 1 << 20;
/// Prometheus text content type.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

type Resp = Response<Full<Bytes>>;

/// Serves the API on `listener` until `cancel`.
pub(crate) async fn serve(listener: TcpListener, inner: Arc<Inner>, cancel: CancellationToken) {
    loop {
        let stream = tokio::select! {
            _ = cancel.cancelled() => return,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "api: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let inner = inner.clone();
        let stop = cancel.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let inner = inner.clone();
                async move { Ok::<_, Infallible>(handle(&inner, req).await) }
            });
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.cancelled() => {}
            }
        });
    }
}

fn json_response(status: u16, v: &Value) -> Resp {
    let mut body = serde_json::to_vec_pretty(v).unwrap_or_default();
    body.push(b'\n');
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn refusal(r: &Refusal) -> Resp {
    json_response(r.status, &json!({ "error": r.reason }))
}

fn ok(v: Value) -> Result<Resp, Refusal> {
    Ok(json_response(200, &v))
}

async fn handle(inner: &Arc<Inner>, req: Request<Incoming>) -> Resp {
    inner.metrics.api_requests.fetch_add(1, Ordering::Relaxed);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    match route(inner, req).await {
        Ok(r) => r,
        Err(e) => {
            inner.metrics.api_errors.fetch_add(1, Ordering::Relaxed);
            tracing::info!(%method, %path, status = e.status, reason = %e.reason, "api: refused");
            refusal(&e)
        }
    }
}

/// `%XX` decoding of a path segment.
fn percent_decode(s: &str) -> Result<String, Refusal> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| Refusal::bad(format!("path: bad %-escape in {s:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Refusal::bad(format!("path: {s:?} is not UTF-8")))
}

fn query_param(req: &Request<Incoming>, key: &str) -> Result<Option<String>, Refusal> {
    let Some(q) = req.uri().query() else {
        return Ok(None);
    };
    for pair in q.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == key {
            return percent_decode(v).map(Some);
        }
    }
    Ok(None)
}

async fn json_body(req: Request<Incoming>) -> Result<Value, Refusal> {
    let body = Limited::new(req.into_body(), MAX_JSON_BODY)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                Refusal {
                    status: 413,
                    reason: format!("body: larger than {MAX_JSON_BODY} bytes"),
                }
            } else {
                Refusal::bad(format!("body: {e}"))
            }
        })?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|e| Refusal::bad(format!("body: not JSON: {e}")))
}

fn object(v: &Value) -> Result<&serde_json::Map<String, Value>, Refusal> {
    v.as_object()
        .ok_or_else(|| Refusal::bad(format!("body: {v} is not a JSON object")))
}

fn string_field(v: &Value, field: &str, required: bool) -> Result<Option<String>, Refusal> {
    match object(v)?.get(field) {
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(Refusal::bad(format!("{field}: missing"))),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
        Some(Value::String(_)) => Err(Refusal::bad(format!("{field}: empty"))),
        Some(other) => Err(Refusal::bad(format!("{field}: {other} is not a string"))),
    }
}

fn count_field(v: &Value, field: &str) -> Result<u32, Refusal> {
    let raw = object(v)?
        .get(field)
        .filter(|x| !x.is_null())
        .ok_or_else(|| Refusal::bad(format!("{field}: missing")))?;
    let n = match raw {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    n.and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| Refusal::bad(format!("{field}: {raw} is not a whole number ≥ 0")))
}

async fn route(inner: &Arc<Inner>, req: Request<Incoming>) -> Result<Resp, Refusal> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let not_found = || Refusal::not_found(format!("path: no {method} {path} (see /api/status)"));
    match (&method, path.as_str()) {
        (&Method::GET, "/metrics") => Ok(Response::builder()
            .header("content-type", METRICS_CONTENT_TYPE)
            .body(Full::new(Bytes::from(prometheus(inner))))
            .map_err(|e| Refusal::internal(e.to_string()))?),
        (&Method::GET, "/api/status") => {
            let n = match query_param(&req, "decisions")? {
                Some(s) => s
                    .parse::<usize>()
                    .map_err(|_| Refusal::bad(format!("decisions: {s:?} is not a number")))?,
                None => 20,
            };
            ok(inner.status_json(n))
        }
        (&Method::GET, "/api/nodes") => ok(inner.nodes_json(&inner.view())),
        (&Method::GET, "/api/services") => ok(inner.services_json(&inner.view())),
        (&Method::GET, "/api/decisions") => ok(serde_json::to_value(inner.decisions())
            .map_err(|e| Refusal::internal(e.to_string()))?),
        (&Method::GET, "/api/repo") => ok(inner.repo_json()),
        (&Method::POST, "/api/repo/specs") => {
            let body = Limited::new(req.into_body(), MAX_JSON_BODY)
                .collect()
                .await
                .map_err(|e| Refusal::bad(format!("body: {e}")))?
                .to_bytes();
            let repo = inner.repo.clone();
            let spec = tokio::task::spawn_blocking(move || repo.put_spec(&body))
                .await
                .map_err(|e| Refusal::internal(e.to_string()))??;
            tracing::info!(service = %spec.service_name, "spec stored");
            ok(json!({"stored": spec.service_name, "spec": spec}))
        }
        (&Method::PUT, p) if p.starts_with("/api/repo/images/") => {
            let name = percent_decode(&p["/api/repo/images/".len()..])?;
            let tag = query_param(&req, "tag")?;
            put_image(inner, name, tag, req.into_body()).await
        }
        (&Method::DELETE, p) if p.starts_with("/api/repo/images/") => {
            let name = percent_decode(&p["/api/repo/images/".len()..])?;
            inner.repo.remove_image(&name)?;
            tracing::info!(image = %name, "image removed");
            ok(json!({"removed": name}))
        }
        (&Method::DELETE, p) if p.starts_with("/api/repo/") => {
            let service = percent_decode(&p["/api/repo/".len()..])?;
            if service.is_empty() || service.contains('/') {
                return Err(not_found());
            }
            inner.remove_service(&service)?;
            tracing::info!(%service, "service removed");
            ok(json!({"removed": service}))
        }
        (&Method::POST, "/api/deploy") => {
            let v = json_body(req).await?;
            let service = string_field(&v, "service", true)?.unwrap_or_default();
            let node = string_field(&v, "node", false)?;
            inner.deploy(&service, node.as_deref())?;
            ok(json!({"service": service, "node": node}))
        }
        (&Method::POST, "/api/scale") => {
            let v = json_body(req).await?;
            let service = string_field(&v, "service", true)?.unwrap_or_default();
            let replicas = count_field(&v, "replicas")?;
            inner.scale(&service, replicas)?;
            ok(json!({"service": service, "replicas": replicas}))
        }
        (&Method::POST, "/api/policy") => {
            let v = json_body(req).await?;
            let name = string_field(&v, "name", true)?.unwrap_or_default();
            let name = inner.set_policy(&name)?;
            ok(json!({"policy": name}))
        }
        (&Method::POST, "/api/nodes") => {
            let v = json_body(req).await?;
            let id = string_field(&v, "id", true)?.unwrap_or_default();
            let key = string_field(&v, "key", true)?.unwrap_or_default();
            inner.enroll(&id, &key)?;
            ok(json!({"enrolled": id}))
        }
        (_, p)
            if [
                "/metrics",
                "/api/status",
                "/api/nodes",
                "/api/services",
                "/api/decisions",
                "/api/repo",
                "/api/repo/specs",
                "/api/deploy",
                "/api/scale",
                "/api/policy",
            ]
            .contains(&p) =>
        {
            Err(Refusal {
                status: 405,
                reason: format!("method: {method} is not allowed on {p}"),
            })
        }
        _ => Err(not_found()),
    }
}

/// A blocking reader over the chunks of a streamed body.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

async fn put_image(
    inner: &Arc<Inner>,
    name: String,
    tag: Option<String>,
    mut body: Incoming,
) -> Result<Resp, Refusal> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let repo = inner.repo.clone();
    let (n, t) = (name.clone(), tag.clone());
    let writer = tokio::task::spawn_blocking(move || {
        let mut reader = ChannelReader {
            rx,
            current: Bytes::new(),
        };
        repo.put_image(&n, t.as_deref(), &mut reader)
    });
    let mut bytes = 0u64;
    loop {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    bytes += data.len() as u64;
                    if tx.send(Ok(data)).await.is_err() {
                        break;
                    }
                }
            }
            Some(Err(e)) => {
                let _ = tx
                    .send(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("upload broken after {bytes} bytes: {e}"),
                    )))
                    .await;
                break;
            }
        }
    }
    drop(tx);
    let manifest = writer
        .await
        .map_err(|e| Refusal::internal(e.to_string()))??;
    tracing::info!(image = %name, size = manifest.size, sha256 = %manifest.sha256, "image stored");
    ok(json!({
        "stored": name,
        "tag": tag,
        "sha256": manifest.sha256,
        "size": manifest.size,
        "version": manifest.version,
        "segments": manifest.segments,
    }))
}

/// Escapes a Prometheus label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The `/metrics` text.
pub(crate) fn prometheus(inner: &Inner) -> String {
    use std::fmt::Write;
    let m = &inner.metrics;
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, lines: Vec<(String, f64)>| {
        let _ = writeln!(out, "# HELP picasso_orchestrator_{name} {help}");
        let _ = writeln!(out, "# TYPE picasso_orchestrator_{name} {kind}");
        for (labels, v) in lines {
            let _ = writeln!(out, "picasso_orchestrator_{name}{labels} {v}");
        }
    };
    let one = |v: f64| vec![(String::new(), v)];
    let ld = |v: u64| v as f64;
    metric(
        "ticks_total",
        "counter",
        "Engine ticks run.",
        one(ld(m.ticks.load(Ordering::Relaxed))),
    );
    metric(
        "ticks_planned_total",
        "counter",
        "Ticks that planned (the view had settled).",
        one(ld(m.ticks_planned.load(Ordering::Relaxed))),
    );
    metric(
        "tick_duration_seconds_sum",
        "counter",
        "Time spent in ticks, seconds.",
        one(m.tick_ns_total.load(Ordering::Relaxed) as f64 / 1e9),
    );
    metric(
        "tick_duration_seconds_last",
        "gauge",
        "Duration of the last tick, seconds.",
        one(m.tick_ns_last.load(Ordering::Relaxed) as f64 / 1e9),
    );
    let decisions: Vec<(String, f64)> = {
        let d = m.decisions.lock().unwrap_or_else(|e| e.into_inner());
        ["deploy", "remove", "hold"]
            .iter()
            .map(|a| {
                (
                    format!("{{action=\"{a}\"}}"),
                    d.get(*a).copied().unwrap_or(0) as f64,
                )
            })
            .collect()
    };
    metric(
        "decisions_total",
        "counter",
        "Decisions by action.",
        decisions,
    );
    let view = inner.view();
    let reachable = view.nodes.values().filter(|n| n.reachable).count();
    metric(
        "nodes",
        "gauge",
        "Enrolled nodes by reachability.",
        vec![
            ("{state=\"reachable\"}".to_owned(), reachable as f64),
            (
                "{state=\"unreachable\"}".to_owned(),
                (view.nodes.len() - reachable) as f64,
            ),
        ],
    );
    let specs = inner.effective_specs();
    let mut replicas = Vec::new();
    let mut qos = Vec::new();
    let mut names: Vec<&String> = specs.keys().collect();
    for s in view.services.keys() {
        if !specs.contains_key(s) {
            names.push(s);
        }
    }
    for s in names {
        let n = view.services.get(s).map_or(0, |v| v.replicas.len());
        replicas.push((format!("{{service=\"{}\"}}", label(s)), n as f64));
        if let Some(spec) = specs.get(s) {
            let q = crate::server::qos_report(&view, spec, &inner.engine_config);
            qos.push((
                format!("{{service=\"{}\"}}", label(s)),
                if q.met { 1.0 } else { 0.0 },
            ));
        }
    }
    metric(
        "replicas",
        "gauge",
        "Running replicas per service on reachable nodes.",
        replicas,
    );
    metric(
        "qos_met",
        "gauge",
        "1 when the service's measured QoS meets its spec.",
        qos,
    );
    let c = inner.monitoring.counters();
    metric(
        "monitoring_polls_total",
        "counter",
        "Monitoring polls by outcome.",
        vec![
            ("{outcome=\"answered\"}".to_owned(), ld(c.answered)),
            ("{outcome=\"timeout\"}".to_owned(), ld(c.timeouts)),
            ("{outcome=\"nack\"}".to_owned(), ld(c.nacks)),
            ("{outcome=\"forged\"}".to_owned(), ld(c.forged)),
            ("{outcome=\"malformed\"}".to_owned(), ld(c.malformed)),
        ],
    );
    metric(
        "monitoring_rounds_total",
        "counter",
        "Monitoring rounds.",
        one(ld(c.rounds)),
    );
    let d = inner.deployer.counters();
    metric(
        "commands_total",
        "counter",
        "Deployer commands by result.",
        vec![
            ("{result=\"ok\"}".to_owned(), ld(d.ok)),
            (
                "{result=\"failed\"}".to_owned(),
                ld(d.failed - d.unreachable),
            ),
            ("{result=\"unreachable\"}".to_owned(), ld(d.unreachable)),
        ],
    );
    metric(
        "command_retries_total",
        "counter",
        "Commands sent again after a failure.",
        one(ld(d.retries)),
    );
    metric(
        "commands_in_flight",
        "gauge",
        "Commands sent and not answered.",
        one(inner.deployer.commands_in_flight().len() as f64),
    );
    metric(
        "unserved_requests_total",
        "counter",
        "Requests that reached the orchestrator for a service that runs nowhere.",
        one(ld(m.unserved_requests.load(Ordering::Relaxed))),
    );
    metric(
        "api_requests_total",
        "counter",
        "API requests, and of them refused.",
        vec![
            (
                "{result=\"all\"}".to_owned(),
                ld(m.api_requests.load(Ordering::Relaxed)),
            ),
            (
                "{result=\"refused\"}".to_owned(),
                ld(m.api_errors.load(Ordering::Relaxed)),
            ),
        ],
    );
    out
}
