//! The command line in words, as a new user meets it (issue 17), run as real processes: with
//! `--json` every command prints one JSON document on standard output, failures included;
//! input is read the way people write it (`--fiat eur`, `--apr-bps 12.5%`, a negative amount
//! called negative, the offer's only payment method taken by default); bad input is refused
//! before anything is signed, in words that say what is expected; and what the command line
//! prints has no milliseconds, basis points, `min..=max` ranges, snake_case states or "1 trades".
//!
//! One devnet serves every check that needs a node.

mod common;

use common::Devnet;
use serde_json::Value;
use std::process::{Command, Output};

const RPC_PORT: u16 = 27_545;
const P2P_PORT: u16 = 27_300;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `equa` with no wallet, key directory `home` and the node at `rpc`.
fn equa_at(home: &std::path::Path, rpc: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_equa"))
        .args(["--rpc", rpc])
        .args(args)
        .env("EQUA_HOME", home)
        .env("EQUA_PASSWORD", "devnet")
        .env_remove("EQUA_RPC")
        .env_remove("EQUA_WALLET")
        .env_remove("EQUA_CHAIN_KEY")
        .output()
        .expect("the equa binary runs")
}

/// A failure printed as `{"error": {"code", "message"}}` on standard output, nothing on
/// standard error, and a non-zero exit status; returns the error object.
fn json_error(output: &Output) -> Value {
    assert!(
        !output.status.success(),
        "should have failed: {}",
        text(&output.stdout)
    );
    assert!(
        output.stderr.is_empty(),
        "with --json nothing goes to standard error: {}",
        text(&output.stderr)
    );
    let document: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&output.stdout)));
    let error = document["error"].clone();
    assert!(
        error["code"].is_string() && error["message"].is_string(),
        "{document}"
    );
    error
}

/// Nothing that reads as the program's insides rather than words.
fn assert_plain_words(output: &str) {
    for internal in [
        " ms",
        " bps",
        "..=",
        "minor units",
        "awaiting_payment",
        "instalments:",
        "1 trades",
        "1 loans",
        "null",
        "Some(",
        "None",
        "{ ",
    ] {
        assert!(
            !output.contains(internal),
            "{internal:?} in the output:\n{output}"
        );
    }
}

