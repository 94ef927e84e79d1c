//! Names and name components (packet format v0.3 §2 "Name"; NDN URI scheme;
//! Naming Conventions rev. 3).
//!
//! A [`Name`] keeps its components' wire encoding in one shared buffer plus
//! an index of component offsets (inline for names of up to 14 components,
//! so decoding allocates nothing), so cloning a name is one reference-count
//! increment, hashing a name hashes one byte slice, and taking a prefix is
//! slicing. This module owns parsing and printing URIs in canonical form and
//! the canonical order; it does not own what a name means to an application.
//!
//! > Name ::= NAME-TYPE TLV-LENGTH NameComponent*
//! > NameComponent ::= GenericNameComponent | ImplicitSha256DigestComponent |
//! >                   ParametersSha256DigestComponent | OtherTypeComponent
//! > OtherTypeComponent ::= OTHER-TYPE-NUMBER TLV-LENGTH BYTE*   (1 ≤ type ≤ 65535)

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use crate::types::*;
use crate::wire::{self, Reader};
use crate::DecodeError;

/// Highest TLV-TYPE a name component may have (spec §2.1).
pub const MAX_COMPONENT_TYPE: u64 = 0xFFFF;

/// Why a URI is not a valid NDN name or component.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// A `%` not followed by two hex digits.
    #[error("bad percent-encoding in {0:?}")]
    BadPercent(String),
    /// A component of one or two periods, which the URI scheme reserves.
    #[error("component {0:?} is invalid: '.' and '..' are reserved")]
    DotComponent(String),
    /// `N=` with N not a number in 1..=65535.
    #[error("bad component type in {0:?}")]
    BadType(String),
    /// A number convention (`seg=`, `v=`, …) without a decimal number.
    #[error("bad number in {0:?}")]
    BadNumber(String),
    /// `sha256digest=` or `params-sha256=` without 64 hex digits.
    #[error("bad digest in {0:?}: need 64 hex digits")]
    BadDigest(String),
    /// A character that may not appear unescaped.
    #[error("character {1:?} must be percent-encoded in {0:?}")]
    BadChar(String, char),
}

/// One name component: a TLV-TYPE and a value sharing the name's buffer.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Component {
    typ: u64,
    value: Bytes,
}

impl Component {
    /// A component of any type (types above 65535 or 0 are invalid in a Name
    /// and are rejected when the name is decoded or built).
    pub fn new(typ: u64, value: impl Into<Bytes>) -> Self {
        Self {
            typ,
            value: value.into(),
        }
    }

    /// A GenericNameComponent.
    pub fn generic(value: impl Into<Bytes>) -> Self {
        Self::new(GENERIC_COMPONENT, value)
    }

    /// A component whose value is a NonNegativeInteger (segment, version, …).
    pub fn number(typ: u64, n: u64) -> Self {
        let mut b = BytesMut::with_capacity(8);
        wire::write_nni(&mut b, n);
        Self::new(typ, b.freeze())
    }

    /// SegmentNameComponent `seg=n`.
    pub fn segment(n: u64) -> Self {
        Self::number(SEGMENT_COMPONENT, n)
    }

    /// VersionNameComponent `v=n`.
    pub fn version(n: u64) -> Self {
        Self::number(VERSION_COMPONENT, n)
    }

    /// TimestampNameComponent `t=n` (microseconds since the Unix epoch).
    pub fn timestamp(n: u64) -> Self {
        Self::number(TIMESTAMP_COMPONENT, n)
    }

    /// SequenceNumNameComponent `seq=n`.
    pub fn sequence_num(n: u64) -> Self {
        Self::number(SEQUENCE_NUM_COMPONENT, n)
    }

    /// ByteOffsetNameComponent `off=n`.
    pub fn byte_offset(n: u64) -> Self {
        Self::number(BYTE_OFFSET_COMPONENT, n)
    }

    /// ImplicitSha256DigestComponent.
    pub fn implicit_digest(digest: [u8; 32]) -> Self {
        Self::new(
            IMPLICIT_SHA256_DIGEST_COMPONENT,
            Bytes::copy_from_slice(&digest),
        )
    }

    /// ParametersSha256DigestComponent.
    pub fn params_digest(digest: [u8; 32]) -> Self {
        Self::new(
            PARAMETERS_SHA256_DIGEST_COMPONENT,
            Bytes::copy_from_slice(&digest),
        )
    }

    /// The TLV-TYPE.
    pub fn typ(&self) -> u64 {
        self.typ
    }

    /// The TLV-VALUE.
    pub fn value(&self) -> &Bytes {
        &self.value
    }

