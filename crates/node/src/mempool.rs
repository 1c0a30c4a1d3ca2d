//! Pending transactions waiting for a block: admission, bounds, selection and eviction.
//!
//! Admission runs the ledger's own checks (`ledger::admit`) against the latest finalized state,
//! except that a nonce ahead of the signer's next nonce is kept (a *gap*) as long as it is within
//! the per-sender bound: the transactions before it may still arrive. Selection only takes each
//! sender's contiguous run from the parent's nonce, so a gap is never proposed.
//!
//! A transaction the ledger refuses (`Outcome::Rejected`) pays no fee, so a pool that kept
//! proposing one would give away block space. Three rules keep that from happening:
//! - a sender's pending transactions must together offer no more in fees than its EQA balance
//!   (checked one by one, a sender funded for one fee could queue many);
//! - after every finalized block the whole pool is admitted again against the new state, and
//!   what no longer passes is dropped together with its sender's later nonces (which could only
//!   follow it);
//! - a transaction may expire at most `max_expiry_blocks` ahead, so nothing waits for ever.
//!
//! The proposer also leaves out, and drops, whatever the ledger refuses when it executes a
//! proposal (see `proposal::execute_proposal`).
//!
//! Every admitted transaction wakes the leaders waiting on [`TransactionSource::arrival`]: a
//! leader with nothing to propose waits up to its idle interval, and one that arrives ends the
//! wait at once (see `engine`).

use crate::proposal::{Arrival, TransactionSource};
use commonware_utils::channel::oneshot;
use ledger::{BlockContext, MemoryStore, Params, TxError, admit, state};
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex},
};
use types::{AccountId, AssetId, ChainId, SignedTransaction, TxId, tx::TxDecodeError};

/// Bounds of the pool.
#[derive(Clone, Copy, Debug)]
pub struct MempoolConfig {
    /// Pending transactions one sender may have, which is also how far ahead of its next nonce
    /// a transaction may be.
    pub max_per_sender: usize,
    /// Pending transactions in total.
    pub max_total: usize,
    /// How far past the latest finalized height a transaction's `expires_at_height` may be.
    /// Beyond it the transaction is refused, so that nothing sits in the pool for ever.
    pub max_expiry_blocks: u64,
}

/// The default `max_expiry_blocks`: an hour of blocks at the chain's fastest pace (one block
/// every 50 ms, `AppConfig::min_block_interval_ms`, on a busy chain) and 20 hours at the idle
/// pace (one a second), far above what wallets ask for (`client::tx::VALIDITY_BLOCKS`, 300
/// blocks: 15 s on a busy chain, 5 minutes on an idle one).
pub const MAX_EXPIRY_BLOCKS: u64 = 72_000;

/// The most leaders waiting for an arrival at once. A node has one proposal in flight at a
/// time, or two around a view change; beyond this the oldest waiter is dropped (it then waits
/// for its idle deadline), so a misbehaving caller cannot grow the list.
const MAX_ARRIVAL_WAITERS: usize = 16;

impl Default for MempoolConfig {
    fn default() -> Self {
        Self {
            max_per_sender: 64,
            max_total: 50_000,
            max_expiry_blocks: MAX_EXPIRY_BLOCKS,
        }
    }
}

/// Why a transaction was not accepted into the pool.
#[derive(Debug, thiserror::Error)]
pub enum MempoolError {
    #[error(transparent)]
    Decode(#[from] TxDecodeError),
    #[error("rejected: {0}")]
    Rejected(TxError),
    #[error("the transaction is already pending")]
    Duplicate,
    #[error("the sender already has a pending transaction with nonce {nonce}")]
    NonceTaken { nonce: u64 },
    #[error("nonce {found} is more than {limit} ahead of the sender's next nonce {expected}")]
    NonceTooFarAhead {
        expected: u64,
        found: u64,
        limit: usize,
    },
    #[error("the sender has {limit} pending transactions, the most allowed")]
    SenderFull { limit: usize },
    #[error("the pool holds {limit} transactions, the most allowed")]
    Full { limit: usize },
    #[error(
        "the sender's {count} pending transactions offer {pending_fees} in fees; with this one's \
         {fee} that is more than its balance of {balance} (EQA minor units)"
    )]
    PendingFeesNotAffordable {
        count: usize,
        pending_fees: u128,
        fee: u128,
        balance: u128,
    },
    #[error(
        "the transaction expires at height {expires_at_height}, more than {limit} blocks after \
         the current height {height}"
    )]
    ExpiresTooFarAhead {
        expires_at_height: u64,
        height: u64,
        limit: u64,
    },
}

