//! TLV primitives: VAR-NUMBER, NonNegativeInteger, a zero-copy element reader
//! and the encoding helpers every packet type is built from.
//!
//! This module owns the bytes-level rules of NDN packet format v0.3 §1
//! ("TLV encoding"); it knows nothing of Interests or Data.
//!
//! > Each TLV-TYPE and TLV-LENGTH is encoded as a VAR-NUMBER: values < 253 in
//! > one octet, 253 + 2 octets, 254 + 4 octets, 255 + 8 octets (network order).
//!
//! Decoding never panics and never allocates in proportion to a claimed
//! length: a length larger than what remains is an error before anything is
//! sliced.

use bytes::{BufMut, Bytes, BytesMut};

use crate::DecodeError;

/// Whether a TLV-TYPE is critical (spec §1.3 "Considerations for evolvability
/// of TLV-based encoding"): types 0–31 are critical, and above that the odd ones.
/// An unrecognized critical element makes the packet invalid; an unrecognized
/// non-critical one is skipped.
#[inline]
pub fn is_critical(typ: u64) -> bool {
    // ndn-tlv implements exactly the spec's rule; use it rather than restate it.
    usize::try_from(typ).map_or(typ & 1 == 1, ndn_tlv::tlv_typ_critical)
}

/// Reads a VAR-NUMBER from `buf` at `*pos`, advancing `*pos`.
#[inline]
pub fn read_varnum(buf: &[u8], pos: &mut usize) -> Result<u64, DecodeError> {
    let first = *buf.get(*pos).ok_or(DecodeError::Truncated)?;
    let (len, v) = match first {
        0..=0xFC => {
            *pos += 1;
            return Ok(u64::from(first));
        }
        0xFD => (2, 0),
        0xFE => (4, 0),
        0xFF => (8, 0u64),
    };
    let start = *pos + 1;
    let bytes = buf.get(start..start + len).ok_or(DecodeError::Truncated)?;
    let v = bytes.iter().fold(v, |acc, b| (acc << 8) | u64::from(*b));
    *pos = start + len;
    Ok(v)
}

/// Number of octets `v` takes as a VAR-NUMBER.
#[inline]
pub fn varnum_len(v: u64) -> usize {
    match v {
        0..=0xFC => 1,
        0xFD..=0xFFFF => 3,
        0x1_0000..=0xFFFF_FFFF => 5,
        _ => 9,
    }
}

/// Appends `v` as a VAR-NUMBER in its shortest form.
#[inline]
pub fn write_varnum(out: &mut BytesMut, v: u64) {
    match v {
        0..=0xFC => out.put_u8(v as u8),
        0xFD..=0xFFFF => {
            out.put_u8(0xFD);
            out.put_u16(v as u16);
        }
        0x1_0000..=0xFFFF_FFFF => {
            out.put_u8(0xFE);
            out.put_u32(v as u32);
        }
        _ => {
            out.put_u8(0xFF);
            out.put_u64(v);
        }
    }
}

/// Decodes a NonNegativeInteger (spec §1.2): 1, 2, 4 or 8 octets, big endian.
#[inline]
pub fn decode_nni(value: &[u8]) -> Result<u64, DecodeError> {
    match value.len() {
        1 | 2 | 4 | 8 => Ok(value.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))),
        n => Err(DecodeError::BadNonNegativeInteger(n)),
    }
}

/// Number of octets of the shortest NonNegativeInteger encoding of `v`.
#[inline]
pub fn nni_len(v: u64) -> usize {
    match v {
        0..=0xFF => 1,
        0x100..=0xFFFF => 2,
        0x1_0000..=0xFFFF_FFFF => 4,
        _ => 8,
    }
}

/// Appends `v` as a NonNegativeInteger in its shortest form.
#[inline]
pub fn write_nni(out: &mut BytesMut, v: u64) {
    match nni_len(v) {
        1 => out.put_u8(v as u8),
        2 => out.put_u16(v as u16),
        4 => out.put_u32(v as u32),
        _ => out.put_u64(v),
    }
}

