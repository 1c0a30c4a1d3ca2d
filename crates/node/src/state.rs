//! The ledger's working state per block, and how it maps onto the authenticated store.
//!
//! The ledger is synchronous and reads keys that depend on state, so each executed block keeps
//! its whole resulting ledger state in memory ([`Executed`]). The authenticated store (QMDB,
//! fixed-size values) holds the records themselves: each record is laid out as one byte string
//! (`key length, value length, key, value`) cut into [`CHUNK_BYTES`]-byte chunks, and chunk `i`
//! of the record under `key` is stored under [`record_key`]`(key)` for the first and
//! [`tail_key`] for the rest ([`record_chunks`]). Its
//! root therefore commits to every record byte, the values keep the fixed size glue's state-sync
//! resolver serves, and the whole ledger can be read back from the store alone ([`restore`]).
//! Account records (a nonce, a balance) always fit one chunk.

use crate::Block;
use commonware_codec::Encode;
use ledger::{
    BlockContext, BlockError, MemoryStore, Overlay, Receipt, Store as _, apply_block_checked,
    verify_signatures,
};
use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};
use types::{Digest, SignedTransaction};

const RECORD_KEY_NAMESPACE: &[u8] = b"EQUA_STATE_RECORD_V1";
const TAIL_KEY_NAMESPACE: &[u8] = b"EQUA_STATE_TAIL_V1";
const RANDOMNESS_NAMESPACE: &[u8] = b"EQUA_BLOCK_RANDOMNESS_V2";

/// Bytes in one authenticated-store value. The largest account record (a balance: a 37-byte key
/// and a 16-byte amount, after the 7-byte head) fits one chunk, so an account's proof holds one
/// store entry per record; longer records (offers, trades, messages) take several.
pub const CHUNK_BYTES: usize = 64;

/// One authenticated-store value: a chunk of a record.
pub type Chunk = [u8; CHUNK_BYTES];

/// The first byte of a record's first chunk; the head then holds the key's length (2 bytes) and
/// the value's (4 bytes), big-endian, and the record's first bytes.
const HEAD: u8 = 0;
/// The first byte of every later chunk, followed by the next bytes of the record.
const TAIL: u8 = 1;
const HEAD_BYTES: usize = 1 + 2 + 4;
const TAIL_BYTES: usize = 1;

/// The authenticated-store key of the first chunk of the ledger record under `key`.
pub fn record_key(key: &[u8]) -> Digest {
    types::hash(
        RECORD_KEY_NAMESPACE,
        &[&(key.len() as u64).to_be_bytes(), key],
    )
}

/// The authenticated-store key of chunk `index` (at least 1) of the record whose first chunk is
/// stored under `head`: tails are named by their head, so a record's chunks can be found from
/// its head alone.
pub fn tail_key(head: &Digest, index: u32) -> Digest {
    types::hash(TAIL_KEY_NAMESPACE, &[head.as_ref(), &index.to_be_bytes()])
}

/// How many chunks a record of these lengths takes.
pub fn chunk_count(key_len: usize, value_len: usize) -> u32 {
    let rest = (key_len + value_len).saturating_sub(CHUNK_BYTES - HEAD_BYTES);
    let tails = rest.div_ceil(CHUNK_BYTES - TAIL_BYTES);
    u32::try_from(1 + tails).expect("a record is far smaller than 2^32 chunks")
}

/// The authenticated-store entries of the ledger record `key = value`, chunk 0 first. Unused
/// bytes of the last chunk are zero.
///
/// # Panics
///
/// If the key is longer than 65,535 bytes or the value longer than 4 GiB: the ledger builds its
/// keys from fixed-size ids and a block's bytes bound its values, so no transaction can cause it.
pub fn record_chunks(key: &[u8], value: &[u8]) -> Vec<(Digest, Chunk)> {
    let key_len = u16::try_from(key.len()).expect("ledger keys are short");
    let value_len = u32::try_from(value.len()).expect("ledger values are below 4 GiB");
    let mut bytes = key.iter().chain(value).copied();
    let mut chunks = Vec::with_capacity(chunk_count(key.len(), value.len()) as usize);
    let mut head = [0u8; CHUNK_BYTES];
    head[0] = HEAD;
    head[1..3].copy_from_slice(&key_len.to_be_bytes());
    head[3..7].copy_from_slice(&value_len.to_be_bytes());
    fill(&mut head[HEAD_BYTES..], &mut bytes);
    let head_key = record_key(key);
    chunks.push((head_key, head));
    for index in 1..chunk_count(key.len(), value.len()) {
        let mut tail = [0u8; CHUNK_BYTES];
        tail[0] = TAIL;
        fill(&mut tail[TAIL_BYTES..], &mut bytes);
        chunks.push((tail_key(&head_key, index), tail));
    }
    chunks
}

