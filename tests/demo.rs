//! The `equa demo` command, run as a real process.

use std::process::Command;

fn equa(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_equa"))
        .args(args)
        .output()
        .expect("the equa binary runs")
}

#[test]
fn demo_applies_blocks_and_prints_balances() {
    let output = equa(&["demo"]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("alice sends 250 USDX to bob\n    -> success"),
        "{stdout}"
    );
    assert!(
        stdout.contains("failed: insufficient balance: holds 250 USDX, needs 500 USDX"),
        "{stdout}"
    );
    assert!(
        stdout.contains("rejected: nonce 0 was already used"),
        "{stdout}"
    );
    // Final balances: alice gave 250 USDX to bob; carol received 1000 minted USDX.
    assert!(
        stdout.contains("alice            999.998116 EQA, 4750 USDX, 0 GOLD"),
        "{stdout}"
    );
    assert!(
        stdout.contains("carol            11.509822 EQA, 1000 USDX, 0 GOLD"),
        "{stdout}"
    );
}

#[test]
fn demo_reports_a_bad_genesis_file_clearly() {
    let dir = std::env::temp_dir().join(format!("equa-demo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("genesis.toml");
    std::fs::write(&path, "chain_id = \"Not Valid\"\ngenesis_time_ms = 0\n[native]\nsymbol = \"EQA\"\nname = \"Equa\"\ndecimals = 9\n[params]\nfee_per_byte = \"0\"\ndefault_call_fee = \"0\"\n").unwrap();
    let output = equa(&["demo", "--genesis", path.to_str().unwrap()]);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!output.status.success());
    assert!(
        stderr.contains("chain_id: invalid chain id \"Not Valid\""),
        "{stderr}"
    );

    let output = equa(&["demo", "--genesis", "/nonexistent/genesis.toml"]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("cannot read genesis file")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
