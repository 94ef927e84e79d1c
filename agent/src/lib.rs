//! `picasso-agent`: everything on an edge node that is not forwarding.
//!
//! - [`gateway`]: the service gateway, NDN Interests for
//!   `/picasso/svc/<service>/…` to HTTP requests to the node's local
//!   replicas, with health checks, least-outstanding balancing and
//!   Nack(Congestion) when every replica is at maxUsers.
//! - [`ingress`]: the HTTP ingress, HTTP requests to Interests and the Data
//!   back to HTTP responses.
//!
//! ```text
//! HTTP client ─► ingress ─► forwarder ─► (neighbour forwarder ─►) gateway ─► replica (HTTP)
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod gateway;
pub mod ingress;
