//! Screens people can trust with money, in real browsers (headless Chromium through WebDriver)
//! against `equa devnet`: Alice on a desktop window, Bob on a phone-sized one, Dave (the devnet's
//! arbitrator) on a desktop.
//!
//! - Every action asks first, in words with its amounts, and Cancel sends nothing: the balance
//!   and the nonce stay as they were, on the desktop and on the phone.
//! - The wallet shows what an offer locks and what a trade holds, linked to them.
//! - Taking an offer shows the fiat total and the payment window the ledger will really give
//!   (SEPA's six days, not the offer's hour), before and in the confirmation; creating an offer
//!   shows the window its method imposes.
//! - A ruling form starts empty; after the ruling, every party's trade page says who received
//!   what (the same amount the buyer's balance gained) with the trade's timeline, and so does
//!   `equa trade show`.
//! - A loan's schedule shows each payment with its interest and principal, what is paid and
//!   what comes next; declaring default is not offered before the ledger allows it (the page
//!   says from when); repaying more than owed says what is owed and that it closes the loan.
//!
//! Screenshots of every step go to `<target>/tmp/web_trust/`.

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::{Browser, Driver};
use common::Devnet;
use fantoccini::Locator;
use std::path::PathBuf;

const RPC_PORT: u16 = 17_545;
const P2P_PORT: u16 = 17_300;
/// Clear of the devnet's RPC, web and metrics ports (its first RPC port plus 0 to 24).
const DRIVER_PORT: u16 = RPC_PORT + 35;
const SHOTS: &str = "web_trust";

/// The devnet serves validator i's interface (wallet i) on its first RPC port plus 10 plus i.
fn web(index: u16) -> String {
    format!("http://127.0.0.1:{}", RPC_PORT + 10 + index)
}

fn nonce(devnet: &Devnet, name: &str) -> u64 {
    let account = devnet.json(name, &["account", "show", &devnet.address(name)]);
    account["nonce"].as_u64().expect("a nonce")
}

/// A USDX amount (6 decimals) in minor units.
fn usdx(amount: &str) -> u128 {
    types::amount::parse(amount.trim(), 6)
        .unwrap_or_else(|e| panic!("{amount:?} is not a USDX amount: {e}"))
}

/// `name`'s USDX balance as validator 0 reports it once it has finalized every block validator
/// `seen_on` has: a page served by `seen_on` showed the change, and validator 0 may not yet have
/// finalized its block.
fn usdx_once_caught_up(devnet: &Devnet, name: &str, seen_on: u16) -> u128 {
    let height = devnet.height(seen_on).expect("a height");
    devnet.wait_for_height(0, height);
    usdx(&devnet.balance(name, "USDX"))
}

/// Waits until validator 0 has finalized two more blocks, so that anything a cancelled page
/// might have sent would have been applied.
fn two_more_blocks(devnet: &Devnet) {
    let height = devnet.height(0).expect("a height");
    devnet.wait_for_height(0, height + 2);
}

