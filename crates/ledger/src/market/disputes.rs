//! Arbitrators and disputes: registration with a bond, deterministic selection from a block's
//! randomness, rulings that can only split the escrow between the parties (plus the fee), and
//! reassignment when an arbitrator misses the ruling deadline.
//!
//! A block's randomness is a consensus seed its proposer already knows, so a pick made in the
//! block that carries `open_dispute` or `reassign` could be steered by timing that call. Those
//! calls therefore only ask for an arbitrator: the trade waits (`arbitrator_pending`) in a
//! bounded list, and [`begin_block`] makes the pick in the first block whose randomness is the
//! seed of a round after the request's (usually two blocks later), counting only the arbitrators
//! that blocks of earlier rounds than the seed's registered. While a pick waits, nobody can rule
//! or reassign. What a byzantine leader can still do is in the threat model (G3).

use super::{
    MarketError, MarketEvent, bps_down, emit,
    params::MarketParams,
    records::{
        Arbitrator, Db, MAX_ARBITRATORS, MAX_PENDING_PICKS, MAX_REASSIGNMENTS, PendingPick,
        RECENT_DURATIONS, Trade, TradeState,
    },
    reputation,
    trades::{Payout, load, require_state, settle},
};
use crate::{BlockContext, bank, receipt::Event, state::Module, store::Store};
use types::{
    AccountId, AssetId,
    market::{OpenDispute, Party, RegisterArbitrator, Rule},
};

fn party_role(party: Party) -> &'static str {
    match party {
        Party::Buyer => "buyer",
        Party::Seller => "seller",
    }
}

/// The accounts that may take cases drawn with the seed of round `seed_round`: registered, and
/// not leaving, by blocks of earlier rounds, in account order. A block of round `seed_round` or
/// later was proposed by someone who may have known that seed (the leader of a round can learn
/// its seed early), so its registrations and departures do not count for that draw. With
/// `u64::MAX`, the registry as it stands.
fn available(store: &(impl Store + ?Sized), seed_round: u128) -> Vec<AccountId> {
    Db::arbitrators(store)
        .into_iter()
        .filter(|account| {
            Db::arbitrator(store, account).is_some_and(|a| {
                a.registered_round < seed_round
                    && a.leaving_round.is_none_or(|leaving| leaving >= seed_round)
            })
        })
        .collect()
}

/// Who of `available` may arbitrate `trade`: never one of its parties, never one it was taken
/// away from (nor the one holding it).
fn eligible(available: &[AccountId], trade: &Trade) -> Vec<AccountId> {
    available
        .iter()
        .filter(|account| {
            **account != trade.buyer
                && **account != trade.seller
                && Some(**account) != trade.arbitrator
                && !trade.reassigned.contains(account)
        })
        .copied()
        .collect()
}

/// The arbitrator `randomness` picks for `trade` from those eligible now: a hash of the
/// randomness, the trade and the number of earlier reassignments, over the eligible accounts in
/// account order. `None` when nobody is eligible.
pub fn select(
    store: &(impl Store + ?Sized),
    trade: &Trade,
    randomness: &[u8; 32],
) -> Option<AccountId> {
    pick(
        &eligible(&available(store, u128::MAX), trade),
        trade,
        randomness,
    )
}

fn pick(eligible: &[AccountId], trade: &Trade, randomness: &[u8; 32]) -> Option<AccountId> {
    let count = u64::try_from(eligible.len()).ok()?;
    let digest = types::hash(
        b"EQUA_ARBITRATOR_PICK_V1",
        &[
            randomness,
            &trade.id.to_be_bytes(),
            &u64::try_from(trade.reassigned.len())
                .unwrap_or(u64::MAX)
                .to_be_bytes(),
        ],
    );
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest.0[..8]);
    // `checked_rem` is `None` exactly when nobody is eligible.
    let index = u64::from_be_bytes(head).checked_rem(count)?;
    eligible.get(usize::try_from(index).ok()?).copied()
}

