//! `equa devnet`: a complete local network from one command.
//!
//! The first run creates a directory with a genesis, validator keys and configurations (four
//! validators unless `--validators` says otherwise), and funded demo wallets; every run then
//! starts the validators as separate `equa node` processes on 127.0.0.1 (or the addresses
//! `--hosts` gave them), restarts any that exits (with a growing backoff while it keeps
//! failing), and stops them all on Ctrl-C. A second run resumes from disk; `--reset` starts over.
//!
//! Everything here is for local development: the demo wallets' password is printed, and the
//! keys sit unencrypted next to the nodes.

use clap::Args;
use client::{Keystore, ScryptCost, Wallet};
use commonware_cryptography::{Signer, ed25519};
use serde::{Deserialize, Serialize};
use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
};
use types::{AccountId, codec::Encode};

/// The password of every demo wallet.
pub const DEMO_PASSWORD: &str = "devnet";
/// Demo accounts and their roles.
pub const DEMO_ACCOUNTS: [(&str, &str); 4] = [
    ("alice", "trader, issuer of the demo dollar USDX"),
    ("bob", "trader"),
    ("carol", "lender"),
    ("dave", "arbitrator"),
];
/// The first validator's RPC port; validator i listens on this plus i.
pub const FIRST_RPC_PORT: u16 = 9545;
/// The first validator's peer-to-peer port.
pub const FIRST_P2P_PORT: u16 = 30_300;
/// The first validator's web interface port; validator i serves demo wallet i on this plus i.
pub const FIRST_WEB_PORT: u16 = 8080;
/// The first validator's Prometheus metrics port; validator i uses this plus i, the full node
/// the port after the last validator's.
pub const FIRST_METRICS_PORT: u16 = 9464;
/// The validators of a new devnet unless `--validators` says otherwise.
pub const DEFAULT_VALIDATORS: usize = 4;
/// The most validators a devnet may have: every validator's ports must fit below 65536, and a
/// devnet is for one machine.
pub const MAX_VALIDATORS: usize = 100;

#[derive(Debug, Args)]
pub struct DevnetArgs {
    /// Where the devnet keeps its genesis, keys, wallets and data.
    #[arg(long, default_value = "devnet")]
    pub dir: PathBuf,
    /// Delete the directory and start a new chain.
    #[arg(long)]
    pub reset: bool,
    /// Create the directory and exit without starting nodes.
    #[arg(long)]
    pub init_only: bool,
    /// Also start the devnet's full node, which follows the validators without voting.
    #[arg(long)]
    pub full_node: bool,
    /// The first validator's JSON-RPC port (validator i uses this plus i). Used when the
    /// directory is created.
    #[arg(long, default_value_t = FIRST_RPC_PORT)]
    pub rpc_port: u16,
    /// The first validator's peer-to-peer port.
    #[arg(long, default_value_t = FIRST_P2P_PORT)]
    pub p2p_port: u16,
    /// The first validator's web interface port.
    #[arg(long, default_value_t = FIRST_WEB_PORT)]
    pub web_port: u16,
    /// The first validator's Prometheus metrics port (`http://127.0.0.1:<port>/metrics`).
    #[arg(long, default_value_t = FIRST_METRICS_PORT)]
    pub metrics_port: u16,
    /// How long a leader with no transaction to propose waits before it proposes an empty
    /// block, in milliseconds (the node's default, 1000, when absent). Used when the directory
    /// is created.
    #[arg(long, value_name = "MS")]
    pub idle_block_interval_ms: Option<u64>,
    /// How many finalized blocks each node keeps for peers that are behind before pruning
    /// older ones (the node's default, 100000, when absent). A node that joins later syncs the
    /// state from peers. Used when the directory is created.
    #[arg(long, value_name = "BLOCKS")]
    pub retained_blocks: Option<u64>,
    /// Keep each node's ledger state on disk behind a page cache of this many MiB (8 to
    /// 65536) instead of whole in memory. Used when the directory is created.
    #[arg(long, value_name = "MIB")]
    pub state_cache_mib: Option<u64>,
    /// How many validators a new devnet has (1 to 100). Used when the directory is created.
    #[arg(long, default_value_t = DEFAULT_VALIDATORS, value_name = "N")]
    pub validators: usize,
    /// Seats on each epoch's committee (at least the number of validators, and 4):
    /// more leaves seats for validators who join by staking (`equa validator register`)
    /// without out-bonding a genesis validator. Used when the directory is created.
    #[arg(long, value_name = "SEATS")]
    pub committee_size: Option<u16>,
    /// The address each validator listens on for peers and JSON-RPC, one per validator and
    /// separated by commas (127.0.0.1 for all when absent), for validators on different hosts
    /// or network namespaces. The ports stay those above plus the validator's index; the web
    /// interface and metrics stay on loopback. Used when the directory is created.
    #[arg(long, value_delimiter = ',', value_name = "IP,IP,...")]
    pub hosts: Vec<IpAddr>,
}

