//! Attacks on the market, each replayed against the rule that stops it: front-running a take,
//! escaping the timeout penalty, buying a tier with wash trades, steering the arbitrator pick,
//! silencing the chat, losing evidence on reassignment, and postponing a dispute's exit forever.
//! Every refused call is checked to change nothing but its fee and nonce.

mod support;

use ledger::{
    BlockContext, CallError, Outcome,
    market::{Db, MarketError, MarketEvent, TradeState, params, records::PendingPick},
    testing::account,
};
use support::{DAY_MS, market::*};
use types::{AccountId, AssetId, Text, market::*};

fn randomness(seed: u128) -> [u8; 32] {
    types::hash(b"EQUA_TEST_ATTACK_RANDOMNESS", &[&seed.to_be_bytes()]).0
}

// Defect: take-offer front-running ---------------------------------------------------------

fn reprice(offer: u64, price: u128) -> MarketCall {
    MarketCall::UpdateOffer(UpdateOffer {
        offer,
        price,
        min_amount: 10 * USD,
        max_amount: 100 * USD,
        methods: vec![PaymentMethod::Registered(SEPA)],
        payment_window_secs: 3_600,
        terms: Text::new("SEPA only").unwrap(),
    })
}

/// The maker sees a take of its 0.92 EUR offer in the mempool and gets a price update to
/// 1.50 EUR ordered ahead of it in the same block. The take named revision 0, so it fails with
/// the offer's new revision in the error, and changes nothing but the taker's fee and nonce.
#[test]
fn maker_price_update_ahead_of_take_in_same_block_fails_the_take() {
    let build = || {
        let mut m = Market::new();
        let offer = m.create(SELLER, m.sell_offer(10 * USD, 100 * USD));
        assert_eq!(Db::offer(&m.chain.store, offer).unwrap().revision, 0);
        (m, offer)
    };
    let (mut m, offer) = build();
    let update = m.chain.tx(SELLER, market_call(reprice(offer, 150)));
    let agreed = m.chain.tx(BUYER, market_call(take(offer, 0, 50 * USD)));
    let context = m.chain.next_context();
    let receipts = m.chain.apply_with(&context, &[update.clone(), agreed]);
    assert_eq!(receipts[0].outcome, Outcome::Success, "{:?}", receipts[0]);
    assert_eq!(
        market_events(&receipts[0]),
        vec![MarketEvent::OfferUpdated { offer, revision: 1 }]
    );
    assert_eq!(
        receipts[1].outcome,
        Outcome::Failed(CallError::Market(MarketError::OfferChanged {
            offer,
            expected_revision: 0,
            current_revision: 1,
        }))
    );
    assert!(
        receipts[1].fee_paid > 0,
        "the failed take still pays its fee"
    );
    assert_eq!(Db::last_trade_id(&m.chain.store), 0, "no trade was opened");

    // The same block without the take leaves exactly the same state, but for the taker's fee
    // and nonce.
    let (mut alone, _) = build();
    alone.chain.apply_with(&context, &[update]);
    assert_eq!(
        m.chain.snapshot_except_fee(BUYER),
        alone.chain.snapshot_except_fee(BUYER)
    );

    // A take that was signed before the update stays void in later blocks too.
    m.fails(
        BUYER,
        take(offer, 0, 50 * USD),
        MarketError::OfferChanged {
            offer,
            expected_revision: 0,
            current_revision: 1,
        },
    );
    // A revision the offer has not reached yet is no better.
    m.fails(
        BUYER,
        take(offer, 2, 50 * USD),
        MarketError::OfferChanged {
            offer,
            expected_revision: 2,
            current_revision: 1,
        },
    );
}

/// A taker who has seen the update and names its revision trades at the new price; takes do
/// not move the revision, so a second taker who read the same revision is not refused.
#[test]
fn take_naming_the_current_revision_after_an_update_succeeds() {
    let mut m = Market::new();
    let offer = m.create(SELLER, m.sell_offer(10 * USD, 100 * USD));
    m.ok(SELLER, reprice(offer, 150));
    m.ok(SELLER, reprice(offer, 95));
    assert_eq!(Db::offer(&m.chain.store, offer).unwrap().revision, 2);
    let events = m.ok(BUYER, take(offer, 2, 20 * USD));
    let trade = events
        .iter()
        .find_map(|event| match event {
            MarketEvent::TradeOpened { trade, .. } => Some(*trade),
            _ => None,
        })
        .unwrap();
    assert_eq!(m.trade(trade).price, 95);
    assert_eq!(
        Db::offer(&m.chain.store, offer).unwrap().revision,
        2,
        "a take changes the remaining amount, not the revision"
    );
    m.ok(OUTSIDER, take(offer, 2, 20 * USD));
    assert_eq!(
        Db::offer(&m.chain.store, offer).unwrap().max_amount,
        60 * USD
    );
}

/// An offer that has used every revision refuses further updates by name instead of wrapping
/// its revision back to one a stale take could name.
#[test]
fn an_offer_at_the_last_revision_refuses_updates() {
    let mut m = Market::new();
    let offer = m.create(SELLER, m.sell_offer(10 * USD, 100 * USD));
    let mut record = Db::offer(&m.chain.store, offer).unwrap();
    record.revision = u64::MAX;
    Db::put_offer(&mut m.chain.store, &record);
    m.fails(
        SELLER,
        reprice(offer, 150),
        MarketError::RevisionsExhausted { offer },
    );
}

