//! Deterministic simulation of four validators running the real ledger.
//!
//! Every run uses the commonware deterministic runtime and simulated network, so a seed fixes the
//! whole execution. Set `EQUA_SIM_SEED=<n>` to run only seed `n` (for example to reproduce a
//! failure); otherwise every scenario runs with each of 16 fixed seeds.

mod common;

use common::{RandomTransfers, seeds, validator_key, validator_keys};
use commonware_consensus::{marshal::Identifier, types::Height};
use commonware_cryptography::{Digestible, Signer, ed25519};
use commonware_glue::simulate::{
    action::{Action, Crash, Schedule},
    engine::{EngineDefinition, InitContext},
    exit::ProcessedHeightAtLeast,
    plan::PlanBuilder,
    processed::ProcessedHeight,
    property::Property,
    tracker::ProgressTracker,
};
use commonware_p2p::simulated::Link;
use commonware_runtime::{Handle, Quota, deterministic};
use commonware_utils::{NZUsize, probability};
use ledger::{BlockContext, MemoryStore, audit, state, testing};
use node::{
    App, AppConfig, TransactionSource,
    engine::{self, NodeConfig, NodeState},
};
use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::Duration,
};
use types::{Call, Digest, SignedTransaction, bank::BankCall};

const VALIDATORS: u64 = 4;
const ACCOUNTS: u64 = common::ACCOUNTS;

