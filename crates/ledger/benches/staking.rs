//! The staking step of an epoch's first block: marking the members whose service ended, and
//! fixing the committee two epochs ahead from the registry (read every candidate, rank, write
//! each member's record and the committee). Measured with a committee of 100 (the most the
//! parameters allow) over registries of 100, 256 and 1,024 candidates (the most), each step
//! applied to a fresh overlay over the same state.

use commonware_cryptography::Signer;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ledger::{BlockContext, Genesis, MemoryStore, ReadOverlay, staking, testing};
use std::hint::black_box;
use types::AccountId;

const COMMITTEE: u16 = 100;
const BLOCKS_PER_EPOCH: u64 = 400;

/// A genesis state with `candidates` validators of distinct bonds.
fn state(candidates: u64) -> MemoryStore {
    let mut text = format!(
        "chain_id = \"{}\"\ngenesis_time_ms = {}\n\
         [native]\nsymbol = \"EQA\"\nname = \"Equa\"\ndecimals = 9\n\
         [params]\nfee_per_byte = \"0\"\ndefault_call_fee = \"0\"\n\
         [params.staking]\nmin_bond = \"100\"\ncommittee_size = {COMMITTEE}\n\
         max_candidates = 1024\nblocks_per_epoch = {BLOCKS_PER_EPOCH}\n",
        testing::TEST_CHAIN_ID,
        testing::GENESIS_TIME_MS
    );
    for index in 0..candidates {
        text.push_str(&format!(
            "[[accounts]]\naddress = \"{}\"\nbalances = {{ EQA = \"100000\" }}\n",
            testing::account(index)
        ));
    }
    for index in 0..candidates {
        let node = AccountId::from_public_key(&testing::key(1_000_000 + index).public_key());
        let hex: String = node.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        text.push_str(&format!(
            "[[validators]]\naddress = \"{}\"\nnode_key = \"{hex}\"\np2p = \"10.0.{}.{}:9000\"\n\
             bond = \"{}\"\n",
            testing::account(index),
            1 + index / 250,
            1 + index % 250,
            100 + index
        ));
    }
    let genesis = Genesis::from_toml(&text).expect("a valid genesis");
    let mut store = MemoryStore::new();
    genesis.initialize(&mut store);
    store
}

fn boundary(c: &mut Criterion) {
    let mut group = c.benchmark_group("epoch_boundary");
    for candidates in [100u64, 256, 1_024] {
        let store = state(candidates);
        // The first block of epoch 2: it marks epoch 0's members and fixes epoch 4's committee.
        let context = BlockContext {
            height: 2 * BLOCKS_PER_EPOCH,
            timestamp_ms: testing::GENESIS_TIME_MS + 1_000,
            proposer: testing::account(0),
            round: 0,
            seeded: true,
            randomness: [0; 32],
            offenses: Vec::new(),
            next_holders: None,
        };
        group.bench_with_input(
            BenchmarkId::from_parameter(candidates),
            &candidates,
            |b, _| {
                b.iter(|| {
                    let mut overlay = ReadOverlay::new(&store);
                    staking::begin_block(&mut overlay, black_box(&context));
                    black_box(overlay);
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, boundary);
criterion_main!(benches);
