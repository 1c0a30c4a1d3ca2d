//! The simulated chain: a genesis with actors, assets and arbitrators, and the application of a
//! planned block (building and signing its transactions, then `apply_block` under a panic guard).

use super::{
    Violation, oracle,
    panics::guarded,
    plan::{BlockPlan, Envelope, TxPlan},
    view::View,
};
use crate::{
    BlockContext, Genesis, MemoryStore, Receipt, apply_block,
    market::{self, Offer},
    params::Params,
    state, testing,
};
use commonware_cryptography::{Signer, ed25519::PrivateKey};
use std::collections::BTreeMap;
use types::{
    AccountId, AssetId, ChainId, SignedTransaction, Transaction, amount, codec::EncodeSize,
};

/// Actors `0..ACTORS` send the random calls.
pub const ACTORS: u64 = 6;
/// Starts with a small EQA balance, so its fees run out during long cases.
pub const POOR: u64 = 5;
/// Holds a large EQA reserve: before the exit phase it tops up every actor's fees, and it is the
/// bystander who calls the exits anyone may call. It never sends random calls.
pub const FAUCET: u64 = ACTORS;
/// An account that holds funds (actors may send it some) but never signs.
pub const STRANGER: u64 = 1_000;

pub const EQA: AssetId = AssetId(0);
/// Six decimals, issued by actor 0 with a maximum supply.
pub const USDX: AssetId = AssetId(1);
/// No decimals and no issuer: a fixed supply.
pub const GOLD: AssetId = AssetId(2);
/// Eighteen decimals, issued by actor 1 without a cap: amounts near the top of `u128`.
pub const WEI: AssetId = AssetId(3);
/// Assets that exist at genesis.
pub const GENESIS_ASSETS: u32 = 4;

pub const GENESIS_MS: u64 = testing::GENESIS_TIME_MS;
const CHAIN_ID: &str = "equa-adversary";
/// A chain id no transaction of this chain may carry.
const OTHER_CHAIN_ID: &str = "equa-elsewhere";

