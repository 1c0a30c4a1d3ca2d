//! A validator that holds a share of the chain key but proposes no block loses its seat: after
//! `silence_epochs` epochs in a row without a proposal it is taken off the candidates and
//! unbonds, losing nothing else. Each test is a way to keep a silent seat, or to cost an active
//! validator its seat, that the rule must stop. The test chain checks conservation and the
//! registry's consistency (committees, holders and their player counts) after every block.

use commonware_cryptography::{Signer, ed25519::PrivateKey};
use ledger::{
    Genesis,
    staking::{self, Db, UnbondReason},
    testing::{self, TestChain, account, test_params},
};
use types::{
    AccountId, AssetId, Call, Text,
    staking::{KeyProof, RegisterValidator, StakingCall},
};

const ACCOUNTS: u64 = 8;
/// Blocks per epoch: four per seat of the committee of four.
const L: u64 = 16;
const EQA: u128 = 1_000_000_000;

fn node(index: u64) -> PrivateKey {
    testing::key(50_000 + index)
}

fn node_key(index: u64) -> AccountId {
    AccountId::from_public_key(&node(index).public_key())
}

/// Validators 1 to 5, validator `i` bonded `106 - i` EQA: the committee of four seats 1 to 4,
/// and 5 waits as the spare.
fn chain_of(validators: u64) -> TestChain {
    let mut text = testing::staking_genesis_text(
        &format!(
            "min_bond = \"100\"\nunbonding_secs = 60\ncommittee_size = 4\nmax_candidates = 8\n\
             blocks_per_epoch = {L}"
        ),
        ACCOUNTS,
    );
    for index in 1..=validators {
        text.push_str(&testing::validator_entry(
            index,
            &node_key(index),
            &format!("127.0.0.1:{}", 9_000 + index),
            &format!("{}", 106 - index),
        ));
    }
    let mut genesis = Genesis::from_toml(&text).expect("a valid genesis");
    genesis.params = test_params();
    TestChain::from_genesis(&genesis)
}

fn chain() -> TestChain {
    chain_of(5)
}

fn validator(chain: &TestChain, index: u64) -> staking::Validator {
    Db::validator(&chain.store, &account(index)).expect("registered")
}

fn members(chain: &TestChain, epoch: u64) -> Vec<u64> {
    let committee = staking::epoch_committee(&chain.store, epoch).expect("kept");
    committee
        .members
        .iter()
        .map(|member| {
            (1..=ACCOUNTS)
                .find(|index| account(*index) == member.account)
                .expect("a test account")
        })
        .collect()
}

/// Who signs in `epoch`, as the chain's resharing left it (every resharing succeeds here): the
/// committee of the epoch before, or the genesis committee in epoch 0.
fn signers(chain: &TestChain, epoch: u64) -> Vec<u64> {
    members(chain, epoch.saturating_sub(1))
}

/// Applies empty blocks up to `height`. Each block's proposer is the round-robin leader among
/// the epoch's signers, or the next signer after it for which `proposes(height, index)` holds
/// (so a silent member's views go to the others, as nullified views would). Each epoch's
/// final block names the next epoch's signers, plus `extra` keys nobody registered.
fn advance_with(
    chain: &mut TestChain,
    height: u64,
    extra: &[AccountId],
    proposes: impl Fn(u64, u64) -> bool,
) {
    while chain.height < height {
        let mut context = chain.next_context();
        let epoch = context.height / L;
        let signers = signers(chain, epoch);
        let start = usize::try_from(context.height).unwrap() % signers.len();
        let leader = (0..signers.len())
            .map(|offset| signers[(start + offset) % signers.len()])
            .find(|index| proposes(context.height, *index))
            .expect("someone proposes");
        context.proposer = node_key(leader);
        if (context.height + 1).is_multiple_of(L) {
            let mut holders: Vec<AccountId> =
                members(chain, epoch).into_iter().map(node_key).collect();
            holders.extend_from_slice(extra);
            context.next_holders = Some(holders);
        }
        chain.apply_with(&context, &[]);
    }
}

/// Every signer but the `silent` ones proposes.
fn advance(chain: &mut TestChain, height: u64, silent: &[u64]) {
    advance_with(chain, height, &[], |_, index| !silent.contains(&index));
}