// Defect: escaping the timeout penalty ------------------------------------------------------

/// A buyer who never paid races the seller's claim of the timeout with a cancel. Before and at
/// the deadline millisecond the window is open: a cancel returns the deposit (and the seller's
/// claim is refused). From one millisecond after it the window is closed: the cancel settles
/// exactly as the seller's claim would, deposit to the seller and a timeout on the buyer's record.
#[test]
fn buyer_cancel_after_payment_window_forfeits_deposit() {
    // (offset from the deadline, whether the window is closed then)
    for (offset, closed) in [(-1i64, false), (0, false), (1, true)] {
        let mut m = Market::new();
        let (seller0, buyer0) = (m.usd(SELLER), m.usd(BUYER));
        let trade = m.open_trade();
        let deadline = m.trade(trade).payment_deadline_ms;
        let at = deadline.checked_add_signed(offset).unwrap();

        // The seller's claim at the same instant, on an identical chain, agrees about which
        // side of the line it is.
        let mut probe = Market::new();
        assert_eq!(probe.open_trade(), trade);
        let claim = probe
            .chain
            .tx(SELLER, market_call(MarketCall::ClaimTimeout(t(trade))));
        let context = probe.context_at(at);
        let claimed = probe.chain.apply_with(&context, &[claim]).remove(0);
        if closed {
            assert_eq!(claimed.outcome, Outcome::Success, "{claimed:?}");
        } else {
            assert_eq!(
                claimed.outcome,
                Outcome::Failed(CallError::Market(MarketError::PaymentWindowOpen {
                    trade,
                    closes_at_ms: deadline,
                }))
            );
        }

        let cancel = m
            .chain
            .tx(BUYER, market_call(MarketCall::CancelTrade(t(trade))));
        let context = m.context_at(at);
        let receipt = m.chain.apply_with(&context, &[cancel]).remove(0);
        assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
        let record = m.trade(trade);
        let reputation = Db::reputation(&m.chain.store, &account(BUYER));
        if closed {
            assert_eq!(record.state, TradeState::TimedOut, "offset {offset}");
            assert!(market_events(&receipt).contains(&MarketEvent::Settled {
                trade,
                to_buyer: 0,
                to_seller: 125 * USD,
                to_arbitrator: 0,
            }));
            assert_eq!(m.usd(BUYER), buyer0 - 15 * USD, "the deposit is forfeited");
            assert_eq!(m.usd(SELLER), seller0 + 15 * USD);
            assert_eq!((reputation.timeouts, reputation.cancellations), (1, 0));
            // Exactly what the seller's claim at the same instant left behind.
            let mut theirs = probe.trade(trade);
            let mut ours = record.clone();
            theirs.settled_ms = None;
            ours.settled_ms = None;
            assert_eq!(ours, theirs);
            assert_eq!(
                Db::reputation(&probe.chain.store, &account(BUYER)),
                reputation
            );
        } else {
            assert_eq!(record.state, TradeState::Cancelled, "offset {offset}");
            assert_eq!((m.usd(SELLER), m.usd(BUYER)), (seller0, buyer0));
            assert_eq!((reputation.timeouts, reputation.cancellations), (0, 1));
        }
    }
}

/// Marking paid is refused from the same millisecond on that the timeout can be claimed, so no
/// instant lets the buyer both escape the timeout and avoid paying.
#[test]
fn marking_paid_after_the_payment_window_is_refused_at_the_same_boundary() {
    let mut m = Market::new();
    let trade = m.open_trade();
    let deadline = m.trade(trade).payment_deadline_ms;
    let late = m.chain.tx(BUYER, market_call(mark_paid(trade)));
    let context = m.context_at(deadline + 1);
    let receipt = m.chain.apply_with(&context, &[late]).remove(0);
    assert_eq!(
        receipt.outcome,
        Outcome::Failed(CallError::Market(MarketError::PaymentWindowClosed {
            trade,
            closed_at_ms: deadline,
        }))
    );
    let mut m = Market::new();
    let trade = m.open_trade();
    let on_time = m.chain.tx(BUYER, market_call(mark_paid(trade)));
    let context = m.context_at(deadline);
    let receipt = m.chain.apply_with(&context, &[on_time]).remove(0);
    assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
}

// Defect: predictable arbitrator ------------------------------------------------------------

/// Every account that can arbitrate in the pick tests: A, B and ten more.
fn many_arbiters() -> Vec<u64> {
    [ARBITER_A, ARBITER_B].into_iter().chain(EXTRA).collect()
}

/// The seller's call opening a dispute on `trade`.
fn open_dispute(m: &Market, trade: u64) -> types::SignedTransaction {
    m.chain.tx(
        SELLER,
        market_call(MarketCall::OpenDispute(types::market::OpenDispute::other(
            trade,
        ))),
    )
}