/// Total encoded size of a TLV element whose value is `value_len` octets.
#[inline]
pub fn tlv_len(typ: u64, value_len: usize) -> usize {
    varnum_len(typ) + varnum_len(value_len as u64) + value_len
}

/// Appends a TLV header (type and length).
#[inline]
pub fn write_header(out: &mut BytesMut, typ: u64, value_len: usize) {
    write_varnum(out, typ);
    write_varnum(out, value_len as u64);
}

/// Appends a whole TLV element.
#[inline]
pub fn write_tlv(out: &mut BytesMut, typ: u64, value: &[u8]) {
    write_header(out, typ, value.len());
    out.put_slice(value);
}

/// Appends a TLV element whose value is a NonNegativeInteger.
#[inline]
pub fn write_nni_tlv(out: &mut BytesMut, typ: u64, v: u64) {
    write_header(out, typ, nni_len(v));
    write_nni(out, v);
}

/// Size of a TLV element holding a NonNegativeInteger.
#[inline]
pub fn nni_tlv_len(typ: u64, v: u64) -> usize {
    tlv_len(typ, nni_len(v))
}

/// One TLV element read from a buffer, sharing that buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// TLV-TYPE.
    pub typ: u64,
    /// TLV-VALUE (a slice of the input, no copy).
    pub value: Bytes,
    /// The whole element, type and length included (a slice of the input).
    pub wire: Bytes,
}

impl Element {
    /// The value as a NonNegativeInteger.
    pub fn nni(&self) -> Result<u64, DecodeError> {
        decode_nni(&self.value)
    }

    /// A reader over the nested elements of the value.
    pub fn reader(&self) -> Reader {
        Reader::new(self.value.clone())
    }
}

/// Reads consecutive TLV elements from a shared buffer without copying.
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
    pos: usize,
}

impl Reader {
    /// A reader over the whole of `buf`.
    pub fn new(buf: Bytes) -> Self {
        Self { buf, pos: 0 }
    }

    /// True when every element has been read.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Reads the type and length of the next element; returns
    /// `(type, value_start, value_end, element_start)` and advances past it.
    #[inline]
    fn read_bounds(&mut self) -> Result<(u64, usize, usize, usize), DecodeError> {
        let start = self.pos;
        let mut p = self.pos;
        let typ = read_varnum(&self.buf, &mut p)?;
        let len = read_varnum(&self.buf, &mut p)?;
        let remaining = (self.buf.len() - p) as u64;
        if len > remaining {
            return Err(DecodeError::LengthExceeds {
                typ,
                len,
                remaining,
            });
        }
        let end = p + len as usize;
        self.pos = end;
        Ok((typ, p, end, start))
    }

    /// Reads the next element.
    #[inline]
    pub fn read(&mut self) -> Result<Element, DecodeError> {
        let (typ, vs, ve, s) = self.read_bounds()?;
        Ok(Element {
            typ,
            value: self.buf.slice(vs..ve),
            wire: self.buf.slice(s..ve),
        })
    }

    /// The type of the next element, without consuming it.
    #[inline]
    pub fn peek_type(&self) -> Result<u64, DecodeError> {
        let mut p = self.pos;
        read_varnum(&self.buf, &mut p)
    }

    /// Reads the next element and checks its type.
    pub fn expect(&mut self, typ: u64) -> Result<Element, DecodeError> {
        if self.is_empty() {
            return Err(DecodeError::Missing(typ));
        }
        let e = self.read()?;
        if e.typ != typ {
            return Err(DecodeError::UnexpectedType {
                expected: typ,
                found: e.typ,
            });
        }
        Ok(e)
    }
}

/// Reads consecutive TLV elements of `buf[range]` as (type, value range)
/// pairs, borrowing the buffer: nothing is sliced or reference counted, and
/// the ranges are offsets in `buf`, ready for `Bytes::slice` on the fields a
/// decoder keeps. The decoders' hot paths use this instead of [`Reader`].
#[derive(Debug, Clone)]
pub struct SpanReader<'a> {
    /// The buffer, cut at the end of the range being read.
    buf: &'a [u8],
    pos: usize,
}

