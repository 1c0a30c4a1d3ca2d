//! Epochs in the staking module: the committee of each epoch is fixed from the registry two
//! epochs ahead, by the epoch's first block and before its calls, and never changes after; the
//! last members cannot all leave; a bond is locked until the validator's service ends, then for
//! the unbonding delay. The test chain checks conservation and the registry's consistency
//! (including every kept committee against the records) after every block.

use commonware_cryptography::{Signer, ed25519::PrivateKey};
use ledger::{
    CallError, Genesis, GenesisError, Outcome, Receipt,
    staking::{Db, StakingError},
    state::{self, Module},
    testing::{self, TestChain, account, test_params},
};
use types::{
    AccountId, AssetId, Call, Text,
    market::Nothing,
    staking::{KeyProof, RegisterValidator, StakingCall},
};

const EQA: u128 = 1_000_000_000;
const L: u64 = 16;
const UNBONDING_MS: u64 = 86_400_000;
const ACCOUNTS: u64 = 12;

fn node(index: u64) -> PrivateKey {
    testing::key(20_000 + index)
}

fn node_key(index: u64) -> AccountId {
    AccountId::from_public_key(&node(index).public_key())
}

fn genesis_text(staking: &str, validators: &[(u64, &str)]) -> String {
    let mut text = testing::staking_genesis_text(staking, ACCOUNTS);
    for (index, bond) in validators {
        let p2p = format!("127.0.0.1:{}", 9_000 + index);
        text.push_str(&testing::validator_entry(
            *index,
            &node_key(*index),
            &p2p,
            bond,
        ));
    }
    text
}

const STAKING: &str = "min_bond = \"100\"\nunbonding_secs = 86400\ncommittee_size = 4\n\
                       max_candidates = 8\nblocks_per_epoch = 16";

/// A chain whose genesis registers validators 1 to 4 with 400, 300, 200 and 100 EQA, so they
/// rank in that order.
fn chain() -> TestChain {
    chain_with(&[(1, "400"), (2, "300"), (3, "200"), (4, "100")])
}

fn chain_with(validators: &[(u64, &str)]) -> TestChain {
    let text = genesis_text(STAKING, validators);
    let mut genesis = Genesis::from_toml(&text).expect("a valid genesis");
    genesis.params = test_params();
    TestChain::from_genesis(&genesis)
}

fn submit(chain: &mut TestChain, signer: u64, call: StakingCall) -> Receipt {
    chain.submit(signer, Call::Staking(call))
}

fn registration(chain: &TestChain, index: u64, bond: u128) -> StakingCall {
    StakingCall::Register(RegisterValidator {
        node_key: node_key(index),
        address: Text::new(format!("127.0.0.1:{}", 9_000 + index)).unwrap(),
        bond,
        key_proof: KeyProof::sign(&node(index), &chain.chain_id(), &account(index)),
    })
}

fn ok(receipt: Receipt) {
    assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
}

fn register(chain: &mut TestChain, index: u64, bond: u128) {
    let call = registration(chain, index, bond);
    ok(submit(chain, index, call));
}

fn unbond(chain: &mut TestChain, index: u64) {
    ok(submit(chain, index, StakingCall::Unbond(Nothing)));
}

/// Submits a withdrawal by `index`, expects `expected`, and checks it changed nothing but the
/// fee and the nonce.
fn withdraw_refused(chain: &mut TestChain, index: u64, expected: StakingError) {
    let before = chain.snapshot_except_fee(index);
    let receipt = submit(chain, index, StakingCall::Withdraw(Nothing));
    assert_eq!(
        receipt.outcome,
        Outcome::Failed(CallError::Staking(expected)),
        "{receipt:?}"
    );
    assert_eq!(chain.snapshot_except_fee(index), before, "a refusal wrote");
}

/// Applies empty blocks until the last applied block is at `height`.
fn run_to(chain: &mut TestChain, height: u64) {
    assert!(chain.height <= height, "at {} already", chain.height);
    while chain.height < height {
        chain.apply(&[]);
    }
}

fn members(chain: &TestChain, epoch: u64) -> Vec<AccountId> {
    Db::epoch_committee(&chain.store, epoch)
        .unwrap_or_else(|| panic!("the committee of epoch {epoch} is kept"))
        .members
        .iter()
        .map(|member| member.account)
        .collect()
}