/// What one dispute's pick comes to when the block carrying `open_dispute` has randomness
/// `dispute_block` and the block after it `next_block`: the arbitrator assigned, and the one
/// `next_block`'s randomness selects from the state just before that block.
fn pick_after(dispute_block: [u8; 32], next_block: [u8; 32]) -> (AccountId, AccountId) {
    let mut m = Market::with_arbiters(&many_arbiters());
    let trade = m.paid_trade();
    let open = open_dispute(&m, trade);
    let context = BlockContext {
        randomness: dispute_block,
        ..m.chain.next_context()
    };
    let receipt = m.chain.apply_with(&context, &[open]).remove(0);
    assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
    assert!(market_events(&receipt).contains(&MarketEvent::ArbitratorRequested { trade }));
    // Nobody is picked in the block of the dispute itself.
    let waiting = m.trade(trade);
    assert!(waiting.arbitrator_pending);
    assert_eq!(waiting.arbitrator, None);
    assert_eq!(
        Db::pending_picks(&m.chain.store),
        vec![PendingPick {
            trade,
            round: context.round
        }]
    );

    let context = BlockContext {
        randomness: next_block,
        ..m.chain.next_context()
    };
    let selected = ledger::market::select_arbitrator(&m.chain.store, &waiting, &next_block)
        .expect("twelve arbitrators are eligible");
    m.chain.apply_with(&context, &[]);
    let picked = m.trade(trade);
    assert!(!picked.arbitrator_pending);
    assert!(Db::pending_picks(&m.chain.store).is_empty());
    assert_eq!(picked.assigned_ms, context.timestamp_ms);
    assert_eq!(
        picked.ruling_deadline_ms,
        context.timestamp_ms + 3 * DAY_MS,
        "the ruling window starts at the assignment"
    );
    let arbitrator = picked.arbitrator.expect("an arbitrator is assigned");
    let record = Db::arbitrator(&m.chain.store, &arbitrator).unwrap();
    assert_eq!((record.cases, record.open_cases), (1, 1));
    (arbitrator, selected)
}

/// The first block of a consensus epoch carries no seed: its randomness is the hash of its
/// parent and height, which whoever built the parent could steer. However far its round is past
/// a waiting pick's, it makes no pick; the next seeded block does, with the seed.
#[test]
fn a_block_without_a_seed_makes_no_pick() {
    let mut m = Market::with_arbiters(&many_arbiters());
    let trade = m.paid_trade();
    let open = open_dispute(&m, trade);
    let receipt = m.chain.apply(&[open]).remove(0);
    assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
    let unseeded = BlockContext {
        round: m.chain.next_context().round + (1 << 64),
        seeded: false,
        randomness: randomness(1),
        ..m.chain.next_context()
    };
    m.chain.apply_with(&unseeded, &[]);
    let waiting = m.trade(trade);
    assert!(waiting.arbitrator_pending, "no pick from an unseeded block");
    assert_eq!(waiting.arbitrator, None);
    assert_eq!(Db::pending_picks(&m.chain.store).len(), 1);

    let seeded = BlockContext {
        round: unseeded.round + 1,
        randomness: randomness(2),
        ..m.chain.next_context()
    };
    let expected = ledger::market::select_arbitrator(&m.chain.store, &waiting, &randomness(2))
        .expect("twelve arbitrators are eligible");
    m.chain.apply_with(&seeded, &[]);
    let picked = m.trade(trade);
    assert!(!picked.arbitrator_pending);
    assert!(Db::pending_picks(&m.chain.store).is_empty());
    assert_eq!(picked.arbitrator, Some(expected), "picked with the seed");
}

/// A block's randomness is the seed of the round before its own, and the leader of that round
/// may learn it early (while its own round's votes come in). So a pick asked for in a block of
/// round `r` is never made with the seed of round `r` (the next block, in round `r + 1`), only
/// with the seed of a later round; requests wait in order, each for its own round.
#[test]
fn a_pick_waits_for_the_seed_of_a_round_after_the_request() {
    let mut m = Market::with_arbiters(&many_arbiters());
    let first = m.paid_trade();
    let second = m.paid_trade();
    let dispute = open_dispute;
    let block = |m: &mut Market, round: u128, txs: &[types::SignedTransaction]| {
        let context = BlockContext {
            round,
            randomness: randomness(round),
            ..m.chain.next_context()
        };
        for receipt in m.chain.apply_with(&context, txs) {
            assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
        }
        context
    };
    let base = 2 * u128::from(m.chain.height) + 10;

    // Round `base`: the first dispute.
    let tx = dispute(&m, first);
    block(&mut m, base, &[tx]);
    // Round `base + 1` draws on the seed of round `base`, the request's own: no pick. The
    // second dispute is asked for here.
    let tx = dispute(&m, second);
    block(&mut m, base + 1, &[tx]);
    assert_eq!(m.trade(first).arbitrator, None);
    assert!(m.trade(first).arbitrator_pending);
    assert_eq!(
        Db::pending_picks(&m.chain.store),
        vec![
            PendingPick {
                trade: first,
                round: base
            },
            PendingPick {
                trade: second,
                round: base + 1
            }
        ]
    );

    // Round `base + 2` draws on the seed of `base + 1`: the first is picked with it, the
    // second (asked for in `base + 1`) still waits.
    let waiting = m.trade(first);
    let expected =
        ledger::market::select_arbitrator(&m.chain.store, &waiting, &randomness(base + 2));
    block(&mut m, base + 2, &[]);
    assert_eq!(m.trade(first).arbitrator, expected);
    assert!(expected.is_some());
    assert_eq!(m.trade(second).arbitrator, None);
    assert_eq!(
        Db::pending_picks(&m.chain.store),
        vec![PendingPick {
            trade: second,
            round: base + 1
        }]
    );

    // Rounds `base + 3` and `base + 4` were nullified (no block); the block of `base + 5`
    // draws on the seed of `base + 4` and makes the second pick.
    let waiting = m.trade(second);
    let expected =
        ledger::market::select_arbitrator(&m.chain.store, &waiting, &randomness(base + 5));
    block(&mut m, base + 5, &[]);
    assert_eq!(m.trade(second).arbitrator, expected);
    assert!(Db::pending_picks(&m.chain.store).is_empty());
}

