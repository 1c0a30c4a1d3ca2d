//! Light verification against a real devnet: `equa account show --verify` checks an account's
//! nonce and balances with QMDB proofs against a block's state root, and the block against a
//! finalization certificate under the chain's public key (`chain-key.txt`), the one key a light
//! client trusts. Every tampering with the node's answer is caught.

mod common;

use common::Devnet;
use commonware_cryptography::Signer;
use node::proof::{VerifyError, verify};
use node::threshold::Identity;
use rpc::{RpcClient, views::AccountProofView};
use types::AccountId;

const RPC_PORT: u16 = 23_545;
const P2P_PORT: u16 = 23_300;

fn chain_key(devnet: &Devnet) -> Identity {
    let text = std::fs::read_to_string(devnet.dir.join("chain-key.txt")).unwrap();
    let hex = text.lines().find(|line| !line.starts_with('#')).unwrap();
    node::threshold::decode_identity("chain-key.txt", hex).unwrap()
}

fn proof_of(devnet: &Devnet, index: u16, account: &AccountId) -> AccountProofView {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        RpcClient::new(&devnet.rpc(index))
            .unwrap()
            .account_proof(account)
            .await
            .unwrap()
    })
}

/// `equa --json account show <wallet's address> --verify` through validator `index`, against
/// the devnet's chain key; it must succeed.
fn verified_on(devnet: &Devnet, index: u16, wallet: &str) -> serde_json::Value {
    let chain_key_file = devnet.dir.join("chain-key.txt");
    let output = devnet.query(
        index,
        &[
            "--json",
            "account",
            "show",
            &devnet.address(wallet),
            "--verify",
            "--chain-key",
            chain_key_file.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn verified_balances_match_and_every_tampering_is_caught() {
    let devnet = Devnet::start("light-client", RPC_PORT, P2P_PORT);
    let bob = devnet.address("bob");
    let receipt = devnet.json("alice", &["send", &bob, "12.5", "USDX"]);
    assert_eq!(receipt["outcome"], "success");
    devnet.wait_for_height(1, receipt["height"].as_u64().unwrap());

    // Through the command line, from another validator than the one that took the transfer.
    let shown = verified_on(&devnet, 1, "alice");
    assert_eq!(shown["nonce"], 1, "alice sent one transfer: {shown}");
    let usdx = shown["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["symbol"] == "USDX")
        .unwrap();
    assert_eq!(usdx["amount"], "99987.5");
    let trusted = chain_key(&devnet);
    assert_eq!(
        shown["verified"]["chain_key"],
        node::threshold::to_hex(&trusted)
    );

    // The genesis file holds the same key (its `consensus_key`), and serves as well.
    let config = devnet.dir.join("genesis.toml");
    let output = devnet.query(
        2,
        &[
            "account",
            "show",
            &devnet.address("alice"),
            "--verify",
            "--chain-key",
            config.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("finalized under the chain key"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );

    // The same account through the library, then tampered with in every way.
    let alice = AccountId::parse(&devnet.address("alice")).unwrap();
    let proof = proof_of(&devnet, 2, &alice);
    let verified = verify(&proof, &alice, &trusted).expect("an honest proof verifies");
    assert_eq!(verified.nonce, 1);
    assert_eq!(verified.height, proof.height);

    // A balance one unit higher.
    let mut forged = proof.clone();
    let record = forged
        .records
        .iter_mut()
        .find(|r| r.key != hex::encode(ledger::state::nonce_key(&alice)))
        .unwrap();
    let mut value: u128 = types::codec::decode(&hex::decode(&record.value).unwrap()).unwrap();
    value += 1;
    record.value = hex::encode(types::codec::Encode::encode(&value));
    assert!(matches!(
        verify(&forged, &alice, &trusted),
        Err(VerifyError::Record { .. })
    ));

    // Alice's balance record presented as Bob's.
    let bob_id = AccountId::parse(&bob).unwrap();
    let mut moved = proof.clone();
    moved.account = bob.clone();
    for record in &mut moved.records {
        let key = hex::decode(&record.key).unwrap();
        let asset = types::AssetId(u32::from_be_bytes(key[key.len() - 4..].try_into().unwrap()));
        record.key = hex::encode(ledger::state::balance_key(&bob_id, asset));
    }
    assert!(verify(&moved, &bob_id, &trusted).is_err());

    // Asked about Bob, answered about Alice.
    assert!(matches!(
        verify(&proof, &bob_id, &trusted),
        Err(VerifyError::WrongAccount { .. })
    ));

    // Checked against another chain's key: validators the client does not trust.
    let strangers: Vec<_> = (0..4)
        .map(|seed| commonware_cryptography::ed25519::PrivateKey::from_seed(seed).public_key())
        .collect();
    let strangers = node::threshold::identity(&node::threshold::deal_from_os(&strangers).0);
    assert_eq!(
        verify(&proof, &alice, &strangers),
        Err(VerifyError::Certificate)
    );

    // The certificate's recovered signature with one bit flipped: refused, whether the bytes
    // still decode to a curve point or not.
    for byte in [0, 47, 48, 95] {
        let mut flipped = proof.clone();
        let mut bytes = hex::decode(&flipped.finalization).unwrap();
        let at = bytes.len() - 96 + byte;
        bytes[at] ^= 0x01;
        flipped.finalization = hex::encode(bytes);
        assert!(
            matches!(
                verify(&flipped, &alice, &trusted),
                Err(VerifyError::Certificate | VerifyError::Malformed(_))
            ),
            "byte {byte} of the signature flipped"
        );
    }

    // A real certificate for another block.
    let later = loop {
        let later = proof_of(&devnet, 0, &alice);
        if later.height != proof.height {
            break later;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let mut swapped = proof.clone();
    swapped.finalization = later.finalization.clone();
    assert_eq!(
        verify(&swapped, &alice, &trusted),
        Err(VerifyError::WrongBlock)
    );

    // Garbage is malformed, not a panic.
    let mut garbage = proof.clone();
    garbage.block = "00ff".into();
    assert!(matches!(
        verify(&garbage, &alice, &trusted),
        Err(VerifyError::Malformed(_))
    ));

    // The command line says so plainly and fails.
    let wrong = devnet.dir.join("strangers.txt");
    std::fs::write(&wrong, node::threshold::to_hex(&strangers)).unwrap();
    let output = devnet.query(
        0,
        &[
            "account",
            "show",
            &bob,
            "--verify",
            "--chain-key",
            wrong.to_str().unwrap(),
        ],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("VERIFICATION FAILED"), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing unverified is shown");
}

/// The chain key outlives its shares: after two reshares (the devnet's epochs are 32 blocks),
/// a balance verifies against the key of genesis, under a certificate from a later epoch's
/// committee.
#[test]
fn a_balance_verifies_against_the_genesis_key_after_two_reshares() {
    // Blocks every 50 ms when idle, so that two epochs pass in seconds.
    let devnet = Devnet::start_with(
        "light-client-epochs",
        RPC_PORT + 100,
        P2P_PORT + 100,
        &[],
        &["--idle-block-interval-ms", "50"],
    );
    let blocks_per_epoch = 32;
    devnet.wait_for_height(1, 2 * blocks_per_epoch);
    let bob = devnet.address("bob");
    let receipt = devnet.json("alice", &["send", &bob, "1", "USDX"]);
    assert_eq!(receipt["outcome"], "success");
    devnet.wait_for_height(1, receipt["height"].as_u64().unwrap());

    let shown = verified_on(&devnet, 1, "alice");
    let verified = &shown["verified"];
    let height = verified["height"].as_u64().unwrap();
    let epoch = verified["epoch"].as_u64().unwrap();
    assert!(epoch >= 2, "signed in epoch {epoch}: {shown}");
    assert_eq!(epoch, height / blocks_per_epoch, "{shown}");
    assert_eq!(shown["nonce"], 1, "{shown}");

    // Every validator's log shows the ceremonies that reshared the key before that epoch.
    let log = std::fs::read_to_string(devnet.dir.join("validator-1/node.log")).unwrap();
    for reshared in 1..=epoch {
        assert!(
            log.contains(&format!(
                "completed reshare ceremony epoch=Epoch({reshared}) round={reshared} success=true"
            )),
            "no successful ceremony for epoch {reshared} in validator 1's log"
        );
    }
}
