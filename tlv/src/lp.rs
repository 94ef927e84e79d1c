//! NDNLPv2, the NDN link protocol: the `LpPacket` codec, Nack headers,
//! indexed fragmentation and a bounded reassembler.
//!
//! This module owns the link-adaptation layer of
//! <https://redmine.named-data.net/projects/nfd/wiki/NDNLPv2>: every header
//! field NFD knows (Sequence, FragIndex, FragCount, PitToken, Nack,
//! NextHopFaceId, IncomingFaceId, CachePolicy, CongestionMark, Ack,
//! TxSequence, NonDiscovery, PrefixAnnouncement) and the Fragment. It does
//! **not** decode the network-layer packet inside the Fragment (the caller
//! hands [`LpPacket::fragment`] to the Interest/Data decoder), and it does not
//! implement the reliability protocol (retransmission timers, Ack
//! scheduling) — only the fields that protocol carries. It reads no clock:
//! the [`Reassembler`] is given `now` by its caller.
//!
//! ```text
//!   LpPacket = LP-PACKET-TYPE TLV-LENGTH
//!                *LpHeaderField
//!                [Fragment]
//! ```
//!
//! Type numbers are those of ndn-cxx `ndn-cxx/lp/tlv.hpp`; the header order
//! on the wire is increasing TLV-TYPE, as ndn-cxx encodes and checks it.
//! Lines quoted with `>` beside the code are the spec's grammar or rules;
//! where marked "paraphrased" the wording is ours, the rule the spec's.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};

use crate::types::{DATA, IGNORED, INTEREST, LP_PACKET};
use crate::wire::{
    self, nni_tlv_len, tlv_len, write_header, write_nni_tlv, write_tlv, Reader, SpanReader,
};
use crate::DecodeError;

/// Fragment: the network-layer packet or a piece of it.
pub const FRAGMENT: u64 = 0x50;
/// Sequence: 8-octet fixed-width link sequence number.
pub const SEQUENCE: u64 = 0x51;
/// FragIndex: zero-based index of this fragment.
pub const FRAG_INDEX: u64 = 0x52;
/// FragCount: number of fragments of the network-layer packet.
pub const FRAG_COUNT: u64 = 0x53;
/// PitToken: opaque token an upstream echoes back.
pub const PIT_TOKEN: u64 = 0x62;
/// Nack header.
pub const NACK: u64 = 0x0320;
/// NackReason inside Nack.
pub const NACK_REASON: u64 = 0x0321;
/// NextHopFaceId: the face a local app asks the forwarder to use.
pub const NEXT_HOP_FACE_ID: u64 = 0x0330;
/// IncomingFaceId: the face a packet arrived on (to local apps). 817 per ndn-cxx.
pub const INCOMING_FACE_ID: u64 = 0x0331;
/// CachePolicy header.
pub const CACHE_POLICY: u64 = 0x0334;
/// CachePolicyType inside CachePolicy.
pub const CACHE_POLICY_TYPE: u64 = 0x0335;
/// CongestionMark.
pub const CONGESTION_MARK: u64 = 0x0340;
/// Ack: acknowledges a TxSequence (repeatable).
pub const ACK: u64 = 0x0344;
/// TxSequence: 8-octet transmission sequence number for reliability.
pub const TX_SEQUENCE: u64 = 0x0348;
/// NonDiscovery: empty flag for self-learning forwarding.
pub const NON_DISCOVERY: u64 = 0x034C;
/// PrefixAnnouncement: carries a prefix-announcement Data.
pub const PREFIX_ANNOUNCEMENT: u64 = 0x0350;

/// Longest PitToken the spec allows ("TLV-LENGTH(=1..32)").
pub const MAX_PIT_TOKEN_LEN: usize = 32;

/// Why a Nack was sent (NackReason, spec "Network NACK").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NackReason {
    /// 50: the upstream is congested.
    Congestion,
    /// 100: the Interest is a duplicate (looped).
    Duplicate,
    /// 150: no route towards the name.
    NoRoute,
    /// Any other code, kept as a number.
    Other(u64),
}

impl NackReason {
    /// The wire code.
    pub fn code(self) -> u64 {
        match self {
            Self::Congestion => 50,
            Self::Duplicate => 100,
            Self::NoRoute => 150,
            Self::Other(n) => n,
        }
    }

    /// The reason for a wire code.
    pub fn from_code(code: u64) -> Self {
        match code {
            50 => Self::Congestion,
            100 => Self::Duplicate,
            150 => Self::NoRoute,
            n => Self::Other(n),
        }
    }
}

/// The Nack header: `Nack ::= NACK-TYPE TLV-LENGTH [NackReason]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Nack {
    /// The reason, if the sender gave one (absent means "unspecified").
    pub reason: Option<NackReason>,
}

impl Nack {
    fn value_len(&self) -> usize {
        self.reason
            .map_or(0, |r| nni_tlv_len(NACK_REASON, r.code()))
    }

    fn decode(value: Bytes) -> Result<Self, DecodeError> {
        // > NackReason ::= NACK-REASON-TYPE TLV-LENGTH NonNegativeInteger
        // Unknown sub-elements follow the packet format's evolvability rule.
        let mut r = Reader::new(value);
        let mut reason = None;
        while !r.is_empty() {
            let e = r.read()?;
            match e.typ {
                NACK_REASON if reason.is_none() => {
                    reason = Some(NackReason::from_code(nni(&e.value, "NackReason")?));
                }
                NACK_REASON => return Err(invalid("NackReason", "repeated")),
                t if wire::is_critical(t) => return Err(DecodeError::UnknownCritical(t)),
                _ => {}
            }
        }
        Ok(Self { reason })
    }
}

/// CachePolicyType (spec "Cache Policy"): what a downstream may do with Data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CachePolicyType {
    /// 1: the Data must not be cached.
    NoCache,
    /// Any other code, kept as a number (ndn-cxx rejects these; we carry them).
    Other(u64),
}

impl CachePolicyType {
    /// The wire code.
    pub fn code(self) -> u64 {
        match self {
            Self::NoCache => 1,
            Self::Other(n) => n,
        }
    }

    /// The policy for a wire code.
    pub fn from_code(code: u64) -> Self {
        match code {
            1 => Self::NoCache,
            n => Self::Other(n),
        }
    }

    fn value_len(self) -> usize {
        nni_tlv_len(CACHE_POLICY_TYPE, self.code())
    }
}

/// What a datagram received on a link is, judged from its outer TLV-TYPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPacketKind {
    /// A bare Interest (type 0x05), not wrapped in an LpPacket.
    Interest,
    /// A bare Data (type 0x06), not wrapped in an LpPacket.
    Data,
    /// An LpPacket (type 0x64).
    LpPacket,
}

/// Classifies a link datagram by its outer TLV-TYPE, without decoding it.
///
/// > NDNLPv2 … a bare network-layer packet (Interest or Data) without any
/// > LpPacket framing is also acceptable on a link. (paraphrase of the spec's
/// > "Packet Format" section; NFD's GenericLinkService accepts both)
pub fn classify(wire: &[u8]) -> Result<LinkPacketKind, DecodeError> {
    let mut p = 0;
    match wire::read_varnum(wire, &mut p)? {
        INTEREST => Ok(LinkPacketKind::Interest),
        DATA => Ok(LinkPacketKind::Data),
        LP_PACKET => Ok(LinkPacketKind::LpPacket),
        found => Err(DecodeError::UnexpectedType {
            expected: LP_PACKET,
            found,
        }),
    }
}

/// One NDNLPv2 packet: header fields and an optional fragment.
///
/// Every field is optional. `fragment` shares the decoded input buffer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LpPacket {
    /// Sequence (0x51): link sequence number, needed for fragmentation.
    pub sequence: Option<u64>,
    /// FragIndex (0x52): zero-based fragment index; absent means 0.
    pub frag_index: Option<u64>,
    /// FragCount (0x53): number of fragments; absent means 1.
    pub frag_count: Option<u64>,
    /// PitToken (0x62): 1–32 opaque octets echoed by the upstream.
    pub pit_token: Option<Bytes>,
    /// Nack (0x0320): the fragment is a Nacked Interest.
    pub nack: Option<Nack>,
    /// NextHopFaceId (0x0330): local app asks to forward via this face.
    pub next_hop_face_id: Option<u64>,
    /// IncomingFaceId (0x0331): the face the packet arrived on.
    pub incoming_face_id: Option<u64>,
    /// CachePolicy (0x0334) with its CachePolicyType.
    pub cache_policy: Option<CachePolicyType>,
    /// CongestionMark (0x0340): nonzero when the sender saw congestion.
    pub congestion_mark: Option<u64>,
    /// Ack (0x0344, repeatable): acknowledged TxSequence numbers, in wire order.
    pub acks: Vec<u64>,
    /// TxSequence (0x0348): reliability sequence number of this transmission.
    pub tx_sequence: Option<u64>,
    /// NonDiscovery (0x034C): the Interest must not trigger discovery.
    pub non_discovery: bool,
    /// PrefixAnnouncement (0x0350): the announcement Data's wire, opaque here.
    pub prefix_announcement: Option<Bytes>,
    /// Fragment (0x50): a whole network-layer packet or one piece of it.
    pub fragment: Option<Bytes>,
}

/// Whether a header field may appear more than once (only Ack does).
const fn is_repeatable(typ: u64) -> bool {
    typ == ACK
}