/// The leader of a round may learn its round's seed before its block is decided, so the
/// registrations and departures its block carries must not count for the draw with that seed:
/// a pick drawn with the seed of round `s` sees the registry as blocks before round `s` left it.
#[test]
fn registry_changes_in_the_seeds_own_round_do_not_count_for_its_draw() {
    for gap in [false, true] {
        let mut m = Market::with_arbiters(&many_arbiters());
        let trade = m.paid_trade();
        let base = 2 * u128::from(m.chain.height) + 10;
        let open = m.chain.tx(
            SELLER,
            market_call(MarketCall::OpenDispute(types::market::OpenDispute::other(
                trade,
            ))),
        );
        let apply =
            |m: &mut Market, round: u128, seed: [u8; 32], txs: &[types::SignedTransaction]| {
                let context = BlockContext {
                    round,
                    randomness: seed,
                    ..m.chain.next_context()
                };
                for receipt in m.chain.apply_with(&context, txs) {
                    assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
                }
            };
        apply(&mut m, base, randomness(1), &[open]);
        // Round `base + 1`: an outsider registers and an arbitrator leaves. Its seed is the
        // one the next block draws with, unless a round is nullified in between.
        let before = m.chain.store.clone();
        let leaver = EXTRA.start;
        let txs = [
            m.chain.tx(OUTSIDER, market_call(register())),
            m.chain.tx(
                leaver,
                market_call(MarketCall::UnregisterArbitrator(Nothing)),
            ),
        ];
        apply(&mut m, base + 1, randomness(2), &txs);
        let waiting = m.trade(trade);
        assert!(waiting.arbitrator_pending);
        // Randomness under which the registry before and after round `base + 1` pick apart.
        let seed = (100..400)
            .map(randomness)
            .find(|seed| {
                ledger::market::select_arbitrator(&before, &waiting, seed)
                    != ledger::market::select_arbitrator(&m.chain.store, &waiting, seed)
            })
            .expect("the outsider or the leaver decides some draw");
        let (round, expected_from) = if gap {
            // Round `base + 2` nullified: the block of `base + 3` draws with the seed of
            // `base + 2`, after the changes, which then count.
            (base + 3, &m.chain.store.clone())
        } else {
            (base + 2, &before)
        };
        let expected = ledger::market::select_arbitrator(expected_from, &waiting, &seed);
        apply(&mut m, round, seed, &[]);
        assert_eq!(m.trade(trade).arbitrator, expected, "gap {gap}");
        assert!(expected.is_some());
    }
}

/// A party who knows the randomness of the block its `open_dispute` lands in (it is a hash of
/// the parent block, known a block ahead) cannot use it: the pick is made at the start of the
/// next block with that block's randomness, whatever the dispute block's was.
#[test]
fn arbitrator_is_picked_with_randomness_of_the_block_after_the_dispute() {
    let next_block = randomness(1);
    let (picked, selected) = pick_after(randomness(100), next_block);
    assert_eq!(picked, selected, "the next block's randomness selects it");
    // A dispute block whose own randomness would have selected someone else still ends with
    // the next block's pick: the dispute block's randomness plays no part.
    let mut m = Market::with_arbiters(&many_arbiters());
    let trade = m.paid_trade();
    let record = m.trade(trade);
    let steered = (200..300)
        .map(randomness)
        .find(|r| ledger::market::select_arbitrator(&m.chain.store, &record, r) != Some(picked))
        .expect("some randomness selects another of twelve arbitrators");
    assert_eq!(pick_after(steered, next_block).0, picked);
    // And the next block's randomness does decide: different values pick different people.
    let picks: std::collections::BTreeSet<AccountId> = (1..6)
        .map(|seed| {
            let (picked, selected) = pick_after(randomness(100), randomness(seed));
            assert_eq!(picked, selected);
            picked
        })
        .collect();
    assert!(picks.len() > 1, "{picks:?}");
}

/// While a pick waits, nobody can rule or reassign (and so nobody can force a second pick in
/// the same block), and a party cannot reveal the conversation to an arbitrator not yet known.
/// Each refusal changes nothing but the caller's fee and nonce.
#[test]
fn rule_reassign_and_reveal_wait_for_the_pick() {
    let build = || {
        let mut m = Market::new();
        let trade = m.paid_trade();
        let open = m.chain.tx(
            SELLER,
            market_call(MarketCall::OpenDispute(types::market::OpenDispute::other(
                trade,
            ))),
        );
        (m, trade, open)
    };
    let (mut m, trade, open) = build();
    let rule = m.chain.tx(
        ARBITER_A,
        market_call(MarketCall::Rule(Rule {
            trade,
            amount_to_buyer: 0,
            at_fault: Party::Buyer,
        })),
    );
    let reassign = m
        .chain
        .tx(OUTSIDER, market_call(MarketCall::Reassign(t(trade))));
    let reveal = m.chain.tx(
        BUYER,
        market_call(MarketCall::RevealKey(RevealKey {
            trade,
            encrypted_key: vec![1; 80],
        })),
    );
    let context = m.chain.next_context();
    let receipts = m
        .chain
        .apply_with(&context, &[open.clone(), rule, reassign, reveal]);
    assert_eq!(receipts[0].outcome, Outcome::Success);
    let pending = Outcome::Failed(CallError::Market(MarketError::ArbitratorPickPending {
        trade,
    }));
    assert_eq!(receipts[1].outcome, pending);
    assert_eq!(receipts[2].outcome, pending);
    assert_eq!(receipts[3].outcome, pending);
    let (mut alone, _, open) = build();
    alone.chain.apply_with(&context, &[open]);
    let mut ours = m.chain.snapshot_except_fee(ARBITER_A);
    let mut theirs = alone.chain.snapshot_except_fee(ARBITER_A);
    for who in [OUTSIDER, BUYER] {
        for key in [
            ledger::state::nonce_key(&account(who)),
            ledger::state::balance_key(&account(who), AssetId::NATIVE),
        ] {
            ours.remove(&key);
            theirs.remove(&key);
        }
    }
    assert_eq!(ours, theirs, "the refused calls changed nothing");
}