    /// The value as a number, when this is a number-convention component
    /// (segment, byte offset, version, timestamp, sequence number) holding a
    /// valid NonNegativeInteger.
    pub fn as_number(&self) -> Option<u64> {
        match self.typ {
            SEGMENT_COMPONENT
            | BYTE_OFFSET_COMPONENT
            | VERSION_COMPONENT
            | TIMESTAMP_COMPONENT
            | SEQUENCE_NUM_COMPONENT => wire::decode_nni(&self.value).ok(),
            _ => None,
        }
    }

    /// The segment number, if this is a SegmentNameComponent.
    pub fn as_segment(&self) -> Option<u64> {
        (self.typ == SEGMENT_COMPONENT)
            .then(|| self.as_number())
            .flatten()
    }

    /// The version number, if this is a VersionNameComponent.
    pub fn as_version(&self) -> Option<u64> {
        (self.typ == VERSION_COMPONENT)
            .then(|| self.as_number())
            .flatten()
    }

    /// Encoded size of this component's TLV.
    pub fn wire_len(&self) -> usize {
        wire::tlv_len(self.typ, self.value.len())
    }

    /// Appends this component's TLV.
    pub fn encode_to(&self, out: &mut BytesMut) {
        wire::write_tlv(out, self.typ, &self.value);
    }

    /// The component's TLV encoding.
    pub fn to_wire(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(self.wire_len());
        self.encode_to(&mut b);
        b.freeze()
    }

    /// Decodes one component TLV.
    pub fn decode(wire: Bytes) -> Result<Self, DecodeError> {
        let e = wire::read_single(wire)?;
        check_component_type(e.typ)?;
        check_digest_len(e.typ, e.value.len())?;
        Ok(Self::new(e.typ, e.value))
    }

    /// [`decode`](Self::decode) of the component TLV `buf[range]`, slicing
    /// `buf` once, for the value.
    #[inline]
    pub(crate) fn decode_in(
        buf: &Bytes,
        range: std::ops::Range<usize>,
    ) -> Result<Self, DecodeError> {
        let base = range.start;
        let (typ, v) = wire::single_span(&buf[range])?;
        check_component_type(typ)?;
        check_digest_len(typ, v.len())?;
        Ok(Self::new(typ, buf.slice(base + v.start..base + v.end)))
    }

    /// Parses one component in URI form (without slashes).
    pub fn from_uri(s: &str) -> Result<Self, UriError> {
        let (typ, text) = match s.split_once('=') {
            None => (GENERIC_COMPONENT, s),
            Some((t, rest)) => match t {
                "sha256digest" => {
                    return parse_digest(s, rest).map(Component::implicit_digest);
                }
                "params-sha256" => {
                    return parse_digest(s, rest).map(Component::params_digest);
                }
                "seg" | "off" | "v" | "t" | "seq" => {
                    let typ = match t {
                        "seg" => SEGMENT_COMPONENT,
                        "off" => BYTE_OFFSET_COMPONENT,
                        "v" => VERSION_COMPONENT,
                        "t" => TIMESTAMP_COMPONENT,
                        _ => SEQUENCE_NUM_COMPONENT,
                    };
                    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(UriError::BadNumber(s.to_string()));
                    }
                    let n: u64 = rest
                        .parse()
                        .map_err(|_| UriError::BadNumber(s.to_string()))?;
                    return Ok(Component::number(typ, n));
                }
                _ => {
                    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(UriError::BadType(s.to_string()));
                    }
                    let typ: u64 = t.parse().map_err(|_| UriError::BadType(s.to_string()))?;
                    if typ == 0 || typ > MAX_COMPONENT_TYPE {
                        return Err(UriError::BadType(s.to_string()));
                    }
                    if typ == IMPLICIT_SHA256_DIGEST_COMPONENT
                        || typ == PARAMETERS_SHA256_DIGEST_COMPONENT
                    {
                        let v = unescape(s, rest)?;
                        check_digest_len(typ, v.len())
                            .map_err(|_| UriError::BadDigest(s.to_string()))?;
                        return Ok(Component::new(typ, v));
                    }
                    (typ, rest)
                }
            },
        };
        let mut value = unescape(s, text)?;
        if !value.is_empty() && value.iter().all(|b| *b == b'.') {
            // The "..." rule: a component of only periods is written with three
            // more; "." and ".." alone are reserved for relative paths.
            if value.len() < 3 {
                return Err(UriError::DotComponent(s.to_string()));
            }
            value.truncate(value.len() - 3);
        }
        Ok(Component::new(typ, value))
    }

    /// The component in canonical URI form.
    pub fn to_uri(&self) -> String {
        let mut s = String::new();
        self.write_uri(&mut s);
        s
    }

    fn write_uri(&self, s: &mut String) {
        use fmt::Write;
        let v = &self.value[..];
        match self.typ {
            IMPLICIT_SHA256_DIGEST_COMPONENT if v.len() == 32 => {
                s.push_str("sha256digest=");
                push_hex(s, v);
                return;
            }
            PARAMETERS_SHA256_DIGEST_COMPONENT if v.len() == 32 => {
                s.push_str("params-sha256=");
                push_hex(s, v);
                return;
            }
            _ => {}
        }
        // Only the shortest NNI form prints as `seg=n` etc.: any other form
        // would parse back to the shortest one, a different component.
        if let Some(n) = self.as_number().filter(|n| wire::nni_len(*n) == v.len()) {
            let prefix = match self.typ {
                SEGMENT_COMPONENT => "seg",
                BYTE_OFFSET_COMPONENT => "off",
                VERSION_COMPONENT => "v",
                TIMESTAMP_COMPONENT => "t",
                _ => "seq",
            };
            let _ = write!(s, "{prefix}={n}");
            return;
        }
        if self.typ != GENERIC_COMPONENT {
            let _ = write!(s, "{}=", self.typ);
        }
        if v.iter().all(|b| *b == b'.') {
            s.push_str("...");
        }
        for &b in v {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                s.push(b as char);
            } else {
                let _ = write!(s, "%{b:02X}");
            }
        }
    }

    /// Canonical order of components (spec §2.1 "Canonical Order"): by type,
    /// then by value length, then by value bytes.
    pub fn canonical_cmp(&self, other: &Self) -> Ordering {
        self.typ
            .cmp(&other.typ)
            .then(self.value.len().cmp(&other.value.len()))
            .then_with(|| self.value.cmp(&other.value))
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_uri())
    }
}

