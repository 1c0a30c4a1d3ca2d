//! The JSON-RPC server: HTTP and WebSocket on one port, with bounded requests and connections.
//!
//! Every method is registered through [`Api`], which also records its parameters and result
//! schema, so `rpc.discover` describes exactly what is served. Parameters are positional; a
//! trailing optional parameter may be left out.

use crate::{
    Backend, SubmitError,
    book::{BookCache, OfferPage},
    code,
    fast::OfferListLayer,
    lending::{CreditOfferQuery, CreditOfferView, LendingParamsView, LoanQuery, LoanView},
    market::{
        ArbitratorView, ChatView, MarketParamsView, OfferQuery, OfferView, ReputationView,
        TradeView, trades_of,
    },
    method,
    observe::{Observation, Observed, RequestObserver},
    simulate::SimulationView,
    staking::StakingView,
    views::{
        AccountProofView, AccountView, AssetView, BlockView, BlocksPageView, CheckpointView,
        ErrorView, HistoryView, ParamsView, ReceiptView, SubmittedView, tx_id_hex,
    },
};
use jsonrpsee::{
    PendingSubscriptionSink, RpcModule,
    core::middleware::RpcServiceBuilder,
    server::{BatchRequestConfig, ServerBuilder, ServerConfig, ServerHandle},
    types::{ErrorObject, ErrorObjectOwned, Params, error::INVALID_PARAMS_CODE},
};
use ledger::MemoryStore;
use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};
use std::{
    net::SocketAddr,
    sync::{Arc, Weak},
    time::Duration,
};
use types::{AccountId, Digest, SignedTransaction, tx::TxDecodeError};

/// Bounds on what one client can ask of the server.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_request_body_bytes: u32,
    pub max_response_body_bytes: u32,
    pub max_connections: u32,
    pub max_batch_requests: u32,
    pub max_subscriptions_per_connection: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // A transaction is at most 64 KiB, hex doubles it; leave room for the envelope.
            max_request_body_bytes: 256 * 1024,
            max_response_body_bytes: 16 * 1024 * 1024,
            max_connections: 256,
            max_batch_requests: 64,
            max_subscriptions_per_connection: 64,
        }
    }
}

/// Blocks one look of the block subscription covers: more than are finalized between looks.
const RECENT_BLOCKS: u64 = 256;

/// How often subscriptions look at the finalized state for news.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObject::owned(INVALID_PARAMS_CODE, message.into(), None::<()>)
}

fn unhex(text: &str) -> Result<Vec<u8>, ErrorObjectOwned> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(digits).map_err(|_| invalid_params(format!("{text:?} is not hex")))
}

fn parse_account(text: &str) -> Result<AccountId, ErrorObjectOwned> {
    AccountId::parse(text).map_err(|e| invalid_params(format!("invalid address {text:?}: {e}")))
}

fn parse_tx_id(text: &str) -> Result<Digest, ErrorObjectOwned> {
    let bytes: [u8; 32] = unhex(text)?
        .try_into()
        .map_err(|_| invalid_params("a transaction id is 32 bytes of hex"))?;
    Ok(Digest(bytes))
}

/// The most transactions one `equa_sendTransactions` call may carry (512 transfers, hex encoded,
/// fit well within the default 256 KiB request limit).
pub const MAX_SUBMISSIONS: usize = 512;

/// A transaction from its encoding, or why it is not one (as a rejection's error).
fn decode_tx(bytes: &[u8]) -> Result<SignedTransaction, ErrorView> {
    SignedTransaction::decode(bytes).map_err(|e| {
        let name = match e {
            TxDecodeError::Oversized { .. } => "Oversized",
            TxDecodeError::Malformed(_) => "Malformed",
        };
        ErrorView {
            code: name.to_string(),
            message: e.to_string(),
        }
    })
}

fn submit_error(error: SubmitError) -> ErrorObjectOwned {
    match error {
        SubmitError::Rejected(view) => {
            ErrorObject::owned(code::TRANSACTION_REJECTED, view.message.clone(), Some(view))
        }
        SubmitError::Busy(message) => ErrorObject::owned(code::BUSY, message, None::<()>),
    }
}

