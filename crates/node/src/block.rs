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
use commonware_glue::dkg::{ReshareBlock, types::Payload};
use commonware_storage::mmr::Location;
use commonware_utils::{range::NonEmptyRange, sequence::Unit};
use types::{AccountId, Digest, SignedTransaction, tx::MAX_TX_BYTES};

/// The domain of block digests. Changing it is a breaking change of the chain.
const BLOCK_NAMESPACE: &[u8] = b"EQUA_BLOCK_V1";

/// The most transactions one block may carry.
pub const MAX_BLOCK_TXS: usize = 4_096;
/// The most encoded transaction bytes one block may carry. Together with [`MAX_BLOCK_TXS`] this
/// bounds every block a peer can send, and so the p2p message size.
pub const MAX_BLOCK_TX_BYTES: usize = 1024 * 1024;

/// What a block may carry of the key's resharing (glue's `dkg`): a dealer's log in an epoch's
/// second half, and the next epoch's info in an epoch's final block; the genesis block carries
/// epoch 0's. The ledger ignores it; glue's reshare wrapper checks where it may appear.
pub type ResharePayload = Payload<crate::threshold::ConsensusVariant, ed25519::PublicKey, Unit>;

/// An epoch's info as glue's resharing agrees on it: the key's public output, who holds shares
/// in the epoch, and who receives them in it and in the next.
pub type EpochInfo = commonware_glue::dkg::types::EpochInfo<
    crate::threshold::ConsensusVariant,
    ed25519::PublicKey,
    Unit,
>;

/// The codec bound of a [`ResharePayload`]: participant sets of at most
/// [`crate::threshold::MAX_VALIDATORS`], sharing modes of the first version.
pub fn reshare_codec() -> (
    std::num::NonZeroU32,
    commonware_cryptography::bls12381::primitives::sharing::ModeVersion,
) {
    (
        crate::threshold::max_validators(),
        commonware_cryptography::bls12381::primitives::sharing::ModeVersion::v0(),
    )
}

/// A block's resharing payload as it travels: its encoding, at most the largest payload of
/// [`reshare_codec`], decoded only when glue or the application reads it.
///
/// Decoding an epoch's info costs tens of milliseconds at the codec's bound, and any tracked peer
/// may send blocks (broadcast, backfill, the probe): a node that decoded the payload of every
/// block it received could be kept busy by one peer. Kept encoded, a received block costs a copy
/// of these bytes; only a block that is verified or finalized has its payload decoded, once.
/// A block whose bytes do not decode is refused when verified (`App::check_header`).
#[derive(Clone)]
pub struct Reshare {
    bytes: bytes::Bytes,
    decoded: std::sync::Arc<std::sync::OnceLock<Option<ResharePayload>>>,
}

impl Reshare {
    /// The largest encoding a block may carry.
    pub fn max_bytes() -> usize {
        ResharePayload::max_encode_size(crate::threshold::max_validators())
    }

    /// The payload, decoded under [`reshare_codec`]; `None` if the bytes are not one payload.
    pub fn payload(&self) -> Option<ResharePayload> {
        self.decoded
            .get_or_init(|| {
                use commonware_codec::Decode as _;
                ResharePayload::decode_cfg(self.bytes.clone(), &reshare_codec()).ok()
            })
            .clone()
    }

    /// The encoding as carried.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Bytes as a peer sent them, not yet decoded.
    pub fn from_bytes(bytes: bytes::Bytes) -> Self {
        Self {
            bytes,
            decoded: Default::default(),
        }
    }
}

impl From<ResharePayload> for Reshare {
    /// A payload this node made: peers read it back from its encoding, so it must decode under
    /// [`reshare_codec`] to itself (glue's resharing runs with the same bounds).
    fn from(payload: ResharePayload) -> Self {
        let bytes = payload.encode();
        debug_assert!(
            {
                use commonware_codec::Decode as _;
                ResharePayload::decode_cfg(bytes.clone(), &reshare_codec())
                    .is_ok_and(|decoded| decoded.encode() == bytes)
            },
            "a payload this node made does not decode to itself"
        );
        Self {
            bytes,
            decoded: std::sync::Arc::new(std::sync::OnceLock::from(Some(payload))),
        }
    }
}

impl std::fmt::Debug for Reshare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // glue's payloads have no `Debug`: the size, and whether it was read yet.
        f.debug_struct("Reshare")
            .field("bytes", &self.bytes.len())
            .field("decoded", &self.decoded.get().is_some())
            .finish()
    }
}

impl PartialEq for Reshare {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for Reshare {}

impl Write for Reshare {
    fn write(&self, buf: &mut impl BufMut) {
        self.bytes.write(buf);
    }
}

impl EncodeSize for Reshare {
    fn encode_size(&self) -> usize {
        self.bytes.encode_size()
    }
}

impl Read for Reshare {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let bytes = bytes::Bytes::read_cfg(buf, &(..=Self::max_bytes()).into())?;
        Ok(Self::from_bytes(bytes))
    }
}

/// A block as consensus orders it.
///
/// It embeds the simplex context it was proposed under (the glue `Deferred` marshal verifies it),
/// the ledger inputs (`timestamp_ms`, `proposer`, `txs`) and the authenticated-store commitments
/// after applying it: `state_root`, the canonical root of the current-value store that key-value
/// proofs verify against, and `ops_root` with the operation `range`, which state sync targets.
#[derive(Clone, PartialEq, Eq)]
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
    /// The key resharing's part of the block (see [`ResharePayload`]), kept encoded.
    pub reshare: Option<Reshare>,
    /// Proofs that node keys signed contradictory votes, which the ledger slashes (see
    /// [`crate::evidence`]); at most [`MAX_BLOCK_EVIDENCE`].
    pub evidence: Vec<Evidence>,
    pub txs: Vec<SignedTransaction>,
}

