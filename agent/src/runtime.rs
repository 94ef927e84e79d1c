//! The container runtime seam: what the agent asks of whatever runs its
//! service replicas.
//!
//! Owns the [`Runtime`] trait, the types that cross it ([`ContainerSpec`],
//! [`ContainerInfo`], [`ContainerStats`], …), its error type and
//! [`detect`], which picks an implementation for this machine. It does not
//! decide what to run (the agent does) nor fetch images (the repo client
//! does).
//!
//! Three implementations:
//!
//! - [`docker::DockerRuntime`]: Docker through bollard, the default whenever
//!   an engine answers; the API version is negotiated, so engines from
//!   20.10 (API 1.41) to 28 work.
//! - [`process::ProcessRuntime`]: local child processes, the embedded
//!   default when no engine is reachable; a spec then gives a `command`.
//! - [`fake::FakeRuntime`]: in memory, deterministic, with failures
//!   injectable per [`Step`], for the agent's unit tests.

pub mod docker;
pub mod fake;
pub mod process;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Label naming the service a container is a replica of.
pub const LABEL_SERVICE: &str = "picasso.service";
/// Label carrying the replica number within its service.
pub const LABEL_REPLICA: &str = "picasso.replica";
/// Label carrying the id of the node that runs the container.
pub const LABEL_NODE: &str = "picasso.node";
/// Label marking containers this agent manages (value [`MANAGED_BY_VALUE`]).
pub const LABEL_MANAGED_BY: &str = "managed-by";
/// Value of [`LABEL_MANAGED_BY`] on PiCasso's containers.
pub const MANAGED_BY_VALUE: &str = "picasso";

/// A runtime's id for one container (Docker's hex id, or the process
/// runtime's own).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ContainerId(pub String);

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ContainerId {
    fn from(s: &str) -> Self {
        ContainerId(s.to_owned())
    }
}

/// One step of the runtime's API; names what failed in a [`RuntimeError`]
/// and where the fake injects failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// [`Runtime::version`].
    Version,
    /// [`Runtime::has_image`].
    HasImage,
    /// [`Runtime::load_image`].
    LoadImage,
    /// [`Runtime::remove_image`].
    RemoveImage,
    /// [`Runtime::create`].
    Create,
    /// [`Runtime::start`].
    Start,
    /// [`Runtime::stop`].
    Stop,
    /// [`Runtime::remove`].
    Remove,
    /// [`Runtime::list`].
    List,
    /// [`Runtime::stats`].
    Stats,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Version => "version",
            Step::HasImage => "inspect image",
            Step::LoadImage => "load image",
            Step::RemoveImage => "remove image",
            Step::Create => "create container",
            Step::Start => "start container",
            Step::Stop => "stop container",
            Step::Remove => "remove container",
            Step::List => "list containers",
            Step::Stats => "container stats",
        })
    }
}

/// What went wrong in a runtime call; every message names the step and the
/// offending value.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The container engine does not answer at `endpoint`.
    #[error("docker engine unreachable at {endpoint}: {reason}")]
    Unreachable {
        /// Where we looked, e.g. `unix:///var/run/docker.sock`.
        endpoint: String,
        /// What the connection attempt said.
        reason: String,
    },
    /// No container with this id or name.
    #[error("{step}: no such container {id}")]
    NoSuchContainer {
        /// The call that failed.
        step: Step,
        /// The id or name asked for.
        id: String,
    },
    /// No image with this name or id.
    #[error("{step}: no such image {image}")]
    NoSuchImage {
        /// The call that failed.
        step: Step,
        /// The image asked for.
        image: String,
    },
    /// The name is already taken, or the object is in use.
    #[error("{step} {target}: conflict: {reason}")]
    Conflict {
        /// The call that failed.
        step: Step,
        /// The container, image or name involved.
        target: String,
        /// What the runtime said.
        reason: String,
    },
    /// The spec cannot be run by this runtime (e.g. no command for the
    /// process runtime).
    #[error("{step} {target}: invalid spec: {reason}")]
    InvalidSpec {
        /// The call that failed.
        step: Step,
        /// The container name.
        target: String,
        /// What is wrong with the spec.
        reason: String,
    },
    /// Any other failure of a step.
    #[error("{step} {target} failed: {reason}")]
    Failed {
        /// The call that failed.
        step: Step,
        /// The container, image or file involved.
        target: String,
        /// What the runtime said.
        reason: String,
    },
    /// A failure injected into the fake runtime.
    #[error("{step} {target}: injected failure")]
    Injected {
        /// The step the failure was injected at.
        step: Step,
        /// The container, image or file involved.
        target: String,
    },
}

