//! The RPC server over real sockets on 127.0.0.1, backed by a real ledger that applies each
//! admitted transaction in its own block.

use ledger::{
    Outcome, admit, state,
    testing::{TestChain, account, key},
};
use rpc::{
    Backend, Limits, RpcClient, SubmitError,
    client::ClientError,
    code,
    views::{
        AccountView, AssetView, BlockView, ErrorView, ParamsView, ReceiptView, StatusView,
        tx_id_hex,
    },
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};
use types::{
    AccountId, AssetId, Call, SignedTransaction, TxId,
    bank::{BankCall, Transfer},
};

/// A single-process chain: every admitted transaction is applied at once in its own block.
struct InstantChain {
    chain: Mutex<(TestChain, HashMap<TxId, ReceiptView>, Vec<BlockView>)>,
}

impl Backend for InstantChain {
    fn status(&self) -> StatusView {
        let guard = self.chain.lock().unwrap();
        StatusView {
            chain_id: guard.0.chain_id().to_string(),
            role: "validator".into(),
            height: guard.0.height,
            timestamp_ms: guard.0.time_ms,
            state_root: guard.0.store.digest().to_string(),
            target_height: guard.0.height,
            peers: 0,
            mempool_size: 0,
        }
    }

    fn account(&self, account: &AccountId) -> AccountView {
        AccountView::read(&self.chain.lock().unwrap().0.store, account)
    }

    fn params(&self) -> ParamsView {
        ParamsView::new(&state::params(&self.chain.lock().unwrap().0.store))
    }

    fn assets(&self) -> Vec<AssetView> {
        AssetView::read_all(&self.chain.lock().unwrap().0.store)
    }

    fn block(&self, height: u64) -> Option<BlockView> {
        let guard = self.chain.lock().unwrap();
        height
            .checked_sub(1)
            .and_then(|i| guard.2.get(i as usize).cloned())
    }

    fn receipt(&self, tx: &TxId) -> Option<ReceiptView> {
        self.chain.lock().unwrap().1.get(tx).cloned()
    }

    fn submit(&self, tx: SignedTransaction) -> Result<TxId, SubmitError> {
        let mut guard = self.chain.lock().unwrap();
        let (chain, receipts, blocks) = &mut *guard;
        let params = state::params(&chain.store);
        admit(
            &chain.store,
            &chain.chain_id(),
            &params,
            chain.height + 1,
            &tx,
            tx.verify_signature(),
        )
        .map_err(|e| SubmitError::Rejected(ErrorView::of(&e)))?;
        let receipt = chain.apply(std::slice::from_ref(&tx)).remove(0);
        receipts.insert(tx.id(), ReceiptView::new(&receipt, chain.height));
        blocks.push(BlockView {
            height: chain.height,
            digest: String::new(),
            parent: String::new(),
            timestamp_ms: chain.time_ms,
            proposer: chain.proposer.to_string(),
            state_root: chain.store.digest().to_string(),
            transactions: vec![tx_id_hex(&tx.id())],
        });
        Ok(tx.id())
    }
}

async fn start() -> (
    RpcClient,
    jsonrpsee::server::ServerHandle,
    std::net::SocketAddr,
) {
    let backend = Arc::new(InstantChain {
        chain: Mutex::new((TestChain::new(3, 1_000_000_000), HashMap::new(), Vec::new())),
    });
    let (address, handle) = rpc::serve("127.0.0.1:0".parse().unwrap(), backend, Limits::default())
        .await
        .unwrap();
    let client = RpcClient::new(&format!("http://{address}")).unwrap();
    (client, handle, address)
}

fn transfer(nonce: u64, amount: u128, fee: u128) -> SignedTransaction {
    let tx = types::Transaction {
        chain_id: types::ChainId::new(ledger::testing::TEST_CHAIN_ID).unwrap(),
        signer: account(0),
        nonce,
        fee,
        expires_at_height: 1_000,
        call: Call::Bank(BankCall::Transfer(Transfer {
            to: account(1),
            asset: AssetId::NATIVE,
            amount,
        })),
    };
    SignedTransaction::sign(tx, &key(0))
}