impl<'a> SpanReader<'a> {
    /// A reader over `buf[range]` (an empty range past the end reads nothing).
    #[inline]
    pub fn new(buf: &'a [u8], range: std::ops::Range<usize>) -> Self {
        let end = range.end.min(buf.len());
        Self {
            buf: &buf[..end],
            pos: range.start.min(end),
        }
    }

    /// True when every element has been read.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Offset of the next element in the buffer.
    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Reads the next element's type and value range, advancing past it.
    #[inline]
    pub fn read(&mut self) -> Result<(u64, std::ops::Range<usize>), DecodeError> {
        let mut p = self.pos;
        let typ = read_varnum(self.buf, &mut p)?;
        let len = read_varnum(self.buf, &mut p)?;
        let remaining = (self.buf.len() - p) as u64;
        if len > remaining {
            return Err(DecodeError::LengthExceeds {
                typ,
                len,
                remaining,
            });
        }
        let end = p + len as usize;
        self.pos = end;
        Ok((typ, p..end))
    }

    /// Reads the next element, which must be of type `typ`.
    #[inline]
    pub fn expect(&mut self, typ: u64) -> Result<std::ops::Range<usize>, DecodeError> {
        if self.is_empty() {
            return Err(DecodeError::Missing(typ));
        }
        let (found, range) = self.read()?;
        if found != typ {
            return Err(DecodeError::UnexpectedType {
                expected: typ,
                found,
            });
        }
        Ok(range)
    }
}

/// The type and value range of exactly one TLV element spanning all of
/// `buf` (trailing bytes are an error), without slicing.
#[inline]
pub fn single_span(buf: &[u8]) -> Result<(u64, std::ops::Range<usize>), DecodeError> {
    let mut p = 0;
    let typ = read_varnum(buf, &mut p)?;
    let len = read_varnum(buf, &mut p)?;
    let remaining = (buf.len() - p) as u64;
    if len > remaining {
        return Err(DecodeError::LengthExceeds {
            typ,
            len,
            remaining,
        });
    }
    if len < remaining {
        return Err(DecodeError::TrailingBytes((remaining - len) as usize));
    }
    Ok((typ, p..buf.len()))
}

/// Reads exactly one TLV element spanning all of `buf` (trailing bytes are an error).
pub fn read_single(buf: Bytes) -> Result<Element, DecodeError> {
    let mut r = Reader::new(buf);
    let e = r.read()?;
    if !r.is_empty() {
        return Err(DecodeError::TrailingBytes(r.remaining()));
    }
    Ok(e)
}

