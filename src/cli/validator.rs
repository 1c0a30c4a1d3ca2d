//! Validator commands: register a node in the staking registry with a bond, unbond, withdraw
//! the bond after the delay, and list the registry.
//!
//! Registering needs two keys: the wallet's (it pays the bond and owns it) and the node's, which
//! signs a proof that this wallet may register it. The node's key is read from its configuration
//! file (`private_key`), the same file `equa node` runs with; it never leaves this machine.

use crate::cli::{
    Global,
    chain::{account_or_own, connect, parse_amount, runtime, show, show_list, submit},
    error::{CliError, rpc_message},
    input::text,
    keys,
    words::{duration_secs, utc},
};
use clap::Subcommand;
use commonware_cryptography::{Signer, ed25519};
use rpc::{
    RpcClient,
    staking::{StakingView, ValidatorView},
};
use std::{net::SocketAddr, path::Path};
use types::{
    AccountId, Call,
    market::Nothing,
    staking::{KeyProof, RegisterValidator, StakingCall},
};

#[derive(Debug, Subcommand)]
pub enum ValidatorCommand {
    /// Register your node as a validator candidate, bonding EQA from your wallet:
    /// `equa validator register --node-config node.toml --bond 10000`. Run again with the same
    /// node and a larger --bond to raise the bond, or while unbonding (with at least the old
    /// bond) to become a candidate again.
    Register {
        /// The node's configuration file: its `private_key` signs the key proof, and its
        /// `listen` address is the one registered unless --address says otherwise.
        #[arg(long)]
        node_config: std::path::PathBuf,
        /// The bond, in EQA.
        #[arg(long, allow_negative_numbers = true)]
        bond: String,
        /// Where peers reach the node (`ip:port`), when it differs from `listen`.
        #[arg(long)]
        address: Option<String>,
    },
    /// Leave the candidates; the bond stays locked for the unbonding delay.
    Unbond,
    /// Take the bond back once the unbonding delay has passed.
    Withdraw,
    /// The registry: rules, candidates by rank, the committee they elect, and the given
    /// account's own record (yours by default) if it is unbonding.
    List { address: Option<String> },
}

pub fn run(global: &Global, command: ValidatorCommand) -> Result<(), CliError> {
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        match command {
            ValidatorCommand::List { address } => {
                let account = match address {
                    Some(text) => Some(account_or_own(global, Some(&text))?),
                    None => keys::own_account(global).ok(),
                };
                let view = rpc.staking(account.as_ref()).await.map_err(CliError::rpc)?;
                show(global, &view, |view| print_registry(global, view));
                Ok(())
            }
            command => {
                let signer = keys::own_account(global)?;
                let call = validator_call(&rpc, &signer, command).await?;
                submit(global, &rpc, Call::Staking(call)).await
            }
        }
    })
}

/// What a node's configuration file tells a registration: its key and where it listens.
#[derive(serde::Deserialize)]
struct NodeFile {
    private_key: String,
    listen: SocketAddr,
}

pub(crate) fn node_file(path: &Path) -> Result<(ed25519::PrivateKey, SocketAddr), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the node configuration {}: {e}", path.display()))?;
    let file: NodeFile = toml::from_str(&text)
        .map_err(|e| format!("{} is not a node configuration: {e}", path.display()))?;
    let bytes = hex::decode(file.private_key.trim())
        .map_err(|e| format!("{}: private_key: {e}", path.display()))?;
    let key = types::codec::decode::<ed25519::PrivateKey>(&bytes)
        .map_err(|e| format!("{}: private_key: {e}", path.display()))?;
    Ok((key, file.listen))
}

