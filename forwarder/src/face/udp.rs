//! UDP faces: a channel bound to one local address serves every unicast
//! peer over one socket. The first packet from a new peer creates an
//! on-demand face, closed after `idle_timeout` without traffic; configured
//! neighbours get persistent faces. Frames larger than the MTU are
//! fragmented with NDNLPv2. A multicast face joins NFD's group
//! 224.0.23.170:56363 on a LAN, for neighbour discovery.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use picasso_tlv::mgmt::{FacePersistency, FaceScope, LinkType};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::link_service::LinkService;
use super::{FaceKind, FaceMeta, SEND_QUEUE};
use crate::runtime::{send_loop, Event, FaceStats, ForwarderHandle};
use crate::FaceId;

/// NFD's IPv4 multicast group and port for NDN on a LAN.
pub const MULTICAST_GROUP: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(224, 0, 23, 170), 56363);

/// Settings of a UDP channel.
#[derive(Debug, Clone, Copy)]
pub struct UdpConfig {
    /// Link MTU; larger frames are fragmented.
    pub mtu: usize,
    /// Idle time after which an on-demand face closes.
    pub idle_timeout: Duration,
}

impl Default for UdpConfig {
    fn default() -> Self {
        Self {
            mtu: 1400,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

struct Peer {
    face: FaceId,
    link: LinkService,
    last_seen: Instant,
    persistency: FacePersistency,
    stats: Arc<FaceStats>,
    sender: JoinHandle<()>,
}

enum Command {
    Connect {
        remote: SocketAddr,
        reply: oneshot::Sender<FaceId>,
    },
}

/// A bound UDP channel.
#[derive(Debug, Clone)]
pub struct UdpChannel {
    /// The bound address.
    pub local: SocketAddr,
    commands: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Connect { remote, .. } => write!(f, "Connect({remote})"),
        }
    }
}

/// Socket buffers asked for on the unicast channel (the kernel caps them
/// at net.core.rmem_max / wmem_max): a window of 8 kB segments arriving in
/// a burst overflowed the default ~200 kB and every loss cost a
/// consumer's Interest lifetime.
pub const UDP_SOCKET_BUFFER: usize = 4 << 20;

/// Binds the unicast channel's socket with large buffers.
fn bind_unicast(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    let _ = s.set_recv_buffer_size(UDP_SOCKET_BUFFER);
    let _ = s.set_send_buffer_size(UDP_SOCKET_BUFFER);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    UdpSocket::from_std(s.into())
}

impl UdpChannel {
    /// Binds `addr` and serves faces until the forwarder stops.
    pub async fn bind(
        handle: ForwarderHandle,
        addr: SocketAddr,
        config: UdpConfig,
    ) -> std::io::Result<Self> {
        let socket = Arc::new(bind_unicast(addr)?);
        let local = socket.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(serve(handle, socket, local, config, rx));
        Ok(Self {
            local,
            commands: tx,
        })
    }

    /// A persistent face to `remote` (an existing one is reused and made persistent).
    pub async fn connect(&self, remote: SocketAddr) -> std::io::Result<FaceId> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Connect { remote, reply })
            .await
            .map_err(|_| std::io::Error::other("udp channel stopped"))?;
        rx.await
            .map_err(|_| std::io::Error::other("udp channel stopped"))
    }
}

fn meta(
    local: SocketAddr,
    remote: SocketAddr,
    persistency: FacePersistency,
    mtu: usize,
) -> FaceMeta {
    FaceMeta {
        kind: FaceKind::Udp,
        remote_uri: format!("udp4://{remote}"),
        local_uri: format!("udp4://{local}"),
        // As NFD's unicast UDP transport: UDP is never local, even from a
        // loopback peer (test-bed nodes on one host talk over loopback UDP
        // and must not reach each other's /localhost).
        scope: FaceScope::NON_LOCAL,
        persistency,
        link_type: LinkType::POINT_TO_POINT,
        mtu: Some(mtu),
    }
}

