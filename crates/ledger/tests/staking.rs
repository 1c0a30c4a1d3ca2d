//! The staking module: registration with a proven node key and a bond, unbonding, withdrawal
//! after the delay, a full registry giving way only to a larger bond, and the committee rule.
//! Every refusal is checked to change nothing but the fee and nonce; conservation and the
//! registry's own consistency are checked after every block by the test chain.

use commonware_cryptography::{Signer, ed25519::PrivateKey};
use ledger::{
    CallError, Event, Genesis, GenesisError, Outcome, Receipt,
    staking::{self, Db, StakingError, StakingEvent},
    state::{self, Module},
    testing::{self, TestChain, account, test_params},
};
use types::{
    AccountId, AssetId, Call, ChainId, Text,
    market::Nothing,
    staking::{KeyProof, RegisterValidator, StakingCall},
};

const EQA: u128 = 1_000_000_000;
/// The registry of these tests: a bond of at least 100 EQA, a day of unbonding, a committee of
/// 4 among at most 5 candidates.
const MIN_BOND: u128 = 100 * EQA;
const UNBONDING_MS: u64 = 86_400_000;
const ACCOUNTS: u64 = 8;

fn genesis_text(staking: &str) -> String {
    testing::staking_genesis_text(staking, ACCOUNTS)
}

fn chain() -> TestChain {
    let text = genesis_text(
        "min_bond = \"100\"\nunbonding_secs = 86400\ncommittee_size = 4\nmax_candidates = 5",
    );
    let mut genesis = Genesis::from_toml(&text).expect("a valid genesis");
    genesis.params = test_params();
    TestChain::from_genesis(&genesis)
}

/// The node key of node `index` (far from the account keys).
fn node(index: u64) -> PrivateKey {
    testing::key(10_000 + index)
}

fn node_key(index: u64) -> AccountId {
    AccountId::from_public_key(&node(index).public_key())
}

/// A registration of node `index` by account `signer`, proven as it should be.
fn registration(chain: &TestChain, signer: u64, index: u64, bond: u128) -> RegisterValidator {
    RegisterValidator {
        node_key: node_key(index),
        address: Text::new(format!("127.0.0.1:{}", 9_000 + index)).unwrap(),
        bond,
        key_proof: KeyProof::sign(&node(index), &chain.chain_id(), &account(signer)),
    }
}

fn submit(chain: &mut TestChain, signer: u64, call: StakingCall) -> Receipt {
    chain.submit(signer, Call::Staking(call))
}

fn staking_events(receipt: Receipt) -> Vec<StakingEvent> {
    assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
    receipt
        .events
        .into_iter()
        .filter_map(|event| match event {
            Event::Staking(event) => Some(event),
            _ => None,
        })
        .collect()
}

fn register(chain: &mut TestChain, signer: u64, index: u64, bond: u128) -> Vec<StakingEvent> {
    let call = registration(chain, signer, index, bond);
    staking_events(submit(chain, signer, StakingCall::Register(call)))
}

/// Submits `call`, expects it to fail with `expected`, and checks that it changed nothing but
/// the fee and the nonce.
fn refused(chain: &mut TestChain, signer: u64, call: StakingCall, expected: StakingError) {
    let before = chain.snapshot_except_fee(signer);
    let receipt = submit(chain, signer, call);
    assert_eq!(
        receipt.outcome,
        Outcome::Failed(CallError::Staking(expected)),
        "{receipt:?}"
    );
    assert!(receipt.events.is_empty());
    assert_eq!(chain.snapshot_except_fee(signer), before, "a refusal wrote");
}

fn held(chain: &TestChain) -> u128 {
    state::held(&chain.store, Module::Staking, AssetId::NATIVE)
}

fn committee(chain: &TestChain) -> Vec<AccountId> {
    staking::committee(&chain.store)
        .into_iter()
        .map(|validator| validator.account)
        .collect()
}

