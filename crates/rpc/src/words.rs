//! The ledger's errors in words for people: every amount as a decimal with its asset's symbol
//! ("12.5 USDX", "460.00 EUR") instead of the minor units the ledger counts in. Errors without
//! amounts read as the ledger words them.

use crate::market::FIAT_DECIMALS;
use ledger::{
    BankError, CallError, Store, TxError, lending::LendingError, market::MarketError,
    staking::StakingError, state,
};
use types::{AssetId, amount, market::Fiat};

/// `minor` units of `asset` as "12.5 USDX" (or "12500000 minor units of asset #7" for an asset
/// the state does not know, which a ledger error never names).
pub fn asset_amount(store: &(impl Store + ?Sized), asset: AssetId, minor: u128) -> String {
    match state::asset(store, asset) {
        Some(info) => format!("{} {}", amount::format(minor, info.decimals), info.symbol),
        None => format!("{minor} minor units of asset #{}", asset.0),
    }
}

fn fiat_amount(fiat: &Fiat, minor: u128) -> String {
    format!("{} {fiat}", amount::format_fixed(minor, FIAT_DECIMALS))
}

/// Why a transaction was rejected.
pub fn tx_error(store: &(impl Store + ?Sized), error: &TxError) -> String {
    let eqa = |minor| asset_amount(store, AssetId::NATIVE, minor);
    match error {
        TxError::FeeTooLow { required, offered } => format!(
            "the fee offered is {}; this transaction needs at least {}",
            eqa(*offered),
            eqa(*required)
        ),
        TxError::FeeNotAffordable { fee, balance } => format!(
            "the fee is {} but the signer holds {}",
            eqa(*fee),
            eqa(*balance)
        ),
        other => other.to_string(),
    }
}

/// Why a call failed.
pub fn call_error(store: &(impl Store + ?Sized), error: &CallError) -> String {
    match error {
        CallError::Bank(error) => bank_error(store, error),
        CallError::Market(error) => market_error(store, error),
        CallError::Lending(error) => lending_error(store, error),
        CallError::Staking(error) => staking_error(store, error),
        CallError::Internal => error.to_string(),
    }
}

fn bank_error(store: &(impl Store + ?Sized), error: &BankError) -> String {
    let money = |asset, minor| asset_amount(store, asset, minor);
    match error {
        BankError::InsufficientBalance {
            account,
            asset,
            needed,
            available,
        } => format!(
            "{account} holds {}; {} is needed",
            money(*asset, *available),
            money(*asset, *needed)
        ),
        BankError::MaxSupplyExceeded {
            asset,
            requested,
            would_be,
            max_supply,
        } => format!(
            "minting {} would bring the supply to {}, over its maximum {}",
            money(*asset, *requested),
            money(*asset, *would_be),
            money(*asset, *max_supply)
        ),
        BankError::ModuleShortfall {
            module,
            asset,
            needed,
            held,
        } => format!(
            "the {module:?} module holds {}, less than the {} it must pay",
            money(*asset, *held),
            money(*asset, *needed)
        ),
        other => other.to_string(),
    }
}

fn market_error(store: &(impl Store + ?Sized), error: &MarketError) -> String {
    let money = |asset, minor| asset_amount(store, asset, minor);
    match error {
        MarketError::Bank(error) => bank_error(store, error),
        MarketError::InvalidLimits { asset, min, max } => format!(
            "amounts must satisfy 0 < minimum ({}) <= maximum ({})",
            money(*asset, *min),
            money(*asset, *max)
        ),
        MarketError::AmountOutOfRange {
            offer,
            asset,
            amount,
            min,
            max,
        } => format!(
            "{} is outside what offer {offer} allows: from {} to {}",
            money(*asset, *amount),
            money(*asset, *min),
            money(*asset, *max)
        ),
        MarketError::NewAccountLimit {
            counted,
            counterparties,
            fiat,
            limit,
            value,
        } => format!(
            "a buyer with {counted} counted trades with {counterparties} counterparties may pay \
             at most {} with this method; this trade is {}",
            fiat_amount(fiat, *limit),
            fiat_amount(fiat, *value)
        ),
        MarketError::RulingTooLarge {
            asset,
            amount_to_buyer,
            amount,
        } => format!(
            "the buyer's share {} exceeds the traded amount {}",
            money(*asset, *amount_to_buyer),
            money(*asset, *amount)
        ),
        MarketError::BondTooSmall { bond, minimum } => format!(
            "the bond {} is below the minimum {}",
            money(AssetId::NATIVE, *bond),
            money(AssetId::NATIVE, *minimum)
        ),
        other => other.to_string(),
    }
}

