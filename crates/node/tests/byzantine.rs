//! Byzantine validators in the deterministic simulation: one validator of four (or two of seven)
//! misbehaves, the others run the real node wiring, and after every run the honest validators
//! must have
//!
//! * kept agreement: the harness checks every finalization each validator reports against the
//!   others' at the same height, and at the end they hold the same block and state root;
//! * kept finalizing: every honest validator reaches the target height within the run's bound of
//!   simulated time;
//! * kept the money: every asset is conserved, the authenticated store matches the ledger, and no
//!   finalized block carries a transaction the ledger refuses;
//! * answered the misbehaviour as the code decides: contradictory votes are reported as faults
//!   (`NodeState::faults`) and their sender is blocked; votes that do not verify get their sender
//!   blocked; a block carrying a forged or unaffordable transaction is never finalized;
//!   malformed relay batches get their sender blocked, and a flood is rate limited without
//!   growing any pool.
//!
//! Consensus misbehaviour comes from simplex's own byzantine test doubles (`mocks`), started on
//! the misbehaving validator's channels in place of its node. Every scenario runs with a few fixed
//! seeds (64 runs in all); `EQUA_SIM_SEED=<n>` runs only seed `n`, and `EQUA_BYZ_SEEDS=<n>` runs
//! seeds `0..n` in every scenario, for example
//! `EQUA_BYZ_SEEDS=200 cargo test -p node --test byzantine --release`.

mod common;

use commonware_consensus::{
    marshal::Identifier,
    simplex::{
        elector::RoundRobin,
        mocks::{
            conflicter, equivocator, impersonator, nuller, nullify_only, outdated, relay,
            wrapped::{self, Behavior},
        },
    },
    types::{Epoch, Height, ViewDelta},
};
use commonware_cryptography::{Sha256, Signer, ed25519};
use commonware_glue::simulate::{
    engine::{EngineDefinition, InitContext},
    exit::ProcessedHeightAtLeast,
    plan::PlanBuilder,
    processed::ProcessedHeight,
    property::Property,
    tracker::ProgressTracker,
};
use commonware_p2p::{Recipients, Sender as _, simulated::Oracle};
use commonware_runtime::{Clock, Handle, Quota, Spawner, Supervisor as _, deterministic};
use commonware_utils::{NZU32, NZUsize};
use ledger::{BlockContext, MemoryStore, audit, state, testing};
use node::{
    App, AppConfig, TransactionSource,
    app::ProposalTampering,
    engine::{self, NodeConfig, NodeState},
    mempool::{Mempool, MempoolConfig},
};
use std::{
    collections::BTreeMap,
    future::Future,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};
use types::{AccountId, Digest, SignedTransaction};

/// The height every honest validator must reach.
const HEIGHT: u64 = 20;
/// Simulated time within which every honest validator must reach [`HEIGHT`]. Without a byzantine
/// validator 20 blocks take about 2 s; a silent or refused leader costs a view of up to the
/// leader and certification timeouts (2 s and 3 s) in every four.
const PROGRESS_BOUND: Duration = Duration::from_secs(60);

/// What a byzantine validator does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Misbehaviour {
    /// Notarizes and finalizes a random payload besides every proposal it sees.
    Conflicter,
    /// As leader, proposes one payload to one validator and another to the rest.
    Equivocator,
    /// Sends votes that name another validator as their signer.
    Impersonator,
    /// Nullifies every view it sees a proposal in, and finalizes that proposal too.
    Nuller,
    /// Only ever nullifies.
    NullifyOnly,
    /// Votes for views long past.
    Outdated,
    /// Conflicting votes whose signatures do not verify.
    CorruptSignatures,
    /// Runs the real node but, as leader, includes a transfer its signer never signed, claiming
    /// its pool had verified the signature.
    ForgedTransactions,
    /// Runs the real node but, as leader, adds to each block after executing it a transaction
    /// whose signer cannot pay its fee.
    UnaffordableTransactions,
    /// Runs the real node and sends bytes that are no batch, or batches of more transactions
    /// than a batch may hold, on the relay channel.
    MalformedRelay,
    /// Runs the real node and floods the relay channel with well-formed batches of transactions
    /// whose signatures are forged.
    RelayFlood,
}

