//! Attacks on staking epochs: committees fixed two epochs ahead, bonds locked through the service
//! on committees, the last members held until replaced. Each test is an attack the module must
//! stop. The test chain checks conservation and the registry (including `check_epochs`) after
//! every block unless a test turns it off, so every passing test also shows the books and the
//! committees stayed consistent.

use commonware_cryptography::{Signer, ed25519::PrivateKey};
use ledger::{
    BlockContext, CallError, Genesis, MemoryStore, Outcome, Receipt, Store, audit,
    staking::{self, Db, EpochCommittee, Member, Release, StakingError, records::table},
    state::{self, Module},
    testing::{self, TestChain, account, test_params},
};
use types::{
    AccountId, AssetId, Call, SignedTransaction, Text,
    market::Nothing,
    staking::{KeyProof, RegisterValidator, StakingCall},
};

const EQA: u128 = 1_000_000_000;
const L: u64 = 16;
const UNBONDING_MS: u64 = 86_400_000;
const ACCOUNTS: u64 = 12;

const STAKING: &str = "min_bond = \"100\"\nunbonding_secs = 86400\ncommittee_size = 4\n\
                       max_candidates = 8\nblocks_per_epoch = 16";

// ---------------------------------------------------------------------------------------------
// Helpers (the same shape as staking_epochs.rs).
// ---------------------------------------------------------------------------------------------

fn node(index: u64) -> PrivateKey {
    testing::key(20_000 + index)
}

fn node_key(index: u64) -> AccountId {
    AccountId::from_public_key(&node(index).public_key())
}

fn genesis_text(staking: &str, accounts: u64, validators: &[(u64, String)]) -> String {
    let mut text = testing::staking_genesis_text(staking, accounts);
    for (index, bond) in validators {
        let p2p = format!("127.0.0.{}:{}", 1 + index / 60_000, 1_000 + index % 60_000);
        text.push_str(&testing::validator_entry(
            *index,
            &node_key(*index),
            &p2p,
            bond,
        ));
    }
    text
}

fn chain_from(staking: &str, accounts: u64, validators: &[(u64, String)]) -> TestChain {
    let text = genesis_text(staking, accounts, validators);
    let mut genesis = Genesis::from_toml(&text).expect("a valid genesis");
    genesis.params = test_params();
    TestChain::from_genesis(&genesis)
}

fn chain_with(validators: &[(u64, &str)]) -> TestChain {
    let validators: Vec<(u64, String)> = validators
        .iter()
        .map(|(index, bond)| (*index, bond.to_string()))
        .collect();
    chain_from(STAKING, ACCOUNTS, &validators)
}

/// Genesis validators 1 to 4 with 400, 300, 200 and 100 EQA.
fn chain() -> TestChain {
    chain_with(&[(1, "400"), (2, "300"), (3, "200"), (4, "100")])
}

fn registration(chain: &TestChain, index: u64, bond: u128) -> StakingCall {
    StakingCall::Register(RegisterValidator {
        node_key: node_key(index),
        address: Text::new(format!("127.0.0.1:{}", 9_000 + index)).unwrap(),
        bond,
        key_proof: KeyProof::sign(&node(index), &chain.chain_id(), &account(index)),
    })
}

fn submit(chain: &mut TestChain, signer: u64, call: StakingCall) -> Receipt {
    chain.submit(signer, Call::Staking(call))
}

fn ok(receipt: Receipt) {
    assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
}

fn refused(receipt: &Receipt, expected: StakingError) {
    assert_eq!(
        receipt.outcome,
        Outcome::Failed(CallError::Staking(expected)),
        "{receipt:?}"
    );
}

fn register(chain: &mut TestChain, index: u64, bond: u128) {
    let call = registration(chain, index, bond);
    ok(submit(chain, index, call));
}

fn unbond(chain: &mut TestChain, index: u64) {
    ok(submit(chain, index, StakingCall::Unbond(Nothing)));
}

fn withdraw(chain: &mut TestChain, index: u64) -> Receipt {
    submit(chain, index, StakingCall::Withdraw(Nothing))
}

fn stx(chain: &TestChain, signer: u64, call: StakingCall) -> SignedTransaction {
    chain.tx(signer, Call::Staking(call))
}

