//! The forwarder's pipelines (NFD Developer Guide §4) and the strategies.
//!
//! [`Forwarder`] owns every table and runs the pipelines synchronously:
//! faces hand it packets (`on_incoming_*`), it appends what must be sent to
//! an outbox the face layer drains. Time is passed in. The data plane never
//! fails: a packet that cannot be forwarded is counted as a drop and
//! forgotten.
//!
//! ```text
//! Interest ─► on_incoming_interest ─► (loop? ─► on_interest_loop)
//!                 └► CS lookup ─► on_content_store_hit ─► Data to downstream
//!                          └────► on_content_store_miss ─► strategy ─► on_outgoing_interest
//! Data ─────► on_incoming_data ─► PIT match ─► CS insert ─► Data to each downstream
//! Nack ─────► on_incoming_nack ─► out-record ─► strategy (retry or Nack downstream)
//! tick ─────► PIT expiry (unsatisfied) and upstream timeouts ─► strategy
//! ```

pub mod best_route;
pub mod load_balance;
pub mod multicast;
pub mod strategy;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use picasso_tlv::{Data, Interest, Name};

use crate::table::pit::DuplicateNonce;
use crate::table::{ContentStore, CsLimits, DeadNonceList, Fib, Pit, PitKey, StrategyChoice};
use crate::FaceId;
pub use strategy::{nack_reason, Action, Strategy, StrategyContext};

/// A packet the forwarder wants sent on a face.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutPacket {
    /// An Interest.
    Interest(Interest),
    /// A Data packet.
    Data(Data),
    /// A Nack carrying the Interest it answers.
    Nack {
        /// The Interest being Nacked.
        interest: Interest,
        /// NackReason.
        reason: u64,
    },
}

/// One entry of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The face to send on.
    pub face: FaceId,
    /// The packet.
    pub packet: OutPacket,
    /// NDNLPv2 PitToken to attach (echoing the downstream's).
    pub pit_token: Option<Bytes>,
}

/// Per-face packet counters, as NFD's FaceStatus reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaceCounters {
    /// Interests received.
    pub in_interests: u64,
    /// Data received.
    pub in_data: u64,
    /// Nacks received.
    pub in_nacks: u64,
    /// Interests sent.
    pub out_interests: u64,
    /// Data sent.
    pub out_data: u64,
    /// Nacks sent.
    pub out_nacks: u64,
    /// Bytes received (counted by the face).
    pub in_bytes: u64,
    /// Bytes sent (counted by the face).
    pub out_bytes: u64,
    /// Packets dropped: malformed, scope violations, full queues.
    pub drops: u64,
}

/// What the forwarder knows of a face.
#[derive(Debug, Clone, Default)]
pub struct FaceInfo {
    /// Local scope: an application on this host (may use `/localhost`).
    pub local: bool,
    /// Counters.
    pub counters: FaceCounters,
}

/// Forwarder-wide counters (NFD's ForwarderStatus).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForwarderCounters {
    /// PIT entries satisfied by Data.
    pub satisfied_interests: u64,
    /// PIT entries that expired unsatisfied.
    pub unsatisfied_interests: u64,
    /// Data that matched no PIT entry.
    pub unsolicited_data: u64,
    /// Interests refused because the PIT (or the in-face's share of it) was full.
    pub pit_full_drops: u64,
    /// Interests dropped as loops.
    pub loops: u64,
}

/// Limits of the forwarder's tables.
#[derive(Debug, Clone, Copy)]
pub struct ForwarderLimits {
    /// Most PIT entries.
    pub pit_entries: usize,
    /// Content store bounds.
    pub cs: CsLimits,
    /// Dead nonce list capacity.
    pub dead_nonces: usize,
}

impl Default for ForwarderLimits {
    fn default() -> Self {
        Self {
            pit_entries: 100_000,
            cs: CsLimits::default(),
            dead_nonces: 100_000,
        }
    }
}

