//! Forwarding Information Base: name prefix → next hops with costs, and
//! longest-prefix match (NFD Developer Guide §3.1).
//!
//! Owns the routes the forwarder uses; it does not own where they come from
//! (the RIB, management and the routing between neighbours fill it).

use bytes::Bytes;
use picasso_tlv::Name;

use crate::FaceId;

/// One next hop of a FIB entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextHop {
    /// The outgoing face.
    pub face: FaceId,
    /// Routing cost; lower is preferred.
    pub cost: u64,
}

/// A FIB entry: a prefix and its next hops, kept sorted by cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FibEntry {
    /// The prefix.
    pub prefix: Name,
    /// Next hops, cheapest first.
    pub next_hops: Vec<NextHop>,
}

impl FibEntry {
    /// Whether `face` is a next hop.
    pub fn has_next_hop(&self, face: FaceId) -> bool {
        self.next_hops.iter().any(|n| n.face == face)
    }
}

/// The FIB.
#[derive(Debug, Default)]
pub struct Fib {
    /// Keyed by the prefix's component TLVs.
    entries: super::NameMap<Bytes, FibEntry>,
    /// Longest prefix present, to bound the match loop.
    max_len: usize,
}

impl Fib {
    /// An empty FIB.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there is no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds or updates the next hop `face` of `prefix` with `cost`.
    pub fn add_next_hop(&mut self, prefix: &Name, face: FaceId, cost: u64) {
        let e = self
            .entries
            .entry(prefix.value().clone())
            .or_insert_with(|| FibEntry {
                prefix: prefix.clone(),
                next_hops: Vec::new(),
            });
        match e.next_hops.iter_mut().find(|n| n.face == face) {
            Some(n) => n.cost = cost,
            None => e.next_hops.push(NextHop { face, cost }),
        }
        e.next_hops.sort_by_key(|n| (n.cost, n.face));
        self.max_len = self.max_len.max(prefix.len());
    }

    /// Removes the next hop `face` from `prefix`; the entry goes when it has
    /// none left. Returns whether anything was removed.
    pub fn remove_next_hop(&mut self, prefix: &Name, face: FaceId) -> bool {
        let key: &[u8] = prefix.value();
        let Some(e) = self.entries.get_mut(key) else {
            return false;
        };
        let before = e.next_hops.len();
        e.next_hops.retain(|n| n.face != face);
        let removed = e.next_hops.len() != before;
        if e.next_hops.is_empty() {
            self.entries.remove(key);
        }
        removed
    }

    /// Replaces the next hops of `prefix` (an empty list removes the entry).
    pub fn set_next_hops(&mut self, prefix: &Name, hops: &[NextHop]) {
        if hops.is_empty() {
            self.entries.remove::<[u8]>(prefix.value());
            return;
        }
        let mut next_hops = hops.to_vec();
        next_hops.sort_by_key(|n| (n.cost, n.face));
        self.entries.insert(
            prefix.value().clone(),
            FibEntry {
                prefix: prefix.clone(),
                next_hops,
            },
        );
        self.max_len = self.max_len.max(prefix.len());
    }

    /// Removes `face` from every entry (the face closed).
    pub fn remove_face(&mut self, face: FaceId) {
        self.entries.retain(|_, e| {
            e.next_hops.retain(|n| n.face != face);
            !e.next_hops.is_empty()
        });
    }

    /// The entry for exactly `prefix`.
    pub fn find_exact(&self, prefix: &Name) -> Option<&FibEntry> {
        self.entries.get::<[u8]>(prefix.value())
    }

    /// Longest-prefix match of `name`.
    pub fn longest_prefix_match(&self, name: &Name) -> Option<&FibEntry> {
        let top = name.len().min(self.max_len);
        (0..=top)
            .rev()
            .find_map(|n| self.entries.get::<[u8]>(name.prefix_value(n)))
    }

    /// All entries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &FibEntry> {
        self.entries.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_uri(s).unwrap()
    }

    #[test]
    fn longest_prefix_match_prefers_longer() {
        let mut fib = Fib::new();
        fib.add_next_hop(&n("/"), FaceId(300), 10);
        fib.add_next_hop(&n("/a"), FaceId(301), 10);
        fib.add_next_hop(&n("/a/b/c"), FaceId(302), 10);
        let m = |s| fib.longest_prefix_match(&n(s)).unwrap().prefix.to_uri();
        assert_eq!(m("/a/b/c/d"), "/a/b/c");
        assert_eq!(m("/a/b"), "/a");
        assert_eq!(m("/x"), "/");
        assert_eq!(m("/a/b/c"), "/a/b/c");
    }

    #[test]
    fn no_match_without_default_route() {
        let mut fib = Fib::new();
        fib.add_next_hop(&n("/a"), FaceId(300), 0);
        assert!(fib.longest_prefix_match(&n("/b")).is_none());
        assert!(fib.longest_prefix_match(&n("/")).is_none());
    }

    #[test]
    fn next_hops_sorted_and_updated() {
        let mut fib = Fib::new();
        let p = n("/svc");
        fib.add_next_hop(&p, FaceId(300), 20);
        fib.add_next_hop(&p, FaceId(301), 5);
        fib.add_next_hop(&p, FaceId(300), 1);
        let faces: Vec<_> = fib
            .find_exact(&p)
            .unwrap()
            .next_hops
            .iter()
            .map(|h| (h.face.0, h.cost))
            .collect();
        assert_eq!(faces, [(300, 1), (301, 5)]);
        assert!(fib.remove_next_hop(&p, FaceId(300)));
        assert!(!fib.remove_next_hop(&p, FaceId(300)));
        fib.remove_face(FaceId(301));
        assert!(fib.is_empty());
    }
}
