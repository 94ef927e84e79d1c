//! The forwarding daemon (`picasso fwd`) as a library: a [`Config`]
//! (TOML, overridable by flags), [`Daemon::start`] that spawns the
//! forwarder, its listeners and its neighbour faces, and [`Daemon::run`]
//! that serves until a cancellation token fires, then stops every task and
//! removes the Unix socket file. Embedders (the node, the orchestrator,
//! tests) use the same code with their own token.
//!
//! ```text
//!  Config ──► Daemon::start ──► runtime::spawn(limits)
//!                 │                ├─ listen_unix  (guard removes the socket file)
//!                 │                ├─ listen_tcp
//!                 │                ├─ UdpChannel::bind ──► connect(neighbour) + routes
//!                 │                └─ strategy choice per prefix
//!                 └─► Daemon::run(shutdown) ── cancel ──► wait for the forwarder task
//! ```
//!
//! Routing between neighbours ([`crate::routing`]) is on by default when
//! the daemon has a UDP channel (`[routing]` section): every configured
//! neighbour gets a UDP face and becomes a routing neighbour (by name if
//! one is given, else named by probing), and the router installs routes to
//! what the neighbours serve. Static routes are only installed for a
//! neighbour's explicit `prefixes`; with routing off, a neighbour without
//! `prefixes` gets a default route `/` instead. [`Daemon::router`] gives
//! the router's status; it also answers `/localhost/picasso/routing/list`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use picasso_tlv::Name;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::face::stream::{listen_tcp, listen_unix, UnixListenerGuard};
use crate::face::udp::{UdpChannel, UdpConfig};
use crate::fw::ForwarderLimits;
use crate::routing::{MulticastConfig, NeighbourConfig, Router, RouterHandle, RoutingConfig};
use crate::runtime::ForwarderHandle;
use crate::table::cs::CsLimits;
use crate::FaceId;

/// NFD's default port for TCP and UDP faces.
pub const DEFAULT_PORT: u16 = 6363;

/// Why the daemon could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The configuration file could not be read.
    #[error("cannot read config {path}: {source}")]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration is not valid TOML or has unknown keys.
    #[error("invalid config: {0}")]
    ParseConfig(#[from] toml::de::Error),
    /// A configured value is invalid.
    #[error("invalid config value {field}: {value:?}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// The offending value.
        value: String,
    },
    /// A listener could not be opened.
    #[error("cannot listen on {what}: {source}")]
    Listen {
        /// The listener, e.g. `tcp 0.0.0.0:6363`.
        what: String,
        /// Why.
        source: std::io::Error,
    },
    /// The forwarder task stopped unexpectedly.
    #[error("the forwarder stopped")]
    Stopped,
}

/// The default busy-poll window's most, µs: it covers the gap between
/// packets under load on loopback (measured with `picasso bench ping`).
pub const DEFAULT_BUSY_POLL_US: u64 = 200;

/// Larger busy-poll settings are capped here (10 ms).
pub const MAX_BUSY_POLL_US: u64 = 10_000;

/// Daemon configuration; every field has a default, so an empty file is valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Unix socket listener path; empty string disables it.
    pub unix: String,
    /// TCP listener address; empty string disables it.
    pub tcp: String,
    /// UDP listener address; empty string disables it (neighbours then use
    /// an ephemeral port).
    pub udp: String,
    /// Table limits.
    pub limits: Limits,
    /// UDP faces.
    pub udp_faces: UdpFaces,
    /// Neighbours to open persistent UDP faces to.
    pub neighbor: Vec<Neighbor>,
    /// Strategy per prefix (NFD strategy names, e.g.
    /// `/localhost/nfd/strategy/multicast`).
    pub strategy: Vec<StrategyChoice>,
    /// Serve management under `/localhop/nfd` as well (for neighbours).
    pub localhop: bool,
    /// Tokio worker threads; 0 runs everything on one thread (smallest RSS).
    pub worker_threads: usize,
    /// Most microseconds the forwarder busy-polls for the next packet
    /// before it sleeps (adaptive, see [`crate::runtime::BusyPoll`]; 0: never).
    pub busy_poll_us: u64,
    /// Routing between neighbours.
    pub routing: Routing,
}

