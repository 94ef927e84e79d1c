//! Load-balancing strategy for services — the paper's "service proxy"
//! balancing across local replicas and remote nodes.
//!
//! Each next hop of a prefix has a smoothed RTT and a count of outstanding
//! Interests (measured here, per FIB prefix and face). A new Interest goes to
//! the next hop with the lowest expected completion time,
//! `srtt × (1 + outstanding)` plus the route cost as a tie-breaker;
//! unmeasured next hops are tried first so every replica gets measured.
//! When an upstream answers Nack(Congestion) — a replica at its maxUsers —
//! or does not answer within its retransmission timeout, the Interest is
//! retried on the next best next hop not yet tried; when none is left the
//! consumer gets the Nack.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use picasso_tlv::{Component, Interest, Name};

use super::strategy::{is_eligible, nack_reason, reject_if_all_nacked, Strategy, StrategyContext};
use crate::table::{FibEntry, PitEntry};
use crate::FaceId;

/// Smallest retransmission timeout given to an upstream.
const MIN_RTO: Duration = Duration::from_millis(200);

/// Measurements of one next hop.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HopStats {
    /// Smoothed RTT in microseconds (RFC 6298 style), `None` before the first sample.
    pub srtt_us: Option<f64>,
    /// RTT variation in microseconds.
    pub rttvar_us: f64,
    /// Interests sent and not yet answered.
    pub outstanding: u32,
    /// Data received.
    pub satisfied: u64,
    /// Nacks and timeouts.
    pub failures: u64,
}

impl HopStats {
    fn add_sample(&mut self, rtt: Duration) {
        let r = rtt.as_secs_f64() * 1e6;
        match self.srtt_us {
            None => {
                self.srtt_us = Some(r);
                self.rttvar_us = r / 2.0;
            }
            Some(s) => {
                self.rttvar_us = 0.75 * self.rttvar_us + 0.25 * (s - r).abs();
                self.srtt_us = Some(0.875 * s + 0.125 * r);
            }
        }
    }

    /// Expected time to complete one more Interest, in microseconds.
    pub fn score(&self) -> f64 {
        self.srtt_us.unwrap_or(0.0) * (1.0 + f64::from(self.outstanding))
    }

    /// Retransmission timeout.
    pub fn rto(&self) -> Duration {
        match self.srtt_us {
            None => Duration::from_secs(1),
            Some(s) => Duration::from_micros((s + 4.0 * self.rttvar_us) as u64).max(MIN_RTO),
        }
    }
}

/// The load-balancing strategy.
#[derive(Debug, Default)]
pub struct LoadBalance {
    /// (FIB prefix TLVs, face) → stats.
    stats: HashMap<(bytes::Bytes, FaceId), HopStats>,
}

impl LoadBalance {
    /// The strategy's registered name.
    pub fn strategy_name() -> Name {
        Name::from_uri("/localhost/nfd/strategy/load-balance")
            .map(|n| n.append(&Component::version(1)))
            .unwrap_or_default()
    }

    /// Measurements of `face` for `prefix`.
    pub fn stats(&self, prefix: &Name, face: FaceId) -> HopStats {
        self.stats
            .get(&(prefix.value().clone(), face))
            .copied()
            .unwrap_or_default()
    }

    fn stats_mut(&mut self, fib: &FibEntry, face: FaceId) -> &mut HopStats {
        self.stats
            .entry((fib.prefix.value().clone(), face))
            .or_default()
    }

    /// Sends to the best next hop not yet tried for this entry; false when none is left.
    fn forward_to_best(
        &mut self,
        ctx: &mut StrategyContext,
        entry: &PitEntry,
        in_face: FaceId,
        fib: Option<&FibEntry>,
    ) -> bool {
        let Some(fib) = fib else { return false };
        let best = fib
            .next_hops
            .iter()
            .filter(|h| {
                is_eligible(
                    h.face,
                    in_face,
                    &entry.name,
                    ctx.local_faces.contains(&h.face),
                ) && entry.out_record(h.face).is_none()
            })
            .min_by(|a, b| {
                let sa = self.stats_for(fib, a.face);
                let sb = self.stats_for(fib, b.face);
                sa.score()
                    .total_cmp(&sb.score())
                    .then(a.cost.cmp(&b.cost))
                    .then(sa.outstanding.cmp(&sb.outstanding))
            })
            .map(|h| h.face);
        match best {
            Some(face) => {
                let st = self.stats_mut(fib, face);
                st.outstanding += 1;
                let rto = st.rto();
                ctx.send_interest_with_timeout(face, rto);
                true
            }
            None => false,
        }
    }

    fn stats_for(&self, fib: &FibEntry, face: FaceId) -> HopStats {
        self.stats(&fib.prefix, face)
    }

    fn release(&mut self, fib: Option<&FibEntry>, face: FaceId) -> Option<&mut HopStats> {
        let st = self.stats_mut(fib?, face);
        st.outstanding = st.outstanding.saturating_sub(1);
        Some(st)
    }
}

impl Strategy for LoadBalance {
    fn name(&self) -> Name {
        Self::strategy_name()
    }

    fn after_receive_interest(
        &mut self,
        ctx: &mut StrategyContext,
        entry: &PitEntry,
        in_face: FaceId,
        _interest: &Interest,
        fib: Option<&FibEntry>,
        _now: Instant,
    ) {
        if !entry.out_records.is_empty() {
            // Consumer retransmission while upstreams are pending: the
            // timeouts drive retries here, not the consumer.
            return;
        }
        if !self.forward_to_best(ctx, entry, in_face, fib) {
            ctx.reject(nack_reason::NO_ROUTE);
        }
    }

    fn after_receive_nack(
        &mut self,
        ctx: &mut StrategyContext,
        entry: &PitEntry,
        in_face: FaceId,
        _reason: u64,
        fib: Option<&FibEntry>,
        now: Instant,
    ) {
        if let Some(st) = self.release(fib, in_face) {
            st.failures += 1;
        }
        let downstream = entry
            .in_records
            .first()
            .map(|r| r.face)
            .unwrap_or(FaceId::INVALID);
        if !self.forward_to_best(ctx, entry, downstream, fib) {
            reject_if_all_nacked(ctx, entry, now);
        }
    }

    fn on_upstream_timeout(
        &mut self,
        ctx: &mut StrategyContext,
        entry: &PitEntry,
        face: FaceId,
        fib: Option<&FibEntry>,
        _now: Instant,
    ) {
        if let Some(st) = self.release(fib, face) {
            st.failures += 1;
            // A silent upstream counts as slow: its next RTO doubles.
            st.srtt_us = Some(st.srtt_us.unwrap_or(0.0).max(st.rto().as_micros() as f64));
        }
        let downstream = entry
            .in_records
            .first()
            .map(|r| r.face)
            .unwrap_or(FaceId::INVALID);
        self.forward_to_best(ctx, entry, downstream, fib);
    }

    fn before_satisfy_interest(
        &mut self,
        entry: &PitEntry,
        face: FaceId,
        fib: Option<&FibEntry>,
        now: Instant,
    ) {
        let Some(out) = entry.out_record(face) else {
            return;
        };
        let rtt = now.saturating_duration_since(out.sent);
        if let Some(st) = self.release(fib, face) {
            st.satisfied += 1;
            st.add_sample(rtt);
        }
    }
}
