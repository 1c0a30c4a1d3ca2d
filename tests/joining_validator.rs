//! A validator joins a running devnet by staking, and leaves it again, as an operator would:
//! a new node configured from the devnet's full-node file (the genesis file and the genesis
//! validators' addresses, which it reads from the genesis registry) with a key nobody lists,
//! registered with `equa validator register`. Peers admit it once it is a candidate, it syncs,
//! receives its share of the chain key from the committee before it and proposes blocks; after
//! `equa validator unbond` it leaves the committee, its process is stopped, and the chain goes
//! on without it across further epoch changes.

mod common;

use common::{Devnet, receipt_ok};
use commonware_cryptography::{Signer, ed25519};
use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use types::{AccountId, codec::Encode};

const RPC_PORT: u16 = 20_545;
const P2P_PORT: u16 = 20_300;
/// The joining node's ports follow the four validators' and the full node's.
const JOINER: u16 = 5;

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The joining node's configuration: the devnet's full-node file with a fresh key (registered
/// nowhere) and its own ports.
fn joiner_config(devnet: &Devnet, key: &ed25519::PrivateKey) -> std::path::PathBuf {
    let template = std::fs::read_to_string(devnet.dir.join("full-node/node.toml")).unwrap();
    let mut config: toml::Table = toml::from_str(&template).unwrap();
    let address = |first: u16| toml::Value::String(format!("127.0.0.1:{}", first + JOINER));
    config.insert(
        "private_key".into(),
        toml::Value::String(hex::encode(key.encode())),
    );
    config.insert("listen".into(), address(P2P_PORT));
    config.insert("rpc".into(), address(RPC_PORT));
    config.remove("metrics");
    let dir = devnet.dir.join("joiner");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("node.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    path
}

fn start(config: &Path, log: &Path) -> Process {
    let log = std::fs::File::create(log).unwrap();
    Process(
        Command::new(env!("CARGO_BIN_EXE_equa"))
            .args(["node", "--config"])
            .arg(config)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn block(devnet: &Devnet, index: u16, height: u64) -> Option<serde_json::Value> {
    let output = devnet.query(index, &["--json", "block", "show", &height.to_string()]);
    output
        .status
        .success()
        .then(|| serde_json::from_slice(&output.stdout).unwrap())
}

/// Waits until `done` holds, looking every 250 ms for at most `limit`.
fn wait(what: &str, limit: Duration, log: &Path, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < limit,
            "{what} within {limit:?}; the joining node's log:\n{}",
            std::fs::read_to_string(log)
                .unwrap_or_default()
                .lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The accounts signing in the latest block's epoch.
fn signing(devnet: &Devnet) -> Vec<String> {
    let view = devnet.json("alice", &["validator", "list"]);
    let epoch = view["epoch"].as_u64().unwrap();
    view["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["epoch"].as_u64() == Some(epoch))
        .map(|e| {
            e["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_validator_joins_by_staking_votes_and_leaves_while_the_chain_goes_on() {
    // Five seats for four genesis validators; blocks every 50 ms, so 32-block epochs pass in
    // seconds.
    let devnet = Devnet::start_with(
        "joining-validator",
        RPC_PORT,
        P2P_PORT,
        &[],
        &["--committee-size", "5", "--idle-block-interval-ms", "50"],
    );
    let key = ed25519::PrivateKey::from_seed(0x5eed_0005);
    let node_account = AccountId::from_public_key(&key.public_key()).to_address();
    let config = joiner_config(&devnet, &key);
    let log = devnet.dir.join("joiner.log");
    let alice = devnet.address("alice");

    // Alice registers the node with a bond; it is a candidate, ranked after the four.
    let config_arg = config.to_str().unwrap();
    receipt_ok(
        &devnet,
        "alice",
        &[
            "validator",
            "register",
            "--node-config",
            config_arg,
            "--bond",
            "150",
        ],
    );
    let node = start(&config, &log);

    // Its node is admitted from the next epoch, syncs, receives a share during the epoch its
    // committee is the players of, and signs in the epoch after: it leads blocks.
    let mut proposed_at = None;
    let mut next = devnet.height(0).unwrap();
    wait(
        "the joining validator proposes a finalized block",
        Duration::from_secs(240),
        &log,
        || {
            let tip = devnet.height(0).unwrap_or(next);
            while next <= tip {
                if let Some(block) = block(&devnet, 0, next)
                    && block["proposer"] == node_account.as_str()
                {
                    proposed_at = Some(next);
                    return true;
                }
                next += 1;
            }
            false
        },
    );
    let proposed_at = proposed_at.unwrap();
    assert!(signing(&devnet).contains(&alice), "alice's validator signs");
    // The joining node follows the chain: it serves the same block.
    wait(
        "the joining node serves the block it proposed",
        Duration::from_secs(60),
        &log,
        || block(&devnet, JOINER, proposed_at).is_some(),
    );
    assert_eq!(
        block(&devnet, JOINER, proposed_at).unwrap()["digest"],
        block(&devnet, 0, proposed_at).unwrap()["digest"]
    );

    // Alice unbonds: from the epoch her validator's last committee has handed over, it no
    // longer signs, and its node can stop.
    receipt_ok(&devnet, "alice", &["validator", "unbond"]);
    wait(
        "alice's validator stops signing",
        Duration::from_secs(180),
        &log,
        || !signing(&devnet).contains(&alice),
    );
    drop(node);

    // The chain goes on without it across two more epoch changes.
    let blocks_per_epoch =
        devnet.json("alice", &["validator", "list"])["params"]["blocks_per_epoch"]
            .as_u64()
            .unwrap();
    let from = devnet.height(0).unwrap();
    for index in 0..4 {
        devnet.wait_for_height(index, from + 2 * blocks_per_epoch + 1);
    }
    let tip = devnet.height(0).unwrap();
    for height in from + 1..=tip {
        let block = block(&devnet, 0, height).unwrap();
        assert_ne!(block["proposer"], node_account.as_str(), "block {height}");
    }
}
