//! The market module: fiat offers, escrowed trades, disputes decided by bonded arbitrators,
//! encrypted trade chat, and reputation derived from what happened on the ledger.
//!
//! Every amount the market holds (offer inventory and deposits, trade escrow, arbitrator bonds)
//! sits in `bank`'s market total, so conservation covers it. A trade's escrow is
//! `amount + buyer_deposit + seller_deposit` and leaves the market only through a transition
//! below, each of which pays out exactly that escrow:
//!
//! ```text
//! take -> AwaitingPayment --mark_paid(buyer)--> Paid --release(seller)--> Completed
//!           | cancel(buyer, in the window)        | open_dispute(seller; buyer after the release window)
//!           |   -> Cancelled                      v
//!           | claim_timeout(seller) or          Disputed --rule(arbitrator)--> Resolved
//!           |   cancel(buyer), after the window   | reassign(anyone, after the ruling deadline)
//!           |   -> TimedOut (deposit to seller)
//! ```
//!
//! A dispute cannot hold funds forever: after the most reassignments a trade allows, or once the
//! ruling deadline has passed with nobody eligible to take the case, the next `reassign` ends it
//! without a ruling (deposits back, the amount split in half). Only an actual assignment moves
//! the deadline.
//!
//! Arbitrators are picked at the start of a block whose randomness is the seed of a round after
//! the one that asked (see [`begin_block`]), so that no party can time its request to a
//! randomness already known.

mod disputes;
mod error;
mod offers;
pub mod params;
pub mod queries;
pub mod records;
pub mod reputation;
mod social;
mod trades;

pub use disputes::select as select_arbitrator;
pub use error::MarketError;
pub use params::MarketParams;
pub use records::{
    Arbitrator, Db, Message, Offer, Profile, Reputation, Settlement, Trade, TradeState,
};
pub use reputation::{Standing, standing};

use crate::{BlockContext, receipt::Event, store::Store};
use types::{AccountId, AssetId, market::MarketCall, market::Party};

/// What the market did, in receipts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarketEvent {
    OfferCreated {
        offer: u64,
        maker: AccountId,
    },
    OfferUpdated {
        offer: u64,
        /// The revision a take must now name.
        revision: u64,
    },
    /// The offer was withdrawn: what it still held (in `asset`) went back to its maker.
    OfferClosed {
        offer: u64,
        asset: AssetId,
        returned: u128,
    },
    TradeOpened {
        trade: u64,
        offer: u64,
        buyer: AccountId,
        seller: AccountId,
        asset: AssetId,
        amount: u128,
    },
    TradeStateChanged {
        trade: u64,
        state: TradeState,
    },
    /// Escrow paid out when a trade ends.
    Settled {
        trade: u64,
        to_buyer: u128,
        to_seller: u128,
        to_arbitrator: u128,
    },
    /// The trade needs an arbitrator: one is picked at the start of the first block whose
    /// randomness is the seed of a round after the round of this event's block (a seed nobody
    /// knew when this transaction was sent or ordered), and shows as the trade's `arbitrator`
    /// from then on. The pick belongs to no transaction, so it has no receipt of its own.
    ArbitratorRequested {
        trade: u64,
    },
    /// A dispute ended without a ruling (see `reassign`).
    NoRuling {
        trade: u64,
    },
    ArbitratorRegistered {
        arbitrator: AccountId,
        bond: u128,
    },
    ArbitratorLeaving {
        arbitrator: AccountId,
        bond_free_at_ms: u64,
    },
    BondWithdrawn {
        arbitrator: AccountId,
        bond: u128,
    },
    MessagePosted {
        trade: u64,
        index: u32,
        sender: AccountId,
    },
    KeyRevealed {
        trade: u64,
        by: Party,
        /// The arbitrator the key was sealed to.
        to: AccountId,
    },
    Rated {
        trade: u64,
        rater: AccountId,
        stars: u8,
        /// Whether the rating enters the rated account's average (see `Trade::counted`).
        counted: bool,
    },
    ProfileSet {
        account: AccountId,
    },
}

fn emit(events: &mut Vec<Event>, event: MarketEvent) {
    events.push(Event::Market(event));
}

