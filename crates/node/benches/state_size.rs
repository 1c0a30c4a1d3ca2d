//! B6: what a block costs as the state grows. The same load (blocks of signed transfers from
//! 1,000 senders to 10,000 recipients whose keys are spread over the key space: a working set
//! that stays the same whatever the state's size) runs on states of 10,000, 1,000,000 and
//! 5,000,000 records, each size in a process of its own, through the node's own block execution (`node::state::execute`: a speculative copy of
//! the parent's state, the ledger's rules, the authenticated-store writes). Signatures are marked
//! as already checked, as the node does for transactions it admitted, so the figures are the
//! state's cost and not the signature batch's, which does not depend on the state.
//!
//! Each block's writes then go into a real authenticated store on disk (QMDB `current`, the
//! node's configuration, under the system's temporary directory), which holds every record in
//! 64-byte chunks: merkleized, applied and committed, as the node does for a finalized block.
//! At the end the whole ledger is read back from the store, as a restarted node does, and a
//! second, empty store is state-synced from the first (glue's sync engine with the node's batch
//! sizes, the first store serving it directly, without a network) and its ledger read back: what
//! a new node does before it can answer queries.
//!
//! Prints, per size: the time to build the state and load it into the store, resident memory
//! once the state is built (before the store opens), once block 1 loaded it into the store
//! (which also holds block 1's writes, every record's chunks at once, until they are freed)
//! and after the last block, block execution p50/p99/max, the
//! store's p50/p99 per block, the p50 of settling a block's state into the shared base (what
//! the node does when it is finalized, here two blocks after it executed) and its maximum (on
//! disk, the settles that write a batch to the file), and the time to read the ledger back;
//! then the execution p50 of blocks 2 to 11, which read most accounts of the working set for the
//! first time (from the file, when the state is on disk), and of the blocks after them; then the
//! state sync: the store operations fetched, the time to sync them, and records per
//! second until the synced ledger is read back. `EQUA_B6_SIZES=10000,1000000` picks other
//! sizes; `EQUA_B6_BLOCKS`
//! and `EQUA_B6_TXS` the load, `EQUA_B6_SYNC_BATCH` the operations per state-sync request.
//! `EQUA_B6_STATE_CACHE_MIB=N` keeps the ledger state on disk behind caches of N MiB in all, as a
//! node configured with `state_cache_mib` does, instead of whole in memory;
//! `EQUA_B6_CACHED_VALUES` and `EQUA_B6_READ_VALUES` then set how many values written and how
//! many reads of the file stay in memory, instead of the node's shares of N.
//! `EQUA_B6_HUGE_PAGES=1` leaves transparent huge pages on, which the node turns off.
//!
//! Run: `cargo bench -p node --bench state_size`.

use commonware_glue::stateful::db::Shared;
use commonware_runtime::{Runner as _, Supervisor as _, buffer::paged::CacheRef, tokio};
use commonware_storage::qmdb::sync;
use commonware_utils::NZU16;
use ledger::{
    BlockContext, Store, state,
    testing::{BLOCK_INTERVAL_MS, TestChain, account},
};
use node::{Qmdb, engine, recovery};
use std::{sync::Arc, time::Instant};
use types::{AccountId, AssetId, Call, SignedTransaction, bank::BankCall, bank::Transfer};

const SENDERS: u64 = 1_000;
const SENDER_BALANCE: u128 = 1_000_000_000_000_000;
const RECIPIENTS: u64 = 10_000;
/// Blocks after block 1 whose execution is also reported apart (see `run_on`).
const WARM_UP_BLOCKS: usize = 10;

