//! The forwarding tables (NFD's `daemon/table`): FIB, PIT, content store,
//! dead nonce list and strategy choice.
//!
//! Everything here is synchronous and does no I/O; callers pass the current
//! time in, so expiry is tested deterministically. Tables are keyed by the
//! wire encoding of names' components ([`picasso_tlv::Name::prefix_value`]),
//! so a longest-prefix match hashes byte slices and allocates nothing.

pub mod cs;
pub mod dead_nonce_list;
pub mod fib;
pub mod id_map;
pub mod pit;
pub mod strategy_choice;

pub use cs::{ContentStore, CsLimits};
pub use dead_nonce_list::DeadNonceList;
pub use fib::{Fib, FibEntry, NextHop};
pub use pit::{InRecord, OutRecord, Pit, PitEntry, PitKey};
pub use strategy_choice::StrategyChoice;

/// A `HashMap` for keys that come from the network (name bytes): foldhash,
/// seeded at random per map, several times faster than SipHash on the
/// 20–60 byte names the tables hash several times per packet, and still
/// keyed, so colliding names cannot be precomputed.
pub type NameMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
