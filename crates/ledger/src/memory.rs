//! [`MemoryStore`]: the ledger's state in memory, as a shared base and a short stack of layers.
//!
//! A block's cost must follow what it touches, not how many records exist. A persistent tree
//! gives cheap copies but makes every write copy a path of nodes, and every read walk one, and
//! both grow with the state once it is larger than the processor's caches. So the state is held
//! in two parts:
//!
//! - **Layers**: the writes of each state not yet settled (a block's writes, in the node), each
//!   in a hash map of its own. A copy of a state shares its layers; a write to a copy goes into a
//!   new layer (or the copy's own top one), so no state ever sees another's writes.
//! - **The base**, shared by a state and every state copied from it: one hash map from key to
//!   values for point reads, and one ordered set of keys for scans. It is written in place, never
//!   copied. Each settle ([`MemoryStore::settle`]) moves a line of layers into it as new
//!   versions; a key keeps an older value as long as some live state still reads the base at
//!   an older version, and only as long as that.
//!
//! A read looks in the state's unsettled layers (a few hash lookups) and then in the base (one).
//! The node settles each finalized block's state, so its unsettled layers are the few blocks
//! above the finalized one. A state whose line was not settled (a sibling of a settled state)
//! stays correct, only slower: its layers never go into the base.
//!
//! A base can keep what every live state reads alike on disk instead ([`MemoryStore::on_disk`],
//! see [`cold`]): memory then holds the values written at versions some live state does not
//! read yet, those waiting to move to the file together (and the batch being written to it)
//! and a bounded number of recently written ones; a read that finds nothing there reads the
//! file, through a bounded cache of recent reads.
//!
//! A state that no one settles (tests, tools) settles itself once it stacks [`MAX_LAYERS`]
//! layers, or when another line holds the base, squashes them into one. The node turns this off
//! ([`MemoryStore::settled_by_hand`]): a base that followed a line finality later abandons would
//! leave the finalized line unable to settle.

mod cold;
#[cfg(test)]
mod threads;

pub use cold::OnDisk;

use crate::{
    Store as _,
    blob::{Blob, Value},
};
use ahash::AHashMap;
use cold::Cold;
use std::{
    cmp::Ordering,
    collections::{BTreeMap, BTreeSet, VecDeque},
    fmt,
    ops::Bound,
    sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak},
    thread::JoinHandle,
};

/// Unsettled layers a state may stack before its writes settle on their own (or, when another
/// line holds the base, are squashed into one layer).
pub const MAX_LAYERS: usize = 32;

/// Entries a detached copy writes between two settles.
const COPY_PART: usize = 1 << 16;

/// Write batches that may wait for the file, the one being written included, before a settle
/// waits for the writer (see `Inner::behind`).
const BEHIND: usize = 3;

/// Keys a scan reads from the base per lock.
const SCAN_BATCH: usize = 256;

/// A state of the ledger: see the module documentation. Cloning is O(layers).
pub struct MemoryStore {
    base: Arc<Base>,
    /// The base version this state reads below its layers.
    view: Arc<Version>,
    /// Bottom first. Layers that settled stay until this state's next write leaves them out
    /// (a copy of it leaves them out too).
    layers: Vec<Arc<Layer>>,
    /// Whether [`MAX_LAYERS`] layers settle (or squash) on their own; copies inherit it.
    settles_itself: bool,
}

/// A version of the base. A live handle keeps what that version reads from being dropped.
#[derive(Debug)]
struct Version(u64);

#[derive(Default)]
struct Layer {
    writes: AHashMap<Blob, Option<Value>>,
    /// The layer's keys in order, made when a scan first needs them (a layer is only written
    /// while no one else holds it, and each write clears this).
    sorted: OnceLock<Vec<Blob>>,
    /// The base version holding this layer's writes, once it settled.
    settled: OnceLock<Arc<Version>>,
}

impl Layer {
    fn sorted(&self) -> &[Blob] {
        self.sorted.get_or_init(|| {
            let mut keys: Vec<Blob> = self.writes.keys().cloned().collect();
            keys.sort_unstable();
            keys
        })
    }

    /// The layer's writes under `[lower, upper)`, in key order.
    fn range<'a>(
        &'a self,
        lower: &'a [u8],
        upper: Option<&'a [u8]>,
    ) -> impl Iterator<Item = (&'a Blob, &'a Option<Value>)> + 'a {
        let keys = self.sorted();
        let start = keys.partition_point(|key| key.as_slice() < lower);
        keys[start..]
            .iter()
            .take_while(move |key| upper.is_none_or(|upper| key.as_slice() < upper))
            .map(|key| (key, &self.writes[key.as_slice()]))
    }
}

struct Base {
    inner: RwLock<Inner>,
    /// The thread writing a batch to the file, if one was started.
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// A key's values by version, oldest first (`None`: deleted at that version).
enum Values {
    One(u64, Option<Value>),
    Many(Vec<(u64, Option<Value>)>),
}

impl Values {
    /// What a reader at version `view` sees here: the newest value (`Some(None)`: deleted)
    /// written at or before it, or `None` when every value here is newer.
    fn entry_at(&self, view: u64) -> Option<Option<&Value>> {
        match self {
            Self::One(version, value) => (*version <= view).then_some(value.as_ref()),
            Self::Many(values) => values
                .iter()
                .rev()
                .find(|(version, _)| *version <= view)
                .map(|(_, value)| value.as_ref()),
        }
    }

    fn push(&mut self, version: u64, value: Option<Value>) {
        match self {
            Self::One(..) => {
                let Self::One(old_version, old) = std::mem::replace(self, Self::Many(Vec::new()))
                else {
                    unreachable!("matched above")
                };
                *self = Self::Many(vec![(old_version, old), (version, value)]);
            }
            Self::Many(values) => values.push((version, value)),
        }
    }

    /// Drops the values no reader at `oldest` or later can see. Returns false when nothing is
    /// left to see (the key is deleted for every such reader).
    fn trim(&mut self, oldest: u64) -> bool {
        if let Self::Many(values) = self {
            let keep = values
                .iter()
                .rposition(|(version, _)| *version <= oldest)
                .unwrap_or(0);
            values.drain(..keep);
            if values.len() == 1 {
                let (version, value) = values.pop().expect("one value");
                *self = Self::One(version, value);
            }
        }
        match self {
            Self::One(version, value) => value.is_some() || *version > oldest,
            Self::Many(_) => true,
        }
    }
}

#[derive(Default)]
struct Inner {
    values: AHashMap<Blob, Values>,
    order: BTreeSet<Blob>,
    /// The newest version.
    latest: u64,
    /// How many keys hold a value at the newest version.
    count: usize,
    /// Every version still handed out, oldest first (dead handles are dropped from the front).
    versions: VecDeque<(u64, Weak<Version>)>,
    /// Keys whose older values (or deletion) may be dropped once no reader is at or before the
    /// version written.
    revisit: VecDeque<(u64, Blob)>,
    /// The keys each version wrote, for as long as a reader may ask what changed since (and,
    /// on disk, until their values move to the file).
    log: VecDeque<(u64, Arc<[Blob]>)>,
    /// On disk: the values every live state reads alike. `values` and `order` then hold the
    /// keys written since the file's version, and up to `cached_values` keys whose value in
    /// memory is the file's (`kept`).
    cold: Option<Cold>,
    /// On disk: keys whose values moved to the file and stayed in memory too, oldest first
    /// (a key may be listed more than once, and one written since is no longer only the file's).
    kept: VecDeque<Blob>,
    /// On disk: a write batch is being written to the file (one at a time).
    writing: bool,
}

/// A write batch on its way to the file: the values every reader at `oldest` or later reads
/// alike, newest per key, that the log's entries up to `oldest` wrote.
struct Batch {
    oldest: u64,
    entries: Vec<(Blob, Option<Value>)>,
    file: Arc<cold::File>,
}

impl Inner {
    /// The oldest version any live state reads.
    fn oldest(&mut self) -> u64 {
        while let Some((version, handle)) = self.versions.front() {
            if handle.strong_count() > 0 {
                return *version;
            }
            self.versions.pop_front();
        }
        self.latest
    }

    fn new_version(&mut self) -> Arc<Version> {
        // One version per settled layer: u64 does not run out.
        self.latest = self.latest.saturating_add(1);
        let version = Arc::new(Version(self.latest));
        self.versions
            .push_back((self.latest, Arc::downgrade(&version)));
        version
    }

    /// What a reader at version `view` sees under `key`; a read of the file is kept among
    /// the recent reads when `keep`.
    fn lookup(&self, key: &[u8], view: u64, keep: bool) -> Option<Value> {
        match self
            .values
            .get(key)
            .and_then(|values| values.entry_at(view))
        {
            Some(found) => found.cloned(),
            // Every live state reads the file's version or a later one.
            None => self.cold.as_ref()?.get(key, keep),
        }
    }