fn main() {
    // Transparent huge pages off, as `equa` does; `EQUA_B6_HUGE_PAGES=1` leaves them on.
    if std::env::var_os("EQUA_B6_HUGE_PAGES").is_none() {
        node::allocator::small_pages_only().expect("the kernel takes the flag");
    }
    let sizes = env_list("EQUA_B6_SIZES", &[10_000, 1_000_000, 5_000_000]);
    let blocks = env_list("EQUA_B6_BLOCKS", &[120])[0];
    let per_block = env_list("EQUA_B6_TXS", &[2_000])[0];
    // Each size runs in a process of its own, so that its memory figures do not carry what an
    // earlier size's run left allocated.
    if std::env::var_os(ONE_SIZE).is_some() {
        for size in sizes {
            run(size, blocks, per_block);
        }
        return;
    }
    let state = match env_list("EQUA_B6_STATE_CACHE_MIB", &[0])[0] {
        0 => "state in memory".to_string(),
        mib => format!("state on disk behind a {mib} MiB cache"),
    };
    println!(
        "B6 block execution by state size: {blocks} blocks of {per_block} transfers, {state}, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:>12} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>11} {:>11} {:>11} {:>11} {:>11}",
        "records",
        "build s",
        "load s",
        "RSS built",
        "RSS MiB",
        "RSS end",
        "p50 ms",
        "p99 ms",
        "max ms",
        "store p50",
        "store p99",
        "settle p50",
        "settle max",
        "read-back s"
    );
    println!("  execution p50 over the first blocks after block 1, and over the rest");
    println!("  state sync: operations, sync s, read-back s, records/s until the ledger is served");
    let me = std::env::current_exe().expect("this bench's path");
    for size in sizes {
        let status = std::process::Command::new(&me)
            .args(std::env::args_os().skip(1))
            .env("EQUA_B6_SIZES", size.to_string())
            .env(ONE_SIZE, "1")
            .status()
            .expect("a run of one size starts");
        assert!(
            status.success(),
            "the run of {size} records failed: {status}"
        );
    }
}

/// Set in the process that runs one size: it prints its row and nothing else.
const ONE_SIZE: &str = "EQUA_B6_ONE_SIZE";

