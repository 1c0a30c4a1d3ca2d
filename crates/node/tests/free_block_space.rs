//! The "free block space" attack on the pool, and the rules that stop it.
//!
//! A transaction the ledger refuses (`Outcome::Rejected`) pays no fee. A pool that admits a
//! sender's transactions one by one against its balance lets a sender funded for one fee queue
//! many; the first drains it, and the rest would be proposed in every block for nothing. These
//! tests drive the real pool, the real ledger and the proposer's own execution path
//! (`node::proposal::execute_proposal`) through that attack and its variants.

use ledger::{
    MemoryStore, Outcome, TxError, state,
    testing::{TestChain, account, key},
};
use node::{
    TransactionSource,
    mempool::{MAX_EXPIRY_BLOCKS, Mempool, MempoolConfig, MempoolError},
    proposal::execute_proposal,
};
use std::sync::Arc;
use types::{AssetId, Call, SignedTransaction, Transaction, TxId, bank::BankCall, bank::Transfer};

fn transfer(to: u64, amount: u128) -> Call {
    Call::Bank(BankCall::Transfer(Transfer {
        to: account(to),
        asset: AssetId::NATIVE,
        amount,
    }))
}

/// A transfer from `signer` expiring at `expires_at_height`, paying exactly the scheduled fee.
fn expiring(chain: &TestChain, signer: u64, expires_at_height: u64) -> SignedTransaction {
    let params = state::params(&chain.store);
    let body = |fee| Transaction {
        chain_id: chain.chain_id(),
        signer: account(signer),
        nonce: chain.nonce(signer),
        fee,
        expires_at_height,
        call: transfer(9, 1),
    };
    let size = SignedTransaction::sign(body(0), &key(signer)).size();
    let fee = params.required_fee("bank.transfer", size).unwrap();
    SignedTransaction::sign(body(fee), &key(signer))
}

/// The fee of the transfers these tests send (every one has the same size).
fn fee(chain: &TestChain) -> u128 {
    chain.tx_with(0, 0, transfer(9, 1)).tx().fee
}

/// Pays `amount` EQA minor units from account 0 to each of `accounts`, in one block.
fn fund(chain: &mut TestChain, accounts: impl IntoIterator<Item = u64>, amount: u128) {
    let first = chain.nonce(0);
    let txs: Vec<SignedTransaction> = accounts
        .into_iter()
        .enumerate()
        .map(|(offset, to)| chain.tx_with(0, first + offset as u64, transfer(to, amount)))
        .collect();
    assert!(chain.apply(&txs).iter().all(|receipt| receipt.is_success()));
}

fn pool(chain: &TestChain) -> Mempool {
    Mempool::new(
        MempoolConfig::default(),
        Arc::new(chain.store.clone()),
        chain.height,
    )
}

/// The block this node would propose next: the pool's selection, executed on the chain's state
/// by the proposer's own path, which leaves out what the ledger refuses.
fn propose(chain: &TestChain, mempool: &Mempool) -> Vec<SignedTransaction> {
    let context = chain.next_context();
    let candidates = mempool.select(&chain.store, &context, 10_000);
    let (txs, execution) = execute_proposal(&chain.store, &context, candidates, mempool).unwrap();
    assert_eq!(execution.executed.receipts.len(), txs.len());
    txs
}

/// Applies `txs` as the next block and tells the pool, as the node does once it is finalized.
/// Every transaction in it must have paid its fee.
fn finalize(chain: &mut TestChain, mempool: &Mempool, txs: &[SignedTransaction]) -> usize {
    for receipt in chain.apply(txs) {
        assert!(
            !matches!(receipt.outcome, Outcome::Rejected(_)) && receipt.fee_paid > 0,
            "a block carried a transaction that paid nothing: {receipt:?}"
        );
    }
    mempool.finalized(Arc::new(chain.store.clone()), chain.height)
}

fn ids(txs: &[SignedTransaction]) -> Vec<TxId> {
    txs.iter().map(SignedTransaction::id).collect()
}

