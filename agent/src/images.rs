//! The paper's service images, built here with no registry.
//!
//! Owns the paper's page ([`page_html`], a ~300-byte HTML page linking
//! `/image.jpg`, and [`page_jpeg`], a deterministic ~80 kB JPEG), the
//! `FROM scratch` build contexts of the three services ([`ServiceImage`]),
//! their build through the Docker engine's build API (bollard, classic
//! builder, an in-memory tar context) and their export as `docker save`
//! archives ready for the service repo. It does not load or run images
//! (see [`crate::runtime`]).
//!
//! | image | serves with | from the host |
//! |---|---|---|
//! | `picasso/busybox-httpd:1` | `busybox httpd -f -p 80 -h /www` | `/bin/busybox` (Debian's busybox-static) |
//! | `picasso/nginx:1` | nginx, minimal config, `daemon off` | `/usr/sbin/nginx` (Debian's nginx-light) and the libraries `ldd` lists |
//! | `picasso/tinyhttpd:1` | our `picasso-httpd`, static | built by [`build_static_httpd`] |
//!
//! All listen on port 80 and serve `/index.html` and `/image.jpg`.
//!
//! Up to date: the context tar is deterministic (sorted, mtime 0), its
//! sha256 is kept beside the archive (`<name>.tar.sha256`) and as an image
//! label; an archive whose recorded hash matches is not rebuilt.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bollard::query_parameters::BuildImageOptionsBuilder;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::runtime::docker::DockerRuntime;

/// Label on built images carrying their context's sha256.
pub const CONTEXT_LABEL: &str = "picasso.context-sha256";

/// Width of the page's picture, pixels.
pub const JPEG_WIDTH: u32 = 640;
/// Height of the page's picture, pixels.
pub const JPEG_HEIGHT: u32 = 480;
/// JPEG quality that puts the picture near 80 kB (82 087 bytes, 80.2 KiB).
const JPEG_QUALITY: u8 = 82;

/// What went wrong building an image; messages name the image, file or
/// package.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A host file an image needs is missing.
    #[error("{path} is missing (install Debian's {package}, e.g. scripts/deps.sh)")]
    Missing {
        /// The file looked for.
        path: PathBuf,
        /// The Debian package that provides it.
        package: &'static str,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `ldd` could not list a binary's libraries.
    #[error("ldd {binary}: {reason}")]
    Ldd {
        /// The binary.
        binary: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// `cargo build` of the static `picasso-httpd` failed.
    #[error("building the static picasso-httpd: {0}")]
    Cargo(String),
    /// Encoding the page's JPEG failed.
    #[error("encoding the page's jpeg: {0}")]
    Jpeg(String),
    /// The engine failed to build the image.
    #[error("docker build {tag}: {reason}")]
    Build {
        /// The image tag.
        tag: String,
        /// What the engine said.
        reason: String,
    },
    /// The engine failed to export the image.
    #[error("docker save {tag}: {reason}")]
    Export {
        /// The image tag.
        tag: String,
        /// What the engine said.
        reason: String,
    },
}

/// One of the paper's services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceImage {
    /// busybox httpd, the paper's `rpi-busybox-httpd`.
    BusyboxHttpd,
    /// nginx, the paper's `armhfbuild/nginx`.
    Nginx,
    /// Our own tiny static server.
    TinyHttpd,
}

impl ServiceImage {
    /// All three, in build order.
    pub const ALL: [ServiceImage; 3] = [
        ServiceImage::BusyboxHttpd,
        ServiceImage::Nginx,
        ServiceImage::TinyHttpd,
    ];

    /// Short name, also the archive's file stem: `busybox-httpd`, `nginx`,
    /// `tinyhttpd`.
    pub fn name(self) -> &'static str {
        match self {
            ServiceImage::BusyboxHttpd => "busybox-httpd",
            ServiceImage::Nginx => "nginx",
            ServiceImage::TinyHttpd => "tinyhttpd",
        }
    }

    /// The image tag, e.g. `picasso/nginx:1`.
    pub fn tag(self) -> &'static str {
        match self {
            ServiceImage::BusyboxHttpd => "picasso/busybox-httpd:1",
            ServiceImage::Nginx => "picasso/nginx:1",
            ServiceImage::TinyHttpd => "picasso/tinyhttpd:1",
        }
    }

    /// The archive path under `out`: `<out>/<name>.tar`.
    pub fn archive(self, out: &Path) -> PathBuf {
        out.join(format!("{}.tar", self.name()))
    }

    /// Parses a short name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.name() == name)
    }
}

