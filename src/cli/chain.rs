//! Commands that talk to a node: status, accounts, blocks, receipts, transfers and assets.

use crate::cli::{
    Global,
    error::{CliError, code, rpc_message},
    keys, words,
};
use clap::Subcommand;
use client::tx::{SendError, check_call, simulate_call, submit_checked};
use rpc::{
    RpcClient,
    simulate::{SimulationView, move_words},
    views::{AssetView, ErrorView, ReceiptView},
};
use serde_json::json;
use std::{io::IsTerminal, time::Duration};
use types::{
    AccountId, AssetId, Call, Symbol, amount,
    bank::{BankCall, Burn, IssueAsset, Mint, Transfer},
};

/// How long a command waits for its transaction's receipt.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(60);

pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

pub fn connect(global: &Global) -> Result<RpcClient, CliError> {
    RpcClient::new(&global.rpc).map_err(CliError::rpc)
}

/// The chain's time: its latest finalized block's. Deadlines are block times, so "in 3 days"
/// is counted from it; the machine's clock stands in when the node does not answer.
pub async fn chain_time_ms(rpc: &RpcClient) -> u64 {
    match rpc.status().await {
        Ok(status) => status.timestamp_ms,
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    }
}

/// A receipt with its error and event texts in words: block times as dates, spans, shares and
/// ranges as the ledger leaves them worded for people (see [`words::ledger_error`]).
pub async fn worded(rpc: &RpcClient, mut receipt: ReceiptView) -> ReceiptView {
    let now_ms = chain_time_ms(rpc).await;
    word_error(rpc, receipt.error.as_mut(), now_ms).await;
    word_events(&mut receipt.events, now_ms);
    receipt
}

/// A simulation with its error and event texts in words, as [`worded`] words a receipt.
pub async fn worded_simulation(rpc: &RpcClient, mut simulation: SimulationView) -> SimulationView {
    let now_ms = chain_time_ms(rpc).await;
    word_error(rpc, simulation.error.as_mut(), now_ms).await;
    word_events(&mut simulation.events, now_ms);
    simulation
}

/// Words `error`'s message as [`worded`] does.
pub async fn word_error(rpc: &RpcClient, error: Option<&mut ErrorView>, now_ms: u64) {
    let Some(error) = error else {
        return;
    };
    let assets = if error.message.contains("minor units") {
        rpc.assets().await.unwrap_or_default()
    } else {
        Vec::new()
    };
    error.message = words::ledger_error(&error.code, &error.message, now_ms, &assets);
}

fn word_events(events: &mut [serde_json::Value], now_ms: u64) {
    for event in events {
        if let Some(text) = event["text"].as_str() {
            event["text"] = words::times_in_words(text, now_ms).into();
        }
    }
}

pub fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("views serialize")
    );
}

/// Prints `value` as JSON with `--json`, else as `text` prints it.
pub fn show<T: serde::Serialize>(global: &Global, value: &T, text: impl FnOnce(&T)) {
    if global.json {
        print_json(value);
    } else {
        text(value);
    }
}

/// Prints a list as JSON with `--json`, else one `line` per item, or `empty` when there are none.
pub fn show_list<T: serde::Serialize>(
    global: &Global,
    items: &[T],
    empty: &str,
    line: impl Fn(&T),
) {
    if global.json {
        print_json(&items);
    } else if items.is_empty() {
        println!("{empty}");
    } else {
        items.iter().for_each(line);
    }
}

pub use crate::cli::words::utc;

pub fn parse_address(text: &str) -> Result<AccountId, String> {
    AccountId::parse(text).map_err(|error| {
        let why = match error {
            types::AddressError::Encoding(detail) if detail.contains("checksum") => {
                "it looks mistyped: its checksum does not match".to_string()
            }
            types::AddressError::Encoding(_) => {
                "an Equa address is \"equa1\" and 58 more letters and digits, as \
                 `equa keys list` prints them"
                    .to_string()
            }
            other => other.to_string(),
        };
        format!("invalid address \"{text}\": {why}")
    })
}

/// Resolves a symbol against the node's assets and parses `text` in that asset's decimals.
pub async fn parse_amount(
    rpc: &RpcClient,
    text: &str,
    symbol: &str,
) -> Result<(AssetView, u128), String> {
    let assets = rpc.assets().await.map_err(|e| rpc_message(&e))?;
    let upper = symbol.to_uppercase();
    let asset = assets
        .into_iter()
        .find(|a| a.symbol == upper)
        .ok_or_else(|| format!("unknown asset \"{symbol}\"; `equa asset list` shows the assets"))?;
    let value = amount::parse(text, asset.decimals).map_err(|e| e.to_string())?;
    Ok((asset, value))
}

