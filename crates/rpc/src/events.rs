//! Receipts' events as data: every event is a JSON object with a stable shape, `{"kind": ...,
//! fields...}`, whose amounts are [`Money`] (asset id, symbol, decimal text and minor units),
//! accounts `equa1…` addresses, states and parties lower-case names, and ids numbers. `text`
//! says the same in words, for the command line and the web interface to show as it is.
//!
//! The kinds and their fields (amounts marked `money`):
//! - bank: `transferred {from, to, amount: money}`, `asset_issued {asset, symbol, issuer}`,
//!   `minted {to, amount: money}`, `burned {from, amount: money}`;
//! - market: `offer_created {offer, maker}`, `offer_updated {offer, revision}`,
//!   `offer_closed {offer, returned: money}`, `trade_opened {trade, offer, buyer, seller,
//!   amount: money}`, `trade_state_changed {trade, state}`, `settled {trade, to_buyer: money,
//!   to_seller: money, to_arbitrator: money}`, `arbitrator_requested {trade}`,
//!   `no_ruling {trade}`, `arbitrator_registered {arbitrator, bond: money}`,
//!   `arbitrator_leaving {arbitrator, bond_free_at_ms}`, `bond_withdrawn {arbitrator, bond: money}`,
//!   `message_posted {trade, index, sender}`, `key_revealed {trade, by, to}`,
//!   `rated {trade, rater, stars, counted}`, `profile_set {account}`;
//! - lending: `loan_requested {loan, borrower}`, `funded {loan, lender, amount: money}`,
//!   `withdrawn {loan, lender, amount: money}`, `activated {loan, principal: money}`,
//!   `request_closed {loan, state}`, `credit_offered {offer, lender}`,
//!   `credit_closed {offer, returned: money}`, `repaid {loan, late_fee: money, interest: money,
//!   principal: money}`, `loan_repaid {loan}`, `claimed {loan, lender, amount: money,
//!   collateral: money | null}`, `defaulted {loan, collateral: money | null, debt: money}`;
//! - staking: `validator_registered {account, node_key, bond: money}` (the node key in
//!   hexadecimal), `validator_unbonding {account, bond_free_at_ms, evicted}`,
//!   `validator_withdrawn {account, bond: money}`, `node_registered {owner, node_key,
//!   deposit: money}`, `node_unregistered {owner, node_key, deposit: money, evicted}`.

use crate::{market::trade_state_name, views::Money};
use ledger::{
    Event,
    lending::{self, LendingEvent},
    market::{self, MarketEvent},
    staking::StakingEvent,
    store::Store,
};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use types::{AssetId, market::Party};

/// The JSON type of an event's named field, for its schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// An `equa1…` address.
    Account,
    /// An id, a count, a height or a time in milliseconds: a whole number.
    Number,
    /// An amount: [`Money`].
    Money,
    /// [`Money`], or `null` when there is none (a loan without collateral).
    MaybeMoney,
    /// A lower-case name (a state, a party) or an asset's symbol.
    Name,
    /// Yes or no.
    Flag,
}

/// One kind of event: its `kind` and its named fields (besides `kind` and `text`).
#[derive(Clone, Copy, Debug)]
pub struct Kind {
    pub name: &'static str,
    pub fields: &'static [(&'static str, Shape)],
}

