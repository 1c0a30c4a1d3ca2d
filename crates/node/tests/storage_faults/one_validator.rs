//! One validator's disk fails (`disk::Disk`): for a while its reads, writes and syncs fail at
//! fixed rates and some failed writes leave half their bytes behind, while the other three
//! validators' storage is sound. Its actors error or crash; then it is crashed and restarted on
//! what its disk kept. The other three must keep finalizing while its disk fails, and at a
//! height well past the restart all four must hold the same block and state root with every
//! asset conserved and every ledger equal to its authenticated store ([`Recovered`]).

use super::{disk::Disk, *};
use commonware_runtime::Clock as _;
use std::{
    sync::atomic::Ordering,
    time::{SystemTime, UNIX_EPOCH},
};

/// The validator whose disk fails.
const FAULTY: usize = 3;
/// Blocks each sound validator must finalize from when the faulty disk starts failing until
/// its validator restarts (2.5 s). Once the faulty validator is silent, every fourth view waits
/// out the 2 s leader timeout and the other three take tens of milliseconds each, so at least a
/// rotation's three blocks fit; without a quorum none would.
const MIN_BLOCKS_WHILE_FAULTY: u64 = 3;

#[derive(Clone)]
struct OneDisk {
    sim: Sim,
    faults: Arc<disk::Faults>,
    /// Per sound validator: (index, processed height when the faults start, when the faulty
    /// validator restarts).
    progress: Arc<Mutex<Vec<(usize, u64, u64)>>>,
}

fn at(offset: Duration) -> SystemTime {
    UNIX_EPOCH + offset
}

impl EngineDefinition for OneDisk {
    type PublicKey = ed25519::PublicKey;
    type Engine = Handle<()>;
    type State = Validator<Disk>;

    fn participants(&self) -> Vec<ed25519::PublicKey> {
        self.sim.participants()
    }

    fn channels(&self) -> Vec<(u64, Quota)> {
        self.sim.channels()
    }

    fn max_message_size(&self) -> u32 {
        self.sim.max_message_size()
    }

    async fn init(
        &self,
        init: InitContext<'_, ed25519::PublicKey>,
    ) -> (Handle<()>, Validator<Disk>) {
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
        let watcher = context.child("watcher");
        let faulty = index == FAULTY;
        let context = Disk::new(context, faulty.then(|| self.faults.clone()));
        let config = node_config(&self.sim, participants, index);
        let reporter_key = public_key.clone();
        let (handle, node) = engine::start_node(
            context,
            config,
            public_key.clone(),
            engine::Channels::from_ordered(channels),
            oracle.manager(),
            oracle.control(public_key.clone()),
            move |mailbox| {
                commonware_glue::simulate::reporter::MonitorReporter::new(
                    reporter_key,
                    monitor,
                    mailbox,
                )
            },
        )
        .await;
        if !faulty {
            // Validator 0 switches the faulty disk's faults on and off (a task of the faulty
            // validator would end with its crash), and every sound validator records how far
            // it got meanwhile.
            let faults = (index == 0).then(|| self.faults.clone());
            let progress = self.progress.clone();
            let node = node.clone();
            watcher.spawn(move |context| async move {
                context.sleep_until(at(FAULTS_FROM)).await;
                if let Some(faults) = &faults {
                    faults.switch(true);
                }
                let from = Validator(node.clone()).processed_height().await;
                context.sleep_until(at(FAULTS_UNTIL)).await;
                if let Some(faults) = &faults {
                    faults.switch(false);
                }
                context.sleep_until(at(RESTART_AT)).await;
                let until = Validator(node).processed_height().await;
                progress.lock().unwrap().push((index, from, until));
            });
        }
        (handle, Validator(node))
    }

    fn start(engine: Handle<()>) -> Handle<()> {
        engine
    }
}

fn rates() -> disk::Rates {
    disk::Rates {
        read_ppm: 20_000,
        write_ppm: 100_000,
        torn_write_ppm: 500_000,
        sync_ppm: 100_000,
    }
}

#[test]
fn a_validator_whose_disk_fails_recovers_while_the_others_keep_finalizing() {
    let mut torn = 0;
    for seed in common::seeds_or_count(&SEEDS, "EQUA_STORAGE_SEEDS") {
        let sim = OneDisk {
            sim: Sim {
                keys: common::validator_keys(VALIDATORS),
            },
            faults: disk::Faults::new(rates(), seed),
            progress: Arc::default(),
        };
        let faulty = sim.participants()[FAULTY].clone();
        let schedule = Schedule::new()
            .at(FAULTS_UNTIL, Action::Crash(faulty.clone()))
            .at(RESTART_AT, Action::Restart(faulty));
        let recovered = Recovered {
            roots: Arc::default(),
            replayed: Arc::default(),
            restores: Arc::default(),
        };
        let (result, log) = capture_logs(|| {
            PlanBuilder::new(sim.clone())
                .seed(seed)
                .exit_condition(ProcessedHeightAtLeast::new(HEIGHT))
                .timeout(Duration::from_secs(60))
                .crash(Crash::Schedule(schedule))
                // The runtime's own storage faults stay off; setting them (to none) makes the
                // simulation catch an actor's panic as that validator's crash instead of ending.
                .with_storage_fault(FaultConfig::default())
                .property(recovered.clone())
                .run()
        });
        let results =
            result.unwrap_or_else(|error| panic!("seed {seed}: {error}\n{}", last_lines(&log, 40)));
        assert_eq!(
            results[0].crashes, 1,
            "seed {seed}: the faulty validator crashed"
        );
        assert_eq!(recovered.roots.lock().unwrap().len(), 1, "seed {seed}");
        let injected = sim.faults.injected.load(Ordering::Relaxed);
        assert!(injected > 0, "seed {seed}: no storage operation failed");
        torn += sim.faults.torn.load(Ordering::Relaxed);
        let progress = sim.progress.lock().unwrap().clone();
        assert_eq!(
            progress.len(),
            3,
            "seed {seed}: every sound validator watched"
        );
        for &(index, from, until) in &progress {
            assert!(
                until >= from + MIN_BLOCKS_WHILE_FAULTY,
                "seed {seed}: validator {index} went from height {from} to only {until} while \
                 validator {FAULTY}'s disk failed and it was down"
            );
        }
        eprintln!(
            "seed {seed}: {injected} storage operations of validator {FAULTY} failed; \
             the sound validators' heights (from, until): {progress:?}"
        );
    }
    assert!(torn > 0, "no failed write left bytes behind");
}