fn fill(slot: &mut [u8], bytes: &mut impl Iterator<Item = u8>) {
    for (byte, next) in slot.iter_mut().zip(bytes) {
        *byte = next;
    }
}

/// Why the authenticated store's entries do not make a ledger state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    #[error("store entry {0} is neither a record's head nor a tail")]
    UnknownChunk(Digest),
    #[error("store entry {0} is listed twice")]
    DuplicateEntry(Digest),
    #[error("store entry {0} is a record head stored under another record's key")]
    MisplacedHead(Digest),
    #[error("the record whose head is {head} lacks chunk {index}")]
    MissingChunk { head: Digest, index: u32 },
    #[error("{0} store entries belong to no record")]
    StrayChunks(usize),
    #[error("the record whose head is {0} has nonzero bytes after its end")]
    Padding(Digest),
}

/// Rebuilds the ledger state from every entry of the authenticated store, in any order: the
/// inverse of writing each record's [`record_chunks`]. Fails on anything the node would not have
/// written (a damaged or foreign store), naming the entry.
pub fn restore(
    entries: impl IntoIterator<Item = (Digest, Chunk)>,
) -> Result<MemoryStore, RestoreError> {
    let mut restorer = Restorer::new(MemoryStore::new());
    for (key, chunk) in entries {
        restorer.add(key, chunk)?;
    }
    restorer.finish()
}

/// Records written between two settles of a state being restored: on disk, they then move to
/// its file in parts rather than all at once.
const RESTORE_PART: usize = 1 << 16;

/// Rebuilds the ledger state from the authenticated store's entries given one at a time, in any
/// order ([`restore`]). A record goes into the state as soon as its last chunk is given, so
/// memory holds only the chunks of records not yet complete: a record of one chunk (every
/// account record) never waits, and a longer one (an offer, a trade, a message) waits only
/// until its other chunks come. A record's chunks are written in one batch, so a walk of the
/// store's log mostly finds them near one another, and a restore holds the records of about
/// one batch at a time, not every long record of the state.
#[derive(Debug)]
pub struct Restorer {
    store: MemoryStore,
    /// Records of more than one chunk whose next chunk has not come yet, under that chunk's
    /// store key (one entry per record).
    waiting: HashMap<Digest, Partial>,
    /// Heads of the records in `waiting`, to refuse a second copy of one by name.
    partial_heads: std::collections::HashSet<Digest>,
    /// Chunks that came before their record's head or before the chunk before them.
    tails: HashMap<Digest, Chunk>,
    written: usize,
}

/// A record of more than one chunk, assembled up to (not including) chunk `next`.
#[derive(Debug)]
struct Partial {
    stored_at: Digest,
    key_len: usize,
    value_len: usize,
    count: u32,
    next: u32,
    /// The record's bytes (key, value, zero padding) so far. It grows with the chunks given,
    /// never with the lengths a head claims.
    bytes: Vec<u8>,
}

impl Restorer {
    /// A restore into `store`, an empty state.
    pub fn new(store: MemoryStore) -> Self {
        Self {
            store,
            waiting: HashMap::new(),
            partial_heads: Default::default(),
            tails: HashMap::new(),
            written: 0,
        }
    }

