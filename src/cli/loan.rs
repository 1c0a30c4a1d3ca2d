//! `equa loan`: the offline `schedule` command, computed with the ledger's own arithmetic, and
//! the commands that talk to a node (in [`crate::cli::lending`]).

use clap::{Args, Subcommand};
use ledger::lending::math::{self, DAY_MS};
use serde_json::json;
use types::amount;

#[derive(Debug, Args)]
pub struct LoanArgs {
    #[command(subcommand)]
    command: LoanCommand,
}

#[derive(Debug, Subcommand)]
enum LoanCommand {
    /// Print the schedule of equal payments (the last clears the rest), without any network.
    Schedule(ScheduleArgs),
    #[command(flatten)]
    Chain(crate::cli::lending::LendingCommand),
}

#[derive(Debug, Args)]
struct ScheduleArgs {
    /// The principal, as a decimal amount (e.g. 1200.50).
    #[arg(long, allow_hyphen_values = true)]
    principal: String,
    /// The asset's decimals.
    #[arg(long)]
    decimals: u8,
    /// Yearly interest rate: 12% or 12.5%, or in basis points (1200 = 12%).
    #[arg(long, value_parser = crate::cli::input::basis_points, allow_hyphen_values = true)]
    apr_bps: u32,
    #[arg(long)]
    term_days: u32,
    /// Number of payments; 1 is a bullet loan.
    #[arg(long, default_value_t = 1)]
    instalments: u16,
}

pub fn run(global: &crate::cli::Global, args: LoanArgs) -> Result<(), crate::cli::error::CliError> {
    match args.command {
        LoanCommand::Schedule(args) => Ok(schedule(global.json, args)?),
        LoanCommand::Chain(command) => crate::cli::lending::run(global, command),
    }
}

fn schedule(json_output: bool, args: ScheduleArgs) -> Result<(), String> {
    let principal =
        amount::parse(&args.principal, args.decimals).map_err(|e| format!("--principal: {e}"))?;
    let rows = math::schedule(principal, args.apr_bps, args.term_days, args.instalments)
        .map_err(|e| e.to_string())?;
    let format = |value: u128| amount::format(value, args.decimals);
    // The table shows every amount with all its decimals, so the columns line up.
    let fixed = |value: u128| amount::format_fixed(value, args.decimals);
    if json_output {
        let list: Vec<_> = rows
            .iter()
            .enumerate()
            .map(|(index, row)| {
                json!({
                    "instalment": index + 1,
                    "due_offset_ms": row.due_offset_ms,
                    "payment": format(row.payment),
                    "interest": format(row.interest),
                    "principal": format(row.principal),
                    "remaining": format(row.remaining),
                })
            })
            .collect();
        let total_interest: u128 = rows.iter().map(|r| r.interest).sum();
        let total_paid: u128 = rows.iter().map(|r| r.payment).sum();
        let summary = json!({
            "principal": format(principal),
            "apr_bps": args.apr_bps,
            "term_days": args.term_days,
            "instalments": list,
            "total_interest": format(total_interest),
            "total_paid": format(total_paid),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("JSON serializes")
        );
        return Ok(());
    }
    println!(
        "{:>4}  {:>10}  {:>20}  {:>20}  {:>20}  {:>20}",
        "#", "due (day)", "payment", "interest", "principal", "remaining"
    );
    for (index, row) in rows.iter().enumerate() {
        println!(
            "{:>4}  {:>10}  {:>20}  {:>20}  {:>20}  {:>20}",
            index + 1,
            format_days(row.due_offset_ms),
            fixed(row.payment),
            fixed(row.interest),
            fixed(row.principal),
            fixed(row.remaining)
        );
    }
    let total_interest: u128 = rows.iter().map(|r| r.interest).sum();
    println!("total interest {}", fixed(total_interest));
    Ok(())
}

/// Milliseconds as days with two decimals, without floating point.
fn format_days(ms: u64) -> String {
    let hundredths = u128::from(ms) * 100 / u128::from(DAY_MS);
    amount::format(hundredths, 2)
}
