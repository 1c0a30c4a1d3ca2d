//! The ledger's state layout: one key prefix per table, and typed reads and writes over a
//! [`Store`].
//!
//! Keys are a one-byte table tag followed by fixed-width fields, so every table is a contiguous
//! key range. Values use the canonical codec. A balance of zero is stored as an absent key, so
//! equal ledgers always have equal contents.

use crate::{params::Params, store::Store};
use types::{
    AccountId, AssetId, ChainId, Symbol, Text,
    codec::{Decode, Encode, decode},
    impl_codec,
};

/// Table tags. The market module owns 0x10-0x2f, the lending module 0x30-0x4f and the staking
/// module 0x50-0x5f.
pub mod table {
    pub const NONCE: u8 = 0x01;
    pub const BALANCE: u8 = 0x02;
    pub const ASSET: u8 = 0x03;
    pub const SYMBOL: u8 = 0x04;
    pub const SINGLETON: u8 = 0x05;
    pub const HELD: u8 = 0x06;
}

const CHAIN_ID_KEY: [u8; 2] = [table::SINGLETON, 0];
const PARAMS_KEY: [u8; 2] = [table::SINGLETON, 1];
const NEXT_ASSET_KEY: [u8; 2] = [table::SINGLETON, 2];
const LAST_BLOCK_KEY: [u8; 2] = [table::SINGLETON, 3];
const CONSENSUS_KEY_KEY: [u8; 2] = [table::SINGLETON, 4];

pub fn nonce_key(account: &AccountId) -> Vec<u8> {
    let mut key = Vec::with_capacity(33);
    key.push(table::NONCE);
    key.extend_from_slice(account.as_bytes());
    key
}

pub fn balance_key(account: &AccountId, asset: AssetId) -> Vec<u8> {
    let mut key = Vec::with_capacity(37);
    key.push(table::BALANCE);
    key.extend_from_slice(account.as_bytes());
    key.extend_from_slice(&asset.0.to_be_bytes());
    key
}

pub fn asset_key(asset: AssetId) -> Vec<u8> {
    let mut key = vec![table::ASSET];
    key.extend_from_slice(&asset.0.to_be_bytes());
    key
}

pub fn symbol_key(symbol: &Symbol) -> Vec<u8> {
    let mut key = vec![table::SYMBOL];
    key.extend_from_slice(symbol.as_str().as_bytes());
    key
}

/// A module that holds funds on behalf of accounts (escrow, bonds, loan pools). Funds a module
/// holds are off every account's balance and on the module's `held` total, so conservation reads
/// `sum(balances) + sum(held by modules) == supply` for every asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Module {
    Market = 1,
    Lending = 2,
    Staking = 3,
}

impl Module {
    pub const ALL: [Module; 3] = [Module::Market, Module::Lending, Module::Staking];
}

pub fn held_key(module: Module, asset: AssetId) -> Vec<u8> {
    let mut key = vec![table::HELD, module as u8];
    key.extend_from_slice(&asset.0.to_be_bytes());
    key
}

/// Who holds a balance: an account, or a module holding funds for accounts (escrow, bonds, loan
/// pools).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Holder {
    Account(AccountId),
    Module(Module),
}

/// Whose balance of which asset `key` records, when it is a balance key or a module's held
/// total; `None` for every other key.
pub fn balance_holder(key: &[u8]) -> Option<(Holder, AssetId)> {
    let asset = |bytes: &[u8]| Some(AssetId(u32::from_be_bytes(bytes.try_into().ok()?)));
    match key {
        [table::BALANCE, rest @ ..] if rest.len() == 36 => {
            let account: [u8; 32] = rest[..32].try_into().ok()?;
            let account = AccountId::from_bytes(account).ok()?;
            Some((Holder::Account(account), asset(&rest[32..])?))
        }
        [table::HELD, module, rest @ ..] if rest.len() == 4 => {
            let module = Module::ALL.into_iter().find(|m| *m as u8 == *module)?;
            Some((Holder::Module(module), asset(rest)?))
        }
        _ => None,
    }
}

/// What `module` holds of `asset` in total.
pub fn held(store: &(impl Store + ?Sized), module: Module, asset: AssetId) -> u128 {
    read(store, &held_key(module, asset)).unwrap_or(0)
}

pub fn set_held(store: &mut (impl Store + ?Sized), module: Module, asset: AssetId, amount: u128) {
    let key = held_key(module, asset);
    if amount == 0 {
        store.delete(&key);
    } else {
        write(store, &key, &amount);
    }
}

/// What the ledger knows about an asset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetInfo {
    pub symbol: Symbol,
    pub name: Text<64>,
    pub decimals: u8,
    /// The only account that may mint and burn; `None` for a fixed supply (such as EQA).
    pub issuer: Option<AccountId>,
    pub max_supply: Option<u128>,
    /// Minted minus burned: always the sum of every balance and every amount held by a module.
    pub supply: u128,
}
impl_codec!(AssetInfo {
    symbol,
    name,
    decimals,
    issuer,
    max_supply,
    supply
});

