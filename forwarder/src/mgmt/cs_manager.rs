//! The content store manager (NFD's `CsManager`, CsMgmt page): `cs/config`
//! (capacity, admit/serve flags with a mask), `cs/erase` and the `cs/info`
//! dataset.

use std::time::Instant;

use bytes::Bytes;
use picasso_tlv::mgmt::{
    status, ControlParameters, ControlResponse, CsInfo, MgmtTlv, CS_FLAG_ENABLE_ADMIT,
    CS_FLAG_ENABLE_SERVE,
};

use super::{error, ok, Command};
use crate::runtime::Core;
use crate::table::CsLimits;

/// Most entries one `cs/erase` removes when Count is absent (NFD's limit).
pub const ERASE_LIMIT: u64 = 256;

fn cs_flags(core: &Core) -> u64 {
    let cs = &core.fwd.cs;
    (if cs.admit { CS_FLAG_ENABLE_ADMIT } else { 0 })
        | (if cs.serve { CS_FLAG_ENABLE_SERVE } else { 0 })
}

/// `cs/config`: sets the capacity (entries) and the admit/serve flags that
/// Mask selects; Flags and Mask go together. The response carries the
/// resulting Capacity and Flags.
pub fn config(core: &mut Core, cmd: Command) -> ControlResponse {
    let p = cmd.params;
    if p.flags.is_some() != p.mask.is_some() {
        return error(
            status::BAD_PARAMETERS,
            "Flags and Mask must be given together",
        );
    }
    if let Some(c) = p.capacity {
        let max_entries = usize::try_from(c).unwrap_or(usize::MAX);
        let limits = core.fwd.cs.limits();
        core.fwd.cs.set_limits(CsLimits {
            max_entries,
            ..limits
        });
    }
    if let (Some(flags), Some(mask)) = (p.flags, p.mask) {
        if mask & CS_FLAG_ENABLE_ADMIT != 0 {
            core.fwd.cs.admit = flags & CS_FLAG_ENABLE_ADMIT != 0;
        }
        if mask & CS_FLAG_ENABLE_SERVE != 0 {
            core.fwd.cs.serve = flags & CS_FLAG_ENABLE_SERVE != 0;
        }
    }
    ok(ControlParameters {
        capacity: Some(core.fwd.cs.limits().max_entries as u64),
        flags: Some(cs_flags(core)),
        ..ControlParameters::default()
    })
}

/// `cs/erase`: removes up to Count (default and most [`ERASE_LIMIT`])
/// entries under Name; the response carries Name, Count erased and, when
/// the limit stopped it, Capacity = the limit.
pub fn erase(core: &mut Core, cmd: Command, _now: Instant) -> ControlResponse {
    let p = cmd.params;
    let Some(prefix) = p.name.clone() else {
        return error(status::BAD_PARAMETERS, "Name is required");
    };
    if p.count == Some(0) {
        return error(status::BAD_PARAMETERS, "Count must be positive");
    }
    let limit = p.count.unwrap_or(ERASE_LIMIT).min(ERASE_LIMIT);
    let n = core
        .fwd
        .cs
        .erase(&prefix, usize::try_from(limit).unwrap_or(usize::MAX)) as u64;
    ok(ControlParameters {
        name: Some(prefix),
        count: Some(n),
        capacity: (n == limit && p.count.is_none_or(|c| c > limit)).then_some(limit),
        ..ControlParameters::default()
    })
}

/// The `cs/info` dataset: one CsInfo.
pub fn info(core: &Core) -> Bytes {
    let cs = &core.fwd.cs;
    CsInfo {
        capacity: cs.limits().max_entries as u64,
        flags: cs_flags(core),
        n_entries: cs.len() as u64,
        n_hits: cs.hits,
        n_misses: cs.misses,
    }
    .encode()
}
