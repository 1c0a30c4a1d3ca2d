//! Applying blocks: admission of each transaction, fee and nonce, and dispatch of its call.

use crate::{
    BlockContext, bank,
    error::{CallError, TxError},
    params::Params,
    receipt::{Event, Outcome, Receipt},
    state::{self, Holder},
    store::{Overlay, ReadOverlay, Store},
};
use commonware_cryptography::{BatchEntry, BatchVerifier, ed25519};
use commonware_parallel::Sequential;
use rand_chacha::{ChaCha20Rng, rand_core::SeedableRng};
use types::{AccountId, AssetId, Call, ChainId, SignedTransaction, tx::MAX_TX_BYTES};

/// Why a whole block cannot be applied. The state is untouched when this is returned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("block height {found} does not follow the last applied height {last}")]
    HeightNotNext { last: u64, found: u64 },
    #[error("block time {found_ms} ms is before the previous block's {previous_ms} ms")]
    TimestampWentBack { previous_ms: u64, found_ms: u64 },
}

/// Verifies every transaction's signature, returning one flag per transaction.
///
/// The whole block is first checked as one ed25519 batch (ZIP-215 rules, so a batch accepts
/// exactly what individual checks accept). Only if the batch fails is each signature checked on
/// its own to find the bad ones. The batch's random coefficients are derived by hashing every
/// signature and transaction id (which commits to the signed message), so they are
/// deterministic yet cannot be chosen by whoever made the signatures (the Fiat-Shamir
/// construction).
pub fn verify_signatures(txs: &[SignedTransaction]) -> Vec<bool> {
    if txs.is_empty() {
        return Vec::new();
    }
    let items: Vec<(Vec<u8>, Vec<u8>, &SignedTransaction)> = txs
        .iter()
        .map(|tx| {
            (
                types::tx::signature_namespace(&tx.tx().chain_id),
                tx.signing_message(),
                tx,
            )
        })
        .collect();
    let ids: Vec<types::TxId> = txs.iter().map(SignedTransaction::id).collect();
    let mut transcript: Vec<&[u8]> = Vec::with_capacity(txs.len().saturating_mul(2));
    for (id, tx) in ids.iter().zip(txs) {
        transcript.push(id.as_ref());
        transcript.push(tx.signature().as_ref());
    }
    let seed = types::hash(b"EQUA_BATCH_VERIFY_SEED_V1", &transcript);
    let mut rng = ChaCha20Rng::from_seed(seed.0);
    let all_valid = ed25519::PublicKey::verify_batch(
        &mut rng,
        &items,
        |_, (namespace, message, tx)| BatchEntry {
            namespace,
            message,
            public_key: tx.signer_key(),
            signature: tx.signature(),
        },
        &Sequential,
    );
    if all_valid {
        return vec![true; txs.len()];
    }
    txs.iter()
        .map(SignedTransaction::verify_signature)
        .collect()
}

/// Applies a block: verifies signatures, then applies each transaction in order. Returns one
/// receipt per transaction.
pub fn apply_block(
    store: &mut (impl Store + ?Sized),
    context: &BlockContext,
    txs: &[SignedTransaction],
) -> Result<Vec<Receipt>, BlockError> {
    let signatures_valid = verify_signatures(txs);
    apply_block_checked(store, context, txs, &signatures_valid)
}

/// Applies a block whose signatures the caller has already verified (the node does this at
/// admission and when it verifies a proposal). `signatures_valid[i]` says whether transaction
/// `i` is correctly signed.
pub fn apply_block_checked(
    store: &mut (impl Store + ?Sized),
    context: &BlockContext,
    txs: &[SignedTransaction],
    signatures_valid: &[bool],
) -> Result<Vec<Receipt>, BlockError> {
    assert_eq!(
        txs.len(),
        signatures_valid.len(),
        "one flag per transaction"
    );
    begin_block(store, context)?;
    let chain_id = state::chain_id(store);
    let params = state::params(store);
    let receipts = txs
        .iter()
        .zip(signatures_valid)
        .map(|(tx, &signature_valid)| {
            apply_transaction(store, context, &chain_id, &params, tx, signature_valid)
        })
        .collect();
    state::set_last_block(store, context.height, context.timestamp_ms);
    Ok(receipts)
}

