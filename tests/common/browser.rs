//! Headless Chromium driven through WebDriver (chromedriver) for the browser tests: a driver
//! process of its own, and a browser window with the steps a person takes (go to a page, fill a
//! form, press a button and answer its confirmation, wait for what the page shows), each
//! screenshot saved under `<target>/tmp/<test>/`.
//!
//! Included by the browser tests only (`#[path = "common/browser.rs"] mod browser;`), so that
//! the other tests do not build WebDriver.

#![allow(dead_code)]

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

/// Long enough for a transaction to be finalized on a loaded 2-core machine, many times over.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// chromedriver on `port`.
pub struct Driver {
    child: Child,
    pub port: u16,
}

impl Driver {
    pub fn start(port: u16) -> Self {
        // A process group of its own, so that dropping the driver also ends the browsers it
        // started, even when the test fails before closing its sessions.
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver runs (Debian: apt-get install chromium chromium-driver)");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < PATIENCE, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static STEP: AtomicU32 = AtomicU32::new(0);

pub struct Browser {
    pub client: Client,
    pub name: &'static str,
    base: String,
    /// The folder of `<target>/tmp` the screenshots go to.
    shots: &'static str,
}

impl Browser {
    pub async fn open(
        driver: &Driver,
        shots: &'static str,
        name: &'static str,
        base: String,
        width: u32,
        height: u32,
    ) -> Self {
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
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .expect("a Chromium session starts");
        client
            .set_window_size(width, height)
            .await
            .expect("window size");
        Self {
            client,
            name,
            base,
            shots,
        }
    }

    pub async fn shot(&self, what: &str) {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(self.shots);
        std::fs::create_dir_all(&dir).unwrap();
        let step = STEP.fetch_add(1, Ordering::SeqCst);
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(dir.join(format!("{step:02}-{}-{what}.png", self.name)), png).unwrap();
    }

    pub async fn page_text(&self) -> String {
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
    pub async fn wait<F, Fut>(&self, what: &str, mut check: F)
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

    pub async fn text_of(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until the element `css` shows `needle`.
    pub async fn wait_text(&self, css: &str, needle: &str) {
        self.wait(&format!("{css} to show {needle:?}"), || async {
            self.text_of(css).await.contains(needle)
        })
        .await;
    }

    /// Goes to a page and waits for its heading.
    pub async fn go(&self, route: &str, heading: &str) {
        let url = format!("{}/#/{route}", self.base);
        if self.client.current_url().await.expect("url").as_str() == url {
            // Only the fragment would change: nothing would load. Load the page again.
            self.client.refresh().await.expect("reloads");
        } else {
            self.client.goto(&url).await.expect("navigates");
        }
        self.wait_text("main h1", heading).await;
    }

    pub async fn route(&self) -> String {
        let url = self.client.current_url().await.expect("url");
        url.fragment().unwrap_or_default().to_string()
    }

    pub async fn unlock(&self, password: &str) {
        let input = self.find_wait("#unlock-password").await;
        input.clear().await.unwrap();
        input.send_keys(password).await.unwrap();
        self.click_button("Unlock").await;
    }

    pub async fn find_wait(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{}: no {css}: {e}", self.name))
    }

    pub async fn click_button(&self, label: &str) {
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
    pub async fn form(&self, button: &str) -> Element {
        let xpath = format!("//form[.//button[normalize-space()='{button}']]");
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("{}: no form with button {button:?}: {e}", self.name))
    }

    /// Fills the field whose label starts with `label` in `form`.
    pub async fn fill(&self, form: &Element, label: &str, value: &str) {
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

    pub async fn notice_seq(&self) -> u64 {
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
    pub async fn submit(&self, button: &str, fields: &[(&str, &str)]) -> Result<String, String> {
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
        // Every action asks first; a form the page refuses before asking shows its outcome.
        self.wait(
            &format!("the confirmation or outcome of {button:?}"),
            || async { self.notice_seq().await > before || self.confirmation().await.is_some() },
        )
        .await;
        if self.confirmation().await.is_some() {
            self.answer(true).await;
        }
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
    pub async fn act(&self, button: &str, fields: &[(&str, &str)]) {
        if let Err(error) = self.submit(button, fields).await {
            self.shot(&format!("failed-{}", button.replace(' ', "-")))
                .await;
            panic!("{}: {button:?} failed: {error}", self.name);
        }
    }

    /// The network page's charts as drawn: each one's key, the number of points its line
    /// joins, and the current value beside its title.
    pub async fn charts(&self) -> Vec<(String, u64, String)> {
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
    pub async fn wait_charts(&self, least_points: u64) -> Vec<(String, u64, String)> {
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
    pub async fn scroll_to(&self, css: &str) {
        self.client
            .execute(
                "document.querySelector(arguments[0]).scrollIntoView()",
                vec![json!(css)],
            )
            .await
            .unwrap_or_else(|e| panic!("{}: no {css} to scroll to: {e}", self.name));
    }

    /// The page is no wider than the window: nothing scrolls sideways.
    pub async fn fits_width(&self) -> bool {
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

    /// The text of the confirmation the page shows, if it shows one.
    pub async fn confirmation(&self) -> Option<String> {
        let text = self
            .client
            .execute(
                "const box = document.getElementById('confirm'); return box ? box.innerText : null",
                vec![],
            )
            .await
            .ok()?;
        text.as_str().map(str::to_string)
    }

    /// Fills the form of `button` with `fields`, presses it and returns the confirmation the
    /// page asks, leaving it open.
    pub async fn ask(&self, button: &str, fields: &[(&str, &str)]) -> String {
        let form = self.form(button).await;
        for (label, value) in fields {
            self.fill(&form, label, value).await;
        }
        let xpath = format!(".//button[normalize-space()='{button}']");
        form.find(Locator::XPath(&xpath))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        self.wait(&format!("the confirmation of {button:?}"), || async {
            self.confirmation().await.is_some()
        })
        .await;
        self.confirmation().await.unwrap_or_default()
    }

    /// Presses Confirm (`true`) or Cancel on the open confirmation and waits until it closes.
    pub async fn answer(&self, confirm: bool) {
        let css = if confirm {
            "#confirm [data-confirm='yes']"
        } else {
            "#confirm [data-confirm='no']"
        };
        self.find_wait(css).await.click().await.unwrap();
        self.wait("the confirmation to close", || async {
            self.confirmation().await.is_none()
        })
        .await;
    }
}
