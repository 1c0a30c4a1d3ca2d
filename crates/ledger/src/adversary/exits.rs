//! The exit phase: after the random blocks, time is moved past every deadline and each record's
//! owner, or a bystander where anyone may act, takes the exit that needs nobody else's
//! cooperation. Every trade must reach a final state, every loan a closed one, and every module
//! must end up holding nothing: whatever is left is money nobody can get out.
//!
//! Exits taken: makers cancel offers and lenders cancel credit offers; arbitrators unregister and,
//! after the cooldown, withdraw their bonds; validators unbond and, after the delay, withdraw
//! theirs; a seller claims the timeout of an unpaid trade; a
//! buyer disputes a paid trade after the release window; a bystander reassigns a dispute after
//! its ruling deadline (which ends it without a ruling once no arbitrator is left); a bystander
//! expires a request after its deadline and acceptance period, and declares an active loan in
//! default after the threshold; lenders withdraw from expired requests and claim what they are
//! owed. Borrowers never repay here: default is the exit that needs them not.

use super::{
    Stats, Violation,
    check::{self, Memory},
    plan::{BlockPlan, Envelope, TxPlan},
    view::View,
    world::{ACTORS, EQA, FAUCET, World, eqa},
};
use crate::{
    lending::{self, LoanState},
    market::TradeState,
    state::{self, Module},
};
use types::{
    AccountId, Call,
    bank::{BankCall, Transfer},
    lending::{LendingCall, LoanRef},
    market::{DisputeReason, MarketCall, Nothing, OfferRef, OpenDispute, TradeRef},
    staking::StakingCall,
};

const DAY_MS: u64 = 86_400_000;
/// Reassignments run one ruling window each, up to the most a trade allows, so this leaves room
/// for every dispute to end; a validator's service ends up to four epochs (of 16 blocks, see
/// `world`) after it unbonds, one block per round.
const MAX_ROUNDS: usize = 64 + 5 * 16;

fn tx(world: &World, account: &AccountId, call: Call) -> Option<TxPlan> {
    let signer = world.setup.actor(account)?;
    Some(TxPlan {
        signer,
        call,
        envelope: Envelope::Valid,
    })
}

fn market(call: MarketCall) -> Call {
    Call::Market(call)
}

fn lending(call: LendingCall) -> Call {
    Call::Lending(call)
}

/// The exits available in this round, each with the time from which it can be taken.
fn exits(world: &World, view: &View) -> Vec<(u64, Option<TxPlan>)> {
    let bystander = world.setup.account(FAUCET);
    let now = view.now_ms;
    let mut exits = Vec::new();
    for offer in &view.offers {
        let call = market(MarketCall::CancelOffer(OfferRef { offer: offer.id }));
        exits.push((now, tx(world, &offer.maker, call)));
    }
    for offer in &view.credit_offers {
        let call = lending(LendingCall::CancelCredit(types::lending::CreditRef {
            offer: offer.id,
        }));
        exits.push((now, tx(world, &offer.lender, call)));
    }
    for arbitrator in &view.arbitrators {
        match arbitrator.leaving_at_ms {
            None => {
                let call = market(MarketCall::UnregisterArbitrator(Nothing));
                exits.push((now, tx(world, &arbitrator.account, call)));
            }
            Some(at) if arbitrator.open_cases == 0 => {
                let call = market(MarketCall::WithdrawBond(Nothing));
                exits.push((at, tx(world, &arbitrator.account, call)));
            }
            Some(_) => {}
        }
    }
    for validator in &view.validators {
        let (at, call) = match crate::staking::release(&view.staking, validator) {
            None => (now, StakingCall::Unbond(Nothing)),
            // Serving on the committee the chain carries over once nobody is left to elect:
            // it stays bonded (see `retained_bonds`).
            _ if carried_over(world, view, validator) => continue,
            // Still serving: tried at once, refused until the blocks of its last epoch's service
            // have passed (each round is one block).
            Some(crate::staking::Release::Serving { .. }) => (now, StakingCall::Withdraw(Nothing)),
            Some(crate::staking::Release::At(free_at)) => (free_at, StakingCall::Withdraw(Nothing)),
        };
        exits.push((at, tx(world, &validator.account, Call::Staking(call))));
    }
    for node in &view.full_nodes {
        let call = StakingCall::UnregisterNode(types::staking::UnregisterNode {
            node_key: node.node_key,
        });
        exits.push((now, tx(world, &node.owner, Call::Staking(call))));
    }
    for trade in view.live_trades() {
        let r = TradeRef { trade: trade.id };
        let (at, who, call) = match trade.state {
            TradeState::AwaitingPayment => (
                trade.payment_deadline_ms.saturating_add(1),
                trade.seller,
                MarketCall::ClaimTimeout(r),
            ),
            TradeState::Paid => (
                trade.release_deadline_ms.saturating_add(1),
                trade.buyer,
                MarketCall::OpenDispute(OpenDispute {
                    trade: r.trade,
                    reason: DisputeReason::PaidNotReleased,
                    note: Default::default(),
                }),
            ),
            _ => (
                trade.ruling_deadline_ms.saturating_add(1),
                bystander,
                MarketCall::Reassign(r),
            ),
        };
        exits.push((at, tx(world, &who, market(call))));
    }
    let acceptance_ms = u64::from(view.lending.acceptance_days).saturating_mul(DAY_MS);
    let default_ms = u64::from(view.lending.default_after_days).saturating_mul(DAY_MS);
    for loan in &view.loans {
        let r = LoanRef { loan: loan.id };
        match loan.state {
            LoanState::Funding => {
                let at = loan
                    .funding_deadline_ms
                    .saturating_add(acceptance_ms)
                    .saturating_add(1);
                exits.push((
                    at,
                    tx(world, &bystander, lending(LendingCall::Expire(r.clone()))),
                ));
            }
            LoanState::Expired => {
                for (lender, _) in view.lenders(loan.id) {
                    let call = lending(LendingCall::Withdraw(r.clone()));
                    exits.push((now, tx(world, lender, call)));
                }
            }
            LoanState::Active => {
                if let Some(due) = loan.oldest_unpaid_due() {
                    let at = due.saturating_add(default_ms).saturating_add(1);
                    let call = lending(LendingCall::DeclareDefault(r.clone()));
                    exits.push((at, tx(world, &bystander, call)));
                }
            }
            _ => {}
        }
        if matches!(
            loan.state,
            LoanState::Active | LoanState::Repaid | LoanState::Defaulted
        ) {
            for (lender, _) in view.lenders(loan.id) {
                let owed = lending::claimable(&world.store, loan, lender)
                    .is_some_and(|(amount, collateral)| amount > 0 || collateral > 0);
                if owed {
                    let call = lending(LendingCall::Claim(r.clone()));
                    exits.push((now, tx(world, lender, call)));
                }
            }
        }
    }
    exits
}

