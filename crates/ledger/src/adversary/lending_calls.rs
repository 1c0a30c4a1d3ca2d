//! Generators of lending calls: requests and their funding, credit offers, repayment, claims
//! and default.

use super::{generate::Ctx, view::View, world::USDX};
use crate::lending::{self, Loan, LoanState, math};
use types::{
    AccountId, AssetId, Call,
    lending::{
        Collateral, CreditRef, Fund, LendingCall, LoanRef, OfferCredit, Repay, RequestLoan,
        Schedule, TakeCredit,
    },
};

fn rate_bps(ctx: &mut Ctx) -> u32 {
    let max = ctx.view.lending.max_rate_bps;
    if ctx.edgy() {
        return *ctx
            .dice
            .pick(&[0, max, max.saturating_add(1), u32::MAX])
            .expect("not empty");
    }
    ctx.dice.between(1, 3_000) as u32
}

fn term_days(ctx: &mut Ctx) -> u32 {
    let max = ctx.view.lending.max_term_days;
    if ctx.edgy() {
        return *ctx
            .dice
            .pick(&[0, 1, max, max.saturating_add(1), u32::MAX])
            .expect("not empty");
    }
    if ctx.dice.chance(10) {
        365
    } else {
        ctx.dice.between(1, 60) as u32
    }
}

fn schedule(ctx: &mut Ctx, term_days: u32) -> Schedule {
    if ctx.edgy() {
        let days = u16::try_from(term_days).unwrap_or(u16::MAX);
        let max = types::lending::MAX_INSTALMENTS;
        let count = *ctx
            .dice
            .pick(&[
                0,
                1,
                days,
                days.saturating_add(1),
                max,
                max.saturating_add(1),
            ])
            .expect("not empty");
        return Schedule::Instalments(count);
    }
    if term_days < 2 || ctx.dice.chance(50) {
        Schedule::Bullet
    } else {
        Schedule::Instalments(ctx.dice.between(2, u128::from(term_days.min(12))) as u16)
    }
}

/// The asset a loan or credit offer lends: mostly USDX.
fn loan_asset(ctx: &mut Ctx) -> AssetId {
    if ctx.dice.chance(70) {
        USDX
    } else {
        ctx.asset()
    }
}

fn loans_in<'v>(view: &'v View, states: &[LoanState]) -> Vec<&'v Loan> {
    view.loans
        .iter()
        .filter(|loan| states.is_empty() || states.contains(&loan.state))
        .collect()
}

/// A loan, preferably one in `states` that `usable` accepts.
fn pick_loan<'v>(
    ctx: &mut Ctx<'v>,
    states: &[LoanState],
    usable: impl Fn(&Loan) -> bool,
) -> (u64, Option<&'v Loan>) {
    let view: &'v View = ctx.view;
    let all: Vec<u64> = view.loans.iter().map(|l| l.id).collect();
    let in_state = loans_in(view, states);
    let mut wanted: Vec<u64> = in_state
        .iter()
        .filter(|loan| usable(loan))
        .map(|l| l.id)
        .collect();
    if wanted.is_empty() {
        wanted = in_state.iter().map(|l| l.id).collect();
    }
    let last = lending::Db::last_loan_id(ctx.store);
    let id = ctx.id(ctx.focus.loan, &wanted, &all, last);
    (id, view.loans.iter().find(|l| l.id == id))
}

/// A call naming a loan, signed by one of `role`'s accounts (or anyone, when `role` names
/// none).
fn loan_ref(
    ctx: &mut Ctx,
    states: &[LoanState],
    role: fn(&View, &Loan) -> Vec<AccountId>,
) -> (u64, LoanRef) {
    let (id, loan) = pick_loan(ctx, states, |_| true);
    let signer = match loan {
        Some(loan) => {
            let accounts = role(ctx.view, loan);
            ctx.signer_among(&accounts)
        }
        None => ctx.actor(),
    };
    (signer, LoanRef { loan: id })
}

fn borrower(_: &View, loan: &Loan) -> Vec<AccountId> {
    vec![loan.borrower]
}

fn lenders(view: &View, loan: &Loan) -> Vec<AccountId> {
    view.lenders(loan.id).iter().map(|(a, _)| *a).collect()
}

fn anyone(_: &View, _: &Loan) -> Vec<AccountId> {
    Vec::new()
}

