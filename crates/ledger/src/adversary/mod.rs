//! The ledger adversary: a model-based, multi-actor random simulation of the bank, market and
//! lending modules that looks for states the ledger must never reach.
//!
//! A case is a seed. It picks one of a few sets of chain parameters (`world::PROFILES`: the
//! defaults, tight windows and free transactions, strict deposits and funding), then six actors
//! send every kind of call at random, several per block in random order, often from the wrong
//! party, at ids that do not exist, with amounts at the edges, and in envelopes admission must
//! refuse (`generate`, `market_calls`, `lending_calls`); block times are steered to land
//! just before, at and just after the deadlines of the live records (`steer`). After every
//! block the checks of `check`, `admission`, `accounting` and `charges` run:
//!
//! - admission and fees: every admitted transaction paid exactly its fee and used its nonce,
//!   every refused one paid nothing and was refused for the first reason that applies, and the
//!   proposer received exactly the fees charged;
//! - conservation of every asset ([`crate::audit::check_conservation`]);
//! - each module's held total equals what its live records owe, per asset (the accounting is
//!   stated in `accounting`);
//! - per loan, lenders' claims never exceed what was paid in or seized, their entitlements
//!   (claimed plus [`crate::lending::claimable`]) never add up to more, and no lender's
//!   entitlement ever goes down from one block to the next;
//! - interest is simple interest on the principal outstanding between accruals, rounded up,
//!   late fees stay within each instalment's principal times the started days it is late,
//!   repayments follow the waterfall, and a request funded in full is disbursed at once;
//! - trades and loans move only along their state diagrams, each step at a time its deadline
//!   allows, every settlement pays the escrow by its rule, exactly once, and no record changes
//!   state without the events saying so;
//! - a take executes at the terms of the offer revision it names;
//! - a call the state before its block says nothing can stop succeeds (`oracle`);
//! - offers hold what they can still be taken for, and credit histories count the loans;
//! - arbitrators are never parties to their cases, their open-case counts are right, and a
//!   ruling pays them at most their own rate; chat allowances are per author;
//! - no panic, whether it escapes `apply_block` or is contained inside the ledger (`panics`).
//!
//! After the random blocks, `exits` advances time past every deadline and has the right actor
//! take each record's exit: every trade must end, every loan close, and both modules must end up
//! holding nothing.
//!
//! A failing case is shrunk (`shrink`) to the fewest blocks and transactions that still break
//! the same invariant, and printed with its seed.

// This is test tooling, not consensus code: overflow checks are on in every profile, so an
// arithmetic mistake here panics and stops the run rather than pass silently. Amounts read from
// the ledger are still summed with checked arithmetic, where an overflow is itself a finding.
#![allow(clippy::arithmetic_side_effects)]

mod accounting;
mod admission;
mod charges;
mod check;
mod dice;
mod exits;
mod generate;
mod lending_calls;
mod market_calls;
mod oracle;
mod panics;
pub mod plan;
mod records;
mod shrink;
mod staking_calls;
mod steer;
#[cfg(test)]
mod tests;
mod view;
mod world;

pub use panics::guarded;
pub use plan::{BlockPlan, Envelope, Plan, TxPlan};
pub use world::{ACTORS, FAUCET, GENESIS_MS, Setup};

use crate::Outcome;
use dice::Dice;
use std::{collections::BTreeMap, fmt};
use world::{Applied, World};

/// An invariant that did not hold, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// A short, stable name: shrinking keeps a plan only if it breaks the same one.
    pub invariant: &'static str,
    pub detail: String,
}

impl Violation {
    pub fn new(invariant: &'static str, detail: String) -> Self {
        Self { invariant, detail }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant, self.detail)
    }
}

/// The size of the random part of a case.
#[derive(Clone, Debug)]
pub struct Config {
    pub min_blocks: u64,
    pub max_blocks: u64,
    pub max_txs_per_block: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            min_blocks: 20,
            max_blocks: 60,
            max_txs_per_block: 8,
        }
    }
}

