//! The market module: every transition, every rejected transition (with its named error and with
//! no balance moved), deadlines, disputes, arbitrators, chat, ratings and reputation.

use ledger::{
    CallError, Event, Outcome, Receipt,
    market::{Db, MarketError, MarketEvent, TradeState, queries, standing},
    state,
    testing::{TestChain, account},
};
use types::{
    AssetId, Call, Symbol, Text,
    bank::{BankCall, IssueAsset, Mint},
    market::*,
};

const SELLER: u64 = 0;
const BUYER: u64 = 1;
const ARBITER_A: u64 = 2;
const ARBITER_B: u64 = 3;
const OUTSIDER: u64 = 4;
const ISSUER: u64 = 5;
/// 1,000 EQA: the default minimum arbitrator bond.
const BOND: u128 = 1_000_000_000_000;
const SEPA: u16 = 0;
const DAY_MS: u64 = 86_400_000;

struct Market {
    chain: TestChain,
    usd: AssetId,
}

fn market_call(call: MarketCall) -> Call {
    Call::Market(call)
}

impl Market {
    fn new() -> Self {
        let mut chain = TestChain::new(6, 100_000_000_000_000);
        let receipt = chain.bank(
            ISSUER,
            BankCall::IssueAsset(IssueAsset {
                symbol: Symbol::new("USDX").unwrap(),
                name: Text::new("Dollar").unwrap(),
                decimals: 6,
                max_supply: None,
            }),
        );
        let usd = match &receipt.events[..] {
            [Event::AssetIssued { asset, .. }] => *asset,
            other => panic!("{other:?}"),
        };
        for holder in [SELLER, BUYER, ARBITER_A, ARBITER_B, OUTSIDER] {
            let receipt = chain.bank(
                ISSUER,
                BankCall::Mint(Mint {
                    asset: usd,
                    to: account(holder),
                    amount: 1_000_000_000_000,
                }),
            );
            assert!(receipt.is_success());
        }
        let mut market = Self { chain, usd };
        for arbiter in [ARBITER_A, ARBITER_B] {
            market.ok(arbiter, register(BOND, 100));
        }
        market
    }

    fn submit(&mut self, signer: u64, call: MarketCall) -> Receipt {
        self.chain.submit(signer, market_call(call))
    }

    fn ok(&mut self, signer: u64, call: MarketCall) -> Vec<MarketEvent> {
        let receipt = self.submit(signer, call);
        assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
        receipt
            .events
            .into_iter()
            .filter_map(|event| match event {
                Event::Market(event) => Some(event),
                _ => None,
            })
            .collect()
    }

    /// Runs a call that must fail with `expected`, and checks nothing but fee and nonce changed.
    fn fails(&mut self, signer: u64, call: MarketCall, expected: MarketError) {
        let before = self.chain.snapshot_except_fee(signer);
        let receipt = self.submit(signer, call);
        assert_eq!(
            receipt.outcome,
            Outcome::Failed(CallError::Market(expected)),
            "{receipt:?}"
        );
        assert_eq!(
            self.chain.snapshot_except_fee(signer),
            before,
            "nothing moved"
        );
    }

    /// An empty block, in which the arbitrator picks the previous block asked for are made.
    fn next_block(&mut self) {
        assert!(self.chain.apply(&[]).is_empty());
    }

    fn usd(&self, who: u64) -> u128 {
        self.chain.balance(who, self.usd)
    }

    fn sell_offer(&self, min: u128, max: u128) -> CreateOffer {
        CreateOffer {
            side: Side::Sell,
            asset: self.usd,
            fiat: Fiat::new("EUR").unwrap(),
            price: 92,
            min_amount: min,
            max_amount: max,
            methods: vec![PaymentMethod::Registered(SEPA)],
            payment_window_secs: 3_600,
            terms: Text::new("SEPA only, reference = trade id").unwrap(),
            buyer_deposit_bps: 1_500,
            seller_deposit_bps: 1_000,
            min_taker_trades: 0,
            min_taker_tier: 0,
        }
    }

    fn create(&mut self, maker: u64, offer: CreateOffer) -> u64 {
        match &self.ok(maker, MarketCall::CreateOffer(offer))[..] {
            [MarketEvent::OfferCreated { offer, .. }] => *offer,
            other => panic!("{other:?}"),
        }
    }

    fn take(&mut self, taker: u64, offer: u64, amount: u128) -> u64 {
        let events = self.ok(
            taker,
            MarketCall::TakeOffer(TakeOffer {
                offer,
                revision: 0,
                amount,
                method: PaymentMethod::Registered(SEPA),
            }),
        );
        events
            .iter()
            .find_map(|event| match event {
                MarketEvent::TradeOpened { trade, .. } => Some(*trade),
                _ => None,
            })
            .expect("a trade opened")
    }

    fn trade(&self, id: u64) -> ledger::market::Trade {
        Db::trade(&self.chain.store, id).unwrap()
    }

    /// A sell offer of 100 USDX taken whole by the buyer.
    fn open_trade(&mut self) -> u64 {
        let offer = self.create(SELLER, self.sell_offer(10_000_000, 100_000_000));
        self.take(BUYER, offer, 100_000_000)
    }

    fn paid_trade(&mut self) -> u64 {
        let trade = self.open_trade();
        self.ok(BUYER, mark_paid(trade));
        trade
    }
}

fn register(bond: u128, fee_bps: u16) -> MarketCall {
    MarketCall::RegisterArbitrator(RegisterArbitrator {
        bond,
        fee_bps,
        languages: Text::new("en").unwrap(),
    })
}

fn mark_paid(trade: u64) -> MarketCall {
    MarketCall::MarkPaid(MarkPaid {
        trade,
        payer_commitment: None,
    })
}

fn t(trade: u64) -> TradeRef {
    TradeRef { trade }
}