fn invalid(field: &'static str, reason: &'static str) -> DecodeError {
    DecodeError::Invalid { field, reason }
}

fn nni(value: &[u8], field: &'static str) -> Result<u64, DecodeError> {
    wire::decode_nni(value).map_err(|_| invalid(field, "not a NonNegativeInteger"))
}

/// `Sequence`, `Ack`, `TxSequence`: "TLV-LENGTH(=8) fixed-width unsigned integer".
fn fixed_u64(value: &[u8], field: &'static str) -> Result<u64, DecodeError> {
    let b: [u8; 8] = value
        .try_into()
        .map_err(|_| invalid(field, "must be exactly 8 octets"))?;
    Ok(u64::from_be_bytes(b))
}

const FIXED_U64_TLV_LEN: usize = 2 + 8; // type < 253, length 8, value.
const FIXED3_U64_TLV_LEN: usize = 4 + 8; // 3-octet type, length 8, value.

impl LpPacket {
    /// An LpPacket carrying a whole network-layer packet and no headers.
    pub fn wrap(network_packet: Bytes) -> Self {
        Self {
            fragment: Some(network_packet),
            ..Self::default()
        }
    }

    /// A Nack of `interest_wire` (a whole Interest) for `reason`.
    pub fn nack(reason: NackReason, interest_wire: Bytes) -> Self {
        Self {
            nack: Some(Nack {
                reason: Some(reason),
            }),
            fragment: Some(interest_wire),
            ..Self::default()
        }
    }

    /// True when this packet carries a Nack header.
    pub fn is_nack(&self) -> bool {
        self.nack.is_some()
    }

    /// The Nack's reason, if this is a Nack that gives one.
    pub fn nack_reason(&self) -> Option<NackReason> {
        self.nack.and_then(|n| n.reason)
    }

    /// True when this packet is one piece of a fragmented network-layer packet.
    pub fn is_fragmented(&self) -> bool {
        self.frag_count.unwrap_or(1) > 1
    }

    /// True when no header field is set (only, at most, a Fragment).
    pub fn has_no_headers(&self) -> bool {
        let Self {
            sequence,
            frag_index,
            frag_count,
            pit_token,
            nack,
            next_hop_face_id,
            incoming_face_id,
            cache_policy,
            congestion_mark,
            acks,
            tx_sequence,
            non_discovery,
            prefix_announcement,
            fragment: _,
        } = self;
        sequence.is_none()
            && frag_index.is_none()
            && frag_count.is_none()
            && pit_token.is_none()
            && nack.is_none()
            && next_hop_face_id.is_none()
            && incoming_face_id.is_none()
            && cache_policy.is_none()
            && congestion_mark.is_none()
            && acks.is_empty()
            && tx_sequence.is_none()
            && !non_discovery
            && prefix_announcement.is_none()
    }

    /// Decodes an LpPacket, or a bare Interest/Data as an LpPacket whose only
    /// field is the Fragment (the whole input, not copied).
    ///
    /// Rules applied, from the NDNLPv2 spec and ndn-cxx `lp/packet.cpp`:
    ///
    /// > An unknown header field whose TLV-TYPE is in the range [800, 959]
    /// > and whose two least-significant bits are 00 can be ignored; any other
    /// > unrecognized field causes the packet to be dropped. (spec, "Packet
    /// > Format", paraphrased)
    ///
    /// Fragment is the last field; header fields appear in increasing
    /// TLV-TYPE order; a non-repeatable field appears at most once (the
    /// checks of ndn-cxx `lp::Packet::wireDecode`, whose tests supply this
    /// module's fixtures).
    ///
    /// TLV-TYPE 126 is skipped wherever it appears (crate-wide rule, see
    /// [`crate::types::IGNORED`]).
    pub fn decode(wire: Bytes) -> Result<Self, DecodeError> {
        // Spans rather than sliced `Bytes` until a field keeps bytes (every
        // slice is a reference-count round trip; see Interest::decode).
        let (typ, value) = wire::single_span(&wire)?;
        match typ {
            INTEREST | DATA => return Ok(Self::wrap(wire)),
            LP_PACKET => {}
            found => {
                return Err(DecodeError::UnexpectedType {
                    expected: LP_PACKET,
                    found,
                })
            }
        }

        let mut lp = Self::default();
        let mut r = SpanReader::new(&wire, value);
        let mut prev: Option<u64> = None;
        while !r.is_empty() {
            let (typ, range) = r.read()?;
            if typ == IGNORED {
                continue;
            }
            if lp.fragment.is_some() {
                return Err(invalid("Fragment", "must be the last field"));
            }
            if typ == FRAGMENT {
                lp.fragment = Some(wire.slice(range));
                continue;
            }
            if let Some(p) = prev {
                if typ < p {
                    return Err(invalid("LpPacket", "header fields out of order"));
                }
                if typ == p && !is_repeatable(typ) {
                    return Err(invalid(field_name(typ), "repeated"));
                }
            }
            prev = Some(typ);
            lp.decode_header(typ, &wire, range)?;
        }

        // FragIndex must be below FragCount; absent, they default to 0 and 1
        // (spec "Indexed Fragmentation", paraphrased).
        if lp.frag_index.unwrap_or(0) >= lp.frag_count.unwrap_or(1) {
            return Err(invalid("FragIndex", "not less than FragCount"));
        }
        Ok(lp)
    }

    /// Decodes the header field of type `typ` whose value is `buf[range]`.
    fn decode_header(
        &mut self,
        typ: u64,
        buf: &Bytes,
        range: std::ops::Range<usize>,
    ) -> Result<(), DecodeError> {
        let v = &buf[range.clone()];
        match typ {
            SEQUENCE => self.sequence = Some(fixed_u64(v, "Sequence")?),
            FRAG_INDEX => self.frag_index = Some(nni(v, "FragIndex")?),
            FRAG_COUNT => self.frag_count = Some(nni(v, "FragCount")?),
            PIT_TOKEN => {
                // > PitToken ::= PIT-TOKEN-TYPE TLV-LENGTH(=1..32) 1*32OCTET
                if v.is_empty() || v.len() > MAX_PIT_TOKEN_LEN {
                    return Err(invalid("PitToken", "length must be 1 to 32 octets"));
                }
                self.pit_token = Some(buf.slice(range));
            }
            NACK => self.nack = Some(Nack::decode(buf.slice(range))?),
            NEXT_HOP_FACE_ID => self.next_hop_face_id = Some(nni(v, "NextHopFaceId")?),
            INCOMING_FACE_ID => self.incoming_face_id = Some(nni(v, "IncomingFaceId")?),
            CACHE_POLICY => {
                // > CachePolicy ::= CACHE-POLICY-TYPE TLV-LENGTH CachePolicyType
                let mut r = Reader::new(buf.slice(range));
                let mut policy = None;
                while !r.is_empty() {
                    let inner = r.read()?;
                    match inner.typ {
                        CACHE_POLICY_TYPE if policy.is_none() => {
                            policy = Some(CachePolicyType::from_code(nni(
                                &inner.value,
                                "CachePolicyType",
                            )?));
                        }
                        CACHE_POLICY_TYPE => return Err(invalid("CachePolicyType", "repeated")),
                        t if wire::is_critical(t) => return Err(DecodeError::UnknownCritical(t)),
                        _ => {}
                    }
                }
                self.cache_policy =
                    Some(policy.ok_or(invalid("CachePolicyType", "missing in CachePolicy"))?);
            }
            CONGESTION_MARK => self.congestion_mark = Some(nni(v, "CongestionMark")?),
            ACK => self.acks.push(fixed_u64(v, "Ack")?),
            TX_SEQUENCE => self.tx_sequence = Some(fixed_u64(v, "TxSequence")?),
            NON_DISCOVERY => {
                if !v.is_empty() {
                    return Err(invalid("NonDiscovery", "must be empty"));
                }
                self.non_discovery = true;
            }
            PREFIX_ANNOUNCEMENT => {
                // The value is one Data packet; we keep it opaque.
                self.prefix_announcement = Some(buf.slice(range));
            }
            // Unknown field: ignorable iff TLV-TYPE is in [800, 959] and its
            // two least significant bits are 00; anything else drops the packet
            // (same rule as ndn-cxx `FieldInfo::canIgnore`).
            t if (800..=959).contains(&t) && t & 0b11 == 0 => {}
            t => return Err(DecodeError::UnknownCritical(t)),
        }
        Ok(())
    }

    /// Size of the LpPacket's TLV-VALUE.
    fn value_len(&self) -> usize {
        let mut n = 0;
        if self.sequence.is_some() {
            n += FIXED_U64_TLV_LEN;
        }
        if let Some(v) = self.frag_index {
            n += nni_tlv_len(FRAG_INDEX, v);
        }
        if let Some(v) = self.frag_count {
            n += nni_tlv_len(FRAG_COUNT, v);
        }
        if let Some(t) = &self.pit_token {
            n += tlv_len(PIT_TOKEN, t.len());
        }
        if let Some(nack) = &self.nack {
            n += tlv_len(NACK, nack.value_len());
        }
        if let Some(v) = self.next_hop_face_id {
            n += nni_tlv_len(NEXT_HOP_FACE_ID, v);
        }
        if let Some(v) = self.incoming_face_id {
            n += nni_tlv_len(INCOMING_FACE_ID, v);
        }
        if let Some(p) = self.cache_policy {
            n += tlv_len(CACHE_POLICY, p.value_len());
        }
        if let Some(v) = self.congestion_mark {
            n += nni_tlv_len(CONGESTION_MARK, v);
        }
        n += self.acks.len() * FIXED3_U64_TLV_LEN;
        if self.tx_sequence.is_some() {
            n += FIXED3_U64_TLV_LEN;
        }
        if self.non_discovery {
            n += tlv_len(NON_DISCOVERY, 0);
        }
        if let Some(pa) = &self.prefix_announcement {
            n += tlv_len(PREFIX_ANNOUNCEMENT, pa.len());
        }
        if let Some(f) = &self.fragment {
            n += tlv_len(FRAGMENT, f.len());
        }
        n
    }

