//! The forwarder task: one tokio task owns the [`Forwarder`] and its face
//! table (no locks), fed by one bounded channel of [`Event`]s from the
//! faces' receive tasks. Packets to send go into each face's own bounded
//! queue with `try_send` (UDP, in-process), or are encoded into a stream
//! face's send buffer and written once per batch by this task; a full
//! queue or buffer is a counted drop.
//!
//! ```text
//!  face rx tasks ──Event──► [ forwarder task: Forwarder + faces + mgmt ] ──(OutPacket)──► face tx tasks
//!                                            └──one write per stream face per batch──► socket
//!  ForwarderHandle::call ──► closures run on the task (routes, face creation, embedding)
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::face::link_service::{NetPacket, Received};
use crate::face::{FaceKind, FaceMeta};
use crate::fw::{Forwarder, ForwarderLimits, OutPacket, Outgoing};
use crate::FaceId;

/// Capacity of the channel from faces to the forwarder task.
pub const EVENT_QUEUE: usize = 16 * 1024;

/// Most packets one face may have waiting in the forwarder's event queue.
/// A face at its limit waits (streams: backpressure on that connection
/// only) or drops and counts (UDP), so a flooding face cannot fill the
/// shared queue and delay every other face.
pub const FACE_EVENT_CREDITS: usize = 256;

/// Byte counters a face's tasks update and the forwarder reads.
#[derive(Debug)]
pub struct FaceStats {
    /// Bytes received.
    pub in_bytes: AtomicU64,
    /// Bytes sent.
    pub out_bytes: AtomicU64,
    /// Frames dropped by the face (malformed, send errors, no credit).
    pub drops: AtomicU64,
    /// Event-queue credits: taken by the receive task per packet, returned
    /// by the forwarder once it has handled it.
    pub credits: tokio::sync::Semaphore,
}

impl Default for FaceStats {
    fn default() -> Self {
        Self {
            in_bytes: AtomicU64::new(0),
            out_bytes: AtomicU64::new(0),
            drops: AtomicU64::new(0),
            credits: tokio::sync::Semaphore::new(FACE_EVENT_CREDITS),
        }
    }
}

impl FaceStats {
    /// Waits for an event-queue credit (the forwarder returns it).
    pub async fn acquire_credit(&self) {
        if let Ok(p) = self.credits.acquire().await {
            p.forget();
        }
    }

    /// Takes a credit if one is free.
    pub fn try_acquire_credit(&self) -> bool {
        match self.credits.try_acquire() {
            Ok(p) => {
                p.forget();
                true
            }
            Err(_) => false,
        }
    }
}

/// What faces and embedders tell the forwarder task.
// `Received` is the hot variant and by far the most common: boxing it to
// shrink the others would cost an allocation per packet.
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// A packet arrived on `face`.
    Received {
        /// The face.
        face: FaceId,
        /// The packet with its link headers.
        rx: Received,
    },
    /// A frame on `face` could not be decoded.
    Malformed {
        /// The face.
        face: FaceId,
    },
    /// A face came up; `tx` is its send queue.
    FaceUp {
        /// Its id.
        face: FaceId,
        /// What it is.
        meta: FaceMeta,
        /// Its send side.
        tx: FaceTx,
        /// Its byte counters.
        stats: Arc<FaceStats>,
    },
    /// A face closed.
    FaceDown {
        /// Its id.
        face: FaceId,
    },
    /// Run a closure on the forwarder task.
    Call(Box<dyn FnOnce(&mut Core) + Send>),
}

/// A face as the forwarder task holds it.
#[derive(Debug)]
pub struct FaceSlot {
    /// Description.
    pub meta: FaceMeta,
    /// Send side.
    pub tx: FaceTx,
    /// Byte counters.
    pub stats: Arc<FaceStats>,
}

/// How the forwarder task hands packets to a face.
#[derive(Debug)]
pub enum FaceTx {
    /// The face's bounded queue, drained by its send task (UDP, in-process).
    Queue(mpsc::Sender<Outgoing>),
    /// A stream socket the forwarder task encodes into and writes itself,
    /// once per batch, without a hop through a send task.
    Stream(Box<crate::face::stream::StreamSink>),
}