#[test]
fn a_member_silent_for_two_epochs_loses_its_seat_and_nothing_else() {
    let mut chain = chain();
    let bonded = validator(&chain, 4).bond;
    let balance = chain.balance(4, AssetId::NATIVE);
    // Epoch 0's signers are not judged (nobody named them); epoch 1 is judged at 2L.
    advance(&mut chain, 2 * L, &[4]);
    assert_eq!(validator(&chain, 4).silent_epochs, 1);
    assert!(
        validator(&chain, 4).unbonding.is_none(),
        "one epoch is not enough"
    );
    for index in 1..=3 {
        assert_eq!(validator(&chain, index).silent_epochs, 0);
        // Epoch 1's proposers; the one that proposed this block has moved on to epoch 2.
        assert!(matches!(
            validator(&chain, index).last_proposed_epoch,
            Some(1 | 2)
        ));
    }
    advance(&mut chain, 3 * L - 1, &[4]);
    assert!(validator(&chain, 4).unbonding.is_none());
    // The first block of epoch 3 judges epoch 2: the second silent epoch in a row.
    advance(&mut chain, 3 * L, &[4]);
    let silent = validator(&chain, 4);
    assert_eq!(silent.silent_epochs, 2);
    let unbonding = silent.unbonding.expect("taken off the candidates");
    assert_eq!(unbonding.reason, UnbondReason::Silent);
    assert!(unbonding.reason.evicted());
    assert_eq!(unbonding.height, 3 * L);
    assert!(!Db::candidates(&chain.store).contains(&account(4)));
    // It loses its seat, not its money: the bond is whole and still locked, its balance
    // untouched.
    assert_eq!(silent.bond, bonded);
    assert_eq!(silent.slashed, 0);
    assert_eq!(chain.balance(4, AssetId::NATIVE), balance);
    // The committee fixed at this block seats the spare; those fixed before keep the silent
    // member, whose keys are dealt already.
    assert_eq!(members(&chain, 5), vec![1, 2, 3, 5]);
    assert_eq!(members(&chain, 3), vec![1, 2, 3, 4]);
    assert_eq!(members(&chain, 4), vec![1, 2, 3, 4]);
    // It stays locked while it still holds a share.
    let refused = chain.submit(4, Call::Staking(StakingCall::Withdraw(Default::default())));
    assert!(
        !refused.is_success(),
        "withdrawn while serving: {refused:?}"
    );
}

#[test]
fn one_proposal_in_an_epoch_starts_the_count_again() {
    let mut chain = chain();
    // Silent in epochs 1 and 3, one block in epoch 2: never two in a row.
    let proposal = 2 * L + 5;
    let proposes = |height: u64, index: u64| index != 4 || height == proposal;
    // Make sure the test gives validator 4 its view at `proposal`.
    advance_with(&mut chain, proposal - 1, &[], proposes);
    advance_with(&mut chain, proposal, &[], |_, index| index == 4);
    assert_eq!(validator(&chain, 4).last_proposed_epoch, Some(2));
    assert_eq!(validator(&chain, 4).silent_epochs, 1);
    advance_with(&mut chain, 3 * L, &[], proposes);
    assert_eq!(
        validator(&chain, 4).silent_epochs,
        0,
        "epoch 2 had a proposal"
    );
    advance_with(&mut chain, 4 * L, &[], proposes);
    assert_eq!(validator(&chain, 4).silent_epochs, 1);
    assert!(validator(&chain, 4).unbonding.is_none());
    assert!(Db::candidates(&chain.store).contains(&account(4)));
}

#[test]
fn a_proposal_in_the_judging_block_does_not_count_for_the_epoch_judged() {
    let mut chain = chain();
    advance(&mut chain, 3 * L - 1, &[4]);
    // Validator 4 proposes the first block of epoch 3, the one that judges epoch 2.
    advance_with(&mut chain, 3 * L, &[], |_, index| index == 4);
    let judged = validator(&chain, 4);
    assert_eq!(judged.last_proposed_epoch, Some(3));
    assert_eq!(
        judged.unbonding.map(|u| u.reason),
        Some(UnbondReason::Silent)
    );
}

#[test]
fn a_candidate_holding_no_share_is_never_judged() {
    let mut chain = chain();
    advance(&mut chain, 6 * L, &[]);
    let spare = validator(&chain, 5);
    assert_eq!(spare.silent_epochs, 0);
    assert_eq!(spare.last_proposed_epoch, None);
    assert!(spare.unbonding.is_none());
}

