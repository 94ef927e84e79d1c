//! [`FakeRuntime`]: an in-memory runtime for unit tests.
//!
//! Deterministic: ids are `fake-000001`, `fake-000002`, …; creation times
//! count up from 1; stats are fixed (memory = the spec's limit or 1 MiB,
//! CPU 0). Failures are injected per [`Step`] (once or always), and every
//! call is recorded, so the agent's rollback paths can be tested and their
//! calls asserted. Runs nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use super::{
    read_archive_manifest, ContainerId, ContainerInfo, ContainerSpec, ContainerState,
    ContainerStats, EngineVersion, LoadedImage, Runtime, RuntimeError, RuntimeKind, Step,
};

/// Memory the fake reports for a container without a memory limit.
pub const FAKE_MEMORY: u64 = 1 << 20;

/// How an injected failure fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// On the next call of the step only.
    Once,
    /// On every call of the step until cleared.
    Always,
}

#[derive(Debug)]
struct FakeContainer {
    spec: ContainerSpec,
    state: ContainerState,
    created: i64,
    exit_code: i32,
}

#[derive(Debug, Default)]
struct State {
    images: HashSet<String>,
    containers: BTreeMap<ContainerId, FakeContainer>,
    failures: HashMap<Step, Failure>,
    calls: Vec<(Step, String)>,
    next: u64,
}

/// An in-memory, deterministic runtime with injectable failures.
#[derive(Debug, Default)]
pub struct FakeRuntime {
    state: Mutex<State>,
}

impl FakeRuntime {
    /// An empty fake: no images, no containers, no failures.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Tests that panic while holding the lock leave consistent data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes `image` present.
    pub fn add_image(&self, image: &str) {
        self.lock().images.insert(image.to_owned());
    }

    /// Makes the next call of `step` fail.
    pub fn fail_once(&self, step: Step) {
        self.lock().failures.insert(step, Failure::Once);
    }

    /// Makes every call of `step` fail until [`FakeRuntime::clear_failures`].
    pub fn fail_always(&self, step: Step) {
        self.lock().failures.insert(step, Failure::Always);
    }

    /// Removes all injected failures.
    pub fn clear_failures(&self) {
        self.lock().failures.clear();
    }

    /// Every call so far, in order: the step and its target.
    pub fn calls(&self) -> Vec<(Step, String)> {
        self.lock().calls.clone()
    }

    /// Makes a running container exit with `code`, as if it crashed.
    pub fn exit(&self, id: &ContainerId, code: i32) {
        if let Some(c) = self.lock().containers.get_mut(id) {
            c.state = ContainerState::Exited;
            c.exit_code = code;
        }
    }

    /// Records the call and fires an injected failure, if any.
    fn enter(state: &mut State, step: Step, target: &str) -> Result<(), RuntimeError> {
        state.calls.push((step, target.to_owned()));
        match state.failures.get(&step) {
            Some(Failure::Once) => {
                state.failures.remove(&step);
                Err(RuntimeError::Injected {
                    step,
                    target: target.to_owned(),
                })
            }
            Some(Failure::Always) => Err(RuntimeError::Injected {
                step,
                target: target.to_owned(),
            }),
            None => Ok(()),
        }
    }

    fn container<'a>(
        state: &'a mut State,
        id: &ContainerId,
        step: Step,
    ) -> Result<&'a mut FakeContainer, RuntimeError> {
        state
            .containers
            .get_mut(id)
            .ok_or_else(|| RuntimeError::NoSuchContainer {
                step,
                id: id.0.clone(),
            })
    }
}

