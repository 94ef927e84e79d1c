//! The monitoring agent: samples the node, its containers and the
//! gateway's demand every interval in a background task and answers
//! Interests for `/<root>/node/<id>/monitor` with the latest sample as
//! signed JSON Data (FreshnessPeriod = the interval). Nothing is sampled on
//! the request path.
//!
//! Owns the sampling loop, the packaging (signing, segmenting) and the
//! Interest handler. Does not own the JSON schema ([`schema`], shared with
//! the orchestrator), the node's key files ([`crate::keys`]) or the
//! containers themselves ([`crate::runtime`]).
//!
//! ```text
//!  every interval: SystemSampler (sysinfo) ─┐
//!                  Runtime::list + stats ───┼─► MonitorReport ─► JSON ─► signed Data
//!                  Gateway::metrics ────────┘                      (Ed25519, KeyLocator
//!                                                                   /<root>/node/<id>/KEY)
//!  Interest /<root>/node/<id>/monitor ─► handler ─► latest packets (no sampling here)
//! ```
//!
//! **Names.** The report of each sample is published as version
//! `v=<timestamp ms>`, segments `…/monitor/v=<ts>/seg=<n>` with
//! FinalBlockId (one segment unless the JSON exceeds
//! [`MonitorConfig::segment_size`]). An Interest for `…/monitor` with
//! CanBePrefix gets segment 0 of the latest version (what
//! `app::fetch_segmented` and the orchestrator send); one without
//! CanBePrefix gets a Data named exactly `…/monitor` when the report fits
//! in one segment (for simple consumers), nothing otherwise. The previous
//! version stays fetchable so a fetch that spans a new sample completes.
//!
//! **Cost.** Measured on a 2-core x86_64 VM with Docker: a whole idle
//! `picasso node` (release) used 30 ms of CPU in 60 s at one sample per
//! second (0.05% of one core) with a 10 MB resident set; the sampler alone,
//! debug build, about 1.1 ms of CPU per sample (0.11% of a core at 1 s).
//! `agent/tests/monitor.rs` measures and bounds it (< 1%).

pub mod device;
pub mod prometheus;
pub mod schema;
pub mod system;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use picasso_forwarder::app::{Client, RegisterError};
use picasso_tlv::{Component, Data, Interest, Name, Signer};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::gateway::Gateway;
use crate::keys::KeyPair;
use crate::runtime::{ContainerState, Runtime, LABEL_MANAGED_BY, LABEL_SERVICE, MANAGED_BY_VALUE};
use schema::{ContainerReport, MonitorReport, ServiceDemand, SCHEMA_VERSION};
use system::SystemSampler;

/// Default sampling interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// Default largest content of one segment (room is left under NDN's
/// 8800-octet packet limit for the name and the signature).
pub const DEFAULT_SEGMENT_SIZE: usize = 7000;

/// Why the monitoring agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The node id is not usable as a name component.
    #[error("invalid node id {0:?}")]
    InvalidNodeId(String),
    /// The prefix could not be registered on the forwarder.
    #[error("cannot register {prefix}: {source}")]
    Register {
        /// The monitor prefix.
        prefix: String,
        /// Why.
        source: RegisterError,
    },
}

/// How the monitoring agent behaves.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// The node id (`PiID`, the `<id>` in the name).
    pub node_id: String,
    /// The name root (`/picasso`).
    pub root: Name,
    /// Time between samples; also the Data's FreshnessPeriod.
    pub interval: Duration,
    /// The address reported as `PiIP`; detected when `None`.
    pub ip: Option<String>,
    /// The directory whose disk is reported.
    pub data_dir: PathBuf,
    /// Containers reported: those carrying all these labels (empty: all
    /// containers of the engine). Default: PiCasso's (`managed-by=picasso`).
    pub container_labels: BTreeMap<String, String>,
    /// Largest content of one Data segment.
    pub segment_size: usize,
    /// The cgroup parent of the node's services when it emulates a small
    /// device with a CPU quota: CPU is then reported as a share of that
    /// quota ([`device::DeviceCpu`]).
    pub cgroup_parent: Option<String>,
}

