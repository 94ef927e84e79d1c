//! Content store (NFD Developer Guide §3.3): a cache of Data packets with LRU
//! eviction bounded both by entry count and by bytes, MustBeFresh and
//! CanBePrefix semantics and implicit-digest matching.
//!
//! Owns what is cached and for how long; it does not decide whether a Data
//! may be cached (CachePolicy NoCache is checked by the forwarder).

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use picasso_tlv::types::IMPLICIT_SHA256_DIGEST_COMPONENT;
use picasso_tlv::{Data, Interest};

/// Bounds of the content store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsLimits {
    /// Most entries held.
    pub max_entries: usize,
    /// Most bytes held: each entry counts its Data wire plus
    /// [`CS_ENTRY_OVERHEAD`], so the bound is close to the memory used.
    pub max_bytes: usize,
}

impl Default for CsLimits {
    fn default() -> Self {
        Self {
            max_entries: 65_536,
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Memory an entry costs besides its Data wire: the decoded Data, the
/// index, LRU and name-order nodes and allocator slack (measured: ~1 kB per
/// entry of a 200-byte Data with 65 536 entries).
pub const CS_ENTRY_OVERHEAD: usize = 1024;

#[derive(Debug)]
struct CsEntry {
    data: Data,
    size: usize,
    /// Fresh until then (FreshnessPeriod after arrival); `None`: never fresh.
    fresh_until: Option<Instant>,
    /// Position in the LRU order.
    tick: u64,
}

/// The content store.
#[derive(Debug)]
pub struct ContentStore {
    // Boxed: the map's spare slots then cost a pointer, not a whole entry.
    entries: super::NameMap<Bytes, Box<CsEntry>>,
    /// Names in canonical order, for CanBePrefix lookups.
    ///
    /// Keyed by the Name's TLV-VALUE bytes: with minimal TLV-TYPE and
    /// TLV-LENGTH encodings, byte order is the canonical order (type, then
    /// length, then value, component by component; a prefix first), and in
    /// any case the names under a prefix are one contiguous range. Comparing
    /// bytes is several times cheaper than parsing components.
    ///
    /// Built on the first lookup or erase that needs it and maintained from
    /// then on: a store only ever asked exact names (the common case) does
    /// not pay an ordered insert and remove per Data.
    ordered: Option<BTreeSet<Bytes>>,
    /// LRU order, oldest first: (tick, key). Lazily cleaned: an item is live
    /// only while its entry still has that tick (a touch or a removal
    /// leaves the old item behind; eviction skips it, and the queue is
    /// compacted when stale items outnumber live ones).
    lru: VecDeque<(u64, Bytes)>,
    tick: u64,
    bytes: usize,
    limits: CsLimits,
    /// Lookups answered from the store.
    pub hits: u64,
    /// Lookups not answered.
    pub misses: u64,
    /// Whether admission is enabled (NFD's CS "admit" flag).
    pub admit: bool,
    /// Whether lookups are served (NFD's CS "serve" flag).
    pub serve: bool,
}

impl ContentStore {
    /// An empty store with `limits`.
    pub fn new(limits: CsLimits) -> Self {
        Self {
            entries: Default::default(),
            ordered: None,
            lru: VecDeque::new(),
            tick: 0,
            bytes: 0,
            limits,
            hits: 0,
            misses: 0,
            admit: true,
            serve: true,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The limits.
    pub fn limits(&self) -> CsLimits {
        self.limits
    }

    /// Changes the limits, evicting at once if needed.
    pub fn set_limits(&mut self, limits: CsLimits) {
        self.limits = limits;
        self.evict_to_fit(0);
    }

    /// Caches `data` (it must carry its wire: decoded or signed).
    pub fn insert(&mut self, data: Data, now: Instant) {
        if !self.admit || self.limits.max_entries == 0 {
            return;
        }
        let Some(size) = Self::entry_size(&data) else {
            return;
        };
        if size > self.limits.max_bytes {
            return;
        }
        let key = data.name().value().clone();
        self.remove_key(&key);
        self.evict_to_fit(size);
        self.tick += 1;
        let fresh_until = match data.freshness_ms() {
            Some(ms) if ms > 0 => Some(now + Duration::from_millis(ms)),
            _ => None,
        };
        if let Some(o) = &mut self.ordered {
            o.insert(key.clone());
        }
        self.bytes += size;
        self.entries.insert(
            key.clone(),
            Box::new(CsEntry {
                data,
                size,
                fresh_until,
                tick: self.tick,
            }),
        );
        // After the entry: compaction keeps only items of present entries.
        self.push_lru(self.tick, key);
    }

    /// What `data` counts against `max_bytes` (`None`: it has no wire).
    pub fn entry_size(data: &Data) -> Option<usize> {
        let wire = data.wire().map_or(0, |w| w.len());
        (wire > 0).then_some(wire + CS_ENTRY_OVERHEAD)
    }

    fn evict_to_fit(&mut self, incoming: usize) {
        while !self.entries.is_empty()
            && (self.entries.len() + usize::from(incoming > 0) > self.limits.max_entries
                || self.bytes + incoming > self.limits.max_bytes)
        {
            let Some((tick, key)) = self.lru.pop_front() else {
                break;
            };
            // One probe of the map (the oldest entries' memory is cold: a
            // lookup and then a removal cost two rounds of cache misses).
            if let std::collections::hash_map::Entry::Occupied(o) = self.entries.entry(key) {
                if o.get().tick == tick {
                    let e = o.remove();
                    self.unindex(&e);
                }
            }
        }
    }

    fn push_lru(&mut self, tick: u64, key: Bytes) {
        self.lru.push_back((tick, key));
        if self.lru.len() > 2 * self.entries.len() + 64 {
            let entries = &self.entries;
            self.lru
                .retain(|(t, k)| entries.get(k).is_some_and(|e| e.tick == *t));
        }
    }

    fn ordered_index(&mut self) -> &BTreeSet<Bytes> {
        let entries = &self.entries;
        self.ordered
            .get_or_insert_with(|| entries.keys().cloned().collect())
    }

    fn remove_key(&mut self, key: &Bytes) {
        if let Some(e) = self.entries.remove(key) {
            self.unindex(&e);
        }
    }

    /// Forgets an entry taken out of `entries`: its name order and bytes.
    fn unindex(&mut self, e: &CsEntry) {
        if let Some(o) = &mut self.ordered {
            o.remove(e.data.name().value());
        }
        self.bytes -= e.size;
    }

    fn matches(e: &CsEntry, interest: &Interest, now: Instant) -> bool {
        !interest.must_be_fresh() || e.fresh_until.is_some_and(|t| t > now)
    }

    fn touch(&mut self, key: &Bytes) {
        self.tick += 1;
        let tick = self.tick;
        if let Some(e) = self.entries.get_mut(key) {
            e.tick = tick;
            self.push_lru(tick, key.clone());
        }
    }

    /// Finds a Data satisfying `interest`, refreshing its LRU position.
    pub fn lookup(&mut self, interest: &Interest, now: Instant) -> Option<Data> {
        if !self.serve {
            return None;
        }
        if interest.can_be_prefix() {
            self.ordered_index();
        }
        let found = self.find_key(interest, now);
        match found {
            Some(k) => {
                self.hits += 1;
                self.touch(&k);
                self.entries.get(&k).map(|e| e.data.clone())
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    fn find_key(&self, interest: &Interest, now: Instant) -> Option<Bytes> {
        let name = interest.name();
        // Implicit digest: /…/sha256digest=D names exactly one Data.
        if let Some(last) = name.last() {
            if last.typ() == IMPLICIT_SHA256_DIGEST_COMPONENT {
                let prefix = name.prefix(name.len() - 1);
                let e = self.entries.get::<[u8]>(prefix.value())?;
                let ok = e
                    .data
                    .implicit_digest()
                    .is_some_and(|d| d[..] == last.value()[..]);
                return (ok && Self::matches(e, interest, now)).then(|| prefix.value().clone());
            }
        }
        if !interest.can_be_prefix() {
            let e = self.entries.get::<[u8]>(name.value())?;
            return Self::matches(e, interest, now).then(|| name.value().clone());
        }
        let prefix = name.value();
        // Built by `lookup` for CanBePrefix Interests.
        self.ordered
            .as_ref()?
            .range::<Bytes, _>(prefix..)
            .take_while(|k| k.starts_with(prefix))
            .find(|k| {
                self.entries
                    .get::<[u8]>(k)
                    .is_some_and(|e| Self::matches(e, interest, now))
            })
            .cloned()
    }

    /// Removes up to `limit` entries under `prefix` (NFD's `cs/erase`);
    /// returns how many were removed.
    pub fn erase(&mut self, prefix: &picasso_tlv::Name, limit: usize) -> usize {
        let p: &Bytes = prefix.value();
        // Component TLVs are self-delimiting, so a byte prefix made of whole
        // components is a name prefix.
        let keys: Vec<Bytes> = self
            .ordered_index()
            .range::<Bytes, _>(p..)
            .take_while(|k| k.starts_with(p))
            .take(limit)
            .cloned()
            .collect();
        for k in &keys {
            self.remove_key(k);
        }
        keys.len()
    }

    /// Removes every entry (NFD `cs erase` of the root).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.ordered = None;
        self.lru.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use picasso_tlv::{Name, Signer};

    fn data(s: &str, fresh: Option<u64>, size: usize) -> Data {
        let mut d = Data::new(Name::from_uri(s).unwrap()).with_content(vec![0u8; size]);
        if let Some(f) = fresh {
            d = d.with_freshness_ms(f);
        }
        d.sign(&Signer::DigestSha256);
        d
    }

    fn interest(s: &str) -> Interest {
        Interest::new(Name::from_uri(s).unwrap())
    }

    #[test]
    fn lru_order_survives_many_touches_and_compaction() {
        let now = Instant::now();
        let mut cs = ContentStore::new(CsLimits {
            max_entries: 3,
            max_bytes: usize::MAX / 2,
        });
        for n in ["/a", "/b", "/c"] {
            cs.insert(data(n, None, 1), now);
        }
        for _ in 0..1000 {
            assert!(cs.lookup(&interest("/a"), now).is_some());
        }
        assert!(cs.lru.len() <= 2 * cs.len() + 64);
        // /b is now the least recently used.
        cs.insert(data("/d", None, 1), now);
        assert!(cs.lookup(&interest("/b"), now).is_none());
        for n in ["/a", "/c", "/d"] {
            assert!(cs.lookup(&interest(n), now).is_some(), "{n}");
        }
    }

    #[test]
    fn prefix_index_is_built_lazily_and_kept_in_sync() {
        let now = Instant::now();
        let mut cs = ContentStore::new(CsLimits {
            max_entries: 2,
            max_bytes: usize::MAX / 2,
        });
        cs.insert(data("/p/1", None, 1), now);
        cs.insert(data("/p/2", None, 1), now);
        assert!(cs.ordered.is_none());
        let cbp = |s| interest(s).with_can_be_prefix(true);
        assert!(cs.lookup(&cbp("/p"), now).is_some());
        assert!(cs.ordered.is_some());
        // Evicts both /p entries; the index follows.
        cs.insert(data("/q/1", None, 1), now);
        cs.insert(data("/q/2", None, 1), now);
        assert!(cs.lookup(&cbp("/p"), now).is_none());
        assert_eq!(cs.ordered.as_ref().map(BTreeSet::len), Some(2));
        assert_eq!(cs.erase(&Name::from_uri("/q").unwrap(), 10), 2);
        assert!(cs.is_empty());
        cs.clear();
        assert!(cs.ordered.is_none());
    }

    #[test]
    fn exact_and_prefix_match() {
        let now = Instant::now();
        let mut cs = ContentStore::new(CsLimits::default());
        cs.insert(data("/a/b/c", None, 10), now);
        assert!(cs.lookup(&interest("/a/b"), now).is_none());
        assert_eq!(
            cs.lookup(&interest("/a/b").with_can_be_prefix(true), now)
                .unwrap()
                .name()
                .to_uri(),
            "/a/b/c"
        );
        assert!(cs.lookup(&interest("/a/b/c"), now).is_some());
        assert!(cs
            .lookup(&interest("/a/bb").with_can_be_prefix(true), now)
            .is_none());
        assert_eq!((cs.hits, cs.misses), (2, 2));
    }

    #[test]
    fn must_be_fresh() {
        let now = Instant::now();
        let mut cs = ContentStore::new(CsLimits::default());
        cs.insert(data("/f", Some(1000), 1), now);
        cs.insert(data("/stale", None, 1), now);
        let mbf = |s| interest(s).with_must_be_fresh(true);
        assert!(cs
            .lookup(&mbf("/f"), now + Duration::from_millis(999))
            .is_some());
        assert!(cs
            .lookup(&mbf("/f"), now + Duration::from_millis(1000))
            .is_none());
        assert!(cs
            .lookup(&interest("/f"), now + Duration::from_secs(9))
            .is_some());
        assert!(cs.lookup(&mbf("/stale"), now).is_none());
    }

    #[test]
    fn implicit_digest_match() {
        let now = Instant::now();
        let mut cs = ContentStore::new(CsLimits::default());
        let d = data("/x", None, 4);
        let full = d.full_name().unwrap();
        cs.insert(d, now);
        assert!(cs.lookup(&Interest::new(full), now).is_some());
        let wrong = Name::from_uri("/x")
            .unwrap()
            .append(&picasso_tlv::Component::implicit_digest([0; 32]));
        assert!(cs.lookup(&Interest::new(wrong), now).is_none());
    }

    #[test]
    fn can_be_prefix_matches_whole_components_only() {
        let now = Instant::now();
        let mut cs = ContentStore::new(CsLimits::default());
        cs.insert(data("/aa", None, 10), now);
        cs.insert(data("/a/c", None, 10), now);
        cs.insert(data("/a/b", None, 10), now);
        let i = Interest::new(Name::from_uri("/a").unwrap()).with_can_be_prefix(true);
        // The first under /a in canonical order; /aa is not under /a.
        let d = cs.lookup(&i, now).unwrap();
        assert_eq!(d.name().to_uri(), "/a/b");
        let i = Interest::new(Name::from_uri("/a/b").unwrap()).with_can_be_prefix(true);
        assert_eq!(cs.lookup(&i, now).unwrap().name().to_uri(), "/a/b");
        let i = Interest::new(Name::from_uri("/b").unwrap()).with_can_be_prefix(true);
        assert!(cs.lookup(&i, now).is_none());
    }

    #[test]
    fn lru_bounded_by_entries_and_bytes() {
        let now = Instant::now();
        let mut cs = ContentStore::new(CsLimits {
            max_entries: 3,
            max_bytes: 1 << 20,
        });
        for i in 0..3 {
            cs.insert(data(&format!("/n/{i}"), None, 10), now);
        }
        assert!(cs.lookup(&interest("/n/0"), now).is_some()); // 0 becomes most recent
        cs.insert(data("/n/3", None, 10), now);
        assert_eq!(cs.len(), 3);
        assert!(
            cs.lookup(&interest("/n/1"), now).is_none(),
            "least recently used evicted"
        );
        assert!(cs.lookup(&interest("/n/0"), now).is_some());

        let one = ContentStore::entry_size(&data("/big/0", None, 1000)).unwrap();
        let mut cs = ContentStore::new(CsLimits {
            max_entries: 100,
            max_bytes: one * 2 + 10,
        });
        for i in 0..5 {
            cs.insert(data(&format!("/big/{i}"), None, 1000), now);
        }
        assert_eq!(cs.len(), 2);
        assert!(cs.bytes() <= one * 2 + 10);
        cs.set_limits(CsLimits {
            max_entries: 1,
            max_bytes: 1 << 20,
        });
        assert_eq!(cs.len(), 1);
    }
}