/// The list of waiting picks is bounded; a request beyond it is refused by name.
#[test]
fn a_full_list_of_waiting_picks_refuses_further_disputes() {
    let mut m = Market::new();
    let trade = m.paid_trade();
    let mut store = m.chain.store.clone();
    let max = ledger::market::records::MAX_PENDING_PICKS;
    let full: Vec<PendingPick> = (1_000_000..)
        .take(max + 1)
        .map(|trade| PendingPick { trade, round: 0 })
        .collect();
    Db::put_pending_picks(&mut store, full.clone());
    assert_eq!(
        Db::pending_picks(&store),
        full[..max],
        "the list keeps at most its bound"
    );
    assert!(!Db::push_pending_pick(
        &mut store,
        PendingPick { trade: 7, round: 0 }
    ));
    let mut events = Vec::new();
    let result = ledger::market::execute(
        &mut store,
        &m.chain.next_context(),
        &account(SELLER),
        &MarketCall::OpenDispute(types::market::OpenDispute::other(trade)),
        &mut events,
    );
    assert_eq!(
        result,
        Err(MarketError::TooManyPendingPicks {
            max: ledger::market::records::MAX_PENDING_PICKS
        })
    );
    // The next block's begin step empties the list, skipping ids that are not waiting trades,
    // and leaves none of its keys behind.
    ledger::market::begin_block(&mut store, &m.chain.next_context());
    assert!(Db::pending_picks(&store).is_empty());
    assert_eq!(Db::pending_pick_count(&store), 0);
    let tag = ledger::market::records::table::PENDING_PICKS;
    assert_eq!(store.scan_prefix(&[tag]).count(), 0);
}

// Defect: chat silenced ----------------------------------------------------------------------

fn post(trade: u64) -> MarketCall {
    MarketCall::PostMessage(PostMessage {
        trade,
        ciphertext: vec![7u8; 16],
    })
}

/// The buyer posts as many messages as an author may; that used to exhaust the trade's one
/// limit and leave the seller and the arbitrator unable to write. Each author now has its own
/// allowance, and each arbitrator the dispute passes to gets a fresh one.
#[test]
fn one_party_cannot_use_up_the_other_partys_chat_allowance() {
    let mut m = Market::with(&[ARBITER_A, ARBITER_B], |p| p.max_messages_per_author = 3);
    let trade = m.paid_trade();
    for _ in 0..3 {
        m.ok(BUYER, post(trade));
    }
    let full = |author| MarketError::TooManyMessages {
        trade,
        author,
        max: 3,
    };
    m.fails(BUYER, post(trade), full("buyer"));
    // The seller is not silenced.
    for _ in 0..3 {
        m.ok(SELLER, post(trade));
    }
    m.fails(SELLER, post(trade), full("seller"));
    m.ok(
        SELLER,
        MarketCall::OpenDispute(types::market::OpenDispute::other(trade)),
    );
    m.empty_block();
    // Nor is the arbitrator, after both parties used up theirs.
    let first = m.arbiter_of(trade);
    for _ in 0..3 {
        m.ok(first, post(trade));
    }
    m.fails(first, post(trade), full("arbitrator"));
    // The next arbitrator is not silenced by the first.
    m.chain.advance_ms(3 * DAY_MS);
    m.ok(OUTSIDER, MarketCall::Reassign(t(trade)));
    m.empty_block();
    let second = m.arbiter_of(trade);
    assert_ne!(first, second);
    m.ok(second, post(trade));
    m.fails(
        first,
        post(trade),
        MarketError::WrongParty {
            trade,
            account: account(first),
            role: "buyer, seller or assigned arbitrator",
        },
    );
    let record = m.trade(trade);
    assert_eq!(
        (
            record.messages,
            record.messages_by_buyer,
            record.messages_by_seller,
            record.messages_by_arbitrator
        ),
        (10, 3, 3, 1)
    );
    let senders: Vec<AccountId> = (0..record.messages)
        .map(|index| Db::message(&m.chain.store, trade, index).unwrap().sender)
        .collect();
    assert_eq!(senders[9], account(second));
    assert_eq!(senders[6], account(first));
}

// Defect: evidence lost on reassignment -------------------------------------------------------

fn reveal(trade: u64, byte: u8) -> MarketCall {
    MarketCall::RevealKey(RevealKey {
        trade,
        encrypted_key: vec![byte; 80],
    })
}

