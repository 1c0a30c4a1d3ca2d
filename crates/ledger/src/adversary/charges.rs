//! A model of what a loan may charge: interest and late fees.
//!
//! Interest is modelled exactly from the events: it accrues only when the ledger accrues (at a
//! repayment and at default), as simple interest on the principal outstanding over the time
//! since the previous accrual. The exact amount is a fraction; the rules say rounding favours
//! the lenders, never the borrower, so the interest the loan has charged in all (paid plus
//! owed) must lie between the exact total rounded up and the exact total with every accrual
//! rounded up on its own.
//!
//! Late fees are bounded on both sides. Above: each instalment may be charged at most
//! `late_fee_bps_per_day` of its own principal for every started day since its due date (once
//! the grace period has passed), rounded up, plus one unit per accrual. Below: the least any
//! reading of the rule charges, `late_fee_bps_per_day` of the part of each instalment still
//! unpaid for every started day after its grace period ended, summed over the stretches between
//! accruals (the principal unpaid changes only at repayments, which are accruals), rounded down.

use super::Violation;
use crate::lending::{
    LendingParams, Loan,
    math::{self, BPS, DAY_MS, YEAR_MS},
    records::Due,
};

/// The denominator of a simple-interest fraction: basis points times a year in milliseconds.
const DENOMINATOR: u128 = BPS * YEAR_MS;

#[derive(Clone, Debug)]
pub struct LoanCharges {
    rate_bps: u32,
    last_ms: u64,
    outstanding: u128,
    /// The exact interest so far is `whole + parts / DENOMINATOR`.
    whole: u128,
    parts: u128,
    /// Accruals whose exact interest was not a whole number (each may round up once).
    inexact: u128,
    /// Accruals of any kind (each may round a late fee up once).
    accruals: u128,
    principal: u128,
    dues: Vec<Due>,
    grace_ms: u64,
    late_fee_bps_per_day: u16,
    /// Principal unpaid times started days after the grace period, summed so far: the least
    /// late fee is this times the daily rate.
    late_principal_days: u128,
}

impl LoanCharges {
    /// The model of `loan`, disbursed at `now` with `principal`.
    pub fn activated(loan: &Loan, principal: u128, now: u64, params: &LendingParams) -> Self {
        Self {
            rate_bps: loan.rate_bps,
            last_ms: now,
            outstanding: principal,
            whole: 0,
            parts: 0,
            inexact: 0,
            accruals: 0,
            principal,
            dues: loan.dues.clone(),
            grace_ms: u64::from(params.grace_days).saturating_mul(DAY_MS),
            late_fee_bps_per_day: params.late_fee_bps_per_day,
            late_principal_days: 0,
        }
    }

    /// Started days after the grace period of a due date, at `at_ms`.
    fn days_after_grace(&self, due_ms: u64, at_ms: u64) -> u64 {
        at_ms
            .saturating_sub(due_ms.saturating_add(self.grace_ms))
            .div_ceil(DAY_MS)
    }

    /// The ledger accrued at `now` (a repayment or a default).
    pub fn accrue(&mut self, now: u64) -> Result<(), Violation> {
        self.accruals += 1;
        let paid = self.principal.saturating_sub(self.outstanding);
        let mut earlier: u128 = 0;
        for due in &self.dues {
            let unpaid = due
                .principal_through
                .saturating_sub(paid)
                .min(due.principal_through.saturating_sub(earlier));
            earlier = due.principal_through;
            let days = self
                .days_after_grace(due.at_ms, now)
                .saturating_sub(self.days_after_grace(due.at_ms, self.last_ms));
            self.late_principal_days = self
                .late_principal_days
                .saturating_add(unpaid.saturating_mul(u128::from(days)));
        }
        let elapsed = now.saturating_sub(self.last_ms);
        self.last_ms = self.last_ms.max(now);
        if elapsed == 0 {
            return Ok(());
        }
        let rate_time = u128::from(self.rate_bps) * u128::from(elapsed);
        let overflow = || {
            Violation::new(
                "interest by the rules",
                "the interest model overflows".into(),
            )
        };
        let whole =
            math::mul_div_floor(self.outstanding, rate_time, DENOMINATOR).ok_or_else(overflow)?;
        // Both factors below the denominator (under 2^49), so their product fits.
        let part = (self.outstanding % DENOMINATOR) * (rate_time % DENOMINATOR) % DENOMINATOR;
        self.whole = self.whole.checked_add(whole).ok_or_else(overflow)?;
        self.parts += part;
        if part > 0 {
            self.inexact += 1;
        }
        Ok(())
    }

    pub fn repaid_principal(&mut self, principal: u128) {
        self.outstanding = self.outstanding.saturating_sub(principal);
    }