impl RuntimeError {
    /// The step that failed, if the error names one.
    pub fn step(&self) -> Option<Step> {
        match self {
            RuntimeError::Unreachable { .. } => None,
            RuntimeError::NoSuchContainer { step, .. }
            | RuntimeError::NoSuchImage { step, .. }
            | RuntimeError::Conflict { step, .. }
            | RuntimeError::InvalidSpec { step, .. }
            | RuntimeError::Failed { step, .. }
            | RuntimeError::Injected { step, .. } => Some(*step),
        }
    }
}

/// Which implementation answers behind a `dyn Runtime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    /// A Docker engine.
    Docker,
    /// Local child processes.
    Process,
    /// The in-memory fake.
    Fake,
}

impl fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuntimeKind::Docker => "docker",
            RuntimeKind::Process => "process",
            RuntimeKind::Fake => "fake",
        })
    }
}

/// What [`Runtime::version`] reports about the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineVersion {
    /// The implementation.
    pub kind: RuntimeKind,
    /// The engine's version, e.g. `20.10.24+dfsg1` (the crate version for
    /// the process and fake runtimes).
    pub version: String,
    /// The engine's own (highest) API version, e.g. `1.41`; empty when not
    /// Docker.
    pub engine_api: String,
    /// The API version we talk after negotiation, e.g. `1.41`; empty when
    /// not Docker.
    pub negotiated_api: String,
}

/// An image loaded from a `docker save` archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadedImage {
    /// The image id (`sha256:…`) where the runtime knows one.
    pub id: String,
    /// The tags the archive carried, e.g. `picasso/nginx:1`.
    pub tags: Vec<String>,
}

/// Everything needed to create one container (or process).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// Container name, unique on the node.
    pub name: String,
    /// Image name or tag (Docker); informational for the process runtime.
    pub image: String,
    /// Program and arguments: the process runtime runs this; Docker uses it
    /// as the command when not empty (the image's entrypoint otherwise).
    pub command: Vec<String>,
    /// Extra environment, `KEY=value`.
    pub env: Vec<String>,
    /// Host address the port is published on (127.0.0.1 in tests).
    pub host_ip: String,
    /// Port on the host; the process runtime passes it as `PORT`.
    pub port_host: Option<u16>,
    /// Port inside the container (TCP).
    pub port_container: Option<u16>,
    /// CPU limit in cores (Docker `NanoCpus` = cores × 10⁹).
    pub cpu_limit: Option<f64>,
    /// Memory limit in bytes.
    pub memory_limit: Option<u64>,
    /// Labels: see [`managed_labels`].
    pub labels: BTreeMap<String, String>,
    /// Parent cgroup, for Docker's `CgroupParent`.
    pub cgroup_parent: Option<String>,
}

/// The labels PiCasso puts on a replica of `service`.
pub fn managed_labels(service: &str, replica: u32, node: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_SERVICE.to_owned(), service.to_owned()),
        (LABEL_REPLICA.to_owned(), replica.to_string()),
        (LABEL_NODE.to_owned(), node.to_owned()),
        (LABEL_MANAGED_BY.to_owned(), MANAGED_BY_VALUE.to_owned()),
    ])
}

/// A container's lifecycle state, Docker's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    /// Created, never started.
    Created,
    /// Running.
    Running,
    /// Paused.
    Paused,
    /// Restarting.
    Restarting,
    /// Being removed.
    Removing,
    /// Exited (stopped or finished).
    Exited,
    /// Dead (failed removal).
    Dead,
    /// Anything else the engine reports.
    Unknown,
}

impl fmt::Display for ContainerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Restarting => "restarting",
            ContainerState::Removing => "removing",
            ContainerState::Exited => "exited",
            ContainerState::Dead => "dead",
            ContainerState::Unknown => "unknown",
        })
    }
}

/// One container as [`Runtime::list`] reports it (the paper's monitoring
/// keys come from here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// The runtime's id.
    pub id: ContainerId,
    /// The name, without Docker's leading `/`.
    pub name: String,
    /// The image it runs.
    pub image: String,
    /// Human status, like Docker's: `Up 3 hours`, `Exited (1) 5 seconds ago`.
    pub status: String,
    /// Lifecycle state.
    pub state: ContainerState,
    /// Published host port, if any.
    pub port_host: Option<u16>,
    /// Container port, if any.
    pub port_container: Option<u16>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Creation time, Unix seconds.
    pub created: i64,
}

