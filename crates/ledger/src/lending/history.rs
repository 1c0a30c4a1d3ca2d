//! Borrowers' credit history, kept as loans are disbursed, repaid and defaulted.

use super::records::{CreditHistory, Db, Loan, MAX_HISTORY_ASSETS};
use crate::store::Store;
use types::AssetId;

fn update(store: &mut (impl Store + ?Sized), loan: &Loan, change: impl FnOnce(&mut CreditHistory)) {
    let mut history = Db::history(store, &loan.borrower);
    change(&mut history);
    Db::put_history(store, &loan.borrower, &history);
}

fn amounts(history: &mut CreditHistory, asset: AssetId) -> Option<&mut (AssetId, u128, u128)> {
    if !history.amounts.iter().any(|(a, _, _)| *a == asset) {
        if history.amounts.len() >= MAX_HISTORY_ASSETS {
            // Past the bound, amounts of further assets are not tracked.
            return None;
        }
        history.amounts.push((asset, 0, 0));
    }
    history.amounts.iter_mut().find(|(a, _, _)| *a == asset)
}

pub fn disbursed(store: &mut (impl Store + ?Sized), loan: &Loan) {
    update(store, loan, |h| {
        h.loans = h.loans.saturating_add(1);
        if let Some(entry) = amounts(h, loan.asset) {
            entry.1 = entry.1.saturating_add(loan.principal);
        }
    });
}

pub fn repaid(store: &mut (impl Store + ?Sized), loan: &Loan, amount: u128, late: bool) {
    update(store, loan, |h| {
        if late {
            h.late_payments = h.late_payments.saturating_add(1);
        }
        if let Some(entry) = amounts(h, loan.asset) {
            entry.2 = entry.2.saturating_add(amount);
        }
    });
}

pub fn closed(store: &mut (impl Store + ?Sized), loan: &Loan) {
    update(store, loan, |h| {
        if loan.late_fees_paid > 0 {
            h.repaid_late = h.repaid_late.saturating_add(1);
        } else {
            h.repaid_on_time = h.repaid_on_time.saturating_add(1);
        }
    });
}

pub fn defaulted(store: &mut (impl Store + ?Sized), loan: &Loan) {
    update(store, loan, |h| h.defaults = h.defaults.saturating_add(1));
}