impl Misbehaviour {
    /// Whether the misbehaving validator runs the real node beside its misbehaviour.
    fn runs_a_node(self) -> bool {
        matches!(
            self,
            Self::ForgedTransactions
                | Self::UnaffordableTransactions
                | Self::MalformedRelay
                | Self::RelayFlood
        )
    }
}

type SimOracle = Oracle<ed25519::PublicKey, deterministic::Context>;

#[derive(Clone)]
struct Sim {
    keys: Vec<ed25519::PrivateKey>,
    /// Indices of the byzantine validators.
    byzantine: Vec<usize>,
    misbehaviour: Misbehaviour,
    /// The simulated network, for the checks to ask whom each validator blocked.
    oracle: Arc<Mutex<Option<SimOracle>>>,
    /// Blocks a forging (or tampering) leader built with a forged (or unaffordable) transfer.
    forged_proposals: Arc<AtomicU64>,
    /// The transaction ids of every forged or unaffordable transfer.
    forged_ids: Arc<Mutex<Vec<types::TxId>>>,
    /// Relay messages the spammer tried to send, and those the quota let through.
    spam_attempts: Arc<AtomicU64>,
    spam_sent: Arc<AtomicU64>,
}

impl Sim {
    fn new(validators: u64, byzantine: Vec<usize>, misbehaviour: Misbehaviour) -> Self {
        Self {
            keys: common::validator_keys(validators),
            byzantine,
            misbehaviour,
            oracle: Arc::default(),
            forged_proposals: Arc::default(),
            forged_ids: Arc::default(),
            spam_attempts: Arc::default(),
            spam_sent: Arc::default(),
        }
    }
}

/// A validator as the checks see it.
struct Validator {
    index: usize,
    public_key: ed25519::PublicKey,
    byzantine: bool,
    /// The node, unless a simplex mock runs in its place.
    node: Option<NodeState<deterministic::Context>>,
    /// Where relayed transactions land.
    pool: Option<Mempool>,
}

impl ProcessedHeight for Validator {
    async fn processed_height(&self) -> u64 {
        match &self.node {
            Some(node) if !self.byzantine => common::processed_height(node).await,
            // The run waits for the honest validators only (a mock follows no chain, and a
            // blocked validator cannot).
            _ => u64::MAX,
        }
    }
}

/// The relay channel's quota: what `equa node` allows each peer (see `run`).
fn relay_quota() -> Quota {
    Quota::per_second(NZU32!(400))
}

impl EngineDefinition for Sim {
    type PublicKey = ed25519::PublicKey;
    type Engine = Handle<()>;
    type State = Validator;

    fn participants(&self) -> Vec<ed25519::PublicKey> {
        self.keys.iter().map(|key| key.public_key()).collect()
    }

    fn channels(&self) -> Vec<(u64, Quota)> {
        let mut channels = common::consensus_channels();
        channels.push((node::relay::CHANNEL, relay_quota()));
        channels
    }

    fn max_message_size(&self) -> u32 {
        engine::max_message_size(self.keys.len() as u32)
    }