/// The `[routing]` section: the distance-vector router between neighbours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Routing {
    /// Run the router (it needs the UDP channel; without one it stays off).
    pub enabled: bool,
    /// This node's name; empty: the host name and the UDP port, e.g.
    /// `edge1-6363` (see [`default_node_name`]).
    pub node_name: String,
    /// Milliseconds between hellos.
    pub hello_interval_ms: u64,
    /// A neighbour is lost after this many hello intervals without an answer.
    pub dead_multiplier: u32,
    /// Prefixes local applications register under this root are advertised.
    pub advertised_root: String,
    /// Take nodes that contact us without being configured as neighbours.
    pub accept_unknown: bool,
    /// Discover neighbours by multicast.
    pub multicast: bool,
    /// Address of the interface to join the group on (`0.0.0.0`: the default one).
    pub multicast_iface: String,
    /// Multicast group and port (NFD's by default).
    pub multicast_group: String,
}

impl Default for Routing {
    fn default() -> Self {
        let m = MulticastConfig::default();
        Self {
            enabled: true,
            node_name: String::new(),
            hello_interval_ms: 1000,
            dead_multiplier: 3,
            advertised_root: "/picasso".to_string(),
            accept_unknown: true,
            multicast: false,
            multicast_iface: m.iface.to_string(),
            multicast_group: m.group.to_string(),
        }
    }
}

/// The default node name: the host name (characters other than ASCII
/// letters, digits, `-`, `_` and `.` replaced by `-`) and the UDP port.
pub fn default_node_name(udp_port: u16) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "picasso".to_string());
    let host: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    format!("{host}-{udp_port}")
}

impl Default for Config {
    fn default() -> Self {
        Self {
            unix: crate::app::DEFAULT_SOCKET.to_string(),
            tcp: format!("0.0.0.0:{DEFAULT_PORT}"),
            udp: format!("0.0.0.0:{DEFAULT_PORT}"),
            limits: Limits::default(),
            udp_faces: UdpFaces::default(),
            neighbor: Vec::new(),
            strategy: Vec::new(),
            localhop: false,
            worker_threads: 0,
            busy_poll_us: DEFAULT_BUSY_POLL_US,
            routing: Routing::default(),
        }
    }
}

/// Table limits (bounded memory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Limits {
    /// Most PIT entries; further Interests are dropped and counted.
    pub pit_entries: usize,
    /// Most content store entries.
    pub cs_entries: usize,
    /// Most content store bytes (Data wire).
    pub cs_bytes: usize,
    /// Dead nonce list capacity.
    pub dead_nonces: usize,
}

impl Default for Limits {
    fn default() -> Self {
        let d = ForwarderLimits::default();
        Self {
            pit_entries: d.pit_entries,
            cs_entries: d.cs.max_entries,
            cs_bytes: d.cs.max_bytes,
            dead_nonces: d.dead_nonces,
        }
    }
}

impl Limits {
    /// As the forwarder's limits.
    pub fn forwarder_limits(&self) -> ForwarderLimits {
        ForwarderLimits {
            pit_entries: self.pit_entries,
            cs: CsLimits {
                max_entries: self.cs_entries,
                max_bytes: self.cs_bytes,
            },
            dead_nonces: self.dead_nonces,
        }
    }
}

/// UDP face settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct UdpFaces {
    /// Link MTU; larger packets are fragmented (NDNLPv2).
    pub mtu: usize,
    /// Seconds without traffic after which an on-demand face closes.
    pub idle_timeout_secs: u64,
}

impl Default for UdpFaces {
    fn default() -> Self {
        let d = UdpConfig::default();
        Self {
            mtu: d.mtu,
            idle_timeout_secs: d.idle_timeout.as_secs(),
        }
    }
}

/// A neighbour forwarder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Neighbor {
    /// `udp://HOST:PORT` (or `udp4://HOST:PORT`, or `HOST:PORT`).
    pub uri: String,
    /// Its routing node name; absent: learned by probing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Prefixes routed to it statically. Absent: none when routing runs
    /// (the router learns what it serves), `/` when it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefixes: Option<Vec<String>>,
    /// Cost of the static routes.
    #[serde(default = "default_cost")]
    pub cost: u64,
}

fn default_cost() -> u64 {
    10
}

impl Neighbor {
    /// A neighbour from `[NAME=]URI`, without static prefixes.
    pub fn new(spec: &str) -> Self {
        let (name, uri) = match spec.split_once('=') {
            Some((n, u)) if !n.contains("://") => (Some(n.to_string()), u),
            _ => (None, spec),
        };
        Self {
            uri: uri.to_string(),
            name,
            prefixes: None,
            cost: default_cost(),
        }
    }

