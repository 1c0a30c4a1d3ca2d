//! Pending transactions waiting for a block: admission, bounds, selection and eviction.
//!
//! Admission runs the ledger's own checks (`ledger::admit`) against the latest finalized state,
//! except that a nonce ahead of the signer's next nonce is kept (a *gap*) as long as it is within
//! the per-sender bound: the transactions before it may still arrive. Selection only takes each
//! sender's contiguous run from the parent's nonce, so a gap is never proposed. Finalization evicts
//! what was included (nonce below the new state's nonce) and what expired.

use crate::app::TransactionSource;
use ledger::{BlockContext, MemoryStore, TxError, admit, state};
use std::{
    collections::{BTreeMap, HashSet},
    sync::{Arc, Mutex},
};
use types::{AccountId, SignedTransaction, TxId, tx::TxDecodeError};

/// Bounds of the pool.
#[derive(Clone, Copy, Debug)]
pub struct MempoolConfig {
    /// Pending transactions one sender may have, which is also how far ahead of its next nonce
    /// a transaction may be.
    pub max_per_sender: usize,
    /// Pending transactions in total.
    pub max_total: usize,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        Self {
            max_per_sender: 64,
            max_total: 50_000,
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
}

#[derive(Debug)]
struct Inner {
    /// The latest finalized state, against which admission runs.
    state: Arc<MemoryStore>,
    height: u64,
    by_sender: BTreeMap<AccountId, BTreeMap<u64, SignedTransaction>>,
    ids: HashSet<TxId>,
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
            })),
        }
    }

    pub fn len(&self) -> usize {
        self.inner.lock().expect("lock").ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        let chain_id = state::chain_id(inner.state.as_ref());
        let params = state::params(inner.state.as_ref());
        let next_height = inner.height.saturating_add(1);
        match admit(
            inner.state.as_ref(),
            &chain_id,
            &params,
            next_height,
            &tx,
            signature_valid,
        ) {
            Ok(()) => {}
            Err(TxError::NonceTooHigh { expected, found }) => {
                let ahead = found.saturating_sub(expected);
                if ahead >= self.config.max_per_sender as u64 {
                    return Err(MempoolError::NonceTooFarAhead {
                        expected,
                        found,
                        limit: self.config.max_per_sender,
                    });
                }
                // The ledger stops at the nonce, but a gap must still offer the scheduled fee:
                // otherwise it would be proposed later only to be refused without paying, and
                // block space would be free.
                let required = params
                    .required_fee(tx.tx().call.kind(), tx.size())
                    .unwrap_or(u128::MAX);
                if tx.tx().fee < required {
                    return Err(MempoolError::Rejected(TxError::FeeTooLow {
                        required,
                        offered: tx.tx().fee,
                    }));
                }
                let balance = state::balance(
                    inner.state.as_ref(),
                    &tx.tx().signer,
                    types::AssetId::NATIVE,
                );
                if balance < tx.tx().fee {
                    return Err(MempoolError::Rejected(TxError::FeeNotAffordable {
                        fee: tx.tx().fee,
                        balance,
                    }));
                }
            }
            Err(error) => return Err(MempoolError::Rejected(error)),
        }
        if inner.ids.len() >= self.config.max_total {
            return Err(MempoolError::Full {
                limit: self.config.max_total,
            });
        }
        let signer = tx.tx().signer;
        let nonce = tx.tx().nonce;
        let pending = inner.by_sender.entry(signer).or_default();
        if pending.contains_key(&nonce) {
            return Err(MempoolError::NonceTaken { nonce });
        }
        if pending.len() >= self.config.max_per_sender {
            return Err(MempoolError::SenderFull {
                limit: self.config.max_per_sender,
            });
        }
        pending.insert(nonce, tx);
        inner.ids.insert(id);
        Ok(id)
    }

    /// Moves admission to a newly finalized state and evicts what it included or expired.
    pub fn finalized(&self, state: Arc<MemoryStore>, height: u64) {
        let mut inner = self.inner.lock().expect("lock");
        let mut evicted = Vec::new();
        for (signer, pending) in inner.by_sender.iter_mut() {
            let next = state::nonce(state.as_ref(), signer);
            pending.retain(|nonce, tx| {
                let keep = *nonce >= next && tx.tx().expires_at_height > height;
                if !keep {
                    evicted.push(tx.id());
                }
                keep
            });
        }
        inner.by_sender.retain(|_, pending| !pending.is_empty());
        for id in evicted {
            inner.ids.remove(&id);
        }
        inner.state = state;
        inner.height = height;
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
            },
        );
        mempool.submit(chain.tx_with(0, 0, transfer(1))).unwrap();
        mempool.submit(chain.tx_with(0, 1, transfer(1))).unwrap();
        // Nonce 2 is within reach of nonce 0 only if the sender has room.
        assert!(mempool.submit(chain.tx_with(0, 2, transfer(1))).is_err());
        assert_eq!(mempool.len(), 2);
    }
}