#[test]
fn sell_offer_full_cycle_moves_exactly_the_amount() {
    let mut m = Market::new();
    let (seller0, buyer0) = (m.usd(SELLER), m.usd(BUYER));
    let offer = m.create(SELLER, m.sell_offer(10_000_000, 100_000_000));
    // Inventory plus a 10% seller deposit are locked at once.
    assert_eq!(m.usd(SELLER), seller0 - 110_000_000);
    let trade = m.take(BUYER, offer, 100_000_000);
    // The buyer's 15% deposit is locked on take; the offer is used up and closed.
    assert_eq!(m.usd(BUYER), buyer0 - 15_000_000);
    assert!(Db::offer(&m.chain.store, offer).is_none());
    let record = m.trade(trade);
    assert_eq!(record.state, TradeState::AwaitingPayment);
    assert_eq!(
        (record.buyer_deposit, record.seller_deposit),
        (15_000_000, 10_000_000)
    );
    assert_eq!(
        record.fiat_amount, 9_200,
        "100 USDX at 0.92 EUR = 92.00 EUR"
    );
    // SEPA's registry window (6 days) is longer than the offer's hour, so it applies.
    assert_eq!(record.payment_deadline_ms - record.created_ms, 6 * DAY_MS);

    m.ok(BUYER, mark_paid(trade));
    assert_eq!(m.trade(trade).state, TradeState::Paid);
    let events = m.ok(SELLER, MarketCall::Release(t(trade)));
    assert!(events.contains(&MarketEvent::Settled {
        trade,
        to_buyer: 115_000_000,
        to_seller: 10_000_000,
        to_arbitrator: 0
    }));
    assert_eq!(m.usd(BUYER), buyer0 + 100_000_000);
    assert_eq!(m.usd(SELLER), seller0 - 100_000_000);
    assert_eq!(m.trade(trade).state, TradeState::Completed);
    assert_eq!(
        state::held(&m.chain.store, state::Module::Market, m.usd),
        0,
        "nothing is left in escrow"
    );
    let seller = standing(
        &m.chain.store,
        &ledger::market::params::load(&m.chain.store),
        &account(SELLER),
        m.chain.time_ms,
    );
    assert_eq!(seller.completed, 1);
    assert!(seller.median_release_ms.is_some());
}

#[test]
fn buy_offer_cycle() {
    let mut m = Market::new();
    let (seller0, buyer0) = (m.usd(SELLER), m.usd(BUYER));
    let mut create = m.sell_offer(10_000_000, 50_000_000);
    create.side = Side::Buy;
    let offer = m.create(BUYER, create);
    // A buy offer locks only the maker's buyer deposit.
    assert_eq!(m.usd(BUYER), buyer0 - 7_500_000);
    let trade = m.take(SELLER, offer, 50_000_000);
    assert_eq!(m.usd(SELLER), seller0 - 55_000_000);
    m.ok(BUYER, mark_paid(trade));
    m.ok(SELLER, MarketCall::Release(t(trade)));
    assert_eq!(m.usd(BUYER), buyer0 + 50_000_000);
    assert_eq!(m.usd(SELLER), seller0 - 50_000_000);
}

#[test]
fn partial_takes_share_the_deposit_without_dust() {
    let mut m = Market::new();
    let seller0 = m.usd(SELLER);
    let mut create = m.sell_offer(1, 1_000);
    create.seller_deposit_bps = 1_500;
    let offer = m.create(SELLER, create);
    assert_eq!(seller0 - m.usd(SELLER), 1_150);
    let trades: Vec<u64> = [333, 333, 334]
        .iter()
        .map(|amount| m.take(BUYER, offer, *amount))
        .collect();
    let deposits: Vec<u128> = trades
        .iter()
        .map(|id| m.trade(*id).seller_deposit)
        .collect();
    assert_eq!(deposits, vec![49, 50, 51]);
    assert_eq!(deposits.iter().sum::<u128>(), 150);
    assert!(
        Db::offer(&m.chain.store, offer).is_none(),
        "exhausted offers close"
    );
}

#[test]
fn cancelling_an_offer_returns_what_is_not_in_a_trade() {
    let mut m = Market::new();
    let seller0 = m.usd(SELLER);
    let offer = m.create(SELLER, m.sell_offer(10_000_000, 100_000_000));
    let trade = m.take(BUYER, offer, 40_000_000);
    let events = m.ok(SELLER, MarketCall::CancelOffer(OfferRef { offer }));
    assert_eq!(
        events,
        vec![MarketEvent::OfferClosed {
            offer,
            asset: m.usd,
            returned: 66_000_000
        }]
    );
    // Only the live trade's share (40 + 4 deposit) is still out.
    assert_eq!(seller0 - m.usd(SELLER), 44_000_000);
    m.ok(BUYER, mark_paid(trade));
    m.ok(SELLER, MarketCall::Release(t(trade)));
    assert_eq!(seller0 - m.usd(SELLER), 40_000_000);
}

#[test]
fn updating_an_offer_locks_or_releases_the_difference() {
    let mut m = Market::new();
    let seller0 = m.usd(SELLER);
    let offer = m.create(SELLER, m.sell_offer(10_000_000, 100_000_000));
    let update = |max| {
        MarketCall::UpdateOffer(UpdateOffer {
            offer,
            price: 95,
            min_amount: 10_000_000,
            max_amount: max,
            methods: vec![PaymentMethod::Registered(SEPA)],
            payment_window_secs: 3_600,
            terms: Text::new("").unwrap(),
        })
    };
    m.ok(SELLER, update(200_000_000));
    assert_eq!(seller0 - m.usd(SELLER), 220_000_000);
    m.ok(SELLER, update(50_000_000));
    assert_eq!(seller0 - m.usd(SELLER), 55_000_000);
    assert_eq!(Db::offer(&m.chain.store, offer).unwrap().price, 95);
    m.fails(BUYER, update(1), MarketError::NotMaker { offer });
    // The deposit is computed in 256 bits; only a total above u128::MAX overflows.
    m.fails(SELLER, update(u128::MAX), MarketError::ValueOverflow);
}