/// Puts `trade` in line for an arbitrator picked with the seed of a later round than this
/// block's (see [`begin_block`]).
fn request_pick(
    store: &mut (impl Store + ?Sized),
    trade: &mut Trade,
    context: &BlockContext,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    let pick = PendingPick {
        trade: trade.id,
        round: context.round,
    };
    if !Db::push_pending_pick(store, pick) {
        return Err(MarketError::TooManyPendingPicks {
            max: MAX_PENDING_PICKS,
        });
    }
    trade.arbitrator_pending = true;
    emit(events, MarketEvent::ArbitratorRequested { trade: trade.id });
    Ok(())
}

/// The start of a block, before its transactions: makes every arbitrator pick asked for in a
/// round before the one this block's randomness is the seed of (`context.round - 1`), with
/// that randomness; later ones keep waiting, in order. So no pick uses a seed that existed, or
/// that the leader of the asking block could learn early, when the request was ordered: the
/// seed of round `r` is recovered from votes cast in round `r`, after every block of earlier
/// rounds was fixed. A pick that finds nobody eligible leaves the trade unassigned with its
/// deadline unchanged (see [`reassign`]). A block whose randomness is no seed (the first view
/// of a consensus epoch: it could be known to whoever built the block before) makes no pick.
pub fn begin_block(
    store: &mut (impl Store + ?Sized),
    params: &MarketParams,
    context: &BlockContext,
) {
    if !context.seeded {
        return;
    }
    let seed_round = context.round.saturating_sub(1);
    let (due, waiting): (Vec<PendingPick>, Vec<PendingPick>) = Db::pending_picks(store)
        .into_iter()
        .partition(|pick| pick.round < seed_round);
    if due.is_empty() {
        return;
    }
    Db::put_pending_picks(store, waiting);
    let pending: Vec<u64> = due.into_iter().map(|pick| pick.trade).collect();
    // Who can take cases does not change within the step (assigning changes only case
    // counts), so the registry is read once for all of the block's picks, not once per pick.
    let available = available(store, seed_round);
    for id in pending {
        // Nothing moves a trade while its pick waits (rule and reassign refuse it, and a
        // disputed trade accepts no other transition), so each is still disputed and waiting.
        let Some(mut trade) = Db::trade(store, id) else {
            continue;
        };
        if trade.state != TradeState::Disputed || !trade.arbitrator_pending {
            continue;
        }
        trade.arbitrator_pending = false;
        let chosen = pick(&eligible(&available, &trade), &trade, &context.randomness);
        if let Some(account) = chosen {
            assign(store, params, &mut trade, &account, context);
        }
        Db::put_trade(store, &trade);
    }
}

/// Assigns `account`, picked for `trade`. Only an actual assignment starts a new ruling window:
/// a pick that finds nobody must not move the deadline, or the dispute's exit could be put off
/// forever.
fn assign(
    store: &mut (impl Store + ?Sized),
    params: &MarketParams,
    trade: &mut Trade,
    account: &AccountId,
    context: &BlockContext,
) {
    // Picked from the registry read at the start of this step; nothing in it removes records.
    let Some(mut arbitrator) = Db::arbitrator(store, account) else {
        return;
    };
    arbitrator.open_cases = arbitrator.open_cases.saturating_add(1);
    arbitrator.cases = arbitrator.cases.saturating_add(1);
    Db::put_arbitrator(store, &arbitrator);
    trade.arbitrator = Some(arbitrator.account);
    trade.assigned_ms = context.timestamp_ms;
    trade.ruling_deadline_ms = ruling_deadline(params, context.timestamp_ms);
    // A new arbitrator gets an allowance of messages of its own.
    trade.messages_by_arbitrator = 0;
}

fn ruling_deadline(params: &MarketParams, from_ms: u64) -> u64 {
    from_ms.saturating_add(u64::from(params.ruling_window_secs).saturating_mul(1_000))
}

