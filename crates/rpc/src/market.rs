//! Market views and queries: the offer book, trades and their chat, arbitrators and reputation.
//!
//! Every query reads one finalized ledger state. Amounts come as [`Money`] (decimal text and
//! minor units) and fiat as [`FiatMoney`], so no client rounds them through a float.

use crate::views::{Money, asset_ref, parse_decimal};
use ledger::{
    Store,
    lending::{self, CreditHistory},
    market::{
        self, Arbitrator, Db, MarketParams, Offer, Standing, Trade, TradeState,
        queries::OfferFilter,
    },
};
use serde::{Deserialize, Serialize};
use types::{
    AccountId,
    market::{Fiat, Party, PaymentMethod, Side},
};

/// Fiat amounts are kept in minor units with two decimals (the registry's limits assume it).
pub const FIAT_DECIMALS: u8 = 2;

/// A day in milliseconds: account ages are shown in whole days.
pub const DAY_MS: u64 = 86_400_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FiatMoney {
    pub currency: String,
    /// Decimal text, for example "1250.00".
    pub amount: String,
    pub minor_units: String,
}

impl FiatMoney {
    pub fn new(fiat: &Fiat, minor: u128) -> Self {
        Self {
            currency: fiat.to_string(),
            amount: types::amount::format_fixed(minor, FIAT_DECIMALS),
            minor_units: minor.to_string(),
        }
    }
}

pub fn side_name(side: Side) -> &'static str {
    match side {
        Side::Sell => "sell",
        Side::Buy => "buy",
    }
}

pub fn parse_side(text: &str) -> Result<Side, String> {
    match text.to_ascii_lowercase().as_str() {
        "sell" => Ok(Side::Sell),
        "buy" => Ok(Side::Buy),
        _ => Err(format!("side must be \"buy\" or \"sell\", not {text:?}")),
    }
}

pub fn party_name(party: Party) -> &'static str {
    match party {
        Party::Buyer => "buyer",
        Party::Seller => "seller",
    }
}

pub fn trade_state_name(state: TradeState) -> &'static str {
    match state {
        TradeState::AwaitingPayment => "awaiting_payment",
        TradeState::Paid => "paid",
        TradeState::Completed => "completed",
        TradeState::Cancelled => "cancelled",
        TradeState::TimedOut => "timed_out",
        TradeState::Disputed => "disputed",
        TradeState::Resolved => "resolved",
    }
}

/// A payment method as shown to people: its registry code and name, or the free text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MethodView {
    /// The registry code ("SEPA", "PIX", ...), or "CUSTOM".
    pub code: String,
    pub name: String,
    /// The registry index, absent for free-text methods.
    pub index: Option<u16>,
    /// "very_low", "low", "mid", "high"; free-text methods are treated as the riskiest.
    pub risk: String,
    pub min_window_secs: u32,
    /// The largest trade for an account with few completed trades.
    pub new_account_limit: String,
    /// The currencies it pays in (empty for any); listed in the registry only, not repeated in
    /// every offer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub currencies: Vec<String>,
}

fn risk_name(risk: u8) -> &'static str {
    match risk {
        0 => "very_low",
        1 => "low",
        2 => "mid",
        _ => "high",
    }
}

impl MethodView {
    pub fn new(params: &MarketParams, method: &PaymentMethod) -> Self {
        match (method, params.method(method)) {
            (PaymentMethod::Registered(index), Some(info)) => Self {
                code: info.code.to_string(),
                name: info.name.to_string(),
                index: Some(*index),
                risk: risk_name(info.risk).to_string(),
                min_window_secs: info.min_window_secs,
                new_account_limit: types::amount::format_fixed(
                    info.new_account_limit,
                    FIAT_DECIMALS,
                ),
                currencies: Vec::new(),
            },
            (PaymentMethod::Registered(index), None) => Self {
                code: format!("#{index}"),
                name: format!("unknown method {index}"),
                index: Some(*index),
                risk: "high".into(),
                min_window_secs: 0,
                new_account_limit: "0.00".into(),
                currencies: vec![],
            },
            (PaymentMethod::Custom(text), _) => Self {
                code: "CUSTOM".into(),
                name: text.to_string(),
                index: None,
                risk: "high".into(),
                min_window_secs: params.min_payment_window_secs,
                new_account_limit: types::amount::format_fixed(
                    params.custom_method_limit,
                    FIAT_DECIMALS,
                ),
                currencies: vec![],
            },
        }
    }