/// Checks that `context` follows the last applied block, then runs what a block does before its
/// transactions. Nothing is written when the context does not follow.
fn begin_block(
    store: &mut (impl Store + ?Sized),
    context: &BlockContext,
) -> Result<(), BlockError> {
    let (last_height, last_timestamp_ms) = state::last_block(store);
    if last_height.checked_add(1) != Some(context.height) {
        return Err(BlockError::HeightNotNext {
            last: last_height,
            found: context.height,
        });
    }
    if context.timestamp_ms < last_timestamp_ms {
        return Err(BlockError::TimestampWentBack {
            previous_ms: last_timestamp_ms,
            found_ms: context.timestamp_ms,
        });
    }
    // At an epoch's first block, the staking module fixes a committee two epochs ahead. On an
    // overlay too: should the election panic, nothing it wrote is kept, and the step runs again
    // carrying the latest committee over instead of electing one, so every epoch still has its
    // committee and earlier members are still released on time.
    for elect in [true, false] {
        let mut overlay = Overlay::new(store);
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            #[cfg(any(test, feature = "fault-injection"))]
            if elect {
                crate::fault::check_epoch_step(context.height);
            }
            if elect {
                crate::staking::begin_block(&mut overlay, context);
            } else {
                crate::staking::carry_over(&mut overlay, context);
            }
        }));
        match run {
            Ok(()) => {
                overlay.commit();
                break;
            }
            Err(panic) => {
                drop(overlay);
                tracing::error!(
                    height = context.height,
                    elect,
                    panic = panic_message(&panic),
                    "the epoch's committee step panicked; its writes were dropped"
                );
            }
        }
    }
    // In an epoch's final block, who holds shares in the next epoch (the resharing's outcome).
    // On an overlay: a bug that panics drops the step alone and the block goes on.
    if context.next_holders.is_some() {
        let mut overlay = Overlay::new(store);
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            crate::staking::record_holders(&mut overlay, context)
        }));
        match run {
            Ok(()) => overlay.commit(),
            Err(panic) => {
                drop(overlay);
                tracing::error!(
                    height = context.height,
                    panic = panic_message(&panic),
                    "recording the next epoch's share holders panicked; its writes were dropped"
                );
            }
        }
    }
    // The block's proven offenses (see `BlockContext::offenses`), after the epoch's step
    // (which reads the registry as it stood before this block). On an overlay each, like a
    // call: a bug that panics in one drops that slash alone and the block goes on.
    for offense in &context.offenses {
        let mut overlay = Overlay::new(store);
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            crate::staking::slash(&mut overlay, context, offense)
        }));
        match run {
            Ok(Ok(burned)) => {
                overlay.commit();
                if burned > 0 {
                    tracing::warn!(
                        height = context.height,
                        node_key = %offense.node_key,
                        epoch = offense.epoch,
                        burned,
                        "validator slashed for contradictory votes"
                    );
                }
            }
            Ok(Err(error)) => {
                drop(overlay);
                tracing::error!(height = context.height, %error, "a slash failed; nothing of it was kept");
            }
            Err(panic) => {
                drop(overlay);
                tracing::error!(
                    height = context.height,
                    panic = panic_message(&panic),
                    "a slash panicked; its writes were dropped and the block goes on"
                );
            }
        }
    }
    // What the block does before its transactions: the arbitrator picks that earlier rounds
    // asked for, made with this block's randomness. Like a call, it runs on an overlay, so a bug
    // that panics in it cannot stop the chain: its writes are dropped and the waiting picks are
    // abandoned (the trades stay disputed with no arbitrator, and reassign asks again).
    let mut overlay = Overlay::new(store);
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        #[cfg(any(test, feature = "fault-injection"))]
        crate::fault::check_begin_block(context.height);
        crate::market::begin_block(&mut overlay, context)
    }));
    match run {
        Ok(()) => overlay.commit(),
        Err(panic) => {
            drop(overlay);
            tracing::error!(
                height = context.height,
                panic = panic_message(&panic),
                "the block's arbitrator picks panicked; they were abandoned and the block goes on"
            );
            crate::market::abandon_picks(store);
        }
    }
    Ok(())
}