async fn new_peer(
    handle: &ForwarderHandle,
    socket: &Arc<UdpSocket>,
    local: SocketAddr,
    remote: SocketAddr,
    persistency: FacePersistency,
    config: &UdpConfig,
) -> Option<Peer> {
    let face = handle.allocate_face_id();
    let (queue_tx, queue_rx) = mpsc::channel(SEND_QUEUE);
    let stats = Arc::new(FaceStats::default());
    handle
        .events()
        .send(Event::FaceUp {
            face,
            meta: meta(local, remote, persistency, config.mtu),
            tx: crate::runtime::FaceTx::Queue(queue_tx),
            stats: stats.clone(),
        })
        .await
        .ok()?;
    let sock = socket.clone();
    let sender = tokio::spawn(send_loop(
        queue_rx,
        LinkService::new(Some(config.mtu)),
        stats.clone(),
        move |frames| {
            let sock = sock.clone();
            async move {
                for f in frames {
                    // A datagram that cannot be sent (e.g. ICMP unreachable
                    // reported on a previous send) is lost, as on any link.
                    let _ = sock.send_to(&f, remote).await;
                }
                Ok(())
            }
        },
    ));
    Some(Peer {
        face,
        link: LinkService::new(Some(config.mtu)),
        last_seen: Instant::now(),
        persistency,
        stats,
        sender,
    })
}

async fn serve(
    handle: ForwarderHandle,
    socket: Arc<UdpSocket>,
    local: SocketAddr,
    config: UdpConfig,
    mut commands: mpsc::Receiver<Command>,
) {
    // Looked up per datagram: foldhash (keyed) rather than SipHash.
    let mut peers: crate::table::NameMap<SocketAddr, Peer> = Default::default();
    let mut buf = vec![0u8; 65_536];
    let mut sweep =
        tokio::time::interval((config.idle_timeout / 4).max(Duration::from_millis(100)));
    let cancel = handle.cancel_token().clone();
    // Once every UdpChannel handle is dropped the command queue is closed;
    // polling it then would return at once, forever (a busy loop).
    let mut commands_open = true;
    'serve: loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            cmd = commands.recv(), if commands_open => match cmd {
                Some(Command::Connect { remote, reply }) => {
                    let alive = peers.get(&remote).is_some_and(|p| !p.sender.is_finished());
                    if !alive {
                        peers.remove(&remote);
                        match new_peer(&handle, &socket, local, remote, FacePersistency::PERSISTENT, &config).await {
                            Some(p) => { peers.insert(remote, p); }
                            None => break,
                        }
                    }
                    if let Some(p) = peers.get_mut(&remote) {
                        p.persistency = FacePersistency::PERSISTENT;
                        let _ = reply.send(p.face);
                    }
                }
                None => commands_open = false,
            },
            _ = sweep.tick() => {
                let now = Instant::now();
                let mut gone = Vec::new();
                for (addr, p) in peers.iter_mut() {
                    p.link.expire(now);
                    let idle = now.saturating_duration_since(p.last_seen) >= config.idle_timeout;
                    if p.sender.is_finished() || (idle && p.persistency == FacePersistency::ON_DEMAND) {
                        gone.push(*addr);
                    }
                }
                for addr in gone {
                    if let Some(p) = peers.remove(&addr) {
                        p.sender.abort();
                        let _ = handle.events().send(Event::FaceDown { face: p.face }).await;
                    }
                }
            }
            r = socket.recv_from(&mut buf) => {
                // Drain what is already queued on the socket (bounded)
                // before going back to select: one wakeup, many datagrams.
                let mut first = Some(r);
                for _ in 0..64 {
                    let r = match first.take() {
                        Some(r) => r,
                        None => socket.try_recv_from(&mut buf),
                    };
                    let (n, remote) = match r {
                        Ok(x) => x,
                        // WouldBlock, or an ICMP error from an earlier send:
                        // back to waiting.
                        Err(_) => break,
                    };
                    let alive = peers.get(&remote).is_some_and(|p| !p.sender.is_finished());
                    if !alive {
                        peers.remove(&remote);
                        match new_peer(&handle, &socket, local, remote, FacePersistency::ON_DEMAND, &config).await {
                            Some(p) => { peers.insert(remote, p); }
                            None => break 'serve,
                        }
                    }
                    let Some(p) = peers.get_mut(&remote) else { continue };
                    let now = Instant::now();
                    p.last_seen = now;
                    p.stats.in_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    let frame = Bytes::copy_from_slice(&buf[..n]);
                    let ev = match p.link.receive(frame, now) {
                        Ok(Some(rx)) => Event::Received { face: p.face, rx },
                        Ok(None) => continue,
                        Err(_) => Event::Malformed { face: p.face },
                    };
                    // One socket serves every peer: a peer out of credit loses
                    // the datagram (counted) instead of delaying the others.
                    if !p.stats.try_acquire_credit() {
                        p.stats.drops.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    if handle.events().send(ev).await.is_err() {
                        break 'serve;
                    }
                }
            }
        }
    }
}

