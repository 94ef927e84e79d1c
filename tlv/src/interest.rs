//! Interest packets (packet format v0.3 §4 "Interest Packet", §5 "Signed Interest").
//!
//! > Interest = INTEREST-TYPE TLV-LENGTH
//! >   Name
//! >   [CanBePrefix]
//! >   [MustBeFresh]
//! >   [ForwardingHint]
//! >   [Nonce]
//! >   [InterestLifetime]
//! >   [HopLimit]
//! >   [ApplicationParameters [InterestSignatureInfo InterestSignatureValue]]
//!
//! This module owns the Interest's fields, their order, the
//! ParametersSha256DigestComponent (computed on encode, checked on decode)
//! and what bytes a signed Interest signs, in both the v0.3 form and the
//! older "signed command Interest" form that NFD management still accepts
//! (the signature rides in the last four name components). Replay checks
//! (SignatureTime windows, nonce memories) belong to the receiver.

use bytes::{Bytes, BytesMut};

use crate::signature::{self, SignatureError, SignatureInfo, Signer, Verifier};
use crate::types::*;
use crate::wire::{self, Reader, SpanReader};
use crate::{Component, DecodeError, Name};

/// InterestLifetime when the element is absent (spec §4.2.5: 4 seconds).
pub const DEFAULT_LIFETIME_MS: u64 = 4000;

/// An Interest. Fields are read through accessors and changed through
/// `set_*`/`with_*`, which drop the cached wire encoding. Two Interests are
/// equal when their fields are, whether or not either holds its wire.
#[derive(Debug, Clone)]
pub struct Interest {
    name: Name,
    can_be_prefix: bool,
    must_be_fresh: bool,
    forwarding_hint: Vec<Name>,
    nonce: Option<u32>,
    lifetime_ms: Option<u64>,
    hop_limit: Option<u8>,
    app_params: Option<Bytes>,
    signature_info: Option<SignatureInfo>,
    signature_value: Option<Bytes>,
    /// The packet as received or last encoded; `None` after a change.
    wire: Option<Bytes>,
}

impl PartialEq for Interest {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
            && self.can_be_prefix == o.can_be_prefix
            && self.must_be_fresh == o.must_be_fresh
            && self.forwarding_hint == o.forwarding_hint
            && self.nonce == o.nonce
            && self.lifetime_ms == o.lifetime_ms
            && self.hop_limit == o.hop_limit
            && self.app_params == o.app_params
            && self.signature_info == o.signature_info
            && self.signature_value == o.signature_value
    }
}

impl Eq for Interest {}

impl Interest {
    /// An Interest for `name` with no other field.
    pub fn new(name: Name) -> Self {
        Self {
            name,
            can_be_prefix: false,
            must_be_fresh: false,
            forwarding_hint: Vec::new(),
            nonce: None,
            lifetime_ms: None,
            hop_limit: None,
            app_params: None,
            signature_info: None,
            signature_value: None,
            wire: None,
        }
    }