pub fn open(
    store: &mut (impl Store + ?Sized),
    params: &MarketParams,
    context: &BlockContext,
    signer: &AccountId,
    call: &OpenDispute,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    let id = call.trade;
    let mut trade = load(store, id)?;
    let party = trade.party(signer).ok_or(MarketError::WrongParty {
        trade: id,
        account: *signer,
        role: "buyer or seller",
    })?;
    require_state(&trade, &[TradeState::Paid], "paid")?;
    if let Some(side) = call.reason.side()
        && side != party
    {
        return Err(MarketError::ReasonNotForParty {
            trade: id,
            reason: call.reason.words(),
            role: party_role(party),
        });
    }
    if party == Party::Buyer && context.timestamp_ms <= trade.release_deadline_ms {
        return Err(MarketError::ReleaseWindowOpen {
            trade: id,
            opens_at_ms: trade.release_deadline_ms.saturating_add(1),
        });
    }
    trade.state = TradeState::Disputed;
    trade.disputed_ms = Some(context.timestamp_ms);
    trade.dispute_opened_by = Some(party);
    trade.dispute_reason = Some(call.reason);
    trade.dispute_note = call.note.clone();
    // The dispute's first window: an arbitrator's assignment restarts it; if nobody is ever
    // assigned, the dispute ends without a ruling once it has passed.
    trade.ruling_deadline_ms = ruling_deadline(params, context.timestamp_ms);
    emit(
        events,
        MarketEvent::TradeStateChanged {
            trade: id,
            state: TradeState::Disputed,
        },
    );
    request_pick(store, &mut trade, context, events)?;
    Db::put_trade(store, &trade);
    reputation::dispute_opened(store, signer);
    Ok(())
}

pub fn rule(
    store: &mut (impl Store + ?Sized),
    context: &BlockContext,
    signer: &AccountId,
    rule: &Rule,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    let now = context.timestamp_ms;
    let mut trade = load(store, rule.trade)?;
    require_state(&trade, &[TradeState::Disputed], "disputed")?;
    if trade.arbitrator_pending {
        return Err(MarketError::ArbitratorPickPending { trade: trade.id });
    }
    if trade.arbitrator.as_ref() != Some(signer) {
        return Err(MarketError::NotArbitrator {
            trade: trade.id,
            account: *signer,
        });
    }
    if rule.amount_to_buyer > trade.amount {
        return Err(MarketError::RulingTooLarge {
            asset: trade.asset,
            amount_to_buyer: rule.amount_to_buyer,
            amount: trade.amount,
        });
    }
    let mut arbitrator =
        Db::arbitrator(store, signer).expect("an assigned arbitrator is registered");
    // The fee comes only from the at-fault party's deposit, and never exceeds it.
    let (fault_deposit, other_deposit) = match rule.at_fault {
        Party::Buyer => (trade.buyer_deposit, trade.seller_deposit),
        Party::Seller => (trade.seller_deposit, trade.buyer_deposit),
    };
    let fee = bps_down(trade.amount, arbitrator.fee_bps)
        .ok_or(MarketError::ValueOverflow)?
        .min(fault_deposit);
    let compensation = fault_deposit.checked_sub(fee).expect("fee <= deposit");
    let amount_to_seller = trade
        .amount
        .checked_sub(rule.amount_to_buyer)
        .expect("checked above");
    let (to_buyer, to_seller) = match rule.at_fault {
        Party::Buyer => (
            rule.amount_to_buyer,
            amount_to_seller
                .checked_add(other_deposit)
                .and_then(|v| v.checked_add(compensation)),
        ),
        Party::Seller => (
            rule.amount_to_buyer
                .checked_add(other_deposit)
                .and_then(|v| v.checked_add(compensation))
                .expect("parts of the escrow"),
            Some(amount_to_seller),
        ),
    };
    let to_seller = to_seller.expect("parts of the escrow");
    settle(
        store,
        &mut trade,
        TradeState::Resolved,
        context,
        Payout {
            to_buyer,
            to_seller,
            to_arbitrator: fee,
            at_fault: Some(rule.at_fault),
        },
        events,
    )?;
    arbitrator.open_cases = arbitrator.open_cases.saturating_sub(1);
    arbitrator.rulings = arbitrator.rulings.saturating_add(1);
    push_recent(
        &mut arbitrator.recent_ruling_ms,
        now.saturating_sub(trade.assigned_ms),
    );
    Db::put_arbitrator(store, &arbitrator);
    reputation::dispute_ruled(store, &trade, rule.at_fault);
    Ok(())
}

