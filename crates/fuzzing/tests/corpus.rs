//! Every fuzz target replays its seeds and the corpus kept in `fuzz/corpus/<target>/` (inputs a
//! coverage-guided run found to reach new code, and any that once crashed a target), so what the
//! fuzzers have explored is checked again by every `cargo test`, on the stable toolchain.

use fuzzing::{TARGETS, Target};
use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<PathBuf> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&directory)
        .unwrap_or_else(|e| panic!("{}: {e}", directory.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    files.sort();
    files
}

fn replay((target, body): Target) {
    for seed in fuzzing::seeds::seeds(target) {
        body(&seed);
    }
    let files = corpus(target);
    assert!(!files.is_empty(), "fuzz/corpus/{target} is empty");
    for file in files {
        let input = std::fs::read(&file).expect("a corpus file");
        // A failing input names itself: `cargo fuzz run <target> <file>` reproduces it.
        eprintln!("{target}: {}", file.display());
        body(&input);
    }
}

fn target(name: &str) -> Target {
    *TARGETS
        .iter()
        .find(|(target, _)| *target == name)
        .expect("a target")
}

#[test]
fn transaction_corpus() {
    replay(target("transaction"));
}

#[test]
fn block_corpus() {
    replay(target("block"));
}

#[test]
fn relay_batch_corpus() {
    replay(target("relay_batch"));
}

#[test]
fn rpc_params_corpus() {
    replay(target("rpc_params"));
}

#[test]
fn web_action_corpus() {
    replay(target("web_action"));
}

#[test]
fn ledger_apply_corpus() {
    replay(target("ledger_apply"));
}

#[test]
fn every_target_has_a_test() {
    let source = include_str!("corpus.rs");
    for (name, _) in TARGETS {
        assert!(
            source.contains(&format!("fn {name}_corpus()")),
            "{name} has no replay test"
        );
    }
}
