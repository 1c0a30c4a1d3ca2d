//! Red-team attacks on the market and lending fixes, each named for what the attacker tries.
//! A test that passes is a defence that holds; the rest show where the ledger still gives way.

mod support;

use ledger::{
    BlockContext, CallError, Event, Outcome, Receipt,
    lending::{LendingError, LendingEvent, LoanState, math},
    market::{MarketError, MarketEvent, TradeState},
    state::{self, Module},
    testing::account,
};
use support::{
    BORROWER, DAY_MS, LENDER_A, LENDER_B, LENDER_C, Lending, OUTSIDER as LENDING_OUTSIDER,
    market::*,
};
use types::{
    Call, Text,
    lending::{Collateral, Fund, LendingCall, LoanRef, OfferCredit, Repay, Schedule, TakeCredit},
    market::*,
};

/// Accounts 6 and up also hold USDX; this one plays a party's sybil.
const SYBIL: u64 = 6;

// Market attacks ---------------------------------------------------------------------------

/// A taker takes half of a 1,000-unit sell offer of an 18-decimal asset (the common case for
/// tokens). The maker's deposit share is `deposit_locked * amount / max_amount`, computed in
/// 128 bits: 10^20 * 5·10^20 overflows, so every partial take of such an offer fails with
/// `ValueOverflow` and only whole takes work.
#[test]
fn partial_take_of_an_eighteen_decimal_offer_is_not_refused_on_overflow() {
    let mut m = Market::with_arbiters(&[ARBITER_A]);
    let meme = issue_asset(&mut m.chain, "MEME", 18);
    mint(&mut m.chain, meme, SELLER, 10_000 * WEI);
    mint(&mut m.chain, meme, BUYER, 10_000 * WEI);
    let mut terms = m.offer(meme, WEI, 1_000 * WEI);
    // 0.01 EUR a unit: 500 units are 5 EUR, under every new-account limit.
    terms.price = 1;
    let offer = m.create(SELLER, terms);
    let receipt = m.submit(BUYER, take(offer, 0, 500 * WEI));
    assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
}

/// A very large trade (10^36 minor units of an 18-decimal token, with the minimum 3% deposits)
/// is disputed and given to an arbitrator charging the highest fee the market allows (5%). The
/// fee `amount * fee_bps` is computed in 128 bits and overflows although the fee itself (capped
/// at the at-fault deposit) fits, so `rule` fails with `ValueOverflow` for every such arbitrator:
/// the dispute can only end by reassignments and `no_ruling`, which splits the amount in half.
#[test]
fn arbitrator_with_the_highest_fee_can_rule_on_a_very_large_trade() {
    let mut m = Market::with(&[], |params| {
        params.new_account_trades = 0;
        params.new_account_counterparties = 0;
    });
    m.ok(ARBITER_A, register_with_fee(500));
    let meme = issue_asset(&mut m.chain, "MEME", 18);
    let amount: u128 = 1_000_000_000_000_000_000 * WEI;
    mint(&mut m.chain, meme, SELLER, 2 * amount);
    mint(&mut m.chain, meme, BUYER, amount / 10);
    let mut terms = m.offer(meme, amount, amount);
    terms.price = 1;
    terms.buyer_deposit_bps = 300;
    terms.seller_deposit_bps = 300;
    let offer = m.create(SELLER, terms);
    let trade = m.take(BUYER, offer, amount);
    m.ok(BUYER, mark_paid(trade));
    m.ok(
        SELLER,
        MarketCall::OpenDispute(types::market::OpenDispute::other(trade)),
    );
    m.empty_block();
    assert_eq!(m.trade(trade).arbitrator, Some(account(ARBITER_A)));
    let receipt = m.submit(
        ARBITER_A,
        MarketCall::Rule(Rule {
            trade,
            amount_to_buyer: 0,
            at_fault: Party::Buyer,
        }),
    );
    assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
    assert_eq!(m.trade(trade).state, TradeState::Resolved);
}