/// The seeds every scenario runs with in CI.
const SEEDS: [u64; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

fn genesis_store() -> MemoryStore {
    common::genesis_store(ACCOUNTS)
}

/// A transfer of this many minor units panics inside the ledger once the fault is armed (see
/// `ledger::fault`). `RandomTransfers` never sends it (its amounts are at most 65,536), so the
/// armed fault touches only the scenario that sends it.
const PANICKING_AMOUNT: u64 = 7_777_777;

/// `RandomTransfers`, with the first transfer of every block changed to the panicking amount.
#[derive(Debug)]
struct PanickingTransfers;

impl TransactionSource for PanickingTransfers {
    fn select(
        &self,
        parent: &MemoryStore,
        context: &BlockContext,
        limit: usize,
    ) -> Vec<SignedTransaction> {
        let mut txs = RandomTransfers.select(parent, context, limit);
        let Some(first) = txs.first_mut() else {
            return txs;
        };
        let mut body = first.tx().clone();
        let Call::Bank(BankCall::Transfer(transfer)) = &mut body.call else {
            return txs;
        };
        transfer.amount = u128::from(PANICKING_AMOUNT);
        let sender = (0..ACCOUNTS)
            .find(|index| testing::account(*index) == body.signer)
            .expect("a funded account sent it");
        let key = testing::key(sender);
        body.fee = 0;
        let size = SignedTransaction::sign(body.clone(), &key).size();
        body.fee = state::params(parent)
            .required_fee("bank.transfer", size)
            .expect("fee fits");
        *first = SignedTransaction::sign(body, &key);
        txs
    }
}

#[derive(Clone)]
struct Sim {
    keys: Vec<ed25519::PrivateKey>,
    /// Whether blocks carry a transfer that panics in the ledger.
    panicking: bool,
    /// Blocks per consensus epoch.
    blocks_per_epoch: std::num::NonZeroU64,
}

impl Sim {
    fn new() -> Self {
        Self {
            keys: validator_keys(VALIDATORS),
            panicking: false,
            blocks_per_epoch: engine::SINGLE_EPOCH,
        }
    }

    /// Consensus changes epoch every `blocks` blocks, resharing the key each time.
    fn with_epochs(blocks: u64) -> Self {
        Self {
            blocks_per_epoch: std::num::NonZeroU64::new(blocks).expect("non-zero"),
            ..Self::new()
        }
    }
}

/// A validator's inspectable state.
struct Validator(NodeState<deterministic::Context>);

impl ProcessedHeight for Validator {
    async fn processed_height(&self) -> u64 {
        common::processed_height(&self.0).await
    }
}

impl EngineDefinition for Sim {
    type PublicKey = ed25519::PublicKey;
    type Engine = Handle<()>;
    type State = Validator;

    fn participants(&self) -> Vec<ed25519::PublicKey> {
        self.keys.iter().map(|key| key.public_key()).collect()
    }

    fn channels(&self) -> Vec<(u64, Quota)> {
        common::consensus_channels()
    }

    fn max_message_size(&self) -> u32 {
        engine::max_message_size(VALIDATORS as u32)
    }

    async fn init(&self, init: InitContext<'_, ed25519::PublicKey>) -> (Handle<()>, Validator) {
        let InitContext {
            context,
            index,
            public_key,
            oracle,
            channels,
            participants,
            monitor,
            ..
        } = init;
        let scheme = common::signer(participants, &self.keys[index]);
        let app = App::new(
            genesis_store(),
            0,
            AppConfig {
                audit_finalized: true,
                ..AppConfig::default()
            },
        );
        let config = NodeConfig {
            partition_prefix: format!("validator-{index}"),
            scheme,
            consensus_key: common::consensus_key(participants).0,
            signer: self.keys[index].clone(),
            blocks_per_epoch: self.blocks_per_epoch,
            followers: Default::default(),
            app,
            provider: if self.panicking {
                Arc::new(PanickingTransfers)
            } else {
                Arc::new(RandomTransfers)
            },
            retained_blocks: Some(100_000),
            state_sync: Default::default(),
            tuning: engine::Tuning {
                page_cache_pages: NZUsize!(64),
                ..engine::Tuning::default()
            },
        };
        let (handle, state) =
            common::start_validator(context, public_key, oracle, channels, monitor, config).await;
        (handle, Validator(state))
    }

    fn start(engine: Handle<()>) -> Handle<()> {
        engine
    }
}

/// At `height`: every validator has the same block (digest and state root), its ledger state
/// conserves every asset, and no finalized block ever broke conservation. Records the state root
/// so runs can be compared.
#[derive(Clone)]
struct AgreementAndConservation {
    height: u64,
    roots: Arc<Mutex<Vec<Digest>>>,
    /// Blocks re-executed by all validators to rebuild lost in-memory state.
    replayed: Arc<Mutex<u64>>,
    /// Times a validator read its ledger back from its authenticated store.
    restores: Arc<Mutex<u64>>,
    /// Receipts of calls that failed on an internal error (a panic), in the blocks checked.
    internal_failures: Arc<Mutex<u64>>,
}

impl Property<ed25519::PublicKey, Validator> for AgreementAndConservation {
    fn name(&self) -> &str {
        "agreement_and_conservation"
    }

    fn check<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a Validator],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let mut expected: Option<(Digest, Digest)> = None;
            for (index, validator) in states.iter().enumerate() {
                let block = validator
                    .0
                    .marshal
                    .get_block(Identifier::Height(Height::new(self.height)))
                    .await
                    .ok_or_else(|| format!("validator {index} has no block at {}", self.height))?;
                let seen = (block.digest(), block.inner().state_root);
                if *expected.get_or_insert(seen) != seen {
                    return Err(format!(
                        "validator {index} disagrees at height {}",
                        self.height
                    ));
                }
                let failures = validator.0.app.audit_failures();
                if !failures.is_empty() {
                    return Err(format!("validator {index}: {failures:?}"));
                }
                let finalized = validator
                    .0
                    .app
                    .finalized()
                    .ok_or_else(|| format!("validator {index} finalized nothing"))?;
                audit::check_conservation(&finalized.store)
                    .map_err(|e| format!("validator {index}: {e}"))?;
                if finalized.height < self.height {
                    return Err(format!(
                        "validator {index} is behind at {}",
                        finalized.height
                    ));
                }
                // Every transaction a finalized block carries paid its fee: the proposer left
                // out what the ledger refused. (A restarted validator keeps only the blocks
                // it finalized since, so look at those it has.)
                let mut seen = 0u64;
                // No honest run ever carries evidence (every validator here is honest,
                // crashes and partitions included).
                for height in 1..=finalized.height {
                    if let Some(block) = validator
                        .0
                        .marshal
                        .get_block(Identifier::Height(Height::new(height)))
                        .await
                        && !block.inner().evidence.is_empty()
                    {
                        return Err(format!(
                            "validator {index}: block {height} carries evidence against an \
                             honest validator: {:?}",
                            block.inner().evidence
                        ));
                    }
                }
                for height in 1..=self.height {
                    let Some(block) = validator.0.app.block(height) else {
                        continue;
                    };
                    seen += 1;
                    *self.internal_failures.lock().unwrap() += block
                        .receipts
                        .iter()
                        .filter(|receipt| {
                            receipt.outcome == ledger::Outcome::Failed(ledger::CallError::Internal)
                                && receipt.fee_paid > 0
                        })
                        .count()
                        as u64;
                    if let Some(receipt) = block
                        .receipts
                        .iter()
                        .find(|receipt| matches!(receipt.outcome, ledger::Outcome::Rejected(_)))
                    {
                        return Err(format!(
                            "validator {index}: block {height} carries a refused transaction: \
                             {receipt:?}"
                        ));
                    }
                }
                if seen == 0 {
                    return Err(format!("validator {index} kept no finalized block"));
                }
                // Transfers really ran: every applied transaction advanced a nonce.
                let applied: u64 = (0..ACCOUNTS)
                    .map(|account| {
                        state::nonce(finalized.store.as_ref(), &testing::account(account))
                    })
                    .sum();
                if applied < self.height * 5 {
                    return Err(format!(
                        "validator {index}: only {applied} transactions applied by height {}",
                        finalized.height
                    ));
                }
                *self.replayed.lock().unwrap() += validator.0.app.replayed_blocks();
                *self.restores.lock().unwrap() += validator.0.app.restores();
            }
            let (_, root) = expected.expect("at least one validator");
            self.roots.lock().unwrap().push(root);
            Ok(())
        })
    }
}

