//! NDN load: every request is an Interest for the service name, as the
//! HTTP ingress sends it (CanBePrefix, MustBeFresh, ApplicationParameters
//! = a `GET` [`HttpRequest`]) with a Nonce element unique to the run and
//! the request, so each request has its own name (its
//! ParametersSha256DigestComponent): no PIT aggregation and no content
//! store can answer one request with another's Data. A segmented answer
//! is fetched whole (segments 1… pipelined, `segment_window` at a time)
//! and its joined content read as an [`HttpResponse`]: 2xx is a success,
//! other statuses fail by class, a Nack by its reason.

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use picasso_forwarder::app::{Client, ExpressError};
use picasso_tlv::lp::NackReason;
use picasso_tlv::{Component, Data, Interest, Name};

use super::{invalid, run, FailureKind, Load, LoadgenError, Outcome, Report, User};
use crate::gateway::message::{HttpRequest, HttpResponse};
use crate::gateway::naming::segments_base;

/// An NDN load.
#[derive(Debug, Clone)]
pub struct NdnConfig {
    /// The request name, `/<root>/svc/<service>/<path…>`.
    pub name: Name,
    /// Segment Interests in flight at once per request.
    pub segment_window: usize,
    /// Largest answer accepted (a larger one is a `badResponse`).
    pub max_response_bytes: usize,
    /// How much load; `timeout` is also each Interest's lifetime.
    pub load: Load,
}

impl NdnConfig {
    /// A load on `name` with the ingress's segment window and size limit.
    pub fn new(name: Name, load: Load) -> Self {
        Self {
            name,
            segment_window: 16,
            max_response_bytes: 256 << 20,
            load,
        }
    }
}

/// Runs an NDN load through `client`'s forwarder (all users share the
/// face, as the users of one ingress do) and reports on it.
pub async fn ndn(client: &Client, config: &NdnConfig) -> Result<Report, LoadgenError> {
    config.load.validate()?;
    if config.segment_window == 0 {
        return Err(invalid("segmentWindow", "must be at least 1"));
    }
    if config.name.is_empty() {
        return Err(invalid("name", "must not be empty"));
    }
    let run_id: u64 = rand::random();
    let lifetime_ms = u64::try_from(config.load.timeout.as_millis()).unwrap_or(u64::MAX);
    Ok(
        run(&config.load, "ndn", config.name.to_string(), || NdnUser {
            client: client.clone(),
            name: config.name.clone(),
            run_id,
            lifetime_ms,
            window: config.segment_window,
            max_bytes: config.max_response_bytes,
        })
        .await,
    )
}

fn kind_of(e: &ExpressError) -> FailureKind {
    match e {
        ExpressError::Nack(code) => match NackReason::from_code(*code) {
            NackReason::Congestion => FailureKind::NackCongestion,
            NackReason::Duplicate => FailureKind::NackDuplicate,
            NackReason::NoRoute => FailureKind::NackNoRoute,
            NackReason::Other(_) => FailureKind::NackOther,
        },
        ExpressError::Timeout => FailureKind::Timeout,
        ExpressError::Closed => FailureKind::Connection,
    }
}

/// One user; its requests share the run's face.
struct NdnUser {
    client: Client,
    name: Name,
    run_id: u64,
    lifetime_ms: u64,
    window: usize,
    max_bytes: usize,
}

impl NdnUser {
    async fn send(&self, i: u64) -> Outcome {
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&self.run_id.to_be_bytes());
        nonce[8..].copy_from_slice(&i.to_be_bytes());
        let params = HttpRequest {
            method: "GET".into(),
            nonce: Bytes::copy_from_slice(&nonce),
            ..HttpRequest::default()
        }
        .encode();
        let interest = Interest::new(self.name.clone())
            .with_can_be_prefix(true)
            .with_must_be_fresh(true)
            .with_lifetime_ms(self.lifetime_ms)
            .with_app_params(params);
        let first = match self.client.express(interest).await {
            Ok(d) => d,
            Err(e) => return Outcome::failed(kind_of(&e)),
        };
        let content = match self.reassemble(first).await {
            Ok(c) => c,
            Err(kind) => return Outcome::failed(kind),
        };
        match HttpResponse::decode(content) {
            Ok(r) => Outcome::of_status(r.status, r.body.len() as u64),
            Err(_) => Outcome::failed(FailureKind::BadResponse),
        }
    }

    /// The joined content of every segment, starting from segment 0 (a
    /// Data whose name does not end in segment 0 is the whole answer).
    async fn reassemble(&self, first: Data) -> Result<Bytes, FailureKind> {
        let is_first_segment = first.name().last().and_then(|c| c.as_segment()) == Some(0);
        let last = first
            .final_block_id()
            .and_then(|c| c.as_segment())
            .unwrap_or(0);
        if !is_first_segment || last == 0 {
            return Ok(first.content());
        }
        let chunk = first.content().len().max(1) as u64;
        if last.saturating_add(1).saturating_mul(chunk) > self.max_bytes as u64 {
            return Err(FailureKind::BadResponse);
        }
        let base = segments_base(first.name());
        let mut out = BytesMut::with_capacity(((last + 1) * chunk) as usize);
        out.extend_from_slice(&first.content());
        let mut segments = futures_util::stream::iter(1..=last)
            .map(|s| {
                self.client.express(
                    Interest::new(base.append(&Component::segment(s)))
                        .with_must_be_fresh(true)
                        .with_lifetime_ms(self.lifetime_ms),
                )
            })
            .buffered(self.window);
        while let Some(r) = segments.next().await {
            match r {
                Ok(d) => out.extend_from_slice(&d.content()),
                Err(e) => return Err(kind_of(&e)),
            }
        }
        Ok(out.freeze())
    }
}

impl User for NdnUser {
    fn request(&mut self, i: u64) -> impl std::future::Future<Output = Outcome> + Send {
        // The future only reads the user; `&*self` keeps it that way.
        let me: &Self = self;
        me.send(i)
    }
}
