//! An account's funds add up: for every asset, the parts `equa_getAccountFunds` says the market,
//! lending and staking modules hold for each account sum, over all accounts, to exactly what each module holds,
//! and each account's available amount is its balance. Checked on a ledger with open offers (both
//! sides), open and settled trades, an arbitrator's bond, a loan request collecting lenders, an
//! active loan with repayments to claim and a credit offer; and on a ledger with validators (one
//! slashed) and a full node, for the staking module.

use ledger::{
    state::{self, Module},
    testing::{self, TestChain, account},
};
use rpc::funds::{FundsView, PARTS};
use types::{
    AccountId, AssetId, Call, Symbol, Text,
    bank::{BankCall, IssueAsset, Mint},
    lending::{Collateral, Fund, LendingCall, OfferCredit, Repay, RequestLoan, Schedule},
    market::*,
};

const ACCOUNTS: u64 = 5;
const USDX: AssetId = AssetId(1);
const UNIT: u128 = 1_000_000;

fn sell_offer(side: Side, max: u128) -> Call {
    Call::Market(MarketCall::CreateOffer(CreateOffer {
        side,
        asset: USDX,
        fiat: Fiat::new("EUR").unwrap(),
        price: 95,
        min_amount: UNIT,
        max_amount: max,
        methods: vec![PaymentMethod::Custom(Text::new("Cash by post").unwrap())],
        payment_window_secs: 3_600,
        terms: Text::new("").unwrap(),
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
        method: PaymentMethod::Custom(Text::new("Cash by post").unwrap()),
    }))
}

fn lending(call: LendingCall) -> Call {
    Call::Lending(call)
}

fn busy_chain() -> TestChain {
    let mut chain = TestChain::new(ACCOUNTS, 1_000_000_000_000_000);
    let issue = BankCall::IssueAsset(IssueAsset {
        symbol: Symbol::new("USDX").unwrap(),
        name: Text::new("Dollar").unwrap(),
        decimals: 6,
        max_supply: None,
    });
    assert!(chain.bank(0, issue).is_success());
    for index in 0..ACCOUNTS {
        let mint = BankCall::Mint(Mint {
            asset: USDX,
            to: account(index),
            amount: 10_000 * UNIT,
        });
        assert!(chain.bank(0, mint).is_success());
    }
    let ok = |chain: &mut TestChain, signer: u64, call: Call| {
        let receipt = chain.submit(signer, call);
        assert!(receipt.is_success(), "{receipt:?}");
    };
    // Offers: 1 (sell by 0), 2 (buy by 1); trades 1 (open), 2 (completed), 3 (disputed).
    ok(&mut chain, 0, sell_offer(Side::Sell, 500 * UNIT));
    ok(&mut chain, 1, sell_offer(Side::Buy, 300 * UNIT));
    ok(&mut chain, 2, take(1, 100 * UNIT));
    ok(&mut chain, 3, take(2, 40 * UNIT));
    let trade = |trade| MarketCall::Release(TradeRef { trade });
    ok(&mut chain, 3, Call::Market(trade(2)));
    ok(&mut chain, 2, take(1, 50 * UNIT));
    let register = RegisterArbitrator {
        bond: 2_000_000_000_000,
        fee_bps: 100,
        languages: Text::new("en").unwrap(),
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
        Call::Market(MarketCall::OpenDispute(types::market::OpenDispute::other(
            3,
        ))),
    );

    // Loans: 1 collects lenders (part funded), 2 is active with a repayment to claim.
    let request = |principal| RequestLoan {
        asset: USDX,
        principal,
        rate_bps: 1_200,
        term_days: 90,
        schedule: Schedule::Instalments(3),
        collateral: Some(Collateral {
            asset: AssetId::NATIVE,
            amount: 5_000 * UNIT,
        }),
        funding_deadline_ms: chain.time_ms + 7 * 86_400_000,
        min_fill: principal,
    };
    let first = request(1_000 * UNIT);
    let second = request(600 * UNIT);
    ok(&mut chain, 1, lending(LendingCall::RequestLoan(first)));
    ok(&mut chain, 2, lending(LendingCall::RequestLoan(second)));
    let fund = |loan, amount| LendingCall::Fund(Fund { loan, amount });
    ok(&mut chain, 3, lending(fund(1, 300 * UNIT)));
    ok(&mut chain, 3, lending(fund(2, 400 * UNIT)));
    ok(&mut chain, 4, lending(fund(2, 200 * UNIT)));
    chain.advance_ms(10 * 86_400_000);
    let repay = Repay {
        loan: 2,
        amount: 123 * UNIT,
    };
    ok(&mut chain, 2, lending(LendingCall::Repay(repay)));
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
    ok(&mut chain, 0, lending(LendingCall::OfferCredit(credit)));
    chain
}

fn minor(money: &rpc::views::Money) -> u128 {
    money.minor_units.parse().unwrap()
}

