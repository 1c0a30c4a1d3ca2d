//! Generators of market calls: offers, takes, the trade lifecycle, disputes and arbitrators,
//! chat, ratings and profiles.

use super::generate::Ctx;
use crate::market::{Offer, Trade, TradeState};
use types::{
    AssetId, Call, Text,
    market::{
        CreateOffer, DisputeReason, Fiat, MarkPaid, MarketCall, Nothing, OfferRef, OpenDispute,
        Party, PaymentMethod, PostMessage, Rate, RegisterArbitrator, RevealKey, Rule, SetProfile,
        Side, TakeOffer, TradeRef, UpdateOffer,
    },
};

fn eur() -> Fiat {
    Fiat::new("EUR").expect("a valid code")
}

/// Registered methods that pay in euros.
fn euro_methods(ctx: &Ctx) -> Vec<PaymentMethod> {
    let fiat = eur();
    ctx.view
        .market
        .methods
        .iter()
        .enumerate()
        .filter(|(_, info)| info.currencies.is_empty() || info.currencies.contains(&fiat))
        .filter_map(|(index, _)| u16::try_from(index).ok().map(PaymentMethod::Registered))
        .collect()
}

fn custom() -> PaymentMethod {
    PaymentMethod::Custom(Text::new("cash by post").expect("short"))
}

/// One to three distinct euro methods (sometimes a free-text one); at an edge, a duplicate, an
/// unknown index or another currency's method.
fn methods(ctx: &mut Ctx) -> Vec<PaymentMethod> {
    let euro = euro_methods(ctx);
    let count = 1 + ctx.dice.below(3);
    let mut methods = Vec::new();
    for _ in 0..count {
        let method = if ctx.edgy() {
            match ctx.dice.below(3) {
                0 => PaymentMethod::Registered(ctx.dice.below(60) as u16),
                1 => PaymentMethod::Registered(u16::MAX),
                _ => methods.first().cloned().unwrap_or_else(custom),
            }
        } else if ctx.dice.chance(10) {
            custom()
        } else {
            ctx.dice.pick(&euro).cloned().unwrap_or_else(custom)
        };
        if !methods.contains(&method) || ctx.sloppy {
            methods.push(method);
        }
    }
    methods
}

fn price(ctx: &mut Ctx) -> u128 {
    if ctx.edgy() {
        ctx.dice.edge(&[100, u128::MAX / 2])
    } else {
        ctx.dice.between(20, 300)
    }
}

fn window_secs(ctx: &mut Ctx) -> u32 {
    let (min, max) = (
        ctx.view.market.min_payment_window_secs,
        ctx.view.market.max_payment_window_secs,
    );
    if ctx.edgy() {
        return *ctx
            .dice
            .pick(&[min.saturating_sub(1), min, max, max.saturating_add(1), 0])
            .expect("not empty");
    }
    ctx.dice
        .between(u128::from(min), u128::from(min.saturating_mul(8).min(max))) as u32
}

fn deposit_bps(ctx: &mut Ctx) -> u16 {
    let (min, max) = (
        ctx.view.market.min_deposit_bps,
        ctx.view.market.max_deposit_bps,
    );
    if ctx.edgy() {
        return *ctx
            .dice
            .pick(&[
                min.saturating_sub(1),
                min,
                max,
                max.saturating_add(1),
                u16::MAX,
            ])
            .expect("not empty");
    }
    ctx.dice.between(u128::from(min), u128::from(max)) as u16
}

fn pick_offer<'v>(ctx: &mut Ctx<'v>) -> (u64, Option<&'v Offer>) {
    let view: &'v super::view::View = ctx.view;
    let live: Vec<u64> = view.offers.iter().map(|o| o.id).collect();
    let last = crate::market::Db::last_offer_id(ctx.store);
    let id = ctx.id(ctx.focus.offer, &live, &live, last);
    (id, view.offers.iter().find(|o| o.id == id))
}

/// A trade, preferably one in `states` and, when `open` is given, one whose deadline it names
/// has not passed.
fn pick_trade<'v>(
    ctx: &mut Ctx<'v>,
    states: &[TradeState],
    open: Option<fn(&Trade) -> u64>,
) -> (u64, Option<&'v Trade>) {
    let view: &'v super::view::View = ctx.view;
    let now = ctx.now();
    let all: Vec<u64> = view.trades.iter().map(|t| t.id).collect();
    let mut wanted: Vec<u64> = view
        .trades
        .iter()
        .filter(|t| states.is_empty() || states.contains(&t.state))
        .filter(|t| open.is_none_or(|deadline| deadline(t) >= now))
        .map(|t| t.id)
        .collect();
    if wanted.is_empty() {
        wanted = view
            .trades
            .iter()
            .filter(|t| states.contains(&t.state))
            .map(|t| t.id)
            .collect();
    }
    let last = crate::market::Db::last_trade_id(ctx.store);
    let id = ctx.id(ctx.focus.trade, &wanted, &all, last);
    (id, view.trades.iter().find(|t| t.id == id))
}

