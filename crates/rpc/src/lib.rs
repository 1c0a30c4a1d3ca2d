//! The JSON-RPC 2.0 interface of an Equa node.
//!
//! This crate holds what both sides of the API share: the method names, the JSON shape of every
//! result ([`views`]), the server ([`server::serve`]) over a [`Backend`] that the node
//! implements, and a typed client ([`client::RpcClient`]) for the wallet and command line.
//! It knows nothing of consensus or storage: the node answers through [`Backend`].

pub mod backend;
pub mod book;
pub mod client;
pub mod events;
pub mod fast;
pub mod funds;
pub mod lending;
pub mod market;
pub mod observe;
pub mod outcome;
pub mod server;
pub mod simulate;
pub mod staking;
pub mod views;
pub mod words;

pub use backend::{Backend, SubmitError};
pub use client::RpcClient;
pub use observe::RequestObserver;
pub use server::{Limits, serve, serve_observed};

/// The default address of a node's RPC server.
pub const DEFAULT_RPC_ADDRESS: &str = "127.0.0.1:9545";

/// Method names.
pub mod method {
    pub const SEND_TRANSACTION: &str = "equa_sendTransaction";
    pub const SEND_TRANSACTIONS: &str = "equa_sendTransactions";
    pub const SIMULATE_TRANSACTION: &str = "equa_simulateTransaction";
    pub const GET_ACCOUNT: &str = "equa_getAccount";
    pub const GET_ACCOUNT_PROOF: &str = "equa_getAccountProof";
    pub const GET_CHECKPOINT: &str = "equa_getCheckpoint";
    pub const LIST_HISTORY: &str = "equa_listHistory";
    pub const GET_BLOCK: &str = "equa_getBlock";
    pub const LIST_BLOCKS: &str = "equa_listBlocks";
    pub const GET_RECEIPT: &str = "equa_getReceipt";
    pub const STATUS: &str = "equa_status";
    pub const GET_FIGURES: &str = "equa_getFigures";
    pub const GET_PARAMS: &str = "equa_getParams";
    pub const GET_ASSETS: &str = "equa_getAssets";
    pub const GET_MARKET_PARAMS: &str = "equa_getMarketParams";
    pub const LIST_OFFERS: &str = "equa_listOffers";
    pub const GET_OFFER: &str = "equa_getOffer";
    pub const GET_TRADE: &str = "equa_getTrade";
    pub const LIST_TRADES: &str = "equa_listTrades";
    pub const GET_CHAT: &str = "equa_getChat";
    pub const LIST_ARBITRATORS: &str = "equa_listArbitrators";
    pub const GET_REPUTATION: &str = "equa_getReputation";
    pub const GET_LENDING_PARAMS: &str = "equa_getLendingParams";
    pub const LIST_LOANS: &str = "equa_listLoans";
    pub const GET_LOAN: &str = "equa_getLoan";
    pub const LIST_CREDIT_OFFERS: &str = "equa_listCreditOffers";
    pub const GET_CREDIT_OFFER: &str = "equa_getCreditOffer";
    pub const GET_ACCOUNT_FUNDS: &str = "equa_getAccountFunds";
    pub const GET_TRADE_OUTCOME: &str = "equa_getTradeOutcome";
    pub const GET_STAKING: &str = "equa_getStaking";
    /// Subscriptions: subscribe, notification, unsubscribe.
    pub const SUBSCRIBE_BLOCKS: [&str; 3] = [
        "equa_subscribeBlocks",
        "equa_block",
        "equa_unsubscribeBlocks",
    ];
    pub const SUBSCRIBE_ACCOUNT: [&str; 3] = [
        "equa_subscribeAccount",
        "equa_account",
        "equa_unsubscribeAccount",
    ];
    pub const SUBSCRIBE_TRADE: [&str; 3] =
        ["equa_subscribeTrade", "equa_trade", "equa_unsubscribeTrade"];
    /// The OpenRPC document of every method.
    pub const DISCOVER: &str = "rpc.discover";
}

/// JSON-RPC error codes beyond the standard ones.
pub mod code {
    /// The node refused a transaction at admission (bad signature, nonce, fee, ...).
    pub const TRANSACTION_REJECTED: i32 = 1001;
    /// The node cannot take more transactions right now.
    pub const BUSY: i32 = 1002;
    /// The node cannot answer this now (no proofs served, or not yet at a finalized height).
    pub const UNAVAILABLE: i32 = 1003;
}