/// Signs and submits `call` with the global wallet, waits for the receipt and prints it.
/// A failed or rejected transaction is an error (exit status 1) after its receipt is shown.
pub async fn submit(global: &Global, rpc: &RpcClient, call: Call) -> Result<(), CliError> {
    let wallet = keys::unlock_own(global)?;
    submit_with(global, rpc, &wallet, call).await
}

/// [`submit`] with a wallet already unlocked. The transaction is first tried on the node: one the
/// ledger would fail or reject is not sent (no fee, no nonce used) and the command fails with the
/// ledger's named error. With `--dry-run` the trial is printed and nothing is sent.
pub async fn submit_with(
    global: &Global,
    rpc: &RpcClient,
    wallet: &client::keys::Wallet,
    call: Call,
) -> Result<(), CliError> {
    if global.dry_run {
        let (_, simulation) = simulate_call(rpc, wallet, call)
            .await
            .map_err(CliError::send)?;
        return report_dry_run(global, &worded_simulation(rpc, simulation).await);
    }
    let (tx, simulation) = match check_call(rpc, wallet, call).await {
        Ok(checked) => checked,
        Err(SendError::Refused { outcome, mut error }) => {
            word_error(rpc, Some(&mut error), chain_time_ms(rpc).await).await;
            return Err(refused(global, &outcome, &error));
        }
        Err(other) => return Err(CliError::send(other)),
    };
    if !global.json {
        println!(
            "fee:        {} (sent; waiting for finality)",
            simulation.fee
        );
    }
    let show_progress = !global.json && std::io::stderr().is_terminal();
    let receipt = submit_checked(rpc, &tx, RECEIPT_TIMEOUT, &mut |waited| {
        if show_progress {
            eprint!("\rwaiting for finality… {:.1} s", waited.as_secs_f64());
        }
    })
    .await
    .map_err(CliError::send)?;
    if show_progress {
        eprintln!();
    }
    report(global, &worded(rpc, receipt).await)
}

/// The failure of a transaction that was not sent because the ledger would refuse it. With
/// `--json` its document is printed here: `{"sent": false, "outcome", "error": {code, message},
/// "fee_paid": "0"}`, shaped as a receipt so scripts read both alike.
fn refused(global: &Global, outcome: &str, error: &ErrorView) -> CliError {
    if global.json {
        print_json(&json!({
            "sent": false,
            "outcome": outcome,
            "error": error,
            "fee_paid": "0",
        }));
    }
    CliError {
        code: error.code.clone(),
        message: crate::cli::error::refused_message(outcome, &error.message),
        printed: global.json,
    }
}

/// Prints what a transaction would do (`--dry-run`); one that would not succeed is an error,
/// whose JSON is the simulation itself.
pub fn report_dry_run(global: &Global, simulation: &SimulationView) -> Result<(), CliError> {
    if global.json {
        print_json(simulation);
    } else {
        println!("dry run: nothing was sent");
        println!(
            "outcome:    {}",
            match &simulation.error {
                None => simulation.outcome.clone(),
                Some(error) => format!("{} — {}", simulation.outcome, error.message),
            }
        );
        println!("fee:        {}", simulation.fee);
        if !simulation.moves.is_empty() {
            println!("moves:");
            for change in &simulation.moves {
                println!("  {}", move_words(change));
            }
        }
        if !simulation.events.is_empty() {
            println!("events:");
            for event in &simulation.events {
                println!("  - {}", event["text"].as_str().unwrap_or_default());
            }
        }
    }
    match &simulation.error {
        None if simulation.is_success() => Ok(()),
        error => Err(CliError {
            code: error
                .as_ref()
                .map_or_else(|| code::NODE_ERROR.to_string(), |e| e.code.clone()),
            message: format!(
                "the transaction would be {}{}",
                simulation.outcome,
                error
                    .as_ref()
                    .map(|e| format!(": {}", e.message))
                    .unwrap_or_default()
            ),
            printed: global.json,
        }),
    }
}

/// Prints a receipt; a failed or rejected transaction is an error, whose JSON is the receipt
/// itself (its `error` field has the code and message).
pub fn report(global: &Global, receipt: &ReceiptView) -> Result<(), CliError> {
    if global.json {
        print_json(receipt);
    } else {
        println!("transaction {} in block {}", receipt.tx_id, receipt.height);
        println!(
            "outcome:    {}",
            match &receipt.error {
                None => receipt.outcome.clone(),
                Some(error) => format!("{} — {}", receipt.outcome, error.message),
            }
        );
        println!(
            "fee paid:   {} EQA",
            amount::format(receipt.fee_paid.parse().unwrap_or(0), 9)
        );
        for event in &receipt.events {
            println!("  - {}", event["text"].as_str().unwrap_or_default());
        }
    }
    match &receipt.error {
        None => Ok(()),
        Some(error) => Err(CliError {
            code: error.code.clone(),
            message: format!("transaction {}: {}", receipt.outcome, error.message),
            printed: global.json,
        }),
    }
}

