//! A node joining a chain whose validators pruned the blocks since genesis: it asks the
//! validators for a recent finalization (glue's probe), fills its store from peers (glue's state
//! sync), reads the ledger back and follows the chain from there.
//!
//! Four validators and the joining full node run the real node wiring on the deterministic
//! runtime and simulated network, so a seed fixes the whole run. Set `EQUA_SIM_SEED=<n>` to run
//! only seed `n`.

mod common;

use common::RandomTransfers;
use commonware_codec::Encode as _;
use commonware_consensus::{Epochable as _, marshal::Identifier, types::Height};
use commonware_cryptography::{Digestible, Signer, ed25519};
use commonware_glue::{
    simulate::tracker::FinalizationUpdate,
    stateful::db::{Shared, p2p as qmdb_resolver},
};
use commonware_p2p::{
    Manager as _, Receiver as _, Recipients, Sender as _,
    simulated::{self, Link, Network, Oracle},
};
use commonware_runtime::{
    Clock, Handle, Runner as _, Spawner as _, Supervisor as _, deterministic,
};
use commonware_storage::{
    mmr,
    qmdb::sync::{Request, ServeError, Source, source, source::Response},
};
use commonware_utils::{NZDuration, NZU64, NZUsize, channel::mpsc, ordered::Set, probability};
use node::{
    App, AppConfig, Qmdb,
    engine::{self, NodeConfig, NodeState, StateSync},
    recovery::{SyncPhase, SyncProgress},
};
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

const VALIDATORS: u64 = 4;
/// The fewest blocks a node may keep (`run::MIN_RETAINED_BLOCKS`): the validators prune early.
const RETAINED_BLOCKS: usize = 20;
/// The joining node starts once every validator has processed this height.
const JOIN_AT: u64 = 60;
/// And must then follow the chain this many blocks past the height it synced to.
const FOLLOW: u64 = 15;

const SEEDS: [u64; 4] = [0, 1, 2, 3];

/// Epoch length of the chains that change epoch: the key is reshared every this many blocks.
const EPOCH_BLOCKS: u64 = 32;

type SimOracle = Oracle<ed25519::PublicKey, deterministic::Context>;
type Monitor = mpsc::UnboundedSender<FinalizationUpdate<ed25519::PublicKey>>;

fn link() -> Link {
    Link {
        latency: Duration::from_millis(10),
        jitter: Duration::from_millis(5),
        success_rate: probability!(1.0),
    }
}

fn joiner_key() -> ed25519::PrivateKey {
    ed25519::PrivateKey::from_seed(2_000)
}

fn forger_key() -> ed25519::PrivateKey {
    ed25519::PrivateKey::from_seed(2_001)
}

/// The peer the forger fetches honest answers through; linked to the validators only.
fn accomplice_key() -> ed25519::PrivateKey {
    ed25519::PrivateKey::from_seed(2_002)
}

/// The chain being joined: its validators, and the network they run on.
struct Chain {
    context: deterministic::Context,
    oracle: SimOracle,
    monitor: Monitor,
    participants: Vec<ed25519::PublicKey>,
    validators: Vec<NodeState<deterministic::Context>>,
    handles: Vec<Handle<()>>,
    /// A validator stopped by the scenario, which the waits leave out.
    down: Option<usize>,
    epochs: Epochs,
}

/// How a chain runs its consensus epochs.
#[derive(Clone, Copy, Debug)]
struct Epochs {
    blocks_per_epoch: std::num::NonZeroU64,
    retained_blocks: usize,
}

impl Epochs {
    /// One epoch for ever, keeping `RETAINED_BLOCKS` blocks.
    const SINGLE: Self = Self {
        blocks_per_epoch: engine::SINGLE_EPOCH,
        retained_blocks: RETAINED_BLOCKS,
    };

    /// Epochs of `EPOCH_BLOCKS` blocks, keeping the fewest blocks that allows: glue restarts
    /// an epoch from the block that introduced it.
    const CHANGING: Self = Self {
        blocks_per_epoch: NZU64!(EPOCH_BLOCKS),
        retained_blocks: EPOCH_BLOCKS as usize - 2,
    };

    fn changes(&self) -> bool {
        self.blocks_per_epoch != engine::SINGLE_EPOCH
    }
}

impl Chain {
    /// Four validators keeping `RETAINED_BLOCKS` blocks, linked to each other and to the
    /// joining node and the forger (which start later, if at all).
    async fn start(context: deterministic::Context) -> Self {
        Self::start_with(context, 0, Epochs::SINGLE).await
    }

    /// [`Chain::start`] in epochs of `EPOCH_BLOCKS` blocks, with the joining node listed as a
    /// full node, as every set of a later epoch must list it for the network to carry its
    /// messages.
    async fn start_in_epochs(context: deterministic::Context) -> Self {
        Self::start_with(context, 0, Epochs::CHANGING).await
    }

    async fn start_with_state_sync(context: deterministic::Context, requesting: usize) -> Self {
        Self::start_with(context, requesting, Epochs::SINGLE).await
    }

