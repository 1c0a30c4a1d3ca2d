//! Calls of the bank module: moving, creating and destroying assets.

use crate::{AccountId, AssetId, Symbol, Text, impl_codec, impl_codec_enum};

/// Moves `amount` of `asset` from the signer to `to`. Transfers to oneself are rejected: they
/// would only burn a fee, and are almost always a mistake in a wallet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub to: AccountId,
    pub asset: AssetId,
    pub amount: u128,
}
impl_codec!(Transfer { to, asset, amount });

/// Creates a new asset with the signer as its issuer. The symbol must be unused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueAsset {
    pub symbol: Symbol,
    pub name: Text<64>,
    pub decimals: u8,
    /// The most that may ever be in circulation (minted minus burned); `None` for no cap.
    pub max_supply: Option<u128>,
}
impl_codec!(IssueAsset {
    symbol,
    name,
    decimals,
    max_supply
});

/// Creates `amount` new units of `asset` for `to`. Only the issuer may mint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mint {
    pub asset: AssetId,
    pub to: AccountId,
    pub amount: u128,
}
impl_codec!(Mint { asset, to, amount });

/// Destroys `amount` units of `asset` from the issuer's own balance. Only the issuer may burn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Burn {
    pub asset: AssetId,
    pub amount: u128,
}
impl_codec!(Burn { asset, amount });

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BankCall {
    Transfer(Transfer),
    IssueAsset(IssueAsset),
    Mint(Mint),
    Burn(Burn),
}
impl_codec_enum!(BankCall {
    0 => Transfer,
    1 => IssueAsset,
    2 => Mint,
    3 => Burn,
});

impl BankCall {
    /// The name under which fees for this call are set in the chain's parameters.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Transfer(_) => "bank.transfer",
            Self::IssueAsset(_) => "bank.issue_asset",
            Self::Mint(_) => "bank.mint",
            Self::Burn(_) => "bank.burn",
        }
    }
}
