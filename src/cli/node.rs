//! Full-node commands: create a node's directory from a genesis file and one peer, register its
//! key on the chain against a deposit (peers admit it from the next epoch), unregister it, and
//! list the registered full nodes.
//!
//! Registering needs two keys, as for a validator: the wallet's (it pays the deposit and owns
//! it) and the node's, which signs a proof that this wallet may register it. The node's key is
//! read from its configuration file; it never leaves this machine.

use crate::cli::{
    Global,
    chain::{connect, parse_amount, runtime, show, show_list, submit},
    devnet::NodeConfig,
    error::CliError,
    keys,
    validator::node_file,
};
use clap::Subcommand;

use commonware_cryptography::Signer;
use rpc::{
    RpcClient,
    staking::{FullNodeView, StakingView},
};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};
use types::{
    AccountId, Call,
    codec::Encode,
    staking::{KeyProof, RegisterNode, StakingCall, UnregisterNode},
};

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Create a full node's directory from the chain's genesis file and one peer:
    /// `equa node init --genesis genesis.toml --peer <public key>@<ip:port> --dir my-node`.
    /// The node gets a new key, syncs the state from peers, and follows the chain once its key
    /// is registered (`equa node register`).
    Init {
        /// The chain's genesis file (it must hold the chain's `consensus_key`); copied into the
        /// directory.
        #[arg(long)]
        genesis: PathBuf,
        /// Any node of the chain: its public key (hex) and p2p address, `<key>@<ip:port>`.
        /// `equa node list` and `equa validator list` show them.
        #[arg(long)]
        peer: String,
        /// The directory to create.
        #[arg(long)]
        dir: PathBuf,
        /// Where the node listens for peers (and the address it registers).
        #[arg(long, default_value = "127.0.0.1:9400")]
        listen: SocketAddr,
        /// Where it serves JSON-RPC.
        #[arg(long, default_value = "127.0.0.1:8700")]
        rpc_listen: SocketAddr,
    },
    /// Register the node's key against a deposit from your wallet, so that every node admits
    /// it as a peer from the next epoch: `equa node register --node-config my-node/node.toml
    /// --deposit 100`. Run again with a larger deposit, or a new --address, to update it.
    Register {
        /// The node's configuration file: its `private_key` signs the key proof, and its
        /// `listen` address is the one registered unless --address says otherwise.
        #[arg(long)]
        node_config: PathBuf,
        /// The deposit, in EQA (the whole deposit, when registering again).
        #[arg(long, allow_negative_numbers = true)]
        deposit: String,
        /// Where peers reach the node (`ip:port`), when it differs from `listen`.
        #[arg(long)]
        address: Option<String>,
    },
    /// Unregister a node your wallet registered; the deposit comes back at once.
    Unregister {
        /// The node's configuration file, for its key.
        #[arg(
            long,
            conflicts_with = "node_key",
            required_unless_present = "node_key"
        )]
        node_config: Option<PathBuf>,
        /// Or the node's public key, 64 hexadecimal digits.
        #[arg(long)]
        node_key: Option<String>,
    },
    /// The registered full nodes, each as a peer to start from, and the registry's rules.
    List,
    /// Fetch the current epoch's checkpoint from the node at --rpc, check it against the
    /// chain's key, and point a node that has not synced yet at it: `equa --rpc <url> node
    /// checkpoint --node-config my-node/node.toml`. The node then asks that epoch's committee
    /// for a recent block instead of the genesis validators, who may have left the chain.
    Checkpoint {
        /// The node's configuration file; `checkpoint.json` is written beside it.
        #[arg(long)]
        node_config: PathBuf,
    },
}

pub fn run(global: &Global, command: NodeCommand) -> Result<(), CliError> {
    if let NodeCommand::Init {
        genesis,
        peer,
        dir,
        listen,
        rpc_listen,
    } = command
    {
        return init(&genesis, &peer, &dir, listen, rpc_listen).map_err(Into::into);
    }
    let rpc = connect(global)?;
    if let NodeCommand::Checkpoint { node_config } = command {
        return runtime()?.block_on(checkpoint(global, &rpc, &node_config));
    }
    runtime()?.block_on(async {
        match command {
            NodeCommand::List => {
                let view = rpc.staking(None).await.map_err(CliError::rpc)?;
                show(global, &view, |view| print_nodes(global, view));
                Ok(())
            }
            command => {
                let signer = keys::own_account(global)?;
                let call = node_call(&rpc, &signer, command).await?;
                submit(global, &rpc, Call::Staking(call)).await
            }
        }
    })
}

