//! NFD management TLVs: ControlParameters, ControlResponse and the status
//! datasets (general status, faces, FIB, RIB, strategy choice, CS info).
//!
//! This module owns the encodings of the NFD Management protocol
//! (<https://redmine.named-data.net/projects/nfd/wiki/Management>,
//! ControlCommand, FaceMgmt, FibMgmt, RibMgmt, StrategyChoice, CsMgmt
//! pages). Type numbers and field order follow ndn-cxx
//! `ndn-cxx/encoding/tlv-nfd.hpp` and `ndn-cxx/mgmt/nfd/*.cpp`, which is what
//! NFD and its tools put on the wire. It does **not** build or parse command
//! Interests, sign them, segment datasets, or carry out any command: the
//! forwarder's `mgmt` managers do that with these types.
//!
//! Note that many TLV-TYPE numbers are reused with different meanings in
//! different structures (0x80 is FaceStatus, FibEntry, RibEntry, CsInfo,
//! StrategyChoice and NfdVersion; 0x81 is LocalUri, StartTimestamp,
//! NextHopRecord, Route and NHits); [`tt`] lists them grouped by structure.
//!
//! Decoding rules:
//! - ControlParameters is decoded as ndn-cxx does: fields in any order, the
//!   first occurrence of each wins, unrecognized elements are ignored (the
//!   ControlCommand page makes every field optional and lets each command
//!   pick the ones it uses).
//! - Dataset entries are decoded strictly in NFD's order, required fields
//!   must be present; elements after the last known field are ignored.
//! - TLV-TYPE 126 is skipped wherever it appears.
//! - A bad value is a [`DecodeError::Invalid`] whose `field` is the spec's
//!   field name.

use std::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::name::read_name;
use crate::types::{IGNORED, NAME};
use crate::wire::{self, write_header, write_nni_tlv, write_tlv, Element, Reader};
use crate::{DecodeError, Name};

/// TLV-TYPE numbers of NFD management, grouped by the structure they live in.
pub mod tt {
    // ControlParameters (ControlCommand page).
    /// ControlParameters.
    pub const CONTROL_PARAMETERS: u64 = 0x68;
    /// FaceId.
    pub const FACE_ID: u64 = 0x69;
    /// Cost.
    pub const COST: u64 = 0x6A;
    /// Strategy (contains a Name).
    pub const STRATEGY: u64 = 0x6B;
    /// Flags.
    pub const FLAGS: u64 = 0x6C;
    /// ExpirationPeriod, in milliseconds.
    pub const EXPIRATION_PERIOD: u64 = 0x6D;
    /// Origin (route origin).
    pub const ORIGIN: u64 = 0x6F;
    /// Mask.
    pub const MASK: u64 = 0x70;
    /// Uri (remote face URI).
    pub const URI: u64 = 0x72;
    /// LocalUri.
    pub const LOCAL_URI: u64 = 0x81;
    /// Capacity.
    pub const CAPACITY: u64 = 0x83;
    /// Count.
    pub const COUNT: u64 = 0x84;
    /// FacePersistency.
    pub const FACE_PERSISTENCY: u64 = 0x85;
    /// BaseCongestionMarkingInterval, in nanoseconds.
    pub const BASE_CONGESTION_MARKING_INTERVAL: u64 = 0x87;
    /// DefaultCongestionThreshold, in octets.
    pub const DEFAULT_CONGESTION_THRESHOLD: u64 = 0x88;
    /// Mtu.
    pub const MTU: u64 = 0x89;

    // ControlResponse.
    /// ControlResponse.
    pub const CONTROL_RESPONSE: u64 = 0x65;
    /// StatusCode.
    pub const STATUS_CODE: u64 = 0x66;
    /// StatusText.
    pub const STATUS_TEXT: u64 = 0x67;

    // ForwarderStatus (general status dataset).
    /// NfdVersion.
    pub const NFD_VERSION: u64 = 0x80;
    /// StartTimestamp, milliseconds since the Unix epoch.
    pub const START_TIMESTAMP: u64 = 0x81;
    /// CurrentTimestamp, milliseconds since the Unix epoch.
    pub const CURRENT_TIMESTAMP: u64 = 0x82;
    /// NNameTreeEntries.
    pub const N_NAME_TREE_ENTRIES: u64 = 0x83;
    /// NFibEntries.
    pub const N_FIB_ENTRIES: u64 = 0x84;
    /// NPitEntries.
    pub const N_PIT_ENTRIES: u64 = 0x85;
    /// NMeasurementsEntries.
    pub const N_MEASUREMENTS_ENTRIES: u64 = 0x86;
    /// NCsEntries (also in CsInfo).
    pub const N_CS_ENTRIES: u64 = 0x87;

    // Counters shared by ForwarderStatus and FaceStatus.
    /// NInInterests.
    pub const N_IN_INTERESTS: u64 = 0x90;
    /// NInData.
    pub const N_IN_DATA: u64 = 0x91;
    /// NOutInterests.
    pub const N_OUT_INTERESTS: u64 = 0x92;
    /// NOutData.
    pub const N_OUT_DATA: u64 = 0x93;
    /// NInBytes.
    pub const N_IN_BYTES: u64 = 0x94;
    /// NOutBytes.
    pub const N_OUT_BYTES: u64 = 0x95;
    /// NInNacks.
    pub const N_IN_NACKS: u64 = 0x97;
    /// NOutNacks.
    pub const N_OUT_NACKS: u64 = 0x98;
    /// NSatisfiedInterests.
    pub const N_SATISFIED_INTERESTS: u64 = 0x99;
    /// NUnsatisfiedInterests.
    pub const N_UNSATISFIED_INTERESTS: u64 = 0x9A;

    // Face management.
    /// FaceStatus.
    pub const FACE_STATUS: u64 = 0x80;
    /// FaceScope.
    pub const FACE_SCOPE: u64 = 0x84;
    /// LinkType.
    pub const LINK_TYPE: u64 = 0x86;

    // Content store management.
    /// CsInfo.
    pub const CS_INFO: u64 = 0x80;
    /// NHits.
    pub const N_HITS: u64 = 0x81;
    /// NMisses.
    pub const N_MISSES: u64 = 0x82;

    // FIB management.
    /// FibEntry.
    pub const FIB_ENTRY: u64 = 0x80;
    /// NextHopRecord.
    pub const NEXT_HOP_RECORD: u64 = 0x81;

    // Strategy choice management.
    /// StrategyChoice.
    pub const STRATEGY_CHOICE: u64 = 0x80;

    // RIB management.
    /// RibEntry.
    pub const RIB_ENTRY: u64 = 0x80;
    /// Route.
    pub const ROUTE: u64 = 0x81;
}

use tt::*;

/// ControlResponse status codes used by NFD's managers.
pub mod status {
    /// 200: the command succeeded.
    pub const OK: u64 = 200;
    /// 400: ControlParameters missing, malformed or invalid for the command.
    pub const BAD_PARAMETERS: u64 = 400;
    /// 403: the command Interest failed authentication or authorization.
    pub const UNAUTHORIZED: u64 = 403;
    /// 404: the addressed object (e.g. a strategy or face) does not exist.
    pub const NOT_FOUND: u64 = 404;
    /// 406: faces/create or faces/update asked for something unsupported.
    pub const NOT_ACCEPTABLE: u64 = 406;
    /// 409: faces/create for a face that already exists (body: its parameters).
    pub const CONFLICT: u64 = 409;
    /// 410: the face to update or to route through is gone.
    pub const GONE: u64 = 410;
    /// 500: internal error.
    pub const INTERNAL_ERROR: u64 = 500;
    /// 501: unknown module or verb.
    pub const NOT_IMPLEMENTED: u64 = 501;
    /// 504: face creation timed out (e.g. TCP connect).
    pub const TIMEOUT: u64 = 504;
}

/// Route origin (RibMgmt "Route origin"), kept as a number so unknown ones survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteOrigin(pub u64);

impl RouteOrigin {
    /// 0: registered by a local application.
    pub const APP: Self = Self(0);
    /// 64: automatic prefix registration (nfd-autoreg).
    pub const AUTOREG: Self = Self(64);
    /// 65: registered by a remote client (e.g. a laptop on the hub).
    pub const CLIENT: Self = Self(65);
    /// 66: NDN auto-configuration (ndn-autoconfig).
    pub const AUTOCONF: Self = Self(66);
    /// 128: the NLSR routing daemon.
    pub const NLSR: Self = Self(128);
    /// 129: a prefix announcement.
    pub const PREFIX_ANN: Self = Self(129);
    /// 255: static configuration.
    pub const STATIC: Self = Self(255);
}

/// Route flag ChildInherit: the route applies to longer prefixes too.
pub const ROUTE_FLAG_CHILD_INHERIT: u64 = 1;
/// Route flag Capture: routes of shorter prefixes are not inherited.
pub const ROUTE_FLAG_CAPTURE: u64 = 2;

/// Face flag bit 0: NDNLPv2 local fields (NextHopFaceId, IncomingFaceId…) on.
pub const FACE_FLAG_LOCAL_FIELDS_ENABLED: u64 = 1;
/// Face flag bit 1: NDNLPv2 reliability on.
pub const FACE_FLAG_LP_RELIABILITY_ENABLED: u64 = 2;
/// Face flag bit 2: congestion marking on.
pub const FACE_FLAG_CONGESTION_MARKING_ENABLED: u64 = 4;

