//! `picasso-forwarder`: the NDN forwarder every PiCasso node runs.
//!
//! Architecture after NFD's daemon (see the NFD Developer Guide):
//!
//! ```text
//!   face (transport + link service) ──► fw::Forwarder pipelines ──► strategy ──► face
//!                                          │ uses
//!                                          ▼
//!                        table: Fib · Pit · Cs · DeadNonceList · StrategyChoice
//! ```
//!
//! - [`table`]: the forwarding tables, synchronous and free of I/O, so they
//!   are tested without a runtime; time is always passed in.
//! - [`routing`]: the distance-vector protocol between neighbouring nodes
//!   (hellos and vector updates under `/localhop/picasso`), which installs
//!   RIB routes of origin NLSR towards the nodes serving each prefix.
//! - [`fw`]: the forwarder's pipelines (`on_incoming_interest`,
//!   `on_content_store_miss`, `on_incoming_data`, …) and the strategies,
//!   each its own file. Strategies record their intents; the forwarder
//!   carries them out.
//! - [`face`]: transports and the link service; [`runtime`]: the forwarder
//!   task that owns the tables and the faces; [`daemon`] is `picasso fwd`
//!   as a library (config, listeners, neighbours, clean shutdown),
//!   embeddable with its own cancellation token.
//! - [`mgmt`]: NFD-compatible management under `/localhost/nfd`, one
//!   manager per module (faces, fib, rib, strategy-choice, cs, status),
//!   reached through the internal face; [`nfdc`]: its client side.
//! - [`app`]: the application side — [`app::Client`], pipelined fetching
//!   ([`app::fetch`]) and serving segmented objects ([`app::publish`]).
//! - [`bench`](mod@bench): `picasso bench ping`, through a forwarder and direct.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod bench;
pub mod daemon;
pub mod face;
pub mod fw;
pub mod mgmt;
pub mod nfdc;
pub mod routing;
pub mod runtime;
pub mod table;

/// Identifies a face within one forwarder. 0 is never a face; ids 1–255
/// are reserved for internal faces as in NFD (1 = management/internal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FaceId(pub u64);

impl FaceId {
    /// The internal face through which management is reached.
    pub const INTERNAL: FaceId = FaceId(1);
    /// The content store's pseudo-face (Data served from the cache).
    pub const CONTENT_STORE: FaceId = FaceId(254);
    /// Never a valid face.
    pub const INVALID: FaceId = FaceId(0);
}

impl std::fmt::Display for FaceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
