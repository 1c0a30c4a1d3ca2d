//! The devnet as a user runs it: `equa devnet` starts four validator processes on loopback; a
//! transfer sent with `equa send` is finalized and seen by every validator's RPC; bad input is
//! refused; stopping the devnet stops every validator, and a second start resumes the chain.

mod common;

use client::{Keystore, tx::sign_call};
use common::Devnet;
use rpc::RpcClient;
use types::{
    AssetId, Call, ChainId, SignedTransaction, bank::BankCall, bank::Transfer, codec::Encode,
};

const RPC_PORT: u16 = 19_545;
const P2P_PORT: u16 = 31_300;

#[test]
fn devnet_finalizes_transfers_on_every_validator_and_resumes() {
    let mut devnet = Devnet::start("devnet-live", RPC_PORT, P2P_PORT);
    let bob = devnet.address("bob");
    assert_eq!(devnet.balance("bob", "USDX"), "100000");

    let output = devnet.run_on(1, "alice", &["--json", "send", &bob, "12.5", "USDX"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let receipt: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(receipt["outcome"], "success");
    let included = receipt["height"].as_u64().unwrap();
    // The sender's history lists it; so does the recipient's.
    devnet.wait_for_height(0, included);
    let history = devnet.json("alice", &["account", "history"]);
    assert_eq!(history[0]["call"], "bank.transfer", "{history}");
    assert_eq!(history[0]["tx_id"], receipt["tx_id"]);
    let history = devnet.json("alice", &["account", "history", &bob, "--limit", "1"]);
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(history[0]["tx_id"], receipt["tx_id"]);
    // Every validator has applied it once the block is final there.
    for index in 0..4 {
        devnet.wait_for_height(index, included);
        assert_eq!(
            devnet.balance_on(index, "bob", "USDX"),
            "100012.5",
            "validator {index}"
        );
    }

    // Transactions sent to one validator reach the others' pools: blocks by several proposers
    // include transfers that were only ever submitted to validator 1. (Were they not relayed,
    // only validator 1 could propose them; twelve blocks all by one of four rotating leaders
    // would be a one-in-sixteen-million coincidence.)
    let mut proposers = std::collections::BTreeSet::new();
    let mut last_included = included;
    for _ in 0..12 {
        let output = devnet.run_on(1, "carol", &["--json", "send", &bob, "0.5", "USDX"]);
        assert!(output.status.success());
        let receipt: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let height = receipt["height"].as_u64().unwrap();
        last_included = last_included.max(height);
        let block = devnet.query(1, &["--json", "block", "show", &height.to_string()]);
        let block: serde_json::Value = serde_json::from_slice(&block.stdout).unwrap();
        proposers.insert(block["proposer"].as_str().unwrap().to_string());
    }
    assert!(proposers.len() > 1, "only {proposers:?} proposed");
    // The receipts came from validator 1; validator 0 shows them once it has finalized as far.
    devnet.wait_for_height(0, last_included);
    assert_eq!(devnet.balance("bob", "USDX"), "100018.5");

    // Bad input is refused with a clear error and changes nothing.
    for (args, message) in [
        (
            vec!["send", "equa1notanaddress", "1", "USDX"],
            "invalid address",
        ),
        (vec!["send", &bob, "1.0000001", "USDX"], "decimal places"),
        (vec!["send", &bob, "1", "NOPE"], "unknown asset"),
    ] {
        let stderr = devnet.fails("alice", &args);
        assert!(stderr.contains(message), "{stderr}");
    }
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_equa"))
        .args(["--rpc", &devnet.rpc(0)])
        .args(["--wallet", devnet.wallet("alice").to_str().unwrap()])
        .args(["send", &bob, "1", "USDX"])
        .env("EQUA_PASSWORD", "wrong")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("wrong password"));
    assert_eq!(devnet.balance("bob", "USDX"), "100018.5");

    // Many transactions in one call: their signatures are checked in one batch, and a forged
    // one among them is refused alone.
    let height = send_many_with_one_forged(&devnet, &bob);
    devnet.wait_for_height(0, height);
    assert_eq!(devnet.balance("bob", "USDX"), "100020.5");

    // Bob's whole history, a few at a time; the text form says how to go on.
    let before_stop = history_pages(&devnet, &bob);
    assert!(before_stop.len() >= 14, "{before_stop:?}");
    let mut unique = before_stop.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        before_stop.len(),
        "no transaction listed twice"
    );
    let text = devnet.ok("alice", &["account", "history", &bob, "--limit", "1"]);
    assert!(text.contains("older: equa account history"), "{text}");
    assert!(text.contains("--before "), "{text}");
    let stderr = devnet.fails("alice", &["account", "history", &bob, "--before", "12x"]);
    assert!(
        stderr.contains("is not a cursor this node gave"),
        "{stderr}"
    );

    // Stopping stops every validator: none answers any more.
    assert!(devnet.stop(), "the devnet stopped on Ctrl-C");
    for index in 0..4 {
        let output = devnet.query(index, &["status"]);
        assert!(!output.status.success(), "validator {index} still answers");
    }

    // A second start resumes the same chain from disk.
    devnet.resume();
    devnet.wait_for_height(0, included + 1);
    assert_eq!(devnet.balance("bob", "USDX"), "100020.5");
    // The history is on disk: after the restart it is the same, page by page.
    assert_eq!(history_pages(&devnet, &bob), before_stop);
}

