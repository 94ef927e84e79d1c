//! Signatures (packet format v0.3 §3.3 "Signature", §5 "Signed Interest"):
//! SignatureInfo and InterestSignatureInfo, KeyLocator, ValidityPeriod, and
//! signing and verifying with DigestSha256, HMAC-SHA256 and Ed25519.
//!
//! This module owns the cryptographic operations over a *signed portion*
//! the packet modules hand it; it does not know which bytes of a packet are
//! signed (that is [`crate::interest`] and [`crate::data`]), nor any trust
//! policy (which key may sign what is the application's decision).
//!
//! > SignatureInfo ::= SIGNATURE-INFO-TYPE TLV-LENGTH SignatureType KeyLocator? ValidityPeriod? *OtherElement
//! > InterestSignatureInfo ::= INTEREST-SIGNATURE-INFO-TYPE TLV-LENGTH SignatureType KeyLocator?
//! >                           SignatureNonce? SignatureTime? SignatureSeqNum?

use bytes::{BufMut, Bytes, BytesMut};
use ed25519_dalek::{Signer as _, Verifier as _};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::types::*;
use crate::wire::{self, Reader, SpanReader};
use crate::{DecodeError, Name};

/// SignatureType values (spec §3.3.1).
pub mod signature_type {
    /// DigestSha256: a plain SHA-256 of the signed portion, integrity only.
    pub const DIGEST_SHA256: u64 = 0;
    /// SignatureSha256WithRsa.
    pub const SHA256_WITH_RSA: u64 = 1;
    /// SignatureSha256WithEcdsa.
    pub const SHA256_WITH_ECDSA: u64 = 3;
    /// SignatureHmacWithSha256.
    pub const HMAC_WITH_SHA256: u64 = 4;
    /// SignatureEd25519.
    pub const ED25519: u64 = 5;
}
use signature_type::*;

/// Where to find the key that verifies a signature (spec §3.3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLocator {
    /// The key's (or certificate's) name.
    Name(Name),
    /// SHA-256 digest of the key (KeyDigest, type 29).
    KeyDigest(Bytes),
}

/// A certificate's validity window; times are `YYYYMMDDThhmmss` (ISO 8601 basic, UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidityPeriod {
    /// NotBefore, 15 ASCII characters.
    pub not_before: String,
    /// NotAfter, 15 ASCII characters.
    pub not_after: String,
}

/// SignatureInfo of a Data packet or InterestSignatureInfo of a signed Interest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignatureInfo {
    /// SignatureType (see [`signature_type`]).
    pub signature_type: u64,
    /// KeyLocator, required for every type but DigestSha256.
    pub key_locator: Option<KeyLocator>,
    /// ValidityPeriod (certificates).
    pub validity_period: Option<ValidityPeriod>,
    /// SignatureNonce (signed Interests): random bytes against replay.
    pub nonce: Option<Bytes>,
    /// SignatureTime (signed Interests): milliseconds since the Unix epoch.
    pub time: Option<u64>,
    /// SignatureSeqNum (signed Interests).
    pub seq_num: Option<u64>,
}

impl SignatureInfo {
    /// A SignatureInfo of the given type with no other field.
    pub fn new(signature_type: u64) -> Self {
        Self {
            signature_type,
            ..Self::default()
        }
    }

    /// Decodes the TLV-VALUE of a SignatureInfo / InterestSignatureInfo.
    pub fn decode_value(value: Bytes) -> Result<Self, DecodeError> {
        Self::decode_in(&value, 0..value.len())
    }

    /// Decodes the SignatureInfo whose TLV-VALUE is `buf[range]`, slicing
    /// `buf` only for the fields that keep bytes.
    pub fn decode_in(buf: &Bytes, range: std::ops::Range<usize>) -> Result<Self, DecodeError> {
        Self::decode_in_inline(buf, range)
    }