impl fmt::Debug for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Component({})", self.to_uri())
    }
}

impl PartialOrd for Component {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Component {
    fn cmp(&self, other: &Self) -> Ordering {
        self.canonical_cmp(other)
    }
}

fn check_component_type(typ: u64) -> Result<(), DecodeError> {
    if typ == 0 || typ > MAX_COMPONENT_TYPE {
        return Err(DecodeError::Invalid {
            field: "NameComponent",
            reason: "component type must be in 1..=65535",
        });
    }
    Ok(())
}

fn check_digest_len(typ: u64, len: usize) -> Result<(), DecodeError> {
    if (typ == IMPLICIT_SHA256_DIGEST_COMPONENT || typ == PARAMETERS_SHA256_DIGEST_COMPONENT)
        && len != 32
    {
        return Err(DecodeError::Invalid {
            field: "Sha256DigestComponent",
            reason: "digest component must be 32 octets",
        });
    }
    Ok(())
}

fn push_hex(s: &mut String, v: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in v {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
}

fn parse_digest(whole: &str, hex: &str) -> Result<[u8; 32], UriError> {
    let bad = || UriError::BadDigest(whole.to_string());
    if hex.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, chunk) in hex.as_bytes().chunks(2).enumerate() {
        let hi = hex_val(chunk[0]).ok_or_else(bad)?;
        let lo = hex_val(chunk[1]).ok_or_else(bad)?;
        out[i] = (hi << 4) | lo;
    }
    Ok(out)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn unescape(whole: &str, s: &str) -> Result<Vec<u8>, UriError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let (hi, lo) = match (b.get(i + 1), b.get(i + 2)) {
                    (Some(h), Some(l)) => (hex_val(*h), hex_val(*l)),
                    _ => (None, None),
                };
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push((h << 4) | l),
                    _ => return Err(UriError::BadPercent(whole.to_string())),
                }
                i += 3;
            }
            c if c.is_ascii_control() || c == b' ' || c == b'?' || c == b'#' => {
                return Err(UriError::BadChar(whole.to_string(), c as char));
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Component end offsets held inline: names this short (nearly all of them)
/// are decoded and cloned without a heap allocation for the index.
const INLINE_ENDS: usize = 14;

/// The index of a [`Name`]: where each component's TLV ends in the name's
/// value. Inline (16-bit offsets) for short names, a shared slice otherwise.
#[derive(Clone)]
enum Ends {
    Inline { len: u8, ends: [u16; INLINE_ENDS] },
    Shared(Arc<[u32]>),
}

impl Ends {
    const EMPTY: Ends = Ends::Inline {
        len: 0,
        ends: [0; INLINE_ENDS],
    };

    #[inline]
    fn len(&self) -> usize {
        match self {
            Ends::Inline { len, .. } => usize::from(*len),
            Ends::Shared(a) => a.len(),
        }
    }

    /// Where component `i` ends; `i` must be below `len()`.
    #[inline]
    fn end(&self, i: usize) -> usize {
        match self {
            Ends::Inline { ends, .. } => usize::from(ends[i]),
            Ends::Shared(a) => a[i] as usize,
        }
    }

    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).map(|i| self.end(i))
    }

    /// The index of the first `n` components (`n <= len()`).
    fn prefix(&self, n: usize) -> Ends {
        if let Ends::Inline { ends, .. } = self {
            return Ends::Inline {
                // n <= len <= INLINE_ENDS < 256.
                len: n as u8,
                ends: *ends,
            };
        }
        let mut b = EndsBuilder::new();
        for e in self.iter().take(n) {
            b.push(e);
        }
        b.finish()
    }
}

