//! A hostile network for real validator processes: each validator in its own Linux network
//! namespace, joined to a router namespace by a veth pair, every packet between two validators
//! delayed and dropped on the way, and partitions made and healed by routing rules.
//!
//! The delay and loss are applied by this process, not by `tc netem`: the kernels this project is
//! tested on may lack the `sch_netem` module (and cannot load it), so the router namespace sends
//! every packet from a validator through a TUN device, and [`Impairment`] holds each one for its
//! delay (uniform within the jitter, so packets reorder as they do under netem) or drops it, then
//! writes it back for the kernel to deliver. Validators' kernels and TCP stacks are untouched: a
//! lost packet is a real loss that TCP must retransmit. Traffic between the test and a validator's
//! JSON-RPC takes a separate link to the host and is neither delayed nor partitioned, so the test
//! always observes every node.
//!
//! Names start with `eqn<pid>` (namespaces `eqn<pid>r` and `eqn<pid>v<i>`, the host's link
//! `eqn<pid>h`), so concurrent runs never meet; leftovers of runs whose process is gone are
//! removed on start. Addresses are `10.<subnet>.<i+1>.2` for validator i, with a subnet no route
//! of the host uses.

#![allow(dead_code)]

use std::{
    collections::BinaryHeap,
    net::{IpAddr, Ipv4Addr},
    process::Command,
    sync::{Arc, mpsc},
    time::{Duration, Instant},
};

/// What happens to each packet between two validators (one way).
#[derive(Clone, Copy, Debug)]
pub struct Impairment {
    pub delay_ms: u64,
    /// The delay is uniform in `delay_ms ± jitter_ms`.
    pub jitter_ms: u64,
    /// Packets dropped, in thousandths.
    pub loss_per_mille: u64,
}

/// Whether this machine can run the network: root, `ip` and `/dev/net/tun`. `Err` says what is
/// missing.
pub fn supported() -> Result<(), String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .unwrap_or("unknown");
    if uid != "0" {
        return Err(format!(
            "network namespaces need root; this test runs as uid {uid}"
        ));
    }
    match Command::new("ip").arg("-V").output() {
        Ok(output) if output.status.success() => {}
        _ => return Err("`ip` (iproute2) is missing: apt-get install iproute2".into()),
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Err("/dev/net/tun is missing: the kernel has no TUN support".into());
    }
    Ok(())
}

