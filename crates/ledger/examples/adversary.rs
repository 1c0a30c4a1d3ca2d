//! Runs the ledger adversary on random seeds for as long as asked, on every core, and prints
//! cases, blocks and transactions per second and every counterexample, shrunk.
//!
//! ```text
//! cargo run --release -p ledger --example adversary -- --seconds 60
//! cargo run --release -p ledger --example adversary -- --seed 1234               # one case
//! cargo run --release -p ledger --example adversary -- --seconds 60 --seed 1234  # 1234, 1235, ...
//! ```

use ledger::adversary::{self, Config, Counterexample, Setup, Stats};
use std::{
    collections::BTreeMap,
    process::ExitCode,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

const USAGE: &str = "usage: adversary [--seconds N] [--seed S] [--blocks B]\n\
    --seconds N   run cases for N seconds (default 10), from random seeds or, with --seed, from S up\n\
    --seed S      alone: run case S only and print its counterexample, if any\n\
    --blocks B    cases of up to B random blocks (default 60; at least a third of that)";

struct Args {
    seconds: Option<u64>,
    seed: Option<u64>,
    blocks: Option<u64>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        seconds: None,
        seed: None,
        blocks: None,
    };
    let mut words = std::env::args().skip(1);
    while let Some(word) = words.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            let value = words.next().ok_or(format!("{name} needs a number"))?;
            value
                .parse()
                .map_err(|_| format!("{name}: {value:?} is not a number"))
        };
        match word.as_str() {
            "--seconds" => args.seconds = Some(number("--seconds")?),
            "--seed" => args.seed = Some(number("--seed")?),
            "--blocks" => args.blocks = Some(number("--blocks")?.max(1)),
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(args)
}

/// A starting point for the seeds that differs from run to run.
fn base_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    (nanos as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn report(stats: &Stats, elapsed: Duration, found: usize) {
    let seconds = elapsed.as_secs_f64().max(1e-9);
    println!(
        "{:>6.1} s: {} cases ({:.1}/s), {} blocks ({:.0}/s), {} transactions ({:.0}/s, {} \
         admitted, {} predicted to succeed), {found} counterexamples",
        seconds,
        stats.cases,
        stats.cases as f64 / seconds,
        stats.blocks,
        stats.blocks as f64 / seconds,
        stats.txs,
        stats.txs as f64 / seconds,
        stats.admitted,
        stats.predicted,
    );
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let mut config = Config::default();
    if let Some(blocks) = args.blocks {
        config.max_blocks = blocks;
        config.min_blocks = blocks.div_ceil(3);
    }
    if let (Some(seed), None) = (args.seed, args.seconds) {
        let setup = Setup::new();
        let mut stats = Stats::default();
        return match adversary::run(&setup, seed, &config, &mut stats) {
            Ok(()) => {
                println!(
                    "seed {seed}: no violation ({} blocks, {} transactions)",
                    stats.blocks, stats.txs
                );
                ExitCode::SUCCESS
            }
            Err(counterexample) => {
                println!("{counterexample}");
                ExitCode::FAILURE
            }
        };
    }

    let seconds = args.seconds.unwrap_or(10);
    let first_seed = args.seed.unwrap_or_else(base_seed);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "running the ledger adversary for {seconds} s on {workers} threads, seeds from {first_seed}"
    );
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let next_seed = Arc::new(AtomicU64::new(first_seed));
    let done = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(Mutex::new(Stats::default()));
    // The first counterexample per invariant is printed in full; later ones only by seed.
    let found: Arc<Mutex<BTreeMap<&'static str, Vec<u64>>>> = Arc::default();
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let (next_seed, done, stats, found) = (
                next_seed.clone(),
                done.clone(),
                stats.clone(),
                found.clone(),
            );
            let config = config.clone();
            std::thread::spawn(move || {
                let setup = Setup::new();
                while Instant::now() < deadline && !done.load(Ordering::Relaxed) {
                    let seed = next_seed.fetch_add(1, Ordering::Relaxed);
                    let mut local = Stats::default();
                    let result = adversary::run(&setup, seed, &config, &mut local);
                    stats.lock().expect("not poisoned").merge(&local);
                    if let Err(counterexample) = result {
                        record(&found, &counterexample);
                    }
                }
            })
        })
        .collect();
    let mut last_report = Instant::now();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        if last_report.elapsed() >= Duration::from_secs(10) {
            let count = found
                .lock()
                .expect("not poisoned")
                .values()
                .map(Vec::len)
                .sum();
            report(
                &stats.lock().expect("not poisoned"),
                started.elapsed(),
                count,
            );
            last_report = Instant::now();
        }
    }
    done.store(true, Ordering::Relaxed);
    for handle in handles {
        handle.join().expect("a worker panicked");
    }
    let found = found.lock().expect("not poisoned");
    let count = found.values().map(Vec::len).sum();
    println!("finished:");
    report(
        &stats.lock().expect("not poisoned"),
        started.elapsed(),
        count,
    );
    let stats = stats.lock().expect("not poisoned");
    println!("successful calls by kind:");
    for (kind, count) in &stats.succeeded {
        println!("  {kind:<30} {count}");
    }
    println!("failed calls by kind and error:");
    for ((kind, reason), count) in &stats.failed {
        println!("  {kind:<30} {reason:<40} {count}");
    }
    for (invariant, seeds) in found.iter() {
        println!(
            "invariant {invariant:?} broken by {} seeds: {seeds:?}",
            seeds.len()
        );
    }
    if count == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn record(found: &Mutex<BTreeMap<&'static str, Vec<u64>>>, counterexample: &Counterexample) {
    let mut found = found.lock().expect("not poisoned");
    let seeds = found.entry(counterexample.violation.invariant).or_default();
    if seeds.is_empty() {
        println!("{counterexample}");
    } else {
        println!(
            "seed {} also breaks {:?}",
            counterexample.seed, counterexample.violation.invariant
        );
    }
    seeds.push(counterexample.seed);
}
