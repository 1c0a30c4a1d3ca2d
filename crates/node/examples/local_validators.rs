//! Smoke check of real networking: four validators on 127.0.0.1 (one thread and one tokio
//! runtime each, talking over TCP), run for a few seconds, then report each one's finalized
//! height and state root. Usage: `cargo run -p node --example local_validators [seconds]`.

use commonware_cryptography::{Signer, ed25519};
use node::run::{RunConfig, Started, run_with};
use std::{
    net::SocketAddr,
    sync::mpsc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .map_or(10, |arg| arg.parse().expect("seconds"));
    let dir = std::env::temp_dir().join(format!("equa-local-{}", std::process::id()));
    let keys: Vec<ed25519::PrivateKey> = (0..4)
        .map(|index| ed25519::PrivateKey::from_seed(1_000 + index))
        .collect();
    let addresses: Vec<SocketAddr> = (0..4)
        .map(|index| format!("127.0.0.1:{}", 19_100 + index).parse().unwrap())
        .collect();
    let validators: Vec<(ed25519::PublicKey, SocketAddr)> = keys
        .iter()
        .map(|key| key.public_key())
        .zip(addresses.iter().copied())
        .collect();
    let mut genesis = ledger::testing::test_genesis(4, 1_000_000_000);
    genesis.genesis_time_ms = u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let public_keys: Vec<ed25519::PublicKey> = validators.iter().map(|(k, _)| k.clone()).collect();
    let (consensus_key, shares) = node::threshold::deal_from_os(&public_keys);
    let (sender, receiver) = mpsc::channel::<Started>();
    for (index, key) in keys.into_iter().enumerate() {
        let share = shares
            .iter()
            .find(|(holder, _)| *holder == key.public_key())
            .map(|(_, share)| share.clone())
            .expect("every validator was dealt a share");
        let scheme = node::threshold::signer(
            node::engine::CONSENSUS_NAMESPACE,
            &consensus_key,
            commonware_utils::ordered::Set::from_iter_dedup(public_keys.iter().cloned()),
            &key.public_key(),
            share,
        )
        .expect("the share is the validator's");
        let config = RunConfig {
            genesis: genesis.clone(),
            data_dir: dir.join(format!("v{index}")),
            listen: addresses[index],
            rpc: None,
            bootstrap: Vec::new(),
            tuning: node::engine::Tuning::default(),
            state_sync: false,
            checkpoint: None,
            retained_blocks: node::run::DEFAULT_RETAINED_BLOCKS,
            state_on_disk: None,
            web: None,
            metrics: None,
            private_key: key,
            validators: validators.clone(),
            scheme,
            consensus_key: consensus_key.clone(),
        };
        let sender = sender.clone();
        // Debug builds of the node's futures are large; give each runtime room.
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || {
                run_with(config, move |started| sender.send(started).unwrap());
            })
            .unwrap();
    }
    let started: Vec<Started> = (0..4).map(|_| receiver.recv().unwrap()).collect();
    std::thread::sleep(Duration::from_secs(seconds));
    for (index, node) in started.iter().enumerate() {
        match node.app.finalized() {
            Some(finalized) => println!(
                "validator {index}: height {} state root {}",
                finalized.height, finalized.state_root
            ),
            None => println!("validator {index}: nothing finalized"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::process::exit(0);
}