#[test]
fn offer_validation_rejects_bad_terms() {
    let mut m = Market::new();
    let base = m.sell_offer(10, 100);
    let mut cases: Vec<(CreateOffer, MarketError)> = Vec::new();
    let mut c = base.clone();
    c.price = 0;
    cases.push((c, MarketError::ZeroPrice));
    let mut c = base.clone();
    c.min_amount = 200;
    cases.push((
        c,
        MarketError::InvalidLimits {
            asset: m.usd,
            min: 200,
            max: 100,
        },
    ));
    let mut c = base.clone();
    c.min_amount = 0;
    cases.push((
        c,
        MarketError::InvalidLimits {
            asset: m.usd,
            min: 0,
            max: 100,
        },
    ));
    let mut c = base.clone();
    c.buyer_deposit_bps = 100;
    cases.push((
        c,
        MarketError::DepositOutOfRange {
            bps: 100,
            min: 300,
            max: 5_000,
        },
    ));
    let mut c = base.clone();
    c.seller_deposit_bps = 6_000;
    cases.push((
        c,
        MarketError::DepositOutOfRange {
            bps: 6_000,
            min: 300,
            max: 5_000,
        },
    ));
    let mut c = base.clone();
    c.payment_window_secs = 60;
    cases.push((
        c,
        MarketError::WindowOutOfRange {
            secs: 60,
            min: 900,
            max: 691_200,
        },
    ));
    let mut c = base.clone();
    c.methods = vec![PaymentMethod::Registered(999)];
    cases.push((c, MarketError::UnknownMethod { index: 999 }));
    let mut c = base.clone();
    c.fiat = Fiat::new("USD").unwrap();
    cases.push((
        c,
        MarketError::MethodCurrency {
            method: "SEPA".into(),
            fiat: Fiat::new("USD").unwrap(),
        },
    ));
    let mut c = base.clone();
    c.methods = vec![
        PaymentMethod::Registered(SEPA),
        PaymentMethod::Registered(SEPA),
    ];
    cases.push((c, MarketError::DuplicateMethod));
    let mut c = base.clone();
    c.asset = AssetId(77);
    cases.push((c, MarketError::UnknownAsset { asset: AssetId(77) }));
    let mut c = base.clone();
    c.max_amount = 10_000_000_000_000;
    let available = m.usd(SELLER);
    cases.push((
        c,
        MarketError::Bank(ledger::BankError::InsufficientBalance {
            account: account(SELLER),
            asset: m.usd,
            needed: 11_000_000_000_000,
            available,
        }),
    ));
    for (create, error) in cases {
        m.fails(SELLER, MarketCall::CreateOffer(create), error);
    }
}

#[test]
fn taking_checks_amount_method_requirements_and_limits() {
    let mut m = Market::new();
    let offer = m.create(SELLER, m.sell_offer(10_000_000, 100_000_000));
    let take = |amount, method| {
        MarketCall::TakeOffer(TakeOffer {
            offer,
            revision: 0,
            amount,
            method,
        })
    };
    m.fails(
        SELLER,
        take(20_000_000, PaymentMethod::Registered(SEPA)),
        MarketError::OwnOffer { offer },
    );
    m.fails(
        BUYER,
        take(5_000_000, PaymentMethod::Registered(SEPA)),
        MarketError::AmountOutOfRange {
            offer,
            asset: m.usd,
            amount: 5_000_000,
            min: 10_000_000,
            max: 100_000_000,
        },
    );
    m.fails(
        BUYER,
        take(200_000_000, PaymentMethod::Registered(SEPA)),
        MarketError::AmountOutOfRange {
            offer,
            asset: m.usd,
            amount: 200_000_000,
            min: 10_000_000,
            max: 100_000_000,
        },
    );
    m.fails(
        BUYER,
        take(20_000_000, PaymentMethod::Registered(1)),
        MarketError::MethodNotOffered { offer },
    );
    m.fails(
        BUYER,
        MarketCall::TakeOffer(TakeOffer {
            offer: 99,
            revision: 0,
            amount: 1,
            method: PaymentMethod::Registered(SEPA),
        }),
        MarketError::UnknownOffer { offer: 99 },
    );

    // Requirements: a minimum of completed trades and a minimum tier.
    let mut strict = m.sell_offer(10_000_000, 100_000_000);
    strict.min_taker_trades = 3;
    let strict_offer = m.create(SELLER, strict);
    m.fails(
        BUYER,
        MarketCall::TakeOffer(TakeOffer {
            offer: strict_offer,
            revision: 0,
            amount: 10_000_000,
            method: PaymentMethod::Registered(SEPA),
        }),
        MarketError::TooFewTrades {
            counted: 0,
            required: 3,
        },
    );
    let mut tiered = m.sell_offer(10_000_000, 100_000_000);
    tiered.min_taker_tier = 1;
    let tiered_offer = m.create(SELLER, tiered);
    m.fails(
        BUYER,
        MarketCall::TakeOffer(TakeOffer {
            offer: tiered_offer,
            revision: 0,
            amount: 10_000_000,
            method: PaymentMethod::Registered(SEPA),
        }),
        MarketError::TierTooLow {
            tier: 0,
            required: 1,
        },
    );
}

#[test]
fn new_buyers_are_held_to_the_method_limit_and_custom_methods_to_the_strictest() {
    let mut m = Market::new();
    // 1,000 USDX at 0.92 EUR = 920.00 EUR, above SEPA's new-account limit of 500.00 (high risk).
    let offer = m.create(SELLER, m.sell_offer(1_000_000, 1_000_000_000));
    m.fails(
        BUYER,
        MarketCall::TakeOffer(TakeOffer {
            offer,
            revision: 0,
            amount: 1_000_000_000,
            method: PaymentMethod::Registered(SEPA),
        }),
        MarketError::NewAccountLimit {
            counted: 0,
            counterparties: 0,
            fiat: Fiat::new("EUR").unwrap(),
            limit: 50_000,
            value: 92_000,
        },
    );
    // 500 USDX = 460.00 EUR is within it.
    m.take(BUYER, offer, 500_000_000);

    let mut custom = m.sell_offer(1_000_000, 1_000_000_000);
    let cash = PaymentMethod::Custom(Text::new("cash at the Tuesday market").unwrap());
    custom.methods = vec![cash.clone()];
    let custom_offer = m.create(SELLER, custom);
    m.fails(
        BUYER,
        MarketCall::TakeOffer(TakeOffer {
            offer: custom_offer,
            revision: 0,
            amount: 200_000_000,
            method: cash.clone(),
        }),
        MarketError::NewAccountLimit {
            counted: 0,
            counterparties: 0,
            fiat: Fiat::new("EUR").unwrap(),
            limit: 10_000,
            value: 18_400,
        },
    );
    m.ok(
        BUYER,
        MarketCall::TakeOffer(TakeOffer {
            offer: custom_offer,
            revision: 0,
            amount: 100_000_000,
            method: cash,
        }),
    );
}

