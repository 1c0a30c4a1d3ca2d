//! What the deterministic simulations share: validator keys, the genesis state, the seeds to run,
//! the consensus channels and starting one validator's real node wiring on the simulated network.
//!
//! Each simulation uses part of this module, so unused items are expected in any one of them.
#![allow(dead_code)]

use commonware_consensus::simplex::{self, elector::RoundRobin};
use commonware_cryptography::{Sha256, Signer, ed25519};
use commonware_glue::simulate::{reporter::MonitorReporter, tracker::FinalizationUpdate};
use commonware_p2p::simulated::Oracle;
use commonware_runtime::{Handle, Quota, deterministic};
use commonware_utils::{channel::mpsc, ordered::Set};
use ledger::{BlockContext, MemoryStore, state, testing};
use node::{
    Scheme, TransactionSource,
    engine::{self, Channels, NodeConfig, NodeState},
};
use types::{AssetId, Call, SignedTransaction, Transaction, bank::BankCall, bank::Transfer};

/// Funded accounts that send transfers to each other.
pub const ACCOUNTS: u64 = 8;
const TRANSFERS_PER_BLOCK: u64 = 12;

/// A registered channel: its sender and receiver.
pub type ChannelPair = commonware_glue::simulate::engine::ChannelPair<ed25519::PublicKey>;

/// The seeds a scenario runs with: `default`, unless `EQUA_SIM_SEED=<n>` names one seed to run
/// alone (for example to reproduce a failure).
pub fn seeds(default: &[u64]) -> Vec<u64> {
    match std::env::var("EQUA_SIM_SEED") {
        Ok(seed) => vec![seed.parse().expect("EQUA_SIM_SEED is a u64")],
        Err(_) => default.to_vec(),
    }
}

/// The seeds of a scenario: `default`, unless the environment variable `count_var` asks for
/// seeds `0..n` (or `EQUA_SIM_SEED=<n>` for seed `n` alone).
pub fn seeds_or_count(default: &[u64], count_var: &str) -> Vec<u64> {
    match std::env::var(count_var) {
        Ok(count) => (0..count
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("{count_var} is a u64")))
            .collect(),
        Err(_) => seeds(default),
    }
}

/// Validator keys live far from the account keys so no validator signs transfers.
pub fn validator_key(index: u64) -> ed25519::PrivateKey {
    ed25519::PrivateKey::from_seed(1_000 + index)
}

/// The keys of `count` validators.
pub fn validator_keys(count: u64) -> Vec<ed25519::PrivateKey> {
    (0..count).map(validator_key).collect()
}

/// The ledger state at genesis: `accounts` funded test accounts.
pub fn genesis_store(accounts: u64) -> MemoryStore {
    let mut genesis = testing::test_genesis(accounts, 1_000_000_000_000);
    // The deterministic runtime's clock starts at the Unix epoch.
    genesis.genesis_time_ms = 0;
    let mut store = MemoryStore::new();
    genesis.initialize(&mut store);
    store
}

/// The ledger state at genesis of a chain whose staking module registers `validators` (their
/// node keys, bonded 500 EQA each by accounts `0..`), so that evidence against them slashes a
/// bond: `accounts` funded test accounts, one committee seat per validator, and the longest
/// epoch the ledger allows (the simulations that use it never change epoch).
pub fn staking_genesis_store(accounts: u64, validators: &[ed25519::PublicKey]) -> MemoryStore {
    let seats = validators.len().max(4);
    let mut text = testing::staking_genesis_text(
        &format!(
            "min_bond = \"100\"\ncommittee_size = {seats}\nmax_candidates = {seats}\n\
             blocks_per_epoch = 1000000"
        ),
        accounts,
    );
    for (index, key) in validators.iter().enumerate() {
        text.push_str(&testing::validator_entry(
            index as u64,
            &types::AccountId::from_public_key(key),
            &format!("127.0.0.1:{}", 10_000 + index),
            "500",
        ));
    }
    let mut genesis = ledger::Genesis::from_toml(&text).expect("a valid genesis");
    // The deterministic runtime's clock starts at the Unix epoch.
    genesis.genesis_time_ms = 0;
    let mut store = MemoryStore::new();
    genesis.initialize(&mut store);
    store
}

/// The consensus channels every validator registers, in `engine::channel::ALL` order.
pub fn consensus_channels() -> Vec<(u64, Quota)> {
    engine::channel::ALL
        .iter()
        .map(|id| (*id, engine::quota(*id, engine::DEFAULT_CHANNEL_BURST)))
        .collect()
}

/// The consensus key of a simulation's `participants`, dealt from a fixed seed: every call with
/// the same participants deals the same key and shares, so each validator can deal its own.
pub fn consensus_key(
    participants: &[ed25519::PublicKey],
) -> (
    node::threshold::ConsensusKey,
    Vec<(
        ed25519::PublicKey,
        commonware_cryptography::bls12381::primitives::group::Share,
    )>,
) {
    node::threshold::deal(
        <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(7),
        participants,
    )
}

