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
    if trade.messages >= params.max_messages_per_trade {
        return Err(MarketError::TooManyMessages {
            trade: trade.id,
            max: params.max_messages_per_trade,
        });
    }
    let index = trade.messages;
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
    trade.messages = index.checked_add(1).expect("bounded by the limit");
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
    if trade.arbitrator.is_none() {
        return Err(MarketError::NoArbitrator { trade: trade.id });
    }
    if Db::revealed(store, trade.id, party).is_some() {
        return Err(MarketError::AlreadyRevealed { trade: trade.id });
    }
    Db::put_revealed(store, trade.id, party, reveal.encrypted_key.clone());
    emit(
        events,
        MarketEvent::KeyRevealed {
            trade: trade.id,
            by: party,
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
    reputation::rated(store, &other, rate.stars);
    emit(
        events,
        MarketEvent::Rated {
            trade: trade.id,
            rater: *signer,
            stars: rate.stars,
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