/// A validator's entry in every node's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerConfig {
    /// The validator's ed25519 public key, hex.
    pub public_key: String,
    /// Where it listens for peers.
    pub address: SocketAddr,
}

/// The configuration file of one node (`equa node --config <file>`, read by
/// `node::run::RunConfig`). Relative paths are relative to the file's directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    pub genesis: PathBuf,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub rpc: SocketAddr,
    /// The node's ed25519 private key, hex. The file is readable only by its owner.
    pub private_key: String,
    /// The public side of the chain's threshold consensus key, hex (the same for every node);
    /// when absent, the genesis file's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consensus_key: Option<String>,
    /// A validator's share of the consensus key, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consensus_share: Option<String>,
    /// Every validator of the chain, this node included; when empty, the committee the genesis
    /// file's staking registry elects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validators: Vec<PeerConfig>,
    /// Peers to start from besides the genesis validators: `<public key hex>@<ip:port>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bootstrap: Vec<String>,
    /// The web interface, for the owner of one wallet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebConfig>,
    /// Where Prometheus metrics are served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<SocketAddr>,
    /// How long a leader with nothing to propose waits before an empty block (the node's
    /// default when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_block_interval_ms: Option<u64>,
    /// Finalized blocks kept for peers (the node's default when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retained_blocks: Option<u64>,
    /// The page cache of the ledger state's file, when the state is kept on disk (in memory
    /// when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_cache_mib: Option<u64>,
    /// Whether a node with no state yet syncs it from peers.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub state_sync: bool,
    /// A checkpoint file (`equa node checkpoint`): a later committee to state-sync from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<PathBuf>,
}

/// Where a node serves its web interface and which keystore it acts for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// A loopback address.
    pub listen: SocketAddr,
    pub wallet: PathBuf,
}

