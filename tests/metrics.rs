//! What a node operator sees: Prometheus metrics scraped from a real validator and read with a
//! Prometheus text-format parser, the figures the web interface charts, and one transaction's
//! journey through the JSON logs of two validators.

mod common;

use common::Devnet;
use prometheus_parse::{Scrape, Value};
use std::{
    collections::BTreeSet,
    io::{Read, Write},
    net::TcpStream,
    time::{Duration, Instant},
};

const RPC_PORT: u16 = 28_545;
const P2P_PORT: u16 = 28_300;

/// `GET /metrics` over a plain TCP connection; returns the body.
fn scrape_text(devnet: &Devnet, index: u16) -> String {
    let mut stream = TcpStream::connect(devnet.metrics_address(index)).expect("metrics port open");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain"),
        "{head}"
    );
    body.to_string()
}

fn scrape(devnet: &Devnet, index: u16) -> Scrape {
    let text = scrape_text(devnet, index);
    Scrape::parse(text.lines().map(|line| Ok(line.to_string()))).expect("Prometheus text format")
}

/// The value of the sample `name` whose labels include `labels`; counters, gauges and untyped.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .find_map(|s| match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
            _ => None,
        })
}

/// How many observations the histogram `name` holds.
fn observations(scrape: &Scrape, name: &str) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter_map(|s| match &s.value {
            Value::Histogram(buckets) => buckets.last().map(|b| b.count),
            _ => None,
        })
        .sum()
}

