//! The service specification: the paper's `par` and `QoS` JSON, validated.
//!
//! Owns the spec's JSON form and its validation; it does not store specs
//! ([`crate::repo`] does) nor decide anything from them ([`crate::engine`]).
//!
//! ```text
//! { "par": { "serviceName": "S1", "imageName": "armhfbuild/nginx", "imageSize": "368",
//!            "maxUsers": "50", "startUpTime": "5",
//!            + "port_host": 8002, "port_container": 80, "cpu": "0.5", "memory": "64m", "env": {…},
//!            + "command": […], "healthPath": "/", "replicas": { "min": 1, "max": 8 } },
//!   "QoS": { "responseTime": "5", "availability": "99.99", "numUsers": "100" } }
//! ```
//!
//! `imageSize` is in MB, `startUpTime` and `responseTime` in seconds,
//! `availability` in percent. As in the paper, values may be strings or
//! numbers; anything else is refused with a [`SpecError`] naming the field
//! (`par.maxUsers: true is not a whole number`). The optional deployment
//! fields (marked `+`) are checked by the agent's own descriptor
//! validation, so a spec that validates here makes a descriptor a node
//! accepts. Unknown keys are ignored.

use std::collections::BTreeMap;

use picasso_agent::descriptor::{is_valid_service_name, Descriptor};
use serde::Serialize;
use serde_json::{Map, Value};

/// Largest replica count a spec may ask for.
pub const MAX_REPLICAS: u32 = 1024;

/// Why a spec was refused; the message starts with the field's path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SpecError {
    /// The offending key, e.g. `par.maxUsers`.
    pub field: String,
    /// What is wrong with it, naming the value.
    pub message: String,
}

fn refuse(field: &str, message: impl Into<String>) -> SpecError {
    SpecError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// How many replicas the engine may run, whatever the load says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReplicaBounds {
    /// Fewest replicas (0 lets an on-demand service scale to zero).
    pub min: u32,
    /// Most replicas.
    pub max: u32,
}

/// A validated service specification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceSpec {
    /// `par.serviceName`: the service's name (one name component).
    #[serde(rename = "serviceName")]
    pub service_name: String,
    /// `par.imageName`: the image in the repo that runs it.
    #[serde(rename = "imageName")]
    pub image_name: String,
    /// `par.imageSize`: archive size, MB (the transfer cost of a replica).
    #[serde(rename = "imageSize")]
    pub image_size_mb: f64,
    /// `par.maxUsers`: concurrent users one replica serves before it saturates.
    #[serde(rename = "maxUsers")]
    pub max_users: u32,
    /// `par.startUpTime`: seconds for a replica to be ready once started.
    #[serde(rename = "startUpTime")]
    pub startup_time_s: f64,
    /// `QoS.responseTime`: the response time to keep below, seconds.
    #[serde(rename = "responseTime")]
    pub response_time_s: f64,
    /// `QoS.availability`: percent of time the service must be up.
    pub availability: f64,
    /// `QoS.numUsers`: concurrent users the service must support.
    #[serde(rename = "numUsers")]
    pub num_users: u32,
    /// Replica bounds (`par.replicas`, default `{min: 1, max: 64}`).
    pub replicas: ReplicaBounds,
    /// The deployment fields (port, limits, env, command, health path) as
    /// the descriptor a node is sent, with `replicas` = 1.
    #[serde(skip)]
    pub descriptor: Descriptor,
}

/// A string or a number as text; anything else refused.
fn scalar(field: &str, v: &Value, what: &str) -> Result<String, SpecError> {
    match v {
        Value::String(s) => Ok(s.trim().to_owned()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(refuse(field, format!("{other} is not {what}"))),
    }
}

fn number(field: &str, v: &Value, min: f64, max: f64, unit: &str) -> Result<f64, SpecError> {
    let text = scalar(field, v, unit)?;
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= min && x <= max => Ok(x),
        Ok(_) => Err(refuse(field, format!("{v} is out of range {min}..={max}"))),
        Err(_) => Err(refuse(field, format!("{v} is not {unit}"))),
    }
}

