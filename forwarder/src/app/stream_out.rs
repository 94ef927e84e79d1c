//! The send side of a [`Client`](super::Client) over a stream socket: a
//! frame is written by the task that sends it, with a non-blocking write,
//! when nothing is waiting before it; what the socket does not take waits,
//! in order, for a send task. While the client's reader dispatches a batch
//! of received frames (handlers answering inline) the output is corked and
//! written with one write after the batch.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::Notify;

use crate::face::stream::WriteHalf;

/// Most bytes waiting to be written; senders wait (express, put) or hand
/// the frame to a task (handler replies) beyond it.
const OUT_LIMIT: usize = 1024 * 1024;

/// Largest single write of the send task.
const WRITE_CHUNK: usize = 256 * 1024;

#[derive(Default)]
struct State {
    backlog: VecDeque<Bytes>,
    bytes: usize,
    /// The send task owns the backlog's head: others queue behind it.
    busy: bool,
    /// The reader is dispatching a batch: queue, write at uncork.
    corked: bool,
    /// Every client handle is gone (the send task finishes and ends) or
    /// a write failed.
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the send task.
    wake: Notify,
    /// Wakes senders waiting for room.
    drained: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type TryWriteFn = Box<dyn Fn(&[u8]) -> std::io::Result<usize> + Send + Sync>;

/// The client's handle on the stream's write side.
pub(crate) struct StreamOut {
    shared: Arc<Shared>,
    write: TryWriteFn,
}

impl Drop for StreamOut {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

/// Writes what the socket takes now; `Err` on a broken connection.
fn write_now(write: &TryWriteFn, buf: &[u8]) -> Result<usize, ()> {
    let mut n = 0;
    while n < buf.len() {
        match write(&buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(_) => return Err(()),
        }
    }
    Ok(n)
}

impl StreamOut {
    /// Starts the send task for `writer`.
    pub(crate) fn spawn<W: WriteHalf>(writer: W) -> Self {
        let writer = Arc::new(writer);
        let shared = Arc::new(Shared {
            state: Default::default(),
            wake: Notify::new(),
            drained: Notify::new(),
        });
        tokio::spawn(send_task(writer.clone(), shared.clone()));
        Self {
            shared,
            write: Box::new(move |b| writer.try_write_now(b)),
        }
    }

    /// Sends `frame` without waiting: written now when nothing is queued
    /// before it, else queued.
    pub(crate) fn try_send(&self, frame: Bytes) -> Result<(), TrySendError<Bytes>> {
        let mut st = self.shared.lock();
        if st.closed {
            return Err(TrySendError::Closed(frame));
        }
        if st.bytes >= OUT_LIMIT {
            return Err(TrySendError::Full(frame));
        }
        if st.busy || st.corked || !st.backlog.is_empty() {
            st.bytes += frame.len();
            st.backlog.push_back(frame);
            return Ok(());
        }
        match write_now(&self.write, &frame) {
            Ok(n) if n == frame.len() => Ok(()),
            Ok(n) => {
                let rest = frame.slice(n..);
                st.bytes += rest.len();
                st.backlog.push_back(rest);
                st.busy = true;
                drop(st);
                self.shared.wake.notify_one();
                Ok(())
            }
            Err(()) => {
                st.closed = true;
                Err(TrySendError::Closed(frame))
            }
        }
    }

    /// Sends `frame`, waiting for room; `Err` when the stream is closed.
    pub(crate) async fn send(&self, mut frame: Bytes) -> Result<(), ()> {
        loop {
            let room = self.shared.drained.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.try_send(frame) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Closed(_)) => return Err(()),
                Err(TrySendError::Full(f)) => {
                    frame = f;
                    room.await;
                }
            }
        }
    }

    /// Holds output back while a batch of received frames is dispatched.
    pub(crate) fn cork(&self) {
        self.shared.lock().corked = true;
    }

    /// Writes what was held back, in one write when the socket takes it.
    pub(crate) fn uncork(&self) {
        let mut st = self.shared.lock();
        st.corked = false;
        if st.busy || st.closed || st.backlog.is_empty() {
            return;
        }
        let buf = if st.backlog.len() == 1 {
            st.backlog.pop_front().unwrap_or_default()
        } else {
            let mut b = BytesMut::with_capacity(st.bytes);
            for f in st.backlog.drain(..) {
                b.extend_from_slice(&f);
            }
            b.freeze()
        };
        st.bytes = 0;
        match write_now(&self.write, &buf) {
            Ok(n) if n == buf.len() => {}
            Ok(n) => {
                let rest = buf.slice(n..);
                st.bytes = rest.len();
                st.backlog.push_back(rest);
                st.busy = true;
                drop(st);
                self.shared.wake.notify_one();
            }
            Err(()) => st.closed = true,
        }
        self.shared.drained.notify_waiters();
    }
}

/// Writes the backlog while it lasts; ends when the client is gone and
/// the backlog written, or on a write error.
async fn send_task<W: WriteHalf>(writer: Arc<W>, shared: Arc<Shared>) {
    let mut buf = BytesMut::new();
    loop {
        {
            let mut st = shared.lock();
            if st.backlog.is_empty() {
                st.busy = false;
                if st.closed {
                    return;
                }
            } else {
                buf.clear();
                while let Some(f) = st.backlog.pop_front() {
                    buf.extend_from_slice(&f);
                    if buf.len() >= WRITE_CHUNK {
                        break;
                    }
                }
            }
        }
        if buf.is_empty() {
            shared.wake.notified().await;
            continue;
        }
        let mut rest = &buf[..];
        let mut failed = false;
        while !rest.is_empty() {
            match writer.try_write_now(rest) {
                Ok(0) => {
                    failed = true;
                    break;
                }
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if writer.writable().await.is_err() {
                        failed = true;
                        break;
                    }
                }
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        let written = buf.len();
        buf.clear();
        {
            let mut st = shared.lock();
            st.bytes = st.bytes.saturating_sub(written);
            if failed {
                st.closed = true;
                st.busy = false;
                st.backlog.clear();
                st.bytes = 0;
            }
        }
        shared.drained.notify_waiters();
        if failed {
            return;
        }
    }
}