    /// Every registered method, with its currencies.
    pub fn registry(params: &MarketParams) -> Vec<Self> {
        params
            .methods
            .iter()
            .enumerate()
            .filter_map(|(index, info)| Some((u16::try_from(index).ok()?, info)))
            .map(|(index, info)| Self {
                currencies: info.currencies.iter().map(Fiat::to_string).collect(),
                ..Self::new(params, &PaymentMethod::Registered(index))
            })
            .collect()
    }
}

/// Finds a registered method by its code (case-insensitive) among the registry's `codes`, in
/// registry order; free text must be written "custom:<text>".
pub fn parse_method<'a>(
    codes: impl IntoIterator<Item = &'a str>,
    text: &str,
) -> Result<PaymentMethod, String> {
    if let Some(index) = codes
        .into_iter()
        .position(|code| code.eq_ignore_ascii_case(text))
    {
        return Ok(PaymentMethod::Registered(
            u16::try_from(index).expect("at most 256 methods"),
        ));
    }
    let custom = text.strip_prefix("custom:").ok_or_else(|| {
        format!(
            "unknown payment method {text:?}: use a registry code such as SEPA or PIX \
             (see `equa market methods`), or free text as \"custom:<description>\""
        )
    })?;
    types::Text::new(custom)
        .map(PaymentMethod::Custom)
        .map_err(|e| format!("custom payment method: {e}"))
}

/// An account's standing as shown next to its offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StandingView {
    pub tier: u8,
    pub tier_name: String,
    /// Every completed trade, whether it counts or not.
    pub completed_trades: u32,
    /// Completed trades that count toward tiers and the new-account limits: marked paid before
    /// release and worth at least the market's minimum. Rates are over these.
    pub counted_trades: u32,
    /// Distinct accounts traded with in counted trades.
    pub counterparties: u32,
    /// The fiat value of the counted trades, summed across currencies, decimal with two
    /// decimals.
    pub counted_volume: String,
    /// Completion rate in percent with two decimals, for example "98.50".
    pub completion_rate: String,
    pub dispute_loss_rate: String,
    /// Mean rating, for example "4.75"; absent before the first rating.
    pub rating: Option<String>,
    pub ratings: u32,
    pub account_age_days: u64,
    pub median_release_secs: Option<u64>,
    /// EQA bonded as an arbitrator, in minor units.
    pub bonded: String,
}

fn percent(bps: u16) -> String {
    types::amount::format_fixed(u128::from(bps), 2)
}

impl StandingView {
    pub fn new(params: &MarketParams, standing: &Standing) -> Self {
        Self {
            tier: standing.tier,
            tier_name: params.tier_name(standing.tier),
            completed_trades: standing.completed,
            counted_trades: standing.counted,
            counterparties: standing.counterparties,
            counted_volume: types::amount::format_fixed(standing.counted_volume, FIAT_DECIMALS),
            completion_rate: percent(standing.completion_bps),
            dispute_loss_rate: percent(standing.dispute_loss_bps),
            rating: (standing.ratings > 0)
                .then(|| types::amount::format_fixed(u128::from(standing.rating_centistars), 2)),
            ratings: standing.ratings,
            account_age_days: standing.age_ms / DAY_MS,
            median_release_secs: standing.median_release_ms.map(|ms| ms / 1000),
            bonded: standing.bonded.to_string(),
        }
    }

