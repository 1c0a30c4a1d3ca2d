//! Taking offers and the trade lifecycle outside disputes.

use super::{
    MarketError, MarketEvent, bps_up, emit, offers,
    params::MarketParams,
    records::{Db, Offer, Settlement, Trade, TradeState},
    reputation,
};
use crate::{BlockContext, bank, receipt::Event, state, state::Module, store::Store};
use types::{
    AccountId,
    market::{MarkPaid, PaymentMethod, Side, TakeOffer},
};

pub(crate) fn state_name(state: TradeState) -> &'static str {
    match state {
        TradeState::AwaitingPayment => "awaiting payment",
        TradeState::Paid => "paid",
        TradeState::Completed => "completed",
        TradeState::Cancelled => "cancelled",
        TradeState::TimedOut => "timed out",
        TradeState::Disputed => "disputed",
        TradeState::Resolved => "resolved",
    }
}

pub(crate) fn load(store: &(impl Store + ?Sized), id: u64) -> Result<Trade, MarketError> {
    Db::trade(store, id).ok_or(MarketError::UnknownTrade { trade: id })
}

pub(crate) fn require_state(
    trade: &Trade,
    allowed: &[TradeState],
    expected: &'static str,
) -> Result<(), MarketError> {
    if !allowed.contains(&trade.state) {
        return Err(MarketError::WrongState {
            trade: trade.id,
            state: state_name(trade.state),
            expected,
        });
    }
    Ok(())
}

pub(crate) fn require_party(
    trade: &Trade,
    account: &AccountId,
    party: types::market::Party,
) -> Result<(), MarketError> {
    let (expected, role) = match party {
        types::market::Party::Buyer => (&trade.buyer, "buyer"),
        types::market::Party::Seller => (&trade.seller, "seller"),
    };
    if account != expected {
        return Err(MarketError::WrongParty {
            trade: trade.id,
            account: *account,
            role,
        });
    }
    Ok(())
}

/// How a trade's escrow is paid out.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Payout {
    pub to_buyer: u128,
    pub to_seller: u128,
    pub to_arbitrator: u128,
    /// The party a ruling found at fault, for a ruling only.
    pub at_fault: Option<types::market::Party>,
}

/// Pays a trade's whole escrow out and records its final state. The three shares must add up to
/// the escrow exactly: nothing is left behind and nothing is created.
pub(crate) fn settle(
    store: &mut (impl Store + ?Sized),
    trade: &mut Trade,
    state: TradeState,
    context: &BlockContext,
    payout: Payout,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    let Payout {
        to_buyer,
        to_seller,
        to_arbitrator,
        at_fault,
    } = payout;
    assert!(state.is_final() && !trade.state.is_final());
    let total = to_buyer
        .checked_add(to_seller)
        .and_then(|sum| sum.checked_add(to_arbitrator));
    assert_eq!(
        total,
        Some(trade.escrow()),
        "a settlement pays exactly the escrow"
    );
    for (account, share) in [(trade.buyer, to_buyer), (trade.seller, to_seller)] {
        if share > 0 {
            bank::unlock(store, Module::Market, &account, trade.asset, share)?;
        }
    }
    if to_arbitrator > 0 {
        let arbitrator = trade
            .arbitrator
            .expect("only an assigned arbitrator is paid");
        bank::unlock(
            store,
            Module::Market,
            &arbitrator,
            trade.asset,
            to_arbitrator,
        )?;
    }
    trade.state = state;
    trade.settled_ms = Some(context.timestamp_ms);
    trade.settlement = Some(Settlement {
        to_buyer,
        to_seller,
        to_arbitrator,
        height: context.height,
        at_fault,
    });
    Db::put_trade(store, trade);
    emit(
        events,
        MarketEvent::TradeStateChanged {
            trade: trade.id,
            state,
        },
    );
    emit(
        events,
        MarketEvent::Settled {
            trade: trade.id,
            to_buyer,
            to_seller,
            to_arbitrator,
        },
    );
    Ok(())
}

