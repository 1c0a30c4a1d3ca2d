//! Committees that change by staking, on the deterministic runtime and simulated network, with
//! the real node wiring: four genesis validators, and a fifth node nobody lists.
//!
//! The chain's own transactions drive it: in its first blocks the newcomer's owner registers it
//! as a validator candidate with a key proof, and from epoch [`LEAVE_EPOCH`] one genesis
//! validator unbonds. Peers admit the newcomer once it is a candidate, the ledger elects it,
//! glue's reshare gives it a share, and it leads blocks; the one that left stops leading when
//! its last committee has handed over, and then stops for good. Another validator crashes on an
//! epoch's last block and restarts after the boundary. Throughout, every block is led by a
//! member of the committee the ledger fixed for its epoch, every node holds the same blocks,
//! and conservation holds after every finalized block (`audit_finalized`).
//!
//! Set `EQUA_SIM_SEED=<n>` to run only seed `n`, or `EQUA_STAKING_SEEDS=<n>` for seeds `0..n`.

mod common;

use commonware_consensus::{marshal::Identifier, types::Height};
use commonware_cryptography::{Digestible as _, Signer, ed25519};
use commonware_p2p::{
    Manager as _,
    simulated::{self, Link, Network, Oracle},
};
use commonware_runtime::{Clock, Handle, Runner as _, Supervisor as _, deterministic};
use commonware_utils::{NZU64, NZUsize, ordered::Set, probability};
use ledger::{BlockContext, MemoryStore, staking, state, testing};
use node::{
    App, AppConfig, TransactionSource,
    engine::{self, NodeConfig, NodeState, StateSync},
};
use std::{sync::Arc, time::Duration};
use types::{
    AccountId, Call, SignedTransaction, Text, Transaction,
    market::Nothing,
    staking::{KeyProof, RegisterValidator, StakingCall},
};

const VALIDATORS: u64 = 4;
/// The least the rules allow for five seats (four blocks a seat).
const EPOCH_BLOCKS: u64 = 20;
/// Accounts `0..8` send the random transfers; validator `i` belongs to account `OWNER + i`.
const OWNER: u64 = common::ACCOUNTS;
/// The account that registers the newcomer.
const NEWCOMER_OWNER: u64 = OWNER + VALIDATORS;
/// The genesis validator that unbonds, and the epoch from which it does.
const LEAVER: u64 = 3;
const LEAVE_EPOCH: u64 = 5;
/// The validator that crashes on the last block of [`CRASH_EPOCH`].
const CRASHER: usize = 1;
const CRASH_EPOCH: u64 = 6;
/// The run ends a few blocks into this epoch.
const END_EPOCH: u64 = 12;

const SEEDS: [u64; 2] = [0, 1];

fn newcomer_key() -> ed25519::PrivateKey {
    ed25519::PrivateKey::from_seed(3_000)
}

/// A full node that joins late, admitted by every validator as a follower.
/// The `k`th validator of [`Scenario::Turnover`], registered by account `SUCCESSOR_OWNER + k`.
fn successor_key(k: u64) -> ed25519::PrivateKey {
    ed25519::PrivateKey::from_seed(3_100 + k)
}

/// The account that registers the first successor.
const SUCCESSOR_OWNER: u64 = NEWCOMER_OWNER + 1;

/// [`Scenario::Turnover`]'s staking call: the registration of the first successor whose epoch
/// has come and whom the parent state does not hold.
fn successor_call(parent: &MemoryStore, context: &BlockContext) -> Option<(u64, StakingCall)> {
    let epoch = staking::params::load(parent).epoch_of(context.height);
    let chain_id = state::chain_id(parent);
    (0..VALIDATORS.min(epoch + 1)).find_map(|k| {
        let owner = testing::account(SUCCESSOR_OWNER + k);
        staking::Db::validator(parent, &owner).is_none().then(|| {
            let key = successor_key(k);
            (
                SUCCESSOR_OWNER + k,
                StakingCall::Register(RegisterValidator {
                    node_key: node_account(&key.public_key()),
                    address: Text::new(format!("127.0.0.1:{}", 10_010 + k)).expect("short"),
                    bond: 600 * 10u128.pow(9),
                    key_proof: KeyProof::sign(&key, &chain_id, &owner),
                }),
            )
        })
    })
}

fn joiner_key() -> ed25519::PrivateKey {
    ed25519::PrivateKey::from_seed(3_001)
}

fn node_account(key: &ed25519::PublicKey) -> AccountId {
    AccountId::from_public_key(key)
}

/// What a simulation's chain holds at genesis and which staking calls its leaders add.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    /// Five seats and the four validators registered with 500 EQA; the newcomer registers in
    /// the first blocks and the leaver unbonds from [`LEAVE_EPOCH`].
    Rotation,
    /// Four seats, the four validators registered with 500 EQA and the newcomer with 400 at
    /// genesis, as a spare the committee does not seat; no staking calls.
    Spare,
    /// Four seats and the four validators registered with 500 EQA; in each epoch `k` of the
    /// first four, [`successor_key`]`(k)` registers with 600, taking the seat of one genesis
    /// validator in the committee fixed at the next epoch's first block.
    Turnover,
}

