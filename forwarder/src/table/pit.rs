//! Pending Interest Table (NFD Developer Guide §3.4): one entry per pending
//! (name, CanBePrefix, MustBeFresh), with in-records (who asked) and
//! out-records (where it went), aggregation, nonce-based loop detection and
//! expiry.
//!
//! Bounded: at most `capacity` entries; an Interest that would exceed it is
//! refused and the caller counts the drop. One face may create at most half
//! of them ([`Pit::insert_from`]), so a face flooding distinct names cannot
//! take the whole table from the others. Expiry uses a timer heap with
//! lazy deletion, so expiring costs O(log n) per entry.

use std::borrow::Borrow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use bytes::Bytes;
use picasso_tlv::types::IMPLICIT_SHA256_DIGEST_COMPONENT;
use picasso_tlv::{Data, Interest, Name};

use crate::FaceId;

/// Identity of a PIT entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PitKey {
    /// The Interest name's component TLVs.
    pub name: Bytes,
    /// CanBePrefix.
    pub can_be_prefix: bool,
    /// MustBeFresh.
    pub must_be_fresh: bool,
}

impl PitKey {
    /// The key of `interest`.
    pub fn of(interest: &Interest) -> Self {
        Self {
            name: interest.name().value().clone(),
            can_be_prefix: interest.can_be_prefix(),
            must_be_fresh: interest.must_be_fresh(),
        }
    }
}

impl Hash for PitKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        KeyView::view(self).hash(state)
    }
}

/// A PIT key by reference, so lookups need not build (allocate) a [`PitKey`]:
/// `&dyn KeyView` works as the map's borrowed key type.
trait KeyView {
    fn view(&self) -> (&[u8], bool, bool);
}

impl KeyView for PitKey {
    fn view(&self) -> (&[u8], bool, bool) {
        (&self.name, self.can_be_prefix, self.must_be_fresh)
    }
}

impl KeyView for (&[u8], bool, bool) {
    fn view(&self) -> (&[u8], bool, bool) {
        *self
    }
}

impl Hash for dyn KeyView + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.view().hash(state)
    }
}

impl PartialEq for dyn KeyView + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.view() == other.view()
    }
}

impl Eq for dyn KeyView + '_ {}

impl<'a> Borrow<dyn KeyView + 'a> for PitKey {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

/// Number of FIFO timer queues (distinct lifetimes served in O(1)).
const TIMER_QUEUES: usize = 4;

fn ends_with_digest(name: &Name) -> bool {
    // The last component's TLV-TYPE byte, read in place (building the
    // Component would bump the name's refcount). Type 1 has a one-byte
    // encoding.
    let Some(last) = name.len().checked_sub(1) else {
        return false;
    };
    let start = name.prefix_value(last).len();
    name.value().get(start).copied() == Some(IMPLICIT_SHA256_DIGEST_COMPONENT as u8)
}

/// A downstream that expressed the Interest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InRecord {
    /// The face it came from.
    pub face: FaceId,
    /// Its nonce.
    pub nonce: u32,
    /// When this downstream's Interest expires.
    pub expiry: Instant,
    /// NDNLPv2 PIT token to echo with the Data or Nack.
    pub pit_token: Option<Bytes>,
    /// The Interest as this downstream sent it.
    pub interest: Interest,
}

/// An upstream the Interest was forwarded to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutRecord {
    /// The face it went out on.
    pub face: FaceId,
    /// The nonce it carried.
    pub nonce: u32,
    /// When it was sent (for RTT measurement).
    pub sent: Instant,
    /// When it expires.
    pub expiry: Instant,
    /// The Nack reason, once the upstream answered with a Nack.
    pub nack: Option<u64>,
}

/// A PIT entry.
#[derive(Debug, Clone)]
pub struct PitEntry {
    /// The face whose Interest created the entry (its quota is charged).
    pub creator: FaceId,
    /// The entry's key.
    pub key: PitKey,
    /// The Interest's name.
    pub name: Name,
    /// Downstreams.
    pub in_records: Vec<InRecord>,
    /// Upstreams.
    pub out_records: Vec<OutRecord>,
    /// Latest in-record expiry: the entry expires then.
    pub expiry: Instant,
}