impl MonitorConfig {
    /// The defaults for node `node_id`.
    pub fn new(node_id: &str) -> Self {
        Self {
            node_id: node_id.to_owned(),
            root: Name::from_uri("/picasso").unwrap_or_default(),
            interval: DEFAULT_INTERVAL,
            ip: None,
            data_dir: PathBuf::from("/"),
            container_labels: BTreeMap::from([(
                LABEL_MANAGED_BY.to_owned(),
                MANAGED_BY_VALUE.to_owned(),
            )]),
            segment_size: DEFAULT_SEGMENT_SIZE,
            cgroup_parent: None,
        }
    }
}

/// `/<root>/node/<id>/monitor`.
pub fn monitor_name(root: &Name, node_id: &str) -> Name {
    root.append_str("node")
        .append_str(node_id)
        .append_str("monitor")
}

/// `/<root>/node/<id>/KEY`, the KeyLocator of the node's signatures.
pub fn key_name(root: &Name, node_id: &str) -> Name {
    root.append_str("node")
        .append_str(node_id)
        .append_str("KEY")
}

/// CPU time and resident memory of this process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessUsage {
    /// User + system CPU time since the process started.
    pub cpu: Duration,
    /// Resident set size, bytes (0 when unknown).
    pub rss_bytes: u64,
}

/// This process's CPU time (`getrusage(RUSAGE_SELF)`) and resident memory
/// (`VmRSS` in `/proc/self/status`).
pub fn process_usage() -> ProcessUsage {
    use nix::sys::resource::{getrusage, UsageWho};
    let cpu = getrusage(UsageWho::RUSAGE_SELF)
        .map(|u| {
            let tv = |t: nix::sys::time::TimeVal| {
                Duration::from_secs(t.tv_sec().max(0) as u64)
                    + Duration::from_micros(t.tv_usec().max(0) as u64)
            };
            tv(u.user_time()) + tv(u.system_time())
        })
        .unwrap_or_default();
    let rss_bytes = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024);
    ProcessUsage { cpu, rss_bytes }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Takes samples: the node (sysinfo), the containers (the runtime) and the
/// services' demand (the gateway). Usable without a forwarder.
#[derive(Debug)]
pub struct Sampler {
    config: MonitorConfig,
    ip: String,
    system: SystemSampler,
    runtime: Arc<dyn Runtime>,
    gateway: Option<Arc<Gateway>>,
    device: Option<device::DeviceCpu>,
}

impl Sampler {
    /// A sampler for the node `config` describes.
    pub fn new(
        config: MonitorConfig,
        runtime: Arc<dyn Runtime>,
        gateway: Option<Arc<Gateway>>,
    ) -> Self {
        let ip = config.ip.clone().unwrap_or_else(system::primary_ip);
        let system = SystemSampler::new(&config.data_dir);
        let device =
            config.cgroup_parent.as_deref().and_then(|parent| {
                match device::DeviceCpu::open(parent) {
                    Ok(d) => {
                        tracing::info!(
                            "reporting CPU as a share of cgroup {parent}'s quota ({} cores)",
                            d.quota_cores()
                        );
                        Some(d)
                    }
                    Err(e) => {
                        tracing::info!("cgroup {parent}: {e}; reporting the host's CPU");
                        None
                    }
                }
            });
        Self {
            config,
            ip,
            system,
            runtime,
            gateway,
            device,
        }
    }

