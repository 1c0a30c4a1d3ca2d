//! What the pool's rules cost at its default bounds: filling a pool of 50,000 transactions
//! (64 from each of 782 senders, the per-sender bound) and admitting the whole pool again, as
//! the node does after every finalized block. Signatures are checked before (the node checks
//! them in batches), so this is the pool's own work: the ledger's admission, the pending-fee
//! sums and the bookkeeping.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ledger::testing::{TestChain, account};
use node::mempool::{Mempool, MempoolConfig};
use std::{hint::black_box, sync::Arc};
use types::{AssetId, Call, SignedTransaction, bank::BankCall, bank::Transfer};

fn setup() -> (TestChain, Vec<SignedTransaction>) {
    let config = MempoolConfig::default();
    let per_sender = config.max_per_sender as u64;
    let senders = (config.max_total as u64).div_ceil(per_sender);
    let chain = TestChain::new(senders, 1_000_000_000_000);
    let call = Call::Bank(BankCall::Transfer(Transfer {
        to: account(u64::MAX - 1),
        asset: AssetId::NATIVE,
        amount: 1,
    }));
    let txs = (0..senders)
        .flat_map(|sender| (0..per_sender).map(move |nonce| (sender, nonce)))
        .take(config.max_total)
        .map(|(sender, nonce)| chain.tx_with(sender, nonce, call.clone()))
        .collect();
    (chain, txs)
}

fn fill(chain: &TestChain, txs: &[SignedTransaction]) -> Mempool {
    let mempool = Mempool::new(
        MempoolConfig::default(),
        Arc::new(chain.store.clone()),
        chain.height,
    );
    for tx in txs {
        mempool.submit_checked(tx.clone(), true).expect("admitted");
    }
    mempool
}

fn bench(c: &mut Criterion) {
    let (chain, txs) = setup();
    let state = Arc::new(chain.store.clone());
    let mut group = c.benchmark_group("mempool");
    group.sample_size(10);
    group.throughput(Throughput::Elements(txs.len() as u64));
    group.bench_function("admit 50,000", |b| {
        b.iter_batched(|| (), |()| fill(&chain, &txs), BatchSize::PerIteration)
    });
    let mempool = fill(&chain, &txs);
    group.bench_function("admit the full pool again after a block", |b| {
        b.iter(|| {
            let removed = mempool.finalized(state.clone(), chain.height);
            assert_eq!(removed, 0);
            black_box(removed)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
