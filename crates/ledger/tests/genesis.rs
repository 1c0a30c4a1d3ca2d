//! Loading genesis files: a valid file builds the expected state; every kind of mistake is
//! reported with the field it is in.

use ledger::{Genesis, GenesisError, MemoryStore, audit, state, testing::account};
use types::{AssetId, amount::AmountError};

fn valid() -> String {
    format!(
        r#"
chain_id = "equa-demo"
genesis_time_ms = 1767225600000

[native]
symbol = "EQA"
name = "Equa"
decimals = 9

[params]
fee_per_byte = "0.000001"
default_call_fee = "0.001"
[params.call_fees]
"bank.transfer" = "0.0005"

[[assets]]
symbol = "USDX"
name = "Demo dollar"
decimals = 6
issuer = "{issuer}"
max_supply = "1000000"

[[accounts]]
address = "{alice}"
balances = {{ EQA = "1000", USDX = "250.5" }}

[[accounts]]
address = "{bob}"
balances = {{ EQA = "10" }}
"#,
        issuer = account(9),
        alice = account(1),
        bob = account(2),
    )
}

fn error_for(text: &str) -> GenesisError {
    Genesis::from_toml(text).expect_err("the genesis must be rejected")
}

#[test]
fn valid_genesis_builds_the_first_state() {
    let genesis = Genesis::from_toml(&valid()).unwrap();
    let mut store = MemoryStore::new();
    genesis.initialize(&mut store);
    assert_eq!(state::chain_id(&store).as_str(), "equa-demo");
    assert_eq!(
        state::balance(&store, &account(1), AssetId::NATIVE),
        1_000_000_000_000
    );
    assert_eq!(state::balance(&store, &account(1), AssetId(1)), 250_500_000);
    assert_eq!(
        state::balance(&store, &account(2), AssetId::NATIVE),
        10_000_000_000
    );
    let usd = state::asset(&store, AssetId(1)).unwrap();
    assert_eq!(usd.issuer, Some(account(9)));
    assert_eq!(usd.max_supply, Some(1_000_000_000_000));
    assert_eq!(usd.supply, 250_500_000);
    let params = state::params(&store);
    assert_eq!(params.fee_per_byte, 1_000);
    assert_eq!(params.call_fee("bank.transfer"), 500_000);
    assert_eq!(params.call_fee("bank.mint"), 1_000_000);
    assert_eq!(state::next_asset_id(&store), AssetId(2));
    assert_eq!(state::last_block(&store), (0, 1_767_225_600_000));
    audit::check_conservation(&store).unwrap();
}

#[test]
fn syntax_errors_and_unknown_fields_are_reported() {
    assert!(matches!(error_for("chain_id = "), GenesisError::Toml(_)));
    let typo = valid().replace("genesis_time_ms", "genesis_time");
    let message = error_for(&typo).to_string();
    assert!(message.contains("genesis_time"), "{message}");
}

#[test]
fn bad_chain_id_is_reported() {
    let text = valid().replace("equa-demo", "Equa Demo");
    assert!(matches!(error_for(&text), GenesisError::Invalid { field, .. } if field == "chain_id"));
}

#[test]
fn bad_amounts_name_their_field() {
    let text = valid().replace("USDX = \"250.5\"", "USDX = \"250.1234567\"");
    match error_for(&text) {
        GenesisError::Amount { field, source } => {
            assert_eq!(field, "accounts[0].balances.USDX");
            assert!(matches!(
                source,
                AmountError::TooPrecise {
                    found: 7,
                    decimals: 6,
                    ..
                }
            ));
        }
        other => panic!("unexpected {other:?}"),
    }
    let text = valid().replace("EQA = \"10\"", "EQA = \"-10\"");
    assert!(matches!(
        error_for(&text),
        GenesisError::Amount {
            source: AmountError::Negative { .. },
            ..
        }
    ));
}

#[test]
fn bad_addresses_name_their_field() {
    let text = valid().replace(&account(2).to_string(), "equa1notanaddress");
    assert!(
        matches!(error_for(&text), GenesisError::Address { field, .. } if field == "accounts[1].address")
    );
    let text = valid().replace(&account(9).to_string(), "equa1xyz");
    assert!(
        matches!(error_for(&text), GenesisError::Address { field, .. } if field == "assets[0].issuer")
    );
}

#[test]
fn duplicates_are_rejected() {
    let text = valid().replace(&account(2).to_string(), &account(1).to_string());
    assert!(matches!(
        error_for(&text),
        GenesisError::DuplicateAccount { .. }
    ));
    let text = valid().replace("symbol = \"USDX\"", "symbol = \"EQA\"");
    assert!(
        matches!(error_for(&text), GenesisError::DuplicateSymbol { symbol, .. } if symbol == "EQA")
    );
}

