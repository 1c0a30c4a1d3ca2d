//! The `equa` command line: one subcommand group per file.

pub mod chain;
pub mod demo;
pub mod devnet;
pub mod keys;
pub mod lending;
pub mod loan;
pub mod market;

use clap::Args;
use std::path::PathBuf;

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
}