/// A staking transaction `ahead` nonces after the signer's next one (several calls by one
/// signer in one block).
fn stx_ahead(chain: &TestChain, signer: u64, ahead: u64, call: StakingCall) -> SignedTransaction {
    let nonce = chain.nonce(signer) + ahead;
    chain.tx_with(signer, nonce, Call::Staking(call))
}

fn run_to(chain: &mut TestChain, height: u64) {
    assert!(chain.height <= height, "at {} already", chain.height);
    while chain.height < height {
        chain.apply(&[]);
    }
}

fn members(store: &MemoryStore, epoch: u64) -> Vec<AccountId> {
    Db::epoch_committee(store, epoch)
        .unwrap_or_else(|| panic!("the committee of epoch {epoch} is kept"))
        .members
        .iter()
        .map(|member| member.account)
        .collect()
}

fn accounts(indices: &[u64]) -> Vec<AccountId> {
    indices.iter().map(|index| account(*index)).collect()
}

fn held(chain: &TestChain) -> u128 {
    state::held(&chain.store, Module::Staking, AssetId::NATIVE)
}

fn bonds(store: &MemoryStore) -> u128 {
    store
        .scan_prefix(&[table::VALIDATOR])
        .map(|(_, value)| {
            types::codec::decode::<staking::Validator>(&value)
                .unwrap()
                .bond
        })
        .sum()
}

/// Every key the staking module keeps (tables 0x50 to 0x54) and its value.
fn staking_state(store: &MemoryStore) -> Vec<(Vec<u8>, Vec<u8>)> {
    store
        .scan_prefix(&[])
        .filter(|(key, _)| (0x50..=0x54).contains(&key[0]))
        .map(|(key, value)| (key.to_vec(), value.to_vec()))
        .collect()
}

fn kept_committees(store: &MemoryStore) -> Vec<u64> {
    store
        .scan_prefix(&[table::EPOCH_COMMITTEE])
        .map(|(key, _)| u64::from_be_bytes(key[1..9].try_into().unwrap()))
        .collect()
}

fn context(height: u64, timestamp_ms: u64) -> BlockContext {
    BlockContext {
        height,
        timestamp_ms,
        proposer: account(u64::MAX),
        round: 0,
        seeded: true,
        randomness: [0; 32],
        offenses: Vec::new(),
        next_holders: None,
    }
}

/// Registers 5 to 8 with 500 EQA each: they out-bond every genesis validator, so any election
/// after this seats them.
fn four_newcomers(chain: &mut TestChain) {
    for index in 5..=8 {
        register(chain, index, 500 * EQA);
    }
}

// ---------------------------------------------------------------------------------------------
// Getting a bond back early.
// ---------------------------------------------------------------------------------------------

/// Time racing ahead (a day per block) never frees a serving bond: every withdrawal from the
/// unbonding to the end of service is refused, the boundary block that ends the service still
/// refuses (the delay starts there), and the first block a day later pays.
#[test]
fn withdraw_every_block_with_time_racing_ahead_pays_only_after_service_and_delay() {
    let mut chain = chain();
    four_newcomers(&mut chain);
    unbond(&mut chain, 1);
    let bond_before = chain.balance(1, AssetId::NATIVE);
    let mut paid_at = None;
    while paid_at.is_none() {
        chain.advance_ms(UNBONDING_MS);
        let receipt = withdraw(&mut chain, 1);
        let height = chain.height;
        assert!(height <= 4 * L + 1, "never paid");
        if height < 4 * L {
            refused(
                &receipt,
                StakingError::StillServing {
                    epoch: 2,
                    until_height: 4 * L,
                },
            );
        } else if height == 4 * L {
            refused(
                &receipt,
                StakingError::UnbondingRunning {
                    free_at_ms: chain.time_ms + UNBONDING_MS,
                },
            );
        } else {
            ok(receipt);
            paid_at = Some(height);
        }
    }
    assert_eq!(paid_at, Some(4 * L + 1));
    assert!(chain.balance(1, AssetId::NATIVE) > bond_before + 399 * EQA);
    assert_eq!(held(&chain), bonds(&chain.store));
}

