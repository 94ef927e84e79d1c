//! Data packets (packet format v0.3 §6 "Data Packet").
//!
//! > Data = DATA-TYPE TLV-LENGTH Name [MetaInfo] [Content] DataSignature
//! > MetaInfo = META-INFO-TYPE TLV-LENGTH [ContentType] [FreshnessPeriod] [FinalBlockId]
//! > DataSignature = SignatureInfo SignatureValue
//!
//! This module owns the Data fields, the signed portion (Name through
//! SignatureInfo) and the implicit SHA-256 digest of the whole packet. A
//! decoded packet keeps its wire bytes, so a forwarder resends it unchanged.

use bytes::{Bytes, BytesMut};

use crate::signature::{self, SignatureError, SignatureInfo, Signer, Verifier};
use crate::types::*;
use crate::wire::{self, SpanReader};
use crate::{Component, DecodeError, Name};

/// ContentType values (spec §6.2.1).
pub mod content_type {
    /// BLOB: the payload (default).
    pub const BLOB: u64 = 0;
    /// LINK: a list of delegation names.
    pub const LINK: u64 = 1;
    /// KEY: a public key.
    pub const KEY: u64 = 2;
    /// NACK: an application-level negative acknowledgement.
    pub const NACK: u64 = 3;
}

/// A Data packet. Two Data are equal when their fields and signatures are.
#[derive(Debug, Clone)]
pub struct Data {
    name: Name,
    content_type: Option<u64>,
    freshness_ms: Option<u64>,
    final_block_id: Option<Component>,
    content: Option<Bytes>,
    signature_info: SignatureInfo,
    signature_value: Bytes,
    /// Wire as received or as signed; `None` until signed.
    wire: Option<Bytes>,
    /// Offset in `wire` of the end of SignatureInfo (the signed portion ends there).
    signed_range: Option<(usize, usize)>,
}

impl PartialEq for Data {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
            && self.content_type == o.content_type
            && self.freshness_ms == o.freshness_ms
            && self.final_block_id == o.final_block_id
            && self.content == o.content
            && self.signature_info == o.signature_info
            && self.signature_value == o.signature_value
    }
}

impl Eq for Data {}

/// Where a Data's elements after the Name are in its wire, MetaInfo decoded.
struct Spans {
    meta: MetaInfo,
    content: Option<std::ops::Range<usize>>,
    sig_info: std::ops::Range<usize>,
    sig_value: std::ops::Range<usize>,
}

/// A decoding error, with the span of the SignatureInfo read before it.
type ScanError = (DecodeError, Option<std::ops::Range<usize>>);

impl Spans {
    /// Reads the elements after the Name, checking their order; the
    /// SignatureInfo is located but not decoded.
    #[inline]
    fn scan(wire: &Bytes, mut r: SpanReader<'_>) -> Result<Self, ScanError> {
        let mut meta = None;
        let mut content = None;
        let mut sig_info = None;
        let mut sig_value = None;
        let mut last = 0u8;
        while !r.is_empty() {
            let (typ, range) = r.read().map_err(|e| (e, sig_info.clone()))?;
            let pos = match typ {
                META_INFO => 1,
                CONTENT => 2,
                SIGNATURE_INFO => 3,
                SIGNATURE_VALUE => 4,
                t if t == IGNORED || !wire::is_critical(t) => continue,
                t => return Err((DecodeError::UnknownCritical(t), sig_info)),
            };
            if pos <= last {
                let e = DecodeError::Invalid {
                    field: "Data",
                    reason: "element out of order or repeated",
                };
                return Err((e, sig_info));
            }
            last = pos;
            match typ {
                // MetaInfo precedes SignatureInfo: no SignatureInfo yet.
                META_INFO => meta = Some(MetaInfo::decode(wire, range).map_err(|e| (e, None))?),
                CONTENT => content = Some(range),
                SIGNATURE_INFO => sig_info = Some(range),
                _ => sig_value = Some(range),
            }
        }
        match (sig_info, sig_value) {
            (Some(sig_info), Some(sig_value)) => Ok(Spans {
                meta: meta.unwrap_or_default(),
                content,
                sig_info,
                sig_value,
            }),
            (sig_info, _) => Err((
                DecodeError::Invalid {
                    field: "DataSignature",
                    reason: "SignatureInfo and SignatureValue are required",
                },
                sig_info,
            )),
        }
    }
}