    /// The name (with its ParametersSha256DigestComponent, if any).
    pub fn name(&self) -> &Name {
        &self.name
    }
    /// CanBePrefix.
    pub fn can_be_prefix(&self) -> bool {
        self.can_be_prefix
    }
    /// MustBeFresh.
    pub fn must_be_fresh(&self) -> bool {
        self.must_be_fresh
    }
    /// ForwardingHint names.
    pub fn forwarding_hint(&self) -> &[Name] {
        &self.forwarding_hint
    }
    /// Nonce, as the 4 octets read big-endian.
    pub fn nonce(&self) -> Option<u32> {
        self.nonce
    }
    /// InterestLifetime as given in the packet.
    pub fn lifetime_ms(&self) -> Option<u64> {
        self.lifetime_ms
    }
    /// InterestLifetime, defaulting to 4 s.
    pub fn lifetime(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.lifetime_ms.unwrap_or(DEFAULT_LIFETIME_MS))
    }
    /// HopLimit.
    pub fn hop_limit(&self) -> Option<u8> {
        self.hop_limit
    }
    /// ApplicationParameters (TLV-VALUE).
    pub fn app_params(&self) -> Option<&Bytes> {
        self.app_params.as_ref()
    }
    /// InterestSignatureInfo.
    pub fn signature_info(&self) -> Option<&SignatureInfo> {
        self.signature_info.as_ref()
    }
    /// InterestSignatureValue (TLV-VALUE).
    pub fn signature_value(&self) -> Option<&Bytes> {
        self.signature_value.as_ref()
    }
    /// The cached wire encoding (as decoded or last encoded), if unchanged since.
    pub fn cached_wire(&self) -> Option<&Bytes> {
        self.wire.as_ref()
    }

    /// Sets the name.
    pub fn set_name(&mut self, name: Name) {
        self.name = name;
        self.wire = None;
    }
    /// Sets CanBePrefix.
    pub fn set_can_be_prefix(&mut self, v: bool) {
        self.can_be_prefix = v;
        self.wire = None;
    }
    /// Sets MustBeFresh.
    pub fn set_must_be_fresh(&mut self, v: bool) {
        self.must_be_fresh = v;
        self.wire = None;
    }
    /// Sets the ForwardingHint.
    pub fn set_forwarding_hint(&mut self, v: Vec<Name>) {
        self.forwarding_hint = v;
        self.wire = None;
    }
    /// Sets the Nonce.
    pub fn set_nonce(&mut self, v: Option<u32>) {
        self.nonce = v;
        self.wire = None;
    }
    /// Sets InterestLifetime.
    pub fn set_lifetime_ms(&mut self, v: Option<u64>) {
        self.lifetime_ms = v;
        self.wire = None;
    }
    /// Sets HopLimit.
    pub fn set_hop_limit(&mut self, v: Option<u8>) {
        self.hop_limit = v;
        self.wire = None;
    }
    /// Sets ApplicationParameters (drops any signature: it no longer matches).
    pub fn set_app_params(&mut self, v: Option<Bytes>) {
        self.app_params = v;
        self.signature_info = None;
        self.signature_value = None;
        self.wire = None;
    }

    /// Builder form of [`set_can_be_prefix`](Self::set_can_be_prefix).
    pub fn with_can_be_prefix(mut self, v: bool) -> Self {
        self.set_can_be_prefix(v);
        self
    }
    /// Builder form of [`set_must_be_fresh`](Self::set_must_be_fresh).
    pub fn with_must_be_fresh(mut self, v: bool) -> Self {
        self.set_must_be_fresh(v);
        self
    }
    /// Builder form of [`set_forwarding_hint`](Self::set_forwarding_hint).
    pub fn with_forwarding_hint(mut self, v: Vec<Name>) -> Self {
        self.set_forwarding_hint(v);
        self
    }
    /// Builder form of [`set_nonce`](Self::set_nonce).
    pub fn with_nonce(mut self, v: u32) -> Self {
        self.set_nonce(Some(v));
        self
    }
    /// Builder form of [`set_lifetime_ms`](Self::set_lifetime_ms).
    pub fn with_lifetime_ms(mut self, v: u64) -> Self {
        self.set_lifetime_ms(Some(v));
        self
    }
    /// Builder form of [`set_hop_limit`](Self::set_hop_limit).
    pub fn with_hop_limit(mut self, v: u8) -> Self {
        self.set_hop_limit(Some(v));
        self
    }
    /// Builder form of [`set_app_params`](Self::set_app_params).
    pub fn with_app_params(mut self, v: impl Into<Bytes>) -> Self {
        self.set_app_params(Some(v.into()));
        self
    }

    /// The name without its ParametersSha256DigestComponent: what a
    /// producer's application sees as the request name.
    pub fn name_without_params_digest(&self) -> Name {
        match params_digest_index(&self.name) {
            Some(i) if i + 1 == self.name.len() => self.name.prefix(i),
            Some(i) => splice_component(&self.name, i, None),
            None => self.name.clone(),
        }
    }

    /// Decodes an Interest from its whole wire encoding (the input is kept
    /// as [`cached_wire`](Self::cached_wire)).
    pub fn decode(wire: Bytes) -> Result<Self, DecodeError> {
        // Spans rather than sliced `Bytes` until a field keeps bytes: every
        // slice is a reference-count round trip, and this is the hot path.
        let (typ, range) = wire::single_span(&wire)?;
        if typ != INTEREST {
            return Err(DecodeError::UnexpectedType {
                expected: INTEREST,
                found: typ,
            });
        }
        Self::decode_value(wire, range)
    }

    #[inline]
    /// Decodes the Interest whose TLV-VALUE is `wire[value]`, keeping `wire`
    /// as the cached encoding. (One function builds the result, so the
    /// Interest is not copied from frame to frame on the way out.)
    fn decode_value(wire: Bytes, value: std::ops::Range<usize>) -> Result<Self, DecodeError> {
        let value_end = value.end;
        let mut r = SpanReader::new(&wire, value);
        let name_range = r.expect(NAME)?;
        let (name, digest_idx) =
            Name::from_value_finding(wire.slice(name_range), PARAMETERS_SHA256_DIGEST_COMPONENT)?;
        let mut it = Interest::new(name);
        // Position of each known element in the spec's order; an element that
        // appears after a later one is out of order (spec §4: "critical →
        // invalid, non-critical → ignored").
        let order = |t: u64| -> Option<u8> {
            Some(match t {
                CAN_BE_PREFIX => 1,
                MUST_BE_FRESH => 2,
                FORWARDING_HINT => 3,
                NONCE => 4,
                INTEREST_LIFETIME => 5,
                HOP_LIMIT => 6,
                APPLICATION_PARAMETERS => 7,
                INTEREST_SIGNATURE_INFO => 8,
                INTEREST_SIGNATURE_VALUE => 9,
                _ => return None,
            })
        };
        let mut last = 0u8;
        // Start of ApplicationParameters in `value`, for the digest and signature.
        let mut params_start = None;
        let mut sig_value_start = None;
        while !r.is_empty() {
            let start = r.position();
            let (typ, range) = r.read()?;
            let value = &wire;
            let pos = match order(typ) {
                Some(p) if p > last => p,
                Some(_) | None => {
                    if typ == IGNORED || !wire::is_critical(typ) {
                        continue;
                    }
                    return Err(match order(typ) {
                        Some(_) => DecodeError::Invalid {
                            field: "Interest",
                            reason: "element out of order or repeated",
                        },
                        None => DecodeError::UnknownCritical(typ),
                    });
                }
            };
            last = pos;
            match typ {
                CAN_BE_PREFIX => it.can_be_prefix = true,
                MUST_BE_FRESH => it.must_be_fresh = true,
                FORWARDING_HINT => it.forwarding_hint = decode_forwarding_hint(value.slice(range))?,
                NONCE => {
                    let b: [u8; 4] = value[range].try_into().map_err(|_| DecodeError::Invalid {
                        field: "Nonce",
                        reason: "must be 4 octets",
                    })?;
                    it.nonce = Some(u32::from_be_bytes(b));
                }
                INTEREST_LIFETIME => it.lifetime_ms = Some(wire::decode_nni(&value[range])?),
                HOP_LIMIT => {
                    if range.len() != 1 {
                        return Err(DecodeError::Invalid {
                            field: "HopLimit",
                            reason: "must be 1 octet",
                        });
                    }
                    it.hop_limit = Some(value[range.start]);
                }
                APPLICATION_PARAMETERS => {
                    params_start = Some(start);
                    it.app_params = Some(value.slice(range));
                }
                INTEREST_SIGNATURE_INFO => {
                    it.signature_info = Some(SignatureInfo::decode_in(value, range)?)
                }
                _ => {
                    sig_value_start = Some(start);
                    it.signature_value = Some(value.slice(range))
                }
            }
        }
        if it.signature_info.is_some() != it.signature_value.is_some() {
            return Err(DecodeError::Invalid {
                field: "InterestSignatureInfo",
                reason: "InterestSignatureInfo and InterestSignatureValue must appear together",
            });
        }
        if it.signature_info.is_some() && it.app_params.is_none() {
            return Err(DecodeError::Invalid {
                field: "ApplicationParameters",
                reason: "a signed Interest must carry ApplicationParameters",
            });
        }
        // §4.2.4: the digest covers ApplicationParameters up to the end.
        match (params_start, digest_idx) {
            (Some(s), Some(i)) => {
                let d = signature::sha256(&[&wire[s..value_end]]);
                let c = it.name.get(i).ok_or(DecodeError::Truncated)?;
                if c.value()[..] != d[..] {
                    return Err(DecodeError::Invalid {
                        field: "ParametersSha256DigestComponent",
                        reason: "does not match the ApplicationParameters",
                    });
                }
            }
            (Some(_), None) => {
                return Err(DecodeError::Invalid {
                    field: "ParametersSha256DigestComponent",
                    reason: "missing although ApplicationParameters is present",
                })
            }
            (None, Some(_)) => {
                return Err(DecodeError::Invalid {
                    field: "ParametersSha256DigestComponent",
                    reason: "present without ApplicationParameters",
                })
            }
            (None, None) => {}
        }
        let _ = sig_value_start;
        it.wire = Some(wire);
        Ok(it)
    }

    /// Encodes the Interest in spec order, computing the
    /// ParametersSha256DigestComponent when ApplicationParameters is present.
    /// Returns the cached wire when nothing changed since decode/encode.
    /// The name is updated to carry the digest component.
    pub fn encode(&mut self) -> Bytes {
        if let Some(w) = &self.wire {
            return w.clone();
        }
        if let Some(p) = self.params_block() {
            self.name = with_params_digest(&self.name, signature::sha256(&[&p]));
        }
        let w = self.encode_fresh();
        self.wire = Some(w.clone());
        w
    }

    /// Encodes without touching the cache.
    pub fn to_wire(&self) -> Bytes {
        match &self.wire {
            Some(w) => w.clone(),
            None => self.encode_fresh(),
        }
    }

    fn params_block(&self) -> Option<BytesMut> {
        let p = self.app_params.as_ref()?;
        let mut len = wire::tlv_len(APPLICATION_PARAMETERS, p.len());
        if let (Some(si), Some(sv)) = (&self.signature_info, &self.signature_value) {
            len += si.wire_len(INTEREST_SIGNATURE_INFO)
                + wire::tlv_len(INTEREST_SIGNATURE_VALUE, sv.len());
        }
        let mut b = BytesMut::with_capacity(len);
        wire::write_tlv(&mut b, APPLICATION_PARAMETERS, p);
        if let (Some(si), Some(sv)) = (&self.signature_info, &self.signature_value) {
            si.encode_to(&mut b, INTEREST_SIGNATURE_INFO);
            wire::write_tlv(&mut b, INTEREST_SIGNATURE_VALUE, sv);
        }
        Some(b)
    }

    fn encode_fresh(&self) -> Bytes {
        let params = self.params_block();
        let name = match &params {
            Some(p) => with_params_digest(&self.name, signature::sha256(&[p])),
            None => self.name.clone(),
        };
        let hint_len: usize = self.forwarding_hint.iter().map(Name::wire_len).sum();
        let mut len = name.wire_len();
        if self.can_be_prefix {
            len += 2;
        }
        if self.must_be_fresh {
            len += 2;
        }
        if !self.forwarding_hint.is_empty() {
            len += wire::tlv_len(FORWARDING_HINT, hint_len);
        }
        if self.nonce.is_some() {
            len += 6;
        }
        if let Some(l) = self.lifetime_ms {
            len += wire::nni_tlv_len(INTEREST_LIFETIME, l);
        }
        if self.hop_limit.is_some() {
            len += 3;
        }
        len += params.as_ref().map_or(0, |p| p.len());
        let mut out = BytesMut::with_capacity(wire::tlv_len(INTEREST, len));
        wire::write_header(&mut out, INTEREST, len);
        name.encode_to(&mut out);
        if self.can_be_prefix {
            wire::write_tlv(&mut out, CAN_BE_PREFIX, &[]);
        }
        if self.must_be_fresh {
            wire::write_tlv(&mut out, MUST_BE_FRESH, &[]);
        }
        if !self.forwarding_hint.is_empty() {
            wire::write_header(&mut out, FORWARDING_HINT, hint_len);
            for n in &self.forwarding_hint {
                n.encode_to(&mut out);
            }
        }
        if let Some(n) = self.nonce {
            wire::write_tlv(&mut out, NONCE, &n.to_be_bytes());
        }
        if let Some(l) = self.lifetime_ms {
            wire::write_nni_tlv(&mut out, INTEREST_LIFETIME, l);
        }
        if let Some(h) = self.hop_limit {
            wire::write_tlv(&mut out, HOP_LIMIT, &[h]);
        }
        if let Some(p) = params {
            out.extend_from_slice(&p);
        }
        out.freeze()
    }

    /// Signs the Interest (v0.3 signed Interest, spec §5.4): sets
    /// InterestSignatureInfo from `info` (whose type and KeyLocator should
    /// come from `signer.signature_info()`, plus SignatureNonce/Time/SeqNum
    /// as the application's replay protection needs), adds empty
    /// ApplicationParameters when there are none, and computes the signature
    /// and the ParametersSha256DigestComponent.
    pub fn sign(&mut self, signer: &Signer, info: SignatureInfo) {
        if self.app_params.is_none() {
            self.app_params = Some(Bytes::new());
        }
        self.signature_info = Some(info);
        self.signature_value = None;
        self.wire = None;
        let sig = {
            let (name_part, rest) = self.signed_portion_parts_unsigned();
            signer.sign(&[&name_part, &rest])
        };
        self.signature_value = Some(sig);
        self.encode();
    }

    /// The two pieces of the signed portion (spec §5.4): the name's
    /// components except the ParametersSha256DigestComponent, and the
    /// elements from ApplicationParameters through InterestSignatureInfo.
    fn signed_portion_parts_unsigned(&self) -> (Vec<u8>, Vec<u8>) {
        let mut name_part = Vec::with_capacity(self.name.value().len());
        for c in self.name.components() {
            if c.typ() != PARAMETERS_SHA256_DIGEST_COMPONENT {
                name_part.extend_from_slice(&c.to_wire());
            }
        }
        let mut rest = BytesMut::new();
        if let Some(p) = &self.app_params {
            wire::write_tlv(&mut rest, APPLICATION_PARAMETERS, p);
        }
        if let Some(si) = &self.signature_info {
            si.encode_to(&mut rest, INTEREST_SIGNATURE_INFO);
        }
        (name_part, rest.to_vec())
    }

    /// Verifies a v0.3 signed Interest's signature with `verifier`.
    pub fn verify(&self, verifier: &Verifier) -> Result<(), SignatureError> {
        let (info, sig) = match (&self.signature_info, &self.signature_value) {
            (Some(i), Some(s)) => (i, s),
            _ => return Err(SignatureError::Unsigned),
        };
        let (name_part, rest) = self.signed_portion_parts_unsigned();
        verifier.verify(info.signature_type, &[&name_part, &rest], sig)
    }

    /// Builds a signed command Interest in the older form (NFD
    /// "Command Interests", as python-ndn's `make_command` sends): the name
    /// gets four more components — timestamp (ms, 8 octets), a random
    /// 8-octet nonce, SignatureInfo and SignatureValue — and the signature
    /// covers every component's TLV before the SignatureValue component.
    pub fn new_command(prefix: &Name, signer: &Signer, timestamp_ms: u64, nonce: u64) -> Self {
        let name = prefix
            .append(&Component::generic(Bytes::copy_from_slice(
                &timestamp_ms.to_be_bytes(),
            )))
            .append(&Component::generic(Bytes::copy_from_slice(
                &nonce.to_be_bytes(),
            )))
            .append(&Component::generic(
                signer.signature_info().to_wire(SIGNATURE_INFO),
            ));
        let sig = signer.sign(&[name.value()]);
        let mut sv = BytesMut::new();
        signature::write_signature_value(&mut sv, SIGNATURE_VALUE, &sig);
        Interest::new(name.append(&Component::generic(sv.freeze())))
    }

    /// Parses the older command-Interest form: `Some` when the last four
    /// components are timestamp, nonce, SignatureInfo and SignatureValue.
    pub fn command_signature(&self) -> Option<CommandSignature> {
        let n = self.name.len();
        if n < 4 {
            return None;
        }
        let ts = self.name.get(n - 4)?;
        let nonce = self.name.get(n - 3)?;
        let si = self.name.get(n - 2)?;
        let sv = self.name.get(n - 1)?;
        if ts.typ() != GENERIC_COMPONENT || nonce.typ() != GENERIC_COMPONENT {
            return None;
        }
        let timestamp_ms = wire::decode_nni(ts.value()).ok()?;
        let si_el = wire::read_single(si.value().clone()).ok()?;
        let sv_el = wire::read_single(sv.value().clone()).ok()?;
        if si_el.typ != SIGNATURE_INFO || sv_el.typ != SIGNATURE_VALUE {
            return None;
        }
        Some(CommandSignature {
            timestamp_ms,
            nonce: nonce.value().clone(),
            info: SignatureInfo::decode_value(si_el.value).ok()?,
            value: sv_el.value,
            signed: Bytes::copy_from_slice(self.name.prefix_value(n - 1)),
            prefix_len: n - 4,
        })
    }
}

