//! The application side of a face: express Interests and await Data or a
//! Nack, register prefixes and answer Interests — what `picasso get/put`,
//! the benchmarks, the agent and the orchestrator use to talk NDN.
//!
//! A [`Client`] runs over any frame transport: an in-process face, a Unix
//! socket or a TCP connection to a forwarder (ours or NFD). One task reads
//! frames and dispatches them; Data and Nacks complete pending expressions,
//! Interests go to the handler of the longest registered prefix.

pub mod fetch;
pub mod publish;
mod stream_out;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::face::socket::{FrameReader, QuietStream};
use bytes::{Bytes, BytesMut};
use picasso_tlv::lp::{CachePolicyType, LpPacket, NackReason};
use picasso_tlv::mgmt::{ControlParameters, ControlResponse, MgmtTlv};
use picasso_tlv::{types, Component, Data, Interest, Name, Signer};
use tokio::sync::{mpsc, oneshot};

/// Why an expressed Interest brought no Data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpressError {
    /// The network answered with a Nack.
    #[error("nack (reason {0})")]
    Nack(u64),
    /// No answer within the Interest lifetime.
    #[error("timeout")]
    Timeout,
    /// The face is closed.
    #[error("face closed")]
    Closed,
}

/// Why a prefix could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// The command got no answer.
    #[error("registration command failed: {0}")]
    Express(#[from] ExpressError),
    /// The forwarder refused the command.
    #[error("forwarder refused registration: {code} {text}")]
    Refused {
        /// Status code.
        code: u64,
        /// Status text.
        text: String,
    },
    /// The reply was not a ControlResponse.
    #[error("malformed registration reply")]
    Malformed,
}

/// What a handler answers an Interest with.
///
/// Handlers may return `Option<Data>` (converted: `Some(d)` is
/// [`Answer::Data`], `None` is [`Answer::Silent`]) or an `Answer` directly
/// when they need a Nack or an uncacheable Data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Send this Data.
    Data(Data),
    /// Send this Data with the NDNLPv2 CachePolicy NoCache header, so the
    /// forwarder does not put it in its content store.
    DataNoCache(Data),
    /// Answer with a Nack of this reason (e.g. Congestion when full).
    Nack(NackReason),
    /// Send nothing.
    Silent,
}

impl From<Option<Data>> for Answer {
    fn from(d: Option<Data>) -> Self {
        d.map_or(Answer::Silent, Answer::Data)
    }
}

impl From<Data> for Answer {
    fn from(d: Data) -> Self {
        Answer::Data(d)
    }
}

/// An Interest handler's reply.
pub type Reply = Pin<Box<dyn Future<Output = Answer> + Send>>;
/// An Interest handler.
pub type Handler = Arc<dyn Fn(Interest) -> Reply + Send + Sync>;

struct Pending {
    nonce: u32,
    can_be_prefix: bool,
    reply: oneshot::Sender<Result<Data, ExpressError>>,
}

#[derive(Default)]
struct Shared {
    /// Pending expressions by Interest name TLVs.
    pending: HashMap<Bytes, Vec<Pending>>,
    /// Longest pending name (bounds the prefix probe on Data arrival).
    max_pending_len: usize,
    handlers: Vec<(Name, Handler)>,
}

/// A client of a forwarder (a consumer and/or producer).
#[derive(Clone)]
pub struct Client {
    tx: Out,
    shared: Arc<Mutex<Shared>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Client")
    }
}

/// Where a client's frames go.
#[derive(Clone)]
enum Out {
    /// A channel to a task that sends them (in-process face, UDP).
    Channel(mpsc::Sender<Bytes>),
    /// Written directly to a stream socket.
    Stream(Arc<stream_out::StreamOut>),
}

impl Out {
    fn try_send(&self, frame: Bytes) -> Result<(), mpsc::error::TrySendError<Bytes>> {
        match self {
            Out::Channel(tx) => tx.try_send(frame),
            Out::Stream(s) => s.try_send(frame),
        }
    }

    async fn send(&self, frame: Bytes) -> Result<(), ()> {
        match self {
            Out::Channel(tx) => tx.send(frame).await.map_err(|_| ()),
            Out::Stream(s) => s.send(frame).await,
        }
    }
}

/// Where a client finds its forwarder: `unix:PATH`, `tcp:HOST:PORT`, `udp:HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaceAddr {
    /// A Unix socket path.
    Unix(std::path::PathBuf),
    /// A TCP address.
    Tcp(String),
    /// A UDP address (NDNLPv2 fragmentation above [`UDP_MTU`]).
    Udp(String),
}