/// Runs `ip` with `args`; panics with its error output if it fails.
pub fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().expect("`ip` runs");
    assert!(
        output.status.success(),
        "`ip {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Writes a sysctl inside namespace `namespace`.
fn sysctl(namespace: &str, key: &str, value: &str) {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    ip(&[
        "netns",
        "exec",
        namespace,
        "sh",
        "-c",
        &format!("echo {value} > {path}"),
    ]);
}

/// The process id in a name `eqn<pid><rest>`, if it is one of ours.
fn owner(name: &str) -> Option<u32> {
    let digits: String = name
        .strip_prefix("eqn")?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Removes namespaces and host links left by runs whose process is gone (a run killed before
/// its cleanup). Those of live processes, concurrent runs, are left alone.
fn remove_leftovers() {
    let dead = |name: &str| {
        owner(name).is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
    };
    let namespaces = Command::new("ip").args(["netns", "list"]).output().unwrap();
    for line in String::from_utf8_lossy(&namespaces.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        if dead(name) {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
    let links = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    for line in String::from_utf8_lossy(&links.stdout).lines() {
        // "12: eqn123h@if3: <...>"
        let Some(name) = line.split(": ").nth(1) else {
            continue;
        };
        let name = name.split('@').next().unwrap_or_default();
        if dead(name) {
            let _ = Command::new("ip").args(["link", "del", name]).status();
        }
    }
}

/// A second octet for `10.x.0.0/16` that no address or route of the host uses.
fn free_subnet() -> u8 {
    let routes = Command::new("ip")
        .args(["-4", "route", "show"])
        .output()
        .unwrap();
    let addresses = Command::new("ip")
        .args(["-4", "addr", "show"])
        .output()
        .unwrap();
    let used = format!(
        "{}{}",
        String::from_utf8_lossy(&routes.stdout),
        String::from_utf8_lossy(&addresses.stdout)
    );
    let start = 64 + std::process::id() % 128;
    (0..128)
        .map(|offset| (start + offset) % 128 + 64)
        .map(|octet| octet as u8)
        .find(|octet| !used.contains(&format!("10.{octet}.")))
        .expect("a free 10.x.0.0/16 subnet")
}

/// The validators' network; dropping it removes every namespace and link it made.
pub struct Network {
    prefix: String,
    subnet: u8,
    validators: usize,
    /// The groups of the current partition, if any.
    partitioned: bool,
}

impl Network {
    /// Makes the namespaces, links and routes for `validators` validators, and starts the
    /// impairment of every packet between them.
    pub fn create(validators: usize, impairment: Impairment) -> Self {
        remove_leftovers();
        let prefix = format!("eqn{}", std::process::id());
        let subnet = free_subnet();
        let network = Self {
            prefix,
            subnet,
            validators,
            partitioned: false,
        };
        let router = network.router();
        ip(&["netns", "add", &router]);
        ip(&["-n", &router, "link", "set", "lo", "up"]);
        sysctl(&router, "net.ipv4.ip_forward", "1");
        // Packets come back from the TUN device with a validator's source address, which
        // strict reverse-path filtering would drop.
        sysctl(&router, "net.ipv4.conf.all.rp_filter", "0");
        sysctl(&router, "net.ipv4.conf.default.rp_filter", "0");

        // The host's link to the router, for JSON-RPC only.
        let host_link = format!("{}h", network.prefix);
        let host = format!("10.{subnet}.250.1");
        ip(&[
            "link", "add", &host_link, "type", "veth", "peer", "name", "h0", "netns", &router,
        ]);
        ip(&["addr", "add", &format!("{host}/24"), "dev", &host_link]);
        ip(&["link", "set", &host_link, "up"]);
        ip(&[
            "-n",
            &router,
            "addr",
            "add",
            &format!("10.{subnet}.250.2/24"),
            "dev",
            "h0",
        ]);
        ip(&["-n", &router, "link", "set", "h0", "up"]);
        ip(&[
            "route",
            "add",
            &format!("10.{subnet}.0.0/16"),
            "via",
            &format!("10.{subnet}.250.2"),
        ]);

        for index in 0..validators {
            let namespace = network.namespace(index);
            let outside = format!("p{index}");
            ip(&["netns", "add", &namespace]);
            ip(&["-n", &namespace, "link", "set", "lo", "up"]);
            ip(&[
                "-n", &router, "link", "add", &outside, "type", "veth", "peer", "name", "eth0",
                "netns", &namespace,
            ]);
            let net = format!("10.{subnet}.{}", index + 1);
            ip(&[
                "-n",
                &namespace,
                "addr",
                "add",
                &format!("{net}.2/24"),
                "dev",
                "eth0",
            ]);
            ip(&["-n", &namespace, "link", "set", "eth0", "up"]);
            ip(&[
                "-n",
                &namespace,
                "route",
                "add",
                "default",
                "via",
                &format!("{net}.1"),
            ]);
            ip(&[
                "-n",
                &router,
                "addr",
                "add",
                &format!("{net}.1/24"),
                "dev",
                &outside,
            ]);
            ip(&["-n", &router, "link", "set", &outside, "up"]);
            // Answers to the host go straight back; everything else a validator sends goes
            // through the impairment.
            ip(&[
                "-n",
                &router,
                "rule",
                "add",
                "iif",
                &outside,
                "to",
                &format!("10.{subnet}.250.0/24"),
                "lookup",
                "main",
                "pref",
                "90",
            ]);
            ip(&[
                "-n", &router, "rule", "add", "iif", &outside, "lookup", "100", "pref", "100",
            ]);
        }

        // The TUN device is made here, where this process can open it, then moved into the
        // router; the open file keeps working across the move.
        let tun_name = format!("{}t", network.prefix);
        let device = tun_rs::DeviceBuilder::new()
            .name(&tun_name)
            .enable(false)
            .build_sync()
            .expect("a TUN device");
        ip(&["link", "set", &tun_name, "netns", &router, "name", "tun0"]);
        ip(&["-n", &router, "link", "set", "tun0", "up"]);
        sysctl(&router, "net.ipv4.conf.tun0.rp_filter", "0");
        ip(&[
            "-n", &router, "route", "add", "default", "dev", "tun0", "table", "100",
        ]);
        start_impairment(Arc::new(device), impairment);
        network
    }

    fn router(&self) -> String {
        format!("{}r", self.prefix)
    }

    /// Validator `index`'s namespace.
    pub fn namespace(&self, index: usize) -> String {
        format!("{}v{index}", self.prefix)
    }

    /// Validator `index`'s address.
    pub fn address(&self, index: usize) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, self.subnet, index as u8 + 1, 2))
    }

    /// A command that runs `program` inside validator `index`'s namespace. `ip netns exec`
    /// replaces itself with the program, so the child's process id is the program's.
    pub fn command(&self, index: usize, program: &std::path::Path) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.namespace(index)])
            .arg(program);
        command
    }

    /// Cuts the network into `groups`: no packet between validators of different groups gets
    /// through (dropped silently, as by a broken link) until [`Network::heal`].
    pub fn partition(&mut self, groups: &[&[usize]]) {
        assert!(!self.partitioned, "already partitioned");
        let router = self.router();
        for (a, from) in groups.iter().enumerate() {
            for (b, to) in groups.iter().enumerate() {
                if a == b {
                    continue;
                }
                for i in from.iter() {
                    for j in to.iter() {
                        ip(&[
                            "-n",
                            &router,
                            "rule",
                            "add",
                            "from",
                            &format!("10.{}.{}.0/24", self.subnet, i + 1),
                            "to",
                            &format!("10.{}.{}.0/24", self.subnet, j + 1),
                            "blackhole",
                            "pref",
                            "50",
                        ]);
                    }
                }
            }
        }
        self.partitioned = true;
    }

    /// Removes the partition.
    pub fn heal(&mut self) {
        assert!(self.partitioned, "not partitioned");
        let router = self.router();
        loop {
            let output = Command::new("ip")
                .args(["-n", &router, "rule", "del", "pref", "50"])
                .output()
                .unwrap();
            if !output.status.success() {
                break;
            }
        }
        self.partitioned = false;
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let quiet = |args: &[&str]| {
            let _ = Command::new("ip")
                .args(args)
                .stderr(std::process::Stdio::null())
                .status();
        };
        // The host's link first, and explicitly: a namespace's devices go away some time after
        // the namespace is deleted, and the next network of this process reuses the name.
        quiet(&["link", "del", &format!("{}h", self.prefix)]);
        for index in 0..self.validators {
            quiet(&["netns", "del", &self.namespace(index)]);
        }
        // Deleting the router deletes the TUN device, which ends the impairment's threads.
        quiet(&["netns", "del", &self.router()]);
    }
}