    /// [`Chain::start`], where the first `requesting` validators ask for a state sync as they
    /// start (each waits for a floor, so they start in tasks of their own and are left out of
    /// `validators`).
    async fn start_with(
        context: deterministic::Context,
        requesting: usize,
        epochs: Epochs,
    ) -> Self {
        let keys = common::validator_keys(VALIDATORS);
        let participants: Vec<_> = keys.iter().map(|key| key.public_key()).collect();
        let everyone: Vec<_> = participants
            .iter()
            .cloned()
            .chain([joiner_key().public_key(), forger_key().public_key()])
            .collect();
        let (network, oracle) = Network::new(
            context.child("network"),
            simulated::Config {
                max_size: engine::max_message_size(VALIDATORS as u32),
                max_peers_per_set: NZUsize!(everyone.len() + 1),
                disconnect_on_block: true,
                // Each epoch's set (validators and full nodes) is tracked under its epoch,
                // and nodes move to the next one at different times.
                tracked_peer_sets: NZUsize!(3),
            },
        );
        network.start();
        oracle.manager().track(
            0,
            Set::from_iter_dedup(
                everyone
                    .iter()
                    .cloned()
                    .chain([accomplice_key().public_key()]),
            ),
        );
        for from in &everyone {
            for to in &everyone {
                if from != to {
                    oracle
                        .add_link(from.clone(), to.clone(), link())
                        .await
                        .unwrap();
                }
            }
        }
        let accomplice = accomplice_key().public_key();
        for validator in &participants {
            for (from, to) in [(&accomplice, validator), (validator, &accomplice)] {
                oracle
                    .add_link(from.clone(), to.clone(), link())
                    .await
                    .unwrap();
            }
        }
        // Nobody reads the finalizations reported; the harness polls the nodes instead.
        let (monitor, _) = mpsc::unbounded_channel();
        let mut chain = Self {
            context,
            oracle,
            monitor,
            participants,
            validators: Vec::new(),
            handles: Vec::new(),
            down: None,
            epochs,
        };
        for index in 0..requesting {
            let starter = chain.network_only();
            chain
                .context
                .child("requesting")
                .with_attribute("index", index)
                .spawn(move |_| async move {
                    let (handle, _) = starter
                        .start_validator(index, format!("validator-{index}"), true)
                        .await;
                    handle.await.ok();
                });
        }
        for index in requesting..keys.len() {
            let (handle, state) = chain
                .start_validator(index, format!("validator-{index}"), false)
                .await;
            chain.validators.push(state);
            chain.handles.push(handle);
        }
        chain
    }

    /// The network alone, with no node running on it.
    fn network_only(&self) -> Self {
        Self {
            context: self.context.child("network_only"),
            oracle: self.oracle.clone(),
            monitor: self.monitor.clone(),
            participants: self.participants.clone(),
            validators: Vec::new(),
            handles: Vec::new(),
            down: None,
            epochs: self.epochs,
        }
    }

    /// Starts validator `index` on the storage under `prefix`, asking for a state sync if
    /// `state_sync`.
    async fn start_validator(
        &self,
        index: usize,
        prefix: String,
        state_sync: bool,
    ) -> (Handle<()>, NodeState<deterministic::Context>) {
        let key = common::validator_key(index as u64);
        let config = node_config(
            prefix.clone(),
            &self.participants,
            &key,
            StateSync {
                requested: state_sync,
                progress: Arc::default(),
                checkpoint: None,
                sources: Vec::new(),
            },
            self.epochs,
        );
        let channels = register(&self.oracle, &key.public_key()).await;
        common::start_validator(
            self.context
                .child("validator")
                .with_attribute("index", index)
                .with_attribute("prefix", prefix),
            &key.public_key(),
            &self.oracle,
            channels,
            self.monitor.clone(),
            config,
        )
        .await
    }

    fn running(&self) -> impl Iterator<Item = &NodeState<deterministic::Context>> {
        self.validators
            .iter()
            .enumerate()
            .filter(|(index, _)| Some(*index) != self.down)
            .map(|(_, validator)| validator)
    }

