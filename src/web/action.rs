//! The web interface's actions: the command line's transaction commands, parsed by clap from
//! the words a form sends (`["trade", "take", "7", "25", "USDX", "--method", "SEPA"]`) and built
//! by the same functions `equa` uses.

use crate::cli::{
    chain::{AssetCommand, asset_call, transfer_call},
    lending::{LendingCommand, lending_call},
    market::{
        ArbitratorCommand, OfferCommand, ProfileCommand, TradeCommand, arbitrator_call,
        not_a_transaction, offer_call, profile_call, trade_call,
    },
    validator::{ValidatorCommand, validator_call},
};
use clap::{Parser, Subcommand, error::ErrorKind};
use client::Wallet;
use rpc::RpcClient;
use types::Call;

#[derive(Debug, Parser)]
#[command(name = "equa", no_binary_name = true, disable_help_subcommand = true)]
struct Line {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
pub enum Action {
    Send {
        to: String,
        #[arg(allow_hyphen_values = true)]
        amount: String,
        symbol: String,
    },
    #[command(subcommand)]
    Asset(AssetCommand),
    #[command(subcommand)]
    Offer(OfferCommand),
    #[command(subcommand)]
    Trade(TradeCommand),
    #[command(subcommand)]
    Arbitrator(ArbitratorCommand),
    #[command(subcommand)]
    Profile(ProfileCommand),
    #[command(subcommand)]
    Loan(LendingCommand),
    #[command(subcommand)]
    Validator(ValidatorCommand),
}

/// Parses an action; the error is clap's first line, without its usage text.
pub fn parse(args: &[String]) -> Result<Action, String> {
    Line::try_parse_from(args)
        .map(|line| line.action)
        .map_err(|error| match error.kind() {
            // Clap answers these with the help text, whose first line is the usage, not a reason.
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            | ErrorKind::DisplayVersion => incomplete(args),
            _ => {
                let text = error.render().to_string();
                let first = text.lines().next().unwrap_or("invalid action").trim();
                first.strip_prefix("error: ").unwrap_or(first).to_string()
            }
        })
}

/// The reason given for no action, or for a group of commands without one of them.
fn incomplete(args: &[String]) -> String {
    let example = "such as `send <address> 12.5 USDX` or `trade take 7 25 USDX --method SEPA`";
    if args.is_empty() {
        return format!("no action given: name a transaction command, {example}");
    }
    format!(
        "'{}' is not a whole action: name a transaction command, {example}",
        args.join(" ")
    )
}

/// The transaction `action` stands for, to be signed by `wallet`.
pub async fn call(rpc: &RpcClient, wallet: &Wallet, action: Action) -> Result<Call, String> {
    match action {
        Action::Send { to, amount, symbol } => transfer_call(rpc, &to, &amount, &symbol).await,
        Action::Asset(command) => asset_call(rpc, command).await,
        Action::Offer(command) => offer_call(rpc, command).await.map(Call::Market),
        Action::Trade(command) => trade_call(rpc, wallet, command).await.map(Call::Market),
        Action::Arbitrator(command) => arbitrator_call(rpc, command).await.map(Call::Market),
        Action::Profile(ProfileCommand::Set { name }) => {
            profile_call(wallet, &name).map(Call::Market)
        }
        Action::Profile(ProfileCommand::Show { .. }) => Err(not_a_transaction()),
        Action::Loan(command) => lending_call(rpc, command).await.map(Call::Lending),
        // Registering reads a node key from a file: not something a web form may name.
        Action::Validator(ValidatorCommand::Register { .. }) => Err(
            "registering a validator needs the node's key: run `equa validator register` on the \
             node's machine"
                .into(),
        ),
        Action::Validator(command) => validator_call(rpc, &wallet.account(), command)
            .await
            .map(Call::Staking),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn parses_the_command_lines_transaction_commands() {
        assert!(matches!(
            parse(&words("trade take 7 25 USDX --method SEPA")),
            Ok(Action::Trade(TradeCommand::Take { offer: 7, .. }))
        ));
        assert!(matches!(
            parse(&words("trade take 7 25 USDX --method SEPA --revision 2")),
            Ok(Action::Trade(TradeCommand::Take {
                offer: 7,
                revision: Some(2),
                ..
            }))
        ));
        assert!(matches!(
            parse(&words("loan repay 3 --all")),
            Ok(Action::Loan(LendingCommand::Repay {
                id: 3,
                all: true,
                ..
            }))
        ));
    }

    #[test]
    fn refuses_what_is_not_an_action_with_a_short_reason() {
        let error = parse(&words("keys new")).unwrap_err();
        assert!(error.contains("unrecognized subcommand 'keys'"), "{error}");
        assert!(!error.contains("Usage"), "{error}");
        let error = parse(&words("trade take seven 25 USDX --method SEPA")).unwrap_err();
        assert!(error.contains("invalid value 'seven'"), "{error}");
    }

    /// A form must not make the node read a file: registering a validator names the node's
    /// configuration file, so the web interface refuses it before reading anything.
    #[tokio::test]
    async fn a_validator_registration_naming_a_file_is_refused() {
        let action = parse(&words(
            "validator register --node-config /etc/passwd --bond 100",
        ))
        .expect("the words parse as the command line's");
        let rpc = RpcClient::new("http://127.0.0.1:9").unwrap();
        let (wallet, _) = Wallet::generate("");
        let error = call(&rpc, &wallet, action).await.unwrap_err();
        assert!(error.contains("run `equa validator register`"), "{error}");
        assert!(matches!(
            parse(&words("validator unbond")),
            Ok(Action::Validator(ValidatorCommand::Unbond))
        ));
    }

    /// Found by the `web_action` fuzz target: an empty action was refused with clap's usage
    /// line ("Usage: equa <COMMAND>") as its reason.
    #[test]
    fn refuses_an_empty_or_incomplete_action_with_a_reason() {
        let error = parse(&[]).unwrap_err();
        assert!(error.starts_with("no action given"), "{error}");
        for line in ["trade", "--help", "trade --help", "loan"] {
            let error = parse(&words(line)).unwrap_err();
            assert!(!error.contains("Usage"), "{line}: {error}");
            assert!(!error.contains('\n'), "{line}: {error}");
        }
    }
}
