//! Wiring one node: p2p channels, marshal, broadcast, the glue stateful actor around [`App`], and
//! consensus in epochs (glue's `dkg`: an orchestrator running one simplex engine per epoch, and a
//! reshare actor passing the chain key's shares to each epoch's committee; see
//! [`crate::epochs`]). Generic over the runtime and the network, so simulations (deterministic
//! runtime, simulated p2p) and real processes (tokio, authenticated discovery) share it.
//!
//! # Pacing
//!
//! A leader proposes no sooner than `AppConfig::min_block_interval_ms` after its parent's
//! timestamp (the application waits for that). A leader whose pool has no transaction for the
//! next block ([`crate::TransactionSource::has_pending`]) also waits, up to the *idle interval*
//! (`Tuning::idle_block_interval`, like CometBFT's `create_empty_blocks_interval`), before it
//! proposes an empty block; a transaction arriving meanwhile ends the wait at once. An idle chain
//! thus makes about one block per idle interval, and a busy one keeps its pace.
//!
//! Followers nullify a leader that has not proposed within simplex's leader timeout, so the
//! timeouts leave room for the longest idle wait ([`MAX_IDLE_BLOCK_INTERVAL`]): each is that
//! plus what it was before pacing (1 s to propose, 2 s to certify, 5 s to skip a silent leader,
//! see [`PROPOSAL_MARGIN`]). They are the same on every node ([`Timeouts::CHAIN`]) whatever its
//! idle interval: a view is nullified only when a quorum's timeouts have passed, so one node
//! configured with longer timeouts would slow every view a silent leader holds. An operator may
//! therefore shorten the idle interval but not lengthen it. The wait happens outside the glue
//! stateful actor
//! (in [`Paced`], which wraps marshal's automaton), because that actor handles no finalized block
//! while a build is running.

