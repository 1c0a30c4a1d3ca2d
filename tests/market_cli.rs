//! The market and lending from the command line against a real devnet (four validator
//! processes): a trade with encrypted chat from offer to rating, a dispute ruled by the
//! arbitrator after a party revealed the conversation, a loan funded by two lenders and repaid,
//! and bad input refused with a clear error that changes nothing.

mod common;

use common::{Devnet, ledger_refuses, receipt_ok};

const RPC_PORT: u16 = 21_545;
const P2P_PORT: u16 = 21_300;

#[test]
fn trade_dispute_and_loan_from_the_command_line() {
    let devnet = Devnet::start("market-cli", RPC_PORT, P2P_PORT);
    for name in ["alice", "bob", "dave"] {
        receipt_ok(&devnet, name, &["profile", "set", "--name", name]);
    }

    // The book is empty; the node keeps it until a block changes the market.
    let empty = devnet.ok("bob", &["offer", "list"]);
    assert!(empty.contains("no open offers"), "{empty}");

    // Alice offers 500 USDX for euros.
    let create = [
        "offer",
        "create",
        "sell",
        "500",
        "USDX",
        "--min",
        "10",
        "--price",
        "0.95",
        "--fiat",
        "EUR",
        "--method",
        "SEPA_INSTANT",
        "--method",
        "REVOLUT",
        "--terms",
        "no third parties",
    ];
    receipt_ok(&devnet, "alice", &create);
    let offers = devnet.json(
        "bob",
        &["offer", "list", "--side", "sell", "--asset", "USDX"],
    );
    let offer = &offers[0];
    assert_eq!(offers.as_array().unwrap().len(), 1);
    assert_eq!(offer["maker_name"], "alice");
    assert_eq!(offer["price"]["amount"], "0.95");
    assert_eq!(offer["max_amount"]["amount"], "500");
    let offer_id = offer["id"].as_u64().unwrap().to_string();
    let listed = devnet.ok("bob", &["offer", "list", "--method", "REVOLUT"]);
    assert!(
        listed.contains("SELL") && listed.contains("alice"),
        "{listed}"
    );
    let none = devnet.ok("bob", &["offer", "list", "--max-price", "0.90"]);
    assert!(none.contains("no open offers"), "{none}");

    // Bad offers are refused before anything is sent, or by the ledger with its named error.
    let alice_usdx = devnet.balance("alice", "USDX");
    for (args, message) in [
        (
            vec![
                "offer", "create", "sell", "5", "USDX", "--price", "1", "--fiat", "EUR",
                "--method", "NOPE",
            ],
            "unknown payment method",
        ),
        (
            vec![
                "offer", "create", "sell", "5", "USDX", "--price", "1", "--fiat", "euro",
                "--method", "SEPA",
            ],
            "currency code",
        ),
        (
            vec![
                "offer", "create", "sell", "5", "USDX", "--price", "0.001", "--fiat", "EUR",
                "--method", "SEPA",
            ],
            "decimal places",
        ),
        (
            vec![
                "offer", "create", "hold", "5", "USDX", "--price", "1", "--fiat", "EUR",
                "--method", "SEPA",
            ],
            "side must be",
        ),
        (vec!["trade", "rate", "1", "9"], "1 to 5 stars"),
        (vec!["offer", "show", "77"], "no open offer #77"),
    ] {
        let stderr = devnet.fails("alice", &args);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    ledger_refuses(
        &devnet,
        "alice",
        &[
            "offer",
            "create",
            "sell",
            "5",
            "USDX",
            "--price",
            "1",
            "--fiat",
            "EUR",
            "--method",
            "SEPA",
            "--deposit-bps",
            "1",
        ],
        "DepositOutOfRange",
    );
    assert_eq!(
        devnet.balance("alice", "USDX"),
        alice_usdx,
        "nothing locked"
    );

    // Bob takes 100 USDX, locking his 15% deposit; only the seller may release and only the
    // buyer may mark paid.
    let bob_before_take: f64 = devnet.balance("bob", "USDX").parse().unwrap();
    receipt_ok(
        &devnet,
        "bob",
        &[
            "trade",
            "take",
            &offer_id,
            "100",
            "USDX",
            "--method",
            "SEPA_INSTANT",
        ],
    );
    let bob_after_take: f64 = devnet.balance("bob", "USDX").parse().unwrap();
    assert_eq!(
        bob_before_take - bob_after_take,
        15.0,
        "the buyer's deposit is locked"
    );
    // The book shows what is left of the offer, and the maker's first trade.
    let offers = devnet.json("bob", &["offer", "list", "--side", "sell"]);
    assert_eq!(offers[0]["max_amount"]["amount"], "400", "{offers}");
    let trades = devnet.json("bob", &["trade", "list"]);
    let trade_id = trades[0]["id"].as_u64().unwrap().to_string();
    assert_eq!(trades[0]["state"], "awaiting_payment");
    assert_eq!(trades[0]["fiat_amount"]["amount"], "95.00");
    ledger_refuses(
        &devnet,
        "bob",
        &["trade", "release", &trade_id],
        "WrongParty",
    );
    ledger_refuses(
        &devnet,
        "alice",
        &["trade", "paid", &trade_id],
        "WrongParty",
    );

    // Encrypted chat both ways; the ledger holds ciphertext only.
    receipt_ok(
        &devnet,
        "bob",
        &["trade", "chat", "send", &trade_id, "Your IBAN, please?"],
    );
    receipt_ok(
        &devnet,
        "alice",
        &["trade", "chat", "send", &trade_id, "DE89 3704 0044"],
    );
    let read = devnet.ok("alice", &["trade", "chat", "read", &trade_id]);
    assert!(read.contains("buyer: Your IBAN, please?"), "{read}");
    assert!(read.contains("seller: DE89 3704 0044"), "{read}");
    let read = devnet.json("bob", &["trade", "chat", "read", &trade_id]);
    assert_eq!(read[1]["text"], "DE89 3704 0044");
    let chat = devnet.json("bob", &["trade", "show", &trade_id]);
    assert_eq!(chat["messages"], 2);

    // Payment details: kept by the seller beside her wallet, sent to this trade's buyer only,
    // in its encrypted chat.
    let stderr = devnet.fails("alice", &["trade", "send-details", &trade_id]);
    assert!(
        stderr.contains("no SEPA Instant Credit Transfer details to send")
            && stderr.contains("equa payment-details set SEPA_INSTANT"),
        "{stderr}"
    );
    let iban = "IBAN DE89 3704 0044 0532 0130 00";
    devnet.ok("alice", &["payment-details", "set", "sepa_instant", iban]);
    let kept = devnet.json("alice", &["payment-details", "list"]);
    assert_eq!(kept[0]["details"], iban, "{kept}");
    let stderr = devnet.fails("bob", &["trade", "send-details", &trade_id, "--text", "x"]);
    assert!(stderr.contains("only the seller"), "{stderr}");
    receipt_ok(&devnet, "alice", &["trade", "send-details", &trade_id]);
    let read = devnet.ok("bob", &["trade", "chat", "read", &trade_id]);
    assert!(
        read.contains(&format!(
            "seller's payment details for SEPA Instant Credit Transfer:\n    {iban}"
        )),
        "{read}"
    );
    let read = devnet.json("bob", &["trade", "chat", "read", &trade_id]);
    assert_eq!(read[2]["payment_details"]["details"], iban, "{read}");
    let raw = devnet
        .json("carol", &["trade", "show", &trade_id])
        .to_string();
    assert!(
        !raw.contains("DE89 3704 0044 0532"),
        "never in the clear: {raw}"
    );
    let stderr = devnet.fails("carol", &["trade", "chat", "read", &trade_id]);
    assert!(stderr.contains("not a party"), "{stderr}");

    // Paid, released, rated.
    let bob_usdx: f64 = devnet.balance("bob", "USDX").parse().unwrap();
    receipt_ok(
        &devnet,
        "bob",
        &["trade", "paid", &trade_id, "--reference", "EQ-1"],
    );
    // Once the buyer has paid, details can no longer be changed under it.
    let stderr = devnet.fails(
        "alice",
        &["trade", "send-details", &trade_id, "--text", "- IBAN GB33"],
    );
    assert!(stderr.contains("only before the buyer pays"), "{stderr}");
    receipt_ok(&devnet, "alice", &["trade", "release", &trade_id]);
    let after: f64 = devnet.balance("bob", "USDX").parse().unwrap();
    assert_eq!(
        after - bob_usdx,
        115.0,
        "the buyer receives the amount and his 15% deposit back"
    );
    receipt_ok(&devnet, "bob", &["trade", "rate", &trade_id, "5"]);
    receipt_ok(&devnet, "alice", &["trade", "rate", &trade_id, "4"]);
    ledger_refuses(
        &devnet,
        "bob",
        &["trade", "rate", &trade_id, "1"],
        "AlreadyRated",
    );
    let alice = devnet.address("alice");
    let reputation = devnet.json("bob", &["reputation", "show", &alice]);
    assert_eq!(reputation["completed_as_seller"], 1);
    assert_eq!(reputation["standing"]["rating"], "5.00");
    assert_eq!(reputation["name"], "alice");

    // A dispute: Bob pays, Alice disputes, Bob reveals the chat, Dave reads it and rules.
    receipt_ok(
        &devnet,
        "bob",
        &[
            "trade", "take", &offer_id, "50", "USDX", "--method", "REVOLUT",
        ],
    );
    let disputed = devnet.json("bob", &["trade", "list"])[0]["id"]
        .as_u64()
        .unwrap()
        .to_string();
    receipt_ok(
        &devnet,
        "bob",
        &["trade", "chat", "send", &disputed, "Paid by Revolut"],
    );
    receipt_ok(&devnet, "bob", &["trade", "paid", &disputed]);
    let stderr = devnet.fails(
        "alice",
        &[
            "trade",
            "dispute",
            &disputed,
            "--reason",
            "paid-not-released",
        ],
    );
    assert!(stderr.contains("cannot open a dispute because"), "{stderr}");
    let stderr = devnet.fails(
        "alice",
        &["trade", "dispute", &disputed, "--reason", "nonsense"],
    );
    assert!(
        stderr.contains("is not a dispute reason: use one of paid-not-released"),
        "{stderr}"
    );
    let receipt = receipt_ok(
        &devnet,
        "alice",
        &[
            "trade",
            "dispute",
            &disputed,
            "--reason",
            "payment-not-received",
            "--note",
            "nothing on my statement",
        ],
    );
    // The arbitrator is picked with the seed of a round after the dispute's: by the block two
    // after the dispute's at the latest (its round is at least two past the dispute's).
    devnet.wait_for_height(0, receipt["height"].as_u64().unwrap() + 2);
    let trade = devnet.json("dave", &["trade", "show", &disputed]);
    assert_eq!(trade["state"], "disputed");
    assert_eq!(trade["dispute_reason"], "payment-not-received");
    assert_eq!(trade["dispute_note"], "nothing on my statement");
    assert_eq!(trade["arbitrator"], devnet.address("dave"));
    let stderr = devnet.fails("dave", &["trade", "chat", "read", &disputed]);
    assert!(stderr.contains("revealed"), "{stderr}");
    receipt_ok(&devnet, "bob", &["trade", "reveal-key", &disputed]);
    let read = devnet.ok("dave", &["trade", "chat", "read", &disputed]);
    assert!(read.contains("buyer: Paid by Revolut"), "{read}");
    ledger_refuses(
        &devnet,
        "alice",
        &[
            "arbitrator",
            "rule",
            &disputed,
            "--to-buyer",
            "50",
            "--at-fault",
            "seller",
        ],
        "NotArbitrator",
    );
    let bob_usdx: f64 = devnet.balance("bob", "USDX").parse().unwrap();
    receipt_ok(
        &devnet,
        "dave",
        &[
            "arbitrator",
            "rule",
            &disputed,
            "--to-buyer",
            "50",
            "--at-fault",
            "seller",
        ],
    );
    let trade = devnet.json("dave", &["trade", "show", &disputed]);
    assert_eq!(trade["state"], "resolved");
    let after: f64 = devnet.balance("bob", "USDX").parse().unwrap();
    assert!(
        after - bob_usdx >= 50.0,
        "the buyer gets the amount: {bob_usdx} -> {after}"
    );
    let arbitrators = devnet.json("dave", &["arbitrator", "list"]);
    assert_eq!(arbitrators[0]["rulings"], 1);

    // A loan: Bob asks for 1000 USDX against 500 EQA, Alice and Carol fund it, Bob repays.
    receipt_ok(
        &devnet,
        "bob",
        &[
            "loan",
            "request",
            "1000",
            "USDX",
            "--apr-bps",
            "1200",
            "--term-days",
            "90",
            "--schedule",
            "3",
            "--collateral",
            "500",
            "EQA",
        ],
    );
    let requests = devnet.json("carol", &["loan", "list", "--state", "funding"]);
    let loan = requests[0]["id"].as_u64().unwrap().to_string();
    let bob_before: f64 = devnet.balance("bob", "USDX").parse().unwrap();
    receipt_ok(&devnet, "alice", &["loan", "fund", &loan, "600"]);
    receipt_ok(&devnet, "carol", &["loan", "fund", &loan, "400"]);
    let view = devnet.json("bob", &["loan", "show", &loan]);
    assert_eq!(view["state"], "active");
    assert_eq!(view["lender_count"], 2);
    assert_eq!(view["dues"].as_array().unwrap().len(), 3);
    let bob_after: f64 = devnet.balance("bob", "USDX").parse().unwrap();
    assert_eq!(
        bob_after - bob_before,
        1000.0,
        "the principal reached the borrower"
    );
    ledger_refuses(&devnet, "dave", &["loan", "fund", &loan, "5"], "WrongState");
    ledger_refuses(
        &devnet,
        "carol",
        &["loan", "claim", &loan],
        "NothingToClaim",
    );

    // Three repayments: two instalments' worth early (interest first, then principal), then
    // the rest.
    for paid in 1..=2 {
        receipt_ok(&devnet, "bob", &["loan", "repay", &loan, "340"]);
        let view = devnet.json("bob", &["loan", "show", &loan]);
        assert_eq!(view["state"], "active");
        let principal_paid: f64 = view["principal_paid"]["amount"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            principal_paid > 330.0 * f64::from(paid) && principal_paid < 340.0 * f64::from(paid),
            "after {paid} repayments of 340: {principal_paid} principal paid"
        );
    }
    receipt_ok(&devnet, "bob", &["loan", "repay", &loan, "--all"]);
    let view = devnet.json("bob", &["loan", "show", &loan]);
    assert_eq!(view["state"], "repaid");
    let paid_in: u128 = view["paid_in"]["minor_units"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        paid_in > 1_000_000_000,
        "principal plus interest: {paid_in}"
    );
    let claimable: Vec<u128> = view["lenders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["claimable"]["minor_units"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(
        claimable.iter().sum::<u128>(),
        paid_in,
        "every unit repaid is claimable"
    );
    receipt_ok(&devnet, "alice", &["loan", "claim", &loan]);
    receipt_ok(&devnet, "carol", &["loan", "claim", &loan]);
    ledger_refuses(
        &devnet,
        "carol",
        &["loan", "claim", &loan],
        "NothingToClaim",
    );
    let view = devnet.json("bob", &["loan", "show", &loan]);
    for position in view["lenders"].as_array().unwrap() {
        assert_eq!(position["claimable"]["minor_units"], "0");
    }
    let credit = devnet.json("bob", &["reputation", "show"]);
    assert_eq!(credit["credit"]["loans"], 1);
    assert_eq!(credit["credit"]["repaid_on_time"], 1);
}
