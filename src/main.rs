//! `equa`: one binary for every Equa command.

use equa::{cli, web};

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "equa",
    version,
    about = "Peer-to-peer fiat trading and lending on a BFT ledger"
)]
struct Cli {
    #[command(flatten)]
    global: cli::Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply a few blocks to a genesis in memory and print the receipts and balances.
    Demo(cli::demo::DemoArgs),
    /// Create, import, list and show wallets.
    Keys(cli::keys::KeysArgs),
    /// Start a local network of four validators (created on first run).
    Devnet(cli::devnet::DevnetArgs),
    /// Run a validator or a full node from its configuration file (`equa node --config
    /// node.toml`); or create, register, unregister and list full nodes.
    #[command(subcommand_negates_reqs = true)]
    Node {
        #[command(subcommand)]
        command: Option<cli::node::NodeCommand>,
        /// The node's configuration file, to run it.
        #[arg(long, required = true)]
        config: Option<std::path::PathBuf>,
        /// How log lines are written: `text` or `json` (one object a line). Which events are
        /// logged is set by RUST_LOG, for example `RUST_LOG=info,node=debug`.
        #[arg(long, env = "EQUA_LOG_FORMAT", default_value = "text")]
        log_format: node::logging::LogFormat,
    },
    /// The node's chain, height, peers and sync progress.
    Status,
    /// Accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Send an amount of an asset: `equa send <address> 12.5 USDX`.
    Send {
        to: String,
        #[arg(allow_hyphen_values = true)]
        amount: String,
        symbol: String,
    },
    /// Assets: list, issue, mint, burn.
    #[command(subcommand)]
    Asset(cli::chain::AssetCommand),
    /// Blocks.
    #[command(subcommand)]
    Block(BlockCommand),
    /// Transactions.
    #[command(subcommand)]
    Tx(TxCommand),
    /// Fiat offers: create, list, show, update, cancel.
    #[command(subcommand)]
    Offer(cli::market::OfferCommand),
    /// Trades: take, paid, release, cancel, claim-timeout, dispute, chat, rate, show, list.
    #[command(subcommand)]
    Trade(cli::market::TradeCommand),
    /// Arbitrators: register, rule, list.
    #[command(subcommand)]
    Arbitrator(cli::market::ArbitratorCommand),
    /// Validators: register a node with a bond, unbond, withdraw, list the registry.
    #[command(subcommand)]
    Validator(cli::validator::ValidatorCommand),
    /// Your public profile: display name and chat key.
    #[command(subcommand)]
    Profile(cli::market::ProfileCommand),
    /// The payment details buyers pay you with, per method: kept on this machine, encrypted,
    /// and sent to a trade's buyer only in the trade's encrypted chat.
    #[command(subcommand)]
    PaymentDetails(cli::details::DetailsCommand),
    /// An account's trade record, tier, ratings and credit history.
    #[command(subcommand)]
    Reputation(ReputationCommand),
    /// The market's payment methods and rules.
    #[command(subcommand)]
    Market(cli::market::MarketCommand),
    /// Loans: request, offer, list, show, fund, withdraw, accept, take-offer, repay, claim,
    /// expire, default, and the offline schedule.
    Loan(cli::loan::LoanArgs),
}

#[derive(Debug, Subcommand)]
enum ReputationCommand {
    /// An account's reputation (yours by default).
    Show { address: Option<String> },
}