#[test]
fn a_registration_locks_the_bond_and_makes_a_candidate() {
    let mut chain = chain();
    let before = chain.balance(1, AssetId::NATIVE);
    let events = register(&mut chain, 1, 1, MIN_BOND);
    assert_eq!(
        events,
        vec![StakingEvent::ValidatorRegistered {
            account: account(1),
            node_key: node_key(1),
            bond: MIN_BOND,
        }]
    );
    let fee = before - chain.balance(1, AssetId::NATIVE) - MIN_BOND;
    assert!(
        fee > 0 && fee < EQA,
        "only the bond and a fee left the account"
    );
    assert_eq!(held(&chain), MIN_BOND);
    let record = Db::validator(&chain.store, &account(1)).unwrap();
    assert_eq!(record.node_key, node_key(1));
    assert_eq!(record.address.as_str(), "127.0.0.1:9001");
    assert_eq!(record.registered_height, chain.height);
    assert_eq!(record.unbonding, None);
    assert_eq!(
        Db::node_key_owner(&chain.store, &node_key(1)),
        Some(account(1))
    );
    assert_eq!(committee(&chain), vec![account(1)]);
}

#[test]
fn every_bad_registration_is_refused_and_changes_nothing() {
    let mut chain = chain();
    let chain_id = chain.chain_id();
    let with = |chain: &TestChain, change: &dyn Fn(&mut RegisterValidator)| {
        let mut call = registration(chain, 1, 1, MIN_BOND);
        change(&mut call);
        StakingCall::Register(call)
    };
    for bond in [0, 1, MIN_BOND - 1] {
        let call = with(&chain, &|c| c.bond = bond);
        let expected = StakingError::BondTooSmall {
            bond,
            minimum: MIN_BOND,
        };
        refused(&mut chain, 1, call, expected);
    }
    // More than the account holds once its fee is paid, up to the largest amount there is.
    for excess in [1, u128::MAX - chain.balance(1, AssetId::NATIVE)] {
        let before = chain.snapshot_except_fee(1);
        let bond = chain.balance(1, AssetId::NATIVE) + excess;
        let call = with(&chain, &|c| c.bond = bond);
        let receipt = submit(&mut chain, 1, call);
        let available = chain.balance(1, AssetId::NATIVE);
        assert_eq!(
            receipt.outcome,
            Outcome::Failed(CallError::Staking(StakingError::Bank(
                ledger::BankError::InsufficientBalance {
                    account: account(1),
                    asset: AssetId::NATIVE,
                    needed: bond,
                    available,
                }
            )))
        );
        assert_eq!(chain.snapshot_except_fee(1), before, "a refusal wrote");
    }
    for address in [
        "",
        "127.0.0.1",
        "127.0.0.1:0",
        "0.0.0.0:9000",
        "[::]:9000",
        "localhost:9000",
        "127.0.0.1:70000",
        " 127.0.0.1:9000",
        "127.0.0.1:09000",
        "[::ffff:0.0.0.0]:9000",
        "[::ffff:127.0.0.1]:9000",
        "255.255.255.255:9000",
        "224.0.0.1:9000",
        "[ff02::1]:9000",
        "[fe80::1%2]:9000",
        "[::1%0]:9000",
        "[0:0:0:0:0:0:0:1]:9000",
    ] {
        let call = with(&chain, &|c| c.address = Text::new(address).unwrap());
        let expected = StakingError::InvalidAddress {
            address: address.to_string(),
        };
        refused(&mut chain, 1, call, expected);
    }
    for address in [
        "10.0.0.1:9000",
        "203.0.113.7:30303",
        "[::1]:9000",
        "[2001:db8::7]:1",
    ] {
        assert!(staking::valid_address(address), "{address}");
    }
    // A proof made for another account (a registration seen in the mempool and replayed), for
    // another chain, or by a key other than the node key.
    let other = Box::new(|c: &mut RegisterValidator| {
        c.key_proof = KeyProof::sign(&node(1), &ChainId::new("equa-test").unwrap(), &account(2))
    }) as Box<dyn Fn(&mut RegisterValidator)>;
    let elsewhere = Box::new(|c: &mut RegisterValidator| {
        c.key_proof = KeyProof::sign(&node(1), &ChainId::new("equa-other").unwrap(), &account(1))
    }) as Box<dyn Fn(&mut RegisterValidator)>;
    let wrong_key = Box::new(|c: &mut RegisterValidator| {
        c.key_proof = KeyProof::sign(&node(2), &ChainId::new("equa-test").unwrap(), &account(1))
    }) as Box<dyn Fn(&mut RegisterValidator)>;
    let account_key = Box::new(|c: &mut RegisterValidator| {
        c.key_proof = KeyProof::sign(
            &testing::key(1),
            &ChainId::new("equa-test").unwrap(),
            &account(1),
        )
    }) as Box<dyn Fn(&mut RegisterValidator)>;
    assert_eq!(chain_id.as_str(), "equa-test");
    for change in [other, elsewhere, wrong_key, account_key] {
        let call = with(&chain, &*change);
        refused(&mut chain, 1, call, StakingError::BadKeyProof);
    }
    assert_eq!(held(&chain), 0);
    assert!(committee(&chain).is_empty());

    // Registered once: a second registration with another node key is refused (with the same
    // key it changes the bond: `a_registered_validator_raises_its_bond_or_returns_from_unbonding`).
    register(&mut chain, 1, 1, MIN_BOND);
    let again = StakingCall::Register(registration(&chain, 1, 2, MIN_BOND));
    refused(
        &mut chain,
        1,
        again,
        StakingError::AlreadyRegistered {
            account: account(1),
        },
    );
    // Another account holding a valid proof for the taken key (its operator signed for both).
    let taken = StakingCall::Register(registration(&chain, 2, 1, 2 * MIN_BOND));
    refused(
        &mut chain,
        2,
        taken,
        StakingError::NodeKeyTaken {
            node_key: node_key(1),
            account: account(1),
        },
    );
}

