//! Stream faces over Unix and TCP sockets: TLV framing on a byte stream
//! (a frame ends where its outer TLV ends), one face per connection.
//!
//! A Unix socket face is local in scope (an application on this host, as
//! NFD's `unix://` faces); a TCP face is local when the peer is a loopback
//! address, as NFD decides. A stream that loses framing (a header that
//! cannot be a packet) is closed: there is no way to resynchronise.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use picasso_tlv::mgmt::{FacePersistency, FaceScope, LinkType};

use super::link_service::LinkService;
use super::socket::{FrameReader, QuietStream, ReadHalf};
use super::{FaceKind, FaceMeta};
use crate::runtime::{Event, FaceStats, FaceTx, ForwarderHandle, Stopped};
use crate::FaceId;

/// Most bytes a stream face may have encoded but not yet written; beyond
/// it the forwarder drops and counts (a reader that cannot keep up does
/// not stall the other faces or grow memory).
pub const SEND_BUFFER_BYTES: usize = 4 * 1024 * 1024;

/// A stream socket split into a read half (the face's receive task) and a
/// write half shared by the forwarder task, which writes without waiting,
/// and the face's send task, which writes what the socket did not take.
pub trait StreamSocket: Send + 'static {
    /// The read half.
    type Read: ReadHalf;
    /// The write half.
    type Write: WriteHalf;
    /// Splits the socket.
    fn into_halves(self) -> (Self::Read, Self::Write);
}

/// The write half of a [`StreamSocket`].
pub trait WriteHalf: Send + Sync + 'static {
    /// Writes what the socket takes now (`WouldBlock` when it takes nothing).
    fn try_write_now(&self, buf: &[u8]) -> std::io::Result<usize>;
    /// Waits until the socket may take more.
    fn writable(&self) -> impl std::future::Future<Output = std::io::Result<()>> + Send + '_;
}

macro_rules! stream_socket {
    ($stream:ty, $read:ty, $write:ty) => {
        impl StreamSocket for $stream {
            type Read = $read;
            type Write = $write;
            fn into_halves(self) -> ($read, $write) {
                self.into_split()
            }
        }
        impl WriteHalf for $write {
            fn try_write_now(&self, buf: &[u8]) -> std::io::Result<usize> {
                self.try_write(buf)
            }
            fn writable(
                &self,
            ) -> impl std::future::Future<Output = std::io::Result<()>> + Send + '_ {
                <$write>::writable(self)
            }
        }
    };
}
stream_socket!(
    tokio::net::UnixStream,
    tokio::net::unix::OwnedReadHalf,
    tokio::net::unix::OwnedWriteHalf
);
stream_socket!(
    tokio::net::TcpStream,
    tokio::net::tcp::OwnedReadHalf,
    tokio::net::tcp::OwnedWriteHalf
);

/// What the forwarder task can do with a write half: write without waiting.
trait TryWrite: Send + Sync {
    fn try_write_now(&self, buf: &[u8]) -> std::io::Result<usize>;
}

impl<W: WriteHalf> TryWrite for W {
    fn try_write_now(&self, buf: &[u8]) -> std::io::Result<usize> {
        WriteHalf::try_write_now(self, buf)
    }
}

/// Bytes the socket did not take at once, for the face's send task.
#[derive(Default)]
struct Backlog {
    chunks: std::collections::VecDeque<Bytes>,
    /// The send task is writing (or about to write) the backlog: the
    /// forwarder task must queue behind it, not write directly.
    busy: bool,
    /// The face is gone: the send task writes what is left and ends.
    closed: bool,
    /// A write failed: later packets are dropped.
    failed: bool,
}

struct SinkShared {
    backlog: std::sync::Mutex<Backlog>,
    /// Bytes in the backlog (read without the lock by [`StreamSink::push`]).
    queued: std::sync::atomic::AtomicUsize,
    wake: tokio::sync::Notify,
}

impl SinkShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Backlog> {
        self.backlog.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The send side of a stream face as the forwarder task holds it: packets
/// are encoded into one buffer during a flush and written with one
/// non-blocking write after it; what the socket does not take goes to the
/// face's send task, in order.
pub struct StreamSink {
    link: LinkService,
    buf: BytesMut,
    writer: Arc<dyn TryWrite>,
    shared: Arc<SinkShared>,
}

impl std::fmt::Debug for StreamSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSink")
            .field("pending", &self.buf.len())
            .finish()
    }
}

impl StreamSink {
    /// Nothing encoded since the last [`StreamSink::write_out`].
    pub fn is_clean(&self) -> bool {
        self.buf.is_empty()
    }

