//! The face manager (NFD's `FaceManager`, FaceMgmt page): `faces/create`
//! (UDP and TCP unicast; the face is created asynchronously and the reply
//! sent when it is up), `faces/update`, `faces/destroy` and the
//! `faces/list` dataset.
//!
//! It owns the management view of faces (their flags); the faces
//! themselves are the face layer's and the forwarder task's.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use picasso_tlv::mgmt::{
    encode_list, status, ControlParameters, ControlResponse, FacePersistency, FaceScope,
    FaceStatus, LinkType, FACE_FLAG_LOCAL_FIELDS_ENABLED,
};

use super::rib_manager::target_face;
use super::{error, ok, respond, Command, Reply};
use crate::face::stream::connect_tcp;
use crate::face::FaceKind;
use crate::runtime::Core;
use crate::FaceId;

/// How long `faces/create` waits for a TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Status code of a face that cannot be created (e.g. the connection
/// failed), as NFD's channels report it.
pub const CREATE_FAILED: u64 = status::TIMEOUT;

/// A remote endpoint faces/create accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remote {
    /// `udp4://HOST:PORT` (or udp6).
    Udp(SocketAddr),
    /// `tcp4://HOST:PORT` (or tcp6).
    Tcp(SocketAddr),
}

impl Remote {
    /// The canonical FaceUri, as the face reports it.
    pub fn uri(&self) -> String {
        let (scheme, a) = match self {
            Remote::Udp(a) => ("udp", a),
            Remote::Tcp(a) => ("tcp", a),
        };
        format!("{scheme}{}://{a}", if a.is_ipv4() { 4 } else { 6 })
    }
}

/// Parses a canonical FaceUri `udp4://IP:PORT` / `tcp4://IP:PORT` (v6
/// alike; NFD's forwarder also accepts only canonical URIs: names are
/// resolved by the tools).
pub fn parse_uri(uri: &str) -> Result<Remote, ControlResponse> {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return Err(error(
            status::BAD_PARAMETERS,
            format!("Uri {uri:?} is not a FaceUri"),
        ));
    };
    let addr: SocketAddr = rest.trim_end_matches('/').parse().map_err(|_| {
        error(
            status::BAD_PARAMETERS,
            format!("Uri {uri:?} is not canonical: expected SCHEME://IP:PORT"),
        )
    })?;
    if addr.port() == 0 || addr.ip().is_unspecified() || addr.ip().is_multicast() {
        return Err(error(
            status::BAD_PARAMETERS,
            format!("Uri {uri:?} is not a unicast endpoint"),
        ));
    }
    let v4 = addr.is_ipv4();
    match scheme {
        "udp4" if v4 => Ok(Remote::Udp(addr)),
        "udp6" if !v4 => Ok(Remote::Udp(addr)),
        "udp" => Ok(Remote::Udp(addr)),
        "tcp4" if v4 => Ok(Remote::Tcp(addr)),
        "tcp6" if !v4 => Ok(Remote::Tcp(addr)),
        "tcp" => Ok(Remote::Tcp(addr)),
        "udp4" | "udp6" | "tcp4" | "tcp6" => Err(error(
            status::BAD_PARAMETERS,
            format!("Uri {uri:?}: address family does not match the scheme"),
        )),
        _ => Err(error(
            status::NOT_ACCEPTABLE,
            format!("Uri {uri:?}: unsupported protocol {scheme:?}"),
        )),
    }
}

/// Flags after applying `flags` under `mask` to `old`.
fn apply_flags(old: u64, flags: Option<u64>, mask: Option<u64>) -> u64 {
    match (flags, mask) {
        (Some(f), Some(m)) => (old & !m) | (f & m),
        _ => old,
    }
}

/// The parameters describing face `face` (the body of create/update replies).
pub fn face_params(core: &Core, face: FaceId) -> ControlParameters {
    let Some(slot) = core.faces.get(&face) else {
        return ControlParameters {
            face_id: Some(face.0),
            ..ControlParameters::default()
        };
    };
    ControlParameters {
        face_id: Some(face.0),
        uri: Some(slot.meta.remote_uri.clone()),
        local_uri: Some(slot.meta.local_uri.clone()),
        face_persistency: Some(slot.meta.persistency),
        flags: Some(core.mgmt.face_flags.get(&face).copied().unwrap_or(0)),
        mtu: slot.meta.mtu.map(|m| m as u64),
        ..ControlParameters::default()
    }
}