impl std::fmt::Display for FaceAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FaceAddr::Unix(p) => write!(f, "unix:{}", p.display()),
            FaceAddr::Tcp(a) => write!(f, "tcp:{a}"),
            FaceAddr::Udp(a) => write!(f, "udp:{a}"),
        }
    }
}

/// The MTU a UDP client fragments to (as the forwarder's UDP faces).
pub const UDP_MTU: usize = 1400;

impl std::str::FromStr for FaceAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(p) = s.strip_prefix("unix:") {
            Ok(FaceAddr::Unix(p.trim_start_matches("//").into()))
        } else if let Some(a) = s.strip_prefix("tcp:") {
            Ok(FaceAddr::Tcp(a.trim_start_matches("//").to_string()))
        } else if let Some(a) = s.strip_prefix("udp:") {
            Ok(FaceAddr::Udp(a.trim_start_matches("//").to_string()))
        } else {
            Err(format!(
                "face address {s:?} must be unix:PATH, tcp:HOST:PORT or udp:HOST:PORT"
            ))
        }
    }
}

/// The Unix socket a local forwarder listens on by default (NFD's path,
/// so python-ndn finds it without configuration).
pub const DEFAULT_SOCKET: &str = "/run/nfd/nfd.sock";

fn lock(m: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    // A poisoned lock means a handler panicked while holding it; the
    // tables are still consistent (every update is a single operation).
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Client {
    /// A client over an in-process face.
    pub fn from_app_face(face: crate::face::in_process::AppFace) -> Self {
        Self::from_channels(face.tx, face.rx)
    }

    /// Connects to a forwarder at `addr`.
    pub async fn connect(addr: &FaceAddr) -> std::io::Result<Self> {
        match addr {
            FaceAddr::Unix(p) => Ok(Self::from_stream(QuietStream::unix(
                tokio::net::UnixStream::connect(p).await?,
            )?)),
            FaceAddr::Tcp(a) => {
                let s = tokio::net::TcpStream::connect(a).await?;
                s.set_nodelay(true)?;
                Ok(Self::from_stream(QuietStream::tcp(s)?))
            }
            FaceAddr::Udp(a) => {
                let remote = tokio::net::lookup_host(a.as_str())
                    .await?
                    .next()
                    .ok_or_else(|| std::io::Error::other(format!("cannot resolve {a}")))?;
                let local: std::net::SocketAddr = if remote.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                };
                let s = tokio::net::UdpSocket::bind(local).await?;
                s.connect(remote).await?;
                Ok(Self::from_udp(s, UDP_MTU))
            }
        }
    }

    /// A client over a connected UDP socket: one frame per datagram,
    /// frames above `mtu` fragmented with NDNLPv2 and fragments received
    /// reassembled (as the forwarder's UDP faces do).
    pub fn from_udp(socket: tokio::net::UdpSocket, mtu: usize) -> Self {
        let socket = Arc::new(socket);
        let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(1024);
        let (in_tx, in_rx) = mpsc::channel::<Bytes>(1024);
        let send = socket.clone();
        tokio::spawn(async move {
            let mut sequence: u64 = rand::random::<u32>().into();
            while let Some(f) = out_rx.recv().await {
                if f.len() <= mtu {
                    // A lost datagram is lost, as on any link.
                    let _ = send.send(&f).await;
                    continue;
                }
                let lp = if u64::from(f.first().copied().unwrap_or(0)) == types::LP_PACKET {
                    LpPacket::decode(f)
                } else {
                    Ok(LpPacket::wrap(f))
                };
                let Ok(lp) = lp else { continue };
                let Ok(pieces) = picasso_tlv::lp::fragment(&lp, mtu, sequence) else {
                    continue;
                };
                sequence = sequence.wrapping_add(pieces.len() as u64);
                for p in pieces {
                    let _ = send.send(&p).await;
                }
            }
        });
        tokio::spawn(async move {
            let mut reassembler = picasso_tlv::lp::Reassembler::new(Default::default());
            let mut buf = vec![0u8; 65_536];
            loop {
                let n = match socket.recv(&mut buf).await {
                    Ok(n) => n,
                    // ICMP port unreachable from an earlier send: keep going.
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
                    Err(_) => return,
                };
                let frame = Bytes::copy_from_slice(&buf[..n]);
                let frame = if u64::from(buf[0]) == types::LP_PACKET {
                    match LpPacket::decode(frame.clone()) {
                        Ok(lp) if lp.is_fragmented() => {
                            match reassembler.receive(0, lp, Instant::now()) {
                                Ok(Some(whole)) => whole.encode(),
                                _ => continue,
                            }
                        }
                        _ => frame,
                    }
                } else {
                    frame
                };
                if in_tx.send(frame).await.is_err() {
                    return;
                }
            }
        });
        Self::from_channels(out_tx, in_rx)
    }

    /// A client over a connected stream socket (Unix or TCP). Frames are
    /// written by the task that sends them when nothing is queued before
    /// them (no hop through a send task); replies of handlers answering a
    /// batch of received Interests go out in one write.
    pub fn from_stream<S: crate::face::stream::StreamSocket>(stream: S) -> Self {
        let (mut rd, wr) = stream.into_halves();
        let out = Arc::new(stream_out::StreamOut::spawn(wr));
        let client = Self {
            tx: Out::Stream(out.clone()),
            shared: Arc::new(Mutex::new(Shared::default())),
        };
        // The reader dispatches frames itself (no hop through a channel).
        let c = client.clone();
        tokio::spawn(async move {
            let mut frames = FrameReader::default();
            loop {
                out.cork();
                let framed = loop {
                    match frames.next_frame() {
                        Ok(Some(frame)) => c.on_frame(frame),
                        Ok(None) => break true,
                        Err(_) => break false,
                    }
                };
                out.uncork();
                if !framed {
                    break;
                }
                match frames.fill(&mut rd).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            c.close();
        });
        client
    }

    /// A client over frame channels.
    pub fn from_channels(tx: mpsc::Sender<Bytes>, mut rx: mpsc::Receiver<Bytes>) -> Self {
        let client = Self {
            tx: Out::Channel(tx),
            shared: Arc::new(Mutex::new(Shared::default())),
        };
        let c = client.clone();
        tokio::spawn(async move {
            while let Some(frame) = rx.recv().await {
                c.on_frame(frame);
            }
            c.close();
        });
        client
    }

    /// The face closed: fails every pending expression.
    fn close(&self) {
        let mut sh = lock(&self.shared);
        for (_, list) in sh.pending.drain() {
            for p in list {
                let _ = p.reply.send(Err(ExpressError::Closed));
            }
        }
    }

    fn on_frame(&self, frame: Bytes) {
        let Ok(lp) = LpPacket::decode(frame) else {
            return;
        };
        let Some(fragment) = lp.fragment.clone() else {
            return;
        };
        match u64::from(fragment.first().copied().unwrap_or(0)) {
            types::DATA => {
                if let Ok(d) = Data::decode(fragment) {
                    self.on_data(d);
                }
            }
            types::INTEREST => {
                let Ok(i) = Interest::decode(fragment) else {
                    return;
                };
                if let Some(n) = lp.nack {
                    self.on_nack(&i, n.reason.map_or(0, NackReason::code));
                } else {
                    self.on_interest(i, lp.pit_token);
                }
            }
            _ => {}
        }
    }

    fn on_data(&self, d: Data) {
        let mut sh = lock(&self.shared);
        let name = d.name();
        let top = name.len().min(sh.max_pending_len);
        for n in (0..=top).rev() {
            let key = name.prefix_value(n);
            let exact = n == name.len();
            if let Some(list) = sh.pending.get_mut(key) {
                let (take, keep): (Vec<Pending>, Vec<Pending>) = std::mem::take(list)
                    .into_iter()
                    .partition(|p| exact || p.can_be_prefix);
                *list = keep;
                if list.is_empty() {
                    sh.pending.remove(key);
                }
                for p in take {
                    let _ = p.reply.send(Ok(d.clone()));
                }
            }
        }
    }

    fn on_nack(&self, i: &Interest, reason: u64) {
        let mut sh = lock(&self.shared);
        let key: &[u8] = i.name().value();
        if let Some(list) = sh.pending.get_mut(key) {
            if let Some(pos) = list.iter().position(|p| Some(p.nonce) == i.nonce()) {
                let p = list.swap_remove(pos);
                let _ = p.reply.send(Err(ExpressError::Nack(reason)));
            }
            if list.is_empty() {
                sh.pending.remove(key);
            }
        }
    }

    fn on_interest(&self, i: Interest, pit_token: Option<Bytes>) {
        let handler = {
            let sh = lock(&self.shared);
            sh.handlers
                .iter()
                .filter(|(p, _)| p.is_prefix_of(i.name()))
                .max_by_key(|(p, _)| p.len())
                .map(|(_, h)| h.clone())
        };
        let Some(h) = handler else { return };
        let interest_wire = i.to_wire();
        let mut reply = h(i);
        // Most handlers answer at once (a ready future): answer inline,
        // without a task per Interest; only a handler that waits gets one.
        let mut cx = std::task::Context::from_waker(noop_waker());
        match reply.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(answer) => {
                if let Some(frame) = answer_frame(answer, interest_wire, pit_token) {
                    self.send_frame(frame);
                }
            }
            std::task::Poll::Pending => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    if let Some(frame) = answer_frame(reply.await, interest_wire, pit_token) {
                        let _ = tx.send(frame).await;
                    }
                });
            }
        }
    }

    /// Queues `frame` for sending without waiting; a full queue hands it
    /// to a task that waits for room (a reply is never dropped here).
    fn send_frame(&self, frame: Bytes) {
        match self.tx.try_send(frame) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(frame)) => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let _ = tx.send(frame).await;
                });
            }
        }
    }

    /// Expresses `interest` (a nonce is added when absent) and waits for
    /// Data, a Nack, or the Interest lifetime.
    pub async fn express(&self, mut interest: Interest) -> Result<Data, ExpressError> {
        if interest.nonce().is_none() {
            interest.set_nonce(Some(rand::random()));
        }
        let nonce = interest.nonce().unwrap_or(0);
        let lifetime = interest.lifetime();
        // Encoding fixes the name (its ParametersSha256DigestComponent).
        let wire = interest.encode();
        let key = interest.name().value().clone();
        let (reply, rx) = oneshot::channel();
        {
            let mut sh = lock(&self.shared);
            sh.max_pending_len = sh.max_pending_len.max(interest.name().len());
            sh.pending.entry(key.clone()).or_default().push(Pending {
                nonce,
                can_be_prefix: interest.can_be_prefix(),
                reply,
            });
        }
        if self.tx.send(wire).await.is_err() {
            self.forget(&key, nonce);
            return Err(ExpressError::Closed);
        }
        match tokio::time::timeout(lifetime, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(ExpressError::Closed),
            Err(_) => {
                self.forget(&key, nonce);
                Err(ExpressError::Timeout)
            }
        }
    }

    fn forget(&self, key: &Bytes, nonce: u32) {
        let mut sh = lock(&self.shared);
        if let Some(list) = sh.pending.get_mut(key) {
            list.retain(|p| p.nonce != nonce);
            if list.is_empty() {
                sh.pending.remove(key);
            }
        }
    }

    /// Sends a Data packet (e.g. an unsolicited reply a handler computed later).
    pub async fn put(&self, data: &Data) -> Result<(), ExpressError> {
        let w = data.wire().cloned().ok_or(ExpressError::Closed)?;
        self.tx.send(w).await.map_err(|_| ExpressError::Closed)
    }

    /// Installs `handler` for Interests under `prefix` without telling the
    /// forwarder (for faces whose routes are set otherwise). The handler's
    /// future yields `Option<Data>` or an [`Answer`] (Nack, uncacheable Data).
    pub fn set_handler<F, Fut>(&self, prefix: Name, handler: F)
    where
        F: Fn(Interest) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Into<Answer>,
    {
        let h: Handler = Arc::new(move |i| {
            let fut = handler(i);
            Box::pin(async move { fut.await.into() })
        });
        lock(&self.shared).handlers.push((prefix, h));
    }

    /// Registers `prefix` on the forwarder (NFD `rib/register`, v0.3 signed
    /// Interest with DigestSha256) and serves its Interests with `handler`.
    pub async fn register<F, Fut>(
        &self,
        prefix: Name,
        handler: F,
    ) -> Result<ControlParameters, RegisterError>
    where
        F: Fn(Interest) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Into<Answer>,
    {
        self.set_handler(prefix.clone(), handler);
        self.rib_command("register", prefix).await
    }

    /// Unregisters `prefix` and drops its handler.
    pub async fn unregister(&self, prefix: Name) -> Result<ControlParameters, RegisterError> {
        lock(&self.shared).handlers.retain(|(p, _)| *p != prefix);
        self.rib_command("unregister", prefix).await
    }

    async fn rib_command(
        &self,
        verb: &str,
        prefix: Name,
    ) -> Result<ControlParameters, RegisterError> {
        let params = ControlParameters {
            name: Some(prefix),
            ..ControlParameters::default()
        };
        let resp = self.command("rib", verb, &params).await?;
        resp.parameters().cloned().ok_or(RegisterError::Malformed)
    }

    /// Sends an NFD management command and returns its ControlResponse
    /// (an error unless the status is 200).
    pub async fn command(
        &self,
        module: &str,
        verb: &str,
        params: &ControlParameters,
    ) -> Result<ControlResponse, RegisterError> {
        let resp = self
            .command_response(&local_nfd(), module, verb, params, &Signer::DigestSha256)
            .await?;
        if resp.status_code != picasso_tlv::mgmt::status::OK {
            return Err(RegisterError::Refused {
                code: resp.status_code,
                text: resp.status_text,
            });
        }
        Ok(resp)
    }

    /// Sends a management command under `prefix` (`/localhost/nfd`, or
    /// `/localhop/nfd` to a neighbour) as a v0.3 signed Interest signed by
    /// `signer` with SignatureTime and SignatureNonce, and returns the
    /// ControlResponse whatever its status.
    pub async fn command_response(
        &self,
        prefix: &Name,
        module: &str,
        verb: &str,
        params: &ControlParameters,
        signer: &Signer,
    ) -> Result<ControlResponse, RegisterError> {
        let name = prefix
            .append_str(module)
            .append_str(verb)
            .append(&Component::generic(params.encode()));
        let mut i = Interest::new(name).with_lifetime_ms(4000);
        let mut info = signer.signature_info();
        info.nonce = Some(Bytes::copy_from_slice(&rand::random::<u64>().to_be_bytes()));
        info.time = Some(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
        );
        i.sign(signer, info);
        let d = self.express(i).await?;
        ControlResponse::decode(d.content()).map_err(|_| RegisterError::Malformed)
    }

    /// Fetches a status dataset (all segments) under `/localhost/nfd/<path>`.
    pub async fn dataset(&self, prefix: &Name) -> Result<Bytes, ExpressError> {
        fetch_segmented(self, prefix, Duration::from_secs(4)).await
    }
}