pub(crate) fn write_private(path: &Path, contents: &str) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn write(path: &Path, contents: &str) -> Result<(), String> {
    std::fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A demo wallet as genesis knows it.
struct DemoWallet {
    name: &'static str,
    account: AccountId,
    /// Its X25519 chat key, published at genesis.
    chat_key: [u8; 32],
}

/// "alice" as a person would write it: "Alice".
fn display_name(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// The genesis of a new devnet.
fn genesis_toml(
    now_ms: u64,
    wallets: &[DemoWallet],
    validators: &[(AccountId, SocketAddr)],
    full_node: (AccountId, SocketAddr),
    committee_size: Option<u16>,
    consensus_key: &str,
) -> String {
    let issuer = wallets[0].account;
    // Every validator of the devnet sits on the committee its registry elects.
    let committee = committee_size
        .map_or(0, usize::from)
        .max(validators.len())
        .clamp(
            usize::from(ledger::staking::params::MIN_COMMITTEE),
            usize::from(ledger::staking::params::MAX_COMMITTEE),
        );
    // Short epochs, so that committees turn over within a minute on an idle devnet: 32 blocks
    // up to eight seats, four blocks per seat (the rules' least) beyond.
    let blocks_per_epoch = 4 * committee.max(8);
    // Small registries: every node reserves p2p memory for every peer they may hold.
    let max_candidates = committee.max(16);
    let mut text = format!(
        "# Genesis of a local Equa devnet, written by `equa devnet`.\n\
         chain_id = \"equa-devnet\"\n\
         genesis_time_ms = {now_ms}\n\
         # The chain's threshold key, dealt by `equa devnet` (a trusted dealer, for devnets only).\n\
         consensus_key = \"{consensus_key}\"\n\n\
         [native]\nsymbol = \"EQA\"\nname = \"Equa\"\ndecimals = 9\n\n\
         [params]\nfee_per_byte = \"0.000001\"\ndefault_call_fee = \"0.001\"\n\n\
         [params.staking]\nmin_bond = \"100\"\nunbonding_secs = 600\ncommittee_size = {committee}\n\
         blocks_per_epoch = {blocks_per_epoch}\nmax_candidates = {max_candidates}\n\
         node_deposit = \"10\"\nmax_nodes = 16\n\n\
         [[assets]]\nsymbol = \"USDX\"\nname = \"Devnet dollar\"\ndecimals = 6\n\
         issuer = \"{issuer}\"\n\n"
    );
    for DemoWallet { name, account, .. } in wallets {
        text.push_str(&format!(
            "[[accounts]]   # {name}\naddress = \"{account}\"\nbalances = {{ EQA = \"10000\", USDX = \"100000\" }}\n\n"
        ));
    }
    // Every demo wallet has published its chat key and a name, so chat works from the start.
    for DemoWallet {
        name,
        account,
        chat_key,
    } in wallets
    {
        text.push_str(&format!(
            "[[profiles]]   # {name}\naddress = \"{account}\"\nname = \"{}\"\nchat_key = \"{}\"\n\n",
            display_name(name),
            hex::encode(chat_key)
        ));
    }
    for (index, (account, _)) in validators.iter().enumerate() {
        text.push_str(&format!(
            "[[accounts]]   # validator {index}\naddress = \"{account}\"\nbalances = {{ EQA = \"1000\" }}\n\n"
        ));
    }
    // The validators' accounts are their node keys; each bonds half its EQA.
    for (index, (account, p2p)) in validators.iter().enumerate() {
        text.push_str(&format!(
            "[[validators]]   # validator {index}\naddress = \"{account}\"\nnode_key = \"{}\"\n\
             p2p = \"{p2p}\"\nbond = \"500\"\n\n",
            hex::encode(account.as_bytes())
        ));
    }
    // The devnet's full node, registered from the start; its account is its node key, as a
    // validator's, and holds the deposit.
    let (node_account, node_p2p) = full_node;
    text.push_str(&format!(
        "[[accounts]]   # the full node\naddress = \"{node_account}\"\nbalances = {{ EQA = \"100\" }}\n\n\
         [[nodes]]   # the full node\nowner = \"{node_account}\"\nnode_key = \"{}\"\n\
         p2p = \"{node_p2p}\"\ndeposit = \"10\"\n\n",
        hex::encode(node_account.as_bytes())
    ));
    let arbitrator = wallets[3].account;
    text.push_str(&format!(
        "[[arbitrators]]   # dave\naddress = \"{arbitrator}\"\nbond = \"1000\"\nfee_bps = 100\nlanguages = \"en\"\n"
    ));
    text
}

/// How a new devnet's nodes are set up: the first validator's ports (validator i uses these
/// plus i), every node's idle interval (the node's default when `None`) and the address each
/// validator listens on for peers and JSON-RPC (127.0.0.1 for all when empty).
#[derive(Clone, Debug)]
pub struct Setup {
    pub rpc: u16,
    pub p2p: u16,
    pub web: u16,
    pub metrics: u16,
    pub idle_block_interval_ms: Option<u64>,
    pub retained_blocks: Option<u64>,
    pub state_cache_mib: Option<u64>,
    pub hosts: Vec<IpAddr>,
    /// Committee seats (the number of validators when `None`).
    pub committee_size: Option<u16>,
}

impl Setup {
    /// Where each of `validators` validators listens: (peers, JSON-RPC), in validator order.
    /// Refuses a count out of range, ports past 65535, a list of hosts of another length and
    /// an unspecified address (0.0.0.0), which peers could not dial.
    pub fn addresses(&self, validators: usize) -> Result<Vec<(SocketAddr, SocketAddr)>, String> {
        if !(1..=MAX_VALIDATORS).contains(&validators) {
            return Err(format!(
                "--validators {validators}: a devnet has from 1 to {MAX_VALIDATORS} validators"
            ));
        }
        if !self.hosts.is_empty() && self.hosts.len() != validators {
            return Err(format!(
                "--hosts lists {} addresses for {validators} validators; give one for each",
                self.hosts.len()
            ));
        }
        if let Some(host) = self.hosts.iter().find(|host| host.is_unspecified()) {
            return Err(format!(
                "--hosts {host}: a validator needs an address its peers can dial"
            ));
        }
        // The full node takes the port after the last validator's.
        let count = validators as u16;
        for (option, first) in [
            ("--rpc-port", self.rpc),
            ("--p2p-port", self.p2p),
            ("--web-port", self.web),
            ("--metrics-port", self.metrics),
        ] {
            if first.checked_add(count).is_none() {
                return Err(format!(
                    "{option} {first}: {validators} validators and a full node need ports up to \
                     {}, past 65535",
                    u32::from(first) + u32::from(count)
                ));
            }
        }
        Ok((0..count)
            .map(|index| {
                let host = self
                    .hosts
                    .get(usize::from(index))
                    .copied()
                    .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
                (
                    SocketAddr::new(host, self.p2p + index),
                    SocketAddr::new(host, self.rpc + index),
                )
            })
            .collect())
    }
}

/// Creates a new devnet directory. Returns the node configuration files in validator order.
pub fn create(dir: &Path, validators: usize, ports: &Setup) -> Result<Vec<PathBuf>, String> {
    let addresses = ports.addresses(validators)?;
    std::fs::create_dir_all(dir.join("wallets"))
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let keys: Vec<ed25519::PrivateKey> = (0..validators)
        .map(|_| client::keys::random_signing_key())
        .collect();
    let peers: Vec<PeerConfig> = keys
        .iter()
        .zip(&addresses)
        .map(|(key, (p2p, _))| PeerConfig {
            public_key: hex::encode(key.public_key().encode()),
            address: *p2p,
        })
        .collect();

    let mut wallets = Vec::new();
    for (name, _) in DEMO_ACCOUNTS {
        let (wallet, mnemonic) = Wallet::generate("");
        let keystore = Keystore::encrypt(&wallet, DEMO_PASSWORD, ScryptCost::TEST)
            .map_err(|e| e.to_string())?;
        keystore
            .save(&dir.join("wallets").join(format!("{name}.json")))
            .map_err(|e| e.to_string())?;
        write_private(
            &dir.join("wallets").join(format!("{name}.mnemonic")),
            &format!("{}\n", mnemonic.as_str()),
        )?;
        wallets.push(DemoWallet {
            name,
            account: wallet.account(),
            chat_key: wallet.chat_public_key(),
        });
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_millis() as u64;
    let validator_accounts: Vec<(AccountId, SocketAddr)> = keys
        .iter()
        .zip(&addresses)
        .map(|(key, (p2p, _))| (AccountId::from_public_key(&key.public_key()), *p2p))
        .collect();
    // The consensus key, dealt by this command (a devnet's trusted dealer: it sees every share,
    // so it is for devnets only), and its public side, the trust anchor of light clients
    // (`equa account show --verify`).
    let public_keys: Vec<ed25519::PublicKey> = keys.iter().map(|key| key.public_key()).collect();
    let (consensus_key, shares) = node::threshold::deal_from_os(&public_keys);
    write(
        &dir.join("chain-key.txt"),
        &format!(
            "# The public key of this devnet's chain, for `equa account show --verify`.\n{}\n",
            node::threshold::to_hex(&node::threshold::identity(&consensus_key))
        ),
    )?;
    let consensus_key = node::threshold::to_hex(&consensus_key);

    // One full node, registered in the genesis file: every node admits its key as a peer.
    let follower = client::keys::random_signing_key();
    let count = keys.len() as u16;
    let full_node_p2p = SocketAddr::from(([127, 0, 0, 1], ports.p2p + count));
    write(
        &dir.join("genesis.toml"),
        &genesis_toml(
            now_ms,
            &wallets,
            &validator_accounts,
            (
                AccountId::from_public_key(&follower.public_key()),
                full_node_p2p,
            ),
            ports.committee_size,
            &consensus_key,
        ),
    )?;
    ledger::Genesis::load(&dir.join("genesis.toml")).map_err(|e| format!("devnet genesis: {e}"))?;
    let full_node_dir = dir.join("full-node");
    std::fs::create_dir_all(&full_node_dir)
        .map_err(|e| format!("cannot create {}: {e}", full_node_dir.display()))?;
    let full_node = NodeConfig {
        genesis: PathBuf::from("../genesis.toml"),
        data_dir: PathBuf::from("data"),
        listen: full_node_p2p,
        rpc: SocketAddr::from(([127, 0, 0, 1], ports.rpc + count)),
        private_key: hex::encode(follower.encode()),
        // It takes the chain's key from the genesis file.
        consensus_key: None,
        consensus_share: None,
        // It finds the validators and their addresses in the genesis file's registry.
        validators: Vec::new(),
        bootstrap: Vec::new(),
        web: None,
        metrics: Some(SocketAddr::from(([127, 0, 0, 1], ports.metrics + count))),
        idle_block_interval_ms: ports.idle_block_interval_ms,
        retained_blocks: ports.retained_blocks,
        state_cache_mib: ports.state_cache_mib,
        // It joins whenever its owner starts it: from a recent finalized state, not genesis.
        state_sync: true,
        checkpoint: None,
    };
    write_private(
        &full_node_dir.join("node.toml"),
        &toml::to_string_pretty(&full_node).map_err(|e| e.to_string())?,
    )?;

    let mut configs = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        let node_dir = dir.join(format!("validator-{index}"));
        std::fs::create_dir_all(&node_dir)
            .map_err(|e| format!("cannot create {}: {e}", node_dir.display()))?;
        let config = NodeConfig {
            genesis: PathBuf::from("../genesis.toml"),
            data_dir: PathBuf::from("data"),
            listen: peers[index].address,
            rpc: addresses[index].1,
            private_key: hex::encode(key.encode()),
            consensus_key: Some(consensus_key.clone()),
            consensus_share: shares
                .iter()
                .find(|(holder, _)| *holder == key.public_key())
                .map(|(_, share)| node::threshold::to_hex(share)),
            validators: peers.clone(),
            bootstrap: Vec::new(),
            web: DEMO_ACCOUNTS.get(index).map(|(name, _)| WebConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], ports.web + index as u16)),
                wallet: PathBuf::from(format!("../wallets/{name}.json")),
            }),
            metrics: Some(SocketAddr::from((
                [127, 0, 0, 1],
                ports.metrics + index as u16,
            ))),
            idle_block_interval_ms: ports.idle_block_interval_ms,
            retained_blocks: ports.retained_blocks,
            state_cache_mib: ports.state_cache_mib,
            state_sync: false,
            checkpoint: None,
        };
        let path = node_dir.join("node.toml");
        write_private(
            &path,
            &toml::to_string_pretty(&config).map_err(|e| e.to_string())?,
        )?;
        configs.push(path);
    }
    Ok(configs)
}

