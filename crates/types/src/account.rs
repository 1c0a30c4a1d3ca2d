//! Account identifiers: ed25519 public keys, written as bech32m text with the prefix `equa1`.

use crate::codec::{Buf, CodecError, Read, ReadExt, Write};
use bech32::{Bech32m, Hrp, primitives::decode::CheckedHrpstring};
use bytes::BufMut;
use commonware_codec::FixedSize;
use commonware_cryptography::ed25519;
use std::{fmt, str::FromStr};

/// The human-readable part of every address.
pub const ADDRESS_PREFIX: &str = "equa";

/// An account: the 32 bytes of the ed25519 public key that signs its transactions. Every way of
/// building one checks that the bytes are a valid curve point, so an account id always names a
/// key that can sign. The decompressed key is not kept: ids are stored and compared far more often
/// than they verify signatures.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId([u8; 32]);

/// Why a text address was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("address is not valid bech32m (bad characters, mixed case or checksum mismatch): {0}")]
    Encoding(String),
    #[error("address prefix is {found:?}; Equa addresses start with \"equa1\"")]
    WrongPrefix { found: String },
    #[error("address holds {length} bytes; an account key is 32 bytes")]
    WrongLength { length: usize },
    #[error(
        "address bytes are not a valid ed25519 public key (the canonical encoding of a point not of small order)"
    )]
    NotAKey,
}

/// Keys remembered by [`decompress`] before it starts over.
const DECOMPRESSED_KEYS: usize = 1 << 16;

/// Whether `bytes` are the canonical encoding of a point that is not of small order.
///
/// ed25519 verification (ZIP-215, as commonware's) accepts a signature by a small-order key
/// over any message: with `R` the identity and `s = 0`, `[8][s]B = [8]R + [8][k]A` holds for any
/// `A` of order dividing 8. An account or node key at such a point could be spent or signed for
/// by anyone, so those are no keys. A point also has up to two non-canonical spellings besides
/// its canonical one, which would let one key count as several; only the canonical one is a key.
/// A point with a torsion component (`A' + T`) stays a key: signing for it still takes the
/// discrete log of `A'`, so it only gives the holder of `A'` another account of its own, and
/// refusing it costs a scalar multiplication (44 to 61 µs, against 0.7 to 1.1 µs for the
/// small-order check, on this project's 2-core machine) on every account id decoded for the
/// first time.
fn strong_key(bytes: &[u8; 32]) -> bool {
    curve25519_dalek::edwards::CompressedEdwardsY(*bytes)
        .decompress()
        .is_some_and(|point| !point.is_small_order() && point.compress().to_bytes() == *bytes)
}

/// The ed25519 key with these bytes, or `None` when they are not a valid key (see
/// [`strong_key`]).
///
/// Decompressing a point costs a field exponentiation, and every decode of a transaction did it
/// for the signer and again for each account it names — in a devnet profile that was a third of
/// all CPU time. The same few accounts recur, so valid keys are remembered by their bytes (the
/// result of decompression depends on the bytes alone, so this changes no outcome); invalid
/// bytes are not remembered.
fn decompress(bytes: &[u8; 32]) -> Option<ed25519::PublicKey> {
    use std::{
        collections::HashMap,
        sync::{Mutex, OnceLock},
    };
    static KEYS: OnceLock<Mutex<HashMap<[u8; 32], ed25519::PublicKey>>> = OnceLock::new();
    let keys = KEYS.get_or_init(Default::default);
    if let Some(key) = keys
        .lock()
        .expect("no panics while holding the keys")
        .get(bytes)
    {
        return Some(key.clone());
    }
    if !strong_key(bytes) {
        return None;
    }
    let key = crate::codec::decode::<ed25519::PublicKey>(bytes).ok()?;
    let mut keys = keys.lock().expect("no panics while holding the keys");
    if keys.len() >= DECOMPRESSED_KEYS {
        keys.clear();
    }
    keys.insert(*bytes, key.clone());
    Some(key)
}

impl AccountId {
    pub const SIZE: usize = 32;

    pub fn from_public_key(key: &ed25519::PublicKey) -> Self {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(key.as_ref());
        Self(bytes)
    }

