//! The node's own measurements: Prometheus metrics beside commonware's runtime metrics, and a
//! short history of one sample a second for the web interface's charts (`equa_getFigures`).
//!
//! Every metric is registered on the runtime context the node gives [`NodeMetrics::new`], so one
//! scrape of the node's metrics address returns commonware's (consensus, p2p, storage, runtime)
//! and Equa's together. Equa's are prefixed with that context's label (`equa_` in a node).
//!
//! Labels come only from fixed sets: transaction sources (`rpc`, `relay`), the ledger's and the
//! mempool's named errors, and the JSON-RPC server's registered method names (any other name a
//! client sends is counted as `other`). Nothing a client or a peer sends can add a label value.

use commonware_runtime::{
    Metrics,
    telemetry::metrics::{
        Counter, CounterFamily, Gauge, GaugeExt as _, Histogram, MetricsExt as _, Registered, raw,
    },
};
use rpc::views::{FigureSample, FiguresView};
use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

/// A metric's labels: names and values from fixed sets (see the module docs).
pub type Labels = Vec<(&'static str, String)>;

type HistogramFamily = raw::Family<Labels, raw::Histogram, fn() -> raw::Histogram>;

/// Seconds from a block's proposal to its finalization: from tens of milliseconds on a quiet
/// local network to minutes while a node catches up.
const FINALITY_BUCKETS: [f64; 14] = [
    0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0, 120.0,
];
/// Seconds to execute one block: an empty block in microseconds, a full one in tens of
/// milliseconds.
const EXECUTION_BUCKETS: [f64; 12] = [
    1e-4, 3e-4, 0.001, 0.003, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0,
];
/// Seconds to answer one JSON-RPC call.
const RPC_BUCKETS: [f64; 12] = [
    1e-5, 1e-4, 3e-4, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0,
];

fn rpc_histogram() -> raw::Histogram {
    raw::Histogram::new(RPC_BUCKETS)
}

/// A block whose execution takes longer than this is logged as a warning.
pub const SLOW_EXECUTION: Duration = Duration::from_millis(250);

/// How many one-second samples [`NodeMetrics::figures`] keeps: five minutes.
pub const SAMPLES: usize = 300;

/// Where a transaction offered to the mempool came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A client of this node's JSON-RPC.
    Rpc,
    /// A peer's relayed batch.
    Relay,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Self::Rpc => "rpc",
            Self::Relay => "relay",
        }
    }
}

/// The node's metrics; clones share them.
#[derive(Clone)]
pub struct NodeMetrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for NodeMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeMetrics").finish_non_exhaustive()
    }
}

struct Inner {
    finalized_height: Gauge,
    blocks_finalized: Counter,
    transactions_finalized: Counter,
    finality_seconds: Histogram,
    block_execution_seconds: Histogram,
    mempool_transactions: Gauge,
    admitted: CounterFamily<Labels>,
    refused: CounterFamily<Labels>,
    relayed: Counter,
    storage_bytes: Gauge,
    peers: Gauge,
    sync_target_height: Gauge,
    records_restored: Gauge,
    blocks_reexecuted: Counter,
    states_unsettled: Counter,
    rpc_requests: CounterFamily<Labels>,
    rpc_seconds: Registered<HistogramFamily>,
    window: Mutex<Window>,
}

/// The interval being measured and the samples of the last ones.
#[derive(Default)]
struct Window {
    blocks: u64,
    transactions: u64,
    slowest_finality_ms: Option<u64>,
    samples: VecDeque<FigureSample>,
}

/// What the sampler reads of the node once a second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reading {
    pub at_ms: u64,
    pub height: u64,
    pub mempool_size: u64,
    pub peers: u32,
    pub sync_target_height: u64,
}

