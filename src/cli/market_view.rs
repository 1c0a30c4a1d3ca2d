//! The market in words for the terminal: offers, trades, arbitrators, reputations and the
//! market's rules, with counts that agree with their nouns, shares as percentages, spans as
//! durations and deadlines as dates with how far away they are. `--json` prints the views as
//! they are instead.

use crate::cli::words::{count, duration_secs, moment, percent, spaced};
use rpc::{
    market::{
        ArbitratorView, MarketParamsView, OfferView, ReputationView, StandingView, TradeView,
    },
    outcome::TradeOutcomeView,
};
use std::collections::BTreeMap;

/// A decimal without trailing zeros: "100.00" is "100", "98.50" is "98.5".
fn trimmed(decimal: &str) -> &str {
    if decimal.contains('.') {
        decimal.trim_end_matches('0').trim_end_matches('.')
    } else {
        decimal
    }
}

/// A trader's standing in a few words: "Gold, 12 trades, 98.5% completed, 4.8★".
pub fn standing(s: &StandingView) -> String {
    let mut words = vec![s.tier_name.clone()];
    if s.completed_trades == 0 {
        words.push("no trades yet".into());
    } else {
        words.push(count(s.completed_trades, "trade"));
        words.push(format!("{}% completed", trimmed(&s.completion_rate)));
    }
    if let Some(rating) = &s.rating {
        words.push(format!("{}★", trimmed(rating)));
    }
    words.join(", ")
}

fn side_word(side: &str) -> &str {
    if side == "sell" { "SELL" } else { "BUY" }
}

pub fn print_offer_line(offer: &OfferView) {
    let methods: Vec<&str> = offer.methods.iter().map(|m| m.code.as_str()).collect();
    println!(
        "#{:<5} {:<4} {:>12} {:<6} at {:>10} {}  ({} – {})  {}  maker {} [{}]",
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
        standing(&offer.maker_standing),
    );
}

pub fn print_offer(offer: &OfferView) {
    print_offer_line(offer);
    println!("  maker:           {}", offer.maker);
    println!("  revision:        {}", offer.revision);
    println!(
        "  deposits:        buyer {}, seller {} of the amount",
        percent(offer.buyer_deposit_bps),
        percent(offer.seller_deposit_bps)
    );
    println!(
        "  payment window:  {}",
        duration_secs(u64::from(offer.payment_window_secs))
    );
    for method in &offer.methods {
        println!(
            "  method:          {} ({}), {} risk, new accounts up to {} {}",
            method.code,
            method.name,
            spaced(&method.risk),
            method.new_account_limit,
            offer.price.currency
        );
    }
    if offer.min_taker_trades > 0 || offer.min_taker_tier > 0 {
        println!(
            "  takers need:     {} completed, tier {} or higher",
            count(offer.min_taker_trades, "trade"),
            offer.min_taker_tier
        );
    }
    if !offer.terms.is_empty() {
        println!("  terms:           {}", offer.terms);
    }
}

