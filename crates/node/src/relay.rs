//! Transaction relay: a transaction a client submits to one node reaches every validator's pool,
//! so whichever validator leads next can include it.
//!
//! A node passes on only what its own clients submitted and its pool admitted; what arrives from
//! a peer is admitted locally and never passed on again, so a transaction crosses the network
//! once per peer. Transactions travel in batches on their own p2p channel. A peer's batches are
//! decoded with bounds (count and size) and each transaction goes through the pool's full
//! admission checks; nothing a peer sends is trusted. An honest node never sends a batch that
//! breaks a bound or does not decode, so a peer that does is blocked. (A transaction its pool
//! refuses is no such proof: pools differ in what they have seen.)

use crate::{
    mempool::Mempool,
    metrics::{NodeMetrics, Source},
};
use commonware_codec::Encode;
use commonware_p2p::{Blocker, Receiver, Recipients, Sender};
use commonware_runtime::{Clock, Handle, Spawner};
use futures::{StreamExt, channel::mpsc};
use std::time::Duration;
use types::{SignedTransaction, tx::MAX_TX_BYTES};

/// The p2p channel id of relayed transactions (after the consensus channels).
pub const CHANNEL: u64 = 6;
/// The most transactions in one relayed batch.
pub const MAX_BATCH: usize = 256;
/// The most bytes of transactions in one relayed batch.
pub const MAX_BATCH_BYTES: usize = 512 * 1024;
/// How long the relay waits after a transaction for others to batch with it; at most 200
/// batches a second leave a node, within what peers accept from it.
const GATHER: Duration = Duration::from_millis(5);
/// Submitted transactions waiting to be relayed; beyond this, relaying is skipped (the
/// transaction stays in the local pool and is still proposed when this node leads).
const QUEUE: usize = 8_192;

/// Hands admitted transactions to the relay.
#[derive(Clone, Debug)]
pub struct Relay {
    queue: mpsc::Sender<SignedTransaction>,
}

impl Relay {
    /// Queues `tx` for every peer. Never blocks; drops the relay (not the transaction) when the
    /// queue is full.
    pub fn forward(&self, tx: SignedTransaction) {
        let _ = self.queue.clone().try_send(tx);
    }
}

/// A batch on the wire: for each transaction, its length (u32, big-endian) then its bytes.
pub fn encode(batch: &[SignedTransaction]) -> Vec<u8> {
    let mut out = Vec::new();
    for tx in batch {
        let bytes = tx.encode();
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}

/// Whether `bytes` cannot even be split into length-prefixed entries: it ends inside a length
/// prefix, or an entry's length runs past its end. Every version of the node frames its batches
/// this way, so only a faulty or malicious peer sends such bytes.
pub fn framing_broken(mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        let Some((length, rest)) = bytes.split_first_chunk::<4>() else {
            return true;
        };
        let length = u32::from_be_bytes(*length) as usize;
        if length > rest.len() {
            return true;
        }
        bytes = &rest[length..];
    }
    false
}

/// The transactions of a batch; `None` when any entry is malformed or the batch breaks a bound
/// (then the whole batch is ignored).
pub fn decode(mut bytes: &[u8]) -> Option<Vec<SignedTransaction>> {
    if bytes.len() > MAX_BATCH_BYTES.saturating_add(MAX_BATCH.saturating_mul(4)) {
        return None;
    }
    let mut batch = Vec::new();
    while !bytes.is_empty() {
        if batch.len() == MAX_BATCH {
            return None;
        }
        let (length, rest) = bytes.split_first_chunk::<4>()?;
        let length = u32::from_be_bytes(*length) as usize;
        if length > MAX_TX_BYTES || length > rest.len() {
            return None;
        }
        let (tx, rest) = rest.split_at(length);
        batch.push(SignedTransaction::decode(tx).ok()?);
        bytes = rest;
    }
    Some(batch)
}

/// Takes `first` and what `next` yields into one batch, while the batch stays within
/// [`MAX_BATCH`] transactions and [`MAX_BATCH_BYTES`] bytes of transactions (a lone transaction
/// always fits: it is at most `MAX_TX_BYTES`). Returns the batch and the transaction taken that
/// did not fit, which starts the next batch.
fn gather(
    first: SignedTransaction,
    mut next: impl FnMut() -> Option<SignedTransaction>,
) -> (Vec<SignedTransaction>, Option<SignedTransaction>) {
    let mut size = first.size();
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        let Some(tx) = next() else {
            break;
        };
        let grown = size.saturating_add(tx.size());
        if grown > MAX_BATCH_BYTES {
            return (batch, Some(tx));
        }
        size = grown;
        batch.push(tx);
    }
    (batch, None)
}

