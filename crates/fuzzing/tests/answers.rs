//! What the targets rely on, checked on known inputs: the dispatcher answers malformed parameters
//! with the invalid-parameters error and well-formed ones with a result, and an action is read as
//! one word per line.

use fuzzing::{rpc_params, web_action};
use serde_json::{Value, json};

fn code(response: &Value) -> Option<i64> {
    response["error"]["code"].as_i64()
}

const INVALID_PARAMS: i64 = -32602;

#[test]
fn malformed_parameters_get_the_invalid_parameters_error() {
    let address = ledger::testing::account(0).to_address();
    for params in [
        json!({ "address": address }),
        json!(7),
        json!([address, 1]),
        json!([]),
        json!(["equa1 not an address"]),
        json!([12]),
    ] {
        let response = rpc_params::answer("equa_getAccount", &params);
        assert_eq!(
            code(&response),
            Some(INVALID_PARAMS),
            "{params}: {response}"
        );
    }
    let response = rpc_params::answer("equa_getAccount", &json!([address]));
    assert_eq!(response["result"]["address"], address, "{response}");
    let response = rpc_params::answer("equa_listOffers", &json!([{ "side": "sideways" }]));
    assert_eq!(code(&response), Some(INVALID_PARAMS), "{response}");
    let response = rpc_params::answer("equa_listOffers", &json!([{ "side": "sell" }]));
    assert_eq!(
        response["result"].as_array().map(Vec::len),
        Some(1),
        "{response}"
    );
}

#[test]
fn the_target_calls_every_method_but_subscriptions() {
    let names: Vec<&str> = rpc_params::methods()
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    for name in [
        "equa_sendTransaction",
        "equa_simulateTransaction",
        "equa_listOffers",
        "equa_getAccountFunds",
    ] {
        assert!(names.contains(&name), "{name} is not called: {names:?}");
    }
    assert!(!names.iter().any(|n| n.contains("subscribe")));
}

#[test]
fn an_action_is_one_word_per_line() {
    assert_eq!(
        web_action::words(b"trade\ntake\n7\n25 USDX"),
        ["trade", "take", "7", "25 USDX"]
    );
    assert!(web_action::words(b"").is_empty());
}
