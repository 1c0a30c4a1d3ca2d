//! Asset identifiers and ticker symbols.

use crate::codec::{Buf, CodecError, EncodeSize, Read, Write};
use bytes::BufMut;
use commonware_codec::FixedSize;
use std::{fmt, str::FromStr};

/// An asset, numbered in the order assets were created. The native asset `EQA`, which pays
/// fees and bonds, is always asset 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AssetId(pub u32);

impl AssetId {
    /// The native asset, EQA.
    pub const NATIVE: AssetId = AssetId(0);
}

impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl Write for AssetId {
    fn write(&self, buf: &mut impl BufMut) {
        self.0.write(buf);
    }
}

impl FixedSize for AssetId {
    const SIZE: usize = 4;
}

impl Read for AssetId {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        u32::read_cfg(buf, &()).map(Self)
    }
}

/// A ticker symbol: 2 to 12 characters, upper-case letters and digits, starting with a letter.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Symbol(String);

/// A symbol that breaks the rules above.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid asset symbol {0:?}: use 2 to 12 characters A-Z and 0-9, starting with a letter")]
pub struct SymbolError(pub String);

impl Symbol {
    pub const MIN_LENGTH: usize = 2;
    pub const MAX_LENGTH: usize = 12;

    pub fn new(text: &str) -> Result<Self, SymbolError> {
        let bytes = text.as_bytes();
        let valid = (Self::MIN_LENGTH..=Self::MAX_LENGTH).contains(&bytes.len())
            && bytes[0].is_ascii_uppercase()
            && bytes
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !valid {
            return Err(SymbolError(text.to_string()));
        }
        Ok(Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Symbol {
    type Err = SymbolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl Write for Symbol {
    fn write(&self, buf: &mut impl BufMut) {
        crate::text::write_str(&self.0, buf);
    }
}

impl EncodeSize for Symbol {
    fn encode_size(&self) -> usize {
        crate::text::str_encode_size(&self.0)
    }
}

impl Read for Symbol {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let text = crate::text::read_str(buf, Self::MIN_LENGTH..=Self::MAX_LENGTH, "Symbol")?;
        Self::new(&text).map_err(|_| CodecError::Invalid("Symbol", "invalid characters"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Encode, decode};

    #[test]
    fn symbol_rules() {
        for good in ["EQA", "USDX", "BTC2", "AB", "ABCDEFGHIJKL"] {
            let symbol = Symbol::new(good).unwrap();
            assert_eq!(decode::<Symbol>(&symbol.encode()).unwrap(), symbol);
        }
        for bad in ["", "A", "usdx", "1BTC", "US-D", "ABCDEFGHIJKLM", "ÉQA"] {
            assert!(Symbol::new(bad).is_err(), "{bad:?}");
        }
        assert!(decode::<Symbol>(&b"usd".to_vec().encode()).is_err());
    }
}