/// The transaction a registry command stands for, signed for by `signer`.
async fn node_call(
    rpc: &rpc::RpcClient,
    signer: &AccountId,
    command: NodeCommand,
) -> Result<StakingCall, String> {
    Ok(match command {
        NodeCommand::Register {
            node_config,
            deposit,
            address,
        } => {
            let (node, address, chain_id) =
                crate::cli::validator::registration(rpc, &node_config, address).await?;
            StakingCall::RegisterNode(RegisterNode {
                node_key: AccountId::from_public_key(&node.public_key()),
                address,
                deposit: parse_amount(rpc, &deposit, "EQA").await?.1,
                key_proof: KeyProof::sign_node(&node, &chain_id, signer),
            })
        }
        NodeCommand::Unregister {
            node_config,
            node_key,
        } => {
            let node_key = match (node_config, node_key) {
                (Some(path), _) => AccountId::from_public_key(&node_file(&path)?.0.public_key()),
                (None, Some(hex_key)) => hex::decode(hex_key.trim())
                    .ok()
                    .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                    .and_then(|bytes| AccountId::from_bytes(bytes).ok())
                    .ok_or_else(|| {
                        format!("{hex_key:?} is not a node key: write its 64 hexadecimal digits")
                    })?,
                (None, None) => return Err("give --node-config or --node-key".into()),
            };
            StakingCall::UnregisterNode(UnregisterNode { node_key })
        }
        NodeCommand::Init { .. } | NodeCommand::List | NodeCommand::Checkpoint { .. } => {
            return Err("this command sends no transaction".into());
        }
    })
}

/// The name of the checkpoint file `equa node checkpoint` writes beside a node's configuration.
const CHECKPOINT_FILE: &str = "checkpoint.json";

/// `equa node checkpoint`: the current epoch's boundary from `rpc`, checked against the chain's
/// key, written beside `node_config`, which is pointed at it.
async fn checkpoint(global: &Global, rpc: &RpcClient, node_config: &Path) -> Result<(), CliError> {
    let text = std::fs::read_to_string(node_config)
        .map_err(|e| format!("cannot read {}: {e}", node_config.display()))?;
    // Only the fields read here: the node's own reader (`node::run`) checks the rest, and the
    // rewrite below keeps every field (the devnet's `NodeConfig` knows only some of them).
    #[derive(serde::Deserialize)]
    struct Fields {
        genesis: PathBuf,
        #[serde(default)]
        consensus_key: Option<String>,
        #[serde(default)]
        state_sync: bool,
        #[serde(default)]
        checkpoint: Option<PathBuf>,
    }
    let mut table: toml::Table = toml::from_str(&text)
        .map_err(|e| format!("{} is not a node configuration: {e}", node_config.display()))?;
    let config: Fields = table
        .clone()
        .try_into()
        .map_err(|e| format!("{} is not a node configuration: {e}", node_config.display()))?;
    if !config.state_sync {
        return Err(format!(
            "{} does not state-sync (state_sync = true): a node that executes every block \
             from genesis has no use for a checkpoint",
            node_config.display()
        )
        .into());
    }
    let base = node_config.parent().unwrap_or(Path::new("."));
    let genesis_path = base.join(&config.genesis);
    let genesis = ledger::Genesis::load(&genesis_path)
        .map_err(|e| format!("{}: {e}", genesis_path.display()))?;
    let key = node::run::consensus_key(config.consensus_key.as_deref(), &genesis)
        .map_err(|e| format!("{}: {e}", node_config.display()))?;
    let blocks_per_epoch = std::num::NonZeroU64::new(genesis.staking.blocks_per_epoch)
        .ok_or("the genesis file's epochs are 0 blocks")?;
    let view = rpc.checkpoint().await.map_err(CliError::rpc)?;
    let info = node::checkpoint::verify(&view, &node::threshold::identity(&key), blocks_per_epoch)
        .map_err(|e| format!("the checkpoint from {} is refused: {e}", global.rpc))?;
    let file = base.join(CHECKPOINT_FILE);
    // A later checkpoint already there (from a node further along) is kept: an older one
    // names a committee more likely to have left.
    let kept = std::fs::read_to_string(&file)
        .ok()
        .and_then(|text| serde_json::from_str::<rpc::views::CheckpointView>(&text).ok())
        .and_then(|kept| {
            node::checkpoint::verify(&kept, &node::threshold::identity(&key), blocks_per_epoch)
                .ok()
                .map(|_| kept.epoch)
        });
    keep_newer(kept, view.epoch).map_err(|e| format!("{}: {e}", file.display()))?;
    let json = serde_json::to_string_pretty(&view).map_err(|e| e.to_string())?;
    replace(&file, &json, false)?;
    if config.checkpoint.as_deref() != Some(Path::new(CHECKPOINT_FILE)) {
        table.insert("checkpoint".into(), CHECKPOINT_FILE.into());
        replace(
            node_config,
            &toml::to_string_pretty(&table).map_err(|e| e.to_string())?,
            true,
        )?;
    }
    println!(
        "wrote {}: epoch {}, a committee of {} (block {})",
        file.display(),
        view.epoch,
        info.output.players().len(),
        view.height
    );
    Ok(())
}

