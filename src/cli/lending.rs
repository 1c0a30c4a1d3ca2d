//! Lending commands that talk to a node: requests and credit offers, funding, repayment,
//! claims and default.

use crate::cli::{
    Global,
    chain::{
        chain_time_ms, connect, parse_address, parse_amount, runtime, show, show_list, submit,
    },
    error::CliError,
    input,
    words::{count, moment, percent, spaced, utc},
};
use clap::{Args, Subcommand};
use rpc::{
    RpcClient,
    lending::{CreditOfferQuery, CreditOfferView, LoanQuery, LoanView, parse_schedule},
    views::Money,
};
use types::{
    AssetId, Call,
    lending::{
        Collateral, CreditRef, Fund, LendingCall, LoanRef, OfferCredit, Repay, RequestLoan,
        Schedule, TakeCredit,
    },
};

const DAY_MS: u64 = 86_400_000;

#[derive(Debug, Subcommand)]
pub enum LendingCommand {
    /// Ask to borrow: `equa loan request 1000 USDX --apr-bps 1200 --term-days 90
    /// --schedule 3 --collateral 500 EQA`.
    Request(RequestArgs),
    /// Offer credit that a borrower can take at once.
    Offer(OfferArgs),
    /// Loans and requests; `--state funding` shows requests still collecting lenders.
    List(ListArgs),
    /// Lenders' open credit offers.
    Offers {
        #[arg(long)]
        asset: Option<String>,
        /// "rate" (default), "term" or "collateral".
        #[arg(long)]
        sort: Option<String>,
    },
    /// One loan: schedule, what is owed now, lenders.
    Show { id: u64 },
    /// Lend part of a request: `equa loan fund 3 250` (in the loan's asset).
    Fund {
        id: u64,
        #[arg(allow_negative_numbers = true)]
        amount: String,
    },
    /// Take your funding back before the loan activates.
    Withdraw { id: u64 },
    /// As borrower, after the funding deadline: take a request funded at least to its minimum.
    Accept { id: u64 },
    /// Take a credit offer: `equa loan take-offer 2 500 --collateral 300`.
    TakeOffer {
        offer: u64,
        #[arg(allow_negative_numbers = true)]
        amount: String,
        /// Collateral to lock, in the offer's collateral asset.
        #[arg(long, allow_negative_numbers = true)]
        collateral: Option<String>,
    },
    /// Repay: `equa loan repay 3 120.5`, or `--all` for everything owed.
    Repay {
        id: u64,
        #[arg(allow_negative_numbers = true)]
        amount: Option<String>,
        #[arg(long, conflicts_with = "amount")]
        all: bool,
    },
    /// As lender: collect your share of repayments (and of seized collateral).
    Claim { id: u64 },
    /// End a request whose deadline passed unfilled; lenders and collateral are refunded.
    Expire { id: u64 },
    /// Declare default on a loan past the default threshold; collateral goes to the lenders.
    Default { id: u64 },
    /// As borrower: withdraw a request before anyone funds it.
    Cancel { id: u64 },
    /// As lender: withdraw a credit offer.
    CancelOffer { id: u64 },
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    #[arg(allow_negative_numbers = true)]
    principal: String,
    symbol: String,
    /// Yearly interest rate: 12% or 12.5%, or in basis points (1200 = 12%).
    #[arg(long, value_parser = input::basis_points, allow_hyphen_values = true)]
    apr_bps: u32,
    #[arg(long)]
    term_days: u32,
    /// "bullet" (one payment at the end) or a number of equal instalments.
    #[arg(long, default_value = "bullet")]
    schedule: String,
    /// Collateral amount and asset, e.g. `--collateral 500 EQA`.
    #[arg(long, num_args = 2, value_names = ["AMOUNT", "SYMBOL"], allow_negative_numbers = true)]
    collateral: Option<Vec<String>>,
    /// Lenders have this many days to fill the request (at least 1).
    #[arg(long, default_value_t = 7)]
    funding_days: u64,
    /// The least you will accept after the deadline (default: the whole principal).
    #[arg(long, allow_negative_numbers = true)]
    min_fill: Option<String>,
}

