//! HTTP load: every user `GET`s one URL over HTTP/1.1. With keep-alive
//! (ab -k) each user holds one connection and opens a new one only when
//! the server closed it or a request on it timed out or broke; without it
//! (plain ab) each request connects, sends `Connection: close` and reads
//! the answer. Redirects are not followed (a 3xx is a failure, as in ab);
//! `https` is not supported.
//!
//! The client is written for the job, as ab's is: the request's bytes are
//! built once, and each user reads and frames responses in its own task
//! (head parsed by `httparse`; body by Content-Length, chunked coding or
//! the connection's close, RFC 9112 §6.3; interim 1xx answers skipped),
//! counting the body and keeping nothing — no connection task, no
//! channels, no allocation per request. A request that finds a kept-alive
//! connection closed by the server before any byte of the answer (the
//! idle-close race every HTTP client meets) is sent once more on a new
//! connection, as browsers and hyper's pool do; anything else is counted.
//! A connection that is not kept is read to its end before it is dropped
//! (the server closes first, as with ab), so that wait is part of the
//! request's latency and a server that never closes makes it time out.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use hyper::Uri;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{invalid, run, FailureKind, Load, LoadgenError, Outcome, Report, User};

/// An HTTP load.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `http://HOST[:PORT]/PATH[?QUERY]`; a `{n}` in it is replaced by
    /// the request's number (a second one by 0), so each request has its own URL (no cache or
    /// request aggregation on the way can answer one for another).
    pub url: String,
    /// One connection per user for all its requests (ab -k); otherwise a
    /// connection per request (plain ab).
    pub keep_alive: bool,
    /// How much load.
    pub load: Load,
}

/// Most response header fields read.
const MAX_HEADERS: usize = 64;
/// Read buffer per user (grows for a larger response head).
const READ_BUFFER: usize = 16 * 1024;
/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// Where requests go, resolved once for all users.
#[derive(Debug)]
struct Target {
    addr: SocketAddr,
    /// The whole request, built once.
    request: Bytes,
    /// With `{n}` in the URL: the request before and after the number.
    numbered: Option<(Bytes, Bytes)>,
    keep_alive: bool,
}

/// Reads `http://host[:port]/path?query`; the error says what is wrong.
fn parse_url(url: &str) -> Result<(String, String, String), LoadgenError> {
    let uri: Uri = url
        .parse()
        .map_err(|e| invalid("url", format!("{url:?} is not a URL: {e}")))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => {
            return Err(invalid(
                "url",
                format!("{url:?}: scheme {other:?} is not supported (only http)"),
            ))
        }
        None => return Err(invalid("url", format!("{url:?} has no scheme (http://…)"))),
    }
    let authority = uri
        .authority()
        .ok_or_else(|| invalid("url", format!("{url:?} has no host")))?;
    if authority.as_str().contains('@') {
        return Err(invalid(
            "url",
            format!("{url:?}: user info is not supported"),
        ));
    }
    let host = authority.host();
    let port = authority.port_u16().unwrap_or(80);
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    // `Uri` admits no whitespace or control octets, so neither can break
    // the request line or the Host field.
    Ok((
        format!("{host}:{port}"),
        path,
        authority.as_str().to_string(),
    ))
}