fn plan(seed: u64, height: u64, check: AgreementAndConservation) -> PlanBuilder<Sim> {
    plan_for(Sim::new(), seed, height, check)
}

fn plan_for(sim: Sim, seed: u64, height: u64, check: AgreementAndConservation) -> PlanBuilder<Sim> {
    PlanBuilder::new(sim)
        .seed(seed)
        .exit_condition(ProcessedHeightAtLeast::new(height))
        .timeout(Duration::from_secs(120))
        .property(check)
}

fn check_at(height: u64) -> AgreementAndConservation {
    AgreementAndConservation {
        height,
        roots: Arc::new(Mutex::new(Vec::new())),
        replayed: Arc::new(Mutex::new(0)),
        restores: Arc::new(Mutex::new(0)),
        internal_failures: Arc::new(Mutex::new(0)),
    }
}

#[test]
fn validators_agree_conserve_and_are_deterministic() {
    for seed in seeds(&SEEDS) {
        let check = check_at(20);
        let first = plan(seed, 20, check.clone()).run().expect("first run");
        let second = plan(seed, 20, check.clone()).run().expect("second run");
        let roots = check.roots.lock().unwrap().clone();
        assert_eq!(roots.len(), 2, "seed {seed}: both runs checked");
        assert_eq!(
            roots[0], roots[1],
            "seed {seed}: same seed, same state root"
        );
        assert_eq!(
            first[0].state, second[0].state,
            "seed {seed}: same execution"
        );
        assert_eq!(
            *check.replayed.lock().unwrap(),
            0,
            "seed {seed}: nothing to rebuild"
        );
    }
}

