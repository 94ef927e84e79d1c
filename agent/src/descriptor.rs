//! The deployment descriptor: what a `deploy` command asks a node to run.
//!
//! Owns the descriptor's JSON form and its validation. The paper's
//! descriptor is `{ "imageName": "...", "port_host": "80", "port_container":
//! "8083" }`; beside those keys a real deployment needs a service name,
//! a replica count, limits, environment, a command (process runtime), the
//! service's concurrency (`maxUsers`) and the path to probe:
//!
//! ```text
//! { "imageName": "busybox-httpd", "port_host": "8002", "port_container": 80,
//!   "serviceName": "S1", "replicas": 1, "cpu": "0.5", "memory": "64m",
//!   "env": { "MODE": "fast" }, "command": ["/bin/httpd", "-f"],
//!   "maxUsers": "50", "healthPath": "/index.html" }
//! ```
//!
//! `"replicas": k` makes replicas 1..=k run; `"replica": n` instead makes
//! exactly replica `n` run (host port `port_host + n - 1`), leaving the
//! others alone — what an orchestrator adding one replica, or filling a
//! hole left by a removal, asks. Giving both is refused.
//!
//! As in the paper, values may be strings or numbers; anything else is
//! refused with a [`DescriptorError`] that names the field (e.g.
//! `port_host: "abc" is not a port`). Unknown keys are ignored, so more
//! may be added beside these. It does not run anything: [`crate::exec`]
//! does, and only with a descriptor that validated.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

/// Most replicas one command may ask of one node.
pub const MAX_REPLICAS: u32 = 64;
/// Smallest memory limit accepted (Docker refuses less than 6 MB).
pub const MIN_MEMORY: u64 = 6 << 20;

/// A validated deployment descriptor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Descriptor {
    /// The image to run: looked up in the local engine first, then fetched
    /// from `/picasso/repo/image/<imageName>`.
    #[serde(rename = "imageName")]
    pub image_name: String,
    /// The service the replicas belong to (labels, gateway, names);
    /// defaults to the image's base name without its tag.
    #[serde(rename = "serviceName")]
    pub service_name: String,
    /// Host port of replica 1 (replica `k` gets `port_host + k - 1`).
    pub port_host: Option<u16>,
    /// Port the service listens on inside its container.
    pub port_container: Option<u16>,
    /// How many replicas this node should run (numbered 1..=replicas);
    /// ignored when [`Self::replica`] is set.
    pub replicas: u32,
    /// Exactly this replica (1-based) should run; the others are left
    /// as they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica: Option<u32>,
    /// CPU limit per replica, in cores.
    pub cpu: Option<f64>,
    /// Memory limit per replica, in bytes.
    pub memory: Option<u64>,
    /// Environment, name to value.
    pub env: BTreeMap<String, String>,
    /// Program and arguments (the process runtime runs this; Docker
    /// overrides the image's command with it when not empty).
    pub command: Vec<String>,
    /// Concurrent requests one replica takes (0 = no limit).
    #[serde(rename = "maxUsers")]
    pub max_users: u32,
    /// Path the readiness probe GETs.
    #[serde(rename = "healthPath")]
    pub health_path: String,
}

/// Why a descriptor was refused; the message starts with the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct DescriptorError {
    /// The offending key, e.g. `port_host`.
    pub field: String,
    /// What is wrong with it, naming the value.
    pub message: String,
}