/// The buyer cancels at the payment deadline's very millisecond (still inside the window: a
/// free cancel), and on another trade one millisecond later (a timeout: the deposit goes to the
/// seller). The seller cannot claim the timeout at the deadline millisecond.
#[test]
fn cancel_and_timeout_at_the_payment_deadline_millisecond() {
    let mut m = Market::with_arbiters(&[ARBITER_A]);
    let buyer0 = m.usd(BUYER);
    let trade = m.open_trade();
    let deadline = m.trade(trade).payment_deadline_ms;
    let claim = m.at(deadline, SELLER, MarketCall::ClaimTimeout(t(trade)));
    assert_eq!(
        claim.outcome,
        Outcome::Failed(CallError::Market(MarketError::PaymentWindowOpen {
            trade,
            closes_at_ms: deadline,
        }))
    );
    // One millisecond after the deadline: the late cancel is a timeout.
    let receipt = m.at(deadline + 1, BUYER, MarketCall::CancelTrade(t(trade)));
    assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
    assert_eq!(m.trade(trade).state, TradeState::TimedOut);
    assert_eq!(m.usd(BUYER), buyer0 - 15 * USD);

    let mut m = Market::with_arbiters(&[ARBITER_A]);
    let buyer0 = m.usd(BUYER);
    let trade = m.open_trade();
    let deadline = m.trade(trade).payment_deadline_ms;
    let receipt = m.at(deadline, BUYER, MarketCall::CancelTrade(t(trade)));
    assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
    assert_eq!(m.trade(trade).state, TradeState::Cancelled);
    assert_eq!(m.usd(BUYER), buyer0);
}

/// The buyer opens a dispute at the release deadline's millisecond (refused) and one
/// millisecond later (accepted).
#[test]
fn buyer_dispute_at_the_release_deadline_millisecond_is_refused() {
    let mut m = Market::with_arbiters(&[ARBITER_A]);
    let trade = m.paid_trade();
    let deadline = m.trade(trade).release_deadline_ms;
    let receipt = m.at(
        deadline,
        BUYER,
        MarketCall::OpenDispute(types::market::OpenDispute::other(trade)),
    );
    assert_eq!(
        receipt.outcome,
        Outcome::Failed(CallError::Market(MarketError::ReleaseWindowOpen {
            trade,
            opens_at_ms: deadline + 1,
        }))
    );
    let receipt = m.at(
        deadline + 1,
        BUYER,
        MarketCall::OpenDispute(types::market::OpenDispute::other(trade)),
    );
    assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
    assert_eq!(m.trade(trade).state, TradeState::Disputed);
}

/// The maker updates its price away and back to the same terms: a take naming the first
/// revision still fails (the revision, not the terms, binds). Takes of an unknown offer and of
/// u128::MAX are refused with named errors and move nothing.
#[test]
fn take_naming_a_revision_updated_away_and_back_fails() {
    let mut m = Market::with_arbiters(&[ARBITER_A]);
    let offer = m.create(SELLER, m.offer(m.usd, 10 * USD, 100 * USD));
    let terms = |price| {
        MarketCall::UpdateOffer(UpdateOffer {
            offer,
            price,
            min_amount: 10 * USD,
            max_amount: 100 * USD,
            methods: vec![PaymentMethod::Registered(SEPA)],
            payment_window_secs: 3_600,
            terms: Text::new("SEPA only").unwrap(),
        })
    };
    m.ok(SELLER, terms(150));
    m.ok(SELLER, terms(92));
    m.fails(
        BUYER,
        take(offer, 0, 10 * USD),
        MarketError::OfferChanged {
            offer,
            expected_revision: 0,
            current_revision: 2,
        },
    );
    m.fails(
        BUYER,
        take(u64::MAX, 0, 10 * USD),
        MarketError::UnknownOffer { offer: u64::MAX },
    );
    m.fails(
        BUYER,
        take(offer, 2, u128::MAX),
        MarketError::AmountOutOfRange {
            offer,
            asset: m.usd,
            amount: u128::MAX,
            min: 10 * USD,
            max: 100 * USD,
        },
    );
    m.take(BUYER, offer, 10 * USD);
}