/// The MetaInfo fields, decoded from spans of the packet's wire.
#[derive(Default)]
struct MetaInfo {
    content_type: Option<u64>,
    freshness_ms: Option<u64>,
    final_block_id: Option<Component>,
}

impl MetaInfo {
    /// Decodes the MetaInfo whose TLV-VALUE is `wire[range]`.
    #[inline]
    fn decode(wire: &Bytes, range: std::ops::Range<usize>) -> Result<Self, DecodeError> {
        let mut m = MetaInfo::default();
        let mut r = SpanReader::new(wire, range);
        let mut last = 0u8;
        while !r.is_empty() {
            let (typ, range) = r.read()?;
            let pos = match typ {
                CONTENT_TYPE => 1,
                FRESHNESS_PERIOD => 2,
                FINAL_BLOCK_ID => 3,
                t if t == IGNORED || !wire::is_critical(t) => continue,
                t => return Err(DecodeError::UnknownCritical(t)),
            };
            if pos <= last {
                return Err(DecodeError::Invalid {
                    field: "MetaInfo",
                    reason: "element out of order or repeated",
                });
            }
            last = pos;
            match typ {
                CONTENT_TYPE => m.content_type = Some(wire::decode_nni(&wire[range])?),
                FRESHNESS_PERIOD => m.freshness_ms = Some(wire::decode_nni(&wire[range])?),
                _ => m.final_block_id = Some(Component::decode_in(wire, range)?),
            }
        }
        Ok(m)
    }
}

impl Data {
    /// An unsigned Data packet; call [`sign`](Self::sign) before encoding.
    pub fn new(name: Name) -> Self {
        Self {
            name,
            content_type: None,
            freshness_ms: None,
            final_block_id: None,
            content: None,
            signature_info: SignatureInfo::new(signature::signature_type::DIGEST_SHA256),
            signature_value: Bytes::new(),
            wire: None,
            signed_range: None,
        }
    }

    /// Name.
    pub fn name(&self) -> &Name {
        &self.name
    }
    /// ContentType as given (absent means BLOB).
    pub fn content_type(&self) -> Option<u64> {
        self.content_type
    }
    /// FreshnessPeriod in milliseconds (absent means 0: never fresh).
    pub fn freshness_ms(&self) -> Option<u64> {
        self.freshness_ms
    }
    /// FinalBlockId.
    pub fn final_block_id(&self) -> Option<&Component> {
        self.final_block_id.as_ref()
    }
    /// Content (TLV-VALUE), empty when absent.
    pub fn content(&self) -> Bytes {
        self.content.clone().unwrap_or_default()
    }
    /// Whether a Content element was present.
    pub fn has_content(&self) -> bool {
        self.content.is_some()
    }
    /// SignatureInfo.
    pub fn signature_info(&self) -> &SignatureInfo {
        &self.signature_info
    }
    /// SignatureValue (TLV-VALUE).
    pub fn signature_value(&self) -> &Bytes {
        &self.signature_value
    }
    /// The wire encoding: as received, or as produced by the last `sign`.
    pub fn wire(&self) -> Option<&Bytes> {
        self.wire.as_ref()
    }

    /// Builder: ContentType.
    pub fn with_content_type(mut self, t: u64) -> Self {
        self.content_type = Some(t);
        self.wire = None;
        self
    }
    /// Builder: FreshnessPeriod.
    pub fn with_freshness_ms(mut self, ms: u64) -> Self {
        self.freshness_ms = Some(ms);
        self.wire = None;
        self
    }
    /// Builder: FinalBlockId.
    pub fn with_final_block_id(mut self, c: Component) -> Self {
        self.final_block_id = Some(c);
        self.wire = None;
        self
    }
    /// Builder: Content.
    pub fn with_content(mut self, c: impl Into<Bytes>) -> Self {
        self.content = Some(c.into());
        self.wire = None;
        self
    }