const fn kind(name: &'static str, fields: &'static [(&'static str, Shape)]) -> Kind {
    Kind { name, fields }
}

use Shape::{Account, Flag, MaybeMoney, Money as Amount, Name, Number};

// One kind a line, as in the module doc (rustfmt would spread it over four times the lines).
/// Every kind of event [`event_json`] writes, with its fields: the source of the `Event` schema
/// in the OpenRPC document. The tests build every ledger event and check its JSON against it.
#[rustfmt::skip]
pub const KINDS: &[Kind] = &[
    kind("transferred", &[("from", Account), ("to", Account), ("amount", Amount)]),
    kind("asset_issued", &[("asset", Number), ("symbol", Name), ("issuer", Account)]),
    kind("minted", &[("to", Account), ("amount", Amount)]),
    kind("burned", &[("from", Account), ("amount", Amount)]),
    kind("offer_created", &[("offer", Number), ("maker", Account)]),
    kind("offer_updated", &[("offer", Number), ("revision", Number)]),
    kind("offer_closed", &[("offer", Number), ("returned", Amount)]),
    kind("trade_opened", &[("trade", Number), ("offer", Number), ("buyer", Account), ("seller", Account), ("amount", Amount)]),
    kind("trade_state_changed", &[("trade", Number), ("state", Name)]),
    kind("settled", &[("trade", Number), ("to_buyer", Amount), ("to_seller", Amount), ("to_arbitrator", Amount)]),
    kind("arbitrator_requested", &[("trade", Number)]),
    kind("no_ruling", &[("trade", Number)]),
    kind("arbitrator_registered", &[("arbitrator", Account), ("bond", Amount)]),
    kind("arbitrator_leaving", &[("arbitrator", Account), ("bond_free_at_ms", Number)]),
    kind("bond_withdrawn", &[("arbitrator", Account), ("bond", Amount)]),
    kind("message_posted", &[("trade", Number), ("index", Number), ("sender", Account)]),
    kind("key_revealed", &[("trade", Number), ("by", Name), ("to", Account)]),
    kind("rated", &[("trade", Number), ("rater", Account), ("stars", Number), ("counted", Flag)]),
    kind("profile_set", &[("account", Account)]),
    kind("loan_requested", &[("loan", Number), ("borrower", Account)]),
    kind("funded", &[("loan", Number), ("lender", Account), ("amount", Amount)]),
    kind("withdrawn", &[("loan", Number), ("lender", Account), ("amount", Amount)]),
    kind("activated", &[("loan", Number), ("principal", Amount)]),
    kind("request_closed", &[("loan", Number), ("state", Name)]),
    kind("credit_offered", &[("offer", Number), ("lender", Account)]),
    kind("credit_closed", &[("offer", Number), ("returned", Amount)]),
    kind("repaid", &[("loan", Number), ("late_fee", Amount), ("interest", Amount), ("principal", Amount)]),
    kind("loan_repaid", &[("loan", Number)]),
    kind("claimed", &[("loan", Number), ("lender", Account), ("amount", Amount), ("collateral", MaybeMoney)]),
    kind("defaulted", &[("loan", Number), ("collateral", MaybeMoney), ("debt", Amount)]),
    kind("validator_registered", &[("account", Account), ("node_key", Name), ("bond", Amount)]),
    kind("validator_unbonding", &[("account", Account), ("bond_free_at_ms", Number), ("evicted", Flag)]),
    kind("validator_withdrawn", &[("account", Account), ("bond", Amount)]),
    kind("node_registered", &[("owner", Account), ("node_key", Name), ("deposit", Amount)]),
    kind("node_unregistered", &[("owner", Account), ("node_key", Name), ("deposit", Amount), ("evicted", Flag)]),
];

/// The schema of a receipt's event (`components.schemas.Event` in the OpenRPC document): one
/// object schema per kind in [`KINDS`]. Only a schema: events themselves are [`event_json`]'s
/// `serde_json::Value`s.
#[derive(Debug)]
pub struct EventSchema;

impl JsonSchema for EventSchema {
    fn schema_name() -> Cow<'static, str> {
        "Event".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let money = generator.subschema_for::<Money>().to_value();
        let field = |shape: Shape| match shape {
            Account => json!({ "type": "string", "pattern": "^equa1" }),
            Number => json!({ "type": "integer", "minimum": 0 }),
            Amount => money.clone(),
            MaybeMoney => json!({ "oneOf": [money.clone(), { "type": "null" }] }),
            Name => json!({ "type": "string" }),
            Flag => json!({ "type": "boolean" }),
        };
        let kinds: Vec<Value> = KINDS
            .iter()
            .map(|kind| {
                let mut properties = Map::new();
                properties.insert("kind".into(), json!({ "const": kind.name }));
                for (name, shape) in kind.fields {
                    properties.insert((*name).into(), field(*shape));
                }
                properties.insert("text".into(), json!({ "type": "string" }));
                let required: Vec<&str> = std::iter::once("kind")
                    .chain(kind.fields.iter().map(|(name, _)| *name))
                    .chain(["text"])
                    .collect();
                json!({
                    "type": "object",
                    "properties": properties,
                    "required": required,
                    "additionalProperties": false,
                })
            })
            .collect();
        let schema = json!({
            "description": "What a transaction did: `kind`, its named fields (amounts are Money, \
                accounts `equa1...` addresses, ids numbers, states and parties lower-case names) \
                and `text`, the same in words.",
            "oneOf": kinds,
        });
        Schema::try_from(schema).expect("an object is a schema")
    }
}

/// An event as JSON, its amounts worded with the assets of `store` (assets are never removed,
/// and trades and loans never deleted, so any later state names them too).
pub fn event_json(store: &(impl Store + ?Sized), event: &Event) -> Value {
    let mut value = match event {
        Event::Transferred {
            from,
            to,
            asset,
            amount,
        } => json!({ "kind": "transferred", "from": from.to_string(), "to": to.to_string(),
                     "amount": Money::read(store, *asset, *amount) }),
        Event::AssetIssued {
            asset,
            symbol,
            issuer,
        } => json!({ "kind": "asset_issued", "asset": asset.0, "symbol": symbol.to_string(),
                     "issuer": issuer.to_string() }),
        Event::Minted { asset, to, amount } => json!({ "kind": "minted", "to": to.to_string(),
                     "amount": Money::read(store, *asset, *amount) }),
        Event::Burned {
            asset,
            from,
            amount,
        } => json!({ "kind": "burned", "from": from.to_string(),
                     "amount": Money::read(store, *asset, *amount) }),
        Event::Market(event) => market_json(store, event),
        Event::Lending(event) => lending_json(store, event),
        Event::Staking(event) => staking_json(store, event),
    };
    let text = words(&value);
    value["text"] = Value::String(text);
    value
}

fn party_name(party: Party) -> &'static str {
    crate::market::party_name(party)
}

