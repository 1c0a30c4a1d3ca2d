//! Running a validator as a real process: tokio runtime, authenticated discovery over TCP, and the
//! node wiring of [`crate::engine`]. This is what `equa node --config <file>` calls.
//!
//! The configuration file is TOML:
//!
//! ```toml
//! genesis = "genesis.toml"         # relative paths are relative to this file
//! data_dir = "data/v0"
//! listen = "127.0.0.1:9000"
//! private_key = "<64 hex digits>"  # this node's ed25519 key (its network identity)
//! consensus_key = "<hex>"          # the chain's threshold key; optional when the genesis
//!                                  # file holds it
//! consensus_share = "<hex>"        # this validator's share of it (genesis validators only)
//! bootstrap = ["<64 hex digits>@203.0.113.7:9000"]   # more peers to start from
//! state_sync = true                # a node with no state syncs it from peers
//! checkpoint = "checkpoint.json"   # a later committee to sync from (`equa node checkpoint`)
//!
//! [[validators]]                   # the genesis validators; optional when the genesis
//! public_key = "<64 hex digits>"   # file's staking registry names them
//! address = "127.0.0.1:9000"
//! ```
//!
//! A node starts from the genesis validators' addresses and its `bootstrap` peers, and learns
//! the rest from them. Peers accept it once its key is registered on the chain, as a validator
//! candidate or a full node (`equa validator register`, `equa node register`), from the epoch
//! after the registration.

use crate::{
    App, AppConfig, Scheme,
    engine::{self, Channels, NodeConfig},
    mempool::{Mempool, MempoolConfig},
    metrics::{NodeMetrics, PeerReading, Reading},
};
use commonware_consensus::marshal::{Identifier, standard::Standard};
use commonware_cryptography::{ChaCha20Poly1305, Signer, ed25519};
use commonware_p2p::{Manager, TrackedPeers, authenticated::discovery};
use commonware_runtime::{Clock, Spawner, buffer::paged::CacheRef};
use commonware_runtime::{Quota, Runner, Supervisor as _, tokio};
use commonware_stream::{cups, sake};
use commonware_utils::{NZU16, NZU32, NZUsize, ordered::Set};
use ledger::{Genesis, MemoryStore};
use serde::Deserialize;
use std::{
    net::SocketAddr,
    num::{NonZeroU32, NonZeroU64, NonZeroUsize},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

/// The p2p handshake namespace, distinct from the consensus namespace.
pub const P2P_NAMESPACE: &[u8] = b"EQUA_P2P_V1";

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot read {path}: {message}")]
    Io { path: String, message: String },
    #[error("invalid node configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Genesis(#[from] ledger::GenesisError),
    #[error("data directory {path}: {message}")]
    DataFormat { path: String, message: String },
}

/// The data format this build writes, recorded in [`FORMAT_FILE`] in every data directory.
/// Format 3 holds the ledger's records in the authenticated store and the account history
/// beside it; a store of an earlier format holds other bytes under the same state roots, so it
/// cannot be read or extended. Format 4 stores threshold-signature certificates (format 3 held
/// ed25519 ones), so its chain is a different chain. Format 5 holds the staking module's
/// records (its parameters and genesis validators are in the genesis state, and its call is a
/// new transaction variant), which a format-4 store lacks. Format 6 adds epochs to staking (the
/// epoch length in its parameters, each epoch's committee, each validator's service), so a
/// format-5 state decodes differently. Format 7 runs consensus in epochs, with the key's
/// resharing carried in blocks. Format 8 carries that payload length-prefixed and decodes it
/// only when read (`block::Reshare`), so its blocks, the genesis one included, differ. Format 9
/// adds the full-node registry (two fields of the staking parameters, two tables, two calls).
/// Format 10 adds the ledger's slashing rule (a field of the staking parameters and of each
/// validator record, two tables). Format 11 blocks carry evidence of contradictory votes (a
/// field of every block, the genesis one included) and votes travel signed by node keys.
/// Format 12 lists the active loans in a table of their own, which a format-11 state lacks,
/// and compresses the account history's entries.
/// Format 13 takes a silent validator off the candidates: a field of the staking parameters,
/// two of each validator record, the reason an unbonding started, and a table of player counts.
pub const DATA_FORMAT: u32 = 13;

/// The file in a data directory that names its format.
pub const FORMAT_FILE: &str = "EQUA_FORMAT";

