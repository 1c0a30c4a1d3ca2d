//! Where each transaction's entry sits in the account history ([`crate::history`]), kept on disk
//! beside it so that `equa_getReceipt` answers for every transaction the history holds, not only
//! for those of the blocks still in memory.
//!
//! It is a commonware [`Freezer`] from transaction id to entry position: written once and never
//! rewritten, as the history is, with only its hash table (about 60 bytes a slot, a slot for every
//! two to four transactions) read whole at start. A freezer opens at the checkpoint of its last
//! sync and forgets what was put after it, so the checkpoint is kept in a [`Metadata`] store,
//! with the number of history entries the freezer held when it was taken.
//!
//! The index is derived from the history and never ahead of it where it counts: the history syncs
//! its journals first and only then the index, so the entries an index checkpoint counts are on
//! disk. A start re-indexes every entry above that count (those after the last sync and those
//! still queued for the index's task ([`Indexing`]), or the whole history the first time a node
//! runs with an index). A position
//! the index gives is only a hint: the history serves the entry at it only when that entry carries
//! the asked id, so an index left pointing past the entries or at another entry (which the crash
//! story above does not leave, but a damaged disk could) never serves another transaction's
//! receipt; the id is then not found.

use crate::history::HistoryError;
use commonware_runtime::{Handle, Spawner, buffer::paged::CacheRef};
use commonware_storage::{
    Context,
    freezer::{self, Checkpoint, Freezer, Identifier},
    metadata::{self, Metadata},
};
use commonware_utils::{
    NZUsize,
    sequence::{FixedBytes, U64},
};
use futures::{StreamExt as _, channel::mpsc};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex as StdMutex},
};
use tokio::sync::Mutex;

/// A transaction id as the freezer keys it.
type Key = FixedBytes<32>;

/// The metadata key of the freezer's checkpoint and the entries it indexes.
const COMMIT: U64 = U64::new(0);

/// The freezer's first table: 4,096 slots, about 240 KB, read whole at every start.
const TABLE_INITIAL_SLOTS: u32 = 4_096;

fn storage(what: &str, error: impl std::fmt::Display) -> HistoryError {
    HistoryError::Storage(format!(
        "the transaction index could not be {what}: {error}"
    ))
}

fn failed_before() -> HistoryError {
    HistoryError::Storage(
        "an earlier write of the transaction index failed; restart the node".into(),
    )
}

/// The 32 bytes of a transaction id as the history's receipts write it (`0x` and 64 hex digits).
pub(crate) fn id_bytes(tx_id: &str) -> Option<[u8; 32]> {
    let digits = tx_id.strip_prefix("0x")?;
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(digits, &mut bytes).ok()?;
    Some(bytes)
}

/// The on-disk map from transaction id to history entry position.
pub(crate) struct TxIndex<E: Context> {
    /// `None` only while a put or sync holds it (they take the freezer by value), or for good
    /// after one failed.
    freezer: Option<Freezer<E, Key, u64>>,
    metadata: Option<Metadata<E, U64, (Checkpoint, u64)>>,
    /// How many history entries the last committed checkpoint covers.
    committed: u64,
}

impl<E: Context> TxIndex<E> {
    /// Opens the index under partition prefix `prefix` at its last committed checkpoint. Every
    /// entry from [`TxIndex::committed`] on may be missing and is the caller's to put again.
    pub(crate) async fn init(
        context: E,
        prefix: &str,
        page_cache: CacheRef,
    ) -> Result<Self, HistoryError> {
        let metadata = Metadata::<E, U64, (Checkpoint, u64)>::init(
            context.child("metadata"),
            metadata::Config {
                partition: format!("{prefix}-history-tx-index-metadata"),
                codec_config: ((), ()),
            },
        )
        .await
        .map_err(|e| storage("opened", e))?;
        let (checkpoint, committed) = match metadata.get(&COMMIT) {
            Some((checkpoint, committed)) => (Some(*checkpoint), *committed),
            // No commit yet: the freezer starts empty and every entry is indexed again.
            None => (None, 0),
        };
        let freezer = Freezer::init(
            context.child("freezer"),
            freezer::Config {
                key_partition: format!("{prefix}-history-tx-index-keys"),
                key_write_buffer: NZUsize!(1 << 16),
                key_page_cache: page_cache,
                value_partition: format!("{prefix}-history-tx-index-values"),
                value_compression: None,
                value_write_buffer: NZUsize!(1 << 16),
                value_target_size: 64 << 20,
                table_partition: format!("{prefix}-history-tx-index-table"),
                table_initial_size: TABLE_INITIAL_SLOTS,
                table_resize_frequency: 4,
                table_resize_chunk_size: TABLE_INITIAL_SLOTS,
                table_replay_buffer: NZUsize!(1 << 20),
                codec_config: (),
            },
            checkpoint,
        )
        .await
        .map_err(|e| storage("opened", e))?;
        Ok(Self {
            freezer: Some(freezer),
            metadata: Some(metadata),
            committed,
        })
    }

