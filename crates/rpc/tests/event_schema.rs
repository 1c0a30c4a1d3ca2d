//! Receipts' events against the `Event` schema of the OpenRPC document: every kind of ledger
//! event, written by `event_json` over a store that has its assets and loans, fits the schema
//! that `rpc.discover` serves, and the schema describes every kind once.

use ledger::{
    Event, MemoryStore,
    lending::{LendingEvent, LoanState},
    market::{MarketEvent, TradeState},
    staking::StakingEvent,
    testing::{TestChain, account},
};
use rpc::{
    Backend, SubmitError,
    events::{KINDS, event_json},
    views::{BlockView, ReceiptView, StatusView},
};
use serde_json::Value;
use std::{collections::BTreeSet, sync::Arc};
use types::{
    AssetId, Call, SignedTransaction, Symbol, Text, TxId,
    bank::{BankCall, IssueAsset, Mint},
    lending::{Collateral, LendingCall, RequestLoan, Schedule},
    market::Party,
};

/// A backend with nothing in it: `rpc.discover` needs a module, not a chain.
struct Empty;

impl Backend for Empty {
    fn status(&self) -> StatusView {
        StatusView {
            chain_id: String::new(),
            role: "full".into(),
            height: 0,
            timestamp_ms: 0,
            state_root: String::new(),
            target_height: 0,
            peers: 0,
            mempool_size: 0,
            phase: "following".into(),
            sync: None,
        }
    }
    fn state(&self) -> Arc<MemoryStore> {
        Arc::new(MemoryStore::new())
    }
    fn block(&self, _: u64) -> Option<BlockView> {
        None
    }
    fn receipt(&self, _: &TxId) -> Option<ReceiptView> {
        None
    }
    fn submit(&self, _: SignedTransaction) -> Result<TxId, SubmitError> {
        Err(SubmitError::Busy("nothing is applied here".into()))
    }
}

async fn discover() -> Value {
    let module = rpc::server::module(Arc::new(Empty));
    module
        .call(
            rpc::method::DISCOVER,
            jsonrpsee::core::params::ArrayParams::new(),
        )
        .await
        .unwrap()
}

/// Checks `value` against `schema`, resolving `$ref`s in `document`. Knows only the keywords
/// the event schemas and Money use, and refuses any other rather than passing it unread.
fn validate(document: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = schema
        .as_object()
        .ok_or(format!("{at}: schema is no object"))?;
    for (keyword, expected) in schema {
        match keyword.as_str() {
            "description" | "title" | "format" => {}
            "$ref" => {
                let pointer = expected.as_str().unwrap().trim_start_matches('#');
                let target = document
                    .pointer(pointer)
                    .ok_or(format!("{at}: no {pointer} in the document"))?;
                validate(document, target, value, at)?;
            }
            "oneOf" => {
                let fits = expected
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|option| validate(document, option, value, at).is_ok())
                    .count();
                if fits != 1 {
                    return Err(format!("{at}: {value} fits {fits} of oneOf, not one"));
                }
            }
            "type" => {
                let fits = match expected.as_str().unwrap() {
                    "object" => value.is_object(),
                    "string" => value.is_string(),
                    "integer" => value.is_u64() || value.is_i64(),
                    "boolean" => value.is_boolean(),
                    "null" => value.is_null(),
                    "array" => value.is_array(),
                    other => return Err(format!("{at}: unknown type {other}")),
                };
                if !fits {
                    return Err(format!("{at}: {value} is not of type {expected}"));
                }
            }
            "const" if value != expected => {
                return Err(format!("{at}: {value} is not {expected}"));
            }
            "const" => {}
            "minimum" | "maximum" => {
                let (number, bound) = (value.as_f64(), expected.as_f64().unwrap());
                let fits = match (number, keyword.as_str()) {
                    (None, _) => true,
                    (Some(number), "minimum") => number >= bound,
                    (Some(number), _) => number <= bound,
                };
                if !fits {
                    return Err(format!("{at}: {value} is out of {keyword} {bound}"));
                }
            }
            "pattern" => {
                // Only anchored literal prefixes, which is all the schema uses.
                let pattern = expected.as_str().unwrap();
                let prefix = pattern
                    .strip_prefix('^')
                    .filter(|rest| rest.chars().all(char::is_alphanumeric))
                    .ok_or(format!("{at}: unsupported pattern {pattern}"))?;
                if value.as_str().is_some_and(|text| !text.starts_with(prefix)) {
                    return Err(format!("{at}: {value} does not match {pattern}"));
                }
            }
            "required" => {
                for name in expected.as_array().unwrap() {
                    let name = name.as_str().unwrap();
                    if value.as_object().is_some_and(|o| !o.contains_key(name)) {
                        return Err(format!("{at}: {name} is missing"));
                    }
                }
            }
            "properties" => {
                let Some(object) = value.as_object() else {
                    continue;
                };
                for (name, property) in expected.as_object().unwrap() {
                    if let Some(field) = object.get(name) {
                        validate(document, property, field, &format!("{at}.{name}"))?;
                    }
                }
            }
            "additionalProperties" => {
                assert_eq!(expected, &Value::Bool(false), "{at}: only `false` is known");
                let known = schema.get("properties").and_then(Value::as_object);
                if let Some(object) = value.as_object() {
                    for name in object.keys() {
                        if !known.is_some_and(|known| known.contains_key(name)) {
                            return Err(format!("{at}: {name} is not described"));
                        }
                    }
                }
            }
            other => return Err(format!("{at}: the validator does not know {other}")),
        }
    }
    Ok(())
}

