//! What the load benches share: signing transfers ahead of the clock, and feeding one sender's
//! transfers to a node no faster than its pool takes them.

use rpc::RpcClient;
use std::time::Duration;
use types::{
    AccountId, AssetId, Call, ChainId, SignedTransaction, Transaction,
    bank::{BankCall, Transfer},
};

/// Transactions per `equa_sendTransactions` call.
pub const BATCH: usize = 64;
/// A sender's transactions in one node's pool at once (the pool keeps up to 64 per sender).
pub const WINDOW: u64 = 48;

pub struct Signer {
    pub chain_id: ChainId,
    pub params: ledger::Params,
    /// Every transfer expires here: far enough for the whole run, within what pools accept.
    pub expires_at_height: u64,
}

impl Signer {
    /// A transfer valid for the whole run, so that transfers signed ahead stay valid.
    pub fn transfer(
        &self,
        from: &Sender,
        nonce: u64,
        to: AccountId,
        asset: u32,
        amount: u128,
    ) -> SignedTransaction {
        let call = Call::Bank(BankCall::Transfer(Transfer {
            to,
            asset: AssetId(asset),
            amount,
        }));
        let key = &from.key;
        let body = |fee| Transaction {
            chain_id: self.chain_id.clone(),
            signer: from.account,
            nonce,
            fee,
            expires_at_height: self.expires_at_height,
            call: call.clone(),
        };
        let size = SignedTransaction::sign(body(0), key).size();
        let fee = self.params.required_fee(call.kind(), size).unwrap();
        SignedTransaction::sign(body(fee), key)
    }
}

/// An account that signs: its key derived once.
pub struct Sender {
    pub account: AccountId,
    pub key: commonware_cryptography::ed25519::PrivateKey,
}

impl From<&client::keys::Wallet> for Sender {
    fn from(wallet: &client::keys::Wallet) -> Self {
        Self {
            account: wallet.account(),
            key: wallet.signing_key(),
        }
    }
}

pub async fn nonce(client: &RpcClient, account: &AccountId) -> u64 {
    client.account(account).await.unwrap().nonce
}

/// Submits `txs` (one sender's, in nonce order from `first_nonce`) to `client`, keeping at most
/// `WINDOW` beyond the sender's finalized nonce in the pool.
pub async fn submit_windowed(
    client: RpcClient,
    sender: AccountId,
    first_nonce: u64,
    txs: Vec<SignedTransaction>,
) {
    let mut next = 0usize;
    while next < txs.len() {
        let done = nonce(&client, &sender).await - first_nonce;
        let until = ((done + WINDOW) as usize).min(txs.len());
        if until > next {
            let chunk = &txs[next..until.min(next + BATCH)];
            let mut accepted = 0;
            for (offset, result) in client
                .send_many(chunk)
                .await
                .unwrap()
                .into_iter()
                .enumerate()
            {
                match result.error {
                    None => accepted += 1,
                    Some(error) if error.message.contains("already") => accepted += 1,
                    // The pool moves to a finalized block a moment after the RPC state does, or
                    // is full for now: offer the rest again shortly.
                    Some(error) if error.code == "Busy" || error.message.contains("ahead") => break,
                    Some(error) => panic!("transfer {} refused: {error:?}", next + offset),
                }
            }
            next += accepted;
            if accepted < chunk.len() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
