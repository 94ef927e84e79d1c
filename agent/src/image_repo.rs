//! Images by name: the naming and signed manifest shared by the
//! orchestrator's service repo and the nodes, a publisher that serves an
//! archive under its name, and the resumable, pipelined fetcher a node uses
//! to get an image it does not have.
//!
//! Names (under the root, default `/picasso`):
//!
//! ```text
//! <root>/repo/image/<image>/manifest/v=<ver>/seg=<n>  the manifest, JSON, segmented,
//!                                                      every segment signed (Ed25519,
//!                                                      orchestrator key)
//! <root>/repo/image/<image>/v=<ver>/seg=<n>           segment n of the archive (DigestSha256)
//! ```
//!
//! The manifest lists a 32-byte checkpoint per segment, so it outgrows one packet
//! (8800 octets) beyond about 100 segments: it is fetched like any
//! segmented object, a CanBePrefix Interest for `…/manifest` answered with
//! segment 0 (FinalBlockId = last segment), then the rest. An Interest for
//! `…/manifest` without CanBePrefix gets the whole manifest as one Data
//! named exactly so, when it fits one packet.
//!
//! `<image>` is one name component, the image name as the deployment
//! descriptor gives it (`busybox-httpd`). The manifest:
//!
//! ```text
//! { "name": "busybox-httpd", "version": 1700000000000, "size": 1234567,
//!   "sha256": "<hex of the whole archive>", "segmentSize": 8000, "segments": 155,
//!   "segmentChain": ["<SHA-256 chaining value after segment 0>", …, "<… after segment 153>"],
//!   "tag": "picasso/busybox-httpd:1" }
//! ```
//!
//! `segmentChain` holds the SHA-256 chaining value of the whole archive
//! after every segment but the last (see [`chain`]; `segmentSize` is a
//! multiple of SHA-256's 64-byte block). Segment n is checked on its own by
//! hashing it from checkpoint n-1 (SHA-256's initial value for segment 0)
//! and comparing with checkpoint n; the last segment, hashed from the last
//! checkpoint and padded, must give the archive's `sha256`. So checking
//! every segment checks the whole archive too, hashing each byte once.
//!
//! A publisher serves one version. An Interest for a segment (or manifest
//! segment) of another version of the same image is answered with an
//! application-level Nack (ContentType NACK, spec §6.2.1) whose content is
//! `{"error": "…", "version": <current>}`: a node holding a manifest that
//! was current a moment ago (from a content store still keeping it fresh)
//! learns at once that the version is gone and which one replaced it,
//! fetches `…/manifest/v=<current>` (answered with that manifest's segment
//! 0 to a CanBePrefix Interest) and carries on, instead of timing out.
//!
//! `tag` (optional) is the engine reference the archive loads as. Segments
//! need no signature of their own: the signed manifest carries the
//! checkpoints around each one, so a segment from the repository or from
//! any cache on the way is checked before it is kept.
//!
//! The fetcher writes into `<dir>/<file>.tar.partial`, in order, beside a
//! progress record `<file>.tar.partial.json` naming the manifest it
//! belongs to. A fetch that stops (timeout, bad segment, cancelled future,
//! crashed process) leaves both; the next fetch of the same manifest
//! re-verifies the partial file segment by segment against the manifest,
//! keeps the verified prefix and fetches the rest. The last segment's check
//! is the whole archive's sha256; once it passes, the file is renamed
//! atomically to `<file>.tar`. The file is not fsync'ed: a complete archive
//! found on disk is verified again before it is reused, so one that a crash
//! left incomplete is fetched again rather than trusted.
//!
//! This module does not load images into an engine ([`crate::exec`] does)
//! nor decide which images a repo offers (the orchestrator does).

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use picasso_forwarder::app::fetch::{fetch, FetchError, FetchOptions};
use picasso_forwarder::app::{Client, ExpressError, RegisterError};
use picasso_tlv::data::content_type;
use picasso_tlv::lp::NackReason;
use picasso_tlv::{Component, Data, Interest, Name, Signer, Verifier};
use serde::{Deserialize, Serialize};

pub mod chain;

/// Default segment size: one segment fits an 8800-byte NDN packet.
pub const SEGMENT_SIZE: usize = 8000;
/// Largest segment size a manifest may announce.
pub const MAX_SEGMENT_SIZE: u64 = 1 << 20;
/// FreshnessPeriod of the manifest: short, so a new version is seen soon.
pub const MANIFEST_FRESHNESS_MS: u64 = 1000;
/// Content octets per manifest segment (room is left under NDN's 8800-octet
/// packet limit for the name and an Ed25519 signature with its KeyLocator).
pub const MANIFEST_SEGMENT_SIZE: usize = 6000;
/// FreshnessPeriod of segments (immutable, so caches may keep them).
pub const SEGMENT_FRESHNESS_MS: u64 = 3_600_000;
/// What one segment Interest came to: (segment, sent at, retransmission?,
/// result).
type SegmentOutcome = (u64, Instant, bool, Result<Data, ExpressError>);

/// Segments queued between the pipeline and the writer thread (2 MB of
/// 8000-byte segments). The writer falls behind in bursts, when the
/// forwarder and the repo have both cores; with 64 the pipeline waited on
/// it for ~60 ms of a 250 ms fetch of 100 MB, with 256 for ~25 ms.
const WRITER_QUEUE: usize = 256;
/// How many segments are written between two progress records (16 MB of
/// 8000-byte segments). The record is a hint for people and tools: a
/// resumed fetch re-verifies the partial file itself, and the record is
/// written again whenever a fetch stops, so a rarer record loses nothing.
/// Every 256 segments it cost ~2% of a 100 MB fetch's CPU (file create,
/// write, rename).
const PROGRESS_EVERY: u64 = 2048;

/// `<root>/repo/image/<image>`.
pub fn image_prefix(root: &Name, image: &str) -> Name {
    root.append_str("repo")
        .append_str("image")
        .append(&Component::generic(Bytes::copy_from_slice(
            image.as_bytes(),
        )))
}

/// `<root>/repo/image/<image>/manifest`.
pub fn manifest_name(root: &Name, image: &str) -> Name {
    image_prefix(root, image).append_str("manifest")
}

/// `<root>/repo/image/<image>/v=<version>/seg=<segment>`.
pub fn segment_name(root: &Name, image: &str, version: u64, segment: u64) -> Name {
    image_prefix(root, image)
        .append(&Component::version(version))
        .append(&Component::segment(segment))
}

/// The signed description of one image archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageManifest {
    /// The image's name in the repo (one name component).
    pub name: String,
    /// The version its segments are published under.
    pub version: u64,
    /// Archive size in bytes.
    pub size: u64,
    /// sha256 of the whole archive, lower-case hex.
    pub sha256: String,
    /// Bytes per segment (the last may be shorter), a multiple of 64.
    #[serde(rename = "segmentSize")]
    pub segment_size: u64,
    /// Number of segments.
    pub segments: u64,
    /// The archive's SHA-256 chaining value after each segment but the
    /// last, lower-case hex (module docs, [`chain`]).
    #[serde(rename = "segmentChain")]
    pub segment_chain: Vec<String>,
    /// The engine reference the archive loads as, e.g. `picasso/busybox-httpd:1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

impl ImageManifest {
    /// Describes the archive at `path` (reads it once). `segment_size` is
    /// rounded down to whole SHA-256 blocks (64 bytes), within 64 bytes and
    /// [`MAX_SEGMENT_SIZE`].
    pub fn of_file(
        name: &str,
        tag: Option<&str>,
        version: u64,
        path: &Path,
        segment_size: usize,
    ) -> std::io::Result<Self> {
        let block = chain::BLOCK;
        let segment_size = segment_size.clamp(block, MAX_SEGMENT_SIZE as usize) / block * block;
        let mut file = std::fs::File::open(path)?;
        let mut hasher = chain::ChainHasher::new();
        let mut segment_chain = Vec::new();
        let (mut this, mut next) = (vec![0u8; segment_size], vec![0u8; segment_size]);
        let mut n = read_full(&mut file, &mut this)?;
        let mut size = 0u64;
        let sha256 = loop {
            size += n as u64;
            // A full segment is the last one only if nothing follows it.
            let following = if n == segment_size {
                read_full(&mut file, &mut next)?
            } else {
                0
            };
            if following == 0 {
                break hasher.finish(&this[..n]);
            }
            // Invariant: a full segment is whole blocks (segment_size is).
            let whole = hasher.absorb_blocks(&this);
            debug_assert!(whole);
            segment_chain.push(hex::encode(hasher.state()));
            std::mem::swap(&mut this, &mut next);
            n = following;
        };
        Ok(Self {
            name: name.to_owned(),
            version,
            size,
            sha256: hex::encode(sha256),
            segment_size: segment_size as u64,
            segments: segment_chain.len() as u64 + 1,
            segment_chain,
            tag: tag.map(str::to_owned),
        })
    }