/// Unbonding inside the boundary block comes after the committee step: the member is on the
/// committee fixed there and serves it. A newcomer that registers and unbonds in the block
/// before is not elected and leaves after the delay alone.
#[test]
fn unbonding_in_the_boundary_block_does_not_dodge_the_seat_fixed_there() {
    let mut chain = chain();
    four_newcomers(&mut chain);
    run_to(&mut chain, L - 2);
    let before = [
        stx(&chain, 10, registration(&chain, 10, 600 * EQA)),
        stx_ahead(&chain, 10, 1, StakingCall::Unbond(Nothing)),
    ];
    for receipt in chain.apply(&before) {
        ok(receipt);
    }
    assert_eq!(chain.height, L - 1);
    let boundary = [
        stx(&chain, 5, StakingCall::Unbond(Nothing)),
        stx(&chain, 9, registration(&chain, 9, 900 * EQA)),
    ];
    for receipt in chain.apply(&boundary) {
        ok(receipt);
    }
    assert_eq!(members(&chain.store, 3), accounts(&[5, 6, 7, 8]));
    let five = Db::validator(&chain.store, &account(5)).unwrap();
    assert_eq!((five.last_epoch, five.served_until_ms), (Some(3), None));
    // 10 was never elected: the delay alone.
    chain.advance_ms(UNBONDING_MS);
    ok(withdraw(&mut chain, 10));
    // 5 is refused all through its service, whatever the clock says.
    chain.advance_ms(5 * UNBONDING_MS);
    refused(
        &withdraw(&mut chain, 5),
        StakingError::StillServing {
            epoch: 3,
            until_height: 5 * L,
        },
    );
    run_to(&mut chain, 2 * L);
    assert_eq!(members(&chain.store, 4), accounts(&[9, 6, 7, 8]));
    run_to(&mut chain, 5 * L - 2);
    refused(
        &withdraw(&mut chain, 5),
        StakingError::StillServing {
            epoch: 3,
            until_height: 5 * L,
        },
    );
    chain.apply(&[]);
    let served = chain.time_ms;
    assert_eq!(
        Db::validator(&chain.store, &account(5))
            .unwrap()
            .served_until_ms,
        Some(served)
    );
    chain.advance_ms(UNBONDING_MS);
    ok(withdraw(&mut chain, 5));
}

/// Evicted from a full registry while serving, then returning (evicting another server), then
/// unbonding again: both are still held until their service ends, then the delay.
#[test]
fn evicted_members_returning_and_leaving_again_stay_locked_through_service() {
    let mut chain = chain();
    four_newcomers(&mut chain);
    register(&mut chain, 9, 500 * EQA);
    let four = Db::validator(&chain.store, &account(4)).unwrap();
    assert!(
        four.unbonding
            .as_ref()
            .is_some_and(|u| u.reason == staking::UnbondReason::Outbid)
    );
    // 4 comes back with 250, pushing out 3 (200), then leaves again.
    register(&mut chain, 4, 250 * EQA);
    let three = Db::validator(&chain.store, &account(3)).unwrap();
    assert!(
        three
            .unbonding
            .as_ref()
            .is_some_and(|u| u.reason == staking::UnbondReason::Outbid)
    );
    unbond(&mut chain, 4);
    assert_eq!(held(&chain), bonds(&chain.store));
    chain.advance_ms(3 * UNBONDING_MS);
    for index in [3, 4] {
        refused(
            &withdraw(&mut chain, index),
            StakingError::StillServing {
                epoch: 2,
                until_height: 4 * L,
            },
        );
    }
    run_to(&mut chain, 4 * L);
    let served = chain.time_ms;
    for index in [3, 4] {
        refused(
            &withdraw(&mut chain, index),
            StakingError::UnbondingRunning {
                free_at_ms: served + UNBONDING_MS,
            },
        );
    }
    chain.advance_ms(UNBONDING_MS);
    ok(withdraw(&mut chain, 3));
    ok(withdraw(&mut chain, 4));
    assert_eq!(held(&chain), bonds(&chain.store));
}

