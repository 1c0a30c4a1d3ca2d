//! The bodies of Equa's fuzz targets: everything that decodes or parses what a peer, an RPC
//! client or a web form sends, and the ledger under calls chosen byte by byte.
//!
//! Each target is a function of the fuzzer's input that returns normally or panics, and a panic
//! is a finding: a decoder that panicked, a value that does not re-encode to the bytes it was
//! decoded from, a bad parameter answered with anything but a JSON-RPC error, an action refused
//! without a reason, or a ledger invariant broken. The functions run on the stable toolchain:
//! `fuzz/` (cargo-fuzz, nightly) calls them with coverage guidance, and `tests/corpus.rs` replays
//! the corpus kept in `fuzz/corpus/<target>/` through them on every `cargo test`.
//!
//! This crate is test tooling: nothing in the node or the binary depends on it.

pub mod codec;
pub mod fixture;
pub mod ledger_apply;
pub mod rpc_params;
pub mod seeds;
pub mod web_action;

/// A fuzz target: its name (the directory of its corpus, and the name cargo-fuzz runs it by) and
/// its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: [Target; 6] = [
    ("transaction", codec::transaction),
    ("block", codec::block),
    ("relay_batch", codec::relay_batch),
    ("rpc_params", rpc_params::run),
    ("web_action", web_action::run),
    ("ledger_apply", ledger_apply::run),
];
