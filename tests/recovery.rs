//! Crash recovery with real processes: four `equa node` validators on loopback take 1,000
//! signed transfers through JSON-RPC; one validator is killed with SIGKILL midway and restarted
//! later. The other three keep finalizing meanwhile; afterwards every node reports the same
//! block and state root at the same height, and every acknowledged transfer was applied exactly
//! once (each sender's nonce and each recipient's balance are exact on every node). The
//! restarted validator read its ledger back from its store and re-executed no block to rebuild it
//! (its metrics say how many records it read and how many blocks it re-executed), and its
//! account history, kept on disk, lists every transfer exactly once, those from before the kill
//! included, page by page, as the validators that never stopped list them. It also gives the
//! receipt of every transfer from before the kill, through JSON-RPC and `equa tx show`, though
//! the blocks it keeps in memory start where it came back.

use client::{Keystore, keys::Wallet, tx::sign_call};
use rpc::{RpcClient, client::ClientError};
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use types::{AssetId, Call, ChainId, bank::BankCall, bank::Transfer};

const RPC_PORT: u16 = 24_545;
const P2P_PORT: u16 = 24_300;
const SENDERS: [&str; 4] = ["alice", "bob", "carol", "dave"];
const TRANSFERS_PER_SENDER: u64 = 250;
/// The validator that is killed; senders submit to the others.
const VICTIM: usize = 2;
/// Each sender keeps at most this many transfers in flight (the mempool holds 64 per sender).
const WINDOW: u64 = 32;

/// Four validator processes started from a devnet directory; dropping them kills them all.
struct Validators {
    dir: PathBuf,
    children: Vec<Option<Child>>,
}

impl Validators {
    fn start(dir: &Path) -> Self {
        let status = Command::new(env!("CARGO_BIN_EXE_equa"))
            .args(["devnet", "--init-only", "--dir", dir.to_str().unwrap()])
            .args(["--rpc-port", &RPC_PORT.to_string()])
            .args(["--p2p-port", &P2P_PORT.to_string()])
            // Each test devnet serves its web pages beside its RPC ports, clear of the default 8080.
            .args(["--web-port", &(RPC_PORT + 10).to_string()])
            .args(["--metrics-port", &(RPC_PORT + 20).to_string()])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        // The victim keeps its ledger state on disk behind a small cache, every finalized
        // block's values moving to the file as soon as no state reads older ones; the others
        // keep it in memory. They must agree on every block's state all the same.
        let victim = dir.join(format!("validator-{VICTIM}/node.toml"));
        let config = std::fs::read_to_string(&victim).unwrap();
        // Before the file's first table, so that it is a top-level key.
        std::fs::write(
            &victim,
            format!("state_cache_mib = 8\nstate_write_batch = 1\n{config}"),
        )
        .unwrap();
        let mut validators = Self {
            dir: dir.to_path_buf(),
            children: Vec::new(),
        };
        for index in 0..4 {
            let child = validators.spawn(index);
            validators.children.push(Some(child));
        }
        validators
    }

