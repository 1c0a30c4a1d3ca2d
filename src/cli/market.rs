//! Market commands: offers, arbitrators, profiles, reputation and the market's rules. Trades
//! and their chat are in [`crate::cli::trade`].

pub use crate::cli::trade::{TradeCommand, trade, trade_call};
use crate::cli::{
    Global,
    chain::{
        account_or_own, chain_time_ms, connect, parse_amount, runtime, show, show_list, submit,
        submit_with,
    },
    error::CliError,
    input::{self, text},
    keys,
    market_view::{
        print_arbitrator, print_currencies, print_methods, print_offer, print_offer_line,
        print_params, print_reputation,
    },
    words,
};
use clap::{Args, Subcommand};
use rpc::{
    RpcClient,
    market::{
        FIAT_DECIMALS, MarketParamsView, MethodView, OfferQuery, OfferView, TradeView,
        parse_method, parse_side,
    },
    views::Money,
};
use types::{
    AssetId, Call, amount,
    market::{
        CreateOffer, MAX_OFFER_METHODS, MarketCall, Nothing, OfferRef, Party, PaymentMethod,
        RegisterArbitrator, Rule, SetProfile, UpdateOffer,
    },
};

#[derive(Debug, Subcommand)]
pub enum OfferCommand {
    /// Offer to sell or buy an asset for fiat:
    /// `equa offer create sell 500 USDX --min 10 --price 0.95 --fiat EUR --method SEPA`.
    Create(CreateArgs),
    /// The open offers, best price first; filter with the options.
    List(ListArgs),
    /// One offer.
    Show { id: u64 },
    /// Change an offer's price, limits, methods, window or terms (the rest stays).
    Update(UpdateArgs),
    /// Withdraw an offer; what is not in a live trade returns to you.
    Cancel { id: u64 },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// "sell" (you sell the asset for fiat) or "buy".
    side: String,
    /// The most that can be traded, as a decimal amount.
    #[arg(allow_negative_numbers = true)]
    max_amount: String,
    /// The asset's symbol.
    symbol: String,
    /// The smallest take (default: the whole amount).
    #[arg(long, allow_negative_numbers = true)]
    min: Option<String>,
    /// Fiat per whole unit of the asset, for example 0.95.
    #[arg(long, allow_negative_numbers = true)]
    price: String,
    /// ISO 4217 currency code, in any case (`equa market currencies` lists them).
    #[arg(long)]
    fiat: String,
    /// A payment method: a registry code (`equa market methods`) or "custom:<text>";
    /// repeat for several.
    #[arg(long = "method", required = true)]
    methods: Vec<String>,
    /// How long the buyer has to pay, in minutes (15 minutes to 8 days; a payment method may
    /// give the buyer longer).
    #[arg(long, default_value_t = 60)]
    window_mins: u32,
    #[arg(long, default_value = "")]
    terms: String,
    /// Each side's security deposit as a share of the amount: 15% or 1500 basis points.
    #[arg(long, default_value = "15%", value_parser = input::basis_points_u16, allow_hyphen_values = true)]
    deposit_bps: u16,
    /// Takers need at least this many completed trades.
    #[arg(long, default_value_t = 0)]
    min_taker_trades: u32,
    /// Takers need at least this merchant tier (0 = anyone).
    #[arg(long, default_value_t = 0)]
    min_taker_tier: u8,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// "sell" or "buy": the maker's side.
    #[arg(long)]
    side: Option<String>,
    #[arg(long)]
    asset: Option<String>,
    #[arg(long)]
    fiat: Option<String>,
    #[arg(long)]
    method: Option<String>,
    /// Offers that can fill this amount (needs --asset).
    #[arg(long, allow_negative_numbers = true)]
    amount: Option<String>,
    #[arg(long, allow_negative_numbers = true)]
    min_price: Option<String>,
    #[arg(long, allow_negative_numbers = true)]
    max_price: Option<String>,
    #[arg(long)]
    maker: Option<String>,
    #[arg(long)]
    limit: Option<u32>,
    #[arg(long)]
    offset: Option<u32>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    id: u64,
    #[arg(long, allow_negative_numbers = true)]
    price: Option<String>,
    #[arg(long, allow_negative_numbers = true)]
    min: Option<String>,
    #[arg(long, allow_negative_numbers = true)]
    max: Option<String>,
    #[arg(long = "method")]
    methods: Vec<String>,
    #[arg(long)]
    window_mins: Option<u32>,
    #[arg(long)]
    terms: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ArbitratorCommand {
    /// Offer to arbitrate disputes, bonding EQA.
    Register {
        /// The bond, in EQA.
        #[arg(long, allow_negative_numbers = true)]
        bond: String,
        /// Your fee as a share of the traded amount: 1% or 100 basis points.
        #[arg(long, value_parser = input::basis_points_u16, allow_hyphen_values = true)]
        fee_bps: u16,
        /// Languages you work in, for example "en,de".
        #[arg(long)]
        languages: String,
    },
    /// Stop taking new disputes; the bond can be withdrawn after the cooldown.
    Unregister,
    /// Take the bond back once unregistered, without open cases, after the cooldown.
    WithdrawBond,
    /// Decide a dispute you were assigned: what the buyer gets of the escrowed amount (the
    /// seller gets the rest) and who is at fault (pays your fee from their deposit).
    Rule {
        trade: u64,
        #[arg(long, allow_negative_numbers = true)]
        to_buyer: String,
        /// "buyer" or "seller".
        #[arg(long)]
        at_fault: String,
    },
    /// Registered arbitrators with their statistics.
    List,
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Publish your display name and your wallet's chat key (needed for trade chat).
    Set {
        #[arg(long)]
        name: String,
    },
    /// An account's profile and reputation (yours by default).
    Show { address: Option<String> },
}

#[derive(Debug, Subcommand)]
pub enum MarketCommand {
    /// The payment methods of the registry, with their windows and new-account limits.
    Methods,
    /// The currencies offers can be in, each with the payment methods that pay in it.
    Currencies,
    /// The market's rules: deposits, windows, arbitration, tiers.
    Params,
}

fn fiat_price(text: &str) -> Result<u128, String> {
    amount::parse(text, FIAT_DECIMALS).map_err(|e| match e {
        amount::AmountError::TooPrecise { found, .. } => format!(
            "price {text} has {found} decimal places; a fiat price has at most {FIAT_DECIMALS}"
        ),
        other => format!("price: {other}"),
    })
}

pub(crate) fn codes(params: &MarketParamsView) -> impl Iterator<Item = &str> {
    params.methods.iter().map(|m| m.code.as_str())
}

/// The payment methods of an offer, checked as the ledger will: at most
/// [`MAX_OFFER_METHODS`], none twice.
fn methods(params: &MarketParamsView, texts: &[String]) -> Result<Vec<PaymentMethod>, String> {
    if texts.len() > MAX_OFFER_METHODS {
        return Err(format!(
            "an offer takes at most {MAX_OFFER_METHODS} payment methods; this one lists {}",
            texts.len()
        ));
    }
    let methods = texts
        .iter()
        .map(|t| parse_method(codes(params), t))
        .collect::<Result<Vec<_>, _>>()?;
    for (index, method) in methods.iter().enumerate() {
        if methods[..index].contains(method) {
            return Err(format!(
                "the payment method {} is listed twice",
                texts[index]
            ));
        }
    }
    Ok(methods)
}

pub(crate) async fn market_params(rpc: &RpcClient) -> Result<MarketParamsView, CliError> {
    rpc.market_params().await.map_err(CliError::rpc)
}

pub(crate) async fn trade_of(rpc: &RpcClient, id: u64) -> Result<TradeView, CliError> {
    rpc.trade(id).await.map_err(CliError::rpc)?.ok_or_else(|| {
        CliError::not_found(format!(
            "no trade #{id}; `equa trade list` shows your trades"
        ))
    })
}

pub(crate) async fn offer_of(rpc: &RpcClient, id: u64) -> Result<OfferView, CliError> {
    rpc.offer(id).await.map_err(CliError::rpc)?.ok_or_else(|| {
        CliError::not_found(format!(
            "no open offer #{id}; `equa offer list` shows the open offers"
        ))
    })
}

/// How a method of an offer is written on the command line: its code, or "custom:<text>".
pub(crate) fn method_word(method: &MethodView) -> String {
    match method.index {
        Some(_) => method.code.clone(),
        None => format!("custom:{}", method.name),
    }
}

/// The registry indices of `methods` (none for free-text ones).
fn indices(methods: &[PaymentMethod]) -> Vec<Option<u16>> {
    methods
        .iter()
        .map(|m| match m {
            PaymentMethod::Registered(index) => Some(*index),
            PaymentMethod::Custom(_) => None,
        })
        .collect()
}

/// A payment window given in minutes, checked against the market's bounds before signing.
fn window_secs(params: &MarketParamsView, minutes: u32) -> Result<u32, String> {
    let secs = minutes.saturating_mul(60);
    let (min, max) = (
        params.min_payment_window_secs,
        params.max_payment_window_secs,
    );
    if !(min..=max).contains(&secs) {
        return Err(format!(
            "--window-mins {minutes}: the payment window must be between {} and {} \
             ({} to {} minutes)",
            words::duration_secs(u64::from(min)),
            words::duration_secs(u64::from(max)),
            min / 60,
            max / 60
        ));
    }
    Ok(secs)
}

/// Parses `text` in the decimals of the asset `money` is in.
async fn amount_in(rpc: &RpcClient, text: &str, money: &Money) -> Result<u128, String> {
    Ok(parse_amount(rpc, text, &money.symbol).await?.1)
}

/// `text` in the asset of `current`, or `current` itself when absent.
async fn amount_or(rpc: &RpcClient, text: Option<String>, current: &Money) -> Result<u128, String> {
    match text {
        Some(text) => amount_in(rpc, &text, current).await,
        None => Ok(current.minor()),
    }
}

pub fn offer(global: &Global, command: OfferCommand) -> Result<(), CliError> {
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        match command {
            OfferCommand::List(args) => {
                let fiat = args.fiat.as_deref().map(input::fiat).transpose()?;
                let query = OfferQuery {
                    side: args.side,
                    asset: args.asset,
                    fiat: fiat.map(|f| f.to_string()),
                    method: args.method,
                    amount: args.amount,
                    min_price: args.min_price,
                    max_price: args.max_price,
                    maker: args.maker,
                    limit: args.limit,
                    offset: args.offset,
                };
                let offers = rpc.offers(&query).await.map_err(CliError::rpc)?;
                let mut empty = "no open offers match".to_string();
                if let Some(fiat) = &fiat
                    && offers.is_empty()
                {
                    let params = market_params(&rpc).await?;
                    if !crate::cli::market_view::currencies(&params).contains_key(fiat.as_str()) {
                        empty = format!(
                            "no open offers match; no payment method of the market pays in \
                             {fiat}: {}",
                            input::CURRENCIES_HINT
                        );
                    }
                }
                show_list(global, &offers, &empty, print_offer_line);
                Ok(())
            }
            OfferCommand::Show { id } => {
                let offer = offer_of(&rpc, id).await?;
                show(global, &offer, print_offer);
                Ok(())
            }
            command => {
                let call = offer_call(&rpc, command).await?;
                submit(global, &rpc, Call::Market(call)).await
            }
        }
    })
}

