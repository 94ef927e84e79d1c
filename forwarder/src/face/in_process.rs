//! In-process faces: an application in the same process (the agent, the
//! orchestrator, tests) talks to the forwarder over a pair of bounded
//! channels carrying link frames, exactly as it would over a socket but
//! without system calls.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use picasso_tlv::mgmt::{FacePersistency, FaceScope, LinkType};
use tokio::sync::mpsc;

use super::link_service::LinkService;
use super::{FaceKind, FaceMeta, SEND_QUEUE};
use crate::runtime::{send_loop, Event, FaceStats, ForwarderHandle, Stopped};
use crate::FaceId;

/// The application's end of an in-process face: frames to send and frames received.
#[derive(Debug)]
pub struct AppFace {
    /// The face's id in the forwarder.
    pub face: FaceId,
    /// Frames (bare packets or LpPackets) to the forwarder.
    pub tx: mpsc::Sender<Bytes>,
    /// Frames from the forwarder.
    pub rx: mpsc::Receiver<Bytes>,
}

/// Opens an in-process face of local scope.
pub async fn connect(handle: &ForwarderHandle) -> Result<AppFace, Stopped> {
    let face = handle.allocate_face_id();
    let (app_tx, mut fwd_rx) = mpsc::channel::<Bytes>(SEND_QUEUE);
    let (fwd_tx, app_rx) = mpsc::channel::<Bytes>(SEND_QUEUE);
    let (queue_tx, queue_rx) = mpsc::channel(SEND_QUEUE);
    let stats = Arc::new(FaceStats::default());
    let meta = FaceMeta {
        kind: FaceKind::InProcess,
        remote_uri: format!("internal://app/{}", face.0),
        local_uri: "internal://".to_string(),
        scope: FaceScope::LOCAL,
        persistency: FacePersistency::ON_DEMAND,
        link_type: LinkType::POINT_TO_POINT,
        mtu: None,
    };
    handle
        .events()
        .send(Event::FaceUp {
            face,
            meta,
            tx: crate::runtime::FaceTx::Queue(queue_tx),
            stats: stats.clone(),
        })
        .await
        .map_err(|_| Stopped)?;
    // Send side: forwarder → app.
    let send_stats = stats.clone();
    tokio::spawn(send_loop(
        queue_rx,
        LinkService::new(None),
        send_stats,
        move |frames| {
            let tx = fwd_tx.clone();
            async move {
                for f in frames {
                    tx.send(f)
                        .await
                        .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
                }
                Ok(())
            }
        },
    ));
    // Receive side: app → forwarder.
    let events = handle.events().clone();
    let cancel = handle.cancel_token().clone();
    tokio::spawn(async move {
        let mut link = LinkService::new(None);
        loop {
            let frame = tokio::select! {
                _ = cancel.cancelled() => break,
                f = fwd_rx.recv() => match f { Some(f) => f, None => break },
            };
            stats
                .in_bytes
                .fetch_add(frame.len() as u64, Ordering::Relaxed);
            let ev = match link.receive(frame, Instant::now()) {
                Ok(Some(rx)) => Event::Received { face, rx },
                Ok(None) => continue,
                Err(_) => Event::Malformed { face },
            };
            stats.acquire_credit().await;
            if events.send(ev).await.is_err() {
                break;
            }
        }
        let _ = events.send(Event::FaceDown { face }).await;
    });
    Ok(AppFace {
        face,
        tx: app_tx,
        rx: app_rx,
    })
}