#[derive(Debug, Args)]
pub struct OfferArgs {
    #[arg(allow_negative_numbers = true)]
    amount: String,
    symbol: String,
    /// The smallest loan a borrower may take (default: the whole amount).
    #[arg(long, allow_negative_numbers = true)]
    min: Option<String>,
    /// Yearly interest rate: 9% or 9.5%, or in basis points (900 = 9%).
    #[arg(long, value_parser = input::basis_points, allow_hyphen_values = true)]
    apr_bps: u32,
    #[arg(long)]
    term_days: u32,
    #[arg(long, default_value = "bullet")]
    schedule: String,
    /// Collateral per whole unit borrowed, and its asset: `--collateral-per-unit 1.5 EQA`.
    #[arg(long, num_args = 2, value_names = ["AMOUNT", "SYMBOL"], allow_negative_numbers = true)]
    collateral_per_unit: Option<Vec<String>>,
    /// The offer lapses after this many days (at least 1).
    #[arg(long, default_value_t = 30)]
    expires_days: u64,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// funding, active, repaid, defaulted, cancelled or expired.
    #[arg(long)]
    state: Option<String>,
    #[arg(long)]
    asset: Option<String>,
    #[arg(long)]
    borrower: Option<String>,
    #[arg(long)]
    lender: Option<String>,
    /// "rate" (default), "term" or "collateral".
    #[arg(long)]
    sort: Option<String>,
    /// Only loans with a lower id. With no account and no state or an ended one, the 10,000
    /// ids below it are read (the latest without it): lower it by 10,000 to read further back.
    #[arg(long)]
    before: Option<u64>,
}

async fn loan_of(rpc: &RpcClient, id: u64) -> Result<LoanView, CliError> {
    rpc.loan(id).await.map_err(CliError::rpc)?.ok_or_else(|| {
        CliError::not_found(format!("no loan #{id}; `equa loan list` shows the loans"))
    })
}

async fn credit_offer_of(rpc: &RpcClient, id: u64) -> Result<CreditOfferView, CliError> {
    rpc.credit_offer(id)
        .await
        .map_err(CliError::rpc)?
        .ok_or_else(|| {
            CliError::not_found(format!(
                "no credit offer #{id}; `equa loan offers` shows the open ones"
            ))
        })
}

/// `text` in the decimals of the asset of `money`.
async fn amount_like(rpc: &RpcClient, text: &str, money: &Money) -> Result<u128, String> {
    Ok(parse_amount(rpc, text, &money.symbol).await?.1)
}

/// The latest finalized block time: deadlines are block times, so one built from a day count
/// starts from it (and a node that does not answer stops the command).
async fn block_time_ms(rpc: &RpcClient) -> Result<u64, String> {
    Ok(rpc
        .status()
        .await
        .map_err(|e| crate::cli::error::rpc_message(&e))?
        .timestamp_ms)
}

/// A schedule as the node names it ("bullet", "instalments:3") in words.
fn schedule_words(schedule: &str) -> String {
    match schedule
        .strip_prefix("instalments:")
        .and_then(|n| n.parse::<u32>().ok())
    {
        Some(n) => count(n, "instalment"),
        None => schedule.to_string(),
    }
}