/// Whether a checkpoint of epoch `fetched` may replace the one of epoch `kept` (if any, and
/// valid): not when the kept one is later.
fn keep_newer(kept: Option<u64>, fetched: u64) -> Result<(), String> {
    match kept {
        Some(kept) if kept > fetched => Err(format!(
            "it holds a checkpoint of epoch {kept}, later than epoch {fetched} which this node \
             serves (the node is behind the chain); left as it is"
        )),
        _ => Ok(()),
    }
}

/// Writes `contents` to `path` whole or not at all: a new file beside it, renamed over it.
fn replace(path: &Path, contents: &str, private: bool) -> Result<(), String> {
    let mut staging = path.as_os_str().to_owned();
    staging.push(".new");
    let staging = PathBuf::from(staging);
    match std::fs::remove_file(&staging) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!("cannot remove {}: {error}", staging.display()));
        }
        _ => {}
    }
    if private {
        crate::cli::devnet::write_private(&staging, contents)?;
    } else {
        std::fs::write(&staging, contents)
            .map_err(|e| format!("cannot write {}: {e}", staging.display()))?;
    }
    // Durable before it replaces the old file (node.toml holds the node's private key), and
    // the rename durable after.
    std::fs::File::open(&staging)
        .and_then(|file| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", staging.display()))?;
    std::fs::rename(&staging, path)
        .map_err(|e| format!("cannot replace {}: {e}", path.display()))?;
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", dir.display()))
}

