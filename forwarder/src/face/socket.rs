//! Stream sockets registered for what their owner waits for, and the
//! frame reader both stream faces and stream clients use.
//!
//! tokio registers every socket for readability *and* writability,
//! edge-triggered. On a local stream each read by the peer frees send
//! space and raises a writability edge, so a process whose sockets are
//! all idle-writable is woken once more per packet it sent, only to find
//! nothing to do. Over loopback those wake-ups (a context switch each, an
//! inter-processor interrupt on a VM) cost more than forwarding the packet.
//! [`QuietStream`] registers the socket for readability only; a writer that
//! finds the socket full registers a duplicate of the descriptor for
//! writability for as long as it waits, then drops it.
//!
//! ```text
//!  socket ──AsyncFd(READABLE)──► read half: FrameReader ──► frames
//!         ◄──write(2) now─────── write half ──(full)──► dup fd AsyncFd(WRITABLE), awaited, dropped
//! ```

use std::future::Future;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// The read half of a stream socket as faces and clients use it.
pub trait ReadHalf: Send + 'static {
    /// Reads what is there (waiting until something is); `Ok(0)` at the end.
    fn read_some<'a>(
        &'a mut self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = std::io::Result<usize>> + Send + 'a;
}

macro_rules! tokio_read_half {
    ($t:ty) => {
        impl ReadHalf for $t {
            fn read_some<'a>(
                &'a mut self,
                buf: &'a mut [u8],
            ) -> impl Future<Output = std::io::Result<usize>> + Send + 'a {
                tokio::io::AsyncReadExt::read(self, buf)
            }
        }
    };
}
tokio_read_half!(tokio::net::unix::OwnedReadHalf);
tokio_read_half!(tokio::net::tcp::OwnedReadHalf);

mod sealed {
    /// Only std's own sockets: [`super::register`]'s soundness rests on
    /// `as_raw_fd` naming one descriptor for the value's whole life.
    pub trait Sealed {}
    impl Sealed for std::os::unix::net::UnixStream {}
    impl Sealed for std::net::TcpStream {}
}

/// A std stream socket [`QuietStream`] can wrap (sealed: std's Unix and TCP
/// streams only).
pub trait StdStream: sealed::Sealed + AsRawFd + Send + Sync + Sized + 'static
where
    for<'a> &'a Self: Read + Write,
{
    /// A second descriptor for the same socket.
    fn duplicate(&self) -> std::io::Result<Self>;
    /// Shuts down the sending direction (the peer reads the end).
    fn shutdown_write(&self);
    /// Makes the socket non-blocking.
    fn nonblocking(&self) -> std::io::Result<()>;
}

// std's two stream types have the same inherent methods, no common trait.
macro_rules! std_stream {
    ($($t:ty),*) => {$(
        impl StdStream for $t {
            fn duplicate(&self) -> std::io::Result<Self> {
                self.try_clone()
            }
            fn shutdown_write(&self) {
                let _ = self.shutdown(std::net::Shutdown::Write);
            }
            fn nonblocking(&self) -> std::io::Result<()> {
                self.set_nonblocking(true)
            }
        }
    )*};
}
std_stream!(std::os::unix::net::UnixStream, std::net::TcpStream);

/// A non-blocking stream socket registered with the runtime for
/// readability only (see the module documentation).
#[derive(Debug)]
pub struct QuietStream<S: AsRawFd> {
    fd: Arc<AsyncFd<S>>,
}

impl QuietStream<std::os::unix::net::UnixStream> {
    /// Takes over a tokio Unix stream.
    pub fn unix(s: tokio::net::UnixStream) -> std::io::Result<Self> {
        Self::new(s.into_std()?)
    }
}

impl QuietStream<std::net::TcpStream> {
    /// Takes over a tokio TCP stream.
    pub fn tcp(s: tokio::net::TcpStream) -> std::io::Result<Self> {
        Self::new(s.into_std()?)
    }
}

