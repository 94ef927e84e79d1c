//! The process runtime with our static picasso-httpd: run it on a free
//! 127.0.0.1 port with `PORT`, fetch the paper's page and picture, stats,
//! list, stop, remove; and picasso-httpd's keep-alive.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use picasso_agent::images;
use picasso_agent::runtime::process::ProcessRuntime;
use picasso_agent::runtime::{managed_labels, ContainerSpec, ContainerState, Runtime};

/// A directory with the paper's page, removed on drop.
struct Www(std::path::PathBuf);

impl Www {
    fn new(tag: &str) -> anyhow::Result<Self> {
        let dir = common::workspace()
            .join("target/www-test")
            .join(format!("{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("index.html"), images::page_html())?;
        std::fs::write(dir.join("image.jpg"), images::page_jpeg()?)?;
        Ok(Www(dir))
    }
}

impl Drop for Www {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn spec(www: &Www, port: u16) -> anyhow::Result<ContainerSpec> {
    Ok(ContainerSpec {
        name: "tinyhttpd-1".to_owned(),
        image: "picasso/tinyhttpd:1".to_owned(),
        command: vec![
            common::static_httpd()?.display().to_string(),
            "--root".to_owned(),
            www.0.display().to_string(),
        ],
        host_ip: "127.0.0.1".to_owned(),
        port_host: Some(port),
        port_container: Some(port),
        labels: managed_labels("tinyhttpd", 1, "test-node"),
        ..Default::default()
    })
}

#[tokio::test]
async fn process_runtime_serves_the_page_with_picasso_httpd() -> anyhow::Result<()> {
    let www = Www::new("proc")?;
    let rt = ProcessRuntime::new();
    let port = common::free_port()?;
    let id = rt.create(&spec(&www, port)?).await?;
    rt.start(&id).await?;

    let page = tokio::task::spawn_blocking(move || {
        common::get_when_up(port, "/index.html", Duration::from_secs(10))
    })
    .await??;
    assert_eq!(page.status, 200);
    assert_eq!(page.body, images::page_html().as_bytes());
    assert_eq!(page.header("cache-control"), Some("public, max-age=60"));
    let picture = tokio::task::spawn_blocking(move || common::get(port, "/image.jpg")).await??;
    assert_eq!(picture.body, images::page_jpeg()?);
    let missing = tokio::task::spawn_blocking(move || common::get(port, "/nope.html")).await??;
    assert_eq!(missing.status, 404);

    let stats = rt.stats(&id).await?;
    assert!(stats.memory_bytes > 0, "{stats:?}");
    let listed = rt
        .list(&managed_labels("tinyhttpd", 1, "test-node"))
        .await?;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, ContainerState::Running);
    assert!(listed[0].status.starts_with("Up "), "{}", listed[0].status);
    assert_eq!(listed[0].port_host, Some(port));

    rt.stop(&id, Duration::from_secs(5)).await?;
    let listed = rt.list(&BTreeMap::new()).await?;
    assert_eq!(listed[0].state, ContainerState::Exited);
    assert!(
        tokio::task::spawn_blocking(move || common::get(port, "/index.html"))
            .await?
            .is_err(),
        "still answering after stop"
    );
    rt.remove(&id, false).await?;
    assert!(rt.list(&BTreeMap::new()).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn picasso_httpd_keeps_connections_alive() -> anyhow::Result<()> {
    let www = Www::new("keepalive")?;
    let rt = ProcessRuntime::new();
    let port = common::free_port()?;
    let id = rt.create(&spec(&www, port)?).await?;
    rt.start(&id).await?;
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        common::get_when_up(port, "/", Duration::from_secs(10))?;
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        for path in ["/index.html", "/image.jpg", "/"] {
            write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")?;
            let r = common::read_response(&mut stream)?;
            assert_eq!(r.status, 200, "{path}");
            assert_eq!(r.header("connection"), Some("keep-alive"));
        }
        write!(stream, "GET /../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n")?;
        assert_eq!(common::read_response(&mut stream)?.status, 400);
        Ok(())
    })
    .await??;
    // Dropping the runtime kills the child.
    drop(rt);
    let _ = id;
    assert!(
        tokio::task::spawn_blocking(move || common::get(port, "/"))
            .await?
            .is_err(),
        "picasso-httpd outlived its runtime"
    );
    Ok(())
}
