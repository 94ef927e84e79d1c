//! NFD-compatible management against the running forwarder task: every
//! command and dataset through in-process clients, both command forms,
//! defaults and echoed parameters, the error codes, `/localhop/nfd` from a
//! non-local (UDP) face with trusted keys, and multi-segment datasets.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use picasso_forwarder::app::{local_nfd, Client, ExpressError, RegisterError};
use picasso_forwarder::face::{in_process, stream, udp};
use picasso_forwarder::fw::ForwarderLimits;
use picasso_forwarder::mgmt::MgmtConfig;
use picasso_forwarder::runtime::{self, ForwarderHandle};
use picasso_forwarder::FaceId;
use picasso_tlv::mgmt::{
    decode_list, ControlParameters, ControlResponse, CsInfo, FacePersistency, FaceStatus, FibEntry,
    ForwarderStatus, MgmtTlv, RibEntry, RouteOrigin, StrategyChoice, CS_FLAG_ENABLE_ADMIT,
    CS_FLAG_ENABLE_SERVE, ROUTE_FLAG_CAPTURE, ROUTE_FLAG_CHILD_INHERIT,
};
use picasso_tlv::{Component, Interest, Name, Signer, Verifier};

fn n(s: &str) -> Name {
    Name::from_uri(s).unwrap()
}

async fn client(h: &ForwarderHandle) -> (Client, FaceId) {
    let f = in_process::connect(h).await.unwrap();
    let id = f.face;
    (Client::from_app_face(f), id)
}

/// Sends a command and returns the ControlResponse whatever its status.
async fn cmd(c: &Client, module: &str, verb: &str, p: ControlParameters) -> ControlResponse {
    c.command_response(&local_nfd(), module, verb, &p, &Signer::DigestSha256)
        .await
        .unwrap()
}