#[test]
fn silence_is_not_judged_when_signers_led_fewer_than_four_views_each() {
    let mut chain = chain();
    // Two more keys hold shares: six signers lead 16 / 6 = 2 views each at least, too few for
    // a silence to mean anything.
    let extra = [
        AccountId::from_public_key(&testing::key(99_001).public_key()),
        AccountId::from_public_key(&testing::key(99_002).public_key()),
    ];
    advance_with(&mut chain, 6 * L, &extra, |_, index| index != 4);
    assert_eq!(Db::players(&chain.store, 5), Some(6));
    assert_eq!(validator(&chain, 4).silent_epochs, 0);
    assert!(validator(&chain, 4).unbonding.is_none());
}

#[test]
fn a_block_from_a_key_no_validator_holds_changes_no_record() {
    let mut chain = chain();
    advance(&mut chain, L, &[]);
    let before: Vec<_> = (1..=5).map(|index| validator(&chain, index)).collect();
    // A stranger's key, and a validator's account key (not its node key), as proposers.
    for proposer in [
        AccountId::from_public_key(&testing::key(99_003).public_key()),
        account(1),
    ] {
        let mut context = chain.next_context();
        context.proposer = proposer;
        chain.apply_with(&context, &[]);
    }
    let after: Vec<_> = (1..=5).map(|index| validator(&chain, index)).collect();
    assert_eq!(before, after);
}

#[test]
fn a_member_that_returns_must_propose_or_it_goes_again() {
    let mut chain = chain();
    advance(&mut chain, 3 * L, &[4]);
    assert!(validator(&chain, 4).unbonding.is_some());
    let bond = validator(&chain, 4).bond;
    // It registers again with the same key and bond: a candidate again, at once.
    let again = StakingCall::Register(RegisterValidator {
        node_key: node_key(4),
        address: Text::new("127.0.0.1:9004".to_string()).unwrap(),
        bond,
        key_proof: KeyProof::sign(&node(4), &chain.chain_id(), &account(4)),
    });
    let receipt = chain.submit(4, Call::Staking(again));
    assert!(receipt.is_success(), "{receipt:?}");
    assert!(validator(&chain, 4).unbonding.is_none());
    // Still silent while it signs in epoch 3: gone again at the next judgment.
    advance(&mut chain, 4 * L, &[4]);
    assert_eq!(
        validator(&chain, 4).unbonding.map(|u| (u.reason, u.height)),
        Some((UnbondReason::Silent, 4 * L))
    );
}

#[test]
fn a_member_that_returns_and_proposes_keeps_its_seat() {
    let mut chain = chain();
    advance(&mut chain, 3 * L, &[4]);
    let bond = validator(&chain, 4).bond;
    let again = StakingCall::Register(RegisterValidator {
        node_key: node_key(4),
        address: Text::new("127.0.0.1:9004".to_string()).unwrap(),
        bond: bond + EQA,
        key_proof: KeyProof::sign(&node(4), &chain.chain_id(), &account(4)),
    });
    assert!(chain.submit(4, Call::Staking(again)).is_success());
    advance(&mut chain, 8 * L, &[]);
    let back = validator(&chain, 4);
    assert_eq!(back.silent_epochs, 0);
    assert!(back.unbonding.is_none());
    assert!(members(&chain, 9).contains(&4));
}

#[test]
fn silence_cannot_take_a_committee_below_four() {
    // Four validators and no spare: two fall silent, and the chain keeps them seated rather
    // than run with two.
    let mut chain = chain_of(4);
    advance(&mut chain, 6 * L, &[3, 4]);
    for index in [3, 4] {
        assert_eq!(
            validator(&chain, index).unbonding.map(|u| u.reason),
            Some(UnbondReason::Silent)
        );
    }
    for epoch in 5..=8 {
        assert_eq!(members(&chain, epoch), vec![1, 2, 3, 4], "epoch {epoch}");
    }
}

#[test]
fn silence_epochs_outside_its_range_is_refused_by_name() {
    for (value, ok) in [(0, false), (1, true), (1_000, true), (1_001, false)] {
        let text = testing::staking_genesis_text(
            &format!(
                "min_bond = \"100\"\ncommittee_size = 4\nblocks_per_epoch = 16\n\
                 max_candidates = 8\nsilence_epochs = {value}"
            ),
            2,
        );
        match Genesis::from_toml(&text) {
            Ok(_) => assert!(ok, "silence_epochs = {value} was accepted"),
            Err(ledger::GenesisError::Invalid { field, .. }) => {
                assert!(!ok, "silence_epochs = {value} was refused");
                assert_eq!(field, "params.staking.silence_epochs");
            }
            Err(other) => panic!("silence_epochs = {value}: {other:?}"),
        }
    }
    assert_eq!(staking::StakingParams::defaults(9).silence_epochs, 2);
}