    /// Checks that the fields agree with each other.
    pub fn check(&self) -> Result<(), String> {
        if self.segment_size == 0 || self.segment_size > MAX_SEGMENT_SIZE {
            return Err(format!("segmentSize {} is out of range", self.segment_size));
        }
        if !self.segment_size.is_multiple_of(chain::BLOCK as u64) {
            return Err(format!(
                "segmentSize {} is not a multiple of {} (a SHA-256 block)",
                self.segment_size,
                chain::BLOCK
            ));
        }
        let want = self.size.div_ceil(self.segment_size).max(1);
        if self.segments != want {
            return Err(format!(
                "segments {} does not match size {} / segmentSize {}",
                self.segments, self.size, self.segment_size
            ));
        }
        if self.segment_chain.len() as u64 + 1 != self.segments {
            return Err(format!(
                "segmentChain has {} entries for {} segments (one per segment but the last)",
                self.segment_chain.len(),
                self.segments
            ));
        }
        if !is_digest(&self.sha256) {
            return Err("sha256 is not 64 hex digits".to_owned());
        }
        if let Some(i) = self.segment_chain.iter().position(|s| !is_digest(s)) {
            return Err(format!("segmentChain[{i}] is not 64 hex digits"));
        }
        Ok(())
    }

    /// The checkpoints and the archive's digest as bytes, for
    /// [`chain::segment_matches`]; `None` if one is not 64 hex digits
    /// ([`Self::check`] says which).
    pub fn checkpoints(&self) -> Option<Checkpoints> {
        let decode = |h: &str| {
            let mut d = [0u8; 32];
            hex::decode_to_slice(h, &mut d).ok().map(|()| d)
        };
        Some(Checkpoints {
            chain: self
                .segment_chain
                .iter()
                .map(|h| decode(h))
                .collect::<Option<Vec<_>>>()?,
            sha256: decode(&self.sha256)?,
            segment_size: self.segment_size,
        })
    }

    /// Length of segment `n`.
    pub fn segment_len(&self, n: u64) -> u64 {
        let start = n * self.segment_size;
        self.size.saturating_sub(start).min(self.segment_size)
    }

    /// The file stem the fetcher stores this archive under.
    fn file_stem(&self) -> String {
        let safe: String = self
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!(
            "{safe}-v{}-{}",
            self.version,
            &self.sha256[..16.min(self.sha256.len())]
        )
    }
}

/// Whether `s` is 64 hex digits. Folded without an early exit so that it
/// compiles to vector instructions: a 100 MB image's manifest has 12,500
/// of these, and the byte-at-a-time check took ~3 ms per manifest.
fn is_digest(s: &str) -> bool {
    s.len() == 64
        && s.bytes().fold(true, |ok, b| {
            ok & (b.is_ascii_digit() | matches!(b | 0x20, b'a'..=b'f'))
        })
}

/// A manifest's checkpoints, decoded: what checks each segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoints {
    /// The chaining value after each segment but the last.
    pub chain: Vec<[u8; 32]>,
    /// The whole archive's SHA-256.
    pub sha256: [u8; 32],
    /// Bytes per segment.
    pub segment_size: u64,
}

impl Checkpoints {
    /// Whether `data` is segment `n`.
    pub fn matches(&self, n: u64, data: &[u8]) -> bool {
        chain::segment_matches(&self.chain, &self.sha256, self.segment_size, n, data)
    }

    /// Segments in all.
    pub fn segments(&self) -> u64 {
        self.chain.len() as u64 + 1
    }

    /// The whole archive's SHA-256 if `data` were its last segment.
    pub fn last_digest(&self, data: &[u8]) -> Option<[u8; 32]> {
        let h = match self.chain.last() {
            None => chain::ChainHasher::new(),
            Some(state) => {
                chain::ChainHasher::resume(state, self.chain.len() as u64 * self.segment_size)?
            }
        };
        Some(h.finish(data))
    }
}

/// Reads until `buf` is full or the end of the file.
fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Serves one archive file under its image name: the signed manifest and
/// the segments, read from the file as they are asked for.
#[derive(Debug)]
pub struct ImagePublisher {
    prefix: Name,
    versioned: Name,
    manifest: ImageManifest,
    /// `…/manifest` as one Data, when the manifest fits one segment.
    manifest_data: Option<Data>,
    /// `…/manifest/v=<ver>/seg=<n>`.
    manifest_segments: Vec<Data>,
    file: std::fs::File,
    /// Each segment's DigestSha256 signature value, computed once at
    /// publication: a segment served many times is not hashed each time.
    segment_signatures: Vec<Bytes>,
    /// Signs the application-level Nacks for other versions.
    signer: Signer,
}

/// Segment `name`'s Data, unsigned (every segment's fields but its content
/// are fixed by the manifest, so its signature can be computed once).
fn segment_data(name: Name, manifest: &ImageManifest, content: Vec<u8>) -> Data {
    Data::new(name)
        .with_freshness_ms(SEGMENT_FRESHNESS_MS)
        .with_final_block_id(Component::segment(manifest.segments.saturating_sub(1)))
        .with_content(content)
}

/// The DigestSha256 signature value of every segment of `file`, published
/// under `versioned` (one more read of the archive at publication).
fn sign_segments(
    versioned: &Name,
    manifest: &ImageManifest,
    file: &std::fs::File,
) -> std::io::Result<Vec<Bytes>> {
    (0..manifest.segments)
        .map(|seg| {
            let mut buf = vec![0u8; manifest.segment_len(seg) as usize];
            file.read_exact_at(&mut buf, seg * manifest.segment_size)?;
            let mut d = segment_data(versioned.append(&Component::segment(seg)), manifest, buf);
            d.sign(&Signer::DigestSha256);
            Ok(d.signature_value().clone())
        })
        .collect()
}

/// Content of the application-level Nack a publisher answers for a version
/// it does not serve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionNack {
    /// Why, for people.
    pub error: String,
    /// The version served now.
    pub version: u64,
}

impl ImagePublisher {
    /// Publishes the archive at `archive` as `<root>/repo/image/<name>`,
    /// version `version`, signing the manifest with `signer` (the
    /// orchestrator's key).
    pub fn from_file(
        root: &Name,
        name: &str,
        tag: Option<&str>,
        archive: &Path,
        version: u64,
        segment_size: usize,
        signer: &Signer,
    ) -> std::io::Result<Self> {
        let manifest = ImageManifest::of_file(name, tag, version, archive, segment_size)?;
        let prefix = image_prefix(root, name);
        // Invariant: the manifest is plain data and always serializes.
        let json = serde_json::to_vec(&manifest).expect("manifest serializes");
        let manifest_name = prefix.append_str("manifest");
        let manifest_data = (json.len() <= MANIFEST_SEGMENT_SIZE).then(|| {
            let mut d = Data::new(manifest_name.clone())
                .with_freshness_ms(MANIFEST_FRESHNESS_MS)
                .with_content(json.clone());
            d.sign(signer);
            d
        });
        let chunks: Vec<&[u8]> = json.chunks(MANIFEST_SEGMENT_SIZE).collect();
        let last = chunks.len().saturating_sub(1) as u64;
        let manifest_segments = chunks
            .iter()
            .enumerate()
            .map(|(n, chunk)| {
                let mut d = Data::new(
                    manifest_name
                        .append(&Component::version(version))
                        .append(&Component::segment(n as u64)),
                )
                .with_freshness_ms(MANIFEST_FRESHNESS_MS)
                .with_final_block_id(Component::segment(last))
                .with_content(chunk.to_vec());
                d.sign(signer);
                d
            })
            .collect();
        let versioned = prefix.append(&Component::version(version));
        let file = std::fs::File::open(archive)?;
        let segment_signatures = sign_segments(&versioned, &manifest, &file)?;
        Ok(Self {
            versioned,
            prefix,
            manifest,
            manifest_data,
            manifest_segments,
            file,
            segment_signatures,
            signer: signer.clone(),
        })
    }

    /// The manifest served.
    pub fn manifest(&self) -> &ImageManifest {
        &self.manifest
    }

    /// `<root>/repo/image/<name>`.
    pub fn prefix(&self) -> &Name {
        &self.prefix
    }

    /// The Data answering `interest`: the manifest, a segment, or an
    /// application-level Nack naming the current version when the
    /// Interest asks for another version of this image.
    pub fn answer(&self, interest: &Interest) -> Option<Data> {
        let name = interest.name();
        let manifest_name = self.prefix.append_str("manifest");
        if *name == manifest_name {
            return if interest.can_be_prefix() {
                self.manifest_segments.first().cloned()
            } else {
                self.manifest_data.clone()
            };
        }
        if manifest_name.is_prefix_of(name) {
            let version = name.get(manifest_name.len())?.as_version()?;
            if version != self.manifest.version {
                return Some(self.version_nack(name, version));
            }
            // `…/manifest/v=<ver>`: its first segment, to a CanBePrefix Interest.
            if name.len() == manifest_name.len() + 1 {
                return interest
                    .can_be_prefix()
                    .then(|| self.manifest_segments.first().cloned())
                    .flatten();
            }
            return self
                .manifest_segments
                .iter()
                .find(|d| d.name() == name)
                .cloned();
        }
        if name.len() != self.versioned.len() + 1 || !self.prefix.is_prefix_of(name) {
            return None;
        }
        let version = name.get(self.prefix.len())?.as_version()?;
        let seg = name.last()?.as_segment()?;
        if version != self.manifest.version {
            return Some(self.version_nack(name, version));
        }
        if seg >= self.manifest.segments {
            return None;
        }
        let mut buf = vec![0u8; self.manifest.segment_len(seg) as usize];
        self.file
            .read_exact_at(&mut buf, seg * self.manifest.segment_size)
            .ok()?;
        let mut d = segment_data(name.clone(), &self.manifest, buf);
        // The signature was computed over the canonical name; one asked
        // for with other encodings of the same numbers is signed afresh.
        match self.segment_signatures.get(seg as usize) {
            Some(sig) if *name == self.versioned.append(&Component::segment(seg)) => {
                d.encode_with_signature(Signer::DigestSha256.signature_info(), sig.clone());
            }
            _ => {
                d.sign(&Signer::DigestSha256);
            }
        }
        Some(d)
    }