/// The kind each ledger event is written as. No wildcard: a new event fails to compile here
/// until it is named, and the tests below then want it in the schema and among the samples.
fn kind_of(event: &Event) -> &'static str {
    match event {
        Event::Transferred { .. } => "transferred",
        Event::AssetIssued { .. } => "asset_issued",
        Event::Minted { .. } => "minted",
        Event::Burned { .. } => "burned",
        Event::Market(event) => match event {
            MarketEvent::OfferCreated { .. } => "offer_created",
            MarketEvent::OfferUpdated { .. } => "offer_updated",
            MarketEvent::OfferClosed { .. } => "offer_closed",
            MarketEvent::TradeOpened { .. } => "trade_opened",
            MarketEvent::TradeStateChanged { .. } => "trade_state_changed",
            MarketEvent::Settled { .. } => "settled",
            MarketEvent::ArbitratorRequested { .. } => "arbitrator_requested",
            MarketEvent::NoRuling { .. } => "no_ruling",
            MarketEvent::ArbitratorRegistered { .. } => "arbitrator_registered",
            MarketEvent::ArbitratorLeaving { .. } => "arbitrator_leaving",
            MarketEvent::BondWithdrawn { .. } => "bond_withdrawn",
            MarketEvent::MessagePosted { .. } => "message_posted",
            MarketEvent::KeyRevealed { .. } => "key_revealed",
            MarketEvent::Rated { .. } => "rated",
            MarketEvent::ProfileSet { .. } => "profile_set",
        },
        Event::Lending(event) => match event {
            LendingEvent::LoanRequested { .. } => "loan_requested",
            LendingEvent::Funded { .. } => "funded",
            LendingEvent::Withdrawn { .. } => "withdrawn",
            LendingEvent::Activated { .. } => "activated",
            LendingEvent::RequestClosed { .. } => "request_closed",
            LendingEvent::CreditOffered { .. } => "credit_offered",
            LendingEvent::CreditClosed { .. } => "credit_closed",
            LendingEvent::Repaid { .. } => "repaid",
            LendingEvent::LoanRepaid { .. } => "loan_repaid",
            LendingEvent::Claimed { .. } => "claimed",
            LendingEvent::Defaulted { .. } => "defaulted",
        },
        Event::Staking(event) => match event {
            StakingEvent::ValidatorRegistered { .. } => "validator_registered",
            StakingEvent::ValidatorUnbonding { .. } => "validator_unbonding",
            StakingEvent::BondWithdrawn { .. } => "validator_withdrawn",
            StakingEvent::NodeRegistered { .. } => "node_registered",
            StakingEvent::NodeUnregistered { .. } => "node_unregistered",
        },
    }
}

const USDX: AssetId = AssetId(1);