fn request(ctx: &mut Ctx) -> (u64, LendingCall) {
    let signer = ctx.actor();
    let asset = loan_asset(ctx);
    let principal = ctx.amount(asset, signer);
    let term_days = term_days(ctx);
    let collateral = if ctx.dice.chance(50) {
        None
    } else {
        let asset = ctx.asset();
        let amount = if ctx.edgy() {
            0
        } else {
            ctx.amount(asset, signer)
        };
        Some(Collateral { asset, amount })
    };
    let min_fill = if ctx.edgy() {
        *ctx.dice
            .pick(&[0, principal.saturating_add(1)])
            .expect("not empty")
    } else {
        ctx.dice.between(1, principal.max(1))
    };
    let call = RequestLoan {
        asset,
        principal,
        rate_bps: rate_bps(ctx),
        term_days,
        schedule: schedule(ctx, term_days),
        collateral,
        funding_deadline_ms: ctx.deadline(),
        min_fill,
    };
    (signer, LendingCall::RequestLoan(call))
}

fn fund(ctx: &mut Ctx) -> (u64, LendingCall) {
    let now = ctx.now();
    let (id, loan) = pick_loan(ctx, &[LoanState::Funding], |l| l.funding_deadline_ms >= now);
    let Some(loan) = loan else {
        let signer = ctx.actor();
        let amount = ctx.dice.edge(&[1_000_000]);
        return (signer, LendingCall::Fund(Fund { loan: id, amount }));
    };
    let signer = ctx.actor_other_than(&loan.borrower);
    let remaining = loan.principal.saturating_sub(loan.funded);
    let minimum = math::mul_div_ceil(
        loan.principal,
        u128::from(ctx.view.lending.min_funding_bps),
        math::BPS,
    )
    .unwrap_or(u128::MAX)
    .min(remaining);
    // Mostly parts, so that loans have several lenders and their shares round.
    let amount = if ctx.edgy() {
        *ctx.dice
            .pick(&[
                minimum.saturating_sub(1),
                remaining.saturating_add(1),
                0,
                u128::MAX,
            ])
            .expect("not empty")
    } else {
        match ctx.dice.below(10) {
            0 | 1 => remaining,
            2 => minimum,
            3 => ctx.dice.between(minimum, remaining),
            _ => ctx.dice.between(minimum, (remaining / 3).max(minimum)),
        }
    };
    (signer, LendingCall::Fund(Fund { loan: id, amount }))
}

fn offer(ctx: &mut Ctx) -> (u64, LendingCall) {
    let signer = ctx.actor();
    let asset = loan_asset(ctx);
    let amount = ctx.amount(asset, signer);
    let term_days = term_days(ctx);
    let collateral_asset = if ctx.dice.chance(35) {
        None
    } else {
        Some(ctx.asset())
    };
    let min_amount = if ctx.edgy() {
        *ctx.dice
            .pick(&[0, amount.saturating_add(1)])
            .expect("not empty")
    } else {
        ctx.dice.between(1, amount.max(1) / 2).max(1)
    };
    let collateral_per_unit = if ctx.edgy() {
        *ctx.dice.pick(&[0, 1, u128::MAX]).expect("not empty")
    } else {
        collateral_asset.map_or(1, |a| ctx.unit(a)) * ctx.dice.between(1, 3) / 2
    };
    let call = OfferCredit {
        asset,
        amount,
        min_amount,
        rate_bps: rate_bps(ctx),
        term_days,
        schedule: schedule(ctx, term_days),
        collateral_asset,
        collateral_per_unit,
        expires_ms: ctx.deadline(),
    };
    (signer, LendingCall::OfferCredit(call))
}

fn pick_credit(ctx: &mut Ctx) -> u64 {
    let now = ctx.now();
    let all: Vec<u64> = ctx.view.credit_offers.iter().map(|o| o.id).collect();
    let mut open: Vec<u64> = ctx
        .view
        .credit_offers
        .iter()
        .filter(|o| o.expires_ms >= now)
        .map(|o| o.id)
        .collect();
    if open.is_empty() {
        open = all.clone();
    }
    let last = lending::Db::last_offer_id(ctx.store);
    ctx.id(ctx.focus.credit, &open, &all, last)
}