    /// One report, now.
    pub async fn sample(&mut self) -> MonitorReport {
        let started = Instant::now();
        let timestamp = unix_ms();
        let sys = self.system.sample();
        let containers = self.containers().await;
        let services = self
            .gateway
            .as_ref()
            .map(|g| g.metrics().into_iter().map(demand).collect())
            .unwrap_or_default();
        let mut node = sys.node;
        let mut usage = sys.usage;
        if let Some(d) = &mut self.device {
            // The emulated device's CPU, not the host's.
            let percent = d.sample().unwrap_or(0.0);
            node.cpu_percent = percent;
            node.cpu_quota = Some(d.quota_cores());
            usage.cpu_usage = format!("{percent:.2}");
        }
        node.sample_micros = started.elapsed().as_micros() as u64;
        MonitorReport {
            soft_resources: sys.soft,
            hard_resources: sys.hard,
            resource_usage: usage,
            pi_id: self.config.node_id.clone(),
            pi_ip: self.ip.clone(),
            containers,
            node,
            services,
            timestamp,
            interval_ms: self.config.interval.as_millis() as u64,
            runtime: self.runtime.kind().to_string(),
            schema: SCHEMA_VERSION,
        }
    }

    /// The containers with their stats (running ones only have stats);
    /// the engine's failures leave the list empty or the stats at zero and
    /// are logged, never fatal.
    async fn containers(&self) -> Vec<ContainerReport> {
        let list = match self.runtime.list(&self.config.container_labels).await {
            Ok(l) => l,
            Err(e) => {
                tracing::debug!(error = %e, "monitor: cannot list containers");
                return Vec::new();
            }
        };
        let stats = futures_util::future::join_all(list.iter().map(|c| async move {
            if c.state != ContainerState::Running {
                return None;
            }
            match self.runtime.stats(&c.id).await {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::debug!(error = %e, "monitor: no stats");
                    None
                }
            }
        }))
        .await;
        list.into_iter()
            .zip(stats)
            .map(|(c, s)| ContainerReport {
                status: c.status,
                port_host: c.port_host.map(|p| p.to_string()).unwrap_or_default(),
                mem_usage: s.map_or(0, |s| s.memory_bytes).to_string(),
                name: format!("/{}", c.name.trim_start_matches('/')),
                port_container: c.port_container.map(|p| p.to_string()).unwrap_or_default(),
                cpu_usage: s.map_or(0, |s| s.cpu_total_ns).to_string(),
                image: c.image,
                id: c.id.0,
                state: c.state.to_string(),
                cpu_percent: s.and_then(|s| s.cpu_percent),
                service: c.labels.get(LABEL_SERVICE).cloned(),
            })
            .collect()
    }
}

fn demand(m: crate::gateway::metrics::ServiceMetrics) -> ServiceDemand {
    ServiceDemand {
        service: m.service,
        replicas: m.replicas,
        healthy_replicas: m.healthy_replicas,
        requests_per_sec: m.requests_per_sec,
        in_flight: m.in_flight,
        requests_total: m.requests_total,
        success_rate: m.success_rate,
        latency_p50_ms: m.latency_p50.map(|d| d.as_secs_f64() * 1e3),
        latency_p95_ms: m.latency_p95.map(|d| d.as_secs_f64() * 1e3),
        congestion_nacks: m.congestion_nacks,
        replica_requests: m.replica_requests.into_iter().collect(),
    }
}

/// One sample as Data packets.
#[derive(Debug)]
pub struct Packets {
    /// The version component's number (the sample's timestamp, ms, made
    /// strictly increasing).
    pub version: u64,
    /// `…/monitor/v=<version>/seg=<n>`, signed, with FinalBlockId.
    pub segments: Vec<Data>,
    /// `…/monitor` itself, signed, when the report fits in one segment.
    pub exact: Option<Data>,
}