impl Scenario {
    /// The ledger state at genesis, with epochs of [`EPOCH_BLOCKS`].
    fn genesis_store(self) -> MemoryStore {
        let seats = match self {
            Self::Rotation => 5,
            Self::Spare | Self::Turnover => 4,
        };
        let accounts = match self {
            Self::Turnover => SUCCESSOR_OWNER + VALIDATORS,
            Self::Rotation | Self::Spare => NEWCOMER_OWNER + 1,
        };
        let mut text = testing::staking_genesis_text(
            &format!(
                "min_bond = \"100\"\nunbonding_secs = 60\ncommittee_size = {seats}\n\
                 blocks_per_epoch = {EPOCH_BLOCKS}"
            ),
            accounts,
        );
        for index in 0..VALIDATORS {
            text.push_str(&testing::validator_entry(
                OWNER + index,
                &node_account(&common::validator_key(index).public_key()),
                &format!("127.0.0.1:{}", 10_000 + index),
                "500",
            ));
        }
        if self == Self::Spare {
            text.push_str(&testing::validator_entry(
                NEWCOMER_OWNER,
                &node_account(&newcomer_key().public_key()),
                "127.0.0.1:10004",
                "400",
            ));
        }
        let mut genesis = ledger::Genesis::from_toml(&text).expect("a valid genesis");
        // The deterministic runtime's clock starts at the Unix epoch.
        genesis.genesis_time_ms = 0;
        let mut store = MemoryStore::new();
        genesis.initialize(&mut store);
        store
    }
}

/// The staking call a block's leader adds to the random transfers, if any: the newcomer's
/// registration until the parent state holds it, then the leaver's unbonding from
/// [`LEAVE_EPOCH`] until the parent state shows it. Reading the parent state makes the script
/// repeat a call whose block was not finalized and never send one twice.
fn staking_call(parent: &MemoryStore, context: &BlockContext) -> Option<(u64, StakingCall)> {
    let params = staking::params::load(parent);
    let newcomer = testing::account(NEWCOMER_OWNER);
    if staking::Db::validator(parent, &newcomer).is_none() {
        let chain_id = state::chain_id(parent);
        return Some((
            NEWCOMER_OWNER,
            StakingCall::Register(RegisterValidator {
                node_key: node_account(&newcomer_key().public_key()),
                address: Text::new("127.0.0.1:10004").expect("short"),
                bond: 600 * 10u128.pow(9),
                key_proof: KeyProof::sign(&newcomer_key(), &chain_id, &newcomer),
            }),
        ));
    }
    let leaver = staking::Db::validator(parent, &testing::account(OWNER + LEAVER))?;
    (params.epoch_of(context.height) >= LEAVE_EPOCH && leaver.unbonding.is_none())
        .then_some((OWNER + LEAVER, StakingCall::Unbond(Nothing)))
}

/// Random transfers, with the scenario's staking call first.
#[derive(Debug)]
struct Script(Scenario);

impl TransactionSource for Script {
    fn select(
        &self,
        parent: &MemoryStore,
        context: &BlockContext,
        limit: usize,
    ) -> Vec<SignedTransaction> {
        let mut txs = Vec::new();
        let call = match self.0 {
            Scenario::Rotation => staking_call(parent, context),
            Scenario::Spare => None,
            Scenario::Turnover => successor_call(parent, context),
        };
        if limit > 0
            && let Some((signer, call)) = call
        {
            let account = testing::account(signer);
            txs.push(SignedTransaction::sign(
                Transaction {
                    chain_id: state::chain_id(parent),
                    signer: account,
                    nonce: state::nonce(parent, &account),
                    // The genesis sets no fees.
                    fee: 0,
                    expires_at_height: context.height + 100,
                    call: Call::Staking(call),
                },
                &testing::key(signer),
            ));
        }
        txs.extend(common::RandomTransfers.select(parent, context, limit - txs.len()));
        txs
    }
}

/// The deterministic runtime of one seed, with a generous bound on simulated time.
fn runner(seed: u64) -> deterministic::Runner {
    deterministic::Runner::new(
        deterministic::Config::new()
            .with_seed(seed)
            .with_timeout(Some(Duration::from_secs(1_800))),
    )
}

/// The validators' public keys, then the newcomer's.
fn with_newcomer(keys: &[ed25519::PrivateKey]) -> Vec<ed25519::PublicKey> {
    keys.iter()
        .map(|key| key.public_key())
        .chain([newcomer_key().public_key()])
        .collect()
}

type SimOracle = Oracle<ed25519::PublicKey, deterministic::Context>;

fn node_config(prefix: String, key: &ed25519::PrivateKey) -> NodeConfig {
    scenario_config(Scenario::Rotation, prefix, key)
}

fn scenario_config(scenario: Scenario, prefix: String, key: &ed25519::PrivateKey) -> NodeConfig {
    let participants: Vec<_> = common::validator_keys(VALIDATORS)
        .iter()
        .map(|key| key.public_key())
        .collect();
    NodeConfig {
        partition_prefix: prefix,
        scheme: if participants.contains(&key.public_key()) {
            common::signer(&participants, key)
        } else {
            common::verifier(&participants)
        },
        consensus_key: common::consensus_key(&participants).0,
        signer: key.clone(),
        blocks_per_epoch: NZU64!(EPOCH_BLOCKS),
        // Nobody lists the newcomer: peers admit it as a registered candidate. The late
        // joiner is listed.
        followers: Set::from_iter_dedup([joiner_key().public_key()]),
        app: App::new(
            scenario.genesis_store(),
            0,
            AppConfig {
                audit_finalized: true,
                ..AppConfig::default()
            },
        ),
        provider: Arc::new(Script(scenario)),
        // Every block stays, for the comparison at the end.
        retained_blocks: Some(10_000),
        state_sync: StateSync::default(),
        tuning: engine::Tuning {
            page_cache_pages: NZUsize!(64),
            ..engine::Tuning::default()
        },
    }
}