/// The fiat a buyer pays for `amount`, in fiat minor units, rounded up.
fn fiat_value(
    store: &(impl Store + ?Sized),
    offer: &Offer,
    amount: u128,
) -> Result<u128, MarketError> {
    let decimals = state::asset(store, offer.asset)
        .map(|info| info.decimals)
        .ok_or(MarketError::UnknownAsset { asset: offer.asset })?;
    let unit = types::amount::unit(decimals).map_err(|_| MarketError::ValueOverflow)?;
    let product = amount
        .checked_mul(offer.price)
        .ok_or(MarketError::ValueOverflow)?;
    Ok(product.div_ceil(unit))
}

pub fn take(
    store: &mut (impl Store + ?Sized),
    params: &MarketParams,
    now: u64,
    taker: &AccountId,
    take: &TakeOffer,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    let mut offer =
        Db::offer(store, take.offer).ok_or(MarketError::UnknownOffer { offer: take.offer })?;
    // The taker agreed to one version of the terms; any update since (even one ordered just
    // ahead of this take in the same block) voids the take rather than binding the taker to it.
    if take.revision != offer.revision {
        return Err(MarketError::OfferChanged {
            offer: offer.id,
            expected_revision: take.revision,
            current_revision: offer.revision,
        });
    }
    if &offer.maker == taker {
        return Err(MarketError::OwnOffer { offer: offer.id });
    }
    let smallest = offer.min_amount.min(offer.max_amount);
    if take.amount < smallest || take.amount > offer.max_amount {
        return Err(MarketError::AmountOutOfRange {
            offer: offer.id,
            asset: offer.asset,
            amount: take.amount,
            min: smallest,
            max: offer.max_amount,
        });
    }
    if !offer.methods.contains(&take.method) {
        return Err(MarketError::MethodNotOffered { offer: offer.id });
    }
    let taker_standing = reputation::standing(store, params, taker, now);
    // A maker's minimum asks for trades that count, like every other use of standing.
    if taker_standing.counted < offer.min_taker_trades {
        return Err(MarketError::TooFewTrades {
            counted: taker_standing.counted,
            required: offer.min_taker_trades,
        });
    }
    if taker_standing.tier < offer.min_taker_tier {
        return Err(MarketError::TierTooLow {
            tier: taker_standing.tier,
            required: offer.min_taker_tier,
        });
    }
    let (buyer, seller) = match offer.side {
        Side::Sell => (*taker, offer.maker),
        Side::Buy => (offer.maker, *taker),
    };
    let fiat_amount = fiat_value(store, &offer, take.amount)?;
    // Chargebacks come from the fiat payer, so the buyer's experience sets the limit. Free-text
    // methods are unknown risks: their limit binds everyone.
    let buyer_standing = if buyer == *taker {
        taker_standing
    } else {
        reputation::standing(store, params, &buyer, now)
    };
    let limit = match (&take.method, params.method(&take.method)) {
        (PaymentMethod::Custom(_), _) => Some(params.custom_method_limit),
        (_, Some(info)) if buyer_standing.is_new_account(params) => Some(info.new_account_limit),
        _ => None,
    };
    if let Some(limit) = limit
        && fiat_amount > limit
    {
        return Err(MarketError::NewAccountLimit {
            counted: buyer_standing.counted,
            counterparties: buyer_standing.counterparties,
            fiat: offer.fiat,
            limit,
            value: fiat_amount,
        });
    }

    // The maker's deposit for this part: its pro-rata share of what the offer holds, rounded
    // down; the take that empties the offer takes the rest, so no dust is left behind.
    let maker_deposit = if take.amount == offer.max_amount {
        offer.deposit_locked
    } else {
        // In 256 bits: an 18-decimal offer's deposit times the amount taken outgrows 128 bits
        // long before the share does.
        crate::math::mul_div_floor(offer.deposit_locked, take.amount, offer.max_amount)
            .ok_or(MarketError::ValueOverflow)?
    };
    let (buyer_deposit, seller_deposit) = match offer.side {
        Side::Sell => {
            let buyer_deposit =
                bps_up(take.amount, offer.buyer_deposit_bps).ok_or(MarketError::ValueOverflow)?;
            bank::lock(store, Module::Market, taker, offer.asset, buyer_deposit)?;
            offer.amount_locked = offer
                .amount_locked
                .checked_sub(take.amount)
                .expect("a sell offer holds its whole remaining amount");
            (buyer_deposit, maker_deposit)
        }
        Side::Buy => {
            let seller_deposit =
                bps_up(take.amount, offer.seller_deposit_bps).ok_or(MarketError::ValueOverflow)?;
            let total = take
                .amount
                .checked_add(seller_deposit)
                .ok_or(MarketError::ValueOverflow)?;
            bank::lock(store, Module::Market, taker, offer.asset, total)?;
            (maker_deposit, seller_deposit)
        }
    };
    offer.deposit_locked = offer
        .deposit_locked
        .checked_sub(maker_deposit)
        .expect("a share never exceeds the whole");
    offer.max_amount = offer
        .max_amount
        .checked_sub(take.amount)
        .expect("amount <= max_amount was checked");

    let method_window = params
        .method(&take.method)
        .map_or(0, |info| info.min_window_secs);
    let window_secs = offer.payment_window_secs.max(method_window);
    let id = Db::next_trade_id(store);
    let trade = Trade {
        id,
        offer: offer.id,
        maker: offer.maker,
        buyer,
        seller,
        asset: offer.asset,
        fiat: offer.fiat,
        price: offer.price,
        amount: take.amount,
        fiat_amount,
        method: take.method.clone(),
        buyer_deposit,
        seller_deposit,
        state: TradeState::AwaitingPayment,
        created_ms: now,
        payment_deadline_ms: now.saturating_add(u64::from(window_secs).saturating_mul(1_000)),
        paid_ms: None,
        release_deadline_ms: 0,
        payer_commitment: None,
        disputed_ms: None,
        dispute_reason: None,
        dispute_note: Default::default(),
        dispute_opened_by: None,
        arbitrator: None,
        arbitrator_pending: false,
        assigned_ms: 0,
        ruling_deadline_ms: 0,
        reassigned: Vec::new(),
        messages: 0,
        messages_by_buyer: 0,
        messages_by_seller: 0,
        messages_by_arbitrator: 0,
        rated_by_buyer: false,
        rated_by_seller: false,
        settled_ms: None,
        settlement: None,
        counted: false,
    };
    Db::put_trade(store, &trade);
    reputation::started(store, &buyer, now);
    reputation::started(store, &seller, now);
    emit(
        events,
        MarketEvent::TradeOpened {
            trade: id,
            offer: offer.id,
            buyer,
            seller,
            asset: offer.asset,
            amount: take.amount,
        },
    );
    if offer.max_amount == 0 {
        assert_eq!(offer.amount_locked, 0);
        assert_eq!(offer.deposit_locked, 0);
        offers::close(store, &offer, events)?;
    } else {
        Db::put_offer(store, &offer);
    }
    Ok(())
}

