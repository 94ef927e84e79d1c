//! `picasso-orchestrator`: the orchestrator — the service repo, the
//! cluster view, the orchestration engine with its policies, the deployer,
//! and the process that ties them together with its HTTP API.
//!
//! - [`spec`]: the service specification (the paper's `par`/`QoS` JSON),
//!   validated; refusals name the field.
//! - [`repo`]: the service repo: specs and `docker save` archives stored
//!   durably on disk (temp file + fsync + rename, verified on open) and
//!   served by name under `/picasso/repo/spec/…` and `/picasso/repo/image/…`.
//! - [`view`]: the read-only cluster snapshot the engine decides on, built
//!   from the nodes' monitoring reports.
//! - [`engine`]: the pure decision function (view, specs, clock, state) →
//!   plan, the [`engine::Policy`] seam (the paper's "algorithm
//!   repository": `threshold`, `qos`, `on-demand`), the availability pass
//!   every policy shares, and the response-time model ([`engine::model`]).
//! - [`deployer`]: carries an [`engine::Plan`] out with signed commands,
//!   keeps the desired state durably (`desired.json`), reconciles it with
//!   the view every tick (backoff while a node is unreachable) and reports
//!   deployments owed back into the view's `in_flight`.
//!
//! - [`sim`]: `picasso sim`, a discrete-event simulator that drives
//!   [`engine::plan`] with thousands of synthetic nodes and services and
//!   compares the policies.
//! - [`monitoring`]: the monitoring manager: polls every enrolled node's
//!   `/picasso/node/<id>/monitor`, verifies its signature, keeps a time
//!   series and reachability per node and builds the [`view::ClusterView`].
//!
//! - [`state`]: the orchestrator's durable state (`state.json`): policy,
//!   enrolled nodes, the operator's intent per service; and the host-port
//!   book (`ports.json`).
//! - [`server`]: the orchestrator process (`picasso orchestrator`): an
//!   embedded forwarder, the repo served by name, monitoring, the tick
//!   loop (view → plan → deployer) and the decision log.
//! - [`api`]: its HTTP JSON API and Prometheus `/metrics`.
//! - [`client`]: a blocking client of that API for the CLI.
//!
//! ```text
//!  /picasso/node/<id>/monitor ─► monitoring (verify) ─► view::ClusterView ─┐
//!  repo::Repo ── specs ────────────────────────────────────────────────────┼─► engine::plan(view, specs, now, state, policy, cfg)
//!  engine::EngineState (from the previous tick) ───────────────────────────┘         │
//!                                                                                    ├─► Plan { steps: Deploy | Remove, each with a reason }
//!                                                                                    └─► EngineState for the next tick
//!  Plan ──► deployer ──► /picasso/node/<id>/cmd/deploy ──► node ──► ImageFetcher ──► repo
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod client;
pub mod deployer;
pub mod engine;
pub mod monitoring;
pub mod repo;
pub mod server;
pub mod sim;
pub mod spec;
pub mod state;
pub mod view;
