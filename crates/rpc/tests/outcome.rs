//! How trades and loans ended, as the RPC reports them, checked against the ledger: a cancelled
//! and a timed-out trade name who received what exactly as their settling receipts paid it, with
//! their timelines; a ruling names the party at fault, the dispute's reason and the settling
//! transaction; a trade settled before the node's kept blocks still shows its split, from the
//! trade record;
//! a loan's "default allowed from" is the first moment the ledger accepts a default, and after
//! it the loan shows the collateral seized.

use ledger::{
    Outcome, Store,
    lending::{Db as Loans, LendingError},
    market::Db as Trades,
    testing::{TestChain, account},
};
use rpc::{
    Backend, SubmitError,
    lending::LoanView,
    outcome::TradeOutcomeView,
    views::{BlockView, HistoryView, ReceiptView, StatusView},
};
use std::sync::Arc;
use types::{
    AccountId, AssetId, Call, SignedTransaction, Symbol, Text, TxId,
    bank::{BankCall, IssueAsset, Mint},
    lending::{Collateral, Fund, LendingCall, LoanRef, RequestLoan, Schedule},
    market::*,
};

const USDX: AssetId = AssetId(1);
const UNIT: u128 = 1_000_000;
const SELLER: u64 = 0;
const BUYER: u64 = 1;

/// A ledger with the history of every transaction applied through it, as a node keeps it.
struct Recorded {
    chain: TestChain,
    history: Vec<HistoryView>,
    /// Transactions before this many are "no longer kept".
    forgotten: usize,
}

impl Recorded {
    fn new() -> Self {
        let mut chain = TestChain::new(3, 1_000_000_000_000_000);
        let issue = BankCall::IssueAsset(IssueAsset {
            symbol: Symbol::new("USDX").unwrap(),
            name: Text::new("Dollar").unwrap(),
            decimals: 6,
            max_supply: None,
        });
        assert!(chain.bank(SELLER, issue).is_success());
        for index in 0..3 {
            let mint = Mint {
                asset: USDX,
                to: account(index),
                amount: 10_000 * UNIT,
            };
            assert!(chain.bank(SELLER, BankCall::Mint(mint)).is_success());
        }
        Self {
            chain,
            history: Vec::new(),
            forgotten: 0,
        }
    }

    fn apply(&mut self, signer: u64, call: Call) -> ledger::Receipt {
        let name = format!("{call:?}");
        let receipt = self.chain.submit(signer, call);
        self.history.push(HistoryView {
            cursor: String::new(),
            timestamp_ms: self.chain.time_ms,
            signer: account(signer).to_string(),
            call: name,
            receipt: ReceiptView::new(&self.chain.store, &receipt, self.chain.height),
        });
        receipt
    }

    fn ok(&mut self, signer: u64, call: Call) {
        let receipt = self.apply(signer, call);
        assert!(receipt.is_success(), "{receipt:?}");
    }

    fn sell_and_take(&mut self) -> u64 {
        let method = PaymentMethod::Custom(Text::new("Cash by post").unwrap());
        let offer = CreateOffer {
            side: Side::Sell,
            asset: USDX,
            fiat: Fiat::new("EUR").unwrap(),
            price: 95,
            min_amount: UNIT,
            max_amount: 100 * UNIT,
            methods: vec![method.clone()],
            payment_window_secs: 3_600,
            terms: Text::new("").unwrap(),
            buyer_deposit_bps: 1_500,
            seller_deposit_bps: 1_000,
            min_taker_trades: 0,
            min_taker_tier: 0,
        };
        self.ok(SELLER, Call::Market(MarketCall::CreateOffer(offer)));
        let offer = Trades::last_offer_id(&self.chain.store);
        let take = TakeOffer {
            offer,
            revision: 0,
            amount: 40 * UNIT,
            method,
        };
        self.ok(BUYER, Call::Market(MarketCall::TakeOffer(take)));
        Trades::last_trade_id(&self.chain.store)
    }