    fn spawn(&self, index: usize) -> Child {
        let config = self.dir.join(format!("validator-{index}/node.toml"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(config.with_file_name("node.log"))
            .unwrap();
        Command::new(env!("CARGO_BIN_EXE_equa"))
            .args(["node", "--config", config.to_str().unwrap()])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("a validator starts")
    }

    /// SIGKILL: no chance to flush or clean up.
    fn kill(&mut self, index: usize) {
        let mut child = self.children[index].take().expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    fn restart(&mut self, index: usize) {
        assert!(self.children[index].is_none());
        self.children[index] = Some(self.spawn(index));
    }
}

impl Drop for Validators {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The value of metric `name` (a line `name value`) on validator `index`.
fn metric(index: usize, name: &str) -> u64 {
    use std::io::{Read as _, Write as _};
    let port = RPC_PORT + 20 + index as u16;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("metrics port open");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} on validator {index}:\n{response}"))
}

fn rpc(index: usize) -> RpcClient {
    RpcClient::new(&format!("http://127.0.0.1:{}", RPC_PORT + index as u16)).unwrap()
}

/// Waits for `check` with a deadline, polling every 50 ms.
async fn wait_until<F, Fut>(what: &str, seconds: u64, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn height(index: usize) -> Option<u64> {
    rpc(index).status().await.ok().map(|s| s.height)
}

/// Sends `TRANSFERS_PER_SENDER` transfers from `wallet` to `to` through validator `via`,
/// keeping at most `WINDOW` unconfirmed. Transfer `i` moves `1_000 + i` minor units of USDX.
async fn send_all(wallet: Wallet, to: types::AccountId, via: usize, acknowledged: Arc<AtomicU64>) {
    let client = rpc(via);
    let status = client.status().await.unwrap();
    let chain_id = ChainId::new(&status.chain_id).unwrap();
    let params = client.params().await.unwrap().to_params().unwrap();
    let first_nonce = client.account(&wallet.account()).await.unwrap().nonce;
    for i in 0..TRANSFERS_PER_SENDER {
        loop {
            let confirmed = client.account(&wallet.account()).await.unwrap().nonce;
            if first_nonce + i < confirmed + WINDOW {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let height = client.status().await.unwrap().height;
        let call = Call::Bank(BankCall::Transfer(Transfer {
            to,
            asset: AssetId(1),
            amount: 1_000 + u128::from(i),
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
                // The pool is full for now: wait for a block and offer it again.
                Err(ClientError::Rpc { code, .. }) if code == rpc::code::BUSY => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(other) => panic!("transfer {i} was refused: {other}"),
            }
        }
        acknowledged.fetch_add(1, Ordering::SeqCst);
    }
}

/// Every transaction of `account`'s history on validator `index`, newest first (tx ids),
/// read a page of 100 at a time.
async fn full_history(index: usize, account: &types::AccountId) -> Vec<(String, String)> {
    let client = rpc(index);
    let mut all = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let page = client
            .history(account, Some(100), before.as_deref())
            .await
            .unwrap();
        all.extend(
            page.iter()
                .map(|entry| (entry.receipt.tx_id.clone(), entry.call.clone())),
        );
        match page.last() {
            Some(last) if page.len() == 100 => before = Some(last.cursor.clone()),
            _ => return all,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_validator_loses_nothing_and_catches_up() {
    let dir = std::env::temp_dir().join(format!("equa-recovery-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut validators = Validators::start(&dir);
    for index in 0..4 {
        wait_until("every validator to finalize", 120, || async move {
            height(index).await.is_some_and(|h| h >= 2)
        })
        .await;
    }

    // Each sender pays its own fresh recipient through one of the surviving validators.
    let acknowledged = Arc::new(AtomicU64::new(0));
    let mut recipients = Vec::new();
    let mut senders = Vec::new();
    for (number, name) in SENDERS.iter().enumerate() {
        let wallet = Keystore::load(&dir.join(format!("wallets/{name}.json")))
            .unwrap()
            .decrypt("devnet")
            .unwrap();
        let recipient = Wallet::generate("").0.account();
        recipients.push(recipient);
        let via = [0, 1, 3, 0][number];
        senders.push(tokio::spawn(send_all(
            wallet,
            recipient,
            via,
            acknowledged.clone(),
        )));
    }

    // Midway, kill a validator outright; the other three keep finalizing without it.
    let total = TRANSFERS_PER_SENDER * SENDERS.len() as u64;
    let counter = acknowledged.clone();
    wait_until("half the transfers", 300, || {
        let counter = counter.clone();
        async move { counter.load(Ordering::SeqCst) >= total / 2 }
    })
    .await;
    let state_files = || -> Vec<String> {
        std::fs::read_dir(dir.join(format!("validator-{VICTIM}/data/state")))
            .map(|entries| {
                entries
                    .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let before_kill = state_files();
    assert!(
        !before_kill.is_empty() && before_kill.iter().all(|name| name.ends_with(".redb")),
        "the victim keeps its state in files: {before_kill:?}"
    );
    validators.kill(VICTIM);
    // A file of the same kind that no process of this run made: the next start removes every
    // one it finds, whatever its name.
    let stray = dir.join(format!("validator-{VICTIM}/data/state/stray.redb"));
    std::fs::write(&stray, b"left by an earlier run").unwrap();
    let at_kill = height(0).await.unwrap();
    wait_until(
        "progress without the killed validator",
        120,
        || async move { height(0).await.is_some_and(|h| h >= at_kill + 20) },
    )
    .await;
    assert!(
        height(VICTIM).await.is_none(),
        "the killed validator is gone"
    );
    validators.restart(VICTIM);
    // It read its ledger back from its store and re-executed no block it had committed.
    wait_until(
        "the restarted validator to finalize again",
        120,
        || async move { height(VICTIM).await.is_some_and(|h| h > at_kill) },
    )
    .await;
    let restored = metric(VICTIM, "equa_ledger_records_restored");
    assert!(
        restored >= 20,
        "the restarted validator read {restored} records back from its store"
    );
    assert_eq!(
        metric(VICTIM, "equa_blocks_reexecuted_total"),
        0,
        "the restarted validator re-executed blocks to rebuild its ledger"
    );
    assert_eq!(
        metric(VICTIM, "equa_states_unsettled_total"),
        0,
        "a state the restarted validator finalized did not settle into its base"
    );
    // What the killed process left (it had no chance to remove its files) was removed at the
    // start, and the restarted process keeps its state in files of its own.
    let after_restart = state_files();
    assert!(
        !stray.exists() && !after_restart.is_empty(),
        "the files left behind are gone: {before_kill:?} before the kill, now {after_restart:?}"
    );
    let log = std::fs::read_to_string(dir.join(format!("validator-{VICTIM}/node.log"))).unwrap();
    assert!(
        log.contains("read the ledger back from the store"),
        "the restart is logged"
    );

    for sender in senders {
        sender.await.unwrap();
    }
    assert_eq!(acknowledged.load(Ordering::SeqCst), total);

    // Every acknowledged transfer is applied exactly once, on every node.
    let wallets: Vec<types::AccountId> = SENDERS
        .iter()
        .map(|name| {
            let keystore = Keystore::load(&dir.join(format!("wallets/{name}.json"))).unwrap();
            types::AccountId::parse(keystore.address()).unwrap()
        })
        .collect();
    let expected: u128 = (0..TRANSFERS_PER_SENDER)
        .map(|i| 1_000 + u128::from(i))
        .sum();
    for index in 0..4 {
        let client = rpc(index);
        let wallets = wallets.clone();
        let recipients = recipients.clone();
        wait_until(
            &format!("validator {index} to apply every transfer"),
            300,
            move || {
                let client = client.clone();
                let wallets = wallets.clone();
                let recipients = recipients.clone();
                async move {
                    for (sender, recipient) in wallets.iter().zip(&recipients) {
                        let Ok(account) = client.account(sender).await else {
                            return false;
                        };
                        // Profile-free senders start at nonce 0, so the nonce counts their transfers.
                        if account.nonce < TRANSFERS_PER_SENDER {
                            return false;
                        }
                        let Ok(received) = client.account(recipient).await else {
                            return false;
                        };
                        if received.minor_units("USDX") != expected {
                            return false;
                        }
                    }
                    true
                }
            },
        )
        .await;
    }
    for (sender, recipient) in wallets.iter().zip(&recipients) {
        for index in 0..4 {
            let client = rpc(index);
            assert_eq!(
                client.account(sender).await.unwrap().nonce,
                TRANSFERS_PER_SENDER
            );
            assert_eq!(
                client.account(recipient).await.unwrap().minor_units("USDX"),
                expected
            );
        }
    }

    // The account history survives the kill: on the restarted validator, each sender's
    // history lists every one of its transfers once, as validator 0's does.
    for sender in &wallets {
        let reference = full_history(0, sender).await;
        let transfers = reference
            .iter()
            .filter(|(_, call)| call == "bank.transfer")
            .count();
        assert_eq!(transfers as u64, TRANSFERS_PER_SENDER, "validator 0");
        let mut ids: Vec<&String> = reference.iter().map(|(id, _)| id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), reference.len(), "no transaction listed twice");
        assert_eq!(full_history(VICTIM, sender).await, reference);
    }

    // The restarted validator keeps in memory only the blocks it finalized since it came back;
    // the receipts of the transfers before them come from its on-disk history, as validator 0
    // (never stopped, every block in memory) gives them.
    let mut from_disk = Vec::new();
    for sender in &wallets {
        for (id, _) in full_history(0, sender).await {
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(id.trim_start_matches("0x"), &mut bytes).unwrap();
            let tx = types::Digest(bytes);
            let reference = rpc(0).receipt(&tx).await.unwrap().expect("in memory on 0");
            if rpc(VICTIM).block(reference.height).await.unwrap().is_some() {
                continue;
            }
            let receipt = rpc(VICTIM).receipt(&tx).await.unwrap();
            assert_eq!(receipt.as_ref(), Some(&reference), "{id}");
            from_disk.push(reference);
        }
    }
    assert!(
        from_disk.len() as u64 >= total / 4,
        "only {} receipts were of blocks the restarted validator no longer holds in memory",
        from_disk.len()
    );
    let oldest = &from_disk[from_disk.len() - 1];
    let output = Command::new(env!("CARGO_BIN_EXE_equa"))
        .args([
            "--rpc",
            &format!("http://127.0.0.1:{}", RPC_PORT + VICTIM as u16),
        ])
        .args(["--json", "tx", "show", &oldest.tx_id])
        .env_remove("EQUA_RPC")
        .env_remove("EQUA_WALLET")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["tx_id"], oldest.tx_id.as_str(), "{shown}");
    assert_eq!(shown["height"], oldest.height, "{shown}");

    // The same block and state root at one height everywhere, the restarted node included.
    let common = height(0).await.unwrap();
    for index in 0..4 {
        wait_until("every node to reach the same height", 300, || async move {
            height(index).await.is_some_and(|h| h >= common)
        })
        .await;
    }
    let reference = rpc(0)
        .block(common)
        .await
        .unwrap()
        .expect("recent block kept");
    for index in 1..4 {
        let block = rpc(index)
            .block(common)
            .await
            .unwrap()
            .expect("recent block kept");
        assert_eq!(block.digest, reference.digest, "validator {index}");
        assert_eq!(block.state_root, reference.state_root, "validator {index}");
    }
}