/// Loan terms checked as the ledger checks them, before anything is signed: the rate and the
/// term within the chain's bounds, and a schedule that can be computed.
async fn check_terms(
    rpc: &RpcClient,
    principal: u128,
    rate_bps: u32,
    term_days: u32,
    schedule: Schedule,
) -> Result<(), String> {
    let params = rpc
        .lending_params()
        .await
        .map_err(|e| crate::cli::error::rpc_message(&e))?;
    if rate_bps > params.max_rate_bps {
        return Err(format!(
            "a yearly rate of {} is above the most allowed, {}",
            percent(rate_bps),
            percent(params.max_rate_bps)
        ));
    }
    if term_days > params.max_term_days {
        return Err(format!(
            "a term of {} is above the longest allowed, {}",
            count(term_days, "day"),
            count(params.max_term_days, "day")
        ));
    }
    ledger::lending::math::schedule(principal, rate_bps, term_days, schedule.count())
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// A number of days of a lending command, at least one.
fn days(value: u64, option: &str) -> Result<u64, String> {
    if value == 0 {
        return Err(format!("{option} must be at least 1 day"));
    }
    Ok(value)
}

fn print_loan_line(loan: &LoanView) {
    println!(
        "#{:<5} {:<10} {:>14} {:<6} {:>6}% {:>9} {:<15} funded {:>14}  collateral {}",
        loan.id,
        spaced(&loan.state),
        loan.principal.amount,
        loan.principal.symbol,
        loan.rate_percent,
        count(loan.term_days, "day"),
        schedule_words(&loan.schedule),
        loan.funded.to_string(),
        loan.collateral
            .as_ref()
            .map_or_else(|| "none".into(), Money::to_string)
    );
}

fn print_loan(loan: &LoanView, now_ms: u64) {
    let when = |ms| moment(ms, now_ms);
    print_loan_line(loan);
    println!("  borrower:        {}", loan.borrower);
    println!("  minimum fill:    {}", loan.min_fill);
    if loan.state == "funding" {
        println!("  funding until:   {}", when(loan.funding_deadline_ms));
    }
    if loan.start_ms > 0 {
        println!("  disbursed at:    {}", when(loan.start_ms));
    }
    if loan.instalments.is_empty() {
        for (index, due) in loan.dues.iter().enumerate() {
            println!(
                "  due {:>3}:         principal through {} by {}",
                index + 1,
                due.principal_through,
                when(due.at_ms)
            );
        }
    }
    for i in &loan.instalments {
        let status = match i.status.as_str() {
            "due" => "due now",
            other => other,
        };
        println!(
            "  payment {:>3}:     {} ({} interest, {} principal) by {}: {status}",
            i.number,
            i.payment,
            i.interest,
            i.principal,
            when(i.due_ms)
        );
    }
    println!("  principal paid:  {}", loan.principal_paid);
    println!("  repaid in all:   {}", loan.paid_in);
    if let Some(due) = &loan.amount_due {
        println!(
            "  owed now:        {} (late fee {}, interest {}, principal due {}); {} outstanding",
            due.now, due.late_fee, due.interest, due.principal_due, due.principal_outstanding
        );
    }
    if let Some(due) = &loan.amount_due {
        println!(
            "  closes with:     {} at the last block; interest runs until the payment's block, \
             so `--all` is what closes it (the ledger takes only what is owed)",
            due.payoff
        );
    }
    if let Some(next) = loan.next_due_ms {
        println!("  next due:        {}", when(next));
    }
    if let (Some(at), Some(due)) = (loan.default_allowed_ms, loan.next_due_ms) {
        println!(
            "  default:         anyone may declare it in default from {} if the payment due {} \
             is still unpaid",
            when(at),
            utc(due)
        );
    }
    if let Some(seized) = &loan.collateral_seized {
        println!(
            "  outcome:         in default: the collateral, {seized}, was seized for the lenders \
             pro rata; later repayments still reach them"
        );
    }
    match loan.state.as_str() {
        "repaid" => println!(
            "  outcome:         repaid in full: {} went to the lenders pro rata{}",
            loan.paid_in,
            loan.collateral
                .as_ref()
                .map_or_else(String::new, |c| format!(
                    ", the collateral {c} back to the borrower"
                ))
        ),
        "cancelled" | "expired" => println!(
            "  outcome:         {}: the lenders' funds and the collateral went back",
            loan.state
        ),
        _ => {}
    }
    if let Some(closed) = loan.closed_ms {
        println!("  closed at:       {}", when(closed));
    }
    for position in &loan.lenders {
        println!(
            "  lender {}: lent {}, claimed {}, claimable {}{}",
            position.lender,
            position.lent,
            position.claimed,
            position.claimable,
            position
                .collateral_claimable
                .as_ref()
                .filter(|c| c.minor() > 0)
                .map_or_else(String::new, |c| format!(" and {c} collateral"))
        );
        if let Some(claimed) = position
            .collateral_claimed
            .as_ref()
            .filter(|c| c.minor() > 0)
        {
            println!("    collateral claimed: {claimed}");
        }
    }
}

fn print_credit_offer(offer: &CreditOfferView) {
    println!(
        "#{:<5} {:>14} {:<6} (min {}) {:>6}% {:>9} {:<15} collateral/unit {}  lender {}",
        offer.id,
        offer.remaining.amount,
        offer.remaining.symbol,
        offer.min_amount.amount,
        offer.rate_percent,
        count(offer.term_days, "day"),
        schedule_words(&offer.schedule),
        offer
            .collateral_per_unit
            .as_ref()
            .map_or_else(|| "none".into(), Money::to_string),
        offer.lender
    );
}

/// Collateral given as `[amount, symbol]`.
async fn collateral(
    rpc: &RpcClient,
    pair: Option<&[String]>,
) -> Result<Option<Collateral>, String> {
    match pair {
        Some([amount, symbol]) => {
            let (asset, amount) = parse_amount(rpc, amount, symbol).await?;
            Ok(Some(Collateral {
                asset: AssetId(asset.asset),
                amount,
            }))
        }
        Some(_) => Err("collateral is an amount and a symbol, e.g. 500 EQA".into()),
        None => Ok(None),
    }
}

pub fn run(global: &Global, command: LendingCommand) -> Result<(), CliError> {
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        match command {
            LendingCommand::List(args) => {
                for (text, what) in [(&args.borrower, "borrower"), (&args.lender, "lender")] {
                    if let Some(text) = text {
                        parse_address(text).map_err(|e| format!("--{what}: {e}"))?;
                    }
                }
                let query = LoanQuery {
                    state: args.state,
                    asset: args.asset,
                    borrower: args.borrower,
                    lender: args.lender,
                    sort: args.sort,
                    limit: None,
                    offset: None,
                    before: args.before,
                };
                let loans = rpc.loans(&query).await.map_err(CliError::rpc)?;
                show_list(global, &loans, "no loans match", print_loan_line);
                Ok(())
            }
            LendingCommand::Offers { asset, sort } => {
                let query = CreditOfferQuery {
                    asset,
                    sort,
                    ..CreditOfferQuery::default()
                };
                let offers = rpc.credit_offers(&query).await.map_err(CliError::rpc)?;
                show_list(global, &offers, "no credit offers", print_credit_offer);
                Ok(())
            }
            LendingCommand::Show { id } => {
                let loan = loan_of(&rpc, id).await?;
                let now_ms = chain_time_ms(&rpc).await;
                show(global, &loan, |l| print_loan(l, now_ms));
                Ok(())
            }
            command => {
                let call = lending_call(&rpc, command).await?;
                submit(global, &rpc, Call::Lending(call)).await
            }
        }
    })
}