    fn write(&mut self, key: &Blob, version: u64, value: &Option<Value>) {
        // Not kept: memory holds the key from now on.
        let held = self.lookup(key.as_slice(), version, false).is_some();
        match (held, value.is_some()) {
            (false, true) => self.count = self.count.saturating_add(1),
            (true, false) => self.count = self.count.saturating_sub(1),
            _ => {}
        }
        match self.values.get_mut(key.as_slice()) {
            Some(values) => {
                values.push(version, value.clone());
                if self.cold.is_none() {
                    self.revisit.push_back((version, key.clone()));
                }
            }
            // Absent for every reader (not written since the file's version, and not in it):
            // nothing to delete.
            None if value.is_none() && !held => {}
            None => {
                self.values
                    .insert(key.clone(), Values::One(version, value.clone()));
                self.order.insert(key.clone());
            }
        }
    }

    /// The values every live state reads alike (those written at `oldest` or before), newest
    /// per key, once there are a write batch of them and no other batch is being written: to
    /// be written to the file without the lock, and then let go by [`Inner::written`].
    /// Meanwhile memory keeps them, so reads do not depend on when the file is written.
    /// On disk, while a batch is being written: whether the values waiting for the file, that
    /// batch's included, reach [`BEHIND`] write batches. The caller that settled then waits
    /// for the writer, so that a line settled faster than the file is written (a state read
    /// back at start, a copy) does not pile its values up in memory.
    fn behind(&self) -> bool {
        let Some(cold) = self.cold.as_ref() else {
            return false;
        };
        let waiting: usize = self.log.iter().map(|(_, keys)| keys.len()).sum();
        self.writing && waiting >= cold.config.write_batch.max(1).saturating_mul(BEHIND)
    }

    fn batch_for_file(&mut self, oldest: u64) -> Option<Batch> {
        let cold = self.cold.as_ref()?;
        if self.writing {
            return None;
        }
        let end = self.log.partition_point(|(version, _)| *version <= oldest);
        let waiting: usize = self.log.range(..end).map(|(_, keys)| keys.len()).sum();
        if end == 0 || waiting < cold.config.write_batch.max(1) {
            return None;
        }
        let mut keys: Vec<Blob> = self
            .log
            .range(..end)
            .flat_map(|(_, keys)| keys.iter().cloned())
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let entries = keys
            .into_iter()
            .filter_map(|key| {
                let settled = self.values.get(key.as_slice())?.entry_at(oldest)?.cloned();
                Some((key, settled))
            })
            .collect();
        self.writing = true;
        Some(Batch {
            oldest,
            entries,
            file: cold.file(),
        })
    }

    /// The file now holds `batch` (its commit left `table`): reads go to `table`, and memory
    /// lets go of the batch's values but the most recently written `cached_values`.
    fn written(&mut self, batch: Batch, table: cold::ReadOnlyTable<&'static [u8], &'static [u8]>) {
        let Batch {
            oldest, entries, ..
        } = batch;
        self.writing = false;
        let Some(cold) = self.cold.as_mut() else {
            return;
        };
        cold.written(table, entries.iter().map(|(key, _)| key));
        let cached_values = cold.config.cached_values;
        for (key, _) in entries {
            let Some(values) = self.values.get_mut(key.as_slice()) else {
                continue;
            };
            if values.trim(oldest) {
                self.kept.push_back(key);
            } else {
                self.values.remove(key.as_slice());
                self.order.remove(key.as_slice());
            }
        }
        // Versions only grow, so the entries at `oldest` or before are the ones written.
        let end = self.log.partition_point(|(version, _)| *version <= oldest);
        self.log.drain(..end);
        while self.kept.len() > cached_values {
            let key = self.kept.pop_front().expect("longer than the bound");
            // Only a value the file holds too leaves: one value, written at or before the
            // file's version.
            if let Some(Values::One(version, _)) = self.values.get(key.as_slice())
                && *version <= oldest
            {
                self.values.remove(key.as_slice());
                self.order.remove(key.as_slice());
            }
        }
    }

    /// Up to [`SCAN_BATCH`] keys of the range from its start (or its end, when `back`), with
    /// the entries a reader at `view` sees among them, and the last key read (`None`: the range
    /// holds no key).
    fn batch(
        &self,
        bounds: (Bound<&[u8]>, Bound<&[u8]>),
        view: u64,
        back: bool,
    ) -> (Vec<Entry>, Option<Vec<u8>>) {
        let hot = self.order.range::<[u8], _>(bounds);
        let hot: Vec<&Blob> = if back {
            hot.rev().take(SCAN_BATCH).collect()
        } else {
            hot.take(SCAN_BATCH).collect()
        };
        // The file's first keys of the range: every key of it up to the last of these is
        // among them, so the merge below knows the file's value of each key it takes.
        let cold = self
            .cold
            .as_ref()
            .map(|cold| cold.range(bounds, back, SCAN_BATCH))
            .unwrap_or_default();
        let (mut hot, mut cold) = (hot.into_iter().peekable(), cold.into_iter().peekable());
        let mut found = Vec::new();
        let mut last = None;
        for _ in 0..SCAN_BATCH {
            let order = match (hot.peek(), cold.peek()) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                // `Less`: the hot key comes first in the direction read.
                (Some(hot), Some((cold, _))) if back => cold.as_slice().cmp(hot.as_slice()),
                (Some(hot), Some((cold, _))) => hot.as_slice().cmp(cold.as_slice()),
            };
            let (key, filed) = match order {
                Ordering::Less => (hot.next().expect("peeked").clone(), None),
                Ordering::Equal | Ordering::Greater => {
                    if order == Ordering::Equal {
                        hot.next();
                    }
                    let (key, value) = cold.next().expect("peeked");
                    (key, Some(value))
                }
            };
            let value = match self
                .values
                .get(key.as_slice())
                .and_then(|values| values.entry_at(view))
            {
                Some(found) => found.cloned(),
                None => filed,
            };
            if let Some(value) = value {
                found.push((key.as_slice().to_vec(), value.as_slice().to_vec()));
            }
            last = Some(key);
        }
        (found, last.map(|key| key.as_slice().to_vec()))
    }

    /// Drops what no live reader can see any more; on disk, returns the write batch due.
    #[must_use = "a batch for the file must be written: memory holds it until then"]
    fn collect(&mut self) -> Option<Batch> {
        let oldest = self.oldest();
        let batch = self.batch_for_file(oldest);
        while self
            .revisit
            .front()
            .is_some_and(|(version, _)| *version <= oldest)
        {
            let (_, key) = self.revisit.pop_front().expect("checked above");
            if let Some(values) = self.values.get_mut(key.as_slice())
                && !values.trim(oldest)
            {
                self.values.remove(key.as_slice());
                self.order.remove(key.as_slice());
            }
        }
        // On disk, the log also names the values waiting to move to the file: `written` drops
        // its entries once they have.
        while self.cold.is_none()
            && self
                .log
                .front()
                .is_some_and(|(version, _)| *version <= oldest)
        {
            self.log.pop_front();
        }
        batch
    }
}

impl Base {
    fn new(cold: Option<Cold>) -> (Arc<Self>, Arc<Version>) {
        let mut inner = Inner {
            cold,
            ..Inner::default()
        };
        let version = Arc::new(Version(0));
        inner.versions.push_back((0, Arc::downgrade(&version)));
        let base = Arc::new(Self {
            inner: RwLock::new(inner),
            writer: Mutex::new(None),
        });
        (base, version)
    }

    // Nothing done under the lock panics. Should it, a settle cut short leaves values under a
    // version no state was handed (its handle dies with the panic), which every reader passes
    // over, so a poisoned lock is still read; that line can no longer settle, and its states
    // stay correct, only slower.
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Drops what no live reader can see any more, under `inner` (this base's lock), and then
    /// without it writes the batch due, if any, to the file.
    fn collect(self: &Arc<Self>, mut inner: RwLockWriteGuard<'_, Inner>) {
        let batch = inner.collect();
        let behind = inner.behind();
        drop(inner);
        self.write_to_file(batch, behind);
    }

    /// Writes `batch` to the file on a thread of its own, so that neither readers nor the
    /// caller wait for it, and then lets memory go of it; then the batch that became due
    /// meanwhile, if any, and so on. When the file is `behind` (see [`Inner::behind`]), waits
    /// for the writer instead. Call without the lock.
    fn write_to_file(self: &Arc<Self>, batch: Option<Batch>, behind: bool) {
        let Some(mut batch) = batch else {
            if behind {
                self.wait_for_file();
            }
            return;
        };
        // The writer does not keep the base alive: once every state of it is gone, nothing
        // will read the file, which its base removed when dropped.
        let base = Arc::downgrade(self);
        // Held while the thread starts, so that a writer started after this one (only once
        // this one has let go of its batch) cannot store its handle before this one does.
        let mut handle = self.writer();
        let writer = std::thread::Builder::new()
            .name("equa-state-file".into())
            .spawn(move || {
                loop {
                    let table = batch.file.write(&batch.entries);
                    let Some(base) = base.upgrade() else {
                        break;
                    };
                    let mut inner = base.write();
                    inner.written(batch, table);
                    let oldest = inner.oldest();
                    match inner.batch_for_file(oldest) {
                        Some(next) => batch = next,
                        None => break,
                    }
                }
            })
            .unwrap_or_else(|error| cold::failed("starting the state file's writer", error));
        // The batch before this one was written (`writing` let this one start): its thread
        // has ended or is ending.
        *handle = Some(writer);
    }

    fn writer(&self) -> MutexGuard<'_, Option<JoinHandle<()>>> {
        self.writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until no batch is being written to the file.
    fn wait_for_file(&self) {
        // A thread that ends starts no other, so one wait suffices.
        let writer = self.writer().take();
        if let Some(writer) = writer {
            // The writer aborts the process on failure, so it cannot end in a panic.
            let _ = writer.join();
        }
    }
}

impl MemoryStore {
    /// An empty state whose base is held in memory.
    pub fn new() -> Self {
        Self::on(Base::new(None))
    }