/// CsInfo flag bit 0: the CS admits new Data.
pub const CS_FLAG_ENABLE_ADMIT: u64 = 1;
/// CsInfo flag bit 1: the CS serves Data from cache.
pub const CS_FLAG_ENABLE_SERVE: u64 = 2;

/// FaceScope: whether the face's peer is on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FaceScope(pub u64);

impl FaceScope {
    /// 0: the peer is another host.
    pub const NON_LOCAL: Self = Self(0);
    /// 1: the peer is on this host (Unix socket, in-process).
    pub const LOCAL: Self = Self(1);
}

/// FacePersistency: when the face is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FacePersistency(pub u64);

impl FacePersistency {
    /// 0: stays until destroyed or a socket error.
    pub const PERSISTENT: Self = Self(0);
    /// 1: created on demand, closed when idle.
    pub const ON_DEMAND: Self = Self(1);
    /// 2: stays even across socket errors (reconnects).
    pub const PERMANENT: Self = Self(2);
}

/// LinkType: the kind of link under the face.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkType(pub u64);

impl LinkType {
    /// 0: one peer.
    pub const POINT_TO_POINT: Self = Self(0);
    /// 1: a multicast group.
    pub const MULTI_ACCESS: Self = Self(1);
    /// 2: an ad hoc wireless link.
    pub const AD_HOC: Self = Self(2);
}

// ---------------------------------------------------------------------------
// Shared plumbing.

fn invalid(field: &'static str, reason: &'static str) -> DecodeError {
    DecodeError::Invalid { field, reason }
}

fn missing(field: &'static str) -> DecodeError {
    invalid(field, "missing or out of order")
}

fn nni(e: &Element, field: &'static str) -> Result<u64, DecodeError> {
    e.nni()
        .map_err(|_| invalid(field, "not a NonNegativeInteger"))
}

fn string(e: &Element, field: &'static str) -> Result<String, DecodeError> {
    String::from_utf8(e.value.to_vec()).map_err(|_| invalid(field, "not UTF-8"))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Reads a structure's fields in a fixed order, skipping type 126.
struct Fields {
    value: Bytes,
    r: Reader,
}

impl Fields {
    fn new(value: Bytes) -> Self {
        Self {
            r: Reader::new(value.clone()),
            value,
        }
    }

    /// The elements not read yet, as one slice of the input.
    fn rest(&self) -> Bytes {
        self.value
            .slice(self.value.len().saturating_sub(self.r.remaining())..)
    }

    /// Whether the next element has type `typ` (skips type-126 elements).
    fn next_is(&mut self, typ: u64) -> Result<bool, DecodeError> {
        loop {
            if self.r.is_empty() {
                return Ok(false);
            }
            match self.r.peek_type()? {
                IGNORED => {
                    self.r.read()?;
                }
                t => return Ok(t == typ),
            }
        }
    }

    fn opt(&mut self, typ: u64) -> Result<Option<Element>, DecodeError> {
        if self.next_is(typ)? {
            Ok(Some(self.r.read()?))
        } else {
            Ok(None)
        }
    }

    fn req(&mut self, typ: u64, field: &'static str) -> Result<Element, DecodeError> {
        self.opt(typ)?.ok_or(missing(field))
    }

    fn req_nni(&mut self, typ: u64, field: &'static str) -> Result<u64, DecodeError> {
        nni(&self.req(typ, field)?, field)
    }

    fn opt_nni(&mut self, typ: u64, field: &'static str) -> Result<Option<u64>, DecodeError> {
        self.opt(typ)?.map(|e| nni(&e, field)).transpose()
    }

    fn req_string(&mut self, typ: u64, field: &'static str) -> Result<String, DecodeError> {
        string(&self.req(typ, field)?, field)
    }

    fn req_name(&mut self, field: &'static str) -> Result<Name, DecodeError> {
        if !self.next_is(NAME)? {
            return Err(missing(field));
        }
        read_name(&mut self.r)
    }
}

/// A management structure with its own outer TLV: encode and decode.
pub trait MgmtTlv: Sized {
    /// Its TLV-TYPE.
    const TYPE: u64;

    /// Appends the TLV-VALUE (the fields, in NFD's order).
    fn encode_value(&self, out: &mut BytesMut);

    /// Decodes from the TLV-VALUE.
    fn decode_value(value: Bytes) -> Result<Self, DecodeError>;

    /// Appends the whole element.
    fn encode_to(&self, out: &mut BytesMut) {
        let mut value = BytesMut::new();
        self.encode_value(&mut value);
        write_tlv(out, Self::TYPE, &value);
    }

    /// The whole element as bytes.
    fn encode(&self) -> Bytes {
        let mut value = BytesMut::new();
        self.encode_value(&mut value);
        let mut out = BytesMut::with_capacity(wire::tlv_len(Self::TYPE, value.len()));
        write_header(&mut out, Self::TYPE, value.len());
        out.extend_from_slice(&value);
        out.freeze()
    }

    /// Decodes one whole element (no trailing bytes).
    fn decode(wire: Bytes) -> Result<Self, DecodeError> {
        let e = wire::read_single(wire)?;
        if e.typ != Self::TYPE {
            return Err(DecodeError::UnexpectedType {
                expected: Self::TYPE,
                found: e.typ,
            });
        }
        Self::decode_value(e.value)
    }
}

/// Decodes a status dataset (the reassembled Content of its segments): a
/// concatenation of entries of type `T`. Type-126 elements are skipped;
/// anything else is an error.
pub fn decode_list<T: MgmtTlv>(content: Bytes) -> Result<Vec<T>, DecodeError> {
    let mut r = Reader::new(content);
    let mut out = Vec::new();
    while !r.is_empty() {
        let e = r.read()?;
        match e.typ {
            IGNORED => {}
            t if t == T::TYPE => out.push(T::decode_value(e.value)?),
            found => {
                return Err(DecodeError::UnexpectedType {
                    expected: T::TYPE,
                    found,
                })
            }
        }
    }
    Ok(out)
}

/// Encodes entries back to back, as a status dataset's Content.
pub fn encode_list<T: MgmtTlv>(items: &[T]) -> Bytes {
    let mut out = BytesMut::new();
    for i in items {
        i.encode_to(&mut out);
    }
    out.freeze()
}

// ---------------------------------------------------------------------------
// ControlParameters.

/// ControlParameters (ControlCommand page): the arguments of a command and
/// the body of its successful response. Every field is optional.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ControlParameters {
    /// Name: the prefix a RIB/FIB/strategy command is about.
    pub name: Option<Name>,
    /// FaceId (0x69): the face a command is about; 0 means "the requester's face".
    pub face_id: Option<u64>,
    /// Uri (0x72): the remote FaceUri of faces/create.
    pub uri: Option<String>,
    /// LocalUri (0x81): the local FaceUri of faces/create.
    pub local_uri: Option<String>,
    /// Origin (0x6F): who registered a route.
    pub origin: Option<RouteOrigin>,
    /// Cost (0x6A): route or nexthop cost.
    pub cost: Option<u64>,
    /// Capacity (0x83): content store capacity (cs/config).
    pub capacity: Option<u64>,
    /// Count (0x84): number of entries to erase (cs/erase).
    pub count: Option<u64>,
    /// Flags (0x6C): route flags, face flags or CS flags.
    pub flags: Option<u64>,
    /// Mask (0x70): which Flags bits the command sets.
    pub mask: Option<u64>,
    /// Strategy (0x6B): the strategy name of strategy-choice/set.
    pub strategy: Option<Name>,
    /// ExpirationPeriod (0x6D): route lifetime, whole milliseconds on the wire.
    pub expiration_period: Option<Duration>,
    /// FacePersistency (0x85).
    pub face_persistency: Option<FacePersistency>,
    /// BaseCongestionMarkingInterval (0x87): nanoseconds on the wire.
    pub base_congestion_marking_interval: Option<Duration>,
    /// DefaultCongestionThreshold (0x88): octets of send queue.
    pub default_congestion_threshold: Option<u64>,
    /// Mtu (0x89): overrides the face MTU.
    pub mtu: Option<u64>,
}

impl ControlParameters {
    /// Whether `Mask` covers flag `bit` (bit < 64).
    pub fn has_flag_bit(&self, bit: u32) -> bool {
        bit < 64 && self.mask.is_some_and(|m| m >> bit & 1 == 1)
    }

    /// The value of flag `bit` in `Flags` (false if absent or bit ≥ 64).
    pub fn flag_bit(&self, bit: u32) -> bool {
        bit < 64 && self.flags.is_some_and(|f| f >> bit & 1 == 1)
    }
}

impl MgmtTlv for ControlParameters {
    const TYPE: u64 = CONTROL_PARAMETERS;

