//! Calls that must succeed. Before a block is applied, the state says of some of its
//! transactions that nothing can stop them: the right party acts on a live record, in time, with
//! arguments inside every limit and balances that cover them. A refusal of such a call is a bug
//! the other checks cannot see (a spurious overflow, a limit applied twice, a deadline off by one).
//!
//! Predictions are conservative so that the block's other transactions cannot invalidate them:
//! only a signer's first transaction in the block is judged, in a plain envelope, and only when
//! no earlier transaction of the block names the same record. Other signers' calls can only add
//! to a signer's balances, never take from them. Terms that depend on reputation (a maker's
//! minimum trades or tier) are judged only when they ask for nothing, and a new-account limit is
//! assumed to apply to every buyer.

use super::{
    plan::{Envelope, TxPlan},
    shrink::named_id,
    view::View,
    world::Setup,
};
use crate::{
    lending::{self, LoanState, math},
    market::{TradeState, records::MAX_ARBITRATORS},
    state,
    store::MemoryStore,
};
use std::collections::BTreeSet;
use types::{
    AccountId, AssetId, Call, SignedTransaction,
    bank::BankCall,
    lending::LendingCall,
    market::{MarketCall, Party, PaymentMethod, Side},
    staking::StakingCall,
};

const DAY_MS: u64 = 86_400_000;

struct Judge<'a> {
    store: &'a MemoryStore,
    view: &'a View,
    now: u64,
    signer: AccountId,
    fee: u128,
}

