//! Restart from the authenticated store: the ledger is read back from the store glue recovers,
//! so a restarted node re-executes no block it had committed.
//!
//! glue opens the store through [`LedgerStore`], the node's database set: at a start it reads
//! every record out of the store glue recovered ([`read_ledger`]) and gives the state to the
//! application ([`App::restored`]) before any block runs; after a state sync it does the same
//! with the store filled from peers.

use crate::{App, Qmdb, state};
use commonware_glue::stateful::db::{
    Anchor, AttachableResolver, AttachableResolverSet, Barrier, DatabaseSet, Shared, StateSyncSet,
    SyncEngineConfig, TipUpdate,
};
use commonware_storage::{
    Context,
    merkle::Location,
    mmr,
    qmdb::{
        any::{operation::Operation, unordered::Update},
        sync::{Request, Source, source},
    },
};
use commonware_utils::{NZU64, bitmap::Readable as _, channel::ring};
use ledger::MemoryStore;
use std::{
    num::NonZeroU64,
    sync::{
        Arc,
        atomic::{AtomicU8, AtomicU64, Ordering},
    },
};

/// Store operations read per step when reading the ledger back.
const READ_BATCH: NonZeroU64 = NZU64!(4096);

/// Every record in `db`'s current state, as a ledger state.
///
/// Walks the store's log from the first location whose activity is still known, keeping the
/// updates that are still active (a later write or delete of the same key clears an update's
/// bit). The records are then reassembled from their chunks ([`state::restore`]).
pub async fn read_ledger<E: Context>(db: &Qmdb<E>) -> Result<(MemoryStore, usize), String> {
    read_ledger_into(db, MemoryStore::new()).await
}

/// [`read_ledger`] into `store`, an empty state (in memory or on disk).
pub async fn read_ledger_into<E: Context>(
    db: &Qmdb<E>,
    store: MemoryStore,
) -> Result<(MemoryStore, usize), String> {
    let bounds = db.bounds();
    let bitmap = db.bitmap();
    let mut at = bounds.start.as_u64().max(bitmap.pruned_bits());
    let end = bounds.end.as_u64();
    let mut restorer = state::Restorer::new(store);
    let mut chunks = 0usize;
    while at < end {
        let (_, operations, _) = db
            .range_proof(Location::<mmr::Family>::new(at), READ_BATCH)
            .await
            .map_err(|error| format!("cannot read the store at operation {at}: {error}"))?;
        if operations.is_empty() {
            return Err(format!("the store returned no operation at {at}"));
        }
        for (offset, operation) in operations.into_iter().enumerate() {
            let location = at + offset as u64;
            if let Operation::Update(Update(key, value)) = operation
                && bitmap.get_bit(location)
            {
                restorer
                    .add(key, value)
                    .map_err(|error| error.to_string())?;
                chunks = chunks.saturating_add(1);
            }
        }
        at = at.saturating_add(READ_BATCH.get()).min(end);
    }
    let store = restorer.finish().map_err(|error| error.to_string())?;
    Ok((store, chunks))
}

/// Applies `writes` to `db` as one batch and commits it, outside glue: for benches and tests
/// that build a store directly (the node writes through glue's batches).
pub async fn commit_writes<E: Context>(
    db: Qmdb<E>,
    writes: impl IntoIterator<Item = (types::Digest, Option<state::Chunk>)>,
) -> Result<Qmdb<E>, commonware_storage::qmdb::Error<mmr::Family>> {
    let mut batch = db.new_batch();
    for (key, value) in writes {
        batch = batch.write(key, value);
    }
    let merkleized = batch
        .merkleize(
            &db,
            None,
            &mut commonware_storage::qmdb::floor::Proportional,
        )
        .await?;
    db.apply_batch(merkleized).await?.commit().await
}