impl NodeMetrics {
    /// Registers every metric on `context`.
    pub fn new(context: &impl Metrics) -> Self {
        let rpc_seconds: HistogramFamily = raw::Family::new_with_constructor(rpc_histogram);
        Self {
            inner: Arc::new(Inner {
                finalized_height: context.gauge(
                    "finalized_height",
                    "Height of the last block this node finalized and executed",
                ),
                blocks_finalized: context.counter(
                    "blocks_finalized",
                    "Blocks this process finalized and executed (after a restart, those it \
                     executed again count again)",
                ),
                transactions_finalized: context.counter(
                    "transactions_finalized",
                    "Transactions in the blocks this node finalized",
                ),
                finality_seconds: context.histogram(
                    "finality_seconds",
                    "Time from a block's proposal (its timestamp) to its finalization at this \
                     node",
                    FINALITY_BUCKETS,
                ),
                block_execution_seconds: context.histogram(
                    "block_execution_seconds",
                    "Time to execute a block proposed by another validator against its \
                     parent's state, to verify it",
                    EXECUTION_BUCKETS,
                ),
                mempool_transactions: context.gauge(
                    "mempool_transactions",
                    "Transactions waiting in the mempool",
                ),
                admitted: context.family(
                    "transactions_admitted",
                    "Transactions the mempool admitted, by where they came from",
                ),
                refused: context.family(
                    "transactions_refused",
                    "Transactions the mempool refused, by where they came from and why",
                ),
                relayed: context.counter(
                    "transactions_relayed",
                    "Transactions this node passed on to its peers",
                ),
                storage_bytes: context.gauge(
                    "storage_bytes",
                    "Bytes of this node's data directory on disk",
                ),
                peers: context.gauge("peers", "Peers connected to this node"),
                sync_target_height: context.gauge(
                    "sync_target_height",
                    "The highest finalized height this node has heard of; above \
                     finalized_height while it syncs",
                ),
                records_restored: context.gauge(
                    "ledger_records_restored",
                    "Ledger records this process read back from its authenticated store when \
                     it started (0 on a new node)",
                ),
                blocks_reexecuted: context.counter(
                    "blocks_reexecuted",
                    "Blocks this process executed again to rebuild a ledger state it did not \
                     hold: none after a restart that read the ledger back from its store",
                ),
                states_unsettled: context.counter(
                    "states_unsettled",
                    "Finalized states that could not settle into the shared base because it \
                     follows another line: reads of each then pass through more layers. None \
                     on a healthy node",
                ),
                rpc_requests: context.family(
                    "rpc_requests",
                    "JSON-RPC calls answered, by method and outcome (ok, error, or batched: \
                     answered inside a batch, whose outcome is counted under method batch)",
                ),
                rpc_seconds: context.register(
                    "rpc_seconds",
                    "Time to answer one JSON-RPC call, by method",
                    rpc_seconds,
                ),
                window: Mutex::new(Window::default()),
            }),
        }
    }

    /// A block proposed by another validator was executed, to verify it, in `elapsed`.
    pub fn block_executed(&self, height: u64, transactions: usize, elapsed: Duration) {
        self.inner
            .block_execution_seconds
            .observe(elapsed.as_secs_f64());
        if elapsed > SLOW_EXECUTION {
            tracing::warn!(
                height,
                transactions,
                elapsed_ms = elapsed.as_millis() as u64,
                "slow block: its execution took longer than {} ms",
                SLOW_EXECUTION.as_millis()
            );
        }
    }

    /// Block `height`, carrying `transactions`, was finalized and executed; it was proposed at
    /// `timestamp_ms`, and `finality` is how long ago that was, when it is known (none for a
    /// block finalized before this process started, whose latency this node did not see).
    pub fn block_finalized(&self, height: u64, transactions: usize, finality: Option<Duration>) {
        let inner = &self.inner;
        let _ = inner.finalized_height.try_set(height);
        inner.blocks_finalized.inc();
        inner.transactions_finalized.inc_by(transactions as u64);
        if let Some(finality) = finality {
            inner.finality_seconds.observe(finality.as_secs_f64());
        }
        let mut window = inner.window.lock().expect("lock");
        window.blocks = window.blocks.saturating_add(1);
        window.transactions = window.transactions.saturating_add(transactions as u64);
        if let Some(finality) = finality {
            let ms = u64::try_from(finality.as_millis()).unwrap_or(u64::MAX);
            window.slowest_finality_ms = Some(window.slowest_finality_ms.map_or(ms, |s| s.max(ms)));
        }
    }

    /// The mempool took (`Ok`) or refused (`Err` with the error's name) a transaction.
    pub fn offered(&self, source: Source, outcome: Result<(), &str>) {
        match outcome {
            Ok(()) => {
                self.inner
                    .admitted
                    .get_or_create(&vec![("source", source.label().to_string())])
                    .inc();
            }
            Err(reason) => {
                self.inner
                    .refused
                    .get_or_create(&vec![
                        ("source", source.label().to_string()),
                        ("reason", reason.to_string()),
                    ])
                    .inc();
            }
        }
    }

    /// The ledger was read back from the store at startup: `records` records.
    pub fn ledger_restored(&self, records: usize) {
        let _ = self.inner.records_restored.try_set(records as u64);
    }

