//! What a wallet needs, apart from the network: keys from a mnemonic, an encrypted keystore file,
//! and the end-to-end encryption of trade chat.
//!
//! The RPC client, transaction builder and light verification join this crate with the node's
//! API. Nothing here touches the ledger's state.

pub mod chat;
pub mod details;
pub mod keys;
pub mod keystore;
pub mod tx;

pub use keys::{KeyError, Wallet};
pub use keystore::{Keystore, KeystoreError, ScryptCost};

/// Fills `bytes` from the operating system's secure random source.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    bytes
}
