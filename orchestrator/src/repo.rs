//! The service repo: service specs and images, durable on disk and served
//! by name.
//!
//! Owns the on-disk layout and what is served under
//! `<root>/repo/spec/…` and `<root>/repo/image/…`. It does not decide what
//! runs where ([`crate::engine`]) nor push anything to nodes (nodes pull
//! images with [`picasso_agent::image_repo::ImageFetcher`], unchanged).
//!
//! On disk, under the data directory:
//!
//! ```text
//! specs/<key>.json          a spec as uploaded (validated before it is written)
//! images/<sha256>.tar       a `docker save` archive, content-addressed
//! images/<key>.json         the index entry of image <name>:
//!                           { "name", "tag", "sha256", "size", "version" }
//! *.<random>.tmp            a write in progress (never read; removed on open)
//! ```
//!
//! `<key>` is the name with every byte outside `[A-Za-z0-9_.-]` written
//! `%XX`, so `armhfbuild/nginx` is `armhfbuild%2Fnginx`. Every write goes to
//! a temp file that is fsynced and renamed over the final name, and the
//! directory is fsynced; an upload writes its archive first, then its
//! index entry. A crash at any point leaves either the old entry or the
//! new one, plus at worst a temp file or an unreferenced archive, which
//! [`Repo::open`] removes. On open every spec is re-validated and every
//! archive re-hashed against its index; a corrupt entry is reported as a
//! [`Problem`] and skipped — never served.
//!
//! Served names:
//!
//! ```text
//! <root>/repo/spec/<service>                   the spec JSON (signed), when it fits one segment
//! <root>/repo/spec/<service>/v=<ver>/seg=<n>   its segments otherwise (answer to a CanBePrefix
//!                                              Interest for the name above is segment 0)
//! <root>/repo/image/<image>/manifest           signed manifest   } as in
//! <root>/repo/image/<image>/v=<ver>/seg=<n>    archive segments  } picasso_agent::image_repo
//! ```
//!
//! The methods do blocking file I/O; async callers wrap them in
//! `spawn_blocking`. Answering Interests only reads.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use picasso_agent::image_repo::{ImageManifest, ImagePublisher, SEGMENT_SIZE};
use picasso_forwarder::app::{Client, RegisterError};
use picasso_tlv::{Component, Data, Interest, Name, Signer};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::spec::{ServiceSpec, SpecError};

/// FreshnessPeriod of the "no such image/spec" answers, ms.
pub const NO_SUCH_FRESHNESS_MS: u64 = 1000;

/// FreshnessPeriod of a spec's Data: short, so an update is seen soon.
pub const SPEC_FRESHNESS_MS: u64 = 1000;

/// Why a repo operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The spec was refused.
    #[error("invalid spec: {0}")]
    Spec(#[from] SpecError),
    /// The image name cannot be one.
    #[error("{name:?} is not an image name ([A-Za-z0-9_.-/:@], 1 to 255 bytes)")]
    ImageName {
        /// The name given.
        name: String,
    },
    /// No entry has that name.
    #[error("no {what} named {name:?}")]
    NotFound {
        /// `spec` or `image`.
        what: &'static str,
        /// The name asked for.
        name: String,
    },
}

/// A corrupt or leftover entry found by [`Repo::open`]: reported, skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub path: PathBuf,
    /// What was wrong and what was done.
    pub reason: String,
}

/// The index entry of one image (`images/<key>.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageEntry {
    /// The image's name in the repo.
    pub name: String,
    /// The engine reference the archive loads as, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// sha256 of the archive, lower-case hex (its file name).
    pub sha256: String,
    /// Archive size, bytes.
    pub size: u64,
    /// The version its segments are published under (upload time, ms).
    pub version: u64,
}

/// A stored spec: the validated value and the bytes as uploaded.
#[derive(Debug, Clone)]
struct StoredSpec {
    spec: ServiceSpec,
    json: Bytes,
    version: u64,
}

/// A stored image: its index entry and the publisher serving it.
#[derive(Debug)]
struct StoredImage {
    entry: ImageEntry,
    publisher: Arc<ImagePublisher>,
}

#[derive(Debug, Default)]
struct State {
    specs: BTreeMap<String, StoredSpec>,
    images: BTreeMap<String, StoredImage>,
}

