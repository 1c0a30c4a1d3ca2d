//! What the node gives glue's `dkg` to run consensus in epochs: epoch 0's info from the genesis
//! key, who holds shares in each later epoch, and the peers each epoch's network tracks.
//!
//! glue's orchestrator runs one simplex engine per epoch; its reshare actor moves the chain key's
//! shares to each epoch's committee during the epoch before, without changing the key, so every
//! certificate of every epoch verifies against the one public key of genesis. Each epoch's
//! committee is the one the ledger's staking module elected ([`StakingParticipants`]); nodes
//! admit registered validator candidates as peers before they are elected ([`Peers`]), so a
//! new validator can connect, sync and be ready to receive its share.

use crate::{AppHandle, block::EpochInfo, threshold::ConsensusKey};
use commonware_actor::Feedback;
use commonware_consensus::types::Epoch;
use commonware_cryptography::ed25519;
use commonware_glue::dkg::{ParticipantsProvider, types::EpochOutcome};
use commonware_p2p::{Manager, PeerSetSubscription, Provider, TrackedPeers};
use commonware_runtime::Clock;
use commonware_utils::{ordered::Set, sequence::Unit};
use std::time::Duration;

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

/// Each epoch's committee as the ledger's staking module elected it.
///
/// glue asks for `participants(E)` while it builds or checks the final block of epoch `E - 2`
/// (that block announces them as `next_players`). The ledger fixed the committee of `E` in the
/// first block of epoch `E - 2` and never changes it, so every node that has finalized that
/// block reads the same set. This provider reads this node's latest finalized state
/// ([`AppHandle::committed_state`]: the last block finalized since start, or the state read
/// back from the store at start, so that a node restarted just before an epoch's final block
/// can still build or check it), waiting until it reaches that block; it normally has by then,
/// since glue answers only after applying the blocks before the epoch's midpoint, and marshal
/// hands the next finalized block to the reshare actor only once the ledger has finalized the
/// one before.
///
/// A committee of fewer than [`ledger::staking::params::MIN_COMMITTEE`] members falls back to
/// the genesis key's holders: a genesis that registers no validator (nobody elected), or too
/// few, keeps its genesis validators until four have registered, so the first to register
/// cannot take the whole key. The fallback depends on the committee record alone, so every
/// node still agrees.
#[derive(Clone, Debug)]
pub struct StakingParticipants<E> {
    context: E,
    app: AppHandle,
    genesis: Set<ed25519::PublicKey>,
    blocks_per_epoch: u64,
}

impl<E> StakingParticipants<E> {
    pub fn new(
        context: E,
        app: AppHandle,
        genesis: Set<ed25519::PublicKey>,
        blocks_per_epoch: u64,
    ) -> Self {
        Self {
            context,
            app,
            genesis,
            blocks_per_epoch,
        }
    }
}

/// How often a provider waiting for this node's finalized state looks again.
const STATE_POLL: Duration = Duration::from_millis(20);

/// The committee of `epoch` in `store`, as consensus keys; `None` when the ledger kept none
/// there or elected fewer than [`ledger::staking::params::MIN_COMMITTEE`].
pub fn ledger_committee(
    store: &(impl ledger::Store + ?Sized),
    epoch: Epoch,
) -> Option<Set<ed25519::PublicKey>> {
    let committee = ledger::staking::epoch_committee(store, epoch.get())?;
    let keys = Set::from_iter_dedup(
        committee
            .members
            .iter()
            .map(|member| member.node_key.public_key())
            .take(crate::threshold::MAX_VALIDATORS as usize),
    );
    (keys.len() >= usize::from(ledger::staking::params::MIN_COMMITTEE)).then_some(keys)
}

