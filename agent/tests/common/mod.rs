//! Helpers shared by the agent's integration tests.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// The workspace root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("agent/ has a parent")
        .to_owned()
}

/// The static picasso-httpd, built once into target/static.
pub fn static_httpd() -> anyhow::Result<PathBuf> {
    let ws = workspace();
    Ok(picasso_agent::images::build_static_httpd(
        &ws,
        &ws.join("target/static"),
    )?)
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A response: status code, headers (lower-case names), body.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response with a Content-Length body from `stream`.
pub fn read_response(stream: &mut TcpStream) -> anyhow::Result<Response> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            bail!("connection closed in the response head");
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8(head)?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .context("no status line")?
        .parse()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .context("no content-length")?
        .1
        .parse()?;
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body)?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// GET `path` from 127.0.0.1:`port` on a new connection.
pub fn get(port: u16, path: &str) -> anyhow::Result<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    read_response(&mut stream)
}

/// GET `path` until the server answers, for up to `patience`.
pub fn get_when_up(port: u16, path: &str, patience: Duration) -> anyhow::Result<Response> {
    let deadline = Instant::now() + patience;
    loop {
        match get(port, path) {
            Ok(r) => return Ok(r),
            Err(e) if Instant::now() > deadline => {
                return Err(e.context(format!("GET {path} on port {port}")))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Label that marks the containers of one test.
pub const TEST_LABEL: &str = "picasso.test";

/// Removes every container carrying label `key=value` when dropped, even
/// when the test fails.
pub struct Cleanup {
    /// Label key.
    pub key: String,
    /// Label value.
    pub value: String,
}

impl Cleanup {
    /// A guard for the containers labelled `key=value`.
    pub fn new(key: &str, value: &str) -> Self {
        Self {
            key: key.to_owned(),
            value: value.to_owned(),
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (key, value) = (self.key.clone(), self.value.clone());
        // Drop cannot await: talk to the engine from a thread of our own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime");
            rt.block_on(async {
                use picasso_agent::runtime::Runtime;
                let Ok(docker) =
                    picasso_agent::runtime::docker::DockerRuntime::connect_default().await
                else {
                    return;
                };
                let filter = std::collections::BTreeMap::from([(key, value)]);
                for c in docker.list(&filter).await.unwrap_or_default() {
                    let _ = docker.remove(&c.id, true).await;
                }
            })
        })
        .join();
    }
}