    pub fn read(store: &(impl Store + ?Sized), account: &AccountId) -> Self {
        let params = market::params::load(store);
        let (_, now) = ledger::state::last_block(store);
        Self::new(&params, &market::standing(store, &params, account, now))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OfferView {
    pub id: u64,
    /// The version of the offer's terms: 0 when created, one more at every update. A take names
    /// the revision its taker agreed to and fails if the offer has changed since.
    pub revision: u64,
    pub maker: String,
    pub maker_name: Option<String>,
    pub maker_standing: StandingView,
    pub side: String,
    /// Fiat per one whole unit of the asset.
    pub price: FiatMoney,
    /// The smallest take.
    pub min_amount: Money,
    /// What can still be taken.
    pub max_amount: Money,
    pub methods: Vec<MethodView>,
    pub payment_window_secs: u32,
    /// For each of `methods`, in order: the payment window a trade taken with it gets, the
    /// larger of the offer's window and the method's minimum (the ledger's rule when an offer
    /// is taken, `ledger::market::trades::take`).
    pub trade_window_secs: Vec<u32>,
    pub terms: String,
    pub buyer_deposit_bps: u16,
    pub seller_deposit_bps: u16,
    pub min_taker_trades: u32,
    pub min_taker_tier: u8,
    pub created_ms: u64,
}

impl OfferView {
    pub fn new(store: &(impl Store + ?Sized), params: &MarketParams, offer: &Offer) -> Self {
        let (_, now) = ledger::state::last_block(store);
        Self {
            id: offer.id,
            revision: offer.revision,
            maker: offer.maker.to_string(),
            maker_name: Db::profile(store, &offer.maker).map(|p| p.name.to_string()),
            maker_standing: StandingView::new(
                params,
                &market::standing(store, params, &offer.maker, now),
            ),
            side: side_name(offer.side).into(),
            price: FiatMoney::new(&offer.fiat, offer.price),
            min_amount: Money::read(store, offer.asset, offer.min_amount.min(offer.max_amount)),
            max_amount: Money::read(store, offer.asset, offer.max_amount),
            methods: offer
                .methods
                .iter()
                .map(|m| MethodView::new(params, m))
                .collect(),
            payment_window_secs: offer.payment_window_secs,
            trade_window_secs: offer
                .methods
                .iter()
                .map(|m| {
                    let minimum = params.method(m).map_or(0, |info| info.min_window_secs);
                    offer.payment_window_secs.max(minimum)
                })
                .collect(),
            terms: offer.terms.to_string(),
            buyer_deposit_bps: offer.buyer_deposit_bps,
            seller_deposit_bps: offer.seller_deposit_bps,
            min_taker_trades: offer.min_taker_trades,
            min_taker_tier: offer.min_taker_tier,
            created_ms: offer.created_ms,
        }
    }
}

/// What a client asks of the offer book; every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct OfferQuery {
    /// "buy" or "sell": the maker's side.
    pub side: Option<String>,
    /// Asset symbol or id.
    pub asset: Option<String>,
    /// ISO 4217 code.
    pub fiat: Option<String>,
    /// A registry code such as "SEPA".
    pub method: Option<String>,
    /// Offers that can fill this amount (decimal, in the asset; needs `asset`).
    pub amount: Option<String>,
    /// Fiat per whole unit, decimal.
    pub min_price: Option<String>,
    pub max_price: Option<String>,
    pub maker: Option<String>,
    /// At most this many (default and maximum [`MAX_PAGE`]).
    pub limit: Option<u32>,
    /// Skip this many of the sorted results.
    pub offset: Option<u32>,
}

/// The most results one query returns.
pub const MAX_PAGE: u32 = 500;

impl OfferQuery {
    /// The ledger filter this query asks for, or what is wrong with it.
    pub fn filter(&self, store: &(impl Store + ?Sized)) -> Result<OfferFilter, String> {
        let params = market::params::load(store);
        let asset = self
            .asset
            .as_deref()
            .map(|text| asset_ref(store, text))
            .transpose()?;
        let fiat_price = |text: &str| parse_decimal(text, FIAT_DECIMALS, "price");
        Ok(OfferFilter {
            side: self.side.as_deref().map(parse_side).transpose()?,
            asset: asset.map(|(id, _)| id),
            fiat: self
                .fiat
                .as_deref()
                .map(|f| Fiat::new(f).map_err(|e| e.to_string()))
                .transpose()?,
            method: match self.method.as_deref() {
                None => None,
                Some(text) => {
                    match parse_method(params.methods.iter().map(|m| m.code.as_str()), text)? {
                        PaymentMethod::Registered(index) => Some(index),
                        PaymentMethod::Custom(_) => {
                            return Err("filter by a registered payment method".into());
                        }
                    }
                }
            },
            amount: match (self.amount.as_deref(), asset) {
                (None, _) => None,
                (Some(text), Some((_, decimals))) => Some(parse_decimal(text, decimals, "amount")?),
                (Some(_), None) => return Err("an amount filter needs an asset".into()),
            },
            min_price: self.min_price.as_deref().map(fiat_price).transpose()?,
            max_price: self.max_price.as_deref().map(fiat_price).transpose()?,
        })
    }