/// Resource use of one container at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ContainerStats {
    /// Memory in use, bytes (Docker: usage less inactive file cache).
    pub memory_bytes: u64,
    /// Cumulative CPU time, nanoseconds (the paper's `cpuUsage`).
    pub cpu_total_ns: u64,
    /// CPU use since the previous `stats` call for this container, in
    /// percent of one core (Docker's formula); `None` on the first call.
    pub cpu_percent: Option<f64>,
}

/// Docker's CPU percentage from two samples: container CPU delta over
/// system CPU delta, × online CPUs × 100. `None` when the system delta is 0.
pub fn cpu_percent(
    prev_container_ns: u64,
    container_ns: u64,
    prev_system_ns: u64,
    system_ns: u64,
    online_cpus: u32,
) -> Option<f64> {
    let system_delta = system_ns.checked_sub(prev_system_ns)?;
    if system_delta == 0 {
        return None;
    }
    let cpu_delta = container_ns.saturating_sub(prev_container_ns);
    Some(cpu_delta as f64 / system_delta as f64 * f64::from(online_cpus.max(1)) * 100.0)
}

/// A duration the way Docker prints it in a status (`units.HumanDuration`):
/// `Less than a second`, `5 seconds`, `About a minute`, `3 hours`, …
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let hours = secs / 3600;
    if secs < 1 {
        "Less than a second".to_owned()
    } else if secs == 1 {
        "1 second".to_owned()
    } else if secs < 60 {
        format!("{secs} seconds")
    } else if secs / 60 == 1 {
        "About a minute".to_owned()
    } else if secs / 60 < 60 {
        format!("{} minutes", secs / 60)
    } else if hours == 1 {
        "About an hour".to_owned()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", hours / 24 / 365)
    }
}

/// The container runtime seam; usable as `Arc<dyn Runtime>`.
#[async_trait]
pub trait Runtime: Send + Sync + fmt::Debug {
    /// Which implementation this is.
    fn kind(&self) -> RuntimeKind;

    /// The node is stopping: replicas that cannot outlive it (local
    /// processes) are stopped; an engine's containers stay, to be adopted
    /// by the next start. Default: nothing.
    fn node_stopping(&self) {}

    /// Pings the engine and reports its version (and the negotiated API).
    async fn version(&self) -> Result<EngineVersion, RuntimeError>;

    /// Whether the image (name, tag or id) is present.
    async fn has_image(&self, image: &str) -> Result<bool, RuntimeError>;

    /// Loads a `docker save` archive, streaming it from `archive`.
    async fn load_image(&self, archive: &Path) -> Result<LoadedImage, RuntimeError>;

    /// Removes an image (name, tag or id).
    async fn remove_image(&self, image: &str) -> Result<(), RuntimeError>;

    /// Creates a container from `spec`, not started.
    async fn create(&self, spec: &ContainerSpec) -> Result<ContainerId, RuntimeError>;

    /// Starts a created (or stopped) container.
    async fn start(&self, id: &ContainerId) -> Result<(), RuntimeError>;

    /// Stops a container: SIGTERM, then SIGKILL after `timeout`. Stopping a
    /// stopped container is not an error.
    async fn stop(&self, id: &ContainerId, timeout: Duration) -> Result<(), RuntimeError>;

    /// Removes a container; `force` kills it first if it runs.
    async fn remove(&self, id: &ContainerId, force: bool) -> Result<(), RuntimeError>;

    /// Lists containers (running or not) carrying all the given labels.
    async fn list(
        &self,
        labels: &BTreeMap<String, String>,
    ) -> Result<Vec<ContainerInfo>, RuntimeError>;

    /// Current resource use of a running container.
    async fn stats(&self, id: &ContainerId) -> Result<ContainerStats, RuntimeError>;
}

/// How long [`detect`] waits for a Docker engine to answer.
pub const DETECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Picks the runtime for this machine: Docker if an engine answers within
/// [`DETECT_TIMEOUT`] at `DOCKER_HOST` (or the default socket), else local
/// processes.
pub async fn detect() -> Arc<dyn Runtime> {
    let endpoint =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| docker::DEFAULT_ENDPOINT.to_owned());
    detect_at(&endpoint).await
}

