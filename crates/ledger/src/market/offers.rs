//! Creating, updating and closing offers.

use super::{
    MarketError, MarketEvent, bps_up, emit,
    params::MarketParams,
    records::{Db, Offer},
};
use crate::{bank, receipt::Event, state, state::Module, store::Store};
use types::{
    AccountId, AssetId,
    market::{CreateOffer, PaymentMethod, Side, UpdateOffer},
};

/// Checks the amounts an offer may be taken in: `0 < min <= max`.
fn check_limits(asset: AssetId, min_amount: u128, max_amount: u128) -> Result<(), MarketError> {
    if min_amount == 0 || min_amount > max_amount {
        return Err(MarketError::InvalidLimits {
            asset,
            min: min_amount,
            max: max_amount,
        });
    }
    Ok(())
}

/// Checks the terms every offer must satisfy, whether new or updated (its amounts are checked
/// by [`check_limits`]).
fn check_terms(
    params: &MarketParams,
    fiat: types::market::Fiat,
    price: u128,
    methods: &[PaymentMethod],
    payment_window_secs: u32,
) -> Result<(), MarketError> {
    if price == 0 {
        return Err(MarketError::ZeroPrice);
    }
    if !(params.min_payment_window_secs..=params.max_payment_window_secs)
        .contains(&payment_window_secs)
    {
        return Err(MarketError::WindowOutOfRange {
            secs: payment_window_secs,
            min: params.min_payment_window_secs,
            max: params.max_payment_window_secs,
        });
    }
    for (position, method) in methods.iter().enumerate() {
        if methods[..position].contains(method) {
            return Err(MarketError::DuplicateMethod);
        }
        if let PaymentMethod::Custom(name) = method
            && !printable_name(name.as_str())
        {
            return Err(MarketError::InvalidMethodName);
        }
        if let PaymentMethod::Registered(index) = method {
            let info = params
                .method(method)
                .ok_or(MarketError::UnknownMethod { index: *index })?;
            if !info.currencies.is_empty() && !info.currencies.contains(&fiat) {
                return Err(MarketError::MethodCurrency {
                    method: info.code.to_string(),
                    fiat,
                });
            }
        }
    }
    Ok(())
}

fn check_deposit(params: &MarketParams, bps: u16) -> Result<(), MarketError> {
    if !(params.min_deposit_bps..=params.max_deposit_bps).contains(&bps) {
        return Err(MarketError::DepositOutOfRange {
            bps,
            min: params.min_deposit_bps,
            max: params.max_deposit_bps,
        });
    }
    Ok(())
}

/// The maker's deposit rate: a seller maker puts down the seller deposit, a buyer maker the buyer
/// deposit.
fn maker_deposit_bps(side: Side, buyer_bps: u16, seller_bps: u16) -> u16 {
    match side {
        Side::Sell => seller_bps,
        Side::Buy => buyer_bps,
    }
}

/// What an offer must hold for `max_amount`: the inventory (Sell only) and the maker's deposit,
/// rounded up.
fn required_locks(
    side: Side,
    max_amount: u128,
    deposit_bps: u16,
) -> Result<(u128, u128), MarketError> {
    let deposit = bps_up(max_amount, deposit_bps).ok_or(MarketError::ValueOverflow)?;
    let inventory = match side {
        Side::Sell => max_amount,
        Side::Buy => 0,
    };
    Ok((inventory, deposit))
}

pub fn create(
    store: &mut (impl Store + ?Sized),
    params: &MarketParams,
    now: u64,
    maker: &AccountId,
    create: &CreateOffer,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    if !state::asset_exists(store, create.asset) {
        return Err(MarketError::UnknownAsset {
            asset: create.asset,
        });
    }
    check_terms(
        params,
        create.fiat,
        create.price,
        &create.methods,
        create.payment_window_secs,
    )?;
    check_limits(create.asset, create.min_amount, create.max_amount)?;
    check_deposit(params, create.buyer_deposit_bps)?;
    check_deposit(params, create.seller_deposit_bps)?;
    let deposit_bps = maker_deposit_bps(
        create.side,
        create.buyer_deposit_bps,
        create.seller_deposit_bps,
    );
    let (inventory, deposit) = required_locks(create.side, create.max_amount, deposit_bps)?;
    let total = inventory
        .checked_add(deposit)
        .ok_or(MarketError::ValueOverflow)?;
    bank::lock(store, Module::Market, maker, create.asset, total)?;
    let id = Db::next_offer_id(store);
    Db::put_offer(
        store,
        &Offer {
            id,
            maker: *maker,
            side: create.side,
            asset: create.asset,
            fiat: create.fiat,
            price: create.price,
            min_amount: create.min_amount,
            max_amount: create.max_amount,
            methods: create.methods.clone(),
            payment_window_secs: create.payment_window_secs,
            terms: create.terms.clone(),
            buyer_deposit_bps: create.buyer_deposit_bps,
            seller_deposit_bps: create.seller_deposit_bps,
            min_taker_trades: create.min_taker_trades,
            min_taker_tier: create.min_taker_tier,
            amount_locked: inventory,
            deposit_locked: deposit,
            created_ms: now,
            revision: 0,
        },
    );
    emit(
        events,
        MarketEvent::OfferCreated {
            offer: id,
            maker: *maker,
        },
    );
    Ok(())
}

