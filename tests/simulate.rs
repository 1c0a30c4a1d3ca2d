//! Check before signing, against a real devnet (four validator processes): a transaction the
//! ledger would refuse is tried on the node and not sent, from the command line and from the web
//! interface, so it costs nothing: no fee, no nonce, nothing on the sender's record.
//! `--dry-run` and `/api/preview` show what a transaction would do and send nothing.

mod common;

use common::Devnet;
use serde_json::{Value, json};
use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    process::Command,
    sync::{Arc, Mutex},
};

const RPC_PORT: u16 = 13_545;
const P2P_PORT: u16 = 13_300;
/// Validator 0 serves Alice's web interface on its RPC port plus 10.
const WEB_PORT: u16 = RPC_PORT + 10;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What must not change when nothing is sent: the balances, the nonce and the history.
#[derive(Debug, PartialEq)]
struct Record {
    eqa: String,
    usdx: String,
    nonce: u64,
    history: usize,
}

fn record(devnet: &Devnet, name: &str) -> Record {
    let address = devnet.address(name);
    let account = devnet.json(name, &["account", "show", &address]);
    let history = devnet.json(name, &["account", "history", &address]);
    Record {
        eqa: devnet.balance(name, "EQA"),
        usdx: devnet.balance(name, "USDX"),
        nonce: account["nonce"].as_u64().unwrap(),
        history: history.as_array().unwrap().len(),
    }
}

/// A command the ledger would refuse: it fails in words on standard error, saying it was not
/// sent, and with `--json` prints a receipt-shaped document naming the ledger's error.
fn refused(devnet: &Devnet, name: &str, args: &[&str], code: &str) -> String {
    let output = devnet.run(name, args);
    assert!(
        !output.status.success(),
        "{args:?}: {}",
        text(&output.stdout)
    );
    let said = text(&output.stderr);
    assert!(
        said.starts_with("error: not sent, nothing was paid: "),
        "{said}"
    );
    assert!(
        !said.contains("minor units") && !said.contains(code),
        "{said}"
    );
    let mut json_args = vec!["--json"];
    json_args.extend(args);
    let output = devnet.run(name, &json_args);
    assert!(!output.status.success());
    assert!(output.stderr.is_empty(), "{}", text(&output.stderr));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["sent"], false, "{document}");
    assert_eq!(document["outcome"], "failed", "{document}");
    assert_eq!(document["error"]["code"], code, "{document}");
    assert_eq!(document["fee_paid"], "0", "{document}");
    said
}