fn whole(field: &str, v: &Value, min: u32, max: u32) -> Result<u32, SpecError> {
    let text = scalar(field, v, "a whole number")?;
    match text.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(_) => Err(refuse(field, format!("{v} is out of range {min}..={max}"))),
        Err(_) => Err(refuse(field, format!("{v} is not a whole number"))),
    }
}

fn object<'a>(field: &str, v: Option<&'a Value>) -> Result<&'a Map<String, Value>, SpecError> {
    match v {
        Some(Value::Object(m)) => Ok(m),
        Some(other) => Err(refuse(field, format!("{other} is not a JSON object"))),
        None => Err(refuse(field, "missing")),
    }
}

fn required<'a>(
    map: &'a Map<String, Value>,
    section: &str,
    key: &str,
) -> Result<&'a Value, SpecError> {
    map.get(key)
        .filter(|v| !v.is_null())
        .ok_or_else(|| refuse(&format!("{section}.{key}"), "missing"))
}

/// The keys of `par` handed to the agent's descriptor validation.
const DESCRIPTOR_KEYS: [&str; 7] = [
    "port_host",
    "port_container",
    "cpu",
    "memory",
    "env",
    "command",
    "healthPath",
];

impl ServiceSpec {
    /// Parses and validates a spec from JSON bytes.
    pub fn from_json(json: &[u8]) -> Result<Self, SpecError> {
        let value: Value =
            serde_json::from_slice(json).map_err(|e| refuse("spec", format!("not JSON: {e}")))?;
        Self::from_value(&value)
    }

    /// Validates a spec given as a JSON value.
    pub fn from_value(value: &Value) -> Result<Self, SpecError> {
        let Value::Object(top) = value else {
            return Err(refuse("spec", format!("{value} is not a JSON object")));
        };
        let par = object("par", top.get("par"))?;
        let qos = object("QoS", top.get("QoS"))?;

        let name_v = required(par, "par", "serviceName")?;
        let service_name = scalar("par.serviceName", name_v, "a service name")?;
        if !is_valid_service_name(&service_name) {
            return Err(refuse(
                "par.serviceName",
                format!("{name_v} is not a service name ([A-Za-z0-9_.-], at most 63)"),
            ));
        }
        let image_v = required(par, "par", "imageName")?;
        let image_name = match image_v {
            Value::String(s) => s.trim().to_owned(),
            other => {
                return Err(refuse(
                    "par.imageName",
                    format!("{other} is not an image name"),
                ))
            }
        };
        let image_size_mb = number(
            "par.imageSize",
            required(par, "par", "imageSize")?,
            0.0,
            1e7,
            "a size in MB",
        )?;
        let max_users = whole(
            "par.maxUsers",
            required(par, "par", "maxUsers")?,
            1,
            1_000_000,
        )?;
        let startup_time_s = number(
            "par.startUpTime",
            required(par, "par", "startUpTime")?,
            0.0,
            86_400.0,
            "a time in seconds",
        )?;
        let response_time_s = number(
            "QoS.responseTime",
            required(qos, "QoS", "responseTime")?,
            0.0,
            86_400.0,
            "a time in seconds",
        )?;
        if response_time_s <= 0.0 {
            return Err(refuse("QoS.responseTime", "must be more than 0"));
        }
        let availability = number(
            "QoS.availability",
            required(qos, "QoS", "availability")?,
            0.0,
            100.0,
            "a percentage",
        )?;
        let num_users = whole(
            "QoS.numUsers",
            required(qos, "QoS", "numUsers")?,
            0,
            100_000_000,
        )?;

        let replicas = match par.get("replicas").filter(|v| !v.is_null()) {
            None => ReplicaBounds { min: 1, max: 64 },
            Some(v) => {
                let m = object("par.replicas", Some(v))?;
                let min = match m.get("min") {
                    Some(v) => whole("par.replicas.min", v, 0, MAX_REPLICAS)?,
                    None => 1,
                };
                let max = match m.get("max") {
                    Some(v) => whole("par.replicas.max", v, 1, MAX_REPLICAS)?,
                    None => 64.max(min),
                };
                if min > max {
                    return Err(refuse(
                        "par.replicas",
                        format!("min {min} is more than max {max}"),
                    ));
                }
                ReplicaBounds { min, max }
            }
        };

        // The deployment fields: the agent's descriptor validation names
        // the field; we prefix it with `par.`.
        let mut d = Map::new();
        d.insert("imageName".into(), Value::String(image_name.clone()));
        d.insert("serviceName".into(), Value::String(service_name.clone()));
        d.insert("maxUsers".into(), Value::from(max_users));
        for k in DESCRIPTOR_KEYS {
            if let Some(v) = par.get(k) {
                d.insert(k.to_owned(), v.clone());
            }
        }
        let descriptor = Descriptor::from_value(&Value::Object(d)).map_err(|e| SpecError {
            field: format!("par.{}", e.field),
            message: e.message,
        })?;

        Ok(Self {
            service_name,
            image_name,
            image_size_mb,
            max_users,
            startup_time_s,
            response_time_s,
            availability,
            num_users,
            replicas,
            descriptor,
        })
    }