    /// The application-level Nack for `name`, of a version not served.
    fn version_nack(&self, name: &Name, version: u64) -> Data {
        let body = VersionNack {
            error: format!(
                "version {version} of image {} is not published; version {} is",
                self.manifest.name, self.manifest.version
            ),
            version: self.manifest.version,
        };
        // Invariant: plain data always serializes.
        let json = serde_json::to_vec(&body).expect("nack serializes");
        let mut d = Data::new(name.clone())
            .with_content_type(content_type::NACK)
            .with_freshness_ms(MANIFEST_FRESHNESS_MS)
            .with_content(json);
        d.sign(&self.signer);
        d
    }

    /// Registers the prefix on `client`'s forwarder and answers from this
    /// publisher.
    pub async fn serve(self: &Arc<Self>, client: &Client) -> Result<(), RegisterError> {
        let me = self.clone();
        client
            .register(self.prefix.clone(), move |i: Interest| {
                let d = me.answer(&i);
                async move { d }
            })
            .await?;
        Ok(())
    }
}

/// Why an image could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum ImageFetchError {
    /// The manifest did not arrive.
    #[error("manifest {name}: {source}")]
    Manifest {
        /// The manifest's name.
        name: Name,
        /// Why.
        source: ExpressError,
    },
    /// The repository answered that it has no such image (a signed
    /// application-level Nack), at once rather than after timeouts.
    #[error("the repository has no image {image}: {reason}")]
    NoSuchImage {
        /// The image asked for.
        image: String,
        /// The repository's words.
        reason: String,
    },
    /// The manifest is not signed by the orchestrator's key.
    #[error("manifest {name} is not signed by the orchestrator key")]
    ManifestSignature {
        /// The manifest's name.
        name: Name,
    },
    /// The manifest is not a valid manifest.
    #[error("manifest {name} is malformed: {reason}")]
    BadManifest {
        /// The manifest's name.
        name: Name,
        /// What is wrong.
        reason: String,
    },
    /// The archive is larger than allowed.
    #[error("image {name} has {size} bytes, more than the {limit} allowed")]
    TooLarge {
        /// The image.
        name: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A segment failed more often than allowed.
    #[error("segment {segment} failed after {retries} retries: {source}")]
    Segment {
        /// The segment number.
        segment: u64,
        /// Retransmissions made.
        retries: u32,
        /// The last failure.
        source: ExpressError,
    },
    /// The repo no longer publishes the manifest's version (it answered an
    /// application-level Nack); `current` is the version it names instead.
    #[error("version {version} of image {name} is no longer published (current: {current:?})")]
    VersionGone {
        /// The image.
        name: String,
        /// The version asked for.
        version: u64,
        /// The version the repo serves now, when it said.
        current: Option<u64>,
    },
    /// A segment's content does not match the manifest's checkpoints.
    #[error("segment {segment} does not match the manifest's sha256 checkpoints")]
    SegmentDigest {
        /// The segment number.
        segment: u64,
    },
    /// The whole archive does not match the manifest's sha256: every
    /// segment but the last matched its checkpoints, and the last, hashed
    /// on from them, gives another digest.
    #[error("archive sha256 {found} does not match the manifest's {expected}")]
    WholeDigest {
        /// The manifest's sha256.
        expected: String,
        /// What the bytes hash to.
        found: String,
    },
    /// A file of the fetch could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Pause before a segment Nack'd for a reason other than congestion (the
/// repo is gone, or has no route yet) is asked again.
const NACK_RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Settings of the image fetcher.
#[derive(Debug, Clone)]
pub struct ImageFetchOptions {
    /// Interest lifetime of the manifest and of each segment Interest.
    pub lifetime: Duration,
    /// Retransmissions allowed per segment (and for the manifest).
    pub max_retries: u32,
    /// Initial congestion window, in segments.
    pub initial_cwnd: f64,
    /// Congestion window ceiling.
    pub max_cwnd: f64,
    /// Largest archive accepted, bytes.
    pub max_size: u64,
}

impl Default for ImageFetchOptions {
    fn default() -> Self {
        Self {
            lifetime: Duration::from_secs(2),
            max_retries: 8,
            initial_cwnd: 4.0,
            max_cwnd: 256.0,
            max_size: 8 << 30,
        }
    }
}

/// What a fetch did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImageFetchStats {
    /// Segments already verified on disk when the fetch started.
    #[serde(rename = "resumedFrom")]
    pub resumed_from: u64,
    /// Segments fetched over the network by this fetch.
    #[serde(rename = "segmentsFetched")]
    pub segments_fetched: u64,
    /// Bytes fetched over the network by this fetch.
    #[serde(rename = "bytesFetched")]
    pub bytes_fetched: u64,
    /// Interests retransmitted.
    pub retransmissions: u64,
    /// Window decreases.
    pub decreases: u64,
    /// True when a complete verified archive was already on disk.
    pub reused: bool,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Time the writer spent checking segments against the manifest's
    /// checkpoints (SHA-256), seconds.
    #[serde(rename = "verifySeconds")]
    pub verify_seconds: f64,
    /// Time the writer spent writing the file, seconds.
    #[serde(rename = "writeSeconds")]
    pub write_seconds: f64,
}

impl ImageFetchStats {
    /// Network throughput of this fetch, MB/s (10⁶ bytes).
    pub fn throughput_mb_s(&self) -> f64 {
        if self.seconds > 0.0 {
            self.bytes_fetched as f64 / self.seconds / 1e6
        } else {
            0.0
        }
    }
}

/// A complete, verified archive on disk.
#[derive(Debug, Clone)]
pub struct FetchedImage {
    /// The archive file.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: ImageManifest,
    /// What the fetch did.
    pub stats: ImageFetchStats,
}

/// The progress record beside a `.partial` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Progress {
    name: String,
    version: u64,
    sha256: String,
    #[serde(rename = "segmentSize")]
    segment_size: u64,
    segments: u64,
    /// Segments written and verified at the last record (a hint: resuming
    /// re-verifies the file).
    #[serde(rename = "verifiedSegments")]
    verified_segments: u64,
}

/// Fetches images by name into a directory.
#[derive(Debug, Clone)]
pub struct ImageFetcher {
    client: Client,
    root: Name,
    verifier: Verifier,
    dir: PathBuf,
    options: ImageFetchOptions,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ImageFetchError + '_ {
    move |source| ImageFetchError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The lifetime of a segment Interest: a retransmission timeout from the
/// measured round trip (4 × srtt + 50 ms, at least 200 ms), never more
/// than the configured lifetime (`max_ms`, also the value before any
/// round trip was measured). A lost segment is asked again after a few
/// round trips instead of a whole lifetime.
fn rto(srtt: Option<Duration>, max_ms: u64) -> u64 {
    match srtt {
        Some(s) => ((s * 4).as_millis() as u64 + 50).clamp(200, max_ms.max(200)),
        None => max_ms,
    }
}

impl ImageFetcher {
    /// A fetcher expressing through `client`, trusting manifests signed by
    /// `verifier`'s key, storing archives in `dir`.
    pub fn new(
        client: Client,
        root: Name,
        verifier: Verifier,
        dir: PathBuf,
        options: ImageFetchOptions,
    ) -> Self {
        Self {
            client,
            root,
            verifier,
            dir,
            options,
        }
    }

    /// Where the archive of `manifest` is stored: the final file, the
    /// partial file and its progress record.
    pub fn paths(&self, manifest: &ImageManifest) -> (PathBuf, PathBuf, PathBuf) {
        let stem = manifest.file_stem();
        (
            self.dir.join(format!("{stem}.tar")),
            self.dir.join(format!("{stem}.tar.partial")),
            self.dir.join(format!("{stem}.tar.partial.json")),
        )
    }

    /// Fetches and verifies the manifest of `image` (the newest version:
    /// the discovery Interest carries MustBeFresh).
    pub async fn manifest(&self, image: &str) -> Result<ImageManifest, ImageFetchError> {
        self.manifest_at(image, manifest_name(&self.root, image))
            .await
    }

    /// Fetches and verifies version `version` of the manifest of `image`
    /// (`…/manifest/v=<version>`).
    pub async fn manifest_version(
        &self,
        image: &str,
        version: u64,
    ) -> Result<ImageManifest, ImageFetchError> {
        let name = manifest_name(&self.root, image).append(&Component::version(version));
        let m = self.manifest_at(image, name.clone()).await?;
        if m.version != version {
            return Err(ImageFetchError::BadManifest {
                name,
                reason: format!("it describes version {}", m.version),
            });
        }
        Ok(m)
    }