use crate::recovery::SyncPhase;
use crate::{App, ConsensusContext, Provider, Qmdb, Scheme, block::Block};
use commonware_actor::Feedback;
use commonware_broadcast::buffered;
use commonware_consensus::{
    Automaton, CertifiableAutomaton, Epochable as _, Handoff, Relay, Reporter, Reporters,
    marshal::{
        self,
        core::{Actor as MarshalActor, DigestFallback, Mailbox as MarshalMailbox},
        resolver::p2p as marshal_resolver,
        standard::{Deferred, Standard},
    },
    simplex::{
        self,
        config::{ForwardPolicy, SkipPolicy},
        elector::RoundRobin,
        types::{Activity, Attributable as _},
    },
    types::{Epoch, FixedEpocher, Round, ViewDelta},
};
use commonware_cryptography::{
    Digested, Digestible, Sha256,
    bls12381::{
        dkg::feldman_desmedt::Reveal,
        primitives::sharing::{Mode, ModeVersion},
    },
    certificate::{ConstantProvider, Provider as _, Scheme as _},
    ed25519,
};
use commonware_glue::dkg::{
    fence::Fence,
    orchestrator, probe as dkg_probe, reshare,
    state_sync::{
        Config as DkgStateSyncConfig, Plan as DkgStateSyncPlan, StateSync as DkgStateSync,
    },
};
use commonware_glue::stateful::{
    Config as StatefulConfig, Mailbox as StatefulMailbox, PruneConfig, Stateful, SyncPlan,
    db::{SyncEngineConfig, p2p as qmdb_resolver},
};
use commonware_p2p::{Blocker, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::{
    Clock, Handle, Metrics, Quota, Spawner, Storage,
    buffer::paged::CacheRef,
    telemetry::metrics::{Counter, MetricsExt as _},
};
use commonware_storage::{archive::prunable, mmr, translator::FourCap};
use commonware_utils::{
    NZDuration, NZU16, NZU32, NZU64, NZUsize, channel::oneshot, ordered::Quorum as _,
    sequence::Unit,
};
use futures::future::{Either, select};
use std::{
    collections::BTreeMap,
    num::{NonZeroU32, NonZeroU64, NonZeroUsize},
    pin::pin,
    sync::{Arc, Mutex},
    time::{Duration, UNIX_EPOCH},
};
use types::Digest;

/// The simplex signing namespace. Changing it is a breaking change of the chain.
pub const CONSENSUS_NAMESPACE: &[u8] = b"EQUA_CONSENSUS_V1";

/// The namespace of the key resharing's signed messages (dealer logs, acknowledgements).
pub const DKG_NAMESPACE: &[u8] = b"EQUA_DKG_V1";

/// The epoch length of a chain that never changes epoch: every block is in epoch 0 and the key
/// is never reshared.
pub const SINGLE_EPOCH: NonZeroU64 = NZU64!(u64::MAX);

/// Channel ids, registered in this order on every node.
pub mod channel {
    pub const VOTES: u64 = 0;
    pub const CERTIFICATES: u64 = 1;
    pub const SIMPLEX_RESOLVER: u64 = 2;
    pub const BACKFILL: u64 = 3;
    pub const BROADCAST: u64 = 4;
    pub const STATE_SYNC: u64 = 5;
    /// glue's probe: a node about to state-sync asks the validators for their latest
    /// finalization; every node answers. (6 is the transaction relay's, `crate::relay`.)
    pub const PROBE: u64 = 7;
    /// glue's key resharing: dealings and acknowledgements between an epoch's committees.
    pub const DKG: u64 = 8;
    /// Checkpoints: a node about to state-sync asks its peers for one (`crate::checkpoint`).
    pub const CHECKPOINT: u64 = 9;
    pub const ALL: [u64; 9] = [
        VOTES,
        CERTIFICATES,
        SIMPLEX_RESOLVER,
        BACKFILL,
        BROADCAST,
        STATE_SYNC,
        PROBE,
        DKG,
        CHECKPOINT,
    ];
}

/// How long a validator asking for a state sync waits for the validators to name a finalized
/// block before it starts without one (see `start_node_with_elector`).
pub const VALIDATOR_FLOOR_WAIT: Duration = Duration::from_secs(20);

/// Store operations asked for, and served, per state-sync request.
pub const SYNC_BATCH_OPS: std::num::NonZeroU64 = NZU64!(64);
/// Store operations a syncing node applies at once.
pub const SYNC_APPLY_OPS: std::num::NonZeroU64 = NZU64!(64);
/// State-sync requests a syncing node keeps in flight.
pub const SYNC_OUTSTANDING_REQUESTS: NonZeroUsize = NZUsize!(8);
/// Below this, the runtime raises buffer sizes anyway.
const IO_BUFFER: NonZeroUsize = NZUsize!(8192);

/// Messages a peer may send on each consensus channel per second, sustained.
pub const CHANNEL_MESSAGES_PER_SECOND: NonZeroU32 = NZU32!(10_000);

/// Messages a peer may send on one consensus channel at once, unless configured. The p2p layer
/// reserves, and touches, a slot in each channel's inbound queue and in the shared outbound
/// queue for every peer's whole burst, up front: measured with four validators and a full node,
/// each unit of burst costs about 77 KB resident (256 is about 19 MB; the burst of 10,000 that
/// `Quota::per_second(10_000)` implied was about 730 MB, most of a node's memory). Consensus
/// sends a few messages per view to each peer, so its bursts are short; beyond a burst a peer's
/// messages are paced at [`CHANNEL_MESSAGES_PER_SECOND`].
pub const DEFAULT_CHANNEL_BURST: NonZeroU32 = NZU32!(256);

/// The quota of each consensus channel (every [`channel::ALL`]): `burst` messages at once from
/// each peer, then [`CHANNEL_MESSAGES_PER_SECOND`].
pub fn channel_quota(burst: NonZeroU32) -> Quota {
    Quota::per_second(CHANNEL_MESSAGES_PER_SECOND).allow_burst(burst)
}

/// The quota of channel `id` of [`channel::ALL`]: [`channel_quota`] for the consensus
/// channels; checkpoint requests, each answered with a block and its certificate, two a second
/// per peer (a node asks each peer once a second while it fetches).
pub fn quota(id: u64, burst: NonZeroU32) -> Quota {
    match id {
        channel::CHECKPOINT => Quota::per_second(NZU32!(2)),
        _ => channel_quota(burst),
    }
}

/// Messages each actor's mailbox holds before it overflows into a growing queue. The slots are
/// reserved up front but only touched when used: at 1,024 they are 76 MB of address space and
/// about 1 MB resident.
const MAILBOX: NonZeroUsize = NZUsize!(1024);

/// The largest message any channel carries, for the p2p layer's bound.
pub fn max_message_size(validators: u32) -> u32 {
    commonware_p2p::max_message_size(&[
        // Votes carry their sender's signature (`crate::evidence`).
        orchestrator::max_payload_size::<Scheme, types::Digest>(validators)
            + crate::evidence::SIGNATURE_BYTES,
        commonware_glue::dkg::max_payload_size::<
            crate::threshold::ConsensusVariant,
            ed25519::PublicKey,
        >(crate::threshold::max_validators()),
        marshal::max_payload_size::<Standard<Block>, Scheme>(validators, &()),
        dkg_probe::max_payload_size::<Standard<Block>, Scheme>(validators, &()),
        // A checkpoint: its framing (tag, epoch, height, length), a block and a certificate,
        // no more than marshal sends a block with its certificate.
        marshal::max_payload_size::<Standard<Block>, Scheme>(validators, &()) + 21,
        qmdb_resolver::max_payload_size::<mmr::Family, types::Digest>(
            SYNC_BATCH_OPS,
            <commonware_storage::qmdb::any::unordered::fixed::Operation<
                mmr::Family,
                types::Digest,
                crate::state::Chunk,
            > as commonware_codec::FixedSize>::SIZE,
        ),
    ])
}

/// Everything one node needs besides its network.
pub struct NodeConfig {
    /// Prefix of every storage partition of this node.
    pub partition_prefix: String,
    /// This validator's consensus scheme in epoch 0 (`Scheme::signer`), or a verifier for a
    /// follower. Its share is the one this node starts the chain with (stored at its first
    /// start); later epochs' shares come from resharing.
    pub scheme: Scheme,
    /// The public side of the chain's key as dealt at genesis: epoch 0's output.
    pub consensus_key: crate::threshold::ConsensusKey,
    /// This node's network key, which also signs its part in resharing.
    pub signer: ed25519::PrivateKey,
    /// Blocks per consensus epoch: the key is reshared, and the committee may change, at every
    /// epoch's end. [`SINGLE_EPOCH`] never changes epoch.
    pub blocks_per_epoch: NonZeroU64,
    /// Full nodes of the chain, tracked as secondary peers in every epoch (they follow without
    /// voting).
    pub followers: commonware_utils::ordered::Set<ed25519::PublicKey>,
    pub app: App,
    pub provider: Provider,
    /// Finalized blocks kept for peers' backfill (the archives drop whole sections of 1,024
    /// blocks, so up to 1,023 more stay). A peer further behind, or new, needs a state sync.
    /// `None` never prunes.
    pub retained_blocks: Option<usize>,
    /// Whether a node with no state yet fills it from peers instead of executing every block
    /// since genesis, and where it reports how far it is.
    pub state_sync: StateSync,
    /// Pacing and memory bounds.
    pub tuning: Tuning,
}

/// A node's state sync: whether to run it, and its progress.
///
/// A node whose state sync has once completed (or that ever started from genesis) never runs
/// it again: glue records the completion for good, and the node follows the chain from its own
/// store. An interrupted state sync resumes at every start until it completes, requested or
/// not.
#[derive(Clone, Debug, Default)]
pub struct StateSync {
    /// Sync from peers if this node has not yet completed a start.
    pub requested: bool,
    /// Where the sync stands, for `equa status`.
    pub progress: Arc<crate::recovery::SyncProgress>,
    /// A verified checkpoint ([`crate::checkpoint::Checkpoint::verified`]): a later epoch's
    /// committee to ask for a recent block instead of the genesis validators; the node serves
    /// it on until it stores its own epoch's boundary. Without one, a node about to sync asks
    /// the genesis validators and `sources` for theirs first ([`crate::checkpoint::fetch`]).
    pub checkpoint: Option<crate::checkpoint::Checkpoint>,
    /// Peers to ask for a checkpoint besides the genesis validators: the node's bootstrap
    /// peers.
    pub sources: Vec<ed25519::PublicKey>,
}

/// How a node paces empty blocks and how much memory it reserves up front. `equa node` uses
/// [`Tuning::default`] but for what its configuration file sets (see `run`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuning {
    /// How long a leader with no transaction to propose waits before it proposes an empty
    /// block (see the module docs); at most [`MAX_IDLE_BLOCK_INTERVAL`].
    pub idle_block_interval: Duration,
    /// Pages of [`PAGE_BYTES`] in the storage page cache, shared by every archive and the state
    /// store; allocated up front.
    pub page_cache_pages: NonZeroUsize,
    /// Messages each peer may send at once on each consensus channel (see
    /// [`DEFAULT_CHANNEL_BURST`]). Only the p2p network's registration uses it.
    pub channel_burst: NonZeroU32,
    /// The most peers (this node included) the p2p layer accepts in one tracked set; the
    /// secondary peers of every set are cut to fit (see [`crate::epochs::Peers`]).
    pub max_peers_per_set: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            idle_block_interval: DEFAULT_IDLE_BLOCK_INTERVAL,
            page_cache_pages: DEFAULT_PAGE_CACHE_PAGES,
            channel_burst: DEFAULT_CHANNEL_BURST,
            max_peers_per_set: usize::MAX,
        }
    }
}

/// The size of a page of the storage page cache.
pub const PAGE_BYTES: u16 = 4096;

/// The storage page cache unless configured: 64 MiB, which made state writes 2.8 times faster
/// than 1 MiB (see the commonware notes, part F).
pub const DEFAULT_PAGE_CACHE_PAGES: NonZeroUsize = NZUsize!(16_384);

/// The idle interval of a node whose configuration does not set one: an idle chain makes about
/// one block a second.
pub const DEFAULT_IDLE_BLOCK_INTERVAL: Duration = Duration::from_secs(1);

/// The longest idle interval a node may be configured with; the chain's timeouts leave room for
/// it (see the module docs).
pub const MAX_IDLE_BLOCK_INTERVAL: Duration = DEFAULT_IDLE_BLOCK_INTERVAL;

/// What each simplex timeout allows beyond the idle interval, per step: a leader's proposal must
/// be built, broadcast and seen within one margin of its idle wait (this was the leader timeout
/// before empty blocks were paced, with 50 ms between blocks).
pub const PROPOSAL_MARGIN: Duration = Duration::from_secs(1);

