//! NFD-compatible management (NFD's `daemon/mgmt` and `rib/`), reached as
//! the internal face under `/localhost/nfd` (and `/localhop/nfd` from
//! non-local faces when enabled), so NDN applications written for NFD —
//! python-ndn, ndn-cxx tools — work unchanged.
//!
//! A command is an Interest `/localhost/nfd/<module>/<verb>/<ControlParameters>`
//! followed either by a ParametersSha256DigestComponent (v0.3 signed
//! Interest) or by four signature components (the older command-Interest
//! form); the reply is a Data whose content is a ControlResponse. A status
//! dataset is an Interest for `/localhost/nfd/<module>/<dataset>` (with
//! CanBePrefix); the reply is its first segment `…/v=<version>/seg=0` and
//! the other segments are kept in [`dataset::DatasetStore`] for the exact
//! Interests that follow.
//!
//! This module owns parsing, authorisation (who may command, replay
//! protection) and dispatching; each manager owns its module's verbs and
//! datasets:
//!
//! ```text
//!  Interest ─► dispatch ─┬─ dataset? ─► <manager>::list ─► DatasetStore::publish ─► seg 0
//!                        │              (later segments: DatasetStore::find)
//!                        └─ command ─► parse (both forms) ─► authorise ─► validate fields
//!                                       ─► face_manager / fib_manager / rib_manager /
//!                                          strategy_choice_manager / cs_manager
//!                                       ─► ControlResponse (now, or later for faces/create)
//! ```

pub mod cs_manager;
pub mod dataset;
pub mod face_manager;
pub mod fib_manager;
pub mod forwarder_status_manager;
pub mod rib;
pub mod rib_manager;
pub mod strategy_choice_manager;

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use picasso_tlv::mgmt::{status, ControlParameters, ControlResponse, MgmtTlv};
use picasso_tlv::signature::signature_type;
use picasso_tlv::types::{GENERIC_COMPONENT, PARAMETERS_SHA256_DIGEST_COMPONENT};
use picasso_tlv::{Data, Interest, KeyLocator, Name, SignatureInfo, Signer, Verifier};

use crate::face::udp::UdpChannel;
use crate::fw::Forwarder;
use crate::runtime::Core;
use crate::table::PitKey;
use crate::FaceId;

/// How far a command's SignatureTime may be from our clock (NFD: ±60 s).
pub const TIMESTAMP_GRACE_MS: u64 = 60_000;
/// How many recent SignatureNonces are remembered against replay.
pub const NONCE_MEMORY: usize = 4096;
/// How many keys' last SignatureTime are remembered.
pub const KEY_MEMORY: usize = 1024;

/// Management settings (the daemon's `Management` configuration section).
#[derive(Debug, Clone, Default)]
pub struct MgmtConfig {
    /// Serve `/localhop/nfd` to non-local faces (NFD's `localhop_security`);
    /// off by default.
    pub localhop: bool,
    /// Keys whose signed commands are accepted from non-local faces, by
    /// key name (a KeyLocator name under a key name matches it).
    pub trusted: Vec<(Name, Verifier)>,
}

/// Management state.
#[derive(Debug, Default)]
pub struct Management {
    /// The RIB.
    pub rib: rib::Rib,
    /// Settings.
    config: MgmtConfig,
    /// Replay protection for signed commands.
    replay: ReplayGuard,
    /// Published dataset segments.
    pub datasets: dataset::DatasetStore,
    /// UDP channels faces/create may use (the daemon registers them when it
    /// binds them).
    pub udp_channels: Vec<UdpChannel>,
    /// Face flags (`FACE_FLAG_*`) set by faces/create and faces/update.
    pub face_flags: HashMap<FaceId, u64>,
}

impl Management {
    /// Fresh state with the default settings (`/localhop/nfd` disabled).
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes `/localhost/nfd` (and `/localhop/nfd` when enabled) to the
    /// internal face.
    pub fn install(&mut self, fwd: &mut Forwarder) {
        if let Ok(p) = Name::from_uri("/localhost/nfd") {
            fwd.fib.add_next_hop(&p, FaceId::INTERNAL, 0);
        }
        if let Ok(p) = Name::from_uri("/localhop/nfd") {
            if self.config.localhop {
                fwd.fib.add_next_hop(&p, FaceId::INTERNAL, 0);
            } else {
                fwd.fib.remove_next_hop(&p, FaceId::INTERNAL);
            }
        }
    }

