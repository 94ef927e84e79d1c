//! Interoperability with python-ndn (the pinned version in `scripts/pyenv.sh`).
//!
//! ```text
//!  tests/interop/pyndn_corpus.py ──JSON lines──► decode: `picasso packet decode` JSON == expect
//!   (python-ndn encodes)                          verify: our Verifier with the line's key
//!                                                 encode: our library builds the same fields
//!                                                         bytes == python-ndn's where the spec fixes them
//!                                                   │
//!                                                   ▼ JSON lines (our hex, expect, key, pyHex)
//!                                       tests/interop/pyndn_check.py: python-ndn parses,
//!                                       compares, verifies; exits non-zero on any mismatch
//! ```
//!
//! Python comes from `$PICASSO_PYTHON`, else `scripts/pyenv.sh` creates the
//! venv. When neither works the tests fail; `PICASSO_SKIP_PYTHON=1` is the
//! only way to skip them.

#![forbid(unsafe_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use picasso_tlv::lp::{LpPacket, Nack, NackReason};
use picasso_tlv::mgmt::{
    ControlParameters, ControlResponse, FacePersistency, MgmtTlv, RouteOrigin,
};
use picasso_tlv::signature::sha256;
use picasso_tlv::{Component, Data, Interest, KeyLocator, Name, Signer, Verifier};
use serde_json::{json, Map, Value};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The python interpreter with python-ndn, or `None` when skipping is
/// explicitly asked for.
fn python() -> Option<&'static Path> {
    static PY: OnceLock<Option<PathBuf>> = OnceLock::new();
    PY.get_or_init(|| {
        if std::env::var("PICASSO_SKIP_PYTHON").as_deref() == Ok("1") {
            eprintln!("PICASSO_SKIP_PYTHON=1: skipping the python-ndn interop tests");
            return None;
        }
        if let Ok(p) = std::env::var("PICASSO_PYTHON") {
            return Some(PathBuf::from(p));
        }
        let out = Command::new(Path::new(ROOT).join("scripts/pyenv.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("cannot run scripts/pyenv.sh");
        assert!(
            out.status.success(),
            "scripts/pyenv.sh could not install python-ndn (set PICASSO_SKIP_PYTHON=1 to skip \
             these tests on purpose)"
        );
        let path = String::from_utf8(out.stdout).expect("pyenv.sh printed non-UTF-8");
        Some(PathBuf::from(path.trim()))
    })
    .as_deref()
}

/// The corpus python-ndn encodes, one JSON object per case.
fn corpus() -> Option<&'static [Value]> {
    static CORPUS: OnceLock<Option<Vec<Value>>> = OnceLock::new();
    CORPUS
        .get_or_init(|| {
            let py = python()?;
            let out = Command::new(py)
                .arg(Path::new(ROOT).join("tests/interop/pyndn_corpus.py"))
                .stderr(Stdio::inherit())
                .output()
                .expect("cannot run pyndn_corpus.py");
            assert!(out.status.success(), "pyndn_corpus.py failed");
            let text = String::from_utf8(out.stdout).expect("corpus is not UTF-8");
            let cases: Vec<Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).expect("corpus line is not JSON"))
                .collect();
            assert!(cases.len() >= 60, "corpus has only {} cases", cases.len());
            Some(cases)
        })
        .as_deref()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn hex_bytes(h: &str) -> Bytes {
    Bytes::from(hex::decode(h).expect("bad hex"))
}

fn outer_type(case: &Value) -> u8 {
    hex_bytes(s(case, "hex"))[0]
}

fn cases_of(types: &[u8]) -> Vec<&'static Value> {
    corpus()
        .map(|c| {
            c.iter()
                .filter(|v| types.contains(&outer_type(v)))
                .collect()
        })
        .unwrap_or_default()
}

