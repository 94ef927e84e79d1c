//! HTTP load: every user `GET`s one URL over HTTP/1.1 (hyper's
//! connection-level client, no pool). With keep-alive (ab -k) each user
//! holds one connection and opens a new one only when the server closed
//! it or a request on it timed out or broke; without it (plain ab) each
//! request connects, sends `Connection: close` and reads to the end.
//! Redirects are not followed (a 3xx is a failure, as in ab); `https` is
//! not supported.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, ACCEPT, CONNECTION, HOST, USER_AGENT};
use hyper::Uri;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{invalid, run, FailureKind, Load, LoadgenError, Outcome, Report, User};

/// An HTTP load.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `http://HOST[:PORT]/PATH[?QUERY]`.
    pub url: String,
    /// One connection per user for all its requests (ab -k); otherwise a
    /// connection per request (plain ab).
    pub keep_alive: bool,
    /// How much load.
    pub load: Load,
}

/// Where requests go, resolved once for all users.
#[derive(Debug)]
struct Target {
    addr: SocketAddr,
    /// The request target: path and query.
    path: Uri,
    host: HeaderValue,
    keep_alive: bool,
}

/// Reads `http://host[:port]/path?query`; the error says what is wrong.
fn parse_url(url: &str) -> Result<(String, Uri, HeaderValue), LoadgenError> {
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
    let path: Uri = uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .map_err(|e| invalid("url", format!("{url:?}: bad path: {e}")))?;
    let host_header = HeaderValue::from_str(authority.as_str())
        .map_err(|e| invalid("url", format!("{url:?}: bad host: {e}")))?;
    Ok((format!("{host}:{port}"), path, host_header))
}

/// Runs an HTTP load and reports on it.
pub async fn http(config: &HttpConfig) -> Result<Report, LoadgenError> {
    config.load.validate()?;
    let (host_port, path, host) = parse_url(&config.url)?;
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
    let target = Arc::new(Target {
        addr,
        path,
        host,
        keep_alive: config.keep_alive,
    });
    let mut report = run(&config.load, "http", config.url.clone(), || HttpUser {
        target: target.clone(),
        conn: None,
        in_flight: false,
    })
    .await;
    report.keep_alive = Some(config.keep_alive);
    Ok(report)
}

/// One user and its connection.
struct HttpUser {
    target: Arc<Target>,
    conn: Option<SendRequest<Empty<Bytes>>>,
    /// A request was started on `conn` and never finished (it timed out):
    /// the connection's state is unknown, so it is not reused.
    in_flight: bool,
}

impl HttpUser {
    async fn connect(&self) -> Option<SendRequest<Empty<Bytes>>> {
        let stream = TcpStream::connect(self.target.addr).await.ok()?;
        let _ = stream.set_nodelay(true);
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .ok()?;
        // The connection's driver; it ends when the connection closes
        // (the server's close, or `send` dropped).
        tokio::spawn(conn);
        Some(send)
    }

    async fn send(&mut self) -> Outcome {
        if std::mem::replace(&mut self.in_flight, true) {
            self.conn = None;
        }
        let mut reuse = self.conn.take();
        if let Some(s) = reuse.as_mut() {
            if s.ready().await.is_err() {
                // Closed by the server since the last request.
                reuse = None;
            }
        }
        let mut send = match reuse {
            Some(s) => s,
            None => match self.connect().await {
                Some(s) => s,
                None => {
                    self.in_flight = false;
                    return Outcome::failed(FailureKind::Connection);
                }
            },
        };
        let t = &self.target;
        let mut req = hyper::Request::new(Empty::new());
        *req.uri_mut() = t.path.clone();
        let headers = req.headers_mut();
        headers.insert(HOST, t.host.clone());
        headers.insert(USER_AGENT, HeaderValue::from_static("picasso-bench"));
        headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        if !t.keep_alive {
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        let outcome = match send.send_request(req).await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let mut body = resp.into_body();
                let mut bytes = 0u64;
                let mut broken = false;
                while let Some(frame) = body.frame().await {
                    match frame {
                        Ok(f) => {
                            if let Some(d) = f.data_ref() {
                                bytes += d.len() as u64;
                            }
                        }
                        Err(_) => {
                            broken = true;
                            break;
                        }
                    }
                }
                if broken {
                    Outcome::Failure {
                        kind: FailureKind::Connection,
                        bytes,
                    }
                } else {
                    if t.keep_alive {
                        self.conn = Some(send);
                    }
                    Outcome::of_status(status, bytes)
                }
            }
            Err(_) => Outcome::failed(FailureKind::Connection),
        };
        self.in_flight = false;
        outcome
    }
}

impl User for HttpUser {
    fn request(&mut self, _i: u64) -> impl std::future::Future<Output = Outcome> + Send {
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
}
