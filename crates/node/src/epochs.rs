//! What the node gives glue's `dkg` to run consensus in epochs: epoch 0's info from the genesis
//! key, who holds shares in each later epoch, and the peers each epoch's network tracks.
//!
//! glue's orchestrator runs one simplex engine per epoch; its reshare actor moves the chain key's
//! shares to each epoch's committee during the epoch before, without changing the key, so every
//! certificate of every epoch verifies against the one public key of genesis. Today every
//! epoch's committee is the genesis validators ([`FixedParticipants`]).

use crate::{block::EpochInfo, threshold::ConsensusKey};
use commonware_actor::Feedback;
use commonware_consensus::types::Epoch;
use commonware_cryptography::ed25519;
use commonware_glue::dkg::{ParticipantsProvider, types::EpochOutcome};
use commonware_p2p::{Manager, PeerSetSubscription, Provider, TrackedPeers};
use commonware_utils::{ordered::Set, sequence::Unit};

/// Epoch 0's info: the genesis key's output, held by its players, who also hold the shares of
/// epoch 1.
pub fn genesis_epoch_info(key: &ConsensusKey) -> EpochInfo {
    EpochInfo {
        outcome: EpochOutcome::Success,
        epoch: Epoch::zero(),
        output: key.clone(),
        players: key.players().clone(),
        next_players: key.players().clone(),
        directory: Unit,
    }
}

/// Every epoch's committee is the same set: the holders of the genesis key.
#[derive(Clone, Debug)]
pub struct FixedParticipants {
    players: Set<ed25519::PublicKey>,
}

impl FixedParticipants {
    pub fn new(players: Set<ed25519::PublicKey>) -> Self {
        Self { players }
    }
}

impl ParticipantsProvider for FixedParticipants {
    type PublicKey = ed25519::PublicKey;
    type Directory = Unit;

    async fn participants(&mut self, _: Epoch) -> Set<ed25519::PublicKey> {
        self.players.clone()
    }

    async fn directory(&mut self, _: Epoch, _: Set<ed25519::PublicKey>) -> Unit {
        Unit
    }
}

/// The network's peer manager, with the chain's full nodes added as secondary peers to every
/// set glue tracks: they follow the chain (blocks, certificates, state) without voting.
#[derive(Clone, Debug)]
pub struct Peers<M> {
    inner: M,
    followers: Set<ed25519::PublicKey>,
}

impl<M> Peers<M> {
    pub fn new(inner: M, followers: Set<ed25519::PublicKey>) -> Self {
        Self { inner, followers }
    }
}

impl<M: Provider<PublicKey = ed25519::PublicKey>> Provider for Peers<M> {
    type PublicKey = ed25519::PublicKey;

    async fn peer_set(&mut self, id: u64) -> Option<TrackedPeers<ed25519::PublicKey>> {
        self.inner.peer_set(id).await
    }

    async fn subscribe(&mut self) -> PeerSetSubscription<ed25519::PublicKey> {
        self.inner.subscribe().await
    }
}

impl<M: Manager<PublicKey = ed25519::PublicKey>> Manager for Peers<M> {
    fn track<R>(&mut self, id: u64, peers: R) -> Feedback
    where
        R: Into<TrackedPeers<ed25519::PublicKey>> + Send,
    {
        let TrackedPeers { primary, secondary } = peers.into();
        let secondary =
            Set::from_iter_dedup(secondary.into_iter().chain(self.followers.iter().cloned()));
        self.inner.track(id, TrackedPeers::new(primary, secondary))
    }
}
