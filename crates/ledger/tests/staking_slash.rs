//! Slashing: a block carrying a proven offense (contradictory votes by a node key in a consensus
//! epoch) burns a share of the offender's bond, once per key and epoch, and takes it off the
//! candidates for good. Offenses that name no validator are settled with nothing burned, and one
//! already settled changes nothing. The test chain checks conservation (the burn lowers the supply by exactly
//! what leaves the staking module) and the registry's consistency after every block.

use commonware_cryptography::{Signer, ed25519::PrivateKey};
use ledger::{
    CallError, Genesis, GenesisError, MemoryStore, Offense, Outcome, Receipt,
    staking::{self, Db, StakingError},
    state::{self, Module},
    testing::{self, TestChain, account, test_params},
};
use types::{
    AccountId, AssetId, Call, Text,
    market::Nothing,
    staking::{KeyProof, RegisterNode, RegisterValidator, StakingCall},
};

const EQA: u128 = 1_000_000_000;
const ACCOUNTS: u64 = 8;
/// Blocks per epoch.
const L: u64 = 16;

fn staking(slash_bps: u16) -> String {
    format!(
        "min_bond = \"100\"\nunbonding_secs = 60\ncommittee_size = 4\nmax_candidates = 8\n\
         blocks_per_epoch = {L}\nnode_deposit = \"10\"\nmax_nodes = 3\nslash_bps = {slash_bps}"
    )
}

fn node(index: u64) -> PrivateKey {
    testing::key(40_000 + index)
}

fn node_key(index: u64) -> AccountId {
    AccountId::from_public_key(&node(index).public_key())
}

/// A chain whose genesis registers validators 1 to 5 (node keys 1 to 5), validator `i` with
/// `100 + i` EQA, burning `slash_bps` per offense.
fn chain(slash_bps: u16) -> TestChain {
    chain_with(slash_bps, "")
}

/// [`chain`] with `fraction` (decimals of EQA) added to every bond.
fn chain_with(slash_bps: u16, fraction: &str) -> TestChain {
    let mut text = testing::staking_genesis_text(&staking(slash_bps), ACCOUNTS);
    for index in 1..=5 {
        text.push_str(&testing::validator_entry(
            index,
            &node_key(index),
            &format!("127.0.0.1:{}", 9_000 + index),
            &format!("{}{fraction}", 100 + index),
        ));
    }
    let mut genesis = Genesis::from_toml(&text).expect("a valid genesis");
    genesis.params = test_params();
    TestChain::from_genesis(&genesis)
}

fn offense(key: u64, epoch: u64) -> Offense {
    Offense {
        node_key: node_key(key),
        epoch,
    }
}

/// Applies an empty block carrying `offenses`.
fn apply_offenses(chain: &mut TestChain, offenses: &[Offense]) {
    let mut context = chain.next_context();
    context.offenses = offenses.to_vec();
    chain.apply_with(&context, &[]);
}

fn validator(chain: &TestChain, index: u64) -> staking::Validator {
    Db::validator(&chain.store, &account(index)).expect("registered")
}

fn held(chain: &TestChain) -> u128 {
    state::held(&chain.store, Module::Staking, AssetId::NATIVE)
}

fn supply(chain: &TestChain) -> u128 {
    state::asset(&chain.store, AssetId::NATIVE)
        .expect("the native asset")
        .supply
}

fn submit(chain: &mut TestChain, signer: u64, call: StakingCall) -> Receipt {
    chain.submit(signer, Call::Staking(call))
}

fn entries(store: &MemoryStore) -> Vec<(Vec<u8>, Vec<u8>)> {
    store
        .scan_prefix(&[])
        .map(|(key, value)| (key.to_vec(), value.to_vec()))
        .collect()
}

#[test]
fn an_offense_burns_its_share_of_the_bond_and_the_validator_leaves_the_candidates() {
    let mut chain = chain(500);
    let (held_before, supply_before) = (held(&chain), supply(&chain));
    apply_offenses(&mut chain, &[offense(1, 0)]);

    // 5% of 101 EQA, exactly 5.05 EQA.
    let burned = 101 * EQA / 20;
    let slashed = validator(&chain, 1);
    assert_eq!(slashed.bond, 101 * EQA - burned);
    assert_eq!(slashed.slashed, burned);
    assert_eq!(held(&chain), held_before - burned);
    assert_eq!(
        supply(&chain),
        supply_before - burned,
        "the share is burned"
    );
    assert_eq!(
        Db::slash(&chain.store, &node_key(1), 0),
        Some(burned),
        "the slash is recorded against the key and the epoch"
    );
    let unbonding = slashed.unbonding.expect("a slashed candidate unbonds");
    assert_eq!(unbonding.reason, staking::UnbondReason::Slashed);
    assert_eq!(unbonding.height, chain.height);
    assert!(!Db::candidates(&chain.store).contains(&account(1)));
    // The other validators keep every unit.
    for index in 2..=5 {
        let other = validator(&chain, index);
        assert_eq!(
            (other.bond, other.slashed),
            ((100 + u128::from(index)) * EQA, 0)
        );
    }
}