impl<S: StdStream> QuietStream<S>
where
    for<'a> &'a S: Read + Write,
{
    /// Wraps a connected socket (made non-blocking here). Must be called
    /// within a tokio runtime.
    pub fn new(s: S) -> std::io::Result<Self> {
        s.nonblocking()?;
        Ok(Self {
            fd: Arc::new(register(s, Interest::READABLE)?),
        })
    }
}

/// Registers `s` with the runtime for `interest`.
///
/// tokio 1.54 deprecated the safe constructor because a type's `as_raw_fd`
/// could change or close its descriptor behind the registration; `S` here
/// is one of std's own sockets, which owns one descriptor for its whole
/// life and closes it only when dropped (after the `AsyncFd`'s
/// deregistration), so the constructor's contract holds.
#[allow(deprecated)]
fn register<S: StdStream>(s: S, interest: Interest) -> std::io::Result<AsyncFd<S>>
where
    for<'a> &'a S: Read + Write,
{
    AsyncFd::with_interest(s, interest)
}

/// The read half of a [`QuietStream`].
#[derive(Debug)]
pub struct QuietRead<S: AsRawFd> {
    fd: Arc<AsyncFd<S>>,
}

impl<S: StdStream> ReadHalf for QuietRead<S>
where
    for<'a> &'a S: Read + Write,
{
    async fn read_some(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            // Readiness is cached between edges: after a read that filled
            // the buffer this returns at once and the next read goes ahead.
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| fd.get_ref().read(buf)) {
                Ok(Ok(n)) => {
                    // A short read drained the socket (as tokio's own
                    // streams assume): wait for the next edge rather than
                    // spend a read(2) on EAGAIN. The guard clears only if
                    // no new readiness arrived since it was taken.
                    if n > 0 && n < buf.len() {
                        guard.clear_ready();
                    }
                    return Ok(n);
                }
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }
}

/// The write half of a [`QuietStream`]; dropping it shuts the sending
/// direction down, as tokio's owned write halves do.
#[derive(Debug)]
pub struct QuietWrite<S: StdStream>
where
    for<'a> &'a S: Read + Write,
{
    fd: Arc<AsyncFd<S>>,
}

impl<S: StdStream> Drop for QuietWrite<S>
where
    for<'a> &'a S: Read + Write,
{
    fn drop(&mut self) {
        self.fd.get_ref().shutdown_write();
    }
}

impl<S: StdStream> super::stream::WriteHalf for QuietWrite<S>
where
    for<'a> &'a S: Read + Write,
{
    fn try_write_now(&self, buf: &[u8]) -> std::io::Result<usize> {
        self.fd.get_ref().write(buf)
    }

    async fn writable(&self) -> std::io::Result<()> {
        // Registered for as long as this waits: an edge that came between
        // the failed write and now is reported at once.
        let dup = register(self.fd.get_ref().duplicate()?, Interest::WRITABLE)?;
        let _ready = dup.writable().await?;
        Ok(())
    }
}

impl<S: StdStream> super::stream::StreamSocket for QuietStream<S>
where
    for<'a> &'a S: Read + Write,
{
    type Read = QuietRead<S>;
    type Write = QuietWrite<S>;
    fn into_halves(self) -> (QuietRead<S>, QuietWrite<S>) {
        (
            QuietRead {
                fd: self.fd.clone(),
            },
            QuietWrite { fd: self.fd },
        )
    }
}

/// Splits a byte stream into TLV frames: one buffer, initialised once,
/// read into and compacted in place; each frame copied out (so the
/// forwarder's clones of a packet do not share one hot refcount with the
/// read buffer or keep a whole buffer alive).
#[derive(Debug)]
pub struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Default for FrameReader {
    fn default() -> Self {
        Self::new(64 * 1024)
    }
}

