//! `picasso name …`: parse and print names.

use anyhow::Context;
use clap::Subcommand;
use picasso_tlv::Name;

/// Subcommands of `picasso name`.
#[derive(Subcommand, Debug)]
pub enum NameCommand {
    /// Parse a name URI and print it in canonical form, then its TLV in hex.
    Parse {
        /// The name URI, e.g. /picasso/svc/S1/seg=3.
        uri: String,
    },
}

/// Runs a `picasso name` subcommand.
pub fn run(cmd: NameCommand) -> anyhow::Result<()> {
    match cmd {
        NameCommand::Parse { uri } => {
            let name = Name::from_uri(&uri).with_context(|| format!("invalid name URI {uri:?}"))?;
            println!("{}", name.to_uri());
            println!("{}", hex::encode(name.to_wire()));
            Ok(())
        }
    }
}