/// A chain where account 0 issued USDX and loan 1 (in EQA) is secured with USDX, so amounts of
/// both assets and of a loan's collateral are worded from the store. Returns the events its
/// own transactions emitted, too.
fn chain() -> (TestChain, Vec<Event>) {
    let mut chain = TestChain::new(3, 1_000_000_000_000);
    let mut emitted = Vec::new();
    let issue = BankCall::IssueAsset(IssueAsset {
        symbol: Symbol::new("USDX").unwrap(),
        name: Text::new("Dollar").unwrap(),
        decimals: 6,
        max_supply: None,
    });
    let mint = BankCall::Mint(Mint {
        asset: USDX,
        to: account(1),
        amount: 5_000_000,
    });
    for call in [issue, mint] {
        let receipt = chain.bank(0, call);
        assert!(receipt.is_success(), "{receipt:?}");
        emitted.extend(receipt.events);
    }
    let request = LendingCall::RequestLoan(RequestLoan {
        asset: AssetId::NATIVE,
        principal: 1_000_000_000,
        rate_bps: 1_000,
        term_days: 30,
        schedule: Schedule::Bullet,
        collateral: Some(Collateral {
            asset: USDX,
            amount: 2_000_000,
        }),
        funding_deadline_ms: chain.time_ms + 86_400_000,
        min_fill: 1_000_000_000,
    });
    let receipt = chain.submit(1, Call::Lending(request));
    assert!(receipt.is_success(), "{receipt:?}");
    emitted.extend(receipt.events);
    (chain, emitted)
}

/// One event of every kind (and both faces of the ones with optional money).
fn samples() -> Vec<Event> {
    let (a, b) = (account(1), account(2));
    let market = |event| Event::Market(event);
    let lending = |event| Event::Lending(event);
    vec![
        Event::Transferred {
            from: a,
            to: b,
            asset: USDX,
            amount: 1_500_000,
        },
        Event::AssetIssued {
            asset: USDX,
            symbol: Symbol::new("USDX").unwrap(),
            issuer: a,
        },
        Event::Minted {
            asset: USDX,
            to: b,
            amount: 1,
        },
        Event::Burned {
            asset: AssetId::NATIVE,
            from: a,
            amount: 7,
        },
        market(MarketEvent::OfferCreated { offer: 1, maker: a }),
        market(MarketEvent::OfferUpdated {
            offer: 1,
            revision: 2,
        }),
        market(MarketEvent::OfferClosed {
            offer: 1,
            asset: USDX,
            returned: 3,
        }),
        market(MarketEvent::TradeOpened {
            trade: 1,
            offer: 1,
            buyer: a,
            seller: b,
            asset: USDX,
            amount: 4,
        }),
        market(MarketEvent::TradeStateChanged {
            trade: 1,
            state: TradeState::TimedOut,
        }),
        market(MarketEvent::Settled {
            trade: 1,
            to_buyer: 1,
            to_seller: 2,
            to_arbitrator: 0,
        }),
        market(MarketEvent::ArbitratorRequested { trade: 1 }),
        market(MarketEvent::NoRuling { trade: 1 }),
        market(MarketEvent::ArbitratorRegistered {
            arbitrator: b,
            bond: 10,
        }),
        market(MarketEvent::ArbitratorLeaving {
            arbitrator: b,
            bond_free_at_ms: 1_700_000_000_000,
        }),
        market(MarketEvent::BondWithdrawn {
            arbitrator: b,
            bond: 10,
        }),
        market(MarketEvent::MessagePosted {
            trade: 1,
            index: 0,
            sender: a,
        }),
        market(MarketEvent::KeyRevealed {
            trade: 1,
            by: Party::Seller,
            to: b,
        }),
        market(MarketEvent::Rated {
            trade: 1,
            rater: a,
            stars: 5,
            counted: false,
        }),
        market(MarketEvent::ProfileSet { account: a }),
        lending(LendingEvent::LoanRequested {
            loan: 1,
            borrower: a,
        }),
        lending(LendingEvent::Funded {
            loan: 1,
            lender: b,
            amount: 5,
        }),
        lending(LendingEvent::Withdrawn {
            loan: 1,
            lender: b,
            amount: 5,
        }),
        lending(LendingEvent::Activated {
            loan: 1,
            principal: 5,
        }),
        lending(LendingEvent::RequestClosed {
            loan: 1,
            state: LoanState::Cancelled,
        }),
        lending(LendingEvent::CreditOffered {
            offer: 1,
            lender: b,
        }),
        lending(LendingEvent::CreditClosed {
            offer: 1,
            asset: USDX,
            returned: 6,
        }),
        lending(LendingEvent::Repaid {
            loan: 1,
            late_fee: 0,
            interest: 1,
            principal: 2,
        }),
        lending(LendingEvent::LoanRepaid { loan: 1 }),
        // Loan 1 is secured, so its collateral is money; loan 9 does not exist, so it is null.
        lending(LendingEvent::Claimed {
            loan: 1,
            lender: b,
            amount: 3,
            collateral: 1_000_000,
        }),
        lending(LendingEvent::Claimed {
            loan: 9,
            lender: b,
            amount: 3,
            collateral: 0,
        }),
        lending(LendingEvent::Defaulted {
            loan: 1,
            collateral: 2_000_000,
            debt: 8,
        }),
        lending(LendingEvent::Defaulted {
            loan: 9,
            collateral: 0,
            debt: 8,
        }),
        Event::Staking(StakingEvent::ValidatorRegistered {
            account: a,
            node_key: b,
            bond: 10,
        }),
        Event::Staking(StakingEvent::ValidatorUnbonding {
            account: a,
            bond_free_at_ms: 1_700_000_000_000,
            evicted: true,
        }),
        Event::Staking(StakingEvent::BondWithdrawn {
            account: a,
            bond: 10,
        }),
        Event::Staking(StakingEvent::NodeRegistered {
            owner: a,
            node_key: b,
            deposit: 10,
        }),
        Event::Staking(StakingEvent::NodeUnregistered {
            owner: a,
            node_key: b,
            deposit: 10,
            evicted: false,
        }),
    ]
}

