//! An idle chain stays quiet and a busy one stays quick: a leader with no transaction to propose
//! waits its idle interval before proposing an empty block, and a transaction reaching its pool
//! during that wait is proposed at once.
//!
//! Four validators run the real node wiring (`engine::start_node`), each with its own mempool,
//! on the deterministic runtime and simulated network, so every time below is simulated time and
//! a seed fixes the whole run. Set `EQUA_SIM_SEED=<n>` to run only seed `n`.

mod common;

use commonware_cryptography::{Signer, ed25519};
use commonware_glue::simulate::{
    engine::{EngineDefinition, InitContext},
    exit::ExitCondition,
    plan::PlanBuilder,
    processed::ProcessedHeight,
    property::Property,
    tracker::ProgressTracker,
};
use commonware_p2p::simulated::Link;
use commonware_runtime::{Clock, Handle, Quota, Spawner, Supervisor as _, deterministic};
use commonware_utils::{NZUsize, probability};
use ledger::{BlockContext, MemoryStore, state, testing};
use node::{
    App, AppConfig, TransactionSource,
    engine::{self, NodeConfig, NodeState},
    mempool::{Mempool, MempoolConfig},
    proposal::Arrival,
};
use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::{Duration, UNIX_EPOCH},
};
use types::{AssetId, Call, SignedTransaction, Transaction, TxId, bank::BankCall, bank::Transfer};

const VALIDATORS: u64 = 4;
const ACCOUNTS: u64 = 4;
/// How long each run lasts.
const RUN: Duration = Duration::from_secs(10);
const IDLE: Duration = engine::DEFAULT_IDLE_BLOCK_INTERVAL;
/// Every link: this latency, up to `JITTER` more or less.
const LATENCY: Duration = Duration::from_millis(20);
const JITTER: Duration = Duration::from_millis(5);
/// The transaction is sent this long after validator 0 finalizes the first block after
/// `SEND_AFTER`: the next leader is then well into its idle wait.
const SEND_AFTER: Duration = Duration::from_secs(5);
const SEND_DELAY: Duration = Duration::from_millis(100);

const SEEDS: [u64; 6] = [0, 1, 2, 3, 4, 5];

fn seeds() -> Vec<u64> {
    common::seeds(&SEEDS)
}

fn genesis_store() -> MemoryStore {
    common::genesis_store(ACCOUNTS)
}

/// A transfer from account 0, paying the scheduled fee.
fn transfer() -> SignedTransaction {
    let genesis = genesis_store();
    let body = |fee| Transaction {
        chain_id: state::chain_id(&genesis),
        signer: testing::account(0),
        nonce: 0,
        fee,
        expires_at_height: 1_000,
        call: Call::Bank(BankCall::Transfer(Transfer {
            to: testing::account(1),
            asset: AssetId::NATIVE,
            amount: 1,
        })),
    };
    let key = testing::key(0);
    let size = SignedTransaction::sign(body(0), &key).size();
    let fee = state::params(&genesis)
        .required_fee("bank.transfer", size)
        .expect("fee fits");
    SignedTransaction::sign(body(fee), &key)
}

fn millis(clock: &impl Clock) -> u64 {
    clock
        .current()
        .duration_since(UNIX_EPOCH)
        .expect("the simulated clock starts at the epoch")
        .as_millis() as u64
}

/// A validator's pool, which also records when each block was finalized.
struct Observed {
    mempool: Mempool,
    clock: deterministic::Context,
    /// (height, simulated milliseconds) of every finalized block, in order.
    finalized_at: Mutex<Vec<(u64, u64)>>,
}

impl std::fmt::Debug for Observed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observed").finish_non_exhaustive()
    }
}

impl TransactionSource for Observed {
    fn select(
        &self,
        parent: &MemoryStore,
        context: &BlockContext,
        limit: usize,
    ) -> Vec<SignedTransaction> {
        self.mempool.select(parent, context, limit)
    }

    fn finalized(&self, state: &Arc<MemoryStore>, height: u64) {
        self.finalized_at
            .lock()
            .unwrap()
            .push((height, millis(&self.clock)));
        TransactionSource::finalized(&self.mempool, state, height);
    }

    fn signatures_known_valid(&self, txs: &[SignedTransaction]) -> Vec<bool> {
        self.mempool.signatures_known_valid(txs)
    }

    fn refused(&self, txs: &[SignedTransaction]) {
        self.mempool.refused(txs);
    }

    fn has_pending(&self, parent_height: u64, parent_txs: &[SignedTransaction]) -> bool {
        self.mempool.has_pending(parent_height, parent_txs)
    }

    fn arrival(&self) -> Arrival {
        self.mempool.arrival()
    }
}

/// When the transaction was sent (simulated milliseconds) and its id.
type Sent = Arc<Mutex<Option<(TxId, u64)>>>;