/// Simplex's timeouts: the same on every node, and long enough that a leader waiting out the
/// longest idle interval is never taken for a silent one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Followers nullify a leader that has not proposed within this.
    pub leader: Duration,
    /// A view not certified within this is nullified.
    pub certification: Duration,
    /// A leader silent for this long is skipped at once.
    pub skip: Duration,
}

impl Timeouts {
    /// The chain's timeouts: [`MAX_IDLE_BLOCK_INTERVAL`] plus one margin to propose, two to
    /// certify and five to skip (2 s, 3 s and 6 s). A leader waits at most its idle interval
    /// from the moment it is asked to propose, so its proposal is never later than the margin
    /// allows.
    pub const CHAIN: Self = Self {
        leader: MAX_IDLE_BLOCK_INTERVAL.saturating_add(PROPOSAL_MARGIN),
        certification: MAX_IDLE_BLOCK_INTERVAL.saturating_add(PROPOSAL_MARGIN.saturating_mul(2)),
        skip: MAX_IDLE_BLOCK_INTERVAL.saturating_add(PROPOSAL_MARGIN.saturating_mul(5)),
    };
}

impl std::fmt::Debug for NodeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeConfig")
            .field("partition_prefix", &self.partition_prefix)
            .field("retained_blocks", &self.retained_blocks)
            .finish_non_exhaustive()
    }
}

/// The nine channels a node uses, in [`channel::ALL`] order.
#[derive(Debug)]
pub struct Channels<S, R> {
    pub votes: (S, R),
    pub certificates: (S, R),
    pub simplex_resolver: (S, R),
    pub backfill: (S, R),
    pub broadcast: (S, R),
    pub state_sync: (S, R),
    pub probe: (S, R),
    pub dkg: (S, R),
    pub checkpoint: (S, R),
}

impl<S, R> Channels<S, R> {
    /// Takes the channels in [`channel::ALL`] order.
    pub fn from_ordered(channels: impl IntoIterator<Item = (S, R)>) -> Self {
        let mut channels = channels.into_iter();
        let mut next = || channels.next().expect("nine channels");
        Self {
            votes: next(),
            certificates: next(),
            simplex_resolver: next(),
            backfill: next(),
            broadcast: next(),
            state_sync: next(),
            probe: next(),
            dkg: next(),
            checkpoint: next(),
        }
    }
}

/// Handles to a running node.
pub struct NodeState<E: Spawner + commonware_storage::Context> {
    pub marshal: MarshalMailbox<Scheme, Standard<Block>>,
    pub stateful: StatefulMailbox<E, App>,
    pub app: crate::AppHandle,
    /// Byzantine behaviour of other validators this node has evidence of.
    pub faults: Faults,
    /// The checkpoint this node's state sync started from, served until it stores its own
    /// epoch's boundary (see [`crate::checkpoint::answer`]).
    pub held_checkpoint: Option<crate::checkpoint::Checkpoint>,
}

impl<E: Spawner + commonware_storage::Context> Clone for NodeState<E> {
    fn clone(&self) -> Self {
        Self {
            marshal: self.marshal.clone(),
            stateful: self.stateful.clone(),
            app: self.app.clone(),
            faults: self.faults.clone(),
            held_checkpoint: self.held_checkpoint.clone(),
        }
    }
}

impl<E: Spawner + commonware_storage::Context> std::fmt::Debug for NodeState<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeState").finish_non_exhaustive()
    }
}

fn archive_config<C>(
    prefix: &str,
    name: &str,
    page_cache: CacheRef,
    codec_config: C,
) -> prunable::Config<FourCap, C> {
    prunable::Config {
        translator: FourCap,
        metadata_partition: format!("{prefix}-{name}-metadata"),
        key_partition: format!("{prefix}-{name}-key"),
        key_page_cache: page_cache,
        value_partition: format!("{prefix}-{name}-value"),
        compression: None,
        codec_config,
        items_per_section: NZU64!(1024),
        key_write_buffer: IO_BUFFER,
        value_write_buffer: IO_BUFFER,
        replay_buffer: IO_BUFFER,
    }
}

/// The authenticated store's configuration under partition prefix `prefix`.
pub fn qmdb_config(
    prefix: &str,
    page_cache: CacheRef,
) -> commonware_storage::qmdb::current::FixedConfig<FourCap, Sequential> {
    use commonware_storage::{
        journal::contiguous::fixed::Config as LogConfig, mmr::full::Config as MmrConfig,
    };
    commonware_storage::qmdb::current::FixedConfig {
        grafted_metadata_partition: format!("{prefix}-qmdb-grafted-metadata"),
        merkle_config: MmrConfig {
            journal_partition: format!("{prefix}-qmdb-mmr-journal"),
            metadata_partition: format!("{prefix}-qmdb-mmr-metadata"),
            items_per_blob: NZU64!(4096),
            write_buffer: IO_BUFFER,
            replay_buffer: IO_BUFFER,
            strategy: Sequential,
            page_cache: page_cache.clone(),
        },
        journal_config: LogConfig {
            partition: format!("{prefix}-qmdb-log-journal"),
            items_per_blob: NZU64!(4096),
            page_cache,
            write_buffer: IO_BUFFER,
            replay_buffer: IO_BUFFER,
        },
        translator: FourCap,
        init_cache: Some(NZUsize!(1024)),
        init_buffer: NZUsize!(1 << 20),
        init_concurrency: (),
    }
}

/// Starts a node. `context` must be the node's root context: simplex runs on it, and every other
/// actor on a child, so aborting the returned handle stops the whole node.
///
/// Leaders rotate round robin, as on every node of the chain.
#[allow(clippy::too_many_arguments)]
pub async fn start_node<E, S, R, P, B, Rep>(
    context: E,
    config: NodeConfig,
    public_key: ed25519::PublicKey,
    channels: Channels<S, R>,
    peer_provider: P,
    blocker: B,
    reporter: impl FnOnce(StatefulMailbox<E, App>) -> Rep,
) -> (Handle<()>, NodeState<E>)
where
    E: Spawner + Clock + Metrics + Storage + commonware_runtime::Network + rand_core::CryptoRng,
    S: Sender<PublicKey = ed25519::PublicKey>,
    R: Receiver<PublicKey = ed25519::PublicKey>,
    P: commonware_p2p::Manager<PublicKey = ed25519::PublicKey>,
    B: Blocker<PublicKey = ed25519::PublicKey> + Clone,
    Rep: Reporter<Activity = marshal::Update<Block>>,
{
    start_node_with_elector(
        context,
        config,
        public_key,
        channels,
        peer_provider,
        blocker,
        reporter,
        RoundRobin::<Sha256>::default(),
    )
    .await
}