    /// [`decode_in`](Self::decode_in), inlined into Data decoding so that
    /// the SignatureInfo is built in place rather than copied out.
    #[inline(always)]
    pub(crate) fn decode_in_inline(
        buf: &Bytes,
        range: std::ops::Range<usize>,
    ) -> Result<Self, DecodeError> {
        let mut r = SpanReader::new(buf, range);
        let t = r.expect(SIGNATURE_TYPE)?;
        let mut info = SignatureInfo::new(wire::decode_nni(&buf[t])?);
        while !r.is_empty() {
            let (typ, range) = r.read()?;
            let value = buf;
            match typ {
                KEY_LOCATOR => info.key_locator = Some(decode_key_locator(value.slice(range))?),
                VALIDITY_PERIOD => {
                    info.validity_period = Some(decode_validity(value.slice(range))?)
                }
                SIGNATURE_NONCE => {
                    if range.is_empty() {
                        return Err(DecodeError::Invalid {
                            field: "SignatureNonce",
                            reason: "must not be empty",
                        });
                    }
                    info.nonce = Some(value.slice(range))
                }
                SIGNATURE_TIME => info.time = Some(wire::decode_nni(&value[range])?),
                SIGNATURE_SEQ_NUM => info.seq_num = Some(wire::decode_nni(&value[range])?),
                t if t == IGNORED || !wire::is_critical(t) => {}
                // Spec §3.3: SignatureInfo may be extended with further
                // elements; unknown ones are kept out of the model but are
                // still covered by the signature through the packet's wire.
                t => return Err(DecodeError::UnknownCritical(t)),
            }
        }
        Ok(info)
    }

    fn value_len(&self) -> usize {
        let mut n = wire::nni_tlv_len(SIGNATURE_TYPE, self.signature_type);
        if let Some(kl) = &self.key_locator {
            n += wire::tlv_len(KEY_LOCATOR, key_locator_value_len(kl));
        }
        if let Some(v) = &self.validity_period {
            n += wire::tlv_len(VALIDITY_PERIOD, validity_value_len(v));
        }
        if let Some(nonce) = &self.nonce {
            n += wire::tlv_len(SIGNATURE_NONCE, nonce.len());
        }
        if let Some(t) = self.time {
            n += wire::nni_tlv_len(SIGNATURE_TIME, t);
        }
        if let Some(s) = self.seq_num {
            n += wire::nni_tlv_len(SIGNATURE_SEQ_NUM, s);
        }
        n
    }

    /// Encoded size as a TLV of type `typ` (SignatureInfo or InterestSignatureInfo).
    pub fn wire_len(&self, typ: u64) -> usize {
        wire::tlv_len(typ, self.value_len())
    }

    /// Appends the element as type `typ` (SignatureInfo or InterestSignatureInfo).
    pub fn encode_to(&self, out: &mut BytesMut, typ: u64) {
        wire::write_header(out, typ, self.value_len());
        wire::write_nni_tlv(out, SIGNATURE_TYPE, self.signature_type);
        if let Some(kl) = &self.key_locator {
            wire::write_header(out, KEY_LOCATOR, key_locator_value_len(kl));
            match kl {
                KeyLocator::Name(n) => n.encode_to(out),
                KeyLocator::KeyDigest(d) => wire::write_tlv(out, KEY_DIGEST, d),
            }
        }
        if let Some(v) = &self.validity_period {
            wire::write_header(out, VALIDITY_PERIOD, validity_value_len(v));
            wire::write_tlv(out, NOT_BEFORE, v.not_before.as_bytes());
            wire::write_tlv(out, NOT_AFTER, v.not_after.as_bytes());
        }
        if let Some(nonce) = &self.nonce {
            wire::write_tlv(out, SIGNATURE_NONCE, nonce);
        }
        if let Some(t) = self.time {
            wire::write_nni_tlv(out, SIGNATURE_TIME, t);
        }
        if let Some(s) = self.seq_num {
            wire::write_nni_tlv(out, SIGNATURE_SEQ_NUM, s);
        }
    }

    /// The element as type `typ`.
    pub fn to_wire(&self, typ: u64) -> Bytes {
        let mut b = BytesMut::with_capacity(self.wire_len(typ));
        self.encode_to(&mut b, typ);
        b.freeze()
    }
}

fn key_locator_value_len(kl: &KeyLocator) -> usize {
    match kl {
        KeyLocator::Name(n) => n.wire_len(),
        KeyLocator::KeyDigest(d) => wire::tlv_len(KEY_DIGEST, d.len()),
    }
}

