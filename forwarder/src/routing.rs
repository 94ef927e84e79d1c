//! Routing between neighbouring nodes: a small distance-vector protocol
//! over NDN that installs routes to the prefixes other nodes serve, so an
//! Interest for a service goes to the closest node hosting it.
//!
//! The router runs beside the forwarder in the same process and talks to it
//! as any application would — through an in-process face ([`Client`]) — plus
//! [`ForwarderHandle::call`] to read the RIB and install routes. It owns the
//! neighbour table and the routing table; it does not own faces (UDP faces
//! come from the node's [`udp::UdpChannel`]) nor forwarding decisions (the
//! strategies choose among the next hops it installs).
//!
//! ```text
//!  neighbour ──hello / update Interests──► forwarder ──in-process face──► Router task
//!                                                                           │ table::compute
//!  local apps ──rib/register──► RIB ◄──── ForwarderHandle::call ────────────┘ (origin NLSR = 128)
//! ```
//!
//! # Protocol
//!
//! Names (all under `/localhop/picasso`, so they never leave one hop: each
//! neighbour's routing prefix is routed only to the face that reaches it,
//! and Interests carry HopLimit 2):
//!
//! | name | carries | answer |
//! |---|---|---|
//! | `/localhop/picasso/hello/<from>/<seq>` | ApplicationParameters: [`Hello`] with the sender's unicast UDP address; sent on the multicast face | a [`Hello`] with the responder's address |
//! | `/localhop/picasso/routing/<to>/hello/<from>/<seq>` | — | a [`Hello`] saying which version of `<from>`'s vector `<to>` holds |
//! | `/localhop/picasso/routing/<to>/update/<from>/<version>` | ApplicationParameters: [`Update`], the full vector for `<to>` | a [`Hello`] (the acknowledgement) |
//! | `/localhop/picasso/probe/<addr>/<from>/<seq>` | ApplicationParameters: [`Hello`] with the sender's unicast UDP address; sent to a neighbour configured by address only | a [`Hello`] with the responder's name and address |
//! | `/localhost/picasso/routing/list` | — (local faces only) | the [`RouterStatus`] as JSON ([`RouterStatus::to_json`]) |
//!
//! All of them are MustBeFresh and their Data carry no FreshnessPeriod, so
//! no content store ever answers one.
//!
//! - **Neighbours** are configured (node name + `udp4://` address, as in
//!   NLSR), configured by address only, or discovered: every hello
//!   interval the router multicasts a hello carrying its name and unicast
//!   address; whoever hears it opens a unicast UDP face to that address and
//!   treats the sender as a neighbour.
//! - **Unnamed neighbours.** For a neighbour configured as `udp4://HOST:PORT`
//!   alone, the router routes `/localhop/picasso/probe/<HOST:PORT>` to that
//!   neighbour's face only and sends a probe under it every hello interval
//!   until one is answered; the answer's [`Hello`] gives the name, and from
//!   then on the neighbour is an ordinary configured one. A probe is
//!   answered by any router, whatever `<addr>` says (it names the
//!   sender's view of the link, not the receiver).
//! - **Unconfigured senders.** When [`RoutingConfig::accept_unknown`] is on
//!   (the default), a probe, hello or update from a node that is not a
//!   neighbour makes it one, reached at the remote address of the UDP face
//!   the Interest arrived on (read from its PIT in-record before the
//!   answer is sent). So configuring a link on one side is enough; the
//!   other side learns it from the first message.
//! - **Liveness and cost.** Every hello interval (default 1 s) the router
//!   sends each neighbour a unicast hello. The smoothed RTT of the answers
//!   (EWMA with α = 1/8, RFC 6298) gives the link cost: **one unit per
//!   millisecond of smoothed RTT, at least 1**, changed only when the RTT
//!   moves by a quarter of the current cost or a full unit (hysteresis, so
//!   jitter does not churn routes). On a LAN this is a hop count. A
//!   neighbour with no answered hello for `dead_multiplier × hello_interval`
//!   (default 3 × 1 s) is lost: its vector is dropped and every route
//!   through it is withdrawn in one RIB update. A discovered or accepted
//!   neighbour silent for 10 dead intervals is forgotten altogether.
//! - **Vectors.** A node advertises the prefixes its local applications
//!   registered under the advertised root (default `/picasso`) at cost 0
//!   and the prefixes it learned at their best path cost, with split
//!   horizon (see [`table`]). Each update carries the full vector for that
//!   neighbour and a per-neighbour version; a change is **pushed at once**
//!   (triggered update), and every hello answer tells the sender which
//!   version the neighbour holds, so a lost or refused update is resent
//!   on the next hello. Paths longer than 16 hops or costlier than
//!   [`table::INFINITE_COST`] are unreachable, which bounds
//!   count-to-infinity.
//! - **Routes** are RIB routes of origin `NLSR` (128), one per (prefix,
//!   next-hop neighbour) with the path cost, flag ChildInherit; a prefix
//!   several nodes serve gets one next hop per feasible neighbour, so the
//!   load-balance strategy can choose among them.
//!
//! Every message is checked; one that does not decode or names the wrong
//! node is counted in [`RouterCounters`] and dropped, as is one from an
//! unknown neighbour that cannot be (or may not be) accepted.
//!
//! Not supported: routing messages are not signed or verified (any
//! neighbour, configured or not, is trusted; at most [`MAX_NEIGHBOURS`]);
//! a neighbour that comes back under the same name from another address is
//! not followed (its hellos are answered, ours still go to the old one); vectors are limited to
//! [`message::MAX_ENTRIES`] prefixes per neighbour; the multicast face is
//! used for discovery only.

pub mod message;
pub mod table;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use picasso_tlv::mgmt::{RouteOrigin, ROUTE_FLAG_CHILD_INHERIT};
use picasso_tlv::{types, Component, Data, Interest, Name, Signer};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::app::{Client, ExpressError};
use crate::face::{in_process, udp};
use crate::mgmt::rib::Route;
use crate::runtime::{ForwarderHandle, Stopped};
use crate::FaceId;
use message::{Entry, Hello, Update};
use table::{NeighbourView, RoutingTable};