/// What the cases did: blocks and transactions applied, and how many of each call succeeded.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub cases: u64,
    pub blocks: u64,
    pub txs: u64,
    pub admitted: u64,
    /// Transactions the state before their block said must succeed.
    pub predicted: u64,
    /// Successful calls per call kind (`market.release`, ...).
    pub succeeded: BTreeMap<&'static str, u64>,
    /// Failed calls per call kind and error (the error's variant, without its numbers).
    pub failed: BTreeMap<(&'static str, String), u64>,
    /// Offenses that burned part of a bond.
    pub slashes: u64,
}

impl Stats {
    fn record(&mut self, applied: &Applied) {
        self.blocks += 1;
        self.slashes += applied.slashes;
        self.txs += applied.txs.len() as u64;
        self.predicted += applied.expected.iter().flatten().count() as u64;
        for (tx, receipt) in applied.txs.iter().zip(&applied.receipts) {
            if !matches!(receipt.outcome, Outcome::Rejected(_)) {
                self.admitted += 1;
            }
            match &receipt.outcome {
                Outcome::Success => {
                    *self.succeeded.entry(tx.tx().call.kind()).or_default() += 1;
                }
                Outcome::Failed(error) => {
                    let text = format!("{error:?}");
                    let reason = text
                        .split([' ', '{', '('])
                        .filter(|part| !part.is_empty())
                        .take(2)
                        .collect::<Vec<_>>()
                        .join(" ");
                    *self
                        .failed
                        .entry((tx.tx().call.kind(), reason))
                        .or_default() += 1;
                }
                Outcome::Rejected(_) => {}
            }
        }
    }

    pub fn merge(&mut self, other: &Stats) {
        self.cases += other.cases;
        self.blocks += other.blocks;
        self.txs += other.txs;
        self.admitted += other.admitted;
        self.predicted += other.predicted;
        for (kind, count) in &other.succeeded {
            *self.succeeded.entry(kind).or_default() += count;
        }
        for (key, count) in &other.failed {
            *self.failed.entry(key.clone()).or_default() += count;
        }
    }
}

/// A failing case: its seed, the invariant it broke, and the shrunk plan that still breaks it.
#[derive(Debug)]
pub struct Counterexample {
    pub seed: u64,
    pub violation: Violation,
    /// Blocks and transactions of the case as generated.
    pub original: (usize, usize),
    pub plan: Plan,
    names: Vec<(String, String)>,
}

impl fmt::Display for Counterexample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "counterexample, seed {}", self.seed)?;
        let mut violation = self.violation.to_string();
        for (address, name) in &self.names {
            violation = violation.replace(address.as_str(), name);
        }
        writeln!(f, "invariant broken: {violation}")?;
        writeln!(
            f,
            "shrunk from {} blocks and {} transactions to {} blocks and {} transactions (then the \
             exit phase), replayable with adversary::replay:",
            self.original.0,
            self.original.1,
            self.plan.blocks.len(),
            self.plan.tx_count()
        )?;
        write!(
            f,
            "{}",
            plan::Rendered {
                plan: &self.plan,
                genesis_ms: GENESIS_MS,
                names: &self.names,
            }
        )?;
        writeln!(f, "actors:")?;
        for (address, name) in &self.names {
            writeln!(f, "  {name} = {address}")?;
        }
        Ok(())
    }
}

/// Runs the random part of case `seed` while generating it, then the exit phase. Returns the
/// plan generated so far and the first violation, if any.
pub fn generate(
    setup: &Setup,
    seed: u64,
    config: &Config,
    stats: &mut Stats,
) -> (Plan, Result<(), Violation>) {
    generate_with(setup, Dice::new(seed), config, stats)
}

/// [`generate`] with every choice (the chain parameters, the number of blocks, their times, each
/// transaction's signer, call, fields and envelope) read from `bytes` before the dice fall back
/// to a fixed stream: a coverage-guided fuzzer mutating `bytes` steers the case call by call,
/// and every invariant is checked as for a seed. The same bytes give the same case.
pub fn generate_scripted(
    setup: &Setup,
    bytes: &[u8],
    config: &Config,
    stats: &mut Stats,
) -> (Plan, Result<(), Violation>) {
    generate_with(setup, Dice::scripted(bytes), config, stats)
}

