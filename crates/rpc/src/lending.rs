//! Lending views and queries: loan requests and loans, credit offers, lenders' positions and
//! what a borrower owes now.

use crate::{
    market::MAX_PAGE,
    views::{Money, asset_ref},
};
use ledger::{
    Store,
    lending::{
        self, CreditOffer, Db, Loan, LoanState,
        queries::{SortBy, amount_due},
    },
};
use serde::{Deserialize, Serialize};
use types::{AccountId, lending::Schedule};

pub fn schedule_name(schedule: Schedule) -> String {
    match schedule {
        Schedule::Bullet => "bullet".into(),
        Schedule::Instalments(n) => format!("instalments:{n}"),
    }
}

/// "bullet", "instalments:12" or just "12".
pub fn parse_schedule(text: &str) -> Result<Schedule, String> {
    if text.eq_ignore_ascii_case("bullet") {
        return Ok(Schedule::Bullet);
    }
    let count = text.strip_prefix("instalments:").unwrap_or(text);
    count
        .parse::<u16>()
        .ok()
        .filter(|n| *n >= 1)
        .map(Schedule::Instalments)
        .ok_or_else(|| {
            format!("schedule {text:?}: use \"bullet\" or a number of instalments such as 12")
        })
}

/// A rate in basis points as a percentage with two decimals ("12.50").
pub fn percent(bps: u32) -> String {
    types::amount::format_fixed(u128::from(bps), 2)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DueView {
    pub at_ms: u64,
    /// Principal to be repaid by this date, in total.
    pub principal_through: Money,
}

/// One payment of the loan's schedule, as the ledger's amortisation computes it
/// (`ledger::lending::math::schedule`): the interest is what the period costs when every
/// payment before it was made on its date; interest really accrues per millisecond on the
/// principal outstanding, so paying early costs less and paying late more.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InstalmentView {
    /// 1 for the first payment.
    pub number: u16,
    pub due_ms: u64,
    pub payment: Money,
    pub interest: Money,
    pub principal: Money,
    /// Principal still owed after this payment.
    pub remaining: Money,
    /// "paid" (its principal has been repaid), "due" (its date has passed and it is not paid),
    /// "next" (the first one not yet due) or "later".
    pub status: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AmountDueView {
    pub late_fee: Money,
    pub interest: Money,
    /// Principal whose due date has passed.
    pub principal_due: Money,
    /// What must be paid now to be up to date.
    pub now: Money,
    /// All principal still owed, due or not.
    pub principal_outstanding: Money,
    /// What closes the loan at the latest block: late fee, interest and all principal
    /// outstanding. Interest runs until the block that includes a repayment, so paying exactly
    /// this leaves a little principal owed; a repayment of more takes only what is owed then
    /// (`equa loan repay --all` adds a day of interest).
    pub payoff: Money,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PositionView {
    pub lender: String,
    pub lent: Money,
    pub claimed: Money,
    /// Repayments waiting for this lender to claim.
    pub claimable: Money,
    /// Seized collateral waiting for this lender to claim.
    pub collateral_claimable: Option<Money>,
    /// Seized collateral this lender has claimed (zero unless the loan defaulted).
    pub collateral_claimed: Option<Money>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoanView {
    pub id: u64,
    pub borrower: String,
    /// "funding", "active", "repaid", "defaulted", "cancelled" or "expired".
    pub state: String,
    pub principal: Money,
    pub funded: Money,
    pub min_fill: Money,
    pub rate_bps: u32,
    /// APR in percent, for example "12.50".
    pub rate_percent: String,
    pub term_days: u32,
    pub schedule: String,
    pub collateral: Option<Money>,
    pub funding_deadline_ms: u64,
    pub created_ms: u64,
    /// When the principal reached the borrower (0 while funding).
    pub start_ms: u64,
    pub dues: Vec<DueView>,
    /// The schedule, payment by payment (empty while the request collects lenders: it is
    /// computed on the principal actually lent).
    pub instalments: Vec<InstalmentView>,
    pub principal_paid: Money,
    pub late_fees_paid: Money,
    /// Everything repaid so far, for the lenders.
    pub paid_in: Money,
    /// What the loan owes at the latest finalized block, when active or defaulted.
    pub amount_due: Option<AmountDueView>,
    pub next_due_ms: Option<u64>,
    pub lenders: Vec<PositionView>,
    pub lender_count: u32,
    pub closed_ms: Option<u64>,
    /// While active and behind: from this time on anyone may declare the loan in default (the
    /// oldest unpaid due date plus the default threshold; the ledger refuses before).
    pub default_allowed_ms: Option<u64>,
    /// Collateral seized for the lenders at default.
    pub collateral_seized: Option<Money>,
}

impl LoanView {
    /// The loan with its lenders (at most [`MAX_PAGE`] of them).
    pub fn new(store: &(impl Store + ?Sized), loan: &Loan, with_lenders: bool) -> Self {
        let money = |minor| Money::read(store, loan.asset, minor);
        let (_, now) = ledger::state::last_block(store);
        let lenders = Db::lenders(store, loan.id);
        let claims_open = matches!(
            loan.state,
            LoanState::Active | LoanState::Repaid | LoanState::Defaulted
        );
        let positions = if with_lenders {
            lenders
                .iter()
                .take(MAX_PAGE as usize)
                .filter_map(|lender| {
                    let position = Db::position(store, loan.id, lender)?;
                    let (claimable, collateral) = if claims_open {
                        lending::claimable(store, loan, lender).unwrap_or((0, 0))
                    } else {
                        (0, 0)
                    };
                    Some(PositionView {
                        lender: lender.to_string(),
                        lent: money(position.lent),
                        claimed: money(position.claimed),
                        claimable: money(claimable),
                        collateral_claimable: loan
                            .collateral
                            .map(|c| Money::read(store, c.asset, collateral)),
                        collateral_claimed: loan
                            .collateral
                            .map(|c| Money::read(store, c.asset, position.collateral_claimed)),
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        Self {
            id: loan.id,
            borrower: loan.borrower.to_string(),
            state: loan.state.name().into(),
            principal: money(loan.principal),
            funded: money(loan.funded),
            min_fill: money(loan.min_fill),
            rate_bps: loan.rate_bps,
            rate_percent: percent(loan.rate_bps),
            term_days: loan.term_days,
            schedule: schedule_name(loan.schedule),
            collateral: loan
                .collateral
                .map(|c| Money::read(store, c.asset, c.amount)),
            funding_deadline_ms: loan.funding_deadline_ms,
            created_ms: loan.created_ms,
            start_ms: loan.start_ms,
            dues: loan
                .dues
                .iter()
                .map(|due| DueView {
                    at_ms: due.at_ms,
                    principal_through: money(due.principal_through),
                })
                .collect(),
            principal_paid: money(loan.principal_paid),
            late_fees_paid: money(loan.late_fees_paid),
            paid_in: money(loan.paid_in),
            amount_due: amount_due(store, loan.id, now).map(|due| AmountDueView {
                late_fee: money(due.late_fee),
                interest: money(due.interest),
                principal_due: money(due.principal_due),
                now: money(due.now()),
                principal_outstanding: money(due.principal_outstanding),
                payoff: money(
                    due.now().saturating_add(
                        due.principal_outstanding.saturating_sub(due.principal_due),
                    ),
                ),
            }),
            next_due_ms: matches!(loan.state, LoanState::Active | LoanState::Defaulted)
                .then(|| loan.oldest_unpaid_due())
                .flatten(),
            lenders: positions,
            lender_count: u32::try_from(lenders.len()).unwrap_or(u32::MAX),
            closed_ms: loan.closed_ms,
            default_allowed_ms: default_allowed_ms(store, loan),
            collateral_seized: (loan.state == LoanState::Defaulted)
                .then(|| {
                    loan.collateral
                        .map(|c| Money::read(store, c.asset, loan.collateral_paid_in))
                })
                .flatten(),
            instalments: instalments(store, loan, now),
        }
    }
}

/// When an active loan may be declared in default: the ledger's `declare_default` refuses
/// until the oldest unpaid due date plus `default_after_days` has passed.
fn default_allowed_ms(store: &(impl Store + ?Sized), loan: &Loan) -> Option<u64> {
    if loan.state != LoanState::Active {
        return None;
    }
    let due = loan.oldest_unpaid_due()?;
    let params = lending::params::load(store);
    let threshold = due
        .saturating_add(u64::from(params.default_after_days).saturating_mul(lending::math::DAY_MS));
    Some(threshold.saturating_add(1))
}

fn instalments(store: &(impl Store + ?Sized), loan: &Loan, now: u64) -> Vec<InstalmentView> {
    if loan.start_ms == 0 {
        return Vec::new();
    }
    let count = match loan.schedule {
        Schedule::Bullet => 1,
        Schedule::Instalments(n) => n,
    };
    let Ok(rows) = lending::math::schedule(loan.principal, loan.rate_bps, loan.term_days, count)
    else {
        return Vec::new();
    };
    let money = |minor| Money::read(store, loan.asset, minor);
    let mut next_seen = false;
    rows.iter()
        .zip(&loan.dues)
        .zip(1u16..)
        .map(|((row, due), number)| {
            let status = if loan.principal_paid >= due.principal_through {
                "paid"
            } else if due.at_ms <= now {
                "due"
            } else if !next_seen {
                next_seen = true;
                "next"
            } else {
                "later"
            };
            InstalmentView {
                number,
                due_ms: due.at_ms,
                payment: money(row.payment),
                interest: money(row.interest),
                principal: money(row.principal),
                remaining: money(row.remaining),
                status: status.into(),
            }
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreditOfferView {
    pub id: u64,
    pub lender: String,
    /// What can still be borrowed.
    pub remaining: Money,
    pub min_amount: Money,
    pub rate_bps: u32,
    pub rate_percent: String,
    pub term_days: u32,
    pub schedule: String,
    /// The collateral asset and how much of it per whole unit borrowed.
    pub collateral_per_unit: Option<Money>,
    pub expires_ms: u64,
}

impl CreditOfferView {
    pub fn new(store: &(impl Store + ?Sized), offer: &CreditOffer) -> Self {
        let money = |minor| Money::read(store, offer.asset, minor);
        Self {
            id: offer.id,
            lender: offer.lender.to_string(),
            remaining: money(offer.remaining),
            min_amount: money(offer.min_amount),
            rate_bps: offer.rate_bps,
            rate_percent: percent(offer.rate_bps),
            term_days: offer.term_days,
            schedule: schedule_name(offer.schedule),
            collateral_per_unit: offer
                .collateral_asset
                .map(|asset| Money::read(store, asset, offer.collateral_per_unit)),
            expires_ms: offer.expires_ms,
        }
    }
}

/// What a client asks of the loans; every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LoanQuery {
    /// "funding", "active", "repaid", "defaulted", "cancelled" or "expired".
    pub state: Option<String>,
    /// Asset symbol or id.
    pub asset: Option<String>,
    pub borrower: Option<String>,
    /// Loans this account has lent to.
    pub lender: Option<String>,
    /// "rate" (lowest first, the default), "term" or "collateral" (most per unit first).
    pub sort: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
    /// Only loans whose id is below this. A listing with no borrower or lender, and no state or
    /// an ended one ("repaid", "defaulted", "cancelled", "expired"), has no index to read: it
    /// reads the [`LOAN_WINDOW`] ids just below `before` (without it, the latest: ids
    /// `max(1, last - 9,999)` to `last`), and what it sorts and pages are the loans among them
    /// that match. Lower `before` by that much to read further back (the lowest id of a
    /// window is `before` minus 10,000). With an account, or "funding" or "active", the whole
    /// index is read and `before` only filters.
    pub before: Option<u64>,
}

/// How many loan ids, newest first, a listing with no account and no state or an ended one
/// reads (see [`LoanQuery::before`]): its cost is bounded however many loans were ever made.
pub const LOAN_WINDOW: u64 = 10_000;

fn parse_sort(text: Option<&str>) -> Result<SortBy, String> {
    match text.unwrap_or("rate") {
        "rate" => Ok(SortBy::Rate),
        "term" => Ok(SortBy::Term),
        "collateral" => Ok(SortBy::CollateralRatio),
        other => Err(format!(
            "sort {other:?}: use \"rate\", \"term\" or \"collateral\""
        )),
    }
}

fn parse_state(text: &str) -> Result<LoanState, String> {
    [
        LoanState::Funding,
        LoanState::Active,
        LoanState::Repaid,
        LoanState::Defaulted,
        LoanState::Cancelled,
        LoanState::Expired,
    ]
    .into_iter()
    .find(|state| state.name() == text)
    .ok_or_else(|| {
        format!("loan state {text:?}: use funding, active, repaid, defaulted, cancelled or expired")
    })
}

fn account_filter(text: Option<&str>, what: &str) -> Result<Option<AccountId>, String> {
    text.map(|text| AccountId::parse(text).map_err(|e| format!("invalid {what} {text:?}: {e}")))
        .transpose()
}

fn asset_filter(
    store: &(impl Store + ?Sized),
    text: Option<&str>,
) -> Result<Option<types::AssetId>, String> {
    text.map(|text| asset_ref(store, text).map(|(id, _)| id))
        .transpose()
}

impl LoanQuery {
    pub fn run(&self, store: &ledger::MemoryStore) -> Result<Vec<LoanView>, String> {
        self.run_within(store, LOAN_WINDOW)
    }

    /// [`LoanQuery::run`] with a window of `window` ids where it has no index to read.
    pub fn run_within(
        &self,
        store: &ledger::MemoryStore,
        window: u64,
    ) -> Result<Vec<LoanView>, String> {
        let state = self.state.as_deref().map(parse_state).transpose()?;
        let asset = asset_filter(store, self.asset.as_deref())?;
        let borrower = account_filter(self.borrower.as_deref(), "borrower")?;
        let lender = account_filter(self.lender.as_deref(), "lender")?;
        let sort = parse_sort(self.sort.as_deref())?;
        // With an account to filter by, only that account's loans are read (its index); for
        // the requests collecting lenders or the active loans, only those. A listing of every
        // loan, or of one of the ended states, with no account reads one window of ids.
        let before = self.before;
        let ids: Box<dyn Iterator<Item = u64>> = match (borrower.or(lender), state) {
            (Some(account), _) => Box::new(ledger::index::ids(
                store,
                &account,
                ledger::index::Kind::Loan,
            )),
            (None, Some(LoanState::Funding)) => Box::new(ledger::index::funding_loans(store)),
            (None, Some(LoanState::Active)) => Box::new(ledger::index::active_loans(store)),
            (None, _) => {
                let last = match before {
                    Some(before) => Db::last_loan_id(store).min(before.saturating_sub(1)),
                    None => Db::last_loan_id(store),
                };
                let first = last.saturating_add(1).saturating_sub(window).max(1);
                Box::new(first..=last)
            }
        };
        let mut loans: Vec<Loan> = ids
            .filter(|id| before.is_none_or(|before| *id < before))
            .filter_map(|id| Db::loan(store, id))
            .filter(|loan| state.is_none_or(|s| loan.state == s))
            .filter(|loan| asset.is_none_or(|a| loan.asset == a))
            .filter(|loan| borrower.is_none_or(|b| loan.borrower == b))
            .filter(|loan| lender.is_none_or(|l| Db::position(store, loan.id, &l).is_some()))
            .collect();
        match sort {
            SortBy::Rate => loans.sort_by_key(|l| (l.rate_bps, l.id)),
            SortBy::Term => loans.sort_by_key(|l| (l.term_days, l.id)),
            SortBy::CollateralRatio => loans.sort_by_key(|l| {
                (
                    std::cmp::Reverse(lending::queries::collateral_ratio(l)),
                    l.id,
                )
            }),
        }
        let limit = self.limit.unwrap_or(MAX_PAGE).min(MAX_PAGE) as usize;
        Ok(loans
            .iter()
            .skip(self.offset.unwrap_or(0) as usize)
            .take(limit)
            .map(|loan| LoanView::new(store, loan, false))
            .collect())
    }
}

/// What a client asks of the credit offers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CreditOfferQuery {
    pub asset: Option<String>,
    pub lender: Option<String>,
    /// "rate" (default), "term" or "collateral".
    pub sort: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

impl CreditOfferQuery {
    pub fn run(&self, store: &ledger::MemoryStore) -> Result<Vec<CreditOfferView>, String> {
        let asset = asset_filter(store, self.asset.as_deref())?;
        let lender = account_filter(self.lender.as_deref(), "lender")?;
        let sort = parse_sort(self.sort.as_deref())?;
        let limit = self.limit.unwrap_or(MAX_PAGE).min(MAX_PAGE) as usize;
        let offers = match lender {
            Some(lender) => lending::queries::credit_offers_of(store, &lender, asset, sort),
            None => lending::queries::credit_offers(store, asset, sort),
        };
        Ok(offers
            .iter()
            .skip(self.offset.unwrap_or(0) as usize)
            .take(limit)
            .map(|offer| CreditOfferView::new(store, offer))
            .collect())
    }
}

/// The lending rules a client needs to build calls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LendingParamsView {
    /// Each lender funds at least this share of the principal (the last may fill the rest).
    pub min_funding_bps: u16,
    pub grace_days: u32,
    /// Late fee per day (rounded up) on overdue principal, in basis points.
    pub late_fee_bps_per_day: u16,
    pub default_after_days: u32,
    pub acceptance_days: u32,
    pub max_rate_bps: u32,
    pub max_term_days: u32,
}

impl LendingParamsView {
    pub fn read(store: &(impl Store + ?Sized)) -> Self {
        let params = lending::params::load(store);
        Self {
            min_funding_bps: params.min_funding_bps,
            grace_days: params.grace_days,
            late_fee_bps_per_day: params.late_fee_bps_per_day,
            default_after_days: params.default_after_days,
            acceptance_days: params.acceptance_days,
            max_rate_bps: params.max_rate_bps,
            max_term_days: params.max_term_days,
        }
    }
}