/// The paper's page: ~300 bytes of HTML linking `/image.jpg`.
pub fn page_html() -> &'static str {
    concat!(
        "<!DOCTYPE html>\n",
        "<html>\n",
        "<head><meta charset=\"utf-8\"><title>PiCasso test page</title></head>\n",
        "<body>\n",
        "<h1>PiCasso</h1>\n",
        "<p>A lightweight edge computing platform: this page and its picture are the service the paper measures.</p>\n",
        "<img src=\"/image.jpg\" alt=\"test picture\" width=\"640\" height=\"480\">\n",
        "</body>\n",
        "</html>\n",
    )
}

/// The page's picture: a deterministic 640×480 JPEG of about 80 kB
/// (gradients under seeded noise).
pub fn page_jpeg() -> Result<Vec<u8>, ImageError> {
    // xorshift32: deterministic noise without a dependency.
    let mut seed: u32 = 0x2545_f491;
    let mut noise = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        (seed & 0x1f) as i32 - 16
    };
    let mut pixels = Vec::with_capacity((JPEG_WIDTH * JPEG_HEIGHT * 3) as usize);
    for y in 0..JPEG_HEIGHT {
        for x in 0..JPEG_WIDTH {
            let r = (x * 255 / JPEG_WIDTH) as i32;
            let g = (y * 255 / JPEG_HEIGHT) as i32;
            let b = (((x / 40) + (y / 40)) % 2 * 120 + 60) as i32;
            for c in [r, g, b] {
                pixels.push((c + noise()).clamp(0, 255) as u8);
            }
        }
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .encode(
            &pixels,
            JPEG_WIDTH,
            JPEG_HEIGHT,
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| ImageError::Jpeg(e.to_string()))?;
    Ok(out)
}

/// Where the host programs the images copy come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFiles {
    /// A static busybox (Debian's busybox-static).
    pub busybox: PathBuf,
    /// nginx (Debian's nginx-light or nginx).
    pub nginx: PathBuf,
    /// The static `picasso-httpd` (see [`build_static_httpd`]).
    pub httpd: PathBuf,
}

impl HostFiles {
    /// Debian's paths for busybox and nginx, and the given `picasso-httpd`.
    pub fn debian(httpd: PathBuf) -> Self {
        HostFiles {
            busybox: PathBuf::from("/bin/busybox"),
            nginx: PathBuf::from("/usr/sbin/nginx"),
            httpd,
        }
    }

    /// The files `image` needs that are missing, with the package to install.
    pub fn missing(&self, image: ServiceImage) -> Vec<ImageError> {
        let (path, package) = match image {
            ServiceImage::BusyboxHttpd => (&self.busybox, "busybox-static"),
            ServiceImage::Nginx => (&self.nginx, "nginx-light"),
            ServiceImage::TinyHttpd => (&self.httpd, "(none: cargo build of picasso-httpd)"),
        };
        if path.is_file() {
            Vec::new()
        } else {
            vec![ImageError::Missing {
                path: path.clone(),
                package,
            }]
        }
    }
}