/// The database set glue manages for the node: the authenticated store, and the application it
/// hands the ledger to whenever glue opens the store (at start) or fills it from peers (state
/// sync). Either way the ledger is read back before glue runs any block on the store: after a
/// state sync glue applies the blocks finalized meanwhile at once, and the application needs
/// the state they start from.
pub struct LedgerStore<E: Context> {
    store: Shared<Qmdb<E>>,
}

impl<E: Context> Clone for LedgerStore<E> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
        }
    }
}

impl<E: Context> std::fmt::Debug for LedgerStore<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerStore").finish_non_exhaustive()
    }
}

impl<C> std::fmt::Debug for LedgerStoreConfig<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerStoreConfig").finish_non_exhaustive()
    }
}

impl<E: Context> LedgerStore<E> {
    /// The shared store, as the proof service and tests read it.
    pub fn shared(&self) -> &Shared<Qmdb<E>> {
        &self.store
    }
}

/// How to open a [`LedgerStore`]; `C` is the store's own configuration
/// ([`crate::engine::qmdb_config`]).
pub struct LedgerStoreConfig<C> {
    pub store: C,
    /// Takes the ledger read back.
    pub app: App,
    /// Told when a state sync is done.
    pub progress: Arc<SyncProgress>,
}

/// Where a node's state sync stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPhase {
    /// Not syncing from peers: following the chain block by block (or catching up to it).
    Following,
    /// Asking the validators for a recent finalized block to sync to.
    FindingFloor,
    /// Fetching the store's operations from peers and checking them against that block's root.
    SyncingRecords,
}

/// A state sync's phase and how many store operations it has fetched, shared with the RPC.
#[derive(Debug, Default)]
pub struct SyncProgress {
    phase: AtomicU8,
    fetched: AtomicU64,
    /// The lowest operation asked for and the size of the store being synced to.
    lowest: AtomicU64,
    target: AtomicU64,
    /// The epoch of the checkpoint the sync started from (0: none, the genesis validators).
    checkpoint: AtomicU64,
}

impl SyncProgress {
    /// Records that the sync asks the committee of `epoch`'s checkpoint.
    pub fn set_checkpoint(&self, epoch: u64) {
        self.checkpoint.store(epoch, Ordering::Relaxed);
    }

    /// The epoch of the checkpoint the sync started from, if it started from one.
    pub fn checkpoint(&self) -> Option<u64> {
        Some(self.checkpoint.load(Ordering::Relaxed)).filter(|epoch| *epoch > 0)
    }

    pub fn set_phase(&self, phase: SyncPhase) {
        let code = match phase {
            SyncPhase::Following => 0,
            SyncPhase::FindingFloor => 1,
            SyncPhase::SyncingRecords => 2,
        };
        self.phase.store(code, Ordering::Relaxed);
    }

    pub fn phase(&self) -> SyncPhase {
        match self.phase.load(Ordering::Relaxed) {
            1 => SyncPhase::FindingFloor,
            2 => SyncPhase::SyncingRecords,
            _ => SyncPhase::Following,
        }
    }

    /// Operations received from peers (counted before the sync engine checks them, and from 0
    /// again after a restart), and how many the range being synced holds (from the lowest
    /// operation asked for to the target's size; both move as the target follows the chain).
    /// A rough measure of progress for `equa status`, not an exact one.
    pub fn operations(&self) -> (u64, u64) {
        let lowest = self.lowest.load(Ordering::Relaxed);
        let target = self.target.load(Ordering::Relaxed);
        (
            self.fetched.load(Ordering::Relaxed),
            target.saturating_sub(lowest),
        )
    }

    fn asked<F: commonware_storage::merkle::Family>(&self, request: &Request<F>) {
        let start = request.start().as_u64();
        if self.target.load(Ordering::Relaxed) == 0 {
            self.lowest.store(start, Ordering::Relaxed);
        } else {
            self.lowest.fetch_min(start, Ordering::Relaxed);
        }
        self.target
            .fetch_max(request.size().as_u64(), Ordering::Relaxed);
    }
}

type Inner<E> = Shared<Qmdb<E>>;
type StoreConfig<E> = <Qmdb<E> as commonware_glue::stateful::db::ManagedDb<E>>::Config;

