//! The bank module and transaction admission: every success and every rejection path.
//!
//! A rejected transaction must change nothing at all; a failed call must change nothing but the
//! signer's fee, the proposer's fee income and the signer's nonce.

use ledger::{
    BankError, CallError, Event, Outcome, Receipt, TxError, state,
    testing::{TestChain, account, key},
};
use types::{
    AssetId, Call, SignedTransaction, Symbol, Text, Transaction,
    bank::{BankCall, Burn, IssueAsset, Mint, Transfer},
};

const EQA: AssetId = AssetId::NATIVE;
const START: u128 = 1_000_000_000;

fn transfer(to: u64, asset: AssetId, amount: u128) -> BankCall {
    BankCall::Transfer(Transfer {
        to: account(to),
        asset,
        amount,
    })
}

fn issue(symbol: &str, decimals: u8, max_supply: Option<u128>) -> BankCall {
    BankCall::IssueAsset(IssueAsset {
        symbol: Symbol::new(symbol).unwrap(),
        name: Text::new(format!("{symbol} token")).unwrap(),
        decimals,
        max_supply,
    })
}

/// Issues an asset from account 0 and returns its id.
fn issued(chain: &mut TestChain, symbol: &str, max_supply: Option<u128>) -> AssetId {
    let receipt = chain.bank(0, issue(symbol, 6, max_supply));
    assert_eq!(receipt.outcome, Outcome::Success);
    match &receipt.events[..] {
        [Event::AssetIssued { asset, .. }] => *asset,
        other => panic!("unexpected events {other:?}"),
    }
}

/// Runs a call that must fail and checks that only the fee and nonce changed.
fn assert_fails(chain: &mut TestChain, signer: u64, call: BankCall, expected: BankError) {
    let before = chain.snapshot_except_fee(signer);
    let nonce = chain.nonce(signer);
    let balance = chain.balance(signer, EQA);
    let receipt = chain.bank(signer, call);
    assert_eq!(receipt.outcome, Outcome::Failed(CallError::Bank(expected)));
    assert!(receipt.events.is_empty());
    assert!(receipt.fee_paid > 0);
    assert_eq!(
        chain.nonce(signer),
        nonce + 1,
        "a failed call still uses its nonce"
    );
    assert_eq!(chain.balance(signer, EQA), balance - receipt.fee_paid);
    assert_eq!(
        chain.snapshot_except_fee(signer),
        before,
        "nothing else changed"
    );
}

/// Applies a transaction that must be rejected and checks that nothing at all changed.
fn assert_rejected(chain: &mut TestChain, tx: SignedTransaction, expected: TxError) {
    let before = chain.store.clone();
    let receipts = chain.apply(&[tx]);
    assert_eq!(receipts[0].outcome, Outcome::Rejected(expected));
    assert_eq!(receipts[0].fee_paid, 0);
    let mut after = chain.store.clone();
    // Only the last-block record moves with the block itself.
    after.put(
        &state::last_block_key(),
        before.get(&state::last_block_key()).unwrap(),
    );
    assert_eq!(after, before, "a rejected transaction changes nothing");
}

use ledger::Store as _;

#[test]
fn transfer_moves_funds_and_pays_the_proposer() {
    let mut chain = TestChain::new(2, START);
    let receipt = chain.bank(0, transfer(1, EQA, 250));
    assert_eq!(receipt.outcome, Outcome::Success);
    assert_eq!(
        receipt.events,
        vec![Event::Transferred {
            from: account(0),
            to: account(1),
            asset: EQA,
            amount: 250
        }]
    );
    assert_eq!(chain.balance(0, EQA), START - 250 - receipt.fee_paid);
    assert_eq!(chain.balance(1, EQA), START + 250);
    assert_eq!(
        state::balance(&chain.store, &chain.proposer, EQA),
        receipt.fee_paid
    );
    assert_eq!(chain.nonce(0), 1);
}