/// How a nonce relates to an entry's records (NFD's `findDuplicateNonce`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateNonce {
    /// Not seen.
    None,
    /// Seen in an in-record of the same face (a retransmission on a
    /// point-to-point link, not a loop).
    SameFace,
    /// Seen from another face or in an out-record: a loop.
    Loop,
}

impl PitEntry {
    /// Where `nonce` arriving on `face` appears in this entry.
    pub fn find_duplicate_nonce(&self, nonce: u32, face: FaceId) -> DuplicateNonce {
        let mut result = DuplicateNonce::None;
        for r in &self.in_records {
            if r.nonce == nonce {
                if r.face == face {
                    result = DuplicateNonce::SameFace;
                } else {
                    return DuplicateNonce::Loop;
                }
            }
        }
        if self.out_records.iter().any(|r| r.nonce == nonce) {
            return DuplicateNonce::Loop;
        }
        result
    }

    /// Adds or refreshes the in-record of `face`.
    pub fn insert_in_record(
        &mut self,
        face: FaceId,
        interest: &Interest,
        pit_token: Option<Bytes>,
        now: Instant,
    ) {
        self.insert_in_record_owned(face, interest.clone(), pit_token, now);
    }

    /// [`PitEntry::insert_in_record`], keeping `interest` itself (no clone);
    /// returns the in-record.
    pub fn insert_in_record_owned(
        &mut self,
        face: FaceId,
        interest: Interest,
        pit_token: Option<Bytes>,
        now: Instant,
    ) -> &InRecord {
        let expiry = now + interest.lifetime();
        let nonce = interest.nonce().unwrap_or(0);
        let i = match self.in_records.iter().position(|r| r.face == face) {
            Some(i) => {
                let r = &mut self.in_records[i];
                r.nonce = nonce;
                r.expiry = expiry;
                r.pit_token = pit_token;
                r.interest = interest;
                i
            }
            None => {
                self.in_records.push(InRecord {
                    face,
                    nonce,
                    expiry,
                    pit_token,
                    interest,
                });
                self.in_records.len() - 1
            }
        };
        self.expiry = self
            .in_records
            .iter()
            .map(|r| r.expiry)
            .max()
            .unwrap_or(expiry);
        &self.in_records[i]
    }

    /// Adds or refreshes the out-record of `face`.
    pub fn insert_out_record(
        &mut self,
        face: FaceId,
        nonce: u32,
        lifetime: Duration,
        now: Instant,
    ) {
        let rec = OutRecord {
            face,
            nonce,
            sent: now,
            expiry: now + lifetime,
            nack: None,
        };
        match self.out_records.iter_mut().find(|r| r.face == face) {
            Some(r) => *r = rec,
            None => self.out_records.push(rec),
        }
    }

    /// The out-record of `face`.
    pub fn out_record(&self, face: FaceId) -> Option<&OutRecord> {
        self.out_records.iter().find(|r| r.face == face)
    }

    /// In-records that have not expired.
    pub fn live_in_records(&self, now: Instant) -> impl Iterator<Item = &InRecord> {
        self.in_records.iter().filter(move |r| r.expiry > now)
    }

    /// Whether some out-record is still waiting for an answer.
    pub fn has_pending_out_records(&self, now: Instant) -> bool {
        self.out_records
            .iter()
            .any(|r| r.nack.is_none() && r.expiry > now)
    }
}