#[test]
fn one_slash_per_key_and_epoch_however_often_and_wherever_the_offense_comes() {
    let mut chain = chain(500);
    // The same offense three times in one block, and again in a later block.
    apply_offenses(&mut chain, &[offense(2, 3), offense(2, 3), offense(2, 3)]);
    let once = validator(&chain, 2);
    assert_eq!(once.slashed, 102 * EQA / 20);
    let before = entries(&chain.store);
    let mut twin = chain_clone(&chain);
    apply_offenses(&mut chain, &[offense(2, 3)]);
    twin.apply(&[]);
    assert_eq!(
        entries(&chain.store),
        entries(&twin.store),
        "a repeated offense writes exactly what an empty block writes"
    );
    assert_ne!(
        entries(&chain.store),
        before,
        "the block itself was applied"
    );

    // Another epoch's offense is another slash, of the bond that is left, rounded up.
    apply_offenses(&mut chain, &[offense(2, 4)]);
    let left = once.bond;
    let second = (left * 500).div_ceil(10_000);
    let twice = validator(&chain, 2);
    assert_eq!(twice.bond, left - second);
    assert_eq!(twice.slashed, once.slashed + second);
    assert_eq!(
        twice.unbonding, once.unbonding,
        "an unbonding validator's delay does not start again"
    );
}

/// A chain to compare against: the same genesis, advanced to the same height with empty
/// blocks, then given the same blocks with offenses by replaying `chain`'s store.
fn chain_clone(chain: &TestChain) -> TestChain {
    TestChain {
        store: chain.store.clone(),
        height: chain.height,
        time_ms: chain.time_ms,
        proposer: chain.proposer,
        check_conservation: chain.check_conservation,
    }
}

#[test]
fn offenses_that_name_no_validator_change_nothing() {
    let mut chain = chain(500);
    // A full node's key, registered by account 6.
    let chain_id = types::ChainId::new(testing::TEST_CHAIN_ID).unwrap();
    let register = RegisterNode {
        node_key: node_key(7),
        address: Text::new("127.0.0.1:9107").unwrap(),
        deposit: 10 * EQA,
        key_proof: KeyProof::sign_node(&node(7), &chain_id, &account(6)),
    };
    let receipt = submit(&mut chain, 6, StakingCall::RegisterNode(register));
    assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");

    let mut twin = chain_clone(&chain);
    // A key nobody registered, a full node's key, and an account's address used as a key.
    let offenses = [
        offense(6, 0),
        offense(7, 0),
        Offense {
            node_key: account(1),
            epoch: 0,
        },
        Offense {
            node_key: node_key(6),
            epoch: u64::MAX,
        },
    ];
    apply_offenses(&mut chain, &offenses);
    twin.apply(&[]);
    assert_eq!(
        unsettled(&chain.store),
        entries(&twin.store),
        "nothing but the settlements is written"
    );
    for offense in offenses {
        assert_eq!(
            Db::slash(&chain.store, &offense.node_key, offense.epoch),
            Some(0),
            "{offense:?} is settled with nothing burned"
        );
        assert!(Db::banned(&chain.store, &offense.node_key));
    }
    // The full node keeps its registration, but its key is banned from registering again.
    assert!(Db::full_node(&chain.store, &node_key(7)).is_some());
    let again = RegisterNode {
        node_key: node_key(7),
        address: Text::new("127.0.0.1:9107").unwrap(),
        deposit: 11 * EQA,
        key_proof: KeyProof::sign_node(&node(7), &chain_id, &account(6)),
    };
    let before = chain.snapshot_except_fee(6);
    let receipt = submit(&mut chain, 6, StakingCall::RegisterNode(again));
    assert_eq!(
        receipt.outcome,
        Outcome::Failed(CallError::Staking(StakingError::NodeKeyBanned {
            node_key: node_key(7)
        })),
        "{receipt:?}"
    );
    assert_eq!(chain.snapshot_except_fee(6), before, "a refusal wrote");
}

/// The entries of `store` but the settled slashes and the banned keys.
fn unsettled(store: &MemoryStore) -> Vec<(Vec<u8>, Vec<u8>)> {
    use staking::records::table::{BANNED, SLASHED};
    entries(store)
        .into_iter()
        .filter(|(key, _)| key[0] != SLASHED && key[0] != BANNED)
        .collect()
}

