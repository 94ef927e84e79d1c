//! The RIB manager (NFD's `RibManager`, RibMgmt page): `rib/register`,
//! `rib/unregister` and the `rib/list` dataset. The routes themselves live
//! in [`super::rib::Rib`], which computes the FIB.

use std::time::{Duration, Instant};

use bytes::Bytes;
use picasso_tlv::mgmt::{
    encode_list, status, ControlResponse, RibEntry, Route, RouteOrigin, ROUTE_FLAG_CHILD_INHERIT,
};

use super::{error, ok, rib, Command};
use crate::runtime::Core;
use crate::FaceId;

/// The face a command names: FaceId 0 or absent means the requester.
pub(crate) fn target_face(face_id: Option<u64>, requester: FaceId) -> FaceId {
    match face_id {
        None | Some(0) => requester,
        Some(f) => FaceId(f),
    }
}

/// `rib/register`: adds or updates the route (Name, FaceId, Origin).
/// Defaults as NFD's: FaceId the requester, Origin app, Cost 0, Flags
/// ChildInherit; the response echoes the complete parameters.
pub fn register(core: &mut Core, cmd: Command, now: Instant) -> ControlResponse {
    let mut p = cmd.params;
    let Some(prefix) = p.name.clone() else {
        return error(status::BAD_PARAMETERS, "Name is required");
    };
    let face = target_face(p.face_id, cmd.requester);
    if face != FaceId::INTERNAL && !core.faces.contains_key(&face) {
        return error(status::GONE, format!("face {face} does not exist"));
    }
    let origin = p.origin.unwrap_or(RouteOrigin::APP);
    let cost = p.cost.unwrap_or(0);
    let flags = p.flags.unwrap_or(ROUTE_FLAG_CHILD_INHERIT);
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
            expires: p
                .expiration_period
                .and_then(|d: Duration| now.checked_add(d)),
        },
    );
    ok(p)
}

/// `rib/unregister`: removes the route (Name, FaceId, Origin); succeeds
/// whether or not it existed, as NFD's.
pub fn unregister(core: &mut Core, cmd: Command) -> ControlResponse {
    let mut p = cmd.params;
    let Some(prefix) = p.name.clone() else {
        return error(status::BAD_PARAMETERS, "Name is required");
    };
    let face = target_face(p.face_id, cmd.requester);
    let origin = p.origin.unwrap_or(RouteOrigin::APP);
    core.mgmt.rib.remove(&mut core.fwd, &prefix, face, origin);
    p.face_id = Some(face.0);
    p.origin = Some(origin);
    ok(p)
}

/// The `rib/list` dataset: one RibEntry per prefix, in name order.
pub fn list(core: &Core, now: Instant) -> Bytes {
    let entries: Vec<RibEntry> = core
        .mgmt
        .rib
        .iter()
        .map(|(name, routes)| RibEntry {
            name: name.clone(),
            routes: routes
                .iter()
                .map(|r| Route {
                    face_id: r.face.0,
                    origin: r.origin,
                    cost: r.cost,
                    flags: r.flags,
                    expiration_period: r.expires.map(|t| t.saturating_duration_since(now)),
                })
                .collect(),
        })
        .collect();
    encode_list(&entries)
}