/// The market's work at the start of every block, before the block's transactions: the
/// arbitrator picks asked for in an earlier round than the one this block's randomness comes
/// from, made with that randomness (see `disputes`). It never fails and has no receipt; what it does shows in the trades it assigns
/// (`Trade::arbitrator`), which clients read through the trade queries.
pub fn begin_block(store: &mut (impl Store + ?Sized), context: &BlockContext) {
    if Db::pending_pick_count(store) == 0 {
        return;
    }
    let params = params::load(store);
    disputes::begin_block(store, &params, context);
}

/// Gives up the waiting arbitrator picks, after `begin_block` failed on a bug: each trade stays
/// disputed with no arbitrator and no pick waiting, so reassign can ask again and the dispute
/// keeps its exits. Only reads and writes records; it cannot fail.
pub fn abandon_picks(store: &mut (impl Store + ?Sized)) {
    for pick in Db::pending_picks(store) {
        if let Some(mut trade) = Db::trade(store, pick.trade) {
            trade.arbitrator_pending = false;
            Db::put_trade(store, &trade);
        }
    }
    Db::put_pending_picks(store, Vec::new());
}

/// Runs one market call for `signer`. On error the caller discards every write made here.
pub fn execute(
    store: &mut (impl Store + ?Sized),
    context: &BlockContext,
    signer: &AccountId,
    call: &MarketCall,
    events: &mut Vec<Event>,
) -> Result<(), MarketError> {
    let params = params::load(store);
    let now = context.timestamp_ms;
    match call {
        MarketCall::CreateOffer(create) => {
            offers::create(store, &params, now, signer, create, events)
        }
        MarketCall::UpdateOffer(update) => offers::update(store, &params, signer, update, events),
        MarketCall::CancelOffer(r) => offers::cancel(store, signer, r.offer, events),
        MarketCall::TakeOffer(take) => trades::take(store, &params, now, signer, take, events),
        MarketCall::MarkPaid(paid) => trades::mark_paid(store, &params, now, signer, paid, events),
        MarketCall::Release(r) => trades::release(store, &params, context, signer, r.trade, events),
        MarketCall::CancelTrade(r) => trades::cancel(store, context, signer, r.trade, events),
        MarketCall::ClaimTimeout(r) => {
            trades::claim_timeout(store, context, signer, r.trade, events)
        }
        MarketCall::OpenDispute(open) => {
            disputes::open(store, &params, context, signer, open, events)
        }
        MarketCall::Rule(rule) => disputes::rule(store, context, signer, rule, events),
        MarketCall::Reassign(r) => disputes::reassign(store, context, r.trade, events),
        MarketCall::RegisterArbitrator(register) => {
            disputes::register(store, &params, now, context.round, signer, register, events)
        }
        MarketCall::UnregisterArbitrator(_) => {
            disputes::unregister(store, &params, now, context.round, signer, events)
        }
        MarketCall::WithdrawBond(_) => disputes::withdraw_bond(store, now, signer, events),
        MarketCall::PostMessage(post) => social::post(store, &params, now, signer, post, events),
        MarketCall::RevealKey(reveal) => social::reveal(store, signer, reveal, events),
        MarketCall::Rate(rate) => social::rate(store, signer, rate, events),
        MarketCall::SetProfile(profile) => social::set_profile(store, signer, profile, events),
    }
}

/// `amount * bps / 10_000`, rounded up: what a party must put down as a deposit. The product
/// is taken in 256 bits, so only a result above `u128::MAX` is refused.
pub(crate) fn bps_up(amount: u128, bps: u16) -> Option<u128> {
    crate::math::mul_div_ceil(amount, u128::from(bps), params::BPS)
}

/// `amount * bps / 10_000`, rounded down: what a party is paid at most (256-bit product).
pub(crate) fn bps_down(amount: u128, bps: u16) -> Option<u128> {
    crate::math::mul_div_floor(amount, u128::from(bps), params::BPS)
}

/// Registers an arbitrator written into the genesis file, locking its bond.
pub fn register_at_genesis(
    store: &mut (impl Store + ?Sized),
    arbitrator: &crate::genesis::GenesisArbitrator,
    now: u64,
) -> Result<(), MarketError> {
    let params = params::load(store);
    let mut events = Vec::new();
    disputes::register(
        store,
        &params,
        now,
        0,
        &arbitrator.account,
        &types::market::RegisterArbitrator {
            bond: arbitrator.bond,
            fee_bps: arbitrator.fee_bps,
            languages: arbitrator.languages.clone(),
        },
        &mut events,
    )
}