    /// A block was executed again to rebuild a state this process did not hold.
    pub fn block_reexecuted(&self) {
        self.inner.blocks_reexecuted.inc();
    }

    /// A finalized state could not settle into the shared base.
    pub fn state_unsettled(&self) {
        self.inner.states_unsettled.inc();
    }

    /// `count` transactions were sent on to the peers.
    pub fn relayed(&self, count: usize) {
        self.inner.relayed.inc_by(count as u64);
    }

    /// The data directory holds `bytes`.
    pub fn storage(&self, bytes: u64) {
        let _ = self.inner.storage_bytes.try_set(bytes);
    }

    /// Closes the current one-second interval with what the node reads now.
    pub fn sample(&self, reading: Reading) {
        let inner = &self.inner;
        let _ = inner.mempool_transactions.try_set(reading.mempool_size);
        let _ = inner.peers.try_set(reading.peers);
        let _ = inner.sync_target_height.try_set(reading.sync_target_height);
        let mut window = inner.window.lock().expect("lock");
        let sample = FigureSample {
            at_ms: reading.at_ms,
            height: reading.height,
            blocks: std::mem::take(&mut window.blocks),
            transactions: std::mem::take(&mut window.transactions),
            finality_ms: window.slowest_finality_ms.take(),
            mempool_size: reading.mempool_size,
            peers: reading.peers,
        };
        if window.samples.len() == SAMPLES {
            window.samples.pop_front();
        }
        window.samples.push_back(sample);
    }

    /// The newest sample, if any.
    pub fn latest(&self) -> Option<FigureSample> {
        self.inner
            .window
            .lock()
            .expect("lock")
            .samples
            .back()
            .cloned()
    }

    /// The samples kept, oldest first.
    pub fn figures(&self) -> FiguresView {
        let window = self.inner.window.lock().expect("lock");
        FiguresView {
            interval_ms: 1_000,
            samples: window.samples.iter().cloned().collect(),
        }
    }
}

impl rpc::RequestObserver for NodeMetrics {
    fn observe(&self, method: &'static str, elapsed: Duration, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.inner
            .rpc_requests
            .get_or_create(&vec![
                ("method", method.to_string()),
                ("outcome", outcome.to_string()),
            ])
            .inc();
        self.inner
            .rpc_seconds
            .get_or_create(&vec![("method", method.to_string())])
            .observe(elapsed.as_secs_f64());
    }

    fn batched(&self, method: &'static str) {
        self.inner
            .rpc_requests
            .get_or_create(&vec![
                ("method", method.to_string()),
                ("outcome", "batched".to_string()),
            ])
            .inc();
    }
}

/// The peers connected and blocked, read from commonware's p2p metrics in `encoded` (the
/// Prometheus text of the whole runtime): the tracker's directory keeps one series per
/// connected peer (`network_tracker_directory_connected{peer="…"}`) and per blocked peer
/// (`…_blocked{peer="…"}`).
pub fn peers_in(encoded: &str) -> PeerReading {
    let mut reading = PeerReading::default();
    for line in encoded.lines() {
        let Some((name, rest)) = line.split_once('{') else {
            continue;
        };
        if !name.contains("_tracker_") {
            continue;
        }
        let list = if name.ends_with("_connected") {
            &mut reading.connected
        } else if name.ends_with("_blocked") {
            &mut reading.blocked
        } else {
            continue;
        };
        if let Some(peer) = rest
            .split_once("peer=\"")
            .and_then(|(_, tail)| tail.split_once('"'))
            .map(|(peer, _)| peer.to_string())
        {
            list.push(peer);
        }
    }
    reading.connected.sort();
    reading.connected.dedup();
    reading.blocked.sort();
    reading.blocked.dedup();
    reading
}

/// Peers named in the p2p metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerReading {
    pub connected: Vec<String>,
    pub blocked: Vec<String>,
}