    fn outcome(&self, trade: u64) -> TradeOutcomeView {
        let trade = Trades::trade(&self.chain.store, trade).unwrap();
        TradeOutcomeView::read(self, &trade)
    }
}

impl Backend for Recorded {
    fn status(&self) -> StatusView {
        unimplemented!("not asked by these tests")
    }

    fn state(&self) -> Arc<ledger::MemoryStore> {
        Arc::new(self.chain.store.clone())
    }

    fn block(&self, height: u64) -> Option<BlockView> {
        let kept = &self.history[self.forgotten..];
        let transactions: Vec<String> = kept
            .iter()
            .filter(|entry| entry.receipt.height == height)
            .map(|entry| entry.receipt.tx_id.clone())
            .collect();
        (!transactions.is_empty()).then(|| BlockView {
            height,
            digest: String::new(),
            parent: String::new(),
            timestamp_ms: 0,
            proposer: String::new(),
            state_root: String::new(),
            transactions,
        })
    }

    fn receipt(&self, id: &TxId) -> Option<ReceiptView> {
        let id = format!("0x{}", hex::encode(id.0));
        self.history[self.forgotten..]
            .iter()
            .find(|entry| entry.receipt.tx_id == id)
            .map(|entry| entry.receipt.clone())
    }

    fn submit(&self, _: SignedTransaction) -> Result<TxId, SubmitError> {
        Err(SubmitError::Busy("read only".into()))
    }

    fn history(
        &self,
        account: AccountId,
        _before: Option<String>,
        limit: usize,
    ) -> rpc::backend::Pending<Result<Vec<HistoryView>, rpc::backend::HistoryError>> {
        let account = account.to_string();
        let page = self.history[self.forgotten..]
            .iter()
            .rev()
            .filter(|entry| entry.signer == account)
            .take(limit)
            .cloned()
            .collect();
        Box::pin(async move { Ok(page) })
    }
}

fn minor(money: &rpc::views::Money) -> u128 {
    money.minor_units.parse().unwrap()
}

fn steps(outcome: &TradeOutcomeView) -> Vec<&str> {
    outcome.timeline.iter().map(|s| s.step.as_str()).collect()
}

#[test]
fn a_cancelled_trade_shows_what_went_back_to_whom() {
    let mut ledger = Recorded::new();
    let trade = ledger.sell_and_take();
    let open = ledger.outcome(trade);
    assert_eq!(steps(&open), ["opened"]);
    assert!(open.settlement.is_none() && open.explanation.is_empty());
    let buyer_before = ledger.chain.balance(BUYER, USDX);
    let seller_before = ledger.chain.balance(SELLER, USDX);
    ledger.ok(
        BUYER,
        Call::Market(MarketCall::CancelTrade(TradeRef { trade })),
    );
    let outcome = ledger.outcome(trade);
    assert_eq!(outcome.state, "cancelled");
    assert_eq!(steps(&outcome), ["opened", "cancelled"]);
    let paid = outcome.settlement.as_ref().expect("the split");
    assert_eq!(
        minor(&paid.to_buyer),
        ledger.chain.balance(BUYER, USDX) - buyer_before,
        "the buyer's deposit back"
    );
    assert_eq!(minor(&paid.to_buyer), 6 * UNIT);
    assert_eq!(
        minor(&paid.to_seller),
        ledger.chain.balance(SELLER, USDX) - seller_before
    );
    assert_eq!(minor(&paid.to_arbitrator), 0);
    assert!(outcome.explanation[0].contains("The buyer cancelled"));
    assert!(
        outcome.explanation[1]
            .starts_with("The buyer received 6 USDX; the seller received 44 USDX"),
        "{:?}",
        outcome.explanation
    );
}