/// What admission reads from the finalized state once, rather than per transaction.
struct Admission<'a> {
    state: &'a MemoryStore,
    chain_id: ChainId,
    params: Params,
    /// The height of the next block, the first that could include a transaction.
    next_height: u64,
}

impl<'a> Admission<'a> {
    fn new(state: &'a MemoryStore, height: u64) -> Self {
        Self {
            state,
            chain_id: state::chain_id(state),
            params: state::params(state),
            next_height: height.saturating_add(1),
        }
    }

    /// The ledger's admission of `tx` at the next height, except that a nonce ahead of the
    /// signer's next one (a gap) passes when it is less than `max_ahead` ahead and would pass
    /// the ledger's other checks once the gap is filled.
    fn check(
        &self,
        tx: &SignedTransaction,
        signature_valid: bool,
        max_ahead: usize,
    ) -> Result<(), MempoolError> {
        match admit(
            self.state,
            &self.chain_id,
            &self.params,
            self.next_height,
            tx,
            signature_valid,
        ) {
            Ok(()) => Ok(()),
            Err(TxError::NonceTooHigh { expected, found }) => {
                let ahead = found.saturating_sub(expected);
                if ahead >= max_ahead as u64 {
                    return Err(MempoolError::NonceTooFarAhead {
                        expected,
                        found,
                        limit: max_ahead,
                    });
                }
                // The ledger stops at the nonce, but a gap must still offer the scheduled fee:
                // otherwise it would be proposed later only to be refused without paying, and
                // block space would be free.
                let required = self
                    .params
                    .required_fee(tx.tx().call.kind(), tx.size())
                    .unwrap_or(u128::MAX);
                if tx.tx().fee < required {
                    return Err(MempoolError::Rejected(TxError::FeeTooLow {
                        required,
                        offered: tx.tx().fee,
                    }));
                }
                let balance = self.balance(&tx.tx().signer);
                if balance < tx.tx().fee {
                    return Err(MempoolError::Rejected(TxError::FeeNotAffordable {
                        fee: tx.tx().fee,
                        balance,
                    }));
                }
                Ok(())
            }
            Err(error) => Err(MempoolError::Rejected(error)),
        }
    }

    fn balance(&self, account: &AccountId) -> u128 {
        state::balance(self.state, account, AssetId::NATIVE)
    }
}

/// The fees of a sender's pending transactions (`count` of them, `pending_fees` together) plus
/// `fee`, if `balance` covers them all.
fn fees_with(
    count: usize,
    pending_fees: u128,
    fee: u128,
    balance: u128,
) -> Result<u128, MempoolError> {
    pending_fees
        .checked_add(fee)
        .filter(|total| *total <= balance)
        .ok_or(MempoolError::PendingFeesNotAffordable {
            count,
            pending_fees,
            fee,
            balance,
        })
}

#[derive(Debug)]
struct Inner {
    /// The latest finalized state, against which admission runs.
    state: Arc<MemoryStore>,
    height: u64,
    by_sender: BTreeMap<AccountId, BTreeMap<u64, SignedTransaction>>,
    ids: HashSet<TxId>,
    /// Told once the next transaction is admitted (see [`TransactionSource::arrival`]).
    waiters: Vec<oneshot::Sender<()>>,
}

impl Inner {
    /// Removes `signer`'s pending transactions from `nonce` on (the transaction at `nonce` and
    /// every later one, which could only follow it). Returns how many were removed.
    fn drop_from(&mut self, signer: &AccountId, nonce: u64) -> usize {
        let Some(pending) = self.by_sender.get_mut(signer) else {
            return 0;
        };
        let dropped = pending.split_off(&nonce);
        if pending.is_empty() {
            self.by_sender.remove(signer);
        }
        for tx in dropped.values() {
            self.ids.remove(&tx.id());
        }
        dropped.len()
    }
}

/// A shared pool of pending transactions. Clones share one pool.
#[derive(Clone, Debug)]
pub struct Mempool {
    config: MempoolConfig,
    inner: Arc<Mutex<Inner>>,
}