/// Prints where everything is.
fn describe(dir: &Path, configs: &[PathBuf]) -> Result<(), String> {
    println!("devnet directory: {}", dir.display());
    println!("chain id:         equa-devnet");
    for (index, config) in configs.iter().enumerate() {
        let text = std::fs::read_to_string(config)
            .map_err(|e| format!("cannot read {}: {e}", config.display()))?;
        let config: NodeConfig = toml::from_str(&text).map_err(|e| format!("{}: {e}", index))?;
        println!(
            "validator {index}:      rpc http://{}  p2p {}",
            config.rpc, config.listen
        );
        if let Some(web) = &config.web {
            let wallet = web.wallet.file_stem().unwrap_or_default().to_string_lossy();
            println!(
                "                  web http://{}  (wallet {wallet})",
                web.listen
            );
        }
        if let Some(metrics) = config.metrics {
            println!("                  metrics http://{metrics}/metrics");
        }
    }
    let full_node = dir.join("full-node").join("node.toml");
    if let Ok(text) = std::fs::read_to_string(&full_node) {
        let config: NodeConfig =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", full_node.display()))?;
        println!(
            "full node:        rpc http://{}  p2p {}  (started with --full-node, or \
             `equa node --config {}`)",
            config.rpc,
            config.listen,
            full_node.display()
        );
        if let Some(metrics) = config.metrics {
            println!("                  metrics http://{metrics}/metrics");
        }
    }
    println!(
        "chain key:        {} (for `equa account show <address> --verify --chain-key …`)",
        dir.join("chain-key.txt").display()
    );
    println!("\ndemo wallets (password \"{DEMO_PASSWORD}\"):");
    for (name, role) in DEMO_ACCOUNTS {
        let path = dir.join("wallets").join(format!("{name}.json"));
        let keystore = Keystore::load(&path).map_err(|e| e.to_string())?;
        println!("  {name:<6} {}  {role}", keystore.address());
        println!("         --wallet {}", path.display());
    }
    Ok(())
}