/// Builds an [`Ends`], inline until it outgrows the inline form.
struct EndsBuilder {
    len: usize,
    inline: [u16; INLINE_ENDS],
    spilled: Vec<u32>,
}

impl EndsBuilder {
    #[inline]
    fn new() -> Self {
        Self {
            len: 0,
            inline: [0; INLINE_ENDS],
            spilled: Vec::new(),
        }
    }

    #[inline]
    fn push(&mut self, end: usize) {
        if self.spilled.is_empty() && self.len < INLINE_ENDS {
            if let Ok(e) = u16::try_from(end) {
                self.inline[self.len] = e;
                self.len += 1;
                return;
            }
        }
        if self.spilled.is_empty() {
            self.spilled
                .extend(self.inline[..self.len].iter().map(|e| u32::from(*e)));
        }
        // Offsets fit in u32: a name's value is bounded by the u32 TLV-LENGTHs
        // a packet can carry (MAX_PACKET_SIZE is far below).
        self.spilled.push(end as u32);
    }

    #[inline]
    fn finish(self) -> Ends {
        if self.spilled.is_empty() {
            Ends::Inline {
                // len <= INLINE_ENDS < 256.
                len: self.len as u8,
                ends: self.inline,
            }
        } else {
            Ends::Shared(self.spilled.into())
        }
    }
}

/// An NDN name: an ordered list of components.
///
/// Cheap to clone (the buffer and the offset index are shared); equality and
/// hashing work on the wire encoding of the components, which is exactly the
/// name's identity.
#[derive(Clone)]
pub struct Name {
    /// TLV-VALUE of the Name element: the components' TLVs, back to back.
    value: Bytes,
    /// Offset in `value` where each component's TLV ends.
    ends: Ends,
}

impl Default for Name {
    fn default() -> Self {
        Self::new()
    }
}

impl Name {
    /// The empty name `/`.
    pub fn new() -> Self {
        Self {
            value: Bytes::new(),
            ends: Ends::EMPTY,
        }
    }

