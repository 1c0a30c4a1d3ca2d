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

/// The p2p channel on which nodes ask each other for a checkpoint (see [`fetch`], [`answer`]).
pub mod wire {
    /// A request for the sender's checkpoint.
    pub const REQUEST: u8 = 0;
    /// The sender has no checkpoint to give: its chain is in its first epoch, or it has no
    /// state yet itself.
    pub const NONE: u8 = 1;
    /// A checkpoint: epoch and height (u64, big-endian), the block's length (u32, big-endian),
    /// the block, then the finalization certificate.
    pub const CHECKPOINT: u8 = 2;
}

/// How long a node about to state-sync without a checkpoint file waits for the peers it asks
/// to answer before it goes on with the best checkpoint it got (or with the genesis
/// validators).
pub const FETCH_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// How often it asks again the peers that have not answered.
const FETCH_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// `view` on the wire (see [`wire::CHECKPOINT`]).
pub fn encode(view: &CheckpointView) -> Result<Vec<u8>, String> {
    let block = hex::decode(&view.block).map_err(|e| format!("block: {e}"))?;
    let finalization = hex::decode(&view.finalization).map_err(|e| format!("finalization: {e}"))?;
    let length = u32::try_from(block.len()).map_err(|_| "block: too large".to_string())?;
    let mut out = Vec::with_capacity(21 + block.len() + finalization.len());
    out.push(wire::CHECKPOINT);
    out.extend_from_slice(&view.epoch.to_be_bytes());
    out.extend_from_slice(&view.height.to_be_bytes());
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&block);
    out.extend_from_slice(&finalization);
    Ok(out)
}

/// The checkpoint of a [`wire::CHECKPOINT`] message, unchecked; `None` if it is not framed as
/// one.
pub fn decode(bytes: &[u8]) -> Option<CheckpointView> {
    let rest = bytes.strip_prefix(&[wire::CHECKPOINT])?;
    let (epoch, rest) = rest.split_first_chunk::<8>()?;
    let (height, rest) = rest.split_first_chunk::<8>()?;
    let (length, rest) = rest.split_first_chunk::<4>()?;
    let length = u32::from_be_bytes(*length) as usize;
    if length > rest.len() {
        return None;
    }
    let (block, finalization) = rest.split_at(length);
    Some(CheckpointView {
        epoch: u64::from_be_bytes(*epoch),
        height: u64::from_be_bytes(*height),
        block: hex::encode(block),
        finalization: hex::encode(finalization),
    })
}

/// A checkpoint that verified: the epoch info it names, with the block and certificate it
/// came as (which a node serves on to others).
#[derive(Clone, Debug)]
pub struct Checkpoint {
    pub info: EpochInfo,
    pub view: CheckpointView,
}

impl Checkpoint {
    /// `view`, if it verifies (see [`verify`]).
    pub fn verified(
        view: CheckpointView,
        identity: &Identity,
        blocks_per_epoch: NonZeroU64,
    ) -> Result<Self, CheckpointError> {
        Ok(Self {
            info: verify(&view, identity, blocks_per_epoch)?,
            view,
        })
    }
}

/// Where a node keeps the checkpoint its state sync started from: one record in the metadata
/// partition `{prefix}-checkpoint`, the checkpoint as it travels on the wire. A sync that is
/// interrupted and started again reads it back, so it still knows the later committee it found
/// even if no peer answers this time.
const KEPT: commonware_utils::sequence::U64 = commonware_utils::sequence::U64::new(0);

/// The most a kept checkpoint may take on disk: far above any block and certificate.
const KEPT_MAX_BYTES: usize = 1 << 26;

async fn open_kept<E: commonware_storage::Context>(
    context: E,
    prefix: &str,
) -> Result<
    commonware_storage::metadata::Metadata<E, commonware_utils::sequence::U64, Vec<u8>>,
    String,
> {
    commonware_storage::metadata::Metadata::init(
        context,
        commonware_storage::metadata::Config {
            partition: format!("{prefix}-checkpoint"),
            codec_config: ((..=KEPT_MAX_BYTES).into(), ()),
        },
    )
    .await
    .map_err(|e| format!("cannot open {prefix}-checkpoint: {e}"))
}

/// The checkpoint kept under `prefix`, if one is and it still verifies under `identity` (a
/// damaged or foreign record is ignored, with a warning: the node goes on as if it had none).
pub async fn read_kept<E: commonware_storage::Context>(
    context: E,
    prefix: &str,
    identity: &Identity,
    blocks_per_epoch: NonZeroU64,
) -> Option<Checkpoint> {
    let metadata = match open_kept(context, prefix).await {
        Ok(metadata) => metadata,
        Err(error) => {
            tracing::warn!(%error, "the kept checkpoint cannot be read");
            return None;
        }
    };
    let view = decode(metadata.get(&KEPT)?)?;
    match Checkpoint::verified(view, identity, blocks_per_epoch) {
        Ok(checkpoint) => Some(checkpoint),
        Err(error) => {
            tracing::warn!(%error, "the kept checkpoint does not verify; it is ignored");
            None
        }
    }
}

