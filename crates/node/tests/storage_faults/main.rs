//! Storage faults: the deterministic runtime's storage fails reads, writes and syncs (keeping a
//! prefix or a random subset of a failed write's bytes) for a while under every validator, so
//! their actors error or crash mid-block. Then the faults stop and every validator is crashed and
//! restarted on what its storage kept. Each must recover to the chain's state: at a height well
//! past the restart every validator holds the same block and state root, every asset is
//! conserved, and the in-memory ledger matches the authenticated store after every block it
//! finalized, so no balance can be silently wrong. A validator whose storage cannot be opened
//! refuses to start with a message naming what it could not open.
//!
//! `one_validator` fails one validator's disk alone (`disk`) while the others stay sound.
//!
//! `EQUA_SIM_SEED=<n>` runs only seed `n`; `EQUA_STORAGE_SEEDS=<n>` runs seeds `0..n`.

#[path = "../common/mod.rs"]
mod common;
mod disk;
mod one_validator;

use common::RandomTransfers;
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
use commonware_p2p::simulated;
use commonware_runtime::{
    Handle, Quota, Runner as _, Spawner, Supervisor as _,
    deterministic::{self, FaultConfig},
};
use commonware_utils::{NZUsize, channel::mpsc, probability};
use ledger::audit;
use node::{
    App, AppConfig,
    engine::{self, NodeConfig, NodeState},
};
use std::{
    cell::RefCell,
    future::Future,
    io::Write,
    pin::Pin,
    sync::{Arc, Mutex, Once},
    time::Duration,
};
use types::Digest;

const VALIDATORS: u64 = 4;
/// When the faults start and stop, and when the validators restart. The first views may be lost
/// at start-up (up to the 3 s certification timeout), so the faults last long enough to meet
/// blocks being written.
const FAULTS_FROM: Duration = Duration::from_secs(2);
const FAULTS_UNTIL: Duration = Duration::from_secs(4);
const RESTART_AT: Duration = Duration::from_millis(4_500);
/// Well past the restart: about 20 blocks are finalized a second.
const HEIGHT: u64 = 120;

const SEEDS: [u64; 6] = [0, 1, 2, 3, 4, 5];

#[derive(Clone)]
struct Sim {
    keys: Vec<ed25519::PrivateKey>,
}

/// A validator's node, on the deterministic runtime's context or one with a faulty disk
/// (`disk::Disk`).
struct Validator<E: Spawner + commonware_storage::Context = deterministic::Context>(NodeState<E>);

impl<E: Spawner + commonware_storage::Context> ProcessedHeight for Validator<E> {
    async fn processed_height(&self) -> u64 {
        self.0
            .marshal
            .get_processed()
            .await
            .map_or(0, |processed| processed.height().get())
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
        let config = node_config(self, participants, index);
        let (handle, node) =
            common::start_validator(context, public_key, oracle, channels, monitor, config).await;
        (handle, Validator(node))
    }

    fn start(engine: Handle<()>) -> Handle<()> {
        engine
    }
}

/// Validator 0's node configuration.
fn node_config(sim: &Sim, participants: &[ed25519::PublicKey], index: usize) -> NodeConfig {
    let app = App::new(
        common::genesis_store(common::ACCOUNTS),
        0,
        AppConfig {
            audit_finalized: true,
            ..AppConfig::default()
        },
    );
    NodeConfig {
        partition_prefix: format!("validator-{index}"),
        scheme: common::signer(participants, &sim.keys[index]),
        consensus_key: common::consensus_key(participants).0,
        signer: sim.keys[index].clone(),
        blocks_per_epoch: engine::SINGLE_EPOCH,
        followers: Default::default(),
        app,
        provider: Arc::new(RandomTransfers),
        retained_blocks: Some(100_000),
        state_sync: Default::default(),
        tuning: engine::Tuning {
            page_cache_pages: NZUsize!(64),
            ..engine::Tuning::default()
        },
    }
}

