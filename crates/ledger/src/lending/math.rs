//! Exact arithmetic for loans: interest, and the amortisation schedule (`a * b / d` with a
//! 256-bit intermediate comes from [`crate::math`]).
//!
//! Rounding rule of the whole module: what the borrower owes is rounded up, what a lender receives
//! is rounded down, and the last payment of a schedule clears whatever remains.

/// Milliseconds in a day and in a (365-day) year.
pub const DAY_MS: u64 = 86_400_000;
pub const YEAR_MS: u128 = 365 * 86_400_000;
/// Basis points in one whole.
pub const BPS: u128 = 10_000;

pub use crate::math::{mul_div_ceil, mul_div_floor};

/// Simple interest on `principal` at `rate_bps` a year for `ms` milliseconds, rounded up (the
/// borrower owes it).
pub fn interest(principal: u128, rate_bps: u32, ms: u64) -> Option<u128> {
    let rate_time = u128::from(rate_bps).checked_mul(u128::from(ms))?;
    mul_div_ceil(principal, rate_time, BPS.checked_mul(YEAR_MS)?)
}

/// One row of a repayment schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instalment {
    /// Milliseconds from the loan's start to this payment's due date.
    pub due_offset_ms: u64,
    pub payment: u128,
    pub interest: u128,
    pub principal: u128,
    /// Principal still owed after this payment.
    pub remaining: u128,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("the principal must be greater than zero")]
    ZeroPrincipal,
    #[error("the term must be at least one day")]
    ZeroTerm,
    #[error("a loan has 1 to {max} instalments, not {count}")]
    InstalmentCount { count: u16, max: u16 },
    #[error(
        "the term of {term_days} days cannot be split into {count} instalments of at least a day"
    )]
    PeriodTooShort { term_days: u32, count: u16 },
    #[error("the schedule's numbers overflow; the rate or term is too large")]
    Overflow,
}

/// The level payment `P·R / (1 − (1+R)^−n)` rounded up once, for `R = a / b` with
/// `a = rate_bps · period_ms` and `b = 10,000 · year_ms`. Multiplying through by `b^n` gives the
/// exact fraction `P · a · (a+b)^n / (b · ((a+b)^n − b^n))`, whose terms need far more than 128
/// bits (up to about 17,000 for 360 instalments), so it is evaluated in arbitrary precision.
/// `None` if the payment does not fit in a `u128` or `rate_bps` is zero.
// Arbitrary-precision arithmetic cannot overflow; `(a+b)^n ≥ b^n` so the subtraction cannot go
// below zero, and the division is by a denominator checked to be non-zero.
#[allow(clippy::arithmetic_side_effects)]
fn level_payment(principal: u128, rate_bps: u32, period_ms: u64, count: u16) -> Option<u128> {
    use num_bigint::BigUint;
    let a = BigUint::from(rate_bps) * BigUint::from(period_ms);
    let b = BigUint::from(BPS) * BigUint::from(YEAR_MS);
    let growth = (&a + &b).pow(u32::from(count));
    let numerator = BigUint::from(principal) * &a * &growth;
    let denominator = &b * (growth - b.pow(u32::from(count)));
    if denominator == BigUint::ZERO {
        return None;
    }
    let quotient = (numerator + &denominator - 1u8) / denominator;
    u128::try_from(quotient).ok()
}

