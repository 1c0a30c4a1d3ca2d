//! A real devnet for end-to-end tests: `equa devnet` with four validator processes on loopback,
//! driven through the `equa` command line as a user would.
//!
//! Each test binary has its own fixed ports, all below 32768: Linux picks the source ports of
//! outgoing connections from 32768-60999, so a fixed port there can be taken by any connection
//! made meanwhile (the validators' own among them) and a node then fails to bind it.

#![allow(dead_code)]

/// The first port Linux may give an outgoing connection (`net.ipv4.ip_local_port_range`).
pub const EPHEMERAL: u16 = 32_768;

use std::{
    path::PathBuf,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

/// A running devnet in a temporary directory; dropping it stops every validator.
pub struct Devnet {
    pub dir: PathBuf,
    pub rpc_port: u16,
    pub p2p_port: u16,
    /// Environment variables every node process gets (through `equa devnet`).
    env: Vec<(String, String)>,
    /// Arguments added to `equa devnet`.
    args: Vec<String>,
    process: Option<Child>,
}

impl Devnet {
    /// Starts a fresh devnet whose first validator serves RPC on `rpc_port` and peers on
    /// `p2p_port`, and waits until every validator has finalized a few blocks.
    pub fn start(name: &str, rpc_port: u16, p2p_port: u16) -> Self {
        Self::start_with_env(name, rpc_port, p2p_port, &[])
    }

    /// [`Devnet::start`] with `env` set for `equa devnet` and so for every node it starts
    /// (`RUST_LOG`, `EQUA_LOG_FORMAT`).
    pub fn start_with_env(name: &str, rpc_port: u16, p2p_port: u16, env: &[(&str, &str)]) -> Self {
        Self::start_with(name, rpc_port, p2p_port, env, &[])
    }

    /// [`Devnet::start_with_env`] with `args` added to `equa devnet` (for example
    /// `--idle-block-interval-ms`, for a test that needs many blocks quickly).
    pub fn start_with(
        name: &str,
        rpc_port: u16,
        p2p_port: u16,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Self {
        // RPC, web and metrics take the first RPC port plus 0 to 24; peers the first few P2P ports.
        assert!(
            rpc_port
                .checked_add(40)
                .is_some_and(|last| last < EPHEMERAL)
                && p2p_port
                    .checked_add(10)
                    .is_some_and(|last| last < EPHEMERAL),
            "{name}: ports {rpc_port} and {p2p_port} reach into the ephemeral range"
        );
        let dir = std::env::temp_dir().join(format!("equa-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut devnet = Self {
            dir,
            rpc_port,
            p2p_port,
            env: env
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
            args: args.iter().map(|arg| arg.to_string()).collect(),
            process: None,
        };
        devnet.resume();
        for index in 0..4 {
            devnet.wait_for_height(index, 3);
        }
        devnet
    }

    /// Starts the devnet's processes again from its directory.
    pub fn resume(&mut self) {
        assert!(self.process.is_none(), "the devnet is running");
        let process = Command::new(env!("CARGO_BIN_EXE_equa"))
            .args(["devnet", "--dir", self.dir.to_str().unwrap()])
            .args(["--rpc-port", &self.rpc_port.to_string()])
            .args(["--p2p-port", &self.p2p_port.to_string()])
            // Each test devnet serves its web pages beside its RPC ports, clear of the default 8080.
            .args(["--web-port", &(self.rpc_port + 10).to_string()])
            .args(["--metrics-port", &(self.rpc_port + 20).to_string()])
            .args(&self.args)
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("devnet starts");
        self.process = Some(process);
    }

    /// Stops the devnet as Ctrl-C would and waits until it has exited; returns whether it
    /// exited by itself within 30 seconds.
    pub fn stop(&mut self) -> bool {
        let Some(mut process) = self.process.take() else {
            return true;
        };
        let _ = Command::new("kill")
            .args(["-INT", &process.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while matches!(process.try_wait(), Ok(None)) {
            if Instant::now() >= deadline {
                let _ = process.kill();
                let _ = process.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        true
    }

    /// The process ids of `equa devnet` and of every process it started (its validators).
    pub fn process_ids(&self) -> Vec<u32> {
        let parent = self.process.as_ref().expect("the devnet is running").id();
        let children = process_ids().into_iter().filter(|id| {
            // A process may exit between the listing and this read.
            std::fs::read_to_string(format!("/proc/{id}/status")).is_ok_and(|status| {
                proc_status_field(&status, "PPid").as_deref() == Some(&*parent.to_string())
            })
        });
        std::iter::once(parent).chain(children).collect()
    }

    /// Where validator `index` serves Prometheus metrics.
    pub fn metrics_address(&self, index: u16) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.rpc_port + 20 + index))
    }

    pub fn rpc(&self, index: u16) -> String {
        format!("http://127.0.0.1:{}", self.rpc_port + index)
    }

    pub fn wallet(&self, name: &str) -> PathBuf {
        self.dir.join(format!("wallets/{name}.json"))
    }

    pub fn address(&self, name: &str) -> String {
        client::Keystore::load(&self.wallet(name))
            .unwrap()
            .address()
            .to_string()
    }

    /// Runs `equa` against validator 0 with `name`'s wallet.
    pub fn run(&self, name: &str, args: &[&str]) -> Output {
        self.run_on(0, name, args)
    }

    pub fn run_on(&self, index: u16, name: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_equa"))
            .args(["--rpc", &self.rpc(index)])
            .args(["--wallet", self.wallet(name).to_str().unwrap()])
            .args(args)
            .env("EQUA_PASSWORD", "devnet")
            .env_remove("EQUA_RPC")
            .env_remove("EQUA_WALLET")
            .output()
            .expect("the equa binary runs")
    }

    /// Runs a command that must succeed, returning its standard output.
    pub fn ok(&self, name: &str, args: &[&str]) -> String {
        let output = self.run(name, args);
        assert!(
            output.status.success(),
            "`equa {}` as {name} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs a `--json` command that must succeed and parses its output.
    pub fn json(&self, name: &str, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend(args);
        serde_json::from_str(&self.ok(name, &all)).unwrap()
    }

    /// Runs a command that must fail; returns its error output.
    pub fn fails(&self, name: &str, args: &[&str]) -> String {
        let output = self.run(name, args);
        assert!(
            !output.status.success(),
            "`equa {}` as {name} should have failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8(output.stderr).unwrap()
    }

    /// Runs `equa` against validator `index` without a wallet.
    pub fn query(&self, index: u16, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_equa"))
            .args(["--rpc", &self.rpc(index)])
            .args(args)
            .env_remove("EQUA_RPC")
            .env_remove("EQUA_WALLET")
            .output()
            .expect("the equa binary runs")
    }

    pub fn height(&self, index: u16) -> Option<u64> {
        let output = self.query(index, &["--json", "status"]);
        if !output.status.success() {
            return None;
        }
        let status: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
        status["height"].as_u64()
    }

    pub fn wait_for_height(&self, index: u16, at_least: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(height) = self.height(index)
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

    /// `name`'s balance of `symbol`, as decimal text ("0" when none).
    pub fn balance(&self, name: &str, symbol: &str) -> String {
        self.balance_on(0, name, symbol)
    }

    /// `name`'s balance of `symbol` as validator `index` sees it.
    pub fn balance_on(&self, index: u16, name: &str, symbol: &str) -> String {
        let output = self.query(index, &["--json", "account", "show", &self.address(name)]);
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
            .find(|b| b["symbol"] == symbol)
            .map_or_else(|| "0".into(), |b| b["amount"].as_str().unwrap().to_string())
    }
}

impl Drop for Devnet {
    /// Stops the devnet, so no validator outlives the test, and removes its directory.
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs a `--json` transaction command as `name` that must succeed; returns its receipt.
pub fn receipt_ok(devnet: &Devnet, name: &str, args: &[&str]) -> serde_json::Value {
    let receipt = devnet.json(name, args);
    assert_eq!(receipt["outcome"], "success", "{args:?}: {receipt}");
    receipt
}

/// A transaction the ledger refuses: the command fails before sending, its receipt naming the
/// ledger's error `code`.
pub fn ledger_refuses(devnet: &Devnet, name: &str, args: &[&str], code: &str) {
    let mut all = vec!["--json"];
    all.extend(args);
    let output = devnet.run(name, &all);
    assert!(
        !output.status.success(),
        "{args:?} should fail: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    let receipt: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(receipt["outcome"], "failed", "{args:?}: {receipt}");
    assert_eq!(receipt["error"]["code"], code, "{args:?}: {receipt}");
}

/// The ids of every process on this machine, as `/proc` lists them.
pub fn process_ids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .expect("/proc lists the processes")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .collect()
}

/// The value of `field` in a `/proc/<pid>/status` text, trimmed.
pub fn proc_status_field(status: &str, field: &str) -> Option<String> {
    status.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name == field).then(|| value.trim().to_string())
    })
}