    /// Replaces the settings and updates the `/localhop/nfd` route.
    pub fn configure(&mut self, fwd: &mut Forwarder, config: MgmtConfig) {
        self.config = config;
        self.install(fwd);
    }

    /// The settings.
    pub fn config(&self) -> &MgmtConfig {
        &self.config
    }

    /// Timers: route expiry, dataset segment expiry.
    pub fn on_tick(&mut self, fwd: &mut Forwarder, now: Instant) {
        self.rib.expire(fwd, now);
        self.datasets.expire(now);
    }

    /// Forgets a face's management state (its flags).
    pub fn on_face_removed(&mut self, face: FaceId) {
        self.face_flags.remove(&face);
    }
}

/// A parsed, authorised management command.
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
    /// The command Interest's full name (the reply's name).
    pub interest_name: Name,
}

/// What a manager answers a command with.
#[derive(Debug)]
pub enum Reply {
    /// The response, now.
    Now(ControlResponse),
    /// The manager answers later (through [`Core::answer_management`]).
    Later,
}

impl From<ControlResponse> for Reply {
    fn from(r: ControlResponse) -> Self {
        Reply::Now(r)
    }
}

/// A ControlResponse with no body.
pub(crate) fn error(code: u64, text: impl Into<String>) -> ControlResponse {
    ControlResponse::new(code, text)
}

/// A 200 response echoing `params`.
pub(crate) fn ok(params: ControlParameters) -> ControlResponse {
    ControlResponse::with_parameters(status::OK, "OK", params)
}

fn generic_str(name: &Name, i: usize) -> Option<String> {
    let c = name.get(i)?;
    (c.typ() == GENERIC_COMPONENT).then(|| String::from_utf8_lossy(c.value()).into_owned())
}

/// Whether management is reached under `/localhost/nfd` or `/localhop/nfd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Localhost,
    Localhop,
}

/// The status datasets, by (module, dataset).
fn dataset_content(core: &Core, module: &str, dataset: &str, now: Instant) -> Option<Bytes> {
    Some(match (module, dataset) {
        ("faces", "list") => face_manager::list(core),
        ("fib", "list") => fib_manager::list(core),
        ("rib", "list") => rib_manager::list(core, now),
        ("strategy-choice", "list") => strategy_choice_manager::list(core),
        ("cs", "info") => cs_manager::info(core),
        ("status", "general") => forwarder_status_manager::general(core),
        _ => return None,
    })
}

/// Answers a management Interest that reached the internal face: a status
/// dataset segment, a ControlResponse, or nothing (`None`: not management,
/// or the reply comes later).
pub fn dispatch(core: &mut Core, interest: &Interest, now: Instant) -> Option<Data> {
    let name = interest.name();
    let scope = match generic_str(name, 0)?.as_str() {
        "localhost" => Scope::Localhost,
        "localhop" if core.mgmt.config.localhop => Scope::Localhop,
        _ => return None,
    };
    if generic_str(name, 1)? != "nfd" {
        return None;
    }
    let module = generic_str(name, 2)?;
    let verb = generic_str(name, 3)?;
    // Who asked: the downstream of the PIT entry.
    let requester = core
        .fwd
        .pit
        .get(&PitKey::of(interest))
        .and_then(|e| e.in_records.first().map(|r| r.face))
        .unwrap_or(FaceId::INVALID);
    let local = requester == FaceId::INTERNAL
        || core
            .faces
            .get(&requester)
            .is_some_and(|s| s.meta.is_local());
    if scope == Scope::Localhost && !local {
        // `/localhost` never comes from outside; the pipelines drop it
        // before, this is the last line.
        return None;
    }

    // Datasets (local only: NFD's `/localhop` serves commands alone).
    if scope == Scope::Localhost {
        if let Some(seg) = core.mgmt.datasets.find(name, now) {
            return Some(seg);
        }
        if name.len() == 4 {
            if let Some(content) = dataset_content(core, &module, &verb, now) {
                return Some(core.mgmt.datasets.publish(name, content, now));
            }
        }
        if name.len() == 5 && module == "faces" && verb == "query" {
            let filter = name
                .get(4)
                .filter(|c| c.typ() == GENERIC_COMPONENT)
                .and_then(|c| face_manager::FaceQueryFilter::decode(c.value().clone()));
            return Some(match filter {
                Some(f) => {
                    let content = face_manager::query(core, &f);
                    core.mgmt.datasets.publish(name, content, now)
                }
                None => respond(
                    name,
                    error(status::BAD_PARAMETERS, "malformed FaceQueryFilter"),
                ),
            });
        }
    }

    let cmd = match parse_command(core, interest, &module, &verb, requester, local) {
        Ok(c) => c,
        Err(resp) => return Some(respond(interest.name(), resp)),
    };
    match run(core, cmd, now) {
        Reply::Now(resp) => Some(respond(interest.name(), resp)),
        Reply::Later => None,
    }
}

