//! The node's logs: `tracing` events written to standard output, filtered by `RUST_LOG` (for
//! example `RUST_LOG=info,node=debug`; `info` when unset) in text or one JSON object a line.
//!
//! What a node logs, by level:
//! - info: its configuration at startup, JSON-RPC and metrics addresses, peers connecting and
//!   disconnecting, the ledger read back from the store, sync progress;
//! - warn: refused blocks and proposals, slow blocks, peers blocked;
//! - debug: every finalized block (height, digest, transactions, finality time) and every
//!   transaction's journey by its id (`tx=0x…`): admitted from a client or a peer, relayed,
//!   finalized with its outcome.

use tracing_subscriber::{EnvFilter, fmt};

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("log format `{other}` is neither `text` nor `json`")),
        }
    }
}

/// Installs the process's log subscriber. The filter comes from `RUST_LOG` when set (an invalid
/// one is an error, not silently ignored), else `info`.
pub fn init(format: LogFormat) -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(text) if !text.trim().is_empty() => EnvFilter::try_new(&text)
            .map_err(|e| format!("RUST_LOG `{text}` is not a valid log filter: {e}"))?,
        _ => EnvFilter::new("info"),
    };
    let builder = fmt().with_env_filter(filter).with_target(true);
    let installed = match format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|e| format!("cannot install the log subscriber: {e}"))
}