/// The signature carried in the name of an older-form command Interest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSignature {
    /// Timestamp component (milliseconds since the Unix epoch).
    pub timestamp_ms: u64,
    /// Random nonce component.
    pub nonce: Bytes,
    /// The SignatureInfo component's content.
    pub info: SignatureInfo,
    /// The SignatureValue component's TLV-VALUE.
    pub value: Bytes,
    /// The signed portion: the components' TLVs before SignatureValue.
    pub signed: Bytes,
    /// Number of name components before the four signature components.
    pub prefix_len: usize,
}

impl CommandSignature {
    /// Verifies the command's signature.
    pub fn verify(&self, verifier: &Verifier) -> Result<(), SignatureError> {
        verifier.verify(self.info.signature_type, &[&self.signed], &self.value)
    }
}

fn params_digest_index(name: &Name) -> Option<usize> {
    name.position_of_type(PARAMETERS_SHA256_DIGEST_COMPONENT)
}

/// `name` with its ParametersSha256DigestComponent set to `digest`:
/// replaced in place if present, else appended.
fn with_params_digest(name: &Name, digest: [u8; 32]) -> Name {
    let comp = Component::params_digest(digest);
    match params_digest_index(name) {
        None => name.append(&comp),
        Some(i) => splice_component(name, i, Some(&comp)),
    }
}

