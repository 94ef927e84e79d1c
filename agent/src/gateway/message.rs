//! The two byte formats the gateway and the ingress share: an HTTP request
//! carried in an Interest's ApplicationParameters, and an HTTP response
//! carried in Data content (joined over all segments). Both are NDN TLV
//! sequences with types from the range NDN leaves to applications
//! (128–252), so any NDN library can build and read them.
//!
//! ```text
//! HttpRequest  (ApplicationParameters TLV-VALUE) =
//!     [Method] [Query] *Header [Body] [Nonce]
//! HttpResponse (Data content, all segments joined) =
//!     Status *Header [Body]
//!
//! Method      = 0x80 TLV-LENGTH *OCTET   ; UTF-8 token, absent = GET
//! Query       = 0x81 TLV-LENGTH *OCTET   ; the query string without "?"
//! Header      = 0x82 TLV-LENGTH HeaderName HeaderValue
//! HeaderName  = 0x83 TLV-LENGTH *OCTET   ; as in HTTP, case-insensitive
//! HeaderValue = 0x84 TLV-LENGTH *OCTET
//! Body        = 0x85 TLV-LENGTH *OCTET   ; absent = empty
//! Status      = 0x86 TLV-LENGTH NonNegativeInteger ; the HTTP status code
//! Nonce       = 0x87 TLV-LENGTH *OCTET   ; makes the request's name unique
//! ```
//!
//! The Nonce is ignored by the gateway; the ingress adds one to requests
//! whose method is not safe (not GET/HEAD/OPTIONS), so that neither PIT
//! aggregation nor a content store ever merges two such requests.
//!
//! Elements appear in the order shown; Header repeats in the order the
//! headers had. Unknown elements are skipped (room to grow). This module
//! owns only the byte formats: which headers travel is the gateway's and
//! the ingress's choice.

use bytes::{Bytes, BytesMut};
use picasso_tlv::wire::{self, Reader};
use picasso_tlv::DecodeError;

/// TLV-TYPE of Method.
pub const METHOD: u64 = 0x80;
/// TLV-TYPE of Query.
pub const QUERY: u64 = 0x81;
/// TLV-TYPE of Header.
pub const HEADER: u64 = 0x82;
/// TLV-TYPE of HeaderName.
pub const HEADER_NAME: u64 = 0x83;
/// TLV-TYPE of HeaderValue.
pub const HEADER_VALUE: u64 = 0x84;
/// TLV-TYPE of Body.
pub const BODY: u64 = 0x85;
/// TLV-TYPE of Status.
pub const STATUS: u64 = 0x86;
/// TLV-TYPE of Nonce.
pub const NONCE: u64 = 0x87;

/// An HTTP request as it travels in ApplicationParameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpRequest {
    /// The method (`GET` when absent on the wire).
    pub method: String,
    /// The query string without `?`, empty when none.
    pub query: String,
    /// End-to-end headers, in order.
    pub headers: Vec<(String, Bytes)>,
    /// The request body.
    pub body: Bytes,
    /// Octets that make the request unique (empty = none).
    pub nonce: Bytes,
}

/// An HTTP response as it travels in Data content.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// End-to-end headers, in order.
    pub headers: Vec<(String, Bytes)>,
    /// The response body.
    pub body: Bytes,
}

fn write_headers(out: &mut BytesMut, headers: &[(String, Bytes)]) {
    for (n, v) in headers {
        let inner = wire::tlv_len(HEADER_NAME, n.len()) + wire::tlv_len(HEADER_VALUE, v.len());
        wire::write_header(out, HEADER, inner);
        wire::write_tlv(out, HEADER_NAME, n.as_bytes());
        wire::write_tlv(out, HEADER_VALUE, v);
    }
}

fn read_header(e: &wire::Element) -> Result<(String, Bytes), DecodeError> {
    let mut r = e.reader();
    let n = r.expect(HEADER_NAME)?;
    let v = r.expect(HEADER_VALUE)?;
    let name = utf8(&n.value, "HeaderName")?;
    Ok((name, v.value))
}

fn utf8(b: &[u8], field: &'static str) -> Result<String, DecodeError> {
    std::str::from_utf8(b)
        .map(str::to_string)
        .map_err(|_| DecodeError::Invalid {
            field,
            reason: "not UTF-8",
        })
}

impl HttpRequest {
    /// Encodes the request as the TLV-VALUE of ApplicationParameters.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(64 + self.body.len());
        if !self.method.is_empty() && self.method != "GET" {
            wire::write_tlv(&mut out, METHOD, self.method.as_bytes());
        }
        if !self.query.is_empty() {
            wire::write_tlv(&mut out, QUERY, self.query.as_bytes());
        }
        write_headers(&mut out, &self.headers);
        if !self.body.is_empty() {
            wire::write_tlv(&mut out, BODY, &self.body);
        }
        if !self.nonce.is_empty() {
            wire::write_tlv(&mut out, NONCE, &self.nonce);
        }
        out.freeze()
    }

    /// Decodes ApplicationParameters' TLV-VALUE; empty input is a bare GET.
    pub fn decode(value: Bytes) -> Result<Self, DecodeError> {
        let mut req = HttpRequest {
            method: "GET".to_string(),
            ..Self::default()
        };
        let mut r = Reader::new(value);
        while !r.is_empty() {
            let e = r.read()?;
            match e.typ {
                METHOD => req.method = utf8(&e.value, "Method")?,
                QUERY => req.query = utf8(&e.value, "Query")?,
                HEADER => req.headers.push(read_header(&e)?),
                BODY => req.body = e.value,
                NONCE => req.nonce = e.value,
                _ => {}
            }
        }
        Ok(req)
    }
}