#[test]
fn issue_mint_transfer_and_burn_an_asset() {
    let mut chain = TestChain::new(2, START);
    let usd = issued(&mut chain, "USDX", Some(1_000));
    assert_eq!(
        chain
            .bank(
                0,
                BankCall::Mint(Mint {
                    asset: usd,
                    to: account(0),
                    amount: 600
                })
            )
            .outcome,
        Outcome::Success
    );
    assert_eq!(
        chain.bank(0, transfer(1, usd, 100)).outcome,
        Outcome::Success
    );
    assert_eq!(
        chain
            .bank(
                0,
                BankCall::Burn(Burn {
                    asset: usd,
                    amount: 200
                })
            )
            .outcome,
        Outcome::Success
    );
    assert_eq!(chain.balance(0, usd), 300);
    assert_eq!(chain.balance(1, usd), 100);
    assert_eq!(state::asset(&chain.store, usd).unwrap().supply, 400);
    assert_eq!(
        state::asset_by_symbol(&chain.store, &Symbol::new("USDX").unwrap()),
        Some(usd)
    );
}

#[test]
fn bad_signature_is_rejected() {
    let mut chain = TestChain::new(2, START);
    let good = chain.tx(0, Call::Bank(transfer(1, EQA, 5)));
    // Signed by account 1's key but claiming account 0 as signer.
    let forged = SignedTransaction::sign(good.tx().clone(), &key(1));
    assert_rejected(&mut chain, forged, TxError::BadSignature);
}

#[test]
fn wrong_chain_id_is_rejected() {
    let mut chain = TestChain::new(2, START);
    let good = chain.tx(0, Call::Bank(transfer(1, EQA, 5)));
    let mut body = good.tx().clone();
    body.chain_id = types::ChainId::new("equa-other").unwrap();
    let tx = SignedTransaction::sign(body, &key(0));
    assert_rejected(
        &mut chain,
        tx,
        TxError::WrongChainId {
            expected: types::ChainId::new("equa-test").unwrap(),
            found: types::ChainId::new("equa-other").unwrap(),
        },
    );
}

#[test]
fn replayed_nonce_is_rejected() {
    let mut chain = TestChain::new(2, START);
    let tx = chain.tx(0, Call::Bank(transfer(1, EQA, 5)));
    assert!(chain.apply(std::slice::from_ref(&tx))[0].is_success());
    assert_rejected(
        &mut chain,
        tx,
        TxError::NonceReplayed {
            expected: 1,
            found: 0,
        },
    );
}

#[test]
fn future_nonce_is_rejected() {
    let mut chain = TestChain::new(2, START);
    let tx = chain.tx_with(0, 3, Call::Bank(transfer(1, EQA, 5)));
    assert_rejected(
        &mut chain,
        tx,
        TxError::NonceTooHigh {
            expected: 0,
            found: 3,
        },
    );
}

#[test]
fn nonces_in_one_block_apply_in_order() {
    let mut chain = TestChain::new(2, START);
    let first = chain.tx_with(0, 0, Call::Bank(transfer(1, EQA, 5)));
    let second = chain.tx_with(0, 1, Call::Bank(transfer(1, EQA, 6)));
    let receipts = chain.apply(&[first, second]);
    assert!(receipts.iter().all(Receipt::is_success));
    assert_eq!(chain.balance(1, EQA), START + 11);
}

#[test]
fn expired_transaction_is_rejected() {
    let mut chain = TestChain::new(2, START);
    let good = chain.tx(0, Call::Bank(transfer(1, EQA, 5)));
    let mut body = good.tx().clone();
    body.expires_at_height = 0;
    let tx = SignedTransaction::sign(body, &key(0));
    assert_rejected(
        &mut chain,
        tx,
        TxError::Expired {
            expires_at_height: 0,
            height: 1,
        },
    );
}