fn market_json(store: &(impl Store + ?Sized), event: &MarketEvent) -> Value {
    // The asset of a trade's amounts: trades are never deleted.
    let trade_money = |trade: u64, minor: u128| {
        let asset = market::Db::trade(store, trade).map_or(AssetId::NATIVE, |t| t.asset);
        Money::read(store, asset, minor)
    };
    let eqa = |minor: u128| Money::read(store, AssetId::NATIVE, minor);
    match event {
        MarketEvent::OfferCreated { offer, maker } => {
            json!({ "kind": "offer_created", "offer": offer, "maker": maker.to_string() })
        }
        MarketEvent::OfferUpdated { offer, revision } => {
            json!({ "kind": "offer_updated", "offer": offer, "revision": revision })
        }
        MarketEvent::OfferClosed {
            offer,
            asset,
            returned,
        } => json!({ "kind": "offer_closed", "offer": offer,
                     "returned": Money::read(store, *asset, *returned) }),
        MarketEvent::TradeOpened {
            trade,
            offer,
            buyer,
            seller,
            asset,
            amount,
        } => json!({ "kind": "trade_opened", "trade": trade, "offer": offer,
                     "buyer": buyer.to_string(), "seller": seller.to_string(),
                     "amount": Money::read(store, *asset, *amount) }),
        MarketEvent::TradeStateChanged { trade, state } => json!({ "kind": "trade_state_changed",
                     "trade": trade, "state": trade_state_name(*state) }),
        MarketEvent::Settled {
            trade,
            to_buyer,
            to_seller,
            to_arbitrator,
        } => json!({ "kind": "settled", "trade": trade,
                     "to_buyer": trade_money(*trade, *to_buyer),
                     "to_seller": trade_money(*trade, *to_seller),
                     "to_arbitrator": trade_money(*trade, *to_arbitrator) }),
        MarketEvent::ArbitratorRequested { trade } => {
            json!({ "kind": "arbitrator_requested", "trade": trade })
        }
        MarketEvent::NoRuling { trade } => json!({ "kind": "no_ruling", "trade": trade }),
        MarketEvent::ArbitratorRegistered { arbitrator, bond } => json!({
            "kind": "arbitrator_registered", "arbitrator": arbitrator.to_string(), "bond": eqa(*bond) }),
        MarketEvent::ArbitratorLeaving {
            arbitrator,
            bond_free_at_ms,
        } => json!({ "kind": "arbitrator_leaving", "arbitrator": arbitrator.to_string(),
                     "bond_free_at_ms": bond_free_at_ms }),
        MarketEvent::BondWithdrawn { arbitrator, bond } => json!({ "kind": "bond_withdrawn",
                     "arbitrator": arbitrator.to_string(), "bond": eqa(*bond) }),
        MarketEvent::MessagePosted {
            trade,
            index,
            sender,
        } => json!({ "kind": "message_posted", "trade": trade, "index": index,
                     "sender": sender.to_string() }),
        MarketEvent::KeyRevealed { trade, by, to } => json!({ "kind": "key_revealed",
                     "trade": trade, "by": party_name(*by), "to": to.to_string() }),
        MarketEvent::Rated {
            trade,
            rater,
            stars,
            counted,
        } => json!({ "kind": "rated", "trade": trade, "rater": rater.to_string(),
                     "stars": stars, "counted": counted }),
        MarketEvent::ProfileSet { account } => {
            json!({ "kind": "profile_set", "account": account.to_string() })
        }
    }
}

