//! What a command reports when it fails: a stable code and a message in words.
//!
//! Without `--json` the message goes to standard error. With `--json` every command prints one
//! JSON document on standard output, failures included: `{"error": {"code": …, "message": …}}`,
//! or, for a transaction the ledger refused, its receipt, whose own `error` field has the same
//! shape. A transaction is tried on the node before it is sent; one the ledger would refuse is
//! not sent, and its document is receipt-shaped too: `{"sent": false, "outcome": "failed" |
//! "rejected", "error": {…}, "fee_paid": "0"}`. With `--dry-run` the document is the trial
//! itself (`equa_simulateTransaction`'s answer). A failure, and a trial that would not succeed,
//! exit with a status that is not zero.

use client::tx::SendError;
use rpc::client::ClientError;
use serde_json::json;

/// The codes of failures that are the command line's own; the ledger's and the node's errors
/// keep their names ("InsufficientBalance", "Malformed").
pub mod code {
    /// Input the command refuses before sending anything.
    pub const INVALID_INPUT: &str = "InvalidInput";
    /// The command line itself: an unknown option, a missing argument.
    pub const USAGE: &str = "Usage";
    /// No such trade, offer, loan, block or receipt.
    pub const NOT_FOUND: &str = "NotFound";
    /// Nothing answers at the node's address.
    pub const UNREACHABLE: &str = "Unreachable";
    /// The node answered with an error of its own.
    pub const NODE_ERROR: &str = "NodeError";
    /// No keystore file where the command looked.
    pub const NO_WALLET: &str = "NoWallet";
    pub const WRONG_PASSWORD: &str = "WrongPassword";
    /// A keystore that cannot be read or is damaged.
    pub const WALLET_ERROR: &str = "WalletError";
    /// A transaction sent whose receipt did not come in time.
    pub const TIMEOUT: &str = "Timeout";
    /// A command that has no JSON form (it runs a network or prints a demonstration).
    pub const NO_JSON: &str = "JsonNotSupported";
}

#[derive(Debug)]
pub struct CliError {
    pub code: String,
    pub message: String,
    /// With `--json`, the command has already printed its document: the receipt of a
    /// transaction that failed, whose `error` field carries the code and message.
    pub printed: bool,
}

impl CliError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_string(),
            message: message.into(),
            printed: false,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(code::NOT_FOUND, message)
    }

    /// A failure talking to the node: its own error code when it sent one (a rejected
    /// transaction carries the ledger's), else unreachable or a node error.
    pub fn rpc(error: ClientError) -> Self {
        let code = match &error {
            ClientError::Unreachable { .. } => code::UNREACHABLE.to_string(),
            ClientError::Rpc { data, .. } => data
                .as_ref()
                .and_then(|d| d["code"].as_str())
                .unwrap_or(code::NODE_ERROR)
                .to_string(),
        };
        let mut message = rpc_message(&error);
        if code == "Malformed" {
            // The command line checks what it can before signing; this is what slipped past.
            message = format!(
                "the node cannot read this transaction: one of its parts is longer or shorter \
                 than the ledger allows ({message})"
            );
        }
        Self {
            code,
            message,
            printed: false,
        }
    }

    /// A failure sending a transaction or waiting for its receipt.
    pub fn send(error: SendError) -> Self {
        match error {
            SendError::Rpc(error) => Self::rpc(error),
            SendError::Invalid(message) => Self::new(code::NODE_ERROR, message),
            SendError::Refused { outcome, error } => {
                Self::new(&error.code, refused_message(&outcome, &error.message))
            }
            SendError::Timeout { tx_id, waited_ms } => Self::new(
                code::TIMEOUT,
                format!(
                    "no receipt for transaction {tx_id} after {}; it may still be included: \
                     `equa tx show {tx_id}` shows it once it is",
                    crate::cli::words::duration_ms(u64::try_from(waited_ms).unwrap_or(u64::MAX))
                ),
            ),
        }
    }

    /// The JSON document of this failure.
    pub fn to_json(&self) -> serde_json::Value {
        json!({ "error": { "code": self.code, "message": self.message } })
    }
}

/// Why a transaction was not sent, in words: the node's trial of it says the ledger would
/// refuse it (`outcome` "failed" or "rejected"), so it cost nothing.
pub fn refused_message(outcome: &str, message: &str) -> String {
    let would = match outcome {
        "failed" => "the ledger would fail it and keep its fee",
        _ => "the ledger would reject it",
    };
    format!("not sent, nothing was paid: {would}: {message}")
}

/// Input errors from the parsing helpers, which say what was expected in words.
impl From<String> for CliError {
    fn from(message: String) -> Self {
        Self::new(code::INVALID_INPUT, message)
    }
}

impl From<&str> for CliError {
    fn from(message: &str) -> Self {
        Self::new(code::INVALID_INPUT, message)
    }
}

/// For the transaction builders the web interface shares, whose errors are words only.
impl From<CliError> for String {
    fn from(error: CliError) -> Self {
        error.message
    }
}

/// A failure talking to the node in words.
pub fn rpc_message(error: &ClientError) -> String {
    match error {
        ClientError::Unreachable { url, message } => {
            let why = if message.contains("Connect") {
                "nothing answers there".to_string()
            } else {
                message.clone()
            };
            format!(
                "cannot reach a node at {url}: {why}. Is the node running? `equa devnet` starts \
                 a local network; --rpc <url> or EQUA_RPC chooses another node"
            )
        }
        ClientError::Rpc { message, .. } => message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejection_keeps_the_ledgers_code() {
        let rejected = ClientError::Rpc {
            code: -32001,
            message: "nonce 3 was already used".into(),
            data: Some(json!({ "code": "NonceReplayed", "message": "nonce 3 was already used" })),
        };
        let error = CliError::rpc(rejected);
        assert_eq!(error.code, "NonceReplayed");
        assert_eq!(
            error.to_json(),
            json!({ "error": { "code": "NonceReplayed", "message": "nonce 3 was already used" } })
        );
        let unreachable = CliError::rpc(ClientError::Unreachable {
            url: "http://127.0.0.1:1".into(),
            message: "client error (Connect)".into(),
        });
        assert_eq!(unreachable.code, code::UNREACHABLE);
        assert!(
            unreachable.message.contains("nothing answers there")
                && !unreachable.message.contains("(Connect)"),
            "{}",
            unreachable.message
        );
    }

    #[test]
    fn a_transaction_not_sent_keeps_the_ledgers_code_and_says_it_cost_nothing() {
        let error = CliError::send(SendError::Refused {
            outcome: "failed".into(),
            error: rpc::views::ErrorView {
                code: "AmountOutOfRange".into(),
                message: "the amount 1000 USDX is outside what offer 1 allows".into(),
            },
        });
        assert_eq!(error.code, "AmountOutOfRange");
        assert!(
            error
                .message
                .starts_with("not sent, nothing was paid: the ledger would fail it")
                && error.message.ends_with("what offer 1 allows"),
            "{}",
            error.message
        );
    }

    #[test]
    fn a_timeout_says_how_long_in_words() {
        let error = CliError::send(SendError::Timeout {
            tx_id: "0xab".into(),
            waited_ms: 60_250,
        });
        assert_eq!(error.code, code::TIMEOUT);
        assert!(
            error.message.contains("after 1 minute;"),
            "{}",
            error.message
        );
    }
}
