//! Why a market call failed. Every variant carries the numbers that explain it.

use crate::error::BankError;
use types::{AccountId, AssetId, market::Fiat};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MarketError {
    #[error(transparent)]
    Bank(#[from] BankError),
    #[error("asset {asset} does not exist")]
    UnknownAsset { asset: AssetId },
    #[error("the price must be greater than zero")]
    ZeroPrice,
    #[error("amounts must satisfy 0 < min ({min}) <= max ({max}) (minor units of asset {asset})")]
    InvalidLimits {
        asset: AssetId,
        min: u128,
        max: u128,
    },
    #[error("a deposit of {bps} basis points is outside the allowed {min}..={max}")]
    DepositOutOfRange { bps: u16, min: u16, max: u16 },
    #[error("a payment window of {secs} s is outside the allowed {min}..={max} s")]
    WindowOutOfRange { secs: u32, min: u32, max: u32 },
    #[error("payment method #{index} is not in the registry")]
    UnknownMethod { index: u16 },
    #[error("payment method {method} does not pay in {fiat}")]
    MethodCurrency { method: String, fiat: Fiat },
    #[error("a payment method is listed twice")]
    DuplicateMethod,
    #[error(
        "a free-text payment method's name is 1 to 48 printable characters on one line, without invisible or direction-changing characters"
    )]
    InvalidMethodName,
    #[error("the trade's fiat value overflows")]
    ValueOverflow,
    #[error("offer {offer} does not exist (or is closed)")]
    UnknownOffer { offer: u64 },
    #[error(
        "offer {offer} changed since the taker saw it: the take names revision {expected_revision}, the offer is at revision {current_revision}"
    )]
    OfferChanged {
        offer: u64,
        expected_revision: u64,
        current_revision: u64,
    },
    #[error("offer {offer} has been updated the most times an offer can be; create a new one")]
    RevisionsExhausted { offer: u64 },
    #[error("only the maker of offer {offer} may change it")]
    NotMaker { offer: u64 },
    #[error("makers cannot take their own offer {offer}")]
    OwnOffer { offer: u64 },
    #[error(
        "the amount {amount} is outside what offer {offer} allows: {min}..={max} (minor units of asset {asset})"
    )]
    AmountOutOfRange {
        offer: u64,
        asset: AssetId,
        amount: u128,
        min: u128,
        max: u128,
    },
    #[error("offer {offer} does not accept this payment method")]
    MethodNotOffered { offer: u64 },
    #[error("the taker has {counted} counted trades; the offer requires {required}")]
    TooFewTrades { counted: u32, required: u32 },
    #[error("the taker's tier is {tier}; the offer requires tier {required}")]
    TierTooLow { tier: u8, required: u8 },
    #[error(
        "a buyer with {counted} counted trades with {counterparties} counterparties may pay at most {limit} {fiat} minor units with this method; this trade is {value}"
    )]
    NewAccountLimit {
        counted: u32,
        counterparties: u32,
        fiat: Fiat,
        limit: u128,
        value: u128,
    },
    #[error("trade {trade} does not exist")]
    UnknownTrade { trade: u64 },
    #[error("{account} is not the {role} of trade {trade}")]
    WrongParty {
        trade: u64,
        account: AccountId,
        role: &'static str,
    },
    #[error("trade {trade} is {state}; this needs it to be {expected}")]
    WrongState {
        trade: u64,
        state: &'static str,
        expected: &'static str,
    },
    #[error("the payment window of trade {trade} closed at {closed_at_ms} ms")]
    PaymentWindowClosed { trade: u64, closed_at_ms: u64 },
    #[error("the payment window of trade {trade} is open until {closes_at_ms} ms")]
    PaymentWindowOpen { trade: u64, closes_at_ms: u64 },
    #[error("the buyer may open a dispute on trade {trade} from {opens_at_ms} ms")]
    ReleaseWindowOpen { trade: u64, opens_at_ms: u64 },
    #[error(
        "the {role} of trade {trade} cannot open a dispute because {reason}: that is the other side's reason"
    )]
    ReasonNotForParty {
        trade: u64,
        reason: &'static str,
        role: &'static str,
    },
    #[error("{account} is not the arbitrator of trade {trade}")]
    NotArbitrator { trade: u64, account: AccountId },
    #[error(
        "the arbitrator of trade {trade} may rule until {deadline_ms} ms; it cannot be reassigned yet"
    )]
    RulingWindowOpen { trade: u64, deadline_ms: u64 },
    #[error(
        "the buyer's share {amount_to_buyer} exceeds the traded amount {amount} (minor units of asset {asset})"
    )]
    RulingTooLarge {
        asset: AssetId,
        amount_to_buyer: u128,
        amount: u128,
    },
    #[error("{account} is already an arbitrator")]
    AlreadyArbitrator { account: AccountId },
    #[error("{account} is not an arbitrator")]
    UnknownArbitrator { account: AccountId },
    #[error("the bond {bond} is below the minimum {minimum} (EQA minor units)")]
    BondTooSmall { bond: u128, minimum: u128 },
    #[error("an arbitrator fee of {fee_bps} basis points is above the maximum {max}")]
    FeeTooHigh { fee_bps: u16, max: u16 },
    #[error("the chain has the most arbitrators it allows ({max})")]
    TooManyArbitrators { max: usize },
    #[error("the arbitrator is already leaving")]
    AlreadyLeaving,
    #[error("the arbitrator has not unregistered")]
    NotLeaving,
    #[error("the bond can be withdrawn from {free_at_ms} ms")]
    CooldownRunning { free_at_ms: u64 },
    #[error("the arbitrator still has {open_cases} open cases")]
    OpenCases { open_cases: u32 },
    #[error("the {author} of trade {trade} has posted the most messages an author may ({max})")]
    TooManyMessages {
        trade: u64,
        author: &'static str,
        max: u32,
    },
    #[error("messages can no longer be posted to trade {trade}")]
    ChatClosed { trade: u64 },
    #[error("this party already revealed the key of trade {trade} to arbitrator {arbitrator}")]
    AlreadyRevealed { trade: u64, arbitrator: AccountId },
    #[error("a rating is 1 to 5 stars, not {stars}")]
    InvalidRating { stars: u8 },
    #[error("this party already rated trade {trade}")]
    AlreadyRated { trade: u64 },
    #[error("trade {trade} has no arbitrator assigned")]
    NoArbitrator { trade: u64 },
    #[error("the arbitrator of trade {trade} is picked at the start of the next block")]
    ArbitratorPickPending { trade: u64 },
    #[error(
        "nobody can arbitrate trade {trade} now; it ends without a ruling if nobody can by {deadline_ms} ms"
    )]
    NoEligibleArbitrator { trade: u64, deadline_ms: u64 },
    #[error("this block has already asked for the most arbitrator picks a block may ({max})")]
    TooManyPendingPicks { max: usize },
}
