//! Commands that talk to a node: status, accounts, blocks, receipts, transfers and assets.

use crate::cli::{Global, keys};
use clap::Subcommand;
use client::tx::send_call;
use rpc::{
    RpcClient,
    views::{AssetView, ReceiptView},
};
use serde_json::json;
use std::{io::IsTerminal, time::Duration};
use types::{
    AccountId, AssetId, Call, Symbol, Text, amount,
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

pub fn connect(global: &Global) -> Result<RpcClient, String> {
    RpcClient::new(&global.rpc).map_err(|e| e.to_string())
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

/// A block time (milliseconds since 1970 UTC) as `2026-11-24 14:58:31 UTC`.
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let of_day = secs % 86_400;
    // Days to a civil date (proleptic Gregorian), after Howard Hinnant's `civil_from_days`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

pub fn parse_address(text: &str) -> Result<AccountId, String> {
    AccountId::parse(text).map_err(|e| format!("invalid address {text:?}: {e}"))
}

/// Resolves a symbol against the node's assets and parses `text` in that asset's decimals.
pub async fn parse_amount(
    rpc: &RpcClient,
    text: &str,
    symbol: &str,
) -> Result<(AssetView, u128), String> {
    let assets = rpc.assets().await.map_err(|e| e.to_string())?;
    let upper = symbol.to_uppercase();
    let asset = assets
        .into_iter()
        .find(|a| a.symbol == upper)
        .ok_or_else(|| format!("unknown asset {symbol:?}; `equa asset list` shows the assets"))?;
    let value = amount::parse(text, asset.decimals).map_err(|e| e.to_string())?;
    Ok((asset, value))
}

/// Signs and submits `call` with the global wallet, waits for the receipt and prints it.
/// A failed or rejected transaction is an error (exit status 1) after its receipt is shown.
pub async fn submit(global: &Global, rpc: &RpcClient, call: Call) -> Result<(), String> {
    let wallet = keys::unlock(&keys::wallet_path(global)?)?;
    submit_with(global, rpc, &wallet, call).await
}

/// [`submit`] with a wallet already unlocked.
pub async fn submit_with(
    global: &Global,
    rpc: &RpcClient,
    wallet: &client::keys::Wallet,
    call: Call,
) -> Result<(), String> {
    let show_progress = !global.json && std::io::stderr().is_terminal();
    let receipt = send_call(rpc, wallet, call, RECEIPT_TIMEOUT, |waited| {
        if show_progress {
            eprint!("\rwaiting for finality… {:.1} s", waited.as_secs_f64());
        }
    })
    .await
    .map_err(|e| e.to_string())?;
    if show_progress {
        eprintln!();
    }
    report(global, &receipt)
}

pub fn report(global: &Global, receipt: &ReceiptView) -> Result<(), String> {
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
        Some(error) => Err(format!(
            "transaction {}: {}",
            receipt.outcome, error.message
        )),
    }
}

pub fn status(global: &Global) -> Result<(), String> {
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        let status = rpc.status().await.map_err(|e| e.to_string())?;
        if global.json {
            print_json(&status);
        } else {
            println!("chain:        {}", status.chain_id);
            println!("role:         {}", status.role);
            println!(
                "height:       {} of {}",
                status.height, status.target_height
            );
            println!("block time:   {}", utc(status.timestamp_ms));
            println!("state root:   {}", status.state_root);
            println!("peers:        {}", status.peers);
            println!("mempool:      {} transactions", status.mempool_size);
        }
        Ok(())
    })
}