/// `faces/create`: 409 with the existing face's parameters when a face to
/// Uri exists; otherwise the face is created in the background and the
/// reply (200 with the new face's parameters, or 504 when it cannot be
/// reached) is injected when it is up.
pub fn create(core: &mut Core, cmd: Command) -> Reply {
    let p = cmd.params;
    let uri = p.uri.clone().unwrap_or_default();
    let remote = match parse_uri(&uri) {
        Ok(r) => r,
        Err(e) => return e.into(),
    };
    if p.local_uri.is_some() {
        return error(status::NOT_ACCEPTABLE, "LocalUri is not supported").into();
    }
    if p.flags.is_some() != p.mask.is_some() {
        return error(
            status::BAD_PARAMETERS,
            "Flags and Mask must be given together",
        )
        .into();
    }
    let persistency = p.face_persistency.unwrap_or(FacePersistency::PERSISTENT);
    if persistency == FacePersistency::ON_DEMAND {
        return error(
            status::NOT_ACCEPTABLE,
            "an on-demand face cannot be created by command",
        )
        .into();
    }
    let canonical = remote.uri();
    if let Some((&existing, _)) = core
        .faces
        .iter()
        .find(|(_, s)| s.meta.remote_uri == canonical)
    {
        return ControlResponse::with_parameters(
            status::CONFLICT,
            "face exists",
            face_params(core, existing),
        )
        .into();
    }
    let flags = apply_flags(0, p.flags, p.mask);
    let would_be_local = match remote {
        Remote::Tcp(a) => a.ip().is_loopback(),
        Remote::Udp(_) => false,
    };
    if flags & FACE_FLAG_LOCAL_FIELDS_ENABLED != 0 && !would_be_local {
        return error(
            status::NOT_ACCEPTABLE,
            "LocalFieldsEnabled needs a face of local scope",
        )
        .into();
    }
    let udp = match remote {
        Remote::Udp(a) => match core
            .mgmt
            .udp_channels
            .iter()
            .find(|c| c.local.is_ipv4() == a.is_ipv4())
        {
            Some(c) => Some(c.clone()),
            None => {
                return error(
                    status::NOT_ACCEPTABLE,
                    "no UDP channel to create the face on",
                )
                .into()
            }
        },
        Remote::Tcp(_) => None,
    };
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return error(status::INTERNAL_ERROR, "no runtime to create faces on").into();
    };
    let handle = core.handle.clone();
    let name = cmd.interest_name;
    rt.spawn(async move {
        let result: Result<FaceId, String> = match (remote, udp) {
            (Remote::Udp(a), Some(ch)) => ch.connect(a).await.map_err(|e| e.to_string()),
            (Remote::Tcp(a), _) => {
                match tokio::time::timeout(CONNECT_TIMEOUT, connect_tcp(&handle, a)).await {
                    Ok(r) => r.map_err(|e| e.to_string()),
                    Err(_) => Err("connection timed out".to_string()),
                }
            }
            (Remote::Udp(_), None) => Err("no UDP channel".to_string()),
        };
        let _ = handle
            .call(move |core| {
                let resp = match result {
                    Ok(face) if core.faces.contains_key(&face) => {
                        if let Some(slot) = core.faces.get_mut(&face) {
                            slot.meta.persistency = persistency;
                        }
                        core.mgmt.face_flags.insert(face, flags);
                        ok(face_params(core, face))
                    }
                    Ok(face) => error(CREATE_FAILED, format!("face {face} closed at once")),
                    Err(e) => error(CREATE_FAILED, format!("cannot create face to {uri}: {e}")),
                };
                core.answer_management(respond(&name, resp));
            })
            .await;
    });
    Reply::Later
}