    /// Order of ndn-cxx `ControlParameters::wireEncode`.
    fn encode_value(&self, out: &mut BytesMut) {
        if let Some(n) = &self.name {
            n.encode_to(out);
        }
        if let Some(v) = self.face_id {
            write_nni_tlv(out, FACE_ID, v);
        }
        if let Some(s) = &self.uri {
            write_tlv(out, URI, s.as_bytes());
        }
        if let Some(s) = &self.local_uri {
            write_tlv(out, LOCAL_URI, s.as_bytes());
        }
        if let Some(v) = self.origin {
            write_nni_tlv(out, ORIGIN, v.0);
        }
        if let Some(v) = self.cost {
            write_nni_tlv(out, COST, v);
        }
        if let Some(v) = self.capacity {
            write_nni_tlv(out, CAPACITY, v);
        }
        if let Some(v) = self.count {
            write_nni_tlv(out, COUNT, v);
        }
        if let Some(v) = self.flags {
            write_nni_tlv(out, FLAGS, v);
        }
        if let Some(v) = self.mask {
            write_nni_tlv(out, MASK, v);
        }
        if let Some(s) = &self.strategy {
            write_header(out, STRATEGY, s.wire_len());
            s.encode_to(out);
        }
        if let Some(d) = self.expiration_period {
            write_nni_tlv(out, EXPIRATION_PERIOD, millis(d));
        }
        if let Some(v) = self.face_persistency {
            write_nni_tlv(out, FACE_PERSISTENCY, v.0);
        }
        if let Some(d) = self.base_congestion_marking_interval {
            write_nni_tlv(out, BASE_CONGESTION_MARKING_INTERVAL, nanos(d));
        }
        if let Some(v) = self.default_congestion_threshold {
            write_nni_tlv(out, DEFAULT_CONGESTION_THRESHOLD, v);
        }
        if let Some(v) = self.mtu {
            write_nni_tlv(out, MTU, v);
        }
    }

    /// Any order; the first occurrence of a field wins; unknown elements are
    /// ignored (as ndn-cxx `ControlParameters::wireDecode`).
    fn decode_value(value: Bytes) -> Result<Self, DecodeError> {
        let mut p = Self::default();
        let mut r = Reader::new(value);
        while !r.is_empty() {
            let e = r.read()?;
            match e.typ {
                NAME if p.name.is_none() => p.name = Some(Name::from_value(e.value)?),
                FACE_ID if p.face_id.is_none() => p.face_id = Some(nni(&e, "FaceId")?),
                URI if p.uri.is_none() => p.uri = Some(string(&e, "Uri")?),
                LOCAL_URI if p.local_uri.is_none() => p.local_uri = Some(string(&e, "LocalUri")?),
                ORIGIN if p.origin.is_none() => p.origin = Some(RouteOrigin(nni(&e, "Origin")?)),
                COST if p.cost.is_none() => p.cost = Some(nni(&e, "Cost")?),
                CAPACITY if p.capacity.is_none() => p.capacity = Some(nni(&e, "Capacity")?),
                COUNT if p.count.is_none() => p.count = Some(nni(&e, "Count")?),
                FLAGS if p.flags.is_none() => p.flags = Some(nni(&e, "Flags")?),
                MASK if p.mask.is_none() => p.mask = Some(nni(&e, "Mask")?),
                STRATEGY if p.strategy.is_none() => {
                    // > Strategy ::= STRATEGY-TYPE TLV-LENGTH Name
                    let mut inner = e.reader();
                    if inner.is_empty() || inner.peek_type()? != NAME {
                        return Err(invalid("Strategy", "must contain a Name"));
                    }
                    p.strategy = Some(read_name(&mut inner)?);
                }
                EXPIRATION_PERIOD if p.expiration_period.is_none() => {
                    p.expiration_period = Some(Duration::from_millis(nni(&e, "ExpirationPeriod")?));
                }
                FACE_PERSISTENCY if p.face_persistency.is_none() => {
                    p.face_persistency = Some(FacePersistency(nni(&e, "FacePersistency")?));
                }
                BASE_CONGESTION_MARKING_INTERVAL
                    if p.base_congestion_marking_interval.is_none() =>
                {
                    p.base_congestion_marking_interval = Some(Duration::from_nanos(nni(
                        &e,
                        "BaseCongestionMarkingInterval",
                    )?));
                }
                DEFAULT_CONGESTION_THRESHOLD if p.default_congestion_threshold.is_none() => {
                    p.default_congestion_threshold = Some(nni(&e, "DefaultCongestionThreshold")?);
                }
                MTU if p.mtu.is_none() => p.mtu = Some(nni(&e, "Mtu")?),
                _ => {}
            }
        }
        Ok(p)
    }
}

// ---------------------------------------------------------------------------
// ControlResponse.

/// What follows StatusCode and StatusText in a ControlResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseBody {
    /// One ControlParameters element (the usual body of a command reply).
    Parameters(Box<ControlParameters>),
    /// Anything else, kept as the raw TLVs.
    Raw(Bytes),
}

/// ControlResponse (ControlCommand page): the Content of a command's reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlResponse {
    /// StatusCode (0x66), HTTP-like; see [`status`].
    pub status_code: u64,
    /// StatusText (0x67): human-readable explanation.
    pub status_text: String,
    /// The body, if any.
    pub body: Option<ResponseBody>,
}

impl ControlResponse {
    /// A response with no body.
    pub fn new(status_code: u64, status_text: impl Into<String>) -> Self {
        Self {
            status_code,
            status_text: status_text.into(),
            body: None,
        }
    }

    /// A response carrying ControlParameters.
    pub fn with_parameters(
        status_code: u64,
        status_text: impl Into<String>,
        parameters: ControlParameters,
    ) -> Self {
        Self {
            body: Some(ResponseBody::Parameters(Box::new(parameters))),
            ..Self::new(status_code, status_text)
        }
    }

    /// The ControlParameters body, if that is what the body is.
    pub fn parameters(&self) -> Option<&ControlParameters> {
        match &self.body {
            Some(ResponseBody::Parameters(p)) => Some(p.as_ref()),
            _ => None,
        }
    }
}

impl MgmtTlv for ControlResponse {
    const TYPE: u64 = CONTROL_RESPONSE;

    fn encode_value(&self, out: &mut BytesMut) {
        write_nni_tlv(out, STATUS_CODE, self.status_code);
        write_tlv(out, STATUS_TEXT, self.status_text.as_bytes());
        match &self.body {
            Some(ResponseBody::Parameters(p)) => p.encode_to(out),
            Some(ResponseBody::Raw(b)) => out.extend_from_slice(b),
            None => {}
        }
    }

    fn decode_value(value: Bytes) -> Result<Self, DecodeError> {
        let mut f = Fields::new(value);
        let status_code = f.req_nni(STATUS_CODE, "StatusCode")?;
        let status_text = f.req_string(STATUS_TEXT, "StatusText")?;
        let rest = f.rest();
        let body = if rest.is_empty() {
            None
        } else {
            let mut r = Reader::new(rest.clone());
            let first = r.read()?;
            if first.typ == CONTROL_PARAMETERS && r.is_empty() {
                Some(ResponseBody::Parameters(Box::new(
                    ControlParameters::decode_value(first.value)?,
                )))
            } else {
                Some(ResponseBody::Raw(rest))
            }
        };
        Ok(Self {
            status_code,
            status_text,
            body,
        })
    }
}

// ---------------------------------------------------------------------------
// ForwarderStatus (general status dataset, /localhost/nfd/status/general).

/// NFD's general status: the Content of `/localhost/nfd/status/general`
/// (ForwarderStatus page). It has no outer TLV: the fields are the Content.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ForwarderStatus {
    /// NfdVersion (0x80).
    pub nfd_version: String,
    /// StartTimestamp (0x81), milliseconds since the Unix epoch.
    pub start_timestamp: u64,
    /// CurrentTimestamp (0x82), milliseconds since the Unix epoch.
    pub current_timestamp: u64,
    /// NNameTreeEntries (0x83).
    pub n_name_tree_entries: u64,
    /// NFibEntries (0x84).
    pub n_fib_entries: u64,
    /// NPitEntries (0x85).
    pub n_pit_entries: u64,
    /// NMeasurementsEntries (0x86).
    pub n_measurements_entries: u64,
    /// NCsEntries (0x87).
    pub n_cs_entries: u64,
    /// NInInterests (0x90).
    pub n_in_interests: u64,
    /// NInData (0x91).
    pub n_in_data: u64,
    /// NInNacks (0x97).
    pub n_in_nacks: u64,
    /// NOutInterests (0x92).
    pub n_out_interests: u64,
    /// NOutData (0x93).
    pub n_out_data: u64,
    /// NOutNacks (0x98).
    pub n_out_nacks: u64,
    /// NSatisfiedInterests (0x99).
    pub n_satisfied_interests: u64,
    /// NUnsatisfiedInterests (0x9A).
    pub n_unsatisfied_interests: u64,
}

