//! Decoders of what peers and clients send: a signed transaction, a consensus block and a relayed
//! batch. Each must refuse malformed bytes with an error, never a panic, and the encoding is
//! canonical: whatever decodes encodes back to exactly the bytes it came from, so no transaction
//! or block has two encodings (two ids, two sizes on which fees are charged).

use commonware_codec::{Decode, Encode, EncodeSize};
use commonware_consensus::BoundedBlock;
use node::{
    block::{Block, MAX_BLOCK_TX_BYTES, MAX_BLOCK_TXS},
    relay,
};
use types::{
    SignedTransaction,
    tx::{MAX_TX_BYTES, TxDecodeError},
};

/// A signed transaction as `equa_sendTransaction`, the mempool and blocks decode it.
pub fn transaction(data: &[u8]) {
    match SignedTransaction::decode(data) {
        Ok(tx) => {
            assert!(data.len() <= MAX_TX_BYTES);
            assert_eq!(tx.encode().as_ref(), data, "re-encoding changed the bytes");
            assert_eq!(tx.size(), data.len(), "the size fees are charged on");
            let again = SignedTransaction::decode(data).expect("decoded once");
            assert_eq!(again.id(), tx.id());
            // Anything that decodes can be asked for its signature and fee kind.
            let _ = tx.verify_signature();
            let _ = tx.tx().call.kind();
        }
        Err(TxDecodeError::Oversized { size, limit }) => {
            assert_eq!(size, data.len());
            assert!(size > limit);
        }
        Err(TxDecodeError::Malformed(_)) => {}
    }
}

/// A consensus block as a peer sends it (proposals, backfill).
pub fn block(data: &[u8]) {
    let Ok(block) = Block::decode_cfg(data.to_vec(), &()) else {
        return;
    };
    assert_eq!(
        block.encode().as_ref(),
        data,
        "re-encoding changed the bytes"
    );
    assert_eq!(block.encode_size(), data.len());
    assert!(data.len() <= Block::max_encode_size(&()));
    assert!(block.txs.len() <= MAX_BLOCK_TXS);
    assert!(block.tx_bytes() <= MAX_BLOCK_TX_BYTES);
    for tx in &block.txs {
        assert!(tx.size() <= MAX_TX_BYTES);
    }
    // The resharing payload travels encoded; a payload that decodes must be its one encoding.
    if let Some(reshare) = &block.reshare
        && let Some(payload) = reshare.payload()
    {
        assert_eq!(
            payload.encode().as_ref(),
            reshare.bytes(),
            "the resharing payload re-encodes differently"
        );
    }
}

/// A batch of transactions relayed by a peer.
pub fn relay_batch(data: &[u8]) {
    let Some(batch) = relay::decode(data) else {
        return;
    };
    assert!(batch.len() <= relay::MAX_BATCH);
    assert_eq!(relay::encode(&batch), data, "re-encoding changed the bytes");
}
