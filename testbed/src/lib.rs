//! `picasso-testbed`: PiCasso's main job on one machine — an orchestrator
//! and several emulated Raspberry Pis, each a separate `picasso` process
//! with its own forwarder, linked over UDP — and the paper's experiments
//! run on it.
//!
//! - [`cluster`]: starting and stopping the processes, keys, topology.
//! - [`cpu`]: one cgroup per node with a CPU quota (an emulated Pi).
//! - [`links`]: UDP relays that give each link the paper's 5 ms RTT.
//! - [`services`]: the sample services' images and specs.
//! - [`api`]: an HTTP JSON client for the orchestrator's API.
//! - [`demo`]: `picasso testbed`, the guided run with its summary.
//! - [`direct`]: signed commands and image publishing straight to nodes.
//! - [`experiments`]: the paper's experiments and the report.
//! - [`plot`]: PNG charts for the report.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod cluster;
pub mod cpu;
pub mod demo;
pub mod direct;
pub mod experiments;
pub mod links;
pub mod plot;
pub mod services;