impl ForwarderStatus {
    /// Encodes as Data Content value (fields back to back, NFD's order).
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        write_tlv(&mut out, NFD_VERSION, self.nfd_version.as_bytes());
        for (t, v) in self.counters() {
            write_nni_tlv(&mut out, t, v);
        }
        out.freeze()
    }

    /// The numeric fields with their types, in wire order.
    fn counters(&self) -> [(u64, u64); 15] {
        [
            (START_TIMESTAMP, self.start_timestamp),
            (CURRENT_TIMESTAMP, self.current_timestamp),
            (N_NAME_TREE_ENTRIES, self.n_name_tree_entries),
            (N_FIB_ENTRIES, self.n_fib_entries),
            (N_PIT_ENTRIES, self.n_pit_entries),
            (N_MEASUREMENTS_ENTRIES, self.n_measurements_entries),
            (N_CS_ENTRIES, self.n_cs_entries),
            (N_IN_INTERESTS, self.n_in_interests),
            (N_IN_DATA, self.n_in_data),
            (N_IN_NACKS, self.n_in_nacks),
            (N_OUT_INTERESTS, self.n_out_interests),
            (N_OUT_DATA, self.n_out_data),
            (N_OUT_NACKS, self.n_out_nacks),
            (N_SATISFIED_INTERESTS, self.n_satisfied_interests),
            (N_UNSATISFIED_INTERESTS, self.n_unsatisfied_interests),
        ]
    }

    /// Decodes a Data Content value; every field is required, in order.
    pub fn decode(content: Bytes) -> Result<Self, DecodeError> {
        let mut f = Fields::new(content);
        Ok(Self {
            nfd_version: f.req_string(NFD_VERSION, "NfdVersion")?,
            start_timestamp: f.req_nni(START_TIMESTAMP, "StartTimestamp")?,
            current_timestamp: f.req_nni(CURRENT_TIMESTAMP, "CurrentTimestamp")?,
            n_name_tree_entries: f.req_nni(N_NAME_TREE_ENTRIES, "NNameTreeEntries")?,
            n_fib_entries: f.req_nni(N_FIB_ENTRIES, "NFibEntries")?,
            n_pit_entries: f.req_nni(N_PIT_ENTRIES, "NPitEntries")?,
            n_measurements_entries: f.req_nni(N_MEASUREMENTS_ENTRIES, "NMeasurementsEntries")?,
            n_cs_entries: f.req_nni(N_CS_ENTRIES, "NCsEntries")?,
            n_in_interests: f.req_nni(N_IN_INTERESTS, "NInInterests")?,
            n_in_data: f.req_nni(N_IN_DATA, "NInData")?,
            n_in_nacks: f.req_nni(N_IN_NACKS, "NInNacks")?,
            n_out_interests: f.req_nni(N_OUT_INTERESTS, "NOutInterests")?,
            n_out_data: f.req_nni(N_OUT_DATA, "NOutData")?,
            n_out_nacks: f.req_nni(N_OUT_NACKS, "NOutNacks")?,
            n_satisfied_interests: f.req_nni(N_SATISFIED_INTERESTS, "NSatisfiedInterests")?,
            n_unsatisfied_interests: f.req_nni(N_UNSATISFIED_INTERESTS, "NUnsatisfiedInterests")?,
        })
    }
}

// ---------------------------------------------------------------------------
// FaceStatus (faces/list dataset).

/// One face in `/localhost/nfd/faces/list` (FaceMgmt "Face Dataset").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaceStatus {
    /// FaceId (0x69).
    pub face_id: u64,
    /// Uri (0x72): remote FaceUri.
    pub uri: String,
    /// LocalUri (0x81).
    pub local_uri: String,
    /// ExpirationPeriod (0x6D): time left for an on-demand face (ms on the wire).
    pub expiration_period: Option<Duration>,
    /// FaceScope (0x84).
    pub face_scope: FaceScope,
    /// FacePersistency (0x85).
    pub face_persistency: FacePersistency,
    /// LinkType (0x86).
    pub link_type: LinkType,
    /// BaseCongestionMarkingInterval (0x87), ns on the wire.
    pub base_congestion_marking_interval: Option<Duration>,
    /// DefaultCongestionThreshold (0x88), octets.
    pub default_congestion_threshold: Option<u64>,
    /// Mtu (0x89).
    pub mtu: Option<u64>,
    /// NInInterests (0x90).
    pub n_in_interests: u64,
    /// NInData (0x91).
    pub n_in_data: u64,
    /// NInNacks (0x97).
    pub n_in_nacks: u64,
    /// NOutInterests (0x92).
    pub n_out_interests: u64,
    /// NOutData (0x93).
    pub n_out_data: u64,
    /// NOutNacks (0x98).
    pub n_out_nacks: u64,
    /// NInBytes (0x94).
    pub n_in_bytes: u64,
    /// NOutBytes (0x95).
    pub n_out_bytes: u64,
    /// Flags (0x6C): see the `FACE_FLAG_*` constants.
    pub flags: u64,
}

impl MgmtTlv for FaceStatus {
    const TYPE: u64 = FACE_STATUS;

    fn encode_value(&self, out: &mut BytesMut) {
        write_nni_tlv(out, FACE_ID, self.face_id);
        write_tlv(out, URI, self.uri.as_bytes());
        write_tlv(out, LOCAL_URI, self.local_uri.as_bytes());
        if let Some(d) = self.expiration_period {
            write_nni_tlv(out, EXPIRATION_PERIOD, millis(d));
        }
        write_nni_tlv(out, FACE_SCOPE, self.face_scope.0);
        write_nni_tlv(out, FACE_PERSISTENCY, self.face_persistency.0);
        write_nni_tlv(out, LINK_TYPE, self.link_type.0);
        if let Some(d) = self.base_congestion_marking_interval {
            write_nni_tlv(out, BASE_CONGESTION_MARKING_INTERVAL, nanos(d));
        }
        if let Some(v) = self.default_congestion_threshold {
            write_nni_tlv(out, DEFAULT_CONGESTION_THRESHOLD, v);
        }
        if let Some(v) = self.mtu {
            write_nni_tlv(out, MTU, v);
        }
        write_nni_tlv(out, N_IN_INTERESTS, self.n_in_interests);
        write_nni_tlv(out, N_IN_DATA, self.n_in_data);
        write_nni_tlv(out, N_IN_NACKS, self.n_in_nacks);
        write_nni_tlv(out, N_OUT_INTERESTS, self.n_out_interests);
        write_nni_tlv(out, N_OUT_DATA, self.n_out_data);
        write_nni_tlv(out, N_OUT_NACKS, self.n_out_nacks);
        write_nni_tlv(out, N_IN_BYTES, self.n_in_bytes);
        write_nni_tlv(out, N_OUT_BYTES, self.n_out_bytes);
        write_nni_tlv(out, FLAGS, self.flags);
    }

    fn decode_value(value: Bytes) -> Result<Self, DecodeError> {
        let mut f = Fields::new(value);
        Ok(Self {
            face_id: f.req_nni(FACE_ID, "FaceId")?,
            uri: f.req_string(URI, "Uri")?,
            local_uri: f.req_string(LOCAL_URI, "LocalUri")?,
            expiration_period: f
                .opt_nni(EXPIRATION_PERIOD, "ExpirationPeriod")?
                .map(Duration::from_millis),
            face_scope: FaceScope(f.req_nni(FACE_SCOPE, "FaceScope")?),
            face_persistency: FacePersistency(f.req_nni(FACE_PERSISTENCY, "FacePersistency")?),
            link_type: LinkType(f.req_nni(LINK_TYPE, "LinkType")?),
            base_congestion_marking_interval: f
                .opt_nni(
                    BASE_CONGESTION_MARKING_INTERVAL,
                    "BaseCongestionMarkingInterval",
                )?
                .map(Duration::from_nanos),
            default_congestion_threshold: f
                .opt_nni(DEFAULT_CONGESTION_THRESHOLD, "DefaultCongestionThreshold")?,
            mtu: f.opt_nni(MTU, "Mtu")?,
            n_in_interests: f.req_nni(N_IN_INTERESTS, "NInInterests")?,
            n_in_data: f.req_nni(N_IN_DATA, "NInData")?,
            n_in_nacks: f.req_nni(N_IN_NACKS, "NInNacks")?,
            n_out_interests: f.req_nni(N_OUT_INTERESTS, "NOutInterests")?,
            n_out_data: f.req_nni(N_OUT_DATA, "NOutData")?,
            n_out_nacks: f.req_nni(N_OUT_NACKS, "NOutNacks")?,
            n_in_bytes: f.req_nni(N_IN_BYTES, "NInBytes")?,
            n_out_bytes: f.req_nni(N_OUT_BYTES, "NOutBytes")?,
            flags: f.req_nni(FLAGS, "Flags")?,
        })
    }
}

// ---------------------------------------------------------------------------
// FIB dataset.

/// A nexthop of a FIB entry (FibMgmt "FIB Dataset").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NextHopRecord {
    /// FaceId (0x69).
    pub face_id: u64,
    /// Cost (0x6A).
    pub cost: u64,
}

impl MgmtTlv for NextHopRecord {
    const TYPE: u64 = NEXT_HOP_RECORD;

    fn encode_value(&self, out: &mut BytesMut) {
        write_nni_tlv(out, FACE_ID, self.face_id);
        write_nni_tlv(out, COST, self.cost);
    }

    fn decode_value(value: Bytes) -> Result<Self, DecodeError> {
        let mut f = Fields::new(value);
        Ok(Self {
            face_id: f.req_nni(FACE_ID, "FaceId")?,
            cost: f.req_nni(COST, "Cost")?,
        })
    }
}