/// Starts relaying over `(sender, receiver)`: admitted transactions go out in batches; incoming
/// ones are admitted into `mempool`, and a peer whose batch is malformed is blocked through
/// `blocker`. Both are counted in `metrics` when given.
pub fn start<E, S, R, B>(
    context: E,
    (mut sender, mut receiver): (S, R),
    mempool: Mempool,
    mut blocker: B,
    metrics: Option<NodeMetrics>,
) -> (Relay, Handle<()>, Handle<()>)
where
    E: Spawner + Clock + commonware_runtime::Metrics,
    S: Sender,
    R: Receiver,
    B: Blocker<PublicKey = R::PublicKey>,
{
    let (queue, mut queued) = mpsc::channel::<SignedTransaction>(QUEUE);
    let outgoing_metrics = metrics.clone();
    let outgoing = context.child("relay_out").spawn(move |context| async move {
        let mut carried = None;
        loop {
            let first = match carried.take() {
                Some(tx) => tx,
                None => match queued.next().await {
                    Some(tx) => tx,
                    None => break,
                },
            };
            // Gather what arrives in the next few milliseconds into the same batch, so a steady
            // trickle of submissions does not become a message per transaction.
            context.sleep(GATHER).await;
            let (batch, rest) = gather(first, || queued.try_recv().ok());
            carried = rest;
            // Peers that are offline or rate-limited miss this batch; the transaction is still
            // in this node's own pool.
            sender.send(Recipients::All, encode(&batch), false);
            for tx in &batch {
                tracing::debug!(tx = %rpc::views::tx_id_hex(&tx.id()), "relayed to the peers");
            }
            if let Some(metrics) = &outgoing_metrics {
                metrics.relayed(batch.len());
            }
        }
    });
    let incoming = context.child("relay_in").spawn(move |_| async move {
        while let Ok((peer, message)) = receiver.recv().await {
            let Some(batch) = decode(message.as_ref()) else {
                // Only bytes that no version of this node sends get a peer blocked. A batch
                // that is well framed but breaks this version's bounds, or carries a
                // transaction this version cannot decode, may come from an honest node of
                // another version (a rolling upgrade): it is dropped, and counted.
                if framing_broken(message.as_ref()) {
                    commonware_p2p::block!(blocker, peer, "malformed transaction batch");
                } else {
                    tracing::debug!(?peer, bytes = message.len(), "dropped a relay batch this version cannot take");
                    if let Some(metrics) = &metrics {
                        metrics.offered(Source::Relay, Err("UndecodableBatch"));
                    }
                }
                continue;
            };
            // One batch verification for the whole batch. A node relays only transactions it
            // admitted, whose signatures it checked, so any bad signature is the sender's doing:
            // it is blocked, which also bounds what its batches cost in single checks.
            let Some(batch) = signed(batch) else {
                commonware_p2p::block!(blocker, peer, "relayed a transaction with a bad signature");
                continue;
            };
            for tx in batch {
                // Duplicates, stale nonces and full pools are expected here; they are only
                // counted.
                let id = tx.id();
                let outcome = mempool.submit_checked(tx, true);
                match &outcome {
                    Ok(_) => tracing::debug!(tx = %rpc::views::tx_id_hex(&id), ?peer, "admitted from a peer"),
                    Err(error) => {
                        tracing::debug!(tx = %rpc::views::tx_id_hex(&id), ?peer, %error, "refused from a peer");
                    }
                }
                if let Some(metrics) = &metrics {
                    let reason = outcome.as_ref().err().map(rpc::views::error_code);
                    metrics.offered(Source::Relay, reason.as_deref().map_or(Ok(()), Err));
                }
            }
        }
    });
    (Relay { queue }, outgoing, incoming)
}

