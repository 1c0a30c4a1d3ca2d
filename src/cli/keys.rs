//! `equa keys`: create, import, list and show wallets.
//!
//! Keystores live in `$EQUA_HOME/keys/<name>.json` (`EQUA_HOME` defaults to `~/.equa`); a command
//! can name another file with `--wallet <path>`. Passwords come from `EQUA_PASSWORD` or, when it is
//! unset, from a prompt on the terminal.

use crate::cli::{
    Global,
    error::{CliError, code},
};
use clap::{Args, Subcommand};
use client::{Keystore, ScryptCost, Wallet, keystore::KeystoreError};
use serde_json::json;
use std::{
    io::{BufRead, IsTerminal},
    path::{Path, PathBuf},
};

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a wallet: prints its 24-word mnemonic once, then stores it encrypted.
    New(Target),
    /// Restore a wallet from its 24-word mnemonic (read from standard input).
    Import(Target),
    /// List the wallets in the key directory.
    List,
    /// Show a wallet's address and chat key (asks for the password).
    Show(Target),
}

#[derive(Debug, Args)]
struct Target {
    /// Wallet name inside the key directory (the global --wallet names a file instead).
    #[arg(long, default_value = "default")]
    name: String,
}

fn home() -> Result<PathBuf, String> {
    if let Some(home) = std::env::var_os("EQUA_HOME") {
        return Ok(PathBuf::from(home));
    }
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".equa"))
        .ok_or_else(|| "set EQUA_HOME or HOME to locate the key directory".to_string())
}

fn key_dir() -> Result<PathBuf, String> {
    Ok(home()?.join("keys"))
}

fn valid_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid wallet name \"{name}\": use 1 to 64 letters, digits, '-' or '_'"
        ))
    }
}

fn keystore_path(global: &Global, target: &Target) -> Result<PathBuf, String> {
    if let Some(path) = &global.wallet {
        return Ok(path.clone());
    }
    valid_name(&target.name)?;
    Ok(key_dir()?.join(format!("{}.json", target.name)))
}

/// The keystore that signs transactions: `--wallet`, else the default wallet.
pub fn wallet_path(global: &Global) -> Result<PathBuf, String> {
    keystore_path(
        global,
        &Target {
            name: "default".into(),
        },
    )
}

/// The keystore that signs, read (not yet unlocked). A missing file says where it was looked
/// for and how to make one.
pub fn own_keystore(global: &Global) -> Result<Keystore, CliError> {
    let path = wallet_path(global)?;
    if !path.exists() {
        let message = match &global.wallet {
            Some(_) => format!(
                "no wallet file at {} (named by --wallet or EQUA_WALLET); check the path, or \
                 create a wallet there with `equa --wallet {} keys new`",
                path.display(),
                path.display()
            ),
            None => format!(
                "no default wallet: looked for {} (the key directory is $EQUA_HOME/keys, \
                 EQUA_HOME defaulting to ~/.equa). Create one with `equa keys new`, restore one \
                 with `equa keys import`, or name a keystore file with --wallet <file>",
                path.display()
            ),
        };
        return Err(CliError::new(code::NO_WALLET, message));
    }
    Keystore::load(&path).map_err(keystore_error)
}

/// The signing wallet's account, read from its keystore without the password.
pub fn own_account(global: &Global) -> Result<types::AccountId, CliError> {
    let keystore = own_keystore(global)?;
    Ok(crate::cli::chain::parse_address(keystore.address())?)
}

/// The signing wallet, unlocked with the user's password.
pub fn unlock_own(global: &Global) -> Result<Wallet, CliError> {
    let keystore = own_keystore(global)?;
    let password = password(&format!("Password for {}: ", keystore.address()), false)?;
    keystore.decrypt(&password).map_err(keystore_error)
}

fn keystore_error(error: KeystoreError) -> CliError {
    let code = match error {
        KeystoreError::WrongPassword { .. } => code::WRONG_PASSWORD,
        _ => code::WALLET_ERROR,
    };
    CliError::new(code, error.to_string())
}

/// The password from `EQUA_PASSWORD`, or asked on the terminal (twice when `confirm`).
pub fn password(prompt: &str, confirm: bool) -> Result<String, String> {
    if let Ok(password) = std::env::var("EQUA_PASSWORD") {
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        return Err("no password: set EQUA_PASSWORD or run in a terminal".into());
    }
    let first = rpassword::prompt_password(prompt).map_err(|e| e.to_string())?;
    if confirm {
        let second =
            rpassword::prompt_password("Repeat the password: ").map_err(|e| e.to_string())?;
        if first != second {
            return Err("the two passwords differ; nothing was written".into());
        }
    }
    if first.is_empty() {
        return Err("an empty password is not allowed".into());
    }
    Ok(first)
}