/// The node configuration files of an existing devnet, in validator order.
fn existing_configs(dir: &Path) -> Vec<PathBuf> {
    (0..)
        .map(|index| dir.join(format!("validator-{index}")).join("node.toml"))
        .take_while(|path| path.exists())
        .collect()
}

pub fn run(args: DevnetArgs) -> Result<(), String> {
    if args.reset && args.dir.exists() {
        std::fs::remove_dir_all(&args.dir)
            .map_err(|e| format!("cannot remove {}: {e}", args.dir.display()))?;
    }
    let configs = if args.dir.join("genesis.toml").exists() {
        println!("resuming the devnet in {}", args.dir.display());
        existing_configs(&args.dir)
    } else {
        create(
            &args.dir,
            args.validators,
            &Setup {
                rpc: args.rpc_port,
                p2p: args.p2p_port,
                web: args.web_port,
                metrics: args.metrics_port,
                idle_block_interval_ms: args.idle_block_interval_ms,
                retained_blocks: args.retained_blocks,
                state_cache_mib: args.state_cache_mib,
                hosts: args.hosts,
                committee_size: args.committee_size,
            },
        )?
    };
    describe(&args.dir, &configs)?;
    if args.init_only {
        return Ok(());
    }
    let mut processes = configs;
    if args.full_node {
        let full_node = args.dir.join("full-node").join("node.toml");
        if !full_node.exists() {
            return Err(format!(
                "this devnet has no full node ({} is missing); `--reset` creates one",
                full_node.display()
            ));
        }
        processes.push(full_node);
    }
    start(&processes)
}