/// The PIT.
#[derive(Debug)]
pub struct Pit {
    entries: super::NameMap<PitKey, PitEntry>,
    /// Expiry timers, lazily deleted. Mostly FIFO queues, each in deadline
    /// order (Interests share a few lifetimes and time only moves forward,
    /// so a deadline nearly always fits behind one queue's last): O(1) per
    /// entry instead of a heap push and pop plus an id map.
    timer_queues: [VecDeque<(Instant, PitKey)>; TIMER_QUEUES],
    /// Deadlines that fit no queue.
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
    timer_keys: super::id_map::IdMap<u64, PitKey>,
    next_timer: u64,
    capacity: usize,
    /// Longest name with a CanBePrefix entry, bounding prefix matches.
    max_prefix_len: usize,
    /// Number of entries with CanBePrefix (skip prefix probing when 0).
    n_can_be_prefix: usize,
    /// Number of entries whose name ends with an implicit digest (skip
    /// computing a Data's digest when 0).
    n_digest: usize,
    /// Entries each face created (for the per-face quota).
    created_by: super::id_map::IdMap<FaceId, usize>,
}

/// Why the PIT refused an Interest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PitError {
    /// The table is at its capacity.
    #[error("PIT is full ({0} entries)")]
    Full(usize),
    /// The face already created its share of the table.
    #[error("face {face} holds its quota of {quota} PIT entries")]
    FaceQuota {
        /// The face.
        face: FaceId,
        /// Its quota.
        quota: usize,
    },
}