/// The service repo (see the module docs).
#[derive(Debug)]
pub struct Repo {
    dir: PathBuf,
    root: Name,
    signer: Signer,
    state: RwLock<State>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RepoError + '_ {
    move |source| RepoError::Io {
        path: path.to_owned(),
        source,
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The file key of a name: bytes outside `[A-Za-z0-9_.-]` as `%XX`
/// (a leading `.` too, so no key is hidden or `..`).
pub fn file_key(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, b) in name.bytes().enumerate() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Image names as the deployment descriptor accepts them.
fn is_valid_image_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-/:@".contains(&b))
}

/// A temp file beside `path`: `<file name>.<random>.tmp`.
fn temp_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{name}.{:08x}.tmp", rand::random::<u32>()))
}

/// fsyncs a directory, so a rename in it is durable.
fn sync_dir(dir: &Path) -> Result<(), RepoError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// Writes `bytes` to `path` atomically: temp file, fsync, rename, fsync dir.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RepoError> {
    let tmp = temp_beside(path);
    let result = (|| {
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io_err(path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// The `.json` files of `dir` and the `.tmp` files (removed).
fn scan(dir: &Path, problems: &mut Vec<Problem>) -> Result<Vec<PathBuf>, RepoError> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let path = e.map_err(io_err(dir))?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with(".tmp") {
            let reason = match std::fs::remove_file(&path) {
                Ok(()) => "an interrupted write: removed".to_owned(),
                Err(e) => format!("an interrupted write, not removed: {e}"),
            };
            problems.push(Problem { path, reason });
        } else if name.ends_with(".json") {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

impl Repo {
    /// Opens (creating if needed) the repo in `dir`, serving under `root`
    /// and signing manifests and specs with `signer` (the orchestrator's
    /// key). Returns the repo and what was found wrong and skipped.
    pub fn open(
        dir: impl Into<PathBuf>,
        root: Name,
        signer: Signer,
    ) -> Result<(Self, Vec<Problem>), RepoError> {
        let dir = dir.into();
        let (specs_dir, images_dir) = (dir.join("specs"), dir.join("images"));
        for d in [&dir, &specs_dir, &images_dir] {
            std::fs::create_dir_all(d).map_err(io_err(d))?;
        }
        let mut problems = Vec::new();
        let mut state = State::default();

        for path in scan(&specs_dir, &mut problems)? {
            let loaded = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|json| {
                    let spec = ServiceSpec::from_json(&json).map_err(|e| e.to_string())?;
                    let want = specs_dir.join(format!("{}.json", file_key(&spec.service_name)));
                    if want != path {
                        return Err(format!("holds service {:?}", spec.service_name));
                    }
                    let version = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                        .map(|d| d.as_millis() as u64)
                        .unwrap_or(1);
                    Ok(StoredSpec {
                        spec,
                        json: Bytes::from(json),
                        version,
                    })
                });
            match loaded {
                Ok(s) => {
                    state.specs.insert(s.spec.service_name.clone(), s);
                }
                Err(reason) => problems.push(Problem {
                    path,
                    reason: format!("corrupt spec, skipped: {reason}"),
                }),
            }
        }

        let mut referenced = BTreeSet::new();
        for path in scan(&images_dir, &mut problems)? {
            let entry = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|j| serde_json::from_slice::<ImageEntry>(&j).map_err(|e| e.to_string()));
            let entry = match entry {
                Ok(e) => e,
                Err(reason) => {
                    problems.push(Problem {
                        path,
                        reason: format!("corrupt index entry, skipped: {reason}"),
                    });
                    continue;
                }
            };
            referenced.insert(entry.sha256.clone());
            let blob = images_dir.join(format!("{}.tar", entry.sha256));
            let publisher = ImagePublisher::from_file(
                &root,
                &entry.name,
                entry.tag.as_deref(),
                &blob,
                entry.version,
                SEGMENT_SIZE,
                &signer,
            );
            let reason = match &publisher {
                Err(e) => Some(format!("archive {}: {e}", blob.display())),
                Ok(p) if p.manifest().sha256 != entry.sha256 || p.manifest().size != entry.size => {
                    Some(format!(
                        "archive has sha256 {} and {} bytes, the index says {} and {}",
                        p.manifest().sha256,
                        p.manifest().size,
                        entry.sha256,
                        entry.size
                    ))
                }
                Ok(_) if file_key(&entry.name) + ".json" != file_name(&path) => {
                    Some(format!("holds image {:?}", entry.name))
                }
                Ok(_) => None,
            };
            match (reason, publisher) {
                (None, Ok(p)) => {
                    state.images.insert(
                        entry.name.clone(),
                        StoredImage {
                            entry,
                            publisher: Arc::new(p),
                        },
                    );
                }
                (reason, _) => problems.push(Problem {
                    path,
                    reason: format!(
                        "corrupt image {:?}, skipped: {}",
                        entry.name,
                        reason.unwrap_or_default()
                    ),
                }),
            }
        }
        // Archives no index entry names: an upload that crashed between
        // writing its archive and its index entry.
        for e in std::fs::read_dir(&images_dir).map_err(io_err(&images_dir))? {
            let path = e.map_err(io_err(&images_dir))?.path();
            let name = file_name(&path);
            if let Some(sha) = name.strip_suffix(".tar") {
                if !referenced.contains(sha) {
                    let _ = std::fs::remove_file(&path);
                    problems.push(Problem {
                        path,
                        reason: "an archive no image names: removed".to_owned(),
                    });
                }
            }
        }
        for p in &problems {
            tracing::warn!(path = %p.path.display(), reason = %p.reason, "service repo");
        }
        Ok((
            Self {
                dir,
                root,
                signer,
                state: RwLock::new(state),
            },
            problems,
        ))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A panic while holding the lock leaves consistent maps (every
        // mutation is one insert or remove), so a poisoned lock is usable.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Validates and stores a spec (replacing one of the same service).
    pub fn put_spec(&self, json: &[u8]) -> Result<ServiceSpec, RepoError> {
        let spec = ServiceSpec::from_json(json)?;
        let path = self
            .dir
            .join("specs")
            .join(format!("{}.json", file_key(&spec.service_name)));
        write_atomic(&path, json)?;
        let mut st = self.write();
        let version = st
            .specs
            .get(&spec.service_name)
            .map(|s| s.version + 1)
            .unwrap_or(0)
            .max(now_ms());
        st.specs.insert(
            spec.service_name.clone(),
            StoredSpec {
                spec: spec.clone(),
                json: Bytes::copy_from_slice(json),
                version,
            },
        );
        Ok(spec)
    }

    /// The spec of `service`.
    pub fn spec(&self, service: &str) -> Option<ServiceSpec> {
        self.read().specs.get(service).map(|s| s.spec.clone())
    }

    /// The spec of `service` as uploaded.
    pub fn spec_json(&self, service: &str) -> Option<Bytes> {
        self.read().specs.get(service).map(|s| s.json.clone())
    }

    /// Every spec, by service name (the engine's input).
    pub fn specs(&self) -> BTreeMap<String, ServiceSpec> {
        self.read()
            .specs
            .iter()
            .map(|(k, v)| (k.clone(), v.spec.clone()))
            .collect()
    }

    /// Removes the spec of `service`.
    pub fn remove_spec(&self, service: &str) -> Result<(), RepoError> {
        let path = self
            .dir
            .join("specs")
            .join(format!("{}.json", file_key(service)));
        let mut st = self.write();
        if !st.specs.contains_key(service) {
            return Err(RepoError::NotFound {
                what: "spec",
                name: service.to_owned(),
            });
        }
        std::fs::remove_file(&path).map_err(io_err(&path))?;
        st.specs.remove(service);
        sync_dir(&self.dir.join("specs"))
    }

    /// Stores the archive read from `archive` as image `name` (replacing
    /// one of the same name) and starts serving it; `tag` is the engine
    /// reference it loads as. Returns the signed manifest's content.
    pub fn put_image(
        &self,
        name: &str,
        tag: Option<&str>,
        archive: &mut dyn Read,
    ) -> Result<ImageManifest, RepoError> {
        if !is_valid_image_name(name) {
            return Err(RepoError::ImageName {
                name: name.to_owned(),
            });
        }
        let images = self.dir.join("images");
        // 1. The archive, into a temp file, hashed on the way.
        let tmp = temp_beside(&images.join("upload.tar"));
        let written = (|| {
            let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 1 << 16];
            let mut size = 0u64;
            loop {
                let n = match archive.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(io_err(&tmp)(e)),
                };
                hasher.update(&buf[..n]);
                f.write_all(&buf[..n]).map_err(io_err(&tmp))?;
                size += n as u64;
            }
            f.sync_all().map_err(io_err(&tmp))?;
            Ok((hex::encode(hasher.finalize()), size))
        })();
        let (sha256, size) = match written {
            Ok(w) => w,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        // 2. Renamed to its content address (or dropped if already there),
        // under the lock so no concurrent replacement collects the archive
        // before its index entry exists.
        let mut st = self.write();
        let blob = images.join(format!("{sha256}.tar"));
        if blob.exists() {
            let _ = std::fs::remove_file(&tmp);
        } else {
            std::fs::rename(&tmp, &blob).map_err(io_err(&blob))?;
            sync_dir(&images)?;
        }
        // 3. The index entry, which makes the image exist.
        let previous = st.images.get(name).map(|s| s.entry.clone());
        let version = previous
            .as_ref()
            .map(|e| e.version + 1)
            .unwrap_or(0)
            .max(now_ms());
        let entry = ImageEntry {
            name: name.to_owned(),
            tag: tag.map(str::to_owned),
            sha256,
            size,
            version,
        };
        let publisher = ImagePublisher::from_file(
            &self.root,
            name,
            tag,
            &blob,
            version,
            SEGMENT_SIZE,
            &self.signer,
        )
        .map_err(io_err(&blob))?;
        // Invariant: plain data always serialises.
        let json = serde_json::to_vec_pretty(&entry).expect("index entry serialises");
        write_atomic(&images.join(format!("{}.json", file_key(name))), &json)?;
        let manifest = publisher.manifest().clone();
        st.images.insert(
            name.to_owned(),
            StoredImage {
                entry,
                publisher: Arc::new(publisher),
            },
        );
        if let Some(old) = previous {
            self.collect_blob(&st, &old.sha256);
        }
        Ok(manifest)
    }

    /// Stores the archive file at `path` as image `name`.
    pub fn put_image_file(
        &self,
        name: &str,
        tag: Option<&str>,
        path: &Path,
    ) -> Result<ImageManifest, RepoError> {
        let mut f = File::open(path).map_err(io_err(path))?;
        self.put_image(name, tag, &mut f)
    }

    /// Removes the archive `sha256` unless an image still names it.
    fn collect_blob(&self, st: &State, sha256: &str) {
        if !st.images.values().any(|i| i.entry.sha256 == sha256) {
            let _ = std::fs::remove_file(self.dir.join("images").join(format!("{sha256}.tar")));
        }
    }

    /// Removes image `name`.
    pub fn remove_image(&self, name: &str) -> Result<(), RepoError> {
        let mut st = self.write();
        if !st.images.contains_key(name) {
            return Err(RepoError::NotFound {
                what: "image",
                name: name.to_owned(),
            });
        }
        let path = self
            .dir
            .join("images")
            .join(format!("{}.json", file_key(name)));
        std::fs::remove_file(&path).map_err(io_err(&path))?;
        // Invariant: checked just above, under the same lock.
        let old = st.images.remove(name).expect("entry present");
        sync_dir(&self.dir.join("images"))?;
        self.collect_blob(&st, &old.entry.sha256);
        Ok(())
    }

    /// The manifest of image `name`.
    pub fn image(&self, name: &str) -> Option<ImageManifest> {
        self.read()
            .images
            .get(name)
            .map(|i| i.publisher.manifest().clone())
    }

    /// Every image's index entry, by name.
    pub fn images(&self) -> BTreeMap<String, ImageEntry> {
        self.read()
            .images
            .iter()
            .map(|(k, v)| (k.clone(), v.entry.clone()))
            .collect()
    }

    /// `<root>/repo/spec`.
    pub fn spec_prefix(&self) -> Name {
        self.root.append_str("repo").append_str("spec")
    }

    /// `<root>/repo/image`.
    pub fn image_prefix(&self) -> Name {
        self.root.append_str("repo").append_str("image")
    }

    /// The Data answering `interest`: what the repo has, or a signed
    /// application-level Nack for an image or spec it does not have (so a
    /// node asking for one fails at once instead of after timeouts).
    pub fn answer(&self, interest: &Interest) -> Option<Data> {
        let name = interest.name();
        let (specs, images) = (self.spec_prefix(), self.image_prefix());
        if images.is_prefix_of(name) {
            let image = component_text(name, images.len())?;
            let Some(publisher) = self.read().images.get(&image).map(|i| i.publisher.clone())
            else {
                return Some(self.no_such(name, &format!("no image {image:?} in the repository")));
            };
            return publisher.answer(interest);
        }
        if !specs.is_prefix_of(name) {
            return None;
        }
        let service = component_text(name, specs.len())?;
        let Some(stored) = self.read().specs.get(&service).cloned() else {
            return Some(self.no_such(
                name,
                &format!("no spec for service {service:?} in the repository"),
            ));
        };
        let base = specs.append(&Component::generic(Bytes::copy_from_slice(
            service.as_bytes(),
        )));
        let rest = name.len() - base.len();
        let segments = stored.json.len().div_ceil(SEGMENT_SIZE).max(1) as u64;
        let segment = |n: u64| {
            let start = (n as usize) * SEGMENT_SIZE;
            let end = (start + SEGMENT_SIZE).min(stored.json.len());
            let mut d = Data::new(
                base.append(&Component::version(stored.version))
                    .append(&Component::segment(n)),
            )
            .with_freshness_ms(SPEC_FRESHNESS_MS)
            .with_final_block_id(Component::segment(segments - 1))
            .with_content(stored.json.slice(start..end));
            d.sign(&self.signer);
            d
        };
        match rest {
            0 if segments == 1 => {
                let mut d = Data::new(base)
                    .with_freshness_ms(SPEC_FRESHNESS_MS)
                    .with_content(stored.json.clone());
                d.sign(&self.signer);
                Some(d)
            }
            0 if interest.can_be_prefix() => Some(segment(0)),
            2 => {
                let v = name.get(base.len())?.as_version()?;
                let n = name.get(base.len() + 1)?.as_segment()?;
                (v == stored.version && n < segments).then(|| segment(n))
            }
            _ => None,
        }
    }

    /// The application-level Nack (ContentType NACK, JSON `{"error": …}`)
    /// for `name`, signed, fresh only briefly: an upload soon after is seen.
    fn no_such(&self, name: &Name, error: &str) -> Data {
        let body = serde_json::json!({ "error": error });
        let mut d = Data::new(name.clone())
            .with_content_type(picasso_tlv::data::content_type::NACK)
            .with_freshness_ms(NO_SUCH_FRESHNESS_MS)
            .with_content(body.to_string().into_bytes());
        d.sign(&self.signer);
        d
    }

    /// Registers `<root>/repo/spec` and `<root>/repo/image` on `client`'s
    /// forwarder and answers from this repo (uploads made later are served
    /// without registering again).
    pub async fn serve(self: &Arc<Self>, client: &Client) -> Result<(), RegisterError> {
        for prefix in [self.spec_prefix(), self.image_prefix()] {
            let me = self.clone();
            client
                .register(prefix, move |i: Interest| {
                    let d = me.answer(&i);
                    async move { d }
                })
                .await?;
        }
        Ok(())
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Component `i` of `name` as UTF-8 text.
fn component_text(name: &Name, i: usize) -> Option<String> {
    String::from_utf8(name.get(i)?.value().to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use picasso_agent::image_repo::{ImageFetchError, ImageFetchOptions, ImageFetcher};
    use picasso_forwarder::app::fetch_segmented;
    use picasso_forwarder::face::in_process;
    use picasso_forwarder::runtime;
    use std::time::Duration;

    const PAPER_S1: &str = r#"{"par":{"serviceName":"S1","imageName":"armhfbuild/nginx",
        "imageSize":"368","maxUsers":"50","startUpTime":"5"},
        "QoS":{"responseTime":"5","availability":"99.99","numUsers":"100"}}"#;

    fn root() -> Name {
        Name::from_uri("/picasso").unwrap()
    }

    fn key() -> Signer {
        Signer::ed25519_generate(Name::from_uri("/picasso/KEY/orch").unwrap())
    }

    fn archive(size: usize, seed: u8) -> Vec<u8> {
        (0..size)
            .map(|i| ((i * 131 + seed as usize) % 251) as u8)
            .collect()
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| file_name(&e.unwrap().path()))
            .collect();
        v.sort();
        v
    }

    /// A reader that fails after `n` bytes, as a client that hangs up.
    struct Failing(std::io::Cursor<Vec<u8>>, usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.position() as usize >= self.1 {
                return Err(std::io::Error::other("connection reset"));
            }
            let room = (self.1 - self.0.position() as usize).min(buf.len());
            self.0.read(&mut buf[..room])
        }
    }

    #[test]
    fn file_keys_are_safe_and_distinct() {
        assert_eq!(file_key("armhfbuild/nginx"), "armhfbuild%2Fnginx");
        assert_eq!(file_key("S1"), "S1");
        assert_eq!(file_key(".."), "%2E.");
        assert_eq!(file_key("a:b@c"), "a%3Ab%40c");
        assert_ne!(file_key("a/b"), file_key("a%2Fb"));
    }

    #[test]
    fn specs_round_trip_and_refusals_store_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, problems) = Repo::open(dir.path(), root(), key()).unwrap();
        assert!(problems.is_empty());
        let s = repo.put_spec(PAPER_S1.as_bytes()).unwrap();
        assert_eq!(s.max_users, 50);
        assert_eq!(repo.spec("S1"), Some(s.clone()));
        assert_eq!(&repo.spec_json("S1").unwrap()[..], PAPER_S1.as_bytes());
        assert_eq!(files(&dir.path().join("specs")), ["S1.json"]);

        let bad = PAPER_S1.replace(r#""maxUsers":"50""#, r#""maxUsers":[50]"#);
        let e = repo.put_spec(bad.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid spec: par.maxUsers: [50] is not a whole number"
        );
        let bad = PAPER_S1
            .replace(r#""serviceName":"S1""#, r#""serviceName":"S2""#)
            .replace(r#""availability":"99.99""#, r#""availability":{}"#);
        let e = repo.put_spec(bad.as_bytes()).unwrap_err();
        assert!(
            e.to_string()
                .contains("QoS.availability: {} is not a percentage"),
            "{e}"
        );
        assert_eq!(files(&dir.path().join("specs")), ["S1.json"]);
        assert_eq!(repo.specs().len(), 1);

        drop(repo);
        let (repo, problems) = Repo::open(dir.path(), root(), key()).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(repo.spec("S1"), Some(s));
        repo.remove_spec("S1").unwrap();
        assert!(repo.spec("S1").is_none());
        assert!(files(&dir.path().join("specs")).is_empty());
        assert!(matches!(
            repo.remove_spec("S1"),
            Err(RepoError::NotFound { .. })
        ));
    }

    #[test]
    fn images_round_trip_content_addressed() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = Repo::open(dir.path(), root(), key()).unwrap();
        let bytes = archive(100_000, 1);
        let m = repo
            .put_image("armhfbuild/nginx", Some("picasso/nginx:1"), &mut &bytes[..])
            .unwrap();
        assert_eq!(m.sha256, hex::encode(Sha256::digest(&bytes)));
        assert_eq!((m.size, m.segments), (100_000, 13));
        let images = dir.path().join("images");
        assert_eq!(
            files(&images),
            [
                format!("{}.tar", m.sha256),
                "armhfbuild%2Fnginx.json".to_owned()
            ]
        );
        // The same content under another name shares the archive.
        let m2 = repo.put_image("nginx-copy", None, &mut &bytes[..]).unwrap();
        assert_eq!(m2.sha256, m.sha256);
        assert_eq!(files(&images).len(), 3);
        // Replacing collects the old archive only when no name uses it.
        let newer = archive(50_000, 2);
        let m3 = repo
            .put_image("armhfbuild/nginx", None, &mut &newer[..])
            .unwrap();
        assert!(m3.version > m.version);
        assert!(images.join(format!("{}.tar", m.sha256)).exists());
        repo.remove_image("nginx-copy").unwrap();
        assert!(!images.join(format!("{}.tar", m.sha256)).exists());

        drop(repo);
        let (repo, problems) = Repo::open(dir.path(), root(), key()).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(repo.image("armhfbuild/nginx").unwrap().sha256, m3.sha256);
        assert_eq!(repo.images()["armhfbuild/nginx"].version, m3.version);
        assert!(repo.image("nginx-copy").is_none());
        assert!(matches!(
            repo.put_image("bad name", None, &mut &bytes[..]),
            Err(RepoError::ImageName { .. })
        ));
    }

    #[test]
    fn a_crash_mid_upload_leaves_the_repo_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("images");
        let specs = dir.path().join("specs");
        let (repo, _) = Repo::open(dir.path(), root(), key()).unwrap();
        let old = archive(30_000, 3);
        let m = repo.put_image("img", None, &mut &old[..]).unwrap();
        repo.put_spec(PAPER_S1.as_bytes()).unwrap();

        // An upload that fails half-way: an error, no trace, the old image kept.
        let mut failing = Failing(std::io::Cursor::new(archive(200_000, 4)), 70_000);
        let e = repo.put_image("img", None, &mut failing).unwrap_err();
        assert!(e.to_string().contains("connection reset"), "{e}");
        assert_eq!(files(&images).len(), 2, "{:?}", files(&images));
        assert_eq!(repo.image("img").unwrap().sha256, m.sha256);
        drop(repo);

        // A process killed mid-upload: what it leaves behind.
        std::fs::write(
            images.join("upload.tar.0badf00d.tmp"),
            &archive(70_000, 4)[..],
        )
        .unwrap();
        std::fs::write(
            specs.join("S1.json.deadbeef.tmp"),
            &PAPER_S1.as_bytes()[..40],
        )
        .unwrap();
        let orphan = archive(10_000, 5);
        let orphan_sha = hex::encode(Sha256::digest(&orphan));
        std::fs::write(images.join(format!("{orphan_sha}.tar")), &orphan).unwrap();
        std::fs::write(
            images.join("img2.json.00000001.tmp"),
            b"{\"name\": \"img2\", \"sha",
        )
        .unwrap();

        let (repo, problems) = Repo::open(dir.path(), root(), key()).unwrap();
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert_eq!(
            problems
                .iter()
                .filter(|p| p.reason.contains("interrupted write: removed"))
                .count(),
            3
        );
        assert!(problems.iter().any(|p| p.reason.contains("no image names")));
        assert_eq!(
            files(&images),
            [format!("{}.tar", m.sha256), "img.json".to_owned()]
        );
        assert_eq!(files(&specs), ["S1.json"]);
        assert_eq!(repo.image("img").unwrap().sha256, m.sha256);
        assert!(repo.image("img2").is_none());
        assert_eq!(repo.spec("S1").unwrap().service_name, "S1");
        // Nothing left to report the next time.
        drop(repo);
        let (_, problems) = Repo::open(dir.path(), root(), key()).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn a_corrupt_entry_is_reported_and_never_served() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = Repo::open(dir.path(), root(), key()).unwrap();
        let m = repo
            .put_image("img", None, &mut &archive(30_000, 6)[..])
            .unwrap();
        repo.put_image("good", None, &mut &archive(20_000, 7)[..])
            .unwrap();
        repo.put_spec(PAPER_S1.as_bytes()).unwrap();
        drop(repo);
        // A flipped byte in the archive, a truncated spec.
        let blob = dir.path().join("images").join(format!("{}.tar", m.sha256));
        let mut bytes = std::fs::read(&blob).unwrap();
        bytes[12_345] ^= 0xff;
        std::fs::write(&blob, bytes).unwrap();
        std::fs::write(dir.path().join("specs/S1.json"), "{\"par\": {").unwrap();

        let (repo, problems) = Repo::open(dir.path(), root(), key()).unwrap();
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(problems
            .iter()
            .any(|p| p.reason.starts_with("corrupt image \"img\"")));
        assert!(problems
            .iter()
            .any(|p| p.reason.starts_with("corrupt spec")));
        assert!(repo.image("img").is_none());
        assert!(repo.spec("S1").is_none());
        assert!(repo.image("good").is_some());
        // Never served: asked for, they get the "no such" answer.
        let nack = picasso_tlv::data::content_type::NACK;
        let i = Interest::new(picasso_agent::image_repo::manifest_name(&root(), "img"));
        assert_eq!(repo.answer(&i).unwrap().content_type(), Some(nack));
        let i = Interest::new(repo.spec_prefix().append_str("S1"));
        assert_eq!(repo.answer(&i).unwrap().content_type(), Some(nack));
    }

    #[tokio::test]
    async fn serves_specs_and_images_to_a_node_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let signer = key();
        let (repo, _) = Repo::open(dir.path().join("repo"), root(), signer.clone()).unwrap();
        let repo = Arc::new(repo);
        let (h, _) = runtime::spawn(Default::default());
        let producer = Client::from_app_face(in_process::connect(&h).await.unwrap());
        let consumer = Client::from_app_face(in_process::connect(&h).await.unwrap());
        repo.serve(&producer).await.unwrap();

        // Uploaded after serve() started: served without registering again.
        repo.put_spec(PAPER_S1.as_bytes()).unwrap();
        let big_env = "x".repeat(20_000);
        let big = format!(
            r#"{{"par":{{"serviceName":"big","imageName":"img","imageSize":1,"maxUsers":1,
            "startUpTime":1,"env":{{"PAYLOAD":"{big_env}"}}}},
            "QoS":{{"responseTime":1,"availability":90,"numUsers":1}}}}"#
        );
        repo.put_spec(big.as_bytes()).unwrap();
        let bytes = archive(300_000, 8);
        let m = repo
            .put_image("armhfbuild/nginx", Some("picasso/nginx:1"), &mut &bytes[..])
            .unwrap();

        // A small spec: one signed Data at its exact name.
        let name = repo.spec_prefix().append_str("S1");
        let d = consumer.express(Interest::new(name.clone())).await.unwrap();
        assert_eq!(d.name(), &name);
        assert_eq!(&d.content()[..], PAPER_S1.as_bytes());
        assert!(d.verify(&signer.verifier()).is_ok());
        let got = fetch_segmented(&consumer, &name, Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!(&got[..], PAPER_S1.as_bytes());
        // A large spec: segments, joined.
        let got = fetch_segmented(
            &consumer,
            &repo.spec_prefix().append_str("big"),
            Duration::from_secs(2),
        )
        .await
        .unwrap();
        assert_eq!(&got[..], big.as_bytes());
        assert!(got.len() > 2 * SEGMENT_SIZE);
        // An unknown spec: a signed application-level Nack, at once.
        let missing = consumer
            .express(Interest::new(repo.spec_prefix().append_str("nope")).with_lifetime_ms(2000))
            .await
            .unwrap();
        assert_eq!(
            missing.content_type(),
            Some(picasso_tlv::data::content_type::NACK)
        );
        assert!(missing.verify(&signer.verifier()).is_ok());
        let body: serde_json::Value = serde_json::from_slice(&missing.content()).unwrap();
        assert_eq!(
            body["error"],
            "no spec for service \"nope\" in the repository"
        );

        // The node's fetcher, unchanged, fetches and verifies the image.
        let fetcher = ImageFetcher::new(
            consumer.clone(),
            root(),
            signer.verifier(),
            dir.path().join("node"),
            ImageFetchOptions {
                lifetime: Duration::from_millis(500),
                ..ImageFetchOptions::default()
            },
        );
        // An image the repo does not have: refused by the repo's answer
        // (a timeout would be ImageFetchError::Manifest), not after the
        // manifest Interests' timeouts.
        let err = fetcher.fetch("no/such").await.unwrap_err();
        assert!(
            matches!(&err, ImageFetchError::NoSuchImage { image, reason }
                if image == "no/such" && reason.contains("no image \"no/such\"")),
            "{err}"
        );
        let fetched = fetcher.fetch("armhfbuild/nginx").await.unwrap();
        assert_eq!(std::fs::read(&fetched.path).unwrap(), bytes);
        assert_eq!(fetched.manifest, m);
        assert_eq!(fetched.manifest.tag.as_deref(), Some("picasso/nginx:1"));
        // Republished: a node's manifest (or the one a content store still
        // holds fresh) names a version that is gone. The repo says so at
        // once, naming the current version, and the fetcher follows it.
        let old = repo
            .put_image("other/app", None, &mut &archive(100_000, 3)[..])
            .unwrap();
        let bytes2 = archive(200_000, 9);
        let m2 = repo
            .put_image("other/app", Some("picasso/app:2"), &mut &bytes2[..])
            .unwrap();
        assert!(m2.version > old.version);
        let e = fetcher.fetch_archive(&old).await.unwrap_err();
        assert!(
            matches!(e, ImageFetchError::VersionGone { version, current: Some(c), .. }
                if version == old.version && c == m2.version),
            "{e}"
        );
        let fetched = fetcher.fetch_current(&old).await.unwrap();
        assert_eq!(fetched.manifest, m2);
        assert_eq!(std::fs::read(&fetched.path).unwrap(), bytes2);
        // A fetcher trusting another key refuses the manifest.
        let other = ImageFetcher::new(
            consumer,
            root(),
            key().verifier(),
            dir.path().join("node2"),
            ImageFetchOptions::default(),
        );
        assert!(other.fetch("armhfbuild/nginx").await.is_err());
        h.shutdown();
    }
}
