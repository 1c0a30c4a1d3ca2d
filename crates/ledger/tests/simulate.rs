//! Trying a transaction without applying it: `ledger::simulate` answers what `apply_block` would
//! do with the transaction as the next block's only one, and leaves the state as it was.

mod support;

use ledger::{
    BankError, CallError, Holder, Outcome, Store, TxError, apply_block,
    market::{Db, MarketError},
    simulate,
    testing::{TestChain, account},
};
use support::market::{BUYER, Market, SELLER, USD, market_call, take};
use types::{
    AssetId, Call,
    bank::{BankCall, Transfer},
};

fn transfer(to: u64, amount: u128) -> Call {
    Call::Bank(BankCall::Transfer(Transfer {
        to: account(to),
        asset: AssetId::NATIVE,
        amount,
    }))
}

/// Simulates `tx` on `chain`, checks the state did not change, then applies it for real and
/// checks the simulation foretold the receipt exactly.
fn foretells(chain: &mut TestChain, tx: types::SignedTransaction) -> ledger::Simulation {
    let before = chain.store.clone();
    let context = chain.next_context();
    let simulation = simulate(&chain.store, &context, &tx).expect("the context follows");
    assert_eq!(chain.store, before, "the simulation changed the state");
    let mut applied = chain.store.clone();
    let receipts = apply_block(&mut applied, &context, &[tx]).expect("the context follows");
    assert_eq!(simulation.receipt, receipts[0]);
    // What the simulation says it would write is what the block wrote (besides the block's own
    // record of its height and time).
    for change in &simulation.changes {
        assert_eq!(before.get(&change.key), change.before);
        assert_eq!(applied.get(&change.key), change.after);
    }
    simulation
}

#[test]
fn a_transfer_is_foretold_with_its_fee_and_moves_that_sum_to_zero() {
    let mut chain = TestChain::new(2, 1_000_000_000);
    let tx = chain.tx(0, transfer(1, 250));
    let fee = tx.tx().fee;
    let simulation = foretells(&mut chain, tx);
    assert_eq!(simulation.receipt.outcome, Outcome::Success);
    assert_eq!(simulation.receipt.fee_paid, fee);
    let moves = simulation.balance_changes();
    let change = |holder| {
        moves
            .iter()
            .find(|m| m.holder == Holder::Account(holder))
            .map(|m| i128::try_from(m.after).unwrap() - i128::try_from(m.before).unwrap())
    };
    assert_eq!(
        change(account(0)),
        Some(-250 - i128::try_from(fee).unwrap())
    );
    assert_eq!(change(account(1)), Some(250));
    assert_eq!(change(chain.proposer), Some(i128::try_from(fee).unwrap()));
    assert_eq!(moves.len(), 3, "{moves:?}");
}

#[test]
fn a_call_the_ledger_would_fail_is_foretold_failed_with_its_fee() {
    let mut chain = TestChain::new(2, 1_000_000_000);
    let tx = chain.tx(0, transfer(1, 5_000_000_000));
    let simulation = foretells(&mut chain, tx);
    assert!(matches!(
        simulation.receipt.outcome,
        Outcome::Failed(CallError::Bank(BankError::InsufficientBalance { .. }))
    ));
    assert!(simulation.receipt.fee_paid > 0);
    // Only the fee would move.
    assert_eq!(simulation.balance_changes().len(), 2);
}

#[test]
fn taking_above_an_offers_maximum_is_foretold_failed() {
    let mut market = Market::new();
    let offer = market.create(SELLER, market.sell_offer(20 * USD, 300 * USD));
    let revision = Db::offer(&market.chain.store, offer).unwrap().revision;
    let tx = market
        .chain
        .tx(BUYER, market_call(take(offer, revision, 1_000 * USD)));
    let simulation = foretells(&mut market.chain, tx);
    assert!(
        matches!(
            simulation.receipt.outcome,
            Outcome::Failed(CallError::Market(MarketError::AmountOutOfRange { .. }))
        ),
        "{:?}",
        simulation.receipt.outcome
    );
}

