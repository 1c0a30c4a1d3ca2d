//! The keystore file: a wallet's seed encrypted under a password.
//!
//! The password is stretched with scrypt into a 32-byte key; the seed is sealed with
//! ChaCha20-Poly1305, whose associated data binds the file's address and parameters so none of
//! them can be swapped. A SHA-256 checksum over the encrypted fields tells a damaged file apart
//! from a wrong password. The file is JSON:
//!
//! ```json
//! { "version": 1, "address": "equa1…",
//!   "kdf": { "name": "scrypt", "log_n": 15, "r": 8, "p": 1, "salt": "<hex 32 bytes>" },
//!   "cipher": { "name": "chacha20-poly1305", "nonce": "<hex 12 bytes>" },
//!   "ciphertext": "<hex 64 + 16 bytes>", "checksum": "<hex 32 bytes>" }
//! ```

use crate::keys::Wallet;
use chacha20poly1305::{
    ChaCha20Poly1305, KeyInit,
    aead::{Aead, Payload},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use zeroize::Zeroizing;

const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    #[error("wrong password for keystore {address}")]
    WrongPassword { address: String },
    #[error("the keystore file is damaged: {0}")]
    Damaged(String),
    #[error("keystore version {found} is not supported (this wallet reads version {VERSION})")]
    Version { found: u32 },
    #[error("cannot access keystore file {path}: {message}")]
    Io { path: String, message: String },
}

/// How hard the password is stretched: scrypt's `log_n`, `r` and `p`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScryptCost {
    pub log_n: u8,
    pub r: u32,
    pub p: u32,
}

impl ScryptCost {
    /// 32 MiB and roughly a tenth of a second per attempt on a laptop.
    pub const DEFAULT: ScryptCost = ScryptCost {
        log_n: 15,
        r: 8,
        p: 1,
    };
    /// Fast and weak, for tests only.
    pub const TEST: ScryptCost = ScryptCost {
        log_n: 10,
        r: 8,
        p: 1,
    };
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Kdf {
    name: String,
    #[serde(flatten)]
    cost: ScryptCost,
    salt: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cipher {
    name: String,
    nonce: String,
}

/// An encrypted wallet as stored on disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keystore {
    version: u32,
    address: String,
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
    checksum: String,
}

fn stretch(
    password: &str,
    salt: &[u8],
    cost: ScryptCost,
) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    let params = scrypt::Params::new(cost.log_n, cost.r, cost.p)
        .map_err(|e| KeystoreError::Damaged(format!("scrypt parameters: {e}")))?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password.as_bytes(), salt, &params, key.as_mut())
        .map_err(|e| KeystoreError::Damaged(format!("scrypt: {e}")))?;
    Ok(key)
}

fn unhex(field: &str, text: &str, length: usize) -> Result<Vec<u8>, KeystoreError> {
    let bytes =
        hex::decode(text).map_err(|_| KeystoreError::Damaged(format!("{field} is not hex")))?;
    if bytes.len() != length {
        return Err(KeystoreError::Damaged(format!(
            "{field} is {} bytes, expected {length}",
            bytes.len()
        )));
    }
    Ok(bytes)
}

impl Keystore {
    /// Encrypts `wallet` under `password`.
    pub fn encrypt(
        wallet: &Wallet,
        password: &str,
        cost: ScryptCost,
    ) -> Result<Self, KeystoreError> {
        let salt = crate::random_bytes::<32>();
        let nonce = crate::random_bytes::<12>();
        let mut keystore = Keystore {
            version: VERSION,
            address: wallet.account().to_string(),
            kdf: Kdf {
                name: "scrypt".into(),
                cost,
                salt: hex::encode(salt),
            },
            cipher: Cipher {
                name: "chacha20-poly1305".into(),
                nonce: hex::encode(nonce),
            },
            ciphertext: String::new(),
            checksum: String::new(),
        };
        let key = stretch(password, &salt, cost)?;
        let cipher = ChaCha20Poly1305::new_from_slice(key.as_ref()).expect("32-byte key");
        let sealed = cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: wallet.seed(),
                    aad: &keystore.associated_data(),
                },
            )
            .expect("sealing a 64-byte seed cannot fail");
        keystore.ciphertext = hex::encode(sealed);
        keystore.checksum = keystore.compute_checksum();
        Ok(keystore)
    }

    /// Decrypts the wallet, telling a wrong password apart from a damaged file.
    pub fn decrypt(&self, password: &str) -> Result<Wallet, KeystoreError> {
        if self.version != VERSION {
            return Err(KeystoreError::Version {
                found: self.version,
            });
        }
        if self.checksum != self.compute_checksum() {
            return Err(KeystoreError::Damaged("checksum mismatch".into()));
        }
        if self.kdf.name != "scrypt" || self.cipher.name != "chacha20-poly1305" {
            return Err(KeystoreError::Damaged("unknown kdf or cipher".into()));
        }
        let salt = unhex("kdf.salt", &self.kdf.salt, 32)?;
        let nonce: [u8; 12] = unhex("cipher.nonce", &self.cipher.nonce, 12)?
            .try_into()
            .expect("length checked");
        let sealed = unhex("ciphertext", &self.ciphertext, 64 + 16)?;
        let key = stretch(password, &salt, self.kdf.cost)?;
        let cipher = ChaCha20Poly1305::new_from_slice(key.as_ref()).expect("32-byte key");
        let seed = Zeroizing::new(
            cipher
                .decrypt(
                    &nonce.into(),
                    Payload {
                        msg: &sealed,
                        aad: &self.associated_data(),
                    },
                )
                .map_err(|_| KeystoreError::WrongPassword {
                    address: self.address.clone(),
                })?,
        );
        let seed: [u8; 64] = seed.as_slice().try_into().expect("length checked");
        let wallet = Wallet::from_seed(seed);
        if wallet.account().to_string() != self.address {
            return Err(KeystoreError::Damaged(
                "the decrypted key does not match the address".into(),
            ));
        }
        Ok(wallet)
    }

    /// The account address, readable without the password.
    pub fn address(&self) -> &str {
        &self.address
    }

    fn associated_data(&self) -> Vec<u8> {
        format!(
            "EQUA_KEYSTORE_V{}|{}|{}|{}|{}|{}|{}",
            self.version,
            self.address,
            self.kdf.cost.log_n,
            self.kdf.cost.r,
            self.kdf.cost.p,
            self.kdf.salt,
            self.cipher.nonce
        )
        .into_bytes()
    }

    fn compute_checksum(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.associated_data());
        hasher.update(self.ciphertext.as_bytes());
        hex::encode(hasher.finalize())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a keystore serializes")
    }

    pub fn from_json(text: &str) -> Result<Self, KeystoreError> {
        serde_json::from_str(text).map_err(|e| KeystoreError::Damaged(e.to_string()))
    }

    /// Writes the keystore to `path`, creating it with owner-only permissions; an existing file
    /// is never overwritten.
    pub fn save(&self, path: &Path) -> Result<(), KeystoreError> {
        use std::io::Write;
        let io = |e: std::io::Error| KeystoreError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(io)?;
        file.write_all(self.to_json().as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    pub fn load(path: &Path) -> Result<Self, KeystoreError> {
        let text = std::fs::read_to_string(path).map_err(|e| KeystoreError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_json(&text)
    }
}