    async fn init(&self, init: InitContext<'_, ed25519::PublicKey>) -> (Handle<()>, Validator) {
        let InitContext {
            context,
            index,
            public_key,
            oracle,
            mut channels,
            participants,
            monitor,
            ..
        } = init;
        *self.oracle.lock().unwrap() = Some(oracle.clone());
        let byzantine = self.byzantine.contains(&index);
        let scheme = common::signer(participants, &self.keys[index]);
        let relay_channel = channels
            .pop()
            .expect("the relay channel is registered last");
        let mut validator = Validator {
            index,
            public_key: public_key.clone(),
            byzantine,
            node: None,
            pool: None,
        };
        if byzantine && !self.misbehaviour.runs_a_node() {
            let mut channels = channels.into_iter();
            let votes = channels.next().expect("votes");
            let certificates = channels.next().expect("certificates");
            let context = context.child("byzantine");
            let handle = match self.misbehaviour {
                Misbehaviour::Conflicter => conflicter::Conflicter::<_, _, Sha256>::new(
                    context,
                    conflicter::Config { scheme },
                )
                .start(votes),
                Misbehaviour::CorruptSignatures => conflicter::Conflicter::<_, _, Sha256>::new(
                    context,
                    conflicter::Config {
                        scheme: wrapped::Scheme::new(scheme, Behavior::CorruptSignature),
                    },
                )
                .start(votes),
                Misbehaviour::Equivocator => equivocator::Equivocator::<_, _, _, Sha256>::new(
                    context,
                    equivocator::Config {
                        scheme,
                        elector: RoundRobin::<Sha256>::default(),
                        epoch: Epoch::zero(),
                        relay: Arc::new(relay::Relay::new()),
                    },
                )
                .start(votes, certificates),
                Misbehaviour::Impersonator => impersonator::Impersonator::<_, _, Sha256>::new(
                    context,
                    impersonator::Config { scheme },
                )
                .start(votes),
                Misbehaviour::Nuller => {
                    nuller::Nuller::<_, _, Sha256>::new(context, nuller::Config { scheme })
                        .start(votes)
                }
                Misbehaviour::NullifyOnly => nullify_only::NullifyOnly::<_, _, Sha256>::new(
                    context,
                    nullify_only::Config { scheme },
                )
                .start(votes),
                Misbehaviour::Outdated => outdated::Outdated::<_, _, Sha256>::new(
                    context,
                    outdated::Config {
                        scheme,
                        view_delta: ViewDelta::new(5),
                    },
                )
                .start(votes),
                Misbehaviour::ForgedTransactions
                | Misbehaviour::UnaffordableTransactions
                | Misbehaviour::MalformedRelay
                | Misbehaviour::RelayFlood => unreachable!("runs a node"),
            };
            return (handle, validator);
        }
        let provider: node::Provider =
            if byzantine && self.misbehaviour == Misbehaviour::ForgedTransactions {
                Arc::new(ForgingTransfers {
                    proposals: self.forged_proposals.clone(),
                    ids: self.forged_ids.clone(),
                })
            } else {
                Arc::new(common::RandomTransfers)
            };
        if byzantine
            && matches!(
                self.misbehaviour,
                Misbehaviour::MalformedRelay | Misbehaviour::RelayFlood
            )
        {
            spam_the_relay(
                context.child("spammer"),
                relay_channel,
                self.misbehaviour == Misbehaviour::MalformedRelay,
                self.spam_attempts.clone(),
                self.spam_sent.clone(),
            );
        } else {
            let pool = Mempool::new(
                MempoolConfig::default(),
                Arc::new(common::genesis_store(common::ACCOUNTS)),
                0,
            );
            let blocker = oracle.control(public_key.clone());
            node::relay::start(
                context.child("relay"),
                relay_channel,
                pool.clone(),
                blocker,
                None,
            );
            validator.pool = Some(pool);
        }
        let mut app = App::new(
            common::genesis_store(common::ACCOUNTS),
            0,
            AppConfig {
                audit_finalized: true,
                ..AppConfig::default()
            },
        );
        if byzantine && self.misbehaviour == Misbehaviour::UnaffordableTransactions {
            let proposals = self.forged_proposals.clone();
            let ids = self.forged_ids.clone();
            app = app.with_proposal_tampering(ProposalTampering(Arc::new(
                move |parent: &MemoryStore, context: &BlockContext| {
                    let tx = unaffordable(parent, context);
                    ids.lock().unwrap().push(tx.id());
                    proposals.fetch_add(1, Ordering::Relaxed);
                    vec![tx]
                },
            )));
        }
        let config = NodeConfig {
            partition_prefix: format!("validator-{index}"),
            scheme,
            app,
            provider,
            retained_blocks: Some(100_000),
            tuning: engine::Tuning {
                page_cache_pages: NZUsize!(64),
                ..engine::Tuning::default()
            },
        };
        let (handle, node) =
            common::start_validator(context, public_key, oracle, channels, monitor, config).await;
        validator.node = Some(node);
        (handle, validator)
    }

