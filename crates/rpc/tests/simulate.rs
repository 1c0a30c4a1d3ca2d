//! `equa_simulateTransaction` over a real socket: every outcome is foretold with its named
//! error, fee, events and moves, and the node's state and mempool are left exactly as they were.

use ledger::{
    state,
    testing::{TestChain, account, key},
};
use rpc::{
    Backend, Limits, RpcClient, SubmitError,
    client::ClientError,
    simulate::SimulationView,
    views::{BlockView, ReceiptView, StatusView},
};
use std::sync::{Arc, Mutex};
use types::{
    AssetId, Call, ChainId, SignedTransaction, Symbol, Text, Transaction, TxId,
    bank::{BankCall, IssueAsset, Mint, Transfer},
    market::*,
};

const USD: u128 = 1_000_000;
const EQA: u128 = 1_000_000_000;

/// A chain that never changes while the tests run, and counts what is submitted to it (its
/// mempool): a simulation must submit nothing.
struct FrozenChain {
    chain: TestChain,
    submitted: Mutex<Vec<TxId>>,
}

impl Backend for FrozenChain {
    fn status(&self) -> StatusView {
        StatusView {
            chain_id: self.chain.chain_id().to_string(),
            role: "validator".into(),
            height: self.chain.height,
            timestamp_ms: self.chain.time_ms,
            state_root: self.chain.store.digest().to_string(),
            target_height: self.chain.height,
            peers: 0,
            mempool_size: self.submitted.lock().unwrap().len() as u64,
            phase: "following".into(),
            sync: None,
        }
    }

    fn state(&self) -> Arc<ledger::MemoryStore> {
        Arc::new(self.chain.store.clone())
    }

    fn block(&self, _: u64) -> Option<BlockView> {
        None
    }

    fn receipt(&self, _: &TxId) -> Option<ReceiptView> {
        None
    }

    fn submit(&self, tx: SignedTransaction) -> Result<TxId, SubmitError> {
        self.submitted.lock().unwrap().push(tx.id());
        Ok(tx.id())
    }
}

/// Four accounts holding 10,000 EQA; account 2 issued USDX, 0 and 1 hold 100,000 of it and 0
/// sells it in offer 1 (20 to 300 USDX a trade, EUR by SEPA).
fn market_chain() -> TestChain {
    let mut chain = TestChain::new(4, 10_000 * EQA);
    let issue = BankCall::IssueAsset(IssueAsset {
        symbol: Symbol::new("USDX").unwrap(),
        name: Text::new("Dollar").unwrap(),
        decimals: 6,
        max_supply: None,
    });
    assert!(chain.bank(2, issue).is_success());
    for holder in [0, 1] {
        let mint = BankCall::Mint(Mint {
            asset: AssetId(1),
            to: account(holder),
            amount: 100_000 * USD,
        });
        assert!(chain.bank(2, mint).is_success());
    }
    let offer = CreateOffer {
        side: Side::Sell,
        asset: AssetId(1),
        fiat: Fiat::new("EUR").unwrap(),
        price: 92,
        min_amount: 20 * USD,
        max_amount: 300 * USD,
        methods: vec![PaymentMethod::Registered(0)],
        payment_window_secs: 3_600,
        terms: Text::new("SEPA only").unwrap(),
        buyer_deposit_bps: 1_000,
        seller_deposit_bps: 1_000,
        min_taker_trades: 0,
        min_taker_tier: 0,
    };
    let receipt = chain.submit(0, Call::Market(MarketCall::CreateOffer(offer)));
    assert!(receipt.is_success(), "{receipt:?}");
    chain
}

struct Node {
    client: RpcClient,
    backend: Arc<FrozenChain>,
    handle: jsonrpsee::server::ServerHandle,
    address: std::net::SocketAddr,
    /// The state as the tests found it.
    digest: types::Digest,
}

async fn start() -> Node {
    let chain = market_chain();
    let digest = chain.store.digest();
    let backend = Arc::new(FrozenChain {
        chain,
        submitted: Mutex::new(Vec::new()),
    });
    let (address, handle) = rpc::serve(
        "127.0.0.1:0".parse().unwrap(),
        backend.clone(),
        Limits::default(),
    )
    .await
    .unwrap();
    let client = RpcClient::new(&format!("http://{address}")).unwrap();
    Node {
        client,
        backend,
        handle,
        address,
        digest,
    }
}

impl Node {
    /// A transaction from `signer` with its next nonce and the fee the chain asks.
    fn tx(&self, signer: u64, call: Call) -> SignedTransaction {
        self.backend.chain.tx(signer, call)
    }

