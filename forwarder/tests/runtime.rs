//! The forwarder task with real faces: in-process, Unix and TCP clients,
//! UDP between two forwarders.

use std::time::Duration;

use picasso_forwarder::app::{Client, ExpressError, FaceAddr};
use picasso_forwarder::face::{in_process, stream, udp};
use picasso_forwarder::fw::ForwarderLimits;
use picasso_forwarder::runtime;
use picasso_tlv::{Data, Interest, Name, Signer};

fn n(s: &str) -> Name {
    Name::from_uri(s).unwrap()
}

async fn producer(client: &Client, prefix: &str, tag: &'static str) {
    client
        .register(n(prefix), move |i: Interest| async move {
            let mut d = Data::new(i.name().clone()).with_content(tag.as_bytes().to_vec());
            d.sign(&Signer::DigestSha256);
            Some(d)
        })
        .await
        .expect("register");
}

#[tokio::test]
async fn in_process_consumer_and_producer() {
    let (h, _j) = runtime::spawn(ForwarderLimits::default());
    let prod = Client::from_app_face(in_process::connect(&h).await.unwrap());
    producer(&prod, "/svc", "hello").await;
    let cons = Client::from_app_face(in_process::connect(&h).await.unwrap());
    let d = cons
        .express(Interest::new(n("/svc/a")).with_lifetime_ms(1000))
        .await
        .unwrap();
    assert_eq!(&d.content()[..], b"hello");
    // No route: Nack(NoRoute) at once, well before the lifetime.
    let t = std::time::Instant::now();
    let r = cons
        .express(Interest::new(n("/nowhere")).with_lifetime_ms(4000))
        .await;
    assert_eq!(r, Err(ExpressError::Nack(150)));
    assert!(t.elapsed() < Duration::from_millis(500));
    h.shutdown();
}

#[tokio::test]
async fn unix_and_tcp_clients() {
    let (h, _j) = runtime::spawn(ForwarderLimits::default());
    let dir = std::env::temp_dir().join(format!("picasso-test-{}", std::process::id()));
    let path = dir.join("fwd.sock");
    let guard = stream::listen_unix(h.clone(), &path).await.unwrap();
    let tcp = stream::listen_tcp(h.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let prod = Client::connect(&FaceAddr::Unix(path.clone()))
        .await
        .unwrap();
    producer(&prod, "/u", "via-unix").await;
    let cons = Client::connect(&FaceAddr::Tcp(tcp.to_string()))
        .await
        .unwrap();
    let d = cons
        .express(Interest::new(n("/u/x")).with_lifetime_ms(1000))
        .await
        .unwrap();
    assert_eq!(&d.content()[..], b"via-unix");
    drop(guard);
    assert!(!path.exists(), "socket file removed");
    h.shutdown();
}

#[tokio::test]
async fn two_forwarders_over_udp() {
    let (a, _ja) = runtime::spawn(ForwarderLimits::default());
    let (b, _jb) = runtime::spawn(ForwarderLimits::default());
    let ua = udp::UdpChannel::bind(
        a.clone(),
        "127.0.0.1:0".parse().unwrap(),
        udp::UdpConfig::default(),
    )
    .await
    .unwrap();
    let ub = udp::UdpChannel::bind(
        b.clone(),
        "127.0.0.1:0".parse().unwrap(),
        udp::UdpConfig::default(),
    )
    .await
    .unwrap();
    // b serves /remote; a routes /remote to b over UDP.
    let prod = Client::from_app_face(in_process::connect(&b).await.unwrap());
    prod.register(n("/remote"), |i: Interest| async move {
        // 5000 bytes: larger than the 1400-byte MTU, so it is fragmented.
        let mut d = Data::new(i.name().clone()).with_content(vec![7u8; 5000]);
        d.sign(&Signer::DigestSha256);
        Some(d)
    })
    .await
    .unwrap();
    let face = ua.connect(ub.local).await.unwrap();
    a.add_route(n("/remote"), face, 10).await.unwrap();
    let cons = Client::from_app_face(in_process::connect(&a).await.unwrap());
    let d = cons
        .express(Interest::new(n("/remote/big")).with_lifetime_ms(2000))
        .await
        .unwrap();
    assert_eq!(d.content().len(), 5000);
    a.shutdown();
    b.shutdown();
}

/// `app::Answer`: a handler's Nack reaches the consumer with its reason, and
/// Data sent with CachePolicy NoCache is not kept by the content store
/// while plain Data is.
#[tokio::test]
async fn handler_answers_nack_and_uncached_data() {
    use picasso_forwarder::app::Answer;
    use picasso_tlv::lp::NackReason;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let (h, _j) = runtime::spawn(ForwarderLimits::default());
    let prod = Client::from_app_face(in_process::connect(&h).await.unwrap());
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    prod.register(n("/ans"), move |i: Interest| {
        seen.fetch_add(1, Ordering::SeqCst);
        async move {
            let mut d = Data::new(i.name().clone()).with_content(b"x".to_vec());
            d.sign(&Signer::DigestSha256);
            match i.name().get(1).map(|c| c.value().to_vec()) {
                Some(v) if v == b"full" => Answer::Nack(NackReason::Congestion),
                Some(v) if v == b"nocache" => Answer::DataNoCache(d),
                _ => Answer::Data(d),
            }
        }
    })
    .await
    .unwrap();
    let cons = Client::from_app_face(in_process::connect(&h).await.unwrap());
    let ask = |s: &str| Interest::new(n(s)).with_lifetime_ms(1000);
    assert_eq!(
        cons.express(ask("/ans/full")).await,
        Err(ExpressError::Nack(NackReason::Congestion.code()))
    );
    for _ in 0..2 {
        cons.express(ask("/ans/nocache")).await.unwrap();
        cons.express(ask("/ans/cached")).await.unwrap();
    }
    // full once, nocache twice (never cached), cached once (then the CS).
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}
