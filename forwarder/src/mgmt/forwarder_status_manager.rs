//! The forwarder status manager (NFD's `ForwarderStatusManager`,
//! ForwarderStatus page): the `status/general` dataset — version, start
//! and current time, table sizes and forwarder-wide counters.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use picasso_tlv::mgmt::ForwarderStatus;

use crate::runtime::Core;

/// The version string reported as NfdVersion.
pub const VERSION: &str = concat!("picasso-", env!("CARGO_PKG_VERSION"));

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The ForwarderStatus of `core` now.
pub fn status(core: &Core) -> ForwarderStatus {
    let fwd = &core.fwd;
    let mut s = ForwarderStatus {
        nfd_version: VERSION.to_string(),
        start_timestamp: unix_ms(core.started),
        current_timestamp: unix_ms(SystemTime::now()),
        n_fib_entries: fwd.fib.len() as u64,
        n_pit_entries: fwd.pit.len() as u64,
        n_measurements_entries: 0,
        n_cs_entries: fwd.cs.len() as u64,
        n_satisfied_interests: fwd.counters.satisfied_interests,
        n_unsatisfied_interests: fwd.counters.unsatisfied_interests,
        ..ForwarderStatus::default()
    };
    // We have no name tree: report the entries it would hold at least.
    s.n_name_tree_entries = s.n_fib_entries + s.n_pit_entries + s.n_cs_entries;
    for (_, info) in fwd.faces() {
        let c = &info.counters;
        s.n_in_interests += c.in_interests;
        s.n_in_data += c.in_data;
        s.n_in_nacks += c.in_nacks;
        s.n_out_interests += c.out_interests;
        s.n_out_data += c.out_data;
        s.n_out_nacks += c.out_nacks;
    }
    s
}

/// The `status/general` dataset's content.
pub fn general(core: &Core) -> Bytes {
    status(core).encode()
}
