//! A validator that holds a share of the chain key but proposes too little loses its seat: after
//! `silence_epochs` epochs in a row in which it proposed fewer than half the views it led, it
//! is taken off the candidates and unbonds, losing nothing else, and may stand again once its
//! bond is free. Each test is a way to keep a silent seat, or to cost an active validator its
//! seat, that the rule must stop. The test chain checks conservation and the registry's
//! consistency (committees, holders and their player counts) after every block.

use commonware_cryptography::{Signer, ed25519::PrivateKey};
use ledger::{
    CallError, Genesis, Offense, Outcome,
    staking::{self, Db, StakingError, UnbondReason},
    testing::{self, TestChain, account, test_params},
};
use types::{
    AccountId, AssetId, Call, Text,
    staking::{KeyProof, RegisterValidator, StakingCall},
};

const ACCOUNTS: u64 = 8;
const EQA: u128 = 1_000_000_000;

fn node(index: u64) -> PrivateKey {
    testing::key(50_000 + index)
}

fn node_key(index: u64) -> AccountId {
    AccountId::from_public_key(&node(index).public_key())
}

fn stranger(index: u64) -> AccountId {
    AccountId::from_public_key(&testing::key(99_000 + index).public_key())
}

struct Sim {
    chain: TestChain,
    /// Blocks per epoch.
    l: u64,
}

/// Validators `1..=validators`, validator `i` bonded `106 - i` EQA, committee of four, epochs of
/// `l` blocks, plus `extra` staking parameters.
fn sim(validators: u64, l: u64, extra: &str) -> Sim {
    sim_seats(validators, 4, l, extra)
}