    /// Decodes a Data packet, keeping `wire`.
    pub fn decode(wire: Bytes) -> Result<Self, DecodeError> {
        // Spans rather than sliced `Bytes` until a field keeps bytes: every
        // slice is a reference-count round trip (see Interest::decode).
        let (typ, range) = wire::single_span(&wire)?;
        if typ != DATA {
            return Err(DecodeError::UnexpectedType {
                expected: DATA,
                found: typ,
            });
        }
        Self::decode_value(wire, range)
    }

    /// Decodes the Data whose TLV-VALUE is `wire[value]`, keeping `wire`.
    /// The elements are first located as spans of `wire` (only MetaInfo is
    /// decoded on the way, into a small local), and the ~450-byte Data,
    /// SignatureInfo included, is then built once, in the return slot,
    /// instead of being filled in and copied from frame to frame.
    #[inline]
    fn decode_value(wire: Bytes, value: std::ops::Range<usize>) -> Result<Self, DecodeError> {
        let header_len = value.start;
        let mut r = SpanReader::new(&wire, value);
        let name = Name::from_value(wire.slice(r.expect(NAME)?))?;
        let s = match Spans::scan(&wire, r) {
            Ok(s) => s,
            Err((e, sig_info)) => {
                // Report errors in wire order: a SignatureInfo read before
                // the failing element is decoded (and may fail) first.
                if let Some(range) = sig_info {
                    SignatureInfo::decode_in_inline(&wire, range)?;
                }
                return Err(e);
            }
        };
        Ok(Data {
            name,
            content_type: s.meta.content_type,
            freshness_ms: s.meta.freshness_ms,
            final_block_id: s.meta.final_block_id,
            content: s.content.map(|c| wire.slice(c)),
            signature_info: SignatureInfo::decode_in_inline(&wire, s.sig_info.clone())?,
            signature_value: wire.slice(s.sig_value),
            // The signed portion ends with SignatureInfo.
            signed_range: Some((header_len, s.sig_info.end)),
            wire: Some(wire),
        })
    }

    fn meta_info_value_len(&self) -> usize {
        self.content_type
            .map_or(0, |t| wire::nni_tlv_len(CONTENT_TYPE, t))
            + self
                .freshness_ms
                .map_or(0, |f| wire::nni_tlv_len(FRESHNESS_PERIOD, f))
            + self
                .final_block_id
                .as_ref()
                .map_or(0, |c| wire::tlv_len(FINAL_BLOCK_ID, c.wire_len()))
    }

    /// Encodes Name through SignatureInfo (the signed portion).
    fn encode_signed_portion(&self, out: &mut BytesMut) {
        self.name.encode_to(out);
        let meta = self.meta_info_value_len();
        if meta > 0 {
            wire::write_header(out, META_INFO, meta);
            if let Some(t) = self.content_type {
                wire::write_nni_tlv(out, CONTENT_TYPE, t);
            }
            if let Some(f) = self.freshness_ms {
                wire::write_nni_tlv(out, FRESHNESS_PERIOD, f);
            }
            if let Some(c) = &self.final_block_id {
                wire::write_header(out, FINAL_BLOCK_ID, c.wire_len());
                c.encode_to(out);
            }
        }
        if let Some(c) = &self.content {
            wire::write_tlv(out, CONTENT, c);
        }
        self.signature_info.encode_to(out, SIGNATURE_INFO);
    }

    fn signed_portion_len(&self) -> usize {
        let meta = self.meta_info_value_len();
        self.name.wire_len()
            + if meta > 0 {
                wire::tlv_len(META_INFO, meta)
            } else {
                0
            }
            + self
                .content
                .as_ref()
                .map_or(0, |c| wire::tlv_len(CONTENT, c.len()))
            + self.signature_info.wire_len(SIGNATURE_INFO)
    }

