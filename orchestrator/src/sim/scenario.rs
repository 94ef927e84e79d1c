//! The synthetic world: nodes (Raspberry Pis on a plane), services (the
//! paper's four web servers with their measured figures) and a timeline of
//! what happens to them — demand moving, flash crowds, services going idle,
//! nodes failing and coming back. Generated from a seed before any policy
//! runs, so every policy faces the same scenario.

use serde::Serialize;
use serde_json::json;

use super::rng::Rng;
use super::SimConfig;
use crate::spec::{ServiceSpec, SpecError};

/// A kind of service, with the paper's figures (Table I, Figs. 3, 7, 9)
/// and ours.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Kind {
    /// Its name.
    pub name: &'static str,
    /// Image size, MB (Table I).
    pub image_mb: f64,
    /// Concurrent users one replica serves (Fig. 3: nano fails past ~25,
    /// busybox past ~175, nginx and tomcat serve 1,000).
    pub max_users: u32,
    /// Response time on an idle replica, s (`t0`).
    pub base_s: f64,
    /// CPU per request, core-seconds (`c`; nginx: 100 users in 140 ms on
    /// 4 cores ⇒ ≈ 6 ms; busybox ≈ 10 ms; tomcat the heavy one).
    pub demand_core_s: f64,
    /// Memory of one container, MB.
    pub mem_mb: f64,
}

/// The paper's four web servers.
pub const KINDS: [Kind; 4] = [
    Kind {
        name: "nano",
        image_mb: 0.088,
        max_users: 25,
        base_s: 0.01,
        demand_core_s: 0.002,
        mem_mb: 1.0,
    },
    Kind {
        name: "busybox",
        image_mb: 2.16,
        max_users: 175,
        base_s: 0.02,
        demand_core_s: 0.01,
        mem_mb: 2.0,
    },
    Kind {
        name: "nginx",
        image_mb: 368.0,
        max_users: 1000,
        base_s: 0.02,
        demand_core_s: 0.006,
        mem_mb: 30.0,
    },
    Kind {
        name: "tomcat",
        image_mb: 251.0,
        max_users: 1000,
        base_s: 0.06,
        demand_core_s: 0.04,
        mem_mb: 120.0,
    },
];

/// One node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeDef {
    /// Its id.
    pub id: String,
    /// Where it is (unit square); round-trip time grows with distance.
    pub pos: (f64, f64),
    /// CPU cores (a Pi 3: 4).
    pub cores: f64,
    /// Memory, MB (a Pi 3: 1 GB).
    pub mem_mb: f64,
    /// Memory the system uses, MB.
    pub base_mem_mb: f64,
    /// Cores other processes keep busy.
    pub background_cores: f64,
    /// Bandwidth from the repo, MB/s.
    pub bandwidth_mb_s: f64,
    /// True when its container engine runs at the start.
    pub engine_running: bool,
}

/// One service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceDef {
    /// Its spec (as the repo would hold it).
    pub spec: ServiceSpec,
    /// Its kind's figures.
    pub kind: Kind,
    /// Mean requests per second while active.
    pub base_rps: f64,
    /// Diurnal amplitude, share of `base_rps` (0 = flat).
    pub diurnal_amplitude: f64,
    /// Diurnal phase, radians.
    pub diurnal_phase: f64,
    /// Active at the start.
    pub active: bool,
    /// Where its users are at the start: (node index, share).
    pub ingress: Vec<(usize, f64)>,
    /// Node its first replica runs on at the start (`None`: none).
    pub initial_node: Option<usize>,
}

/// Something that happens at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The service's users move: new (node, share) list.
    Move {
        /// Service index.
        service: usize,
        /// Where its users now are.
        ingress: Vec<(usize, f64)>,
    },
    /// The service's demand becomes `factor` × its base.
    Scale {
        /// Service index.
        service: usize,
        /// The multiplier.
        factor: f64,
    },
    /// The service becomes active or idle (no demand).
    Active {
        /// Service index.
        service: usize,
        /// Active or not.
        active: bool,
    },
    /// A flash crowd: extra demand at a place, until [`Event::FlashEnd`].
    FlashStart {
        /// Service index.
        service: usize,
        /// Its id (to end it).
        id: u64,
        /// Where the crowd is.
        ingress: Vec<(usize, f64)>,
        /// Extra requests per second.
        extra_rps: f64,
    },
    /// A flash crowd ends.
    FlashEnd {
        /// Service index.
        service: usize,
        /// Its id.
        id: u64,
    },
    /// A node fails (power, network): its replicas stop.
    NodeDown {
        /// Node index.
        node: usize,
    },
    /// A failed node comes back empty (images kept, engine stopped).
    NodeUp {
        /// Node index.
        node: usize,
    },
}