#[test]
fn lossy_network_still_finalizes() {
    for seed in seeds(&SEEDS) {
        let check = check_at(20);
        plan(seed, 20, check.clone())
            .link(Link {
                latency: Duration::from_millis(50),
                jitter: Duration::from_millis(30),
                success_rate: probability!(0.9),
            })
            .run()
            .expect("run with 10% message loss");
        assert_eq!(check.roots.lock().unwrap().len(), 1);
    }
}

#[test]
fn crashed_validator_restarts_and_catches_up() {
    for seed in seeds(&SEEDS) {
        let crashed = validator_key(0).public_key();
        let check = check_at(60);
        let results = plan(seed, 60, check.clone())
            .crash(Crash::ProcessedHeight {
                participant: crashed,
                heights: 10..=15,
                downtime: Duration::from_secs(2),
            })
            .run()
            .expect("run with a crash");
        assert_eq!(results[0].crashes, 1, "seed {seed}: the validator crashed");
        assert_eq!(check.roots.lock().unwrap().len(), 1);
        // The restarted validator lost its in-memory ledger and read it back from its store,
        // re-executing no block it had committed.
        assert!(
            *check.restores.lock().unwrap() > 0,
            "seed {seed}: the restarted validator read its ledger back from its store"
        );
        assert_eq!(
            *check.replayed.lock().unwrap(),
            0,
            "seed {seed}: no block re-executed to rebuild a state"
        );
    }
}

#[test]
fn partitioned_validator_rejoins_after_healing() {
    for seed in seeds(&SEEDS) {
        let participants = Sim::new().participants();
        let isolated = participants[0].clone();
        let good = Link {
            latency: Duration::from_millis(10),
            jitter: Duration::from_millis(5),
            success_rate: probability!(1.0),
        };
        let cut = Link {
            success_rate: probability!(0.0),
            ..good.clone()
        };
        let mut schedule = Schedule::new();
        for other in &participants[1..] {
            for (from, to) in [(&isolated, other), (other, &isolated)] {
                schedule = schedule.at(
                    Duration::from_millis(500),
                    Action::UpdateLink {
                        from: from.clone(),
                        to: to.clone(),
                        link: cut.clone(),
                    },
                );
            }
        }
        schedule = schedule.at(Duration::from_secs(3), Action::Heal(good));
        let check = check_at(80);
        plan(seed, 80, check.clone())
            .crash(Crash::Schedule(schedule))
            .run()
            .expect("run with a partition that heals");
        // Every validator, the isolated one included, agrees at height 80 after healing.
        assert_eq!(check.roots.lock().unwrap().len(), 1);
    }
}

/// A call that panics inside the ledger (a bug any transaction could trigger) fails alone on
/// every validator: each block carrying one is finalized with that transaction failed on an
/// internal error and its fee charged, and the network keeps agreeing, conserving and
/// finalizing.
#[test]
fn panicking_call_fails_alone_and_the_network_keeps_finalizing() {
    ledger::fault::panic_on_transfer_amount(PANICKING_AMOUNT);
    for seed in seeds(&SEEDS[..4]) {
        let check = check_at(20);
        let sim = Sim {
            panicking: true,
            ..Sim::new()
        };
        plan_for(sim, seed, 20, check.clone())
            .run()
            .expect("run with a panicking call in every block");
        assert_eq!(check.roots.lock().unwrap().len(), 1);
        assert!(
            *check.internal_failures.lock().unwrap() > 0,
            "seed {seed}: finalized blocks carry the failed calls"
        );
    }
}

/// Blocks per epoch in the epoch scenarios: every validator leads 8 times an epoch under round
/// robin, so each deals in the second half.
const EPOCH_BLOCKS: u64 = 32;

/// Every epoch's final block carries the next epoch's info, from a ceremony that succeeded, and
/// the key it describes is the genesis key: certificates of every epoch verify against it.
#[derive(Clone)]
struct Reshared {
    epochs: u64,
    identity: node::threshold::Identity,
    /// Final blocks checked, over all validators.
    checked: Arc<Mutex<u64>>,
}

