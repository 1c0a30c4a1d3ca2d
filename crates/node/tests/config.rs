//! The node configuration file's pacing and memory keys: their defaults, and the values a node
//! refuses to start with.

use commonware_codec::Encode;
use commonware_cryptography::{Signer, ed25519};
use node::{
    engine::{self, Tuning},
    run::{RunConfig, RunError},
};
use std::{
    num::{NonZeroU32, NonZeroUsize},
    path::PathBuf,
    time::Duration,
};

const GENESIS: &str = r#"
chain_id = "equa-config-test"
genesis_time_ms = 0

[native]
symbol = "EQA"
name = "Equa"
decimals = 9

[params]
fee_per_byte = "0.000001"
default_call_fee = "0.001"
"#;

/// A directory holding a genesis and a validator's configuration ending in `extra`.
struct Files(PathBuf);

/// The consensus key lines of the one validator of [`Files`] (key seed 7).
fn consensus_lines() -> String {
    let key = ed25519::PrivateKey::from_seed(7);
    let (consensus_key, shares) = node::threshold::deal(
        <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(1),
        &[key.public_key()],
    );
    format!(
        "consensus_key = \"{}\"\nconsensus_share = \"{}\"",
        node::threshold::to_hex(&consensus_key),
        node::threshold::to_hex(&shares[0].1)
    )
}

impl Files {
    fn new(name: &str, extra: &str) -> Self {
        Self::with_consensus(name, extra, &consensus_lines())
    }

