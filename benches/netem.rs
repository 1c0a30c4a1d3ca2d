//! Finality and throughput of 4, 7 and 10 validators with 50 ms between any two of them: each
//! `equa node` (the release build) in its own network namespace, every packet between two
//! validators held 50 ms on the way (`tests/common/netns.rs`; no jitter or loss unless asked).
//!
//! For each size:
//! 1. Throughput: 128 funded senders' transfers, signed before the clock starts, submitted 64 at
//!    a time to every validator in turn as fast as the pools admit them; the rate is the
//!    transfers in finalized blocks per second of the measured window.
//! 2. Finality: single transfers at half that rate, to validator 0; each one's time from
//!    submission until validator 0 reports a finalized block containing it (p50, p99); then
//!    the same for lone transfers, one a second.
//!
//! Needs root. `cargo bench --bench netem`; `EQUA_BENCH_VALIDATORS` (default `4,7,10`),
//! `EQUA_BENCH_SECS` (the measured window, default 10), `EQUA_BENCH_DELAY_MS` (default 50),
//! `EQUA_BENCH_JITTER_MS` and `EQUA_BENCH_LOSS_PER_MILLE` (default 0), and `EQUA_BENCH_BIN` to
//! measure another build of `equa`.

#[path = "../tests/common/netns.rs"]
mod netns;

#[path = "support/load.rs"]
mod load;
use client::{Keystore, keys::Wallet};
use load::{Sender, Signer, nonce, submit_windowed};
use netns::{Impairment, Network};
use rpc::RpcClient;
use std::{
    collections::HashMap,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use types::{AccountId, ChainId, SignedTransaction};

const RPC_PORT: u16 = 14_545;
const P2P_PORT: u16 = 14_600;
const SENDERS: usize = 128;

fn equa() -> PathBuf {
    std::env::var_os("EQUA_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_equa")))
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// The validators and their network; dropping it kills them and removes the namespaces.
struct Validators {
    children: Vec<Child>,
    dir: PathBuf,
    network: Network,
}