/// The RIB origin of every route the router installs (NFD's value for NLSR).
pub const ORIGIN: RouteOrigin = RouteOrigin::NLSR;

/// The default multicast group for discovery (NFD's IPv4 group and port).
pub const DEFAULT_GROUP: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(224, 0, 23, 170), 56363);

/// Most neighbours a router keeps; further discovered or unconfigured
/// nodes are ignored (and counted as unknown).
pub const MAX_NEIGHBOURS: usize = 256;

/// A discovered (or accepted) neighbour silent for this many dead
/// intervals is forgotten; configured ones are kept.
const FORGET_MULTIPLIER: u32 = 10;

/// Highest link cost (one minute of RTT).
const MAX_LINK_COST: u64 = 60_000;

/// HopLimit of routing Interests: leaves this node with 1, so the
/// neighbour accepts it and can forward it no further off-host.
const HOP_LIMIT: u8 = 2;

/// Why a router could not be configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// A node name must be 1–64 printable ASCII octets without `/`.
    #[error("invalid node name {0:?}")]
    InvalidNodeName(String),
    /// A neighbour must be written `[NAME=]udp4://HOST:PORT`.
    #[error("invalid neighbour {0:?}: expected [NAME=]udp4://HOST:PORT")]
    InvalidNeighbour(String),
    /// Configured neighbours need a UDP channel to reach them.
    #[error("neighbours are configured but no UDP channel is given")]
    NoUdpChannel,
}

/// A configured neighbour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighbourConfig {
    /// Its node name; `None`: learned from its answer to a probe.
    pub node: Option<String>,
    /// Its UDP address.
    pub addr: SocketAddr,
}

impl NeighbourConfig {
    /// A neighbour known by name.
    pub fn named(node: impl Into<String>, addr: SocketAddr) -> Self {
        Self {
            node: Some(node.into()),
            addr,
        }
    }

    /// A neighbour known by address only; its name is learned by probing.
    pub fn unnamed(addr: SocketAddr) -> Self {
        Self { node: None, addr }
    }
}

impl std::str::FromStr for NeighbourConfig {
    type Err = RoutingError;

    /// Parses `NAME=udp4://HOST:PORT` or `udp4://HOST:PORT` (HOST an IPv4
    /// address; `udp://` is accepted too).
    fn from_str(s: &str) -> Result<Self, RoutingError> {
        let bad = || RoutingError::InvalidNeighbour(s.to_string());
        let (node, uri) = match s.split_once('=') {
            Some((n, u)) => (Some(n), u),
            None => (None, s),
        };
        let addr = uri
            .strip_prefix("udp4://")
            .or_else(|| uri.strip_prefix("udp://"))
            .ok_or_else(bad)?
            .parse()
            .map_err(|_| bad())?;
        if let Some(node) = node {
            if !message::valid_node_name(node) {
                return Err(RoutingError::InvalidNodeName(node.to_string()));
            }
        }
        Ok(Self {
            node: node.map(str::to_string),
            addr,
        })
    }
}

/// Where to look for neighbours by multicast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MulticastConfig {
    /// Address of the interface to join on (`0.0.0.0`: the default one).
    pub iface: Ipv4Addr,
    /// The group and port.
    pub group: SocketAddrV4,
}

impl Default for MulticastConfig {
    fn default() -> Self {
        Self {
            iface: Ipv4Addr::UNSPECIFIED,
            group: DEFAULT_GROUP,
        }
    }
}

/// Settings of a router.
#[derive(Debug, Clone)]
pub struct RoutingConfig {
    /// This node's name (one name component, e.g. `edge-1`).
    pub node: String,
    /// Time between hellos.
    pub hello_interval: Duration,
    /// A neighbour is lost after this many hello intervals without an answer.
    pub dead_multiplier: u32,
    /// Local prefixes under this root are advertised.
    pub advertised_root: Name,
    /// Configured neighbours.
    pub neighbours: Vec<NeighbourConfig>,
    /// The UDP channel that reaches neighbours (needed for neighbours and discovery).
    pub udp: Option<udp::UdpChannel>,
    /// The address announced to discovered neighbours (default: the channel's address).
    pub announce_addr: Option<SocketAddr>,
    /// Discover neighbours on this multicast group.
    pub multicast: Option<MulticastConfig>,
    /// How often the RIB is checked for local registrations.
    pub rib_poll_interval: Duration,
    /// Take a node that sends us a hello, probe or update without being
    /// configured as a neighbour (reached through the UDP face it came on).
    pub accept_unknown: bool,
}

impl RoutingConfig {
    /// Defaults for `node`: 1 s hellos, dead after 3, root `/picasso`, no neighbours.
    pub fn new(node: impl Into<String>) -> Self {
        Self {
            node: node.into(),
            hello_interval: Duration::from_secs(1),
            dead_multiplier: 3,
            advertised_root: Name::from_uri("/picasso").unwrap_or_default(),
            neighbours: Vec::new(),
            udp: None,
            announce_addr: None,
            multicast: None,
            rib_poll_interval: Duration::from_millis(100),
            accept_unknown: true,
        }
    }

    /// The time without an answered hello after which a neighbour is lost.
    pub fn dead_interval(&self) -> Duration {
        self.hello_interval * self.dead_multiplier.max(1)
    }
}

