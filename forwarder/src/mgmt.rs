//! NFD-compatible management (NFD's `daemon/mgmt` and `rib/`), reached as
//! the internal face under `/localhost/nfd` (and `/localhop/nfd` from
//! non-local faces when enabled), so NDN applications written for NFD —
//! python-ndn, ndn-cxx tools — work unchanged.
//!
//! A command is an Interest `/localhost/nfd/<module>/<verb>/<ControlParameters>`
//! followed either by a ParametersSha256DigestComponent (v0.3 signed
//! Interest) or by four signature components (the older command-Interest
//! form); the reply is a Data whose content is a ControlResponse. This
//! module owns parsing, authorisation and dispatching; each manager owns
//! its module's verbs.

pub mod rib;

use std::time::{Duration, Instant};

use bytes::Bytes;
use picasso_tlv::mgmt::{status, ControlParameters, ControlResponse, MgmtTlv, RouteOrigin};
use picasso_tlv::types::GENERIC_COMPONENT;
use picasso_tlv::{Data, Interest, Name, Signer};

use crate::fw::Forwarder;
use crate::runtime::Core;
use crate::table::PitKey;
use crate::FaceId;

/// Management state.
#[derive(Debug, Default)]
pub struct Management {
    /// The RIB.
    pub rib: rib::Rib,
}

impl Management {
    /// Fresh state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes `/localhost/nfd` to the internal face.
    pub fn install(&mut self, fwd: &mut Forwarder) {
        if let Ok(p) = Name::from_uri("/localhost/nfd") {
            fwd.fib.add_next_hop(&p, FaceId::INTERNAL, 0);
        }
    }

    /// Timers: route expiry.
    pub fn on_tick(&mut self, fwd: &mut Forwarder, now: Instant) {
        self.rib.expire(fwd, now);
    }
}

/// A parsed management command.
#[derive(Debug, Clone)]
pub struct Command {
    /// Module, e.g. `rib`.
    pub module: String,
    /// Verb, e.g. `register`.
    pub verb: String,
    /// The ControlParameters (empty when absent).
    pub params: ControlParameters,
    /// The face the command came from.
    pub requester: FaceId,
}

fn generic_str(name: &Name, i: usize) -> Option<String> {
    let c = name.get(i)?;
    (c.typ() == GENERIC_COMPONENT).then(|| String::from_utf8_lossy(c.value()).into_owned())
}

/// Answers a management Interest that reached the internal face.
pub fn dispatch(core: &mut Core, interest: &Interest, now: Instant) -> Option<Data> {
    let name = interest.name();
    let module = generic_str(name, 2)?;
    let verb = generic_str(name, 3).unwrap_or_default();
    // Who asked: the downstream of the PIT entry.
    let requester = core
        .fwd
        .pit
        .get(&PitKey::of(interest))
        .and_then(|e| e.in_records.first().map(|r| r.face))
        .unwrap_or(FaceId::INVALID);
    let params = match name.get(4) {
        Some(c) if c.typ() == GENERIC_COMPONENT => {
            match ControlParameters::decode(c.value().clone()) {
                Ok(p) => p,
                Err(e) => {
                    return Some(respond(
                        interest,
                        ControlResponse::new(
                            status::BAD_PARAMETERS,
                            format!("malformed ControlParameters: {e}"),
                        ),
                    ))
                }
            }
        }
        _ => ControlParameters::default(),
    };
    let cmd = Command {
        module,
        verb,
        params,
        requester,
    };
    let response = match (cmd.module.as_str(), cmd.verb.as_str()) {
        ("rib", "register") => rib_register(core, cmd, now),
        ("rib", "unregister") => rib_unregister(core, cmd),
        _ => ControlResponse::new(
            status::NOT_IMPLEMENTED,
            format!("unsupported command {}/{}", cmd.module, cmd.verb),
        ),
    };
    Some(respond(interest, response))
}

/// Wraps a ControlResponse in a Data answering `interest`.
pub fn respond(interest: &Interest, response: ControlResponse) -> Data {
    let mut d = Data::new(interest.name().clone()).with_content(response.encode());
    d.sign(&Signer::DigestSha256);
    d
}

fn rib_register(core: &mut Core, cmd: Command, now: Instant) -> ControlResponse {
    let mut p = cmd.params;
    let Some(prefix) = p.name.clone() else {
        return ControlResponse::new(status::BAD_PARAMETERS, "Name is required");
    };
    // NFD's defaults: FaceId 0 means the requester, Origin app, Cost 0,
    // Flags ChildInherit; the response echoes the complete parameters.
    let face = match p.face_id {
        None | Some(0) => cmd.requester,
        Some(f) => FaceId(f),
    };
    if face != FaceId::INTERNAL && !core.faces.contains_key(&face) {
        return ControlResponse::new(status::GONE, format!("face {face} does not exist"));
    }
    let origin = p.origin.unwrap_or(RouteOrigin::APP);
    let cost = p.cost.unwrap_or(0);
    let flags = p
        .flags
        .unwrap_or(picasso_tlv::mgmt::ROUTE_FLAG_CHILD_INHERIT);
    p.face_id = Some(face.0);
    p.origin = Some(origin);
    p.cost = Some(cost);
    p.flags = Some(flags);
    core.mgmt.rib.add(
        &mut core.fwd,
        rib::Route {
            prefix,
            face,
            origin,
            cost,
            flags,
            expires: p.expiration_period.map(|d: Duration| now + d),
        },
    );
    ControlResponse::with_parameters(status::OK, "OK", p)
}

fn rib_unregister(core: &mut Core, cmd: Command) -> ControlResponse {
    let mut p = cmd.params;
    let Some(prefix) = p.name.clone() else {
        return ControlResponse::new(status::BAD_PARAMETERS, "Name is required");
    };
    let face = match p.face_id {
        None | Some(0) => cmd.requester,
        Some(f) => FaceId(f),
    };
    let origin = p.origin.unwrap_or(RouteOrigin::APP);
    core.mgmt.rib.remove(&mut core.fwd, &prefix, face, origin);
    p.face_id = Some(face.0);
    p.origin = Some(origin);
    ControlResponse::with_parameters(status::OK, "OK", p)
}

/// The ControlResponse carried by a management reply (for clients and tests).
pub fn parse_response(data: &Data) -> Option<ControlResponse> {
    ControlResponse::decode(Bytes::clone(&data.content())).ok()
}