#[test]
fn rejections_are_foretold_and_write_nothing() {
    let mut chain = TestChain::new(2, 1_000_000_000);
    chain.bank(
        0,
        BankCall::Transfer(Transfer {
            to: account(1),
            asset: AssetId::NATIVE,
            amount: 1,
        }),
    );
    // A used nonce.
    let replayed = chain.tx_with(0, 0, transfer(1, 1));
    let simulation = foretells(&mut chain, replayed);
    assert!(matches!(
        simulation.receipt.outcome,
        Outcome::Rejected(TxError::NonceReplayed {
            expected: 1,
            found: 0
        })
    ));
    assert!(simulation.changes.is_empty());
    assert_eq!(simulation.receipt.fee_paid, 0);
    // The signature is not checked: a copy signed with another key (what a wallet shows a
    // node) is foretold exactly like the signer's own, while a block refuses that copy.
    let good = chain.tx(0, transfer(1, 1));
    let copy = types::SignedTransaction::sign(good.tx().clone(), &ledger::testing::key(1));
    let context = chain.next_context();
    let of_copy = simulate(&chain.store, &context, &copy).unwrap();
    let of_good = simulate(&chain.store, &context, &good).unwrap();
    assert_eq!(of_copy.receipt.outcome, Outcome::Success);
    assert_eq!(of_copy.receipt, of_good.receipt);
    assert_eq!(of_copy.changes, of_good.changes);
    let mut applied = chain.store.clone();
    let receipts = ledger::apply_block(&mut applied, &context, &[copy]).unwrap();
    assert_eq!(
        receipts[0].outcome,
        Outcome::Rejected(TxError::BadSignature)
    );
    // The last nonce: running it "as if next" does not get around the ledger's refusal.
    let last = chain.tx_with(0, u64::MAX, transfer(1, 1));
    let simulation = simulate(&chain.store, &chain.next_context(), &last).unwrap();
    assert_eq!(
        simulation.receipt.outcome,
        Outcome::Rejected(TxError::NonceExhausted)
    );
    assert!(simulation.changes.is_empty());
    // Expired by the next block.
    let mut body = chain.tx(0, transfer(1, 1)).tx().clone();
    body.expires_at_height = chain.height;
    let expired = types::SignedTransaction::sign(body, &ledger::testing::key(0));
    let simulation = foretells(&mut chain, expired);
    assert!(matches!(
        simulation.receipt.outcome,
        Outcome::Rejected(TxError::Expired { .. })
    ));
}

#[test]
fn a_nonce_ahead_is_run_as_if_the_waiting_transactions_came_first() {
    let chain = TestChain::new(2, 1_000_000_000);
    let before = chain.store.clone();
    let ahead = chain.tx_with(0, 3, transfer(1, 7));
    let simulation = simulate(&chain.store, &chain.next_context(), &ahead).unwrap();
    assert_eq!(simulation.receipt.outcome, Outcome::Success);
    let nonce = simulation
        .changes
        .iter()
        .find(|c| c.key == ledger::state::nonce_key(&account(0)))
        .expect("the nonce advances");
    assert_eq!(
        nonce.after.as_deref(),
        Some(&types::codec::Encode::encode(&4u64)[..])
    );
    assert_eq!(chain.store, before);
    // The ledger itself refuses it: simulation says so in its docs, and does not hide it here.
    let mut applied = chain.store.clone();
    let receipts = apply_block(&mut applied, &chain.next_context(), &[ahead]).unwrap();
    assert!(matches!(
        receipts[0].outcome,
        Outcome::Rejected(TxError::NonceTooHigh { .. })
    ));
}

#[test]
fn a_context_that_does_not_follow_the_state_is_refused() {
    let chain = TestChain::new(2, 1_000_000_000);
    let tx = chain.tx(0, transfer(1, 7));
    let mut context = chain.next_context();
    context.height += 1;
    assert!(matches!(
        simulate(&chain.store, &context, &tx),
        Err(ledger::BlockError::HeightNotNext { .. })
    ));
}