/// Everything the forwarder task owns.
pub struct Core {
    /// Tables, strategies and pipelines.
    pub fwd: Forwarder,
    /// Faces by id.
    pub faces: crate::table::id_map::IdMap<FaceId, FaceSlot>,
    /// Management state (RIB, dataset versions, command replay windows).
    pub mgmt: crate::mgmt::Management,
    /// A handle to this task (for faces created by management).
    pub handle: ForwarderHandle,
    /// When the forwarder started.
    pub started: std::time::SystemTime,
    /// Reused buffer for the outbox.
    out_buf: Vec<Outgoing>,
    /// Event-queue credits to return after the batch, per face (runs of
    /// one face's packets merged: one semaphore update per run, not per packet).
    credits: Vec<(FaceId, usize)>,
    /// Stream faces with bytes encoded in this flush, to write after it.
    dirty: Vec<FaceId>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("fwd", &self.fwd)
            .field("faces", &self.faces.len())
            .finish()
    }
}

/// A cheap, cloneable handle to a running forwarder.
#[derive(Clone, Debug)]
pub struct ForwarderHandle {
    events: mpsc::Sender<Event>,
    next_face: Arc<AtomicU64>,
    cancel: CancellationToken,
}

/// The forwarder task has stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the forwarder has stopped")]
pub struct Stopped;

impl ForwarderHandle {
    /// Allocates a face id (ids below 256 are reserved, as in NFD).
    pub fn allocate_face_id(&self) -> FaceId {
        FaceId(self.next_face.fetch_add(1, Ordering::Relaxed))
    }

    /// The event channel faces send to.
    pub fn events(&self) -> &mpsc::Sender<Event> {
        &self.events
    }

    /// The cancellation token that stops the forwarder and its faces.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Runs `f` on the forwarder task and returns its result.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Core) -> R + Send + 'static,
    ) -> Result<R, Stopped> {
        let (tx, rx) = oneshot::channel();
        self.events
            .send(Event::Call(Box::new(move |core| {
                let _ = tx.send(f(core));
            })))
            .await
            .map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }

    /// Adds a route `prefix → face` with `cost` (origin static), as `nfdc route add` does.
    pub async fn add_route(
        &self,
        prefix: picasso_tlv::Name,
        face: FaceId,
        cost: u64,
    ) -> Result<(), Stopped> {
        self.call(move |core| {
            core.mgmt.rib.add(
                &mut core.fwd,
                crate::mgmt::rib::Route {
                    prefix,
                    face,
                    origin: picasso_tlv::mgmt::RouteOrigin::STATIC,
                    cost,
                    flags: picasso_tlv::mgmt::ROUTE_FLAG_CHILD_INHERIT,
                    expires: None,
                },
            )
        })
        .await
    }

    /// Makes `channel` available to `faces/create` for `udp4://`/`udp6://`
    /// faces (the daemon calls this for each UDP channel it binds).
    pub async fn add_udp_channel(
        &self,
        channel: crate::face::udp::UdpChannel,
    ) -> Result<(), Stopped> {
        self.call(move |core| core.mgmt.udp_channels.push(channel))
            .await
    }

    /// Replaces the management settings (`/localhop/nfd`, trusted keys).
    pub async fn configure_management(
        &self,
        config: crate::mgmt::MgmtConfig,
    ) -> Result<(), Stopped> {
        self.call(move |core| core.mgmt.configure(&mut core.fwd, config))
            .await
    }

    /// Stops the forwarder and every face.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }
}

/// Starts a forwarder task that never busy-polls; returns its handle and
/// join handle.
pub fn spawn(limits: ForwarderLimits) -> (ForwarderHandle, tokio::task::JoinHandle<()>) {
    spawn_polling(limits, Duration::ZERO)
}

/// Starts a forwarder task that busy-polls for up to `busy_poll` after
/// each batch of events (see [`BusyPoll`]); returns its handle and join
/// handle.
pub fn spawn_polling(
    limits: ForwarderLimits,
    busy_poll: Duration,
) -> (ForwarderHandle, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(EVENT_QUEUE);
    let handle = ForwarderHandle {
        events: tx,
        next_face: Arc::new(AtomicU64::new(256)),
        cancel: CancellationToken::new(),
    };
    let mut core = Core {
        fwd: Forwarder::new(limits),
        faces: Default::default(),
        mgmt: crate::mgmt::Management::new(),
        handle: handle.clone(),
        started: std::time::SystemTime::now(),
        out_buf: Vec::new(),
        credits: Vec::new(),
        dirty: Vec::new(),
    };
    core.fwd.add_face(FaceId::INTERNAL, true);
    core.fwd.add_face(FaceId::CONTENT_STORE, true);
    core.mgmt.install(&mut core.fwd);
    let join = tokio::spawn(run(core, rx, busy_poll));
    (handle, join)
}