#[test]
fn a_bond_comes_back_only_after_the_unbonding_delay() {
    let mut chain = chain();
    let start = chain.balance(3, AssetId::NATIVE);
    refused(
        &mut chain,
        3,
        StakingCall::Unbond(Nothing),
        StakingError::NotRegistered {
            account: account(3),
        },
    );
    refused(
        &mut chain,
        3,
        StakingCall::Withdraw(Nothing),
        StakingError::NotRegistered {
            account: account(3),
        },
    );
    register(&mut chain, 3, 3, 2 * MIN_BOND);
    refused(
        &mut chain,
        3,
        StakingCall::Withdraw(Nothing),
        StakingError::NotUnbonding,
    );
    let events = staking_events(submit(&mut chain, 3, StakingCall::Unbond(Nothing)));
    let free_at_ms = chain.time_ms + UNBONDING_MS;
    assert_eq!(
        events,
        vec![StakingEvent::ValidatorUnbonding {
            account: account(3),
            bond_free_at_ms: free_at_ms,
            evicted: false,
        }]
    );
    assert!(
        committee(&chain).is_empty(),
        "an unbonding validator is no candidate"
    );
    assert_eq!(held(&chain), 2 * MIN_BOND, "the bond stays locked");
    refused(
        &mut chain,
        3,
        StakingCall::Unbond(Nothing),
        StakingError::AlreadyUnbonding { free_at_ms },
    );
    // Another account cannot take it: it withdraws its own registration, which it has not.
    refused(
        &mut chain,
        4,
        StakingCall::Withdraw(Nothing),
        StakingError::NotRegistered {
            account: account(4),
        },
    );
    // One millisecond before the bond is free.
    let next = testing::BLOCK_INTERVAL_MS;
    chain.advance_ms(free_at_ms - chain.time_ms - next - 1);
    refused(
        &mut chain,
        3,
        StakingCall::Withdraw(Nothing),
        StakingError::UnbondingRunning { free_at_ms },
    );
    // In a block exactly at the time it is free.
    let withdraw = chain.tx(3, Call::Staking(StakingCall::Withdraw(Nothing)));
    let context = ledger::BlockContext {
        timestamp_ms: free_at_ms,
        ..chain.next_context()
    };
    let events = staking_events(chain.apply_with(&context, &[withdraw]).remove(0));
    assert_eq!(chain.time_ms, free_at_ms);
    assert_eq!(
        events,
        vec![StakingEvent::BondWithdrawn {
            account: account(3),
            bond: 2 * MIN_BOND,
        }]
    );
    assert_eq!(held(&chain), 0);
    assert_eq!(Db::validator(&chain.store, &account(3)), None);
    let fees = start - chain.balance(3, AssetId::NATIVE);
    assert!(fees < EQA, "everything but the fees came back: {fees}");
    refused(
        &mut chain,
        3,
        StakingCall::Withdraw(Nothing),
        StakingError::NotRegistered {
            account: account(3),
        },
    );
}

