//! `picasso faces|routes|fib|strategy|cs|status`: the nfdc of PiCasso.
//! Reads a forwarder's status datasets (as tables, or `--json`) and sends
//! its management commands, over `unix:PATH` or `tcp:HOST:PORT`; works
//! against our forwarder and NFD alike. The protocol work is
//! `picasso_forwarder::nfdc`; this module parses and prints.

use anyhow::Context;
use clap::{Args, Subcommand};
use picasso_forwarder::app::{Client, FaceAddr, DEFAULT_SOCKET};
use picasso_forwarder::nfdc;
use picasso_tlv::mgmt::{
    ControlParameters, CsInfo, FacePersistency, FaceStatus, FibEntry, ForwarderStatus, RibEntry,
    StrategyChoice,
};
use picasso_tlv::Name;
use serde_json::{json, Value};

/// Options every management command takes.
#[derive(Args, Debug, Clone)]
pub struct Opts {
    /// The forwarder's face: unix:PATH or tcp:HOST:PORT.
    #[arg(long, global = true, default_value_t = format!("unix:{DEFAULT_SOCKET}"))]
    fwd: String,
    /// Print the dataset (or the command's reply) as JSON.
    #[arg(long, global = true)]
    json: bool,
}

impl Opts {
    /// Options for the forwarder at `fwd`.
    pub fn new(fwd: String, json: bool) -> Self {
        Self { fwd, json }
    }
}

/// The management commands (flattened into `picasso`'s subcommands).
#[derive(Subcommand, Debug)]
pub enum NfdcCommand {
    /// List faces, or create/destroy one.
    Faces {
        #[command(flatten)]
        opts: Opts,
        #[command(subcommand)]
        action: Option<FacesAction>,
    },
    /// List the RIB, or add/remove a static route.
    Routes {
        #[command(flatten)]
        opts: Opts,
        #[command(subcommand)]
        action: Option<RoutesAction>,
    },
    /// List the FIB.
    Fib {
        #[command(flatten)]
        opts: Opts,
    },
    /// List strategy choices, or set/unset one.
    Strategy {
        #[command(flatten)]
        opts: Opts,
        #[command(subcommand)]
        action: Option<StrategyAction>,
    },
    /// Show the content store's settings and counters.
    Cs {
        #[command(flatten)]
        opts: Opts,
    },
    /// Show the forwarder's general status (and the router's, when one
    /// runs). Reached as `picasso status --fwd FACE` (`picasso status`
    /// alone is the orchestrator's).
    #[command(skip)]
    Status {
        #[command(flatten)]
        opts: Opts,
    },
}

/// `picasso faces …`.
#[derive(Subcommand, Debug)]
pub enum FacesAction {
    /// Create a face to URI (udp4://IP:PORT or tcp4://IP:PORT).
    Create {
        /// The remote FaceUri.
        uri: String,
        /// Make the face permanent (kept across failures) instead of persistent.
        #[arg(long)]
        permanent: bool,
    },
    /// Destroy face ID.
    Destroy {
        /// The FaceId.
        id: u64,
    },
}

/// `picasso routes …`.
#[derive(Subcommand, Debug)]
pub enum RoutesAction {
    /// Add a static route PREFIX → FACEID.
    Add {
        /// The name prefix.
        prefix: String,
        /// The next hop's FaceId.
        face: u64,
        /// The route's cost.
        #[arg(long, default_value_t = 0)]
        cost: u64,
    },
    /// Remove the static route PREFIX → FACEID.
    Remove {
        /// The name prefix.
        prefix: String,
        /// The next hop's FaceId.
        face: u64,
    },
}

/// `picasso strategy …`.
#[derive(Subcommand, Debug)]
pub enum StrategyAction {
    /// Choose STRATEGY (e.g. /localhost/nfd/strategy/multicast) for PREFIX.
    Set {
        /// The name prefix.
        prefix: String,
        /// The strategy name, with or without its version.
        strategy: String,
    },
    /// Remove the choice for PREFIX.
    Unset {
        /// The name prefix.
        prefix: String,
    },
}