    async fn manifest_at(&self, image: &str, name: Name) -> Result<ImageManifest, ImageFetchError> {
        let options = FetchOptions {
            lifetime: self.options.lifetime,
            max_retries: self.options.max_retries.min(3),
            verifier: Some(self.verifier.clone()),
            // 64 hex digits per archive segment: a generous bound.
            max_segments: 10_000,
            ..FetchOptions::default()
        };
        let (content, _) = fetch(&self.client, &name, &options)
            .await
            .map_err(|e| match e {
                FetchError::BadSignature { .. } => {
                    ImageFetchError::ManifestSignature { name: name.clone() }
                }
                FetchError::Refused { reason, .. } => ImageFetchError::NoSuchImage {
                    image: image.to_owned(),
                    reason,
                },
                FetchError::Discovery { source, .. } | FetchError::Segment { source, .. } => {
                    ImageFetchError::Manifest {
                        name: name.clone(),
                        source,
                    }
                }
                other => ImageFetchError::BadManifest {
                    name: name.clone(),
                    reason: other.to_string(),
                },
            })?;
        let manifest: ImageManifest =
            serde_json::from_slice(&content).map_err(|e| ImageFetchError::BadManifest {
                name: name.clone(),
                reason: e.to_string(),
            })?;
        manifest
            .check()
            .map_err(|reason| ImageFetchError::BadManifest {
                name: name.clone(),
                reason,
            })?;
        if manifest.name != image {
            return Err(ImageFetchError::BadManifest {
                name,
                reason: format!("it describes {:?}, not {image:?}", manifest.name),
            });
        }
        Ok(manifest)
    }

    /// Fetches the manifest of `image`, then the archive.
    pub async fn fetch(&self, image: &str) -> Result<FetchedImage, ImageFetchError> {
        let manifest = self.manifest(image).await?;
        self.fetch_current(&manifest).await
    }

    /// Fetches the archive `manifest` describes; when that version turns
    /// out to be gone (the repo republished the image since the manifest
    /// was fetched, or a content store answered a manifest that was about
    /// to go stale), fetches the manifest again once and the archive it
    /// describes. The returned [`FetchedImage::manifest`] is the one the
    /// archive matches.
    pub async fn fetch_current(
        &self,
        manifest: &ImageManifest,
    ) -> Result<FetchedImage, ImageFetchError> {
        let first = self.fetch_archive(manifest).await;
        let current = match &first {
            Err(ImageFetchError::VersionGone { current, .. }) => *current,
            // A repo that does not Nack: a segment that never came may be
            // of a version since replaced. Ask for the manifest again.
            Err(ImageFetchError::Segment { .. }) => None,
            _ => return first,
        };
        let newer = match current {
            Some(v) if v != manifest.version => self.manifest_version(&manifest.name, v).await,
            _ => self.manifest(&manifest.name).await,
        };
        let newer = match newer {
            Ok(m) if m.version != manifest.version => m,
            // Still the same version, or no manifest: the first error stands.
            _ => return first,
        };
        // The old version's partial download can never complete.
        let (_, partial, progress) = self.paths(manifest);
        let _ = std::fs::remove_file(partial);
        let _ = std::fs::remove_file(progress);
        tracing::info!(
            image = %manifest.name,
            gone = manifest.version,
            version = newer.version,
            "image republished during the fetch; fetching the new version"
        );
        self.fetch_archive(&newer).await
    }

