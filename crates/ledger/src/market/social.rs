//! Trade chat (ciphertext only), key reveals for arbitrators, ratings and profiles.

use super::{
    MarketError, MarketEvent, emit,
    params::MarketParams,
    records::{Db, Message, Profile, TradeState},
    reputation,
    trades::{load, require_state},
};
use crate::{receipt::Event, store::Store};
use types::{
    AccountId,
    market::{Party, PostMessage, Rate, RevealKey, SetProfile},
};

pub fn post(
    store: &mut (impl Store + ?Sized),
    params: &MarketParams,
    now: u64,
    signer: &AccountId,
    post: &PostMessage,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    let mut trade = load(store, post.trade)?;
    let is_party = trade.party(signer).is_some();
    let is_arbitrator =
        trade.state == TradeState::Disputed && trade.arbitrator.as_ref() == Some(signer);
    if !is_party && !is_arbitrator {
        return Err(MarketError::WrongParty {
            trade: trade.id,
            account: *signer,
            role: "buyer, seller or assigned arbitrator",
        });
    }
    if trade.state.is_final() {
        return Err(MarketError::ChatClosed { trade: trade.id });
    }
    // Each author has an allowance of its own, so one cannot silence another by using up a
    // shared limit. Parties are never the arbitrator (selection excludes them).
    let max = params.max_messages_per_author;
    let (author, posted) = match trade.party(signer) {
        Some(Party::Buyer) => ("buyer", &mut trade.messages_by_buyer),
        Some(Party::Seller) => ("seller", &mut trade.messages_by_seller),
        None => ("arbitrator", &mut trade.messages_by_arbitrator),
    };
    let too_many = MarketError::TooManyMessages {
        trade: trade.id,
        author,
        max,
    };
    if *posted >= max {
        return Err(too_many);
    }
    *posted = posted.checked_add(1).ok_or(too_many.clone())?;
    let index = trade.messages;
    trade.messages = index.checked_add(1).ok_or(too_many)?;
    Db::put_message(
        store,
        trade.id,
        index,
        &Message {
            sender: *signer,
            at_ms: now,
            ciphertext: post.ciphertext.clone(),
        },
    );
    Db::put_trade(store, &trade);
    emit(
        events,
        MarketEvent::MessagePosted {
            trade: trade.id,
            index,
            sender: *signer,
        },
    );
    Ok(())
}

pub fn reveal(
    store: &mut (impl Store + ?Sized),
    signer: &AccountId,
    reveal: &RevealKey,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    let trade = load(store, reveal.trade)?;
    let party = trade.party(signer).ok_or(MarketError::WrongParty {
        trade: trade.id,
        account: *signer,
        role: "buyer or seller",
    })?;
    require_state(&trade, &[TradeState::Disputed], "disputed")?;
    if trade.arbitrator_pending {
        return Err(MarketError::ArbitratorPickPending { trade: trade.id });
    }
    let arbitrator = trade
        .arbitrator
        .ok_or(MarketError::NoArbitrator { trade: trade.id })?;
    // One reveal per party per arbitrator: evidence given to an arbitrator who was then
    // reassigned away can be given again to the next one.
    if Db::revealed(store, trade.id, party, &arbitrator).is_some() {
        return Err(MarketError::AlreadyRevealed {
            trade: trade.id,
            arbitrator,
        });
    }
    Db::put_revealed(
        store,
        trade.id,
        party,
        &arbitrator,
        reveal.encrypted_key.clone(),
    );
    emit(
        events,
        MarketEvent::KeyRevealed {
            trade: trade.id,
            by: party,
            to: arbitrator,
        },
    );
    Ok(())
}

pub fn rate(
    store: &mut (impl Store + ?Sized),
    signer: &AccountId,
    rate: &Rate,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    if !(1..=5).contains(&rate.stars) {
        return Err(MarketError::InvalidRating { stars: rate.stars });
    }
    let mut trade = load(store, rate.trade)?;
    let party = trade.party(signer).ok_or(MarketError::WrongParty {
        trade: trade.id,
        account: *signer,
        role: "buyer or seller",
    })?;
    require_state(
        &trade,
        &[
            TradeState::Completed,
            TradeState::Resolved,
            TradeState::TimedOut,
        ],
        "completed, resolved or timed out",
    )?;
    let (already, other) = match party {
        Party::Buyer => (&mut trade.rated_by_buyer, trade.seller),
        Party::Seller => (&mut trade.rated_by_seller, trade.buyer),
    };
    if *already {
        return Err(MarketError::AlreadyRated { trade: trade.id });
    }
    *already = true;
    Db::put_trade(store, &trade);
    // A rating is recorded on the trade either way, but enters the average only from a trade
    // that counts: five stars between two accounts of one person lift nothing.
    if trade.counted {
        reputation::rated(store, &other, rate.stars);
    }
    emit(
        events,
        MarketEvent::Rated {
            trade: trade.id,
            rater: *signer,
            stars: rate.stars,
            counted: trade.counted,
        },
    );
    Ok(())
}

pub fn set_profile(
    store: &mut (impl Store + ?Sized),
    signer: &AccountId,
    profile: &SetProfile,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    Db::put_profile(
        store,
        signer,
        &Profile {
            chat_key: profile.chat_key,
            name: profile.name.clone(),
        },
    );
    emit(events, MarketEvent::ProfileSet { account: *signer });
    Ok(())
}