fn name(uri: &str) -> anyhow::Result<Name> {
    Name::from_uri(uri).with_context(|| format!("invalid name {uri:?}"))
}

/// Runs a management command.
pub fn run(cmd: NfdcCommand) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    rt.block_on(run_async(cmd))
}

async fn connect(opts: &Opts) -> anyhow::Result<Client> {
    let addr: FaceAddr = opts.fwd.parse().map_err(anyhow::Error::msg)?;
    Client::connect(&addr)
        .await
        .with_context(|| format!("cannot connect to the forwarder at {}", opts.fwd))
}

async fn run_async(cmd: NfdcCommand) -> anyhow::Result<()> {
    match cmd {
        NfdcCommand::Faces { opts, action } => {
            let c = connect(&opts).await?;
            match action {
                None => print(&opts, faces_json(&nfdc::faces(&c).await?), faces_table),
                Some(FacesAction::Create { uri, permanent }) => {
                    let per = if permanent {
                        FacePersistency::PERMANENT
                    } else {
                        FacePersistency::PERSISTENT
                    };
                    reply(
                        &opts,
                        "face created",
                        nfdc::face_create(&c, &uri, per).await?,
                    )
                }
                Some(FacesAction::Destroy { id }) => {
                    reply(&opts, "face destroyed", nfdc::face_destroy(&c, id).await?)
                }
            }
        }
        NfdcCommand::Routes { opts, action } => {
            let c = connect(&opts).await?;
            match action {
                None => print(&opts, routes_json(&nfdc::routes(&c).await?), routes_table),
                Some(RoutesAction::Add { prefix, face, cost }) => reply(
                    &opts,
                    "route added",
                    nfdc::route_add(&c, name(&prefix)?, face, cost).await?,
                ),
                Some(RoutesAction::Remove { prefix, face }) => reply(
                    &opts,
                    "route removed",
                    nfdc::route_remove(&c, name(&prefix)?, face).await?,
                ),
            }
        }
        NfdcCommand::Fib { opts } => {
            let c = connect(&opts).await?;
            print(&opts, fib_json(&nfdc::fib(&c).await?), fib_table)
        }
        NfdcCommand::Strategy { opts, action } => {
            let c = connect(&opts).await?;
            match action {
                None => print(
                    &opts,
                    strategies_json(&nfdc::strategies(&c).await?),
                    strategies_table,
                ),
                Some(StrategyAction::Set { prefix, strategy }) => reply(
                    &opts,
                    "strategy set",
                    nfdc::strategy_set(&c, name(&prefix)?, name(&strategy)?).await?,
                ),
                Some(StrategyAction::Unset { prefix }) => reply(
                    &opts,
                    "strategy unset",
                    nfdc::strategy_unset(&c, name(&prefix)?).await?,
                ),
            }
        }
        NfdcCommand::Cs { opts } => {
            let c = connect(&opts).await?;
            print(&opts, cs_json(&nfdc::cs_info(&c).await?), kv_table)
        }
        NfdcCommand::Status { opts } => {
            let c = connect(&opts).await?;
            let mut v = status_json(&nfdc::status(&c).await?);
            let routing = nfdc::routing(&c).await?;
            if opts.json {
                if let (Some(o), Some(r)) = (v.as_object_mut(), routing) {
                    o.insert("routing".to_string(), r);
                }
                return print(&opts, v, kv_table);
            }
            print!("{}", kv_table(&v));
            if let Some(r) = routing {
                print!("{}", routing_table(&r));
            }
            Ok(())
        }
    }
}

/// Prints `value` as JSON or with `table`.
fn print(opts: &Opts, value: Value, table: fn(&Value) -> String) -> anyhow::Result<()> {
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", table(&value));
    }
    Ok(())
}

fn reply(opts: &Opts, what: &str, p: ControlParameters) -> anyhow::Result<()> {
    let v = params_json(&p);
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        let fields: Vec<String> = v
            .as_object()
            .map(|o| o.iter().map(|(k, v)| format!("{k}={}", plain(v))).collect())
            .unwrap_or_default();
        println!("{what}: {}", fields.join(" "));
    }
    Ok(())
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_string(),
        other => other.to_string(),
    }
}