    /// Takes the entry `chunk` stored under `key`.
    pub fn add(&mut self, key: Digest, chunk: Chunk) -> Result<(), RestoreError> {
        match chunk[0] {
            HEAD => {
                let (key_len, value_len, count) = head_lengths(&chunk);
                let bytes = &chunk[HEAD_BYTES..];
                if count == 1 {
                    // One chunk holds the key and the value (`chunk_count`).
                    let (record, rest) = bytes.split_at(key_len);
                    let (value, padding) = rest.split_at(value_len);
                    self.check(key, record)?;
                    return self.write(key, record, value, padding);
                }
                if key_len <= bytes.len() {
                    // The head holds the whole key: a record given twice is refused now,
                    // whether or not its first copy is complete yet.
                    self.check(key, &bytes[..key_len])?;
                }
                if !self.partial_heads.insert(key) {
                    return Err(RestoreError::DuplicateEntry(key));
                }
                self.advance(Partial {
                    stored_at: key,
                    key_len,
                    value_len,
                    count,
                    next: 1,
                    bytes: bytes.to_vec(),
                })
            }
            TAIL => match self.waiting.remove(&key) {
                Some(mut partial) => {
                    partial.bytes.extend_from_slice(&chunk[TAIL_BYTES..]);
                    partial.next += 1;
                    self.advance(partial)
                }
                None => match self.tails.insert(key, chunk) {
                    Some(_) => Err(RestoreError::DuplicateEntry(key)),
                    None => Ok(()),
                },
            },
            _ => Err(RestoreError::UnknownChunk(key)),
        }
    }

    /// Adds to `partial` the chunks that came early, then writes it if it is complete or
    /// leaves it waiting for its next chunk.
    fn advance(&mut self, mut partial: Partial) -> Result<(), RestoreError> {
        while partial.next < partial.count {
            let next = tail_key(&partial.stored_at, partial.next);
            match self.tails.remove(&next) {
                Some(tail) => {
                    partial.bytes.extend_from_slice(&tail[TAIL_BYTES..]);
                    partial.next += 1;
                }
                None => {
                    // Only another copy of this head waits for one of its chunks.
                    if self.waiting.contains_key(&next) {
                        return Err(RestoreError::DuplicateEntry(partial.stored_at));
                    }
                    self.waiting.insert(next, partial);
                    return Ok(());
                }
            }
        }
        self.partial_heads.remove(&partial.stored_at);
        // The chunks hold at least the lengths they were counted from (`chunk_count`).
        let (key, rest) = partial.bytes.split_at(partial.key_len);
        let (value, padding) = rest.split_at(partial.value_len);
        if partial.key_len > CHUNK_BYTES - HEAD_BYTES {
            // Not checked when the head came: the key runs past it.
            self.check(partial.stored_at, key)?;
        }
        self.write(partial.stored_at, key, value, padding)
    }

    /// Checks that the record under `key`, read from the head stored at `stored_at`, belongs
    /// there and was not written already.
    fn check(&self, stored_at: Digest, key: &[u8]) -> Result<(), RestoreError> {
        if record_key(key) != stored_at {
            return Err(RestoreError::MisplacedHead(stored_at));
        }
        // The head's key names the record, so a record given twice is its head given twice.
        if self.store.contains(key) {
            return Err(RestoreError::DuplicateEntry(stored_at));
        }
        Ok(())
    }

    /// Writes the record `key = value` read from the head stored at `stored_at` (with
    /// `padding` after its end), once [`Restorer::check`] passed.
    fn write(
        &mut self,
        stored_at: Digest,
        key: &[u8],
        value: &[u8],
        padding: &[u8],
    ) -> Result<(), RestoreError> {
        if padding.iter().any(|byte| *byte != 0) {
            return Err(RestoreError::Padding(stored_at));
        }
        self.store.put(key, value.to_vec());
        self.written = self.written.saturating_add(1);
        if self.written.is_multiple_of(RESTORE_PART) {
            self.store.settle();
        }
        Ok(())
    }

    /// Chunks held back, waiting for the rest of their record (tests: the restore's memory).
    #[cfg(test)]
    fn held_chunks(&self) -> usize {
        self.waiting
            .values()
            .map(|partial| partial.next as usize)
            .sum::<usize>()
            + self.tails.len()
    }

