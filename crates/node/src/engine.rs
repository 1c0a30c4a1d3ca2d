//! Wiring one node: p2p channels, marshal, broadcast, the glue stateful actor around [`App`], and
//! simplex. Generic over the runtime and the network, so simulations (deterministic runtime,
//! simulated p2p) and real processes (tokio, authenticated discovery) share it.

use crate::{App, Provider, Qmdb, Scheme, block::Block};
use commonware_broadcast::buffered;
use commonware_consensus::{
    Reporter,
    marshal::{
        self,
        core::{Actor as MarshalActor, Mailbox as MarshalMailbox},
        resolver::p2p as marshal_resolver,
        standard::{Deferred, Standard},
    },
    simplex::{
        self,
        config::{ForwardPolicy, SkipPolicy},
        elector::RoundRobin,
    },
    types::{Epoch, FixedEpocher, ViewDelta},
};
use commonware_cryptography::{
    Digested, Digestible, Sha256, certificate::ConstantProvider, certificate::Verifier as _,
    ed25519,
};
use commonware_glue::stateful::{
    Config as StatefulConfig, Mailbox as StatefulMailbox, PruneConfig, Stateful, SyncPlan,
    db::{SyncEngineConfig, p2p as qmdb_resolver},
};
use commonware_p2p::{Blocker, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::{Clock, Handle, Metrics, Spawner, Storage, buffer::paged::CacheRef};
use commonware_storage::{archive::prunable, mmr, translator::TwoCap};
use commonware_utils::{NZDuration, NZU16, NZU64, NZUsize};
use std::{num::NonZeroUsize, time::Duration};

/// The simplex signing namespace. Changing it is a breaking change of the chain.
pub const CONSENSUS_NAMESPACE: &[u8] = b"EQUA_CONSENSUS_V1";

/// Channel ids, registered in this order on every node.
pub mod channel {
    pub const VOTES: u64 = 0;
    pub const CERTIFICATES: u64 = 1;
    pub const SIMPLEX_RESOLVER: u64 = 2;
    pub const BACKFILL: u64 = 3;
    pub const BROADCAST: u64 = 4;
    pub const STATE_SYNC: u64 = 5;
    pub const ALL: [u64; 6] = [
        VOTES,
        CERTIFICATES,
        SIMPLEX_RESOLVER,
        BACKFILL,
        BROADCAST,
        STATE_SYNC,
    ];
}

/// Operations served per state-sync request.
const SYNC_BATCH_OPS: std::num::NonZeroU64 = NZU64!(64);
/// Below this, the runtime raises buffer sizes anyway.
const IO_BUFFER: NonZeroUsize = NZUsize!(8192);
const MAILBOX: NonZeroUsize = NZUsize!(1024);

/// The largest message any channel carries, for the p2p layer's bound.
pub fn max_message_size(validators: u32) -> u32 {
    commonware_p2p::max_message_size(&[
        simplex::max_payload_size::<Scheme, types::Digest>(validators),
        marshal::max_payload_size::<Standard<Block>, Scheme>(validators, &()),
        qmdb_resolver::max_payload_size::<mmr::Family, types::Digest>(
            SYNC_BATCH_OPS,
            <commonware_storage::qmdb::any::unordered::fixed::Operation<
                mmr::Family,
                types::Digest,
                types::Digest,
            > as commonware_codec::FixedSize>::SIZE,
        ),
    ])
}

/// Everything one node needs besides its network.
pub struct NodeConfig {
    /// Prefix of every storage partition of this node.
    pub partition_prefix: String,
    /// This validator's consensus scheme (`Scheme::signer`), or a verifier for a follower.
    pub scheme: Scheme,
    pub app: App,
    pub provider: Provider,
    /// Finalized blocks kept for peers' backfill and for rebuilding the in-memory ledger state
    /// after a restart, which re-executes from the latest ledger snapshot (see the crate docs):
    /// keep it above the distance to that snapshot and to any peer's. `None` never prunes.
    pub retained_blocks: Option<usize>,
    pub leader_timeout: Duration,
    pub page_cache_pages: NonZeroUsize,
}

impl std::fmt::Debug for NodeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeConfig")
            .field("partition_prefix", &self.partition_prefix)
            .field("retained_blocks", &self.retained_blocks)
            .finish_non_exhaustive()
    }
}

/// The six channels a node uses, in [`channel::ALL`] order.
#[derive(Debug)]
pub struct Channels<S, R> {
    pub votes: (S, R),
    pub certificates: (S, R),
    pub simplex_resolver: (S, R),
    pub backfill: (S, R),
    pub broadcast: (S, R),
    pub state_sync: (S, R),
}

impl<S, R> Channels<S, R> {
    /// Takes the channels in [`channel::ALL`] order.
    pub fn from_ordered(channels: impl IntoIterator<Item = (S, R)>) -> Self {
        let mut channels = channels.into_iter();
        let mut next = || channels.next().expect("six channels");
        Self {
            votes: next(),
            certificates: next(),
            simplex_resolver: next(),
            backfill: next(),
            broadcast: next(),
            state_sync: next(),
        }
    }
}

