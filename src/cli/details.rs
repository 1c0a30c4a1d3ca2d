//! `equa payment-details`: the payment-account details a seller keeps per method, sealed beside
//! the wallet's keystore and sent to a trade's buyer only through the trade's encrypted chat
//! (`equa trade send-details`).

use crate::cli::{Global, chain::print_json, error::CliError, keys};
use clap::Subcommand;
use client::details::PaymentDetails;

#[derive(Debug, Subcommand)]
pub enum DetailsCommand {
    /// Keep the details buyers pay you with for a method: `equa payment-details set SEPA
    /// "IBAN DE89 3704 0044 0532 0130 00, Alice Example"`. They stay on this machine, encrypted.
    Set { method: String, details: String },
    /// The methods you keep details for, with the details.
    List,
    /// Forget the details of a method.
    Remove { method: String },
}

pub fn run(global: &Global, command: DetailsCommand) -> Result<(), CliError> {
    let path = keys::wallet_path(global)?;
    let wallet = keys::unlock_own(global)?;
    let mut details = PaymentDetails::load(&path, &wallet).map_err(|e| e.to_string())?;
    let done = match command {
        DetailsCommand::Set {
            method,
            details: text,
        } => {
            details.set(&method, &text).map_err(|e| e.to_string())?;
            details.save(&path, &wallet).map_err(|e| e.to_string())?;
            Some(format!(
                "kept your {} details; send them to a trade's buyer with `equa trade \
                 send-details <trade>`",
                method.trim()
            ))
        }
        DetailsCommand::Remove { method } => {
            if !details.remove(&method) {
                return Err(format!("no payment details are kept for {}", method.trim()).into());
            }
            details.save(&path, &wallet).map_err(|e| e.to_string())?;
            Some(format!("forgot your {} details", method.trim()))
        }
        DetailsCommand::List => None,
    };
    if global.json {
        let list: Vec<_> = details
            .iter()
            .map(|(method, text)| serde_json::json!({ "method": method, "details": text }))
            .collect();
        print_json(&list);
    } else if let Some(done) = done {
        println!("{done}");
    } else if details.is_empty() {
        println!(
            "no payment details kept; add some with `equa payment-details set <method> <details>`"
        );
    } else {
        for (method, text) in details.iter() {
            println!("{method}: {}", text.replace('\n', "\n    "));
        }
    }
    Ok(())
}