/// With nobody eligible and the ruling window passed, a sybil registers, asks for a pick and
/// unregisters in one block, so the pick finds nobody. That buys nothing: the deadline does
/// not move, nothing is counted as a reassignment, and the buyer's next reassign ends the
/// dispute without a ruling.
#[test]
fn sybil_register_reassign_unregister_in_one_block_does_not_postpone_the_exit() {
    let mut m = Market::with(&[], |_| {});
    let trade = m.paid_trade();
    m.ok(
        SELLER,
        MarketCall::OpenDispute(types::market::OpenDispute::other(trade)),
    );
    m.empty_block();
    let deadline = m.trade(trade).ruling_deadline_ms;
    m.chain.advance_ms(3 * DAY_MS);
    let nonce = m.chain.nonce(SYBIL);
    let txs = [
        register_with_fee(100),
        MarketCall::Reassign(t(trade)),
        MarketCall::UnregisterArbitrator(types::market::Nothing),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, call)| m.chain.tx_with(SYBIL, nonce + i as u64, Call::Market(call)))
    .collect::<Vec<_>>();
    let receipts = m.chain.apply(&txs);
    assert!(receipts.iter().all(Receipt::is_success), "{receipts:?}");
    m.empty_block();
    let record = m.trade(trade);
    assert_eq!(
        (
            record.state,
            record.arbitrator,
            record.arbitrator_pending,
            record.ruling_deadline_ms,
            record.reassigned.len()
        ),
        (TradeState::Disputed, None, false, deadline, 0)
    );
    let events = m.ok(BUYER, MarketCall::Reassign(t(trade)));
    assert!(events.contains(&MarketEvent::NoRuling { trade }));
    assert_eq!(m.trade(trade).state, TradeState::Resolved);
}

// Lending harness --------------------------------------------------------------------------

fn lending_at(l: &mut Lending, timestamp_ms: u64, signer: u64, call: LendingCall) -> Receipt {
    let tx = l.chain.tx(signer, Call::Lending(call));
    let context = BlockContext {
        timestamp_ms,
        ..l.chain.next_context()
    };
    l.chain.apply_with(&context, &[tx]).remove(0)
}

fn lending_failed(receipt: &Receipt) -> Option<LendingError> {
    match &receipt.outcome {
        Outcome::Failed(CallError::Lending(error)) => Some(error.clone()),
        _ => None,
    }
}

/// Claims for every lender, accepting "nothing to claim"; returns what each received.
fn claim_all(l: &mut Lending, loan: u64, lenders: &[u64]) -> Vec<(u128, u128)> {
    lenders
        .iter()
        .map(|lender| {
            let receipt = l.submit(*lender, LendingCall::Claim(LoanRef { loan }));
            match (&receipt.outcome, &receipt.events[..]) {
                (
                    Outcome::Success,
                    [
                        Event::Lending(LendingEvent::Claimed {
                            amount, collateral, ..
                        }),
                    ],
                ) => (*amount, *collateral),
                (Outcome::Failed(CallError::Lending(LendingError::NothingToClaim { .. })), _) => {
                    (0, 0)
                }
                other => panic!("{other:?}"),
            }
        })
        .collect()
}

// Lending attacks --------------------------------------------------------------------------

/// A lender withdraws at the funding deadline's millisecond (allowed), the borrower cannot
/// accept at it, and one millisecond later a withdrawal is refused while the acceptance goes
/// through: no lender can pull funds out from under the borrower's acceptance.
#[test]
fn withdrawal_and_acceptance_at_the_funding_deadline_millisecond() {
    let mut l = Lending::new();
    let loan = l.open(l.request(1_200_000_000, Schedule::Bullet));
    l.fund(LENDER_A, loan, 700_000_000);
    l.fund(LENDER_B, loan, 200_000_000);
    let deadline = l.loan(loan).funding_deadline_ms;
    let tx_b = l.chain.tx(
        LENDER_B,
        Call::Lending(LendingCall::Withdraw(LoanRef { loan })),
    );
    let tx_accept = l.chain.tx(
        BORROWER,
        Call::Lending(LendingCall::Accept(LoanRef { loan })),
    );
    let context = BlockContext {
        timestamp_ms: deadline,
        ..l.chain.next_context()
    };
    let receipts = l.chain.apply_with(&context, &[tx_b, tx_accept]);
    assert!(receipts[0].is_success(), "{:?}", receipts[0]);
    assert_eq!(
        lending_failed(&receipts[1]),
        Some(LendingError::FundingOpen {
            loan,
            deadline_ms: deadline
        })
    );
    let receipt = lending_at(
        &mut l,
        deadline + 1,
        LENDER_A,
        LendingCall::Withdraw(LoanRef { loan }),
    );
    assert_eq!(
        lending_failed(&receipt),
        Some(LendingError::FundingClosed {
            loan,
            deadline_ms: deadline
        })
    );
    l.ok(BORROWER, LendingCall::Accept(LoanRef { loan }));
    assert_eq!(l.loan(loan).state, LoanState::Active);
    assert_eq!(l.loan(loan).principal, 700_000_000);
}

