//! The market tests' harness: a chain of 16 accounts where all but the issuer hold USDX (6
//! decimals), chosen arbitrators registered, market parameters adjustable, and helpers that
//! open offers and trades and check each call's outcome.

use ledger::{
    BlockContext, CallError, Event, Outcome, Receipt,
    market::{Db, MarketError, MarketEvent, MarketParams, params, standing},
    testing::{TestChain, account, test_genesis},
};
use types::{
    AccountId, AssetId, Call, Symbol, Text,
    bank::{BankCall, IssueAsset, Mint},
    market::*,
};

pub const SELLER: u64 = 0;
pub const BUYER: u64 = 1;
pub const ARBITER_A: u64 = 2;
pub const ARBITER_B: u64 = 3;
pub const OUTSIDER: u64 = 4;
pub const ISSUER: u64 = 5;
/// Accounts 6..16 also hold USDX and trade (or arbitrate).
pub const EXTRA: std::ops::Range<u64> = 6..16;
pub const ACCOUNTS: u64 = 16;
/// 1,000 EQA: the default minimum arbitrator bond.
pub const BOND: u128 = 1_000_000_000_000;
pub const SEPA: u16 = 0;
/// One USDX in minor units.
pub const USD: u128 = 1_000_000;
/// One whole unit of an 18-decimal asset.
pub const WEI: u128 = 1_000_000_000_000_000_000;

pub struct Market {
    pub chain: TestChain,
    pub usd: AssetId,
}

/// Issues an asset from the issuer's account and returns its id.
pub fn issue_asset(chain: &mut TestChain, symbol: &str, decimals: u8) -> AssetId {
    let receipt = chain.bank(
        ISSUER,
        BankCall::IssueAsset(IssueAsset {
            symbol: Symbol::new(symbol).unwrap(),
            name: Text::new(symbol).unwrap(),
            decimals,
            max_supply: None,
        }),
    );
    match &receipt.events[..] {
        [Event::AssetIssued { asset, .. }] => *asset,
        other => panic!("{other:?}"),
    }
}

/// Mints `amount` of `asset` to account `to` (the issuer signs).
pub fn mint(chain: &mut TestChain, asset: AssetId, to: u64, amount: u128) {
    let receipt = chain.bank(
        ISSUER,
        BankCall::Mint(Mint {
            asset,
            to: account(to),
            amount,
        }),
    );
    assert!(receipt.is_success(), "{receipt:?}");
}

pub fn market_call(call: MarketCall) -> Call {
    Call::Market(call)
}

pub fn market_events(receipt: &Receipt) -> Vec<MarketEvent> {
    receipt
        .events
        .iter()
        .filter_map(|event| match event {
            Event::Market(event) => Some(event.clone()),
            _ => None,
        })
        .collect()
}

impl Market {
    /// A chain where every account but the issuer holds USDX, with arbiters A and B registered.
    pub fn new() -> Self {
        Self::with_arbiters(&[ARBITER_A, ARBITER_B])
    }

    pub fn with_arbiters(arbiters: &[u64]) -> Self {
        Self::with(arbiters, |_| {})
    }

    /// A chain whose market parameters are the defaults changed by `change`.
    pub fn with(arbiters: &[u64], change: impl FnOnce(&mut MarketParams)) -> Self {
        let mut genesis = test_genesis(ACCOUNTS, 100_000_000_000_000);
        change(&mut genesis.market);
        let mut chain = TestChain::from_genesis(&genesis);
        let usd = issue_asset(&mut chain, "USDX", 6);
        for holder in (0..ACCOUNTS).filter(|a| *a != ISSUER) {
            mint(&mut chain, usd, holder, 1_000_000 * USD);
        }
        let mut market = Self { chain, usd };
        for arbiter in arbiters {
            market.ok(*arbiter, register());
        }
        market
    }

    pub fn submit(&mut self, signer: u64, call: MarketCall) -> Receipt {
        self.chain.submit(signer, market_call(call))
    }

    pub fn ok(&mut self, signer: u64, call: MarketCall) -> Vec<MarketEvent> {
        let receipt = self.submit(signer, call);
        assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
        market_events(&receipt)
    }