struct Sim {
    context: deterministic::Context,
    oracle: SimOracle,
    scenario: Scenario,
}

impl Sim {
    /// A simulated network linking every one of `everyone` to the others (10 ms, 5 ms of
    /// jitter, no loss), with `admitted` as peer set 0.
    async fn start(
        context: &deterministic::Context,
        everyone: &[ed25519::PublicKey],
        admitted: &[ed25519::PublicKey],
    ) -> Self {
        let (network, oracle) = Network::new(
            context.child("network"),
            simulated::Config {
                max_size: engine::max_message_size(VALIDATORS as u32 + 1),
                max_peers_per_set: NZUsize!(16),
                disconnect_on_block: true,
                tracked_peer_sets: NZUsize!(3),
            },
        );
        network.start();
        oracle
            .manager()
            .track(0, Set::from_iter_dedup(admitted.iter().cloned()));
        let sim = Self {
            context: context.child("sim"),
            oracle,
            scenario: Scenario::Rotation,
        };
        for (index, from) in everyone.iter().enumerate() {
            for to in &everyone[index + 1..] {
                sim.link(from, to).await;
            }
        }
        sim
    }

    /// Links `a` and `b` both ways (10 ms, 5 ms of jitter, no loss).
    async fn link(&self, a: &ed25519::PublicKey, b: &ed25519::PublicKey) {
        let link = Link {
            latency: Duration::from_millis(10),
            jitter: Duration::from_millis(5),
            success_rate: probability!(1.0),
        };
        for (from, to) in [(a, b), (b, a)] {
            self.oracle
                .add_link(from.clone(), to.clone(), link.clone())
                .await
                .unwrap();
        }
    }

    async fn start_node(
        &self,
        key: &ed25519::PrivateKey,
        prefix: &str,
    ) -> (Handle<()>, NodeState<deterministic::Context>) {
        let config = scenario_config(self.scenario, prefix.to_string(), key);
        self.start_configured(key, prefix, config).await
    }

    async fn start_configured(
        &self,
        key: &ed25519::PrivateKey,
        prefix: &str,
        config: NodeConfig,
    ) -> (Handle<()>, NodeState<deterministic::Context>) {
        let control = self.oracle.control(key.public_key());
        let mut channels = Vec::new();
        for (id, quota) in common::consensus_channels() {
            channels.push(control.register(id, quota).await.unwrap());
        }
        let (monitor, _) = commonware_utils::channel::mpsc::unbounded_channel();
        common::start_validator(
            self.context.child("node").with_attribute("prefix", prefix),
            &key.public_key(),
            &self.oracle,
            channels,
            monitor,
            config,
        )
        .await
    }

    /// Starts a node for each of `keys`, on storage named after its index.
    async fn start_validators(
        &self,
        keys: &[ed25519::PrivateKey],
    ) -> (Vec<Handle<()>>, Vec<NodeState<deterministic::Context>>) {
        let mut handles = Vec::new();
        let mut nodes = Vec::new();
        for (index, key) in keys.iter().enumerate() {
            let (handle, node) = self.start_node(key, &format!("validator-{index}")).await;
            handles.push(handle);
            nodes.push(node);
        }
        (handles, nodes)
    }