/// At [`HEIGHT`]: every validator holds the same block and state root, has finalized it, kept
/// every asset conserved and its ledger equal to its authenticated store after every block.
#[derive(Clone)]
struct Recovered {
    roots: Arc<Mutex<Vec<Digest>>>,
    /// Blocks the restarted validators re-executed to rebuild their ledgers.
    replayed: Arc<Mutex<u64>>,
    /// Times a validator read its ledger back from its authenticated store.
    restores: Arc<Mutex<u64>>,
}

impl<E: Spawner + commonware_storage::Context> Property<ed25519::PublicKey, Validator<E>>
    for Recovered
{
    fn name(&self) -> &str {
        "recovered"
    }

    fn check<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a Validator<E>],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            if states.len() != VALIDATORS as usize {
                return Err(format!("only {} validators are running", states.len()));
            }
            let mut expected: Option<(Digest, Digest)> = None;
            for (index, validator) in states.iter().enumerate() {
                let node = &validator.0;
                let block = node
                    .marshal
                    .get_block(Identifier::Height(Height::new(HEIGHT)))
                    .await
                    .ok_or_else(|| format!("validator {index} has no block at {HEIGHT}"))?;
                let seen = (block.digest(), block.inner().state_root);
                if *expected.get_or_insert(seen) != seen {
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
                if finalized.height < HEIGHT {
                    return Err(format!(
                        "validator {index} finalized only up to {}",
                        finalized.height
                    ));
                }
                audit::check_conservation(&finalized.store)
                    .map_err(|error| format!("validator {index}: {error}"))?;
                let at_height = node
                    .app
                    .block(HEIGHT)
                    .ok_or_else(|| format!("validator {index} lacks block {HEIGHT}"))?;
                *self.replayed.lock().unwrap() += node.app.replayed_blocks();
                *self.restores.lock().unwrap() += node.app.restores();
                if at_height.state_root != seen.1 {
                    return Err(format!(
                        "validator {index}: its ledger's root at {HEIGHT} is not the block's"
                    ));
                }
            }
            let (_, root) = expected.expect("four validators");
            self.roots.lock().unwrap().push(root);
            Ok(())
        })
    }
}

thread_local! {
    /// What this thread logged since [`capture_logs`] started, while it runs.
    static CAPTURED: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// Writes log lines to the capture of the thread that logs them.
struct ThreadLog;

impl Write for ThreadLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        CAPTURED.with(|captured| {
            if let Some(buffer) = captured.borrow_mut().as_mut() {
                buffer.extend_from_slice(bytes);
            }
        });
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `run` and returns what it logged at WARN and above on this thread (the deterministic
/// runtime runs every task on the thread that starts it).
///
/// One subscriber serves the whole test process and is never dropped. Tracing caches per call
/// site whether any subscriber listens; with a scoped subscriber per test, a call site first hit
/// while none was registered could stay silent for a test running in parallel, and its faults
/// would go unseen.
pub fn capture_logs<R>(run: impl FnOnce() -> R) -> (R, String) {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(|| ThreadLog)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other subscriber is installed in this test process");
    });
    CAPTURED.with(|captured| *captured.borrow_mut() = Some(Vec::new()));
    let result = run();
    let log = CAPTURED
        .with(|captured| captured.borrow_mut().take())
        .unwrap_or_default();
    (result, String::from_utf8_lossy(&log).into_owned())
}

fn faults(seed: u64) -> FaultConfig {
    FaultConfig {
        read_rate: Some(probability!(0.05)),
        write_rate: Some(deterministic::WriteConfig {
            failure_rate: probability!(0.2),
            retention_rate: probability!(0.5),
            mode: if seed.is_multiple_of(2) {
                deterministic::PartialWriteMode::Prefix
            } else {
                deterministic::PartialWriteMode::Subset
            },
        }),
        sync_rate: Some(probability!(0.2)),
        ..FaultConfig::default()
    }
}

