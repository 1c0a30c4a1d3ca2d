//! The parameters of every JSON-RPC method, sent to the real dispatcher (`rpc::server::module`)
//! over the fixture ledger, without sockets.
//!
//! The input's first byte picks a method among those `rpc.discover` lists (subscriptions aside:
//! they keep running after their call; `rpc.discover` itself ignores its parameters); the rest is the `params` value if it is JSON, and
//! otherwise a list of strings split at NUL bytes, so that arbitrary text reaches the methods'
//! own parsers (addresses, transaction hex, ids). Whatever the parameters, the answer must be a
//! JSON-RPC response with either a result or an error, never an internal error, and parameters
//! that are not a list, more of them than the method takes, or fewer than it requires, must get
//! the invalid-parameters error.

use crate::fixture::{FrozenBackend, busy_chain};
use jsonrpsee::types::ErrorCode;
use rpc::{Backend, server::module};
use serde_json::{Value, json};
use std::sync::{Arc, OnceLock};

/// A method the target calls, with how many positional parameters it takes and requires.
#[derive(Clone, Debug)]
pub struct Method {
    pub name: String,
    pub takes: usize,
    pub requires: usize,
}

struct Server {
    runtime: tokio::runtime::Runtime,
    module: jsonrpsee::RpcModule<Arc<dyn Backend>>,
    methods: Vec<Method>,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let backend: Arc<dyn Backend> = Arc::new(FrozenBackend::new(&busy_chain()));
        let module = module(backend);
        let mut server = Server {
            runtime,
            module,
            methods: Vec::new(),
        };
        let discovered = call(&server, rpc::method::DISCOVER, &Value::Null);
        let described = discovered["result"]["methods"]
            .as_array()
            .expect("rpc.discover lists the methods");
        server.methods = described
            .iter()
            .filter_map(|method| {
                let name = method["name"].as_str().expect("a method has a name");
                if name.contains("subscribe") {
                    return None;
                }
                let params = method["params"]
                    .as_array()
                    .expect("a method lists its params");
                let requires = params
                    .iter()
                    .filter(|p| p["required"].as_bool() == Some(true))
                    .count();
                Some(Method {
                    name: name.to_string(),
                    takes: params.len(),
                    requires,
                })
            })
            .collect();
        server
    })
}

/// The methods the target calls, in the order the input's first byte picks them.
pub fn methods() -> &'static [Method] {
    &server().methods
}

fn call(server: &Server, method: &str, params: &Value) -> Value {
    let request = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    let (response, _) = server
        .runtime
        .block_on(server.module.raw_json_request(&request.to_string(), 1))
        .expect("a well-formed request object");
    serde_json::from_str(response.get()).expect("the response is JSON")
}

/// The dispatcher's answer to `method` with `params`.
pub fn answer(method: &str, params: &Value) -> Value {
    call(server(), method, params)
}

/// The parameters the target reads from `bytes`.
pub fn params_of(bytes: &[u8]) -> Value {
    let text = String::from_utf8_lossy(bytes);
    serde_json::from_str(&text).unwrap_or_else(|_| {
        Value::Array(
            text.split('\0')
                .map(|part| Value::String(part.to_string()))
                .collect(),
        )
    })
}

/// The start of a response, for messages: `rpc.discover`'s is 60 KB.
fn short(response: &Value) -> String {
    response.to_string().chars().take(400).collect()
}

pub fn run(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let methods = methods();
    let method = &methods[usize::from(selector) % methods.len()];
    let params = params_of(rest);
    let response = answer(&method.name, &params);
    let shown = short(&response);
    assert_eq!(response["jsonrpc"], "2.0", "{shown}");
    assert_eq!(response["id"], 1, "{shown}");
    let result = response.get("result");
    let error = response.get("error");
    assert!(
        result.is_some() != error.is_some(),
        "a result or an error: {shown}"
    );
    let count = match &params {
        Value::Null => Some(0),
        Value::Array(values) => Some(values.len()),
        _ => None,
    };
    let malformed = count.is_none_or(|count| count > method.takes || count < method.requires);
    let Some(error) = error else {
        assert!(
            !malformed,
            "{} answered {params} with a result: {shown}",
            method.name
        );
        return;
    };
    let code = error["code"].as_i64().expect("an error has a code");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "an error says why: {shown}"
    );
    assert_ne!(
        code,
        i64::from(ErrorCode::InternalError.code()),
        "{} failed inside on {params}: {shown}",
        method.name
    );
    assert_ne!(code, i64::from(ErrorCode::MethodNotFound.code()));
    if malformed {
        assert_eq!(
            code,
            i64::from(ErrorCode::InvalidParams.code()),
            "{} with {params}: {shown}",
            method.name
        );
    }
}
