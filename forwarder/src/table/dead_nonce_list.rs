//! Dead nonce list (NFD Developer Guide §3.5): remembers (name, nonce) pairs
//! of Interests whose PIT entry is gone, so a looping Interest arriving after
//! its entry was satisfied or expired is still detected.
//!
//! Bounded both in time (entries live `lifetime`) and in count (the oldest
//! are dropped first), so a flood of distinct Interests cannot grow it.

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use picasso_tlv::Name;

/// The dead nonce list.
#[derive(Debug)]
pub struct DeadNonceList {
    /// Fingerprint of (name, nonce) → how many queue slots refer to it.
    set: super::id_map::IdMap<u64, u32>,
    /// Insertion order with insertion time, for expiry and the count bound.
    queue: VecDeque<(Instant, u64)>,
    lifetime: Duration,
    capacity: usize,
    /// Keyed fingerprint hasher (random per list).
    hasher: foldhash::fast::RandomState,
}

impl DeadNonceList {
    /// How long an entry is kept.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A list holding at most `capacity` entries for `lifetime` each.
    pub fn new(lifetime: Duration, capacity: usize) -> Self {
        Self {
            set: Default::default(),
            queue: VecDeque::new(),
            lifetime,
            capacity: capacity.max(1),
            hasher: Default::default(),
        }
    }

    fn key(&self, name: &Name, nonce: u32) -> u64 {
        self.hasher.hash_one((name.value(), nonce))
    }

    /// Records (name, nonce).
    pub fn add(&mut self, name: &Name, nonce: u32, now: Instant) {
        self.evict(now);
        if self.queue.len() >= self.capacity {
            self.pop_oldest();
        }
        let k = self.key(name, nonce);
        *self.set.entry(k).or_insert(0) += 1;
        self.queue.push_back((now, k));
    }

    /// Whether (name, nonce) was recorded and has not expired.
    pub fn contains(&self, name: &Name, nonce: u32) -> bool {
        self.set.contains_key(&self.key(name, nonce))
    }

    /// Drops expired entries.
    pub fn evict(&mut self, now: Instant) {
        while let Some(&(t, _)) = self.queue.front() {
            if now.saturating_duration_since(t) < self.lifetime {
                break;
            }
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some((_, k)) = self.queue.pop_front() {
            if let Some(c) = self.set.get_mut(&k) {
                *c -= 1;
                if *c == 0 {
                    self.set.remove(&k);
                }
            }
        }
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_then_forgets() {
        let t0 = Instant::now();
        let n = Name::from_uri("/a").unwrap();
        let mut dnl = DeadNonceList::new(Duration::from_secs(6), 100);
        dnl.add(&n, 7, t0);
        assert!(dnl.contains(&n, 7));
        assert!(!dnl.contains(&n, 8));
        assert!(!dnl.contains(&Name::from_uri("/b").unwrap(), 7));
        dnl.evict(t0 + Duration::from_secs(5));
        assert!(dnl.contains(&n, 7));
        dnl.evict(t0 + Duration::from_secs(6));
        assert!(!dnl.contains(&n, 7));
    }

    #[test]
    fn bounded_in_count() {
        let t0 = Instant::now();
        let mut dnl = DeadNonceList::new(Duration::from_secs(60), 10);
        let n = Name::from_uri("/a").unwrap();
        for i in 0..1000 {
            dnl.add(&n, i, t0);
        }
        assert_eq!(dnl.len(), 10);
        assert!(dnl.contains(&n, 999));
        assert!(!dnl.contains(&n, 0));
    }
}