    /// Builds a name from components (they are re-encoded into one buffer).
    pub fn from_components<'a>(comps: impl IntoIterator<Item = &'a Component>) -> Self {
        let mut b = BytesMut::new();
        let mut ends = EndsBuilder::new();
        for c in comps {
            c.encode_to(&mut b);
            ends.push(b.len());
        }
        Self {
            value: b.freeze(),
            ends: ends.finish(),
        }
    }

    /// Decodes a whole Name TLV (type 7).
    pub fn decode(wire: Bytes) -> Result<Self, DecodeError> {
        let e = wire::read_single(wire)?;
        if e.typ != NAME {
            return Err(DecodeError::UnexpectedType {
                expected: NAME,
                found: e.typ,
            });
        }
        Self::from_value(e.value)
    }

    /// Builds a name from the TLV-VALUE of a Name element, validating every component.
    #[inline]
    pub fn from_value(value: Bytes) -> Result<Self, DecodeError> {
        Self::from_value_finding(value, 0).map(|(n, _)| n)
    }

    /// [`from_value`](Self::from_value), also returning the index of the
    /// first component of type `find` (Interest decoding looks for its
    /// ParametersSha256DigestComponent this way without a second pass).
    #[inline]
    pub(crate) fn from_value_finding(
        value: Bytes,
        find: u64,
    ) -> Result<(Self, Option<usize>), DecodeError> {
        let buf = &value[..];
        // Fast path: up to INLINE_ENDS components with 16-bit offsets, built
        // straight into the inline index (nearly every name); anything longer
        // starts over on the general path below.
        if buf.len() <= usize::from(u16::MAX) {
            let mut ends = [0u16; INLINE_ENDS];
            let mut n = 0usize;
            let mut found = None;
            let mut p = 0usize;
            while p < buf.len() {
                if n == INLINE_ENDS {
                    return Self::from_value_general(value, find);
                }
                let (typ, len) = match buf.get(p..p + 2) {
                    Some(&[t, l]) if t < 253 && l < 253 => {
                        p += 2;
                        (u64::from(t), u64::from(l))
                    }
                    _ => {
                        let typ = wire::read_varnum(buf, &mut p)?;
                        (typ, wire::read_varnum(buf, &mut p)?)
                    }
                };
                let remaining = (buf.len() - p) as u64;
                if len > remaining {
                    return Err(DecodeError::LengthExceeds {
                        typ,
                        len,
                        remaining,
                    });
                }
                check_component_type(typ)?;
                check_digest_len(typ, len as usize)?;
                if typ == find && found.is_none() {
                    found = Some(n);
                }
                p += len as usize;
                // p <= buf.len() <= u16::MAX.
                ends[n] = p as u16;
                n += 1;
            }
            return Ok((
                Self {
                    value,
                    ends: Ends::Inline {
                        // n <= INLINE_ENDS < 256.
                        len: n as u8,
                        ends,
                    },
                },
                found,
            ));
        }
        Self::from_value_general(value, find)
    }

    /// [`from_value_finding`](Self::from_value_finding) for any name.
    fn from_value_general(value: Bytes, find: u64) -> Result<(Self, Option<usize>), DecodeError> {
        let mut ends = EndsBuilder::new();
        let mut found = None;
        let buf = &value[..];
        let mut p = 0usize;
        while p < buf.len() {
            let (typ, len) = match buf.get(p..p + 2) {
                // Fast path: one-octet TLV-TYPE and TLV-LENGTH (nearly every component).
                Some(&[t, l]) if t < 253 && l < 253 => {
                    p += 2;
                    (u64::from(t), u64::from(l))
                }
                _ => {
                    let typ = wire::read_varnum(buf, &mut p)?;
                    (typ, wire::read_varnum(buf, &mut p)?)
                }
            };
            let remaining = (buf.len() - p) as u64;
            if len > remaining {
                return Err(DecodeError::LengthExceeds {
                    typ,
                    len,
                    remaining,
                });
            }
            check_component_type(typ)?;
            check_digest_len(typ, len as usize)?;
            if typ == find && found.is_none() {
                found = Some(ends.len);
            }
            p += len as usize;
            ends.push(p);
        }
        Ok((
            Self {
                value,
                ends: ends.finish(),
            },
            found,
        ))
    }

    /// Parses a name URI (`/a/b/seg=3`, optionally with an `ndn:` scheme).
    pub fn from_uri(uri: &str) -> Result<Self, UriError> {
        let mut s = uri.trim();
        if let Some(rest) = s.strip_prefix("ndn:") {
            s = rest;
        }
        let comps = s
            .split('/')
            .filter(|c| !c.is_empty())
            .map(Component::from_uri)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::from_components(&comps))
    }

    /// Index of the first component of type `typ`, read from the index
    /// without building [`Component`]s.
    pub fn position_of_type(&self, typ: u64) -> Option<usize> {
        let buf = &self.value[..];
        let mut start = 0;
        for (i, end) in self.ends.iter().enumerate() {
            let mut p = start;
            if wire::read_varnum(buf, &mut p).ok()? == typ {
                return Some(i);
            }
            start = end;
        }
        None
    }

    /// Number of components.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True for the empty name `/`.
    pub fn is_empty(&self) -> bool {
        self.ends.len() == 0
    }

    fn bounds(&self, i: usize) -> (usize, usize) {
        let start = if i == 0 { 0 } else { self.ends.end(i - 1) };
        (start, self.ends.end(i))
    }

    /// The `i`th component (negative-free index; `None` past the end).
    pub fn get(&self, i: usize) -> Option<Component> {
        if i >= self.len() {
            return None;
        }
        let (s, e) = self.bounds(i);
        let buf = &self.value[s..e];
        let mut p = 0;
        // Invariant: every component was validated when the name was built.
        let typ = wire::read_varnum(buf, &mut p).ok()?;
        let _len = wire::read_varnum(buf, &mut p).ok()?;
        Some(Component {
            typ,
            value: self.value.slice(s + p..e),
        })
    }

    /// The last component.
    pub fn last(&self) -> Option<Component> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    /// Iterates over the components.
    pub fn components(&self) -> impl ExactSizeIterator<Item = Component> + '_ {
        (0..self.len()).map(move |i| self.get(i).expect("index in range"))
    }

    /// The first `n` components (all of them when `n >= len`).
    pub fn prefix(&self, n: usize) -> Name {
        let n = n.min(self.len());
        let end = if n == 0 { 0 } else { self.ends.end(n - 1) };
        Name {
            value: self.value.slice(..end),
            ends: self.ends.prefix(n),
        }
    }

    /// Wire bytes of the first `n` components' TLVs: hash and compare these
    /// to look a prefix up without building a `Name`.
    pub fn prefix_value(&self, n: usize) -> &[u8] {
        let n = n.min(self.len());
        let end = if n == 0 { 0 } else { self.ends.end(n - 1) };
        &self.value[..end]
    }

    /// A new name with `c` appended.
    pub fn append(&self, c: &Component) -> Name {
        let mut b = BytesMut::with_capacity(self.value.len() + c.wire_len());
        b.put_slice(&self.value);
        c.encode_to(&mut b);
        let mut ends = EndsBuilder::new();
        self.ends.iter().for_each(|e| ends.push(e));
        ends.push(b.len());
        Name {
            value: b.freeze(),
            ends: ends.finish(),
        }
    }

    /// A new name with a generic component appended.
    pub fn append_str(&self, s: &str) -> Name {
        self.append(&Component::generic(Bytes::copy_from_slice(s.as_bytes())))
    }

    /// A new name with every component of `other` appended.
    pub fn join(&self, other: &Name) -> Name {
        let mut b = BytesMut::with_capacity(self.value.len() + other.value.len());
        b.put_slice(&self.value);
        b.put_slice(&other.value);
        let base = self.value.len();
        let mut ends = EndsBuilder::new();
        self.ends.iter().for_each(|e| ends.push(e));
        other.ends.iter().for_each(|e| ends.push(e + base));
        Name {
            value: b.freeze(),
            ends: ends.finish(),
        }
    }

    /// True if `self` is a prefix of `other` (every name is a prefix of itself).
    pub fn is_prefix_of(&self, other: &Name) -> bool {
        self.len() <= other.len() && other.prefix_value(self.len()) == &self.value[..]
    }

    /// TLV-VALUE of the Name element (the components' TLVs).
    pub fn value(&self) -> &Bytes {
        &self.value
    }

    /// Encoded size of the Name TLV.
    pub fn wire_len(&self) -> usize {
        wire::tlv_len(NAME, self.value.len())
    }

    /// Appends the Name TLV.
    pub fn encode_to(&self, out: &mut BytesMut) {
        wire::write_tlv(out, NAME, &self.value);
    }

    /// The Name TLV.
    pub fn to_wire(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(self.wire_len());
        self.encode_to(&mut b);
        b.freeze()
    }

    /// Canonical URI (`/` for the empty name).
    pub fn to_uri(&self) -> String {
        if self.is_empty() {
            return "/".to_string();
        }
        let mut s = String::with_capacity(self.value.len() + 8);
        for c in self.components() {
            s.push('/');
            c.write_uri(&mut s);
        }
        s
    }

    /// Canonical order of names (spec §2.1): component by component; a
    /// proper prefix sorts first.
    pub fn canonical_cmp(&self, other: &Self) -> Ordering {
        // On borrowed slices: building a Component per step clones a Bytes
        // (an atomic increment and decrement), which made this the
        // content store's hottest path.
        for i in 0..self.len().min(other.len()) {
            // Equal TLVs are equal components: skip them without parsing.
            let (s, e) = self.bounds(i);
            let (os, oe) = other.bounds(i);
            if self.value[s..e] == other.value[os..oe] {
                continue;
            }
            match self.component_parts(i).cmp(&other.component_parts(i)) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        self.len().cmp(&other.len())
    }

    /// `(type, value length, value)` of component `i`, borrowed; ordered as
    /// canonical order wants. `i` must be in range.
    fn component_parts(&self, i: usize) -> (u64, usize, &[u8]) {
        let (s, e) = self.bounds(i);
        let buf = &self.value[s..e];
        let mut p = 0;
        // Invariant: every component was validated when the name was built;
        // a failure here degrades to comparing raw bytes.
        let typ = wire::read_varnum(buf, &mut p).unwrap_or(0);
        let _len = wire::read_varnum(buf, &mut p).unwrap_or(0);
        let value = buf.get(p..).unwrap_or(buf);
        (typ, value.len(), value)
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for Name {}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.value);
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> Ordering {
        self.canonical_cmp(other)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_uri())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({})", self.to_uri())
    }
}

