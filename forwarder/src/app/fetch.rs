//! Pipelined fetching of a segmented, versioned object (as ndncatchunks):
//! discovery with one CanBePrefix + MustBeFresh Interest for the prefix,
//! then segments `<prefix>/v=<ver>/seg=<n>` under an AIMD congestion
//! window (slow start, additive increase per Data, halved at most once per
//! RTT on a timeout or a Nack(Congestion)), with lost segments retransmitted
//! a bounded number of times. Segments are handed out in order as they
//! complete, so `picasso get` streams and the agent can hash as it goes.
//!
//! It does not own the transport (a [`Client`]) nor what is done with the
//! bytes (the `sink`).

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use picasso_tlv::lp::NackReason;
use picasso_tlv::{Component, Data, Interest, Name, Verifier};
use tokio::task::JoinSet;

use super::{Client, ExpressError};

/// Settings of a fetch.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Interest lifetime ceiling (the retransmission timeout never exceeds it).
    pub lifetime: Duration,
    /// Retransmissions allowed per segment before the fetch fails.
    pub max_retries: u32,
    /// Initial congestion window, in segments.
    pub initial_cwnd: f64,
    /// Congestion window ceiling.
    pub max_cwnd: f64,
    /// When set, every segment's signature is checked with it.
    pub verifier: Option<Verifier>,
    /// Largest object accepted, in segments (bounds memory and loops).
    pub max_segments: u64,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            lifetime: Duration::from_secs(4),
            max_retries: 15,
            initial_cwnd: 2.0,
            max_cwnd: 256.0,
            verifier: None,
            max_segments: 10_000_000,
        }
    }
}

/// Why a fetch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Discovery got no Data.
    #[error("discovery of {name} failed: {source}")]
    Discovery {
        /// The prefix.
        name: Name,
        /// Why.
        source: ExpressError,
    },
    /// A segment failed more often than allowed.
    #[error("segment {segment} failed after {retries} retries: {source}")]
    Segment {
        /// The segment number.
        segment: u64,
        /// Retransmissions made.
        retries: u32,
        /// The last failure.
        source: ExpressError,
    },
    /// A segment's signature did not verify.
    #[error("segment {segment} has a bad signature")]
    BadSignature {
        /// The segment number.
        segment: u64,
    },
    /// The Data names are not `<prefix>/v=<ver>/seg=<n>`.
    #[error("{0} is not a versioned segment name")]
    NotSegmented(Name),
    /// The object is larger than allowed.
    #[error("object has {0} segments, more than allowed")]
    TooLarge(u64),
    /// The producer answered with an application-level Nack (ContentType
    /// NACK): it has no such object. Its signature was checked when a
    /// verifier was given.
    #[error("{name} refused: {reason}")]
    Refused {
        /// The Nack's name.
        name: Name,
        /// Its content as text (its `error` field when it is JSON with one).
        reason: String,
    },
}

/// The [`FetchError::Refused`] for an application-level Nack, after its
/// signature is checked.
fn refused(options: &FetchOptions, d: &Data, segment: u64) -> FetchError {
    if let Err(e) = verify(options, d, segment) {
        return e;
    }
    let content = d.content();
    let reason = serde_json::from_slice::<serde_json::Value>(&content)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&content).into_owned());
    FetchError::Refused {
        name: d.name().clone(),
        reason,
    }
}

fn is_app_nack(d: &Data) -> bool {
    d.content_type() == Some(picasso_tlv::data::content_type::NACK)
}

/// What a fetch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchStats {
    /// The versioned name (`<prefix>/v=<ver>`).
    pub versioned_name: Name,
    /// Segments received.
    pub segments: u64,
    /// Content bytes delivered.
    pub bytes: u64,
    /// Interests retransmitted.
    pub retransmissions: u64,
    /// Timeouts seen.
    pub timeouts: u64,
    /// Nacks seen.
    pub nacks: u64,
    /// Window decreases.
    pub decreases: u64,
}

/// Round-trip estimator (RFC 6298).
#[derive(Debug)]
struct Rtt {
    srtt: Option<Duration>,
    rttvar: Duration,
}