#[test]
fn a_withdrawn_bond_is_out_of_reach_and_a_slashed_validator_gets_back_only_what_is_left() {
    let mut chain = chain(500);
    apply_offenses(&mut chain, &[offense(3, 0)]);
    let slashed = validator(&chain, 3);
    let left = slashed.bond;

    // It may not stand again, neither by raising its bond nor by naming the same one.
    let chain_id = types::ChainId::new(testing::TEST_CHAIN_ID).unwrap();
    for bond in [left, left + EQA, 1_000 * EQA] {
        let before = chain.snapshot_except_fee(3);
        let call = StakingCall::Register(RegisterValidator {
            node_key: node_key(3),
            address: Text::new("127.0.0.1:9003").unwrap(),
            bond,
            key_proof: KeyProof::sign(&node(3), &chain_id, &account(3)),
        });
        let receipt = submit(&mut chain, 3, call);
        assert_eq!(
            receipt.outcome,
            Outcome::Failed(CallError::Staking(StakingError::Slashed {
                slashed: slashed.slashed
            })),
            "{receipt:?}"
        );
        assert_eq!(chain.snapshot_except_fee(3), before, "a refusal wrote");
    }
    // Unbonding again is refused: it already is.
    let receipt = submit(&mut chain, 3, StakingCall::Unbond(Nothing));
    assert!(
        matches!(
            receipt.outcome,
            Outcome::Failed(CallError::Staking(StakingError::AlreadyUnbonding { .. }))
        ),
        "{receipt:?}"
    );

    // Once its service and the delay are over, it withdraws exactly what is left.
    let balance = chain.balance(3, AssetId::NATIVE);
    let (mut fees, mut withdrawn) = (0, false);
    for _ in 0..(6 * L) {
        chain.advance_ms(1_000);
        let receipt = submit(&mut chain, 3, StakingCall::Withdraw(Nothing));
        fees += receipt.fee_paid;
        if receipt.outcome == Outcome::Success {
            withdrawn = true;
            break;
        }
    }
    assert!(withdrawn, "the bond came free");
    assert_eq!(chain.balance(3, AssetId::NATIVE), balance + left - fees);
    assert!(Db::validator(&chain.store, &account(3)).is_none());

    // The key stays banned after the withdrawal, for its owner and for anyone else; the owner
    // may stand again only with another key and a new bond (from which a new offense burns).
    for (signer, key) in [(3, 3), (6, 3)] {
        // Not in an epoch's first block, whose committee step writes of its own.
        if (chain.height + 1).is_multiple_of(L) {
            chain.apply(&[]);
        }
        let before = chain.snapshot_except_fee(signer);
        let call = StakingCall::Register(RegisterValidator {
            node_key: node_key(key),
            address: Text::new("127.0.0.1:9003").unwrap(),
            bond: 100 * EQA,
            key_proof: KeyProof::sign(&node(key), &chain_id, &account(signer)),
        });
        let receipt = submit(&mut chain, signer, call);
        assert_eq!(
            receipt.outcome,
            Outcome::Failed(CallError::Staking(StakingError::NodeKeyBanned {
                node_key: node_key(3)
            })),
            "{receipt:?}"
        );
        assert_eq!(chain.snapshot_except_fee(signer), before, "a refusal wrote");
    }
    let fresh = StakingCall::Register(RegisterValidator {
        node_key: node_key(8),
        address: Text::new("127.0.0.1:9008").unwrap(),
        bond: 100 * EQA,
        key_proof: KeyProof::sign(&node(8), &chain_id, &account(3)),
    });
    assert_eq!(submit(&mut chain, 3, fresh).outcome, Outcome::Success);

    // Evidence that arrives after the withdrawal finds no bond: it is settled, nothing burned.
    let mut twin = chain_clone(&chain);
    apply_offenses(&mut chain, &[offense(3, 1)]);
    twin.apply(&[]);
    assert_eq!(unsettled(&chain.store), unsettled(&twin.store));
    assert_eq!(Db::slash(&chain.store, &node_key(3), 1), Some(0));
    assert_eq!(
        validator(&chain, 3).slashed,
        0,
        "the new registration is untouched"
    );
}