/// Longest a due timer (PIT expiry, upstream timeout) waits behind traffic:
/// timers are checked between event batches at most this often, instead of
/// after every batch.
const TICK_GRANULARITY: Duration = Duration::from_millis(5);

/// Adaptive busy-polling, after KVM's halt-polling: when the forwarder
/// task runs out of events it keeps polling the sockets (yielding to the
/// runtime, which checks for I/O without blocking) for a window before it
/// sleeps. Under load the next packet nearly always arrives within it, so
/// the task is not put to sleep and woken again per packet — on loopback,
/// and more so on a virtual machine, those two context switches cost more
/// than forwarding the packet. The window grows (doubling from 10 µs up to
/// the configured most) when the task slept for less than that most, and
/// shrinks (halving, then off) when it slept for longer: a quiet forwarder
/// does not poll at all, and traffic too sparse to gain from it stops it.
#[derive(Debug, Clone)]
pub struct BusyPoll {
    max: Duration,
    window: Duration,
}

impl BusyPoll {
    /// The smallest window; the first one after growing from off.
    pub const START: Duration = Duration::from_micros(10);

    /// Off until traffic makes it worth it; never above `max` (zero: never).
    pub fn new(max: Duration) -> Self {
        Self {
            max,
            window: Duration::ZERO,
        }
    }

    /// How long to poll now.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The task slept for `slept` (after polling in vain, or not at all).
    pub fn after_block(&mut self, slept: Duration) {
        if self.max.is_zero() {
            return;
        }
        if slept > self.max {
            self.window /= 2;
            if self.window < Self::START {
                self.window = Duration::ZERO;
            }
        } else if slept > self.window {
            self.window = (self.window * 2).max(Self::START).min(self.max);
        }
    }
}

/// Yields to the runtime (which polls for I/O without blocking when only
/// yielded tasks are left) until an event is queued or `window` is over;
/// `true` when an event came.
async fn poll_for_events(rx: &mpsc::Receiver<Event>, window: Duration) -> bool {
    if window.is_zero() {
        return !rx.is_empty();
    }
    let until = Instant::now() + window;
    while rx.is_empty() && Instant::now() < until {
        tokio::task::yield_now().await;
    }
    !rx.is_empty()
}

async fn run(mut core: Core, mut rx: mpsc::Receiver<Event>, busy_poll: Duration) {
    let cancel = core.handle.cancel.clone();
    let mut batch = Vec::with_capacity(256);
    let mut next_due = Instant::now() + Duration::from_secs(1);
    // One timer, reset only after a tick (not re-armed per batch).
    let sleep = tokio::time::sleep_until(next_due.into());
    tokio::pin!(sleep);
    let mut poll = BusyPoll::new(busy_poll);
    // When the task last went idle after a failed (or no) busy-poll.
    let mut idle_since: Option<Instant> = None;
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            n = rx.recv_many(&mut batch, 256) => {
                if n == 0 {
                    break;
                }
                let now = Instant::now();
                if let Some(t) = idle_since.take() {
                    poll.after_block(now.saturating_duration_since(t));
                }
                for ev in batch.drain(..) {
                    core.handle_event(ev, now);
                }
                core.return_credits();
                core.flush(now);
                // New PIT entries may expire before the armed timer: tick
                // within TICK_GRANULARITY (re-arming only when it moves earlier).
                let due = now + TICK_GRANULARITY;
                if due < next_due {
                    next_due = due;
                    sleep.as_mut().reset(next_due.into());
                }
                if now < next_due {
                    // Busy-poll a while for the next packet rather than
                    // sleep and be woken (see BusyPoll).
                    idle_since = if poll_for_events(&rx, poll.window()).await {
                        None
                    } else {
                        Some(Instant::now())
                    };
                    continue;
                }
            }
            _ = &mut sleep => {}
        }
        let now = Instant::now();
        let next_tick = core.fwd.on_tick(now);
        core.mgmt.on_tick(&mut core.fwd, now);
        core.flush(now);
        next_due = next_tick
            .unwrap_or(now + Duration::from_secs(1))
            .min(now + Duration::from_secs(1))
            .max(now + Duration::from_millis(1));
        sleep.as_mut().reset(next_due.into());
    }
    // Closing every face queue ends the send tasks.
    core.faces.clear();
}