/// [`start_node`] with another leader election. Every node of a chain must elect alike, so
/// this is for simulations only: the twins scenarios script the first leaders (simplex's
/// `mocks::twins::Elector`) and then fall back to round robin.
#[allow(clippy::too_many_arguments)]
pub async fn start_node_with_elector<E, S, R, P, B, Rep, L>(
    mut context: E,
    config: NodeConfig,
    public_key: ed25519::PublicKey,
    channels: Channels<S, R>,
    peer_provider: P,
    blocker: B,
    reporter: impl FnOnce(StatefulMailbox<E, App>) -> Rep,
    elector: L,
) -> (Handle<()>, NodeState<E>)
where
    E: Spawner + Clock + Metrics + Storage + commonware_runtime::Network + rand_core::CryptoRng,
    S: Sender<PublicKey = ed25519::PublicKey>,
    R: Receiver<PublicKey = ed25519::PublicKey>,
    P: commonware_p2p::Manager<PublicKey = ed25519::PublicKey>,
    B: Blocker<PublicKey = ed25519::PublicKey> + Clone,
    Rep: Reporter<Activity = marshal::Update<Block>>,
    L: simplex::elector::Config<Scheme>,
{
    let NodeConfig {
        partition_prefix: prefix,
        scheme,
        consensus_key,
        signer,
        blocks_per_epoch,
        followers,
        app,
        provider,
        retained_blocks,
        state_sync,
        tuning:
            Tuning {
                idle_block_interval,
                page_cache_pages,
                channel_burst: _,
                max_peers_per_set,
            },
    } = config;
    let timeouts = Timeouts::CHAIN;
    let page_cache = CacheRef::new(NZU16!(PAGE_BYTES), page_cache_pages);
    if let Some(retained) = retained_blocks {
        // glue restarts an epoch from the block that introduced it, so an epoch's worth of
        // blocks must be kept (`max_pending_acks + 1 + retained >= blocks_per_epoch`).
        assert!(
            blocks_per_epoch == SINGLE_EPOCH
                || (retained as u64).saturating_add(2) >= blocks_per_epoch.get(),
            "retained_blocks ({retained}) must be at least blocks_per_epoch - 2 ({})",
            blocks_per_epoch.get() - 2
        );
    }
    let identity = *scheme.identity();
    let players = consensus_key.players().clone();
    let info0 = crate::epochs::genesis_epoch_info(&consensus_key);
    // Every block carries the seed of the round before its own, checked against the chain key;
    // the genesis block carries epoch 0's info.
    let app =
        app.with_epoch_info(info0.clone())
            .with_seed_verifier(crate::threshold::SeedVerifier::new(
                CONSENSUS_NAMESPACE,
                identity,
            ));
    let seeds = app.seeds();
    let pending_evidence = app.pending_evidence();
    let chain_tag = app.chain_tag();
    let vote_rounds = app.own_rounds();
    let vote_signer = signer.clone();
    #[cfg(feature = "fault-injection")]
    let equivocate_votes = app.equivocates_votes();
    // Certificates of every epoch verify against the one key.
    let certificates = ConstantProvider::<_, Epoch>::new(Scheme::certificate_verifier(
        CONSENSUS_NAMESPACE,
        identity,
    ));
    let peer_provider = crate::epochs::Peers::new(peer_provider, followers)
        .with_candidates(app.handle(), max_peers_per_set);
    let app_handle = app.handle();

    let resolver = marshal_resolver::init(
        context.child("marshal_resolver"),
        marshal_resolver::Config {
            public_key: public_key.clone(),
            peer_provider: peer_provider.clone(),
            blocker: blocker.clone(),
            mailbox_size: MAILBOX,
            fetch_timeout: NZDuration!(Duration::from_secs(2)),
            fetch_retry_delay: Duration::from_millis(100),
            priority_requests: false,
            priority_responses: false,
        },
        channels.backfill,
    );

    let (broadcast_engine, buffer) = buffered::Engine::new(
        context.child("broadcast"),
        buffered::Config {
            public_key: public_key.clone(),
            mailbox_size: MAILBOX,
            deque_size: 10,
            priority: false,
            codec_config: (),
            peer_provider: peer_provider.clone(),
            strategy: Sequential,
        },
    );
    broadcast_engine.start(channels.broadcast);

    let finalizations = prunable::Archive::init(
        context.child("finalizations"),
        archive_config(
            &prefix,
            "finalizations",
            page_cache.clone(),
            // A threshold certificate is one fixed-size signature pair: nothing to bound.
            (),
        ),
    )
    .await
    .unwrap_or_else(|error| {
        panic!("storage: cannot open the finalizations archive ({prefix}-finalizations-*): {error}")
    });
    let blocks = prunable::Archive::init(
        context.child("blocks"),
        archive_config(&prefix, "blocks", page_cache.clone(), ()),
    )
    .await
    .unwrap_or_else(|error| {
        panic!("storage: cannot open the blocks archive ({prefix}-blocks-*): {error}")
    });

    let genesis = app.genesis_block().clone();
    let genesis_digest = genesis.digest();
    let genesis_block = genesis.clone();
    // glue's dkg probe: a node about to state-sync asks a committee it knows in full (epoch 0's
    // validators, or a checkpoint's later committee) for their latest finalization, then
    // fetches the boundary block of the floor's epoch for that epoch's info (its committee and
    // key). Every answer verifies against the chain key, whichever epoch signed it, and answers
    // from before the committee's epoch are ignored.
    let mut plan = SyncPlan::init(context.child("plan"), prefix.clone()).await;
    let mut state_sync = state_sync;
    let (mut checkpoint_sender, mut checkpoint_receiver) = channels.checkpoint;
    let syncing = plan.should_sync(state_sync.requested);
    // The checkpoint an interrupted sync found: a later one than the file's is used instead. A
    // node whose sync completed reads it too, to serve it until it holds its own boundary.
    let kept = if syncing || plan.completed().is_some() {
        crate::checkpoint::read_kept(
            context.child("kept_checkpoint_read"),
            &prefix,
            &identity,
            blocks_per_epoch,
        )
        .await
    } else {
        None
    };
    if let Some(kept) = &kept {
        tracing::info!(
            epoch = kept.info.epoch.get(),
            "state sync: read back the checkpoint an earlier start found"
        );
    }
    if state_sync.checkpoint.is_none() && syncing {
        // No checkpoint file: ask the genesis validators and the bootstrap peers for theirs,
        // so that a node that knows only genesis and one peer finds the current committee even
        // once the genesis validators have left. Every checkpoint is checked against the chain
        // key; a peer can only hold this node back with an old one (threat model P17).
        state_sync.progress.set_phase(SyncPhase::FindingFloor);
        let mut asked: Vec<ed25519::PublicKey> = Vec::new();
        for peer in info0
            .participants()
            .dealers
            .iter()
            .chain(&state_sync.sources)
        {
            if *peer != public_key && !asked.contains(peer) {
                asked.push(peer.clone());
            }
        }
        tracing::info!(
            peers = asked.len(),
            "state sync: asking peers for a checkpoint"
        );
        let mut checkpoint_blocker = blocker.clone();
        match crate::checkpoint::fetch(
            &context,
            &mut checkpoint_sender,
            &mut checkpoint_receiver,
            &asked,
            &identity,
            blocks_per_epoch,
            &mut checkpoint_blocker,
        )
        .await
        {
            Some(fetched) => {
                tracing::info!(
                    epoch = fetched.checkpoint.info.epoch.get(),
                    peer = ?fetched.peer,
                    "state sync: using the latest checkpoint a peer gave"
                );
                state_sync.checkpoint = Some(fetched.checkpoint);
            }
            None => tracing::info!(
                "state sync: no peer gave a checkpoint; the chain is in its first epoch, or \
                 no peer answered"
            ),
        }
    }
    if syncing {
        let chosen = crate::checkpoint::latest(state_sync.checkpoint.take(), kept.clone());
        if let Some(checkpoint) = &chosen
            && kept
                .as_ref()
                .is_none_or(|kept| kept.info.epoch < checkpoint.info.epoch)
            && let Err(error) =
                crate::checkpoint::keep(context.child("kept_checkpoint_write"), &prefix, checkpoint)
                    .await
        {
            tracing::warn!(%error, "state sync: the checkpoint could not be kept for a restart");
        }
        state_sync.checkpoint = chosen;
    }
    if let Some(checkpoint) = &state_sync.checkpoint {
        state_sync
            .progress
            .set_checkpoint(checkpoint.info.epoch.get());
    }
    let bootstrap = state_sync
        .checkpoint
        .as_ref()
        .map_or(&info0, |checkpoint| &checkpoint.info);
    let (probe, probe_mailbox) = dkg_probe::Actor::new(dkg_probe::Config {
        context: context.child("probe"),
        manager: peer_provider.clone(),
        bootstrap: dkg_probe::Bootstrap {
            epoch: bootstrap.epoch,
            participants: bootstrap.participants(),
            directory: Unit,
        },
        // An interrupted sync's floor: discovery returns the info of the later of it and the
        // sampled floor, which is the floor `set_floor` keeps.
        floor: plan.floor().cloned(),
        verifier: Scheme::certificate_verifier(CONSENSUS_NAMESPACE, identity),
        genesis: info0.clone(),
        strategy: Sequential,
        blocker: blocker.clone(),
        blocks_per_epoch,
        retry_timeout: NZDuration!(Duration::from_secs(2)),
        mailbox_size: MAILBOX,
        block_codec_config: (),
    });
    probe.start(channels.probe);
    let progress = state_sync.progress.clone();
    // The epoch info found with a new floor; without one, glue's dkg plan keeps what an
    // interrupted sync persisted.
    let mut synced_info = None;
    if plan.should_sync(state_sync.requested) {
        // The highest finalization among f + 1 validators' answers: at least one is honest, so
        // the floor is no older than an honest validator's view of the chain. A sync that was
        // interrupted asks again: the floor it persisted may be older than anything its peers
        // still keep, and `set_floor` keeps the persisted one unless the answer is newer.
        progress.set_phase(SyncPhase::FindingFloor);
        match &state_sync.checkpoint {
            Some(checkpoint) => tracing::info!(
                epoch = checkpoint.info.epoch.get(),
                members = checkpoint.info.output.players().len(),
                "state sync: asking a checkpoint's committee for a recent finalized block"
            ),
            None => tracing::info!(
                "state sync: asking the genesis validators for a recent finalized block"
            ),
        }
        let subscription = probe_mailbox.subscribe();
        // A full node waits as long as it takes. A validator must not: at genesis nobody has a
        // finalization to answer with, and more than f validators waiting would halt the chain.
        // One whose sync was interrupted waits too: peers named a floor before, and starting
        // from the persisted floor without a fresh answer could leave it without that floor's
        // epoch info.
        let interrupted = plan.floor().is_some();
        // A checkpoint proves the chain is past its first epoch, so there is a floor to wait
        // for; and the probe has claimed the checkpoint epoch's peer set, so a start from
        // genesis could not track the epochs before it (p2p refuses a lower peer-set id).
        let artifact = if scheme.me().is_some() && !interrupted && state_sync.checkpoint.is_none() {
            match select(
                pin!(subscription),
                pin!(context.sleep(VALIDATOR_FLOOR_WAIT)),
            )
            .await
            {
                Either::Left((artifact, _)) => artifact.ok(),
                Either::Right(_) => None,
            }
        } else {
            subscription.await.ok()
        };
        match artifact {
            Some(artifact) => {
                tracing::info!(
                    epoch = artifact.floor.epoch().get(),
                    view = commonware_consensus::Viewable::view(&artifact.floor).get(),
                    "state sync: floor found"
                );
                plan = plan.set_floor(artifact.floor).await;
                synced_info = Some(artifact.info);
            }
            None => tracing::warn!(
                waited_s = VALIDATOR_FLOOR_WAIT.as_secs(),
                "state sync: no validator named a finalized block in time; starting from genesis"
            ),
        }
    }
    let sync_floor = plan.floor().cloned();
    if sync_floor.is_some() {
        progress.set_phase(SyncPhase::SyncingRecords);
    }
    // Persisted at once beside the floor: a node that stopped between the two would restart
    // with a floor in a later epoch and no info for it.
    let dkg_state_sync = DkgStateSyncPlan::init(
        context.child("dkg_state_sync"),
        DkgStateSyncConfig {
            partition_prefix: prefix.clone(),
            max_participants: crate::threshold::max_validators(),
            max_supported_mode: ModeVersion::v0(),
        },
        // The floor `set_floor` kept is the later of the persisted and the sampled one, and the
        // probe's info is for its epoch (glue's plan refuses a mismatch).
        synced_info.map(|info| DkgStateSync {
            info,
            floor: sync_floor
                .clone()
                .expect("a found floor is the plan's floor"),
        }),
    )
    .await;

    let (marshal_actor, marshal_mailbox, floor) =
        MarshalActor::<_, Standard<Block>, _, _, _, _, _>::init(
            context.child("marshal"),
            finalizations,
            blocks,
            marshal::Config {
                provider: certificates,
                epocher: FixedEpocher::new(blocks_per_epoch),
                start: plan.marshal_start(Digested::precomputed(genesis, genesis_digest)),
                partition_prefix: prefix.clone(),
                mailbox_size: MAILBOX,
                view_retention: ViewDelta::new(10),
                prunable_items_per_section: NZU64!(1024),
                page_cache: page_cache.clone(),
                replay_buffer: IO_BUFFER,
                key_write_buffer: IO_BUFFER,
                value_write_buffer: IO_BUFFER,
                block_codec_config: (),
                max_repair: NZUsize!(10),
                max_pending_acks: NZUsize!(1),
                strategy: Sequential,
            },
        )
        .await;

    let (qmdb_actor, qmdb_resolvers) =
        qmdb_resolver::Actor::<_, ed25519::PublicKey, _, _, mmr::Family, Qmdb<_>>::new(
            context.child("qmdb_resolver"),
            qmdb_resolver::Config {
                peer_provider: peer_provider.clone(),
                blocker: blocker.clone(),
                database: None,
                mailbox_size: MAILBOX,
                me: Some(public_key.clone()),
                fetch_timeout: NZDuration!(Duration::from_secs(2)),
                fetch_retry_delay: Duration::from_millis(100),
                max_serve_ops: SYNC_BATCH_OPS,
                priority_requests: false,
                priority_responses: false,
            },
        );
    qmdb_actor.start(channels.state_sync);
    // Every node answers other nodes' checkpoint requests from its own finalized chain.
    // What it serves until it holds its own epoch's boundary: the checkpoint it synced from,
    // also after a restart (then read back from its storage).
    let held_checkpoint = if syncing {
        state_sync.checkpoint.clone()
    } else {
        crate::checkpoint::latest(state_sync.checkpoint.clone(), kept)
    };
    context.child("checkpoint").spawn({
        let marshal = marshal_mailbox.clone();
        let app = app.handle();
        let held = held_checkpoint.clone();
        move |_| {
            crate::checkpoint::answer(
                checkpoint_sender,
                checkpoint_receiver,
                marshal,
                app,
                blocks_per_epoch,
                held,
            )
        }
    });

    let handle = app.handle();
    // The store reads the ledger back out as glue opens it or fills it from peers.
    let db_config = crate::recovery::LedgerStoreConfig {
        store: qmdb_config(&prefix, page_cache.clone()),
        app: app.clone(),
        progress: progress.clone(),
    };
    let (stateful, stateful_mailbox) = Stateful::new(
        context.child("stateful"),
        StatefulConfig {
            application: app,
            db_config,
            provider: provider.clone(),
            marshal: (marshal_mailbox.clone(), floor),
            mailbox_size: MAILBOX,
            plan,
            resolvers: crate::recovery::Serving::new(qmdb_resolvers, progress),
            sync_config: SyncEngineConfig {
                fetch_batch_size: SYNC_BATCH_OPS,
                apply_batch_size: SYNC_APPLY_OPS,
                max_outstanding_requests: SYNC_OUTSTANDING_REQUESTS,
            },
            prune_config: retained_blocks.map(|retained| PruneConfig {
                maintenance_interval: NZUsize!(10),
                retained_marshal_blocks: retained,
                retained_qmdb_blocks: 0,
            }),
            strategy: Sequential,
        },
    );

    // Epoch 0's scheme, and this node's genesis share in its secret store at its first start
    // only: a restarted node keeps what resharing gave it.
    let schemes = crate::dkg::EpochSchemes::default();
    let mut secrets = crate::dkg::DiskSecretStore::init(context.child("dkg_secrets"), &prefix)
        .await
        .unwrap_or_else(|error| {
            panic!("storage: cannot open the key store ({prefix}-dkg-secrets): {error}")
        })
        .with_seed_secret(
            types::hash(
                b"EQUA_DKG_SEED_SECRET_V1",
                &[&commonware_codec::Encode::encode(&signer)],
            )
            .0,
        );
    if let Some(share) = scheme.share() {
        secrets
            .seed_epoch_zero(share.clone())
            .await
            .unwrap_or_else(|error| panic!("storage: cannot write the key store: {error}"));
    }
    let share = commonware_glue::dkg::SecretStore::get_share(&mut secrets, Epoch::zero()).await;
    schemes.register(
        Epoch::zero(),
        crate::dkg::scheme_for(
            &public_key,
            commonware_glue::dkg::types::SchemeInfo::new(
                &public_key,
                consensus_key.players().clone(),
                consensus_key.public().clone(),
                share,
            ),
        )
        .map(|(scheme, downgrade)| {
            if let Some(downgrade) = downgrade {
                tracing::error!(%downgrade, "this node cannot sign in epoch 0 with the share it holds");
            }
            scheme
        })
        .unwrap_or_else(|mismatch| {
            panic!("the genesis key does not fit its committee: {mismatch}")
        }),
    );
    let (fence, gate) = Fence::new();
    let (reshare_actor, reshare_mailbox) = reshare::Actor::new(
        context.child("reshare"),
        reshare::Config {
            signer,
            manager: peer_provider.clone(),
            blocker: blocker.clone(),
            participants_provider: crate::epochs::StakingParticipants::new(
                context.child("participants"),
                app_handle,
                players,
                blocks_per_epoch.get(),
            ),
            secret_store: secrets,
            strategy: Sequential,
            registrar: crate::dkg::EquaRegistrar::new(public_key.clone(), schemes.clone()),
            marshal: marshal_mailbox.clone(),
            state_sync: dkg_state_sync.clone(),
            fence,
            namespace: DKG_NAMESPACE,
            sharing_mode: Mode::NonZeroCounter,
            reveal: Reveal::V1,
            mailbox_size: MAILBOX,
            partition_prefix: format!("{prefix}-reshare"),
            page_cache: page_cache.clone(),
            write_buffer: IO_BUFFER,
            replay_buffer: IO_BUFFER,
            max_participants: crate::threshold::max_validators(),
            blocks_per_epoch,
        },
    );
    let reshare_handle = reshare_actor.start(channels.dkg);

    let deferred = Deferred::new(
        context.child("deferred"),
        reshare::Application::new(
            stateful_mailbox.clone(),
            reshare_mailbox.clone(),
            blocks_per_epoch,
        ),
        marshal_mailbox.clone(),
        FixedEpocher::new(blocks_per_epoch),
    );
    let paced = Paced {
        context: Arc::new(context.child("pacer")),
        inner: deferred.clone(),
        pacer: Pacer {
            marshal: marshal_mailbox.clone(),
            provider,
            genesis: Digested::precomputed(genesis_block, genesis_digest),
            idle_block_interval,
        },
    };
    let faults = Faults::default();
    let consensus = Consensus {
        paced,
        reporter: FaultReporter {
            inner: deferred,
            schemes: schemes.clone(),
            rng: <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::from_rng(&mut context),
            faults: faults.clone(),
            seeds,
            counter: context.counter(
                "consensus_faults",
                "Evidence of byzantine validators: conflicting votes, or nullify and finalize in one view",
            ),
        },
    };
    let (orchestrator_actor, orchestrator_mailbox) = orchestrator::Actor::new(
        context.child("orchestrator"),
        orchestrator::Config {
            oracle: blocker.clone(),
            manager: peer_provider,
            provider: schemes,
            marshal: marshal_mailbox.clone(),
            application: consensus,
            strategy: Sequential,
            simplex: orchestrator::SimplexConfig {
                elector,
                mailbox_size: MAILBOX,
                replay_buffer: IO_BUFFER,
                write_buffer: IO_BUFFER,
                page_cache,
                leader_timeout: timeouts.leader,
                certification_timeout: timeouts.certification,
                timeout_retry: Duration::from_millis(500),
                fetch_timeout: NZDuration!(Duration::from_secs(2)),
                fetch_retry_delay: Duration::from_secs(2),
                view_retention: ViewDelta::new(10),
                skip: SkipPolicy::Enabled {
                    timeout: timeouts.skip,
                    budget: simplex::SkipBudget::Participants,
                },
                forward: ForwardPolicy::Disabled,
                track_historical_votes: false,
            },
            gate,
            state_sync: dkg_state_sync,
            blocks_per_epoch,
            mailbox_size: MAILBOX,
            partition_prefix: format!("{prefix}-orchestrator"),
        },
    );
    // Votes leave signed with the node key and arrive checked against their sender, so that
    // contradictory ones are evidence against it (`crate::evidence`).
    // glue takes the three consensus channels as one type: the other two pass through.
    use crate::evidence::{SignedReceiver, SignedSender};
    let (vote_sender, vote_receiver) = channels.votes;
    let plain = |(sender, receiver)| (SignedSender::plain(sender), SignedReceiver::plain(receiver));
    let own_rounds = vote_rounds;
    let vote_sender = SignedSender::new(vote_sender, vote_signer, chain_tag, own_rounds.clone());
    #[cfg(feature = "fault-injection")]
    let vote_sender = if equivocate_votes {
        vote_sender.equivocating()
    } else {
        vote_sender
    };
    let orchestrator_handle = orchestrator_actor.start(
        (
            vote_sender,
            SignedReceiver::new(
                vote_receiver,
                chain_tag,
                own_rounds,
                pending_evidence,
                blocker.clone(),
            ),
        ),
        plain(channels.certificates),
        plain(channels.simplex_resolver),
    );
    marshal_actor.start(
        Reporters::from((
            reporter(stateful_mailbox.clone()),
            Reporters::from((orchestrator_mailbox, reshare_mailbox)),
        )),
        buffer,
        resolver,
    );
    // From now on the probe answers peers with this node's latest finalization.
    probe_mailbox.attach(marshal_mailbox.clone());
    stateful.start();

    // The node runs until consensus or resharing stops; aborting the handle stops both, and
    // every actor runs on a child of `context`.
    let node = context.spawn(move |_| async move {
        match Handle::select([orchestrator_handle, reshare_handle]).await {
            Ok(()) => tracing::error!("consensus stopped: the orchestrator or the resharing ended"),
            Err(error) => tracing::error!(?error, "consensus stopped"),
        }
    });
    (
        node,
        NodeState {
            marshal: marshal_mailbox,
            stateful: stateful_mailbox,
            app: handle,
            faults,
            held_checkpoint,
        },
    )
}