/// Whether `validator` sits on the committee the chain will carry over for good: with no
/// candidate left to elect, the latest committee fixed is kept for every later epoch, so its
/// members can never stop serving (they may once someone registers again).
fn carried_over(world: &World, view: &View, validator: &crate::staking::Validator) -> bool {
    let (height, _) = state::last_block(&world.store);
    let latest = view.staking.epoch_of(height) + crate::staking::LOOKAHEAD_EPOCHS;
    view.candidates.is_empty()
        && crate::staking::epoch_committee(&world.store, latest)
            .is_some_and(|c| c.members.iter().any(|m| m.account == validator.account))
}

/// The bonds the staking module keeps once every exit is taken: those of the committee carried
/// over for good.
fn retained_bonds(world: &World, view: &View) -> u128 {
    view.validators
        .iter()
        .filter(|v| carried_over(world, view, v))
        .map(|v| v.bond)
        .sum()
}

fn apply(
    world: &mut World,
    memory: &mut Memory,
    stats: &mut Stats,
    block: &BlockPlan,
) -> Result<(), Violation> {
    let applied = world.apply(block)?;
    stats.record(&applied);
    check::after_block(world, memory, &applied)
}

/// Drives every record to its end and checks that nothing is left held.
pub fn drive(world: &mut World, memory: &mut Memory, stats: &mut Stats) -> Result<(), Violation> {
    // Actors whose fees ran out get enough to take their exits.
    let top_ups: Vec<TxPlan> = (0..ACTORS)
        .filter(|actor| state::balance(&world.store, &world.setup.account(*actor), EQA) < eqa(1))
        .map(|actor| TxPlan {
            signer: FAUCET,
            call: Call::Bank(BankCall::Transfer(Transfer {
                to: world.setup.account(actor),
                asset: EQA,
                amount: eqa(10),
            })),
            envelope: Envelope::Valid,
        })
        .collect();
    if !top_ups.is_empty() {
        let block = BlockPlan {
            timestamp_ms: world.time_ms,
            txs: top_ups,
            offenses: Vec::new(),
        };
        apply(world, memory, stats, &block)?;
    }
    for _ in 0..MAX_ROUNDS {
        let view = View::read(&world.store, world.time_ms);
        let exits = exits(world, &view);
        if exits.is_empty() {
            break;
        }
        if let Some((_, None)) = exits.iter().find(|(_, tx)| tx.is_none()) {
            return Err(Violation::new(
                "every record has an exit",
                "an exit must be taken by an account nobody signs for".into(),
            ));
        }
        let at = exits
            .iter()
            .map(|(at, _)| *at)
            .max()
            .unwrap_or(world.time_ms);
        let block = BlockPlan {
            timestamp_ms: at.max(world.time_ms),
            txs: exits.into_iter().filter_map(|(_, tx)| tx).collect(),
            offenses: Vec::new(),
        };
        apply(world, memory, stats, &block)?;
    }
    let view = View::read(&world.store, world.time_ms);
    if let Some(trade) = view.live_trades().next() {
        return Err(Violation::new(
            "every record has an exit",
            format!(
                "trade {} is still {:?} after {MAX_ROUNDS} rounds of exits: {trade:?}",
                trade.id, trade.state
            ),
        ));
    }
    if let Some(loan) = view.loans.iter().find(|loan| {
        matches!(loan.state, LoanState::Funding | LoanState::Active)
            || (loan.state == LoanState::Expired && loan.funded > 0)
    }) {
        return Err(Violation::new(
            "every record has an exit",
            format!(
                "loan {} is still {:?} (funded {}) after {MAX_ROUNDS} rounds of exits",
                loan.id, loan.state, loan.funded
            ),
        ));
    }
    let unassigned = defaulted_remainders(world, &view)?;
    for module in Module::ALL {
        for asset in view.assets() {
            let held = state::held(&world.store, module, asset);
            // The one holding left once every exit is taken: the rounding remainder of defaulted
            // loans nobody repaid in full, which no lender is entitled to yet (G6).
            let expected = match module {
                Module::Lending => unassigned.get(&asset).copied().unwrap_or(0),
                Module::Staking if asset == EQA => retained_bonds(world, &view),
                _ => 0,
            };
            if held != expected {
                return Err(Violation::new(
                    "escrow empties",
                    format!(
                        "after every exit the {module:?} module still holds {held} of asset \
                         {asset}{}",
                        stuck_detail(&view, module, asset)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// What defaulted loans still hold once each lender has claimed all it may, per asset: the
/// rounding remainder of repayments and seized collateral that the split rule assigns only when
/// nothing more can be paid in, which a defaulted loan never reaches (G6 in the threat model).
/// It must be less than one minor unit per lender beyond the first; anything more is a fault.
fn defaulted_remainders(
    world: &World,
    view: &View,
) -> Result<std::collections::BTreeMap<types::AssetId, u128>, Violation> {
    let mut unassigned = std::collections::BTreeMap::new();
    for loan in view
        .loans
        .iter()
        .filter(|l| l.state == LoanState::Defaulted)
    {
        let lenders = view.lenders(loan.id);
        let (mut claimed, mut collateral_claimed) = (0u128, 0u128);
        for (lender, position) in lenders {
            let Some(position) = position else { continue };
            let left = lending::claimable(&world.store, loan, lender);
            if left != Some((0, 0)) {
                return Err(Violation::new(
                    "escrow empties",
                    format!(
                        "{lender} can still claim {left:?} from defaulted loan {}",
                        loan.id
                    ),
                ));
            }
            claimed = claimed.saturating_add(position.claimed);
            collateral_claimed = collateral_claimed.saturating_add(position.collateral_claimed);
        }
        let bound = lenders.len().saturating_sub(1) as u128;
        let parts = [
            (Some(loan.asset), loan.paid_in.checked_sub(claimed)),
            (
                loan.collateral.map(|c| c.asset),
                loan.collateral_paid_in.checked_sub(collateral_claimed),
            ),
        ];
        for (asset, rest) in parts {
            let Some(asset) = asset else { continue };
            match rest {
                Some(rest) if rest <= bound => {
                    *unassigned.entry(asset).or_insert(0u128) += rest;
                }
                _ => {
                    return Err(Violation::new(
                        "escrow empties",
                        format!(
                            "defaulted loan {} keeps {rest:?} of asset {asset} unassigned, more \
                             than its rounding allows ({bound})",
                            loan.id
                        ),
                    ));
                }
            }
        }
    }
    Ok(unassigned)
}

/// Names the records that still owe `asset`, to explain a non-empty module.
fn stuck_detail(view: &View, module: Module, asset: types::AssetId) -> String {
    match module {
        Module::Market | Module::Staking => String::new(),
        Module::Lending => {
            let loans: Vec<String> = view
                .loans
                .iter()
                .filter(|loan| {
                    loan.asset == asset || loan.collateral.is_some_and(|c| c.asset == asset)
                })
                .filter(|loan| loan.paid_in > 0 || loan.collateral_paid_in > 0)
                .map(|loan| {
                    let lenders: Vec<String> = view
                        .lenders(loan.id)
                        .iter()
                        .map(|(lender, position)| format!("{lender}: {position:?}"))
                        .collect();
                    format!(
                        "loan {} {:?}: paid in {}, collateral seized {}, dust receiver {:?}, \
                         lenders [{}]",
                        loan.id,
                        loan.state,
                        loan.paid_in,
                        loan.collateral_paid_in,
                        loan.dust_receiver,
                        lenders.join(", ")
                    )
                })
                .collect();
            format!("; {}", loans.join("; "))
        }
    }
}