/// The whole scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The nodes.
    pub nodes: Vec<NodeDef>,
    /// The services.
    pub services: Vec<ServiceDef>,
    /// What happens, sorted by time (ms).
    pub events: Vec<(u64, Event)>,
    /// A day's length, s (the diurnal period).
    pub day_s: f64,
}

/// Nodes each node counts as its neighbours.
pub const NEIGHBOURS: usize = 8;

/// Share of a service's users at its centre node; the rest is split over
/// its three nearest neighbours.
const CENTRE_SHARE: f64 = 0.4;

/// A spec for a service of `kind`.
pub fn spec_for(
    name: &str,
    kind: &Kind,
    response_time_s: f64,
    availability: f64,
    max_replicas: u32,
) -> Result<ServiceSpec, SpecError> {
    ServiceSpec::from_value(&json!({
        "par": {"serviceName": name, "imageName": format!("sim/{}-{name}", kind.name),
                "imageSize": kind.image_mb, "maxUsers": kind.max_users, "startUpTime": 1,
                "replicas": {"min": 1, "max": max_replicas}},
        "QoS": {"responseTime": response_time_s, "availability": availability, "numUsers": 0}
    }))
}

impl Scenario {
    /// The `k` nearest other nodes of each node, nearest first.
    pub fn neighbours(nodes: &[NodeDef], k: usize) -> Vec<Vec<usize>> {
        let mut out = Vec::with_capacity(nodes.len());
        let mut others: Vec<(f64, usize)> = Vec::with_capacity(nodes.len());
        for (i, a) in nodes.iter().enumerate() {
            others.clear();
            others.extend(
                nodes
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(j, b)| (dist(a.pos, b.pos), j)),
            );
            let k = k.min(others.len());
            if k > 0 && k < others.len() {
                others
                    .select_nth_unstable_by(k - 1, |x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
            }
            let mut near: Vec<(f64, usize)> = others[..k].to_vec();
            near.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
            out.push(near.into_iter().map(|(_, j)| j).collect());
        }
        out
    }

    /// Users of a place centred on `centre`: 40 % there, 20 % at each of
    /// its three nearest neighbours.
    pub fn place(centre: usize, neighbours: &[Vec<usize>]) -> Vec<(usize, f64)> {
        let near = &neighbours[centre];
        let n = near.len().min(3);
        if n == 0 {
            return vec![(centre, 1.0)];
        }
        let mut v = vec![(centre, CENTRE_SHARE)];
        v.extend(
            near[..n]
                .iter()
                .map(|j| (*j, (1.0 - CENTRE_SHARE) / n as f64)),
        );
        v
    }

