//! The orchestrator's own durable state (`state.json` in the data dir):
//! the chosen policy, the enrolled nodes with their public keys, and what
//! the operator asked for per service (a replica count from `scale`, the
//! nodes named by `deploy --node`).
//!
//! Owns that file's JSON form and its atomic writes (temp file + fsync +
//! rename, through [`crate::repo`]'s writer). The desired placements are
//! the deployer's (`desired.json`), the specs and images the repo's.
//!
//! ```text
//! { "version": 1, "policy": "threshold",
//!   "nodes": { "n1": "<ed25519 public key, hex>" },
//!   "operator": { "S1": { "replicas": 2, "pins": ["n3"] } } }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::repo::{write_atomic, RepoError};
use crate::spec::ServiceSpec;

/// The file name inside the data dir.
pub const STATE_FILE: &str = "state.json";
/// The version of the JSON form.
pub const STATE_VERSION: u32 = 1;

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not the state's JSON.
    #[error("{path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Writing failed.
    #[error("cannot write the orchestrator state: {0}")]
    Write(#[from] RepoError),
}

/// What the operator asked for one service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OperatorIntent {
    /// Exactly this many replicas (`picasso scale`); the policies scale
    /// only within the spec's bounds when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// Nodes that must run a replica (`picasso deploy --node`).
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub pins: BTreeSet<String>,
    /// `picasso deploy` without a node: at least one replica, whatever
    /// the spec's minimum says.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deployed: bool,
}

impl OperatorIntent {
    /// `spec` with its replica bounds as the operator's intent sets them:
    /// a count from `scale` fixes min = max = count (at least the pinned
    /// nodes); `deploy` raises the minimum to one replica per pinned node
    /// and at least one.
    pub fn apply(&self, spec: &ServiceSpec) -> ServiceSpec {
        let mut s = spec.clone();
        let pinned = self.pins.len() as u32;
        match self.replicas {
            Some(n) => {
                let n = n.max(pinned);
                s.replicas.min = n;
                s.replicas.max = n;
            }
            None => {
                let floor = if self.deployed || pinned > 0 {
                    pinned.max(1)
                } else {
                    0
                };
                s.replicas.min = s.replicas.min.max(floor);
                s.replicas.max = s.replicas.max.max(s.replicas.min);
            }
        }
        s
    }
}

/// The durable state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrchestratorState {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// The policy chosen last (by flag, config or API); `None` before any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Enrolled nodes: id → Ed25519 public key, hex.
    #[serde(default)]
    pub nodes: BTreeMap<String, String>,
    /// The operator's intent per service.
    #[serde(default)]
    pub operator: BTreeMap<String, OperatorIntent>,
}

impl Default for OrchestratorState {
    fn default() -> Self {
        Self {
            version: STATE_VERSION,
            policy: None,
            nodes: BTreeMap::new(),
            operator: BTreeMap::new(),
        }
    }
}

impl OrchestratorState {
    /// Reads `path`; a missing file is the empty state.
    pub fn load(path: &Path) -> Result<Self, StateError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(StateError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let corrupt = |reason: String| StateError::Corrupt {
            path: path.to_owned(),
            reason,
        };
        let s: Self = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if s.version != STATE_VERSION {
            return Err(corrupt(format!(
                "version {} (this build reads {STATE_VERSION})",
                s.version
            )));
        }
        Ok(s)
    }

    /// Writes the state to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        // Invariant: plain maps and strings always serialise.
        let json = serde_json::to_vec_pretty(self).expect("state serialises");
        write_atomic(path, &json)?;
        Ok(())
    }
}

/// The file the port book is kept in, inside the data dir.
pub const PORTS_FILE: &str = "ports.json";
/// Host ports reserved per (service, node): replica `k` uses `base + k - 1`.
pub const PORT_BLOCK: u16 = 32;

/// Host ports the orchestrator gives replicas whose spec sets no
/// `port_host`: one block of [`PORT_BLOCK`] ports per (service, node),
/// distinct across the whole cluster (so nodes sharing one host, as on a
/// loopback test bed, never collide), kept durably so a replica keeps its
/// port across restarts.
#[derive(Debug)]
pub struct PortBook {
    path: PathBuf,
    first: u16,
    blocks: std::sync::Mutex<BTreeMap<String, u16>>,
}