#[tokio::test]
async fn transfer_through_rpc_is_applied_and_reported() {
    let (client, handle, _) = start().await;
    let status = client.status().await.unwrap();
    assert_eq!(status.chain_id, "equa-test");
    assert_eq!(status.height, 0);

    let params = client.params().await.unwrap().to_params().unwrap();
    assert_eq!(params, ledger::testing::test_params());
    let assets = client.assets().await.unwrap();
    assert_eq!(assets[0].symbol, "EQA");
    assert_eq!(assets[0].supply, "3000000000");

    let before = client.account(&account(1)).await.unwrap();
    assert_eq!(before.minor_units("EQA"), 1_000_000_000);

    let tx = transfer(0, 250, 10_000);
    let id = client.send(&tx).await.unwrap();
    assert_eq!(id, tx_id_hex(&tx.id()));
    let receipt = client.receipt(&tx.id()).await.unwrap().unwrap();
    assert_eq!(receipt.outcome, "success");
    assert_eq!(receipt.fee_paid, "10000");
    assert_eq!(receipt.events[0]["kind"], "transferred");
    assert_eq!(receipt.events[0]["amount"], "250");

    let after = client.account(&account(1)).await.unwrap();
    assert_eq!(after.minor_units("EQA"), 1_000_000_250);
    assert_eq!(client.account(&account(0)).await.unwrap().nonce, 1);
    let block = client.block(1).await.unwrap().unwrap();
    assert_eq!(block.transactions, vec![tx_id_hex(&tx.id())]);
    assert_eq!(client.block(99).await.unwrap(), None);
    handle.stop().unwrap();
}

#[tokio::test]
async fn failed_calls_are_reported_with_their_named_error() {
    let (client, handle, _) = start().await;
    let tx = transfer(0, 5_000_000_000, 10_000);
    client.send(&tx).await.unwrap();
    let receipt = client.receipt(&tx.id()).await.unwrap().unwrap();
    assert_eq!(receipt.outcome, "failed");
    let error = receipt.error.unwrap();
    assert_eq!(error.code, "InsufficientBalance");
    assert!(
        error.message.contains("5000000000 is needed"),
        "{}",
        error.message
    );
    handle.stop().unwrap();
}

#[tokio::test]
async fn rejected_transactions_get_a_json_rpc_error_and_change_nothing() {
    let (client, handle, _) = start().await;
    let expect_rejected = |result: Result<String, ClientError>, code_name: &str| match result {
        Err(ClientError::Rpc {
            code: c,
            data,
            message,
        }) => {
            assert_eq!(c, code::TRANSACTION_REJECTED, "{message}");
            assert_eq!(data.unwrap()["code"], code_name, "{message}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    };
    // Fee below the schedule.
    expect_rejected(client.send(&transfer(0, 1, 1)).await, "FeeTooLow");
    // A future nonce.
    expect_rejected(client.send(&transfer(5, 1, 10_000)).await, "NonceTooHigh");
    // Signed by the wrong key.
    let forged = SignedTransaction::sign(transfer(0, 1, 10_000).tx().clone(), &key(2));
    expect_rejected(client.send(&forged).await, "BadSignature");
    // Not a transaction at all.
    expect_rejected(client.send_raw("0x00ff").await, "Malformed");
    match client.send_raw("not hex").await {
        Err(ClientError::Rpc { code, .. }) => assert_eq!(code, -32602),
        other => panic!("{other:?}"),
    }
    // Nothing moved.
    assert_eq!(client.status().await.unwrap().height, 0);
    assert_eq!(client.account(&account(0)).await.unwrap().nonce, 0);
    handle.stop().unwrap();
}

#[tokio::test]
async fn bad_query_parameters_are_invalid_params() {
    let (client, handle, address) = start().await;
    match client.receipt(&types::Digest([0; 32])).await {
        Ok(None) => {}
        other => panic!("{other:?}"),
    }
    // A malformed address, sent by hand since the typed client cannot build one.
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"equa_getAccount","params":["equa1nope"]}"#;
    let response = post(address, body).await;
    assert!(
        response.contains("-32602") && response.contains("invalid address"),
        "{response}"
    );
    handle.stop().unwrap();
}

#[tokio::test]
async fn oversized_requests_are_refused() {
    let (_, handle, address) = start().await;
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"equa_sendTransaction","params":["0x{}"]}}"#,
        "00".repeat(200 * 1024)
    );
    let response = post(address, &huge).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    handle.stop().unwrap();
}

/// A minimal HTTP/1.1 POST over a raw socket, so the test sees exactly what the server sends.
async fn post(address: std::net::SocketAddr, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn error_codes_are_variant_names() {
    use ledger::{BankError, CallError, TxError};
    assert_eq!(
        rpc::views::error_code(&CallError::Bank(BankError::ZeroAmount)),
        "ZeroAmount"
    );
    assert_eq!(
        rpc::views::error_code(&TxError::FeeTooLow {
            required: 1,
            offered: 0
        }),
        "FeeTooLow"
    );
    assert_eq!(
        rpc::views::error_code(&Outcome::Failed(CallError::Bank(BankError::SelfTransfer))),
        "SelfTransfer"
    );
}