/// The transaction a lending command stands for.
pub async fn lending_call(rpc: &RpcClient, command: LendingCommand) -> Result<LendingCall, String> {
    let loan_ref = |id| LoanRef { loan: id };
    Ok(match command {
        LendingCommand::Request(args) => {
            let (asset, principal) = parse_amount(rpc, &args.principal, &args.symbol).await?;
            let min_fill = match &args.min_fill {
                Some(text) => parse_amount(rpc, text, &args.symbol).await?.1,
                None => principal,
            };
            let funding_days = days(args.funding_days, "--funding-days")?;
            let schedule = parse_schedule(&args.schedule)?;
            check_terms(rpc, principal, args.apr_bps, args.term_days, schedule).await?;
            let now = block_time_ms(rpc).await?;
            LendingCall::RequestLoan(RequestLoan {
                asset: AssetId(asset.asset),
                principal,
                rate_bps: args.apr_bps,
                term_days: args.term_days,
                schedule,
                collateral: collateral(rpc, args.collateral.as_deref()).await?,
                funding_deadline_ms: now.saturating_add(funding_days.saturating_mul(DAY_MS)),
                min_fill,
            })
        }
        LendingCommand::Offer(args) => {
            let (asset, amount) = parse_amount(rpc, &args.amount, &args.symbol).await?;
            let min_amount = match &args.min {
                Some(text) => parse_amount(rpc, text, &args.symbol).await?.1,
                None => amount,
            };
            let per_unit = collateral(rpc, args.collateral_per_unit.as_deref()).await?;
            let expires_days = days(args.expires_days, "--expires-days")?;
            let schedule = parse_schedule(&args.schedule)?;
            check_terms(rpc, amount, args.apr_bps, args.term_days, schedule).await?;
            let now = block_time_ms(rpc).await?;
            LendingCall::OfferCredit(OfferCredit {
                asset: AssetId(asset.asset),
                amount,
                min_amount,
                rate_bps: args.apr_bps,
                term_days: args.term_days,
                schedule,
                collateral_asset: per_unit.map(|c| c.asset),
                collateral_per_unit: per_unit.map_or(0, |c| c.amount),
                expires_ms: now.saturating_add(expires_days.saturating_mul(DAY_MS)),
            })
        }
        LendingCommand::Fund { id, amount } => {
            let loan = loan_of(rpc, id).await?;
            LendingCall::Fund(Fund {
                loan: id,
                amount: amount_like(rpc, &amount, &loan.principal).await?,
            })
        }
        LendingCommand::Withdraw { id } => LendingCall::Withdraw(loan_ref(id)),
        LendingCommand::Accept { id } => LendingCall::Accept(loan_ref(id)),
        LendingCommand::TakeOffer {
            offer,
            amount,
            collateral,
        } => {
            let view = credit_offer_of(rpc, offer).await?;
            let collateral_amount = match (&collateral, &view.collateral_per_unit) {
                (Some(text), Some(per_unit)) => amount_like(rpc, text, per_unit).await?,
                (Some(_), None) => {
                    return Err(format!("credit offer #{offer} asks for no collateral"));
                }
                (None, _) => 0,
            };
            LendingCall::TakeCredit(TakeCredit {
                offer,
                amount: amount_like(rpc, &amount, &view.remaining).await?,
                collateral_amount,
            })
        }
        LendingCommand::Repay { id, amount, all } => {
            let loan = loan_of(rpc, id).await?;
            let amount = match (amount, all) {
                (Some(text), false) => amount_like(rpc, &text, &loan.principal).await?,
                (None, true) => {
                    let due = loan.amount_due.as_ref().ok_or_else(|| {
                        format!("loan #{id} is {}; nothing to repay", spaced(&loan.state))
                    })?;
                    // Everything owed at the last block, plus a day of interest as margin for
                    // the blocks until inclusion; the ledger takes only what is owed.
                    let owed = due
                        .now
                        .minor()
                        .saturating_add(due.principal_outstanding.minor())
                        .saturating_sub(due.principal_due.minor());
                    let day_interest = due
                        .principal_outstanding
                        .minor()
                        .saturating_mul(u128::from(loan.rate_bps))
                        / (10_000 * 365)
                        + 1;
                    owed.saturating_add(day_interest)
                }
                _ => return Err("give an amount to repay, or --all".into()),
            };
            LendingCall::Repay(Repay { loan: id, amount })
        }
        LendingCommand::Claim { id } => LendingCall::Claim(loan_ref(id)),
        LendingCommand::Expire { id } => LendingCall::Expire(loan_ref(id)),
        LendingCommand::Default { id } => LendingCall::DeclareDefault(loan_ref(id)),
        LendingCommand::Cancel { id } => LendingCall::CancelRequest(loan_ref(id)),
        LendingCommand::CancelOffer { id } => LendingCall::CancelCredit(CreditRef { offer: id }),
        LendingCommand::List(_) | LendingCommand::Offers { .. } | LendingCommand::Show { .. } => {
            return Err(crate::cli::market::not_a_transaction());
        }
    })
}