impl Judge<'_> {
    /// Whether the signer holds `amount` of `asset` besides the fee.
    fn covers(&self, asset: AssetId, amount: u128) -> bool {
        let needed = if asset == AssetId::NATIVE {
            amount.checked_add(self.fee)
        } else {
            Some(amount)
        };
        needed.is_some_and(|needed| state::balance(self.store, &self.signer, asset) >= needed)
    }

    fn unit(&self, asset: AssetId) -> Option<u128> {
        let decimals = state::asset(self.store, asset)?.decimals;
        types::amount::unit(decimals).ok()
    }

    /// Loan terms that every bound allows, judged without the ledger's schedule code: an
    /// existing asset, a principal from 1 to `MAX_PRINCIPAL`, a rate and a term within the
    /// maxima, and 1 to `MAX_INSTALMENTS` payments of at least a day each.
    fn sound_terms(
        &self,
        asset: AssetId,
        principal: u128,
        rate_bps: u32,
        term_days: u32,
        schedule: types::lending::Schedule,
    ) -> bool {
        let params = &self.view.lending;
        let count = schedule.count();
        state::asset_exists(self.store, asset)
            && (1..=lending::MAX_PRINCIPAL).contains(&principal)
            && rate_bps <= params.max_rate_bps
            && (1..=params.max_term_days).contains(&term_days)
            && (1..=types::lending::MAX_INSTALMENTS).contains(&count)
            && u32::from(count) <= term_days
    }

    fn staking(&self, call: &StakingCall) -> Option<&'static str> {
        let own = self
            .view
            .validators
            .iter()
            .find(|v| v.account == self.signer);
        match call {
            StakingCall::Register(r) => {
                let params = &self.view.staking;
                // Only the loopback addresses the generator writes with a port above 0.
                let port = r.address.as_str().strip_prefix("127.0.0.1:")?;
                (own.is_none()
                    && !crate::staking::Db::banned(self.store, &r.node_key)
                    && self
                        .view
                        .validators
                        .iter()
                        .all(|v| v.node_key != r.node_key)
                    && self
                        .view
                        .full_nodes
                        .iter()
                        .all(|n| n.node_key != r.node_key)
                    && port.parse::<u16>().is_ok_and(|port| port > 0)
                    && r.bond >= params.min_bond
                    && self.view.candidates.len() < usize::from(params.max_candidates)
                    && r.key_proof
                        .verify(&r.node_key, &state::chain_id(self.store), &self.signer)
                    && self.covers(AssetId::NATIVE, r.bond))
                .then_some("a registration with its own node key and a bond within the limits")
            }
            StakingCall::RegisterNode(r) => {
                let params = &self.view.staking;
                let port = r.address.as_str().strip_prefix("127.0.0.1:")?;
                let existing = self
                    .view
                    .full_nodes
                    .iter()
                    .find(|n| n.node_key == r.node_key);
                // A new key when the registry has room, or its owner's again with no less.
                let (fits, locks) = match existing {
                    None => (
                        self.view.full_nodes.len() < usize::from(params.max_nodes),
                        r.deposit,
                    ),
                    Some(node) => (
                        node.owner == self.signer && r.deposit >= node.deposit,
                        r.deposit.saturating_sub(node.deposit),
                    ),
                };
                (fits
                    && !crate::staking::Db::banned(self.store, &r.node_key)
                    && self
                        .view
                        .validators
                        .iter()
                        .all(|v| v.node_key != r.node_key)
                    && port.parse::<u16>().is_ok_and(|port| port > 0)
                    && r.deposit >= params.node_deposit
                    && r.key_proof
                        .verify_node(&r.node_key, &state::chain_id(self.store), &self.signer)
                    && self.covers(AssetId::NATIVE, locks))
                .then_some("a full node's registration with its own key, room and a deposit within the limits")
            }
            StakingCall::UnregisterNode(u) => {
                // The block's height against the first block of the second epoch after the
                // registration's, computed here without the ledger's helper.
                let height = state::last_block(self.store).0 + 1;
                let epoch_blocks = self.view.staking.blocks_per_epoch;
                self.view
                    .full_nodes
                    .iter()
                    .any(|n| {
                        n.node_key == u.node_key
                            && n.owner == self.signer
                            && height >= (n.registered_height / epoch_blocks + 2) * epoch_blocks
                    })
                    .then_some("its owner unregistering a full node after its admitted epochs")
            }
            StakingCall::Unbond(_) => own?.unbonding.is_none().then_some("a candidate unbonding"),
            StakingCall::Withdraw(_) => {
                let own = own?;
                let delay_ms = u64::from(self.view.staking.unbonding_secs) * 1_000;
                // The delay runs from the later of the unbonding and the end of service on
                // committees; a validator still serving cannot withdraw at all.
                let free_at = match (own.last_epoch, own.served_until_ms) {
                    (Some(_), None) => None,
                    (_, served) => own.unbonding.as_ref().map(|u| {
                        served.map_or(u.free_at_ms, |s| {
                            u.free_at_ms.max(s.saturating_add(delay_ms))
                        })
                    }),
                };
                free_at
                    .is_some_and(|free_at| self.now >= free_at)
                    .then_some("an unbonding validator withdrawing after its service and the delay")
            }
        }
    }

    fn bank(&self, call: &BankCall) -> Option<&'static str> {
        match call {
            BankCall::Transfer(t) => (t.amount > 0
                && t.to != self.signer
                && state::asset_exists(self.store, t.asset)
                && self.covers(t.asset, t.amount))
            .then_some("a transfer within the balance"),
            BankCall::Mint(m) => {
                let info = state::asset(self.store, m.asset)?;
                let room = info
                    .max_supply
                    .unwrap_or(u128::MAX)
                    .checked_sub(info.supply)?;
                (m.amount > 0 && info.issuer == Some(self.signer) && m.amount <= room)
                    .then_some("the issuer minting within the maximum supply")
            }
            BankCall::Burn(b) => {
                let info = state::asset(self.store, b.asset)?;
                (b.amount > 0 && info.issuer == Some(self.signer) && self.covers(b.asset, b.amount))
                    .then_some("the issuer burning from its balance")
            }
            BankCall::IssueAsset(_) => None,
        }
    }

    fn market(&self, call: &MarketCall) -> Option<&'static str> {
        let trade = |id: u64| self.view.trades.iter().find(|t| t.id == id);
        match call {
            MarketCall::CancelOffer(r) => {
                let offer = self.view.offers.iter().find(|o| o.id == r.offer)?;
                (offer.maker == self.signer).then_some("the maker cancelling its offer")
            }
            MarketCall::TakeOffer(take) => {
                let offer = self.view.offers.iter().find(|o| o.id == take.offer)?;
                let smallest = offer.min_amount.min(offer.max_amount);
                let params = &self.view.market;
                let limit = match (&take.method, params.method(&take.method)) {
                    (PaymentMethod::Custom(_), _) => params.custom_method_limit,
                    (_, Some(info)) => info.new_account_limit,
                    (_, None) => return None,
                };
                let fiat = math::mul_div_ceil(take.amount, offer.price, self.unit(offer.asset)?)?;
                let (bps, inventory) = match offer.side {
                    Side::Sell => (offer.buyer_deposit_bps, 0),
                    Side::Buy => (offer.seller_deposit_bps, take.amount),
                };
                let lock = math::mul_div_ceil(take.amount, u128::from(bps), 10_000)?
                    .checked_add(inventory)?;
                (take.revision == offer.revision
                    && offer.maker != self.signer
                    && (smallest..=offer.max_amount).contains(&take.amount)
                    && offer.methods.contains(&take.method)
                    && offer.min_taker_trades == 0
                    && offer.min_taker_tier == 0
                    && fiat <= limit
                    && self.covers(offer.asset, lock))
                .then_some("a take within the offer's terms, limits and the taker's balance")
            }
            MarketCall::MarkPaid(paid) => {
                let t = trade(paid.trade)?;
                (t.buyer == self.signer
                    && t.state == TradeState::AwaitingPayment
                    && self.now <= t.payment_deadline_ms)
                    .then_some("the buyer marking paid within the payment window")
            }
            MarketCall::Release(r) => {
                let t = trade(r.trade)?;
                (t.seller == self.signer
                    && matches!(t.state, TradeState::AwaitingPayment | TradeState::Paid))
                .then_some("the seller releasing an open trade")
            }
            MarketCall::CancelTrade(r) => {
                let t = trade(r.trade)?;
                (t.buyer == self.signer && t.state == TradeState::AwaitingPayment)
                    .then_some("the buyer cancelling an unpaid trade")
            }
            MarketCall::ClaimTimeout(r) => {
                let t = trade(r.trade)?;
                (t.seller == self.signer
                    && t.state == TradeState::AwaitingPayment
                    && self.now > t.payment_deadline_ms)
                    .then_some("the seller claiming a timeout after the payment window")
            }
            MarketCall::OpenDispute(open) => {
                let t = trade(open.trade)?;
                let party = t.party(&self.signer)?;
                (t.state == TradeState::Paid
                    && open.reason.side().is_none_or(|side| side == party)
                    && (party == Party::Seller || self.now > t.release_deadline_ms))
                    .then_some("a party disputing a paid trade in time")
            }
            MarketCall::Rule(rule) => {
                let t = trade(rule.trade)?;
                (t.state == TradeState::Disputed
                    && !t.arbitrator_pending
                    && t.arbitrator == Some(self.signer)
                    && rule.amount_to_buyer <= t.amount)
                    .then_some("the assigned arbitrator ruling within the amount")
            }
            MarketCall::RegisterArbitrator(register) => {
                let params = &self.view.market;
                (self
                    .view
                    .arbitrators
                    .iter()
                    .all(|a| a.account != self.signer)
                    && self.view.arbitrators.len() < MAX_ARBITRATORS
                    && register.bond >= params.min_arbitrator_bond
                    && register.fee_bps <= params.max_arbitrator_fee_bps
                    && self.covers(AssetId::NATIVE, register.bond))
                .then_some("a registration within the bond and fee limits")
            }
            MarketCall::UnregisterArbitrator(_) => {
                let a = self
                    .view
                    .arbitrators
                    .iter()
                    .find(|a| a.account == self.signer)?;
                a.leaving_at_ms
                    .is_none()
                    .then_some("an arbitrator unregistering")
            }
            MarketCall::WithdrawBond(_) => {
                let a = self
                    .view
                    .arbitrators
                    .iter()
                    .find(|a| a.account == self.signer)?;
                (a.leaving_at_ms.is_some_and(|at| self.now >= at) && a.open_cases == 0)
                    .then_some("a leaving arbitrator without cases withdrawing after the cooldown")
            }
            MarketCall::Rate(rate) => {
                let t = trade(rate.trade)?;
                let rated = match t.party(&self.signer)? {
                    Party::Buyer => t.rated_by_buyer,
                    Party::Seller => t.rated_by_seller,
                };
                ((1..=5).contains(&rate.stars)
                    && !rated
                    && matches!(
                        t.state,
                        TradeState::Completed | TradeState::Resolved | TradeState::TimedOut
                    ))
                .then_some("a party rating a finished trade once")
            }
            MarketCall::PostMessage(post) => {
                let t = trade(post.trade)?;
                let posted = match t.party(&self.signer)? {
                    Party::Buyer => t.messages_by_buyer,
                    Party::Seller => t.messages_by_seller,
                };
                (!t.state.is_final() && posted < self.view.market.max_messages_per_author)
                    .then_some("a party posting within its allowance")
            }
            MarketCall::SetProfile(_) => Some("setting a profile"),
            MarketCall::CreateOffer(create) => {
                let params = &self.view.market;
                let methods_ok = create.methods.iter().enumerate().all(|(i, method)| {
                    !create.methods[..i].contains(method)
                        && match method {
                            PaymentMethod::Custom(_) => true,
                            PaymentMethod::Registered(_) => {
                                params.method(method).is_some_and(|info| {
                                    info.currencies.is_empty()
                                        || info.currencies.contains(&create.fiat)
                                })
                            }
                        }
                });
                let deposits = params.min_deposit_bps..=params.max_deposit_bps;
                let (inventory, bps) = match create.side {
                    Side::Sell => (create.max_amount, create.seller_deposit_bps),
                    Side::Buy => (0, create.buyer_deposit_bps),
                };
                let lock = math::mul_div_ceil(create.max_amount, u128::from(bps), 10_000)?
                    .checked_add(inventory)?;
                (state::asset_exists(self.store, create.asset)
                    && create.price > 0
                    && (params.min_payment_window_secs..=params.max_payment_window_secs)
                        .contains(&create.payment_window_secs)
                    && methods_ok
                    && create.min_amount > 0
                    && create.min_amount <= create.max_amount
                    && deposits.contains(&create.buyer_deposit_bps)
                    && deposits.contains(&create.seller_deposit_bps)
                    && self.covers(create.asset, lock))
                .then_some("an offer within every bound that the maker's balance covers")
            }
            _ => None,
        }
    }

    fn lending(&self, call: &LendingCall) -> Option<&'static str> {
        let loan = |id: u64| self.view.loans.iter().find(|l| l.id == id);
        let params = &self.view.lending;
        match call {
            LendingCall::RequestLoan(request) => {
                let collateral_ok = request.collateral.is_none_or(|c| {
                    c.amount > 0
                        && state::asset_exists(self.store, c.asset)
                        && self.covers(c.asset, c.amount)
                });
                (self.sound_terms(
                    request.asset,
                    request.principal,
                    request.rate_bps,
                    request.term_days,
                    request.schedule,
                ) && request.funding_deadline_ms > self.now
                    && request.min_fill > 0
                    && request.min_fill <= request.principal
                    && collateral_ok)
                    .then_some("a request within every bound with its collateral covered")
            }
            LendingCall::OfferCredit(offer) => (self.sound_terms(
                offer.asset,
                offer.amount,
                offer.rate_bps,
                offer.term_days,
                offer.schedule,
            ) && offer.min_amount > 0
                && offer.min_amount <= offer.amount
                && offer.expires_ms > self.now
                && offer
                    .collateral_asset
                    .is_none_or(|asset| state::asset_exists(self.store, asset))
                && self.covers(offer.asset, offer.amount))
            .then_some("a credit offer within every bound that the lender's balance covers"),
            LendingCall::CancelRequest(r) => {
                let l = loan(r.loan)?;
                (l.borrower == self.signer && l.state == LoanState::Funding && l.funded == 0)
                    .then_some("the borrower cancelling an unfunded request")
            }
            LendingCall::Fund(fund) => {
                let l = loan(fund.loan)?;
                let remaining = l.principal.checked_sub(l.funded)?;
                let minimum =
                    math::mul_div_ceil(l.principal, u128::from(params.min_funding_bps), math::BPS)?
                        .min(remaining);
                (l.state == LoanState::Funding
                    && l.borrower != self.signer
                    && self.now <= l.funding_deadline_ms
                    && (minimum..=remaining).contains(&fund.amount)
                    && self.view.lenders(l.id).len() < lending::records::MAX_LENDERS
                    && self.covers(l.asset, fund.amount))
                .then_some("funding an open request within its limits and the lender's balance")
            }
            LendingCall::Withdraw(r) => {
                let l = loan(r.loan)?;
                let lender = self
                    .view
                    .lenders(l.id)
                    .iter()
                    .any(|(account, position)| *account == self.signer && position.is_some());
                (lender
                    && (l.state == LoanState::Expired
                        || (l.state == LoanState::Funding && self.now <= l.funding_deadline_ms)))
                    .then_some("a lender withdrawing from an open or expired request")
            }
            LendingCall::Accept(r) => {
                let l = loan(r.loan)?;
                (l.borrower == self.signer
                    && l.state == LoanState::Funding
                    && self.now > l.funding_deadline_ms
                    && l.funded >= l.min_fill
                    && l.funded > 0)
                    .then_some("the borrower accepting a request funded to its minimum")
            }
            LendingCall::Expire(r) => {
                let l = loan(r.loan)?;
                let acceptance = u64::from(params.acceptance_days).saturating_mul(DAY_MS);
                (l.state == LoanState::Funding
                    && self.now > l.funding_deadline_ms
                    && (l.funded < l.min_fill
                        || self.now > l.funding_deadline_ms.saturating_add(acceptance)))
                .then_some("expiring a request after its deadline")
            }
            LendingCall::CancelCredit(r) => {
                let offer = self.view.credit_offers.iter().find(|o| o.id == r.offer)?;
                (offer.lender == self.signer).then_some("the lender cancelling its credit offer")
            }
            LendingCall::TakeCredit(take) => {
                let offer = self
                    .view
                    .credit_offers
                    .iter()
                    .find(|o| o.id == take.offer)?;
                let smallest = offer.min_amount.min(offer.remaining);
                let collateral_ok = match offer.collateral_asset {
                    None => true,
                    Some(asset) => {
                        let required = math::mul_div_ceil(
                            take.amount,
                            offer.collateral_per_unit,
                            self.unit(offer.asset)?,
                        )?;
                        take.collateral_amount >= required
                            && take.collateral_amount > 0
                            && self.covers(asset, take.collateral_amount)
                    }
                };
                (self.now <= offer.expires_ms
                    && offer.lender != self.signer
                    && (smallest..=offer.remaining).contains(&take.amount)
                    && take.amount <= lending::MAX_PRINCIPAL
                    && collateral_ok)
                    .then_some("taking credit within the offer's limits with enough collateral")
            }
            LendingCall::Repay(repay) => {
                let l = loan(repay.loan)?;
                let due = lending::queries::amount_due(self.store, l.id, self.now)?;
                let owed = due
                    .late_fee
                    .checked_add(due.interest)?
                    .checked_add(due.principal_outstanding)?;
                (matches!(l.state, LoanState::Active | LoanState::Defaulted)
                    && l.closed_ms.is_none()
                    && repay.amount > 0
                    && owed > 0
                    && self.covers(l.asset, repay.amount.min(owed)))
                .then_some("repaying an owing loan within the payer's balance")
            }
            LendingCall::Claim(r) => {
                let l = loan(r.loan)?;
                let (amount, collateral) = lending::claimable(self.store, l, &self.signer)?;
                (matches!(
                    l.state,
                    LoanState::Active | LoanState::Repaid | LoanState::Defaulted
                ) && (amount > 0 || collateral > 0))
                    .then_some("a lender claiming what it is owed")
            }
            LendingCall::DeclareDefault(r) => {
                let l = loan(r.loan)?;
                let due = l.oldest_unpaid_due()?;
                let threshold =
                    due.saturating_add(u64::from(params.default_after_days).saturating_mul(DAY_MS));
                (l.state == LoanState::Active && self.now > threshold)
                    .then_some("declaring default after the threshold")
            }
        }
    }
}