#[derive(Clone)]
struct Sim {
    keys: Vec<ed25519::PrivateKey>,
    /// Whether validator 0's client sends a transaction (see `SEND_AFTER`).
    send: bool,
    /// Every validator's pool, by index.
    pools: Arc<Mutex<Vec<Option<Mempool>>>>,
    sent: Sent,
}

impl Sim {
    fn new(send: bool) -> Self {
        Self {
            keys: common::validator_keys(VALIDATORS),
            send,
            pools: Arc::new(Mutex::new(vec![None; VALIDATORS as usize])),
            sent: Arc::default(),
        }
    }
}

struct Validator {
    node: NodeState<deterministic::Context>,
    observed: Arc<Observed>,
    clock: deterministic::Context,
}

impl ProcessedHeight for Validator {
    async fn processed_height(&self) -> u64 {
        common::processed_height(&self.node).await
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
        let mempool = Mempool::new(MempoolConfig::default(), Arc::new(genesis_store()), 0);
        self.pools.lock().unwrap()[index] = Some(mempool.clone());
        let observed = Arc::new(Observed {
            mempool,
            clock: context.child("observer"),
            finalized_at: Mutex::default(),
        });
        let app = App::new(
            genesis_store(),
            0,
            AppConfig {
                audit_finalized: true,
                ..AppConfig::default()
            },
        )
        .with_observer(observed.clone());
        if self.send && index == 0 {
            send_during_an_idle_wait(
                context.child("client"),
                observed.clone(),
                self.pools.clone(),
                self.sent.clone(),
            );
        }
        let config = NodeConfig {
            partition_prefix: format!("validator-{index}"),
            scheme,
            consensus_key: common::consensus_key(participants).0,
            signer: self.keys[index].clone(),
            blocks_per_epoch: engine::SINGLE_EPOCH,
            followers: Default::default(),
            app,
            provider: observed.clone(),
            retained_blocks: Some(100_000),
            state_sync: Default::default(),
            tuning: engine::Tuning {
                idle_block_interval: IDLE,
                page_cache_pages: NZUsize!(64),
                ..engine::Tuning::default()
            },
        };
        let clock = context.child("clock");
        let (handle, node) =
            common::start_validator(context, public_key, oracle, channels, monitor, config).await;
        let validator = Validator {
            node,
            observed,
            clock,
        };
        (handle, validator)
    }

    fn start(engine: Handle<()>) -> Handle<()> {
        engine
    }
}

/// Once validator 0 (`observed`) finalizes a block after `SEND_AFTER`, waits `SEND_DELAY` and
/// puts one transfer into every pool at once, as the relay would (a network delay later, which
/// this leaves out).
fn send_during_an_idle_wait(
    context: deterministic::Context,
    observed: Arc<Observed>,
    pools: Arc<Mutex<Vec<Option<Mempool>>>>,
    sent: Sent,
) {
    context.spawn(move |context| async move {
        let after_ms = SEND_AFTER.as_millis() as u64;
        loop {
            let finalized = observed.finalized_at.lock().unwrap().last().copied();
            if finalized.is_some_and(|(_, at_ms)| at_ms >= after_ms) {
                break;
            }
            context.sleep(Duration::from_millis(1)).await;
        }
        context.sleep(SEND_DELAY).await;
        let tx = transfer();
        for pool in pools.lock().unwrap().iter().flatten() {
            pool.submit(tx.clone()).expect("the transfer is admitted");
        }
        *sent.lock().unwrap() = Some((tx.id(), millis(&context)));
    });
}

/// Ends the run once `RUN` of simulated time has passed.
#[derive(Clone)]
struct RunFor;

impl ExitCondition<ed25519::PublicKey, Validator> for RunFor {
    fn name(&self) -> &str {
        "run_for"
    }

    fn requires_polling(&self) -> bool {
        true
    }

    fn reached<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a Validator],
        _target_count: usize,
    ) -> Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>> {
        Box::pin(async move {
            Ok(states
                .first()
                .is_some_and(|validator| millis(&validator.clock) >= RUN.as_millis() as u64))
        })
    }
}

/// What each validator saw, collected at the end of a run.
#[derive(Clone, Debug, Default)]
struct Seen {
    /// Blocks finalized within `RUN`, per validator.
    blocks: Vec<usize>,
    /// The shortest time between an empty block's timestamp and its parent's.
    shortest_empty_gap_ms: u64,
    /// Milliseconds from sending the transaction until its block was finalized, per validator.
    latencies_ms: Vec<u64>,
}

#[derive(Clone)]
struct Record {
    sent: Sent,
    seen: Arc<Mutex<Seen>>,
}

impl Property<ed25519::PublicKey, Validator> for Record {
    fn name(&self) -> &str {
        "record"
    }