/// [`detect`] with the Docker endpoint given.
pub async fn detect_at(endpoint: &str) -> Arc<dyn Runtime> {
    match tokio::time::timeout(DETECT_TIMEOUT, docker::DockerRuntime::connect(endpoint)).await {
        Ok(Ok(docker)) => Arc::new(docker),
        Ok(Err(e)) => {
            tracing::info!("{e}; running services as local processes");
            Arc::new(process::ProcessRuntime::new())
        }
        Err(_) => {
            tracing::info!(
                "docker engine at {endpoint} did not answer within {DETECT_TIMEOUT:?}; running services as local processes"
            );
            Arc::new(process::ProcessRuntime::new())
        }
    }
}

/// One entry of a `docker save` archive's `manifest.json`.
#[derive(Debug, Deserialize)]
struct ManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
}

/// Reads the image id and tags from a `docker save` archive's
/// `manifest.json` (blocking; for the runtimes that do not load archives
/// into an engine).
pub(crate) fn read_archive_manifest(archive: &Path) -> Result<LoadedImage, RuntimeError> {
    let fail = |reason: String| RuntimeError::Failed {
        step: Step::LoadImage,
        target: archive.display().to_string(),
        reason,
    };
    let file = std::fs::File::open(archive).map_err(|e| fail(e.to_string()))?;
    let mut tar = tar::Archive::new(file);
    let entries = tar
        .entries()
        .map_err(|e| fail(format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| fail(format!("not a tar archive: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| fail(format!("bad entry name: {e}")))?
            .into_owned();
        if path != Path::new("manifest.json") {
            continue;
        }
        let mut json = String::new();
        entry
            .read_to_string(&mut json)
            .map_err(|e| fail(format!("manifest.json: {e}")))?;
        let manifest: Vec<ManifestEntry> =
            serde_json::from_str(&json).map_err(|e| fail(format!("manifest.json: {e}")))?;
        let first = manifest
            .first()
            .ok_or_else(|| fail("manifest.json lists no image".to_owned()))?;
        let digest = first
            .config
            .trim_end_matches(".json")
            .rsplit('/')
            .next()
            .unwrap_or_default();
        return Ok(LoadedImage {
            id: format!("sha256:{digest}"),
            tags: manifest
                .iter()
                .flat_map(|m| m.repo_tags.clone().unwrap_or_default())
                .collect(),
        });
    }
    Err(fail(
        "no manifest.json: not a docker save archive".to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_duration_matches_docker() {
        let s = Duration::from_secs;
        assert_eq!(
            human_duration(Duration::from_millis(300)),
            "Less than a second"
        );
        assert_eq!(human_duration(s(1)), "1 second");
        assert_eq!(human_duration(s(5)), "5 seconds");
        assert_eq!(human_duration(s(90)), "About a minute");
        assert_eq!(human_duration(s(600)), "10 minutes");
        assert_eq!(human_duration(s(3700)), "About an hour");
        assert_eq!(human_duration(s(3 * 3600)), "3 hours");
        assert_eq!(human_duration(s(3 * 86400)), "3 days");
        assert_eq!(human_duration(s(21 * 86400)), "3 weeks");
        assert_eq!(human_duration(s(90 * 86400)), "3 months");
        assert_eq!(human_duration(s(3 * 365 * 86400)), "3 years");
    }

    #[test]
    fn cpu_percent_is_dockers_formula() {
        // 0.5 s of container CPU over 4 s of system CPU on 4 CPUs: half a core.
        let pct = cpu_percent(1_000, 500_001_000, 0, 4_000_000_000, 4).unwrap();
        assert!((pct - 50.0).abs() < 1e-9, "{pct}");
        assert_eq!(cpu_percent(0, 10, 5, 5, 4), None);
        assert_eq!(cpu_percent(0, 10, 6, 5, 4), None);
    }

    #[test]
    fn managed_labels_carry_service_replica_node() {
        let l = managed_labels("S1", 2, "SEG_1");
        assert_eq!(l[LABEL_SERVICE], "S1");
        assert_eq!(l[LABEL_REPLICA], "2");
        assert_eq!(l[LABEL_NODE], "SEG_1");
        assert_eq!(l[LABEL_MANAGED_BY], "picasso");
    }

    #[test]
    fn runtime_is_object_safe() {
        let rt: Arc<dyn Runtime> = Arc::new(fake::FakeRuntime::new());
        assert_eq!(rt.kind(), RuntimeKind::Fake);
    }

    #[test]
    fn manifest_of_a_non_archive_names_the_step_and_file() {
        let dir = std::env::temp_dir().join(format!("picasso-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.tar");
        std::fs::write(&path, b"this is not a tar archive at all").unwrap();
        let err = read_archive_manifest(&path).unwrap_err();
        assert_eq!(err.step(), Some(Step::LoadImage));
        assert!(err.to_string().contains("bad.tar"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