/// Joins the multicast group on the interface with address `iface` (use
/// `0.0.0.0` for the default) and serves one multi-access face.
pub async fn multicast_face(
    handle: &ForwarderHandle,
    iface: Ipv4Addr,
    group: SocketAddrV4,
) -> std::io::Result<FaceId> {
    use socket2::{Domain, Protocol, Socket, Type};
    let recv = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    recv.set_reuse_address(true)?;
    recv.set_reuse_port(true)?;
    recv.bind(&SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, group.port())).into())?;
    recv.join_multicast_v4(group.ip(), &iface)?;
    recv.set_multicast_loop_v4(true)?;
    recv.set_nonblocking(true)?;
    let recv = UdpSocket::from_std(recv.into())?;
    // A separate send socket: its address tells our own looped-back packets apart.
    let send = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    send.set_multicast_if_v4(&iface)?;
    send.set_multicast_loop_v4(true)?;
    send.bind(&SocketAddr::V4(SocketAddrV4::new(iface, 0)).into())?;
    send.set_nonblocking(true)?;
    let send = Arc::new(UdpSocket::from_std(send.into())?);
    let own = send.local_addr()?;

    let face = handle.allocate_face_id();
    let (queue_tx, queue_rx) = mpsc::channel(SEND_QUEUE);
    let stats = Arc::new(FaceStats::default());
    let mtu = UdpConfig::default().mtu;
    handle
        .events()
        .send(Event::FaceUp {
            face,
            meta: FaceMeta {
                kind: FaceKind::UdpMulticast,
                remote_uri: format!("udp4://{group}"),
                local_uri: format!("udp4://{own}"),
                scope: FaceScope::NON_LOCAL,
                persistency: FacePersistency::PERMANENT,
                link_type: LinkType::MULTI_ACCESS,
                mtu: Some(mtu),
            },
            tx: crate::runtime::FaceTx::Queue(queue_tx),
            stats: stats.clone(),
        })
        .await
        .map_err(|_| std::io::Error::other("forwarder stopped"))?;
    let s = send.clone();
    tokio::spawn(send_loop(
        queue_rx,
        LinkService::new(Some(mtu)),
        stats.clone(),
        move |frames| {
            let s = s.clone();
            async move {
                for f in frames {
                    let _ = s.send_to(&f, SocketAddr::V4(group)).await;
                }
                Ok(())
            }
        },
    ));
    let events = handle.events().clone();
    let cancel = handle.cancel_token().clone();
    tokio::spawn(async move {
        // One reassembler per sender on a multi-access link.
        let mut links: HashMap<SocketAddr, LinkService> = HashMap::new();
        let mut buf = vec![0u8; 65_536];
        loop {
            let (n, from) = tokio::select! {
                _ = cancel.cancelled() => break,
                r = recv.recv_from(&mut buf) => match r { Ok(x) => x, Err(_) => continue },
            };
            if from == own {
                continue;
            }
            stats.in_bytes.fetch_add(n as u64, Ordering::Relaxed);
            if links.len() > 1024 {
                links.clear();
            }
            let link = links
                .entry(from)
                .or_insert_with(|| LinkService::new(Some(mtu)));
            let ev = match link.receive(Bytes::copy_from_slice(&buf[..n]), Instant::now()) {
                Ok(Some(rx)) => Event::Received { face, rx },
                Ok(None) => continue,
                Err(_) => Event::Malformed { face },
            };
            if !stats.try_acquire_credit() {
                stats.drops.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if events.send(ev).await.is_err() {
                break;
            }
        }
    });
    Ok(face)
}
