//! How requests are named: `/<root>/svc/<service>/<path…>`, and how the
//! segments of a large response are named, `…/<path…>/v=<ver>/seg=<n>`
//! (DESIGN.md "Names"). Pure functions over names; the ingress and the
//! gateway both use them so the two ends agree.
//!
//! Each HTTP path segment is one generic name component holding its
//! percent-decoded bytes (so `/a%2Fb/c` is two components, `a/b` and `c`);
//! the way back percent-encodes every octet outside RFC 3986 `pchar`.

use picasso_tlv::{Component, Name};

/// TLV-TYPE of a ParametersSha256DigestComponent.
const PARAMS_DIGEST: u64 = 0x02;
/// TLV-TYPE of a GenericNameComponent.
const GENERIC: u64 = 0x08;

/// `<root>/svc/<service>`: the prefix a gateway registers for a service.
pub fn service_prefix(root: &Name, service: &str) -> Name {
    root.append_str("svc").append_str(service)
}

/// `<root>/svc/<service>/<path…>` for an HTTP path (`/a/b`, leading slash optional).
pub fn request_name(root: &Name, service: &str, path: &str) -> Name {
    let mut name = service_prefix(root, service);
    let path = path.strip_prefix('/').unwrap_or(path);
    if path.is_empty() {
        return name;
    }
    for seg in path.split('/') {
        name = name.append(&Component::generic(percent_decode(seg)));
    }
    name
}

/// What an Interest under a service prefix asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A new request for this HTTP path (with a leading `/`).
    Call {
        /// The HTTP path.
        path: String,
    },
    /// A later segment of a response the gateway already has.
    Segment {
        /// The HTTP path the response was for.
        path: String,
        /// The response's version.
        version: u64,
        /// The segment asked for.
        segment: u64,
    },
}

/// Reads an Interest name under `prefix` (the service prefix). `None` when
/// the name is not under `prefix` or has components no HTTP path can hold.
pub fn parse_request(prefix: &Name, name: &Name) -> Option<Request> {
    if !prefix.is_prefix_of(name) {
        return None;
    }
    let comps: Vec<Component> = name.components().skip(prefix.len()).collect();
    let n = comps.len();
    if n >= 2 {
        if let (Some(version), Some(segment)) =
            (comps[n - 2].as_version(), comps[n - 1].as_segment())
        {
            // Segment 0 is named after the request, digest included.
            let path: Vec<Component> = comps[..n - 2]
                .iter()
                .filter(|c| c.typ() != PARAMS_DIGEST)
                .cloned()
                .collect();
            return Some(Request::Segment {
                path: http_path(&path)?,
                version,
                segment,
            });
        }
    }
    let path_comps = match comps.last() {
        Some(c) if c.typ() == PARAMS_DIGEST => &comps[..n - 1],
        _ => &comps[..],
    };
    Some(Request::Call {
        path: http_path(path_comps)?,
    })
}

/// The HTTP path for generic components; `None` for any other type.
fn http_path(comps: &[Component]) -> Option<String> {
    let mut path = String::new();
    for c in comps {
        if c.typ() != GENERIC {
            return None;
        }
        path.push('/');
        percent_encode(c.value(), &mut path);
    }
    if path.is_empty() {
        path.push('/');
    }
    Some(path)
}

/// The name of segment `seg` of version `ver` of the response to a request
/// named `request` (its ParametersSha256DigestComponent, if any, kept, so
/// segment 0 answers the request Interest itself).
pub fn segment_name(request: &Name, version: u64, seg: u64) -> Name {
    request
        .append(&Component::version(version))
        .append(&Component::segment(seg))
}

/// The prefix under which segments 1… of the response whose segment 0 is
/// named `first` are fetched: `first` without its last (segment) component
/// and without a ParametersSha256DigestComponent, which an Interest
/// without ApplicationParameters must not carry.
pub fn segments_base(first: &Name) -> Name {
    let n = first.len().saturating_sub(1);
    let comps: Vec<Component> = first
        .components()
        .take(n)
        .filter(|c| c.typ() != PARAMS_DIGEST)
        .collect();
    Name::from_components(&comps)
}

fn is_pchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b)
}

fn percent_encode(bytes: &[u8], out: &mut String) {
    for &b in bytes {
        if is_pchar(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// Decodes `%XX` escapes; a malformed escape is kept literally.
pub fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_uri(s).unwrap()
    }

    #[test]
    fn path_round_trip() {
        let root = n("/picasso");
        let name = request_name(&root, "echo", "/a%2Fb/c d/");
        assert_eq!(name.len(), 6);
        let prefix = service_prefix(&root, "echo");
        assert_eq!(
            parse_request(&prefix, &name),
            Some(Request::Call {
                path: "/a%2Fb/c%20d/".into()
            })
        );
        assert_eq!(
            parse_request(&prefix, &prefix),
            Some(Request::Call { path: "/".into() })
        );
    }

    #[test]
    fn segments_are_recognised() {
        let prefix = n("/picasso/svc/s");
        let req = n("/picasso/svc/s/x").append(&Component::params_digest([7; 32]));
        let first = segment_name(&req, 9, 0);
        assert_eq!(
            parse_request(&prefix, &first),
            Some(Request::Segment {
                path: "/x".into(),
                version: 9,
                segment: 0
            })
        );
        let base = segments_base(&first);
        assert_eq!(base, n("/picasso/svc/s/x").append(&Component::version(9)));
        assert_eq!(
            parse_request(&prefix, &base.append(&Component::segment(3))),
            Some(Request::Segment {
                path: "/x".into(),
                version: 9,
                segment: 3
            })
        );
        // A digest alone ends the path.
        assert_eq!(
            parse_request(&prefix, &req),
            Some(Request::Call { path: "/x".into() })
        );
        // Other typed components are not HTTP paths; other prefixes are not ours.
        assert_eq!(
            parse_request(&prefix, &n("/picasso/svc/s").append(&Component::segment(1))),
            None
        );
        assert_eq!(parse_request(&prefix, &n("/picasso/svc/t/x")), None);
    }

    #[test]
    fn percent_decoding_is_lenient() {
        assert_eq!(percent_decode("%41%4a"), b"AJ");
        assert_eq!(percent_decode("%4"), b"%4");
        assert_eq!(percent_decode("%zz%"), b"%zz%");
    }
}