/// Builds `picasso-httpd` as a static binary: `cargo build --release -p
/// picasso-httpd` for `<arch>-unknown-linux-gnu` with `+crt-static`, into
/// `target_dir` (kept apart so the flag does not rebuild the workspace).
/// Returns the binary's path. `workspace` is the source tree's root.
pub fn build_static_httpd(workspace: &Path, target_dir: &Path) -> Result<PathBuf, ImageError> {
    let triple = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(workspace)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "picasso-httpd",
            "--target",
        ])
        .arg(&triple)
        .arg("--target-dir")
        .arg(target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "0")
        .env("CARGO_PROFILE_RELEASE_STRIP", "symbols")
        .output()
        .map_err(|e| ImageError::Cargo(format!("cannot run cargo: {e}")))?;
    if !output.status.success() {
        return Err(ImageError::Cargo(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    Ok(target_dir
        .join(triple)
        .join("release")
        .join("picasso-httpd"))
}

/// Lists the shared libraries (and loader) `binary` needs, by `ldd`.
fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let ldd = |reason: String| ImageError::Ldd {
        binary: binary.to_owned(),
        reason,
    };
    let output = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| ldd(format!("cannot run ldd: {e}")))?;
    if !output.status.success() {
        return Err(ldd(String::from_utf8_lossy(&output.stderr)
            .trim()
            .to_owned()));
    }
    // Lines: "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x…)",
    // "/lib64/ld-linux-x86-64.so.2 (0x…)", "linux-vdso.so.1 (0x…)".
    let mut libs: Vec<PathBuf> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let path = line.split("=>").last()?.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect();
    libs.sort();
    libs.dedup();
    Ok(libs)
}

/// A deterministic tar under construction: entries sorted by path,
/// mtime 0, root-owned.
#[derive(Default)]
struct Context {
    /// Path in the context → (mode, contents); directories have `None`.
    entries: BTreeMap<String, (u32, Option<Vec<u8>>)>,
}

impl Context {
    fn file(&mut self, path: &str, mode: u32, data: Vec<u8>) {
        let mut parent = Path::new(path).parent();
        while let Some(dir) = parent.filter(|d| !d.as_os_str().is_empty()) {
            self.dir(&dir.to_string_lossy());
            parent = dir.parent();
        }
        self.entries.insert(path.to_owned(), (mode, Some(data)));
    }

    fn dir(&mut self, path: &str) {
        self.entries
            .entry(path.trim_end_matches('/').to_owned())
            .or_insert((0o755, None));
    }

    fn host_file(&mut self, path: &str, mode: u32, from: &Path) -> Result<(), ImageError> {
        let data = std::fs::read(from).map_err(|source| ImageError::Io {
            path: from.to_owned(),
            source,
        })?;
        self.file(path, mode, data);
        Ok(())
    }

    fn into_tar(self) -> Result<Vec<u8>, ImageError> {
        let io = |source| ImageError::Io {
            path: PathBuf::from("<build context>"),
            source,
        };
        let mut tar = tar::Builder::new(Vec::new());
        for (path, (mode, data)) in self.entries {
            let mut header = tar::Header::new_gnu();
            header.set_mode(mode);
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            match data {
                Some(data) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(data.len() as u64);
                    tar.append_data(&mut header, &path, data.as_slice())
                        .map_err(io)?;
                }
                None => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    tar.append_data(&mut header, format!("{path}/"), std::io::empty())
                        .map_err(io)?;
                }
            }
        }
        tar.into_inner().map_err(io)
    }
}

/// nginx's configuration in the image: one server on port 80, root `/www`.
const NGINX_CONF: &str = "\
user nobody nogroup;
worker_processes 1;
daemon off;
error_log stderr warn;
pid /run/nginx.pid;
events { worker_connections 512; }
http {
    access_log off;
    types { text/html html; image/jpeg jpg jpeg; }
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 30;
    server {
        listen 80;
        root /www;
        index index.html;
        add_header Cache-Control \"public, max-age=60\";
    }
}
";