/// `faces/update`: FaceId defaults to the requester (404 if it does not
/// exist); changes persistency (UDP and TCP faces) and the flags Mask
/// selects (LocalFieldsEnabled only on local faces: 409).
pub fn update(core: &mut Core, cmd: Command) -> ControlResponse {
    let p = cmd.params;
    let face = target_face(p.face_id, cmd.requester);
    let Some(slot) = core.faces.get(&face) else {
        return error(status::NOT_FOUND, format!("face {face} not found"));
    };
    if p.flags.is_some() != p.mask.is_some() {
        return error(
            status::BAD_PARAMETERS,
            "Flags and Mask must be given together",
        );
    }
    let old_flags = core.mgmt.face_flags.get(&face).copied().unwrap_or(0);
    let flags = apply_flags(old_flags, p.flags, p.mask);
    let mut conflict = None;
    if flags & FACE_FLAG_LOCAL_FIELDS_ENABLED != 0 && slot.meta.scope != FaceScope::LOCAL {
        conflict = Some("LocalFieldsEnabled needs a face of local scope");
    }
    if let Some(per) = p.face_persistency {
        let changeable = matches!(slot.meta.kind, FaceKind::Udp | FaceKind::Tcp)
            && per != FacePersistency::ON_DEMAND;
        if per != slot.meta.persistency && !changeable {
            conflict = Some("the face's persistency cannot change to that");
        }
    }
    if let Some(text) = conflict {
        return ControlResponse::with_parameters(status::CONFLICT, text, face_params(core, face));
    }
    if let (Some(per), Some(slot)) = (p.face_persistency, core.faces.get_mut(&face)) {
        slot.meta.persistency = per;
    }
    core.mgmt.face_flags.insert(face, flags);
    let mut body = face_params(core, face);
    body.uri = None;
    body.local_uri = None;
    ok(body)
}

/// `faces/destroy`: closes the face (succeeds whether or not it exists;
/// the internal faces cannot be destroyed).
pub fn destroy(core: &mut Core, cmd: Command) -> ControlResponse {
    let p = cmd.params;
    let Some(id) = p.face_id else {
        return error(status::BAD_PARAMETERS, "FaceId is required");
    };
    let face = FaceId(id);
    if core.faces.contains_key(&face) {
        core.remove_face(face);
    }
    ok(p)
}

/// The FaceStatus of `face`, if it exists.
pub fn face_status(core: &Core, face: FaceId) -> Option<FaceStatus> {
    let counters = core.fwd.face(face).map(|i| i.counters).unwrap_or_default();
    let mut s = FaceStatus {
        face_id: face.0,
        uri: String::new(),
        local_uri: String::new(),
        expiration_period: None,
        face_scope: FaceScope::LOCAL,
        face_persistency: FacePersistency::PERMANENT,
        link_type: LinkType::POINT_TO_POINT,
        base_congestion_marking_interval: None,
        default_congestion_threshold: None,
        mtu: None,
        n_in_interests: counters.in_interests,
        n_in_data: counters.in_data,
        n_in_nacks: counters.in_nacks,
        n_out_interests: counters.out_interests,
        n_out_data: counters.out_data,
        n_out_nacks: counters.out_nacks,
        n_in_bytes: counters.in_bytes,
        n_out_bytes: counters.out_bytes,
        flags: core.mgmt.face_flags.get(&face).copied().unwrap_or(0),
    };
    match core.faces.get(&face) {
        Some(slot) => {
            s.uri = slot.meta.remote_uri.clone();
            s.local_uri = slot.meta.local_uri.clone();
            s.face_scope = slot.meta.scope;
            s.face_persistency = slot.meta.persistency;
            s.link_type = slot.meta.link_type;
            s.mtu = slot.meta.mtu.map(|m| m as u64);
            s.n_in_bytes += slot.stats.in_bytes.load(Ordering::Relaxed);
            s.n_out_bytes += slot.stats.out_bytes.load(Ordering::Relaxed);
        }
        None if face == FaceId::INTERNAL => {
            s.uri = "internal://".to_string();
            s.local_uri = "internal://".to_string();
        }
        None if face == FaceId::CONTENT_STORE => {
            s.uri = "contentstore://".to_string();
            s.local_uri = "contentstore://".to_string();
        }
        None => return None,
    }
    Some(s)
}

/// The `faces/list` dataset: every face, by id.
pub fn list(core: &Core) -> Bytes {
    let mut ids: Vec<FaceId> = core.faces.keys().copied().collect();
    for reserved in [FaceId::INTERNAL, FaceId::CONTENT_STORE] {
        if core.fwd.face(reserved).is_some() {
            ids.push(reserved);
        }
    }
    ids.sort();
    ids.dedup();
    let all: Vec<FaceStatus> = ids
        .into_iter()
        .filter_map(|f| face_status(core, f))
        .collect();
    encode_list(&all)
}

