//! TLV-TYPE numbers assigned by NDN packet format v0.3 (§ "TLV-TYPE number
//! assignments"), NDNLPv2 and the NFD management protocol.

// Packet types.
/// Interest packet.
pub const INTEREST: u64 = 0x05;
/// Data packet.
pub const DATA: u64 = 0x06;
/// NDNLPv2 LpPacket.
pub const LP_PACKET: u64 = 0x64;

// Common fields.
/// Name.
pub const NAME: u64 = 0x07;
/// GenericNameComponent.
pub const GENERIC_COMPONENT: u64 = 0x08;
/// ImplicitSha256DigestComponent.
pub const IMPLICIT_SHA256_DIGEST_COMPONENT: u64 = 0x01;
/// ParametersSha256DigestComponent.
pub const PARAMETERS_SHA256_DIGEST_COMPONENT: u64 = 0x02;
/// KeywordNameComponent.
pub const KEYWORD_COMPONENT: u64 = 0x20;
/// SegmentNameComponent.
pub const SEGMENT_COMPONENT: u64 = 0x32;
/// ByteOffsetNameComponent.
pub const BYTE_OFFSET_COMPONENT: u64 = 0x34;
/// VersionNameComponent.
pub const VERSION_COMPONENT: u64 = 0x36;
/// TimestampNameComponent.
pub const TIMESTAMP_COMPONENT: u64 = 0x38;
/// SequenceNumNameComponent.
pub const SEQUENCE_NUM_COMPONENT: u64 = 0x3A;

// Interest.
/// CanBePrefix.
pub const CAN_BE_PREFIX: u64 = 0x21;
/// MustBeFresh.
pub const MUST_BE_FRESH: u64 = 0x12;
/// ForwardingHint.
pub const FORWARDING_HINT: u64 = 0x1E;
/// Nonce.
pub const NONCE: u64 = 0x0A;
/// InterestLifetime.
pub const INTEREST_LIFETIME: u64 = 0x0C;
/// HopLimit.
pub const HOP_LIMIT: u64 = 0x22;
/// ApplicationParameters.
pub const APPLICATION_PARAMETERS: u64 = 0x24;
/// InterestSignatureInfo.
pub const INTEREST_SIGNATURE_INFO: u64 = 0x2C;
/// InterestSignatureValue.
pub const INTEREST_SIGNATURE_VALUE: u64 = 0x2E;

// Data.
/// MetaInfo.
pub const META_INFO: u64 = 0x14;
/// Content.
pub const CONTENT: u64 = 0x15;
/// SignatureInfo.
pub const SIGNATURE_INFO: u64 = 0x16;
/// SignatureValue.
pub const SIGNATURE_VALUE: u64 = 0x17;
/// ContentType.
pub const CONTENT_TYPE: u64 = 0x18;
/// FreshnessPeriod.
pub const FRESHNESS_PERIOD: u64 = 0x19;
/// FinalBlockId.
pub const FINAL_BLOCK_ID: u64 = 0x1A;

// Signature.
/// SignatureType.
pub const SIGNATURE_TYPE: u64 = 0x1B;
/// KeyLocator.
pub const KEY_LOCATOR: u64 = 0x1C;
/// KeyDigest.
pub const KEY_DIGEST: u64 = 0x1D;
/// SignatureNonce.
pub const SIGNATURE_NONCE: u64 = 0x26;
/// SignatureTime.
pub const SIGNATURE_TIME: u64 = 0x28;
/// SignatureSeqNum.
pub const SIGNATURE_SEQ_NUM: u64 = 0x2A;
/// ValidityPeriod.
pub const VALIDITY_PERIOD: u64 = 0xFD;
/// NotBefore.
pub const NOT_BEFORE: u64 = 0xFE;
/// NotAfter.
pub const NOT_AFTER: u64 = 0xFF;

/// Type 126 is reserved by the spec for sparse encodings and is ignored
/// wherever it appears ("TLV-TYPE 126 ... MUST be ignored").
pub const IGNORED: u64 = 126;