/// Reads a value that the ledger itself wrote. A value that does not decode means the store
/// was corrupted or written by different code: continuing would fork the chain, so it stops.
pub fn read<T: Decode<Cfg = ()>>(store: &(impl Store + ?Sized), key: &[u8]) -> Option<T> {
    store.get(key).map(|bytes| {
        decode(&bytes).unwrap_or_else(|e| panic!("corrupt ledger value under key {key:02x?}: {e}"))
    })
}

pub fn write<T: Encode>(store: &mut (impl Store + ?Sized), key: &[u8], value: &T) {
    store.put(key, value.encode().to_vec());
}

pub fn chain_id(store: &(impl Store + ?Sized)) -> ChainId {
    read(store, &CHAIN_ID_KEY).expect("the chain id is written at genesis")
}

pub fn set_chain_id(store: &mut (impl Store + ?Sized), chain_id: &ChainId) {
    write(store, &CHAIN_ID_KEY, chain_id);
}

/// The chain's consensus key as the genesis file names it (its encoded bytes), when it does:
/// written into the genesis state, so that the genesis state root, and so every block, commits
/// to the chain's trust anchor.
pub fn consensus_key(store: &(impl Store + ?Sized)) -> Option<Vec<u8>> {
    store.get(&CONSENSUS_KEY_KEY)
}

pub fn set_consensus_key(store: &mut (impl Store + ?Sized), key: &[u8]) {
    store.put(&CONSENSUS_KEY_KEY, key.to_vec());
}

pub fn params(store: &(impl Store + ?Sized)) -> Params {
    read(store, &PARAMS_KEY).expect("params are written at genesis")
}

pub fn set_params(store: &mut (impl Store + ?Sized), params: &Params) {
    write(store, &PARAMS_KEY, params);
}

pub fn nonce(store: &(impl Store + ?Sized), account: &AccountId) -> u64 {
    read(store, &nonce_key(account)).unwrap_or(0)
}

pub fn set_nonce(store: &mut (impl Store + ?Sized), account: &AccountId, nonce: u64) {
    write(store, &nonce_key(account), &nonce);
}

pub fn balance(store: &(impl Store + ?Sized), account: &AccountId, asset: AssetId) -> u128 {
    read(store, &balance_key(account, asset)).unwrap_or(0)
}

pub fn set_balance(
    store: &mut (impl Store + ?Sized),
    account: &AccountId,
    asset: AssetId,
    amount: u128,
) {
    let key = balance_key(account, asset);
    if amount == 0 {
        store.delete(&key);
    } else {
        write(store, &key, &amount);
    }
}

pub fn asset(store: &(impl Store + ?Sized), asset: AssetId) -> Option<AssetInfo> {
    read(store, &asset_key(asset))
}

/// Whether `asset` exists, without decoding its record.
pub fn asset_exists(store: &(impl Store + ?Sized), asset: AssetId) -> bool {
    store.get(&asset_key(asset)).is_some()
}

pub fn set_asset(store: &mut (impl Store + ?Sized), id: AssetId, info: &AssetInfo) {
    write(store, &asset_key(id), info);
}

pub fn asset_by_symbol(store: &(impl Store + ?Sized), symbol: &Symbol) -> Option<AssetId> {
    read::<u32>(store, &symbol_key(symbol)).map(AssetId)
}

pub fn set_symbol(store: &mut (impl Store + ?Sized), symbol: &Symbol, asset: AssetId) {
    write(store, &symbol_key(symbol), &asset.0);
}

/// The id the next issued asset will get.
pub fn next_asset_id(store: &(impl Store + ?Sized)) -> AssetId {
    AssetId(read::<u32>(store, &NEXT_ASSET_KEY).unwrap_or(0))
}

pub fn set_next_asset_id(store: &mut (impl Store + ?Sized), asset: AssetId) {
    write(store, &NEXT_ASSET_KEY, &asset.0);
}

pub fn last_block_key() -> [u8; 2] {
    LAST_BLOCK_KEY
}

/// The height and timestamp of the last applied block (the genesis height is 0).
pub fn last_block(store: &(impl Store + ?Sized)) -> (u64, u64) {
    let block: LastBlock =
        read(store, &LAST_BLOCK_KEY).expect("the last block is written at genesis");
    (block.height, block.timestamp_ms)
}

/// [`last_block`] for a state that may not come from the ledger (one read back from disk):
/// `None` when the record is missing or does not decode.
pub fn try_last_block(store: &(impl Store + ?Sized)) -> Option<(u64, u64)> {
    let bytes = store.get(&LAST_BLOCK_KEY)?;
    let block: LastBlock = decode(&bytes).ok()?;
    Some((block.height, block.timestamp_ms))
}

struct LastBlock {
    height: u64,
    timestamp_ms: u64,
}
impl_codec!(LastBlock {
    height,
    timestamp_ms
});

pub fn set_last_block(store: &mut (impl Store + ?Sized), height: u64, timestamp_ms: u64) {
    write(
        store,
        &LAST_BLOCK_KEY,
        &LastBlock {
            height,
            timestamp_ms,
        },
    );
}
