//! `equa keys`, run as a real process against a temporary key directory.

use std::{
    io::Write,
    path::PathBuf,
    process::{Command, Output, Stdio},
};

const PHRASE: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art";
const PHRASE_ADDRESS: &str = "equa1q359rkxmx2x89f4kfscc36llvy2qxgqsep6z3vphmpmwygvpnvaqmz34af";

struct Home(PathBuf);

impl Home {
    fn new(label: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("equa-keys-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn equa(&self, args: &[&str], password: Option<&str>, stdin: &str) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_equa"));
        command
            .args(args)
            .env("EQUA_HOME", &self.0)
            .env("EQUA_INSECURE_FAST_KDF", "1")
            .env_remove("EQUA_PASSWORD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(password) = password {
            command.env("EQUA_PASSWORD", password);
        }
        let mut child = command.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn new_wallet_is_listed_and_shown_with_its_password() {
    let home = Home::new("new");
    let output = home.equa(
        &["keys", "new", "--name", "alice", "--json"],
        Some("pw"),
        "",
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let created: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let address = created["address"].as_str().unwrap().to_string();
    assert_eq!(created["mnemonic"].as_str().unwrap().split(' ').count(), 24);

    let output = home.equa(&["keys", "list", "--json"], None, "");
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        listed,
        serde_json::json!([{ "name": "alice", "address": address }])
    );

    let output = home.equa(&["keys", "show", "--name", "alice"], Some("pw"), "");
    assert!(output.status.success());
    assert!(text(&output.stdout).contains(&address));

    // The mnemonic restores the same account.
    let phrase = created["mnemonic"].as_str().unwrap();
    let output = home.equa(
        &["keys", "import", "--name", "copy", "--json"],
        Some("pw2"),
        phrase,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let imported: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(imported["address"], address);
}

#[test]
fn import_of_a_known_mnemonic_gives_its_known_address() {
    let home = Home::new("import");
    let output = home.equa(&["keys", "import"], Some("pw"), &format!("{PHRASE}\n"));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains(PHRASE_ADDRESS));
}

#[test]
fn bad_input_gets_a_clear_error_and_writes_nothing() {
    let home = Home::new("bad");
    // A wrong checksum word.
    let output = home.equa(
        &["keys", "import"],
        Some("pw"),
        &PHRASE.replace(" art", " zoo"),
    );
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("the mnemonic is not valid"),
        "{}",
        text(&output.stderr)
    );
    assert!(!home.0.join("keys/default.json").exists());

    // No password available and no terminal.
    let output = home.equa(&["keys", "new"], None, "");
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("set EQUA_PASSWORD"));
    assert!(!home.0.join("keys/default.json").exists());

    // A wrong password.
    assert!(
        home.equa(&["keys", "import"], Some("right"), PHRASE)
            .status
            .success()
    );
    let output = home.equa(&["keys", "show"], Some("wrong"), "");
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("wrong password"),
        "{}",
        text(&output.stderr)
    );

    // An existing wallet is never overwritten.
    let before = std::fs::read(home.0.join("keys/default.json")).unwrap();
    let output = home.equa(&["keys", "new"], Some("pw"), "");
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("already exists"));
    assert_eq!(
        std::fs::read(home.0.join("keys/default.json")).unwrap(),
        before
    );

    // A name that would escape the key directory.
    let output = home.equa(&["keys", "new", "--name", "../evil"], Some("pw"), "");
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("invalid wallet name"));
}
