//! Lending parameters, fixed at genesis (`[params.lending]`, every field optional).

use super::records::table;
use crate::{state, store::Store};
use serde::Deserialize;
use types::impl_codec;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LendingParams {
    /// Each lender funds at least this share of the principal (the last may fill the rest).
    pub min_funding_bps: u16,
    /// A late fee starts this long after a due date.
    pub grace_days: u32,
    /// Late fee per day (rounded up) on overdue principal, in basis points.
    pub late_fee_bps_per_day: u16,
    /// Anyone may declare default this long after an unpaid due date.
    pub default_after_days: u32,
    /// After the funding deadline, a request funded to its `min_fill` waits this long for the
    /// borrower to accept before anyone may expire it.
    pub acceptance_days: u32,
    pub max_rate_bps: u32,
    pub max_term_days: u32,
}
impl_codec!(LendingParams {
    min_funding_bps,
    grace_days,
    late_fee_bps_per_day,
    default_after_days,
    acceptance_days,
    max_rate_bps,
    max_term_days
});

impl Default for LendingParams {
    fn default() -> Self {
        Self {
            min_funding_bps: 10,
            grace_days: 3,
            late_fee_bps_per_day: 10,
            default_after_days: 30,
            acceptance_days: 1,
            max_rate_bps: 20_000,
            max_term_days: 3_650,
        }
    }
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawLendingParams {
    pub min_funding_bps: Option<u16>,
    pub grace_days: Option<u32>,
    pub late_fee_bps_per_day: Option<u16>,
    pub default_after_days: Option<u32>,
    pub acceptance_days: Option<u32>,
    pub max_rate_bps: Option<u32>,
    pub max_term_days: Option<u32>,
}

impl RawLendingParams {
    pub fn resolve(&self) -> Result<LendingParams, (String, String)> {
        let mut params = LendingParams::default();
        macro_rules! take {
            ($($name:ident),*) => { $( if let Some(value) = self.$name { params.$name = value; } )* };
        }
        take!(
            min_funding_bps,
            grace_days,
            late_fee_bps_per_day,
            default_after_days,
            acceptance_days,
            max_rate_bps,
            max_term_days
        );
        if params.min_funding_bps == 0 || params.min_funding_bps > 10_000 {
            return Err((
                "params.lending.min_funding_bps".into(),
                "must be 1 to 10000".into(),
            ));
        }
        if params.default_after_days <= params.grace_days {
            return Err((
                "params.lending.default_after_days".into(),
                "must be longer than the grace period".into(),
            ));
        }
        Ok(params)
    }
}

pub fn load(store: &(impl Store + ?Sized)) -> LendingParams {
    state::read(store, &[table::PARAMS]).expect("lending parameters are written at genesis")
}

pub fn store(store: &mut (impl Store + ?Sized), params: &LendingParams) {
    state::write(store, &[table::PARAMS], params);
}