pub fn print_trade(trade: &TradeView, now_ms: u64) {
    println!(
        "trade #{} ({}) of offer #{}: {} for {} {} by {}",
        trade.id,
        spaced(&trade.state),
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
    let when = |ms| moment(ms, now_ms);
    match trade.paid_ms {
        None => println!("  pay by:           {}", when(trade.payment_deadline_ms)),
        Some(paid) => {
            println!("  paid at:          {}", when(paid));
            println!("  release by:       {}", when(trade.release_deadline_ms));
        }
    }
    if let (Some(by), Some(reason)) = (&trade.dispute_opened_by, &trade.dispute_reason_text) {
        println!("  disputed by:      the {by}: {reason}");
        if let Some(note) = &trade.dispute_note {
            println!("  dispute note:     {}", crate::cli::words::printable(note));
        }
    }
    if trade.arbitrator_pending {
        println!("  arbitrator:       to be picked by lot within a few blocks");
    }
    if let Some(arbitrator) = &trade.arbitrator {
        println!("  arbitrator:       {arbitrator}");
        if let Some(deadline) = trade.ruling_deadline_ms {
            println!("  ruling by:        {}", when(deadline));
        }
    }
    if let Some(settled) = trade.settled_ms {
        println!("  settled at:       {}", when(settled));
    }
    println!("  messages:         {}", count(trade.messages, "message"));
    for step in &trade.next {
        println!("  next:             {step}");
    }
}

/// A trade's timeline and, once settled, who received what and why.
pub fn print_outcome(outcome: &TradeOutcomeView, now_ms: u64) {
    for step in &outcome.timeline {
        println!(
            "  {:<17} {}",
            format!("{}:", moment(step.at_ms, now_ms)),
            step.text
        );
    }
    // A dispute's note is a party's own text: it cannot add lines to the outcome.
    for line in &outcome.explanation {
        println!("  outcome:          {}", crate::cli::words::printable(line));
    }
}

pub fn print_trade_line(trade: &TradeView) {
    println!(
        "#{:<5} {:<16} {} for {} {}",
        trade.id,
        spaced(&trade.state),
        trade.amount,
        trade.fiat_amount.amount,
        trade.fiat_amount.currency
    );
}

pub fn print_arbitrator(a: &ArbitratorView, now_ms: u64) {
    let name = a
        .name
        .as_deref()
        .map_or_else(String::new, |n| format!(" ({n})"));
    let rulings = match a.median_ruling_secs {
        Some(secs) if a.rulings > 0 => format!(
            "{}, in {} at the median",
            count(a.rulings, "ruling"),
            duration_secs(secs)
        ),
        _ => "no rulings yet".into(),
    };
    println!("{}{name}", a.account);
    println!(
        "  bond {}, fee {}, languages {}",
        a.bond,
        percent(a.fee_bps),
        a.languages
    );
    println!(
        "  {} ({} open), {}, reassigned {}",
        count(a.cases, "case"),
        a.open_cases,
        rulings,
        count(a.reassignments, "time")
    );
    if let Some(leaving) = a.leaving_at_ms {
        println!(
            "  leaving: the bond is free from {}",
            moment(leaving, now_ms)
        );
    }
}

pub fn print_reputation(view: &ReputationView) {
    let s = &view.standing;
    println!("account:        {}", view.account);
    println!(
        "name:           {}",
        view.name.as_deref().unwrap_or("(no name published)")
    );
    println!(
        "chat key:       {}",
        view.chat_key.as_deref().unwrap_or("(not published)")
    );
    println!("tier:           {}", s.tier_name);
    if s.completed_trades == 0 {
        println!("trades:         no completed trades yet");
    } else {
        println!(
            "trades:         {} completed ({} as buyer, {} as seller), {}% of trades completed",
            s.completed_trades,
            view.completed_as_buyer,
            view.completed_as_seller,
            trimmed(&s.completion_rate)
        );
        println!(
            "counted:        {} with {}, {} in fiat",
            count(s.counted_trades, "counted trade"),
            count(s.counterparties, "counterparty"),
            s.counted_volume
        );
    }
    println!(
        "rating:         {}",
        s.rating.as_ref().map_or_else(
            || "not rated yet".into(),
            |r| format!("{} of 5 from {}", trimmed(r), count(s.ratings, "rating"))
        )
    );
    if view.disputes_opened + view.disputes_won + view.disputes_lost == 0 {
        println!("disputes:       none");
    } else {
        println!(
            "disputes:       {} opened, {} won, {} lost",
            view.disputes_opened, view.disputes_won, view.disputes_lost
        );
    }
    println!(
        "ended early:    {}, {}",
        count(view.cancellations, "cancellation"),
        count(view.timeouts, "timeout")
    );
    for volume in &view.volume {
        println!("volume:         {volume}");
    }
    let c = &view.credit;
    if c.loans == 0 {
        println!("credit:         no loans yet");
    } else {
        println!(
            "credit:         {}: {} repaid on time, {} repaid late, {}, {}",
            count(c.loans, "loan"),
            c.repaid_on_time,
            c.repaid_late,
            count(c.late_payments, "late payment"),
            count(c.defaults, "default")
        );
    }
    for (borrowed, repaid) in c.borrowed.iter().zip(&c.repaid) {
        println!("                borrowed {borrowed}, repaid {repaid}");
    }
}

pub fn print_methods(params: &MarketParamsView) {
    for m in &params.methods {
        let currencies = if m.currencies.is_empty() {
            "any currency".to_string()
        } else {
            m.currencies.join(",")
        };
        println!(
            "{:<22} {:<38} {:<13} buyers get ≥ {:<8} new accounts up to {:>8}  {}",
            m.code,
            m.name,
            format!("{} risk", spaced(&m.risk)),
            duration_secs(u64::from(m.min_window_secs)),
            m.new_account_limit,
            currencies
        );
    }
}

/// Every currency some payment method pays in, with those methods, in code order.
pub fn currencies(params: &MarketParamsView) -> BTreeMap<&str, Vec<&str>> {
    let mut map: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for method in &params.methods {
        for currency in &method.currencies {
            map.entry(currency.as_str())
                .or_default()
                .push(method.code.as_str());
        }
    }
    map
}

pub fn print_currencies(params: &MarketParamsView) {
    for (currency, methods) in currencies(params) {
        println!("{currency}  {}", methods.join(", "));
    }
    let any: Vec<&str> = params
        .methods
        .iter()
        .filter(|m| m.currencies.is_empty())
        .map(|m| m.code.as_str())
        .collect();
    if !any.is_empty() {
        println!("any  {} (and free-text methods)", any.join(", "));
    }
}

pub fn print_params(params: &MarketParamsView) {
    let span = |secs: u32| duration_secs(u64::from(secs));
    println!(
        "deposits:          {} to {} of the amount, from each side",
        percent(params.min_deposit_bps),
        percent(params.max_deposit_bps)
    );
    println!(
        "payment window:    {} to {}",
        span(params.min_payment_window_secs),
        span(params.max_payment_window_secs)
    );
    println!("release window:    {}", span(params.release_window_secs));
    println!("ruling window:     {}", span(params.ruling_window_secs));
    println!("arbitrator bond:   at least {}", params.min_arbitrator_bond);
    println!(
        "arbitrator fee:    at most {}",
        percent(params.max_arbitrator_fee_bps)
    );
    println!(
        "new accounts:      below {} or {}, per-method limits apply",
        count(params.new_account_trades, "counted trade"),
        count(params.new_account_counterparties, "counterparty")
    );
    println!(
        "counted trades:    marked paid, worth at least {}",
        params.min_counted_trade_value
    );
    println!("tiers:             {}", params.tiers.join(" < "));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing_with(completed: u32, rate: &str, rating: Option<&str>) -> StandingView {
        serde_json::from_value(serde_json::json!({
            "tier": 0, "tier_name": "New", "completed_trades": completed, "counted_trades": 0,
            "counterparties": 0, "counted_volume": "0.00", "completion_rate": rate,
            "dispute_loss_rate": "0.00", "rating": rating, "ratings": 0, "account_age_days": 0,
            "median_release_secs": null, "bonded": "0"
        }))
        .expect("a standing view")
    }

    #[test]
    fn a_standing_reads_in_words() {
        assert_eq!(
            standing(&standing_with(0, "100.00", None)),
            "New, no trades yet"
        );
        assert_eq!(
            standing(&standing_with(1, "100.00", Some("5.00"))),
            "New, 1 trade, 100% completed, 5★"
        );
        assert_eq!(
            standing(&standing_with(12, "98.50", Some("4.75"))),
            "New, 12 trades, 98.5% completed, 4.75★"
        );
    }
}
