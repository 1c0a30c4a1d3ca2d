//! Light verification against a real devnet: `equa account show --verify` checks an account's
//! nonce and balances with QMDB proofs against a block's state root, and the block against a
//! finalization certificate of the genesis validators (`validators.toml`). Every tampering with
//! the node's answer is caught.

mod common;

use common::Devnet;
use commonware_cryptography::Signer;
use node::proof::{VerifyError, verify};
use rpc::{RpcClient, views::AccountProofView};
use types::AccountId;

const RPC_PORT: u16 = 23_545;
const P2P_PORT: u16 = 23_300;

fn validators(devnet: &Devnet) -> Vec<commonware_cryptography::ed25519::PublicKey> {
    let text = std::fs::read_to_string(devnet.dir.join("validators.toml")).unwrap();
    let file: toml::Value = toml::from_str(&text).unwrap();
    file["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let bytes = hex::decode(v["public_key"].as_str().unwrap()).unwrap();
            types::codec::decode(&bytes).unwrap()
        })
        .collect()
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

#[test]
fn verified_balances_match_and_every_tampering_is_caught() {
    let devnet = Devnet::start("light-client", RPC_PORT, P2P_PORT);
    let bob = devnet.address("bob");
    let receipt = devnet.json("alice", &["send", &bob, "12.5", "USDX"]);
    assert_eq!(receipt["outcome"], "success");
    devnet.wait_for_height(1, receipt["height"].as_u64().unwrap());

    // Through the command line, from another validator than the one that took the transfer.
    let validators_file = devnet.dir.join("validators.toml");
    let output = devnet.query(
        1,
        &[
            "--json",
            "account",
            "show",
            &devnet.address("alice"),
            "--verify",
            "--validators",
            validators_file.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["nonce"], 1, "alice sent one transfer: {shown}");
    let usdx = shown["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["symbol"] == "USDX")
        .unwrap();
    assert_eq!(usdx["amount"], "99987.5");
    assert!(shown["verified"]["signers"].as_u64().unwrap() >= 3);

    // The same account through the library, then tampered with in every way.
    let alice = AccountId::parse(&devnet.address("alice")).unwrap();
    let trusted = validators(&devnet);
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

    // Signed by a validator set the client does not trust.
    let strangers: Vec<_> = (0..4)
        .map(|seed| commonware_cryptography::ed25519::PrivateKey::from_seed(seed).public_key())
        .collect();
    assert_eq!(
        verify(&proof, &alice, &strangers),
        Err(VerifyError::Certificate)
    );

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
    let wrong = devnet.dir.join("strangers.toml");
    let list: Vec<String> = strangers
        .iter()
        .map(|key| {
            format!(
                "[[validators]]\npublic_key = \"{}\"\n",
                hex::encode(types::codec::Encode::encode(key))
            )
        })
        .collect();
    std::fs::write(&wrong, list.concat()).unwrap();
    let output = devnet.query(
        0,
        &[
            "account",
            "show",
            &bob,
            "--verify",
            "--validators",
            wrong.to_str().unwrap(),
        ],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("VERIFICATION FAILED"), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing unverified is shown");
}