/// Checks everything about a transaction that does not depend on its call: that it is well
/// signed for this chain, unexpired, next in its signer's sequence and pays an affordable fee.
/// The mempool runs the same checks before accepting a transaction.
pub fn admit(
    store: &(impl Store + ?Sized),
    chain_id: &ChainId,
    params: &Params,
    height: u64,
    tx: &SignedTransaction,
    signature_valid: bool,
) -> Result<(), TxError> {
    let body = tx.tx();
    if tx.size() > MAX_TX_BYTES {
        return Err(TxError::Oversized {
            size: tx.size(),
            limit: MAX_TX_BYTES,
        });
    }
    if &body.chain_id != chain_id {
        return Err(TxError::WrongChainId {
            expected: chain_id.clone(),
            found: body.chain_id.clone(),
        });
    }
    if !signature_valid {
        return Err(TxError::BadSignature);
    }
    if height > body.expires_at_height {
        return Err(TxError::Expired {
            expires_at_height: body.expires_at_height,
            height,
        });
    }
    let expected = state::nonce(store, &body.signer);
    if body.nonce < expected {
        return Err(TxError::NonceReplayed {
            expected,
            found: body.nonce,
        });
    }
    if body.nonce > expected {
        return Err(TxError::NonceTooHigh {
            expected,
            found: body.nonce,
        });
    }
    if expected == u64::MAX {
        return Err(TxError::NonceExhausted);
    }
    // A fee schedule whose product overflows demands more than any fee can offer.
    let required = params
        .required_fee(body.call.kind(), tx.size())
        .unwrap_or(u128::MAX);
    if body.fee < required {
        return Err(TxError::FeeTooLow {
            required,
            offered: body.fee,
        });
    }
    let balance = state::balance(store, &body.signer, AssetId::NATIVE);
    if balance < body.fee {
        return Err(TxError::FeeNotAffordable {
            fee: body.fee,
            balance,
        });
    }
    Ok(())
}

fn apply_transaction(
    store: &mut (impl Store + ?Sized),
    context: &BlockContext,
    chain_id: &ChainId,
    params: &Params,
    tx: &SignedTransaction,
    signature_valid: bool,
) -> Receipt {
    let tx_id = tx.id();
    if let Err(error) = admit(store, chain_id, params, context.height, tx, signature_valid) {
        return Receipt {
            tx_id,
            outcome: Outcome::Rejected(error),
            fee_paid: 0,
            events: Vec::new(),
        };
    }
    let body = tx.tx();
    // Admission proved the fee affordable and the nonce below u64::MAX.
    bank::move_funds(
        store,
        &body.signer,
        &context.proposer,
        AssetId::NATIVE,
        body.fee,
    )
    .expect("admission checked that the fee is affordable");
    let next_nonce = body
        .nonce
        .checked_add(1)
        .expect("admission rejects nonce u64::MAX");
    state::set_nonce(store, &body.signer, next_nonce);

    let mut events = Vec::new();
    let mut overlay = Overlay::new(store);
    // A panic here is a bug in a module, but one that a transaction can trigger, so it must not
    // stop the block: every validator would stop at the same height, and again on every replay.
    // The call's writes live only in the overlay, which is dropped, so the state is as if the
    // call had failed; the fee and nonce above stay charged (as Cosmos SDK's transaction runner
    // does). Unwinding leaves nothing half-written outside the overlay: it owns every write.
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        dispatch(&mut overlay, context, &body.signer, &body.call, &mut events)
    }));
    let outcome = match run {
        Ok(Ok(())) => {
            overlay.commit();
            Outcome::Success
        }
        Ok(Err(error)) => {
            events.clear();
            Outcome::Failed(error)
        }
        Err(panic) => {
            events.clear();
            tracing::error!(
                tx = %tx_id,
                height = context.height,
                panic = panic_message(&panic),
                "a transaction's call panicked; it failed with an internal error and its writes were dropped"
            );
            Outcome::Failed(CallError::Internal)
        }
    };
    Receipt {
        tx_id,
        outcome,
        fee_paid: body.fee,
        events,
    }
}

