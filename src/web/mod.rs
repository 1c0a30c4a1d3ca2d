//! The web interface a node serves to its owner on a loopback address.
//!
//! The pages are static files (HTML, CSS and vanilla JavaScript, compiled into the binary) that
//! read the chain through this server and act through it. The wallet named in the node's
//! configuration stays in this process: the browser unlocks it with its password and receives a
//! session cookie (HttpOnly, SameSite=Strict) and a CSRF token that every action must echo in a
//! header. Private keys never leave the process. Read-only pages work without unlocking.
//!
//! Every action is one of the command line's own transaction commands, parsed by the same
//! parser and built by the same functions (see [`action`]), so the web interface and `equa`
//! cannot disagree about what a form means.

pub mod action;
mod preview;

use axum::{
    Json, Router,
    extract::{Path, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use client::{Keystore, Wallet, keystore::KeystoreError, tx::SendError};
use rpc::{RpcClient, client::ClientError};
use serde::Deserialize;
use serde_json::{Value, json};
use std::{
    collections::HashMap,
    convert::Infallible,
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

const INDEX_HTML: &str = include_str!("static/index.html");
const APP_JS: &str = include_str!("static/app.js");
const CHARTS_JS: &str = include_str!("static/charts.js");
const APP_CSS: &str = include_str!("static/app.css");

/// The session cookie's name.
const COOKIE: &str = "equa_session";
/// The header that carries the CSRF token of the session.
const CSRF_HEADER: &str = "x-equa-csrf";
/// An unlocked session ends after this long without a request.
const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
/// How long an action waits for its transaction's receipt.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(60);
/// How often live views look for changes.
const POLL: Duration = Duration::from_millis(250);

/// What the web interface needs to run.
#[derive(Clone, Debug)]
pub struct Settings {
    pub listen: SocketAddr,
    /// The keystore the interface acts for.
    pub wallet: PathBuf,
    /// The node's JSON-RPC address.
    pub rpc_url: String,
}

struct Session {
    wallet: Arc<Wallet>,
    csrf: String,
    last_used: Instant,
}

struct Web {
    rpc: RpcClient,
    keystore: PathBuf,
    address: String,
    /// The `Host` header values a request may carry (loopback names of the bound port).
    hosts: Vec<String>,
    sessions: Mutex<HashMap<String, Session>>,
    /// One transaction at a time: each takes the account's next nonce.
    signing: tokio::sync::Mutex<()>,
}

/// An error as the pages show it: a status and a sentence.
#[derive(Debug)]
struct Failure(StatusCode, String);

impl Failure {
    fn bad(message: impl Into<String>) -> Self {
        Self(StatusCode::BAD_REQUEST, message.into())
    }
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::Rpc { message, .. } => Self(StatusCode::BAD_REQUEST, message),
            unreachable @ ClientError::Unreachable { .. } => {
                Self(StatusCode::BAD_GATEWAY, unreachable.to_string())
            }
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

/// Binds `settings.listen` (which must be a loopback address) and serves the interface on a
/// thread of its own. Returns the bound address.
pub fn spawn(settings: Settings) -> Result<SocketAddr, String> {
    if !settings.listen.ip().is_loopback() {
        return Err(format!(
            "the web interface is served on loopback addresses only, not {}",
            settings.listen
        ));
    }
    let keystore = Keystore::load(&settings.wallet).map_err(|e| e.to_string())?;
    let listener = std::net::TcpListener::bind(settings.listen)
        .map_err(|e| format!("cannot serve the web interface on {}: {e}", settings.listen))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let web = Arc::new(Web {
        rpc: RpcClient::new(&settings.rpc_url).map_err(|e| e.to_string())?,
        keystore: settings.wallet,
        address: keystore.address().to_string(),
        hosts: ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .map(|name| format!("{name}:{}", bound.port()))
            .collect(),
        sessions: Mutex::new(HashMap::new()),
        signing: tokio::sync::Mutex::new(()),
    });
    std::thread::Builder::new()
        .name("web".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the web interface's runtime starts");
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("a bound listener");
                if let Err(error) = axum::serve(listener, router(web)).await {
                    eprintln!("error: the web interface stopped: {error}");
                }
            });
        })
        .map_err(|e| e.to_string())?;
    Ok(bound)
}

fn router(web: Arc<Web>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { page(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/app.js",
            get(|| async { page(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/charts.js",
            get(|| async { page(CHARTS_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/app.css",
            get(|| async { page(APP_CSS, "text/css; charset=utf-8") }),
        )
        .route("/api/session", get(session_info))
        .route("/api/unlock", post(unlock))
        .route("/api/lock", post(lock))
        .route("/api/query", post(query))
        .route("/api/act", post(act))
        .route("/api/preview", post(preview))
        .route("/api/chat/{trade}", get(chat))
        .route("/api/details", post(payment_details))
        .route("/api/events/trade/{trade}", get(trade_events))
        .route("/api/events/loan/{loan}", get(loan_events))
        .route("/api/events/status", get(status_events))
        .layer(middleware::from_fn_with_state(web.clone(), guard))
        .with_state(web)
}

/// Refuses requests whose `Host` is not this server's loopback name (a page on another site
/// that rebinds its DNS name to 127.0.0.1 would otherwise be same-origin with the interface),
/// and requests that change something sent by a page of another origin (browsers name the page
/// in `Origin`; a page served on another loopback port is the same *site*, so its requests
/// carry the SameSite cookie, but not the same origin). Adds the security headers to every
/// response.
async fn guard(State(web): State<Arc<Web>>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !web.hosts.iter().any(|allowed| allowed == host) {
        return Failure(
            StatusCode::MISDIRECTED_REQUEST,
            format!("this interface answers only to {}", web.hosts.join(", ")),
        )
        .into_response();
    }
    if let Some(origin) = request.headers().get(header::ORIGIN)
        && request.method() != axum::http::Method::GET
        && !origin
            .to_str()
            .ok()
            .and_then(|origin| origin.strip_prefix("http://"))
            .is_some_and(|origin| web.hosts.iter().any(|allowed| allowed == origin))
    {
        return Failure(
            StatusCode::FORBIDDEN,
            "this interface takes actions only from its own pages".into(),
        )
        .into_response();
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn page(body: &'static str, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    hex::encode(bytes)
}

impl Web {
    fn cookie(headers: &HeaderMap) -> Option<String> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE)
            .map(|(_, value)| value.to_string())
    }

    /// The unlocked session of the request, if any: its wallet and CSRF token.
    fn session(&self, headers: &HeaderMap) -> Option<(Arc<Wallet>, String)> {
        let token = Self::cookie(headers)?;
        let mut sessions = self.sessions.lock().expect("sessions lock");
        sessions.retain(|_, s| s.last_used.elapsed() < SESSION_IDLE);
        let session = sessions.get_mut(&token)?;
        session.last_used = Instant::now();
        Some((session.wallet.clone(), session.csrf.clone()))
    }

    /// The session's wallet, for a request that changes something: it must carry the session's
    /// CSRF token.
    fn authorized(&self, headers: &HeaderMap) -> Result<Arc<Wallet>, Failure> {
        let (wallet, csrf) = self.session(headers).ok_or_else(|| {
            Failure(
                StatusCode::UNAUTHORIZED,
                "the wallet is locked: unlock it with its password first".into(),
            )
        })?;
        let sent = headers
            .get(CSRF_HEADER)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        if sent != csrf {
            return Err(Failure(
                StatusCode::FORBIDDEN,
                "the request did not carry this session's token; reload the page".into(),
            ));
        }
        Ok(wallet)
    }
}

async fn session_info(State(web): State<Arc<Web>>, headers: HeaderMap) -> Json<Value> {
    let session = web.session(&headers);
    Json(json!({
        "address": web.address,
        "unlocked": session.is_some(),
        "csrf": session.map(|(_, csrf)| csrf),
    }))
}

#[derive(Deserialize)]
struct UnlockRequest {
    password: String,
}

async fn unlock(
    State(web): State<Arc<Web>>,
    Json(request): Json<UnlockRequest>,
) -> Result<Response, Failure> {
    let path = web.keystore.clone();
    // scrypt is deliberately slow: keep it off the thread that serves requests.
    let wallet = tokio::task::spawn_blocking(move || {
        Keystore::load(&path).and_then(|keystore| keystore.decrypt(&request.password))
    })
    .await
    .map_err(|e| Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|error| match error {
        KeystoreError::WrongPassword { .. } => Failure(
            StatusCode::UNAUTHORIZED,
            "wrong password for this wallet".into(),
        ),
        other => Failure(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    })?;
    let token = random_token();
    let csrf = random_token();
    web.sessions.lock().expect("sessions lock").insert(
        token.clone(),
        Session {
            wallet: Arc::new(wallet),
            csrf: csrf.clone(),
            last_used: Instant::now(),
        },
    );
    let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({ "address": web.address, "unlocked": true, "csrf": csrf })),
    )
        .into_response())
}

async fn lock(State(web): State<Arc<Web>>, headers: HeaderMap) -> Result<Response, Failure> {
    web.authorized(&headers)?;
    if let Some(token) = Web::cookie(&headers) {
        web.sessions.lock().expect("sessions lock").remove(&token);
    }
    let cookie = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({ "address": web.address, "unlocked": false })),
    )
        .into_response())
}

#[derive(Deserialize)]
struct QueryRequest {
    method: String,
    #[serde(default)]
    params: Vec<Value>,
}

/// The node's read-only methods, which the pages may call.
fn readable(method: &str) -> bool {
    method == "equa_status" || method.starts_with("equa_get") || method.starts_with("equa_list")
}

async fn query(
    State(web): State<Arc<Web>>,
    Json(request): Json<QueryRequest>,
) -> Result<Json<Value>, Failure> {
    if !readable(&request.method) {
        return Err(Failure::bad(format!(
            "{} is not a query the interface offers",
            request.method
        )));
    }
    let result: Value = web.rpc.call(&request.method, request.params).await?;
    Ok(Json(result))
}

#[derive(Deserialize)]
struct ActRequest {
    /// A transaction command as the command line takes it, without the `equa`.
    args: Vec<String>,
}

/// Sends an action's transaction and waits for its receipt. The node tries it first: one the
/// ledger would fail or reject is not sent, and the answer is 422 with
/// `{"error": <words>, "code": <the ledger's code>, "field": <form field or null>}` (see
/// [`preview`] for the field).
async fn act(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Json(request): Json<ActRequest>,
) -> Result<Response, Failure> {
    let wallet = web.authorized(&headers)?;
    let action = action::parse(&request.args).map_err(Failure::bad)?;
    let _one_at_a_time = web.signing.lock().await;
    let call = action::call(&web.rpc, &wallet, action)
        .await
        .map_err(Failure::bad)?;
    let receipt =
        match client::tx::send_call(&web.rpc, &wallet, call, RECEIPT_TIMEOUT, |_| {}).await {
            Ok(receipt) => receipt,
            Err(SendError::Refused { mut error, .. }) => {
                let now_ms = crate::cli::chain::chain_time_ms(&web.rpc).await;
                crate::cli::chain::word_error(&web.rpc, Some(&mut error), now_ms).await;
                let body = preview::refusal_json(&error);
                return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response());
            }
            Err(e) => return Err(Failure(StatusCode::BAD_GATEWAY, e.to_string())),
        };
    let status = match receipt.error {
        None => StatusCode::OK,
        Some(_) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let error = receipt.error.as_ref().map(|e| e.message.clone());
    Ok((status, Json(json!({ "receipt": receipt, "error": error }))).into_response())
}

/// What an action would do, without sending it: the body and checks of [`act`], answered with
/// `{"ok", "outcome", "fee", "error": {code, message, field} | null, "events": [<words>],
/// "moves": [{account, name, asset, change}]}` (see [`preview::preview_json`]).
async fn preview(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Json(request): Json<ActRequest>,
) -> Result<Json<Value>, Failure> {
    let wallet = web.authorized(&headers)?;
    let action = action::parse(&request.args).map_err(Failure::bad)?;
    let call = action::call(&web.rpc, &wallet, action)
        .await
        .map_err(Failure::bad)?;
    let (_, simulation) = client::tx::simulate_call(&web.rpc, &wallet, call)
        .await
        .map_err(|e| Failure(StatusCode::BAD_GATEWAY, e.to_string()))?;
    let simulation = crate::cli::chain::worded_simulation(&web.rpc, simulation).await;
    Ok(Json(preview::preview_json(&simulation)))
}

/// A trade's chat, opened for the session's wallet.
async fn chat(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(trade): Path<u64>,
) -> Result<Json<Value>, Failure> {
    let (wallet, _) = web.session(&headers).ok_or_else(|| {
        Failure(
            StatusCode::UNAUTHORIZED,
            "unlock the wallet to read the chat".into(),
        )
    })?;
    let view = web
        .rpc
        .trade(trade)
        .await?
        .ok_or_else(|| Failure(StatusCode::NOT_FOUND, format!("no trade #{trade}")))?;
    let chat = web
        .rpc
        .chat(trade, 0)
        .await?
        .ok_or_else(|| Failure(StatusCode::NOT_FOUND, format!("no trade #{trade}")))?;
    let me = wallet.account().to_string();
    let messages: Vec<Value> =
        match client::chat::conversation_for(&wallet.chat_secret(), &me, &view, &chat) {
            Ok(key) => client::chat::open_all(&key, &chat)
                .into_iter()
                .map(|m| {
                    // Only the seller's own messages count as its payment details.
                    let details = m
                        .text
                        .as_ref()
                        .ok()
                        .filter(|_| m.sender == view.seller)
                        .and_then(|text| client::details::parse_message(text))
                        .map(|details| json!({ "method": view.method.name, "details": details }));
                    json!({
                        "index": m.index, "sender": m.sender, "at_ms": m.at_ms,
                        "text": m.text.as_ref().ok(), "error": m.text.as_ref().err(),
                        "payment_details": details,
                    })
                })
                .collect(),
            Err(reason) => return Ok(Json(json!({ "messages": [], "unavailable": reason }))),
        };
    Ok(Json(json!({ "messages": messages })))
}

#[derive(Deserialize)]
struct DetailsRequest {
    /// With `details`, keeps them for this method; with empty details, forgets the method.
    method: Option<String>,
    details: Option<String>,
}

/// The payment details the session's wallet keeps beside its keystore, sealed under a key of
/// the wallet's (see `client::details`): `{"details": [{method, details}]}` after the change the
/// request asks for, if any. A POST with the session's token, since the answer is private.
async fn payment_details(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Json(request): Json<DetailsRequest>,
) -> Result<Json<Value>, Failure> {
    let wallet = web.authorized(&headers)?;
    let path = web.keystore.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let mut kept = client::details::PaymentDetails::load(&path, &wallet)?;
        if let Some(method) = request.method {
            match request.details.as_deref().map(str::trim) {
                Some(text) if !text.is_empty() => kept.set(&method, text)?,
                _ => {
                    kept.remove(&method);
                }
            }
            kept.save(&path, &wallet)?;
        }
        let list: Vec<Value> = kept
            .iter()
            .map(|(method, details)| json!({ "method": method, "details": details }))
            .collect();
        Ok::<_, client::details::DetailsError>(list)
    })
    .await
    .map_err(|e| Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| Failure::bad(e.to_string()))?;
    Ok(Json(json!({ "details": answer })))
}

/// Server-sent events: the trade's view each time it changes.
async fn trade_events(
    State(web): State<Arc<Web>>,
    Path(trade): Path<u64>,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    live(web, move |web| async move {
        match web.rpc.trade(trade).await {
            Ok(Some(view)) => serde_json::to_value(view).ok(),
            _ => None,
        }
    })
}

/// Server-sent events: the loan's view each time it changes.
async fn loan_events(
    State(web): State<Arc<Web>>,
    Path(loan): Path<u64>,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    live(web, move |web| async move {
        match web.rpc.loan(loan).await {
            Ok(Some(view)) => serde_json::to_value(view).ok(),
            _ => None,
        }
    })
}

/// Server-sent events: the node's status each time its height changes, at most once a second.
async fn status_events(
    State(web): State<Arc<Web>>,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    live(web, |web| async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        web.rpc
            .status()
            .await
            .ok()
            .and_then(|s| serde_json::to_value(s).ok())
    })
}

