//! `picasso packet decode|encode`: packets to JSON and back, for tests and
//! debugging. The JSON field names are the spec's element names in
//! camelCase; see the README.

use std::io::Read;

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::{Args, Subcommand};
use picasso_tlv::lp::{Nack, NackReason};
use picasso_tlv::mgmt::{self, ControlParameters, ControlResponse, MgmtTlv, ResponseBody};
use picasso_tlv::{types, Component, Data, Interest, LpPacket, Name, SignatureInfo, Signer};
use serde_json::{json, Map, Value};

/// Subcommands of `picasso packet`.
#[derive(Subcommand, Debug)]
pub enum PacketCommand {
    /// Decode a packet given in hex (argument or stdin) and print it as JSON.
    Decode {
        /// The packet in hex; read from stdin when absent.
        hex: Option<String>,
    },
    /// Build a packet from flags and print it in hex.
    Encode {
        #[command(subcommand)]
        packet: EncodeCommand,
    },
}

/// Packet kinds `picasso packet encode` builds.
#[derive(Subcommand, Debug)]
pub enum EncodeCommand {
    /// An Interest.
    Interest(InterestArgs),
    /// A Data packet.
    Data(DataArgs),
    /// An NDNLPv2 LpPacket around a network-layer packet (Nack, PitToken, …).
    Lp(LpArgs),
}

/// Flags of `picasso packet encode lp`.
#[derive(Args, Debug)]
pub struct LpArgs {
    /// The wrapped Interest or Data, in hex.
    #[arg(long)]
    fragment: String,
    /// Make it a Nack with this NackReason (50 Congestion, 100 Duplicate, 150 NoRoute).
    #[arg(long)]
    nack: Option<u64>,
    /// PitToken in hex.
    #[arg(long)]
    pit_token: Option<String>,
    /// CongestionMark.
    #[arg(long)]
    congestion_mark: Option<u64>,
}

/// Flags of `picasso packet encode interest`.
#[derive(Args, Debug)]
pub struct InterestArgs {
    /// Name URI.
    #[arg(long)]
    name: String,
    /// Set CanBePrefix.
    #[arg(long)]
    can_be_prefix: bool,
    /// Set MustBeFresh.
    #[arg(long)]
    must_be_fresh: bool,
    /// ForwardingHint name (repeatable).
    #[arg(long = "forwarding-hint")]
    forwarding_hint: Vec<String>,
    /// Nonce, 8 hex digits.
    #[arg(long)]
    nonce: Option<String>,
    /// InterestLifetime in milliseconds.
    #[arg(long)]
    lifetime: Option<u64>,
    /// HopLimit.
    #[arg(long)]
    hop_limit: Option<u8>,
    /// ApplicationParameters in hex.
    #[arg(long)]
    app_params: Option<String>,
    /// Sign: `digest`, `hmac:<KEYHEX>` or `ed25519:<SEEDHEX>`.
    #[arg(long)]
    sign: Option<String>,
    /// KeyLocator name for hmac/ed25519 signatures.
    #[arg(long, default_value = "/picasso/KEY")]
    key_name: String,
    /// SignatureTime (ms since the epoch) for a signed Interest.
    #[arg(long)]
    signature_time: Option<u64>,
    /// SignatureNonce in hex for a signed Interest.
    #[arg(long)]
    signature_nonce: Option<String>,
    /// SignatureSeqNum for a signed Interest.
    #[arg(long)]
    signature_seq_num: Option<u64>,
}

/// Flags of `picasso packet encode data`.
#[derive(Args, Debug)]
pub struct DataArgs {
    /// Name URI.
    #[arg(long)]
    name: String,
    /// Content in hex.
    #[arg(long)]
    content: Option<String>,
    /// ContentType.
    #[arg(long)]
    content_type: Option<u64>,
    /// FreshnessPeriod in milliseconds.
    #[arg(long)]
    freshness: Option<u64>,
    /// FinalBlockId as a URI component, e.g. seg=9.
    #[arg(long)]
    final_block_id: Option<String>,
    /// Sign: `digest` (default), `hmac:<KEYHEX>` or `ed25519:<SEEDHEX>`.
    #[arg(long, default_value = "digest")]
    sign: String,
    /// KeyLocator name for hmac/ed25519 signatures.
    #[arg(long, default_value = "/picasso/KEY")]
    key_name: String,
}

