//! The bank module: balances of every asset, and the calls that move, create and destroy them.
//!
//! Other modules move funds only through [`debit`], [`credit`] and [`move_funds`], which keep
//! every balance change checked and every asset's supply equal to the sum of what is held.

use crate::{
    BlockContext,
    error::BankError,
    receipt::Event,
    state::{self, AssetInfo, Module},
    store::Store,
};
use types::{
    AccountId, AssetId,
    amount::MAX_DECIMALS,
    bank::{BankCall, Burn, IssueAsset, Mint, Transfer},
};

/// Takes `amount` of `asset` from `account`, failing if the balance is short.
pub fn debit(
    store: &mut (impl Store + ?Sized),
    account: &AccountId,
    asset: AssetId,
    amount: u128,
) -> Result<(), BankError> {
    let available = state::balance(store, account, asset);
    let remaining = available
        .checked_sub(amount)
        .ok_or(BankError::InsufficientBalance {
            account: *account,
            asset,
            needed: amount,
            available,
        })?;
    state::set_balance(store, account, asset, remaining);
    Ok(())
}

/// Adds `amount` of `asset` to `account`.
pub fn credit(
    store: &mut (impl Store + ?Sized),
    account: &AccountId,
    asset: AssetId,
    amount: u128,
) -> Result<(), BankError> {
    let balance = state::balance(store, account, asset)
        .checked_add(amount)
        .ok_or(BankError::AmountOverflow { asset })?;
    state::set_balance(store, account, asset, balance);
    Ok(())
}

/// Moves `amount` of `asset` between two accounts. The sum of the two balances is unchanged.
pub fn move_funds(
    store: &mut (impl Store + ?Sized),
    from: &AccountId,
    to: &AccountId,
    asset: AssetId,
    amount: u128,
) -> Result<(), BankError> {
    debit(store, from, asset, amount)?;
    credit(store, to, asset, amount)
}

/// Moves `amount` of `asset` from `account`'s balance into what `module` holds (into escrow, a
/// bond or a loan pool). The module records whose it is.
pub fn lock(
    store: &mut (impl Store + ?Sized),
    module: Module,
    account: &AccountId,
    asset: AssetId,
    amount: u128,
) -> Result<(), BankError> {
    debit(store, account, asset, amount)?;
    let held = state::held(store, module, asset)
        .checked_add(amount)
        .ok_or(BankError::AmountOverflow { asset })?;
    state::set_held(store, module, asset, held);
    Ok(())
}

/// Pays `amount` of `asset` out of what `module` holds to `account`. Fails if the module holds
/// less, which would be a bug in the module: the caller must not commit.
pub fn unlock(
    store: &mut (impl Store + ?Sized),
    module: Module,
    account: &AccountId,
    asset: AssetId,
    amount: u128,
) -> Result<(), BankError> {
    take_held(store, module, asset, amount)?;
    credit(store, account, asset, amount)
}

/// Lowers what `module` holds of `asset` by `amount`, failing if it holds less.
fn take_held(
    store: &mut (impl Store + ?Sized),
    module: Module,
    asset: AssetId,
    amount: u128,
) -> Result<(), BankError> {
    let held = state::held(store, module, asset);
    let remaining = held.checked_sub(amount).ok_or(BankError::ModuleShortfall {
        module,
        asset,
        needed: amount,
        held,
    })?;
    state::set_held(store, module, asset, remaining);
    Ok(())
}

/// Destroys `amount` of `asset` out of what `module` holds (a slashed bond): the module holds
/// less and the asset's supply falls by as much, so conservation still holds.
pub fn burn_held(
    store: &mut (impl Store + ?Sized),
    module: Module,
    asset: AssetId,
    amount: u128,
) -> Result<(), BankError> {
    let mut info = known_asset(store, asset)?;
    // What a module holds is part of the supply, so a supply below it is a broken ledger.
    info.supply = info
        .supply
        .checked_sub(amount)
        .ok_or(BankError::ModuleShortfall {
            module,
            asset,
            needed: amount,
            held: info.supply,
        })?;
    take_held(store, module, asset, amount)?;
    state::set_asset(store, asset, &info);
    Ok(())
}

fn known_asset(store: &(impl Store + ?Sized), asset: AssetId) -> Result<AssetInfo, BankError> {
    state::asset(store, asset).ok_or(BankError::UnknownAsset { asset })
}

fn issued_by(
    store: &(impl Store + ?Sized),
    asset: AssetId,
    signer: &AccountId,
) -> Result<AssetInfo, BankError> {
    let info = known_asset(store, asset)?;
    if info.issuer.as_ref() != Some(signer) {
        return Err(BankError::NotIssuer { asset });
    }
    Ok(info)
}

