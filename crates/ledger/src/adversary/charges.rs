//! A model of what a loan may charge: interest and late fees.
//!
//! Interest is modelled exactly from the events: it accrues only when the ledger accrues (at a
//! repayment and at default), as simple interest on the principal outstanding over the time
//! since the previous accrual. The exact amount is a fraction; the rules say rounding favours
//! the lenders, never the borrower, so the interest the loan has charged in all (paid plus
//! owed) must lie between the exact total rounded up and the exact total with every accrual
//! rounded up on its own.
//!
//! Late fees are bounded above: by its due date plus the grace period, each instalment may be
//! charged at most `late_fee_bps_per_day` of its own principal for every started day since its
//! due date, rounded up, plus one unit per accrual.

use super::Violation;
use crate::lending::{
    Loan,
    math::{self, BPS, DAY_MS, YEAR_MS},
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
}

impl LoanCharges {
    pub fn activated(rate_bps: u32, principal: u128, now: u64) -> Self {
        Self {
            rate_bps,
            last_ms: now,
            outstanding: principal,
            whole: 0,
            parts: 0,
            inexact: 0,
            accruals: 0,
        }
    }

    /// The ledger accrued at `now` (a repayment or a default).
    pub fn accrue(&mut self, now: u64) -> Result<(), Violation> {
        self.accruals += 1;
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
    pub fn check(
        &self,
        loan: &Loan,
        grace_days: u32,
        late_fee_bps_per_day: u16,
    ) -> Result<(), Violation> {
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
        let grace_ms = u64::from(grace_days).saturating_mul(DAY_MS);
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
