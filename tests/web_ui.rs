//! The web interface in real browsers: headless Chromium driven through WebDriver
//! (chromedriver), against `equa devnet` with four validator processes, each serving the pages
//! for one demo wallet. Alice (desktop window) sells to Bob (phone-sized window): a trade with
//! chat from offer to rating, a disputed trade that Dave rules from a third browser, and a loan
//! that Bob requests, Alice funds, Bob repays and Alice claims.
//!
//! Screenshots of every step go to `<target>/tmp/web_ui/`.

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::{Browser, Driver};
use common::Devnet;
use fantoccini::Locator;
use serde_json::json;
use std::path::PathBuf;

const RPC_PORT: u16 = 29_545;
const P2P_PORT: u16 = 32_300;
const DRIVER_PORT: u16 = 29_600;

/// The devnet serves validator i's interface (wallet i) on its first RPC port plus 10 plus i.
fn web(index: u16) -> String {
    format!("http://127.0.0.1:{}", RPC_PORT + 10 + index)
}

#[test]
fn a_trade_a_dispute_and_a_loan_through_the_web_interface() {
    let _ = std::fs::remove_dir_all(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web_ui"));
    let devnet = Devnet::start("web-ui", RPC_PORT, P2P_PORT);
    let driver = Driver::start(DRIVER_PORT);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let alice = Browser::open(&driver, "web_ui", "alice", web(0), 1280, 900).await;
        let bob = Browser::open(&driver, "web_ui", "bob", web(1), 390, 844).await;
        let dave = Browser::open(&driver, "web_ui", "dave", web(3), 1280, 900).await;

        // The network page charts the node's own figures, live, on a desktop and on a phone.
        for browser in [&alice, &bob] {
            browser.go("status", "Network").await;
            let charts = browser.wait_charts(2).await;
            let keys: Vec<&str> = charts.iter().map(|(key, ..)| key.as_str()).collect();
            assert_eq!(keys, ["block-rate", "finality", "mempool", "peers"]);
            for (key, _, value) in &charts {
                assert!(
                    value.parse::<f64>().is_ok(),
                    "{}: the {key} chart's current value is a number: {value:?}",
                    browser.name
                );
            }
            // A young node keeps fewer than five minutes of samples, so a refresh adds points.
            let mempool_points = charts[2].1;
            browser.wait_charts(mempool_points + 1).await;
            assert!(browser.fits_width().await, "the charts fit the window");
            let drawn = browser
                .client
                .execute(
                    "return document.querySelector('.charts').textContent",
                    vec![],
                )
                .await
                .unwrap();
            let drawn = drawn.as_str().unwrap_or_default();
            for axis in [
                "blocks per second",
                "milliseconds",
                "transactions waiting",
                "connected peers",
                "time, minutes ago",
            ] {
                assert!(
                    drawn.contains(axis),
                    "{}: an axis reads {axis:?}",
                    browser.name
                );
            }
            browser.scroll_to(".figures").await;
            browser.shot("network-charts").await;
        }
        // The phone shows one chart under another: the last one too.
        bob.scroll_to("[data-chart='peers']").await;
        bob.shot("network-charts-peers").await;

        // Read-only pages work locked; actions ask for the wallet first.
        alice.go("wallet", "Wallet").await;
        alice.shot("locked-wallet").await;
        alice
            .wait_text("#my-address", &devnet.address("alice"))
            .await;
        let refused = alice
            .submit("Publish profile", &[("Display name", "Alice")])
            .await
            .unwrap_err();
        assert!(refused.contains("Unlock the wallet first"), "{refused}");
        alice.unlock("not the password").await;
        alice.wait_text("#unlock-error", "wrong password").await;
        alice.shot("wrong-password").await;
        alice.unlock("devnet").await;
        alice.wait_text("#session", "Lock").await;
        alice.go("wallet", "Wallet").await;
        alice
            .act("Publish profile", &[("Display name", "Alice")])
            .await;
        alice.shot("profile").await;
        for (browser, name) in [(&bob, "Bob"), (&dave, "Dave")] {
            browser.go("wallet", "Wallet").await;
            browser.unlock("devnet").await;
            browser.wait_text("#session", "Lock").await;
            browser.go("wallet", "Wallet").await;
            browser
                .act("Publish profile", &[("Display name", name)])
                .await;
        }

        // Alice offers 500 USDX for EUR by SEPA; a price with too many decimals is refused next
        // to the price field, and nothing is created.
        alice.go("offer/new", "Create an offer").await;
        let offer_fields = [
            ("I want to", "sell"),
            ("Asset", "USDX"),
            ("Most per trade", "500"),
            ("Least per trade", "10"),
            ("Price", "0.955"),
            ("Fiat currency", "EUR"),
            ("Payment method", "SEPA"),
        ];
        let error = alice
            .submit("Create offer", &offer_fields)
            .await
            .unwrap_err();
        assert!(error.contains("price"), "{error}");
        let form = alice.form("Create offer").await;
        let price_error = form
            .find(Locator::Css("[data-field='price'] .error"))
            .await
            .unwrap();
        let price_error = price_error.text().await.unwrap();
        alice.shot("offer-price-error").await;
        assert!(price_error.contains("decimal"), "{price_error:?} / {error}");
        assert_eq!(
            devnet.json("alice", &["offer", "list"]),
            json!([]),
            "a refused form creates nothing"
        );
        alice.act("Create offer", &[("Price", "0.95")]).await;
        alice.wait_text("main h1", "Offer #1").await;
        alice.shot("offer-created").await;

        // Bob finds it on the market from his phone and takes 100 USDX.
        let usdx_before = devnet.balance("bob", "USDX");
        bob.go("market", "Market").await;
        bob.wait_text("main", "maker sells").await;
        bob.shot("market").await;
        assert!(bob.fits_width().await, "the market fits a phone screen");
        bob.client
            .find(Locator::XPath("//a[normalize-space()='Buy']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        bob.wait_text("main h1", "Offer #1").await;
        bob.act(
            "Take offer",
            &[("Amount", "100"), ("Payment method", "SEPA")],
        )
        .await;
        bob.wait_text("main h1", "Trade #1").await;
        assert_eq!(bob.route().await, "/trade/1");
        bob.wait_text("#trade-state", "awaiting payment").await;
        assert!(bob.fits_width().await, "the trade room fits a phone screen");
        bob.shot("trade-room").await;

        // Encrypted chat both ways; each side sees the other's message without reloading.
        bob.act("Send", &[("Message", "Hello Alice, paying by SEPA now")])
            .await;
        alice.go("trade/1", "Trade #1").await;
        alice
            .wait_text(".chat", "Hello Alice, paying by SEPA now")
            .await;
        alice
            .act("Send", &[("Message", "Thanks Bob, reference EQ-1 please")])
            .await;
        bob.wait_text(".chat", "Thanks Bob, reference EQ-1 please")
            .await;
        bob.shot("chat").await;

        // Bob marks paid; Alice's open page turns to "paid" by itself; she releases.
        bob.act("I have paid", &[("Payment reference", "EQ-1")])
            .await;
        alice.wait_text("#trade-state", "paid").await;
        alice.shot("paid").await;
        alice.act("Release escrow", &[]).await;
        alice.wait_text("#trade-state", "completed").await;
        bob.wait_text("#trade-state", "completed").await;
        let usdx_after = devnet.balance("bob", "USDX");
        assert_eq!(
            parse(&usdx_after) - parse(&usdx_before),
            100_000_000,
            "bob ends with exactly the 100 USDX he bought and his deposit back \
             ({usdx_before} -> {usdx_after})"
        );
        bob.act("Rate", &[("Rate the seller", "5")]).await;
        alice.act("Rate", &[("Rate the buyer", "5")]).await;
        bob.wait_text("main", "Nothing for you to do now").await;
        bob.shot("rated").await;
        bob.go("wallet", "Wallet").await;
        bob.wait_text("[data-balance='USDX']", &usdx_after).await;
        bob.wait_text("#history", "market: take offer").await;

        // A second trade goes to dispute: Alice (seller) disputes after Bob marks paid, Bob
        // shows the chat to the arbitrator, and Dave rules for the buyer from his browser.
        bob.go("offer/1", "Offer #1").await;
        bob.act(
            "Take offer",
            &[("Amount", "50"), ("Payment method", "SEPA")],
        )
        .await;
        bob.wait_text("main h1", "Trade #2").await;
        bob.act("Send", &[("Message", "Sent 47.50 EUR, reference EQ-2")])
            .await;
        bob.act("I have paid", &[]).await;
        alice.go("trade/2", "Trade #2").await;
        alice.wait_text("#trade-state", "paid").await;
        alice
            .act("Open dispute", &[("Reason", "payment-not-received")])
            .await;
        alice.wait_text("#trade-state", "disputed").await;
        bob.wait_text("#trade-state", "disputed").await;
        bob.act("Show the chat to the arbitrator", &[]).await;
        dave.go("disputes", "Disputes assigned to you").await;
        dave.wait_text("main table", "#2").await;
        dave.wait_text("main", "You are registered with a bond of 1000 EQA")
            .await;
        dave.shot("disputes").await;
        dave.go("trade/2", "Trade #2").await;
        dave.wait_text(".chat", "Sent 47.50 EUR, reference EQ-2")
            .await;
        dave.shot("evidence").await;
        dave.act("Rule", &[("To the buyer", "50"), ("At fault", "seller")])
            .await;
        dave.wait_text("#trade-state", "resolved").await;
        alice.wait_text("#trade-state", "resolved").await;
        bob.wait_text("#trade-state", "resolved").await;
        dave.shot("ruled").await;

        // A loan: Bob requests 1000 USDX against 500 EQA, Alice funds it all, Bob repays
        // everything, Alice claims her share.
        bob.go("lending", "Lending").await;
        bob.act(
            "Request loan",
            &[
                ("Amount to borrow", "1000"),
                ("Asset", "USDX"),
                ("Interest", "1200"),
                ("Term", "30"),
                ("Repayment", "bullet"),
                ("Collateral amount", "500"),
                ("Collateral asset", "EQA"),
            ],
        )
        .await;
        bob.wait_text("main h1", "Loan #1").await;
        bob.wait_text("#loan-state", "funding").await;
        bob.shot("loan-requested").await;
        alice.go("loan/1", "Loan #1").await;
        let error = alice
            .submit("Fund", &[("Amount to lend", "10.1234567")])
            .await
            .unwrap_err();
        assert!(error.contains("decimal"), "{error}");
        alice.act("Fund", &[("Amount to lend", "1000")]).await;
        alice.wait_text("#loan-state", "active").await;
        alice.shot("loan-funded").await;
        bob.go("loan/1", "Loan #1").await;
        bob.wait_text("#loan-state", "active").await;
        bob.act("Repay everything", &[]).await;
        bob.wait_text("#loan-state", "repaid").await;
        bob.shot("loan-repaid").await;
        alice.go("loan/1", "Loan #1").await;
        let claim = alice
            .client
            .find(Locator::XPath(
                "//button[starts-with(normalize-space(), 'Claim ')]",
            ))
            .await
            .expect("a claim button for the lender");
        let label = claim.text().await.unwrap();
        let claimable = parse(label.trim_start_matches("Claim ").trim_end_matches(" USDX"));
        assert!(claimable > 1_000_000_000, "principal and interest: {label}");
        let before = parse(&devnet.balance("alice", "USDX"));
        alice.act(&label, &[]).await;
        let after = parse(&devnet.balance("alice", "USDX"));
        assert_eq!(
            after,
            before + claimable,
            "alice receives exactly what the page offered"
        );
        alice.shot("loan-claimed").await;

        // A transfer from the wallet page shows in the wallet's history.
        alice.go("wallet", "Wallet").await;
        alice
            .act(
                "Send",
                &[
                    ("To address", &devnet.address("carol")),
                    ("Amount", "1.25"),
                    ("Asset", "USDX"),
                ],
            )
            .await;
        alice.go("wallet", "Wallet").await;
        alice.wait_text("#history", "sent 1.25 USDX").await;
        alice.shot("wallet-history").await;

        // The history pages through everything the node recorded: 30 more payments to Alice
        // fill more than a page, and "Older transactions" appends the next one.
        pay_alice_many(&devnet, 30).await;
        alice.go("wallet", "Wallet").await;
        let rows = || async {
            alice
                .client
                .find_all(Locator::Css("#history tbody tr"))
                .await
                .map_or(0, |rows| rows.len())
        };
        alice.wait("a full first page of history", || async { rows().await == 25 }).await;
        alice.click_button("Older transactions").await;
        alice.wait("the next page of history", || async { rows().await > 25 }).await;
        alice.shot("wallet-history-older").await;

        // Alice issues an asset, mints and burns it; mistakes are refused in words.
        alice
            .act(
                "Issue asset",
                &[
                    ("Symbol", "GOLD"),
                    ("Name", "Gold gram"),
                    ("Decimals", "3"),
                    ("Maximum supply", "1000"),
                ],
            )
            .await;
        alice.wait_text("[data-supply='GOLD']", "0").await;
        alice
            .act("Mint", &[("Amount", "12.5"), ("Asset", "GOLD")])
            .await;
        alice.wait_text("[data-balance='GOLD']", "12.5").await;
        let over = alice
            .submit("Mint", &[("Amount", "2000"), ("Asset", "GOLD")])
            .await
            .unwrap_err();
        assert!(over.contains("over its maximum 1000 GOLD"), "{over}");
        let precise = alice
            .submit("Burn", &[("Amount", "0.0001"), ("Asset", "GOLD")])
            .await
            .unwrap_err();
        assert!(precise.contains("decimal"), "{precise}");
        alice
            .act("Burn", &[("Amount", "2.5"), ("Asset", "GOLD")])
            .await;
        alice.wait_text("[data-supply='GOLD']", "10").await;
        alice.wait_text("[data-balance='GOLD']", "10").await;
        alice.shot("issued-asset").await;

        // The explorer and network pages show the chain.
        alice.go("status", "Network").await;
        let height: u64 = alice.text_of("#status-height").await.parse().unwrap();
        alice
            .wait(&format!("the height to pass {height}"), || async {
                alice
                    .text_of("#status-height")
                    .await
                    .parse::<u64>()
                    .is_ok_and(|h| h > height)
            })
            .await;
        alice.wait_charts(2).await;
        alice.scroll_to(".figures").await;
        alice.shot("network-charts-after-the-scenario").await;
        alice.go("explorer", "Explorer").await;
        alice.wait_text("main table", "Height").await;
        alice.shot("explorer").await;
        // Blocks with transactions are found among the many empty ones, with their events in
        // words on the transaction's page.
        alice.client.find(Locator::Id("with-transactions")).await.unwrap().click().await.unwrap();
        alice
            .wait("only blocks with transactions", || async {
                let counts = alice
                    .client
                    .execute(
                        "return [...document.querySelectorAll('#blocks [data-txs]')].map(c => Number(c.textContent))",
                        vec![],
                    )
                    .await
                    .unwrap();
                let counts: Vec<u64> = serde_json::from_value(counts).unwrap_or_default();
                !counts.is_empty() && counts.iter().all(|&n| n > 0)
            })
            .await;
        alice.shot("explorer-blocks-with-transactions").await;
        alice
            .client
            .find(Locator::Css("#blocks tbody tr a"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        alice.wait_text("main h1", "Block").await;
        alice
            .client
            .find(Locator::Css("main table a"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        alice.wait_text("main h1", "Transaction").await;
        let page = alice.text_of("main").await;
        assert!(page.contains("Fee paid") && page.contains("EQA"), "{page}");
        assert!(!page.contains("Some(") && !page.contains("{ "), "events in words: {page}");
        alice.shot("explorer-transaction").await;

        // The validator registry: the devnet's four genesis validators, each with its bond, all
        // on the committee; Alice has no validator, so the page tells her how to register one.
        for browser in [&alice, &bob] {
            browser.go("validators", "Validators").await;
            browser.wait_text("main table", "committee").await;
            let standing = browser
                .client
                .execute(
                    "return [...document.querySelector('main table').querySelectorAll('tbody tr')].map(r => r.lastElementChild.textContent)",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!(standing, json!(["committee", "committee", "committee", "committee"]), "{}", browser.name);
            // The committees signing in this epoch and the three after it, each the four of them.
            let epochs = browser
                .client
                .execute(
                    "return [...document.querySelectorAll('#epochs tbody tr')].map(r => [r.firstElementChild.textContent, r.lastElementChild.textContent.split(', ').length])",
                    vec![],
                )
                .await
                .unwrap();
            let epochs = epochs.as_array().expect("rows");
            assert_eq!(epochs.len(), 4, "{epochs:?}");
            assert!(epochs[0][0].as_str().unwrap().ends_with("(current)"), "{epochs:?}");
            assert!(epochs.iter().all(|row| row[1] == 4), "{epochs:?}");
            let page = browser.text_of("main").await;
            // Four bonds of 500 EQA and the devnet full node's deposit of 10 EQA.
            assert!(page.contains("500 EQA") && page.contains("2010 EQA"), "{page}");
            let full_nodes = browser
                .client
                .execute(
                    "return document.querySelectorAll('#full-nodes tbody tr').length",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!(full_nodes, 1, "the devnet's full node is listed: {page}");
            assert!(page.contains("equa node register"), "{page}");
            assert!(page.contains("equa validator register"), "{page}");
            assert!(browser.fits_width().await, "the registry fits the window");
            browser.shot("validators").await;
        }

        for browser in [alice, bob, dave] {
            browser.client.close().await.unwrap();
        }
    });
}

/// A USDX amount (6 decimals) in minor units.
fn parse(amount: &str) -> u128 {
    types::amount::parse(amount.trim(), 6)
        .unwrap_or_else(|e| panic!("{amount:?} is not a USDX amount: {e}"))
}

/// Dave pays Alice `count` small transfers in one submission; returns once validator 0 (Alice's
/// node) has finalized them all.
async fn pay_alice_many(devnet: &Devnet, count: u64) {
    use client::{Keystore, tx::sign_call};
    use types::{AssetId, Call, ChainId, bank::BankCall, bank::Transfer};
    let client = rpc::RpcClient::new(&devnet.rpc(0)).unwrap();
    let dave = Keystore::load(&devnet.wallet("dave"))
        .unwrap()
        .decrypt("devnet")
        .unwrap();
    let alice = types::AccountId::parse(&devnet.address("alice")).unwrap();
    let status = client.status().await.unwrap();
    let chain_id = ChainId::new(&status.chain_id).unwrap();
    let params = client.params().await.unwrap().to_params().unwrap();
    let nonce = client.account(&dave.account()).await.unwrap().nonce;
    let transfers: Vec<_> = (0..count)
        .map(|i| {
            let call = Call::Bank(BankCall::Transfer(Transfer {
                to: alice,
                asset: AssetId(1),
                amount: 1_000 + u128::from(i),
            }));
            sign_call(
                &dave,
                chain_id.clone(),
                nonce + i,
                status.height,
                &params,
                call,
            )
            .unwrap()
        })
        .collect();
    let results = client.send_many(&transfers).await.unwrap();
    assert!(results.iter().all(|r| r.id.is_some()), "{results:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while client.account(&dave.account()).await.unwrap().nonce < nonce + count {
        assert!(
            std::time::Instant::now() < deadline,
            "the payments were not finalized"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