    /// Signs with `signer` (its SignatureInfo replaces the current one) and
    /// encodes; returns the wire.
    pub fn sign(&mut self, signer: &Signer) -> Bytes {
        self.sign_with_info(signer, signer.signature_info())
    }

    /// Signs with an explicit SignatureInfo (e.g. with a ValidityPeriod).
    pub fn sign_with_info(&mut self, signer: &Signer, info: SignatureInfo) -> Bytes {
        self.encode_signed_with(info, signer.signature_len(), |portion| {
            signer.sign(&[portion])
        })
    }

    /// Encodes with a SignatureValue computed earlier over this very
    /// signed portion (a publisher that signs a segment once and serves it
    /// many times); returns the wire. Nothing is checked: a value that does
    /// not match makes a packet that fails verification.
    pub fn encode_with_signature(&mut self, info: SignatureInfo, value: Bytes) -> Bytes {
        self.encode_signed_with(info, value.len(), |_| value)
    }

    /// Encodes with `info`, the SignatureValue (`sig_len` bytes) being what
    /// `sign` makes of the signed portion; returns the wire.
    fn encode_signed_with(
        &mut self,
        info: SignatureInfo,
        sig_len: usize,
        sign: impl FnOnce(&[u8]) -> Bytes,
    ) -> Bytes {
        self.signature_info = info;
        let signed_len = self.signed_portion_len();
        let value_len = signed_len + wire::tlv_len(SIGNATURE_VALUE, sig_len);
        let total = wire::tlv_len(DATA, value_len);
        let mut out = BytesMut::with_capacity(total);
        wire::write_header(&mut out, DATA, value_len);
        let start = out.len();
        self.encode_signed_portion(&mut out);
        let end = out.len();
        let sig = sign(&out[start..end]);
        signature::write_signature_value(&mut out, SIGNATURE_VALUE, &sig);
        self.signature_value = sig;
        let w = out.freeze();
        self.signed_range = Some((start, end));
        self.wire = Some(w.clone());
        w
    }

    /// Verifies the signature with `verifier`.
    pub fn verify(&self, verifier: &Verifier) -> Result<(), SignatureError> {
        match (&self.wire, self.signed_range) {
            (Some(w), Some((s, e))) => verifier.verify(
                self.signature_info.signature_type,
                &[&w[s..e]],
                &self.signature_value,
            ),
            _ => Err(SignatureError::Unsigned),
        }
    }

    /// The implicit SHA-256 digest of the whole packet (spec §2.1:
    /// ImplicitSha256DigestComponent), `None` before signing.
    pub fn implicit_digest(&self) -> Option<[u8; 32]> {
        self.wire.as_ref().map(|w| signature::sha256(&[w]))
    }