#[test]
fn a_node_key_stays_taken_until_its_bond_is_withdrawn() {
    let mut chain = chain();
    register(&mut chain, 1, 7, MIN_BOND);
    staking_events(submit(&mut chain, 1, StakingCall::Unbond(Nothing)));
    let taken = StakingCall::Register(registration(&chain, 2, 7, MIN_BOND));
    refused(
        &mut chain,
        2,
        taken,
        StakingError::NodeKeyTaken {
            node_key: node_key(7),
            account: account(1),
        },
    );
    chain.advance_ms(UNBONDING_MS);
    staking_events(submit(&mut chain, 1, StakingCall::Withdraw(Nothing)));
    register(&mut chain, 2, 7, MIN_BOND);
    assert_eq!(
        Db::node_key_owner(&chain.store, &node_key(7)),
        Some(account(2))
    );
    // The first account comes back with another key of its own.
    register(&mut chain, 1, 8, MIN_BOND);
    assert_eq!(committee(&chain), {
        let mut both = vec![account(2), account(1)];
        both.sort_by_key(|a| Db::validator(&chain.store, a).unwrap().registered_height);
        both
    });
}

#[test]
fn a_full_registry_gives_way_only_to_a_larger_bond() {
    let mut chain = chain();
    // Five candidates fill the registry; accounts 1 and 2 have the lowest bond, 1 registered first.
    for (signer, bond) in [(1, 150), (2, 150), (3, 300), (4, 400), (5, 500)] {
        register(&mut chain, signer, signer, bond * EQA);
    }
    let equal = StakingCall::Register(registration(&chain, 6, 6, 150 * EQA));
    refused(
        &mut chain,
        6,
        equal,
        StakingError::RegistryFull {
            max: 5,
            lowest_bond: 150 * EQA,
        },
    );
    // One minor unit more takes the place of the later of the two lowest.
    let events = register(&mut chain, 6, 6, 150 * EQA + 1);
    let free_at_ms = chain.time_ms + UNBONDING_MS;
    assert_eq!(
        events,
        vec![
            StakingEvent::ValidatorUnbonding {
                account: account(2),
                bond_free_at_ms: free_at_ms,
                evicted: true,
            },
            StakingEvent::ValidatorRegistered {
                account: account(6),
                node_key: node_key(6),
                bond: 150 * EQA + 1,
            },
        ]
    );
    assert_eq!(Db::candidates(&chain.store).len(), 5);
    let evicted = Db::validator(&chain.store, &account(2)).unwrap();
    assert!(
        evicted
            .unbonding
            .as_ref()
            .is_some_and(|u| u.reason == staking::UnbondReason::Outbid)
    );
    // The evicted candidate waits out the delay like anyone leaving, then gets its whole bond.
    let before = chain.balance(2, AssetId::NATIVE);
    refused(
        &mut chain,
        2,
        StakingCall::Withdraw(Nothing),
        StakingError::UnbondingRunning { free_at_ms },
    );
    chain.advance_ms(UNBONDING_MS);
    events_of_withdrawal(&mut chain, 2, 150 * EQA);
    assert!(chain.balance(2, AssetId::NATIVE) + EQA > before + 150 * EQA);
    assert_eq!(
        held(&chain),
        (150 + 300 + 400 + 500) * EQA + 150 * EQA + 1,
        "the staking module holds the five candidates' bonds"
    );
}

