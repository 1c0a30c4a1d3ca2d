//! A typed client of the node's RPC, over HTTP.

use crate::{
    lending::{CreditOfferQuery, CreditOfferView, LendingParamsView, LoanQuery, LoanView},
    market::{
        ArbitratorView, ChatView, MarketParamsView, OfferQuery, OfferView, ReputationView,
        TradeView,
    },
    method,
    views::{AccountView, AssetView, BlockView, ParamsView, ReceiptView, StatusView},
};
use jsonrpsee::{
    core::{client::ClientT, params::ArrayParams, traits::ToRpcParams},
    rpc_params,
};
use jsonrpsee_http_client::{HttpClient, HttpClientBuilder};
use serde::de::DeserializeOwned;
use std::time::Duration;
use types::{AccountId, SignedTransaction, TxId, codec::Encode};

/// What went wrong talking to a node.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the node at {url}: {message}")]
    Unreachable { url: String, message: String },
    /// The node answered with a JSON-RPC error.
    #[error("{message}")]
    Rpc {
        code: i32,
        message: String,
        data: Option<serde_json::Value>,
    },
}

#[derive(Clone, Debug)]
pub struct RpcClient {
    url: String,
    http: HttpClient,
}

impl RpcClient {
    pub fn new(url: &str) -> Result<Self, ClientError> {
        let http = HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(30))
            .build(url)
            .map_err(|e| ClientError::Unreachable {
                url: url.to_string(),
                message: e.to_string(),
            })?;
        Ok(Self {
            url: url.to_string(),
            http,
        })
    }

    fn map(&self, error: jsonrpsee::core::client::Error) -> ClientError {
        match error {
            jsonrpsee::core::client::Error::Call(call) => ClientError::Rpc {
                code: call.code(),
                message: call.message().to_string(),
                data: call
                    .data()
                    .and_then(|raw| serde_json::from_str(raw.get()).ok()),
            },
            other => ClientError::Unreachable {
                url: self.url.clone(),
                message: other.to_string(),
            },
        }
    }

    /// Calls any method; the typed methods below are shorthands of this.
    pub async fn call<R: DeserializeOwned>(
        &self,
        method: &str,
        params: impl ToRpcParams + Send,
    ) -> Result<R, ClientError> {
        self.http
            .request(method, params)
            .await
            .map_err(|e| self.map(e))
    }

    pub async fn market_params(&self) -> Result<MarketParamsView, ClientError> {
        self.call(method::GET_MARKET_PARAMS, ArrayParams::new())
            .await
    }

    pub async fn offers(&self, query: &OfferQuery) -> Result<Vec<OfferView>, ClientError> {
        self.call(method::LIST_OFFERS, rpc_params![query]).await
    }

    pub async fn offer(&self, id: u64) -> Result<Option<OfferView>, ClientError> {
        self.call(method::GET_OFFER, rpc_params![id]).await
    }

    pub async fn trade(&self, id: u64) -> Result<Option<TradeView>, ClientError> {
        self.call(method::GET_TRADE, rpc_params![id]).await
    }

    pub async fn trade_outcome(
        &self,
        id: u64,
    ) -> Result<Option<crate::outcome::TradeOutcomeView>, ClientError> {
        self.call(method::GET_TRADE_OUTCOME, rpc_params![id]).await
    }

    pub async fn trades(&self, account: &AccountId) -> Result<Vec<TradeView>, ClientError> {
        self.call(method::LIST_TRADES, rpc_params![account.to_string()])
            .await
    }

    pub async fn chat(&self, trade: u64, from: u32) -> Result<Option<ChatView>, ClientError> {
        self.call(method::GET_CHAT, rpc_params![trade, from]).await
    }

    /// The validator registry, with `account`'s own record if it is unbonding.
    pub async fn staking(
        &self,
        account: Option<&AccountId>,
    ) -> Result<crate::staking::StakingView, ClientError> {
        match account {
            Some(account) => {
                self.call(method::GET_STAKING, rpc_params![account.to_string()])
                    .await
            }
            None => self.call(method::GET_STAKING, ArrayParams::new()).await,
        }
    }

    pub async fn arbitrators(&self) -> Result<Vec<ArbitratorView>, ClientError> {
        self.call(method::LIST_ARBITRATORS, ArrayParams::new())
            .await
    }

    pub async fn reputation(&self, account: &AccountId) -> Result<ReputationView, ClientError> {
        self.call(method::GET_REPUTATION, rpc_params![account.to_string()])
            .await
    }

    pub async fn lending_params(&self) -> Result<LendingParamsView, ClientError> {
        self.call(method::GET_LENDING_PARAMS, ArrayParams::new())
            .await
    }

    pub async fn loans(&self, query: &LoanQuery) -> Result<Vec<LoanView>, ClientError> {
        self.call(method::LIST_LOANS, rpc_params![query]).await
    }

    pub async fn loan(&self, id: u64) -> Result<Option<LoanView>, ClientError> {
        self.call(method::GET_LOAN, rpc_params![id]).await
    }

    pub async fn credit_offers(
        &self,
        query: &CreditOfferQuery,
    ) -> Result<Vec<CreditOfferView>, ClientError> {
        self.call(method::LIST_CREDIT_OFFERS, rpc_params![query])
            .await
    }

    pub async fn credit_offer(&self, id: u64) -> Result<Option<CreditOfferView>, ClientError> {
        self.call(method::GET_CREDIT_OFFER, rpc_params![id]).await
    }

    pub async fn status(&self) -> Result<StatusView, ClientError> {
        self.http
            .request(method::STATUS, rpc_params![])
            .await
            .map_err(|e| self.map(e))
    }

    pub async fn figures(&self) -> Result<crate::views::FiguresView, ClientError> {
        self.http
            .request(method::GET_FIGURES, rpc_params![])
            .await
            .map_err(|e| self.map(e))
    }

    pub async fn params(&self) -> Result<ParamsView, ClientError> {
        self.http
            .request(method::GET_PARAMS, rpc_params![])
            .await
            .map_err(|e| self.map(e))
    }

    pub async fn assets(&self) -> Result<Vec<AssetView>, ClientError> {
        self.http
            .request(method::GET_ASSETS, rpc_params![])
            .await
            .map_err(|e| self.map(e))
    }

    pub async fn account(&self, account: &AccountId) -> Result<AccountView, ClientError> {
        self.http
            .request(method::GET_ACCOUNT, rpc_params![account.to_string()])
            .await
            .map_err(|e| self.map(e))
    }

    /// The account's transactions, newest first; with `before` (an entry's `cursor` from this
    /// node), those older than it.
    pub async fn history(
        &self,
        account: &AccountId,
        limit: Option<u32>,
        before: Option<&str>,
    ) -> Result<Vec<crate::views::HistoryView>, ClientError> {
        self.call(
            method::LIST_HISTORY,
            rpc_params![account.to_string(), limit, before],
        )
        .await
    }

    /// The account's records with proofs, to verify with `node::proof::verify`.
    pub async fn account_proof(
        &self,
        account: &AccountId,
    ) -> Result<crate::views::AccountProofView, ClientError> {
        self.call(method::GET_ACCOUNT_PROOF, rpc_params![account.to_string()])
            .await
    }

    /// The boundary of the node's current epoch, to verify with `node::checkpoint::verify`.
    pub async fn checkpoint(&self) -> Result<crate::views::CheckpointView, ClientError> {
        self.call(method::GET_CHECKPOINT, rpc_params![]).await
    }

    pub async fn block(&self, height: u64) -> Result<Option<BlockView>, ClientError> {
        self.http
            .request(method::GET_BLOCK, rpc_params![height])
            .await
            .map_err(|e| self.map(e))
    }

    pub async fn receipt(&self, id: &TxId) -> Result<Option<ReceiptView>, ClientError> {
        self.http
            .request(
                method::GET_RECEIPT,
                rpc_params![crate::views::tx_id_hex(id)],
            )
            .await
            .map_err(|e| self.map(e))
    }

    /// Submits a signed transaction; returns its id once the node has admitted it.
    pub async fn send(&self, tx: &SignedTransaction) -> Result<String, ClientError> {
        let encoded = format!("0x{}", hex::encode(tx.encode()));
        self.http
            .request(method::SEND_TRANSACTION, rpc_params![encoded])
            .await
            .map_err(|e| self.map(e))
    }

    /// What `tx` would do as the next block's only transaction; nothing is submitted.
    pub async fn simulate(
        &self,
        tx: &SignedTransaction,
    ) -> Result<crate::simulate::SimulationView, ClientError> {
        let encoded = format!("0x{}", hex::encode(tx.encode()));
        self.call(method::SIMULATE_TRANSACTION, rpc_params![encoded])
            .await
    }

    /// Submits transactions in one `equa_sendTransactions` call, their signatures checked in one
    /// batch; one result per transaction, in order.
    pub async fn send_many(
        &self,
        txs: &[SignedTransaction],
    ) -> Result<Vec<crate::views::SubmittedView>, ClientError> {
        let encoded: Vec<String> = txs
            .iter()
            .map(|tx| format!("0x{}", hex::encode(tx.encode())))
            .collect();
        self.http
            .request(method::SEND_TRANSACTIONS, rpc_params![encoded])
            .await
            .map_err(|e| self.map(e))
    }

    /// Submits raw text as a transaction (for tools and tests that send malformed input).
    pub async fn send_raw(&self, encoded: &str) -> Result<String, ClientError> {
        self.http
            .request(method::SEND_TRANSACTION, rpc_params![encoded])
            .await
            .map_err(|e| self.map(e))
    }
}