#[test]
fn buyer_cancels_before_paying() {
    let mut m = Market::new();
    let (seller0, buyer0) = (m.usd(SELLER), m.usd(BUYER));
    let trade = m.open_trade();
    m.fails(
        SELLER,
        MarketCall::CancelTrade(t(trade)),
        MarketError::WrongParty {
            trade,
            account: account(SELLER),
            role: "buyer",
        },
    );
    m.ok(BUYER, MarketCall::CancelTrade(t(trade)));
    assert_eq!((m.usd(SELLER), m.usd(BUYER)), (seller0, buyer0));
    assert_eq!(m.trade(trade).state, TradeState::Cancelled);
    assert_eq!(
        Db::reputation(&m.chain.store, &account(BUYER)).cancellations,
        1
    );
    // A final trade accepts nothing more.
    m.fails(
        BUYER,
        MarketCall::CancelTrade(t(trade)),
        MarketError::WrongState {
            trade,
            state: "cancelled",
            expected: "awaiting payment",
        },
    );
    m.fails(
        SELLER,
        MarketCall::Release(t(trade)),
        MarketError::WrongState {
            trade,
            state: "cancelled",
            expected: "awaiting payment or paid",
        },
    );
    m.fails(
        BUYER,
        mark_paid(trade),
        MarketError::WrongState {
            trade,
            state: "cancelled",
            expected: "awaiting payment",
        },
    );
}

#[test]
fn payment_window_deadlines() {
    let mut m = Market::new();
    let seller0 = m.usd(SELLER);
    let trade = m.open_trade();
    let deadline = m.trade(trade).payment_deadline_ms;
    m.fails(
        SELLER,
        MarketCall::ClaimTimeout(t(trade)),
        MarketError::PaymentWindowOpen {
            trade,
            closes_at_ms: deadline,
        },
    );
    m.chain.advance_ms(6 * DAY_MS);
    m.fails(
        BUYER,
        mark_paid(trade),
        MarketError::PaymentWindowClosed {
            trade,
            closed_at_ms: deadline,
        },
    );
    m.fails(
        BUYER,
        MarketCall::ClaimTimeout(t(trade)),
        MarketError::WrongParty {
            trade,
            account: account(BUYER),
            role: "seller",
        },
    );
    m.ok(SELLER, MarketCall::ClaimTimeout(t(trade)));
    // The seller keeps the goods and takes the buyer's deposit.
    assert_eq!(m.usd(SELLER), seller0 + 15_000_000);
    assert_eq!(m.trade(trade).state, TradeState::TimedOut);
    assert_eq!(Db::reputation(&m.chain.store, &account(BUYER)).timeouts, 1);
}

#[test]
fn only_the_right_party_moves_a_trade() {
    let mut m = Market::new();
    let trade = m.open_trade();
    m.fails(
        SELLER,
        mark_paid(trade),
        MarketError::WrongParty {
            trade,
            account: account(SELLER),
            role: "buyer",
        },
    );
    m.fails(
        OUTSIDER,
        mark_paid(trade),
        MarketError::WrongParty {
            trade,
            account: account(OUTSIDER),
            role: "buyer",
        },
    );
    m.ok(BUYER, mark_paid(trade));
    m.fails(
        BUYER,
        MarketCall::Release(t(trade)),
        MarketError::WrongParty {
            trade,
            account: account(BUYER),
            role: "seller",
        },
    );
    m.fails(
        BUYER,
        MarketCall::CancelTrade(t(trade)),
        MarketError::WrongState {
            trade,
            state: "paid",
            expected: "awaiting payment",
        },
    );
    m.fails(
        SELLER,
        MarketCall::ClaimTimeout(t(trade)),
        MarketError::WrongState {
            trade,
            state: "paid",
            expected: "awaiting payment",
        },
    );
    m.fails(
        OUTSIDER,
        MarketCall::OpenDispute(types::market::OpenDispute::other(trade)),
        MarketError::WrongParty {
            trade,
            account: account(OUTSIDER),
            role: "buyer or seller",
        },
    );
    m.fails(
        SELLER,
        MarketCall::Release(t(99)),
        MarketError::UnknownTrade { trade: 99 },
    );
}