fn events_of_withdrawal(chain: &mut TestChain, signer: u64, bond: u128) {
    let events = staking_events(submit(chain, signer, StakingCall::Withdraw(Nothing)));
    assert_eq!(
        events,
        vec![StakingEvent::BondWithdrawn {
            account: account(signer),
            bond,
        }]
    );
}

#[test]
fn the_committee_is_the_largest_bonds_then_the_earliest_registrations() {
    let mut chain = chain();
    // Heights rise with each registration; account 5 and 2 tie on bond with 3.
    for (signer, bond) in [(1, 100), (3, 300), (2, 300), (4, 900), (5, 300)] {
        register(&mut chain, signer, signer, bond * EQA);
    }
    assert_eq!(
        committee(&chain),
        vec![account(4), account(3), account(2), account(5)],
        "four seats: the largest bond, then the three equal bonds in registration order"
    );
    // Unbonding frees a seat at once for the next candidate.
    staking_events(submit(&mut chain, 4, StakingCall::Unbond(Nothing)));
    assert_eq!(
        committee(&chain),
        vec![account(3), account(2), account(5), account(1)]
    );
}

#[test]
fn registrations_racing_in_one_block_take_the_key_and_the_places_in_order() {
    let mut chain = chain();
    // One operator signed proofs of one key for two accounts; both register in one block.
    let first = chain.tx(
        1,
        Call::Staking(StakingCall::Register(registration(&chain, 1, 1, MIN_BOND))),
    );
    let second = chain.tx(
        2,
        Call::Staking(StakingCall::Register(registration(
            &chain,
            2,
            1,
            2 * MIN_BOND,
        ))),
    );
    let receipts = chain.apply(&[first, second]);
    assert_eq!(receipts[0].outcome, Outcome::Success);
    assert_eq!(
        receipts[1].outcome,
        Outcome::Failed(CallError::Staking(StakingError::NodeKeyTaken {
            node_key: node_key(1),
            account: account(1),
        }))
    );
    // Four more fill the registry's last places in one block: the fifth place goes to the first
    // in the block, and the last one must out-bond the lowest.
    for signer in 2..=4 {
        register(&mut chain, signer, signer, MIN_BOND);
    }
    let a = chain.tx(
        5,
        Call::Staking(StakingCall::Register(registration(&chain, 5, 5, MIN_BOND))),
    );
    let b = chain.tx(
        6,
        Call::Staking(StakingCall::Register(registration(&chain, 6, 6, MIN_BOND))),
    );
    let receipts = chain.apply(&[a, b]);
    assert_eq!(receipts[0].outcome, Outcome::Success);
    assert_eq!(
        receipts[1].outcome,
        Outcome::Failed(CallError::Staking(StakingError::RegistryFull {
            max: 5,
            lowest_bond: MIN_BOND,
        }))
    );
}

#[test]
fn staking_parameters_out_of_range_are_refused_at_genesis() {
    for (fields, field) in [
        ("min_bond = \"0\"", "params.staking.min_bond"),
        ("unbonding_secs = 0", "params.staking.unbonding_secs"),
        ("committee_size = 3", "params.staking.committee_size"),
        ("committee_size = 101", "params.staking.committee_size"),
        (
            "committee_size = 8\nmax_candidates = 7",
            "params.staking.max_candidates",
        ),
        ("max_candidates = 1025", "params.staking.max_candidates"),
        ("min_bond = \"-1\"", "params.staking.min_bond"),
    ] {
        match Genesis::from_toml(&genesis_text(fields)) {
            Err(GenesisError::Invalid { field: found, .. }) => {
                assert_eq!(found, field, "{fields}")
            }
            other => panic!("{fields}: expected a refusal of {field}, got {other:?}"),
        }
    }
    let defaults = Genesis::from_toml(&genesis_text("")).unwrap().staking;
    assert_eq!(defaults, staking::StakingParams::defaults(9));
    assert_eq!(defaults.min_bond, 10_000 * EQA);
}

