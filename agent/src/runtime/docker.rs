//! [`DockerRuntime`]: the runtime seam over a Docker engine, through bollard.
//!
//! Owns the connection (API version negotiated at connect, so engines from
//! 20.10 / API 1.41 up to 28 work), the mapping of bollard's errors to
//! [`RuntimeError`], and the previous CPU sample of each container for
//! [`Runtime::stats`]. It does not build images (see `crate::images`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, ContainerStatsResponse, ContainerSummaryStateEnum, HostConfig, PortBinding,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ImportImageOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder, StatsOptionsBuilder,
    StopContainerOptionsBuilder,
};
use bollard::{Docker, API_DEFAULT_VERSION};
use futures_util::StreamExt;

use super::{
    ContainerId, ContainerInfo, ContainerSpec, ContainerState, ContainerStats, EngineVersion,
    LoadedImage, Runtime, RuntimeError, RuntimeKind, Step,
};

/// The default engine endpoint when `DOCKER_HOST` is not set.
pub const DEFAULT_ENDPOINT: &str = "unix:///var/run/docker.sock";

/// Seconds bollard waits for one request (image loads and builds can be slow).
const REQUEST_TIMEOUT_SECS: u64 = 300;

/// Docker through bollard.
#[derive(Debug)]
pub struct DockerRuntime {
    /// The bollard client, at the negotiated API version.
    docker: Docker,
    /// Where the engine is, for error messages.
    endpoint: String,
    /// The engine's own API version (before negotiation).
    engine_api: String,
    /// The engine's version string.
    engine_version: String,
    /// Previous (container CPU ns, system CPU ns) per container id, for the
    /// CPU percentage between successive `stats` calls.
    prev_cpu: Mutex<HashMap<String, (u64, u64)>>,
}

impl DockerRuntime {
    /// Connects to `DOCKER_HOST` if set, else [`DEFAULT_ENDPOINT`], and
    /// negotiates the API version.
    pub async fn connect_default() -> Result<Self, RuntimeError> {
        let endpoint = std::env::var("DOCKER_HOST").unwrap_or_else(|_| DEFAULT_ENDPOINT.to_owned());
        Self::connect(&endpoint).await
    }

    /// Connects to the engine at `endpoint` (`unix:///path`, a socket path,
    /// or `tcp://host:port`) and negotiates the API version.
    pub async fn connect(endpoint: &str) -> Result<Self, RuntimeError> {
        let unreachable = |reason: String| RuntimeError::Unreachable {
            endpoint: endpoint.to_owned(),
            reason,
        };
        let docker = if let Some(addr) = endpoint.strip_prefix("tcp://") {
            Docker::connect_with_http(
                &format!("http://{addr}"),
                REQUEST_TIMEOUT_SECS,
                API_DEFAULT_VERSION,
            )
        } else if endpoint.starts_with("http://") {
            Docker::connect_with_http(endpoint, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
        } else {
            let path = endpoint.strip_prefix("unix://").unwrap_or(endpoint);
            Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
        }
        .map_err(|e| unreachable(e.to_string()))?;
        let version = docker
            .version()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| unreachable(format!("api version negotiation: {e}")))?;
        Ok(DockerRuntime {
            docker,
            endpoint: endpoint.to_owned(),
            engine_api: version.api_version.unwrap_or_default(),
            engine_version: version.version.unwrap_or_default(),
            prev_cpu: Mutex::new(HashMap::new()),
        })
    }

    /// The API version we talk, after negotiation (e.g. `1.41`).
    pub fn negotiated_api(&self) -> String {
        let v = self.docker.client_version();
        format!("{}.{}", v.major_version, v.minor_version)
    }

    /// The bollard client, for what the seam does not cover (image builds).
    pub fn client(&self) -> &Docker {
        &self.docker
    }

    /// Maps a bollard error of `step` on `target` to a [`RuntimeError`].
    fn error(&self, step: Step, target: &str, e: BollardError) -> RuntimeError {
        match e {
            BollardError::DockerResponseServerError {
                status_code,
                message,
            } => match status_code {
                404 if matches!(step, Step::HasImage | Step::RemoveImage | Step::Create)
                    && message.contains("image") =>
                {
                    RuntimeError::NoSuchImage {
                        step,
                        image: target.to_owned(),
                    }
                }
                404 => RuntimeError::NoSuchContainer {
                    step,
                    id: target.to_owned(),
                },
                409 => RuntimeError::Conflict {
                    step,
                    target: target.to_owned(),
                    reason: message,
                },
                _ => RuntimeError::Failed {
                    step,
                    target: target.to_owned(),
                    reason: format!("engine answered {status_code}: {message}"),
                },
            },
            BollardError::SocketNotFoundError(_)
            | BollardError::HyperLegacyError { .. }
            | BollardError::RequestTimeoutError => RuntimeError::Unreachable {
                endpoint: self.endpoint.clone(),
                reason: format!("{step} {target}: {e}"),
            },
            other => RuntimeError::Failed {
                step,
                target: target.to_owned(),
                reason: other.to_string(),
            },
        }
    }
}