    /// Size of [`LpPacket::encode`]'s output, computed without encoding.
    pub fn wire_len(&self) -> usize {
        tlv_len(LP_PACKET, self.value_len())
    }

    /// Encodes as an LpPacket (always framed, even with no headers), header
    /// fields in increasing TLV-TYPE order and the Fragment last. The buffer
    /// is sized exactly once.
    pub fn encode(&self) -> Bytes {
        let value_len = self.value_len();
        let mut out = BytesMut::with_capacity(tlv_len(LP_PACKET, value_len));
        write_header(&mut out, LP_PACKET, value_len);
        if let Some(v) = self.sequence {
            write_tlv(&mut out, SEQUENCE, &v.to_be_bytes());
        }
        if let Some(v) = self.frag_index {
            write_nni_tlv(&mut out, FRAG_INDEX, v);
        }
        if let Some(v) = self.frag_count {
            write_nni_tlv(&mut out, FRAG_COUNT, v);
        }
        if let Some(t) = &self.pit_token {
            write_tlv(&mut out, PIT_TOKEN, t);
        }
        if let Some(nack) = &self.nack {
            write_header(&mut out, NACK, nack.value_len());
            if let Some(r) = nack.reason {
                write_nni_tlv(&mut out, NACK_REASON, r.code());
            }
        }
        if let Some(v) = self.next_hop_face_id {
            write_nni_tlv(&mut out, NEXT_HOP_FACE_ID, v);
        }
        if let Some(v) = self.incoming_face_id {
            write_nni_tlv(&mut out, INCOMING_FACE_ID, v);
        }
        if let Some(p) = self.cache_policy {
            write_header(&mut out, CACHE_POLICY, p.value_len());
            write_nni_tlv(&mut out, CACHE_POLICY_TYPE, p.code());
        }
        if let Some(v) = self.congestion_mark {
            write_nni_tlv(&mut out, CONGESTION_MARK, v);
        }
        for a in &self.acks {
            write_tlv(&mut out, ACK, &a.to_be_bytes());
        }
        if let Some(v) = self.tx_sequence {
            write_tlv(&mut out, TX_SEQUENCE, &v.to_be_bytes());
        }
        if self.non_discovery {
            write_header(&mut out, NON_DISCOVERY, 0);
        }
        if let Some(pa) = &self.prefix_announcement {
            write_tlv(&mut out, PREFIX_ANNOUNCEMENT, pa);
        }
        if let Some(f) = &self.fragment {
            write_tlv(&mut out, FRAGMENT, f);
        }
        debug_assert_eq!(out.len(), tlv_len(LP_PACKET, value_len));
        out.freeze()
    }

    /// Encodes for a link the shortest way: a packet with no header fields
    /// whose fragment is one whole Interest or Data goes out bare (as NFD
    /// does); anything else is framed by [`LpPacket::encode`].
    pub fn encode_for_link(&self) -> Bytes {
        if self.has_no_headers() {
            if let Some(f) = &self.fragment {
                let whole = matches!(
                    classify(f),
                    Ok(LinkPacketKind::Interest | LinkPacketKind::Data)
                ) && wire::read_single(f.clone()).is_ok();
                if whole {
                    return f.clone();
                }
            }
        }
        self.encode()
    }

    /// This packet with the fragmentation fields (Sequence, FragIndex,
    /// FragCount) and the fragment removed: the headers that describe the
    /// network-layer packet as a whole.
    fn network_headers(&self) -> Self {
        Self {
            sequence: None,
            frag_index: None,
            frag_count: None,
            fragment: None,
            ..self.clone()
        }
    }
}

/// The spec's name of a header field, for error messages.
fn field_name(typ: u64) -> &'static str {
    match typ {
        FRAGMENT => "Fragment",
        SEQUENCE => "Sequence",
        FRAG_INDEX => "FragIndex",
        FRAG_COUNT => "FragCount",
        PIT_TOKEN => "PitToken",
        NACK => "Nack",
        NEXT_HOP_FACE_ID => "NextHopFaceId",
        INCOMING_FACE_ID => "IncomingFaceId",
        CACHE_POLICY => "CachePolicy",
        CONGESTION_MARK => "CongestionMark",
        ACK => "Ack",
        TX_SEQUENCE => "TxSequence",
        NON_DISCOVERY => "NonDiscovery",
        PREFIX_ANNOUNCEMENT => "PrefixAnnouncement",
        _ => "unknown header field",
    }
}

// ---------------------------------------------------------------------------
// Fragmentation.

/// Why a packet cannot be fragmented.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FragmentError {
    /// The packet has no Fragment to split.
    #[error("packet has no fragment to split")]
    NoFragment,
    /// The packet is itself already a fragment (FragIndex or FragCount set).
    #[error("packet is already a fragment (FragIndex/FragCount set)")]
    AlreadyFragmented,
    /// Not even one payload octet fits in an LpPacket of `mtu` octets.
    #[error("mtu {mtu} leaves no room for fragment payload")]
    MtuTooSmall {
        /// The MTU asked for.
        mtu: usize,
    },
}

/// Size of an LpPacket whose headers take `headers` octets and whose
/// Fragment carries `chunk` octets.
fn lp_total(headers: usize, chunk: usize) -> usize {
    tlv_len(LP_PACKET, headers + tlv_len(FRAGMENT, chunk))
}

/// Largest fragment payload fitting in `mtu` with `headers` octets of header
/// fields (0 if none fits). The TL overheads vary by at most 16 octets, so
/// the loop runs a bounded number of times.
fn max_chunk(mtu: usize, headers: usize) -> usize {
    let mut c = mtu.saturating_sub(headers);
    while c > 0 && lp_total(headers, c) > mtu {
        c -= 1;
    }
    c
}

/// Splits `packet`'s fragment into LpPackets of at most `mtu` octets each
/// (spec "Indexed Fragmentation").
///
/// Every output packet gets a Sequence, consecutive from `first_sequence`
/// (the caller has consumed `result.len()` sequence numbers). When the packet
/// fits, one packet comes back without FragIndex/FragCount. Otherwise each
/// piece carries FragIndex and FragCount, and the other header fields
/// (PitToken, Nack, CongestionMark, Ack, TxSequence, …) go on the first
/// fragment only:
///
/// > header fields that apply to the network-layer packet are attached to the
/// > first fragment; the receiver takes them from the fragment with
/// > FragIndex=0 and ignores them on other fragments. (paraphrase; NFD's
/// > LpFragmenter does exactly this)
pub fn fragment(
    packet: &LpPacket,
    mtu: usize,
    first_sequence: u64,
) -> Result<Vec<Bytes>, FragmentError> {
    let payload = packet.fragment.as_ref().ok_or(FragmentError::NoFragment)?;
    if packet.frag_index.is_some() || packet.frag_count.is_some() {
        return Err(FragmentError::AlreadyFragmented);
    }

    let mut whole = packet.clone();
    whole.sequence = Some(first_sequence);
    if whole.wire_len() <= mtu {
        return Ok(vec![whole.encode()]);
    }

    // Header octets (without the Fragment) of the first and of later pieces
    // for a given FragCount; FragIndex is sized for the largest index.
    let first_headers = packet.network_headers().value_len();
    let header_len = |count: u64, extra: usize| {
        FIXED_U64_TLV_LEN
            + nni_tlv_len(FRAG_INDEX, count.saturating_sub(1))
            + nni_tlv_len(FRAG_COUNT, count)
            + extra
    };

    let len = payload.len();
    let mut count: u64 = 2;
    let (first_cap, other_cap) = loop {
        let first_cap = max_chunk(mtu, header_len(count, first_headers));
        let other_cap = max_chunk(mtu, header_len(count, 0));
        if first_cap == 0 || other_cap == 0 {
            return Err(FragmentError::MtuTooSmall { mtu });
        }
        let rest = len.saturating_sub(first_cap);
        let needed = 1 + rest.div_ceil(other_cap) as u64;
        if needed <= count {
            // Field widths computed for `count` are wide enough for `needed`.
            count = needed;
            break (first_cap, other_cap);
        }
        count = needed;
    };

    let mut out = Vec::with_capacity(count as usize);
    let mut start = 0usize;
    for index in 0..count {
        let cap = if index == 0 { first_cap } else { other_cap };
        let end = (start + cap).min(len);
        let mut piece = if index == 0 {
            packet.network_headers()
        } else {
            LpPacket::default()
        };
        piece.sequence = Some(first_sequence.wrapping_add(index));
        piece.frag_index = Some(index);
        piece.frag_count = Some(count);
        piece.fragment = Some(payload.slice(start..end));
        out.push(piece.encode());
        start = end;
    }
    Ok(out)
}