fn refuse(field: &str, message: impl Into<String>) -> DescriptorError {
    DescriptorError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// A value the way it appears in a message: strings quoted, others as
/// JSON, cut at 60 characters.
fn shown(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// A string or a number, as text (the paper sends numbers as strings).
fn scalar_text(field: &str, v: &Value, what: &str) -> Result<String, DescriptorError> {
    match v {
        Value::String(s) => Ok(s.trim().to_owned()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(refuse(field, format!("{} is not {what}", shown(other)))),
    }
}

fn port(field: &str, v: &Value) -> Result<u16, DescriptorError> {
    let text = scalar_text(field, v, "a port")?;
    match text.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(refuse(field, format!("{} is not a port", shown(v)))),
    }
}

fn count(field: &str, v: &Value, min: u32, max: u32) -> Result<u32, DescriptorError> {
    let text = scalar_text(field, v, "a whole number")?;
    match text.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(_) => Err(refuse(
            field,
            format!("{} is out of range {min}..={max}", shown(v)),
        )),
        Err(_) => Err(refuse(field, format!("{} is not a whole number", shown(v)))),
    }
}

fn cores(v: &Value) -> Result<f64, DescriptorError> {
    let text = scalar_text("cpu", v, "a number of cores")?;
    match text.parse::<f64>() {
        Ok(c) if c.is_finite() && c > 0.0 && c <= 1024.0 => Ok(c),
        _ => Err(refuse(
            "cpu",
            format!("{} is not a number of cores in (0, 1024]", shown(v)),
        )),
    }
}

/// Bytes from a number or a string with an optional binary unit suffix
/// (`k`, `m`, `g`, with or without `b`/`ib`): `67108864`, `"64m"`, `"64 MB"`.
fn memory(v: &Value) -> Result<u64, DescriptorError> {
    let bad = || refuse("memory", format!("{} is not a memory size", shown(v)));
    let text = scalar_text("memory", v, "a memory size")?.to_ascii_lowercase();
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let scale: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    let bytes = number * scale as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(bad());
    }
    let bytes = bytes as u64;
    if bytes < MIN_MEMORY {
        return Err(refuse(
            "memory",
            format!("{} is less than the 6 MiB minimum", shown(v)),
        ));
    }
    Ok(bytes)
}

/// Names fit for container names, labels and NDN components:
/// `[A-Za-z0-9][A-Za-z0-9_.-]*`, at most 63 characters.
pub fn is_valid_service_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn image_name(v: &Value) -> Result<String, DescriptorError> {
    let Value::String(s) = v else {
        return Err(refuse(
            "imageName",
            format!("{} is not an image name", shown(v)),
        ));
    };
    let ok = !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-/:@".contains(&b));
    if !ok {
        return Err(refuse(
            "imageName",
            format!("{} is not an image name", shown(v)),
        ));
    }
    Ok(s.clone())
}

/// The default service name: the image's last path part without tag or
/// digest (`hyprriot/rpi-busybox-httpd:latest` → `rpi-busybox-httpd`).
fn service_from_image(image: &str) -> String {
    let base = image.rsplit('/').next().unwrap_or(image);
    let base = base.split(['@', ':']).next().unwrap_or(base);
    base.to_owned()
}

fn env(v: &Value) -> Result<BTreeMap<String, String>, DescriptorError> {
    let check_key = |k: &str| {
        if k.is_empty() || k.contains('=') || k.contains('\0') {
            Err(refuse("env", format!("{k:?} is not a variable name")))
        } else {
            Ok(())
        }
    };
    let mut out = BTreeMap::new();
    match v {
        Value::Object(map) => {
            for (k, val) in map {
                check_key(k)?;
                let text = scalar_text(&format!("env.{k}"), val, "a string or number")?;
                out.insert(k.clone(), text);
            }
        }
        Value::Array(items) => {
            for item in items {
                let Value::String(s) = item else {
                    return Err(refuse("env", format!("{} is not KEY=value", shown(item))));
                };
                let Some((k, val)) = s.split_once('=') else {
                    return Err(refuse("env", format!("{s:?} is not KEY=value")));
                };
                check_key(k)?;
                out.insert(k.to_owned(), val.to_owned());
            }
        }
        other => {
            return Err(refuse(
                "env",
                format!("{} is not an object or a list of KEY=value", shown(other)),
            ))
        }
    }
    Ok(out)
}

fn command(v: &Value) -> Result<Vec<String>, DescriptorError> {
    let bad = || refuse("command", format!("{} is not a list of strings", shown(v)));
    let Value::Array(items) = v else {
        return Err(bad());
    };
    items
        .iter()
        .map(|i| i.as_str().map(str::to_owned).ok_or_else(bad))
        .collect()
}

impl Descriptor {
    /// A descriptor for `image` with every optional field at its default.
    pub fn new(image: &str, service: &str) -> Self {
        Self {
            image_name: image.to_owned(),
            service_name: service.to_owned(),
            port_host: None,
            port_container: None,
            replicas: 1,
            replica: None,
            cpu: None,
            memory: None,
            env: BTreeMap::new(),
            command: Vec::new(),
            max_users: 0,
            health_path: "/".to_owned(),
        }
    }