/// A packet waiting for its time.
struct Held {
    due: Instant,
    sequence: u64,
    packet: Vec<u8>,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.sequence) == (other.due, other.sequence)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    /// The earliest due first (a max-heap of the reverse).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.due, other.sequence).cmp(&(self.due, self.sequence))
    }
}

/// splitmix64: a fixed sequence, so a run's losses and delays do not depend on the clock.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Two threads: one reads each packet from the TUN device and drops it or schedules it, the
/// other writes scheduled packets back when they are due. Both end when the device is deleted.
fn start_impairment(device: Arc<tun_rs::SyncDevice>, impairment: Impairment) {
    // Bounded: when the writer falls behind, the reader waits and the kernel's queue in front of
    // the device drops packets, as a congested link would.
    let (sender, receiver) = mpsc::sync_channel::<Held>(100_000);
    let reader = device.clone();
    std::thread::spawn(move || {
        let mut random = Random(0x45_51_55_41);
        let mut buffer = vec![0u8; 65_536];
        let mut sequence = 0u64;
        while let Ok(length) = reader.recv(&mut buffer) {
            sequence += 1;
            if random.next() % 1000 < impairment.loss_per_mille {
                continue;
            }
            let spread = 2 * impairment.jitter_ms * 1000 + 1;
            let delay_us =
                impairment.delay_ms * 1000 - impairment.jitter_ms * 1000 + random.next() % spread;
            let held = Held {
                due: Instant::now() + Duration::from_micros(delay_us),
                sequence,
                packet: buffer[..length].to_vec(),
            };
            if sender.send(held).is_err() {
                return;
            }
        }
    });
    std::thread::spawn(move || {
        let mut waiting = BinaryHeap::new();
        loop {
            let now = Instant::now();
            while waiting.peek().is_some_and(|held: &Held| held.due <= now) {
                let held = waiting.pop().unwrap();
                if device.send(&held.packet).is_err() {
                    return;
                }
            }
            let next = match waiting.peek() {
                Some(held) => receiver.recv_timeout(held.due.saturating_duration_since(now)),
                None => receiver
                    .recv()
                    .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            };
            match next {
                Ok(held) => waiting.push(held),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
    });
}