/// Keeps `checkpoint` under `prefix` in place of any kept before, durably.
pub async fn keep<E: commonware_storage::Context>(
    context: E,
    prefix: &str,
    checkpoint: &Checkpoint,
) -> Result<(), String> {
    let bytes = encode(&checkpoint.view)?;
    let metadata = match open_kept(context.child("open"), prefix).await {
        Ok(metadata) => metadata,
        // Damaged beyond reading (both copies): the record is only a cache of something every
        // later checkpoint proves again, so it is thrown away rather than left to fail every
        // start.
        Err(error) => {
            tracing::warn!(%error, "the kept checkpoint is damaged; it is replaced");
            context
                .remove(&format!("{prefix}-checkpoint"), None)
                .await
                .map_err(|e| format!("cannot remove {prefix}-checkpoint: {e}"))?;
            open_kept(context.child("reopen"), prefix).await?
        }
    };
    metadata
        .put_sync(KEPT, bytes)
        .await
        .map(|_| ())
        .map_err(|e| format!("cannot write {prefix}-checkpoint: {e}"))
}

/// The later of two checkpoints by epoch (the first when they tie).
pub fn latest(a: Option<Checkpoint>, b: Option<Checkpoint>) -> Option<Checkpoint> {
    match (a, b) {
        (Some(a), Some(b)) if b.info.epoch > a.info.epoch => Some(b),
        (Some(a), _) => Some(a),
        (None, b) => b,
    }
}

/// A checkpoint a peer gave, checked.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub checkpoint: Checkpoint,
    pub peer: commonware_cryptography::ed25519::PublicKey,
}

/// Asks `asked` for their checkpoints and returns the info of the latest epoch among those that
/// verify under `identity` (see [`verify`]), or `None` if no peer gave one within
/// [`FETCH_WAIT`]. Stops early once every peer asked has answered. Peers that have not answered
/// are asked again every second (they may not be connected yet). A peer that sends anything
/// an honest node never sends (a request is answered with [`wire::NONE`]: this node has no
/// checkpoint yet) is blocked; an old but valid checkpoint is not proof of anything and only
/// loses to a later one.
pub async fn fetch<E, S, R, B>(
    context: &E,
    sender: &mut S,
    receiver: &mut R,
    asked: &[commonware_cryptography::ed25519::PublicKey],
    identity: &Identity,
    blocks_per_epoch: NonZeroU64,
    blocker: &mut B,
) -> Option<Fetched>
where
    E: commonware_runtime::Clock,
    S: commonware_p2p::Sender<PublicKey = commonware_cryptography::ed25519::PublicKey>,
    R: commonware_p2p::Receiver<PublicKey = commonware_cryptography::ed25519::PublicKey>,
    B: commonware_p2p::Blocker<PublicKey = commonware_cryptography::ed25519::PublicKey>,
{
    use commonware_p2p::Recipients;
    use futures::future::{Either, select};
    use std::{collections::BTreeSet, pin::pin};
    let deadline = context.current() + FETCH_WAIT;
    let mut answered = BTreeSet::new();
    let mut best: Option<Fetched> = None;
    loop {
        let pending: Vec<_> = asked
            .iter()
            .filter(|peer| !answered.contains(*peer))
            .cloned()
            .collect();
        if pending.is_empty() || context.current() >= deadline {
            return best;
        }
        sender.send(Recipients::Some(pending), vec![wire::REQUEST], false);
        let round_end = (context.current() + FETCH_RETRY).min(deadline);
        loop {
            // A queue that never empties must not hold the round, and the deadline, off.
            if context.current() >= round_end {
                break;
            }
            let message =
                match select(pin!(receiver.recv()), pin!(context.sleep_until(round_end))).await {
                    Either::Left((Ok(message), _)) => message,
                    // The network stopped: nothing more will come.
                    Either::Left((Err(_), _)) => return best,
                    Either::Right(_) => break,
                };
            let (peer, bytes) = message;
            let bytes = bytes.as_ref();
            match bytes.first() {
                Some(&wire::REQUEST) if bytes.len() == 1 => {
                    sender.send(Recipients::One(peer), vec![wire::NONE], false);
                    continue;
                }
                Some(&wire::NONE) if bytes.len() == 1 => {}
                // One checkpoint per peer is checked, and only one that would be the latest:
                // a repeat, or one no later than the best so far, costs no certificate check.
                Some(&wire::CHECKPOINT) if answered.contains(&peer) => continue,
                Some(&wire::CHECKPOINT) => {
                    let Some(view) = decode(bytes) else {
                        commonware_p2p::block!(blocker, peer, "sent a malformed checkpoint");
                        continue;
                    };
                    let later = best
                        .as_ref()
                        .is_none_or(|best| view.epoch > best.checkpoint.info.epoch.get());
                    if later {
                        match Checkpoint::verified(view, identity, blocks_per_epoch) {
                            Ok(checkpoint) => {
                                tracing::info!(
                                    ?peer,
                                    epoch = checkpoint.info.epoch.get(),
                                    "state sync: a peer gave a checkpoint"
                                );
                                best = Some(Fetched {
                                    checkpoint,
                                    peer: peer.clone(),
                                });
                            }
                            Err(error) => {
                                commonware_p2p::block!(
                                    blocker,
                                    peer,
                                    %error,
                                    "refused a checkpoint"
                                );
                                continue;
                            }
                        }
                    }
                }
                _ => {
                    commonware_p2p::block!(blocker, peer, "sent a malformed checkpoint message");
                    continue;
                }
            }
            answered.insert(peer);
            if asked.iter().all(|peer| answered.contains(peer)) {
                return best;
            }
        }
    }
}