/// [`fragment`] for a bare network-layer packet (Interest or Data wire).
pub fn fragment_network_packet(
    network_packet: Bytes,
    mtu: usize,
    first_sequence: u64,
) -> Result<Vec<Bytes>, FragmentError> {
    fragment(&LpPacket::wrap(network_packet), mtu, first_sequence)
}

// ---------------------------------------------------------------------------
// Reassembly.

/// Why a received fragment was refused by the [`Reassembler`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReassemblyError {
    /// A fragment (FragCount > 1) without a Sequence cannot be placed.
    #[error("fragment without Sequence")]
    MissingSequence,
    /// A fragment (FragCount > 1) without a Fragment field.
    #[error("fragment {index} carries no payload")]
    MissingFragment {
        /// Its FragIndex.
        index: u64,
    },
    /// FragIndex is not below FragCount.
    #[error("FragIndex {index} not below FragCount {count}")]
    IndexOutOfRange {
        /// FragIndex.
        index: u64,
        /// FragCount.
        count: u64,
    },
    /// FragCount above the configured per-packet limit.
    #[error("FragCount {count} exceeds the limit of {max}")]
    TooManyFragments {
        /// Claimed FragCount.
        count: u64,
        /// Configured limit.
        max: usize,
    },
    /// A fragment disagrees with its siblings on FragCount; the partial
    /// packet was dropped.
    #[error("FragCount {found} disagrees with {expected} of earlier fragments")]
    InconsistentFragCount {
        /// FragCount of the fragments held.
        expected: u64,
        /// FragCount of this fragment.
        found: u64,
    },
    /// Buffering this fragment would exceed the byte limit even after evicting
    /// every other partial packet.
    #[error("fragment of {size} octets exceeds the reassembly buffer of {max}")]
    BufferFull {
        /// Octets this fragment needs.
        size: usize,
        /// Configured limit.
        max: usize,
    },
}

/// Limits of a [`Reassembler`]; every one bounds memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblerConfig {
    /// Largest FragCount accepted (NFD's default is 400).
    pub max_fragments: usize,
    /// Partial packets held at once; the oldest is evicted beyond this.
    pub max_partial_packets: usize,
    /// Payload octets buffered across all partial packets.
    pub max_buffered_bytes: usize,
    /// A partial packet with no new fragment for this long is dropped
    /// (NFD's default is 500 ms).
    pub timeout: Duration,
}

impl Default for ReassemblerConfig {
    fn default() -> Self {
        Self {
            max_fragments: 400,
            max_partial_packets: 256,
            max_buffered_bytes: 4 * 1024 * 1024,
            timeout: Duration::from_millis(500),
        }
    }
}

/// What a [`Reassembler`] has done, for the face counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReassemblerCounters {
    /// Fragments (FragCount > 1) received.
    pub fragments_received: u64,
    /// Network-layer packets completed from fragments.
    pub packets_reassembled: u64,
    /// Fragments ignored because that index was already held.
    pub duplicate_fragments: u64,
    /// Partial packets dropped because they timed out.
    pub dropped_timeout: u64,
    /// Partial packets or fragments dropped by a limit (count, packets, bytes).
    pub dropped_limits: u64,
    /// Partial packets or fragments dropped as inconsistent (FragCount
    /// mismatch, bad index, missing Sequence or payload).
    pub dropped_inconsistent: u64,
}

/// One network-layer packet being reassembled.
#[derive(Debug)]
struct Partial {
    /// FragCount all its fragments must agree on.
    frag_count: u64,
    /// Payload of each fragment received so far, by FragIndex.
    pieces: Vec<Option<Bytes>>,
    /// How many `pieces` are filled.
    received: usize,
    /// Payload octets held.
    bytes: usize,
    /// Header fields of fragment 0, which apply to the whole packet.
    headers: Option<LpPacket>,
    /// When the first fragment arrived (eviction picks the oldest).
    created: Instant,
    /// When the last fragment arrived (the timeout runs from here).
    last_seen: Instant,
}

/// Reassembles fragmented LpPackets (spec "Indexed Fragmentation"), per peer.
///
/// Partial packets are keyed by the caller's `peer` (a face or endpoint id,
/// so two senders never mix) and the base sequence `Sequence − FragIndex`.
/// Memory is bounded by [`ReassemblerConfig`]; no clock is read.
#[derive(Debug)]
pub struct Reassembler {
    config: ReassemblerConfig,
    partials: HashMap<(u64, u64), Partial>,
    buffered: usize,
    counters: ReassemblerCounters,
}

impl Reassembler {
    /// An empty reassembler with these limits.
    pub fn new(config: ReassemblerConfig) -> Self {
        Self {
            config,
            partials: HashMap::new(),
            buffered: 0,
            counters: ReassemblerCounters::default(),
        }
    }

    /// What has happened so far.
    pub fn counters(&self) -> ReassemblerCounters {
        self.counters
    }

    /// Partial packets held.
    pub fn partial_packets(&self) -> usize {
        self.partials.len()
    }

    /// Payload octets held across all partial packets.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// Takes one received LpPacket from `peer`.
    ///
    /// An unfragmented packet (FragCount absent or 1) comes straight back.
    /// A fragment is held; when it completes its packet, the reassembled
    /// LpPacket comes back: the header fields of fragment 0, no
    /// Sequence/FragIndex/FragCount, and the joined payload as Fragment.
    /// A duplicate fragment is ignored (`Ok(None)`).
    pub fn receive(
        &mut self,
        peer: u64,
        lp: LpPacket,
        now: Instant,
    ) -> Result<Option<LpPacket>, ReassemblyError> {
        self.expire(now);
        let count = lp.frag_count.unwrap_or(1);
        let index = lp.frag_index.unwrap_or(0);
        if index >= count {
            self.counters.dropped_inconsistent += 1;
            return Err(ReassemblyError::IndexOutOfRange { index, count });
        }
        if count == 1 {
            let mut whole = lp;
            whole.frag_index = None;
            whole.frag_count = None;
            return Ok(Some(whole));
        }
        self.counters.fragments_received += 1;

        if count > self.config.max_fragments as u64 {
            self.counters.dropped_limits += 1;
            return Err(ReassemblyError::TooManyFragments {
                count,
                max: self.config.max_fragments,
            });
        }
        let Some(sequence) = lp.sequence else {
            self.counters.dropped_inconsistent += 1;
            return Err(ReassemblyError::MissingSequence);
        };
        let Some(payload) = lp.fragment.clone() else {
            self.counters.dropped_inconsistent += 1;
            return Err(ReassemblyError::MissingFragment { index });
        };
        let key = (peer, sequence.wrapping_sub(index));

        // Agree on FragCount with the fragments already held.
        if let Some(p) = self.partials.get(&key) {
            if p.frag_count != count {
                let expected = p.frag_count;
                self.remove(&key);
                self.counters.dropped_inconsistent += 1;
                return Err(ReassemblyError::InconsistentFragCount {
                    expected,
                    found: count,
                });
            }
            // `index < count == pieces.len()`, checked above.
            if p.pieces.get(index as usize).is_some_and(Option::is_some) {
                self.counters.duplicate_fragments += 1;
                return Ok(None);
            }
        }

        // Make room: bytes first, then the number of partial packets.
        let size = payload.len();
        if size > self.config.max_buffered_bytes {
            self.counters.dropped_limits += 1;
            return Err(ReassemblyError::BufferFull {
                size,
                max: self.config.max_buffered_bytes,
            });
        }
        while self.buffered + size > self.config.max_buffered_bytes {
            if !self.evict_oldest_except(&key) {
                break;
            }
        }
        if self.buffered + size > self.config.max_buffered_bytes {
            // Only the packet this fragment belongs to is left; drop it whole.
            self.remove(&key);
            self.counters.dropped_limits += 1;
            return Err(ReassemblyError::BufferFull {
                size,
                max: self.config.max_buffered_bytes,
            });
        }
        if !self.partials.contains_key(&key) {
            while self.partials.len() >= self.config.max_partial_packets.max(1) {
                if !self.evict_oldest_except(&key) {
                    break;
                }
            }
            self.partials.insert(
                key,
                Partial {
                    frag_count: count,
                    // Bounded: count <= max_fragments, checked above.
                    pieces: vec![None; count as usize],
                    received: 0,
                    bytes: 0,
                    headers: None,
                    created: now,
                    last_seen: now,
                },
            );
        }

        let Some(p) = self.partials.get_mut(&key) else {
            // Inserted just above; unreachable, but not worth a panic.
            return Ok(None);
        };
        if let Some(slot) = p.pieces.get_mut(index as usize) {
            *slot = Some(payload);
        }
        p.received += 1;
        p.bytes += size;
        p.last_seen = now;
        self.buffered += size;
        if index == 0 {
            p.headers = Some(lp.network_headers());
        }
        if p.received < p.pieces.len() {
            return Ok(None);
        }

        let Some(done) = self.remove(&key) else {
            return Ok(None);
        };
        let mut joined = BytesMut::with_capacity(done.bytes);
        for piece in done.pieces.iter().flatten() {
            joined.put_slice(piece);
        }
        let mut whole = done.headers.unwrap_or_default();
        whole.fragment = Some(joined.freeze());
        self.counters.packets_reassembled += 1;
        Ok(Some(whole))
    }