/// What registering a node (as a validator or a full node) needs from its configuration file and
/// the chain: its key, the address peers reach it at (`address`, or where it listens), and the
/// chain's id for the key proof.
pub(crate) async fn registration(
    rpc: &RpcClient,
    node_config: &Path,
    address: Option<String>,
) -> Result<(ed25519::PrivateKey, types::Text<64>, types::ChainId), String> {
    let (node, listen) = node_file(node_config)?;
    let address = address.unwrap_or_else(|| listen.to_string());
    if !ledger::staking::valid_address(&address) {
        return Err(format!(
            "{address} is not an address peers can reach: give --address ip:port with a \
             concrete ip and a port above 0"
        ));
    }
    let chain_id = rpc.status().await.map_err(|e| rpc_message(&e))?.chain_id;
    let chain_id = types::ChainId::new(&chain_id).map_err(|e| e.to_string())?;
    Ok((node, text(&address, "the address")?, chain_id))
}

/// The transaction a validator command stands for, signed for by `signer`.
pub async fn validator_call(
    rpc: &RpcClient,
    signer: &AccountId,
    command: ValidatorCommand,
) -> Result<StakingCall, String> {
    Ok(match command {
        ValidatorCommand::Register {
            node_config,
            bond,
            address,
        } => {
            let (node, address, chain_id) = registration(rpc, &node_config, address).await?;
            StakingCall::Register(RegisterValidator {
                node_key: AccountId::from_public_key(&node.public_key()),
                address,
                bond: parse_amount(rpc, &bond, "EQA").await?.1,
                key_proof: KeyProof::sign(&node, &chain_id, signer),
            })
        }
        ValidatorCommand::Unbond => StakingCall::Unbond(Nothing),
        ValidatorCommand::Withdraw => StakingCall::Withdraw(Nothing),
        ValidatorCommand::List { .. } => {
            return Err("`equa validator list` reads the registry; it sends nothing".into());
        }
    })
}

fn print_registry(global: &Global, view: &StakingView) {
    let params = &view.params;
    println!(
        "rules:     a bond of at least {}; {} of unbonding; a committee of up to {} among up to {} candidates",
        params.min_bond,
        duration_secs(u64::from(params.unbonding_secs)),
        params.committee_size,
        params.max_candidates
    );
    println!("bonded:    {}", view.bonded);
    println!(
        "epochs:    {} blocks each; the registry's election now holds {} (an epoch's signing \
         committee is fixed three epochs before it starts: its members receive their shares of \
         the chain key in the epoch before)",
        params.blocks_per_epoch,
        view.committee.len()
    );
    for epoch in &view.epochs {
        let label = if epoch.epoch == view.epoch {
            "current"
        } else {
            "next"
        };
        println!(
            "  epoch {} ({label}, from height {}): {} member(s) signing",
            epoch.epoch,
            epoch.first_height,
            epoch.members.len()
        );
    }
    show_list(
        global,
        &view.validators,
        "no validators registered",
        print_validator,
    );
}

fn print_validator(v: &ValidatorView) {
    let standing = match (&v.unbonding, v.rank) {
        (Some(u), _) => format!(
            "unbonding{}, {}",
            match u.reason.as_str() {
                "outbid" => " (pushed out by a larger bond)",
                "slashed" => " (slashed)",
                "silent" => " (proposed too little for too long)",
                _ => "",
            },
            match (u.free_at_ms, u.serving_until_height) {
                (Some(free), _) => format!("bond free from {}", utc(free)),
                (None, Some(height)) => format!(
                    "serving on a committee until height {height}, then the unbonding delay"
                ),
                (None, None) => "bond free time unknown".into(),
            }
        ),
        (None, Some(rank)) if v.elected => format!("rank {rank}, elected"),
        (None, Some(rank)) => format!("rank {rank}, not elected"),
        (None, None) => "candidate".into(),
    };
    println!("{}  {standing}", v.account);
    println!(
        "  node {} at {}, bond {}, registered at height {}",
        v.node_key, v.address, v.bond, v.registered_height
    );
    if v.slashed.minor_units != "0" {
        println!(
            "  slashed {} for contradictory votes: it may not stand again",
            v.slashed
        );
    }
}