fn trade_ref(ctx: &mut Ctx, states: &[TradeState], role: Option<Party>) -> (u64, TradeRef) {
    let (id, trade) = pick_trade(ctx, states, None);
    let signer = match (trade, role) {
        (Some(trade), Some(Party::Buyer)) => ctx.signer_for(&trade.buyer),
        (Some(trade), Some(Party::Seller)) => ctx.signer_for(&trade.seller),
        (Some(trade), None) => ctx.signer_among(&[trade.buyer, trade.seller]),
        (None, _) => ctx.actor(),
    };
    (signer, TradeRef { trade: id })
}

fn create(ctx: &mut Ctx) -> (u64, MarketCall) {
    let maker = ctx.actor();
    let asset = ctx.asset();
    let side = if ctx.dice.chance(60) {
        Side::Sell
    } else {
        Side::Buy
    };
    let max_amount = ctx.amount(asset, maker);
    // A Sell offer locks its inventory and a deposit: leave room for the deposit.
    let max_amount = if side == Side::Sell && !ctx.sloppy {
        max_amount.saturating_mul(2) / 3
    } else {
        max_amount
    }
    .max(1);
    let min_amount = if ctx.edgy() {
        *ctx.dice
            .pick(&[0, max_amount, max_amount.saturating_add(1)])
            .expect("not empty")
    } else {
        ctx.dice.between(1, max_amount / 4).max(1)
    };
    let fiat = if ctx.edgy() {
        Fiat::new("SEK").expect("a valid code")
    } else {
        eur()
    };
    let call = CreateOffer {
        side,
        asset,
        fiat,
        price: price(ctx),
        min_amount,
        max_amount,
        methods: methods(ctx),
        payment_window_secs: window_secs(ctx),
        terms: Text::new("be quick").expect("short"),
        buyer_deposit_bps: deposit_bps(ctx),
        seller_deposit_bps: deposit_bps(ctx),
        min_taker_trades: if ctx.edgy() { 1 } else { 0 },
        min_taker_tier: if ctx.edgy() { 1 } else { 0 },
    };
    (maker, MarketCall::CreateOffer(call))
}

fn update(ctx: &mut Ctx) -> (u64, MarketCall) {
    let (id, offer) = pick_offer(ctx);
    let (signer, asset) = match offer {
        Some(offer) => (ctx.signer_for(&offer.maker), offer.asset),
        None => (ctx.actor(), AssetId::NATIVE),
    };
    let max_amount = match offer {
        Some(offer) if ctx.dice.chance(50) => {
            let max = offer.max_amount;
            *ctx.dice
                .pick(&[max, max.saturating_add(1), max.saturating_sub(1), max / 2])
                .expect("not empty")
        }
        _ => ctx.amount(asset, signer),
    }
    .max(1);
    let call = UpdateOffer {
        offer: id,
        price: price(ctx),
        min_amount: ctx.dice.between(1, max_amount / 3).max(1),
        max_amount,
        methods: match offer {
            Some(offer) if ctx.dice.chance(70) => offer.methods.clone(),
            _ => methods(ctx),
        },
        payment_window_secs: window_secs(ctx),
        terms: Text::new("changed").expect("short"),
    };
    (signer, MarketCall::UpdateOffer(call))
}

fn take(ctx: &mut Ctx) -> (u64, MarketCall) {
    let (id, offer) = pick_offer(ctx);
    let Some(offer) = offer else {
        let signer = ctx.actor();
        let amount = ctx.dice.edge(&[1_000_000]);
        let take = TakeOffer {
            offer: id,
            revision: 0,
            amount,
            method: custom(),
        };
        return (signer, MarketCall::TakeOffer(take));
    };
    let taker = ctx.actor_other_than(&offer.maker);
    let smallest = offer.min_amount.min(offer.max_amount);
    let amount = if ctx.edgy() {
        *ctx.dice
            .pick(&[
                smallest.saturating_sub(1),
                offer.max_amount.saturating_add(1),
                0,
                u128::MAX,
            ])
            .expect("not empty")
    } else {
        match ctx.dice.below(5) {
            0 => smallest,
            1 => offer.max_amount,
            _ => ctx.dice.between(smallest, offer.max_amount),
        }
    };
    let revision = if ctx.edgy() {
        *ctx.dice
            .pick(&[
                offer.revision.wrapping_add(1),
                offer.revision.wrapping_sub(1),
            ])
            .expect("not empty")
    } else {
        offer.revision
    };
    let method = match ctx.dice.pick(&offer.methods) {
        Some(method) if !ctx.edgy() => method.clone(),
        _ => methods(ctx).remove(0),
    };
    let take = TakeOffer {
        offer: id,
        revision,
        amount,
        method,
    };
    (taker, MarketCall::TakeOffer(take))
}