/// What one transaction would do as the only transaction of the next block: its receipt and
/// every record it would change, with the value before and after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Simulation {
    pub receipt: Receipt,
    /// In key order. Empty when the transaction would be rejected.
    pub changes: Vec<Change>,
}

/// One record a simulated transaction would write (`None` is an absent record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub key: Vec<u8>,
    pub before: Option<Vec<u8>>,
    pub after: Option<Vec<u8>>,
}

/// A balance a simulated transaction would change, in minor units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BalanceChange {
    pub holder: Holder,
    pub asset: AssetId,
    pub before: u128,
    pub after: u128,
}

impl Simulation {
    /// Every balance the transaction would change (accounts' and modules'), in key order.
    pub fn balance_changes(&self) -> Vec<BalanceChange> {
        let amount = |value: &Option<Vec<u8>>| {
            value.as_deref().map_or(0, |bytes| {
                types::codec::decode::<u128>(bytes)
                    .unwrap_or_else(|e| panic!("corrupt balance record: {e}"))
            })
        };
        self.changes
            .iter()
            .filter_map(|change| {
                let (holder, asset) = state::balance_holder(&change.key)?;
                let (before, after) = (amount(&change.before), amount(&change.after));
                (before != after).then_some(BalanceChange {
                    holder,
                    asset,
                    before,
                    after,
                })
            })
            .collect()
    }
}

/// Runs `tx` against `store` as the only transaction of the block `context` describes, exactly
/// as [`apply_block`] would (the block's own first step, then the same admission checks, fee,
/// nonce and call), and returns what it would do without changing `store` or copying it: the
/// writes are buffered over it and dropped.
///
/// Two differences are deliberate:
/// - The signature is not checked. A wallet asks about a copy signed with a one-off key (or any
///   key), so that the bytes it hands to a node could never be submitted: a node that kept a
///   simulated transaction cannot later send it in the wallet's name.
/// - A signer may have transactions waiting in a mempool, so a nonce above the state's next
///   nonce is run as if it were the next one (the waiting transactions' own effects, fees
///   included, are not counted). A nonce already used is refused as the ledger refuses it.
pub fn simulate(
    store: &(impl Store + ?Sized),
    context: &BlockContext,
    tx: &SignedTransaction,
) -> Result<Simulation, BlockError> {
    let mut block = ReadOverlay::new(store);
    begin_block(&mut block, context)?;
    let signer = &tx.tx().signer;
    if tx.tx().nonce > state::nonce(&block, signer) {
        state::set_nonce(&mut block, signer, tx.tx().nonce);
    }
    let chain_id = state::chain_id(&block);
    let params = state::params(&block);
    // Not checked: see above.
    let signature_valid = true;
    let mut overlay = Overlay::new(&mut block);
    let receipt = apply_transaction(
        &mut overlay,
        context,
        &chain_id,
        &params,
        tx,
        signature_valid,
    );
    let writes = overlay.into_writes();
    let changes: Vec<Change> = writes
        .into_iter()
        .map(|(key, after)| Change {
            before: block.get(&key),
            key,
            after,
        })
        .collect();
    // A rejected transaction changes nothing, not even its nonce (checked in debug builds: a
    // simulation is answered to anyone, and must not panic the node that serves it).
    debug_assert!(
        !matches!(receipt.outcome, Outcome::Rejected(_)) || changes.is_empty(),
        "a rejected transaction wrote {} records",
        changes.len()
    );
    Ok(Simulation { receipt, changes })
}

