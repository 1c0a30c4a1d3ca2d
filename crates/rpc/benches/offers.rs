//! `equa_listOffers` under load: 100,000 open offers made by real `CreateOffer` transactions,
//! served by the real JSON-RPC server on 127.0.0.1, queried by concurrent HTTP clients in the
//! same process (they share the machine's cores with the server). Each query filters by side,
//! asset and currency, sometimes by payment method or price, and asks for a page of 50 at a
//! random offset among the first 2,000 matches.
//!
//! Prints the time to index the book, the time to bring it across one more block of offer
//! changes (300 offers made or cancelled) by what changed against reading it again, requests
//! per second, and latency percentiles. `cargo bench -p rpc --bench offers` (set
//! `EQUA_BENCH_OFFERS`, `EQUA_BENCH_SECS` and `EQUA_BENCH_CLIENTS` to vary).

use ledger::{
    BlockContext, MemoryStore,
    testing::{TestChain, account},
};
use rpc::{
    Backend, Limits, RpcClient, SubmitError,
    book::OfferBook,
    market::OfferQuery,
    views::{BlockView, ReceiptView, StatusView},
};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use types::{
    AssetId, Call, SignedTransaction, Symbol, Text, TxId,
    bank::{BankCall, IssueAsset, Mint},
    market::*,
};

/// Open offers made before measuring (`EQUA_BENCH_OFFERS`).
const OFFERS: u64 = 100_000;
const MAKERS: u64 = 200;
const FIATS: [&str; 5] = ["EUR", "USD", "GBP", "BRL", "INR"];
/// WISE pays in all five currencies; SWIFT and F2F in any.
const METHODS: [u16; 3] = [38, 40, 45];

/// A fixed state: the benchmark measures reads only.
struct Frozen(Arc<MemoryStore>);

impl Backend for Frozen {
    fn status(&self) -> StatusView {
        unreachable!("not queried")
    }
    fn state(&self) -> Arc<MemoryStore> {
        self.0.clone()
    }
    fn block(&self, _: u64) -> Option<BlockView> {
        None
    }
    fn receipt(&self, _: &TxId) -> Option<ReceiptView> {
        None
    }
    fn submit(&self, _: SignedTransaction) -> Result<TxId, SubmitError> {
        Err(SubmitError::Busy("read-only".into()))
    }
}

/// A deterministic stream of numbers (SplitMix64), so every run builds the same book.
struct Numbers(u64);

impl Numbers {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn build_book(offers: u64) -> (TestChain, Vec<u64>, Numbers) {
    let mut chain = TestChain::new(MAKERS + 1, u128::from(u64::MAX));
    chain.check_conservation = false;
    let issuer = MAKERS;
    let issue = BankCall::IssueAsset(IssueAsset {
        symbol: Symbol::new("USDX").unwrap(),
        name: Text::new("Dollar").unwrap(),
        decimals: 6,
        max_supply: None,
    });
    assert!(chain.bank(issuer, issue).is_success());
    let usd = AssetId(1);
    let mut block = Vec::new();
    for maker in 0..MAKERS {
        let mint = BankCall::Mint(Mint {
            asset: usd,
            to: account(maker),
            amount: 1_000_000_000_000_000,
        });
        block.push(chain.tx_with(issuer, maker + 1, Call::Bank(mint)));
    }
    let context = chain.next_context();
    assert!(
        chain
            .apply_with(&context, &block)
            .iter()
            .all(|r| r.is_success())
    );