    /// Generates the scenario `cfg` describes, from `cfg.seed`.
    pub fn generate(cfg: &SimConfig) -> Result<Self, SpecError> {
        let mut rng = Rng::new(cfg.seed);
        let nodes: Vec<NodeDef> = (0..cfg.nodes)
            .map(|i| NodeDef {
                id: format!("n{i:05}"),
                pos: (rng.unit(), rng.unit()),
                cores: 4.0,
                mem_mb: 1024.0,
                base_mem_mb: rng.range(150.0, 300.0),
                background_cores: rng.range(0.0, 0.4),
                bandwidth_mb_s: rng.range(2.0, 20.0),
                engine_running: !rng.chance(0.3),
            })
            .collect();
        let neighbours = Self::neighbours(&nodes, NEIGHBOURS);

        // Popularity: Zipf (s = 0.8) over a random order of the services.
        let n = cfg.services;
        let weights: Vec<f64> = (1..=n).map(|r| 1.0 / (r as f64).powf(0.8)).collect();
        let total: f64 = weights.iter().sum();
        let mut rank: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            rank.swap(i, rng.below(i + 1));
        }
        let mut services = Vec::with_capacity(n);
        for (i, r) in rank.iter().enumerate() {
            let kind = KINDS[rng.below(KINDS.len())];
            // responseTime: a few times the idle response time, plus the
            // network's share.
            let response_time_s = kind.base_s * rng.range(3.0, 8.0) + 0.02;
            let availability = [99.0, 99.9, 99.99][rng.below(3)];
            let spec = spec_for(
                &format!("s{i:04}"),
                &kind,
                response_time_s,
                availability,
                64,
            )?;
            let centre = rng.below(nodes.len().max(1));
            // The most popular fifth is always in use; the rest come and go.
            let popular = *r < n.div_ceil(5);
            services.push(ServiceDef {
                spec,
                kind,
                base_rps: cfg.rps * weights[*r] / total,
                diurnal_amplitude: 0.5,
                diurnal_phase: rng.range(0.0, std::f64::consts::TAU),
                active: popular || rng.chance(0.6),
                ingress: if nodes.is_empty() {
                    Vec::new()
                } else {
                    Self::place(centre, &neighbours)
                },
                initial_node: (!nodes.is_empty()).then_some(centre),
            });
        }

        let end_ms = cfg.duration_s * 1000;
        let mut events: Vec<(u64, Event)> = Vec::new();
        let ms = |s: f64| (s * 1000.0).round() as u64;
        if !nodes.is_empty() {
            for (i, s) in services.iter().enumerate() {
                // Users move: the centre walks to a neighbour now and then.
                let mut centre = s.initial_node.unwrap_or(0);
                let mut t = rng.exp(cfg.move_every_s);
                while ms(t) < end_ms {
                    let near = &neighbours[centre];
                    if !near.is_empty() {
                        centre = near[rng.below(near.len())];
                    }
                    events.push((
                        ms(t),
                        Event::Move {
                            service: i,
                            ingress: Self::place(centre, &neighbours),
                        },
                    ));
                    t += rng.exp(cfg.move_every_s);
                }
                // Sessions: the less popular services come and go.
                if *rank.get(i).unwrap_or(&0) >= n.div_ceil(5) {
                    let mut active = s.active;
                    let mut t = rng.exp(if active { 900.0 } else { 600.0 });
                    while ms(t) < end_ms {
                        active = !active;
                        events.push((ms(t), Event::Active { service: i, active }));
                        t += rng.exp(if active { 900.0 } else { 600.0 });
                    }
                }
            }
            // Flash crowds.
            if cfg.flash_per_hour > 0.0 && !services.is_empty() {
                let mean = 3600.0 / cfg.flash_per_hour;
                let mut t = rng.exp(mean);
                let mut id = 0;
                while ms(t) < end_ms {
                    let service = rng.below(services.len());
                    let at = rng.below(nodes.len());
                    let factor = rng.range(4.0, 9.0);
                    let extra_rps = services[service].base_rps.max(5.0) * factor;
                    let length = rng.range(60.0, 300.0);
                    events.push((
                        ms(t),
                        Event::FlashStart {
                            service,
                            id,
                            ingress: Self::place(at, &neighbours),
                            extra_rps,
                        },
                    ));
                    events.push((ms(t + length), Event::FlashEnd { service, id }));
                    id += 1;
                    t += rng.exp(mean);
                }
            }
            // Node failures, each followed by a recovery.
            let per_hour = cfg.failures_per_hour.unwrap_or(nodes.len() as f64 / 100.0);
            if per_hour > 0.0 {
                let mean = 3600.0 / per_hour;
                let mut t = rng.exp(mean);
                while ms(t) < end_ms {
                    let node = rng.below(nodes.len());
                    let down = rng.exp(cfg.mean_downtime_s).max(5.0);
                    events.push((ms(t), Event::NodeDown { node }));
                    events.push((ms(t + down), Event::NodeUp { node }));
                    t += rng.exp(mean);
                }
            }
        }
        // Stable: events at one time keep their generation order.
        events.sort_by_key(|(t, _)| *t);
        Ok(Self {
            nodes,
            services,
            events,
            day_s: cfg.day_s,
        })
    }
}

/// Euclidean distance.
pub fn dist(a: (f64, f64), b: (f64, f64)) -> f64 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}