    /// How many history entries the last committed checkpoint covers: every entry below it is
    /// findable after a crash, provided the history still holds it.
    pub(crate) fn committed(&self) -> u64 {
        self.committed
    }

    /// Maps `id` to `position`. Putting the same pair again is harmless: a lookup finds the
    /// newest put of an id first.
    pub(crate) async fn put(&mut self, id: [u8; 32], position: u64) -> Result<(), HistoryError> {
        let freezer = self.freezer.take().ok_or_else(failed_before)?;
        let (freezer, _) = freezer
            .put(FixedBytes::new(id), &position)
            .await
            .map_err(|e| storage("written", e))?;
        self.freezer = Some(freezer);
        Ok(())
    }

    /// Makes every put so far durable and commits that the history's first `entries` entries
    /// are indexed. The caller must have synced those entries first.
    pub(crate) async fn sync(&mut self, entries: u64) -> Result<(), HistoryError> {
        let freezer = self.freezer.take().ok_or_else(failed_before)?;
        let (freezer, checkpoint) = freezer.sync().await.map_err(|e| storage("synced", e))?;
        self.freezer = Some(freezer);
        let metadata = self.metadata.take().ok_or_else(failed_before)?;
        let metadata = metadata
            .put_sync(COMMIT, (checkpoint, entries))
            .await
            .map_err(|e| storage("committed", e))?;
        self.metadata = Some(metadata);
        self.committed = entries;
        Ok(())
    }

    /// The position the index gives for `id`, if any: a hint the caller checks against the
    /// entry it names.
    pub(crate) async fn get(&self, id: [u8; 32]) -> Result<Option<u64>, HistoryError> {
        let freezer = self.freezer.as_ref().ok_or_else(failed_before)?;
        let key = FixedBytes::new(id);
        freezer
            .get(Identifier::Key(&key))
            .await
            .map_err(|e| storage("read", e))
    }
}

/// Puts not yet in the index, and the error that stopped the indexing task, if one did.
#[derive(Default)]
struct Queued {
    positions: HashMap<[u8; 32], u64>,
    failure: Option<String>,
}

/// One recorded block's ids, and the history's entry count to commit after them if the history
/// synced its journals with this block.
struct Job {
    ids: Vec<([u8; 32], u64)>,
    commit: Option<u64>,
}

/// How many blocks' ids may wait in the channel for the indexing task (one more is being put)
/// before recording a block waits for it.
const QUEUED_BLOCKS: usize = 8;

/// How many puts the indexing task makes before it lets a lookup at the index.
const PUTS_PER_LOCK: usize = 256;

/// The index as the history writes it: by a task of its own, so that recording a block does
/// not wait for a freezer put per transaction (a table read and write each, 0.06 to 0.27 ms
/// measured under load: most of a full block's recording time). Lookups see every id handed over, put
/// or not yet. The index may lag the history by [`QUEUED_BLOCKS`] + 1 blocks; a commit still counts
/// only entries the history synced before handing the commit over, so a crash loses nothing a
/// start does not index again.
pub(crate) struct Indexing<E: Context> {
    index: Arc<Mutex<TxIndex<E>>>,
    queued: Arc<StdMutex<Queued>>,
    /// Used by one recording at a time (the history's lock is held around [`Indexing::reserve`]
    /// and [`Indexing::add`]), never held across an await.
    jobs: StdMutex<mpsc::Sender<Job>>,
    task: Handle<Result<(), String>>,
}

