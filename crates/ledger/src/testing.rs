//! A small harness for driving the ledger in tests, benchmarks and demos: a genesis with funded
//! accounts whose keys are known, and helpers to sign calls and apply them as blocks.
//!
//! Keys come from `PrivateKey::from_seed`, which is deterministic and therefore insecure; they
//! are for tests only.

use crate::{
    BlockContext, Genesis, MemoryStore, Receipt, apply_block, audit, params::Params, state,
    store::Store,
};
use commonware_cryptography::{Signer, ed25519::PrivateKey};
use std::collections::BTreeMap;
use types::{AccountId, AssetId, Call, ChainId, SignedTransaction, Transaction, bank::BankCall};

/// The chain id every harness chain uses.
pub const TEST_CHAIN_ID: &str = "equa-test";
/// Genesis time of harness chains: 2026-01-01T00:00:00Z.
pub const GENESIS_TIME_MS: u64 = 1_767_225_600_000;
/// Blocks are this far apart unless a test moves the clock.
pub const BLOCK_INTERVAL_MS: u64 = 1_000;

/// The key of test account `index`.
pub fn key(index: u64) -> PrivateKey {
    PrivateKey::from_seed(index)
}

/// The account id of test account `index`.
pub fn account(index: u64) -> AccountId {
    AccountId::from_public_key(&key(index).public_key())
}

/// The fees harness chains charge: small but non-zero, so tests see fees move.
pub fn test_params() -> Params {
    Params {
        fee_per_byte: 10,
        default_call_fee: 1_000,
        call_fees: BTreeMap::new(),
    }
}

/// A ledger in memory with a clock, a block height and known keys.
#[derive(Debug)]
pub struct TestChain {
    pub store: MemoryStore,
    pub height: u64,
    pub time_ms: u64,
    /// Receives fees. It is account `u64::MAX`, which no test signs with.
    pub proposer: AccountId,
    /// Checked after every block when set (the default).
    pub check_conservation: bool,
}

impl TestChain {
    /// A chain where accounts `0..accounts` each hold `native_balance` EQA minor units.
    pub fn new(accounts: u64, native_balance: u128) -> Self {
        let genesis = test_genesis(accounts, native_balance);
        Self::from_genesis(&genesis)
    }

    pub fn from_genesis(genesis: &Genesis) -> Self {
        let mut store = MemoryStore::new();
        genesis.initialize(&mut store);
        Self {
            store,
            height: 0,
            time_ms: genesis.genesis_time_ms,
            proposer: account(u64::MAX),
            check_conservation: true,
        }
    }

    pub fn chain_id(&self) -> ChainId {
        state::chain_id(&self.store)
    }

    /// A transaction from account `signer` with its next nonce and a fee that covers the call.
    pub fn tx(&self, signer: u64, call: Call) -> SignedTransaction {
        let from = account(signer);
        let nonce = state::nonce(&self.store, &from);
        self.tx_with(signer, nonce, call)
    }

    /// A transaction with an explicit nonce.
    pub fn tx_with(&self, signer: u64, nonce: u64, call: Call) -> SignedTransaction {
        let params = state::params(&self.store);
        let body = |fee| Transaction {
            chain_id: self.chain_id(),
            signer: account(signer),
            nonce,
            fee,
            expires_at_height: self.height.saturating_add(100),
            call: call.clone(),
        };
        // The fee depends on the size, and the size on the fee's encoding (fixed width), so
        // one pass with a placeholder gives the exact size.
        let size = SignedTransaction::sign(body(0), &key(signer)).size();
        let fee = params
            .required_fee(call.kind(), size)
            .expect("test fees fit");
        SignedTransaction::sign(body(fee), &key(signer))
    }

    /// The context of the next block, `BLOCK_INTERVAL_MS` after the last.
    pub fn next_context(&self) -> BlockContext {
        let height = self.height.checked_add(1).expect("height fits");
        BlockContext {
            height,
            timestamp_ms: self.time_ms.saturating_add(BLOCK_INTERVAL_MS),
            proposer: self.proposer,
            // Two rounds per block: every block's randomness is the seed of a round after the
            // previous block's, so a pick asked for in one block is made in the next.
            round: u128::from(height).saturating_mul(2),
            seeded: true,
            randomness: types::hash(b"EQUA_TEST_RANDOMNESS", &[&height.to_be_bytes()]).0,
            offenses: Vec::new(),
            next_holders: None,
        }
    }

    /// Applies `txs` as the next block.
    pub fn apply(&mut self, txs: &[SignedTransaction]) -> Vec<Receipt> {
        let context = self.next_context();
        self.apply_with(&context, txs)
    }