/// The error for a query given where a transaction is expected.
pub fn not_a_transaction() -> String {
    "this command is a query, not a transaction".into()
}

/// The transaction an offer command stands for.
pub async fn offer_call(rpc: &RpcClient, command: OfferCommand) -> Result<MarketCall, String> {
    Ok(match command {
        OfferCommand::Create(args) => {
            let side = parse_side(&args.side)?;
            let fiat = input::fiat(&args.fiat)?;
            let (asset, max_amount) = parse_amount(rpc, &args.max_amount, &args.symbol).await?;
            let min_amount = match &args.min {
                Some(min) => parse_amount(rpc, min, &args.symbol).await?.1,
                None => max_amount,
            };
            let params = market_params(rpc).await?;
            let methods = methods(&params, &args.methods)?;
            input::check_currency(&fiat, &params.methods, &indices(&methods))?;
            let call = CreateOffer {
                side,
                asset: AssetId(asset.asset),
                fiat,
                price: fiat_price(&args.price)?,
                min_amount,
                max_amount,
                methods,
                payment_window_secs: window_secs(&params, args.window_mins)?,
                terms: text(&args.terms, "the terms")?,
                buyer_deposit_bps: args.deposit_bps,
                seller_deposit_bps: args.deposit_bps,
                min_taker_trades: args.min_taker_trades,
                min_taker_tier: args.min_taker_tier,
            };
            MarketCall::CreateOffer(call)
        }
        OfferCommand::Update(args) => {
            let offer = offer_of(rpc, args.id).await?;
            let params = market_params(rpc).await?;
            let current_methods: Vec<String> = offer.methods.iter().map(method_word).collect();
            let methods = methods(
                &params,
                if args.methods.is_empty() {
                    &current_methods
                } else {
                    &args.methods
                },
            )?;
            let fiat = input::fiat(&offer.price.currency)?;
            input::check_currency(&fiat, &params.methods, &indices(&methods))?;
            let call = UpdateOffer {
                offer: offer.id,
                price: match &args.price {
                    Some(price) => fiat_price(price)?,
                    None => offer.price.minor_units.parse().unwrap_or(0),
                },
                min_amount: amount_or(rpc, args.min, &offer.min_amount).await?,
                max_amount: amount_or(rpc, args.max, &offer.max_amount).await?,
                methods,
                payment_window_secs: match args.window_mins {
                    Some(minutes) => window_secs(&params, minutes)?,
                    None => offer.payment_window_secs,
                },
                terms: text(args.terms.as_deref().unwrap_or(&offer.terms), "the terms")?,
            };
            MarketCall::UpdateOffer(call)
        }
        OfferCommand::Cancel { id } => MarketCall::CancelOffer(OfferRef { offer: id }),
        OfferCommand::List(_) | OfferCommand::Show { .. } => return Err(not_a_transaction()),
    })
}