    /// The state, once every entry was given.
    pub fn finish(self) -> Result<MemoryStore, RestoreError> {
        if let Some(partial) = self
            .waiting
            .values()
            .min_by_key(|partial| partial.stored_at)
        {
            return Err(RestoreError::MissingChunk {
                head: partial.stored_at,
                index: partial.next,
            });
        }
        if !self.tails.is_empty() {
            return Err(RestoreError::StrayChunks(self.tails.len()));
        }
        Ok(self.store)
    }
}

/// The key's and the value's lengths a head records, and how many chunks they take.
fn head_lengths(head: &Chunk) -> (usize, usize, u32) {
    let key_len = usize::from(u16::from_be_bytes([head[1], head[2]]));
    let value_len = u32::from_be_bytes([head[3], head[4], head[5], head[6]]) as usize;
    (key_len, value_len, chunk_count(key_len, value_len))
}

/// The ledger's randomness for `block`: a hash of the seed it carries, the threshold signature
/// over the round before the block's ([`Block::seed`]).
///
/// The seed of round `r` exists only once a quorum voted in round `r`, and is the same whatever
/// they voted for: nobody can choose it, and nobody knew it before round `r`'s votes were cast
/// (a byzantine leader of round `r` may learn it a little early, but only after every block of
/// earlier rounds was fixed). The proposer of the block knows it, so the ledger uses a block's
/// randomness only for requests made in an earlier round than the seed's (see
/// `ledger::BlockContext::randomness`).
///
/// A block of view 1 carries no seed (round 0 is genesis); its bytes hash its parent and
/// height, and no request can precede it.
pub fn block_randomness(block: &Block) -> [u8; 32] {
    match &block.seed {
        Some(seed) => types::hash(RANDOMNESS_NAMESPACE, &[&seed.encode()]).0,
        None => {
            types::hash(
                RANDOMNESS_NAMESPACE,
                &[block.parent.as_ref(), &block.height.get().to_be_bytes()],
            )
            .0
        }
    }
}

/// The ledger state after a block, and the block's receipts.
#[derive(Debug)]
pub struct Executed {
    pub height: u64,
    pub timestamp_ms: u64,
    pub store: Arc<MemoryStore>,
    pub receipts: Vec<Receipt>,
}

/// The result of executing a block on its parent's state.
#[derive(Debug)]
pub struct Execution {
    pub executed: Executed,
    /// The authenticated-store writes in key order (`None` deletes).
    pub writes: BTreeMap<Digest, Option<Chunk>>,
}

/// Executes `txs` on `parent` (the state after block `context.height - 1`). Signatures are
/// verified (in one batch) except those `known_valid` marks as already verified by this node.
///
/// When the parent is genesis, the authenticated store is still empty (the genesis block commits
/// to the empty store), so the first block also writes every genesis record.
pub fn execute(
    parent: &MemoryStore,
    context: &BlockContext,
    txs: &[SignedTransaction],
    known_valid: &[bool],
) -> Result<Execution, BlockError> {
    assert_eq!(txs.len(), known_valid.len(), "one flag per transaction");
    let unknown: Vec<SignedTransaction> = txs
        .iter()
        .zip(known_valid)
        .filter(|(_, known)| !**known)
        .map(|(tx, _)| tx.clone())
        .collect();
    let mut checked = verify_signatures(&unknown).into_iter();
    let signatures_valid: Vec<bool> = known_valid
        .iter()
        .map(|known| *known || checked.next().expect("one result per unknown signature"))
        .collect();
    let mut next = parent.clone();
    let mut overlay = Overlay::new(&mut next);
    let receipts = apply_block_checked(&mut overlay, context, txs, &signatures_valid)?;
    let writes = if context.height == 1 {
        // The store is still empty: every record of the new state is new to it.
        overlay.commit();
        let mut writes = BTreeMap::new();
        for (key, value) in next.scan_prefix(&[]) {
            writes.extend(
                record_chunks(&key, &value)
                    .into_iter()
                    .map(|(k, c)| (k, Some(c))),
            );
        }
        writes
    } else {
        let writes = store_writes(parent, overlay.writes());
        overlay.commit();
        writes
    };
    Ok(Execution {
        executed: Executed {
            height: context.height,
            timestamp_ms: context.timestamp_ms,
            store: Arc::new(next),
            receipts,
        },
        writes,
    })
}