/// For each transaction of a block about to be applied at `now`, why it must succeed, if the
/// state before the block says so.
pub fn predict(
    setup: &Setup,
    store: &MemoryStore,
    view: &View,
    now: u64,
    plans: &[TxPlan],
    txs: &[SignedTransaction],
    slashing: bool,
) -> Vec<Option<&'static str>> {
    let mut signers = BTreeSet::new();
    let mut named = BTreeSet::new();
    // Registrations race for node keys and registry places (and a full node's eviction races
    // its owner's unregistration): only a block's first such call is judged.
    let mut registered = false;
    plans
        .iter()
        .zip(txs)
        .map(|(plan, tx)| {
            let mut call = plan.call.clone();
            let record = named_id(&mut call).map(|(space, id)| (space, *id));
            let first_of_signer = signers.insert(plan.signer);
            let mut untouched = record.is_none_or(|record| named.insert(record));
            if matches!(
                plan.call,
                Call::Staking(
                    StakingCall::Register(_)
                        | StakingCall::RegisterNode(_)
                        | StakingCall::UnregisterNode(_)
                )
            ) {
                untouched &= !std::mem::replace(&mut registered, true);
            }
            let plain = matches!(plan.envelope, Envelope::Valid | Envelope::Overpaid(_));
            if !(first_of_signer && untouched && plain) {
                return None;
            }
            let judge = Judge {
                store,
                view,
                now,
                signer: setup.account(plan.signer),
                fee: tx.tx().fee,
            };
            if !judge.covers(AssetId::NATIVE, 0) {
                return None;
            }
            match &plan.call {
                Call::Bank(call) => judge.bank(call),
                Call::Market(call) => judge.market(call),
                Call::Lending(call) => judge.lending(call),
                // A slash before the transactions may start an unbonding or shrink a bond:
                // the state before the block no longer says what a staking call meets.
                Call::Staking(_) if slashing => None,
                Call::Staking(call) => judge.staking(call),
            }
        })
        .collect()
}