    /// Waits until every running validator has processed `height`.
    async fn advance_to(&self, height: u64) {
        loop {
            let mut lowest = u64::MAX;
            for validator in self.running() {
                lowest = lowest.min(common::processed_height(validator).await);
            }
            if lowest >= height {
                return;
            }
            self.context.sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether every running validator's block archive has dropped block 1: a new node cannot replay
    /// the chain from genesis. (Archives prune whole sections of 1,024 blocks.)
    async fn pruned_genesis_blocks(&self) -> bool {
        for validator in self.running() {
            let first = validator
                .marshal
                .get_block(Identifier::Height(Height::new(1)))
                .await;
            if first.is_some() {
                return false;
            }
        }
        true
    }

    /// Starts (or restarts, on the same storage) the joining node.
    /// Starts the joining node (attempt 0), lets it sync records for a few network round trips
    /// (some operations may be fetched, none applied as a finished sync), and crashes it.
    async fn crash_joiner_while_syncing(&self, seed: u64) {
        let progress = Arc::new(SyncProgress::default());
        let (handle, first) = self.start_joiner(0, progress.clone()).await;
        while progress.phase() != SyncPhase::SyncingRecords {
            self.context.sleep(Duration::from_millis(1)).await;
        }
        self.context.sleep(Duration::from_millis(25)).await;
        assert_eq!(
            first.app.restores(),
            0,
            "seed {seed}: crashed before the sync ended"
        );
        handle.abort();
    }

    /// The checkpoint the joiner kept in its storage, if it verifies under `identity`.
    async fn kept_checkpoint(
        &self,
        label: &'static str,
        identity: &node::threshold::Identity,
    ) -> Option<node::checkpoint::Checkpoint> {
        node::checkpoint::read_kept(
            self.context.child(label),
            "joiner",
            identity,
            NZU64!(EPOCH_BLOCKS),
        )
        .await
    }

    async fn start_joiner(
        &self,
        attempt: usize,
        progress: Arc<SyncProgress>,
    ) -> (Handle<()>, NodeState<deterministic::Context>) {
        let key = joiner_key();
        let config = node_config(
            "joiner".into(),
            &self.participants,
            &key,
            StateSync {
                requested: true,
                progress,
                checkpoint: None,
                sources: Vec::new(),
            },
            self.epochs,
        );
        let channels = register(&self.oracle, &key.public_key()).await;
        common::start_validator(
            self.context
                .child("joiner")
                .with_attribute("attempt", attempt),
            &key.public_key(),
            &self.oracle,
            channels,
            self.monitor.clone(),
            config,
        )
        .await
    }

    /// Waits until `joiner` has processed `FOLLOW` blocks past `from`, then checks that at a
    /// moment when it and validator 0 have finalized the same height, they hold the same block
    /// (digest and state root) and exactly the same ledger.
    async fn check_agreement(&self, joiner: &NodeState<deterministic::Context>, from: u64) {
        self.check_agreement_at(joiner, from + FOLLOW).await;
    }

    /// [`Chain::check_agreement`], once `joiner` has processed `target`.
    async fn check_agreement_at(&self, joiner: &NodeState<deterministic::Context>, target: u64) {
        while common::processed_height(joiner).await < target {
            self.context.sleep(Duration::from_millis(50)).await;
        }
        let validator = &self.validators[0];
        let block_at = |node: &NodeState<deterministic::Context>| {
            let marshal = node.marshal.clone();
            async move {
                marshal
                    .get_block(Identifier::Height(Height::new(target)))
                    .await
                    .map(|block| (block.digest(), block.inner().state_root))
            }
        };
        let processed = common::processed_height(joiner).await;
        let joined = block_at(joiner).await.unwrap_or_else(|| {
            panic!("the joining node has block {target} (it processed {processed})")
        });
        assert_eq!(
            Some(joined),
            block_at(validator).await,
            "same block at {target}"
        );
        for _ in 0..400 {
            let (Some(mine), Some(theirs)) = (joiner.app.finalized(), validator.app.finalized())
            else {
                self.context.sleep(Duration::from_millis(5)).await;
                continue;
            };
            if mine.height == theirs.height {
                assert_eq!(mine.store, theirs.store, "same ledger at {}", mine.height);
                assert!(!mine.store.is_empty());
                assert!(joiner.app.audit_failures().is_empty());
                // It filled its store from peers: it executed no block before the one it
                // synced to, and never had block 1.
                assert_eq!(joiner.app.replayed_blocks(), 0);
                assert!(
                    joiner
                        .marshal
                        .get_block(Identifier::Height(Height::new(1)))
                        .await
                        .is_none()
                );
                return;
            }
            self.context.sleep(Duration::from_millis(5)).await;
        }
        panic!("the joining node and validator 0 never finalized the same height together");
    }
}

fn node_config(
    prefix: String,
    participants: &[ed25519::PublicKey],
    key: &ed25519::PrivateKey,
    state_sync: StateSync,
    epochs: Epochs,
) -> NodeConfig {
    let validator = participants.contains(&key.public_key());
    NodeConfig {
        partition_prefix: prefix,
        scheme: if validator {
            common::signer(participants, key)
        } else {
            common::verifier(participants)
        },
        consensus_key: common::consensus_key(participants).0,
        signer: key.clone(),
        blocks_per_epoch: epochs.blocks_per_epoch,
        followers: if epochs.changes() {
            Set::from_iter_dedup([joiner_key().public_key()])
        } else {
            Set::default()
        },
        app: App::new(
            common::genesis_store(common::ACCOUNTS),
            0,
            AppConfig {
                audit_finalized: true,
                ..AppConfig::default()
            },
        ),
        provider: Arc::new(RandomTransfers),
        retained_blocks: Some(epochs.retained_blocks),
        state_sync,
        tuning: engine::Tuning {
            page_cache_pages: NZUsize!(64),
            ..engine::Tuning::default()
        },
    }
}

async fn register(oracle: &SimOracle, key: &ed25519::PublicKey) -> Vec<common::ChannelPair> {
    let control = oracle.control(key.clone());
    let mut channels = Vec::new();
    for (id, quota) in common::consensus_channels() {
        channels.push(control.register(id, quota).await.unwrap());
    }
    channels
}

fn run(seed: u64, scenario: impl AsyncFnOnce(deterministic::Context)) {
    let config = deterministic::Config::new()
        .with_seed(seed)
        .with_timeout(Some(Duration::from_secs(600)));
    deterministic::Runner::new(config).start(|context| async move { scenario(context).await });
}

/// The height the joining node synced to: the first block it processed.
async fn synced_height(chain: &Chain, joiner: &NodeState<deterministic::Context>) -> u64 {
    loop {
        let height = common::processed_height(joiner).await;
        if height > 0 {
            return height;
        }
        chain.context.sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn a_node_joining_a_running_chain_syncs_the_validators_ledger_and_follows_the_chain() {
    for seed in common::seeds(&SEEDS) {
        run(seed, async |context| {
            let chain = Chain::start(context).await;
            chain.advance_to(JOIN_AT).await;
            let progress = Arc::new(SyncProgress::default());
            let (_handle, joiner) = chain.start_joiner(0, progress.clone()).await;
            let synced = synced_height(&chain, &joiner).await;
            assert!(
                synced >= JOIN_AT - 10,
                "seed {seed}: synced to a recent block ({synced})"
            );
            chain.check_agreement(&joiner, synced).await;
            assert_eq!(progress.phase(), SyncPhase::Following);
            assert_eq!(
                joiner.app.restores(),
                1,
                "seed {seed}: read back once, after the sync"
            );
            let (fetched, total) = progress.operations();
            assert!(
                fetched > 0 && total > 0,
                "seed {seed}: {fetched} of {total}"
            );
        });
    }
}

/// The epoch of validator 0's finalization of block `height`.
async fn epoch_of(chain: &Chain, height: u64) -> u64 {
    chain.validators[0]
        .marshal
        .get_finalization(Height::new(height))
        .await
        .expect("validator 0 keeps the finalizations it retains")
        .epoch()
        .get()
}

/// A chain some epochs in: the joining node's floor is in a later epoch than genesis, so it
/// learns that epoch's committee and key from the epoch's boundary block (glue's dkg probe)
/// rather than from genesis, and then follows the chain across the next boundary.
#[test]
fn a_node_joining_a_chain_several_epochs_in_syncs_and_follows_into_the_next_epoch() {
    for seed in common::seeds(&SEEDS) {
        run(seed, async |context| {
            let chain = Chain::start_in_epochs(context).await;
            let join_at = 3 * EPOCH_BLOCKS + 8;
            chain.advance_to(join_at).await;
            let progress = Arc::new(SyncProgress::default());
            let (_handle, joiner) = chain.start_joiner(0, progress.clone()).await;
            let synced = synced_height(&chain, &joiner).await;
            let floor_epoch = epoch_of(&chain, synced).await;
            assert!(
                synced >= join_at && floor_epoch >= 3,
                "seed {seed}: synced to block {synced} of epoch {floor_epoch}"
            );
            // Five blocks into the epoch after the floor's.
            let target = (synced / EPOCH_BLOCKS + 1) * EPOCH_BLOCKS + 5;
            chain.check_agreement_at(&joiner, target).await;
            assert!(epoch_of(&chain, target).await > floor_epoch);
            assert_eq!(progress.phase(), SyncPhase::Following);
            assert_eq!(joiner.app.restores(), 1, "seed {seed}: read back once");
        });
    }
}

/// A joining node crashed while it syncs into a later epoch restarts on its storage. It asks
/// again, giving the probe the floor it persisted; the chain has since crossed a boundary, so
/// the answer names a later floor with that floor's epoch info, and the node resumes from it.
#[test]
fn a_node_crashed_while_syncing_into_a_later_epoch_resumes_and_converges() {
    for seed in common::seeds(&SEEDS[..2]) {
        run(seed, async |context| {
            let chain = Chain::start_in_epochs(context).await;
            chain.advance_to(2 * EPOCH_BLOCKS + 8).await;
            chain.crash_joiner_while_syncing(seed).await;
            // The first attempt kept the checkpoint a peer gave it.
            let identity = node::threshold::identity(&common::consensus_key(&chain.participants).0);
            let kept_epoch = async |label: &'static str| {
                chain
                    .kept_checkpoint(label, &identity)
                    .await
                    .map(|kept| kept.info.epoch.get())
            };
            assert_eq!(kept_epoch("kept_first").await, Some(2), "seed {seed}");
            // The chain moves on past another boundary before it comes back.
            chain.advance_to(3 * EPOCH_BLOCKS + 8).await;
            let progress = Arc::new(SyncProgress::default());
            let (_handle, joiner) = chain.start_joiner(1, progress.clone()).await;
            // Its marshal still reports the first attempt's floor until the new sync ends.
            while progress.phase() != SyncPhase::Following {
                chain.context.sleep(Duration::from_millis(20)).await;
            }
            // The later checkpoint a peer gave this time replaced the kept one.
            assert_eq!(progress.checkpoint(), Some(3), "seed {seed}");
            assert_eq!(kept_epoch("kept_second").await, Some(3), "seed {seed}");
            let synced = common::processed_height(&joiner).await;
            assert!(
                synced >= 3 * EPOCH_BLOCKS + 8,
                "seed {seed}: resumed from the newer floor, not the first attempt's ({synced})"
            );
            let target = (synced / EPOCH_BLOCKS + 1) * EPOCH_BLOCKS + 5;
            chain.check_agreement_at(&joiner, target).await;
        });
    }
}

/// Archives prune whole sections of 1,024 blocks, so the chain runs past one section plus
/// `RETAINED_BLOCKS` before block 1 is gone from every validator.
#[test]
fn a_node_joining_after_the_validators_pruned_block_one_syncs_their_ledger_and_follows() {
    for seed in common::seeds(&SEEDS[..1]) {
        run(seed, async |context| {
            let chain = Chain::start(context).await;
            let mut height = JOIN_AT;
            chain.advance_to(height).await;
            while !chain.pruned_genesis_blocks().await {
                height += 100;
                assert!(height <= 3_000, "seed {seed}: the validators prune by then");
                chain.advance_to(height).await;
            }
            let (_handle, joiner) = chain
                .start_joiner(0, Arc::new(SyncProgress::default()))
                .await;
            let synced = synced_height(&chain, &joiner).await;
            assert!(synced >= height, "seed {seed}: synced to {synced}");
            chain.check_agreement(&joiner, synced).await;
        });
    }
}

/// glue records a completed start for good, so a validator whose own store is older than what
/// its peers still keep cannot state-sync from that store and cannot fetch the blocks it lacks:
/// it stays where it stopped. Its operator recovers it by starting it on empty storage with
/// `state_sync = true`: it then syncs from its peers and votes again.
#[test]
fn a_validator_down_longer_than_the_retention_stays_behind_until_restarted_empty_with_state_sync() {
    for seed in common::seeds(&SEEDS[..1]) {
        run(seed, async |context| {
            let mut chain = Chain::start(context).await;
            chain.advance_to(30).await;
            let down = 3;
            chain.handles[down].abort();
            chain.down = Some(down);
            let stopped = common::processed_height(&chain.validators[down]).await;
            let mut height = JOIN_AT;
            chain.advance_to(height).await;
            while !chain.pruned_genesis_blocks().await {
                height += 100;
                assert!(height <= 3_000, "seed {seed}: the validators prune by then");
                chain.advance_to(height).await;
            }

            // Restarted on its own storage (state sync asked for, to no avail).
            let (handle, restarted) = chain
                .start_validator(down, format!("validator-{down}"), true)
                .await;
            chain.advance_to(height + 30).await;
            let behind = common::processed_height(&restarted).await;
            assert!(
                behind < stopped + 50,
                "seed {seed}: the restarted validator stays behind ({behind}, stopped at \
                 {stopped}, chain at {height})"
            );
            handle.abort();

            // Started again on empty storage with state sync.
            let (_handle, recovered) = chain
                .start_validator(down, format!("validator-{down}-again"), true)
                .await;
            let synced = synced_height(&chain, &recovered).await;
            assert!(synced >= height, "seed {seed}: synced to {synced}");
            chain.check_agreement(&recovered, synced).await;
        });
    }
}

#[test]
fn a_joining_node_crashed_while_syncing_records_resumes_and_converges() {
    for seed in common::seeds(&SEEDS) {
        run(seed, async |context| {
            let chain = Chain::start(context).await;
            chain.advance_to(JOIN_AT).await;
            chain.crash_joiner_while_syncing(seed).await;
            chain.context.sleep(Duration::from_secs(3)).await;

            let progress = Arc::new(SyncProgress::default());
            let (_handle, joiner) = chain.start_joiner(1, progress.clone()).await;
            let synced = synced_height(&chain, &joiner).await;
            chain.check_agreement(&joiner, synced).await;
            assert_eq!(progress.phase(), SyncPhase::Following);
        });
    }
}

/// How a forging peer changes the operations it relays.
#[derive(Clone, Copy, Debug)]
enum Forgery {
    /// Leaves the last operation out.
    Truncate,
    /// Puts a copy of the last operation in place of the first.
    Overwrite,
}

/// A state-sync source that answers with what `inner` (an honest peer) answers, its operations
/// forged; boundaries pass through unchanged.
struct Forging<S> {
    inner: S,
    forgery: Forgery,
    forged: Arc<AtomicU64>,
}

impl<S> Source for Forging<S>
where
    S: Source,
    S::Op: Clone,
{
    type Family = S::Family;
    type Digest = S::Digest;
    type Op = S::Op;
    type Error = ServeError<S::Family>;

    async fn serve(&self, request: Request<Self::Family>) -> source::Result<Self> {
        let (response, _) = self
            .inner
            .serve(request)
            .await
            .map_err(|_| ServeError::MissingSource)?;
        let response = match response {
            Response::Operations {
                proof,
                mut operations,
            } if operations.len() >= 2 => {
                match self.forgery {
                    Forgery::Truncate => {
                        operations.pop();
                    }
                    Forgery::Overwrite => {
                        operations[0] = operations[operations.len() - 1].clone();
                    }
                }
                self.forged.fetch_add(1, Ordering::Relaxed);
                Response::Operations { proof, operations }
            }
            other => other,
        };
        Ok((response, None))
    }
}

/// A state-sync resolver on `key`'s identity with nothing to serve yet.
fn resolver_config<DB>(
    chain: &Chain,
    key: ed25519::PublicKey,
    control: simulated::Control<ed25519::PublicKey, deterministic::Context>,
) -> qmdb_resolver::Config<
    ed25519::PublicKey,
    simulated::Manager<ed25519::PublicKey, deterministic::Context>,
    simulated::Control<ed25519::PublicKey, deterministic::Context>,
    DB,
> {
    qmdb_resolver::Config {
        peer_provider: chain.oracle.manager(),
        blocker: control,
        database: None,
        mailbox_size: NZUsize!(1024),
        me: Some(key),
        fetch_timeout: NZDuration!(Duration::from_secs(2)),
        fetch_retry_delay: Duration::from_millis(100),
        max_serve_ops: NZU64!(64),
        priority_requests: false,
        priority_responses: false,
    }
}

/// Starts the forger: it serves state sync on its own identity, relaying every request to the
/// validators through the accomplice's resolver and forging the operations they return.
/// Returns how many responses it forged.
async fn start_forger(chain: &Chain, forgery: Forgery) -> Arc<AtomicU64> {
    let quota = common::consensus_channels()[engine::channel::STATE_SYNC as usize].1;
    let accomplice = accomplice_key().public_key();
    let control = chain.oracle.control(accomplice.clone());
    let channel = control
        .register(engine::channel::STATE_SYNC, quota)
        .await
        .unwrap();
    let (actor, honest) =
        qmdb_resolver::Actor::<_, _, _, _, mmr::Family, Qmdb<deterministic::Context>>::new(
            chain.context.child("accomplice"),
            resolver_config(chain, accomplice, control),
        );
    actor.start(channel);

    let forger = forger_key().public_key();
    let control = chain.oracle.control(forger.clone());
    let channel = control
        .register(engine::channel::STATE_SYNC, quota)
        .await
        .unwrap();
    let (actor, mailbox) = qmdb_resolver::Actor::<_, _, _, _, mmr::Family, Forging<_>>::new(
        chain.context.child("forger"),
        resolver_config(chain, forger, control),
    );
    // The forger's relayed answers must reach the joining node before the honest ones end its
    // sync, or they would never be checked (and a test of their refusal would test nothing):
    // its path (joining node, forger, accomplice, validators) gets 1 ms links, the honest ones
    // keep 10 ms.
    let fast = Link {
        latency: Duration::from_millis(1),
        jitter: Duration::ZERO,
        success_rate: probability!(1.0),
    };
    let joiner = joiner_key().public_key();
    let forger = forger_key().public_key();
    let accomplice = accomplice_key().public_key();
    let mut pairs = vec![(forger.clone(), joiner.clone()), (joiner, forger)];
    for validator in &chain.participants {
        pairs.push((accomplice.clone(), validator.clone()));
        pairs.push((validator.clone(), accomplice.clone()));
    }
    for (from, to) in pairs {
        chain
            .oracle
            .remove_link(from.clone(), to.clone())
            .await
            .unwrap();
        chain.oracle.add_link(from, to, fast.clone()).await.unwrap();
    }
    let forged = Arc::new(AtomicU64::new(0));
    mailbox.attach_database(Shared::new(
        "forging",
        Forging {
            inner: honest,
            forgery,
            forged: forged.clone(),
        },
    ));
    actor.start(channel);
    forged
}

/// In every seed the joining node syncs the real ledger and blocks no honest peer. A forged
/// answer that arrives after the request was served by an honest peer is dropped unchecked
/// (nothing to blame a late answer for), so the forger is blocked only in the seeds where the
/// joining node checked one of its answers: the test asks for at least one such seed.
fn a_forging_peer_is_blocked_and_the_joining_node_syncs_the_real_ledger(forgery: Forgery) {
    let mut forged_in_total = 0;
    let mut blocked_in = Vec::new();
    for seed in common::seeds(&SEEDS) {
        run(seed, async |context| {
            let chain = Chain::start(context).await;
            chain.advance_to(JOIN_AT).await;
            let forged = start_forger(&chain, forgery).await;
            let (_handle, joiner) = chain
                .start_joiner(0, Arc::new(SyncProgress::default()))
                .await;
            let synced = synced_height(&chain, &joiner).await;
            chain.check_agreement(&joiner, synced).await;
            let blocked = chain.oracle.blocked().await.unwrap();
            let forger = forger_key().public_key();
            let forged = forged.load(Ordering::Relaxed);
            forged_in_total += forged;
            if blocked.contains(&(joiner_key().public_key(), forger.clone())) {
                blocked_in.push(seed);
            }
            for (by, whom) in &blocked {
                assert_eq!(whom, &forger, "seed {seed}: {by:?} blocked an honest peer");
            }
        });
    }
    assert!(
        forged_in_total > 0,
        "the joining node asked the forger in at least one seed"
    );
    assert!(
        !blocked_in.is_empty(),
        "the forger sent {forged_in_total} forged responses ({forgery:?}) and no joining node \
         blocked it"
    );
}

#[test]
fn a_peer_relaying_truncated_operations_is_blocked_and_the_joining_node_syncs_the_real_ledger() {
    a_forging_peer_is_blocked_and_the_joining_node_syncs_the_real_ledger(Forgery::Truncate);
}

#[test]
fn a_peer_relaying_altered_operations_is_blocked_and_the_joining_node_syncs_the_real_ledger() {
    a_forging_peer_is_blocked_and_the_joining_node_syncs_the_real_ledger(Forgery::Overwrite);
}

/// The floor a joining node persisted before it crashed is, after a long downtime, older than
/// anything its peers keep: it still completes its sync (by following the chain's newer
/// finalized blocks) and converges.
#[test]
fn a_joining_node_down_mid_sync_longer_than_the_retention_resumes_and_converges() {
    for seed in common::seeds(&SEEDS[..1]) {
        run(seed, async |context| {
            let chain = Chain::start(context).await;
            chain.advance_to(JOIN_AT).await;
            chain.crash_joiner_while_syncing(seed).await;

            let mut height = JOIN_AT + 100;
            chain.advance_to(height).await;
            while !chain.pruned_genesis_blocks().await {
                height += 100;
                assert!(height <= 3_000, "seed {seed}: the validators prune by then");
                chain.advance_to(height).await;
            }
            let progress = Arc::new(SyncProgress::default());
            let (_handle, joiner) = chain.start_joiner(1, progress.clone()).await;
            // The interrupted sync's floor may show as processed until the new sync ends: wait
            // for the node to follow the chain from the new floor.
            while progress.phase() != SyncPhase::Following {
                chain.context.sleep(Duration::from_millis(20)).await;
            }
            let synced = synced_height(&chain, &joiner).await;
            assert!(synced >= height - 10, "seed {seed}: synced to {synced}");
            chain.check_agreement(&joiner, synced).await;
        });
    }
}

/// A validator asking for a state sync waits for `f + 1` validators to name a finalization
/// before it starts consensus. At genesis there is none: with more than `f` validators
/// configured so, nobody would ever finalize a block if they waited for ever; they wait
/// `VALIDATOR_FLOOR_WAIT` and start from genesis.
#[test]
fn a_chain_whose_validators_ask_for_state_sync_at_genesis_still_finalizes_blocks() {
    for seed in common::seeds(&SEEDS[..1]) {
        run(seed, async |context| {
            let chain = Chain::start_with_state_sync(context, 2).await;
            chain.context.sleep(Duration::from_secs(60)).await;
            for (index, validator) in chain.validators.iter().enumerate() {
                let height = common::processed_height(validator).await;
                assert!(
                    height > 0,
                    "seed {seed}: validator {} finalized nothing in a minute",
                    index + 2
                );
            }
        });
    }
}

/// What a byzantine validator answers a joining node's probe with.
#[derive(Clone, Copy, Debug)]
enum ProbeReply {
    /// A real finalization of an early block: valid, but far behind the chain.
    Stale,
    /// A response tag followed by bytes that decode as no finalization.
    Garbage,
}

/// The tag of glue's dkg probe answer carrying the sender's latest finalization.
const LATEST_RESPONSE: u8 = 5;

/// Stops validator `index` and answers every probe request sent to its identity with `reply`
/// (the other three validators keep the chain going).
async fn start_byzantine_prober(chain: &mut Chain, index: usize, reply: ProbeReply) {
    let stale = chain.validators[0]
        .marshal
        .get_finalization(Height::new(2))
        .await
        .expect("validator 0 keeps the finalization of block 2");
    chain.handles[index].abort();
    chain.down = Some(index);
    let message = match reply {
        ProbeReply::Stale => [vec![LATEST_RESPONSE], stale.encode().to_vec()].concat(),
        ProbeReply::Garbage => vec![LATEST_RESPONSE, 0xff, 0xff, 0xff, 0x01, 0x02],
    };
    let key = common::validator_key(index as u64).public_key();
    // Its reply reaches the joining node well before any honest one, so it is counted.
    let joiner = joiner_key().public_key();
    let fast = Link {
        latency: Duration::from_millis(1),
        jitter: Duration::ZERO,
        success_rate: probability!(1.0),
    };
    for (from, to) in [(&key, &joiner), (&joiner, &key)] {
        chain
            .oracle
            .remove_link(from.clone(), to.clone())
            .await
            .unwrap();
        chain
            .oracle
            .add_link(from.clone(), to.clone(), fast.clone())
            .await
            .unwrap();
    }
    let quota = common::consensus_channels()[0].1;
    let (mut sender, mut receiver) = chain
        .oracle
        .control(key)
        .register(engine::channel::PROBE, quota)
        .await
        .unwrap();
    chain
        .context
        .child("byzantine_prober")
        .spawn(move |_| async move {
            while let Ok((peer, _)) = receiver.recv().await {
                sender.send(Recipients::One(peer), message.clone(), false);
            }
        });
}

fn a_joining_node_takes_its_floor_from_honest_validators_despite(reply: ProbeReply) {
    for seed in common::seeds(&SEEDS) {
        run(seed, async |context| {
            let mut chain = Chain::start(context).await;
            chain.advance_to(10).await;
            start_byzantine_prober(&mut chain, 3, reply).await;
            chain.advance_to(JOIN_AT).await;
            let (_handle, joiner) = chain
                .start_joiner(0, Arc::new(SyncProgress::default()))
                .await;
            let synced = synced_height(&chain, &joiner).await;
            assert!(
                synced >= JOIN_AT,
                "seed {seed}: synced to {synced}, not to the stale floor ({reply:?})"
            );
            chain.check_agreement(&joiner, synced).await;
            let blocked = chain.oracle.blocked().await.unwrap();
            let byzantine = common::validator_key(3).public_key();
            if let ProbeReply::Garbage = reply {
                assert!(
                    blocked.contains(&(joiner_key().public_key(), byzantine.clone())),
                    "seed {seed}: the joining node blocked the validator that sent garbage; \
                     blocked: {blocked:?}"
                );
            }
            for (by, whom) in &blocked {
                assert_eq!(
                    whom, &byzantine,
                    "seed {seed}: {by:?} blocked an honest peer"
                );
            }
        });
    }
}

#[test]
fn a_joining_node_takes_its_floor_from_honest_validators_despite_a_stale_probe_reply() {
    a_joining_node_takes_its_floor_from_honest_validators_despite(ProbeReply::Stale);
}

#[test]
fn a_joining_node_blocks_a_validator_answering_its_probe_with_garbage_and_still_syncs() {
    a_joining_node_takes_its_floor_from_honest_validators_despite(ProbeReply::Garbage);
}

/// A node that state-synced into the middle of an epoch holds no block before its floor, so it
/// cannot serve its epoch's boundary itself until the chain crosses the next one; meanwhile it
/// holds the checkpoint its sync started from (fetched from the validators here), which it
/// answers checkpoint requests with, so that a newcomer whose bootstrap peers synced recently
/// still gets the current committee.
#[test]
fn a_node_that_state_synced_answers_with_its_epochs_checkpoint() {
    for seed in common::seeds(&SEEDS[..1]) {
        run(seed, async |context| {
            let chain = Chain::start_in_epochs(context).await;
            let join_at = 3 * EPOCH_BLOCKS + 8;
            chain.advance_to(join_at).await;
            let progress = Arc::new(SyncProgress::default());
            let (_handle, joiner) = chain.start_joiner(0, progress.clone()).await;
            while progress.phase() != SyncPhase::Following {
                chain.context.sleep(Duration::from_millis(20)).await;
            }
            let synced = synced_height(&chain, &joiner).await;
            let blocks_per_epoch = NZU64!(EPOCH_BLOCKS);
            let height = common::processed_height(&joiner).await;
            // The chain is still in the floor's epoch, whose boundary the node does not hold.
            assert_eq!(height / EPOCH_BLOCKS, synced / EPOCH_BLOCKS, "seed {seed}");
            assert!(
                node::checkpoint::serve(&joiner.marshal, height, blocks_per_epoch)
                    .await
                    .is_err(),
                "seed {seed}"
            );
            // What it gives others (`checkpoint::answer`, `equa_getCheckpoint`) is the
            // checkpoint its sync started from: the epoch's own.
            let view = node::checkpoint::current(
                &joiner.marshal,
                &joiner.app,
                blocks_per_epoch,
                joiner.held_checkpoint.as_ref(),
            )
            .await
            .expect("the checkpoint its sync started from");
            let view = node::checkpoint::decode(&node::checkpoint::encode(&view).unwrap())
                .expect("it goes on the wire whole");
            let identity = node::threshold::identity(&common::consensus_key(&chain.participants).0);
            let info = node::checkpoint::verify(&view, &identity, blocks_per_epoch)
                .expect("a checkpoint the chain finalized");
            assert_eq!(info.epoch.get(), height / EPOCH_BLOCKS, "seed {seed}");
            // It kept that checkpoint in its storage, so a restart of an interrupted sync
            // starts from it even if no peer answers; it verifies under the chain's key only.
            let kept = chain
                .kept_checkpoint("kept", &identity)
                .await
                .expect("the checkpoint is kept");
            assert_eq!(kept.info.epoch, info.epoch, "seed {seed}");
            assert_eq!(kept.view, view, "seed {seed}");
            let (other_key, _) = node::threshold::deal(
                <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(8),
                &chain.participants,
            );
            let other_chain = node::threshold::identity(&other_key);
            assert_ne!(other_chain, identity);
            assert!(
                chain
                    .kept_checkpoint("foreign", &other_chain)
                    .await
                    .is_none(),
                "seed {seed}: a checkpoint another key did not sign is not read back"
            );
        });
    }
}

/// A node that state-synced into an epoch and is restarted before the chain crosses the next
/// boundary does not sync again (completion is recorded), but reads back the checkpoint its
/// sync started from and goes on answering with it, as it did before the restart.
#[test]
fn a_synced_node_restarted_in_its_epoch_still_answers_with_the_kept_checkpoint() {
    for seed in common::seeds(&SEEDS[..1]) {
        run(seed, async |context| {
            let chain = Chain::start_in_epochs(context).await;
            chain.advance_to(3 * EPOCH_BLOCKS + 8).await;
            let progress = Arc::new(SyncProgress::default());
            let (handle, joiner) = chain.start_joiner(0, progress.clone()).await;
            while progress.phase() != SyncPhase::Following {
                chain.context.sleep(Duration::from_millis(20)).await;
            }
            let synced = synced_height(&chain, &joiner).await;
            assert!(joiner.held_checkpoint.is_some(), "seed {seed}");
            handle.abort();
            drop(joiner);
            let progress = Arc::new(SyncProgress::default());
            let (_handle, joiner) = chain.start_joiner(1, progress.clone()).await;
            let height = synced_height(&chain, &joiner).await;
            let blocks_per_epoch = NZU64!(EPOCH_BLOCKS);
            // Still the floor's epoch, whose boundary the node does not hold.
            assert_eq!(height / EPOCH_BLOCKS, synced / EPOCH_BLOCKS, "seed {seed}");
            assert!(
                node::checkpoint::serve(&joiner.marshal, height, blocks_per_epoch)
                    .await
                    .is_err(),
                "seed {seed}"
            );
            let identity = node::threshold::identity(&common::consensus_key(&chain.participants).0);
            assert!(
                chain
                    .kept_checkpoint("kept_after_restart", &identity)
                    .await
                    .is_some(),
                "seed {seed}: the checkpoint is on disk"
            );
            assert!(
                node::checkpoint::current(
                    &joiner.marshal,
                    &joiner.app,
                    blocks_per_epoch,
                    joiner.held_checkpoint.as_ref(),
                )
                .await
                .is_ok(),
                "seed {seed}: restarted in its epoch, it answers with the checkpoint it kept"
            );
        });
    }
}

/// A peer that keeps the checkpoint channel's queue full (here by replaying one valid but old
/// checkpoint 2,000 times a second; a valid one never gets its sender blocked) does not hold a
/// fetch, and so the node's start, past its deadline: the deadline is checked between messages,
/// and a peer's repeated checkpoint is not checked again. Real time (tokio), because the cost is
/// CPU time, which the deterministic runtime does not count.
#[test]
fn a_flood_of_valid_old_checkpoints_does_not_hold_a_fetch_past_its_deadline() {
    let (bytes, participants) = {
        let config = deterministic::Config::new()
            .with_seed(0)
            .with_timeout(Some(Duration::from_secs(600)));
        deterministic::Runner::new(config).start(|context| async move {
            let chain = Chain::start_in_epochs(context).await;
            chain.advance_to(EPOCH_BLOCKS + 4).await;
            let view = node::checkpoint::serve(
                &chain.validators[0].marshal,
                EPOCH_BLOCKS + 4,
                NZU64!(EPOCH_BLOCKS),
            )
            .await
            .expect("validator 0 serves epoch 1's boundary");
            (
                node::checkpoint::encode(&view).expect("encodes"),
                chain.participants.clone(),
            )
        })
    };
    let identity = node::threshold::identity(&common::consensus_key(&participants).0);
    let flood_for = Duration::from_secs(40);
    let elapsed = commonware_runtime::tokio::Runner::default().start(|context| async move {
        let attacker = forger_key().public_key();
        // An asked peer that is connected but never answers (it is still starting, say).
        let silent = accomplice_key().public_key();
        // The channel's inbound queue: the p2p layer drops what does not fit (256, the burst).
        let (queue, inbound) = mpsc::channel(engine::DEFAULT_CHANNEL_BURST.get() as usize);
        context.child("attacker").spawn(move |context| async move {
            let start = context.current();
            while context.current() < start + flood_for {
                for _ in 0..10 {
                    let _ = queue.try_send((attacker.clone(), bytes.clone()));
                }
                context.sleep(Duration::from_millis(5)).await;
            }
        });
        let mut sender = mock::Sender;
        let mut receiver = mock::Receiver(inbound);
        let mut blocker = mock::Blocker;
        let start = context.current();
        let found = node::checkpoint::fetch(
            &context,
            &mut sender,
            &mut receiver,
            &[silent],
            &identity,
            NZU64!(EPOCH_BLOCKS),
            &mut blocker,
        )
        .await;
        assert_eq!(
            found.map(|found| found.checkpoint.info.epoch.get()),
            Some(1)
        );
        context.current().duration_since(start).unwrap()
    });
    assert!(
        elapsed < node::checkpoint::FETCH_WAIT + Duration::from_secs(3),
        "fetch returned after {elapsed:?}, not within FETCH_WAIT ({:?})",
        node::checkpoint::FETCH_WAIT
    );
}

/// Channel halves for calling `checkpoint::fetch` outside a network.
mod mock {
    use commonware_actor::{Feedback, Unreliable};
    use commonware_cryptography::ed25519::PublicKey;
    use commonware_p2p::Recipients;
    use commonware_runtime::{IoBuf, IoBufs};
    use commonware_utils::channel::{mpsc, ring};
    use std::{num::NonZeroUsize, time::SystemTime};

    /// Accepts every message and delivers none.
    #[derive(Clone, Debug)]
    pub struct Sender;
    pub struct Checked(Vec<PublicKey>);

    impl commonware_p2p::LimitedSender for Sender {
        type PublicKey = PublicKey;
        type Checked<'a> = Checked;
        fn check(&mut self, recipients: Recipients<PublicKey>) -> Result<Checked, SystemTime> {
            Ok(Checked(match recipients {
                Recipients::All => Vec::new(),
                Recipients::Some(peers) => peers,
                Recipients::One(peer) => vec![peer],
            }))
        }
    }

    impl commonware_p2p::CheckedSender for Checked {
        type PublicKey = PublicKey;
        fn recipients(&self) -> Vec<PublicKey> {
            self.0.clone()
        }
        fn send(self, _: impl Into<IoBufs> + Send, _: bool) -> Unreliable<Feedback> {
            Unreliable::new(Feedback::Ok)
        }
    }

    /// Yields what arrives on the queue.
    #[derive(Debug)]
    pub struct Receiver(pub mpsc::Receiver<(PublicKey, Vec<u8>)>);

    #[derive(Debug, thiserror::Error)]
    #[error("closed")]
    pub struct Closed;

    impl commonware_p2p::Receiver for Receiver {
        type Error = Closed;
        type PublicKey = PublicKey;
        async fn recv(&mut self) -> Result<(PublicKey, IoBuf), Closed> {
            let (peer, bytes) = self.0.recv().await.ok_or(Closed)?;
            Ok((peer, IoBuf::from(bytes)))
        }
        fn capacity(&self) -> NonZeroUsize {
            NonZeroUsize::MIN
        }
    }

    #[derive(Clone, Debug)]
    pub struct Blocker;

    impl commonware_p2p::Blocker for Blocker {
        type PublicKey = PublicKey;
        fn block(&mut self, _: PublicKey) -> Feedback {
            Feedback::Ok
        }
        fn blocked(&mut self) -> commonware_p2p::BlockedSubscription<PublicKey> {
            ring::channel(NonZeroUsize::MIN).1
        }
    }
}

/// Each one-byte checkpoint request is answered with a whole block and its certificate, read
/// from the archive: the channel's quota (`engine::quota`, two a second per peer) bounds what a
/// burst of 256 requests gets back within a second.
#[test]
fn a_burst_of_checkpoint_requests_gets_a_few_answers() {
    for seed in common::seeds(&SEEDS[..1]) {
        run(seed, async |context| {
            let chain = Chain::start_in_epochs(context).await;
            chain.advance_to(EPOCH_BLOCKS + 4).await;
            let validator = common::validator_key(0).public_key();
            let quota = common::consensus_channels()[0].1;
            let (mut sender, mut receiver) = chain
                .oracle
                .control(forger_key().public_key())
                .register(engine::channel::CHECKPOINT, quota)
                .await
                .unwrap();
            for _ in 0..engine::DEFAULT_CHANNEL_BURST.get() {
                sender.send(Recipients::One(validator.clone()), vec![0u8], false);
            }
            let (mut replies, mut bytes) = (0usize, 0usize);
            let deadline = chain.context.current() + Duration::from_secs(1);
            loop {
                let recv = std::pin::pin!(receiver.recv());
                let sleep = std::pin::pin!(chain.context.sleep_until(deadline));
                let got = match futures::future::select(recv, sleep).await {
                    futures::future::Either::Left((Ok((_, reply)), _)) => Some(reply.len()),
                    _ => None,
                };
                let Some(length) = got else { break };
                replies += 1;
                bytes += length;
            }
            assert!(
                (1..=4).contains(&replies),
                "seed {seed}: 256 requests of one byte got {replies} checkpoints ({bytes} bytes) \
                 within a second"
            );
        });
    }
}
