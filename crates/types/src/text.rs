//! Bounded UTF-8 text and the chain identifier.

use crate::codec::{Buf, CodecError, EncodeSize, RangeCfg, Read, Write};
use bytes::BufMut;
use std::fmt;

/// Writes a string as a length-prefixed byte sequence (the encoding of `Vec<u8>`).
pub(crate) fn write_str(text: &str, buf: &mut impl BufMut) {
    text.len().write(buf);
    buf.put_slice(text.as_bytes());
}

/// The encoded size of [`write_str`]'s output.
pub(crate) fn str_encode_size(text: &str) -> usize {
    text.len().encode_size().saturating_add(text.len())
}

/// Reads a length-prefixed UTF-8 string whose byte length is in `lengths`.
pub(crate) fn read_str(
    buf: &mut impl Buf,
    lengths: std::ops::RangeInclusive<usize>,
    what: &'static str,
) -> Result<String, CodecError> {
    let bytes = Vec::<u8>::read_cfg(buf, &(RangeCfg::new(lengths), ()))?;
    String::from_utf8(bytes).map_err(|_| CodecError::Invalid(what, "invalid UTF-8"))
}

/// UTF-8 text of at most `MAX` bytes. Decoding rejects longer input and invalid UTF-8.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text<const MAX: usize>(String);

/// Text that is longer than its bound.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("text is {length} bytes long; at most {limit} are allowed")]
pub struct TextTooLong {
    pub length: usize,
    pub limit: usize,
}

impl<const MAX: usize> Text<MAX> {
    pub fn new(text: impl Into<String>) -> Result<Self, TextTooLong> {
        let text = text.into();
        if text.len() > MAX {
            return Err(TextTooLong {
                length: text.len(),
                limit: MAX,
            });
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Lets maps keyed by `Text` be searched with a `&str` without allocating.
impl<const MAX: usize> std::borrow::Borrow<str> for Text<MAX> {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> fmt::Display for Text<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MAX: usize> Write for Text<MAX> {
    fn write(&self, buf: &mut impl BufMut) {
        write_str(&self.0, buf);
    }
}

impl<const MAX: usize> EncodeSize for Text<MAX> {
    fn encode_size(&self) -> usize {
        str_encode_size(&self.0)
    }
}

impl<const MAX: usize> Read for Text<MAX> {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        read_str(buf, 0..=MAX, "Text").map(Self)
    }
}

/// The identifier of one Equa network, for example `equa-devnet`. It is part of every
/// transaction's signing namespace, so a transaction signed for one chain is invalid on another.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChainId(String);

/// A chain identifier that is empty, too long or uses characters outside `[a-z0-9-]`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid chain id {0:?}: use 1 to {max} characters from a-z, 0-9 and '-'", max = ChainId::MAX_LENGTH)]
pub struct ChainIdError(pub String);

impl ChainId {
    pub const MAX_LENGTH: usize = 32;

    pub fn new(text: &str) -> Result<Self, ChainIdError> {
        let valid = !text.is_empty()
            && text.len() <= Self::MAX_LENGTH
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(ChainIdError(text.to_string()));
        }
        Ok(Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for ChainId {
    type Err = ChainIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl Write for ChainId {
    fn write(&self, buf: &mut impl BufMut) {
        write_str(&self.0, buf);
    }
}

impl EncodeSize for ChainId {
    fn encode_size(&self) -> usize {
        str_encode_size(&self.0)
    }
}

impl Read for ChainId {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let text = read_str(buf, 1..=Self::MAX_LENGTH, "ChainId")?;
        Self::new(&text).map_err(|_| CodecError::Invalid("ChainId", "invalid characters"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Encode, decode};

    #[test]
    fn text_round_trips_and_enforces_its_bound() {
        let text = Text::<8>::new("héllo").unwrap();
        assert_eq!(decode::<Text<8>>(&text.encode()).unwrap(), text);
        assert_eq!(
            Text::<4>::new("hello"),
            Err(TextTooLong {
                length: 5,
                limit: 4
            })
        );
        // A longer text cannot be smuggled in through the decoder either.
        let long = Text::<16>::new("0123456789").unwrap().encode();
        assert!(decode::<Text<8>>(&long).is_err());
    }

    #[test]
    fn text_rejects_invalid_utf8() {
        let bytes = vec![0xffu8, 0xfe].encode();
        assert!(decode::<Text<8>>(&bytes).is_err());
    }

    #[test]
    fn chain_id_rules() {
        assert!(ChainId::new("equa-devnet-1").is_ok());
        for bad in ["", "Equa", "equa net", "équa", &"a".repeat(33)] {
            assert!(ChainId::new(bad).is_err(), "{bad:?} must be rejected");
        }
        let id = ChainId::new("equa-test").unwrap();
        assert_eq!(decode::<ChainId>(&id.encode()).unwrap(), id);
        assert!(decode::<ChainId>(&b"EQUA".to_vec().encode()).is_err());
    }
}