    /// Parses and validates a descriptor from JSON bytes.
    pub fn from_json(json: &[u8]) -> Result<Self, DescriptorError> {
        let value: Value = serde_json::from_slice(json)
            .map_err(|e| refuse("descriptor", format!("not JSON: {e}")))?;
        Self::from_value(&value)
    }

    /// Validates a descriptor given as a JSON value.
    pub fn from_value(value: &Value) -> Result<Self, DescriptorError> {
        let Value::Object(map) = value else {
            return Err(refuse(
                "descriptor",
                format!("{} is not a JSON object", shown(value)),
            ));
        };
        let field = |k: &str| map.get(k).filter(|v| !v.is_null());
        let image = image_name(field("imageName").ok_or_else(|| refuse("imageName", "missing"))?)?;
        let service = match field("serviceName") {
            Some(v) => {
                let s = scalar_text("serviceName", v, "a service name")?;
                if !is_valid_service_name(&s) {
                    return Err(refuse(
                        "serviceName",
                        format!(
                            "{} is not a service name ([A-Za-z0-9_.-], at most 63)",
                            shown(v)
                        ),
                    ));
                }
                s
            }
            None => {
                let s = service_from_image(&image);
                if !is_valid_service_name(&s) {
                    return Err(refuse(
                        "serviceName",
                        format!("missing, and {image:?} gives no usable default"),
                    ));
                }
                s
            }
        };
        let mut d = Descriptor::new(&image, &service);
        d.port_host = field("port_host")
            .map(|v| port("port_host", v))
            .transpose()?;
        d.port_container = field("port_container")
            .map(|v| port("port_container", v))
            .transpose()?;
        if let Some(v) = field("replicas") {
            d.replicas = count("replicas", v, 1, MAX_REPLICAS)?;
        }
        if let Some(v) = field("replica") {
            if field("replicas").is_some() {
                return Err(refuse(
                    "replica",
                    "give either replica (one replica) or replicas (1..=k), not both",
                ));
            }
            d.replica = Some(count("replica", v, 1, MAX_REPLICAS)?);
        }
        let (top, top_field) = match d.replica {
            Some(r) => (r, "replica"),
            None => (d.replicas, "replicas"),
        };
        if let (Some(p), true) = (d.port_host, top > 1) {
            if u32::from(p) + top - 1 > u32::from(u16::MAX) {
                return Err(refuse(
                    top_field,
                    format!("{top_field} {top} from port_host {p} runs past port 65535"),
                ));
            }
        }
        d.cpu = field("cpu").map(cores).transpose()?;
        d.memory = field("memory").map(memory).transpose()?;
        if let Some(v) = field("env") {
            d.env = env(v)?;
        }
        if let Some(v) = field("command") {
            d.command = command(v)?;
        }
        if let Some(v) = field("maxUsers") {
            d.max_users = count("maxUsers", v, 0, 1_000_000)?;
        }
        if let Some(v) = field("healthPath") {
            let p = scalar_text("healthPath", v, "a path")?;
            if !p.starts_with('/') || p.bytes().any(|b| b.is_ascii_control() || b == b' ') {
                return Err(refuse(
                    "healthPath",
                    format!("{} is not an absolute path", shown(v)),
                ));
            }
            d.health_path = p;
        }
        Ok(d)
    }

    /// The JSON form (numbers where the paper has strings; both parse).
    /// With [`Self::replica`] set, `replicas` is left out (both are refused).
    pub fn to_json(&self) -> Vec<u8> {
        // Invariant: every field serializes (strings, numbers, maps of strings).
        let mut v = serde_json::to_value(self).expect("descriptor serializes");
        if let (Some(_), Value::Object(map)) = (self.replica, &mut v) {
            map.remove("replicas");
        }
        serde_json::to_vec(&v).expect("descriptor serializes")
    }

    /// The replica numbers this descriptor asks to run: `[replica]`, or
    /// `1..=replicas`.
    pub fn replica_numbers(&self) -> Vec<u32> {
        match self.replica {
            Some(r) => vec![r],
            None => (1..=self.replicas).collect(),
        }
    }

    /// Host port of replica `replica` (1-based).
    pub fn port_host_of(&self, replica: u32) -> Option<u16> {
        self.port_host
            .and_then(|p| u16::try_from(u32::from(p) + replica.saturating_sub(1)).ok())
    }