/// Handles to a running node.
pub struct NodeState<E: Spawner + commonware_storage::Context> {
    pub marshal: MarshalMailbox<Scheme, Standard<Block>>,
    pub stateful: StatefulMailbox<E, App>,
    pub app: crate::AppHandle,
}

impl<E: Spawner + commonware_storage::Context> Clone for NodeState<E> {
    fn clone(&self) -> Self {
        Self {
            marshal: self.marshal.clone(),
            stateful: self.stateful.clone(),
            app: self.app.clone(),
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
) -> prunable::Config<TwoCap, C> {
    prunable::Config {
        translator: TwoCap,
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

fn qmdb_config(
    prefix: &str,
    page_cache: CacheRef,
) -> commonware_storage::qmdb::current::FixedConfig<TwoCap, Sequential> {
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
        translator: TwoCap,
        init_cache: Some(NZUsize!(1024)),
        init_buffer: NZUsize!(1 << 20),
        init_concurrency: (),
    }
}

/// Starts a node. `context` must be the node's root context: simplex runs on it, and every other
/// actor on a child, so aborting the returned handle stops the whole node.
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
    E: Spawner + Clock + Metrics + Storage + rand_core::CryptoRng,
    S: Sender<PublicKey = ed25519::PublicKey>,
    R: Receiver<PublicKey = ed25519::PublicKey>,
    P: commonware_p2p::Provider<PublicKey = ed25519::PublicKey>,
    B: Blocker<PublicKey = ed25519::PublicKey> + Clone,
    Rep: Reporter<Activity = marshal::Update<Block>>,
{
    let NodeConfig {
        partition_prefix: prefix,
        scheme,
        app,
        provider,
        retained_blocks,
        leader_timeout,
        page_cache_pages,
    } = config;
    let page_cache = CacheRef::new(NZU16!(4096), page_cache_pages);

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
            Scheme::certificate_codec_config_unbounded(),
        ),
    )
    .await
    .expect("open the finalizations archive");
    let blocks = prunable::Archive::init(
        context.child("blocks"),
        archive_config(&prefix, "blocks", page_cache.clone(), ()),
    )
    .await
    .expect("open the blocks archive");

    let genesis = app.genesis_block().clone();
    let genesis_digest = genesis.digest();
    let plan = SyncPlan::init(context.child("plan"), prefix.clone()).await;

    let provider_scheme = ConstantProvider::new(scheme.clone());
    let (marshal_actor, marshal_mailbox, floor) =
        MarshalActor::<_, Standard<Block>, _, _, _, _, _>::init(
            context.child("marshal"),
            finalizations,
            blocks,
            marshal::Config {
                provider: provider_scheme,
                epocher: FixedEpocher::new(NZU64!(u64::MAX)),
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

    let handle = app.handle();
    let (stateful, stateful_mailbox) = Stateful::new(
        context.child("stateful"),
        StatefulConfig {
            application: app,
            db_config: qmdb_config(&prefix, page_cache.clone()),
            provider,
            marshal: (marshal_mailbox.clone(), floor),
            mailbox_size: MAILBOX,
            plan,
            resolvers: qmdb_resolvers,
            sync_config: SyncEngineConfig {
                fetch_batch_size: SYNC_BATCH_OPS,
                apply_batch_size: NZU64!(64),
                max_outstanding_requests: NZUsize!(8),
            },
            prune_config: retained_blocks.map(|retained| PruneConfig {
                maintenance_interval: NZUsize!(10),
                retained_marshal_blocks: retained,
                retained_qmdb_blocks: 0,
            }),
            strategy: Sequential,
        },
    );

    let deferred = Deferred::new(
        context.child("deferred"),
        stateful_mailbox.clone(),
        marshal_mailbox.clone(),
        FixedEpocher::new(NZU64!(u64::MAX)),
    );
    marshal_actor.start(reporter(stateful_mailbox.clone()), buffer, resolver);
    stateful.start();

    let engine = simplex::Engine::new(
        context,
        simplex::Config {
            scheme,
            elector: RoundRobin::<Sha256>::default(),
            blocker,
            automaton: deferred.clone(),
            relay: deferred.clone(),
            reporter: deferred,
            strategy: Sequential,
            partition: format!("{prefix}-simplex"),
            mailbox_size: MAILBOX,
            epoch: Epoch::zero(),
            floor: simplex::config::Floor::Genesis(genesis_digest),
            replay_buffer: IO_BUFFER,
            write_buffer: IO_BUFFER,
            page_cache,
            leader_timeout,
            certification_timeout: leader_timeout.saturating_mul(2),
            timeout_retry: Duration::from_millis(500),
            view_retention: ViewDelta::new(10),
            skip: SkipPolicy::Enabled {
                timeout: Duration::from_secs(5),
                budget: simplex::SkipBudget::Participants,
            },
            fetch_timeout: NZDuration!(Duration::from_secs(2)),
            fetch_retry_delay: Duration::from_secs(2),
            forward: ForwardPolicy::Disabled,
            track_historical_votes: false,
        },
    );
    let simplex = engine.start(
        channels.votes,
        channels.certificates,
        channels.simplex_resolver,
    );
    (
        simplex,
        NodeState {
            marshal: marshal_mailbox,
            stateful: stateful_mailbox,
            app: handle,
        },
    )
}
