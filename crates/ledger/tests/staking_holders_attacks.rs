//! Attacks on the share holders an epoch's final block names (`BlockContext::next_holders`,
//! `staking::record_holders`, their release at the epoch step, the audit): holders named twice
//! in an epoch or outside its final block, holders no resharing could have produced, repeated
//! failures, a holder slashed or withdrawn, a table flooded with keys, a panicked epoch step.

use commonware_cryptography::{Signer, ed25519::PrivateKey};
use ledger::{
    Genesis, Offense, Outcome,
    staking::{self, Db},
    testing::{self, TestChain, account, test_params},
};
use types::{
    AccountId, Call, Text,
    market::Nothing,
    staking::{KeyProof, RegisterValidator, StakingCall},
};

const EQA: u128 = 1_000_000_000;
const ACCOUNTS: u64 = 8;
/// Blocks per epoch.
const L: u64 = 16;
/// `unbonding_secs` in ms, and a margin.
const DELAY_MS: u64 = 61_000;

fn node(index: u64) -> PrivateKey {
    testing::key(40_000 + index)
}

fn node_key(index: u64) -> AccountId {
    AccountId::from_public_key(&node(index).public_key())
}

fn keys(range: std::ops::RangeInclusive<u64>) -> Vec<AccountId> {
    range.map(node_key).collect()
}