#[test]
fn sender_funded_for_one_fee_cannot_queue_a_second() {
    let mut chain = TestChain::new(1, 1_000_000_000_000);
    let fee = fee(&chain);
    fund(&mut chain, [7], fee);
    let mempool = pool(&chain);
    mempool.submit(chain.tx_with(7, 0, transfer(9, 1))).unwrap();
    // The next nonce and a gap alike: one fee is pending, the balance covers no second.
    for nonce in [1, 5] {
        let refused = mempool.submit(chain.tx_with(7, nonce, transfer(9, 1)));
        match refused {
            Err(MempoolError::PendingFeesNotAffordable {
                count: 1,
                pending_fees,
                fee: offered,
                balance,
            }) => {
                assert_eq!((pending_fees, offered, balance), (fee, fee, fee));
            }
            other => panic!("nonce {nonce}: expected PendingFeesNotAffordable, got {other:?}"),
        }
    }
    assert_eq!(mempool.len(), 1);

    // A sender funded for two fees queues exactly two.
    fund(&mut chain, [8], 2 * fee);
    let mempool = pool(&chain);
    mempool.submit(chain.tx_with(8, 0, transfer(9, 1))).unwrap();
    mempool.submit(chain.tx_with(8, 2, transfer(9, 1))).unwrap();
    assert!(matches!(
        mempool.submit(chain.tx_with(8, 1, transfer(9, 1))),
        Err(MempoolError::PendingFeesNotAffordable { count: 2, .. })
    ));
}

#[test]
fn pending_fees_whose_sum_overflows_are_refused() {
    let chain = TestChain::new(1, u128::MAX);
    let fee = fee(&chain);
    let mempool = pool(&chain);
    let body = |nonce, fee| {
        SignedTransaction::sign(
            Transaction {
                fee,
                ..chain.tx_with(0, nonce, transfer(9, 1)).tx().clone()
            },
            &key(0),
        )
    };
    // Each fee alone is affordable from a balance of u128::MAX; together they overflow.
    mempool.submit(body(0, u128::MAX - fee + 1)).unwrap();
    assert!(matches!(
        mempool.submit(body(1, fee)),
        Err(MempoolError::PendingFeesNotAffordable { count: 1, .. })
    ));
    assert_eq!(mempool.len(), 1);
}

#[test]
fn transactions_made_unaffordable_by_a_finalized_transfer_are_dropped() {
    let mut chain = TestChain::new(2, 1_000_000_000_000);
    let fee = fee(&chain);
    fund(&mut chain, [7], 10 * fee);
    let mempool = pool(&chain);
    let queued: Vec<SignedTransaction> = [0, 1, 2, 3, 4, 7]
        .into_iter()
        .map(|nonce| chain.tx_with(7, nonce, transfer(9, 1)))
        .collect();
    for tx in &queued {
        mempool.submit(tx.clone()).unwrap();
    }
    // Another sender with a gap: nothing happens to its balance, so both stay.
    let bystander = [
        chain.tx_with(1, 0, transfer(9, 1)),
        chain.tx_with(1, 2, transfer(9, 1)),
    ];
    for tx in &bystander {
        mempool.submit(tx.clone()).unwrap();
    }
    assert_eq!(mempool.len(), 8);

    // Through another node, the sender spends all but two fees (and the two transfers of 1)
    // with its nonce 0.
    let spend = chain.tx_with(7, 0, transfer(9, 7 * fee - 2));
    assert_ne!(spend.id(), queued[0].id());
    let removed = finalize(&mut chain, &mempool, &[spend]);
    assert_eq!(chain.balance(7, AssetId::NATIVE), 2 * fee + 2);

    // Nonce 0 was replaced; nonces 1 and 2 are still paid for; 3 is not, and 4 and the gap at
    // 7 could only follow it.
    assert_eq!(removed, 4);
    let pending = |tx: &SignedTransaction| mempool.contains(&tx.id());
    assert_eq!(
        queued.iter().map(pending).collect::<Vec<_>>(),
        vec![false, true, true, false, false, false]
    );
    assert!(bystander.iter().all(pending));

    // The next block carries what is left of the run, and all of it pays.
    let next = propose(&chain, &mempool);
    let mut expected = ids(&queued[1..3]);
    expected.push(bystander[0].id());
    let mut proposed = ids(&next);
    proposed.sort();
    expected.sort();
    assert_eq!(proposed, expected);
    finalize(&mut chain, &mempool, &next);
    assert_eq!(chain.balance(7, AssetId::NATIVE), 0);
}

