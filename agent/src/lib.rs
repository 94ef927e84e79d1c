//! `picasso-agent`: everything on a PiCasso edge node that is not
//! forwarding.
//!
//! - [`runtime`]: the [`runtime::Runtime`] trait and its implementations,
//!   Docker through bollard ([`runtime::docker`]), local processes
//!   ([`runtime::process`]) and an in-memory fake ([`runtime::fake`]);
//!   [`runtime::detect`] picks Docker when an engine answers.
//! - [`images`]: builds the paper's `FROM scratch` service images
//!   (busybox httpd, nginx, our tiny `picasso-httpd`) serving the paper's
//!   page, and writes them as `docker save` archives.
//! - [`gateway`]: the service gateway, NDN Interests for
//!   `/picasso/svc/<service>/…` to HTTP requests to the node's local
//!   replicas, with health checks, least-outstanding balancing and
//!   Nack(Congestion) when every replica is at maxUsers.
//! - [`descriptor`]: the deployment descriptor (the paper's `imageName`,
//!   `port_host`, `port_container` plus service name, limits, …) and its
//!   validation.
//! - [`exec`]: service execution, the signed `/picasso/node/<id>/cmd/…`
//!   commands (deploy, stop, remove, list), rollback and adoption.
//! - [`image_repo`]: images by name, `/picasso/repo/image/<image>/…`: the
//!   signed manifest, a publisher, and the resumable pipelined fetcher.
//! - [`ingress`]: the HTTP ingress, HTTP requests to Interests and the Data
//!   back to HTTP responses.
//! - [`monitor`]: the monitoring agent, node/container/service figures
//!   sampled every interval and served as signed JSON Data at
//!   `/picasso/node/<id>/monitor` ([`monitor::schema`] is the JSON, shared
//!   with the orchestrator).
//! - [`keys`]: Ed25519 key files (`picasso keygen`, the node key).
//! - [`loadgen`]: the ab-like load generator of `picasso bench http|ndn`
//!   and the test bed: c users, n requests, HTTP to a URL or Interests for
//!   a service name, an exact report (success rate, failures by kind,
//!   latency percentiles, throughput) and live progress counts.
//! - [`node`]: the node process (`picasso node`): forwarder (embedded or
//!   external), runtime, gateway, monitoring agent, ingress, `/metrics`.
//!
//! ```text
//! HTTP client ─► ingress ─► forwarder ─► (neighbour forwarder ─►) gateway ─► replica (HTTP)
//!                                                                              │
//!  Arc<dyn Runtime> ── DockerRuntime (bollard) | ProcessRuntime | FakeRuntime ─┘
//!  images::build ── bollard build API ── docker save archive ── load_image
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod descriptor;
pub mod exec;
pub mod gateway;
pub mod image_repo;
pub mod images;
pub mod ingress;
pub mod keys;
pub mod loadgen;
pub mod monitor;
pub mod node;
pub mod runtime;
