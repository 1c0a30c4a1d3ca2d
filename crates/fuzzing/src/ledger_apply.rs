//! The ledger under calls the fuzzer chooses: the ledger adversary's case generator
//! (`ledger::adversary`) with every choice read from the input instead of a seeded stream. The
//! input picks the chain parameters, the number of blocks and their times (steered at the live
//! records' deadlines), and for each transaction its signer, call, fields (live ids or ones that
//! do not exist, amounts at the edges) and envelope; the exit phase then ends every record.
//!
//! After every block the adversary's checks run: nothing panics, every asset is conserved, each
//! module holds exactly what its records owe, fees and nonces are charged as admission says,
//! trades and loans move only along their state diagrams, lenders' entitlements never go down.
//! A broken invariant panics with the case's blocks and calls.

use ledger::adversary::{self, Config, GENESIS_MS, Setup, Stats, plan::Rendered};
use std::sync::OnceLock;

/// Shorter cases than the seeded runs' 20 to 60 blocks: a fuzzer gains more from many cases,
/// and the input decides how many blocks each has.
pub const CONFIG: Config = Config {
    min_blocks: 1,
    max_blocks: 24,
    max_txs_per_block: 8,
};

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(Setup::new)
}

pub fn run(data: &[u8]) {
    let setup = setup();
    let mut stats = Stats::default();
    let (plan, result) = adversary::generate_scripted(setup, data, &CONFIG, &mut stats);
    // The exit phase expects exactly the documented remainder of a defaulted loan (G6) and
    // nothing else, so every violation is a fault.
    if let Err(violation) = result {
        panic!(
            "invariant broken: {violation}\n{}",
            Rendered {
                plan: &plan,
                genesis_ms: GENESIS_MS,
                names: &setup.names(),
            }
        );
    }
}
