//! Whole-state invariant checks for tests, simulations and offline tools.

use crate::{
    state::{self, Module, table},
    store::MemoryStore,
};
use std::collections::BTreeMap;
use types::{AssetId, codec::decode};

/// Where an asset's books do not balance.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "asset {asset}: balances {balances} + held by modules {held} = {total}, but the supply is {supply}"
)]
pub struct ConservationError {
    pub asset: AssetId,
    pub balances: u128,
    pub held: u128,
    pub total: u128,
    pub supply: u128,
}

/// Checks, for every asset, that the sum of all balances plus everything modules hold (escrow,
/// bonds, loan funds) equals the asset's supply, which is minted minus burned.
pub fn check_conservation(store: &MemoryStore) -> Result<(), ConservationError> {
    let mut balances: BTreeMap<AssetId, u128> = BTreeMap::new();
    for (key, value) in store.scan_prefix(&[table::BALANCE]) {
        let asset_bytes: [u8; 4] = key[33..37].try_into().expect("balance keys are 37 bytes");
        let asset = AssetId(u32::from_be_bytes(asset_bytes));
        let amount: u128 = decode(value).expect("balances decode");
        let sum = balances.entry(asset).or_default();
        *sum = sum
            .checked_add(amount)
            .expect("balances of one asset fit in u128");
    }
    let next = state::next_asset_id(store);
    for id in 0..next.0 {
        let asset = AssetId(id);
        let supply = state::asset(store, asset).map_or(0, |info| info.supply);
        let held = Module::ALL
            .iter()
            .map(|module| state::held(store, *module, asset))
            .fold(0u128, |sum, value| {
                sum.checked_add(value).expect("held fits")
            });
        let balance_sum = balances.remove(&asset).unwrap_or(0);
        let total = balance_sum.checked_add(held).expect("holdings fit in u128");
        if total != supply {
            return Err(ConservationError {
                asset,
                balances: balance_sum,
                held,
                total,
                supply,
            });
        }
    }
    if let Some((&asset, &amount)) = balances.iter().next() {
        return Err(ConservationError {
            asset,
            balances: amount,
            held: 0,
            total: amount,
            supply: 0,
        });
    }
    Ok(())
}