fn take_credit(ctx: &mut Ctx) -> (u64, LendingCall) {
    let id = pick_credit(ctx);
    let Some(offer) = ctx.view.credit_offers.iter().find(|o| o.id == id) else {
        let signer = ctx.actor();
        let call = TakeCredit {
            offer: id,
            amount: ctx.dice.edge(&[1_000_000]),
            collateral_amount: ctx.dice.edge(&[1_000_000]),
        };
        return (signer, LendingCall::TakeCredit(call));
    };
    let signer = ctx.actor_other_than(&offer.lender);
    let smallest = offer.min_amount.min(offer.remaining);
    let amount = if ctx.edgy() {
        *ctx.dice
            .pick(&[
                smallest.saturating_sub(1),
                offer.remaining.saturating_add(1),
                0,
            ])
            .expect("not empty")
    } else {
        ctx.dice.between(smallest, offer.remaining)
    };
    let required = math::mul_div_ceil(amount, offer.collateral_per_unit, ctx.unit(offer.asset))
        .unwrap_or(u128::MAX);
    let balance = offer
        .collateral_asset
        .map_or(0, |asset| ctx.balance(signer, asset));
    let collateral_amount = if ctx.edgy() {
        *ctx.dice
            .pick(&[
                required.saturating_sub(1),
                0,
                u128::MAX,
                balance.saturating_add(1),
            ])
            .expect("not empty")
    } else if ctx.dice.chance(20) {
        required.saturating_add(ctx.dice.between(1, 1_000))
    } else {
        required
    };
    let call = TakeCredit {
        offer: id,
        amount,
        collateral_amount,
    };
    (signer, LendingCall::TakeCredit(call))
}

fn repay(ctx: &mut Ctx) -> (u64, LendingCall) {
    let (id, loan) = pick_loan(ctx, &[LoanState::Active, LoanState::Defaulted], |_| true);
    let signer = match loan {
        Some(loan) if ctx.dice.chance(85) => ctx.signer_for(&loan.borrower),
        _ => ctx.actor(),
    };
    let due = lending::queries::amount_due(ctx.store, id, ctx.now());
    let amount = match due {
        Some(due) => {
            let total = due
                .now()
                .saturating_add(due.principal_outstanding)
                .saturating_sub(due.principal_due);
            if ctx.edgy() {
                *ctx.dice
                    .pick(&[0, total.saturating_add(1), u128::MAX])
                    .expect("not empty")
            } else {
                match ctx.dice.below(6) {
                    0 => total,
                    1 => due.now(),
                    2 | 3 => ctx.dice.between(1, 10),
                    _ => ctx.dice.between(1, total.max(1)),
                }
            }
        }
        None => ctx.dice.edge(&[1_000]),
    };
    (signer, LendingCall::Repay(Repay { loan: id, amount }))
}

/// One random lending call.
pub fn call(ctx: &mut Ctx) -> (u64, Call) {
    let view = ctx.view;
    let count = |states: &[LoanState]| loans_in(view, states).len();
    let funding = count(&[LoanState::Funding]);
    let owing = count(&[LoanState::Active, LoanState::Defaulted]);
    let disbursed = count(&[LoanState::Active, LoanState::Repaid, LoanState::Defaulted]);
    let expired = count(&[LoanState::Expired]);
    let credit = view.credit_offers.len();
    let with = |n: usize, weight: u64| if n > 0 { weight } else { 0 };
    let weights = [
        if funding < 2 { 12 } else { 5 },
        with(funding, 2),
        with(funding, 16),
        with(funding + expired, 3),
        with(funding, 4),
        with(funding, 3),
        if credit < 2 { 6 } else { 2 },
        with(credit, 2),
        with(credit, 9),
        with(owing, 16),
        with(disbursed, 10),
        with(owing, 4),
    ];
    let (signer, call) = match ctx.dice.weighted(&weights) {
        0 => request(ctx),
        1 => {
            let (s, r) = loan_ref(ctx, &[LoanState::Funding], borrower);
            (s, LendingCall::CancelRequest(r))
        }
        2 => fund(ctx),
        3 => {
            let states = [LoanState::Funding, LoanState::Expired];
            let (s, r) = loan_ref(ctx, &states, lenders);
            (s, LendingCall::Withdraw(r))
        }
        4 => {
            let (s, r) = loan_ref(ctx, &[LoanState::Funding], borrower);
            (s, LendingCall::Accept(r))
        }
        5 => {
            let (s, r) = loan_ref(ctx, &[LoanState::Funding], anyone);
            (s, LendingCall::Expire(r))
        }
        6 => offer(ctx),
        7 => {
            let id = pick_credit(ctx);
            let signer = match ctx.view.credit_offers.iter().find(|o| o.id == id) {
                Some(offer) => ctx.signer_for(&offer.lender),
                None => ctx.actor(),
            };
            (signer, LendingCall::CancelCredit(CreditRef { offer: id }))
        }
        8 => take_credit(ctx),
        9 => repay(ctx),
        10 => {
            let states = [LoanState::Active, LoanState::Repaid, LoanState::Defaulted];
            let (s, r) = loan_ref(ctx, &states, lenders);
            (s, LendingCall::Claim(r))
        }
        _ => {
            let (s, r) = loan_ref(ctx, &[LoanState::Active], anyone);
            (s, LendingCall::DeclareDefault(r))
        }
    };
    (signer, Call::Lending(call))
}
