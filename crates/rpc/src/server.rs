//! The JSON-RPC server: HTTP and WebSocket on one port, with bounded requests and connections.

use crate::{
    Backend, SubmitError, code, method,
    views::{ErrorView, tx_id_hex},
};
use jsonrpsee::{
    RpcModule,
    server::{BatchRequestConfig, ServerBuilder, ServerConfig, ServerHandle},
    types::{ErrorObject, ErrorObjectOwned, error::INVALID_PARAMS_CODE},
};
use std::{net::SocketAddr, sync::Arc};
use types::{AccountId, Digest, SignedTransaction, tx::TxDecodeError};

/// Bounds on what one client can ask of the server.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_request_body_bytes: u32,
    pub max_response_body_bytes: u32,
    pub max_connections: u32,
    pub max_batch_requests: u32,
    pub max_subscriptions_per_connection: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // A transaction is at most 64 KiB, hex doubles it; leave room for the envelope.
            max_request_body_bytes: 256 * 1024,
            max_response_body_bytes: 16 * 1024 * 1024,
            max_connections: 256,
            max_batch_requests: 64,
            max_subscriptions_per_connection: 64,
        }
    }
}

fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObject::owned(INVALID_PARAMS_CODE, message.into(), None::<()>)
}

fn unhex(text: &str) -> Result<Vec<u8>, ErrorObjectOwned> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(digits).map_err(|_| invalid_params(format!("{text:?} is not hex")))
}

fn parse_account(text: &str) -> Result<AccountId, ErrorObjectOwned> {
    AccountId::parse(text).map_err(|e| invalid_params(format!("invalid address {text:?}: {e}")))
}

fn parse_tx_id(text: &str) -> Result<Digest, ErrorObjectOwned> {
    let bytes: [u8; 32] = unhex(text)?
        .try_into()
        .map_err(|_| invalid_params("a transaction id is 32 bytes of hex"))?;
    Ok(Digest(bytes))
}

fn submit_error(error: SubmitError) -> ErrorObjectOwned {
    match error {
        SubmitError::Rejected(view) => {
            ErrorObject::owned(code::TRANSACTION_REJECTED, view.message.clone(), Some(view))
        }
        SubmitError::Busy(message) => ErrorObject::owned(code::BUSY, message, None::<()>),
    }
}

/// The RPC methods over `backend`.
pub fn module(backend: Arc<dyn Backend>) -> RpcModule<Arc<dyn Backend>> {
    let mut module = RpcModule::new(backend);
    module
        .register_method(method::STATUS, |_, backend, _| {
            Ok::<_, ErrorObjectOwned>(backend.status())
        })
        .expect("method names are unique");
    module
        .register_method(method::GET_PARAMS, |_, backend, _| {
            Ok::<_, ErrorObjectOwned>(backend.params())
        })
        .expect("method names are unique");
    module
        .register_method(method::GET_ASSETS, |_, backend, _| {
            Ok::<_, ErrorObjectOwned>(backend.assets())
        })
        .expect("method names are unique");
    module
        .register_method(method::GET_ACCOUNT, |params, backend, _| {
            let (address,): (String,) = params.parse()?;
            Ok::<_, ErrorObjectOwned>(backend.account(&parse_account(&address)?))
        })
        .expect("method names are unique");
    module
        .register_method(method::GET_BLOCK, |params, backend, _| {
            let (height,): (u64,) = params.parse()?;
            Ok::<_, ErrorObjectOwned>(backend.block(height))
        })
        .expect("method names are unique");
    module
        .register_method(method::GET_RECEIPT, |params, backend, _| {
            let (id,): (String,) = params.parse()?;
            Ok::<_, ErrorObjectOwned>(backend.receipt(&parse_tx_id(&id)?))
        })
        .expect("method names are unique");
    module
        .register_method(method::SEND_TRANSACTION, |params, backend, _| {
            let (encoded,): (String,) = params.parse()?;
            let tx = SignedTransaction::decode(&unhex(&encoded)?).map_err(|e| {
                let name = match e {
                    TxDecodeError::Oversized { .. } => "Oversized",
                    TxDecodeError::Malformed(_) => "Malformed",
                };
                let view = ErrorView {
                    code: name.to_string(),
                    message: e.to_string(),
                };
                ErrorObject::owned(code::TRANSACTION_REJECTED, view.message.clone(), Some(view))
            })?;
            backend
                .submit(tx)
                .map(|id| tx_id_hex(&id))
                .map_err(submit_error)
        })
        .expect("method names are unique");
    module
}

/// Starts the server on `address` (port 0 picks a free port). Returns the bound address and a
/// handle that stops the server when told to, or when dropped after `stop`.
pub async fn serve(
    address: SocketAddr,
    backend: Arc<dyn Backend>,
    limits: Limits,
) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let config = ServerConfig::builder()
        .max_request_body_size(limits.max_request_body_bytes)
        .max_response_body_size(limits.max_response_body_bytes)
        .max_connections(limits.max_connections)
        .max_subscriptions_per_connection(limits.max_subscriptions_per_connection)
        .set_batch_request_config(BatchRequestConfig::Limit(limits.max_batch_requests))
        .build();
    let server = ServerBuilder::default()
        .set_config(config)
        .build(address)
        .await?;
    let bound = server.local_addr()?;
    Ok((bound, server.start(module(backend))))
}