fn accounts(indices: &[u64]) -> Vec<AccountId> {
    indices.iter().map(|index| account(*index)).collect()
}

#[test]
fn genesis_fixes_the_committees_of_the_first_three_epochs() {
    let chain = chain_with(&[(1, "100"), (2, "300"), (3, "200")]);
    for epoch in 0..=2 {
        assert_eq!(
            members(&chain, epoch),
            accounts(&[2, 3, 1]),
            "epoch {epoch}"
        );
    }
    assert!(Db::epoch_committee(&chain.store, 3).is_none());
    let record = Db::validator(&chain.store, &account(2)).unwrap();
    assert_eq!(record.last_epoch, Some(2));
    assert_eq!(record.served_until_ms, None);
    let committee = Db::epoch_committee(&chain.store, 0).unwrap();
    assert_eq!(committee.members[0].node_key, node_key(2));
}

#[test]
fn an_epochs_first_block_fixes_the_committee_two_ahead_from_the_registry_before_it() {
    let mut chain = chain();
    // Epoch 1 starts at height 16. Validator 5 registers in the last block of epoch 0 and takes
    // a seat in epoch 3's committee; validator 6 registers with a larger bond still, but in the
    // first block of epoch 1 itself, after its committee step.
    run_to(&mut chain, L - 2);
    register(&mut chain, 5, 250 * EQA);
    assert_eq!(chain.height, L - 1);
    assert!(
        Db::epoch_committee(&chain.store, 3).is_none(),
        "fixed early"
    );
    register(&mut chain, 6, 500 * EQA);
    assert_eq!(chain.height, L);
    assert_eq!(members(&chain, 3), accounts(&[1, 2, 5, 3]));
    assert_eq!(
        members(&chain, 2),
        accounts(&[1, 2, 3, 4]),
        "a fixed committee changed"
    );
    assert_eq!(
        Db::validator(&chain.store, &account(5)).unwrap().last_epoch,
        Some(3)
    );
    assert_eq!(
        Db::validator(&chain.store, &account(6)).unwrap().last_epoch,
        None
    );
    // Epoch 4's committee, fixed at height 32, takes the registry as it then stands.
    run_to(&mut chain, 2 * L - 1);
    assert!(Db::epoch_committee(&chain.store, 4).is_none());
    chain.apply(&[]);
    assert_eq!(members(&chain, 4), accounts(&[6, 1, 2, 5]));
    // The committee of epoch 0 is no longer kept once epoch 2 starts; epochs 1 to 4 are.
    assert!(Db::epoch_committee(&chain.store, 0).is_none());
    for epoch in 1..=4 {
        assert!(
            Db::epoch_committee(&chain.store, epoch).is_some(),
            "{epoch}"
        );
    }
    // Validator 4, elected nowhere after epoch 2, has served once epoch 4 starts.
    run_to(&mut chain, 4 * L - 1);
    let four = Db::validator(&chain.store, &account(4)).unwrap();
    assert_eq!((four.last_epoch, four.served_until_ms), (Some(2), None));
    chain.apply(&[]);
    let four = Db::validator(&chain.store, &account(4)).unwrap();
    assert_eq!(four.served_until_ms, Some(chain.time_ms));
}

