//! Market commands: offers, trades with their encrypted chat, arbitrators, profiles and
//! reputation.

use crate::cli::{
    Global,
    chain::{
        connect, parse_address, parse_amount, print_json, runtime, show, show_list, submit,
        submit_with,
    },
    keys,
};
use clap::{Args, Subcommand};
use rpc::{
    RpcClient,
    market::{
        FIAT_DECIMALS, MarketParamsView, OfferQuery, OfferView, TradeView, parse_method, parse_side,
    },
    views::Money,
};
use types::{
    AccountId, AssetId, Call, Text, amount,
    market::{
        CreateOffer, Fiat, MarkPaid, MarketCall, Nothing, OfferRef, Party, PaymentMethod,
        PostMessage, Rate, RegisterArbitrator, RevealKey, Rule, SetProfile, TakeOffer, TradeRef,
        UpdateOffer,
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
    max_amount: String,
    /// The asset's symbol.
    symbol: String,
    /// The smallest take (default: the whole amount).
    #[arg(long)]
    min: Option<String>,
    /// Fiat per whole unit of the asset, for example 0.95.
    #[arg(long)]
    price: String,
    /// ISO 4217 currency code.
    #[arg(long)]
    fiat: String,
    /// A payment method: a registry code (`equa market methods`) or "custom:<text>";
    /// repeat for several.
    #[arg(long = "method", required = true)]
    methods: Vec<String>,
    /// How long the buyer has to pay, in minutes.
    #[arg(long, default_value_t = 60)]
    window_mins: u32,
    #[arg(long, default_value = "")]
    terms: String,
    /// Each side's security deposit, in basis points of the amount (1000 = 10%).
    #[arg(long, default_value_t = 1_500)]
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
    #[arg(long)]
    amount: Option<String>,
    #[arg(long)]
    min_price: Option<String>,
    #[arg(long)]
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
    #[arg(long)]
    price: Option<String>,
    #[arg(long)]
    min: Option<String>,
    #[arg(long)]
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
    /// Take an offer: `equa trade take 7 25 USDX --method SEPA`.
    Take {
        offer: u64,
        amount: String,
        symbol: String,
        #[arg(long)]
        method: String,
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
        #[arg(long)]
        bond: String,
        #[arg(long)]
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
        #[arg(long)]
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
    /// The market's rules: deposits, windows, arbitration, tiers.
    Params,
}

fn text<const MAX: usize>(value: &str, what: &str) -> Result<Text<MAX>, String> {
    Text::new(value).map_err(|e| format!("{what}: {e}"))
}

fn fiat_price(text: &str) -> Result<u128, String> {
    amount::parse(text, FIAT_DECIMALS).map_err(|e| format!("price {text:?}: {e}"))
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

fn side_word(side: &str) -> &str {
    if side == "sell" { "SELL" } else { "BUY" }
}

fn print_offer_line(offer: &OfferView) {
    let methods: Vec<&str> = offer.methods.iter().map(|m| m.code.as_str()).collect();
    println!(
        "#{:<5} {:<4} {:>12} {:<6} at {:>10} {}  ({} – {})  {}  maker {} [{}, {} trades, {}%{}]",
        offer.id,
        side_word(&offer.side),
        offer.max_amount.amount,
        offer.max_amount.symbol,
        offer.price.amount,
        offer.price.currency,
        offer.min_amount.amount,
        offer.max_amount.amount,
        methods.join(","),
        offer.maker_name.as_deref().unwrap_or(&offer.maker),
        offer.maker_standing.tier_name,
        offer.maker_standing.completed_trades,
        offer.maker_standing.completion_rate,
        offer
            .maker_standing
            .rating
            .as_ref()
            .map_or_else(String::new, |r| format!(", {r}★")),
    );
}

fn print_offer(offer: &OfferView) {
    print_offer_line(offer);
    println!("  maker:           {}", offer.maker);
    println!("  revision:        {}", offer.revision);
    println!(
        "  deposits:        buyer {} bps, seller {} bps",
        offer.buyer_deposit_bps, offer.seller_deposit_bps
    );
    println!("  payment window:  {} min", offer.payment_window_secs / 60);
    for method in &offer.methods {
        println!(
            "  method:          {} ({}), risk {}, new-account limit {} {}",
            method.code, method.name, method.risk, method.new_account_limit, offer.price.currency
        );
    }
    if offer.min_taker_trades > 0 || offer.min_taker_tier > 0 {
        println!(
            "  takers need:     {} completed trades, tier {}",
            offer.min_taker_trades, offer.min_taker_tier
        );
    }
    if !offer.terms.is_empty() {
        println!("  terms:           {}", offer.terms);
    }
}

fn time(ms: u64) -> String {
    crate::cli::chain::utc(ms)
}

fn print_trade(trade: &TradeView) {
    println!(
        "trade #{} ({}) of offer #{}: {} for {} {} by {}",
        trade.id,
        trade.state,
        trade.offer,
        trade.amount,
        trade.fiat_amount.amount,
        trade.fiat_amount.currency,
        trade.method.code
    );
    println!("  buyer:            {}", trade.buyer);
    println!("  seller:           {}", trade.seller);
    println!(
        "  deposits:         buyer {}, seller {}",
        trade.buyer_deposit, trade.seller_deposit
    );
    println!("  pay by:           {}", time(trade.payment_deadline_ms));
    if let Some(paid) = trade.paid_ms {
        println!("  paid at:          {}", time(paid));
        println!("  release by:       {}", time(trade.release_deadline_ms));
    }
    if trade.arbitrator_pending {
        println!("  arbitrator:       picked at the start of the next block");
    }
    if let Some(arbitrator) = &trade.arbitrator {
        println!("  arbitrator:       {arbitrator}");
        if let Some(deadline) = trade.ruling_deadline_ms {
            println!("  ruling by:        {}", time(deadline));
        }
    }
    println!("  messages:         {}", trade.messages);
    for step in &trade.next {
        println!("  next:             {step}");
    }
}

async fn market_params(rpc: &RpcClient) -> Result<MarketParamsView, String> {
    rpc.market_params().await.map_err(|e| e.to_string())
}

async fn trade_of(rpc: &RpcClient, id: u64) -> Result<TradeView, String> {
    rpc.trade(id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no trade #{id}"))
}

async fn offer_of(rpc: &RpcClient, id: u64) -> Result<OfferView, String> {
    rpc.offer(id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no open offer #{id}"))
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

pub fn offer(global: &Global, command: OfferCommand) -> Result<(), String> {
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        match command {
            OfferCommand::List(args) => {
                let query = OfferQuery {
                    side: args.side,
                    asset: args.asset,
                    fiat: args.fiat,
                    method: args.method,
                    amount: args.amount,
                    min_price: args.min_price,
                    max_price: args.max_price,
                    maker: args.maker,
                    limit: args.limit,
                    offset: args.offset,
                };
                let offers = rpc.offers(&query).await.map_err(|e| e.to_string())?;
                show_list(global, &offers, "no open offers match", print_offer_line);
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
            let (asset, max_amount) = parse_amount(rpc, &args.max_amount, &args.symbol).await?;
            let min_amount = match &args.min {
                Some(min) => parse_amount(rpc, min, &args.symbol).await?.1,
                None => max_amount,
            };
            let params = market_params(rpc).await?;
            let call = CreateOffer {
                side,
                asset: AssetId(asset.asset),
                fiat: Fiat::new(&args.fiat).map_err(|e| e.to_string())?,
                price: fiat_price(&args.price)?,
                min_amount,
                max_amount,
                methods: methods(&params, &args.methods)?,
                payment_window_secs: args.window_mins.saturating_mul(60),
                terms: text(&args.terms, "terms")?,
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
            let current_methods: Vec<String> = offer
                .methods
                .iter()
                .map(|m| match m.index {
                    Some(_) => m.code.clone(),
                    None => format!("custom:{}", m.name),
                })
                .collect();
            let call = UpdateOffer {
                offer: offer.id,
                price: match &args.price {
                    Some(price) => fiat_price(price)?,
                    None => offer.price.minor_units.parse().unwrap_or(0),
                },
                min_amount: amount_or(rpc, args.min, &offer.min_amount).await?,
                max_amount: amount_or(rpc, args.max, &offer.max_amount).await?,
                methods: methods(
                    &params,
                    if args.methods.is_empty() {
                        &current_methods
                    } else {
                        &args.methods
                    },
                )?,
                payment_window_secs: args
                    .window_mins
                    .map_or(offer.payment_window_secs, |m| m.saturating_mul(60)),
                terms: text(args.terms.as_deref().unwrap_or(&offer.terms), "terms")?,
            };
            MarketCall::UpdateOffer(call)
        }
        OfferCommand::Cancel { id } => MarketCall::CancelOffer(OfferRef { offer: id }),
        OfferCommand::List(_) | OfferCommand::Show { .. } => return Err(not_a_transaction()),
    })
}

/// The wallet's own address, or `account` when given.
fn account_or_own(global: &Global, account: Option<&str>) -> Result<AccountId, String> {
    match account {
        Some(text) => parse_address(text),
        None => {
            let keystore = client::keystore::Keystore::load(&keys::wallet_path(global)?)
                .map_err(|e| e.to_string())?;
            parse_address(keystore.address())
        }
    }
}

pub fn trade(global: &Global, command: TradeCommand) -> Result<(), String> {
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        match command {
            TradeCommand::Chat(ChatCommand::Read { id }) => {
                let wallet = keys::unlock(&keys::wallet_path(global)?)?;
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
                show(global, &trade, print_trade);
                Ok(())
            }
            TradeCommand::List { account } => {
                let account = account_or_own(global, account.as_deref())?;
                let trades = rpc.trades(&account).await.map_err(|e| e.to_string())?;
                if global.json {
                    print_json(&trades);
                } else if trades.is_empty() {
                    println!("no trades");
                } else {
                    for trade in trades {
                        println!(
                            "#{:<5} {:<16} {} for {} {}",
                            trade.id,
                            trade.state,
                            trade.amount,
                            trade.fiat_amount.amount,
                            trade.fiat_amount.currency
                        );
                    }
                }
                Ok(())
            }
            command => {
                let wallet = keys::unlock(&keys::wallet_path(global)?)?;
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
            let method = parse_method(codes(&params), &method)?;
            // The take is bound to one version of the terms: the one the taker saw, or the one
            // read now. The ledger refuses it if the maker changes the offer before it lands.
            let current = offer_of(rpc, offer).await?;
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
            let key = client::chat::conversation_for(&wallet.chat_secret(), &me, &trade, &chat)?;
            MarketCall::PostMessage(PostMessage {
                trade: id,
                ciphertext: key.seal(&wallet.account(), text.as_bytes()),
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

async fn chat_of(rpc: &RpcClient, id: u64) -> Result<rpc::market::ChatView, String> {
    rpc.chat(id, 0)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no trade #{id}"))
}

pub fn arbitrator(global: &Global, command: ArbitratorCommand) -> Result<(), String> {
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        match command {
            ArbitratorCommand::List => {
                let list = rpc.arbitrators().await.map_err(|e| e.to_string())?;
                if global.json {
                    print_json(&list);
                } else {
                    for a in list {
                        println!(
                            "{} {}  bond {}  fee {} bps  languages {}  cases {} (open {})  \
                             reassigned {}  median ruling {}",
                            a.account,
                            a.name.as_deref().unwrap_or(""),
                            a.bond,
                            a.fee_bps,
                            a.languages,
                            a.cases,
                            a.open_cases,
                            a.reassignments,
                            a.median_ruling_secs
                                .map_or_else(|| "–".into(), |s| format!("{s} s"))
                        );
                    }
                }
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
            languages: text(&languages, "languages")?,
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
                other => return Err(format!("--at-fault is buyer or seller, not {other:?}")),
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

pub fn profile(global: &Global, command: ProfileCommand) -> Result<(), String> {
    match command {
        ProfileCommand::Set { name } => {
            let rpc = connect(global)?;
            let wallet = keys::unlock(&keys::wallet_path(global)?)?;
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
        name: text(name, "name")?,
    }))
}

pub fn reputation(global: &Global, address: Option<&str>) -> Result<(), String> {
    let account = account_or_own(global, address)?;
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        let view = rpc.reputation(&account).await.map_err(|e| e.to_string())?;
        if global.json {
            print_json(&view);
            return Ok(());
        }
        let s = &view.standing;
        println!("account:        {}", view.account);
        println!("name:           {}", view.name.as_deref().unwrap_or("(none)"));
        println!(
            "chat key:       {}",
            view.chat_key.as_deref().unwrap_or("(not published)")
        );
        println!("tier:           {} ({})", s.tier_name, s.tier);
        println!(
            "trades:         {} completed ({} as buyer, {} as seller), {}% completion",
            s.completed_trades, view.completed_as_buyer, view.completed_as_seller, s.completion_rate
        );
        println!(
            "counted:        {} trades with {} counterparties, {} in fiat",
            s.counted_trades, s.counterparties, s.counted_volume
        );
        println!(
            "rating:         {}",
            s.rating.as_ref().map_or_else(
                || "not rated yet".into(),
                |r| format!("{r} of 5 from {} ratings", s.ratings)
            )
        );
        println!(
            "disputes:       {} opened, {} won, {} lost",
            view.disputes_opened, view.disputes_won, view.disputes_lost
        );
        println!(
            "cancellations:  {}, timeouts {}",
            view.cancellations, view.timeouts
        );
        for volume in &view.volume {
            println!("volume:         {volume}");
        }
        let c = &view.credit;
        println!(
            "credit:         {} loans, {} repaid on time, {} repaid late, {} late payments, {} defaults",
            c.loans, c.repaid_on_time, c.repaid_late, c.late_payments, c.defaults
        );
        for (borrowed, repaid) in c.borrowed.iter().zip(&c.repaid) {
            println!("                borrowed {borrowed}, repaid {repaid}");
        }
        Ok(())
    })
}

pub fn market(global: &Global, command: MarketCommand) -> Result<(), String> {
    let rpc = connect(global)?;
    runtime()?.block_on(async {
        let params = market_params(&rpc).await?;
        if global.json {
            match command {
                MarketCommand::Methods => print_json(&params.methods),
                MarketCommand::Params => print_json(&params),
            }
            return Ok(());
        }
        match command {
            MarketCommand::Methods => {
                for m in &params.methods {
                    println!(
                        "{:<18} {:<36} risk {:<8} window ≥ {:>4} h  new-account limit {:>9}  {}",
                        m.code,
                        m.name,
                        m.risk,
                        m.min_window_secs / 3600,
                        m.new_account_limit,
                        m.currencies.join(",")
                    );
                }
            }
            MarketCommand::Params => {
                println!(
                    "deposits:          {} – {} bps",
                    params.min_deposit_bps, params.max_deposit_bps
                );
                println!(
                    "payment window:    {} – {} min",
                    params.min_payment_window_secs / 60,
                    params.max_payment_window_secs / 60
                );
                println!("release window:    {} h", params.release_window_secs / 3600);
                println!("ruling window:     {} h", params.ruling_window_secs / 3600);
                println!("arbitrator bond:   ≥ {}", params.min_arbitrator_bond);
                println!("arbitrator fee:    ≤ {} bps", params.max_arbitrator_fee_bps);
                println!(
                    "new accounts:      below {} counted trades or {} counterparties, \
                     per-method limits apply",
                    params.new_account_trades, params.new_account_counterparties
                );
                println!(
                    "counted trades:    marked paid, worth at least {}",
                    params.min_counted_trade_value
                );
                println!("tiers:             {}", params.tiers.join(" < "));
            }
        }
        Ok(())
    })
}
