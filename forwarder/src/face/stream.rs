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
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::link_service::LinkService;
use super::{FaceKind, FaceMeta, SEND_QUEUE};
use crate::runtime::{Event, FaceStats, ForwarderHandle, Stopped};
use crate::FaceId;

/// Starts a face over a connected stream; returns its id.
pub async fn spawn_face<S>(
    handle: &ForwarderHandle,
    stream: S,
    meta: FaceMeta,
) -> Result<FaceId, Stopped>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let face = handle.allocate_face_id();
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (queue_tx, queue_rx) = mpsc::channel(SEND_QUEUE);
    let stats = Arc::new(FaceStats::default());
    handle
        .events()
        .send(Event::FaceUp {
            face,
            meta,
            tx: queue_tx,
            stats: stats.clone(),
        })
        .await
        .map_err(|_| Stopped)?;
    // One send task: encodes what is queued (up to 256 kB) and writes it in
    // one call. (A separate writer task cost two more wakeups per packet.)
    let send_stats = stats.clone();
    let mut queue_rx = queue_rx;
    tokio::spawn(async move {
        let mut link = LinkService::new(None);
        let mut buf = BytesMut::with_capacity(64 * 1024);
        while let Some(first) = queue_rx.recv().await {
            buf.clear();
            let mut next = Some(first);
            while let Some(o) = next.take() {
                match link.send_into(&o.packet, o.pit_token, &mut buf) {
                    Ok(()) => {}
                    Err(e) => {
                        tracing::debug!(%face, error = %e, "cannot encode packet for face");
                        send_stats.drops.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if buf.len() < 256 * 1024 {
                    next = queue_rx.try_recv().ok();
                }
            }
            if buf.is_empty() {
                continue;
            }
            if wr.write_all(&buf).await.is_err() {
                break;
            }
            send_stats
                .out_bytes
                .fetch_add(buf.len() as u64, Ordering::Relaxed);
        }
        let _ = wr.shutdown().await;
    });
    let events = handle.events().clone();
    let cancel = handle.cancel_token().clone();
    tokio::spawn(async move {
        let mut link = LinkService::new(None);
        let mut buf = BytesMut::with_capacity(64 * 1024);
        'conn: loop {
            // Deliver every complete frame in the buffer.
            loop {
                match picasso_tlv::wire::frame_len(&buf) {
                    Ok(Some(n)) => {
                        // A copy per frame: sharing the read buffer would make
                        // every Bytes clone in the forwarder bump one hot
                        // refcount across threads, and keep whole 64 kB
                        // buffers alive for one PIT entry.
                        let frame = Bytes::copy_from_slice(&buf[..n]);
                        bytes::Buf::advance(&mut buf, n);
                        stats.in_bytes.fetch_add(n as u64, Ordering::Relaxed);
                        let ev = match link.receive(frame, Instant::now()) {
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
            if buf.capacity() - buf.len() < 16 * 1024 {
                buf.reserve(64 * 1024);
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                r = rd.read_buf(&mut buf) => match r {
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
    spawn_face(handle, stream, meta)
        .await
        .map_err(|_| std::io::Error::other("forwarder stopped"))
}
