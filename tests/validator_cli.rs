//! The staking registry from the command line against a real devnet (four validator processes,
//! registered at genesis): a new node registered with a bond from a wallet, its rank among the
//! genesis validators, a larger bond taking a committee seat, a node key nobody else can claim,
//! unbonding, and each refusal naming the ledger's error while changing nothing.

mod common;

use common::{Devnet, ledger_refuses, receipt_ok};
use commonware_cryptography::{Signer, ed25519};
use std::path::{Path, PathBuf};
use types::codec::Encode;

const RPC_PORT: u16 = 30_545;
const P2P_PORT: u16 = 30_300;

/// A node configuration file holding a fresh node key (only `private_key` and `listen` are
/// read by `equa validator register`).
fn node_config(dir: &Path, name: &str, seed: u64, port: u16) -> (PathBuf, String) {
    let key = ed25519::PrivateKey::from_seed(seed);
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "private_key = \"{}\"\nlisten = \"127.0.0.1:{port}\"\n",
            hex::encode(key.encode())
        ),
    )
    .unwrap();
    (path, hex::encode(key.public_key().encode()))
}

fn registry(devnet: &Devnet, name: &str) -> serde_json::Value {
    devnet.json(name, &["validator", "list"])
}

#[test]
fn validators_register_rank_and_unbond_from_the_command_line() {
    let devnet = Devnet::start("validator-cli", RPC_PORT, P2P_PORT);

    // Genesis registered the four validators the devnet runs, each with a bond of 500 EQA, and
    // its full node with a deposit of 10 EQA.
    let start = registry(&devnet, "alice");
    assert_eq!(start["params"]["min_bond"]["amount"], "100", "{start}");
    assert_eq!(start["bonded"]["amount"], "2010", "{start}");
    assert_eq!(start["full_nodes"].as_array().unwrap().len(), 1, "{start}");
    let validators = start["validators"].as_array().unwrap();
    assert_eq!(validators.len(), 4, "{start}");
    assert!(
        validators
            .iter()
            .all(|v| v["elected"] == true && v["bond"]["amount"] == "500")
    );
    assert_eq!(start["committee"].as_array().unwrap().len(), 4);
    // The committees signing in this epoch and the three after it are fixed: the four genesis
    // validators.
    assert_eq!(start["params"]["blocks_per_epoch"], 32, "{start}");
    let epoch = start["epoch"].as_u64().expect("an epoch");
    let epochs = start["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 4, "{start}");
    for (ahead, fixed) in epochs.iter().enumerate() {
        assert_eq!(fixed["epoch"], epoch + ahead as u64, "{start}");
        assert_eq!(
            fixed["first_height"],
            (epoch + ahead as u64) * 32,
            "{start}"
        );
        assert_eq!(fixed["members"].as_array().unwrap().len(), 4, "{start}");
    }
    let text = devnet.ok("alice", &["validator", "list"]);
    assert!(text.contains("rank 1, elected"), "{text}");
    // (An epoch may have turned over since the registry was read: only the form is checked.)
    assert!(
        text.contains("(current, from height ") && text.contains("4 member(s)"),
        "{text}"
    );

    // Alice registers a node of her own with 150 EQA: a candidate, ranked after the four.
    let (alice_node, alice_key) = node_config(&devnet.dir, "alice-node", 71, 9_171);
    let balance_before = devnet.balance("alice", "EQA");
    let node = alice_node.to_str().unwrap();
    let receipt = receipt_ok(
        &devnet,
        "alice",
        &[
            "validator",
            "register",
            "--node-config",
            node,
            "--bond",
            "150",
        ],
    );
    assert_eq!(
        receipt["events"][0]["kind"], "validator_registered",
        "{receipt}"
    );
    assert_eq!(
        receipt["events"][0]["node_key"],
        alice_key.as_str(),
        "{receipt}"
    );
    let balance_after = devnet.balance("alice", "EQA");
    let spent = parse(&balance_before) - parse(&balance_after);
    assert!(
        spent > 150.0 && spent < 151.0,
        "{balance_before} -> {balance_after}"
    );
    let alice = devnet.address("alice");
    let entry = |view: &serde_json::Value, account: &str| {
        view["validators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["account"] == account)
            .cloned()
    };
    let after = registry(&devnet, "alice");
    let mine = entry(&after, &alice).expect("alice is listed");
    assert_eq!(mine["rank"], 5, "{after}");
    assert_eq!(mine["elected"], false, "{after}");
    assert_eq!(mine["address"], "127.0.0.1:9171", "{after}");

    // Bob cannot claim Alice's node key, even holding her node's file (the proof names him, but
    // the key is taken); an address nobody can dial and a bond below the minimum are refused.
    ledger_refuses(
        &devnet,
        "bob",
        &[
            "validator",
            "register",
            "--node-config",
            node,
            "--bond",
            "600",
        ],
        "NodeKeyTaken",
    );
    let (bob_node, _) = node_config(&devnet.dir, "bob-node", 72, 9_172);
    let bob_node = bob_node.to_str().unwrap();
    ledger_refuses(
        &devnet,
        "bob",
        &[
            "validator",
            "register",
            "--node-config",
            bob_node,
            "--bond",
            "99.99",
        ],
        "BondTooSmall",
    );
    let refused = devnet.fails(
        "bob",
        &[
            "validator",
            "register",
            "--node-config",
            bob_node,
            "--bond",
            "600",
            "--address",
            "0.0.0.0:9172",
        ],
    );
    assert!(
        refused.contains("not an address peers can reach"),
        "{refused}"
    );
    ledger_refuses(&devnet, "bob", &["validator", "unbond"], "NotRegistered");

    // Bob bonds 600 and takes the first seat; the committee of four leaves out the genesis
    // validator that is last by account among equal bonds.
    receipt_ok(
        &devnet,
        "bob",
        &[
            "validator",
            "register",
            "--node-config",
            bob_node,
            "--bond",
            "600",
        ],
    );
    let view = registry(&devnet, "bob");
    let bob = devnet.address("bob");
    assert_eq!(view["validators"][0]["account"], bob.as_str(), "{view}");
    assert_eq!(view["committee"][0], bob.as_str(), "{view}");
    assert_eq!(view["committee"].as_array().unwrap().len(), 4, "{view}");
    assert_eq!(view["bonded"]["amount"], "2760", "{view}");

    // Alice unbonds: she leaves the candidates, her bond stays locked, and withdrawing before
    // the delay is refused.
    let receipt = receipt_ok(&devnet, "alice", &["validator", "unbond"]);
    assert_eq!(
        receipt["events"][0]["kind"], "validator_unbonding",
        "{receipt}"
    );
    ledger_refuses(
        &devnet,
        "alice",
        &["validator", "unbond"],
        "AlreadyUnbonding",
    );
    ledger_refuses(
        &devnet,
        "alice",
        &["validator", "withdraw"],
        "UnbondingRunning",
    );
    let view = registry(&devnet, "alice");
    let mine = entry(&view, &alice).expect("alice's own record is listed while unbonding");
    assert_eq!(mine["rank"], serde_json::Value::Null, "{view}");
    assert!(mine["unbonding"]["free_at_ms"].as_u64().is_some(), "{view}");
    assert_eq!(view["bonded"]["amount"], "2760", "{view}");
    assert!(entry(&registry(&devnet, "bob"), &alice).is_none());
    let text = devnet.ok("alice", &["validator", "list"]);
    assert!(text.contains("unbonding, bond free from"), "{text}");

    // Registering again with her node brings her back without waiting out the delay, and Bob
    // raises his bond in place; a lower bond than his is refused.
    receipt_ok(
        &devnet,
        "alice",
        &[
            "validator",
            "register",
            "--node-config",
            node,
            "--bond",
            "150",
        ],
    );
    receipt_ok(
        &devnet,
        "bob",
        &[
            "validator",
            "register",
            "--node-config",
            bob_node,
            "--bond",
            "700",
        ],
    );
    ledger_refuses(
        &devnet,
        "bob",
        &[
            "validator",
            "register",
            "--node-config",
            bob_node,
            "--bond",
            "650",
        ],
        "BondNotRaised",
    );
    let view = registry(&devnet, "alice");
    assert_eq!(view["bonded"]["amount"], "2860", "{view}");
    let mine = entry(&view, &alice).expect("alice is a candidate again");
    assert_eq!(mine["unbonding"], serde_json::Value::Null, "{view}");
    assert_eq!(mine["rank"], 6, "{view}");
}

fn parse(amount: &str) -> f64 {
    amount.split_whitespace().next().unwrap().parse().unwrap()
}