/// A node process the devnet keeps running.
struct Supervised {
    config: PathBuf,
    child: Option<std::process::Child>,
    started: std::time::Instant,
    /// Exits in a row, each soon after its start: they lengthen the wait before a restart.
    quick_failures: u32,
    restart_at: Option<std::time::Instant>,
}

/// A node that ran this long before exiting is taken to have been healthy: its next restart
/// waits only the shortest backoff.
const HEALTHY_RUN: std::time::Duration = std::time::Duration::from_secs(30);
const FIRST_BACKOFF: std::time::Duration = std::time::Duration::from_secs(1);
const MAX_BACKOFF: std::time::Duration = std::time::Duration::from_secs(60);

/// The wait before restarting a node that exited after `quick_failures` quick exits in a row:
/// one second, doubling, at most a minute.
fn backoff(quick_failures: u32) -> std::time::Duration {
    FIRST_BACKOFF
        .saturating_mul(1u32.checked_shl(quick_failures.min(16)).unwrap_or(u32::MAX))
        .min(MAX_BACKOFF)
}

/// The last few non-empty lines of a node's log: usually why it stopped.
fn log_tail(log_path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log_path).unwrap_or_default();
    let tail: Vec<&str> = text
        .lines()
        .rev()
        .filter(|line| !line.trim().is_empty())
        .take(lines)
        .collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n    ")
}

