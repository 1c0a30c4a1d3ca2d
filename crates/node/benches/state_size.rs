//! B6: what a block costs as the state grows. The same load (blocks of signed transfers to
//! accounts spread over the whole state) runs on states of 10,000, 1,000,000 and 5,000,000
//! records, through the node's own block execution (`node::state::execute`: a speculative copy of
//! the parent's state, the ledger's rules, the authenticated-store writes). Signatures are marked
//! as already checked, as the node does for transactions it admitted, so the figures are the
//! state's cost and not the signature batch's, which does not depend on the state.
//!
//! Prints, per size: the time to build the state, resident memory once it is built, and block
//! execution p50/p99/max. `EQUA_B6_SIZES=10000,1000000` picks other sizes; `EQUA_B6_BLOCKS` and
//! `EQUA_B6_TXS` the load.
//!
//! Run: `cargo bench -p node --bench state_size`.

use ledger::{
    BlockContext, Store, state,
    testing::{BLOCK_INTERVAL_MS, TestChain, account},
};
use std::{sync::Arc, time::Instant};
use types::{AccountId, AssetId, Call, SignedTransaction, bank::BankCall, bank::Transfer};

const SENDERS: u64 = 1_000;
const SENDER_BALANCE: u128 = 1_000_000_000_000_000;
const RECIPIENTS: u64 = 10_000;

fn main() {
    let sizes = env_list("EQUA_B6_SIZES", &[10_000, 1_000_000, 5_000_000]);
    let blocks = env_list("EQUA_B6_BLOCKS", &[30])[0];
    let per_block = env_list("EQUA_B6_TXS", &[2_000])[0];
    println!(
        "B6 block execution by state size: {blocks} blocks of {per_block} transfers, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:>12} {:>10} {:>10} {:>9} {:>9} {:>9} {:>12}",
        "records", "build s", "RSS MiB", "p50 ms", "p99 ms", "max ms", "tx/s (p50)"
    );
    for size in sizes {
        run(size, blocks, per_block);
    }
}

fn run(records: u64, blocks: u64, per_block: u64) {
    let started = Instant::now();
    let chain = TestChain::new(SENDERS, SENDER_BALANCE);
    let mut store = chain.store.clone();
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
    }
    let built = started.elapsed();
    let rss = resident_mib();

    let mut parent = Arc::new(store);
    let mut nonces = vec![0u64; SENDERS as usize];
    let mut times = Vec::with_capacity(blocks as usize);
    for height in 1..=blocks {
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
            randomness: [height as u8; 32],
        };
        let known = vec![true; txs.len()];
        let start = Instant::now();
        let execution =
            node::state::execute(&parent, &context, &txs, &known).expect("the block executes");
        let elapsed = start.elapsed();
        assert!(
            execution.executed.receipts.iter().all(|r| r.is_success()),
            "every transfer succeeds"
        );
        // Block 1 also writes all of genesis to the authenticated store; leave it out.
        if height > 1 {
            times.push(elapsed.as_secs_f64() * 1_000.0);
        }
        parent = execution.executed.store;
    }
    times.sort_by(f64::total_cmp);
    let p50 = percentile(&times, 50);
    println!(
        "{:>12} {:>10.1} {:>10} {:>9.2} {:>9.2} {:>9.2} {:>12.0}",
        parent.len(),
        built.as_secs_f64(),
        rss,
        p50,
        percentile(&times, 99),
        times.last().copied().unwrap_or(0.0),
        per_block as f64 / (p50 / 1_000.0),
    );
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