/// Protocol counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouterCounters {
    /// Unicast hellos sent.
    pub hellos_sent: u64,
    /// Unicast hellos answered.
    pub hellos_answered: u64,
    /// Hellos received (unicast and multicast).
    pub hellos_received: u64,
    /// Updates sent.
    pub updates_sent: u64,
    /// Updates acknowledged.
    pub updates_acked: u64,
    /// Updates received and accepted.
    pub updates_received: u64,
    /// Messages dropped because they did not decode or named the wrong node.
    pub malformed: u64,
    /// Messages from nodes that are not neighbours.
    pub unknown_neighbour: u64,
    /// Times the routing table changed.
    pub table_changes: u64,
    /// Neighbours lost (dead interval passed).
    pub neighbours_lost: u64,
    /// Probes sent to neighbours configured without a name.
    pub probes_sent: u64,
    /// Probes answered (the neighbour's name learned).
    pub probes_answered: u64,
    /// Unconfigured nodes taken as neighbours (see [`RoutingConfig::accept_unknown`];
    /// not counted when the address was configured without a name).
    pub neighbours_adopted: u64,
}

/// A neighbour as the status reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighbourStatus {
    /// Node name.
    pub node: String,
    /// UDP address.
    pub addr: SocketAddr,
    /// Face to it, once created.
    pub face: Option<FaceId>,
    /// Whether it answers hellos.
    pub alive: bool,
    /// Found by multicast (not configured).
    pub discovered: bool,
    /// Smoothed hello RTT.
    pub srtt: Option<Duration>,
    /// Link cost.
    pub link_cost: u64,
    /// Prefixes in its latest vector.
    pub prefixes: usize,
}

/// A snapshot of the router.
#[derive(Debug, Clone)]
pub struct RouterStatus {
    /// This node's name.
    pub node: String,
    /// The multicast face, or why it could not be opened (`None`: not enabled).
    pub multicast: Option<Result<FaceId, String>>,
    /// Prefixes served by local applications.
    pub local: BTreeSet<Name>,
    /// Neighbours by name.
    pub neighbours: Vec<NeighbourStatus>,
    /// Neighbours configured without a name that have not answered a probe yet.
    pub unnamed: Vec<SocketAddr>,
    /// The routing table.
    pub table: RoutingTable,
    /// Counters.
    pub counters: RouterCounters,
}

