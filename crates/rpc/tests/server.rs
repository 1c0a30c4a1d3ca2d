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
    lending::LoanQuery,
    market::OfferQuery,
    views::{BlockView, ErrorView, ReceiptView, StatusView, tx_id_hex},
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};
use types::{
    AssetId, Call, SignedTransaction, Symbol, Text, TxId,
    bank::{BankCall, IssueAsset, Mint, Transfer},
    lending::{Fund, LendingCall, RequestLoan, Schedule},
    market::*,
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
            phase: "following".into(),
            sync: None,
        }
    }

    fn state(&self) -> Arc<ledger::MemoryStore> {
        Arc::new(self.chain.lock().unwrap().0.store.clone())
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
        .map_err(|e| SubmitError::Rejected(ErrorView::rejected(&chain.store, &e)))?;
        let receipt = chain.apply(std::slice::from_ref(&tx)).remove(0);
        receipts.insert(
            tx.id(),
            ReceiptView::new(&chain.store, &receipt, chain.height),
        );
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
    start_with(TestChain::new(3, 1_000_000_000)).await
}

async fn start_with(
    chain: TestChain,
) -> (
    RpcClient,
    jsonrpsee::server::ServerHandle,
    std::net::SocketAddr,
) {
    let backend = Arc::new(InstantChain {
        chain: Mutex::new((chain, HashMap::new(), Vec::new())),
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
    assert_eq!(receipt.events[0]["amount"]["minor_units"], "250");
    assert_eq!(receipt.events[0]["amount"]["symbol"], "EQA");
    assert!(
        receipt.events[0]["text"]
            .as_str()
            .unwrap()
            .contains(" sent 0.00000025 EQA to ")
    );

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
    // Amounts in words, as decimals with the asset's symbol (the ledger counts minor units).
    assert!(
        error
            .message
            .ends_with("holds 0.99999 EQA; 5 EQA is needed"),
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
    // Fee below the schedule, worded in EQA.
    match client.send(&transfer(0, 1, 1)).await {
        Err(ClientError::Rpc { message, .. }) => assert!(
            message
                .starts_with("the fee offered is 0.000000001 EQA; this transaction needs at least"),
            "{message}"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
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
async fn many_transactions_in_one_call_get_one_result_each() {
    let (client, handle, address) = start().await;
    let good = [transfer(0, 5, 10_000), transfer(1, 7, 10_000)];
    let hex = |tx: &SignedTransaction| {
        use types::codec::Encode;
        format!("0x{}", hex::encode(tx.encode()))
    };
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "equa_sendTransactions",
        "params": [[hex(&good[0]), "not hex", "0x00ff", hex(&transfer(0, 1, 1)), hex(&good[1])]],
    })
    .to_string();
    let answer: serde_json::Value =
        serde_json::from_str(body_of(&post(address, &body).await)).unwrap();
    let results = answer["result"].as_array().unwrap();
    let codes: Vec<&str> = results
        .iter()
        .map(|r| r["error"]["code"].as_str().unwrap_or("admitted"))
        .collect();
    assert_eq!(
        codes,
        [
            "admitted",
            "Malformed",
            "Malformed",
            "NonceReplayed",
            "admitted"
        ],
        "{answer}"
    );
    assert_eq!(results[0]["id"], tx_id_hex(&good[0].id()));
    assert_eq!(results[4]["id"], tx_id_hex(&good[1].id()));
    assert_eq!(client.account(&account(0)).await.unwrap().nonce, 2);
    // The client's helper reads the same results.
    let again = client.send_many(&good).await.unwrap();
    assert!(again.iter().all(|r| r.id.is_none() && r.error.is_some()));
    // Too many at once is refused as a whole.
    let many = vec!["0x00"; rpc::server::MAX_SUBMISSIONS + 1];
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 2, "method": "equa_sendTransactions", "params": [many],
    })
    .to_string();
    let answer: serde_json::Value =
        serde_json::from_str(body_of(&post(address, &body).await)).unwrap();
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
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

const EQA: u128 = 1_000_000_000;
const USD: u128 = 1_000_000;

/// A chain with some market and lending history: account 3 issues USDX and is the arbitrator;
/// 0 sells USDX for EUR, 1 buys, they trade once with a chat message; 1 borrows from 0 and 3.
fn market_chain() -> TestChain {
    let mut chain = TestChain::new(4, 10_000 * EQA);
    let issue = BankCall::IssueAsset(IssueAsset {
        symbol: Symbol::new("USDX").unwrap(),
        name: Text::new("Dollar").unwrap(),
        decimals: 6,
        max_supply: None,
    });
    assert!(chain.bank(3, issue).is_success());
    let usd = AssetId(1);
    for holder in [0, 1, 3] {
        let mint = BankCall::Mint(Mint {
            asset: usd,
            to: account(holder),
            amount: 100_000 * USD,
        });
        assert!(chain.bank(3, mint).is_success());
    }
    let market = |call| Call::Market(call);
    let register = MarketCall::RegisterArbitrator(RegisterArbitrator {
        bond: 1_000 * EQA,
        fee_bps: 100,
        languages: Text::new("en,de").unwrap(),
    });
    assert!(chain.submit(3, market(register)).is_success());
    let profile = MarketCall::SetProfile(SetProfile {
        chat_key: [7; 32],
        name: Text::new("alice").unwrap(),
    });
    assert!(chain.submit(0, market(profile)).is_success());
    let offer = |side, price, methods: Vec<PaymentMethod>| CreateOffer {
        side,
        asset: usd,
        fiat: Fiat::new("EUR").unwrap(),
        price,
        min_amount: USD,
        max_amount: 100 * USD,
        methods,
        payment_window_secs: 3_600,
        terms: Text::new("SEPA only").unwrap(),
        buyer_deposit_bps: 1_000,
        seller_deposit_bps: 1_000,
        min_taker_trades: 0,
        min_taker_tier: 0,
    };
    // Offer 1: 0 sells at 0.95 EUR by SEPA Instant; offer 2: 0 sells at 0.92 by PIX-less SEPA;
    // offer 3: 1 buys at 0.90.
    let sepa_instant = PaymentMethod::Registered(1);
    let sepa = PaymentMethod::Registered(0);
    for (signer, call) in [
        (0, offer(Side::Sell, 95, vec![sepa_instant.clone()])),
        (0, offer(Side::Sell, 92, vec![sepa.clone()])),
        (1, offer(Side::Buy, 90, vec![sepa_instant.clone(), sepa])),
    ] {
        let receipt = chain.submit(signer, market(MarketCall::CreateOffer(call)));
        assert!(receipt.is_success(), "{receipt:?}");
    }
    let take = MarketCall::TakeOffer(TakeOffer {
        offer: 1,
        revision: 0,
        amount: 10 * USD,
        method: sepa_instant,
    });
    assert!(chain.submit(1, market(take)).is_success());
    let message = MarketCall::PostMessage(PostMessage {
        trade: 1,
        ciphertext: vec![1, 2, 3],
    });
    assert!(chain.submit(1, market(message)).is_success());
    let paid = MarketCall::MarkPaid(MarkPaid {
        trade: 1,
        payer_commitment: None,
    });
    assert!(chain.submit(1, market(paid)).is_success());
    let release = MarketCall::Release(TradeRef { trade: 1 });
    assert!(chain.submit(0, market(release)).is_success());

    let request = LendingCall::RequestLoan(RequestLoan {
        asset: usd,
        principal: 1_000 * USD,
        rate_bps: 1_200,
        term_days: 90,
        schedule: Schedule::Instalments(3),
        collateral: Some(types::lending::Collateral {
            asset: AssetId::NATIVE,
            amount: 500 * EQA,
        }),
        funding_deadline_ms: chain.time_ms + 86_400_000,
        min_fill: 1_000 * USD,
    });
    let receipt = chain.submit(1, Call::Lending(request));
    assert!(receipt.is_success(), "{receipt:?}");
    for (lender, amount) in [(0, 600 * USD), (3, 400 * USD)] {
        let fund = LendingCall::Fund(Fund { loan: 1, amount });
        let receipt = chain.submit(lender, Call::Lending(fund));
        assert!(receipt.is_success(), "{receipt:?}");
    }
    chain
}

#[tokio::test]
async fn market_and_lending_queries() {
    let (client, handle, _) = start_with(market_chain()).await;

    let params = client.market_params().await.unwrap();
    assert_eq!(params.methods[1].code, "SEPA_INSTANT");
    assert_eq!(params.tiers[0], "New");

    // The offer book: sell offers cheapest first, filters by side, method, price and amount.
    let sells = OfferQuery {
        side: Some("sell".into()),
        ..OfferQuery::default()
    };
    let found = client.offers(&sells).await.unwrap();
    assert_eq!(found.iter().map(|o| o.id).collect::<Vec<_>>(), vec![2, 1]);
    assert_eq!(found[1].price.amount, "0.95");
    assert_eq!(
        found[1].max_amount.amount, "90",
        "10 of 100 USDX were taken"
    );
    assert_eq!(found[1].maker_name.as_deref(), Some("alice"));
    assert_eq!(found[1].maker_standing.completed_trades, 1);
    let by_method = OfferQuery {
        method: Some("sepa_instant".into()),
        ..OfferQuery::default()
    };
    let ids = |offers: Vec<rpc::market::OfferView>| offers.iter().map(|o| o.id).collect::<Vec<_>>();
    assert_eq!(ids(client.offers(&by_method).await.unwrap()), vec![1, 3]);
    let cheap = OfferQuery {
        max_price: Some("0.93".into()),
        side: Some("sell".into()),
        ..OfferQuery::default()
    };
    assert_eq!(ids(client.offers(&cheap).await.unwrap()), vec![2]);
    let big = OfferQuery {
        asset: Some("USDX".into()),
        amount: Some("95".into()),
        ..OfferQuery::default()
    };
    assert_eq!(ids(client.offers(&big).await.unwrap()), vec![2, 3]);
    let page = OfferQuery {
        limit: Some(1),
        offset: Some(1),
        side: Some("sell".into()),
        ..OfferQuery::default()
    };
    assert_eq!(ids(client.offers(&page).await.unwrap()), vec![1]);
    // Bad filters are invalid params with the reason.
    for (bad, reason) in [
        (
            OfferQuery {
                side: Some("up".into()),
                ..OfferQuery::default()
            },
            "side",
        ),
        (
            OfferQuery {
                amount: Some("5".into()),
                ..OfferQuery::default()
            },
            "needs an asset",
        ),
        (
            OfferQuery {
                asset: Some("NOPE".into()),
                ..OfferQuery::default()
            },
            "no asset",
        ),
        (
            OfferQuery {
                max_price: Some("0.001".into()),
                ..OfferQuery::default()
            },
            "price",
        ),
    ] {
        match client.offers(&bad).await {
            Err(ClientError::Rpc { code, message, .. }) => {
                assert_eq!(code, -32602);
                assert!(message.contains(reason), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    // The trade, its chat and the parties' reputation.
    let trade = client.trade(1).await.unwrap().unwrap();
    assert_eq!(trade.state, "completed");
    assert_eq!(trade.amount.amount, "10");
    assert_eq!(trade.fiat_amount.amount, "9.50");
    assert_eq!(trade.method.code, "SEPA_INSTANT");
    assert!(trade.next.iter().any(|s| s.contains("rate")));
    assert_eq!(client.trade(9).await.unwrap(), None);
    assert_eq!(client.trades(&account(1)).await.unwrap().len(), 1);
    assert!(client.trades(&account(2)).await.unwrap().is_empty());
    let chat = client.chat(1, 0).await.unwrap().unwrap();
    assert_eq!(chat.messages.len(), 1);
    assert_eq!(chat.messages[0].ciphertext, "010203");
    assert_eq!(chat.seller_key, Some(hex::encode([7; 32])));
    assert!(
        client
            .chat(1, 1)
            .await
            .unwrap()
            .unwrap()
            .messages
            .is_empty()
    );
    let seller = client.reputation(&account(0)).await.unwrap();
    assert_eq!(seller.completed_as_seller, 1);
    assert_eq!(seller.standing.tier_name, "New");
    assert_eq!(seller.standing.completion_rate, "100.00");
    // The trade was worth 9.50 EUR, below the 10.00 a trade needs to count toward standing.
    assert_eq!(seller.standing.completed_trades, 1);
    assert_eq!(seller.standing.counted_trades, 0);
    assert_eq!(seller.standing.counterparties, 0);
    let arbitrators = client.arbitrators().await.unwrap();
    assert_eq!(arbitrators.len(), 1);
    assert_eq!(arbitrators[0].bond.amount, "1000");
    assert_eq!(arbitrators[0].languages, "en,de");

    // Lending: the loan activated when the second lender filled it.
    let loan = client.loan(1).await.unwrap().unwrap();
    assert_eq!(loan.state, "active");
    assert_eq!(loan.rate_percent, "12.00");
    assert_eq!(loan.schedule, "instalments:3");
    assert_eq!(loan.dues.len(), 3);
    assert_eq!(loan.lender_count, 2);
    let lent: Vec<_> = loan
        .lenders
        .iter()
        .map(|p| p.lent.amount.as_str())
        .collect();
    assert_eq!(lent, vec!["600", "400"]);
    let due = loan.amount_due.unwrap();
    assert_eq!(due.principal_outstanding.amount, "1000");
    let borrower = client.reputation(&account(1)).await.unwrap();
    assert_eq!(borrower.credit.loans, 1);
    let active = LoanQuery {
        state: Some("active".into()),
        lender: Some(account(3).to_string()),
        ..LoanQuery::default()
    };
    assert_eq!(client.loans(&active).await.unwrap().len(), 1);
    let funding = LoanQuery {
        state: Some("funding".into()),
        ..LoanQuery::default()
    };
    assert!(client.loans(&funding).await.unwrap().is_empty());
    let bad = LoanQuery {
        state: Some("late".into()),
        ..LoanQuery::default()
    };
    assert!(client.loans(&bad).await.is_err());
    assert!(
        client
            .credit_offers(&Default::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(client.lending_params().await.unwrap().grace_days, 3);
    handle.stop().unwrap();
}

/// The body of an HTTP response from [`post`].
fn body_of(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

/// `equa_listOffers` over HTTP is answered by the server's own path for it (see `rpc::fast`):
/// every answer must be exactly what the registered method gives, and every call it does not
/// take must still get jsonrpsee's answer.
#[tokio::test]
async fn offer_list_over_http_is_what_the_method_answers() {
    let chain = market_chain();
    let module = rpc::server::module(Arc::new(InstantChain {
        chain: Mutex::new((market_chain(), HashMap::new(), Vec::new())),
    }));
    let (_, handle, address) = start_with(chain).await;
    let method = |body: String| {
        let module = module.clone();
        async move {
            module
                .raw_json_request(&body, 1)
                .await
                .unwrap()
                .0
                .get()
                .to_owned()
        }
    };

    let calls = [
        // Successes, with every kind of id.
        r#"{"jsonrpc":"2.0","id":1,"method":"equa_listOffers"}"#,
        r#"{"jsonrpc":"2.0","id":"seven","method":"equa_listOffers","params":[]}"#,
        r#"{"jsonrpc":"2.0","id":null,"method":"equa_listOffers","params":[null]}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"equa_listOffers","params":[{"side":"sell"}]}"#,
        r#"{"jsonrpc":"2.0","id":4,"method":"equa_listOffers","params":[{"side":"buy","limit":1}]}"#,
        r#"{"jsonrpc":"2.0","id":5,"method":"equa_listOffers","params":{"side":"sell"}}"#,
        // Errors: a bad filter, too many parameters, an unknown field.
        r#"{"jsonrpc":"2.0","id":6,"method":"equa_listOffers","params":[{"side":"up"}]}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":"equa_listOffers","params":[null,null]}"#,
        r#"{"jsonrpc":"2.0","id":8,"method":"equa_listOffers","params":[{"colour":"red"}]}"#,
        // Other methods.
        r#"{"jsonrpc":"2.0","id":10,"method":"equa_getOffer","params":[1]}"#,
    ];
    for call in calls {
        let response = post(address, call).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{call}: {response}");
        let expected = method(call.to_string()).await;
        assert_eq!(body_of(&response), expected, "{call}");
    }
    // The successes are pages, the failures JSON-RPC errors.
    let page: serde_json::Value =
        serde_json::from_str(body_of(&post(address, calls[3]).await)).unwrap();
    assert_eq!(page["id"], 3);
    assert_eq!(page["result"].as_array().unwrap().len(), 2);
    let error: serde_json::Value =
        serde_json::from_str(body_of(&post(address, calls[6]).await)).unwrap();
    assert_eq!(error["error"]["code"], -32602, "{error}");

    // A batch, a notification, a body that is not JSON, the wrong content type and a body over
    // the limit go to jsonrpsee.
    let batch = format!("[{},{}]", calls[3], calls[9]);
    let answers: serde_json::Value =
        serde_json::from_str(body_of(&post(address, &batch).await)).unwrap();
    assert_eq!(answers.as_array().unwrap().len(), 2, "{answers}");
    assert_eq!(answers[0]["result"], page["result"]);
    let notification = r#"{"jsonrpc":"2.0","method":"equa_listOffers"}"#;
    let acknowledged = post(address, notification).await;
    assert!(!body_of(&acknowledged).contains("result"), "{acknowledged}");
    let old = post(
        address,
        r#"{"jsonrpc":"1.0","id":9,"method":"equa_listOffers"}"#,
    )
    .await;
    assert!(old.contains("-32600"), "{old}");
    let garbage = post(address, "{\"jsonrpc\":").await;
    assert!(garbage.contains("-32700"), "{garbage}");
    let plain = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            calls[0].len(),
            calls[0]
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response).await;
        String::from_utf8_lossy(&response).into_owned()
    };
    assert!(plain.starts_with("HTTP/1.1 415"), "{plain}");
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"equa_listOffers","params":[{{"terms":"{}"}}]}}"#,
        "x".repeat(300 * 1024)
    );
    let refused = post(address, &huge).await;
    assert!(refused.starts_with("HTTP/1.1 413"), "{refused}");
    handle.stop().unwrap();
}

#[tokio::test]
async fn rpc_discover_describes_every_method() {
    let (client, handle, address) = start().await;
    let document: serde_json::Value = client
        .call(
            rpc::method::DISCOVER,
            jsonrpsee::core::params::ArrayParams::new(),
        )
        .await
        .unwrap();
    assert_eq!(document["openrpc"], "1.3.2");
    let names: Vec<&str> = document["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    // Every method the server answers (but rpc.discover itself) is described, and nothing else.
    let module = rpc::server::module(Arc::new(InstantChain {
        chain: Mutex::new((TestChain::new(1, 1), HashMap::new(), Vec::new())),
    }));
    let mut served: Vec<&str> = module
        .method_names()
        .filter(|name| *name != rpc::method::DISCOVER && !name.starts_with("equa_unsubscribe"))
        .collect();
    served.sort();
    let mut described = names.clone();
    described.sort();
    assert_eq!(described, served);
    // Result schemas resolve to the components.
    let list = document["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "equa_listOffers")
        .unwrap();
    assert_eq!(list["params"][0]["name"], "filter");
    assert_eq!(list["params"][0]["required"], false);
    let schemas = &document["components"]["schemas"];
    assert!(
        schemas["OfferView"]["properties"]["price"].is_object(),
        "{schemas}"
    );
    assert!(schemas["OfferQuery"]["properties"]["max_price"].is_object());
    // Positional parameters only, with a clear error otherwise.
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"equa_getAccount","params":{"address":"x"}}"#;
    let response = post(address, body).await;
    assert!(response.contains("positional"), "{response}");
    handle.stop().unwrap();
}

#[tokio::test]
async fn subscriptions_over_websocket() {
    use jsonrpsee::core::client::SubscriptionClientT;
    let (client, handle, address) = start().await;
    let ws = jsonrpsee::ws_client::WsClientBuilder::default()
        .build(format!("ws://{address}"))
        .await
        .unwrap();
    let [subscribe, _, unsubscribe] = rpc::method::SUBSCRIBE_ACCOUNT;
    let mut account_updates: jsonrpsee::core::client::Subscription<rpc::views::AccountView> = ws
        .subscribe(
            subscribe,
            jsonrpsee::rpc_params![account(1).to_string()],
            unsubscribe,
        )
        .await
        .unwrap();
    let [subscribe, _, unsubscribe] = rpc::method::SUBSCRIBE_BLOCKS;
    let mut blocks: jsonrpsee::core::client::Subscription<BlockView> = ws
        .subscribe(subscribe, jsonrpsee::rpc_params![], unsubscribe)
        .await
        .unwrap();
    let first = account_updates.next().await.unwrap().unwrap();
    assert_eq!(first.minor_units("EQA"), 1_000_000_000);
    for nonce in 0..2 {
        client.send(&transfer(nonce, 5, 10_000)).await.unwrap();
    }
    // Both blocks arrive in order, and the account's balance after each.
    let heights = [
        blocks.next().await.unwrap().unwrap().height,
        blocks.next().await.unwrap().unwrap().height,
    ];
    assert_eq!(heights, [1, 2]);
    let mut balance = 0;
    while balance != 1_000_000_010 {
        balance = account_updates
            .next()
            .await
            .unwrap()
            .unwrap()
            .minor_units("EQA");
        assert!(balance <= 1_000_000_010);
    }
    // A subscription to something that does not exist is refused.
    let [subscribe, _, unsubscribe] = rpc::method::SUBSCRIBE_TRADE;
    let missing: Result<jsonrpsee::core::client::Subscription<serde_json::Value>, _> = ws
        .subscribe(subscribe, jsonrpsee::rpc_params![42], unsubscribe)
        .await;
    assert!(format!("{:?}", missing.unwrap_err()).contains("no trade 42"));
    handle.stop().unwrap();
}

/// A backend whose state the test sets: `state` answers the same `Arc` until it is replaced.
struct Settable {
    state: Mutex<Arc<ledger::MemoryStore>>,
}

impl Backend for Settable {
    fn status(&self) -> StatusView {
        StatusView {
            chain_id: ledger::testing::TEST_CHAIN_ID.into(),
            role: "validator".into(),
            height: 0,
            timestamp_ms: 0,
            state_root: String::new(),
            target_height: 0,
            peers: 0,
            mempool_size: 0,
            phase: "following".into(),
            sync: None,
        }
    }

    fn state(&self) -> Arc<ledger::MemoryStore> {
        self.state.lock().unwrap().clone()
    }

    fn block(&self, _: u64) -> Option<BlockView> {
        None
    }

    fn receipt(&self, _: &TxId) -> Option<ReceiptView> {
        None
    }

    fn submit(&self, _: SignedTransaction) -> Result<TxId, SubmitError> {
        Err(SubmitError::Busy("read only".into()))
    }
}

/// A server over a backend whose state the test sets.
async fn serve_settable(
    state: Arc<ledger::MemoryStore>,
) -> (
    Arc<Settable>,
    std::net::SocketAddr,
    jsonrpsee::server::ServerHandle,
) {
    let backend = Arc::new(Settable {
        state: Mutex::new(state),
    });
    let (address, handle) = rpc::serve(
        "127.0.0.1:0".parse().unwrap(),
        backend.clone(),
        Limits::default(),
    )
    .await
    .unwrap();
    (backend, address, handle)
}

/// The server brings its offer book to the latest state every poll whether or not anyone asks.
/// The book's cache holds the state it was read from, and a ledger state keeps alive the older
/// values a live older state may read: a cache left on the state of the last query (one query,
/// then silence) would keep every value the chain writes after it.
#[tokio::test]
async fn the_offer_book_lets_go_of_an_old_state_without_being_asked() {
    let chain = market_chain();
    let old = Arc::new(chain.store.clone());
    let (backend, address, handle) = serve_settable(old.clone()).await;
    let client = RpcClient::new(&format!("http://{address}")).unwrap();
    let offers = client.offers(&OfferQuery::default()).await.unwrap();
    assert!(!offers.is_empty(), "the market chain has offers");
    // The chain moves on; nobody asks for offers again.
    let mut next = chain.store.clone();
    ledger::Store::put(&mut next, b"moved on", vec![1]);
    *backend.state.lock().unwrap() = Arc::new(next);
    let old = {
        let weak = Arc::downgrade(&old);
        drop(old);
        weak
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while old.strong_count() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the server still holds the old state after 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // And the book it followed to serves the same offers.
    assert_eq!(
        client.offers(&OfferQuery::default()).await.unwrap().len(),
        offers.len()
    );
    handle.stop().unwrap();
}

/// The book's follower holds neither the server nor its backend: dropping the server's handle
/// stops the server, the follower ends, and the backend is let go.
#[tokio::test]
async fn dropping_the_handle_still_stops_the_server_and_its_follower() {
    let chain = TestChain::new(3, 1_000_000_000);
    let (backend, address, handle) = serve_settable(Arc::new(chain.store.clone())).await;
    drop(handle);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let refused = tokio::net::TcpStream::connect(address).await.is_err();
        if refused && Arc::strong_count(&backend) == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still accepts ({}) and {} other holders keep the backend",
            !refused,
            Arc::strong_count(&backend) - 1
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