/// Runs a `picasso packet` subcommand.
pub fn run(cmd: PacketCommand) -> anyhow::Result<()> {
    match cmd {
        PacketCommand::Decode { hex } => {
            let text = match hex {
                Some(h) => h,
                None => {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s)?;
                    s
                }
            };
            let wire = parse_hex("packet", &text)?;
            let v = describe(wire)?;
            println!("{}", serde_json::to_string(&v)?);
            Ok(())
        }
        PacketCommand::Encode { packet } => {
            let wire = match packet {
                EncodeCommand::Interest(a) => encode_interest(a)?,
                EncodeCommand::Data(a) => encode_data(a)?,
                EncodeCommand::Lp(a) => encode_lp(a)?,
            };
            println!("{}", hex::encode(wire));
            Ok(())
        }
    }
}

fn parse_hex(what: &str, text: &str) -> anyhow::Result<Bytes> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let v = hex::decode(&clean).with_context(|| format!("{what} is not valid hex"))?;
    Ok(Bytes::from(v))
}

fn parse_signer(spec: &str, key_name: &str) -> anyhow::Result<Signer> {
    let key_name = Name::from_uri(key_name).context("invalid --key-name")?;
    Ok(match spec.split_once(':') {
        None if spec == "digest" => Signer::DigestSha256,
        Some(("hmac", k)) => Signer::Hmac {
            key: parse_hex("HMAC key", k)?,
            key_name,
        },
        Some(("ed25519", k)) => {
            Signer::ed25519_from_seed(&parse_hex("Ed25519 seed", k)?, key_name)?
        }
        _ => bail!("--sign must be digest, hmac:<KEYHEX> or ed25519:<SEEDHEX>, not {spec:?}"),
    })
}