/// Memory in use the way `docker stats` shows it: usage less the inactive
/// file cache (cgroup v2 `inactive_file`, v1 `total_inactive_file`).
fn memory_in_use(stats: &ContainerStatsResponse) -> u64 {
    let Some(mem) = &stats.memory_stats else {
        return 0;
    };
    let usage = mem.usage.unwrap_or(0);
    let cache = mem
        .stats
        .as_ref()
        .and_then(|s| {
            s.get("inactive_file")
                .or_else(|| s.get("total_inactive_file"))
        })
        .copied()
        .unwrap_or(0);
    usage.saturating_sub(cache)
}

fn state_of(s: Option<ContainerSummaryStateEnum>) -> ContainerState {
    match s {
        Some(ContainerSummaryStateEnum::CREATED) => ContainerState::Created,
        Some(ContainerSummaryStateEnum::RUNNING) => ContainerState::Running,
        Some(ContainerSummaryStateEnum::PAUSED) => ContainerState::Paused,
        Some(ContainerSummaryStateEnum::RESTARTING) => ContainerState::Restarting,
        Some(ContainerSummaryStateEnum::REMOVING) => ContainerState::Removing,
        Some(ContainerSummaryStateEnum::EXITED) => ContainerState::Exited,
        Some(ContainerSummaryStateEnum::DEAD) => ContainerState::Dead,
        _ => ContainerState::Unknown,
    }
}