/// Makes `dir` this build's data directory: a missing or empty one is created and marked with
/// [`DATA_FORMAT`]; one marked with it is used as it is; anything else (files but no marker,
/// another format, an unreadable marker) is refused and left untouched.
pub fn claim_data_dir(dir: &Path) -> Result<(), RunError> {
    let refuse = |message: String| RunError::DataFormat {
        path: dir.display().to_string(),
        message,
    };
    let io = |error: std::io::Error| refuse(error.to_string());
    let marker = dir.join(FORMAT_FILE);
    let expected = format!("equa data format {DATA_FORMAT}\n");
    match std::fs::read(&marker) {
        Ok(found) if found == expected.as_bytes() => return Ok(()),
        Ok(found) => {
            let found = String::from_utf8_lossy(&found);
            return Err(refuse(format!(
                "it holds \"{}\", and this build reads and writes format {DATA_FORMAT} only; \
                 move the directory away and sync the chain again (a chain begun in an \
                 earlier format restarts from a new genesis)",
                found.trim().chars().take(64).collect::<String>()
            )));
        }
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(io(error)),
        Err(_) => {}
    }
    std::fs::create_dir_all(dir).map_err(io)?;
    let staging_name = format!("{FORMAT_FILE}.new");
    // A marker being written when the node stopped is this build's own claim, not data.
    let mut holds_data = false;
    for entry in std::fs::read_dir(dir).map_err(io)? {
        if entry.map_err(io)?.file_name() != staging_name.as_str() {
            holds_data = true;
        }
    }
    if holds_data {
        return Err(refuse(format!(
            "it holds data but no {FORMAT_FILE} marker: it was written by a build before data \
             format {DATA_FORMAT}, which this build cannot read; move it away and sync the \
             chain again (a chain begun in an earlier format restarts from a new genesis)"
        )));
    }
    // Written whole under another name, synced and renamed, and the rename synced, so a crash
    // or power cut leaves either no marker or the whole one.
    let staging = dir.join(staging_name);
    {
        use std::io::Write as _;
        let mut file = std::fs::File::create(&staging).map_err(io)?;
        file.write_all(expected.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    std::fs::rename(&staging, &marker).map_err(io)?;
    std::fs::File::open(dir)
        .and_then(|directory| directory.sync_all())
        .map_err(io)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    genesis: PathBuf,
    data_dir: PathBuf,
    listen: SocketAddr,
    /// Where to serve JSON-RPC (HTTP and WebSocket); none when absent.
    #[serde(default)]
    rpc: Option<SocketAddr>,
    private_key: String,
    /// The public side of the chain's threshold key (see [`crate::threshold`]), hex; when
    /// absent, the genesis file's.
    #[serde(default)]
    consensus_key: Option<String>,
    /// This validator's share of the consensus key, hex; absent on a full node.
    #[serde(default)]
    consensus_share: Option<String>,
    /// The chain's validators and where they listen. When absent, the committee that the
    /// genesis file's staking registry elects; when given and the genesis registers validators,
    /// it must be exactly that committee.
    #[serde(default)]
    validators: Vec<RawValidator>,
    /// Peers to start from besides the genesis validators: `<public key hex>@<ip:port>`.
    #[serde(default)]
    bootstrap: Vec<String>,
    /// The web interface; none when absent.
    #[serde(default)]
    web: Option<RawWeb>,
    /// Where to serve Prometheus metrics (`/metrics`), a loopback address; none when absent.
    #[serde(default)]
    metrics: Option<SocketAddr>,
    /// Milliseconds a leader with no pending transaction waits before proposing an empty block.
    #[serde(default)]
    idle_block_interval_ms: Option<u64>,
    /// Mebibytes of storage page cache.
    #[serde(default)]
    page_cache_mib: Option<u64>,
    /// Messages each peer may send at once on each consensus channel.
    #[serde(default)]
    p2p_message_burst: Option<u32>,
    /// A node with no state yet syncs it from peers instead of executing every block since
    /// genesis.
    #[serde(default)]
    state_sync: bool,
    /// A checkpoint file (`equa node checkpoint`): a later epoch's committee, which a node
    /// that state-syncs asks for a recent block instead of the genesis validators.
    #[serde(default)]
    checkpoint: Option<PathBuf>,
    /// Finalized blocks kept for peers that are behind; older ones are pruned.
    #[serde(default)]
    retained_blocks: Option<u64>,
    /// Keep the ledger state on disk behind a page cache of this many MiB, instead of whole in
    /// memory.
    #[serde(default)]
    state_cache_mib: Option<u64>,
    /// With the state on disk: values that wait in memory to move to the file together.
    #[serde(default)]
    state_write_batch: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeb {
    listen: SocketAddr,
    wallet: PathBuf,
}

/// Where the node serves its web interface, and the wallet it acts for.
#[derive(Clone, Debug)]
pub struct WebSettings {
    /// A loopback address: the interface can move the wallet's funds.
    pub listen: SocketAddr,
    /// The keystore file; it is unlocked in the browser with its password.
    pub wallet: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValidator {
    public_key: String,
    address: SocketAddr,
}

fn decode_hex<T: commonware_codec::Decode<Cfg = ()>>(
    field: &str,
    text: &str,
) -> Result<T, RunError> {
    let bytes = hex::decode(text.trim()).map_err(|e| RunError::Config(format!("{field}: {e}")))?;
    types::codec::decode(&bytes).map_err(|e| RunError::Config(format!("{field}: {e}")))
}

/// The committee of epoch 0, which the genesis file's staking registry elects, with each
/// member's address: the chain's first validators, who hold the genesis key and whom a node
/// dials first (later committees come from staking). A configuration that lists none takes
/// these; one that lists some must list exactly these when the genesis registers any (a chain
/// whose genesis registers none takes the configuration's list as it is).
fn genesis_validators(
    genesis: &Genesis,
    configured: Vec<(ed25519::PublicKey, SocketAddr)>,
) -> Result<Vec<(ed25519::PublicKey, SocketAddr)>, RunError> {
    let mut state = MemoryStore::new();
    genesis.initialize(&mut state);
    let mut elected = Vec::new();
    let epoch_zero = ledger::staking::epoch_committee(&state, 0)
        .map(|committee| committee.members)
        .unwrap_or_default();
    for seat in epoch_zero {
        let member = ledger::staking::Db::validator(&state, &seat.account).ok_or_else(|| {
            RunError::Config(format!(
                "genesis validator {} sits on epoch 0's committee but has no record",
                seat.account
            ))
        })?;
        let address = member.address.as_str().parse::<SocketAddr>().map_err(|e| {
            RunError::Config(format!(
                "genesis validator {}: address {}: {e}",
                member.account, member.address
            ))
        })?;
        elected.push((member.node_key.public_key(), address));
    }
    match (elected.is_empty(), configured.is_empty()) {
        (true, true) => Err(RunError::Config(
            "no validators: list them in `validators`, or register them in the genesis file's \
             [[validators]]"
                .into(),
        )),
        (true, false) => Ok(configured),
        (false, true) => Ok(elected),
        (false, false) => {
            let sorted = |list: &[(ed25519::PublicKey, SocketAddr)]| {
                let mut list = list.to_vec();
                list.sort();
                list
            };
            if sorted(&configured) != sorted(&elected) {
                let show = |list: &[(ed25519::PublicKey, SocketAddr)]| {
                    list.iter()
                        .map(|(key, address)| format!("{key} at {address}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return Err(RunError::Config(format!(
                    "validators differ from the committee the genesis registry elects: the \
                     configuration lists {}; the genesis elects {} (remove `validators` to take \
                     the genesis committee)",
                    show(&sorted(&configured)),
                    show(&sorted(&elected))
                )));
            }
            Ok(configured)
        }
    }
}

/// A validated node configuration.
#[derive(Debug)]
pub struct RunConfig {
    pub genesis: Genesis,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub rpc: Option<SocketAddr>,
    pub private_key: ed25519::PrivateKey,
    pub validators: Vec<(ed25519::PublicKey, SocketAddr)>,
    /// The consensus scheme: a validator's signer (its share of the chain's threshold key) or,
    /// on a full node, a verifier of the validators' votes and certificates.
    pub scheme: Scheme,
    /// The public side of the chain's key as dealt at genesis.
    pub consensus_key: crate::threshold::ConsensusKey,
    /// Peers to start from besides the genesis validators.
    pub bootstrap: Vec<(ed25519::PublicKey, SocketAddr)>,
    pub web: Option<WebSettings>,
    /// Where Prometheus metrics are served (`GET /metrics`); loopback only.
    pub metrics: Option<SocketAddr>,
    /// The idle interval and the memory reserved up front (see the module docs).
    pub tuning: engine::Tuning,
    /// Whether a node with no state yet syncs it from peers (see [`engine::StateSync`]).
    pub state_sync: bool,
    /// A verified checkpoint (see [`crate::checkpoint`]).
    pub checkpoint: Option<crate::checkpoint::Checkpoint>,
    /// Finalized blocks kept for peers that are behind ([`DEFAULT_RETAINED_BLOCKS`], or two
    /// epochs if more, unless configured; at least two epochs).
    pub retained_blocks: usize,
    /// Where the ledger state is kept: `None` whole in memory; otherwise in files under the
    /// data directory behind a page cache of the configured size (see [`ledger::OnDisk`]).
    pub state_on_disk: Option<ledger::OnDisk>,
}

impl RunConfig {
    /// Whether this node votes (its key is a validator's) or only follows.
    pub fn is_validator(&self) -> bool {
        let me = self.private_key.public_key();
        self.validators.iter().any(|(key, _)| *key == me)
    }
}

impl RunConfig {
    pub fn load(path: &Path) -> Result<Self, RunError> {
        let text = std::fs::read_to_string(path).map_err(|e| RunError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let raw: RawConfig = toml::from_str(&text).map_err(|e| config_syntax(&text, &e))?;
        let tuning = tuning(&raw)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let genesis = Genesis::load(&base.join(&raw.genesis))?;
        let private_key: ed25519::PrivateKey = decode_hex("private_key", &raw.private_key)?;
        let mut validators = Vec::with_capacity(raw.validators.len());
        for (index, validator) in raw.validators.iter().enumerate() {
            let key: ed25519::PublicKey = decode_hex(
                &format!("validators[{index}].public_key"),
                &validator.public_key,
            )?;
            validators.push((key, validator.address));
        }
        let validators = genesis_validators(&genesis, validators)?;
        let mut bootstrap = Vec::with_capacity(raw.bootstrap.len());
        for (index, peer) in raw.bootstrap.iter().enumerate() {
            bootstrap.push(
                parse_peer(peer).map_err(|message| {
                    RunError::Config(format!("bootstrap[{index}]: {message}"))
                })?,
            );
        }
        let me = private_key.public_key();
        let mut tuning = tuning;
        tuning.max_peers_per_set = max_peers_per_set(&genesis, validators.len());
        let consensus_key = consensus_key(raw.consensus_key.as_deref(), &genesis)?;
        let checkpoint = match &raw.checkpoint {
            None => None,
            Some(_) if !raw.state_sync => {
                return Err(RunError::Config(
                    "checkpoint is set but state_sync is not: a node uses a checkpoint only to \
                     find peers to state-sync from"
                        .into(),
                ));
            }
            Some(file) => Some(load_checkpoint(
                &base.join(file),
                &consensus_key,
                genesis.staking.blocks_per_epoch,
            )?),
        };
        let participants = Set::from_iter_dedup(validators.iter().map(|(key, _)| key.clone()));
        let validator = validators.iter().any(|(key, _)| *key == me);
        let scheme = match (&raw.consensus_share, validator) {
            (Some(share), true) => {
                let share = crate::threshold::decode_share("consensus_share", share)
                    .map_err(|e| RunError::Config(e.to_string()))?;
                crate::threshold::signer(
                    engine::CONSENSUS_NAMESPACE,
                    &consensus_key,
                    participants,
                    &me,
                    share,
                )
            }
            (None, true) => {
                return Err(RunError::Config(
                    "consensus_share is missing: a validator votes with its share of the \
                     consensus key"
                        .into(),
                ));
            }
            (Some(_), false) => {
                return Err(RunError::Config(
                    "consensus_share is set but private_key is not a validator's: only \
                     validators hold shares"
                        .into(),
                ));
            }
            (None, false) => crate::threshold::verifier(
                engine::CONSENSUS_NAMESPACE,
                &consensus_key,
                participants,
            ),
        }
        .map_err(|e| RunError::Config(e.to_string()))?;
        let web = match raw.web {
            Some(web) if !web.listen.ip().is_loopback() => {
                return Err(RunError::Config(format!(
                    "web.listen {} is not a loopback address: the web interface acts for a \
                     wallet, so it is served on 127.0.0.1 or ::1 only",
                    web.listen
                )));
            }
            Some(_) if raw.rpc.is_none() => {
                return Err(RunError::Config(
                    "the web interface needs the node's JSON-RPC: set rpc".into(),
                ));
            }
            Some(web) => Some(WebSettings {
                listen: web.listen,
                wallet: base.join(web.wallet),
            }),
            None => None,
        };
        if let Some(metrics) = raw.metrics
            && !metrics.ip().is_loopback()
        {
            return Err(RunError::Config(format!(
                "metrics {metrics} is not a loopback address: metrics describe the node's peers \
                 and traffic, so they are served on 127.0.0.1 or ::1 only (scrape them through \
                 a local agent or a tunnel)"
            )));
        }
        let retained_blocks = match raw.retained_blocks {
            // A chain of epochs longer than half the default keeps two of them.
            None => DEFAULT_RETAINED_BLOCKS.max(
                usize::try_from(genesis.staking.blocks_per_epoch.saturating_mul(2))
                    .unwrap_or(usize::MAX),
            ),
            Some(blocks) if blocks < MIN_RETAINED_BLOCKS as u64 => {
                return Err(RunError::Config(format!(
                    "retained_blocks is {blocks}; it must be at least {MIN_RETAINED_BLOCKS}, so \
                     that a peer a few seconds behind can still fetch the blocks it lacks"
                )));
            }
            Some(blocks) => usize::try_from(blocks).map_err(|_| {
                RunError::Config(format!("retained_blocks is {blocks}; it is too large"))
            })?,
        };
        // A node keeps two epochs of blocks: glue restarts an epoch from the block that
        // introduced it, and a joining node's probe asks for the boundary block of the floor's
        // epoch, which may be up to an epoch behind the tip.
        let epoch_blocks = genesis.staking.blocks_per_epoch;
        if (retained_blocks as u64) < epoch_blocks.saturating_mul(2) {
            return Err(RunError::Config(format!(
                "retained_blocks is {retained_blocks}; the chain's epochs are {epoch_blocks} \
                 blocks (params.staking.blocks_per_epoch in the genesis file), and a node keeps \
                 at least two epochs of blocks ({}) so that it can restart in the current epoch \
                 and serve its boundary to joining nodes",
                epoch_blocks.saturating_mul(2)
            )));
        }
        let data_dir = base.join(raw.data_dir);
        let write_batch = match (raw.state_write_batch, raw.state_cache_mib) {
            (None, _) => ledger::OnDisk::WRITE_BATCH,
            (Some(_), None) => {
                return Err(RunError::Config(
                    "state_write_batch is set but state_cache_mib is not: the batch is of \
                     values moving to the state's file, and the state is kept in memory"
                        .to_string(),
                ));
            }
            (Some(batch), _) if !(1..=MAX_STATE_WRITE_BATCH).contains(&batch) => {
                return Err(RunError::Config(format!(
                    "state_write_batch is {batch}; it must be from 1 to {MAX_STATE_WRITE_BATCH}"
                )));
            }
            (Some(batch), Some(_)) => usize::try_from(batch).unwrap_or(usize::MAX),
        };
        let state_on_disk = match raw.state_cache_mib {
            None => None,
            Some(mib) if !(MIN_STATE_CACHE_MIB..=MAX_STATE_CACHE_MIB).contains(&mib) => {
                return Err(RunError::Config(format!(
                    "state_cache_mib is {mib}; it must be from {MIN_STATE_CACHE_MIB} to \
                     {MAX_STATE_CACHE_MIB} (leave it out to keep the state in memory)"
                )));
            }
            Some(mib) => {
                let bytes = usize::try_from(mib << 20).map_err(|_| {
                    RunError::Config(format!("state_cache_mib is {mib}; it is too large"))
                })?;
                Some(ledger::OnDisk {
                    write_batch,
                    ..ledger::OnDisk::new(data_dir.join(STATE_DIR), bytes)
                })
            }
        };
        Ok(Self {
            bootstrap,
            web,
            metrics: raw.metrics,
            state_on_disk,
            tuning,
            state_sync: raw.state_sync,
            checkpoint,
            retained_blocks,
            genesis,
            data_dir,
            listen: raw.listen,
            rpc: raw.rpc,
            private_key,
            validators,
            scheme,
            consensus_key,
        })
    }
}

/// The chain's threshold key: the configuration's, the genesis file's, or both when they agree.
/// The epoch info of the checkpoint in `path`, checked against the chain's key.
fn load_checkpoint(
    path: &Path,
    key: &crate::threshold::ConsensusKey,
    blocks_per_epoch: u64,
) -> Result<crate::checkpoint::Checkpoint, RunError> {
    let text = std::fs::read_to_string(path).map_err(|e| RunError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let view: rpc::views::CheckpointView = serde_json::from_str(&text).map_err(|e| {
        RunError::Config(format!(
            "checkpoint {}: not a checkpoint file: {e}",
            path.display()
        ))
    })?;
    let blocks_per_epoch = NonZeroU64::new(blocks_per_epoch)
        .ok_or_else(|| RunError::Config("the genesis file's epochs are 0 blocks".into()))?;
    crate::checkpoint::Checkpoint::verified(
        view,
        &crate::threshold::identity(key),
        blocks_per_epoch,
    )
    .map_err(|error| RunError::Config(format!("checkpoint {} is refused: {error}", path.display())))
}

/// The chain's consensus key: `configured` (from node.toml), which must equal the genesis
/// file's when both are given, or the genesis file's.
pub fn consensus_key(
    configured: Option<&str>,
    genesis: &Genesis,
) -> Result<crate::threshold::ConsensusKey, RunError> {
    let decode = |field: &str, text: &str| {
        crate::threshold::decode_key(field, text).map_err(|e| RunError::Config(e.to_string()))
    };
    match (configured, genesis.consensus_key.as_deref()) {
        (Some(configured), Some(genesis)) => {
            let key = decode("consensus_key", configured)?;
            let genesis = decode("the genesis file's consensus_key", genesis)?;
            if commonware_codec::Encode::encode(&genesis) != commonware_codec::Encode::encode(&key)
            {
                return Err(RunError::Config(
                    "consensus_key differs from the genesis file's: this node would follow \
                     another chain (remove it to use the genesis file's)"
                        .into(),
                ));
            }
            Ok(key)
        }
        (Some(configured), None) => decode("consensus_key", configured),
        (None, Some(genesis)) => decode("the genesis file's consensus_key", genesis),
        (None, None) => Err(RunError::Config(
            "consensus_key is missing, and the genesis file holds none: copy the chain's key \
             from a genesis file or node configuration that has it"
                .into(),
        )),
    }
}

/// A peer written `<public key hex>@<ip:port>`.
pub fn parse_peer(text: &str) -> Result<(ed25519::PublicKey, SocketAddr), String> {
    let (key, address) = text
        .split_once('@')
        .ok_or_else(|| format!("{text:?} is not <public key hex>@<ip:port>"))?;
    let key: ed25519::PublicKey = hex::decode(key)
        .map_err(|e| e.to_string())
        .and_then(|bytes| types::codec::decode(&bytes).map_err(|e| e.to_string()))
        .map_err(|e| format!("{text:?}: the public key: {e}"))?;
    let address: SocketAddr = address
        .parse()
        .map_err(|e| format!("{text:?}: the address: {e}"))?;
    Ok((key, address))
}

/// A configuration file that is not valid TOML of the expected shape, said without quoting the
/// file: its lines hold the node's private key and consensus share, and the error goes to the
/// terminal and the logs.
fn config_syntax(text: &str, error: &toml::de::Error) -> RunError {
    let line = error
        .span()
        .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
    RunError::Config(match line {
        Some(line) => format!("line {line}: {}", error.message()),
        None => error.message().to_string(),
    })
}

/// Finalized blocks a node keeps unless configured: about 28 hours of an idle chain (one block a
/// second). A node that was down longer, or a new one, syncs the state from peers instead.
pub const DEFAULT_RETAINED_BLOCKS: usize = 100_000;

/// The smallest `retained_blocks`.
pub const MIN_RETAINED_BLOCKS: usize = 20;

/// The largest `page_cache_mib`: 8 GiB, allocated at start.
const MAX_PAGE_CACHE_MIB: u64 = 8_192;

/// The smallest `state_cache_mib`: below a few MiB every read of a large state goes to the file.
const MIN_STATE_CACHE_MIB: u64 = 8;

/// The largest `state_cache_mib`.
const MAX_STATE_CACHE_MIB: u64 = 65_536;

/// The largest `state_write_batch`: about 100 MiB of balances waiting in memory.
const MAX_STATE_WRITE_BATCH: u64 = 1 << 20;

/// Where a node keeps its state's files under its data directory (see [`ledger::OnDisk`]).
pub const STATE_DIR: &str = "state";

/// An empty ledger state, whole in memory or on disk as configured. The state files an
/// earlier run left under `data_dir` (a process killed before its bases removed them, whether
/// or not this run keeps its state on disk) are removed first: they are working copies, never
/// read again.
fn state_store(data_dir: &Path, on_disk: Option<&ledger::OnDisk>) -> Result<MemoryStore, RunError> {
    let dir = data_dir.join(STATE_DIR);
    let io = |error: std::io::Error| RunError::Io {
        path: dir.display().to_string(),
        message: error.to_string(),
    };
    if dir.exists() {
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path
                .extension()
                .is_some_and(|extension| extension == "redb")
            {
                std::fs::remove_file(&path).map_err(io)?;
            }
        }
    }
    match on_disk {
        None => Ok(MemoryStore::new()),
        Some(on_disk) => MemoryStore::on_disk(on_disk).map_err(io),
    }
}

/// The smallest `p2p_message_burst`: the burst also sizes each channel's inbound queue and what
/// this node may send at once, so much less would drop honest votes and sync requests.
const MIN_P2P_MESSAGE_BURST: u32 = 64;

/// The configured pacing and memory bounds, each checked, or the defaults.
fn tuning(raw: &RawConfig) -> Result<engine::Tuning, RunError> {
    let defaults = engine::Tuning::default();
    let out_of_range = |key: &str, value: String, range: String| {
        RunError::Config(format!("{key} is {value}; it must be {range}"))
    };
    // The idle interval must be at least the minimum interval between blocks (or it would never
    // be waited for) and at most the longest the chain's timeouts leave room for (or followers
    // would nullify this node's leaders while they wait).
    let app = AppConfig::default();
    let min_ms = app.min_block_interval_ms.max(1);
    let max_ms = u64::try_from(engine::MAX_IDLE_BLOCK_INTERVAL.as_millis()).unwrap_or(u64::MAX);
    let idle_block_interval = match raw.idle_block_interval_ms {
        None => defaults.idle_block_interval,
        Some(ms) if (min_ms..=max_ms).contains(&ms) => Duration::from_millis(ms),
        Some(ms) => {
            return Err(out_of_range(
                "idle_block_interval_ms",
                ms.to_string(),
                format!(
                    "from the minimum block interval ({min_ms} ms) to the longest idle interval \
                     the chain's timeouts allow ({max_ms} ms)"
                ),
            ));
        }
    };
    let page_cache_pages = match raw.page_cache_mib {
        None => defaults.page_cache_pages,
        Some(mib) => (1..=MAX_PAGE_CACHE_MIB)
            .contains(&mib)
            .then(|| mib * (1 << 20) / u64::from(engine::PAGE_BYTES))
            .and_then(|pages| usize::try_from(pages).ok())
            .and_then(NonZeroUsize::new)
            .ok_or_else(|| {
                out_of_range(
                    "page_cache_mib",
                    mib.to_string(),
                    format!("from 1 to {MAX_PAGE_CACHE_MIB}"),
                )
            })?,
    };
    let channel_limit = engine::CHANNEL_MESSAGES_PER_SECOND.get();
    let channel_burst = match raw.p2p_message_burst {
        None => defaults.channel_burst,
        Some(burst) => NonZeroU32::new(burst)
            .filter(|burst| (MIN_P2P_MESSAGE_BURST..=channel_limit).contains(&burst.get()))
            .ok_or_else(|| {
                out_of_range(
                    "p2p_message_burst",
                    burst.to_string(),
                    format!(
                        "from {MIN_P2P_MESSAGE_BURST} to {channel_limit} (the messages a peer may \
                         send a second)"
                    ),
                )
            })?,
    };
    Ok(engine::Tuning {
        idle_block_interval,
        page_cache_pages,
        channel_burst,
        max_peers_per_set: defaults.max_peers_per_set,
    })
}

/// The most peers one tracked set may hold, this node included: glue tracks an epoch's
/// dealers, players and next players (three committees, each at most the genesis validators
/// or `committee_size`, whichever is more), and [`crate::epochs::Peers`] adds every registered
/// candidate and full node as secondary peers.
pub fn max_peers_per_set(genesis: &Genesis, validators: usize) -> usize {
    let committee = validators.max(usize::from(genesis.staking.committee_size));
    committee
        .saturating_mul(3)
        .saturating_add(usize::from(genesis.staking.max_candidates))
        .saturating_add(usize::from(genesis.staking.max_nodes))
        .saturating_add(1)
}

/// Handles to a started validator, for RPC and status.
#[derive(Clone, Debug)]
pub struct Started {
    pub app: crate::AppHandle,
    pub mempool: Mempool,
}

/// Runs a validator until its consensus engine stops. Blocks the calling thread.
pub fn run(config: RunConfig) {
    run_with(config, |_| {});
}

/// Like [`run`], handing the running node's handles to `started` once it is wired.
pub fn run_with(config: RunConfig, started: impl FnOnce(Started) + Send + 'static) {
    let runtime = tokio::Config::new()
        .with_storage_directory(config.data_dir.clone())
        .with_worker_threads(2);
    tokio::Runner::new(runtime).start(|context| async move {
        let me = config.private_key.public_key();
        let validator = config.is_validator();
        let started_ms = unix_ms();
        tracing::info!(
            role = if validator { "validator" } else { "full node" },
            public_key = %me,
            chain = %config.genesis.chain_id,
            listen = %config.listen,
            rpc = ?config.rpc,
            metrics = ?config.metrics,
            web = ?config.web.as_ref().map(|web| web.listen),
            data_dir = %config.data_dir.display(),
            validators = config.validators.len(),
            bootstrap = config.bootstrap.len(),
            "starting"
        );
        // A node that cannot make its state's file cannot start.
        let mut genesis_state = state_store(&config.data_dir, config.state_on_disk.as_ref())
            .unwrap_or_else(|error| panic!("the ledger state cannot be kept on disk: {error}"));
        config.genesis.initialize(&mut genesis_state);
        // Settled before any copy is taken (the mempool's, the RPC's): a copy of it unsettled
        // would hold the version before, and a base on disk could move nothing to its file.
        let genesis_state = genesis_state.settled_by_hand();
        // Registered at genesis: peers admit this node from the start.
        let registered = crate::epochs::registered_keys(&genesis_state);
        if !validator && !registered.contains(&me) {
            tracing::warn!(
                "this node's key is not registered at genesis: peers admit it from the epoch \
                 after it is registered as a full node (`equa node register`) or a validator \
                 candidate (`equa validator register`)"
            );
        }
        let metrics = NodeMetrics::new(&context.child("equa"));
        let participants =
            Set::from_iter_dedup(config.validators.iter().map(|(key, _)| key.clone()));
        let count = u32::try_from(participants.len()).expect("validator count fits");
        let mut bootstrappers: Vec<(ed25519::PublicKey, commonware_p2p::Ingress)> = Vec::new();
        for (key, address) in config.validators.iter().chain(&config.bootstrap) {
            if *key != me && bootstrappers.iter().all(|(known, _)| known != key) {
                bootstrappers.push((key.clone(), (*address).into()));
            }
        }
        let handshake = cups::Cups::<_, ChaCha20Poly1305>::new(
            sake::Sake {
                signer: config.private_key.clone(),
                synchrony_bound: Duration::from_secs(5),
                max_handshake_age: Duration::from_secs(10),
                version: sake::Version::V1,
            },
            cups::Version::V1,
        );
        let p2p = discovery::Config::local(
            handshake,
            P2P_NAMESPACE,
            config.listen,
            config.listen,
            bootstrappers,
            NonZeroUsize::new(config.tuning.max_peers_per_set)
                .expect("a set holds at least this node"),
            // Certificates and dkg payloads are sized for the largest committee the chain allows.
            engine::max_message_size(count.max(u32::from(config.genesis.staking.committee_size))),
            NZUsize!(1024),
        );
        let (mut network, mut oracle) = discovery::Network::new(context.child("network"), p2p);
        // Peer set 0 is the genesis validator set, with the candidates and full nodes registered
        // at genesis as secondary peers (they connect and receive data, but are not dialed or
        // gossiped); the result only reports mailbox pressure.
        let secondary = crate::epochs::secondary_peers(
            &participants,
            registered,
            config.tuning.max_peers_per_set,
        );
        let _ = oracle.track(0, TrackedPeers::new(participants.clone(), secondary));
        let channels = Channels::from_ordered(
            engine::channel::ALL
                .iter()
                .map(|id| network.register(*id, engine::quota(*id, config.tuning.channel_burst))),
        );
        // A peer's relayed batches each cost a batch signature check: bound how many it may
        // send. An honest node sends at most 200 a second (see `relay`); allow twice that.
        let relay_channel = network.register(crate::relay::CHANNEL, Quota::per_second(NZU32!(400)));
        network.start();

        // The account history, on disk beside the chain's stores, with its own small cache.
        let history: crate::history::SharedHistory = match crate::history::History::init(
            context.child("history"),
            "equa",
            CacheRef::new(NZU16!(engine::PAGE_BYTES), NZUsize!(256)),
        )
        .await
        {
            Ok(history) => Arc::new(history),
            Err(error) => {
                tracing::error!(%error, "cannot open the account history");
                std::process::exit(1);
            }
        };
        let mempool = Mempool::new(MempoolConfig::default(), Arc::new(genesis_state.clone()), 0);
        let genesis_for_rpc = genesis_state.clone();
        let app = App::new(
            genesis_state,
            config.genesis.genesis_time_ms,
            AppConfig::default(),
        )
        .with_observer(Arc::new(mempool.clone()))
        .with_metrics(metrics.clone(), started_ms)
        .with_history(history.clone());
        // A full node verifies certificates but never signs: it follows, it does not vote.
        let scheme = config.scheme.clone();
        let network_tip = Arc::new(AtomicU64::new(0));
        let proofs = Arc::new(std::sync::OnceLock::new());
        let sync_progress = Arc::new(crate::recovery::SyncProgress::default());
        let blocks_per_epoch = NonZeroU64::new(config.genesis.staking.blocks_per_epoch)
            .expect("the genesis refuses epochs of 0 blocks");
        let node = NodeConfig {
            partition_prefix: "equa".into(),
            scheme,
            consensus_key: config.consensus_key.clone(),
            signer: config.private_key.clone(),
            // Consensus epochs are the ledger's staking epochs: the key is reshared at the end
            // of each.
            blocks_per_epoch,
            // Admitted from the chain's registries instead.
            followers: Set::default(),
            app,
            provider: Arc::new(mempool.clone()),
            retained_blocks: Some(config.retained_blocks),
            state_sync: engine::StateSync {
                requested: config.state_sync,
                checkpoint: config.checkpoint.clone(),
                sources: config
                    .bootstrap
                    .iter()
                    .map(|(key, _)| key.clone())
                    .collect(),
                progress: sync_progress.clone(),
            },
            tuning: config.tuning,
        };
        let app_handle = node.app.handle();
        let (relay, _, _) = crate::relay::start(
            context.child("relay"),
            relay_channel,
            mempool.clone(),
            oracle.clone(),
            Some(metrics.clone()),
        );
        if let Some(address) = config.rpc {
            let backend = crate::rpc::NodeBackend::new(
                app_handle.clone(),
                mempool.clone(),
                Arc::new(genesis_for_rpc),
                config.genesis.genesis_time_ms,
                if validator { "validator" } else { "full node" },
                if validator {
                    count.saturating_sub(1)
                } else {
                    count
                },
            )
            .with_relay(relay)
            .with_network_tip(network_tip.clone())
            .with_sync_progress(sync_progress.clone())
            .with_proofs(proofs.clone())
            .with_metrics(metrics.clone())
            .with_history(history.clone());
            let served = ::rpc::serve_observed(
                address,
                Arc::new(backend),
                ::rpc::Limits::default(),
                Arc::new(metrics.clone()),
            )
            .await;
            match served {
                Ok((bound, handle)) => {
                    tracing::info!(%bound, "serving JSON-RPC");
                    // The server runs until the process ends.
                    std::mem::forget(handle);
                }
                Err(error) => {
                    tracing::error!(%address, %error, "cannot serve JSON-RPC");
                    std::process::exit(1);
                }
            }
        }
        if let Some(address) = config.metrics {
            match serve_metrics(context.child("metrics_server"), address).await {
                Ok(bound) => tracing::info!(%bound, "serving Prometheus metrics at /metrics"),
                Err(error) => {
                    tracing::error!(%address, %error, "cannot serve metrics");
                    std::process::exit(1);
                }
            }
        }
        sample(
            context.child("sampler"),
            metrics.clone(),
            SampleSources {
                app: app_handle.clone(),
                mempool: mempool.clone(),
                tip: network_tip.clone(),
                data_dir: config.data_dir.clone(),
            },
        );
        let (simplex, state) = engine::start_node(
            context.child("node"),
            node,
            me,
            channels,
            oracle.clone(),
            oracle.clone(),
            |mailbox| mailbox,
        )
        .await;
        track_sync(
            context.child("sync"),
            state.marshal.clone(),
            app_handle.clone(),
            network_tip,
        );
        let (stateful, marshal, app, held) = (
            state.stateful.clone(),
            state.marshal.clone(),
            app_handle.clone(),
            state.held_checkpoint.clone(),
        );
        context.child("proofs").spawn(move |_| async move {
            let databases = stateful.subscribe_databases().await;
            let _ = proofs.set(crate::proof::ProofSource::new(
                databases,
                marshal,
                app,
                blocks_per_epoch,
                held,
            ));
        });
        started(Started {
            app: app_handle,
            mempool,
        });
        // Consensus runs for the life of the process: its end is a failure.
        if let Err(error) = simplex.await {
            tracing::error!(?error, "consensus stopped");
        }
        std::process::exit(1);
    });
}

/// Keeps `tip` at the highest finalized height the node knows of (from certificates, before it
/// has the blocks), and logs progress while the executed height is behind it.
fn track_sync(
    context: tokio::Context,
    marshal: commonware_consensus::marshal::core::Mailbox<Scheme, Standard<crate::Block>>,
    app: crate::AppHandle,
    tip: Arc<AtomicU64>,
) {
    context.spawn(move |context| async move {
        let mut last_log = None;
        loop {
            if let Some((height, _)) = marshal.get_info(Identifier::Latest).await {
                tip.fetch_max(height.get(), Ordering::Relaxed);
            }
            let known = tip.load(Ordering::Relaxed);
            let executed = app.finalized().map_or(0, |f| f.height);
            if executed < known && last_log != Some(executed / SYNC_LOG_EVERY) {
                last_log = Some(executed / SYNC_LOG_EVERY);
                tracing::info!(executed, known, "syncing: height {executed} of {known}");
            }
            context.sleep(Duration::from_millis(500)).await;
        }
    });
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Serves `GET /metrics`: every metric of the runtime (commonware's and Equa's) in the
/// Prometheus text format. Returns the bound address.
///
/// Only requests whose `Host` names a loopback address are answered, so a web page cannot read
/// the metrics through DNS rebinding; and the text is encoded at most once a second, however
/// many clients ask, so scraping cannot compete with the node for the metrics registry.
async fn serve_metrics(
    context: tokio::Context,
    address: SocketAddr,
) -> std::io::Result<SocketAddr> {
    use commonware_runtime::Metrics as _;
    let listener = ::tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let encoder = Arc::new(context.child("encoder"));
    let cache: Arc<std::sync::Mutex<Option<(std::time::Instant, String)>>> = Arc::default();
    let router = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let encoder = encoder.clone();
            let cache = cache.clone();
            async move {
                use axum::http::{StatusCode, header};
                let host = headers
                    .get(header::HOST)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default();
                if !is_loopback_host(host) {
                    return (
                        StatusCode::MISDIRECTED_REQUEST,
                        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                        "metrics are served to loopback host names only\n".to_string(),
                    );
                }
                let text = {
                    let mut cache = cache.lock().expect("lock");
                    match &*cache {
                        Some((at, text)) if at.elapsed() < METRICS_CACHE => text.clone(),
                        _ => {
                            let text = encoder.encode();
                            *cache = Some((std::time::Instant::now(), text.clone()));
                            text
                        }
                    }
                };
                (
                    StatusCode::OK,
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    text,
                )
            }
        }),
    );
    context.spawn(move |_| async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the metrics server stopped");
        }
    });
    Ok(bound)
}

/// How long one encoding of the metrics is served again.
const METRICS_CACHE: Duration = Duration::from_secs(1);

/// Whether a `Host` header names a loopback address or `localhost` (with or without a port).
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        // [::1]:9464
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// What the sampler reads each second.
struct SampleSources {
    app: crate::AppHandle,
    mempool: Mempool,
    tip: Arc<AtomicU64>,
    data_dir: PathBuf,
}

/// Once a second, closes an interval of `metrics` with the node's height, mempool and peers;
/// logs peers connecting, disconnecting and being blocked (read from commonware's p2p
/// metrics); every [`STORAGE_EVERY`] seconds measures the data directory.
fn sample(context: tokio::Context, metrics: NodeMetrics, sources: SampleSources) {
    use commonware_runtime::Metrics as _;
    context.spawn(move |context| async move {
        let mut peers = PeerReading::default();
        let mut tick = 0u64;
        loop {
            context.sleep(Duration::from_secs(1)).await;
            let now = crate::metrics::peers_in(&context.encode());
            for peer in now
                .connected
                .iter()
                .filter(|p| !peers.connected.contains(p))
            {
                tracing::info!(%peer, "peer connected");
            }
            for peer in peers
                .connected
                .iter()
                .filter(|p| !now.connected.contains(p))
            {
                tracing::info!(%peer, "peer disconnected");
            }
            for peer in now.blocked.iter().filter(|p| !peers.blocked.contains(p)) {
                tracing::warn!(%peer, "peer blocked");
            }
            peers = now;
            let height = sources.app.finalized().map_or(0, |f| f.height);
            metrics.sample(Reading {
                at_ms: unix_ms(),
                height,
                mempool_size: sources.mempool.len() as u64,
                peers: u32::try_from(peers.connected.len()).unwrap_or(u32::MAX),
                sync_target_height: sources.tip.load(Ordering::Relaxed).max(height),
            });
            if tick.is_multiple_of(STORAGE_EVERY) {
                // Walking the directory blocks on the file system: not on a runtime worker.
                let dir = sources.data_dir.clone();
                if let Ok(bytes) =
                    ::tokio::task::spawn_blocking(move || crate::metrics::directory_bytes(&dir))
                        .await
                {
                    metrics.storage(bytes);
                }
            }
            tick = tick.wrapping_add(1);
        }
    });
}

/// Seconds between two measurements of the data directory's size.
const STORAGE_EVERY: u64 = 10;

/// Sync progress is logged once per this many blocks executed.
const SYNC_LOG_EVERY: u64 = 100;

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn metrics_answer_loopback_host_names_only() {
        for host in [
            "127.0.0.1:9464",
            "localhost:9464",
            "LOCALHOST",
            "[::1]:9464",
            "127.0.0.1",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example:9464",
            "10.0.0.1:9464",
            "",
            "[::2]:1",
            "127.0.0.1.evil.example",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