    /// Fetches the archive `manifest` describes, resuming a partial fetch
    /// of the same manifest; returns the verified archive.
    pub async fn fetch_archive(
        &self,
        manifest: &ImageManifest,
    ) -> Result<FetchedImage, ImageFetchError> {
        let started = Instant::now();
        if manifest.size > self.options.max_size {
            return Err(ImageFetchError::TooLarge {
                name: manifest.name.clone(),
                size: manifest.size,
                limit: self.options.max_size,
            });
        }
        let bad = |reason: String| ImageFetchError::BadManifest {
            name: manifest_name(&self.root, &manifest.name),
            reason,
        };
        manifest.check().map_err(bad)?;
        let checkpoints = manifest
            .checkpoints()
            .ok_or_else(|| bad("its checkpoints do not decode".to_owned()))?;
        std::fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let (done, partial, progress_path) = self.paths(manifest);
        let mut stats = ImageFetchStats::default();

        // A complete archive from an earlier fetch.
        if done.exists() {
            let (path, m) = (done.clone(), manifest.clone());
            let verified = tokio::task::spawn_blocking(move || verify_prefix(&path, &m, false))
                .await
                .map_err(|e| ImageFetchError::Io {
                    path: done.clone(),
                    source: std::io::Error::other(e),
                })?
                .map_err(io_err(&done))?;
            // The last segment's check is the whole archive's sha256.
            if verified == manifest.segments {
                stats.reused = true;
                stats.seconds = started.elapsed().as_secs_f64();
                return Ok(FetchedImage {
                    path: done,
                    manifest: manifest.clone(),
                    stats,
                });
            }
            let _ = std::fs::remove_file(&done);
        }

        // A cancelled fetch's writer may still be draining its queue into
        // this partial file: let it finish before resuming from it.
        for _ in 0..1000 {
            if !Writing::busy(&partial) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Resume: keep the verified prefix of a partial file of this manifest.
        let record = Progress {
            name: manifest.name.clone(),
            version: manifest.version,
            sha256: manifest.sha256.clone(),
            segment_size: manifest.segment_size,
            segments: manifest.segments,
            verified_segments: 0,
        };
        let same_manifest = std::fs::read(&progress_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Progress>(&b).ok())
            .is_some_and(|p| {
                Progress {
                    verified_segments: 0,
                    ..p
                } == record
            });
        let verified = if same_manifest && partial.exists() {
            let (path, m) = (partial.clone(), manifest.clone());
            tokio::task::spawn_blocking(move || verify_prefix(&path, &m, true))
                .await
                .map_err(|e| ImageFetchError::Io {
                    path: partial.clone(),
                    source: std::io::Error::other(e),
                })?
                .map_err(io_err(&partial))?
        } else {
            let _ = std::fs::remove_file(&partial);
            std::fs::File::create(&partial).map_err(io_err(&partial))?;
            0
        };
        stats.resumed_from = verified;
        if verified > 0 {
            tracing::info!(
                image = %manifest.name,
                verified,
                segments = manifest.segments,
                "resuming image fetch"
            );
        }
        let mut writer = PartialWriter {
            file: std::fs::OpenOptions::new()
                .write(true)
                .open(&partial)
                .map_err(io_err(&partial))?,
            path: partial.clone(),
            progress_path: progress_path.clone(),
            record: Progress {
                verified_segments: verified,
                ..record
            },
            checkpoints,
            buffered: Vec::with_capacity(1 << 20),
            verifying: Duration::ZERO,
            writing: Duration::ZERO,
            next: verified,
            since_record: 0,
        };
        writer
            .file
            .seek(SeekFrom::Start(verified * manifest.segment_size))
            .map_err(io_err(&partial))?;
        writer.record_progress()?;

        // The writer (each segment's check, file writes, progress records)
        // runs on a blocking thread of its own, fed in order by the
        // pipeline: hashing and disk I/O stay off the network path.
        let (to_writer, mut from_pipeline) = tokio::sync::mpsc::channel::<Bytes>(WRITER_QUEUE);
        let busy = Writing::start(&partial);
        let write_thread = tokio::task::spawn_blocking(move || {
            let _busy = busy;
            while let Some(segment) = from_pipeline.blocking_recv() {
                if let Err(e) = writer.write(&segment) {
                    return (writer, Err(e));
                }
            }
            (writer, Ok(()))
        });
        let fetched = self
            .pipeline_on_own_thread(manifest, to_writer, &mut stats)
            .await;
        let (mut writer, written) = write_thread.await.map_err(|e| ImageFetchError::Io {
            path: partial.clone(),
            source: std::io::Error::other(e),
        })?;
        // A writer failure is the cause of whatever the pipeline saw next.
        let result = written.and(fetched);
        // Whatever happened, what was written is verified: record it.
        let flushed = writer.flush().and_then(|()| writer.record_progress());
        stats.verify_seconds = writer.verifying.as_secs_f64();
        stats.write_seconds = writer.writing.as_secs_f64();
        result?;
        flushed?;
        if writer.next != manifest.segments {
            // The pipeline hands every segment over before it returns Ok.
            return Err(ImageFetchError::Segment {
                segment: writer.next,
                retries: 0,
                source: ExpressError::Closed,
            });
        }
        std::fs::rename(&partial, &done).map_err(io_err(&done))?;
        let _ = std::fs::remove_file(&progress_path);
        stats.seconds = started.elapsed().as_secs_f64();
        Ok(FetchedImage {
            path: done,
            manifest: manifest.clone(),
            stats,
        })
    }

    /// Runs [`Self::pipeline`] on a thread of its own (with a
    /// current-thread runtime for its timers), so that expressing
    /// Interests, reordering segments and feeding the writer do not take
    /// turns with the forwarder that moves every segment (a node's embedded
    /// forwarder runs on the node's runtime). Dropping the returned future
    /// stops the pipeline as dropping [`Self::pipeline`] would.
    async fn pipeline_on_own_thread(
        &self,
        manifest: &ImageManifest,
        writer: tokio::sync::mpsc::Sender<Bytes>,
        stats: &mut ImageFetchStats,
    ) -> Result<(), ImageFetchError> {
        let (me, m, mut s) = (self.clone(), manifest.clone(), stats.clone());
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let stop = tokio_util::sync::CancellationToken::new();
        let _stop_when_dropped = stop.clone().drop_guard();
        let thread = std::thread::Builder::new()
            .name("image-fetch".to_owned())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = done_tx.send((Err(e), s));
                        return;
                    }
                };
                let result = rt.block_on(async {
                    tokio::select! {
                        r = me.pipeline(&m, writer, &mut s) => Some(r),
                        () = stop.cancelled() => None,
                    }
                });
                if let Some(r) = result {
                    let _ = done_tx.send((Ok(r), s));
                }
            });
        let failed = |source: std::io::Error| ImageFetchError::Io {
            path: self.dir.clone(),
            source,
        };
        if let Err(e) = thread {
            return Err(failed(e));
        }
        match done_rx.await {
            Ok((Ok(result), s)) => {
                *stats = s;
                result
            }
            Ok((Err(e), _)) => Err(failed(e)),
            // Only if the thread panicked.
            Err(_) => Err(failed(std::io::Error::other(
                "the image fetch thread stopped",
            ))),
        }
    }

    /// Fetches segments `writer.next..` under an AIMD window and writes
    /// them in order.
    async fn pipeline(
        &self,
        manifest: &ImageManifest,
        writer: tokio::sync::mpsc::Sender<Bytes>,
        stats: &mut ImageFetchStats,
    ) -> Result<(), ImageFetchError> {
        let opts = &self.options;
        // The next segment to hand to the writer (it starts after the
        // verified prefix of a resumed fetch).
        let mut next_write = stats.resumed_from;
        let mut next_new = next_write;
        let mut received: BTreeMap<u64, Bytes> = BTreeMap::new();
        let mut retries: HashMap<u64, u32> = HashMap::new();
        let mut retx: Vec<u64> = Vec::new();
        // Segments Nack'd for a reason other than congestion: not asked
        // again before this instant.
        let mut not_before: HashMap<u64, Instant> = HashMap::new();
        let mut cwnd = opts.initial_cwnd.max(1.0);
        let mut ssthresh = opts.max_cwnd;
        let mut srtt: Option<Duration> = None;
        let mut last_decrease = Instant::now();
        // Polled by this task (no task per segment: spawning, scheduling
        // and waking one across worker threads per 8 kB segment cost more
        // than the segment's own work).
        let mut in_flight = FuturesUnordered::new();
        let lifetime = opts.lifetime.as_millis() as u64;
        loop {
            while let Some(b) = received.remove(&next_write) {
                if writer.send(b).await.is_err() {
                    // The writer stopped on an error, which the caller reports.
                    return Ok(());
                }
                next_write += 1;
            }
            if next_write >= manifest.segments {
                return Ok(());
            }
            // Fill the window, retransmissions first. Out-of-order data
            // waiting to be written counts against the window for new
            // segments (bounding memory) but not for retransmissions: a
            // lost segment at the head of the line must always be asked
            // again, or a window that shrank below the buffered data would
            // stall the fetch for good.
            loop {
                let window = cwnd.floor().max(1.0) as usize;
                let seg = if !retx.is_empty() {
                    if in_flight.len() >= window {
                        break;
                    }
                    match retx.pop() {
                        Some(s) => s,
                        None => break,
                    }
                } else if next_new < manifest.segments && in_flight.len() + received.len() < window
                {
                    next_new += 1;
                    next_new - 1
                } else {
                    break;
                };
                let is_retx = retries.get(&seg).copied().unwrap_or(0) > 0;
                let c = self.client.clone();
                let i = Interest::new(segment_name(
                    &self.root,
                    &manifest.name,
                    manifest.version,
                    seg,
                ))
                .with_lifetime_ms(rto(srtt, lifetime));
                let pause = not_before.remove(&seg);
                in_flight.push(async move {
                    if let Some(t) = pause {
                        tokio::time::sleep_until(t.into()).await;
                    }
                    let sent = Instant::now();
                    let result = c.express(i).await;
                    let outcome: SegmentOutcome = (seg, sent, is_retx, result);
                    outcome
                });
            }
            let Some(joined) = in_flight.next().await else {
                // Nothing in flight and nothing to send, yet not done: only
                // possible if the window is full of undeliverable data.
                return Err(ImageFetchError::Segment {
                    segment: next_write,
                    retries: 0,
                    source: ExpressError::Closed,
                });
            };
            let (seg, sent, is_retx, result) = joined;
            let now = Instant::now();
            match result {
                Ok(d) if d.content_type() == Some(content_type::NACK) => {
                    let current = serde_json::from_slice::<VersionNack>(&d.content())
                        .ok()
                        .map(|n| n.version);
                    tracing::info!(image = %manifest.name, version = manifest.version, ?current, "repo no longer publishes this version");
                    return Err(ImageFetchError::VersionGone {
                        name: manifest.name.clone(),
                        version: manifest.version,
                        current,
                    });
                }
                Ok(d) => {
                    // Checked against the manifest by the writer, in order.
                    let content = d.content();
                    if !is_retx {
                        let r = now - sent;
                        srtt = Some(srtt.map_or(r, |s| (s * 7 + r) / 8));
                    }
                    stats.segments_fetched += 1;
                    stats.bytes_fetched += content.len() as u64;
                    received.insert(seg, content);
                    cwnd += if cwnd < ssthresh { 1.0 } else { 1.0 / cwnd };
                    cwnd = cwnd.min(opts.max_cwnd);
                }
                Err(e) => {
                    let congestion = match e {
                        ExpressError::Timeout => true,
                        ExpressError::Nack(r) => r == NackReason::Congestion.code(),
                        ExpressError::Closed => {
                            return Err(ImageFetchError::Segment {
                                segment: seg,
                                retries: retries.get(&seg).copied().unwrap_or(0),
                                source: e,
                            })
                        }
                    };
                    let rtt = srtt.unwrap_or(Duration::from_millis(100));
                    if congestion && now.duration_since(last_decrease) >= rtt {
                        ssthresh = (cwnd / 2.0).max(2.0);
                        cwnd = ssthresh;
                        last_decrease = now;
                        stats.decreases += 1;
                    }
                    let r = retries.entry(seg).or_insert(0);
                    *r += 1;
                    if *r > opts.max_retries {
                        return Err(ImageFetchError::Segment {
                            segment: seg,
                            retries: *r - 1,
                            source: e,
                        });
                    }
                    if !congestion {
                        // Asked again after a pause, without holding up the
                        // rest of the window (a sleep here once made a repo
                        // that went away take ~50 s to fail: 50 ms per
                        // retry of each segment in flight, one at a time).
                        not_before.insert(seg, now + NACK_RETRY_PAUSE);
                    }
                    stats.retransmissions += 1;
                    retx.push(seg);
                }
            }
        }
    }
}

/// The partial files a writer thread is writing now (in this process).
static WRITING: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Marks a partial file as being written until dropped.
struct Writing(PathBuf);

impl Writing {
    fn start(path: &Path) -> Self {
        WRITING
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(path.to_owned());
        Self(path.to_owned())
    }

    fn busy(path: &Path) -> bool {
        WRITING
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|p| p == path)
    }
}

impl Drop for Writing {
    fn drop(&mut self) {
        let mut w = WRITING.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = w.iter().position(|p| *p == self.0) {
            w.swap_remove(i);
        }
    }
}

/// The in-order writer of a `.partial` file and its progress record.
struct PartialWriter {
    file: std::fs::File,
    path: PathBuf,
    progress_path: PathBuf,
    record: Progress,
    /// What each segment is checked against before it is written.
    checkpoints: Checkpoints,
    buffered: Vec<u8>,
    /// Time spent checking segments, and writing them.
    verifying: Duration,
    writing: Duration,
    /// The next segment to write.
    next: u64,
    since_record: u64,
}

