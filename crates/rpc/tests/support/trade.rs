//! A whole trade on an open offer, as the offer-book tests run it.

use ledger::{
    market::{Db, Offer},
    testing::TestChain,
};
use types::{Call, market::*};

/// `taker` takes `offer` (made by account `maker`) for its smallest amount; then, unless
/// `take_only`, the buyer marks it paid and the seller releases. A refused step ends it there.
pub fn trade(chain: &mut TestChain, offer: &Offer, maker: u64, taker: u64, take_only: bool) {
    let take = MarketCall::TakeOffer(TakeOffer {
        offer: offer.id,
        revision: offer.revision,
        amount: offer.min_amount.min(offer.max_amount),
        method: offer.methods[0].clone(),
    });
    if !chain.submit(taker, Call::Market(take)).is_success() || take_only {
        return;
    }
    let trade = Db::last_trade_id(&chain.store);
    let (buyer, seller) = match offer.side {
        Side::Sell => (taker, maker),
        Side::Buy => (maker, taker),
    };
    let paid = MarketCall::MarkPaid(MarkPaid {
        trade,
        payer_commitment: None,
    });
    if chain.submit(buyer, Call::Market(paid)).is_success() {
        chain.submit(
            seller,
            Call::Market(MarketCall::Release(TradeRef { trade })),
        );
    }
}