#[async_trait]
impl Runtime for DockerRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Docker
    }

    async fn version(&self) -> Result<EngineVersion, RuntimeError> {
        self.docker
            .ping()
            .await
            .map_err(|e| self.error(Step::Version, "ping", e))?;
        let v = self
            .docker
            .version()
            .await
            .map_err(|e| self.error(Step::Version, "engine", e))?;
        Ok(EngineVersion {
            kind: RuntimeKind::Docker,
            version: v.version.unwrap_or_else(|| self.engine_version.clone()),
            engine_api: v.api_version.unwrap_or_else(|| self.engine_api.clone()),
            negotiated_api: self.negotiated_api(),
        })
    }

    async fn has_image(&self, image: &str) -> Result<bool, RuntimeError> {
        match self.docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(self.error(Step::HasImage, image, e)),
        }
    }

    async fn load_image(&self, archive: &Path) -> Result<LoadedImage, RuntimeError> {
        let target = archive.display().to_string();
        let fail = |reason: String| RuntimeError::Failed {
            step: Step::LoadImage,
            target: target.clone(),
            reason,
        };
        let file = tokio::fs::File::open(archive)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let body = file_chunks(file);
        let mut progress = self.docker.import_image_stream(
            ImportImageOptionsBuilder::default().quiet(true).build(),
            body,
            None,
        );
        let mut tags = Vec::new();
        let mut ids = Vec::new();
        while let Some(item) = progress.next().await {
            let info = item.map_err(|e| match e {
                BollardError::DockerStreamError { error } => fail(error),
                other => self.error(Step::LoadImage, &target, other),
            })?;
            // The engine reports "Loaded image: <tag>" or "Loaded image ID: <id>".
            let line = info.stream.or(info.status).unwrap_or_default();
            if let Some(id) = line.trim().strip_prefix("Loaded image ID: ") {
                ids.push(id.to_owned());
            } else if let Some(tag) = line.trim().strip_prefix("Loaded image: ") {
                tags.push(tag.to_owned());
            }
        }
        let id = match (ids.first(), tags.first()) {
            (Some(id), _) => id.clone(),
            (None, Some(tag)) => self
                .docker
                .inspect_image(tag)
                .await
                .map_err(|e| self.error(Step::LoadImage, tag, e))?
                .id
                .unwrap_or_default(),
            (None, None) => return Err(fail("the engine loaded no image".to_owned())),
        };
        Ok(LoadedImage { id, tags })
    }

    async fn remove_image(&self, image: &str) -> Result<(), RuntimeError> {
        self.docker
            .remove_image(
                image,
                Some(RemoveImageOptionsBuilder::default().force(true).build()),
                None,
            )
            .await
            .map_err(|e| self.error(Step::RemoveImage, image, e))?;
        Ok(())
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<ContainerId, RuntimeError> {
        let port_key = spec.port_container.map(|p| format!("{p}/tcp"));
        let port_bindings = match (&port_key, spec.port_host) {
            (Some(key), Some(host)) => Some(HashMap::from([(
                key.clone(),
                Some(vec![PortBinding {
                    host_ip: Some(if spec.host_ip.is_empty() {
                        "127.0.0.1".to_owned()
                    } else {
                        spec.host_ip.clone()
                    }),
                    host_port: Some(host.to_string()),
                }]),
            )])),
            _ => None,
        };
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: (!spec.command.is_empty()).then(|| spec.command.clone()),
            env: (!spec.env.is_empty()).then(|| spec.env.clone()),
            labels: Some(spec.labels.clone().into_iter().collect()),
            exposed_ports: port_key.map(|k| vec![k]),
            host_config: Some(HostConfig {
                port_bindings,
                nano_cpus: spec.cpu_limit.map(|c| (c * 1e9) as i64),
                memory: spec.memory_limit.map(|m| m as i64),
                cgroup_parent: spec.cgroup_parent.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(
                Some(
                    CreateContainerOptionsBuilder::default()
                        .name(&spec.name)
                        .build(),
                ),
                body,
            )
            .await
            .map_err(|e| match e {
                BollardError::DockerResponseServerError {
                    status_code: 404, ..
                } => RuntimeError::NoSuchImage {
                    step: Step::Create,
                    image: spec.image.clone(),
                },
                other => self.error(Step::Create, &spec.name, other),
            })?;
        Ok(ContainerId(created.id))
    }

    async fn start(&self, id: &ContainerId) -> Result<(), RuntimeError> {
        self.docker
            .start_container(&id.0, None)
            .await
            .map_err(|e| self.error(Step::Start, &id.0, e))
    }

    async fn stop(&self, id: &ContainerId, timeout: Duration) -> Result<(), RuntimeError> {
        let opts = StopContainerOptionsBuilder::default()
            .t(i32::try_from(timeout.as_secs()).unwrap_or(i32::MAX))
            .build();
        match self.docker.stop_container(&id.0, Some(opts)).await {
            // 304: already stopped.
            Err(BollardError::DockerResponseServerError {
                status_code: 304, ..
            })
            | Ok(()) => Ok(()),
            Err(e) => Err(self.error(Step::Stop, &id.0, e)),
        }
    }

    async fn remove(&self, id: &ContainerId, force: bool) -> Result<(), RuntimeError> {
        self.docker
            .remove_container(
                &id.0,
                Some(
                    RemoveContainerOptionsBuilder::default()
                        .force(force)
                        .build(),
                ),
            )
            .await
            .map_err(|e| self.error(Step::Remove, &id.0, e))?;
        if let Ok(mut prev) = self.prev_cpu.lock() {
            prev.remove(&id.0);
        }
        Ok(())
    }

    async fn list(
        &self,
        labels: &BTreeMap<String, String>,
    ) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let filter: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut opts = ListContainersOptionsBuilder::default().all(true);
        if !filter.is_empty() {
            opts = opts.filters(&HashMap::from([("label".to_owned(), filter)]));
        }
        let opts = opts.build();
        let summaries = self
            .docker
            .list_containers(Some(opts))
            .await
            .map_err(|e| self.error(Step::List, "by label", e))?;
        Ok(summaries
            .into_iter()
            .map(|c| {
                let port = c
                    .ports
                    .unwrap_or_default()
                    .into_iter()
                    .max_by_key(|p| p.public_port.is_some());
                ContainerInfo {
                    id: ContainerId(c.id.unwrap_or_default()),
                    name: c
                        .names
                        .and_then(|n| n.into_iter().next())
                        .map(|n| n.trim_start_matches('/').to_owned())
                        .unwrap_or_default(),
                    image: c.image.unwrap_or_default(),
                    status: c.status.unwrap_or_default(),
                    state: state_of(c.state),
                    port_host: port.as_ref().and_then(|p| p.public_port),
                    port_container: port.as_ref().map(|p| p.private_port),
                    labels: c.labels.unwrap_or_default().into_iter().collect(),
                    created: c.created.unwrap_or_default(),
                }
            })
            .collect())
    }

    async fn stats(&self, id: &ContainerId) -> Result<ContainerStats, RuntimeError> {
        let opts = StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(true)
            .build();
        let sample = self
            .docker
            .stats(&id.0, Some(opts))
            .next()
            .await
            .ok_or_else(|| RuntimeError::Failed {
                step: Step::Stats,
                target: id.0.clone(),
                reason: "the engine sent no sample".to_owned(),
            })?
            .map_err(|e| self.error(Step::Stats, &id.0, e))?;
        let cpu = sample.cpu_stats.as_ref();
        let cpu_total_ns = cpu
            .and_then(|c| c.cpu_usage.as_ref())
            .and_then(|u| u.total_usage)
            .unwrap_or(0);
        let system_ns = cpu.and_then(|c| c.system_cpu_usage).unwrap_or(0);
        let online = cpu.and_then(|c| c.online_cpus).unwrap_or(1);
        let previous = self
            .prev_cpu
            .lock()
            .map(|mut prev| prev.insert(id.0.clone(), (cpu_total_ns, system_ns)))
            .unwrap_or(None);
        let cpu_percent = previous.and_then(|(prev_cpu, prev_system)| {
            super::cpu_percent(prev_cpu, cpu_total_ns, prev_system, system_ns, online)
        });
        Ok(ContainerStats {
            memory_bytes: memory_in_use(&sample),
            cpu_total_ns,
            cpu_percent,
        })
    }
}

/// Streams a file as `Bytes` chunks of 64 KiB, for the engine's load
/// endpoint (the archive is never held in memory whole).
fn file_chunks(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    use tokio::io::AsyncReadExt;
    futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}