impl FrameReader {
    /// A reader with a `capacity`-byte buffer (at least one largest packet).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(picasso_tlv::MAX_PACKET_SIZE + 16);
        Self {
            buf: vec![0; capacity],
            start: 0,
            end: 0,
        }
    }

    /// The next complete frame in the buffer; `Err` when the stream lost
    /// framing (a header that cannot start a packet).
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, picasso_tlv::DecodeError> {
        let have = &self.buf[self.start..self.end];
        match picasso_tlv::wire::frame_len(have)? {
            Some(n) => {
                let frame = Bytes::copy_from_slice(&have[..n]);
                self.start += n;
                if self.start == self.end {
                    self.start = 0;
                    self.end = 0;
                }
                Ok(Some(frame))
            }
            None => Ok(None),
        }
    }

    /// Reads more from `rd`; `Ok(0)` at the end of the stream.
    pub async fn fill<R: ReadHalf>(&mut self, rd: &mut R) -> std::io::Result<usize> {
        // A frame never exceeds MAX_PACKET_SIZE, which `new` leaves room
        // for: compacting makes space whenever the tail is short.
        if self.buf.len() - self.end < picasso_tlv::MAX_PACKET_SIZE {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = rd.read_some(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::stream::{StreamSocket, WriteHalf};

    fn frame(len: usize, fill: u8) -> Vec<u8> {
        // A Data TLV (type 6) with `len` bytes of opaque value.
        let mut f = vec![6u8];
        if len < 253 {
            f.push(len as u8);
        } else {
            f.push(253);
            f.extend_from_slice(&(len as u16).to_be_bytes());
        }
        f.extend(std::iter::repeat_n(fill, len));
        f
    }

    #[tokio::test]
    async fn test_frames_across_reads_and_compaction() {
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        let (mut rd, _wa) = QuietStream::unix(a).unwrap().into_halves();
        let (_rb, wb) = QuietStream::unix(b).unwrap().into_halves();
        let mut sent = Vec::new();
        for i in 0..200usize {
            sent.push(frame(1 + (i * 97) % 8000, i as u8));
        }
        let all: Vec<u8> = sent.concat();
        let writer = tokio::spawn(async move {
            let mut rest = &all[..];
            // Odd-sized writes split frames across reads.
            while !rest.is_empty() {
                let k = rest.len().min(3001);
                match wb.try_write_now(&rest[..k]) {
                    Ok(n) => rest = &rest[n..],
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        wb.writable().await.unwrap()
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            // Dropping the write half ends the stream for the reader.
        });
        let mut fr = FrameReader::new(16 * 1024);
        let mut got = Vec::new();
        loop {
            while let Some(f) = fr.next_frame().unwrap() {
                got.push(f.to_vec());
            }
            if fr.fill(&mut rd).await.unwrap() == 0 {
                break;
            }
        }
        writer.await.unwrap();
        assert_eq!(got, sent);
    }

    #[tokio::test]
    async fn test_writer_waits_for_space_then_finishes() {
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        let (mut rd, _wa) = QuietStream::unix(a).unwrap().into_halves();
        let (_rb, wb) = QuietStream::unix(b).unwrap().into_halves();
        // Far more than a socket buffer: the writer must block and be
        // woken through the duplicate registration.
        let total = 8 * 1024 * 1024;
        let writer = tokio::spawn(async move {
            let chunk = vec![7u8; 64 * 1024];
            let mut sent = 0;
            let mut waits = 0;
            while sent < total {
                match wb.try_write_now(&chunk[..chunk.len().min(total - sent)]) {
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        waits += 1;
                        wb.writable().await.unwrap();
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            waits
        });
        let mut buf = vec![0u8; 32 * 1024];
        let mut received = 0;
        loop {
            let n = rd.read_some(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            received += n;
        }
        assert_eq!(received, total);
        assert!(writer.await.unwrap() > 0, "the socket buffer never filled");
    }

    #[tokio::test]
    async fn test_lost_framing_is_an_error() {
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        let (mut rd, _wa) = QuietStream::unix(a).unwrap().into_halves();
        let (_rb, wb) = QuietStream::unix(b).unwrap().into_halves();
        // TLV-LENGTH far above the largest packet.
        wb.try_write_now(&[6, 0xFE, 0x7F, 0, 0, 0]).unwrap();
        let mut fr = FrameReader::default();
        fr.fill(&mut rd).await.unwrap();
        assert!(fr.next_frame().is_err());
    }
}