#[derive(Debug, Subcommand)]
enum AccountCommand {
    /// Balances and nonce of an account (your wallet's by default); `--verify` checks them with
    /// state proofs against a finalization certificate, trusting only the chain's public key.
    Show {
        address: Option<String>,
        #[arg(long, requires = "chain_key")]
        verify: bool,
        /// A file holding the chain's public key (hex), such as the devnet's `chain-key.txt`,
        /// or any node configuration (its `consensus_key`).
        #[arg(long, env = "EQUA_CHAIN_KEY")]
        chain_key: Option<std::path::PathBuf>,
    },
    /// An account's transactions, newest first (yours by default), a page at a time.
    History {
        address: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Only transactions older than this cursor (the one the previous page ends with).
        #[arg(long)]
        before: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum BlockCommand {
    /// A finalized block by height.
    Show { height: u64 },
}

#[derive(Debug, Subcommand)]
enum TxCommand {
    /// The receipt of a transaction.
    Show { id: String },
}

fn run_node(path: &std::path::Path, log_format: node::logging::LogFormat) -> Result<(), String> {
    node::logging::init(log_format)?;
    let config = node::run::RunConfig::load(path).map_err(|e| e.to_string())?;
    node::run::claim_data_dir(&config.data_dir).map_err(|e| e.to_string())?;
    let listen = config.listen;
    let rpc = config.rpc;
    if let (Some(settings), Some(rpc)) = (&config.web, rpc) {
        let bound = web::spawn(web::Settings {
            listen: settings.listen,
            wallet: settings.wallet.clone(),
            rpc_url: format!("http://{rpc}"),
        })?;
        println!("web interface: http://{bound}");
    }
    let role = if config.is_validator() {
        "validator"
    } else {
        "full node"
    };
    node::run::run_with(config, move |_| match rpc {
        Some(rpc) => println!("{role} running: p2p {listen}, JSON-RPC http://{rpc}"),
        None => println!("{role} running: p2p {listen}"),
    });
    Err("the consensus engine stopped".into())
}

/// A reader that stops reading (`equa offer list | head`) closes our standard output; printing
/// then fails with a broken pipe. That is not an error of ours: stop quietly, as other command
/// line tools do, with the status a shell gives a program ended by SIGPIPE.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    // Allocation is mimalloc's, declared by the node's library (`node::allocator`).
    if let Err(error) = node::allocator::small_pages_only() {
        eprintln!("warning: transparent huge pages stay on for this process: {error}");
    }
    quiet_on_broken_pipe();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return cli::usage_failure(&error),
    };
    let global = &cli.global;
    let text_only = match &cli.command {
        Command::Demo(_) => Some("demo"),
        Command::Devnet(_) => Some("devnet"),
        Command::Node { command: None, .. } => Some("node"),
        Command::Node {
            command: Some(cli::node::NodeCommand::Init { .. }),
            ..
        } => Some("node init"),
        _ => None,
    };
    if let (true, Some(command)) = (global.json, text_only) {
        return cli::fail(global, &cli::no_json(command));
    }
    let result: Result<(), cli::error::CliError> = match cli.command {
        Command::Demo(args) => cli::demo::run(args).map_err(Into::into),
        Command::Keys(args) => cli::keys::run(global, args),
        Command::Devnet(args) => cli::devnet::run(args).map_err(Into::into),
        Command::Node {
            command: Some(command),
            ..
        } => cli::node::run(global, command),
        Command::Node {
            command: None,
            config,
            log_format,
        } => match config {
            Some(config) => run_node(&config, log_format).map_err(Into::into),
            None => Err("give --config <node.toml> to run a node".to_string().into()),
        },
        Command::Status => cli::chain::status(global),
        Command::Account(AccountCommand::History {
            address,
            limit,
            before,
        }) => cli::chain::account_history(global, address.as_deref(), limit, before.as_deref()),
        Command::Account(AccountCommand::Show {
            address,
            verify: false,
            ..
        }) => cli::chain::account_show(global, address.as_deref()),
        Command::Account(AccountCommand::Show {
            address,
            verify: true,
            chain_key,
        }) => cli::chain::account_verify(global, address.as_deref(), chain_key.as_deref()),
        Command::Send { to, amount, symbol } => cli::chain::send(global, &to, &amount, &symbol),
        Command::Asset(command) => cli::chain::asset(global, command),
        Command::Block(BlockCommand::Show { height }) => cli::chain::block_show(global, height),
        Command::Tx(TxCommand::Show { id }) => cli::chain::tx_show(global, &id),
        Command::Offer(command) => cli::market::offer(global, command),
        Command::Trade(command) => cli::market::trade(global, command),
        Command::Arbitrator(command) => cli::market::arbitrator(global, command),
        Command::Profile(command) => cli::market::profile(global, command),
        Command::Validator(command) => cli::validator::run(global, command),
        Command::PaymentDetails(command) => cli::details::run(global, command),
        Command::Reputation(ReputationCommand::Show { address }) => {
            cli::market::reputation(global, address.as_deref())
        }
        Command::Market(command) => cli::market::market(global, command),
        Command::Loan(args) => cli::loan::run(global, args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => cli::fail(global, &error),
    }
}
