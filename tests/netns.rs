//! Four `equa node` validators on a hostile network: each in its own Linux network namespace,
//! every packet between two of them delayed 50 ms ± 10 ms and 2 % of them lost (see
//! `common/netns.rs` for how, and why not `tc netem`). Under a steady load of transfers, one after
//! the other: a 1|3 partition and its heal, a 2|2 partition (which must stall finality) and its
//! heal, a validator paused with SIGSTOP and resumed, and a validator killed with SIGKILL and
//! restarted. After each fault:
//! - every finalized block seen before it has the same digest at the same height on every node;
//! - finalization resumes on every node within [`RESUME_BOUND`] (the measured times are printed);
//!
//! and at the end every transfer the JSON-RPC acknowledged is applied exactly once on every node
//! (each sender's nonce and each recipient's balance are exact).
//!
//! It needs root (network namespaces) and fails saying so without it, unless `EQUA_SKIP_NETNS=1`
//! asks explicitly to skip it.

#[path = "common/netns.rs"]
mod netns;

use client::{Keystore, keys::Wallet, tx::sign_call};
use netns::{Impairment, Network};
use rpc::{RpcClient, client::ClientError};
use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};
use types::{AccountId, AssetId, Call, ChainId, bank::BankCall, bank::Transfer};

const VALIDATORS: usize = 4;
/// Ports inside the namespaces, where nothing else listens.
const RPC_PORT: u16 = 16_545;
const P2P_PORT: u16 = 16_600;
/// Each demo wallet sends transfers through one of these validators, never paused or killed.
const SENDERS: [(&str, usize); 4] = [("alice", 0), ("bob", 1), ("carol", 0), ("dave", 1)];
/// Transfers a sender keeps in flight.
const WINDOW: u64 = 8;
/// How long after a fault ends every validator must have finalized a new block.
const RESUME_BOUND: Duration = Duration::from_secs(60);
/// Blocks the others must finalize while a validator is cut off, paused or dead.
const PROGRESS: u64 = 10;

/// The validators and their network; dropping it kills them and removes the namespaces.
struct Cluster {
    dir: PathBuf,
    children: Vec<Option<Child>>,
    // Declared last: the processes go before their namespaces.
    network: Network,
}

