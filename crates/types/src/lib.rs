//! Plain data shared by every Equa crate: identifiers, amounts, transactions, blocks and their
//! canonical binary encoding.
//!
//! This crate does no I/O and holds no state. Everything here is either a value type with a
//! canonical encoding (built on `commonware-codec`) or a pure function over such values. The
//! encodings are consensus-critical: a change to any of them is a breaking change of the chain.

pub mod account;
pub mod amount;
pub mod asset;
pub mod bank;
pub mod block;

pub mod codec;
pub mod lending;
pub mod market;
pub mod staking;
pub mod text;
pub mod tx;

pub use account::{AccountId, AddressError};
pub use asset::{AssetId, Symbol, SymbolError};
pub use block::{BlockHeader, tx_root};
pub use commonware_cryptography::sha256::Digest;
pub use text::{ChainId, Text};
pub use tx::{Call, SignedTransaction, Transaction, TxId};

/// Hashes `parts` with SHA-256 after a domain-separating `namespace`, so that a digest computed for
/// one purpose can never be mistaken for a digest computed for another.
pub fn hash(namespace: &[u8], parts: &[&[u8]]) -> Digest {
    use commonware_cryptography::{Hasher, Sha256};
    let mut hasher = Sha256::default();
    hasher.update(&(namespace.len() as u64).to_be_bytes());
    hasher.update(namespace);
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().1
}