/// `equa node init`: a directory with the genesis file and a new node's configuration.
fn init(
    genesis: &Path,
    peer: &str,
    dir: &Path,
    listen: SocketAddr,
    rpc: SocketAddr,
) -> Result<(), String> {
    let loaded =
        ledger::Genesis::load(genesis).map_err(|e| format!("{}: {e}", genesis.display()))?;
    let Some(consensus_key) = &loaded.consensus_key else {
        return Err(format!(
            "{} holds no consensus_key: a node checks every block against the chain's key, so \
             the genesis file must name it",
            genesis.display()
        ));
    };
    node::threshold::decode_key("consensus_key", consensus_key)
        .map_err(|e| format!("{}: {e}", genesis.display()))?;
    let (peer_key, peer_address) =
        node::run::parse_peer(peer).map_err(|e| format!("--peer: {e}"))?;
    let config_path = dir.join("node.toml");
    if config_path.exists() {
        return Err(format!(
            "{} exists already: this command does not overwrite a node's key",
            config_path.display()
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // The genesis file goes beside the configuration: read whole first, so that a genesis
    // already there (the same file, or a copy) is kept, and another one is never overwritten.
    let genesis_text =
        std::fs::read(genesis).map_err(|e| format!("cannot read {}: {e}", genesis.display()))?;
    let target = dir.join("genesis.toml");
    match std::fs::read(&target) {
        Ok(existing) if existing == genesis_text => {}
        Ok(_) => {
            return Err(format!(
                "{} exists and differs from {}: move it away first",
                target.display(),
                genesis.display()
            ));
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            std::io::Write::write_all(
                &mut options
                    .open(&target)
                    .map_err(|e| format!("cannot create {}: {e}", target.display()))?,
                &genesis_text,
            )
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        }
        Err(error) => return Err(format!("cannot read {}: {error}", target.display())),
    }
    let key = client::keys::random_signing_key();
    let config = NodeConfig {
        genesis: PathBuf::from("genesis.toml"),
        data_dir: PathBuf::from("data"),
        listen,
        rpc,
        private_key: hex::encode(key.encode()),
        consensus_key: None,
        consensus_share: None,
        validators: Vec::new(),
        bootstrap: vec![format!("{}@{peer_address}", hex::encode(peer_key.encode()))],
        web: None,
        metrics: None,
        idle_block_interval_ms: None,
        retained_blocks: None,
        state_cache_mib: None,
        state_sync: true,
        checkpoint: None,
    };
    crate::cli::devnet::write_private(
        &config_path,
        &toml::to_string_pretty(&config).map_err(|e| e.to_string())?,
    )?;
    let minimum = types::amount::format(
        loaded.staking.node_deposit,
        loaded.assets.first().map_or(9, |native| native.decimals),
    );
    println!("created {}", config_path.display());
    if listen.ip().is_loopback() {
        println!(
            "note: it listens on {listen}, which only this machine can reach; for peers \
             elsewhere give --listen <public ip:port> (or register with --address)"
        );
    }
    println!("node key: {}", hex::encode(key.public_key().encode()));
    println!("next:");
    println!(
        "  1. register its key (a wallet with EQA, through any node's JSON-RPC):\n     equa --rpc <url> node register --node-config {} --deposit {minimum}",
        config_path.display()
    );
    println!(
        "  2. start it; peers admit it from the epoch after the registration:\n     equa node --config {}",
        config_path.display()
    );
    Ok(())
}

fn print_nodes(global: &Global, view: &StakingView) {
    let params = &view.params;
    println!(
        "rules:     a deposit of at least {}; up to {} full nodes",
        params.node_deposit, params.max_nodes
    );
    show_list(
        global,
        &view.full_nodes,
        "no full nodes registered",
        print_node,
    );
}

fn print_node(node: &FullNodeView) {
    println!(
        "{}@{}  owner {}  deposit {}  since block {}",
        node.node_key, node.address, node.owner, node.deposit, node.registered_height
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_checkpoint_is_not_replaced_by_an_older_one() {
        assert!(keep_newer(None, 3).is_ok());
        assert!(keep_newer(Some(3), 3).is_ok());
        assert!(keep_newer(Some(2), 3).is_ok());
        let refused = keep_newer(Some(4), 3).unwrap_err();
        assert!(
            refused.contains("epoch 4") && refused.contains("epoch 3"),
            "{refused}"
        );
    }

    /// `equa node checkpoint` reads every node.toml the node reads (`page_cache_mib`,
    /// `p2p_message_burst`, no `rpc`): it goes on past the configuration (here to the missing
    /// genesis file).
    #[test]
    fn a_checkpoint_is_asked_for_with_any_configuration_the_node_reads() {
        let dir = std::env::temp_dir().join(format!("equa-rt-checkpoint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("node.toml");
        std::fs::write(
            &config,
            "genesis = \"genesis.toml\"\ndata_dir = \"data\"\nlisten = \"127.0.0.1:9000\"\n\
             private_key = \"00\"\nstate_sync = true\npage_cache_mib = 64\n\
             p2p_message_burst = 8\n",
        )
        .unwrap();
        let global = Global {
            // Nothing listens there: the command should get as far as asking.
            rpc: "http://127.0.0.1:1".into(),
            wallet: None,
            json: false,
            dry_run: false,
        };
        let rpc = connect(&global).unwrap();
        let error = runtime()
            .unwrap()
            .block_on(checkpoint(&global, &rpc, &config))
            .unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            !error.message.contains("is not a node configuration"),
            "{}",
            error.message
        );
    }
}