impl Mempool {
    /// An empty pool whose admission starts from `state` at `height`.
    pub fn new(config: MempoolConfig, state: Arc<MemoryStore>, height: u64) -> Self {
        Self {
            config,
            inner: Arc::new(Mutex::new(Inner {
                state,
                height,
                by_sender: BTreeMap::new(),
                ids: HashSet::new(),
                waiters: Vec::new(),
            })),
        }
    }

    pub fn len(&self) -> usize {
        self.inner.lock().expect("lock").ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `id` is pending.
    pub fn contains(&self, id: &TxId) -> bool {
        self.inner.lock().expect("lock").ids.contains(id)
    }

    /// Decodes and submits raw transaction bytes.
    pub fn submit_bytes(&self, bytes: &[u8]) -> Result<TxId, MempoolError> {
        self.submit(SignedTransaction::decode(bytes)?)
    }

    /// Admits `tx` into the pool, returning its id.
    pub fn submit(&self, tx: SignedTransaction) -> Result<TxId, MempoolError> {
        let signature_valid = tx.verify_signature();
        self.submit_checked(tx, signature_valid)
    }

    /// Admits `tx`, whose signature the caller has already checked (`signature_valid`), for
    /// example in one batch with others.
    pub fn submit_checked(
        &self,
        tx: SignedTransaction,
        signature_valid: bool,
    ) -> Result<TxId, MempoolError> {
        let mut inner = self.inner.lock().expect("lock");
        let id = tx.id();
        if inner.ids.contains(&id) {
            return Err(MempoolError::Duplicate);
        }
        let admission = Admission::new(inner.state.as_ref(), inner.height);
        admission.check(&tx, signature_valid, self.config.max_per_sender)?;
        let expires_at_height = tx.tx().expires_at_height;
        if expires_at_height.saturating_sub(inner.height) > self.config.max_expiry_blocks {
            return Err(MempoolError::ExpiresTooFarAhead {
                expires_at_height,
                height: inner.height,
                limit: self.config.max_expiry_blocks,
            });
        }
        let signer = tx.tx().signer;
        let balance = admission.balance(&signer);
        if inner.ids.len() >= self.config.max_total {
            return Err(MempoolError::Full {
                limit: self.config.max_total,
            });
        }
        let nonce = tx.tx().nonce;
        if let Some(pending) = inner.by_sender.get(&signer) {
            if pending.contains_key(&nonce) {
                return Err(MempoolError::NonceTaken { nonce });
            }
            if pending.len() >= self.config.max_per_sender {
                return Err(MempoolError::SenderFull {
                    limit: self.config.max_per_sender,
                });
            }
            // The sum is bounded by `max_per_sender` fees, each a u128: checked all the same.
            let pending_fees = pending
                .values()
                .try_fold(0u128, |sum, tx| sum.checked_add(tx.tx().fee))
                .unwrap_or(u128::MAX);
            fees_with(pending.len(), pending_fees, tx.tx().fee, balance)?;
        }
        inner.by_sender.entry(signer).or_default().insert(nonce, tx);
        inner.ids.insert(id);
        // Only a transaction that could be proposed next wakes a waiting leader: one behind a
        // nonce gap cannot, and waking for it would let free gap transactions make the leader
        // rescan the pool again and again.
        let next = state::nonce(inner.state.as_ref(), &signer);
        let pending = &inner.by_sender[&signer];
        let runs_from_next = nonce >= next && (next..nonce).all(|n| pending.contains_key(&n));
        if runs_from_next {
            for waiter in inner.waiters.drain(..) {
                // A waiter that has stopped listening needs no word.
                let _ = waiter.send(());
            }
        }
        Ok(id)
    }

    /// Moves admission to a newly finalized state at `height` and admits the whole pool again
    /// against it: what it included (nonce below the sender's next) leaves, and so does what no
    /// longer passes admission (expired, no longer affordable together with the sender's
    /// earlier pending transactions, ...), with its sender's later nonces. Returns how many
    /// transactions left the pool.
    pub fn finalized(&self, state: Arc<MemoryStore>, height: u64) -> usize {
        let mut inner = self.inner.lock().expect("lock");
        let admission = Admission::new(state.as_ref(), height);
        let Inner { by_sender, ids, .. } = &mut *inner;
        let mut removed = 0usize;
        for (signer, pending) in by_sender.iter_mut() {
            let next = state::nonce(state.as_ref(), signer);
            let waiting = pending.split_off(&next);
            let included = std::mem::replace(pending, waiting);
            // Pending nonces in increasing order, each admitted with the fees of those before
            // it: the first that fails takes the rest with it.
            let balance = admission.balance(signer);
            let mut count = 0usize;
            let mut fees = 0u128;
            let mut refused_from = None;
            for (nonce, tx) in pending.iter() {
                let passes = admission
                    .check(tx, true, self.config.max_per_sender)
                    .and_then(|()| fees_with(count, fees, tx.tx().fee, balance));
                match passes {
                    Ok(total) => {
                        count += 1;
                        fees = total;
                    }
                    Err(error) => {
                        tracing::debug!(tx = %tx.id(), %error, "no longer admissible; dropped");
                        refused_from = Some(*nonce);
                        break;
                    }
                }
            }
            let refused =
                refused_from.map_or_else(BTreeMap::new, |nonce| pending.split_off(&nonce));
            for tx in included.values().chain(refused.values()) {
                ids.remove(&tx.id());
                removed += 1;
            }
        }
        by_sender.retain(|_, pending| !pending.is_empty());
        inner.state = state;
        inner.height = height;
        removed
    }
}

impl TransactionSource for Mempool {
    /// A pending transaction passed admission, signature included; one that equals it in every
    /// byte needs no second check.
    fn signatures_known_valid(&self, txs: &[SignedTransaction]) -> Vec<bool> {
        let inner = self.inner.lock().expect("lock");
        txs.iter()
            .map(|tx| {
                inner
                    .by_sender
                    .get(&tx.tx().signer)
                    .and_then(|pending| pending.get(&tx.tx().nonce))
                    .is_some_and(|pending| pending == tx)
            })
            .collect()
    }