/// Reads the ledger out of `store` and gives it to `app` ([`App::restored`]).
async fn read_back<E: Context>(
    store: &Inner<E>,
    app: &App,
    cause: &'static str,
) -> Result<(), String> {
    let guard = store.read().await;
    let started = std::time::Instant::now();
    let (records, chunks) =
        read_ledger_into(&guard, app.empty_state())
            .await
            .and_then(|(ledger, chunks)| {
                // Settled first: then its length is a count, not a walk of every record.
                let ledger = ledger.settled_by_hand();
                let records = ledger.len();
                app.restored(guard.root(), ledger)?;
                Ok((records, chunks))
            })?;
    tracing::info!(
        cause,
        records,
        chunks,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "read the ledger back from the store"
    );
    Ok(())
}

impl<E> DatabaseSet<E> for LedgerStore<E>
where
    E: Context + commonware_runtime::Spawner,
{
    type Unmerkleized = <Inner<E> as DatabaseSet<E>>::Unmerkleized;
    type Merkleized = <Inner<E> as DatabaseSet<E>>::Merkleized;
    type Readers = <Inner<E> as DatabaseSet<E>>::Readers;
    type Config = LedgerStoreConfig<StoreConfig<E>>;
    type SyncTargets = <Inner<E> as DatabaseSet<E>>::SyncTargets;

    async fn init(context: E, config: Self::Config, expected: Option<Self::SyncTargets>) -> Self {
        // glue opens the store at the block it recovers from, rewinding a store that is ahead.
        let store = Inner::<E>::init(context, config.store, expected).await;
        // A store that cannot be read back leaves the node its other path: re-executing from
        // genesis, slower but never wrong (a damaged store fails its next state-root check).
        if let Err(error) = read_back(&store, &config.app, "restart").await {
            tracing::error!(%error, "cannot read the ledger back from the store; re-executing from genesis");
        }
        Self { store }
    }

    fn initial_sync_targets() -> Self::SyncTargets {
        Inner::<E>::initial_sync_targets()
    }

    async fn new_batches(&self) -> Self::Unmerkleized {
        self.store.new_batches().await
    }

    fn fork_batches(parent: &Self::Merkleized) -> Self::Unmerkleized {
        Inner::<E>::fork_batches(parent)
    }

    fn matches_sync_targets(batches: &Self::Merkleized, targets: &Self::SyncTargets) -> bool {
        Inner::<E>::matches_sync_targets(batches, targets)
    }

    fn readers(&self) -> Self::Readers {
        self.store.readers()
    }

    async fn apply(&self, batches: Self::Merkleized) {
        self.store.apply(batches).await
    }

    async fn finalize(&self) -> Barrier {
        self.store.finalize().await
    }

    async fn prune(&self, targets: &Self::SyncTargets) {
        self.store.prune(targets).await
    }

    async fn committed_targets(&self) -> Self::SyncTargets {
        self.store.committed_targets().await
    }
}

impl<E, R> StateSyncSet<E, R> for LedgerStore<E>
where
    E: Context + commonware_runtime::Spawner,
    Qmdb<E>: commonware_glue::stateful::db::StateSyncDb<E, R>,
    R: Send + 'static,
{
    type Error = <Qmdb<E> as commonware_glue::stateful::db::StateSyncDb<E, R>>::SyncError;

    async fn sync<D: commonware_cryptography::Digest>(
        context: E,
        config: Self::Config,
        sources: R,
        anchor: Anchor<D>,
        targets: Self::SyncTargets,
        tip_updates: ring::Receiver<TipUpdate<D, Self::SyncTargets>>,
        sync_config: SyncEngineConfig,
    ) -> Result<(Self, Anchor<D>), Self::Error> {
        let (store, anchor) = Inner::<E>::sync(
            context,
            config.store,
            sources,
            anchor,
            targets,
            tip_updates,
            sync_config,
        )
        .await?;
        // After a state sync there are no blocks to re-execute from: the node cannot follow
        // the chain without its ledger. The sync engine checked every operation against a
        // finalized root, so only a store the validators themselves wrote could fail here.
        if let Err(error) = read_back(&store, &config.app, "state sync").await {
            panic!(
                "state sync: the synced store does not read back into a ledger ({error}); this \
                 node cannot follow the chain from it"
            );
        }
        config.progress.set_phase(SyncPhase::Following);
        Ok((Self { store }, anchor))
    }
}

