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
        Command::Fwd(_) | Command::Node(_) => "info",
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
        Command::Bench { command } => cmd::bench::run(command),
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
