//! Keys from a BIP39 mnemonic.
//!
//! The 24-word English mnemonic (256 bits of entropy) and an optional passphrase give a 64-byte
//! BIP39 seed. Keys are derived from the seed with SLIP-0010 for ed25519, which only has
//! hardened steps:
//!
//! - the account's signing key at `m/44'/9777'/0'/0'/0'`;
//! - the account's chat (X25519) key at `m/44'/9777'/0'/1'/0'`.
//!
//! 9777 is the coin type of these paths; Equa has no registered SLIP-0044 number. Changing a path
//! changes every address derived from existing mnemonics, so the paths are fixed.

use bip39::{Language, Mnemonic};
use commonware_cryptography::{Signer, ed25519};
use ed25519_dalek_bip32::{DerivationPath, ExtendedSigningKey};
use types::AccountId;
use zeroize::Zeroizing;

/// The signing key's derivation path.
pub const SIGNING_PATH: &str = "m/44'/9777'/0'/0'/0'";
/// The chat key's derivation path.
pub const CHAT_PATH: &str = "m/44'/9777'/0'/1'/0'";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the mnemonic is not valid: {0}")]
    Mnemonic(String),
    #[error("the mnemonic has {words} words; Equa wallets use 24")]
    WordCount { words: usize },
}

/// A wallet's secret: the 64-byte BIP39 seed. Everything else is derived from it.
#[derive(Clone)]
pub struct Wallet {
    seed: Zeroizing<[u8; 64]>,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Wallet({})", self.account())
    }
}

impl Wallet {
    /// A new wallet from fresh randomness, with its mnemonic (to be shown to the user once).
    pub fn generate(passphrase: &str) -> (Self, Zeroizing<String>) {
        let entropy = Zeroizing::new(crate::random_bytes::<32>());
        let mnemonic = Mnemonic::from_entropy_in(Language::English, entropy.as_ref())
            .expect("32 bytes is a valid entropy length");
        let wallet = Self::from_seed(mnemonic.to_seed(passphrase));
        (wallet, Zeroizing::new(mnemonic.to_string()))
    }

    /// The wallet of an existing 24-word English mnemonic. Extra spaces and upper case are
    /// accepted; the checksum word is verified.
    pub fn from_mnemonic(phrase: &str, passphrase: &str) -> Result<Self, KeyError> {
        let normalized = Zeroizing::new(
            phrase
                .split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .join(" "),
        );
        let words = normalized.split(' ').filter(|w| !w.is_empty()).count();
        let mnemonic = Mnemonic::parse_in_normalized(Language::English, &normalized)
            .map_err(|e| KeyError::Mnemonic(e.to_string()))?;
        if words != 24 {
            return Err(KeyError::WordCount { words });
        }
        Ok(Self::from_seed(mnemonic.to_seed(passphrase)))
    }

    /// The wallet of a BIP39 seed.
    pub fn from_seed(seed: [u8; 64]) -> Self {
        Self {
            seed: Zeroizing::new(seed),
        }
    }

    pub fn seed(&self) -> &[u8; 64] {
        &self.seed
    }

    /// The ed25519 key that signs the account's transactions.
    pub fn signing_key(&self) -> ed25519::PrivateKey {
        let secret = Zeroizing::new(derive(self.seed.as_ref(), SIGNING_PATH));
        types::codec::decode::<ed25519::PrivateKey>(secret.as_ref())
            .expect("any 32 bytes are an ed25519 secret key")
    }

    /// The account this wallet controls.
    pub fn account(&self) -> AccountId {
        AccountId::from_public_key(&self.signing_key().public_key())
    }

    /// The X25519 secret of the account's chat key.
    pub fn chat_secret(&self) -> x25519_dalek::StaticSecret {
        x25519_dalek::StaticSecret::from(derive(self.seed.as_ref(), CHAT_PATH))
    }

    /// The X25519 public key others encrypt chat to; published in the account's profile.
    pub fn chat_public_key(&self) -> [u8; 32] {
        x25519_dalek::PublicKey::from(&self.chat_secret()).to_bytes()
    }
}

/// A fresh ed25519 key from the operating system's randomness, for node identities.
pub fn random_signing_key() -> ed25519::PrivateKey {
    let secret = Zeroizing::new(crate::random_bytes::<32>());
    types::codec::decode::<ed25519::PrivateKey>(secret.as_ref())
        .expect("any 32 bytes are an ed25519 secret key")
}

/// The SLIP-0010 ed25519 private key at `path` (every step hardened) below `seed`.
pub fn derive(seed: &[u8], path: &str) -> [u8; 32] {
    let path: DerivationPath = path.parse().expect("paths in this crate are valid");
    ExtendedSigningKey::from_seed(seed)
        .and_then(|master| master.derive(&path))
        .expect("hardened SLIP-0010 ed25519 derivation cannot fail")
        .signing_key
        .to_bytes()
}
