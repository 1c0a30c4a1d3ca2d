//! Every live record of the market and lending modules, read through their `Db`s: what the
//! generators aim at, what time is steered by, and what the checks total up.

use crate::{
    lending::{self, CreditOffer, LendingParams, Loan, Position},
    market::{self, Arbitrator, MarketParams, Offer, Trade},
    staking::{self, FullNode, StakingParams, Validator},
    state,
    store::MemoryStore,
};
use std::{collections::BTreeMap, sync::Arc};
use types::{AccountId, AssetId};

#[derive(Debug)]
pub struct View {
    pub now_ms: u64,
    pub offers: Vec<Offer>,
    /// Every trade ever opened, final ones included.
    pub trades: Vec<Trade>,
    /// Registered arbitrators (leaving ones included), in the registry's order.
    pub arbitrators: Vec<Arbitrator>,
    /// Accounts listed in the registry that have no record.
    pub missing_arbitrators: Vec<AccountId>,
    /// Every loan ever requested, closed ones included.
    pub loans: Vec<Loan>,
    /// Per loan, its lenders in funding order with their positions (`None` when the lender list
    /// names an account without a position).
    pub positions: BTreeMap<u64, Vec<(AccountId, Option<Position>)>>,
    pub credit_offers: Vec<CreditOffer>,
    /// Assets `0..next_asset` exist.
    pub next_asset: u32,
    pub market: Arc<MarketParams>,
    pub lending: LendingParams,
    /// Every validator record (candidates and unbonding ones), in account order.
    pub validators: Vec<Validator>,
    /// The candidate list as stored, in account order.
    pub candidates: Vec<AccountId>,
    /// Every registered full node, in key order.
    pub full_nodes: Vec<FullNode>,
    pub staking: StakingParams,
}

impl View {
    pub fn read(store: &MemoryStore, now_ms: u64) -> Self {
        let offers = (1..=market::Db::last_offer_id(store))
            .filter_map(|id| market::Db::offer(store, id))
            .collect();
        let trades = (1..=market::Db::last_trade_id(store))
            .filter_map(|id| market::Db::trade(store, id))
            .collect();
        let mut arbitrators = Vec::new();
        let mut missing_arbitrators = Vec::new();
        for account in market::Db::arbitrators(store) {
            match market::Db::arbitrator(store, &account) {
                Some(record) => arbitrators.push(record),
                None => missing_arbitrators.push(account),
            }
        }
        let loans: Vec<Loan> = (1..=lending::Db::last_loan_id(store))
            .filter_map(|id| lending::Db::loan(store, id))
            .collect();
        let positions = loans
            .iter()
            .map(|loan| {
                let lenders = lending::Db::lenders(store, loan.id)
                    .into_iter()
                    .map(|lender| (lender, lending::Db::position(store, loan.id, &lender)))
                    .collect();
                (loan.id, lenders)
            })
            .collect();
        let credit_offers = (1..=lending::Db::last_offer_id(store))
            .filter_map(|id| lending::Db::credit_offer(store, id))
            .collect();
        Self {
            now_ms,
            offers,
            trades,
            arbitrators,
            missing_arbitrators,
            loans,
            positions,
            credit_offers,
            next_asset: state::next_asset_id(store).0,
            market: market::params::load(store),
            lending: lending::params::load(store),
            validators: store
                .scan_prefix(&[staking::records::table::VALIDATOR])
                .map(|(key, value)| {
                    types::codec::decode(&value).unwrap_or_else(|e| {
                        panic!("the validator record under {key:02x?} does not decode: {e}")
                    })
                })
                .collect(),
            candidates: staking::Db::candidates(store),
            full_nodes: staking::full_nodes(store),
            staking: staking::params::load(store),
        }
    }

    pub fn live_trades(&self) -> impl Iterator<Item = &Trade> {
        self.trades.iter().filter(|trade| !trade.state.is_final())
    }

    pub fn lenders(&self, loan: u64) -> &[(AccountId, Option<Position>)] {
        self.positions.get(&loan).map_or(&[], Vec::as_slice)
    }

    pub fn assets(&self) -> impl Iterator<Item = AssetId> {
        (0..self.next_asset).map(AssetId)
    }
}
