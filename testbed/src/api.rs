//! A small HTTP JSON client for the orchestrator's API and the nodes'
//! ingress (hyper, one connection pool).

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// An HTTP response read whole.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status.
    pub status: StatusCode,
    /// Body.
    pub body: Bytes,
    /// Time to the whole body.
    pub elapsed: Duration,
}

impl Response {
    /// The body as JSON.
    pub fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_slice(&self.body)
            .with_context(|| format!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// A client for one base URL (`http://127.0.0.1:7070`).
#[derive(Debug, Clone)]
pub struct Http {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl Http {
    /// A client for `base` with a per-request timeout.
    pub fn new(base: &str, timeout: Duration) -> Self {
        Http {
            base: base.trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            timeout,
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends one request.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> anyhow::Result<Response> {
        let url = format!("{}{path}", self.base);
        let mut req = Request::builder().method(method.clone()).uri(&url);
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req.body(Full::new(body.unwrap_or_default()))?;
        let t = Instant::now();
        let fut = async {
            let resp = self.client.request(req).await?;
            let status = resp.status();
            let body = resp.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| anyhow!("{method} {url}: no answer within {:?}", self.timeout))?
            .with_context(|| format!("{method} {url}"))?;
        Ok(Response {
            status,
            body,
            elapsed: t.elapsed(),
        })
    }

    /// GET `path` as JSON; a non-2xx status is an error with the body.
    pub async fn get_json(&self, path: &str) -> anyhow::Result<Value> {
        let r = self.request(Method::GET, path, None).await?;
        if !r.status.is_success() {
            bail!(
                "GET {path}: {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            );
        }
        r.json()
    }

    /// POST `body` as JSON to `path`; a non-2xx status is an error with the
    /// body (the API's reason).
    pub async fn post_json(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let r = self
            .request(Method::POST, path, Some(Bytes::from(body.to_string())))
            .await?;
        if !r.status.is_success() {
            bail!(
                "POST {path}: {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            );
        }
        if r.body.is_empty() {
            return Ok(Value::Null);
        }
        r.json()
    }
}