/// The frame that carries a handler's answer (`None`: nothing to send).
fn answer_frame(answer: Answer, interest_wire: Bytes, pit_token: Option<Bytes>) -> Option<Bytes> {
    let (mut lp, has_headers) = match answer {
        Answer::Data(d) => (LpPacket::wrap(d.wire().cloned()?), false),
        Answer::DataNoCache(d) => {
            let mut lp = LpPacket::wrap(d.wire().cloned()?);
            lp.cache_policy = Some(CachePolicyType::NoCache);
            (lp, true)
        }
        Answer::Nack(reason) => (LpPacket::nack(reason, interest_wire), true),
        Answer::Silent => return None,
    };
    match (pit_token, has_headers) {
        (None, false) => lp.fragment.take(),
        (token, _) => {
            lp.pit_token = token;
            Some(lp.encode())
        }
    }
}

/// A waker that does nothing: polls a handler's future once, inline.
fn noop_waker() -> &'static std::task::Waker {
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    static NOOP: std::sync::OnceLock<std::task::Waker> = std::sync::OnceLock::new();
    NOOP.get_or_init(|| std::task::Waker::from(Arc::new(Noop)))
}

/// Fetches every segment of the newest version under `prefix` (one
/// Interest with CanBePrefix + MustBeFresh discovers the version and the
/// FinalBlockId) and returns the joined content.
pub async fn fetch_segmented(
    client: &Client,
    prefix: &Name,
    lifetime: Duration,
) -> Result<Bytes, ExpressError> {
    let first = client
        .express(
            Interest::new(prefix.clone())
                .with_can_be_prefix(true)
                .with_must_be_fresh(true)
                .with_lifetime_ms(lifetime.as_millis() as u64),
        )
        .await?;
    let name = first.name();
    let seg_idx = name.len().checked_sub(1).ok_or(ExpressError::Timeout)?;
    let Some(0) = name.get(seg_idx).and_then(|c| c.as_segment()) else {
        // Not segmented: the Data is the whole dataset.
        return Ok(first.content());
    };
    let base = name.prefix(seg_idx);
    let last = first
        .final_block_id()
        .and_then(|c| c.as_segment())
        .unwrap_or(0);
    let mut out = BytesMut::from(&first.content()[..]);
    for s in 1..=last {
        let d = client
            .express(
                Interest::new(base.append(&Component::segment(s)))
                    .with_lifetime_ms(lifetime.as_millis() as u64),
            )
            .await?;
        out.extend_from_slice(&d.content());
    }
    Ok(out.freeze())
}

/// `/localhost/nfd`, where the local forwarder's management listens.
pub fn local_nfd() -> Name {
    Name::from_uri("/localhost/nfd").unwrap_or_default()
}

/// Measures `f` and returns its result with the elapsed time.
pub async fn timed<T>(f: impl Future<Output = T>) -> (T, Duration) {
    let t = Instant::now();
    let r = f.await;
    (r, t.elapsed())
}
