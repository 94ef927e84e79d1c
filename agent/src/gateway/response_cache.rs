//! The gateway's bounded cache of multi-segment responses, by version.
//!
//! The first Interest of a request makes the HTTP call and gets segment 0;
//! segments 1… are asked for by name afterwards and answered from here —
//! calling the replica again per segment would repeat non-idempotent
//! requests and could return a different body. Entries go oldest first
//! when the byte budget is exceeded, and after a time to live. Owns no
//! I/O; time is passed in.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// One encoded response kept for its later segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedResponse {
    /// The service it came from.
    pub service: String,
    /// The HTTP path it answered.
    pub path: String,
    /// The encoded response (all segments joined).
    pub content: Bytes,
    /// Octets per segment.
    pub chunk: usize,
    /// FreshnessPeriod of its Data, `None` when uncacheable.
    pub freshness_ms: Option<u64>,
}

impl CachedResponse {
    /// The number of the last segment.
    pub fn final_segment(&self) -> u64 {
        (self.content.len().max(1).div_ceil(self.chunk.max(1)) - 1) as u64
    }

    /// The content of segment `seg`, `None` past the last one.
    pub fn segment(&self, seg: u64) -> Option<Bytes> {
        if seg > self.final_segment() {
            return None;
        }
        let start = usize::try_from(seg).ok()?.checked_mul(self.chunk)?;
        let end = start.saturating_add(self.chunk).min(self.content.len());
        Some(self.content.slice(start.min(end)..end))
    }
}

/// Responses by version, bounded in bytes and age.
#[derive(Debug)]
pub struct ResponseCache {
    max_bytes: usize,
    ttl: Duration,
    bytes: usize,
    order: VecDeque<(u64, Instant)>,
    entries: HashMap<u64, Arc<CachedResponse>>,
}

impl ResponseCache {
    /// An empty cache holding at most `max_bytes` of content for `ttl` each.
    pub fn new(max_bytes: usize, ttl: Duration) -> Self {
        Self {
            max_bytes,
            ttl,
            bytes: 0,
            order: VecDeque::new(),
            entries: HashMap::new(),
        }
    }

    /// Keeps `resp` under `version` (a response larger than the whole
    /// budget is not kept).
    pub fn insert(&mut self, version: u64, resp: CachedResponse, now: Instant) {
        self.expire(now);
        if resp.content.len() > self.max_bytes {
            return;
        }
        while self.bytes + resp.content.len() > self.max_bytes {
            if !self.evict_oldest() {
                break;
            }
        }
        self.bytes += resp.content.len();
        if let Some(old) = self.entries.insert(version, Arc::new(resp)) {
            self.bytes -= old.content.len();
        }
        self.order.push_back((version, now));
    }

    /// The response kept under `version`, if still there.
    pub fn get(&mut self, version: u64, now: Instant) -> Option<Arc<CachedResponse>> {
        self.expire(now);
        self.entries.get(&version).cloned()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(_, at)) = self.order.front() {
            if now.saturating_duration_since(at) < self.ttl {
                break;
            }
            self.evict_oldest();
        }
    }

    fn evict_oldest(&mut self) -> bool {
        let Some((v, _)) = self.order.pop_front() else {
            return false;
        };
        if let Some(old) = self.entries.remove(&v) {
            self.bytes -= old.content.len();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(len: usize, chunk: usize) -> CachedResponse {
        CachedResponse {
            service: "s".into(),
            path: "/".into(),
            content: Bytes::from((0..len).map(|i| i as u8).collect::<Vec<u8>>()),
            chunk,
            freshness_ms: None,
        }
    }

    #[test]
    fn segments_cover_the_content() {
        let r = resp(25, 10);
        assert_eq!(r.final_segment(), 2);
        let joined: Vec<u8> = (0..=2)
            .flat_map(|s| r.segment(s).unwrap().to_vec())
            .collect();
        assert_eq!(&joined[..], &r.content[..]);
        assert_eq!(r.segment(3), None);
        assert_eq!(resp(20, 10).final_segment(), 1);
        assert_eq!(resp(0, 10).final_segment(), 0);
    }

    #[test]
    fn bounded_by_bytes_and_age() {
        let t0 = Instant::now();
        let mut c = ResponseCache::new(100, Duration::from_secs(10));
        c.insert(1, resp(60, 10), t0);
        c.insert(2, resp(60, 10), t0);
        assert!(c.get(1, t0).is_none(), "oldest evicted for room");
        assert!(c.get(2, t0).is_some());
        assert_eq!(c.bytes(), 60);
        c.insert(3, resp(500, 10), t0);
        assert!(c.get(3, t0).is_none(), "larger than the budget");
        assert!(c.get(2, t0 + Duration::from_secs(11)).is_none(), "expired");
        assert_eq!(c.bytes(), 0);
    }
}