pub fn status(global: &Global) -> Result<(), CliError> {
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        let status = rpc.status().await.map_err(CliError::rpc)?;
        if global.json {
            print_json(&status);
        } else {
            println!("chain:        {}", status.chain_id);
            println!("role:         {}", status.role);
            println!(
                "height:       {} of {}",
                status.height, status.target_height
            );
            match &status.sync {
                Some(sync) => println!(
                    "phase:        {} ({} of {} store operations)",
                    status.phase, sync.operations_fetched, sync.operations_target
                ),
                None => println!("phase:        {}", status.phase),
            }
            println!("block time:   {}", utc(status.timestamp_ms));
            println!("state root:   {}", status.state_root);
            println!("peers:        {}", status.peers);
            println!("mempool:      {} transactions", status.mempool_size);
        }
        Ok(())
    })
}

/// `address`, or the wallet's own account when none is given.
pub fn account_or_own(global: &Global, address: Option<&str>) -> Result<AccountId, CliError> {
    match address {
        Some(text) => Ok(parse_address(text)?),
        None => keys::own_account(global).map_err(|mut error| {
            if error.code == code::NO_WALLET {
                error
                    .message
                    .push_str("; or name the account: equa … <equa1…>");
            }
            error
        }),
    }
}

pub fn account_show(global: &Global, address: Option<&str>) -> Result<(), CliError> {
    let account = account_or_own(global, address)?;
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        let view = rpc.account(&account).await.map_err(CliError::rpc)?;
        if global.json {
            print_json(&view);
        } else {
            println!("address:  {}", view.address);
            println!("nonce:    {}", view.nonce);
            if view.balances.is_empty() {
                println!("balances: none");
            }
            for balance in &view.balances {
                println!("  {:>28} {}", balance.amount, balance.symbol);
            }
        }
        Ok(())
    })
}

/// The chain's public key (consensus identity) from `path`: a file holding its hex (lines
/// starting with `#` are comments), such as the devnet's `chain-key.txt`, or a genesis file or
/// node configuration that holds a `consensus_key`.
fn load_chain_key(path: &std::path::Path) -> Result<node::threshold::Identity, String> {
    #[derive(serde::Deserialize)]
    struct NodeFile {
        consensus_key: String,
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let field = path.display().to_string();
    if let Ok(node) = toml::from_str::<toml::Table>(&text)
        && node.contains_key("consensus_key")
    {
        let node: NodeFile = toml::from_str(&text).map_err(|e| format!("{field}: {e}"))?;
        let key =
            node::threshold::decode_key(&field, &node.consensus_key).map_err(|e| e.to_string())?;
        return Ok(node::threshold::identity(&key));
    }
    let hex: String = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .collect();
    if hex.is_empty() {
        return Err(format!("{field} holds no chain key"));
    }
    node::threshold::decode_identity(&field, &hex).map_err(|e| e.to_string())
}

/// `equa account show --verify`: the account's nonce and balances, each checked against a
/// finalization certificate under the chain's public key; nothing is shown unless all verify.
pub fn account_verify(
    global: &Global,
    address: Option<&str>,
    chain_key_file: Option<&std::path::Path>,
) -> Result<(), CliError> {
    let account = account_or_own(global, address)?;
    let chain_key_file = chain_key_file
        .ok_or("--verify needs the chain's public key: --chain-key <file> or EQUA_CHAIN_KEY")?;
    let chain_key = load_chain_key(chain_key_file)?;
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        let proof = rpc.account_proof(&account).await.map_err(CliError::rpc)?;
        let verified = node::proof::verify(&proof, &account, &chain_key).map_err(|e| {
            CliError::new("VerificationFailed", format!("VERIFICATION FAILED: {e}"))
        })?;
        // Symbols and decimals only format the verified amounts.
        let assets = rpc.assets().await.map_err(CliError::rpc)?;
        let balances: Vec<_> = verified
            .balances
            .iter()
            .map(|(asset, minor)| {
                let info = assets.iter().find(|a| a.asset == asset.0);
                json!({
                    "asset": asset.0,
                    "symbol": info.map(|a| a.symbol.clone()),
                    "amount": info.map(|a| amount::format(*minor, a.decimals)),
                    "minor_units": minor.to_string(),
                })
            })
            .collect();
        let summary = json!({
            "address": account.to_string(),
            "nonce": verified.nonce,
            "balances": balances,
            "verified": {
                "height": verified.height,
                "epoch": verified.epoch,
                "block": format!("0x{}", hex::encode(verified.block.0)),
                "state_root": format!("0x{}", hex::encode(verified.state_root.0)),
                "chain_key": node::threshold::to_hex(&chain_key),
            },
        });
        if global.json {
            print_json(&summary);
            return Ok(());
        }
        println!("address:  {account}");
        println!("nonce:    {}", verified.nonce);
        if balances.is_empty() {
            println!("balances: none");
        }
        for balance in &balances {
            println!(
                "  {:>28} {}",
                balance["amount"].as_str().unwrap_or("?"),
                balance["symbol"].as_str().unwrap_or("(unknown asset)")
            );
        }
        println!(
            "verified: at height {} (epoch {}), state root {}, finalized under the chain key",
            verified.height,
            verified.epoch,
            summary["verified"]["state_root"].as_str().unwrap_or(""),
        );
        println!(
            "          (the proofs show each value is current; a node could leave a balance \
             out, but not change one)"
        );
        Ok(())
    })
}