fn spawn_node(exe: &Path, config: &Path) -> Result<std::process::Child, String> {
    use std::process::{Command, Stdio};
    let log_path = config.with_file_name("node.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    Command::new(exe)
        .arg("node")
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start a node: {e}"))
}

/// Starts one `equa node` process per configuration and supervises them until Ctrl-C. A node
/// that exits for any reason (a crash, `kill -9`) is reported with the end of its log and started
/// again after a backoff that grows while it keeps failing soon after starting; the others keep
/// running meanwhile, as a real network would, and the restarted node catches up from its peers.
fn start(configs: &[PathBuf]) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the equa binary: {e}"))?;
    let mut nodes = Vec::new();
    for config in configs {
        nodes.push(Supervised {
            config: config.clone(),
            child: Some(spawn_node(&exe, config)?),
            started: std::time::Instant::now(),
            quick_failures: 0,
            restart_at: None,
        });
    }
    println!(
        "\nstarted {} nodes (logs: validator-N/node.log, full-node/node.log); press Ctrl-C to \
         stop them",
        nodes.len()
    );
    let runtime = crate::cli::chain::runtime()?;
    runtime.block_on(async {
        // One signal listener for the whole run, so a Ctrl-C that arrives while nodes are being
        // checked is not missed (and no node is restarted after it).
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        let mut interval = tokio::time::interval(std::time::Duration::from_millis(250));
        loop {
            tokio::select! {
                _ = &mut ctrl_c => return,
                _ = interval.tick() => supervise(&exe, &mut nodes),
            }
        }
    });
    // On a terminal, Ctrl-C reached the nodes too; give them a moment, then make sure.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    for child in nodes.iter_mut().filter_map(|node| node.child.as_mut()) {
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        if child.try_wait().ok().flatten().is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    println!("stopped; run `equa devnet` again to resume from disk");
    Ok(())
}

