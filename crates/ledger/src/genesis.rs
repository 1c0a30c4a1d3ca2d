//! The genesis file: the chain's first state, written in TOML.
//!
//! ```toml
//! chain_id = "equa-demo"
//! genesis_time_ms = 1767225600000
//! consensus_key = "…"           # optional: the chain's threshold key, hex (read by nodes)
//!
//! [native]                      # the fee and bond asset, always asset 0
//! symbol = "EQA"
//! name = "Equa"
//! decimals = 9
//!
//! [params]                      # amounts are decimal text in EQA
//! fee_per_byte = "0.000001"
//! default_call_fee = "0.001"
//! [params.call_fees]
//! "bank.transfer" = "0.0005"
//! [params.staking]              # optional, as every [params.*] table
//! min_bond = "10000"
//! unbonding_secs = 604800
//! committee_size = 32
//! max_candidates = 64
//! node_deposit = "100"
//! max_nodes = 64
//! slash_bps = 500               # burned per epoch of contradictory votes, in basis points
//! silence_epochs = 2            # epochs in a row of too few proposals before a seat is lost
//!
//! [[assets]]
//! symbol = "USDX"
//! name = "Demo dollar"
//! decimals = 6
//! issuer = "equa1…"             # optional: without it the supply is fixed
//! max_supply = "1000000000"     # optional
//!
//! [[accounts]]
//! address = "equa1…"
//! balances = { EQA = "1000", USDX = "250.5" }
//!
//! [[validators]]                # the staking registry's first candidates
//! address = "equa1…"            # the account whose EQA is bonded
//! node_key = "3b6a…"            # the node's ed25519 public key, 64 hex digits
//! p2p = "203.0.113.7:9000"
//! bond = "10000"
//!
//! [[nodes]]                     # full nodes every node admits as peers from the start
//! owner = "equa1…"              # the account whose EQA is the deposit
//! node_key = "9c0d…"
//! p2p = "203.0.113.9:9000"
//! deposit = "100"
//! ```
//!
//! Every mistake is reported with the field it was found in; nothing is written to the store
//! unless the whole file is valid.

use crate::{
    lending::{self, LendingParams, params::RawLendingParams},
    market::{self, MarketParams, params::RawMarketParams},
    params::Params,
    staking::{self, StakingParams, params::RawStakingParams},
    state::{self, AssetInfo},
    store::Store,
};
use serde::Deserialize;
use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};
use types::{
    AccountId, AddressError, AssetId, ChainId, Symbol, Text,
    amount::{self, AmountError, MAX_DECIMALS},
    tx::MAX_TX_BYTES,
};

#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    #[error("cannot read genesis file {path}: {message}")]
    Io { path: String, message: String },
    #[error("genesis file is not valid TOML for Equa: {0}")]
    Toml(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{field}: {source}")]
    Amount { field: String, source: AmountError },
    #[error("{field}: {source}")]
    Address { field: String, source: AddressError },
    #[error("{field}: symbol {symbol} is used twice")]
    DuplicateSymbol { field: String, symbol: String },
    #[error("{field}: account {address} is listed twice")]
    DuplicateAccount { field: String, address: String },
    #[error("{field}: no asset has the symbol {symbol}")]
    UnknownAsset { field: String, symbol: String },
    #[error("asset {symbol}: genesis balances add up to more than {limit}")]
    SupplyTooLarge { symbol: String, limit: String },
}

/// An arbitrator registered at genesis; its bond is locked from its genesis EQA balance.
#[derive(Clone, Debug)]
pub struct GenesisArbitrator {
    pub account: AccountId,
    pub bond: u128,
    pub fee_bps: u16,
    pub languages: Text<64>,
}

/// A profile published at genesis (as `market.set_profile` would): a display name and the
/// chat key (X25519) the account's trade partners seal chat keys to.
#[derive(Clone, Debug)]
pub struct GenesisProfile {
    pub account: AccountId,
    pub name: Text<32>,
    pub chat_key: [u8; 32],
}

