//! Attacks on the staking module, as someone with money at stake would try them.
//!
//! A test that passes documents an attack the module defends. A test marked **BROKEN** asserts
//! the safe behaviour and fails on the module as written: the attack succeeds.
//!
//! Conservation and the registry's consistency (`audit::check_staking`) are checked after every
//! block by the test chain, so every test below also checks that nothing it did left the books or
//! the registry inconsistent.

use commonware_cryptography::{Signer, ed25519::PrivateKey};
use ledger::{
    BlockContext, CallError, Event, Outcome, Receipt, Store,
    staking::{self, Db, StakingError, StakingEvent},
    state::{self, Module},
    testing::{self, TestChain, account, test_params},
};
use std::cell::Cell;
use types::{
    AccountId, AssetId, Call, SignedTransaction, Text,
    bank::{BankCall, Transfer},
    codec::{Encode, decode},
    market::Nothing,
    staking::{KeyProof, RegisterValidator, StakingCall},
};

const EQA: u128 = 1_000_000_000;
/// A bond of at least 100 EQA, a day of unbonding, a committee of 4 among at most 5 candidates.
const MIN_BOND: u128 = 100 * EQA;
const UNBONDING_MS: u64 = 86_400_000;
const ACCOUNTS: u64 = 8;

fn genesis_text(staking: &str, accounts: u64) -> String {
    testing::staking_genesis_text(staking, accounts)
}

fn chain_with(staking: &str, accounts: u64) -> TestChain {
    let mut genesis =
        ledger::Genesis::from_toml(&genesis_text(staking, accounts)).expect("a valid genesis");
    genesis.params = test_params();
    TestChain::from_genesis(&genesis)
}

fn chain() -> TestChain {
    chain_with(
        "min_bond = \"100\"\nunbonding_secs = 86400\ncommittee_size = 4\nmax_candidates = 5",
        ACCOUNTS,
    )
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
        address: Text::new(format!("127.0.0.1:{}", 9_000 + index % 50_000)).unwrap(),
        bond,
        key_proof: KeyProof::sign(&node(index), &chain.chain_id(), &account(signer)),
    }
}

fn register_call(chain: &TestChain, signer: u64, index: u64, bond: u128) -> Call {
    Call::Staking(StakingCall::Register(registration(
        chain, signer, index, bond,
    )))
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

fn failed(receipt: &Receipt) -> Option<&StakingError> {
    match &receipt.outcome {
        Outcome::Failed(CallError::Staking(error)) => Some(error),
        _ => None,
    }
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

fn hex32(text: &str) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
    bytes
}

/// Every encoding of a point of small order: the identity, the point of order 2, the two of
/// order 4 and the four of order 8, canonical or not.
const SMALL_ORDER_ENCODINGS: [&str; 14] = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
];

/// A signature made without any private key: R is the identity and s is zero. Under ZIP-215's
/// cofactored check it verifies for every message under every public key of small order.
fn forged_signature() -> commonware_cryptography::ed25519::Signature {
    let mut bytes = [0u8; 64];
    bytes[0] = 1;
    decode(&bytes).expect("64 bytes are a signature")
}

// ---------------------------------------------------------------------------------------------
// Key proofs
// ---------------------------------------------------------------------------------------------