/// A raise then an unbond in one block: the raised bond is locked through the service and paid
/// out once, in full, after it.
#[test]
fn raise_then_unbond_in_one_block_pays_the_whole_bond_once_after_service() {
    let mut chain = chain();
    four_newcomers(&mut chain);
    let start = chain.balance(1, AssetId::NATIVE);
    let block = [
        stx(&chain, 1, registration(&chain, 1, 1_000 * EQA)),
        stx_ahead(&chain, 1, 1, StakingCall::Unbond(Nothing)),
    ];
    let mut fees = 0;
    for receipt in chain.apply(&block) {
        fees += receipt.fee_paid;
        ok(receipt);
    }
    assert_eq!(held(&chain), bonds(&chain.store));
    chain.advance_ms(10 * UNBONDING_MS);
    let receipt = withdraw(&mut chain, 1);
    fees += receipt.fee_paid;
    refused(
        &receipt,
        StakingError::StillServing {
            epoch: 2,
            until_height: 4 * L,
        },
    );
    run_to(&mut chain, 4 * L);
    chain.advance_ms(UNBONDING_MS);
    let receipt = withdraw(&mut chain, 1);
    fees += receipt.fee_paid;
    ok(receipt);
    // Started with 400 bonded; gets back exactly 1,000, i.e. 600 more than it had liquid.
    assert_eq!(chain.balance(1, AssetId::NATIVE) + fees, start + 400 * EQA);
    refused(
        &withdraw(&mut chain, 1),
        StakingError::NotRegistered {
            account: account(1),
        },
    );
    assert_eq!(held(&chain), bonds(&chain.store));
}

/// A validator that has served returns in the last block of an epoch, is elected at the
/// boundary, and unbonds in that very boundary block: serving again, held for the new seat.
#[test]
fn return_before_a_boundary_then_unbond_in_it_is_held_for_the_new_seat() {
    let mut chain = chain();
    four_newcomers(&mut chain);
    unbond(&mut chain, 1);
    run_to(&mut chain, 5 * L - 2);
    let one = Db::validator(&chain.store, &account(1)).unwrap();
    assert!(one.served_until_ms.is_some());
    // Returns with 1,000 (the top bond) in block 5L - 1.
    register(&mut chain, 1, 1_000 * EQA);
    let unbond_tx = stx(&chain, 1, StakingCall::Unbond(Nothing));
    ok(chain.apply(&[unbond_tx]).remove(0));
    assert_eq!(chain.height, 5 * L);
    assert_eq!(members(&chain.store, 7)[0], account(1));
    chain.advance_ms(10 * UNBONDING_MS);
    refused(
        &withdraw(&mut chain, 1),
        StakingError::StillServing {
            epoch: 7,
            until_height: 9 * L,
        },
    );
}

/// Genesis validators beyond the committee size never serve: they leave after the delay alone.
#[test]
fn a_genesis_validator_never_seated_leaves_after_the_delay_alone() {
    let mut chain = chain_with(&[(1, "400"), (2, "300"), (3, "200"), (4, "150"), (5, "100")]);
    assert_eq!(members(&chain.store, 0), accounts(&[1, 2, 3, 4]));
    let five = Db::validator(&chain.store, &account(5)).unwrap();
    assert_eq!(five.last_epoch, None);
    unbond(&mut chain, 5);
    chain.advance_ms(UNBONDING_MS);
    ok(withdraw(&mut chain, 5));
    assert!(chain.height < L);
}

// ---------------------------------------------------------------------------------------------
// Shaping a committee by ordering calls.
// ---------------------------------------------------------------------------------------------

