//! Emulated links between test-bed nodes: a UDP relay per link that holds
//! every datagram for a fixed one-way delay (the paper's test bed has 5 ms
//! RTT, so 2.5 ms each way).
//!
//! The kernel's `netem` qdisc is the usual tool, but it is not always
//! there (containers, minimal kernels) and applying it to `lo` would slow
//! every loopback user of the machine. A relay in user space delays only
//! the test bed's own links and works everywhere:
//!
//! ```text
//!  node A (udp :PA) ──► relay socket SA (:RA) ──delay──► SB (:RB) ──► node B (udp :PB)
//!  node A ◄── SA ◄──delay── SB ◄── node B
//! ```
//!
//! A is configured with neighbour `udp://127.0.0.1:RA`, B with
//! `udp://127.0.0.1:RB`; each sees all of the link's traffic come from the
//! address it was told, so on-demand faces do not multiply.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Datagrams a relay direction queues before dropping (a bounded link).
const QUEUE: usize = 4096;
/// Socket buffer size asked for (the kernel may cap it at rmem_max).
const BUFFER: usize = 8 << 20;

/// Counters of one link.
#[derive(Debug, Default)]
pub struct LinkCounters {
    /// Datagrams carried A → B.
    pub a_to_b: AtomicU64,
    /// Datagrams carried B → A.
    pub b_to_a: AtomicU64,
    /// Datagrams dropped (queue full or send error).
    pub dropped: AtomicU64,
}

/// A running link relay.
#[derive(Debug)]
pub struct Link {
    /// The address node A must use for its neighbour B.
    pub a_side: SocketAddr,
    /// The address node B must use for its neighbour A.
    pub b_side: SocketAddr,
    /// Its counters.
    pub counters: Arc<LinkCounters>,
}

impl Link {
    /// Binds two relay sockets on 127.0.0.1 and relays between the nodes
    /// listening at `a` and `b` with `delay` each way, until `cancel`.
    pub async fn start(
        a: SocketAddr,
        b: SocketAddr,
        delay: Duration,
        cancel: CancellationToken,
    ) -> std::io::Result<Link> {
        let sa = Arc::new(relay_socket()?);
        let sb = Arc::new(relay_socket()?);
        let counters = Arc::new(LinkCounters::default());
        let link = Link {
            a_side: sa.local_addr()?,
            b_side: sb.local_addr()?,
            counters: counters.clone(),
        };
        // A → B: read on SA (only from A), send from SB to B.
        spawn_direction(
            sa.clone(),
            a,
            sb.clone(),
            b,
            delay,
            counters.clone(),
            true,
            cancel.clone(),
        );
        spawn_direction(sb, b, sa, a, delay, counters, false, cancel);
        Ok(link)
    }
}

/// A relay socket on 127.0.0.1 with large buffers: a burst of image
/// segments should queue in the relay (the link), not overflow a default
/// 200 kB socket buffer.
fn relay_socket() -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::DGRAM, None)?;
    let _ = s.set_recv_buffer_size(BUFFER);
    let _ = s.set_send_buffer_size(BUFFER);
    s.set_nonblocking(true)?;
    s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
    UdpSocket::from_std(s.into())
}

/// One direction: datagrams from `from` arriving on `rx` leave `tx` for
/// `to` after `delay`, in order.
#[allow(clippy::too_many_arguments)]
fn spawn_direction(
    rx: Arc<UdpSocket>,
    from: SocketAddr,
    tx: Arc<UdpSocket>,
    to: SocketAddr,
    delay: Duration,
    counters: Arc<LinkCounters>,
    a_to_b: bool,
    cancel: CancellationToken,
) {
    let (queue_tx, mut queue_rx) = mpsc::channel::<(Instant, Vec<u8>)>(QUEUE);
    let c = counters.clone();
    let stop = cancel.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        loop {
            let got = tokio::select! {
                _ = stop.cancelled() => return,
                r = rx.recv_from(&mut buf) => r,
            };
            let Ok((n, src)) = got else { continue };
            // Only the node this side belongs to may use it.
            if src != from {
                c.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let due = Instant::now() + delay;
            if queue_tx.try_send((due, buf[..n].to_vec())).is_err() {
                c.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    tokio::spawn(async move {
        loop {
            let item = tokio::select! {
                _ = cancel.cancelled() => return,
                i = queue_rx.recv() => i,
            };
            let Some((due, packet)) = item else { return };
            tokio::time::sleep_until(due).await;
            match tx.send_to(&packet, to).await {
                Ok(_) if a_to_b => counters.a_to_b.fetch_add(1, Ordering::Relaxed),
                Ok(_) => counters.b_to_a.fetch_add(1, Ordering::Relaxed),
                Err(_) => counters.dropped.fetch_add(1, Ordering::Relaxed),
            };
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn relays_both_ways_with_the_delay_and_rejects_strangers() {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let cancel = CancellationToken::new();
        let delay = Duration::from_millis(20);
        let link = Link::start(
            a.local_addr().unwrap(),
            b.local_addr().unwrap(),
            delay,
            cancel.clone(),
        )
        .await
        .unwrap();
        let mut buf = [0u8; 64];

        let t = std::time::Instant::now();
        a.send_to(b"ping", link.a_side).await.unwrap();
        let (n, src) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"ping");
        assert_eq!(src, link.b_side, "B sees the link's B side as its peer");
        assert!(t.elapsed() >= delay, "held for the delay");

        b.send_to(b"pong", src).await.unwrap();
        let (n, src) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"pong");
        assert_eq!(src, link.a_side);

        // A third party cannot inject through A's side.
        let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        stranger.send_to(b"evil", link.a_side).await.unwrap();
        let waited = tokio::time::timeout(Duration::from_millis(200), b.recv_from(&mut buf)).await;
        assert!(waited.is_err(), "nothing relayed from a stranger");
        assert_eq!(link.counters.dropped.load(Ordering::Relaxed), 1);
        assert_eq!(link.counters.a_to_b.load(Ordering::Relaxed), 1);
        assert_eq!(link.counters.b_to_a.load(Ordering::Relaxed), 1);
        cancel.cancel();
    }
}