/// The buyer reveals the conversation key to the first arbitrator, who misses the deadline. The
/// key was sealed to that arbitrator, so the next one needs its own copy: reveals are kept per
/// party and per arbitrator, and each arbitrator can be given one once.
#[test]
fn revealed_key_can_be_revealed_again_to_a_reassigned_arbitrator() {
    let mut m = Market::new();
    let trade = m.disputed_trade();
    let first = m.trade(trade).arbitrator.unwrap();
    let events = m.ok(BUYER, reveal(trade, 1));
    assert_eq!(
        events,
        vec![MarketEvent::KeyRevealed {
            trade,
            by: Party::Buyer,
            to: first,
        }]
    );
    m.fails(
        BUYER,
        reveal(trade, 9),
        MarketError::AlreadyRevealed {
            trade,
            arbitrator: first,
        },
    );
    m.chain.advance_ms(3 * DAY_MS);
    m.ok(OUTSIDER, MarketCall::Reassign(t(trade)));
    m.empty_block();
    let second = m.trade(trade).arbitrator.unwrap();
    assert_ne!(first, second);
    m.ok(BUYER, reveal(trade, 2));
    m.ok(SELLER, reveal(trade, 3));
    m.fails(
        BUYER,
        reveal(trade, 9),
        MarketError::AlreadyRevealed {
            trade,
            arbitrator: second,
        },
    );
    let store = &m.chain.store;
    assert_eq!(
        Db::revealed(store, trade, Party::Buyer, &first),
        Some(vec![1; 80])
    );
    assert_eq!(
        Db::revealed(store, trade, Party::Buyer, &second),
        Some(vec![2; 80])
    );
    assert_eq!(
        Db::revealed(store, trade, Party::Seller, &second),
        Some(vec![3; 80])
    );
    assert_eq!(Db::revealed(store, trade, Party::Seller, &first), None);
    // The second arbitrator rules on the evidence.
    m.ok(
        index_of(second),
        MarketCall::Rule(Rule {
            trade,
            amount_to_buyer: 100 * USD,
            at_fault: Party::Seller,
        }),
    );
}

// Defect: endless postponement -----------------------------------------------------------------

/// With no arbitrator anyone could pick, a reassign used to start a new ruling window each time,
/// so anyone could hold the escrow forever. The deadline now moves only when someone is
/// assigned: before it (up to and including its millisecond) a reassign is refused and changes
/// nothing; after it, the dispute ends without a ruling.
#[test]
fn reassign_with_no_eligible_arbitrator_does_not_postpone_the_exit() {
    let mut m = Market::with_arbiters(&[]);
    let (seller0, buyer0) = (m.usd(SELLER), m.usd(BUYER));
    let trade = m.paid_trade();
    m.ok(
        SELLER,
        MarketCall::OpenDispute(types::market::OpenDispute::other(trade)),
    );
    let deadline = m.trade(trade).ruling_deadline_ms;
    assert_eq!(deadline, m.chain.time_ms + 3 * DAY_MS);
    // The pick at the next block finds nobody and leaves the deadline where it was.
    m.empty_block();
    let record = m.trade(trade);
    assert_eq!(
        (
            record.arbitrator,
            record.arbitrator_pending,
            record.ruling_deadline_ms
        ),
        (None, false, deadline)
    );
    let refused = MarketError::NoEligibleArbitrator {
        trade,
        deadline_ms: deadline,
    };
    m.fails(OUTSIDER, MarketCall::Reassign(t(trade)), refused.clone());
    m.fails(BUYER, MarketCall::Reassign(t(trade)), refused.clone());
    // At the deadline millisecond the window is still open.
    let before = m.chain.snapshot_except_fee(OUTSIDER);
    let tx = m
        .chain
        .tx(OUTSIDER, market_call(MarketCall::Reassign(t(trade))));
    let context = m.context_at(deadline);
    let receipt = m.chain.apply_with(&context, &[tx]).remove(0);
    assert_eq!(receipt.outcome, Outcome::Failed(CallError::Market(refused)));
    assert_eq!(m.chain.snapshot_except_fee(OUTSIDER), before);
    assert_eq!(m.trade(trade).ruling_deadline_ms, deadline);
    // One millisecond later the exit happens: deposits back, the amount split in half.
    let tx = m
        .chain
        .tx(OUTSIDER, market_call(MarketCall::Reassign(t(trade))));
    let context = m.context_at(deadline + 1);
    let receipt = m.chain.apply_with(&context, &[tx]).remove(0);
    assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
    assert!(market_events(&receipt).contains(&MarketEvent::NoRuling { trade }));
    assert_eq!(m.trade(trade).state, TradeState::Resolved);
    assert_eq!(m.usd(BUYER), buyer0 + 50 * USD);
    assert_eq!(m.usd(SELLER), seller0 - 50 * USD);
}

/// An arbitrator who misses the deadline with nobody else able to take the case does not buy
/// the dispute another window: the reassign that removes it ends the dispute.
#[test]
fn a_missed_deadline_with_nobody_else_eligible_ends_the_dispute() {
    let mut m = Market::with_arbiters(&[ARBITER_A]);
    let trade = m.disputed_trade();
    assert_eq!(m.arbiter_of(trade), ARBITER_A);
    let deadline = m.trade(trade).ruling_deadline_ms;
    m.fails(
        OUTSIDER,
        MarketCall::Reassign(t(trade)),
        MarketError::RulingWindowOpen {
            trade,
            deadline_ms: deadline,
        },
    );
    m.chain.advance_ms(3 * DAY_MS);
    let events = m.ok(OUTSIDER, MarketCall::Reassign(t(trade)));
    assert!(events.contains(&MarketEvent::NoRuling { trade }));
    assert_eq!(m.trade(trade).state, TradeState::Resolved);
    let record = Db::arbitrator(&m.chain.store, &account(ARBITER_A)).unwrap();
    assert_eq!((record.open_cases, record.reassignments), (0, 1));
}