/// A named set of chain parameters: what it changes in the genesis.
pub type Profile = (&'static str, fn(&mut Genesis));

/// The chain parameters a case may run under, each with what sets it apart.
pub const PROFILES: [Profile; 3] = [("defaults", |_| {}), ("tight", tight), ("strict", strict)];

/// Free transactions, windows of seconds, no new-account limits, deposits and fees from 0 to
/// 100%, one basis point as the least funding share, no grace period, default after a day and a
/// late fee of 100% a day.
fn tight(genesis: &mut Genesis) {
    genesis.params.fee_per_byte = 0;
    genesis.params.default_call_fee = 0;
    let market = &mut genesis.market;
    for method in &mut market.methods {
        method.min_window_secs = method.min_window_secs.min(60);
    }
    market.min_payment_window_secs = 1;
    market.max_payment_window_secs = 600;
    market.release_window_secs = 1;
    market.ruling_window_secs = 60;
    market.arbitrator_cooldown_secs = 0;
    market.min_deposit_bps = 0;
    market.max_deposit_bps = 10_000;
    market.max_arbitrator_fee_bps = 10_000;
    market.new_account_trades = 0;
    market.max_messages_per_author = 3;
    let lending = &mut genesis.lending;
    lending.min_funding_bps = 1;
    lending.grace_days = 0;
    lending.default_after_days = 1;
    lending.acceptance_days = 0;
    lending.late_fee_bps_per_day = 10_000;
    lending.max_rate_bps = 1_000_000;
}

/// Expensive transactions, one lender funds a whole loan, deposits fixed at half the amount,
/// and long windows and grace periods.
fn strict(genesis: &mut Genesis) {
    genesis.params.fee_per_byte = 1_000;
    let market = &mut genesis.market;
    market.min_deposit_bps = 5_000;
    market.max_deposit_bps = 5_000;
    market.release_window_secs = 7 * 86_400;
    market.ruling_window_secs = 14 * 86_400;
    market.arbitrator_cooldown_secs = 30 * 86_400;
    let lending = &mut genesis.lending;
    lending.min_funding_bps = 10_000;
    lending.grace_days = 10;
    lending.default_after_days = 90;
    lending.acceptance_days = 7;
}

/// What every case starts from, built once: the genesis states and the actors' keys.
#[derive(Debug)]
pub struct Setup {
    /// Per profile: the genesis state and its transaction fees.
    genesis: Vec<(MemoryStore, Params)>,
    keys: Vec<PrivateKey>,
    pub accounts: Vec<AccountId>,
    pub stranger: AccountId,
    pub proposer: AccountId,
    chain_id: ChainId,
    other_chain_id: ChainId,
    signature_size: usize,
}

impl Default for Setup {
    fn default() -> Self {
        Self::new()
    }
}

impl Setup {
    pub fn new() -> Self {
        let keys: Vec<PrivateKey> = (0..=FAUCET).map(testing::key).collect();
        let accounts: Vec<AccountId> = keys
            .iter()
            .map(|key| AccountId::from_public_key(&key.public_key()))
            .collect();
        let profiles: Vec<Genesis> = PROFILES
            .iter()
            .map(|(_, adjust)| {
                let mut genesis = genesis(&accounts);
                adjust(&mut genesis);
                genesis
            })
            .collect();
        let chain_id = profiles[0].chain_id.clone();
        let probe = SignedTransaction::sign(
            Transaction {
                chain_id: chain_id.clone(),
                signer: accounts[0],
                nonce: 0,
                fee: 0,
                expires_at_height: 0,
                call: types::Call::Market(types::market::MarketCall::WithdrawBond(
                    types::market::Nothing,
                )),
            },
            &keys[0],
        );
        let signature_size = probe.size() - probe.tx().encode_size();
        Self {
            genesis: profiles
                .into_iter()
                .map(|genesis| {
                    let mut store = MemoryStore::new();
                    genesis.initialize(&mut store);
                    (store, genesis.params)
                })
                .collect(),
            keys,
            accounts,
            stranger: testing::account(STRANGER),
            proposer: testing::account(u64::MAX),
            chain_id,
            other_chain_id: ChainId::new(OTHER_CHAIN_ID).expect("a valid chain id"),
            signature_size,
        }
    }

    pub fn account(&self, actor: u64) -> AccountId {
        self.accounts[usize::try_from(actor).expect("small")]
    }

    /// The actor who signs for `account`, if any does.
    pub fn actor(&self, account: &AccountId) -> Option<u64> {
        self.accounts
            .iter()
            .position(|a| a == account)
            .map(|i| i as u64)
    }

    /// `(address, name)` pairs for rendering plans.
    pub fn names(&self) -> Vec<(String, String)> {
        let mut names: Vec<(String, String)> = self
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.to_address(), format!("actor{i}")))
            .collect();
        names.push((self.stranger.to_address(), "stranger".into()));
        names
    }

    pub fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }

    fn sign(&self, params: &Params, plan: &TxPlan, nonce: u64, height: u64) -> SignedTransaction {
        let signer = self.account(plan.signer);
        let chain_id = match plan.envelope {
            Envelope::WrongChain => self.other_chain_id.clone(),
            _ => self.chain_id.clone(),
        };
        let expires_at_height = match plan.envelope {
            Envelope::Expired => height.saturating_sub(1),
            _ => height.saturating_add(8),
        };
        let mut body = Transaction {
            chain_id,
            signer,
            nonce,
            fee: 0,
            expires_at_height,
            call: plan.call.clone(),
        };
        // The fee is fixed-width, so the size does not depend on its value.
        let size = body.encode_size() + self.signature_size;
        let required = params
            .required_fee(plan.call.kind(), size)
            .unwrap_or(u128::MAX);
        body.fee = match plan.envelope {
            Envelope::FeeTooLow => required.saturating_sub(1),
            Envelope::FeeUnaffordable => u128::MAX,
            Envelope::Overpaid(extra) => required.saturating_add(extra),
            _ => required,
        };
        let key_index = match plan.envelope {
            Envelope::WrongKey => (plan.signer + 1) % (FAUCET + 1),
            _ => plan.signer,
        };
        SignedTransaction::sign(body, &self.keys[usize::try_from(key_index).expect("small")])
    }
}

fn genesis(accounts: &[AccountId]) -> Genesis {
    let mut text = format!(
        "chain_id = \"{CHAIN_ID}\"\ngenesis_time_ms = {GENESIS_MS}\n\
         [native]\nsymbol = \"EQA\"\nname = \"Equa\"\ndecimals = 9\n\
         [params]\nfee_per_byte = \"0.00000001\"\ndefault_call_fee = \"0.000001\"\n\
         [params.staking]\nmin_bond = \"1000\"\nunbonding_secs = 86400\ncommittee_size = 4\nblocks_per_epoch = 16\n\
         max_candidates = 4\nnode_deposit = \"10\"\nmax_nodes = 2\n\
         [[assets]]\nsymbol = \"USDX\"\nname = \"Dollar\"\ndecimals = 6\nissuer = \"{}\"\n\
         max_supply = \"1000000000000\"\n\
         [[assets]]\nsymbol = \"GOLD\"\nname = \"Gold\"\ndecimals = 0\n\
         [[assets]]\nsymbol = \"WEI\"\nname = \"Wei\"\ndecimals = 18\nissuer = \"{}\"\n",
        accounts[0], accounts[1],
    );
    for (index, account) in accounts.iter().enumerate() {
        let eqa = match index as u64 {
            POOR => "0.0002",
            FAUCET => "1000000000",
            _ => "10000000",
        };
        let others = if index as u64 == FAUCET {
            String::new()
        } else {
            ", USDX = \"1000000\", GOLD = \"1000\", WEI = \"1000000000\"".to_string()
        };
        text.push_str(&format!(
            "[[accounts]]\naddress = \"{account}\"\nbalances = {{ EQA = \"{eqa}\"{others} }}\n"
        ));
    }
    for arbitrator in [3usize, 4] {
        text.push_str(&format!(
            "[[arbitrators]]\naddress = \"{}\"\nbond = \"1000\"\nfee_bps = {}\nlanguages = \"en\"\n",
            accounts[arbitrator],
            100 * arbitrator
        ));
    }
    Genesis::from_toml(&text).expect("the adversary's genesis is valid")
}