#[test]
fn disputes_freeze_the_trade_and_the_arbitrator_splits_the_escrow() {
    let mut m = Market::new();
    let (seller0, buyer0) = (m.usd(SELLER), m.usd(BUYER));
    let trade = m.paid_trade();
    // The buyer must give the seller the release window first.
    let opens = m.trade(trade).release_deadline_ms + 1;
    m.fails(
        BUYER,
        MarketCall::OpenDispute(types::market::OpenDispute::other(trade)),
        MarketError::ReleaseWindowOpen {
            trade,
            opens_at_ms: opens,
        },
    );
    // The seller may dispute at once; the arbitrator is picked at the next block.
    m.ok(
        SELLER,
        MarketCall::OpenDispute(types::market::OpenDispute::other(trade)),
    );
    m.next_block();
    let record = m.trade(trade);
    assert_eq!(record.state, TradeState::Disputed);
    let arbiter = record.arbitrator.expect("an arbitrator is assigned");
    assert!(arbiter == account(ARBITER_A) || arbiter == account(ARBITER_B));
    let (arbiter_index, other_index) = if arbiter == account(ARBITER_A) {
        (ARBITER_A, ARBITER_B)
    } else {
        (ARBITER_B, ARBITER_A)
    };

    // Frozen: neither party can move it.
    m.fails(
        SELLER,
        MarketCall::Release(t(trade)),
        MarketError::WrongState {
            trade,
            state: "disputed",
            expected: "awaiting payment or paid",
        },
    );
    m.fails(
        BUYER,
        MarketCall::OpenDispute(types::market::OpenDispute::other(trade)),
        MarketError::WrongState {
            trade,
            state: "disputed",
            expected: "paid",
        },
    );
    let rule = |amount_to_buyer, at_fault| {
        MarketCall::Rule(Rule {
            trade,
            amount_to_buyer,
            at_fault,
        })
    };
    m.fails(
        other_index,
        rule(0, Party::Buyer),
        MarketError::NotArbitrator {
            trade,
            account: account(other_index),
        },
    );
    m.fails(
        SELLER,
        rule(0, Party::Buyer),
        MarketError::NotArbitrator {
            trade,
            account: account(SELLER),
        },
    );
    m.fails(
        arbiter_index,
        rule(100_000_001, Party::Seller),
        MarketError::RulingTooLarge {
            asset: m.usd,
            amount_to_buyer: 100_000_001,
            amount: 100_000_000,
        },
    );

    let arbiter0 = m.usd(arbiter_index);
    // The seller is at fault: the buyer gets the goods, the fee (1% of 100) comes from the
    // seller's 10 deposit and the rest of it compensates the buyer.
    let events = m.ok(arbiter_index, rule(100_000_000, Party::Seller));
    assert!(events.contains(&MarketEvent::Settled {
        trade,
        to_buyer: 124_000_000,
        to_seller: 0,
        to_arbitrator: 1_000_000
    }));
    assert_eq!(m.usd(BUYER), buyer0 + 109_000_000);
    assert_eq!(m.usd(SELLER), seller0 - 110_000_000);
    assert_eq!(m.usd(arbiter_index), arbiter0 + 1_000_000);
    let reputation = Db::reputation(&m.chain.store, &account(SELLER));
    assert_eq!(
        (reputation.disputes_opened, reputation.disputes_lost),
        (1, 1)
    );
    assert_eq!(
        Db::reputation(&m.chain.store, &account(BUYER)).disputes_won,
        1
    );
    let stats = queries::arbitrators(&m.chain.store);
    let stats = stats
        .iter()
        .find(|s| s.arbitrator.account == arbiter)
        .unwrap();
    assert_eq!(
        (
            stats.arbitrator.cases,
            stats.arbitrator.rulings,
            stats.arbitrator.open_cases
        ),
        (1, 1, 0)
    );
    assert!(stats.median_ruling_ms.is_some());
}

#[test]
fn buyer_can_dispute_after_the_release_window() {
    let mut m = Market::new();
    let trade = m.paid_trade();
    m.chain.advance_ms(DAY_MS);
    m.ok(
        BUYER,
        MarketCall::OpenDispute(types::market::OpenDispute::other(trade)),
    );
    assert_eq!(m.trade(trade).dispute_opened_by, Some(Party::Buyer));
}

#[test]
fn missed_ruling_deadlines_are_reassigned_to_someone_else() {
    let mut m = Market::new();
    let trade = m.paid_trade();
    m.ok(
        SELLER,
        MarketCall::OpenDispute(types::market::OpenDispute::other(trade)),
    );
    m.next_block();
    let first = m.trade(trade).arbitrator.unwrap();
    let deadline = m.trade(trade).ruling_deadline_ms;
    m.fails(
        OUTSIDER,
        MarketCall::Reassign(t(trade)),
        MarketError::RulingWindowOpen {
            trade,
            deadline_ms: deadline,
        },
    );
    m.chain.advance_ms(3 * DAY_MS);
    m.ok(OUTSIDER, MarketCall::Reassign(t(trade)));
    m.next_block();
    let second = m.trade(trade).arbitrator.unwrap();
    assert_ne!(first, second);
    assert_eq!(m.trade(trade).reassigned, vec![first]);
    let first_record = Db::arbitrator(&m.chain.store, &first).unwrap();
    assert_eq!(
        (first_record.reassignments, first_record.open_cases),
        (1, 0)
    );
    // The first arbitrator can no longer rule.
    let first_index = if first == account(ARBITER_A) {
        ARBITER_A
    } else {
        ARBITER_B
    };
    m.fails(
        first_index,
        MarketCall::Rule(Rule {
            trade,
            amount_to_buyer: 0,
            at_fault: Party::Buyer,
        }),
        MarketError::NotArbitrator {
            trade,
            account: first,
        },
    );
    // Someone who registers meanwhile is the only one left who was not reassigned away, so
    // the next reassignment goes to them.
    m.ok(OUTSIDER, register(BOND, 50));
    m.chain.advance_ms(3 * DAY_MS + 1);
    m.ok(BUYER, MarketCall::Reassign(t(trade)));
    m.next_block();
    assert_eq!(m.trade(trade).arbitrator, Some(account(OUTSIDER)));
    assert_eq!(m.trade(trade).reassigned, vec![first, second]);
}

#[test]
fn parties_are_never_their_own_arbitrator() {
    let mut m = Market::new();
    // Arbiter A trades with arbiter B: neither can be chosen, and nobody else is registered.
    let offer = m.create(ARBITER_A, m.sell_offer(10_000_000, 100_000_000));
    let trade = m.take(ARBITER_B, offer, 50_000_000);
    m.ok(ARBITER_B, mark_paid(trade));
    m.ok(
        ARBITER_A,
        MarketCall::OpenDispute(types::market::OpenDispute::other(trade)),
    );
    m.next_block();
    assert_eq!(m.trade(trade).arbitrator, None);
    m.fails(
        ARBITER_B,
        MarketCall::RevealKey(RevealKey {
            trade,
            encrypted_key: vec![1; 80],
        }),
        MarketError::NoArbitrator { trade },
    );
    m.fails(
        ARBITER_A,
        MarketCall::Rule(Rule {
            trade,
            amount_to_buyer: 0,
            at_fault: Party::Buyer,
        }),
        MarketError::NotArbitrator {
            trade,
            account: account(ARBITER_A),
        },
    );
}