/// One round of supervision: notices nodes that exited and restarts those whose backoff is over.
fn supervise(exe: &Path, nodes: &mut [Supervised]) {
    let now = std::time::Instant::now();
    for (index, node) in nodes.iter_mut().enumerate() {
        let name = node.config.parent().and_then(Path::file_name).map_or_else(
            || format!("node {index}"),
            |n| n.to_string_lossy().into_owned(),
        );
        if let Some(child) = node.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            node.child = None;
            let ran = now.saturating_duration_since(node.started);
            node.quick_failures = if ran >= HEALTHY_RUN {
                0
            } else {
                node.quick_failures.saturating_add(1)
            };
            let wait = backoff(node.quick_failures);
            node.restart_at = Some(now + wait);
            let log_path = node.config.with_file_name("node.log");
            println!(
                "{name} exited ({status}) after {} s; restarting it in {} s. The end of {}:\n    {}",
                ran.as_secs(),
                wait.as_secs(),
                log_path.display(),
                log_tail(&log_path, 3)
            );
        }
        if node.child.is_none() && node.restart_at.is_some_and(|at| now >= at) {
            match spawn_node(exe, &node.config) {
                Ok(child) => {
                    println!("{name} restarted");
                    node.child = Some(child);
                    node.started = now;
                    node.restart_at = None;
                }
                Err(error) => {
                    node.quick_failures = node.quick_failures.saturating_add(1);
                    let wait = backoff(node.quick_failures);
                    node.restart_at = Some(now + wait);
                    println!(
                        "{name} could not be restarted ({error}); trying again in {} s",
                        wait.as_secs()
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_up_to_a_minute() {
        let seconds: Vec<u64> = (0..9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(seconds, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff(u32::MAX).as_secs(), 60);
    }

    fn setup(hosts: &[&str]) -> Setup {
        Setup {
            rpc: FIRST_RPC_PORT,
            p2p: FIRST_P2P_PORT,
            web: FIRST_WEB_PORT,
            metrics: FIRST_METRICS_PORT,
            idle_block_interval_ms: None,
            retained_blocks: None,
            state_cache_mib: None,
            hosts: hosts.iter().map(|host| host.parse().unwrap()).collect(),
            committee_size: None,
        }
    }

    #[test]
    fn without_hosts_every_validator_listens_on_loopback() {
        let addresses = setup(&[]).addresses(4).unwrap();
        let expected: Vec<(SocketAddr, SocketAddr)> = (0..4u16)
            .map(|index| {
                (
                    SocketAddr::from(([127, 0, 0, 1], FIRST_P2P_PORT + index)),
                    SocketAddr::from(([127, 0, 0, 1], FIRST_RPC_PORT + index)),
                )
            })
            .collect();
        assert_eq!(addresses, expected);
    }

    #[test]
    fn hosts_give_each_validator_its_address_for_peers_and_rpc() {
        let addresses = setup(&["10.7.1.2", "10.7.2.2", "fd00::3"])
            .addresses(3)
            .unwrap();
        assert_eq!(addresses[0].0, "10.7.1.2:30300".parse().unwrap());
        assert_eq!(addresses[0].1, "10.7.1.2:9545".parse().unwrap());
        assert_eq!(addresses[1].0, "10.7.2.2:30301".parse().unwrap());
        assert_eq!(addresses[2].1, "[fd00::3]:9547".parse().unwrap());
    }

    #[test]
    fn a_wrong_count_of_validators_or_hosts_is_refused_in_words() {
        let error = setup(&[]).addresses(0).unwrap_err();
        assert!(error.contains("from 1 to 100"), "{error}");
        let error = setup(&[]).addresses(MAX_VALIDATORS + 1).unwrap_err();
        assert!(error.contains("from 1 to 100"), "{error}");
        assert_eq!(setup(&[]).addresses(MAX_VALIDATORS).unwrap().len(), 100);
        let error = setup(&["10.7.1.2", "10.7.2.2"]).addresses(3).unwrap_err();
        assert!(error.contains("2 addresses for 3 validators"), "{error}");
        let error = setup(&["10.7.1.2", "0.0.0.0"]).addresses(2).unwrap_err();
        assert!(error.contains("0.0.0.0"), "{error}");
        let mut high = setup(&[]);
        high.p2p = 65_500;
        let error = high.addresses(50).unwrap_err();
        assert!(error.contains("--p2p-port 65500"), "{error}");
    }

    #[test]
    fn a_devnet_on_hosts_writes_them_into_every_configuration() {
        let dir = std::env::temp_dir().join(format!("equa-devnet-hosts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let configs = create(&dir, 7, &setup(&[])).unwrap();
        assert_eq!(configs.len(), 7);
        std::fs::remove_dir_all(&dir).unwrap();

        let hosts = ["10.7.1.2", "10.7.2.2", "10.7.3.2", "10.7.4.2", "10.7.5.2"];
        let configs = create(&dir, 5, &setup(&hosts)).unwrap();
        let read = |path: &Path| -> NodeConfig {
            toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
        };
        for (index, path) in configs.iter().enumerate() {
            let config = read(path);
            let host: IpAddr = hosts[index].parse().unwrap();
            assert_eq!(
                config.listen,
                SocketAddr::new(host, FIRST_P2P_PORT + index as u16)
            );
            assert_eq!(
                config.rpc,
                SocketAddr::new(host, FIRST_RPC_PORT + index as u16)
            );
            let peers: Vec<SocketAddr> =
                config.validators.iter().map(|peer| peer.address).collect();
            let expected: Vec<SocketAddr> = hosts
                .iter()
                .enumerate()
                .map(|(peer, host)| {
                    SocketAddr::new(host.parse().unwrap(), FIRST_P2P_PORT + peer as u16)
                })
                .collect();
            assert_eq!(peers, expected);
            // What only the node's owner uses stays on loopback.
            assert!(config.metrics.unwrap().ip().is_loopback());
            assert!(config.web.is_none_or(|web| web.listen.ip().is_loopback()));
        }
        std::fs::remove_dir_all(&dir).unwrap();
        // Nothing is created when the arguments are refused.
        assert!(create(&dir, 4, &setup(&hosts)).is_err());
        assert!(!dir.exists());
    }
}