/// The text a panic was raised with, when it was a string.
fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

fn dispatch(
    store: &mut (impl Store + ?Sized),
    context: &BlockContext,
    signer: &AccountId,
    call: &Call,
    events: &mut Vec<Event>,
) -> Result<(), CallError> {
    #[cfg(any(test, feature = "fault-injection"))]
    crate::fault::check(call);
    match call {
        Call::Bank(call) => bank::execute(store, context, signer, call, events).map_err(Into::into),
        Call::Market(call) => {
            crate::market::execute(store, context, signer, call, events).map_err(Into::into)
        }
        Call::Lending(call) => {
            crate::lending::execute(store, context, signer, call, events).map_err(Into::into)
        }
        Call::Staking(call) => {
            crate::staking::execute(store, context, signer, call, events).map_err(Into::into)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        CallError, Outcome,
        testing::{TestChain, account},
    };
    use types::{AssetId, Call, bank::BankCall, bank::Transfer};

    /// No other test transfers this amount, so arming the process-wide trigger affects only
    /// this test.
    const PANICKING_AMOUNT: u64 = 987_654_321_123;

    fn transfer(to: u64, amount: u128) -> Call {
        Call::Bank(BankCall::Transfer(Transfer {
            to: account(to),
            asset: AssetId::NATIVE,
            amount,
        }))
    }

    #[test]
    fn panicking_call_fails_alone_with_fee_charged() {
        let mut chain = TestChain::new(3, 10_000_000_000_000);
        crate::fault::panic_on_transfer_amount(PANICKING_AMOUNT);
        let before = chain.snapshot_except_fee(0);
        let panicking = chain.tx(0, transfer(1, u128::from(PANICKING_AMOUNT)));
        let fee = panicking.tx().fee;
        let ordinary = chain.tx(2, transfer(1, 5));
        let native_before = chain.balance(0, AssetId::NATIVE);
        let receipts = chain.apply(&[panicking, ordinary]);
        crate::fault::panic_on_transfer_amount(0);

        assert_eq!(receipts[0].outcome, Outcome::Failed(CallError::Internal));
        assert_eq!(receipts[0].fee_paid, fee);
        assert!(receipts[0].events.is_empty());
        assert_eq!(chain.balance(0, AssetId::NATIVE), native_before - fee);
        assert_eq!(chain.nonce(0), 1);
        // The next transaction in the same block ran as usual.
        assert!(receipts[1].is_success(), "{:?}", receipts[1].outcome);
        // The panicking call changed nothing but its fee and nonce: what changed beyond those is
        // exactly the other transfer (account 1's and 2's balances, and 2's nonce).
        let after = chain.snapshot_except_fee(0);
        let changed: Vec<_> = after
            .iter()
            .filter(|(key, value)| before.get(*key) != Some(*value))
            .map(|(key, _)| key.clone())
            .collect();
        let expected = [
            crate::state::balance_key(&account(1), AssetId::NATIVE),
            crate::state::balance_key(&account(2), AssetId::NATIVE),
            crate::state::nonce_key(&account(2)),
        ];
        assert_eq!(changed.len(), expected.len(), "{changed:?}");
        assert!(expected.iter().all(|key| changed.contains(key)));
        // The chain goes on.
        let receipt = chain.bank(
            0,
            BankCall::Transfer(Transfer {
                to: account(1),
                asset: AssetId::NATIVE,
                amount: 1,
            }),
        );
        assert!(receipt.is_success());
    }

    /// A bug that panics in the block's own step before its transactions (the arbitrator
    /// picks) does not stop the block: its transactions still run and the chain goes on.
    #[test]
    fn panicking_start_of_block_does_not_stop_the_block() {
        // Harness chains of other tests stay far below this height.
        const HEIGHT: u64 = 1_000_000;
        let mut chain = TestChain::new(3, 10_000_000_000_000);
        chain.height = HEIGHT - 1;
        crate::state::set_last_block(&mut chain.store, HEIGHT - 1, chain.time_ms);
        // The jump in height skips the epoch boundaries whose committees the registry audit
        // expects; conservation, which this test is about, is checked at the end.
        chain.check_conservation = false;
        crate::fault::panic_at_begin_block(HEIGHT);
        let transfer = chain.tx(0, transfer(1, 5));
        let receipts = chain.apply(&[transfer]);
        crate::fault::panic_at_begin_block(0);
        assert!(receipts[0].is_success(), "{:?}", receipts[0].outcome);
        assert_eq!(crate::state::last_block(&chain.store).0, HEIGHT);
        assert!(
            chain
                .bank(
                    1,
                    BankCall::Transfer(Transfer {
                        to: account(2),
                        asset: AssetId::NATIVE,
                        amount: 1,
                    })
                )
                .is_success()
        );
        crate::audit::check_conservation(&chain.store).expect("conservation holds");
    }

    #[test]
    fn a_panicking_committee_election_carries_the_committee_over() {
        use crate::staking::{self, Candidate, Db};
        use commonware_cryptography::Signer;
        use types::{
            AccountId, Text,
            staking::{KeyProof, RegisterValidator, StakingCall},
        };
        // The fault trigger is armed for this thread only: other tests' chains reach the same
        // heights at the same time.
        const L: u64 = 16;
        let node = |index: u64| crate::testing::key(50_000 + index);
        let mut genesis = crate::testing::test_genesis(6, 10_000_000_000_000);
        genesis.staking.blocks_per_epoch = L;
        genesis.staking.committee_size = 4;
        genesis.staking.min_bond = 1;
        for index in 0..4 {
            genesis.validators.push(Candidate {
                account: account(index),
                node_key: AccountId::from_public_key(&node(index).public_key()),
                address: Text::new(format!("127.0.0.1:{}", 9_000 + index)).unwrap(),
                bond: 100 + u128::from(index),
            });
        }
        let mut chain = TestChain::from_genesis(&genesis);
        let seated = |chain: &TestChain, epoch| {
            Db::epoch_committee(&chain.store, epoch).map(|committee| {
                committee
                    .members
                    .iter()
                    .map(|m| m.account)
                    .collect::<Vec<_>>()
            })
        };
        // A newcomer with the largest bond would take a seat in epoch 3's committee at height
        // 16, but the election there panics: epoch 2's committee is carried over instead, and
        // the audit (run after every block) finds every committee it expects.
        let call = Call::Staking(StakingCall::Register(RegisterValidator {
            node_key: AccountId::from_public_key(&node(5).public_key()),
            address: Text::new("127.0.0.1:9005".to_string()).unwrap(),
            bond: 1_000,
            key_proof: KeyProof::sign(&node(5), &chain.chain_id(), &account(5)),
        }));
        assert!(chain.submit(5, call).is_success());
        while chain.height < L - 1 {
            chain.apply(&[]);
        }
        crate::fault::panic_at_epoch_step(L);
        chain.apply(&[]);
        crate::fault::panic_at_epoch_step(0);
        assert_eq!(seated(&chain, 3), seated(&chain, 2));
        assert!(!seated(&chain, 3).unwrap().contains(&account(5)));
        assert_eq!(
            Db::validator(&chain.store, &account(0)).unwrap().last_epoch,
            Some(3)
        );
        // The next boundary elects again.
        while chain.height < 2 * L {
            chain.apply(&[]);
        }
        assert_eq!(seated(&chain, 4).unwrap()[0], account(5));
        assert!(staking::epoch_committee(&chain.store, 0).is_none());
    }
}
