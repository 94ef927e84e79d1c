//! `picasso-httpd`: a tiny static HTTP/1.1 file server, std only, so it
//! builds as a fully static binary for a `FROM scratch` image.
//!
//! ```text
//! picasso-httpd [--port N] [--host ADDR] [--root DIR]
//! ```
//!
//! Defaults: port from `$PORT` else 80, host from `$HOST` else 0.0.0.0,
//! root from `$ROOT` else `/www`. Serves GET and HEAD of files under the
//! root (`/` is `/index.html`) with Content-Type by extension and
//! `Cache-Control: public, max-age=60`; keeps connections alive
//! (HTTP/1.1 default, `Connection: close` honoured); one thread per
//! connection. Paths with `..` or other unsafe components are refused.
//!
//! Not supported: ranges, conditional requests, chunked request bodies
//! (requests with a body are answered 405 and the connection closed).

#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What every cacheable answer says to caches (the gateway turns it into a
/// FreshnessPeriod).
const CACHE_CONTROL: &str = "public, max-age=60";
/// Longest request head we read.
const MAX_HEAD: usize = 16 * 1024;
/// Idle time after which a kept-alive connection is closed.
const IDLE: Duration = Duration::from_secs(30);

fn main() {
    let mut port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(80);
    let mut host = std::env::var("HOST").unwrap_or_else(|_| "0.0.0.0".to_owned());
    let mut root = PathBuf::from(std::env::var("ROOT").unwrap_or_else(|_| "/www".to_owned()));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next().unwrap_or_else(|| {
                eprintln!("picasso-httpd: {arg} needs a value");
                std::process::exit(2)
            })
        };
        match arg.as_str() {
            "--port" => {
                port = value().parse().unwrap_or_else(|e| {
                    eprintln!("picasso-httpd: bad --port: {e}");
                    std::process::exit(2)
                })
            }
            "--host" => host = value(),
            "--root" => root = PathBuf::from(value()),
            other => {
                eprintln!("picasso-httpd: unknown argument {other}");
                eprintln!("usage: picasso-httpd [--port N] [--host ADDR] [--root DIR]");
                std::process::exit(2)
            }
        }
    }
    let listener = TcpListener::bind((host.as_str(), port)).unwrap_or_else(|e| {
        eprintln!("picasso-httpd: cannot listen on {host}:{port}: {e}");
        std::process::exit(1)
    });
    let root = Arc::new(root);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let root = Arc::clone(&root);
        std::thread::spawn(move || {
            let _ = serve(stream, &root);
        });
    }
}

/// Serves requests on one connection until it closes.
fn serve(stream: TcpStream, root: &Path) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IDLE))?;
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    loop {
        let Some(request) = read_head(&mut reader)? else {
            return Ok(());
        };
        let keep_alive = respond(&mut out, root, &request)?;
        if !keep_alive {
            return Ok(());
        }
    }
}

/// A request head.
struct Request {
    method: String,
    target: String,
    http10: bool,
    close: bool,
    has_body: bool,
}

/// Reads one request head; `None` at a clean end of stream.
fn read_head(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    // Skip empty lines between requests (RFC 9112 §2.2).
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let version = parts.next().unwrap_or_default().to_owned();
    let mut request = Request {
        method,
        target,
        http10: version == "HTTP/1.0",
        close: version == "HTTP/1.0",
        has_body: false,
    };
    let mut total = line.len();
    loop {
        line.clear();
        let n = reader.read_line(&mut line)?;
        total += n;
        if n == 0 || total > MAX_HEAD {
            return Ok(None);
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let value = value.trim().to_ascii_lowercase();
        match name.trim().to_ascii_lowercase().as_str() {
            "connection" if value.contains("close") => request.close = true,
            "connection" if value.contains("keep-alive") => request.close = false,
            "content-length" if value != "0" => request.has_body = true,
            "transfer-encoding" => request.has_body = true,
            _ => {}
        }
    }
    Ok(Some(request))
}

/// Answers one request; returns whether to keep the connection.
fn respond(out: &mut TcpStream, root: &Path, req: &Request) -> std::io::Result<bool> {
    let keep = !req.close && !req.has_body;
    if req.method != "GET" && req.method != "HEAD" || req.has_body {
        write_response(
            out,
            req,
            405,
            "Method Not Allowed",
            "text/plain",
            b"method not allowed\n",
            false,
            false,
        )?;
        return Ok(false);
    }
    let path = req.target.split(['?', '#']).next().unwrap_or("/");
    let Some(file) = resolve(root, path) else {
        write_response(
            out,
            req,
            400,
            "Bad Request",
            "text/plain",
            b"bad path\n",
            keep,
            false,
        )?;
        return Ok(keep);
    };
    match std::fs::read(&file) {
        Ok(body) => {
            write_response(out, req, 200, "OK", content_type(&file), &body, keep, true)?;
        }
        Err(_) => {
            write_response(
                out,
                req,
                404,
                "Not Found",
                "text/plain",
                b"not found\n",
                keep,
                false,
            )?;
        }
    }
    Ok(keep)
}

/// Maps a URL path to a file under `root`; `None` for unsafe paths.
fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    let path = if path.is_empty() || path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path.to_owned()
    };
    let relative = Path::new(path.trim_start_matches('/'));
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return None;
    }
    Some(root.join(relative))
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "css" => "text/css",
        "js" => "application/javascript",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[allow(clippy::too_many_arguments)]
fn write_response(
    out: &mut TcpStream,
    req: &Request,
    code: u16,
    reason: &str,
    content_type: &str,
    body: &[u8],
    keep_alive: bool,
    cacheable: bool,
) -> std::io::Result<()> {
    let version = if req.http10 { "HTTP/1.0" } else { "HTTP/1.1" };
    let mut head = format!(
        "{version} {code} {reason}\r\nServer: picasso-httpd\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if cacheable {
        head.push_str(&format!("Cache-Control: {CACHE_CONTROL}\r\n"));
    } else {
        head.push_str("Cache-Control: no-store\r\n");
    }
    head.push_str(if keep_alive {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    let mut response = head.into_bytes();
    if req.method != "HEAD" {
        response.extend_from_slice(body);
    }
    out.write_all(&response)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_index_and_refuses_traversal() {
        let root = Path::new("/www");
        assert_eq!(resolve(root, "/"), Some(PathBuf::from("/www/index.html")));
        assert_eq!(
            resolve(root, "/image.jpg"),
            Some(PathBuf::from("/www/image.jpg"))
        );
        assert_eq!(
            resolve(root, "/a/"),
            Some(PathBuf::from("/www/a/index.html"))
        );
        assert_eq!(resolve(root, "/../etc/passwd"), None);
        assert_eq!(resolve(root, "/a/../../x"), None);
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(
            content_type(Path::new("a.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("a.jpg")), "image/jpeg");
        assert_eq!(content_type(Path::new("a")), "application/octet-stream");
    }
}