/// The amortisation schedule of a loan: `count` equal payments (the last one clears the rest),
/// each due `term / count` apart, the last exactly at the end of the term.
///
/// The equal payment is `P·R / (1 − (1+R)^−n)` with `R = rate · period / year`, computed exactly
/// and rounded up once (see [`level_payment`]); each row's interest is the exact simple interest on
/// the principal remaining over the period, rounded up. A bullet loan is the case `count = 1`.
pub fn schedule(
    principal: u128,
    rate_bps: u32,
    term_days: u32,
    count: u16,
) -> Result<Vec<Instalment>, ScheduleError> {
    use ScheduleError::Overflow;
    if principal == 0 {
        return Err(ScheduleError::ZeroPrincipal);
    }
    if term_days == 0 {
        return Err(ScheduleError::ZeroTerm);
    }
    let max = types::lending::MAX_INSTALMENTS;
    if count == 0 || count > max {
        return Err(ScheduleError::InstalmentCount { count, max });
    }
    if u32::from(count) > term_days {
        return Err(ScheduleError::PeriodTooShort { term_days, count });
    }
    let term_ms = u64::from(term_days).checked_mul(DAY_MS).ok_or(Overflow)?;
    let period_ms = term_ms
        .checked_div(u64::from(count))
        .expect("count is not zero");
    let payment = if rate_bps == 0 {
        principal.div_ceil(u128::from(count))
    } else {
        level_payment(principal, rate_bps, period_ms, count).ok_or(Overflow)?
    };
    let mut remaining = principal;
    let mut rows = Vec::with_capacity(usize::from(count));
    for index in 1..=count {
        let last = index == count;
        let due_offset_ms = if last {
            term_ms
        } else {
            period_ms.checked_mul(u64::from(index)).ok_or(Overflow)?
        };
        let row_interest = interest(remaining, rate_bps, period_ms).ok_or(Overflow)?;
        let row_principal = if last {
            remaining
        } else {
            payment.saturating_sub(row_interest).min(remaining)
        };
        remaining = remaining.checked_sub(row_principal).ok_or(Overflow)?;
        rows.push(Instalment {
            due_offset_ms,
            payment: row_principal.checked_add(row_interest).ok_or(Overflow)?,
            interest: row_interest,
            principal: row_principal,
            remaining,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_known_amortisation() {
        // 1,200.00 at 12% a year over 360 days in 12 payments: R ~ 0.986% a period.
        let rows = schedule(120_000, 1_200, 360, 12).unwrap();
        assert_eq!(rows.len(), 12);
        assert_eq!(rows.iter().map(|r| r.principal).sum::<u128>(), 120_000);
        assert_eq!(rows[0].interest, 1_184, "120000 * 12% * 30/365, rounded up");
        let payment = rows[0].payment;
        assert!((10_640..=10_670).contains(&payment), "{payment}");
        assert!(rows[..11].iter().all(|r| r.payment == payment));
        assert_eq!(rows[11].remaining, 0);
        assert_eq!(rows[11].due_offset_ms, 360 * DAY_MS);
    }

    #[test]
    fn bullet_and_zero_rate() {
        let rows = schedule(1_000_000, 1_000, 365, 1).unwrap();
        assert_eq!(
            rows,
            vec![Instalment {
                due_offset_ms: 365 * DAY_MS,
                payment: 1_100_000,
                interest: 100_000,
                principal: 1_000_000,
                remaining: 0
            }]
        );
        let rows = schedule(100, 0, 30, 3).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.payment).collect::<Vec<_>>(),
            vec![34, 34, 32]
        );
    }

    #[test]
    fn invalid_schedules_are_named() {
        assert_eq!(schedule(0, 1, 1, 1), Err(ScheduleError::ZeroPrincipal));
        assert_eq!(schedule(1, 1, 0, 1), Err(ScheduleError::ZeroTerm));
        assert_eq!(
            schedule(1, 1, 30, 0),
            Err(ScheduleError::InstalmentCount { count: 0, max: 360 })
        );
        assert_eq!(
            schedule(1, 1, 30, 31),
            Err(ScheduleError::PeriodTooShort {
                term_days: 30,
                count: 31
            })
        );
        assert_eq!(
            schedule(u128::MAX, u32::MAX, 3_650, 360),
            Err(ScheduleError::Overflow)
        );
    }

    /// An independent check: the textbook annuity formula in floating point (which the ledger
    /// never uses) agrees with the exact payment to within a unit of rounding.
    #[test]
    fn payments_agree_with_the_floating_point_formula() {
        for (principal, rate_bps, term_days, count) in [
            (100_000_u128, 1_200u32, 365u32, 12u16),
            (250_000_000, 500, 730, 24),
            (99_999, 2_500, 90, 3),
            (5_000_000_000_000, 800, 3_600, 120),
            (1_000_000, 15_000, 360, 360),
        ] {
            let rows = schedule(principal, rate_bps, term_days, count).unwrap();
            let period_days = f64::from(term_days) / f64::from(count);
            let r = f64::from(rate_bps) / 10_000.0 * period_days / 365.0;
            let expected = principal as f64 * r / (1.0 - (1.0 + r).powi(i32::from(count)).recip());
            let difference = (rows[0].payment as f64 - expected).abs();
            assert!(
                rows[0].payment as f64 >= expected * (1.0 - 1e-9),
                "never below the exact payment"
            );
            assert!(
                difference < 1.0 + expected * 1e-12,
                "{principal} {rate_bps} {term_days} {count}: {} vs {expected}",
                rows[0].payment
            );
        }
    }

    /// 10,000.00 at 12% over 360 days in 12 instalments: `P·R/(1−(1+R)^−n)` is 887.7191…, so
    /// the payment is 887.72; rounding at every step of a fixed-point power gave 887.73.
    #[test]
    fn schedule_payment_is_rounded_up_once() {
        let rows = schedule(1_000_000, 1_200, 360, 12).unwrap();
        assert_eq!(rows[0].payment, 88_772);
        // An exact payment is not rounded: 0% is covered above; here P·R/(1−(1+R)^−1) = P(1+R)
        // for one instalment of 365 days at 100%, exactly twice the principal.
        let rows = schedule(1_000, 10_000, 365, 1).unwrap();
        assert_eq!(rows[0].payment, 2_000);
        // The largest schedule and a principal near the top of u128 still compute or overflow
        // by name.
        assert!(schedule(1_000_000, 10_000, 3_600, 360).is_ok());
        assert_eq!(
            schedule(u128::MAX, 10_000, 365, 1),
            Err(ScheduleError::Overflow)
        );
    }

    proptest! {
        #[test]
        fn principal_parts_sum_exactly_and_payments_are_equal_but_the_last(
            principal in 1u128..1_000_000_000_000_000_000_000,
            rate_bps in 0u32..10_000,
            count in 1u16..=60,
            extra_days in 0u32..700,
        ) {
            let term_days = u32::from(count) + extra_days;
            let rows = schedule(principal, rate_bps, term_days, count).unwrap();
            prop_assert_eq!(rows.iter().map(|r| r.principal).sum::<u128>(), principal);
            prop_assert_eq!(rows.last().unwrap().remaining, 0);
            let first = rows[0].payment;
            for row in &rows[..rows.len() - 1] {
                prop_assert_eq!(row.payment, first);
                prop_assert!(row.interest <= row.payment);
            }
            // Interest is never rounded in the borrower's favour.
            let mut remaining = principal;
            let period = u64::from(term_days) * DAY_MS / u64::from(count);
            for row in &rows {
                let exact_floor = mul_div_floor(remaining, u128::from(rate_bps) * u128::from(period), BPS * YEAR_MS).unwrap();
                prop_assert!(row.interest >= exact_floor);
                prop_assert!(row.interest <= exact_floor + 1);
                remaining -= row.principal;
            }
        }
    }
}