impl PortBook {
    /// Opens the book in `dir` handing out blocks from port `first` on.
    pub fn open(dir: &Path, first: u16) -> Result<Self, StateError> {
        let path = dir.join(PORTS_FILE);
        let blocks = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| StateError::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(StateError::Read { path, source }),
        };
        Ok(Self {
            path,
            first,
            blocks: std::sync::Mutex::new(blocks),
        })
    }

    /// The first host port of `service` on `node`, allocated (and saved)
    /// on first use; `None` when the range is exhausted or cannot be saved.
    pub fn port(&self, service: &str, node: &str) -> Option<u16> {
        let key = format!("{service}/{node}");
        let mut b = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = b.get(&key) {
            return Some(*p);
        }
        let used: BTreeSet<u16> = b.values().copied().collect();
        let mut p = self.first;
        while used.contains(&p) {
            p = p.checked_add(PORT_BLOCK)?;
        }
        p.checked_add(PORT_BLOCK - 1)?;
        let mut next = b.clone();
        next.insert(key, p);
        // Invariant: a map of strings to numbers always serialises.
        let json = serde_json::to_vec_pretty(&next).expect("ports serialise");
        if let Err(e) = write_atomic(&self.path, &json) {
            tracing::error!(error = %e, "cannot save the port book");
            return None;
        }
        *b = next;
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(min: u32, max: u32) -> ServiceSpec {
        let json = format!(
            r#"{{"par":{{"serviceName":"S1","imageName":"img","imageSize":"1","maxUsers":"10","startUpTime":"1","replicas":{{"min":{min},"max":{max}}}}},
               "QoS":{{"responseTime":"1","availability":"99","numUsers":"1"}}}}"#
        );
        ServiceSpec::from_json(json.as_bytes()).unwrap()
    }

    #[test]
    fn intent_sets_the_bounds() {
        let s = spec(0, 8);
        let none = OperatorIntent::default().apply(&s);
        assert_eq!((none.replicas.min, none.replicas.max), (0, 8));
        let deployed = OperatorIntent {
            deployed: true,
            ..Default::default()
        }
        .apply(&s);
        assert_eq!((deployed.replicas.min, deployed.replicas.max), (1, 8));
        let pinned = OperatorIntent {
            pins: ["a".to_owned(), "b".to_owned()].into(),
            ..Default::default()
        }
        .apply(&s);
        assert_eq!((pinned.replicas.min, pinned.replicas.max), (2, 8));
        let scaled = OperatorIntent {
            replicas: Some(3),
            pins: ["a".to_owned()].into(),
            ..Default::default()
        }
        .apply(&s);
        assert_eq!((scaled.replicas.min, scaled.replicas.max), (3, 3));
        let zero = OperatorIntent {
            replicas: Some(0),
            ..Default::default()
        }
        .apply(&spec(1, 4));
        assert_eq!((zero.replicas.min, zero.replicas.max), (0, 0));
    }

    #[test]
    fn port_blocks_are_distinct_and_durable() {
        let dir = tempfile::tempdir().unwrap();
        let book = PortBook::open(dir.path(), 20000).unwrap();
        let a = book.port("S1", "n1").unwrap();
        let b = book.port("S1", "n2").unwrap();
        let c = book.port("S2", "n1").unwrap();
        assert_eq!(
            (a, b, c),
            (20000, 20000 + PORT_BLOCK, 20000 + 2 * PORT_BLOCK)
        );
        assert_eq!(book.port("S1", "n1"), Some(a));
        let again = PortBook::open(dir.path(), 20000).unwrap();
        assert_eq!(again.port("S1", "n2"), Some(b));
        assert_eq!(again.port("S3", "n3"), Some(20000 + 3 * PORT_BLOCK));
        let full = PortBook::open(tempfile::tempdir().unwrap().path(), 65500).unwrap();
        assert_eq!(full.port("S", "n"), None);
    }

    #[test]
    fn state_round_trips_and_refuses_corrupt_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATE_FILE);
        assert_eq!(
            OrchestratorState::load(&path).unwrap(),
            OrchestratorState::default()
        );
        let mut s = OrchestratorState {
            policy: Some("qos".to_owned()),
            ..Default::default()
        };
        s.nodes.insert("n1".to_owned(), "ab".repeat(32));
        s.operator.insert(
            "S1".to_owned(),
            OperatorIntent {
                replicas: Some(2),
                ..Default::default()
            },
        );
        s.save(&path).unwrap();
        assert_eq!(OrchestratorState::load(&path).unwrap(), s);
        std::fs::write(&path, b"{\"version\": 1, \"nodes\": 3}").unwrap();
        let e = OrchestratorState::load(&path).unwrap_err().to_string();
        assert!(e.contains("corrupt"), "{e}");
    }
}