/// The forwarder: tables, strategies and pipelines.
pub struct Forwarder {
    /// FIB.
    pub fib: Fib,
    /// PIT.
    pub pit: Pit,
    /// Content store.
    pub cs: ContentStore,
    /// Dead nonce list.
    pub dead_nonces: DeadNonceList,
    /// Strategy choice.
    pub strategy_choice: StrategyChoice,
    strategies: crate::table::NameMap<Name, Box<dyn Strategy>>,
    faces: crate::table::id_map::IdMap<FaceId, FaceInfo>,
    /// Upstream timeouts: (deadline, PIT key, face).
    upstream_timers: BinaryHeap<Reverse<(Instant, u64)>>,
    upstream_timer_keys: crate::table::id_map::IdMap<u64, (PitKey, FaceId)>,
    next_timer: u64,
    outbox: Vec<Outgoing>,
    /// Local faces (and the internal face) for strategies, rebuilt only
    /// when faces change, not per Interest.
    local_faces: Vec<FaceId>,
    local_faces_dirty: bool,
    /// Reused buffers: strategy actions and the PIT keys a Data satisfies.
    actions: Vec<Action>,
    data_matches: Vec<PitKey>,
    /// Counters.
    pub counters: ForwarderCounters,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("fib", &self.fib.len())
            .field("pit", &self.pit.len())
            .field("cs", &self.cs.len())
            .field("faces", &self.faces.len())
            .finish()
    }
}

/// Names of the strategies this forwarder knows, for `strategy-choice set`.
pub fn known_strategies() -> Vec<Name> {
    vec![
        best_route::BestRoute::strategy_name(),
        multicast::Multicast::strategy_name(),
        load_balance::LoadBalance::strategy_name(),
    ]
}

fn make_strategy(name: &Name) -> Option<Box<dyn Strategy>> {
    // A strategy name matches with or without its version component.
    let is = |full: Name| full == *name || full.prefix(full.len() - 1) == *name;
    if is(best_route::BestRoute::strategy_name()) {
        Some(Box::<best_route::BestRoute>::default())
    } else if is(multicast::Multicast::strategy_name()) {
        Some(Box::<multicast::Multicast>::default())
    } else if is(load_balance::LoadBalance::strategy_name()) {
        Some(Box::<load_balance::LoadBalance>::default())
    } else {
        None
    }
}

/// Why a strategy choice was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategyError {
    /// No strategy of that name.
    #[error("unknown strategy {0}")]
    Unknown(Name),
}

impl Forwarder {
    /// A forwarder with best-route as the default strategy.
    pub fn new(limits: ForwarderLimits) -> Self {
        let default = best_route::BestRoute::strategy_name();
        let mut strategies: crate::table::NameMap<Name, Box<dyn Strategy>> = Default::default();
        strategies.insert(default.clone(), Box::<best_route::BestRoute>::default());
        Self {
            fib: Fib::new(),
            pit: Pit::new(limits.pit_entries),
            cs: ContentStore::new(limits.cs),
            dead_nonces: DeadNonceList::new(Duration::from_secs(6), limits.dead_nonces),
            strategy_choice: StrategyChoice::new(default),
            strategies,
            faces: Default::default(),
            upstream_timers: BinaryHeap::new(),
            upstream_timer_keys: Default::default(),
            next_timer: 0,
            outbox: Vec::new(),
            local_faces: Vec::new(),
            local_faces_dirty: true,
            actions: Vec::new(),
            data_matches: Vec::new(),
            counters: ForwarderCounters::default(),
        }
    }

    /// Registers a face.
    pub fn add_face(&mut self, face: FaceId, local: bool) {
        self.local_faces_dirty = true;
        self.faces.insert(
            face,
            FaceInfo {
                local,
                counters: FaceCounters::default(),
            },
        );
    }

    /// Unregisters a face and removes its routes.
    pub fn remove_face(&mut self, face: FaceId) -> Option<FaceInfo> {
        self.fib.remove_face(face);
        self.local_faces_dirty = true;
        self.faces.remove(&face)
    }

    /// A face's info.
    pub fn face(&self, face: FaceId) -> Option<&FaceInfo> {
        self.faces.get(&face)
    }

    /// A face's info, mutably (the face layer adds byte counts and drops).
    pub fn face_mut(&mut self, face: FaceId) -> Option<&mut FaceInfo> {
        // The caller may change `local`.
        self.local_faces_dirty = true;
        self.faces.get_mut(&face)
    }

    /// All faces.
    pub fn faces(&self) -> impl Iterator<Item = (&FaceId, &FaceInfo)> {
        self.faces.iter()
    }