    /// An empty state whose base keeps what every live state reads alike in a file of its own
    /// in `config.dir`, behind a page cache of `config.cache_bytes` (see [`OnDisk`]): memory
    /// then holds the writes of the versions in flight and the cache, not the whole state. The
    /// file is removed when the base is dropped. Errors when the file cannot be made.
    pub fn on_disk(config: &OnDisk) -> std::io::Result<Self> {
        Ok(Self::on(Base::new(Some(Cold::create(config)?))))
    }

    fn on((base, view): (Arc<Base>, Arc<Version>)) -> Self {
        Self {
            base,
            view,
            layers: Vec::new(),
            settles_itself: true,
        }
    }

    /// Waits until its base writes no batch to the file: memory then holds no batch that is
    /// only waiting for it. Reads never need this; measurements of memory do.
    pub fn wait_for_file(&self) {
        self.base.wait_for_file();
    }

    /// Where this state's base keeps its settled values: `None` in memory.
    pub fn disk(&self) -> Option<OnDisk> {
        Some(self.base.read().cold.as_ref()?.config.clone())
    }

    /// An empty state whose base is held where this one's is.
    ///
    /// When this state's base is on disk and a new file cannot be made there, the process
    /// aborts (see [`cold`]).
    pub fn empty_like(&self) -> Self {
        match self.disk() {
            None => Self::new(),
            Some(config) => Self::on_disk(&config).unwrap_or_else(|error| {
                cold::failed(
                    &format!("a new state file in {}", config.dir.display()),
                    error,
                )
            }),
        }
    }

    /// This state, settled now (see [`MemoryStore::settle`]); from then on it and every state
    /// copied from it settles only when told, and layers stack up until then however many
    /// there are.
    pub fn settled_by_hand(mut self) -> Self {
        self.settles_itself = false;
        self.settle();
        self.collapse_and_collect();
        self
    }

    /// The version this state reads the base at, and its layers above it: the layers up to
    /// the newest settled one read from the base.
    fn live(&self) -> (&Arc<Version>, &[Arc<Layer>]) {
        match self
            .layers
            .iter()
            .rposition(|layer| layer.settled.get().is_some())
        {
            Some(at) => (
                self.layers[at].settled.get().expect("found settled"),
                &self.layers[at.saturating_add(1)..],
            ),
            None => (&self.view, &self.layers),
        }
    }

    /// A copy of this state's entries on a base of its own: what it settles, and what states
    /// copied from it settle, never waits on this state or its other copies. O(n).
    ///
    /// A base keeps every value that a live state sharing it may still read, so a state kept
    /// for good (a chain's genesis) should hand out detached copies to build on: otherwise the
    /// base keeps, for every key written since, each value it held.
    pub fn detached(&self) -> Self {
        let mut copy = self.empty_like();
        copy.settles_itself = self.settles_itself;
        for (written, (key, value)) in self.scan_prefix(&[]).enumerate() {
            copy.put(&key, value);
            // On disk, a copy's entries move to the file in parts, not held whole in memory.
            if written % COPY_PART == COPY_PART - 1 {
                copy.settle();
            }
        }
        copy.settle();
        copy.collapse_and_collect();
        copy
    }

    /// Drops the layers that settled.
    fn collapse(&mut self) {
        let (view, layers) = self.live();
        if layers.len() != self.layers.len() {
            let (view, layers) = (view.clone(), layers.to_vec());
            self.view = view;
            self.layers = layers;
        }
    }

    /// Drops the layers that settled, and then what no live state reads any more (which the
    /// settle could not: this state still read the version before).
    fn collapse_and_collect(&mut self) {
        self.collapse();
        Base::collect(&self.base, self.base.write());
    }

    /// The layer this state writes into: its own top layer, or a new one.
    fn top(&mut self) -> &mut AHashMap<Blob, Option<Value>> {
        self.collapse();
        let own = self
            .layers
            .last_mut()
            .is_some_and(|layer| Arc::get_mut(layer).is_some());
        if !own {
            if self.settles_itself && self.layers.len() >= MAX_LAYERS {
                self.squash();
            }
            self.layers.push(Arc::new(Layer::default()));
        }
        let layer = Arc::get_mut(self.layers.last_mut().expect("a layer")).expect("own layer");
        layer.sorted = OnceLock::new();
        &mut layer.writes
    }

    /// Settles this state's layers, or when another line holds the base, merges them into one.
    fn squash(&mut self) {
        if !self.settle() {
            let mut writes = AHashMap::new();
            for layer in &self.layers {
                writes.extend(
                    layer
                        .writes
                        .iter()
                        .map(|(key, value)| (key.clone(), value.clone())),
                );
            }
            self.layers = vec![Arc::new(Layer {
                writes,
                ..Layer::default()
            })];
        }
        self.collapse();
    }

    /// Moves this state's unsettled layers into the shared base, oldest first, each as a new
    /// version. Afterwards reads of this state and of every state that shares those layers (its
    /// descendants) find their values in the base. Returns true when nothing is left to
    /// settle; false, changing nothing, when the base has moved on along another line (a
    /// sibling of this state, or a descendant of a sibling, settled first): such a state stays
    /// correct and only reads more layers.
    ///
    /// The base follows one line of states, so settle only states that will not be abandoned
    /// for a sibling: the node settles each finalized block's state.
    pub fn settle(&self) -> bool {
        let mut inner = self.base.write();
        let (view, layers) = self.live();
        if layers.is_empty() {
            return true;
        }
        if view.0 != inner.latest {
            return false;
        }
        for layer in layers {
            let version = inner.new_version();
            for (key, value) in &layer.writes {
                inner.write(key, version.0, value);
            }
            let keys: Arc<[Blob]> = layer.writes.keys().cloned().collect();
            inner.log.push_back((version.0, keys));
            layer
                .settled
                .set(version)
                .expect("a layer settles once: the base lock is held");
        }
        Base::collect(&self.base, inner);
        true
    }

    /// Every entry whose key starts with `prefix`, in key order (or reversed, from the back).
    /// Only the entries under the prefix are visited; the base is read a batch of keys at a time.
    pub fn scan_prefix(&self, prefix: &[u8]) -> Scan {
        let upper = successor(prefix);
        let (view, layers) = self.live();
        let mut above: BTreeMap<&[u8], &Option<Value>> = BTreeMap::new();
        for layer in layers {
            for (key, value) in layer.range(prefix, upper.as_deref()) {
                above.insert(key.as_slice(), value);
            }
        }
        let above: Vec<Written> = above
            .into_iter()
            .map(|(key, value)| (key.to_vec(), value.as_ref().map(|v| v.as_slice().to_vec())))
            .collect();
        let below = BaseScan {
            base: self.base.clone(),
            view: view.clone(),
            lower: Bound::Included(prefix.to_vec()),
            upper: upper.map_or(Bound::Unbounded, Bound::Excluded),
            read: false,
            front: VecDeque::new(),
            back: VecDeque::new(),
        };
        Scan {
            above: Ends::new(above.into_iter()),
            below: Ends::new(below),
        }
    }

    /// The keys whose values differ between `earlier` and `self`: added, changed or removed,
    /// in key order. For states that share a base, only the keys either wrote since the older
    /// of the two is visited, so the cost follows what changed between them, not how many
    /// records exist.
    pub fn changed_keys(&self, earlier: &Self) -> impl Iterator<Item = Vec<u8>> + use<> {
        let mut keys: BTreeSet<Vec<u8>> = BTreeSet::new();
        if Arc::ptr_eq(&self.base, &earlier.base) {
            let (view, layers) = self.live();
            let (earlier_view, earlier_layers) = earlier.live();
            for layer in layers.iter().chain(earlier_layers) {
                keys.extend(layer.writes.keys().map(|key| key.as_slice().to_vec()));
            }
            let (from, to) = (view.0.min(earlier_view.0), view.0.max(earlier_view.0));
            let inner = self.base.read();
            let start = inner.log.partition_point(|(version, _)| *version <= from);
            for (_, written) in inner
                .log
                .range(start..)
                .take_while(|(version, _)| *version <= to)
            {
                keys.extend(written.iter().map(|key| key.as_slice().to_vec()));
            }
            drop(inner);
            keys.retain(|key| self.get_value(key) != earlier.get_value(key));
        } else {
            let mut now = self.scan_prefix(&[]).peekable();
            let mut then = earlier.scan_prefix(&[]).peekable();
            loop {
                let order = match (now.peek(), then.peek()) {
                    (None, None) => break,
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (Some(a), Some(b)) => a.0.cmp(&b.0),
                };
                match order {
                    Ordering::Less => keys.extend(now.next().map(|(key, _)| key)),
                    Ordering::Greater => keys.extend(then.next().map(|(key, _)| key)),
                    Ordering::Equal => {
                        let (key, value) = now.next().expect("peeked");
                        if then.next().is_some_and(|(_, old)| old != value) {
                            keys.insert(key);
                        }
                    }
                }
            }
        }
        keys.into_iter()
    }