/// The build context (a tar with a `Dockerfile` and `rootfs/`) of `image`.
pub fn build_context(image: ServiceImage, host: &HostFiles) -> Result<Vec<u8>, ImageError> {
    if let Some(missing) = host.missing(image).into_iter().next() {
        return Err(missing);
    }
    let mut ctx = Context::default();
    ctx.file(
        "rootfs/www/index.html",
        0o644,
        page_html().as_bytes().to_vec(),
    );
    ctx.file("rootfs/www/image.jpg", 0o644, page_jpeg()?);
    // busybox httpd and picasso-httpd run as PID 1 with no SIGTERM handler,
    // so the kernel ignores SIGTERM and `docker stop` would wait out its
    // timeout: they hold no state, so they stop with SIGKILL. nginx handles
    // SIGTERM (fast shutdown).
    let mut stop_signal = "SIGKILL";
    let entrypoint = match image {
        ServiceImage::BusyboxHttpd => {
            ctx.host_file("rootfs/bin/busybox", 0o755, &host.busybox)?;
            r#"["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"]"#
        }
        ServiceImage::Nginx => {
            stop_signal = "SIGTERM";
            ctx.host_file("rootfs/usr/sbin/nginx", 0o755, &host.nginx)?;
            for lib in shared_libraries(&host.nginx)? {
                let inside = format!("rootfs{}", lib.display());
                ctx.host_file(&inside, 0o755, &lib)?;
            }
            ctx.file("rootfs/etc/nginx/nginx.conf", 0o644, NGINX_CONF.into());
            ctx.file(
                "rootfs/etc/passwd",
                0o644,
                b"root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n".to_vec(),
            );
            ctx.file(
                "rootfs/etc/group",
                0o644,
                b"root:x:0:\nnogroup:x:65534:\n".to_vec(),
            );
            ctx.file(
                "rootfs/etc/nsswitch.conf",
                0o644,
                b"passwd: files\ngroup: files\n".to_vec(),
            );
            for dir in [
                "rootfs/var/log/nginx",
                "rootfs/var/lib/nginx",
                "rootfs/run",
                "rootfs/tmp",
            ] {
                ctx.dir(dir);
            }
            r#"["/usr/sbin/nginx", "-c", "/etc/nginx/nginx.conf"]"#
        }
        ServiceImage::TinyHttpd => {
            ctx.host_file("rootfs/picasso-httpd", 0o755, &host.httpd)?;
            r#"["/picasso-httpd", "--port", "80", "--root", "/www"]"#
        }
    };
    let dockerfile = format!("FROM scratch\nCOPY rootfs/ /\nEXPOSE 80\nSTOPSIGNAL {stop_signal}\nENTRYPOINT {entrypoint}\n");
    ctx.file("Dockerfile", 0o644, dockerfile.into_bytes());
    ctx.into_tar()
}

/// What [`build`] did for one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// Which image.
    pub image: ServiceImage,
    /// The `docker save` archive.
    pub archive: PathBuf,
    /// The archive's size in bytes.
    pub size: u64,
    /// The context's sha256, hex.
    pub context_sha256: String,
    /// False when the archive was up to date and nothing was built.
    pub rebuilt: bool,
    /// Time spent (build and save, or the up-to-date check).
    pub elapsed: Duration,
}

