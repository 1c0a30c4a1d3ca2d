//! Full nodes' keys in the staking registry: who may register one, with what deposit, and what
//! every refusal leaves unchanged; a full registry taken over by larger deposits; keys shared
//! with validators refused both ways; deposits returned whole. The test chain checks
//! conservation and the registry's consistency after every block.

use commonware_cryptography::{Signer, ed25519::PrivateKey};
use ledger::{
    CallError, Genesis, GenesisError, Outcome, Receipt,
    error::BankError,
    staking::{self, Db, StakingError},
    state::{self, Module},
    testing::{self, TestChain, account, test_params},
};
use types::{
    AccountId, AssetId, Call, Text,
    staking::{KeyProof, RegisterNode, RegisterValidator, StakingCall, UnregisterNode},
};

const EQA: u128 = 1_000_000_000;
const ACCOUNTS: u64 = 8;
const STAKING: &str = "min_bond = \"100\"\nunbonding_secs = 86400\ncommittee_size = 4\n\
                       max_candidates = 8\nblocks_per_epoch = 16\nnode_deposit = \"10\"\n\
                       max_nodes = 3";

fn node(index: u64) -> PrivateKey {
    testing::key(30_000 + index)
}

fn node_key(index: u64) -> AccountId {
    AccountId::from_public_key(&node(index).public_key())
}

fn chain_from(text: &str) -> TestChain {
    let mut genesis = Genesis::from_toml(text).expect("a valid genesis");
    genesis.params = test_params();
    TestChain::from_genesis(&genesis)
}

/// A chain whose genesis registers validator 1 with node key 1 (and no full node).
fn chain() -> TestChain {
    let mut text = testing::staking_genesis_text(STAKING, ACCOUNTS);
    text.push_str(&testing::validator_entry(
        1,
        &node_key(1),
        "127.0.0.1:9001",
        "100",
    ));
    chain_from(&text)
}

/// Account `owner` registering node key `key` with `deposit`, proved by the key.
fn registration(owner: u64, key: u64, deposit: u128) -> RegisterNode {
    let chain_id = types::ChainId::new(testing::TEST_CHAIN_ID).unwrap();
    RegisterNode {
        node_key: node_key(key),
        address: Text::new(format!("127.0.0.1:{}", 9_100 + key)).unwrap(),
        deposit,
        key_proof: KeyProof::sign_node(&node(key), &chain_id, &account(owner)),
    }
}

fn submit(chain: &mut TestChain, signer: u64, call: StakingCall) -> Receipt {
    chain.submit(signer, Call::Staking(call))
}

fn ok(receipt: Receipt) {
    assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
}

/// Registers, and returns the fee paid.
fn register(chain: &mut TestChain, owner: u64, key: u64, deposit: u128) -> u128 {
    let call = registration(owner, key, deposit);
    let receipt = submit(chain, owner, StakingCall::RegisterNode(call));
    let fee = receipt.fee_paid;
    ok(receipt);
    fee
}

/// Submits `call` by `signer`, expects `expected`, and checks it changed nothing but the fee and
/// the nonce.
fn refused(chain: &mut TestChain, signer: u64, call: StakingCall, expected: StakingError) {
    let before = chain.snapshot_except_fee(signer);
    let receipt = submit(chain, signer, call);
    assert_eq!(
        receipt.outcome,
        Outcome::Failed(CallError::Staking(expected)),
        "{receipt:?}"
    );
    assert_eq!(chain.snapshot_except_fee(signer), before, "a refusal wrote");
}

/// Blocks per epoch in [`STAKING`].
const L: u64 = 16;

/// Applies empty blocks until the next block is at `height`.
fn run_until_next_is(chain: &mut TestChain, height: u64) {
    while chain.height + 1 < height {
        chain.apply(&[]);
    }
}

fn unregister_call(key: u64) -> StakingCall {
    StakingCall::UnregisterNode(UnregisterNode {
        node_key: node_key(key),
    })
}

fn listed(chain: &TestChain) -> Vec<AccountId> {
    Db::full_nodes(&chain.store)
}