    /// Drops every partial packet idle for the configured timeout; returns
    /// how many were dropped.
    pub fn expire(&mut self, now: Instant) -> usize {
        let timeout = self.config.timeout;
        let stale: Vec<(u64, u64)> = self
            .partials
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.last_seen) >= timeout)
            .map(|(k, _)| *k)
            .collect();
        for k in &stale {
            self.remove(k);
        }
        self.counters.dropped_timeout += stale.len() as u64;
        stale.len()
    }

    /// Drops every partial packet from `peer` (the face went down).
    pub fn forget_peer(&mut self, peer: u64) {
        let keys: Vec<(u64, u64)> = self
            .partials
            .keys()
            .filter(|(p, _)| *p == peer)
            .copied()
            .collect();
        for k in &keys {
            self.remove(k);
        }
    }

    fn remove(&mut self, key: &(u64, u64)) -> Option<Partial> {
        let p = self.partials.remove(key)?;
        self.buffered = self.buffered.saturating_sub(p.bytes);
        Some(p)
    }

    /// Evicts the oldest partial packet other than `keep`; false if none.
    fn evict_oldest_except(&mut self, keep: &(u64, u64)) -> bool {
        let oldest = self
            .partials
            .iter()
            .filter(|(k, _)| *k != keep)
            .min_by_key(|(_, p)| p.created)
            .map(|(k, _)| *k);
        match oldest {
            Some(k) => {
                self.remove(&k);
                self.counters.dropped_limits += 1;
                true
            }
            None => false,
        }
    }
}