#[test]
fn the_burn_rounds_up_and_a_full_slash_takes_the_whole_bond() {
    // 3 basis points of 103.000000007 EQA is 30,900,000.0021 minor units: 30,900,001 burn.
    let mut chain = chain_with(3, ".000000007");
    let bond = 103 * EQA + 7;
    apply_offenses(&mut chain, &[offense(3, 0)]);
    assert_ne!(bond * 3 % 10_000, 0, "the case rounds");
    assert_eq!(validator(&chain, 3).slashed, 30_900_001);
    assert_eq!(validator(&chain, 3).bond, bond - 30_900_001);

    let mut chain = chain_full();
    let supply_before = supply(&chain);
    apply_offenses(&mut chain, &[offense(4, 0)]);
    let gone = validator(&chain, 4);
    assert_eq!((gone.bond, gone.slashed), (0, 104 * EQA));
    assert_eq!(supply(&chain), supply_before - 104 * EQA);
    // A second epoch's offense has nothing left to burn, and is still recorded.
    apply_offenses(&mut chain, &[offense(4, 1)]);
    assert_eq!(validator(&chain, 4).slashed, 104 * EQA);
    assert_eq!(Db::slash(&chain.store, &node_key(4), 1), Some(0));
}

fn chain_full() -> TestChain {
    chain(10_000)
}

#[test]
fn a_slash_in_an_epochs_first_block_leaves_the_committee_it_fixes_alone() {
    let mut chain = chain(500);
    // Committee size 4 among 5 candidates: validator 1, with the smallest bond, sits on none.
    while chain.height + 1 < L {
        chain.apply(&[]);
    }
    // The first block of epoch 1 fixes epoch 3's committee from the registry as it stood
    // before the block: validator 5 is on it though this very block slashes it.
    apply_offenses(&mut chain, &[offense(5, 0)]);
    let committee = Db::epoch_committee(&chain.store, 3).expect("fixed");
    let members: Vec<AccountId> = committee.members.iter().map(|m| m.account).collect();
    assert!(members.contains(&account(5)), "{members:?}");
    // The next boundary elects without it: validator 1 takes the seat.
    while chain.height + 1 < 2 * L {
        chain.apply(&[]);
    }
    chain.apply(&[]);
    let committee = Db::epoch_committee(&chain.store, 4).expect("fixed");
    let members: Vec<AccountId> = committee.members.iter().map(|m| m.account).collect();
    assert!(!members.contains(&account(5)), "{members:?}");
    assert!(members.contains(&account(1)), "{members:?}");
}

#[test]
fn the_slash_share_is_checked_at_genesis() {
    for (value, ok) in [("0", false), ("1", true), ("10000", true), ("10001", false)] {
        let text = testing::staking_genesis_text(
            &format!(
                "min_bond = \"100\"\ncommittee_size = 4\nmax_candidates = 8\n\
                 blocks_per_epoch = 16\nslash_bps = {value}"
            ),
            ACCOUNTS,
        );
        match Genesis::from_toml(&text) {
            Ok(_) => assert!(ok, "slash_bps = {value} was accepted"),
            Err(GenesisError::Invalid { field, .. }) => {
                assert!(!ok, "slash_bps = {value} was refused");
                assert_eq!(field, "params.staking.slash_bps");
            }
            Err(other) => panic!("slash_bps = {value}: {other:?}"),
        }
    }
    assert_eq!(staking::StakingParams::defaults(9).slash_bps, 500);
}

/// An offense arriving in the very block whose transaction withdraws the offender's bond: the
/// slash runs first, the withdrawal returns only what is left, and conservation holds.
#[test]
fn a_slash_in_the_withdrawing_block_burns_before_the_withdrawal() {
    let mut chain = chain(500);
    assert_eq!(
        submit(&mut chain, 3, StakingCall::Unbond(Nothing)).outcome,
        Outcome::Success
    );
    // Find the first block in which the withdrawal succeeds, on a clone.
    let mut waited = 0;
    loop {
        let mut probe = chain_clone(&chain);
        probe.advance_ms(1_000);
        if submit(&mut probe, 3, StakingCall::Withdraw(Nothing)).outcome == Outcome::Success {
            break;
        }
        chain.advance_ms(1_000);
        chain.apply(&[]);
        waited += 1;
        assert!(waited < 20 * L, "never withdrawable");
    }
    chain.advance_ms(1_000);
    let bond = validator(&chain, 3).bond;
    let balance = chain.balance(3, AssetId::NATIVE);
    let tx = chain.tx(3, Call::Staking(StakingCall::Withdraw(Nothing)));
    let mut context = chain.next_context();
    context.offenses = vec![offense(3, 0)];
    let receipts = chain.apply_with(&context, &[tx]);
    assert_eq!(receipts[0].outcome, Outcome::Success, "{:?}", receipts[0]);
    let burned = Db::slash(&chain.store, &node_key(3), 0).expect("settled");
    assert!(burned > 0, "the slash ran before the withdrawal");
    assert_eq!(
        chain.balance(3, AssetId::NATIVE),
        balance + bond - burned - receipts[0].fee_paid
    );
}