    /// Encodes `o` for sending; `false` (a drop to count) when it cannot be
    /// encoded or the face already has [`SEND_BUFFER_BYTES`] waiting.
    pub fn push(&mut self, o: crate::fw::Outgoing) -> bool {
        let queued = self.shared.queued.load(Ordering::Relaxed);
        if self.buf.len() + queued >= SEND_BUFFER_BYTES {
            return false;
        }
        let before = self.buf.len();
        match self.link.send_into(&o.packet, o.pit_token, &mut self.buf) {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(face = %o.face, error = %e, "cannot encode packet for face");
                self.buf.truncate(before);
                false
            }
        }
    }

    /// Writes what was encoded: directly when the send task is idle and
    /// the socket takes it, the rest through the send task. Returns the
    /// bytes written directly.
    pub fn write_out(&mut self) -> usize {
        if self.buf.is_empty() {
            return 0;
        }
        let mut b = self.shared.lock();
        if b.failed || b.closed {
            self.buf.clear();
            return 0;
        }
        let mut written = 0;
        if !b.busy {
            while written < self.buf.len() {
                match self.writer.try_write_now(&self.buf[written..]) {
                    Ok(0) => break,
                    Ok(n) => written += n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        // The receive task sees the connection end too.
                        b.failed = true;
                        self.buf.clear();
                        return written;
                    }
                }
            }
        }
        if written == self.buf.len() {
            self.buf.clear();
            return written;
        }
        // Never dropped here (part of a frame may be out already): the
        // bound is kept by `push`, which counts what it refuses.
        bytes::Buf::advance(&mut self.buf, written);
        let rest = self.buf.split().freeze();
        self.shared.queued.fetch_add(rest.len(), Ordering::Relaxed);
        b.chunks.push_back(rest);
        if !b.busy {
            b.busy = true;
            drop(b);
            self.shared.wake.notify_one();
        }
        written
    }
}

