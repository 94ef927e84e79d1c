//! Best-route strategy (NFD's best-route v5): a new Interest goes to the
//! cheapest eligible next hop; a consumer retransmission within the
//! suppression interval is absorbed, a later one tries the next unused next
//! hop, or the one used longest ago.

use std::time::{Duration, Instant};

use picasso_tlv::{Component, Interest, Name};

use super::strategy::{is_eligible, nack_reason, Strategy, StrategyContext};
use crate::table::{FibEntry, PitEntry, PitKey};
use crate::FaceId;

/// Retransmission suppression starts at 10 ms and doubles up to 250 ms.
const SUPPRESSION_INITIAL: Duration = Duration::from_millis(10);
const SUPPRESSION_MAX: Duration = Duration::from_millis(250);

/// The best-route strategy.
#[derive(Debug, Default)]
pub struct BestRoute {
    /// Per PIT entry: current suppression interval (only entries that saw
    /// a retransmission; empty in the common case, so not even hashed).
    suppression: crate::table::NameMap<PitKey, Duration>,
}

impl BestRoute {
    /// The strategy's registered name.
    pub fn strategy_name() -> Name {
        Name::from_uri("/localhost/nfd/strategy/best-route")
            .map(|n| n.append(&Component::version(5)))
            .unwrap_or_default()
    }
}

impl Strategy for BestRoute {
    fn name(&self) -> Name {
        Self::strategy_name()
    }

    fn after_receive_interest(
        &mut self,
        ctx: &mut StrategyContext,
        entry: &PitEntry,
        in_face: FaceId,
        interest: &Interest,
        fib: Option<&FibEntry>,
        now: Instant,
    ) {
        let local_faces = &ctx.local_faces;
        let eligible =
            |h: &FaceId| is_eligible(*h, in_face, interest.name(), local_faces.contains(h));
        let next_hops = fib.map_or(&[][..], |f| &f.next_hops[..]);
        let mut hops = next_hops.iter().map(|h| h.face).filter(eligible);
        let Some(first) = hops.next() else {
            ctx.reject(nack_reason::NO_ROUTE);
            return;
        };
        if entry.out_records.is_empty() {
            if !self.suppression.is_empty() {
                self.suppression.remove(&entry.key);
            }
            ctx.send_interest(first);
            return;
        }
        // A retransmission (rare): all eligible hops are needed.
        let hops: Vec<FaceId> = std::iter::once(first).chain(hops).collect();
        // A retransmission: suppress if the last send is too recent.
        let last_sent = entry
            .out_records
            .iter()
            .map(|r| r.sent)
            .max()
            .unwrap_or(now);
        let interval = *self
            .suppression
            .get(&entry.key)
            .unwrap_or(&SUPPRESSION_INITIAL);
        if now.saturating_duration_since(last_sent) < interval {
            return;
        }
        self.suppression
            .insert(entry.key.clone(), (interval * 2).min(SUPPRESSION_MAX));
        let unused = hops.iter().find(|h| entry.out_record(**h).is_none());
        let choice = unused.copied().unwrap_or_else(|| {
            *hops
                .iter()
                .min_by_key(|h| entry.out_record(**h).map(|r| r.sent))
                .unwrap_or(&hops[0])
        });
        ctx.send_interest(choice);
    }

    fn before_satisfy_interest(
        &mut self,
        entry: &PitEntry,
        _face: FaceId,
        _fib: Option<&FibEntry>,
        _now: Instant,
    ) {
        if !self.suppression.is_empty() {
            self.suppression.remove(&entry.key);
        }
    }
}