/// The EQA minor units in `whole` EQA.
pub fn eqa(whole: u128) -> u128 {
    whole * amount::unit(9).expect("9 decimals")
}

/// What applying one planned block produced, for the checks.
#[derive(Debug)]
pub struct Applied {
    pub context: BlockContext,
    pub txs: Vec<SignedTransaction>,
    pub receipts: Vec<Receipt>,
    /// Each signer's nonce before the block.
    pub nonces_before: BTreeMap<AccountId, u64>,
    pub proposer_before: u128,
    /// The open offers before the block: the terms takers saw.
    pub offers_before: BTreeMap<u64, Offer>,
    /// Per transaction, why it must succeed, when the state before the block says so.
    pub expected: Vec<Option<&'static str>>,
    /// The block's offenses that burned part of a bond.
    pub slashes: u64,
}

/// A chain in memory being driven by a plan.
#[derive(Debug)]
pub struct World<'a> {
    pub setup: &'a Setup,
    /// The fees of the case's profile.
    pub params: &'a Params,
    pub store: MemoryStore,
    pub height: u64,
    pub time_ms: u64,
}

impl<'a> World<'a> {
    /// A chain at the genesis of `profile` (an index into [`PROFILES`]).
    pub fn new(setup: &'a Setup, profile: usize) -> Self {
        let (store, params) = &setup.genesis[profile % PROFILES.len()];
        Self {
            setup,
            params,
            store: store.clone(),
            height: 0,
            time_ms: GENESIS_MS,
        }
    }

    /// Signs the block's transactions (nonces from the current state, in plan order) and
    /// applies it. A panic, or a refusal of the whole block, is a violation.
    pub fn apply(&mut self, block: &BlockPlan) -> Result<Applied, Violation> {
        let height = self.height + 1;
        let timestamp_ms = block.timestamp_ms.max(self.time_ms);
        let context = BlockContext {
            height,
            timestamp_ms,
            proposer: self.setup.proposer,
            round: u128::from(height).saturating_mul(2),
            seeded: true,
            randomness: types::hash(
                b"EQUA_ADVERSARY_RANDOMNESS",
                &[&height.to_be_bytes(), &timestamp_ms.to_be_bytes()],
            )
            .0,
            offenses: block.offenses.clone(),
            next_holders: None,
        };
        let mut next: BTreeMap<AccountId, u64> = BTreeMap::new();
        let mut nonces_before = BTreeMap::new();
        let mut txs = Vec::with_capacity(block.txs.len());
        for plan in &block.txs {
            let signer = self.setup.account(plan.signer);
            let current = state::nonce(&self.store, &signer);
            nonces_before.insert(signer, current);
            let next = next.entry(signer).or_insert(current);
            let nonce = match plan.envelope {
                Envelope::StaleNonce => next.wrapping_sub(1),
                Envelope::FutureNonce => next.saturating_add(1),
                _ => *next,
            };
            if plan.envelope.takes_nonce() {
                *next = next.saturating_add(1);
            }
            txs.push(self.setup.sign(self.params, plan, nonce, height));
        }
        let proposer_before = state::balance(&self.store, &self.setup.proposer, EQA);
        let view = View::read(&self.store, timestamp_ms);
        let expected = oracle::predict(
            self.setup,
            &self.store,
            &view,
            timestamp_ms,
            &block.txs,
            &txs,
            !block.offenses.is_empty(),
        );
        let settled_before: Vec<bool> = block
            .offenses
            .iter()
            .map(|o| crate::staking::Db::slash(&self.store, &o.node_key, o.epoch).is_some())
            .collect();
        let offers_before = (1..=market::Db::last_offer_id(&self.store))
            .filter_map(|id| market::Db::offer(&self.store, id).map(|offer| (id, offer)))
            .collect();
        let store = &mut self.store;
        // Whether or not the ledger contained the panic, it is reported.
        let result = guarded(|| apply_block(store, &context, &txs)).map_err(|panic| {
            Violation::new(
                "no panic",
                format!("the ledger panicked while applying the block: {panic}"),
            )
        })?;
        let receipts = result.map_err(|error| {
            Violation::new("block applies", format!("the block was refused: {error}"))
        })?;
        self.height = height;
        self.time_ms = timestamp_ms;
        let slashes = block
            .offenses
            .iter()
            .zip(settled_before)
            .filter(|(o, before)| {
                !before
                    && crate::staking::Db::slash(&self.store, &o.node_key, o.epoch)
                        .is_some_and(|burned| burned > 0)
            })
            .count() as u64;
        Ok(Applied {
            context,
            txs,
            receipts,
            nonces_before,
            proposer_before,
            offers_before,
            expected,
            slashes,
        })
    }
}
