//! A ledger with something of everything in it (assets, offers on both sides, open, settled and
//! disputed trades, an arbitrator, loans collecting lenders and repaying, a credit offer), and an
//! RPC backend that answers from it without ever changing it, so that every fuzz input meets the
//! same state.

use ledger::{
    admit, state,
    testing::{TestChain, account},
};
use rpc::{
    Backend, SubmitError,
    views::{BlockView, ErrorView, ReceiptView, StatusView},
};
use std::sync::Arc;
use types::{
    AssetId, Call, SignedTransaction, Symbol, Text, TxId,
    bank::{BankCall, IssueAsset, Mint},
    lending::{Collateral, Fund, LendingCall, OfferCredit, Repay, RequestLoan, Schedule},
    market::*,
};

/// Accounts `0..ACCOUNTS` of [`ledger::testing`] are funded; account 4 is an arbitrator.
pub const ACCOUNTS: u64 = 5;
/// The asset the fixture issues.
pub const USDX: AssetId = AssetId(1);
const UNIT: u128 = 1_000_000;

fn offer(side: Side, max: u128) -> Call {
    Call::Market(MarketCall::CreateOffer(CreateOffer {
        side,
        asset: USDX,
        fiat: Fiat::new("EUR").expect("a currency code"),
        price: 95,
        min_amount: UNIT,
        max_amount: max,
        methods: vec![PaymentMethod::Custom(
            Text::new("Cash by post").expect("short"),
        )],
        payment_window_secs: 3_600,
        terms: Text::new("").expect("empty"),
        buyer_deposit_bps: 1_500,
        seller_deposit_bps: 1_000,
        min_taker_trades: 0,
        min_taker_tier: 0,
    }))
}

fn take(offer: u64, amount: u128) -> Call {
    Call::Market(MarketCall::TakeOffer(TakeOffer {
        offer,
        revision: 0,
        amount,
        method: PaymentMethod::Custom(Text::new("Cash by post").expect("short")),
    }))
}

/// The fixture chain: offers 1 (sell) and 2 (buy); trades 1 (open), 2 (completed) and 3
/// (disputed); loans 1 (collecting lenders) and 2 (active, partly repaid); credit offer 1.
pub fn busy_chain() -> TestChain {
    let mut chain = TestChain::new(ACCOUNTS, 1_000_000_000_000_000);
    let ok = |chain: &mut TestChain, signer: u64, call: Call| {
        let receipt = chain.submit(signer, call);
        assert!(
            receipt.is_success(),
            "the fixture's calls succeed: {receipt:?}"
        );
    };
    let issue = BankCall::IssueAsset(IssueAsset {
        symbol: Symbol::new("USDX").expect("a symbol"),
        name: Text::new("Dollar").expect("short"),
        decimals: 6,
        max_supply: None,
    });
    ok(&mut chain, 0, Call::Bank(issue));
    for index in 0..ACCOUNTS {
        let mint = BankCall::Mint(Mint {
            asset: USDX,
            to: account(index),
            amount: 10_000 * UNIT,
        });
        ok(&mut chain, 0, Call::Bank(mint));
    }
    ok(&mut chain, 0, offer(Side::Sell, 500 * UNIT));
    ok(&mut chain, 1, offer(Side::Buy, 300 * UNIT));
    ok(&mut chain, 2, take(1, 100 * UNIT));
    ok(&mut chain, 3, take(2, 40 * UNIT));
    ok(
        &mut chain,
        3,
        Call::Market(MarketCall::Release(TradeRef { trade: 2 })),
    );
    ok(&mut chain, 2, take(1, 50 * UNIT));
    let register = RegisterArbitrator {
        bond: 2_000_000_000_000,
        fee_bps: 100,
        languages: Text::new("en").expect("short"),
    };
    ok(
        &mut chain,
        4,
        Call::Market(MarketCall::RegisterArbitrator(register)),
    );
    let paid = MarkPaid {
        trade: 3,
        payer_commitment: None,
    };
    ok(&mut chain, 2, Call::Market(MarketCall::MarkPaid(paid)));
    ok(
        &mut chain,
        0,
        Call::Market(MarketCall::OpenDispute(OpenDispute::other(3))),
    );
    let deadline_ms = chain.time_ms + 7 * 86_400_000;
    let request = |principal| {
        Call::Lending(LendingCall::RequestLoan(RequestLoan {
            asset: USDX,
            principal,
            rate_bps: 1_200,
            term_days: 90,
            schedule: Schedule::Instalments(3),
            collateral: Some(Collateral {
                asset: AssetId::NATIVE,
                amount: 5_000 * UNIT,
            }),
            funding_deadline_ms: deadline_ms,
            min_fill: principal,
        }))
    };
    ok(&mut chain, 1, request(1_000 * UNIT));
    ok(&mut chain, 2, request(600 * UNIT));
    let fund = |loan, amount| Call::Lending(LendingCall::Fund(Fund { loan, amount }));
    ok(&mut chain, 3, fund(1, 300 * UNIT));
    ok(&mut chain, 3, fund(2, 400 * UNIT));
    ok(&mut chain, 4, fund(2, 200 * UNIT));
    chain.advance_ms(10 * 86_400_000);
    let repay = Repay {
        loan: 2,
        amount: 123 * UNIT,
    };
    ok(&mut chain, 2, Call::Lending(LendingCall::Repay(repay)));
    let credit = OfferCredit {
        asset: USDX,
        amount: 700 * UNIT,
        min_amount: 10 * UNIT,
        rate_bps: 900,
        term_days: 30,
        schedule: Schedule::Bullet,
        collateral_asset: None,
        collateral_per_unit: 0,
        expires_ms: chain.time_ms + 86_400_000,
    };
    ok(
        &mut chain,
        0,
        Call::Lending(LendingCall::OfferCredit(credit)),
    );
    chain
}

