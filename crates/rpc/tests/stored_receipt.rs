//! `equa_getReceipt` for a transaction whose block the node no longer keeps in memory: answered
//! from what the node keeps on disk, and an error, not null, when that cannot be read.

use rpc::{
    Backend, Limits, RpcClient, SubmitError,
    backend::Pending,
    client::ClientError,
    code,
    views::{BlockView, ReceiptView, StatusView},
};
use std::sync::Arc;
use types::{Digest, SignedTransaction, TxId};

/// Keeps no block in memory; on disk it holds transaction [`KEPT`], and reading transaction
/// [`DAMAGED`] fails.
struct OnDiskOnly;

const KEPT: TxId = Digest([1; 32]);
const DAMAGED: TxId = Digest([2; 32]);

fn kept_receipt() -> ReceiptView {
    ReceiptView {
        tx_id: rpc::views::tx_id_hex(&KEPT),
        height: 7,
        outcome: "success".into(),
        error: None,
        fee_paid: "10".into(),
        events: Vec::new(),
    }
}

impl Backend for OnDiskOnly {
    fn status(&self) -> StatusView {
        unimplemented!("not asked by these tests")
    }

    fn state(&self) -> Arc<ledger::MemoryStore> {
        unimplemented!("not asked by these tests")
    }

    fn block(&self, _: u64) -> Option<BlockView> {
        None
    }

    fn receipt(&self, _: &TxId) -> Option<ReceiptView> {
        None
    }

    fn stored_receipt(&self, tx: TxId) -> Pending<Result<Option<ReceiptView>, String>> {
        Box::pin(async move {
            match tx {
                KEPT => Ok(Some(kept_receipt())),
                DAMAGED => Err("entry 3 is unreadable".into()),
                _ => Ok(None),
            }
        })
    }

    fn submit(&self, _: SignedTransaction) -> Result<TxId, SubmitError> {
        Err(SubmitError::Busy("read only".into()))
    }
}

async fn client() -> (RpcClient, jsonrpsee::server::ServerHandle) {
    let (address, handle) = rpc::serve(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(OnDiskOnly),
        Limits::default(),
    )
    .await
    .unwrap();
    (
        RpcClient::new(&format!("http://{address}")).unwrap(),
        handle,
    )
}

#[tokio::test]
async fn a_receipt_no_longer_in_memory_is_answered_from_disk() {
    let (client, handle) = client().await;
    assert_eq!(client.receipt(&KEPT).await.unwrap(), Some(kept_receipt()));
    assert_eq!(client.receipt(&Digest([3; 32])).await.unwrap(), None);
    handle.stop().unwrap();
}

#[tokio::test]
async fn a_stored_receipt_that_cannot_be_read_is_an_error_not_null() {
    let (client, handle) = client().await;
    match client.receipt(&DAMAGED).await {
        Err(ClientError::Rpc { code, message, .. }) => {
            assert_eq!(code, code::UNAVAILABLE);
            assert!(message.contains("entry 3 is unreadable"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    handle.stop().unwrap();
}