    /// The static prefixes, given whether the router runs.
    pub fn static_prefixes(&self, routing: bool) -> Vec<String> {
        match &self.prefixes {
            Some(p) => p.clone(),
            None if routing => Vec::new(),
            None => vec!["/".to_string()],
        }
    }

    /// The neighbour's socket address (resolved).
    pub fn addr(&self) -> Result<SocketAddr, DaemonError> {
        let hostport = self
            .uri
            .strip_prefix("udp4://")
            .or_else(|| self.uri.strip_prefix("udp://"))
            .unwrap_or(&self.uri);
        resolve(hostport).ok_or_else(|| DaemonError::Invalid {
            field: "neighbor.uri",
            value: self.uri.clone(),
        })
    }
}

/// A strategy for a prefix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StrategyChoice {
    /// The prefix.
    pub prefix: String,
    /// The strategy name.
    pub strategy: String,
}

fn resolve(hostport: &str) -> Option<SocketAddr> {
    use std::net::ToSocketAddrs;
    hostport.to_socket_addrs().ok()?.next()
}

fn parse_name(field: &'static str, s: &str) -> Result<Name, DaemonError> {
    Name::from_uri(s).map_err(|_| DaemonError::Invalid {
        field,
        value: s.to_string(),
    })
}

impl Config {
    /// Reads a TOML configuration file.
    pub fn from_file(path: &Path) -> Result<Self, DaemonError> {
        let text = std::fs::read_to_string(path).map_err(|source| DaemonError::ReadConfig {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Parses a TOML configuration.
    pub fn from_toml(text: &str) -> Result<Self, DaemonError> {
        Ok(toml::from_str(text)?)
    }

    /// The UDP face settings.
    pub fn udp_config(&self) -> UdpConfig {
        UdpConfig {
            mtu: self.udp_faces.mtu,
            idle_timeout: Duration::from_secs(self.udp_faces.idle_timeout_secs),
        }
    }
}

/// Where a started daemon listens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    /// The Unix socket path.
    pub unix: Option<PathBuf>,
    /// The bound TCP address.
    pub tcp: Option<SocketAddr>,
    /// The bound UDP address.
    pub udp: Option<SocketAddr>,
}

impl std::fmt::Display for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(p) = &self.unix {
            parts.push(format!("unix={}", p.display()));
        }
        if let Some(a) = self.tcp {
            parts.push(format!("tcp={a}"));
        }
        if let Some(a) = self.udp {
            parts.push(format!("udp={a}"));
        }
        f.write_str(&parts.join(" "))
    }
}

/// A running forwarding daemon.
#[derive(Debug)]
pub struct Daemon {
    handle: ForwarderHandle,
    join: tokio::task::JoinHandle<()>,
    endpoints: Endpoints,
    udp: Option<UdpChannel>,
    neighbors: Vec<(Neighbor, FaceId)>,
    unix_guard: Option<UnixListenerGuard>,
    router: Option<(RouterHandle, String)>,
}

impl Daemon {
    /// Starts the forwarder, its listeners, strategies and neighbour faces.
    pub async fn start(config: &Config) -> Result<Self, DaemonError> {
        let (handle, join) = crate::runtime::spawn_polling(
            config.limits.forwarder_limits(),
            Duration::from_micros(config.busy_poll_us.min(MAX_BUSY_POLL_US)),
        );
        let mut daemon = Daemon {
            handle,
            join,
            endpoints: Endpoints::default(),
            udp: None,
            neighbors: Vec::new(),
            unix_guard: None,
            router: None,
        };
        if let Err(e) = daemon.open(config).await {
            daemon.handle.shutdown();
            return Err(e);
        }
        Ok(daemon)
    }