impl<E: Clock + Send + Sync + 'static> ParticipantsProvider for StakingParticipants<E> {
    type PublicKey = ed25519::PublicKey;
    type Directory = Unit;

    async fn participants(&mut self, epoch: Epoch) -> Set<ed25519::PublicKey> {
        let fixed_at = epoch
            .get()
            .saturating_sub(ledger::staking::LOOKAHEAD_EPOCHS)
            .saturating_mul(self.blocks_per_epoch);
        let mut waited = false;
        let store = loop {
            match self.app.committed_state() {
                Some((height, store)) if height >= fixed_at => break Some(store),
                // Epochs 0 to 2 are fixed by genesis, whose committee is the genesis key's.
                None if fixed_at == 0 => break None,
                _ => {
                    if !waited {
                        tracing::warn!(%epoch, fixed_at, "waiting for this node's ledger to finalize the block that fixed the committee");
                        waited = true;
                    }
                    self.context.sleep(STATE_POLL).await;
                }
            }
        };
        match store
            .as_deref()
            .and_then(|store| ledger_committee(store, epoch))
        {
            Some(committee) => committee,
            None => {
                tracing::warn!(%epoch, "the ledger names no committee of four or more for this epoch: the genesis validators keep their seats");
                self.genesis.clone()
            }
        }
    }

    async fn directory(&mut self, _: Epoch, _: Set<ed25519::PublicKey>) -> Unit {
        Unit
    }
}

/// The network's peer manager, with secondary peers added to every set glue tracks: every
/// validator candidate and every full node registered in this node's finalized state (and, in
/// simulations, a fixed list of `followers`). Secondary peers connect and follow the chain
/// (blocks, certificates, state) without voting; a candidate admitted this way can sync before
/// it is elected, and is then among the primary peers of the epochs whose committees it sits on.
///
/// The registries are read when a set is tracked, at each epoch's start, so a key registered
/// during epoch `e` is admitted from epoch `e + 1`. Both registries are capped
/// (`max_candidates`, `max_nodes`), and the secondary peers are cut to `limit` (the p2p layer's
/// bound on a set) after the primary ones: candidates first, then full nodes.
#[derive(Clone, Debug)]
pub struct Peers<M> {
    inner: M,
    followers: Set<ed25519::PublicKey>,
    candidates: Option<AppHandle>,
    limit: usize,
}

impl<M> Peers<M> {
    pub fn new(inner: M, followers: Set<ed25519::PublicKey>) -> Self {
        Self {
            inner,
            followers,
            candidates: None,
            limit: usize::MAX,
        }
    }

    /// Also admits the validator candidates and registered full nodes of `app`'s finalized
    /// state, keeping every tracked set within `limit` peers (this node included).
    pub fn with_candidates(mut self, app: AppHandle, limit: usize) -> Self {
        self.candidates = Some(app);
        self.limit = limit;
        self
    }
}

/// The node keys of the validator candidates registered in `store`.
pub fn candidate_keys(store: &(impl ledger::Store + ?Sized)) -> Vec<ed25519::PublicKey> {
    ledger::staking::Db::candidates(store)
        .iter()
        .filter_map(|account| ledger::staking::Db::validator(store, account))
        .map(|validator| validator.node_key.public_key())
        .collect()
}

/// Every node key registered in `store` that peers admit besides the committees: the validator
/// candidates' first, then the full nodes'.
pub fn registered_keys(store: &(impl ledger::Store + ?Sized)) -> Vec<ed25519::PublicKey> {
    let mut keys = candidate_keys(store);
    keys.extend(
        ledger::staking::Db::full_nodes(store)
            .iter()
            .map(types::AccountId::public_key),
    );
    keys
}