#[test]
fn a_serving_validators_bond_is_locked_until_its_service_ends_then_the_delay() {
    let mut chain = chain();
    // Validator 1 unbonds in epoch 0; the committees of epochs 0 to 2 hold it, so it serves
    // until the end of epoch 3 (it deals epoch 3's shares) and is released at height 64.
    unbond(&mut chain, 1);
    let serving = StakingError::StillServing {
        epoch: 2,
        until_height: 4 * L,
    };
    withdraw_refused(&mut chain, 1, serving.clone());
    // Time alone does not free it: a day and more passes, still serving.
    chain.advance_ms(2 * UNBONDING_MS);
    withdraw_refused(&mut chain, 1, serving.clone());
    // Someone takes its seat from epoch 3 on (an election without it would otherwise shrink
    // the committee below four members and carry the old one over).
    register(&mut chain, 5, 100 * EQA);
    run_to(&mut chain, L);
    assert_eq!(members(&chain, 3), accounts(&[2, 3, 4, 5]));
    run_to(&mut chain, 4 * L - 2);
    withdraw_refused(&mut chain, 1, serving);
    assert_eq!(chain.height, 4 * L - 1);
    // The first block of epoch 4 ends its service: the delay runs from that block's time.
    chain.apply(&[]);
    let served_at = chain.time_ms;
    let running = StakingError::UnbondingRunning {
        free_at_ms: served_at + UNBONDING_MS,
    };
    withdraw_refused(&mut chain, 1, running.clone());
    assert_eq!(
        Db::validator(&chain.store, &account(1))
            .unwrap()
            .served_until_ms,
        Some(served_at)
    );
    // One millisecond before: refused; at the millisecond: paid.
    next_block_at(&mut chain, served_at + UNBONDING_MS - 1);
    withdraw_refused(&mut chain, 1, running);
    let withdraw = chain.tx(1, Call::Staking(StakingCall::Withdraw(Nothing)));
    let mut at_the_millisecond = chain.next_context();
    at_the_millisecond.timestamp_ms = served_at + UNBONDING_MS;
    let before = chain.balance(1, AssetId::NATIVE);
    let receipt = chain.apply_with(&at_the_millisecond, &[withdraw]).remove(0);
    let fee = receipt.fee_paid;
    ok(receipt);
    assert_eq!(chain.balance(1, AssetId::NATIVE), before + 400 * EQA - fee);
    assert!(Db::validator(&chain.store, &account(1)).is_none());
}

/// Sets the clock so that the next block is at `at_ms`.
fn next_block_at(chain: &mut TestChain, at_ms: u64) {
    let interval = chain.next_context().timestamp_ms - chain.time_ms;
    chain.advance_ms(at_ms - interval - chain.time_ms);
    assert_eq!(chain.next_context().timestamp_ms, at_ms);
}

#[test]
fn a_validator_never_elected_withdraws_after_the_delay_alone() {
    let mut chain = chain();
    register(&mut chain, 5, 100 * EQA);
    unbond(&mut chain, 5);
    let free_at = Db::validator(&chain.store, &account(5))
        .unwrap()
        .unbonding
        .unwrap()
        .free_at_ms;
    withdraw_refused(
        &mut chain,
        5,
        StakingError::UnbondingRunning {
            free_at_ms: free_at,
        },
    );
    chain.advance_ms(UNBONDING_MS);
    ok(submit(&mut chain, 5, StakingCall::Withdraw(Nothing)));
    assert!(chain.height < L, "no epoch boundary was needed");
}

#[test]
fn the_last_members_cannot_all_leave_and_are_released_once_replaced() {
    let mut chain = chain();
    for index in 1..=4 {
        unbond(&mut chain, index);
    }
    // Nobody is left to elect: every later committee carries the last one over, and its
    // members stay bonded however long they wait.
    run_to(&mut chain, 6 * L);
    for epoch in 5..=8 {
        assert_eq!(members(&chain, epoch), accounts(&[1, 2, 3, 4]), "{epoch}");
    }
    chain.advance_ms(10 * UNBONDING_MS);
    withdraw_refused(
        &mut chain,
        2,
        StakingError::StillServing {
            epoch: 8,
            until_height: 10 * L,
        },
    );
    assert_eq!(
        state::held(&chain.store, Module::Staking, AssetId::NATIVE),
        1_000 * EQA
    );
    // Three newcomers are not enough to take over (an election of three shrinks the committee
    // below four); a fourth is.
    for index in 5..=7 {
        register(&mut chain, index, 100 * EQA);
    }
    run_to(&mut chain, 7 * L);
    assert_eq!(members(&chain, 9), accounts(&[1, 2, 3, 4]));
    register(&mut chain, 8, 100 * EQA);
    run_to(&mut chain, 8 * L);
    assert_eq!(members(&chain, 10), accounts(&[5, 6, 7, 8]));
    // The old members served through epoch 9's committee, so until the end of epoch 10.
    run_to(&mut chain, 11 * L - 2);
    withdraw_refused(
        &mut chain,
        3,
        StakingError::StillServing {
            epoch: 9,
            until_height: 11 * L,
        },
    );
    chain.apply(&[]);
    chain.advance_ms(UNBONDING_MS);
    for index in 1..=4 {
        ok(submit(&mut chain, index, StakingCall::Withdraw(Nothing)));
    }
    assert_eq!(
        state::held(&chain.store, Module::Staking, AssetId::NATIVE),
        400 * EQA
    );
}