    /// Waits until every node in `nodes` has processed `height`.
    async fn advance_to(&self, nodes: &[&NodeState<deterministic::Context>], height: u64) {
        for node in nodes {
            while common::processed_height(node).await < height {
                self.context.sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The genesis validators but the leaver, and the newcomer.
fn all_but_the_leaver<'a>(
    validators: &'a [NodeState<deterministic::Context>],
    newcomer: &'a NodeState<deterministic::Context>,
) -> Vec<&'a NodeState<deterministic::Context>> {
    validators
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != LEAVER as usize)
        .map(|(_, node)| node)
        .chain([newcomer])
        .collect()
}

/// Asserts that every finalized block checked out on every one of `nodes`.
fn no_audit_failures(nodes: &[&NodeState<deterministic::Context>], seed: u64) {
    for node in nodes {
        assert!(
            node.app.audit_failures().is_empty(),
            "seed {seed}: {:?}",
            node.app.audit_failures()
        );
    }
}

/// Blocks 1 to `end` as every one of `nodes` holds them, which must be the same blocks.
async fn same_blocks(
    nodes: &[&NodeState<deterministic::Context>],
    end: u64,
    seed: u64,
) -> Vec<node::Block> {
    let mut blocks = Vec::new();
    for height in 1..=end {
        let block = nodes[0]
            .marshal
            .get_block(Identifier::Height(Height::new(height)))
            .await
            .unwrap_or_else(|| panic!("seed {seed}: block {height}"));
        for node in &nodes[1..] {
            let theirs = node
                .marshal
                .get_block(Identifier::Height(Height::new(height)))
                .await
                .unwrap_or_else(|| panic!("seed {seed}: block {height} everywhere"));
            assert_eq!(
                theirs.digest(),
                block.digest(),
                "seed {seed}: block {height}"
            );
        }
        blocks.push(block.inner().clone());
    }
    blocks
}

/// Who may lead blocks of `epoch`: the genesis validators until the newcomer's committee
/// signs (epoch 4: registered in epoch 0, elected for epoch 3 by epoch 1's first block, it
/// receives its share in epoch 3), then with it, and without the leaver once its last
/// committee has signed (it unbonds in epoch 5, so the committee of epoch 8, fixed by epoch
/// 6's first block, leaves it out: it signs for the last time in epoch 8).
fn signers(epoch: u64) -> Vec<ed25519::PublicKey> {
    let mut keys: Vec<_> = (0..VALIDATORS)
        .filter(|index| epoch < LEAVE_EPOCH + 4 || *index != LEAVER)
        .map(|index| common::validator_key(index).public_key())
        .collect();
    if epoch >= 4 {
        keys.push(newcomer_key().public_key());
    }
    keys
}

#[test]
fn a_validator_joins_by_staking_another_leaves_and_a_crash_spans_a_boundary() {
    for seed in common::seeds_or_count(&SEEDS, "EQUA_STAKING_SEEDS") {
        runner(seed).start(|context| async move {
            let keys = common::validator_keys(VALIDATORS);
            let everyone = with_newcomer(&keys);
            // Peer set 0 holds the genesis validators only: the newcomer gets in by registering.
            let sim = Sim::start(&context, &everyone, &everyone[..VALIDATORS as usize]).await;
            let (mut handles, mut nodes) = sim.start_validators(&keys).await;
            let (_newcomer_handle, newcomer) = sim.start_node(&newcomer_key(), "newcomer").await;
            // Until a set that admits it is tracked (epoch 1's, with the candidates), nobody
            // talks to the newcomer: it has not even the first block.
            sim.advance_to(&[&nodes[0]], EPOCH_BLOCKS - 5).await;
            assert_eq!(
                common::processed_height(&newcomer).await,
                0,
                "seed {seed}: an unregistered node got blocks"
            );

            // The crasher stops on the last block of its epoch and starts again, on its own
            // storage, once the others have crossed the boundary.
            let last = (CRASH_EPOCH + 1) * EPOCH_BLOCKS - 1;
            sim.advance_to(&[&nodes[CRASHER]], last).await;
            handles[CRASHER].abort();
            let others: Vec<_> = (0..nodes.len())
                .filter(|index| *index != CRASHER)
                .map(|index| nodes[index].clone())
                .collect();
            sim.advance_to(&others.iter().collect::<Vec<_>>(), last + 5)
                .await;
            let (handle, restarted) = sim
                .start_node(&keys[CRASHER], &format!("validator-{CRASHER}"))
                .await;
            handles[CRASHER] = handle;
            nodes[CRASHER] = restarted;

            // The leaver stops once it no longer signs.
            let free = (LEAVE_EPOCH + 4) * EPOCH_BLOCKS;
            sim.advance_to(&[&nodes[0]], free + EPOCH_BLOCKS).await;
            handles[LEAVER as usize].abort();

            let end = END_EPOCH * EPOCH_BLOCKS + 5;
            let running = all_but_the_leaver(&nodes, &newcomer);
            sim.advance_to(&running, end).await;

            // Same blocks everywhere, each led by a member of its epoch's signers.
            let mut led_by_newcomer = 0;
            for (height, block) in (1..).zip(same_blocks(&running, end, seed).await) {
                let epoch = height / EPOCH_BLOCKS;
                let leader = &block.context.leader;
                assert!(
                    signers(epoch).contains(leader),
                    "seed {seed}: block {height} of epoch {epoch} led by {leader}, not a signer"
                );
                led_by_newcomer += usize::from(*leader == newcomer_key().public_key());
            }
            assert!(led_by_newcomer > 0, "seed {seed}: the newcomer led blocks");
            no_audit_failures(&running, seed);
            // The ledger agrees with what consensus did: the newcomer sits on the committees
            // still kept, the leaver on none of them.
            let finalized = running[0].app.finalized().expect("finalized");
            let epoch = finalized.height / EPOCH_BLOCKS;
            let committee = staking::epoch_committee(&*finalized.store, epoch).expect("kept");
            assert_eq!(committee.members.len(), 4, "seed {seed}");
            let seated: Vec<_> = committee.members.iter().map(|m| m.node_key).collect();
            assert!(seated.contains(&node_account(&newcomer_key().public_key())));
            assert!(!seated.contains(&node_account(&keys[LEAVER as usize].public_key())));
        });
    }
}

/// The whole committee rotates over several epochs: one successor registers in each of
/// epochs 0 to 3 and takes a genesis validator's seat three epochs later, so from epoch 7 only
/// successors sign. The genesis validators then stop, and the successors go on alone. The
/// chain key never changes: the checkpoint the successors serve at the end, a certificate of
/// their own epoch, verifies against the genesis key alone and names them as its committee.
#[test]
fn the_whole_committee_rotates_over_several_epochs() {
    for seed in common::seeds(&SEEDS) {
        runner(seed).start(|context| async move {
            let keys = common::validator_keys(VALIDATORS);
            let successors: Vec<_> = (0..VALIDATORS).map(successor_key).collect();
            let successor_keys: Vec<_> = successors.iter().map(|key| key.public_key()).collect();
            let everyone: Vec<_> = keys
                .iter()
                .map(|key| key.public_key())
                .chain(successor_keys.iter().cloned())
                .collect();
            let mut sim = Sim::start(&context, &everyone, &everyone[..VALIDATORS as usize]).await;
            sim.scenario = Scenario::Turnover;
            let (handles, nodes) = sim.start_validators(&keys).await;
            let mut successor_nodes = Vec::new();
            for (k, key) in successors.iter().enumerate() {
                let (handle, node) = sim.start_node(key, &format!("successor-{k}")).await;
                successor_nodes.push((handle, node));
            }
            // The last committee to seat a genesis validator is epoch 5's, which signs in epoch
            // 6: once epoch 7 has begun, the genesis validators are no longer needed.
            sim.advance_to(&[&nodes[0]], 7 * EPOCH_BLOCKS + 5).await;
            for handle in handles {
                handle.abort();
            }
            let running: Vec<_> = successor_nodes.iter().map(|(_, node)| node).collect();
            let end = 10 * EPOCH_BLOCKS + 5;
            sim.advance_to(&running, end).await;

            let mut led = vec![0; successor_keys.len()];
            for (height, block) in (1..).zip(same_blocks(&running, end, seed).await) {
                let leader = &block.context.leader;
                let successor = successor_keys.iter().position(|key| key == leader);
                if height / EPOCH_BLOCKS >= 7 {
                    assert!(
                        successor.is_some(),
                        "seed {seed}: block {height} led by {leader}, not a successor"
                    );
                }
                if let Some(k) = successor {
                    led[k] += 1;
                }
            }
            assert!(
                led.iter().all(|count| *count > 0),
                "seed {seed}: every successor leads blocks: {led:?}"
            );
            no_audit_failures(&running, seed);
            let participants: Vec<_> = keys.iter().map(|key| key.public_key()).collect();
            let identity = node::threshold::identity(&common::consensus_key(&participants).0);
            let view = node::checkpoint::current(
                &running[0].marshal,
                &running[0].app,
                NZU64!(EPOCH_BLOCKS),
                None,
            )
            .await
            .expect("a checkpoint");
            assert!(view.epoch >= 10, "seed {seed}: epoch {}", view.epoch);
            let info = node::checkpoint::verify(&view, &identity, NZU64!(EPOCH_BLOCKS))
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            let players: Vec<_> = info.output.players().iter().cloned().collect();
            let mut expected = successor_keys.clone();
            expected.sort();
            assert_eq!(players, expected, "seed {seed}");
        });
    }
}

/// A member that stops for good loses its seat to the spare candidate: it holds a share through
/// epochs 2 and 3 without proposing, so the first block of epoch 4 takes it off the candidates
/// (`silence_epochs` = 2), the committee fixed there (epoch 6) seats the spare, which receives
/// its share in epoch 6 and leads blocks from epoch 7. Its bond is untouched.
#[test]
fn a_member_that_stops_for_good_loses_its_seat_to_a_spare() {
    const SILENT: usize = 2;
    for seed in common::seeds(&SEEDS) {
        runner(seed).start(|context| async move {
            let keys = common::validator_keys(VALIDATORS);
            let everyone = with_newcomer(&keys);
            let mut sim = Sim::start(&context, &everyone, &everyone).await;
            sim.scenario = Scenario::Spare;
            let (handles, nodes) = sim.start_validators(&keys).await;
            let (_spare_handle, spare) = sim.start_node(&newcomer_key(), "spare").await;
            // It stops once it has processed epoch 1's final block, which names it a holder of
            // epoch 2.
            sim.advance_to(&[&nodes[SILENT]], 2 * EPOCH_BLOCKS - 1)
                .await;
            handles[SILENT].abort();
            let running: Vec<_> = nodes
                .iter()
                .enumerate()
                .filter(|(index, _)| *index != SILENT)
                .map(|(_, node)| node)
                .chain([&spare])
                .collect();
            let end = 8 * EPOCH_BLOCKS + 5;
            sim.advance_to(&running, end).await;

            let silent = node_account(&keys[SILENT].public_key());
            let spare_key = newcomer_key().public_key();
            let mut led_by_spare = 0;
            for (height, block) in (1..).zip(same_blocks(&running, end, seed).await) {
                let epoch = height / EPOCH_BLOCKS;
                let leader = &block.context.leader;
                if epoch >= 2 {
                    assert_ne!(
                        block.proposer, silent,
                        "seed {seed}: block {height} led by the stopped node"
                    );
                }
                if *leader == spare_key {
                    assert!(
                        epoch >= 7,
                        "seed {seed}: the spare led block {height} early"
                    );
                    led_by_spare += 1;
                }
            }
            assert!(led_by_spare > 0, "seed {seed}: the spare led no block");
            no_audit_failures(&running, seed);
            let finalized = running[0].app.finalized().expect("finalized");
            let record =
                staking::Db::validator(&*finalized.store, &testing::account(OWNER + SILENT as u64))
                    .expect("still registered: its bond waits out the delay");
            let unbonding = record.unbonding.expect("taken off the candidates");
            assert_eq!(
                unbonding.reason,
                staking::UnbondReason::Silent,
                "seed {seed}"
            );
            assert_eq!(unbonding.height, 4 * EPOCH_BLOCKS, "seed {seed}");
            assert_eq!(
                record.bond,
                500 * 10u128.pow(9),
                "seed {seed}: nothing burned"
            );
            assert_eq!(record.slashed, 0, "seed {seed}");
            let epoch = finalized.height / EPOCH_BLOCKS;
            let seated: Vec<_> = staking::epoch_committee(&*finalized.store, epoch)
                .expect("kept")
                .members
                .iter()
                .map(|m| m.node_key)
                .collect();
            assert!(seated.contains(&node_account(&spare_key)), "seed {seed}");
            assert!(!seated.contains(&silent), "seed {seed}");
        });
    }
}

/// Every validator stops just before an epoch's final block and starts again on its storage:
/// the final block needs the committee two epochs ahead, which each node reads from the ledger
/// state it read back at start (it has finalized nothing since), and the chain crosses the
/// boundary.
#[test]
fn every_validator_restarted_just_before_an_epochs_final_block_carries_on() {
    for seed in common::seeds(&SEEDS) {
        let config = deterministic::Config::new()
            .with_seed(seed)
            .with_timeout(Some(Duration::from_secs(600)));
        deterministic::Runner::new(config).start(|context| async move {
            let keys = common::validator_keys(VALIDATORS);
            let everyone: Vec<_> = keys.iter().map(|key| key.public_key()).collect();
            let sim = Sim::start(&context, &everyone, &everyone).await;
            let (mut handles, nodes) = sim.start_validators(&keys).await;
            // Stop everyone as soon as one has finalized the block before epoch 1's last.
            let before_last = 2 * EPOCH_BLOCKS - 2;
            'watch: loop {
                for node in &nodes {
                    if common::processed_height(node).await >= before_last {
                        break 'watch;
                    }
                }
                context.sleep(Duration::from_millis(1)).await;
            }
            for handle in &handles {
                handle.abort();
            }
            let mut stopped = Vec::new();
            for node in &nodes {
                stopped.push(common::processed_height(node).await);
            }
            assert!(
                stopped.iter().all(|height| *height < 2 * EPOCH_BLOCKS),
                "seed {seed}: stopped before the boundary ({stopped:?})"
            );
            let mut restarted = Vec::new();
            for (index, key) in keys.iter().enumerate() {
                let (handle, node) = sim.start_node(key, &format!("validator-{index}")).await;
                handles[index] = handle;
                restarted.push(node);
            }
            let end = 3 * EPOCH_BLOCKS + 5;
            sim.advance_to(&restarted.iter().collect::<Vec<_>>(), end)
                .await;
            let first = restarted[0]
                .marshal
                .get_block(Identifier::Height(Height::new(end)))
                .await
                .expect("block");
            for node in &restarted[1..] {
                let block = node
                    .marshal
                    .get_block(Identifier::Height(Height::new(end)))
                    .await
                    .expect("block");
                assert_eq!(block.digest(), first.digest(), "seed {seed}");
            }
            for node in &restarted {
                assert!(node.app.audit_failures().is_empty(), "seed {seed}");
            }
        });
    }
}