pub fn account_history(
    global: &Global,
    address: Option<&str>,
    limit: u32,
    before: Option<&str>,
) -> Result<(), CliError> {
    let account = account_or_own(global, address)?;
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        let entries = rpc
            .history(&account, Some(limit), before)
            .await
            .map_err(CliError::rpc)?;
        let now_ms = chain_time_ms(&rpc).await;
        show_list(
            global,
            &entries,
            if before.is_some() {
                "no older transactions"
            } else {
                "no transactions yet"
            },
            |h| {
                let outcome = match &h.receipt.error {
                    None => h.receipt.outcome.clone(),
                    Some(error) => format!(
                        "{}: {}",
                        h.receipt.outcome,
                        words::ledger_error(&error.code, &error.message, now_ms, &[])
                    ),
                };
                println!(
                    "{}  block {:<8} {:<24} {}  {}",
                    utc(h.timestamp_ms),
                    h.receipt.height,
                    h.call,
                    outcome,
                    h.receipt.tx_id
                );
            },
        );
        if !global.json
            && entries.len() == limit as usize
            && let Some(last) = entries.last()
        {
            println!(
                "older: equa account history {} --limit {limit} --before {}",
                account, last.cursor
            );
        }
        Ok(())
    })
}

pub fn block_show(global: &Global, height: u64) -> Result<(), CliError> {
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        let found = rpc.block(height).await.map_err(CliError::rpc)?;
        let status = rpc.status().await.map_err(CliError::rpc)?;
        let Some(block) = found else {
            return Err(CliError::not_found(if height <= status.height {
                format!(
                    "this node no longer keeps block {height}: it serves recent blocks only \
                     (the chain is at height {})",
                    status.height
                )
            } else {
                format!(
                    "no finalized block at height {height} yet; the chain is at height {}",
                    status.height
                )
            }));
        };
        let now_ms = status.timestamp_ms;
        if global.json {
            print_json(&block);
        } else {
            println!("height:       {}", block.height);
            println!("digest:       {}", block.digest);
            println!("parent:       {}", block.parent);
            println!(
                "time:         {} ({})",
                utc(block.timestamp_ms),
                words::relative(block.timestamp_ms, now_ms.max(block.timestamp_ms))
            );
            println!("proposer:     {}", block.proposer);
            println!("state root:   {}", block.state_root);
            println!("transactions: {}", block.transactions.len());
            for tx in &block.transactions {
                println!("  {tx}");
            }
        }
        Ok(())
    })
}

pub fn send(global: &Global, to: &str, text: &str, symbol: &str) -> Result<(), CliError> {
    parse_address(to)?;
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        let call = transfer_call(&rpc, to, text, symbol).await?;
        submit(global, &rpc, call).await
    })
}

/// A transfer of `text` `symbol` to the address `to`.
pub async fn transfer_call(
    rpc: &RpcClient,
    to: &str,
    text: &str,
    symbol: &str,
) -> Result<Call, String> {
    let to = parse_address(to)?;
    let (asset, amount) = parse_amount(rpc, text, symbol).await?;
    Ok(Call::Bank(BankCall::Transfer(Transfer {
        to,
        asset: AssetId(asset.asset),
        amount,
    })))
}