/// Runs one bank call for `signer`. On error the caller discards every write made here.
pub fn execute(
    store: &mut (impl Store + ?Sized),
    _context: &BlockContext,
    signer: &AccountId,
    call: &BankCall,
    events: &mut Vec<Event>,
) -> Result<(), BankError> {
    match call {
        BankCall::Transfer(transfer) => execute_transfer(store, signer, transfer, events),
        BankCall::IssueAsset(issue) => execute_issue(store, signer, issue, events),
        BankCall::Mint(mint) => execute_mint(store, signer, mint, events),
        BankCall::Burn(burn) => execute_burn(store, signer, burn, events),
    }
}

fn execute_transfer(
    store: &mut (impl Store + ?Sized),
    signer: &AccountId,
    Transfer { to, asset, amount }: &Transfer,
    events: &mut Vec<Event>,
) -> Result<(), BankError> {
    if *amount == 0 {
        return Err(BankError::ZeroAmount);
    }
    if to == signer {
        return Err(BankError::SelfTransfer);
    }
    if !state::asset_exists(store, *asset) {
        return Err(BankError::UnknownAsset { asset: *asset });
    }
    move_funds(store, signer, to, *asset, *amount)?;
    events.push(Event::Transferred {
        from: *signer,
        to: *to,
        asset: *asset,
        amount: *amount,
    });
    Ok(())
}

fn execute_issue(
    store: &mut (impl Store + ?Sized),
    signer: &AccountId,
    issue: &IssueAsset,
    events: &mut Vec<Event>,
) -> Result<(), BankError> {
    if issue.decimals > MAX_DECIMALS {
        return Err(BankError::InvalidDecimals {
            decimals: issue.decimals,
            max: MAX_DECIMALS,
        });
    }
    if issue.max_supply == Some(0) {
        return Err(BankError::ZeroMaxSupply);
    }
    if let Some(existing) = state::asset_by_symbol(store, &issue.symbol) {
        return Err(BankError::DuplicateSymbol {
            symbol: issue.symbol.clone(),
            existing,
        });
    }
    let asset = state::next_asset_id(store);
    let next = asset.0.checked_add(1).ok_or(BankError::AssetIdsExhausted)?;
    state::set_asset(
        store,
        asset,
        &AssetInfo {
            symbol: issue.symbol.clone(),
            name: issue.name.clone(),
            decimals: issue.decimals,
            issuer: Some(*signer),
            max_supply: issue.max_supply,
            supply: 0,
        },
    );
    state::set_symbol(store, &issue.symbol, asset);
    state::set_next_asset_id(store, AssetId(next));
    events.push(Event::AssetIssued {
        asset,
        symbol: issue.symbol.clone(),
        issuer: *signer,
    });
    Ok(())
}

fn execute_mint(
    store: &mut (impl Store + ?Sized),
    signer: &AccountId,
    Mint { asset, to, amount }: &Mint,
    events: &mut Vec<Event>,
) -> Result<(), BankError> {
    if *amount == 0 {
        return Err(BankError::ZeroAmount);
    }
    let mut info = issued_by(store, *asset, signer)?;
    let would_be = info
        .supply
        .checked_add(*amount)
        .ok_or(BankError::AmountOverflow { asset: *asset })?;
    if let Some(max_supply) = info.max_supply
        && would_be > max_supply
    {
        return Err(BankError::MaxSupplyExceeded {
            asset: *asset,
            requested: *amount,
            would_be,
            max_supply,
        });
    }
    info.supply = would_be;
    state::set_asset(store, *asset, &info);
    // Cannot overflow: no balance exceeds the supply, which was just checked.
    credit(store, to, *asset, *amount)?;
    events.push(Event::Minted {
        asset: *asset,
        to: *to,
        amount: *amount,
    });
    Ok(())
}

fn execute_burn(
    store: &mut (impl Store + ?Sized),
    signer: &AccountId,
    Burn { asset, amount }: &Burn,
    events: &mut Vec<Event>,
) -> Result<(), BankError> {
    if *amount == 0 {
        return Err(BankError::ZeroAmount);
    }
    let mut info = issued_by(store, *asset, signer)?;
    debit(store, signer, *asset, *amount)?;
    info.supply = info
        .supply
        .checked_sub(*amount)
        .expect("supply covers every balance, so it covers a successful debit");
    state::set_asset(store, *asset, &info);
    events.push(Event::Burned {
        asset: *asset,
        from: *signer,
        amount: *amount,
    });
    Ok(())
}
