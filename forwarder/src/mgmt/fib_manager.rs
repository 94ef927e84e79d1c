//! The FIB manager (NFD's `FibManager`, FibMgmt page): `fib/add-nexthop`,
//! `fib/remove-nexthop` and the `fib/list` dataset, directly on the
//! forwarder's FIB (the RIB rewrites the entries of the prefixes it
//! manages when their routes change, as NFD's RIB does).

use bytes::Bytes;
use picasso_tlv::mgmt::{encode_list, status, ControlResponse, FibEntry, NextHopRecord};

use super::rib_manager::target_face;
use super::{error, ok, Command};
use crate::runtime::Core;
use crate::FaceId;

/// Most components of a FIB prefix (NFD's `FIB_MAX_DEPTH`).
pub const FIB_MAX_DEPTH: usize = 32;

/// `fib/add-nexthop`: FaceId defaults to the requester, Cost to 0; 410 if
/// the face does not exist.
pub fn add_next_hop(core: &mut Core, cmd: Command) -> ControlResponse {
    let mut p = cmd.params;
    let Some(prefix) = p.name.clone() else {
        return error(status::BAD_PARAMETERS, "Name is required");
    };
    if prefix.len() > FIB_MAX_DEPTH {
        return error(
            414,
            format!("Name has more than {FIB_MAX_DEPTH} components"),
        );
    }
    let face = target_face(p.face_id, cmd.requester);
    if face == FaceId::INTERNAL || !core.faces.contains_key(&face) {
        return error(status::GONE, format!("face {face} does not exist"));
    }
    let cost = p.cost.unwrap_or(0);
    core.fwd.fib.add_next_hop(&prefix, face, cost);
    p.face_id = Some(face.0);
    p.cost = Some(cost);
    ok(p)
}

/// `fib/remove-nexthop`: succeeds whether or not the next hop existed.
pub fn remove_next_hop(core: &mut Core, cmd: Command) -> ControlResponse {
    let mut p = cmd.params;
    let Some(prefix) = p.name.clone() else {
        return error(status::BAD_PARAMETERS, "Name is required");
    };
    let face = target_face(p.face_id, cmd.requester);
    core.fwd.fib.remove_next_hop(&prefix, face);
    p.face_id = Some(face.0);
    ok(p)
}

/// The `fib/list` dataset: every FIB entry with its next hops, in name order.
pub fn list(core: &Core) -> Bytes {
    let mut entries: Vec<FibEntry> = core
        .fwd
        .fib
        .iter()
        .filter(|e| !e.next_hops.is_empty())
        .map(|e| FibEntry {
            name: e.prefix.clone(),
            next_hops: e
                .next_hops
                .iter()
                .map(|h| NextHopRecord {
                    face_id: h.face.0,
                    cost: h.cost,
                })
                .collect(),
        })
        .collect();
    entries.sort_by(|a, b| a.name.canonical_cmp(&b.name));
    encode_list(&entries)
}