/// `picasso packet decode <hex>` as JSON.
fn cli_decode(hex: &str) -> anyhow::Result<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_picasso"))
        .args(["packet", "decode", hex])
        .output()?;
    if !out.status.success() {
        bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// The fields a decoder must report for a case: `expect` plus the
/// SignatureInfo details, in the CLI's names. Fields the CLI may add beyond
/// them are listed in `EXTRA_OK`.
fn wanted(case: &Value) -> Map<String, Value> {
    let mut m = case["expect"].as_object().expect("expect").clone();
    if let Some(si) = case["signatureInfo"].as_object() {
        for (k, v) in si {
            let k = if k == "keyLocatorName" {
                "keyLocator"
            } else {
                k
            };
            m.insert(k.to_string(), v.clone());
        }
    }
    m
}

const EXTRA_OK: &[&str] = &["signatureValue", "validityPeriod"];

/// Differences between what the CLI printed and what python-ndn put in.
fn diff(want: &Map<String, Value>, got: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let Some(got) = got.as_object() else {
        return vec![format!("not a JSON object: {got}")];
    };
    for (k, v) in want {
        if k == "fragment" {
            let w = v.as_object().expect("fragment").clone();
            errs.extend(
                diff(&w, &got[k])
                    .into_iter()
                    .map(|e| format!("fragment.{e}")),
            );
        } else if got.get(k) != Some(v) {
            errs.push(format!("{k}: ours {:?}, python-ndn {v}", got.get(k)));
        }
    }
    for (k, v) in got {
        if !want.contains_key(k) && !EXTRA_OK.contains(&k.as_str()) && v != &json!(false) {
            errs.push(format!("{k}: ours {v}, absent in python-ndn's packet"));
        }
    }
    errs
}

fn check_decode(cases: &[&Value]) {
    if python().is_none() {
        return;
    }
    assert!(!cases.is_empty(), "no cases");
    let mut failures = Vec::new();
    for case in cases {
        let name = s(case, "case");
        match cli_decode(s(case, "hex")) {
            Ok(got) => {
                let errs = diff(&wanted(case), &got);
                if !errs.is_empty() {
                    failures.push(format!("{name}: {}", errs.join("; ")));
                }
            }
            Err(e) => failures.push(format!("{name}: our decoder rejects it: {e:#}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} python-ndn packets decode differently:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn python_ndn_interests_and_data_decode_to_the_same_fields() {
    check_decode(&cases_of(&[0x05, 0x06]));
}

#[test]
fn python_ndn_lp_packets_decode_to_the_same_fields() {
    // Nack (reasons 0, 50, 100, 150), PitToken, CongestionMark, Fragment.
    check_decode(&cases_of(&[0x64]));
}

#[test]
fn python_ndn_control_parameters_and_responses_decode_to_the_same_fields() {
    // CLI contract: type "ControlParameters"/"ControlResponse", the
    // NFD field names in camelCase (faceId, expirationPeriod, …), strategy
    // as a URI, ControlResponse: statusCode, statusText, body.
    check_decode(&cases_of(&[0x68, 0x65]));
}

#[test]
fn python_ndn_names_round_trip_through_our_name_codec() {
    let Some(corpus) = corpus() else { return };
    let mut n = 0;
    for case in corpus.iter().filter(|c| c.get("nameHex").is_some()) {
        let wire = hex_bytes(s(case, "nameHex"));
        let uri = s(&case["expect"], "name");
        let name = Name::decode(wire.clone())
            .unwrap_or_else(|e| panic!("{}: Name::decode: {e}", s(case, "case")));
        assert_eq!(name.to_uri(), uri, "{}: URI of the name", s(case, "case"));
        let parsed = Name::from_uri(uri)
            .unwrap_or_else(|e| panic!("{}: Name::from_uri({uri}): {e}", s(case, "case")));
        assert_eq!(
            hex::encode(parsed.to_wire()),
            hex::encode(&wire),
            "{}: our URI parser yields python-ndn's bytes",
            s(case, "case")
        );
        n += 1;
    }
    assert!(n >= 15, "only {n} name cases");
}

fn verifier(key: &Value) -> anyhow::Result<Verifier> {
    Ok(match s(key, "type") {
        "digest" | "command-digest" => Verifier::DigestSha256,
        "hmac" => Verifier::Hmac(hex_bytes(s(key, "secret"))),
        "ed25519" => Verifier::ed25519_from_public(&hex_bytes(s(key, "public")))?,
        t => bail!("unknown key type {t}"),
    })
}

/// Verifies a python-ndn packet's signature with our library.
fn verify_ours(case: &Value) -> anyhow::Result<()> {
    let key = &case["key"];
    let v = verifier(key)?;
    let wire = hex_bytes(s(case, "hex"));
    match wire[0] {
        0x05 => {
            let i = Interest::decode(wire)?;
            if s(key, "type") == "command-digest" {
                let cs = i
                    .command_signature()
                    .context("not recognised as a command Interest")?;
                cs.verify(&v)?;
                let n = i.name().len();
                assert_eq!(cs.prefix_len, n - 4);
                Ok(())
            } else {
                Ok(i.verify(&v)?)
            }
        }
        0x06 => Ok(Data::decode(wire)?.verify(&v)?),
        t => bail!("outer type {t} carries no signature"),
    }
}

#[test]
fn our_verifier_accepts_python_ndn_signatures() {
    let Some(corpus) = corpus() else { return };
    let mut failures = Vec::new();
    let (mut n, mut ed25519_cases) = (0, 0);
    for case in corpus.iter().filter(|c| c.get("key").is_some()) {
        n += 1;
        let name = s(case, "case");
        if let Err(e) = verify_ours(case) {
            failures.push(format!("{name}: {e:#}"));
        }
        // A wrong key must fail.
        let mut wrong = case.clone();
        match s(&case["key"], "type") {
            "hmac" => wrong["key"]["secret"] = json!("00"),
            "ed25519" => {
                ed25519_cases += 1;
                let other =
                    Signer::ed25519_from_seed(&[0; 32], Name::from_components(&[])).expect("seed");
                let Verifier::Ed25519(public) = other.verifier() else {
                    panic!("not an Ed25519 verifier")
                };
                wrong["key"]["public"] = json!(hex::encode(public.as_bytes()));
            }
            _ => continue,
        }
        if verify_ours(&wrong).is_ok() {
            failures.push(format!("{name}: verifies with a wrong key"));
        }
    }
    assert!(n >= 15, "only {n} signed cases");
    assert_eq!(ed25519_cases, 2, "Ed25519 cases (an Interest and a Data)");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn signer(key: &Value) -> anyhow::Result<Signer> {
    let key_name = || Name::from_uri(s(key, "keyName")).map_err(|e| anyhow!("{e}"));
    Ok(match s(key, "type") {
        "digest" | "command-digest" => Signer::DigestSha256,
        "hmac" => Signer::Hmac {
            key: hex_bytes(s(key, "secret")),
            key_name: key_name()?,
        },
        "ed25519" => Signer::ed25519_from_seed(&hex_bytes(s(key, "seed")), key_name()?)?,
        t => bail!("unknown key type {t}"),
    })
}

fn name_of(e: &Value) -> anyhow::Result<Name> {
    Name::from_uri(s(e, "name")).map_err(|err| anyhow!("{err}"))
}

/// Our encoding of the fields python-ndn encoded in `case`.
fn encode_ours(case: &Value) -> anyhow::Result<Bytes> {
    let e = &case["expect"];
    let si = &case["signatureInfo"];
    match s(e, "type") {
        "Interest" => {
            let full = name_of(e)?;
            let key = &case["key"];
            // The old command form: rebuild the four signature components.
            let (name, command) = if key["type"] == "command-digest" {
                let n = full.len();
                let nni = |i: usize| -> anyhow::Result<u64> {
                    let c = full.get(i).context("component")?;
                    Ok(u64::from_be_bytes(c.value()[..].try_into()?))
                };
                (full.prefix(n - 4), Some((nni(n - 4)?, nni(n - 3)?)))
            } else {
                let comps: Vec<Component> = full
                    .components()
                    .filter(|c| c.typ() != picasso_tlv::types::PARAMETERS_SHA256_DIGEST_COMPONENT)
                    .collect();
                (Name::from_components(&comps), None)
            };
            let mut i = match command {
                Some((ts, nonce)) => Interest::new_command(&name, &Signer::DigestSha256, ts, nonce),
                None => Interest::new(name),
            };
            i.set_can_be_prefix(e["canBePrefix"] == json!(true));
            i.set_must_be_fresh(e["mustBeFresh"] == json!(true));
            if let Some(h) = e["forwardingHint"].as_array() {
                let hints = h
                    .iter()
                    .map(|n| Name::from_uri(n.as_str().unwrap_or("")).map_err(|e| anyhow!("{e}")))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                i.set_forwarding_hint(hints);
            }
            if let Some(n) = e["nonce"].as_str() {
                i.set_nonce(Some(u32::from_str_radix(n, 16)?));
            }
            i.set_lifetime_ms(e["interestLifetime"].as_u64());
            i.set_hop_limit(e["hopLimit"].as_u64().map(u8::try_from).transpose()?);
            if let Some(p) = e["applicationParameters"].as_str() {
                i.set_app_params(Some(hex_bytes(p)));
            }
            if e.get("signatureType").is_some() {
                let signer = signer(key)?;
                let mut info = signer.signature_info();
                info.nonce = si["signatureNonce"].as_str().map(hex_bytes);
                info.time = si["signatureTime"].as_u64();
                info.seq_num = si["signatureSeqNum"].as_u64();
                i.sign(&signer, info);
            }
            Ok(i.encode())
        }
        "Data" => {
            let mut d = Data::new(name_of(e)?);
            if let Some(t) = e["contentType"].as_u64() {
                d = d.with_content_type(t);
            }
            if let Some(f) = e["freshnessPeriod"].as_u64() {
                d = d.with_freshness_ms(f);
            }
            if let Some(f) = e["finalBlockId"].as_str() {
                d = d.with_final_block_id(Component::from_uri(f).map_err(|e| anyhow!("{e}"))?);
            }
            if let Some(c) = e["content"].as_str() {
                d = d.with_content(hex_bytes(c));
            }
            let signer = signer(&case["key"])?;
            let mut info = signer.signature_info();
            if let Some(kd) = si["keyDigest"].as_str() {
                assert_eq!(
                    kd,
                    hex::encode(sha256(&[&hex_bytes(s(&case["key"], "secret"))])),
                    "KeyDigest is SHA-256 of the key"
                );
                info.key_locator = Some(KeyLocator::KeyDigest(hex_bytes(kd)));
            }
            Ok(d.sign_with_info(&signer, info))
        }
        "LpPacket" | "Nack" => {
            // NackReason 0 is how python-ndn (and NDNLPv2: "absent means
            // None") reads a Nack header without NackReason; python-ndn's
            // NetworkNack() writes it that way.
            let p = LpPacket {
                fragment: case["fragmentHex"].as_str().map(hex_bytes),
                pit_token: e["pitToken"].as_str().map(hex_bytes),
                nack: e["nackReason"].as_u64().map(|r| Nack {
                    reason: (r != 0).then(|| NackReason::from_code(r)),
                }),
                congestion_mark: e["congestionMark"].as_u64(),
                ..LpPacket::default()
            };
            check_keys(
                e,
                &[
                    "type",
                    "name", // the fragment's, lifted: the fragment bytes fix it
                    "fragment",
                    "pitToken",
                    "nackReason",
                    "congestionMark",
                ],
            )?;
            Ok(p.encode())
        }
        "ControlParameters" => Ok(control_parameters(e)?.encode()),
        "ControlResponse" => {
            check_keys(e, &["type", "statusCode", "statusText", "body"])?;
            let code = e["statusCode"].as_u64().context("statusCode")?;
            let text = s(e, "statusText");
            Ok(match e.get("body") {
                Some(b) => ControlResponse::with_parameters(code, text, control_parameters(b)?),
                None => ControlResponse::new(code, text),
            }
            .encode())
        }
        t => bail!("encoding {t} is not in picasso-tlv yet"),
    }
}

/// Fails on a field `encode_ours` would silently drop.
fn check_keys(e: &Value, known: &[&str]) -> anyhow::Result<()> {
    let obj = e.as_object().context("not an object")?;
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => bail!("field {k} is not encoded by this test"),
        None => Ok(()),
    }
}

/// ControlParameters from the JSON vocabulary of `pyndn_common.cp_json`.
fn control_parameters(e: &Value) -> anyhow::Result<ControlParameters> {
    check_keys(
        e,
        &[
            "type",
            "name",
            "faceId",
            "uri",
            "localUri",
            "origin",
            "cost",
            "capacity",
            "count",
            "baseCongestionMarkingInterval",
            "defaultCongestionThreshold",
            "mtu",
            "flags",
            "mask",
            "strategy",
            "expirationPeriod",
            "facePersistency",
        ],
    )?;
    let name = |k: &str| -> anyhow::Result<Option<Name>> {
        e[k].as_str()
            .map(|u| Name::from_uri(u).map_err(|err| anyhow!("{k}: {err}")))
            .transpose()
    };
    let text = |k: &str| e[k].as_str().map(str::to_string);
    let nni = |k: &str| e[k].as_u64();
    Ok(ControlParameters {
        name: name("name")?,
        face_id: nni("faceId"),
        uri: text("uri"),
        local_uri: text("localUri"),
        origin: nni("origin").map(RouteOrigin),
        cost: nni("cost"),
        capacity: nni("capacity"),
        count: nni("count"),
        flags: nni("flags"),
        mask: nni("mask"),
        strategy: name("strategy")?,
        expiration_period: nni("expirationPeriod").map(Duration::from_millis),
        face_persistency: nni("facePersistency").map(FacePersistency),
        base_congestion_marking_interval: nni("baseCongestionMarkingInterval")
            .map(Duration::from_nanos),
        default_congestion_threshold: nni("defaultCongestionThreshold"),
        mtu: nni("mtu"),
    })
}

/// Encodes each case with our library, compares bytes where the spec fixes
/// them, and has python-ndn parse and verify the result.
fn check_encode(cases: &[&Value]) {
    let Some(py) = python() else { return };
    assert!(!cases.is_empty(), "no cases");
    let mut failures = Vec::new();
    let mut lines = String::new();
    for case in cases {
        let name = s(case, "case");
        let ours = match encode_ours(case) {
            Ok(w) => hex::encode(w),
            Err(e) => {
                failures.push(format!("{name}: we cannot encode it: {e:#}"));
                continue;
            }
        };
        let mut line = json!({
            "case": name,
            "hex": ours,
            "expect": case["expect"],
            "signatureInfo": case["signatureInfo"],
        });
        if let Some(key) = case.get("key") {
            line["key"] = key.clone();
        }
        if case["bytesFixed"] == json!(true) {
            line["pyHex"] = case["hex"].clone();
            if ours != s(case, "hex") {
                failures.push(format!(
                    "{name}: bytes differ\n  ours   {ours}\n  python {}",
                    s(case, "hex")
                ));
            }
        } else if case["sameElements"] == json!(true) {
            line["pyHexSameElements"] = case["hex"].clone();
        }
        if let Some(err) = case.get("pyndnParseError") {
            // A python-ndn limitation the corpus documents: it must still
            // reject our (conforming) bytes, with this error.
            line["expectParseError"] = err.clone();
        }
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    let mut child = Command::new(py)
        .arg(Path::new(ROOT).join("tests/interop/pyndn_check.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("cannot run pyndn_check.py");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(lines.as_bytes())
        .expect("write to pyndn_check.py");
    let out = child.wait_with_output().expect("pyndn_check.py");
    let report = String::from_utf8_lossy(&out.stdout);
    for l in report.lines() {
        let v: Value = serde_json::from_str(l).expect("pyndn_check.py line is not JSON");
        if v["ok"] == json!(false) {
            failures.push(format!("python-ndn on {}: {}", v["case"], v["errors"]));
        }
    }
    let summary: Value = report
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .expect("pyndn_check.py printed no summary");
    let checked = lines.lines().count() as u64;
    assert_eq!(
        summary["summary"]["passed"].as_u64().unwrap_or(0)
            + summary["summary"]["failed"].as_u64().unwrap_or(0),
        checked,
        "pyndn_check.py checked every line"
    );
    if !out.status.success() && failures.is_empty() {
        failures.push(format!("pyndn_check.py exited {}", out.status));
    }
    assert!(
        failures.is_empty(),
        "{} problems encoding {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn python_ndn_accepts_our_interests_and_data() {
    check_encode(&cases_of(&[0x05, 0x06]));
}

#[test]
fn python_ndn_accepts_our_lp_packets() {
    // Nack (reasons none, 50, 100, 150), PitToken, CongestionMark, Fragment.
    check_encode(&cases_of(&[0x64]));
}

#[test]
fn python_ndn_accepts_our_control_parameters_and_responses() {
    check_encode(&cases_of(&[0x68, 0x65]));
}
