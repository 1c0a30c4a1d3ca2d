//! Checkpoints: which committee a joining node asks for a recent block.
//!
//! A node that state-syncs first asks a committee for its latest finalization (glue's probe),
//! and it must know that committee in full before it has any state: without a checkpoint it is
//! the genesis validators. Once fewer than `f + 1` of them are still running and following the
//! chain, a node that knows only genesis can no longer find a floor. A checkpoint names a later
//! committee: it is an epoch's boundary, the finalized block that ends the epoch before and
//! carries the epoch's info (its committee and its share of the chain key), with that block's
//! finalization certificate.
//!
//! Any node serves its current epoch's boundary (`equa_getCheckpoint`, [`serve`]); the joining
//! node checks it trusting only the chain's public key from genesis ([`verify`]). Every epoch
//! signs under that one key, so a checkpoint cannot name a committee the chain did not elect.
//! What a node serving checkpoints can do is serve an old one, whose committee may have left:
//! that costs the joining node its start (it waits for answers), never its safety, and a
//! checkpoint from another node mends it.

use crate::{
    Scheme,
    block::{Block, EpochInfo, ResharePayload},
    proof::{VerifyError, finalized_block},
    threshold::Identity,
};
use commonware_codec::Encode as _;
use commonware_consensus::{
    Epochable as _,
    marshal::{Identifier, core::Mailbox as MarshalMailbox, standard::Standard},
    types::{Epoch, Epocher as _, FixedEpocher, Height},
};
use commonware_glue::dkg::ReshareBlock as _;
use rpc::views::CheckpointView;
use std::num::NonZeroU64;

/// Why a checkpoint is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("a checkpoint names an epoch after the first; epoch 0's committee is in genesis")]
    FirstEpoch,
    #[error(
        "block {height} does not end an epoch before epoch {epoch} (epochs are {blocks_per_epoch} \
         blocks)"
    )]
    NotBoundary {
        epoch: u64,
        height: u64,
        blocks_per_epoch: u64,
    },
    #[error("{0}")]
    Proof(#[from] VerifyError),
    #[error(
        "the certificate is from epoch {found}, not from epoch {expected}, which the block ends"
    )]
    CertificateEpoch { expected: u64, found: u64 },
    #[error("the block carries no info for epoch {epoch}")]
    NoEpochInfo { epoch: u64 },
}

/// The epoch info a checkpoint carries, once its certificate verifies under `identity` (the
/// chain's public key) and its block is the boundary of the epoch it names.
pub fn verify(
    view: &CheckpointView,
    identity: &Identity,
    blocks_per_epoch: NonZeroU64,
) -> Result<EpochInfo, CheckpointError> {
    let epoch = Epoch::new(view.epoch);
    let previous = epoch.previous().ok_or(CheckpointError::FirstEpoch)?;
    let epocher = FixedEpocher::new(blocks_per_epoch);
    if epocher.last(previous) != Some(Height::new(view.height)) {
        return Err(CheckpointError::NotBoundary {
            epoch: view.epoch,
            height: view.height,
            blocks_per_epoch: blocks_per_epoch.get(),
        });
    }
    let (block, finalization) =
        finalized_block(&view.block, &view.finalization, view.height, identity)?;
    if finalization.epoch() != previous {
        return Err(CheckpointError::CertificateEpoch {
            expected: previous.get(),
            found: finalization.epoch().get(),
        });
    }
    match block.payload() {
        Some(ResharePayload::EpochInfo(info)) if info.epoch == epoch => Ok(info),
        _ => Err(CheckpointError::NoEpochInfo { epoch: view.epoch }),
    }
}

/// The boundary of the epoch of `finalized` (this node's latest finalized height), from what
/// `marshal` keeps: a node keeps at least two epochs of blocks, so it has it.
pub async fn serve(
    marshal: &MarshalMailbox<Scheme, Standard<Block>>,
    finalized: u64,
    blocks_per_epoch: NonZeroU64,
) -> Result<CheckpointView, String> {
    let epocher = FixedEpocher::new(blocks_per_epoch);
    let epoch = epocher
        .containing(Height::new(finalized))
        .map(|info| info.epoch())
        .ok_or_else(|| format!("height {finalized} is in no epoch"))?;
    let Some(height) = epoch.previous().and_then(|previous| epocher.last(previous)) else {
        return Err(
            "the chain is still in its first epoch: a joining node needs no checkpoint".into(),
        );
    };
    let block = marshal
        .get_block(Identifier::Height(height))
        .await
        .ok_or_else(|| format!("block {height} is no longer stored"))?;
    let finalization = marshal
        .get_finalization(height)
        .await
        .ok_or_else(|| format!("the finalization of block {height} is no longer stored"))?;
    Ok(CheckpointView {
        epoch: epoch.get(),
        height: height.get(),
        block: hex::encode(block.encode()),
        finalization: hex::encode(finalization.encode()),
    })
}
