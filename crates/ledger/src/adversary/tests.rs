//! The checks must be able to fail: each test plants one kind of wrong state into a chain that a
//! generated case left in a rich state, and expects the check that guards it to name it.

use super::{
    Config, Stats,
    accounting::{self, check_monotone},
    check::{self, Memory},
    plan::BlockPlan,
    view::View,
    world::{Setup, World},
};
use crate::{
    lending::{self, LoanState},
    market::{self, TradeState},
    state::{self, Module},
};

/// A chain after the random blocks of the first seed whose case passes every check and leaves
/// a state `wanted` accepts, with the checks' memory up to date.
fn world_where<'a>(setup: &'a Setup, wanted: impl Fn(&View) -> bool) -> (World<'a>, Memory) {
    let config = Config {
        min_blocks: 40,
        max_blocks: 40,
        max_txs_per_block: 8,
    };
    for seed in 0..300 {
        let (plan, result) = super::generate(setup, seed, &config, &mut Stats::default());
        if result.is_err() {
            continue;
        }
        let mut world = World::new(setup, plan.profile);
        let mut memory = Memory::default();
        for block in &plan.blocks {
            let applied = world.apply(block).expect("replays");
            check::after_block(&world, &mut memory, &applied).expect("passed before");
        }
        if wanted(&View::read(&world.store, world.time_ms)) {
            return (world, memory);
        }
    }
    panic!("no seed below 300 leaves the state wanted");
}

/// An active loan with repayments and several lenders, whose dust receiver's share is not a
/// whole number (so its rounding matters) and has not been claimed beyond its floor (so taking
/// the rounding away leaves a claim that is still possible, and only the fall shows).
fn rounding_loan(view: &View) -> Option<&lending::Loan> {
    view.loans.iter().find(|loan| {
        let lenders = view.lenders(loan.id);
        loan.state == LoanState::Active
            && lenders.len() > 1
            && lenders[1].1.is_some()
            && lenders[0].1.as_ref().is_some_and(|first| {
                let floor = lending::math::mul_div_floor(first.lent, loan.paid_in, loan.funded);
                floor != lending::math::mul_div_ceil(first.lent, loan.paid_in, loan.funded)
                    && floor.is_some_and(|floor| first.claimed <= floor)
            })
    })
}

fn rich_world(setup: &Setup) -> (World<'_>, Memory) {
    world_where(setup, |view| {
        view.live_trades().next().is_some() && rounding_loan(view).is_some()
    })
}

/// Applies an empty block, lets `tamper` change the state behind the ledger's back, and runs the
/// checks.
fn tampered(
    world: &mut World,
    memory: &mut Memory,
    tamper: impl FnOnce(&mut World),
) -> super::Violation {
    let block = BlockPlan {
        timestamp_ms: world.time_ms,
        txs: Vec::new(),
        offenses: Vec::new(),
    };
    let applied = world.apply(&block).expect("an empty block applies");
    tamper(world);
    check::after_block(world, memory, &applied).expect_err("the tampering is caught")
}

#[test]
fn module_holding_more_than_its_records_owe_is_caught() {
    let setup = Setup::new();
    let (mut world, mut memory) = rich_world(&setup);
    let violation = tampered(&mut world, &mut memory, |world| {
        // The same unit taken from a balance and added to the market's holdings: conservation
        // still holds, so only the accounting of the records can tell.
        let account = world.setup.account(0);
        let asset = types::AssetId::NATIVE;
        let balance = state::balance(&world.store, &account, asset);
        state::set_balance(&mut world.store, &account, asset, balance - 1);
        let held = state::held(&world.store, Module::Market, asset);
        state::set_held(&mut world.store, Module::Market, asset, held + 1);
    });
    assert_eq!(violation.invariant, "held equals owed", "{violation}");
}

#[test]
fn a_unit_created_from_nothing_is_caught() {
    let setup = Setup::new();
    let (mut world, mut memory) = rich_world(&setup);
    let violation = tampered(&mut world, &mut memory, |world| {
        let account = world.setup.account(1);
        let balance = state::balance(&world.store, &account, super::world::GOLD);
        state::set_balance(&mut world.store, &account, super::world::GOLD, balance + 1);
    });
    assert_eq!(violation.invariant, "conservation", "{violation}");
}