impl PartialWriter {
    /// Checks the next segment against the manifest and appends it; a
    /// segment that does not match is refused and not written.
    fn write(&mut self, segment: &[u8]) -> Result<(), ImageFetchError> {
        let c = &self.checkpoints;
        let t = Instant::now();
        let matches = c.matches(self.next, segment);
        self.verifying += t.elapsed();
        if !matches {
            tracing::warn!(file = %self.path.display(), segment = self.next, "segment does not match the manifest");
            let last = self.next + 1 == c.segments();
            return Err(match c.last_digest(segment) {
                // The last segment, of the right length: the whole archive
                // (verified prefix and this) hashes to something else.
                Some(found) if last => ImageFetchError::WholeDigest {
                    expected: hex::encode(c.sha256),
                    found: hex::encode(found),
                },
                _ => ImageFetchError::SegmentDigest { segment: self.next },
            });
        }
        self.buffered.extend_from_slice(segment);
        self.next += 1;
        self.since_record += 1;
        if self.buffered.len() >= 256 << 10 {
            self.flush()?;
        }
        if self.since_record >= PROGRESS_EVERY {
            self.flush()?;
            self.record_progress()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ImageFetchError> {
        if !self.buffered.is_empty() {
            let t = Instant::now();
            let written = self.file.write_all(&self.buffered);
            self.writing += t.elapsed();
            written.map_err(io_err(&self.path))?;
            self.buffered.clear();
        }
        Ok(())
    }

    /// Records how many segments are on disk (call after [`Self::flush`]).
    fn record_progress(&mut self) -> Result<(), ImageFetchError> {
        self.record.verified_segments = self.next;
        self.since_record = 0;
        // Invariant: plain data always serializes.
        let json = serde_json::to_vec(&self.record).expect("progress serializes");
        let tmp = self.progress_path.with_extension("json.tmp");
        std::fs::write(&tmp, json).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &self.progress_path).map_err(io_err(&self.progress_path))
    }
}

/// Verifies `path` segment by segment against `manifest` from the start;
/// returns how many segments verified (all of them: the whole archive
/// matches its sha256). With `truncate`, cuts the file after the verified
/// prefix.
fn verify_prefix(path: &Path, manifest: &ImageManifest, truncate: bool) -> std::io::Result<u64> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(truncate)
        .open(path)?;
    // A manifest whose checkpoints do not decode verifies nothing.
    let checkpoints = manifest.checkpoints();
    let mut buf = vec![0u8; manifest.segment_size as usize];
    let mut verified = 0u64;
    while let Some(c) = checkpoints
        .as_ref()
        .filter(|_| verified < manifest.segments)
    {
        let want = manifest.segment_len(verified) as usize;
        let n = read_full(&mut file, &mut buf[..want])?;
        if n != want || !c.matches(verified, &buf[..n]) {
            break;
        }
        verified += 1;
    }
    if truncate {
        file.set_len(verified * manifest.segment_size)?;
    } else if file.metadata()?.len() != manifest.size {
        verified = 0;
    }
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use picasso_forwarder::face::in_process;
    use picasso_forwarder::runtime::{self, ForwarderHandle};
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn temp_dir(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!(
            "picasso-imagerepo-{tag}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    fn root() -> Name {
        Name::from_uri("/picasso").unwrap()
    }

    async fn clients() -> (Client, Client, ForwarderHandle) {
        let (h, _) = runtime::spawn(Default::default());
        let a = Client::from_app_face(in_process::connect(&h).await.unwrap());
        let b = Client::from_app_face(in_process::connect(&h).await.unwrap());
        (a, b, h)
    }

    fn archive(dir: &Path, size: usize) -> PathBuf {
        let p = dir.join("image.tar");
        let content: Vec<u8> = (0..size).map(|i| (i * 131 % 251) as u8).collect();
        std::fs::write(&p, content).unwrap();
        p
    }

    fn quick() -> ImageFetchOptions {
        ImageFetchOptions {
            lifetime: Duration::from_millis(200),
            max_retries: 2,
            ..ImageFetchOptions::default()
        }
    }

    #[test]
    fn rto_follows_the_round_trip_within_bounds() {
        assert_eq!(rto(None, 2000), 2000);
        assert_eq!(rto(Some(Duration::from_millis(10)), 2000), 200);
        assert_eq!(rto(Some(Duration::from_millis(100)), 2000), 450);
        assert_eq!(rto(Some(Duration::from_secs(5)), 2000), 2000);
    }

    #[test]
    fn every_segment_is_served_with_a_valid_signature() {
        let dir = temp_dir("sigs");
        let path = archive(&dir.0, 20_001);
        let signer = Signer::ed25519_generate(Name::from_uri("/picasso/t/KEY").unwrap());
        let p = ImagePublisher::from_file(&root(), "x", None, &path, 5, 8000, &signer).unwrap();
        let content = std::fs::read(&path).unwrap();
        for seg in 0..3u64 {
            let name = segment_name(&root(), "x", 5, seg);
            let d = p.answer(&Interest::new(name.clone())).unwrap();
            assert_eq!(d.name(), &name);
            assert_eq!(d.verify(&Verifier::DigestSha256), Ok(()), "segment {seg}");
            let from = (seg * 8000) as usize;
            assert_eq!(
                &d.content()[..],
                &content[from..(from + 8000).min(content.len())]
            );
            // The precomputed signature is the one signing now would give.
            let mut fresh = segment_data(name, p.manifest(), d.content().to_vec());
            fresh.sign(&Signer::DigestSha256);
            assert_eq!(fresh.wire(), d.wire());
        }
        // A segment number in a longer encoding is still answered, signed afresh.
        let short = segment_name(&root(), "x", 5, 1);
        let long = short
            .prefix(short.len() - 1)
            .append(&Component::new(50, vec![0u8, 0, 0, 1]));
        let d = p.answer(&Interest::new(long.clone())).unwrap();
        assert_eq!(d.name(), &long);
        assert_eq!(d.verify(&Verifier::DigestSha256), Ok(()));
        assert!(p
            .answer(&Interest::new(segment_name(&root(), "x", 5, 3)))
            .is_none());
    }

    #[test]
    fn names_and_manifest_agree() {
        assert_eq!(
            segment_name(&root(), "busybox-httpd", 3, 7).to_uri(),
            "/picasso/repo/image/busybox-httpd/v=3/seg=7"
        );
        assert_eq!(
            manifest_name(&root(), "busybox-httpd").to_uri(),
            "/picasso/repo/image/busybox-httpd/manifest"
        );
        let dir = temp_dir("manifest");
        let path = archive(&dir.0, 20_001);
        let m = ImageManifest::of_file("x", None, 1, &path, 10_000).unwrap();
        // 10,000 rounds down to whole SHA-256 blocks: 156 × 64 = 9,984.
        assert_eq!(m.segment_size, 9_984);
        assert_eq!((m.size, m.segments, m.segment_chain.len()), (20_001, 3, 2));
        assert_eq!(m.segment_len(2), 33);
        m.check().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(m.sha256, hex::encode(Sha256::digest(&bytes)));
        let c = m.checkpoints().unwrap();
        for (n, seg) in bytes.chunks(9_984).enumerate() {
            assert!(c.matches(n as u64, seg), "segment {n}");
        }
        assert!(
            !c.matches(1, &bytes[..9_984]),
            "segment 0 in segment 1's place"
        );
        // A file that is a whole number of segments has no empty tail segment.
        let exact = ImageManifest::of_file("x", None, 1, &archive(&dir.0, 2 * 64), 64).unwrap();
        assert_eq!((exact.segments, exact.segment_chain.len()), (2, 1));
        exact.check().unwrap();
        let unaligned = ImageManifest {
            segment_size: 10_000,
            ..m.clone()
        };
        assert!(unaligned.check().unwrap_err().contains("multiple of 64"));
        let short = ImageManifest {
            segment_chain: vec![m.segment_chain[0].clone()],
            ..m.clone()
        };
        assert!(short
            .check()
            .unwrap_err()
            .contains("segmentChain has 1 entries"));
        let mut not_hex = m.clone();
        not_hex.segment_chain[1] = "zz".repeat(32);
        assert!(not_hex.check().unwrap_err().contains("segmentChain[1]"));
        for (s, ok) in [
            ("0123456789abcdefABCDEF".repeat(3)[..64].to_owned(), true),
            ("0".repeat(63), false),
            ("0".repeat(65), false),
            (format!("{}g", "0".repeat(63)), false),
            (format!("{}/", "0".repeat(63)), false),
            (format!("{}:", "0".repeat(63)), false),
            (format!("{}`", "0".repeat(63)), false),
            (format!("{}@", "0".repeat(63)), false),
            (format!("{}G", "0".repeat(63)), false),
        ] {
            assert_eq!(is_digest(&s), ok, "{s:?}");
        }
        let json = serde_json::to_value(&m).unwrap();
        for k in [
            "name",
            "version",
            "size",
            "sha256",
            "segmentSize",
            "segments",
            "segmentChain",
        ] {
            assert!(json.get(k).is_some(), "{k} missing from {json}");
        }
        let bad = ImageManifest {
            segments: 2,
            ..m.clone()
        };
        assert!(bad.check().unwrap_err().contains("segments 2"));
        let empty = ImageManifest::of_file("e", None, 1, &archive(&dir.0, 0), 10).unwrap();
        assert_eq!((empty.segments, empty.segment_size), (1, 64));
        empty.check().unwrap();
        assert_eq!(empty.sha256, hex::encode(Sha256::digest(b"")));
        assert!(empty.checkpoints().unwrap().matches(0, b""));
    }

    #[tokio::test]
    async fn a_manifest_larger_than_a_packet_is_segmented_and_signed() {
        let (producer, consumer, _h) = clients().await;
        let dir = temp_dir("bigmanifest");
        let key = Signer::ed25519_generate(Name::from_uri("/picasso/KEY/orch").unwrap());
        // 400 segments: about 27 kB of segment hashes.
        let path = archive(&dir.0, 400 * 1000);
        let p = Arc::new(
            ImagePublisher::from_file(&root(), "big", None, &path, 9, 1000, &key).unwrap(),
        );
        assert!(p.manifest_data.is_none(), "too large for one packet");
        assert!(p.manifest_segments.len() >= 5);
        for d in &p.manifest_segments {
            let wire = d.wire().expect("signed Data has a wire form");
            assert!(wire.len() <= 8800, "{} octets", wire.len());
            d.verify(&key.verifier()).unwrap();
        }
        assert_eq!(
            p.manifest_segments[1].name().to_uri(),
            "/picasso/repo/image/big/manifest/v=9/seg=1"
        );
        p.serve(&producer).await.unwrap();
        let f = ImageFetcher::new(
            consumer,
            root(),
            key.verifier(),
            dir.0.join("store"),
            quick(),
        );
        let m = f.manifest("big").await.unwrap();
        assert_eq!(m, *p.manifest());
        let got = f.fetch("big").await.unwrap();
        assert_eq!(
            std::fs::read(&got.path).unwrap(),
            std::fs::read(&path).unwrap()
        );
    }

    #[tokio::test]
    async fn fetches_verifies_and_reuses() {
        let (producer, consumer, _h) = clients().await;
        let dir = temp_dir("fetch");
        let key = Signer::ed25519_generate(Name::from_uri("/picasso/KEY/orch").unwrap());
        let path = archive(&dir.0, 300_000);
        let p = Arc::new(
            ImagePublisher::from_file(&root(), "img", Some("t:1"), &path, 5, 8000, &key).unwrap(),
        );
        p.serve(&producer).await.unwrap();
        let f = ImageFetcher::new(
            consumer.clone(),
            root(),
            key.verifier(),
            dir.0.join("store"),
            quick(),
        );
        let got = f.fetch("img").await.unwrap();
        assert_eq!(
            std::fs::read(&got.path).unwrap(),
            std::fs::read(&path).unwrap()
        );
        assert_eq!(got.manifest.tag.as_deref(), Some("t:1"));
        assert_eq!(got.stats.segments_fetched, 38);
        assert_eq!(got.stats.resumed_from, 0);
        let (_, partial, progress) = f.paths(&got.manifest);
        assert!(!partial.exists() && !progress.exists());
        // A second fetch reuses the verified archive.
        let again = f.fetch("img").await.unwrap();
        assert!(again.stats.reused);
        assert_eq!(again.stats.segments_fetched, 0);
        // Another key's manifest is refused.
        let other = Signer::ed25519_generate(Name::from_uri("/other").unwrap());
        let f2 = ImageFetcher::new(
            consumer,
            root(),
            other.verifier(),
            dir.0.join("s2"),
            quick(),
        );
        let e = f2.fetch("img").await.unwrap_err();
        assert!(
            matches!(e, ImageFetchError::ManifestSignature { .. }),
            "{e}"
        );
    }

    #[tokio::test]
    async fn an_interrupted_fetch_resumes_from_the_verified_prefix() {
        let (producer, consumer, _h) = clients().await;
        let dir = temp_dir("resume");
        let key = Signer::ed25519_generate(Name::from_uri("/k").unwrap());
        let path = archive(&dir.0, 800_000);
        let p = Arc::new(
            ImagePublisher::from_file(&root(), "img", None, &path, 9, 8000, &key).unwrap(),
        );
        // The publisher stops answering segments from 37 on, until allowed.
        let limit = Arc::new(AtomicU64::new(37));
        let served = Arc::new(AtomicU64::new(0));
        let (pp, l, s) = (p.clone(), limit.clone(), served.clone());
        producer
            .register(p.prefix().clone(), move |i: Interest| {
                let seg = i.name().last().and_then(|c| c.as_segment());
                let d = match seg {
                    Some(n) if n >= l.load(Ordering::SeqCst) => None,
                    Some(_) => {
                        s.fetch_add(1, Ordering::SeqCst);
                        pp.answer(&i)
                    }
                    None => pp.answer(&i),
                };
                async move { d }
            })
            .await
            .unwrap();
        let f = ImageFetcher::new(
            consumer,
            root(),
            key.verifier(),
            dir.0.join("store"),
            quick(),
        );
        let e = f.fetch("img").await.unwrap_err();
        assert!(matches!(e, ImageFetchError::Segment { .. }), "{e}");
        let m = f.manifest("img").await.unwrap();
        let (done, partial, progress) = f.paths(&m);
        assert!(!done.exists());
        assert_eq!(std::fs::metadata(&partial).unwrap().len(), 37 * 8000);
        let rec: Progress = serde_json::from_slice(&std::fs::read(&progress).unwrap()).unwrap();
        assert_eq!(rec.verified_segments, 37);
        // Corrupt the tail of the partial file: resuming keeps only what verifies.
        {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&partial)
                .unwrap();
            file.write_all_at(b"garbage", 36 * 8000 + 5).unwrap();
        }
        served.store(0, Ordering::SeqCst);
        limit.store(u64::MAX, Ordering::SeqCst);
        let got = f.fetch("img").await.unwrap();
        assert_eq!(got.stats.resumed_from, 36);
        assert_eq!(got.stats.segments_fetched, m.segments - 36);
        // Only what was missing was asked for (segment 36 may come from
        // the forwarder's content store).
        assert!(served.load(Ordering::SeqCst) <= m.segments - 36);
        assert_eq!(
            std::fs::read(&got.path).unwrap(),
            std::fs::read(&path).unwrap()
        );
        assert!(!partial.exists() && !progress.exists());
    }