/// Runs an HTTP load and reports on it.
pub async fn http(config: &HttpConfig) -> Result<Report, LoadgenError> {
    config.load.validate()?;
    // `{n}` is not valid in a URI: check the URL with a stand-in.
    const SEQ: &str = "PICASSOSEQUENCE";
    let (host_port, path, host) = parse_url(&config.url.replace("{n}", SEQ))?;
    let addr = tokio::net::lookup_host(host_port.as_str())
        .await
        .map_err(|source| LoadgenError::Resolve {
            host: host_port.clone(),
            source,
        })?
        .next()
        .ok_or_else(|| LoadgenError::Resolve {
            host: host_port.clone(),
            source: std::io::Error::other("no address"),
        })?;
    let close = if config.keep_alive {
        ""
    } else {
        "Connection: close\r\n"
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: picasso-bench\r\nAccept: */*\r\n{close}\r\n"
    );
    let numbered = request
        .split_once(SEQ)
        .map(|(a, b)| (Bytes::from(a.to_owned()), Bytes::from(b.replace(SEQ, "0"))));
    let target = Arc::new(Target {
        addr,
        request: Bytes::from(request),
        numbered,
        keep_alive: config.keep_alive,
    });
    let mut report = run(&config.load, "http", config.url.clone(), || HttpUser {
        target: target.clone(),
        conn: None,
        buf: BytesMut::new(),
        in_flight: false,
        current: target.request.clone(),
    })
    .await;
    report.keep_alive = Some(config.keep_alive);
    Ok(report)
}

/// One user and its connection.
struct HttpUser {
    target: Arc<Target>,
    conn: Option<TcpStream>,
    /// Bytes read and not yet consumed.
    buf: BytesMut,
    /// A request was started on `conn` and never finished (it timed out):
    /// the connection's state is unknown, so it is not reused.
    in_flight: bool,
    /// The request being sent (the target's, or a numbered one).
    current: Bytes,
}

/// Why an exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failed {
    /// A reused connection was closed before any byte of the answer.
    Stale,
    /// A failure of this kind after `bytes` of body.
    Kind(FailureKind, u64),
}

impl Failed {
    fn outcome(self) -> Outcome {
        match self {
            Failed::Stale => Outcome::failed(FailureKind::Connection),
            Failed::Kind(kind, bytes) => Outcome::Failure { kind, bytes },
        }
    }
}

/// How the body of a response is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// What the head of a response says.
#[derive(Debug, Clone, Copy)]
struct Head {
    status: u16,
    len: usize,
    framing: Framing,
    /// The connection may carry another request.
    reusable: bool,
}

fn has_token(value: &[u8], token: &str) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// Parses a response head at the start of `buf`: `Ok(None)` when more
/// bytes are needed, `Err` when it is not HTTP/1.x.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let status = resp.code.ok_or(())?;
    let http11 = resp.version == Some(1);
    let (mut length, mut chunked, mut close, mut keep_alive) = (None, false, false, false);
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value).map_err(|_| ())?;
            let n: u64 = v.trim().parse().map_err(|_| ())?;
            if length.is_some_and(|l| l != n) {
                return Err(());
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked when it is the final coding.
            chunked = h
                .value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            close |= has_token(h.value, "close");
            keep_alive |= has_token(h.value, "keep-alive");
        }
    }
    let framing = match status {
        100..=199 | 204 | 304 => Framing::None,
        _ if chunked => Framing::Chunked,
        _ => length.map_or(Framing::UntilClose, Framing::Length),
    };
    // A final 1xx (101 Switching Protocols) leaves HTTP behind.
    let reusable = framing != Framing::UntilClose
        && !(100..200).contains(&status)
        && !close
        && (http11 || keep_alive);
    Ok(Some(Head {
        status,
        len,
        framing,
        reusable,
    }))
}

/// Reads more into `buf`; `Ok(0)` at the end of the stream.
async fn fill(stream: &mut TcpStream, buf: &mut BytesMut) -> std::io::Result<usize> {
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(READ_BUFFER);
    }
    stream.read_buf(buf).await
}

impl HttpUser {
    async fn send(&mut self) -> Outcome {
        if std::mem::replace(&mut self.in_flight, true) {
            self.conn = None;
        }
        let reused = self.conn.is_some();
        let mut r = self.exchange().await;
        if reused && r == Err(Failed::Stale) {
            self.conn = None;
            r = self.exchange().await;
        }
        self.in_flight = false;
        r.unwrap_or_else(Failed::outcome)
    }

    /// One request and its answer on the user's connection (a new one if
    /// it has none); keeps the connection when it may be reused.
    async fn exchange(&mut self) -> Result<Outcome, Failed> {
        let conn_error = Failed::Kind(FailureKind::Connection, 0);
        let (mut stream, reused) = match self.conn.take() {
            Some(s) => (s, true),
            None => {
                // No TCP_NODELAY (as ab): a request is one write, and
                // the previous one was acknowledged by its answer, so
                // Nagle's algorithm never holds it back.
                let s = TcpStream::connect(self.target.addr)
                    .await
                    .map_err(|_| conn_error)?;
                (s, false)
            }
        };
        // Nothing may be left from an earlier answer (a server that sent
        // more than it framed): start clean.
        self.buf.clear();
        let stale = if reused { Failed::Stale } else { conn_error };
        if stream.write_all(&self.current).await.is_err() {
            return Err(stale);
        }
        // Whether any byte of the answer came (then it is no stale connection).
        let mut answered = false;
        let head = loop {
            match parse_head(&self.buf) {
                Ok(Some(h)) if (100..200).contains(&h.status) && h.status != 101 => {
                    // An interim answer: the final one follows.
                    self.buf.advance(h.len);
                    continue;
                }
                Ok(Some(h)) => break h,
                Ok(None) if self.buf.len() > MAX_HEAD => {
                    return Err(Failed::Kind(FailureKind::BadResponse, 0))
                }
                Ok(None) => {}
                Err(()) => return Err(Failed::Kind(FailureKind::BadResponse, 0)),
            }
            match fill(&mut stream, &mut self.buf).await {
                Ok(0) | Err(_) if !answered => return Err(stale),
                Ok(0) | Err(_) => return Err(conn_error),
                Ok(_) => answered = true,
            }
        };
        self.buf.advance(head.len);
        let bytes = match head.framing {
            Framing::None => 0,
            Framing::Length(n) => self
                .skip(&mut stream, n)
                .await
                .map_err(|b| Failed::Kind(FailureKind::Connection, b))?,
            Framing::Chunked => self.chunked(&mut stream).await?,
            Framing::UntilClose => {
                let mut n = self.buf.len() as u64;
                self.buf.clear();
                loop {
                    match fill(&mut stream, &mut self.buf).await {
                        Ok(0) => break,
                        Ok(k) => {
                            n += k as u64;
                            self.buf.clear();
                        }
                        Err(_) => return Err(Failed::Kind(FailureKind::Connection, n)),
                    }
                }
                n
            }
        };
        if head.reusable && self.target.keep_alive {
            self.conn = Some(stream);
        } else if head.framing != Framing::UntilClose {
            // Let the server close first, as ab does: the TIME_WAIT state
            // stays on its side, so a long run of short connections does
            // not use up this host's ephemeral ports.
            self.buf.clear();
            while let Ok(k) = fill(&mut stream, &mut self.buf).await {
                if k == 0 {
                    break;
                }
                self.buf.clear();
            }
        }
        Ok(Outcome::of_status(head.status, bytes))
    }

    /// Consumes `n` body bytes; `Err(bytes so far)` if the stream ends first.
    async fn skip(&mut self, stream: &mut TcpStream, n: u64) -> Result<u64, u64> {
        let mut left = n;
        loop {
            let take = left.min(self.buf.len() as u64);
            self.buf.advance(take as usize);
            left -= take;
            if left == 0 {
                return Ok(n);
            }
            match fill(stream, &mut self.buf).await {
                Ok(0) | Err(_) => return Err(n - left),
                Ok(_) => {}
            }
        }
    }

    /// Consumes a chunked body (RFC 9112 §7.1) and its trailer section;
    /// returns the data bytes.
    async fn chunked(&mut self, stream: &mut TcpStream) -> Result<u64, Failed> {
        let mut total = 0u64;
        loop {
            let size = loop {
                match httparse::parse_chunk_size(&self.buf) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.buf.advance(used);
                        break size;
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(_) => return Err(Failed::Kind(FailureKind::BadResponse, total)),
                }
                match fill(stream, &mut self.buf).await {
                    Ok(0) | Err(_) => return Err(Failed::Kind(FailureKind::Connection, total)),
                    Ok(_) => {}
                }
            };
            if size == 0 {
                break;
            }
            total += self
                .skip(stream, size)
                .await
                .map_err(|b| Failed::Kind(FailureKind::Connection, total + b))?;
            // The CRLF after the data.
            self.expect_line_end(stream, total).await?;
        }
        // Trailer fields, up to an empty line.
        loop {
            while let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                self.buf.advance(i + 2);
                if i == 0 {
                    return Ok(total);
                }
            }
            match fill(stream, &mut self.buf).await {
                Ok(0) | Err(_) => return Err(Failed::Kind(FailureKind::Connection, total)),
                Ok(_) => {}
            }
        }
    }

    async fn expect_line_end(&mut self, stream: &mut TcpStream, total: u64) -> Result<(), Failed> {
        while self.buf.len() < 2 {
            match fill(stream, &mut self.buf).await {
                Ok(0) | Err(_) => return Err(Failed::Kind(FailureKind::Connection, total)),
                Ok(_) => {}
            }
        }
        if &self.buf[..2] != b"\r\n" {
            return Err(Failed::Kind(FailureKind::BadResponse, total));
        }
        self.buf.advance(2);
        Ok(())
    }
}

impl User for HttpUser {
    fn request(&mut self, i: u64) -> impl std::future::Future<Output = Outcome> + Send {
        self.current = match &self.target.numbered {
            Some((a, b)) => {
                let n = i.to_string();
                let mut r = BytesMut::with_capacity(a.len() + n.len() + b.len());
                r.extend_from_slice(a);
                r.extend_from_slice(n.as_bytes());
                r.extend_from_slice(b);
                r.freeze()
            }
            None => self.target.request.clone(),
        };
        self.send()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let (hp, path, host) = parse_url("http://127.0.0.1:8080/bb/index.html?x=1").unwrap();
        assert_eq!(hp, "127.0.0.1:8080");
        assert_eq!(path, "/bb/index.html?x=1");
        assert_eq!(host, "127.0.0.1:8080");
        let (hp, path, _) = parse_url("http://localhost").unwrap();
        assert_eq!(
            (hp.as_str(), path.to_string().as_str()),
            ("localhost:80", "/")
        );
        let (hp, _, _) = parse_url("http://[::1]:81/").unwrap();
        assert_eq!(hp, "[::1]:81");
        for bad in [
            "https://a/",
            "127.0.0.1:80/x",
            "/just/a/path",
            "http://u:p@a/",
            "ht tp://x",
        ] {
            match parse_url(bad) {
                Err(LoadgenError::Invalid { field: "url", .. }) => {}
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn response_heads_and_their_framing() {
        let head = |s: &str| parse_head(s.as_bytes());
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nbody")
            .unwrap()
            .unwrap();
        assert_eq!(
            (h.status, h.framing, h.reusable),
            (200, Framing::Length(12), true)
        );
        assert_eq!(h.len, "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n".len());
        let h = head(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(h.framing, Framing::Chunked, "chunked wins over a length");
        let h = head("HTTP/1.1 500 x\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((h.status, h.reusable), (500, false));
        let h = head("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.reusable, "HTTP/1.0 closes unless it says keep-alive");
        let h = head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.reusable);
        let h = head("HTTP/1.1 200 OK\r\n\r\n").unwrap().unwrap();
        assert_eq!((h.framing, h.reusable), (Framing::UntilClose, false));
        let h = head("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((h.framing, h.reusable), (Framing::None, true));
        let h = head("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((h.framing, h.reusable), (Framing::None, false));
        assert!(head("HTTP/1.1 200 OK\r\nContent-Len").unwrap().is_none());
        assert!(head("").unwrap().is_none());
        assert!(head("SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(head("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").is_err());
        assert!(head("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").is_err());
    }
}