    /// Checks the node is as the test found it: same state (digest, height, nonces, balances
    /// all included), nothing submitted.
    async fn unchanged(&self) {
        let status = self.client.status().await.unwrap();
        assert_eq!(status.state_root, self.digest.to_string());
        assert_eq!(status.height, self.backend.chain.height);
        assert_eq!(status.mempool_size, 0);
        assert!(self.backend.submitted.lock().unwrap().is_empty());
        assert_eq!(state::nonce(&self.backend.chain.store, &account(1)), 0);
    }
}

fn transfer(to: u64, amount: u128) -> Call {
    Call::Bank(BankCall::Transfer(Transfer {
        to: account(to),
        asset: AssetId::NATIVE,
        amount,
    }))
}

fn take(amount: u128) -> Call {
    Call::Market(MarketCall::TakeOffer(TakeOffer {
        offer: 1,
        revision: 0,
        amount,
        method: PaymentMethod::Registered(0),
    }))
}

/// The signed change of `account`'s balance of `symbol` in minor units, if it moves.
fn moved(view: &SimulationView, who: Option<&str>, symbol: &str) -> Option<i128> {
    view.moves
        .iter()
        .find(|m| m.account.as_deref() == who && m.symbol == symbol)
        .map(|m| m.minor_units.parse().unwrap())
}

#[tokio::test]
async fn a_good_transfer_is_foretold_with_fee_events_and_moves_that_sum_to_zero() {
    let node = start().await;
    let tx = node.tx(1, transfer(3, 2 * EQA));
    let fee = tx.tx().fee;
    let view = node.client.simulate(&tx).await.unwrap();
    assert_eq!(view.outcome, "success");
    assert!(view.error.is_none());
    assert_eq!(view.fee_paid, fee.to_string());
    assert_eq!(view.fee.symbol, "EQA");
    assert_eq!(view.height, node.backend.chain.height + 1);
    assert_eq!(view.events.len(), 1);
    assert_eq!(view.events[0]["kind"], "transferred");
    let fee = i128::try_from(fee).unwrap();
    let from = account(1).to_string();
    let to = account(3).to_string();
    assert_eq!(moved(&view, Some(&from), "EQA"), Some(-2_000_000_000 - fee));
    assert_eq!(moved(&view, Some(&to), "EQA"), Some(2_000_000_000));
    let proposer = view
        .moves
        .iter()
        .find(|m| m.name.as_deref() == Some("block proposer"))
        .expect("the fee goes to the block's proposer");
    assert_eq!(proposer.account, None);
    assert_eq!(proposer.minor_units, format!("+{fee}"));
    assert_eq!(view.moves[0].change.split(' ').nth(1), Some("EQA"));
    let total: i128 = view
        .moves
        .iter()
        .map(|m| m.minor_units.parse::<i128>().unwrap())
        .sum();
    assert_eq!(total, 0, "{:?}", view.moves);
    assert_eq!(view.moves.len(), 3);
    node.unchanged().await;
    // Simulating twice answers the same: the first left nothing behind.
    assert_eq!(node.client.simulate(&tx).await.unwrap(), view);
    node.unchanged().await;
    node.handle.stop().unwrap();
}

#[tokio::test]
async fn taking_above_the_offers_maximum_is_foretold_failed_in_words() {
    let node = start().await;
    let view = node
        .client
        .simulate(&node.tx(1, take(1_000 * USD)))
        .await
        .unwrap();
    assert_eq!(view.outcome, "failed");
    let error = view.error.as_ref().unwrap();
    assert_eq!(error.code, "AmountOutOfRange");
    assert!(
        error.message.contains("1000 USDX") && error.message.contains("300 USDX"),
        "{}",
        error.message
    );
    assert!(view.events.is_empty());
    // Only the fee would move: from the taker to the proposer.
    assert_eq!(view.moves.len(), 2, "{:?}", view.moves);
    assert_eq!(
        view.fee_paid,
        view.moves[1].minor_units.trim_start_matches('+')
    );
    node.unchanged().await;
    // Within the limits it would open a trade and lock the deposit with the market.
    let view = node
        .client
        .simulate(&node.tx(1, take(100 * USD)))
        .await
        .unwrap();
    assert_eq!(view.outcome, "success", "{:?}", view.error);
    assert!(view.events.iter().any(|e| e["kind"] == "trade_opened"));
    assert!(
        view.moves
            .iter()
            .any(|m| m.name.as_deref() == Some("market") && m.symbol == "USDX")
    );
    node.unchanged().await;
    node.handle.stop().unwrap();
}

