//! Applying blocks of 1,000 signed transfers over 100,000 funded accounts, on one core.
//!
//! Three figures: applying with signature checks (one ed25519 batch per block), applying with
//! signatures already checked (as the node does after admission), and the batch verification
//! alone, which bounds the first. Each iteration applies the block into a fresh overlay over the
//! same base state, the way the node applies a proposal to its working set.

use commonware_cryptography::{Signer, ed25519::PrivateKey};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ledger::{
    BlockContext, Overlay, apply_block, apply_block_checked, state, testing, verify_signatures,
};
use std::hint::black_box;
use types::{
    AccountId, AssetId, Call, SignedTransaction, Transaction,
    bank::{BankCall, Transfer},
};

const ACCOUNTS: u64 = 100_000;
const BLOCK_TXS: u64 = 1_000;
const START_BALANCE: u128 = 1_000_000_000_000;

fn setup() -> (ledger::MemoryStore, Vec<SignedTransaction>, BlockContext) {
    let mut chain = testing::TestChain::new(1, START_BALANCE);
    let mut store = chain.store.clone();
    let keys: Vec<PrivateKey> = (0..ACCOUNTS).map(PrivateKey::from_seed).collect();
    let accounts: Vec<AccountId> = keys
        .iter()
        .map(|key| AccountId::from_public_key(&key.public_key()))
        .collect();
    let mut native = state::asset(&store, AssetId::NATIVE).unwrap();
    for account in &accounts {
        state::set_balance(&mut store, account, AssetId::NATIVE, START_BALANCE);
    }
    native.supply = START_BALANCE * u128::from(ACCOUNTS);
    state::set_asset(&mut store, AssetId::NATIVE, &native);
    chain.store = store;

    // Senders are spread over the whole account space, each sending once, to a pseudo-random
    // recipient; nothing is cached in the order the block touches keys.
    let params = state::params(&chain.store);
    let txs = (0..BLOCK_TXS)
        .map(|i| {
            let sender = (i * 97) % ACCOUNTS;
            let recipient = (i * 7_919 + 13) % ACCOUNTS;
            let recipient = if recipient == sender {
                (recipient + 1) % ACCOUNTS
            } else {
                recipient
            };
            let call = Call::Bank(BankCall::Transfer(Transfer {
                to: accounts[recipient as usize],
                asset: AssetId::NATIVE,
                amount: 1_000 + u128::from(i),
            }));
            let body = |fee| Transaction {
                chain_id: chain.chain_id(),
                signer: accounts[sender as usize],
                nonce: 0,
                fee,
                expires_at_height: 1_000,
                call: call.clone(),
            };
            let size = SignedTransaction::sign(body(0), &keys[sender as usize]).size();
            let fee = params.required_fee(call.kind(), size).unwrap();
            SignedTransaction::sign(body(fee), &keys[sender as usize])
        })
        .collect();
    let context = chain.next_context();
    (chain.store, txs, context)
}

fn bench(c: &mut Criterion) {
    let (mut store, txs, context) = setup();
    let all_valid = vec![true; txs.len()];

    // Sanity: every transfer in the benchmark block succeeds.
    {
        let mut overlay = Overlay::new(&mut store);
        let receipts = apply_block(&mut overlay, &context, &txs).unwrap();
        assert!(receipts.iter().all(|r| r.is_success()));
    }

    let mut group = c.benchmark_group("block_of_1000_transfers_over_100k_accounts");
    group.throughput(Throughput::Elements(BLOCK_TXS));
    group.sample_size(20);
    group.bench_function("apply_without_signature_checks", |b| {
        b.iter(|| {
            let mut overlay = Overlay::new(&mut store);
            black_box(apply_block_checked(&mut overlay, &context, &txs, &all_valid).unwrap());
        })
    });
    group.bench_function("apply_with_batch_signature_checks", |b| {
        b.iter(|| {
            let mut overlay = Overlay::new(&mut store);
            black_box(apply_block(&mut overlay, &context, &txs).unwrap());
        })
    });
    group.bench_function("batch_signature_verification_alone", |b| {
        b.iter(|| black_box(verify_signatures(&txs)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