fn run(records: u64, blocks: u64, per_block: u64) {
    let dir = std::env::temp_dir().join(format!("equa-b6-{}-{records}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    tokio::Runner::new(tokio::Config::new().with_storage_directory(&dir))
        .start(|context| run_on(context, records, blocks, per_block));
    let _ = std::fs::remove_dir_all(&dir);
}

async fn run_on(context: tokio::Context, records: u64, blocks: u64, per_block: u64) {
    let started = Instant::now();
    let mut chain = TestChain::new(SENDERS, SENDER_BALANCE);
    let mut store = match env_list("EQUA_B6_STATE_CACHE_MIB", &[0])[0] {
        // A copy on a base of its own: `chain` keeps its genesis state for good, and a base
        // keeps every value a live state sharing it may read.
        0 => chain.store.detached(),
        mib => {
            let mut config = ledger::OnDisk::new(
                std::env::temp_dir().join(format!("equa-b6-state-{}", std::process::id())),
                usize::try_from(mib << 20).expect("a cache that fits"),
            );
            if let Some(&values) = env_list("EQUA_B6_CACHED_VALUES", &[]).first() {
                config.cached_values = usize::try_from(values).expect("a count that fits");
            }
            if let Some(&values) = env_list("EQUA_B6_READ_VALUES", &[]).first() {
                config.read_values = usize::try_from(values).expect("a count that fits");
            }
            let mut store = ledger::MemoryStore::on_disk(&config).expect("a state file");
            for (key, value) in chain.store.scan_prefix(&[]) {
                store.put(&key, value);
            }
            store
        }
    };
    // Recipients: accounts spread over the key space, each holding one unit. The rest of the
    // records are balances under keys that are not accounts anyone holds (making millions of
    // ed25519 keys would take longer than the runs), each also holding one unit. Both are taken
    // from sender 0, so the supply is unchanged.
    let recipients: Vec<AccountId> = (0..RECIPIENTS).map(recipient).collect();
    let fillers = records.saturating_sub(store.len() as u64 + RECIPIENTS);
    let funder = account(0);
    let left = state::balance(&store, &funder, AssetId::NATIVE) - u128::from(fillers + RECIPIENTS);
    state::set_balance(&mut store, &funder, AssetId::NATIVE, left);
    for to in &recipients {
        state::set_balance(&mut store, to, AssetId::NATIVE, 1);
    }
    for index in 0..fillers {
        let mut key = vec![state::table::BALANCE];
        key.extend_from_slice(&types::hash(b"EQUA_B6_FILLER", &[&index.to_be_bytes()]).0);
        key.extend_from_slice(&AssetId::NATIVE.0.to_be_bytes());
        store.put(&key, commonware_codec::Encode::encode(&1u128).to_vec());
        // On disk, the state moves to its file in parts, not held whole in memory first.
        if index % 65_536 == 65_535 {
            store.settle();
        }
    }
    store.wait_for_file();
    let built = started.elapsed();
    let rss_built = resident_mib();

    let cache = CacheRef::new(NZU16!(engine::PAGE_BYTES), engine::DEFAULT_PAGE_CACHE_PAGES);
    let mut db: Qmdb<tokio::Context> = Qmdb::init(
        context.child("qmdb"),
        engine::qmdb_config("b6", cache),
        None,
    )
    .await
    .expect("the store opens");

    // As the node holds its genesis or restored state: settled, and settled later by finality.
    let store = store.settled_by_hand();
    let mut parent = Arc::new(store);
    // Finality settles a block's state about two blocks after it executed, so a block executes
    // over its parent's unsettled writes (and those of the parent's parent until it settles).
    let mut unsettled: std::collections::VecDeque<Arc<ledger::MemoryStore>> = Default::default();
    let mut nonces = vec![0u64; SENDERS as usize];
    let mut times = Vec::with_capacity(blocks as usize);
    let mut store_times = Vec::with_capacity(blocks as usize);
    let mut settle_times = Vec::with_capacity(blocks as usize);
    let mut loaded = std::time::Duration::ZERO;
    let mut rss = 0;
    for height in 1..=blocks {
        // The chain signs transactions that expire 100 blocks after its height: this block's.
        chain.height = height;
        let txs: Vec<SignedTransaction> = (0..per_block)
            .map(|i| {
                let sender = (height * per_block + i) % SENDERS;
                let nonce = nonces[sender as usize];
                nonces[sender as usize] += 1;
                // Spread over the whole state: the recipient is any filler.
                let to = recipients[(mix(height, i) % RECIPIENTS) as usize];
                chain.tx_with(
                    sender,
                    nonce,
                    Call::Bank(BankCall::Transfer(Transfer {
                        to,
                        asset: AssetId::NATIVE,
                        amount: 1,
                    })),
                )
            })
            .collect();
        let context = BlockContext {
            height,
            timestamp_ms: ledger::testing::GENESIS_TIME_MS + height * BLOCK_INTERVAL_MS,
            proposer: chain.proposer,
            round: u128::from(height) * 2,
            seeded: true,
            randomness: [height as u8; 32],
            offenses: Vec::new(),
            next_holders: None,
        };
        let known = vec![true; txs.len()];
        if unsettled.len() >= 2
            && let Some(finalized) = unsettled.pop_front()
        {
            let start = Instant::now();
            assert!(finalized.settle(), "the line settles");
            settle_times.push(start.elapsed().as_secs_f64() * 1_000.0);
        }
        let start = Instant::now();
        let execution =
            node::state::execute(&parent, &context, &txs, &known).expect("the block executes");
        let elapsed = start.elapsed();
        assert!(
            execution.executed.receipts.iter().all(|r| r.is_success()),
            "every transfer succeeds"
        );
        // Block 1 also writes all of genesis to the authenticated store; leave it out, and
        // load its state in steps (one batch of millions of records would only measure the
        // batch's own memory).
        if height == 1 {
            let load = Instant::now();
            drop(execution.writes);
            let mut records = execution.executed.store.scan_prefix(&[]);
            loop {
                let part: Vec<_> = records
                    .by_ref()
                    .take(100_000)
                    .flat_map(|(key, value)| node::state::record_chunks(&key, &value))
                    .collect();
                if part.is_empty() {
                    break;
                }
                db = recovery::commit_writes(db, part.into_iter().map(|(k, c)| (k, Some(c))))
                    .await
                    .expect("the store takes the state");
            }
            loaded = load.elapsed();
            rss = resident_mib();
        } else {
            times.push(elapsed.as_secs_f64() * 1_000.0);
            let start = Instant::now();
            db = recovery::commit_writes(db, execution.writes)
                .await
                .expect("the store takes the block");
            store_times.push(start.elapsed().as_secs_f64() * 1_000.0);
        }
        parent = execution.executed.store;
        unsettled.push_back(parent.clone());
    }
    let rss_end = resident_mib();
    let read = Instant::now();
    let (restored, _) = recovery::read_ledger_into(&db, parent.empty_like())
        .await
        .expect("the ledger reads back");
    let read = read.elapsed();
    assert!(restored == *parent, "the store holds the ledger");
    drop(restored);

    // A new node's state sync, from this store.
    let target = commonware_glue::stateful::db::ManagedDb::<tokio::Context>::sync_target(&db);
    let operations = target.range.end().as_u64() - target.range.start().as_u64();
    let source = Shared::new("b6", db);
    let sync_batch = std::num::NonZeroU64::new(
        env_list("EQUA_B6_SYNC_BATCH", &[engine::SYNC_BATCH_OPS.get()])[0],
    )
    .expect("EQUA_B6_SYNC_BATCH is not 0");
    let sync_started = Instant::now();
    let synced: Qmdb<tokio::Context> = sync::sync(sync::engine::Config {
        context: context.child("synced"),
        source: source.clone(),
        target,
        max_outstanding_requests: engine::SYNC_OUTSTANDING_REQUESTS,
        fetch_batch_size: sync_batch,
        apply_batch_size: engine::SYNC_APPLY_OPS,
        db_config: engine::qmdb_config(
            "b6-synced",
            CacheRef::new(NZU16!(engine::PAGE_BYTES), engine::DEFAULT_PAGE_CACHE_PAGES),
        ),
        update_rx: None,
        finish_rx: None,
        reached_target_tx: None,
    })
    .await
    .expect("the store syncs");
    let synced_in = sync_started.elapsed();
    let read_synced = Instant::now();
    let (from_sync, _) = recovery::read_ledger_into(&synced, parent.empty_like())
        .await
        .expect("the synced ledger reads back");
    let read_synced = read_synced.elapsed();
    assert!(from_sync == *parent, "the synced store holds the ledger");
    drop(from_sync);
    synced.destroy().await.expect("the synced store is removed");
    let (slot, db) = source.write().await;
    drop(slot);
    // The first blocks read most accounts of the working set once, from the file when the
    // state is on disk; the rest find it in memory. Printed apart, as a start costs once.
    let (mut first, mut rest) = {
        let split = WARM_UP_BLOCKS.min(times.len());
        (times[..split].to_vec(), times[split..].to_vec())
    };
    first.sort_by(f64::total_cmp);
    rest.sort_by(f64::total_cmp);
    times.sort_by(f64::total_cmp);
    store_times.sort_by(f64::total_cmp);
    settle_times.sort_by(f64::total_cmp);
    println!(
        "{:>12} {:>8.1} {:>8.1} {:>9} {:>8} {:>8} {:>8.2} {:>8.2} {:>8.2} {:>11.2} {:>11.2} {:>11.2} {:>11.2} {:>11.1}",
        parent.len(),
        built.as_secs_f64(),
        loaded.as_secs_f64(),
        rss_built,
        rss,
        rss_end,
        percentile(&times, 50),
        percentile(&times, 99),
        times.last().copied().unwrap_or(0.0),
        percentile(&store_times, 50),
        percentile(&store_times, 99),
        percentile(&settle_times, 50),
        settle_times.last().copied().unwrap_or(0.0),
        read.as_secs_f64(),
    );
    println!(
        "  execution p50: {:.2} ms over blocks 2 to {}, {:.2} ms over the {} after them",
        percentile(&first, 50),
        first.len() + 1,
        percentile(&rest, 50),
        rest.len()
    );
    println!(
        "  state sync: {operations} operations, {:.1} s, read back {:.1} s, {:.0} records/s",
        synced_in.as_secs_f64(),
        read_synced.as_secs_f64(),
        parent.len() as f64 / (synced_in + read_synced).as_secs_f64()
    );
    db.destroy().await.expect("the store is removed");
    drop(parent);
    drop(chain);
}

/// An account whose key nobody holds: the first valid ed25519 point found from `index`.
fn recipient(index: u64) -> AccountId {
    (0u64..)
        .find_map(|attempt| {
            let bytes = types::hash(
                b"EQUA_B6_RECIPIENT",
                &[&index.to_be_bytes(), &attempt.to_be_bytes()],
            )
            .0;
            AccountId::from_bytes(bytes).ok()
        })
        .expect("about one in two hashes is a point")
}

fn mix(height: u64, i: u64) -> u64 {
    let bytes = types::hash(b"EQUA_B6_PICK", &[&height.to_be_bytes(), &i.to_be_bytes()]).0;
    u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"))
}

fn percentile(sorted: &[f64], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = (sorted.len() * p).div_ceil(100).saturating_sub(1);
    sorted[index.min(sorted.len() - 1)]
}

/// This process's resident memory in MiB, from `/proc/self/status` (0 where there is none).
fn resident_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .map_or(0, |kib| kib / 1_024)
}

fn env_list(name: &str, default: &[u64]) -> Vec<u64> {
    std::env::var(name)
        .ok()
        .map(|value| {
            value
                .split(',')
                .map(|part| part.trim().replace('_', "").parse().expect("a number"))
                .collect()
        })
        .unwrap_or_else(|| default.to_vec())
}