/// Evidence of byzantine validators that consensus reported to this node: for each validator,
/// how many pairs of its votes contradict each other (two notarizes or two finalizes of
/// different proposals in one view, or a nullify and a finalize in one view). Simplex has already
/// blocked the peer that sent the second vote; this is what an operator sees of it. (The
/// threshold votes prove nothing to others; the node-key signatures the vote channel adds do,
/// and they reach the ledger through [`crate::evidence`].)
#[derive(Clone, Debug, Default)]
pub struct Faults(Arc<Mutex<BTreeMap<ed25519::PublicKey, u64>>>);

impl Faults {
    /// How many faults of `validator` this node has seen.
    pub fn of(&self, validator: &ed25519::PublicKey) -> u64 {
        self.0
            .lock()
            .expect("lock")
            .get(validator)
            .copied()
            .unwrap_or(0)
    }

    /// Every validator this node has seen a fault of, with how many.
    pub fn all(&self) -> BTreeMap<ed25519::PublicKey, u64> {
        self.0.lock().expect("lock").clone()
    }

    fn record(&self, validator: ed25519::PublicKey) {
        let mut faults = self.0.lock().expect("lock");
        let count = faults.entry(validator).or_default();
        *count = count.saturating_add(1);
    }
}

/// Simplex's reporter: everything goes to `inner` (marshal's [`Deferred`]); evidence of a fault
/// is verified, then logged, counted in the `consensus_faults` metric and recorded in [`Faults`];
/// the seed of every certificate is recorded in [`Seeds`](crate::seeds::Seeds) for proposals.
#[derive(Clone)]
struct FaultReporter<R, G> {
    inner: R,
    /// Each epoch's scheme: who the signer of a vote is depends on the epoch's committee.
    schemes: crate::dkg::EpochSchemes,
    /// Randomness for verifying the evidence's signatures as a batch.
    rng: G,
    faults: Faults,
    seeds: crate::seeds::Seeds,
    counter: Counter,
}