    fn start(engine: Handle<()>) -> Handle<()> {
        engine
    }
}

/// `RandomTransfers`, plus a transfer from account 0 to the leader's account that account 0
/// never signed (account 1 signed it). The source claims to have verified every
/// signature, so the leader's own execution skips the check and its proposal carries the forgery.
#[derive(Debug)]
struct ForgingTransfers {
    proposals: Arc<AtomicU64>,
    ids: Arc<Mutex<Vec<types::TxId>>>,
}

impl TransactionSource for ForgingTransfers {
    fn select(
        &self,
        parent: &MemoryStore,
        context: &BlockContext,
        limit: usize,
    ) -> Vec<SignedTransaction> {
        let mut txs = common::RandomTransfers.select(parent, context, limit.saturating_sub(1));
        let victim = testing::account(0);
        let body = types::Transaction {
            chain_id: state::chain_id(parent),
            signer: victim,
            nonce: state::nonce(parent, &victim),
            fee: 1_000_000,
            expires_at_height: context.height + 100,
            call: types::Call::Bank(types::bank::BankCall::Transfer(types::bank::Transfer {
                to: context.proposer,
                asset: types::AssetId::NATIVE,
                amount: 1_000_000_000,
            })),
        };
        let forged = SignedTransaction::sign(body, &testing::key(1));
        // The forgery goes first, so that it spends the victim's next nonce.
        txs.retain(|tx| tx.tx().signer != victim);
        txs.insert(0, forged.clone());
        self.ids.lock().unwrap().push(forged.id());
        self.proposals.fetch_add(1, Ordering::Relaxed);
        txs
    }

    fn signatures_known_valid(&self, txs: &[SignedTransaction]) -> Vec<bool> {
        vec![true; txs.len()]
    }
}

/// A transfer from an account that holds nothing, paying the scheduled fee it cannot pay.
fn unaffordable(parent: &MemoryStore, context: &BlockContext) -> SignedTransaction {
    let pauper = common::ACCOUNTS + 100;
    let body = |fee| types::Transaction {
        chain_id: state::chain_id(parent),
        signer: testing::account(pauper),
        nonce: 0,
        fee,
        expires_at_height: context.height + 100,
        call: types::Call::Bank(types::bank::BankCall::Transfer(types::bank::Transfer {
            to: context.proposer,
            asset: types::AssetId::NATIVE,
            amount: 1,
        })),
    };
    let size = SignedTransaction::sign(body(0), &testing::key(pauper)).size();
    let fee = state::params(parent)
        .required_fee("bank.transfer", size)
        .expect("fee fits");
    SignedTransaction::sign(body(fee), &testing::key(pauper))
}

/// Every millisecond, sends to every peer either (`malformed`) bytes that are no batch or a batch
/// of more transactions than a batch may hold, in turn, or a well-formed batch of 16
/// transactions with forged signatures. The simulated network drops what exceeds the relay
/// quota, as a receiving node would.
fn spam_the_relay(
    context: deterministic::Context,
    (mut sender, _receiver): common::ChannelPair,
    malformed: bool,
    attempts: Arc<AtomicU64>,
    sent: Arc<AtomicU64>,
) {
    context.spawn(move |context| async move {
        let genesis = common::genesis_store(common::ACCOUNTS);
        let forged: Vec<SignedTransaction> = (0..16)
            .map(|nonce| {
                let body = types::Transaction {
                    chain_id: state::chain_id(&genesis),
                    signer: testing::account(2),
                    nonce,
                    fee: 1_000_000,
                    expires_at_height: 1_000,
                    call: types::Call::Bank(types::bank::BankCall::Transfer(
                        types::bank::Transfer {
                            to: testing::account(3),
                            asset: types::AssetId::NATIVE,
                            amount: 1,
                        },
                    )),
                };
                SignedTransaction::sign(body, &testing::key(3))
            })
            .collect();
        let well_formed = node::relay::encode(&forged);
        let too_many = node::relay::encode(&vec![forged[0].clone(); node::relay::MAX_BATCH + 1]);
        let garbage: Vec<u8> = (0..=255u8).cycle().take(4_096).collect();
        let messages = if malformed {
            vec![garbage, too_many]
        } else {
            vec![well_formed]
        };
        for round in 0usize.. {
            let message = messages[round % messages.len()].clone();
            attempts.fetch_add(1, Ordering::Relaxed);
            if !sender.send(Recipients::All, message, false).is_empty() {
                sent.fetch_add(1, Ordering::Relaxed);
            }
            context.sleep(Duration::from_millis(1)).await;
        }
    });
}

