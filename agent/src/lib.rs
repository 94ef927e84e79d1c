//! `picasso-agent`: everything on a PiCasso edge node that is not
//! forwarding. This first layer holds the container runtime seam and the
//! paper's service images.
//!
//! Layout:
//!
//! - [`runtime`]: the [`runtime::Runtime`] trait and its implementations,
//!   Docker through bollard ([`runtime::docker`]), local processes
//!   ([`runtime::process`]) and an in-memory fake ([`runtime::fake`]);
//!   [`runtime::detect`] picks Docker when an engine answers.
//! - [`images`]: builds the paper's `FROM scratch` service images
//!   (busybox httpd, nginx, our tiny `picasso-httpd`) serving the paper's
//!   page, and writes them as `docker save` archives.
//!
//! ```text
//!  agent (later: deploy/stop/remove/list commands, monitoring)
//!        │ Arc<dyn Runtime>
//!        ├── DockerRuntime ── bollard ── Docker engine (API negotiated)
//!        ├── ProcessRuntime ── child processes (PORT=<port_host>)
//!        └── FakeRuntime (tests)
//!  images::build ── bollard build API ── docker save archive ── load_image
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod images;
pub mod runtime;