/// This validator's signing scheme over all participants.
pub fn signer(participants: &[ed25519::PublicKey], key: &ed25519::PrivateKey) -> Scheme {
    let (consensus_key, shares) = consensus_key(participants);
    let share = shares
        .into_iter()
        .find(|(holder, _)| *holder == key.public_key())
        .map(|(_, share)| share)
        .expect("the validator is a participant");
    node::threshold::signer(
        engine::CONSENSUS_NAMESPACE,
        &consensus_key,
        Set::from_iter_dedup(participants.iter().cloned()),
        &key.public_key(),
        share,
    )
    .expect("the share is the validator's")
}

/// The scheme of a node that follows `participants` without voting.
pub fn verifier(participants: &[ed25519::PublicKey]) -> Scheme {
    node::threshold::verifier(
        engine::CONSENSUS_NAMESPACE,
        &consensus_key(participants).0,
        Set::from_iter_dedup(participants.iter().cloned()),
    )
    .expect("the key names the participants")
}

/// Starts the real node wiring for one validator on the consensus channels (the first six of
/// `channels`), reporting its finalizations to the harness and blocking peers through the
/// simulated network.
pub async fn start_validator(
    context: deterministic::Context,
    public_key: &ed25519::PublicKey,
    oracle: &Oracle<ed25519::PublicKey, deterministic::Context>,
    channels: Vec<ChannelPair>,
    monitor: mpsc::UnboundedSender<FinalizationUpdate<ed25519::PublicKey>>,
    config: NodeConfig,
) -> (Handle<()>, NodeState<deterministic::Context>) {
    start_validator_with_elector(
        context,
        public_key,
        oracle,
        channels,
        monitor,
        config,
        RoundRobin::<Sha256>::default(),
    )
    .await
}

/// [`start_validator`] with another leader election, which every validator of the simulation
/// must share.
pub async fn start_validator_with_elector(
    context: deterministic::Context,
    public_key: &ed25519::PublicKey,
    oracle: &Oracle<ed25519::PublicKey, deterministic::Context>,
    channels: Vec<ChannelPair>,
    monitor: mpsc::UnboundedSender<FinalizationUpdate<ed25519::PublicKey>>,
    config: NodeConfig,
    elector: impl simplex::elector::Config<Scheme>,
) -> (Handle<()>, NodeState<deterministic::Context>) {
    let reporter_key = public_key.clone();
    engine::start_node_with_elector(
        context,
        config,
        public_key.clone(),
        Channels::from_ordered(channels),
        oracle.manager(),
        oracle.control(public_key.clone()),
        move |mailbox| MonitorReporter::new(reporter_key, monitor, mailbox),
        elector,
    )
    .await
}

/// The height of the last block `node` processed (0 before any).
pub async fn processed_height(node: &NodeState<deterministic::Context>) -> u64 {
    node.marshal
        .get_processed()
        .await
        .map_or(0, |processed| processed.height().get())
}

/// Random transfers among the funded accounts, drawn from the block's randomness. About one in
/// eight reuses a spent nonce, which the ledger refuses without a fee: the proposer must leave
/// those out, and no finalized block may carry one.
#[derive(Debug)]
pub struct RandomTransfers;

impl TransactionSource for RandomTransfers {
    fn select(
        &self,
        parent: &MemoryStore,
        context: &BlockContext,
        limit: usize,
    ) -> Vec<SignedTransaction> {
        let chain_id = state::chain_id(parent);
        let params = state::params(parent);
        let mut used = [0u64; ACCOUNTS as usize];
        (0..TRANSFERS_PER_BLOCK)
            .take(limit)
            .map(|index| {
                let draw = types::hash(
                    b"SIM_TRANSFER",
                    &[&context.randomness, &index.to_be_bytes()],
                )
                .0;
                let sender = u64::from(draw[0]) % ACCOUNTS;
                let recipient = (sender + 1 + u64::from(draw[1]) % (ACCOUNTS - 1)) % ACCOUNTS;
                let amount = u128::from(u16::from_be_bytes([draw[2], draw[3]])) + 1;
                let next = state::nonce(parent, &testing::account(sender)) + used[sender as usize];
                let stale = draw[4].is_multiple_of(8) && next > 0;
                let nonce = if stale { next - 1 } else { next };
                if !stale {
                    used[sender as usize] += 1;
                }
                let body = |fee| Transaction {
                    chain_id: chain_id.clone(),
                    signer: testing::account(sender),
                    nonce,
                    fee,
                    expires_at_height: context.height + 100,
                    call: Call::Bank(BankCall::Transfer(Transfer {
                        to: testing::account(recipient),
                        asset: AssetId::NATIVE,
                        amount,
                    })),
                };
                let key = testing::key(sender);
                let size = SignedTransaction::sign(body(0), &key).size();
                let fee = params
                    .required_fee("bank.transfer", size)
                    .expect("fee fits");
                SignedTransaction::sign(body(fee), &key)
            })
            .collect()
    }
}