/// Renders rows of objects as an aligned table with the given columns.
fn table(rows: &[Value], cols: &[&str]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| cols.iter().map(|c| plain(&r[*c])).collect())
        .collect();
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].len())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |vals: Vec<&str>| {
        let mut s = vals
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(cols.to_vec());
    for r in &cells {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

fn kv_table(v: &Value) -> String {
    let Some(o) = v.as_object() else {
        return String::new();
    };
    let w = o.keys().map(String::len).max().unwrap_or(0);
    o.iter()
        .map(|(k, v)| format!("{k:>w$}  {}\n", plain(v)))
        .collect()
}

/// The router's status: its name, neighbours and routes.
fn routing_table(v: &Value) -> String {
    let mut out = format!("\nrouting: node {}\n", plain(&v["node"]));
    let empty = Vec::new();
    let neighbours = v["neighbours"].as_array().unwrap_or(&empty);
    out.push_str(&format!("\nneighbours ({}):\n", neighbours.len()));
    out.push_str(&table(
        neighbours,
        &["node", "addr", "faceId", "alive", "linkCost", "prefixes"],
    ));
    let unnamed = v["unnamed"].as_array().unwrap_or(&empty);
    if !unnamed.is_empty() {
        let addrs: Vec<String> = unnamed.iter().map(plain).collect();
        out.push_str(&format!("not yet named: {}\n", addrs.join(" ")));
    }
    let rows: Vec<Value> = v["routes"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(|r| {
            let hops: Vec<String> = r["nextHops"]
                .as_array()
                .unwrap_or(&empty)
                .iter()
                .map(|h| {
                    format!(
                        "{}(face {}, cost {})",
                        plain(&h["node"]),
                        h["faceId"],
                        h["cost"]
                    )
                })
                .collect();
            let via = if hops.is_empty() {
                "local".to_string()
            } else {
                hops.join(" ")
            };
            json!({ "prefix": r["prefix"], "cost": r["cost"], "hops": r["hops"], "via": via })
        })
        .collect();
    out.push_str(&format!("\nroutes ({}):\n", rows.len()));
    out.push_str(&table(&rows, &["prefix", "cost", "hops", "via"]));
    out
}

fn params_json(p: &ControlParameters) -> Value {
    let mut o = serde_json::Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            o.insert(k.to_string(), v);
        }
    };
    put("name", p.name.as_ref().map(|n| json!(n.to_uri())));
    put("faceId", p.face_id.map(|v| json!(v)));
    put("uri", p.uri.as_ref().map(|v| json!(v)));
    put("localUri", p.local_uri.as_ref().map(|v| json!(v)));
    put("origin", p.origin.map(|v| json!(v.0)));
    put("cost", p.cost.map(|v| json!(v)));
    put("capacity", p.capacity.map(|v| json!(v)));
    put("count", p.count.map(|v| json!(v)));
    put("flags", p.flags.map(|v| json!(v)));
    put("strategy", p.strategy.as_ref().map(|n| json!(n.to_uri())));
    put(
        "expirationPeriodMs",
        p.expiration_period.map(|d| json!(d.as_millis() as u64)),
    );
    put(
        "persistency",
        p.face_persistency.map(|v| json!(persistency(v))),
    );
    put("mtu", p.mtu.map(|v| json!(v)));
    Value::Object(o)
}

fn persistency(p: FacePersistency) -> &'static str {
    match p {
        FacePersistency::PERSISTENT => "persistent",
        FacePersistency::ON_DEMAND => "on-demand",
        FacePersistency::PERMANENT => "permanent",
        _ => "unknown",
    }
}

fn faces_json(faces: &[FaceStatus]) -> Value {
    Value::Array(
        faces
            .iter()
            .map(|f| {
                json!({
                    "faceId": f.face_id,
                    "remote": f.uri,
                    "local": f.local_uri,
                    "scope": if f.face_scope.0 == 1 { "local" } else { "non-local" },
                    "persistency": persistency(f.face_persistency),
                    "linkType": match f.link_type.0 { 0 => "point-to-point", 1 => "multi-access", _ => "ad-hoc" },
                    "mtu": f.mtu,
                    "flags": f.flags,
                    "inInterests": f.n_in_interests,
                    "inData": f.n_in_data,
                    "inNacks": f.n_in_nacks,
                    "outInterests": f.n_out_interests,
                    "outData": f.n_out_data,
                    "outNacks": f.n_out_nacks,
                    "inBytes": f.n_in_bytes,
                    "outBytes": f.n_out_bytes,
                })
            })
            .collect(),
    )
}