/// Answers every checkpoint request on the channel with this node's current checkpoint (see
/// [`serve`]); a node that state-synced into an epoch has not stored that epoch's boundary
/// until the next one, and answers meanwhile with the checkpoint it started from (`held`), if
/// any; otherwise [`wire::NONE`]. Other messages are ignored: answers that arrive after this
/// node stopped asking are late, not faulty. The channel's quota ([`crate::engine::quota`])
/// bounds what requests cost (each answer reads a block and its certificate).
pub async fn answer<S, R>(
    mut sender: S,
    mut receiver: R,
    marshal: MarshalMailbox<Scheme, Standard<Block>>,
    app: crate::AppHandle,
    blocks_per_epoch: NonZeroU64,
    held: Option<Checkpoint>,
) where
    S: commonware_p2p::Sender<PublicKey = commonware_cryptography::ed25519::PublicKey>,
    R: commonware_p2p::Receiver<PublicKey = commonware_cryptography::ed25519::PublicKey>,
{
    use commonware_p2p::Recipients;
    while let Ok((peer, bytes)) = receiver.recv().await {
        if bytes.as_ref() != [wire::REQUEST] {
            continue;
        }
        let reply = current(&marshal, &app, blocks_per_epoch, held.as_ref())
            .await
            .ok()
            .and_then(|view| encode(&view).ok());
        sender.send(
            Recipients::One(peer),
            reply.unwrap_or_else(|| vec![wire::NONE]),
            false,
        );
    }
}

/// The checkpoint this node gives others: its current epoch's boundary ([`serve`], at the
/// height of the state it holds), or else the one its state sync started from (`held`), since a
/// node that synced into an epoch stores that epoch's boundary only from the next one.
pub async fn current(
    marshal: &MarshalMailbox<Scheme, Standard<Block>>,
    app: &crate::AppHandle,
    blocks_per_epoch: NonZeroU64,
    held: Option<&Checkpoint>,
) -> Result<CheckpointView, String> {
    let served = match app.committed_state() {
        Some((height, _)) => serve(marshal, height, blocks_per_epoch).await,
        None => Err("the node has not read its state yet".into()),
    };
    match (served, held) {
        (Err(_), Some(held)) => Ok(held.view.clone()),
        (served, _) => served,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::{Signer as _, ed25519};
    use commonware_runtime::{
        Blob as _, Runner as _, Storage as _, Supervisor as _, deterministic,
    };

    /// A checkpoint value to write: `keep` stores its view as it is, checked or not.
    fn some_checkpoint() -> Checkpoint {
        let validators: Vec<_> = (0..4)
            .map(|seed| ed25519::PrivateKey::from_seed(seed).public_key())
            .collect();
        let (key, _) = crate::threshold::deal(
            <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(1),
            &validators,
        );
        Checkpoint {
            info: crate::epochs::genesis_epoch_info(&key),
            view: CheckpointView {
                epoch: 2,
                height: 63,
                block: "00".into(),
                finalization: "00".into(),
            },
        }
    }

    /// Both copies of the kept record damaged (a bad disk, a partial copy of a data directory):
    /// the next `keep` replaces the record instead of failing on every start.
    #[test]
    fn a_damaged_kept_record_is_replaced_by_the_next_keep() {
        deterministic::Runner::default().start(|context| async move {
            keep(context.child("w0"), "n", &some_checkpoint())
                .await
                .expect("a fresh store takes the checkpoint");
            for name in [b"left".as_slice(), b"right".as_slice()] {
                let (blob, len) = context.open("n-checkpoint", name).await.unwrap();
                if len > 0 {
                    blob.write_at(len - 1, vec![0xAA], Default::default())
                        .await
                        .unwrap();
                } else {
                    blob.write_at(0, vec![0xAA; 16], Default::default())
                        .await
                        .unwrap();
                }
                blob.sync().await.unwrap();
            }
            keep(context.child("w1"), "n", &some_checkpoint())
                .await
                .expect("a damaged kept record is replaced, not left to fail every start");
        });
    }
}