/// Positional parameters as a tuple; missing trailing parameters read as `null`, so a trailing
/// `Option` may be left out.
fn positional<P: DeserializeOwned>(
    params: &Params<'_>,
    count: usize,
) -> Result<P, ErrorObjectOwned> {
    let mut values: Vec<Value> = match params.as_str() {
        None => Vec::new(),
        Some(raw) => match serde_json::from_str(raw)
            .map_err(|e| invalid_params(format!("parameters are not JSON: {e}")))?
        {
            Value::Array(values) => values,
            _ => return Err(invalid_params("parameters are positional: send an array")),
        },
    };
    if values.len() > count {
        return Err(invalid_params(format!(
            "expected at most {count} parameters, got {}",
            values.len()
        )));
    }
    values.resize(count, Value::Null);
    // A method without parameters takes `()`, which JSON spells `null`.
    let values = if count == 0 {
        Value::Null
    } else {
        Value::Array(values)
    };
    serde_json::from_value(values).map_err(|e| invalid_params(format!("invalid parameters: {e}")))
}

/// One parameter of a method, for the OpenRPC document.
struct Param {
    name: &'static str,
    required: bool,
    schema: Value,
}

fn param<T: JsonSchema>(generator: &mut SchemaGenerator, name: &'static str) -> Param {
    Param {
        name: name.trim_end_matches('?'),
        required: !name.ends_with('?'),
        schema: generator.subschema_for::<T>().to_value(),
    }
}

/// The server's methods and their description.
struct Api {
    module: RpcModule<Arc<dyn Backend>>,
    generator: SchemaGenerator,
    methods: Vec<Value>,
}

impl Api {
    fn describe(&mut self, name: &str, summary: &str, params: Vec<Param>, result: Value) {
        self.methods.push(json!({
            "name": name,
            "summary": summary,
            "paramStructure": "by-position",
            "params": params.into_iter().map(|p| json!({
                "name": p.name, "required": p.required, "schema": p.schema,
            })).collect::<Vec<_>>(),
            "result": { "name": "result", "schema": result },
        }));
    }

    /// A method answered from the backend. `P` is the tuple of its parameters, named in
    /// `params` (a trailing `?` marks an optional one).
    fn method<P, R>(
        &mut self,
        name: &'static str,
        summary: &str,
        params: Vec<Param>,
        answer: impl Fn(&dyn Backend, P) -> Result<R, ErrorObjectOwned> + Send + Sync + 'static,
    ) where
        P: DeserializeOwned + Send + 'static,
        R: Serialize + JsonSchema + Clone + Send + 'static,
    {
        let count = params.len();
        let result = self.generator.subschema_for::<R>().to_value();
        self.describe(name, summary, params, result);
        self.module
            .register_method(name, move |raw, backend, _| {
                answer(&**backend, positional(&raw, count)?)
            })
            .expect("method names are unique");
    }

    /// A query of the latest finalized ledger state.
    fn query<P, R>(
        &mut self,
        name: &'static str,
        summary: &str,
        params: Vec<Param>,
        answer: impl Fn(&MemoryStore, P) -> Result<R, ErrorObjectOwned> + Send + Sync + 'static,
    ) where
        P: DeserializeOwned + Send + 'static,
        R: Serialize + JsonSchema + Clone + Send + 'static,
    {
        self.method(name, summary, params, move |backend, p| {
            answer(&backend.state(), p)
        });
    }

