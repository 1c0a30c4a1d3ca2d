//! The JSON shape of every RPC result. Amounts are strings, in both decimal and minor units, so
//! no client ever rounds them through a floating-point number.

use crate::words;
use ledger::{CallError, Outcome, Receipt, TxError, state, store::Store};
use serde::{Deserialize, Serialize};
use types::{AccountId, AssetId, TxId, amount};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StatusView {
    pub chain_id: String,
    /// The node's role: "validator" or "full".
    pub role: String,
    /// The last finalized height the node has applied.
    pub height: u64,
    pub timestamp_ms: u64,
    pub state_root: String,
    /// The highest finalized height the node has heard of; above `height` while it syncs.
    pub target_height: u64,
    pub peers: u32,
    pub mempool_size: u64,
    /// "finding a floor", "syncing records" (state sync), "catching up blocks" or "following".
    #[serde(default)]
    pub phase: String,
    /// A state sync's progress, while it runs.
    #[serde(default)]
    pub sync: Option<StateSyncView>,
}

/// How far a state sync has come: store operations fetched from peers and checked against a
/// finalized root, of those the range being synced holds (it grows as the chain does).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StateSyncView {
    pub operations_fetched: u64,
    pub operations_target: u64,
}

/// What a node has measured of itself lately, for charts: one sample per interval, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FiguresView {
    /// Milliseconds between two samples.
    pub interval_ms: u64,
    pub samples: Vec<FigureSample>,
}