/// One entry of `/localhost/nfd/fib/list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FibEntry {
    /// The prefix.
    pub name: Name,
    /// Its nexthops, in wire order.
    pub next_hops: Vec<NextHopRecord>,
}

impl MgmtTlv for FibEntry {
    const TYPE: u64 = FIB_ENTRY;

    fn encode_value(&self, out: &mut BytesMut) {
        self.name.encode_to(out);
        for nh in &self.next_hops {
            nh.encode_to(out);
        }
    }

    fn decode_value(value: Bytes) -> Result<Self, DecodeError> {
        let mut f = Fields::new(value);
        let name = f.req_name("Name")?;
        let next_hops = decode_list(f.rest())
            .map_err(|_| invalid("NextHopRecord", "malformed or unexpected element"))?;
        Ok(Self { name, next_hops })
    }
}

// ---------------------------------------------------------------------------
// RIB dataset.

/// A route of a RIB entry (RibMgmt "RIB Dataset").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Route {
    /// FaceId (0x69).
    pub face_id: u64,
    /// Origin (0x6F).
    pub origin: RouteOrigin,
    /// Cost (0x6A).
    pub cost: u64,
    /// Flags (0x6C): `ROUTE_FLAG_*`.
    pub flags: u64,
    /// ExpirationPeriod (0x6D), ms on the wire; absent means never.
    pub expiration_period: Option<Duration>,
}

impl MgmtTlv for Route {
    const TYPE: u64 = ROUTE;

    fn encode_value(&self, out: &mut BytesMut) {
        write_nni_tlv(out, FACE_ID, self.face_id);
        write_nni_tlv(out, ORIGIN, self.origin.0);
        write_nni_tlv(out, COST, self.cost);
        write_nni_tlv(out, FLAGS, self.flags);
        if let Some(d) = self.expiration_period {
            write_nni_tlv(out, EXPIRATION_PERIOD, millis(d));
        }
    }

    fn decode_value(value: Bytes) -> Result<Self, DecodeError> {
        let mut f = Fields::new(value);
        Ok(Self {
            face_id: f.req_nni(FACE_ID, "FaceId")?,
            origin: RouteOrigin(f.req_nni(ORIGIN, "Origin")?),
            cost: f.req_nni(COST, "Cost")?,
            flags: f.req_nni(FLAGS, "Flags")?,
            expiration_period: f
                .opt_nni(EXPIRATION_PERIOD, "ExpirationPeriod")?
                .map(Duration::from_millis),
        })
    }
}

/// One entry of `/localhost/nfd/rib/list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RibEntry {
    /// The prefix.
    pub name: Name,
    /// Its routes, in wire order.
    pub routes: Vec<Route>,
}

impl MgmtTlv for RibEntry {
    const TYPE: u64 = RIB_ENTRY;

    fn encode_value(&self, out: &mut BytesMut) {
        self.name.encode_to(out);
        for r in &self.routes {
            r.encode_to(out);
        }
    }

    fn decode_value(value: Bytes) -> Result<Self, DecodeError> {
        let mut f = Fields::new(value);
        let name = f.req_name("Name")?;
        let routes = decode_list(f.rest())
            .map_err(|_| invalid("Route", "malformed or unexpected element"))?;
        Ok(Self { name, routes })
    }
}

// ---------------------------------------------------------------------------
// Strategy choice dataset.

/// One entry of `/localhost/nfd/strategy-choice/list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategyChoice {
    /// The namespace.
    pub name: Name,
    /// The strategy's name (inside a Strategy element on the wire).
    pub strategy: Name,
}

impl MgmtTlv for StrategyChoice {
    const TYPE: u64 = STRATEGY_CHOICE;

    fn encode_value(&self, out: &mut BytesMut) {
        self.name.encode_to(out);
        write_header(out, STRATEGY, self.strategy.wire_len());
        self.strategy.encode_to(out);
    }

    fn decode_value(value: Bytes) -> Result<Self, DecodeError> {
        let mut f = Fields::new(value);
        let name = f.req_name("Name")?;
        let s = f.req(STRATEGY, "Strategy")?;
        let mut inner = s.reader();
        if inner.is_empty() || inner.peek_type()? != NAME {
            return Err(invalid("Strategy", "must contain a Name"));
        }
        let strategy = read_name(&mut inner)?;
        Ok(Self { name, strategy })
    }
}

// ---------------------------------------------------------------------------
// CS info (cs/info dataset).

/// The Content of `/localhost/nfd/cs/info` (CsMgmt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CsInfo {
    /// Capacity (0x83): maximum entries.
    pub capacity: u64,
    /// Flags (0x6C): `CS_FLAG_*`.
    pub flags: u64,
    /// NCsEntries (0x87).
    pub n_entries: u64,
    /// NHits (0x81).
    pub n_hits: u64,
    /// NMisses (0x82).
    pub n_misses: u64,
}

impl CsInfo {
    /// Whether the CS admits new Data.
    pub fn enable_admit(&self) -> bool {
        self.flags & CS_FLAG_ENABLE_ADMIT != 0
    }

    /// Whether the CS serves Data from cache.
    pub fn enable_serve(&self) -> bool {
        self.flags & CS_FLAG_ENABLE_SERVE != 0
    }
}

impl MgmtTlv for CsInfo {
    const TYPE: u64 = CS_INFO;

    fn encode_value(&self, out: &mut BytesMut) {
        write_nni_tlv(out, CAPACITY, self.capacity);
        write_nni_tlv(out, FLAGS, self.flags);
        write_nni_tlv(out, N_CS_ENTRIES, self.n_entries);
        write_nni_tlv(out, N_HITS, self.n_hits);
        write_nni_tlv(out, N_MISSES, self.n_misses);
    }