    async fn open(&mut self, config: &Config) -> Result<(), DaemonError> {
        // Validate everything before opening sockets.
        let strategies = config
            .strategy
            .iter()
            .map(|s| {
                Ok((
                    parse_name("strategy.prefix", &s.prefix)?,
                    parse_name("strategy.strategy", &s.strategy)?,
                ))
            })
            .collect::<Result<Vec<_>, DaemonError>>()?;
        let r = &config.routing;
        // Routing runs when enabled and a UDP channel will be bound.
        let routing_on = r.enabled && (!config.udp.is_empty() || !config.neighbor.is_empty());
        let mut neighbors = Vec::new();
        for n in &config.neighbor {
            let prefixes = n
                .static_prefixes(routing_on)
                .iter()
                .map(|p| parse_name("neighbor.prefixes", p))
                .collect::<Result<Vec<_>, _>>()?;
            neighbors.push((n.clone(), n.addr()?, prefixes));
        }
        let addr = |field: &'static str, s: &str| {
            resolve(s).ok_or_else(|| DaemonError::Invalid {
                field,
                value: s.to_string(),
            })
        };
        let localhop = config.localhop;
        self.handle
            .call(move |core| -> Result<(), DaemonError> {
                for (prefix, strategy) in &strategies {
                    core.fwd
                        .set_strategy(prefix, strategy)
                        .map_err(|_| DaemonError::Invalid {
                            field: "strategy.strategy",
                            value: strategy.to_uri(),
                        })?;
                }
                if localhop {
                    if let Ok(p) = Name::from_uri("/localhop/nfd") {
                        core.fwd.fib.add_next_hop(&p, FaceId::INTERNAL, 0);
                    }
                }
                Ok(())
            })
            .await
            .map_err(|_| DaemonError::Stopped)??;

        if !config.unix.is_empty() {
            let path = PathBuf::from(&config.unix);
            let guard = listen_unix(self.handle.clone(), &path)
                .await
                .map_err(|source| DaemonError::Listen {
                    what: format!("unix {}", path.display()),
                    source,
                })?;
            self.unix_guard = Some(guard);
            self.endpoints.unix = Some(path);
        }
        if !config.tcp.is_empty() {
            let a = addr("tcp", &config.tcp)?;
            let local =
                listen_tcp(self.handle.clone(), a)
                    .await
                    .map_err(|source| DaemonError::Listen {
                        what: format!("tcp {a}"),
                        source,
                    })?;
            self.endpoints.tcp = Some(local);
        }
        let udp_addr = if config.udp.is_empty() {
            (!neighbors.is_empty()).then(|| SocketAddr::from(([0, 0, 0, 0], 0)))
        } else {
            Some(addr("udp", &config.udp)?)
        };
        if let Some(a) = udp_addr {
            let channel = UdpChannel::bind(self.handle.clone(), a, config.udp_config())
                .await
                .map_err(|source| DaemonError::Listen {
                    what: format!("udp {a}"),
                    source,
                })?;
            if !config.udp.is_empty() {
                self.endpoints.udp = Some(channel.local);
            }
            self.udp = Some(channel);
        }
        let mut routing_neighbours = Vec::new();
        for (n, remote, prefixes) in neighbors {
            let face = self.add_neighbor(remote, &prefixes, n.cost).await?;
            tracing::info!(neighbor = %n.uri, %face, "neighbour face up");
            routing_neighbours.push(NeighbourConfig {
                node: n.name.clone(),
                addr: remote,
            });
            self.neighbors.push((n, face));
        }
        if let (true, Some(udp)) = (routing_on, &self.udp) {
            let rc = routing_config(r, udp.clone(), routing_neighbours)?;
            let node = rc.node.clone();
            let router =
                Router::spawn(self.handle.clone(), rc).map_err(|e| DaemonError::Invalid {
                    field: "routing",
                    value: e.to_string(),
                })?;
            tracing::info!(%node, "router started");
            self.router = Some((router, node));
        }
        tracing::info!(endpoints = %self.endpoints, "forwarder ready");
        Ok(())
    }

    /// Opens a persistent UDP face to `remote` and routes `prefixes` to it
    /// (the hook the routing engine uses for neighbours it discovers).
    pub async fn add_neighbor(
        &self,
        remote: SocketAddr,
        prefixes: &[Name],
        cost: u64,
    ) -> Result<FaceId, DaemonError> {
        let channel = self.udp.as_ref().ok_or(DaemonError::Stopped)?;
        let face = channel
            .connect(remote)
            .await
            .map_err(|source| DaemonError::Listen {
                what: format!("udp neighbour {remote}"),
                source,
            })?;
        for p in prefixes {
            self.handle
                .add_route(p.clone(), face, cost)
                .await
                .map_err(|_| DaemonError::Stopped)?;
        }
        Ok(face)
    }

    /// The router, when routing runs.
    pub fn router(&self) -> Option<&RouterHandle> {
        self.router.as_ref().map(|(r, _)| r)
    }

    /// This node's routing name, when routing runs.
    pub fn node_name(&self) -> Option<&str> {
        self.router.as_ref().map(|(_, n)| n.as_str())
    }

    /// A handle to the forwarder (routes, faces, in-process apps).
    pub fn handle(&self) -> &ForwarderHandle {
        &self.handle
    }

    /// Where the daemon listens (with the ports actually bound).
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The UDP channel neighbours use (clone it to open faces after
    /// [`Daemon::run`] has taken the daemon, e.g. from the routing engine).
    pub fn udp_channel(&self) -> Option<&UdpChannel> {
        self.udp.as_ref()
    }

    /// The configured neighbours and their faces.
    pub fn neighbors(&self) -> &[(Neighbor, FaceId)] {
        &self.neighbors
    }

    /// Serves until `shutdown` is cancelled (or the forwarder stops), then
    /// stops every face, waits for the forwarder task and removes the
    /// Unix socket file.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), DaemonError> {
        let Daemon {
            handle,
            mut join,
            unix_guard,
            ..
        } = self;
        let stopped_early = tokio::select! {
            _ = shutdown.cancelled() => false,
            _ = &mut join => true,
        };
        handle.shutdown();
        if !stopped_early {
            // The forwarder task exits on the token; bounded wait.
            let _ = tokio::time::timeout(Duration::from_secs(5), join).await;
        }
        // Let the face tasks observe the cancellation and close.
        tokio::task::yield_now().await;
        drop(unix_guard);
        tracing::info!("forwarder stopped");
        if stopped_early {
            Err(DaemonError::Stopped)
        } else {
            Ok(())
        }
    }
}

