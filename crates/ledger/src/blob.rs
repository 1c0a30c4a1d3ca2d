//! The bytes of a key or value as [`crate::MemoryStore`] holds them: short ones inline, longer
//! ones behind a shared pointer.
//!
//! Most records are short (nonces, balances, index entries and their keys): inline, a record
//! is read where its entry is, with no second memory access and no allocation of its own. Keys
//! ([`Blob`]) keep up to 46 bytes inline, which holds every account key; values ([`Value`])
//! up to 22, which holds a nonce or a balance in half the room.

use std::{borrow::Borrow, cmp::Ordering, fmt, sync::Arc};

/// Key bytes up to this length are kept inline (48 bytes in all).
const INLINE: usize = 46;

/// Value bytes up to this length are kept inline (24 bytes in all).
const VALUE_INLINE: usize = 22;

/// Bytes, up to `N` of them inline.
#[derive(Clone)]
pub(crate) enum Bytes<const N: usize> {
    Inline { len: u8, bytes: [u8; N] },
    Shared(Arc<[u8]>),
}

/// A key's bytes.
pub(crate) type Blob = Bytes<INLINE>;

/// A value's bytes.
pub(crate) type Value = Bytes<VALUE_INLINE>;

impl<const N: usize> Bytes<N> {
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Self::Shared(bytes) => bytes,
        }
    }
}

impl<const N: usize> From<&[u8]> for Bytes<N> {
    fn from(source: &[u8]) -> Self {
        match u8::try_from(source.len()) {
            Ok(len) if source.len() <= N => {
                let mut bytes = [0; N];
                bytes[..source.len()].copy_from_slice(source);
                Self::Inline { len, bytes }
            }
            _ => Self::Shared(Arc::from(source)),
        }
    }
}

impl<const N: usize> From<Vec<u8>> for Bytes<N> {
    fn from(source: Vec<u8>) -> Self {
        if source.len() <= N {
            Self::from(source.as_slice())
        } else {
            Self::Shared(Arc::from(source))
        }
    }
}

impl<const N: usize> Borrow<[u8]> for Bytes<N> {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

// Order and equality are those of the bytes, as `Borrow` requires: a lookup by `&[u8]` finds
// the entry whichever way it is held.
impl<const N: usize> PartialEq for Bytes<N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<const N: usize> Eq for Bytes<N> {}

// Hashed as the bytes, as `Borrow` requires of a hash map's keys.
impl<const N: usize> std::hash::Hash for Bytes<N> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl<const N: usize> PartialOrd for Bytes<N> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<const N: usize> Ord for Bytes<N> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl<const N: usize> fmt::Debug for Bytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.as_slice() {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_shared_bytes_compare_as_bytes() {
        let short = vec![7u8; INLINE];
        let long = vec![7u8; INLINE + 1];
        assert!(matches!(Blob::from(short.clone()), Blob::Inline { .. }));
        assert!(matches!(Blob::from(long.clone()), Blob::Shared(_)));
        assert_eq!(Blob::from(short.clone()).as_slice(), short.as_slice());
        assert_eq!(Blob::from(long.as_slice()).as_slice(), long.as_slice());
        assert_eq!(Blob::from(Vec::new()).as_slice(), b"");
        // A shorter prefix sorts first, whichever form each side has.
        assert!(Blob::from(short.clone()) < Blob::from(long.clone()));
        let shared_short = Blob::Shared(Arc::from(short.as_slice()));
        assert_eq!(shared_short, Blob::from(short.as_slice()));
        assert_eq!(
            shared_short.cmp(&Blob::from(long.as_slice())),
            short.cmp(&long)
        );
    }

    #[test]
    fn values_keep_nonces_and_balances_inline_in_half_a_key() {
        assert_eq!(std::mem::size_of::<Blob>(), 48);
        assert_eq!(std::mem::size_of::<Value>(), 24);
        assert_eq!(std::mem::size_of::<Option<Value>>(), 24);
        let balance = 7u128.to_be_bytes();
        assert!(matches!(Value::from(&balance[..]), Value::Inline { .. }));
        let long = vec![1u8; VALUE_INLINE + 1];
        assert!(matches!(Value::from(long.clone()), Value::Shared(_)));
        assert_eq!(Value::from(long.as_slice()).as_slice(), long.as_slice());
        assert_eq!(
            Value::from(&balance[..]).as_slice(),
            Blob::from(&balance[..]).as_slice()
        );
    }
}