/// The borrower repays u128::MAX: only what is owed is taken, the loan closes, a second
/// repayment is refused, and once the lenders have claimed the module holds nothing for it.
#[test]
fn repaying_u128_max_takes_only_what_is_owed() {
    let mut l = Lending::new();
    let loan = l.active_loan();
    l.chain.advance_ms(10 * DAY_MS);
    let before = l.usd(BORROWER);
    l.repay(loan, u128::MAX);
    let record = l.loan(loan);
    assert_eq!(record.state, LoanState::Repaid);
    assert_eq!(before - l.usd(BORROWER), record.paid_in);
    assert!(record.paid_in > 1_200_000_000 && record.paid_in < 1_210_000_000);
    let receipt = l.submit(
        BORROWER,
        LendingCall::Repay(Repay {
            loan,
            amount: u128::MAX,
        }),
    );
    assert!(matches!(
        lending_failed(&receipt),
        Some(LendingError::WrongState { .. })
    ));
    let claims = claim_all(&mut l, loan, &[LENDER_A, LENDER_B]);
    assert_eq!(claims.iter().map(|c| c.0).sum::<u128>(), record.paid_in);
    assert_eq!(state::held(&l.chain.store, Module::Lending, l.usd), 0);
    assert_eq!(state::held(&l.chain.store, Module::Lending, l.gold), 0);
}

/// Two loans share the module's USDX pool; the first (3 minor units, lenders 1-1-1, collateral
/// in USDX too) defaults, is repaid in dribbles by an outsider with claims in between, and then
/// closed. Every claim of both loans together takes exactly what came in: the module ends at
/// zero, so no loan's lenders were paid from another loan's money.
#[test]
fn defaulted_dust_loan_sharing_the_pool_pays_its_lenders_nothing_of_other_loans() {
    let mut l = Lending::new();
    let mut request = l.request(3, Schedule::Bullet);
    request.collateral = Some(Collateral {
        asset: l.usd,
        amount: 10,
    });
    request.min_fill = 3;
    let dust = l.open(request);
    for lender in [LENDER_A, LENDER_B, LENDER_C] {
        l.fund(lender, dust, 1);
    }
    let mut request = l.request(1_000, Schedule::Bullet);
    request.collateral = None;
    request.min_fill = 1_000;
    let other = l.open(request);
    l.fund(LENDER_A, other, 1_000);
    let due = l.loan(dust).dues[0].at_ms;
    let threshold = due + 30 * DAY_MS;
    let receipt = lending_at(
        &mut l,
        threshold,
        LENDING_OUTSIDER,
        LendingCall::DeclareDefault(LoanRef { loan: dust }),
    );
    assert_eq!(
        lending_failed(&receipt),
        Some(LendingError::NotInDefault {
            loan: dust,
            at_ms: threshold + 1
        })
    );
    let receipt = lending_at(
        &mut l,
        threshold + 1,
        LENDING_OUTSIDER,
        LendingCall::DeclareDefault(LoanRef { loan: dust }),
    );
    assert!(receipt.is_success(), "{receipt:?}");
    let lenders = [LENDER_A, LENDER_B, LENDER_C];
    let mut received = claim_all(&mut l, dust, &lenders);
    for _ in 0..3 {
        l.ok(
            LENDING_OUTSIDER,
            LendingCall::Repay(Repay {
                loan: dust,
                amount: 1,
            }),
        );
        for (total, claim) in received.iter_mut().zip(claim_all(&mut l, dust, &lenders)) {
            total.0 += claim.0;
            total.1 += claim.1;
        }
    }
    l.repay(dust, u128::MAX);
    for (total, claim) in received.iter_mut().zip(claim_all(&mut l, dust, &lenders)) {
        total.0 += claim.0;
        total.1 += claim.1;
    }
    let record = l.loan(dust);
    assert!(record.closed_ms.is_some());
    assert_eq!(
        received.iter().map(|r| r.0).sum::<u128>(),
        record.paid_in,
        "{received:?}"
    );
    assert_eq!(received.iter().map(|r| r.1).sum::<u128>(), 10);
    l.repay(other, u128::MAX);
    claim_all(&mut l, other, &[LENDER_A]);
    assert_eq!(state::held(&l.chain.store, Module::Lending, l.usd), 0);
}

