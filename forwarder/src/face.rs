//! Faces (NFD's `daemon/face`): a link service (NDNLPv2 framing,
//! fragmentation, reassembly) over a transport (Unix or TCP stream, UDP
//! unicast or multicast, in-process channel).
//!
//! Each face runs a receive task that decodes packets and hands them to the
//! forwarder over one bounded channel. UDP and in-process faces have a send
//! task fed by the face's own bounded queue; stream faces are written by the
//! forwarder task itself (one non-blocking write per face per batch), their
//! send task only writing what the socket did not take at once. When a
//! face's queue or send buffer is full the forwarder drops and counts
//! instead of waiting, so one slow face never stalls the others.

pub mod in_process;
pub mod link_service;
pub mod socket;
pub mod stream;
pub mod udp;

use picasso_tlv::mgmt::{FacePersistency, FaceScope, LinkType};

/// Capacity of each face's send queue, in packets.
pub const SEND_QUEUE: usize = 4096;

/// What kind of transport a face runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceKind {
    /// The forwarder's own management endpoint.
    Internal,
    /// An application in the same process.
    InProcess,
    /// A Unix stream socket.
    Unix,
    /// A TCP connection.
    Tcp,
    /// A UDP unicast peer.
    Udp,
    /// The UDP multicast group on a LAN.
    UdpMulticast,
}

/// Static description of a face, as FaceStatus reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaceMeta {
    /// Transport kind.
    pub kind: FaceKind,
    /// Remote URI, e.g. `udp4://127.0.0.1:6363`.
    pub remote_uri: String,
    /// Local URI.
    pub local_uri: String,
    /// Local (apps on this host) or non-local.
    pub scope: FaceScope,
    /// On-demand, persistent or permanent.
    pub persistency: FacePersistency,
    /// Point-to-point or multi-access.
    pub link_type: LinkType,
    /// Largest packet the link carries; `None` for streams (no fragmentation).
    pub mtu: Option<usize>,
}

impl FaceMeta {
    /// Whether the face is local in scope.
    pub fn is_local(&self) -> bool {
        self.scope == FaceScope::LOCAL
    }
}