impl Rtt {
    fn sample(&mut self, r: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(s) => {
                let diff = s.abs_diff(r);
                self.rttvar = (self.rttvar * 3 + diff) / 4;
                self.srtt = Some((s * 7 + r) / 8);
            }
        }
    }

    fn rto(&self, ceiling: Duration) -> Duration {
        let rto = match self.srtt {
            None => Duration::from_secs(1),
            Some(s) => s + (self.rttvar * 4).max(Duration::from_millis(10)),
        };
        rto.clamp(
            Duration::from_millis(200),
            ceiling.max(Duration::from_millis(200)),
        )
    }

    fn srtt(&self) -> Duration {
        self.srtt.unwrap_or(Duration::from_millis(100))
    }
}

/// Fetches the newest version under `prefix` and returns its content.
pub async fn fetch(
    client: &Client,
    prefix: &Name,
    options: &FetchOptions,
) -> Result<(Bytes, FetchStats), FetchError> {
    let mut out = BytesMut::new();
    let stats = fetch_with(client, prefix, options, |b| out.extend_from_slice(&b)).await?;
    Ok((out.freeze(), stats))
}

fn verify(options: &FetchOptions, d: &Data, segment: u64) -> Result<(), FetchError> {
    match &options.verifier {
        Some(v) => d
            .verify(v)
            .map_err(|_| FetchError::BadSignature { segment }),
        None => Ok(()),
    }
}