fn staking_json(store: &(impl Store + ?Sized), event: &StakingEvent) -> Value {
    let eqa = |minor: u128| Money::read(store, AssetId::NATIVE, minor);
    match event {
        StakingEvent::ValidatorRegistered {
            account,
            node_key,
            bond,
        } => json!({ "kind": "validator_registered", "account": account.to_string(),
                     "node_key": crate::staking::node_key_hex(node_key), "bond": eqa(*bond) }),
        StakingEvent::ValidatorUnbonding {
            account,
            bond_free_at_ms,
            evicted,
        } => json!({ "kind": "validator_unbonding", "account": account.to_string(),
                     "bond_free_at_ms": bond_free_at_ms, "evicted": evicted }),
        StakingEvent::BondWithdrawn { account, bond } => json!({ "kind": "validator_withdrawn",
                     "account": account.to_string(), "bond": eqa(*bond) }),
        StakingEvent::NodeRegistered {
            owner,
            node_key,
            deposit,
        } => json!({ "kind": "node_registered", "owner": owner.to_string(),
                     "node_key": crate::staking::node_key_hex(node_key), "deposit": eqa(*deposit) }),
        StakingEvent::NodeUnregistered {
            owner,
            node_key,
            deposit,
            evicted,
        } => json!({ "kind": "node_unregistered", "owner": owner.to_string(),
                     "node_key": crate::staking::node_key_hex(node_key), "deposit": eqa(*deposit),
                     "evicted": evicted }),
    }
}

