//! Multicast strategy (NFD's multicast): every eligible next hop gets the
//! Interest; retransmissions are suppressed for a short interval.

use std::time::{Duration, Instant};

use picasso_tlv::{Component, Interest, Name};

use super::strategy::{is_eligible, nack_reason, Strategy, StrategyContext};
use crate::table::{FibEntry, PitEntry};
use crate::FaceId;

const SUPPRESSION: Duration = Duration::from_millis(10);

/// The multicast strategy.
#[derive(Debug, Default)]
pub struct Multicast;

impl Multicast {
    /// The strategy's registered name.
    pub fn strategy_name() -> Name {
        Name::from_uri("/localhost/nfd/strategy/multicast")
            .map(|n| n.append(&Component::version(4)))
            .unwrap_or_default()
    }
}

impl Strategy for Multicast {
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
        let mut sent = false;
        let mut any = false;
        for hop in fib.map(|f| f.next_hops.as_slice()).unwrap_or_default() {
            let local = ctx.local_faces.contains(&hop.face);
            if !is_eligible(hop.face, in_face, interest.name(), local) {
                continue;
            }
            any = true;
            let recent = entry
                .out_record(hop.face)
                .is_some_and(|r| now.saturating_duration_since(r.sent) < SUPPRESSION);
            if !recent {
                ctx.send_interest(hop.face);
                sent = true;
            }
        }
        if !any && !sent && entry.out_records.is_empty() {
            ctx.reject(nack_reason::NO_ROUTE);
        }
    }
}