fn held(chain: &TestChain) -> u128 {
    state::held(&chain.store, Module::Staking, AssetId::NATIVE)
}

#[test]
fn a_registered_key_is_listed_and_its_deposit_comes_back_whole() {
    let mut chain = chain();
    let before = chain.balance(2, AssetId::NATIVE);
    let held_before = held(&chain);
    let mut fees = register(&mut chain, 2, 5, 10 * EQA);
    assert_eq!(listed(&chain), vec![node_key(5)]);
    let record = Db::full_node(&chain.store, &node_key(5)).unwrap();
    assert_eq!(record.owner, account(2));
    assert_eq!(record.deposit, 10 * EQA);
    assert_eq!(record.address.as_str(), "127.0.0.1:9105");
    assert_eq!(chain.balance(2, AssetId::NATIVE), before - 10 * EQA - fees);
    assert_eq!(held(&chain), held_before + 10 * EQA);

    // Peers admit it through the epoch after the one it registered in (epoch 0 here).
    run_until_next_is(&mut chain, 2 * L);
    let receipt = submit(&mut chain, 2, unregister_call(5));
    fees += receipt.fee_paid;
    ok(receipt);
    assert!(listed(&chain).is_empty());
    assert!(Db::full_node(&chain.store, &node_key(5)).is_none());
    assert_eq!(chain.balance(2, AssetId::NATIVE), before - fees);
    assert_eq!(held(&chain), held_before);
}

#[test]
fn one_account_may_register_several_keys_each_with_its_own_deposit() {
    let mut chain = chain();
    register(&mut chain, 2, 5, 10 * EQA);
    register(&mut chain, 2, 6, 11 * EQA);
    assert_eq!(listed(&chain).len(), 2);
    assert_eq!(held(&chain), 100 * EQA + 21 * EQA);
}

#[test]
fn its_owner_raises_the_deposit_and_moves_the_address_keeping_its_seniority() {
    let mut chain = chain();
    register(&mut chain, 2, 5, 10 * EQA);
    let first = Db::full_node(&chain.store, &node_key(5)).unwrap();
    chain.apply(&[]);
    let mut again = registration(2, 5, 10 * EQA);
    again.address = Text::new("127.0.0.1:7000").unwrap();
    ok(submit(&mut chain, 2, StakingCall::RegisterNode(again)));
    let moved = Db::full_node(&chain.store, &node_key(5)).unwrap();
    assert_eq!(moved.address.as_str(), "127.0.0.1:7000");
    assert_eq!(moved.deposit, 10 * EQA);
    assert_eq!(moved.registered_height, first.registered_height);

    let before = chain.balance(2, AssetId::NATIVE);
    let fee = register(&mut chain, 2, 5, 15 * EQA);
    assert_eq!(chain.balance(2, AssetId::NATIVE), before - 5 * EQA - fee);
    assert_eq!(
        Db::full_node(&chain.store, &node_key(5)).unwrap().deposit,
        15 * EQA
    );
    refused(
        &mut chain,
        2,
        StakingCall::RegisterNode(registration(2, 5, 15 * EQA - 1)),
        StakingError::DepositNotRaised {
            deposit: 15 * EQA - 1,
            current: 15 * EQA,
        },
    );
}