/// A validated genesis: everything needed to write the chain's first state.
#[derive(Clone, Debug)]
pub struct Genesis {
    pub chain_id: ChainId,
    pub genesis_time_ms: u64,
    /// The public side of the chain's threshold consensus key as dealt at genesis, hex: the
    /// trust anchor of every node and light client. The genesis state holds its bytes (so the
    /// genesis state root commits to it); a node checks they decode as a key.
    pub consensus_key: Option<String>,
    pub params: Params,
    pub market: MarketParams,
    pub lending: LendingParams,
    pub staking: StakingParams,
    pub arbitrators: Vec<GenesisArbitrator>,
    /// The staking registry's first candidates, in file order.
    pub validators: Vec<staking::Candidate>,
    /// The full nodes registered from the start, in file order.
    pub nodes: Vec<staking::FullNode>,
    pub profiles: Vec<GenesisProfile>,
    /// Assets in id order; the native asset is first.
    pub assets: Vec<AssetInfo>,
    pub balances: BTreeMap<AccountId, BTreeMap<AssetId, u128>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGenesis {
    chain_id: String,
    genesis_time_ms: u64,
    #[serde(default)]
    consensus_key: Option<String>,
    native: RawNative,
    params: RawParams,
    #[serde(default)]
    assets: Vec<RawAsset>,
    #[serde(default)]
    accounts: Vec<RawAccount>,
    #[serde(default)]
    arbitrators: Vec<RawArbitrator>,
    #[serde(default)]
    validators: Vec<RawValidator>,
    #[serde(default)]
    nodes: Vec<RawNode>,
    #[serde(default)]
    profiles: Vec<RawProfile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    /// The account that pays the deposit and may unregister the node.
    owner: String,
    /// The node's public key: 64 hex digits.
    node_key: String,
    /// Where the node listens for peers: `ip:port`.
    p2p: String,
    deposit: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValidator {
    /// The account that owns the bond.
    address: String,
    /// The node's public key: 64 hex digits.
    node_key: String,
    /// Where the node listens for peers: `ip:port`.
    p2p: String,
    bond: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    address: String,
    name: String,
    /// 64 hex digits.
    chat_key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArbitrator {
    address: String,
    bond: String,
    fee_bps: u16,
    languages: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNative {
    symbol: String,
    name: String,
    decimals: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParams {
    fee_per_byte: String,
    default_call_fee: String,
    #[serde(default)]
    call_fees: BTreeMap<String, String>,
    #[serde(default)]
    market: RawMarketParams,
    #[serde(default)]
    lending: RawLendingParams,
    #[serde(default)]
    staking: RawStakingParams,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAsset {
    symbol: String,
    name: String,
    decimals: u8,
    issuer: Option<String>,
    max_supply: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    address: String,
    #[serde(default)]
    balances: BTreeMap<String, String>,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> GenesisError {
    GenesisError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn parse_amount(field: &str, text: &str, decimals: u8) -> Result<u128, GenesisError> {
    amount::parse(text, decimals).map_err(|source| GenesisError::Amount {
        field: field.into(),
        source,
    })
}

fn parse_symbol(field: &str, text: &str) -> Result<Symbol, GenesisError> {
    Symbol::new(text).map_err(|e| invalid(field, e.to_string()))
}

fn parse_name(field: &str, text: &str) -> Result<Text<64>, GenesisError> {
    Text::new(text).map_err(|e| invalid(field, e.to_string()))
}

fn check_decimals(field: &str, decimals: u8) -> Result<u8, GenesisError> {
    if decimals > MAX_DECIMALS {
        return Err(invalid(
            field,
            format!("an asset has at most {MAX_DECIMALS} decimals, not {decimals}"),
        ));
    }
    Ok(decimals)
}

impl Genesis {
    pub fn load(path: &Path) -> Result<Self, GenesisError> {
        let text = std::fs::read_to_string(path).map_err(|e| GenesisError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_toml(&text)
    }

    pub fn from_toml(text: &str) -> Result<Self, GenesisError> {
        let raw: RawGenesis =
            toml::from_str(text).map_err(|e| GenesisError::Toml(e.to_string()))?;
        let chain_id =
            ChainId::new(&raw.chain_id).map_err(|e| invalid("chain_id", e.to_string()))?;

        let native_decimals = check_decimals("native.decimals", raw.native.decimals)?;
        let mut assets = vec![AssetInfo {
            symbol: parse_symbol("native.symbol", &raw.native.symbol)?,
            name: parse_name("native.name", &raw.native.name)?,
            decimals: native_decimals,
            issuer: None,
            max_supply: None,
            supply: 0,
        }];

        let params = Self::parse_params(&raw.params, native_decimals)?;

        let mut ids: BTreeMap<String, AssetId> = BTreeMap::new();
        ids.insert(raw.native.symbol.clone(), AssetId::NATIVE);
        for (index, asset) in raw.assets.iter().enumerate() {
            let field = |name: &str| format!("assets[{index}].{name}");
            let symbol = parse_symbol(&field("symbol"), &asset.symbol)?;
            let decimals = check_decimals(&field("decimals"), asset.decimals)?;
            let issuer = asset
                .issuer
                .as_deref()
                .map(|text| {
                    AccountId::parse(text).map_err(|source| GenesisError::Address {
                        field: field("issuer"),
                        source,
                    })
                })
                .transpose()?;
            let max_supply = asset
                .max_supply
                .as_deref()
                .map(|text| parse_amount(&field("max_supply"), text, decimals))
                .transpose()?;
            if max_supply == Some(0) {
                return Err(invalid(field("max_supply"), "must be greater than zero"));
            }
            let id =
                AssetId(u32::try_from(assets.len()).map_err(|_| invalid("assets", "too many"))?);
            if ids.insert(asset.symbol.clone(), id).is_some() {
                return Err(GenesisError::DuplicateSymbol {
                    field: field("symbol"),
                    symbol: asset.symbol.clone(),
                });
            }
            assets.push(AssetInfo {
                symbol,
                name: parse_name(&field("name"), &asset.name)?,
                decimals,
                issuer,
                max_supply,
                supply: 0,
            });
        }

        let mut balances: BTreeMap<AccountId, BTreeMap<AssetId, u128>> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        for (index, account) in raw.accounts.iter().enumerate() {
            let field = format!("accounts[{index}]");
            let id =
                AccountId::parse(&account.address).map_err(|source| GenesisError::Address {
                    field: format!("{field}.address"),
                    source,
                })?;
            if !seen.insert(id) {
                return Err(GenesisError::DuplicateAccount {
                    field: format!("{field}.address"),
                    address: account.address.clone(),
                });
            }
            let mut held = BTreeMap::new();
            for (symbol, text) in &account.balances {
                let balance_field = format!("{field}.balances.{symbol}");
                let asset = *ids.get(symbol).ok_or_else(|| GenesisError::UnknownAsset {
                    field: balance_field.clone(),
                    symbol: symbol.clone(),
                })?;
                let info = &mut assets[asset.0 as usize];
                let value = parse_amount(&balance_field, text, info.decimals)?;
                if value == 0 {
                    continue;
                }
                let limit = info.max_supply.unwrap_or(u128::MAX);
                info.supply = info
                    .supply
                    .checked_add(value)
                    .filter(|supply| *supply <= limit)
                    .ok_or_else(|| GenesisError::SupplyTooLarge {
                        symbol: symbol.clone(),
                        limit: amount::format(limit, info.decimals),
                    })?;
                held.insert(asset, value);
            }
            balances.insert(id, held);
        }

        let market = raw
            .params
            .market
            .resolve(native_decimals)
            .map_err(|(field, message)| invalid(field, message))?;
        let lending = raw
            .params
            .lending
            .resolve()
            .map_err(|(field, message)| invalid(field, message))?;
        let staking = raw
            .params
            .staking
            .resolve(native_decimals)
            .map_err(|(field, message)| invalid(field, message))?;
        let mut arbitrators = Vec::new();
        for (index, entry) in raw.arbitrators.iter().enumerate() {
            let field = |name: &str| format!("arbitrators[{index}].{name}");
            let account =
                AccountId::parse(&entry.address).map_err(|source| GenesisError::Address {
                    field: field("address"),
                    source,
                })?;
            let bond = parse_amount(&field("bond"), &entry.bond, native_decimals)?;
            if bond < market.min_arbitrator_bond {
                return Err(invalid(
                    field("bond"),
                    format!(
                        "below the minimum bond {}",
                        amount::format(market.min_arbitrator_bond, native_decimals)
                    ),
                ));
            }
            if entry.fee_bps > market.max_arbitrator_fee_bps {
                return Err(invalid(
                    field("fee_bps"),
                    format!("above the maximum {}", market.max_arbitrator_fee_bps),
                ));
            }
            let held = balances
                .get(&account)
                .and_then(|held| held.get(&AssetId::NATIVE))
                .copied()
                .unwrap_or(0);
            if held < bond {
                return Err(invalid(
                    field("bond"),
                    "the account's genesis EQA balance does not cover the bond",
                ));
            }
            if arbitrators
                .iter()
                .any(|a: &GenesisArbitrator| a.account == account)
            {
                return Err(GenesisError::DuplicateAccount {
                    field: field("address"),
                    address: entry.address.clone(),
                });
            }
            arbitrators.push(GenesisArbitrator {
                account,
                bond,
                fee_bps: entry.fee_bps,
                languages: Text::new(entry.languages.as_str())
                    .map_err(|e| invalid(field("languages"), e.to_string()))?,
            });
        }

        // What each account has left once the arbitrator bonds above are locked.
        let mut free: BTreeMap<AccountId, u128> = balances
            .iter()
            .map(|(account, held)| {
                let native = held.get(&AssetId::NATIVE).copied().unwrap_or(0);
                let bonded: u128 = arbitrators
                    .iter()
                    .filter(|a| a.account == *account)
                    .fold(0u128, |sum, a| sum.saturating_add(a.bond));
                (*account, native.saturating_sub(bonded))
            })
            .collect();
        let mut validators: Vec<staking::Candidate> = Vec::new();
        for (index, entry) in raw.validators.iter().enumerate() {
            let field = |name: &str| format!("validators[{index}].{name}");
            let account =
                AccountId::parse(&entry.address).map_err(|source| GenesisError::Address {
                    field: field("address"),
                    source,
                })?;
            let (node_key, address) = node_entry(&field, &entry.node_key, &entry.p2p)?;
            let bond = parse_amount(&field("bond"), &entry.bond, native_decimals)?;
            if bond < staking.min_bond {
                return Err(invalid(
                    field("bond"),
                    format!(
                        "below the minimum bond {}",
                        amount::format(staking.min_bond, native_decimals)
                    ),
                ));
            }
            if validators.iter().any(|v| v.account == account) {
                return Err(GenesisError::DuplicateAccount {
                    field: field("address"),
                    address: entry.address.clone(),
                });
            }
            if validators.iter().any(|v| v.node_key == node_key) {
                return Err(invalid(field("node_key"), "registered twice"));
            }
            if validators.len() >= usize::from(staking.max_candidates) {
                return Err(invalid(
                    "validators",
                    format!(
                        "more than params.staking.max_candidates ({})",
                        staking.max_candidates
                    ),
                ));
            }
            let left = free.entry(account).or_default();
            *left = left.checked_sub(bond).ok_or_else(|| {
                invalid(
                    field("bond"),
                    "the account's genesis EQA balance, less any arbitrator bond, does not cover \
                     the bond",
                )
            })?;
            validators.push(staking::Candidate {
                account,
                node_key,
                address,
                bond,
            });
        }

        let mut nodes: Vec<staking::FullNode> = Vec::new();
        for (index, entry) in raw.nodes.iter().enumerate() {
            let field = |name: &str| format!("nodes[{index}].{name}");
            let owner = AccountId::parse(&entry.owner).map_err(|source| GenesisError::Address {
                field: field("owner"),
                source,
            })?;
            let (node_key, address) = node_entry(&field, &entry.node_key, &entry.p2p)?;
            if validators.iter().any(|v| v.node_key == node_key)
                || nodes.iter().any(|n| n.node_key == node_key)
            {
                return Err(invalid(field("node_key"), "registered twice"));
            }
            let deposit = parse_amount(&field("deposit"), &entry.deposit, native_decimals)?;
            if deposit < staking.node_deposit {
                return Err(invalid(
                    field("deposit"),
                    format!(
                        "below the minimum deposit {}",
                        amount::format(staking.node_deposit, native_decimals)
                    ),
                ));
            }
            if nodes.len() >= usize::from(staking.max_nodes) {
                return Err(invalid(
                    "nodes",
                    format!("more than params.staking.max_nodes ({})", staking.max_nodes),
                ));
            }
            let left = free.entry(owner).or_default();
            *left = left.checked_sub(deposit).ok_or_else(|| {
                invalid(
                    field("deposit"),
                    "the owner's genesis EQA balance, less its other bonds and deposits, does \
                     not cover the deposit",
                )
            })?;
            nodes.push(staking::FullNode {
                node_key,
                owner,
                address,
                deposit,
                registered_height: 0,
            });
        }

        let mut profiles: Vec<GenesisProfile> = Vec::new();
        for (index, entry) in raw.profiles.iter().enumerate() {
            let field = |name: &str| format!("profiles[{index}].{name}");
            let account =
                AccountId::parse(&entry.address).map_err(|source| GenesisError::Address {
                    field: field("address"),
                    source,
                })?;
            if profiles.iter().any(|p| p.account == account) {
                return Err(GenesisError::DuplicateAccount {
                    field: field("address"),
                    address: entry.address.clone(),
                });
            }
            let name = Text::new(entry.name.as_str())
                .map_err(|e| invalid(field("name"), e.to_string()))?;
            let chat_key = parse_key(&entry.chat_key).ok_or_else(|| {
                invalid(
                    field("chat_key"),
                    "must be 64 hexadecimal digits (32 bytes)",
                )
            })?;
            profiles.push(GenesisProfile {
                account,
                name,
                chat_key,
            });
        }

        let consensus_key = raw.consensus_key.map(|key| key.trim().to_string());
        if let Some(key) = &consensus_key
            && decode_hex(key).is_none()
        {
            return Err(invalid(
                "consensus_key",
                "not hexadecimal: write the key's bytes as pairs of hex digits",
            ));
        }
        Ok(Self {
            chain_id,
            genesis_time_ms: raw.genesis_time_ms,
            consensus_key,
            params,
            market,
            lending,
            staking,
            arbitrators,
            validators,
            nodes,
            profiles,
            assets,
            balances,
        })
    }

    fn parse_params(raw: &RawParams, decimals: u8) -> Result<Params, GenesisError> {
        let mut params = Params {
            fee_per_byte: parse_amount("params.fee_per_byte", &raw.fee_per_byte, decimals)?,
            default_call_fee: parse_amount(
                "params.default_call_fee",
                &raw.default_call_fee,
                decimals,
            )?,
            call_fees: BTreeMap::new(),
        };
        if raw.call_fees.len() > crate::params::MAX_FEE_ENTRIES {
            return Err(invalid(
                "params.call_fees",
                format!("at most {} entries", crate::params::MAX_FEE_ENTRIES),
            ));
        }
        for (kind, text) in &raw.call_fees {
            let field = format!("params.call_fees.{kind}");
            let key = Text::new(kind.as_str()).map_err(|e| invalid(&field, e.to_string()))?;
            params
                .call_fees
                .insert(key, parse_amount(&field, text, decimals)?);
        }
        // Every transaction's least fee must be representable, or nothing could ever be sent.
        let largest_call_fee = params
            .call_fees
            .values()
            .copied()
            .chain([params.default_call_fee])
            .max()
            .unwrap_or(0);
        let fits = u128::try_from(MAX_TX_BYTES)
            .ok()
            .and_then(|size| params.fee_per_byte.checked_mul(size))
            .and_then(|bytes_fee| bytes_fee.checked_add(largest_call_fee))
            .is_some();
        if !fits {
            return Err(invalid(
                "params",
                "the fee for the largest transaction overflows; lower fee_per_byte or call fees",
            ));
        }
        Ok(params)
    }

    /// Writes the genesis state into an empty store.
    pub fn initialize(&self, store: &mut (impl Store + ?Sized)) {
        state::set_chain_id(store, &self.chain_id);
        state::set_params(store, &self.params);
        for (index, info) in self.assets.iter().enumerate() {
            let id = AssetId(u32::try_from(index).expect("asset count was checked"));
            state::set_asset(store, id, info);
            state::set_symbol(store, &info.symbol, id);
        }
        let next = u32::try_from(self.assets.len()).expect("asset count was checked");
        state::set_next_asset_id(store, AssetId(next));
        for (account, held) in &self.balances {
            for (asset, value) in held {
                state::set_balance(store, account, *asset, *value);
            }
        }
        state::set_last_block(store, 0, self.genesis_time_ms);
        if let Some(key) = self.consensus_key.as_deref().and_then(decode_hex) {
            state::set_consensus_key(store, &key);
        }
        market::params::store(store, &self.market);
        lending::params::store(store, &self.lending);
        staking::params::store(store, &self.staking);
        for arbitrator in &self.arbitrators {
            market::register_at_genesis(store, arbitrator, self.genesis_time_ms)
                .expect("genesis validation checked the bond is covered");
        }
        for validator in &self.validators {
            staking::register_at_genesis(store, validator, self.genesis_time_ms)
                .expect("genesis validation checked the registration");
        }
        for node in &self.nodes {
            staking::register_node_at_genesis(store, node)
                .expect("genesis validation checked the registration");
        }
        staking::open_epochs(store);
        for profile in &self.profiles {
            market::Db::put_profile(
                store,
                &profile.account,
                &market::Profile {
                    chat_key: profile.chat_key,
                    name: profile.name.clone(),
                },
            );
        }
    }

    /// The asset with `symbol`, if genesis defines one.
    pub fn asset_id(&self, symbol: &str) -> Option<AssetId> {
        self.assets
            .iter()
            .position(|info| info.symbol.as_str() == symbol)
            .and_then(|index| u32::try_from(index).ok())
            .map(AssetId)
    }
}

/// 32 bytes from exactly 64 hexadecimal digits.
/// A genesis entry's node key and peer address (`field` names the entry's fields).
fn node_entry(
    field: &dyn Fn(&str) -> String,
    node_key: &str,
    p2p: &str,
) -> Result<(AccountId, Text<64>), GenesisError> {
    let node_key = parse_key(node_key)
        .and_then(|bytes| AccountId::from_bytes(bytes).ok())
        .ok_or_else(|| {
            invalid(
                field("node_key"),
                "not an ed25519 public key: write its 32 bytes as 64 hex digits",
            )
        })?;
    if !staking::valid_address(p2p) {
        return Err(invalid(
            field("p2p"),
            "not a node address: write ip:port, with a port above 0 and a concrete ip",
        ));
    }
    let address = Text::new(p2p).map_err(|e| invalid(field("p2p"), e.to_string()))?;
    Ok((node_key, address))
}

/// Bytes written as pairs of hex digits (at least one pair).
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

fn parse_key(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut key = [0u8; 32];
    for (byte, pair) in key.iter_mut().zip(text.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(key)
}
