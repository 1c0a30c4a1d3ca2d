//! The market's parameters, fixed at genesis: the payment-method registry with its risk limits,
//! deposit and window bounds, arbitration terms and merchant tiers.

use super::records::table;
use crate::{state, store::Store};
use serde::Deserialize;
use std::{cell::RefCell, sync::Arc};
use types::{
    Text, amount,
    codec::RangeCfg,
    impl_codec,
    market::{Fiat, PaymentMethod},
};

/// The default registry: 50 real methods with their windows and chargeback-risk classes.
pub const DEFAULT_REGISTRY: &str = include_str!("../../data/payment-methods.toml");
/// The most methods a registry may hold.
pub const MAX_METHODS: usize = 256;
/// The most merchant tiers above "New".
pub const MAX_TIERS: usize = 8;
/// Basis points in one whole.
pub const BPS: u128 = 10_000;

/// A registered payment method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodInfo {
    pub code: Text<24>,
    pub name: Text<48>,
    /// Currencies the method pays in; empty for any.
    pub currencies: Vec<Fiat>,
    /// A trade paid with this method gets at least this long to pay.
    pub min_window_secs: u32,
    /// 0 very low, 1 low, 2 mid, 3 high chargeback risk.
    pub risk: u8,
    /// The largest trade, in fiat minor units, for a buyer who is still new: fewer than
    /// `new_account_trades` counted trades, or fewer than `new_account_counterparties`
    /// distinct counterparties in them.
    pub new_account_limit: u128,
}
impl_codec!(MethodInfo {
    code,
    name,
    currencies: (RangeCfg::new(0..=256), ()),
    min_window_secs,
    risk,
    new_account_limit
});

/// A merchant tier: an account reaches it by meeting every threshold. Trades are counted
/// trades only (marked paid before release, worth at least `min_counted_trade_value`), so
/// trades an account makes with itself for show do not lift it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierRule {
    pub name: Text<16>,
    /// Counted trades.
    pub min_trades: u32,
    /// Distinct accounts traded with in counted trades: one person's second account is one.
    pub min_counterparties: u32,
    /// The fiat value of the counted trades, in fiat minor units (two decimals, summed across
    /// currencies).
    pub min_counted_volume: u128,
    pub min_completion_bps: u16,
    pub max_dispute_loss_bps: u16,
    pub min_account_age_ms: u64,
    /// EQA minor units the account has bonded (as an arbitrator).
    pub min_bond: u128,
}
impl_codec!(TierRule {
    name,
    min_trades,
    min_counterparties,
    min_counted_volume,
    min_completion_bps,
    max_dispute_loss_bps,
    min_account_age_ms,
    min_bond
});

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketParams {
    pub methods: Vec<MethodInfo>,
    /// The largest trade paid with a free-text method, in fiat minor units, for anyone.
    pub custom_method_limit: u128,
    /// Below this many counted trades a buyer is held to the methods' new-account limits.
    pub new_account_trades: u32,
    /// ... and also below this many distinct counterparties in those trades.
    pub new_account_counterparties: u32,
    /// The smallest trade, in fiat minor units, that counts toward reputation (tiers, the
    /// new-account limits, ratings), provided it was also marked paid before release.
    pub min_counted_trade_value: u128,
    pub min_deposit_bps: u16,
    pub max_deposit_bps: u16,
    pub min_payment_window_secs: u32,
    pub max_payment_window_secs: u32,
    /// After marking paid, the buyer may open a dispute only once this has passed.
    pub release_window_secs: u32,
    /// An arbitrator must rule within this, or anyone may reassign the dispute.
    pub ruling_window_secs: u32,
    pub min_arbitrator_bond: u128,
    pub max_arbitrator_fee_bps: u16,
    pub arbitrator_cooldown_secs: u32,
    /// The most messages each author (the buyer, the seller, each assigned arbitrator) may post
    /// to one trade.
    pub max_messages_per_author: u32,
    /// Tiers above "New", lowest first.
    pub tiers: Vec<TierRule>,
}
impl_codec!(MarketParams {
    methods: (RangeCfg::new(0..=MAX_METHODS), ()),
    custom_method_limit,
    new_account_trades,
    new_account_counterparties,
    min_counted_trade_value,
    min_deposit_bps,
    max_deposit_bps,
    min_payment_window_secs,
    max_payment_window_secs,
    release_window_secs,
    ruling_window_secs,
    min_arbitrator_bond,
    max_arbitrator_fee_bps,
    arbitrator_cooldown_secs,
    max_messages_per_author,
    tiers: (RangeCfg::new(0..=MAX_TIERS), ())
});

