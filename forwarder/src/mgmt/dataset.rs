//! Status datasets as NFD publishes them (StatusDataset page): the content
//! is cut into segments `<prefix>/v=<version>/seg=<n>` of at most
//! [`SEGMENT_SIZE`] octets, each with FinalBlockId and a FreshnessPeriod of
//! one second. The first segment answers the Interest that asked for the
//! dataset; this store keeps the others, bounded in versions, bytes and
//! time, for the exact Interests that follow.
//!
//! It owns the published segments only; what a dataset contains is each
//! manager's business.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use picasso_tlv::{Component, Data, Name, Signer};

/// Content octets per segment.
pub const SEGMENT_SIZE: usize = 8000;
/// FreshnessPeriod of every segment.
pub const FRESHNESS_MS: u64 = 1000;
/// How long published segments stay retrievable.
pub const RETENTION: Duration = Duration::from_secs(10);
/// Most versions kept at once.
pub const MAX_VERSIONS: usize = 64;
/// Most octets of segments kept at once.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug)]
struct Published {
    /// `<prefix>/v=<version>`.
    versioned: Name,
    segments: Vec<Data>,
    bytes: usize,
    expires: Instant,
}

/// The segments of recently published datasets.
#[derive(Debug, Default)]
pub struct DatasetStore {
    published: VecDeque<Published>,
    bytes: usize,
    last_version: u64,
}

impl DatasetStore {
    /// Publishes `content` under `prefix` with a new version and returns
    /// segment 0; the other segments stay in the store.
    pub fn publish(&mut self, prefix: &Name, content: Bytes, now: Instant) -> Data {
        // Versions are milliseconds since the epoch (as NFD's), strictly
        // increasing even within one millisecond.
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        self.last_version = ms.max(self.last_version.saturating_add(1));
        let versioned = prefix.append(&Component::version(self.last_version));
        let chunks: Vec<Bytes> = if content.is_empty() {
            vec![Bytes::new()]
        } else {
            (0..content.len())
                .step_by(SEGMENT_SIZE)
                .map(|i| content.slice(i..(i + SEGMENT_SIZE).min(content.len())))
                .collect()
        };
        let last = Component::segment(chunks.len() as u64 - 1);
        let segments: Vec<Data> = chunks
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let mut d = Data::new(versioned.append(&Component::segment(i as u64)))
                    .with_freshness_ms(FRESHNESS_MS)
                    .with_final_block_id(last.clone())
                    .with_content(c);
                d.sign(&Signer::DigestSha256);
                d
            })
            .collect();
        let first = segments[0].clone();
        if segments.len() > 1 {
            let bytes = segments
                .iter()
                .map(|d| d.wire().map_or(0, Bytes::len))
                .sum();
            self.bytes += bytes;
            self.published.push_back(Published {
                versioned,
                segments,
                bytes,
                expires: now + RETENTION,
            });
            while self.published.len() > MAX_VERSIONS || self.bytes > MAX_BYTES {
                match self.published.pop_front() {
                    Some(p) => self.bytes -= p.bytes,
                    None => break,
                }
            }
        }
        first
    }

    /// The stored segment `name` names exactly (`…/v=<v>/seg=<n>`), if any.
    pub fn find(&mut self, name: &Name, now: Instant) -> Option<Data> {
        self.expire(now);
        let seg = name.last()?.as_segment()?;
        let versioned = name.prefix(name.len() - 1);
        let p = self.published.iter().find(|p| p.versioned == versioned)?;
        usize::try_from(seg)
            .ok()
            .and_then(|s| p.segments.get(s))
            .cloned()
    }

    /// Drops segments past their retention.
    pub fn expire(&mut self, now: Instant) {
        while self.published.front().is_some_and(|p| p.expires <= now) {
            if let Some(p) = self.published.pop_front() {
                self.bytes -= p.bytes;
            }
        }
    }

    /// Number of datasets held.
    pub fn len(&self) -> usize {
        self.published.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.published.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_retention() {
        let mut s = DatasetStore::default();
        let t = Instant::now();
        let prefix = Name::from_uri("/localhost/nfd/faces/list").unwrap();
        let content = Bytes::from(vec![7u8; SEGMENT_SIZE * 2 + 5]);
        let first = s.publish(&prefix, content.clone(), t);
        assert_eq!(first.name().len(), prefix.len() + 2);
        assert_eq!(first.final_block_id().and_then(|c| c.as_segment()), Some(2));
        assert_eq!(first.freshness_ms(), Some(FRESHNESS_MS));
        assert_eq!(first.content().len(), SEGMENT_SIZE);
        let base = first.name().prefix(first.name().len() - 1);
        let mut all = first.content().to_vec();
        for i in 1..=2 {
            let d = s.find(&base.append(&Component::segment(i)), t).unwrap();
            assert_eq!(d.final_block_id().and_then(|c| c.as_segment()), Some(2));
            all.extend_from_slice(&d.content());
        }
        assert_eq!(all, content.to_vec());
        assert!(s.find(&base.append(&Component::segment(3)), t).is_none());
        // A new version is strictly newer.
        let second = s.publish(&prefix, Bytes::from_static(b"x"), t);
        let v = |d: &Data| d.name().get(prefix.len()).and_then(|c| c.as_version());
        assert!(v(&second) > v(&first));
        // Retention.
        assert!(s
            .find(&base.append(&Component::segment(1)), t + RETENTION)
            .is_none());
        assert!(s.is_empty());
    }

    #[test]
    fn bounded_versions() {
        let mut s = DatasetStore::default();
        let t = Instant::now();
        let prefix = Name::from_uri("/d").unwrap();
        for _ in 0..(MAX_VERSIONS + 5) {
            s.publish(&prefix, Bytes::from(vec![1u8; SEGMENT_SIZE + 1]), t);
        }
        assert_eq!(s.len(), MAX_VERSIONS);
    }
}