    fn check<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a Validator],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let run_ms = RUN.as_millis() as u64;
            let sent = *self.sent.lock().unwrap();
            let mut seen = Seen {
                shortest_empty_gap_ms: u64::MAX,
                ..Seen::default()
            };
            for (index, validator) in states.iter().enumerate() {
                let finalized = validator.observed.finalized_at.lock().unwrap().clone();
                let mut blocks = 0;
                let mut parent_timestamp_ms = 0;
                for (height, at_ms) in &finalized {
                    if *at_ms > run_ms {
                        break;
                    }
                    let block = validator.node.app.block(*height).ok_or_else(|| {
                        format!("validator {index} does not keep finalized block {height}")
                    })?;
                    blocks += 1;
                    if block.tx_ids.is_empty() {
                        seen.shortest_empty_gap_ms = seen
                            .shortest_empty_gap_ms
                            .min(block.timestamp_ms.saturating_sub(parent_timestamp_ms));
                    }
                    parent_timestamp_ms = block.timestamp_ms;
                }
                seen.blocks.push(blocks);
                let Some((id, sent_ms)) = sent else {
                    continue;
                };
                let (height, receipt) =
                    validator.node.app.receipt(&id).ok_or_else(|| {
                        format!("validator {index} did not finalize the transfer")
                    })?;
                if !receipt.is_success() {
                    return Err(format!(
                        "validator {index}: the transfer failed: {receipt:?}"
                    ));
                }
                let (_, at_ms) = finalized
                    .iter()
                    .find(|(h, _)| *h == height)
                    .ok_or_else(|| format!("validator {index} did not record block {height}"))?;
                seen.latencies_ms.push(at_ms.saturating_sub(sent_ms));
            }
            *self.seen.lock().unwrap() = seen;
            Ok(())
        })
    }
}

fn run(seed: u64, send: bool) -> Seen {
    let sim = Sim::new(send);
    let record = Record {
        sent: sim.sent.clone(),
        seen: Arc::default(),
    };
    PlanBuilder::new(sim)
        .seed(seed)
        .link(Link {
            latency: LATENCY,
            jitter: JITTER,
            success_rate: probability!(1.0),
        })
        .exit_condition(RunFor)
        .timeout(RUN * 2)
        .property(record.clone())
        .run()
        .unwrap_or_else(|error| panic!("seed {seed}: {error}"));
    let seen = record.seen.lock().unwrap().clone();
    assert_eq!(
        seen.blocks.len(),
        VALIDATORS as usize,
        "seed {seed}: {seen:?}"
    );
    // Every empty block waited out the idle interval after its parent.
    assert!(
        seen.shortest_empty_gap_ms >= IDLE.as_millis() as u64,
        "seed {seed}: an empty block came {} ms after its parent",
        seen.shortest_empty_gap_ms
    );
    seen
}

/// With no transaction, the chain makes about one block per idle interval, not one per
/// `min_block_interval_ms` (which would be 200 in 10 s).
#[test]
fn an_idle_chain_makes_one_block_per_idle_interval() {
    let most = (RUN.as_millis() / IDLE.as_millis()) as usize + 1;
    for seed in seeds() {
        let seen = run(seed, false);
        for (index, blocks) in seen.blocks.iter().enumerate() {
            assert!(
                *blocks <= most,
                "seed {seed}: validator {index} finalized {blocks} blocks in {RUN:?}, more than \
                 {most} at one per {IDLE:?}"
            );
            // And it does not stall. At start-up a view can be lost (up to the certification
            // timeout, 3 s): simplex skips a leader it has heard nothing from while a quorum
            // has spoken, and in the first idle second the next leader may not have spoken yet.
            assert!(
                *blocks + 4 >= most,
                "seed {seed}: validator {index} finalized only {blocks} blocks in {RUN:?}"
            );
        }
    }
}

/// A transaction sent while the leader waits out its idle interval is finalized, on every
/// validator, within the minimum interval between blocks and a few network delays, not when the
/// interval ends (about 850 ms later).
#[test]
fn a_transaction_ends_the_idle_wait() {
    let min_interval_ms = AppConfig::default().min_block_interval_ms;
    // Relay excluded: the proposal, two rounds of votes and their certificates, with jitter.
    let bound_ms = min_interval_ms + 6 * (LATENCY + JITTER).as_millis() as u64;
    assert!(bound_ms + SEND_DELAY.as_millis() as u64 + 200 < IDLE.as_millis() as u64);
    let most = (RUN.as_millis() / IDLE.as_millis()) as usize + 2;
    for seed in seeds() {
        let seen = run(seed, true);
        assert_eq!(seen.latencies_ms.len(), VALIDATORS as usize, "seed {seed}");
        for (index, latency_ms) in seen.latencies_ms.iter().enumerate() {
            assert!(
                *latency_ms <= bound_ms,
                "seed {seed}: validator {index} finalized the transfer {latency_ms} ms after it \
                 was sent; the bound is {bound_ms} ms"
            );
        }
        // The transaction's block comes early; the chain is otherwise as idle as before.
        for (index, blocks) in seen.blocks.iter().enumerate() {
            assert!(
                *blocks <= most,
                "seed {seed}: validator {index} finalized {blocks} blocks in {RUN:?}"
            );
        }
    }
}
