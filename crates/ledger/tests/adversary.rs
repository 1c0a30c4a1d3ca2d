//! The ledger adversary on a fixed set of seeds: every case must keep every invariant, and
//! together the cases must reach the deep states (trades through disputes and rulings, loans
//! through repayment, default and claims), or the adversary is not testing them.

use ledger::adversary::{self, Config, Setup, Stats};

/// Seeds `0..SEEDS`, each a case of 20 to 60 blocks followed by its exit phase.
const SEEDS: u64 = 100;

#[test]
fn fixed_seeds_keep_every_invariant() {
    let setup = Setup::new();
    let config = Config::default();
    let mut stats = Stats::default();
    let mut failures = Vec::new();
    for seed in 0..SEEDS {
        if let Err(counterexample) = adversary::run(&setup, seed, &config, &mut stats) {
            failures.push(counterexample.to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {SEEDS} seeds broke an invariant:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every call that moves money or ends a record succeeded somewhere in these cases.
    let deep = [
        "bank.transfer",
        "bank.mint",
        "bank.burn",
        "market.create_offer",
        "market.update_offer",
        "market.take_offer",
        "market.mark_paid",
        "market.release",
        "market.cancel_trade",
        "market.claim_timeout",
        "market.open_dispute",
        "market.rule",
        "market.reassign",
        "market.withdraw_bond",
        "lending.request",
        "lending.fund",
        "lending.withdraw",
        "lending.accept",
        "lending.expire",
        "lending.take_credit",
        "lending.repay",
        "lending.claim",
        "lending.declare_default",
        "staking.register",
        "staking.unbond",
        "staking.withdraw",
        "staking.register_node",
        "staking.unregister_node",
    ];
    let missing: Vec<_> = deep
        .iter()
        .filter(|kind| !stats.succeeded.contains_key(*kind))
        .collect();
    assert!(
        missing.is_empty(),
        "no case reached a successful {missing:?}; successes: {:?}",
        stats.succeeded
    );
    // Offenses reached bonds: blocks burned part of one.
    assert!(stats.slashes > 0, "no offense burned any bond");
    // Every way a staking call can be refused was tried and refused.
    let refusals = [
        ("staking.register", "AlreadyRegistered"),
        ("staking.register", "NodeKeyTaken"),
        ("staking.register", "BadKeyProof"),
        ("staking.register", "BondTooSmall"),
        ("staking.register", "InvalidAddress"),
        ("staking.register", "RegistryFull"),
        ("staking.register", "BondNotRaised"),
        ("staking.register", "Slashed"),
        ("staking.unbond", "NotRegistered"),
        ("staking.unbond", "AlreadyUnbonding"),
        ("staking.withdraw", "NotRegistered"),
        ("staking.withdraw", "NotUnbonding"),
        ("staking.withdraw", "UnbondingRunning"),
        ("staking.withdraw", "StillServing"),
        ("staking.register_node", "NodeKeyTaken"),
        ("staking.register_node", "BadKeyProof"),
        ("staking.register_node", "DepositTooSmall"),
        ("staking.register_node", "DepositNotRaised"),
        ("staking.register_node", "InvalidAddress"),
        ("staking.register_node", "NodeRegistryFull"),
        ("staking.unregister_node", "NodeNotRegistered"),
        ("staking.unregister_node", "NotNodeOwner"),
        ("staking.unregister_node", "NodeStillAdmitted"),
    ];
    let untried: Vec<_> = refusals
        .iter()
        .filter(|(kind, error)| {
            !stats
                .failed
                .keys()
                .any(|(k, e)| k == kind && e.contains(error))
        })
        .collect();
    assert!(
        untried.is_empty(),
        "no case was refused with {untried:?}; refusals: {:?}; successes: {:?}",
        stats
            .failed
            .iter()
            .filter(|((k, _), _)| k.starts_with("staking"))
            .collect::<Vec<_>>(),
        stats
            .succeeded
            .iter()
            .filter(|(k, _)| k.starts_with("staking"))
            .collect::<Vec<_>>()
    );
}