pub fn account_show(global: &Global, address: &str) -> Result<(), String> {
    let account = parse_address(address)?;
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        let view = rpc.account(&account).await.map_err(|e| e.to_string())?;
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

/// The genesis validators' public keys from a TOML file with `[[validators]] public_key`.
fn load_validators(
    path: &std::path::Path,
) -> Result<Vec<commonware_cryptography::ed25519::PublicKey>, String> {
    #[derive(serde::Deserialize)]
    struct File {
        validators: Vec<Validator>,
    }
    #[derive(serde::Deserialize)]
    struct Validator {
        public_key: String,
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file: File = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if file.validators.is_empty() {
        return Err(format!("{} lists no validators", path.display()));
    }
    file.validators
        .iter()
        .enumerate()
        .map(|(index, v)| {
            hex::decode(v.public_key.trim())
                .ok()
                .and_then(|bytes| types::codec::decode(&bytes).ok())
                .ok_or_else(|| {
                    format!(
                        "{}: validators[{index}].public_key is not an ed25519 key",
                        path.display()
                    )
                })
        })
        .collect()
}

/// `equa account show --verify`: the account's nonce and balances, each checked against a
/// finalization certificate of the genesis validators; nothing is shown unless all verify.
pub fn account_verify(
    global: &Global,
    address: &str,
    validators_file: Option<&std::path::Path>,
) -> Result<(), String> {
    let account = parse_address(address)?;
    let validators_file = validators_file
        .ok_or("--verify needs the genesis validators: --validators <file> or EQUA_VALIDATORS")?;
    let validators = load_validators(validators_file)?;
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        let proof = rpc
            .account_proof(&account)
            .await
            .map_err(|e| e.to_string())?;
        let verified = node::proof::verify(&proof, &account, &validators)
            .map_err(|e| format!("VERIFICATION FAILED: {e}"))?;
        // Symbols and decimals only format the verified amounts.
        let assets = rpc.assets().await.map_err(|e| e.to_string())?;
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
                "block": format!("0x{}", hex::encode(verified.block.0)),
                "state_root": format!("0x{}", hex::encode(verified.state_root.0)),
                "signers": verified.signers,
                "validators": validators.len(),
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
            "verified: at height {}, state root {}, finalized by {} of {} genesis validators",
            verified.height,
            summary["verified"]["state_root"].as_str().unwrap_or(""),
            verified.signers,
            validators.len()
        );
        println!(
            "          (the proofs show each value is current; a node could leave a balance \
             out, but not change one)"
        );
        Ok(())
    })
}

pub fn account_history(global: &Global, address: Option<&str>, limit: u32) -> Result<(), String> {
    let account = match address {
        Some(text) => parse_address(text)?,
        None => parse_address(
            client::keystore::Keystore::load(&keys::wallet_path(global)?)
                .map_err(|e| e.to_string())?
                .address(),
        )?,
    };
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        let entries = rpc
            .history(&account, Some(limit))
            .await
            .map_err(|e| e.to_string())?;
        show_list(
            global,
            &entries,
            "no transactions in the node's recent blocks",
            |h| {
                let outcome = match &h.receipt.error {
                    None => h.receipt.outcome.clone(),
                    Some(error) => format!("{}: {}", h.receipt.outcome, error.message),
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
        Ok(())
    })
}

pub fn block_show(global: &Global, height: u64) -> Result<(), String> {
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        let block = rpc
            .block(height)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no finalized block at height {height} yet"))?;
        if global.json {
            print_json(&block);
        } else {
            println!("height:       {}", block.height);
            println!("digest:       {}", block.digest);
            println!("parent:       {}", block.parent);
            println!("time (ms):    {}", block.timestamp_ms);
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

pub fn send(global: &Global, to: &str, text: &str, symbol: &str) -> Result<(), String> {
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

pub fn asset_list(global: &Global) -> Result<(), String> {
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        let assets = rpc.assets().await.map_err(|e| e.to_string())?;
        if global.json {
            print_json(&assets);
            return Ok(());
        }
        for asset in assets {
            let supply = amount::format(asset.supply.parse().unwrap_or(0), asset.decimals);
            println!(
                "{:<4} {:<12} {:<24} decimals {:<2} supply {}",
                asset.asset, asset.symbol, asset.name, asset.decimals, supply
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
pub fn asset(global: &Global, command: AssetCommand) -> Result<(), String> {
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
            let name = Text::new(&name).map_err(|e| format!("asset name: {e}"))?;
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

pub fn tx_show(global: &Global, id: &str) -> Result<(), String> {
    let digits = id.strip_prefix("0x").unwrap_or(id);
    let bytes: [u8; 32] = hex::decode(digits)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("{id:?} is not a transaction id (32 bytes of hex)"))?;
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        match rpc
            .receipt(&types::Digest(bytes))
            .await
            .map_err(|e| e.to_string())?
        {
            Some(receipt) => report(global, &receipt),
            None if global.json => {
                println!("{}", json!(null));
                Ok(())
            }
            None => Err(format!(
                "no receipt for {id}: not (yet) in a finalized block"
            )),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn block_times_read_as_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        // 2026-01-01T00:00:00Z, the harness chains' genesis.
        assert_eq!(utc(1_767_225_600_000), "2026-01-01 00:00:00 UTC");
        // A leap day, and the last millisecond of a day.
        assert_eq!(utc(1_709_251_199_999), "2024-02-29 23:59:59 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_795_532_226_582), "2026-11-24 14:57:06 UTC");
    }
}
