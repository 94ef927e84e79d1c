//! `picasso`: the one command-line program of PiCasso. Thin: it parses
//! arguments and calls the crates.

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};

mod cmd;

/// PiCasso: a lightweight, service-centric NDN edge computing platform.
#[derive(Parser, Debug)]
#[command(name = "picasso", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Work with NDN names.
    Name {
        #[command(subcommand)]
        command: cmd::name::NameCommand,
    },
    /// Decode and encode NDN packets (for tests and debugging).
    Packet {
        #[command(subcommand)]
        command: cmd::packet::PacketCommand,
    },
    /// Build the paper's service images (no registry needed).
    Images {
        #[command(subcommand)]
        command: cmd::images::ImagesCommand,
    },
    /// Forwarder management (faces, routes, fib, strategy, cs, status).
    #[command(flatten)]
    Nfdc(cmd::nfdc::NfdcCommand),
    /// Run the NDN forwarder daemon.
    Fwd(cmd::fwd::FwdArgs),
    /// Run an edge node: forwarder, monitoring agent, gateway, ingress.
    Node(Box<cmd::node::NodeArgs>),
    /// Write an Ed25519 key pair (FILE and FILE.pub, hex).
    Keygen(cmd::node::KeygenArgs),
    /// Serve a file under a name (segmented, versioned, signed) until stopped.
    Put(cmd::transfer::PutArgs),
    /// Fetch a name (pipelined) to stdout.
    Get(cmd::transfer::GetArgs),
    /// Run a local test bed: an orchestrator and emulated Pis, with load.
    Testbed(cmd::testbed::TestbedArgs),
    /// Run the paper's experiments on a test bed and write the report.
    Experiments(cmd::testbed::ExperimentsArgs),
    /// Run the orchestrator: repo, monitoring, engine, deployer, HTTP API.
    Orchestrator(Box<cmd::orchestrator::OrchestratorArgs>),
    /// Show nodes, services (replicas, QoS) and recent decisions.
    Status(cmd::orchestrator::StatusArgs),
    /// The orchestrator's service repo: add, list, remove.
    Repo(cmd::orchestrator::RepoArgs),
    /// Run a service (on a given node with --node).
    Deploy(cmd::orchestrator::DeployArgs),
    /// Keep a service at N replicas.
    Scale(cmd::orchestrator::ScaleArgs),
    /// The orchestrator's policy: set, get.
    Policy(cmd::orchestrator::PolicyArgs),
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        command: cmd::bench::BenchCommand,
    },
    /// Simulate thousands of nodes and compare the orchestration policies.
    Sim(cmd::sim::SimArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The daemon reports faces and lifecycle; the tools only warnings.
    cmd::init_tracing(match cli.command {
        Command::Fwd(_) | Command::Node(_) | Command::Orchestrator(_) => "info",
        _ => "warn",
    });
    let result = match cli.command {
        Command::Name { command } => cmd::name::run(command),
        Command::Packet { command } => cmd::packet::run(command),
        Command::Images { command } => cmd::images::run(command),
        Command::Nfdc(command) => cmd::nfdc::run(command),
        Command::Fwd(args) => cmd::fwd::run(args),
        Command::Node(args) => cmd::node::run(*args),
        Command::Keygen(args) => cmd::node::keygen(args),
        Command::Put(args) => cmd::transfer::put(args),
        Command::Get(args) => cmd::transfer::get(args),
        Command::Orchestrator(args) => cmd::orchestrator::run(*args),
        Command::Status(args) => cmd::orchestrator::status(args),
        Command::Repo(args) => cmd::orchestrator::repo(args),
        Command::Deploy(args) => cmd::orchestrator::deploy(args),
        Command::Scale(args) => cmd::orchestrator::scale(args),
        Command::Policy(args) => cmd::orchestrator::policy(args),
        Command::Bench { command } => cmd::bench::run(command),
        Command::Testbed(args) => cmd::testbed::run(args),
        Command::Experiments(args) => cmd::testbed::experiments(args),
        Command::Sim(args) => cmd::sim::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("picasso: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