    /// The environment as `KEY=value` strings.
    pub fn env_list(&self) -> Vec<String> {
        self.env.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
}

/// The target of `stop` and `remove`: a service and optionally one replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// The service.
    #[serde(rename = "serviceName")]
    pub service_name: String,
    /// One replica, or every replica of the service when `None`.
    pub replica: Option<u32>,
}

impl Target {
    /// Parses `{ "serviceName": "S1", "replica": 2 }` (replica optional).
    pub fn from_json(json: &[u8]) -> Result<Self, DescriptorError> {
        let value: Value = serde_json::from_slice(json)
            .map_err(|e| refuse("descriptor", format!("not JSON: {e}")))?;
        let Value::Object(map): Value = value else {
            return Err(refuse("descriptor", "not a JSON object"));
        };
        let map: Map<String, Value> = map;
        let service = map
            .get("serviceName")
            .ok_or_else(|| refuse("serviceName", "missing"))?;
        let service_name = scalar_text("serviceName", service, "a service name")?;
        if !is_valid_service_name(&service_name) {
            return Err(refuse(
                "serviceName",
                format!("{} is not a service name", shown(service)),
            ));
        }
        let replica = map
            .get("replica")
            .filter(|v| !v.is_null())
            .map(|v| count("replica", v, 1, MAX_REPLICAS))
            .transpose()?;
        Ok(Self {
            service_name,
            replica,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Descriptor, DescriptorError> {
        Descriptor::from_json(json.as_bytes())
    }

    #[test]
    fn the_papers_descriptor_parses_with_strings() {
        let d = parse(
            r#"{"imageName": "hyprriot/rpi-busybox-httpd:latest", "port_host": "80", "port_container": "8083"}"#,
        )
        .unwrap();
        assert_eq!(d.image_name, "hyprriot/rpi-busybox-httpd:latest");
        assert_eq!(d.service_name, "rpi-busybox-httpd");
        assert_eq!(d.port_host, Some(80));
        assert_eq!(d.port_container, Some(8083));
        assert_eq!(d.replicas, 1);
        assert_eq!(d.health_path, "/");
    }

    #[test]
    fn every_field_parses_from_strings_or_numbers() {
        let d = parse(
            r#"{"imageName": "busybox-httpd", "serviceName": "S1", "port_host": 8002,
                "port_container": "80", "replicas": "3", "cpu": 0.5, "memory": "64m",
                "env": {"A": "1", "B": 2}, "command": ["/bin/httpd", "-f"],
                "maxUsers": "50", "healthPath": "/index.html", "extra": [1]}"#,
        )
        .unwrap();
        assert_eq!(d.service_name, "S1");
        assert_eq!(d.replicas, 3);
        assert_eq!(d.port_host_of(3), Some(8004));
        assert_eq!(d.cpu, Some(0.5));
        assert_eq!(d.memory, Some(64 << 20));
        assert_eq!(d.env_list(), ["A=1", "B=2"]);
        assert_eq!(d.command, ["/bin/httpd", "-f"]);
        assert_eq!(d.max_users, 50);
        assert_eq!(d.health_path, "/index.html");
        // The JSON form parses back to the same descriptor.
        assert_eq!(Descriptor::from_json(&d.to_json()).unwrap(), d);
        let d = parse(r#"{"imageName": "x", "memory": 67108864, "env": ["K=v=w"]}"#).unwrap();
        assert_eq!(d.memory, Some(64 << 20));
        assert_eq!(d.env["K"], "v=w");
    }

    #[test]
    fn bad_values_are_refused_naming_the_field() {
        let cases = [
            (
                r#"{"imageName": "x", "port_host": "abc"}"#,
                r#"port_host: "abc" is not a port"#,
            ),
            (
                r#"{"imageName": "x", "port_host": 70000}"#,
                "port_host: 70000 is not a port",
            ),
            (
                r#"{"imageName": "x", "port_container": [80]}"#,
                "port_container: [80] is not a port",
            ),
            (
                r#"{"imageName": "x", "port_host": "0"}"#,
                r#"port_host: "0" is not a port"#,
            ),
            (r#"{"port_host": "80"}"#, "imageName: missing"),
            (
                r#"{"imageName": "a b"}"#,
                r#"imageName: "a b" is not an image name"#,
            ),
            (r#"{"imageName": 5}"#, "imageName: 5 is not an image name"),
            (
                r#"{"imageName": "x", "serviceName": "../etc"}"#,
                "serviceName: \"../etc\" is not a service name ([A-Za-z0-9_.-], at most 63)",
            ),
            (
                r#"{"imageName": "x", "replicas": 0}"#,
                "replicas: 0 is out of range 1..=64",
            ),
            (
                r#"{"imageName": "x", "replicas": "two"}"#,
                r#"replicas: "two" is not a whole number"#,
            ),
            (
                r#"{"imageName": "x", "cpu": "-1"}"#,
                r#"cpu: "-1" is not a number of cores in (0, 1024]"#,
            ),
            (
                r#"{"imageName": "x", "memory": "64 parsecs"}"#,
                r#"memory: "64 parsecs" is not a memory size"#,
            ),
            (
                r#"{"imageName": "x", "memory": 1000}"#,
                "memory: 1000 is less than the 6 MiB minimum",
            ),
            (
                r#"{"imageName": "x", "env": "A=1"}"#,
                r#"env: "A=1" is not an object or a list of KEY=value"#,
            ),
            (
                r#"{"imageName": "x", "env": {"A": {}}}"#,
                "env.A: {} is not a string or number",
            ),
            (
                r#"{"imageName": "x", "command": "httpd -f"}"#,
                r#"command: "httpd -f" is not a list of strings"#,
            ),
            (
                r#"{"imageName": "x", "maxUsers": -3}"#,
                "maxUsers: -3 is not a whole number",
            ),
            (
                r#"{"imageName": "x", "healthPath": "index"}"#,
                r#"healthPath: "index" is not an absolute path"#,
            ),
            (
                r#"{"imageName": "x", "port_host": 65535, "replicas": 2}"#,
                "replicas: replicas 2 from port_host 65535 runs past port 65535",
            ),
            (
                r#"{"imageName": "x", "port_host": 65000, "replica": 600}"#,
                "replica: 600 is out of range 1..=64",
            ),
            (
                r#"{"imageName": "x", "port_host": 65535, "replica": "3"}"#,
                "replica: replica 3 from port_host 65535 runs past port 65535",
            ),
            (
                r#"{"imageName": "x", "replica": "first"}"#,
                r#"replica: "first" is not a whole number"#,
            ),
            (
                r#"{"imageName": "x", "replica": 2, "replicas": 2}"#,
                "replica: give either replica (one replica) or replicas (1..=k), not both",
            ),
            ("[1]", "descriptor: [1] is not a JSON object"),
        ];
        for (json, want) in cases {
            let err = parse(json).unwrap_err();
            assert_eq!(err.to_string(), want, "for {json}");
            assert!(want.starts_with(&format!("{}:", err.field)), "{err:?}");
        }
        assert!(parse("{")
            .unwrap_err()
            .to_string()
            .starts_with("descriptor: not JSON"));
    }

    #[test]
    fn one_replica_or_a_count() {
        let d = parse(r#"{"imageName": "x", "port_host": 8000, "replica": "3"}"#).unwrap();
        assert_eq!((d.replica, d.replica_numbers()), (Some(3), vec![3]));
        assert_eq!(d.port_host_of(3), Some(8002));
        // The JSON form leaves `replicas` out and parses back the same.
        let json: Value = serde_json::from_slice(&d.to_json()).unwrap();
        assert_eq!(
            (json["replica"].as_u64(), json.get("replicas")),
            (Some(3), None)
        );
        assert_eq!(Descriptor::from_json(&d.to_json()).unwrap(), d);
        let d = parse(r#"{"imageName": "x", "replicas": 2}"#).unwrap();
        assert_eq!((d.replica, d.replica_numbers()), (None, vec![1, 2]));
        assert!(serde_json::from_slice::<Value>(&d.to_json()).unwrap()["replica"].is_null());
    }

    #[test]
    fn targets_parse() {
        let t = Target::from_json(br#"{"serviceName": "S1", "replica": "2"}"#).unwrap();
        assert_eq!(t.replica, Some(2));
        let t = Target::from_json(br#"{"serviceName": "S1"}"#).unwrap();
        assert_eq!(t.replica, None);
        let e = Target::from_json(br#"{"replica": 1}"#).unwrap_err();
        assert_eq!(e.to_string(), "serviceName: missing");
    }
}