fn lending_json(store: &(impl Store + ?Sized), event: &LendingEvent) -> Value {
    // Loans are never deleted: their asset and collateral name the amounts.
    let loan_record = |loan: u64| lending::Db::loan(store, loan);
    let loan_money = |loan: u64, minor: u128| {
        let asset = loan_record(loan).map_or(AssetId::NATIVE, |l| l.asset);
        Money::read(store, asset, minor)
    };
    let collateral_money = |loan: u64, minor: u128| {
        loan_record(loan)
            .and_then(|l| l.collateral)
            .map(|c| Money::read(store, c.asset, minor))
    };
    match event {
        LendingEvent::LoanRequested { loan, borrower } => json!({ "kind": "loan_requested",
                     "loan": loan, "borrower": borrower.to_string() }),
        LendingEvent::Funded {
            loan,
            lender,
            amount,
        } => json!({ "kind": "funded", "loan": loan, "lender": lender.to_string(),
                     "amount": loan_money(*loan, *amount) }),
        LendingEvent::Withdrawn {
            loan,
            lender,
            amount,
        } => json!({ "kind": "withdrawn", "loan": loan, "lender": lender.to_string(),
                     "amount": loan_money(*loan, *amount) }),
        LendingEvent::Activated { loan, principal } => json!({ "kind": "activated",
                     "loan": loan, "principal": loan_money(*loan, *principal) }),
        LendingEvent::RequestClosed { loan, state } => json!({ "kind": "request_closed",
                     "loan": loan, "state": state.name() }),
        LendingEvent::CreditOffered { offer, lender } => json!({ "kind": "credit_offered",
                     "offer": offer, "lender": lender.to_string() }),
        LendingEvent::CreditClosed {
            offer,
            asset,
            returned,
        } => json!({ "kind": "credit_closed", "offer": offer,
                     "returned": Money::read(store, *asset, *returned) }),
        LendingEvent::Repaid {
            loan,
            late_fee,
            interest,
            principal,
        } => json!({ "kind": "repaid", "loan": loan,
                     "late_fee": loan_money(*loan, *late_fee),
                     "interest": loan_money(*loan, *interest),
                     "principal": loan_money(*loan, *principal) }),
        LendingEvent::LoanRepaid { loan } => json!({ "kind": "loan_repaid", "loan": loan }),
        LendingEvent::Claimed {
            loan,
            lender,
            amount,
            collateral,
        } => json!({ "kind": "claimed", "loan": loan, "lender": lender.to_string(),
                     "amount": loan_money(*loan, *amount),
                     "collateral": collateral_money(*loan, *collateral) }),
        LendingEvent::Defaulted {
            loan,
            collateral,
            debt,
        } => json!({ "kind": "defaulted", "loan": loan,
                     "collateral": collateral_money(*loan, *collateral),
                     "debt": loan_money(*loan, *debt) }),
    }
}