#[test]
fn actions_confirm_in_words_and_money_outcomes_and_loans_are_shown() {
    let _ = std::fs::remove_dir_all(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(SHOTS));
    let mut devnet = Devnet::start("web-trust", RPC_PORT, P2P_PORT);
    let driver = Driver::start(DRIVER_PORT);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let alice = Browser::open(&driver, SHOTS, "alice", web(0), 1280, 900).await;
        let bob = Browser::open(&driver, SHOTS, "bob", web(1), 390, 844).await;
        let dave = Browser::open(&driver, SHOTS, "dave", web(3), 1280, 900).await;
        for (browser, name) in [(&alice, "Alice"), (&bob, "Bob"), (&dave, "Dave")] {
            browser.go("wallet", "Wallet").await;
            browser.unlock("devnet").await;
            browser.wait_text("#session", "Lock").await;
            browser.go("wallet", "Wallet").await;
            browser
                .act("Publish profile", &[("Display name", name)])
                .await;
        }

        // A transfer asks first, in words; Cancel sends nothing.
        let carol = devnet.address("carol");
        let (balance, sent) = (devnet.balance("alice", "USDX"), nonce(&devnet, "alice"));
        alice.go("wallet", "Wallet").await;
        let question = alice
            .ask(
                "Send",
                &[("To address", &carol), ("Amount", "5"), ("Asset", "USDX")],
            )
            .await;
        alice.shot("send-confirmation").await;
        assert!(question.contains("Send 5 USDX to "), "{question}");
        assert!(question.contains(&carol), "the full address: {question}");
        alice.answer(false).await;
        alice
            .wait_text("form", "Cancelled: nothing was sent.")
            .await;
        two_more_blocks(&devnet);
        assert_eq!(devnet.balance("alice", "USDX"), balance, "nothing was sent");
        assert_eq!(nonce(&devnet, "alice"), sent, "nothing was signed");

        // Creating an offer shows the window SEPA imposes (six days), not the hour asked.
        alice.go("offer/new", "Create an offer").await;
        let form = alice.form("Create offer").await;
        for (label, value) in [
            ("I want to", "sell"),
            ("Asset", "USDX"),
            ("Most per trade", "500"),
            ("Least per trade", "10"),
            ("Price", "0.95"),
            ("Fiat currency", "EUR"),
            ("Payment method", "SEPA"),
            ("Payment window", "60"),
        ] {
            alice.fill(&form, label, value).await;
        }
        alice
            .wait_text("#window-note", "trades by it get 6 days, not 1 h")
            .await;
        alice.shot("offer-window-note").await;
        let question = alice.ask("Create offer", &[]).await;
        assert!(question.contains("Buyers get 6 days to pay"), "{question}");
        alice.answer(true).await;
        alice.wait_text("main h1", "Offer #1").await;

        // The wallet shows the inventory and deposit locked in the offer, linked to it.
        alice.go("wallet", "Wallet").await;
        alice
            .wait_text("[data-part='USDX:in_offers']", "offer #1")
            .await;
        let locked = alice.text_of("[data-part='USDX:in_offers']").await;
        assert!(locked.starts_with("575 USDX"), "500 and a 15% deposit: {locked}");
        let href = alice
            .client
            .find(Locator::Css("[data-part='USDX:in_offers'] a"))
            .await
            .unwrap()
            .attr("href")
            .await
            .unwrap();
        assert_eq!(href.as_deref(), Some("#/offer/1"));
        alice.scroll_to("#funds").await;
        alice.shot("wallet-locked-in-offer").await;

        // Bob, on his phone, sees the fiat total and the real window before taking; his first
        // confirmation he cancels (no trade, nothing signed), the second he confirms.
        let bob_sent = nonce(&devnet, "bob");
        bob.go("offer/1", "Offer #1").await;
        let form = bob.form("Take offer").await;
        bob.fill(&form, "Amount", "50").await;
        bob.fill(&form, "Payment method", "SEPA").await;
        bob.wait_text("#take-summary", "You pay 47.50 EUR by SEPA")
            .await;
        let summary = bob.text_of("#take-summary").await;
        assert!(
            summary.contains("6 days to pay") && summary.contains("longer than the offer's 1 h"),
            "{summary}"
        );
        bob.shot("take-summary").await;
        let question = bob.ask("Take offer", &[]).await;
        bob.shot("take-confirmation").await;
        assert!(bob.fits_width().await, "the confirmation fits a phone");
        assert!(
            question.contains("Buy 50 USDX from Alice for 47.50 EUR, paid by SEPA"),
            "{question}"
        );
        assert!(question.contains("within 6 days"), "{question}");
        bob.answer(false).await;
        two_more_blocks(&devnet);
        assert_eq!(nonce(&devnet, "bob"), bob_sent, "a cancelled take signs nothing");
        assert_eq!(devnet.json("bob", &["trade", "list"]), serde_json::json!([]));
        // Alice keeps her SEPA details in her wallet, on her own node only.
        let iban = "IBAN DE89 3704 0044 0532 0130 00, Alice Example";
        alice.go("wallet", "Wallet").await;
        alice
            .act(
                "Keep details",
                &[("Payment method", "SEPA"), ("Details buyers pay to", iban)],
            )
            .await;
        alice.wait_text("#payment-details", iban).await;
        bob.act("Take offer", &[]).await;
        bob.wait_text("main h1", "Trade #1").await;
        let after_take = usdx_once_caught_up(&devnet, "bob", 1);
        bob.wait_text("#trade-details-missing", "has not sent its SEPA")
            .await;

        // She sends them to Bob, the buyer of this trade, in its encrypted chat: her kept
        // details are filled in, and the confirmation shows exactly what goes.
        alice.go("trade/1", "Trade #1").await;
        let question = alice.ask("Send payment details", &[]).await;
        assert!(question.contains(iban) && question.contains("Bob"), "{question}");
        alice.answer(true).await;
        bob.wait_text("#trade-details", iban).await;
        bob.scroll_to("#details-box").await;
        bob.shot("payment-details").await;
        // Never in the clear on the public record: the offer and the chat as the ledger keeps it.
        let offer = devnet.json("carol", &["offer", "show", "1"]).to_string();
        assert!(!offer.contains("DE89"), "{offer}");
        let raw = devnet.json("carol", &["trade", "show", "1"]).to_string();
        assert!(!raw.contains("DE89"), "{raw}");
        let read = devnet.json("bob", &["trade", "chat", "read", "1"]);
        assert_eq!(read[0]["payment_details"]["details"], iban, "{read}");
        // His phone's wallet shows his deposit held in the trade, linked to it.
        bob.go("wallet", "Wallet").await;
        bob.wait_text("[data-part='USDX:in_trades']", "7.5 USDX · trade #1")
            .await;
        assert!(bob.fits_width().await, "the wallet fits a phone");
        bob.scroll_to("#funds").await;
        bob.shot("wallet-in-trade").await;
        bob.go("trade/1", "Trade #1").await;
        bob.act("I have paid", &[]).await;

        // Alice is asked to confirm the release in words, cancels, and disputes instead.
        alice.go("trade/1", "Trade #1").await;
        alice.wait_text("#trade-state", "paid").await;
        let question = alice.ask("Release escrow", &[]).await;
        alice.shot("release-confirmation").await;
        assert!(
            question.contains("Release 50 USDX to Bob: I have received 47.50 EUR."),
            "{question}"
        );
        // The node's preview: the fee before signing, and what moves, to whom by name.
        assert!(question.contains("Network fee: 0."), "{question}");
        assert!(question.contains("You: +7.5 USDX"), "{question}");
        assert!(question.contains("Bob: +57.5 USDX"), "{question}");
        assert!(!question.contains("USDX USDX"), "{question}");
        alice.answer(false).await;
        // A dispute needs a reason, offered only from her side's reasons; its note is limited
        // in the form, before anything is signed.
        let refused = alice.submit("Open dispute", &[]).await.unwrap_err();
        assert!(refused.contains("The reason is required"), "{refused}");
        let reasons = alice.text_of("[data-field='reason'] select").await;
        assert!(
            reasons.contains("The payment has not arrived") && !reasons.contains("I paid"),
            "a seller's reasons: {reasons}"
        );
        let long = "x".repeat(281);
        let refused = alice
            .submit(
                "Open dispute",
                &[("Reason", "wrong-amount"), ("Note", long.as_str())],
            )
            .await
            .unwrap_err();
        assert!(refused.contains("281 bytes long; at most 280"), "{refused}");
        let question = alice
            .ask(
                "Open dispute",
                &[("Reason", "wrong-amount"), ("Note", "47.00 EUR arrived, not 47.50")],
            )
            .await;
        assert!(
            question.contains("The payment arrived with a different amount")
                && question.contains("are public"),
            "{question}"
        );
        alice.answer(true).await;
        alice.wait_text("#trade-state", "disputed").await;
        alice
            .wait_text(
                "#dispute-reason",
                "the payment arrived with a different amount · “47.00 EUR arrived, not 47.50”",
            )
            .await;

        // Dave's page updates by itself when Bob shows him the chat.
        bob.go("trade/1", "Trade #1").await;
        bob.wait_text("#trade-state", "disputed").await;
        bob.act("Send", &[("Message", "Sent 47.50 EUR from my own account")])
            .await;
        dave.go("trade/1", "Trade #1").await;
        dave.wait_text("main", "Chat shown to the arbitrator by").await;
        let before = dave.text_of(".chat").await;
        assert!(!before.contains("Sent 47.50 EUR"), "not revealed yet: {before}");
        bob.act("Show the chat to the arbitrator", &[]).await;
        dave.wait_text(".chat", "Sent 47.50 EUR from my own account")
            .await;
        dave.shot("arbitrator-chat-revealed").await;

        // Dave's ruling form starts empty: he decides every part of it.
        let form = dave.form("Rule").await;
        let to_buyer = form
            .find(Locator::Css("[data-field='to_buyer'] input"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap();
        let at_fault = form
            .find(Locator::Css("[data-field='at_fault'] select"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap();
        assert_eq!(to_buyer.as_deref(), Some(""), "nothing to the buyer yet");
        assert_eq!(at_fault.as_deref(), Some(""), "nobody at fault yet");
        dave.scroll_to("[data-field='to_buyer']").await;
        dave.shot("ruling-form-empty").await;
        let refused = dave.submit("Rule", &[]).await.unwrap_err();
        assert!(refused.contains("is required"), "{refused}");
        let question = dave
            .ask("Rule", &[("To the buyer", "30"), ("At fault", "seller")])
            .await;
        assert!(
            question.contains("30 USDX to the buyer Bob and 20 USDX to the seller Alice"),
            "{question}"
        );
        dave.answer(true).await;
        dave.wait_text("#trade-state", "resolved").await;

        // Every party sees who received what, as the ledger paid it.
        let received = usdx_once_caught_up(&devnet, "bob", 3) - after_take;
        for browser in [&dave, &alice, &bob] {
            browser.go("trade/1", "Trade #1").await;
            browser.wait_text("#trade-outcome", "Buyer (Bob)").await;
            let shown = browser.text_of("[data-received='buyer']").await;
            assert_eq!(
                usdx(shown.trim_end_matches(" USDX")),
                received,
                "{}: the buyer's share is what Bob's balance gained ({shown})",
                browser.name
            );
            let outcome = browser.text_of("#trade-outcome").await;
            for words in [
                "The arbitrator ruled on the dispute",
                "Seller (Alice)",
                "the buyer marked the fiat paid",
                "the seller opened a dispute: the payment arrived with a different amount",
                "The seller opened the dispute because the payment arrived with a different amount",
                "Found at fault",
                "the dispute was settled",
            ] {
                assert!(outcome.contains(words), "{}: {words:?} in {outcome}", browser.name);
            }
            assert!(!outcome.contains("null") && !outcome.contains("undefined"), "{outcome}");
            browser.scroll_to("#trade-outcome").await;
            browser.shot("dispute-outcome").await;
        }
        let shown = devnet.ok("bob", &["trade", "show", "1"]);
        assert!(
            shown.contains("outcome:") && shown.contains("The buyer received"),
            "{shown}"
        );

        // A loan in three instalments: its schedule payment by payment, no default before the
        // ledger allows it, and an overpayment that says what it pays and closes.
        bob.go("lending", "Lending").await;
        bob.act(
            "Request loan",
            &[
                ("Amount to borrow", "1000"),
                ("Asset", "USDX"),
                ("Interest", "1200"),
                ("Term", "90"),
                ("Repayment", "3"),
                ("Collateral amount", "500"),
                ("Collateral asset", "EQA"),
            ],
        )
        .await;
        bob.wait_text("main h1", "Loan #1").await;
        alice.go("loan/1", "Loan #1").await;
        alice.act("Fund", &[("Amount to lend", "1000")]).await;
        alice.wait_text("#loan-state", "active").await;
        alice
            .wait_text("#loan-notes", "Nothing to claim yet")
            .await;
        bob.go("loan/1", "Loan #1").await;
        bob.wait_text("#loan-state", "active").await;
        let statuses = bob
            .client
            .execute(
                "return [...document.querySelectorAll('[data-instalment]')].map(e => e.dataset.status)",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(statuses, serde_json::json!(["next", "later", "later"]));
        let schedule = bob.text_of("#loan-schedule").await;
        for words in ["1 of 3", "3 of 3", "USDX", "next"] {
            assert!(schedule.contains(words), "{words:?} in {schedule}");
        }
        let notes = bob.text_of("#loan-notes").await;
        assert!(
            notes.contains("anyone may declare this loan in default from 20"),
            "a date, not milliseconds: {notes}"
        );
        assert!(
            bob.client
                .find(Locator::XPath("//button[normalize-space()='Declare default']"))
                .await
                .is_err(),
            "default is not offered before the ledger allows it"
        );
        bob.scroll_to("#loan-schedule").await;
        bob.shot("loan-schedule").await;
        let shown = devnet.ok("bob", &["loan", "show", "1"]);
        for words in [
            "payment   1:",
            "interest,",
            "principal) by 20",
            ": next",
            "closes with:",
            "anyone may declare it in default from 20",
        ] {
            assert!(shown.contains(words), "`equa loan show` says {words:?}: {shown}");
        }
        let question = bob.ask("Repay", &[("Amount", "5000")]).await;
        bob.shot("overpay-confirmation").await;
        assert!(
            question.contains("You owe 1000")
                && question.contains("repaying 5000 USDX pays what is owed")
                && question.contains("about 1000")
                && question.contains("and closes the loan"),
            "{question}"
        );
        bob.answer(false).await;
        // Repaying exactly the figure shown closes the loan too, though interest runs until the
        // block that includes it: a loan left open by a few minor units could be defaulted.
        let shown = bob.text_of("#payoff").await;
        let amount = shown.trim_end_matches(" USDX").to_string();
        let question = bob.ask("Repay", &[("Amount", &amount)]).await;
        assert!(question.contains("and closes the loan"), "{question}");
        let before = usdx_once_caught_up(&devnet, "bob", 1);
        bob.answer(true).await;
        bob.wait_text("#loan-state", "repaid").await;
        let paid = before - usdx_once_caught_up(&devnet, "bob", 1);
        assert!(
            paid > usdx("1000") && paid < usdx("1001"),
            "only what was owed was taken: {paid}"
        );
        bob.wait_text("#loan-outcome", "Repaid in full").await;
        let statuses = bob
            .client
            .execute(
                "return [...document.querySelectorAll('[data-instalment]')].map(e => e.dataset.status)",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(statuses, serde_json::json!(["paid", "paid", "paid"]));
        bob.scroll_to("#loan-schedule").await;
        bob.shot("loan-repaid-schedule").await;
        let page = bob.page_text().await;
        assert!(!page.contains("null") && !page.contains("undefined"), "{page}");
        assert!(bob.fits_width().await, "the loan page fits a phone");

        // A wallet that has not published its chat key is offered to publish it on unlock, and
        // nothing is sent until its owner says so. Validator 2 serves a brand-new wallet now.
        devnet.stop();
        let file = devnet.wallet("carol");
        std::fs::rename(&file, file.with_extension("before.json")).unwrap();
        let created = std::process::Command::new(env!("CARGO_BIN_EXE_equa"))
            .args(["--wallet", file.to_str().unwrap(), "keys", "new"])
            .env("EQUA_PASSWORD", "devnet")
            .output()
            .unwrap();
        assert!(created.status.success(), "{created:?}");
        devnet.resume();
        let fresh = devnet.address("carol");
        let height = devnet.wait_for_height(0, 1);
        devnet.wait_for_height(2, height);
        devnet.ok("alice", &["send", &fresh, "10", "EQA"]);
        let erin = Browser::open(&driver, SHOTS, "erin", web(2), 390, 844).await;
        erin.go("market", "Market").await;
        erin.unlock("devnet").await;
        erin.wait_text("#chat-key-offer", "has not published its chat key")
            .await;
        erin.shot("chat-key-offer").await;
        let sent = nonce(&devnet, "carol");
        let question = erin
            .ask("Publish chat key", &[("Display name", "Erin")])
            .await;
        assert!(question.contains("Publish the display name \"Erin\""), "{question}");
        erin.answer(false).await;
        two_more_blocks(&devnet);
        assert_eq!(nonce(&devnet, "carol"), sent, "declined: nothing signed");
        erin.act("Publish chat key", &[("Display name", "Erin")])
            .await;
        let profile = devnet.json("alice", &["reputation", "show", &fresh]);
        assert_eq!(profile["name"], "Erin", "{profile}");
        assert!(profile["chat_key"].is_string(), "{profile}");
        erin.go("wallet", "Wallet").await;
        assert!(
            erin.client.find(Locator::Id("chat-key-offer")).await.is_err(),
            "no offer once published"
        );

        for browser in [alice, bob, dave, erin] {
            browser.client.close().await.unwrap();
        }
    });
}