/// Builds `image` with the engine behind `docker` and writes
/// `<out>/<name>.tar` (`docker save` format), unless an archive of the same
/// context is already there (`force` rebuilds anyway, without the
/// engine's build cache).
pub async fn build(
    docker: &DockerRuntime,
    image: ServiceImage,
    host: &HostFiles,
    out: &Path,
    force: bool,
) -> Result<BuiltImage, ImageError> {
    let started = Instant::now();
    let context = build_context(image, host)?;
    let sha = hex::encode(Sha256::digest(&context));
    let archive = image.archive(out);
    let stamp = out.join(format!("{}.tar.sha256", image.name()));
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ImageError::Io { path, source }
    };
    let recorded = std::fs::read_to_string(&stamp).unwrap_or_default();
    if !force && recorded.trim() == sha {
        if let Ok(meta) = std::fs::metadata(&archive) {
            return Ok(BuiltImage {
                image,
                archive,
                size: meta.len(),
                context_sha256: sha,
                rebuilt: false,
                elapsed: started.elapsed(),
            });
        }
    }
    let tag = image.tag();
    let build_err = |reason: String| ImageError::Build {
        tag: tag.to_owned(),
        reason,
    };
    let options = BuildImageOptionsBuilder::default()
        .t(tag)
        .rm(true)
        .forcerm(true)
        .nocache(force)
        .labels(&HashMap::from([(CONTEXT_LABEL, sha.as_str())]))
        .build();
    let mut progress = docker.client().build_image(
        options,
        None,
        Some(bollard::body_full(bytes::Bytes::from(context))),
    );
    while let Some(item) = progress.next().await {
        let info = item.map_err(|e| build_err(e.to_string()))?;
        if let Some(detail) = info.error_detail {
            return Err(build_err(detail.message.unwrap_or_default()));
        }
        if let Some(line) = info.stream {
            tracing::debug!(image = tag, "{}", line.trim_end());
        }
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    // Write beside the archive, then rename: a reader never sees half a file.
    let partial = out.join(format!(
        ".{}.tar.partial-{}",
        image.name(),
        std::process::id()
    ));
    {
        let mut file = std::fs::File::create(&partial).map_err(io(&partial))?;
        let mut chunks = docker.client().export_image(tag);
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| ImageError::Export {
                tag: tag.to_owned(),
                reason: e.to_string(),
            })?;
            file.write_all(&chunk).map_err(io(&partial))?;
        }
        file.sync_all().map_err(io(&partial))?;
    }
    std::fs::rename(&partial, &archive).map_err(io(&archive))?;
    std::fs::write(&stamp, format!("{sha}\n")).map_err(io(&stamp))?;
    let size = std::fs::metadata(&archive).map_err(io(&archive))?.len();
    Ok(BuiltImage {
        image,
        archive,
        size,
        context_sha256: sha,
        rebuilt: true,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_is_about_300_bytes_and_links_the_picture() {
        let html = page_html();
        assert!((250..=350).contains(&html.len()), "{} bytes", html.len());
        assert!(html.contains("src=\"/image.jpg\""));
    }

    #[test]
    fn picture_is_a_deterministic_80_kb_jpeg() {
        let jpeg = page_jpeg().unwrap();
        assert!(
            (75_000..=85_000).contains(&jpeg.len()),
            "{} bytes",
            jpeg.len()
        );
        assert_eq!(jpeg, page_jpeg().unwrap());
        let decoded = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).unwrap();
        assert_eq!(
            (decoded.width(), decoded.height()),
            (JPEG_WIDTH, JPEG_HEIGHT)
        );
    }

    #[test]
    fn contexts_are_deterministic_and_hold_dockerfile_and_page() {
        let dir = std::env::temp_dir().join(format!("picasso-ctx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let httpd = dir.join("picasso-httpd");
        std::fs::write(&httpd, b"\x7fELF fake").unwrap();
        let host = HostFiles::debian(httpd);
        let a = build_context(ServiceImage::TinyHttpd, &host).unwrap();
        let b = build_context(ServiceImage::TinyHttpd, &host).unwrap();
        assert_eq!(a, b);
        let mut names = Vec::new();
        let mut tar = tar::Archive::new(a.as_slice());
        for entry in tar.entries().unwrap() {
            names.push(entry.unwrap().path().unwrap().display().to_string());
        }
        for want in [
            "Dockerfile",
            "rootfs/www/index.html",
            "rootfs/www/image.jpg",
            "rootfs/picasso-httpd",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_host_program_names_its_package() {
        let host = HostFiles {
            busybox: PathBuf::from("/nonexistent/busybox"),
            nginx: PathBuf::from("/nonexistent/nginx"),
            httpd: PathBuf::from("/nonexistent/picasso-httpd"),
        };
        let err = build_context(ServiceImage::BusyboxHttpd, &host).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/nonexistent/busybox is missing (install Debian's busybox-static, e.g. scripts/deps.sh)"
        );
        let err = build_context(ServiceImage::Nginx, &host).unwrap_err();
        assert!(err.to_string().contains("nginx-light"), "{err}");
    }

    #[test]
    fn ldd_lists_absolute_library_paths() {
        let libs = shared_libraries(Path::new("/bin/sh")).unwrap();
        assert!(
            libs.iter().any(|l| l.to_string_lossy().contains("libc.so")),
            "{libs:?}"
        );
        assert!(libs.iter().all(|l| l.is_absolute()));
    }
}