/// Whatever the boundary block does (a larger bond registering, a member unbonding, a raise, a
/// return, a failing call), every committee comes out exactly as with an empty boundary block,
/// and equal to what the registry of the block before elects.
#[test]
fn calls_in_the_boundary_block_change_no_committee() {
    let setup = || {
        let mut chain = chain();
        register(&mut chain, 5, 250 * EQA);
        unbond(&mut chain, 4);
        run_to(&mut chain, L - 1);
        chain
    };
    let mut quiet = setup();
    let mut busy = setup();
    let elected_before: Vec<AccountId> = staking::committee(&busy.store)
        .iter()
        .map(|v| v.account)
        .collect();
    quiet.apply(&[]);
    let txs = [
        stx(&busy, 9, registration(&busy, 9, 900 * EQA)),
        stx(&busy, 1, StakingCall::Unbond(Nothing)),
        stx(&busy, 2, registration(&busy, 2, 1_000 * EQA)),
        stx(&busy, 4, registration(&busy, 4, 100 * EQA)),
        stx(&busy, 10, registration(&busy, 10, 50 * EQA)),
        stx(&busy, 11, registration(&busy, 11, 800 * EQA)),
        stx_ahead(&busy, 11, 1, StakingCall::Unbond(Nothing)),
    ];
    let receipts = busy.apply(&txs);
    assert!(!receipts[4].is_success(), "below the minimum");
    assert_eq!(elected_before, accounts(&[1, 2, 5, 3]));
    for epoch in 1..=3 {
        assert_eq!(
            members(&busy.store, epoch),
            members(&quiet.store, epoch),
            "{epoch}"
        );
    }
    assert_eq!(members(&busy.store, 3), elected_before);
    for index in 1..=11 {
        let record = |chain: &TestChain| {
            Db::validator(&chain.store, &account(index)).map(|v| (v.last_epoch, v.served_until_ms))
        };
        if let Some(quiet_record) = record(&quiet) {
            assert_eq!(record(&busy).unwrap(), quiet_record, "{index}");
        }
    }
    // And the next boundary takes the registry the busy block left.
    run_to(&mut busy, 2 * L);
    assert_eq!(members(&busy.store, 4), accounts(&[2, 9, 5, 3]));
}

/// Two registrations with equal bonds in the block before a boundary, in either order: the
/// same committee and the same staking state.
#[test]
fn the_order_of_equal_bonds_in_the_block_before_does_not_shape_the_committee() {
    let run = |order: [u64; 2]| {
        let mut chain = chain_with(&[(1, "400"), (2, "300"), (3, "200")]);
        run_to(&mut chain, L - 2);
        let txs: Vec<_> = order
            .iter()
            .map(|index| stx(&chain, *index, registration(&chain, *index, 150 * EQA)))
            .collect();
        for receipt in chain.apply(&txs) {
            ok(receipt);
        }
        chain.apply(&[]);
        chain
    };
    let a = run([5, 6]);
    let b = run([6, 5]);
    assert_eq!(members(&a.store, 3), members(&b.store, 3));
    assert_eq!(members(&a.store, 3).len(), 4);
    assert_eq!(staking_state(&a.store), staking_state(&b.store));
}

// ---------------------------------------------------------------------------------------------
// Holding bonds hostage; funds with no exit.
// ---------------------------------------------------------------------------------------------

/// Three members try to keep the fourth (which unbonded) locked by stepping out of the registry
/// in the block before each boundary and stepping back in the boundary block (so the election
/// sees fewer than four and carries the old committee over). Four other candidates are enough
/// to release the victim on schedule.
#[test]
fn members_stepping_out_at_each_boundary_cannot_hold_the_fourth_once_four_others_stand() {
    let mut chain = chain();
    unbond(&mut chain, 4);
    for index in 5..=8 {
        register(&mut chain, index, 100 * EQA);
    }
    for epoch in 1..=4 {
        run_to(&mut chain, epoch * L - 2);
        let out: Vec<_> = (1..=3)
            .map(|index| stx(&chain, index, StakingCall::Unbond(Nothing)))
            .collect();
        for receipt in chain.apply(&out) {
            ok(receipt);
        }
        let back: Vec<_> = [(1, 400), (2, 300), (3, 200)]
            .iter()
            .map(|(index, bond)| stx(&chain, *index, registration(&chain, *index, bond * EQA)))
            .collect();
        for receipt in chain.apply(&back) {
            ok(receipt);
        }
        assert_eq!(chain.height, epoch * L);
    }
    assert_eq!(members(&chain.store, 3), accounts(&[5, 6, 7, 8]));
    let four = Db::validator(&chain.store, &account(4)).unwrap();
    assert_eq!(four.last_epoch, Some(2));
    assert!(four.served_until_ms.is_some());
    chain.advance_ms(UNBONDING_MS);
    ok(withdraw(&mut chain, 4));
}

