//! The consensus block: the ledger's transactions plus everything consensus and state sync need.

use crate::ConsensusContext;
use bytes::BufMut;
use commonware_codec::{
    Buf, Encode, EncodeSize, Error as CodecError, FixedSize, MaxEncodeSize, Read, ReadExt, Write,
};
use commonware_consensus::{
    Block as ConsensusBlock, BoundedBlock, CertifiableBlock, Heightable,
    types::{Epoch, Height, Round, View},
};
use commonware_cryptography::{
    Digest as _, Digestible, Signer, bls12381::primitives::variant::Variant, ed25519, sha256,
};
use commonware_storage::mmr::Location;
use commonware_utils::range::NonEmptyRange;
use types::{AccountId, Digest, SignedTransaction, tx::MAX_TX_BYTES};

/// The domain of block digests. Changing it is a breaking change of the chain.
const BLOCK_NAMESPACE: &[u8] = b"EQUA_BLOCK_V1";

/// The most transactions one block may carry.
pub const MAX_BLOCK_TXS: usize = 4_096;
/// The most encoded transaction bytes one block may carry. Together with [`MAX_BLOCK_TXS`] this
/// bounds every block a peer can send, and so the p2p message size.
pub const MAX_BLOCK_TX_BYTES: usize = 1024 * 1024;

/// A block as consensus orders it.
///
/// It embeds the simplex context it was proposed under (the glue `Deferred` marshal verifies it),
/// the ledger inputs (`timestamp_ms`, `proposer`, `txs`) and the authenticated-store commitments
/// after applying it: `state_root`, the canonical root of the current-value store that key-value
/// proofs verify against, and `ops_root` with the operation `range`, which state sync targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub context: ConsensusContext,
    pub parent: Digest,
    pub height: Height,
    /// Proposer-set time. Validators check it increases and stays near their clocks.
    pub timestamp_ms: u64,
    /// The account that receives this block's fees: the leader of the block's view.
    pub proposer: AccountId,
    pub state_root: Digest,
    pub ops_root: Digest,
    pub range: NonEmptyRange<Location>,
    /// The seed of the round before this block's: the threshold signature over round
    /// `(epoch, view - 1)` (see [`crate::threshold`]), which every validator checks and the
    /// ledger's randomness is drawn from. `None` only in view 1 (round 0 is genesis, unsigned).
    pub seed: Option<SeedSignature>,
    pub txs: Vec<SignedTransaction>,
}

/// A round's seed: a recovered threshold signature over the round.
pub type SeedSignature = <crate::threshold::ConsensusVariant as Variant>::Signature;

impl Block {
    /// The first block of a chain: height 0, view 0, no parent, and the empty store's commitments.
    /// Its timestamp is the genesis time, so chains with different genesis times differ here.
    /// The genesis block carries no canonical root (the store has no public function for an empty
    /// one): nothing is proven against genesis.
    pub fn genesis(timestamp_ms: u64, ops_root: Digest, range: NonEmptyRange<Location>) -> Self {
        // The genesis block is never proposed; its leader field only needs to be a valid key.
        let leader = ed25519::PrivateKey::from_seed(0).public_key();
        Self {
            context: ConsensusContext {
                round: Round::new(Epoch::zero(), View::zero()),
                leader: leader.clone(),
                parent: (View::zero(), sha256::Digest::EMPTY),
            },
            parent: sha256::Digest::EMPTY,
            height: Height::zero(),
            timestamp_ms,
            proposer: AccountId::from_public_key(&leader),
            state_root: Digest([0; 32]),
            ops_root,
            range,
            seed: None,
            txs: Vec::new(),
        }
    }

    /// The encoded size of the transactions.
    pub fn tx_bytes(&self) -> usize {
        self.txs.iter().map(SignedTransaction::size).sum()
    }
}

impl Write for Block {
    fn write(&self, buf: &mut impl BufMut) {
        self.context.write(buf);
        self.parent.write(buf);
        self.height.write(buf);
        self.timestamp_ms.write(buf);
        self.proposer.write(buf);
        self.state_root.write(buf);
        self.ops_root.write(buf);
        self.range.write(buf);
        self.seed.write(buf);
        let count = u32::try_from(self.txs.len()).expect("blocks carry at most MAX_BLOCK_TXS");
        count.write(buf);
        for tx in &self.txs {
            tx.write(buf);
        }
    }
}

