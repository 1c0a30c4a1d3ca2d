//! An account's trade page (`trades_of`, `equa_listTrades`) under take-and-cancel spam: a stranger
//! who takes a victim's sell offer at its minimum and cancels (G7), `MAX_PAGE` times, must not
//! push the victim's older open trade, whose escrow holds the victim's money, off the page.

use ledger::testing::{TestChain, account};
use rpc::funds::FundsView;
use types::{
    AssetId, Call, Symbol, Text,
    bank::{BankCall, IssueAsset, Mint},
    market::*,
};

const USDX: AssetId = AssetId(1);
const UNIT: u128 = 1_000_000;

fn ok(chain: &mut TestChain, signer: u64, call: Call) {
    let receipt = chain.submit(signer, call);
    assert!(receipt.is_success(), "{receipt:?}");
}

fn take(offer: u64, amount: u128) -> Call {
    Call::Market(MarketCall::TakeOffer(TakeOffer {
        offer,
        revision: 0,
        amount,
        method: PaymentMethod::Custom(Text::new("Cash").unwrap()),
    }))
}

#[test]
fn finished_trades_never_push_an_open_trade_off_the_page() {
    let mut chain = TestChain::new(3, 1_000_000_000_000_000);
    // A thousand blocks: the whole-state audits after each would dominate the test's time.
    chain.check_conservation = false;
    let issue = BankCall::IssueAsset(IssueAsset {
        symbol: Symbol::new("USDX").unwrap(),
        name: Text::new("Dollar").unwrap(),
        decimals: 6,
        max_supply: None,
    });
    assert!(chain.bank(0, issue).is_success());
    for index in 0..3 {
        let mint = BankCall::Mint(Mint {
            asset: USDX,
            to: account(index),
            amount: 10_000 * UNIT,
        });
        assert!(chain.bank(0, mint).is_success());
    }
    let offer = Call::Market(MarketCall::CreateOffer(CreateOffer {
        side: Side::Sell,
        asset: USDX,
        fiat: Fiat::new("EUR").unwrap(),
        price: 95,
        min_amount: UNIT,
        max_amount: 2_000 * UNIT,
        methods: vec![PaymentMethod::Custom(Text::new("Cash").unwrap())],
        payment_window_secs: 3_600,
        terms: Text::new("").unwrap(),
        buyer_deposit_bps: 1_500,
        seller_deposit_bps: 1_000,
        min_taker_trades: 0,
        min_taker_tier: 0,
    }));
    ok(&mut chain, 0, offer);
    // An honest buyer opens a 100 USDX trade: the victim's money is in its escrow.
    ok(&mut chain, 1, take(1, 100 * UNIT));
    let honest = 1;
    // The stranger takes 1 USDX and cancels, MAX_PAGE times.
    for n in 0..rpc::market::MAX_PAGE as u64 {
        ok(&mut chain, 2, take(1, UNIT));
        ok(
            &mut chain,
            2,
            Call::Market(MarketCall::CancelTrade(TradeRef { trade: n + 2 })),
        );
    }
    ledger::audit::check_conservation(&chain.store).unwrap();
    ledger::audit::check_indexes(&chain.store).unwrap();
    let trade = ledger::market::Db::trade(&chain.store, honest).unwrap();
    assert!(
        !trade.state.is_final(),
        "still open, holding 100 USDX of the victim"
    );
    let page: Vec<u64> = rpc::market::trades_of(&chain.store, &account(0))
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(page.len(), rpc::market::MAX_PAGE as usize);
    // The open trade comes first; the finished ones follow, newest first.
    assert_eq!(page[0], honest);
    let newest = rpc::market::MAX_PAGE as u64 + 1;
    assert_eq!(page[1..4], [newest, newest - 1, newest - 2]);
    // The stranger's page holds its own trades only.
    let strangers = rpc::market::trades_of(&chain.store, &account(2));
    assert!(strangers.iter().all(|t| t.id != honest));
    let funds = serde_json::to_string(&FundsView::read(&chain.store, &account(0))).unwrap();
    assert!(funds.contains("\"in_trades\""));
}
