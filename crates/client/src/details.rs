//! A seller's payment-account details (an IBAN, a phone number), one text per payment method.
//!
//! They never go on the public record in the clear. The wallet keeps them in a file beside its
//! keystore (`<keystore>.details`), sealed with ChaCha20-Poly1305 under a key derived from the
//! wallet's seed, with the wallet's address as associated data; and a seller sends them to the
//! buyer of one trade as a message of that trade's end-to-end encrypted chat, which the
//! arbitrator can read only if a party reveals the conversation. The file is JSON:
//!
//! ```json
//! { "version": 1, "address": "equa1…", "nonce": "<hex 12 bytes>", "ciphertext": "<hex>" }
//! ```

use crate::keys::{Wallet, derive};
use chacha20poly1305::{
    ChaCha20Poly1305, KeyInit,
    aead::{Aead, Payload},
};
use serde::{Deserialize, Serialize};
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};
use zeroize::Zeroizing;

/// The derivation path of the key that seals the details file.
pub const DETAILS_PATH: &str = "m/44'/9777'/0'/2'/0'";
/// The longest details text for one method, in bytes.
pub const MAX_DETAILS_BYTES: usize = 1024;
/// The longest method name a details entry may have, in bytes.
pub const MAX_METHOD_BYTES: usize = 48;
/// The first line of a chat message that carries payment details; the rest is the details. The
/// method is not in the message: readers label details with the trade's own method, so no text
/// another party chose (a free-text method's name) is ever framed as part of them.
const MESSAGE_MARKER: &str = "equa-payment-details/2";
const VERSION: u32 = 1;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DetailsError {
    #[error(
        "payment details for {method} are {length} bytes long; at most {MAX_DETAILS_BYTES} fit"
    )]
    TooLong { method: String, length: usize },
    #[error("payment details for {method} are empty; give the account to pay, such as an IBAN")]
    Empty { method: String },
    #[error("a payment method name is 1 to {MAX_METHOD_BYTES} bytes, not {0:?}")]
    Method(String),
    #[error("the payment details file {path} belongs to {found}, not to this wallet ({expected})")]
    OtherWallet {
        path: String,
        found: String,
        expected: String,
    },
    #[error("the payment details file {path} is damaged or was not sealed by this wallet")]
    Damaged { path: String },
    #[error("payment details file version {found} is not supported (this wallet reads {VERSION})")]
    Version { found: u32 },
    #[error("cannot access the payment details file {path}: {message}")]
    Io { path: String, message: String },
}

#[derive(Serialize, Deserialize)]
struct File {
    version: u32,
    address: String,
    nonce: String,
    ciphertext: String,
}

/// Where the details of the wallet stored at `keystore` are kept.
pub fn path_for(keystore: &Path) -> PathBuf {
    let mut name = keystore.as_os_str().to_owned();
    name.push(".details");
    PathBuf::from(name)
}

/// The payment details a wallet keeps, by method name (compared without regard to case).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PaymentDetails {
    by_method: BTreeMap<String, (String, String)>,
}

fn key_of(method: &str) -> String {
    method.trim().to_lowercase()
}

impl PaymentDetails {
    /// The details the wallet keeps for `method`.
    pub fn get(&self, method: &str) -> Option<&str> {
        self.by_method
            .get(&key_of(method))
            .map(|(_, details)| details.as_str())
    }