/// Answers every query from the fixture chain's state. A submitted transaction is checked as the
/// ledger would admit it and then dropped: nothing a request does changes what the next one sees.
#[derive(Debug)]
pub struct FrozenBackend {
    store: Arc<ledger::MemoryStore>,
    height: u64,
    time_ms: u64,
    proposer: types::AccountId,
}

impl FrozenBackend {
    pub fn new(chain: &TestChain) -> Self {
        Self {
            store: Arc::new(chain.store.clone()),
            height: chain.height,
            time_ms: chain.time_ms,
            proposer: chain.proposer,
        }
    }
}

impl Backend for FrozenBackend {
    fn status(&self) -> StatusView {
        StatusView {
            chain_id: state::chain_id(&*self.store).to_string(),
            role: "validator".into(),
            height: self.height,
            timestamp_ms: self.time_ms,
            state_root: self.store.digest().to_string(),
            target_height: self.height,
            peers: 0,
            mempool_size: 0,
            phase: "following".into(),
            sync: None,
        }
    }

    fn state(&self) -> Arc<ledger::MemoryStore> {
        self.store.clone()
    }

    fn block(&self, height: u64) -> Option<BlockView> {
        (1..=self.height).contains(&height).then(|| BlockView {
            height,
            digest: String::new(),
            parent: String::new(),
            timestamp_ms: self.time_ms,
            proposer: self.proposer.to_string(),
            state_root: self.store.digest().to_string(),
            transactions: Vec::new(),
        })
    }

    fn receipt(&self, _: &TxId) -> Option<ReceiptView> {
        None
    }

    fn submit(&self, tx: SignedTransaction) -> Result<TxId, SubmitError> {
        let store = &*self.store;
        admit(
            store,
            &state::chain_id(store),
            &state::params(store),
            self.height + 1,
            &tx,
            tx.verify_signature(),
        )
        .map_err(|error| SubmitError::Rejected(ErrorView::rejected(store, &error)))?;
        Ok(tx.id())
    }
}