#[test]
fn arbitrator_registration_and_bond_withdrawal() {
    let mut m = Market::new();
    m.fails(
        OUTSIDER,
        register(BOND - 1, 100),
        MarketError::BondTooSmall {
            bond: BOND - 1,
            minimum: BOND,
        },
    );
    m.fails(
        OUTSIDER,
        register(BOND, 501),
        MarketError::FeeTooHigh {
            fee_bps: 501,
            max: 500,
        },
    );
    m.fails(
        ARBITER_A,
        register(BOND, 100),
        MarketError::AlreadyArbitrator {
            account: account(ARBITER_A),
        },
    );
    m.fails(
        OUTSIDER,
        MarketCall::UnregisterArbitrator(Nothing),
        MarketError::UnknownArbitrator {
            account: account(OUTSIDER),
        },
    );
    m.fails(
        ARBITER_A,
        MarketCall::WithdrawBond(Nothing),
        MarketError::NotLeaving,
    );

    // Give arbiter A an open case: make B the only other choice unavailable by having B trade.
    let offer = m.create(SELLER, m.sell_offer(10_000_000, 100_000_000));
    let trade = m.take(ARBITER_B, offer, 50_000_000);
    m.ok(ARBITER_B, mark_paid(trade));
    m.ok(
        SELLER,
        MarketCall::OpenDispute(types::market::OpenDispute::other(trade)),
    );
    m.next_block();
    assert_eq!(m.trade(trade).arbitrator, Some(account(ARBITER_A)));

    let eqa_before = m.chain.balance(ARBITER_A, AssetId::NATIVE);
    let events = m.ok(ARBITER_A, MarketCall::UnregisterArbitrator(Nothing));
    let free_at = match events[..] {
        [
            MarketEvent::ArbitratorLeaving {
                bond_free_at_ms, ..
            },
        ] => bond_free_at_ms,
        _ => panic!("{events:?}"),
    };
    m.fails(
        ARBITER_A,
        MarketCall::UnregisterArbitrator(Nothing),
        MarketError::AlreadyLeaving,
    );
    m.fails(
        ARBITER_A,
        MarketCall::WithdrawBond(Nothing),
        MarketError::CooldownRunning {
            free_at_ms: free_at,
        },
    );
    m.chain.advance_ms(7 * DAY_MS);
    m.fails(
        ARBITER_A,
        MarketCall::WithdrawBond(Nothing),
        MarketError::OpenCases { open_cases: 1 },
    );
    m.ok(
        ARBITER_A,
        MarketCall::Rule(Rule {
            trade,
            amount_to_buyer: 50_000_000,
            at_fault: Party::Seller,
        }),
    );
    let receipt = m.submit(ARBITER_A, MarketCall::WithdrawBond(Nothing));
    assert!(receipt.is_success());
    // Three transactions' fees were paid meanwhile; the bond came back.
    assert!(m.chain.balance(ARBITER_A, AssetId::NATIVE) > eqa_before);
    assert!(Db::arbitrator(&m.chain.store, &account(ARBITER_A)).is_none());
    assert!(!Db::arbitrators(&m.chain.store).contains(&account(ARBITER_A)));
}

fn post(trade: u64, bytes: usize) -> MarketCall {
    MarketCall::PostMessage(PostMessage {
        trade,
        ciphertext: vec![7u8; bytes],
    })
}

#[test]
fn chat_is_for_the_parties_and_the_assigned_arbitrator() {
    let mut m = Market::new();
    let trade = m.paid_trade();
    m.ok(BUYER, post(trade, 100));
    m.ok(SELLER, post(trade, 4_096));
    m.fails(
        OUTSIDER,
        post(trade, 10),
        MarketError::WrongParty {
            trade,
            account: account(OUTSIDER),
            role: "buyer, seller or assigned arbitrator",
        },
    );
    m.fails(
        ARBITER_A,
        post(trade, 10),
        MarketError::WrongParty {
            trade,
            account: account(ARBITER_A),
            role: "buyer, seller or assigned arbitrator",
        },
    );
    m.fails(
        BUYER,
        MarketCall::RevealKey(RevealKey {
            trade,
            encrypted_key: vec![1; 80],
        }),
        MarketError::WrongState {
            trade,
            state: "paid",
            expected: "disputed",
        },
    );
    m.ok(
        SELLER,
        MarketCall::OpenDispute(types::market::OpenDispute::other(trade)),
    );
    m.next_block();
    let arbiter = m.trade(trade).arbitrator.unwrap();
    let arbiter_index = if arbiter == account(ARBITER_A) {
        ARBITER_A
    } else {
        ARBITER_B
    };
    m.ok(arbiter_index, post(trade, 20));
    m.ok(
        BUYER,
        MarketCall::RevealKey(RevealKey {
            trade,
            encrypted_key: vec![1; 80],
        }),
    );
    m.fails(
        BUYER,
        MarketCall::RevealKey(RevealKey {
            trade,
            encrypted_key: vec![1; 80],
        }),
        MarketError::AlreadyRevealed {
            trade,
            arbitrator: arbiter,
        },
    );
    let messages: Vec<_> = (0..3)
        .map(|i| Db::message(&m.chain.store, trade, i).unwrap())
        .collect();
    assert_eq!(messages[0].sender, account(BUYER));
    assert_eq!(messages[1].ciphertext.len(), 4_096);
    assert_eq!(messages[2].sender, arbiter);
    m.ok(
        arbiter_index,
        MarketCall::Rule(Rule {
            trade,
            amount_to_buyer: 0,
            at_fault: Party::Buyer,
        }),
    );
    m.fails(BUYER, post(trade, 10), MarketError::ChatClosed { trade });
}

#[test]
fn chat_is_bounded_in_size_and_count() {
    use types::codec::{Encode, decode};
    // A 4,097-byte message cannot even be decoded.
    let bytes = Call::Market(post(1, 4_097)).encode();
    assert!(decode::<Call>(&bytes).is_err());
    let mut m = Market::new();
    let trade = m.open_trade();
    for _ in 0..256 {
        m.ok(BUYER, post(trade, 1));
    }
    m.fails(
        BUYER,
        post(trade, 1),
        MarketError::TooManyMessages {
            trade,
            author: "buyer",
            max: 256,
        },
    );
}