impl<R, G> Reporter for FaultReporter<R, G>
where
    R: Reporter<Activity = Activity<Scheme, Digest>>,
    G: rand_core::CryptoRng + Clone + Send + 'static,
{
    type Activity = Activity<Scheme, Digest>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        // Simplex reports only certificates it formed or verified; a seed that still failed
        // to decode would only be missing from this node's own proposal.
        let seeded = match &activity {
            Activity::Notarization(certificate) | Activity::Certification(certificate) => {
                Some((certificate.proposal.round, &certificate.certificate))
            }
            Activity::Nullification(certificate) => {
                Some((certificate.round, &certificate.certificate))
            }
            Activity::Finalization(certificate) => {
                Some((certificate.proposal.round, &certificate.certificate))
            }
            _ => None,
        };
        if let Some((round, certificate)) = seeded
            && let Some(signature) = certificate.get()
        {
            self.seeds.record(round, signature.seed_signature);
        }
        let fault = match &activity {
            Activity::ConflictingNotarize(evidence) => {
                Some(("conflicting notarize", evidence.signer()))
            }
            Activity::ConflictingFinalize(evidence) => {
                Some(("conflicting finalize", evidence.signer()))
            }
            Activity::NullifyFinalize(evidence) => {
                Some(("nullify and finalize", evidence.signer()))
            }
            _ => None,
        };
        if let Some((kind, signer)) = fault
            && let Some(scheme) = self.schemes.scheme(activity.epoch())
            && let Some(validator) = scheme.participants().key(signer).cloned()
        {
            // Simplex reports evidence before checking its signatures (it has blocked the
            // sender either way): only evidence that verifies implicates the validator.
            if activity.verify(&mut self.rng, &*scheme, &Sequential) {
                tracing::warn!(%validator, kind, "byzantine validator: contradictory votes");
                self.counter.inc();
                self.faults.record(validator);
            } else {
                tracing::debug!(%validator, kind, "fault evidence with invalid signatures");
            }
        }
        self.inner.report(activity)
    }
}

