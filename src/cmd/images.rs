//! `picasso images …`: build the paper's service images with no registry.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use picasso_agent::images::{self, HostFiles, ServiceImage};
use picasso_agent::runtime::docker::DockerRuntime;
use picasso_agent::runtime::Runtime;

/// Subcommands of `picasso images`.
#[derive(Subcommand, Debug)]
pub enum ImagesCommand {
    /// Build the FROM-scratch images of the paper's services (busybox httpd,
    /// nginx, picasso-httpd) with the Docker engine and write them as
    /// `docker save` archives `<out>/<name>.tar`; up-to-date archives are
    /// kept.
    Build {
        /// Where the archives go.
        #[arg(long, default_value = "target/images")]
        out: PathBuf,
        /// Only these images (busybox-httpd, nginx, tinyhttpd); all by default.
        #[arg(long = "only", value_name = "NAME")]
        only: Vec<String>,
        /// A static picasso-httpd to use instead of building one with cargo.
        #[arg(long, value_name = "PATH")]
        httpd_bin: Option<PathBuf>,
        /// Rebuild even when an archive is up to date.
        #[arg(long)]
        force: bool,
    },
}

/// Runs a `picasso images` subcommand.
pub fn run(cmd: ImagesCommand) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cmd {
        ImagesCommand::Build {
            out,
            only,
            httpd_bin,
            force,
        } => rt.block_on(build(&out, &only, httpd_bin, force)),
    }
}

async fn build(
    out: &Path,
    only: &[String],
    httpd_bin: Option<PathBuf>,
    force: bool,
) -> anyhow::Result<()> {
    let selected: Vec<ServiceImage> = if only.is_empty() {
        ServiceImage::ALL.to_vec()
    } else {
        only.iter()
            .map(|n| {
                ServiceImage::from_name(n).with_context(|| {
                    format!("unknown image {n:?} (busybox-httpd, nginx or tinyhttpd)")
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    let httpd = match httpd_bin {
        Some(path) => path,
        None if selected.contains(&ServiceImage::TinyHttpd) => {
            // The source tree this binary was built from.
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
            images::build_static_httpd(workspace, &workspace.join("target/static"))?
        }
        None => PathBuf::from("picasso-httpd"),
    };
    let host = HostFiles::debian(httpd);
    let missing: Vec<String> = selected
        .iter()
        .flat_map(|i| host.missing(*i))
        .map(|e| e.to_string())
        .collect();
    if !missing.is_empty() {
        anyhow::bail!("cannot build the images:\n  {}", missing.join("\n  "));
    }
    let docker = DockerRuntime::connect_default().await?;
    let version = docker.version().await?;
    println!(
        "docker {} (engine API {}, talking {})",
        version.version, version.engine_api, version.negotiated_api
    );
    for image in selected {
        let built = images::build(&docker, image, &host, out, force).await?;
        println!(
            "{:<24} {:>10} bytes  {}  {} in {:.1} s",
            image.tag(),
            built.size,
            built.archive.display(),
            if built.rebuilt { "built" } else { "up to date" },
            built.elapsed.as_secs_f64()
        );
    }
    Ok(())
}
