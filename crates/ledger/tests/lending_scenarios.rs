//! Random lending scenarios with random timing: conservation after every block, every loan
//! activates, repays or defaults at most once, and once every exit has been taken nothing is
//! left in the module.

use ledger::{
    Event, Outcome,
    lending::{Db, LendingEvent, LoanState, queries},
    state::{self, Module},
    testing::{TestChain, account},
};
use proptest::prelude::*;
use std::collections::BTreeMap;
use types::{
    AssetId, Call, Symbol, Text,
    bank::{BankCall, IssueAsset, Mint},
    lending::*,
};

const BORROWERS: [u64; 2] = [0, 1];
const LENDERS: [u64; 3] = [2, 3, 4];
const ISSUER: u64 = 5;
const DAY_MS: u64 = 86_400_000;

#[derive(Clone, Debug)]
enum Step {
    Request {
        borrower: usize,
        principal: u128,
        instalments: u16,
        collateral: bool,
        min_fill_pct: u8,
    },
    Fund {
        lender: usize,
        pick: usize,
        amount: u128,
    },
    Withdraw {
        lender: usize,
        pick: usize,
    },
    Accept {
        pick: usize,
    },
    Expire {
        pick: usize,
    },
    Repay {
        pick: usize,
        amount: u128,
    },
    Claim {
        lender: usize,
        pick: usize,
    },
    Default {
        pick: usize,
    },
    Wait {
        ms: u64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (0..2usize, 1_000_000u128..50_000_000, 1u16..=6, any::<bool>(), 1u8..=100)
            .prop_map(|(borrower, principal, instalments, collateral, min_fill_pct)| Step::Request { borrower, principal, instalments, collateral, min_fill_pct }),
        4 => (0..3usize, any::<usize>(), 100_000u128..50_000_000)
            .prop_map(|(lender, pick, amount)| Step::Fund { lender, pick, amount }),
        1 => (0..3usize, any::<usize>()).prop_map(|(lender, pick)| Step::Withdraw { lender, pick }),
        1 => any::<usize>().prop_map(|pick| Step::Accept { pick }),
        1 => any::<usize>().prop_map(|pick| Step::Expire { pick }),
        3 => (any::<usize>(), 1u128..20_000_000).prop_map(|(pick, amount)| Step::Repay { pick, amount }),
        2 => (0..3usize, any::<usize>()).prop_map(|(lender, pick)| Step::Claim { lender, pick }),
        1 => any::<usize>().prop_map(|pick| Step::Default { pick }),
        3 => (0u64..40 * DAY_MS).prop_map(|ms| Step::Wait { ms }),
    ]
}

fn setup() -> (TestChain, AssetId, AssetId) {
    let mut chain = TestChain::new(6, 100_000_000_000_000);
    let mut issue = |symbol: &str| {
        let receipt = chain.bank(
            ISSUER,
            BankCall::IssueAsset(IssueAsset {
                symbol: Symbol::new(symbol).unwrap(),
                name: Text::new(symbol).unwrap(),
                decimals: 6,
                max_supply: None,
            }),
        );
        match &receipt.events[..] {
            [Event::AssetIssued { asset, .. }] => *asset,
            other => panic!("{other:?}"),
        }
    };
    let usd = issue("USDX");
    let gold = issue("GOLD");
    for holder in BORROWERS.iter().chain(LENDERS.iter()) {
        for asset in [usd, gold] {
            let mint = BankCall::Mint(Mint {
                asset,
                to: account(*holder),
                amount: 10_000_000_000_000,
            });
            assert!(chain.bank(ISSUER, mint).is_success());
        }
    }
    (chain, usd, gold)
}