/// [`sim`] with a committee of `seats`.
fn sim_seats(validators: u64, seats: u16, l: u64, extra: &str) -> Sim {
    let mut text = testing::staking_genesis_text(
        &format!(
            "min_bond = \"100\"\ncommittee_size = {seats}\nmax_candidates = 8\n\
             blocks_per_epoch = {l}\n{extra}"
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
    Sim {
        chain: TestChain::from_genesis(&genesis),
        l,
    }
}

fn index_of(account_id: &AccountId) -> u64 {
    (1..=ACCOUNTS)
        .find(|index| account(*index) == *account_id)
        .expect("a test account")
}

impl Sim {
    fn validator(&self, index: u64) -> staking::Validator {
        Db::validator(&self.chain.store, &account(index)).expect("registered")
    }

    fn members(&self, epoch: u64) -> Vec<u64> {
        staking::epoch_committee(&self.chain.store, epoch)
            .expect("kept")
            .members
            .iter()
            .map(|m| index_of(&m.account))
            .collect()
    }

    /// One block. The proposer is the round-robin leader among the epoch's signers (the
    /// committee of the epoch before), or the next one for which `proposes` holds. The epoch's
    /// final block names `holders(members of this epoch)`.
    fn block(
        &mut self,
        proposes: &dyn Fn(u64, u64) -> bool,
        holders: &dyn Fn(Vec<AccountId>) -> Vec<AccountId>,
        offenses: &[Offense],
        txs: &[types::SignedTransaction],
    ) {
        let mut context = self.chain.next_context();
        let epoch = context.height / self.l;
        let signers = self.members(epoch.saturating_sub(1));
        let start = usize::try_from(context.height).unwrap() % signers.len();
        let leader = (0..signers.len())
            .map(|offset| signers[(start + offset) % signers.len()])
            .find(|index| proposes(context.height, *index))
            .expect("someone proposes");
        context.proposer = node_key(leader);
        context.offenses = offenses.to_vec();
        if (context.height + 1).is_multiple_of(self.l) {
            let named = self.members(epoch).into_iter().map(node_key).collect();
            context.next_holders = Some(holders(named));
        }
        self.chain.apply_with(&context, txs);
    }

    fn advance_with(
        &mut self,
        height: u64,
        proposes: &dyn Fn(u64, u64) -> bool,
        holders: &dyn Fn(Vec<AccountId>) -> Vec<AccountId>,
    ) {
        while self.chain.height < height {
            self.block(proposes, holders, &[], &[]);
        }
    }

    fn advance(&mut self, height: u64, silent: &[u64]) {
        let silent = silent.to_vec();
        self.advance_with(height, &move |_, i| !silent.contains(&i), &|h| h);
    }

    fn register(&self, index: u64, bond: u128) -> types::SignedTransaction {
        let call = StakingCall::Register(RegisterValidator {
            node_key: node_key(index),
            address: Text::new(format!("127.0.0.1:{}", 9_000 + index)).unwrap(),
            bond,
            key_proof: KeyProof::sign(&node(index), &self.chain.chain_id(), &account(index)),
        });
        self.chain.tx(index, Call::Staking(call))
    }
}

/// A validator taken off for silence tries to step back onto the candidates (same key, same
/// bond, a fee) whenever it holds no share the next judgment looks at, which would have it
/// elected again before it could be judged: with a seven-day unbonding it is refused every
/// time, and never sits again.
#[test]
fn a_silent_validator_stepping_back_between_judgments_is_refused_and_never_seated_again() {
    // A seven-day unbonding, as the defaults: no withdrawing and registering afresh.
    let mut s = sim(5, 16, "unbonding_secs = 604800");
    let l = s.l;
    let never_4 = |_: u64, i: u64| i != 4;
    s.advance_with(3 * l, &never_4, &|h| h);
    assert_eq!(
        s.validator(4).unbonding.map(|u| u.reason),
        Some(UnbondReason::Silent)
    );
    let bond = s.validator(4).bond;
    let (mut rebonds, mut seated, mut fixed) = (0, Vec::new(), 0);
    while s.chain.height < 40 * l {
        let next = s.chain.height + 1;
        let epoch = next / l;
        // The next judgment (first block of epoch + 1) reads the holders epoch - 1's final block
        // named: return only when validator 4 is not among them.
        let judged_next = Db::holders(&s.chain.store, epoch.saturating_sub(1))
            .is_some_and(|h| h.members.iter().any(|m| m.account == account(4)));
        let txs = if !next.is_multiple_of(l) && s.validator(4).unbonding.is_some() && !judged_next {
            rebonds += 1;
            vec![s.register(4, bond)]
        } else {
            vec![]
        };
        s.block(&never_4, &|h| h, &[], &txs);
        if !txs.is_empty() {
            assert!(s.validator(4).unbonding.is_some(), "the return was refused");
        }
        // Each epoch's first block fixes the committee two epochs ahead.
        if next.is_multiple_of(l) {
            fixed += 1;
            if s.members(epoch + 2).contains(&4) {
                seated.push(epoch + 2);
            }
        }
    }
    assert_eq!(s.validator(4).last_proposed_epoch, None, "never proposed");
    assert!(
        seated.is_empty(),
        "a validator that never proposed was elected to {} of the {fixed} committees fixed \
         after its eviction ({rebonds} returns tried): {seated:?}",
        seated.len()
    );
    assert!(rebonds > 0);
}

/// A member proposes in one of the four views it leads in each epoch and lets the other three
/// time out: fewer than half, so it is as silent as one that proposes nothing.
#[test]
fn one_proposal_per_epoch_does_not_keep_a_seat_whose_other_views_time_out() {
    let mut s = sim(5, 16, "");
    let l = s.l;
    // Signers are [1, 2, 3, 4] and the leader of height h is signers[h % 4]: validator 4 leads
    // every h = 3 mod 4; it proposes only at h = 3 mod 16.
    let once = move |h: u64, i: u64| i != 4 || h % l == 3;
    s.advance_with(10 * l, &once, &|h| h);
    let v = s.validator(4);
    assert!(v.last_proposed_epoch.is_some());
    assert!(
        v.unbonding.is_some(),
        "proposed 1 of its 4 views in every epoch for 10 epochs and keeps its seat \
         (silent_epochs {})",
        v.silent_epochs
    );
}

/// A final block that names one key twice does not raise the player count (which would give
/// each signer fewer views and switch the judgment off): players are counted once each.
#[test]
fn a_key_named_twice_does_not_switch_the_judgment_off() {
    let mut s = sim(5, 16, "");
    let l = s.l;
    let twice = |mut h: Vec<AccountId>| {
        h.push(h[0]);
        h
    };
    s.advance_with(6 * l, &|_, i| i != 4, &twice);
    assert_eq!(Db::players(&s.chain.store, 5), Some(4));
    assert_eq!(Db::holders(&s.chain.store, 5).unwrap().members.len(), 4);
    assert_eq!(
        s.validator(4).unbonding.map(|u| u.reason),
        Some(UnbondReason::Silent),
        "silent among four distinct signers"
    );
}

/// A validator taken off for silence and proven in the same block to have signed
/// contradictory votes leaves slashed: the reason the API shows is the slash.
#[test]
fn a_slash_after_a_silent_eviction_reads_slashed() {
    let mut s = sim(5, 16, "");
    let l = s.l;
    s.advance(3 * l - 1, &[4]);
    // Judged silent and slashed in the same block (the judgment runs first).
    s.block(
        &|_, i| i != 4,
        &|h| h,
        &[Offense {
            node_key: node_key(4),
            epoch: 2,
        }],
        &[],
    );
    let v = s.validator(4);
    assert!(v.slashed > 0, "the slash burned");
    assert_eq!(
        v.unbonding.as_ref().map(|u| u.reason),
        Some(UnbondReason::Slashed),
        "a slashed validator is shown as {:?}",
        v.unbonding.as_ref().map(|u| u.reason)
    );
}

/// Holds. Nothing another party controls costs an active validator its seat: registrations
/// and big bonds, a spare's unbond and return, slashes of others, blocks whose proposer is a
/// validator's account key or a stranger's key, holders lists naming strangers and validators
/// that hold no share, all in the judging blocks. Epochs of 20 blocks keep the judgment on with
/// a fifth (stranger) key named.
#[test]
fn nothing_another_party_controls_evicts_an_active_validator() {
    let mut s = sim(5, 20, "");
    let l = s.l;
    let all = |_: u64, _: u64| true;
    let with_others = |mut h: Vec<AccountId>| {
        // The spare's key (not a plausible holder: dropped from the holders, not judged), or a
        // stranger's when the spare sits: five keys, four views each.
        h.push(if h.contains(&node_key(5)) {
            stranger(1)
        } else {
            node_key(5)
        });
        h
    };
    // Validator 6 registers with the largest bond in the first block of epoch 1.
    s.advance_with(l - 1, &all, &with_others);
    let tx = s.register(6, 500 * EQA);
    s.block(&all, &with_others, &[], &[tx]);
    for epoch in 2..10 {
        // The first block: proposed by the account key of validator 1, spare 5 unbonds.
        s.advance_with(epoch * l - 1, &all, &with_others);
        let mut context = s.chain.next_context();
        context.proposer = account(1);
        let unbond = s
            .chain
            .tx(5, Call::Staking(StakingCall::Unbond(Default::default())));
        s.chain.apply_with(&context, &[unbond]);
        if epoch == 3 {
            // Validator 6, now seated, equivocated: slashed in a judging block's successor.
            s.block(
                &all,
                &with_others,
                &[Offense {
                    node_key: node_key(6),
                    epoch: 3,
                }],
                &[],
            );
        }
        let mut context = s.chain.next_context();
        context.proposer = stranger(2);
        s.chain.apply_with(&context, &[]);
        if s.validator(5).unbonding.is_some() {
            let bond = s.validator(5).bond;
            let tx = s.register(5, bond);
            s.block(&all, &with_others, &[], &[tx]);
        }
    }
    s.advance_with(12 * l, &all, &with_others);
    assert_eq!(Db::players(&s.chain.store, 11), Some(5));
    assert!(
        (1..=4).all(|i| s.validator(i).last_proposed_epoch.is_some()),
        "everyone proposed"
    );
    for index in 1..=4 {
        let v = s.validator(index);
        assert_eq!(v.silent_epochs, 0, "validator {index}");
        assert!(
            v.unbonding
                .as_ref()
                .is_none_or(|u| u.reason != UnbondReason::Silent),
            "validator {index} evicted: {v:?}"
        );
    }
}

/// Holds. Raising the bond, or unbonding by itself just before the judgment and returning just
/// after, does not reset the count or win an election: the judgment and the election run in
/// the same step before any transaction.
#[test]
fn raising_the_bond_or_dodging_the_judgment_wins_nothing() {
    let mut s = sim(5, 16, "");
    let l = s.l;
    let never_4 = |_: u64, i: u64| i != 4;
    s.advance_with(2 * l + 3, &never_4, &|h| h);
    assert_eq!(s.validator(4).silent_epochs, 1);
    let tx = s.register(4, 150 * EQA);
    s.block(&never_4, &|h| h, &[], &[tx]);
    assert_eq!(s.validator(4).silent_epochs, 1, "a raise resets nothing");
    // Unbond in the last block before the judgment, return in the judging block.
    s.advance_with(3 * l - 2, &never_4, &|h| h);
    let tx = s
        .chain
        .tx(4, Call::Staking(StakingCall::Unbond(Default::default())));
    s.block(&never_4, &|h| h, &[], &[tx]);
    let tx = s.register(4, 150 * EQA);
    s.block(&never_4, &|h| h, &[], &[tx]);
    assert_eq!(s.chain.height, 3 * l);
    assert!(s.validator(4).unbonding.is_none());
    assert_eq!(s.validator(4).silent_epochs, 2);
    assert!(
        !s.members(5).contains(&4),
        "the election ran before the return"
    );
    s.advance_with(4 * l, &never_4, &|h| h);
    assert_eq!(
        s.validator(4).unbonding.map(|u| (u.reason, u.height)),
        Some((UnbondReason::Silent, 4 * l))
    );
    assert!(!s.members(6).contains(&4));
}

/// Holds (a delay, not an escape). A final block that names no holders leaves the next
/// judgment without its record: that epoch is skipped, the count neither grows nor resets.
#[test]
fn an_epoch_without_named_holders_only_delays_the_judgment() {
    let mut s = sim(5, 16, "");
    let l = s.l;
    let never_4 = |_: u64, i: u64| i != 4;
    s.advance_with(2 * l - 2, &never_4, &|h| h);
    // The final block of epoch 1 names nobody (next_holders None).
    let mut context = s.chain.next_context();
    context.proposer = node_key(1);
    s.chain.apply_with(&context, &[]);
    assert!(Db::holders(&s.chain.store, 1).is_none());
    s.advance_with(3 * l, &never_4, &|h| h);
    assert_eq!(s.validator(4).silent_epochs, 1, "epoch 2 not judged");
    assert!(s.validator(4).unbonding.is_none());
    s.advance_with(4 * l, &never_4, &|h| h);
    assert_eq!(
        s.validator(4).unbonding.map(|u| u.reason),
        Some(UnbondReason::Silent)
    );
}

/// Holds. A silent eviction costs nothing: after its service and the delay the whole bond comes
/// back with `withdraw`, and conservation holds throughout (checked each block).
#[test]
fn a_silent_validator_withdraws_its_whole_bond_after_service() {
    let mut s = sim(5, 16, "unbonding_secs = 60");
    let l = s.l;
    let balance = s.chain.balance(4, AssetId::NATIVE);
    let bond = s.validator(4).bond;
    s.advance(3 * l, &[4]);
    assert!(s.validator(4).unbonding.is_some());
    // Seated through committee 4: holds through epoch 5, released at the first block of 6.
    s.advance(6 * l + 80, &[4]);
    let receipt = s
        .chain
        .submit(4, Call::Staking(StakingCall::Withdraw(Default::default())));
    assert!(receipt.is_success(), "{receipt:?}");
    assert!(Db::validator(&s.chain.store, &account(4)).is_none());
    assert_eq!(
        s.chain.balance(4, AssetId::NATIVE),
        balance + bond - receipt.fee_paid
    );
}

/// Holds (a delay, not an escape). The election panics at the judging block (fault
/// injection); the carried-over step does not judge, the count is not reset, and the next
/// judgment evicts.
#[cfg(feature = "fault-injection")]
#[test]
fn a_failed_election_delays_the_judgment_by_one_epoch() {
    let mut s = sim(5, 16, "");
    let l = s.l;
    ledger::fault::panic_at_epoch_step(3 * l);
    s.advance(3 * l, &[4]);
    ledger::fault::panic_at_epoch_step(0);
    assert_eq!(s.validator(4).silent_epochs, 1);
    assert!(s.validator(4).unbonding.is_none());
    s.advance(4 * l, &[4]);
    assert_eq!(
        s.validator(4).unbonding.map(|u| (u.reason, u.height)),
        Some((UnbondReason::Silent, 4 * l))
    );
}

/// Holds. At the shortest epoch for a committee of five (20 blocks) with `silence_epochs = 1`,
/// the judgment is on from the first judgeable epoch (1, judged at 2L), and never in epoch 0.
#[test]
fn shortest_epochs_and_one_silent_epoch() {
    let mut s = sim_seats(6, 5, 20, "silence_epochs = 1");
    s.advance(2 * 20 - 1, &[5]);
    assert!(s.validator(5).unbonding.is_none());
    assert_eq!(s.validator(5).silent_epochs, 0, "epoch 0 is never judged");
    s.advance(2 * 20, &[5]);
    assert_eq!(
        s.validator(5).unbonding.map(|u| u.reason),
        Some(UnbondReason::Silent)
    );
    assert_eq!(s.members(4), vec![1, 2, 3, 4, 6]);
}

/// An operator whose node was down long enough to be taken off (count 3 or more) waits until
/// its bond is free, stands again and starts from zero: one unlucky epoch after its return does not
/// cost it its seat again.
#[test]
fn a_returned_validator_starts_its_count_from_zero() {
    let mut s = sim(5, 16, "unbonding_secs = 604800");
    let l = s.l;
    s.advance(4 * l, &[4]);
    // Too early: still serving on the committees fixed before it was taken off.
    let bond = s.validator(4).bond;
    let tx = s.register(4, bond);
    let receipt = s.chain.apply(&[tx]).remove(0);
    assert!(
        matches!(
            receipt.outcome,
            Outcome::Failed(CallError::Staking(StakingError::SilentServing { .. }))
        ),
        "{receipt:?}"
    );
    s.advance(6 * l, &[4]);
    assert!(s.validator(4).silent_epochs >= 3);
    // Served; the delay runs a week from the end of its service.
    s.advance(7 * l, &[4]);
    let tx = s.register(4, bond);
    let receipt = s.chain.apply(&[tx]).remove(0);
    let Outcome::Failed(CallError::Staking(StakingError::SilentUntil { free_at_ms, .. })) =
        receipt.outcome
    else {
        panic!("{receipt:?}");
    };
    s.chain.time_ms = free_at_ms;
    let tx = s.register(4, bond);
    let receipt = s.chain.apply(&[tx]).remove(0);
    assert!(receipt.is_success(), "{receipt:?}");
    assert_eq!(s.validator(4).silent_epochs, 0);
    // Elected again; one epoch in which none of its views made a block is one, not six.
    let back = s.chain.height / l;
    s.advance((back + 4) * l, &[]);
    assert!(s.members(back + 3).contains(&4));
    s.advance((back + 5) * l, &[4]);
    assert_eq!(s.validator(4).silent_epochs, 1);
    assert!(s.validator(4).unbonding.is_none());
}

#[test]
fn a_member_silent_for_two_epochs_loses_its_seat_and_nothing_else() {
    let mut s = sim(5, 16, "unbonding_secs = 60");
    let l = s.l;
    let bonded = s.validator(4).bond;
    let balance = s.chain.balance(4, AssetId::NATIVE);
    // Epoch 0's signers are not judged (nobody named them); epoch 1 is judged at 2L.
    s.advance(2 * l, &[4]);
    assert_eq!(s.validator(4).silent_epochs, 1);
    assert!(
        s.validator(4).unbonding.is_none(),
        "one epoch is not enough"
    );
    for index in 1..=3 {
        assert_eq!(s.validator(index).silent_epochs, 0);
    }
    s.advance(3 * l - 1, &[4]);
    assert!(s.validator(4).unbonding.is_none());
    // The first block of epoch 3 judges epoch 2: the second silent epoch in a row.
    s.advance(3 * l, &[4]);
    let silent = s.validator(4);
    assert_eq!(silent.silent_epochs, 2);
    let unbonding = silent.unbonding.expect("taken off the candidates");
    assert_eq!(unbonding.reason, UnbondReason::Silent);
    assert!(unbonding.reason.evicted());
    assert_eq!(unbonding.height, 3 * l);
    assert!(!Db::candidates(&s.chain.store).contains(&account(4)));
    // It loses its seat, not its money.
    assert_eq!(silent.bond, bonded);
    assert_eq!(silent.slashed, 0);
    assert_eq!(s.chain.balance(4, AssetId::NATIVE), balance);
    // The committee fixed at this block seats the spare; those fixed before keep the silent
    // member, whose keys are dealt already.
    assert_eq!(s.members(5), vec![1, 2, 3, 5]);
    assert_eq!(s.members(3), vec![1, 2, 3, 4]);
    assert_eq!(s.members(4), vec![1, 2, 3, 4]);
}

#[test]
fn half_the_views_led_in_an_epoch_start_the_count_again() {
    let mut s = sim(5, 16, "");
    let l = s.l;
    // Validator 4 leads every height h = 3 mod 4. Silent in epochs 1 and 3; in epoch 2 it
    // proposes two of its four views, the least that counts (16 / 4 / 2).
    let proposes = move |h: u64, i: u64| i != 4 || (h / l == 2 && h % l < 8);
    s.advance_with(3 * l - 1, &proposes, &|h| h);
    assert_eq!(s.validator(4).last_proposed_epoch, Some(2));
    assert_eq!(s.validator(4).proposals, 2);
    assert_eq!(s.validator(4).silent_epochs, 1);
    s.advance_with(3 * l, &proposes, &|h| h);
    assert_eq!(s.validator(4).silent_epochs, 0, "epoch 2 had enough");
    s.advance_with(4 * l, &proposes, &|h| h);
    assert_eq!(s.validator(4).silent_epochs, 1);
    assert!(s.validator(4).unbonding.is_none());
    assert!(Db::candidates(&s.chain.store).contains(&account(4)));
}

#[test]
fn a_proposal_in_the_judging_block_does_not_count_for_the_epoch_judged() {
    let mut s = sim(5, 16, "");
    let l = s.l;
    s.advance(3 * l - 1, &[4]);
    // Validator 4 proposes the first block of epoch 3, the one that judges epoch 2.
    s.advance_with(3 * l, &|_, index| index == 4, &|h| h);
    let judged = s.validator(4);
    assert_eq!(judged.last_proposed_epoch, Some(3));
    assert_eq!(
        judged.unbonding.map(|u| u.reason),
        Some(UnbondReason::Silent)
    );
}

#[test]
fn a_candidate_holding_no_share_is_never_judged() {
    let mut s = sim(5, 16, "");
    s.advance(6 * s.l, &[]);
    let spare = s.validator(5);
    assert_eq!(spare.silent_epochs, 0);
    assert_eq!(spare.last_proposed_epoch, None);
    assert!(spare.unbonding.is_none());
}

#[test]
fn silence_is_not_judged_when_signers_led_fewer_than_four_views_each() {
    let mut s = sim(5, 16, "");
    // Two more keys hold shares: six signers lead 16 / 6 = 2 views each at least, too few for
    // a silence to mean anything.
    let extra = |mut holders: Vec<AccountId>| {
        holders.extend([stranger(1), stranger(2)]);
        holders
    };
    s.advance_with(6 * s.l, &|_, index| index != 4, &extra);
    assert_eq!(Db::players(&s.chain.store, 5), Some(6));
    assert_eq!(s.validator(4).silent_epochs, 0);
    assert!(s.validator(4).unbonding.is_none());
}

#[test]
fn a_block_from_a_key_no_validator_holds_changes_no_record() {
    let mut s = sim(5, 16, "");
    s.advance(s.l, &[]);
    let before: Vec<_> = (1..=5).map(|index| s.validator(index)).collect();
    // A stranger's key, and a validator's account key (not its node key), as proposers.
    for proposer in [stranger(3), account(1)] {
        let mut context = s.chain.next_context();
        context.proposer = proposer;
        s.chain.apply_with(&context, &[]);
    }
    let after: Vec<_> = (1..=5).map(|index| s.validator(index)).collect();
    assert_eq!(before, after);
}

#[test]
fn silence_cannot_take_a_committee_below_four() {
    // Four validators and no spare: two fall silent, and the chain keeps them seated rather
    // than run with two.
    let mut s = sim(4, 16, "");
    s.advance(6 * s.l, &[3, 4]);
    for index in [3, 4] {
        assert_eq!(
            s.validator(index).unbonding.map(|u| u.reason),
            Some(UnbondReason::Silent)
        );
    }
    for epoch in 5..=8 {
        assert_eq!(s.members(epoch), vec![1, 2, 3, 4], "epoch {epoch}");
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
