//! The devnet rides out a crashed validator: one of the four `equa node` processes is killed with
//! SIGKILL; the other three keep finalizing, `equa devnet` starts it again, and the restarted
//! validator catches up to the same blocks and state as the others.

mod common;

use common::Devnet;
use std::time::{Duration, Instant};

const RPC_PORT: u16 = 26_545;
const P2P_PORT: u16 = 26_300;

/// The process ids of `equa node --config <config>`, found by their command lines.
fn node_pids(config: &std::path::Path) -> Vec<u32> {
    let config = config.to_str().unwrap();
    common::process_ids()
        .into_iter()
        .filter(|pid| {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<&[u8]> = cmdline.split(|byte| *byte == 0).collect();
            args.contains(&b"node".as_slice()) && args.contains(&config.as_bytes())
        })
        .collect()
}

fn block(devnet: &Devnet, index: u16, height: u64) -> serde_json::Value {
    let output = devnet.query(index, &["--json", "block", "show", &height.to_string()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn a_validator_killed_with_sigkill_is_restarted_and_catches_up() {
    let devnet = Devnet::start("devnet-faults", RPC_PORT, P2P_PORT);
    let config = devnet.dir.join("validator-2").join("node.toml");
    let pids = node_pids(&config);
    assert_eq!(pids.len(), 1, "one process runs validator 2: {pids:?}");
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pids[0].to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    // The other three keep finalizing.
    let before: Vec<u64> = [0u16, 1, 3]
        .iter()
        .map(|index| devnet.height(*index).unwrap())
        .collect();
    for (index, height) in [0u16, 1, 3].iter().zip(&before) {
        devnet.wait_for_height(*index, height + 20);
    }

    // The devnet started validator 2 again: a new process, answering and caught up.
    let deadline = Instant::now() + Duration::from_secs(60);
    let restarted = loop {
        let now = node_pids(&config);
        if let [pid] = now[..]
            && pid != pids[0]
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "validator 2 was not restarted");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_ne!(restarted, pids[0]);
    let target = devnet.height(0).unwrap();
    devnet.wait_for_height(2, target);

    // Same blocks and state as the others, and it applies new transfers.
    let a = block(&devnet, 0, target);
    let b = block(&devnet, 2, target);
    assert_eq!(a["digest"], b["digest"]);
    assert_eq!(a["state_root"], b["state_root"]);
    let bob = devnet.address("bob");
    let receipt = devnet.json("alice", &["send", &bob, "3.5", "USDX"]);
    assert_eq!(receipt["outcome"], "success");
    devnet.wait_for_height(2, receipt["height"].as_u64().unwrap());
    assert_eq!(devnet.balance_on(2, "bob", "USDX"), "100003.5");
    assert_eq!(devnet.balance_on(0, "bob", "USDX"), "100003.5");
}