/// Found by this file (fixed): a signature with R = identity and s = 0 verifies over any message
/// for a key of small order, so a node key (or an account) at such a point could be registered
/// (or spent) by anyone, and the identity alone had four encodings. No such bytes are a key any
/// more: not as an account, not as a node key in a registration, not as the signer of a
/// transaction, so none reaches the ledger.
#[test]
fn keys_nobody_holds_are_no_keys() {
    let chain = chain();
    let node = PrivateKey::from_seed(10_001);
    let honest = RegisterValidator {
        node_key: AccountId::from_public_key(&node.public_key()),
        address: Text::new("127.0.0.1:9000").unwrap(),
        bond: MIN_BOND,
        key_proof: KeyProof(forged_signature()),
    };
    let call = Call::Staking(StakingCall::Register(honest.clone()));
    let tx = chain.tx(1, call.clone());
    for text in SMALL_ORDER_ENCODINGS {
        let bytes = hex32(text);
        assert!(
            AccountId::from_bytes(bytes).is_err(),
            "{text} is an account"
        );
        // The same registration with the node key's bytes replaced does not decode.
        let mut encoded = call.encode().to_vec();
        let at = find(&encoded, honest.node_key.as_bytes());
        encoded[at..at + 32].copy_from_slice(&bytes);
        assert!(
            decode::<Call>(&encoded).is_err(),
            "{text} decodes as a node key"
        );
        // Nor does a transaction signed "by" such a key.
        let mut encoded = tx.encode().to_vec();
        let at = find(&encoded, account(1).as_bytes());
        encoded[at..at + 32].copy_from_slice(&bytes);
        assert!(
            SignedTransaction::decode(&encoded).is_err(),
            "{text} decodes as a signer"
        );
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
        .expect("the bytes are in the encoding")
}

/// A registration seen in the mempool and copied into the attacker's own transaction, placed
/// before the victim's in the same block, fails on the proof; the victim's key stays free and
/// the victim's registration goes through.
#[test]
fn a_copied_registration_front_running_its_operator_fails_and_takes_nothing() {
    let mut chain = chain();
    let victim_call = registration(&chain, 1, 1, MIN_BOND);
    let mut copied = victim_call.clone();
    copied.bond = 3 * MIN_BOND;
    let attacker = chain.tx(2, Call::Staking(StakingCall::Register(copied)));
    let victim = chain.tx(1, Call::Staking(StakingCall::Register(victim_call)));
    let receipts = chain.apply(&[attacker, victim]);
    assert_eq!(failed(&receipts[0]), Some(&StakingError::BadKeyProof));
    assert!(receipts[1].is_success(), "{:?}", receipts[1]);
    assert_eq!(
        Db::node_key_owner(&chain.store, &node_key(1)),
        Some(account(1))
    );
    assert_eq!(held(&chain), MIN_BOND);
}

/// The proof names the account but is otherwise never used up: the same operator-signed proof
/// registers its key again for the same account after a withdrawal (an operator cannot revoke a
/// proof it once gave an account). Nobody else can use it.
#[test]
fn an_old_proof_is_reusable_only_by_the_account_it_names() {
    let mut chain = chain();
    let proof = registration(&chain, 1, 1, MIN_BOND);
    staking_events(submit(&mut chain, 1, StakingCall::Register(proof.clone())));
    staking_events(submit(&mut chain, 1, StakingCall::Unbond(Nothing)));
    chain.advance_ms(UNBONDING_MS);
    staking_events(submit(&mut chain, 1, StakingCall::Withdraw(Nothing)));
    refused(
        &mut chain,
        2,
        StakingCall::Register(proof.clone()),
        StakingError::BadKeyProof,
    );
    staking_events(submit(&mut chain, 1, StakingCall::Register(proof)));
    assert_eq!(held(&chain), MIN_BOND);
}

// ---------------------------------------------------------------------------------------------
// Eviction from a full registry
// ---------------------------------------------------------------------------------------------

fn fill(chain: &mut TestChain) {
    for (signer, bond) in [(1, 150), (2, 200), (3, 300), (4, 400), (5, 500)] {
        register(chain, signer, signer, bond * EQA);
    }
}

/// A bond above the lowest that the registrant cannot pay: the eviction it started is undone
/// with the rest of the call (the overlay is dropped), so the lowest candidate stays a candidate
/// with no unbonding, and nothing but the fee and nonce changed.
#[test]
fn an_eviction_with_a_bond_one_cannot_pay_leaves_no_half_evicted_candidate() {
    let mut chain = chain();
    fill(&mut chain);
    for bond in [chain.balance(6, AssetId::NATIVE) + 1, u128::MAX] {
        let before = chain.snapshot_except_fee(6);
        let call = StakingCall::Register(registration(&chain, 6, 6, bond));
        let receipt = submit(&mut chain, 6, call);
        assert!(
            matches!(
                failed(&receipt),
                Some(StakingError::Bank(
                    ledger::BankError::InsufficientBalance { .. }
                ))
            ),
            "{receipt:?}"
        );
        assert!(receipt.events.is_empty(), "events of an undone eviction");
        assert_eq!(chain.snapshot_except_fee(6), before, "a refusal wrote");
        let lowest = Db::validator(&chain.store, &account(1)).unwrap();
        assert_eq!(lowest.unbonding, None);
        assert_eq!(Db::candidates(&chain.store).len(), 5);
    }
}

/// The lowest candidate cannot out-bond (and so evict) itself: registering again with its own
/// node key raises its bond in place, evicting nobody, and naming another node key is refused.
#[test]
fn the_lowest_candidate_raises_its_bond_without_evicting_itself() {
    let mut chain = chain();
    fill(&mut chain);
    let other_key = StakingCall::Register(registration(&chain, 1, 7, 1_000 * EQA));
    refused(
        &mut chain,
        1,
        other_key,
        StakingError::AlreadyRegistered {
            account: account(1),
        },
    );
    let events = register(&mut chain, 1, 1, 1_000 * EQA);
    assert_eq!(events.len(), 1, "no eviction: {events:?}");
    assert_eq!(Db::candidates(&chain.store).len(), 5);
    assert!(
        Db::validator(&chain.store, &account(1)).is_some_and(|v| v.bond == 1_000 * EQA
            && v.unbonding.is_none()
            && v.registered_height == 1)
    );
    assert_eq!(held(&chain), (1_000 + 200 + 300 + 400 + 500) * EQA);
}

/// Eviction griefing (found by this file, closed by re-bonding): an attacker out-bonds the
/// lowest by one minor unit and unbonds in the same block. The evicted validator takes the freed
/// seat back at once by registering again with its node key and at least its old bond, without
/// waiting out the delay; its node key still cannot be put behind another account, and nothing
/// is paid out twice.
#[test]
fn an_evicted_validator_takes_a_freed_seat_back_without_waiting() {
    let mut chain = chain();
    fill(&mut chain);
    let evict = chain.tx(6, register_call(&chain, 6, 6, 150 * EQA + 1));
    let leave = chain.tx_with(6, 1, Call::Staking(StakingCall::Unbond(Nothing)));
    let receipts = chain.apply(&[evict, leave]);
    assert!(receipts.iter().all(Receipt::is_success), "{receipts:?}");
    assert_eq!(Db::candidates(&chain.store).len(), 4, "a seat is free");
    assert!(Db::validator(&chain.store, &account(1)).is_some_and(|v| {
        v.unbonding
            .is_some_and(|u| u.reason == staking::UnbondReason::Outbid)
    }));
    // Its node key cannot be put behind another of its accounts.
    let other = StakingCall::Register(registration(&chain, 7, 1, 1_000 * EQA));
    refused(
        &mut chain,
        7,
        other,
        StakingError::NodeKeyTaken {
            node_key: node_key(1),
            account: account(1),
        },
    );
    // Less than its old bond does not bring it back; its old bond does, with nothing paid.
    let less = StakingCall::Register(registration(&chain, 1, 1, 150 * EQA - 1));
    refused(
        &mut chain,
        1,
        less,
        StakingError::BondNotRaised {
            bond: 150 * EQA - 1,
            current: 150 * EQA,
        },
    );
    let balance = chain.balance(1, AssetId::NATIVE);
    register(&mut chain, 1, 1, 150 * EQA);
    assert!(
        balance - chain.balance(1, AssetId::NATIVE) < EQA,
        "only a fee was paid"
    );
    assert_eq!(Db::candidates(&chain.store).len(), 5);
    assert!(Db::validator(&chain.store, &account(1)).is_some_and(|v| v.unbonding.is_none()));
    // A full registry again: the next one back must out-bond the lowest.
    chain.advance_ms(UNBONDING_MS);
    staking_events(submit(&mut chain, 6, StakingCall::Withdraw(Nothing)));
    refused(
        &mut chain,
        1,
        StakingCall::Withdraw(Nothing),
        StakingError::NotUnbonding,
    );
    assert_eq!(held(&chain), (150 + 200 + 300 + 400 + 500) * EQA);
}

/// Registrations in one block: whoever is first takes the last seat, the second must out-bond
/// the new lowest. Two out-bidders in one block evict the two lowest, each exactly once, and
/// each evicted bond stays counted once.
#[test]
fn two_evictions_in_one_block_evict_two_distinct_candidates() {
    let mut chain = chain();
    fill(&mut chain);
    let a = chain.tx(6, register_call(&chain, 6, 6, 250 * EQA));
    let b = chain.tx(7, register_call(&chain, 7, 7, 250 * EQA));
    let receipts = chain.apply(&[a, b]);
    assert!(receipts.iter().all(Receipt::is_success), "{receipts:?}");
    for evicted in [1, 2] {
        let record = Db::validator(&chain.store, &account(evicted)).unwrap();
        assert!(
            record
                .unbonding
                .is_some_and(|u| u.reason == staking::UnbondReason::Outbid)
        );
    }
    assert_eq!(
        committee(&chain),
        vec![account(5), account(4), account(3), {
            // Equal bonds in one block: the lower account ranks first.
            account(6).min(account(7))
        }]
    );
    assert_eq!(
        held(&chain),
        (150 + 200 + 300 + 400 + 500 + 250 + 250) * EQA
    );
}

// ---------------------------------------------------------------------------------------------
// Bonds paid out once, and time
// ---------------------------------------------------------------------------------------------

/// Two withdrawals in one block: the second finds no record. Unbond and withdraw in one block:
/// the bond is not free yet. Withdraw and register again in one block: only the new bond is held.
#[test]
fn a_bond_is_paid_out_once_whatever_the_order_within_a_block() {
    let mut chain = chain();
    register(&mut chain, 1, 1, MIN_BOND);
    let nonce = chain.nonce(1);
    let unbond = chain.tx(1, Call::Staking(StakingCall::Unbond(Nothing)));
    let withdraw = chain.tx_with(1, nonce + 1, Call::Staking(StakingCall::Withdraw(Nothing)));
    let receipts = chain.apply(&[unbond, withdraw]);
    assert!(receipts[0].is_success());
    assert!(
        matches!(
            failed(&receipts[1]),
            Some(StakingError::UnbondingRunning { .. })
        ),
        "{:?}",
        receipts[1]
    );
    chain.advance_ms(UNBONDING_MS);
    let start = chain.balance(1, AssetId::NATIVE);
    let nonce = chain.nonce(1);
    let first = chain.tx(1, Call::Staking(StakingCall::Withdraw(Nothing)));
    let second = chain.tx_with(1, nonce + 1, Call::Staking(StakingCall::Withdraw(Nothing)));
    let receipts = chain.apply(&[first, second]);
    assert!(receipts[0].is_success());
    assert_eq!(
        failed(&receipts[1]),
        Some(&StakingError::NotRegistered {
            account: account(1)
        })
    );
    let fees = receipts[0].fee_paid + receipts[1].fee_paid;
    assert_eq!(chain.balance(1, AssetId::NATIVE), start + MIN_BOND - fees);
    assert_eq!(held(&chain), 0);

    // Withdraw and register again in one block.
    register(&mut chain, 1, 1, MIN_BOND);
    staking_events(submit(&mut chain, 1, StakingCall::Unbond(Nothing)));
    chain.advance_ms(UNBONDING_MS);
    let nonce = chain.nonce(1);
    let withdraw = chain.tx(1, Call::Staking(StakingCall::Withdraw(Nothing)));
    let again = chain.tx_with(1, nonce + 1, register_call(&chain, 1, 1, 2 * MIN_BOND));
    let receipts = chain.apply(&[withdraw, again]);
    assert!(receipts.iter().all(Receipt::is_success), "{receipts:?}");
    assert_eq!(held(&chain), 2 * MIN_BOND);
    assert_eq!(
        Db::node_key_owner(&chain.store, &node_key(1)),
        Some(account(1))
    );
}

/// Unbonding at the end of time: `free_at_ms` saturates at `u64::MAX` rather than wrapping to
/// the past, and the bond is still withdrawable by a block stamped `u64::MAX`.
#[test]
fn an_unbonding_at_the_end_of_time_saturates_and_is_not_stranded() {
    let mut chain = chain();
    register(&mut chain, 1, 1, MIN_BOND);
    let at = |chain: &TestChain, timestamp_ms: u64| BlockContext {
        timestamp_ms,
        ..chain.next_context()
    };
    let unbond = chain.tx(1, Call::Staking(StakingCall::Unbond(Nothing)));
    let context = at(&chain, u64::MAX - 1_000);
    let events = staking_events(chain.apply_with(&context, &[unbond]).remove(0));
    assert_eq!(
        events,
        vec![StakingEvent::ValidatorUnbonding {
            account: account(1),
            bond_free_at_ms: u64::MAX,
            evicted: false,
        }]
    );
    let early = chain.tx(1, Call::Staking(StakingCall::Withdraw(Nothing)));
    let context = at(&chain, u64::MAX - 1);
    let receipt = chain.apply_with(&context, &[early]).remove(0);
    assert_eq!(
        failed(&receipt),
        Some(&StakingError::UnbondingRunning {
            free_at_ms: u64::MAX
        })
    );
    let withdraw = chain.tx(1, Call::Staking(StakingCall::Withdraw(Nothing)));
    let context = at(&chain, u64::MAX);
    staking_events(chain.apply_with(&context, &[withdraw]).remove(0));
    assert_eq!(held(&chain), 0);
}

// ---------------------------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------------------------

/// **BROKEN (minor).** The rule promises "a node one can dial: a concrete ip". It refuses
/// `0.0.0.0` and `[::]` but accepts the same unspecified address written IPv4-mapped, and
/// broadcast and multicast addresses, none of which a peer can open a TCP connection to. A
/// bonded candidate on the committee with such an address is unreachable by construction.
#[test]
fn an_address_no_peer_can_dial_is_refused() {
    let mut chain = chain();
    let mut accepted = Vec::new();
    for (signer, address) in [
        "[::ffff:0.0.0.0]:9000",
        "255.255.255.255:9000",
        "224.0.0.1:9000",
        "[ff02::1]:9000",
    ]
    .into_iter()
    .enumerate()
    {
        let signer = signer as u64 + 1;
        let mut call = registration(&chain, signer, signer, MIN_BOND);
        call.address = Text::new(address).unwrap();
        let receipt = submit(&mut chain, signer, StakingCall::Register(call));
        if receipt.is_success() {
            accepted.push(address);
        }
    }
    assert!(
        accepted.is_empty(),
        "addresses no peer can dial were registered: {accepted:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Determinism, containment and the registry's bound
// ---------------------------------------------------------------------------------------------

/// Two registrations with equal bonds in one block, in either order, leave the same state: the
/// ranking breaks the tie on the account, never on the order of arrival or of any map.
#[test]
fn equal_bonds_in_one_block_rank_the_same_in_either_order() {
    let run = |reverse: bool| {
        let mut chain = chain();
        let mut txs = vec![
            chain.tx(3, register_call(&chain, 3, 3, MIN_BOND)),
            chain.tx(4, register_call(&chain, 4, 4, MIN_BOND)),
        ];
        if reverse {
            txs.reverse();
        }
        assert!(chain.apply(&txs).iter().all(Receipt::is_success));
        let state: Vec<(Vec<u8>, Vec<u8>)> = chain
            .store
            .scan_prefix(&[])
            .map(|(key, value)| (key.to_vec(), value.to_vec()))
            .collect();
        (committee(&chain), state)
    };
    assert_eq!(run(false), run(true));
}

/// A chain whose state lacks the staking parameters (a data directory written before the
/// module existed) panics in `params::load` on any staking call; the panic is contained: the
/// call fails alone, the fee is charged, the chain goes on. (The RPC's `equa_getStaking` and
/// `staking::committee` call the same `load` outside any containment.)
#[test]
fn a_staking_call_without_staking_parameters_fails_alone() {
    let mut chain = chain();
    chain.store.delete(&[staking::records::table::PARAMS]);
    let receipt = submit(&mut chain, 1, StakingCall::Unbond(Nothing));
    assert_eq!(receipt.outcome, Outcome::Failed(CallError::Internal));
    let receipt = chain.bank(
        1,
        BankCall::Transfer(Transfer {
            to: account(2),
            asset: AssetId::NATIVE,
            amount: 1,
        }),
    );
    assert!(receipt.is_success());
}

/// A store that counts what a call reads and writes.
struct Counting<S> {
    inner: S,
    reads: Cell<usize>,
    writes: usize,
    bytes_written: usize,
}

impl<S: Store> Store for Counting<S> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.reads.set(self.reads.get() + 1);
        self.inner.get(key)
    }
    fn put(&mut self, key: &[u8], value: Vec<u8>) {
        self.writes += 1;
        self.bytes_written += value.len();
        self.inner.put(key, value);
    }
    fn delete(&mut self, key: &[u8]) {
        self.writes += 1;
        self.inner.delete(key);
    }
}

/// The registry at the candidate list's codec bound (`max_candidates` = 1,024 = the list's
/// `RangeCfg`): it fills, an out-bidder evicts and takes the place, the list still decodes and
/// the committee is read. Also measures (design weakness, not a failure) what a call costs in a
/// full registry: a refused registration, paying one call fee, reads every candidate's record
/// and sorts them; a successful one rewrites the whole 32 KiB candidate list.
#[test]
fn a_registry_at_the_codec_bound_still_evicts_and_reads() {
    const MAX: u64 = 1_024;
    let mut chain = chain_with(
        "min_bond = \"100\"\nunbonding_secs = 86400\ncommittee_size = 100\nmax_candidates = 1024",
        MAX + 3,
    );
    let signers: Vec<u64> = (1..=MAX).collect();
    for batch in signers.chunks(256) {
        let txs: Vec<_> = batch
            .iter()
            .map(|&signer| chain.tx(signer, register_call(&chain, signer, signer, MIN_BOND)))
            .collect();
        let receipts = chain.apply(&txs);
        assert!(receipts.iter().all(Receipt::is_success));
    }
    assert_eq!(Db::candidates(&chain.store).len(), 1_024);
    let lowest = staking::ranked_candidates(&chain.store)
        .pop()
        .unwrap()
        .account;

    // A refused registration in the full registry, measured.
    let signer = MAX + 1;
    let call = StakingCall::Register(registration(&chain, signer, signer, MIN_BOND));
    let mut counting = Counting {
        inner: ledger::ReadOverlay::new(&chain.store),
        reads: Cell::new(0),
        writes: 0,
        bytes_written: 0,
    };
    let context = chain.next_context();
    let result = staking::execute(
        &mut counting,
        &context,
        &account(signer),
        &call,
        &mut Vec::new(),
    );
    assert!(matches!(result, Err(StakingError::RegistryFull { .. })));
    let refused_reads = counting.reads.get();
    drop(counting);

    // An evicting registration, measured, then applied for real.
    let call = StakingCall::Register(registration(&chain, signer, signer, MIN_BOND + 1));
    let mut counting = Counting {
        inner: ledger::ReadOverlay::new(&chain.store),
        reads: Cell::new(0),
        writes: 0,
        bytes_written: 0,
    };
    let context = chain.next_context();
    staking::execute(
        &mut counting,
        &context,
        &account(signer),
        &call,
        &mut Vec::new(),
    )
    .expect("the out-bidder registers");
    let (evict_reads, evict_bytes) = (counting.reads.get(), counting.bytes_written);
    drop(counting);
    eprintln!(
        "full registry of 1024: a refused registration reads {refused_reads} records; \
         an evicting one reads {evict_reads} and writes {evict_bytes} bytes"
    );
    assert!(refused_reads > 1_024);

    let receipt = chain.submit(signer, Call::Staking(call));
    assert!(receipt.is_success(), "{receipt:?}");
    assert_eq!(Db::candidates(&chain.store).len(), 1_024);
    assert_eq!(committee(&chain).len(), 100);
    assert_eq!(committee(&chain)[0], account(signer));
    let evicted = Db::validator(&chain.store, &lowest).unwrap();
    assert!(
        evicted
            .unbonding
            .is_some_and(|u| u.reason == staking::UnbondReason::Outbid),
        "the latest of the equal lowest bonds is evicted"
    );
}

// ---------------------------------------------------------------------------------------------
// Registering again: raising a bond in place, returning from unbonding (review of 303980b)
// ---------------------------------------------------------------------------------------------

fn record(chain: &TestChain, signer: u64) -> staking::Validator {
    Db::validator(&chain.store, &account(signer)).expect("a validator record")
}

/// A candidate registering again with its node key and a smaller or the same total gets nothing
/// back: the bond is a total that only rises, and a refusal writes nothing.
#[test]
fn a_candidate_cannot_lower_or_repeat_its_bond_to_get_money_back() {
    let mut chain = chain();
    register(&mut chain, 1, 1, 300 * EQA);
    for bond in [200 * EQA, 300 * EQA - 1, 300 * EQA] {
        let call = StakingCall::Register(registration(&chain, 1, 1, bond));
        refused(
            &mut chain,
            1,
            call,
            StakingError::BondNotRaised {
                bond,
                current: 300 * EQA,
            },
        );
    }
    // Below the minimum is refused before anything else.
    let call = StakingCall::Register(registration(&chain, 1, 1, MIN_BOND - 1));
    refused(
        &mut chain,
        1,
        call,
        StakingError::BondTooSmall {
            bond: MIN_BOND - 1,
            minimum: MIN_BOND,
        },
    );
    assert_eq!(record(&chain, 1).bond, 300 * EQA);
    assert_eq!(held(&chain), 300 * EQA);
}

/// A raise locks exactly the difference, counts the bond once, keeps the candidate listed once
/// and keeps its seniority; the withdrawal later pays the total once.
#[test]
fn a_raise_locks_only_the_difference_and_is_paid_out_once() {
    let mut chain = chain();
    let start = chain.balance(1, AssetId::NATIVE);
    let mut fees = 0;
    let receipt = chain.submit(1, register_call(&chain, 1, 1, 300 * EQA));
    fees += receipt.fee_paid;
    staking_events(receipt);
    let height = record(&chain, 1).registered_height;
    let receipt = chain.submit(1, register_call(&chain, 1, 1, 500 * EQA));
    fees += receipt.fee_paid;
    assert_eq!(
        staking_events(receipt),
        vec![StakingEvent::ValidatorRegistered {
            account: account(1),
            node_key: node_key(1),
            bond: 500 * EQA,
        }]
    );
    assert_eq!(chain.balance(1, AssetId::NATIVE), start - 500 * EQA - fees);
    assert_eq!(held(&chain), 500 * EQA);
    assert_eq!(Db::candidates(&chain.store), vec![account(1)]);
    let raised = record(&chain, 1);
    assert_eq!((raised.bond, raised.registered_height), (500 * EQA, height));
    assert!(raised.unbonding.is_none());

    let receipt = submit(&mut chain, 1, StakingCall::Unbond(Nothing));
    fees += receipt.fee_paid;
    staking_events(receipt);
    chain.advance_ms(UNBONDING_MS);
    let receipt = submit(&mut chain, 1, StakingCall::Withdraw(Nothing));
    fees += receipt.fee_paid;
    assert_eq!(
        staking_events(receipt),
        vec![StakingEvent::BondWithdrawn {
            account: account(1),
            bond: 500 * EQA,
        }]
    );
    assert_eq!(chain.balance(1, AssetId::NATIVE), start - fees);
    assert_eq!(held(&chain), 0);
}

/// Unbond, register again and withdraw in one block: the return makes it a candidate, so the
/// withdrawal finds nothing unbonding. A second registration in the same block is a raise and
/// must raise. The candidate is listed once.
#[test]
fn unbond_return_withdraw_in_one_block_pays_nothing() {
    let mut chain = chain();
    register(&mut chain, 1, 1, 300 * EQA);
    register(&mut chain, 2, 2, 200 * EQA);
    let start = chain.balance(1, AssetId::NATIVE);
    let nonce = chain.nonce(1);
    let txs = [
        chain.tx_with(1, nonce, Call::Staking(StakingCall::Unbond(Nothing))),
        chain.tx_with(1, nonce + 1, register_call(&chain, 1, 1, 300 * EQA)),
        chain.tx_with(1, nonce + 2, register_call(&chain, 1, 1, 300 * EQA)),
        chain.tx_with(1, nonce + 3, Call::Staking(StakingCall::Withdraw(Nothing))),
        chain.tx_with(1, nonce + 4, register_call(&chain, 1, 1, 400 * EQA)),
        chain.tx_with(1, nonce + 5, Call::Staking(StakingCall::Withdraw(Nothing))),
    ];
    let receipts = chain.apply(&txs);
    assert!(receipts[0].is_success(), "{:?}", receipts[0]);
    assert!(receipts[1].is_success(), "{:?}", receipts[1]);
    assert_eq!(
        failed(&receipts[2]),
        Some(&StakingError::BondNotRaised {
            bond: 300 * EQA,
            current: 300 * EQA
        })
    );
    assert_eq!(failed(&receipts[3]), Some(&StakingError::NotUnbonding));
    assert!(receipts[4].is_success(), "{:?}", receipts[4]);
    assert_eq!(failed(&receipts[5]), Some(&StakingError::NotUnbonding));
    let fees: u128 = receipts.iter().map(|receipt| receipt.fee_paid).sum();
    assert_eq!(chain.balance(1, AssetId::NATIVE), start - 100 * EQA - fees);
    assert_eq!(Db::candidates(&chain.store).len(), 2);
    assert_eq!(held(&chain), (400 + 200) * EQA);
    let returned = record(&chain, 1);
    assert!(returned.unbonding.is_none());
    assert_eq!(returned.registered_height, chain.height);
}

/// A return after the delay has run out does not keep the bond free: the next unbonding waits
/// the whole delay again from its own start.
#[test]
fn a_return_after_the_delay_restarts_the_delay() {
    let mut chain = chain();
    register(&mut chain, 1, 1, 300 * EQA);
    staking_events(submit(&mut chain, 1, StakingCall::Unbond(Nothing)));
    chain.advance_ms(UNBONDING_MS);
    register(&mut chain, 1, 1, 300 * EQA);
    refused(
        &mut chain,
        1,
        StakingCall::Withdraw(Nothing),
        StakingError::NotUnbonding,
    );
    let events = staking_events(submit(&mut chain, 1, StakingCall::Unbond(Nothing)));
    let StakingEvent::ValidatorUnbonding {
        bond_free_at_ms, ..
    } = events[0]
    else {
        panic!("{events:?}")
    };
    assert_eq!(bond_free_at_ms, chain.time_ms + UNBONDING_MS);
    let early = chain.tx(1, Call::Staking(StakingCall::Withdraw(Nothing)));
    let context = BlockContext {
        timestamp_ms: bond_free_at_ms - 1,
        ..chain.next_context()
    };
    let receipt = chain.apply_with(&context, &[early]).remove(0);
    assert_eq!(
        failed(&receipt),
        Some(&StakingError::UnbondingRunning {
            free_at_ms: bond_free_at_ms
        })
    );
    assert_eq!(held(&chain), 300 * EQA);
    staking_events(submit(&mut chain, 1, StakingCall::Withdraw(Nothing)));
    assert_eq!(held(&chain), 0);
}

/// Returning into a full registry: with a bond only equal to the lowest it is refused; with a
/// larger one it cannot pay, the eviction it started is undone with the call; with a larger one
/// it can pay, it evicts the lowest (not itself), is listed once, and its seniority restarts.
#[test]
fn a_return_into_a_full_registry_must_out_bond_and_pays_for_it() {
    let mut chain = chain();
    fill(&mut chain);
    staking_events(submit(&mut chain, 1, StakingCall::Unbond(Nothing)));
    register(&mut chain, 6, 6, 150 * EQA);
    assert_eq!(Db::candidates(&chain.store).len(), 5);
    let call = StakingCall::Register(registration(&chain, 1, 1, 150 * EQA));
    refused(
        &mut chain,
        1,
        call,
        StakingError::RegistryFull {
            max: 5,
            lowest_bond: 150 * EQA,
        },
    );
    let unpaid = 150 * EQA + chain.balance(1, AssetId::NATIVE) + 1;
    let before = chain.snapshot_except_fee(1);
    let call = StakingCall::Register(registration(&chain, 1, 1, unpaid));
    let receipt = submit(&mut chain, 1, call);
    assert!(
        matches!(failed(&receipt), Some(StakingError::Bank(_))),
        "{receipt:?}"
    );
    assert!(receipt.events.is_empty(), "events of an undone eviction");
    assert_eq!(chain.snapshot_except_fee(1), before, "a refusal wrote");
    assert!(record(&chain, 6).unbonding.is_none());

    let events = register(&mut chain, 1, 1, 150 * EQA + 1);
    assert!(
        matches!(
            events.as_slice(),
            [
                StakingEvent::ValidatorUnbonding { account: evicted, evicted: true, .. },
                StakingEvent::ValidatorRegistered { account: back, .. },
            ] if *evicted == account(6) && *back == account(1)
        ),
        "{events:?}"
    );
    let candidates = Db::candidates(&chain.store);
    assert_eq!(candidates.len(), 5);
    assert_eq!(
        candidates.iter().filter(|a| **a == account(1)).count(),
        1,
        "listed once"
    );
    assert_eq!(record(&chain, 1).registered_height, chain.height);
    assert_eq!(
        held(&chain),
        (150 + 1 + 200 + 300 + 400 + 500 + 150) * EQA - (EQA - 1)
    );
}

/// An eviction war between two validators returning in turn moves no money but the raises each
/// one locks; each is listed at most once and the evicted one can still only withdraw after
/// the delay.
#[test]
fn an_eviction_war_pays_nothing_early() {
    let mut chain = chain();
    fill(&mut chain);
    register(&mut chain, 6, 6, 150 * EQA + 1);
    let mut bond = 150 * EQA + 1;
    for round in 0..6 {
        bond += 1;
        let signer = if round % 2 == 0 { 1 } else { 6 };
        let events = register(&mut chain, signer, signer, bond);
        assert_eq!(events.len(), 2, "{events:?}");
        let free_at_ms = record(&chain, 7 - signer)
            .unbonding
            .expect("evicted")
            .free_at_ms;
        refused(
            &mut chain,
            7 - signer,
            StakingCall::Withdraw(Nothing),
            StakingError::UnbondingRunning { free_at_ms },
        );
        assert_eq!(Db::candidates(&chain.store).len(), 5);
    }
    let bonds: u128 = [1, 2, 3, 4, 5, 6]
        .iter()
        .map(|signer| record(&chain, *signer).bond)
        .sum();
    assert_eq!(held(&chain), bonds);
}

/// Raising a bond toward `u128::MAX`: a raise one cannot pay fails in the bank with nothing
/// written; on a chain whose supply is near `u128::MAX`, a bond of nearly all of it is locked and
/// paid back exactly, and the sums do not overflow.
#[test]
fn a_raise_near_u128_max_neither_overflows_nor_half_applies() {
    let mut chain = chain();
    register(&mut chain, 1, 1, MIN_BOND);
    for bond in [u128::MAX, u128::MAX - MIN_BOND + 1] {
        let before = chain.snapshot_except_fee(1);
        let call = StakingCall::Register(registration(&chain, 1, 1, bond));
        let receipt = submit(&mut chain, 1, call);
        assert!(
            matches!(failed(&receipt), Some(StakingError::Bank(_))),
            "{receipt:?}"
        );
        assert_eq!(chain.snapshot_except_fee(1), before, "a refusal wrote");
    }

    // One account holds the whole u128 range of minor units.
    let whole = u128::MAX / EQA;
    let fraction = u128::MAX % EQA;
    let text = format!(
        "chain_id = \"{}\"\ngenesis_time_ms = {}\n\
         [native]\nsymbol = \"EQA\"\nname = \"Equa\"\ndecimals = 9\n\
         [params]\nfee_per_byte = \"0\"\ndefault_call_fee = \"0\"\n\
         [params.staking]\nmin_bond = \"100\"\nunbonding_secs = 86400\n\
         committee_size = 4\nmax_candidates = 5\n\
         [[accounts]]\naddress = \"{}\"\nbalances = {{ EQA = \"{whole}.{fraction:09}\" }}\n",
        testing::TEST_CHAIN_ID,
        testing::GENESIS_TIME_MS,
        account(1)
    );
    let mut genesis = ledger::Genesis::from_toml(&text).expect("a valid genesis");
    genesis.params = test_params();
    let mut chain = TestChain::from_genesis(&genesis);
    assert_eq!(chain.balance(1, AssetId::NATIVE), u128::MAX);
    register(&mut chain, 1, 1, MIN_BOND);
    let margin = EQA;
    let bond = MIN_BOND + chain.balance(1, AssetId::NATIVE) - margin;
    register(&mut chain, 1, 1, bond);
    assert_eq!(held(&chain), bond);
    let call = StakingCall::Register(registration(&chain, 1, 1, u128::MAX));
    let receipt = submit(&mut chain, 1, call);
    assert!(
        matches!(failed(&receipt), Some(StakingError::Bank(_))),
        "{receipt:?}"
    );
    staking_events(submit(&mut chain, 1, StakingCall::Unbond(Nothing)));
    chain.advance_ms(UNBONDING_MS);
    let before = chain.balance(1, AssetId::NATIVE);
    let receipt = submit(&mut chain, 1, StakingCall::Withdraw(Nothing));
    let fee = receipt.fee_paid;
    staking_events(receipt);
    assert_eq!(chain.balance(1, AssetId::NATIVE), before + bond - fee);
    assert_eq!(held(&chain), 0);
}

/// Registering again needs the node key's proof like the first time, and only the validator
/// itself can raise or bring back its bond: another account naming its node key is refused.
#[test]
fn nobody_else_raises_or_returns_a_validators_bond() {
    let mut chain = chain();
    register(&mut chain, 1, 1, 300 * EQA);
    let mut call = registration(&chain, 1, 1, 400 * EQA);
    call.key_proof = registration(&chain, 2, 1, 400 * EQA).key_proof;
    refused(
        &mut chain,
        1,
        StakingCall::Register(call),
        StakingError::BadKeyProof,
    );
    let other = StakingCall::Register(registration(&chain, 2, 1, 400 * EQA));
    refused(
        &mut chain,
        2,
        other,
        StakingError::NodeKeyTaken {
            node_key: node_key(1),
            account: account(1),
        },
    );
    staking_events(submit(&mut chain, 1, StakingCall::Unbond(Nothing)));
    let other = StakingCall::Register(registration(&chain, 2, 1, 400 * EQA));
    refused(
        &mut chain,
        2,
        other,
        StakingError::NodeKeyTaken {
            node_key: node_key(1),
            account: account(1),
        },
    );
    assert!(record(&chain, 1).unbonding.is_some());
    assert_eq!(held(&chain), 300 * EQA);
}

/// A raise or return may move the node's address, under the same rule as a first registration:
/// a non-canonical spelling or an address that names no host is refused.
#[test]
fn a_raise_cannot_move_to_an_address_the_first_registration_could_not_name() {
    let mut chain = chain();
    register(&mut chain, 1, 1, 300 * EQA);
    for address in [
        "127.0.0.01:9000",
        "127.000.0.1:9000",
        "[0:0:0:0:0:0:0:1]:9000",
        "[::FFFF:7f00:1]:9000",
        "[::ffff:127.0.0.1]:9000",
        "[fe80::1%1]:9000",
        "127.0.0.1:0",
        "127.0.0.1:09000",
        " 127.0.0.1:9000",
        "0.0.0.0:9000",
        "[::]:9000",
    ] {
        let mut call = registration(&chain, 1, 1, 400 * EQA);
        call.address = Text::new(address).unwrap();
        refused(
            &mut chain,
            1,
            StakingCall::Register(call),
            StakingError::InvalidAddress {
                address: address.into(),
            },
        );
    }
    let mut call = registration(&chain, 1, 1, 400 * EQA);
    call.address = Text::new("[::1]:9001").unwrap();
    staking_events(submit(&mut chain, 1, StakingCall::Register(call)));
    assert_eq!(record(&chain, 1).address.as_str(), "[::1]:9001");
}

/// **BROKEN (minor).** `0.0.0.0/8` ("this host on this network", RFC 1122: a source address
/// only) and IPv4-compatible IPv6 addresses (`::a.b.c.d`, deprecated by RFC 4291) name no host a
/// peer can dial, like `0.0.0.0`, yet pass `valid_address` in their canonical spelling.
#[test]
fn an_address_in_this_network_or_ipv4_compatible_is_refused() {
    let accepted: Vec<&str> = ["0.1.2.3:9000", "[::102:304]:9000"]
        .into_iter()
        .filter(|address| staking::valid_address(address))
        .collect();
    assert!(
        accepted.is_empty(),
        "addresses no peer can dial are valid: {accepted:?}"
    );
}

/// Only y < 19 has a second encoding (y + p, which still fits in 255 bits); with either sign bit,
/// none of them is a key, so no node key or account registers twice under two spellings.
#[test]
fn no_key_has_a_second_non_canonical_spelling() {
    for y in 0u8..19 {
        for sign in [0x7f, 0xff] {
            let mut bytes = [0xffu8; 32];
            bytes[0] = 0xed + y;
            bytes[31] = sign;
            assert!(
                AccountId::from_bytes(bytes).is_err(),
                "y + p with y = {y} is an account"
            );
        }
        let mut canonical = [0u8; 32];
        canonical[0] = y;
        let mut negative = canonical;
        negative[31] = 0x80;
        if let Ok(key) = AccountId::from_bytes(canonical) {
            // A key at a small y is still one key: its negation is another point, not a spelling.
            assert_ne!(AccountId::from_bytes(negative).ok(), Some(key));
        }
    }
}
