//! NFD management interoperability: python-ndn's `nfd_mgmt` helpers and
//! NDNApp, and the `picasso` nfdc commands, against our forwarder
//! listening on a Unix socket in a temporary folder.
//!
//! Python comes from `$PICASSO_PYTHON`, else `scripts/pyenv.sh` creates the
//! venv; `PICASSO_SKIP_PYTHON=1` skips the python-ndn part on purpose.

#![forbid(unsafe_code)]

#[path = "support/fwd.rs"]
mod fwd;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use picasso_forwarder::face::stream;
use picasso_forwarder::fw::ForwarderLimits;
use picasso_forwarder::runtime;
use picasso_forwarder::FaceId;
use picasso_tlv::Name;
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn temp_socket(tag: &str) -> PathBuf {
    std::env::temp_dir()
        .join(format!("picasso-mgmt-{tag}-{}", std::process::id()))
        .join("nfd.sock")
}

/// Starts a forwarder on a Unix socket with `routes` extra routes (enough
/// make rib/list and fib/list several segments long).
async fn forwarder(
    path: &Path,
    routes: usize,
) -> (runtime::ForwarderHandle, stream::UnixListenerGuard) {
    let (h, _j) = runtime::spawn(ForwarderLimits::default());
    let guard = stream::listen_unix(h.clone(), path).await.unwrap();
    for i in 0..routes {
        let p = Name::from_uri(&format!("/filler/route-number-{i:05}")).unwrap();
        h.add_route(p, FaceId::INTERNAL, i as u64).await.unwrap();
    }
    (h, guard)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_ndn_nfd_mgmt_against_our_forwarder() {
    let Some(py) = fwd::python("the python-ndn management test") else {
        return;
    };
    let path = temp_socket("py");
    let (h, _guard) = forwarder(&path, 400).await;
    let transport = format!("unix://{}", path.display());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(py)
            .arg(Path::new(ROOT).join("tests/interop/pyndn_mgmt.py"))
            .env("NDN_CLIENT_TRANSPORT", transport)
            .env("HOME", std::env::temp_dir())
            .stderr(Stdio::inherit())
            .output()
            .expect("cannot run pyndn_mgmt.py")
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("pyndn_mgmt.py printed no JSON ({e}): {text}"));
    assert!(v.get("error").is_none(), "python-ndn failed: {v}");
    assert!(out.status.success());

    // NDNApp.register (older command form) succeeded.
    assert_eq!(v["register"], true, "{v}");
    // make_command: defaults filled in and echoed.
    let r = &v["register_reply"];
    assert_eq!(r["status_code"], 200, "{r}");
    assert_eq!(r["name"], "/pyndn/two");
    assert_eq!(r["cost"], 5);
    assert_eq!(r["origin"], 0);
    assert_eq!(r["flags"], 1);
    let py_face = r["face_id"].as_u64().expect("face_id");
    // make_command_v2 (v0.3 signed Interest).
    let r3 = &v["v3_reply"];
    assert_eq!(r3["status_code"], 200, "{r3}");
    assert_eq!(r3["face_id"].as_u64(), Some(py_face));
    assert_eq!(r3["cost"], 3);

    // faces/list: python's own face, with the Unix socket as local URI.
    let faces = v["faces"].as_array().expect("faces");
    let me = faces
        .iter()
        .find(|f| f["face_id"].as_u64() == Some(py_face))
        .unwrap_or_else(|| panic!("face {py_face} not listed: {faces:?}"));
    assert_eq!(me["local_uri"], format!("unix://{}", path.display()));
    assert!(me["n_in_interests"].as_u64().unwrap() >= 3);
    // fib/list and rib/list: several segments, complete.
    let fib = v["fib"].as_object().expect("fib");
    assert_eq!(fib["/pyndn/v3"], serde_json::json!([[py_face, 3]]));
    assert_eq!(fib["/pyndn/prefix"], serde_json::json!([[py_face, 0]]));
    assert_eq!(
        fib.keys().filter(|k| k.starts_with("/filler/")).count(),
        400
    );
    let rib = v["rib"].as_object().expect("rib");
    assert_eq!(rib["/pyndn/two"], serde_json::json!([[py_face, 0, 5]]));
    assert_eq!(
        rib.keys().filter(|k| k.starts_with("/filler/")).count(),
        400
    );
    // status/general.
    let st = &v["status"];
    assert!(st["nfd_version"].as_str().unwrap().starts_with("picasso-"));
    assert!(st["n_fib_entries"].as_u64().unwrap() >= 403);
    assert!(st["start"].as_u64() <= st["current"].as_u64());
    h.shutdown();
}