async fn dataset<T: MgmtTlv>(c: &Client, path: &str) -> Vec<T> {
    let content = c.dataset(&n(path)).await.unwrap();
    decode_list(content).unwrap()
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test]
async fn rib_register_both_forms_with_defaults_and_list() {
    let (h, _j) = runtime::spawn(ForwarderLimits::default());
    let (c, me) = client(&h).await;
    // v0.3 signed Interest: defaults filled in and echoed.
    let r = cmd(
        &c,
        "rib",
        "register",
        ControlParameters {
            name: Some(n("/app")),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status_code, 200, "{}", r.status_text);
    let p = r.parameters().unwrap();
    assert_eq!(p.name, Some(n("/app")));
    assert_eq!(p.face_id, Some(me.0));
    assert_eq!(p.origin, Some(RouteOrigin::APP));
    assert_eq!(p.cost, Some(0));
    assert_eq!(p.flags, Some(ROUTE_FLAG_CHILD_INHERIT));

    // The older command-Interest form (python-ndn's make_command).
    let params = ControlParameters {
        name: Some(n("/old")),
        cost: Some(7),
        origin: Some(RouteOrigin::STATIC),
        flags: Some(ROUTE_FLAG_CAPTURE),
        expiration_period: Some(Duration::from_secs(60)),
        ..Default::default()
    };
    let prefix = local_nfd()
        .append_str("rib")
        .append_str("register")
        .append(&Component::generic(params.encode()));
    let i = Interest::new_command(&prefix, &Signer::DigestSha256, unix_ms(), rand::random())
        .with_lifetime_ms(2000);
    let d = c.express(i).await.unwrap();
    let r = ControlResponse::decode(d.content()).unwrap();
    assert_eq!(r.status_code, 200, "{}", r.status_text);
    let p = r.parameters().unwrap();
    assert_eq!(p.face_id, Some(me.0));
    assert_eq!((p.cost, p.origin), (Some(7), Some(RouteOrigin::STATIC)));
    assert_eq!(p.flags, Some(ROUTE_FLAG_CAPTURE));

    let rib: Vec<RibEntry> = dataset(&c, "/localhost/nfd/rib/list").await;
    let app = rib.iter().find(|e| e.name == n("/app")).unwrap();
    assert_eq!(app.routes.len(), 1);
    assert_eq!(app.routes[0].face_id, me.0);
    let old = rib.iter().find(|e| e.name == n("/old")).unwrap();
    assert_eq!(old.routes[0].cost, 7);
    let left = old.routes[0].expiration_period.unwrap();
    assert!(left <= Duration::from_secs(60) && left > Duration::from_secs(50));

    // unregister: FaceId and Origin defaults echoed; the route is gone.
    let r = cmd(
        &c,
        "rib",
        "unregister",
        ControlParameters {
            name: Some(n("/app")),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status_code, 200);
    assert_eq!(r.parameters().unwrap().face_id, Some(me.0));
    assert_eq!(r.parameters().unwrap().origin, Some(RouteOrigin::APP));
    let rib: Vec<RibEntry> = dataset(&c, "/localhost/nfd/rib/list").await;
    assert!(rib.iter().all(|e| e.name != n("/app")));
    h.shutdown();
}

#[tokio::test]
async fn errors_400_403_410_501() {
    let (h, _j) = runtime::spawn(ForwarderLimits::default());
    let (c, _) = client(&h).await;
    // Missing required field.
    let r = cmd(&c, "rib", "register", ControlParameters::default()).await;
    assert_eq!(r.status_code, 400);
    assert!(r.status_text.contains("Name"), "{}", r.status_text);
    // A field the verb does not take.
    let r = cmd(
        &c,
        "fib",
        "add-nexthop",
        ControlParameters {
            name: Some(n("/x")),
            capacity: Some(1),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status_code, 400);
    assert!(r.status_text.contains("Capacity"), "{}", r.status_text);
    // Unknown verb.
    let r = cmd(&c, "rib", "frobnicate", ControlParameters::default()).await;
    assert_eq!(r.status_code, 501);
    // A face that does not exist.
    let r = cmd(
        &c,
        "fib",
        "add-nexthop",
        ControlParameters {
            name: Some(n("/x")),
            face_id: Some(9999),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status_code, 410);
    // Unsigned command: 403.
    let params = ControlParameters {
        name: Some(n("/x")),
        ..Default::default()
    };
    let i = Interest::new(
        local_nfd()
            .append_str("rib")
            .append_str("register")
            .append(&Component::generic(params.encode())),
    )
    .with_lifetime_ms(2000);
    let d = c.express(i).await.unwrap();
    assert_eq!(
        ControlResponse::decode(d.content()).unwrap().status_code,
        403
    );
    // A DigestSha256 that does not verify: 403.
    let prefix = local_nfd()
        .append_str("rib")
        .append_str("register")
        .append(&Component::generic(params.encode()));
    let good = Interest::new_command(&prefix, &Signer::DigestSha256, unix_ms(), 1);
    let mut comps: Vec<Component> = good.name().components().collect();
    let last = comps.len() - 1;
    let mut sv = comps[last].value().to_vec();
    let end = sv.len() - 1;
    sv[end] ^= 1;
    comps[last] = Component::generic(sv);
    let bad = Interest::new(Name::from_components(&comps)).with_lifetime_ms(2000);
    let d = c.express(bad).await.unwrap();
    assert_eq!(
        ControlResponse::decode(d.content()).unwrap().status_code,
        403
    );
    // Malformed ControlParameters: 400.
    let i = Interest::new_command(
        &local_nfd()
            .append_str("rib")
            .append_str("register")
            .append(&Component::generic(Bytes::from_static(b"\x68\x05oops"))),
        &Signer::DigestSha256,
        unix_ms(),
        2,
    );
    let d = c.express(i.with_lifetime_ms(2000)).await.unwrap();
    assert_eq!(
        ControlResponse::decode(d.content()).unwrap().status_code,
        400
    );
    // The Client maps refusals to an error carrying the code.
    let e = c
        .command("rib", "register", &ControlParameters::default())
        .await
        .unwrap_err();
    assert!(matches!(e, RegisterError::Refused { code: 400, .. }));
    h.shutdown();
}

#[tokio::test]
async fn fib_commands_and_list() {
    let (h, _j) = runtime::spawn(ForwarderLimits::default());
    let (c, me) = client(&h).await;
    let (_other, other) = client(&h).await;
    let r = cmd(
        &c,
        "fib",
        "add-nexthop",
        ControlParameters {
            name: Some(n("/f")),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status_code, 200, "{}", r.status_text);
    let p = r.parameters().unwrap();
    assert_eq!((p.face_id, p.cost), (Some(me.0), Some(0)));
    let r = cmd(
        &c,
        "fib",
        "add-nexthop",
        ControlParameters {
            name: Some(n("/f")),
            face_id: Some(other.0),
            cost: Some(30),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status_code, 200);
    let fib: Vec<FibEntry> = dataset(&c, "/localhost/nfd/fib/list").await;
    let e = fib.iter().find(|e| e.name == n("/f")).unwrap();
    let mut hops: Vec<(u64, u64)> = e.next_hops.iter().map(|h| (h.face_id, h.cost)).collect();
    hops.sort();
    assert_eq!(hops, [(me.0, 0), (other.0, 30)]);
    assert!(fib.iter().any(|e| e.name == n("/localhost/nfd")));
    let r = cmd(
        &c,
        "fib",
        "remove-nexthop",
        ControlParameters {
            name: Some(n("/f")),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status_code, 200);
    assert_eq!(r.parameters().unwrap().face_id, Some(me.0));
    let fib: Vec<FibEntry> = dataset(&c, "/localhost/nfd/fib/list").await;
    let e = fib.iter().find(|e| e.name == n("/f")).unwrap();
    assert_eq!(e.next_hops.len(), 1);
    assert_eq!(e.next_hops[0].face_id, other.0);
    h.shutdown();
}

#[tokio::test]
async fn strategy_choice_set_unset_list() {
    let (h, _j) = runtime::spawn(ForwarderLimits::default());
    let (c, _) = client(&h).await;
    let set = |prefix: &str, s: &str| ControlParameters {
        name: Some(n(prefix)),
        strategy: Some(n(s)),
        ..Default::default()
    };
    let r = cmd(
        &c,
        "strategy-choice",
        "set",
        set("/m", "/localhost/nfd/strategy/multicast"),
    )
    .await;
    assert_eq!(r.status_code, 200, "{}", r.status_text);
    let full = r.parameters().unwrap().strategy.clone().unwrap();
    assert!(n("/localhost/nfd/strategy/multicast").is_prefix_of(&full));
    assert_eq!(full.len(), 5, "the reply names the version: {full}");
    // Unknown strategy, and a version we do not have: 404.
    let r = cmd(
        &c,
        "strategy-choice",
        "set",
        set("/m", "/localhost/nfd/strategy/nope"),
    )
    .await;
    assert_eq!(r.status_code, 404);
    let wrong = full.prefix(4).append(&Component::version(999_999));
    let r = cmd(
        &c,
        "strategy-choice",
        "set",
        ControlParameters {
            name: Some(n("/m")),
            strategy: Some(wrong),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status_code, 404);
    let list: Vec<StrategyChoice> = dataset(&c, "/localhost/nfd/strategy-choice/list").await;
    assert_eq!(list[0].name, Name::new(), "sorted, root first");
    assert!(list.iter().any(|e| e.name == n("/m") && e.strategy == full));
    // The root's choice cannot be unset.
    let r = cmd(
        &c,
        "strategy-choice",
        "unset",
        ControlParameters {
            name: Some(Name::new()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status_code, 400);
    let r = cmd(
        &c,
        "strategy-choice",
        "unset",
        ControlParameters {
            name: Some(n("/m")),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status_code, 200);
    let list: Vec<StrategyChoice> = dataset(&c, "/localhost/nfd/strategy-choice/list").await;
    assert!(list.iter().all(|e| e.name != n("/m")));
    h.shutdown();
}

#[tokio::test]
async fn cs_config_erase_info_and_status_general() {
    let (h, _j) = runtime::spawn(ForwarderLimits::default());
    let (c, _) = client(&h).await;
    let r = cmd(
        &c,
        "cs",
        "config",
        ControlParameters {
            capacity: Some(123),
            flags: Some(0),
            mask: Some(CS_FLAG_ENABLE_ADMIT),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status_code, 200, "{}", r.status_text);
    let p = r.parameters().unwrap();
    assert_eq!(p.capacity, Some(123));
    assert_eq!(p.flags, Some(CS_FLAG_ENABLE_SERVE));
    let info = CsInfo::decode(c.dataset(&n("/localhost/nfd/cs/info")).await.unwrap()).unwrap();
    assert_eq!(info.capacity, 123);
    assert!(!info.enable_admit() && info.enable_serve());
    // Flags without Mask: 400.
    let r = cmd(
        &c,
        "cs",
        "config",
        ControlParameters {
            flags: Some(1),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status_code, 400);
    let r = cmd(
        &c,
        "cs",
        "erase",
        ControlParameters {
            name: Some(n("/")),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status_code, 200);
    assert_eq!(r.parameters().unwrap().count, Some(0));

    let before = unix_ms();
    let s = ForwarderStatus::decode(
        c.dataset(&n("/localhost/nfd/status/general"))
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(s.nfd_version.starts_with("picasso-"));
    assert!(s.start_timestamp <= s.current_timestamp);
    assert!(s.current_timestamp + 1000 >= before);
    assert!(
        s.n_in_interests >= 4,
        "counted the commands: {}",
        s.n_in_interests
    );
    assert!(s.n_fib_entries >= 1);
    assert!(s.n_satisfied_interests >= 3);
    h.shutdown();
}

#[tokio::test]
async fn faces_create_update_destroy_list() {
    let (a, _ja) = runtime::spawn(ForwarderLimits::default());
    let (b, _jb) = runtime::spawn(ForwarderLimits::default());
    let (c, me) = client(&a).await;
    let tcp_b = stream::listen_tcp(b.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let uri = format!("tcp4://{tcp_b}");
    let r = cmd(
        &c,
        "faces",
        "create",
        ControlParameters {
            uri: Some(uri.clone()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status_code, 200, "{}", r.status_text);
    let p = r.parameters().unwrap().clone();
    let face = p.face_id.unwrap();
    assert!(face >= 256);
    assert_eq!(p.uri.as_deref(), Some(uri.as_str()));
    assert!(p.local_uri.unwrap().starts_with("tcp4://127.0.0.1:"));
    assert_eq!(p.face_persistency, Some(FacePersistency::PERSISTENT));
    assert_eq!(p.flags, Some(0));
    // Again: 409 with the existing face.
    let r = cmd(
        &c,
        "faces",
        "create",
        ControlParameters {
            uri: Some(uri.clone()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status_code, 409);
    assert_eq!(r.parameters().unwrap().face_id, Some(face));
    // The face works: a route through it reaches b's producer.
    let (prod, _) = client(&b).await;
    prod.register(n("/on-b"), |i: Interest| async move {
        let mut d = picasso_tlv::Data::new(i.name().clone()).with_content(&b"b"[..]);
        d.sign(&Signer::DigestSha256);
        Some(d)
    })
    .await
    .unwrap();
    let r = cmd(
        &c,
        "rib",
        "register",
        ControlParameters {
            name: Some(n("/on-b")),
            face_id: Some(face),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status_code, 200);
    let d = c
        .express(Interest::new(n("/on-b/x")).with_lifetime_ms(2000))
        .await
        .unwrap();
    assert_eq!(&d.content()[..], b"b");

    // update: persistency and flags (LocalFieldsEnabled is allowed: loopback TCP is local).
    let r = cmd(
        &c,
        "faces",
        "update",
        ControlParameters {
            face_id: Some(face),
            face_persistency: Some(FacePersistency::PERMANENT),
            flags: Some(1),
            mask: Some(1),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status_code, 200, "{}", r.status_text);
    assert_eq!(
        r.parameters().unwrap().face_persistency,
        Some(FacePersistency::PERMANENT)
    );
    assert_eq!(r.parameters().unwrap().flags, Some(1));
    // update of a face that does not exist: 404; of the requester by default.
    let r = cmd(
        &c,
        "faces",
        "update",
        ControlParameters {
            face_id: Some(77_777),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status_code, 404);
    let r = cmd(&c, "faces", "update", ControlParameters::default()).await;
    assert_eq!(r.status_code, 200);
    assert_eq!(r.parameters().unwrap().face_id, Some(me.0));

    let faces: Vec<FaceStatus> = dataset(&c, "/localhost/nfd/faces/list").await;
    let f = faces.iter().find(|f| f.face_id == face).unwrap();
    assert_eq!(f.uri, uri);
    assert_eq!(f.face_persistency, FacePersistency::PERMANENT);
    assert_eq!(f.flags, 1);
    assert!(f.n_out_interests >= 1 && f.n_in_data >= 1);
    assert!(f.n_out_bytes > 0 && f.n_in_bytes > 0);
    assert!(faces.iter().any(|f| f.face_id == me.0));
    assert!(faces
        .iter()
        .any(|f| f.face_id == 1 && f.uri == "internal://"));
    // faces/query with a FaceQueryFilter (UriScheme tcp4): only the TCP face.
    let filter = Bytes::from_static(b"\x96\x06\x83\x04tcp4");
    let q = c
        .dataset(&n("/localhost/nfd/faces/query").append(&Component::generic(filter)))
        .await
        .unwrap();
    let q: Vec<FaceStatus> = decode_list(q).unwrap();
    assert_eq!(q.iter().map(|f| f.face_id).collect::<Vec<_>>(), [face]);

    // Bad URIs and failures.
    let create = |u: &str| ControlParameters {
        uri: Some(u.to_string()),
        ..Default::default()
    };
    assert_eq!(
        cmd(&c, "faces", "create", create("tcp4://localhost:1"))
            .await
            .status_code,
        400
    );
    assert_eq!(
        cmd(&c, "faces", "create", create("ws://1.2.3.4:9"))
            .await
            .status_code,
        406
    );
    // No UDP channel registered yet: 406.
    assert_eq!(
        cmd(&c, "faces", "create", create("udp4://127.0.0.1:9"))
            .await
            .status_code,
        406
    );
    // Nobody listens there: the connection fails (reported asynchronously).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let r = cmd(&c, "faces", "create", create(&format!("tcp4://{dead}"))).await;
    assert_eq!(r.status_code, 504, "{}", r.status_text);

    // destroy: the face and its routes are gone.
    let r = cmd(
        &c,
        "faces",
        "destroy",
        ControlParameters {
            face_id: Some(face),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status_code, 200);
    let faces: Vec<FaceStatus> = dataset(&c, "/localhost/nfd/faces/list").await;
    assert!(faces.iter().all(|f| f.face_id != face));
    let rib: Vec<RibEntry> = dataset(&c, "/localhost/nfd/rib/list").await;
    assert!(rib.iter().all(|e| e.name != n("/on-b")));
    a.shutdown();
    b.shutdown();
}

#[tokio::test]
async fn faces_create_udp_through_registered_channel() {
    let (a, _ja) = runtime::spawn(ForwarderLimits::default());
    let (b, _jb) = runtime::spawn(ForwarderLimits::default());
    let cfg = udp::UdpConfig::default();
    let ua = udp::UdpChannel::bind(a.clone(), "127.0.0.1:0".parse().unwrap(), cfg)
        .await
        .unwrap();
    let ub = udp::UdpChannel::bind(b.clone(), "127.0.0.1:0".parse().unwrap(), cfg)
        .await
        .unwrap();
    a.add_udp_channel(ua.clone()).await.unwrap();
    let (c, _) = client(&a).await;
    let uri = format!("udp4://{}", ub.local);
    let r = cmd(
        &c,
        "faces",
        "create",
        ControlParameters {
            uri: Some(uri.clone()),
            face_persistency: Some(FacePersistency::PERMANENT),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status_code, 200, "{}", r.status_text);
    let p = r.parameters().unwrap();
    assert_eq!(p.uri.as_deref(), Some(uri.as_str()));
    assert_eq!(p.local_uri, Some(format!("udp4://{}", ua.local)));
    assert_eq!(p.face_persistency, Some(FacePersistency::PERMANENT));
    assert_eq!(p.mtu, Some(1400));
    // LocalFieldsEnabled on a non-local face is refused.
    let r = cmd(
        &c,
        "faces",
        "update",
        ControlParameters {
            face_id: p.face_id,
            flags: Some(1),
            mask: Some(1),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.status_code, 409);
    a.shutdown();
    b.shutdown();
}

/// Forwarder `a` serves management; `b`'s application reaches it over a
/// UDP face (non-local at `a`) under `/localhop/nfd`.
async fn localhop_pair(config: Option<MgmtConfig>) -> (ForwarderHandle, ForwarderHandle, Client) {
    let (a, _ja) = runtime::spawn(ForwarderLimits::default());
    let (b, _jb) = runtime::spawn(ForwarderLimits::default());
    if let Some(cfg) = config {
        a.configure_management(cfg).await.unwrap();
    }
    let cfg = udp::UdpConfig::default();
    let ua = udp::UdpChannel::bind(a.clone(), "127.0.0.1:0".parse().unwrap(), cfg)
        .await
        .unwrap();
    let ub = udp::UdpChannel::bind(b.clone(), "127.0.0.1:0".parse().unwrap(), cfg)
        .await
        .unwrap();
    let to_a = ub.connect(ua.local).await.unwrap();
    b.add_route(n("/localhop/nfd"), to_a, 0).await.unwrap();
    let (c, _) = client(&b).await;
    (a, b, c)
}

fn hmac(key: &'static [u8], name: &str) -> Signer {
    Signer::Hmac {
        key: Bytes::from_static(key),
        key_name: n(name),
    }
}

#[tokio::test]
async fn localhop_needs_a_trusted_key() {
    let reg = ControlParameters {
        name: Some(n("/from-b")),
        ..Default::default()
    };
    let localhop = n("/localhop/nfd");

    // Disabled (the default): nothing answers under /localhop/nfd.
    let (a, b, c) = localhop_pair(None).await;
    let r = c
        .command_response(&localhop, "rib", "register", &reg, &Signer::DigestSha256)
        .await;
    assert!(
        matches!(
            r,
            Err(RegisterError::Express(
                ExpressError::Nack(_) | ExpressError::Timeout
            ))
        ),
        "{r:?}"
    );
    a.shutdown();
    b.shutdown();

    let trusted = hmac(b"operator secret", "/op/KEY/1");
    let orchestrator = Signer::ed25519_generate(n("/orch/KEY/7"));
    let config = MgmtConfig {
        localhop: true,
        trusted: vec![
            (
                n("/op/KEY"),
                Verifier::Hmac(Bytes::from_static(b"operator secret")),
            ),
            (n("/orch/KEY/7"), orchestrator.verifier()),
        ],
    };
    let (a, b, c) = localhop_pair(Some(config)).await;
    // Unsigned-by-a-key (DigestSha256) and untrusted keys: 403.
    let r = c
        .command_response(&localhop, "rib", "register", &reg, &Signer::DigestSha256)
        .await
        .unwrap();
    assert_eq!(r.status_code, 403, "{}", r.status_text);
    let r = c
        .command_response(
            &localhop,
            "rib",
            "register",
            &reg,
            &hmac(b"guess", "/op/KEY/1"),
        )
        .await
        .unwrap();
    assert_eq!(r.status_code, 403, "{}", r.status_text);
    let r = c
        .command_response(
            &localhop,
            "rib",
            "register",
            &reg,
            &hmac(b"operator secret", "/mallory/KEY/1"),
        )
        .await
        .unwrap();
    assert_eq!(r.status_code, 403, "{}", r.status_text);
    // The trusted key: accepted; the route points at the UDP face.
    let r = c
        .command_response(&localhop, "rib", "register", &reg, &trusted)
        .await
        .unwrap();
    assert_eq!(r.status_code, 200, "{}", r.status_text);
    let face = r.parameters().unwrap().face_id.unwrap();
    let (local, _) = client(&a).await;
    let faces: Vec<FaceStatus> = dataset(&local, "/localhost/nfd/faces/list").await;
    let f = faces.iter().find(|f| f.face_id == face).unwrap();
    assert!(f.uri.starts_with("udp4://"));
    // Replays: same SignatureNonce, and an old SignatureTime.
    let name = localhop
        .append_str("rib")
        .append_str("register")
        .append(&Component::generic(reg.encode()));
    let signed = |time: u64, nonce: u64| {
        let mut i = Interest::new(name.clone()).with_lifetime_ms(2000);
        let mut info = trusted.signature_info();
        info.time = Some(time);
        info.nonce = Some(Bytes::copy_from_slice(&nonce.to_be_bytes()));
        i.sign(&trusted, info);
        i
    };
    let status_of =
        |d: picasso_tlv::Data| ControlResponse::decode(d.content()).unwrap().status_code;
    let t = unix_ms() + 1000;
    assert_eq!(status_of(c.express(signed(t, 42)).await.unwrap()), 200);
    assert_eq!(status_of(c.express(signed(t + 1, 42)).await.unwrap()), 403);
    assert_eq!(status_of(c.express(signed(t, 43)).await.unwrap()), 403);
    assert_eq!(
        status_of(c.express(signed(unix_ms() - 120_000, 44)).await.unwrap()),
        403
    );
    assert_eq!(status_of(c.express(signed(t + 2, 45)).await.unwrap()), 200);
    // An Ed25519 key works alike; another Ed25519 key under the same name does not.
    let r = c
        .command_response(&localhop, "rib", "register", &reg, &orchestrator)
        .await
        .unwrap();
    assert_eq!(r.status_code, 200, "{}", r.status_text);
    let forged = Signer::ed25519_generate(n("/orch/KEY/7"));
    let r = c
        .command_response(&localhop, "rib", "register", &reg, &forged)
        .await
        .unwrap();
    assert_eq!(r.status_code, 403, "{}", r.status_text);
    // Datasets are not served under /localhop: the request is an unsigned command.
    let d = c
        .express(
            Interest::new(n("/localhop/nfd/faces/list"))
                .with_can_be_prefix(true)
                .with_lifetime_ms(500),
        )
        .await
        .unwrap();
    assert_eq!(d.name(), &n("/localhop/nfd/faces/list"));
    assert_eq!(status_of(d), 403);
    a.shutdown();
    b.shutdown();
}

#[tokio::test]
async fn multi_segment_datasets_are_fetched_completely() {
    let (h, _j) = runtime::spawn(ForwarderLimits::default());
    let (c, me) = client(&h).await;
    const ROUTES: usize = 600;
    for i in 0..ROUTES {
        h.add_route(n(&format!("/many/route-number-{i:05}")), me, i as u64)
            .await
            .unwrap();
    }
    // The first segment: versioned, segmented, FinalBlockId, fresh for 1 s.
    let first = c
        .express(
            Interest::new(n("/localhost/nfd/rib/list"))
                .with_can_be_prefix(true)
                .with_must_be_fresh(true)
                .with_lifetime_ms(2000),
        )
        .await
        .unwrap();
    let name = first.name();
    assert_eq!(name.len(), 6);
    assert!(name.get(4).unwrap().as_version().is_some());
    assert_eq!(name.get(5).unwrap().as_segment(), Some(0));
    let last = first.final_block_id().and_then(|c| c.as_segment()).unwrap();
    assert!(last >= 2, "{ROUTES} routes take several segments");
    assert_eq!(first.freshness_ms(), Some(1000));
    assert!(first.content().len() <= 8000);
    let last_seg = c
        .express(
            Interest::new(name.prefix(5).append(&Component::segment(last))).with_lifetime_ms(2000),
        )
        .await
        .unwrap();
    assert_eq!(last_seg.final_block_id(), first.final_block_id());

    let rib: Vec<RibEntry> = dataset(&c, "/localhost/nfd/rib/list").await;
    assert_eq!(
        rib.iter()
            .filter(|e| n("/many").is_prefix_of(&e.name))
            .count(),
        ROUTES
    );
    let fib: Vec<FibEntry> = dataset(&c, "/localhost/nfd/fib/list").await;
    assert_eq!(
        fib.iter()
            .filter(|e| n("/many").is_prefix_of(&e.name))
            .count(),
        ROUTES
    );
    let e = rib
        .iter()
        .find(|e| e.name == n("/many/route-number-00321"))
        .unwrap();
    assert_eq!(e.routes[0].cost, 321);
    h.shutdown();
}
