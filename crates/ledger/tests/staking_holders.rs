//! The resharing's outcome reaches the ledger: an epoch's final block names who holds shares of
//! the chain key in the next epoch (`BlockContext::next_holders`). When the resharing failed,
//! those are the previous holders, who sign on: their bonds stay locked while they do, and are
//! released one epoch after they stop, as a committee member's would be. The test chain checks
//! conservation and the registry's consistency (committees, holders, service) after every block.

use commonware_cryptography::{Signer, ed25519::PrivateKey};
use ledger::{
    Genesis,
    staking::{self, Db},
    testing::{self, TestChain, account, test_params},
};
use types::{AccountId, Call, market::Nothing, staking::StakingCall};

const ACCOUNTS: u64 = 8;
/// Blocks per epoch.
const L: u64 = 16;

fn node_key(index: u64) -> AccountId {
    let key: PrivateKey = testing::key(40_000 + index);
    AccountId::from_public_key(&key.public_key())
}

/// Validators 1 to 5, validator `i` bonded `100 + i` EQA: the committee of four seats the four
/// largest bonds (2 to 5).
fn chain() -> TestChain {
    let mut text = testing::staking_genesis_text(
        &format!(
            "min_bond = \"100\"\nunbonding_secs = 60\ncommittee_size = 4\nmax_candidates = 8\n\
             blocks_per_epoch = {L}"
        ),
        ACCOUNTS,
    );
    for index in 1..=5 {
        text.push_str(&testing::validator_entry(
            index,
            &node_key(index),
            &format!("127.0.0.1:{}", 9_000 + index),
            &format!("{}", 100 + index),
        ));
    }
    let mut genesis = Genesis::from_toml(&text).expect("a valid genesis");
    genesis.params = test_params();
    TestChain::from_genesis(&genesis)
}

fn validator(chain: &TestChain, index: u64) -> staking::Validator {
    Db::validator(&chain.store, &account(index)).expect("registered")
}

/// Applies empty blocks up to `height`; the final block of epoch 3 names `holders` as the
/// holders of epoch 4.
fn advance(chain: &mut TestChain, height: u64, holders: &[AccountId]) {
    while chain.height < height {
        let mut context = chain.next_context();
        if context.height == 4 * L - 1 {
            context.next_holders = Some(holders.to_vec());
        }
        chain.apply_with(&context, &[]);
    }
}

/// Validator 5 unbonds in epoch 0, so the committee of epoch 3 (fixed by epoch 1's first
/// block) seats validator 1 in its place: 5 sits on the committees of epochs 0 to 2 and signs
/// through epoch 3.
fn leaving() -> TestChain {
    let mut chain = chain();
    let receipt = chain.submit(5, Call::Staking(StakingCall::Unbond(Nothing)));
    assert!(receipt.is_success(), "{receipt:?}");
    chain
}

#[test]
fn a_resharing_that_succeeded_changes_no_release() {
    let mut chain = leaving();
    // The holders of epoch 4 are the committee of epoch 3: validators 1 to 4.
    let committee: Vec<AccountId> = (1..=4).map(node_key).collect();
    advance(&mut chain, 4 * L, &committee);
    let first_of_four = chain.time_ms;
    assert_eq!(validator(&chain, 5).last_epoch, Some(2));
    assert_eq!(validator(&chain, 5).served_until_ms, Some(first_of_four));
    for index in 1..=4 {
        assert_eq!(
            validator(&chain, index).served_until_ms,
            None,
            "still seated"
        );
    }
    assert!(Db::holders(&chain.store, 3).is_some(), "kept until epoch 5");
    advance(&mut chain, 5 * L, &committee);
    assert!(Db::holders(&chain.store, 3).is_none());
    assert_eq!(validator(&chain, 5).served_until_ms, Some(first_of_four));
}

#[test]
fn the_previous_holders_of_a_failed_resharing_stay_bonded_while_they_sign() {
    let mut chain = leaving();
    // Epoch 3's resharing failed: the holders of epoch 4 are still epoch 2's committee,
    // validators 2 to 5. A key nobody registered and a repeated one change nothing more.
    let mut carried: Vec<AccountId> = (2..=5).map(node_key).collect();
    carried.push(node_key(5));
    carried.push(AccountId::from_public_key(
        &testing::key(99_999).public_key(),
    ));
    advance(&mut chain, 4 * L - 1, &carried);
    let holders = Db::holders(&chain.store, 3).expect("kept");
    let named: Vec<u64> = (1..=5)
        .filter(|index| holders.members.iter().any(|m| m.account == account(*index)))
        .collect();
    assert_eq!(
        named,
        vec![2, 3, 4, 5],
        "the validators among the holders, once each"
    );
    // Validator 5 signs in epoch 4: its service does not end at epoch 4's first block.
    assert_eq!(validator(&chain, 5).last_epoch, Some(3));
    advance(&mut chain, 4 * L, &carried);
    assert_eq!(validator(&chain, 5).served_until_ms, None, "still signing");
    let params = staking::params::load(&chain.store);
    assert!(matches!(
        staking::release(&params, &validator(&chain, 5)),
        Some(staking::Release::Serving { epoch: 3, .. })
    ));
    let refused = chain.submit(5, Call::Staking(StakingCall::Withdraw(Nothing)));
    assert!(
        !refused.is_success(),
        "withdrawn while signing: {refused:?}"
    );
    // Its service ends with epoch 4, released at epoch 5's first block like epoch 3's
    // committee, and its bond one unbonding delay after.
    advance(&mut chain, 5 * L, &carried);
    let first_of_five = chain.time_ms;
    assert_eq!(validator(&chain, 5).served_until_ms, Some(first_of_five));
    assert!(Db::holders(&chain.store, 3).is_none(), "released with them");
    assert!(matches!(
        staking::release(&params, &validator(&chain, 5)),
        Some(staking::Release::At(at)) if at == first_of_five + 60_000
    ));
}