fn run(steps: &[Step]) {
    let (mut chain, usd, gold) = setup();
    let mut loans: Vec<u64> = Vec::new();
    let mut once: BTreeMap<(u64, &'static str), u32> = BTreeMap::new();
    let pick = |loans: &Vec<u64>, p: usize| (!loans.is_empty()).then(|| loans[p % loans.len()]);
    for step in steps {
        let call = match step.clone() {
            Step::Request {
                borrower,
                principal,
                instalments,
                collateral,
                min_fill_pct,
            } => Some((
                BORROWERS[borrower],
                LendingCall::RequestLoan(RequestLoan {
                    asset: usd,
                    principal,
                    rate_bps: 1_500,
                    term_days: 60,
                    schedule: Schedule::Instalments(instalments),
                    collateral: collateral.then_some(Collateral {
                        asset: gold,
                        amount: principal / 2 + 1,
                    }),
                    funding_deadline_ms: chain.time_ms + 5 * DAY_MS,
                    min_fill: (principal * u128::from(min_fill_pct) / 100).max(1),
                }),
            )),
            Step::Fund {
                lender,
                pick: p,
                amount,
            } => pick(&loans, p)
                .map(|loan| (LENDERS[lender], LendingCall::Fund(Fund { loan, amount }))),
            Step::Withdraw { lender, pick: p } => pick(&loans, p)
                .map(|loan| (LENDERS[lender], LendingCall::Withdraw(LoanRef { loan }))),
            Step::Accept { pick: p } => pick(&loans, p).map(|loan| {
                let borrower = Db::loan(&chain.store, loan).unwrap().borrower;
                let index = BORROWERS
                    .into_iter()
                    .find(|b| account(*b) == borrower)
                    .unwrap();
                (index, LendingCall::Accept(LoanRef { loan }))
            }),
            Step::Expire { pick: p } => {
                pick(&loans, p).map(|loan| (LENDERS[0], LendingCall::Expire(LoanRef { loan })))
            }
            Step::Repay { pick: p, amount } => pick(&loans, p).map(|loan| {
                let borrower = Db::loan(&chain.store, loan).unwrap().borrower;
                let index = BORROWERS
                    .into_iter()
                    .find(|b| account(*b) == borrower)
                    .unwrap();
                (index, LendingCall::Repay(Repay { loan, amount }))
            }),
            Step::Claim { lender, pick: p } => {
                pick(&loans, p).map(|loan| (LENDERS[lender], LendingCall::Claim(LoanRef { loan })))
            }
            Step::Default { pick: p } => pick(&loans, p)
                .map(|loan| (LENDERS[2], LendingCall::DeclareDefault(LoanRef { loan }))),
            Step::Wait { ms } => {
                chain.advance_ms(ms);
                None
            }
        };
        let Some((signer, call)) = call else { continue };
        let receipt = chain.submit(signer, Call::Lending(call));
        assert!(
            !matches!(receipt.outcome, Outcome::Rejected(_)),
            "{receipt:?}"
        );
        for event in &receipt.events {
            let key = match event {
                Event::Lending(LendingEvent::LoanRequested { loan, .. }) => {
                    loans.push(*loan);
                    continue;
                }
                Event::Lending(LendingEvent::Activated { loan, .. }) => (*loan, "activated"),
                Event::Lending(LendingEvent::LoanRepaid { loan }) => (*loan, "repaid"),
                Event::Lending(LendingEvent::Defaulted { loan, .. }) => (*loan, "defaulted"),
                Event::Lending(LendingEvent::RequestClosed { loan, .. }) => (*loan, "closed"),
                _ => continue,
            };
            let count = once.entry(key).or_default();
            *count += 1;
            assert_eq!(*count, 1, "{key:?} happened twice");
        }
    }

    // Take every exit: expire what is still funding, default what is overdue, repay everything
    // owed, then let every lender claim and withdraw.
    chain.advance_ms(200 * DAY_MS);
    for &loan in &loans {
        let record = Db::loan(&chain.store, loan).unwrap();
        let borrower = BORROWERS
            .into_iter()
            .find(|b| account(*b) == record.borrower)
            .unwrap();
        if record.state == LoanState::Funding {
            let receipt = chain.submit(
                LENDERS[0],
                Call::Lending(LendingCall::Expire(LoanRef { loan })),
            );
            assert!(receipt.is_success(), "{receipt:?}");
        }
        if Db::loan(&chain.store, loan).unwrap().state == LoanState::Active {
            chain.submit(
                LENDERS[0],
                Call::Lending(LendingCall::DeclareDefault(LoanRef { loan })),
            );
        }
        if let Some(due) = queries::amount_due(&chain.store, loan, chain.time_ms + 1_000) {
            let owed = due
                .now()
                .max(due.late_fee + due.interest + due.principal_outstanding);
            if owed > 0 {
                let receipt = chain.submit(
                    borrower,
                    Call::Lending(LendingCall::Repay(Repay {
                        loan,
                        amount: u128::MAX,
                    })),
                );
                assert!(receipt.is_success(), "{receipt:?}");
            }
        }
        for lender in LENDERS {
            if Db::position(&chain.store, loan, &account(lender)).is_none() {
                continue;
            }
            let state = Db::loan(&chain.store, loan).unwrap().state;
            let call = match state {
                LoanState::Funding | LoanState::Expired => LendingCall::Withdraw(LoanRef { loan }),
                _ => LendingCall::Claim(LoanRef { loan }),
            };
            chain.submit(lender, Call::Lending(call));
        }
    }
    for &loan in &loans {
        let record = Db::loan(&chain.store, loan).unwrap();
        assert!(
            matches!(
                record.state,
                LoanState::Repaid
                    | LoanState::Defaulted
                    | LoanState::Cancelled
                    | LoanState::Expired
            ),
            "loan {loan} ended {:?}",
            record.state
        );
    }
    assert_eq!(
        state::held(&chain.store, Module::Lending, usd),
        0,
        "every repayment was claimed"
    );
    assert_eq!(
        state::held(&chain.store, Module::Lending, gold),
        0,
        "every collateral went back or to lenders"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_loans_conserve_settle_once_and_leave_nothing_behind(
        steps in proptest::collection::vec(step(), 5..70)
    ) {
        run(&steps);
    }
}
