//! A new full node joins a running devnet as a new user would, from a directory that holds only
//! the chain's genesis file and one peer's address: `equa node init` writes its configuration
//! with a new key, `equa node register` registers the key on the chain against a deposit, and
//! the node, admitted by every peer from the next epoch, syncs the state from peers and serves
//! the same answers as the validators. Unregistering returns the deposit whole.

mod common;

use common::{Devnet, receipt_ok};
use std::{
    path::Path,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

const RPC_PORT: u16 = 18_545;
const P2P_PORT: u16 = 18_300;
/// The new node's ports follow the four validators' and the devnet's full node's.
const NEWCOMER: u16 = 6;

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn equa(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_equa"))
        .args(args)
        .env_remove("EQUA_RPC")
        .env_remove("EQUA_WALLET")
        .output()
        .expect("the equa binary runs")
}

/// Waits until `done` holds, looking every 250 ms for at most `limit`.
fn wait(what: &str, limit: Duration, log: &Path, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < limit,
            "{what} within {limit:?}; the new node's log:\n{}",
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

fn account_json(devnet: &Devnet, index: u16, name: &str) -> Option<serde_json::Value> {
    let output = devnet.query(index, &["--json", "account", "show", &devnet.address(name)]);
    output
        .status
        .success()
        .then(|| serde_json::from_slice(&output.stdout).unwrap())
}

#[test]
fn a_new_full_node_joins_with_the_genesis_file_and_one_address() {
    let devnet = Devnet::start_with(
        "joining-full-node",
        RPC_PORT,
        P2P_PORT,
        &[],
        &["--full-node", "--idle-block-interval-ms", "50"],
    );

    // The one address: the devnet's full node, as `equa node list` shows every registered one.
    let listed = devnet.json("alice", &["node", "list"]);
    let nodes = listed["full_nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "{listed}");
    let peer = format!(
        "{}@{}",
        nodes[0]["node_key"].as_str().unwrap(),
        nodes[0]["address"].as_str().unwrap()
    );

    // A directory holding only the genesis file.
    let home = devnet.dir.join("newcomer");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::copy(devnet.dir.join("genesis.toml"), home.join("genesis.toml")).unwrap();
    let node_dir = home.join("node");
    let listen = format!("127.0.0.1:{}", P2P_PORT + NEWCOMER);
    let rpc = format!("127.0.0.1:{}", RPC_PORT + NEWCOMER);
    let init = |dir: &Path| {
        equa(&[
            "node",
            "init",
            "--genesis",
            home.join("genesis.toml").to_str().unwrap(),
            "--peer",
            &peer,
            "--dir",
            dir.to_str().unwrap(),
            "--listen",
            &listen,
            "--rpc-listen",
            &rpc,
        ])
    };
    let output = init(&node_dir);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let config = node_dir.join("node.toml");
    let written: toml::Table = toml::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(written["bootstrap"].as_array().unwrap().len(), 1);
    assert!(
        !written.contains_key("consensus_key"),
        "from the genesis file"
    );
    assert!(!written.contains_key("validators"), "from the genesis file");
    // It never overwrites a node's key.
    let again = init(&node_dir);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    // Pointed at the genesis file inside the directory it fills, it keeps that file whole; a
    // different genesis file there is never overwritten.
    let original = std::fs::read(home.join("genesis.toml")).unwrap();
    let init_in = |dir: &Path| {
        equa(&[
            "node",
            "init",
            "--genesis",
            dir.join("genesis.toml").to_str().unwrap(),
            "--peer",
            &peer,
            "--dir",
            dir.to_str().unwrap(),
        ])
    };
    let same = home.join("same");
    std::fs::create_dir_all(&same).unwrap();
    std::fs::write(same.join("genesis.toml"), &original).unwrap();
    let output = init_in(&same);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(std::fs::read(same.join("genesis.toml")).unwrap(), original);
    let other = home.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("genesis.toml"), &original).unwrap();
    let output = equa(&[
        "node",
        "init",
        "--genesis",
        home.join("genesis.toml").to_str().unwrap(),
        "--peer",
        &peer,
        "--dir",
        other.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "the same genesis already there");
    let third = home.join("third");
    std::fs::create_dir_all(&third).unwrap();
    std::fs::write(third.join("genesis.toml"), "# another chain\n").unwrap();
    let output = equa(&[
        "node",
        "init",
        "--genesis",
        home.join("genesis.toml").to_str().unwrap(),
        "--peer",
        &peer,
        "--dir",
        third.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("differs"));
    assert_eq!(
        std::fs::read_to_string(third.join("genesis.toml")).unwrap(),
        "# another chain\n"
    );

    // Alice registers its key with a deposit, through a validator's JSON-RPC.
    let config_arg = config.to_str().unwrap();
    let before: f64 = devnet.balance("alice", "EQA").parse().unwrap();
    let receipt = receipt_ok(
        &devnet,
        "alice",
        &[
            "node",
            "register",
            "--node-config",
            config_arg,
            "--deposit",
            "10",
        ],
    );
    // The fee is paid in EQA minor units (nine decimals).
    let fee: f64 = receipt["fee_paid"]
        .as_str()
        .and_then(|minor| minor.parse::<u64>().ok())
        .map(|minor| minor as f64 / 1e9)
        .unwrap_or_else(|| panic!("a fee in {receipt}"));
    let after: f64 = devnet.balance("alice", "EQA").parse().unwrap();
    assert!(
        (before - after - 10.0 - fee).abs() < 1e-6,
        "{before} - {after}, fee {fee}: {receipt}"
    );
    assert_eq!(
        devnet.json("alice", &["node", "list"])["full_nodes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A checkpoint of the current epoch from a validator's JSON-RPC: the node asks that epoch's
    // committee for a recent block, not the genesis validators (who may have left a chain).
    let blocks_per_epoch = listed["params"]["blocks_per_epoch"].as_u64().unwrap();
    devnet.wait_for_height(0, blocks_per_epoch + 1);
    let output = devnet.query(0, &["node", "checkpoint", "--node-config", config_arg]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let checkpoint: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(node_dir.join("checkpoint.json")).unwrap())
            .unwrap();
    let epoch = checkpoint["epoch"].as_u64().unwrap();
    assert!(epoch >= 1, "{checkpoint}");
    assert_eq!(
        checkpoint["height"].as_u64().unwrap(),
        epoch * blocks_per_epoch - 1
    );
    let written: toml::Table = toml::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(written["checkpoint"].as_str(), Some("checkpoint.json"));
    // An altered checkpoint stops the node at start, saying why.
    let altered = home.join("altered");
    std::fs::create_dir_all(&altered).unwrap();
    for file in ["node.toml", "genesis.toml"] {
        std::fs::copy(node_dir.join(file), altered.join(file)).unwrap();
    }
    let mut forged = checkpoint.clone();
    forged["epoch"] = serde_json::json!(epoch + 1);
    std::fs::write(altered.join("checkpoint.json"), forged.to_string()).unwrap();
    let refused = equa(&[
        "node",
        "--config",
        altered.join("node.toml").to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("checkpoint") && stderr.contains("refused"),
        "{stderr}"
    );

    // Without the file the node fetches a checkpoint itself: it asks the genesis validators and
    // its bootstrap peer over p2p.
    let mut unpointed = written.clone();
    unpointed.remove("checkpoint");
    std::fs::write(&config, toml::to_string(&unpointed).unwrap()).unwrap();

    // Started, it is admitted from the next epoch, syncs the state and follows the chain.
    let log = home.join("node.log");
    let log_file = std::fs::File::create(&log).unwrap();
    let _node = Process(
        Command::new(env!("CARGO_BIN_EXE_equa"))
            .args(["node", "--config", config_arg])
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let tip = devnet.height(0).unwrap();
    wait(
        "the new node starts from the committee of a checkpoint a peer gave",
        Duration::from_secs(30),
        &log,
        || {
            std::fs::read_to_string(&log).is_ok_and(|text| {
                text.contains("state sync: using the latest checkpoint a peer gave")
                    && text.contains("state sync: asking a checkpoint's committee")
            })
        },
    );
    wait(
        "the new node reaches the validators' height",
        Duration::from_secs(180),
        &log,
        || devnet.height(NEWCOMER).is_some_and(|height| height >= tip),
    );

    // It answers as the validators do: a transfer made now shows the same on both.
    receipt_ok(
        &devnet,
        "alice",
        &["send", &devnet.address("bob"), "1.25", "USDX"],
    );
    let expected = account_json(&devnet, 0, "bob").unwrap();
    wait(
        "the new node serves bob's account as validator 0 does",
        Duration::from_secs(60),
        &log,
        || {
            account_json(&devnet, NEWCOMER, "bob").is_some_and(|seen| {
                seen["balances"] == expected["balances"] && seen["nonce"] == expected["nonce"]
            })
        },
    );

    // Unregistered once the epoch after its registration has ended (peers admitted it until
    // then), its deposit comes back whole.
    let registered_at = receipt["height"].as_u64().unwrap();
    let release = (registered_at / blocks_per_epoch + 2) * blocks_per_epoch;
    devnet.wait_for_height(0, release);
    let before: f64 = devnet.balance("alice", "EQA").parse().unwrap();
    receipt_ok(
        &devnet,
        "alice",
        &["node", "unregister", "--node-config", config_arg],
    );
    let after: f64 = devnet.balance("alice", "EQA").parse().unwrap();
    assert!(after > before + 9.9, "{before} -> {after}");
    assert_eq!(
        devnet.json("alice", &["node", "list"])["full_nodes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