/// What the checks saw at the end of a run.
#[derive(Clone, Debug, Default)]
struct Seen {
    /// The state root every honest validator holds at [`HEIGHT`].
    root: Option<Digest>,
    /// (blocker, blocked) pairs on the simulated network.
    blocked: Vec<(ed25519::PublicKey, ed25519::PublicKey)>,
    /// Per honest validator: the faults it recorded, by validator.
    faults: Vec<BTreeMap<ed25519::PublicKey, u64>>,
    /// Per honest validator: how many finalized blocks (1..=HEIGHT) the byzantine validators
    /// proposed.
    byzantine_blocks: Vec<u64>,
    /// Per honest validator: how many finalized transactions are forged.
    forged_finalized: Vec<u64>,
    /// Per honest validator: transactions in its relay pool.
    pool_sizes: Vec<usize>,
}

#[derive(Clone)]
struct Checks {
    sim: Sim,
    seen: Arc<Mutex<Seen>>,
}

impl Property<ed25519::PublicKey, Validator> for Checks {
    fn name(&self) -> &str {
        "byzantine_checks"
    }

    fn check<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a Validator],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let mut seen = Seen::default();
            let forged_ids = self.sim.forged_ids.lock().unwrap().clone();
            let byzantine_accounts: Vec<AccountId> = states
                .iter()
                .filter(|validator| validator.byzantine)
                .map(|validator| AccountId::from_public_key(&validator.public_key))
                .collect();
            for validator in states.iter().filter(|validator| !validator.byzantine) {
                let index = validator.index;
                let node = validator
                    .node
                    .as_ref()
                    .expect("honest validators run a node");
                let block = node
                    .marshal
                    .get_block(Identifier::Height(Height::new(HEIGHT)))
                    .await
                    .ok_or_else(|| format!("validator {index} has no block at {HEIGHT}"))?;
                let root = block.inner().state_root;
                if *seen.root.get_or_insert(root) != root {
                    return Err(format!("validator {index} disagrees at height {HEIGHT}"));
                }
                let failures = node.app.audit_failures();
                if !failures.is_empty() {
                    return Err(format!("validator {index}: {failures:?}"));
                }
                let finalized = node
                    .app
                    .finalized()
                    .ok_or_else(|| format!("validator {index} finalized nothing"))?;
                audit::check_conservation(&finalized.store)
                    .map_err(|error| format!("validator {index}: {error}"))?;
                let mut byzantine_blocks = 0;
                let mut forged_finalized = 0;
                for height in 1..=HEIGHT {
                    let block = node
                        .app
                        .block(height)
                        .ok_or_else(|| format!("validator {index} lacks block {height}"))?;
                    if byzantine_accounts.contains(&block.proposer) {
                        byzantine_blocks += 1;
                    }
                    forged_finalized += block
                        .tx_ids
                        .iter()
                        .filter(|id| forged_ids.contains(id))
                        .count() as u64;
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
                seen.byzantine_blocks.push(byzantine_blocks);
                seen.forged_finalized.push(forged_finalized);
                seen.faults.push(node.faults.all());
                if let Some(pool) = &validator.pool {
                    seen.pool_sizes.push(pool.len());
                }
            }
            let oracle = self.sim.oracle.lock().unwrap().clone();
            if let Some(oracle) = oracle {
                seen.blocked = oracle
                    .blocked()
                    .await
                    .map_err(|error| format!("ask the network whom it blocked: {error}"))?;
            }
            *self.seen.lock().unwrap() = seen;
            Ok(())
        })
    }
}