pub fn mark_paid(
    store: &mut (impl Store + ?Sized),
    params: &MarketParams,
    now: u64,
    signer: &AccountId,
    paid: &MarkPaid,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    let mut trade = load(store, paid.trade)?;
    require_party(&trade, signer, types::market::Party::Buyer)?;
    require_state(&trade, &[TradeState::AwaitingPayment], "awaiting payment")?;
    if payment_window_closed(&trade, now) {
        return Err(MarketError::PaymentWindowClosed {
            trade: trade.id,
            closed_at_ms: trade.payment_deadline_ms,
        });
    }
    trade.state = TradeState::Paid;
    trade.paid_ms = Some(now);
    trade.release_deadline_ms =
        now.saturating_add(u64::from(params.release_window_secs).saturating_mul(1_000));
    if let Some(commitment) = paid.payer_commitment {
        trade.payer_commitment = Some(commitment);
        Db::record_commitment(store, &commitment, signer);
    }
    Db::put_trade(store, &trade);
    emit(
        events,
        MarketEvent::TradeStateChanged {
            trade: trade.id,
            state: TradeState::Paid,
        },
    );
    Ok(())
}

pub fn release(
    store: &mut (impl Store + ?Sized),
    params: &MarketParams,
    context: &BlockContext,
    signer: &AccountId,
    id: u64,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    let now = context.timestamp_ms;
    let mut trade = load(store, id)?;
    require_party(&trade, signer, types::market::Party::Seller)?;
    require_state(
        &trade,
        &[TradeState::AwaitingPayment, TradeState::Paid],
        "awaiting payment or paid",
    )?;
    let to_buyer = trade
        .amount
        .checked_add(trade.buyer_deposit)
        .expect("part of the escrow");
    let to_seller = trade.seller_deposit;
    trade.counted = reputation::counts(params, &trade);
    settle(
        store,
        &mut trade,
        TradeState::Completed,
        context,
        Payout {
            to_buyer,
            to_seller,
            to_arbitrator: 0,
            at_fault: None,
        },
        events,
    )?;
    reputation::completed(store, &trade, now);
    Ok(())
}