impl Cluster {
    fn start() -> Self {
        let network = Network::create(
            VALIDATORS,
            Impairment {
                delay_ms: 50,
                jitter_ms: 10,
                loss_per_mille: 20,
            },
        );
        let dir = std::env::temp_dir().join(format!("equa-netns-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let hosts: Vec<String> = (0..VALIDATORS)
            .map(|index| network.address(index).to_string())
            .collect();
        let output = Command::new(env!("CARGO_BIN_EXE_equa"))
            .args(["devnet", "--init-only", "--dir", dir.to_str().unwrap()])
            .args(["--validators", &VALIDATORS.to_string()])
            .args(["--hosts", &hosts.join(",")])
            .args(["--rpc-port", &RPC_PORT.to_string()])
            .args(["--p2p-port", &P2P_PORT.to_string()])
            .args(["--web-port", &(RPC_PORT + 100).to_string()])
            .args(["--metrics-port", &(RPC_PORT + 200).to_string()])
            // An idle leader proposes soon, so resuming is not hidden behind the idle wait.
            .args(["--idle-block-interval-ms", "200"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut cluster = Self {
            dir,
            children: Vec::new(),
            network,
        };
        for index in 0..VALIDATORS {
            let child = cluster.spawn(index);
            cluster.children.push(Some(child));
        }
        cluster
    }

    fn spawn(&self, index: usize) -> Child {
        let config = self.dir.join(format!("validator-{index}/node.toml"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(config.with_file_name("node.log"))
            .unwrap();
        self.network
            .command(index, std::path::Path::new(env!("CARGO_BIN_EXE_equa")))
            .args(["node", "--config", config.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("a validator starts")
    }

    fn rpc(&self, index: usize) -> RpcClient {
        RpcClient::new(&format!(
            "http://{}:{}",
            self.network.address(index),
            RPC_PORT + index as u16
        ))
        .unwrap()
    }

    fn signal(&self, index: usize, signal: &str) {
        let pid = self.children[index].as_ref().expect("running").id();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {pid}");
    }

    fn kill(&mut self, index: usize) {
        let mut child = self.children[index].take().expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    fn restart(&mut self, index: usize) {
        assert!(self.children[index].is_none());
        self.children[index] = Some(self.spawn(index));
    }

    fn wallet(&self, name: &str) -> Wallet {
        Keystore::load(&self.dir.join(format!("wallets/{name}.json")))
            .unwrap()
            .decrypt("devnet")
            .unwrap()
    }

    async fn height(&self, index: usize) -> Option<u64> {
        self.rpc(index)
            .status()
            .await
            .ok()
            .map(|status| status.height)
    }

    /// Each of `nodes`' finalized height and the highest finalization it has heard of (its
    /// certificate, perhaps before the block).
    async fn heard(&self, nodes: &[usize]) -> Vec<(u64, u64)> {
        let mut heard = Vec::new();
        for &index in nodes {
            let status = self.rpc(index).status().await.ok();
            heard.push(status.map_or((0, 0), |s| (s.height, s.target_height)));
        }
        heard
    }

    /// The highest finalized height among `nodes`.
    async fn highest(&self, nodes: &[usize]) -> u64 {
        let mut highest = 0;
        for &index in nodes {
            highest = highest.max(self.height(index).await.unwrap_or(0));
        }
        highest
    }

    /// Waits until every one of `nodes` has finalized a block above `height`.
    async fn wait_above(&self, nodes: &[usize], height: u64, bound: Duration, what: &str) {
        let deadline = Instant::now() + bound;
        for &index in nodes {
            while self.height(index).await.is_none_or(|h| h <= height) {
                assert!(
                    Instant::now() < deadline,
                    "{what}: validator {index} did not finalize a block above {height} within {} s \
                     (it is at {:?})",
                    bound.as_secs(),
                    self.height(index).await
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            // SIGKILL ends a stopped process too.
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("the validators' logs are kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The finalized blocks seen so far: height to digest.
#[derive(Default)]
struct Seen(BTreeMap<u64, String>);

impl Seen {
    /// Records every block up to the lowest height all of `nodes` have finalized, as validator
    /// 0 reports it, and checks that each of `nodes` reports the same. Returns that height.
    async fn record(&mut self, cluster: &Cluster, nodes: &[usize]) -> u64 {
        let mut lowest = u64::MAX;
        for &index in nodes {
            lowest = lowest.min(cluster.height(index).await.expect("answers"));
        }
        let first = self.0.keys().next_back().map_or(1, |last| last + 1);
        for height in first..=lowest {
            let block = cluster.rpc(0).block(height).await.unwrap();
            let block = block.unwrap_or_else(|| panic!("validator 0 lost block {height}"));
            self.0.insert(height, block.digest);
        }
        self.verify(cluster, nodes, "before the fault").await;
        lowest
    }

    /// Every recorded block is unchanged on each of `nodes`. A node serves the blocks it
    /// finalized since it started (a restarted one not those before), so a node's history is
    /// also checked through the first block it serves: that block extends the recorded chain,
    /// parent by parent (each digest commits to its parent), as validator 0 reports the blocks
    /// in between.
    async fn verify(&self, cluster: &Cluster, nodes: &[usize], when: &str) {
        let Some((&last, _)) = self.0.iter().next_back() else {
            return;
        };
        for &index in nodes {
            let client = cluster.rpc(index);
            let mut first_served = None;
            for (height, digest) in &self.0 {
                match client.block(*height).await.unwrap() {
                    Some(block) => {
                        assert_eq!(
                            &block.digest, digest,
                            "{when}: validator {index}'s finalized block at height {height}"
                        );
                        first_served.get_or_insert(block);
                    }
                    None => assert!(
                        first_served.is_none(),
                        "{when}: validator {index} serves a block below {height} but not {height}"
                    ),
                }
            }
            let first = match first_served {
                Some(block) => block,
                None => {
                    let top = cluster.height(index).await.expect("answers");
                    let mut found = None;
                    for height in last + 1..=top {
                        if let Some(block) = client.block(height).await.unwrap() {
                            found = Some(block);
                            break;
                        }
                    }
                    found.unwrap_or_else(|| {
                        panic!("{when}: validator {index} serves no block up to {top}")
                    })
                }
            };
            // The chain from the last recorded block up to `first`, as validator 0 reports it.
            let mut parent = self.0.get(&(first.height - 1)).cloned();
            if first.height > last + 1 {
                let mut digest = self.0[&last].clone();
                for height in last + 1..first.height {
                    let block = cluster.rpc(0).block(height).await.unwrap();
                    let block = block.unwrap_or_else(|| panic!("validator 0 lost block {height}"));
                    assert_eq!(
                        block.parent, digest,
                        "validator 0's block {height}'s parent"
                    );
                    digest = block.digest;
                }
                parent = Some(digest);
            }
            if first.height > 1 {
                assert_eq!(
                    Some(&first.parent),
                    parent.as_ref(),
                    "{when}: validator {index}'s block {} does not extend the recorded chain",
                    first.height
                );
            }
        }
    }
}

/// Sends transfers from `wallet` to `to` through `client` until `stop`, at most `WINDOW` in
/// flight; transfer `i` moves `1_000 + i` minor units of USDX. Returns the first nonce and how
/// many transfers the node acknowledged.
async fn send_transfers(
    wallet: Wallet,
    to: AccountId,
    client: RpcClient,
    stop: Arc<AtomicBool>,
) -> (u64, u64) {
    let status = client.status().await.unwrap();
    let chain_id = ChainId::new(&status.chain_id).unwrap();
    let params = client.params().await.unwrap().to_params().unwrap();
    let first_nonce = client.account(&wallet.account()).await.unwrap().nonce;
    let mut acknowledged = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let confirmed = client.account(&wallet.account()).await.unwrap().nonce;
        if first_nonce + acknowledged >= confirmed + WINDOW {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let height = client.status().await.unwrap().height;
        let call = Call::Bank(BankCall::Transfer(Transfer {
            to,
            asset: AssetId(1),
            amount: 1_000 + u128::from(acknowledged),
        }));
        let nonce = first_nonce + acknowledged;
        let tx = sign_call(&wallet, chain_id.clone(), nonce, height, &params, call).unwrap();
        loop {
            match client.send(&tx).await {
                Ok(_) => {
                    acknowledged += 1;
                    break;
                }
                // The pool is full for now (a stalled chain): offer it again, or stop.
                Err(ClientError::Rpc { code, .. }) if code == rpc::code::BUSY => {
                    if stop.load(Ordering::SeqCst) {
                        return (first_nonce, acknowledged);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(other) => panic!("transfer with nonce {nonce} was refused: {other}"),
            }
        }
    }
    (first_nonce, acknowledged)
}

fn seconds(duration: Duration) -> String {
    format!("{:.2} s", duration.as_secs_f64())
}

/// Prints how long finalization took to resume after a fault, and keeps it for the summary.
fn report(figures: &mut Vec<(&'static str, Duration)>, what: &'static str, took: Duration) {
    println!(
        "netns: {what}: every validator finalized a new block after {}",
        seconds(took)
    );
    figures.push((what, took));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validators_on_a_hostile_network_lose_nothing_and_resume_after_every_fault() {
    if std::env::var("EQUA_SKIP_NETNS").as_deref() == Ok("1") {
        eprintln!("skipped: EQUA_SKIP_NETNS=1");
        return;
    }
    if let Err(missing) = netns::supported() {
        panic!("{missing} (set EQUA_SKIP_NETNS=1 to skip this test explicitly)");
    }
    let started = Instant::now();
    let mut cluster = Cluster::start();
    let all = [0, 1, 2, 3];
    cluster
        .wait_above(&all, 2, Duration::from_secs(120), "start")
        .await;
    println!(
        "netns: four validators finalizing after {}",
        seconds(started.elapsed())
    );

    // A steady load through validators 0 and 1 for the whole run.
    let stop = Arc::new(AtomicBool::new(false));
    let mut recipients = Vec::new();
    let mut load = Vec::new();
    for (name, via) in SENDERS {
        let recipient = Wallet::generate("").0.account();
        recipients.push(recipient);
        load.push(tokio::spawn(send_transfers(
            cluster.wallet(name),
            recipient,
            cluster.rpc(via),
            stop.clone(),
        )));
    }
    let mut seen = Seen::default();
    let mut figures: Vec<(&str, Duration)> = Vec::new();

    // 1|3: validator 3 alone. The three others keep finalizing; it cannot.
    let before = seen.record(&cluster, &all).await;
    cluster.network.partition(&[&[3], &[0, 1, 2]]);
    let cut = cluster.highest(&all).await;
    cluster
        .wait_above(
            &[0, 1, 2],
            cut + PROGRESS,
            Duration::from_secs(120),
            "1|3, the three",
        )
        .await;
    let alone = cluster.height(3).await.unwrap();
    // Votes already on their way when the link was cut may still finish a block or two.
    assert!(
        alone <= cut + 2,
        "validator 3, cut off at height {cut}, finalized up to {alone} alone"
    );
    let stalled = cluster.highest(&all).await;
    cluster.network.heal();
    let healed = Instant::now();
    cluster
        .wait_above(&all, stalled, RESUME_BOUND, "after the 1|3 heal")
        .await;
    report(&mut figures, "1|3 partition healed", healed.elapsed());
    seen.verify(&cluster, &all, "after the 1|3 partition").await;
    assert!(before > 0);

    // 2|2: no side has a quorum, so nothing is finalized until the heal.
    seen.record(&cluster, &all).await;
    cluster.network.partition(&[&[0, 1], &[2, 3]]);
    let cut = cluster.highest(&all).await;
    // Wait for the blocks already under way to settle: two seconds in which no node's finalized
    // height, nor the highest finalization it has heard of, moves. A node behind (validator 3
    // is still catching up from the 1|3 cut) keeps moving while it fetches, from its own side,
    // blocks finalized before this cut, and may hold the certificate of a block whose votes were
    // on their way at the cut that no other node has.
    let settle = Instant::now() + Duration::from_secs(30);
    let mut heard = cluster.heard(&all).await;
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_secs(2) {
        assert!(
            Instant::now() < settle,
            "2|2: finalization did not stall ({heard:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = cluster.heard(&all).await;
        if now != heard {
            heard = now;
            quiet_since = Instant::now();
        }
    }
    // Then no node goes above what was finalized or under way at the cut for ten seconds: the
    // highest height any node has finalized or heard of, and at most the two blocks whose votes
    // may have been in flight (as in the 1|3 cut). A chain that kept a quorum would pass that in
    // a few seconds.
    let heard_of = heard
        .iter()
        .map(|(height, target)| *height.max(target))
        .max()
        .unwrap_or(0);
    let last = heard_of.max(cut + 2);
    let stall = Instant::now();
    while stall.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        for index in all {
            let now = cluster.height(index).await.unwrap();
            assert!(
                now <= last,
                "2|2: validator {index} finalized block {now} above {last} without a quorum \
                 (cut at {cut}; settled at {heard:?})"
            );
        }
    }
    cluster.network.heal();
    let healed = Instant::now();
    cluster
        .wait_above(&all, last, RESUME_BOUND, "after the 2|2 heal")
        .await;
    report(&mut figures, "2|2 partition healed", healed.elapsed());
    seen.verify(&cluster, &all, "after the 2|2 partition").await;

    // Validator 2 paused (SIGSTOP): it leads every fourth view, which the others must skip.
    seen.record(&cluster, &all).await;
    cluster.signal(2, "STOP");
    let others = [0, 1, 3];
    let cut = cluster.highest(&others).await;
    cluster
        .wait_above(
            &others,
            cut + PROGRESS,
            Duration::from_secs(120),
            "validator 2 paused",
        )
        .await;
    let stalled = cluster.highest(&others).await;
    cluster.signal(2, "CONT");
    let resumed = Instant::now();
    cluster
        .wait_above(&all, stalled, RESUME_BOUND, "after SIGCONT")
        .await;
    report(
        &mut figures,
        "validator 2 resumed (SIGCONT)",
        resumed.elapsed(),
    );
    seen.verify(&cluster, &all, "after the pause").await;

    // Validator 3 killed with SIGKILL under load, then restarted.
    seen.record(&cluster, &all).await;
    cluster.kill(3);
    let cut = cluster.highest(&[0, 1, 2]).await;
    cluster
        .wait_above(
            &[0, 1, 2],
            cut + PROGRESS,
            Duration::from_secs(120),
            "validator 3 dead",
        )
        .await;
    let stalled = cluster.highest(&[0, 1, 2]).await;
    cluster.restart(3);
    let restarted = Instant::now();
    cluster
        .wait_above(&all, stalled, RESUME_BOUND, "after the restart")
        .await;
    report(
        &mut figures,
        "validator 3 restarted after SIGKILL",
        restarted.elapsed(),
    );
    seen.verify(&cluster, &all, "after the kill").await;

    // Every acknowledged transfer applied exactly once, on every node.
    stop.store(true, Ordering::SeqCst);
    let mut sent = Vec::new();
    for task in load {
        sent.push(task.await.unwrap());
    }
    let senders: Vec<AccountId> = SENDERS
        .iter()
        .map(|(name, _)| cluster.wallet(name).account())
        .collect();
    for index in all {
        let client = cluster.rpc(index);
        for ((sender, recipient), (first_nonce, acknowledged)) in
            senders.iter().zip(&recipients).zip(&sent)
        {
            let deadline = Instant::now() + Duration::from_secs(120);
            while client.account(sender).await.unwrap().nonce < first_nonce + acknowledged {
                assert!(
                    Instant::now() < deadline,
                    "validator {index} did not apply {sender}'s {acknowledged} acknowledged transfers"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let expected: u128 = (0..*acknowledged).map(|i| 1_000 + u128::from(i)).sum();
            assert_eq!(
                client.account(sender).await.unwrap().nonce,
                first_nonce + acknowledged,
                "validator {index}: {sender}'s nonce"
            );
            assert_eq!(
                client.account(recipient).await.unwrap().minor_units("USDX"),
                expected,
                "validator {index}: what {sender}'s recipient received"
            );
        }
    }
    seen.record(&cluster, &all).await;
    let total: u64 = sent.iter().map(|(_, acknowledged)| acknowledged).sum();
    assert!(total > 0, "the load sent nothing");

    println!(
        "netns: {total} acknowledged transfers applied exactly once; {} finalized blocks \
         identical on every node; {} in all; resumed after {}",
        seen.0.len(),
        seconds(started.elapsed()),
        figures
            .iter()
            .map(|(what, took)| format!("{what}: {}", seconds(*took)))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