fn validity_value_len(v: &ValidityPeriod) -> usize {
    wire::tlv_len(NOT_BEFORE, v.not_before.len()) + wire::tlv_len(NOT_AFTER, v.not_after.len())
}

fn decode_key_locator(value: Bytes) -> Result<KeyLocator, DecodeError> {
    let mut r = Reader::new(value);
    let e = r.read()?;
    let kl = match e.typ {
        NAME => KeyLocator::Name(Name::from_value(e.value)?),
        KEY_DIGEST => KeyLocator::KeyDigest(e.value),
        t => return Err(DecodeError::UnknownCritical(t)),
    };
    Ok(kl)
}

fn decode_validity(value: Bytes) -> Result<ValidityPeriod, DecodeError> {
    let mut r = Reader::new(value);
    let nb = r.expect(NOT_BEFORE)?;
    let na = r.expect(NOT_AFTER)?;
    let time = |b: &Bytes, field| {
        let ok = b.len() == 15
            && b[8] == b'T'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 8 || c.is_ascii_digit());
        if !ok {
            return Err(DecodeError::Invalid {
                field,
                reason: "expected YYYYMMDDThhmmss",
            });
        }
        Ok(String::from_utf8_lossy(b).into_owned())
    };
    Ok(ValidityPeriod {
        not_before: time(&nb.value, "NotBefore")?,
        not_after: time(&na.value, "NotAfter")?,
    })
}

/// Why a signature could not be made or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The packet has no signature.
    #[error("packet is not signed")]
    Unsigned,
    /// The verifier is for another signature type.
    #[error("signature type {found} does not match the verifier's type {expected}")]
    TypeMismatch {
        /// What the verifier checks.
        expected: u64,
        /// What the packet carries.
        found: u64,
    },
    /// The signature does not match the signed portion.
    #[error("signature does not verify")]
    Invalid,
    /// A key of the wrong size or form.
    #[error("bad key: {0}")]
    BadKey(&'static str),
}

/// A key that signs packets.
#[derive(Clone)]
pub enum Signer {
    /// DigestSha256: no key, integrity only.
    DigestSha256,
    /// HMAC-SHA256 with a shared secret, named by `key_name`.
    Hmac {
        /// The shared secret.
        key: Bytes,
        /// KeyLocator name.
        key_name: Name,
    },
    /// Ed25519 with a private key, named by `key_name`.
    Ed25519 {
        /// The private key.
        key: Box<ed25519_dalek::SigningKey>,
        /// KeyLocator name.
        key_name: Name,
    },
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signer::DigestSha256 => f.write_str("Signer::DigestSha256"),
            Signer::Hmac { key_name, .. } => write!(f, "Signer::Hmac({key_name})"),
            Signer::Ed25519 { key_name, .. } => write!(f, "Signer::Ed25519({key_name})"),
        }
    }
}