#[test]
fn every_bad_registration_is_refused_and_changes_nothing() {
    let mut chain = chain();
    register(&mut chain, 2, 5, 10 * EQA);
    let id = chain.chain_id();

    // A deposit of 0, and one below the minimum.
    for deposit in [0, 10 * EQA - 1] {
        refused(
            &mut chain,
            3,
            StakingCall::RegisterNode(registration(3, 6, deposit)),
            StakingError::DepositTooSmall {
                deposit,
                minimum: 10 * EQA,
            },
        );
    }
    // Addresses one cannot dial.
    for address in ["0.0.0.0:9000", "127.0.0.1:0", "localhost:9000", ""] {
        let mut call = registration(3, 6, 10 * EQA);
        call.address = Text::new(address).unwrap();
        refused(
            &mut chain,
            3,
            StakingCall::RegisterNode(call),
            StakingError::InvalidAddress {
                address: address.into(),
            },
        );
    }
    // Key proofs: another account's, another chain's, another key's.
    let mut call = registration(3, 6, 10 * EQA);
    for proof in [
        KeyProof::sign_node(&node(6), &id, &account(4)),
        KeyProof::sign_node(
            &node(6),
            &types::ChainId::new("equa-elsewhere").unwrap(),
            &account(3),
        ),
        KeyProof::sign_node(&node(7), &id, &account(3)),
        // A validator's proof for the same key and account.
        KeyProof::sign(&node(6), &id, &account(3)),
    ] {
        call.key_proof = proof;
        refused(
            &mut chain,
            3,
            StakingCall::RegisterNode(call.clone()),
            StakingError::BadKeyProof,
        );
    }
    // Someone else's full node key, even with a proof for the taker (the key's holder signed
    // it, but the owner's registration stands).
    refused(
        &mut chain,
        3,
        StakingCall::RegisterNode(registration(3, 5, 50 * EQA)),
        StakingError::NodeKeyTaken {
            node_key: node_key(5),
            account: account(2),
        },
    );
    // A validator's node key, by anyone, its own account included.
    for signer in [3, 1] {
        refused(
            &mut chain,
            signer,
            StakingCall::RegisterNode(registration(signer, 1, 10 * EQA)),
            StakingError::NodeKeyTaken {
                node_key: node_key(1),
                account: account(1),
            },
        );
    }
    // More than the account holds, and the largest amount there is.
    let balance = chain.balance(3, AssetId::NATIVE);
    for deposit in [balance + 1, u128::MAX] {
        let receipt = submit(
            &mut chain,
            3,
            StakingCall::RegisterNode(registration(3, 6, deposit)),
        );
        assert!(
            matches!(
                receipt.outcome,
                Outcome::Failed(CallError::Staking(StakingError::Bank(
                    BankError::InsufficientBalance { .. }
                )))
            ),
            "{receipt:?}"
        );
    }
    assert_eq!(listed(&chain), vec![node_key(5)]);
}

#[test]
fn a_full_nodes_key_cannot_become_a_validators() {
    let mut chain = chain();
    register(&mut chain, 2, 5, 10 * EQA);
    for signer in [2, 3] {
        let call = StakingCall::Register(RegisterValidator {
            node_key: node_key(5),
            address: Text::new("127.0.0.1:9005").unwrap(),
            bond: 100 * EQA,
            key_proof: KeyProof::sign(&node(5), &chain.chain_id(), &account(signer)),
        });
        refused(
            &mut chain,
            signer,
            call,
            StakingError::NodeKeyTaken {
                node_key: node_key(5),
                account: account(2),
            },
        );
    }
}

#[test]
fn only_the_owner_unregisters_and_only_a_registered_key() {
    let mut chain = chain();
    register(&mut chain, 2, 5, 10 * EQA);
    let call = |key| {
        StakingCall::UnregisterNode(UnregisterNode {
            node_key: node_key(key),
        })
    };
    refused(
        &mut chain,
        3,
        call(5),
        StakingError::NotNodeOwner {
            node_key: node_key(5),
            owner: account(2),
        },
    );
    refused(
        &mut chain,
        2,
        call(6),
        StakingError::NodeNotRegistered {
            node_key: node_key(6),
        },
    );
    // A validator's key is not a full node's.
    refused(
        &mut chain,
        1,
        call(1),
        StakingError::NodeNotRegistered {
            node_key: node_key(1),
        },
    );
    run_until_next_is(&mut chain, 2 * L);
    ok(submit(&mut chain, 2, call(5)));
    // Twice: the second finds nothing.
    refused(
        &mut chain,
        2,
        call(5),
        StakingError::NodeNotRegistered {
            node_key: node_key(5),
        },
    );
}

