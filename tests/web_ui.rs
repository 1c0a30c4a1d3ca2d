//! The web interface in real browsers: headless Chromium driven through WebDriver
//! (chromedriver), against `equa devnet` with four validator processes, each serving the pages
//! for one demo wallet. Alice (desktop window) sells to Bob (phone-sized window): a trade with
//! chat from offer to rating, a disputed trade that Dave rules from a third browser, and a loan
//! that Bob requests, Alice funds, Bob repays and Alice claims.
//!
//! Screenshots of every step go to `<target>/tmp/web_ui/`.

mod common;

use common::Devnet;
use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use serde_json::json;
use std::{
    net::TcpStream,
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

const RPC_PORT: u16 = 29_545;
const P2P_PORT: u16 = 32_300;
const DRIVER_PORT: u16 = 29_600;
/// Long enough for a transaction to be finalized on a loaded 2-core machine, many times over.
const PATIENCE: Duration = Duration::from_secs(60);

/// The devnet serves validator i's interface (wallet i) on its first RPC port plus 10 plus i.
fn web(index: u16) -> String {
    format!("http://127.0.0.1:{}", RPC_PORT + 10 + index)
}

struct Driver(Child);

impl Driver {
    fn start() -> Self {
        // A process group of its own, so that dropping the driver also ends the browsers it
        // started, even when the test fails before closing its sessions.
        let child = Command::new("chromedriver")
            .arg(format!("--port={DRIVER_PORT}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver runs (Debian: apt-get install chromium chromium-driver)");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", DRIVER_PORT)).is_err() {
            assert!(started.elapsed() < PATIENCE, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self(child)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

static STEP: AtomicU32 = AtomicU32::new(0);

struct Browser {
    client: Client,
    name: &'static str,
    base: String,
}

impl Browser {
    async fn open(name: &'static str, base: String, width: u32, height: u32) -> Self {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--window-size={width},{height}"),
                ],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{DRIVER_PORT}"))
            .await
            .expect("a Chromium session starts");
        client
            .set_window_size(width, height)
            .await
            .expect("window size");
        Self { client, name, base }
    }

    async fn shot(&self, what: &str) {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web_ui");
        std::fs::create_dir_all(&dir).unwrap();
        let step = STEP.fetch_add(1, Ordering::SeqCst);
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(dir.join(format!("{step:02}-{}-{what}.png", self.name)), png).unwrap();
    }

    async fn page_text(&self) -> String {
        match self
            .client
            .execute("return document.body.innerText", vec![])
            .await
        {
            Ok(text) => text.as_str().unwrap_or_default().to_string(),
            Err(e) => format!("(no page: {e})"),
        }
    }

    /// Polls until `check` holds, or fails the test showing the page.
    async fn wait<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let started = Instant::now();
        while !check().await {
            if started.elapsed() > PATIENCE {
                self.shot(&format!("timeout-{}", what.replace(' ', "-")))
                    .await;
                panic!(
                    "{}: timed out waiting for {what}; the page shows:\n{}",
                    self.name,
                    self.page_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn text_of(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until the element `css` shows `needle`.
    async fn wait_text(&self, css: &str, needle: &str) {
        self.wait(&format!("{css} to show {needle:?}"), || async {
            self.text_of(css).await.contains(needle)
        })
        .await;
    }

    /// Goes to a page and waits for its heading.
    async fn go(&self, route: &str, heading: &str) {
        let url = format!("{}/#/{route}", self.base);
        if self.client.current_url().await.expect("url").as_str() == url {
            // Only the fragment would change: nothing would load. Load the page again.
            self.client.refresh().await.expect("reloads");
        } else {
            self.client.goto(&url).await.expect("navigates");
        }
        self.wait_text("main h1", heading).await;
    }

    async fn route(&self) -> String {
        let url = self.client.current_url().await.expect("url");
        url.fragment().unwrap_or_default().to_string()
    }

    async fn unlock(&self, password: &str) {
        let input = self.find_wait("#unlock-password").await;
        input.clear().await.unwrap();
        input.send_keys(password).await.unwrap();
        self.click_button("Unlock").await;
    }

    async fn find_wait(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{}: no {css}: {e}", self.name))
    }

    async fn click_button(&self, label: &str) {
        let xpath = format!("//button[normalize-space()='{label}']");
        let button = self
            .client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("{}: no button {label:?}: {e}", self.name));
        button.click().await.unwrap();
    }

    /// The form whose submit button reads `button`.
    async fn form(&self, button: &str) -> Element {
        let xpath = format!("//form[.//button[normalize-space()='{button}']]");
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("{}: no form with button {button:?}: {e}", self.name))
    }

    /// Fills the field whose label starts with `label` in `form`.
    async fn fill(&self, form: &Element, label: &str, value: &str) {
        let xpath = format!(".//label[starts-with(normalize-space(), '{label}')]");
        let label_element = form
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("{}: no field {label:?}: {e}", self.name));
        let id = label_element.attr("for").await.unwrap().expect("label for");
        let input = form.find(Locator::Id(&id)).await.unwrap();
        if input.tag_name().await.unwrap() == "select" {
            input.select_by_value(value).await.unwrap_or_else(|e| {
                panic!("{}: {label:?} has no option {value:?}: {e}", self.name)
            });
        } else {
            input.clear().await.unwrap();
            input.send_keys(value).await.unwrap();
        }
    }

    async fn notice_seq(&self) -> u64 {
        let seq = self
            .client
            .execute(
                "return document.getElementById('notice').dataset.seq",
                vec![],
            )
            .await
            .unwrap();
        seq.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
    }

    /// Submits the form of `button` with `fields` and waits for the outcome: Ok(notice) when
    /// the transaction succeeded, Err(error) when the page showed an error.
    async fn submit(&self, button: &str, fields: &[(&str, &str)]) -> Result<String, String> {
        let form = self.form(button).await;
        for (label, value) in fields {
            self.fill(&form, label, value).await;
        }
        let before = self.notice_seq().await;
        let xpath = format!(".//button[normalize-space()='{button}']");
        form.find(Locator::XPath(&xpath))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        self.wait(&format!("the outcome of {button:?}"), || async {
            self.notice_seq().await > before
        })
        .await;
        let notice = self.text_of("#notice").await;
        let outcome = self
            .client
            .execute(
                "return document.getElementById('notice').dataset.outcome",
                vec![],
            )
            .await
            .unwrap();
        if outcome == json!("done") {
            Ok(notice)
        } else {
            Err(notice)
        }
    }

    /// [`Browser::submit`] that must succeed.
    async fn act(&self, button: &str, fields: &[(&str, &str)]) {
        if let Err(error) = self.submit(button, fields).await {
            self.shot(&format!("failed-{}", button.replace(' ', "-")))
                .await;
            panic!("{}: {button:?} failed: {error}", self.name);
        }
    }

    /// The network page's charts as drawn: each one's key, the number of points its line
    /// joins, and the current value beside its title.
    async fn charts(&self) -> Vec<(String, u64, String)> {
        let charts = self
            .client
            .execute(
                "return [...document.querySelectorAll('[data-chart]')].map(chart => {
                    const line = chart.querySelector('svg path.series');
                    return [chart.dataset.chart,
                            Number(line ? line.dataset.points : 0),
                            chart.querySelector('[data-value]').textContent];
                 })",
                vec![],
            )
            .await
            .unwrap();
        serde_json::from_value(charts).unwrap_or_default()
    }

    /// Waits until the network page shows its four charts, each a line through at least
    /// `least_points` points, with 3 peers (the devnet's other validators) beside the last.
    async fn wait_charts(&self, least_points: u64) -> Vec<(String, u64, String)> {
        self.wait("four charts with figures and 3 peers", || async {
            let charts = self.charts().await;
            charts.len() == 4
                && charts.iter().all(|(_, points, _)| *points >= least_points)
                && charts
                    .iter()
                    .any(|(key, _, value)| key == "peers" && value == "3")
        })
        .await;
        self.charts().await
    }

    /// Scrolls the element `css` to the top of the window, for a screenshot of it.
    async fn scroll_to(&self, css: &str) {
        self.client
            .execute(
                "document.querySelector(arguments[0]).scrollIntoView()",
                vec![json!(css)],
            )
            .await
            .unwrap_or_else(|e| panic!("{}: no {css} to scroll to: {e}", self.name));
    }

    /// The page is no wider than the window: nothing scrolls sideways.
    async fn fits_width(&self) -> bool {
        let widths = self
            .client
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth]",
                vec![],
            )
            .await
            .unwrap();
        widths[0].as_u64() <= widths[1].as_u64()
    }
}

#[test]
fn a_trade_a_dispute_and_a_loan_through_the_web_interface() {
    let _ = std::fs::remove_dir_all(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web_ui"));
    let devnet = Devnet::start("web-ui", RPC_PORT, P2P_PORT);
    let _driver = Driver::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let alice = Browser::open("alice", web(0), 1280, 900).await;
        let bob = Browser::open("bob", web(1), 390, 844).await;
        let dave = Browser::open("dave", web(3), 1280, 900).await;

        // The network page charts the node's own figures, live, on a desktop and on a phone.
        for browser in [&alice, &bob] {
            browser.go("status", "Network").await;
            let charts = browser.wait_charts(2).await;
            let keys: Vec<&str> = charts.iter().map(|(key, ..)| key.as_str()).collect();
            assert_eq!(keys, ["block-rate", "finality", "mempool", "peers"]);
            for (key, _, value) in &charts {
                assert!(
                    value.parse::<f64>().is_ok(),
                    "{}: the {key} chart's current value is a number: {value:?}",
                    browser.name
                );
            }
            // A young node keeps fewer than five minutes of samples, so a refresh adds points.
            let mempool_points = charts[2].1;
            browser.wait_charts(mempool_points + 1).await;
            assert!(browser.fits_width().await, "the charts fit the window");
            let drawn = browser
                .client
                .execute(
                    "return document.querySelector('.charts').textContent",
                    vec![],
                )
                .await
                .unwrap();
            let drawn = drawn.as_str().unwrap_or_default();
            for axis in [
                "blocks per second",
                "milliseconds",
                "transactions waiting",
                "connected peers",
                "time, minutes ago",
            ] {
                assert!(
                    drawn.contains(axis),
                    "{}: an axis reads {axis:?}",
                    browser.name
                );
            }
            browser.scroll_to(".figures").await;
            browser.shot("network-charts").await;
        }
        // The phone shows one chart under another: the last one too.
        bob.scroll_to("[data-chart='peers']").await;
        bob.shot("network-charts-peers").await;

        // Read-only pages work locked; actions ask for the wallet first.
        alice.go("wallet", "Wallet").await;
        alice.shot("locked-wallet").await;
        alice
            .wait_text("#my-address", &devnet.address("alice"))
            .await;
        let refused = alice
            .submit("Publish profile", &[("Display name", "Alice")])
            .await
            .unwrap_err();
        assert!(refused.contains("Unlock the wallet first"), "{refused}");
        alice.unlock("not the password").await;
        alice.wait_text("#unlock-error", "wrong password").await;
        alice.shot("wrong-password").await;
        alice.unlock("devnet").await;
        alice.wait_text("#session", "Lock").await;
        alice.go("wallet", "Wallet").await;
        alice
            .act("Publish profile", &[("Display name", "Alice")])
            .await;
        alice.shot("profile").await;
        for (browser, name) in [(&bob, "Bob"), (&dave, "Dave")] {
            browser.go("wallet", "Wallet").await;
            browser.unlock("devnet").await;
            browser.wait_text("#session", "Lock").await;
            browser.go("wallet", "Wallet").await;
            browser
                .act("Publish profile", &[("Display name", name)])
                .await;
        }

        // Alice offers 500 USDX for EUR by SEPA; a price with too many decimals is refused next
        // to the price field, and nothing is created.
        alice.go("offer/new", "Create an offer").await;
        let offer_fields = [
            ("I want to", "sell"),
            ("Asset", "USDX"),
            ("Most per trade", "500"),
            ("Least per trade", "10"),
            ("Price", "0.955"),
            ("Fiat currency", "EUR"),
            ("Payment method", "SEPA"),
        ];
        let error = alice
            .submit("Create offer", &offer_fields)
            .await
            .unwrap_err();
        assert!(error.contains("price"), "{error}");
        let form = alice.form("Create offer").await;
        let price_error = form
            .find(Locator::Css("[data-field='price'] .error"))
            .await
            .unwrap();
        let price_error = price_error.text().await.unwrap();
        alice.shot("offer-price-error").await;
        assert!(price_error.contains("decimal"), "{price_error:?} / {error}");
        assert_eq!(
            devnet.json("alice", &["offer", "list"]),
            json!([]),
            "a refused form creates nothing"
        );
        alice.act("Create offer", &[("Price", "0.95")]).await;
        alice.wait_text("main h1", "Offer #1").await;
        alice.shot("offer-created").await;

        // Bob finds it on the market from his phone and takes 100 USDX.
        let usdx_before = devnet.balance("bob", "USDX");
        bob.go("market", "Market").await;
        bob.wait_text("main", "maker sells").await;
        bob.shot("market").await;
        assert!(bob.fits_width().await, "the market fits a phone screen");
        bob.client
            .find(Locator::XPath("//a[normalize-space()='Buy']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        bob.wait_text("main h1", "Offer #1").await;
        bob.act(
            "Take offer",
            &[("Amount", "100"), ("Payment method", "SEPA")],
        )
        .await;
        bob.wait_text("main h1", "Trade #1").await;
        assert_eq!(bob.route().await, "/trade/1");
        bob.wait_text("#trade-state", "awaiting payment").await;
        assert!(bob.fits_width().await, "the trade room fits a phone screen");
        bob.shot("trade-room").await;

        // Encrypted chat both ways; each side sees the other's message without reloading.
        bob.act("Send", &[("Message", "Hello Alice, paying by SEPA now")])
            .await;
        alice.go("trade/1", "Trade #1").await;
        alice
            .wait_text(".chat", "Hello Alice, paying by SEPA now")
            .await;
        alice
            .act("Send", &[("Message", "Thanks Bob, reference EQ-1 please")])
            .await;
        bob.wait_text(".chat", "Thanks Bob, reference EQ-1 please")
            .await;
        bob.shot("chat").await;

        // Bob marks paid; Alice's open page turns to "paid" by itself; she releases.
        bob.act("I have paid", &[("Payment reference", "EQ-1")])
            .await;
        alice.wait_text("#trade-state", "paid").await;
        alice.shot("paid").await;
        alice.act("Release escrow", &[]).await;
        alice.wait_text("#trade-state", "completed").await;
        bob.wait_text("#trade-state", "completed").await;
        let usdx_after = devnet.balance("bob", "USDX");
        assert_eq!(
            parse(&usdx_after) - parse(&usdx_before),
            100_000_000,
            "bob ends with exactly the 100 USDX he bought and his deposit back \
             ({usdx_before} -> {usdx_after})"
        );
        bob.act("Rate", &[("Rate the seller", "5")]).await;
        alice.act("Rate", &[("Rate the buyer", "5")]).await;
        bob.wait_text("main", "Nothing for you to do now").await;
        bob.shot("rated").await;
        bob.go("wallet", "Wallet").await;
        bob.wait_text("[data-balance='USDX']", &usdx_after).await;
        bob.wait_text("#history", "market: take offer").await;

        // A second trade goes to dispute: Alice (seller) disputes after Bob marks paid, Bob
        // shows the chat to the arbitrator, and Dave rules for the buyer from his browser.
        bob.go("offer/1", "Offer #1").await;
        bob.act(
            "Take offer",
            &[("Amount", "50"), ("Payment method", "SEPA")],
        )
        .await;
        bob.wait_text("main h1", "Trade #2").await;
        bob.act("Send", &[("Message", "Sent 47.50 EUR, reference EQ-2")])
            .await;
        bob.act("I have paid", &[]).await;
        alice.go("trade/2", "Trade #2").await;
        alice.wait_text("#trade-state", "paid").await;
        alice.act("Open dispute", &[]).await;
        alice.wait_text("#trade-state", "disputed").await;
        bob.wait_text("#trade-state", "disputed").await;
        bob.act("Show the chat to the arbitrator", &[]).await;
        dave.go("disputes", "Disputes assigned to you").await;
        dave.wait_text("main table", "#2").await;
        dave.wait_text("main", "You are registered with a bond of 1000 EQA")
            .await;
        dave.shot("disputes").await;
        dave.go("trade/2", "Trade #2").await;
        dave.wait_text(".chat", "Sent 47.50 EUR, reference EQ-2")
            .await;
        dave.shot("evidence").await;
        dave.act("Rule", &[("To the buyer", "50"), ("At fault", "seller")])
            .await;
        dave.wait_text("#trade-state", "resolved").await;
        alice.wait_text("#trade-state", "resolved").await;
        bob.wait_text("#trade-state", "resolved").await;
        dave.shot("ruled").await;

        // A loan: Bob requests 1000 USDX against 500 EQA, Alice funds it all, Bob repays
        // everything, Alice claims her share.
        bob.go("lending", "Lending").await;
        bob.act(
            "Request loan",
            &[
                ("Amount to borrow", "1000"),
                ("Asset", "USDX"),
                ("Interest", "1200"),
                ("Term", "30"),
                ("Repayment", "bullet"),
                ("Collateral amount", "500"),
                ("Collateral asset", "EQA"),
            ],
        )
        .await;
        bob.wait_text("main h1", "Loan #1").await;
        bob.wait_text("#loan-state", "funding").await;
        bob.shot("loan-requested").await;
        alice.go("loan/1", "Loan #1").await;
        let error = alice
            .submit("Fund", &[("Amount to lend", "10.1234567")])
            .await
            .unwrap_err();
        assert!(error.contains("decimal"), "{error}");
        alice.act("Fund", &[("Amount to lend", "1000")]).await;
        alice.wait_text("#loan-state", "active").await;
        alice.shot("loan-funded").await;
        bob.go("loan/1", "Loan #1").await;
        bob.wait_text("#loan-state", "active").await;
        bob.act("Repay everything", &[]).await;
        bob.wait_text("#loan-state", "repaid").await;
        bob.shot("loan-repaid").await;
        alice.go("loan/1", "Loan #1").await;
        let claim = alice
            .client
            .find(Locator::XPath(
                "//button[starts-with(normalize-space(), 'Claim ')]",
            ))
            .await
            .expect("a claim button for the lender");
        let label = claim.text().await.unwrap();
        let claimable = parse(label.trim_start_matches("Claim ").trim_end_matches(" USDX"));
        assert!(claimable > 1_000_000_000, "principal and interest: {label}");
        let before = parse(&devnet.balance("alice", "USDX"));
        alice.act(&label, &[]).await;
        let after = parse(&devnet.balance("alice", "USDX"));
        assert_eq!(
            after,
            before + claimable,
            "alice receives exactly what the page offered"
        );
        alice.shot("loan-claimed").await;

        // A transfer from the wallet page shows in the wallet's history.
        alice.go("wallet", "Wallet").await;
        alice
            .act(
                "Send",
                &[
                    ("To address", &devnet.address("carol")),
                    ("Amount", "1.25"),
                    ("Asset", "USDX"),
                ],
            )
            .await;
        alice.go("wallet", "Wallet").await;
        alice.wait_text("#history", "sent 1.25 USDX").await;
        alice.shot("wallet-history").await;

        // Alice issues an asset, mints and burns it; mistakes are refused in words.
        alice
            .act(
                "Issue asset",
                &[
                    ("Symbol", "GOLD"),
                    ("Name", "Gold gram"),
                    ("Decimals", "3"),
                    ("Maximum supply", "1000"),
                ],
            )
            .await;
        alice.wait_text("[data-supply='GOLD']", "0").await;
        alice
            .act("Mint", &[("Amount", "12.5"), ("Asset", "GOLD")])
            .await;
        alice.wait_text("[data-balance='GOLD']", "12.5").await;
        let over = alice
            .submit("Mint", &[("Amount", "2000"), ("Asset", "GOLD")])
            .await
            .unwrap_err();
        assert!(over.contains("over its maximum 1000 GOLD"), "{over}");
        let precise = alice
            .submit("Burn", &[("Amount", "0.0001"), ("Asset", "GOLD")])
            .await
            .unwrap_err();
        assert!(precise.contains("decimal"), "{precise}");
        alice
            .act("Burn", &[("Amount", "2.5"), ("Asset", "GOLD")])
            .await;
        alice.wait_text("[data-supply='GOLD']", "10").await;
        alice.wait_text("[data-balance='GOLD']", "10").await;
        alice.shot("issued-asset").await;

        // The explorer and network pages show the chain.
        alice.go("status", "Network").await;
        let height: u64 = alice.text_of("#status-height").await.parse().unwrap();
        alice
            .wait(&format!("the height to pass {height}"), || async {
                alice
                    .text_of("#status-height")
                    .await
                    .parse::<u64>()
                    .is_ok_and(|h| h > height)
            })
            .await;
        alice.wait_charts(2).await;
        alice.scroll_to(".figures").await;
        alice.shot("network-charts-after-the-scenario").await;
        alice.go("explorer", "Explorer").await;
        alice.wait_text("main table", "Height").await;
        alice.shot("explorer").await;

        for browser in [alice, bob, dave] {
            browser.client.close().await.unwrap();
        }
    });
}

/// A USDX amount (6 decimals) in minor units.
fn parse(amount: &str) -> u128 {
    types::amount::parse(amount.trim(), 6)
        .unwrap_or_else(|e| panic!("{amount:?} is not a USDX amount: {e}"))
}