impl Core {
    fn handle_event(&mut self, ev: Event, now: Instant) {
        match ev {
            Event::Received { face, rx } => {
                self.return_credit(face);
                self.on_received(face, rx, now)
            }
            Event::Malformed { face } => {
                self.return_credit(face);
                tracing::debug!(%face, "dropped a malformed packet");
                self.fwd.count_drop(face);
            }
            Event::FaceUp {
                face,
                meta,
                tx,
                stats,
            } => {
                tracing::info!(%face, remote = %meta.remote_uri, local = %meta.local_uri, "face up");
                self.fwd.add_face(face, meta.is_local());
                self.faces.insert(face, FaceSlot { meta, tx, stats });
            }
            Event::FaceDown { face } => self.remove_face(face),
            Event::Call(f) => f(self),
        }
    }

    fn return_credit(&mut self, face: FaceId) {
        match self.credits.last_mut() {
            Some((f, n)) if *f == face => *n += 1,
            _ => self.credits.push((face, 1)),
        }
    }

    /// Returns the credits of the events handled in this batch.
    fn return_credits(&mut self) {
        for (face, n) in self.credits.drain(..) {
            if let Some(slot) = self.faces.get(&face) {
                slot.stats.credits.add_permits(n);
            }
        }
    }

    /// Removes a face, its routes and its queue.
    pub fn remove_face(&mut self, face: FaceId) {
        self.mgmt.rib.remove_face(&mut self.fwd, face);
        self.mgmt.on_face_removed(face);
        let info = self.fwd.remove_face(face);
        if let Some(slot) = self.faces.remove(&face) {
            let c = info.map(|i| i.counters).unwrap_or_default();
            let face_drops = slot.stats.drops.load(Ordering::Relaxed);
            tracing::info!(
                %face,
                in_interests = c.in_interests,
                out_data = c.out_data,
                drops = c.drops + face_drops,
                "face down"
            );
        }
    }

    /// Delivers a management reply computed after its command was
    /// dispatched (e.g. once `faces/create` has its face): the Data comes
    /// from the internal face, satisfies the command's PIT entry and is sent.
    pub fn answer_management(&mut self, data: picasso_tlv::Data) {
        let now = Instant::now();
        self.fwd.on_incoming_data(FaceId::INTERNAL, data, true, now);
        self.flush(now);
    }

    fn on_received(&mut self, face: FaceId, rx: Received, now: Instant) {
        match rx.packet {
            NetPacket::Interest(i) => {
                // NextHopFaceId from a local app pins the upstream (NFD's
                // "next hop face" feature): honoured when the face exists.
                self.fwd.on_incoming_interest(face, i, rx.pit_token, now)
            }
            NetPacket::Data(d) => self.fwd.on_incoming_data(face, d, rx.no_cache, now),
            NetPacket::Nack { interest, reason } => {
                self.fwd.on_incoming_nack(face, interest, reason, now)
            }
        }
    }

    /// Sends everything in the forwarder's outbox; management Interests
    /// are answered here and their Data fed back in.
    pub fn flush(&mut self, now: Instant) {
        // Management replies may produce more output: loop until quiet.
        let mut out = std::mem::take(&mut self.out_buf);
        for _ in 0..8 {
            self.fwd.drain_outbox_into(&mut out);
            if out.is_empty() {
                break;
            }
            for o in out.drain(..) {
                if o.face == FaceId::INTERNAL {
                    if let OutPacket::Interest(i) = o.packet {
                        let reply = crate::mgmt::dispatch(self, &i, now);
                        if let Some(data) = reply {
                            self.fwd.on_incoming_data(FaceId::INTERNAL, data, true, now);
                        }
                    }
                    continue;
                }
                let face = o.face;
                let accepted = match self.faces.get_mut(&face) {
                    Some(FaceSlot {
                        tx: FaceTx::Queue(q),
                        ..
                    }) => q.try_send(o).is_ok(),
                    Some(FaceSlot {
                        tx: FaceTx::Stream(sink),
                        ..
                    }) => {
                        let was_idle = sink.is_clean();
                        let ok = sink.push(o);
                        if was_idle && !sink.is_clean() {
                            self.dirty.push(face);
                        }
                        ok
                    }
                    None => true,
                };
                if !accepted {
                    self.fwd.count_drop(face);
                }
            }
        }
        // One write per stream face for everything this flush produced.
        for face in self.dirty.drain(..) {
            if let Some(FaceSlot {
                tx: FaceTx::Stream(sink),
                stats,
                ..
            }) = self.faces.get_mut(&face)
            {
                let written = sink.write_out();
                stats.out_bytes.fetch_add(written as u64, Ordering::Relaxed);
            }
        }
        self.out_buf = out;
    }

