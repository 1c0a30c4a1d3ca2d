//! Lenders' claims interleaved with repayments, from the command line against a real devnet
//! (four validator processes). A loan of 0.000003 USDX funded 0.000001 each by three lenders,
//! repaid 0.000002, claimed by the first lender (who takes the rounding remainder), repaid again
//! and claimed again: under the old split rule the second claim panicked inside block execution
//! and stopped every validator. Now every validator keeps finalizing and the lenders are paid
//! exactly what came in.

mod common;

use common::Devnet;

const RPC_PORT: u16 = 25_545;
const P2P_PORT: u16 = 25_300;

fn minor_units(value: &serde_json::Value) -> u128 {
    value["minor_units"].as_str().unwrap().parse().unwrap()
}

fn receipt(devnet: &Devnet, name: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend(args);
    let output = devnet.run(name, &all);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "{args:?}: {error}: {} {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn succeeds(devnet: &Devnet, name: &str, args: &[&str]) {
    let receipt = receipt(devnet, name, args);
    assert_eq!(receipt["outcome"], "success", "{args:?}: {receipt}");
}

#[test]
fn interleaved_claims_never_stop_the_chain_or_pay_more_than_was_repaid() {
    let devnet = Devnet::start("loan-claims", RPC_PORT, P2P_PORT);
    succeeds(
        &devnet,
        "bob",
        &[
            "loan",
            "request",
            "0.000003",
            "USDX",
            "--apr-bps",
            "1200",
            "--term-days",
            "90",
        ],
    );
    let requests = devnet.json("carol", &["loan", "list", "--state", "funding"]);
    let loan = requests[0]["id"].as_u64().unwrap().to_string();
    let lenders = ["alice", "carol", "dave"];
    for lender in lenders {
        succeeds(&devnet, lender, &["loan", "fund", &loan, "0.000001"]);
    }
    succeeds(&devnet, "bob", &["loan", "repay", &loan, "0.000002"]);
    succeeds(&devnet, "alice", &["loan", "claim", &loan]);
    succeeds(&devnet, "bob", &["loan", "repay", &loan, "0.000001"]);
    // The first lender claims again. Whatever the outcome, it is a receipt: the chain goes on.
    let second = receipt(&devnet, "alice", &["loan", "claim", &loan]);
    assert!(
        second["outcome"] == "success"
            || (second["outcome"] == "failed" && second["error"]["code"] == "NothingToClaim"),
        "{second}"
    );
    let heights: Vec<u64> = (0..4).map(|index| devnet.height(index).unwrap()).collect();
    for (index, height) in heights.iter().enumerate() {
        devnet.wait_for_height(index as u16, height + 5);
    }

    let show = |devnet: &Devnet| devnet.json("bob", &["loan", "show", &loan]);
    let view = show(&devnet);
    let claimed_and_owed = |view: &serde_json::Value| -> u128 {
        view["lenders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| minor_units(&p["claimed"]) + minor_units(&p["claimable"]))
            .sum()
    };
    assert!(
        claimed_and_owed(&view) <= minor_units(&view["paid_in"]),
        "{view}"
    );

    // Repay the rest and let everyone claim: the lenders get exactly what was paid in.
    succeeds(&devnet, "bob", &["loan", "repay", &loan, "--all"]);
    for lender in lenders {
        let receipt = receipt(&devnet, lender, &["loan", "claim", &loan]);
        assert!(
            receipt["outcome"] == "success" || receipt["error"]["code"] == "NothingToClaim",
            "{receipt}"
        );
    }
    let view = show(&devnet);
    assert_eq!(view["state"], "repaid", "{view}");
    let claimed: u128 = view["lenders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| minor_units(&p["claimed"]))
        .sum();
    assert_eq!(claimed, minor_units(&view["paid_in"]), "{view}");
}