    /// Takes each sender's contiguous run of nonces from the parent's, round-robin across
    /// senders so one busy sender cannot crowd out the others.
    fn select(
        &self,
        parent: &MemoryStore,
        context: &BlockContext,
        limit: usize,
    ) -> Vec<SignedTransaction> {
        let inner = self.inner.lock().expect("lock");
        let mut runs: Vec<Vec<&SignedTransaction>> = inner
            .by_sender
            .iter()
            .map(|(signer, pending)| {
                let mut next = state::nonce(parent, signer);
                let mut run = Vec::new();
                while let Some(tx) = pending.get(&next) {
                    if tx.tx().expires_at_height >= context.height {
                        run.push(tx);
                    } else {
                        break;
                    }
                    next = next.saturating_add(1);
                }
                run
            })
            .filter(|run| !run.is_empty())
            .collect();
        for run in &mut runs {
            run.reverse();
        }
        let mut selected = Vec::new();
        while selected.len() < limit && !runs.is_empty() {
            for run in &mut runs {
                if selected.len() >= limit {
                    break;
                }
                if let Some(tx) = run.pop() {
                    selected.push(tx.clone());
                }
            }
            runs.retain(|run| !run.is_empty());
        }
        selected
    }

    fn finalized(&self, state: &Arc<MemoryStore>, height: u64) {
        Mempool::finalized(self, state.clone(), height);
    }

    /// A sender has a transaction for the next block when the pool holds its nonce after the
    /// later of the finalized state and `parent_txs`, unexpired at the block after
    /// `parent_height`. Blocks between the finalized one and the parent are not looked at: a
    /// transaction they carry may count as pending, which only makes the next block come
    /// sooner (at the minimum interval, the pace of a busy chain).
    fn has_pending(&self, parent_height: u64, parent_txs: &[SignedTransaction]) -> bool {
        let inner = self.inner.lock().expect("lock");
        let mut after_parent: HashMap<AccountId, u64> = HashMap::new();
        for tx in parent_txs {
            let next = tx.tx().nonce.saturating_add(1);
            let entry = after_parent.entry(tx.tx().signer).or_insert(next);
            *entry = (*entry).max(next);
        }
        let next_height = parent_height.max(inner.height).saturating_add(1);
        inner.by_sender.iter().any(|(signer, pending)| {
            let finalized = state::nonce(inner.state.as_ref(), signer);
            let next = after_parent
                .get(signer)
                .map_or(finalized, |after| finalized.max(*after));
            pending
                .get(&next)
                .is_some_and(|tx| tx.tx().expires_at_height >= next_height)
        })
    }

