//! `equa`: one binary for every Equa command.

mod cli;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "equa",
    version,
    about = "Peer-to-peer fiat trading and lending on a BFT ledger"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply a few blocks to a genesis in memory and print the receipts and balances.
    Demo(cli::demo::DemoArgs),
    /// Create, import, list and show wallets.
    Keys(cli::keys::KeysArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => cli::demo::run(args),
        Command::Keys(args) => cli::keys::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