impl Default for Reassembler {
    fn default() -> Self {
        Self::new(ReassemblerConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &'static [u8]) -> Bytes {
        Bytes::from_static(s)
    }

    // ndn-cxx tests/unit/lp/packet.t.cpp, EncodeFragment.
    static SEQ_FRAGMENT: [u8; 16] = [
        0x64, 0x0e, 0x51, 0x08, 0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0x50, 0x02, 0x03, 0xe8,
    ];

    // ndn-cxx tests/unit/lp/packet.t.cpp, EncodeSortOrder / DecodeNormal layout.
    static ACKS: [u8; 48] = [
        0x64, 0x2e, 0x52, 0x01, 0x00, 0x53, 0x01, 0x01, //
        0xfd, 0x03, 0x44, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x02, //
        0xfd, 0x03, 0x44, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x04, //
        0xfd, 0x03, 0x44, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x03, //
        0x50, 0x02, 0x03, 0xe8,
    ];

    // ndn-cxx tests/unit/lp/packet.t.cpp, EncodeSubTlv (Nack, Duplicate).
    static NACK_DUP: [u8; 11] = [
        0x64, 0x09, 0xfd, 0x03, 0x20, 0x05, 0xfd, 0x03, 0x21, 0x01, 0x64,
    ];

    // ndn-cxx tests/unit/lp/packet.t.cpp, DecodeBareNetworkLayerPacket.
    static BARE_INTEREST: [u8; 12] = [
        0x05, 0x0a, 0x07, 0x02, 0x03, 0xe8, 0x0a, 0x04, 0x01, 0x02, 0x03, 0x04,
    ];

    #[test]
    fn test_parse_sequence_fragment() {
        let lp = LpPacket::decode(b(&SEQ_FRAGMENT)).unwrap();
        assert_eq!(lp.sequence, Some(1000));
        assert_eq!(lp.fragment.as_deref(), Some(&[0x03, 0xe8][..]));
        assert!(!lp.is_fragmented());
    }

    #[test]
    fn test_emit_sequence_fragment() {
        let lp = LpPacket {
            sequence: Some(1000),
            fragment: Some(b(&[0x03, 0xe8])),
            ..Default::default()
        };
        assert_eq!(lp.wire_len(), SEQ_FRAGMENT.len());
        assert_eq!(&lp.encode()[..], &SEQ_FRAGMENT[..]);
    }

    #[test]
    fn test_parse_emit_acks() {
        let lp = LpPacket::decode(b(&ACKS)).unwrap();
        assert_eq!(lp.frag_index, Some(0));
        assert_eq!(lp.frag_count, Some(1));
        assert_eq!(lp.acks, vec![2, 4, 3]);
        assert_eq!(&lp.encode()[..], &ACKS[..]);
    }

    #[test]
    fn test_parse_emit_nack() {
        let lp = LpPacket::decode(b(&NACK_DUP)).unwrap();
        assert!(lp.is_nack());
        assert_eq!(lp.nack_reason(), Some(NackReason::Duplicate));
        assert_eq!(lp.fragment, None);
        assert_eq!(&lp.encode()[..], &NACK_DUP[..]);
    }

    #[test]
    fn test_nack_convenience() {
        let lp = LpPacket::nack(NackReason::NoRoute, b(&BARE_INTEREST));
        let wire = lp.encode();
        let back = LpPacket::decode(wire).unwrap();
        assert_eq!(back.nack_reason(), Some(NackReason::NoRoute));
        assert_eq!(back.fragment.as_deref(), Some(&BARE_INTEREST[..]));
        // Nack without a reason: an empty Nack element.
        let bare = LpPacket {
            nack: Some(Nack::default()),
            ..Default::default()
        };
        assert_eq!(&bare.encode()[..], &[0x64, 0x04, 0xfd, 0x03, 0x20, 0x00]);
        let back = LpPacket::decode(bare.encode()).unwrap();
        assert!(back.is_nack());
        assert_eq!(back.nack_reason(), None);
        for (code, r) in [
            (50, NackReason::Congestion),
            (100, NackReason::Duplicate),
            (150, NackReason::NoRoute),
            (7, NackReason::Other(7)),
        ] {
            assert_eq!(NackReason::from_code(code), r);
            assert_eq!(r.code(), code);
        }
    }

    #[test]
    fn test_bare_network_packet() {
        let wire = b(&BARE_INTEREST);
        assert_eq!(classify(&wire).unwrap(), LinkPacketKind::Interest);
        assert_eq!(classify(&[0x06, 0x00]).unwrap(), LinkPacketKind::Data);
        assert_eq!(classify(&ACKS).unwrap(), LinkPacketKind::LpPacket);
        assert!(classify(&[0x07, 0x00]).is_err());
        assert_eq!(classify(&[]), Err(DecodeError::Truncated));
        let lp = LpPacket::decode(wire.clone()).unwrap();
        assert!(lp.has_no_headers());
        assert_eq!(lp.fragment.as_ref(), Some(&wire));
        // Zero copy: the fragment is the input buffer.
        assert_eq!(lp.fragment.as_ref().unwrap().as_ptr(), wire.as_ptr());
        assert_eq!(&lp.encode_for_link()[..], &BARE_INTEREST[..]);
        assert_eq!(lp.encode()[0], 0x64);
        // With a header it must stay framed.
        let mut marked = lp.clone();
        marked.congestion_mark = Some(1);
        assert_eq!(marked.encode_for_link()[0], 0x64);
    }

    #[test]
    fn test_fragment_is_zero_copy() {
        let wire = b(&SEQ_FRAGMENT);
        let lp = LpPacket::decode(wire.clone()).unwrap();
        let frag = lp.fragment.unwrap();
        assert_eq!(frag.as_ptr(), wire[14..].as_ptr());
    }

    #[test]
    fn test_every_field_round_trips() {
        let lp = LpPacket {
            sequence: Some(0xA0A1_A2A3_A4A5_A6A7),
            frag_index: Some(2),
            frag_count: Some(3),
            pit_token: Some(b(&[1, 2, 3, 4])),
            nack: Some(Nack {
                reason: Some(NackReason::Other(77)),
            }),
            next_hop_face_id: Some(300),
            incoming_face_id: Some(0x1_0000),
            cache_policy: Some(CachePolicyType::NoCache),
            congestion_mark: Some(1),
            acks: vec![9, 1, u64::MAX],
            tx_sequence: Some(42),
            non_discovery: true,
            prefix_announcement: Some(b(&[0x06, 0x00])),
            fragment: Some(b(b"payload")),
        };
        let wire = lp.encode();
        assert_eq!(wire.len(), lp.wire_len());
        assert_eq!(LpPacket::decode(wire.clone()).unwrap(), lp);
        // Headers are emitted in increasing TLV-TYPE order, Fragment last.
        let mut r = Reader::new(wire::read_single(wire).unwrap().value);
        let mut types = Vec::new();
        while !r.is_empty() {
            types.push(r.read().unwrap().typ);
        }
        assert_eq!(types.last(), Some(&FRAGMENT));
        let headers = &types[..types.len() - 1];
        assert!(headers.windows(2).all(|w| w[0] <= w[1]), "{types:?}");
        assert_eq!(
            headers,
            &[
                SEQUENCE,
                FRAG_INDEX,
                FRAG_COUNT,
                PIT_TOKEN,
                NACK,
                NEXT_HOP_FACE_ID,
                INCOMING_FACE_ID,
                CACHE_POLICY,
                CONGESTION_MARK,
                ACK,
                ACK,
                ACK,
                TX_SEQUENCE,
                NON_DISCOVERY,
                PREFIX_ANNOUNCEMENT
            ]
        );
    }

    #[test]
    fn test_each_field_alone_round_trips() {
        let base = LpPacket::default();
        let cases = [
            LpPacket {
                sequence: Some(0),
                ..base.clone()
            },
            LpPacket {
                frag_index: Some(0),
                frag_count: Some(1),
                ..base.clone()
            },
            LpPacket {
                pit_token: Some(b(&[0xAB; 32])),
                ..base.clone()
            },
            LpPacket {
                nack: Some(Nack {
                    reason: Some(NackReason::Congestion),
                }),
                ..base.clone()
            },
            LpPacket {
                next_hop_face_id: Some(1),
                ..base.clone()
            },
            LpPacket {
                incoming_face_id: Some(u64::MAX),
                ..base.clone()
            },
            LpPacket {
                cache_policy: Some(CachePolicyType::Other(9)),
                ..base.clone()
            },
            LpPacket {
                congestion_mark: Some(0),
                ..base.clone()
            },
            LpPacket {
                acks: vec![5],
                ..base.clone()
            },
            LpPacket {
                tx_sequence: Some(u64::MAX),
                ..base.clone()
            },
            LpPacket {
                non_discovery: true,
                ..base.clone()
            },
            LpPacket {
                prefix_announcement: Some(b(&[1])),
                ..base.clone()
            },
            LpPacket {
                fragment: Some(Bytes::new()),
                ..base.clone()
            },
            base.clone(),
        ];
        for lp in cases {
            let wire = lp.encode();
            assert_eq!(wire.len(), lp.wire_len(), "{lp:?}");
            assert_eq!(LpPacket::decode(wire).unwrap(), lp);
        }
    }

    #[test]
    fn test_field_fixtures() {
        // IncomingFaceId = 817 (0x331), NextHopFaceId = 816 (0x330).
        let lp = LpPacket {
            incoming_face_id: Some(5),
            ..Default::default()
        };
        assert_eq!(
            &lp.encode()[..],
            &[0x64, 0x05, 0xfd, 0x03, 0x31, 0x01, 0x05]
        );
        let lp = LpPacket {
            cache_policy: Some(CachePolicyType::NoCache),
            ..Default::default()
        };
        assert_eq!(
            &lp.encode()[..],
            &[0x64, 0x09, 0xfd, 0x03, 0x34, 0x05, 0xfd, 0x03, 0x35, 0x01, 0x01]
        );
        // ndn-cxx packet.t.cpp EncodeZeroLengthTlv: NonDiscovery.
        let lp = LpPacket {
            non_discovery: true,
            ..Default::default()
        };
        assert_eq!(&lp.encode()[..], &[0x64, 0x04, 0xfd, 0x03, 0x4c, 0x00]);
        // Empty LpPacket (ndn-cxx DecodeEmpty).
        assert_eq!(
            LpPacket::decode(b(&[0x64, 0x00])).unwrap(),
            LpPacket::default()
        );
    }

    #[test]
    fn test_unknown_field_rule() {
        // ndn-cxx DecodeIgnoredHeader: 804 = 0b11_0010_0100, in range, low bits 00.
        let ignored = b(&[
            0x64, 0x0c, 0x52, 0x01, 0x00, 0xfd, 0x03, 0x24, 0x01, 0x02, 0x50, 0x02, 0x03, 0xe8,
        ]);
        let lp = LpPacket::decode(ignored).unwrap();
        assert_eq!(lp.frag_index, Some(0));
        assert!(lp.fragment.is_some());
        // ndn-cxx DecodeUnrecognizedHeader: 802 has low bits 10 → drop.
        let critical = b(&[
            0x64, 0x0c, 0x52, 0x01, 0x00, 0xfd, 0x03, 0x22, 0x01, 0x02, 0x50, 0x02, 0x03, 0xe8,
        ]);
        assert_eq!(
            LpPacket::decode(critical),
            Err(DecodeError::UnknownCritical(802))
        );
        // Edges of the range: 800 is Nack (known); 956 ignorable; 960 not.
        for (t, ok) in [
            (956u64, true),
            (960, false),
            (796, false),
            (957, false),
            (0x54, false),
        ] {
            let mut out = BytesMut::new();
            let mut inner = BytesMut::new();
            write_tlv(&mut inner, t, &[]);
            write_tlv(&mut out, LP_PACKET, &inner);
            assert_eq!(LpPacket::decode(out.freeze()).is_ok(), ok, "type {t}");
        }
        // Type 126 is skipped anywhere, even after the Fragment.
        let lp = LpPacket::decode(b(&[0x64, 0x06, 0x50, 0x02, 0x03, 0xe8, 0x7e, 0x00])).unwrap();
        assert_eq!(lp.fragment.as_deref(), Some(&[0x03, 0xe8][..]));
    }

    #[test]
    fn test_structure_errors() {
        // ndn-cxx DecodeRepeatedNonRepeatableHeader.
        assert_eq!(
            LpPacket::decode(b(&[0x64, 0x06, 0x52, 0x01, 0x00, 0x52, 0x01, 0x01])),
            Err(invalid("FragIndex", "repeated"))
        );
        // ndn-cxx DecodeRepeatedFragment.
        assert_eq!(
            LpPacket::decode(b(&[
                0x64, 0x08, 0x50, 0x02, 0x03, 0xe8, 0x50, 0x02, 0x03, 0xe9
            ])),
            Err(invalid("Fragment", "must be the last field"))
        );
        // ndn-cxx DecodeWrongOrderAmongHeaders.
        assert_eq!(
            LpPacket::decode(b(&[
                0x64, 0x0a, 0x53, 0x01, 0x01, 0x52, 0x01, 0x00, 0x50, 0x02, 0x03, 0xe8
            ])),
            Err(invalid("LpPacket", "header fields out of order"))
        );
        // ndn-cxx DecodeWrongOrderFragment.
        assert_eq!(
            LpPacket::decode(b(&[
                0x64, 0x0a, 0x52, 0x01, 0x00, 0x50, 0x02, 0x03, 0xe8, 0x53, 0x01, 0x01
            ])),
            Err(invalid("Fragment", "must be the last field"))
        );
        // ndn-cxx DecodeSeqNum: Sequence is fixed-width, not a NonNegativeInteger.
        assert_eq!(
            LpPacket::decode(b(&[
                0x64, 0x0a, 0x51, 0x04, 0xa4, 0xa5, 0xa6, 0xa7, 0x50, 0x02, 0xff, 0xff
            ])),
            Err(invalid("Sequence", "must be exactly 8 octets"))
        );
        // A Name is neither an LpPacket nor a network packet.
        assert_eq!(
            LpPacket::decode(b(&[0x07, 0x00])),
            Err(DecodeError::UnexpectedType {
                expected: LP_PACKET,
                found: 7
            })
        );
        // FragIndex must be below FragCount.
        assert_eq!(
            LpPacket::decode(b(&[0x64, 0x06, 0x52, 0x01, 0x02, 0x53, 0x01, 0x02])),
            Err(invalid("FragIndex", "not less than FragCount"))
        );
        assert!(LpPacket::decode(b(&[0x64, 0x03, 0x53, 0x01, 0x00])).is_err());
        // PitToken: 1..32 octets.
        assert!(LpPacket::decode(b(&[0x64, 0x02, 0x62, 0x00])).is_err());
        let mut long = BytesMut::new();
        let mut inner = BytesMut::new();
        write_tlv(&mut inner, PIT_TOKEN, &[0; 33]);
        write_tlv(&mut long, LP_PACKET, &inner);
        assert_eq!(
            LpPacket::decode(long.freeze()),
            Err(invalid("PitToken", "length must be 1 to 32 octets"))
        );
        // CachePolicy without its type; NonDiscovery with a value; bad NNI.
        assert!(LpPacket::decode(b(&[0x64, 0x04, 0xfd, 0x03, 0x34, 0x00])).is_err());
        assert!(LpPacket::decode(b(&[0x64, 0x05, 0xfd, 0x03, 0x4c, 0x01, 0x00])).is_err());
        assert_eq!(
            LpPacket::decode(b(&[0x64, 0x05, 0x53, 0x03, 0, 0, 1])),
            Err(invalid("FragCount", "not a NonNegativeInteger"))
        );
        // Trailing bytes after the LpPacket.
        assert_eq!(
            LpPacket::decode(b(&[0x64, 0x00, 0x00])),
            Err(DecodeError::TrailingBytes(1))
        );
    }

    #[test]
    fn test_impossible_len() {
        // LpPacket claiming 0xFFFF octets with 2 present.
        assert!(matches!(
            LpPacket::decode(b(&[0x64, 0xfd, 0xff, 0xff, 0x50, 0x00])),
            Err(DecodeError::LengthExceeds {
                typ: 0x64,
                len: 0xffff,
                ..
            })
        ));
        // Fragment claiming more than its LpPacket holds.
        assert!(matches!(
            LpPacket::decode(b(&[0x64, 0x03, 0x50, 0x05, 0x01])),
            Err(DecodeError::LengthExceeds {
                typ: 0x50,
                len: 5,
                ..
            })
        ));
        // Truncated inside a 3-octet TLV-TYPE.
        assert_eq!(
            LpPacket::decode(b(&[0x64, 0x02, 0xfd, 0x03])),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn test_decode_never_panics_on_prefixes_and_flips() {
        let full = LpPacket {
            sequence: Some(7),
            pit_token: Some(b(&[1, 2])),
            nack: Some(Nack {
                reason: Some(NackReason::Congestion),
            }),
            cache_policy: Some(CachePolicyType::NoCache),
            acks: vec![1],
            fragment: Some(b(&BARE_INTEREST)),
            ..Default::default()
        }
        .encode();
        for n in 0..full.len() {
            let _ = LpPacket::decode(full.slice(..n));
        }
        for i in 0..full.len() {
            for bit in 0..8 {
                let mut v = full.to_vec();
                v[i] ^= 1 << bit;
                let _ = LpPacket::decode(Bytes::from(v));
            }
        }
    }

    // --- fragmentation and reassembly ---

    fn big_payload(n: usize) -> Bytes {
        Bytes::from((0..n).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>())
    }

    fn fragments_of(packet: &LpPacket, mtu: usize, seq: u64) -> Vec<LpPacket> {
        let frags = fragment(packet, mtu, seq).unwrap();
        for f in &frags {
            assert!(f.len() <= mtu, "fragment of {} > mtu {mtu}", f.len());
        }
        frags
            .into_iter()
            .map(|f| LpPacket::decode(f).unwrap())
            .collect()
    }

    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn test_fragment_fits_in_one() {
        let pkt = LpPacket::wrap(b(&BARE_INTEREST));
        let frags = fragments_of(&pkt, 1400, 77);
        assert_eq!(frags.len(), 1);
        assert_eq!(frags[0].sequence, Some(77));
        assert_eq!(frags[0].frag_index, None);
        assert_eq!(frags[0].frag_count, None);
        assert_eq!(frags[0].fragment.as_deref(), Some(&BARE_INTEREST[..]));
    }

    #[test]
    fn test_fragment_headers_and_sequences() {
        let payload = big_payload(20 * 1024);
        let pkt = LpPacket {
            pit_token: Some(b(&[9; 4])),
            congestion_mark: Some(1),
            incoming_face_id: Some(12),
            fragment: Some(payload.clone()),
            ..Default::default()
        };
        let frags = fragments_of(&pkt, 1400, u64::MAX - 3);
        let n = frags.len() as u64;
        assert!(n >= 15, "{n} fragments");
        for (i, f) in frags.iter().enumerate() {
            assert_eq!(f.sequence, Some((u64::MAX - 3).wrapping_add(i as u64)));
            assert_eq!(f.frag_index, Some(i as u64));
            assert_eq!(f.frag_count, Some(n));
            if i == 0 {
                assert_eq!(f.pit_token.as_deref(), Some(&[9u8; 4][..]));
                assert_eq!(f.congestion_mark, Some(1));
                assert_eq!(f.incoming_face_id, Some(12));
            } else {
                assert_eq!(f.pit_token, None);
                assert_eq!(f.congestion_mark, None);
            }
        }
        let joined: Vec<u8> = frags
            .iter()
            .flat_map(|f| f.fragment.clone().unwrap().to_vec())
            .collect();
        assert_eq!(&joined[..], &payload[..]);
    }

    #[test]
    fn test_fragment_errors() {
        assert_eq!(
            fragment(&LpPacket::default(), 1400, 0),
            Err(FragmentError::NoFragment)
        );
        let already = LpPacket {
            frag_count: Some(2),
            fragment: Some(b(&[1])),
            ..Default::default()
        };
        assert_eq!(
            fragment(&already, 1400, 0),
            Err(FragmentError::AlreadyFragmented)
        );
        let pkt = LpPacket::wrap(big_payload(100));
        assert_eq!(
            fragment(&pkt, 20, 0),
            Err(FragmentError::MtuTooSmall { mtu: 20 })
        );
        assert_eq!(
            fragment(&pkt, 0, 0),
            Err(FragmentError::MtuTooSmall { mtu: 0 })
        );
        // Smallest workable MTU: one payload octet per fragment.
        let frags = fragment(&LpPacket::wrap(big_payload(5)), 21, 0).unwrap();
        assert!(frags.iter().all(|f| f.len() <= 21));
        // Headers too large for the first fragment.
        let heavy = LpPacket {
            prefix_announcement: Some(big_payload(500)),
            fragment: Some(big_payload(1000)),
            ..Default::default()
        };
        assert_eq!(
            fragment(&heavy, 400, 0),
            Err(FragmentError::MtuTooSmall { mtu: 400 })
        );
    }

    #[test]
    fn test_fragment_every_mtu_small_packet() {
        let payload = big_payload(300);
        let pkt = LpPacket {
            nack: Some(Nack {
                reason: Some(NackReason::Duplicate),
            }),
            fragment: Some(payload.clone()),
            ..Default::default()
        };
        for mtu in 30..=340 {
            let frags = fragments_of(&pkt, mtu, 5);
            let mut r = Reassembler::default();
            let now = t0();
            let mut out = None;
            for f in frags {
                if let Some(done) = r.receive(1, f, now).unwrap() {
                    out = Some(done);
                }
            }
            let done = out.unwrap_or_else(|| panic!("mtu {mtu} never completed"));
            assert_eq!(done.fragment.as_ref(), Some(&payload), "mtu {mtu}");
            assert_eq!(done.nack_reason(), Some(NackReason::Duplicate));
        }
    }

    fn reassemble(order: &[usize], frags: &[LpPacket]) -> (Reassembler, Vec<LpPacket>) {
        let mut r = Reassembler::default();
        let now = t0();
        let mut done = Vec::new();
        for &i in order {
            if let Some(p) = r.receive(7, frags[i].clone(), now).unwrap() {
                done.push(p);
            }
        }
        (r, done)
    }

    #[test]
    fn test_reassemble_in_order_reversed_shuffled() {
        let payload = big_payload(20 * 1024);
        let pkt = LpPacket {
            pit_token: Some(b(&[1, 2, 3])),
            fragment: Some(payload.clone()),
            ..Default::default()
        };
        let frags = fragments_of(&pkt, 1400, 1000);
        let n = frags.len();
        let in_order: Vec<usize> = (0..n).collect();
        let reversed: Vec<usize> = (0..n).rev().collect();
        // A fixed permutation (multiplication by a unit mod n), deterministic.
        let step = (2..n).find(|s| gcd(*s, n) == 1).unwrap_or(1);
        let shuffled: Vec<usize> = (0..n).map(|i| (i * step + 3) % n).collect();
        for order in [in_order, reversed, shuffled] {
            let (r, done) = reassemble(&order, &frags);
            assert_eq!(done.len(), 1, "order {order:?}");
            let p = &done[0];
            assert_eq!(p.fragment.as_ref(), Some(&payload));
            assert_eq!(p.pit_token.as_deref(), Some(&[1u8, 2, 3][..]));
            assert_eq!((p.sequence, p.frag_index, p.frag_count), (None, None, None));
            let c = r.counters();
            assert_eq!(c.fragments_received, n as u64);
            assert_eq!(c.packets_reassembled, 1);
            assert_eq!(r.partial_packets(), 0);
            assert_eq!(r.buffered_bytes(), 0);
        }
    }

    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }

    #[test]
    fn test_reassemble_duplicates() {
        let payload = big_payload(5000);
        let frags = fragments_of(&LpPacket::wrap(payload.clone()), 1400, 0);
        let n = frags.len();
        let mut r = Reassembler::default();
        let now = t0();
        assert_eq!(r.receive(1, frags[0].clone(), now).unwrap(), None);
        assert_eq!(r.receive(1, frags[0].clone(), now).unwrap(), None);
        assert_eq!(r.counters().duplicate_fragments, 1);
        let mut done = None;
        for f in &frags[1..] {
            done = r.receive(1, f.clone(), now).unwrap();
        }
        assert_eq!(done.unwrap().fragment, Some(payload));
        // A late duplicate after completion starts a new partial that times out.
        assert_eq!(r.receive(1, frags[n - 1].clone(), now).unwrap(), None);
        assert_eq!(r.partial_packets(), 1);
        assert_eq!(r.expire(now + Duration::from_secs(1)), 1);
        assert_eq!(r.counters().dropped_timeout, 1);
    }

    #[test]
    fn test_reassemble_peers_do_not_mix() {
        let a = big_payload(3000);
        let fa = fragments_of(&LpPacket::wrap(a.clone()), 1400, 0);
        let fb = fragments_of(&LpPacket::wrap(a.slice(1..)), 1400, 0);
        let mut r = Reassembler::default();
        let now = t0();
        for f in &fa[..fa.len() - 1] {
            assert_eq!(r.receive(1, f.clone(), now).unwrap(), None);
        }
        for f in &fb[..fb.len() - 1] {
            assert_eq!(r.receive(2, f.clone(), now).unwrap(), None);
        }
        assert_eq!(r.partial_packets(), 2);
        let done = r
            .receive(1, fa[fa.len() - 1].clone(), now)
            .unwrap()
            .unwrap();
        assert_eq!(done.fragment, Some(a.clone()));
        r.forget_peer(2);
        assert_eq!(r.partial_packets(), 0);
        assert_eq!(r.buffered_bytes(), 0);
    }

    #[test]
    fn test_reassemble_timeout() {
        let frags = fragments_of(&LpPacket::wrap(big_payload(4000)), 1400, 0);
        let mut r = Reassembler::default();
        let start = t0();
        r.receive(1, frags[0].clone(), start).unwrap();
        // Activity re-arms the timer.
        r.receive(1, frags[1].clone(), start + Duration::from_millis(400))
            .unwrap();
        assert_eq!(r.expire(start + Duration::from_millis(800)), 0);
        assert_eq!(r.expire(start + Duration::from_millis(900)), 1);
        assert_eq!(r.counters().dropped_timeout, 1);
        assert_eq!(r.buffered_bytes(), 0);
        // receive() expires too: the last fragment arrives too late.
        r.receive(1, frags[0].clone(), start).unwrap();
        let late = start + Duration::from_secs(5);
        for f in &frags[1..] {
            assert_eq!(r.receive(1, f.clone(), late).unwrap(), None);
        }
        assert_eq!(r.counters().dropped_timeout, 2);
        assert_eq!(r.counters().packets_reassembled, 0);
    }

    fn frag(seq: u64, index: u64, count: u64, payload: &'static [u8]) -> LpPacket {
        LpPacket {
            sequence: Some(seq),
            frag_index: Some(index),
            frag_count: Some(count),
            fragment: Some(b(payload)),
            ..Default::default()
        }
    }

    #[test]
    fn test_reassemble_huge_frag_count_does_not_allocate() {
        let mut r = Reassembler::default();
        let err = r
            .receive(1, frag(0, 0, 1_000_000_000, b"x"), t0())
            .unwrap_err();
        assert_eq!(
            err,
            ReassemblyError::TooManyFragments {
                count: 1_000_000_000,
                max: 400
            }
        );
        assert_eq!(r.partial_packets(), 0);
        assert_eq!(r.counters().dropped_limits, 1);
    }

    #[test]
    fn test_reassemble_inconsistent() {
        let mut r = Reassembler::default();
        let now = t0();
        assert_eq!(r.receive(1, frag(10, 0, 3, b"ab"), now).unwrap(), None);
        // Same base sequence (11 - 1), different FragCount: the partial is dropped.
        assert_eq!(
            r.receive(1, frag(11, 1, 4, b"cd"), now),
            Err(ReassemblyError::InconsistentFragCount {
                expected: 3,
                found: 4
            })
        );
        assert_eq!(r.partial_packets(), 0);
        assert_eq!(r.counters().dropped_inconsistent, 1);
        let mut no_seq = frag(0, 0, 2, b"x");
        no_seq.sequence = None;
        assert_eq!(
            r.receive(1, no_seq, now),
            Err(ReassemblyError::MissingSequence)
        );
        let mut no_payload = frag(0, 1, 2, b"x");
        no_payload.fragment = None;
        assert_eq!(
            r.receive(1, no_payload, now),
            Err(ReassemblyError::MissingFragment { index: 1 })
        );
        assert_eq!(
            r.receive(1, frag(0, 5, 2, b"x"), now),
            Err(ReassemblyError::IndexOutOfRange { index: 5, count: 2 })
        );
        assert_eq!(r.counters().dropped_inconsistent, 4);
        // Unfragmented packets pass straight through.
        let plain = LpPacket {
            sequence: Some(3),
            frag_count: Some(1),
            fragment: Some(b(b"whole")),
            ..Default::default()
        };
        let out = r.receive(1, plain, now).unwrap().unwrap();
        assert_eq!(out.fragment.as_deref(), Some(&b"whole"[..]));
        assert_eq!(out.frag_count, None);
    }

    #[test]
    fn test_reassemble_limits() {
        let cfg = ReassemblerConfig {
            max_fragments: 4,
            max_partial_packets: 2,
            max_buffered_bytes: 10,
            timeout: Duration::from_millis(500),
        };
        let mut r = Reassembler::new(cfg);
        let now = t0();
        // Three partial packets: the oldest is evicted.
        r.receive(1, frag(100, 0, 2, b"a"), now).unwrap();
        r.receive(1, frag(200, 0, 2, b"b"), now + Duration::from_millis(1))
            .unwrap();
        r.receive(1, frag(300, 0, 2, b"c"), now + Duration::from_millis(2))
            .unwrap();
        assert_eq!(r.partial_packets(), 2);
        assert_eq!(r.counters().dropped_limits, 1);
        // Packet 100's second half now starts a fresh partial (evicting 200).
        assert_eq!(r.receive(1, frag(101, 1, 2, b"A"), now).unwrap(), None);
        // 300 survives and completes.
        let done = r.receive(1, frag(301, 1, 2, b"C"), now).unwrap().unwrap();
        assert_eq!(done.fragment.as_deref(), Some(&b"cC"[..]));
        // Byte limit: 10 octets in total.
        let mut r = Reassembler::new(cfg);
        r.receive(1, frag(0, 0, 2, b"123456"), now).unwrap();
        r.receive(1, frag(10, 0, 2, b"7890"), now + Duration::from_millis(1))
            .unwrap();
        assert_eq!(r.buffered_bytes(), 10);
        // One more octet evicts the oldest partial.
        r.receive(1, frag(20, 0, 2, b"x"), now + Duration::from_millis(2))
            .unwrap();
        assert_eq!(r.buffered_bytes(), 5);
        assert_eq!(r.partial_packets(), 2);
        // A single fragment above the whole budget is refused.
        assert_eq!(
            r.receive(1, frag(30, 0, 2, b"0123456789A"), now),
            Err(ReassemblyError::BufferFull { size: 11, max: 10 })
        );
        // A packet that alone would exceed the budget is dropped whole.
        let mut r = Reassembler::new(cfg);
        r.receive(1, frag(0, 0, 2, b"123456"), now).unwrap();
        assert_eq!(
            r.receive(1, frag(1, 1, 2, b"789012"), now),
            Err(ReassemblyError::BufferFull { size: 6, max: 10 })
        );
        assert_eq!(r.partial_packets(), 0);
        assert_eq!(r.buffered_bytes(), 0);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn opt<T: std::fmt::Debug + Clone + 'static>(
            s: impl Strategy<Value = T> + 'static,
        ) -> impl Strategy<Value = Option<T>> {
            proptest::option::of(s)
        }

        fn bytes(min: usize, max: usize) -> impl Strategy<Value = Bytes> {
            proptest::collection::vec(any::<u8>(), min..=max).prop_map(Bytes::from)
        }

        prop_compose! {
            fn arb_lp()(
                sequence in opt(any::<u64>()),
                frag in opt((1u64..1000).prop_flat_map(|c| (0..c, Just(c)))),
                pit_token in opt(bytes(1, 32)),
                nack in opt(opt(any::<u64>())),
                next_hop_face_id in opt(any::<u64>()),
                incoming_face_id in opt(any::<u64>()),
                cache_policy in opt(any::<u64>()),
                congestion_mark in opt(any::<u64>()),
                acks in proptest::collection::vec(any::<u64>(), 0..4),
                tx_sequence in opt(any::<u64>()),
                non_discovery in any::<bool>(),
                prefix_announcement in opt(bytes(0, 40)),
                fragment in opt(bytes(0, 300)),
            ) -> LpPacket {
                LpPacket {
                    sequence,
                    frag_index: frag.map(|f| f.0),
                    frag_count: frag.map(|f| f.1),
                    pit_token,
                    nack: nack.map(|r| Nack { reason: r.map(NackReason::from_code) }),
                    next_hop_face_id,
                    incoming_face_id,
                    cache_policy: cache_policy.map(CachePolicyType::from_code),
                    congestion_mark,
                    acks,
                    tx_sequence,
                    non_discovery,
                    prefix_announcement,
                    fragment,
                }
            }
        }

        proptest! {
            #[test]
            fn round_trip(lp in arb_lp()) {
                let wire = lp.encode();
                prop_assert_eq!(wire.len(), lp.wire_len());
                prop_assert_eq!(LpPacket::decode(wire).unwrap(), lp);
            }

            #[test]
            fn decode_never_panics(v in proptest::collection::vec(any::<u8>(), 0..200)) {
                let _ = LpPacket::decode(Bytes::from(v.clone()));
                let mut framed = BytesMut::new();
                write_tlv(&mut framed, LP_PACKET, &v);
                let _ = LpPacket::decode(framed.freeze());
            }

            #[test]
            fn fragment_then_reassemble(
                len in 1usize..12_000,
                mtu in 40usize..2000,
                seq in any::<u64>(),
                perm_seed in any::<u64>(),
                token in opt(bytes(1, 8)),
            ) {
                let payload = big_payload(len);
                let pkt = LpPacket { pit_token: token.clone(), fragment: Some(payload.clone()), ..Default::default() };
                let frags = fragment(&pkt, mtu, seq).unwrap();
                prop_assert!(frags.iter().all(|f| f.len() <= mtu));
                let mut order: Vec<usize> = (0..frags.len()).collect();
                // Deterministic shuffle from the seed (Fisher-Yates, xorshift).
                let mut x = perm_seed | 1;
                for i in (1..order.len()).rev() {
                    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                    order.swap(i, (x % (i as u64 + 1)) as usize);
                }
                let mut r = Reassembler::new(ReassemblerConfig { max_fragments: 10_000, ..Default::default() });
                let now = Instant::now();
                let mut done = vec![];
                for i in order {
                    let lp = LpPacket::decode(frags[i].clone()).unwrap();
                    if let Some(p) = r.receive(3, lp, now).unwrap() {
                        done.push(p);
                    }
                }
                prop_assert_eq!(done.len(), 1);
                prop_assert_eq!(done[0].fragment.as_ref(), Some(&payload));
                prop_assert_eq!(&done[0].pit_token, &token);
                prop_assert_eq!(r.buffered_bytes(), 0);
            }
        }
    }
}