    /// A subscription that sends each item of `look(state)` that was not in its previous answer
    /// (and, when `initial`, every item of the first answer), checking the finalized state every
    /// [`POLL_INTERVAL`].
    fn watch<P, R>(
        &mut self,
        names: [&'static str; 3],
        initial: bool,
        summary: &str,
        params: Vec<Param>,
        look: impl Fn(&dyn Backend, &P) -> Result<Vec<R>, ErrorObjectOwned> + Send + Sync + 'static,
    ) where
        P: DeserializeOwned + Send + Sync + 'static,
        R: Serialize + JsonSchema + PartialEq + Send + 'static,
    {
        let [subscribe, notification, unsubscribe] = names;
        let count = params.len();
        let result = self.generator.subschema_for::<R>().to_value();
        self.describe(
            subscribe,
            &format!(
                "{summary} Returns a subscription id; notifications arrive as \
                 `{notification}`; `{unsubscribe}` ends it."
            ),
            params,
            result,
        );
        let look = Arc::new(look);
        self.module
            .register_subscription(
                subscribe,
                notification,
                unsubscribe,
                move |raw, pending: PendingSubscriptionSink, backend, _| {
                    let look = look.clone();
                    async move {
                        let parsed: P = match positional(&raw, count) {
                            Ok(parsed) => parsed,
                            Err(error) => return pending.reject(error).await,
                        };
                        let mut last: Vec<R> = match look(&**backend, &parsed) {
                            Ok(_) if initial => Vec::new(),
                            Ok(first) => first,
                            Err(error) => return pending.reject(error).await,
                        };
                        let Ok(sink) = pending.accept().await else {
                            return;
                        };
                        let mut ticker = tokio::time::interval(POLL_INTERVAL);
                        loop {
                            tokio::select! {
                                _ = sink.closed() => return,
                                _ = ticker.tick() => {}
                            }
                            let Ok(now) = look(&**backend, &parsed) else {
                                return;
                            };
                            let fresh: Vec<_> = now
                                .iter()
                                .filter(|item| !last.contains(item))
                                .filter_map(|item| serde_json::value::to_raw_value(item).ok())
                                .collect();
                            last = now;
                            for message in fresh {
                                if sink.send(message).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                },
            )
            .expect("method names are unique");
    }

    fn finish(mut self) -> RpcModule<Arc<dyn Backend>> {
        let document = json!({
            "openrpc": "1.3.2",
            "info": {
                "title": "Equa node JSON-RPC",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "Amounts are decimal strings with minor units beside them; \
                    addresses are bech32m `equa1...`; ids of transactions are 0x-prefixed hex.",
            },
            "methods": self.methods,
            "components": { "schemas": self.generator.take_definitions(true) },
        });
        self.module
            .register_method(method::DISCOVER, move |_, _, _| {
                Ok::<_, ErrorObjectOwned>(document.clone())
            })
            .expect("method names are unique");
        self.module
    }
}

fn bad(message: String) -> ErrorObjectOwned {
    invalid_params(message)
}

/// A page of the offer book of the latest finalized state.
fn offer_page(
    backend: &dyn Backend,
    books: &BookCache,
    query: Option<OfferQuery>,
) -> Result<OfferPage, ErrorObjectOwned> {
    let (state, revision) = backend.market_state();
    let book = books.book(&state, revision);
    book.page(&*state, &query.unwrap_or_default()).map_err(bad)
}

/// `equa_listOffers` with its parameters as sent: what the method answers.
pub(crate) fn list_offers(
    backend: &dyn Backend,
    books: &BookCache,
    params: &Params<'_>,
) -> Result<OfferPage, ErrorObjectOwned> {
    let (query,) = positional(params, 1)?;
    offer_page(backend, books, query)
}

/// The RPC methods over `backend`.
pub fn module(backend: Arc<dyn Backend>) -> RpcModule<Arc<dyn Backend>> {
    module_with(backend, Arc::new(BookCache::default()))
}

/// The RPC methods over `backend`, with the offer book kept in `books`.
fn module_with(backend: Arc<dyn Backend>, books: Arc<BookCache>) -> RpcModule<Arc<dyn Backend>> {
    let mut settings = SchemaSettings::draft07();
    settings.definitions_path = "#/components/schemas/".into();
    let mut api = Api {
        module: RpcModule::new(backend),
        generator: settings.into_generator(),
        methods: Vec::new(),
    };
    let g = &mut api.generator;
    let address = param::<String>(g, "address");
    let id = |g: &mut SchemaGenerator| param::<u64>(g, "id");

    api.method(
        method::STATUS,
        "The node's chain, role, finalized height and sync target, peers and mempool.",
        vec![],
        |backend, (): ()| Ok(backend.status()),
    );
    api.method(
        method::GET_FIGURES,
        "The node's recent figures, one sample a second for the last minutes, oldest first: \
         finalized height, blocks and transactions finalized, finality time, mempool size and \
         connected peers.",
        vec![],
        |backend, (): ()| Ok(backend.figures()),
    );
    api.query(
        method::GET_PARAMS,
        "The fee schedule.",
        vec![],
        |store, (): ()| Ok(ParamsView::new(&ledger::state::params(store))),
    );
    api.query(
        method::GET_ASSETS,
        "Every asset.",
        vec![],
        |store, (): ()| Ok(AssetView::read_all(store)),
    );
    api.query(
        method::GET_ACCOUNT,
        "An account's nonce and balances.",
        vec![address],
        |store, (address,): (String,)| Ok(AccountView::read(store, &parse_account(&address)?)),
    );
    let g = &mut api.generator;
    let address = param::<String>(g, "address");
    let result = g.subschema_for::<AccountProofView>().to_value();
    api.describe(
        method::GET_ACCOUNT_PROOF,
        "An account's nonce and balance records at the latest finalized height, each with a \
         proof against the block's state root, the block and its finalization certificate: \
         `equa account show --verify` checks them trusting only the chain's public key from genesis.",
        vec![address],
        result,
    );
    api.module
        .register_async_method(method::GET_ACCOUNT_PROOF, |raw, backend, _| async move {
            let (address,): (String,) = positional(&raw, 1)?;
            let account = parse_account(&address)?;
            backend
                .account_proof(account)
                .await
                .map_err(|message| ErrorObject::owned(code::UNAVAILABLE, message, None::<()>))
        })
        .expect("method names are unique");
    let result = api.generator.subschema_for::<CheckpointView>().to_value();
    api.describe(
        method::GET_CHECKPOINT,
        "The boundary of the node's current epoch: the finalized block that names the epoch's \
         committee and key, with its certificate. `equa node checkpoint` writes it for a joining \
         node, which checks it against the chain's public key from genesis and asks that \
         committee, not the genesis validators, for a recent block.",
        vec![],
        result,
    );
    api.module
        .register_async_method(method::GET_CHECKPOINT, |raw, backend, _| async move {
            let (): () = positional(&raw, 0)?;
            backend
                .checkpoint()
                .await
                .map_err(|message| ErrorObject::owned(code::UNAVAILABLE, message, None::<()>))
        })
        .expect("method names are unique");
    let g = &mut api.generator;
    let address = param::<String>(g, "address");
    let limit = param::<Option<u32>>(g, "limit?");
    let before = param::<Option<String>>(g, "before?");
    let result = g.subschema_for::<Vec<HistoryView>>().to_value();
    api.describe(
        method::LIST_HISTORY,
        "An account's transactions, newest first: those it signed and the transfers, mints and \
         burns that moved its balances, from the node's on-disk history of every block it \
         finalized. At most `limit` (default 50, up to 500); with `before`, the `cursor` of an \
         entry this node gave, those older than it.",
        vec![address, limit, before],
        result,
    );
    api.module
        .register_async_method(method::LIST_HISTORY, |raw, backend, _| async move {
            let (address, limit, before): (String, Option<u32>, Option<String>) =
                positional(&raw, 3)?;
            let account = parse_account(&address)?;
            let limit = limit.unwrap_or(50);
            if limit == 0 || limit > crate::market::MAX_PAGE {
                return Err(invalid_params(format!(
                    "limit is 1 to {}, not {limit}",
                    crate::market::MAX_PAGE
                )));
            }
            backend
                .history(account, before, limit as usize)
                .await
                .map_err(|error| match error {
                    crate::backend::HistoryError::BadCursor(message) => invalid_params(message),
                    crate::backend::HistoryError::Unavailable(message) => {
                        ErrorObject::owned(code::UNAVAILABLE, message, None::<()>)
                    }
                })
        })
        .expect("method names are unique");
    let g = &mut api.generator;
    let height = param::<u64>(g, "height");
    api.method(
        method::GET_BLOCK,
        "A recent finalized block, or null.",
        vec![height],
        |backend, (height,): (u64,)| Ok::<Option<BlockView>, _>(backend.block(height)),
    );
    let g = &mut api.generator;
    let before = param::<Option<u64>>(g, "before?");
    let with_transactions = param::<Option<bool>>(g, "with_transactions?");
    api.method(
        method::LIST_BLOCKS,
        "Recent finalized blocks, newest first, below height `before` (default: the latest): \
         at most 20, looking at no more than 1,000 heights a call. With `with_transactions`, \
         only blocks that carry transactions. `next_before` continues the search, null once \
         the kept blocks end.",
        vec![before, with_transactions],
        |backend, (before, with_transactions): (Option<u64>, Option<bool>)| {
            let latest = backend.status().height;
            let below = before
                .unwrap_or(latest.saturating_add(1))
                .min(latest.saturating_add(1));
            Ok::<BlocksPageView, ErrorObjectOwned>(BlocksPageView::read(
                backend,
                below,
                with_transactions.unwrap_or(false),
            ))
        },
    );
    let g = &mut api.generator;
    let tx = param::<String>(g, "tx_id");
    let result = g.subschema_for::<Option<ReceiptView>>().to_value();
    api.describe(
        method::GET_RECEIPT,
        "The receipt of a finalized transaction, or null: from the recent blocks the node keeps \
         in memory, else from its on-disk history of every block it finalized.",
        vec![tx],
        result,
    );
    api.module
        .register_async_method(method::GET_RECEIPT, |raw, backend, _| async move {
            let (id,): (String,) = positional(&raw, 1)?;
            let id = parse_tx_id(&id)?;
            if let Some(receipt) = backend.receipt(&id) {
                return Ok(Some(receipt));
            }
            backend
                .stored_receipt(id)
                .await
                .map_err(|message| ErrorObject::owned(code::UNAVAILABLE, message, None::<()>))
        })
        .expect("method names are unique");
    let g = &mut api.generator;
    let encoded = param::<String>(g, "transaction");
    api.method(
        method::SEND_TRANSACTION,
        "Admits a signed, encoded transaction (hex) into the mempool; returns its id.",
        vec![encoded],
        |backend, (encoded,): (String,)| {
            let tx = decode_tx(&unhex(&encoded)?).map_err(|view| {
                ErrorObject::owned(code::TRANSACTION_REJECTED, view.message.clone(), Some(view))
            })?;
            backend
                .submit(tx)
                .map(|id| tx_id_hex(&id))
                .map_err(submit_error)
        },
    );
    let g = &mut api.generator;
    let encoded = param::<String>(g, "transaction");
    api.method(
        method::SIMULATE_TRANSACTION,
        "Tries a signed, encoded transaction (hex, the parameter of equa_sendTransaction) as the \
         only transaction of the next block, on the latest finalized state at the node's current \
         time, and answers what it would do: outcome, named error, fee, events and every balance \
         it would change. Nothing is kept, admitted to the mempool or relayed. A nonce above the \
         signer's next one is tried as if the transactions before it (waiting in the mempool) \
         had run; their own effects are not counted. A used nonce is rejected. The signature is \
         not checked: sign the copy you ask about with a one-off key, so that it can never be \
         submitted.",
        vec![encoded],
        |backend, (encoded,): (String,)| {
            let tx = decode_tx(&unhex(&encoded)?);
            let state = backend.state();
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            let context = crate::simulate::next_block(&*state, now_ms);
            Ok::<SimulationView, ErrorObjectOwned>(crate::simulate::simulate(&*state, &context, tx))
        },
    );
    let g = &mut api.generator;
    let encoded = param::<Vec<String>>(g, "transactions");
    api.method(
        method::SEND_TRANSACTIONS,
        "Admits up to 512 signed, encoded transactions (hex) at once, their signatures checked \
         in one batch; one result per transaction, in order: its id, or why it was refused (the \
         code \"Busy\" means the pool is full for now).",
        vec![encoded],
        |backend, (encoded,): (Vec<String>,)| {
            if encoded.len() > MAX_SUBMISSIONS {
                return Err(invalid_params(format!(
                    "at most {MAX_SUBMISSIONS} transactions at once, not {}",
                    encoded.len()
                )));
            }
            // Each slot is either refused already or sent on, in order.
            let mut slots: Vec<Option<ErrorView>> = Vec::with_capacity(encoded.len());
            let mut txs = Vec::with_capacity(encoded.len());
            for text in &encoded {
                let decoded = unhex(text)
                    .map_err(|e| ErrorView {
                        code: "Malformed".into(),
                        message: e.message().to_string(),
                    })
                    .and_then(|bytes| decode_tx(&bytes));
                match decoded {
                    Ok(tx) => {
                        txs.push(tx);
                        slots.push(None);
                    }
                    Err(view) => slots.push(Some(view)),
                }
            }
            let mut results = backend.submit_many(txs).into_iter();
            let views = slots
                .into_iter()
                .map(|slot| {
                    let result = match slot {
                        Some(refused) => Err(refused),
                        None => match results.next() {
                            Some(Ok(id)) => Ok(id),
                            Some(Err(SubmitError::Rejected(view))) => Err(view),
                            Some(Err(SubmitError::Busy(message))) => Err(ErrorView {
                                code: "Busy".into(),
                                message,
                            }),
                            None => Err(ErrorView {
                                code: "Busy".into(),
                                message: "the node did not take this transaction".into(),
                            }),
                        },
                    };
                    match result {
                        Ok(id) => SubmittedView {
                            id: Some(tx_id_hex(&id)),
                            error: None,
                        },
                        Err(error) => SubmittedView {
                            id: None,
                            error: Some(error),
                        },
                    }
                })
                .collect();
            Ok::<Vec<SubmittedView>, ErrorObjectOwned>(views)
        },
    );

    // The market.
    api.query(
        method::GET_MARKET_PARAMS,
        "The market's rules: payment methods with their limits, deposits, windows, tiers.",
        vec![],
        |store, (): ()| Ok(MarketParamsView::read(store)),
    );
    let query = param::<Option<OfferQuery>>(&mut api.generator, "filter?");
    api.method(
        method::LIST_OFFERS,
        "Open offers matching the filter: sell before buy, then by asset and currency, best \
         price for a taker first, then oldest first.",
        vec![query],
        move |backend, (query,): (Option<OfferQuery>,)| offer_page(backend, &books, query),
    );
    let offer = id(&mut api.generator);
    api.query(
        method::GET_OFFER,
        "An open offer, or null.",
        vec![offer],
        |store, (id,): (u64,)| {
            let params = ledger::market::params::load(store);
            Ok::<Option<OfferView>, _>(
                ledger::market::Db::offer(store, id).map(|o| OfferView::new(store, &params, &o)),
            )
        },
    );
    let trade = id(&mut api.generator);
    api.query(
        method::GET_TRADE,
        "A trade with its deadlines and the next steps open to each party, or null.",
        vec![trade],
        |store, (id,): (u64,)| {
            Ok::<Option<TradeView>, _>(
                ledger::market::Db::trade(store, id).map(|t| TradeView::new(store, &t)),
            )
        },
    );
    let g = &mut api.generator;
    let (account, trade, from) = (
        param::<String>(g, "address"),
        param::<u64>(g, "trade"),
        param::<Option<u32>>(g, "from?"),
    );
    api.query(
        method::LIST_TRADES,
        "Trades an account is a party to or arbitrates, newest first.",
        vec![account],
        |store, (address,): (String,)| Ok(trades_of(store, &parse_account(&address)?)),
    );
    api.query(
        method::GET_CHAT,
        "A trade's sealed chat messages from index `from`, with the chat keys involved.",
        vec![trade, from],
        |store, (id, from): (u64, Option<u32>)| {
            Ok::<Option<ChatView>, _>(
                ledger::market::Db::trade(store, id)
                    .map(|t| ChatView::read(store, &t, from.unwrap_or(0))),
            )
        },
    );
    api.query(
        method::LIST_ARBITRATORS,
        "Registered arbitrators with their bond, fee and public statistics.",
        vec![],
        |store, (): ()| Ok::<Vec<ArbitratorView>, _>(ArbitratorView::all(store)),
    );
    let address = param::<String>(&mut api.generator, "address");
    api.query(
        method::GET_REPUTATION,
        "An account's profile, merchant tier, trade record and credit history.",
        vec![address],
        |store, (address,): (String,)| Ok(ReputationView::read(store, &parse_account(&address)?)),
    );

    // Staking.
    let address = param::<Option<String>>(&mut api.generator, "address?");
    api.query(
        method::GET_STAKING,
        "The validator registry: its rules, the candidates in rank order with their bonds, the \
         committee they elect, and the given account's record if it is unbonding.",
        vec![address],
        |store, (address,): (Option<String>,)| {
            let also = match address {
                Some(address) => vec![parse_account(&address)?],
                None => Vec::new(),
            };
            Ok(StakingView::read(store, &also))
        },
    );

    // Lending.
    api.query(
        method::GET_LENDING_PARAMS,
        "The lending rules: funding share, grace period, late fee, default threshold.",
        vec![],
        |store, (): ()| Ok(LendingParamsView::read(store)),
    );
    let query = param::<Option<LoanQuery>>(&mut api.generator, "filter?");
    api.query(
        method::LIST_LOANS,
        "Loans and open requests matching the filter.",
        vec![query],
        |store, (query,): (Option<LoanQuery>,)| query.unwrap_or_default().run(store).map_err(bad),
    );
    let loan = id(&mut api.generator);
    api.query(
        method::GET_LOAN,
        "A loan with its schedule, what it owes now and its lenders' positions, or null.",
        vec![loan],
        |store, (id,): (u64,)| {
            Ok::<Option<LoanView>, _>(
                ledger::lending::Db::loan(store, id).map(|l| LoanView::new(store, &l, true)),
            )
        },
    );
    let query = param::<Option<CreditOfferQuery>>(&mut api.generator, "filter?");
    api.query(
        method::LIST_CREDIT_OFFERS,
        "Lenders' open credit offers.",
        vec![query],
        |store, (query,): (Option<CreditOfferQuery>,)| {
            query.unwrap_or_default().run(store).map_err(bad)
        },
    );
    let offer = id(&mut api.generator);
    api.query(
        method::GET_CREDIT_OFFER,
        "A credit offer, or null.",
        vec![offer],
        |store, (id,): (u64,)| {
            Ok::<Option<CreditOfferView>, _>(
                ledger::lending::Db::credit_offer(store, id)
                    .map(|o| CreditOfferView::new(store, &o)),
            )
        },
    );

    // Where an account's money is, and how a trade ended (crates/rpc/src/{funds,outcome}.rs).
    let address = param::<String>(&mut api.generator, "address");
    api.query(
        method::GET_ACCOUNT_FUNDS,
        "An account's funds per asset: available, and each part the market and lending hold \
         for it (offers, trades, collateral, loan requests, bond, claimable) with the records \
         holding it, plus its share of principal lent out.",
        vec![address],
        |store, (address,): (String,)| {
            Ok(crate::funds::FundsView::read(
                store,
                &parse_account(&address)?,
            ))
        },
    );
    let trade = id(&mut api.generator);
    api.method(
        method::GET_TRADE_OUTCOME,
        "A trade's timeline and, once settled, who received what and why (from the settling \
         transaction's receipt, while this node keeps its block), or null.",
        vec![trade],
        |backend, (id,): (u64,)| {
            Ok::<Option<crate::outcome::TradeOutcomeView>, _>(
                ledger::market::Db::trade(&*backend.state(), id)
                    .map(|t| crate::outcome::TradeOutcomeView::read(backend, &t)),
            )
        },
    );

    // Subscriptions.
    api.watch(
        method::SUBSCRIBE_BLOCKS,
        false,
        "Every block as it is finalized, in order.",
        vec![],
        |backend, (): &()| {
            // The blocks finalized since the last look are among the most recent ones.
            let height = backend.status().height;
            let blocks = (height.saturating_sub(RECENT_BLOCKS)..=height)
                .filter_map(|h| backend.block(h))
                .collect::<Vec<BlockView>>();
            Ok(blocks)
        },
    );
    let address = param::<String>(&mut api.generator, "address");
    api.watch(
        method::SUBSCRIBE_ACCOUNT,
        true,
        "An account's nonce and balances whenever a finalized block changes them.",
        vec![address],
        |backend, (address,): &(String,)| {
            let account = parse_account(address)?;
            Ok(vec![AccountView::read(&*backend.state(), &account)])
        },
    );
    let trade = param::<u64>(&mut api.generator, "trade");
    api.watch(
        method::SUBSCRIBE_TRADE,
        true,
        "A trade whenever a finalized block changes it (state, messages, ratings).",
        vec![trade],
        |backend, (id,): &(u64,)| {
            let store = backend.state();
            let trade = ledger::market::Db::trade(&*store, *id)
                .ok_or_else(|| invalid_params(format!("no trade {id}")))?;
            let mut view = TradeView::new(&*store, &trade);
            // The suggested next steps move with the clock; only the trade itself is news.
            view.next.clear();
            Ok(vec![view])
        },
    );
    api.finish()
}

/// Starts the server on `address` (port 0 picks a free port). Returns the bound address and a
/// handle that stops the server when told to, or when dropped after `stop`.
pub async fn serve(
    address: SocketAddr,
    backend: Arc<dyn Backend>,
    limits: Limits,
) -> std::io::Result<(SocketAddr, ServerHandle)> {
    serve_observed(
        address,
        backend,
        limits,
        Arc::new(crate::observe::Unobserved),
    )
    .await
}

/// [`serve`], reporting every answered call to `observer`.
pub async fn serve_observed(
    address: SocketAddr,
    backend: Arc<dyn Backend>,
    limits: Limits,
    observer: Arc<dyn RequestObserver>,
) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let config = ServerConfig::builder()
        .max_request_body_size(limits.max_request_body_bytes)
        .max_response_body_size(limits.max_response_body_bytes)
        .max_connections(limits.max_connections)
        .max_subscriptions_per_connection(limits.max_subscriptions_per_connection)
        .set_batch_request_config(BatchRequestConfig::Limit(limits.max_batch_requests))
        .build();
    let books = Arc::new(BookCache::default());
    let module = module_with(backend.clone(), books.clone());
    let observation = Observation::new(
        module
            .method_names()
            .chain([crate::observe::BATCH, crate::observe::OTHER_METHOD]),
        observer,
    );
    let offers = OfferListLayer::new(
        backend.clone(),
        books.clone(),
        limits.max_request_body_bytes,
        limits.max_response_body_bytes,
    )
    .observed(observation.clone());
    let server = ServerBuilder::default()
        .set_config(config)
        .set_http_middleware(tower::ServiceBuilder::new().layer(offers))
        .set_rpc_middleware(RpcServiceBuilder::new().layer_fn(move |service| Observed {
            service,
            observation: observation.clone(),
        }))
        .build(address)
        .await?;
    let bound = server.local_addr()?;
    let handle = server.start(module);
    tokio::spawn(follow_books(
        Arc::downgrade(&backend),
        Arc::downgrade(&books),
    ));
    Ok((bound, handle))
}

/// Brings the offer book to the latest state every [`POLL_INTERVAL`], whether or not anyone
/// asks, for as long as the server holds the book (it lets go of it when it stops). The cache
/// holds the state its book was read from; a ledger state keeps alive every value written
/// since that a live older state may still read, so a book left on an old state (one query,
/// then silence) would keep every value the chain writes after it. Followed, the cache's state
/// is never more than one poll old, and a query finds its book brought across already.
async fn follow_books(backend: Weak<dyn Backend>, books: Weak<BookCache>) {
    let mut ticker = tokio::time::interval(POLL_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let (Some(backend), Some(books)) = (backend.upgrade(), books.upgrade()) else {
            return;
        };
        // A book update may take milliseconds: not on the server's threads.
        let followed = tokio::task::spawn_blocking(move || {
            let (state, revision) = backend.market_state();
            books.book(&state, revision);
        });
        if let Err(error) = followed.await {
            tracing::warn!(%error, "the offer book could not follow the latest state");
        }
    }
}