    fn decode_value(value: Bytes) -> Result<Self, DecodeError> {
        let mut f = Fields::new(value);
        Ok(Self {
            capacity: f.req_nni(CAPACITY, "Capacity")?,
            flags: f.req_nni(FLAGS, "Flags")?,
            n_entries: f.req_nni(N_CS_ENTRIES, "NCsEntries")?,
            n_hits: f.req_nni(N_HITS, "NHits")?,
            n_misses: f.req_nni(N_MISSES, "NMisses")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(uri: &str) -> Name {
        Name::from_uri(uri).unwrap()
    }

    // ndn-cxx tests/unit/mgmt/nfd/forwarder-status.t.cpp, Encode (the 0x15 0x71
    // Content header stripped: the dataset is the Content's value).
    static FORWARDER_STATUS: [u8; 113] = [
        0x80, 0x11, 0x30, 0x2e, 0x35, 0x2e, 0x31, 0x2d, 0x31, 0x34, 0x2d, 0x67, 0x30, 0x35, 0x64,
        0x64, 0x34, 0x34, 0x34, 0x81, 0x08, 0x00, 0x00, 0x00, 0x57, 0x5b, 0x42, 0xa6, 0x2d, 0x82,
        0x08, 0x00, 0x00, 0x00, 0xce, 0x50, 0x36, 0xd7, 0x20, 0x83, 0x04, 0x6e, 0x43, 0xe4, 0x78,
        0x84, 0x04, 0x25, 0x0e, 0xfe, 0xe4, 0x85, 0x04, 0x1c, 0xbc, 0xb7, 0x4d, 0x86, 0x04, 0x69,
        0x9a, 0x61, 0xf2, 0x87, 0x04, 0x4b, 0x65, 0xe3, 0xf0, 0x90, 0x04, 0x24, 0x86, 0xc3, 0x5f,
        0x91, 0x04, 0x6d, 0xe2, 0xbc, 0xf2, 0x97, 0x02, 0x04, 0xd2, 0x92, 0x04, 0x38, 0xc0, 0x92,
        0x3d, 0x93, 0x04, 0x08, 0x3c, 0xbf, 0x2a, 0x98, 0x02, 0x10, 0xe1, 0x99, 0x04, 0x00, 0x0e,
        0xa9, 0xfc, 0x9a, 0x04, 0x00, 0x0e, 0x5b, 0xe0,
    ];

    fn forwarder_status() -> ForwarderStatus {
        ForwarderStatus {
            nfd_version: "0.5.1-14-g05dd444".into(),
            start_timestamp: 375193249325,
            current_timestamp: 886109034272,
            n_name_tree_entries: 1849943160,
            n_fib_entries: 621739748,
            n_pit_entries: 482129741,
            n_measurements_entries: 1771725298,
            n_cs_entries: 1264968688,
            n_in_interests: 612811615,
            n_in_data: 1843576050,
            n_in_nacks: 1234,
            n_out_interests: 952144445,
            n_out_data: 138198826,
            n_out_nacks: 4321,
            n_satisfied_interests: 961020,
            n_unsatisfied_interests: 941024,
        }
    }

    #[test]
    fn test_forwarder_status_fixture() {
        let s = forwarder_status();
        assert_eq!(&s.encode()[..], &FORWARDER_STATUS[..]);
        assert_eq!(
            ForwarderStatus::decode(Bytes::from_static(&FORWARDER_STATUS)).unwrap(),
            s
        );
    }

    #[test]
    fn test_forwarder_status_errors() {
        // Drop NInNacks (0x97 0x02 0x04 0xd2 at offset 81).
        let mut v = FORWARDER_STATUS.to_vec();
        v.drain(81..85);
        assert_eq!(
            ForwarderStatus::decode(Bytes::from(v)),
            Err(missing("NInNacks"))
        );
        assert_eq!(
            ForwarderStatus::decode(Bytes::new()),
            Err(missing("NfdVersion"))
        );
        // NfdVersion not UTF-8.
        let mut v = FORWARDER_STATUS.to_vec();
        v[2] = 0xff;
        assert_eq!(
            ForwarderStatus::decode(Bytes::from(v)),
            Err(invalid("NfdVersion", "not UTF-8"))
        );
        // StartTimestamp of 3 octets.
        let mut v = FORWARDER_STATUS[..19].to_vec();
        v.extend_from_slice(&[0x81, 0x03, 1, 2, 3]);
        assert_eq!(
            ForwarderStatus::decode(Bytes::from(v)),
            Err(invalid("StartTimestamp", "not a NonNegativeInteger"))
        );
    }

    // ndn-cxx tests/unit/mgmt/nfd/face-status.t.cpp, Encode.
    static FACE_STATUS_WIRE: [u8; 108] = [
        0x80, 0x6a, 0x69, 0x01, 0x64, 0x72, 0x15, 0x74, 0x63, 0x70, 0x34, 0x3a, 0x2f, 0x2f, 0x31,
        0x39, 0x32, 0x2e, 0x30, 0x2e, 0x32, 0x2e, 0x31, 0x3a, 0x36, 0x33, 0x36, 0x33, 0x81, 0x16,
        0x74, 0x63, 0x70, 0x34, 0x3a, 0x2f, 0x2f, 0x31, 0x39, 0x32, 0x2e, 0x30, 0x2e, 0x32, 0x2e,
        0x32, 0x3a, 0x35, 0x35, 0x35, 0x35, 0x35, 0x6d, 0x02, 0x27, 0x10, 0x84, 0x01, 0x01, 0x85,
        0x01, 0x01, 0x86, 0x01, 0x01, 0x87, 0x01, 0x05, 0x88, 0x01, 0x07, 0x89, 0x01, 0x09, 0x90,
        0x01, 0x0a, 0x91, 0x01, 0xc8, 0x97, 0x01, 0x01, 0x92, 0x02, 0x0b, 0xb8, 0x93, 0x01, 0x04,
        0x98, 0x01, 0x02, 0x94, 0x04, 0x4f, 0x41, 0xe7, 0x7b, 0x95, 0x04, 0x3b, 0x8d, 0x37, 0x30,
        0x6c, 0x01, 0x07,
    ];

    fn face_status() -> FaceStatus {
        FaceStatus {
            face_id: 100,
            uri: "tcp4://192.0.2.1:6363".into(),
            local_uri: "tcp4://192.0.2.2:55555".into(),
            expiration_period: Some(Duration::from_secs(10)),
            face_scope: FaceScope::LOCAL,
            face_persistency: FacePersistency::ON_DEMAND,
            link_type: LinkType::MULTI_ACCESS,
            base_congestion_marking_interval: Some(Duration::from_nanos(5)),
            default_congestion_threshold: Some(7),
            mtu: Some(9),
            n_in_interests: 10,
            n_in_data: 200,
            n_in_nacks: 1,
            n_out_interests: 3000,
            n_out_data: 4,
            n_out_nacks: 2,
            n_in_bytes: 1329719163,
            n_out_bytes: 999110448,
            flags: 0x7,
        }
    }

    #[test]
    fn test_face_status_fixture() {
        let s = face_status();
        assert_eq!(&s.encode()[..], &FACE_STATUS_WIRE[..]);
        assert_eq!(
            FaceStatus::decode(Bytes::from_static(&FACE_STATUS_WIRE)).unwrap(),
            s
        );
        // Optional fields absent round-trip too.
        let bare = FaceStatus {
            expiration_period: None,
            base_congestion_marking_interval: None,
            default_congestion_threshold: None,
            mtu: None,
            ..s
        };
        assert_eq!(FaceStatus::decode(bare.encode()).unwrap(), bare);
    }

    #[test]
    fn test_face_status_errors() {
        // FaceScope removed: the field after LocalUri/ExpirationPeriod is missing.
        let mut v = FACE_STATUS_WIRE.to_vec();
        v.drain(56..59);
        v[1] -= 3;
        assert_eq!(
            FaceStatus::decode(Bytes::from(v)),
            Err(missing("FaceScope"))
        );
        // Wrong outer type.
        let mut v = FACE_STATUS_WIRE.to_vec();
        v[0] = 0x81;
        assert_eq!(
            FaceStatus::decode(Bytes::from(v)),
            Err(DecodeError::UnexpectedType {
                expected: 0x80,
                found: 0x81
            })
        );
        // Truncated.
        assert!(FaceStatus::decode(Bytes::from_static(&FACE_STATUS_WIRE[..50])).is_err());
    }

    // ndn-cxx tests/unit/mgmt/nfd/cs-info.t.cpp, Encode.
    static CS_INFO_WIRE: [u8; 21] = [
        0x80, 0x13, 0x83, 0x02, 0x4E, 0xD1, 0x6C, 0x01, 0x02, 0x87, 0x02, 0x15, 0x85, 0x81, 0x02,
        0x32, 0x97, 0x82, 0x02, 0x6E, 0x13,
    ];

    #[test]
    fn test_cs_info_fixture() {
        let c = CsInfo {
            capacity: 20177,
            flags: CS_FLAG_ENABLE_SERVE,
            n_entries: 5509,
            n_hits: 12951,
            n_misses: 28179,
        };
        assert_eq!(&c.encode()[..], &CS_INFO_WIRE[..]);
        let d = CsInfo::decode(Bytes::from_static(&CS_INFO_WIRE)).unwrap();
        assert_eq!(d, c);
        assert!(!d.enable_admit());
        assert!(d.enable_serve());
        assert_eq!(
            CsInfo::decode(Bytes::from_static(&[0x80, 0x04, 0x83, 0x02, 0x4E, 0xD1])),
            Err(missing("Flags"))
        );
    }

    // ndn-cxx tests/unit/mgmt/nfd/fib-entry.t.cpp, FibEntryEncode.
    static FIB_ENTRY_WIRE: [u8; 58] = [
        0x80, 0x38, 0x07, 0x13, 0x08, 0x04, 0x74, 0x68, 0x69, 0x73, 0x08, 0x02, 0x69, 0x73, 0x08,
        0x01, 0x61, 0x08, 0x04, 0x74, 0x65, 0x73, 0x74, 0x81, 0x06, 0x69, 0x01, 0x0a, 0x6a, 0x01,
        0xc8, 0x81, 0x07, 0x69, 0x01, 0x14, 0x6a, 0x02, 0x01, 0x2c, 0x81, 0x07, 0x69, 0x01, 0x1e,
        0x6a, 0x02, 0x01, 0x90, 0x81, 0x07, 0x69, 0x01, 0x28, 0x6a, 0x02, 0x01, 0xf4,
    ];

    #[test]
    fn test_fib_entry_fixture() {
        let e = FibEntry {
            name: name("/this/is/a/test"),
            next_hops: (1..=4)
                .map(|i| NextHopRecord {
                    face_id: i * 10,
                    cost: i * 100 + 100,
                })
                .collect(),
        };
        assert_eq!(&e.encode()[..], &FIB_ENTRY_WIRE[..]);
        assert_eq!(
            FibEntry::decode(Bytes::from_static(&FIB_ENTRY_WIRE)).unwrap(),
            e
        );
        // ndn-cxx NextHopRecordEncode.
        assert_eq!(
            &e.next_hops[0].encode()[..],
            &[0x81, 0x06, 0x69, 0x01, 0x0a, 0x6a, 0x01, 0xc8]
        );
        // No nexthops (ndn-cxx FibEntryNoNextHopsEncode).
        let empty = FibEntry {
            name: e.name.clone(),
            next_hops: vec![],
        };
        assert_eq!(
            &empty.encode()[..],
            &[&[0x80, 0x15][..], &FIB_ENTRY_WIRE[2..23]].concat()[..]
        );
        // A stray element among nexthops.
        let mut v = FIB_ENTRY_WIRE.to_vec();
        v[23] = 0x82;
        assert_eq!(
            FibEntry::decode(Bytes::from(v)),
            Err(invalid("NextHopRecord", "malformed or unexpected element"))
        );
        // Missing Name.
        assert_eq!(
            FibEntry::decode(Bytes::from_static(&[0x80, 0x00])),
            Err(missing("Name"))
        );
    }

    // ndn-cxx tests/unit/mgmt/nfd/rib-entry.t.cpp, RibEntryEncode.
    static RIB_ENTRY_WIRE: [u8; 54] = [
        0x80, 0x34, 0x07, 0x0e, 0x08, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x08, 0x05, 0x77, 0x6f,
        0x72, 0x6c, 0x64, 0x81, 0x10, 0x69, 0x01, 0x01, 0x6f, 0x01, 0x80, 0x6a, 0x01, 0x64, 0x6c,
        0x01, 0x02, 0x6d, 0x02, 0x27, 0x10, 0x81, 0x10, 0x69, 0x01, 0x02, 0x6f, 0x01, 0x00, 0x6a,
        0x01, 0x20, 0x6c, 0x01, 0x01, 0x6d, 0x02, 0x13, 0x88,
    ];

    #[test]
    fn test_rib_entry_fixture() {
        let e = RibEntry {
            name: name("/hello/world"),
            routes: vec![
                Route {
                    face_id: 1,
                    origin: RouteOrigin::NLSR,
                    cost: 100,
                    flags: ROUTE_FLAG_CAPTURE,
                    expiration_period: Some(Duration::from_secs(10)),
                },
                Route {
                    face_id: 2,
                    origin: RouteOrigin::APP,
                    cost: 32,
                    flags: ROUTE_FLAG_CHILD_INHERIT,
                    expiration_period: Some(Duration::from_secs(5)),
                },
            ],
        };
        assert_eq!(&e.encode()[..], &RIB_ENTRY_WIRE[..]);
        assert_eq!(
            RibEntry::decode(Bytes::from_static(&RIB_ENTRY_WIRE)).unwrap(),
            e
        );
        // ndn-cxx RouteNoExpirationPeriodEncode.
        let r = Route {
            expiration_period: None,
            ..e.routes[0]
        };
        let wire = [
            0x81, 0x0C, 0x69, 0x01, 0x01, 0x6f, 0x01, 0x80, 0x6a, 0x01, 0x64, 0x6c, 0x01, 0x02,
        ];
        assert_eq!(&r.encode()[..], &wire[..]);
        assert_eq!(Route::decode(Bytes::copy_from_slice(&wire)).unwrap(), r);
        // Route without Cost.
        assert_eq!(
            Route::decode(Bytes::from_static(&[
                0x81, 0x06, 0x69, 0x01, 0x01, 0x6f, 0x01, 0x80
            ])),
            Err(missing("Cost"))
        );
    }

    // ndn-cxx tests/unit/mgmt/nfd/strategy-choice.t.cpp, Encode.
    static STRATEGY_CHOICE_WIRE: [u8; 59] = [
        0x80, 0x39, 0x07, 0x0e, 0x08, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x08, 0x05, 0x77, 0x6f,
        0x72, 0x6c, 0x64, 0x6b, 0x27, 0x07, 0x25, 0x08, 0x04, 0x73, 0x6f, 0x6d, 0x65, 0x08, 0x03,
        0x6e, 0x6f, 0x6e, 0x08, 0x08, 0x65, 0x78, 0x69, 0x73, 0x74, 0x69, 0x6e, 0x67, 0x08, 0x08,
        0x73, 0x74, 0x72, 0x61, 0x74, 0x65, 0x67, 0x79, 0x08, 0x04, 0x6e, 0x61, 0x6d, 0x65,
    ];

    #[test]
    fn test_strategy_choice_fixture() {
        let s = StrategyChoice {
            name: name("/hello/world"),
            strategy: name("/some/non/existing/strategy/name"),
        };
        assert_eq!(&s.encode()[..], &STRATEGY_CHOICE_WIRE[..]);
        assert_eq!(
            StrategyChoice::decode(Bytes::from_static(&STRATEGY_CHOICE_WIRE)).unwrap(),
            s
        );
        // Strategy element without a Name inside.
        let bad = [&STRATEGY_CHOICE_WIRE[..18], &[0x6b, 0x00]].concat();
        let mut bad = bad;
        bad[1] = (bad.len() - 2) as u8;
        assert_eq!(
            StrategyChoice::decode(Bytes::from(bad)),
            Err(invalid("Strategy", "must contain a Name"))
        );
        assert_eq!(
            StrategyChoice::decode(Bytes::from_static(&STRATEGY_CHOICE_WIRE[..20]).slice(..18)),
            Err(DecodeError::LengthExceeds {
                typ: 0x80,
                len: 0x39,
                remaining: 16
            })
        );
    }

    #[test]
    fn test_decode_list() {
        let entries = vec![
            StrategyChoice {
                name: name("/"),
                strategy: name("/localhost/nfd/strategy/best-route/v=5"),
            },
            StrategyChoice::decode(Bytes::from_static(&STRATEGY_CHOICE_WIRE)).unwrap(),
        ];
        let content = encode_list(&entries);
        assert_eq!(
            decode_list::<StrategyChoice>(content.clone()).unwrap(),
            entries
        );
        assert_eq!(decode_list::<StrategyChoice>(Bytes::new()).unwrap(), vec![]);
        // A FaceStatus in a strategy-choice dataset shares 0x80 but fails by field.
        assert_eq!(
            decode_list::<StrategyChoice>(Bytes::from_static(&FACE_STATUS_WIRE)),
            Err(missing("Name"))
        );
        // A foreign element type.
        let mut v = content.to_vec();
        v.extend_from_slice(&[0x81, 0x00]);
        assert_eq!(
            decode_list::<StrategyChoice>(Bytes::from(v)),
            Err(DecodeError::UnexpectedType {
                expected: 0x80,
                found: 0x81
            })
        );
        // Type 126 padding between entries is skipped.
        let mut v = content.to_vec();
        v.extend_from_slice(&[0x7e, 0x01, 0x00]);
        assert_eq!(
            decode_list::<StrategyChoice>(Bytes::from(v)).unwrap(),
            entries
        );
        // Concatenated FIB and RIB entries.
        let fibs = [&FIB_ENTRY_WIRE[..], &FIB_ENTRY_WIRE[..]].concat();
        assert_eq!(decode_list::<FibEntry>(Bytes::from(fibs)).unwrap().len(), 2);
        let ribs = decode_list::<RibEntry>(Bytes::from_static(&RIB_ENTRY_WIRE)).unwrap();
        assert_eq!(ribs[0].routes.len(), 2);
    }

    /// Hand-assembled in ndn-cxx `ControlParameters::wireEncode` order, with
    /// the values of ndn-cxx control-parameters.t.cpp "Fields".
    fn all_parameters() -> ControlParameters {
        ControlParameters {
            name: Some(name("/name")),
            face_id: Some(2634),
            uri: Some("udp4://192.0.2.1:6363".into()),
            local_uri: Some("udp4://192.0.2.2:6363".into()),
            origin: Some(RouteOrigin::NLSR),
            cost: Some(1388),
            capacity: Some(2632),
            count: Some(3100),
            flags: Some(0xAFC4),
            mask: Some(0xF7A1),
            strategy: Some(name("/strategy-name")),
            expiration_period: Some(Duration::from_millis(1_800_000)),
            face_persistency: Some(FacePersistency::PERSISTENT),
            base_congestion_marking_interval: Some(Duration::from_nanos(100_000_000)),
            default_congestion_threshold: Some(65536),
            mtu: Some(8800),
        }
    }

    #[test]
    fn test_control_parameters_emit_order() {
        let wire = all_parameters().encode();
        let e = wire::read_single(wire).unwrap();
        assert_eq!(e.typ, CONTROL_PARAMETERS);
        let mut r = e.reader();
        let mut types = vec![];
        while !r.is_empty() {
            types.push(r.read().unwrap().typ);
        }
        assert_eq!(
            types,
            [
                NAME,
                FACE_ID,
                URI,
                LOCAL_URI,
                ORIGIN,
                COST,
                CAPACITY,
                COUNT,
                FLAGS,
                MASK,
                STRATEGY,
                EXPIRATION_PERIOD,
                FACE_PERSISTENCY,
                BASE_CONGESTION_MARKING_INTERVAL,
                DEFAULT_CONGESTION_THRESHOLD,
                MTU
            ]
        );
    }

    #[test]
    fn test_control_parameters_fixture() {
        // rib/register of /picasso with FaceId 300, Origin app, Cost 10,
        // Flags ChildInherit, ExpirationPeriod 60 s (hand-assembled).
        let wire: &[u8] = &[
            0x68, 0x1c, //
            0x07, 0x09, 0x08, 0x07, b'p', b'i', b'c', b'a', b's', b's', b'o', //
            0x69, 0x02, 0x01, 0x2c, // FaceId 300
            0x6f, 0x01, 0x00, // Origin 0
            0x6a, 0x01, 0x0a, // Cost 10
            0x6c, 0x01, 0x01, // Flags 1
            0x6d, 0x02, 0xea, 0x60, // ExpirationPeriod 60000
        ];
        let p = ControlParameters {
            name: Some(name("/picasso")),
            face_id: Some(300),
            origin: Some(RouteOrigin::APP),
            cost: Some(10),
            flags: Some(ROUTE_FLAG_CHILD_INHERIT),
            expiration_period: Some(Duration::from_secs(60)),
            ..Default::default()
        };
        assert_eq!(&p.encode()[..], wire);
        assert_eq!(
            ControlParameters::decode(Bytes::copy_from_slice(wire)).unwrap(),
            p
        );
        // Empty parameters.
        assert_eq!(&ControlParameters::default().encode()[..], &[0x68, 0x00]);
    }

    #[test]
    fn test_control_parameters_round_trip_and_tolerance() {
        let p = all_parameters();
        assert_eq!(ControlParameters::decode(p.encode()).unwrap(), p);
        // Reversed order, an unknown element, a duplicate FaceId: the first wins.
        let mut value = BytesMut::new();
        write_nni_tlv(&mut value, MTU, 1500);
        write_tlv(&mut value, 0x8F, b"future");
        write_nni_tlv(&mut value, FACE_ID, 7);
        write_nni_tlv(&mut value, FACE_ID, 8);
        name("/a").encode_to(&mut value);
        let mut wire = BytesMut::new();
        write_tlv(&mut wire, CONTROL_PARAMETERS, &value);
        let d = ControlParameters::decode(wire.freeze()).unwrap();
        assert_eq!(d.mtu, Some(1500));
        assert_eq!(d.face_id, Some(7));
        assert_eq!(d.name, Some(name("/a")));
        // Flag bits.
        let fm = ControlParameters {
            flags: Some(0b100),
            mask: Some(0b110),
            ..Default::default()
        };
        assert!(fm.has_flag_bit(1) && fm.has_flag_bit(2) && !fm.has_flag_bit(0));
        assert!(fm.flag_bit(2) && !fm.flag_bit(1) && !fm.flag_bit(64));
    }

    #[test]
    fn test_control_parameters_errors_name_the_field() {
        for (typ, field, value) in [
            (FACE_ID, "FaceId", &[1, 2, 3][..]),
            (COST, "Cost", &[][..]),
            (ORIGIN, "Origin", &[0; 5][..]),
            (MTU, "Mtu", &[0; 3][..]),
            (URI, "Uri", &[0xff, 0xfe][..]),
            (EXPIRATION_PERIOD, "ExpirationPeriod", &[0; 6][..]),
        ] {
            let mut wire = BytesMut::new();
            let mut inner = BytesMut::new();
            write_tlv(&mut inner, typ, value);
            write_tlv(&mut wire, CONTROL_PARAMETERS, &inner);
            match ControlParameters::decode(wire.freeze()) {
                Err(DecodeError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert_eq!(
            ControlParameters::decode(Bytes::from_static(&[0x68, 0x02, 0x6b, 0x00])),
            Err(invalid("Strategy", "must contain a Name"))
        );
        assert!(ControlParameters::decode(Bytes::from_static(&[0x68, 0x05, 0x69])).is_err());
    }

    #[test]
    fn test_control_response() {
        // 200 "OK" with ControlParameters{FaceId 1} (hand-assembled, as NFD replies).
        let wire: &[u8] = &[
            0x65, 0x0c, 0x66, 0x01, 0xc8, 0x67, 0x02, b'O', b'K', 0x68, 0x03, 0x69, 0x01, 0x01,
        ];
        let r = ControlResponse::decode(Bytes::copy_from_slice(wire)).unwrap();
        assert_eq!(r.status_code, status::OK);
        assert_eq!(r.status_text, "OK");
        assert_eq!(r.parameters().and_then(|p| p.face_id), Some(1));
        assert_eq!(&r.encode()[..], wire);
        let expected = ControlResponse::with_parameters(
            200,
            "OK",
            ControlParameters {
                face_id: Some(1),
                ..Default::default()
            },
        );
        assert_eq!(r, expected);
        // No body.
        let plain = ControlResponse::new(status::NOT_IMPLEMENTED, "unsupported command");
        let back = ControlResponse::decode(plain.encode()).unwrap();
        assert_eq!(back, plain);
        assert!(back.parameters().is_none());
        // A raw body (e.g. a list of FaceStatus) is kept as bytes.
        let raw = ControlResponse {
            body: Some(ResponseBody::Raw(Bytes::from_static(&CS_INFO_WIRE))),
            ..ControlResponse::new(200, "OK")
        };
        assert_eq!(ControlResponse::decode(raw.encode()).unwrap(), raw);
        // Errors name the field.
        assert_eq!(
            ControlResponse::decode(Bytes::from_static(&[0x65, 0x04, 0x67, 0x02, b'O', b'K'])),
            Err(missing("StatusCode"))
        );
        assert_eq!(
            ControlResponse::decode(Bytes::from_static(&[0x65, 0x03, 0x66, 0x01, 0xc8])),
            Err(missing("StatusText"))
        );
        assert_eq!(
            ControlResponse::decode(Bytes::from_static(&[0x65, 0x02, 0x66, 0x00])),
            Err(invalid("StatusCode", "not a NonNegativeInteger"))
        );
    }

    #[test]
    fn test_decoders_never_panic() {
        let samples: [&[u8]; 6] = [
            &FACE_STATUS_WIRE,
            &CS_INFO_WIRE,
            &FIB_ENTRY_WIRE,
            &RIB_ENTRY_WIRE,
            &STRATEGY_CHOICE_WIRE,
            &FORWARDER_STATUS,
        ];
        let params = all_parameters().encode();
        for s in samples.iter().copied().chain([&params[..]]) {
            for n in 0..s.len() {
                let b = Bytes::copy_from_slice(&s[..n]);
                let _ = FaceStatus::decode(b.clone());
                let _ = CsInfo::decode(b.clone());
                let _ = FibEntry::decode(b.clone());
                let _ = RibEntry::decode(b.clone());
                let _ = StrategyChoice::decode(b.clone());
                let _ = ForwarderStatus::decode(b.clone());
                let _ = ControlParameters::decode(b.clone());
                let _ = ControlResponse::decode(b.clone());
                let _ = decode_list::<FaceStatus>(b);
            }
            for i in 0..s.len() {
                let mut v = s.to_vec();
                v[i] ^= 0x80;
                let b = Bytes::from(v);
                let _ = FaceStatus::decode(b.clone());
                let _ = RibEntry::decode(b.clone());
                let _ = ControlParameters::decode(b.clone());
                let _ = ForwarderStatus::decode(b);
            }
        }
    }

    mod props {
        use super::*;
        use crate::Component;
        use proptest::prelude::*;

        fn arb_name() -> impl Strategy<Value = Name> {
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..6), 0..4).prop_map(
                |cs| {
                    let comps: Vec<Component> = cs.into_iter().map(Component::generic).collect();
                    Name::from_components(&comps)
                },
            )
        }

        fn ms() -> impl Strategy<Value = Duration> {
            any::<u64>().prop_map(Duration::from_millis)
        }

        fn ns() -> impl Strategy<Value = Duration> {
            any::<u64>().prop_map(Duration::from_nanos)
        }

        prop_compose! {
            fn arb_params()(
                name in proptest::option::of(arb_name()),
                ids in proptest::collection::vec(proptest::option::of(any::<u64>()), 9),
                uri in proptest::option::of("[a-z0-9:/.]{0,20}"),
                local_uri in proptest::option::of("[a-z0-9:/.]{0,20}"),
                strategy in proptest::option::of(arb_name()),
                expiration_period in proptest::option::of(ms()),
                base in proptest::option::of(ns()),
            ) -> ControlParameters {
                ControlParameters {
                    name,
                    face_id: ids[0],
                    uri,
                    local_uri,
                    origin: ids[1].map(RouteOrigin),
                    cost: ids[2],
                    capacity: ids[3],
                    count: ids[4],
                    flags: ids[5],
                    mask: ids[6],
                    strategy,
                    expiration_period,
                    face_persistency: ids[7].map(FacePersistency),
                    base_congestion_marking_interval: base,
                    default_congestion_threshold: ids[8],
                    mtu: ids[0].map(|v| v / 2),
                }
            }
        }

        proptest! {
            #[test]
            fn control_parameters_round_trip(p in arb_params()) {
                prop_assert_eq!(ControlParameters::decode(p.encode()).unwrap(), p.clone());
                let resp = ControlResponse::with_parameters(200, "OK", p);
                prop_assert_eq!(ControlResponse::decode(resp.encode()).unwrap(), resp);
            }

            #[test]
            fn rib_entry_round_trip(
                name in arb_name(),
                routes in proptest::collection::vec(
                    (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>(), proptest::option::of(ms())),
                    0..4,
                ),
            ) {
                let e = RibEntry {
                    name,
                    routes: routes
                        .into_iter()
                        .map(|(face_id, o, cost, flags, expiration_period)| Route {
                            face_id, origin: RouteOrigin(o), cost, flags, expiration_period,
                        })
                        .collect(),
                };
                prop_assert_eq!(decode_list::<RibEntry>(encode_list(std::slice::from_ref(&e))).unwrap(), vec![e]);
            }

            #[test]
            fn decoders_never_panic(v in proptest::collection::vec(any::<u8>(), 0..120), typ in 0x60u64..0x90) {
                let mut framed = BytesMut::new();
                write_tlv(&mut framed, typ, &v);
                for b in [Bytes::from(v), framed.freeze()] {
                    let _ = ControlParameters::decode(b.clone());
                    let _ = ControlResponse::decode(b.clone());
                    let _ = FaceStatus::decode(b.clone());
                    let _ = ForwarderStatus::decode(b.clone());
                    let _ = decode_list::<FibEntry>(b.clone());
                    let _ = decode_list::<StrategyChoice>(b.clone());
                    let _ = CsInfo::decode(b);
                }
            }
        }
    }
}
