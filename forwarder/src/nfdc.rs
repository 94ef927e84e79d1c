//! The client side of NFD management (what `nfdc` does): typed status
//! datasets and commands over an [`app::Client`](crate::app::Client), for
//! the `picasso faces|routes|fib|strategy|cs|status` commands and for
//! programs that manage a forwarder (ours or NFD).

use picasso_tlv::mgmt::{
    decode_list, ControlParameters, CsInfo, FacePersistency, FaceStatus, FibEntry, ForwarderStatus,
    MgmtTlv, RibEntry, RouteOrigin, StrategyChoice,
};
use picasso_tlv::{DecodeError, Name};

use crate::app::{local_nfd, Client, ExpressError, RegisterError};

/// Why a management query failed.
#[derive(Debug, thiserror::Error)]
pub enum NfdcError {
    /// The dataset could not be fetched.
    #[error("cannot fetch {dataset}: {source}")]
    Fetch {
        /// Which dataset.
        dataset: &'static str,
        /// Why.
        source: ExpressError,
    },
    /// The dataset did not decode.
    #[error("malformed {dataset}: {source}")]
    Malformed {
        /// Which dataset.
        dataset: &'static str,
        /// Why.
        source: DecodeError,
    },
    /// The command failed or was refused.
    #[error(transparent)]
    Command(#[from] RegisterError),
}

async fn fetch(c: &Client, dataset: &'static str) -> Result<bytes::Bytes, NfdcError> {
    let mut name = local_nfd();
    for part in dataset.split('/') {
        name = name.append_str(part);
    }
    c.dataset(&name)
        .await
        .map_err(|source| NfdcError::Fetch { dataset, source })
}

async fn list<T: MgmtTlv>(c: &Client, dataset: &'static str) -> Result<Vec<T>, NfdcError> {
    decode_list(fetch(c, dataset).await?).map_err(|source| NfdcError::Malformed { dataset, source })
}

/// `faces/list`.
pub async fn faces(c: &Client) -> Result<Vec<FaceStatus>, NfdcError> {
    list(c, "faces/list").await
}

/// `rib/list`.
pub async fn routes(c: &Client) -> Result<Vec<RibEntry>, NfdcError> {
    list(c, "rib/list").await
}

/// `fib/list`.
pub async fn fib(c: &Client) -> Result<Vec<FibEntry>, NfdcError> {
    list(c, "fib/list").await
}

/// `strategy-choice/list`.
pub async fn strategies(c: &Client) -> Result<Vec<StrategyChoice>, NfdcError> {
    list(c, "strategy-choice/list").await
}

/// `cs/info`.
pub async fn cs_info(c: &Client) -> Result<CsInfo, NfdcError> {
    CsInfo::decode(fetch(c, "cs/info").await?).map_err(|source| NfdcError::Malformed {
        dataset: "cs/info",
        source,
    })
}

/// `status/general`.
pub async fn status(c: &Client) -> Result<ForwarderStatus, NfdcError> {
    ForwarderStatus::decode(fetch(c, "status/general").await?).map_err(|source| {
        NfdcError::Malformed {
            dataset: "status/general",
            source,
        }
    })
}

/// The router's status ([`crate::routing::status_dataset`], JSON), or
/// `None` when no router answers (routing off, or another forwarder).
pub async fn routing(c: &Client) -> Result<Option<serde_json::Value>, NfdcError> {
    let interest = picasso_tlv::Interest::new(crate::routing::status_dataset())
        .with_must_be_fresh(true)
        .with_lifetime_ms(1000);
    let d = match c.express(interest).await {
        Ok(d) => d,
        Err(e) => {
            tracing::debug!(error = %e, "no routing status");
            return Ok(None);
        }
    };
    serde_json::from_slice(&d.content())
        .map(Some)
        .map_err(|_| NfdcError::Malformed {
            dataset: "routing/list",
            source: DecodeError::Invalid {
                field: "Content",
                reason: "not JSON",
            },
        })
}

async fn command(
    c: &Client,
    module: &str,
    verb: &str,
    p: ControlParameters,
) -> Result<ControlParameters, NfdcError> {
    let r = c.command(module, verb, &p).await?;
    Ok(r.parameters().cloned().unwrap_or_default())
}

/// `rib/register` of a static route (as `nfdc route add`).
pub async fn route_add(
    c: &Client,
    prefix: Name,
    face: u64,
    cost: u64,
) -> Result<ControlParameters, NfdcError> {
    let p = ControlParameters {
        name: Some(prefix),
        face_id: Some(face),
        cost: Some(cost),
        origin: Some(RouteOrigin::STATIC),
        ..ControlParameters::default()
    };
    command(c, "rib", "register", p).await
}

/// `rib/unregister` of a static route (as `nfdc route remove`).
pub async fn route_remove(
    c: &Client,
    prefix: Name,
    face: u64,
) -> Result<ControlParameters, NfdcError> {
    let p = ControlParameters {
        name: Some(prefix),
        face_id: Some(face),
        origin: Some(RouteOrigin::STATIC),
        ..ControlParameters::default()
    };
    command(c, "rib", "unregister", p).await
}

/// `strategy-choice/set`.
pub async fn strategy_set(
    c: &Client,
    prefix: Name,
    strategy: Name,
) -> Result<ControlParameters, NfdcError> {
    let p = ControlParameters {
        name: Some(prefix),
        strategy: Some(strategy),
        ..ControlParameters::default()
    };
    command(c, "strategy-choice", "set", p).await
}

/// `strategy-choice/unset`.
pub async fn strategy_unset(c: &Client, prefix: Name) -> Result<ControlParameters, NfdcError> {
    let p = ControlParameters {
        name: Some(prefix),
        ..ControlParameters::default()
    };
    command(c, "strategy-choice", "unset", p).await
}

/// `faces/create`.
pub async fn face_create(
    c: &Client,
    uri: &str,
    persistency: FacePersistency,
) -> Result<ControlParameters, NfdcError> {
    let p = ControlParameters {
        uri: Some(uri.to_string()),
        face_persistency: Some(persistency),
        ..ControlParameters::default()
    };
    command(c, "faces", "create", p).await
}

/// `faces/destroy`.
pub async fn face_destroy(c: &Client, face: u64) -> Result<ControlParameters, NfdcError> {
    let p = ControlParameters {
        face_id: Some(face),
        ..ControlParameters::default()
    };
    command(c, "faces", "destroy", p).await
}