fn mark_paid(ctx: &mut Ctx) -> (u64, MarketCall) {
    let open: fn(&Trade) -> u64 = |t| t.payment_deadline_ms;
    let (id, trade) = pick_trade(ctx, &[TradeState::AwaitingPayment], Some(open));
    let signer = match trade {
        Some(trade) => ctx.signer_for(&trade.buyer),
        None => ctx.actor(),
    };
    let payer_commitment = ctx.dice.chance(30).then(|| [ctx.dice.below(3) as u8; 32]);
    let call = MarkPaid {
        trade: id,
        payer_commitment,
    };
    (signer, MarketCall::MarkPaid(call))
}

fn rule(ctx: &mut Ctx) -> (u64, MarketCall) {
    let (id, trade) = pick_trade(ctx, &[TradeState::Disputed], None);
    let (signer, amount) = match trade {
        Some(trade) => {
            let signer = match trade.arbitrator {
                Some(arbitrator) => ctx.signer_for(&arbitrator),
                None => ctx.actor(),
            };
            (signer, trade.amount)
        }
        None => (ctx.actor(), 1),
    };
    let amount_to_buyer = if ctx.edgy() {
        amount.saturating_add(1)
    } else {
        match ctx.dice.below(4) {
            0 => 0,
            1 => amount,
            2 => amount / 2,
            _ => ctx.dice.between(0, amount),
        }
    };
    let at_fault = if ctx.dice.chance(50) {
        Party::Buyer
    } else {
        Party::Seller
    };
    let call = Rule {
        trade: id,
        amount_to_buyer,
        at_fault,
    };
    (signer, MarketCall::Rule(call))
}

fn arbitrator_signer(ctx: &mut Ctx) -> u64 {
    let accounts: Vec<_> = ctx.view.arbitrators.iter().map(|a| a.account).collect();
    ctx.signer_among(&accounts)
}

fn register(ctx: &mut Ctx) -> (u64, MarketCall) {
    let signer = ctx.actor();
    let minimum = ctx.view.market.min_arbitrator_bond;
    let balance = ctx.balance(signer, AssetId::NATIVE);
    let max_fee = ctx.view.market.max_arbitrator_fee_bps;
    let (bond, fee_bps) = if ctx.edgy() {
        (
            ctx.dice.edge(&[minimum, balance]),
            *ctx.dice
                .pick(&[max_fee.saturating_add(1), u16::MAX, 0])
                .expect("not empty"),
        )
    } else {
        (
            ctx.dice.between(minimum, minimum.saturating_mul(2)),
            ctx.dice.between(0, u128::from(max_fee)) as u16,
        )
    };
    let call = RegisterArbitrator {
        bond,
        fee_bps,
        languages: Text::new("en, es").expect("short"),
    };
    (signer, MarketCall::RegisterArbitrator(call))
}

fn post(ctx: &mut Ctx) -> (u64, MarketCall) {
    let live = [
        TradeState::AwaitingPayment,
        TradeState::Paid,
        TradeState::Disputed,
    ];
    let (id, trade) = pick_trade(ctx, &live, None);
    let signer = match trade {
        Some(trade) => {
            let mut accounts = vec![trade.buyer, trade.seller];
            accounts.extend(trade.arbitrator);
            ctx.signer_among(&accounts)
        }
        None => ctx.actor(),
    };
    let length = if ctx.edgy() {
        types::market::MAX_MESSAGE_BYTES
    } else {
        1 + ctx.dice.index(64)
    };
    let ciphertext = (0..length).map(|i| i as u8).collect();
    let call = PostMessage {
        trade: id,
        ciphertext,
    };
    (signer, MarketCall::PostMessage(call))
}

/// A message to the block's focus trade from one of its parties (or its arbitrator): a block
/// of these uses up allowances.
pub fn flood(ctx: &mut Ctx) -> (u64, Call) {
    let id = ctx.focus.trade.unwrap_or(0);
    let trade = ctx.view.trades.iter().find(|t| t.id == id);
    let signer = match trade {
        Some(trade) => {
            let mut accounts = vec![trade.buyer, trade.buyer, trade.seller];
            accounts.extend(trade.arbitrator);
            ctx.signer_among(&accounts)
        }
        None => ctx.actor(),
    };
    let call = PostMessage {
        trade: id,
        ciphertext: vec![1, 2, 3],
    };
    (signer, Call::Market(MarketCall::PostMessage(call)))
}