#[test]
fn a_committee_shrinks_by_election_only_down_to_four() {
    let text = genesis_text(
        "min_bond = \"100\"\nunbonding_secs = 86400\ncommittee_size = 6\n\
         max_candidates = 8\nblocks_per_epoch = 24",
        &[
            (1, "600"),
            (2, "500"),
            (3, "400"),
            (4, "300"),
            (5, "200"),
            (6, "100"),
        ],
    );
    let mut genesis = Genesis::from_toml(&text).expect("a valid genesis");
    genesis.params = test_params();
    let mut chain = TestChain::from_genesis(&genesis);
    unbond(&mut chain, 6);
    unbond(&mut chain, 5);
    run_to(&mut chain, 24);
    assert_eq!(members(&chain, 3), accounts(&[1, 2, 3, 4]), "down to four");
    unbond(&mut chain, 4);
    run_to(&mut chain, 48);
    assert_eq!(
        members(&chain, 4),
        accounts(&[1, 2, 3, 4]),
        "three would be below four: carried over"
    );
}

#[test]
fn an_evicted_member_still_serves_and_a_re_elected_one_serves_again() {
    let mut chain = chain();
    // Four candidates with larger bonds fill the registry (eight) and take every seat from
    // epoch 3 on; a ninth pushes out the lowest, genesis validator 4, which still sits on the
    // committees of epochs 0 to 2.
    for index in 5..=9 {
        register(&mut chain, index, 500 * EQA);
    }
    let four = Db::validator(&chain.store, &account(4)).unwrap();
    assert!(
        four.unbonding
            .as_ref()
            .is_some_and(|u| u.reason == ledger::staking::UnbondReason::Outbid),
        "{four:?}"
    );
    chain.advance_ms(2 * UNBONDING_MS);
    withdraw_refused(
        &mut chain,
        4,
        StakingError::StillServing {
            epoch: 2,
            until_height: 4 * L,
        },
    );
    // Validator 1, off the committees from epoch 3, has served once epoch 4 starts; then it
    // raises its bond above everyone's and is elected again: serving again, and an unbonding
    // waits for the new service.
    run_to(&mut chain, 4 * L);
    assert_eq!(members(&chain, 3), accounts(&[5, 6, 7, 8]));
    let one = Db::validator(&chain.store, &account(1)).unwrap();
    assert_eq!(
        (one.last_epoch, one.served_until_ms),
        (Some(2), Some(chain.time_ms))
    );
    let call = registration(&chain, 1, 1_000 * EQA);
    ok(submit(&mut chain, 1, call));
    run_to(&mut chain, 5 * L);
    assert_eq!(members(&chain, 7)[0], account(1));
    let one = Db::validator(&chain.store, &account(1)).unwrap();
    assert_eq!((one.last_epoch, one.served_until_ms), (Some(7), None));
    unbond(&mut chain, 1);
    chain.advance_ms(2 * UNBONDING_MS);
    withdraw_refused(
        &mut chain,
        1,
        StakingError::StillServing {
            epoch: 7,
            until_height: 9 * L,
        },
    );
}

#[test]
fn an_epoch_must_leave_four_blocks_per_committee_seat() {
    let refused = |staking: &str, needle: &str| {
        let text = genesis_text(staking, &[]);
        match Genesis::from_toml(&text) {
            Err(GenesisError::Invalid { field, message }) => {
                assert_eq!(field, "params.staking.blocks_per_epoch", "{message}");
                assert!(message.contains(needle), "{message}");
            }
            other => panic!("{staking}: {other:?}"),
        }
    };
    refused("committee_size = 4\nblocks_per_epoch = 15", "(16)");
    refused("committee_size = 10\nblocks_per_epoch = 39", "(40)");
    refused("blocks_per_epoch = 0", "(128)");
    refused("blocks_per_epoch = 1000001", "1000000");
    for fine in [
        "committee_size = 4\nblocks_per_epoch = 16",
        "blocks_per_epoch = 1000000",
        "",
    ] {
        let text = genesis_text(fine, &[]);
        let genesis = Genesis::from_toml(&text).expect(fine);
        assert!(genesis.staking.blocks_per_epoch >= 16);
    }
    assert_eq!(
        Genesis::from_toml(&genesis_text("", &[]))
            .unwrap()
            .staking
            .blocks_per_epoch,
        3_600
    );
}