/// Fetches the newest version under `prefix`, handing each segment's
/// content to `sink` in order; returns what it did.
pub async fn fetch_with(
    client: &Client,
    prefix: &Name,
    options: &FetchOptions,
    mut sink: impl FnMut(Bytes),
) -> Result<FetchStats, FetchError> {
    // Discovery: segment 0 of the newest version.
    let mut discovery_retries = 0;
    let first = loop {
        let i = Interest::new(prefix.clone())
            .with_can_be_prefix(true)
            .with_must_be_fresh(true)
            .with_lifetime_ms(options.lifetime.as_millis() as u64);
        match client.express(i).await {
            Ok(d) => break d,
            Err(e) if discovery_retries < options.max_retries.min(3) => {
                tracing::debug!(%prefix, error = %e, "discovery retry");
                discovery_retries += 1;
            }
            Err(source) => {
                return Err(FetchError::Discovery {
                    name: prefix.clone(),
                    source,
                })
            }
        }
    };
    if is_app_nack(&first) {
        return Err(refused(options, &first, 0));
    }
    let name = first.name().clone();
    let seg_at = name.len().saturating_sub(1);
    let first_seg = name.get(seg_at).and_then(|c| c.as_segment());
    let version = name
        .get(seg_at.saturating_sub(1))
        .and_then(|c| c.as_version());
    let (Some(first_seg), Some(_)) = (first_seg, version) else {
        return Err(FetchError::NotSegmented(name));
    };
    let base = name.prefix(seg_at);
    let mut stats = FetchStats {
        versioned_name: base.clone(),
        ..FetchStats::default()
    };
    verify(options, &first, first_seg)?;
    let mut last: Option<u64> = first.final_block_id().and_then(Component::as_segment);

    let mut received: BTreeMap<u64, Bytes> = BTreeMap::new();
    received.insert(first_seg, first.content());
    stats.segments = 1;
    let mut next_deliver = 0u64;
    let mut next_new = 0u64;
    let mut retries: BTreeMap<u64, u32> = BTreeMap::new();
    let mut retx: VecDeque<u64> = VecDeque::new();
    let mut cwnd = options.initial_cwnd.max(1.0);
    let mut ssthresh = options.max_cwnd;
    let mut rtt = Rtt {
        srtt: None,
        rttvar: Duration::ZERO,
    };
    let mut last_decrease = Instant::now() - Duration::from_secs(3600);
    let mut in_flight: JoinSet<(u64, Instant, bool, Result<Data, ExpressError>)> = JoinSet::new();
    let mut pending: std::collections::HashSet<u64> = std::collections::HashSet::new();

    loop {
        // Deliver what is contiguous.
        while let Some(b) = received.remove(&next_deliver) {
            stats.bytes += b.len() as u64;
            sink(b);
            next_deliver += 1;
        }
        if let Some(l) = last {
            if l >= options.max_segments {
                return Err(FetchError::TooLarge(l + 1));
            }
            if next_deliver > l {
                return Ok(stats);
            }
        }
        // Fill the window: retransmissions first.
        while (in_flight.len() as f64) < cwnd.floor().max(1.0) {
            let seg = if let Some(s) = retx.pop_front() {
                s
            } else {
                while next_new == first_seg || pending.contains(&next_new) {
                    next_new += 1;
                }
                match last {
                    Some(l) if next_new > l => break,
                    // Unknown end: probe at most one window ahead.
                    None if next_new > next_deliver + cwnd as u64 => break,
                    _ => {}
                }
                if next_new >= options.max_segments {
                    return Err(FetchError::TooLarge(next_new + 1));
                }
                let s = next_new;
                next_new += 1;
                s
            };
            if received.contains_key(&seg) || seg < next_deliver || pending.contains(&seg) {
                continue;
            }
            let is_retx = retries.get(&seg).copied().unwrap_or(0) > 0;
            let lifetime = rtt.rto(options.lifetime);
            let c = client.clone();
            let n = base.append(&Component::segment(seg));
            pending.insert(seg);
            in_flight.spawn(async move {
                let sent = Instant::now();
                let i = Interest::new(n).with_lifetime_ms(lifetime.as_millis() as u64);
                (seg, sent, is_retx, c.express(i).await)
            });
        }
        let Some(joined) = in_flight.join_next().await else {
            // Nothing in flight and nothing to send: the end is unknown and
            // every probed segment arrived without a FinalBlockId.
            if last.is_none() {
                last = Some(next_deliver.saturating_sub(1));
                continue;
            }
            return Ok(stats);
        };
        let Ok((seg, sent, is_retx, result)) = joined else {
            continue;
        };
        pending.remove(&seg);
        let now = Instant::now();
        match result {
            Ok(d) => {
                if is_app_nack(&d) {
                    return Err(refused(options, &d, seg));
                }
                verify(options, &d, seg)?;
                // Karn: no RTT samples from retransmitted segments.
                if !is_retx {
                    rtt.sample(now - sent);
                }
                if let Some(l) = d.final_block_id().and_then(Component::as_segment) {
                    last = Some(l);
                }
                if seg >= next_deliver {
                    received.insert(seg, d.content());
                    stats.segments += 1;
                }
                if cwnd < ssthresh {
                    cwnd += 1.0;
                } else {
                    cwnd += 1.0 / cwnd;
                }
                cwnd = cwnd.min(options.max_cwnd);
            }
            Err(e) => {
                let congestion = match e {
                    ExpressError::Timeout => {
                        stats.timeouts += 1;
                        true
                    }
                    ExpressError::Nack(r) => {
                        stats.nacks += 1;
                        r == NackReason::Congestion.code()
                    }
                    ExpressError::Closed => {
                        return Err(FetchError::Segment {
                            segment: seg,
                            retries: retries.get(&seg).copied().unwrap_or(0),
                            source: e,
                        })
                    }
                };
                if congestion && now.duration_since(last_decrease) >= rtt.srtt() {
                    ssthresh = (cwnd / 2.0).max(2.0);
                    cwnd = ssthresh;
                    last_decrease = now;
                    stats.decreases += 1;
                }
                let r = retries.entry(seg).or_insert(0);
                *r += 1;
                if *r > options.max_retries {
                    return Err(FetchError::Segment {
                        segment: seg,
                        retries: *r - 1,
                        source: e,
                    });
                }
                if !congestion {
                    // Other Nacks (NoRoute, Duplicate): back off a little.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                stats.retransmissions += 1;
                retx.push_back(seg);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::publish::Publication;

    async fn pair() -> (Client, Client, crate::runtime::ForwarderHandle) {
        let (h, _) = crate::runtime::spawn(Default::default());
        let a = Client::from_app_face(crate::face::in_process::connect(&h).await.unwrap());
        let b = Client::from_app_face(crate::face::in_process::connect(&h).await.unwrap());
        (a, b, h)
    }

    #[tokio::test]
    async fn fetches_a_published_object_in_order_and_verified() {
        let (producer, consumer, _h) = pair().await;
        let content: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let name = Name::from_uri("/test/obj").unwrap();
        let signer = picasso_tlv::Signer::ed25519_generate(Name::from_uri("/key").unwrap());
        let p = std::sync::Arc::new(Publication::new(&name, 12345, &content, 8000, &signer));
        assert_eq!(p.segment_count(), 13);
        p.serve(&producer).await.unwrap();
        let options = FetchOptions {
            verifier: Some(signer.verifier()),
            ..FetchOptions::default()
        };
        let (got, stats) = fetch(&consumer, &name, &options).await.unwrap();
        assert_eq!(&got[..], &content[..]);
        assert_eq!(stats.segments, 13);
        assert_eq!(stats.versioned_name.len(), 3);
        // A wrong key is refused.
        let other = picasso_tlv::Signer::ed25519_generate(Name::from_uri("/k2").unwrap());
        let options = FetchOptions {
            verifier: Some(other.verifier()),
            ..FetchOptions::default()
        };
        let e = fetch(&consumer, &name, &options).await.unwrap_err();
        assert!(matches!(e, FetchError::BadSignature { .. }), "{e}");
    }

    #[tokio::test]
    async fn an_application_nack_refuses_the_fetch_at_once() {
        let (producer, consumer, _h) = pair().await;
        let signer = picasso_tlv::Signer::ed25519_generate(Name::from_uri("/key").unwrap());
        let s = signer.clone();
        producer
            .register(Name::from_uri("/gone").unwrap(), move |i: Interest| {
                let mut d = Data::new(i.name().clone())
                    .with_content_type(picasso_tlv::data::content_type::NACK)
                    .with_content(&br#"{"error": "no such object"}"#[..]);
                d.sign(&s);
                async move { Some(d) }
            })
            .await
            .unwrap();
        let name = Name::from_uri("/gone/obj").unwrap();
        let options = FetchOptions {
            verifier: Some(signer.verifier()),
            // A timeout-based failure would be Discovery { Timeout }.
            lifetime: Duration::from_secs(30),
            ..FetchOptions::default()
        };
        let e = fetch(&consumer, &name, &options).await.unwrap_err();
        assert_eq!(
            e,
            FetchError::Refused {
                name: name.clone(),
                reason: "no such object".into()
            }
        );
        // A Nack not signed by the expected key is not believed.
        let other = picasso_tlv::Signer::ed25519_generate(Name::from_uri("/k2").unwrap());
        let options = FetchOptions {
            verifier: Some(other.verifier()),
            ..options
        };
        let e = fetch(&consumer, &name, &options).await.unwrap_err();
        assert!(matches!(e, FetchError::BadSignature { .. }), "{e}");
    }

    #[tokio::test]
    async fn retransmits_dropped_segments() {
        let (producer, consumer, _h) = pair().await;
        let content = vec![5u8; 50_000];
        let name = Name::from_uri("/lossy").unwrap();
        let p = std::sync::Arc::new(Publication::new(
            &name,
            1,
            &content,
            4000,
            &picasso_tlv::Signer::DigestSha256,
        ));
        // Drop the first Interest for every odd segment.
        let seen = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
        let pp = p.clone();
        producer
            .register(name.clone(), move |i: Interest| {
                let p = pp.clone();
                let seen = seen.clone();
                async move {
                    let seg = i.name().last().and_then(|c| c.as_segment());
                    if let Some(s) = seg {
                        if s % 2 == 1 && seen.lock().unwrap().insert(s) {
                            return None;
                        }
                    }
                    p.answer(&i)
                }
            })
            .await
            .unwrap();
        let options = FetchOptions {
            lifetime: Duration::from_millis(300),
            ..FetchOptions::default()
        };
        let (got, stats) = fetch(&consumer, &name, &options).await.unwrap();
        assert_eq!(&got[..], &content[..]);
        assert!(stats.retransmissions >= 6, "{stats:?}");
        assert!(stats.timeouts >= 6, "{stats:?}");
    }

    #[tokio::test]
    async fn gives_up_after_bounded_retries() {
        let (producer, consumer, _h) = pair().await;
        let name = Name::from_uri("/partial").unwrap();
        let p = std::sync::Arc::new(Publication::new(
            &name,
            1,
            &[1u8; 9000],
            4000,
            &picasso_tlv::Signer::DigestSha256,
        ));
        let pp = p.clone();
        producer
            .register(name.clone(), move |i: Interest| {
                let p = pp.clone();
                async move {
                    // Segment 2 never comes.
                    if i.name().last().and_then(|c| c.as_segment()) == Some(2) {
                        None
                    } else {
                        p.answer(&i)
                    }
                }
            })
            .await
            .unwrap();
        let options = FetchOptions {
            lifetime: Duration::from_millis(200),
            max_retries: 2,
            ..FetchOptions::default()
        };
        let e = fetch(&consumer, &name, &options).await.unwrap_err();
        assert!(
            matches!(
                e,
                FetchError::Segment {
                    segment: 2,
                    retries: 2,
                    ..
                }
            ),
            "{e}"
        );
    }
}