/// The authenticated-store writes that turn `parent`'s entries into those of `parent` with
/// `changes` applied (`None` deletes): every chunk of each new value, and a delete for each chunk
/// a shorter or deleted record no longer has.
pub fn store_writes<'a>(
    parent: &MemoryStore,
    changes: impl IntoIterator<Item = (&'a Vec<u8>, &'a Option<Vec<u8>>)>,
) -> BTreeMap<Digest, Option<Chunk>> {
    let mut writes = BTreeMap::new();
    for (key, value) in changes {
        let new_count = match value {
            Some(value) => {
                let chunks = record_chunks(key, value);
                let count = chunks.len() as u32;
                writes.extend(chunks.into_iter().map(|(k, c)| (k, Some(c))));
                count
            }
            None => 0,
        };
        if let Some(old) = parent.value_len(key) {
            let head = record_key(key);
            for index in new_count..chunk_count(key.len(), old) {
                let stored_at = if index == 0 {
                    head
                } else {
                    tail_key(&head, index)
                };
                writes.insert(stored_at, None);
            }
        }
    }
    writes
}

/// Re-executes a block for its state alone, as when rebuilding the in-memory state of an
/// ancestor. The block was already accepted, so an error here means this node's state diverged.
pub fn replay(parent: &MemoryStore, context: &BlockContext, txs: &[SignedTransaction]) -> Executed {
    execute(parent, context, txs, &vec![false; txs.len()])
        .unwrap_or_else(|e| panic!("an accepted block failed to replay: {e}"))
        .executed
}

/// What `store` holds, as authenticated-store entries: what [`restore`] reads back, and what
/// tests compare with the authenticated store.
pub fn entries(store: &MemoryStore) -> Vec<(Digest, Chunk)> {
    store
        .scan_prefix(&[])
        .flat_map(|(key, value)| record_chunks(&key, &value))
        .collect()
}

