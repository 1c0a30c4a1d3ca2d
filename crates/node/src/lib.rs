//! The Equa node: BFT consensus (commonware simplex + marshal) around the deterministic ledger.
//!
//! This crate is where every commonware type lives; the ledger and types crates know nothing of
//! consensus, networking or storage. It is not the command line (the `equa` binary is) and holds
//! no ledger rules (the `ledger` crate does).
//!
//! # State layout
//!
//! The ledger is synchronous and some calls read keys that depend on state, so a block cannot
//! declare its reads up front. The node therefore keeps the **whole ledger state in memory**, one
//! immutable snapshot per executed block that may still be built on ([`state::Executed`], shared
//! by all clones of [`App`]). A state ([`ledger::MemoryStore`]) is a base shared by all of them,
//! written in place, and above it the writes of the blocks not yet finalized, one hash map each:
//! executing a block copies its parent's state in O(blocks in flight), `ledger::apply_block` runs
//! on the copy through an `Overlay`, which yields the block's writes, and they become the new
//! state's own layer. When a block is finalized its state settles: its layers go into the base
//! as a new version, which states still reading an older version do not see. A read is a few
//! hash lookups whatever the state's size, so a block costs what it touches, not a copy of
//! everything that exists and not a walk down a tree that grows with it; memory holds the
//! records once, plus what the blocks in flight changed, plus the older values that live older
//! states still read.
//!
//! The authenticated store (glue `stateful` over a QMDB `current::unordered::fixed` database)
//! holds the records themselves: each record is cut into fixed-size chunks under hashed keys
//! ([`state::record_chunks`]). Its root, carried in every block as `state_root`, thus commits to
//! every byte of the ledger state, and its values have the fixed size glue's state-sync resolver
//! requires in commonware 2026.10.0 (variable-size QMDB values are not servable by it). The
//! genesis block commits to the empty store; block 1 writes every genesis record together with
//! its own changes.
//!
//! After a restart the node reads the whole ledger back from its store ([`state::restore`]) as
//! glue attaches the recovered store, and re-executes nothing it had committed: only the blocks
//! glue itself replays above the store's last commit. After a state sync from peers it reads
//! the ledger out of the synced store the same way ([`recovery`]), so marshal need keep only
//! the last `retained_blocks` blocks. By default memory holds every record once; a node
//! configured with `state_cache_mib` keeps the base on disk instead ([`ledger::OnDisk`]: a
//! working copy in files under `data/state`, made afresh at every start from the store), and
//! memory then holds the unfinalized blocks' writes, the values waiting for the file and its
//! caches.
//!
//! # Block time and randomness
//!
//! The proposer sets `timestamp_ms` to its clock, clamped to `(parent, parent + step]`.
//! Validators require `parent < timestamp <= parent + max_timestamp_step_ms` (a permanent rule)
//! and, for a block not yet finalized, wait until their own clock is within `max_drift_ms` of the
//! timestamp before voting (a local rule that can only delay, bounded by the step rule). The
//! ledger's `BlockContext.randomness` is the hash of the seed the block carries: the threshold
//! signature over the round before the block's own in its epoch, checked against the chain key
//! (see [`state::block_randomness`]). The first view of an epoch has no such round; its block
//! carries no seed, its randomness is `H(parent digest, height)`, and the ledger is told it is
//! unseeded (`BlockContext.seeded`), so it draws nothing with it. `BlockContext.round` is
//! [`app::ledger_round`]: epoch and view as one number that increases along the chain.

pub mod allocator;
pub mod app;
pub mod block;
pub mod checkpoint;
pub mod dkg;
pub mod engine;
pub mod epochs;
pub mod evidence;
pub mod history;
pub mod logging;
pub mod mempool;
pub mod metrics;
pub mod proof;
pub mod proposal;
pub mod recovery;
pub mod relay;
pub mod rpc;
pub mod run;
pub mod seeds;
pub mod state;
pub mod threshold;
mod tx_index;

pub use app::{App, AppConfig, AppHandle, FinalizedState};
pub use block::Block;
pub use proposal::{NoTransactions, Provider, TransactionSource};

use commonware_consensus::simplex;
use commonware_cryptography::{Sha256, ed25519, sha256};
use commonware_parallel::Sequential;
use commonware_storage::{mmr, qmdb::current::unordered::fixed, translator::FourCap};

/// The simplex context each block embeds.
pub type ConsensusContext = simplex::types::Context<sha256::Digest, ed25519::PublicKey>;

/// The validators' signing scheme: BLS12-381 threshold signatures with a per-round seed (see
/// [`threshold`]). Validators are still named (and connect) by their ed25519 keys.
pub type Scheme = simplex::scheme::bls12381_threshold::vrf::Scheme<
    ed25519::PublicKey,
    threshold::ConsensusVariant,
>;

/// Bytes per chunk of the store's activity bitmap: one digest, the smallest (and best for proof
/// size) the store allows.
pub const BITMAP_CHUNK: usize = 32;

/// The authenticated store: the ledger's records cut into fixed-size chunks under hashed keys
/// (see [`state`]), with proofs of each key's current value (QMDB `current`).
///
/// Its in-memory index keeps 4 bytes of each key (`FourCap`). With 2 (`TwoCap`) there are only
/// 65,536 slots: at 5,000,000 records about 76 keys share one, every write reads them back
/// from the log to tell them apart, and a block of 2,000 transfers spent 1.2 s in the store
/// (B6). The keys are hashes, so 4 bytes spread millions of them with almost no sharing.
pub type Qmdb<E> = fixed::Db<
    mmr::Family,
    E,
    sha256::Digest,
    state::Chunk,
    Sha256,
    FourCap,
    BITMAP_CHUNK,
    Sequential,
>;

/// The database set glue manages for the node.
pub type Databases<E> = recovery::LedgerStore<E>;