fn run(core: &mut Core, cmd: Command, now: Instant) -> Reply {
    let spec = match command_spec(&cmd.module, &cmd.verb) {
        Some(s) => s,
        None => {
            return error(
                status::NOT_IMPLEMENTED,
                format!("unsupported command {}/{}", cmd.module, cmd.verb),
            )
            .into()
        }
    };
    if let Err(resp) = validate(&cmd.params, spec.0, spec.1) {
        return resp.into();
    }
    match (cmd.module.as_str(), cmd.verb.as_str()) {
        ("faces", "create") => face_manager::create(core, cmd),
        ("faces", "update") => face_manager::update(core, cmd).into(),
        ("faces", "destroy") => face_manager::destroy(core, cmd).into(),
        ("fib", "add-nexthop") => fib_manager::add_next_hop(core, cmd).into(),
        ("fib", "remove-nexthop") => fib_manager::remove_next_hop(core, cmd).into(),
        ("rib", "register") => rib_manager::register(core, cmd, now).into(),
        ("rib", "unregister") => rib_manager::unregister(core, cmd).into(),
        ("strategy-choice", "set") => strategy_choice_manager::set(core, cmd).into(),
        ("strategy-choice", "unset") => strategy_choice_manager::unset(core, cmd).into(),
        ("cs", "config") => cs_manager::config(core, cmd).into(),
        ("cs", "erase") => cs_manager::erase(core, cmd, now).into(),
        _ => error(
            status::NOT_IMPLEMENTED,
            format!("unsupported command {}/{}", cmd.module, cmd.verb),
        )
        .into(),
    }
}

/// Wraps a ControlResponse in a Data named `name` (the command Interest's name).
pub fn respond(name: &Name, response: ControlResponse) -> Data {
    let mut d = Data::new(name.clone()).with_content(response.encode());
    d.sign(&Signer::DigestSha256);
    d
}

/// The ControlResponse carried by a management reply (for clients and tests).
pub fn parse_response(data: &Data) -> Option<ControlResponse> {
    ControlResponse::decode(Bytes::clone(&data.content())).ok()
}

// ---------------------------------------------------------------------------
// ControlParameters fields each command requires and allows (NFD's
// ControlCommand descriptions).

/// ControlParameters fields as bits, for per-verb validation.
pub mod field {
    /// Name.
    pub const NAME: u32 = 1 << 0;
    /// FaceId.
    pub const FACE_ID: u32 = 1 << 1;
    /// Uri.
    pub const URI: u32 = 1 << 2;
    /// LocalUri.
    pub const LOCAL_URI: u32 = 1 << 3;
    /// Origin.
    pub const ORIGIN: u32 = 1 << 4;
    /// Cost.
    pub const COST: u32 = 1 << 5;
    /// Capacity.
    pub const CAPACITY: u32 = 1 << 6;
    /// Count.
    pub const COUNT: u32 = 1 << 7;
    /// Flags.
    pub const FLAGS: u32 = 1 << 8;
    /// Mask.
    pub const MASK: u32 = 1 << 9;
    /// Strategy.
    pub const STRATEGY: u32 = 1 << 10;
    /// ExpirationPeriod.
    pub const EXPIRATION_PERIOD: u32 = 1 << 11;
    /// FacePersistency.
    pub const FACE_PERSISTENCY: u32 = 1 << 12;
    /// BaseCongestionMarkingInterval.
    pub const BASE_CONGESTION_MARKING_INTERVAL: u32 = 1 << 13;
    /// DefaultCongestionThreshold.
    pub const DEFAULT_CONGESTION_THRESHOLD: u32 = 1 << 14;
    /// Mtu.
    pub const MTU: u32 = 1 << 15;
}