pub fn arbitrator(global: &Global, command: ArbitratorCommand) -> Result<(), CliError> {
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        match command {
            ArbitratorCommand::List => {
                let list = rpc.arbitrators().await.map_err(CliError::rpc)?;
                let now_ms = chain_time_ms(&rpc).await;
                show_list(global, &list, "no arbitrators registered", |a| {
                    print_arbitrator(a, now_ms)
                });
                Ok(())
            }
            command => {
                let call = arbitrator_call(&rpc, command).await?;
                submit(global, &rpc, Call::Market(call)).await
            }
        }
    })
}

/// The transaction an arbitrator command stands for.
pub async fn arbitrator_call(
    rpc: &RpcClient,
    command: ArbitratorCommand,
) -> Result<MarketCall, String> {
    Ok(match command {
        ArbitratorCommand::Register {
            bond,
            fee_bps,
            languages,
        } => MarketCall::RegisterArbitrator(RegisterArbitrator {
            bond: parse_amount(rpc, &bond, "EQA").await?.1,
            fee_bps,
            languages: text(&languages, "the languages")?,
        }),
        ArbitratorCommand::Unregister => MarketCall::UnregisterArbitrator(Nothing),
        ArbitratorCommand::WithdrawBond => MarketCall::WithdrawBond(Nothing),
        ArbitratorCommand::Rule {
            trade,
            to_buyer,
            at_fault,
        } => {
            let view = trade_of(rpc, trade).await?;
            let at_fault = match at_fault.as_str() {
                "buyer" => Party::Buyer,
                "seller" => Party::Seller,
                other => return Err(format!("--at-fault is buyer or seller, not \"{other}\"")),
            };
            MarketCall::Rule(Rule {
                trade,
                amount_to_buyer: amount_in(rpc, &to_buyer, &view.amount).await?,
                at_fault,
            })
        }
        ArbitratorCommand::List => return Err(not_a_transaction()),
    })
}