    fn with_consensus(name: &str, extra: &str, consensus: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("equa-config-test-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("genesis.toml"), GENESIS).unwrap();
        let key = ed25519::PrivateKey::from_seed(7);
        let config = format!(
            "genesis = \"genesis.toml\"\n\
             data_dir = \"data\"\n\
             listen = \"127.0.0.1:9000\"\n\
             private_key = \"{}\"\n\
             {consensus}\n\
             {extra}\n\
             [[validators]]\n\
             public_key = \"{}\"\n\
             address = \"127.0.0.1:9000\"\n",
            hex::encode(key.encode()),
            hex::encode(key.public_key().encode()),
        );
        std::fs::write(dir.join("node.toml"), config).unwrap();
        Self(dir)
    }

    fn load(&self) -> Result<RunConfig, RunError> {
        RunConfig::load(&self.0.join("node.toml"))
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_configuration_without_the_keys_gets_the_defaults() {
    let config = Files::new("defaults", "").load().unwrap();
    // The bound on a tracked peer set comes from the genesis, not a key.
    assert_eq!(
        config.tuning,
        Tuning {
            max_peers_per_set: config.tuning.max_peers_per_set,
            ..Tuning::default()
        }
    );
    assert_eq!(config.tuning.idle_block_interval, Duration::from_secs(1));
    // 64 MiB of 4 KiB pages.
    assert_eq!(config.tuning.page_cache_pages.get(), 16_384);
    assert_eq!(config.tuning.channel_burst.get(), 256);
    // The chain's leader timeout leaves a second beyond the longest idle interval.
    assert!(config.tuning.idle_block_interval <= engine::MAX_IDLE_BLOCK_INTERVAL);
    assert_eq!(engine::Timeouts::CHAIN.leader, Duration::from_secs(2));
}

#[test]
fn the_keys_are_read() {
    let config = Files::new(
        "set",
        "idle_block_interval_ms = 250\npage_cache_mib = 8\np2p_message_burst = 64",
    )
    .load()
    .unwrap();
    assert_eq!(
        config.tuning,
        Tuning {
            idle_block_interval: Duration::from_millis(250),
            page_cache_pages: NonZeroUsize::new(2_048).unwrap(),
            channel_burst: NonZeroU32::new(64).unwrap(),
            // Not a key: derived from the genesis (see `a_tracked_set_has_room_for_three_committees_and_every_candidate`).
            max_peers_per_set: config.tuning.max_peers_per_set,
        }
    );
}

#[test]
fn out_of_range_values_are_refused_by_name() {
    for (extra, key) in [
        ("idle_block_interval_ms = 0", "idle_block_interval_ms"),
        // Below the minimum interval between blocks: it would never be waited for.
        ("idle_block_interval_ms = 10", "idle_block_interval_ms"),
        // Above the longest idle interval the chain's timeouts leave room for: this node's
        // leaders would be nullified.
        ("idle_block_interval_ms = 1001", "idle_block_interval_ms"),
        ("idle_block_interval_ms = 60000", "idle_block_interval_ms"),
        ("page_cache_mib = 0", "page_cache_mib"),
        ("page_cache_mib = 8193", "page_cache_mib"),
        ("p2p_message_burst = 0", "p2p_message_burst"),
        // So small a burst would drop the node's own votes and sync requests.
        ("p2p_message_burst = 63", "p2p_message_burst"),
        ("p2p_message_burst = 10001", "p2p_message_burst"),
        ("state_cache_mib = 7", "state_cache_mib"),
        ("state_cache_mib = 65537", "state_cache_mib"),
        (
            "state_cache_mib = 64\nstate_write_batch = 0",
            "state_write_batch",
        ),
        (
            "state_cache_mib = 64\nstate_write_batch = 1048577",
            "state_write_batch",
        ),
        // A batch of values for a file the state does not have.
        ("state_write_batch = 100", "state_write_batch"),
    ] {
        let files = Files::new(key, extra);
        match files.load() {
            Err(RunError::Config(message)) => {
                assert!(message.starts_with(key), "{extra}: {message}");
            }
            other => panic!("{extra}: expected a configuration error, got {other:?}"),
        }
    }
    // The largest accepted values load.
    let config = Files::new(
        "largest",
        "idle_block_interval_ms = 1000\np2p_message_burst = 10000\npage_cache_mib = 8192",
    )
    .load()
    .unwrap();
    assert_eq!(config.tuning.idle_block_interval, Duration::from_secs(1));
    assert_eq!(config.tuning.channel_burst.get(), 10_000);
    assert_eq!(config.tuning.page_cache_pages.get(), 8192 * 256);
}

#[test]
fn the_state_is_kept_in_memory_unless_a_cache_for_its_file_is_configured() {
    let config = Files::new("state-in-memory", "").load().unwrap();
    assert_eq!(config.state_on_disk, None);
    let files = Files::new("state-on-disk", "state_cache_mib = 8");
    let config = files.load().unwrap();
    assert_eq!(
        config.state_on_disk,
        Some(ledger::OnDisk {
            dir: config.data_dir.join(node::run::STATE_DIR),
            cache_bytes: 4 << 20,
            write_batch: ledger::OnDisk::WRITE_BATCH,
            cached_values: (2 << 20) / ledger::OnDisk::BYTES_PER_CACHED_VALUE,
            read_values: (2 << 20) / ledger::OnDisk::BYTES_PER_READ_VALUE,
        })
    );
    let config = Files::new(
        "state-batch",
        "state_cache_mib = 65536\nstate_write_batch = 1",
    )
    .load()
    .unwrap();
    let on_disk = config.state_on_disk.unwrap();
    assert_eq!(
        (on_disk.cache_bytes, on_disk.write_batch),
        (32_768 << 20, 1)
    );
}

/// A node keeps two epochs of blocks: glue restarts an epoch from the block that introduced it,
/// and a joining node's probe asks for the boundary block of the floor's epoch.
#[test]
fn a_retention_shorter_than_two_epochs_is_refused() {
    // The genesis leaves the epoch length at its default, 3,600 blocks.
    match Files::new("short-retention", "retained_blocks = 7199").load() {
        Err(RunError::Config(message)) => {
            assert!(
                message.starts_with("retained_blocks is 7199; the chain's epochs are 3600"),
                "{message}"
            );
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    let config = Files::new("epoch-retention", "retained_blocks = 7200")
        .load()
        .unwrap();
    assert_eq!(config.retained_blocks, 7_200);
    // Unset, it is the default, or two epochs of a chain whose epochs are longer than half that.
    let config = Files::new("default-retention", "").load().unwrap();
    assert_eq!(config.retained_blocks, node::run::DEFAULT_RETAINED_BLOCKS);
    let long = format!("{GENESIS}\n[params.staking]\nblocks_per_epoch = 60000\n");
    let files = Files::new("long-epochs", "");
    std::fs::write(files.0.join("genesis.toml"), &long).unwrap();
    assert_eq!(files.load().unwrap().retained_blocks, 120_000);
    let files = Files::new("long-epochs-short-retention", "retained_blocks = 100000");
    std::fs::write(files.0.join("genesis.toml"), &long).unwrap();
    assert!(matches!(files.load(), Err(RunError::Config(message)) if message.contains("(120000)")));
}

#[test]
fn a_data_directory_is_claimed_when_new_and_refused_when_written_in_another_format() {
    use node::run::{DATA_FORMAT, FORMAT_FILE, claim_data_dir};
    let files = Files::new("data-format", "");
    let data = files.0.join("data");

    // A new directory is created and marked; claiming it again is fine.
    claim_data_dir(&data).unwrap();
    let marker = std::fs::read_to_string(data.join(FORMAT_FILE)).unwrap();
    assert_eq!(marker, format!("equa data format {DATA_FORMAT}\n"));
    std::fs::create_dir_all(data.join("equa-qmdb-log-journal")).unwrap();
    claim_data_dir(&data).unwrap();

    // An empty existing directory is claimed as well.
    let empty = files.0.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    claim_data_dir(&empty).unwrap();
    assert!(empty.join(FORMAT_FILE).exists());

    // Data without a marker: written before the format was recorded.
    let old = files.0.join("old");
    std::fs::create_dir_all(old.join("equa-qmdb-log-journal")).unwrap();
    let error = claim_data_dir(&old).unwrap_err();
    assert!(matches!(error, RunError::DataFormat { .. }), "{error}");
    assert!(
        error.to_string().contains("no EQUA_FORMAT marker"),
        "{error}"
    );
    assert!(
        !old.join(FORMAT_FILE).exists(),
        "a refused directory is left untouched"
    );

    // Another format's marker, or a damaged one.
    for written in [
        format!("equa data format {}\n", DATA_FORMAT - 1),
        format!("equa data format {}\n", DATA_FORMAT + 1),
        "\u{0}\u{1}garbage".to_string(),
    ] {
        std::fs::write(data.join(FORMAT_FILE), &written).unwrap();
        let error = claim_data_dir(&data).unwrap_err();
        assert!(
            error.to_string().contains(&format!(
                "this build reads and writes format {DATA_FORMAT} only"
            )),
            "{error}"
        );
        assert_eq!(
            std::fs::read(data.join(FORMAT_FILE)).unwrap(),
            written.as_bytes(),
            "a refused marker is left as it was"
        );
    }
}

/// Red team: the first start of a new node writes `EQUA_FORMAT.new` and then renames it. A
/// crash (or a full disk, or a kill) between the two leaves a directory holding only the staging
/// file, which is this build's own, half-finished claim. The next start must finish the claim,
/// not refuse the directory as "data of a build before the format" forever.
///
/// (It failed when `claim_data_dir` counted the staging file as data.)
#[test]
fn a_crash_between_writing_and_renaming_the_marker_does_not_refuse_the_directory_forever() {
    use node::run::{DATA_FORMAT, FORMAT_FILE, claim_data_dir};
    let files = Files::new("data-format-staging", "");
    let data = files.0.join("data");
    std::fs::create_dir_all(&data).unwrap();
    // What the crash leaves: the staging file, whole or empty, and no marker.
    for staged in [format!("equa data format {DATA_FORMAT}\n"), String::new()] {
        std::fs::write(data.join(format!("{FORMAT_FILE}.new")), &staged).unwrap();
        let claimed = claim_data_dir(&data);
        assert!(
            claimed.is_ok(),
            "a directory holding only this build's staging marker ({staged:?}) is refused: {}",
            claimed.unwrap_err()
        );
        assert_eq!(
            std::fs::read_to_string(data.join(FORMAT_FILE)).unwrap(),
            format!("equa data format {DATA_FORMAT}\n")
        );
        std::fs::remove_file(data.join(FORMAT_FILE)).unwrap();
        let _ = std::fs::remove_file(data.join(format!("{FORMAT_FILE}.new")));
    }
}

/// Red team: markers of odd shapes are refused by name, and nothing is written into a refused
/// directory: a marker that is a directory, a data directory that is a file, a read-only empty
/// directory (nothing can be written, so it is refused and stays empty).
#[test]
fn odd_markers_and_unwritable_directories_are_refused_and_left_untouched() {
    use node::run::{FORMAT_FILE, claim_data_dir};
    let files = Files::new("data-format-odd", "");

    let marker_dir = files.0.join("marker-dir");
    std::fs::create_dir_all(marker_dir.join(FORMAT_FILE)).unwrap();
    let error = claim_data_dir(&marker_dir).unwrap_err();
    assert!(matches!(error, RunError::DataFormat { .. }), "{error}");
    let listed: Vec<_> = std::fs::read_dir(&marker_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(listed, vec![std::ffi::OsString::from(FORMAT_FILE)]);

    let file = files.0.join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let error = claim_data_dir(&file).unwrap_err();
    assert!(matches!(error, RunError::DataFormat { .. }), "{error}");
    assert_eq!(std::fs::read(&file).unwrap(), b"not a directory");

    // A read-only directory (root ignores permissions; the check is then moot).
    let read_only = files.0.join("read-only");
    std::fs::create_dir_all(&read_only).unwrap();
    let mut permissions = std::fs::metadata(&read_only).unwrap().permissions();
    permissions.set_readonly(true);
    std::fs::set_permissions(&read_only, permissions.clone()).unwrap();
    let writable = std::fs::write(read_only.join("probe"), b"").is_ok();
    if !writable {
        let error = claim_data_dir(&read_only).unwrap_err();
        assert!(matches!(error, RunError::DataFormat { .. }), "{error}");
        assert_eq!(std::fs::read_dir(&read_only).unwrap().count(), 0);
    }
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(&read_only, permissions).unwrap();
}

/// Every way a configuration's consensus key can be wrong is refused at load, by name.
#[test]
fn a_consensus_key_or_share_that_does_not_fit_is_refused_by_name() {
    let me = ed25519::PrivateKey::from_seed(7).public_key();
    let other = ed25519::PrivateKey::from_seed(8).public_key();
    let dealt = |seed: u64, validators: &[ed25519::PublicKey]| {
        node::threshold::deal(
            <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(seed),
            validators,
        )
    };
    let (key, shares) = dealt(1, std::slice::from_ref(&me));
    let key_hex = node::threshold::to_hex(&key);
    let share_hex = node::threshold::to_hex(&shares[0].1);
    let (foreign_key, foreign_shares) = dealt(2, std::slice::from_ref(&me));
    let (two_key, two_shares) = dealt(3, &[me.clone(), other]);
    let my_share_of_two = two_shares
        .iter()
        .find(|(holder, _)| *holder == me)
        .map(|(_, share)| node::threshold::to_hex(share))
        .unwrap();
    let cases = [
        ("missing", String::new(), "consensus_key"),
        (
            "no-share",
            format!("consensus_key = \"{key_hex}\""),
            "consensus_share is missing",
        ),
        (
            "not-hex",
            format!("consensus_key = \"zz\"\nconsensus_share = \"{share_hex}\""),
            "consensus_key: not hex",
        ),
        (
            "truncated",
            format!(
                "consensus_key = \"{}\"\nconsensus_share = \"{share_hex}\"",
                &key_hex[..key_hex.len() - 2]
            ),
            "consensus_key: not a valid encoding",
        ),
        (
            "foreign-share",
            format!(
                "consensus_key = \"{key_hex}\"\nconsensus_share = \"{}\"",
                node::threshold::to_hex(&foreign_shares[0].1)
            ),
            "not this validator's share",
        ),
        (
            "foreign-key",
            format!(
                "consensus_key = \"{}\"\nconsensus_share = \"{share_hex}\"",
                node::threshold::to_hex(&foreign_key)
            ),
            "not this validator's share",
        ),
        (
            "other-validators",
            format!(
                "consensus_key = \"{}\"\nconsensus_share = \"{my_share_of_two}\"",
                node::threshold::to_hex(&two_key)
            ),
            "consensus_key names 2 validators, the configuration lists 1",
        ),
    ];
    for (name, consensus, expected) in cases {
        let files = Files::with_consensus(name, "", &consensus);
        assert_refused(&files, name, expected);
    }

    // Two validators, and this one given the other's share (as handing shares out in file order
    // instead of the key's order would): refused, or it would vote as the other validator.
    let others_share = two_shares
        .iter()
        .find(|(holder, _)| *holder != me)
        .map(|(_, share)| node::threshold::to_hex(share))
        .unwrap();
    let second = format!(
        "[[validators]]\npublic_key = \"{}\"\naddress = \"127.0.0.1:9001\"",
        hex::encode(ed25519::PrivateKey::from_seed(8).public_key().encode())
    );
    let two_key_hex = node::threshold::to_hex(&two_key);
    let files = Files::with_consensus(
        "others-share",
        &second,
        &format!("consensus_key = \"{two_key_hex}\"\nconsensus_share = \"{others_share}\""),
    );
    assert_refused(&files, "others-share", "not this validator's share");
    let files = Files::with_consensus(
        "own-share",
        &second,
        &format!("consensus_key = \"{two_key_hex}\"\nconsensus_share = \"{my_share_of_two}\""),
    );
    assert!(files.load().unwrap().is_validator());

    // A mistyped key is refused without quoting the file: its lines hold the share.
    let files = Files::with_consensus(
        "typo",
        "",
        &format!("consensus_key = \"{key_hex}\"\nconsensus_shares = \"{share_hex}\""),
    );
    match files.load() {
        Err(RunError::Config(message)) => {
            assert!(
                message.contains("unknown field `consensus_shares`"),
                "{message}"
            );
            assert!(message.starts_with("line "), "{message}");
            assert!(
                !message.contains(&share_hex),
                "the share was quoted: {message}"
            );
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }

    fn assert_refused(files: &Files, name: &str, expected: &str) {
        match files.load() {
            Err(RunError::Config(message)) => {
                assert!(message.contains(expected), "{name}: {message}");
            }
            other => panic!("{name}: expected a configuration error, got {other:?}"),
        }
    }

    // A full node holds no share: one that has one is refused.
    let follower = ed25519::PrivateKey::from_seed(9);
    let files = Files::with_consensus(
        "follower-with-share",
        "",
        &format!("consensus_key = \"{key_hex}\"\nconsensus_share = \"{share_hex}\""),
    );
    let text = std::fs::read_to_string(files.0.join("node.toml")).unwrap();
    let own = hex::encode(ed25519::PrivateKey::from_seed(7).encode());
    std::fs::write(
        files.0.join("node.toml"),
        text.replace(&own, &hex::encode(follower.encode())),
    )
    .unwrap();
    match files.load() {
        Err(RunError::Config(message)) => {
            assert!(message.contains("only validators hold shares"), "{message}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    // Without the share it loads, as a verifier.
    let text = std::fs::read_to_string(files.0.join("node.toml")).unwrap();
    std::fs::write(
        files.0.join("node.toml"),
        text.replace(&format!("consensus_share = \"{share_hex}\"\n"), ""),
    )
    .unwrap();
    let config = files.load().unwrap();
    assert!(!config.is_validator());
}

/// A genesis whose staking registry holds the one validator of [`Files`] (key seed 7) at
/// `p2p`.
fn registry_genesis(p2p: &str) -> String {
    let key = ed25519::PrivateKey::from_seed(7);
    let account = types::AccountId::from_public_key(&key.public_key());
    format!(
        "{GENESIS}\n[params.staking]\nmin_bond = \"100\"\n\n\
         [[accounts]]\naddress = \"{account}\"\nbalances = {{ EQA = \"1000\" }}\n\n\
         [[validators]]\naddress = \"{account}\"\nnode_key = \"{}\"\np2p = \"{p2p}\"\nbond = \"500\"\n",
        hex::encode(key.public_key().encode())
    )
}

#[test]
fn the_validators_come_from_the_genesis_registry_and_a_configuration_must_agree() {
    // Listed in the configuration and registered at the same address in genesis: accepted.
    let files = Files::new("registry-agrees", "");
    std::fs::write(
        files.0.join("genesis.toml"),
        registry_genesis("127.0.0.1:9000"),
    )
    .unwrap();
    let config = files
        .load()
        .expect("the configuration agrees with the genesis registry");
    assert!(config.is_validator());

    // Registered elsewhere in genesis: the configuration's list is refused, naming both.
    std::fs::write(
        files.0.join("genesis.toml"),
        registry_genesis("127.0.0.1:9555"),
    )
    .unwrap();
    let error = files.load().unwrap_err().to_string();
    assert!(
        error.contains("differ from the committee the genesis registry elects")
            && error.contains("127.0.0.1:9555")
            && error.contains("127.0.0.1:9000"),
        "{error}"
    );

    // No `validators` at all: the genesis committee, with its address.
    let text = std::fs::read_to_string(files.0.join("node.toml")).unwrap();
    let without = text.split("[[validators]]").next().unwrap().to_string();
    std::fs::write(files.0.join("node.toml"), without).unwrap();
    let config = files
        .load()
        .expect("the genesis registry names the validators");
    let key = ed25519::PrivateKey::from_seed(7).public_key();
    assert_eq!(
        config.validators,
        vec![(key, "127.0.0.1:9555".parse().unwrap())]
    );
    assert!(config.is_validator());

    // Neither lists any: refused by name.
    std::fs::write(files.0.join("genesis.toml"), GENESIS).unwrap();
    let error = files.load().unwrap_err().to_string();
    assert!(error.contains("no validators"), "{error}");
}

#[test]
fn a_tracked_set_has_room_for_three_committees_every_candidate_and_every_full_node() {
    // The genesis keeps the default staking parameters: committees of 32, 64 candidates, 64
    // full nodes. An epoch's set tracks its dealers, players and next players (three
    // committees) as primary peers, and every registered candidate and full node as a
    // secondary one, besides this node.
    let config = Files::new("peers", "").load().unwrap();
    assert_eq!(config.genesis.staking.committee_size, 32);
    assert_eq!(config.genesis.staking.max_candidates, 64);
    assert_eq!(config.genesis.staking.max_nodes, 64);
    assert_eq!(config.tuning.max_peers_per_set, 3 * 32 + 64 + 64 + 1);
    // More genesis validators than the committee size widen each committee's share.
    assert_eq!(
        node::run::max_peers_per_set(&config.genesis, 40),
        3 * 40 + 64 + 64 + 1
    );
}

#[test]
fn the_consensus_key_may_come_from_the_genesis_file_and_must_agree_with_it() {
    let key = ed25519::PrivateKey::from_seed(7);
    let dealt = |seed: u64| {
        node::threshold::deal(
            <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(seed),
            &[key.public_key()],
        )
    };
    let (chain_key, shares) = dealt(1);
    let (other_key, _) = dealt(2);
    let chain_hex = node::threshold::to_hex(&chain_key);
    let share_line = format!(
        "consensus_share = \"{}\"",
        node::threshold::to_hex(&shares[0].1)
    );
    let with_genesis_key = |name: &str, consensus: &str, genesis_key: &str| {
        let files = Files::with_consensus(name, "", consensus);
        let genesis = GENESIS.replacen(
            "genesis_time_ms = 0",
            &format!("genesis_time_ms = 0\nconsensus_key = \"{genesis_key}\""),
            1,
        );
        std::fs::write(files.0.join("genesis.toml"), genesis).unwrap();
        files
    };
    // Only in the genesis file: taken from there.
    let files = with_genesis_key("genesis-key", &share_line, &chain_hex);
    let config = files.load().expect("the genesis file's key");
    assert_eq!(config.consensus_key.encode(), chain_key.encode());
    // In both, the same: fine.
    let both = format!("consensus_key = \"{chain_hex}\"\n{share_line}");
    with_genesis_key("both-same", &both, &chain_hex)
        .load()
        .expect("the same key twice");
    // In both, different: refused, since the node would follow another chain.
    let other_hex = node::threshold::to_hex(&other_key);
    match with_genesis_key("both-differ", &both, &other_hex).load() {
        Err(RunError::Config(message)) => {
            assert!(
                message.contains("differs from the genesis file's"),
                "{message}"
            )
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    // A genesis key that is not hex is refused with the genesis file; one that is hex but no
    // key is refused by name.
    match with_genesis_key("genesis-garbage", &share_line, "zz").load() {
        Err(RunError::Genesis(error)) => {
            assert!(error.to_string().contains("consensus_key"), "{error}")
        }
        other => panic!("expected a genesis error, got {other:?}"),
    }
    match with_genesis_key("genesis-not-a-key", &share_line, "abcd").load() {
        Err(RunError::Config(message)) => {
            assert!(
                message.contains("the genesis file's consensus_key"),
                "{message}"
            )
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn bootstrap_peers_are_read_and_a_malformed_one_is_refused_by_position() {
    let peer = ed25519::PrivateKey::from_seed(11).public_key();
    let peer_hex = hex::encode(peer.encode());
    let config = Files::new(
        "bootstrap",
        &format!("bootstrap = [\"{peer_hex}@127.0.0.1:9400\"]"),
    )
    .load()
    .unwrap();
    assert_eq!(
        config.bootstrap,
        vec![(peer, "127.0.0.1:9400".parse().unwrap())]
    );
    for (name, entry, expected) in [
        (
            "no-at",
            peer_hex.clone(),
            "is not <public key hex>@<ip:port>",
        ),
        (
            "bad-key",
            "abcd@127.0.0.1:9400".to_string(),
            "the public key",
        ),
        (
            "bad-address",
            format!("{peer_hex}@localhost"),
            "the address",
        ),
    ] {
        let extra = format!("bootstrap = [\"{peer_hex}@127.0.0.1:9401\", \"{entry}\"]");
        match Files::new(name, &extra).load() {
            Err(RunError::Config(message)) => {
                assert!(message.contains("bootstrap[1]"), "{name}: {message}");
                assert!(message.contains(expected), "{name}: {message}");
            }
            other => panic!("{name}: expected a configuration error, got {other:?}"),
        }
    }
    // `followers` is no longer a key: full nodes are admitted by registration.
    match Files::new("followers", "followers = []").load() {
        Err(RunError::Config(message)) => assert!(message.contains("followers"), "{message}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

fn refusal(files: &Files) -> String {
    match files.load() {
        Ok(_) => panic!("the configuration was accepted"),
        Err(error) => error.to_string(),
    }
}

/// A checkpoint is refused, saying why, when the node does not state-sync, when its file is
/// missing or not a checkpoint, and when it is not an epoch's boundary.
#[test]
fn a_bad_checkpoint_setting_is_refused() {
    let without_sync = Files::new("checkpoint-no-sync", "checkpoint = \"checkpoint.json\"");
    let error = refusal(&without_sync);
    assert!(error.contains("state_sync is not"), "{error}");

    let missing = Files::new(
        "checkpoint-missing",
        "state_sync = true\ncheckpoint = \"checkpoint.json\"",
    );
    let error = refusal(&missing);
    assert!(error.contains("checkpoint.json"), "{error}");

    let garbage = Files::new(
        "checkpoint-garbage",
        "state_sync = true\ncheckpoint = \"checkpoint.json\"",
    );
    std::fs::write(garbage.0.join("checkpoint.json"), "{}").unwrap();
    let error = refusal(&garbage);
    assert!(error.contains("not a checkpoint file"), "{error}");

    let first = Files::new(
        "checkpoint-first",
        "state_sync = true\ncheckpoint = \"checkpoint.json\"",
    );
    std::fs::write(
        first.0.join("checkpoint.json"),
        r#"{"epoch":0,"height":0,"block":"00","finalization":"00"}"#,
    )
    .unwrap();
    let error = refusal(&first);
    assert!(
        error.contains("refused") && error.contains("epoch 0"),
        "{error}"
    );
}

/// The state and pruning keys at the edges of what TOML can say (negative, fractional, text,
/// the largest integer, the bounds plus and minus one) are refused by a message that names the
/// key; none loads silently to something else.
#[test]
fn state_and_pruning_values_at_the_edges_are_refused_by_name() {
    for (extra, key) in [
        ("retained_blocks = -1", "retained_blocks"),
        ("retained_blocks = 0", "retained_blocks"),
        ("retained_blocks = 19", "retained_blocks"),
        ("retained_blocks = 1.5", "retained_blocks"),
        ("retained_blocks = \"7200\"", "retained_blocks"),
        ("state_cache_mib = -8", "state_cache_mib"),
        ("state_cache_mib = 0", "state_cache_mib"),
        ("state_cache_mib = 9223372036854775807", "state_cache_mib"),
        ("state_cache_mib = 64.0", "state_cache_mib"),
        (
            "state_cache_mib = 64\nstate_write_batch = -1",
            "state_write_batch",
        ),
        (
            "state_cache_mib = 64\nstate_write_batch = 9223372036854775807",
            "state_write_batch",
        ),
        ("state_write_batch = 0", "state_write_batch"),
    ] {
        let files = Files::new(&key.replace('_', "-"), extra);
        match files.load() {
            Err(RunError::Config(message)) => {
                // A value of the wrong type is named by its line, which holds the key.
                let text = std::fs::read_to_string(files.0.join("node.toml")).unwrap();
                let line = text
                    .lines()
                    .position(|line| line.starts_with(key))
                    .map(|at| format!("line {}:", at + 1))
                    .unwrap();
                assert!(
                    message.contains(key) || message.starts_with(&line),
                    "{extra}: {message}"
                );
            }
            other => panic!("{extra}: expected a configuration error naming {key}, got {other:?}"),
        }
    }
}

/// The largest retention TOML can say loads as that many blocks (never pruned): it must not
/// wrap into a small retention.
#[test]
fn the_largest_retention_loads_as_itself() {
    let files = Files::new("largest-retention", "retained_blocks = 9223372036854775807");
    match files.load() {
        Ok(config) => assert_eq!(config.retained_blocks as u64, i64::MAX as u64),
        Err(RunError::Config(message)) => assert!(message.contains("retained_blocks"), "{message}"),
        Err(other) => panic!("{other:?}"),
    }
}