/// An event in words, from its JSON (so every front end says the same).
pub fn words(event: &Value) -> String {
    let text = |field: &str| -> String {
        match &event[field] {
            Value::String(text) => text.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    };
    let money = |field: &str| -> String {
        let value = &event[field];
        match (value["amount"].as_str(), value["symbol"].as_str()) {
            (Some(amount), Some(symbol)) => format!("{amount} {symbol}"),
            _ => "nothing".to_string(),
        }
    };
    match event["kind"].as_str().unwrap_or_default() {
        "transferred" => format!(
            "{} sent {} to {}",
            text("from"),
            money("amount"),
            text("to")
        ),
        "asset_issued" => format!(
            "{} issued {} (asset {})",
            text("issuer"),
            text("symbol"),
            text("asset")
        ),
        "minted" => format!("{} minted to {}", money("amount"), text("to")),
        "burned" => format!("{} burned by {}", money("amount"), text("from")),
        "offer_created" => format!("offer {} created by {}", text("offer"), text("maker")),
        "offer_updated" => format!(
            "offer {} updated (revision {})",
            text("offer"),
            text("revision")
        ),
        "offer_closed" => format!(
            "offer {} withdrawn; {} returned to its maker",
            text("offer"),
            money("returned")
        ),
        "trade_opened" => format!(
            "trade {} opened from offer {}: {} sold by {} to {}",
            text("trade"),
            text("offer"),
            money("amount"),
            text("seller"),
            text("buyer")
        ),
        "trade_state_changed" => format!(
            "trade {} is now {}",
            text("trade"),
            text("state").replace('_', " ")
        ),
        "settled" => format!(
            "trade {} settled: {} to the buyer, {} to the seller, {} to the arbitrator",
            text("trade"),
            money("to_buyer"),
            money("to_seller"),
            money("to_arbitrator")
        ),
        "arbitrator_requested" => format!(
            "trade {} needs an arbitrator: one is picked by lot within a few blocks",
            text("trade")
        ),
        "no_ruling" => format!(
            "trade {} ended without a ruling: deposits back, the amount split in half",
            text("trade")
        ),
        "arbitrator_registered" => format!(
            "{} registered as an arbitrator with a bond of {}",
            text("arbitrator"),
            money("bond")
        ),
        "arbitrator_leaving" => format!(
            "arbitrator {} is leaving; the bond is free after {} ms",
            text("arbitrator"),
            text("bond_free_at_ms")
        ),
        "bond_withdrawn" => format!(
            "arbitrator {} withdrew the bond of {}",
            text("arbitrator"),
            money("bond")
        ),
        "message_posted" => format!(
            "message {} posted to trade {} by {}",
            text("index"),
            text("trade"),
            text("sender")
        ),
        "key_revealed" => format!(
            "the {} of trade {} showed the chat to arbitrator {}",
            text("by"),
            text("trade"),
            text("to")
        ),
        "rated" => format!(
            "{} rated trade {} {} star(s){}",
            text("rater"),
            text("trade"),
            text("stars"),
            if event["counted"] == Value::Bool(true) {
                ""
            } else {
                " (not counted in the average)"
            }
        ),
        "profile_set" => format!("{} published a profile", text("account")),
        "loan_requested" => format!("loan {} requested by {}", text("loan"), text("borrower")),
        "funded" => format!(
            "{} funded loan {} with {}",
            text("lender"),
            text("loan"),
            money("amount")
        ),
        "withdrawn" => format!(
            "{} withdrew {} from loan {}",
            text("lender"),
            money("amount"),
            text("loan")
        ),
        "activated" => format!(
            "loan {} disbursed: {} to the borrower",
            text("loan"),
            money("principal")
        ),
        "request_closed" => format!("loan request {} is {}", text("loan"), text("state")),
        "credit_offered" => format!("credit offer {} made by {}", text("offer"), text("lender")),
        "credit_closed" => format!(
            "credit offer {} closed; {} returned",
            text("offer"),
            money("returned")
        ),
        "repaid" => format!(
            "loan {} repaid: {} late fee, {} interest, {} principal",
            text("loan"),
            money("late_fee"),
            money("interest"),
            money("principal")
        ),
        "loan_repaid" => format!("loan {} is repaid in full", text("loan")),
        "claimed" => {
            let collateral = if event["collateral"].is_null() {
                String::new()
            } else {
                format!(" and {} of collateral", money("collateral"))
            };
            format!(
                "{} claimed {}{} from loan {}",
                text("lender"),
                money("amount"),
                collateral,
                text("loan")
            )
        }
        "defaulted" => {
            let collateral = if event["collateral"].is_null() {
                "no collateral".to_string()
            } else {
                format!("{} of collateral to the lenders", money("collateral"))
            };
            format!(
                "loan {} declared in default: {collateral}; {} still owed",
                text("loan"),
                money("debt")
            )
        }
        "validator_registered" => format!(
            "{} registered node {} as a validator with a bond of {}",
            text("account"),
            text("node_key"),
            money("bond")
        ),
        "validator_unbonding" => format!(
            "validator {} {}; the bond is free after {} ms",
            text("account"),
            if event["evicted"] == Value::Bool(true) {
                "was pushed out of the full registry by a larger bond"
            } else {
                "is unbonding"
            },
            text("bond_free_at_ms")
        ),
        "validator_withdrawn" => format!(
            "validator {} withdrew the bond of {}",
            text("account"),
            money("bond")
        ),
        "node_registered" => format!(
            "{} registered full node {} with a deposit of {}",
            text("owner"),
            text("node_key"),
            money("deposit")
        ),
        "node_unregistered" => format!(
            "full node {} {}; its deposit of {} went back to {}",
            text("node_key"),
            if event["evicted"] == Value::Bool(true) {
                "was pushed out of the full registry by a larger deposit"
            } else {
                "was unregistered"
            },
            money("deposit"),
            text("owner")
        ),
        other => other.replace('_', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::testing::{TestChain, account};
    use types::{
        Call,
        bank::{BankCall, Transfer},
        lending::{LendingCall, RequestLoan, Schedule},
    };

    #[test]
    fn events_are_typed_with_amounts_in_their_asset() {
        let mut chain = TestChain::new(3, 1_000_000_000_000);
        let receipt = chain.bank(
            0,
            BankCall::Transfer(Transfer {
                to: account(1),
                asset: AssetId::NATIVE,
                amount: 2_500_000_000,
            }),
        );
        let event = event_json(&chain.store, &receipt.events[0]);
        assert_eq!(event["kind"], "transferred");
        assert_eq!(event["from"], account(0).to_string());
        assert_eq!(event["amount"]["amount"], "2.5");
        assert_eq!(event["amount"]["symbol"], "EQA");
        assert_eq!(event["amount"]["minor_units"], "2500000000");
        assert_eq!(
            event["text"],
            format!("{} sent 2.5 EQA to {}", account(0), account(1))
        );

        // A lending event names its loan's asset, and its state by name.
        let receipt = chain.submit(
            0,
            Call::Lending(LendingCall::RequestLoan(RequestLoan {
                asset: AssetId::NATIVE,
                principal: 1_000_000_000,
                rate_bps: 1_000,
                term_days: 30,
                schedule: Schedule::Bullet,
                collateral: None,
                funding_deadline_ms: chain.time_ms + 86_400_000,
                min_fill: 1_000_000_000,
            })),
        );
        assert!(receipt.is_success(), "{receipt:?}");
        let event = event_json(&chain.store, &receipt.events[0]);
        assert_eq!(event["kind"], "loan_requested");
        assert_eq!(event["loan"], 1);
        let funded = Event::Lending(LendingEvent::Funded {
            loan: 1,
            lender: account(1),
            amount: 1_000_000_000,
        });
        let event = event_json(&chain.store, &funded);
        assert_eq!(event["amount"]["amount"], "1");
        assert_eq!(
            event["text"],
            format!("{} funded loan 1 with 1 EQA", account(1))
        );
        let closed = Event::Lending(LendingEvent::RequestClosed {
            loan: 1,
            state: ledger::lending::LoanState::Expired,
        });
        assert_eq!(event_json(&chain.store, &closed)["state"], "expired");
    }

    #[test]
    fn every_kind_has_words_of_its_own() {
        // No event falls through to the fallback that only repeats its kind.
        let store = ledger::MemoryStore::new();
        let someone = account(7);
        let events = [
            Event::Market(MarketEvent::NoRuling { trade: 3 }),
            Event::Market(MarketEvent::KeyRevealed {
                trade: 3,
                by: Party::Buyer,
                to: someone,
            }),
            Event::Lending(LendingEvent::Defaulted {
                loan: 2,
                collateral: 0,
                debt: 5,
            }),
            Event::Lending(LendingEvent::Claimed {
                loan: 2,
                lender: someone,
                amount: 1,
                collateral: 0,
            }),
        ];
        for event in &events {
            let value = event_json(&store, event);
            let kind = value["kind"].as_str().unwrap().replace('_', " ");
            assert_ne!(value["text"], kind, "{value}");
            assert!(!value["text"].as_str().unwrap().contains("{"), "{value}");
        }
    }
}
