//! Time steering: the next block's time is aimed at the deadlines of the live records, landing
//! one millisecond before, exactly at, or one millisecond after them (and a day later, where late
//! fees count started days), besides small steps, repeated timestamps and long jumps.

use super::{dice::Dice, view::View};
use crate::{lending::LoanState, market::TradeState};

const DAY_MS: u64 = 86_400_000;

/// Every deadline of a live record: payment, release and ruling windows, arbitrators' cooldowns,
/// funding deadlines and the acceptance period after them, credit offers' expiry, and each due
/// date with its grace period and default threshold.
pub fn deadlines(view: &View) -> Vec<u64> {
    let mut all = Vec::new();
    for trade in view.live_trades() {
        all.push(match trade.state {
            TradeState::AwaitingPayment => trade.payment_deadline_ms,
            TradeState::Paid => trade.release_deadline_ms,
            _ => trade.ruling_deadline_ms,
        });
    }
    all.extend(view.arbitrators.iter().filter_map(|a| a.leaving_at_ms));
    let grace_ms = u64::from(view.lending.grace_days).saturating_mul(DAY_MS);
    let default_ms = u64::from(view.lending.default_after_days).saturating_mul(DAY_MS);
    let acceptance_ms = u64::from(view.lending.acceptance_days).saturating_mul(DAY_MS);
    for loan in &view.loans {
        match loan.state {
            LoanState::Funding => {
                all.push(loan.funding_deadline_ms);
                all.push(loan.funding_deadline_ms.saturating_add(acceptance_ms));
            }
            LoanState::Active | LoanState::Defaulted => {
                for due in loan
                    .dues
                    .iter()
                    .filter(|due| due.principal_through > loan.principal_paid)
                    .take(3)
                {
                    all.push(due.at_ms);
                    all.push(due.at_ms.saturating_add(grace_ms));
                    all.push(due.at_ms.saturating_add(default_ms));
                }
            }
            _ => {}
        }
    }
    all.extend(view.credit_offers.iter().map(|offer| offer.expires_ms));
    all
}

/// The next block's time, never before `view.now_ms`.
pub fn next_time(dice: &mut Dice, view: &View) -> u64 {
    let now = view.now_ms;
    let ahead: Vec<u64> = deadlines(view)
        .into_iter()
        .filter(|deadline| deadline.saturating_add(DAY_MS) >= now)
        .collect();
    let choice = dice.weighted(&[10, 35, if ahead.is_empty() { 0 } else { 45 }, 10]);
    let time = match choice {
        0 => now,
        1 => now.saturating_add(dice.between(1, 120_000) as u64),
        2 => {
            let deadline = *dice.pick(&ahead).expect("not empty");
            let offsets: [i64; 7] = [-1, 0, 1, 1, 2, DAY_MS as i64, DAY_MS as i64 + 1];
            let offset = *dice.pick(&offsets).expect("not empty");
            deadline.saturating_add_signed(offset)
        }
        _ => now.saturating_add(dice.between(3_600_000, 40 * u128::from(DAY_MS)) as u64),
    };
    time.max(now)
}