/// What each epoch's simplex engine is given as its automaton, relay and reporter (glue's
/// orchestrator takes one value for all three): the paced automaton, marshal's [`Deferred`] as
/// the relay, and the [`FaultReporter`].
struct Consensus<E, A, G> {
    paced: Paced<E, A>,
    reporter: FaultReporter<A, G>,
}

impl<E, A: Clone, G: Clone> Clone for Consensus<E, A, G> {
    fn clone(&self) -> Self {
        Self {
            paced: self.paced.clone(),
            reporter: self.reporter.clone(),
        }
    }
}

impl<E, A, G> Automaton for Consensus<E, A, G>
where
    E: Spawner + Clock,
    A: CertifiableAutomaton<Context = ConsensusContext, Digest = Digest>,
    G: Clone + Send + 'static,
{
    type Context = ConsensusContext;
    type Digest = Digest;

    async fn propose(&mut self, context: ConsensusContext) -> oneshot::Receiver<Digest> {
        self.paced.propose(context).await
    }

    async fn verify(
        &mut self,
        context: ConsensusContext,
        payload: Digest,
    ) -> oneshot::Receiver<bool> {
        self.paced.verify(context, payload).await
    }
}

impl<E, A, G> CertifiableAutomaton for Consensus<E, A, G>
where
    E: Spawner + Clock,
    A: CertifiableAutomaton<Context = ConsensusContext, Digest = Digest>,
    G: Clone + Send + 'static,
{
    async fn prepare(&mut self, context: ConsensusContext) -> oneshot::Receiver<Handoff<Digest>> {
        self.paced.prepare(context).await
    }

    async fn certify(&mut self, round: Round, payload: Digest) -> oneshot::Receiver<bool> {
        self.paced.certify(round, payload).await
    }
}

impl<E, A, G> Relay for Consensus<E, A, G>
where
    E: Send + Sync + 'static,
    A: Relay<
            Digest = Digest,
            PublicKey = ed25519::PublicKey,
            Plan = simplex::Plan<ed25519::PublicKey>,
        >,
    G: Clone + Send + 'static,
{
    type Digest = Digest;
    type PublicKey = ed25519::PublicKey;
    type Plan = simplex::Plan<ed25519::PublicKey>;

    fn broadcast(&mut self, payload: Digest, plan: Self::Plan) -> Feedback {
        self.paced.inner.broadcast(payload, plan)
    }
}

