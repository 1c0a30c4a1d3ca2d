//! The devnet as a user runs it: `equa devnet` starts four validator processes on loopback; a
//! transfer sent with `equa send` is finalized and seen by every validator's RPC; bad input is
//! refused; stopping the devnet stops every validator, and a second start resumes the chain.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

const RPC_PORT: u16 = 19_545;
const P2P_PORT: u16 = 31_300;

fn equa(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_equa"))
        .args(args)
        .env("EQUA_PASSWORD", "devnet")
        .env_remove("EQUA_RPC")
        .env_remove("EQUA_WALLET")
        .output()
        .expect("the equa binary runs")
}

fn rpc(index: u16) -> String {
    format!("http://127.0.0.1:{}", RPC_PORT + index)
}

fn start(dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_equa"))
        .args(["devnet", "--dir", dir.to_str().unwrap()])
        .args([
            "--rpc-port",
            &RPC_PORT.to_string(),
            "--p2p-port",
            &P2P_PORT.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("devnet starts")
}

/// Stops the devnet as Ctrl-C would, and checks that it stopped its validators.
fn stop(mut devnet: Child, dir: &Path) {
    let status = Command::new("kill")
        .args(["-INT", &devnet.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while devnet.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the devnet did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Each validator's RPC is gone.
    for index in 0..4 {
        let output = equa(&["--rpc", &rpc(index), "status"]);
        assert!(!output.status.success(), "validator {index} still answers");
    }
    let _ = dir;
}

fn height(index: u16) -> Option<u64> {
    let output = equa(&["--rpc", &rpc(index), "--json", "status"]);
    if !output.status.success() {
        return None;
    }
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    status["height"].as_u64()
}

fn wait_for_height(index: u16, at_least: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(height) = height(index)
            && height >= at_least
        {
            return height;
        }
        assert!(
            Instant::now() < deadline,
            "validator {index} did not reach height {at_least}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn address(dir: &Path, name: &str) -> String {
    client::Keystore::load(&dir.join(format!("wallets/{name}.json")))
        .unwrap()
        .address()
        .to_string()
}

fn usdx(index: u16, address: &str) -> String {
    let output = equa(&["--rpc", &rpc(index), "--json", "account", "show", address]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let account: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    account["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["symbol"] == "USDX")
        .map(|b| b["amount"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

#[test]
fn devnet_finalizes_transfers_on_every_validator_and_resumes() {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("equa-devnet-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let devnet = start(&dir);
    for index in 0..4 {
        wait_for_height(index, 3);
    }
    let alice_wallet = dir.join("wallets/alice.json");
    let bob = address(&dir, "bob");
    assert_eq!(usdx(0, &bob), "100000");

    let output = equa(&[
        "--rpc",
        &rpc(1),
        "--wallet",
        alice_wallet.to_str().unwrap(),
        "--json",
        "send",
        &bob,
        "12.5",
        "USDX",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let receipt: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(receipt["outcome"], "success");
    let included = receipt["height"].as_u64().unwrap();
    // Every validator has applied it once the block is final there.
    for index in 0..4 {
        wait_for_height(index, included);
        assert_eq!(usdx(index, &bob), "100012.5", "validator {index}");
    }

    // Bad input is refused with a clear error and changes nothing.
    let rpc0 = rpc(0);
    for (args, message) in [
        (
            vec!["send", "equa1notanaddress", "1", "USDX"],
            "invalid address",
        ),
        (vec!["send", &bob, "1.0000001", "USDX"], "decimal places"),
        (vec!["send", &bob, "1", "NOPE"], "unknown asset"),
    ] {
        let mut all = vec![
            "--rpc",
            &rpc0[..],
            "--wallet",
            alice_wallet.to_str().unwrap(),
        ];
        all.extend(args);
        let output = equa(&all);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{stderr}");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_equa"))
        .args([
            "--rpc",
            &rpc(0),
            "--wallet",
            alice_wallet.to_str().unwrap(),
            "send",
            &bob,
            "1",
            "USDX",
        ])
        .env("EQUA_PASSWORD", "wrong")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("wrong password"));
    assert_eq!(usdx(0, &bob), "100012.5");

    stop(devnet, &dir);

    // A second start resumes the same chain from disk.
    let devnet = start(&dir);
    wait_for_height(0, included + 1);
    assert_eq!(usdx(0, &bob), "100012.5");
    stop(devnet, &dir);
    std::fs::remove_dir_all(&dir).unwrap();
}