fn faces_table(v: &Value) -> String {
    table(
        v.as_array().map(Vec::as_slice).unwrap_or_default(),
        &[
            "faceId",
            "remote",
            "local",
            "scope",
            "persistency",
            "inInterests",
            "inData",
            "outInterests",
            "outData",
            "inBytes",
            "outBytes",
        ],
    )
}

fn routes_json(entries: &[RibEntry]) -> Value {
    let mut rows = Vec::new();
    for e in entries {
        for r in &e.routes {
            rows.push(json!({
                "prefix": e.name.to_uri(),
                "faceId": r.face_id,
                "origin": r.origin.0,
                "cost": r.cost,
                "flags": r.flags,
                "expiresInMs": r.expiration_period.map(|d| d.as_millis() as u64),
            }));
        }
    }
    Value::Array(rows)
}

fn routes_table(v: &Value) -> String {
    table(
        v.as_array().map(Vec::as_slice).unwrap_or_default(),
        &["prefix", "faceId", "origin", "cost", "flags", "expiresInMs"],
    )
}

fn fib_json(entries: &[FibEntry]) -> Value {
    Value::Array(
        entries
            .iter()
            .map(|e| {
                json!({
                    "prefix": e.name.to_uri(),
                    "nextHops": e.next_hops.iter()
                        .map(|h| json!({ "faceId": h.face_id, "cost": h.cost }))
                        .collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

fn fib_table(v: &Value) -> String {
    let rows: Vec<Value> = v
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let hops: Vec<String> = e["nextHops"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|h| format!("{}({})", h["faceId"], h["cost"]))
                .collect();
            json!({ "prefix": e["prefix"], "nextHops(cost)": hops.join(" ") })
        })
        .collect();
    table(&rows, &["prefix", "nextHops(cost)"])
}

fn strategies_json(entries: &[StrategyChoice]) -> Value {
    Value::Array(
        entries
            .iter()
            .map(|e| json!({ "prefix": e.name.to_uri(), "strategy": e.strategy.to_uri() }))
            .collect(),
    )
}

fn strategies_table(v: &Value) -> String {
    table(
        v.as_array().map(Vec::as_slice).unwrap_or_default(),
        &["prefix", "strategy"],
    )
}

fn cs_json(i: &CsInfo) -> Value {
    json!({
        "capacity": i.capacity,
        "admit": i.enable_admit(),
        "serve": i.enable_serve(),
        "entries": i.n_entries,
        "hits": i.n_hits,
        "misses": i.n_misses,
    })
}

fn status_json(s: &ForwarderStatus) -> Value {
    json!({
        "version": s.nfd_version,
        "startTimestampMs": s.start_timestamp,
        "currentTimestampMs": s.current_timestamp,
        "uptimeS": s.current_timestamp.saturating_sub(s.start_timestamp) / 1000,
        "nameTreeEntries": s.n_name_tree_entries,
        "fibEntries": s.n_fib_entries,
        "pitEntries": s.n_pit_entries,
        "measurementsEntries": s.n_measurements_entries,
        "csEntries": s.n_cs_entries,
        "inInterests": s.n_in_interests,
        "inData": s.n_in_data,
        "inNacks": s.n_in_nacks,
        "outInterests": s.n_out_interests,
        "outData": s.n_out_data,
        "outNacks": s.n_out_nacks,
        "satisfiedInterests": s.n_satisfied_interests,
        "unsatisfiedInterests": s.n_unsatisfied_interests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let rows = vec![json!({"a": "x", "b": 1}), json!({"a": "longer", "b": 22})];
        assert_eq!(
            table(&rows, &["a", "b"]),
            "a       b\nx       1\nlonger  22\n"
        );
    }
}
