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
//!   (`NodeState::faults`) and their sender is blocked; because every vote travels signed by
//!   its sender's node key, contradictory ones are evidence that reaches the ledger in a block
//!   and burns 5% of the sender's bond on every honest validator's ledger (every validator is
//!   registered in the staking module), whether or not their threshold signatures verify, and
//!   no honest validator's bond is ever touched; votes that do not verify get their sender
//!   blocked; a block carrying a forged or unaffordable transaction is never finalized;
//!   relay bytes that are no batch at all get their sender blocked, and a flood is rate limited without
//!   growing any pool.
//!
//! Consensus misbehaviour comes from simplex's own byzantine test doubles (`mocks`), started on
//! the misbehaving validator's channels in place of its node (its votes signed with its node
//! key, as a node's are). Every scenario runs with a few fixed
//! seeds (64 runs in all); `EQUA_SIM_SEED=<n>` runs only seed `n`, and `EQUA_BYZ_SEEDS=<n>` runs
//! seeds `0..n` in every scenario, for example
//! `EQUA_BYZ_SEEDS=200 cargo test -p node --test byzantine --release`.
//!
//! In the twins scenarios (`twins`) the misbehaving validator runs as two real nodes with one
//! key, each seeing part of the network for the first views, as simplex's twins scenario
//! generator draws it: 20 cases with a new split every view and 12 with one split held
//! throughout, each run with its case number as seed. `EQUA_TWINS_CASES=<n>` draws `n` cases
//! in each campaign.

mod checks;
#[path = "../common/mod.rs"]
mod common;
mod doubles;
mod harness;
mod twins;

use checks::{Checks, Seen};
use doubles::{ForgingTransfers, spam_the_relay, unaffordable};
use harness::{Sim, Validator};
use node::evidence::{SignedReceiver, SignedSender};

