//! What the interface says about a transaction before it is sent: the node's trial of it
//! (`/api/preview`) and the refusal of one the ledger would not accept (`/api/act`), each naming
//! the form field the error concerns, so a page can mark that field.
//!
//! The field of an error comes from [`field_of`], a table from the ledger's error codes (the
//! variant names of `BankError`, `MarketError`, `LendingError` and the lending `ScheduleError`;
//! see `ledger::error`) to the option or argument of the transaction command the error is about.
//! Form fields are named after those options:
//!
//! | field        | codes |
//! |--------------|-------|
//! | `amount`     | ZeroAmount, InsufficientBalance, AmountOverflow, AmountOutOfRange, NewAccountLimit, FundingOutOfRange, ZeroRepayment, RulingTooLarge, MaxSupplyExceeded |
//! | `principal`  | PrincipalTooLarge, ZeroPrincipal |
//! | `price`      | ZeroPrice, ValueOverflow |
//! | `min`        | InvalidLimits (the least per trade above the most, or zero) |
//! | `fiat`       | MethodCurrency (no listed method pays in that currency) |
//! | `method`     | UnknownMethod, DuplicateMethod, MethodNotOffered |
//! | `window`     | WindowOutOfRange |
//! | `deposit`    | DepositOutOfRange |
//! | `rate`       | RateTooHigh |
//! | `term`       | TermTooLong, ZeroTerm, PeriodTooShort |
//! | `instalments`| InstalmentCount |
//! | `deadline`   | DeadlinePassed |
//! | `min_fill`   | InvalidMinFill, BelowMinFill |
//! | `collateral` | ZeroCollateral, InsufficientCollateral |
//! | `bond`       | BondTooSmall |
//! | `fee`        | FeeTooHigh (an arbitrator's fee) |
//! | `stars`      | InvalidRating |
//! | `symbol`     | DuplicateSymbol, UnknownAsset |
//! | `decimals`   | InvalidDecimals |
//! | `max_supply` | ZeroMaxSupply |
//! | `revision`   | OfferChanged |
//!
//! Every other error (a wrong state, a window still open, a nonce or a fee of the transaction
//! itself) concerns no one field: its field is `null`.

use rpc::{
    simulate::SimulationView,
    views::{ErrorView, Money},
};
use serde_json::{Value, json};

/// The form field a ledger error concerns, by its code; `None` when it concerns no one field.
pub fn field_of(code: &str) -> Option<&'static str> {
    let field = match code {
        "ZeroAmount"
        | "InsufficientBalance"
        | "AmountOverflow"
        | "AmountOutOfRange"
        | "NewAccountLimit"
        | "FundingOutOfRange"
        | "ZeroRepayment"
        | "RulingTooLarge"
        | "MaxSupplyExceeded" => "amount",
        "PrincipalTooLarge" | "ZeroPrincipal" => "principal",
        "ZeroPrice" | "ValueOverflow" => "price",
        "InvalidLimits" => "min",
        "MethodCurrency" => "fiat",
        "UnknownMethod" | "DuplicateMethod" | "MethodNotOffered" | "InvalidMethodName" => "method",
        "WindowOutOfRange" => "window",
        "DepositOutOfRange" => "deposit",
        "RateTooHigh" => "rate",
        "TermTooLong" | "ZeroTerm" | "PeriodTooShort" => "term",
        "InstalmentCount" => "instalments",
        "DeadlinePassed" => "deadline",
        "InvalidMinFill" | "BelowMinFill" => "min_fill",
        "ZeroCollateral" | "InsufficientCollateral" => "collateral",
        "BondTooSmall" => "bond",
        "FeeTooHigh" => "fee",
        "InvalidRating" => "stars",
        "DuplicateSymbol" | "UnknownAsset" => "symbol",
        "InvalidDecimals" => "decimals",
        "ZeroMaxSupply" => "max_supply",
        "OfferChanged" => "revision",
        "ReasonNotForParty" => "reason",
        _ => return None,
    };
    Some(field)
}

/// An error as the pages take it: `{code, message, field}`.
pub fn error_json(error: &ErrorView) -> Value {
    json!({ "code": error.code, "message": error.message, "field": field_of(&error.code) })
}

/// The refusal of `/api/act` for a transaction the ledger would not accept:
/// `{"error": <words>, "code": <code>, "field": <field or null>}`.
pub fn refusal_json(error: &ErrorView) -> Value {
    json!({ "error": error.message, "code": error.code, "field": field_of(&error.code) })
}