#[test]
fn a_silent_state_change_is_caught() {
    let setup = Setup::new();
    let (mut world, mut memory) = rich_world(&setup);
    let violation = tampered(&mut world, &mut memory, |world| {
        let view = View::read(&world.store, world.time_ms);
        let mut trade = view.live_trades().next().expect("a live trade").clone();
        // Escrow paid out nowhere, state final: held no longer matches, but the diagram check
        // runs first and sees a move no event announced.
        trade.state = TradeState::Completed;
        market::Db::put_trade(&mut world.store, &trade);
    });
    assert_eq!(violation.invariant, "legal transitions", "{violation}");
}

#[test]
fn a_lender_losing_entitlement_is_caught() {
    let setup = Setup::new();
    let (mut world, mut memory) = rich_world(&setup);
    let violation = tampered(&mut world, &mut memory, |world| {
        let view = View::read(&world.store, world.time_ms);
        let mut loan = rounding_loan(&view).expect("a loan that rounds").clone();
        // Handing the rounding remainder to another lender lowers the first one's share from
        // its ceiling to its floor; nothing else changes.
        loan.dust_receiver = Some(view.lenders(loan.id)[1].0);
        lending::Db::put_loan(&mut world.store, &loan);
    });
    assert_eq!(
        violation.invariant, "entitlements never go down",
        "{violation}"
    );
}

#[test]
fn entitlements_going_down_are_caught() {
    let account = crate::testing::account(0);
    let before = [((1, account), (10u128, 0u128))].into_iter().collect();
    let lower = [((1, account), (9u128, 0u128))].into_iter().collect();
    let gone = accounting::Entitlements::new();
    assert!(check_monotone(&before, &before).is_ok());
    for after in [lower, gone] {
        let violation = check_monotone(&before, &after).expect_err("a lower entitlement");
        assert_eq!(violation.invariant, "entitlements never go down");
    }
}

#[test]
fn a_wrong_fee_in_a_receipt_is_caught() {
    let setup = Setup::new();
    let (mut world, mut memory) = rich_world(&setup);
    let transfer = super::plan::TxPlan {
        signer: super::world::FAUCET,
        call: types::Call::Bank(types::bank::BankCall::Transfer(types::bank::Transfer {
            to: setup.account(0),
            asset: types::AssetId::NATIVE,
            amount: 1,
        })),
        envelope: super::plan::Envelope::Valid,
    };
    let block = BlockPlan {
        timestamp_ms: world.time_ms,
        txs: vec![transfer],
        offenses: Vec::new(),
    };
    let mut applied = world.apply(&block).expect("applies");
    assert!(applied.receipts[0].is_success());
    // The receipt claims one unit more than the transaction's fee was.
    applied.receipts[0].fee_paid += 1;
    let violation = check::after_block(&world, &mut memory, &applied).expect_err("caught");
    assert_eq!(violation.invariant, "admission and fees", "{violation}");
}

#[test]
fn a_dispute_without_an_exit_is_caught() {
    let setup = Setup::new();
    let (mut world, mut memory) = world_where(&setup, |view| {
        view.live_trades()
            .any(|trade| trade.state == TradeState::Disputed && !trade.arbitrator_pending)
    });
    // A dispute that waits for a pick nobody will make (it is not in the list the next block
    // reads): rule and reassign refuse it forever, which no per-block check can see.
    let view = View::read(&world.store, world.time_ms);
    let mut trade = view
        .live_trades()
        .find(|trade| trade.state == TradeState::Disputed && !trade.arbitrator_pending)
        .expect("a dispute")
        .clone();
    trade.arbitrator_pending = true;
    market::Db::put_trade(&mut world.store, &trade);
    let violation = super::exits::drive(&mut world, &mut memory, &mut Stats::default())
        .expect_err("the dispute cannot end");
    assert_eq!(
        violation.invariant, "every record has an exit",
        "{violation}"
    );
}

#[test]
fn a_generated_case_replays_to_the_same_result() {
    let setup = Setup::new();
    let config = Config::default();
    let mut first = Stats::default();
    let (plan, result) = super::generate(&setup, 3, &config, &mut first);
    let (again, _) = super::generate(&setup, 3, &config, &mut Stats::default());
    assert_eq!(plan, again, "a seed generates one plan");
    let mut replayed = Stats::default();
    assert_eq!(
        super::replay(&setup, &plan, &mut replayed).map_err(|v| v.invariant),
        result.map_err(|v| v.invariant)
    );
    assert_eq!(
        (first.blocks, first.txs, first.admitted, &first.succeeded),
        (
            replayed.blocks,
            replayed.txs,
            replayed.admitted,
            &replayed.succeeded
        )
    );
}