fn validator_entry(index: u64, bond: &str) -> String {
    let p2p = format!("127.0.0.1:{}", 9_000 + index);
    testing::validator_entry(index, &node_key(index), &p2p, bond)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const GENESIS_STAKING: &str = "min_bond = \"100\"\nunbonding_secs = 86400\ncommittee_size = 4\n\
                               max_candidates = 5\nblocks_per_epoch = 16";

#[test]
fn genesis_validators_are_candidates_with_their_bonds_locked() {
    let mut text = genesis_text(GENESIS_STAKING);
    for (index, bond) in [(1, "100"), (2, "300"), (3, "200")] {
        text.push_str(&validator_entry(index, bond));
    }
    let mut genesis = Genesis::from_toml(&text).expect("a valid genesis");
    genesis.params = test_params();
    let mut chain = TestChain::from_genesis(&genesis);
    assert_eq!(committee(&chain), vec![account(2), account(3), account(1)]);
    assert_eq!(held(&chain), 600 * EQA);
    assert_eq!(chain.balance(2, AssetId::NATIVE), (10_000 - 300) * EQA);
    let record = Db::validator(&chain.store, &account(2)).unwrap();
    assert_eq!(record.address.as_str(), "127.0.0.1:9002");
    assert_eq!(record.registered_height, 0);
    // A genesis validator sits on the committees of epochs 0 to 2 (16 blocks each here) and
    // leaves like any other: once someone has taken its seat and its service has ended.
    staking_events(submit(&mut chain, 1, StakingCall::Unbond(Nothing)));
    register(&mut chain, 4, 4, MIN_BOND);
    while chain.height < 4 * 16 {
        chain.apply(&[]);
    }
    chain.advance_ms(UNBONDING_MS);
    staking_events(submit(&mut chain, 1, StakingCall::Withdraw(Nothing)));
    assert_eq!(held(&chain), 600 * EQA);
}

#[test]
fn a_bad_genesis_validator_is_refused_with_its_field() {
    let entry = |index: u64, node: &str, p2p: &str, bond: &str| {
        format!(
            "[[validators]]\naddress = \"{}\"\nnode_key = \"{node}\"\np2p = \"{p2p}\"\nbond = \"{bond}\"\n",
            account(index)
        )
    };
    let key = hex(node_key(1).as_bytes());
    let other_key = hex(node_key(2).as_bytes());
    let arbitrator = format!(
        "[[arbitrators]]\naddress = \"{}\"\nbond = \"9950\"\nfee_bps = 100\nlanguages = \"en\"\n",
        account(1)
    );
    let cases: Vec<(String, &str)> = vec![
        (
            entry(1, "00", "127.0.0.1:9000", "100"),
            "validators[0].node_key",
        ),
        (
            entry(1, &"zz".repeat(32), "127.0.0.1:9000", "100"),
            "validators[0].node_key",
        ),
        (entry(1, &key, "0.0.0.0:9000", "100"), "validators[0].p2p"),
        (
            entry(1, &key, "127.0.0.1:9000", "99.999"),
            "validators[0].bond",
        ),
        (
            entry(1, &key, "127.0.0.1:9000", "10000.000000001"),
            "validators[0].bond",
        ),
        (
            entry(1, &key, "127.0.0.1:9000", "100")
                + &entry(1, &other_key, "127.0.0.1:9001", "100"),
            "validators[1].address",
        ),
        (
            entry(1, &key, "127.0.0.1:9000", "100") + &entry(2, &key, "127.0.0.1:9001", "100"),
            "validators[1].node_key",
        ),
        (
            (1..=6)
                .map(|i| validator_entry(i, "100"))
                .collect::<String>(),
            "validators",
        ),
        // An arbitrator's bond and a validator's bond from one balance that covers only one.
        (
            arbitrator + &entry(1, &key, "127.0.0.1:9000", "100"),
            "validators[0].bond",
        ),
    ];
    for (entries, field) in cases {
        let text = genesis_text(GENESIS_STAKING) + &entries;
        match Genesis::from_toml(&text) {
            Err(GenesisError::Invalid { field: found, .. })
            | Err(GenesisError::DuplicateAccount { field: found, .. }) => {
                assert_eq!(found, field, "{entries}")
            }
            Err(GenesisError::Amount { field: found, .. }) => assert_eq!(found, field, "{entries}"),
            Err(other) => panic!("{entries}: expected a refusal of {field}, got {other}"),
            Ok(_) => panic!("{entries}: expected a refusal of {field}"),
        }
    }
}

#[test]
fn a_registered_validator_raises_its_bond_or_returns_from_unbonding() {
    let mut chain = chain();
    for (signer, bond) in [(1, 100), (2, 200), (3, 300), (4, 400), (5, 500)] {
        register(&mut chain, signer, signer, bond * EQA);
    }
    // A candidate: the same bond, or less, changes nothing; more raises it (the difference is
    // locked), with a new address, keeping its place in the order of registration.
    for (signer, bond, current) in [(1, 100, 100), (3, 300, 300), (3, 299, 300), (3, 100, 300)] {
        let call = StakingCall::Register(registration(&chain, signer, signer, bond * EQA));
        refused(
            &mut chain,
            signer,
            call,
            StakingError::BondNotRaised {
                bond: bond * EQA,
                current: current * EQA,
            },
        );
    }
    let before = chain.balance(1, AssetId::NATIVE);
    let mut call = registration(&chain, 1, 1, 600 * EQA);
    call.address = Text::new("127.0.0.1:7001").unwrap();
    staking_events(submit(&mut chain, 1, StakingCall::Register(call)));
    let paid = before - chain.balance(1, AssetId::NATIVE);
    assert!(
        (500 * EQA..501 * EQA).contains(&paid),
        "the difference was locked: {paid}"
    );
    let record = Db::validator(&chain.store, &account(1)).unwrap();
    assert_eq!((record.bond, record.registered_height), (600 * EQA, 1));
    assert_eq!(record.address.as_str(), "127.0.0.1:7001");
    assert_eq!(committee(&chain)[0], account(1));
    assert_eq!(held(&chain), (600 + 200 + 300 + 400 + 500) * EQA);

    // Unbonding, then back: the registry is full again meanwhile, so it must out-bond the
    // lowest; it comes back as a new registration (its seniority starts over).
    staking_events(submit(&mut chain, 2, StakingCall::Unbond(Nothing)));
    register(&mut chain, 6, 6, 250 * EQA);
    let back = StakingCall::Register(registration(&chain, 2, 2, 250 * EQA));
    refused(
        &mut chain,
        2,
        back,
        StakingError::RegistryFull {
            max: 5,
            lowest_bond: 250 * EQA,
        },
    );
    let events = register(&mut chain, 2, 2, 250 * EQA + 1);
    assert!(
        matches!(
            events.as_slice(),
            [
                StakingEvent::ValidatorUnbonding {
                    account: evicted,
                    evicted: true,
                    ..
                },
                StakingEvent::ValidatorRegistered { bond, .. },
            ] if *evicted == account(6) && *bond == 250 * EQA + 1
        ),
        "{events:?}"
    );
    let record = Db::validator(&chain.store, &account(2)).unwrap();
    assert_eq!(record.unbonding, None);
    assert_eq!(record.registered_height, chain.height);
    assert_eq!(
        held(&chain),
        (600 + 250 + 300 + 400 + 500 + 250) * EQA + 1,
        "six bonds: five candidates and the evicted one"
    );
}
