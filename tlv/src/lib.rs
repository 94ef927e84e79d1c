//! `picasso-tlv`: the NDN packet format v0.3 and NDNLPv2 codec PiCasso stands on.
//!
//! Pure: no I/O, no async, no tokio. Every decoder takes a [`bytes::Bytes`]
//! and keeps slices of it (names, contents and whole wire packets share the
//! input buffer), so a forwarder can resend a decoded packet unchanged.
//!
//! ```text
//!   bytes ──► wire::Reader ──► Packet::decode ──┬─► Interest  (name, selectors, params, signature)
//!                                               ├─► Data      (meta info, content, signature)
//!                                               └─► LpPacket  (headers, fragment ─► Interest/Data, Nack)
//!   struct ──► encode() ──► Bytes     security: sign/verify DigestSha256, HMAC-SHA256, Ed25519
//!   mgmt:  ControlParameters, ControlResponse, NFD datasets
//! ```
//!
//! Layout: [`wire`] (VAR-NUMBER, NonNegativeInteger, element reader),
//! [`types`] (TLV-TYPE numbers), [`name`] (names and components, URIs),
//! [`interest`], [`data`], [`signature`] (SignatureInfo, keys, sign/verify),
//! [`lp`] (NDNLPv2, fragmentation and reassembly), [`mgmt`] (NFD management
//! TLVs), [`packet`] (dispatch on the outer type).
//!
//! What this crate does not support: the NDN packet format v0.2 selectors
//! (Selectors, MinSuffixComponents, Exclude, …) are rejected as unknown
//! critical elements, as v0.3 requires; signature types other than
//! DigestSha256 (0), Ed25519 (5) and HMAC-SHA256 (4) are decoded and carried
//! but cannot be verified (SHA256-with-RSA and -ECDSA need certificates).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod data;
pub mod interest;
pub mod lp;
pub mod mgmt;
pub mod name;
pub mod signature;
pub mod types;
pub mod wire;

pub use data::Data;
pub use interest::Interest;
pub use lp::LpPacket;
pub use name::{Component, Name};
pub use signature::{KeyLocator, SignatureInfo, Signer, Verifier};

/// Largest packet this crate accepts (NDN's MAX_NDN_PACKET_SIZE).
pub const MAX_PACKET_SIZE: usize = 8800;

/// Why a byte string is not a valid packet or element.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ends in the middle of a TLV header.
    #[error("truncated TLV header")]
    Truncated,
    /// A TLV-LENGTH claims more bytes than remain.
    #[error("TLV type {typ} claims length {len} but only {remaining} bytes remain")]
    LengthExceeds {
        /// TLV-TYPE of the element.
        typ: u64,
        /// Claimed TLV-LENGTH.
        len: u64,
        /// Bytes actually left.
        remaining: u64,
    },
    /// A different element was required here.
    #[error("expected TLV type {expected}, found {found}")]
    UnexpectedType {
        /// The required TLV-TYPE.
        expected: u64,
        /// The TLV-TYPE present.
        found: u64,
    },
    /// A critical element that the decoder does not know (spec §1.3).
    #[error("unrecognized critical TLV type {0}")]
    UnknownCritical(u64),
    /// A required element is absent.
    #[error("required TLV type {0} is missing")]
    Missing(u64),
    /// A NonNegativeInteger whose length is not 1, 2, 4 or 8.
    #[error("NonNegativeInteger of invalid length {0}")]
    BadNonNegativeInteger(usize),
    /// Bytes follow the outermost element.
    #[error("{0} trailing bytes after the packet")]
    TrailingBytes(usize),
    /// A packet larger than [`MAX_PACKET_SIZE`].
    #[error("packet of {0} bytes exceeds the maximum packet size")]
    TooLarge(u64),
    /// A field is present but its value is invalid.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The spec's name of the field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}