/// Takes a dispute from an arbitrator who missed the ruling deadline, or asks again for an
/// arbitrator when nobody holds it. The deadline moves only when someone is actually assigned
/// (at the pick), so with nobody eligible a reassign cannot put off the exit:
/// before the deadline it is refused, after it the dispute ends without a ruling.
pub fn reassign(
    store: &mut (impl Store + ?Sized),
    context: &BlockContext,
    id: u64,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    let mut trade = load(store, id)?;
    require_state(&trade, &[TradeState::Disputed], "disputed")?;
    if trade.arbitrator_pending {
        return Err(MarketError::ArbitratorPickPending { trade: id });
    }
    let now = context.timestamp_ms;
    let deadline = trade.ruling_deadline_ms;
    let window_open = now <= deadline;
    match trade.arbitrator {
        Some(_) if window_open => {
            return Err(MarketError::RulingWindowOpen {
                trade: id,
                deadline_ms: deadline,
            });
        }
        Some(current) => {
            let mut missed = Db::arbitrator(store, &current)
                .ok_or(MarketError::UnknownArbitrator { account: current })?;
            missed.open_cases = missed.open_cases.saturating_sub(1);
            missed.reassignments = missed.reassignments.saturating_add(1);
            Db::put_arbitrator(store, &missed);
            trade.arbitrator = None;
            if trade.reassigned.len() >= MAX_REASSIGNMENTS {
                return no_ruling(store, &mut trade, context, events);
            }
            trade.reassigned.push(current);
        }
        None => {}
    }
    if eligible(&available(store, u128::MAX), &trade).is_empty() {
        if window_open {
            // Nobody holds the case, its window still runs, and a pick could find nobody:
            // asking again would change nothing.
            return Err(MarketError::NoEligibleArbitrator {
                trade: id,
                deadline_ms: deadline,
            });
        }
        // The window passed with nobody to rule and nobody can now: end the dispute rather
        // than hold the escrow forever.
        return no_ruling(store, &mut trade, context, events);
    }
    request_pick(store, &mut trade, context, events)?;
    Db::put_trade(store, &trade);
    Ok(())
}

/// The last-resort end of a dispute nobody ruled on: after every reassignment a trade allows,
/// or a whole ruling window with no eligible arbitrator. With no finding of fault, each party
/// gets its own deposit back and the traded amount is split in half (the odd unit to the seller).
fn no_ruling(
    store: &mut (impl Store + ?Sized),
    trade: &mut Trade,
    context: &BlockContext,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    let half = trade.amount.checked_div(2).expect("two is not zero");
    let to_buyer = half
        .checked_add(trade.buyer_deposit)
        .expect("part of the escrow");
    let to_seller = trade
        .amount
        .checked_sub(half)
        .and_then(|rest| rest.checked_add(trade.seller_deposit))
        .expect("part of the escrow");
    emit(events, MarketEvent::NoRuling { trade: trade.id });
    settle(
        store,
        trade,
        TradeState::Resolved,
        context,
        Payout {
            to_buyer,
            to_seller,
            to_arbitrator: 0,
            at_fault: None,
        },
        events,
    )
}