fn cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_picasso"))
        .args(args)
        .output()
        .expect("cannot run picasso");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nfdc_commands_against_our_forwarder() {
    let path = temp_socket("cli");
    let (h, _guard) = forwarder(&path, 300).await;
    let fwd = format!("unix:{}", path.display());
    let run = move |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            cli(&a)
        })
    };
    let args = |s: &str| -> Vec<String> {
        s.split_whitespace()
            .map(str::to_string)
            .chain(["--fwd".to_string(), fwd.clone()])
            .collect()
    };

    let (ok, out, err) = run(args("status --json")).await.unwrap();
    assert!(ok, "{err}");
    let st: Value = serde_json::from_str(&out).unwrap();
    assert!(st["version"].as_str().unwrap().starts_with("picasso-"));
    assert!(st["fibEntries"].as_u64().unwrap() >= 301);

    let (ok, out, err) = run(args("routes add /cli/route 1 --cost 9")).await.unwrap();
    assert!(ok, "{err}");
    assert!(
        out.contains("route added") && out.contains("cost=9"),
        "{out}"
    );
    let (ok, out, err) = run(args("routes --json")).await.unwrap();
    assert!(ok, "{err}");
    let routes: Value = serde_json::from_str(&out).unwrap();
    let rows = routes.as_array().unwrap();
    assert_eq!(rows.len(), 301, "multi-segment rib/list fetched completely");
    assert!(rows
        .iter()
        .any(|r| r["prefix"] == "/cli/route" && r["cost"] == 9 && r["origin"] == 255));

    let (ok, out, _) = run(args("fib")).await.unwrap();
    assert!(ok);
    assert!(out.starts_with("prefix"), "{out}");
    assert!(out.contains("/cli/route") && out.contains("1(9)"), "{out}");

    let (ok, out, err) = run(args("strategy set /cli /localhost/nfd/strategy/multicast"))
        .await
        .unwrap();
    assert!(ok, "{err}");
    assert!(
        out.contains("strategy=/localhost/nfd/strategy/multicast/v="),
        "{out}"
    );
    let (ok, _, err) = run(args("strategy set /cli /localhost/nfd/strategy/nope"))
        .await
        .unwrap();
    assert!(!ok);
    assert!(err.contains("404"), "{err}");
    let (ok, out, _) = run(args("strategy --json")).await.unwrap();
    assert!(ok);
    let s: Value = serde_json::from_str(&out).unwrap();
    assert!(s.as_array().unwrap().iter().any(|e| e["prefix"] == "/cli"));

    let (ok, out, _) = run(args("faces")).await.unwrap();
    assert!(ok);
    assert!(out.contains(&format!("unix://{}", path.display())), "{out}");
    let (ok, out, _) = run(args("cs --json")).await.unwrap();
    assert!(ok);
    let cs: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(cs["admit"], true);

    let (ok, _, err) = run(args("faces create udp4://127.0.0.1:9")).await.unwrap();
    assert!(!ok && err.contains("406"), "no UDP channel: {err}");
    let (ok, out, err) = run(args("routes remove /cli/route 1")).await.unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("route removed"), "{out}");
    h.shutdown();
}