#[test]
fn refused_actions_cost_nothing_and_dry_runs_send_nothing() {
    let devnet = Devnet::start("simulate", RPC_PORT, P2P_PORT);
    let create = [
        "--json",
        "offer",
        "create",
        "sell",
        "300",
        "USDX",
        "--min",
        "20",
        "--price",
        "0.95",
        "--fiat",
        "EUR",
        "--method",
        "SEPA_INSTANT",
    ];
    let receipt: Value = serde_json::from_str(&devnet.ok("alice", &create)).unwrap();
    assert_eq!(receipt["outcome"], "success", "{receipt}");
    let offers = devnet.json("bob", &["offer", "list", "--side", "sell"]);
    let offer = offers[0]["id"].as_u64().unwrap().to_string();

    // Taking more than the offer allows, and sending more than the balance: neither is sent.
    let bob = record(&devnet, "bob");
    let said = refused(
        &devnet,
        "bob",
        &[
            "trade",
            "take",
            &offer,
            "1000",
            "USDX",
            "--method",
            "SEPA_INSTANT",
        ],
        "AmountOutOfRange",
    );
    assert!(
        said.contains("1000 USDX") && said.contains("300 USDX"),
        "{said}"
    );
    let alice = devnet.address("alice");
    let said = refused(
        &devnet,
        "bob",
        &["send", &alice, "20000", "EQA"],
        "InsufficientBalance",
    );
    assert!(said.contains("20000 EQA"), "{said}");
    assert_eq!(record(&devnet, "bob"), bob, "a refused action cost nothing");

    // A dry run of a good transfer shows its fee and what would move, and sends nothing.
    let shown = devnet.ok("bob", &["--dry-run", "send", &alice, "1.5", "EQA"]);
    let bob_address = devnet.address("bob");
    assert!(shown.starts_with("dry run: nothing was sent"), "{shown}");
    assert!(shown.contains("outcome:    success"), "{shown}");
    assert!(
        shown.contains("fee:        0.") && shown.contains(" EQA"),
        "{shown}"
    );
    assert!(shown.contains(&format!("{alice} +1.5 EQA")), "{shown}");
    assert!(shown.contains(&format!("{bob_address} -1.5")), "{shown}");
    assert!(shown.contains("block proposer +0."), "{shown}");
    assert!(
        shown.contains(&format!("{bob_address} sent 1.5 EQA to {alice}")),
        "{shown}"
    );
    let dry: Value = serde_json::from_str(&devnet.ok(
        "bob",
        &["--json", "--dry-run", "send", &alice, "1.5", "EQA"],
    ))
    .unwrap();
    assert_eq!(dry["outcome"], "success");
    let total: i128 = dry["moves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["minor_units"].as_str().unwrap().parse::<i128>().unwrap())
        .sum();
    assert_eq!(total, 0, "{dry}");
    // A dry run of a refused action says why, fails, and sends nothing either.
    let output = devnet.run(
        "bob",
        &[
            "--dry-run",
            "trade",
            "take",
            &offer,
            "1000",
            "USDX",
            "--method",
            "SEPA_INSTANT",
        ],
    );
    assert!(!output.status.success());
    assert!(text(&output.stdout).contains("outcome:    failed"));
    assert_eq!(record(&devnet, "bob"), bob, "a dry run sent nothing");

    // A node that keeps what a wallet asks it to simulate cannot send it in the wallet's name:
    // the copy it is shown is signed with a one-off key, and the ledger refuses it.
    let (proxy, recorded) = recording_proxy(devnet.rpc_port);
    let output = Command::new(env!("CARGO_BIN_EXE_equa"))
        .args(["--rpc", &format!("http://127.0.0.1:{proxy}")])
        .args(["--wallet", devnet.wallet("bob").to_str().unwrap()])
        .args(["--dry-run", "send", &alice, "1.5", "EQA"])
        .env("EQUA_PASSWORD", "devnet")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let simulated = simulated_transactions(&recorded.lock().unwrap());
    assert_eq!(simulated.len(), 1, "one simulation was asked");
    let resent = rpc(
        &devnet,
        "equa_sendTransaction",
        json!([simulated[0].clone()]),
    );
    assert_eq!(
        resent["error"]["data"]["code"], "BadSignature",
        "the simulated copy cannot be submitted: {resent}"
    );
    assert_eq!(record(&devnet, "bob"), bob, "the kept copy changed nothing");

    // The same transfer sent for real states its fee before it waits, and goes through.
    let sent = devnet.ok("bob", &["send", &alice, "1.5", "EQA"]);
    assert!(sent.starts_with("fee:        0."), "{sent}");
    assert!(sent.contains("outcome:    success"), "{sent}");
    assert_eq!(record(&devnet, "bob").nonce, bob.nonce + 1);

    web_refuses_and_previews(&devnet, &offer);
}

/// Alice's web interface over a real socket: an action the ledger would refuse is answered 422
/// with its field and sent nowhere; a preview answers without sending.
fn web_refuses_and_previews(devnet: &Devnet, offer: &str) {
    let (status, headers, body) = post("/api/unlock", None, &json!({ "password": "devnet" }));
    assert_eq!(status, 200, "{body}");
    let cookie = headers
        .lines()
        .find(|line| line.to_ascii_lowercase().starts_with("set-cookie:"))
        .and_then(|line| line.split_once(':'))
        .and_then(|(_, value)| value.trim().split(';').next())
        .expect("a session cookie")
        .to_string();
    let csrf = body["csrf"].as_str().unwrap().to_string();
    let session = Some((cookie.as_str(), csrf.as_str()));
    let alice = record(devnet, "alice");
    let bob = devnet.address("bob");

    let (status, _, body) = post(
        "/api/act",
        session,
        &json!({ "args": ["send", bob, "50000", "EQA"] }),
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "InsufficientBalance", "{body}");
    assert_eq!(body["field"], "amount", "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("50000 EQA"),
        "{body}"
    );
    assert_eq!(
        record(devnet, "alice"),
        alice,
        "the refused action was not sent"
    );

    // Offers the ledger would refuse, each naming the form field to correct.
    for (args, code, field) in [
        (
            vec![
                "trade",
                "take",
                offer,
                "1000",
                "USDX",
                "--method",
                "SEPA_INSTANT",
            ],
            "OwnOffer",
            Value::Null,
        ),
        (
            vec![
                "offer",
                "create",
                "sell",
                "20",
                "USDX",
                "--min",
                "300",
                "--price",
                "0.95",
                "--fiat",
                "EUR",
                "--method",
                "SEPA_INSTANT",
            ],
            "InvalidLimits",
            json!("min"),
        ),
        (
            vec![
                "offer",
                "create",
                "sell",
                "20",
                "USDX",
                "--price",
                "0.95",
                "--fiat",
                "EUR",
                "--method",
                "SEPA_INSTANT",
                "--deposit-bps",
                "0.01%",
            ],
            "DepositOutOfRange",
            json!("deposit"),
        ),
    ] {
        let (status, _, body) = post("/api/preview", session, &json!({ "args": args }));
        assert_eq!(status, 200, "{args:?}: {body}");
        assert_eq!(body["ok"], false, "{body}");
        assert_eq!(body["outcome"], "failed", "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        assert_eq!(body["error"]["field"], field, "{body}");
        assert!(body["error"]["message"].is_string(), "{body}");
        let (status, _, body) = post("/api/act", session, &json!({ "args": args }));
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["field"], field, "{body}");
    }
    assert_eq!(record(devnet, "alice"), alice, "nothing was sent");

    let (status, _, body) = post(
        "/api/preview",
        session,
        &json!({ "args": ["send", bob, "2", "EQA"] }),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true, "{body}");
    assert_eq!(body["outcome"], "success");
    assert_eq!(body["error"], Value::Null);
    assert!(body["fee"].as_str().unwrap().ends_with(" EQA"), "{body}");
    let moves = body["moves"].as_array().unwrap();
    assert!(
        moves
            .iter()
            .any(|m| m["account"] == bob.as_str() && m["change"] == "+2 EQA"),
        "{body}"
    );
    assert!(
        body["events"][0].as_str().unwrap().contains("2 EQA"),
        "{body}"
    );
    assert_eq!(record(devnet, "alice"), alice, "a preview sends nothing");

    // Without the session's token a preview is refused like an action.
    let (status, _, _) = post(
        "/api/preview",
        Some((cookie.as_str(), "0000")),
        &json!({ "args": ["send", bob, "2", "EQA"] }),
    );
    assert_eq!(status, 403);
}

/// One HTTP/1.1 POST to the web interface: the status, the headers and the JSON body.
fn post(path: &str, session: Option<(&str, &str)>, body: &Value) -> (u16, String, Value) {
    let body = body.to_string();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{WEB_PORT}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some((cookie, csrf)) = session {
        request.push_str(&format!("Cookie: {cookie}\r\nx-equa-csrf: {csrf}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    let mut stream = TcpStream::connect(("127.0.0.1", WEB_PORT)).expect("the web interface");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a response");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
    let body = serde_json::from_str(body).unwrap_or(Value::Null);
    (status, head.to_string(), body)
}

/// Listens on a port the system picks (returned) and forwards every connection to `rpc_port`,
/// recording what the client sends, as a node could.
fn recording_proxy(rpc_port: u16) -> (u16, Arc<Mutex<Vec<u8>>>) {
    let recorded: Arc<Mutex<Vec<u8>>> = Arc::default();
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("a port for the proxy");
    let port = listener.local_addr().unwrap().port();
    let kept = recorded.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let Ok(mut server) = TcpStream::connect(("127.0.0.1", rpc_port)) else {
                return;
            };
            let (mut client_out, mut server_in) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut server_in, &mut client_out);
            });
            let kept = kept.clone();
            std::thread::spawn(move || {
                let mut buffer = [0u8; 8192];
                while let Ok(read) = client.read(&mut buffer) {
                    if read == 0 || server.write_all(&buffer[..read]).is_err() {
                        break;
                    }
                    kept.lock().unwrap().extend_from_slice(&buffer[..read]);
                }
            });
        }
    });
    (port, recorded)
}

/// The transactions (hex) a client asked to simulate, from the raw bytes it sent.
fn simulated_transactions(recorded: &[u8]) -> Vec<String> {
    let text = text(recorded);
    let marker = r#""method":"equa_simulateTransaction","params":[""#;
    text.match_indices(marker)
        .map(|(at, _)| {
            let rest = &text[at + marker.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

/// A JSON-RPC call to validator 0; the whole response.
fn rpc(devnet: &Devnet, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", devnet.rpc_port)).expect("the RPC");
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|_| panic!("{response}"))
}