impl<E, A, G> Reporter for Consensus<E, A, G>
where
    E: Send + Sync + 'static,
    A: Reporter<Activity = Activity<Scheme, Digest>>,
    G: rand_core::CryptoRng + Clone + Send + 'static,
{
    type Activity = Activity<Scheme, Digest>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        self.reporter.report(activity)
    }
}

/// Simplex's automaton: marshal's [`Deferred`] behind a leader that holds back an empty block
/// (see [`Pacer`]). Verification and certification pass straight through.
struct Paced<E, A> {
    context: Arc<E>,
    inner: A,
    pacer: Pacer,
}

impl<E, A: Clone> Clone for Paced<E, A> {
    fn clone(&self) -> Self {
        Self {
            context: self.context.clone(),
            inner: self.inner.clone(),
            pacer: self.pacer.clone(),
        }
    }
}

impl<E, A> Automaton for Paced<E, A>
where
    E: Spawner + Clock,
    A: CertifiableAutomaton<Context = ConsensusContext, Digest = Digest>,
{
    type Context = ConsensusContext;
    type Digest = Digest;

    async fn propose(&mut self, context: ConsensusContext) -> oneshot::Receiver<Digest> {
        let (mut response, receiver) = oneshot::channel();
        let mut inner = self.inner.clone();
        let pacer = self.pacer.clone();
        self.context
            .child("propose")
            .spawn(move |runtime| async move {
                // Consensus drops the receiver when it gives up on the view: stop waiting then.
                let held = {
                    let hold = pin!(pacer.hold(&runtime, context.parent.1));
                    let abandoned = pin!(response.closed());
                    matches!(select(hold, abandoned).await, Either::Left(_))
                };
                if !held {
                    return;
                }
                let proposal = inner.propose(context).await;
                let digest = {
                    let abandoned = pin!(response.closed());
                    match select(proposal, abandoned).await {
                        Either::Left((Ok(digest), _)) => Some(digest),
                        _ => None,
                    }
                };
                if let Some(digest) = digest {
                    let _ = response.send(digest);
                }
            });
        receiver
    }

    async fn verify(
        &mut self,
        context: ConsensusContext,
        payload: Digest,
    ) -> oneshot::Receiver<bool> {
        self.inner.verify(context, payload).await
    }
}

impl<E, A> CertifiableAutomaton for Paced<E, A>
where
    E: Spawner + Clock,
    A: CertifiableAutomaton<Context = ConsensusContext, Digest = Digest>,
{
    /// The application declines to build before the parent certifies (glue's default), so a
    /// term start is proposed through [`Automaton::propose`], which is where the leader waits.
    async fn prepare(&mut self, context: ConsensusContext) -> oneshot::Receiver<Handoff<Digest>> {
        self.inner.prepare(context).await
    }

    async fn certify(&mut self, round: Round, payload: Digest) -> oneshot::Receiver<bool> {
        self.inner.certify(round, payload).await
    }
}

/// Decides when a leader proposes: at once when its pool has a transaction for the next block,
/// otherwise when one arrives or the idle interval since the parent has passed.
#[derive(Clone)]
struct Pacer {
    marshal: MarshalMailbox<Scheme, Standard<Block>>,
    provider: Provider,
    genesis: Digested<Block>,
    idle_block_interval: Duration,
}

impl Pacer {
    /// Returns when the leader asked to build on `parent` should propose.
    async fn hold(&self, runtime: &impl Clock, parent: Digest) {
        let asked_ms = unix_ms(runtime);
        let Some(parent) = self.parent(runtime, parent).await else {
            // Without the parent there is nothing to pace against; the application still keeps
            // the minimum interval.
            return;
        };
        let (parent_height, parent_timestamp_ms, parent_txs) = (
            parent.inner().height.get(),
            parent.inner().timestamp_ms,
            &parent.inner().txs,
        );
        let idle_ms = u64::try_from(self.idle_block_interval.as_millis()).unwrap_or(u64::MAX);
        let deadline_ms = idle_deadline_ms(parent_timestamp_ms, asked_ms, idle_ms);
        loop {
            // Asked for before looking, so that nothing arriving in between is missed.
            let arrival = self.provider.arrival();
            if self.provider.has_pending(parent_height, parent_txs)
                || unix_ms(runtime) >= deadline_ms
            {
                return;
            }
            let deadline = runtime.sleep_until(UNIX_EPOCH + Duration::from_millis(deadline_ms));
            if let Either::Right(_) = select(arrival, pin!(deadline)).await {
                return;
            }
        }
    }

    /// The block `digest`. A parent is certified before a leader builds on it, so this node has
    /// it; should it not within the idle interval, the leader proposes without pacing.
    async fn parent(&self, runtime: &impl Clock, digest: Digest) -> Option<Digested<Block>> {
        if digest == self.genesis.digest() {
            return Some(self.genesis.clone());
        }
        let block = self
            .marshal
            .subscribe_by_digest(digest, DigestFallback::Wait);
        match select(block, pin!(runtime.sleep(self.idle_block_interval))).await {
            Either::Left((Ok(block), _)) => Some(block),
            _ => None,
        }
    }
}

/// When a leader asked to propose at `asked_ms` proposes an empty block: `idle_ms` after its
/// parent's timestamp, but never more than `idle_ms` after it was asked, so that a parent
/// timestamp ahead of this node's clock cannot hold the leader past simplex's leader timeout.
fn idle_deadline_ms(parent_timestamp_ms: u64, asked_ms: u64, idle_ms: u64) -> u64 {
    parent_timestamp_ms
        .saturating_add(idle_ms)
        .min(asked_ms.saturating_add(idle_ms))
}

fn unix_ms(clock: &impl Clock) -> u64 {
    clock
        .current()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_block_waits_the_idle_interval_from_its_parent() {
        // Asked 200 ms after the parent: 800 ms to go.
        assert_eq!(idle_deadline_ms(10_000, 10_200, 1_000), 11_000);
        // Asked after the interval has passed: at once.
        assert_eq!(idle_deadline_ms(10_000, 12_500, 1_000), 11_000);
    }

    #[test]
    fn a_parent_from_the_future_holds_a_leader_no_longer_than_the_interval() {
        // The parent's proposer's clock is 30 s ahead of this node's.
        assert_eq!(idle_deadline_ms(40_000, 10_000, 1_000), 11_000);
        assert_eq!(idle_deadline_ms(u64::MAX, 10_000, 1_000), 11_000);
        assert_eq!(idle_deadline_ms(10_000, u64::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn timeouts_leave_a_margin_above_the_longest_idle_interval() {
        assert_eq!(
            Timeouts::CHAIN,
            Timeouts {
                leader: Duration::from_secs(2),
                certification: Duration::from_secs(3),
                skip: Duration::from_secs(6),
            }
        );
        // Simplex requires leader < certification < skip.
        let timeouts = Timeouts::CHAIN;
        assert!(MAX_IDLE_BLOCK_INTERVAL + PROPOSAL_MARGIN <= timeouts.leader);
        assert!(DEFAULT_IDLE_BLOCK_INTERVAL <= MAX_IDLE_BLOCK_INTERVAL);
        assert!(timeouts.leader < timeouts.certification);
        assert!(timeouts.certification < timeouts.skip);
    }
}
