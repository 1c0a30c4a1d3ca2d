//! Building, signing and submitting transactions, and waiting for their receipts.

use crate::keys::Wallet;
use rpc::{RpcClient, client::ClientError, views::ReceiptView};
use std::time::{Duration, Instant};
use types::{Call, ChainId, SignedTransaction, Transaction};

/// How many blocks a transaction stays valid for after the height it was built at.
pub const VALIDITY_BLOCKS: u64 = 300;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Rpc(#[from] ClientError),
    #[error("{0}")]
    Invalid(String),
    #[error("no receipt for transaction {tx_id} after {waited_ms} ms; it may still be included")]
    Timeout { tx_id: String, waited_ms: u128 },
}

/// Signs `call` from `wallet` with its next nonce and the exact fee the chain's schedule asks.
pub fn sign_call(
    wallet: &Wallet,
    chain_id: ChainId,
    nonce: u64,
    height: u64,
    params: &ledger::Params,
    call: Call,
) -> Result<SignedTransaction, SendError> {
    let key = wallet.signing_key();
    let body = |fee| Transaction {
        chain_id: chain_id.clone(),
        signer: wallet.account(),
        nonce,
        fee,
        expires_at_height: height.saturating_add(VALIDITY_BLOCKS),
        call: call.clone(),
    };
    // The fee field has a fixed width, so the size with a placeholder fee is the final size.
    let size = SignedTransaction::sign(body(0), &key).size();
    let fee = params
        .required_fee(call.kind(), size)
        .ok_or_else(|| SendError::Invalid("the chain's fee for this call overflows".into()))?;
    Ok(SignedTransaction::sign(body(fee), &key))
}

/// Builds, signs and submits `call`, then waits up to `timeout` for its receipt. `progress` is
/// called while waiting, with the time waited so far.
pub async fn send_call(
    rpc: &RpcClient,
    wallet: &Wallet,
    call: Call,
    timeout: Duration,
    mut progress: impl FnMut(Duration),
) -> Result<ReceiptView, SendError> {
    let status = rpc.status().await?;
    let chain_id = ChainId::new(&status.chain_id)
        .map_err(|e| SendError::Invalid(format!("the node reports a bad chain id: {e}")))?;
    let account = rpc.account(&wallet.account()).await?;
    let params = rpc
        .params()
        .await?
        .to_params()
        .map_err(SendError::Invalid)?;
    let tx = sign_call(
        wallet,
        chain_id,
        account.nonce,
        status.height,
        &params,
        call,
    )?;
    rpc.send(&tx).await?;
    wait_for_receipt(rpc, &tx, timeout, &mut progress).await
}

/// Polls for the receipt of `tx` until it appears or `timeout` passes.
pub async fn wait_for_receipt(
    rpc: &RpcClient,
    tx: &SignedTransaction,
    timeout: Duration,
    progress: &mut impl FnMut(Duration),
) -> Result<ReceiptView, SendError> {
    let started = Instant::now();
    loop {
        if let Some(receipt) = rpc.receipt(&tx.id()).await? {
            return Ok(receipt);
        }
        let waited = started.elapsed();
        if waited >= timeout {
            return Err(SendError::Timeout {
                tx_id: rpc::views::tx_id_hex(&tx.id()),
                waited_ms: waited.as_millis(),
            });
        }
        progress(waited);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