    /// Builds an account id from raw key bytes, checking that they are a valid ed25519 key.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, AddressError> {
        decompress(&bytes)
            .map(|_| Self(bytes))
            .ok_or(AddressError::NotAKey)
    }

    /// The ed25519 key, decompressed.
    pub fn public_key(&self) -> ed25519::PublicKey {
        decompress(&self.0).expect("an account id always holds a valid key")
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The bech32m text form, `equa1…`.
    pub fn to_address(&self) -> String {
        let hrp = Hrp::parse_unchecked(ADDRESS_PREFIX);
        bech32::encode::<Bech32m>(hrp, self.as_bytes()).expect("32 bytes always fit in bech32m")
    }

    /// Parses the bech32m text form, verifying the checksum, the prefix and the key.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let checked = CheckedHrpstring::new::<Bech32m>(text)
            .map_err(|e| AddressError::Encoding(e.to_string()))?;
        let prefix = checked.hrp().to_lowercase();
        if prefix != ADDRESS_PREFIX {
            return Err(AddressError::WrongPrefix { found: prefix });
        }
        let bytes: Vec<u8> = checked.byte_iter().collect();
        let bytes: [u8; 32] =
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| AddressError::WrongLength {
                    length: bytes.len(),
                })?;
        Self::from_bytes(bytes)
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_address())
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", self.to_address())
    }
}

impl FromStr for AccountId {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Write for AccountId {
    fn write(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }
}

impl FixedSize for AccountId {
    const SIZE: usize = 32;
}

impl Read for AccountId {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let bytes = <[u8; 32]>::read(buf)?;
        Self::from_bytes(bytes)
            .map_err(|_| CodecError::Invalid("AccountId", "not an ed25519 public key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Encode, decode};
    use commonware_cryptography::{Signer, ed25519::PrivateKey};

    fn account(seed: u64) -> AccountId {
        AccountId::from_public_key(&PrivateKey::from_seed(seed).public_key())
    }

    #[test]
    fn address_round_trips() {
        let id = account(7);
        let text = id.to_address();
        assert!(text.starts_with("equa1"), "{text}");
        assert_eq!(AccountId::parse(&text).unwrap(), id);
        // Upper case is the same bech32m string and is accepted.
        assert_eq!(AccountId::parse(&text.to_uppercase()).unwrap(), id);
        assert_eq!(decode::<AccountId>(&id.encode()).unwrap(), id);
    }

    #[test]
    fn address_checksum_is_verified() {
        let text = account(1).to_address();
        let mut chars: Vec<char> = text.chars().collect();
        let last = chars.len() - 1;
        chars[last] = if chars[last] == 'q' { 'p' } else { 'q' };
        let corrupted: String = chars.into_iter().collect();
        assert!(matches!(
            AccountId::parse(&corrupted),
            Err(AddressError::Encoding(_))
        ));
    }

    #[test]
    fn address_rejects_other_prefixes_lengths_and_bech32() {
        let id = account(2);
        let other =
            bech32::encode::<Bech32m>(Hrp::parse("cosmos").unwrap(), id.as_bytes()).unwrap();
        assert_eq!(
            AccountId::parse(&other),
            Err(AddressError::WrongPrefix {
                found: "cosmos".into()
            })
        );
        let short = bech32::encode::<Bech32m>(Hrp::parse("equa").unwrap(), &[1u8; 20]).unwrap();
        assert_eq!(
            AccountId::parse(&short),
            Err(AddressError::WrongLength { length: 20 })
        );
        // The original bech32 checksum is a different constant and must not be accepted.
        let legacy =
            bech32::encode::<bech32::Bech32>(Hrp::parse("equa").unwrap(), id.as_bytes()).unwrap();
        assert!(matches!(
            AccountId::parse(&legacy),
            Err(AddressError::Encoding(_))
        ));
        assert!(matches!(
            AccountId::parse("not an address"),
            Err(AddressError::Encoding(_))
        ));
    }

    #[test]
    fn bytes_that_are_not_a_key_are_rejected() {
        // y = 2 is not the y-coordinate of any point on the ed25519 curve.
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        assert_eq!(AccountId::from_bytes(bytes), Err(AddressError::NotAKey));
        assert!(decode::<AccountId>(&bytes).is_err());
    }
}