/// The seeds of a scenario: `default`, or `0..n` with `EQUA_BYZ_SEEDS=<n>`.
fn seeds(default: &[u64]) -> Vec<u64> {
    common::seeds_or_count(default, "EQUA_BYZ_SEEDS")
}

/// Runs `sim` with `seed` until every honest validator has processed [`HEIGHT`] (within
/// [`PROGRESS_BOUND`]), and returns what the checks saw.
fn run(sim: Sim, seed: u64) -> (Sim, Seen) {
    let checks = Checks {
        sim: sim.clone(),
        seen: Arc::default(),
    };
    let misbehaviour = sim.misbehaviour;
    PlanBuilder::new(sim.clone())
        .seed(seed)
        .exit_condition(ProcessedHeightAtLeast::new(HEIGHT))
        .timeout(PROGRESS_BOUND)
        .property(checks.clone())
        .run()
        .unwrap_or_else(|error| panic!("{misbehaviour:?}, seed {seed}: {error}"));
    let seen = checks.seen.lock().unwrap().clone();
    let honest = sim.keys.len() - sim.byzantine.len();
    assert_eq!(
        seen.faults.len(),
        honest,
        "{misbehaviour:?}, seed {seed}: every honest validator was checked"
    );
    (sim, seen)
}

fn byzantine_keys(sim: &Sim) -> Vec<ed25519::PublicKey> {
    sim.byzantine
        .iter()
        .map(|index| sim.keys[*index].public_key())
        .collect()
}

/// No honest validator is blocked by anyone, and no honest validator recorded a fault of an
/// honest one.
fn assert_only_byzantine_blamed(sim: &Sim, seen: &Seen, context: &str) {
    let byzantine = byzantine_keys(sim);
    for (blocker, blocked) in &seen.blocked {
        assert!(
            byzantine.contains(blocked),
            "{context}: {blocker:?} blocked honest {blocked:?}"
        );
    }
    for faults in &seen.faults {
        for validator in faults.keys() {
            assert!(
                byzantine.contains(validator),
                "{context}: a fault of honest {validator:?} was recorded"
            );
        }
    }
}

/// Every honest validator blocked every byzantine one.
fn assert_byzantine_blocked_by_all(sim: &Sim, seen: &Seen, context: &str) {
    let byzantine = byzantine_keys(sim);
    for (index, key) in sim.keys.iter().enumerate() {
        if sim.byzantine.contains(&index) {
            continue;
        }
        let honest = key.public_key();
        for bad in &byzantine {
            assert!(
                seen.blocked.contains(&(honest.clone(), bad.clone())),
                "{context}: validator {index} did not block {bad:?}; blocked: {:?}",
                seen.blocked
            );
        }
    }
}

/// Runs a consensus misbehaviour of validator 0 of four with each seed.
fn consensus_scenario(
    misbehaviour: Misbehaviour,
    default_seeds: &[u64],
    check: impl Fn(&Sim, &Seen, &str),
) {
    for seed in seeds(default_seeds) {
        let context = format!("{misbehaviour:?}, seed {seed}");
        let (sim, seen) = run(Sim::new(4, vec![0], misbehaviour), seed);
        assert_only_byzantine_blamed(&sim, &seen, &context);
        check(&sim, &seen, &context);
    }
}

/// Every honest validator blocks the byzantine one, and the contradictory votes are recorded as
/// verified faults of it. (A validator that saw the contradiction before it kept the first vote
/// blocks the sender without evidence, so not every validator need record one.)
fn faults_recorded_and_blocked(sim: &Sim, seen: &Seen, context: &str) {
    for bad in byzantine_keys(sim) {
        let recorded: u64 = seen
            .faults
            .iter()
            .map(|faults| faults.get(&bad).copied().unwrap_or(0))
            .sum();
        assert!(
            recorded > 0,
            "{context}: no fault of {bad:?} was recorded: {:?}",
            seen.faults
        );
    }
    assert_byzantine_blocked_by_all(sim, seen, context);
}