use commonware_consensus::{
    marshal::Identifier,
    simplex::{
        elector::RoundRobin,
        mocks::{
            conflicter, equivocator, impersonator, nuller, nullify_only, outdated, relay,
            twins as twins_mocks,
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
    /// The Conflicter, which also sends (signed, every 100 ms) nullifies of a far epoch (glue's
    /// muxer hands them to its backup channel: simplex never sees them) and of far views, to
    /// push its real rounds out of the receivers' memory.
    ShieldedConflicter,
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
    /// Runs as two real nodes with one key, each seeing part of the network (see `twins`).
    Twins,
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
                | Self::Twins
        )
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
    slashed_once(sim, seen, context);
}

/// The evidence reached the ledger: every honest validator's finalized state burned 5% of each
/// byzantine validator's 500 EQA bond, once (the chain stays in epoch 0).
fn slashed_once(sim: &Sim, seen: &Seen, context: &str) {
    for (honest, slashed) in seen.slashed.iter().enumerate() {
        for bad in byzantine_keys(sim) {
            assert_eq!(
                slashed.get(&AccountId::from_public_key(&bad)).copied(),
                Some(25_000_000_000),
                "{context}: honest validator #{honest}'s ledger: {slashed:?}"
            );
        }
    }
}

/// Nothing the byzantine validator sent is evidence against it, so no fault is recorded.
fn no_faults_recorded(_sim: &Sim, seen: &Seen, context: &str) {
    for faults in &seen.faults {
        assert!(faults.is_empty(), "{context}: faults recorded: {faults:?}");
    }
    for slashed in &seen.slashed {
        assert!(
            slashed.values().all(|burned| *burned == 0),
            "{context}: slashed without evidence: {slashed:?}"
        );
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

/// A conflicter that floods the honest receivers with votes of far epochs and views is slashed
/// all the same: they compare only votes near the rounds they vote in.
#[test]
fn a_conflicter_shielded_by_far_votes_is_slashed_too() {
    consensus_scenario(
        Misbehaviour::ShieldedConflicter,
        &[0, 1],
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

/// Conflicting votes whose threshold signatures do not verify get their sender blocked and are
/// no fault simplex records; but the sender signed both messages with its node key, and that
/// contradiction is evidence: it is slashed.
#[test]
fn votes_with_corrupt_signatures_get_their_sender_blocked() {
    consensus_scenario(
        Misbehaviour::CorruptSignatures,
        &[0, 1, 2, 3, 4, 5],
        |sim, seen, context| {
            for faults in &seen.faults {
                assert!(faults.is_empty(), "{context}: faults recorded: {faults:?}");
            }
            assert_byzantine_blocked_by_all(sim, seen, context);
            slashed_once(sim, seen, context);
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

/// A peer sending bytes that are no batch at all (broken framing, which no version of the node
/// sends) is blocked by every honest validator; its well-framed batches of more transactions
/// than a batch may hold are only dropped, since another version could send such,
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

/// A peer flooding the relay channel with well-formed batches of forged transactions (signed
/// with another account's key) is blocked by every honest validator at its first batch: an
/// honest node relays only transactions whose signatures it checked. Until then the channel's
/// quota limits it; none of its transactions reaches a pool, and the chain keeps finalizing.
#[test]
fn a_peer_relaying_forged_signatures_is_blocked_and_the_chain_keeps_finalizing() {
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
        assert_byzantine_blocked_by_all(&sim, &seen, &context);
        assert_eq!(seen.pool_sizes.len(), 3, "{context}");
        for size in &seen.pool_sizes {
            assert_eq!(*size, 0, "{context}: a forged transaction reached a pool");
        }
        assert_only_byzantine_blamed(&sim, &seen, &context);
    }
}

/// Runs a campaign of twins cases: in each, one validator of four runs as two twins with one key,
/// and for the first `rounds` views the scenario decides who leads and which validators each
/// twin exchanges votes and certificates with (see `twins`). The honest validators must keep
/// agreement (so must the twins: both report their finalizations to the harness), finalize
/// [`HEIGHT`] blocks, conserve money and blame only the compromised validator.
fn twins_campaign(mode: twins_mocks::Mode, rounds: usize, default_cases: usize) {
    let cases = twins::cases(mode, rounds, default_cases);
    assert!(!cases.is_empty(), "the campaign has cases");
    let mut evidence = 0;
    let mut slashed_cases = 0;
    let mut twins_caught_up = 0;
    let count = cases.len();
    for (number, case) in cases.into_iter().enumerate() {
        let leaders: Vec<usize> = case.scenario.rounds().iter().map(|r| r.leader()).collect();
        let context = format!(
            "twins {mode:?}, case {number} (compromised {:?}, scripted leaders {leaders:?})",
            case.compromised
        );
        let (sim, seen) = run(Sim::twins(case), number as u64);
        assert_only_byzantine_blamed(&sim, &seen, &context);
        assert_eq!(seen.twin_heights.len(), 2, "{context}: both twins checked");
        let bad = &byzantine_keys(&sim)[0];
        evidence += seen
            .faults
            .iter()
            .map(|faults| faults.get(bad).copied().unwrap_or(0))
            .sum::<u64>();
        // Slashed at most once (one epoch), by the same amount on every honest ledger.
        let burned: Vec<u128> = seen
            .slashed
            .iter()
            .map(|slashed| {
                slashed
                    .get(&AccountId::from_public_key(bad))
                    .copied()
                    .unwrap_or(0)
            })
            .collect();
        assert!(
            burned.iter().all(|b| *b == burned[0]) && [0, 25_000_000_000].contains(&burned[0]),
            "{context}: {burned:?}"
        );
        if burned[0] > 0 {
            slashed_cases += 1;
        }
        twins_caught_up += seen
            .twin_heights
            .iter()
            .filter(|height| **height >= HEIGHT)
            .count();
    }
    // The campaign must have made the twins equivocate somewhere, or it tested nothing.
    assert!(
        evidence > 0,
        "twins {mode:?}: no honest validator recorded conflicting votes of a twin in {count} cases"
    );
    // And some of it must have reached the ledger.
    assert!(
        slashed_cases > 0,
        "twins {mode:?}: evidence was recorded but no twin was slashed in {count} cases"
    );
    eprintln!(
        "twins {mode:?}: {count} cases, {evidence} conflicting votes recorded, the twin slashed \
         in {slashed_cases}, {twins_caught_up} of {} twins finalized up to height {HEIGHT}",
        2 * count
    );
}

/// Each scripted view gets its own leader and its own split of the network.
#[test]
fn twins_with_a_new_split_every_view_never_fork() {
    twins_campaign(twins_mocks::Mode::Sampled, 4, 20);
}

/// One split of the network holds for all the scripted views.
#[test]
fn twins_with_a_sustained_split_never_fork() {
    twins_campaign(twins_mocks::Mode::Sustained, 4, 12);
}