pub fn asset_list(global: &Global) -> Result<(), CliError> {
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        let assets = rpc.assets().await.map_err(CliError::rpc)?;
        if global.json {
            print_json(&assets);
            return Ok(());
        }
        for asset in assets {
            let supply = amount::format(asset.supply.parse().unwrap_or(0), asset.decimals);
            println!(
                "#{:<3} {:<12} {:<24} {:<12} supply {}",
                asset.asset,
                asset.symbol,
                asset.name,
                words::count(asset.decimals, "decimal"),
                supply
            );
        }
        Ok(())
    })
}

#[derive(Debug, Subcommand)]
pub enum AssetCommand {
    /// Every asset on the chain.
    List,
    /// Create an asset with your account as issuer.
    Issue {
        symbol: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        decimals: u8,
        /// The most that may ever circulate, as a decimal amount.
        #[arg(long)]
        max_supply: Option<String>,
    },
    /// Create new units of an asset you issued: `equa asset mint 100 USDX --to <address>`.
    Mint {
        #[arg(allow_hyphen_values = true)]
        amount: String,
        symbol: String,
        #[arg(long)]
        to: String,
    },
    /// Destroy units of an asset you issued, from your own balance.
    Burn {
        #[arg(allow_hyphen_values = true)]
        amount: String,
        symbol: String,
    },
}

/// Runs an asset command: the list, or the transaction the others stand for.
pub fn asset(global: &Global, command: AssetCommand) -> Result<(), CliError> {
    if let AssetCommand::List = command {
        return asset_list(global);
    }
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        let call = asset_call(&rpc, command).await?;
        submit(global, &rpc, call).await
    })
}

/// The transaction an asset command stands for.
pub async fn asset_call(rpc: &RpcClient, command: AssetCommand) -> Result<Call, String> {
    match command {
        AssetCommand::List => Err(crate::cli::market::not_a_transaction()),
        AssetCommand::Issue {
            symbol,
            name,
            decimals,
            max_supply,
        } => {
            let symbol = Symbol::new(&symbol).map_err(|e| e.to_string())?;
            let name = crate::cli::input::text(&name, "the asset name")?;
            if decimals > amount::MAX_DECIMALS {
                return Err(format!(
                    "an asset has at most {} decimals, not {decimals}",
                    amount::MAX_DECIMALS
                ));
            }
            let max_supply = max_supply
                .map(|text| amount::parse(&text, decimals).map_err(|e| format!("max supply: {e}")))
                .transpose()?;
            Ok(Call::Bank(BankCall::IssueAsset(IssueAsset {
                symbol,
                name,
                decimals,
                max_supply,
            })))
        }
        AssetCommand::Mint { amount, symbol, to } => {
            let to = parse_address(&to)?;
            let (asset, amount) = parse_amount(rpc, &amount, &symbol).await?;
            Ok(Call::Bank(BankCall::Mint(Mint {
                asset: AssetId(asset.asset),
                to,
                amount,
            })))
        }
        AssetCommand::Burn { amount, symbol } => {
            let (asset, amount) = parse_amount(rpc, &amount, &symbol).await?;
            Ok(Call::Bank(BankCall::Burn(Burn {
                asset: AssetId(asset.asset),
                amount,
            })))
        }
    }
}

pub fn tx_show(global: &Global, id: &str) -> Result<(), CliError> {
    let digits = id.strip_prefix("0x").unwrap_or(id);
    let bytes: [u8; 32] = hex::decode(digits)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            format!("\"{id}\" is not a transaction id: 64 hexadecimal digits, as 0x… or bare")
        })?;
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        match rpc
            .receipt(&types::Digest(bytes))
            .await
            .map_err(CliError::rpc)?
        {
            Some(receipt) => report(global, &worded(&rpc, receipt).await),
            None => Err(CliError::not_found(format!(
                "no receipt for {id}: not (yet) in a finalized block"
            ))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::parse_address;

    #[test]
    fn a_bad_address_says_what_an_address_looks_like() {
        let error = parse_address("bob").unwrap_err();
        assert!(error.contains("\"equa1\" and 58 more"), "{error}");
        assert!(!error.contains("parse failed"), "{error}");
        let mistyped = "equa1ga0jwuf3n9nav3jzvnln6evg0x2vw8pm8hvy99l9z5qaknh6l7fsffhgt3";
        let error = parse_address(mistyped).unwrap_err();
        assert!(error.contains("mistyped"), "{error}");
        let good = "equa1ga0jwuf3n9nav3jzvnln6evg0x2vw8pm8hvy99l9z5qaknh6l7fsffhgt2";
        assert_eq!(parse_address(good).unwrap().to_string(), good);
    }
}