fn staking_error(store: &(impl Store + ?Sized), error: &StakingError) -> String {
    let eqa = |minor| asset_amount(store, AssetId::NATIVE, minor);
    match error {
        StakingError::Bank(error) => bank_error(store, error),
        StakingError::BondTooSmall { bond, minimum } => format!(
            "a bond of {} is below the minimum {}",
            eqa(*bond),
            eqa(*minimum)
        ),
        StakingError::RegistryFull { max, lowest_bond } => format!(
            "the registry holds the most candidates it may ({max}); a bond above the lowest \
             candidate's {} takes its place",
            eqa(*lowest_bond)
        ),
        StakingError::BondNotRaised { bond, current } => format!(
            "the validator's bond is {}; registering again with its node key names a larger \
             total (or at least the same, to stop unbonding), not {}",
            eqa(*current),
            eqa(*bond)
        ),
        StakingError::NodeKeyTaken { node_key, account } => format!(
            "node key {} is already registered by {account}",
            crate::staking::node_key_hex(node_key)
        ),
        other => other.to_string(),
    }
}

fn lending_error(store: &(impl Store + ?Sized), error: &LendingError) -> String {
    let money = |asset, minor| asset_amount(store, asset, minor);
    match error {
        LendingError::Bank(error) => bank_error(store, error),
        LendingError::InvalidMinFill {
            asset,
            min_fill,
            principal,
        } => format!(
            "the minimum fill {} must be more than zero and at most the principal {}",
            money(*asset, *min_fill),
            money(*asset, *principal)
        ),
        LendingError::FundingOutOfRange {
            loan,
            asset,
            amount,
            min,
            max,
        } => format!(
            "{} is outside what loan {loan} can take now: from {} to {}",
            money(*asset, *amount),
            money(*asset, *min),
            money(*asset, *max)
        ),
        LendingError::BelowMinFill {
            loan,
            asset,
            funded,
            min_fill,
        } => format!(
            "loan {loan} is funded {}, below its minimum fill {}",
            money(*asset, *funded),
            money(*asset, *min_fill)
        ),
        LendingError::AmountOutOfRange {
            offer,
            asset,
            amount,
            min,
            max,
        } => format!(
            "{} is outside what credit offer {offer} lends: from {} to {}",
            money(*asset, *amount),
            money(*asset, *min),
            money(*asset, *max)
        ),
        LendingError::InsufficientCollateral {
            asset,
            offered,
            required,
        } => format!(
            "the collateral {} is below the {} required",
            money(*asset, *offered),
            money(*asset, *required)
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::testing::TestChain;
    use types::{
        Symbol, Text,
        bank::{BankCall, IssueAsset},
    };

    fn chain_with_usdx() -> TestChain {
        let mut chain = TestChain::new(2, 1_000_000_000_000);
        let issue = BankCall::IssueAsset(IssueAsset {
            symbol: Symbol::new("USDX").unwrap(),
            name: Text::new("Dollar").unwrap(),
            decimals: 6,
            max_supply: None,
        });
        assert!(chain.bank(0, issue).is_success());
        chain
    }

    #[test]
    fn amounts_read_as_decimals_with_their_symbol() {
        let chain = chain_with_usdx();
        let store = &chain.store;
        let usdx = AssetId(1);
        let out_of_range = CallError::Market(MarketError::AmountOutOfRange {
            offer: 4,
            asset: usdx,
            amount: 5_000_000,
            min: 10_000_000,
            max: 100_500_000,
        });
        assert_eq!(
            call_error(store, &out_of_range),
            "5 USDX is outside what offer 4 allows: from 10 USDX to 100.5 USDX"
        );
        let limit = CallError::Market(MarketError::NewAccountLimit {
            counted: 4,
            counterparties: 2,
            fiat: Fiat::new("EUR").unwrap(),
            limit: 50_000,
            value: 92_050,
        });
        assert_eq!(
            call_error(store, &limit),
            "a buyer with 4 counted trades with 2 counterparties may pay at most 500.00 EUR with \
             this method; this trade is 920.50 EUR"
        );
        let collateral = CallError::Lending(LendingError::InsufficientCollateral {
            asset: usdx,
            offered: 1,
            required: 2_000_000,
        });
        assert_eq!(
            call_error(store, &collateral),
            "the collateral 0.000001 USDX is below the 2 USDX required"
        );
        let fee = TxError::FeeTooLow {
            required: 1_500_000_000,
            offered: 1,
        };
        assert_eq!(
            tx_error(store, &fee),
            "the fee offered is 0.000000001 EQA; this transaction needs at least 1.5 EQA"
        );
        // Errors without amounts read as the ledger words them.
        let unknown = CallError::Market(MarketError::UnknownOffer { offer: 9 });
        assert_eq!(call_error(store, &unknown), unknown.to_string());
        // An asset the state does not know still shows its number and unit.
        assert_eq!(
            asset_amount(store, AssetId(77), 5),
            "5 minor units of asset #77"
        );
    }
}