fn generate_with(
    setup: &Setup,
    mut dice: Dice,
    config: &Config,
    stats: &mut Stats,
) -> (Plan, Result<(), Violation>) {
    let profile = dice.index(world::PROFILES.len());
    let mut world = World::new(setup, profile);
    let mut memory = check::Memory::default();
    let mut plan = Plan {
        profile,
        blocks: Vec::new(),
    };
    let blocks = dice.between(
        u128::from(config.min_blocks),
        u128::from(config.max_blocks.max(config.min_blocks)),
    ) as u64;
    stats.cases += 1;
    for _ in 0..blocks {
        let view = view::View::read(&world.store, world.time_ms);
        let timestamp_ms = steer::next_time(&mut dice, &view);
        let count = 1 + dice.below(config.max_txs_per_block.max(1));
        let txs = {
            let mut ctx = generate::Ctx::new(&mut dice, &view, setup, &world.store);
            (0..count).map(|_| generate::tx(&mut ctx)).collect()
        };
        let offenses = staking_calls::offenses(&mut dice, &view);
        let block = BlockPlan {
            timestamp_ms,
            txs,
            offenses,
        };
        plan.blocks.push(block);
        let block = plan.blocks.last().expect("just pushed");
        let result = world.apply(block).and_then(|applied| {
            stats.record(&applied);
            check::after_block(&world, &mut memory, &applied)
        });
        if let Err(violation) = result {
            return (plan, Err(violation));
        }
    }
    let result = exits::drive(&mut world, &mut memory, stats);
    (plan, result)
}

/// Replays a plan (then the exit phase) with every check.
pub fn replay(setup: &Setup, plan: &Plan, stats: &mut Stats) -> Result<(), Violation> {
    let mut world = World::new(setup, plan.profile);
    let mut memory = check::Memory::default();
    for block in &plan.blocks {
        let applied = world.apply(block)?;
        stats.record(&applied);
        check::after_block(&world, &mut memory, &applied)?;
    }
    exits::drive(&mut world, &mut memory, stats)
}

/// The transactions of `plan` that created records, found by applying its blocks (without
/// checks) and reading the events.
fn creations(setup: &Setup, plan: &Plan) -> Vec<shrink::Creation> {
    use crate::{Event, lending::LendingEvent, market::MarketEvent};
    use shrink::Space;
    let mut world = World::new(setup, plan.profile);
    let mut found = Vec::new();
    for (b, block) in plan.blocks.iter().enumerate() {
        let Ok(applied) = world.apply(block) else {
            break;
        };
        for (t, receipt) in applied.receipts.iter().enumerate() {
            for event in &receipt.events {
                let made = match event {
                    Event::Market(MarketEvent::OfferCreated { offer, .. }) => {
                        (Space::Offer, *offer)
                    }
                    Event::Market(MarketEvent::TradeOpened { trade, .. }) => (Space::Trade, *trade),
                    Event::Lending(LendingEvent::LoanRequested { loan, .. }) => {
                        (Space::Loan, *loan)
                    }
                    Event::Lending(LendingEvent::CreditOffered { offer, .. }) => {
                        (Space::Credit, *offer)
                    }
                    _ => continue,
                };
                found.push((b, t, made.0, made.1));
            }
        }
    }
    found
}

/// Runs case `seed`; on a violation, shrinks the case and returns it as a counterexample.
pub fn run(
    setup: &Setup,
    seed: u64,
    config: &Config,
    stats: &mut Stats,
) -> Result<(), Box<Counterexample>> {
    let (plan, result) = generate(setup, seed, config, stats);
    let Err(violation) = result else {
        return Ok(());
    };
    let original = (plan.blocks.len(), plan.tx_count());
    let invariant = violation.invariant;
    let mut replays = Stats::default();
    let plan = shrink::shrink(
        plan,
        |candidate| replay(setup, candidate, &mut replays).is_err_and(|v| v.invariant == invariant),
        |candidate| creations(setup, candidate),
    );
    // The shrunk plan's own violation, which is what its trace shows.
    let violation = replay(setup, &plan, &mut replays)
        .err()
        .unwrap_or(violation);
    Err(Box::new(Counterexample {
        seed,
        violation,
        original,
        plan,
        names: setup.names(),
    }))
}
