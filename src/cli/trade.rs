//! Trade commands: taking an offer, the steps of a trade, its encrypted chat, ratings.

use crate::cli::{
    Global,
    chain::{
        account_or_own, chain_time_ms, connect, parse_amount, print_json, runtime, show, show_list,
        submit_with,
    },
    error::CliError,
    input, keys,
    market::{codes, market_params, method_word, not_a_transaction, offer_of, trade_of},
    market_view::{print_outcome, print_trade, print_trade_line},
    words::printable,
};
use clap::Subcommand;
use rpc::{
    RpcClient,
    market::{MarketParamsView, OfferView, parse_method},
};
use types::{
    Call, Text,
    market::{
        DisputeReason, MarkPaid, MarketCall, OpenDispute, PaymentMethod, PostMessage, Rate,
        RevealKey, TakeOffer, TradeRef,
    },
};

/// A dispute reason by its name.
fn parse_reason(text: &str) -> Result<DisputeReason, String> {
    DisputeReason::from_name(&text.trim().to_ascii_lowercase()).ok_or_else(|| {
        let names: Vec<&str> = DisputeReason::ALL.iter().map(|r| r.name()).collect();
        format!(
            "{text:?} is not a dispute reason: use one of {}",
            names.join(", ")
        )
    })
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
    /// Open a dispute (seller after payment; buyer after the release window), saying why. The
    /// arbitrator is picked at the start of the next block. The reason and the note are
    /// public: put details in the chat and reveal it to the arbitrator.
    Dispute {
        id: u64,
        /// paid-not-released (buyer), payment-not-received, wrong-amount, third-party-payment
        /// (seller), unresponsive or other (either).
        #[arg(long, value_parser = parse_reason)]
        reason: DisputeReason,
        /// A short public note, at most 280 bytes.
        #[arg(long, default_value = "", allow_hyphen_values = true)]
        note: String,
    },
    /// Hand a dispute to another arbitrator once the ruling window has passed (or ask again
    /// for one when nobody holds it); with nobody eligible after the deadline, the dispute
    /// ends without a ruling.
    Reassign { id: u64 },
    /// The trade's encrypted chat.
    #[command(subcommand)]
    Chat(ChatCommand),
    /// Send the buyer your payment details for the trade's method, in the encrypted chat: the
    /// ones kept with `equa payment-details set`, or `--text`.
    SendDetails {
        id: u64,
        /// The details to send instead of the kept ones.
        #[arg(long, allow_hyphen_values = true)]
        text: Option<String>,
    },
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
                            let details = m
                                .text
                                .as_ref()
                                .ok()
                                .filter(|_| m.sender == trade.seller)
                                .and_then(|text| client::details::parse_message(text));
                            serde_json::json!({
                                "index": m.index, "sender": m.sender, "at_ms": m.at_ms,
                                "text": m.text.as_ref().ok(),
                                "error": m.text.as_ref().err(),
                                "payment_details": details.map(|details| {
                                    serde_json::json!({
                                        "method": trade.method.name, "details": details,
                                    })
                                }),
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
                        let details = message
                            .text
                            .as_ref()
                            .ok()
                            .filter(|_| message.sender == trade.seller)
                            .and_then(|text| client::details::parse_message(text));
                        if let Some(details) = details {
                            println!(
                                "[{}] seller's payment details for {}:\n    {}",
                                message.index,
                                trade.method.name,
                                printable(details)
                            );
                            continue;
                        }
                        // Another party's text cannot pass for a line of this listing.
                        match message.text {
                            Ok(text) => println!("[{}] {who}: {}", message.index, printable(&text)),
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
                if !global.json {
                    // The timeline and who received what, from the ledger's records and the
                    // settling receipt; a node without the method prints the trade alone.
                    if let Ok(Some(outcome)) = rpc.trade_outcome(id).await {
                        print_outcome(&outcome, now_ms);
                    }
                }
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
                let command = match command {
                    TradeCommand::SendDetails { id, text: None } => {
                        let trade = trade_of(&rpc, id).await?;
                        let path = keys::wallet_path(global)?;
                        let kept = client::details::PaymentDetails::load(&path, &wallet)
                            .map_err(|e| e.to_string())?;
                        let text = kept.get(&method_word(&trade.method)).map(str::to_string);
                        TradeCommand::SendDetails { id, text }
                    }
                    command => command,
                };
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
        TradeCommand::Dispute { id, reason, note } => MarketCall::OpenDispute(OpenDispute {
            trade: id,
            reason,
            note: Text::new(note).map_err(|e| format!("--note: {e}"))?,
        }),
        TradeCommand::Reassign { id } => MarketCall::Reassign(reference(id)),
        TradeCommand::Chat(ChatCommand::Send { id, text }) => {
            if text.trim().is_empty() {
                return Err("a chat message cannot be empty".into());
            }
            let trade = trade_of(rpc, id).await?;
            seal_message(rpc, wallet, &trade, &text).await?
        }
        TradeCommand::SendDetails { id, text } => {
            let trade = trade_of(rpc, id).await?;
            if trade.seller != wallet.account().to_string() {
                return Err(format!(
                    "only the seller of trade #{id} sends payment details; this wallet is not it"
                ));
            }
            // Once the buyer has paid, new details could only mislead (a bait and switch).
            if trade.state != "awaiting_payment" {
                return Err(format!(
                    "trade #{id} is {}; payment details are sent only before the buyer pays",
                    crate::cli::words::spaced(&trade.state)
                ));
            }
            let method = trade.method.name.clone();
            let text = text.ok_or_else(|| {
                format!(
                    "no {method} details to send: keep them with `equa payment-details set {} \
                     <details>`, or give them with --text",
                    method_word(&trade.method)
                )
            })?;
            let mut checked = client::details::PaymentDetails::default();
            checked.set(&method, &text).map_err(|e| e.to_string())?;
            let message = client::details::message(&text);
            seal_message(rpc, wallet, &trade, &message).await?
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

/// A chat message of `trade`, sealed by `wallet` for the other party.
async fn seal_message(
    rpc: &RpcClient,
    wallet: &client::keys::Wallet,
    trade: &rpc::market::TradeView,
    text: &str,
) -> Result<MarketCall, String> {
    let chat = chat_of(rpc, trade.id).await?;
    let me = wallet.account().to_string();
    let key = client::chat::conversation_for(&wallet.chat_secret(), &me, trade, &chat)?;
    let ciphertext = key.seal(&wallet.account(), text.as_bytes());
    // The ledger bounds the sealed message; sealing adds a fixed overhead to the text.
    let overhead = ciphertext.len().saturating_sub(text.len());
    if ciphertext.len() > types::market::MAX_MESSAGE_BYTES {
        return Err(input::too_long(
            "the message",
            text,
            types::market::MAX_MESSAGE_BYTES.saturating_sub(overhead),
        ));
    }
    Ok(MarketCall::PostMessage(PostMessage {
        trade: trade.id,
        ciphertext,
    }))
}

async fn chat_of(rpc: &RpcClient, id: u64) -> Result<rpc::market::ChatView, CliError> {
    rpc.chat(id, 0)
        .await
        .map_err(CliError::rpc)?
        .ok_or_else(|| CliError::not_found(format!("no trade #{id}")))
}