/// A chain whose genesis has no validators: the committees are empty, the first registrant
/// is elected alone (a one-member committee: not a shrink, so the minimum does not apply), and
/// once it leaves it is held until someone replaces it, then released.
#[test]
fn a_chain_with_no_genesis_validators_elects_and_releases_its_first_registrant() {
    let mut chain = chain_with(&[]);
    for epoch in 0..=2 {
        assert!(members(&chain.store, epoch).is_empty());
    }
    register(&mut chain, 5, 100 * EQA);
    run_to(&mut chain, L);
    assert_eq!(members(&chain.store, 3), accounts(&[5]));
    unbond(&mut chain, 5);
    run_to(&mut chain, 3 * L);
    assert_eq!(members(&chain.store, 5), accounts(&[5]), "carried over");
    chain.advance_ms(10 * UNBONDING_MS);
    refused(
        &withdraw(&mut chain, 5),
        StakingError::StillServing {
            epoch: 5,
            until_height: 7 * L,
        },
    );
    register(&mut chain, 6, 100 * EQA);
    run_to(&mut chain, 4 * L);
    assert_eq!(members(&chain.store, 6), accounts(&[6]));
    run_to(&mut chain, 8 * L);
    chain.advance_ms(UNBONDING_MS);
    ok(withdraw(&mut chain, 5));
    assert_eq!(held(&chain), 100 * EQA);
}

/// A single genesis validator is held while alone and released once replaced.
#[test]
fn a_lone_genesis_validator_is_held_until_replaced_then_released() {
    let mut chain = chain_with(&[(1, "400")]);
    unbond(&mut chain, 1);
    run_to(&mut chain, 3 * L);
    assert_eq!(members(&chain.store, 5), accounts(&[1]));
    register(&mut chain, 2, 100 * EQA);
    run_to(&mut chain, 4 * L);
    assert_eq!(members(&chain.store, 6), accounts(&[2]));
    // 1 last sat on epoch 5's committee: served at the start of epoch 7.
    run_to(&mut chain, 7 * L);
    chain.advance_ms(UNBONDING_MS);
    ok(withdraw(&mut chain, 1));
    assert_eq!(held(&chain), 100 * EQA);
}

// ---------------------------------------------------------------------------------------------
// Panics and extremes of the committee step.
// ---------------------------------------------------------------------------------------------

/// The committee step called directly (so a panic fails the test instead of being caught) at
/// the last epochs before u64::MAX, for the shortest and the longest epochs: no panic, the
/// committee two ahead is written, members of the retired committee are marked, and the end of
/// service saturates.
#[test]
fn the_committee_step_survives_the_end_of_time() {
    for staking in [
        STAKING.to_string(),
        "min_bond = \"100\"\nunbonding_secs = 86400\ncommittee_size = 100\n\
         max_candidates = 1024\nblocks_per_epoch = 1000000"
            .to_string(),
    ] {
        let validators: Vec<(u64, String)> = [(1, "400"), (2, "300"), (3, "200"), (4, "100")]
            .iter()
            .map(|(i, b)| (*i, b.to_string()))
            .collect();
        let mut chain = chain_from(&staking, ACCOUNTS, &validators);
        let params = staking::params::load(&chain.store);
        let per_epoch = params.blocks_per_epoch;
        let last = u64::MAX / per_epoch;
        // Validator 1 sat last on the committee of `last - 2`, retired by the first block of
        // the last epoch.
        Db::put_epoch_committee(
            &mut chain.store,
            last - 2,
            &EpochCommittee {
                members: vec![Member {
                    account: account(1),
                    node_key: node_key(1),
                }],
            },
        );
        // ...and has left the candidates (so the step does not elect it again).
        let mut one = Db::validator(&chain.store, &account(1)).unwrap();
        one.last_epoch = Some(last - 2);
        Db::put_validator(&mut chain.store, &one);
        let mut rest = accounts(&[2, 3, 4]);
        rest.sort();
        Db::put_candidates(&mut chain.store, rest);
        staking::begin_block(&mut chain.store, &context(last * per_epoch, 7));
        assert!(Db::epoch_committee(&chain.store, last - 2).is_none());
        let one = Db::validator(&chain.store, &account(1)).unwrap();
        assert_eq!(one.served_until_ms, Some(7), "retired at the end of time");
        let three = Db::validator(&chain.store, &account(3)).unwrap();
        assert_eq!(three.last_epoch, Some(last + 2));
        let mut expected = accounts(&[2, 3, 4]);
        expected.sort_by_key(|a| std::cmp::Reverse(Db::validator(&chain.store, a).unwrap().bond));
        assert_eq!(members(&chain.store, last + 2), expected);
        // Were it to unbond now, it would serve until the end of time.
        let mut leaving = three.clone();
        leaving.unbonding.get_or_insert(staking::Unbonding {
            free_at_ms: 0,
            height: 0,
            reason: staking::UnbondReason::Left,
        });
        assert_eq!(
            staking::release(&params, &leaving),
            Some(Release::Serving {
                epoch: last + 2,
                until_height: u64::MAX
            })
        );
        // The very last heights are not boundaries and do nothing; nor does height 0.
        let before = chain.store.clone();
        for height in [u64::MAX, u64::MAX - 1, 0, last * per_epoch + 1] {
            staking::begin_block(&mut chain.store, &context(height, 8));
        }
        assert_eq!(chain.store, before);
        // `epoch_committee` from the far end of time does not underflow or overflow.
        assert!(staking::epoch_committee(&chain.store, u64::MAX).is_none());
        assert_eq!(
            staking::epoch_committee(&chain.store, last + 3),
            Db::epoch_committee(&chain.store, last + 2)
        );
        assert!(staking::epoch_committee(&chain.store, 3).is_some());
    }
}