#[async_trait]
impl Runtime for FakeRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Fake
    }

    async fn version(&self) -> Result<EngineVersion, RuntimeError> {
        Self::enter(&mut self.lock(), Step::Version, "fake")?;
        Ok(EngineVersion {
            kind: RuntimeKind::Fake,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            engine_api: String::new(),
            negotiated_api: String::new(),
        })
    }

    async fn has_image(&self, image: &str) -> Result<bool, RuntimeError> {
        let mut state = self.lock();
        Self::enter(&mut state, Step::HasImage, image)?;
        Ok(state.images.contains(image))
    }

    async fn load_image(&self, archive: &Path) -> Result<LoadedImage, RuntimeError> {
        Self::enter(
            &mut self.lock(),
            Step::LoadImage,
            &archive.display().to_string(),
        )?;
        let loaded = read_archive_manifest(archive)?;
        let mut state = self.lock();
        state.images.insert(loaded.id.clone());
        state.images.extend(loaded.tags.iter().cloned());
        Ok(loaded)
    }

    async fn remove_image(&self, image: &str) -> Result<(), RuntimeError> {
        let mut state = self.lock();
        Self::enter(&mut state, Step::RemoveImage, image)?;
        if state.containers.values().any(|c| c.spec.image == image) {
            return Err(RuntimeError::Conflict {
                step: Step::RemoveImage,
                target: image.to_owned(),
                reason: "image is in use by a container".to_owned(),
            });
        }
        if !state.images.remove(image) {
            return Err(RuntimeError::NoSuchImage {
                step: Step::RemoveImage,
                image: image.to_owned(),
            });
        }
        Ok(())
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<ContainerId, RuntimeError> {
        let mut state = self.lock();
        Self::enter(&mut state, Step::Create, &spec.name)?;
        if !state.images.contains(&spec.image) {
            return Err(RuntimeError::NoSuchImage {
                step: Step::Create,
                image: spec.image.clone(),
            });
        }
        if state.containers.values().any(|c| c.spec.name == spec.name) {
            return Err(RuntimeError::Conflict {
                step: Step::Create,
                target: spec.name.clone(),
                reason: "name already in use".to_owned(),
            });
        }
        state.next += 1;
        let id = ContainerId(format!("fake-{:06}", state.next));
        let created = state.next as i64;
        state.containers.insert(
            id.clone(),
            FakeContainer {
                spec: spec.clone(),
                state: ContainerState::Created,
                created,
                exit_code: 0,
            },
        );
        Ok(id)
    }

    async fn start(&self, id: &ContainerId) -> Result<(), RuntimeError> {
        let mut state = self.lock();
        Self::enter(&mut state, Step::Start, &id.0)?;
        Self::container(&mut state, id, Step::Start)?.state = ContainerState::Running;
        Ok(())
    }

    async fn stop(&self, id: &ContainerId, _timeout: Duration) -> Result<(), RuntimeError> {
        let mut state = self.lock();
        Self::enter(&mut state, Step::Stop, &id.0)?;
        let c = Self::container(&mut state, id, Step::Stop)?;
        if c.state == ContainerState::Running {
            c.state = ContainerState::Exited;
            c.exit_code = 0;
        }
        Ok(())
    }

    async fn remove(&self, id: &ContainerId, force: bool) -> Result<(), RuntimeError> {
        let mut state = self.lock();
        Self::enter(&mut state, Step::Remove, &id.0)?;
        let c = Self::container(&mut state, id, Step::Remove)?;
        if c.state == ContainerState::Running && !force {
            return Err(RuntimeError::Conflict {
                step: Step::Remove,
                target: id.0.clone(),
                reason: "it is running: stop it first or force".to_owned(),
            });
        }
        state.containers.remove(id);
        Ok(())
    }

    async fn list(
        &self,
        labels: &BTreeMap<String, String>,
    ) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let mut state = self.lock();
        Self::enter(&mut state, Step::List, "by label")?;
        Ok(state
            .containers
            .iter()
            .filter(|(_, c)| labels.iter().all(|(k, v)| c.spec.labels.get(k) == Some(v)))
            .map(|(id, c)| ContainerInfo {
                id: id.clone(),
                name: c.spec.name.clone(),
                image: c.spec.image.clone(),
                status: match c.state {
                    ContainerState::Running => "Up Less than a second".to_owned(),
                    ContainerState::Exited => {
                        format!("Exited ({}) Less than a second ago", c.exit_code)
                    }
                    _ => "Created".to_owned(),
                },
                state: c.state,
                port_host: c.spec.port_host,
                port_container: c.spec.port_container,
                labels: c.spec.labels.clone(),
                created: c.created,
            })
            .collect())
    }

    async fn stats(&self, id: &ContainerId) -> Result<ContainerStats, RuntimeError> {
        let mut state = self.lock();
        Self::enter(&mut state, Step::Stats, &id.0)?;
        let c = Self::container(&mut state, id, Step::Stats)?;
        if c.state != ContainerState::Running {
            return Err(RuntimeError::Failed {
                step: Step::Stats,
                target: id.0.clone(),
                reason: "not running".to_owned(),
            });
        }
        Ok(ContainerStats {
            memory_bytes: c.spec.memory_limit.unwrap_or(FAKE_MEMORY),
            cpu_total_ns: 0,
            cpu_percent: Some(0.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::managed_labels;
    use super::*;

    fn spec(name: &str) -> ContainerSpec {
        ContainerSpec {
            name: name.to_owned(),
            image: "picasso/nginx:1".to_owned(),
            port_host: Some(8002),
            port_container: Some(80),
            memory_limit: Some(64 << 20),
            labels: managed_labels("S1", 1, "SEG_1"),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn lifecycle_is_deterministic() {
        let rt = FakeRuntime::new();
        rt.add_image("picasso/nginx:1");
        let a = rt.create(&spec("a")).await.unwrap();
        let b = rt.create(&spec("b")).await.unwrap();
        assert_eq!(a, ContainerId::from("fake-000001"));
        assert_eq!(b, ContainerId::from("fake-000002"));
        rt.start(&a).await.unwrap();
        let list = rt.list(&managed_labels("S1", 1, "SEG_1")).await.unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].status, "Up Less than a second");
        assert_eq!(list[0].port_host, Some(8002));
        assert_eq!(list[1].state, ContainerState::Created);
        assert_eq!(rt.stats(&a).await.unwrap().memory_bytes, 64 << 20);
        rt.stop(&a, Duration::from_secs(1)).await.unwrap();
        assert_eq!(
            rt.list(&BTreeMap::new()).await.unwrap()[0].status,
            "Exited (0) Less than a second ago"
        );
        rt.remove(&a, false).await.unwrap();
        rt.remove(&b, false).await.unwrap();
        assert!(rt.list(&BTreeMap::new()).await.unwrap().is_empty());
        rt.remove_image("picasso/nginx:1").await.unwrap();
        assert!(!rt.has_image("picasso/nginx:1").await.unwrap());
    }

    #[tokio::test]
    async fn injected_failures_fire_once_or_always_and_are_recorded() {
        let rt = FakeRuntime::new();
        rt.add_image("picasso/nginx:1");
        rt.fail_once(Step::Start);
        let id = rt.create(&spec("a")).await.unwrap();
        let err = rt.start(&id).await.unwrap_err();
        assert_eq!(err.step(), Some(Step::Start));
        assert_eq!(
            err.to_string(),
            "start container fake-000001: injected failure"
        );
        rt.start(&id).await.unwrap();
        rt.fail_always(Step::Stop);
        assert!(rt.stop(&id, Duration::ZERO).await.is_err());
        assert!(rt.stop(&id, Duration::ZERO).await.is_err());
        rt.clear_failures();
        rt.stop(&id, Duration::ZERO).await.unwrap();
        let steps: Vec<Step> = rt.calls().into_iter().map(|(s, _)| s).collect();
        assert_eq!(
            steps,
            [
                Step::Create,
                Step::Start,
                Step::Start,
                Step::Stop,
                Step::Stop,
                Step::Stop
            ]
        );
    }

    #[tokio::test]
    async fn refuses_missing_images_duplicates_and_running_removal() {
        let rt = FakeRuntime::new();
        let err = rt.create(&spec("a")).await.unwrap_err();
        assert!(matches!(err, RuntimeError::NoSuchImage { .. }), "{err}");
        rt.add_image("picasso/nginx:1");
        let id = rt.create(&spec("a")).await.unwrap();
        assert!(matches!(
            rt.create(&spec("a")).await.unwrap_err(),
            RuntimeError::Conflict { .. }
        ));
        rt.start(&id).await.unwrap();
        assert!(rt.remove(&id, false).await.is_err());
        assert!(rt.remove_image("picasso/nginx:1").await.is_err());
        rt.exit(&id, 2);
        assert!(rt.list(&BTreeMap::new()).await.unwrap()[0]
            .status
            .starts_with("Exited (2)"));
        rt.remove(&id, false).await.unwrap();
    }
}