#[test]
fn ratings_once_per_party_after_the_trade() {
    let mut m = Market::new();
    let trade = m.paid_trade();
    let rate = |stars| MarketCall::Rate(Rate { trade, stars });
    m.fails(
        BUYER,
        rate(5),
        MarketError::WrongState {
            trade,
            state: "paid",
            expected: "completed, resolved or timed out",
        },
    );
    m.ok(SELLER, MarketCall::Release(t(trade)));
    m.fails(BUYER, rate(0), MarketError::InvalidRating { stars: 0 });
    m.fails(BUYER, rate(6), MarketError::InvalidRating { stars: 6 });
    m.fails(
        OUTSIDER,
        rate(1),
        MarketError::WrongParty {
            trade,
            account: account(OUTSIDER),
            role: "buyer or seller",
        },
    );
    m.ok(BUYER, rate(4));
    m.fails(BUYER, rate(5), MarketError::AlreadyRated { trade });
    m.ok(SELLER, rate(5));
    let seller = Db::reputation(&m.chain.store, &account(SELLER));
    assert_eq!((seller.rating_sum, seller.rating_count), (4, 1));
}

#[test]
fn payer_commitments_count_distinct_accounts() {
    let mut m = Market::new();
    let commitment = [9u8; 32];
    for buyer in [BUYER, OUTSIDER, BUYER] {
        let offer = m.create(SELLER, m.sell_offer(10_000_000, 10_000_000));
        let trade = m.take(buyer, offer, 10_000_000);
        m.ok(
            buyer,
            MarketCall::MarkPaid(MarkPaid {
                trade,
                payer_commitment: Some(commitment),
            }),
        );
    }
    assert_eq!(Db::commitment_users(&m.chain.store, &commitment), 2);
    assert_eq!(Db::commitment_users(&m.chain.store, &[1u8; 32]), 0);
}

#[test]
fn offers_query_filters_and_sorts_by_price() {
    let mut m = Market::new();
    for price in [95, 90, 99] {
        let mut offer = m.sell_offer(1_000_000, 100_000_000);
        offer.price = price;
        m.create(SELLER, offer);
    }
    let mut buy = m.sell_offer(1_000_000, 10_000_000);
    buy.side = Side::Buy;
    m.create(BUYER, buy);
    let sells = queries::offers(
        &m.chain.store,
        &queries::OfferFilter {
            side: Some(Side::Sell),
            ..Default::default()
        },
    );
    assert_eq!(
        sells.iter().map(|o| o.price).collect::<Vec<_>>(),
        vec![90, 95, 99]
    );
    let cheap = queries::offers(
        &m.chain.store,
        &queries::OfferFilter {
            max_price: Some(95),
            amount: Some(50_000_000),
            ..Default::default()
        },
    );
    assert_eq!(cheap.len(), 2);
    let trades = queries::trades_of(&m.chain.store, &account(BUYER));
    assert!(trades.is_empty());
}

#[test]
fn profiles_hold_the_chat_key() {
    let mut m = Market::new();
    m.ok(
        BUYER,
        MarketCall::SetProfile(SetProfile {
            chat_key: [3; 32],
            name: Text::new("bob").unwrap(),
        }),
    );
    assert_eq!(
        Db::profile(&m.chain.store, &account(BUYER))
            .unwrap()
            .chat_key,
        [3; 32]
    );
}

#[test]
fn a_dispute_nobody_can_rule_on_ends_without_a_ruling() {
    let mut m = Market::new();
    let (seller0, buyer0) = (m.usd(SELLER), m.usd(BUYER));
    let trade = m.paid_trade();
    m.ok(
        SELLER,
        MarketCall::OpenDispute(types::market::OpenDispute::other(trade)),
    );
    m.next_block();
    // The first arbitrator misses the deadline and the dispute goes to the second.
    m.chain.advance_ms(3 * DAY_MS);
    m.ok(OUTSIDER, MarketCall::Reassign(t(trade)));
    m.next_block();
    assert!(m.trade(trade).arbitrator.is_some());
    // The second misses it too, and nobody else can take the case: it ends, deposits back,
    // amount halved.
    m.chain.advance_ms(3 * DAY_MS);
    let events = m.ok(OUTSIDER, MarketCall::Reassign(t(trade)));
    assert!(events.contains(&MarketEvent::NoRuling { trade }));
    assert_eq!(m.trade(trade).state, TradeState::Resolved);
    assert_eq!(m.usd(BUYER), buyer0 + 50_000_000);
    assert_eq!(m.usd(SELLER), seller0 - 50_000_000);
    // Nobody was found at fault, and the record says so.
    let settlement = settled(&m, trade);
    assert_eq!(settlement.at_fault, None);
    assert_eq!(settlement.to_arbitrator, 0);
}

#[test]
fn a_dispute_ends_after_the_most_reassignments_a_trade_allows() {
    let mut m = Market::new();
    // Seventeen arbitrators in all, so there is always someone new until the limit.
    let mut chain_accounts = Vec::new();
    for index in 10..25u64 {
        let fund = types::bank::BankCall::Transfer(types::bank::Transfer {
            to: account(index),
            asset: AssetId::NATIVE,
            amount: 2_000_000_000_000,
        });
        assert!(m.chain.bank(SELLER, fund).is_success());
        m.ok(index, register(BOND, 100));
        chain_accounts.push(index);
    }
    let trade = m.paid_trade();
    m.ok(
        SELLER,
        MarketCall::OpenDispute(types::market::OpenDispute::other(trade)),
    );
    m.next_block();
    for round in 0..16 {
        m.chain.advance_ms(3 * DAY_MS);
        m.ok(OUTSIDER, MarketCall::Reassign(t(trade)));
        m.next_block();
        assert_eq!(m.trade(trade).reassigned.len(), round + 1);
        assert!(m.trade(trade).arbitrator.is_some());
    }
    m.chain.advance_ms(3 * DAY_MS);
    let events = m.ok(OUTSIDER, MarketCall::Reassign(t(trade)));
    assert!(events.contains(&MarketEvent::NoRuling { trade }));
    assert_eq!(m.trade(trade).state, TradeState::Resolved);
    let open: u32 = ledger::market::queries::arbitrators(&m.chain.store)
        .iter()
        .map(|a| a.arbitrator.open_cases)
        .sum();
    assert_eq!(open, 0, "no arbitrator keeps the case");
}

