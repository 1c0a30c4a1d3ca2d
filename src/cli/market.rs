//! Market commands: offers, trades with their encrypted chat, arbitrators, profiles and
//! reputation.

use crate::cli::{
    Global,
    chain::{
        account_or_own, chain_time_ms, connect, parse_amount, print_json, runtime, show, show_list,
        submit, submit_with,
    },
    error::CliError,
    input::{self, text},
    keys,
    market_view::{
        print_arbitrator, print_currencies, print_methods, print_offer, print_offer_line,
        print_params, print_reputation, print_trade, print_trade_line,
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
        CreateOffer, MarkPaid, MarketCall, Nothing, OfferRef, Party, PaymentMethod, PostMessage,
        Rate, RegisterArbitrator, RevealKey, Rule, SetProfile, TakeOffer, TradeRef, UpdateOffer,
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
pub enum TradeCommand {
    /// Take an offer: `equa trade take 7 25 USDX --method SEPA` (the method may be left out
    /// when the offer has only one).
    Take {
        offer: u64,
        #[arg(allow_negative_numbers = true)]
        amount: String,
        symbol: String,
        #[arg(long)]
        method: Option<String>,
        /// The revision of the offer's terms you agreed to (`equa offer show` prints it); the
        /// take fails if the maker has changed the offer since. Default: the revision now.
        #[arg(long)]
        revision: Option<u64>,
    },
    /// As buyer: say you have paid the fiat. `--reference` commits to your payment reference.
    Paid {
        id: u64,
        #[arg(long)]
        reference: Option<String>,
    },
    /// As seller: release the escrow to the buyer once the fiat has arrived.
    Release { id: u64 },
    /// As buyer, before paying: cancel the trade. After the payment window this settles as a
    /// timeout: your deposit goes to the seller.
    Cancel { id: u64 },
    /// As seller, after the payment window: end an unpaid trade and take the buyer's deposit.
    ClaimTimeout { id: u64 },
    /// Open a dispute (seller after payment; buyer after the release window). The arbitrator
    /// is picked at the start of the next block.
    Dispute { id: u64 },
    /// Hand a dispute to another arbitrator once the ruling window has passed (or ask again
    /// for one when nobody holds it); with nobody eligible after the deadline, the dispute
    /// ends without a ruling.
    Reassign { id: u64 },
    /// The trade's encrypted chat.
    #[command(subcommand)]
    Chat(ChatCommand),
    /// Give the arbitrator of a disputed trade the key to its conversation.
    RevealKey { id: u64 },
    /// Rate the other party from 1 to 5 stars after the trade ends.
    Rate { id: u64, stars: u8 },
    /// One trade, with its deadlines and what each party can do next.
    Show { id: u64 },
    /// Your trades (or another account's), newest first.
    List {
        #[arg(long)]
        account: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ChatCommand {
    /// Send a message, encrypted for the other party.
    Send { id: u64, text: String },
    /// Read the conversation, decrypted for this wallet.
    Read { id: u64 },
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

fn codes(params: &MarketParamsView) -> impl Iterator<Item = &str> {
    params.methods.iter().map(|m| m.code.as_str())
}

fn methods(params: &MarketParamsView, texts: &[String]) -> Result<Vec<PaymentMethod>, String> {
    texts
        .iter()
        .map(|t| parse_method(codes(params), t))
        .collect()
}

async fn market_params(rpc: &RpcClient) -> Result<MarketParamsView, CliError> {
    rpc.market_params().await.map_err(CliError::rpc)
}

async fn trade_of(rpc: &RpcClient, id: u64) -> Result<TradeView, CliError> {
    rpc.trade(id).await.map_err(CliError::rpc)?.ok_or_else(|| {
        CliError::not_found(format!(
            "no trade #{id}; `equa trade list` shows your trades"
        ))
    })
}

async fn offer_of(rpc: &RpcClient, id: u64) -> Result<OfferView, CliError> {
    rpc.offer(id).await.map_err(CliError::rpc)?.ok_or_else(|| {
        CliError::not_found(format!(
            "no open offer #{id}; `equa offer list` shows the open offers"
        ))
    })
}

/// How a method of an offer is written on the command line: its code, or "custom:<text>".
fn method_word(method: &MethodView) -> String {
    match method.index {
        Some(_) => method.code.clone(),
        None => format!("custom:{}", method.name),
    }
}

/// The payment method of a take: the one named (which the offer must accept), or the offer's
/// only one; an offer with several needs a choice, and the error lists them.
fn take_method(
    params: &MarketParamsView,
    offer: &OfferView,
    named: Option<&str>,
) -> Result<PaymentMethod, String> {
    let listed = || {
        offer
            .methods
            .iter()
            .map(|m| format!("{} ({})", method_word(m), m.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let method = match (named, offer.methods.as_slice()) {
        (Some(text), _) => parse_method(codes(params), text)?,
        (None, [only]) => return parse_method(codes(params), &method_word(only)),
        (None, _) => {
            return Err(format!(
                "offer #{} accepts several payment methods; choose one with --method: {}",
                offer.id,
                listed()
            ));
        }
    };
    let offered = offer
        .methods
        .iter()
        .any(|m| parse_method(codes(params), &method_word(m)).is_ok_and(|parsed| parsed == method));
    if !offered {
        return Err(format!(
            "offer #{} does not accept {}; it accepts {}",
            offer.id,
            named.unwrap_or_default(),
            listed()
        ));
    }
    Ok(method)
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

pub fn trade(global: &Global, command: TradeCommand) -> Result<(), CliError> {
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        match command {
            TradeCommand::Chat(ChatCommand::Read { id }) => {
                let wallet = keys::unlock_own(global)?;
                let trade = trade_of(&rpc, id).await?;
                let chat = chat_of(&rpc, id).await?;
                let me = wallet.account().to_string();
                let key =
                    client::chat::conversation_for(&wallet.chat_secret(), &me, &trade, &chat)?;
                let opened = client::chat::open_all(&key, &chat);
                if global.json {
                    let list: Vec<_> = opened
                        .iter()
                        .map(|m| {
                            serde_json::json!({
                                "index": m.index, "sender": m.sender, "at_ms": m.at_ms,
                                "text": m.text.as_ref().ok(),
                                "error": m.text.as_ref().err(),
                            })
                        })
                        .collect();
                    print_json(&list);
                } else if opened.is_empty() {
                    println!("no messages yet");
                } else {
                    for message in opened {
                        let who = if message.sender == trade.buyer {
                            "buyer"
                        } else if message.sender == trade.seller {
                            "seller"
                        } else {
                            "arbitrator"
                        };
                        match message.text {
                            Ok(text) => println!("[{}] {who}: {text}", message.index),
                            Err(e) => println!("[{}] {who}: (cannot open: {e})", message.index),
                        }
                    }
                }
                Ok(())
            }
            TradeCommand::Show { id } => {
                let trade = trade_of(&rpc, id).await?;
                let now_ms = chain_time_ms(&rpc).await;
                show(global, &trade, |t| print_trade(t, now_ms));
                Ok(())
            }
            TradeCommand::List { account } => {
                let account = account_or_own(global, account.as_deref())?;
                let trades = rpc.trades(&account).await.map_err(CliError::rpc)?;
                show_list(global, &trades, "no trades", print_trade_line);
                Ok(())
            }
            command => {
                let wallet = keys::unlock_own(global)?;
                let call = trade_call(&rpc, &wallet, command).await?;
                submit_with(global, &rpc, &wallet, Call::Market(call)).await
            }
        }
    })
}

/// The transaction a trade command stands for, signed later by `wallet` (whose keys seal chat).
pub async fn trade_call(
    rpc: &RpcClient,
    wallet: &client::keys::Wallet,
    command: TradeCommand,
) -> Result<MarketCall, String> {
    let reference = |id| TradeRef { trade: id };
    Ok(match command {
        TradeCommand::Take {
            offer,
            amount,
            symbol,
            method,
            revision,
        } => {
            let (_, amount) = parse_amount(rpc, &amount, &symbol).await?;
            let params = market_params(rpc).await?;
            // The take is bound to one version of the terms: the one the taker saw, or the one
            // read now. The ledger refuses it if the maker changes the offer before it lands.
            let current = offer_of(rpc, offer).await?;
            let method = take_method(&params, &current, method.as_deref())?;
            let revision = match revision {
                Some(seen) if seen != current.revision => {
                    return Err(format!(
                        "offer #{offer} has changed since revision {seen} (it is at revision {}, \
                         price {} {}): read it again with `equa offer show {offer}`",
                        current.revision, current.price.amount, current.price.currency
                    ));
                }
                Some(seen) => seen,
                None => current.revision,
            };
            MarketCall::TakeOffer(TakeOffer {
                offer,
                revision,
                amount,
                method,
            })
        }
        TradeCommand::Paid { id, reference } => MarketCall::MarkPaid(MarkPaid {
            trade: id,
            payer_commitment: reference
                .map(|r| types::hash(b"EQUA_PAYMENT_REFERENCE_V1", &[r.trim().as_bytes()]).0),
        }),
        TradeCommand::Release { id } => MarketCall::Release(reference(id)),
        TradeCommand::Cancel { id } => MarketCall::CancelTrade(reference(id)),
        TradeCommand::ClaimTimeout { id } => MarketCall::ClaimTimeout(reference(id)),
        TradeCommand::Dispute { id } => MarketCall::OpenDispute(reference(id)),
        TradeCommand::Reassign { id } => MarketCall::Reassign(reference(id)),
        TradeCommand::Chat(ChatCommand::Send { id, text }) => {
            let trade = trade_of(rpc, id).await?;
            let chat = chat_of(rpc, id).await?;
            let me = wallet.account().to_string();
            if text.trim().is_empty() {
                return Err("a chat message cannot be empty".into());
            }
            let key = client::chat::conversation_for(&wallet.chat_secret(), &me, &trade, &chat)?;
            let ciphertext = key.seal(&wallet.account(), text.as_bytes());
            // The ledger bounds the sealed message; sealing adds a fixed overhead to the text.
            let overhead = ciphertext.len().saturating_sub(text.len());
            if ciphertext.len() > types::market::MAX_MESSAGE_BYTES {
                return Err(input::too_long(
                    "the message",
                    &text,
                    types::market::MAX_MESSAGE_BYTES.saturating_sub(overhead),
                ));
            }
            MarketCall::PostMessage(PostMessage {
                trade: id,
                ciphertext,
            })
        }
        TradeCommand::RevealKey { id } => {
            let trade = trade_of(rpc, id).await?;
            let chat = chat_of(rpc, id).await?;
            let me = wallet.account().to_string();
            let arbitrator_key = chat
                .arbitrator_key
                .as_ref()
                .and_then(|k| hex::decode(k).ok())
                .and_then(|k| <[u8; 32]>::try_from(k).ok())
                .ok_or("the trade has no arbitrator with a published chat key yet")?;
            let key = client::chat::conversation_for(&wallet.chat_secret(), &me, &trade, &chat)?;
            MarketCall::RevealKey(RevealKey {
                trade: id,
                encrypted_key: key.reveal_to(&arbitrator_key, &client::chat::trade_context(id)),
            })
        }
        TradeCommand::Rate { id, stars } => {
            if !(1..=5).contains(&stars) {
                return Err(format!("a rating is 1 to 5 stars, not {stars}"));
            }
            MarketCall::Rate(Rate { trade: id, stars })
        }
        TradeCommand::Chat(ChatCommand::Read { .. })
        | TradeCommand::Show { .. }
        | TradeCommand::List { .. } => return Err(not_a_transaction()),
    })
}

async fn chat_of(rpc: &RpcClient, id: u64) -> Result<rpc::market::ChatView, CliError> {
    rpc.chat(id, 0)
        .await
        .map_err(CliError::rpc)?
        .ok_or_else(|| CliError::not_found(format!("no trade #{id}")))
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