/// The router's settings from the `[routing]` section.
fn routing_config(
    r: &Routing,
    udp: UdpChannel,
    neighbours: Vec<NeighbourConfig>,
) -> Result<RoutingConfig, DaemonError> {
    let invalid = |field: &'static str, value: &str| DaemonError::Invalid {
        field,
        value: value.to_string(),
    };
    let node = if r.node_name.is_empty() {
        default_node_name(udp.local.port())
    } else {
        r.node_name.clone()
    };
    if !crate::routing::message::valid_node_name(&node) {
        return Err(invalid("routing.node-name", &node));
    }
    for n in &neighbours {
        if let Some(name) = &n.node {
            if !crate::routing::message::valid_node_name(name) {
                return Err(invalid("neighbor.name", name));
            }
        }
    }
    if r.hello_interval_ms == 0 {
        return Err(invalid("routing.hello-interval-ms", "0"));
    }
    let mut c = RoutingConfig::new(node);
    c.hello_interval = Duration::from_millis(r.hello_interval_ms);
    c.dead_multiplier = r.dead_multiplier.max(1);
    c.advertised_root = parse_name("routing.advertised-root", &r.advertised_root)?;
    c.accept_unknown = r.accept_unknown;
    c.neighbours = neighbours;
    c.udp = Some(udp);
    if r.multicast {
        let m = MulticastConfig {
            iface: r
                .multicast_iface
                .parse()
                .map_err(|_| invalid("routing.multicast-iface", &r.multicast_iface))?,
            group: r
                .multicast_group
                .parse()
                .map_err(|_| invalid("routing.multicast-group", &r.multicast_group))?,
        };
        // A wildcard bind (0.0.0.0:6363) is no address to announce: use the
        // interface's address, or the one the host would send to the group from.
        if c.udp
            .as_ref()
            .is_some_and(|u| u.local.ip().is_unspecified())
        {
            let port = c.udp.as_ref().map_or(0, |u| u.local.port());
            let ip = if m.iface.is_unspecified() {
                outgoing_ip(m.group)
            } else {
                Some(m.iface)
            };
            c.announce_addr = ip.map(|ip| SocketAddr::from((ip, port)));
        }
        c.multicast = Some(m);
    }
    Ok(c)
}

/// The local address the host would send to `to` from (no packet is sent).
fn outgoing_ip(to: std::net::SocketAddrV4) -> Option<std::net::Ipv4Addr> {
    let s = std::net::UdpSocket::bind(("0.0.0.0", 0)).ok()?;
    s.connect(to).ok()?;
    match s.local_addr().ok()?.ip() {
        std::net::IpAddr::V4(ip) if !ip.is_unspecified() => Some(ip),
        _ => None,
    }
}