    /// The full name: the name plus the implicit digest component.
    pub fn full_name(&self) -> Option<Name> {
        self.implicit_digest()
            .map(|d| self.name.append(&Component::implicit_digest(d)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::signature_type::*;

    fn name(s: &str) -> Name {
        Name::from_uri(s).unwrap()
    }

    #[test]
    fn test_emit_parse_digest_data() {
        let mut d = Data::new(name("/a")).with_content(&b"hi"[..]);
        let w = d.sign(&Signer::DigestSha256);
        let mut expect = vec![
            0x06, 0x30, 0x07, 0x03, 0x08, 0x01, b'a', 0x15, 0x02, b'h', b'i',
        ];
        expect.extend_from_slice(&[0x16, 0x03, 0x1B, 0x01, 0x00, 0x17, 0x20]);
        let digest = signature::sha256(&[&expect[2..expect.len() - 2]]);
        expect.extend_from_slice(&digest);
        assert_eq!(&w[..], &expect[..]);
        let p = Data::decode(w.clone()).unwrap();
        assert_eq!(&p.content()[..], b"hi");
        assert_eq!(p.wire(), Some(&w));
        assert_eq!(p.verify(&Verifier::DigestSha256), Ok(()));
    }

    #[test]
    fn test_encode_with_an_earlier_signature_is_the_signed_packet() {
        let make = || {
            Data::new(name("/img/v=1/seg=3"))
                .with_freshness_ms(1000)
                .with_final_block_id(Component::segment(9))
                .with_content(vec![7u8; 8000])
        };
        let mut signed = make();
        let w = signed.sign(&Signer::DigestSha256);
        let mut again = make();
        let w2 = again.encode_with_signature(
            Signer::DigestSha256.signature_info(),
            signed.signature_value().clone(),
        );
        assert_eq!(w, w2);
        assert_eq!(again.verify(&Verifier::DigestSha256), Ok(()));
        // A value for other content does not verify.
        let mut other = make().with_content(vec![8u8; 8000]);
        other.encode_with_signature(
            Signer::DigestSha256.signature_info(),
            signed.signature_value().clone(),
        );
        assert!(other.verify(&Verifier::DigestSha256).is_err());
    }

    #[test]
    fn test_all_fields_and_signers() {
        let key = name("/n1/KEY/k");
        for s in [
            Signer::DigestSha256,
            Signer::Hmac {
                key: Bytes::from_static(b"secret"),
                key_name: key.clone(),
            },
            Signer::ed25519_from_seed(&[3; 32], key.clone()).unwrap(),
        ] {
            let mut d = Data::new(name("/picasso/svc/S1/v=1/seg=0"))
                .with_content_type(content_type::BLOB)
                .with_freshness_ms(1000)
                .with_final_block_id(Component::segment(4))
                .with_content(vec![7u8; 1024]);
            let w = d.sign(&s);
            let p = Data::decode(w).unwrap();
            assert_eq!(p.content_type(), Some(0));
            assert_eq!(p.freshness_ms(), Some(1000));
            assert_eq!(p.final_block_id(), Some(&Component::segment(4)));
            assert_eq!(p.content().len(), 1024);
            assert_eq!(p.signature_info().signature_type, s.signature_type());
            assert_eq!(p.verify(&s.verifier()), Ok(()));
            // flip one content byte: verification fails
            let mut bad = p.wire().unwrap().to_vec();
            let at = bad.len() - 100;
            bad[at] ^= 0xFF;
            let b = Data::decode(Bytes::from(bad)).unwrap();
            assert_eq!(b.verify(&s.verifier()), Err(SignatureError::Invalid));
        }
        let _ = (HMAC_WITH_SHA256, ED25519);
    }

    #[test]
    fn test_implicit_digest() {
        let mut d = Data::new(name("/a"));
        assert!(d.implicit_digest().is_none());
        let w = d.sign(&Signer::DigestSha256);
        let full = d.full_name().unwrap();
        assert_eq!(full.len(), 2);
        assert_eq!(
            &full.get(1).unwrap().value()[..],
            &signature::sha256(&[&w])[..]
        );
    }

    #[test]
    fn test_parse_rejects() {
        // no signature
        assert!(Data::decode(Bytes::from_static(&[
            0x06, 0x05, 0x07, 0x03, 0x08, 0x01, b'a'
        ]))
        .is_err());
        // content before meta info
        assert!(Data::decode(Bytes::from_static(&[
            0x06, 0x12, 0x07, 0x03, 0x08, 0x01, b'a', 0x15, 0x00, 0x14, 0x00, 0x16, 0x03, 0x1B,
            0x01, 0x00, 0x17, 0x00, 0x00, 0x00
        ]))
        .is_err());
        // unknown critical in MetaInfo
        assert!(Data::decode(Bytes::from_static(&[
            0x06, 0x10, 0x07, 0x03, 0x08, 0x01, b'a', 0x14, 0x02, 0x1F, 0x00, 0x16, 0x03, 0x1B,
            0x01, 0x00, 0x17, 0x00
        ]))
        .is_err());
        // unknown non-critical in MetaInfo is skipped
        let d = Data::decode(Bytes::from_static(&[
            0x06, 0x10, 0x07, 0x03, 0x08, 0x01, b'a', 0x14, 0x02, 0x80, 0x00, 0x16, 0x03, 0x1B,
            0x01, 0x00, 0x17, 0x00,
        ]))
        .unwrap();
        assert_eq!(d.freshness_ms(), None);
    }
}