/// Splits the first complete TLV element off a stream buffer, as a stream
/// face does: `Ok(None)` while the element is still incomplete.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, DecodeError> {
    let mut p = 0;
    let _typ = match read_varnum(buf, &mut p) {
        Ok(t) => t,
        Err(DecodeError::Truncated) => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = match read_varnum(buf, &mut p) {
        Ok(l) => l,
        Err(DecodeError::Truncated) => return Ok(None),
        Err(e) => return Err(e),
    };
    let total = (p as u64).saturating_add(len);
    if total > crate::MAX_PACKET_SIZE as u64 {
        return Err(DecodeError::TooLarge(total));
    }
    let total = total as usize;
    Ok((buf.len() >= total).then_some(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_varnum_forms() {
        for (v, wire) in [
            (0u64, &[0u8][..]),
            (252, &[0xFC]),
            (253, &[0xFD, 0x00, 0xFD]),
            (65535, &[0xFD, 0xFF, 0xFF]),
            (65536, &[0xFE, 0x00, 0x01, 0x00, 0x00]),
            (
                u64::MAX,
                &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
            ),
        ] {
            let mut out = BytesMut::new();
            write_varnum(&mut out, v);
            assert_eq!(&out[..], wire, "emit {v}");
            assert_eq!(varnum_len(v), wire.len());
            let mut p = 0;
            assert_eq!(read_varnum(wire, &mut p).unwrap(), v, "parse {v}");
            assert_eq!(p, wire.len());
        }
    }

    #[test]
    fn test_varnum_truncated() {
        for wire in [&[][..], &[0xFD, 0x01], &[0xFE, 0, 0, 0], &[0xFF, 1, 2, 3]] {
            let mut p = 0;
            assert_eq!(read_varnum(wire, &mut p), Err(DecodeError::Truncated));
        }
    }

    #[test]
    fn test_nni() {
        assert_eq!(decode_nni(&[0x01]).unwrap(), 1);
        assert_eq!(decode_nni(&[0x01, 0x00]).unwrap(), 256);
        assert_eq!(decode_nni(&[0, 0, 1, 0]).unwrap(), 256);
        assert_eq!(decode_nni(&[1, 0, 0, 0, 0, 0, 0, 0]).unwrap(), 1 << 56);
        assert_eq!(
            decode_nni(&[1, 2, 3]),
            Err(DecodeError::BadNonNegativeInteger(3))
        );
        assert_eq!(decode_nni(&[]), Err(DecodeError::BadNonNegativeInteger(0)));
        let mut out = BytesMut::new();
        write_nni_tlv(&mut out, 0x0C, 4000);
        assert_eq!(&out[..], &[0x0C, 0x02, 0x0F, 0xA0]);
    }

    #[test]
    fn test_impossible_len() {
        // Type 8, claimed length 0xFFFFFFFF with only two bytes of value.
        let mut r = Reader::new(Bytes::from_static(&[
            0x08, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2,
        ]));
        assert!(matches!(
            r.read(),
            Err(DecodeError::LengthExceeds {
                typ: 8,
                len: 0xFFFF_FFFF,
                remaining: 2
            })
        ));
    }

    #[test]
    fn test_reader_nested() {
        let mut r = Reader::new(Bytes::from_static(&[
            0x07, 0x03, 0x08, 0x01, b'a', 0x0A, 0x01, 0x05,
        ]));
        let name = r.expect(0x07).unwrap();
        let comp = name.reader().read().unwrap();
        assert_eq!((comp.typ, &comp.value[..]), (8, &b"a"[..]));
        assert_eq!(&comp.wire[..], &[0x08, 0x01, b'a']);
        assert_eq!(r.peek_type().unwrap(), 0x0A);
        assert_eq!(r.read().unwrap().nni().unwrap(), 5);
        assert!(r.is_empty());
    }

    #[test]
    fn test_span_reader() {
        let buf = [0x99, 0x07, 0x03, 0x08, 0x01, b'a', 0x0A, 0x01, 0x05, 0x77];
        let mut r = SpanReader::new(&buf, 1..9);
        assert_eq!(r.expect(0x07).unwrap(), 3..6);
        assert_eq!(r.position(), 6);
        assert_eq!(r.read().unwrap(), (0x0A, 8..9));
        assert!(r.is_empty());
        assert_eq!(r.expect(0x0A), Err(DecodeError::Missing(0x0A)));
        // The range bounds the reader: an element may not run past it.
        let mut r = SpanReader::new(&buf, 1..8);
        r.read().unwrap();
        assert!(matches!(
            r.read(),
            Err(DecodeError::LengthExceeds { typ: 0x0A, .. })
        ));
        assert!(SpanReader::new(&buf, 20..30).is_empty());
    }

    #[test]
    fn test_frame_len() {
        assert_eq!(frame_len(&[]).unwrap(), None);
        assert_eq!(frame_len(&[0x05]).unwrap(), None);
        assert_eq!(frame_len(&[0x05, 0x02, 0x00]).unwrap(), None);
        assert_eq!(frame_len(&[0x05, 0x02, 0x00, 0x00, 0x99]).unwrap(), Some(4));
        assert!(frame_len(&[0x05, 0xFE, 0x7F, 0, 0, 0]).is_err());
    }

    #[test]
    fn test_critical() {
        assert!(is_critical(0x05));
        assert!(is_critical(31));
        assert!(!is_critical(32));
        assert!(is_critical(33));
        assert!(!is_critical(126));
        assert!(is_critical(u64::MAX));
    }
}