    /// The spec in the paper's shape, numbers as numbers (plus the
    /// optional fields that were given).
    pub fn to_value(&self) -> Value {
        let mut par = serde_json::json!({
            "serviceName": self.service_name,
            "imageName": self.image_name,
            "imageSize": self.image_size_mb,
            "maxUsers": self.max_users,
            "startUpTime": self.startup_time_s,
            "replicas": { "min": self.replicas.min, "max": self.replicas.max },
        });
        let d = &self.descriptor;
        if let Some(map) = par.as_object_mut() {
            if let Some(p) = d.port_container {
                map.insert("port_container".into(), p.into());
            }
            if let Some(c) = d.cpu {
                map.insert("cpu".into(), c.into());
            }
            if let Some(m) = d.memory {
                map.insert("memory".into(), m.into());
            }
            if !d.env.is_empty() {
                map.insert(
                    "env".into(),
                    serde_json::to_value(&d.env).unwrap_or_default(),
                );
            }
            if !d.command.is_empty() {
                map.insert("command".into(), d.command.clone().into());
            }
            map.insert("healthPath".into(), d.health_path.clone().into());
        }
        serde_json::json!({
            "par": par,
            "QoS": {
                "responseTime": self.response_time_s,
                "availability": self.availability,
                "numUsers": self.num_users,
            }
        })
    }

    /// The descriptor a node is sent to run `replicas` replicas.
    pub fn descriptor(&self, replicas: u32) -> Descriptor {
        Descriptor {
            replicas,
            ..self.descriptor.clone()
        }
    }