/// Nothing the byzantine validator sent is evidence against it, so no fault is recorded.
fn no_faults_recorded(_sim: &Sim, seen: &Seen, context: &str) {
    for faults in &seen.faults {
        assert!(faults.is_empty(), "{context}: faults recorded: {faults:?}");
    }
}

#[test]
fn conflicting_votes_are_reported_and_their_sender_blocked() {
    consensus_scenario(
        Misbehaviour::Conflicter,
        &[0, 1, 2, 3, 4, 5],
        faults_recorded_and_blocked,
    );
}

#[test]
fn nullify_and_finalize_in_one_view_is_reported_and_its_sender_blocked() {
    consensus_scenario(
        Misbehaviour::Nuller,
        &[0, 1, 2, 3, 4, 5],
        faults_recorded_and_blocked,
    );
}

/// Votes signed under another validator's index come from a peer that is not their signer: the
/// peer is blocked, and since they prove nothing against the named validator, no fault is
/// recorded.
#[test]
fn votes_under_another_validators_name_get_their_sender_blocked() {
    consensus_scenario(
        Misbehaviour::Impersonator,
        &[0, 1, 2, 3, 4, 5],
        |sim, seen, context| {
            no_faults_recorded(sim, seen, context);
            assert_byzantine_blocked_by_all(sim, seen, context);
        },
    );
}

/// Conflicting votes whose signatures do not verify get their sender blocked, but are no
/// evidence: no fault is recorded.
#[test]
fn votes_with_corrupt_signatures_get_their_sender_blocked() {
    consensus_scenario(
        Misbehaviour::CorruptSignatures,
        &[0, 1, 2, 3, 4, 5],
        |sim, seen, context| {
            no_faults_recorded(sim, seen, context);
            assert_byzantine_blocked_by_all(sim, seen, context);
        },
    );
}

/// A leader proposing different payloads to different validators gets none of them finalized
/// (no validator has the block behind either payload), and the others carry on.
#[test]
fn an_equivocating_leader_finalizes_nothing() {
    consensus_scenario(
        Misbehaviour::Equivocator,
        &[0, 1, 2, 3, 4, 5],
        |_sim, seen, context| {
            for blocks in &seen.byzantine_blocks {
                assert_eq!(*blocks, 0, "{context}: a byzantine block was finalized");
            }
        },
    );
}

/// A validator that only ever nullifies (never votes for a block) slows the chain to the
/// honest quorum's pace but breaks nothing, and is not evidence of a fault.
#[test]
fn a_validator_that_only_nullifies_is_outvoted() {
    consensus_scenario(
        Misbehaviour::NullifyOnly,
        &[0, 1, 2, 3, 4, 5],
        no_faults_recorded,
    );
}

/// Votes for views long past are ignored.
#[test]
fn votes_for_old_views_are_ignored() {
    consensus_scenario(
        Misbehaviour::Outdated,
        &[0, 1, 2, 3, 4, 5],
        no_faults_recorded,
    );
}

/// With seven validators, two (the most BFT tolerates) send conflicting votes: both are
/// reported and blocked by every honest validator, which keep finalizing.
#[test]
fn two_conflicters_of_seven_are_reported_and_blocked() {
    // Seven validators cost several times four per simulated second: two seeds here, more with
    // `EQUA_BYZ_SEEDS`.
    for seed in seeds(&[0, 1]) {
        let context = format!("two conflicters of seven, seed {seed}");
        let (sim, seen) = run(Sim::new(7, vec![0, 3], Misbehaviour::Conflicter), seed);
        assert_only_byzantine_blamed(&sim, &seen, &context);
        faults_recorded_and_blocked(&sim, &seen, &context);
    }
}