impl Packets {
    /// Cuts `content` into signed segments under `prefix/v=<version>`.
    pub fn new(
        prefix: &Name,
        version: u64,
        content: &[u8],
        freshness: Duration,
        segment_size: usize,
        signer: &Signer,
    ) -> Self {
        let versioned = prefix.append(&Component::version(version));
        let chunks: Vec<&[u8]> = if content.is_empty() {
            vec![&[][..]]
        } else {
            content.chunks(segment_size.max(1)).collect()
        };
        let fresh = freshness.as_millis() as u64;
        let last = Component::segment(chunks.len() as u64 - 1);
        let segments: Vec<Data> = chunks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut d = Data::new(versioned.append(&Component::segment(i as u64)))
                    .with_freshness_ms(fresh)
                    .with_final_block_id(last.clone())
                    .with_content(Bytes::copy_from_slice(c));
                d.sign(signer);
                d
            })
            .collect();
        let exact = (segments.len() == 1).then(|| {
            let mut d = Data::new(prefix.clone())
                .with_freshness_ms(fresh)
                .with_content(Bytes::copy_from_slice(content));
            d.sign(signer);
            d
        });
        Self {
            version,
            segments,
            exact,
        }
    }

    fn segment(&self, version: u64, seg: u64) -> Option<Data> {
        if version != self.version {
            return None;
        }
        self.segments.get(usize::try_from(seg).ok()?).cloned()
    }
}

/// What the handler reads: the latest packets and the one before.
#[derive(Debug, Default)]
struct Published {
    latest: Option<Arc<Packets>>,
    previous: Option<Arc<Packets>>,
    report: Option<Arc<MonitorReport>>,
    samples: u64,
}

#[derive(Debug)]
struct Shared {
    prefix: Name,
    published: Mutex<Published>,
}

impl Shared {
    fn published(&self) -> std::sync::MutexGuard<'_, Published> {
        // Updates are single assignments: a poisoned lock still holds a
        // consistent value.
        self.published.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The Data answering `interest`, per the naming in the module docs.
    fn answer(&self, interest: &Interest) -> Option<Data> {
        let name = interest.name();
        let p = self.published();
        let latest = p.latest.as_ref()?;
        let plen = self.prefix.len();
        if !self.prefix.is_prefix_of(name) {
            return None;
        }
        if name.len() == plen {
            return if interest.can_be_prefix() {
                latest.segments.first().cloned()
            } else {
                latest.exact.clone()
            };
        }
        let version = name.get(plen)?.as_version()?;
        let seg = match name.len() - plen {
            1 if interest.can_be_prefix() => 0,
            2 => name.get(plen + 1)?.as_segment()?,
            _ => return None,
        };
        latest
            .segment(version, seg)
            .or_else(|| p.previous.as_ref()?.segment(version, seg))
    }

    fn publish(&self, packets: Packets, report: MonitorReport) {
        let mut p = self.published();
        p.previous = p.latest.take();
        p.latest = Some(Arc::new(packets));
        p.report = Some(Arc::new(report));
        p.samples += 1;
    }
}

/// The running monitoring agent of a node.
#[derive(Debug)]
pub struct Monitor {
    shared: Arc<Shared>,
    updates: watch::Receiver<u64>,
    cancel: CancellationToken,
}

impl Monitor {
    /// Takes a first sample, registers `/<root>/node/<id>/monitor` on
    /// `client`'s forwarder and starts sampling every interval.
    pub async fn start(
        client: &Client,
        config: MonitorConfig,
        runtime: Arc<dyn Runtime>,
        gateway: Option<Arc<Gateway>>,
        key: &KeyPair,
    ) -> Result<Self, MonitorError> {
        let id = &config.node_id;
        if id.is_empty() || id.contains('/') {
            return Err(MonitorError::InvalidNodeId(id.clone()));
        }
        let prefix = monitor_name(&config.root, id);
        let signer = key.signer(key_name(&config.root, id));
        let shared = Arc::new(Shared {
            prefix: prefix.clone(),
            published: Mutex::new(Published::default()),
        });
        let (tx, updates) = watch::channel(0u64);
        let cancel = CancellationToken::new();
        let mut sampler = Sampler::new(config.clone(), runtime, gateway);
        let mut last_version = 0;
        sample_once(&mut sampler, &shared, &signer, &config, &mut last_version).await;
        let _ = tx.send(1);
        let handler_shared = shared.clone();
        client
            .register(prefix.clone(), move |i: Interest| {
                let d = handler_shared.answer(&i);
                async move { d }
            })
            .await
            .map_err(|source| MonitorError::Register {
                prefix: prefix.to_uri(),
                source,
            })?;
        tokio::spawn(sampling_loop(
            sampler,
            shared.clone(),
            signer,
            config,
            last_version,
            tx,
            cancel.clone(),
        ));
        Ok(Self {
            shared,
            updates,
            cancel,
        })
    }

