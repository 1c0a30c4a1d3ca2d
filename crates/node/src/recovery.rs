//! Restart from the authenticated store: the ledger is read back from the store glue recovers,
//! so a restarted node re-executes no block it had committed.
//!
//! glue hands the recovered store to the state-sync resolvers (to serve peers) before it
//! processes any block. [`Restoring`] wraps the resolver: it reads every record out of the store
//! at that moment ([`read_ledger`]), gives the state to the application ([`App::restored`]), and
//! then attaches the store to the resolver it wraps.

use crate::{App, Qmdb, state};
use commonware_glue::stateful::db::{AttachableResolver, Shared};
use commonware_storage::{
    Context,
    merkle::Location,
    mmr,
    qmdb::{
        any::{operation::Operation, unordered::Update},
        sync::{Request, Source, source},
    },
};
use commonware_utils::{NZU64, bitmap::Readable as _};
use ledger::MemoryStore;
use std::num::NonZeroU64;

/// Store operations read per step when reading the ledger back.
const READ_BATCH: NonZeroU64 = NZU64!(4096);

/// Every record in `db`'s current state, as a ledger state.
///
/// Walks the store's log from the first location whose activity is still known, keeping the
/// updates that are still active (a later write or delete of the same key clears an update's
/// bit). The records are then reassembled from their chunks ([`state::restore`]).
pub async fn read_ledger<E: Context>(db: &Qmdb<E>) -> Result<(MemoryStore, usize), String> {
    let bounds = db.bounds();
    let bitmap = db.bitmap();
    let mut at = bounds.start.as_u64().max(bitmap.pruned_bits());
    let end = bounds.end.as_u64();
    let mut entries = Vec::new();
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
                entries.push((key, value));
            }
        }
        at = at.saturating_add(READ_BATCH.get()).min(end);
    }
    let chunks = entries.len();
    let store = state::restore(entries).map_err(|error| error.to_string())?;
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

/// glue's state-sync resolver, which first reads the ledger out of each store glue attaches.
#[derive(Clone)]
pub struct Restoring<R> {
    inner: R,
    app: App,
}

impl<R> std::fmt::Debug for Restoring<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restoring").finish_non_exhaustive()
    }
}

impl<R> Restoring<R> {
    pub fn new(inner: R, app: App) -> Self {
        Self { inner, app }
    }
}

impl<R: Source> Source for Restoring<R> {
    type Family = R::Family;
    type Digest = R::Digest;
    type Op = R::Op;
    type Error = R::Error;

    async fn serve(&self, request: Request<Self::Family>) -> source::Result<Self> {
        self.inner.serve(request).await
    }
}

impl<E, R> AttachableResolver<Qmdb<E>> for Restoring<R>
where
    E: Context,
    R: AttachableResolver<Qmdb<E>>,
{
    async fn attach_database(&self, db: Shared<Qmdb<E>>) {
        {
            let guard = db.read().await;
            let started = std::time::Instant::now();
            let read = read_ledger(&guard).await.and_then(|(store, chunks)| {
                let records = store.len();
                self.app.restored(guard.root(), store)?;
                Ok((records, chunks))
            });
            match read {
                Ok((records, chunks)) => {
                    tracing::info!(
                        records,
                        chunks,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "read the ledger back from the store"
                    );
                }
                // The node can still rebuild its state by re-executing from genesis: slower,
                // never wrong, and a damaged store fails its next state-root check anyway.
                Err(error) => {
                    tracing::error!(%error, "cannot read the ledger back from the store; re-executing from genesis")
                }
            }
        }
        self.inner.attach_database(db).await;
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