#[tokio::test]
async fn rejections_are_named_and_change_nothing() {
    let node = start().await;
    let good = node.tx(1, transfer(3, EQA));
    let rejected = |view: &SimulationView, code: &str| {
        assert_eq!(view.outcome, "rejected");
        assert_eq!(view.error.as_ref().unwrap().code, code);
        assert_eq!(view.fee_paid, "0");
        assert!(view.moves.is_empty() && view.events.is_empty());
    };

    // The signature is not checked: a copy signed with another key (which no node could
    // submit) is foretold like the signer's own.
    let copy = SignedTransaction::sign(good.tx().clone(), &key(2));
    let of_copy = node.client.simulate(&copy).await.unwrap();
    assert_eq!(of_copy.outcome, "success");
    assert_eq!(of_copy, node.client.simulate(&good).await.unwrap());

    // Signed for another chain.
    let mut body = good.tx().clone();
    body.chain_id = ChainId::new("equa-other").unwrap();
    let other_chain = SignedTransaction::sign(body, &key(1));
    rejected(
        &node.client.simulate(&other_chain).await.unwrap(),
        "WrongChainId",
    );

    // A nonce already used: account 0 has sent one transaction (its offer).
    let replayed = node.backend.chain.tx_with(0, 0, transfer(3, EQA));
    let view = node.client.simulate(&replayed).await.unwrap();
    rejected(&view, "NonceReplayed");
    assert!(view.error.unwrap().message.contains("already used"));

    // A fee below the schedule.
    let mut body: Transaction = good.tx().clone();
    body.fee = 1;
    let cheap = SignedTransaction::sign(body, &key(1));
    rejected(&node.client.simulate(&cheap).await.unwrap(), "FeeTooLow");

    // A nonce ahead of the state's is tried as if the transactions before it were pending.
    let ahead = node.backend.chain.tx_with(1, 5, transfer(3, EQA));
    assert_eq!(
        node.client.simulate(&ahead).await.unwrap().outcome,
        "success"
    );
    node.unchanged().await;
    node.handle.stop().unwrap();
}

#[tokio::test]
async fn oversized_or_malformed_input_is_refused_without_work() {
    let node = start().await;
    let call = |text: String| {
        let client = node.client.clone();
        async move {
            client
                .call::<SimulationView>(
                    rpc::method::SIMULATE_TRANSACTION,
                    jsonrpsee::rpc_params![text],
                )
                .await
        }
    };
    // One byte over the transaction limit: rejected by its size, before it is decoded.
    let oversized = format!("0x{}", "00".repeat(types::tx::MAX_TX_BYTES + 1));
    let view = call(oversized).await.unwrap();
    assert_eq!(view.outcome, "rejected");
    assert_eq!(view.error.unwrap().code, "Oversized");
    assert_eq!(view.tx_id, None);
    // Bytes that are not a transaction.
    let view = call("0x0102".into()).await.unwrap();
    assert_eq!(view.error.unwrap().code, "Malformed");
    // Text that is not hex is an invalid parameter.
    match call("not hex".into()).await {
        Err(ClientError::Rpc { code, .. }) => assert_eq!(code, -32602),
        other => panic!("{other:?}"),
    }
    // A request over the server's body limit is refused before it is read.
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"equa_simulateTransaction","params":["0x{}"]}}"#,
        "00".repeat(200 * 1024)
    );
    let response = post(node.address, &huge).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    node.unchanged().await;
    node.handle.stop().unwrap();
}

#[tokio::test]
async fn the_method_is_described_in_rpc_discover() {
    let node = start().await;
    let document: serde_json::Value = node
        .client
        .call("rpc.discover", jsonrpsee::rpc_params![])
        .await
        .unwrap();
    let method = document["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "equa_simulateTransaction")
        .expect("described");
    assert_eq!(method["params"][0]["name"], "transaction");
    let result = method["result"]["schema"]["$ref"].as_str().unwrap();
    let name = result.rsplit('/').next().unwrap();
    let schema = &document["components"]["schemas"][name];
    for field in ["outcome", "error", "fee_paid", "fee", "events", "moves"] {
        assert!(
            schema["properties"].get(field).is_some(),
            "{field}: {schema}"
        );
    }
    assert!(document["components"]["schemas"]["MoveView"].is_object());
    node.handle.stop().unwrap();
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