/// A member that sends a second, contradictory notarize after each of its own (both signed with
/// its node key, as every vote is): the first contradiction an honest validator receives
/// reaches a block, and every ledger burns 5% of its 500 EQA bond for epoch 0, bans its key and
/// starts its unbonding. Each honest peer blocks it at its first contradiction; a peer that
/// meets it later (the newcomer) may convict it for a later epoch, and the ledger then burns 5%
/// of what is left, once for each epoch and never twice for one. The newcomer registering in the first blocks takes its seat: the
/// committee of epoch 3, fixed by epoch 1's first block, leaves the slashed member out (a
/// committee never shrinks below four), so it signs nothing from epoch 4, and the others carry
/// the chain on without it.
#[test]
fn an_equivocating_member_is_slashed_once_an_epoch_and_leaves_the_committee() {
    const EQUIVOCATOR: usize = 2;
    const OUT_EPOCH: u64 = 4;
    const LAST_EPOCH: u64 = 5;
    for seed in common::seeds_or_count(&SEEDS, "EQUA_STAKING_SEEDS") {
        runner(seed).start(|context| async move {
            let keys = common::validator_keys(VALIDATORS);
            let everyone = with_newcomer(&keys);
            let sim = Sim::start(&context, &everyone, &everyone[..VALIDATORS as usize]).await;
            let mut honest = Vec::new();
            let mut handles = Vec::new();
            for (index, key) in keys.iter().enumerate() {
                let prefix = format!("validator-{index}");
                let mut config = node_config(prefix.clone(), key);
                if index == EQUIVOCATOR {
                    config.app = config.app.with_vote_equivocation();
                }
                let (handle, node) = sim.start_configured(key, &prefix, config).await;
                handles.push(handle);
                if index != EQUIVOCATOR {
                    honest.push(node);
                }
            }
            let (newcomer_handle, newcomer) = sim.start_node(&newcomer_key(), "newcomer").await;
            handles.push(newcomer_handle);
            honest.push(newcomer);
            let end = LAST_EPOCH * EPOCH_BLOCKS + 5;
            sim.advance_to(&honest.iter().collect::<Vec<_>>(), end)
                .await;

            let bad = &everyone[EQUIVOCATOR];
            let mut epochs = Vec::new();
            let mut led_by_newcomer = 0;
            let honest_refs: Vec<_> = honest.iter().collect();
            for (height, block) in (1..).zip(same_blocks(&honest_refs, end, seed).await) {
                for evidence in &block.evidence {
                    assert_eq!(&evidence.offender, bad, "seed {seed}: block {height}");
                    let epoch = evidence.epoch().expect("a piece names its epoch");
                    assert!(
                        !epochs.contains(&epoch),
                        "seed {seed}: block {height} carries a second piece for epoch {epoch}"
                    );
                    epochs.push(epoch);
                }
                let leader = &block.context.leader;
                if height / EPOCH_BLOCKS >= OUT_EPOCH {
                    assert_ne!(
                        leader, bad,
                        "seed {seed}: block {height} led by the slashed"
                    );
                }
                led_by_newcomer += usize::from(*leader == newcomer_key().public_key());
            }
            assert_eq!(
                epochs.first(),
                Some(&0),
                "seed {seed}: convicted in epoch 0"
            );
            // Each piece burns 5% of the bond as it then is, rounded up.
            let mut bond: u128 = 500_000_000_000;
            let mut burned = 0;
            for _ in &epochs {
                let burn = (bond * 500).div_ceil(10_000);
                bond -= burn;
                burned += burn;
            }
            assert!(led_by_newcomer > 0, "seed {seed}: the newcomer led blocks");
            for node in &honest {
                assert!(
                    node.app.audit_failures().is_empty(),
                    "seed {seed}: {:?}",
                    node.app.audit_failures()
                );
                let finalized = node.app.finalized().expect("finalized");
                let store = &*finalized.store;
                let owner = staking::Db::node_key_owner(store, &node_account(bad))
                    .expect("the key is registered");
                let record = staking::Db::validator(store, &owner).expect("a validator");
                assert_eq!(record.slashed, burned, "seed {seed}: {epochs:?}");
                assert_eq!(record.bond, bond, "seed {seed}: {epochs:?}");
                for epoch in &epochs {
                    assert!(
                        staking::Db::slash(store, &node_account(bad), *epoch).is_some(),
                        "seed {seed}: slashed for epoch {epoch}"
                    );
                }
                assert!(record.unbonding.is_some(), "seed {seed}: unbonding");
                assert_eq!(
                    staking::Db::slash(store, &node_account(bad), 0),
                    Some(25_000_000_000),
                    "seed {seed}: slashed for epoch 0"
                );
                let epoch = finalized.height / EPOCH_BLOCKS;
                let committee = staking::epoch_committee(store, epoch).expect("kept");
                let seated: Vec<_> = committee.members.iter().map(|m| m.node_key).collect();
                assert_eq!(seated.len(), 4, "seed {seed}: {seated:?}");
                assert!(!seated.contains(&node_account(bad)), "seed {seed}");
                assert!(seated.contains(&node_account(&newcomer_key().public_key())));
            }
            drop(handles);
        });
    }
}