    /// The environment given, name to value.
    pub fn env(&self) -> &BTreeMap<String, String> {
        &self.descriptor.env
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The paper's S1 spec, verbatim (strings).
    pub(crate) const PAPER_S1: &str = r#"{"par":{"serviceName":"S1","imageName":"armhfbuild/nginx",
        "imageSize":"368","maxUsers":"50","startUpTime":"5"},
        "QoS":{"responseTime":"5","availability":"99.99","numUsers":"100"}}"#;

    #[test]
    fn parses_the_papers_spec() {
        let s = ServiceSpec::from_json(PAPER_S1.as_bytes()).unwrap();
        assert_eq!(s.service_name, "S1");
        assert_eq!(s.image_name, "armhfbuild/nginx");
        assert_eq!(s.image_size_mb, 368.0);
        assert_eq!(s.max_users, 50);
        assert_eq!(s.startup_time_s, 5.0);
        assert_eq!(s.response_time_s, 5.0);
        assert_eq!(s.availability, 99.99);
        assert_eq!(s.num_users, 100);
        assert_eq!(s.replicas, ReplicaBounds { min: 1, max: 64 });
        assert_eq!(s.descriptor(3).replicas, 3);
        assert_eq!(s.descriptor.max_users, 50);
    }

    #[test]
    fn numbers_and_strings_are_the_same_and_round_trip() {
        let a = ServiceSpec::from_json(PAPER_S1.as_bytes()).unwrap();
        let b = ServiceSpec::from_value(&json!({
            "par": {"serviceName": "S1", "imageName": "armhfbuild/nginx", "imageSize": 368,
                    "maxUsers": 50, "startUpTime": 5},
            "QoS": {"responseTime": 5, "availability": 99.99, "numUsers": 100}}))
        .unwrap();
        assert_eq!(a, b);
        let again = ServiceSpec::from_value(&a.to_value()).unwrap();
        assert_eq!(a, again);
        let full = ServiceSpec::from_value(&json!({
            "par": {"serviceName": "S2", "imageName": "busybox-httpd", "imageSize": "2.16",
                    "maxUsers": "100", "startUpTime": "1", "port_container": "80", "cpu": "0.5",
                    "memory": "64m", "env": {"MODE": "fast"}, "command": ["/bin/httpd", "-f"],
                    "healthPath": "/index.html", "replicas": {"min": "0", "max": 4}},
            "QoS": {"responseTime": "0.5", "availability": "99", "numUsers": "10"}}))
        .unwrap();
        assert_eq!(full.replicas, ReplicaBounds { min: 0, max: 4 });
        assert_eq!(full.descriptor.memory, Some(64 << 20));
        assert_eq!(full.descriptor.port_container, Some(80));
        assert_eq!(full.env()["MODE"], "fast");
        assert_eq!(ServiceSpec::from_value(&full.to_value()).unwrap(), full);
    }

    #[test]
    fn refusals_name_the_field_and_the_reason() {
        let base: Value = serde_json::from_str(PAPER_S1).unwrap();
        let cases: &[(&str, &str, Value, &str)] = &[
            (
                "par",
                "maxUsers",
                json!(true),
                "par.maxUsers: true is not a whole number",
            ),
            (
                "par",
                "maxUsers",
                json!("lots"),
                "par.maxUsers: \"lots\" is not a whole number",
            ),
            (
                "par",
                "maxUsers",
                json!(0),
                "par.maxUsers: 0 is out of range",
            ),
            (
                "par",
                "imageSize",
                json!([368]),
                "par.imageSize: [368] is not a size in MB",
            ),
            (
                "par",
                "imageSize",
                json!("-1"),
                "par.imageSize: \"-1\" is out of range",
            ),
            (
                "par",
                "serviceName",
                json!("a/b"),
                "par.serviceName: \"a/b\" is not a service name",
            ),
            (
                "par",
                "imageName",
                json!(7),
                "par.imageName: 7 is not an image name",
            ),
            (
                "par",
                "startUpTime",
                json!({"s": 5}),
                "par.startUpTime: {\"s\":5} is not a time",
            ),
            (
                "par",
                "memory",
                json!("lots"),
                "par.memory: \"lots\" is not a memory size",
            ),
            (
                "par",
                "replicas",
                json!({"min": 3, "max": 2}),
                "par.replicas: min 3 is more than max 2",
            ),
            (
                "QoS",
                "availability",
                json!("101"),
                "QoS.availability: \"101\" is out of range",
            ),
            (
                "QoS",
                "responseTime",
                json!(null),
                "QoS.responseTime: missing",
            ),
            (
                "QoS",
                "responseTime",
                json!(0),
                "QoS.responseTime: must be more than 0",
            ),
            (
                "QoS",
                "numUsers",
                json!(1.5),
                "QoS.numUsers: 1.5 is not a whole number",
            ),
        ];
        for (section, key, value, want) in cases {
            let mut v = base.clone();
            v[section][key] = value.clone();
            let e = ServiceSpec::from_value(&v).unwrap_err();
            assert!(
                e.to_string().starts_with(want),
                "{section}.{key}={value}: got {e:?}, want {want}"
            );
        }
        let e = ServiceSpec::from_json(br#"{"par": 3, "QoS": {}}"#).unwrap_err();
        assert_eq!(e.to_string(), "par: 3 is not a JSON object");
        let e = ServiceSpec::from_json(br#"{"par": {}}"#).unwrap_err();
        assert_eq!(e.to_string(), "QoS: missing");
        assert_eq!(ServiceSpec::from_json(b"nope").unwrap_err().field, "spec");
    }
}
