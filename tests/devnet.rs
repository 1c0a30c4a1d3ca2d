//! `equa devnet --init-only`: the directory a devnet runs from.

use std::{path::PathBuf, process::Command};

fn equa(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_equa"))
        .args(args)
        .output()
        .expect("the equa binary runs")
}

fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("equa-devnet-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn init_creates_a_consistent_devnet_and_resumes_it() {
    let dir = temp_dir("init");
    let path = dir.to_str().unwrap();
    let output = equa(&["devnet", "--dir", path, "--init-only"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("rpc http://127.0.0.1:9545"), "{stdout}");

    // The genesis is valid and funds every demo wallet, whose keystore opens with the printed
    // password.
    let genesis = ledger::Genesis::load(&dir.join("genesis.toml")).unwrap();
    let usdx = genesis.asset_id("USDX").unwrap();
    for name in ["alice", "bob", "carol", "dave"] {
        let keystore = client::Keystore::load(&dir.join(format!("wallets/{name}.json"))).unwrap();
        let wallet = keystore.decrypt("devnet").unwrap();
        let held = &genesis.balances[&wallet.account()];
        assert_eq!(held[&usdx], 100_000_000_000, "{name}");
        assert!(stdout.contains(&wallet.account().to_string()));
        // Each has published its chat key and a name, so chat works from the first trade.
        let profile = genesis
            .profiles
            .iter()
            .find(|p| p.account == wallet.account())
            .unwrap_or_else(|| panic!("{name} has no profile"));
        assert_eq!(profile.chat_key, wallet.chat_public_key(), "{name}");
        assert_eq!(profile.name.as_str().to_lowercase(), name);
    }
    assert_eq!(genesis.profiles.len(), 4);
    // Four validators, each listed in every configuration, with distinct ports.
    let mut rpcs = Vec::new();
    for index in 0..4 {
        let text =
            std::fs::read_to_string(dir.join(format!("validator-{index}/node.toml"))).unwrap();
        let config: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(config["validators"].as_array().unwrap().len(), 4);
        rpcs.push(config["rpc"].as_str().unwrap().to_string());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let key = dir.join(format!("validator-{index}/node.toml"));
            assert_eq!(
                std::fs::metadata(key).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
    rpcs.sort();
    rpcs.dedup();
    assert_eq!(rpcs.len(), 4);

    // A second run resumes: nothing is regenerated.
    let before = std::fs::read(dir.join("genesis.toml")).unwrap();
    let output = equa(&["devnet", "--dir", path, "--init-only"]);
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("resuming"));
    assert_eq!(std::fs::read(dir.join("genesis.toml")).unwrap(), before);

    // --reset starts a new chain with new keys.
    let output = equa(&["devnet", "--dir", path, "--init-only", "--reset"]);
    assert!(output.status.success());
    assert_ne!(std::fs::read(dir.join("genesis.toml")).unwrap(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}