/// A full node joins after the committee has changed, able to reach only two nodes: validator 0
/// (a genesis validator) and the newcomer. Knowing only genesis it would ask the four genesis
/// validators and need two answers, and it can get one (the leaver has stopped, and it cannot
/// reach validators 1 and 2). With a checkpoint validator 0 serves, checked against the chain's
/// key, it asks the current committee instead, syncs and follows the chain. A checkpoint altered
/// in any part is refused. (The run from genesis alone is not simulated: a node that never finds
/// a floor never finishes starting, and the harness waits for that.)
#[test]
fn a_full_node_joining_after_the_committee_changed_syncs_from_a_checkpoint() {
    join_after_the_committee_changed(Checkpoint::Given);
}

/// The same join with no checkpoint file: the joiner asks the genesis validators it can reach
/// for a checkpoint over p2p (`node::checkpoint::fetch`), gets validator 0's, and syncs from
/// the current committee as it would with the file.
#[test]
fn a_full_node_joining_after_the_committee_changed_fetches_a_checkpoint_from_a_peer() {
    join_after_the_committee_changed(Checkpoint::Fetched);
}

/// Where the joining node's checkpoint comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Checkpoint {
    /// Checked and handed to it, as `equa node checkpoint` does.
    Given,
    /// Fetched by the node itself from its peers.
    Fetched,
}