#[tokio::test]
async fn every_event_fits_the_discovered_schema() {
    let document = discover().await;
    let schemas = &document["components"]["schemas"];
    assert_eq!(
        schemas["ReceiptView"]["properties"]["events"]["items"]["$ref"],
        "#/components/schemas/Event",
        "{}",
        schemas["ReceiptView"]
    );
    let schema = &schemas["Event"];
    let (chain, emitted) = chain();
    let events: Vec<Event> = samples().into_iter().chain(emitted).collect();
    for event in &events {
        let value = event_json(&chain.store, event);
        assert_eq!(value["kind"], kind_of(event), "{value}");
        if let Err(error) = validate(&document, schema, &value, "event") {
            panic!("{error}\n{value:#}");
        }
    }
    // The store named the amounts: USDX with its decimals, a secured loan's collateral as money.
    let claimed = events
        .iter()
        .map(|event| event_json(&chain.store, event))
        .find(|value| value["kind"] == "claimed" && value["loan"] == 1)
        .unwrap();
    assert_eq!(claimed["collateral"]["symbol"], "USDX");
    assert_eq!(claimed["collateral"]["amount"], "1");
}

#[tokio::test]
async fn the_schema_refuses_events_of_another_shape() {
    // The validator and schema would pass anything if either were broken: show they do not.
    let document = discover().await;
    let schema = &document["components"]["schemas"]["Event"];
    let (chain, _) = chain();
    let transferred = event_json(
        &chain.store,
        &Event::Transferred {
            from: account(1),
            to: account(2),
            asset: USDX,
            amount: 1,
        },
    );
    let broken = |change: &dyn Fn(&mut Value)| {
        let mut value = transferred.clone();
        change(&mut value);
        validate(&document, schema, &value, "event")
    };
    assert!(broken(&|_| {}).is_ok());
    assert!(broken(&|v| v["from"] = "0x12".into()).is_err());
    assert!(broken(&|v| v["amount"] = "1".into()).is_err());
    assert!(broken(&|v| v["amount"] = Value::Null).is_err());
    assert!(broken(&|v| v["kind"] = "burned".into()).is_err());
    assert!(broken(&|v| v["extra"] = 1.into()).is_err());
    assert!(broken(&|v| drop(v.as_object_mut().unwrap().remove("text"))).is_err());
    assert!(broken(&|v| v["amount"]["minor_units"] = 1.into()).is_err());
}

#[tokio::test]
async fn the_schema_describes_every_kind_once() {
    let document = discover().await;
    let kinds: Vec<&str> = document["components"]["schemas"]["Event"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kind| kind["properties"]["kind"]["const"].as_str().unwrap())
        .collect();
    let described: BTreeSet<&str> = kinds.iter().copied().collect();
    assert_eq!(described.len(), kinds.len(), "a kind twice: {kinds:?}");
    let table: BTreeSet<&str> = KINDS.iter().map(|kind| kind.name).collect();
    assert_eq!(described, table);
    // Every ledger event's kind is described, and every described kind is some ledger event's.
    let sampled: BTreeSet<&str> = samples().iter().map(kind_of).collect();
    assert_eq!(described, sampled);
}