/// The trade's recorded settlement, checked to pay out exactly its escrow in the last block.
fn settled(m: &Market, trade: u64) -> ledger::market::Settlement {
    let record = m.trade(trade);
    let settlement = record
        .settlement
        .clone()
        .expect("a final trade records its settlement");
    assert_eq!(
        settlement.to_buyer + settlement.to_seller + settlement.to_arbitrator,
        record.escrow(),
        "the recorded split is the whole escrow"
    );
    assert_eq!(
        settlement.height, m.chain.height,
        "settled in the last block"
    );
    assert_eq!(record.settled_ms, Some(m.chain.time_ms));
    settlement
}

#[test]
fn dispute_reasons_belong_to_their_side_and_are_kept_on_the_trade() {
    let mut m = Market::new();
    let trade = m.paid_trade();
    let open = |reason, note: &str| {
        MarketCall::OpenDispute(OpenDispute {
            trade,
            reason,
            note: Text::new(note).unwrap(),
        })
    };
    // A seller cannot say it paid; a buyer cannot say the payment did not arrive.
    m.fails(
        SELLER,
        open(DisputeReason::PaidNotReleased, ""),
        MarketError::ReasonNotForParty {
            trade,
            reason: DisputeReason::PaidNotReleased.words(),
            role: "seller",
        },
    );
    m.chain.advance_ms(DAY_MS);
    for reason in [
        DisputeReason::PaymentNotReceived,
        DisputeReason::WrongAmount,
        DisputeReason::ThirdPartyPayment,
    ] {
        m.fails(
            BUYER,
            open(reason, "x"),
            MarketError::ReasonNotForParty {
                trade,
                reason: reason.words(),
                role: "buyer",
            },
        );
    }
    assert_eq!(m.trade(trade).dispute_reason, None);
    let note = "the transfer says 90.00 EUR, not 92.00";
    m.ok(SELLER, open(DisputeReason::WrongAmount, note));
    let record = m.trade(trade);
    assert_eq!(record.dispute_reason, Some(DisputeReason::WrongAmount));
    assert_eq!(record.dispute_note.as_str(), note);
    assert_eq!(record.dispute_opened_by, Some(Party::Seller));
}

#[test]
fn either_side_may_give_the_reasons_that_are_not_one_sided() {
    for (party, reason) in [
        (SELLER, DisputeReason::Unresponsive),
        (BUYER, DisputeReason::Unresponsive),
        (SELLER, DisputeReason::Other),
        (BUYER, DisputeReason::Other),
        (BUYER, DisputeReason::PaidNotReleased),
    ] {
        let mut m = Market::new();
        let trade = m.paid_trade();
        m.chain.advance_ms(DAY_MS);
        let call = OpenDispute {
            trade,
            reason,
            note: Text::default(),
        };
        m.ok(party, MarketCall::OpenDispute(call));
        assert_eq!(m.trade(trade).dispute_reason, Some(reason));
    }
}

#[test]
fn every_end_of_a_trade_records_who_received_what_and_in_which_block() {
    // Release: the buyer gets the amount and its deposit, the seller its deposit.
    let mut m = Market::new();
    let trade = m.paid_trade();
    m.ok(SELLER, MarketCall::Release(t(trade)));
    let s = settled(&m, trade);
    assert_eq!(
        (s.to_buyer, s.to_seller, s.to_arbitrator),
        (115_000_000, 10_000_000, 0)
    );
    assert_eq!(s.at_fault, None);

    // Cancel inside the window: everything goes back.
    let trade = m.open_trade();
    m.ok(BUYER, MarketCall::CancelTrade(t(trade)));
    let s = settled(&m, trade);
    assert_eq!(
        (s.to_buyer, s.to_seller, s.to_arbitrator),
        (15_000_000, 110_000_000, 0)
    );

    // Timeout: the seller takes the buyer's deposit.
    let trade = m.open_trade();
    m.chain
        .advance_ms(m.trade(trade).payment_deadline_ms + 1 - m.chain.time_ms);
    m.ok(SELLER, MarketCall::ClaimTimeout(t(trade)));
    let s = settled(&m, trade);
    assert_eq!(
        (s.to_buyer, s.to_seller, s.to_arbitrator),
        (0, 125_000_000, 0)
    );

    // Ruling: the party at fault is recorded with the fee.
    let trade = m.paid_trade();
    m.ok(SELLER, MarketCall::OpenDispute(OpenDispute::other(trade)));
    m.next_block();
    let record = m.trade(trade);
    assert_eq!(record.settlement, None, "open trades have no settlement");
    let arbiter = if record.arbitrator == Some(account(ARBITER_A)) {
        ARBITER_A
    } else {
        ARBITER_B
    };
    m.ok(
        arbiter,
        MarketCall::Rule(Rule {
            trade,
            amount_to_buyer: 100_000_000,
            at_fault: Party::Seller,
        }),
    );
    let s = settled(&m, trade);
    assert_eq!(
        (s.to_buyer, s.to_seller, s.to_arbitrator),
        (124_000_000, 0, 1_000_000)
    );
    assert_eq!(s.at_fault, Some(Party::Seller));
}

#[test]
fn free_text_method_names_are_one_plain_line() {
    let mut m = Market::new();
    for name in [
        "SEPA\nIBAN GB33BUKB20201555555555",
        "cash\r",
        "  ",
        "",
        "Revolut\u{202E}tset",
        "pay\u{200B}pal",
        "tab\there",
    ] {
        let mut offer = m.sell_offer(10_000_000, 100_000_000);
        offer.methods = vec![PaymentMethod::Custom(Text::new(name).unwrap())];
        m.fails(
            SELLER,
            MarketCall::CreateOffer(offer),
            MarketError::InvalidMethodName,
        );
    }
    let mut offer = m.sell_offer(10_000_000, 100_000_000);
    offer.methods = vec![PaymentMethod::Custom(
        Text::new("Cash by post, Zürich").unwrap(),
    )];
    let id = m.create(SELLER, offer);
    // An update is held to the same rule.
    let record = Db::offer(&m.chain.store, id).unwrap();
    m.fails(
        SELLER,
        MarketCall::UpdateOffer(UpdateOffer {
            offer: id,
            price: record.price,
            min_amount: record.min_amount,
            max_amount: record.max_amount,
            methods: vec![PaymentMethod::Custom(Text::new("a\nb").unwrap())],
            payment_window_secs: record.payment_window_secs,
            terms: record.terms.clone(),
        }),
        MarketError::InvalidMethodName,
    );
}