    /// Each method with its details, by method name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_method
            .values()
            .map(|(method, details)| (method.as_str(), details.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.by_method.is_empty()
    }

    /// Keeps `details` for `method`, replacing what was kept for it.
    pub fn set(&mut self, method: &str, details: &str) -> Result<(), DetailsError> {
        let method = method.trim();
        if method.is_empty() || method.len() > MAX_METHOD_BYTES {
            return Err(DetailsError::Method(method.to_string()));
        }
        let details = details.trim();
        if details.is_empty() {
            return Err(DetailsError::Empty {
                method: method.into(),
            });
        }
        if details.len() > MAX_DETAILS_BYTES {
            return Err(DetailsError::TooLong {
                method: method.into(),
                length: details.len(),
            });
        }
        self.by_method
            .insert(key_of(method), (method.into(), details.into()));
        Ok(())
    }

    /// Forgets the details of `method`; false when none were kept.
    pub fn remove(&mut self, method: &str) -> bool {
        self.by_method.remove(&key_of(method)).is_some()
    }

    /// The details kept beside `keystore` for `wallet`; none when there is no file yet.
    pub fn load(keystore: &Path, wallet: &Wallet) -> Result<Self, DetailsError> {
        let path = path_for(keystore);
        let shown = path.display().to_string();
        let io = |e: std::io::Error| DetailsError::Io {
            path: shown.clone(),
            message: e.to_string(),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(io(e)),
        };
        let damaged = || DetailsError::Damaged {
            path: shown.clone(),
        };
        let file: File = serde_json::from_str(&text).map_err(|_| damaged())?;
        if file.version != VERSION {
            return Err(DetailsError::Version {
                found: file.version,
            });
        }
        let address = wallet.account().to_string();
        if file.address != address {
            return Err(DetailsError::OtherWallet {
                path: shown.clone(),
                found: file.address,
                expected: address,
            });
        }
        let nonce: [u8; 12] = hex::decode(&file.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(damaged)?;
        let ciphertext = hex::decode(&file.ciphertext).map_err(|_| damaged())?;
        let plain = Zeroizing::new(
            cipher(wallet)
                .decrypt(
                    &nonce.into(),
                    Payload {
                        msg: &ciphertext,
                        aad: address.as_bytes(),
                    },
                )
                .map_err(|_| damaged())?,
        );
        let entries: BTreeMap<String, String> =
            serde_json::from_slice(&plain).map_err(|_| damaged())?;
        let mut details = Self::default();
        for (method, text) in entries {
            details.set(&method, &text).map_err(|_| damaged())?;
        }
        Ok(details)
    }

    /// Seals the details and writes them beside `keystore`, replacing the file in one step
    /// (readable by the owner only).
    pub fn save(&self, keystore: &Path, wallet: &Wallet) -> Result<(), DetailsError> {
        let path = path_for(keystore);
        let io = |e: std::io::Error| DetailsError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let entries: BTreeMap<&str, &str> = self.iter().collect();
        let plain = Zeroizing::new(serde_json::to_vec(&entries).expect("strings serialize"));
        let address = wallet.account().to_string();
        let nonce = crate::random_bytes::<12>();
        let ciphertext = cipher(wallet)
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: &plain,
                    aad: address.as_bytes(),
                },
            )
            .expect("sealing a small file cannot fail");
        let file = File {
            version: VERSION,
            address,
            nonce: hex::encode(nonce),
            ciphertext: hex::encode(ciphertext),
        };
        let mut staged = path.as_os_str().to_owned();
        staged.push(".new");
        let staged = PathBuf::from(staged);
        write_private(
            &staged,
            &serde_json::to_string_pretty(&file).expect("serializes"),
        )
        .map_err(io)?;
        std::fs::rename(&staged, &path).map_err(io)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

fn cipher(wallet: &Wallet) -> ChaCha20Poly1305 {
    let key = Zeroizing::new(derive(wallet.seed(), DETAILS_PATH));
    ChaCha20Poly1305::new_from_slice(key.as_ref()).expect("32-byte key")
}

/// The chat message that hands `details` to a trade's buyer.
pub fn message(details: &str) -> String {
    format!("{MESSAGE_MARKER}\n{}", details.trim())
}

/// The details a chat message carries, when it is a payment-details message.
pub fn parse_message(text: &str) -> Option<&str> {
    let details = text.strip_prefix(MESSAGE_MARKER)?.strip_prefix('\n')?;
    (!details.trim().is_empty()).then_some(details)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wallet(byte: u8) -> Wallet {
        Wallet::from_seed([byte; 64])
    }

    /// An empty directory of this test's own.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("equa-details-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn details_survive_a_save_and_load_and_are_not_in_the_file_in_clear() {
        let keystore = scratch("roundtrip").join("alice.json");
        let alice = wallet(1);
        assert!(PaymentDetails::load(&keystore, &alice).unwrap().is_empty());
        let mut details = PaymentDetails::default();
        details
            .set("SEPA", "IBAN DE89 3704 0044 0532 0130 00")
            .unwrap();
        details.set("Revolut", "@alice").unwrap();
        details.save(&keystore, &alice).unwrap();
        let file = std::fs::read_to_string(path_for(&keystore)).unwrap();
        assert!(!file.contains("DE89") && !file.contains("@alice"), "{file}");
        let loaded = PaymentDetails::load(&keystore, &alice).unwrap();
        assert_eq!(loaded, details);
        assert_eq!(loaded.get("sepa"), Some("IBAN DE89 3704 0044 0532 0130 00"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path_for(&keystore))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "only the owner may read the file");
        }
    }

    #[test]
    fn another_wallet_or_an_altered_file_is_refused() {
        let keystore = scratch("refused").join("alice.json");
        let mut details = PaymentDetails::default();
        details.set("SEPA", "IBAN DE89").unwrap();
        details.save(&keystore, &wallet(1)).unwrap();
        assert!(matches!(
            PaymentDetails::load(&keystore, &wallet(2)),
            Err(DetailsError::OtherWallet { .. })
        ));
        let path = path_for(&keystore);
        let mut file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut sealed = hex::decode(file["ciphertext"].as_str().unwrap()).unwrap();
        sealed[0] ^= 1;
        file["ciphertext"] = hex::encode(sealed).into();
        std::fs::write(&path, file.to_string()).unwrap();
        assert!(matches!(
            PaymentDetails::load(&keystore, &wallet(1)),
            Err(DetailsError::Damaged { .. })
        ));
    }

    #[test]
    fn limits_are_checked() {
        let mut details = PaymentDetails::default();
        assert_eq!(
            details.set("SEPA", "  "),
            Err(DetailsError::Empty {
                method: "SEPA".into()
            })
        );
        assert_eq!(
            details.set("SEPA", &"x".repeat(MAX_DETAILS_BYTES + 1)),
            Err(DetailsError::TooLong {
                method: "SEPA".into(),
                length: MAX_DETAILS_BYTES + 1
            })
        );
        assert!(details.set("", "x").is_err());
        assert!(details.set(&"m".repeat(MAX_METHOD_BYTES + 1), "x").is_err());
        details.set("SEPA", &"x".repeat(MAX_DETAILS_BYTES)).unwrap();
        assert!(details.remove("sepa"));
        assert!(!details.remove("sepa"));
    }

    #[test]
    fn a_details_message_reads_back_and_ordinary_text_is_not_one() {
        let text = message("IBAN DE89\nBIC COBADEFFXXX");
        assert_eq!(parse_message(&text), Some("IBAN DE89\nBIC COBADEFFXXX"));
        assert_eq!(parse_message("hello"), None);
        assert_eq!(parse_message("equa-payment-details/2\n  "), None);
        assert_eq!(parse_message("equa-payment-details/2x\nIBAN"), None);
        // The old framing, with a method line another party could choose, is not read.
        assert_eq!(parse_message("equa-payment-details/1\nSEPA\nIBAN"), None);
    }
}
