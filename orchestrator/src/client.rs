//! A small blocking HTTP/1.1 client for the orchestrator's API, used by
//! the CLI (`picasso status`, `repo`, `deploy`, `scale`, `policy`): std
//! only, one request per connection (`Connection: close`), bodies from
//! memory or streamed from a file.
//!
//! An answer that is not 2xx becomes [`ClientError::Refused`] carrying the
//! API's `error` text, so the CLI prints the reason.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

/// Default API URL.
pub const DEFAULT_URL: &str = "http://127.0.0.1:7070";
/// The environment variable naming the API URL.
pub const ENV_URL: &str = "PICASSO_API";

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not `http://HOST:PORT`.
    #[error("api: {0:?} is not http://HOST:PORT")]
    Url(String),
    /// The orchestrator could not be reached.
    #[error("cannot reach the orchestrator at {addr}: {source}")]
    Connect {
        /// HOST:PORT.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The exchange broke.
    #[error("talking to the orchestrator at {addr}: {source}")]
    Io {
        /// HOST:PORT.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The answer is not HTTP or not JSON.
    #[error("the orchestrator at {addr} answered something unreadable: {reason}")]
    Malformed {
        /// HOST:PORT.
        addr: String,
        /// What.
        reason: String,
    },
    /// The API refused the call.
    #[error("refused ({status}): {reason}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The API's `error`.
        reason: String,
    },
}

/// What a request carries.
pub enum Body<'a> {
    /// Nothing.
    Empty,
    /// JSON.
    Json(&'a Value),
    /// Raw bytes from memory.
    Bytes(&'a [u8]),
    /// A file, streamed.
    File(&'a Path),
}

/// A client of one orchestrator API.
#[derive(Debug, Clone)]
pub struct ApiClient {
    addr: String,
    timeout: Duration,
}

impl ApiClient {
    /// A client for `url` (`http://HOST:PORT`, or `HOST:PORT`).
    pub fn new(url: &str) -> Result<Self, ClientError> {
        let rest = url.strip_prefix("http://").unwrap_or(url);
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') || !rest.contains(':') {
            return Err(ClientError::Url(url.to_owned()));
        }
        Ok(Self {
            addr: rest.to_owned(),
            timeout: Duration::from_secs(120),
        })
    }

    /// The client for `--api URL`, else `$PICASSO_API`, else the default.
    pub fn from_flag(flag: Option<&str>) -> Result<Self, ClientError> {
        match flag {
            Some(u) => Self::new(u),
            None => match std::env::var(ENV_URL) {
                Ok(u) if !u.is_empty() => Self::new(&u),
                _ => Self::new(DEFAULT_URL),
            },
        }
    }

    /// `HOST:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// GET `path` as JSON.
    pub fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.call("GET", path, Body::Empty)
    }

    /// GET `path` as text.
    pub fn get_text(&self, path: &str) -> Result<String, ClientError> {
        let (status, body) = self.exchange("GET", path, Body::Empty)?;
        if !(200..300).contains(&status) {
            return Err(refused(status, &body));
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// POST `body` as JSON to `path`.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.call("POST", path, Body::Json(body))
    }

    /// Sends `method path` with `body`; the answer's JSON, or the refusal.
    pub fn call(&self, method: &str, path: &str, body: Body<'_>) -> Result<Value, ClientError> {
        let (status, bytes) = self.exchange(method, path, body)?;
        if !(200..300).contains(&status) {
            return Err(refused(status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Malformed {
            addr: self.addr.clone(),
            reason: format!("not JSON: {e}"),
        })
    }

    fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Body<'_>,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let io = |source| ClientError::Io {
            addr: self.addr.clone(),
            source,
        };
        let target = self
            .addr
            .to_socket_addrs()
            .map_err(|source| ClientError::Connect {
                addr: self.addr.clone(),
                source,
            })?
            .next()
            .ok_or_else(|| ClientError::Url(self.addr.clone()))?;
        let mut s =
            TcpStream::connect_timeout(&target, Duration::from_secs(5)).map_err(|source| {
                ClientError::Connect {
                    addr: self.addr.clone(),
                    source,
                }
            })?;
        s.set_read_timeout(Some(self.timeout)).map_err(io)?;
        s.set_write_timeout(Some(self.timeout)).map_err(io)?;
        let mut json_bytes = Vec::new();
        let (content_type, length, file) = match body {
            Body::Empty => (None, 0u64, None),
            Body::Json(v) => {
                json_bytes = serde_json::to_vec(v).unwrap_or_default();
                (Some("application/json"), json_bytes.len() as u64, None)
            }
            Body::Bytes(b) => {
                json_bytes = b.to_vec();
                (Some("application/octet-stream"), b.len() as u64, None)
            }
            Body::File(p) => {
                let f = std::fs::File::open(p).map_err(io)?;
                let len = f.metadata().map_err(io)?.len();
                (Some("application/x-tar"), len, Some(f))
            }
        };
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {length}\r\n",
            self.addr
        );
        if let Some(ct) = content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).map_err(io)?;
        match file {
            Some(mut f) => {
                std::io::copy(&mut f, &mut s).map_err(io)?;
            }
            None => s.write_all(&json_bytes).map_err(io)?,
        }
        s.flush().map_err(io)?;
        let mut r = BufReader::new(s);
        let malformed = |reason: String| ClientError::Malformed {
            addr: self.addr.clone(),
            reason,
        };
        let mut line = String::new();
        r.read_line(&mut line).map_err(io)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| malformed(format!("status line {:?}", line.trim_end())))?;
        let mut content_length: Option<usize> = None;
        let mut chunked = false;
        loop {
            line.clear();
            if r.read_line(&mut line).map_err(io)? == 0 {
                return Err(malformed("the headers end early".to_owned()));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
                if k == "content-length" {
                    content_length = v.parse().ok();
                } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                    chunked = true;
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                r.read_line(&mut line).map_err(io)?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| malformed(format!("chunk size {:?}", line.trim())))?;
                if size == 0 {
                    break;
                }
                let start = body.len();
                body.resize(start + size, 0);
                r.read_exact(&mut body[start..]).map_err(io)?;
                line.clear();
                r.read_line(&mut line).map_err(io)?;
            }
        } else if let Some(n) = content_length {
            body.resize(n, 0);
            r.read_exact(&mut body).map_err(io)?;
        } else {
            r.read_to_end(&mut body).map_err(io)?;
        }
        Ok((status, body))
    }
}

fn refused(status: u16, body: &[u8]) -> ClientError {
    let reason = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned());
    ClientError::Refused { status, reason }
}

/// `%XX`-escapes a path segment (image names hold `/` and `:`).
pub fn escape_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_escapes() {
        assert_eq!(
            ApiClient::new("http://127.0.0.1:7070/").unwrap().addr(),
            "127.0.0.1:7070"
        );
        assert_eq!(ApiClient::new("localhost:1").unwrap().addr(), "localhost:1");
        assert!(ApiClient::new("http://x/y").is_err());
        assert!(ApiClient::new("https-ish").is_err());
        assert_eq!(escape_segment("picasso/bb:1"), "picasso%2Fbb%3A1");
    }
}