/// Validators 1 to 5 (bond 100 + i EQA), committee of four.
fn chain() -> TestChain {
    let mut text = testing::staking_genesis_text(
        &format!(
            "min_bond = \"100\"\nunbonding_secs = 60\ncommittee_size = 4\nmax_candidates = 8\n\
             blocks_per_epoch = {L}\nslash_bps = 1000"
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

/// Validator 5 unbonds in epoch 0: it sits on committees 0 to 2 (last epoch 2), and is
/// released at the first block of epoch 4.
fn leaving() -> TestChain {
    let mut chain = chain();
    let receipt = chain.submit(5, Call::Staking(StakingCall::Unbond(Nothing)));
    assert!(receipt.is_success(), "{receipt:?}");
    chain
}

fn validator(chain: &TestChain, index: u64) -> Option<staking::Validator> {
    Db::validator(&chain.store, &account(index))
}

/// Applies empty blocks up to `height`, the block at each height in `named` naming its holders.
fn advance(chain: &mut TestChain, height: u64, named: &[(u64, Vec<AccountId>)]) {
    while chain.height < height {
        let mut context = chain.next_context();
        if let Some((_, holders)) = named.iter().find(|(h, _)| *h == context.height) {
            context.next_holders = Some(holders.clone());
        }
        chain.apply_with(&context, &[]);
    }
}

/// `epochs` epochs of empty blocks, each followed by an unbonding delay.
fn wait_epochs(chain: &mut TestChain, epochs: u64) {
    for _ in 0..epochs {
        let to = chain.height + L;
        advance(chain, to, &[]);
        chain.advance_ms(DELAY_MS);
    }
}

/// Validator `index` cannot withdraw yet: it still serves.
fn assert_still_serving(chain: &mut TestChain, index: u64, why: &str) {
    let early = withdraw(chain, index);
    assert!(
        matches!(
            early.outcome,
            Outcome::Failed(ledger::CallError::Staking(
                staking::StakingError::StillServing { .. }
            ))
        ),
        "{why}: {early:?}"
    );
}

fn withdraw(chain: &mut TestChain, index: u64) -> ledger::Receipt {
    chain.submit(index, Call::Staking(StakingCall::Withdraw(Nothing)))
}

fn holders_kept(chain: &TestChain) -> usize {
    chain
        .store
        .scan_prefix(&[staking::records::table::HOLDERS])
        .count()
}

/// A block other than the epoch's final one names holders (a byzantine leader, or any second
/// `EpochInfo` in one epoch), and the final block names others. Had the first list counted, a
/// validator it marked (last epoch = this one, release taken back) would be on neither this
/// epoch's committee nor its holders, and no epoch step would ever release it. Only the final
/// block names holders, so validator 5 withdraws once its delay has passed.
#[test]
fn holders_named_mid_epoch_then_by_the_final_block_lock_no_bond() {
    let mut chain = leaving();
    // Epoch 3: a mid-epoch block names 1..=5, the final block names 1..=4.
    advance(
        &mut chain,
        4 * L - 1,
        &[(3 * L + 5, keys(1..=5)), (4 * L - 1, keys(1..=4))],
    );
    // Long after: five epochs on, well past every delay.
    wait_epochs(&mut chain, 5);
    let five = validator(&chain, 5).expect("registered");
    let receipt = withdraw(&mut chain, 5);
    assert_eq!(
        receipt.outcome,
        Outcome::Success,
        "validator 5 (last epoch {:?}, served until {:?}) can never withdraw: {receipt:?}",
        five.last_epoch,
        five.served_until_ms
    );
}

/// The same sequence with the test chain's audit on: the registry it leaves must pass
/// `check_indexes` after every block.
#[test]
fn holders_overwritten_within_an_epoch_keep_the_audit() {
    let mut chain = leaving();
    advance(
        &mut chain,
        6 * L,
        &[(3 * L + 5, keys(1..=5)), (4 * L - 1, keys(1..=4))],
    );
}

/// The same at an epoch's first block: validator 5 is released there (last epoch 2), a
/// byzantine first block of epoch 4 names it again (release taken back), and epoch 4's final
/// block names the committee only.
#[test]
fn holders_named_at_an_epochs_first_block_then_by_the_final_block_lock_no_bond() {
    let mut chain = leaving();
    advance(
        &mut chain,
        5 * L - 1,
        &[(4 * L, keys(1..=5)), (5 * L - 1, keys(1..=4))],
    );
    wait_epochs(&mut chain, 5);
    let receipt = withdraw(&mut chain, 5);
    assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
}

/// Held: holders named only in a non-final block (and none in the final one) are released on
/// the usual schedule.
#[test]
fn holders_named_mid_epoch_only_are_released() {
    let mut chain = leaving();
    advance(&mut chain, 5 * L, &[(3 * L + 5, keys(2..=5))]);
    assert!(validator(&chain, 5).unwrap().served_until_ms.is_some());
    chain.advance_ms(DELAY_MS);
    let receipt = withdraw(&mut chain, 5);
    assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
}

/// Held: consecutive failed resharings extend the lock epoch by epoch; the holder is released
/// at the first block two epochs after the last final block naming it, not before.
#[test]
fn consecutive_failures_extend_then_release() {
    let mut chain = leaving();
    let named = [
        (4 * L - 1, keys(2..=5)),
        (5 * L - 1, keys(2..=5)),
        (6 * L - 1, keys(1..=4)),
    ];
    advance(&mut chain, 6 * L - 2, &named);
    assert_eq!(validator(&chain, 5).unwrap().last_epoch, Some(4));
    assert_eq!(validator(&chain, 5).unwrap().served_until_ms, None);
    chain.advance_ms(DELAY_MS);
    assert_still_serving(&mut chain, 5, "released early");
    advance(&mut chain, 6 * L, &named);
    let released = chain.time_ms;
    assert_eq!(
        validator(&chain, 5).unwrap().served_until_ms,
        Some(released)
    );
    chain.advance_ms(DELAY_MS);
    assert!(withdraw(&mut chain, 5).is_success());
    assert!(holders_kept(&chain) <= 2);
}

/// Held: a holder slashed in the very block that names it; conservation and the audit hold, it
/// stays locked through the next epoch and is released on schedule.
#[test]
fn holder_slashed_in_the_naming_block() {
    let mut chain = leaving();
    advance(&mut chain, 4 * L - 2, &[]);
    let mut context = chain.next_context();
    context.next_holders = Some(keys(2..=5));
    context.offenses = vec![Offense {
        node_key: node_key(5),
        epoch: 3,
    }];
    chain.apply_with(&context, &[]);
    let five = validator(&chain, 5).unwrap();
    assert!(five.slashed > 0);
    assert_eq!(five.last_epoch, Some(3));
    advance(&mut chain, 5 * L - 2, &[]);
    chain.advance_ms(DELAY_MS);
    assert_still_serving(&mut chain, 5, "released while holding");
    advance(&mut chain, 5 * L, &[]);
    chain.advance_ms(DELAY_MS);
    assert!(withdraw(&mut chain, 5).is_success());
}

/// Held: a validator that already withdrew is not recreated or locked when named later, and
/// its account re-registering the key afterwards starts clean.
#[test]
fn withdrawn_holder_is_not_resurrected() {
    let mut chain = leaving();
    advance(&mut chain, 4 * L, &[]);
    chain.advance_ms(DELAY_MS);
    assert!(withdraw(&mut chain, 5).is_success());
    advance(&mut chain, 5 * L - 1, &[(5 * L - 1, keys(1..=5))]);
    assert!(validator(&chain, 5).is_none());
    let holders = Db::holders(&chain.store, 4).expect("kept");
    assert!(holders.members.iter().all(|m| m.account != account(5)));
    let chain_id = chain.chain_id();
    let call = StakingCall::Register(RegisterValidator {
        node_key: node_key(5),
        address: Text::new("127.0.0.1:9005").unwrap(),
        bond: 100 * EQA,
        key_proof: KeyProof::sign(&node(5), &chain_id, &account(5)),
    });
    assert!(chain.submit(5, Call::Staking(call)).is_success());
    advance(&mut chain, 7 * L, &[]);
    assert_eq!(validator(&chain, 5).unwrap().served_until_ms, None);
}

/// Bounded: a byzantine stream naming holders in every block, with thousands of repeated and
/// unknown keys, keeps at most two holder records, each seating a validator at most once.
#[test]
fn holders_table_bounded_under_spam() {
    let mut chain = chain();
    let mut spam: Vec<AccountId> = Vec::new();
    for i in 0..2_000u64 {
        spam.push(node_key(1 + i % 5));
        spam.push(AccountId::from_public_key(
            &testing::key(90_000 + i % 7).public_key(),
        ));
    }
    while chain.height < 6 * L {
        let mut context = chain.next_context();
        context.next_holders = Some(spam.clone());
        chain.apply_with(&context, &[]);
        assert!(holders_kept(&chain) <= 2, "at {}", chain.height);
    }
    assert!(
        Db::holders(&chain.store, 5).is_some(),
        "epoch 5's final block named holders"
    );
    for epoch in 5..=6 {
        let Some(named) = Db::holders(&chain.store, epoch) else {
            continue;
        };
        let once: std::collections::BTreeSet<_> = named.members.iter().map(|m| m.account).collect();
        assert_eq!(once.len(), named.members.len(), "a validator named twice");
        assert!(named.members.len() <= 5);
    }
}

/// The epoch step's election panics at the first block of epoch 5 (fault injection): the
/// carried-over step must still release the holders epoch 3's final block named.
#[cfg(feature = "fault-injection")]
#[test]
fn carried_over_step_releases_holders() {
    let mut chain = leaving();
    ledger::fault::panic_at_epoch_step(5 * L);
    advance(&mut chain, 4 * L + 2, &[(4 * L - 1, keys(2..=5))]);
    assert_eq!(validator(&chain, 5).unwrap().served_until_ms, None);
    // A large new bond the election at 5 * L would seat: the carried-over step does not.
    let chain_id = chain.chain_id();
    let call = StakingCall::Register(RegisterValidator {
        node_key: node_key(6),
        address: Text::new("127.0.0.1:9006").unwrap(),
        bond: 200 * EQA,
        key_proof: KeyProof::sign(&node(6), &chain_id, &account(6)),
    });
    assert!(chain.submit(6, Call::Staking(call)).is_success());
    advance(&mut chain, 5 * L, &[]);
    ledger::fault::panic_at_epoch_step(0);
    let seventh = Db::epoch_committee(&chain.store, 7).expect("kept");
    assert!(
        seventh.members.iter().all(|m| m.account != account(6)),
        "the election ran: the fault did not fire"
    );
    assert!(Db::holders(&chain.store, 3).is_none());
    assert_eq!(
        validator(&chain, 5).unwrap().served_until_ms,
        Some(chain.time_ms)
    );
}

/// Defense in depth (LOW): a final block may name any validator as a holder, even one that sat
/// on no committee and held no share (a fresh candidate that unbonded at once), and locks its
/// bond through the next epoch. The only legitimate holders after epoch `e` are epoch `e`'s
/// committee (resharing succeeded) or the holders after `e - 1` / committee of `e - 1` (failed),
/// all of which the ledger knows. Fails while such a name is accepted.
#[test]
fn holders_outside_the_plausible_sets_lock_nobody() {
    let mut chain = leaving();
    advance(&mut chain, 3 * L + 2, &[]);
    let chain_id = chain.chain_id();
    let call = StakingCall::Register(RegisterValidator {
        node_key: node_key(6),
        address: Text::new("127.0.0.1:9006").unwrap(),
        bond: 100 * EQA,
        key_proof: KeyProof::sign(&node(6), &chain_id, &account(6)),
    });
    assert!(chain.submit(6, Call::Staking(call)).is_success());
    assert!(
        chain
            .submit(6, Call::Staking(StakingCall::Unbond(Nothing)))
            .is_success()
    );
    let mut named = keys(1..=4);
    named.push(node_key(6));
    advance(&mut chain, 4 * L + 1, &[(4 * L - 1, named)]);
    chain.advance_ms(DELAY_MS);
    let receipt = withdraw(&mut chain, 6);
    assert_eq!(receipt.outcome, Outcome::Success, "{receipt:?}");
}