/// A leader whose blocks carry a transfer its signer never signed: honest validators check the
/// signature themselves and refuse the block, so no block that leader proposed is finalized
/// and the forged transfer never is.
#[test]
fn a_leader_forging_a_transfer_gets_no_block_finalized() {
    for seed in seeds(&[0, 1, 2, 3, 4, 5]) {
        let context = format!("forging leader, seed {seed}");
        let (sim, seen) = run(Sim::new(4, vec![0], Misbehaviour::ForgedTransactions), seed);
        assert!(
            sim.forged_proposals.load(Ordering::Relaxed) > 0,
            "{context}: the forging leader proposed"
        );
        for (blocks, forged) in seen.byzantine_blocks.iter().zip(&seen.forged_finalized) {
            assert_eq!(*forged, 0, "{context}: a forged transfer was finalized");
            assert_eq!(
                *blocks, 0,
                "{context}: a forging leader's block was finalized"
            );
        }
        assert_only_byzantine_blamed(&sim, &seen, &context);
    }
}

/// A leader that adds to each of its blocks, after executing it, a transfer whose signer cannot
/// pay the fee: honest validators execute the block themselves and refuse it, so no block of
/// that leader is finalized and neither is the transfer.
#[test]
fn a_leader_adding_an_unaffordable_transfer_gets_no_block_finalized() {
    for seed in seeds(&[0, 1, 2, 3]) {
        let context = format!("unaffordable transfers, seed {seed}");
        let (sim, seen) = run(
            Sim::new(4, vec![0], Misbehaviour::UnaffordableTransactions),
            seed,
        );
        assert!(
            sim.forged_proposals.load(Ordering::Relaxed) > 0,
            "{context}: the tampering leader proposed"
        );
        for (blocks, unaffordable) in seen.byzantine_blocks.iter().zip(&seen.forged_finalized) {
            assert_eq!(
                *unaffordable, 0,
                "{context}: an unaffordable transfer was finalized"
            );
            assert_eq!(
                *blocks, 0,
                "{context}: a tampering leader's block was finalized"
            );
        }
        assert_only_byzantine_blamed(&sim, &seen, &context);
    }
}

/// A peer sending malformed or oversized relay batches is blocked by every honest validator,
/// and the chain keeps finalizing.
#[test]
fn a_peer_sending_malformed_relay_batches_is_blocked() {
    for seed in seeds(&[0, 1, 2, 3, 4, 5]) {
        let context = format!("malformed relay batches, seed {seed}");
        let (sim, seen) = run(Sim::new(4, vec![3], Misbehaviour::MalformedRelay), seed);
        assert!(
            sim.spam_sent.load(Ordering::Relaxed) > 0,
            "{context}: the spammer got messages out"
        );
        assert_byzantine_blocked_by_all(&sim, &seen, &context);
        assert_only_byzantine_blamed(&sim, &seen, &context);
    }
}

/// A peer flooding the relay channel with well-formed batches of forged transactions is rate
/// limited by the channel's quota (its batches are well-formed, so it is not blocked), none of
/// its transactions reaches a pool, and the chain keeps finalizing.
#[test]
fn a_peer_flooding_the_relay_is_rate_limited_and_the_chain_keeps_finalizing() {
    for seed in seeds(&[0, 1, 2, 3]) {
        let context = format!("relay flood, seed {seed}");
        let (sim, seen) = run(Sim::new(4, vec![3], Misbehaviour::RelayFlood), seed);
        let sent = sim.spam_sent.load(Ordering::Relaxed);
        let attempts = sim.spam_attempts.load(Ordering::Relaxed);
        assert!(sent > 0, "{context}: the flood got messages out");
        // One offered a millisecond; the quota lets a burst of 400 through, then 400 a second.
        assert!(
            sent < attempts && sent <= 400 + attempts * 2 / 5 + 1,
            "{context}: {sent} of {attempts} flood messages went out"
        );
        assert!(seen.blocked.is_empty(), "{context}: {:?}", seen.blocked);
        assert_eq!(seen.pool_sizes.len(), 3, "{context}");
        for size in &seen.pool_sizes {
            assert_eq!(*size, 0, "{context}: a forged transaction reached a pool");
        }
        assert_only_byzantine_blamed(&sim, &seen, &context);
    }
}