/// The answer of `/api/preview`: `{"ok", "outcome", "fee", "error", "events", "moves"}`.
pub fn preview_json(simulation: &SimulationView) -> Value {
    let Money { amount, symbol, .. } = &simulation.fee;
    json!({
        "ok": simulation.is_success() && simulation.error.is_none(),
        "outcome": simulation.outcome,
        "fee": format!("{amount} {symbol}"),
        "error": simulation.error.as_ref().map(error_json),
        "events": simulation
            .events
            .iter()
            .map(|event| event["text"].as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>(),
        "moves": simulation
            .moves
            .iter()
            .map(|m| json!({
                "account": m.account, "name": m.name, "asset": m.symbol, "change": m.change,
            }))
            .collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::{
        BankError, CallError, TxError,
        lending::{LendingError, math::ScheduleError},
        market::MarketError,
    };
    use rpc::views::error_code;
    use types::{AssetId, market::Fiat};

    fn field(error: &impl std::fmt::Debug) -> Option<&'static str> {
        field_of(&error_code(error))
    }

    /// The table's codes are the ledger's: each is checked through a real error value, wrapped
    /// as a receipt carries it.
    #[test]
    fn ledger_errors_name_the_field_they_concern() {
        let asset = AssetId(1);
        let market = |error: MarketError| CallError::Market(error);
        let lending = |error: LendingError| CallError::Lending(error);
        let cases: Vec<(CallError, Option<&str>)> = vec![
            (
                market(MarketError::AmountOutOfRange {
                    offer: 1,
                    asset,
                    amount: 1_000,
                    min: 20,
                    max: 300,
                }),
                Some("amount"),
            ),
            (
                market(MarketError::InvalidLimits {
                    asset,
                    min: 300,
                    max: 20,
                }),
                Some("min"),
            ),
            (
                market(MarketError::MethodCurrency {
                    method: "SEPA".into(),
                    fiat: Fiat::new("XYZ").unwrap(),
                }),
                Some("fiat"),
            ),
            (market(MarketError::ZeroPrice), Some("price")),
            (
                market(MarketError::UnknownMethod { index: 9 }),
                Some("method"),
            ),
            (
                market(MarketError::MethodNotOffered { offer: 1 }),
                Some("method"),
            ),
            (
                market(MarketError::WindowOutOfRange {
                    secs: 1,
                    min: 600,
                    max: 86_400,
                }),
                Some("window"),
            ),
            (
                market(MarketError::DepositOutOfRange {
                    bps: 1,
                    min: 500,
                    max: 5_000,
                }),
                Some("deposit"),
            ),
            (
                market(MarketError::OfferChanged {
                    offer: 1,
                    expected_revision: 0,
                    current_revision: 1,
                }),
                Some("revision"),
            ),
            (
                market(MarketError::InvalidRating { stars: 9 }),
                Some("stars"),
            ),
            (
                market(MarketError::Bank(BankError::InsufficientBalance {
                    account: ledger::testing::account(1),
                    asset,
                    needed: 2,
                    available: 1,
                })),
                Some("amount"),
            ),
            (
                lending(LendingError::RateTooHigh {
                    rate_bps: 99_999,
                    max: 10_000,
                }),
                Some("rate"),
            ),
            (
                lending(LendingError::TermTooLong {
                    term_days: 9_999,
                    max: 3_650,
                }),
                Some("term"),
            ),
            (
                lending(LendingError::InsufficientCollateral {
                    asset,
                    offered: 1,
                    required: 2,
                }),
                Some("collateral"),
            ),
            (
                lending(LendingError::Schedule(ScheduleError::ZeroPrincipal)),
                Some("principal"),
            ),
            (
                lending(LendingError::PrincipalTooLarge {
                    asset,
                    principal: 2,
                    max: 1,
                }),
                Some("principal"),
            ),
            (CallError::Bank(BankError::ZeroAmount), Some("amount")),
            (
                CallError::Bank(BankError::InvalidDecimals {
                    decimals: 40,
                    max: 18,
                }),
                Some("decimals"),
            ),
            // A state or a time concerns no one field.
            (
                market(MarketError::WrongState {
                    trade: 1,
                    state: "paid",
                    expected: "open",
                }),
                None,
            ),
            (
                market(MarketError::PaymentWindowOpen {
                    trade: 1,
                    closes_at_ms: 5,
                }),
                None,
            ),
            (CallError::Internal, None),
        ];
        for (error, expected) in cases {
            assert_eq!(field(&error), expected, "{error:?}");
        }
        // Rejections concern the transaction itself, not a field of its form.
        assert_eq!(field(&TxError::BadSignature), None);
        assert_eq!(
            field(&TxError::NonceReplayed {
                expected: 2,
                found: 1
            }),
            None
        );
    }

    #[test]
    fn a_preview_is_words_with_the_field_of_its_error() {
        let simulation = SimulationView {
            tx_id: None,
            height: 9,
            outcome: "failed".into(),
            error: Some(ErrorView {
                code: "AmountOutOfRange".into(),
                message: "the amount 1000 USDX is outside what offer 1 allows".into(),
            }),
            fee_paid: "1200".into(),
            fee: Money {
                asset: 0,
                symbol: "EQA".into(),
                amount: "0.0000012".into(),
                minor_units: "1200".into(),
            },
            events: Vec::new(),
            moves: Vec::new(),
            assumed_pending: 0,
        };
        let preview = preview_json(&simulation);
        assert_eq!(preview["ok"], false);
        assert_eq!(preview["fee"], "0.0000012 EQA");
        assert_eq!(preview["error"]["field"], "amount");
        assert_eq!(preview["error"]["code"], "AmountOutOfRange");
        let refusal = refusal_json(simulation.error.as_ref().unwrap());
        assert_eq!(refusal["field"], "amount");
        assert!(refusal["error"].as_str().unwrap().contains("1000 USDX"));
    }
}