    /// A segment lost once while many later ones arrived: the window
    /// halves below the buffered out-of-order data, and the lost segment
    /// must still be asked again (it once stalled the fetch with "face
    /// closed" after 0 retries).
    #[tokio::test]
    async fn a_lost_head_segment_is_retransmitted_past_buffered_data() {
        let (producer, consumer, _h) = clients().await;
        let dir = temp_dir("holb");
        let key = Signer::ed25519_generate(Name::from_uri("/k").unwrap());
        let path = archive(&dir.0, 400_000);
        let p = Arc::new(
            ImagePublisher::from_file(&root(), "img", None, &path, 3, 8000, &key).unwrap(),
        );
        // Segment 5 goes unanswered the first time it is asked.
        let dropped = Arc::new(AtomicU64::new(0));
        let (pp, d) = (p.clone(), dropped.clone());
        producer
            .register(p.prefix().clone(), move |i: Interest| {
                let seg = i.name().last().and_then(|c| c.as_segment());
                let answer = if seg == Some(5) && d.fetch_add(1, Ordering::SeqCst) == 0 {
                    None
                } else {
                    pp.answer(&i)
                };
                async move { answer }
            })
            .await
            .unwrap();
        let opts = ImageFetchOptions {
            initial_cwnd: 32.0,
            ..quick()
        };
        let f = ImageFetcher::new(consumer, root(), key.verifier(), dir.0.join("store"), opts);
        let got = f.fetch("img").await.unwrap();
        assert_eq!(dropped.load(Ordering::SeqCst), 2, "asked twice");
        assert!(got.stats.retransmissions >= 1);
        assert_eq!(
            std::fs::read(&got.path).unwrap(),
            std::fs::read(&path).unwrap()
        );
    }

    #[tokio::test]
    async fn a_cancelled_fetch_resumes() {
        let (producer, consumer, _h) = clients().await;
        let dir = temp_dir("cancel");
        let key = Signer::ed25519_generate(Name::from_uri("/k").unwrap());
        let path = archive(&dir.0, 2_000_000);
        let p = Arc::new(
            ImagePublisher::from_file(&root(), "img", None, &path, 1, 8000, &key).unwrap(),
        );
        // The producer answers the manifest and the first 100 segments, then
        // goes silent until `open` is set: the first fetch is cut short
        // mid-way whatever the machine's speed.
        let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let open = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (pp, sv, op) = (p.clone(), served.clone(), open.clone());
        producer
            .register(p.prefix().clone(), move |i: Interest| {
                use std::sync::atomic::Ordering;
                let is_segment = i.name().last().is_some_and(|c| c.as_segment().is_some());
                let allowed = !is_segment
                    || op.load(Ordering::SeqCst)
                    || sv.fetch_add(1, Ordering::SeqCst) < 100;
                let d = if allowed { pp.answer(&i) } else { None };
                async move { d }
            })
            .await
            .unwrap();
        let f = ImageFetcher::new(
            consumer,
            root(),
            key.verifier(),
            dir.0.join("store"),
            quick(),
        );
        let cut = tokio::time::timeout(Duration::from_secs(2), f.fetch("img")).await;
        assert!(
            !matches!(cut, Ok(Ok(_))),
            "the first fetch cannot finish: the producer went silent"
        );
        open.store(true, std::sync::atomic::Ordering::SeqCst);
        let got = f.fetch("img").await.unwrap();
        assert!(got.stats.resumed_from > 0, "{:?}", got.stats);
        assert_eq!(
            got.stats.resumed_from + got.stats.segments_fetched,
            p.manifest().segments
        );
        assert_eq!(
            hex::encode(Sha256::digest(std::fs::read(&got.path).unwrap())),
            p.manifest().sha256
        );
    }