#[test]
fn fee_below_the_schedule_is_rejected() {
    let mut chain = TestChain::new(2, START);
    let good = chain.tx(0, Call::Bank(transfer(1, EQA, 5)));
    let required = good.tx().fee;
    let mut body = good.tx().clone();
    body.fee = required - 1;
    let tx = SignedTransaction::sign(body, &key(0));
    assert_rejected(
        &mut chain,
        tx,
        TxError::FeeTooLow {
            required,
            offered: required - 1,
        },
    );
}

#[test]
fn unaffordable_fee_is_rejected() {
    // Account 1 holds no EQA at all.
    let mut chain = TestChain::new(1, START);
    let good = chain.tx(1, Call::Bank(transfer(0, EQA, 5)));
    let fee = good.tx().fee;
    assert_rejected(
        &mut chain,
        good,
        TxError::FeeNotAffordable { fee, balance: 0 },
    );
}

#[test]
fn unaffordable_transfer_fails_and_pays_its_fee() {
    let mut chain = TestChain::new(2, START);
    let available_after_fee = START - chain.tx(0, Call::Bank(transfer(1, EQA, START))).tx().fee;
    assert_fails(
        &mut chain,
        0,
        transfer(1, EQA, START),
        BankError::InsufficientBalance {
            account: account(0),
            asset: EQA,
            needed: START,
            available: available_after_fee,
        },
    );
}

#[test]
fn mint_overflowing_the_supply_fails() {
    let mut chain = TestChain::new(2, START);
    let usd = issued(&mut chain, "USDX", None);
    let mint = |amount| {
        BankCall::Mint(Mint {
            asset: usd,
            to: account(0),
            amount,
        })
    };
    assert!(chain.bank(0, mint(u128::MAX - 10)).is_success());
    assert_fails(
        &mut chain,
        0,
        mint(11),
        BankError::AmountOverflow { asset: usd },
    );
}

#[test]
fn unknown_asset_fails() {
    let mut chain = TestChain::new(2, START);
    assert_fails(
        &mut chain,
        0,
        transfer(1, AssetId(42), 1),
        BankError::UnknownAsset { asset: AssetId(42) },
    );
    assert_fails(
        &mut chain,
        0,
        BankCall::Mint(Mint {
            asset: AssetId(42),
            to: account(0),
            amount: 1,
        }),
        BankError::UnknownAsset { asset: AssetId(42) },
    );
}

#[test]
fn duplicate_symbol_fails() {
    let mut chain = TestChain::new(2, START);
    let usd = issued(&mut chain, "USDX", None);
    assert_fails(
        &mut chain,
        1,
        issue("USDX", 2, None),
        BankError::DuplicateSymbol {
            symbol: Symbol::new("USDX").unwrap(),
            existing: usd,
        },
    );
    // The native symbol is taken from genesis.
    assert_fails(
        &mut chain,
        1,
        issue("EQA", 2, None),
        BankError::DuplicateSymbol {
            symbol: Symbol::new("EQA").unwrap(),
            existing: EQA,
        },
    );
}

#[test]
fn invalid_decimals_and_zero_max_supply_fail() {
    let mut chain = TestChain::new(2, START);
    assert_fails(
        &mut chain,
        0,
        issue("BIG", 19, None),
        BankError::InvalidDecimals {
            decimals: 19,
            max: 18,
        },
    );
    assert_fails(
        &mut chain,
        0,
        issue("NONE", 2, Some(0)),
        BankError::ZeroMaxSupply,
    );
}

#[test]
fn mint_beyond_max_supply_fails() {
    let mut chain = TestChain::new(2, START);
    let usd = issued(&mut chain, "USDX", Some(1_000));
    let mint = |amount| {
        BankCall::Mint(Mint {
            asset: usd,
            to: account(1),
            amount,
        })
    };
    assert!(chain.bank(0, mint(900)).is_success());
    assert_fails(
        &mut chain,
        0,
        mint(101),
        BankError::MaxSupplyExceeded {
            asset: usd,
            requested: 101,
            would_be: 1_001,
            max_supply: 1_000,
        },
    );
    // Exactly up to the cap is fine.
    assert!(chain.bank(0, mint(100)).is_success());
}