/// The largest registry the parameters allow (1,024 candidates) and the largest committee (100),
/// with the whole committee leaving at once: every boundary fixes the right committee, marks
/// the 100 retired members, and costs little; their bonds come back after service and delay.
#[test]
fn the_largest_registry_and_committee_turn_over_correctly_and_cheaply() {
    const N: u64 = 1_024;
    let bond = |index: u64| 100 + (index * 37) % N;
    let validators: Vec<(u64, String)> = (0..N).map(|i| (i, bond(i).to_string())).collect();
    let mut chain = chain_from(
        "min_bond = \"100\"\nunbonding_secs = 86400\ncommittee_size = 100\n\
         max_candidates = 1024\nblocks_per_epoch = 400",
        N,
        &validators,
    );
    let per_epoch = 400;
    let mut ranked: Vec<u64> = (0..N).collect();
    ranked.sort_by_key(|index| std::cmp::Reverse(bond(*index)));
    let top: Vec<u64> = ranked[..100].to_vec();
    let next: Vec<u64> = ranked[100..200].to_vec();
    assert_eq!(members(&chain.store, 0), accounts(&top));
    // The whole committee unbonds in block 1.
    let txs: Vec<_> = top
        .iter()
        .map(|index| stx(&chain, *index, StakingCall::Unbond(Nothing)))
        .collect();
    for receipt in chain.apply(&txs) {
        ok(receipt);
    }
    chain.check_conservation = false;
    let mut slowest = std::time::Duration::ZERO;
    while chain.height < 4 * per_epoch {
        let started = std::time::Instant::now();
        chain.apply(&[]);
        slowest = slowest.max(started.elapsed());
    }
    audit::check_conservation(&chain.store).unwrap();
    audit::check_indexes(&chain.store).unwrap();
    assert_eq!(members(&chain.store, 3), accounts(&next));
    assert_eq!(members(&chain.store, 6), accounts(&next));
    for index in &top {
        let record = Db::validator(&chain.store, &account(*index)).unwrap();
        assert_eq!(record.last_epoch, Some(2));
        assert_eq!(record.served_until_ms, Some(chain.time_ms));
    }
    assert!(
        slowest < std::time::Duration::from_secs(2),
        "a block took {slowest:?}"
    );
    chain.check_conservation = true;
    chain.advance_ms(UNBONDING_MS);
    let txs: Vec<_> = top
        .iter()
        .map(|index| stx(&chain, *index, StakingCall::Withdraw(Nothing)))
        .collect();
    for receipt in chain.apply(&txs) {
        ok(receipt);
    }
    assert_eq!(held(&chain), bonds(&chain.store));
}

// ---------------------------------------------------------------------------------------------
// State growth and determinism.
// ---------------------------------------------------------------------------------------------

