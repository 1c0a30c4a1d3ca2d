//! Block headers and the transaction root.

use crate::{AccountId, Digest, TxId, hash, impl_codec};

const TX_LEAF_NAMESPACE: &[u8] = b"EQUA_TX_LEAF_V1";
const TX_NODE_NAMESPACE: &[u8] = b"EQUA_TX_NODE_V1";
const HEADER_NAMESPACE: &[u8] = b"EQUA_HEADER_V1";

/// The header of a block: where it sits in the chain, when and by whom it was proposed, and
/// commitments to its transactions and to the state after applying them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    pub parent: Digest,
    pub height: u64,
    pub timestamp_ms: u64,
    pub proposer: AccountId,
    pub tx_root: Digest,
    pub state_root: Digest,
}
impl_codec!(BlockHeader {
    parent,
    height,
    timestamp_ms,
    proposer,
    tx_root,
    state_root
});

impl BlockHeader {
    /// The header's identity: a hash of its canonical encoding.
    pub fn digest(&self) -> Digest {
        use crate::codec::Encode;
        hash(HEADER_NAMESPACE, &[&self.encode()])
    }
}

/// The root of a binary Merkle tree over transaction ids, in block order. Leaves and inner nodes
/// are hashed under different namespaces so a leaf can never pose as a node; an odd node is
/// carried up unchanged. The root of no transactions is the all-zero digest.
pub fn tx_root(ids: &[TxId]) -> Digest {
    if ids.is_empty() {
        return Digest([0u8; 32]);
    }
    let mut level: Vec<Digest> = ids
        .iter()
        .map(|id| hash(TX_LEAF_NAMESPACE, &[id.as_ref()]))
        .collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => hash(TX_NODE_NAMESPACE, &[left.as_ref(), right.as_ref()]),
                [single] => *single,
                _ => unreachable!("chunks(2) yields one or two items"),
            })
            .collect();
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(byte: u8) -> TxId {
        Digest([byte; 32])
    }

    #[test]
    fn tx_root_commits_to_order_and_content() {
        let root = tx_root(&[id(1), id(2), id(3)]);
        assert_ne!(root, tx_root(&[id(2), id(1), id(3)]));
        assert_ne!(root, tx_root(&[id(1), id(2)]));
        assert_ne!(root, tx_root(&[id(1), id(2), id(4)]));
        assert_eq!(root, tx_root(&[id(1), id(2), id(3)]));
        assert_eq!(tx_root(&[]), Digest([0u8; 32]));
        assert_ne!(
            tx_root(&[id(1)]),
            id(1),
            "a leaf is hashed, never used as is"
        );
    }
}
