//! Helpers for the canonical binary encoding.
//!
//! Every consensus type is encoded with `commonware-codec`: fixed-width big-endian integers,
//! length-prefixed collections with an explicit upper bound, and one-byte enum tags. Decoding
//! through [`decode`] rejects trailing bytes, oversized collections and unknown tags.

pub use commonware_codec::{
    Buf, Decode, Encode, EncodeSize, Error as CodecError, RangeCfg, Read, ReadExt, Write,
};

/// Decodes a complete value from `bytes`, rejecting trailing bytes.
pub fn decode<T: Decode<Cfg = ()>>(bytes: &[u8]) -> Result<T, CodecError> {
    T::decode_cfg(bytes.to_vec(), &())
}

/// Implements `Write`, `EncodeSize` and `Read` (with `Cfg = ()`) for a struct by encoding its
/// fields in the order listed. A field whose type needs a read configuration (a bounded `Vec`,
/// for example) names it after a colon: `items: (RangeCfg::new(0..=16), ())`.
#[macro_export]
macro_rules! impl_codec {
    ($name:ident { $($field:ident $(: $cfg:expr)?),* $(,)? }) => {
        impl $crate::codec::Write for $name {
            fn write(&self, buf: &mut impl ::bytes::BufMut) {
                $( $crate::codec::Write::write(&self.$field, buf); )*
            }
        }
        impl $crate::codec::EncodeSize for $name {
            fn encode_size(&self) -> usize {
                0 $( + $crate::codec::EncodeSize::encode_size(&self.$field) )*
            }
        }
        impl $crate::codec::Read for $name {
            type Cfg = ();
            fn read_cfg(
                buf: &mut impl $crate::codec::Buf,
                _: &(),
            ) -> Result<Self, $crate::codec::CodecError> {
                Ok(Self {
                    $( $field: $crate::codec::Read::read_cfg(buf, &$crate::impl_codec!(@cfg $($cfg)?))?, )*
                })
            }
        }
    };
    (@cfg) => { () };
    (@cfg $cfg:expr) => { $cfg };
}

/// Reads a one-byte enum tag.
pub fn read_tag(buf: &mut impl Buf) -> Result<u8, CodecError> {
    u8::read(buf)
}

/// Implements the codec traits for an enum whose variants each wrap one encodable value, writing
/// a one-byte tag before the value: `impl_codec_enum!(Call { 0 => Bank, 1 => Market })`.
/// Unknown tags are rejected when decoding.
#[macro_export]
macro_rules! impl_codec_enum {
    ($name:ident { $($tag:literal => $variant:ident),* $(,)? }) => {
        impl $crate::codec::Write for $name {
            fn write(&self, buf: &mut impl ::bytes::BufMut) {
                match self {
                    $( Self::$variant(inner) => {
                        $crate::codec::Write::write(&($tag as u8), buf);
                        $crate::codec::Write::write(inner, buf);
                    } )*
                }
            }
        }
        impl $crate::codec::EncodeSize for $name {
            fn encode_size(&self) -> usize {
                match self {
                    $( Self::$variant(inner) => 1 + $crate::codec::EncodeSize::encode_size(inner), )*
                }
            }
        }
        impl $crate::codec::Read for $name {
            type Cfg = ();
            fn read_cfg(
                buf: &mut impl $crate::codec::Buf,
                _: &(),
            ) -> Result<Self, $crate::codec::CodecError> {
                match $crate::codec::read_tag(buf)? {
                    $( $tag => Ok(Self::$variant($crate::codec::Read::read_cfg(buf, &())?)), )*
                    other => Err($crate::codec::CodecError::InvalidEnum(other)),
                }
            }
        }
    };
}