fn encode_interest(a: InterestArgs) -> anyhow::Result<Bytes> {
    let name = Name::from_uri(&a.name).context("invalid --name")?;
    let mut i = Interest::new(name)
        .with_can_be_prefix(a.can_be_prefix)
        .with_must_be_fresh(a.must_be_fresh);
    if !a.forwarding_hint.is_empty() {
        let hints = a
            .forwarding_hint
            .iter()
            .map(|h| Name::from_uri(h).with_context(|| format!("invalid --forwarding-hint {h:?}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        i.set_forwarding_hint(hints);
    }
    if let Some(n) = &a.nonce {
        let b = parse_hex("--nonce", n)?;
        let b: [u8; 4] = b[..]
            .try_into()
            .map_err(|_| anyhow::anyhow!("--nonce must be 8 hex digits"))?;
        i.set_nonce(Some(u32::from_be_bytes(b)));
    }
    i.set_lifetime_ms(a.lifetime);
    i.set_hop_limit(a.hop_limit);
    if let Some(p) = &a.app_params {
        i.set_app_params(Some(parse_hex("--app-params", p)?));
    }
    if let Some(s) = &a.sign {
        let signer = parse_signer(s, &a.key_name)?;
        let mut info: SignatureInfo = signer.signature_info();
        info.time = a.signature_time;
        info.seq_num = a.signature_seq_num;
        if let Some(n) = &a.signature_nonce {
            info.nonce = Some(parse_hex("--signature-nonce", n)?);
        }
        i.sign(&signer, info);
    }
    Ok(i.encode())
}

fn encode_data(a: DataArgs) -> anyhow::Result<Bytes> {
    let name = Name::from_uri(&a.name).context("invalid --name")?;
    let mut d = Data::new(name);
    if let Some(c) = &a.content {
        d = d.with_content(parse_hex("--content", c)?);
    }
    if let Some(t) = a.content_type {
        d = d.with_content_type(t);
    }
    if let Some(f) = a.freshness {
        d = d.with_freshness_ms(f);
    }
    if let Some(f) = &a.final_block_id {
        let c = Component::from_uri(f).context("invalid --final-block-id")?;
        d = d.with_final_block_id(c);
    }
    let signer = parse_signer(&a.sign, &a.key_name)?;
    Ok(d.sign(&signer))
}

fn encode_lp(a: LpArgs) -> anyhow::Result<Bytes> {
    let fragment = parse_hex("--fragment", &a.fragment)?;
    // Check that the fragment is a packet we can describe.
    describe(fragment.clone()).context("--fragment is not a valid Interest or Data")?;
    let mut lp = LpPacket::wrap(fragment);
    if let Some(r) = a.nack {
        lp.nack = Some(Nack {
            reason: Some(NackReason::from_code(r)),
        });
    }
    if let Some(t) = &a.pit_token {
        lp.pit_token = Some(parse_hex("--pit-token", t)?);
    }
    lp.congestion_mark = a.congestion_mark;
    Ok(lp.encode())
}

/// Decodes any packet into the JSON description documented in the README.
pub fn describe(wire: Bytes) -> anyhow::Result<Value> {
    let mut p = 0;
    let typ = picasso_tlv::wire::read_varnum(&wire, &mut p).context("empty or truncated input")?;
    match typ {
        types::INTEREST => Ok(describe_interest(&Interest::decode(wire)?)),
        types::DATA => Ok(describe_data(&Data::decode(wire)?)),
        types::LP_PACKET => describe_lp(&LpPacket::decode(wire)?),
        mgmt::tt::CONTROL_PARAMETERS => Ok(describe_control_parameters(
            &ControlParameters::decode(wire)?,
        )),
        mgmt::tt::CONTROL_RESPONSE => {
            Ok(describe_control_response(&ControlResponse::decode(wire)?))
        }
        t => bail!("not an NDN packet: outer TLV type {t}"),
    }
}

fn describe_lp(lp: &LpPacket) -> anyhow::Result<Value> {
    let mut m = Map::new();
    m.insert(
        "type".into(),
        json!(if lp.is_nack() { "Nack" } else { "LpPacket" }),
    );
    if let Some(f) = &lp.fragment {
        // A fragment of a larger packet cannot be decoded on its own.
        if lp.is_fragmented() {
            m.insert("fragmentHex".into(), json!(hex::encode(f)));
        } else {
            let inner = describe(f.clone()).context("LpPacket fragment")?;
            if let Some(name) = inner.get("name") {
                m.insert("name".into(), name.clone());
            }
            m.insert("fragment".into(), inner);
        }
    }
    if let Some(s) = lp.sequence {
        m.insert("sequence".into(), json!(s));
    }
    if let Some(i) = lp.frag_index {
        m.insert("fragIndex".into(), json!(i));
    }
    if let Some(c) = lp.frag_count {
        m.insert("fragCount".into(), json!(c));
    }
    if let Some(t) = &lp.pit_token {
        m.insert("pitToken".into(), json!(hex::encode(t)));
    }
    if let Some(n) = &lp.nack {
        m.insert("nackReason".into(), json!(n.reason.map_or(0, |r| r.code())));
    }
    if let Some(f) = lp.next_hop_face_id {
        m.insert("nextHopFaceId".into(), json!(f));
    }
    if let Some(f) = lp.incoming_face_id {
        m.insert("incomingFaceId".into(), json!(f));
    }
    if let Some(c) = lp.cache_policy {
        m.insert("cachePolicy".into(), json!(c.code()));
    }
    if let Some(c) = lp.congestion_mark {
        m.insert("congestionMark".into(), json!(c));
    }
    if !lp.acks.is_empty() {
        m.insert("acks".into(), json!(lp.acks));
    }
    if let Some(t) = lp.tx_sequence {
        m.insert("txSequence".into(), json!(t));
    }
    Ok(Value::Object(m))
}

fn describe_control_parameters(cp: &ControlParameters) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!("ControlParameters"));
    insert_control_parameters(&mut m, cp);
    Value::Object(m)
}

fn insert_control_parameters(m: &mut Map<String, Value>, cp: &ControlParameters) {
    let mut put = |k: &str, v: Value| {
        m.insert(k.into(), v);
    };
    if let Some(n) = &cp.name {
        put("name", json!(n.to_uri()));
    }
    if let Some(v) = cp.face_id {
        put("faceId", json!(v));
    }
    if let Some(v) = &cp.uri {
        put("uri", json!(v));
    }
    if let Some(v) = &cp.local_uri {
        put("localUri", json!(v));
    }
    if let Some(v) = cp.origin {
        put("origin", json!(v.0));
    }
    if let Some(v) = cp.cost {
        put("cost", json!(v));
    }
    if let Some(v) = cp.capacity {
        put("capacity", json!(v));
    }
    if let Some(v) = cp.count {
        put("count", json!(v));
    }
    if let Some(v) = cp.flags {
        put("flags", json!(v));
    }
    if let Some(v) = cp.mask {
        put("mask", json!(v));
    }
    if let Some(v) = &cp.strategy {
        put("strategy", json!(v.to_uri()));
    }
    if let Some(v) = cp.expiration_period {
        put("expirationPeriod", json!(v.as_millis() as u64));
    }
    if let Some(v) = cp.face_persistency {
        put("facePersistency", json!(v.0));
    }
    if let Some(v) = cp.base_congestion_marking_interval {
        put("baseCongestionMarkingInterval", json!(v.as_nanos() as u64));
    }
    if let Some(v) = cp.default_congestion_threshold {
        put("defaultCongestionThreshold", json!(v));
    }
    if let Some(v) = cp.mtu {
        put("mtu", json!(v));
    }
}

fn describe_control_response(r: &ControlResponse) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!("ControlResponse"));
    m.insert("statusCode".into(), json!(r.status_code));
    m.insert("statusText".into(), json!(r.status_text));
    match &r.body {
        Some(ResponseBody::Parameters(cp)) => {
            let mut b = Map::new();
            insert_control_parameters(&mut b, cp);
            m.insert("body".into(), Value::Object(b));
        }
        Some(ResponseBody::Raw(raw)) => {
            m.insert("bodyHex".into(), json!(hex::encode(raw)));
        }
        None => {}
    }
    Value::Object(m)
}