#[test]
fn a_full_registry_takes_a_larger_deposit_and_returns_the_lowest_whole() {
    let mut chain = chain();
    // Keys 5 and 6 with the minimum (6 the later), 7 with more: the registry (3) is full.
    register(&mut chain, 2, 5, 10 * EQA);
    register(&mut chain, 3, 6, 10 * EQA);
    register(&mut chain, 4, 7, 20 * EQA);
    // The lowest deposit is not enough, nor the same again by someone already registered.
    refused(
        &mut chain,
        5,
        StakingCall::RegisterNode(registration(5, 8, 10 * EQA)),
        StakingError::NodeRegistryFull {
            max: 3,
            lowest_deposit: 10 * EQA,
        },
    );
    // One unit more pushes out the latest of the lowest (key 6), whose owner gets it all back.
    let owner_before = chain.balance(3, AssetId::NATIVE);
    let receipt = submit(
        &mut chain,
        5,
        StakingCall::RegisterNode(registration(5, 8, 10 * EQA + 1)),
    );
    assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
    assert!(receipt.events.iter().any(|event| matches!(
        event,
        ledger::receipt::Event::Staking(staking::StakingEvent::NodeUnregistered {
            node_key, evicted: true, ..
        }) if *node_key == self::node_key(6)
    )));
    let mut expected = vec![node_key(5), node_key(7), node_key(8)];
    expected.sort();
    assert_eq!(listed(&chain), expected);
    assert_eq!(chain.balance(3, AssetId::NATIVE), owner_before + 10 * EQA);
    // Its owner may register it again once it out-deposits the lowest.
    register(&mut chain, 3, 6, 11 * EQA);
    assert!(Db::full_node(&chain.store, &node_key(5)).is_none());
    assert_eq!(listed(&chain).len(), 3);
}

#[test]
fn two_accounts_racing_for_one_key_in_a_block_leave_it_with_the_first() {
    let mut chain = chain();
    let first = chain.tx(
        2,
        Call::Staking(StakingCall::RegisterNode(registration(2, 5, 10 * EQA))),
    );
    let second = chain.tx(
        3,
        Call::Staking(StakingCall::RegisterNode(registration(3, 5, 90 * EQA))),
    );
    let receipts = chain.apply(&[first, second]);
    assert_eq!(receipts[0].outcome, Outcome::Success, "{:?}", receipts[0]);
    assert_eq!(
        receipts[1].outcome,
        Outcome::Failed(CallError::Staking(StakingError::NodeKeyTaken {
            node_key: node_key(5),
            account: account(2),
        }))
    );
    assert_eq!(
        Db::full_node(&chain.store, &node_key(5)).unwrap().owner,
        account(2)
    );
}

#[test]
fn a_deposit_stands_through_the_epoch_after_its_registration_at_every_height() {
    let mut chain = chain();
    // Registered in the last block of epoch 1: admitted by peers through epoch 2.
    run_until_next_is(&mut chain, 2 * L - 1);
    register(&mut chain, 2, 5, 10 * EQA);
    let registered_height = chain.height;
    assert_eq!(registered_height, 2 * L - 1);
    // (Not at an epoch's first block, which writes the committees whatever the calls.)
    for height in [2 * L + 1, 3 * L - 1] {
        run_until_next_is(&mut chain, height);
        refused(
            &mut chain,
            2,
            unregister_call(5),
            StakingError::NodeStillAdmitted {
                registered_height,
                from_height: 3 * L,
            },
        );
    }
    assert_eq!(chain.height, 3 * L - 1);
    ok(submit(&mut chain, 2, unregister_call(5)));
}