    #[tokio::test]
    async fn a_dropped_fetch_stops_asking() {
        let (producer, consumer, _h) = clients().await;
        let dir = temp_dir("dropped");
        let key = Signer::ed25519_generate(Name::from_uri("/k").unwrap());
        let path = archive(&dir.0, 400_000);
        let p = Arc::new(
            ImagePublisher::from_file(&root(), "img", None, &path, 1, 8000, &key).unwrap(),
        );
        // The manifest is answered, segments never: the fetch retries
        // until it is dropped.
        let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (pp, a) = (p.clone(), asked.clone());
        producer
            .register(p.prefix().clone(), move |i: Interest| {
                let is_segment = i.name().last().is_some_and(|c| c.as_segment().is_some())
                    && !i.name().to_uri().contains("/manifest");
                let d = if is_segment {
                    a.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    None
                } else {
                    pp.answer(&i)
                };
                async move { d }
            })
            .await
            .unwrap();
        let f = ImageFetcher::new(
            consumer,
            root(),
            key.verifier(),
            dir.0.join("store"),
            ImageFetchOptions {
                lifetime: Duration::from_millis(100),
                max_retries: 100_000,
                ..ImageFetchOptions::default()
            },
        );
        let cut = tokio::time::timeout(Duration::from_millis(600), f.fetch("img")).await;
        assert!(
            cut.is_err(),
            "the fetch was to be dropped, not end: {cut:?}"
        );
        let count = || asked.load(std::sync::atomic::Ordering::SeqCst);
        assert!(count() > 0);
        // Interests already on their way arrive; then nothing more.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let settled = count();
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(count(), settled, "the dropped fetch still sends Interests");
    }

    /// Fetches a 100,000-byte image (13 segments of 8000 bytes) whose
    /// segment `forged` is served with `content` instead; returns what the
    /// fetch came to, with the publisher, the fetcher and the archive path
    /// (the directory lives as long as the returned `Dir`).
    async fn fetch_with_forged_segment(
        tag: &str,
        forged: u64,
        content: Vec<u8>,
    ) -> (
        Result<FetchedImage, ImageFetchError>,
        Arc<ImagePublisher>,
        ImageFetcher,
        PathBuf,
        Dir,
    ) {
        let (producer, consumer, _h) = clients().await;
        let dir = temp_dir(tag);
        let key = Signer::ed25519_generate(Name::from_uri("/k").unwrap());
        let path = archive(&dir.0, 100_000);
        let p = Arc::new(
            ImagePublisher::from_file(&root(), "img", None, &path, 1, 8000, &key).unwrap(),
        );
        assert_eq!(p.manifest().segments, 13);
        let pp = p.clone();
        producer
            .register(p.prefix().clone(), move |i: Interest| {
                let mut d = pp.answer(&i);
                if i.name().last().and_then(|c| c.as_segment()) == Some(forged) {
                    let mut f = Data::new(i.name().clone()).with_content(content.clone());
                    f.sign(&Signer::DigestSha256);
                    d = Some(f);
                }
                async move { d }
            })
            .await
            .unwrap();
        let f = ImageFetcher::new(
            consumer,
            root(),
            key.verifier(),
            dir.0.join("store"),
            quick(),
        );
        let result = f.fetch("img").await;
        (result, p, f, path, dir)
    }

    #[tokio::test]
    async fn a_bad_segment_is_refused_and_not_kept() {
        let (result, p, f, _, _dir) = fetch_with_forged_segment("bad", 5, vec![0u8; 8000]).await;
        let e = result.unwrap_err();
        assert!(
            matches!(e, ImageFetchError::SegmentDigest { segment: 5 }),
            "{e}"
        );
        let (done, partial, _) = f.paths(p.manifest());
        assert!(!done.exists());
        assert!(std::fs::metadata(&partial).unwrap().len() <= 5 * 8000);
    }

    #[tokio::test]
    async fn a_bad_last_segment_fails_the_whole_archive_digest_and_keeps_the_prefix() {
        // The right length (4,000 bytes), other bytes.
        let (result, p, f, path, _dir) =
            fetch_with_forged_segment("badlast", 12, vec![7u8; 4000]).await;
        let e = result.unwrap_err();
        let ImageFetchError::WholeDigest { expected, found } = &e else {
            panic!("{e}");
        };
        assert_eq!(*expected, p.manifest().sha256);
        let mut forged = std::fs::read(&path).unwrap();
        forged[96_000..].fill(7);
        assert_eq!(*found, hex::encode(Sha256::digest(&forged)));
        let (done, partial, _) = f.paths(p.manifest());
        assert!(!done.exists());
        // The twelve segments before it matched their checkpoints: kept.
        assert_eq!(std::fs::metadata(&partial).unwrap().len(), 12 * 8000);
    }

    #[tokio::test]
    async fn a_republished_image_is_followed_not_chased() {
        let (producer, consumer, _h) = clients().await;
        let dir = temp_dir("republish");
        let key = Signer::ed25519_generate(Name::from_uri("/k").unwrap());
        let v1 = archive(&dir.0, 100_000);
        let p1 = Arc::new(
            ImagePublisher::from_file(&root(), "img", Some("t:1"), &v1, 1, 8000, &key).unwrap(),
        );
        let v2 = dir.0.join("v2.tar");
        std::fs::write(&v2, vec![7u8; 50_000]).unwrap();
        let p2 = Arc::new(
            ImagePublisher::from_file(&root(), "img", Some("t:2"), &v2, 2, 8000, &key).unwrap(),
        );
        // The producer serves whichever publisher is current.
        let current = Arc::new(std::sync::Mutex::new(p1.clone()));
        let c = current.clone();
        producer
            .register(p1.prefix().clone(), move |i: Interest| {
                let d = c.lock().unwrap().answer(&i);
                async move { d }
            })
            .await
            .unwrap();
        let f = ImageFetcher::new(
            consumer.clone(),
            root(),
            key.verifier(),
            dir.0.join("store"),
            quick(),
        );
        let m1 = f.manifest("img").await.unwrap();
        assert_eq!(m1.version, 1);
        *current.lock().unwrap() = p2.clone();

        // The publisher answers other versions with a signed application Nack.
        for name in [
            segment_name(&root(), "img", 1, 0),
            manifest_name(&root(), "img")
                .append(&Component::version(1))
                .append(&Component::segment(0)),
        ] {
            let d = p2.answer(&Interest::new(name.clone())).unwrap();
            assert_eq!(d.content_type(), Some(content_type::NACK), "{name}");
            d.verify(&key.verifier()).unwrap();
            let n: VersionNack = serde_json::from_slice(&d.content()).unwrap();
            assert_eq!(n.version, 2);
        }
        // `…/manifest/v=2` with CanBePrefix is the manifest's first segment.
        let versioned = manifest_name(&root(), "img").append(&Component::version(2));
        let d = p2
            .answer(&Interest::new(versioned.clone()).with_can_be_prefix(true))
            .unwrap();
        assert_eq!(d.name(), &versioned.append(&Component::segment(0)));
        assert!(p2.answer(&Interest::new(versioned)).is_none());

        // The old manifest's archive: gone, and the fetcher learns which is current.
        let e = f.fetch_archive(&m1).await.unwrap_err();
        assert!(
            matches!(
                e,
                ImageFetchError::VersionGone {
                    version: 1,
                    current: Some(2),
                    ..
                }
            ),
            "{e}"
        );
        let got = f.fetch_current(&m1).await.unwrap();
        assert_eq!(got.manifest, *p2.manifest());
        assert_eq!(got.manifest.tag.as_deref(), Some("t:2"));
        assert_eq!(std::fs::read(&got.path).unwrap(), vec![7u8; 50_000]);
        let (_, partial, progress) = f.paths(&m1);
        assert!(!partial.exists() && !progress.exists());
        // A whole fetch right after the republish (the forwarder's content
        // store may still hold manifest v=1 fresh) ends with version 2.
        let got = f.fetch("img").await.unwrap();
        assert_eq!(got.manifest.version, 2);
    }

    /// Throughput of a 100 MB archive over the in-process forwarder
    /// (run with `--release -- --ignored --nocapture`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[ignore = "measurement: 100 MB"]
    async fn throughput_of_a_100_mb_archive() {
        let (producer, consumer, _h) = clients().await;
        let dir = temp_dir("throughput");
        let key = Signer::ed25519_generate(Name::from_uri("/k").unwrap());
        let path = archive(&dir.0, 100_000_000);
        let p = Arc::new(
            ImagePublisher::from_file(&root(), "big", None, &path, 1, SEGMENT_SIZE, &key).unwrap(),
        );
        p.serve(&producer).await.unwrap();
        let f = ImageFetcher::new(
            consumer,
            root(),
            key.verifier(),
            dir.0.join("store"),
            ImageFetchOptions::default(),
        );
        let got = f.fetch("big").await.unwrap();
        eprintln!(
            "100 MB archive: {} segments in {:.2} s = {:.1} MB/s, {} retransmissions, {} window decreases",
            got.stats.segments_fetched,
            got.stats.seconds,
            got.stats.throughput_mb_s(),
            got.stats.retransmissions,
            got.stats.decreases
        );
        assert_eq!(got.stats.bytes_fetched, 100_000_000);
    }
}