/// Starts a daemon with `config` and serves until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), DaemonError> {
    Daemon::start(&config).await?.run(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_is_the_default() {
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
        assert_eq!(Config::default().unix, "/run/nfd/nfd.sock");
        assert_eq!(Config::default().tcp, "0.0.0.0:6363");
    }

    #[tokio::test]
    async fn full_config_parses() {
        let c = Config::from_toml(
            r#"
            unix = "/tmp/x.sock"
            tcp = ""
            udp = "127.0.0.1:0"
            localhop = true
            worker-threads = 2
            [limits]
            pit-entries = 10
            cs-entries = 20
            cs-bytes = 30
            [udp-faces]
            mtu = 1200
            idle-timeout-secs = 5
            [[neighbor]]
            uri = "udp://127.0.0.1:6364"
            prefixes = ["/a", "/b"]
            [[neighbor]]
            uri = "udp://127.0.0.1:6365"
            name = "edge-3"
            [routing]
            node-name = "edge-1"
            hello-interval-ms = 200
            multicast = true
            [[strategy]]
            prefix = "/picasso/svc"
            strategy = "/localhost/nfd/strategy/multicast"
            "#,
        )
        .unwrap();
        assert_eq!(c.limits.pit_entries, 10);
        assert_eq!(c.limits.forwarder_limits().cs.max_bytes, 30);
        assert_eq!(c.udp_config().mtu, 1200);
        assert_eq!(c.neighbor[0].cost, 10);
        assert_eq!(
            c.neighbor[0].addr().unwrap(),
            "127.0.0.1:6364".parse().unwrap()
        );
        assert!(c.localhop);
        assert_eq!(c.neighbor[0].static_prefixes(true), ["/a", "/b"]);
        assert!(c.neighbor[1].static_prefixes(true).is_empty());
        assert_eq!(c.neighbor[1].static_prefixes(false), ["/"]);
        assert_eq!(c.neighbor[1].name.as_deref(), Some("edge-3"));
        assert_eq!(c.routing.hello_interval_ms, 200);
        assert!(c.routing.multicast && c.routing.enabled);
        let rc = routing_config(&c.routing, dummy_channel().await, Vec::new()).unwrap();
        assert_eq!(rc.node, "edge-1");
        assert!(rc.multicast.is_some());
        assert_eq!(
            rc.announce_addr, None,
            "bound to 127.0.0.1: announced as is"
        );
    }

    async fn dummy_channel() -> UdpChannel {
        let (h, _join) = crate::runtime::spawn(ForwarderLimits::default());
        UdpChannel::bind(h, "127.0.0.1:0".parse().unwrap(), UdpConfig::default())
            .await
            .unwrap()
    }

    #[test]
    fn neighbour_specs_and_default_node_names() {
        let n = Neighbor::new("edge-2=udp://127.0.0.1:7000");
        assert_eq!(n.name.as_deref(), Some("edge-2"));
        assert_eq!(n.addr().unwrap(), "127.0.0.1:7000".parse().unwrap());
        let n = Neighbor::new("udp://127.0.0.1:7000");
        assert_eq!(n.name, None);
        let name = default_node_name(6363);
        assert!(name.ends_with("-6363"), "{name}");
        assert!(crate::routing::message::valid_node_name(&name), "{name}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = Config::from_toml("pit = 3").unwrap_err();
        assert!(e.to_string().contains("pit"), "{e}");
    }

    #[tokio::test]
    async fn starts_and_stops_removing_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("nfd.sock");
        let config = Config {
            unix: sock.display().to_string(),
            tcp: "127.0.0.1:0".into(),
            udp: "127.0.0.1:0".into(),
            ..Config::default()
        };
        let d = Daemon::start(&config).await.unwrap();
        assert!(sock.exists());
        assert_ne!(d.endpoints().tcp.unwrap().port(), 0);
        // Routing runs by default with a UDP channel.
        let st = d.router().unwrap().status().await.unwrap();
        assert_eq!(Some(st.node.as_str()), d.node_name());
        let token = CancellationToken::new();
        let t = token.clone();
        let run = tokio::spawn(d.run(t));
        token.cancel();
        run.await.unwrap().unwrap();
        assert!(!sock.exists());
    }

    #[tokio::test]
    async fn a_bad_strategy_is_refused() {
        let config = Config {
            unix: String::new(),
            tcp: String::new(),
            udp: String::new(),
            strategy: vec![StrategyChoice {
                prefix: "/a".into(),
                strategy: "/no/such/strategy".into(),
            }],
            ..Config::default()
        };
        let e = Daemon::start(&config).await.unwrap_err();
        assert!(e.to_string().contains("/no/such/strategy"), "{e}");
    }
}