impl RouterStatus {
    /// The status as JSON (the content of the [`status_dataset`]).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let c = &self.counters;
        json!({
            "node": self.node,
            "multicast": match &self.multicast {
                None => serde_json::Value::Null,
                Some(Ok(f)) => json!({ "faceId": f.0 }),
                Some(Err(e)) => json!({ "error": e }),
            },
            "local": self.local.iter().map(Name::to_uri).collect::<Vec<_>>(),
            "neighbours": self.neighbours.iter().map(|n| json!({
                "node": n.node,
                "addr": n.addr.to_string(),
                "faceId": n.face.map(|f| f.0),
                "alive": n.alive,
                "discovered": n.discovered,
                "srttMs": n.srtt.map(|d| d.as_secs_f64() * 1000.0),
                "linkCost": n.link_cost,
                "prefixes": n.prefixes,
            })).collect::<Vec<_>>(),
            "unnamed": self.unnamed.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "routes": self.table.iter().map(|(p, r)| json!({
                "prefix": p.to_uri(),
                "cost": r.cost,
                "hops": r.hops,
                "nextHops": r.next_hops.iter().map(|h| json!({
                    "node": h.node, "faceId": h.face.0, "cost": h.cost, "hops": h.hops,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "counters": {
                "hellosSent": c.hellos_sent,
                "hellosAnswered": c.hellos_answered,
                "hellosReceived": c.hellos_received,
                "updatesSent": c.updates_sent,
                "updatesAcked": c.updates_acked,
                "updatesReceived": c.updates_received,
                "malformed": c.malformed,
                "unknownNeighbour": c.unknown_neighbour,
                "tableChanges": c.table_changes,
                "neighboursLost": c.neighbours_lost,
                "probesSent": c.probes_sent,
                "probesAnswered": c.probes_answered,
                "neighboursAdopted": c.neighbours_adopted,
            },
        })
    }
}

enum Msg {
    Interest(Interest, oneshot::Sender<Option<Data>>),
    HelloResult {
        node: String,
        sent: Instant,
        result: Result<Data, ExpressError>,
    },
    UpdateResult {
        node: String,
        version: u64,
        result: Result<Data, ExpressError>,
    },
    Discovered(Result<Data, ExpressError>),
    ProbeResult {
        addr: SocketAddr,
        result: Result<Data, ExpressError>,
    },
    Status(oneshot::Sender<RouterStatus>),
}

/// A handle to a running router.
#[derive(Debug, Clone)]
pub struct RouterHandle {
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

impl RouterHandle {
    /// A snapshot of neighbours, routing table and counters.
    pub async fn status(&self) -> Result<RouterStatus, Stopped> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Msg::Status(tx)).await.map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }

    /// Stops the router and withdraws its routes (the forwarder keeps running).
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }
}

/// The routing protocol's entry point.
#[derive(Debug)]
pub struct Router;

impl Router {
    /// Starts a router for the forwarder behind `handle`. It stops when
    /// the forwarder stops or [`RouterHandle::shutdown`] is called.
    pub fn spawn(
        handle: ForwarderHandle,
        config: RoutingConfig,
    ) -> Result<RouterHandle, RoutingError> {
        if !message::valid_node_name(&config.node) {
            return Err(RoutingError::InvalidNodeName(config.node));
        }
        if !config.neighbours.is_empty() && config.udp.is_none() {
            return Err(RoutingError::NoUdpChannel);
        }
        let cancel = handle.cancel_token().child_token();
        let (tx, rx) = mpsc::channel(1024);
        let h = RouterHandle {
            tx: tx.clone(),
            cancel: cancel.clone(),
        };
        tokio::spawn(async move {
            let Some(mut task) = Task::start(handle, config, tx).await else {
                return;
            };
            task.run(rx, cancel).await;
        });
        Ok(h)
    }
}

fn comp(s: &str) -> Component {
    Component::generic(s.as_bytes().to_vec())
}

fn comp_str(c: Option<Component>) -> Option<String> {
    let c = c?;
    if c.typ() != types::GENERIC_COMPONENT {
        return None;
    }
    let s = std::str::from_utf8(c.value()).ok()?;
    message::valid_node_name(s).then(|| s.to_string())
}

fn name(s: &str) -> Name {
    // The literals passed here are valid URIs.
    Name::from_uri(s).unwrap_or_default()
}

/// The prefix a node's router answers on.
pub fn routing_prefix(node: &str) -> Name {
    name("/localhop/picasso/routing").append(&comp(node))
}

/// The prefix of multicast discovery hellos.
pub fn discovery_prefix() -> Name {
    name("/localhop/picasso/hello")
}

/// The prefix of probes, which ask a neighbour known by address only for
/// its name.
pub fn probe_prefix() -> Name {
    name("/localhop/picasso/probe")
}

/// The prefix a probe to `addr` is sent under (routed to that face only).
fn probe_target(addr: SocketAddr) -> Name {
    probe_prefix().append(&comp(&addr.to_string()))
}

/// The router's status dataset (JSON, answered to local faces only).
pub fn status_dataset() -> Name {
    name("/localhost/picasso/routing/list")
}

struct Neighbour {
    /// When it was added.
    since: Instant,
    addr: SocketAddr,
    face: Option<FaceId>,
    discovered: bool,
    alive: bool,
    last_reply: Option<Instant>,
    srtt_ms: Option<f64>,
    link_cost: u64,
    /// Their vector and the (instance, version) it came with.
    vector: BTreeMap<Name, (u64, u64)>,
    held: Option<(u64, u64)>,
    /// Our vector for them, its version, and the version in flight.
    adv: Vec<Entry>,
    adv_version: u64,
    in_flight: Option<u64>,
}

impl Neighbour {
    fn new(addr: SocketAddr, face: Option<FaceId>, discovered: bool) -> Self {
        Self {
            since: Instant::now(),
            addr,
            face,
            discovered,
            alive: false,
            last_reply: None,
            srtt_ms: None,
            link_cost: 1,
            vector: BTreeMap::new(),
            held: None,
            adv: Vec::new(),
            adv_version: 0,
            in_flight: None,
        }
    }

    /// Folds an RTT sample into the smoothed RTT and the link cost.
    fn on_rtt(&mut self, sample: Duration) {
        let ms = sample.as_secs_f64() * 1000.0;
        let srtt = match self.srtt_ms {
            None => ms,
            Some(s) => s + (ms - s) / 8.0,
        };
        self.srtt_ms = Some(srtt);
        let cur = self.link_cost as f64;
        if self.last_reply.is_none() || (srtt - cur).abs() >= (cur / 4.0).max(1.0) {
            self.link_cost = (srtt.round() as u64).clamp(1, MAX_LINK_COST);
        }
    }
}

struct Task {
    cfg: RoutingConfig,
    handle: ForwarderHandle,
    client: Client,
    app_face: FaceId,
    instance: u64,
    tx: mpsc::Sender<Msg>,
    neighbours: BTreeMap<String, Neighbour>,
    /// Neighbours configured by address only, until a probe names them.
    unnamed: BTreeMap<SocketAddr, Option<FaceId>>,
    local: BTreeSet<Name>,
    table: RoutingTable,
    counters: RouterCounters,
    multicast: Option<Result<FaceId, String>>,
    seq: u64,
}

impl Task {
    async fn start(
        handle: ForwarderHandle,
        cfg: RoutingConfig,
        tx: mpsc::Sender<Msg>,
    ) -> Option<Self> {
        let app = in_process::connect(&handle).await.ok()?;
        let app_face = app.face;
        let client = Client::from_app_face(app);
        for prefix in [
            routing_prefix(&cfg.node),
            discovery_prefix(),
            probe_prefix(),
            status_dataset(),
        ] {
            let tx = tx.clone();
            client.set_handler(prefix, move |i: Interest| {
                let tx = tx.clone();
                async move {
                    let (reply, rx) = oneshot::channel();
                    tx.send(Msg::Interest(i, reply)).await.ok()?;
                    rx.await.ok().flatten()
                }
            });
        }
        let multicast = match cfg.multicast {
            None => None,
            Some(m) => Some(
                udp::multicast_face(&handle, m.iface, m.group)
                    .await
                    .map_err(|e| format!("cannot join {} on {}: {e}", m.group, m.iface)),
            ),
        };
        if let Some(Err(e)) = &multicast {
            tracing::warn!(error = %e, "routing: multicast discovery disabled");
        }
        let mut neighbours = BTreeMap::new();
        let mut unnamed = BTreeMap::new();
        let own = cfg.udp.as_ref().map(|u| u.local);
        for n in &cfg.neighbours {
            if n.node.as_ref() == Some(&cfg.node) || Some(n.addr) == own {
                continue;
            }
            let face = match &cfg.udp {
                Some(u) => u.connect(n.addr).await.ok(),
                None => None,
            };
            match &n.node {
                Some(node) => {
                    neighbours.insert(node.clone(), Neighbour::new(n.addr, face, false));
                }
                None => {
                    unnamed.insert(n.addr, face);
                }
            }
        }
        let mut task = Self {
            cfg,
            handle,
            client,
            app_face,
            instance: rand::random::<u64>() >> 1,
            tx,
            neighbours,
            unnamed,
            local: BTreeSet::new(),
            table: RoutingTable::new(),
            counters: RouterCounters::default(),
            multicast,
            seq: u64::from(rand::random::<u32>()),
        };
        task.sync_rib().await.ok()?;
        Some(task)
    }

    async fn run(&mut self, mut rx: mpsc::Receiver<Msg>, cancel: CancellationToken) {
        let tick = (self.cfg.hello_interval / 8)
            .min(self.cfg.rib_poll_interval)
            .max(Duration::from_millis(5));
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut next_hello = Instant::now();
        let mut next_poll = Instant::now();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                m = rx.recv() => match m {
                    Some(m) => self.on_msg(m).await,
                    None => break,
                },
                _ = ticker.tick() => {
                    let now = Instant::now();
                    if now >= next_poll {
                        next_poll = now + self.cfg.rib_poll_interval;
                        if self.poll_local().await.is_err() {
                            break;
                        }
                    }
                    self.check_dead(now).await;
                    if now >= next_hello {
                        next_hello = now + self.cfg.hello_interval;
                        self.send_hellos().await;
                    }
                }
            }
        }
        // Withdraw our routes unless the forwarder itself is gone.
        if !self.handle.cancel_token().is_cancelled() {
            let _ = self
                .handle
                .call(|core| {
                    let ours: Vec<(Name, FaceId)> = core
                        .mgmt
                        .rib
                        .iter()
                        .flat_map(|(p, l)| {
                            l.iter()
                                .filter(|r| r.origin == ORIGIN)
                                .map(move |r| (p.clone(), r.face))
                        })
                        .collect();
                    for (p, f) in ours {
                        core.mgmt.rib.remove(&mut core.fwd, &p, f, ORIGIN);
                    }
                })
                .await;
        }
    }

    async fn on_msg(&mut self, m: Msg) {
        match m {
            Msg::Interest(i, reply) => {
                // Before answering: the PIT entry tells the face it came on.
                if let Some(from) = self.unknown_sender(&i) {
                    self.adopt(&i, &from).await;
                }
                let (data, learn) = self.on_interest(&i).await;
                let _ = reply.send(data);
                if let Some(h) = learn {
                    self.learn(h).await;
                }
            }
            Msg::HelloResult { node, sent, result } => {
                self.on_hello_result(node, sent, result).await
            }
            Msg::UpdateResult {
                node,
                version,
                result,
            } => self.on_update_result(node, version, result),
            Msg::Discovered(Ok(d)) => match Hello::decode(d.content()) {
                Ok(h) => self.learn(h).await,
                Err(_) => self.counters.malformed += 1,
            },
            Msg::Discovered(Err(_)) => {}
            Msg::ProbeResult { addr, result } => self.on_probe_result(addr, result).await,
            Msg::Status(reply) => {
                let _ = reply.send(self.status());
            }
        }
    }

    fn status(&self) -> RouterStatus {
        RouterStatus {
            node: self.cfg.node.clone(),
            multicast: self.multicast.clone(),
            local: self.local.clone(),
            neighbours: self
                .neighbours
                .iter()
                .map(|(node, n)| NeighbourStatus {
                    node: node.clone(),
                    addr: n.addr,
                    face: n.face,
                    alive: n.alive,
                    discovered: n.discovered,
                    srtt: n.srtt_ms.map(|ms| Duration::from_secs_f64(ms / 1000.0)),
                    link_cost: n.link_cost,
                    prefixes: n.vector.len(),
                })
                .collect(),
            unnamed: self.unnamed.keys().copied().collect(),
            table: self.table.clone(),
            counters: self.counters,
        }
    }

    fn my_hello(&self, held: Option<(u64, u64)>, with_addr: bool) -> Hello {
        Hello {
            node: self.cfg.node.clone(),
            instance: self.instance,
            udp: if with_addr {
                self.cfg
                    .announce_addr
                    .or_else(|| self.cfg.udp.as_ref().map(|u| u.local))
            } else {
                None
            },
            held,
        }
    }

    fn reply(i: &Interest, hello: &Hello) -> Data {
        let mut d = Data::new(i.name().clone()).with_content(hello.encode());
        d.sign(&Signer::DigestSha256);
        d
    }

    /// Answers an Interest under our routing prefix or the discovery
    /// prefix; returns the reply and a hello to learn a neighbour from.
    async fn on_interest(&mut self, i: &Interest) -> (Option<Data>, Option<Hello>) {
        let n = i.name();
        let disc = discovery_prefix();
        let probe = probe_prefix();
        if status_dataset().is_prefix_of(n) {
            let body = serde_json::to_vec(&self.status().to_json()).unwrap_or_default();
            let mut d = Data::new(n.clone()).with_content(bytes::Bytes::from(body));
            d.sign(&Signer::DigestSha256);
            (Some(d), None)
        } else if probe.is_prefix_of(n) {
            // /localhop/picasso/probe/<addr>/<from>/<seq>, a Hello in the parameters
            let params = i.app_params().cloned().unwrap_or_default();
            match (comp_str(n.get(probe.len() + 1)), Hello::decode(params)) {
                (Some(from), Ok(h)) if h.node == from && from != self.cfg.node => {
                    self.counters.hellos_received += 1;
                    let held = self.neighbours.get(&from).and_then(|nb| nb.held);
                    (Some(Self::reply(i, &self.my_hello(held, true))), None)
                }
                _ => {
                    self.counters.malformed += 1;
                    (None, None)
                }
            }
        } else if disc.is_prefix_of(n) {
            // /localhop/picasso/hello/<from>/<seq>
            let params = i.app_params().cloned().unwrap_or_default();
            match (comp_str(n.get(disc.len())), Hello::decode(params)) {
                (Some(from), Ok(h)) if h.node == from => {
                    self.counters.hellos_received += 1;
                    let learn = (from != self.cfg.node).then_some(h);
                    (Some(Self::reply(i, &self.my_hello(None, true))), learn)
                }
                _ => {
                    self.counters.malformed += 1;
                    (None, None)
                }
            }
        } else {
            // /localhop/picasso/routing/<me>/<verb>/<from>/<number>
            let base = routing_prefix(&self.cfg.node).len();
            let verb = n.get(base).filter(|c| c.typ() == types::GENERIC_COMPONENT);
            let from = comp_str(n.get(base + 1));
            let number = n.get(base + 2).and_then(|c| c.as_number());
            let (Some(verb), Some(from), Some(number)) = (verb, from, number) else {
                self.counters.malformed += 1;
                return (None, None);
            };
            match &verb.value()[..] {
                b"hello" => {
                    self.counters.hellos_received += 1;
                    let held = match self.neighbours.get(&from) {
                        Some(nb) => nb.held,
                        None => {
                            self.counters.unknown_neighbour += 1;
                            None
                        }
                    };
                    (Some(Self::reply(i, &self.my_hello(held, false))), None)
                }
                b"update" => {
                    let held = self.on_update(&from, number, i).await;
                    (Some(Self::reply(i, &self.my_hello(held, false))), None)
                }
                _ => {
                    self.counters.malformed += 1;
                    (None, None)
                }
            }
        }
    }

    /// Takes in a neighbour's vector; returns what we now hold of it.
    async fn on_update(&mut self, from: &str, version: u64, i: &Interest) -> Option<(u64, u64)> {
        let params = i.app_params().cloned().unwrap_or_default();
        let up = match Update::decode(params) {
            Ok(u) if u.node == from && u.version == version => u,
            _ => {
                self.counters.malformed += 1;
                return self.neighbours.get(from).and_then(|n| n.held);
            }
        };
        let Some(nb) = self.neighbours.get_mut(from) else {
            self.counters.unknown_neighbour += 1;
            return None;
        };
        let newer = match nb.held {
            Some((inst, ver)) => inst != up.instance || up.version > ver,
            None => true,
        };
        if newer {
            self.counters.updates_received += 1;
            nb.held = Some((up.instance, up.version));
            nb.vector = up
                .entries
                .into_iter()
                .map(|e| (e.prefix, (e.cost, e.hops)))
                .collect();
            let held = nb.held;
            self.recompute().await;
            return held;
        }
        nb.held
    }

    /// The sender of a routing Interest that is not a neighbour yet, if
    /// unknown senders are accepted.
    fn unknown_sender(&self, i: &Interest) -> Option<String> {
        if !self.cfg.accept_unknown || self.cfg.udp.is_none() {
            return None;
        }
        let n = i.name();
        let (probe, mine) = (probe_prefix(), routing_prefix(&self.cfg.node));
        let from = if probe.is_prefix_of(n) {
            comp_str(n.get(probe.len() + 1))
        } else if mine.is_prefix_of(n) {
            comp_str(n.get(mine.len() + 1))
        } else {
            None
        }?;
        let room = self.neighbours.len() < MAX_NEIGHBOURS;
        (room && from != self.cfg.node && !self.neighbours.contains_key(&from)).then_some(from)
    }

    /// Takes `from` as a neighbour, reached at the remote address of the
    /// UDP face Interest `i` came on (read from its PIT entry).
    async fn adopt(&mut self, i: &Interest, from: &str) {
        let key = crate::table::pit::PitKey::of(i);
        let app_face = self.app_face;
        let remote = self
            .handle
            .call(move |core| {
                let entry = core.fwd.pit.get(&key)?;
                entry
                    .in_records
                    .iter()
                    .filter(|r| r.face != app_face)
                    .find_map(|r| {
                        let slot = core.faces.get(&r.face)?;
                        if slot.meta.kind != crate::face::FaceKind::Udp {
                            return None;
                        }
                        slot.meta.remote_uri.strip_prefix("udp4://")?.parse().ok()
                    })
            })
            .await
            .ok()
            .flatten();
        let (Some(addr), Some(u)) = (remote, self.cfg.udp.clone()) else {
            return;
        };
        let addr: SocketAddr = addr;
        let face = u.connect(addr).await.ok();
        // Configured by address (its probe not answered yet): not discovered.
        let configured = self.unnamed.remove(&addr).is_some();
        tracing::info!(node = %from, %addr, ?face, configured, "routing: neighbour named by its first message");
        if !configured {
            self.counters.neighbours_adopted += 1;
        }
        self.neighbours
            .insert(from.to_string(), Neighbour::new(addr, face, !configured));
        let _ = self.sync_rib().await;
        self.send_hello(from);
    }

    /// A probe's answer names a neighbour configured by address.
    async fn on_probe_result(&mut self, addr: SocketAddr, result: Result<Data, ExpressError>) {
        let Ok(d) = result else { return };
        let h = match Hello::decode(d.content()) {
            Ok(h) => h,
            Err(_) => {
                self.counters.malformed += 1;
                return;
            }
        };
        let Some(face) = self.unnamed.remove(&addr) else {
            return;
        };
        self.counters.probes_answered += 1;
        if h.node == self.cfg.node {
            tracing::warn!(%addr, "routing: a configured neighbour is this node itself");
        } else if let Some(nb) = self.neighbours.get_mut(&h.node) {
            // It contacted us first and was accepted; it is configured.
            nb.discovered = false;
        } else {
            tracing::info!(node = %h.node, %addr, "routing: neighbour named by probe");
            self.neighbours
                .insert(h.node.clone(), Neighbour::new(addr, face, false));
            self.send_hello(&h.node);
        }
        let _ = self.sync_rib().await;
    }

    /// Asks each neighbour known by address only for its name.
    fn send_probes(&mut self) {
        let hello = self.my_hello(None, true).encode();
        let targets: Vec<SocketAddr> = self
            .unnamed
            .iter()
            .filter(|(_, f)| f.is_some())
            .map(|(a, _)| *a)
            .collect();
        for addr in targets {
            self.seq += 1;
            let name = probe_target(addr)
                .append(&comp(&self.cfg.node))
                .append(&Component::sequence_num(self.seq));
            let interest = Interest::new(name)
                .with_must_be_fresh(true)
                .with_hop_limit(HOP_LIMIT)
                .with_lifetime_ms(self.cfg.hello_interval.as_millis().max(10) as u64)
                .with_app_params(hello.clone());
            self.counters.probes_sent += 1;
            let (client, tx) = (self.client.clone(), self.tx.clone());
            tokio::spawn(async move {
                let result = client.express(interest).await;
                let _ = tx.send(Msg::ProbeResult { addr, result }).await;
            });
        }
    }

    /// Adds a neighbour found by multicast.
    async fn learn(&mut self, h: Hello) {
        let Some(addr) = h.udp else {
            self.counters.malformed += 1;
            return;
        };
        if h.node == self.cfg.node || self.neighbours.contains_key(&h.node) {
            return;
        }
        if self.neighbours.len() >= MAX_NEIGHBOURS {
            self.counters.unknown_neighbour += 1;
            return;
        }
        let Some(u) = &self.cfg.udp else { return };
        let face = u.connect(addr).await.ok();
        tracing::info!(node = %h.node, %addr, ?face, "routing: discovered a neighbour");
        self.neighbours
            .insert(h.node.clone(), Neighbour::new(addr, face, true));
        let _ = self.sync_rib().await;
        self.send_hello(&h.node);
    }

    fn send_hello(&mut self, node: &str) {
        let Some(nb) = self.neighbours.get(node) else {
            return;
        };
        if nb.face.is_none() {
            return;
        }
        self.seq += 1;
        let name = routing_prefix(node)
            .append_str("hello")
            .append(&comp(&self.cfg.node))
            .append(&Component::sequence_num(self.seq));
        let interest = Interest::new(name)
            .with_must_be_fresh(true)
            .with_hop_limit(HOP_LIMIT)
            .with_lifetime_ms(self.cfg.hello_interval.as_millis().max(10) as u64);
        self.counters.hellos_sent += 1;
        let (client, tx, node) = (self.client.clone(), self.tx.clone(), node.to_string());
        tokio::spawn(async move {
            let sent = Instant::now();
            let result = client.express(interest).await;
            let _ = tx.send(Msg::HelloResult { node, sent, result }).await;
        });
    }

    async fn send_hellos(&mut self) {
        // Neighbours without a face (or whose face went away): reconnect.
        if let Some(u) = self.cfg.udp.clone() {
            let mut changed = false;
            for nb in self.neighbours.values_mut().filter(|n| !n.alive) {
                let face = u.connect(nb.addr).await.ok();
                if face != nb.face {
                    nb.face = face;
                    changed = true;
                }
            }
            for (addr, f) in self.unnamed.iter_mut() {
                let face = u.connect(*addr).await.ok();
                if face != *f {
                    *f = face;
                    changed = true;
                }
            }
            if changed {
                let _ = self.sync_rib().await;
            }
        }
        self.send_probes();
        let nodes: Vec<String> = self.neighbours.keys().cloned().collect();
        for n in nodes {
            self.send_hello(&n);
        }
        if matches!(self.multicast, Some(Ok(_))) && self.cfg.udp.is_some() {
            self.seq += 1;
            let name = discovery_prefix()
                .append(&comp(&self.cfg.node))
                .append(&Component::sequence_num(self.seq));
            let interest = Interest::new(name)
                .with_must_be_fresh(true)
                .with_hop_limit(HOP_LIMIT)
                .with_lifetime_ms(self.cfg.hello_interval.as_millis().max(10) as u64)
                .with_app_params(self.my_hello(None, true).encode());
            let (client, tx) = (self.client.clone(), self.tx.clone());
            tokio::spawn(async move {
                let result = client.express(interest).await;
                let _ = tx.send(Msg::Discovered(result)).await;
            });
        }
        // Heal the RIB should a face have taken our routes with it.
        let _ = self.sync_rib().await;
    }

    async fn on_hello_result(
        &mut self,
        node: String,
        sent: Instant,
        result: Result<Data, ExpressError>,
    ) {
        let Ok(d) = result else { return };
        let h = match Hello::decode(d.content()) {
            Ok(h) if h.node == node => h,
            _ => {
                self.counters.malformed += 1;
                return;
            }
        };
        let instance = self.instance;
        let Some(nb) = self.neighbours.get_mut(&node) else {
            return;
        };
        self.counters.hellos_answered += 1;
        let old_cost = nb.link_cost;
        nb.on_rtt(sent.elapsed());
        nb.last_reply = Some(Instant::now());
        // A restarted neighbour: what we hold of it is stale.
        if nb.held.is_some_and(|(inst, _)| inst != h.instance) {
            nb.held = None;
            nb.vector.clear();
        }
        let revived = !nb.alive;
        nb.alive = true;
        let needs_push = h.held != Some((instance, nb.adv_version)) && nb.in_flight.is_none();
        if revived {
            tracing::info!(%node, "routing: neighbour up");
        }
        if revived || old_cost != nb.link_cost {
            self.recompute().await;
        }
        if needs_push {
            self.push(&node);
        }
    }

    fn on_update_result(&mut self, node: String, version: u64, result: Result<Data, ExpressError>) {
        let instance = self.instance;
        let Some(nb) = self.neighbours.get_mut(&node) else {
            return;
        };
        nb.in_flight = None;
        match result.map(|d| Hello::decode(d.content())) {
            Ok(Ok(h)) if h.node == node => {
                if h.held == Some((instance, version)) {
                    self.counters.updates_acked += 1;
                }
            }
            Ok(_) => self.counters.malformed += 1,
            // Lost: the next hello answer says the neighbour is behind.
            Err(_) => return,
        }
        // A newer vector was made while this one was in flight.
        if nb.adv_version > version && nb.alive {
            self.push(&node);
        }
    }

    fn push(&mut self, node: &str) {
        let Some(nb) = self.neighbours.get_mut(node) else {
            return;
        };
        if nb.face.is_none() || nb.in_flight.is_some() {
            return;
        }
        let version = nb.adv_version;
        nb.in_flight = Some(version);
        let up = Update {
            node: self.cfg.node.clone(),
            instance: self.instance,
            version,
            entries: nb.adv.iter().take(message::MAX_ENTRIES).cloned().collect(),
        };
        let name = routing_prefix(node)
            .append_str("update")
            .append(&comp(&self.cfg.node))
            .append(&Component::version(version));
        let interest = Interest::new(name)
            .with_must_be_fresh(true)
            .with_hop_limit(HOP_LIMIT)
            .with_lifetime_ms(self.cfg.hello_interval.as_millis().clamp(100, 4000) as u64)
            .with_app_params(up.encode());
        self.counters.updates_sent += 1;
        let (client, tx, node) = (self.client.clone(), self.tx.clone(), node.to_string());
        tokio::spawn(async move {
            let result = client.express(interest).await;
            let _ = tx
                .send(Msg::UpdateResult {
                    node,
                    version,
                    result,
                })
                .await;
        });
    }

    async fn check_dead(&mut self, now: Instant) {
        let dead = self.cfg.dead_interval();
        let mut lost = false;
        for (node, nb) in self.neighbours.iter_mut() {
            let silent = nb
                .last_reply
                .is_none_or(|t| now.saturating_duration_since(t) > dead);
            if nb.alive && silent {
                tracing::info!(%node, "routing: neighbour lost");
                nb.alive = false;
                nb.vector.clear();
                nb.held = None;
                self.counters.neighbours_lost += 1;
                lost = true;
            }
        }
        // Discovered or accepted neighbours silent for long are forgotten
        // (a node restarted on another port comes back under a new name).
        let forget = dead * FORGET_MULTIPLIER;
        let before = self.neighbours.len();
        self.neighbours.retain(|node, nb| {
            let keep = !nb.discovered
                || nb.alive
                || now.saturating_duration_since(nb.last_reply.unwrap_or(nb.since)) <= forget;
            if !keep {
                tracing::info!(%node, "routing: forgot a silent discovered neighbour");
            }
            keep
        });
        if lost || self.neighbours.len() != before {
            self.recompute().await;
            let _ = self.sync_rib().await;
        }
    }

    /// Reads the prefixes local applications serve; recomputes on change.
    async fn poll_local(&mut self) -> Result<(), Stopped> {
        let root = self.cfg.advertised_root.clone();
        let local = self
            .handle
            .call(move |core| {
                core.mgmt
                    .rib
                    .iter()
                    .filter(|(p, _)| root.is_prefix_of(p))
                    .filter(|(_, l)| {
                        l.iter().any(|r| {
                            r.origin != ORIGIN
                                && r.face != FaceId::INTERNAL
                                && core.fwd.face(r.face).is_some_and(|f| f.local)
                        })
                    })
                    .map(|(p, _)| p.clone())
                    .collect::<BTreeSet<Name>>()
            })
            .await?;
        if local != self.local {
            self.local = local;
            self.recompute().await;
        }
        Ok(())
    }

    /// Recomputes the table; installs routes and pushes changed vectors.
    async fn recompute(&mut self) {
        let views: Vec<NeighbourView> = self
            .neighbours
            .iter()
            .filter_map(|(node, n)| {
                Some(NeighbourView {
                    node: node.clone(),
                    face: n.face?,
                    link_cost: n.link_cost,
                    alive: n.alive,
                    vector: n.vector.clone(),
                })
            })
            .collect();
        let table = table::compute(&self.local, &views);
        if table != self.table {
            self.counters.table_changes += 1;
            self.table = table;
            let _ = self.sync_rib().await;
        }
        let mut changed = Vec::new();
        for (node, nb) in self.neighbours.iter_mut() {
            let adv = table::advertisement(&self.table, node);
            if adv != nb.adv {
                nb.adv = adv;
                nb.adv_version += 1;
                if nb.alive {
                    changed.push(node.clone());
                }
            }
        }
        for node in changed {
            self.push(&node);
        }
    }

    /// Makes the RIB's routes of our origin exactly the desired set.
    async fn sync_rib(&mut self) -> Result<(), Stopped> {
        let mut want: BTreeMap<(Name, FaceId), u64> = BTreeMap::new();
        want.insert((routing_prefix(&self.cfg.node), self.app_face), 0);
        want.insert((discovery_prefix(), self.app_face), 0);
        want.insert((probe_prefix(), self.app_face), 0);
        want.insert((status_dataset(), self.app_face), 0);
        for (addr, f) in &self.unnamed {
            if let Some(f) = f {
                want.insert((probe_target(*addr), *f), 0);
            }
        }
        if let Some(Ok(f)) = self.multicast {
            want.insert((discovery_prefix(), f), 0);
        }
        for (node, nb) in &self.neighbours {
            if let Some(f) = nb.face {
                want.insert((routing_prefix(node), f), 0);
            }
        }
        for (prefix, reach) in &self.table {
            for h in &reach.next_hops {
                want.insert((prefix.clone(), h.face), h.cost);
            }
        }
        self.handle
            .call(move |core| {
                let have: BTreeMap<(Name, FaceId), u64> = core
                    .mgmt
                    .rib
                    .iter()
                    .flat_map(|(p, l)| {
                        l.iter()
                            .filter(|r| r.origin == ORIGIN)
                            .map(move |r| ((p.clone(), r.face), r.cost))
                    })
                    .collect();
                for (p, f) in have.keys().filter(|k| !want.contains_key(*k)) {
                    core.mgmt.rib.remove(&mut core.fwd, p, *f, ORIGIN);
                }
                for ((prefix, face), cost) in want {
                    if have.get(&(prefix.clone(), face)) == Some(&cost) {
                        continue;
                    }
                    // A route to a face that is gone would only be dropped.
                    if !core.faces.contains_key(&face) {
                        continue;
                    }
                    core.mgmt.rib.add(
                        &mut core.fwd,
                        Route {
                            prefix,
                            face,
                            origin: ORIGIN,
                            cost,
                            flags: ROUTE_FLAG_CHILD_INHERIT,
                            expires: None,
                        },
                    );
                }
            })
            .await
    }
}
