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
    let mut text = format!(
        "chain_id = \"{}\"\ngenesis_time_ms = {}\n\
         [native]\nsymbol = \"EQA\"\nname = \"Equa\"\ndecimals = 9\n\
         [params]\nfee_per_byte = \"0\"\ndefault_call_fee = \"0\"\n\
         [params.staking]\n{staking}\n",
        testing::TEST_CHAIN_ID,
        testing::GENESIS_TIME_MS
    );
    for index in 0..accounts {
        text.push_str(&format!(
            "[[accounts]]\naddress = \"{}\"\nbalances = {{ EQA = \"10000\" }}\n",
            account(index)
        ));
    }
    text
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
    assert!(
        Db::validator(&chain.store, &account(1))
            .is_some_and(|v| v.unbonding.is_some_and(|u| u.evicted))
    );
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
        assert!(record.unbonding.is_some_and(|u| u.evicted));
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
        evicted.unbonding.is_some_and(|u| u.evicted),
        "the latest of the equal lowest bonds is evicted"
    );
}