fn describe_interest(i: &Interest) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!("Interest"));
    m.insert("name".into(), json!(i.name().to_uri()));
    if i.can_be_prefix() {
        m.insert("canBePrefix".into(), json!(true));
    }
    if i.must_be_fresh() {
        m.insert("mustBeFresh".into(), json!(true));
    }
    if !i.forwarding_hint().is_empty() {
        let hints: Vec<String> = i.forwarding_hint().iter().map(Name::to_uri).collect();
        m.insert("forwardingHint".into(), json!(hints));
    }
    if let Some(n) = i.nonce() {
        m.insert("nonce".into(), json!(format!("{n:08x}")));
    }
    if let Some(l) = i.lifetime_ms() {
        m.insert("interestLifetime".into(), json!(l));
    }
    if let Some(h) = i.hop_limit() {
        m.insert("hopLimit".into(), json!(h));
    }
    if let Some(p) = i.app_params() {
        m.insert("applicationParameters".into(), json!(hex::encode(p)));
    }
    if let Some(si) = i.signature_info() {
        describe_signature(&mut m, si);
    }
    if let Some(sv) = i.signature_value() {
        m.insert("signatureValue".into(), json!(hex::encode(sv)));
    }
    Value::Object(m)
}

fn describe_data(d: &Data) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!("Data"));
    m.insert("name".into(), json!(d.name().to_uri()));
    if let Some(t) = d.content_type() {
        m.insert("contentType".into(), json!(t));
    }
    if let Some(f) = d.freshness_ms() {
        m.insert("freshnessPeriod".into(), json!(f));
    }
    if let Some(f) = d.final_block_id() {
        m.insert("finalBlockId".into(), json!(f.to_uri()));
    }
    if d.has_content() {
        m.insert("content".into(), json!(hex::encode(d.content())));
    }
    describe_signature(&mut m, d.signature_info());
    m.insert(
        "signatureValue".into(),
        json!(hex::encode(d.signature_value())),
    );
    Value::Object(m)
}

fn describe_signature(m: &mut Map<String, Value>, si: &SignatureInfo) {
    m.insert("signatureType".into(), json!(si.signature_type));
    match &si.key_locator {
        Some(picasso_tlv::KeyLocator::Name(n)) => {
            m.insert("keyLocator".into(), json!(n.to_uri()));
        }
        Some(picasso_tlv::KeyLocator::KeyDigest(d)) => {
            m.insert("keyDigest".into(), json!(hex::encode(d)));
        }
        None => {}
    }
    if let Some(n) = &si.nonce {
        m.insert("signatureNonce".into(), json!(hex::encode(n)));
    }
    if let Some(t) = si.time {
        m.insert("signatureTime".into(), json!(t));
    }
    if let Some(s) = si.seq_num {
        m.insert("signatureSeqNum".into(), json!(s));
    }
    if let Some(v) = &si.validity_period {
        m.insert(
            "validityPeriod".into(),
            json!([v.not_before.clone(), v.not_after.clone()]),
        );
    }
}