impl HttpResponse {
    /// Encodes the response as Data content (before segmentation).
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(64 + self.body.len());
        wire::write_nni_tlv(&mut out, STATUS, u64::from(self.status));
        write_headers(&mut out, &self.headers);
        if !self.body.is_empty() {
            wire::write_tlv(&mut out, BODY, &self.body);
        }
        out.freeze()
    }

    /// Decodes joined Data content.
    pub fn decode(content: Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(content);
        let status = r.expect(STATUS)?.nni()?;
        let status = u16::try_from(status)
            .ok()
            .filter(|s| (100..=999).contains(s))
            .ok_or(DecodeError::Invalid {
                field: "Status",
                reason: "not an HTTP status code",
            })?;
        let mut resp = HttpResponse {
            status,
            ..Self::default()
        };
        while !r.is_empty() {
            let e = r.read()?;
            match e.typ {
                HEADER => resp.headers.push(read_header(&e)?),
                BODY => resp.body = e.value,
                _ => {}
            }
        }
        Ok(resp)
    }

    /// A response the gateway makes itself (an error), with a text body.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: vec![(
                "content-type".to_string(),
                Bytes::from_static(b"text/plain; charset=utf-8"),
            )],
            body: Bytes::from(body.into()),
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&Bytes> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1),
/// plus those each side recomputes: never carried in either format.
pub fn is_hop_by_hop(name: &str) -> bool {
    const HOP: [&str; 10] = [
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    ];
    HOP.iter().any(|h| name.eq_ignore_ascii_case(h)) || name.eq_ignore_ascii_case("host")
}

/// How long a response may be served from caches, from its Cache-Control
/// (RFC 9111 §5.2.2): `None` when it must not be (no-store, no-cache,
/// private, max-age=0, or no Cache-Control / max-age at all).
pub fn freshness_ms(cache_control: Option<&[u8]>) -> Option<u64> {
    let cc = std::str::from_utf8(cache_control?).ok()?;
    let mut max_age = None;
    let mut s_maxage = None;
    for d in cc.split(',').map(|d| d.trim().to_ascii_lowercase()) {
        let (k, v) = match d.split_once('=') {
            Some((k, v)) => (k.trim().to_string(), Some(v.trim().trim_matches('"'))),
            None => (d.clone(), None),
        };
        match (k.as_str(), v) {
            ("no-store" | "no-cache" | "private", _) => return None,
            ("max-age", Some(v)) => max_age = v.parse::<u64>().ok(),
            ("s-maxage", Some(v)) => s_maxage = v.parse::<u64>().ok(),
            _ => {}
        }
    }
    s_maxage
        .or(max_age)
        .filter(|&s| s > 0)
        .map(|s| s.saturating_mul(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_emit_request() {
        let r = HttpRequest {
            method: "POST".into(),
            query: "a=1".into(),
            headers: vec![("x".into(), Bytes::from_static(b"y"))],
            body: Bytes::from_static(b"hi"),
            nonce: Bytes::from_static(&[9]),
        };
        let want: &[u8] = &[
            0x80, 4, b'P', b'O', b'S', b'T', //
            0x81, 3, b'a', b'=', b'1', //
            0x82, 6, 0x83, 1, b'x', 0x84, 1, b'y', //
            0x85, 2, b'h', b'i', //
            0x87, 1, 9,
        ];
        assert_eq!(&r.encode()[..], want);
        assert_eq!(HttpRequest::decode(Bytes::from_static(want)).unwrap(), r);
    }

    #[test]
    fn test_parse_empty_request_is_get() {
        let r = HttpRequest::decode(Bytes::new()).unwrap();
        assert_eq!(r.method, "GET");
        assert!(r.headers.is_empty() && r.body.is_empty() && r.query.is_empty());
    }

    #[test]
    fn test_response_round_trip_and_fixture() {
        let want: &[u8] = &[0x86, 1, 200, 0x85, 2, b'o', b'k'];
        let r = HttpResponse::decode(Bytes::from_static(want)).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(&r.body[..], b"ok");
        assert_eq!(&r.encode()[..], want);
    }

    #[test]
    fn test_impossible_len() {
        // Body claims 9 octets, 2 present.
        assert!(HttpResponse::decode(Bytes::from_static(&[0x86, 1, 200, 0x85, 9, 1, 2])).is_err());
        // Status missing.
        assert!(HttpResponse::decode(Bytes::from_static(&[0x85, 0])).is_err());
        // Status out of range.
        assert!(HttpResponse::decode(Bytes::from_static(&[0x86, 1, 7])).is_err());
        // Header without value.
        assert!(HttpRequest::decode(Bytes::from_static(&[0x82, 3, 0x83, 1, b'x'])).is_err());
    }

    #[test]
    fn decoding_garbage_never_panics() {
        let mut x: u32 = 1;
        for len in 0..200usize {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    (x & 0xff) as u8
                })
                .collect();
            let _ = HttpRequest::decode(Bytes::from(buf.clone()));
            let _ = HttpResponse::decode(Bytes::from(buf));
        }
    }

    #[test]
    fn cache_control_to_freshness() {
        assert_eq!(freshness_ms(None), None);
        assert_eq!(freshness_ms(Some(b"max-age=10")), Some(10_000));
        assert_eq!(freshness_ms(Some(b"public, max-age=3")), Some(3_000));
        assert_eq!(freshness_ms(Some(b"max-age=10, s-maxage=2")), Some(2_000));
        assert_eq!(freshness_ms(Some(b"max-age=0")), None);
        assert_eq!(freshness_ms(Some(b"no-store")), None);
        assert_eq!(freshness_ms(Some(b"max-age=60, no-cache")), None);
        assert_eq!(freshness_ms(Some(b"private, max-age=60")), None);
        assert_eq!(freshness_ms(Some(b"public")), None);
    }
}