fn join_after_the_committee_changed(checkpoint: Checkpoint) {
    for seed in common::seeds(&SEEDS[..1]) {
        runner(seed).start(|context| async move {
            let keys = common::validator_keys(VALIDATORS);
            let genesis: Vec<_> = keys.iter().map(|key| key.public_key()).collect();
            let everyone: Vec<_> = genesis
                .iter()
                .cloned()
                .chain([newcomer_key().public_key()])
                .collect();
            let sim = Sim::start(&context, &everyone, &genesis).await;
            let joiner = joiner_key().public_key();
            sim.link(&joiner, &genesis[0]).await;
            sim.link(&joiner, &newcomer_key().public_key()).await;
            let (handles, nodes) = sim.start_validators(&keys).await;
            let (_newcomer_handle, newcomer) = sim.start_node(&newcomer_key(), "newcomer").await;
            // The leaver stops once it no longer signs (see `signers`).
            let free = (LEAVE_EPOCH + 5) * EPOCH_BLOCKS;
            sim.advance_to(&[&nodes[0]], free).await;
            handles[LEAVER as usize].abort();
            let running = all_but_the_leaver(&nodes, &newcomer);

            let progress = Arc::new(node::recovery::SyncProgress::default());
            let joiner_config = |prefix: &str, checkpoint| {
                let mut config = node_config(prefix.to_string(), &joiner_key());
                config.state_sync = StateSync {
                    requested: true,
                    progress: progress.clone(),
                    checkpoint,
                    sources: Vec::new(),
                };
                config
            };
            // The checkpoint of validator 0's current epoch names the newcomer.
            let blocks_per_epoch = NZU64!(EPOCH_BLOCKS);
            let finalized = common::processed_height(&nodes[0]).await;
            let view = node::checkpoint::serve(&nodes[0].marshal, finalized, blocks_per_epoch)
                .await
                .expect("validator 0 serves its epoch's boundary");
            assert_eq!(view.epoch, finalized / EPOCH_BLOCKS, "seed {seed}");
            let identity = node::threshold::identity(&common::consensus_key(&genesis).0);
            let info = node::checkpoint::verify(&view, &identity, blocks_per_epoch)
                .expect("a checkpoint the chain finalized");
            let dealers = info.output.players();
            assert!(dealers.position(&newcomer_key().public_key()).is_some());
            assert!(dealers.position(&genesis[LEAVER as usize]).is_none());
            let given = match checkpoint {
                Checkpoint::Given => {
                    refused_alterations(&view, &nodes[0], &identity, seed).await;
                    Some(node::checkpoint::Checkpoint {
                        info,
                        view: view.clone(),
                    })
                }
                Checkpoint::Fetched => None,
            };

            let (_joiner_handle, joined) = sim
                .start_configured(&joiner_key(), "joiner", joiner_config("joiner", given))
                .await;
            // Given or fetched, the sync asked the committee of validator 0's epoch (or a later
            // one, had the chain moved on meanwhile).
            let used = progress
                .checkpoint()
                .expect("the sync started from a checkpoint");
            assert!(used >= view.epoch, "seed {seed}: epoch {used}");
            let target = common::processed_height(&nodes[0]).await + EPOCH_BLOCKS;
            sim.advance_to(&[&joined], target).await;
            sim.advance_to(&running, target).await;
            let ours = joined
                .marshal
                .get_block(Identifier::Height(Height::new(target)))
                .await
                .expect("the joiner's block");
            for node in &running {
                let theirs = node
                    .marshal
                    .get_block(Identifier::Height(Height::new(target)))
                    .await
                    .expect("every running node's block");
                assert_eq!(ours.digest(), theirs.digest(), "seed {seed}");
            }
            assert_eq!(
                joined.app.restores(),
                1,
                "seed {seed}: synced, not replayed"
            );
            assert!(joined.app.audit_failures().is_empty(), "seed {seed}");
        });
    }
}