/// Opens the keystore at `path` with the user's password.
fn unlock(path: &Path) -> Result<Wallet, CliError> {
    let keystore = Keystore::load(path).map_err(keystore_error)?;
    let password = password(&format!("Password for {}: ", keystore.address()), false)?;
    keystore.decrypt(&password).map_err(keystore_error)
}

fn store(wallet: &Wallet, path: &Path) -> Result<(), String> {
    if path.exists() {
        return Err(format!(
            "{} already exists; choose another --name or --wallet",
            path.display()
        ));
    }
    let password = password("New wallet password: ", true)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let keystore =
        Keystore::encrypt(wallet, &password, scrypt_cost()).map_err(|e| e.to_string())?;
    keystore.save(path).map_err(|e| e.to_string())
}

/// Tests and devnets may lower the scrypt cost with `EQUA_INSECURE_FAST_KDF=1`; nothing else does.
fn scrypt_cost() -> ScryptCost {
    if std::env::var("EQUA_INSECURE_FAST_KDF").as_deref() == Ok("1") {
        ScryptCost::TEST
    } else {
        ScryptCost::DEFAULT
    }
}

pub fn run(global: &Global, args: KeysArgs) -> Result<(), CliError> {
    match args.command {
        KeysCommand::New(target) => {
            let path = keystore_path(global, &target)?;
            let (wallet, mnemonic) = Wallet::generate("");
            store(&wallet, &path)?;
            if global.json {
                println!(
                    "{}",
                    json!({ "address": wallet.account().to_string(), "wallet": path, "mnemonic": mnemonic.as_str() })
                );
            } else {
                println!("address:  {}", wallet.account());
                println!("wallet:   {}", path.display());
                println!("\nWrite these 24 words down and keep them offline. They are shown only");
                println!("this once, and anyone who has them controls this account:\n");
                println!("{}", mnemonic.as_str());
            }
            Ok(())
        }
        KeysCommand::Import(target) => {
            let path = keystore_path(global, &target)?;
            if std::io::stdin().is_terminal() {
                eprintln!("Enter the 24-word mnemonic:");
            }
            let mut phrase = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut phrase)
                .map_err(|e| format!("cannot read the mnemonic: {e}"))?;
            let wallet = Wallet::from_mnemonic(&phrase, "").map_err(|e| e.to_string())?;
            store(&wallet, &path)?;
            if global.json {
                println!(
                    "{}",
                    json!({ "address": wallet.account().to_string(), "wallet": path })
                );
            } else {
                println!("address:  {}", wallet.account());
                println!("wallet:   {}", path.display());
            }
            Ok(())
        }
        KeysCommand::List => {
            let dir = key_dir()?;
            let mut wallets = Vec::new();
            if dir.exists() {
                let entries = std::fs::read_dir(&dir)
                    .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
                for entry in entries.flatten() {
                    let path = entry.path();
                    if path.extension().and_then(|e| e.to_str()) != Some("json") {
                        continue;
                    }
                    let name = path
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .unwrap_or_default()
                        .to_string();
                    let address = Keystore::load(&path)
                        .map(|k| k.address().to_string())
                        .unwrap_or_else(|e| format!("unreadable: {e}"));
                    wallets.push((name, address));
                }
            }
            wallets.sort();
            if global.json {
                let list: Vec<_> = wallets
                    .iter()
                    .map(|(name, address)| json!({ "name": name, "address": address }))
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else if wallets.is_empty() {
                println!(
                    "no wallets in {}; create one with `equa keys new`",
                    dir.display()
                );
            } else {
                for (name, address) in wallets {
                    println!("{name:<16} {address}");
                }
            }
            Ok(())
        }
        KeysCommand::Show(target) => {
            let path = keystore_path(global, &target)?;
            if !path.exists() {
                return Err(CliError::new(
                    code::NO_WALLET,
                    format!(
                        "no wallet at {}; `equa keys list` shows the wallets there are, \
                         `equa keys new` creates one",
                        path.display()
                    ),
                ));
            }
            let wallet = unlock(&path)?;
            let chat_key = hex::encode(wallet.chat_public_key());
            if global.json {
                println!(
                    "{}",
                    json!({ "address": wallet.account().to_string(), "chat_public_key": chat_key, "wallet": path })
                );
            } else {
                println!("address:          {}", wallet.account());
                println!("chat public key:  {chat_key}");
                println!("wallet:           {}", path.display());
            }
            Ok(())
        }
    }
}