/// (required, optional) fields of each command.
fn command_spec(module: &str, verb: &str) -> Option<(u32, u32)> {
    use field::*;
    let face_options = FACE_PERSISTENCY
        | BASE_CONGESTION_MARKING_INTERVAL
        | DEFAULT_CONGESTION_THRESHOLD
        | MTU
        | FLAGS
        | MASK;
    Some(match (module, verb) {
        ("faces", "create") => (URI, LOCAL_URI | face_options),
        ("faces", "update") => (0, FACE_ID | face_options),
        ("faces", "destroy") => (FACE_ID, 0),
        ("fib", "add-nexthop") => (NAME, FACE_ID | COST),
        ("fib", "remove-nexthop") => (NAME, FACE_ID),
        ("rib", "register") => (NAME, FACE_ID | ORIGIN | COST | FLAGS | EXPIRATION_PERIOD),
        ("rib", "unregister") => (NAME, FACE_ID | ORIGIN),
        ("strategy-choice", "set") => (NAME | STRATEGY, 0),
        ("strategy-choice", "unset") => (NAME, 0),
        ("cs", "config") => (0, CAPACITY | FLAGS | MASK),
        ("cs", "erase") => (NAME, COUNT),
        _ => return None,
    })
}

/// The fields present in `p`, with their NFD names.
fn present_fields(p: &ControlParameters) -> Vec<(u32, &'static str)> {
    use field::*;
    let all = [
        (p.name.is_some(), NAME, "Name"),
        (p.face_id.is_some(), FACE_ID, "FaceId"),
        (p.uri.is_some(), URI, "Uri"),
        (p.local_uri.is_some(), LOCAL_URI, "LocalUri"),
        (p.origin.is_some(), ORIGIN, "Origin"),
        (p.cost.is_some(), COST, "Cost"),
        (p.capacity.is_some(), CAPACITY, "Capacity"),
        (p.count.is_some(), COUNT, "Count"),
        (p.flags.is_some(), FLAGS, "Flags"),
        (p.mask.is_some(), MASK, "Mask"),
        (p.strategy.is_some(), STRATEGY, "Strategy"),
        (
            p.expiration_period.is_some(),
            EXPIRATION_PERIOD,
            "ExpirationPeriod",
        ),
        (
            p.face_persistency.is_some(),
            FACE_PERSISTENCY,
            "FacePersistency",
        ),
        (
            p.base_congestion_marking_interval.is_some(),
            BASE_CONGESTION_MARKING_INTERVAL,
            "BaseCongestionMarkingInterval",
        ),
        (
            p.default_congestion_threshold.is_some(),
            DEFAULT_CONGESTION_THRESHOLD,
            "DefaultCongestionThreshold",
        ),
        (p.mtu.is_some(), MTU, "Mtu"),
    ];
    all.into_iter()
        .filter(|(on, _, _)| *on)
        .map(|(_, bit, name)| (bit, name))
        .collect()
}

fn field_name(bit: u32) -> &'static str {
    use field::*;
    match bit {
        NAME => "Name",
        FACE_ID => "FaceId",
        URI => "Uri",
        LOCAL_URI => "LocalUri",
        ORIGIN => "Origin",
        COST => "Cost",
        CAPACITY => "Capacity",
        COUNT => "Count",
        FLAGS => "Flags",
        MASK => "Mask",
        STRATEGY => "Strategy",
        EXPIRATION_PERIOD => "ExpirationPeriod",
        FACE_PERSISTENCY => "FacePersistency",
        BASE_CONGESTION_MARKING_INTERVAL => "BaseCongestionMarkingInterval",
        DEFAULT_CONGESTION_THRESHOLD => "DefaultCongestionThreshold",
        _ => "Mtu",
    }
}

