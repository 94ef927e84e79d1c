//! The strategy seam (NFD Developer Guide §5): a strategy decides where an
//! Interest goes and what to do when an upstream Nacks or times out. It does
//! not send anything itself: it records [`Action`]s in a [`StrategyContext`]
//! and the forwarder carries them out, so strategies are plain synchronous
//! code tested without a runtime.

use std::time::{Duration, Instant};

use picasso_tlv::{Interest, Name};

use crate::table::{FibEntry, PitEntry};
use crate::FaceId;

/// NackReason values (NDNLPv2).
pub mod nack_reason {
    /// No reason given.
    pub const NONE: u64 = 0;
    /// The upstream is congested.
    pub const CONGESTION: u64 = 50;
    /// The upstream detected a duplicate nonce (a loop).
    pub const DUPLICATE: u64 = 100;
    /// The upstream has no route.
    pub const NO_ROUTE: u64 = 150;

    /// Severity order used when several upstreams Nack: NFD forwards the
    /// least severe reason downstream (Congestion < Duplicate < NoRoute).
    pub fn severity(reason: u64) -> u8 {
        match reason {
            CONGESTION => 1,
            DUPLICATE => 2,
            NO_ROUTE => 3,
            _ => 4,
        }
    }
}

/// What a strategy asks the forwarder to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Forward the Interest to `face`; an out-record is created that is
    /// considered timed out after `timeout` (the strategy is then told).
    SendInterest {
        /// The upstream.
        face: FaceId,
        /// When to give up on this upstream (at most the Interest lifetime).
        timeout: Option<Duration>,
    },
    /// Answer every downstream with a Nack and drop the PIT entry.
    RejectWithNack {
        /// The NackReason sent downstream.
        reason: u64,
    },
}

/// Where a strategy records its decisions, plus what it may read.
#[derive(Debug, Default)]
pub struct StrategyContext {
    pub(crate) actions: Vec<Action>,
    /// Faces whose scope is local (apps on this host).
    pub(crate) local_faces: Vec<FaceId>,
}

impl StrategyContext {
    /// Forward the Interest to `face`.
    pub fn send_interest(&mut self, face: FaceId) {
        self.actions.push(Action::SendInterest {
            face,
            timeout: None,
        });
    }

    /// Forward the Interest to `face`, with an upstream timeout.
    pub fn send_interest_with_timeout(&mut self, face: FaceId, timeout: Duration) {
        self.actions.push(Action::SendInterest {
            face,
            timeout: Some(timeout),
        });
    }

    /// Nack every downstream and drop the PIT entry.
    pub fn reject(&mut self, reason: u64) {
        self.actions.push(Action::RejectWithNack { reason });
    }

    /// The recorded actions (for tests).
    pub fn actions(&self) -> &[Action] {
        &self.actions
    }
}

/// Whether `face` may receive `interest` from `in_face` (NFD's
/// `isNextHopEligible`): not back to where it came from, and `/localhost`
/// never leaves the host.
pub fn is_eligible(
    face: FaceId,
    in_face: FaceId,
    interest_name: &Name,
    face_is_local: bool,
) -> bool {
    if face == in_face {
        return false;
    }
    if !face_is_local && is_localhost(interest_name) {
        return false;
    }
    true
}

/// Whether `name` is under `/localhost`.
pub fn is_localhost(name: &Name) -> bool {
    name.get(0).is_some_and(|c| {
        c.typ() == picasso_tlv::types::GENERIC_COMPONENT && &c.value()[..] == b"localhost"
    })
}

/// A forwarding strategy.
pub trait Strategy: Send {
    /// The strategy's name, e.g. `/localhost/nfd/strategy/best-route/v=5`.
    fn name(&self) -> Name;

    /// A new or retransmitted Interest missed the content store.
    fn after_receive_interest(
        &mut self,
        ctx: &mut StrategyContext,
        entry: &PitEntry,
        in_face: FaceId,
        interest: &Interest,
        fib: Option<&FibEntry>,
        now: Instant,
    );

    /// An upstream answered with a Nack (already recorded in the out-record).
    fn after_receive_nack(
        &mut self,
        ctx: &mut StrategyContext,
        entry: &PitEntry,
        in_face: FaceId,
        reason: u64,
        fib: Option<&FibEntry>,
        now: Instant,
    ) {
        let _ = (in_face, reason, fib, now);
        reject_if_all_nacked(ctx, entry, now);
    }

    /// An upstream did not answer within the timeout the strategy gave.
    fn on_upstream_timeout(
        &mut self,
        ctx: &mut StrategyContext,
        entry: &PitEntry,
        face: FaceId,
        fib: Option<&FibEntry>,
        now: Instant,
    ) {
        let _ = (ctx, entry, face, fib, now);
    }

    /// Data from `face` is about to satisfy `entry` (for measurements).
    fn before_satisfy_interest(
        &mut self,
        entry: &PitEntry,
        face: FaceId,
        fib: Option<&FibEntry>,
        now: Instant,
    ) {
        let _ = (entry, face, fib, now);
    }
}

/// When no upstream is pending any more, Nack downstream with the least
/// severe reason received (NFD's best-route behaviour).
pub fn reject_if_all_nacked(ctx: &mut StrategyContext, entry: &PitEntry, now: Instant) {
    if entry.has_pending_out_records(now) {
        return;
    }
    let reason = entry
        .out_records
        .iter()
        .filter_map(|r| r.nack)
        .min_by_key(|r| nack_reason::severity(*r))
        .unwrap_or(nack_reason::NO_ROUTE);
    ctx.reject(reason);
}