    /// Describes every face (for management datasets).
    pub fn face_kind(&self, face: FaceId) -> Option<FaceKind> {
        self.faces.get(&face).map(|s| s.meta.kind)
    }
}

/// Drives a face's send side: takes packets from its queue, encodes them
/// with the link service and writes them with `write`.
pub(crate) async fn send_loop<W, Fut>(
    mut queue: mpsc::Receiver<Outgoing>,
    mut link: crate::face::link_service::LinkService,
    stats: Arc<FaceStats>,
    mut write: W,
) where
    W: FnMut(Vec<Bytes>) -> Fut,
    Fut: std::future::Future<Output = std::io::Result<()>>,
{
    while let Some(o) = queue.recv().await {
        let mut frames = match link.send(&o.packet, o.pit_token) {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!(error = %e, "cannot encode packet for face");
                stats.drops.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        // Batch whatever else is queued already into one write.
        while frames.len() < 64 {
            match queue.try_recv() {
                Ok(o) => match link.send(&o.packet, o.pit_token) {
                    Ok(f) => frames.extend(f),
                    Err(_) => {
                        stats.drops.fetch_add(1, Ordering::Relaxed);
                    }
                },
                Err(_) => break,
            }
        }
        let n: usize = frames.iter().map(Bytes::len).sum();
        if write(frames).await.is_err() {
            break;
        }
        stats.out_bytes.fetch_add(n as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: Duration = Duration::from_micros(1);

    #[test]
    fn test_busy_poll_grows_with_short_sleeps_and_stops_with_long_ones() {
        let mut p = BusyPoll::new(200 * US);
        assert_eq!(p.window(), Duration::ZERO, "off until traffic");
        // Packets 50 µs apart: the window grows until it covers the gap.
        p.after_block(50 * US);
        assert_eq!(p.window(), BusyPoll::START);
        p.after_block(50 * US);
        assert_eq!(p.window(), 20 * US);
        p.after_block(50 * US);
        p.after_block(50 * US);
        assert_eq!(p.window(), 80 * US);
        // A sleep shorter than the window cannot happen after a failed poll
        // of that window; it leaves the window alone if reported.
        p.after_block(30 * US);
        assert_eq!(p.window(), 80 * US);
        // Never above the most.
        p.after_block(150 * US);
        assert_eq!(p.window(), 160 * US);
        p.after_block(190 * US);
        assert_eq!(p.window(), 200 * US);
        // Sparse traffic (1 ms gaps) halves it, then turns it off.
        let mut steps = 0;
        while !p.window().is_zero() {
            p.after_block(1000 * US);
            steps += 1;
            assert!(steps < 10);
        }
        assert_eq!(steps, 5, "200 → 100 → 50 → 25 → 12 → off");
    }

    #[test]
    fn test_busy_poll_zero_most_never_polls() {
        let mut p = BusyPoll::new(Duration::ZERO);
        for gap in [1, 5, 50, 1000] {
            p.after_block(gap * US);
            assert_eq!(p.window(), Duration::ZERO);
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn test_poll_for_events_sees_an_event_sent_by_another_task() {
        let (tx, rx) = mpsc::channel::<Event>(4);
        let sender = tokio::spawn(async move {
            tokio::task::yield_now().await;
            let _ = tx.send(Event::FaceDown { face: FaceId(300) }).await;
            tx
        });
        // Polling yields, so the sender runs on this very thread.
        assert!(poll_for_events(&rx, Duration::from_secs(5)).await);
        let _tx = sender.await.unwrap();
        // An empty queue: polling gives up after its window.
        let mut rx = rx;
        let _ = rx.recv().await;
        let t = Instant::now();
        assert!(!poll_for_events(&rx, Duration::from_millis(2)).await);
        assert!(t.elapsed() >= Duration::from_millis(2));
        assert!(!poll_for_events(&rx, Duration::ZERO).await);
    }
}
