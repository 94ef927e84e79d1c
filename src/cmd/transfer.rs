//! `picasso put` and `picasso get`: serve a file under a name (segmented,
//! versioned, signed) until stopped, and fetch one (pipelined, like
//! ndncatchunks) to stdout. The work is in `picasso_forwarder::app`.
//!
//! A service's answer (a name under `<root>/svc/`, or any name with
//! `--http`) is an HttpResponse TLV (`picasso_agent::gateway::message`):
//! `picasso get` prints its body, byte for byte, and exits non-zero naming
//! the status when it is not 2xx; `--raw` prints the TLV itself.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Args;
use picasso_forwarder::app::fetch::{fetch_with, FetchOptions};
use picasso_forwarder::app::publish::Publication;
use picasso_forwarder::app::{Client, FaceAddr, DEFAULT_SOCKET};
use picasso_tlv::{Name, Signer, Verifier};

/// Content bytes per segment.
pub const SEGMENT_SIZE: usize = 8000;

fn default_face() -> String {
    format!("unix:{DEFAULT_SOCKET}")
}

/// Arguments of `picasso put`.
#[derive(Args, Debug)]
pub struct PutArgs {
    /// The forwarder: unix:PATH, tcp:HOST:PORT or udp:HOST:PORT.
    #[arg(long, default_value_t = default_face())]
    fwd: String,
    /// Sign with Ed25519 using this file's 32-byte seed (hex or raw)
    /// instead of DigestSha256.
    #[arg(long)]
    key: Option<PathBuf>,
    /// KeyLocator name for --key.
    #[arg(long, default_value = "/picasso/key")]
    key_name: String,
    /// The name to serve under.
    name: String,
    /// The file to serve.
    file: PathBuf,
}

/// Arguments of `picasso get`.
#[derive(Args, Debug)]
pub struct GetArgs {
    /// The forwarder: unix:PATH, tcp:HOST:PORT or udp:HOST:PORT.
    #[arg(long, default_value_t = default_face())]
    fwd: String,
    /// Verify every segment with this Ed25519 public key (hex or raw 32
    /// bytes); without it, DigestSha256 signatures are checked.
    #[arg(long)]
    verify_key: Option<PathBuf>,
    /// Do not verify signatures.
    #[arg(long)]
    no_verify: bool,
    /// Interest lifetime ceiling in milliseconds.
    #[arg(long, default_value_t = 4000)]
    lifetime_ms: u64,
    /// Retransmissions per segment before giving up.
    #[arg(long, default_value_t = 15)]
    retries: u32,
    /// The content is a service's HttpResponse: print its body (the
    /// default for names under ROOT/svc/).
    #[arg(long, conflicts_with = "raw")]
    http: bool,
    /// Print the content as it is, even for names under ROOT/svc/.
    #[arg(long)]
    raw: bool,
    /// The name root, for recognising service names.
    #[arg(long, default_value = "/picasso")]
    root: String,
    /// The name to fetch.
    name: String,
}

/// True when `name` is a request to a service, `<root>/svc/<service>/…`.
fn is_service_name(root: &Name, name: &Name) -> bool {
    let svc = root.append_str("svc");
    svc.is_prefix_of(name) && name.len() > svc.len()
}

/// The body of a service's answer, or an error naming its status.
fn http_body(name: &Name, content: bytes::Bytes) -> anyhow::Result<bytes::Bytes> {
    use picasso_agent::gateway::message::HttpResponse;
    let response = HttpResponse::decode(content)
        .with_context(|| format!("{name}: the content is not an HttpResponse (try --raw)"))?;
    if !(200..300).contains(&response.status) {
        let text = String::from_utf8_lossy(&response.body);
        let text = text.trim();
        let shown: String = text.chars().take(200).collect();
        anyhow::bail!("{name}: HTTP status {}: {shown}", response.status);
    }
    Ok(response.body)
}

/// Reads a 32-byte key from a file holding it raw or in hex.
fn read_key(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    let raw = std::fs::read(path).with_context(|| format!("cannot read key {}", path.display()))?;
    if raw.len() == 32 {
        return Ok(raw);
    }
    let text = String::from_utf8_lossy(&raw);
    hex::decode(text.trim())
        .with_context(|| format!("key {} is neither 32 raw bytes nor hex", path.display()))
}

async fn connect(fwd: &str) -> anyhow::Result<Client> {
    let addr: FaceAddr = fwd.parse().map_err(anyhow::Error::msg)?;
    Client::connect(&addr)
        .await
        .with_context(|| format!("cannot connect to the forwarder at {addr}"))
}