/// Checks that every required field is present and nothing else but the
/// optional ones is (400 naming the field otherwise).
pub fn validate(
    p: &ControlParameters,
    required: u32,
    optional: u32,
) -> Result<(), ControlResponse> {
    let present = present_fields(p);
    let have: u32 = present.iter().fold(0, |a, (b, _)| a | b);
    for bit in (0..16).map(|i| 1u32 << i) {
        if required & bit != 0 && have & bit == 0 {
            return Err(error(
                status::BAD_PARAMETERS,
                format!("{} is required", field_name(bit)),
            ));
        }
    }
    for (bit, name) in present {
        if (required | optional) & bit == 0 {
            return Err(error(
                status::BAD_PARAMETERS,
                format!("{name} is not allowed in this command"),
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Command parsing and authorisation.

/// The signature of a command, from either form.
struct CommandSig {
    info: SignatureInfo,
    /// SignatureTime (v0.3) or the timestamp component (older form), ms.
    time: Option<u64>,
    /// SignatureNonce (v0.3) or the nonce component (older form).
    nonce: Option<Bytes>,
}

fn unauthorized(text: impl Into<String>) -> ControlResponse {
    error(status::UNAUTHORIZED, text)
}

fn parse_command(
    core: &mut Core,
    interest: &Interest,
    module: &str,
    verb: &str,
    requester: FaceId,
    local: bool,
) -> Result<Command, ControlResponse> {
    let name = interest.name();
    let v03 = name
        .last()
        .is_some_and(|c| c.typ() == PARAMETERS_SHA256_DIGEST_COMPONENT);
    // Where the ControlParameters component is and what signs the command.
    let (params_at, prefix_len, sig, verify): (usize, usize, CommandSig, VerifyFn) = if v03 {
        let (Some(info), Some(_)) = (interest.signature_info(), interest.signature_value()) else {
            return Err(unauthorized("command is not signed"));
        };
        let sig = CommandSig {
            info: info.clone(),
            time: info.time,
            nonce: info.nonce.clone(),
        };
        (4, name.len() - 1, sig, VerifyFn::V03)
    } else if let Some(cs) = interest.command_signature() {
        let sig = CommandSig {
            info: cs.info.clone(),
            time: Some(cs.timestamp_ms),
            nonce: Some(cs.nonce.clone()),
        };
        (4, cs.prefix_len, sig, VerifyFn::Old(Box::new(cs)))
    } else {
        return Err(unauthorized("command is not signed"));
    };
    let params = match prefix_len {
        4 => ControlParameters::default(),
        5 => match name.get(params_at) {
            Some(c) if c.typ() == GENERIC_COMPONENT => ControlParameters::decode(c.value().clone())
                .map_err(|e| {
                    error(
                        status::BAD_PARAMETERS,
                        format!("malformed ControlParameters: {e}"),
                    )
                })?,
            _ => {
                return Err(error(
                    status::BAD_PARAMETERS,
                    "malformed ControlParameters: not a generic component",
                ))
            }
        },
        n => {
            return Err(error(
                status::BAD_PARAMETERS,
                format!("command name has {n} components before its signature; expected 4 or 5"),
            ))
        }
    };
    authorise(&mut core.mgmt, &sig, &verify, interest, local)?;
    Ok(Command {
        module: module.to_string(),
        verb: verb.to_string(),
        params,
        requester,
        interest_name: name.clone(),
    })
}

/// Which signed portion a command's signature covers.
enum VerifyFn {
    V03,
    Old(Box<picasso_tlv::interest::CommandSignature>),
}

impl VerifyFn {
    fn verify(&self, interest: &Interest, verifier: &Verifier) -> bool {
        match self {
            VerifyFn::V03 => interest.verify(verifier).is_ok(),
            VerifyFn::Old(cs) => cs.verify(verifier).is_ok(),
        }
    }
}

fn key_name(info: &SignatureInfo) -> Option<&Name> {
    match &info.key_locator {
        Some(KeyLocator::Name(n)) => Some(n),
        _ => None,
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Decides whether a signed command is accepted. Local faces are trusted
/// (NFD's default `localhost` policy accepts any signed command: a
/// DigestSha256 or trusted-key signature is checked, any other is
/// accepted as is); non-local faces must sign with a trusted key, with a
/// SignatureTime within ±60 s, increasing per key, and a fresh nonce.
fn authorise(
    mgmt: &mut Management,
    sig: &CommandSig,
    verify: &VerifyFn,
    interest: &Interest,
    local: bool,
) -> Result<(), ControlResponse> {
    let key = key_name(&sig.info);
    let trusted = key.and_then(|k| {
        mgmt.config
            .trusted
            .iter()
            .find(|(n, v)| n.is_prefix_of(k) && v.signature_type() == sig.info.signature_type)
            .map(|(_, v)| v.clone())
    });
    if local {
        if sig.info.signature_type == signature_type::DIGEST_SHA256
            && !verify.verify(interest, &Verifier::DigestSha256)
        {
            return Err(unauthorized("DigestSha256 does not verify"));
        }
        if let Some(v) = &trusted {
            if !verify.verify(interest, v) {
                return Err(unauthorized("signature does not verify"));
            }
        }
        // Replay checks where the command carries what they need.
        if let Some(t) = sig.time {
            mgmt.replay
                .check(key, t, sig.nonce.as_ref(), now_ms())
                .map_err(unauthorized)?;
        }
        return Ok(());
    }
    let Some(v) = trusted else {
        return Err(unauthorized(match key {
            Some(k) => format!("key {k} is not trusted"),
            None => "command is not signed by a trusted key".to_string(),
        }));
    };
    if !verify.verify(interest, &v) {
        return Err(unauthorized("signature does not verify"));
    }
    let Some(t) = sig.time else {
        return Err(unauthorized("SignatureTime is required"));
    };
    if sig.nonce.is_none() {
        return Err(unauthorized("SignatureNonce is required"));
    }
    mgmt.replay
        .check(key, t, sig.nonce.as_ref(), now_ms())
        .map_err(unauthorized)
}

/// Replay protection: SignatureTime windows per key and a bounded memory
/// of recent SignatureNonces.
#[derive(Debug, Default)]
struct ReplayGuard {
    /// Last accepted SignatureTime per key name.
    last_time: HashMap<Name, u64>,
    /// Recent nonces, oldest first, and the same as a set.
    nonce_order: VecDeque<Bytes>,
    nonces: HashSet<Bytes>,
}

impl ReplayGuard {
    /// Accepts (and records) or refuses a command's time and nonce.
    fn check(
        &mut self,
        key: Option<&Name>,
        time: u64,
        nonce: Option<&Bytes>,
        now: u64,
    ) -> Result<(), String> {
        if time.abs_diff(now) > TIMESTAMP_GRACE_MS {
            return Err(format!(
                "SignatureTime {time} is more than {TIMESTAMP_GRACE_MS} ms from now"
            ));
        }
        if let Some(k) = key {
            if let Some(&last) = self.last_time.get(k) {
                if time <= last {
                    return Err(format!(
                        "SignatureTime {time} is not after the last one of key {k} ({last})"
                    ));
                }
            }
        }
        if let Some(n) = nonce {
            if self.nonces.contains(n) {
                return Err("SignatureNonce was seen recently (replay)".to_string());
            }
        }
        if let Some(k) = key {
            if self.last_time.len() >= KEY_MEMORY && !self.last_time.contains_key(k) {
                // Forget the key heard from longest ago.
                if let Some(oldest) = self
                    .last_time
                    .iter()
                    .min_by_key(|(_, t)| **t)
                    .map(|(k, _)| k.clone())
                {
                    self.last_time.remove(&oldest);
                }
            }
            self.last_time.insert(k.clone(), time);
        }
        if let Some(n) = nonce {
            if self.nonce_order.len() >= NONCE_MEMORY {
                if let Some(old) = self.nonce_order.pop_front() {
                    self.nonces.remove(&old);
                }
            }
            self.nonce_order.push_back(n.clone());
            self.nonces.insert(n.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_uri(s).unwrap()
    }

    #[test]
    fn replay_guard_windows_and_nonces() {
        let mut g = ReplayGuard::default();
        let k = n("/op/KEY/1");
        let now = 1_000_000_000;
        let nonce = |b: u8| Bytes::from(vec![b; 8]);
        assert!(g.check(Some(&k), now, Some(&nonce(1)), now).is_ok());
        // Same time again: not increasing.
        assert!(g.check(Some(&k), now, Some(&nonce(2)), now).is_err());
        // Replayed nonce.
        assert!(g.check(Some(&k), now + 1, Some(&nonce(1)), now).is_err());
        // Out of the window.
        assert!(g
            .check(Some(&k), now + 61_000, Some(&nonce(3)), now)
            .is_err());
        assert!(g.check(None, now - 61_000, Some(&nonce(4)), now).is_err());
        assert!(g.check(Some(&k), now + 2, Some(&nonce(5)), now).is_ok());
        // The nonce memory is bounded.
        for i in 0..(NONCE_MEMORY as u64 + 10) {
            let b = Bytes::copy_from_slice(&i.to_be_bytes());
            assert!(g.check(None, now, Some(&b), now).is_ok());
        }
        assert!(g.nonces.len() <= NONCE_MEMORY);
    }

    #[test]
    fn validation_names_the_field() {
        let p = ControlParameters::default();
        let e = validate(&p, field::NAME, 0).unwrap_err();
        assert_eq!(e.status_code, 400);
        assert!(e.status_text.contains("Name"));
        let p = ControlParameters {
            name: Some(n("/a")),
            capacity: Some(3),
            ..Default::default()
        };
        let e = validate(&p, field::NAME, field::COST).unwrap_err();
        assert!(e.status_text.contains("Capacity"), "{}", e.status_text);
        assert!(validate(&p, field::NAME, field::CAPACITY).is_ok());
    }
}