impl Signer {
    /// An Ed25519 signer from a 32-byte seed (private key).
    pub fn ed25519_from_seed(seed: &[u8], key_name: Name) -> Result<Self, SignatureError> {
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| SignatureError::BadKey("Ed25519 seed must be 32 bytes"))?;
        Ok(Signer::Ed25519 {
            key: Box::new(ed25519_dalek::SigningKey::from_bytes(&seed)),
            key_name,
        })
    }

    /// A fresh random Ed25519 key.
    pub fn ed25519_generate(key_name: Name) -> Self {
        Signer::Ed25519 {
            key: Box::new(ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng)),
            key_name,
        }
    }

    /// The SignatureType this signer produces.
    pub fn signature_type(&self) -> u64 {
        match self {
            Signer::DigestSha256 => DIGEST_SHA256,
            Signer::Hmac { .. } => HMAC_WITH_SHA256,
            Signer::Ed25519 { .. } => ED25519,
        }
    }

    /// A SignatureInfo with this signer's type and KeyLocator.
    pub fn signature_info(&self) -> SignatureInfo {
        let key_locator = match self {
            Signer::DigestSha256 => None,
            Signer::Hmac { key_name, .. } | Signer::Ed25519 { key_name, .. } => {
                Some(KeyLocator::Name(key_name.clone()))
            }
        };
        SignatureInfo {
            key_locator,
            ..SignatureInfo::new(self.signature_type())
        }
    }

    /// The matching verifier (for HMAC, the same secret).
    pub fn verifier(&self) -> Verifier {
        match self {
            Signer::DigestSha256 => Verifier::DigestSha256,
            Signer::Hmac { key, .. } => Verifier::Hmac(key.clone()),
            Signer::Ed25519 { key, .. } => Verifier::Ed25519(Box::new(key.verifying_key())),
        }
    }

    /// Signs the concatenation of `parts` (the signed portion).
    pub fn sign(&self, parts: &[&[u8]]) -> Bytes {
        match self {
            Signer::DigestSha256 => {
                let mut h = Sha256::new();
                parts.iter().for_each(|p| h.update(p));
                Bytes::copy_from_slice(&h.finalize())
            }
            Signer::Hmac { key, .. } => {
                let mut m = hmac_new(key);
                parts.iter().for_each(|p| m.update(p));
                Bytes::copy_from_slice(&m.finalize().into_bytes())
            }
            Signer::Ed25519 { key, .. } => {
                // Ed25519 (RFC 8032, pure) signs the message itself, so the
                // parts are joined first.
                let msg: Vec<u8> = parts.concat();
                Bytes::copy_from_slice(&key.sign(&msg).to_bytes())
            }
        }
    }

    /// Size of the SignatureValue this signer produces.
    pub fn signature_len(&self) -> usize {
        match self {
            Signer::DigestSha256 | Signer::Hmac { .. } => 32,
            Signer::Ed25519 { .. } => 64,
        }
    }
}

fn hmac_new(key: &[u8]) -> Hmac<Sha256> {
    // Invariant: HMAC accepts keys of any length (long keys are hashed).
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any size")
}

/// A key that verifies packets.
#[derive(Clone, Debug)]
pub enum Verifier {
    /// DigestSha256: recompute the digest.
    DigestSha256,
    /// HMAC-SHA256 with the shared secret.
    Hmac(Bytes),
    /// Ed25519 with the public key.
    Ed25519(Box<ed25519_dalek::VerifyingKey>),
}