/// An unassigned dispute still goes to an arbitrator who registers within its window: asking
/// again is refused only while nobody could be picked.
#[test]
fn an_arbitrator_registered_in_the_window_takes_an_unassigned_dispute() {
    let mut m = Market::with_arbiters(&[]);
    let trade = m.paid_trade();
    m.ok(
        SELLER,
        MarketCall::OpenDispute(types::market::OpenDispute::other(trade)),
    );
    m.empty_block();
    assert_eq!(m.trade(trade).arbitrator, None);
    m.ok(OUTSIDER, register());
    let events = m.ok(BUYER, MarketCall::Reassign(t(trade)));
    assert_eq!(events, vec![MarketEvent::ArbitratorRequested { trade }]);
    m.empty_block();
    let record = m.trade(trade);
    assert_eq!(record.arbitrator, Some(account(OUTSIDER)));
    assert_eq!(record.ruling_deadline_ms, m.chain.time_ms + 3 * DAY_MS);
    assert!(record.reassigned.is_empty());
}

// Defect: a tier bought with wash trades ----------------------------------------------------------

/// Two accounts of one person.
const WASHER: u64 = 6;
const WASHER_TWIN: u64 = 7;

/// Checks that `who` is held to everything a new account is held to: no tier, the methods'
/// new-account limit, and makers' minimums of trades.
fn still_new(m: &mut Market, who: u64, counted: u32, counterparties: u32) {
    let standing = m.standing(who);
    assert_eq!(standing.tier, 0, "{standing:?}");
    assert_eq!(
        (standing.counted, standing.counterparties),
        (counted, counterparties)
    );
    // 1,000 USDX at 0.92 EUR is 920.00 EUR, over SEPA's new-account limit of 500.00.
    let big = m.create(SELLER, m.sell_offer(1_000 * USD, 1_000 * USD));
    m.fails(
        who,
        take(big, 0, 1_000 * USD),
        MarketError::NewAccountLimit {
            counted,
            counterparties,
            fiat: Fiat::new("EUR").unwrap(),
            limit: 50_000,
            value: 92_000,
        },
    );
    let mut tiered = m.sell_offer(10 * USD, 10 * USD);
    tiered.min_taker_tier = 1;
    let tiered = m.create(SELLER, tiered);
    m.fails(
        who,
        take(tiered, 0, 10 * USD),
        MarketError::TierTooLow {
            tier: 0,
            required: 1,
        },
    );
}

/// The audit's case: five trades of one minor unit between two accounts of one person, released
/// without a payment claim and rated five stars, a week apart from the first. None counts, so
/// neither account gains a tier, a rating or a way past the new-account limit. Then the same
/// person does it with five trades that do count on their own (marked paid, 150 USDX each,
/// 690.00 EUR in all): with one counterparty the tier and the limit stay out of reach.
#[test]
fn wash_trades_between_two_accounts_do_not_reach_a_tier() {
    let mut m = Market::new();
    for _ in 0..5 {
        let trade = m.complete(WASHER, WASHER_TWIN, 1, false);
        assert!(!m.trade(trade).counted);
    }
    m.chain.advance_ms(8 * DAY_MS);
    for who in [WASHER, WASHER_TWIN] {
        let standing = m.standing(who);
        assert_eq!(standing.completed, 5);
        assert_eq!(standing.ratings, 0, "ratings of trades that do not count");
        assert_eq!(standing.counted_volume, 0);
    }
    still_new(&mut m, WASHER_TWIN, 0, 0);
    let mut experienced = m.sell_offer(10 * USD, 10 * USD);
    experienced.min_taker_trades = 1;
    let experienced = m.create(SELLER, experienced);
    m.fails(
        WASHER_TWIN,
        take(experienced, 0, 10 * USD),
        MarketError::TooFewTrades {
            counted: 0,
            required: 1,
        },
    );

    for _ in 0..5 {
        let trade = m.complete(WASHER, WASHER_TWIN, 150 * USD, true);
        assert!(m.trade(trade).counted);
    }
    let twin = m.standing(WASHER_TWIN);
    assert_eq!((twin.counted, twin.counted_volume), (5, 69_000));
    assert_eq!(twin.ratings, 5, "ratings of counted trades count");
    still_new(&mut m, WASHER_TWIN, 5, 1);
    still_new(&mut m, WASHER, 5, 1);
}

/// The same five trades made for real, with three different sellers, reach Verified and lift
/// the new-account limit.
#[test]
fn real_trades_with_distinct_counterparties_still_reach_the_tier() {
    let mut m = Market::new();
    for seller in [SELLER, 6, 7, SELLER, 6] {
        m.complete(seller, BUYER, 150 * USD, true);
    }
    let standing = m.standing(BUYER);
    assert_eq!(
        (
            standing.counted,
            standing.counterparties,
            standing.counted_volume
        ),
        (5, 3, 69_000)
    );
    assert_eq!(standing.tier, 0, "not yet a week old");
    m.chain.advance_ms(7 * DAY_MS);
    let standing = m.standing(BUYER);
    assert_eq!(standing.tier, 1);
    assert_eq!(
        params::load(&m.chain.store).tier_name(standing.tier),
        "Verified"
    );
    // The sellers each traded with one account, BUYER: counted, but no tier.
    assert_eq!(m.standing(SELLER).counterparties, 1);
    assert_eq!(m.standing(SELLER).tier, 0);
    // No longer new: a 920.00 EUR SEPA trade is allowed, and tier-1 offers accept the buyer.
    let big = m.create(SELLER, m.sell_offer(1_000 * USD, 1_000 * USD));
    m.take(BUYER, big, 1_000 * USD);
    let mut tiered = m.sell_offer(10 * USD, 10 * USD);
    tiered.min_taker_tier = 1;
    let tiered = m.create(OUTSIDER, tiered);
    m.take(BUYER, tiered, 10 * USD);
}