/// New-account limits per risk class, in whole fiat units (very low, low, mid, high).
const NEW_ACCOUNT_LIMITS_WHOLE: [u128; 4] = [5_000, 2_500, 1_000, 500];
const DAY_SECS: u32 = 86_400;
const DAY_MS: u64 = 86_400_000;

impl MarketParams {
    pub fn method(&self, method: &PaymentMethod) -> Option<&MethodInfo> {
        match method {
            PaymentMethod::Registered(index) => self.methods.get(usize::from(*index)),
            PaymentMethod::Custom(_) => None,
        }
    }

    pub fn tier_name(&self, tier: u8) -> String {
        match tier.checked_sub(1) {
            None => "New".to_string(),
            Some(index) => self
                .tiers
                .get(usize::from(index))
                .map_or_else(|| format!("Tier {tier}"), |rule| rule.name.to_string()),
        }
    }

    /// Defaults with the built-in registry. Fiat limits are in minor units assuming two decimals.
    pub fn defaults() -> Self {
        let methods = parse_registry(DEFAULT_REGISTRY).expect("the built-in registry is valid");
        let text = |s: &str| Text::new(s).expect("short names");
        let eqa = |whole: u128| whole.checked_mul(1_000_000_000).expect("fits");
        Self {
            methods,
            // 100.00 in a two-decimal currency.
            custom_method_limit: 10_000,
            new_account_trades: 5,
            new_account_counterparties: 3,
            // 10.00 in a two-decimal currency.
            min_counted_trade_value: 1_000,
            min_deposit_bps: 300,
            max_deposit_bps: 5_000,
            min_payment_window_secs: 15 * 60,
            max_payment_window_secs: 8 * DAY_SECS,
            release_window_secs: DAY_SECS,
            ruling_window_secs: 3 * DAY_SECS,
            min_arbitrator_bond: eqa(1_000),
            max_arbitrator_fee_bps: 500,
            arbitrator_cooldown_secs: 7 * DAY_SECS,
            max_messages_per_author: 256,
            tiers: vec![
                TierRule {
                    name: text("Verified"),
                    min_trades: 5,
                    min_counterparties: 3,
                    // 500.00
                    min_counted_volume: 50_000,
                    min_completion_bps: 9_000,
                    max_dispute_loss_bps: 2_000,
                    min_account_age_ms: 7 * DAY_MS,
                    min_bond: 0,
                },
                TierRule {
                    name: text("Merchant"),
                    min_trades: 50,
                    min_counterparties: 20,
                    // 10,000.00
                    min_counted_volume: 1_000_000,
                    min_completion_bps: 9_500,
                    max_dispute_loss_bps: 200,
                    min_account_age_ms: 30 * DAY_MS,
                    min_bond: 0,
                },
                TierRule {
                    name: text("Premier"),
                    min_trades: 200,
                    min_counterparties: 50,
                    // 100,000.00
                    min_counted_volume: 10_000_000,
                    min_completion_bps: 9_800,
                    max_dispute_loss_bps: 100,
                    min_account_age_ms: 90 * DAY_MS,
                    min_bond: eqa(1_000),
                },
            ],
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistry {
    method: Vec<RawMethod>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMethod {
    id: String,
    name: String,
    currencies: Vec<String>,
    payment_window_secs: u32,
    chargeback_risk: String,
}

/// Parses a registry file (the format of `data/payment-methods.toml`).
pub fn parse_registry(text: &str) -> Result<Vec<MethodInfo>, String> {
    let raw: RawRegistry = toml::from_str(text).map_err(|e| e.to_string())?;
    if raw.method.len() > MAX_METHODS {
        return Err(format!("at most {MAX_METHODS} payment methods"));
    }
    raw.method
        .iter()
        .map(|method| {
            let risk: u8 = match method.chargeback_risk.as_str() {
                "very_low" => 0,
                "low" => 1,
                "mid" => 2,
                "high" => 3,
                other => return Err(format!("method {}: unknown risk {other:?}", method.id)),
            };
            let currencies = if method.currencies == ["*"] {
                Vec::new()
            } else {
                method
                    .currencies
                    .iter()
                    .map(|code| Fiat::new(code).map_err(|e| format!("method {}: {e}", method.id)))
                    .collect::<Result<_, _>>()?
            };
            let limit_whole = NEW_ACCOUNT_LIMITS_WHOLE[usize::from(risk)];
            Ok(MethodInfo {
                code: Text::new(method.id.as_str()).map_err(|e| e.to_string())?,
                name: Text::new(method.name.as_str()).map_err(|e| e.to_string())?,
                currencies,
                min_window_secs: method.payment_window_secs,
                risk,
                new_account_limit: limit_whole.checked_mul(100).expect("small"),
            })
        })
        .collect()
}

/// The market section of a genesis file (`[params.market]`); every field is optional.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawMarketParams {
    /// A registry file in the format of `data/payment-methods.toml`, inline.
    pub payment_methods: Option<String>,
    pub custom_method_limit: Option<String>,
    pub new_account_trades: Option<u32>,
    pub new_account_counterparties: Option<u32>,
    /// Fiat, as decimal text with two decimals ("10.00").
    pub min_counted_trade_value: Option<String>,
    pub min_deposit_bps: Option<u16>,
    pub max_deposit_bps: Option<u16>,
    pub min_payment_window_secs: Option<u32>,
    pub max_payment_window_secs: Option<u32>,
    pub release_window_secs: Option<u32>,
    pub ruling_window_secs: Option<u32>,
    /// EQA, as decimal text.
    pub min_arbitrator_bond: Option<String>,
    pub max_arbitrator_fee_bps: Option<u16>,
    pub arbitrator_cooldown_secs: Option<u32>,
    pub max_messages_per_author: Option<u32>,
}

impl RawMarketParams {
    /// Applies the given fields over the defaults. `native_decimals` reads EQA amounts.
    pub fn resolve(&self, native_decimals: u8) -> Result<MarketParams, (String, String)> {
        let mut params = MarketParams::defaults();
        let field = |name: &str| format!("params.market.{name}");
        if let Some(registry) = &self.payment_methods {
            params.methods = parse_registry(registry).map_err(|e| (field("payment_methods"), e))?;
        }
        if let Some(text) = &self.custom_method_limit {
            params.custom_method_limit = amount::parse(text, 2)
                .map_err(|e| (field("custom_method_limit"), e.to_string()))?;
        }
        if let Some(text) = &self.min_counted_trade_value {
            params.min_counted_trade_value = amount::parse(text, 2)
                .map_err(|e| (field("min_counted_trade_value"), e.to_string()))?;
        }
        if let Some(text) = &self.min_arbitrator_bond {
            params.min_arbitrator_bond = amount::parse(text, native_decimals)
                .map_err(|e| (field("min_arbitrator_bond"), e.to_string()))?;
        }
        macro_rules! take {
            ($($name:ident),*) => { $( if let Some(value) = self.$name { params.$name = value; } )* };
        }
        take!(
            new_account_trades,
            new_account_counterparties,
            min_deposit_bps,
            max_deposit_bps,
            min_payment_window_secs,
            max_payment_window_secs,
            release_window_secs,
            ruling_window_secs,
            max_arbitrator_fee_bps,
            arbitrator_cooldown_secs,
            max_messages_per_author
        );
        if params.min_deposit_bps > params.max_deposit_bps || params.max_deposit_bps > 10_000 {
            return Err((
                field("max_deposit_bps"),
                "deposits must satisfy min <= max <= 10000 basis points".into(),
            ));
        }
        if params.min_payment_window_secs == 0
            || params.min_payment_window_secs > params.max_payment_window_secs
        {
            return Err((
                field("max_payment_window_secs"),
                "payment windows must satisfy 0 < min <= max".into(),
            ));
        }
        if params.max_arbitrator_fee_bps > 10_000 {
            return Err((field("max_arbitrator_fee_bps"), "at most 10000".into()));
        }
        Ok(params)
    }
}

/// The market parameters. Decoding the registry costs more than most market calls, so the last
/// decoded value is kept per thread and reused while the stored bytes are unchanged; the result
/// is a pure function of the stored bytes.
pub fn load(store: &(impl Store + ?Sized)) -> Arc<MarketParams> {
    thread_local! {
        static LAST: RefCell<Option<(Vec<u8>, Arc<MarketParams>)>> = const { RefCell::new(None) };
    }
    let bytes = store
        .get(&[table::PARAMS])
        .expect("market parameters are written at genesis");
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if let Some((cached, params)) = last.as_ref()
            && *cached == bytes
        {
            return params.clone();
        }
        let params = Arc::new(
            types::codec::decode::<MarketParams>(&bytes)
                .unwrap_or_else(|e| panic!("corrupt market parameters: {e}")),
        );
        *last = Some((bytes, params.clone()));
        params
    })
}

pub fn store(store: &mut (impl Store + ?Sized), params: &MarketParams) {
    state::write(store, &[table::PARAMS], params);
}