    /// Chooses `strategy` for `prefix`.
    pub fn set_strategy(&mut self, prefix: &Name, strategy: &Name) -> Result<Name, StrategyError> {
        let s = make_strategy(strategy).ok_or_else(|| StrategyError::Unknown(strategy.clone()))?;
        let full = s.name();
        self.strategies.entry(full.clone()).or_insert(s);
        self.strategy_choice.set(prefix, full.clone());
        Ok(full)
    }

    /// Takes the packets to send.
    pub fn take_outbox(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.outbox)
    }

    /// The outbox, appended to in place (for callers that reuse a buffer).
    pub fn drain_outbox_into(&mut self, out: &mut Vec<Outgoing>) {
        if out.is_empty() {
            // Trade buffers instead of copying every packet across (an
            // `Outgoing` is a few hundred bytes; `append` was 5% of the
            // forwarder under load). The capacities are reused in turn.
            std::mem::swap(out, &mut self.outbox);
        } else {
            out.append(&mut self.outbox);
        }
    }

    fn is_local(&self, face: FaceId) -> bool {
        face == FaceId::INTERNAL || self.faces.get(&face).is_some_and(|f| f.local)
    }

    fn count(&mut self, face: FaceId, f: impl FnOnce(&mut FaceCounters)) {
        if let Some(info) = self.faces.get_mut(&face) {
            f(&mut info.counters);
        }
    }

    /// Counts a drop on `face` (malformed packet, full queue, …).
    pub fn count_drop(&mut self, face: FaceId) {
        self.count(face, |c| c.drops += 1);
    }

    fn send(&mut self, face: FaceId, packet: OutPacket, pit_token: Option<Bytes>) {
        self.count(face, |c| match &packet {
            OutPacket::Interest(_) => c.out_interests += 1,
            OutPacket::Data(_) => c.out_data += 1,
            OutPacket::Nack { .. } => c.out_nacks += 1,
        });
        self.outbox.push(Outgoing {
            face,
            packet,
            pit_token,
        });
    }

    /// Incoming Interest pipeline.
    pub fn on_incoming_interest(
        &mut self,
        in_face: FaceId,
        mut interest: Interest,
        pit_token: Option<Bytes>,
        now: Instant,
    ) {
        self.count(in_face, |c| c.in_interests += 1);
        let local = self.is_local(in_face);
        // /localhost scope: only from local faces.
        if !local && strategy::is_localhost(interest.name()) {
            self.count_drop(in_face);
            return;
        }
        // HopLimit 0 from a non-local face: drop (spec §4.2.6).
        if !local && interest.hop_limit() == Some(0) {
            self.count_drop(in_face);
            return;
        }
        let nonce = match interest.nonce() {
            Some(n) => n,
            None => {
                let n = rand::random::<u32>();
                interest.set_nonce(Some(n));
                n
            }
        };
        // Loop detection against the dead nonce list.
        if self.dead_nonces.contains(interest.name(), nonce) {
            self.on_interest_loop(in_face, interest, pit_token);
            return;
        }
        let (entry, _created) = match self.pit.insert_from(in_face, &interest, now) {
            Ok(x) => x,
            Err(_) => {
                self.counters.pit_full_drops += 1;
                self.count_drop(in_face);
                return;
            }
        };
        match entry.find_duplicate_nonce(nonce, in_face) {
            DuplicateNonce::Loop => {
                let orphan = entry.in_records.is_empty();
                let key = entry.key.clone();
                if orphan {
                    self.pit.remove(&key);
                }
                self.on_interest_loop(in_face, interest, pit_token);
                return;
            }
            DuplicateNonce::SameFace | DuplicateNonce::None => {}
        }
        let is_pending = !entry.in_records.is_empty();
        let key = entry.key.clone();
        if !is_pending {
            if let Some(data) = self.cs.lookup(&interest, now) {
                self.pit.remove(&key);
                self.on_content_store_hit(in_face, data, pit_token);
                return;
            }
        }
        self.on_content_store_miss(in_face, key, interest, pit_token, now);
    }

    fn on_interest_loop(&mut self, in_face: FaceId, interest: Interest, pit_token: Option<Bytes>) {
        self.counters.loops += 1;
        self.send(
            in_face,
            OutPacket::Nack {
                interest,
                reason: nack_reason::DUPLICATE,
            },
            pit_token,
        );
    }

    fn on_content_store_hit(&mut self, in_face: FaceId, data: Data, pit_token: Option<Bytes>) {
        self.count(FaceId::CONTENT_STORE, |c| c.out_data += 1);
        self.send(in_face, OutPacket::Data(data), pit_token);
    }

    fn on_content_store_miss(
        &mut self,
        in_face: FaceId,
        key: PitKey,
        interest: Interest,
        pit_token: Option<Bytes>,
        now: Instant,
    ) {
        let Some(entry) = self.pit.get_mut(&key) else {
            return;
        };
        // The in-record keeps the Interest (moved, not cloned); the
        // strategy reads it from there.
        entry.insert_in_record_owned(in_face, interest, pit_token, now);
        self.pit.schedule(&key);
        self.run_strategy(&key, now, |s, ctx, entry, fib, now| {
            if let Some(rec) = entry.in_records.iter().find(|r| r.face == in_face) {
                s.after_receive_interest(ctx, entry, in_face, &rec.interest, fib, now)
            }
        });
    }

    /// Runs a strategy trigger for the PIT entry `key` and carries out its actions.
    fn run_strategy(
        &mut self,
        key: &PitKey,
        now: Instant,
        trigger: impl FnOnce(
            &mut dyn Strategy,
            &mut StrategyContext,
            &crate::table::PitEntry,
            Option<&crate::table::FibEntry>,
            Instant,
        ),
    ) {
        let Some(entry) = self.pit.get(key) else {
            return;
        };
        if self.local_faces_dirty {
            self.local_faces.clear();
            let local = self.faces.iter().filter(|(_, f)| f.local);
            self.local_faces.extend(local.map(|(id, _)| *id));
            self.local_faces.push(FaceId::INTERNAL);
            self.local_faces_dirty = false;
        }
        // The context borrows the forwarder's buffers (no allocation per Interest).
        let mut ctx = StrategyContext {
            actions: std::mem::take(&mut self.actions),
            local_faces: std::mem::take(&mut self.local_faces),
        };
        let strategy_name = self.strategy_choice.find_effective(&entry.name);
        let fib = self.fib.longest_prefix_match(&entry.name);
        if let Some(s) = self.strategies.get_mut(strategy_name) {
            trigger(s.as_mut(), &mut ctx, entry, fib, now);
        }
        self.local_faces = ctx.local_faces;
        let mut actions = ctx.actions;
        for action in actions.drain(..) {
            match action {
                Action::SendInterest { face, timeout } => {
                    self.on_outgoing_interest(key, face, timeout, now)
                }
                Action::RejectWithNack { reason } => self.reject_pending_interest(key, reason),
            }
        }
        self.actions = actions;
    }

    fn on_outgoing_interest(
        &mut self,
        key: &PitKey,
        face: FaceId,
        timeout: Option<Duration>,
        now: Instant,
    ) {
        let out_local = self.is_local(face);
        let Some(entry) = self.pit.get_mut(key) else {
            return;
        };
        // Forward the most recent downstream's Interest (NFD picks the
        // in-record that expires last).
        let Some(rec) = entry.in_records.iter().max_by_key(|r| r.expiry) else {
            return;
        };
        let mut interest = rec.interest.clone();
        let lifetime = interest.lifetime();
        if !out_local {
            match interest.hop_limit() {
                Some(0) => return,
                Some(h) => interest.set_hop_limit(Some(h - 1)),
                None => {}
            }
        }
        let nonce = interest.nonce().unwrap_or(0);
        let timeout = timeout.map_or(lifetime, |t| t.min(lifetime));
        entry.insert_out_record(face, nonce, timeout, now);
        if timeout < lifetime {
            let id = self.next_timer;
            self.next_timer += 1;
            self.upstream_timers.push(Reverse((now + timeout, id)));
            self.upstream_timer_keys.insert(id, (key.clone(), face));
        }
        self.send(face, OutPacket::Interest(interest), None);
    }

    fn reject_pending_interest(&mut self, key: &PitKey, reason: u64) {
        let Some(entry) = self.pit.remove(key) else {
            return;
        };
        for rec in entry.in_records {
            self.send(
                rec.face,
                OutPacket::Nack {
                    interest: rec.interest,
                    reason,
                },
                rec.pit_token,
            );
        }
    }

    /// Incoming Data pipeline.
    pub fn on_incoming_data(&mut self, in_face: FaceId, data: Data, no_cache: bool, now: Instant) {
        self.count(in_face, |c| c.in_data += 1);
        if !self.is_local(in_face) && strategy::is_localhost(data.name()) {
            self.count_drop(in_face);
            return;
        }
        let mut keys = std::mem::take(&mut self.data_matches);
        self.pit.find_data_matches_into(&data, &mut keys);
        if keys.is_empty() {
            // Unsolicited Data: dropped and not cached (NFD's default policy).
            self.counters.unsolicited_data += 1;
            self.count_drop(in_face);
            self.data_matches = keys;
            return;
        }
        if !no_cache {
            self.cs.insert(data.clone(), now);
        }
        for key in keys.drain(..) {
            if let Some(entry) = self.pit.get(&key) {
                let strategy_name = self.strategy_choice.find_effective(&entry.name);
                if let Some(s) = self.strategies.get_mut(strategy_name) {
                    let fib = self.fib.longest_prefix_match(&entry.name);
                    s.before_satisfy_interest(entry, in_face, fib, now);
                }
            } else {
                continue;
            }
            let Some(entry) = self.pit.remove(&key) else {
                continue;
            };
            self.counters.satisfied_interests += 1;
            // As NFD: a satisfied Interest's nonces are remembered only when
            // a looping copy would not be answered from the content store
            // (MustBeFresh and Data fresh for less than the list's
            // lifetime, or Data not stored at all); unsatisfied ones always.
            let looping_copy_misses_cs = no_cache
                || (entry.key.must_be_fresh
                    && data
                        .freshness_ms()
                        .is_none_or(|f| Duration::from_millis(f) < self.dead_nonces.lifetime()));
            if looping_copy_misses_cs {
                for out in &entry.out_records {
                    self.dead_nonces.add(&entry.name, out.nonce, now);
                }
            }
            for rec in entry.in_records {
                if rec.expiry <= now || rec.face == in_face {
                    continue;
                }
                self.send(rec.face, OutPacket::Data(data.clone()), rec.pit_token);
            }
        }
        self.data_matches = keys;
    }

    /// Incoming Nack pipeline.
    pub fn on_incoming_nack(
        &mut self,
        in_face: FaceId,
        interest: Interest,
        reason: u64,
        now: Instant,
    ) {
        self.count(in_face, |c| c.in_nacks += 1);
        let key = PitKey::of(&interest);
        let Some(entry) = self.pit.get_mut(&key) else {
            self.count_drop(in_face);
            return;
        };
        // The Nack must answer the Interest we sent on that face.
        match entry.out_records.iter_mut().find(|r| r.face == in_face) {
            Some(r) if Some(r.nonce) == interest.nonce() => r.nack = Some(reason),
            _ => {
                self.count_drop(in_face);
                return;
            }
        }
        self.run_strategy(&key, now, |s, ctx, entry, fib, now| {
            s.after_receive_nack(ctx, entry, in_face, reason, fib, now)
        });
    }

    /// Runs timers: upstream timeouts and PIT expiry. Returns the next
    /// instant at which a timer is due, if any.
    pub fn on_tick(&mut self, now: Instant) -> Option<Instant> {
        while let Some(Reverse((t, id))) = self.upstream_timers.peek().copied() {
            if t > now {
                break;
            }
            self.upstream_timers.pop();
            let Some((key, face)) = self.upstream_timer_keys.remove(&id) else {
                continue;
            };
            let still_pending = self
                .pit
                .get(&key)
                .and_then(|e| e.out_record(face))
                .is_some_and(|r| r.nack.is_none() && r.expiry <= now);
            if still_pending {
                self.run_strategy(&key, now, |s, ctx, entry, fib, now| {
                    s.on_upstream_timeout(ctx, entry, face, fib, now)
                });
            }
        }
        for entry in self.pit.expire(now) {
            self.counters.unsatisfied_interests += 1;
            for out in &entry.out_records {
                self.dead_nonces.add(&entry.name, out.nonce, now);
            }
        }
        self.dead_nonces.evict(now);
        let a = self.pit.next_expiry();
        let b = self.upstream_timers.peek().map(|Reverse((t, _))| *t);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