/// Bytes of the files under `dir`, recursively; unreadable entries count as empty.
pub fn directory_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0u64;
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            total = total.saturating_add(directory_bytes(&entry.path()));
        } else if let Ok(meta) = entry.metadata() {
            total = total.saturating_add(meta.len());
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_runtime::{Runner as _, Supervisor as _, deterministic};

    #[test]
    fn peers_are_read_from_the_tracker_series() {
        let text = "\
# HELP network_tracker_directory_connected Unix timestamp\n\
network_tracker_directory_connected{peer=\"aa01\"} 17\n\
network_tracker_directory_connected{peer=\"bb02\"} 18\n\
network_tracker_directory_blocked{peer=\"cc03\"} 99\n\
network_listener_handshakes_blocked_total 0\n\
network_tracker_tracked 4\n\
other_connected{peer=\"dd04\"} 1\n";
        let reading = peers_in(text);
        assert_eq!(reading.connected, vec!["aa01", "bb02"]);
        assert_eq!(reading.blocked, vec!["cc03"]);
    }

    #[test]
    fn samples_close_intervals_and_keep_the_last_five_minutes() {
        deterministic::Runner::default().start(|context| async move {
            let metrics = NodeMetrics::new(&context);
            metrics.block_finalized(1, 3, Some(Duration::from_millis(80)));
            metrics.block_finalized(2, 0, Some(Duration::from_millis(120)));
            metrics.block_finalized(3, 5, None);
            metrics.sample(Reading {
                at_ms: 1_000,
                height: 3,
                mempool_size: 7,
                peers: 3,
                sync_target_height: 3,
            });
            metrics.sample(Reading {
                at_ms: 2_000,
                height: 3,
                ..Reading::default()
            });
            let figures = metrics.figures();
            assert_eq!(figures.samples.len(), 2);
            let first = &figures.samples[0];
            assert_eq!((first.blocks, first.transactions), (3, 8));
            assert_eq!(first.finality_ms, Some(120));
            assert_eq!((first.mempool_size, first.peers), (7, 3));
            let second = &figures.samples[1];
            assert_eq!((second.blocks, second.finality_ms), (0, None));
            for at in 0..SAMPLES as u64 {
                metrics.sample(Reading {
                    at_ms: 3_000 + at,
                    ..Reading::default()
                });
            }
            let figures = metrics.figures();
            assert_eq!(figures.samples.len(), SAMPLES);
            assert_eq!(figures.samples[0].at_ms, 3_000);
            let encoded = context.encode();
            assert!(encoded.contains("finalized_height 3"), "{encoded}");
            assert!(encoded.contains("blocks_finalized_total 3"), "{encoded}");
        });
    }

    #[test]
    fn every_metric_the_grafana_dashboard_charts_is_registered() {
        deterministic::Runner::default().start(|context| async move {
            // Registered as a node registers them.
            let metrics = NodeMetrics::new(&context.child("equa"));
            // Every family gets a series.
            metrics.block_executed(1, 0, Duration::from_millis(1));
            metrics.block_finalized(1, 0, Some(Duration::from_millis(1)));
            metrics.offered(Source::Rpc, Ok(()));
            metrics.offered(Source::Rpc, Err("NonceTooLow"));
            metrics.relayed(1);
            metrics.storage(1);
            metrics.sample(Reading::default());
            rpc::RequestObserver::observe(&metrics, "equa_status", Duration::from_millis(1), true);
            let encoded = context.encode();
            let dashboard: serde_json::Value =
                serde_json::from_str(include_str!("../../../docs/grafana/equa-node.json")).unwrap();
            let mut charted = 0;
            for panel in dashboard["panels"].as_array().unwrap() {
                for target in panel["targets"].as_array().unwrap() {
                    let expr = target["expr"].as_str().unwrap();
                    for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                        if word.starts_with("equa_") {
                            charted += 1;
                            assert!(
                                encoded.lines().any(|line| line.starts_with(word)),
                                "the dashboard charts {word}, which is not registered"
                            );
                        }
                    }
                }
            }
            assert!(charted >= 14, "{charted}");
        });
    }

    #[test]
    fn rpc_calls_are_counted_by_method_and_outcome() {
        deterministic::Runner::default().start(|context| async move {
            let metrics = NodeMetrics::new(&context);
            rpc::RequestObserver::observe(&metrics, "equa_status", Duration::from_millis(1), true);
            rpc::RequestObserver::observe(&metrics, "equa_status", Duration::from_millis(1), false);
            metrics.offered(Source::Rpc, Ok(()));
            metrics.offered(Source::Relay, Err("NonceTooLow"));
            let encoded = context.encode();
            assert!(
                encoded.contains("rpc_requests_total{method=\"equa_status\",outcome=\"ok\"} 1"),
                "{encoded}"
            );
            assert!(
                encoded.contains(
                    "transactions_refused_total{source=\"relay\",reason=\"NonceTooLow\"} 1"
                ),
                "{encoded}"
            );
        });
    }
}