pub fn register(
    store: &mut (impl Store + ?Sized),
    params: &MarketParams,
    now: u64,
    round: u128,
    signer: &AccountId,
    register: &RegisterArbitrator,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    if Db::arbitrator(store, signer).is_some() {
        return Err(MarketError::AlreadyArbitrator { account: *signer });
    }
    if register.bond < params.min_arbitrator_bond {
        return Err(MarketError::BondTooSmall {
            bond: register.bond,
            minimum: params.min_arbitrator_bond,
        });
    }
    if register.fee_bps > params.max_arbitrator_fee_bps {
        return Err(MarketError::FeeTooHigh {
            fee_bps: register.fee_bps,
            max: params.max_arbitrator_fee_bps,
        });
    }
    let mut list = Db::arbitrators(store);
    if list.len() >= MAX_ARBITRATORS {
        return Err(MarketError::TooManyArbitrators {
            max: MAX_ARBITRATORS,
        });
    }
    bank::lock(
        store,
        Module::Market,
        signer,
        AssetId::NATIVE,
        register.bond,
    )?;
    Db::put_arbitrator(
        store,
        &Arbitrator {
            account: *signer,
            bond: register.bond,
            fee_bps: register.fee_bps,
            languages: register.languages.clone(),
            registered_ms: now,
            leaving_at_ms: None,
            open_cases: 0,
            cases: 0,
            rulings: 0,
            reassignments: 0,
            recent_ruling_ms: Vec::new(),
            registered_round: round,
            leaving_round: None,
        },
    );
    let position = list
        .binary_search(signer)
        .unwrap_or_else(|position| position);
    list.insert(position, *signer);
    Db::put_arbitrators(store, list);
    emit(
        events,
        MarketEvent::ArbitratorRegistered {
            arbitrator: *signer,
            bond: register.bond,
        },
    );
    Ok(())
}

pub fn unregister(
    store: &mut (impl Store + ?Sized),
    params: &MarketParams,
    now: u64,
    round: u128,
    signer: &AccountId,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    let mut arbitrator =
        Db::arbitrator(store, signer).ok_or(MarketError::UnknownArbitrator { account: *signer })?;
    if arbitrator.leaving_at_ms.is_some() {
        return Err(MarketError::AlreadyLeaving);
    }
    let free_at =
        now.saturating_add(u64::from(params.arbitrator_cooldown_secs).saturating_mul(1_000));
    arbitrator.leaving_at_ms = Some(free_at);
    arbitrator.leaving_round = Some(round);
    Db::put_arbitrator(store, &arbitrator);
    emit(
        events,
        MarketEvent::ArbitratorLeaving {
            arbitrator: *signer,
            bond_free_at_ms: free_at,
        },
    );
    Ok(())
}

pub fn withdraw_bond(
    store: &mut (impl Store + ?Sized),
    now: u64,
    signer: &AccountId,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    let arbitrator =
        Db::arbitrator(store, signer).ok_or(MarketError::UnknownArbitrator { account: *signer })?;
    let free_at = arbitrator.leaving_at_ms.ok_or(MarketError::NotLeaving)?;
    if now < free_at {
        return Err(MarketError::CooldownRunning {
            free_at_ms: free_at,
        });
    }
    if arbitrator.open_cases > 0 {
        return Err(MarketError::OpenCases {
            open_cases: arbitrator.open_cases,
        });
    }
    bank::unlock(
        store,
        Module::Market,
        signer,
        AssetId::NATIVE,
        arbitrator.bond,
    )?;
    Db::delete_arbitrator(store, signer);
    let mut list = Db::arbitrators(store);
    list.retain(|account| account != signer);
    Db::put_arbitrators(store, list);
    emit(
        events,
        MarketEvent::BondWithdrawn {
            arbitrator: *signer,
            bond: arbitrator.bond,
        },
    );
    Ok(())
}

/// Keeps the most recent durations, oldest first, bounded.
pub(crate) fn push_recent(recent: &mut Vec<u64>, value: u64) {
    if recent.len() >= RECENT_DURATIONS {
        recent.remove(0);
    }
    recent.push(value);
}