impl std::str::FromStr for Name {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_uri(s)
    }
}

/// Reads a Name element from a reader (convenience for packet decoders).
pub(crate) fn read_name(r: &mut Reader) -> Result<Name, DecodeError> {
    let e = r.expect(NAME)?;
    Name::from_value(e.value)
}

// Interoperation with crates built on `ndn-tlv`: our Name is a `Tlv` record.
impl ndn_tlv::Tlv for Name {
    const TYP: usize = NAME as usize;
    fn inner_size(&self) -> usize {
        self.value.len()
    }
}

impl ndn_tlv::TlvEncode for Name {
    fn encode(&self) -> Bytes {
        self.to_wire()
    }
    fn size(&self) -> usize {
        self.wire_len()
    }
}

impl ndn_tlv::TlvDecode for Name {
    fn decode(bytes: &mut Bytes) -> ndn_tlv::Result<Self> {
        let mut r = Reader::new(bytes.clone());
        let e = r
            .read()
            .map_err(|_| ndn_tlv::TlvError::UnexpectedEndOfStream)?;
        if e.typ != NAME {
            return Err(ndn_tlv::TlvError::TypeMismatch {
                expected: NAME as usize,
                found: e.typ as usize,
            });
        }
        let name = Name::from_value(e.value).map_err(|_| ndn_tlv::TlvError::FormatError)?;
        let used = bytes.len() - r.remaining();
        let _ = bytes.split_to(used);
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn test_canonical_order() {
        use std::cmp::Ordering::*;
        let n = |u: &str| super::Name::from_uri(u).unwrap();
        let cases = [
            ("/a", "/a", Equal),
            ("/a", "/a/b", Less),
            ("/b", "/aa", Less),           // shorter value first
            ("/a/seg=1", "/a/b", Greater), // segment type (50) after generic (8)
            ("/a/%01", "/a/%02", Less),
            ("/z", "/a/b", Greater),
        ];
        for (a, b, o) in cases {
            assert_eq!(n(a).canonical_cmp(&n(b)), o, "{a} vs {b}");
            assert_eq!(n(b).canonical_cmp(&n(a)), o.reverse(), "{b} vs {a}");
            // Agrees with the component-wise order.
            let by_components = n(a)
                .components()
                .zip(n(b).components())
                .map(|(x, y)| x.canonical_cmp(&y))
                .find(|o| *o != Equal)
                .unwrap_or(n(a).len().cmp(&n(b).len()));
            assert_eq!(by_components, o, "{a} vs {b}");
        }
    }

    use super::*;

    fn uri(s: &str) -> String {
        Name::from_uri(s).unwrap().to_uri()
    }

    #[test]
    fn test_parse_emit_generic() {
        let n = Name::from_uri("/picasso/svc/S1/index.html").unwrap();
        assert_eq!(n.len(), 4);
        assert_eq!(
            &n.to_wire()[..],
            b"\x07\x1e\x08\x07picasso\x08\x03svc\x08\x02S1\x08\x0aindex.html"
        );
        assert_eq!(n.to_uri(), "/picasso/svc/S1/index.html");
        assert_eq!(Name::decode(n.to_wire()).unwrap(), n);
    }

    #[test]
    fn test_canonical_uri() {
        assert_eq!(uri("ndn:/a/b"), "/a/b");
        assert_eq!(uri("/"), "/");
        assert_eq!(uri(""), "/");
        assert_eq!(uri("/a//b/"), "/a/b");
        assert_eq!(uri("/hello%20world/%7e"), "/hello%20world/~");
        assert_eq!(uri("/%2f%3D"), "/%2F%3D");
        assert_eq!(uri("/.../..../....."), "/.../..../.....");
        assert_eq!(uri("/8=a/32=kw/9=%00"), "/a/32=kw/9=%00");
        assert_eq!(
            uri("/seg=3/off=7/v=1000/t=5/seq=0"),
            "/seg=3/off=7/v=1000/t=5/seq=0"
        );
        assert_eq!(uri("/50=%01%00"), "/seg=256");
        assert_eq!(uri("/50=%01%02%03"), "/50=%01%02%03");
        let d = "sha256digest=".to_string() + &"ab".repeat(32);
        assert_eq!(uri(&format!("/x/{d}")), format!("/x/{d}"));
        assert_eq!(
            uri(&format!("/x/1={}", "%AB".repeat(32))),
            format!("/x/{d}")
        );
        let p = "params-sha256=".to_string() + &"0f".repeat(32);
        assert_eq!(
            uri(&format!(
                "/{}",
                p.to_uppercase().replace("PARAMS-SHA256", "params-sha256")
            )),
            format!("/{p}")
        );
    }

    #[test]
    fn test_period_rule() {
        let n = Name::from_uri("/.../....").unwrap();
        assert_eq!(n.get(0).unwrap().value().len(), 0);
        assert_eq!(&n.get(1).unwrap().value()[..], b".");
        assert!(matches!(
            Name::from_uri("/a/."),
            Err(UriError::DotComponent(_))
        ));
        assert!(matches!(
            Name::from_uri("/a/.."),
            Err(UriError::DotComponent(_))
        ));
        // an empty typed component
        assert_eq!(uri("/32=..."), "/32=...");
    }

    #[test]
    fn test_bad_uris() {
        assert!(matches!(
            Name::from_uri("/a%2"),
            Err(UriError::BadPercent(_))
        ));
        assert!(matches!(
            Name::from_uri("/a%zz"),
            Err(UriError::BadPercent(_))
        ));
        assert!(matches!(Name::from_uri("/0=a"), Err(UriError::BadType(_))));
        assert!(matches!(
            Name::from_uri("/65536=a"),
            Err(UriError::BadType(_))
        ));
        assert!(matches!(Name::from_uri("/x=a"), Err(UriError::BadType(_))));
        assert!(matches!(
            Name::from_uri("/seg=a"),
            Err(UriError::BadNumber(_))
        ));
        assert!(matches!(
            Name::from_uri("/seg=-1"),
            Err(UriError::BadNumber(_))
        ));
        assert!(matches!(
            Name::from_uri("/sha256digest=00"),
            Err(UriError::BadDigest(_))
        ));
        assert!(matches!(
            Name::from_uri("/1=%00"),
            Err(UriError::BadDigest(_))
        ));
        assert!(matches!(
            Name::from_uri("/a b"),
            Err(UriError::BadChar(_, ' '))
        ));
    }

    #[test]
    fn test_decode_rejects() {
        // component type 0
        assert!(Name::decode(Bytes::from_static(b"\x07\x02\x00\x00")).is_err());
        // digest component of wrong length
        assert!(Name::decode(Bytes::from_static(b"\x07\x03\x01\x01\x00")).is_err());
        // component overruns the name
        assert!(Name::decode(Bytes::from_static(b"\x07\x03\x08\x05a")).is_err());
        // not a name
        assert!(Name::decode(Bytes::from_static(b"\x08\x00")).is_err());
        // type above 65535
        assert!(Name::decode(Bytes::from_static(b"\x07\x06\xFE\x00\x01\x00\x00\x00")).is_err());
    }

    #[test]
    fn test_prefix_and_order() {
        let a = Name::from_uri("/a").unwrap();
        let ab = Name::from_uri("/a/b").unwrap();
        let b = Name::from_uri("/b").unwrap();
        assert!(a.is_prefix_of(&ab));
        assert!(a.is_prefix_of(&a));
        assert!(Name::new().is_prefix_of(&a));
        assert!(!ab.is_prefix_of(&a));
        assert!(!b.is_prefix_of(&ab));
        assert_eq!(ab.prefix(1), a);
        assert_eq!(ab.prefix(9), ab);
        assert!(a < ab && ab < b);
        // shorter value sorts first, then bytes; type dominates
        let mut v: Vec<Name> = [
            "/aa",
            "/b",
            "/seg=1",
            "/a",
            "/32=z",
            "/sha256digest=".to_string().as_str(),
        ]
        .iter()
        .filter(|s| !s.ends_with('='))
        .map(|s| Name::from_uri(s).unwrap())
        .collect();
        v.sort();
        let s: Vec<String> = v.iter().map(|n| n.to_uri()).collect();
        assert_eq!(s, ["/a", "/b", "/aa", "/32=z", "/seg=1"]);
    }

    #[test]
    fn test_append_join_share() {
        let n = Name::from_uri("/a/b").unwrap();
        let m = n.append(&Component::segment(7)).append_str("c");
        assert_eq!(m.to_uri(), "/a/b/seg=7/c");
        assert_eq!(m.get(2).unwrap().as_segment(), Some(7));
        assert_eq!(
            n.join(&Name::from_uri("/x/y").unwrap()).to_uri(),
            "/a/b/x/y"
        );
        let c = m.clone();
        assert_eq!(
            c.value().as_ptr(),
            m.value().as_ptr(),
            "clones share the buffer"
        );
        assert_eq!(m.last().unwrap().to_uri(), "c");
    }

    #[test]
    fn test_long_names_spill_the_index() {
        // More components than the inline index holds.
        let comps: Vec<Component> = (0..40).map(Component::segment).collect();
        let n = Name::from_components(&comps);
        assert_eq!(n.len(), 40);
        assert_eq!(n.get(39).unwrap().as_segment(), Some(39));
        assert_eq!(Name::decode(n.to_wire()).unwrap().get(25), n.get(25));
        assert_eq!(n.prefix(3).to_uri(), "/seg=0/seg=1/seg=2");
        assert_eq!(n.prefix(20).len(), 20);
        // A component past the 16-bit offsets of the inline index.
        let big = Component::generic(vec![b'x'; 70_000]);
        let n = Name::from_uri("/a").unwrap().append(&big).append_str("z");
        assert_eq!(n.len(), 3);
        assert_eq!(n.get(1).unwrap().value().len(), 70_000);
        assert_eq!(n.last().unwrap().to_uri(), "z");
        assert_eq!(Name::decode(n.to_wire()).unwrap(), n);
        assert_eq!(n.prefix(1).join(&n.prefix(3)).len(), 4);
        assert_eq!(n.position_of_type(GENERIC_COMPONENT), Some(0));
        assert_eq!(n.position_of_type(SEGMENT_COMPONENT), None);
    }

    #[test]
    fn test_ndn_tlv_traits() {
        use ndn_tlv::{TlvDecode, TlvEncode};
        let n = Name::from_uri("/a/v=3").unwrap();
        let mut wire = n.encode();
        assert_eq!(wire.len(), n.size());
        wire = [wire, Bytes::from_static(b"\x0a\x00")].concat().into();
        assert_eq!(<Name as TlvDecode>::decode(&mut wire).unwrap(), n);
        assert_eq!(&wire[..], b"\x0a\x00");
    }
}