/// The late fee starts exactly one millisecond after the grace period: a repayment at the
/// grace period's last millisecond pays none, one a millisecond later pays four days' worth on
/// the first instalment, rounded up once.
#[test]
fn late_fee_starts_one_millisecond_after_the_grace_period() {
    let mut l = Lending::new();
    let loan = l.active_loan();
    let first = l.loan(loan).dues[0];
    let grace_end = first.at_ms + 3 * DAY_MS;
    let repaid = |receipt: &Receipt| match &receipt.events[..] {
        [Event::Lending(LendingEvent::Repaid { late_fee, .. })] => *late_fee,
        other => panic!("{other:?}"),
    };
    let pay = LendingCall::Repay(Repay { loan, amount: 1 });
    let receipt = lending_at(&mut l, grace_end, BORROWER, pay.clone());
    assert_eq!(repaid(&receipt), 0);
    assert_eq!(l.loan(loan).principal_paid, 0);
    let receipt = lending_at(&mut l, grace_end + 1, BORROWER, pay);
    let expected = math::mul_div_ceil(first.principal_through * 4, 10, 10_000).unwrap();
    // The payment of one unit goes to the late fee first; the rest of the fee is still owed.
    assert_eq!(repaid(&receipt), 1);
    assert_eq!(l.loan(loan).late_fee_owed + 1, expected);
}

/// Arguments at the edges: funding 0 or u128::MAX, claims and repayments on loans that do not
/// exist or by accounts that are not lenders, a zero repayment. Each is a named error.
#[test]
fn edge_arguments_to_lending_calls_are_named_errors() {
    let mut l = Lending::new();
    let loan = l.open(l.request(1_200_000_000, Schedule::Bullet));
    for amount in [0, u128::MAX] {
        let receipt = l.submit(LENDER_A, LendingCall::Fund(Fund { loan, amount }));
        assert!(
            matches!(
                lending_failed(&receipt),
                Some(LendingError::FundingOutOfRange { .. })
            ),
            "{receipt:?}"
        );
    }
    l.fails(
        LENDER_A,
        LendingCall::Withdraw(LoanRef { loan }),
        LendingError::NotLender {
            loan,
            lender: account(LENDER_A),
        },
    );
    l.fails(
        LENDER_A,
        LendingCall::Claim(LoanRef { loan: u64::MAX }),
        LendingError::UnknownLoan { loan: u64::MAX },
    );
    l.fails(
        BORROWER,
        LendingCall::Repay(Repay {
            loan: u64::MAX,
            amount: 1,
        }),
        LendingError::UnknownLoan { loan: u64::MAX },
    );
    l.fails(
        BORROWER,
        LendingCall::Repay(Repay { loan, amount: 0 }),
        LendingError::ZeroRepayment,
    );
}

/// A credit offer asking u128::MAX collateral per unit: the take's collateral overflows into a
/// named error, not a panic.
#[test]
fn credit_take_with_overflowing_collateral_is_a_named_error() {
    let mut l = Lending::new();
    let offer = OfferCredit {
        asset: l.usd,
        amount: 1_000_000_000,
        min_amount: 1,
        rate_bps: 1_000,
        term_days: 30,
        schedule: Schedule::Bullet,
        collateral_asset: Some(l.gold),
        collateral_per_unit: u128::MAX,
        expires_ms: l.chain.time_ms + DAY_MS,
    };
    l.ok(LENDER_A, LendingCall::OfferCredit(offer));
    let id = ledger::lending::Db::last_offer_id(&l.chain.store);
    l.fails(
        BORROWER,
        LendingCall::TakeCredit(TakeCredit {
            offer: id,
            amount: 1_000_000_000,
            collateral_amount: 1,
        }),
        LendingError::Overflow,
    );
}