    /// Applies `txs` as a block with the given context.
    pub fn apply_with(
        &mut self,
        context: &BlockContext,
        txs: &[SignedTransaction],
    ) -> Vec<Receipt> {
        let receipts = apply_block(&mut self.store, context, txs).expect("block follows the last");
        self.height = context.height;
        self.time_ms = context.timestamp_ms;
        if self.check_conservation {
            audit::check_conservation(&self.store).expect("conservation holds after every block");
            audit::check_indexes(&self.store).expect("the indexes match the records");
        }
        receipts
    }

    /// Signs and applies one call from `signer` in its own block.
    pub fn submit(&mut self, signer: u64, call: Call) -> Receipt {
        let tx = self.tx(signer, call);
        self.apply(&[tx]).remove(0)
    }

    /// Signs and applies one bank call.
    pub fn bank(&mut self, signer: u64, call: BankCall) -> Receipt {
        self.submit(signer, Call::Bank(call))
    }

    /// Moves the clock forward without a block (the next block carries the new time).
    pub fn advance_ms(&mut self, ms: u64) {
        self.time_ms = self.time_ms.checked_add(ms).expect("time fits");
    }

    pub fn balance(&self, account_index: u64, asset: AssetId) -> u128 {
        state::balance(&self.store, &account(account_index), asset)
    }

    pub fn nonce(&self, account_index: u64) -> u64 {
        state::nonce(&self.store, &account(account_index))
    }

    /// Everything in the store except the keys that a paid, failed call may change: the signer's
    /// nonce, the signer's and the proposer's EQA balances, and the last-block record. Two
    /// snapshots are equal exactly when a call changed nothing else.
    pub fn snapshot_except_fee(&self, signer: u64) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let excluded = [
            state::nonce_key(&account(signer)),
            state::balance_key(&account(signer), AssetId::NATIVE),
            state::balance_key(&self.proposer, AssetId::NATIVE),
            state::last_block_key().to_vec(),
        ];
        self.store
            .scan_prefix(&[])
            .filter(|(key, _)| !excluded.iter().any(|excluded| excluded.as_slice() == *key))
            .map(|(key, value)| (key.to_vec(), value.to_vec()))
            .collect()
    }

    pub fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.store.get(key)
    }
}

/// The genesis file of a staking test chain: accounts `0..accounts` with 10,000 EQA each, no
/// fees, and `staking` as the `[params.staking]` table. Add [`validator_entry`]s to register
/// genesis validators.
pub fn staking_genesis_text(staking: &str, accounts: u64) -> String {
    let mut text = format!(
        "chain_id = \"{TEST_CHAIN_ID}\"\ngenesis_time_ms = {GENESIS_TIME_MS}\n\
         [native]\nsymbol = \"EQA\"\nname = \"Equa\"\ndecimals = 9\n\
         [params]\nfee_per_byte = \"0\"\ndefault_call_fee = \"0\"\n\
         [params.staking]\n{staking}\n"
    );
    for index in 0..accounts {
        text.push_str(&format!(
            "[[accounts]]\naddress = \"{}\"\nbalances = {{ EQA = \"10000\" }}\n",
            account(index)
        ));
    }
    text
}

/// A genesis `[[validators]]` entry: account `index` registers `node_key` at `p2p` with `bond`
/// EQA.
pub fn validator_entry(index: u64, node_key: &AccountId, p2p: &str, bond: &str) -> String {
    let hex: String = node_key
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "[[validators]]\naddress = \"{}\"\nnode_key = \"{hex}\"\np2p = \"{p2p}\"\nbond = \"{bond}\"\n",
        account(index)
    )
}

/// A genesis where accounts `0..accounts` each hold `native_balance` EQA minor units.
pub fn test_genesis(accounts: u64, native_balance: u128) -> Genesis {
    let mut text = format!(
        "chain_id = \"{TEST_CHAIN_ID}\"\ngenesis_time_ms = {GENESIS_TIME_MS}\n\
         [native]\nsymbol = \"EQA\"\nname = \"Equa\"\ndecimals = 9\n\
         [params]\nfee_per_byte = \"0\"\ndefault_call_fee = \"0\"\n"
    );
    for index in 0..accounts {
        text.push_str(&format!(
            "[[accounts]]\naddress = \"{}\"\nbalances = {{ EQA = \"{}\" }}\n",
            account(index),
            types::amount::format(native_balance, 9),
        ));
    }
    let mut genesis = Genesis::from_toml(&text).expect("the test genesis is valid");
    genesis.params = test_params();
    genesis
}

/// A small deterministic generator (splitmix64) for randomised tests: the same seed gives the
/// same cases on every run.
#[derive(Clone, Debug)]
pub struct Cases(pub u64);

impl Cases {
    pub fn number(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.number().checked_rem(bound).unwrap_or(0)
    }

    /// One of `items`, which must not be empty.
    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        let at = self.below(items.len() as u64) as usize;
        items[at].clone()
    }
}