/// The secondary peers of a set with `primary` peers: `wanted` less the primary ones, cut so
/// that the set (this node included) holds at most `limit` peers. Primary peers are never cut.
pub fn secondary_peers(
    primary: &Set<ed25519::PublicKey>,
    wanted: impl IntoIterator<Item = ed25519::PublicKey>,
    limit: usize,
) -> Set<ed25519::PublicKey> {
    let room = limit.saturating_sub(primary.len().saturating_add(1));
    let mut kept = Vec::new();
    for key in wanted {
        if kept.len() == room {
            break;
        }
        if primary.position(&key).is_none() && !kept.contains(&key) {
            kept.push(key);
        }
    }
    Set::from_iter_dedup(kept)
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
        let registered = self
            .candidates
            .as_ref()
            .and_then(AppHandle::committed_state)
            .map(|(_, store)| registered_keys(&*store))
            .unwrap_or_default();
        let secondary = secondary_peers(
            &primary,
            secondary
                .into_iter()
                .chain(self.followers.iter().cloned())
                .chain(registered),
            self.limit,
        );
        self.inner.track(id, TrackedPeers::new(primary, secondary))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer;
    use ledger::MemoryStore;

    fn key(seed: u64) -> ed25519::PublicKey {
        ed25519::PrivateKey::from_seed(seed).public_key()
    }

    /// A genesis registering validators with node keys of `seeds`, committees of `size`.
    fn staked(seeds: &[u64], size: u16) -> MemoryStore {
        let mut text = format!(
            "chain_id = \"equa-epochs-test\"\ngenesis_time_ms = 0\n\
             [native]\nsymbol = \"EQA\"\nname = \"Equa\"\ndecimals = 9\n\
             [params]\nfee_per_byte = \"0.000001\"\ndefault_call_fee = \"0.001\"\n\
             [params.staking]\nmin_bond = \"100\"\nunbonding_secs = 600\n\
             committee_size = {size}\nblocks_per_epoch = 400\n"
        );
        for (index, seed) in seeds.iter().enumerate() {
            let account = types::AccountId::from_public_key(&key(1_000 + seed));
            text.push_str(&format!(
                "[[accounts]]\naddress = \"{account}\"\nbalances = {{ EQA = \"1000\" }}\n\
                 [[validators]]\naddress = \"{account}\"\nnode_key = \"{}\"\n\
                 p2p = \"127.0.0.1:{}\"\nbond = \"{}\"\n",
                hex::encode(key(*seed).as_ref()),
                9_000 + index,
                // Larger seeds bond more, so the committee is the largest seeds.
                100 + seed,
            ));
        }
        let genesis = ledger::Genesis::from_toml(&text).unwrap();
        let mut store = MemoryStore::new();
        genesis.initialize(&mut store);
        store
    }

    #[test]
    fn an_epochs_committee_is_the_one_the_ledger_elected() {
        let store = staked(&[1, 2, 3, 4, 5, 6], 4);
        let expected = Set::from_iter_dedup([3, 4, 5, 6].map(key));
        for epoch in 0..=2 {
            assert_eq!(
                ledger_committee(&store, Epoch::new(epoch)),
                Some(expected.clone())
            );
        }
        // Every candidate is admitted as a peer, elected or not.
        let mut candidates = candidate_keys(&store);
        candidates.sort();
        let mut all: Vec<_> = [1, 2, 3, 4, 5, 6].map(key).to_vec();
        all.sort();
        assert_eq!(candidates, all);
    }

    #[test]
    fn a_ledger_that_elected_nobody_or_too_few_names_no_committee() {
        let store = staked(&[], 4);
        assert_eq!(ledger_committee(&store, Epoch::zero()), None);
        assert!(candidate_keys(&store).is_empty());
        // Three registered: the genesis validators keep their seats until a fourth comes.
        let store = staked(&[1, 2, 3], 4);
        assert_eq!(ledger_committee(&store, Epoch::new(2)), None);
        assert_eq!(candidate_keys(&store).len(), 3);
        // Nor does a store without the staking module.
        assert_eq!(ledger_committee(&MemoryStore::new(), Epoch::zero()), None);
    }

    #[test]
    fn secondary_peers_are_cut_to_the_limit_and_never_repeat_a_primary_one() {
        let primary = Set::from_iter_dedup([1, 2, 3].map(key));
        let wanted = [2, 4, 4, 5, 6, 7].map(key);
        // Room for 7 - 3 - 1 = 3 secondary peers: 4, 5 and 6 (2 is primary, 4 is repeated).
        assert_eq!(
            secondary_peers(&primary, wanted.clone(), 7),
            Set::from_iter_dedup([4, 5, 6].map(key))
        );
        // No room at all: only the primary peers and this node fit.
        assert!(secondary_peers(&primary, wanted.clone(), 4).is_empty());
        assert!(secondary_peers(&primary, wanted.clone(), 0).is_empty());
        // Room to spare: every wanted peer that is not primary.
        assert_eq!(
            secondary_peers(&primary, wanted, usize::MAX),
            Set::from_iter_dedup([4, 5, 6, 7].map(key))
        );
    }
}