#[test]
fn failures_without_a_node_are_json_with_json_and_words_without() {
    let home = std::env::temp_dir().join(format!("equa-cli-words-home-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    // Nothing listens on port 9 of loopback.
    let nowhere = "http://127.0.0.1:9";

    // A missing default wallet says where it looked and how to make one; `account show` with
    // no address means the wallet's own account.
    let output = equa_at(&home, nowhere, &["account", "show"]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    let expected_path = home.join("keys").join("default.json");
    assert!(
        stderr.contains(&expected_path.display().to_string()),
        "{stderr}"
    );
    assert!(
        stderr.contains("equa keys new") && stderr.contains("equa keys import"),
        "{stderr}"
    );
    let error = json_error(&equa_at(&home, nowhere, &["--json", "account", "history"]));
    assert_eq!(error["code"], "NoWallet", "{error}");

    // A node that does not answer, in words and as JSON.
    let error = json_error(&equa_at(&home, nowhere, &["trade", "show", "99", "--json"]));
    assert_eq!(error["code"], "Unreachable", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("Is the node running?"), "{message}");
    assert!(!message.contains("(Connect)"), "{message}");

    // The command line's own errors: JSON with --json, words about the argument either way.
    let output = equa_at(&home, nowhere, &["--json", "trade", "show", "seven"]);
    assert_eq!(output.status.code(), Some(2));
    let error = json_error(&output);
    assert_eq!(error["code"], "Usage");
    assert_eq!(error["message"], "<ID>: 'seven' is not a whole number");
    let output = equa_at(&home, nowhere, &["trade", "show", "-3"]);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("-3 is negative"), "{stderr}");
    assert!(!stderr.contains("unexpected argument"), "{stderr}");
    let error = json_error(&equa_at(&home, nowhere, &["demo", "--json"]));
    assert_eq!(error["code"], "JsonNotSupported");

    // A rate as a percentage or in basis points; anything else is explained.
    let schedule = |rate: &str| {
        let output = equa_at(
            &home,
            nowhere,
            &[
                "--json",
                "loan",
                "schedule",
                "--principal",
                "1200",
                "--decimals",
                "2",
                "--apr-bps",
                rate,
                "--term-days",
                "360",
            ],
        );
        assert!(output.status.success(), "{rate}: {}", text(&output.stdout));
        let schedule: Value = serde_json::from_slice(&output.stdout).unwrap();
        schedule["apr_bps"].clone()
    };
    assert_eq!(schedule("12%"), 1_200);
    assert_eq!(schedule("12.5%"), 1_250);
    assert_eq!(schedule("1250"), 1_250);
    let output = equa_at(
        &home,
        nowhere,
        &[
            "loan",
            "schedule",
            "--principal",
            "1",
            "--decimals",
            "2",
            "--apr-bps",
            "12x",
            "--term-days",
            "30",
        ],
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("--apr-bps: '12x' is neither a percentage nor basis points")
            && stderr.contains("such as 12% or 12.5%"),
        "{stderr}"
    );
    assert!(!stderr.contains("invalid digit"), "{stderr}");
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn the_command_line_speaks_in_words_against_a_devnet() {
    let devnet = Devnet::start("cli-words", RPC_PORT, P2P_PORT);
    let nonce = |name: &str| devnet.json(name, &["account", "show"])["nonce"].clone();
    for name in ["alice", "bob"] {
        devnet.json(name, &["profile", "set", "--name", name]);
    }

    // `trade show` of a trade that does not exist, with --json: JSON on standard output.
    let error = json_error(&devnet.run("bob", &["trade", "show", "99", "--json"]));
    assert_eq!(error["code"], "NotFound");
    assert!(
        error["message"].as_str().unwrap().contains("no trade #99"),
        "{error}"
    );
    // So are a missing receipt (it was `null`) and a failure of the wallet.
    let missing = format!("0x{}", "ab".repeat(32));
    let error = json_error(&devnet.run("bob", &["--json", "tx", "show", &missing]));
    assert_eq!(error["code"], "NotFound");
    let output = Command::new(env!("CARGO_BIN_EXE_equa"))
        .args(["--rpc", &devnet.rpc(0), "--json"])
        .args(["--wallet", devnet.wallet("bob").to_str().unwrap()])
        .args(["send", &devnet.address("alice"), "1", "USDX"])
        .env("EQUA_PASSWORD", "wrong")
        .output()
        .unwrap();
    assert_eq!(json_error(&output)["code"], "WrongPassword");

    // `account show` with a wallet and no address shows the wallet's account.
    let account = devnet.json("alice", &["account", "show"]);
    assert_eq!(account["address"], devnet.address("alice"));

    // Currency codes in any case; an unknown one is named, with where to see the known ones.
    let alice_nonce = nonce("alice");
    let offer = |fiat: &str, methods: &[&str], extra: &[&str]| {
        let mut args = vec![
            "offer", "create", "sell", "100", "USDX", "--min", "10", "--price", "0.95", "--fiat",
            fiat,
        ];
        for method in methods {
            args.extend(["--method", method]);
        }
        args.extend(extra);
        devnet.run("alice", &args)
    };
    let stderr = text(&offer("XYZ", &["SEPA_INSTANT"], &[]).stderr);
    assert!(
        stderr.contains("unknown currency XYZ") && stderr.contains("equa market currencies"),
        "{stderr}"
    );
    let stderr = text(&offer("usd", &["SEPA_INSTANT"], &[]).stderr);
    assert!(
        stderr.contains("SEPA_INSTANT pays in EUR, not in USD"),
        "{stderr}"
    );
    // A payment window out of bounds, in words, before signing.
    let stderr = text(&offer("EUR", &["SEPA_INSTANT"], &["--window-mins", "0"]).stderr);
    assert!(stderr.contains("between 15 minutes and 8 days"), "{stderr}");
    assert_eq!(nonce("alice"), alice_nonce, "nothing was signed");
    let currencies = devnet.ok("bob", &["market", "currencies"]);
    assert!(
        currencies
            .lines()
            .any(|l| l.starts_with("EUR ") && l.contains("SEPA_INSTANT")),
        "{currencies}"
    );
    let created = offer("eur", &["SEPA_INSTANT"], &[]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let created = offer(
        "Eur",
        &["SEPA_INSTANT", "REVOLUT"],
        &["--deposit-bps", "10%"],
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let offers = devnet.json("bob", &["offer", "list", "--fiat", "eur"]);
    let offers = offers.as_array().unwrap();
    assert_eq!(offers.len(), 2, "{offers:?}");
    let single = offers
        .iter()
        .find(|o| o["methods"].as_array().unwrap().len() == 1)
        .unwrap();
    let several = offers
        .iter()
        .find(|o| o["methods"].as_array().unwrap().len() == 2)
        .unwrap();
    assert_eq!(several["buyer_deposit_bps"], 1_000);
    assert_eq!(single["price"]["currency"], "EUR");
    let single_id = single["id"].to_string();
    let several_id = several["id"].to_string();

    // A shown offer reads in words.
    let shown = devnet.ok("bob", &["offer", "show", &several_id]);
    assert!(
        shown.contains("buyer 10%, seller 10% of the amount") && shown.contains("1 hour"),
        "{shown}"
    );
    assert_plain_words(&shown);

    // A negative amount is called negative, not an unknown argument.
    let bob_nonce = nonce("bob");
    let stderr = devnet.fails("bob", &["trade", "take", &single_id, "-3", "USDX"]);
    assert!(stderr.contains("negative"), "{stderr}");
    assert!(!stderr.contains("unexpected argument"), "{stderr}");
    // With several methods, the take needs one, and the error lists them; a method the offer
    // does not take is refused the same way, before signing.
    let stderr = devnet.fails("bob", &["trade", "take", &several_id, "20", "USDX"]);
    assert!(
        stderr.contains("choose one with --method")
            && stderr.contains("SEPA_INSTANT")
            && stderr.contains("REVOLUT"),
        "{stderr}"
    );
    let stderr = devnet.fails(
        "bob",
        &[
            "trade",
            "take",
            &several_id,
            "20",
            "USDX",
            "--method",
            "ZELLE",
        ],
    );
    assert!(
        stderr.contains("does not accept ZELLE") && stderr.contains("REVOLUT"),
        "{stderr}"
    );
    // A chat message over the limit says the limit in characters, before signing.
    assert_eq!(nonce("bob"), bob_nonce, "nothing was signed");
    // With one method, the take defaults to it.
    let receipt = devnet.json("bob", &["trade", "take", &single_id, "20", "USDX"]);
    assert_eq!(receipt["outcome"], "success", "{receipt}");
    let trade = devnet.json("bob", &["trade", "list"])[0].clone();
    assert_eq!(trade["method"]["code"], "SEPA_INSTANT");
    let trade_id = trade["id"].to_string();
    let bob_nonce = nonce("bob");
    let long = "x".repeat(5_000);
    let stderr = devnet.fails("bob", &["trade", "chat", "send", &trade_id, &long]);
    assert!(
        stderr.contains("at most 4068 characters") && stderr.contains("this has 5000"),
        "{stderr}"
    );
    assert!(!stderr.contains("malformed"), "{stderr}");
    assert_eq!(nonce("bob"), bob_nonce, "nothing was signed");
    let shown = devnet.ok("bob", &["trade", "show", &trade_id]);
    assert!(
        shown.contains("(awaiting payment)") && shown.contains("UTC (in "),
        "{shown}"
    );
    assert_plain_words(&shown);

    // A rate written as a percentage; the loan reads in words; a default declared too early
    // says when it can be, as a date.
    let receipt = devnet.json(
        "bob",
        &[
            "loan",
            "request",
            "100",
            "USDX",
            "--apr-bps",
            "12.5%",
            "--term-days",
            "30",
            "--schedule",
            "3",
        ],
    );
    assert_eq!(receipt["outcome"], "success", "{receipt}");
    // Terms the ledger would refuse are refused before signing, in words.
    let bob_nonce = nonce("bob");
    for (rate, term, schedule, words) in [
        ("99999%", "30", "bullet", "is above the most allowed"),
        ("12%", "10", "11", "cannot be split into 11"),
    ] {
        let stderr = devnet.fails(
            "bob",
            &[
                "loan",
                "request",
                "100",
                "USDX",
                "--apr-bps",
                rate,
                "--term-days",
                term,
                "--schedule",
                schedule,
            ],
        );
        assert!(stderr.contains(words), "{stderr}");
    }
    assert_eq!(nonce("bob"), bob_nonce, "nothing was signed");
    let loan = devnet.json("carol", &["loan", "list", "--state", "funding"])[0].clone();
    assert_eq!(loan["rate_bps"], 1_250);
    let loan_id = loan["id"].to_string();
    let listed = devnet.ok("carol", &["loan", "list"]);
    assert!(
        listed.contains("3 instalments") && listed.contains("30 days"),
        "{listed}"
    );
    assert_plain_words(&listed);
    let receipt = devnet.json("carol", &["loan", "fund", &loan_id, "100"]);
    assert_eq!(receipt["outcome"], "success", "{receipt}");
    let output = devnet.run("carol", &["loan", "default", &loan_id]);
    assert!(!output.status.success());
    let said = text(&output.stderr);
    assert!(
        said.contains("cannot be declared in default before 20")
            && said.contains(" UTC (in ")
            && said.contains(" days)"),
        "{said}"
    );
    assert_plain_words(&said);
    let output = devnet.run("carol", &["--json", "loan", "default", &loan_id]);
    assert!(!output.status.success());
    assert!(output.stderr.is_empty(), "{}", text(&output.stderr));
    let receipt: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(receipt["error"]["code"], "NotInDefault");
    assert!(
        !receipt["error"]["message"]
            .as_str()
            .unwrap()
            .contains(" ms"),
        "{receipt}"
    );
    let shown = devnet.ok("bob", &["loan", "show", &loan_id]);
    assert!(shown.contains("by 20") && shown.contains("(in "), "{shown}");

    // A deposit out of range that the ledger refuses reads as percentages.
    let output = offer("EUR", &["SEPA_INSTANT"], &["--deposit-bps", "0.01%"]);
    let said = text(&output.stderr);
    assert!(
        said.contains("a security deposit of 0.01% is not allowed: it must be between"),
        "{said}"
    );
    assert_plain_words(&said);

    // An event's time in words: an arbitrator leaving is told when the bond is free.
    let said = devnet.ok("dave", &["arbitrator", "unregister"]);
    assert!(said.contains("the bond is free after 20"), "{said}");
    assert_plain_words(&said);
    let listed = devnet.ok("bob", &["arbitrator", "list"]);
    assert!(
        listed.contains("leaving: the bond is free from 20") && listed.contains("fee 1%"),
        "{listed}"
    );

    // More payment methods than an offer may list are refused before signing, in words.
    let alice_nonce = nonce("alice");
    let many = [
        "SEPA",
        "SEPA_INSTANT",
        "BIZUM",
        "HAL_CASH",
        "SATISPAY",
        "TIKKIE",
        "REVOLUT",
        "WISE",
        "PAYSERA",
    ];
    let said = text(&offer("EUR", &many, &[]).stderr);
    assert!(
        said.contains("at most 8 payment methods; this one lists 9"),
        "{said}"
    );
    assert_eq!(nonce("alice"), alice_nonce, "nothing was signed");

    // Counts agree with their nouns and a record with no trades says so.
    let reputation = devnet.ok("bob", &["reputation", "show"]);
    assert!(
        reputation.contains("no completed trades yet") && reputation.contains("1 loan:"),
        "{reputation}"
    );
    assert_plain_words(&reputation);
    let book = devnet.ok("bob", &["offer", "list"]);
    assert!(book.contains("no trades yet"), "{book}");
    assert!(!book.contains("100.00%"), "{book}");
    for args in [
        &["market", "params"][..],
        &["block", "show", "1"],
        &["account", "history"],
    ] {
        let shown = devnet.ok("bob", args);
        assert_plain_words(&shown);
    }
}