    let mut numbers = Numbers(7);
    let mut nonces = vec![0u64; MAKERS as usize];
    let mut made = 0;
    while made < offers {
        let mut block = Vec::with_capacity(2_000);
        for _ in 0..2_000.min(offers - made) {
            block.push(create_offer(&mut chain, &mut numbers, &mut nonces));
        }
        let context: BlockContext = chain.next_context();
        let receipts = chain.apply_with(&context, &block);
        assert!(receipts.iter().all(|r| r.is_success()), "{:?}", receipts[0]);
        made += block.len() as u64;
    }
    (chain, nonces, numbers)
}

/// A random maker's signed `CreateOffer`.
fn create_offer(
    chain: &mut TestChain,
    numbers: &mut Numbers,
    nonces: &mut [u64],
) -> SignedTransaction {
    let usd = AssetId(1);
    let maker = numbers.below(MAKERS);
    let methods = match numbers.below(3) {
        0 => vec![PaymentMethod::Registered(METHODS[0])],
        1 => vec![
            PaymentMethod::Registered(METHODS[0]),
            PaymentMethod::Registered(METHODS[1]),
        ],
        _ => vec![PaymentMethod::Registered(METHODS[2])],
    };
    let offer = CreateOffer {
        side: if numbers.below(2) == 0 {
            Side::Sell
        } else {
            Side::Buy
        },
        asset: usd,
        fiat: Fiat::new(FIATS[numbers.below(5) as usize]).unwrap(),
        // 0.90 to 1.10 per USDX.
        price: 90 + u128::from(numbers.below(21)),
        min_amount: 10_000_000,
        max_amount: 10_000_000 * u128::from(1 + numbers.below(100)),
        methods,
        payment_window_secs: 86_400,
        terms: Text::new("").unwrap(),
        buyer_deposit_bps: 1_000,
        seller_deposit_bps: 1_000,
        min_taker_trades: 0,
        min_taker_tier: 0,
    };
    let nonce = &mut nonces[maker as usize];
    let call = Call::Market(MarketCall::CreateOffer(offer));
    let tx = chain.tx_with(maker, *nonce, call);
    *nonce += 1;
    tx
}

/// One more block on `chain`: 200 offers made and 100 cancelled by their makers.
fn offer_changes(chain: &mut TestChain, numbers: &mut Numbers, nonces: &mut [u64]) {
    let mut block: Vec<SignedTransaction> = (0..200)
        .map(|_| create_offer(chain, numbers, nonces))
        .collect();
    let last = ledger::market::Db::last_offer_id(&chain.store);
    let mut cancelled = std::collections::BTreeSet::new();
    while cancelled.len() < 100 {
        let id = 1 + numbers.below(last);
        let Some(offer) = ledger::market::Db::offer(&chain.store, id) else {
            continue;
        };
        if !cancelled.insert(id) {
            continue;
        }
        let maker = (0..MAKERS).find(|m| account(*m) == offer.maker).unwrap();
        let call = Call::Market(MarketCall::CancelOffer(OfferRef { offer: id }));
        block.push(chain.tx_with(maker, nonces[maker as usize], call));
        nonces[maker as usize] += 1;
    }
    let context: BlockContext = chain.next_context();
    let receipts = chain.apply_with(&context, &block);
    assert!(receipts.iter().all(|r| r.is_success()), "{:?}", receipts[0]);
}

fn queries() -> Vec<OfferQuery> {
    let mut numbers = Numbers(11);
    (0..256)
        .map(|_| OfferQuery {
            side: Some(if numbers.below(2) == 0 { "sell" } else { "buy" }.into()),
            asset: Some("USDX".into()),
            fiat: Some(FIATS[numbers.below(5) as usize].into()),
            method: (numbers.below(3) == 0).then(|| "WISE".into()),
            max_price: (numbers.below(4) == 0).then(|| "1.00".into()),
            limit: Some(50),
            offset: Some(numbers.below(2_000) as u32),
            ..OfferQuery::default()
        })
        .collect()
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let seconds = env_number("EQUA_BENCH_SECS", 10);
    let clients = env_number("EQUA_BENCH_CLIENTS", 32);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let offers = env_number("EQUA_BENCH_OFFERS", OFFERS);
    println!("{cores} cores");
    let started = Instant::now();
    let (mut chain, mut nonces, mut numbers) = build_book(offers);
    println!(
        "built {offers} offers by CreateOffer transactions in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let store = Arc::new(chain.store.clone());
    let started = Instant::now();
    let book = OfferBook::read(&store);
    println!(
        "indexing the book (decode and sort {} offers): {:.1} ms",
        book.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    assert_eq!(book.len() as u64, offers);

    // One more block of offer changes: the book brought across it against read again.
    let mut update_ms = Vec::new();
    let mut diff_ms = Vec::new();
    let mut read_ms = Vec::new();
    let mut before = chain.store.clone();
    let mut book_now = OfferBook::read(&before);
    for _ in 0..5 {
        offer_changes(&mut chain, &mut numbers, &mut nonces);
        let after = chain.store.clone();
        let started = Instant::now();
        assert!(after.changed_keys(&before).count() > 0);
        diff_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        let updated = book_now.update(&before, &after);
        update_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        let fresh = OfferBook::read(&after);
        read_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(updated.len(), fresh.len());
        book_now = updated;
        before = after;
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "a block of 300 offer changes on {} offers: update {:.2} ms (of which finding the \
         changed keys {:.2} ms), read again {:.1} ms (median of 5)",
        book_now.len(),
        median(&mut update_ms),
        median(&mut diff_ms),
        median(&mut read_ms)
    );
    drop(book_now);
    // The page itself, without HTTP: filter, skip, take 50 (views cached after the first pass).
    let queries_here = queries();
    for query in &queries_here {
        book.page(&*store, query).unwrap();
    }
    let started = Instant::now();
    let rounds = 20;
    for _ in 0..rounds {
        for query in &queries_here {
            book.page(&*store, query).unwrap();
        }
    }
    println!(
        "a page without HTTP: {:.1} µs on one core",
        started.elapsed().as_secs_f64() * 1e6 / (rounds * queries_here.len()) as f64
    );
    drop(book);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let limits = Limits {
            max_connections: 1_024,
            ..Limits::default()
        };
        let (address, handle) = rpc::serve(
            "127.0.0.1:0".parse().unwrap(),
            Arc::new(Frozen(store)),
            limits,
        )
        .await
        .unwrap();
        let url = format!("http://{address}");
        let queries = Arc::new(queries());

        // Warm up: the first query indexes the book; later ones fill the per-offer JSON cache.
        let client = RpcClient::new(&url).unwrap();
        let first = Instant::now();
        let page = client.offers(&queries[0]).await.unwrap();
        println!(
            "first query (indexes the book): {:.1} ms, {} offers returned, {} bytes of JSON",
            first.elapsed().as_secs_f64() * 1000.0,
            page.len(),
            serde_json::to_string(&page).unwrap().len()
        );
        for query in queries.iter() {
            client.offers(query).await.unwrap();
        }

        let deadline = Instant::now() + Duration::from_secs(seconds);
        let tasks: Vec<_> = (0..clients)
            .map(|index| {
                let url = url.clone();
                let queries = queries.clone();
                tokio::spawn(async move {
                    let client = RpcClient::new(&url).unwrap();
                    let mut latencies_us = Vec::new();
                    let mut next = index as usize;
                    while Instant::now() < deadline {
                        let query = &queries[next % queries.len()];
                        next += 7;
                        let sent = Instant::now();
                        // The client checks the JSON without building it, so that its share of
                        // the two cores stays small.
                        let _: serde::de::IgnoredAny = client
                            .call(rpc::method::LIST_OFFERS, jsonrpsee::rpc_params![query])
                            .await
                            .unwrap();
                        latencies_us.push(sent.elapsed().as_micros() as u64);
                    }
                    latencies_us
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await.unwrap());
        }
        latencies.sort_unstable();
        let percentile = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
        println!(
            "{} requests in {seconds} s from {clients} clients on {cores} cores: {:.0} requests/s",
            latencies.len(),
            latencies.len() as f64 / seconds as f64,
        );
        println!(
            "latency: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            percentile(50) as f64 / 1000.0,
            percentile(90) as f64 / 1000.0,
            percentile(99) as f64 / 1000.0,
            *latencies.last().unwrap() as f64 / 1000.0
        );
        external(&url, &queries, seconds, clients);
        handle.stop().unwrap();
    });
}

/// The same queries from `wrk`, a load generator in its own process written in C, when it is
/// installed: it reads each response without parsing it, so the server gets nearly all of the
/// cores. Every query was answered with offers above, so each response is a real page.
fn external(url: &str, queries: &[OfferQuery], seconds: u64, clients: u64) {
    let Ok(_) = std::process::Command::new("wrk").arg("--version").output() else {
        println!("wrk is not installed (apt-get install wrk): no out-of-process measurement");
        return;
    };
    let bodies: Vec<String> = queries
        .iter()
        .map(|query| {
            serde_json::json!({
                "jsonrpc": "2.0", "id": 1, "method": rpc::method::LIST_OFFERS, "params": [query],
            })
            .to_string()
        })
        .collect();
    let script = format!(
        "local bodies = {{ {} }}\n\
         local headers = {{ [\"Content-Type\"] = \"application/json\" }}\n\
         local i = math.random(#bodies)\n\
         request = function()\n  i = i % #bodies + 1\n  \
         return wrk.format(\"POST\", \"/\", headers, bodies[i])\nend\n",
        bodies
            .iter()
            .map(|body| format!("[[{body}]]"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let path = std::env::temp_dir().join(format!("equa-offers-{}.lua", std::process::id()));
    std::fs::write(&path, script).unwrap();
    let output = std::process::Command::new("wrk")
        .args([
            "-t",
            "1",
            "-c",
            &clients.to_string(),
            "-d",
            &format!("{seconds}s"),
        ])
        .args(["--latency", "-s", path.to_str().unwrap(), url])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&output.stdout);
    println!("wrk, 1 thread, {clients} connections, {seconds} s:");
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("50%")
            || line.starts_with("90%")
            || line.starts_with("99%")
            || line.starts_with("Requests/sec")
            || line.contains("requests in")
            || line.starts_with("Non-2xx")
            || line.contains("errors")
        {
            println!("  {line}");
        }
    }
}