impl Drop for Validators {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Validators {
    fn start(count: usize, impairment: Impairment) -> Self {
        let network = Network::create(count, impairment);
        let dir = std::env::temp_dir().join(format!("equa-netem-{}-{count}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let hosts: Vec<String> = (0..count)
            .map(|index| network.address(index).to_string())
            .collect();
        let status = Command::new(equa())
            .args(["devnet", "--init-only", "--dir", dir.to_str().unwrap()])
            .args(["--validators", &count.to_string()])
            .args(["--hosts", &hosts.join(",")])
            .args(["--rpc-port", &RPC_PORT.to_string()])
            .args(["--p2p-port", &P2P_PORT.to_string()])
            .args(["--web-port", &(RPC_PORT + 100).to_string()])
            .args(["--metrics-port", &(RPC_PORT + 200).to_string()])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let children = (0..count)
            .map(|index| {
                let config = dir.join(format!("validator-{index}/node.toml"));
                let log = std::fs::File::create(config.with_file_name("node.log")).unwrap();
                network
                    .command(index, &equa())
                    .args(["node", "--config", config.to_str().unwrap()])
                    .stdin(Stdio::null())
                    .stdout(log.try_clone().unwrap())
                    .stderr(log)
                    .spawn()
                    .unwrap()
            })
            .collect();
        Self {
            children,
            dir,
            network,
        }
    }

    fn rpc(&self, index: usize) -> RpcClient {
        let index = index % self.children.len();
        RpcClient::new(&format!(
            "http://{}:{}",
            self.network.address(index),
            RPC_PORT + index as u16
        ))
        .unwrap()
    }

    fn wallet(&self, name: &str) -> Wallet {
        Keystore::load(&self.dir.join(format!("wallets/{name}.json")))
            .unwrap()
            .decrypt("devnet")
            .unwrap()
    }
}

fn main() {
    let seconds = env_u64("EQUA_BENCH_SECS", 10);
    let impairment = Impairment {
        delay_ms: env_u64("EQUA_BENCH_DELAY_MS", 50),
        jitter_ms: env_u64("EQUA_BENCH_JITTER_MS", 0),
        loss_per_mille: env_u64("EQUA_BENCH_LOSS_PER_MILLE", 0),
    };
    let sizes: Vec<usize> = std::env::var("EQUA_BENCH_VALIDATORS")
        .unwrap_or_else(|_| "4,7,10".into())
        .split(',')
        .map(|size| size.trim().parse().expect("EQUA_BENCH_VALIDATORS: numbers"))
        .collect();
    if let Err(missing) = netns::supported() {
        panic!("{missing}");
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "one-way delay between validators {} ms ± {} ms, loss {}/1000, on {cores} cores",
        impairment.delay_ms, impairment.jitter_ms, impairment.loss_per_mille
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for size in sizes {
        let validators = Validators::start(size, impairment);
        runtime.block_on(measure(&validators, size, seconds));
    }
}

async fn measure(validators: &Validators, size: usize, seconds: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    for index in 0..size {
        while validators
            .rpc(index)
            .status()
            .await
            .map_or(true, |s| s.height < 2)
        {
            assert!(Instant::now() < deadline, "the validators did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let status = validators.rpc(0).status().await.unwrap();
    let signer = Arc::new(Signer {
        chain_id: ChainId::new(&status.chain_id).unwrap(),
        params: validators
            .rpc(0)
            .params()
            .await
            .unwrap()
            .to_params()
            .unwrap(),
        expires_at_height: status.height + node::mempool::MAX_EXPIRY_BLOCKS / 2,
    });

    // Fund the senders from the four demo wallets (EQA for fees, USDX to send).
    let demo: Vec<Sender> = ["alice", "bob", "carol", "dave"]
        .iter()
        .map(|name| Sender::from(&validators.wallet(name)))
        .collect();
    let senders: Vec<Sender> = (0..SENDERS)
        .map(|_| Sender::from(&Wallet::generate("").0))
        .collect();
    let mut funding = Vec::new();
    for (index, funder) in demo.iter().enumerate() {
        let first = nonce(&validators.rpc(index), &funder.account).await;
        let mut txs = Vec::new();
        for (k, sender) in senders.iter().skip(index).step_by(4).enumerate() {
            let k = k as u64;
            txs.push(signer.transfer(funder, first + 2 * k, sender.account, 0, 10_000_000_000));
            txs.push(signer.transfer(funder, first + 2 * k + 1, sender.account, 1, 1_000_000_000));
        }
        funding.push(tokio::spawn(submit_windowed(
            validators.rpc(index),
            funder.account,
            first,
            txs,
        )));
    }
    for task in funding {
        task.await.unwrap();
    }

    // Throughput: everything signed first, then submitted as fast as the pools take it.
    let per_sender = (20_000 * seconds as usize / SENDERS).max(1) as u64;
    let sink = Wallet::generate("").0.account();
    let signed: Vec<Vec<SignedTransaction>> = senders
        .iter()
        .map(|sender| {
            (0..per_sender)
                .map(|n| signer.transfer(sender, n, sink, 1, 1))
                .collect()
        })
        .collect();
    let start_height = validators.rpc(0).status().await.unwrap().height;
    let started = Instant::now();
    let tasks: Vec<_> = senders
        .iter()
        .zip(signed)
        .enumerate()
        .map(|(index, (sender, txs))| {
            tokio::spawn(submit_windowed(
                validators.rpc(index),
                sender.account,
                0,
                txs,
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let end_height = validators.rpc(0).status().await.unwrap().height;
    let window = started.elapsed();
    for task in tasks {
        task.abort();
    }
    let client = validators.rpc(0);
    let mut count = 0u64;
    for height in start_height + 1..=end_height {
        if let Some(block) = client.block(height).await.unwrap() {
            count += block.transactions.len() as u64;
        }
    }
    let rate = count as f64 / window.as_secs_f64();
    println!(
        "{size} validators: throughput {count} transfers finalized in {:.1} s ({} blocks): \
         {rate:.0} transfers/s",
        window.as_secs_f64(),
        end_height - start_height
    );

    let drain = Instant::now() + Duration::from_secs(300);
    for index in 0..size {
        while validators.rpc(index).status().await.unwrap().mempool_size > 0 {
            assert!(Instant::now() < drain, "the pools did not drain");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // Finality at half the measured rate.
    let target = (rate / 2.0).max(1.0);
    let mut nonces = Vec::new();
    for sender in &senders {
        nonces.push(nonce(&client, &sender.account).await);
    }
    let count = (target * seconds.min(10) as f64) as usize;
    let interval = Duration::from_secs_f64(1.0 / target);
    let measured = latencies(
        &client,
        &signer,
        &senders,
        &mut nonces,
        sink,
        interval,
        count,
    )
    .await;
    report(
        &format!("{size} validators: finality at {target:.0} transfers/s"),
        count,
        measured,
    );

    // Finality of a lone transfer: one a second, on an otherwise idle chain.
    let count = seconds.clamp(4, 20) as usize;
    let measured = latencies(
        &client,
        &signer,
        &senders,
        &mut nonces,
        sink,
        Duration::from_secs(1),
        count,
    )
    .await;
    report(
        &format!("{size} validators: finality of a lone transfer, 1 s apart"),
        count,
        measured,
    );
}

/// Sends `count` transfers to `client`, one every `interval`, and returns each one's time from
/// submission until that node reports a finalized block containing it.
async fn latencies(
    client: &RpcClient,
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
        let client = client.clone();
        tokio::spawn(async move {
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