/// Forty epochs with churn: never more than four committees are kept, and with a steady
/// registry the state does not grow from one epoch to the next.
#[test]
fn committees_kept_stay_bounded_over_many_epochs() {
    let mut chain = chain();
    let mut registered = [false; 3];
    for epoch in 0..40u64 {
        // Every epoch one of 5, 6, 7 toggles: registers (or returns) or unbonds.
        let index = 5 + epoch % 3;
        let slot = (epoch % 3) as usize;
        if registered[slot] {
            unbond(&mut chain, index);
        } else {
            register(&mut chain, index, (150 + epoch as u128) * EQA);
        }
        registered[slot] = !registered[slot];
        while chain.height < (epoch + 1) * L {
            chain.apply(&[]);
            let kept = kept_committees(&chain.store);
            let current = chain.height / L;
            let expected: Vec<u64> = (current.saturating_sub(1)..=current + 2).collect();
            assert_eq!(kept, expected, "at {}", chain.height);
        }
    }
    let size = chain.store.len();
    run_to(&mut chain, 50 * L);
    assert_eq!(chain.store.len(), size, "the state grew with idle epochs");
}

/// The same blocks give the same state, digest for digest, at every boundary.
#[test]
fn the_same_blocks_give_the_same_state() {
    let run = || {
        let mut chain = chain();
        let mut digests = Vec::new();
        four_newcomers(&mut chain);
        unbond(&mut chain, 2);
        register(&mut chain, 9, 700 * EQA);
        for _ in 0..6 * L {
            chain.apply(&[]);
            if chain.height.is_multiple_of(L) {
                digests.push(chain.store.digest());
            }
        }
        digests
    };
    assert_eq!(run(), run());
}

// ---------------------------------------------------------------------------------------------
// A lost committee step, and what the audit must refuse.
// ---------------------------------------------------------------------------------------------

/// A boundary whose whole staking step is lost (its writes dropped, as by a panic in both the
/// election and the carry-over): the next boundaries must still retire the committee it should
/// have retired and release its members, not keep their bonds locked forever.
///
/// The loss is simulated exactly: apply the empty boundary block, then put back the staking
/// tables as they were before it.
#[test]
fn a_lost_committee_step_does_not_lock_the_retired_members_forever() {
    let mut chain = chain();
    four_newcomers(&mut chain);
    unbond(&mut chain, 1);
    run_to(&mut chain, 4 * L - 1);
    let before = chain.store.clone();
    chain.apply(&[]);
    let stale: Vec<Vec<u8>> = staking_state(&chain.store)
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    for key in stale {
        chain.store.delete(&key);
    }
    for (key, value) in staking_state(&before) {
        chain.store.put(&key, value);
    }
    // The audit rightly objects to the kept committees from here on; the books still balance.
    chain.check_conservation = false;
    run_to(&mut chain, 12 * L);
    chain.advance_ms(30 * UNBONDING_MS);
    audit::check_conservation(&chain.store).unwrap();
    let receipt = withdraw(&mut chain, 1);
    assert!(
        receipt.is_success() && Db::epoch_committee(&chain.store, 2).is_none(),
        "at height {}, 30 days on: withdraw -> {:?}; committees kept: {:?}",
        chain.height,
        receipt.outcome,
        kept_committees(&chain.store)
    );
}

/// The audit must refuse a committee that seats one validator twice (two votes, two key shares),
/// though each seat on its own is a serving validator.
#[test]
fn the_audit_refuses_a_validator_seated_twice() {
    let mut chain = chain_with(&[(1, "400"), (2, "300"), (3, "200")]);
    chain.apply(&[]);
    let mut committee = Db::epoch_committee(&chain.store, 2).unwrap();
    let first = committee.members[0];
    committee.members.push(first);
    Db::put_epoch_committee(&mut chain.store, 2, &committee);
    assert!(
        audit::check_indexes(&chain.store).is_err(),
        "a committee with {} twice passed the audit",
        committee.members[0].account
    );
}

/// The audit must refuse a service that ends after the last block (which would push the bond's
/// release into the future).
#[test]
fn the_audit_refuses_a_service_end_after_the_last_block() {
    let mut chain = chain();
    four_newcomers(&mut chain);
    run_to(&mut chain, 4 * L);
    let mut one = Db::validator(&chain.store, &account(1)).unwrap();
    assert_eq!(one.served_until_ms, Some(chain.time_ms));
    one.served_until_ms = Some(u64::MAX);
    Db::put_validator(&mut chain.store, &one);
    assert!(
        audit::check_indexes(&chain.store).is_err(),
        "a service ending at u64::MAX ms (after the last block at {}) passed",
        chain.time_ms
    );
}