impl Drop for StreamSink {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

/// The face's send task: writes the backlog the forwarder task left, in
/// order, waiting for the socket; ends when the face is gone and the
/// backlog written, or on a write error.
async fn write_backlog<W: WriteHalf>(
    writer: Arc<W>,
    shared: Arc<SinkShared>,
    stats: Arc<FaceStats>,
    cancel: tokio_util::sync::CancellationToken,
) {
    loop {
        let chunk = {
            let mut b = shared.lock();
            match b.chunks.pop_front() {
                Some(c) => Some(c),
                None => {
                    b.busy = false;
                    if b.closed || b.failed {
                        return;
                    }
                    None
                }
            }
        };
        let Some(chunk) = chunk else {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = shared.wake.notified() => continue,
            }
        };
        shared.queued.fetch_sub(chunk.len(), Ordering::Relaxed);
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            match writer.try_write_now(rest) {
                Ok(0) => break,
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let ready = tokio::select! {
                        _ = cancel.cancelled() => return,
                        r = writer.writable() => r,
                    };
                    if ready.is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        if !rest.is_empty() {
            let mut b = shared.lock();
            b.failed = true;
            b.busy = false;
            b.chunks.clear();
            shared.queued.store(0, Ordering::Relaxed);
            return;
        }
        stats
            .out_bytes
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
    }
}

/// Starts a face over a connected stream; returns its id.
pub async fn spawn_face<S: StreamSocket>(
    handle: &ForwarderHandle,
    stream: S,
    meta: FaceMeta,
) -> Result<FaceId, Stopped> {
    let face = handle.allocate_face_id();
    let (mut rd, wr) = stream.into_halves();
    let writer = Arc::new(wr);
    let stats = Arc::new(FaceStats::default());
    let shared = Arc::new(SinkShared {
        backlog: Default::default(),
        queued: Default::default(),
        wake: tokio::sync::Notify::new(),
    });
    let sink = StreamSink {
        link: LinkService::new(None),
        buf: BytesMut::new(),
        writer: writer.clone(),
        shared: shared.clone(),
    };
    handle
        .events()
        .send(Event::FaceUp {
            face,
            meta,
            tx: FaceTx::Stream(Box::new(sink)),
            stats: stats.clone(),
        })
        .await
        .map_err(|_| Stopped)?;
    tokio::spawn(write_backlog(
        writer,
        shared,
        stats.clone(),
        handle.cancel_token().clone(),
    ));
    let events = handle.events().clone();
    let cancel = handle.cancel_token().clone();
    tokio::spawn(async move {
        let mut link = LinkService::new(None);
        let mut frames = FrameReader::default();
        'conn: loop {
            // One clock reading per batch read (the link service needs it
            // only for reassembly timeouts; a vDSO call per frame showed).
            let now = Instant::now();
            // Deliver every complete frame in the buffer.
            loop {
                match frames.next_frame() {
                    Ok(Some(frame)) => {
                        stats
                            .in_bytes
                            .fetch_add(frame.len() as u64, Ordering::Relaxed);
                        let ev = match link.receive(frame, now) {
                            Ok(Some(rx)) => Event::Received { face, rx },
                            Ok(None) => continue,
                            Err(e) => {
                                tracing::debug!(%face, error = %e, "malformed packet");
                                Event::Malformed { face }
                            }
                        };
                        // Backpressure on this connection only.
                        stats.acquire_credit().await;
                        if events.send(ev).await.is_err() {
                            break 'conn;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(%face, error = %e, "stream lost framing; closing face");
                        stats.acquire_credit().await;
                        let _ = events.send(Event::Malformed { face }).await;
                        break 'conn;
                    }
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                r = frames.fill(&mut rd) => match r {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                },
            }
        }
        let _ = events.send(Event::FaceDown { face }).await;
    });
    Ok(face)
}

/// A Unix-socket listener that removes its socket file when dropped.
#[derive(Debug)]
pub struct UnixListenerGuard {
    path: PathBuf,
}

impl Drop for UnixListenerGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Listens on a Unix socket at `path` (a stale socket file is replaced;
/// parent directories are created) and accepts faces until cancelled.
pub async fn listen_unix(
    handle: ForwarderHandle,
    path: &Path,
) -> std::io::Result<UnixListenerGuard> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if path.exists() {
        // Refuse to steal a socket another forwarder is serving.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("{} is served by another process", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    let uri = format!("unix://{}", path.display());
    let cancel = handle.cancel_token().clone();
    tokio::spawn(async move {
        loop {
            let conn = tokio::select! {
                _ = cancel.cancelled() => break,
                c = listener.accept() => c,
            };
            match conn {
                Ok((stream, _)) => {
                    let stream = match QuietStream::unix(stream) {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::warn!(error = %e, "unix face setup failed");
                            continue;
                        }
                    };
                    let meta = FaceMeta {
                        kind: FaceKind::Unix,
                        remote_uri: "fd://".to_string(),
                        local_uri: uri.clone(),
                        scope: FaceScope::LOCAL,
                        persistency: FacePersistency::ON_DEMAND,
                        link_type: LinkType::POINT_TO_POINT,
                        mtu: None,
                    };
                    if spawn_face(&handle, stream, meta).await.is_err() {
                        break;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "unix accept failed"),
            }
        }
    });
    Ok(UnixListenerGuard {
        path: path.to_path_buf(),
    })
}

fn tcp_meta(
    local: std::net::SocketAddr,
    remote: std::net::SocketAddr,
    persistency: FacePersistency,
) -> FaceMeta {
    FaceMeta {
        kind: FaceKind::Tcp,
        remote_uri: format!("tcp{}://{remote}", if remote.is_ipv4() { 4 } else { 6 }),
        local_uri: format!("tcp{}://{local}", if local.is_ipv4() { 4 } else { 6 }),
        scope: if remote.ip().is_loopback() {
            FaceScope::LOCAL
        } else {
            FaceScope::NON_LOCAL
        },
        persistency,
        link_type: LinkType::POINT_TO_POINT,
        mtu: None,
    }
}

/// Listens for TCP faces on `addr`; returns the bound address.
pub async fn listen_tcp(
    handle: ForwarderHandle,
    addr: std::net::SocketAddr,
) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let cancel = handle.cancel_token().clone();
    tokio::spawn(async move {
        loop {
            let conn = tokio::select! {
                _ = cancel.cancelled() => break,
                c = listener.accept() => c,
            };
            match conn {
                Ok((stream, remote)) => {
                    let _ = stream.set_nodelay(true);
                    let stream = match QuietStream::tcp(stream) {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::warn!(error = %e, "tcp face setup failed");
                            continue;
                        }
                    };
                    let meta = tcp_meta(local, remote, FacePersistency::ON_DEMAND);
                    if spawn_face(&handle, stream, meta).await.is_err() {
                        break;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "tcp accept failed"),
            }
        }
    });
    Ok(local)
}

/// Opens a persistent TCP face to `remote`.
pub async fn connect_tcp(
    handle: &ForwarderHandle,
    remote: std::net::SocketAddr,
) -> std::io::Result<FaceId> {
    let stream = tokio::net::TcpStream::connect(remote).await?;
    let _ = stream.set_nodelay(true);
    let meta = tcp_meta(stream.local_addr()?, remote, FacePersistency::PERSISTENT);
    spawn_face(handle, QuietStream::tcp(stream)?, meta)
        .await
        .map_err(|_| std::io::Error::other("forwarder stopped"))
}