#[test]
fn a_flash_eviction_of_every_honest_node_locks_the_attackers_deposits_for_the_epochs_it_buys() {
    let mut chain = chain();
    register(&mut chain, 2, 5, 10 * EQA);
    register(&mut chain, 3, 6, 10 * EQA);
    register(&mut chain, 4, 7, 10 * EQA);
    // In the last block of an epoch the attacker (account 7) pushes all three out with one unit
    // more each, and tries to take its deposits back in the same block.
    run_until_next_is(&mut chain, 3 * L - 1);
    let mut txs = Vec::new();
    for (nonce, key) in (20..23).enumerate() {
        let call = Call::Staking(StakingCall::RegisterNode(registration(
            7,
            key,
            10 * EQA + 1,
        )));
        txs.push(chain.tx_with(7, chain.nonce(7) + nonce as u64, call));
    }
    for (nonce, key) in (20..23).enumerate() {
        let call = Call::Staking(unregister_call(key));
        txs.push(chain.tx_with(7, chain.nonce(7) + 3 + nonce as u64, call));
    }
    let before = chain.balance(7, AssetId::NATIVE);
    let receipts = chain.apply(&txs);
    for receipt in &receipts[..3] {
        assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
    }
    for receipt in &receipts[3..] {
        assert!(
            matches!(
                receipt.outcome,
                Outcome::Failed(CallError::Staking(StakingError::NodeStillAdmitted { .. }))
            ),
            "{receipt:?}"
        );
    }
    // Its three deposits stay locked through the next epoch; the evicted owners were paid back.
    let fees: u128 = receipts.iter().map(|receipt| receipt.fee_paid).sum();
    assert_eq!(
        chain.balance(7, AssetId::NATIVE),
        before - 3 * (10 * EQA + 1) - fees
    );
    let mut attackers: Vec<AccountId> = (20..23).map(node_key).collect();
    attackers.sort();
    assert_eq!(listed(&chain), attackers);
    assert_eq!(held(&chain), 100 * EQA + 3 * (10 * EQA + 1));
}

fn node_entry(owner: u64, key: u64, deposit: &str) -> String {
    let hex: String = node_key(key)
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "[[nodes]]\nowner = \"{}\"\nnode_key = \"{hex}\"\np2p = \"127.0.0.1:{}\"\ndeposit = \"{deposit}\"\n",
        account(owner),
        9_100 + key
    )
}

#[test]
fn genesis_registers_full_nodes_with_their_deposits_locked() {
    let mut text = testing::staking_genesis_text(STAKING, ACCOUNTS);
    text.push_str(&node_entry(2, 5, "10"));
    text.push_str(&node_entry(2, 6, "30"));
    let chain = chain_from(&text);
    let mut expected = vec![node_key(5), node_key(6)];
    expected.sort();
    assert_eq!(listed(&chain), expected);
    assert_eq!(held(&chain), 40 * EQA);
    assert_eq!(chain.balance(2, AssetId::NATIVE), 10_000 * EQA - 40 * EQA);
}

#[test]
fn a_genesis_with_a_bad_full_node_names_the_field() {
    let base = || {
        let mut text = testing::staking_genesis_text(STAKING, ACCOUNTS);
        text.push_str(&testing::validator_entry(
            1,
            &node_key(1),
            "127.0.0.1:9001",
            "100",
        ));
        text
    };
    let cases = [
        (node_entry(2, 1, "10"), "nodes[0].node_key"),
        (node_entry(2, 5, "9.99"), "nodes[0].deposit"),
        (node_entry(2, 5, "10001"), "nodes[0].deposit"),
        (
            node_entry(2, 5, "10").replace("127.0.0.1:9105", "0.0.0.0:1"),
            "nodes[0].p2p",
        ),
        (
            format!("{}{}", node_entry(2, 5, "10"), node_entry(3, 5, "10")),
            "nodes[1].node_key",
        ),
        (
            (5..=8).map(|key| node_entry(2, key, "10")).collect(),
            "nodes",
        ),
    ];
    for (entries, field) in cases {
        let text = format!("{}{entries}", base());
        match Genesis::from_toml(&text) {
            Err(GenesisError::Invalid { field: found, .. }) => assert_eq!(found, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    // An owner's validator bond and its deposits come out of one balance.
    let text = format!("{}{}", base(), node_entry(1, 5, "9901"));
    assert!(matches!(
        Genesis::from_toml(&text),
        Err(GenesisError::Invalid { field, .. }) if field == "nodes[0].deposit"
    ));
}