#[cfg(test)]
mod red_team;
#[cfg(test)]
mod red_team_disk;

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::testing::{TestChain, account};
    use types::{AssetId, Call, bank::BankCall, bank::Transfer};

    #[test]
    fn first_block_writes_genesis_and_later_blocks_write_changes_only() {
        let chain = TestChain::new(3, 1_000_000_000);
        let tx = chain.tx(
            0,
            Call::Bank(BankCall::Transfer(Transfer {
                to: account(1),
                asset: AssetId::NATIVE,
                amount: 5,
            })),
        );
        let context = chain.next_context();
        let first = execute(&chain.store, &context, std::slice::from_ref(&tx), &[false]).unwrap();
        assert!(first.executed.receipts[0].is_success());
        assert!(first.writes.len() >= chain.store.len());
        // Every record of the new state is in the writes, with its hashed value.
        for (key, value) in entries(&first.executed.store) {
            assert_eq!(first.writes.get(&key), Some(&Some(value)));
        }

        let mut second_context = context.clone();
        second_context.height = 2;
        second_context.timestamp_ms += 1;
        let second = execute(&first.executed.store, &second_context, &[], &[]).unwrap();
        // An empty block only records itself as the last block.
        assert_eq!(second.writes.len(), 1);
    }

    /// The store's entries after applying `writes` to `entries`.
    fn applied(
        mut entries: BTreeMap<Digest, Chunk>,
        writes: &BTreeMap<Digest, Option<Chunk>>,
    ) -> BTreeMap<Digest, Chunk> {
        for (key, value) in writes {
            match value {
                Some(value) => entries.insert(*key, *value),
                None => entries.remove(key),
            };
        }
        entries
    }

    /// Records whose lengths straddle every chunk boundary, and a key longer than a head.
    fn sample_records() -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut records = Vec::new();
        for len in [0, 1, 24, 25, 56, 57, 58, 119, 120, 121, 500, 4_000] {
            records.push((vec![3, len as u8, (len >> 8) as u8], vec![0xAB; len]));
        }
        records.push((vec![7; 300], vec![1, 2, 3]));
        records.push((vec![8; 57], Vec::new()));
        records
    }

    #[test]
    fn records_round_trip_through_their_chunks_at_every_length() {
        let mut store = MemoryStore::new();
        for (key, value) in sample_records() {
            let chunks = record_chunks(&key, &value);
            assert_eq!(chunks.len() as u32, chunk_count(key.len(), value.len()));
            let bytes = HEAD_BYTES + key.len() + value.len();
            assert_eq!(
                chunks.len(),
                1 + bytes
                    .saturating_sub(CHUNK_BYTES)
                    .div_ceil(CHUNK_BYTES - TAIL_BYTES),
                "no chunk more than needed for {} bytes",
                bytes
            );
            store.put(&key, value);
        }
        let restored = restore(entries(&store)).unwrap();
        assert_eq!(restored, store);
        assert_eq!(restore(Vec::new()).unwrap(), MemoryStore::new());
    }

    #[test]
    fn every_account_record_fits_one_chunk() {
        let account = ledger::testing::account(1);
        let nonce = types::codec::Encode::encode(&u64::MAX).to_vec();
        assert_eq!(
            record_chunks(&ledger::state::nonce_key(&account), &nonce).len(),
            1
        );
        let balance = types::codec::Encode::encode(&u128::MAX).to_vec();
        let key = ledger::state::balance_key(&account, types::AssetId(u32::MAX));
        assert_eq!(record_chunks(&key, &balance).len(), 1);
    }

    /// A copy of a long record's head or tail given before the record is complete is refused
    /// by name, as is a record with a key longer than its head given twice: a restore holds a
    /// long record back until its last chunk, so each of these is caught on its own path.
    #[test]
    fn a_chunk_given_twice_before_its_record_is_complete_is_refused_by_name() {
        let mut store = MemoryStore::new();
        store.put(b"long", vec![9; 200]);
        let long_key = vec![3u8; 80];
        store.put(&long_key, vec![1; 10]);
        let head = record_key(b"long");
        let chunks = record_chunks(b"long", &[9; 200]);

        // The head twice, before any of its tails.
        let twice = [chunks[0], chunks[0]]
            .into_iter()
            .chain(chunks[1..].iter().copied());
        assert_eq!(restore(twice), Err(RestoreError::DuplicateEntry(head)));

        // A tail twice, before its head.
        let tail = chunks[2];
        let early = [tail, tail].into_iter().chain(chunks.iter().copied());
        assert_eq!(restore(early), Err(RestoreError::DuplicateEntry(tail.0)));

        // A key longer than a head's payload: checked once its last chunk comes.
        let long_chunks = record_chunks(&long_key, &[1; 10]);
        assert!(long_chunks.len() > 1);
        let again = long_chunks.iter().chain(long_chunks.iter()).copied();
        assert_eq!(
            restore(again),
            Err(RestoreError::DuplicateEntry(record_key(&long_key)))
        );
        assert_eq!(restore(entries(&store)).unwrap(), store);
    }

    #[test]
    fn a_damaged_store_is_refused_by_name() {
        let mut store = MemoryStore::new();
        store.put(b"long", vec![9; 200]);
        store.put(b"short", vec![1]);
        let good: BTreeMap<Digest, Chunk> = entries(&store).into_iter().collect();
        let head = record_key(b"long");

        let mut missing = good.clone();
        missing.remove(&tail_key(&head, 2));
        assert_eq!(
            restore(missing),
            Err(RestoreError::MissingChunk { head, index: 2 })
        );

        let mut stray = good.clone();
        let mut tail = [0u8; CHUNK_BYTES];
        tail[0] = TAIL;
        stray.insert(Digest([5; 32]), tail);
        assert_eq!(restore(stray), Err(RestoreError::StrayChunks(1)));

        let mut unknown = good.clone();
        unknown.insert(Digest([6; 32]), [2; CHUNK_BYTES]);
        assert_eq!(
            restore(unknown),
            Err(RestoreError::UnknownChunk(Digest([6; 32])))
        );

        // A record's head moved under another key.
        let mut moved = good.clone();
        let short = moved.remove(&record_key(b"short")).unwrap();
        moved.insert(Digest([7; 32]), short);
        assert_eq!(
            restore(moved),
            Err(RestoreError::MisplacedHead(Digest([7; 32])))
        );

        let mut padded = good.clone();
        padded.get_mut(&record_key(b"short")).unwrap()[CHUNK_BYTES - 1] = 1;
        assert_eq!(
            restore(padded),
            Err(RestoreError::Padding(record_key(b"short")))
        );

        // An entry listed twice (two active writes of one key) is refused, not merged.
        let mut twice: Vec<(Digest, Chunk)> = good.clone().into_iter().collect();
        twice.push((head, good[&head]));
        assert_eq!(restore(twice), Err(RestoreError::DuplicateEntry(head)));

        // A head claiming a huge value fails before allocating for it.
        let mut huge = good;
        huge.get_mut(&record_key(b"short")).unwrap()[3..7].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            restore(huge),
            Err(RestoreError::MissingChunk { .. })
        ));
    }

    #[test]
    fn writes_turn_the_parents_entries_into_the_childs_as_records_grow_shrink_and_go() {
        let records = sample_records();
        let mut parent = MemoryStore::new();
        for (key, value) in &records {
            parent.put(key, value.clone());
        }
        let mut rotated: Vec<Vec<u8>> = records.iter().map(|(_, value)| value.clone()).collect();
        rotated.rotate_left(1);
        // Every record takes the next one's length; then every record goes.
        for changes in [
            records
                .iter()
                .zip(&rotated)
                .map(|((key, _), value)| (key.clone(), Some(value.clone())))
                .collect::<Vec<_>>(),
            records.iter().map(|(key, _)| (key.clone(), None)).collect(),
        ] {
            let mut child = parent.clone();
            for (key, value) in &changes {
                match value {
                    Some(value) => child.put(key, value.clone()),
                    None => child.delete(key),
                }
            }
            let writes = store_writes(&parent, changes.iter().map(|(k, v)| (k, v)));
            let before: BTreeMap<Digest, Chunk> = entries(&parent).into_iter().collect();
            let after: BTreeMap<Digest, Chunk> = entries(&child).into_iter().collect();
            assert_eq!(applied(before, &writes), after);
            assert_eq!(restore(after).unwrap(), child);
        }
    }

    #[test]
    fn same_inputs_give_same_writes_and_randomness_is_the_seeds() {
        let chain = TestChain::new(2, 1_000);
        let context = chain.next_context();
        let one = execute(&chain.store, &context, &[], &[]).unwrap();
        let two = execute(&chain.store, &context, &[], &[]).unwrap();
        assert_eq!(one.writes, two.writes);

        use commonware_cryptography::bls12381::primitives::{ops, variant::MinSig};
        let (private, _) = ops::keypair::<_, MinSig>(
            &mut <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(1),
        );
        let seed = |n: u8| ops::sign_message::<MinSig>(&private, b"seed", &[n]);
        let mut block = Block::genesis(
            1,
            Digest([0; 32]),
            commonware_utils::non_empty_range!(
                commonware_storage::mmr::Location::new(0),
                commonware_storage::mmr::Location::new(1)
            ),
            None,
        );
        // Without a seed (view 1 only), the parent and height.
        let unseeded = block_randomness(&block);
        block.parent = Digest([1; 32]);
        assert_ne!(block_randomness(&block), unseeded);
        // With one, the seed alone: another parent, height or transaction list changes nothing,
        // another seed changes everything.
        block.seed = Some(seed(1));
        let seeded = block_randomness(&block);
        block.parent = Digest([2; 32]);
        block.height = commonware_consensus::types::Height::new(9);
        block.timestamp_ms = 77;
        assert_eq!(block_randomness(&block), seeded);
        block.seed = Some(seed(2));
        assert_ne!(block_randomness(&block), seeded);
    }

    #[test]
    fn a_block_at_the_wrong_height_is_refused() {
        let chain = TestChain::new(1, 1_000);
        let mut context = chain.next_context();
        context.height = 5;
        assert!(matches!(
            execute(&chain.store, &context, &[], &[]),
            Err(BlockError::HeightNotNext { .. })
        ));
    }
}