/// A FaceQueryFilter (FaceMgmt "Query Operation"): a face matches when
/// every field present matches it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaceQueryFilter {
    /// FaceId (0x69).
    pub face_id: Option<u64>,
    /// UriScheme (0x83), e.g. `udp4`.
    pub uri_scheme: Option<String>,
    /// Uri (0x72).
    pub uri: Option<String>,
    /// LocalUri (0x81).
    pub local_uri: Option<String>,
    /// FaceScope (0x84).
    pub face_scope: Option<u64>,
    /// FacePersistency (0x85).
    pub face_persistency: Option<u64>,
    /// LinkType (0x86).
    pub link_type: Option<u64>,
}

/// TLV-TYPE of FaceQueryFilter.
pub const FACE_QUERY_FILTER: u64 = 0x96;

impl FaceQueryFilter {
    /// Decodes a whole FaceQueryFilter element; `None` when malformed
    /// (unknown critical elements included).
    pub fn decode(wire: Bytes) -> Option<Self> {
        let outer = picasso_tlv::wire::read_single(wire).ok()?;
        if outer.typ != FACE_QUERY_FILTER {
            return None;
        }
        let mut f = Self::default();
        let mut r = outer.reader();
        let text = |e: &picasso_tlv::wire::Element| String::from_utf8(e.value.to_vec()).ok();
        while !r.is_empty() {
            let e = r.read().ok()?;
            match e.typ {
                0x69 => f.face_id = Some(e.nni().ok()?),
                0x83 => f.uri_scheme = Some(text(&e)?),
                0x72 => f.uri = Some(text(&e)?),
                0x81 => f.local_uri = Some(text(&e)?),
                0x84 => f.face_scope = Some(e.nni().ok()?),
                0x85 => f.face_persistency = Some(e.nni().ok()?),
                0x86 => f.link_type = Some(e.nni().ok()?),
                t if picasso_tlv::wire::is_critical(t) => return None,
                _ => {}
            }
        }
        Some(f)
    }

    /// Whether `s` passes the filter.
    pub fn matches(&self, s: &FaceStatus) -> bool {
        let scheme = s.uri.split_once("://").map_or("", |(a, _)| a);
        self.face_id.is_none_or(|v| v == s.face_id)
            && self.uri_scheme.as_deref().is_none_or(|v| v == scheme)
            && self.uri.as_deref().is_none_or(|v| v == s.uri)
            && self.local_uri.as_deref().is_none_or(|v| v == s.local_uri)
            && self.face_scope.is_none_or(|v| v == s.face_scope.0)
            && self
                .face_persistency
                .is_none_or(|v| v == s.face_persistency.0)
            && self.link_type.is_none_or(|v| v == s.link_type.0)
    }
}

/// The `faces/query` dataset: the faces `filter` selects, by id.
pub fn query(core: &Core, filter: &FaceQueryFilter) -> Bytes {
    let mut ids: Vec<FaceId> = core.faces.keys().copied().collect();
    ids.sort();
    let all: Vec<FaceStatus> = ids
        .into_iter()
        .filter_map(|f| face_status(core, f))
        .filter(|s| filter.matches(s))
        .collect();
    encode_list(&all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(
            parse_uri("udp4://127.0.0.1:6363"),
            Ok(Remote::Udp("127.0.0.1:6363".parse().unwrap()))
        );
        assert_eq!(
            parse_uri("tcp://[::1]:6363").map(|r| r.uri()),
            Ok("tcp6://[::1]:6363".to_string())
        );
        assert_eq!(
            parse_uri("tcp4://example.com:6363")
                .unwrap_err()
                .status_code,
            400
        );
        assert_eq!(parse_uri("ether://01:02").unwrap_err().status_code, 400);
        assert_eq!(
            parse_uri("ws4://1.2.3.4:9696").unwrap_err().status_code,
            406
        );
        assert_eq!(
            parse_uri("udp6://1.2.3.4:9696").unwrap_err().status_code,
            400
        );
        assert_eq!(parse_uri("udp4://1.2.3.4:0").unwrap_err().status_code, 400);
    }

    #[test]
    fn flags_under_mask() {
        assert_eq!(apply_flags(0b101, Some(0b010), Some(0b011)), 0b110);
        assert_eq!(apply_flags(0b101, None, None), 0b101);
    }
}