    fn arrival(&self) -> Arrival {
        let (sender, receiver) = oneshot::channel();
        {
            let mut inner = self.inner.lock().expect("lock");
            inner.waiters.retain(|waiter| !waiter.is_closed());
            if inner.waiters.len() >= MAX_ARRIVAL_WAITERS {
                inner.waiters.remove(0);
            }
            inner.waiters.push(sender);
        }
        Box::pin(async move {
            if receiver.await.is_err() {
                // Dropped without an arrival (see `MAX_ARRIVAL_WAITERS`): never resolve, so
                // that the caller waits for its deadline instead of spinning.
                futures::future::pending::<()>().await;
            }
        })
    }

    /// Drops each refused transaction with its sender's later nonces, which could only follow
    /// it. Only the exact transaction counts: another one with the same nonce stays.
    fn refused(&self, txs: &[SignedTransaction]) {
        let mut inner = self.inner.lock().expect("lock");
        for tx in txs {
            let signer = tx.tx().signer;
            let nonce = tx.tx().nonce;
            let pending = inner
                .by_sender
                .get(&signer)
                .and_then(|pending| pending.get(&nonce));
            if pending == Some(tx) {
                inner.drop_from(&signer, nonce);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::testing::{TestChain, account};
    use types::{AssetId, Call, bank::BankCall, bank::Transfer};

    fn transfer(amount: u128) -> Call {
        Call::Bank(BankCall::Transfer(Transfer {
            to: account(9),
            asset: AssetId::NATIVE,
            amount,
        }))
    }

    fn pool(chain: &TestChain, config: MempoolConfig) -> Mempool {
        Mempool::new(config, Arc::new(chain.store.clone()), chain.height)
    }

    #[test]
    fn a_gap_must_offer_the_scheduled_fee() {
        let chain = TestChain::new(2, 1_000_000_000);
        let mempool = pool(&chain, MempoolConfig::default());
        let cheap = SignedTransaction::sign(
            types::Transaction {
                fee: 0,
                ..chain.tx_with(0, 3, transfer(1)).tx().clone()
            },
            &ledger::testing::key(0),
        );
        assert!(matches!(
            mempool.submit(cheap),
            Err(MempoolError::Rejected(TxError::FeeTooLow {
                offered: 0,
                ..
            }))
        ));
        mempool.submit(chain.tx_with(0, 3, transfer(1))).unwrap();
        // Account 5 holds nothing, so its gap could never pay.
        assert!(matches!(
            mempool.submit(chain.tx_with(5, 3, transfer(1))),
            Err(MempoolError::Rejected(TxError::FeeNotAffordable {
                balance: 0,
                ..
            }))
        ));
    }

    #[test]
    fn a_signature_checked_elsewhere_as_invalid_is_refused() {
        let chain = TestChain::new(2, 1_000_000_000);
        let mempool = pool(&chain, MempoolConfig::default());
        let tx = chain.tx_with(0, 0, transfer(1));
        assert!(matches!(
            mempool.submit_checked(tx.clone(), false),
            Err(MempoolError::Rejected(TxError::BadSignature))
        ));
        assert!(mempool.is_empty());
        mempool.submit_checked(tx, true).unwrap();
        assert_eq!(mempool.len(), 1);
    }

    #[test]
    fn only_byte_identical_pending_transactions_count_as_verified() {
        let chain = TestChain::new(2, 1_000_000_000);
        let mempool = pool(&chain, MempoolConfig::default());
        let pending = chain.tx_with(0, 0, transfer(1));
        mempool.submit(pending.clone()).unwrap();
        // The same body under someone else's signature, and a transaction never submitted.
        let forged = SignedTransaction::sign(pending.tx().clone(), &ledger::testing::key(1));
        let unknown = chain.tx_with(1, 0, transfer(1));
        assert_eq!(
            mempool.signatures_known_valid(&[pending.clone(), forged.clone(), unknown]),
            vec![true, false, false]
        );
        // A block carrying the forged copy has it checked, and refused.
        let context = chain.next_context();
        let execution = crate::state::execute(&chain.store, &context, &[forged], &[false]).unwrap();
        assert!(matches!(
            execution.executed.receipts[0].outcome,
            ledger::Outcome::Rejected(ledger::TxError::BadSignature)
        ));
        // Once included and finalized, it is no longer pending, so no longer vouched for.
        let mut chain = chain;
        chain.apply(std::slice::from_ref(&pending));
        mempool.finalized(Arc::new(chain.store.clone()), chain.height);
        assert_eq!(mempool.signatures_known_valid(&[pending]), vec![false]);
    }

    #[test]
    fn admits_gaps_but_proposes_only_contiguous_nonces() {
        let mut chain = TestChain::new(2, 1_000_000_000);
        let mempool = pool(&chain, MempoolConfig::default());
        mempool.submit(chain.tx_with(0, 0, transfer(1))).unwrap();
        mempool.submit(chain.tx_with(0, 2, transfer(1))).unwrap();
        mempool.submit(chain.tx_with(1, 0, transfer(1))).unwrap();
        let context = chain.next_context();
        let selected = mempool.select(&chain.store, &context, 10);
        let picked: Vec<(AccountId, u64)> = selected
            .iter()
            .map(|tx| (tx.tx().signer, tx.tx().nonce))
            .collect();
        assert_eq!(picked.len(), 2, "the gap at nonce 1 holds back nonce 2");
        assert!(picked.contains(&(account(0), 0)) && picked.contains(&(account(1), 0)));

        // The block lands; the gap is filled; the rest becomes proposable.
        let receipts = chain.apply(&selected);
        assert!(receipts.iter().all(|r| r.is_success()));
        mempool.finalized(Arc::new(chain.store.clone()), chain.height);
        assert_eq!(mempool.len(), 1, "included transactions are evicted");
        mempool.submit(chain.tx_with(0, 1, transfer(1))).unwrap();
        let selected = mempool.select(&chain.store, &chain.next_context(), 10);
        assert_eq!(
            selected.iter().map(|tx| tx.tx().nonce).collect::<Vec<_>>(),
            vec![1, 2]
        );
    }

    #[test]
    fn rejects_bad_transactions_and_enforces_bounds() {
        let chain = TestChain::new(3, 1_000_000_000);
        let mempool = pool(
            &chain,
            MempoolConfig {
                max_per_sender: 2,
                max_total: 3,
                ..MempoolConfig::default()
            },
        );
        let tx = chain.tx_with(0, 0, transfer(1));
        mempool.submit(tx.clone()).unwrap();
        assert!(matches!(mempool.submit(tx), Err(MempoolError::Duplicate)));
        assert!(matches!(
            mempool.submit(chain.tx_with(0, 0, transfer(2))),
            Err(MempoolError::NonceTaken { nonce: 0 })
        ));
        assert!(matches!(
            mempool.submit(chain.tx_with(0, 5, transfer(1))),
            Err(MempoolError::NonceTooFarAhead { .. })
        ));
        mempool.submit(chain.tx_with(0, 1, transfer(1))).unwrap();
        mempool.submit(chain.tx_with(1, 0, transfer(1))).unwrap();
        assert!(matches!(
            mempool.submit(chain.tx_with(2, 0, transfer(1))),
            Err(MempoolError::Full { limit: 3 })
        ));
        // A transaction signed by the wrong key fails the ledger's own admission.
        let mut forged = chain.tx_with(1, 1, transfer(1));
        forged = SignedTransaction::sign(forged.tx().clone(), &ledger::testing::key(2));
        assert!(matches!(
            mempool.submit(forged),
            Err(MempoolError::Rejected(TxError::BadSignature))
        ));
        assert!(matches!(
            mempool.submit_bytes(&[1, 2, 3]),
            Err(MempoolError::Decode(_))
        ));
    }

    #[test]
    fn per_sender_bound_applies() {
        let chain = TestChain::new(1, 1_000_000_000);
        let mempool = pool(
            &chain,
            MempoolConfig {
                max_per_sender: 2,
                max_total: 100,
                ..MempoolConfig::default()
            },
        );
        mempool.submit(chain.tx_with(0, 0, transfer(1))).unwrap();
        mempool.submit(chain.tx_with(0, 1, transfer(1))).unwrap();
        // Nonce 2 is within reach of nonce 0 only if the sender has room.
        assert!(mempool.submit(chain.tx_with(0, 2, transfer(1))).is_err());
        assert_eq!(mempool.len(), 2);
    }

    #[test]
    fn pending_means_a_next_nonce_the_parent_did_not_use() {
        let mut chain = TestChain::new(3, 1_000_000_000);
        let mempool = pool(&chain, MempoolConfig::default());
        // Blocks are asked for on parent 1 (the pool's finalized height is 0) unless said.
        assert!(!mempool.has_pending(1, &[]), "an empty pool has nothing");
        let first = chain.tx_with(0, 0, transfer(1));
        mempool.submit(first.clone()).unwrap();
        assert!(mempool.has_pending(1, &[]));
        // The parent carries it: the next block has nothing to take, though the transaction
        // stays in the pool until its block is finalized.
        let parent = std::slice::from_ref(&first);
        assert!(!mempool.has_pending(1, parent));
        // A gap cannot be proposed, so it is not pending.
        mempool.submit(chain.tx_with(1, 1, transfer(1))).unwrap();
        assert!(!mempool.has_pending(1, parent));
        // The sender's nonce after the parent's is.
        let second = chain.tx_with(0, 1, transfer(1));
        mempool.submit(second.clone()).unwrap();
        assert!(mempool.has_pending(1, parent));
        assert!(!mempool.has_pending(1, &[second.clone(), first.clone()]));
        // Once the parent is finalized, the finalized nonces decide.
        chain.apply(parent);
        mempool.finalized(Arc::new(chain.store.clone()), chain.height);
        assert!(mempool.has_pending(1, &[]));
        assert!(!mempool.has_pending(1, std::slice::from_ref(&second)));
    }

    #[test]
    fn a_transaction_expired_at_the_next_block_is_not_pending() {
        let chain = TestChain::new(2, 1_000_000_000);
        let mempool = pool(&chain, MempoolConfig::default());
        // Valid up to block 3; the pool's finalized height is 0.
        let mut body = chain.tx_with(0, 0, transfer(1)).tx().clone();
        body.expires_at_height = 3;
        let tx = SignedTransaction::sign(body, &ledger::testing::key(0));
        mempool.submit(tx).unwrap();
        // On parent 2 the next block is 3: still valid. On parent 3 the next is 4: expired,
        // whatever the finalized height, so the leader waits its idle interval.
        assert!(mempool.has_pending(2, &[]));
        assert!(!mempool.has_pending(3, &[]));
        assert!(!mempool.has_pending(10, &[]));
    }

    #[test]
    fn an_admitted_transaction_ends_the_wait_for_an_arrival() {
        use futures::FutureExt;
        let chain = TestChain::new(2, 1_000_000_000);
        let mempool = pool(&chain, MempoolConfig::default());
        let mut arrival = mempool.arrival();
        assert!((&mut arrival).now_or_never().is_none());
        // A refused transaction is no arrival: account 5 holds nothing to pay with.
        assert!(mempool.submit(chain.tx_with(5, 0, transfer(1))).is_err());
        assert!((&mut arrival).now_or_never().is_none());
        // Nor is one behind a nonce gap, which could not be proposed next.
        mempool.submit(chain.tx_with(0, 1, transfer(1))).unwrap();
        assert!((&mut arrival).now_or_never().is_none());
        mempool.submit(chain.tx_with(0, 0, transfer(1))).unwrap();
        assert!(arrival.now_or_never().is_some());
        // An arrival counts for the waits asked for before it, not after.
        let mut later = mempool.arrival();
        assert!((&mut later).now_or_never().is_none());
        mempool.submit(chain.tx_with(1, 0, transfer(1))).unwrap();
        assert!(later.now_or_never().is_some());
    }

    #[test]
    fn waiters_for_an_arrival_are_bounded() {
        use futures::FutureExt;
        let chain = TestChain::new(1, 1_000_000_000);
        let mempool = pool(&chain, MempoolConfig::default());
        // Waits given up are forgotten ...
        for _ in 0..1_000 {
            drop(mempool.arrival());
        }
        assert!(mempool.inner.lock().unwrap().waiters.len() <= 1);
        // ... and live ones are capped: the oldest are dropped and never resolve.
        let mut waits: Vec<Arrival> = (0..MAX_ARRIVAL_WAITERS + 4)
            .map(|_| mempool.arrival())
            .collect();
        assert_eq!(
            mempool.inner.lock().unwrap().waiters.len(),
            MAX_ARRIVAL_WAITERS
        );
        mempool.submit(chain.tx_with(0, 0, transfer(1))).unwrap();
        let resolved = waits
            .iter_mut()
            .filter_map(|wait| wait.now_or_never())
            .count();
        assert_eq!(resolved, MAX_ARRIVAL_WAITERS);
    }
}