fn own_offer(
    store: &(impl Store + ?Sized),
    maker: &AccountId,
    id: u64,
) -> Result<Offer, MarketError> {
    let offer = Db::offer(store, id).ok_or(MarketError::UnknownOffer { offer: id })?;
    if &offer.maker != maker {
        return Err(MarketError::NotMaker { offer: id });
    }
    Ok(offer)
}

pub fn update(
    store: &mut (impl Store + ?Sized),
    params: &MarketParams,
    maker: &AccountId,
    update: &UpdateOffer,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    let mut offer = own_offer(store, maker, update.offer)?;
    let revision = offer
        .revision
        .checked_add(1)
        .ok_or(MarketError::RevisionsExhausted { offer: offer.id })?;
    check_terms(
        params,
        offer.fiat,
        update.price,
        &update.methods,
        update.payment_window_secs,
    )?;
    check_limits(offer.asset, update.min_amount, update.max_amount)?;
    let deposit_bps = maker_deposit_bps(
        offer.side,
        offer.buyer_deposit_bps,
        offer.seller_deposit_bps,
    );
    let (inventory, deposit) = required_locks(offer.side, update.max_amount, deposit_bps)?;
    let held = offer
        .amount_locked
        .checked_add(offer.deposit_locked)
        .expect("what an offer holds fits");
    let needed = inventory
        .checked_add(deposit)
        .ok_or(MarketError::ValueOverflow)?;
    if needed > held {
        let more = needed.checked_sub(held).expect("needed > held");
        bank::lock(store, Module::Market, maker, offer.asset, more)?;
    } else {
        let less = held.checked_sub(needed).expect("held >= needed");
        bank::unlock(store, Module::Market, maker, offer.asset, less)?;
    }
    offer.price = update.price;
    offer.min_amount = update.min_amount;
    offer.max_amount = update.max_amount;
    offer.methods = update.methods.clone();
    offer.payment_window_secs = update.payment_window_secs;
    offer.terms = update.terms.clone();
    offer.amount_locked = inventory;
    offer.deposit_locked = deposit;
    offer.revision = revision;
    Db::put_offer(store, &offer);
    emit(
        events,
        MarketEvent::OfferUpdated {
            offer: offer.id,
            revision,
        },
    );
    Ok(())
}

/// Closes an offer and returns what it holds to the maker. Trades already taken keep their own
/// escrow.
pub fn close(
    store: &mut (impl Store + ?Sized),
    offer: &Offer,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    let returned = offer
        .amount_locked
        .checked_add(offer.deposit_locked)
        .expect("what an offer holds fits");
    if returned > 0 {
        bank::unlock(store, Module::Market, &offer.maker, offer.asset, returned)?;
    }
    Db::delete_offer(store, offer.id);
    emit(
        events,
        MarketEvent::OfferClosed {
            offer: offer.id,
            asset: offer.asset,
            returned,
        },
    );
    Ok(())
}

pub fn cancel(
    store: &mut (impl Store + ?Sized),
    maker: &AccountId,
    id: u64,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    let offer = own_offer(store, maker, id)?;
    close(store, &offer, events)
}

/// Whether a free-text method's name can be shown as one plain line: not empty or blank, no
/// control characters (line breaks included), and none of Unicode's invisible format characters
/// (bidirectional overrides and isolates, zero-width joiners and spaces), which could make a
/// name read as something it is not.
fn printable_name(name: &str) -> bool {
    !name.trim().is_empty()
        && name.chars().all(|c| {
            !c.is_control()
                && !matches!(c,
                    '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}'
                    | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}'
                    | '\u{FFF9}'..='\u{FFFB}')
        })
}
