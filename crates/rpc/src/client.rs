//! A typed client of the node's RPC, over HTTP.

use crate::{
    method,
    views::{AccountView, AssetView, BlockView, ParamsView, ReceiptView, StatusView},
};
use jsonrpsee::{core::client::ClientT, rpc_params};
use jsonrpsee_http_client::{HttpClient, HttpClientBuilder};
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

    pub async fn status(&self) -> Result<StatusView, ClientError> {
        self.http
            .request(method::STATUS, rpc_params![])
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

    /// Submits raw text as a transaction (for tools and tests that send malformed input).
    pub async fn send_raw(&self, encoded: &str) -> Result<String, ClientError> {
        self.http
            .request(method::SEND_TRANSACTION, rpc_params![encoded])
            .await
            .map_err(|e| self.map(e))
    }
}
