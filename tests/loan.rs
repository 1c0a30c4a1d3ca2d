//! `equa loan schedule`, run as a real process.

use std::process::Command;

fn equa(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_equa"))
        .args(args)
        .output()
        .expect("the equa binary runs")
}

#[test]
fn schedule_json_adds_up() {
    let output = equa(&[
        "loan",
        "schedule",
        "--principal",
        "1200",
        "--decimals",
        "2",
        "--apr-bps",
        "1200",
        "--term-days",
        "360",
        "--instalments",
        "12",
        "--json",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let schedule: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let rows = schedule["instalments"].as_array().unwrap();
    assert_eq!(rows.len(), 12);
    let cents = |v: &serde_json::Value| -> u128 {
        let text = v.as_str().unwrap();
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        whole.parse::<u128>().unwrap() * 100 + format!("{fraction:0<2}").parse::<u128>().unwrap()
    };
    let principal: u128 = rows.iter().map(|r| cents(&r["principal"])).sum();
    assert_eq!(principal, 120_000);
    assert!(
        rows[..11]
            .iter()
            .all(|r| r["payment"] == rows[0]["payment"])
    );
    assert_eq!(rows[11]["remaining"], "0");
    assert_eq!(rows[11]["due_offset_ms"], 360u64 * 86_400_000);
    // 12 equal payments of 106.53 (P·R/(1−(1+R)^−n) = 106.5263, rounded up once); each row's
    // interest on the principal remaining, rounded up, adds up to 78.40.
    assert_eq!(rows[0]["payment"], "106.53");
    assert_eq!(schedule["total_interest"], "78.4");
}

#[test]
fn schedule_rejects_bad_input_clearly() {
    for (args, message) in [
        (
            vec![
                "--principal",
                "1.001",
                "--decimals",
                "2",
                "--apr-bps",
                "1",
                "--term-days",
                "10",
            ],
            "3 decimal places",
        ),
        (
            vec![
                "--principal",
                "-5",
                "--decimals",
                "2",
                "--apr-bps",
                "1",
                "--term-days",
                "10",
            ],
            "negative",
        ),
        (
            vec![
                "--principal",
                "5",
                "--decimals",
                "2",
                "--apr-bps",
                "1",
                "--term-days",
                "10",
                "--instalments",
                "11",
            ],
            "cannot be split into 11",
        ),
        (
            vec![
                "--principal",
                "5",
                "--decimals",
                "2",
                "--apr-bps",
                "1",
                "--term-days",
                "0",
            ],
            "at least one day",
        ),
    ] {
        let mut all = vec!["loan", "schedule"];
        all.extend(args);
        let output = equa(&all);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{stderr}");
    }
}

#[test]
fn a_reader_that_stops_early_ends_the_command_quietly() {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_equa"))
        // About 95 KB of output: more than a pipe holds (64 KB) plus what the reader below takes,
        // so the command is still writing when the reader goes away.
        .args(["--json", "loan", "schedule", "--decimals", "18"])
        .args(["--principal", "123456789.123456789123456789"])
        .args([
            "--apr-bps",
            "1234",
            "--term-days",
            "3600",
            "--instalments",
            "360",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with('{'), "{first}");
    // The reader is gone now, as `| head -1` would be.
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(141));
}