    /// The page of offers this query asks for (see [`crate::book`] for the order). Reads the
    /// whole book: a server answering many queries keeps a [`crate::book::BookCache`] instead.
    pub fn run(&self, store: &ledger::MemoryStore) -> Result<Vec<OfferView>, String> {
        let page = crate::book::OfferBook::read(store).page(store, self)?;
        Ok(page
            .0
            .iter()
            .map(|raw| serde_json::from_str(raw.get()).expect("a view reads back"))
            .collect())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TradeView {
    pub id: u64,
    pub offer: u64,
    pub maker: String,
    pub buyer: String,
    pub seller: String,
    pub state: String,
    pub amount: Money,
    pub price: FiatMoney,
    /// What the buyer pays off-ledger (rounded up).
    pub fiat_amount: FiatMoney,
    pub method: MethodView,
    pub buyer_deposit: Money,
    pub seller_deposit: Money,
    pub created_ms: u64,
    pub payment_deadline_ms: u64,
    pub paid_ms: Option<u64>,
    /// After this the buyer may open a dispute if the seller has not released.
    pub release_deadline_ms: u64,
    pub disputed_ms: Option<u64>,
    pub dispute_opened_by: Option<String>,
    /// Why the dispute was opened: its name (for example "wrong-amount") and the same in words.
    pub dispute_reason: Option<String>,
    pub dispute_reason_text: Option<String>,
    /// The opener's public note, if it wrote one.
    pub dispute_note: Option<String>,
    pub arbitrator: Option<String>,
    /// The parties ("buyer", "seller") that revealed the chat to the arbitrator now assigned.
    pub chat_revealed_by: Vec<String>,
    /// True while the arbitrator of a new or reassigned dispute waits to be picked (by lot, within
    /// a few blocks: see `ledger::market::begin_block`).
    pub arbitrator_pending: bool,
    /// While disputed: the arbitrator must rule by then (or anyone may reassign); with nobody
    /// assigned, the dispute ends without a ruling if still nobody can take it after then.
    pub ruling_deadline_ms: Option<u64>,
    pub messages: u32,
    pub rated_by_buyer: bool,
    pub rated_by_seller: bool,
    pub settled_ms: Option<u64>,
    /// The next step each party can take now, in words.
    pub next: Vec<String>,
}

impl TradeView {
    pub fn new(store: &(impl Store + ?Sized), trade: &Trade) -> Self {
        let params = market::params::load(store);
        let (_, now) = ledger::state::last_block(store);
        Self {
            id: trade.id,
            offer: trade.offer,
            maker: trade.maker.to_string(),
            buyer: trade.buyer.to_string(),
            seller: trade.seller.to_string(),
            state: trade_state_name(trade.state).into(),
            amount: Money::read(store, trade.asset, trade.amount),
            price: FiatMoney::new(&trade.fiat, trade.price),
            fiat_amount: FiatMoney::new(&trade.fiat, trade.fiat_amount),
            method: MethodView::new(&params, &trade.method),
            buyer_deposit: Money::read(store, trade.asset, trade.buyer_deposit),
            seller_deposit: Money::read(store, trade.asset, trade.seller_deposit),
            created_ms: trade.created_ms,
            payment_deadline_ms: trade.payment_deadline_ms,
            paid_ms: trade.paid_ms,
            release_deadline_ms: trade.release_deadline_ms,
            disputed_ms: trade.disputed_ms,
            dispute_opened_by: trade.dispute_opened_by.map(|p| party_name(p).into()),
            dispute_reason: trade.dispute_reason.map(|r| r.name().into()),
            dispute_reason_text: trade.dispute_reason.map(|r| r.words().into()),
            dispute_note: (!trade.dispute_note.as_str().is_empty())
                .then(|| trade.dispute_note.to_string()),
            arbitrator: trade.arbitrator.map(|a| a.to_string()),
            chat_revealed_by: [Party::Buyer, Party::Seller]
                .into_iter()
                .filter(|party| {
                    trade.arbitrator.is_some_and(|arbitrator| {
                        Db::revealed(store, trade.id, *party, &arbitrator).is_some()
                    })
                })
                .map(|party| party_name(party).into())
                .collect(),
            arbitrator_pending: trade.arbitrator_pending,
            ruling_deadline_ms: (trade.state == TradeState::Disputed)
                .then_some(trade.ruling_deadline_ms),
            messages: trade.messages,
            rated_by_buyer: trade.rated_by_buyer,
            rated_by_seller: trade.rated_by_seller,
            settled_ms: trade.settled_ms,
            next: next_steps(trade, now),
        }
    }
}

/// What each party may do next, by the rules of the trade's state at `now`.
fn next_steps(trade: &Trade, now: u64) -> Vec<String> {
    let mut steps = Vec::new();
    match trade.state {
        TradeState::AwaitingPayment => {
            if now > trade.payment_deadline_ms {
                steps.push(
                    "buyer: cancel (the payment window has passed: the deposit goes to the \
                     seller, as in a timeout)"
                        .into(),
                );
                steps.push("seller: claim the timeout (the payment window has passed)".into());
            } else {
                steps.push("buyer: pay the fiat off-ledger, then mark paid".into());
                steps.push("buyer: cancel".into());
            }
        }
        TradeState::Paid => {
            steps.push("seller: release once the fiat has arrived".into());
            steps.push("seller: open a dispute".into());
            if now > trade.release_deadline_ms {
                steps.push("buyer: open a dispute (the release window has passed)".into());
            }
        }
        TradeState::Disputed => {
            let passed = now > trade.ruling_deadline_ms;
            if trade.arbitrator_pending {
                steps.push(
                    "anyone: wait for the arbitrator, picked by lot within a few blocks".into(),
                );
            } else if trade.arbitrator.is_some() {
                steps.push("arbitrator: rule".into());
                if passed {
                    steps.push("anyone: reassign (the ruling window has passed)".into());
                }
            } else if passed {
                steps.push(
                    "anyone: reassign (nobody took the case in time: it goes to an arbitrator \
                     who can take it now, or ends without a ruling)"
                        .into(),
                );
            } else {
                steps.push(
                    "anyone: reassign once an arbitrator who can take the case has registered"
                        .into(),
                );
            }
        }
        TradeState::Completed
        | TradeState::Cancelled
        | TradeState::TimedOut
        | TradeState::Resolved => {
            if !trade.rated_by_buyer {
                steps.push("buyer: rate the seller".into());
            }
            if !trade.rated_by_seller {
                steps.push("seller: rate the buyer".into());
            }
        }
    }
    steps
}

/// Trades `account` is a party to (or arbitrates): every trade still open first, then the
/// finished ones, each newest first, at most `MAX_PAGE` in all. Open trades hold money, so many
/// finished trades (which anyone can make with an account by taking its offers) never push one
/// off the page.
pub fn trades_of(store: &ledger::MemoryStore, account: &AccountId) -> Vec<TradeView> {
    let (open, finished): (Vec<_>, Vec<_>) =
        ledger::index::ids(store, account, ledger::index::Kind::Trade)
            .rev()
            .filter_map(|id| Db::trade(store, id))
            .filter(|t| {
                &t.buyer == account || &t.seller == account || t.arbitrator == Some(*account)
            })
            .partition(|t| !t.state.is_final());
    open.into_iter()
        .chain(finished)
        .take(MAX_PAGE as usize)
        .map(|t| TradeView::new(store, &t))
        .collect()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MessageView {
    pub index: u32,
    pub sender: String,
    pub at_ms: u64,
    /// The sealed message, hex.
    pub ciphertext: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatView {
    pub trade: u64,
    /// The X25519 chat keys of the parties (and the arbitrator, once assigned), hex.
    pub buyer_key: Option<String>,
    pub seller_key: Option<String>,
    pub arbitrator_key: Option<String>,
    /// Conversation keys the parties revealed to the arbitrator now assigned (sealed to its chat
    /// key), hex. Keys revealed to an arbitrator the dispute was taken away from are not shown:
    /// only that arbitrator could open them.
    pub revealed_by_buyer: Option<String>,
    pub revealed_by_seller: Option<String>,
    pub messages: Vec<MessageView>,
}

impl ChatView {
    pub fn read(store: &(impl Store + ?Sized), trade: &Trade, from: u32) -> Self {
        let key =
            |account: &AccountId| Db::profile(store, account).map(|p| hex::encode(p.chat_key));
        let revealed = |party| {
            trade
                .arbitrator
                .and_then(|arbitrator| Db::revealed(store, trade.id, party, &arbitrator))
                .map(hex::encode)
        };
        Self {
            trade: trade.id,
            buyer_key: key(&trade.buyer),
            seller_key: key(&trade.seller),
            arbitrator_key: trade.arbitrator.as_ref().and_then(key),
            revealed_by_buyer: revealed(Party::Buyer),
            revealed_by_seller: revealed(Party::Seller),
            messages: (from..trade.messages)
                .filter_map(|index| {
                    Db::message(store, trade.id, index).map(|m| MessageView {
                        index,
                        sender: m.sender.to_string(),
                        at_ms: m.at_ms,
                        ciphertext: hex::encode(&m.ciphertext),
                    })
                })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ArbitratorView {
    pub account: String,
    pub name: Option<String>,
    pub bond: Money,
    pub fee_bps: u16,
    pub languages: String,
    pub registered_ms: u64,
    /// Set once the arbitrator asked to leave.
    pub leaving_at_ms: Option<u64>,
    pub open_cases: u32,
    pub cases: u32,
    pub rulings: u32,
    pub reassignments: u32,
    pub median_ruling_secs: Option<u64>,
}

impl ArbitratorView {
    pub fn new(store: &(impl Store + ?Sized), arbitrator: &Arbitrator) -> Self {
        Self {
            account: arbitrator.account.to_string(),
            name: Db::profile(store, &arbitrator.account).map(|p| p.name.to_string()),
            bond: Money::read(store, types::AssetId::NATIVE, arbitrator.bond),
            fee_bps: arbitrator.fee_bps,
            languages: arbitrator.languages.to_string(),
            registered_ms: arbitrator.registered_ms,
            leaving_at_ms: arbitrator.leaving_at_ms,
            open_cases: arbitrator.open_cases,
            cases: arbitrator.cases,
            rulings: arbitrator.rulings,
            reassignments: arbitrator.reassignments,
            median_ruling_secs: market::reputation::median(&arbitrator.recent_ruling_ms)
                .map(|ms| ms / 1000),
        }
    }

    pub fn all(store: &(impl Store + ?Sized)) -> Vec<Self> {
        Db::arbitrators(store)
            .iter()
            .filter_map(|account| Db::arbitrator(store, account))
            .map(|a| Self::new(store, &a))
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreditHistoryView {
    pub loans: u32,
    pub repaid_on_time: u32,
    pub repaid_late: u32,
    pub late_payments: u32,
    pub defaults: u32,
    /// Per asset: principal borrowed and everything repaid.
    pub borrowed: Vec<Money>,
    pub repaid: Vec<Money>,
}

impl CreditHistoryView {
    pub fn new(store: &(impl Store + ?Sized), history: &CreditHistory) -> Self {
        Self {
            loans: history.loans,
            repaid_on_time: history.repaid_on_time,
            repaid_late: history.repaid_late,
            late_payments: history.late_payments,
            defaults: history.defaults,
            borrowed: history
                .amounts
                .iter()
                .map(|(asset, borrowed, _)| Money::read(store, *asset, *borrowed))
                .collect(),
            repaid: history
                .amounts
                .iter()
                .map(|(asset, _, repaid)| Money::read(store, *asset, *repaid))
                .collect(),
        }
    }
}

/// Everything the ledger says about an account's conduct.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReputationView {
    pub account: String,
    pub name: Option<String>,
    /// The account's X25519 chat key, hex, once it has set a profile.
    pub chat_key: Option<String>,
    pub standing: StandingView,
    pub completed_as_buyer: u32,
    pub completed_as_seller: u32,
    pub cancellations: u32,
    pub timeouts: u32,
    pub disputes_opened: u32,
    pub disputes_won: u32,
    pub disputes_lost: u32,
    /// Volume traded per asset.
    pub volume: Vec<Money>,
    pub credit: CreditHistoryView,
}

impl ReputationView {
    pub fn read(store: &(impl Store + ?Sized), account: &AccountId) -> Self {
        let reputation = Db::reputation(store, account);
        let profile = Db::profile(store, account);
        Self {
            account: account.to_string(),
            name: profile.as_ref().map(|p| p.name.to_string()),
            chat_key: profile.as_ref().map(|p| hex::encode(p.chat_key)),
            standing: StandingView::read(store, account),
            completed_as_buyer: reputation.completed_as_buyer,
            completed_as_seller: reputation.completed_as_seller,
            cancellations: reputation.cancellations,
            timeouts: reputation.timeouts,
            disputes_opened: reputation.disputes_opened,
            disputes_won: reputation.disputes_won,
            disputes_lost: reputation.disputes_lost,
            volume: reputation
                .volume
                .iter()
                .map(|(asset, amount)| Money::read(store, *asset, *amount))
                .collect(),
            credit: CreditHistoryView::new(store, &lending::Db::history(store, account)),
        }
    }
}

/// The market's rules as a client needs them to build calls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MarketParamsView {
    pub methods: Vec<MethodView>,
    /// A buyer with fewer counted trades than this, or fewer distinct counterparties in them
    /// than `new_account_counterparties`, is held to the methods' new-account limits.
    pub new_account_trades: u32,
    pub new_account_counterparties: u32,
    /// The smallest trade that counts toward reputation, fiat decimal with two decimals.
    pub min_counted_trade_value: String,
    pub min_deposit_bps: u16,
    pub max_deposit_bps: u16,
    pub min_payment_window_secs: u32,
    pub max_payment_window_secs: u32,
    pub release_window_secs: u32,
    pub ruling_window_secs: u32,
    pub min_arbitrator_bond: Money,
    pub max_arbitrator_fee_bps: u16,
    /// The most messages each author (buyer, seller, each arbitrator) may post to a trade.
    pub max_messages_per_author: u32,
    pub tiers: Vec<String>,
}

impl MarketParamsView {
    pub fn read(store: &(impl Store + ?Sized)) -> Self {
        let params = market::params::load(store);
        Self {
            methods: MethodView::registry(&params),
            new_account_trades: params.new_account_trades,
            new_account_counterparties: params.new_account_counterparties,
            min_counted_trade_value: types::amount::format_fixed(
                params.min_counted_trade_value,
                FIAT_DECIMALS,
            ),
            min_deposit_bps: params.min_deposit_bps,
            max_deposit_bps: params.max_deposit_bps,
            min_payment_window_secs: params.min_payment_window_secs,
            max_payment_window_secs: params.max_payment_window_secs,
            release_window_secs: params.release_window_secs,
            ruling_window_secs: params.ruling_window_secs,
            min_arbitrator_bond: Money::read(
                store,
                types::AssetId::NATIVE,
                params.min_arbitrator_bond,
            ),
            max_arbitrator_fee_bps: params.max_arbitrator_fee_bps,
            max_messages_per_author: params.max_messages_per_author,
            tiers: (0..=params.tiers.len())
                .filter_map(|t| u8::try_from(t).ok())
                .map(|t| params.tier_name(t))
                .collect(),
        }
    }
}