    /// Checks the interest and late fees `loan` has charged so far.
    pub fn check(&self, loan: &Loan) -> Result<(), Violation> {
        let interest_paid = loan
            .paid_in
            .checked_sub(loan.principal_paid)
            .and_then(|rest| rest.checked_sub(loan.late_fees_paid));
        let charged = interest_paid.and_then(|paid| paid.checked_add(loan.interest_owed));
        let least = self.whole + self.parts.div_ceil(DENOMINATOR);
        let most = self.whole + self.inexact;
        if charged.is_none_or(|charged| charged < least || charged > most) {
            return Err(Violation::new(
                "interest by the rules",
                format!(
                    "loan {} has charged {charged:?} interest (paid in {}, principal paid {}, late \
                     fees paid {}, interest owed {}); simple interest on the principal outstanding \
                     between accruals is {least} rounded up once, {most} rounded up at every accrual",
                    loan.id,
                    loan.paid_in,
                    loan.principal_paid,
                    loan.late_fees_paid,
                    loan.interest_owed
                ),
            ));
        }
        let at = loan.accrued_to_ms;
        let grace_ms = self.grace_ms;
        let late_fee_bps_per_day = self.late_fee_bps_per_day;
        let mut principal_days: u128 = 0;
        let mut earlier: u128 = 0;
        for due in &loan.dues {
            let part = due.principal_through.saturating_sub(earlier);
            earlier = due.principal_through;
            if at > due.at_ms.saturating_add(grace_ms) {
                let days = (at - due.at_ms).div_ceil(DAY_MS);
                principal_days =
                    principal_days.saturating_add(part.saturating_mul(u128::from(days)));
            }
        }
        let limit = math::mul_div_ceil(principal_days, u128::from(late_fee_bps_per_day), BPS)
            .unwrap_or(u128::MAX)
            .saturating_add(self.accruals);
        let late_fees = loan.late_fees_paid.saturating_add(loan.late_fee_owed);
        let least = math::mul_div_floor(
            self.late_principal_days,
            u128::from(late_fee_bps_per_day),
            BPS,
        )
        .unwrap_or(u128::MAX);
        if late_fees < least {
            return Err(Violation::new(
                "late fees by the rules",
                format!(
                    "loan {} has charged {late_fees} in late fees by {at} ms; its unpaid \
                     instalments' started days after their grace periods ask for at least {least} \
                     (dues {:?})",
                    loan.id, loan.dues
                ),
            ));
        }
        if late_fees > limit {
            return Err(Violation::new(
                "late fees by the rules",
                format!(
                    "loan {} has charged {late_fees} in late fees by {at} ms; its instalments' \
                     principal times the started days each has been late allows {limit} (dues {:?})",
                    loan.id, loan.dues
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use types::lending::{RequestLoan, Schedule};

    const T0: u64 = 1_767_225_600_000;

    /// A bullet loan of 1,000,000 at 0% due after 30 days, accrued 5 days and a millisecond
    /// after its 3-day grace period ended, owing `late_fee_owed`.
    fn late_loan(late_fee_owed: u128) -> (LoanCharges, Loan) {
        let params = LendingParams::default();
        assert_eq!((params.grace_days, params.late_fee_bps_per_day), (3, 10));
        let terms = RequestLoan {
            asset: types::AssetId(1),
            principal: 1_000_000,
            rate_bps: 0,
            term_days: 30,
            schedule: Schedule::Bullet,
            collateral: None,
            funding_deadline_ms: T0,
            min_fill: 1_000_000,
        };
        let mut loan = Loan::requested(1, crate::testing::account(0), &terms, T0);
        loan.dues = vec![Due {
            at_ms: T0 + 30 * DAY_MS,
            principal_through: 1_000_000,
        }];
        let mut model = LoanCharges::activated(&loan, 1_000_000, T0, &params);
        let at = T0 + 38 * DAY_MS + 1;
        model.accrue(at).unwrap();
        loan.accrued_to_ms = at;
        loan.late_fee_owed = late_fee_owed;
        (model, loan)
    }

    #[test]
    fn late_fees_are_held_between_the_least_and_the_most_the_rule_allows() {
        // Six started days after the grace period: at least 1,000,000 × 6 × 0.1% = 6,000. Nine
        // started days since the due date: at most 9,000, plus one for the accrual's rounding.
        for fee in [6_000, 9_000, 9_001] {
            let (model, loan) = late_loan(fee);
            assert!(model.check(&loan).is_ok(), "{fee}");
        }
        for fee in [0, 5_999, 9_002] {
            let (model, loan) = late_loan(fee);
            let violation = model.check(&loan).expect_err("outside the rule");
            assert_eq!(violation.invariant, "late fees by the rules", "{fee}");
        }
    }

    #[test]
    fn interest_is_held_between_one_rounding_and_one_per_accrual() {
        let params = LendingParams::default();
        let terms = RequestLoan {
            asset: types::AssetId(1),
            principal: 1_000_000,
            rate_bps: 1_000,
            term_days: 365,
            schedule: Schedule::Bullet,
            collateral: None,
            funding_deadline_ms: T0,
            min_fill: 1,
        };
        let mut loan = Loan::requested(1, crate::testing::account(0), &terms, T0);
        loan.dues = vec![Due {
            at_ms: T0 + 365 * DAY_MS,
            principal_through: 1_000_000,
        }];
        let mut model = LoanCharges::activated(&loan, 1_000_000, T0, &params);
        // Half a year and a millisecond at 10%: 50,000.0003..., so 50,001 rounded up.
        let at = T0 + 365 * DAY_MS / 2 + 1;
        model.accrue(at).unwrap();
        loan.accrued_to_ms = at;
        for (owed, fine) in [(50_001, true), (50_000, false), (50_002, false)] {
            loan.interest_owed = owed;
            assert_eq!(model.check(&loan).is_ok(), fine, "{owed}");
        }
    }
}