    /// Runs a call that must fail with `expected`, and checks nothing but fee and nonce changed.
    pub fn fails(&mut self, signer: u64, call: MarketCall, expected: MarketError) {
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

    /// An empty block: what the next block's begin step does, and nothing else.
    pub fn empty_block(&mut self) {
        assert!(self.chain.apply(&[]).is_empty());
    }

    /// Applies one call from `signer` in a block stamped `timestamp_ms`.
    pub fn at(&mut self, timestamp_ms: u64, signer: u64, call: MarketCall) -> Receipt {
        let tx = self.chain.tx(signer, Call::Market(call));
        let context = BlockContext {
            timestamp_ms,
            ..self.chain.next_context()
        };
        self.chain.apply_with(&context, &[tx]).remove(0)
    }

    pub fn usd(&self, who: u64) -> u128 {
        self.chain.balance(who, self.usd)
    }

    /// A sell offer of USDX at 0.92 EUR, paid by SEPA.
    pub fn sell_offer(&self, min: u128, max: u128) -> CreateOffer {
        self.offer(self.usd, min, max)
    }

    /// A sell offer of `asset` at 0.92 EUR per whole unit, paid by SEPA.
    pub fn offer(&self, asset: AssetId, min: u128, max: u128) -> CreateOffer {
        CreateOffer {
            side: Side::Sell,
            asset,
            fiat: Fiat::new("EUR").unwrap(),
            // 0.92 EUR per USDX.
            price: 92,
            min_amount: min,
            max_amount: max,
            methods: vec![PaymentMethod::Registered(SEPA)],
            payment_window_secs: 3_600,
            terms: Text::new("SEPA only").unwrap(),
            buyer_deposit_bps: 1_500,
            seller_deposit_bps: 1_000,
            min_taker_trades: 0,
            min_taker_tier: 0,
        }
    }

    pub fn create(&mut self, maker: u64, offer: CreateOffer) -> u64 {
        match &self.ok(maker, MarketCall::CreateOffer(offer))[..] {
            [MarketEvent::OfferCreated { offer, .. }] => *offer,
            other => panic!("{other:?}"),
        }
    }

    pub fn take(&mut self, taker: u64, offer: u64, amount: u128) -> u64 {
        let revision = Db::offer(&self.chain.store, offer).unwrap().revision;
        let events = self.ok(taker, take(offer, revision, amount));
        events
            .iter()
            .find_map(|event| match event {
                MarketEvent::TradeOpened { trade, .. } => Some(*trade),
                _ => None,
            })
            .expect("a trade opened")
    }

    pub fn trade(&self, id: u64) -> ledger::market::Trade {
        Db::trade(&self.chain.store, id).unwrap()
    }

    /// A trade of `amount` on a fresh sell offer of `seller`, taken whole by `buyer`.
    pub fn open_trade_between(&mut self, seller: u64, buyer: u64, amount: u128) -> u64 {
        let offer = self.create(seller, self.sell_offer(amount, amount));
        self.take(buyer, offer, amount)
    }

    /// A sell offer of 100 USDX taken whole by the buyer.
    pub fn open_trade(&mut self) -> u64 {
        self.open_trade_between(SELLER, BUYER, 100 * USD)
    }

    pub fn paid_trade(&mut self) -> u64 {
        let trade = self.open_trade();
        self.ok(BUYER, mark_paid(trade));
        trade
    }

    /// A paid trade disputed by the seller, with its arbitrator picked at the next block.
    pub fn disputed_trade(&mut self) -> u64 {
        let trade = self.paid_trade();
        self.ok(
            SELLER,
            MarketCall::OpenDispute(types::market::OpenDispute::other(trade)),
        );
        self.empty_block();
        trade
    }

    pub fn standing(&self, who: u64) -> ledger::market::Standing {
        standing(
            &self.chain.store,
            &params::load(&self.chain.store),
            &account(who),
            self.chain.time_ms,
        )
    }

    /// A whole trade of `amount` from `seller` to `buyer`, marked paid or not, released, and
    /// rated five stars both ways.
    pub fn complete(&mut self, seller: u64, buyer: u64, amount: u128, paid: bool) -> u64 {
        let trade = self.open_trade_between(seller, buyer, amount);
        if paid {
            self.ok(buyer, mark_paid(trade));
        }
        self.ok(seller, MarketCall::Release(t(trade)));
        for rater in [buyer, seller] {
            self.ok(rater, MarketCall::Rate(Rate { trade, stars: 5 }));
        }
        trade
    }

    /// The index of the account assigned to arbitrate `trade`.
    pub fn arbiter_of(&self, trade: u64) -> u64 {
        index_of(
            self.trade(trade)
                .arbitrator
                .expect("an arbitrator is assigned"),
        )
    }

    /// The context of the next block with a chosen timestamp.
    pub fn context_at(&self, timestamp_ms: u64) -> BlockContext {
        BlockContext {
            timestamp_ms,
            ..self.chain.next_context()
        }
    }
}

/// Registers an arbitrator with the minimum bond and a fee of 1%.
pub fn register() -> MarketCall {
    register_with_fee(100)
}

pub fn register_with_fee(fee_bps: u16) -> MarketCall {
    MarketCall::RegisterArbitrator(RegisterArbitrator {
        bond: BOND,
        fee_bps,
        languages: Text::new("en").unwrap(),
    })
}

pub fn take(offer: u64, revision: u64, amount: u128) -> MarketCall {
    MarketCall::TakeOffer(TakeOffer {
        offer,
        revision,
        amount,
        method: PaymentMethod::Registered(SEPA),
    })
}

pub fn mark_paid(trade: u64) -> MarketCall {
    MarketCall::MarkPaid(MarkPaid {
        trade,
        payer_commitment: None,
    })
}

pub fn t(trade: u64) -> TradeRef {
    TradeRef { trade }
}

pub fn index_of(who: AccountId) -> u64 {
    (0..ACCOUNTS)
        .find(|index| account(*index) == who)
        .expect("a test account")
}