impl EncodeSize for Block {
    fn encode_size(&self) -> usize {
        self.context.encode_size()
            + self.parent.encode_size()
            + self.height.encode_size()
            + self.timestamp_ms.encode_size()
            + AccountId::SIZE
            + self.state_root.encode_size()
            + self.ops_root.encode_size()
            + self.range.encode_size()
            + self.seed.encode_size()
            + u32::SIZE
            + self.tx_bytes()
    }
}

impl Read for Block {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let context = ConsensusContext::read(buf)?;
        let parent = Digest::read(buf)?;
        let height = Height::read(buf)?;
        let timestamp_ms = u64::read(buf)?;
        let proposer = AccountId::read(buf)?;
        let state_root = Digest::read(buf)?;
        let ops_root = Digest::read(buf)?;
        let range = NonEmptyRange::<Location>::read(buf)?;
        let seed = Option::<SeedSignature>::read(buf)?;
        let count = u32::read(buf)? as usize;
        if count > MAX_BLOCK_TXS {
            return Err(CodecError::InvalidLength(count));
        }
        let mut txs = Vec::with_capacity(count);
        let mut tx_bytes = 0usize;
        for _ in 0..count {
            let tx = SignedTransaction::read(buf)?;
            if tx.size() > MAX_TX_BYTES {
                return Err(CodecError::Invalid("Block", "oversized transaction"));
            }
            tx_bytes = tx_bytes.saturating_add(tx.size());
            if tx_bytes > MAX_BLOCK_TX_BYTES {
                return Err(CodecError::Invalid(
                    "Block",
                    "transactions exceed the block limit",
                ));
            }
            txs.push(tx);
        }
        Ok(Self {
            context,
            parent,
            height,
            timestamp_ms,
            proposer,
            state_root,
            ops_root,
            range,
            seed,
            txs,
        })
    }
}

impl Digestible for Block {
    type Digest = Digest;

    fn digest(&self) -> Digest {
        types::hash(BLOCK_NAMESPACE, &[&self.encode()])
    }
}

impl Heightable for Block {
    fn height(&self) -> Height {
        self.height
    }
}

impl ConsensusBlock for Block {
    fn parent(&self) -> Digest {
        self.parent
    }
}

impl CertifiableBlock for Block {
    type Context = ConsensusContext;

    fn context(&self) -> ConsensusContext {
        self.context.clone()
    }
}

impl BoundedBlock for Block {
    fn max_encode_size(_: &()) -> usize {
        ConsensusContext::MAX_ENCODE_SIZE
            + Digest::SIZE
            + Height::MAX_ENCODE_SIZE
            + u64::SIZE
            + AccountId::SIZE
            // The state root and the operations root.
            + 2 * Digest::SIZE
            + NonEmptyRange::<Location>::MAX_ENCODE_SIZE
            + 1
            + SeedSignature::SIZE
            + u32::SIZE
            + MAX_BLOCK_TX_BYTES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::Decode;
    use commonware_utils::non_empty_range;
    use ledger::testing::TestChain;
    use types::{Call, bank::BankCall, bank::Transfer};

    fn sample(txs: usize) -> Block {
        let chain = TestChain::new(2, 1_000_000);
        let mut block = Block::genesis(
            7,
            Digest::EMPTY,
            non_empty_range!(Location::new(0), Location::new(1)),
        );
        block.height = Height::new(3);
        block.txs = (0..txs)
            .map(|i| {
                chain.tx_with(
                    0,
                    i as u64,
                    Call::Bank(BankCall::Transfer(Transfer {
                        to: ledger::testing::account(1),
                        asset: types::AssetId::NATIVE,
                        amount: 1,
                    })),
                )
            })
            .collect();
        block
    }

    #[test]
    fn block_round_trips_and_digest_commits_to_transactions() {
        let block = sample(3);
        let bytes = block.encode();
        assert_eq!(bytes.len(), block.encode_size());
        assert!(bytes.len() <= Block::max_encode_size(&()));
        let decoded = Block::decode_cfg(bytes, &()).unwrap();
        assert_eq!(decoded, block);
        assert_eq!(decoded.digest(), block.digest());
        assert_ne!(sample(2).digest(), block.digest());
    }

    #[test]
    fn decoding_rejects_too_many_transactions() {
        let block = sample(1);
        let mut bytes = block.encode().to_vec();
        // The transaction count sits just before the (single) transaction.
        let count_at = bytes.len() - block.tx_bytes() - u32::SIZE;
        bytes[count_at..count_at + 4].copy_from_slice(&(MAX_BLOCK_TXS as u32 + 1).to_be_bytes());
        assert!(Block::decode_cfg(bytes::Bytes::from(bytes), &()).is_err());
    }
}
