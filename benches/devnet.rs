//! Throughput and latency of a four-validator devnet on this machine: four `equa node`
//! processes (the release build) on loopback, fed signed transfers through JSON-RPC.
//!
//! 1. Throughput: 256 funded senders' transfers, signed before the clock starts, are submitted
//!    64 at a time (`equa_sendTransactions`, one signature batch each) to all four validators as
//!    fast as they are admitted; the rate is the transfers in finalized blocks per second of the
//!    measured window.
//!    Disk: what validator 0's data directory grew by, partition by partition, from before the
//!    window until every submitted transfer is finalized, and that scaled to a million
//!    transfers (no block is pruned in a run this short: see `retained_blocks`).
//! 2. Latency: single transfers at half that rate; each one's time from submission until a block
//!    containing it is finalized on the validator it was sent to (p50, p99).
//! 3. Epoch change: at a quarter of that rate, the time between validator 0 reporting two
//!    consecutive finalized heights, for the first block of an epoch (the key reshared, a new
//!    consensus engine started) against every other block, over `EPOCH_BOUNDARIES` boundaries.
//!
//! `cargo bench --bench devnet` (set `EQUA_BENCH_SECS` to change the measured window,
//! `EQUA_BENCH_BIN` to measure another build of `equa`, such as an earlier release, and
//! `EQUA_BENCH_EPOCH_BLOCKS` to give the devnet's genesis epochs of that many blocks in place of
//! its 32, up to 100,000 (the default retention, plus two): then no epoch changes during the run;
//! `EQUA_BENCH_KEEP=1` keeps the devnet's directory and its validators' logs).

#[path = "support/load.rs"]
mod load;
use client::{Keystore, keys::Wallet};
use load::{Sender, Signer, nonce, submit_windowed};
use rpc::RpcClient;
use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use types::{AccountId, ChainId, SignedTransaction};

const RPC_PORT: u16 = 15_545;
const P2P_PORT: u16 = 15_300;
const SENDERS: usize = 256;
/// Epoch boundaries the epoch-change measurement waits for.
const EPOCH_BOUNDARIES: usize = 4;

/// The `equa` binary measured: `EQUA_BENCH_BIN`, or this build's.
fn equa() -> PathBuf {
    std::env::var_os("EQUA_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_equa")))
}

struct Validators(Vec<Child>, PathBuf);

impl Drop for Validators {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
        // `EQUA_BENCH_KEEP=1` keeps the devnet's directory, with each validator's node.log.
        if std::env::var_os("EQUA_BENCH_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.1);
        }
    }
}

fn start(dir: &Path) -> Validators {
    let _ = std::fs::remove_dir_all(dir);
    let status = Command::new(equa())
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
    if let Some(blocks) = std::env::var_os("EQUA_BENCH_EPOCH_BLOCKS") {
        let blocks = blocks
            .to_str()
            .and_then(|b| b.parse::<u64>().ok())
            .expect("a number of blocks");
        let genesis = dir.join("genesis.toml");
        let text = std::fs::read_to_string(&genesis).unwrap();
        let text: Vec<String> = text
            .lines()
            .map(|line| {
                if line.starts_with("blocks_per_epoch = ") {
                    format!("blocks_per_epoch = {blocks}")
                } else {
                    line.to_string()
                }
            })
            .collect();
        assert!(
            text.contains(&format!("blocks_per_epoch = {blocks}")),
            "the devnet's genesis sets blocks_per_epoch"
        );
        std::fs::write(&genesis, text.join("\n") + "\n").unwrap();
    }
    let children = (0..4)
        .map(|index| {
            let config = dir.join(format!("validator-{index}/node.toml"));
            let log = std::fs::File::create(config.with_file_name("node.log")).unwrap();
            Command::new(equa())
                .args(["node", "--config", config.to_str().unwrap()])
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap()
        })
        .collect();
    Validators(children, dir.to_path_buf())
}

fn rpc(index: usize) -> RpcClient {
    RpcClient::new(&format!("http://127.0.0.1:{}", RPC_PORT + index as u16)).unwrap()
}