#[test]
fn balances_of_unknown_assets_are_rejected() {
    let text = valid().replace("USDX = \"250.5\"", "BTC = \"1\"");
    assert!(
        matches!(error_for(&text), GenesisError::UnknownAsset { symbol, .. } if symbol == "BTC")
    );
}

#[test]
fn balances_beyond_max_supply_are_rejected() {
    let text = valid().replace("max_supply = \"1000000\"", "max_supply = \"100\"");
    assert!(
        matches!(error_for(&text), GenesisError::SupplyTooLarge { symbol, .. } if symbol == "USDX")
    );
}

#[test]
fn invalid_decimals_and_symbols_are_rejected() {
    let text = valid().replace("decimals = 6", "decimals = 19");
    assert!(
        matches!(error_for(&text), GenesisError::Invalid { field, .. } if field == "assets[0].decimals")
    );
    let text = valid().replace("symbol = \"USDX\"", "symbol = \"usd x\"");
    assert!(
        matches!(error_for(&text), GenesisError::Invalid { field, .. } if field == "assets[0].symbol")
    );
}

#[test]
fn fee_schedules_that_overflow_are_rejected() {
    let text = valid().replace(
        "fee_per_byte = \"0.000001\"",
        "fee_per_byte = \"300000000000000000000000000000\"",
    );
    assert!(matches!(error_for(&text), GenesisError::Invalid { field, .. } if field == "params"));
}

#[test]
fn missing_file_is_reported_with_its_path() {
    let error = Genesis::load(std::path::Path::new("/nonexistent/genesis.toml")).unwrap_err();
    assert!(
        error.to_string().contains("/nonexistent/genesis.toml"),
        "{error}"
    );
}

#[test]
fn profiles_published_at_genesis_are_in_the_first_state() {
    let key = "ab".repeat(32);
    let text = format!(
        "{}\n[[profiles]]\naddress = \"{}\"\nname = \"Alice\"\nchat_key = \"{key}\"\n",
        valid(),
        account(1)
    );
    let genesis = Genesis::from_toml(&text).unwrap();
    let mut store = MemoryStore::new();
    genesis.initialize(&mut store);
    let profile = ledger::market::Db::profile(&store, &account(1)).expect("a profile");
    assert_eq!(profile.name.as_str(), "Alice");
    assert_eq!(profile.chat_key, [0xab; 32]);
    assert!(ledger::market::Db::profile(&store, &account(2)).is_none());
    audit::check_conservation(&store).unwrap();
}

#[test]
fn bad_profiles_name_their_field() {
    let profile = |address: String, name: &str, key: &str| {
        format!(
            "{}\n[[profiles]]\naddress = \"{address}\"\nname = \"{name}\"\nchat_key = \"{key}\"\n",
            valid()
        )
    };
    let key = "00".repeat(32);
    for (text, field) in [
        (
            profile(account(1).to_string(), "Alice", "00"),
            "profiles[0].chat_key",
        ),
        (
            profile(account(1).to_string(), "Alice", &"zz".repeat(32)),
            "profiles[0].chat_key",
        ),
        (
            profile(account(1).to_string(), &"x".repeat(33), &key),
            "profiles[0].name",
        ),
        (
            profile("equa1nope".into(), "Alice", &key),
            "profiles[0].address",
        ),
    ] {
        let error = error_for(&text).to_string();
        assert!(error.contains(field), "{field}: {error}");
    }
    let twice = format!(
        "{}[[profiles]]\naddress = \"{}\"\nname = \"Again\"\nchat_key = \"{key}\"\n",
        profile(account(1).to_string(), "Alice", &key),
        account(1)
    );
    assert!(matches!(
        error_for(&twice),
        GenesisError::DuplicateAccount { .. }
    ));
}

#[test]
fn the_genesis_state_holds_the_consensus_key_so_two_keys_make_two_chains() {
    let with_key = |key: &str| {
        valid().replacen(
            "genesis_time_ms = 1767225600000",
            &format!("genesis_time_ms = 1767225600000\nconsensus_key = \"{key}\""),
            1,
        )
    };
    let state_of = |text: &str| {
        let mut store = MemoryStore::new();
        Genesis::from_toml(text).unwrap().initialize(&mut store);
        store
    };
    let none = state_of(&valid());
    let one = state_of(&with_key("00ff"));
    let other = state_of(&with_key("00fe"));
    assert_eq!(state::consensus_key(&none), None);
    assert_eq!(state::consensus_key(&one), Some(vec![0x00, 0xff]));
    assert_ne!(
        one.scan_prefix(&[]).collect::<Vec<_>>(),
        other.scan_prefix(&[]).collect::<Vec<_>>()
    );
    for bad in ["", "0", "zz", "0g"] {
        match error_for(&with_key(bad)) {
            GenesisError::Invalid { field, .. } => assert_eq!(field, "consensus_key", "{bad:?}"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}