    /// The value under `key`, compared or measured without the caller owning a copy.
    fn get_value(&self, key: &[u8]) -> Option<Value> {
        let (view, layers) = self.live();
        for layer in layers.iter().rev() {
            if let Some(value) = layer.writes.get(key) {
                return value.clone();
            }
        }
        self.base.read().lookup(key, view.0, true)
    }

    /// Whether `key` holds a value.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.get_value(key).is_some()
    }

    /// The length of the value under `key`.
    pub fn value_len(&self, key: &[u8]) -> Option<usize> {
        self.get_value(key).map(|value| value.as_slice().len())
    }

    /// How many entries the state holds: O(1) for a state that reads the newest version of its
    /// base with no layers above it, and otherwise O(n) (it counts them).
    pub fn len(&self) -> usize {
        let (view, layers) = self.live();
        if layers.is_empty() {
            let inner = self.base.read();
            if inner.latest == view.0 {
                return inner.count;
            }
        }
        self.scan_prefix(&[]).count()
    }

    pub fn is_empty(&self) -> bool {
        self.scan_prefix(&[]).next().is_none()
    }

    /// A digest of the whole contents, for determinism checks. It is not the node's state root
    /// (that comes from the authenticated store), but two stores with equal contents, and only
    /// those, have equal digests.
    pub fn digest(&self) -> types::Digest {
        use commonware_cryptography::{Hasher, Sha256};
        let mut hasher = Sha256::default();
        hasher.update(b"EQUA_MEMORY_STORE_V1");
        for (key, value) in self.scan_prefix(&[]) {
            hasher.update(&(key.len() as u64).to_be_bytes());
            hasher.update(&key);
            hasher.update(&(value.len() as u64).to_be_bytes());
            hasher.update(&value);
        }
        hasher.finalize().1
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for MemoryStore {
    /// A copy that shares this state's base and layers; layers that settled are left out.
    fn clone(&self) -> Self {
        let (view, layers) = self.live();
        Self {
            base: self.base.clone(),
            view: view.clone(),
            layers: layers.to_vec(),
            settles_itself: self.settles_itself,
        }
    }
}

impl PartialEq for MemoryStore {
    fn eq(&self, other: &Self) -> bool {
        if Arc::ptr_eq(&self.base, &other.base) {
            let ((view, layers), (other_view, other_layers)) = (self.live(), other.live());
            if view.0 == other_view.0
                && layers.len() == other_layers.len()
                && layers
                    .iter()
                    .zip(other_layers)
                    .all(|(a, b)| Arc::ptr_eq(a, b))
            {
                return true;
            }
        }
        self.scan_prefix(&[]).eq(other.scan_prefix(&[]))
    }
}

impl Eq for MemoryStore {}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.scan_prefix(&[])).finish()
    }
}

impl crate::Store for MemoryStore {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.get_value(key).map(|value| value.as_slice().to_vec())
    }

    fn put(&mut self, key: &[u8], value: Vec<u8>) {
        self.top().insert(Blob::from(key), Some(Value::from(value)));
    }

    fn delete(&mut self, key: &[u8]) {
        self.top().insert(Blob::from(key), None);
    }
}

/// A key and its value.
type Entry = (Vec<u8>, Vec<u8>);

/// A key and what a layer wrote under it (`None`: deleted).
type Written = (Vec<u8>, Option<Vec<u8>>);

/// The entries of a [`MemoryStore`] under a prefix, in key order from either end.
pub struct Scan {
    /// The unsettled layers' writes under the prefix (`None`: deleted), newest winning.
    above: Ends<std::vec::IntoIter<Written>>,
    below: Ends<BaseScan>,
}

impl fmt::Debug for Scan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scan").finish_non_exhaustive()
    }
}

impl Iterator for Scan {
    type Item = (Vec<u8>, Vec<u8>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let order = match (self.above.front(), self.below.front()) {
                (None, None) => return None,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(above), Some(below)) => above.0.cmp(&below.0),
            };
            if order == Ordering::Greater {
                return self.below.take_front();
            }
            if order == Ordering::Equal {
                self.below.take_front();
            }
            if let Some((key, Some(value))) = self.above.take_front() {
                return Some((key, value));
            }
        }
    }
}

impl DoubleEndedIterator for Scan {
    fn next_back(&mut self) -> Option<Self::Item> {
        loop {
            let order = match (self.above.back(), self.below.back()) {
                (None, None) => return None,
                (Some(_), None) => Ordering::Greater,
                (None, Some(_)) => Ordering::Less,
                (Some(above), Some(below)) => above.0.cmp(&below.0),
            };
            if order == Ordering::Less {
                return self.below.take_back();
            }
            if order == Ordering::Equal {
                self.below.take_back();
            }
            if let Some((key, Some(value))) = self.above.take_back() {
                return Some((key, value));
            }
        }
    }
}

/// A double-ended iterator whose next item from either end can be looked at before it is taken.
struct Ends<I: DoubleEndedIterator> {
    inner: I,
    front: Option<I::Item>,
    back: Option<I::Item>,
}

impl<I: DoubleEndedIterator> Ends<I> {
    fn new(inner: I) -> Self {
        Self {
            inner,
            front: None,
            back: None,
        }
    }

    fn front(&mut self) -> Option<&I::Item> {
        if self.front.is_none() {
            // The last item may already be held at the back.
            self.front = self.inner.next().or_else(|| self.back.take());
        }
        self.front.as_ref()
    }

    fn back(&mut self) -> Option<&I::Item> {
        if self.back.is_none() {
            self.back = self.inner.next_back().or_else(|| self.front.take());
        }
        self.back.as_ref()
    }

    fn take_front(&mut self) -> Option<I::Item> {
        self.front();
        self.front.take()
    }

    fn take_back(&mut self) -> Option<I::Item> {
        self.back();
        self.back.take()
    }
}

/// The base's entries in a key range as one version sees them, read [`SCAN_BATCH`] keys per
/// lock so that a long scan never holds the base from a settle.
struct BaseScan {
    base: Arc<Base>,
    /// Held so that what this version sees is kept until the scan ends.
    view: Arc<Version>,
    /// What is left to read: the two ends move toward each other and never cross.
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    /// Set once every key between the ends has been read.
    read: bool,
    front: VecDeque<(Vec<u8>, Vec<u8>)>,
    back: VecDeque<(Vec<u8>, Vec<u8>)>,
}

impl BaseScan {
    /// Whether keys may remain between the two ends (a range whose ends cross or meet
    /// excluded cannot be asked of a B-tree).
    fn open(&self) -> bool {
        if self.read {
            return false;
        }
        match (&self.lower, &self.upper) {
            (Bound::Unbounded, _) | (_, Bound::Unbounded) => true,
            (Bound::Included(low), Bound::Included(high)) => low <= high,
            (Bound::Included(low) | Bound::Excluded(low), Bound::Excluded(high))
            | (Bound::Excluded(low), Bound::Included(high)) => low < high,
        }
    }

    fn bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (
            self.lower.as_ref().map(Vec::as_slice),
            self.upper.as_ref().map(Vec::as_slice),
        )
    }

    /// Reads keys from the front until one visible entry is found or the range is read.
    fn fill_front(&mut self) {
        while self.front.is_empty() && self.open() {
            let (found, last) = self.base.read().batch(self.bounds(), self.view.0, false);
            self.front.extend(found);
            match last {
                Some(last) => self.lower = Bound::Excluded(last),
                None => self.read = true,
            }
        }
    }

    fn fill_back(&mut self) {
        while self.back.is_empty() && self.open() {
            let (found, last) = self.base.read().batch(self.bounds(), self.view.0, true);
            self.back.extend(found);
            match last {
                Some(last) => self.upper = Bound::Excluded(last),
                None => self.read = true,
            }
        }
    }
}

impl Iterator for BaseScan {
    type Item = (Vec<u8>, Vec<u8>);

    fn next(&mut self) -> Option<Self::Item> {
        self.fill_front();
        // Once the range is read, what is left was read from the back.
        self.front.pop_front().or_else(|| self.back.pop_back())
    }
}

impl DoubleEndedIterator for BaseScan {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.fill_back();
        self.back.pop_front().or_else(|| self.front.pop_back())
    }
}