/// Each part of a checkpoint altered: refused, with the reason.
async fn refused_alterations(
    view: &rpc::views::CheckpointView,
    validator: &NodeState<deterministic::Context>,
    identity: &node::threshold::Identity,
    seed: u64,
) {
    use node::checkpoint::{CheckpointError, verify};
    use node::proof::VerifyError;
    let blocks_per_epoch = NZU64!(EPOCH_BLOCKS);
    let refused = |view: &rpc::views::CheckpointView, identity| {
        verify(view, identity, blocks_per_epoch).expect_err("an altered checkpoint")
    };
    // Another epoch's number for the same block.
    let mut later = view.clone();
    later.epoch += 1;
    assert!(
        matches!(
            refused(&later, identity),
            CheckpointError::NotBoundary { .. }
        ),
        "seed {seed}"
    );
    let mut first = view.clone();
    first.epoch = 0;
    assert_eq!(
        refused(&first, identity),
        CheckpointError::FirstEpoch,
        "seed {seed}"
    );
    // The previous boundary's block under this boundary's certificate.
    let earlier = node::checkpoint::serve(
        &validator.marshal,
        view.height - EPOCH_BLOCKS,
        blocks_per_epoch,
    )
    .await
    .expect("the previous boundary");
    let mut swapped = earlier.clone();
    swapped.finalization = view.finalization.clone();
    assert_eq!(
        refused(&swapped, identity),
        CheckpointError::Proof(VerifyError::WrongBlock),
        "seed {seed}"
    );
    // A block that does not end an epoch, with its own certificate.
    let inside = view.height - 3;
    let block = validator
        .marshal
        .get_block(Identifier::Height(Height::new(inside)))
        .await
        .expect("kept");
    let finalization = validator
        .marshal
        .get_finalization(Height::new(inside))
        .await
        .expect("kept");
    let mut inner = view.clone();
    inner.height = inside;
    inner.block = hex::encode(commonware_codec::Encode::encode(&block));
    inner.finalization = hex::encode(commonware_codec::Encode::encode(&finalization));
    assert!(
        matches!(
            refused(&inner, identity),
            CheckpointError::NotBoundary { .. }
        ),
        "seed {seed}"
    );
    // Another chain's key.
    let other: Vec<_> = (100..104)
        .map(|seed| ed25519::PrivateKey::from_seed(seed).public_key())
        .collect();
    let (stranger_key, _) = node::threshold::deal(
        <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(8),
        &other,
    );
    let stranger = node::threshold::identity(&stranger_key);
    assert_ne!(&stranger, identity);
    assert_eq!(
        refused(view, &stranger),
        CheckpointError::Proof(VerifyError::Certificate),
        "seed {seed}"
    );
    // Garbage.
    let mut garbage = view.clone();
    garbage.block = "00".into();
    assert!(
        matches!(
            refused(&garbage, identity),
            CheckpointError::Proof(VerifyError::Malformed(_))
        ),
        "seed {seed}"
    );
}