/// `name` with component `i` replaced by `with` (or removed), every other
/// component kept byte for byte: re-encoding them could change a name that
/// arrived with non-shortest TLV-LENGTHs, and the name is its wire bytes.
fn splice_component(name: &Name, i: usize, with: Option<&Component>) -> Name {
    let head = name.prefix_value(i);
    let tail = &name.value()[name.prefix_value(i + 1).len()..];
    let mut b = BytesMut::with_capacity(name.value().len() + with.map_or(0, |c| c.wire_len()));
    b.extend_from_slice(head);
    if let Some(c) = with {
        c.encode_to(&mut b);
    }
    b.extend_from_slice(tail);
    // Invariant: `head` and `tail` are whole validated components of `name`
    // and `with` is a valid component, so the result always decodes.
    Name::from_value(b.freeze()).expect("spliced name is valid")
}

fn decode_forwarding_hint(value: Bytes) -> Result<Vec<Name>, DecodeError> {
    let mut r = Reader::new(value);
    let mut names = Vec::new();
    while !r.is_empty() {
        let e = r.read()?;
        match e.typ {
            NAME => names.push(Name::from_value(e.value)?),
            // Pre-2021 ForwardingHint: Delegation ::= 0x1F (Preference Name).
            0x1F => {
                let mut d = e.reader();
                let _pref = d.expect(0x1E)?;
                names.push(Name::from_value(d.expect(NAME)?.value)?);
            }
            t if t == IGNORED || !wire::is_critical(t) => {}
            t => return Err(DecodeError::UnknownCritical(t)),
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::signature_type::*;

    fn name(s: &str) -> Name {
        Name::from_uri(s).unwrap()
    }

    #[test]
    fn test_emit_minimal() {
        let mut i = Interest::new(name("/a"))
            .with_nonce(0x01020304)
            .with_lifetime_ms(4000);
        assert_eq!(
            &i.encode()[..],
            &[
                0x05, 0x0F, 0x07, 0x03, 0x08, 0x01, b'a', 0x0A, 0x04, 1, 2, 3, 4, 0x0C, 0x02, 0x0F,
                0xA0
            ]
        );
    }

    #[test]
    fn test_parse_all_fields() {
        let mut i = Interest::new(name("/a/b"))
            .with_can_be_prefix(true)
            .with_must_be_fresh(true)
            .with_forwarding_hint(vec![name("/hint1"), name("/hint/2")])
            .with_nonce(0xDEADBEEF)
            .with_lifetime_ms(1234)
            .with_hop_limit(9)
            .with_app_params(&b"params"[..]);
        let w = i.encode();
        assert_eq!(
            i.name().len(),
            3,
            "encode puts the digest component in the name"
        );
        let d = Interest::decode(w.clone()).unwrap();
        assert_eq!(d.name(), i.name());
        assert_eq!(
            d.name().get(2).unwrap().typ(),
            PARAMETERS_SHA256_DIGEST_COMPONENT
        );
        assert_eq!(d.name_without_params_digest(), name("/a/b"));
        assert!(d.can_be_prefix() && d.must_be_fresh());
        assert_eq!(d.forwarding_hint(), &[name("/hint1"), name("/hint/2")]);
        assert_eq!(d.nonce(), Some(0xDEADBEEF));
        assert_eq!(d.lifetime_ms(), Some(1234));
        assert_eq!(d.hop_limit(), Some(9));
        assert_eq!(&d.app_params().unwrap()[..], b"params");
        assert_eq!(d.cached_wire(), Some(&w));
        // re-encoding a decoded packet is identical
        let mut d2 = d.clone();
        d2.set_hop_limit(Some(9));
        assert_eq!(d2.encode(), w);
    }

    #[test]
    fn test_params_digest_checked() {
        let mut i = Interest::new(name("/a")).with_app_params(&b"x"[..]);
        let mut w = i.encode().to_vec();
        let last = w.len() - 1;
        w[last] ^= 1; // corrupt the parameters
        assert!(matches!(
            Interest::decode(Bytes::from(w)),
            Err(DecodeError::Invalid {
                field: "ParametersSha256DigestComponent",
                ..
            })
        ));
        // digest component without parameters
        let n = name("/a").append(&Component::params_digest([0; 32]));
        let w = Interest::new(n).encode();
        assert!(Interest::decode(w).is_err());
    }

    #[test]
    fn test_unknown_elements() {
        // Name /a, unknown non-critical 0x80 (ignored), type 126 (ignored), Nonce.
        let w = Bytes::from_static(&[
            0x05, 0x0D, 0x07, 0x03, 0x08, 0x01, b'a', 0x80, 0x00, 0x7E, 0x00, 0x0A, 0x02, 1, 2,
        ]);
        assert!(Interest::decode(w).is_err(), "2-octet nonce is invalid");
        let w = Bytes::from_static(&[
            0x05, 0x0F, 0x07, 0x03, 0x08, 0x01, b'a', 0x80, 0x00, 0x7E, 0x00, 0x0A, 0x04, 1, 2, 3,
            4,
        ]);
        assert_eq!(Interest::decode(w).unwrap().nonce(), Some(0x01020304));
        // unknown critical 0x81
        let w = Bytes::from_static(&[0x05, 0x07, 0x07, 0x03, 0x08, 0x01, b'a', 0x81, 0x00]);
        assert_eq!(Interest::decode(w), Err(DecodeError::UnknownCritical(0x81)));
        // out of order: Nonce before MustBeFresh
        let w = Bytes::from_static(&[
            0x05, 0x0D, 0x07, 0x03, 0x08, 0x01, b'a', 0x0A, 0x04, 1, 2, 3, 4, 0x12, 0x00,
        ]);
        assert!(Interest::decode(w).is_err());
        // v0.2 Selectors (0x09) are critical and unknown in v0.3
        let w = Bytes::from_static(&[0x05, 0x07, 0x07, 0x03, 0x08, 0x01, b'a', 0x09, 0x00]);
        assert_eq!(Interest::decode(w), Err(DecodeError::UnknownCritical(9)));
    }

    #[test]
    fn test_impossible_len() {
        let w = Bytes::from_static(&[0x05, 0xFD, 0xFF, 0xFF, 0x07, 0x00]);
        assert!(Interest::decode(w).is_err());
        assert!(Interest::decode(Bytes::from_static(&[0x05, 0x00])).is_err());
    }

    #[test]
    fn test_signed_interest_v03() {
        let key = name("/op/KEY/1");
        for signer in [
            Signer::DigestSha256,
            Signer::Hmac {
                key: Bytes::from_static(b"k"),
                key_name: key.clone(),
            },
            Signer::ed25519_from_seed(&[1; 32], key.clone()).unwrap(),
        ] {
            let mut i =
                Interest::new(name("/picasso/node/n1/cmd/deploy")).with_app_params(&b"{}"[..]);
            let mut info = signer.signature_info();
            info.nonce = Some(Bytes::from_static(&[9; 8]));
            info.time = Some(1_750_000_000_000);
            info.seq_num = Some(3);
            i.sign(&signer, info.clone());
            let w = i.encode();
            let d = Interest::decode(w).unwrap();
            assert_eq!(d.signature_info(), Some(&info));
            assert_eq!(d.verify(&signer.verifier()), Ok(()));
            assert!(matches!(
                d.signature_info().unwrap().signature_type,
                DIGEST_SHA256 | HMAC_WITH_SHA256 | ED25519
            ));
            // tamper with the name: the signature no longer verifies
            let mut t = d.clone();
            let n = name("/picasso/node/n2/cmd/deploy");
            t.name = with_params_digest(&n, [0; 32]);
            assert_eq!(t.verify(&signer.verifier()), Err(SignatureError::Invalid));
        }
    }

    #[test]
    fn test_command_interest_form() {
        let signer = Signer::DigestSha256;
        let i = Interest::new_command(&name("/localhost/nfd/rib/register/x"), &signer, 1000, 42);
        assert_eq!(i.name().len(), 9);
        let cs = i.command_signature().unwrap();
        assert_eq!(cs.timestamp_ms, 1000);
        assert_eq!(&cs.nonce[..], &42u64.to_be_bytes());
        assert_eq!(cs.prefix_len, 5);
        assert_eq!(cs.verify(&Verifier::DigestSha256), Ok(()));
        let mut forged = cs.clone();
        forged.signed = Bytes::from_static(b"other");
        assert!(forged.verify(&Verifier::DigestSha256).is_err());
        assert!(Interest::new(name("/a/b")).command_signature().is_none());
    }

    /// Found by the `packet` fuzz target: a name component with a
    /// non-shortest TLV-LENGTH (`0A FD 00 00`, type 10, length 0) in an
    /// Interest with ApplicationParameters. Re-encoding rebuilt the name from
    /// its components (shortest form), so the re-encoded Interest carried a
    /// different name than the decoded one.
    #[test]
    fn test_reencode_keeps_non_shortest_name_bytes() {
        const WIRE: &[u8] = &[
            0x05, 0x89, 0x07, 0x40, 0x08, 0x07, 0x70, 0x69, 0x63, 0x61, 0x73, 0x73, 0x6F, 0x08,
            0x03, 0x63, 0x6D, 0x64, 0x08, 0x04, 0x73, 0x74, 0x6F, 0x70, 0x02, 0x20, 0xFB, 0x1B,
            0xA9, 0xB1, 0xFD, 0x1C, 0x40, 0xD1, 0x89, 0x65, 0x4A, 0x7C, 0x92, 0xC9, 0x32, 0x24,
            0x2A, 0x4A, 0x18, 0x76, 0xBD, 0x2F, 0x75, 0x52, 0xAF, 0x90, 0x3A, 0x70, 0x0A, 0x84,
            0x25, 0x99, 0x0A, 0xFD, 0x00, 0x00, 0x06, 0x04, 0x0C, 0x02, 0x30, 0x01, 0x24, 0x06,
            0x73, 0x76, 0x63, 0x3D, 0x53, 0x31, 0x2C, 0x1B, 0x1B, 0x01, 0x04, 0x1C, 0x16, 0x07,
            0x14, 0x08, 0x07, 0x70, 0x69, 0x63, 0x61, 0x73, 0x73, 0x6F, 0x08, 0x03, 0x4B, 0x45,
            0x59, 0x08, 0x04, 0x68, 0x6D, 0x61, 0x63, 0x2E, 0x20, 0x05, 0x79, 0x26, 0x42, 0x79,
            0xDE, 0xAF, 0x36, 0x72, 0xE5, 0x6C, 0x51, 0xCB, 0x9A, 0x69, 0xA3, 0x5F, 0xA0, 0xF7,
            0x9F, 0x2E, 0xC6, 0x17, 0x3E, 0x1C, 0xB5, 0xC1, 0x23, 0x4A, 0xC2, 0xDC, 0x1A,
        ];
        let d = Interest::decode(Bytes::from_static(WIRE)).unwrap();
        let mut fresh = d.clone();
        fresh.set_hop_limit(d.hop_limit());
        let again = Interest::decode(fresh.encode()).unwrap();
        assert_eq!(again.name(), d.name());
        assert_eq!(again.app_params(), d.app_params());
        assert_eq!(again.signature_info(), d.signature_info());
        assert_eq!(
            d.name_without_params_digest().value()[..],
            d.name().value()[..20]
                .iter()
                .chain(&d.name().value()[20 + 34..])
                .copied()
                .collect::<Vec<u8>>()[..]
        );
    }
}