/// The first key after every key that starts with `prefix`, or `None` when none is (an empty
/// prefix, or one of 0xFF bytes only).
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|byte| *byte != 0xFF)?;
    let mut end = prefix[..=last].to_vec();
    // Not 0xFF, so the increment cannot wrap.
    end[last] = end[last].wrapping_add(1);
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;
    use proptest::prelude::*;
    use std::path::PathBuf;

    type Model = BTreeMap<Vec<u8>, Vec<u8>>;

    fn key() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(vec![0u8, 1, 2, 0xFF]), 0..4)
    }

    /// The model's entries under `prefix`, taken from the front (`true`) or the back in the
    /// order `ends` gives, then the rest from the front.
    fn take_ends<I: DoubleEndedIterator<Item = (Vec<u8>, Vec<u8>)>>(
        mut entries: I,
        ends: &[bool],
    ) -> Vec<Option<(Vec<u8>, Vec<u8>)>> {
        let mut taken: Vec<_> = ends
            .iter()
            .map(|front| {
                if *front {
                    entries.next()
                } else {
                    entries.next_back()
                }
            })
            .collect();
        taken.extend(entries.map(Some));
        taken
    }

    /// An empty state, in memory or on disk; on disk with a cache of a few pages, so that
    /// reads go to the file, and every value moving to it at the first settle that can.
    /// An empty state, on disk moving values to the file `Some((n, _, _))` at a time, keeping
    /// `Some((_, m, _))` of them in memory too and up to `Some((_, _, r))` reads of the file,
    /// or in memory.
    fn empty_batched(on_disk: Option<(usize, usize, usize)>) -> MemoryStore {
        match on_disk {
            Some((write_batch, cached_values, read_values)) => {
                let config = OnDisk {
                    dir: std::env::temp_dir().join("equa-ledger-tests"),
                    cache_bytes: 64 << 10,
                    write_batch,
                    cached_values,
                    read_values,
                };
                MemoryStore::on_disk(&config).expect("a state file")
            }
            None => MemoryStore::new(),
        }
    }

    fn check(store: &MemoryStore, model: &Model) {
        for (key, value) in model {
            assert_eq!(store.get(key).as_ref(), Some(value));
        }
        let entries: Vec<(Vec<u8>, Vec<u8>)> = store.scan_prefix(&[]).collect();
        let expected: Vec<(Vec<u8>, Vec<u8>)> =
            model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(entries, expected);
    }

    #[test]
    fn a_long_line_of_copies_settles_itself_and_a_sibling_line_is_squashed() {
        let mut line = MemoryStore::new();
        let mut model = Model::new();
        let mut states = Vec::new();
        for height in 0..200u64 {
            let mut next = line.clone();
            next.put(&height.to_be_bytes(), vec![1]);
            next.put(b"tip", height.to_be_bytes().to_vec());
            states.push((line, model.clone()));
            model.insert(height.to_be_bytes().to_vec(), vec![1]);
            model.insert(b"tip".to_vec(), height.to_be_bytes().to_vec());
            line = next;
            assert!(line.live().1.len() <= MAX_LAYERS);
        }
        check(&line, &model);
        // A sibling line from an early state never settles (the base follows the first
        // line), and is squashed instead.
        let (mut fork, mut fork_model) = states[3].clone();
        for height in 0..100u64 {
            let mut next = fork.clone();
            next.put(b"fork", height.to_be_bytes().to_vec());
            fork_model.insert(b"fork".to_vec(), height.to_be_bytes().to_vec());
            fork = next;
            assert!(fork.live().1.len() <= MAX_LAYERS);
        }
        assert!(!fork.settle());
        check(&fork, &fork_model);
        // By hand, layers stack until settled, and then read from the base.
        let mut by_hand = line.clone().settled_by_hand();
        assert!(by_hand.live().1.is_empty());
        for height in 0..100u64 {
            let mut next = by_hand.clone();
            next.put(b"tip", height.to_be_bytes().to_vec());
            by_hand = next;
        }
        assert_eq!(by_hand.live().1.len(), 100);
        assert!(by_hand.settle());
        assert!(by_hand.live().1.is_empty());
        assert_eq!(by_hand.get(b"tip"), Some(99u64.to_be_bytes().to_vec()));
        // Every state kept reads as it did.
        for (state, model) in &states {
            check(state, model);
        }
    }

    #[test]
    fn values_no_live_state_can_see_are_dropped() {
        let mut store = MemoryStore::new();
        store.put(b"k", vec![1]);
        store.put(b"gone", vec![1]);
        assert!(store.settle());
        let old = store.clone();
        for value in 2..10u8 {
            let mut next = store.clone();
            next.put(b"k", vec![value]);
            assert!(next.settle());
            store = next;
        }
        store = store.clone();
        store.delete(b"gone");
        assert!(store.settle());
        let versions = |store: &MemoryStore| match store.base.read().values.get(&b"k"[..]) {
            Some(Values::Many(values)) => values.len(),
            Some(Values::One(..)) => 1,
            None => 0,
        };
        // The old state still reads its values.
        assert_eq!(old.get(b"k"), Some(vec![1]));
        assert_eq!(old.get(b"gone"), Some(vec![1]));
        assert!(versions(&store) > 1);
        drop(old);
        let mut next = store.clone();
        next.put(b"other", vec![0]);
        assert!(next.settle());
        drop(store);
        let mut last = next.clone();
        last.put(b"other", vec![1]);
        assert!(last.settle());
        drop(next);
        let mut after = last.clone();
        after.put(b"other", vec![2]);
        assert!(after.settle());
        assert_eq!(versions(&after), 1);
        assert!(!after.base.read().values.contains_key(&b"gone"[..]));
        assert_eq!(after.get(b"k"), Some(vec![9]));
    }

    #[test]
    fn a_state_on_disk_keeps_its_settled_values_in_its_file_and_removes_it_when_dropped() {
        let dir = std::env::temp_dir().join(format!("equa-on-disk-{}", std::process::id()));
        let config = OnDisk {
            dir: dir.clone(),
            cache_bytes: 64 << 10,
            write_batch: 1,
            cached_values: 0,
            read_values: 0,
        };
        let files = || std::fs::read_dir(&dir).map_or(0, |entries| entries.count());
        let mut store = MemoryStore::on_disk(&config).expect("a state file");
        assert_eq!(files(), 1);
        let mut model = Model::new();
        for k in 0..10_000u32 {
            store.put(&k.to_be_bytes(), vec![k as u8; (k % 100) as usize]);
            model.insert(k.to_be_bytes().to_vec(), vec![k as u8; (k % 100) as usize]);
        }
        let store = store.settled_by_hand();
        store.base.wait_for_file();
        assert_eq!(sizes(&store).keys, 0, "nothing is left in memory");
        assert_eq!(store.len(), 10_000);
        check(&store, &model);
        // A write and a delete above the file, then settled into it.
        let mut next = store.clone();
        next.put(&7u32.to_be_bytes(), b"new".to_vec());
        next.delete(&8u32.to_be_bytes());
        next.delete(b"never written");
        assert_eq!(next.len(), 9_999);
        assert_eq!(store.get(&8u32.to_be_bytes()), Some(vec![8; 8]));
        assert!(next.settle());
        next.base.wait_for_file();
        // The older state still reads its values, from memory until it is dropped.
        assert_eq!(store.get(&7u32.to_be_bytes()), Some(vec![7; 7]));
        assert_eq!(store.get(&8u32.to_be_bytes()), Some(vec![8; 8]));
        assert_eq!(sizes(&next).keys, 2);
        drop(store);
        let mut last = next.clone();
        last.put(b"z", vec![]);
        assert!(last.settle());
        drop(next);
        let mut after = last.clone();
        after.put(b"z", vec![1]);
        assert!(after.settle());
        after.base.wait_for_file();
        drop(last);
        assert!(sizes(&after).keys <= 1);
        model.insert(7u32.to_be_bytes().to_vec(), b"new".to_vec());
        model.remove(&8u32.to_be_bytes()[..]);
        model.insert(b"z".to_vec(), vec![1]);
        check(&after, &model);
        assert_eq!(after.len(), model.len());
        // A detached copy is on disk too, in a file of its own.
        let copy = after.detached();
        assert_eq!(copy.disk(), Some(config));
        assert_eq!(files(), 2);
        check(&copy, &model);
        assert!(copy == after);
        // A writer that is letting memory go of its batch holds its base for that long.
        copy.wait_for_file();
        after.wait_for_file();
        drop((after, copy));
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(files(), 0, "each base removes its file: {left:?}");
        let _ = std::fs::remove_dir(&dir);
    }

    #[test]
    fn a_state_on_disk_keeps_its_most_recently_written_values_in_memory_up_to_the_bound() {
        let config = OnDisk {
            dir: std::env::temp_dir().join("equa-ledger-tests"),
            cache_bytes: 64 << 10,
            write_batch: 1,
            cached_values: 100,
            read_values: 0,
        };
        let mut store = MemoryStore::on_disk(&config)
            .expect("a state file")
            .settled_by_hand();
        let mut model = Model::new();
        let key = |n: u32| n.to_be_bytes().to_vec();
        for round in 0..20u32 {
            let mut next = store.clone();
            for k in 0..50 {
                next.put(&key(round * 50 + k), vec![round as u8]);
                model.insert(key(round * 50 + k), vec![round as u8]);
            }
            // Rewrite a key that moved to the file long ago: it is kept again.
            next.put(&key(0), vec![round as u8]);
            model.insert(key(0), vec![round as u8]);
            assert!(next.settle());
            next.base.wait_for_file();
            store = next;
            let now = sizes(&store);
            // The bound, and two rounds' keys that a live state may still read older values
            // of: the state before this one still holds the version its parent read.
            assert!(now.keys <= 100 + 2 * 51, "round {round}: {now:?}");
        }
        check(&store, &model);
        assert_eq!(store.len(), 1_000);
        let inner = store.base.read();
        assert!(inner.values.contains_key(&key(999)[..]));
        assert!(inner.values.contains_key(&key(0)[..]));
        assert!(!inner.values.contains_key(&key(500)[..]));
        assert_eq!(
            inner.cold.as_ref().map(|cold| cold.get(&key(500), true)),
            Some(Some(Value::from(vec![10])))
        );
    }

    /// Reads of the file stay in memory, absent keys too, up to the bound; a value that moves
    /// to the file later is what the next read sees, never the read kept before it.
    #[test]
    fn a_state_on_disk_keeps_its_recent_reads_of_the_file_and_never_a_stale_one() {
        let config = OnDisk {
            dir: std::env::temp_dir().join("equa-ledger-tests"),
            cache_bytes: 64 << 10,
            write_batch: 1,
            cached_values: 0,
            read_values: 10,
        };
        let key = |n: u32| n.to_be_bytes().to_vec();
        // The next state of the line, `write` done to it, settled once no older state lives:
        // what it wrote is then in the file alone.
        let next = |store: MemoryStore, write: &dyn Fn(&mut MemoryStore)| {
            let mut next = store.clone();
            drop(store);
            write(&mut next);
            assert!(next.settle());
            next.wait_for_file();
            let mut after = next.clone();
            drop(next);
            after.put(b"tick", vec![0]);
            assert!(after.settle());
            after.base.wait_for_file();
            after
        };
        let recent = |store: &MemoryStore| {
            let inner = store.base.read();
            let recent = inner.cold.as_ref().expect("on disk").recent();
            (recent.newer.len() + recent.older.len(), recent.newer.len())
        };
        let store = MemoryStore::on_disk(&config)
            .expect("a state file")
            .settled_by_hand();
        let store = next(store, &|store| {
            for k in 0..100 {
                store.put(&key(k), vec![1]);
            }
        });
        assert_eq!(recent(&store), (0, 0), "writing reads nothing into it");
        // Every key is in the file alone: each read walks it once and is then kept.
        assert_eq!(store.get(&key(7)), Some(vec![1]));
        assert_eq!(store.get(&key(500)), None);
        assert_eq!(recent(&store), (2, 2));
        // Written again, and the absent key created: both move to the file, and the reads kept
        // of their old values go.
        let store = next(store, &|store| {
            store.put(&key(7), vec![2]);
            store.put(&key(500), vec![3]);
        });
        assert_eq!(recent(&store), (0, 0));
        assert_eq!(store.get(&key(7)), Some(vec![2]));
        assert_eq!(store.get(&key(500)), Some(vec![3]));
        let store = next(store, &|store| store.delete(&key(7)));
        assert_eq!(store.get(&key(7)), None);
        // Many reads keep at most the bound, and a key read often stays.
        for k in 0..100 {
            assert_eq!(store.get(&key(k)).is_some(), k != 7);
            assert_eq!(store.get(&key(500)), Some(vec![3]));
            assert!(recent(&store).0 <= 10, "{:?}", recent(&store));
        }
        let inner = store.base.read();
        let recent = inner.cold.as_ref().expect("on disk").recent();
        assert!(recent.newer.contains_key(&key(500)[..]));
    }

    /// A line settled faster than the file is written (a state read back at start) waits for
    /// the writer rather than piling its values up in memory: what memory holds stays within
    /// [`BEHIND`] write batches and the layers in flight, however long the line.
    #[test]
    fn a_line_settled_faster_than_the_file_is_written_waits_for_it() {
        const LAYER: u64 = 2_000;
        let mut store = empty_batched(Some((LAYER as usize, 0, 0))).settled_by_hand();
        // A disk slower than the line: each batch takes 30 ms to write.
        let file = store.base.read().cold.as_ref().expect("on disk").file();
        file.delay_ms
            .store(30, std::sync::atomic::Ordering::Relaxed);
        let mut model = Model::new();
        let mut peak = 0;
        for round in 0..60u64 {
            let mut next = store.clone();
            drop(store);
            for k in round * LAYER..(round + 1) * LAYER {
                let key = types::hash(b"spread", &[&k.to_be_bytes()]).0.to_vec();
                next.put(&key, vec![1; 16]);
                model.insert(key, vec![1; 16]);
            }
            assert!(next.settle());
            store = next;
            let now = sizes(&store);
            peak = peak.max(now.stored_values);
            assert!(
                now.stored_values <= (BEHIND + 2) * LAYER as usize,
                "round {round}: {now:?}"
            );
        }
        store.wait_for_file();
        check(&store, &model);
        eprintln!("peak {peak} values in memory");
    }

    /// Every state of a base dropped while a batch is being written: the file goes with the
    /// base, and the writer writes no more batches to it.
    #[test]
    fn the_file_goes_when_the_last_state_is_dropped_even_while_a_batch_is_written() {
        let dir = std::env::temp_dir().join(format!("equa-dropped-{}", std::process::id()));
        let config = OnDisk {
            dir: dir.clone(),
            cache_bytes: 1 << 20,
            write_batch: 1,
            cached_values: 0,
            read_values: 0,
        };
        let files = || std::fs::read_dir(&dir).map_or(0, |entries| entries.count());
        let mut store = MemoryStore::on_disk(&config).expect("a state file");
        for k in 0..200_000u64 {
            store.put(
                &k.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes(),
                vec![1; 32],
            );
        }
        let store = store.settled_by_hand();
        let file = store.base.read().cold.as_ref().expect("on disk").file();
        file.delay_ms
            .store(200, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(files(), 1);
        let weak = Arc::downgrade(&store.base);
        drop(store);
        assert!(
            weak.upgrade().is_none(),
            "the writer does not hold the base"
        );
        let left = files();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(left, 0, "the file outlives every state of its base");
    }

    /// Bulk loads (a restore, a copy) settled without pause, faster than a slowed disk takes
    /// them: memory holds at most [`BEHIND`] write batches and one settle's writes.
    #[test]
    fn a_bulk_load_stays_within_its_write_batches_in_memory() {
        let write_batch = 1usize << 12;
        let config = OnDisk {
            dir: std::env::temp_dir().join("equa-ledger-tests"),
            cache_bytes: 1 << 20,
            write_batch,
            cached_values: 0,
            read_values: 0,
        };
        let mut store = MemoryStore::on_disk(&config)
            .expect("a state file")
            .settled_by_hand();
        let file = store.base.read().cold.as_ref().expect("on disk").file();
        file.delay_ms.store(5, std::sync::atomic::Ordering::Relaxed);
        let part = 1u64 << 12;
        let mut peak = 0usize;
        for round in 0..64u64 {
            for k in 0..part {
                let key = (round * part + k).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                store.put(&key.to_be_bytes(), vec![round as u8; 32]);
            }
            assert!(store.settle());
            peak = peak.max(store.base.read().values.len());
        }
        store.wait_for_file();
        let bound = BEHIND * write_batch + part as usize;
        assert!(
            peak <= bound,
            "memory held {peak} values at once (bound {bound})"
        );
        assert_eq!(store.len(), 64 * part as usize);
    }

    /// A read of the file that fails must stop the process: the ledger catches a call's panic
    /// as the call's failure, so a panic would let this node alone reach another state.
    #[test]
    fn a_failed_read_of_the_file_stops_the_process_not_just_the_call() {
        const RUN: &str = "EQUA_TEST_FAILED_READ";
        let dir = std::env::temp_dir().join(format!("equa-failed-read-{}", std::process::id()));
        if std::env::var_os(RUN).is_some() {
            let config = OnDisk {
                dir: dir.clone(),
                cache_bytes: 64 << 10,
                write_batch: 1,
                cached_values: 0,
                read_values: 0,
            };
            let mut store = MemoryStore::on_disk(&config).expect("a state file");
            for k in 0..20_000u64 {
                store.put(&k.to_be_bytes(), vec![1; 100]);
            }
            let mut store = store.settled_by_hand();
            store.base.wait_for_file();
            // The disk fails under the node.
            for entry in std::fs::read_dir(&dir).expect("the directory") {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(entry.expect("an entry").path())
                    .and_then(|file| file.set_len(0))
                    .expect("the file is cut");
            }
            let mut overlay = crate::Overlay::new(&mut store);
            let call = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let balance = crate::Store::get(&overlay, &12_345u64.to_be_bytes());
                crate::Store::put(&mut overlay, b"out", balance.unwrap_or_default());
            }));
            panic!("the call went on after the read failed: {}", call.is_ok());
        }
        let output = std::process::Command::new(std::env::current_exe().expect("this test"))
            .args([
                "--exact",
                "memory::tests::a_failed_read_of_the_file_stops_the_process_not_just_the_call",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(RUN, "1")
            .output()
            .expect("the test runs again");
        let _ = std::fs::remove_dir_all(&dir);
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            output.status.signal(),
            Some(6),
            "SIGABRT: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stderr).contains("reading the state file failed"));
    }

    #[test]
    fn a_state_on_disk_cannot_be_made_where_no_file_can_be() {
        let config = OnDisk {
            dir: PathBuf::from("/proc/equa-no-such-dir"),
            cache_bytes: 1 << 20,
            write_batch: 1,
            cached_values: 0,
            read_values: 0,
        };
        assert!(MemoryStore::on_disk(&config).is_err());
    }

    // Attacks on the store by a review that did not write it: scans across batches and kept
    // alive across other states' settles, a node-like pipeline whose base must stay bounded,
    // and readers on other threads.

    #[derive(Clone, Debug)]
    enum WideOp {
        Put(usize, Vec<u8>, Vec<u8>),
        Delete(usize, Vec<u8>),
        Copy(usize),
        Detach(usize),
        Settle(usize),
        ByHand(usize),
        Drop(usize),
        /// n clone+writes on top of state s; keep the intermediate states or not.
        Chain(usize, u8, bool),
        Scan(usize, Vec<u8>, Vec<bool>),
        StartScan(usize, Vec<u8>),
        Step(usize, bool, u8),
        Changed(usize, usize),
    }

    /// Keys of two or three bytes spread over more than a scan batch, or short keys of the
    /// edge bytes (the empty key, 0xFF prefixes).
    fn wide_key() -> impl Strategy<Value = Vec<u8>> {
        let wide = (
            prop::sample::select(vec![0u8, 1, 2]),
            0u8..240,
            prop::option::of(prop::sample::select(vec![0u8, 0xFF])),
        )
            .prop_map(|(a, b, c)| {
                let mut key = vec![a, b];
                key.extend(c);
                key
            });
        prop_oneof![4 => wide, 1 => key()]
    }

    fn wide_prefix() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(vec![]),
            prop::sample::select(vec![0u8, 1, 2, 0xFF]).prop_map(|a| vec![a]),
            wide_key(),
        ]
    }

    fn wide_op() -> impl Strategy<Value = WideOp> {
        let s = 0usize..8;
        prop_oneof![
            8 => (s.clone(), wide_key(), prop::collection::vec(any::<u8>(), 0..50))
                .prop_map(|(s, k, v)| WideOp::Put(s, k, v)),
            3 => (s.clone(), wide_key()).prop_map(|(s, k)| WideOp::Delete(s, k)),
            3 => s.clone().prop_map(WideOp::Copy),
            1 => s.clone().prop_map(WideOp::Detach),
            3 => s.clone().prop_map(WideOp::Settle),
            1 => s.clone().prop_map(WideOp::ByHand),
            2 => s.clone().prop_map(WideOp::Drop),
            1 => (s.clone(), 1u8..40, any::<bool>()).prop_map(|(s, n, k)| WideOp::Chain(s, n, k)),
            1 => (s.clone(), wide_prefix(), prop::collection::vec(any::<bool>(), 0..8))
                .prop_map(|(s, p, e)| WideOp::Scan(s, p, e)),
            2 => (s.clone(), wide_prefix()).prop_map(|(s, p)| WideOp::StartScan(s, p)),
            4 => (s.clone(), any::<bool>(), 1u8..200).prop_map(|(i, f, n)| WideOp::Step(i, f, n)),
            1 => (s.clone(), s).prop_map(|(a, b)| WideOp::Changed(a, b)),
        ]
    }

    fn expected_under(model: &Model, prefix: &[u8]) -> VecDeque<(Vec<u8>, Vec<u8>)> {
        model
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(160))]

        /// Any mix of writes, copies, detached copies, settles, drops and scans (from both
        /// ends, interleaved) over states that share a base reads exactly as independent ordered
        /// maps would: over a key space larger than a scan batch (so base scans span several
        /// locks from both ends), with deep chains (squash and self-settle), states settled by
        /// hand, and scans kept alive across other operations (their state dropped, others
        /// settling and trimming); with the base in memory or on disk, moving values to the file
        /// as soon as it can or in batches.
        #[test]
        fn scans_across_batches_and_kept_alive_across_settles_read_as_independent_maps(
            on_disk in prop::option::of((
                prop_oneof![Just(1usize), 2usize..60],
                prop_oneof![Just(0usize), 1usize..20, Just(10_000)],
                prop_oneof![Just(0usize), 1usize..20, Just(10_000)],
            )),
            seed_settle in any::<bool>(),
            ops in prop::collection::vec(wide_op(), 1..200),
        ) {
            let mut first = empty_batched(on_disk);
            let mut model = Model::new();
            for a in 0u8..3 {
                for b in (0u8..240).step_by(2) {
                    first.put(&[a, b], vec![a, b]);
                    model.insert(vec![a, b], vec![a, b]);
                }
            }
            if seed_settle {
                first.settle();
            }
            let mut states: Vec<(MemoryStore, Model)> = vec![(first, model)];
            let mut scans: Vec<(Scan, VecDeque<Entry>)> = Vec::new();
            for op in ops {
                let pick = |index: usize| index % states.len();
                match op {
                    WideOp::Put(s, k, v) => {
                        let s = pick(s);
                        states[s].0.put(&k, v.clone());
                        states[s].1.insert(k, v);
                    }
                    WideOp::Delete(s, k) => {
                        let s = pick(s);
                        states[s].0.delete(&k);
                        states[s].1.remove(&k);
                    }
                    WideOp::Copy(s) => {
                        let copy = states[pick(s)].clone();
                        states.push(copy);
                    }
                    WideOp::Detach(s) => {
                        let (store, model) = &states[pick(s)];
                        let copy = (store.detached(), model.clone());
                        states.push(copy);
                    }
                    WideOp::Settle(s) => {
                        states[pick(s)].0.settle();
                    }
                    WideOp::ByHand(s) => {
                        let s = pick(s);
                        let by_hand = states[s].0.clone().settled_by_hand();
                        states[s].0 = by_hand;
                    }
                    WideOp::Drop(s) => {
                        if states.len() > 1 {
                            states.remove(pick(s));
                        }
                    }
                    WideOp::Chain(s, n, keep) => {
                        let s = pick(s);
                        let (mut store, mut model) = states[s].clone();
                        for i in 0..n {
                            let mut next = store.clone();
                            let key = vec![i % 3, i.wrapping_mul(37) % 240];
                            next.put(&key, vec![n, i]);
                            if keep {
                                states.push((store, model.clone()));
                            }
                            model.insert(key, vec![n, i]);
                            store = next;
                        }
                        states.push((store, model));
                    }
                    WideOp::Scan(s, prefix, ends) => {
                        let (store, model) = &states[pick(s)];
                        let expected = expected_under(model, &prefix);
                        prop_assert_eq!(
                            take_ends(store.scan_prefix(&prefix), &ends),
                            take_ends(expected.into_iter(), &ends)
                        );
                    }
                    WideOp::StartScan(s, prefix) => {
                        let (store, model) = &states[pick(s)];
                        scans.push((store.scan_prefix(&prefix), expected_under(model, &prefix)));
                    }
                    WideOp::Step(i, front, n) => {
                        if scans.is_empty() {
                            continue;
                        }
                        let i = i % scans.len();
                        let (scan, expected) = &mut scans[i];
                        for _ in 0..n {
                            let (got, want) = if front {
                                (scan.next(), expected.pop_front())
                            } else {
                                (scan.next_back(), expected.pop_back())
                            };
                            prop_assert_eq!(got, want);
                        }
                    }
                    WideOp::Changed(a, b) => {
                        let (a, b) = (&states[pick(a)], &states[pick(b)]);
                        let keys: BTreeSet<&Vec<u8>> = a.1.keys().chain(b.1.keys()).collect();
                        let expected: Vec<Vec<u8>> = keys
                            .into_iter()
                            .filter(|k| a.1.get(*k) != b.1.get(*k))
                            .cloned()
                            .collect();
                        prop_assert_eq!(a.0.changed_keys(&b.0).collect::<Vec<_>>(), expected);
                        prop_assert_eq!(a.0 == b.0, a.1 == b.1);
                        prop_assert_eq!(a.0.len(), a.1.len());
                    }
                }
            }
            for (mut scan, mut expected) in scans {
                loop {
                    let (got, want) = (scan.next_back(), expected.pop_back());
                    prop_assert_eq!(&got, &want);
                    if got.is_none() {
                        break;
                    }
                }
            }
            for (store, model) in &states {
                check(store, model);
                prop_assert_eq!(store.len(), model.len());
                prop_assert_eq!(store.is_empty(), model.is_empty());
            }
        }
    }

    /// What the base holds, for the bounds below.
    #[derive(Debug)]
    #[allow(dead_code)]
    struct Sizes {
        keys: usize,
        stored_values: usize,
        many: usize,
        versions: usize,
        revisit: usize,
        log: usize,
        count: usize,
    }

    fn sizes(store: &MemoryStore) -> Sizes {
        let inner = store.base.read();
        Sizes {
            keys: inner.values.len(),
            stored_values: inner
                .values
                .values()
                .map(|values| match values {
                    Values::One(..) => 1,
                    Values::Many(values) => values.len(),
                })
                .sum(),
            many: inner
                .values
                .values()
                .filter(|values| matches!(values, Values::Many(_)))
                .count(),
            versions: inner.versions.len(),
            revisit: inner.revisit.len(),
            log: inner.log.len(),
            count: inner.count,
        }
    }

    /// The node's steady state: a line of block states, each settled when finalized a few
    /// blocks behind the tip; forks that die; RPC-like readers that live for a few blocks; hot
    /// keys, churned keys (created then deleted) and deletes. The base must stay bounded.
    #[test]
    fn a_node_like_pipeline_keeps_the_base_bounded() {
        node_like_pipeline(false);
    }

    /// On disk, memory holds only what the blocks in flight wrote: not the state.
    #[test]
    fn a_node_like_pipeline_on_disk_keeps_only_the_blocks_in_flight_in_memory() {
        node_like_pipeline(true);
    }

    fn node_like_pipeline(on_disk: bool) {
        let key = |k: u64| k.to_be_bytes().to_vec();
        let mut genesis = empty_batched(on_disk.then_some((40, 30, 30)));
        let mut model = Model::new();
        for k in 0..1_000u64 {
            genesis.put(&key(k), vec![0]);
            model.insert(key(k), vec![0]);
        }
        let genesis = genesis.settled_by_hand();
        let line = genesis.detached();
        line.wait_for_file();
        // Unfinalized states, oldest (the last finalized) first, with their models.
        let mut pending: VecDeque<(Arc<MemoryStore>, Model)> = VecDeque::new();
        pending.push_back((Arc::new(line), model));
        let mut readers: VecDeque<(u64, Arc<MemoryStore>, Model)> = VecDeque::new();
        let mut forks: Vec<MemoryStore> = Vec::new();
        let mut peak = 0usize;
        for h in 1..=4_000u64 {
            let (tip, tip_model) = pending.back().expect("a tip").clone();
            let mut next = (*tip).clone();
            let mut next_model = tip_model.clone();
            let put = |store: &mut MemoryStore, model: &mut Model, k: Vec<u8>, v: Vec<u8>| {
                store.put(&k, v.clone());
                model.insert(k, v);
            };
            put(&mut next, &mut next_model, b"last-block".to_vec(), key(h));
            put(&mut next, &mut next_model, key(h * 7_919 % 1_000), key(h));
            put(&mut next, &mut next_model, key(1_000_000 + h), key(h));
            if h > 20 {
                next.delete(&key(1_000_000 + h - 20));
                next_model.remove(&key(1_000_000 + h - 20));
            }
            // A fork of the tip that is never finalized.
            if h % 5 == 0 {
                let mut fork = (*tip).clone();
                fork.put(b"last-block", b"fork".to_vec());
                forks.push(fork);
            }
            pending.push_back((Arc::new(next), next_model));
            // Finality three blocks behind the tip.
            if pending.len() > 4 {
                pending.pop_front();
                forks.clear();
                let (finalized, model) = pending.front().expect("finalized").clone();
                assert!(
                    finalized.settle(),
                    "the finalized line settles at height {h}"
                );
                // What the bounds below count: memory lets go of a batch once it is written.
                finalized.base.wait_for_file();
                if h % 10 == 0 {
                    readers.push_back((h, finalized, model));
                }
            }
            while readers.front().is_some_and(|(at, ..)| at + 30 < h) {
                let (_, reader, model) = readers.pop_front().expect("checked");
                check(&reader, &model);
            }
            let now = sizes(&pending.back().expect("tip").0);
            peak = peak.max(now.stored_values);
            if on_disk {
                // Readers keep about forty blocks' worth of values of four keys each, a write
                // batch of forty more waits, and thirty stay as a cache: the state's thousand
                // keys are in the file.
                let bound = 4 * 40 + 40 + 4 + 30;
                assert!(
                    now.stored_values <= bound && now.keys <= bound,
                    "height {h}: {now:?}"
                );
            }
            if h > 200 {
                assert!(
                    now.stored_values < 1_300
                        && now.versions < 100
                        && now.revisit < 400
                        && now.log < 100,
                    "height {h}: {now:?}"
                );
            }
        }
        for (store, model) in &pending {
            check(store, model);
        }
        assert!(peak < 1_300, "the base held {peak} values at most");
    }

    /// Readers on other threads scan (from both ends, interleaved, batches apart) and read
    /// states while this thread builds, settles and drops the line; some readers drop their
    /// state mid-scan. Every read must match the state's model.
    #[test]
    fn readers_on_other_threads_see_their_state_while_the_line_settles() {
        readers_while_the_line_settles(false);
    }

    #[test]
    fn readers_on_other_threads_see_their_state_while_the_line_settles_on_disk() {
        readers_while_the_line_settles(true);
    }

    fn readers_while_the_line_settles(on_disk: bool) {
        use std::sync::mpsc;
        let key = |k: u64| k.to_be_bytes().to_vec();
        // On disk, every settled value moves to the file at once (on the writer's thread, while
        // readers read) and reads of the file are kept.
        let mut tip = empty_batched(on_disk.then_some((1, 0, 64)));
        let mut model = Model::new();
        for k in 0..800u64 {
            tip.put(&key(k), key(0));
            model.insert(key(k), key(0));
        }
        let mut tip = tip.settled_by_hand();
        let (send, receive) = mpsc::sync_channel::<(Arc<MemoryStore>, Arc<Model>)>(8);
        let receive = Arc::new(std::sync::Mutex::new(receive));
        let readers: Vec<_> = (0..3)
            .map(|reader| {
                let receive = receive.clone();
                std::thread::spawn(move || {
                    let mut checked = 0u64;
                    loop {
                        let Ok((store, model)) = receive.lock().expect("lock").recv() else {
                            return checked;
                        };
                        let expected: Vec<(Vec<u8>, Vec<u8>)> =
                            model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                        if reader == 1 {
                            // Races the line's own settle of this state: both must agree.
                            let _ = store.settle();
                        }
                        // A child of the handed state, written while the line settles.
                        let mut child = (*store).clone();
                        child.put(b"child", vec![reader as u8]);
                        child.delete(&key(5));
                        let mut scan = store.scan_prefix(&[]);
                        let (mut front, mut back) = (0usize, expected.len());
                        let mut step = 0u64;
                        let mut store = Some(store);
                        while front < back {
                            step += 1;
                            if step == 300 && reader == 0 {
                                // The state goes; the scan holds its version.
                                store = None;
                            }
                            if (step / 97 + reader).is_multiple_of(2) {
                                assert_eq!(scan.next().as_ref(), Some(&expected[front]));
                                front += 1;
                            } else {
                                back -= 1;
                                assert_eq!(scan.next_back().as_ref(), Some(&expected[back]));
                            }
                            if step.is_multiple_of(50) {
                                std::thread::yield_now();
                                if let Some(store) = &store {
                                    let k = key(step % 1_000);
                                    assert_eq!(store.get(&k).as_ref(), model.get(&k));
                                }
                            }
                        }
                        assert_eq!(scan.next(), None);
                        assert_eq!(scan.next_back(), None);
                        assert_eq!(child.get(b"child"), Some(vec![reader as u8]));
                        assert_eq!(child.get(&key(5)), None);
                        assert_eq!(
                            child.len(),
                            model.len() + 1 - usize::from(model.contains_key(&key(5)))
                        );
                        let mut child_model = (*model).clone();
                        child_model.insert(b"child".to_vec(), vec![reader as u8]);
                        child_model.remove(&key(5));
                        check(&child, &child_model);
                        if let Some(store) = store {
                            assert_eq!(store.len(), model.len());
                        }
                        checked += 1;
                    }
                })
            })
            .collect();
        for h in 1..=1_500u64 {
            let mut next = tip.clone();
            for k in [h % 800, h * 31 % 800, 800 + h % 200] {
                next.put(&key(k), key(h));
                model.insert(key(k), key(h));
            }
            let gone = h * 17 % 1_000;
            next.delete(&key(gone));
            model.remove(&key(gone));
            // Hand the unsettled state to a reader, then settle it under the reader.
            let handed = Arc::new(next);
            send.send((handed.clone(), Arc::new(model.clone())))
                .expect("readers live");
            let _ = handed.settle(); // a reader may have settled it first
            assert!(handed.live().1.is_empty());
            tip = (*handed).clone();
        }
        drop(send);
        let checked: u64 = readers
            .into_iter()
            .map(|reader| reader.join().expect("a reader failed"))
            .sum();
        assert!(checked > 0);
    }
}