/// Transfers in finalized blocks on validator 0 with timestamps in `[from_ms, to_ms)`.
async fn finalized_between(from_height: u64, to_height: u64) -> (u64, u64, u64) {
    let client = rpc(0);
    let mut count = 0;
    let (mut first_ms, mut last_ms) = (u64::MAX, 0);
    for height in from_height..=to_height {
        if let Some(block) = client.block(height).await.unwrap() {
            count += block.transactions.len() as u64;
            first_ms = first_ms.min(block.timestamp_ms);
            last_ms = last_ms.max(block.timestamp_ms);
        }
    }
    (count, first_ms, last_ms)
}

fn main() {
    let seconds: u64 = std::env::var("EQUA_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let dir = std::env::temp_dir().join(format!("equa-bench-{}", std::process::id()));
    let _validators = start(&dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let deadline = Instant::now() + Duration::from_secs(60);
        while rpc(0).status().await.map_or(true, |s| s.height < 2) {
            assert!(Instant::now() < deadline, "the devnet did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let status = rpc(0).status().await.unwrap();
        let signer = Arc::new(Signer {
            chain_id: ChainId::new(&status.chain_id).unwrap(),
            params: rpc(0).params().await.unwrap().to_params().unwrap(),
            expires_at_height: status.height + node::mempool::MAX_EXPIRY_BLOCKS / 2,
        });

        // Fund 256 senders from the four demo wallets (EQA for fees, USDX to send).
        let demo: Vec<Sender> = ["alice", "bob", "carol", "dave"]
            .iter()
            .map(|name| Sender::from(&Keystore::load(&dir.join(format!("wallets/{name}.json"))).unwrap().decrypt("devnet").unwrap()))
            .collect();
        let senders: Vec<Sender> = (0..SENDERS).map(|_| Sender::from(&Wallet::generate("").0)).collect();
        let mut funding = Vec::new();
        for (index, funder) in demo.iter().enumerate() {
            let first = nonce(&rpc(index), &funder.account).await;
            let mut txs = Vec::new();
            for (k, sender) in senders.iter().skip(index).step_by(4).enumerate() {
                let k = k as u64;
                txs.push(signer.transfer(funder, first + 2 * k, sender.account, 0, 10_000_000_000));
                txs.push(signer.transfer(funder, first + 2 * k + 1, sender.account, 1, 1_000_000_000));
            }
            funding.push(tokio::spawn(submit_windowed(rpc(index), funder.account, first, txs)));
        }
        for task in funding {
            task.await.unwrap();
        }
        println!("funded {SENDERS} senders");

        // Throughput: everything signed first, then submitted as fast as the pools take it.
        let per_sender = (20_000 * seconds as usize / SENDERS).max(1) as u64;
        let sink = Wallet::generate("").0.account();
        let signing = Instant::now();
        let signed: Vec<Vec<SignedTransaction>> = senders
            .iter()
            .map(|sender| (0..per_sender).map(|n| signer.transfer(sender, n, sink, 1, 1)).collect())
            .collect();
        let total = per_sender * SENDERS as u64;
        println!("signed {total} transfers in {:.1} s", signing.elapsed().as_secs_f64());
        let data_dir = dir.join("validator-0/data");
        let disk_before = disk_by_part(&data_dir);
        let start_height = rpc(0).status().await.unwrap().height;
        let started = Instant::now();
        let tasks: Vec<_> = senders
            .iter()
            .zip(signed)
            .enumerate()
            .map(|(index, (sender, txs))| tokio::spawn(submit_windowed(rpc(index % 4), sender.account, 0, txs)))
            .collect();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let end_height = rpc(0).status().await.unwrap().height;
        let window = started.elapsed();
        for task in tasks {
            task.abort();
        }
        let (count, first_ms, last_ms) = finalized_between(start_height + 1, end_height).await;
        let rate = count as f64 / window.as_secs_f64();
        println!(
            "throughput: {count} transfers finalized in {:.1} s ({} blocks, {:.1} s of block time): \
             {rate:.0} transfers/s on {cores} cores",
            window.as_secs_f64(),
            end_height - start_height,
            (last_ms.saturating_sub(first_ms)) as f64 / 1000.0
        );

        // Let every pool drain before measuring latency.
        let drain = Instant::now() + Duration::from_secs(300);
        for index in 0..4 {
            while rpc(index).status().await.unwrap().mempool_size > 0 {
                assert!(Instant::now() < drain, "the pools did not drain");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        // A pool lets go of a transaction once a proposal holds it, before that block is
        // final: read the nonces only after two more blocks, so none is taken again.
        let drained = rpc(0).status().await.unwrap().height;
        while rpc(0).status().await.unwrap().height < drained + 2 {
            assert!(Instant::now() < drain, "the chain stopped after the pools drained");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (stored, _, _) = finalized_between(start_height + 1, drained + 2).await;
        report_disk(stored, &disk_before, &disk_by_part(&data_dir));

        // Latency at half the measured rate: each transfer timed from submission until the
        // validator it went to reports a finalized block containing it.
        let target = (rate / 2.0).max(1.0);
        let mut nonces = Vec::new();
        for sender in &senders {
            nonces.push(nonce(&rpc(0), &sender.account).await);
        }
        let count = (target * seconds.min(10) as f64) as usize;
        let interval = Duration::from_secs_f64(1.0 / target);
        let measured = latencies(&signer, &senders, &mut nonces, sink, interval, count).await;
        report(&format!("latency at {target:.0} transfers/s"), count, measured);

        // Latency of a lone transfer on an otherwise idle chain: sent 2.5 s apart, so each
        // reaches leaders that have nothing else to propose.
        let count = seconds.clamp(4, 20) as usize;
        let interval = Duration::from_millis(2_500);
        let measured = latencies(&signer, &senders, &mut nonces, sink, interval, count).await;
        report("latency of a lone transfer, 2.5 s apart", count, measured);

        let blocks_per_epoch = rpc(0).staking(None).await.unwrap().params.blocks_per_epoch;
        let load = {
            let signer = signer.clone();
            let interval = Duration::from_secs_f64(4.0 / target.max(4.0));
            tokio::spawn(async move {
                let client = rpc(0);
                let mut next = Instant::now();
                let mut nonces = nonces;
                for i in 0.. {
                    let who = i % senders.len();
                    let tx = signer.transfer(&senders[who], nonces[who], sink, 1, 1);
                    nonces[who] += 1;
                    tokio::time::sleep_until(next.into()).await;
                    next += interval;
                    let _ = client.send(&tx).await;
                }
            })
        };
        let (boundary, other) = block_gaps(blocks_per_epoch).await;
        load.abort();
        report_gaps(blocks_per_epoch, boundary, other);
    });
}

/// Bytes on disk under each entry of a data directory (its storage partitions), by the
/// entry's name.
fn disk_by_part(dir: &Path) -> BTreeMap<String, u64> {
    fn size(path: &Path) -> u64 {
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => std::fs::read_dir(path)
                .map(|entries| entries.flatten().map(|entry| size(&entry.path())).sum())
                .unwrap_or(0),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        }
    }
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| {
                    (
                        entry.file_name().to_string_lossy().into_owned(),
                        size(&entry.path()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What validator 0's data directory grew by while it finalized `transfers` transfers, by
/// partition, and scaled to a million transfers.
fn report_disk(transfers: u64, before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) {
    let mut parts: Vec<(String, i128)> = after
        .iter()
        .map(|(name, bytes)| {
            (
                name.clone(),
                *bytes as i128 - *before.get(name).unwrap_or(&0) as i128,
            )
        })
        .filter(|(_, grown)| *grown != 0)
        .collect();
    parts.sort_by_key(|(_, grown)| -grown);
    let total: i128 = parts.iter().map(|(_, grown)| grown).sum();
    let per_million = |bytes: i128| bytes as f64 * 1e6 / transfers.max(1) as f64 / 1e6;
    println!(
        "disk: validator 0's data grew {:.1} MB for {transfers} finalized transfers ({:.0} MB per million)",
        total as f64 / 1e6,
        per_million(total)
    );
    for (name, grown) in parts {
        println!(
            "  {name}: {:+.1} MB ({:+.0} MB per million)",
            grown as f64 / 1e6,
            per_million(grown)
        );
    }
}

/// The time between validator 0 reporting height `h - 1` and `h` finalized (polled every
/// millisecond), for `h` the first block of an epoch and for every other `h`, until
/// `EPOCH_BOUNDARIES` boundaries have passed (or two minutes).
async fn block_gaps(blocks_per_epoch: u64) -> (Vec<Duration>, Vec<Duration>) {
    let client = rpc(0);
    let (mut boundary, mut other) = (Vec::new(), Vec::new());
    let mut last = client.status().await.unwrap().height;
    // The first gap is measured from a height seen arriving, not from the start.
    while client.status().await.unwrap().height == last {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    last = client.status().await.unwrap().height;
    let mut seen = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(120);
    while boundary.len() < EPOCH_BOUNDARIES && Instant::now() < deadline {
        let height = client.status().await.unwrap().height;
        if height > last {
            let now = Instant::now();
            // Heights reported together share the gap; only a single step is attributed.
            if height == last + 1 {
                if height % blocks_per_epoch == 0 {
                    boundary.push(now - seen);
                } else {
                    other.push(now - seen);
                }
            }
            last = height;
            seen = now;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    (boundary, other)
}

fn report_gaps(blocks_per_epoch: u64, boundary: Vec<Duration>, mut other: Vec<Duration>) {
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    other.sort_unstable();
    let percentile = |p: usize| {
        other
            .get((other.len() * p / 100).min(other.len().saturating_sub(1)))
            .map_or(f64::NAN, ms)
    };
    println!(
        "epoch change ({blocks_per_epoch}-block epochs, at a quarter of the throughput): \
         gap before an epoch's first block {:?} ms; before other blocks p50 {:.1} ms, \
         p99 {:.1} ms, max {:.1} ms ({} blocks)",
        boundary
            .iter()
            .map(|d| (ms(d) * 10.0).round() / 10.0)
            .collect::<Vec<_>>(),
        percentile(50),
        percentile(99),
        other.last().map_or(f64::NAN, ms),
        other.len()
    );
}

/// Sends `count` transfers to validator 0, one every `interval`, and returns each one's time from
/// submission until validator 0 reports a finalized block containing it.
async fn latencies(
    signer: &Signer,
    senders: &[Sender],
    nonces: &mut [u64],
    sink: AccountId,
    interval: Duration,
    count: usize,
) -> Vec<Duration> {
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let measured: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let watcher = {
        let sent = sent.clone();
        let measured = measured.clone();
        tokio::spawn(async move {
            let client = rpc(0);
            let mut height = client.status().await.unwrap().height;
            loop {
                let now = client.status().await.unwrap().height;
                for h in height + 1..=now {
                    if let Some(block) = client.block(h).await.unwrap() {
                        let seen = Instant::now();
                        let sent = sent.lock().unwrap();
                        let mut measured = measured.lock().unwrap();
                        for tx in &block.transactions {
                            if let Some(at) = sent.get(tx) {
                                measured.push(seen - *at);
                            }
                        }
                    }
                }
                height = now;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let client = rpc(0);
    let mut next = Instant::now();
    for i in 0..count {
        let who = i % senders.len();
        let tx = signer.transfer(&senders[who], nonces[who], sink, 1, 1);
        nonces[who] += 1;
        tokio::time::sleep_until(next.into()).await;
        next += interval;
        let id = rpc::views::tx_id_hex(&tx.id());
        sent.lock().unwrap().insert(id, Instant::now());
        client.send(&tx).await.unwrap();
    }
    let wait = Instant::now() + Duration::from_secs(30);
    while measured.lock().unwrap().len() < count && Instant::now() < wait {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    watcher.abort();
    std::mem::take(&mut *measured.lock().unwrap())
}

/// Prints p50, p99 and the maximum of `measured`, out of `count` sent.
fn report(what: &str, count: usize, mut measured: Vec<Duration>) {
    measured.sort_unstable();
    let Some(max) = measured.last() else {
        println!("{what}: none of {count} finalized within 30 s");
        return;
    };
    let percentile = |p: usize| {
        measured[(measured.len() * p / 100).min(measured.len() - 1)].as_secs_f64() * 1000.0
    };
    println!(
        "{what}: {} of {count} finalized; p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        measured.len(),
        percentile(50),
        percentile(99),
        max.as_secs_f64() * 1000.0
    );
}