pub fn cancel(
    store: &mut (impl Store + ?Sized),
    context: &BlockContext,
    signer: &AccountId,
    id: u64,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    let now = context.timestamp_ms;
    let mut trade = load(store, id)?;
    require_party(&trade, signer, types::market::Party::Buyer)?;
    require_state(&trade, &[TradeState::AwaitingPayment], "awaiting payment")?;
    // Once the window has closed the buyer has let it pass unpaid, whoever moves first: a cancel
    // then settles exactly as the seller's claim of the timeout would, so racing the seller to
    // it cannot save the deposit. The buyer still has an exit; it just costs what a timeout costs.
    if payment_window_closed(&trade, now) {
        return time_out(store, &mut trade, context, events);
    }
    let to_seller = trade
        .amount
        .checked_add(trade.seller_deposit)
        .expect("part of the escrow");
    let to_buyer = trade.buyer_deposit;
    settle(
        store,
        &mut trade,
        TradeState::Cancelled,
        context,
        Payout {
            to_buyer,
            to_seller,
            to_arbitrator: 0,
            at_fault: None,
        },
        events,
    )?;
    reputation::cancelled(store, &trade.buyer);
    Ok(())
}

pub fn claim_timeout(
    store: &mut (impl Store + ?Sized),
    context: &BlockContext,
    signer: &AccountId,
    id: u64,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    let now = context.timestamp_ms;
    let mut trade = load(store, id)?;
    require_party(&trade, signer, types::market::Party::Seller)?;
    require_state(&trade, &[TradeState::AwaitingPayment], "awaiting payment")?;
    if !payment_window_closed(&trade, now) {
        return Err(MarketError::PaymentWindowOpen {
            trade: trade.id,
            closes_at_ms: trade.payment_deadline_ms,
        });
    }
    time_out(store, &mut trade, context, events)
}

/// Whether the buyer's time to pay is over at `now`. The deadline millisecond itself is still
/// inside the window: the buyer may mark paid or cancel freely at it, and the seller may claim
/// the timeout only after it. Every transition that depends on the window asks this.
pub(crate) fn payment_window_closed(trade: &Trade, now: u64) -> bool {
    now > trade.payment_deadline_ms
}

/// Ends a trade whose buyer neither paid nor cancelled in time: the seller gets everything back
/// plus the buyer's deposit, and the buyer's record shows a timeout.
fn time_out(
    store: &mut (impl Store + ?Sized),
    trade: &mut Trade,
    context: &BlockContext,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    let to_seller = trade.escrow();
    settle(
        store,
        trade,
        TradeState::TimedOut,
        context,
        Payout {
            to_buyer: 0,
            to_seller,
            to_arbitrator: 0,
            at_fault: None,
        },
        events,
    )?;
    reputation::timed_out(store, &trade.buyer);
    Ok(())
}