/// Every transaction of `address`'s history on validator 0 (tx ids, newest first), read
/// through `equa account history` three at a time.
fn history_pages(devnet: &Devnet, address: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let mut args = vec!["account", "history", address, "--limit", "3"];
        if let Some(cursor) = &before {
            args.extend(["--before", cursor]);
        }
        let page = devnet.json("alice", &args);
        let page = page.as_array().unwrap();
        ids.extend(
            page.iter()
                .map(|entry| entry["tx_id"].as_str().unwrap().to_string()),
        );
        match page.last() {
            Some(last) if page.len() == 3 => {
                before = Some(last["cursor"].as_str().unwrap().to_string());
            }
            _ => return ids,
        }
    }
}

/// Dave sends bob 1 USDX twice through `equa_sendTransactions` on validator 2, with a copy of a
/// third transfer whose signature was altered between them. Returns the height by which both
/// were finalized.
fn send_many_with_one_forged(devnet: &Devnet, bob: &str) -> u64 {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = RpcClient::new(&devnet.rpc(2)).unwrap();
        let dave = Keystore::load(&devnet.wallet("dave"))
            .unwrap()
            .decrypt("devnet")
            .unwrap();
        let status = client.status().await.unwrap();
        let chain_id = ChainId::new(&status.chain_id).unwrap();
        let params = client.params().await.unwrap().to_params().unwrap();
        let nonce = client.account(&dave.account()).await.unwrap().nonce;
        let to = types::AccountId::parse(bob).unwrap();
        let transfer = |nonce: u64| {
            let call = Call::Bank(BankCall::Transfer(Transfer {
                to,
                asset: AssetId(1),
                amount: 1_000_000,
            }));
            sign_call(&dave, chain_id.clone(), nonce, status.height, &params, call).unwrap()
        };
        let mut forged = transfer(nonce + 5).encode().to_vec();
        let signature_start = forged.len() - 64;
        forged[signature_start] ^= 1;
        let forged = SignedTransaction::decode(&forged).unwrap();
        let sent = [transfer(nonce), forged, transfer(nonce + 1)];
        let results = client.send_many(&sent).await.unwrap();
        assert_eq!(results.len(), 3);
        assert!(
            results[0].id.is_some() && results[2].id.is_some(),
            "{results:?}"
        );
        let refused = results[1].error.as_ref().unwrap();
        assert_eq!(refused.code, "BadSignature", "{results:?}");
        assert!(results[1].id.is_none());
        let mut finalized = 0;
        for tx in [&sent[0], &sent[2]] {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            loop {
                if let Some(receipt) = client.receipt(&tx.id()).await.unwrap() {
                    assert_eq!(receipt.outcome, "success", "{receipt:?}");
                    finalized = finalized.max(receipt.height);
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "not finalized");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        assert_eq!(
            client.account(&dave.account()).await.unwrap().nonce,
            nonce + 2,
            "the forged transfer changed nothing"
        );
        finalized
    })
}