/// The node's figures over one sampling interval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FigureSample {
    /// When the interval ended (Unix milliseconds, the node's clock).
    pub at_ms: u64,
    /// The finalized height at that moment.
    pub height: u64,
    /// Blocks this node finalized during the interval.
    pub blocks: u64,
    /// Transactions in those blocks.
    pub transactions: u64,
    /// The slowest time, in milliseconds, from a block's proposal (its timestamp) to its
    /// finalization at this node, over the interval's blocks; none when no block was finalized.
    pub finality_ms: Option<u64>,
    /// Transactions waiting in the mempool at that moment.
    pub mempool_size: u64,
    /// Peers connected at that moment.
    pub peers: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BalanceView {
    pub asset: u32,
    pub symbol: String,
    pub decimals: u8,
    /// Decimal text, for example "12.5".
    pub amount: String,
    /// The same amount in minor units.
    pub minor_units: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AccountView {
    pub address: String,
    /// The nonce the account's next transaction must carry.
    pub nonce: u64,
    /// Every asset with a non-zero balance, by asset id.
    pub balances: Vec<BalanceView>,
}

impl AccountView {
    /// Reads an account from any ledger store. Walks every asset id, so its cost grows with the
    /// number of assets, not of accounts.
    pub fn read(store: &(impl Store + ?Sized), account: &AccountId) -> Self {
        let balances = (0..state::next_asset_id(store).0)
            .filter_map(|id| {
                let asset = AssetId(id);
                let value = state::balance(store, account, asset);
                if value == 0 {
                    return None;
                }
                let info = state::asset(store, asset)?;
                Some(BalanceView {
                    asset: id,
                    symbol: info.symbol.to_string(),
                    decimals: info.decimals,
                    amount: amount::format(value, info.decimals),
                    minor_units: value.to_string(),
                })
            })
            .collect();
        Self {
            address: account.to_string(),
            nonce: state::nonce(store, account),
            balances,
        }
    }

    /// The balance of `symbol`, in minor units (zero when absent).
    pub fn minor_units(&self, symbol: &str) -> u128 {
        self.balances
            .iter()
            .find(|b| b.symbol == symbol)
            .and_then(|b| b.minor_units.parse().ok())
            .unwrap_or(0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BlockView {
    pub height: u64,
    pub digest: String,
    pub parent: String,
    pub timestamp_ms: u64,
    pub proposer: String,
    pub state_root: String,
    pub transactions: Vec<String>,
}

/// A page of `equa_listBlocks`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BlocksPageView {
    pub blocks: Vec<BlockView>,
    /// The `before` that continues the search, or null when no older block is kept.
    pub next_before: Option<u64>,
}

impl BlocksPageView {
    /// The most blocks one page lists.
    pub const MAX_BLOCKS: usize = 20;
    /// The most heights one call looks at, so a search for rare blocks stays cheap.
    pub const MAX_SCANNED: u64 = 1_000;

    /// Blocks below height `below`, newest first, as many as a page holds.
    pub fn read(backend: &dyn crate::Backend, below: u64, with_transactions: bool) -> Self {
        let mut blocks = Vec::new();
        let floor = below.saturating_sub(Self::MAX_SCANNED).max(1);
        let mut height = below;
        let mut kept_seen = false;
        while height > floor && blocks.len() < Self::MAX_BLOCKS {
            height -= 1;
            let Some(block) = backend.block(height) else {
                if !kept_seen {
                    // Above the newest block kept (asked from beyond it, or the status ran
                    // ahead of the store): look further down.
                    continue;
                }
                // The node keeps only its recent blocks: nothing older is there.
                return Self {
                    blocks,
                    next_before: None,
                };
            };
            kept_seen = true;
            if !with_transactions || !block.transactions.is_empty() {
                blocks.push(block);
            }
        }
        Self {
            blocks,
            next_before: (height > 1).then_some(height),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErrorView {
    /// The error's name, stable across releases, for example "InsufficientBalance".
    pub code: String,
    /// The error in words, with its numbers.
    pub message: String,
}

/// What became of one transaction of `equa_sendTransactions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SubmittedView {
    /// The transaction's id, when the node admitted it.
    pub id: Option<String>,
    /// Why it was refused: its encoding ("Malformed", "Oversized"), the ledger's admission
    /// checks (named errors), or "Busy" when the pool is full for now.
    pub error: Option<ErrorView>,
}

impl ErrorView {
    pub fn of<E: std::fmt::Debug + std::fmt::Display>(error: &E) -> Self {
        Self {
            code: error_code(error),
            message: error.to_string(),
        }
    }

    /// A rejected transaction, its amounts worded with the assets of `store`.
    pub fn rejected(store: &(impl Store + ?Sized), error: &TxError) -> Self {
        Self {
            code: error_code(error),
            message: words::tx_error(store, error),
        }
    }

    /// A failed call, its amounts worded with the assets of `store`.
    pub fn failed(store: &(impl Store + ?Sized), error: &CallError) -> Self {
        Self {
            code: error_code(error),
            message: words::call_error(store, error),
        }
    }
}

/// The variant name of an error enum (`InsufficientBalance` for
/// `Bank(InsufficientBalance { .. })`): the innermost name of its debug form.
pub fn error_code<E: std::fmt::Debug>(error: &E) -> String {
    let debug = format!("{error:?}");
    let mut code = debug.as_str();
    // Unwrap tuple variants that wrap another enum's variant: `Bank(ZeroAmount)` ->
    // `ZeroAmount`, but `Malformed(3)` stays `Malformed`.
    while let Some(open) = code.find('(') {
        let before_brace = code.find(['{', ' ']).unwrap_or(code.len());
        let inner = &code[open + 1..];
        if open > before_brace || !inner.starts_with(|c: char| c.is_ascii_uppercase()) {
            break;
        }
        code = inner;
    }
    code.split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default()
        .to_string()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReceiptView {
    pub tx_id: String,
    pub height: u64,
    /// "success", "failed" (fee paid, nothing else changed) or "rejected" (nothing changed).
    pub outcome: String,
    pub error: Option<ErrorView>,
    pub fee_paid: String,
    /// What the transaction did, in order: typed events (see [`crate::events`]), each with its
    /// `text` in words.
    #[schemars(with = "Vec<crate::events::EventSchema>")]
    pub events: Vec<serde_json::Value>,
}

impl ReceiptView {
    /// The receipt of a transaction in block `height`, its error's amounts worded with the
    /// assets of `store` (assets are never removed, so any later state names them too).
    pub fn new(store: &(impl Store + ?Sized), receipt: &Receipt, height: u64) -> Self {
        let (outcome, error) = match &receipt.outcome {
            Outcome::Success => ("success", None),
            Outcome::Failed(error) => ("failed", Some(ErrorView::failed(store, error))),
            Outcome::Rejected(error) => ("rejected", Some(ErrorView::rejected(store, error))),
        };
        Self {
            tx_id: tx_id_hex(&receipt.tx_id),
            height,
            outcome: outcome.to_string(),
            error,
            fee_paid: receipt.fee_paid.to_string(),
            events: receipt
                .events
                .iter()
                .map(|event| crate::events::event_json(store, event))
                .collect(),
        }
    }
}

pub fn tx_id_hex(id: &TxId) -> String {
    format!("0x{}", hex::encode(id.0))
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ParamsView {
    /// EQA minor units per encoded byte.
    pub fee_per_byte: String,
    /// EQA minor units for a call kind without its own entry.
    pub default_call_fee: String,
    /// EQA minor units per call kind, e.g. "bank.transfer".
    pub call_fees: std::collections::BTreeMap<String, String>,
}

impl ParamsView {
    pub fn new(params: &ledger::Params) -> Self {
        Self {
            fee_per_byte: params.fee_per_byte.to_string(),
            default_call_fee: params.default_call_fee.to_string(),
            call_fees: params
                .call_fees
                .iter()
                .map(|(kind, fee)| (kind.to_string(), fee.to_string()))
                .collect(),
        }
    }

    /// The fee schedule back as ledger parameters, for computing a transaction's fee.
    pub fn to_params(&self) -> Result<ledger::Params, String> {
        let number = |field: &str, text: &str| {
            text.parse::<u128>()
                .map_err(|_| format!("the node sent a malformed {field}: {text:?}"))
        };
        let mut call_fees = std::collections::BTreeMap::new();
        for (kind, fee) in &self.call_fees {
            let key = types::Text::new(kind.as_str()).map_err(|e| e.to_string())?;
            call_fees.insert(key, number("call fee", fee)?);
        }
        Ok(ledger::Params {
            fee_per_byte: number("fee_per_byte", &self.fee_per_byte)?,
            default_call_fee: number("default_call_fee", &self.default_call_fee)?,
            call_fees,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AssetView {
    pub asset: u32,
    pub symbol: String,
    pub name: String,
    pub decimals: u8,
    pub issuer: Option<String>,
    /// Minor units, as text.
    pub max_supply: Option<String>,
    /// Minor units in circulation (minted minus burned), as text.
    pub supply: String,
}

impl AssetView {
    /// Every asset in the ledger, by id.
    pub fn read_all(store: &(impl Store + ?Sized)) -> Vec<Self> {
        (0..state::next_asset_id(store).0)
            .filter_map(|id| {
                let info = state::asset(store, AssetId(id))?;
                Some(Self {
                    asset: id,
                    symbol: info.symbol.to_string(),
                    name: info.name.to_string(),
                    decimals: info.decimals,
                    issuer: info.issuer.map(|issuer| issuer.to_string()),
                    max_supply: info.max_supply.map(|max| max.to_string()),
                    supply: info.supply.to_string(),
                })
            })
            .collect()
    }
}

/// An amount of an asset: decimal text for people, minor units for programs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Money {
    pub asset: u32,
    pub symbol: String,
    /// Decimal text, for example "12.5".
    pub amount: String,
    pub minor_units: String,
}

impl Money {
    /// `minor` units of `asset`, formatted with the asset's decimals.
    pub fn read(store: &(impl Store + ?Sized), asset: AssetId, minor: u128) -> Self {
        let (symbol, decimals) = state::asset(store, asset).map_or_else(
            || (format!("#{}", asset.0), 0),
            |info| (info.symbol.to_string(), info.decimals),
        );
        Self {
            asset: asset.0,
            symbol,
            amount: amount::format(minor, decimals),
            minor_units: minor.to_string(),
        }
    }

    /// The minor units as a number.
    pub fn minor(&self) -> u128 {
        self.minor_units.parse().unwrap_or(0)
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.amount, self.symbol)
    }
}

/// An asset named by its symbol ("USDX") or id ("1"), with its decimals.
pub fn asset_ref(store: &(impl Store + ?Sized), text: &str) -> Result<(AssetId, u8), String> {
    let id = match text.parse::<u32>() {
        Ok(id) => AssetId(id),
        Err(_) => {
            let symbol = types::Symbol::new(text).map_err(|e| format!("asset {text:?}: {e}"))?;
            state::asset_by_symbol(store, &symbol).ok_or_else(|| format!("no asset {text:?}"))?
        }
    };
    let info = state::asset(store, id).ok_or_else(|| format!("no asset {text:?}"))?;
    Ok((id, info.decimals))
}

/// Decimal text as minor units with `decimals` digits, naming `what` in the error.
pub fn parse_decimal(text: &str, decimals: u8, what: &str) -> Result<u128, String> {
    amount::parse(text, decimals).map_err(|e| format!("{what} {text:?}: {e}"))
}

/// One ledger record with its proof against a block's state root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProofRecordView {
    /// The ledger key, hex.
    pub key: String,
    /// The ledger value, hex.
    pub value: String,
    /// The authenticated store's proof that the key currently has this value, hex.
    pub proof: String,
}

/// What a light client needs to check an account's nonce and balances without trusting the node:
/// a finalized block, its finalization certificate, and each record's proof against the block's
/// state root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AccountProofView {
    pub account: String,
    pub height: u64,
    /// The encoded block, hex: its digest is what the certificate signs.
    pub block: String,
    /// The encoded finalization certificate, hex.
    pub finalization: String,
    /// The account's nonce record (when it has sent anything) and every balance record it has.
    /// A zero balance has no record, and the store cannot prove absence.
    pub records: Vec<ProofRecordView>,
}

/// A recent epoch's boundary: the finalized block that ends the previous epoch and carries this
/// one's committee and key, with its finalization certificate. A joining node starts its search
/// for peers from this epoch's committee instead of the genesis validators; it checks the
/// certificate against the chain's public key from genesis, so a node that serves a checkpoint
/// can make it old, never false.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckpointView {
    /// The epoch whose committee the block names.
    pub epoch: u64,
    /// The block's height: the last of the previous epoch.
    pub height: u64,
    /// The encoded block, hex.
    pub block: String,
    /// The encoded finalization certificate, hex.
    pub finalization: String,
}

/// One transaction of an account's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HistoryView {
    /// Pass as `before` to list the transactions older than this one. Each node numbers its
    /// own history, so a cursor is good only on the node that gave it.
    #[serde(default)]
    pub cursor: String,
    pub timestamp_ms: u64,
    pub signer: String,
    /// The call, e.g. "bank.transfer".
    pub call: String,
    #[serde(flatten)]
    pub receipt: ReceiptView,
}