/// A stream of `update` events: `read`'s value whenever it differs from the last one sent.
fn live<F, Fut>(
    web: Arc<Web>,
    read: F,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>>
where
    F: Fn(Arc<Web>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Option<Value>> + Send,
{
    let stream = futures::stream::unfold(None::<Value>, move |last| {
        let web = web.clone();
        let read = read.clone();
        async move {
            loop {
                if let Some(value) = read(web.clone()).await
                    && last.as_ref() != Some(&value)
                {
                    let event = Event::default().event("update").data(value.to_string());
                    return Some((Ok(event), Some(value)));
                }
                tokio::time::sleep(POLL).await;
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[cfg(test)]
mod tests {
    //! The interface's defences, over a real socket: a request naming another host, an action
    //! from a page of another origin, an action without the session's token and a wrong
    //! password change nothing.

    use super::*;
    use std::io::{Read, Write};

    /// A directory of its own for one test, removed when dropped.
    struct TempDir(PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Serves the interface for a fresh wallet; the RPC address is never reached by these tests.
    fn serve(name: &str) -> (SocketAddr, TempDir) {
        let dir =
            TempDir(std::env::temp_dir().join(format!("equa-web-{name}-{}", std::process::id())));
        std::fs::create_dir_all(&dir.0).unwrap();
        let (wallet, _) = Wallet::generate("");
        let keystore =
            Keystore::encrypt(&wallet, "right", client::ScryptCost::TEST).expect("encrypts");
        let path = dir.0.join("wallet.json");
        keystore.save(&path).expect("saves");
        let bound = spawn(Settings {
            listen: "127.0.0.1:0".parse().unwrap(),
            wallet: path,
            rpc_url: "http://127.0.0.1:9".into(),
        })
        .expect("serves");
        (bound, dir)
    }

    /// Sends one HTTP/1.1 request and returns the status code and body.
    fn send(address: SocketAddr, request: &str) -> (u16, String) {
        let mut stream = std::net::TcpStream::connect(address).expect("connects");
        stream.write_all(request.as_bytes()).expect("writes");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("reads");
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .expect("a status line");
        let body = response
            .split_once("\r\n\r\n")
            .map_or_else(String::new, |(_, body)| body.to_string());
        (status, body)
    }

    fn post(
        address: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        send(address, &request)
    }

    #[test]
    fn requests_for_another_host_are_refused() {
        let (address, _dir) = serve("host");
        let (status, body) = send(
            address,
            "GET /api/session HTTP/1.1\r\nHost: attacker.example:80\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(status, 421, "{body}");
        let host = format!("127.0.0.1:{}", address.port());
        let (status, _) = send(
            address,
            &format!("GET /api/session HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        );
        assert_eq!(status, 200);
    }

    #[test]
    fn actions_from_another_origin_are_refused() {
        let (address, _dir) = serve("origin");
        let host = format!("127.0.0.1:{}", address.port());
        for origin in [
            "http://127.0.0.1:9999".to_string(),
            "http://attacker.example".to_string(),
            format!("https://{host}"),
            "null".to_string(),
        ] {
            let (status, body) = post(
                address,
                "/api/unlock",
                &[("Host", &host), ("Origin", &origin)],
                r#"{"password":"right"}"#,
            );
            assert_eq!(status, 403, "{origin}: {body}");
            assert!(body.contains("only from its own pages"), "{body}");
        }
        // Its own origin, and a client that sends none (the command line, curl), are served.
        let (status, _) = post(
            address,
            "/api/unlock",
            &[("Host", &host)],
            r#"{"password":"right"}"#,
        );
        assert_eq!(status, 200);
        let (status, _) = post(
            address,
            "/api/unlock",
            &[("Host", &host), ("Origin", &format!("http://{host}"))],
            r#"{"password":"right"}"#,
        );
        assert_eq!(status, 200);
    }

    #[test]
    fn actions_need_the_session_and_its_token() {
        let (address, _dir) = serve("session");
        let host = format!("127.0.0.1:{}", address.port());
        let action = r#"{"args":["send","equa1x","1","EQA"]}"#;
        // Locked: no session, for sending, a preview and the private payment details alike.
        for path in ["/api/act", "/api/preview", "/api/details"] {
            let (status, body) = post(address, path, &[("Host", &host)], action);
            assert_eq!(status, 401, "{path}: {body}");
        }
        // A wrong password unlocks nothing.
        let (status, body) = post(
            address,
            "/api/unlock",
            &[("Host", &host)],
            r#"{"password":"wrong"}"#,
        );
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("wrong password"), "{body}");
        // Unlocked, but the request carries the cookie without the token.
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        let body = r#"{"password":"right"}"#;
        write!(
            stream,
            "POST /api/unlock HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let cookie = response
            .lines()
            .find_map(|line| line.strip_prefix("set-cookie: "))
            .and_then(|value| value.split(';').next())
            .expect("a session cookie")
            .to_string();
        let (status, body) = post(
            address,
            "/api/act",
            &[("Host", &host), ("Cookie", &cookie)],
            action,
        );
        assert_eq!(status, 403, "{body}");
        for path in ["/api/act", "/api/preview", "/api/details"] {
            let (status, body) = post(
                address,
                path,
                &[("Host", &host), ("Cookie", &cookie), (CSRF_HEADER, "0000")],
                action,
            );
            assert_eq!(status, 403, "{path}: {body}");
            assert!(body.contains("token"), "{body}");
        }
        // A preview, or the payment details, from a page of another origin is refused like an
        // action.
        for path in ["/api/preview", "/api/details"] {
            let (status, body) = post(
                address,
                path,
                &[("Host", &host), ("Origin", "http://127.0.0.1:9999")],
                action,
            );
            assert_eq!(status, 403, "{path}: {body}");
        }
    }
}
