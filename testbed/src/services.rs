//! The sample services the test bed runs, as the orchestrator's repo
//! wants them: a spec (the paper's `par`/`QoS` JSON) and an image archive.
//!
//! With Docker the images are the project's own (`picasso images build`:
//! busybox httpd, nginx, our tiny httpd — no registry needed). Without
//! Docker the nodes run services as local processes; their "image" is then
//! a `docker save`-shaped archive holding the static server binary, so the
//! orchestrator still ships it by name and the node's deploy path (fetch,
//! verify, load, create, start) is the same.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::cluster::RuntimeKind;

/// One sample service ready for the repo.
#[derive(Debug, Clone)]
pub struct SampleService {
    /// Service name (`/picasso/svc/<name>`).
    pub name: String,
    /// The image's repo name.
    pub image: String,
    /// The archive to upload.
    pub archive: PathBuf,
    /// The spec JSON.
    pub spec: Value,
    /// The path requests ask for.
    pub path: String,
}

/// Where built images are cached between runs.
pub fn image_cache() -> PathBuf {
    std::env::var_os("PICASSO_IMAGE_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/picasso/images"))
        })
        .unwrap_or_else(|| PathBuf::from("/tmp/picasso-images"))
}

/// The paper's spec for a web service on the test bed.
fn spec(
    name: &str,
    image: &str,
    size_mb: u64,
    max_users: u32,
    command: Option<Vec<String>>,
    min_replicas: u32,
) -> Value {
    let mut par = json!({
        "serviceName": name,
        "imageName": image,
        "imageSize": size_mb.max(1).to_string(),
        "maxUsers": max_users.to_string(),
        "startUpTime": "2",
        "port_container": "80",
        "healthPath": "/index.html",
        "replicas": { "min": min_replicas, "max": 8 },
    });
    if let Some(c) = command {
        par["command"] = json!(c);
        if let Some(m) = par.as_object_mut() {
            m.remove("port_container");
        }
    }
    json!({
        "par": par,
        // The loaded service must serve 100 users; the others only a few,
        // so a QoS-driven policy keeps them small.
        "QoS": { "responseTime": "0.5", "availability": "99",
                 "numUsers": if min_replicas > 0 { "100" } else { "1" } },
    })
}

/// Builds (or finds, up to date) the sample images and their specs:
/// `S1` busybox httpd and `S2` nginx with Docker; `S1` our static httpd as
/// a process otherwise.
pub fn prepare(
    runtime: RuntimeKind,
    bin: &Path,
    work: &Path,
) -> anyhow::Result<Vec<SampleService>> {
    match runtime {
        RuntimeKind::Docker => {
            let cache = image_cache();
            std::fs::create_dir_all(&cache)?;
            let status = Command::new(bin)
                .args(["images", "build", "--out"])
                .arg(&cache)
                .args([
                    "--only",
                    "busybox-httpd",
                    "--only",
                    "nginx",
                    "--only",
                    "tinyhttpd",
                ])
                .status()
                .context("cannot run picasso images build")?;
            if !status.success() {
                bail!("picasso images build failed (see above): the sample images are needed");
            }
            let mut out = Vec::new();
            for (svc, image, max_users) in [
                ("S1", "busybox-httpd", 50),
                ("S2", "nginx", 100),
                ("S3", "tinyhttpd", 50),
            ] {
                let archive = cache.join(format!("{image}.tar"));
                let size = std::fs::metadata(&archive)?.len() / 1_000_000;
                out.push(SampleService {
                    name: svc.into(),
                    image: image.into(),
                    archive,
                    spec: spec(svc, image, size, max_users, None, u32::from(svc == "S1")),
                    path: "/index.html".into(),
                });
            }
            Ok(out)
        }
        RuntimeKind::Process => {
            let www = work.join("www");
            std::fs::create_dir_all(&www)?;
            std::fs::write(www.join("index.html"), picasso_agent::images::page_html())?;
            let (command, binary) = process_server(bin, &www)?;
            let archive = work.join("httpd-process.tar");
            process_archive(&archive, binary.as_deref(), "picasso/httpd-process:1")?;
            let size = std::fs::metadata(&archive)?.len() / 1_000_000;
            Ok(vec![SampleService {
                name: "S1".into(),
                image: "httpd-process".into(),
                archive,
                spec: spec("S1", "httpd-process", size, 50, Some(command), 1),
                path: "/index.html".into(),
            }])
        }
    }
}

/// The static web server a process-runtime node runs, best first: our
/// `picasso-httpd` beside the `picasso` binary, Debian's busybox httpd,
/// Python's http.server. Returns the command (the node sets `PORT` and
/// `HOST`) and the binary that makes up the service's "image".
pub fn process_server(bin: &Path, www: &Path) -> anyhow::Result<(Vec<String>, Option<PathBuf>)> {
    let httpd = bin.with_file_name("picasso-httpd");
    if httpd.exists() {
        let cmd = vec![
            httpd.display().to_string(),
            "--root".into(),
            www.display().to_string(),
        ];
        return Ok((cmd, Some(httpd)));
    }
    let www = www.display().to_string();
    for busybox in ["/bin/busybox", "/usr/bin/busybox"] {
        if Path::new(busybox).exists() {
            let sh = format!("exec {busybox} httpd -f -p \"$HOST:$PORT\" -h '{www}'");
            return Ok((
                vec!["sh".into(), "-c".into(), sh],
                Some(PathBuf::from(busybox)),
            ));
        }
    }
    let python = Command::new("sh")
        .args(["-c", "command -v python3"])
        .output()?;
    let python = String::from_utf8_lossy(&python.stdout).trim().to_owned();
    if !python.is_empty() {
        let sh = format!(
            "exec '{python}' -m http.server \"$PORT\" --bind \"$HOST\" --directory '{www}'"
        );
        return Ok((vec!["sh".into(), "-c".into(), sh], None));
    }
    bail!(
        "no web server for the process runtime: build picasso-httpd (cargo build --release -p picasso-httpd), or install busybox-static or python3"
    )
}

/// Writes a `docker save`-shaped archive (manifest.json naming `tag`, a
/// config, and the server binary as its one layer file, when there is
/// one) for the process runtime.
pub fn process_archive(out: &Path, binary: Option<&Path>, tag: &str) -> anyhow::Result<()> {
    let tmp = out.with_extension("tar.part");
    {
        let file = std::fs::File::create(&tmp)?;
        let mut tar = tar::Builder::new(file);
        let config = json!({ "architecture": std::env::consts::ARCH, "os": "linux" }).to_string();
        let manifest = json!([{ "Config": "config.json", "RepoTags": [tag], "Layers": ["httpd"] }])
            .to_string();
        for (name, body) in [
            ("manifest.json", manifest.as_bytes()),
            ("config.json", config.as_bytes()),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, name, body)?;
        }
        if let Some(binary) = binary {
            tar.append_path_with_name(binary, "httpd")?;
        }
        tar.finish()?;
    }
    std::fs::rename(&tmp, out)?;
    Ok(())
}