#[test]
fn expired_transactions_are_dropped_after_a_block() {
    let mut chain = TestChain::new(1, 1_000_000_000_000);
    let mempool = pool(&chain);
    // Valid in block 1 only, but block 1 is someone else's and does not carry it.
    let short = expiring(&chain, 0, 1);
    mempool.submit(short.clone()).unwrap();
    assert_eq!(finalize(&mut chain, &mempool, &[]), 1);
    assert!(!mempool.contains(&short.id()));
}

#[test]
fn transaction_expiring_too_far_ahead_is_refused() {
    let mut chain = TestChain::new(1, 1_000_000_000_000);
    let limit = MempoolConfig::default().max_expiry_blocks;
    assert_eq!(limit, MAX_EXPIRY_BLOCKS);
    let mempool = pool(&chain);
    // A transaction that never expires, as a flooding sender would send.
    for expires_at_height in [limit + 1, u64::MAX] {
        match mempool.submit(expiring(&chain, 0, expires_at_height)) {
            Err(MempoolError::ExpiresTooFarAhead {
                expires_at_height: found,
                height: 0,
                limit: found_limit,
            }) => assert_eq!((found, found_limit), (expires_at_height, limit)),
            other => panic!("expected ExpiresTooFarAhead, got {other:?}"),
        }
    }
    assert!(mempool.is_empty());
    // The bound moves with the chain: at height 2, `2 + limit` is allowed and one more is not.
    finalize(&mut chain, &mempool, &[]);
    finalize(&mut chain, &mempool, &[]);
    assert!(matches!(
        mempool.submit(expiring(&chain, 0, limit + 3)),
        Err(MempoolError::ExpiresTooFarAhead { height: 2, .. })
    ));
    mempool.submit(expiring(&chain, 0, limit + 2)).unwrap();
}

#[test]
fn a_wallets_transaction_expires_within_the_bound() {
    let mut chain = TestChain::new(1, 1_000_000_000_000);
    let wallet = client::keys::Wallet::from_seed([7; 64]);
    let first = chain.nonce(0);
    let funding = chain.tx_with(
        0,
        first,
        Call::Bank(BankCall::Transfer(Transfer {
            to: wallet.account(),
            asset: AssetId::NATIVE,
            amount: 1_000_000,
        })),
    );
    let mempool = pool(&chain);
    finalize(&mut chain, &mempool, &[funding]);
    // The command line and the web wallet sign through `sign_call`, from the node's height.
    let tx = client::tx::sign_call(
        &wallet,
        chain.chain_id(),
        0,
        chain.height,
        &state::params(&chain.store),
        transfer(9, 1),
    )
    .unwrap();
    mempool.submit(tx).unwrap();
}

#[test]
fn proposal_leaves_out_transactions_refused_without_a_fee() {
    let mut chain = TestChain::new(2, 1_000_000_000_000);
    let fee = fee(&chain);
    fund(&mut chain, [7], 5 * fee);
    let mempool = pool(&chain);
    // Four fees pending against five: admitted. But nonce 0 moves the other four away.
    let drain = chain.tx_with(7, 0, transfer(9, 4 * fee));
    let after: Vec<SignedTransaction> = (1..4)
        .map(|nonce| chain.tx_with(7, nonce, transfer(9, 1)))
        .collect();
    let honest = chain.tx_with(1, 0, transfer(9, 1));
    for tx in std::iter::once(&drain).chain(&after).chain([&honest]) {
        mempool.submit(tx.clone()).unwrap();
    }

    let context = chain.next_context();
    let candidates = mempool.select(&chain.store, &context, 100);
    assert_eq!(candidates.len(), 5, "the pool offers the whole run");
    // Executed as offered, the block would carry three transactions that pay nothing.
    let offered = node::state::execute(&chain.store, &context, &candidates, &[false; 5]).unwrap();
    let unpaid = offered
        .executed
        .receipts
        .iter()
        .filter(|receipt| matches!(receipt.outcome, Outcome::Rejected(_)))
        .count();
    assert_eq!(unpaid, 3);

    let (txs, execution) = execute_proposal(&chain.store, &context, candidates, &mempool).unwrap();
    let mut proposed = ids(&txs);
    proposed.sort();
    let mut expected = vec![drain.id(), honest.id()];
    expected.sort();
    assert_eq!(proposed, expected);
    assert!(
        execution
            .executed
            .receipts
            .iter()
            .all(|receipt| receipt.fee_paid == fee)
    );
    // The refused transactions left the pool; what the proposal carries is still pending.
    assert!(after.iter().all(|tx| !mempool.contains(&tx.id())));
    assert!(mempool.contains(&drain.id()) && mempool.contains(&honest.id()));
    assert_eq!(mempool.len(), 2);

    finalize(&mut chain, &mempool, &txs);
    assert!(mempool.is_empty());
}