pub use crate::evidence::{Evidence, MAX_BLOCK_EVIDENCE};

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("context", &self.context)
            .field("parent", &self.parent)
            .field("height", &self.height)
            .field("timestamp_ms", &self.timestamp_ms)
            .field("proposer", &self.proposer)
            .field("state_root", &self.state_root)
            .field("ops_root", &self.ops_root)
            .field("range", &self.range)
            .field("seed", &self.seed)
            // Its size only: formatting a block must not decode a payload a peer sent.
            .field("reshare", &self.reshare)
            .field("evidence", &self.evidence)
            .field("txs", &self.txs)
            .finish()
    }
}

/// A round's seed: a recovered threshold signature over the round.
pub type SeedSignature = <crate::threshold::ConsensusVariant as Variant>::Signature;

impl Block {
    /// The first block of a chain: height 0, view 0, no parent, and the empty store's commitments.
    /// Its timestamp is the genesis time, so chains with different genesis times differ here.
    /// The genesis block carries no canonical root (the store has no public function for an empty
    /// one): nothing is proven against genesis. It carries epoch 0's info when the chain runs
    /// glue's resharing (`epoch_info`), which glue reads from it at every start.
    pub fn genesis(
        timestamp_ms: u64,
        ops_root: Digest,
        range: NonEmptyRange<Location>,
        epoch_info: Option<EpochInfo>,
    ) -> Self {
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
            reshare: epoch_info.map(|info| Payload::EpochInfo(info).into()),
            evidence: Vec::new(),
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
        self.reshare.write(buf);
        self.evidence.write(buf);
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
            + self.reshare.encode_size()
            + self.evidence.encode_size()
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
        let reshare = Option::<Reshare>::read(buf)?;
        let evidence = Vec::<Evidence>::read_cfg(buf, &((..=MAX_BLOCK_EVIDENCE).into(), ()))?;
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
            reshare,
            evidence,
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
            + 1
            + commonware_codec::varint::UInt(Reshare::max_bytes() as u32).encode_size()
            + Reshare::max_bytes()
            + commonware_codec::varint::UInt(MAX_BLOCK_EVIDENCE as u32).encode_size()
            + MAX_BLOCK_EVIDENCE * Evidence::max_encode_size()
            + u32::SIZE
            + MAX_BLOCK_TX_BYTES
    }
}

impl ReshareBlock for Block {
    type Variant = crate::threshold::ConsensusVariant;
    type PublicKey = ed25519::PublicKey;
    type Directory = Unit;

    fn payload(&self) -> Option<ResharePayload> {
        self.reshare.as_ref().and_then(Reshare::payload)
    }
}

#[cfg(test)]
pub(crate) mod tests {
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
            None,
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

    /// Epoch 0's info for a key dealt to four validators.
    pub(crate) fn epoch_info() -> EpochInfo {
        let validators: Vec<_> = (0..4)
            .map(|seed| ed25519::PrivateKey::from_seed(seed).public_key())
            .collect();
        let (key, _) = crate::threshold::deal(
            <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(7),
            &validators,
        );
        crate::epochs::genesis_epoch_info(&key)
    }

    #[test]
    fn a_received_payload_is_decoded_only_when_read_and_then_once() {
        let mut block = sample(1);
        block.reshare = Some(Payload::EpochInfo(epoch_info()).into());
        let decoded = Block::decode_cfg(block.encode(), &()).unwrap();
        assert_eq!(decoded, block);
        assert_eq!(decoded.digest(), block.digest());
        let reshare = decoded.reshare.as_ref().unwrap();
        assert!(reshare.decoded.get().is_none(), "decoded on receipt");
        let Some(Payload::EpochInfo(info)) = decoded.payload() else {
            panic!("the epoch info reads back");
        };
        assert_eq!(info, epoch_info());
        assert!(reshare.decoded.get().is_some(), "kept once decoded");
        // Clones share what was decoded.
        assert!(decoded.clone().reshare.unwrap().decoded.get().is_some());
    }

    #[test]
    fn undecodable_payload_bytes_make_a_block_with_no_payload_and_oversized_ones_no_block() {
        let mut block = sample(1);
        block.reshare = Some(Reshare::from_bytes(bytes::Bytes::from_static(&[0xff; 40])));
        let decoded = Block::decode_cfg(block.encode(), &()).unwrap();
        assert!(decoded.payload().is_none());
        assert_eq!(
            decoded
                .reshare
                .as_ref()
                .map(|reshare| reshare.bytes().len()),
            Some(40)
        );
        // The largest encoding a block may carry is accepted; one byte more is not a block.
        block.reshare = Some(Reshare::from_bytes(vec![0; Reshare::max_bytes()].into()));
        assert!(block.encode_size() <= Block::max_encode_size(&()));
        assert!(Block::decode_cfg(block.encode(), &()).is_ok());
        block.reshare = Some(Reshare::from_bytes(
            vec![0; Reshare::max_bytes() + 1].into(),
        ));
        assert!(Block::decode_cfg(block.encode(), &()).is_err());
    }
}