/// Serves a file until SIGTERM or SIGINT.
pub fn put(args: PutArgs) -> anyhow::Result<()> {
    if args.fwd.starts_with("udp:") {
        anyhow::bail!(
            "a producer needs a local face to register its prefix: use --fwd unix:PATH or \
             tcp:127.0.0.1:PORT (UDP faces are non-local, as in NFD)"
        );
    }
    let name =
        Name::from_uri(&args.name).with_context(|| format!("invalid name {:?}", args.name))?;
    let content = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let signer = match &args.key {
        Some(k) => {
            let key_name = Name::from_uri(&args.key_name)
                .with_context(|| format!("invalid key name {:?}", args.key_name))?;
            Signer::ed25519_from_seed(&read_key(k)?, key_name)?
        }
        None => Signer::DigestSha256,
    };
    let version = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    let publication = Arc::new(Publication::new(
        &name,
        version,
        &content,
        SEGMENT_SIZE,
        &signer,
    ));
    let rt = super::runtime(0)?;
    rt.block_on(async move {
        use tokio::signal::unix::{signal, SignalKind};
        // Handlers before "serving": a signal right after it stops us cleanly.
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let client = connect(&args.fwd).await?;
        publication
            .serve(&client)
            .await
            .context("cannot register the prefix")?;
        println!(
            "serving {} ({} bytes, {} segments)",
            publication.versioned_name(),
            content.len(),
            publication.segment_count()
        );
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        Ok(())
    })
}

/// Fetches a name to stdout.
pub fn get(args: GetArgs) -> anyhow::Result<()> {
    let name =
        Name::from_uri(&args.name).with_context(|| format!("invalid name {:?}", args.name))?;
    let root =
        Name::from_uri(&args.root).with_context(|| format!("invalid root {:?}", args.root))?;
    let unwrap_http = args.http || (!args.raw && is_service_name(&root, &name));
    let verifier = match (&args.verify_key, args.no_verify) {
        (_, true) => None,
        (Some(k), false) => Some(Verifier::ed25519_from_public(&read_key(k)?)?),
        (None, false) => Some(Verifier::DigestSha256),
    };
    let options = FetchOptions {
        lifetime: Duration::from_millis(args.lifetime_ms),
        max_retries: args.retries,
        verifier,
        ..FetchOptions::default()
    };
    let rt = super::runtime(0)?;
    rt.block_on(async move {
        let client = connect(&args.fwd).await?;
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let mut write_error = None;
        // A service's answer is decoded whole; anything else streams.
        let mut joined = bytes::BytesMut::new();
        let stats = fetch_with(&client, &name, &options, |b| {
            if unwrap_http {
                joined.extend_from_slice(&b);
            } else if write_error.is_none() {
                if let Err(e) = out.write_all(&b) {
                    write_error = Some(e);
                }
            }
        })
        .await?;
        if unwrap_http {
            let body = http_body(&name, joined.freeze())?;
            out.write_all(&body).context("cannot write to stdout")?;
        }
        if let Some(e) = write_error {
            return Err(e).context("cannot write to stdout");
        }
        out.flush().context("cannot write to stdout")?;
        tracing::info!(
            name = %stats.versioned_name,
            segments = stats.segments,
            bytes = stats.bytes,
            retransmissions = stats.retransmissions,
            "fetched"
        );
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use picasso_agent::gateway::message::HttpResponse;

    #[test]
    fn service_names_are_recognised_under_the_root() {
        let root = Name::from_uri("/picasso").unwrap();
        let yes = |u: &str| is_service_name(&root, &Name::from_uri(u).unwrap());
        assert!(yes("/picasso/svc/bb/index.html"));
        assert!(yes("/picasso/svc/bb"));
        assert!(!yes("/picasso/svc"));
        assert!(!yes("/picasso/repo/image/bb"));
        assert!(!yes("/other/svc/bb"));
    }

    #[test]
    fn a_2xx_answer_gives_its_body_and_others_name_the_status() {
        let name = Name::from_uri("/picasso/svc/bb/x").unwrap();
        let ok = HttpResponse {
            status: 200,
            headers: vec![],
            body: bytes::Bytes::from_static(b"\x00\xffbody"),
        };
        assert_eq!(&http_body(&name, ok.encode()).unwrap()[..], b"\x00\xffbody");
        let missing = HttpResponse::text(404, "no such file\n");
        let e = http_body(&name, missing.encode()).unwrap_err().to_string();
        assert!(e.contains("HTTP status 404: no such file"), "{e}");
        let e = http_body(&name, bytes::Bytes::from_static(b"plain"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not an HttpResponse"), "{e}");
    }
}
