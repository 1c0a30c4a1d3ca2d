//! The ledger tests' harnesses. Here, lending's: a chain with two issued assets (USDX with 6
//! decimals, GOLD with 3), funded borrower, lenders and outsider, and helpers that submit
//! lending calls and check their outcome; the market's is in [`market`].

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

pub mod market;

use ledger::{
    CallError, Event, Outcome, Receipt,
    lending::{Db, LendingError, LendingEvent},
    testing::TestChain,
};
use types::{AssetId, Call, lending::*};

pub const BORROWER: u64 = 0;
pub const LENDER_A: u64 = 1;
pub const LENDER_B: u64 = 2;
pub const LENDER_C: u64 = 3;
pub const OUTSIDER: u64 = 4;
pub const ISSUER: u64 = 5;
pub const DAY_MS: u64 = 86_400_000;
/// 1,000 USDX.
pub const THOUSAND: u128 = 1_000_000_000;

pub struct Lending {
    pub chain: TestChain,
    pub usd: AssetId,
    pub gold: AssetId,
}

pub use market::{issue_asset as issue, mint};

impl Lending {
    pub fn new() -> Self {
        let mut chain = TestChain::new(6, 100_000_000_000_000);
        let usd = issue(&mut chain, "USDX", 6);
        let gold = issue(&mut chain, "GOLD", 3);
        for holder in [BORROWER, LENDER_A, LENDER_B, LENDER_C, OUTSIDER] {
            for asset in [usd, gold] {
                mint(&mut chain, asset, holder, 100 * THOUSAND);
            }
        }
        Self { chain, usd, gold }
    }

    pub fn submit(&mut self, signer: u64, call: LendingCall) -> Receipt {
        self.chain.submit(signer, Call::Lending(call))
    }

    pub fn ok(&mut self, signer: u64, call: LendingCall) -> Vec<LendingEvent> {
        let receipt = self.submit(signer, call);
        assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
        receipt
            .events
            .into_iter()
            .filter_map(|e| match e {
                Event::Lending(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    pub fn fails(&mut self, signer: u64, call: LendingCall, expected: LendingError) {
        let before = self.chain.snapshot_except_fee(signer);
        let receipt = self.submit(signer, call);
        assert_eq!(
            receipt.outcome,
            Outcome::Failed(CallError::Lending(expected)),
            "{receipt:?}"
        );
        assert_eq!(
            self.chain.snapshot_except_fee(signer),
            before,
            "nothing moved"
        );
    }

    pub fn usd(&self, who: u64) -> u128 {
        self.chain.balance(who, self.usd)
    }

    pub fn request(&self, principal: u128, schedule: Schedule) -> RequestLoan {
        RequestLoan {
            asset: self.usd,
            principal,
            rate_bps: 1_200,
            term_days: 360,
            schedule,
            collateral: Some(Collateral {
                asset: self.gold,
                amount: 500_000,
            }),
            funding_deadline_ms: self.chain.time_ms + 7 * DAY_MS,
            min_fill: principal / 2,
        }
    }

    pub fn open(&mut self, request: RequestLoan) -> u64 {
        match self.ok(BORROWER, LendingCall::RequestLoan(request))[..] {
            [LendingEvent::LoanRequested { loan, .. }] => loan,
            ref other => panic!("{other:?}"),
        }
    }

    pub fn fund(&mut self, lender: u64, loan: u64, amount: u128) -> Vec<LendingEvent> {
        self.ok(lender, LendingCall::Fund(Fund { loan, amount }))
    }

    pub fn loan(&self, id: u64) -> ledger::lending::Loan {
        Db::loan(&self.chain.store, id).unwrap()
    }

    /// A 1,200 USDX loan in 12 instalments funded 2:1 by lenders A and B.
    pub fn active_loan(&mut self) -> u64 {
        let loan = self.open(self.request(1_200_000_000, Schedule::Instalments(12)));
        self.fund(LENDER_A, loan, 800_000_000);
        self.fund(LENDER_B, loan, 400_000_000);
        loan
    }

    pub fn repay(&mut self, loan: u64, amount: u128) -> Vec<LendingEvent> {
        self.ok(BORROWER, LendingCall::Repay(Repay { loan, amount }))
    }

    pub fn claim(&mut self, lender: u64, loan: u64) -> (u128, u128) {
        match self.ok(lender, LendingCall::Claim(LoanRef { loan }))[..] {
            [
                LendingEvent::Claimed {
                    amount, collateral, ..
                },
            ] => (amount, collateral),
            ref other => panic!("{other:?}"),
        }
    }
}
