//! Driving test-bed nodes directly, as the paper's experiments did: the
//! test bed holds the orchestrator's key, publishes service images by name
//! from one node's forwarder and sends signed `deploy`/`remove` commands
//! to chosen nodes, so each experiment places exactly the replicas its
//! configuration names (1Con-1Pi, 2Con-2Pi, …) with no policy in the way.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use picasso_agent::exec::signed_command;
use picasso_agent::image_repo::{ImagePublisher, SEGMENT_SIZE};
use picasso_agent::keys;
use picasso_forwarder::app::{Client, FaceAddr};
use picasso_tlv::name::Name;
use picasso_tlv::signature::Signer;
use serde_json::{json, Value};

use crate::cluster::Cluster;

/// Sends signed commands to the test bed's nodes and serves images.
pub struct Commander {
    root: Name,
    signer: Signer,
    clients: BTreeMap<String, Client>,
    publishers: Vec<Arc<ImagePublisher>>,
    repo_node: String,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Commander {
    /// Connects to every node's forwarder; images will be served from
    /// `repo_node`'s.
    pub async fn connect(
        cluster: &Cluster,
        orchestrator_key: &Path,
        repo_node: &str,
    ) -> anyhow::Result<Self> {
        let pair = keys::load_key_pair(orchestrator_key)?;
        let signer = pair.signer(Name::from_uri("/picasso/orchestrator/KEY")?);
        let mut clients = BTreeMap::new();
        for n in &cluster.nodes {
            let c = Client::connect(&FaceAddr::Unix(n.unix.clone()))
                .await
                .with_context(|| format!("cannot reach node {}'s forwarder", n.id))?;
            clients.insert(n.id.clone(), c);
        }
        anyhow::ensure!(clients.contains_key(repo_node), "no node {repo_node}");
        Ok(Commander {
            root: Name::from_uri("/picasso")?,
            signer,
            clients,
            publishers: Vec::new(),
            repo_node: repo_node.to_owned(),
        })
    }

    /// Serves `archive` as `/picasso/repo/image/<name>` (a new version)
    /// from the repo node until the commander is dropped.
    pub async fn publish(&mut self, name: &str, tag: &str, archive: &Path) -> anyhow::Result<()> {
        let p = Arc::new(ImagePublisher::from_file(
            &self.root,
            name,
            Some(tag),
            archive,
            unix_ms(),
            SEGMENT_SIZE,
            &self.signer,
        )?);
        p.serve(&self.clients[&self.repo_node]).await?;
        self.publishers.push(p);
        Ok(())
    }

    /// Sends one signed command and returns the node's JSON answer.
    pub async fn command(&self, node: &str, verb: &str, params: &Value) -> anyhow::Result<Value> {
        let client = self
            .clients
            .get(node)
            .with_context(|| format!("no node {node}"))?;
        let i = signed_command(
            &self.root,
            node,
            verb,
            params.to_string().as_bytes(),
            &self.signer,
            Duration::from_secs(180),
        );
        let d = client
            .express(i)
            .await
            .map_err(|e| anyhow::anyhow!("{verb} on {node}: {e}"))?;
        Ok(serde_json::from_slice(&d.content())?)
    }

    /// Deploys `replicas` replicas of `service` (image `image`) on `node`;
    /// fails with the node's reason.
    pub async fn deploy(
        &self,
        node: &str,
        service: &str,
        image: &str,
        replicas: u32,
        extra: Value,
    ) -> anyhow::Result<Value> {
        let port = free_ports(replicas)?;
        let mut d = json!({
            "imageName": image, "serviceName": service, "replicas": replicas,
            "port_host": port, "port_container": 80, "healthPath": "/index.html",
            "maxUsers": 100000,
        });
        if let (Value::Object(m), Value::Object(e)) = (&mut d, extra) {
            m.extend(e);
        }
        let r = self.command(node, "deploy", &d).await?;
        if r.get("error").is_some() {
            bail!("deploy {service} on {node}: {r}");
        }
        Ok(r)
    }

    /// Removes every replica of `service` from `node`.
    pub async fn remove(&self, node: &str, service: &str) -> anyhow::Result<Value> {
        self.command(node, "remove", &json!({"serviceName": service}))
            .await
    }
}

/// The first of `n` consecutive host ports on 127.0.0.1 that no one
/// listens on now (replica k of a deploy gets `port_host + k - 1`; several
/// nodes of the test bed share this host).
pub fn free_ports(n: u32) -> anyhow::Result<u16> {
    for _ in 0..200 {
        let base = 20_000 + rand_port_offset();
        if (0..n).all(|k| std::net::TcpListener::bind(("127.0.0.1", base + k as u16)).is_ok()) {
            return Ok(base);
        }
    }
    bail!("no {n} consecutive free ports found on 127.0.0.1")
}

fn rand_port_offset() -> u16 {
    // Spread over 20000..60000 by time and pid; no need for a real RNG.
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    ((t ^ std::process::id().wrapping_mul(2_654_435_761)) % 40_000) as u16
}