#[test]
fn validators_hit_by_storage_faults_recover_to_the_chains_state() {
    for seed in common::seeds_or_count(&SEEDS, "EQUA_STORAGE_SEEDS") {
        let sim = Sim {
            keys: common::validator_keys(VALIDATORS),
        };
        let participants = sim.participants();
        let mut schedule = Schedule::new()
            .at(FAULTS_FROM, Action::SetStorageFault(faults(seed)))
            .at(
                FAULTS_UNTIL,
                Action::SetStorageFault(FaultConfig::default()),
            );
        for validator in &participants {
            schedule = schedule.at(FAULTS_UNTIL, Action::Crash(validator.clone()));
        }
        for validator in &participants {
            schedule = schedule.at(RESTART_AT, Action::Restart(validator.clone()));
        }
        let recovered = Recovered {
            roots: Arc::default(),
            replayed: Arc::default(),
            restores: Arc::default(),
        };
        let (result, log) = capture_logs(|| {
            PlanBuilder::new(sim)
                .seed(seed)
                .exit_condition(ProcessedHeightAtLeast::new(HEIGHT))
                .timeout(Duration::from_secs(60))
                .crash(Crash::Schedule(schedule))
                .property(recovered.clone())
                .run()
        });
        let results =
            result.unwrap_or_else(|error| panic!("seed {seed}: {error}\n{}", last_lines(&log, 40)));
        assert_eq!(
            results[0].crashes, VALIDATORS,
            "seed {seed}: every validator crashed"
        );
        assert_eq!(recovered.roots.lock().unwrap().len(), 1, "seed {seed}");
        assert!(
            *recovered.restores.lock().unwrap() > 0,
            "seed {seed}: the restarted validators read their ledgers back from their stores"
        );
        assert_eq!(
            *recovered.replayed.lock().unwrap(),
            0,
            "seed {seed}: no block re-executed to rebuild a ledger"
        );
        // The faults were felt: storage operations failed under the validators.
        assert!(
            log.contains("injected storage fault"),
            "seed {seed}: no storage operation failed\n{}",
            last_lines(&log, 40)
        );
    }
}

/// Every storage open fails: the validator stops at once, naming the first store it could not
/// open, instead of running without it.
#[test]
fn a_validator_whose_storage_cannot_be_opened_refuses_to_start_naming_it() {
    let sim = Sim {
        keys: common::validator_keys(VALIDATORS),
    };
    let participants = sim.participants();
    let config = deterministic::Config::new()
        .with_seed(0)
        .with_timeout(Some(Duration::from_secs(10)))
        .with_storage_fault_config(FaultConfig {
            open_rate: Some(probability!(1.0)),
            ..FaultConfig::default()
        });
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        deterministic::Runner::new(config).start(|context| async move {
            let (network, oracle) = simulated::Network::new(
                context.child("network"),
                simulated::Config {
                    max_size: sim.max_message_size(),
                    max_peers_per_set: NZUsize!(VALIDATORS as usize),
                    disconnect_on_block: true,
                    tracked_peer_sets: NZUsize!(1),
                },
            );
            network.start();
            let public_key = participants[0].clone();
            let control = oracle.control(public_key.clone());
            let mut channels = Vec::new();
            for (channel, quota) in common::consensus_channels() {
                channels.push(control.register(channel, quota).await.expect("register"));
            }
            let (monitor, _finalized) = mpsc::unbounded_channel();
            let config = node_config(&sim, &participants, 0);
            common::start_validator(
                context.child("validator"),
                &public_key,
                &oracle,
                channels,
                monitor,
                config,
            )
            .await;
        })
    }));
    let panic = outcome.expect_err("the validator refuses to start");
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
        .unwrap_or_default();
    assert!(
        message.starts_with(
            "storage: cannot open the finalizations archive (validator-0-finalizations-*):"
        ),
        "unclear refusal: {message:?}"
    );
}

fn last_lines(log: &str, count: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}
