//! Why a transaction was rejected or its call failed.
//!
//! A *rejected* transaction ([`TxError`]) is not the signer's to pay for: its signature,
//! chain, nonce, expiry or fee is wrong, so nothing at all changes. A *failed* call
//! ([`CallError`]) was authorised and paid for: the fee is charged and the nonce advances, and
//! nothing else changes.

use crate::state::Module;
use types::{AccountId, AssetId, ChainId, Symbol};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    #[error("the signature does not match the signer and transaction")]
    BadSignature,
    #[error("the transaction is for chain {found}, this chain is {expected}")]
    WrongChainId { expected: ChainId, found: ChainId },
    #[error("nonce {found} was already used; the signer's next nonce is {expected}")]
    NonceReplayed { expected: u64, found: u64 },
    #[error("nonce {found} is ahead of the signer's next nonce {expected}")]
    NonceTooHigh { expected: u64, found: u64 },
    #[error("the transaction expired at height {expires_at_height}; this block is {height}")]
    Expired { expires_at_height: u64, height: u64 },
    #[error(
        "the fee offered is {offered}; this transaction needs at least {required} (EQA minor units)"
    )]
    FeeTooLow { required: u128, offered: u128 },
    #[error("the fee is {fee} but the signer holds {balance} EQA minor units")]
    FeeNotAffordable { fee: u128, balance: u128 },
    #[error("the signer has used every nonce")]
    NonceExhausted,
    #[error("the transaction is {size} bytes; the limit is {limit} bytes")]
    Oversized { size: usize, limit: usize },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Bank(#[from] BankError),
    #[error(transparent)]
    Market(#[from] crate::market::MarketError),
    #[error(transparent)]
    Lending(#[from] crate::lending::LendingError),
    #[error(transparent)]
    Staking(#[from] crate::staking::StakingError),
    /// The call hit a bug in the ledger (it panicked). Its writes were dropped and its fee
    /// charged; the node logs the panic with the transaction id.
    #[error("the call failed on an internal error of the ledger; nothing it did was kept")]
    Internal,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BankError {
    #[error("the amount must be greater than zero")]
    ZeroAmount,
    #[error("transfers to oneself are not allowed")]
    SelfTransfer,
    #[error("asset {asset} does not exist")]
    UnknownAsset { asset: AssetId },
    #[error("{account} holds {available} minor units of asset {asset}; {needed} are needed")]
    InsufficientBalance {
        account: AccountId,
        asset: AssetId,
        needed: u128,
        available: u128,
    },
    #[error("the amount overflows the largest representable quantity of asset {asset}")]
    AmountOverflow { asset: AssetId },
    #[error("the symbol {symbol} is already used by asset {existing}")]
    DuplicateSymbol { symbol: Symbol, existing: AssetId },
    #[error("an asset has at most {max} decimals, not {decimals}")]
    InvalidDecimals { decimals: u8, max: u8 },
    #[error("a maximum supply must be greater than zero")]
    ZeroMaxSupply,
    #[error(
        "minting {requested} would bring asset {asset} to {would_be}, over its maximum supply {max_supply} (minor units)"
    )]
    MaxSupplyExceeded {
        asset: AssetId,
        requested: u128,
        would_be: u128,
        max_supply: u128,
    },
    #[error("only the issuer of asset {asset} may do this")]
    NotIssuer { asset: AssetId },
    #[error("no more assets can be created")]
    AssetIdsExhausted,
    #[error(
        "the {module:?} module holds {held} minor units of asset {asset}, less than the {needed} it must pay"
    )]
    ModuleShortfall {
        module: Module,
        asset: AssetId,
        needed: u128,
        held: u128,
    },
}