#[test]
fn a_timed_out_trade_shows_the_buyers_deposit_going_to_the_seller() {
    let mut ledger = Recorded::new();
    let trade = ledger.sell_and_take();
    ledger.chain.advance_ms(3_600_000);
    let seller_before = ledger.chain.balance(SELLER, USDX);
    ledger.ok(
        SELLER,
        Call::Market(MarketCall::ClaimTimeout(TradeRef { trade })),
    );
    let outcome = ledger.outcome(trade);
    assert_eq!(outcome.state, "timed_out");
    assert_eq!(steps(&outcome), ["opened", "timed_out"]);
    let paid = outcome.settlement.as_ref().expect("the split");
    assert_eq!(minor(&paid.to_buyer), 0);
    assert_eq!(
        minor(&paid.to_seller),
        ledger.chain.balance(SELLER, USDX) - seller_before,
        "the whole escrow"
    );
    assert_eq!(minor(&paid.to_seller), 40 * UNIT + 4 * UNIT + 6 * UNIT);
    assert!(outcome.explanation[0].contains("payment window passed"));
}

#[test]
fn a_trade_settled_before_the_kept_blocks_still_shows_its_split_from_the_record() {
    let mut ledger = Recorded::new();
    let trade = ledger.sell_and_take();
    let paid = MarkPaid {
        trade,
        payer_commitment: None,
    };
    ledger.ok(BUYER, Call::Market(MarketCall::MarkPaid(paid)));
    let buyer_before = ledger.chain.balance(BUYER, USDX);
    ledger.ok(
        SELLER,
        Call::Market(MarketCall::Release(TradeRef { trade })),
    );
    let height = ledger.chain.height;
    let kept = ledger.outcome(trade);
    let settled = kept.settlement.as_ref().expect("the split");
    assert_eq!(settled.height, height);
    assert_eq!(
        settled.tx_id.as_deref(),
        Some(ledger.history.last().unwrap().receipt.tx_id.as_str())
    );

    ledger.forgotten = ledger.history.len();
    let outcome = ledger.outcome(trade);
    assert_eq!(steps(&outcome), ["opened", "marked_paid", "completed"]);
    let settled = outcome
        .settlement
        .as_ref()
        .expect("the split, from the record");
    assert_eq!(settled.tx_id, None, "the settling block is no longer kept");
    assert_eq!(
        minor(&settled.to_buyer),
        ledger.chain.balance(BUYER, USDX) - buyer_before
    );
    assert_eq!(settled.at_fault, None);
    assert!(
        outcome.explanation[1].contains("The buyer received 46"),
        "{outcome:?}"
    );
}

#[test]
fn a_ruling_names_the_party_at_fault_and_the_reason_the_dispute_was_opened() {
    let mut ledger = Recorded::new();
    const ARBITER: u64 = 2;
    let register = RegisterArbitrator {
        bond: 1_000_000_000_000,
        fee_bps: 100,
        languages: Text::new("en").unwrap(),
    };
    ledger.ok(
        ARBITER,
        Call::Market(MarketCall::RegisterArbitrator(register)),
    );
    let trade = ledger.sell_and_take();
    let paid = MarkPaid {
        trade,
        payer_commitment: None,
    };
    ledger.ok(BUYER, Call::Market(MarketCall::MarkPaid(paid)));
    let open = OpenDispute {
        trade,
        reason: DisputeReason::ThirdPartyPayment,
        note: Text::new("paid from a company account").unwrap(),
    };
    ledger.ok(SELLER, Call::Market(MarketCall::OpenDispute(open)));
    // The arbitrator is picked at the start of the next block.
    ledger.chain.apply(&[]);
    let rule = Rule {
        trade,
        amount_to_buyer: 0,
        at_fault: Party::Buyer,
    };
    ledger.ok(ARBITER, Call::Market(MarketCall::Rule(rule)));
    let outcome = ledger.outcome(trade);
    assert_eq!(
        steps(&outcome),
        [
            "opened",
            "marked_paid",
            "disputed",
            "arbitrator_assigned",
            "resolved"
        ]
    );
    assert!(
        outcome.timeline[2]
            .text
            .contains("the payment came from someone else's account"),
        "{outcome:?}"
    );
    let settled = outcome.settlement.as_ref().expect("the split");
    assert_eq!(settled.at_fault.as_deref(), Some("buyer"));
    assert!(!settled.no_ruling);
    assert_eq!(
        settled.tx_id.as_deref(),
        Some(ledger.history.last().unwrap().receipt.tx_id.as_str())
    );
    // The fee (1% of 40) comes from the buyer's deposit of 6; the seller gets the rest of it.
    assert_eq!(minor(&settled.to_arbitrator), 400_000);
    assert_eq!(minor(&settled.to_buyer), 0);
    assert!(outcome.explanation[0].contains("found the buyer at fault"));
    assert!(outcome.explanation[1].contains(
        "The seller opened the dispute because the payment came from someone else's account: \"paid from a company account\"."
    ));
}