impl Pit {
    /// An empty PIT holding at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Default::default(),
            timer_queues: Default::default(),
            timers: BinaryHeap::new(),
            timer_keys: Default::default(),
            next_timer: 0,
            capacity,
            max_prefix_len: 0,
            n_can_be_prefix: 0,
            n_digest: 0,
            created_by: Default::default(),
        }
    }

    /// Most entries one face may create: half the table.
    pub fn face_quota(&self) -> usize {
        (self.capacity / 2).max(1)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Finds or creates the entry for `interest`; `true` when created.
    /// No per-face quota (see [`Pit::insert_from`]).
    pub fn insert(
        &mut self,
        interest: &Interest,
        now: Instant,
    ) -> Result<(&mut PitEntry, bool), PitError> {
        self.insert_from(FaceId::INVALID, interest, now)
    }

    /// [`Pit::insert`] for an Interest from `face`, which may create at
    /// most [`Pit::face_quota`] entries.
    pub fn insert_from(
        &mut self,
        face: FaceId,
        interest: &Interest,
        now: Instant,
    ) -> Result<(&mut PitEntry, bool), PitError> {
        let key = PitKey::of(interest);
        let created = !self.entries.contains_key(&key);
        if created {
            if self.entries.len() >= self.capacity {
                return Err(PitError::Full(self.capacity));
            }
            if face != FaceId::INVALID {
                let quota = self.face_quota();
                let n = self.created_by.entry(face).or_insert(0);
                if *n >= quota {
                    return Err(PitError::FaceQuota { face, quota });
                }
                *n += 1;
            }
            if key.can_be_prefix {
                self.n_can_be_prefix += 1;
                self.max_prefix_len = self.max_prefix_len.max(interest.name().len());
            }
            if ends_with_digest(interest.name()) {
                self.n_digest += 1;
            }
            self.entries.insert(
                key.clone(),
                PitEntry {
                    creator: face,
                    key: key.clone(),
                    name: interest.name().clone(),
                    // Nearly always one of each: no room for four.
                    in_records: Vec::with_capacity(1),
                    out_records: Vec::with_capacity(1),
                    expiry: now + interest.lifetime(),
                },
            );
        }
        // Invariant: the key was present or has just been inserted.
        let e = self.entries.get_mut(&key).expect("entry exists");
        Ok((e, created))
    }

    /// Arms the expiry timer of `key` at the entry's current expiry; call
    /// after changing in-records.
    pub fn schedule(&mut self, key: &PitKey) {
        let Some(e) = self.entries.get(key) else {
            return;
        };
        let at = e.expiry;
        let fits = |q: &VecDeque<(Instant, PitKey)>| q.back().is_none_or(|(t, _)| *t <= at);
        if let Some(q) = self.timer_queues.iter_mut().find(|q| fits(q)) {
            // Stored key: the entry's, so this clone shares its bytes.
            q.push_back((at, e.key.clone()));
            return;
        }
        let id = self.next_timer;
        self.next_timer += 1;
        self.timers.push(Reverse((at, id)));
        self.timer_keys.insert(id, e.key.clone());
    }

    /// The entry for `key`.
    pub fn get(&self, key: &PitKey) -> Option<&PitEntry> {
        self.entries.get(key)
    }

    /// The entry for `key`, mutably.
    pub fn get_mut(&mut self, key: &PitKey) -> Option<&mut PitEntry> {
        self.entries.get_mut(key)
    }

    /// Removes and returns the entry for `key`.
    pub fn remove(&mut self, key: &PitKey) -> Option<PitEntry> {
        let e = self.entries.remove(key)?;
        if let Some(n) = self.created_by.get_mut(&e.creator) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.created_by.remove(&e.creator);
            }
        }
        if key.can_be_prefix {
            self.n_can_be_prefix -= 1;
            if self.n_can_be_prefix == 0 {
                self.max_prefix_len = 0;
            }
        }
        if ends_with_digest(&e.name) {
            self.n_digest -= 1;
        }
        Some(e)
    }

    /// Keys of the entries `data` satisfies: the same name, a prefix with
    /// CanBePrefix, or the name plus the Data's implicit digest.
    pub fn find_data_matches(&self, data: &Data) -> Vec<PitKey> {
        let mut out = Vec::new();
        self.find_data_matches_into(data, &mut out);
        out
    }

    /// [`Pit::find_data_matches`], appending to `out` (a reused buffer).
    pub fn find_data_matches_into(&self, data: &Data, out: &mut Vec<PitKey>) {
        let name = data.name();
        let mut probe = |name: &[u8], cbp: bool| {
            for mbf in [false, true] {
                let k: &dyn KeyView = &(name, cbp, mbf);
                if let Some((k, _)) = self.entries.get_key_value(k) {
                    out.push(k.clone());
                }
            }
        };
        let full = name.prefix_value(name.len());
        probe(full, false);
        if self.n_can_be_prefix > 0 {
            let top = name.len().min(self.max_prefix_len);
            for n in 0..=top {
                probe(name.prefix_value(n), true);
            }
        }
        if self.n_digest == 0 {
            return;
        }
        if let Some(d) = data.implicit_digest() {
            let full = name.append(&picasso_tlv::Component::new(
                IMPLICIT_SHA256_DIGEST_COMPONENT,
                Bytes::copy_from_slice(&d),
            ));
            probe(full.value(), false);
            if self.n_can_be_prefix > 0 {
                probe(full.value(), true);
            }
        }
    }

    /// Removes and returns every entry that expired by `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<PitEntry> {
        let mut out = Vec::new();
        for i in 0..TIMER_QUEUES {
            while self.timer_queues[i].front().is_some_and(|(t, _)| *t <= now) {
                let Some((_, key)) = self.timer_queues[i].pop_front() else {
                    break;
                };
                self.expire_key(&key, now, &mut out);
            }
        }
        while let Some(Reverse((t, id))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            let Some(key) = self.timer_keys.remove(&id) else {
                continue;
            };
            self.expire_key(&key, now, &mut out);
        }
        out
    }

    /// Removes the entry of a due timer, unless it was refreshed or replaced.
    fn expire_key(&mut self, key: &PitKey, now: Instant, out: &mut Vec<PitEntry>) {
        let due = self.entries.get(key).is_some_and(|e| e.expiry <= now);
        if due {
            if let Some(e) = self.remove(key) {
                out.push(e);
            }
        }
    }

    /// The earliest pending timer, for the caller's sleep.
    pub fn next_expiry(&self) -> Option<Instant> {
        let heap = self.timers.peek().map(|Reverse((t, _))| *t);
        let queues = self.timer_queues.iter().filter_map(|q| q.front());
        queues.map(|(t, _)| *t).chain(heap).min()
    }

    /// All entries.
    pub fn iter(&self) -> impl Iterator<Item = &PitEntry> {
        self.entries.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use picasso_tlv::Signer;

    fn interest(s: &str, nonce: u32) -> Interest {
        Interest::new(Name::from_uri(s).unwrap())
            .with_nonce(nonce)
            .with_lifetime_ms(1000)
    }

    fn data(s: &str) -> Data {
        let mut d = Data::new(Name::from_uri(s).unwrap());
        d.sign(&Signer::DigestSha256);
        d
    }

    #[test]
    fn aggregates_same_interest() {
        let now = Instant::now();
        let mut pit = Pit::new(10);
        let i = interest("/a/b", 1);
        let (e, created) = pit.insert(&i, now).unwrap();
        assert!(created);
        e.insert_in_record(FaceId(300), &i, None, now);
        let i2 = interest("/a/b", 2);
        let (e, created) = pit.insert(&i2, now).unwrap();
        assert!(!created);
        e.insert_in_record(FaceId(301), &i2, None, now);
        assert_eq!(e.in_records.len(), 2);
        assert_eq!(pit.len(), 1);
        // different selectors: different entry
        pit.insert(&i.clone().with_can_be_prefix(true), now)
            .unwrap();
        assert_eq!(pit.len(), 2);
    }

    #[test]
    fn duplicate_nonce_detection() {
        let now = Instant::now();
        let mut pit = Pit::new(10);
        let i = interest("/a", 7);
        let (e, _) = pit.insert(&i, now).unwrap();
        e.insert_in_record(FaceId(300), &i, None, now);
        e.insert_out_record(FaceId(302), 7, Duration::from_secs(1), now);
        assert_eq!(
            e.find_duplicate_nonce(7, FaceId(300)),
            DuplicateNonce::Loop,
            "also in out-record"
        );
        let mut e2 = e.clone();
        e2.out_records.clear();
        assert_eq!(
            e2.find_duplicate_nonce(7, FaceId(300)),
            DuplicateNonce::SameFace
        );
        assert_eq!(
            e2.find_duplicate_nonce(7, FaceId(301)),
            DuplicateNonce::Loop
        );
        assert_eq!(
            e2.find_duplicate_nonce(8, FaceId(301)),
            DuplicateNonce::None
        );
    }

    #[test]
    fn data_matching_rules() {
        let now = Instant::now();
        let mut pit = Pit::new(10);
        for (s, cbp) in [
            ("/a/b", false),
            ("/a", true),
            ("/a", false),
            ("/a/b/c", false),
        ] {
            let i = interest(s, 1).with_can_be_prefix(cbp);
            pit.insert(&i, now).unwrap();
        }
        let d = data("/a/b");
        let mut m: Vec<(String, bool)> = pit
            .find_data_matches(&d)
            .into_iter()
            .map(|k| (Name::from_value(k.name).unwrap().to_uri(), k.can_be_prefix))
            .collect();
        m.sort();
        assert_eq!(m, [("/a".to_string(), true), ("/a/b".to_string(), false)]);
        // implicit digest match
        let full = d.full_name().unwrap();
        pit.insert(&Interest::new(full.clone()).with_nonce(3), now)
            .unwrap();
        assert_eq!(pit.n_digest, 1);
        assert_eq!(pit.find_data_matches(&d).len(), 3);
        // Once the digest entry is gone the digest is not probed (nor computed).
        let key = PitKey::of(&Interest::new(full));
        assert!(pit.remove(&key).is_some());
        assert_eq!(pit.n_digest, 0);
        assert_eq!(pit.find_data_matches(&d).len(), 2);
    }

    #[test]
    fn only_a_final_digest_component_counts() {
        use picasso_tlv::Component;
        let digest = Component::implicit_digest([1; 32]);
        let last = Name::from_uri("/a").unwrap().append(&digest);
        let middle = last.append_str("b");
        // Generic components whose bytes include 0x01.
        let ones = Name::from_uri("/%01/%01%01").unwrap();
        assert!(ends_with_digest(&last));
        assert!(!ends_with_digest(&middle));
        assert!(!ends_with_digest(&ones));
        assert!(!ends_with_digest(&Name::new()));
    }

    #[test]
    fn one_face_creates_at_most_half_the_table() {
        let t0 = Instant::now();
        let mut pit = Pit::new(4);
        let flood = FaceId(300);
        for (s, n) in [("/f/1", 1), ("/f/2", 2)] {
            pit.insert_from(flood, &interest(s, n), t0).unwrap();
        }
        assert_eq!(
            pit.insert_from(flood, &interest("/f/3", 3), t0)
                .unwrap_err(),
            PitError::FaceQuota {
                face: flood,
                quota: 2
            }
        );
        // Another face still gets entries, and joining an existing entry is free.
        pit.insert_from(FaceId(301), &interest("/g", 4), t0)
            .unwrap();
        pit.insert_from(flood, &interest("/g", 5), t0).unwrap();
        // Removing an entry returns the quota.
        pit.remove(&PitKey::of(&interest("/f/1", 1))).unwrap();
        pit.insert_from(flood, &interest("/f/3", 3), t0).unwrap();
    }

    #[test]
    fn expiry_and_capacity() {
        let t0 = Instant::now();
        let mut pit = Pit::new(2);
        for (s, n) in [("/a", 1), ("/b", 2)] {
            let i = interest(s, n);
            let (e, _) = pit.insert(&i, t0).unwrap();
            e.insert_in_record(FaceId(300), &i, None, t0);
            let k = PitKey::of(&i);
            pit.schedule(&k);
        }
        assert_eq!(
            pit.insert(&interest("/c", 3), t0).unwrap_err(),
            PitError::Full(2)
        );
        assert!(pit.expire(t0 + Duration::from_millis(999)).is_empty());
        assert_eq!(pit.expire(t0 + Duration::from_millis(1000)).len(), 2);
        assert!(pit.is_empty());
    }

    #[test]
    fn mixed_and_out_of_order_lifetimes_expire_on_time() {
        // More distinct lifetimes than timer queues, scheduled out of
        // deadline order: every entry still expires exactly at its expiry.
        let t0 = Instant::now();
        let mut pit = Pit::new(100);
        let lifetimes = [4000u64, 1000, 3000, 500, 2000, 100, 1500, 50];
        for (k, ms) in lifetimes.iter().enumerate() {
            let i = interest(&format!("/m/{k}"), k as u32).with_lifetime_ms(*ms);
            let (e, _) = pit.insert(&i, t0).unwrap();
            e.insert_in_record(FaceId(300), &i, None, t0);
            let key = e.key.clone();
            pit.schedule(&key);
        }
        let mut sorted = lifetimes;
        sorted.sort_unstable();
        assert_eq!(pit.next_expiry(), Some(t0 + Duration::from_millis(50)));
        for (n, ms) in sorted.iter().enumerate() {
            let t = t0 + Duration::from_millis(*ms);
            assert!(pit.expire(t - Duration::from_millis(1)).is_empty());
            let gone = pit.expire(t);
            assert_eq!(gone.len(), 1, "at {ms} ms");
            assert_eq!(gone[0].expiry, t);
            assert_eq!(pit.len(), lifetimes.len() - n - 1);
        }
        assert_eq!(pit.next_expiry(), None);
    }

    #[test]
    fn refreshed_entry_does_not_expire_early() {
        let t0 = Instant::now();
        let mut pit = Pit::new(10);
        let i = interest("/a", 1);
        let k = PitKey::of(&i);
        let (e, _) = pit.insert(&i, t0).unwrap();
        e.insert_in_record(FaceId(300), &i, None, t0);
        pit.schedule(&k);
        let t1 = t0 + Duration::from_millis(500);
        let (e, _) = pit.insert(&i, t1).unwrap();
        e.insert_in_record(FaceId(300), &i, None, t1);
        pit.schedule(&k);
        assert!(pit.expire(t0 + Duration::from_millis(1000)).is_empty());
        assert_eq!(pit.expire(t0 + Duration::from_millis(1500)).len(), 1);
    }
}
