//! Building, signing and submitting transactions, and waiting for their receipts.

use crate::keys::Wallet;
use rpc::{
    RpcClient,
    client::ClientError,
    simulate::SimulationView,
    views::{ErrorView, ReceiptView},
};
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
    /// The node's simulation says the ledger would not accept the transaction as it is (the
    /// outcome "failed" or "rejected", with the ledger's named error), so it was not sent: no
    /// fee was paid, no nonce used, nothing recorded.
    #[error("not sent: the ledger would refuse it ({}): {}", .error.code, .error.message)]
    Refused { outcome: String, error: ErrorView },
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
    let body = build_call(wallet, chain_id, nonce, height, params, call)?;
    Ok(SignedTransaction::sign(body, &wallet.signing_key()))
}

/// The unsigned transaction of `call` from `wallet` with `nonce`, valid for
/// [`VALIDITY_BLOCKS`] after `height`, with the exact fee the chain's schedule asks.
pub fn build_call(
    wallet: &Wallet,
    chain_id: ChainId,
    nonce: u64,
    height: u64,
    params: &ledger::Params,
    call: Call,
) -> Result<Transaction, SendError> {
    let body = |fee| Transaction {
        chain_id: chain_id.clone(),
        signer: wallet.account(),
        nonce,
        fee,
        expires_at_height: height.saturating_add(VALIDITY_BLOCKS),
        call: call.clone(),
    };
    // The fee field and the signature have fixed widths, so the size with a placeholder fee,
    // signed by any key, is the final size.
    let size = SignedTransaction::sign(body(0), &crate::keys::random_signing_key()).size();
    let fee = params
        .required_fee(call.kind(), size)
        .ok_or_else(|| SendError::Invalid("the chain's fee for this call overflows".into()))?;
    Ok(body(fee))
}

/// Builds, signs and submits `call`, then waits up to `timeout` for its receipt. `progress` is
/// called while waiting, with the time waited so far.
///
/// The transaction is first simulated on the node ([`check_call`]); one the ledger would fail
/// or reject is not sent at all ([`SendError::Refused`]), so a mistake costs no fee and leaves
/// nothing on the sender's record. Every submission of the command line and the web interface
/// goes through here.
pub async fn send_call(
    rpc: &RpcClient,
    wallet: &Wallet,
    call: Call,
    timeout: Duration,
    mut progress: impl FnMut(Duration),
) -> Result<ReceiptView, SendError> {
    let (tx, _) = check_call(rpc, wallet, call).await?;
    submit_checked(rpc, &tx, timeout, &mut progress).await
}

/// Builds `call` with the wallet's next nonce and simulates it on the node, without signing it
/// for sending: the node is shown a copy signed with a one-off key, which the ledger refuses as
/// badly signed, so a node that kept it could never submit it in the wallet's name. Returns the
/// unsigned transaction and what it would do, whatever the outcome.
pub async fn simulate_call(
    rpc: &RpcClient,
    wallet: &Wallet,
    call: Call,
) -> Result<(Transaction, SimulationView), SendError> {
    let status = rpc.status().await?;
    let chain_id = ChainId::new(&status.chain_id)
        .map_err(|e| SendError::Invalid(format!("the node reports a bad chain id: {e}")))?;
    let account = rpc.account(&wallet.account()).await?;
    let params = rpc
        .params()
        .await?
        .to_params()
        .map_err(SendError::Invalid)?;
    let body = build_call(
        wallet,
        chain_id,
        account.nonce,
        status.height,
        &params,
        call,
    )?;
    let unsendable = SignedTransaction::sign(body.clone(), &crate::keys::random_signing_key());
    let simulation = rpc.simulate(&unsendable).await?;
    // The id covers the transaction, not its signature: the answer must be about this one.
    let id = rpc::views::tx_id_hex(&unsendable.id());
    if simulation.tx_id.as_deref() != Some(id.as_str()) {
        return Err(SendError::Invalid(format!(
            "the node answered the simulation of {id} about another transaction"
        )));
    }
    Ok((body, simulation))
}

/// [`simulate_call`], refusing ([`SendError::Refused`]) a transaction the ledger would not
/// accept as a success; otherwise signs it with the wallet's key for sending.
pub async fn check_call(
    rpc: &RpcClient,
    wallet: &Wallet,
    call: Call,
) -> Result<(SignedTransaction, SimulationView), SendError> {
    let (body, simulation) = simulate_call(rpc, wallet, call).await?;
    refuse_unless_success(&simulation)?;
    Ok((
        SignedTransaction::sign(body, &wallet.signing_key()),
        simulation,
    ))
}

/// Whether a simulation allows sending: only a success does.
pub fn refuse_unless_success(simulation: &SimulationView) -> Result<(), SendError> {
    match &simulation.error {
        None if simulation.is_success() => Ok(()),
        error => Err(SendError::Refused {
            outcome: simulation.outcome.clone(),
            error: error.clone().unwrap_or_else(|| ErrorView {
                code: "Unknown".into(),
                message: format!("the simulation's outcome is {}", simulation.outcome),
            }),
        }),
    }
}

/// Submits a transaction [`check_call`] accepted and waits up to `timeout` for its receipt.
pub async fn submit_checked(
    rpc: &RpcClient,
    tx: &SignedTransaction,
    timeout: Duration,
    progress: &mut impl FnMut(Duration),
) -> Result<ReceiptView, SendError> {
    rpc.send(tx).await?;
    wait_for_receipt(rpc, tx, timeout, progress).await
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

#[cfg(test)]
mod tests {
    use super::*;

    fn simulation(outcome: &str, error: Option<(&str, &str)>) -> SimulationView {
        SimulationView {
            tx_id: None,
            height: 1,
            outcome: outcome.into(),
            error: error.map(|(code, message)| ErrorView {
                code: code.into(),
                message: message.into(),
            }),
            fee_paid: "0".into(),
            fee: rpc::views::Money {
                asset: 0,
                symbol: "EQA".into(),
                amount: "0".into(),
                minor_units: "0".into(),
            },
            events: Vec::new(),
            moves: Vec::new(),
            assumed_pending: 0,
        }
    }

    #[test]
    fn only_a_foretold_success_may_be_sent() {
        assert!(refuse_unless_success(&simulation("success", None)).is_ok());
        let refused = refuse_unless_success(&simulation(
            "failed",
            Some((
                "AmountOutOfRange",
                "the amount 1000 USDX is outside 20..=300 USDX",
            )),
        ))
        .unwrap_err();
        match &refused {
            SendError::Refused { outcome, error } => {
                assert_eq!(outcome, "failed");
                assert_eq!(error.code, "AmountOutOfRange");
            }
            other => panic!("{other:?}"),
        }
        assert!(refused.to_string().contains("1000 USDX"), "{refused}");
        // An outcome the client does not know is not a success either.
        assert!(matches!(
            refuse_unless_success(&simulation("maybe", None)),
            Err(SendError::Refused { .. })
        ));
        assert!(matches!(
            refuse_unless_success(&simulation("rejected", Some(("BadSignature", "bad")))),
            Err(SendError::Refused { .. })
        ));
    }
}