/// A source that offers fixed transactions and records what it is told was refused.
#[derive(Debug, Default)]
struct Recorder(std::sync::Mutex<Vec<TxId>>);

impl TransactionSource for Recorder {
    fn select(
        &self,
        _: &MemoryStore,
        _: &ledger::BlockContext,
        _: usize,
    ) -> Vec<SignedTransaction> {
        Vec::new()
    }

    fn refused(&self, txs: &[SignedTransaction]) {
        self.0.lock().unwrap().extend(ids(txs));
    }
}

#[test]
fn proposer_names_every_refused_transaction_to_its_source() {
    let chain = TestChain::new(2, 1_000_000_000_000);
    let good = chain.tx_with(0, 0, transfer(9, 1));
    let replayed_later = chain.tx_with(0, 0, transfer(9, 2));
    let forged = SignedTransaction::sign(chain.tx_with(1, 0, transfer(9, 1)).tx().clone(), &key(0));
    let unfunded = chain.tx_with(5, 0, transfer(9, 1));
    let source = Recorder::default();
    let (txs, execution) = execute_proposal(
        &chain.store,
        &chain.next_context(),
        vec![
            good.clone(),
            replayed_later.clone(),
            forged.clone(),
            unfunded.clone(),
        ],
        &source,
    )
    .unwrap();
    assert_eq!(ids(&txs), vec![good.id()]);
    assert!(execution.executed.receipts[0].is_success());
    assert_eq!(
        *source.0.lock().unwrap(),
        vec![replayed_later.id(), forged.id(), unfunded.id()]
    );
}

#[test]
fn one_fee_senders_get_no_free_block_space() {
    let mut chain = TestChain::new(1, 1_000_000_000_000);
    let fee = fee(&chain);
    // One attacker and nineteen sybils, each funded for exactly one fee.
    let senders: Vec<u64> = (10..30).collect();
    fund(&mut chain, senders.iter().copied(), fee);
    let mempool = pool(&chain);
    let mut admitted = Vec::new();
    for &sender in &senders {
        for nonce in 0..40 {
            match mempool.submit(chain.tx_with(sender, nonce, transfer(9, 1))) {
                Ok(id) => admitted.push(id),
                Err(MempoolError::PendingFeesNotAffordable { count: 1, .. }) => {}
                Err(error) => panic!("sender {sender} nonce {nonce}: {error}"),
            }
        }
    }
    assert_eq!(admitted.len(), senders.len(), "one transaction per sender");

    // The block carries each sender's one transaction, and each pays its fee.
    let proposer_before = state::balance(&chain.store, &chain.proposer, AssetId::NATIVE);
    let block = propose(&chain, &mempool);
    assert_eq!(block.len(), senders.len());
    finalize(&mut chain, &mempool, &block);
    let earned = state::balance(&chain.store, &chain.proposer, AssetId::NATIVE) - proposer_before;
    assert_eq!(earned, fee * senders.len() as u128);

    // Afterwards the pool holds none of them, the next proposal carries none, and a sender
    // with nothing left cannot queue anything.
    assert!(mempool.is_empty());
    assert!(propose(&chain, &mempool).is_empty());
    assert!(matches!(
        mempool.submit(chain.tx_with(10, 1, transfer(9, 1))),
        Err(MempoolError::Rejected(TxError::FeeNotAffordable {
            balance: 0,
            ..
        }))
    ));
    assert!(mempool.is_empty());
}