    /// The name the agent answers, `/<root>/node/<id>/monitor`.
    pub fn prefix(&self) -> &Name {
        &self.shared.prefix
    }

    /// The latest report.
    pub fn latest(&self) -> Option<Arc<MonitorReport>> {
        self.shared.published().report.clone()
    }

    /// Samples taken so far.
    pub fn samples(&self) -> u64 {
        self.shared.published().samples
    }

    /// A receiver that changes at every new sample (its value is the
    /// sample count).
    pub fn updates(&self) -> watch::Receiver<u64> {
        self.updates.clone()
    }

    /// The latest report as Prometheus text (see [`prometheus`]).
    pub fn prometheus(&self) -> String {
        let (report, samples) = {
            let p = self.shared.published();
            (p.report.clone(), p.samples)
        };
        match report {
            Some(r) => prometheus::render(&r, &process_usage(), samples),
            None => String::new(),
        }
    }

    /// Stops sampling (the handler keeps answering with the last sample
    /// until the client goes).
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn sample_once(
    sampler: &mut Sampler,
    shared: &Shared,
    signer: &Signer,
    config: &MonitorConfig,
    last_version: &mut u64,
) {
    let report = sampler.sample().await;
    // Versions strictly increase even if the clock steps back.
    let version = report.timestamp.max(*last_version + 1);
    *last_version = version;
    let json = report.to_json();
    let packets = Packets::new(
        &shared.prefix,
        version,
        &json,
        config.interval,
        config.segment_size,
        signer,
    );
    shared.publish(packets, report);
}

async fn sampling_loop(
    mut sampler: Sampler,
    shared: Arc<Shared>,
    signer: Signer,
    config: MonitorConfig,
    mut last_version: u64,
    tx: watch::Sender<u64>,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate; Monitor::start sampled
    let mut count = 1;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        sample_once(&mut sampler, &shared, &signer, &config, &mut last_version).await;
        count += 1;
        let _ = tx.send(count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::fake::FakeRuntime;

    fn config() -> MonitorConfig {
        MonitorConfig {
            ip: Some("192.0.0.2".to_owned()),
            ..MonitorConfig::new("SEG_1")
        }
    }

    #[tokio::test]
    async fn report_has_the_papers_keys_as_strings() {
        let rt: Arc<dyn Runtime> = Arc::new(FakeRuntime::new());
        let mut s = Sampler::new(config(), rt, None);
        let r = s.sample().await;
        let v: serde_json::Value = serde_json::from_slice(&r.to_json()).unwrap();
        assert_eq!(v["PiID"], "SEG_1");
        assert_eq!(v["PiIP"], "192.0.0.2");
        assert_eq!(v["softResources"]["OS"], "Linux");
        for (obj, keys) in [
            ("hardResources", &["mem", "disk", "cpu"][..]),
            ("resourceUsage", &["cpuLoad", "memUsage", "cpuUsage"][..]),
        ] {
            for k in keys {
                assert!(v[obj][k].is_string(), "{obj}.{k} is {}", v[obj][k]);
            }
        }
        for k in ["cpuLoad", "memUsage", "cpuUsage"] {
            let x: f64 = v["resourceUsage"][k].as_str().unwrap().parse().unwrap();
            assert!(x >= 0.0, "{k} = {x}");
        }
        assert!(v["containers"].as_array().unwrap().is_empty());
        assert!(v["node"]["mem_total_bytes"].as_u64().unwrap() > 0);
        assert!(v["node"]["cpu_cores"].as_u64().unwrap() >= 1);
        assert_eq!(v["runtime"], "fake");
        assert_eq!(v["schema"], SCHEMA_VERSION);
        assert!(v["timestamp"].as_u64().unwrap() > 1_600_000_000_000);
        assert_eq!(MonitorReport::from_json(&r.to_json()).unwrap(), r);
    }

    /// A report must parse back to the same numbers: serde_json's default
    /// float parser can be one ULP off (a CI run failed on mem_percent
    /// 2.3648267070143802 coming back as 2.36482670701438); the workspace
    /// enables its `float_roundtrip` feature.
    #[test]
    fn floats_survive_a_json_round_trip_exactly() {
        for x in [2.3648267070143802_f64, 73.63195037841797, 0.1 + 0.2, 1e-300] {
            let back: f64 = serde_json::from_str(&serde_json::to_string(&x).unwrap()).unwrap();
            assert_eq!(back.to_bits(), x.to_bits(), "{x}");
        }
    }

    #[test]
    fn packets_segment_and_answer() {
        let key = KeyPair::generate();
        let signer = key.signer(key_name(&config().root, "n"));
        let prefix = monitor_name(&config().root, "n");
        let big = vec![b'x'; 2500];
        let p = Packets::new(&prefix, 7, &big, Duration::from_secs(1), 1000, &signer);
        assert_eq!(p.segments.len(), 3);
        assert!(p.exact.is_none());
        for d in &p.segments {
            assert_eq!(d.freshness_ms(), Some(1000));
            assert_eq!(d.final_block_id().and_then(|c| c.as_segment()), Some(2));
            d.verify(&key.verifier()).unwrap();
        }
        let shared = Shared {
            prefix: prefix.clone(),
            published: Mutex::new(Published::default()),
        };
        assert!(shared.answer(&Interest::new(prefix.clone())).is_none());
        shared.publish(
            p,
            MonitorReport::from_json(&MonitorReport::to_json(&dummy())).unwrap(),
        );
        let small = Packets::new(&prefix, 8, b"{}", Duration::from_secs(1), 1000, &signer);
        shared.publish(small, dummy());
        // Exact name: the one-packet Data named like the Interest.
        let d = shared.answer(&Interest::new(prefix.clone())).unwrap();
        assert_eq!(d.name(), &prefix);
        assert_eq!(&d.content()[..], b"{}");
        // CanBePrefix: segment 0 of the latest version.
        let d = shared
            .answer(&Interest::new(prefix.clone()).with_can_be_prefix(true))
            .unwrap();
        assert_eq!(d.name().get(prefix.len()).unwrap().as_version(), Some(8));
        // The previous version's segments stay fetchable.
        let v7 = prefix.append(&Component::version(7));
        let d = shared
            .answer(&Interest::new(v7.append(&Component::segment(2))))
            .unwrap();
        assert_eq!(d.content().len(), 500);
        assert!(shared
            .answer(&Interest::new(v7.append(&Component::segment(3))))
            .is_none());
        let v6 = prefix.append(&Component::version(6));
        assert!(shared
            .answer(&Interest::new(v6.append(&Component::segment(0))))
            .is_none());
    }

    fn dummy() -> MonitorReport {
        MonitorReport::from_json(
            br#"{"softResources":{"OS":"Linux"},"hardResources":{"mem":"1 GB","disk":"1 GB","cpu":"x"},
                "resourceUsage":{"cpuLoad":"0","memUsage":"0","cpuUsage":"0"},"PiID":"n","PiIP":"x"}"#,
        )
        .unwrap()
    }

    #[test]
    fn own_usage_is_read() {
        let u = process_usage();
        assert!(u.rss_bytes > 0);
        let text = prometheus::render(&dummy(), &u, 3);
        assert!(
            text.contains("picasso_monitor_samples_total{node=\"n\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE picasso_node_memory_total_bytes gauge\n"));
        assert!(text.contains("process_resident_memory_bytes "));
    }
}