/// Where counting starts: a trade worth exactly the minimum (10.00 EUR) counts, one worth 9.99
/// does not, and neither does one released without being marked paid. Counterparties are
/// counted once each, however often they trade.
#[test]
fn a_trade_counts_from_the_minimum_value_and_only_when_marked_paid() {
    let mut m = Market::new();
    // 10,858,696 minor units at 0.92 EUR is 9.99000032 EUR, rounded up to 10.00.
    let at_minimum = m.complete(SELLER, BUYER, 10_858_696, true);
    assert_eq!(m.trade(at_minimum).fiat_amount, 1_000);
    assert!(m.trade(at_minimum).counted);
    // One minor unit less is 9.99 EUR.
    let below = m.complete(SELLER, BUYER, 10_858_695, true);
    assert_eq!(m.trade(below).fiat_amount, 999);
    assert!(!m.trade(below).counted);
    let unpaid = m.complete(SELLER, BUYER, 100 * USD, false);
    assert!(!m.trade(unpaid).counted);
    let buyer = m.standing(BUYER);
    assert_eq!(
        (
            buyer.completed,
            buyer.counted,
            buyer.counterparties,
            buyer.counted_volume,
            buyer.ratings
        ),
        (3, 1, 1, 1_000, 1)
    );
    let record = Db::reputation(&m.chain.store, &account(SELLER));
    assert_eq!((record.counted_trades, record.counterparties), (1, 1));
}

#[test]
fn each_accounts_index_lists_its_own_offers_and_trades_and_nothing_else() {
    use ledger::index::{Kind, ids};
    let mut m = Market::new();
    let of = |m: &Market, who: u64, kind: Kind| -> Vec<u64> {
        ids(&m.chain.store, &account(who), kind).collect()
    };
    let standing = m.create(SELLER, m.sell_offer(10 * USD, 100 * USD));
    let first = m.take(BUYER, standing, 10 * USD);
    let other = EXTRA.start;
    let second = m.open_trade_between(SELLER, other, 20 * USD);
    assert_eq!(of(&m, SELLER, Kind::Trade), vec![first, second]);
    assert_eq!(of(&m, BUYER, Kind::Trade), vec![first]);
    assert_eq!(of(&m, other, Kind::Trade), vec![second]);
    assert!(of(&m, OUTSIDER, Kind::Trade).is_empty());
    assert!(of(&m, BUYER, Kind::Offer).is_empty());
    // Newest first, from the index.
    let listed: Vec<u64> = ledger::market::queries::trades_of(&m.chain.store, &account(SELLER))
        .iter()
        .map(|trade| trade.id)
        .collect();
    assert_eq!(listed, vec![second, first]);

    // An offer leaves its maker's index when it is cancelled; its trades stay.
    assert!(of(&m, SELLER, Kind::Offer).contains(&standing));
    m.ok(
        SELLER,
        MarketCall::CancelOffer(OfferRef { offer: standing }),
    );
    assert!(!of(&m, SELLER, Kind::Offer).contains(&standing));
    assert_eq!(of(&m, BUYER, Kind::Trade), vec![first]);

    // A refused call adds nothing: the outsider cannot cancel the seller's offer or take a
    // trade's place, and its index stays empty.
    let open = m.create(SELLER, m.sell_offer(10 * USD, 10 * USD));
    m.fails(
        OUTSIDER,
        MarketCall::CancelOffer(OfferRef { offer: open }),
        MarketError::NotMaker { offer: open },
    );
    assert!(of(&m, OUTSIDER, Kind::Offer).is_empty());
    assert!(of(&m, OUTSIDER, Kind::Trade).is_empty());

    // The arbitrator a dispute is given has the trade in its index.
    let disputed = m.disputed_trade();
    let arbiter = m.arbiter_of(disputed);
    assert!(of(&m, arbiter, Kind::Trade).contains(&disputed));
}

#[test]
fn the_index_audit_catches_a_missing_or_stray_entry() {
    use ledger::{
        Store,
        audit::check_indexes,
        index::{Kind, key},
    };
    let mut m = Market::new();
    let trade = m.open_trade();
    check_indexes(&m.chain.store).unwrap();
    // A party's entry gone.
    let mut missing = m.chain.store.clone();
    missing.delete(&key(&account(BUYER), Kind::Trade, trade));
    assert!(check_indexes(&missing).is_err());
    // A stranger listed on someone else's trade.
    let mut stray = m.chain.store.clone();
    stray.put(&key(&account(OUTSIDER), Kind::Trade, trade), Vec::new());
    assert!(check_indexes(&stray).is_err());
    // An offer that does not exist.
    let mut ghost = m.chain.store.clone();
    ghost.put(&key(&account(SELLER), Kind::Offer, 999), Vec::new());
    assert!(check_indexes(&ghost).is_err());
}
