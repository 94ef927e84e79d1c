//! The strategy-choice manager (NFD's `StrategyChoiceManager`,
//! StrategyChoice page): `strategy-choice/set`, `strategy-choice/unset`
//! and the `strategy-choice/list` dataset.

use bytes::Bytes;
use picasso_tlv::mgmt::{encode_list, status, ControlResponse, StrategyChoice};

use super::{error, ok, Command};
use crate::fw::StrategyError;
use crate::runtime::Core;

/// `strategy-choice/set`: 404 for a strategy (or version) we do not have;
/// the response carries the strategy's full, versioned name.
pub fn set(core: &mut Core, cmd: Command) -> ControlResponse {
    let mut p = cmd.params;
    let (Some(prefix), Some(strategy)) = (p.name.clone(), p.strategy.clone()) else {
        return error(status::BAD_PARAMETERS, "Name and Strategy are required");
    };
    match core.fwd.set_strategy(&prefix, &strategy) {
        Ok(full) => {
            p.strategy = Some(full);
            ok(p)
        }
        Err(StrategyError::Unknown(s)) => {
            error(status::NOT_FOUND, format!("strategy {s} is not supported"))
        }
    }
}

/// `strategy-choice/unset`: the root's choice cannot be removed (400);
/// unsetting a prefix with no choice succeeds.
pub fn unset(core: &mut Core, cmd: Command) -> ControlResponse {
    let p = cmd.params;
    let Some(prefix) = p.name.clone() else {
        return error(status::BAD_PARAMETERS, "Name is required");
    };
    if prefix.is_empty() {
        return error(
            status::BAD_PARAMETERS,
            "the strategy choice of / cannot be unset",
        );
    }
    core.fwd.strategy_choice.unset(&prefix);
    ok(p)
}

/// The `strategy-choice/list` dataset, in name order.
pub fn list(core: &Core) -> Bytes {
    let mut entries: Vec<StrategyChoice> = core
        .fwd
        .strategy_choice
        .iter()
        .map(|(name, strategy)| StrategyChoice {
            name: name.clone(),
            strategy: strategy.clone(),
        })
        .collect();
    entries.sort_by(|a, b| a.name.canonical_cmp(&b.name));
    encode_list(&entries)
}
