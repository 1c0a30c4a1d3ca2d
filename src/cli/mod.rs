//! The `equa` command line: one subcommand group per file.

pub mod chain;
pub mod demo;
pub mod details;
pub mod devnet;
pub mod error;
pub mod input;
pub mod keys;
pub mod lending;
pub mod loan;
pub mod market;
pub mod market_view;
pub mod node;
pub mod trade;
pub mod usage;
pub mod validator;
pub mod words;

use clap::{Args, error::ErrorKind};
use error::{CliError, code};
use std::{path::PathBuf, process::ExitCode};

/// Options every command accepts.
#[derive(Debug, Args)]
pub struct Global {
    /// The node's JSON-RPC address.
    #[arg(
        long,
        global = true,
        env = "EQUA_RPC",
        default_value = "http://127.0.0.1:9545"
    )]
    pub rpc: String,
    /// A keystore file to sign with (default: $EQUA_HOME/keys/default.json).
    #[arg(long, global = true, env = "EQUA_WALLET")]
    pub wallet: Option<PathBuf>,
    /// Print JSON instead of text, and no progress indicators.
    #[arg(long, global = true)]
    pub json: bool,
    /// For a command that sends a transaction: try it on the node and print what it would do
    /// (outcome, fee, balances moved, events) without sending it.
    #[arg(long, global = true)]
    pub dry_run: bool,
}

/// Reports a failed command: with `--json` as one JSON document on standard output (unless the
/// command printed its own, a failed transaction's receipt), else in words on standard error.
pub fn fail(global: &Global, error: &CliError) -> ExitCode {
    if global.json {
        if !error.printed {
            chain::print_json(&error.to_json());
        }
    } else {
        eprintln!("error: {}", error.message);
    }
    ExitCode::FAILURE
}

/// Reports a command line clap could not read, in words (see [`usage`]); help and the version
/// are printed as asked. With `--json` anywhere on the line the error is JSON on standard
/// output. The exit status is clap's: 2 for a usage error.
pub fn usage_failure(error: &clap::Error) -> ExitCode {
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    let message = usage::message(error);
    if json_requested() {
        chain::print_json(&CliError::new(code::USAGE, message).to_json());
    } else if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = error.print();
    } else {
        eprintln!("error: {message}\n\n{}", usage::usage(error));
    }
    ExitCode::from(2)
}

/// Whether `--json` was given, read from the raw arguments for when clap could not read them.
fn json_requested() -> bool {
    std::env::args_os()
        .skip(1)
        .take_while(|arg| arg != "--")
        .any(|arg| arg == "--json")
}

/// The error for `--json` on a command that prints text only.
pub fn no_json(command: &str) -> CliError {
    CliError::new(
        code::NO_JSON,
        format!("`equa {command}` prints text only; run it without --json"),
    )
}