pub fn profile(global: &Global, command: ProfileCommand) -> Result<(), CliError> {
    match command {
        ProfileCommand::Set { name } => {
            let rpc = connect(global)?;
            let wallet = keys::unlock_own(global)?;
            let call = profile_call(&wallet, &name)?;
            runtime()?.block_on(submit_with(global, &rpc, &wallet, Call::Market(call)))
        }
        ProfileCommand::Show { address } => reputation(global, address.as_deref()),
    }
}

/// Publishing a display name with `wallet`'s chat key.
pub fn profile_call(wallet: &client::keys::Wallet, name: &str) -> Result<MarketCall, String> {
    Ok(MarketCall::SetProfile(SetProfile {
        chat_key: wallet.chat_public_key(),
        name: text(name, "the name")?,
    }))
}

pub fn reputation(global: &Global, address: Option<&str>) -> Result<(), CliError> {
    let account = account_or_own(global, address)?;
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        let view = rpc.reputation(&account).await.map_err(CliError::rpc)?;
        show(global, &view, print_reputation);
        Ok(())
    })
}

pub fn market(global: &Global, command: MarketCommand) -> Result<(), CliError> {
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        let params = market_params(&rpc).await?;
        match command {
            MarketCommand::Methods => show(global, &params.methods, |_| print_methods(&params)),
            MarketCommand::Currencies => show(
                global,
                &crate::cli::market_view::currencies(&params),
                |_| print_currencies(&params),
            ),
            MarketCommand::Params => show(global, &params, print_params),
        }
        Ok(())
    })
}