#[test]
fn mint_and_burn_by_a_non_issuer_fail() {
    let mut chain = TestChain::new(2, START);
    let usd = issued(&mut chain, "USDX", None);
    assert!(
        chain
            .bank(
                0,
                BankCall::Mint(Mint {
                    asset: usd,
                    to: account(1),
                    amount: 50
                })
            )
            .is_success()
    );
    assert_fails(
        &mut chain,
        1,
        BankCall::Mint(Mint {
            asset: usd,
            to: account(1),
            amount: 1,
        }),
        BankError::NotIssuer { asset: usd },
    );
    assert_fails(
        &mut chain,
        1,
        BankCall::Burn(Burn {
            asset: usd,
            amount: 1,
        }),
        BankError::NotIssuer { asset: usd },
    );
    // Nobody issues the native asset, so nobody can mint it.
    assert_fails(
        &mut chain,
        0,
        BankCall::Mint(Mint {
            asset: EQA,
            to: account(0),
            amount: 1,
        }),
        BankError::NotIssuer { asset: EQA },
    );
}

#[test]
fn burning_more_than_held_fails() {
    let mut chain = TestChain::new(2, START);
    let usd = issued(&mut chain, "USDX", None);
    assert_fails(
        &mut chain,
        0,
        BankCall::Burn(Burn {
            asset: usd,
            amount: 1,
        }),
        BankError::InsufficientBalance {
            account: account(0),
            asset: usd,
            needed: 1,
            available: 0,
        },
    );
}

#[test]
fn zero_amounts_fail() {
    let mut chain = TestChain::new(2, START);
    let usd = issued(&mut chain, "USDX", None);
    assert_fails(&mut chain, 0, transfer(1, EQA, 0), BankError::ZeroAmount);
    assert_fails(
        &mut chain,
        0,
        BankCall::Mint(Mint {
            asset: usd,
            to: account(1),
            amount: 0,
        }),
        BankError::ZeroAmount,
    );
    assert_fails(
        &mut chain,
        0,
        BankCall::Burn(Burn {
            asset: usd,
            amount: 0,
        }),
        BankError::ZeroAmount,
    );
}

#[test]
fn self_transfer_fails() {
    // Policy: a transfer to oneself only burns a fee and usually means a wrong address, so it is
    // refused (the fee is still paid, as for every failed call).
    let mut chain = TestChain::new(2, START);
    assert_fails(&mut chain, 0, transfer(0, EQA, 5), BankError::SelfTransfer);
}

#[test]
fn block_must_follow_the_last_in_height_and_time() {
    let mut chain = TestChain::new(2, START);
    let mut context = chain.next_context();
    context.height = 5;
    let before = chain.store.clone();
    assert_eq!(
        ledger::apply_block(&mut chain.store, &context, &[]),
        Err(ledger::BlockError::HeightNotNext { last: 0, found: 5 })
    );
    let mut context = chain.next_context();
    context.timestamp_ms = chain.time_ms - 1;
    assert!(matches!(
        ledger::apply_block(&mut chain.store, &context, &[]),
        Err(ledger::BlockError::TimestampWentBack { .. })
    ));
    assert_eq!(chain.store, before);
}

#[test]
fn one_bad_signature_does_not_spoil_the_rest_of_the_block() {
    let mut chain = TestChain::new(3, START);
    let good = chain.tx(0, Call::Bank(transfer(1, EQA, 5)));
    let other = chain.tx(2, Call::Bank(transfer(1, EQA, 7)));
    let forged = SignedTransaction::sign(
        Transaction {
            nonce: 1,
            ..good.tx().clone()
        },
        &key(2),
    );
    let receipts = chain.apply(&[good, forged, other]);
    assert!(receipts[0].is_success());
    assert_eq!(
        receipts[1].outcome,
        Outcome::Rejected(TxError::BadSignature)
    );
    assert!(receipts[2].is_success());
    assert_eq!(chain.balance(1, EQA), START + 12);
}
