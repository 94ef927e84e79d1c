//! One node for trying the ingress by hand (e.g. with `ab`): a forwarder,
//! a gateway, an ingress on 127.0.0.1:8080 (or the first argument), and a
//! replica of service `hello` — a tiny HTTP server on 127.0.0.1:8081 that
//! answers `hello` (uncacheable) — so `ab http://127.0.0.1:8080/hello/x`
//! can be compared with `ab http://127.0.0.1:8081/x`. Ctrl-C stops it.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use picasso_agent::gateway::{Gateway, GatewayConfig, ReplicaEndpoint};
use picasso_agent::ingress::{Ingress, IngressConfig};
use picasso_forwarder::app::Client;
use picasso_forwarder::face::in_process;
use picasso_forwarder::fw::ForwarderLimits;
use picasso_forwarder::runtime;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into())
        .parse()?;
    let replica = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
    let replica_addr = replica.local_addr()?;
    tokio::spawn(async move {
        while let Ok((s, _)) = replica.accept().await {
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|_req| async {
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                        b"hello\n",
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    let (fwd, _) = runtime::spawn(ForwarderLimits::default());
    let gateway = Gateway::new(
        Client::from_app_face(in_process::connect(&fwd).await?),
        GatewayConfig::default(),
    );
    gateway.add_replica(
        "hello",
        ReplicaEndpoint {
            id: "r1".into(),
            addr: replica_addr,
            max_users: 0,
        },
    );
    let ingress = Ingress::bind(
        Client::from_app_face(in_process::connect(&fwd).await?),
        IngressConfig {
            listen,
            ..IngressConfig::default()
        },
    )
    .await?;
    println!(
        "ingress http://{}/hello/…  replica http://{replica_addr}/…",
        ingress.local_addr()?
    );
    let stop = CancellationToken::new();
    tokio::spawn(ingress.run(stop.clone()));
    tokio::signal::ctrl_c().await?;
    stop.cancel();
    println!("{:#?}", gateway.metrics());
    Ok(())
}
