//! The latest monitoring report in the Prometheus text exposition format
//! (version 0.0.4): node, container and gateway gauges, plus the agent
//! process's own CPU time and resident memory.
//!
//! Owns the rendering only; the node serves it at `GET /metrics`.

use std::fmt::Write;

use super::schema::MonitorReport;
use super::ProcessUsage;

/// The Content-Type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Escapes a label value (backslash, double quote, newline).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Out {
    text: String,
}

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{k}=\"{}\"", escape(v));
            }
            self.text.push('}');
        }
        if value.is_finite() {
            let _ = writeln!(self.text, " {value}");
        } else {
            let _ = writeln!(self.text, " NaN");
        }
    }

    /// One family with one sample.
    fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.family(name, "gauge", help);
        self.sample(name, labels, value);
    }
}

/// Renders `report` (and `process`, the agent's own use) as Prometheus text.
pub fn render(report: &MonitorReport, process: &ProcessUsage, samples_total: u64) -> String {
    let mut o = Out {
        text: String::with_capacity(4096),
    };
    let node = report.pi_id.as_str();
    let n = &report.node;
    let nl: &[(&str, &str)] = &[("node", node)];
    o.gauge(
        "picasso_node_cpu_usage_percent",
        "CPU in use, percent of all cores.",
        nl,
        n.cpu_percent,
    );
    o.family(
        "picasso_node_load_average",
        "gauge",
        "Load average over 1, 5 and 15 minutes.",
    );
    for (window, v) in ["1m", "5m", "15m"].iter().zip(n.load_average) {
        o.sample(
            "picasso_node_load_average",
            &[("node", node), ("window", window)],
            v,
        );
    }
    o.gauge(
        "picasso_node_memory_total_bytes",
        "Total memory.",
        nl,
        n.mem_total_bytes as f64,
    );
    o.gauge(
        "picasso_node_memory_used_bytes",
        "Memory in use (total less available).",
        nl,
        n.mem_used_bytes as f64,
    );
    o.gauge(
        "picasso_node_disk_total_bytes",
        "Size of the disk holding the node's data.",
        nl,
        n.disk_total_bytes as f64,
    );
    o.gauge(
        "picasso_node_disk_available_bytes",
        "Space left on that disk.",
        nl,
        n.disk_available_bytes as f64,
    );
    o.gauge(
        "picasso_node_cpu_cores",
        "Logical CPUs.",
        nl,
        n.cpu_cores as f64,
    );
    o.gauge(
        "picasso_node_containers",
        "Containers (or processes) the node runs, any state.",
        nl,
        report.containers.len() as f64,
    );
    o.gauge(
        "picasso_monitor_sample_seconds",
        "How long the latest monitoring sample took.",
        nl,
        n.sample_micros as f64 / 1e6,
    );
    o.gauge(
        "picasso_monitor_timestamp_seconds",
        "When the latest monitoring sample was taken (Unix time).",
        nl,
        report.timestamp as f64 / 1e3,
    );
    o.family(
        "picasso_monitor_samples_total",
        "counter",
        "Monitoring samples taken since start.",
    );
    o.sample("picasso_monitor_samples_total", nl, samples_total as f64);
    o.family(
        "process_cpu_seconds_total",
        "counter",
        "CPU time (user + system) of the node process.",
    );
    o.sample("process_cpu_seconds_total", &[], process.cpu.as_secs_f64());
    o.gauge(
        "process_resident_memory_bytes",
        "Resident memory of the node process.",
        &[],
        process.rss_bytes as f64,
    );

    let families: [(&str, &str, &str); 4] = [
        (
            "picasso_container_memory_bytes",
            "gauge",
            "Container memory in use.",
        ),
        (
            "picasso_container_cpu_usage_percent",
            "gauge",
            "Container CPU use since the previous sample, percent of one core.",
        ),
        (
            "picasso_container_cpu_seconds_total",
            "counter",
            "Container cumulative CPU time.",
        ),
        (
            "picasso_container_running",
            "gauge",
            "1 if the container runs, else 0.",
        ),
    ];
    for (i, (name, kind, help)) in families.iter().enumerate() {
        if report.containers.is_empty() {
            break;
        }
        o.family(name, kind, help);
        for c in &report.containers {
            let service = c.service.as_deref().unwrap_or("");
            let labels = [
                ("node", node),
                ("id", c.id.as_str()),
                ("name", c.bare_name()),
                ("image", c.image.as_str()),
                ("service", service),
            ];
            let value = match i {
                0 => c.mem_bytes().unwrap_or(0) as f64,
                1 => match c.cpu_percent {
                    Some(p) => p,
                    None => continue,
                },
                2 => c.cpu_total_ns().unwrap_or(0) as f64 / 1e9,
                _ => f64::from(u8::from(c.state == "running")),
            };
            o.sample(name, &labels, value);
        }
    }

    let families: [(&str, &str, &str); 8] = [
        (
            "picasso_service_requests_per_second",
            "gauge",
            "Completed requests per second over the last 10 s.",
        ),
        (
            "picasso_service_requests_in_flight",
            "gauge",
            "Requests sent to replicas and not yet answered.",
        ),
        (
            "picasso_service_requests_total",
            "counter",
            "Requests sent to replicas.",
        ),
        (
            "picasso_service_success_ratio",
            "gauge",
            "Share of recent requests that succeeded.",
        ),
        (
            "picasso_service_latency_p50_seconds",
            "gauge",
            "Median latency of recent requests.",
        ),
        (
            "picasso_service_latency_p95_seconds",
            "gauge",
            "95th-percentile latency of recent requests.",
        ),
        (
            "picasso_service_congestion_nacks_total",
            "counter",
            "Nack(Congestion) answered because every replica was full.",
        ),
        (
            "picasso_service_healthy_replicas",
            "gauge",
            "Healthy local replicas.",
        ),
    ];
    for (i, (name, kind, help)) in families.iter().enumerate() {
        if report.services.is_empty() {
            break;
        }
        o.family(name, kind, help);
        for s in &report.services {
            let labels = [("node", node), ("service", s.service.as_str())];
            let value = match i {
                0 => s.requests_per_sec,
                1 => s.in_flight as f64,
                2 => s.requests_total as f64,
                3 => s.success_rate,
                4 => match s.latency_p50_ms {
                    Some(ms) => ms / 1e3,
                    None => continue,
                },
                5 => match s.latency_p95_ms {
                    Some(ms) => ms / 1e3,
                    None => continue,
                },
                6 => s.congestion_nacks as f64,
                _ => s.healthy_replicas as f64,
            };
            o.sample(name, &labels, value);
        }
    }
    if report
        .services
        .iter()
        .any(|s| !s.replica_requests.is_empty())
    {
        let name = "picasso_service_replica_requests_total";
        o.family(
            name,
            "counter",
            "Requests sent to each local replica since it was added.",
        );
        for s in &report.services {
            for (replica, n) in &s.replica_requests {
                let labels = [
                    ("node", node),
                    ("service", s.service.as_str()),
                    ("replica", replica.as_str()),
                ];
                o.sample(name, &labels, *n as f64);
            }
        }
    }
    o.text
}