/// glue's state-sync resolver, serving peers from the store glue attaches once it has one, and
/// counting what this node's own state sync fetches through it.
#[derive(Clone)]
pub struct Serving<R> {
    inner: R,
    progress: Arc<SyncProgress>,
}

impl<R> Serving<R> {
    pub fn new(inner: R, progress: Arc<SyncProgress>) -> Self {
        Self { inner, progress }
    }
}

impl<R> std::fmt::Debug for Serving<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serving").finish_non_exhaustive()
    }
}

impl<R: Source> Source for Serving<R> {
    type Family = R::Family;
    type Digest = R::Digest;
    type Op = R::Op;
    type Error = R::Error;

    async fn serve(&self, request: Request<Self::Family>) -> source::Result<Self> {
        self.progress.asked(&request);
        let served = self.inner.serve(request).await;
        if let Ok((source::Response::Operations { operations, .. }, _)) = &served {
            self.progress
                .fetched
                .fetch_add(operations.len() as u64, Ordering::Relaxed);
        }
        served
    }
}

impl<E, R> AttachableResolverSet<LedgerStore<E>> for Serving<R>
where
    E: Context,
    R: AttachableResolver<Qmdb<E>>,
{
    async fn attach_databases(&self, databases: LedgerStore<E>) {
        self.inner.attach_database(databases.store).await;
    }
}

#[cfg(test)]
mod red_team;

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_runtime::{
        Runner as _, Supervisor as _, buffer::paged::CacheRef, deterministic,
    };
    use commonware_utils::{NZU16, NZUsize};
    use ledger::Store as _;

    /// Records that grow, shrink and go over several commits, so most of the log is writes
    /// that later ones replaced: what is read back is the last state, exactly.
    #[test]
    fn the_ledger_read_back_from_a_real_store_is_the_last_committed_state() {
        deterministic::Runner::default().start(|context| async move {
            let cache = CacheRef::new(NZU16!(4096), NZUsize!(64));
            let config = crate::engine::qmdb_config("read-back", cache);
            let mut db = Qmdb::init(context.child("qmdb"), config.clone(), None)
                .await
                .unwrap();
            let mut ledger = MemoryStore::new();
            for round in 0u32..12 {
                let mut changes: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
                for record in 0u32..200 {
                    let key = [b"r".as_slice(), &record.to_be_bytes()].concat();
                    // Lengths cycle through one, two and many chunks; every third round
                    // deletes a third of the records.
                    let value = if (record + round) % 3 == 0 && round % 3 == 2 {
                        None
                    } else {
                        Some(vec![
                            round as u8;
                            ((record * 37 + round * 11) % 300) as usize
                        ])
                    };
                    changes.push((key, value));
                }
                let writes = state::store_writes(&ledger, changes.iter().map(|(k, v)| (k, v)));
                for (key, value) in &changes {
                    match value {
                        Some(value) => ledger.put(key, value.clone()),
                        None => ledger.delete(key),
                    }
                }
                db = commit_writes(db, writes).await.unwrap();
            }
            let (read, chunks) = read_ledger(&db).await.unwrap();
            assert_eq!(read, ledger);
            assert_eq!(chunks, state::entries(&ledger).len());

            // And after reopening the store, as after a restart.
            drop(db);
            let db = Qmdb::init(context.child("reopened"), config, None)
                .await
                .unwrap();
            assert_eq!(read_ledger(&db).await.unwrap().0, ledger);
        });
    }
}