#[test]
fn a_scripted_case_is_steered_by_its_bytes_and_replays_to_the_same_result() {
    let setup = Setup::new();
    let config = Config {
        min_blocks: 1,
        max_blocks: 12,
        max_txs_per_block: 8,
    };
    let generate = |bytes: &[u8]| {
        let mut stats = Stats::default();
        let (plan, result) = super::generate_scripted(&setup, bytes, &config, &mut stats);
        (plan, result.map_err(|v| v.invariant), stats)
    };
    let script: Vec<u8> = (0..=255).collect();
    let (plan, result, stats) = generate(&script);
    assert_eq!(
        generate(&script).0,
        plan,
        "the same bytes give the same case"
    );
    let mut changed = script.clone();
    changed[0] ^= 1;
    assert_ne!(generate(&changed).0, plan, "the first byte is a choice");
    // With no bytes the dice read the stream of seed 0 from its start: the case of seed 0.
    let (empty, _, _) = generate(&[]);
    let (seeded, _) = super::generate(&setup, 0, &config, &mut Stats::default());
    assert_eq!(empty, seeded);
    let mut replayed = Stats::default();
    assert_eq!(
        super::replay(&setup, &plan, &mut replayed).map_err(|v| v.invariant),
        result
    );
    assert_eq!((stats.blocks, stats.txs), (replayed.blocks, replayed.txs));
}

#[test]
fn a_refused_call_that_had_to_succeed_is_caught() {
    let setup = Setup::new();
    let (mut world, mut memory) = rich_world(&setup);
    let transfer = super::plan::TxPlan {
        signer: super::world::FAUCET,
        call: types::Call::Bank(types::bank::BankCall::Transfer(types::bank::Transfer {
            to: setup.account(0),
            asset: types::AssetId::NATIVE,
            amount: 1,
        })),
        envelope: super::plan::Envelope::Valid,
    };
    let block = BlockPlan {
        timestamp_ms: world.time_ms,
        txs: vec![transfer],
        offenses: Vec::new(),
    };
    let mut applied = world.apply(&block).expect("applies");
    assert!(
        applied.expected[0].is_some(),
        "a covered transfer must succeed"
    );
    // The receipt says the transfer failed (its state effects aside, which the other checks
    // judge): only the prediction can tell it should not have.
    applied.receipts[0].outcome =
        crate::Outcome::Failed(crate::CallError::Bank(crate::BankError::ZeroAmount));
    applied.receipts[0].events.clear();
    let violation = check::after_block(&world, &mut memory, &applied).expect_err("caught");
    assert_eq!(violation.invariant, "valid calls succeed", "{violation}");
}

#[test]
fn a_panic_the_ledger_contains_is_still_a_counterexample() {
    // No other test transfers this amount, so arming the process-wide trigger affects only this
    // test.
    const PANICKING_AMOUNT: u64 = 424_242_424_242;
    let setup = Setup::new();
    let mut world = World::new(&setup, 0);
    let transfer = super::plan::TxPlan {
        signer: 0,
        call: types::Call::Bank(types::bank::BankCall::Transfer(types::bank::Transfer {
            to: setup.account(1),
            asset: types::AssetId::NATIVE,
            amount: u128::from(PANICKING_AMOUNT),
        })),
        envelope: super::plan::Envelope::Valid,
    };
    let block = BlockPlan {
        timestamp_ms: world.time_ms + 1,
        txs: vec![transfer],
        offenses: Vec::new(),
    };
    crate::fault::panic_on_transfer_amount(PANICKING_AMOUNT);
    let result = world.apply(&block);
    crate::fault::panic_on_transfer_amount(0);
    // The ledger turns the panic into a failed transaction and the block goes on; the adversary
    // still reports it.
    let violation = result.expect_err("the panic is reported");
    assert_eq!(violation.invariant, "no panic", "{violation}");
    assert!(violation.detail.contains("injected fault"), "{violation}");
}