/// `batch` if every signature in it is valid (one batch verification), `None` if any is not.
fn signed(batch: Vec<SignedTransaction>) -> Option<Vec<SignedTransaction>> {
    ledger::verify_signatures(&batch)
        .into_iter()
        .all(|valid| valid)
        .then_some(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::testing::TestChain;
    use types::{
        AssetId, Call,
        bank::{BankCall, Transfer},
    };

    fn transfers(count: u64) -> Vec<SignedTransaction> {
        let chain = TestChain::new(2, 1_000_000);
        (0..count)
            .map(|nonce| {
                let call = Call::Bank(BankCall::Transfer(Transfer {
                    to: ledger::testing::account(1),
                    asset: AssetId::NATIVE,
                    amount: 1 + u128::from(nonce),
                }));
                chain.tx_with(0, nonce, call)
            })
            .collect()
    }

    #[test]
    fn a_batch_with_one_bad_signature_is_refused_whole() {
        let batch = transfers(5);
        assert_eq!(signed(batch.clone()), Some(batch.clone()));
        for bad in [0, 2, 4] {
            let mut tampered = batch.clone();
            // Another transaction's signature: well formed, but not over this one.
            tampered[bad] = SignedTransaction::from_parts(
                batch[bad].tx().clone(),
                batch[(bad + 1) % batch.len()].signature().clone(),
            );
            assert_eq!(signed(tampered), None, "signature {bad} swapped");
        }
        assert_eq!(signed(Vec::new()), Some(Vec::new()));
    }

    #[test]
    fn batches_round_trip() {
        let batch = transfers(3);
        assert_eq!(decode(&encode(&batch)), Some(batch));
        assert_eq!(decode(&[]), Some(vec![]));
    }

    #[test]
    fn gathered_batches_stay_within_the_bounds_peers_decode() {
        use types::market::{MAX_MESSAGE_BYTES, MarketCall, PostMessage};
        // The largest chat messages: a batch of MAX_BATCH of them would be over 1 MB.
        let chain = TestChain::new(1, 1_000_000_000);
        let mut queue: std::collections::VecDeque<SignedTransaction> = (0..MAX_BATCH as u64)
            .map(|nonce| {
                let call = Call::Market(MarketCall::PostMessage(PostMessage {
                    trade: nonce,
                    ciphertext: vec![7; MAX_MESSAGE_BYTES],
                }));
                chain.tx_with(0, nonce, call)
            })
            .collect();
        let sent = queue.clone();
        let mut relayed = Vec::new();
        let mut carried = None;
        while let Some(first) = carried.take().or_else(|| queue.pop_front()) {
            let (batch, rest) = gather(first, || queue.pop_front());
            carried = rest;
            assert!(batch.len() < MAX_BATCH, "the byte bound ends each batch");
            let decoded = decode(&encode(&batch)).expect("a peer decodes every batch");
            relayed.extend(decoded);
        }
        assert_eq!(
            relayed,
            Vec::from(sent),
            "every transaction is relayed once, in order"
        );
    }

    #[test]
    fn malformed_and_oversized_batches_are_ignored() {
        let batch = transfers(2);
        let bytes = encode(&batch);
        // Truncated in the middle of a transaction.
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
        // A length beyond the largest transaction.
        let mut huge = ((MAX_TX_BYTES + 1) as u32).to_be_bytes().to_vec();
        huge.extend(vec![0; MAX_TX_BYTES + 1]);
        assert_eq!(decode(&huge), None);
        // A transaction that does not decode.
        let mut garbage = 3u32.to_be_bytes().to_vec();
        garbage.extend([1, 2, 3]);
        assert_eq!(decode(&garbage), None);
        // More transactions than a batch may hold.
        let many = transfers(MAX_BATCH as u64 + 1);
        assert_eq!(decode(&encode(&many)), None);
    }

    #[test]
    fn only_broken_framing_marks_a_peer_as_faulty() {
        let batch = transfers(2);
        let bytes = encode(&batch);
        // No version of the node sends these: the sender is blocked.
        assert!(framing_broken(&bytes[..bytes.len() - 1]), "truncated entry");
        assert!(framing_broken(&bytes[..2]), "truncated length prefix");
        let cycle: Vec<u8> = (0..=255u8).cycle().take(4_096).collect();
        assert!(framing_broken(&cycle), "noise");
        // Well framed, but beyond this version's bounds or codec: another version of an honest
        // node could send these, so they are only dropped.
        assert!(!framing_broken(&bytes));
        assert!(!framing_broken(&[]));
        let many = transfers(MAX_BATCH as u64 + 1);
        assert!(!framing_broken(&encode(&many)));
        let mut huge = ((MAX_TX_BYTES + 1) as u32).to_be_bytes().to_vec();
        huge.extend(vec![0; MAX_TX_BYTES + 1]);
        assert!(!framing_broken(&huge));
        let mut unknown = 3u32.to_be_bytes().to_vec();
        unknown.extend([1, 2, 3]);
        assert!(!framing_broken(&unknown));
    }
}
