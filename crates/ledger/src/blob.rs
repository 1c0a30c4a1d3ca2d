//! The bytes of a key or value as [`crate::MemoryStore`] holds them: short ones inline, longer
//! ones behind a shared pointer.
//!
//! The store's B-tree copies a node (up to 64 entries) whenever a block first writes under it.
//! Copying an inline entry is a copy of bytes already in the node; copying a shared one touches
//! its reference count somewhere else in memory. Most records are short (nonces, balances, index
//! entries and their keys), so keeping them inline keeps a block's cost close to what it
//! touches even when the state is far larger than the processor's caches.

use std::{borrow::Borrow, cmp::Ordering, fmt, sync::Arc};

/// Bytes up to this length are kept inline.
const INLINE: usize = 46;

#[derive(Clone)]
pub(crate) enum Blob {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Arc<[u8]>),
}

impl Blob {
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Self::Shared(bytes) => bytes,
        }
    }
}

impl From<&[u8]> for Blob {
    fn from(source: &[u8]) -> Self {
        match u8::try_from(source.len()) {
            Ok(len) if source.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..source.len()].copy_from_slice(source);
                Self::Inline { len, bytes }
            }
            _ => Self::Shared(Arc::from(source)),
        }
    }
}

impl From<Vec<u8>> for Blob {
    fn from(source: Vec<u8>) -> Self {
        if source.len() <= INLINE {
            Self::from(source.as_slice())
        } else {
            Self::Shared(Arc::from(source))
        }
    }
}

impl Borrow<[u8]> for Blob {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

// Order and equality are those of the bytes, as `Borrow` requires: a lookup by `&[u8]` finds
// the entry whichever way it is held.
impl PartialEq for Blob {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Blob {}

// Hashed as the bytes, as `Borrow` requires of a hash map's keys.
impl std::hash::Hash for Blob {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl PartialOrd for Blob {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Blob {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl fmt::Debug for Blob {
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
}
