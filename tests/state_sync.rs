//! State sync with real processes: a devnet whose nodes keep only 40 finalized blocks runs a
//! few thousand blocks, with an offer, a trade, a part-funded loan and 1,600 funded accounts in
//! its state. Its full node then starts for the first time, as a new user's would: it asks the
//! validators for a recent finalized block, fetches the store's records from them and checks
//! them against that block's state root, and follows the chain from there. It never sees the
//! pruned blocks, and answers balances, offers, trades and loans exactly as a validator does.
//! A second start is killed with SIGKILL while it syncs and started again; it still ends in the
//! validators' state.

mod common;

use client::{Keystore, keys::Wallet, tx::sign_call};
use common::Devnet;
use rpc::{RpcClient, client::ClientError};
use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use types::{AccountId, AssetId, Call, ChainId, bank::BankCall, bank::Transfer};

const RPC_PORT: u16 = 31_545;
const P2P_PORT: u16 = 31_300;
/// The devnet's full node serves RPC after the four validators' ports.
const FULL_NODE: u16 = 4;
/// Finalized blocks each node keeps.
const RETAINED: &str = "64";
/// Blocks per section of the blocks archive: pruning removes whole sections.
const SECTION: u64 = 1_024;
const SENDERS: [&str; 4] = ["alice", "bob", "carol", "dave"];
const ACCOUNTS_PER_SENDER: u64 = 400;
/// Each sender keeps at most this many transfers unconfirmed (the pool holds 64 per sender).
const WINDOW: u64 = 32;

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_full_node(devnet: &Devnet) -> Process {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(devnet.dir.join("full-node.log"))
        .unwrap();
    Process(
        Command::new(env!("CARGO_BIN_EXE_equa"))
            .args(["node", "--config"])
            .arg(devnet.dir.join("full-node/node.toml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn log(devnet: &Devnet) -> String {
    std::fs::read_to_string(devnet.dir.join("full-node.log")).unwrap_or_default()
}

fn status(devnet: &Devnet, index: u16) -> Option<serde_json::Value> {
    let output = devnet.query(index, &["--json", "status"]);
    output
        .status
        .success()
        .then(|| serde_json::from_slice(&output.stdout).unwrap())
}

fn json_on(devnet: &Devnet, index: u16, name: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend(args);
    let output = devnet.run_on(index, name, &all);
    assert!(
        output.status.success(),
        "{args:?} on node {index}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn receipt_ok(devnet: &Devnet, name: &str, args: &[&str]) {
    let receipt = devnet.json(name, args);
    assert_eq!(receipt["outcome"], "success", "{args:?}: {receipt}");
}

/// The names of the blob files of validator 0's finalized-blocks archive.
fn block_blobs(devnet: &Devnet) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(devnet.dir.join("validator-0/data"))
        .unwrap()
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with("equa-blocks-value")
        })
        .flat_map(|entry| {
            std::fs::read_dir(entry.path())
                .map(|files| {
                    files
                        .filter_map(|file| file.ok())
                        .map(|file| file.file_name().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .collect();
    names.sort();
    names
}

/// Waits until validator 0 has finalized `height`. Blocks come every 50 ms at best, so this
/// allows for a machine busy with other tests: 2,148 blocks take 107 s at full pace.
fn wait_for_height(devnet: &Devnet, height: u64) {
    let started = Instant::now();
    while devnet.height(0).is_none_or(|reached| reached < height) {
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "validator 0 did not reach height {height} in 15 minutes"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn rpc(index: u16) -> RpcClient {
    RpcClient::new(&format!("http://127.0.0.1:{}", RPC_PORT + index)).unwrap()
}

/// Pays `count` fresh accounts 1 minor unit of USDX each from `name`'s wallet through
/// validator `via`, keeping at most `WINDOW` unconfirmed; returns the accounts.
async fn fund_accounts(dir: &Path, name: &str, via: u16, count: u64) -> Vec<AccountId> {
    let wallet = Keystore::load(&dir.join(format!("wallets/{name}.json")))
        .unwrap()
        .decrypt("devnet")
        .unwrap();
    let client = rpc(via);
    let status = client.status().await.unwrap();
    let chain_id = ChainId::new(&status.chain_id).unwrap();
    let params = client.params().await.unwrap().to_params().unwrap();
    let first_nonce = client.account(&wallet.account()).await.unwrap().nonce;
    let mut accounts = Vec::new();
    for i in 0..count {
        loop {
            let confirmed = client.account(&wallet.account()).await.unwrap().nonce;
            if first_nonce + i < confirmed + WINDOW {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let to = Wallet::generate("").0.account();
        accounts.push(to);
        let height = client.status().await.unwrap().height;
        let call = Call::Bank(BankCall::Transfer(Transfer {
            to,
            asset: AssetId(1),
            amount: 1,
        }));
        let tx = sign_call(
            &wallet,
            chain_id.clone(),
            first_nonce + i,
            height,
            &params,
            call,
        )
        .unwrap();
        loop {
            match client.send(&tx).await {
                Ok(_) => break,
                Err(ClientError::Rpc { code, .. }) if code == rpc::code::BUSY => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(other) => panic!("transfer {i} from {name} was refused: {other}"),
            }
        }
    }
    // Every transfer confirmed.
    let deadline = Instant::now() + Duration::from_secs(120);
    while client.account(&wallet.account()).await.unwrap().nonce < first_nonce + count {
        assert!(
            Instant::now() < deadline,
            "{name}'s transfers were not all finalized"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    accounts
}

/// Waits until the full node reports `phase` and returns its status. Asks its RPC directly every
/// 5 ms (a CLI process per ask would take longer than a small state's sync).
fn wait_for_phase(devnet: &Devnet, phase: &str, seconds: u64) -> rpc::views::StatusView {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = rpc(FULL_NODE);
    let started = Instant::now();
    runtime.block_on(async {
        loop {
            if let Ok(status) = client.status().await
                && status.phase == phase
            {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(seconds),
                "the full node never reported {phase:?}: {}",
                log(devnet)
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
}

/// Waits until the full node has synced and followed the chain to `height`.
fn wait_until_following(devnet: &Devnet, height: u64) -> u64 {
    let started = Instant::now();
    loop {
        if let Some(status) = status(devnet, FULL_NODE)
            && status["phase"] == "following"
            && status["height"].as_u64().unwrap() >= height
        {
            return status["height"].as_u64().unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the full node did not catch up: {}",
            log(devnet)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The full node answers what validator 1 answers: every funded account, the demo accounts,
/// the offer book, the trades and the loans.
fn assert_same_answers(devnet: &Devnet, accounts: &[AccountId]) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (mine, theirs) = (rpc(FULL_NODE), rpc(1));
        for account in accounts {
            let a = mine.account(account).await.unwrap();
            let b = theirs.account(account).await.unwrap();
            assert_eq!(a, b, "account {account}");
            assert_eq!(a.balances.len(), 1, "{a:?}");
            assert_eq!(a.balances[0].symbol, "USDX");
            assert_eq!(a.balances[0].minor_units, "1");
        }
    });
    for name in SENDERS {
        let address = devnet.address(name);
        for args in [
            vec!["account", "show", address.as_str()],
            vec!["trade", "list"],
            vec!["loan", "list"],
            vec!["offer", "list"],
        ] {
            assert_eq!(
                json_on(devnet, FULL_NODE, name, &args),
                json_on(devnet, 1, name, &args),
                "{name}: {args:?}"
            );
        }
    }
}

#[test]
fn a_node_joining_after_the_chain_pruned_syncs_the_state_and_answers_as_validators_do() {
    // Blocks every 50 ms even when idle, so that the chain grows past a pruned section quickly.
    let mut devnet = Devnet::start_with(
        "state-sync",
        RPC_PORT,
        P2P_PORT,
        &[],
        &[
            "--idle-block-interval-ms",
            "50",
            "--retained-blocks",
            RETAINED,
        ],
    );

    // The market and lending: an offer, a trade on it, a loan request funded in part.
    receipt_ok(
        &devnet,
        "alice",
        &[
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
        ],
    );
    let offer = devnet.json("bob", &["offer", "list"])[0]["id"].to_string();
    receipt_ok(
        &devnet,
        "bob",
        &[
            "trade",
            "take",
            &offer,
            "100",
            "USDX",
            "--method",
            "SEPA_INSTANT",
        ],
    );
    receipt_ok(
        &devnet,
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
    let loan = devnet.json("carol", &["loan", "list"])[0]["id"].to_string();
    receipt_ok(&devnet, "carol", &["loan", "fund", &loan, "40"]);

    // 1,600 funded accounts.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let accounts: Vec<AccountId> = runtime.block_on(async {
        let mut senders = Vec::new();
        for (number, name) in SENDERS.iter().enumerate() {
            let dir = devnet.dir.clone();
            senders.push(tokio::spawn(async move {
                fund_accounts(&dir, name, number as u16, ACCOUNTS_PER_SENDER).await
            }));
        }
        let mut all = Vec::new();
        for sender in senders {
            all.extend(sender.await.unwrap());
        }
        all
    });
    drop(runtime);

    // The chain prunes: the first section of the blocks archive goes once the retained window
    // has passed the second.
    let first_blob = block_blobs(&devnet)
        .first()
        .cloned()
        .expect("validator 0 has a blocks archive");
    wait_for_height(&devnet, 2 * SECTION + 100);
    let started = Instant::now();
    while block_blobs(&devnet).contains(&first_blob) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "validator 0 kept its oldest blocks: {:?}",
            block_blobs(&devnet)
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // A new full node joins: it finds a floor, syncs the records, then follows.
    let joined_at = devnet.height(0).unwrap();
    let full_node = start_full_node(&devnet);
    let syncing = wait_for_phase(&devnet, "syncing records", 300);
    assert!(syncing.sync.is_some(), "{syncing:?}");
    let height = wait_until_following(&devnet, joined_at);
    // `equa status` words the same phase. A following node shows "catching up blocks" whenever
    // it is more than two blocks behind, which a loaded 2-core machine reaches now and then, so
    // the words are awaited like the phase above rather than read once.
    let started = Instant::now();
    loop {
        let shown = devnet.query(FULL_NODE, &["status"]);
        let shown = String::from_utf8_lossy(&shown.stdout).to_string();
        if shown.contains("phase:        following") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "`equa status` never showed the following phase: {shown}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let log_text = log(&devnet);
    assert!(log_text.contains("state sync: floor found"), "{log_text}");
    assert!(
        log_text.contains("read the ledger back from the store") && log_text.contains("state sync"),
        "{log_text}"
    );
    // It never executed the blocks before its floor: the first block it holds is far above
    // genesis, and the earliest blocks are not in its store.
    let early = devnet.query(FULL_NODE, &["--json", "block", "show", "5"]);
    assert!(
        !early.status.success(),
        "{}",
        String::from_utf8_lossy(&early.stdout)
    );
    devnet.wait_for_height(1, height);
    assert_same_answers(&devnet, &accounts);

    // Its own data, then again from nothing: killed with SIGKILL while it syncs, and started
    // again, it ends in the same state.
    drop(full_node);
    std::fs::remove_dir_all(devnet.dir.join("full-node/data")).unwrap();
    let joined_at = devnet.height(0).unwrap();
    let mut killed = start_full_node(&devnet);
    wait_for_phase(&devnet, "syncing records", 300);
    killed.0.kill().unwrap();
    killed.0.wait().unwrap();
    let _restarted = start_full_node(&devnet);
    let height = wait_until_following(&devnet, joined_at);
    devnet.wait_for_height(1, height);
    assert_same_answers(&devnet, &accounts);
    assert!(devnet.stop(), "the devnet stops");
}