#[test]
fn default_is_allowed_from_the_moment_the_loan_says_and_then_shows_the_seized_collateral() {
    let mut ledger = Recorded::new();
    let request = RequestLoan {
        asset: USDX,
        principal: 1_000 * UNIT,
        rate_bps: 1_200,
        term_days: 90,
        schedule: Schedule::Instalments(3),
        collateral: Some(Collateral {
            asset: AssetId::NATIVE,
            amount: 5_000 * UNIT,
        }),
        funding_deadline_ms: ledger.chain.time_ms + 7 * 86_400_000,
        min_fill: 1_000 * UNIT,
    };
    ledger.ok(BUYER, Call::Lending(LendingCall::RequestLoan(request)));
    let id = Loans::last_loan_id(&ledger.chain.store);
    let fund = Fund {
        loan: id,
        amount: 1_000 * UNIT,
    };
    ledger.ok(2, Call::Lending(LendingCall::Fund(fund)));
    let view = |ledger: &Recorded| {
        let store: &dyn Store = &ledger.chain.store;
        LoanView::new(store, &Loans::loan(store, id).unwrap(), true)
    };
    let active = view(&ledger);
    let statuses: Vec<&str> = active
        .instalments
        .iter()
        .map(|i| i.status.as_str())
        .collect();
    assert_eq!(statuses, ["next", "later", "later"]);
    let parts: u128 = active.instalments.iter().map(|i| minor(&i.principal)).sum();
    assert_eq!(parts, 1_000 * UNIT, "the instalments repay the principal");
    let due = active.amount_due.as_ref().unwrap();
    assert_eq!(
        minor(&due.payoff),
        minor(&due.late_fee) + minor(&due.interest) + minor(&due.principal_outstanding)
    );
    let allowed = active
        .default_allowed_ms
        .expect("an active loan can default later");
    assert!(active.collateral_seized.is_none());

    // A block one millisecond before is refused, naming the same moment.
    let declare = || Call::Lending(LendingCall::DeclareDefault(LoanRef { loan: id }));
    ledger
        .chain
        .advance_ms(allowed - 1 - 1_000 - ledger.chain.time_ms);
    let refused = ledger.apply(2, declare());
    assert_eq!(
        refused.outcome,
        Outcome::Failed(ledger::CallError::Lending(LendingError::NotInDefault {
            loan: id,
            at_ms: allowed
        }))
    );
    let behind = view(&ledger);
    let statuses: Vec<&str> = behind
        .instalments
        .iter()
        .map(|i| i.status.as_str())
        .collect();
    // Thirty days after the first due date the second is due too.
    assert_eq!(statuses, ["due", "due", "next"]);
    ledger.ok(2, declare());
    let defaulted = view(&ledger);
    assert_eq!(defaulted.state, "defaulted");
    assert_eq!(
        defaulted.collateral_seized.as_ref().map(minor),
        Some(5_000 * UNIT)
    );
    assert!(defaulted.default_allowed_ms.is_none());
    assert_eq!(
        defaulted.lenders[0]
            .collateral_claimable
            .as_ref()
            .map(minor),
        Some(5_000 * UNIT)
    );
}