impl<E: Context + Spawner> Indexing<E> {
    /// Starts the indexing task on `index`, which holds every entry the history holds.
    pub(crate) fn start(context: E, index: TxIndex<E>) -> Self {
        let index = Arc::new(Mutex::new(index));
        let queued = Arc::new(StdMutex::new(Queued::default()));
        // A futures channel holds its buffer and one more per sender.
        let (jobs, mut received) = mpsc::channel::<Job>(QUEUED_BLOCKS - 1);
        let task = context.spawn({
            let index = index.clone();
            let queued = queued.clone();
            move |_| async move {
                while let Some(job) = received.next().await {
                    if let Err(error) = Self::apply(&index, &job).await {
                        tracing::error!(%error, "the transaction index stopped");
                        let error = error.to_string();
                        queued.lock().expect("lock").failure = Some(error.clone());
                        return Err(error);
                    }
                    let mut queued = queued.lock().expect("lock");
                    for (id, position) in &job.ids {
                        if queued.positions.get(id) == Some(position) {
                            queued.positions.remove(id);
                        }
                    }
                }
                Ok(())
            }
        });
        Self {
            index,
            queued,
            jobs: StdMutex::new(jobs),
            task,
        }
    }

    async fn apply(index: &Mutex<TxIndex<E>>, job: &Job) -> Result<(), HistoryError> {
        for puts in job.ids.chunks(PUTS_PER_LOCK) {
            let mut index = index.lock().await;
            for (id, position) in puts {
                index.put(*id, *position).await?;
            }
        }
        if let Some(entries) = job.commit {
            index.lock().await.sync(entries).await?;
        }
        Ok(())
    }

    /// Fails if the task has stopped, and otherwise waits (while [`QUEUED_BLOCKS`] blocks are
    /// queued) for room for one more block: called before the block is written, so that
    /// [`Indexing::add`] after it never waits, and a recording dropped in between leaves nothing
    /// half done.
    pub(crate) async fn reserve(&self) -> Result<(), HistoryError> {
        Self::healthy(&self.queued.lock().expect("lock"))?;
        futures::future::poll_fn(|cx| self.jobs.lock().expect("lock").poll_ready(cx))
            .await
            .map_err(|_| failed_before())
    }

    /// Hands a recorded block's ids to the task, and with `commit` the history's entry count,
    /// which the caller has synced. Needs the room [`Indexing::reserve`] made; never waits.
    pub(crate) fn add(
        &self,
        ids: Vec<([u8; 32], u64)>,
        commit: Option<u64>,
    ) -> Result<(), HistoryError> {
        // Queued before the task can see the job, so a lookup never misses an id in between.
        self.queued
            .lock()
            .expect("lock")
            .positions
            .extend(ids.iter().copied());
        self.jobs
            .lock()
            .expect("lock")
            .start_send(Job { ids, commit })
            .map_err(|_| failed_before())
    }

    /// The position the index gives for `id`, put or still queued: a hint the caller checks
    /// against the entry it names.
    pub(crate) async fn get(&self, id: [u8; 32]) -> Result<Option<u64>, HistoryError> {
        {
            let queued = self.queued.lock().expect("lock");
            Self::healthy(&queued)?;
            if let Some(position) = queued.positions.get(&id) {
                return Ok(Some(*position));
            }
        }
        // Put before it left the queue, so the index has it if it was ever handed over.
        self.index.lock().await.get(id).await
    }

    /// The error that stopped the task, if one did.
    fn healthy(queued: &Queued) -> Result<(), HistoryError> {
        match &queued.failure {
            Some(error) => Err(HistoryError::Storage(error.clone())),
            None => Ok(()),
        }
    }