#[test]
fn the_parts_of_every_account_add_up_to_what_the_ledger_holds() {
    let chain = busy_chain();
    let store = &chain.store;
    let views: Vec<FundsView> = (0..ACCOUNTS)
        .map(|index| FundsView::read(store, &account(index)))
        .collect();
    for asset in [AssetId::NATIVE, USDX] {
        let mut held_parts = 0u128;
        for (index, view) in views.iter().enumerate() {
            let Some(funds) = view.assets.iter().find(|a| a.asset == asset.0) else {
                continue;
            };
            let names: Vec<&str> = funds.parts.iter().map(|p| p.part.as_str()).collect();
            assert_eq!(names, PARTS, "every part, in order");
            assert_eq!(
                minor(&funds.available),
                state::balance(store, &account(index as u64), asset)
            );
            let mut total = minor(&funds.available);
            for part in funds.parts.iter().filter(|p| p.held) {
                let items: u128 = part.holdings.iter().map(|h| minor(&h.amount)).sum();
                assert_eq!(
                    items,
                    minor(&part.total),
                    "{}: the items make the part",
                    part.part
                );
                held_parts += items;
                total += items;
            }
            assert_eq!(total, minor(&funds.total), "available plus held parts");
        }
        let modules: u128 = Module::ALL
            .iter()
            .map(|module| state::held(store, *module, asset))
            .sum();
        assert!(modules > 0, "the scenario holds some of asset {}", asset.0);
        assert_eq!(
            held_parts, modules,
            "asset {}: what the accounts' parts say is held is what the modules hold",
            asset.0
        );
    }

    // The maker of offer 1 sees it as locked in an offer, with its id, and its trades' escrow.
    let maker = views[0].assets.iter().find(|a| a.asset == USDX.0).unwrap();
    let part = |name: &str| maker.parts.iter().find(|p| p.part == name).unwrap();
    let offers = part("in_offers");
    assert!(
        offers
            .holdings
            .iter()
            .any(|h| h.kind == "offer" && h.id == Some(1))
    );
    assert!(
        offers
            .holdings
            .iter()
            .any(|h| h.kind == "credit_offer" && h.id == Some(1))
    );
    let trades: Vec<Option<u64>> = part("in_trades").holdings.iter().map(|h| h.id).collect();
    assert_eq!(
        trades,
        [Some(1), Some(3)],
        "the open and the disputed trade, not the settled"
    );
    // A lender of the active loan is owed principal back and has a repayment to claim.
    let lender = views[3].assets.iter().find(|a| a.asset == USDX.0).unwrap();
    let lent = lender.parts.iter().find(|p| p.part == "lent_out").unwrap();
    assert!(!lent.held && minor(&lent.total) > 0);
    let claimable = lender.parts.iter().find(|p| p.part == "claimable").unwrap();
    assert_eq!(claimable.holdings[0].id, Some(2));
    let requests = lender
        .parts
        .iter()
        .find(|p| p.part == "in_loan_requests")
        .unwrap();
    assert_eq!(minor(&requests.total), 300 * UNIT);
}

/// A validator's bond (after a slash) and a full node's deposit are the owner's, in "as_bond",
/// and the staking module holds exactly what the accounts' parts say.
#[test]
fn bonds_and_deposits_are_the_owners_held_funds() {
    use commonware_cryptography::Signer as _;
    use types::staking::{KeyProof, RegisterNode, StakingCall};
    let node_key = |seed: u64| AccountId::from_public_key(&testing::key(seed).public_key());
    let mut text = testing::staking_genesis_text(
        "min_bond = \"100\"\ncommittee_size = 4\nmax_candidates = 8\nblocks_per_epoch = 16\n\
         node_deposit = \"10\"",
        4,
    );
    for index in 0..4 {
        text.push_str(&testing::validator_entry(
            index,
            &node_key(50_000 + index),
            &format!("127.0.0.1:{}", 9_000 + index),
            &(100 + index).to_string(),
        ));
    }
    let mut genesis = ledger::Genesis::from_toml(&text).unwrap();
    genesis.params = testing::test_params();
    let mut chain = TestChain::from_genesis(&genesis);
    let chain_id = chain.chain_id();
    let register = RegisterNode {
        node_key: node_key(60_000),
        address: Text::new("127.0.0.1:9100").unwrap(),
        deposit: 12_000_000_000,
        key_proof: KeyProof::sign_node(&testing::key(60_000), &chain_id, &account(1)),
    };
    assert!(
        chain
            .submit(1, Call::Staking(StakingCall::RegisterNode(register)))
            .is_success()
    );
    let mut context = chain.next_context();
    context.offenses = vec![ledger::Offense {
        node_key: node_key(50_002),
        epoch: 0,
    }];
    chain.apply_with(&context, &[]);

    let store = &chain.store;
    let bonds = |index: u64| {
        let view = FundsView::read(store, &account(index));
        let eqa = view
            .assets
            .iter()
            .find(|a| a.asset == AssetId::NATIVE.0)
            .unwrap()
            .clone();
        let part = eqa.parts.into_iter().find(|p| p.part == "as_bond").unwrap();
        assert!(part.held);
        part.holdings
            .iter()
            .map(|h| (h.kind.clone(), minor(&h.amount)))
            .collect::<Vec<_>>()
    };
    let eqa = 1_000_000_000u128;
    assert_eq!(
        bonds(1),
        [
            ("validator".into(), 101 * eqa),
            ("full_node".into(), 12 * eqa)
        ]
    );
    // Validator 2 lost 5% of its 102 EQA.
    assert_eq!(
        bonds(2),
        [("validator".to_string(), 102 * eqa - 102 * eqa / 20)]
    );
    let parts: u128 = (0..4).flat_map(bonds).map(|(_, amount)| amount).sum();
    assert_eq!(
        parts,
        state::held(store, Module::Staking, AssetId::NATIVE),
        "what the accounts' parts say the staking module holds is what it holds"
    );
}