/// The JSON log lines of validator `index` (`EQUA_LOG_FORMAT=json`).
fn log_lines(devnet: &Devnet, index: u16) -> Vec<serde_json::Value> {
    let text =
        std::fs::read_to_string(devnet.dir.join(format!("validator-{index}/node.log"))).unwrap();
    text.lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

#[test]
fn a_validator_serves_metrics_figures_and_logs_a_transaction_journey() {
    let devnet = Devnet::start_with_env(
        "metrics",
        RPC_PORT,
        P2P_PORT,
        &[("RUST_LOG", "info,node=debug"), ("EQUA_LOG_FORMAT", "json")],
    );
    // `equa` turns transparent huge pages off first thing (`node::allocator`), and the
    // validators it starts inherit that.
    let processes = devnet.process_ids();
    assert_eq!(processes.len(), 5, "equa devnet and its four validators");
    for id in processes {
        let status = std::fs::read_to_string(format!("/proc/{id}/status")).unwrap();
        assert_eq!(
            common::proc_status_field(&status, "THP_enabled").as_deref(),
            Some("0"),
            "process {id} may take transparent huge pages"
        );
    }
    // Validator 0 relays to the peers it is connected to; wait until it sees all three, so the
    // transfer below reaches validator 1 by relay.
    let deadline = Instant::now() + Duration::from_secs(30);
    while value(&scrape(&devnet, 0), "equa_peers", &[]) != Some(3.0) {
        assert!(
            Instant::now() < deadline,
            "validator 0 never saw its 3 peers"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // A transfer submitted to validator 0, to follow through the metrics and the logs.
    let bob = devnet.address("bob");
    let receipt = devnet.json("alice", &["send", &bob, "2", "USDX"]);
    assert_eq!(receipt["outcome"], "success");
    let height = receipt["height"].as_u64().unwrap();
    let tx = receipt["tx_id"].as_str().unwrap().to_string();
    devnet.wait_for_height(0, height);
    devnet.wait_for_height(1, height);

    // Scraped as Prometheus would: our metrics and commonware's, with sensible values.
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let metrics = scrape(&devnet, 0);
        // Peers, the mempool and the sync target are sampled once a second.
        if value(&metrics, "equa_peers", &[]) == Some(3.0)
            && value(&metrics, "equa_sync_target_height", &[]) >= Some(height as f64)
        {
            break metrics;
        }
        assert!(
            Instant::now() < deadline,
            "validator 0 never saw its 3 peers"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let finalized = value(&metrics, "equa_finalized_height", &[]).unwrap();
    assert!(finalized >= height as f64, "{finalized} < {height}");
    assert!(value(&metrics, "equa_blocks_finalized_total", &[]).unwrap() >= 3.0);
    assert_eq!(
        value(&metrics, "equa_states_unsettled_total", &[]),
        Some(0.0),
        "every finalized state settled into the shared base"
    );
    assert!(value(&metrics, "equa_transactions_finalized_total", &[]).unwrap() >= 1.0);
    assert!(observations(&metrics, "equa_finality_seconds") >= 3.0);
    assert!(observations(&metrics, "equa_block_execution_seconds") >= 1.0);
    assert_eq!(
        value(
            &metrics,
            "equa_transactions_admitted_total",
            &[("source", "rpc")]
        ),
        Some(1.0)
    );
    assert!(value(&metrics, "equa_transactions_relayed_total", &[]).unwrap() >= 1.0);
    assert!(value(&metrics, "equa_storage_bytes", &[]).unwrap() > 0.0);
    assert!(
        value(
            &metrics,
            "equa_rpc_requests_total",
            &[("method", "equa_sendTransaction"), ("outcome", "ok")]
        )
        .unwrap()
            >= 1.0
    );
    assert!(observations(&metrics, "equa_rpc_seconds") >= 1.0);
    assert!(
        metrics
            .samples
            .iter()
            .any(|s| s.metric.starts_with("runtime_")),
        "commonware's runtime metrics are served too"
    );
    // Validator 1 received the same transaction from its peer: admitted, or refused as already
    // applied when the block carrying it was finalized before the relayed copy arrived.
    let peer_metrics = scrape(&devnet, 1);
    let from_relay: f64 = peer_metrics
        .samples
        .iter()
        .filter(|s| {
            (s.metric == "equa_transactions_admitted_total"
                || s.metric == "equa_transactions_refused_total")
                && s.labels.get("source") == Some("relay")
        })
        .filter_map(|s| match s.value {
            Value::Counter(count) | Value::Gauge(count) | Value::Untyped(count) => Some(count),
            _ => None,
        })
        .sum();
    assert_eq!(from_relay, 1.0, "validator 1 received the transaction once");

    // A method name a client makes up is counted as "other", not as a new label; calls in a
    // batch are counted by method.
    assert_eq!(rpc_call(&devnet, "made_up_4242"), serde_json::Value::Null);
    let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"equa_getAssets","params":[]},
                    {"jsonrpc":"2.0","id":2,"method":"equa_getAssets","params":[]}]"#;
    assert!(rpc_post(&devnet, batch).starts_with('['));
    // One encoding of the metrics is served for a second.
    std::thread::sleep(Duration::from_millis(1_100));
    let text = scrape_text(&devnet, 0);
    let metrics_after = Scrape::parse(text.lines().map(|line| Ok(line.to_string()))).unwrap();
    assert!(
        value(
            &metrics_after,
            "equa_rpc_requests_total",
            &[("method", "other"), ("outcome", "error")]
        )
        .is_some(),
        "{text}"
    );
    assert!(!text.contains("made_up_4242"));
    assert_eq!(
        value(
            &metrics_after,
            "equa_rpc_requests_total",
            &[("method", "equa_getAssets"), ("outcome", "batched")]
        ),
        Some(2.0)
    );
    // A page on another host name (DNS rebinding) is not answered.
    let mut stream = TcpStream::connect(devnet.metrics_address(0)).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: rebound.example:{}\r\nConnection: close\r\n\r\n",
        devnet.metrics_address(0).port()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 421"), "{response}");
    assert!(!response.contains("equa_"), "{response}");

    // Every Equa metric the shipped Grafana dashboard charts is served.
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/grafana/equa-node.json"
        ))
        .unwrap(),
    )
    .unwrap();
    // A family is served once one of its label sets has occurred; nothing was refused here
    // (the node's unit tests serve every charted metric, refusals included).
    let not_yet = ["equa_transactions_refused_total"];
    let served =
        |name: &str| not_yet.contains(&name) || metrics.samples.iter().any(|s| s.metric == name);
    let mut charted = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with("equa_") {
                    charted.insert(word.trim_end_matches("_bucket").to_string());
                }
            }
        }
    }
    assert!(charted.len() >= 10, "{charted:?}");
    for name in &charted {
        assert!(
            served(name),
            "the dashboard charts {name}, which is not served"
        );
    }

    // The figures the web interface charts: one sample a second, with the node's own numbers.
    let output = devnet.query(0, &["--json", "status"]);
    assert!(output.status.success());
    let figures = rpc_call(&devnet, "equa_getFigures");
    let samples = figures["samples"].as_array().unwrap();
    assert!(samples.len() >= 2, "{figures}");
    let last = samples.last().unwrap();
    assert_eq!(last["peers"], 3);
    assert!(last["height"].as_u64().unwrap() >= height);
    assert!(
        samples
            .iter()
            .map(|s| s["blocks"].as_u64().unwrap())
            .sum::<u64>()
            >= 1
    );
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        status["peers"], 3,
        "status reports the peers actually connected"
    );

    // The transaction's journey, by its id, through two validators' logs.
    let journey = |index: u16| -> Vec<String> {
        log_lines(&devnet, index)
            .into_iter()
            .filter(|line| line["tx"].as_str() == Some(tx.as_str()))
            .map(|line| line["message"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let first = journey(0);
    assert!(
        first.contains(&"admitted from a client".to_string()),
        "{first:?}"
    );
    assert!(
        first.contains(&"relayed to the peers".to_string()),
        "{first:?}"
    );
    assert!(
        first.contains(&"transaction finalized: success".to_string()),
        "{first:?}"
    );
    let second = journey(1);
    assert!(
        second.contains(&"admitted from a peer".to_string())
            || second.contains(&"refused from a peer".to_string()),
        "{second:?}"
    );
    assert!(
        second.contains(&"transaction finalized: success".to_string()),
        "{second:?}"
    );
    // Startup configuration and finalized blocks are logged with their fields.
    let lines = log_lines(&devnet, 0);
    let start = lines
        .iter()
        .find(|line| line["message"] == "starting")
        .expect("a startup line");
    assert_eq!(start["role"], "validator");
    assert_eq!(start["level"], "INFO");
    assert!(
        lines
            .iter()
            .any(|line| line["message"] == "finalized a block"
                && line["height"].as_u64() == Some(height))
    );
    assert!(lines.iter().any(|line| line["message"] == "peer connected"));
}

fn rpc_call(devnet: &Devnet, method: &str) -> serde_json::Value {
    let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":[]}}"#);
    let value: serde_json::Value = serde_json::from_str(&rpc_post(devnet, &body)).unwrap();
    value["result"].clone()
}

/// POSTs `body` to validator 0's JSON-RPC; returns the response body.
fn rpc_post(devnet: &Devnet, body: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", devnet.rpc_port)).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    body.to_string()
}