    /// How many ids wait for the task.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.queued.lock().expect("lock").positions.len()
    }

    /// Waits until every id handed over is put and the task has let go of the index, and gives
    /// the error that stopped the task, if one did.
    pub(crate) async fn close(self) -> Result<(), HistoryError> {
        let Self { jobs, task, .. } = self;
        drop(jobs);
        match task.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(HistoryError::Storage(error)),
            Err(error) => Err(HistoryError::Storage(format!(
                "the transaction index's task ended: {error}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{
        BlockHistory, History, HistoryLog as _,
        testing::{PREFIX, append_unfinished_block, cache, chain, check_receipts, tx_id, view},
    };
    use commonware_runtime::{Runner as _, Supervisor as _, deterministic};
    use ledger::testing::account;

    /// Records `blocks` in a new history.
    async fn recorded(context: &deterministic::Context, blocks: &[BlockHistory]) {
        let history = History::init(context.child("record"), PREFIX, cache())
            .await
            .unwrap();
        for block in blocks {
            history.record(block.clone()).await.unwrap();
        }
        history.close().await.unwrap();
    }

    /// The receipt `history` gives for `id`, if any.
    async fn receipt(
        history: &History<deterministic::Context>,
        id: types::TxId,
    ) -> Option<rpc::views::ReceiptView> {
        history.receipt(&id).await.unwrap()
    }

    #[test]
    fn every_recorded_transaction_is_found_by_its_id_before_and_after_a_restart() {
        deterministic::Runner::default().start(|context| async move {
            // 70 blocks: two index syncs (every 32 blocks) and a tail after the last one.
            let blocks = chain(70);
            let history = History::init(context.child("first"), PREFIX, cache())
                .await
                .unwrap();
            for block in &blocks {
                history.record(block.clone()).await.unwrap();
            }
            check_receipts(&history, &blocks).await;
            history.close().await.unwrap();
            let history = History::init(context.child("second"), PREFIX, cache())
                .await
                .unwrap();
            check_receipts(&history, &blocks).await;
            // Replayed blocks are skipped and leave every receipt as it was.
            for block in &blocks[50..] {
                history.record(block.clone()).await.unwrap();
            }
            check_receipts(&history, &blocks).await;
            history.close().await.unwrap();
            let history = History::init(context.child("third"), PREFIX, cache())
                .await
                .unwrap();
            check_receipts(&history, &blocks).await;
        });
    }

    /// The index is written behind the history: a crash while ids (and a commit) still wait for
    /// the index's task loses none of them, and ids not yet put are found meanwhile.
    #[test]
    fn a_crash_while_the_index_lags_the_history_loses_no_id() {
        // 70 blocks: the history syncs at blocks 32 and 64.
        let blocks = chain(70);
        let (_, checkpoint) = deterministic::Runner::default().start_and_recover({
            let blocks = blocks.clone();
            |context| async move {
                let history = History::init(context.child("first"), PREFIX, cache())
                    .await
                    .unwrap();
                for block in &blocks {
                    history.record(block.clone()).await.unwrap();
                }
                assert!(
                    history.unindexed() > 0,
                    "the index's task has not caught up when the last block is recorded"
                );
                check_receipts(&history, &blocks).await;
                // The runtime stops here with the task's work unfinished.
            }
        });
        deterministic::Runner::from(checkpoint).start(|context| async move {
            let index = TxIndex::init(context.child("index"), PREFIX, cache())
                .await
                .unwrap();
            let total: usize = blocks.iter().map(|b| b.entries.len()).sum();
            let committed = index.committed();
            assert!(
                committed > 0 && committed < total as u64,
                "the crash came between two commits of the index: {committed} of {total}"
            );
            drop(index);
            let history = History::init(context.child("second"), PREFIX, cache())
                .await
                .unwrap();
            check_receipts(&history, &blocks).await;
        });
    }

    #[test]
    fn an_id_never_recorded_is_not_found() {
        deterministic::Runner::default().start(|context| async move {
            let history = History::init(context.child("empty"), PREFIX, cache())
                .await
                .unwrap();
            assert_eq!(receipt(&history, tx_id(1, 0)).await, None, "empty history");
            history.close().await.unwrap();
            let blocks = chain(40);
            recorded(&context, &blocks).await;
            let history = History::init(context.child("reopened"), PREFIX, cache())
                .await
                .unwrap();
            // Block 4 is empty, block 1 has two transactions, block 41 was never recorded.
            for id in [
                tx_id(4, 0),
                tx_id(1, 2),
                tx_id(41, 0),
                types::Digest([0; 32]),
                types::Digest([0xff; 32]),
            ] {
                assert_eq!(receipt(&history, id).await, None, "{id:?}");
            }
        });
    }

    /// A crash inside block 39's append left its first entry on disk, while the index had been
    /// told of it and committed: a start cuts the entry, and the block's ids are not found
    /// until glue records the block again.
    #[test]
    fn ids_of_a_block_a_crash_cut_are_not_found_until_the_block_is_recorded_again() {
        deterministic::Runner::default().start(|context| async move {
            // 38 blocks: an index sync at block 32 and six blocks after it.
            let blocks = chain(39);
            recorded(&context, &blocks[..38]).await;
            let history = History::init(context.child("count"), PREFIX, cache())
                .await
                .unwrap();
            let whole = history.entry_count().await;
            history.close().await.unwrap();
            append_unfinished_block(context.child("crash"), PREFIX, &blocks[38]).await;
            let mut index = TxIndex::init(context.child("ahead"), PREFIX, cache())
                .await
                .unwrap();
            index.put(tx_id(39, 0).0, whole).await.unwrap();
            index.sync(whole + 1).await.unwrap();
            drop(index);

            let history = History::init(context.child("second"), PREFIX, cache())
                .await
                .unwrap();
            assert_eq!(history.entry_count().await, whole, "the half block is cut");
            assert_eq!(blocks[38].entries.len(), 5);
            for index in 0..5 {
                assert_eq!(
                    receipt(&history, tx_id(39, index)).await,
                    None,
                    "tx {index}"
                );
            }
            check_receipts(&history, &blocks[..38]).await;
            // Glue replays block 39.
            history.record(blocks[38].clone()).await.unwrap();
            check_receipts(&history, &blocks).await;
            history.close().await.unwrap();
            let history = History::init(context.child("third"), PREFIX, cache())
                .await
                .unwrap();
            check_receipts(&history, &blocks).await;
        });
    }

    /// An index committed with positions no entry backs: past the end of the history, at
    /// another transaction's entry, and over a recorded transaction's true position. None of
    /// them serves another transaction's receipt, on this start or the next.
    #[test]
    fn an_index_entry_pointing_past_the_end_or_at_another_transaction_is_never_served() {
        deterministic::Runner::default().start(|context| async move {
            let blocks = chain(12);
            recorded(&context, &blocks).await;
            let history = History::init(context.child("count"), PREFIX, cache())
                .await
                .unwrap();
            let count = history.entry_count().await;
            history.close().await.unwrap();
            let mut index = TxIndex::init(context.child("forged"), PREFIX, cache())
                .await
                .unwrap();
            index.put(tx_id(13, 0).0, count).await.unwrap();
            index.put(tx_id(14, 0).0, u64::MAX).await.unwrap();
            index.put(tx_id(15, 0).0, 0).await.unwrap();
            // Block 2's first transaction is at position 2 (block 1 has two); point it at 0.
            index.put(tx_id(2, 0).0, 0).await.unwrap();
            index.sync(count).await.unwrap();
            drop(index);

            let history = History::init(context.child("second"), PREFIX, cache())
                .await
                .unwrap();
            for id in [tx_id(13, 0), tx_id(14, 0), tx_id(15, 0), tx_id(2, 0)] {
                assert_eq!(receipt(&history, id).await, None, "{id:?}");
            }
            // Blocks 13 to 15 are recorded at the positions the forged entries named, or
            // beside them; each id then finds its own transaction.
            for height in 13..=15 {
                history
                    .record(BlockHistory {
                        height,
                        entries: vec![(view(height, 0), vec![account(1)])],
                    })
                    .await
                    .unwrap();
            }
            served_as_recorded(&history, "second").await;
            history.close().await.unwrap();
            let history = History::init(context.child("third"), PREFIX, cache())
                .await
                .unwrap();
            served_as_recorded(&history, "third").await;
        });

        async fn served_as_recorded(history: &History<deterministic::Context>, start: &str) {
            for height in 13..=15 {
                assert_eq!(
                    receipt(history, tx_id(height, 0)).await,
                    Some(view(height, 0).receipt),
                    "{start}: block {height}"
                );
            }
            // Shadowed by the forged entry: not found rather than another's.
            assert_eq!(receipt(history, tx_id(2, 0)).await, None, "{start}");
            assert_eq!(
                receipt(history, tx_id(1, 0)).await,
                Some(view(1, 0).receipt),
                "{start}: the entry at position 0 is still its own transaction's"
            );
        }
    }

    #[test]
    fn putting_an_id_again_at_the_same_position_is_harmless() {
        deterministic::Runner::default().start(|context| async move {
            let mut index = TxIndex::init(context.child("first"), PREFIX, cache())
                .await
                .unwrap();
            for _ in 0..3 {
                index.put(tx_id(1, 0).0, 7).await.unwrap();
            }
            index.put(tx_id(1, 1).0, 8).await.unwrap();
            index.sync(9).await.unwrap();
            index.put(tx_id(1, 0).0, 7).await.unwrap();
            assert_eq!(index.get(tx_id(1, 0).0).await.unwrap(), Some(7));
            drop(index);
            let index = TxIndex::init(context.child("second"), PREFIX, cache())
                .await
                .unwrap();
            assert_eq!(index.committed(), 9);
            assert_eq!(index.get(tx_id(1, 0).0).await.unwrap(), Some(7));
            assert_eq!(index.get(tx_id(1, 1).0).await.unwrap(), Some(8));
        });
    }
}