impl Property<ed25519::PublicKey, Validator> for Reshared {
    fn name(&self) -> &str {
        "reshared"
    }

    fn check<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a Validator],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            for (index, validator) in states.iter().enumerate() {
                for epoch in 1..=self.epochs {
                    let height = epoch * EPOCH_BLOCKS - 1;
                    let block = validator
                        .0
                        .marshal
                        .get_block(Identifier::Height(Height::new(height)))
                        .await
                        .ok_or_else(|| format!("validator {index} has no block at {height}"))?;
                    let Some(commonware_glue::dkg::types::Payload::EpochInfo(info)) = block
                        .inner()
                        .reshare
                        .as_ref()
                        .and_then(node::block::Reshare::payload)
                    else {
                        return Err(format!(
                            "validator {index}: the final block {height} carries no epoch info"
                        ));
                    };
                    if info.epoch.get() != epoch {
                        return Err(format!(
                            "validator {index}: block {height} carries epoch {}'s info",
                            info.epoch.get()
                        ));
                    }
                    if info.outcome != commonware_glue::dkg::types::EpochOutcome::Success {
                        return Err(format!(
                            "validator {index}: epoch {epoch}'s resharing failed"
                        ));
                    }
                    if *info.output.public().public() != self.identity {
                        return Err(format!("validator {index}: epoch {epoch} changed the key"));
                    }
                    *self.checked.lock().unwrap() += 1;
                }
            }
            Ok(())
        })
    }
}

fn reshared(epochs: u64) -> Reshared {
    let participants = Sim::new().participants();
    Reshared {
        epochs,
        identity: node::threshold::identity(&common::consensus_key(&participants).0),
        checked: Arc::new(Mutex::new(0)),
    }
}

/// Three epoch changes: each reshares the key to the committee, the chain key stays the same,
/// blocks keep finalizing across every boundary, and the validators agree and conserve.
#[test]
fn validators_reshare_the_key_at_every_epoch_and_keep_it() {
    for seed in seeds(&SEEDS[..4]) {
        let height = 3 * EPOCH_BLOCKS + 5;
        let check = check_at(height);
        let epochs = reshared(3);
        plan_for(Sim::with_epochs(EPOCH_BLOCKS), seed, height, check.clone())
            .timeout(Duration::from_secs(600))
            .property(epochs.clone())
            .run()
            .expect("run across three epoch changes");
        assert_eq!(check.roots.lock().unwrap().len(), 1);
        assert_eq!(
            *epochs.checked.lock().unwrap(),
            3 * VALIDATORS,
            "seed {seed}: every validator saw every final block"
        );
    }
}

/// A validator crashes around an epoch boundary (while the key is being reshared) and comes back
/// with what its stores kept: it takes up its share of the new epoch and the chain goes on.
#[test]
fn a_validator_crashing_across_an_epoch_boundary_rejoins() {
    for seed in seeds(&SEEDS[..4]) {
        let crashed = validator_key(0).public_key();
        let height = 3 * EPOCH_BLOCKS + 5;
        let check = check_at(height);
        let epochs = reshared(3);
        let results = plan_for(Sim::with_epochs(EPOCH_BLOCKS), seed, height, check.clone())
            .timeout(Duration::from_secs(600))
            .property(epochs.clone())
            .crash(Crash::ProcessedHeight {
                participant: crashed,
                heights: EPOCH_BLOCKS - 6..=EPOCH_BLOCKS + 2,
                downtime: Duration::from_secs(2),
            })
            .run()
            .expect("run with a crash around the first epoch change");
        assert_eq!(results[0].crashes, 1, "seed {seed}: the validator crashed");
        assert_eq!(check.roots.lock().unwrap().len(), 1);
    }
}