/// One random market call.
pub fn call(ctx: &mut Ctx) -> (u64, Call) {
    let view = ctx.view;
    let count = |state: TradeState| view.trades.iter().filter(|t| t.state == state).count();
    let (awaiting, paid, disputed) = (
        count(TradeState::AwaitingPayment),
        count(TradeState::Paid),
        count(TradeState::Disputed),
    );
    let finished = view.trades.len() - view.live_trades().count();
    let with = |n: usize, weight: u64| if n > 0 { weight } else { 0 };
    let weights = [
        if view.offers.len() < 3 { 16 } else { 6 },
        with(view.offers.len(), 4),
        with(view.offers.len(), 2),
        with(view.offers.len(), 16),
        with(awaiting, 12),
        with(awaiting + paid, 6),
        with(awaiting, 3),
        with(awaiting, 4),
        with(paid, 8),
        with(disputed, 10),
        with(disputed, 4),
        2,
        1,
        1,
        with(awaiting + paid + disputed, 3),
        with(disputed, 1),
        with(finished, 2),
        1,
    ];
    let (signer, call) = match ctx.dice.weighted(&weights) {
        0 => create(ctx),
        1 => update(ctx),
        2 => {
            let (id, offer) = pick_offer(ctx);
            let signer = match offer {
                Some(offer) => ctx.signer_for(&offer.maker),
                None => ctx.actor(),
            };
            (signer, MarketCall::CancelOffer(OfferRef { offer: id }))
        }
        3 => take(ctx),
        4 => mark_paid(ctx),
        5 => {
            let states = [TradeState::AwaitingPayment, TradeState::Paid];
            let (signer, r) = trade_ref(ctx, &states, Some(Party::Seller));
            (signer, MarketCall::Release(r))
        }
        6 => {
            let (signer, r) = trade_ref(ctx, &[TradeState::AwaitingPayment], Some(Party::Buyer));
            (signer, MarketCall::CancelTrade(r))
        }
        7 => {
            let (signer, r) = trade_ref(ctx, &[TradeState::AwaitingPayment], Some(Party::Seller));
            (signer, MarketCall::ClaimTimeout(r))
        }
        8 => {
            let (signer, r) = trade_ref(ctx, &[TradeState::Paid], None);
            // Either side's reasons, so a reason given by the wrong side is tried as well.
            let reason = *ctx.dice.pick(&DisputeReason::ALL).expect("not empty");
            let open = OpenDispute {
                trade: r.trade,
                reason,
                note: Text::new("see the chat").expect("short"),
            };
            (signer, MarketCall::OpenDispute(open))
        }
        9 => rule(ctx),
        10 => {
            let signer = ctx.actor();
            let (_, r) = trade_ref(ctx, &[TradeState::Disputed], None);
            (signer, MarketCall::Reassign(r))
        }
        11 => register(ctx),
        12 => (
            arbitrator_signer(ctx),
            MarketCall::UnregisterArbitrator(Nothing),
        ),
        13 => (arbitrator_signer(ctx), MarketCall::WithdrawBond(Nothing)),
        14 => post(ctx),
        15 => {
            let (signer, r) = trade_ref(ctx, &[TradeState::Disputed], None);
            let length = 1 + ctx.dice.index(types::market::MAX_REVEALED_KEY_BYTES);
            let call = RevealKey {
                trade: r.trade,
                encrypted_key: vec![7; length],
            };
            (signer, MarketCall::RevealKey(call))
        }
        16 => {
            let states = [
                TradeState::Completed,
                TradeState::Resolved,
                TradeState::TimedOut,
            ];
            let (signer, r) = trade_ref(ctx, &states, None);
            let stars = if ctx.edgy() {
                *ctx.dice.pick(&[0u8, 6, u8::MAX]).expect("not empty")
            } else {
                1 + ctx.dice.below(5) as u8
            };
            (
                signer,
                MarketCall::Rate(Rate {
                    trade: r.trade,
                    stars,
                }),
            )
        }
        _ => {
            let signer = ctx.actor();
            let call = SetProfile {
                chat_key: [signer as u8; 32],
                name: Text::new(format!("actor {signer}")).expect("short"),
            };
            (signer, MarketCall::SetProfile(call))
        }
    };
    (signer, Call::Market(call))
}