impl Verifier {
    /// An Ed25519 verifier from a 32-byte public key.
    pub fn ed25519_from_public(public: &[u8]) -> Result<Self, SignatureError> {
        let pk: [u8; 32] = public
            .try_into()
            .map_err(|_| SignatureError::BadKey("Ed25519 public key must be 32 bytes"))?;
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk)
            .map_err(|_| SignatureError::BadKey("not an Ed25519 public key"))?;
        Ok(Verifier::Ed25519(Box::new(vk)))
    }

    /// The SignatureType this verifier checks.
    pub fn signature_type(&self) -> u64 {
        match self {
            Verifier::DigestSha256 => DIGEST_SHA256,
            Verifier::Hmac(_) => HMAC_WITH_SHA256,
            Verifier::Ed25519(_) => ED25519,
        }
    }

    /// Checks `signature` over the concatenation of `parts`.
    pub fn verify(
        &self,
        signature_type: u64,
        parts: &[&[u8]],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        if signature_type != self.signature_type() {
            return Err(SignatureError::TypeMismatch {
                expected: self.signature_type(),
                found: signature_type,
            });
        }
        let ok = match self {
            Verifier::DigestSha256 => {
                let mut h = Sha256::new();
                parts.iter().for_each(|p| h.update(p));
                constant_time_eq(&h.finalize(), signature)
            }
            Verifier::Hmac(key) => {
                let mut m = hmac_new(key);
                parts.iter().for_each(|p| m.update(p));
                m.verify_slice(signature).is_ok()
            }
            Verifier::Ed25519(vk) => match ed25519_dalek::Signature::from_slice(signature) {
                Ok(sig) => vk.verify(&parts.concat(), &sig).is_ok(),
                Err(_) => false,
            },
        };
        if ok {
            Ok(())
        } else {
            Err(SignatureError::Invalid)
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    parts.iter().for_each(|p| h.update(p));
    h.finalize().into()
}

/// Appends a SignatureValue-like element (`typ`) holding `sig`.
pub(crate) fn write_signature_value(out: &mut BytesMut, typ: u64, sig: &[u8]) {
    wire::write_header(out, typ, sig.len());
    out.put_slice(sig);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_signature_info_round_trip() {
        let info = SignatureInfo {
            signature_type: ED25519,
            key_locator: Some(KeyLocator::Name(Name::from_uri("/k/KEY/1").unwrap())),
            validity_period: Some(ValidityPeriod {
                not_before: "20260101T000000".into(),
                not_after: "20270101T000000".into(),
            }),
            nonce: Some(Bytes::from_static(&[1, 2, 3, 4])),
            time: Some(1_700_000_000_000),
            seq_num: Some(7),
        };
        let w = info.to_wire(INTEREST_SIGNATURE_INFO);
        assert_eq!(w.len(), info.wire_len(INTEREST_SIGNATURE_INFO));
        let e = wire::read_single(w).unwrap();
        assert_eq!(e.typ, INTEREST_SIGNATURE_INFO);
        assert_eq!(SignatureInfo::decode_value(e.value).unwrap(), info);
    }

    #[test]
    fn test_parse_digest_info() {
        // python-ndn: SignatureInfo for DigestSha256 = 16 03 1b 01 00
        let e = wire::read_single(Bytes::from_static(&[0x16, 0x03, 0x1b, 0x01, 0x00])).unwrap();
        let info = SignatureInfo::decode_value(e.value).unwrap();
        assert_eq!(info, SignatureInfo::new(DIGEST_SHA256));
        assert_eq!(
            &info.to_wire(SIGNATURE_INFO)[..],
            &[0x16, 0x03, 0x1b, 0x01, 0x00]
        );
    }

    #[test]
    fn test_key_digest_and_unknown() {
        let e = wire::read_single(Bytes::from_static(&[
            0x16, 0x0B, 0x1b, 0x01, 0x04, 0x1c, 0x04, 0x1d, 0x02, 0xAB, 0xCD, 0xF0, 0x00,
        ]))
        .unwrap();
        let info = SignatureInfo::decode_value(e.value).unwrap();
        assert_eq!(
            info.key_locator,
            Some(KeyLocator::KeyDigest(Bytes::from_static(&[0xAB, 0xCD])))
        );
        // critical unknown element
        let e = wire::read_single(Bytes::from_static(&[
            0x16, 0x05, 0x1b, 0x01, 0x00, 0x1f, 0x00,
        ]))
        .unwrap();
        assert_eq!(
            SignatureInfo::decode_value(e.value),
            Err(DecodeError::UnknownCritical(0x1f))
        );
        // bad validity time
        let e = wire::read_single(Bytes::from_static(&[
            0x16, 0x0A, 0x1b, 0x01, 0x00, 0xFD, 0x00, 0x05, 0xFE, 0x00, 0x01, b'x',
        ]));
        assert!(e.is_err() || SignatureInfo::decode_value(e.unwrap().value).is_err());
    }

    #[test]
    fn test_sign_verify_all_types() {
        let name = Name::from_uri("/key").unwrap();
        let signers = [
            Signer::DigestSha256,
            Signer::Hmac {
                key: Bytes::from_static(b"secret"),
                key_name: name.clone(),
            },
            Signer::ed25519_from_seed(&[7u8; 32], name.clone()).unwrap(),
        ];
        for s in signers {
            let sig = s.sign(&[b"hello ", b"world"]);
            assert_eq!(sig.len(), s.signature_len());
            let v = s.verifier();
            assert_eq!(
                v.verify(s.signature_type(), &[b"hello world"], &sig),
                Ok(())
            );
            assert_eq!(
                v.verify(s.signature_type(), &[b"hello world!"], &sig),
                Err(SignatureError::Invalid)
            );
            assert!(v.verify(99, &[b"hello world"], &sig).is_err());
        }
    }

    #[test]
    fn test_hmac_known_vector() {
        // RFC 4231 test case 2.
        let s = Signer::Hmac {
            key: Bytes::from_static(b"Jefe"),
            key_name: Name::new(),
        };
        let sig = s.sign(&[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex::encode(sig),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
