//! A full node as a user runs one: `equa node --config devnet/full-node/node.toml` joins a
//! running devnet late, here with state sync switched off so that it executes every block from
//! genesis (verifying the finalization certificates with a verifier-only scheme), reports its
//! progress in `equa status`, serves RPC, and forwards a transfer submitted to it to the
//! validators, which finalize it. `tests/state_sync.rs` joins with state sync.

mod common;

use common::Devnet;
use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const RPC_PORT: u16 = 22_545;
const P2P_PORT: u16 = 22_300;
/// The devnet's full node serves RPC after the four validators' ports.
const FULL_NODE: u16 = 4;

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn status(devnet: &Devnet, index: u16) -> Option<serde_json::Value> {
    let output = devnet.query(index, &["--json", "status"]);
    output
        .status
        .success()
        .then(|| serde_json::from_slice(&output.stdout).unwrap())
}

fn block(devnet: &Devnet, index: u16, height: u64) -> serde_json::Value {
    let output = devnet.query(index, &["--json", "block", "show", &height.to_string()]);
    assert!(output.status.success(), "validator {index}: block {height}");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn a_full_node_syncs_late_serves_rpc_and_forwards_transactions() {
    // Blocks every 50 ms even when idle, so that the chain grows quickly past the full node.
    let devnet = Devnet::start_with(
        "full-node",
        RPC_PORT,
        P2P_PORT,
        &[],
        &["--idle-block-interval-ms", "50"],
    );
    let bob = devnet.address("bob");
    for _ in 0..5 {
        devnet.ok("alice", &["send", &bob, "1", "USDX"]);
    }
    // Let the chain grow well past what the full node has.
    let behind = devnet.wait_for_height(0, 150);

    let config = devnet.dir.join("full-node/node.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("state_sync = true"), "{text}");
    std::fs::write(
        &config,
        text.replace("state_sync = true", "state_sync = false"),
    )
    .unwrap();
    let log = std::fs::File::create(devnet.dir.join("full-node.log")).unwrap();
    let _full_node = Process(
        Command::new(env!("CARGO_BIN_EXE_equa"))
            .args(["node", "--config"])
            .arg(devnet.dir.join("full-node/node.toml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // It reports itself as a full node and reaches the validators' height.
    let started = Instant::now();
    let synced = loop {
        if let Some(status) = status(&devnet, FULL_NODE) {
            assert_eq!(status["role"], "full node");
            let height = status["height"].as_u64().unwrap();
            let target = status["target_height"].as_u64().unwrap();
            assert!(height <= target, "{status}");
            if height >= behind {
                break height;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the full node did not catch up: {}",
            std::fs::read_to_string(devnet.dir.join("full-node.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };

    // Same blocks and same state as the validators.
    devnet.wait_for_height(1, synced);
    let mine = block(&devnet, FULL_NODE, synced);
    let theirs = block(&devnet, 1, synced);
    assert_eq!(mine["digest"], theirs["digest"]);
    assert_eq!(mine["state_root"], theirs["state_root"]);
    assert_eq!(devnet.balance_on(FULL_NODE, "bob", "USDX"), "100005");

    // A transfer submitted only to the full node is forwarded and finalized by the validators.
    let output = devnet.run_on(FULL_NODE, "alice", &["--json", "send", &bob, "2.5", "USDX"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let receipt: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(receipt["outcome"], "success");
    let included = receipt["height"].as_u64().unwrap();
    devnet.wait_for_height(0, included);
    assert_eq!(devnet.balance_on(0, "bob", "USDX"), "100007.5");
    // Blocks are proposed by validators only: those the genesis registry lists (the full node's
    // configuration names none; it takes them from there).
    let config = std::fs::read_to_string(devnet.dir.join("full-node/node.toml")).unwrap();
    assert!(!config.contains("[[validators]]"), "{config}");
    let genesis: toml::Table =
        toml::from_str(&std::fs::read_to_string(devnet.dir.join("genesis.toml")).unwrap()).unwrap();
    let validators: Vec<String> = genesis["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|validator| {
            let key = validator["node_key"].as_str().unwrap();
            let bytes: [u8; 32] = hex::decode(key).unwrap().try_into().unwrap();
            types::AccountId::from_bytes(bytes).unwrap().to_address()
        })
        .collect();
    assert_eq!(validators.len(), 4);
    for height in synced..=included {
        let proposer = block(&devnet, 0, height)["proposer"].clone();
        assert!(
            validators.iter().any(|v| proposer == v.as_str()),
            "block {height} proposed by {proposer}, not a validator"
        );
    }
}

#[test]
fn a_data_directory_of_an_earlier_format_is_refused_at_start_and_left_as_it_was() {
    let dir = std::env::temp_dir().join(format!("equa-old-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let status = Command::new(env!("CARGO_BIN_EXE_equa"))
        .args(["devnet", "--init-only", "--dir", dir.to_str().unwrap()])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    // What a build before the format marker left: the store's partitions, no marker.
    let journal = dir.join("validator-0/data/equa-qmdb-log-journal");
    std::fs::create_dir_all(&journal).unwrap();
    std::fs::write(journal.join("0000"), b"older bytes").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_equa"))
        .args(["node", "--config"])
        .arg(dir.join("validator-0/node.toml"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no EQUA_FORMAT marker"), "{stderr}");
    assert_eq!(std::fs::read(journal.join("0000")).unwrap(), b"older bytes");
    assert!(!dir.join("validator-0/data/EQUA_FORMAT").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
