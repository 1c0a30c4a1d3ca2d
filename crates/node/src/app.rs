//! The glue `stateful` application: runs the ledger inside `propose` and `process`.

use crate::{
    ConsensusContext, Databases, Scheme,
    block::{Block, MAX_BLOCK_TX_BYTES, MAX_BLOCK_TXS},
    proposal::{InvalidBlock, Provider, execute_proposal, is_refused},
    state::{self, Executed, Execution},
};
use commonware_consensus::{
    marshal::ancestry::Ancestry,
    types::{Height, Round, View},
};
use commonware_cryptography::{Digested, Digestible};
use commonware_glue::stateful::{
    Application, Finality, Input, Proposed,
    db::{DatabaseSet, Merkleized as _, Unmerkleized as _},
};
use commonware_runtime::{Clock, Spawner};
use commonware_storage::qmdb::sync::Target;
use commonware_utils::non_empty_range;
use futures::StreamExt;
use ledger::{BlockContext, BlockError, MemoryStore, Outcome, audit};
use std::{
    collections::HashMap,
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::{Duration, UNIX_EPOCH},
};
use types::{AccountId, Digest};

/// The input of glue's reshare wrapper to the application: the payload its block must carry.
pub type ReshareInput = commonware_glue::dkg::reshare::Input<
    (),
    crate::threshold::ConsensusVariant,
    commonware_cryptography::ed25519::PrivateKey,
    commonware_utils::sequence::Unit,
>;

/// Validity rules and limits that are not part of the ledger itself.
#[derive(Clone, Copy, Debug)]
pub struct AppConfig {
    /// A block's timestamp may exceed its parent's by at most this much. This is a permanent
    /// rule, so it also bounds how long a validator waits for its clock (see `max_drift_ms`).
    /// After a long halt, timestamps catch up with real time by this much per block.
    pub max_timestamp_step_ms: u64,
    /// A validator does not vote for a block whose timestamp is more than this far ahead of its
    /// own clock; it waits until its clock is close enough instead of rejecting, because clocks
    /// are local and rejection would be permanent.
    pub max_drift_ms: u64,
    /// The most transactions this node puts in a block it proposes.
    pub max_block_txs: usize,
    /// This node proposes a block no sooner than this after its parent's timestamp (a local
    /// rule), so that a busy chain fills its blocks. With no transaction to propose a leader
    /// waits longer, up to the idle interval (`engine::Tuning::idle_block_interval`).
    pub min_block_interval_ms: u64,
    /// Check conservation of every asset after every finalized block (simulations and tests).
    pub audit_finalized: bool,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            max_timestamp_step_ms: 60_000,
            max_drift_ms: 500,
            max_block_txs: MAX_BLOCK_TXS,
            min_block_interval_ms: 50,
            audit_finalized: false,
        }
    }
}

/// What this node has finalized most recently.
#[derive(Clone, Debug)]
pub struct FinalizedState {
    pub height: u64,
    pub digest: Digest,
    pub state_root: Digest,
    pub timestamp_ms: u64,
    pub store: Arc<MemoryStore>,
    /// Counts the finalized blocks since this node started that held a market call: while it
    /// stays the same, so do the offers, profiles and reputations (only market calls change
    /// them), which lets the RPC server keep its offer book across blocks.
    pub market_revision: u64,
}

#[derive(Debug, Default)]
struct Shared {
    /// The ledger state after each executed block that is finalized or may still be.
    states: HashMap<Digest, Arc<Executed>>,
    finalized: Option<FinalizedState>,
    /// Conservation failures seen by `finalized` when auditing is on.
    audit_failures: Vec<String>,
    /// Blocks re-executed to rebuild a state that was not in memory (after a restart).
    replayed_blocks: u64,
    /// The state read back from the authenticated store at startup, until a block claims it.
    restored: Option<Restored>,
    /// How many times this application was given a ledger read back from the store.
    restores: u64,
    /// The state read back at start and its height, until the first block is finalized: the
    /// node's latest finalized state until then (`restored` is handed to a block, this stays).
    recovered: Option<(u64, Arc<MemoryStore>)>,
    /// The most recent finalized blocks with their receipts, for the RPC, oldest first.
    recent: VecDeque<Arc<FinalizedBlock>>,
    /// Where each recent finalized transaction is: (height, index in the block).
    receipts: HashMap<types::TxId, (u64, usize)>,
    /// The genesis state the chain builds on, until a block is finalized: a copy of the genesis
    /// state on a base of its own (see `App::cached`).
    genesis_line: Option<Arc<MemoryStore>>,
}

/// The ledger state read back from the authenticated store, and the root it was read under.
#[derive(Debug)]
struct Restored {
    state_root: Digest,
    executed: Arc<Executed>,
}

/// How many finalized blocks (with receipts) a node keeps in memory to answer queries.
pub const RECENT_BLOCKS: usize = 10_000;

/// A finalized block as the RPC shows it.
#[derive(Clone, Debug)]
pub struct FinalizedBlock {
    pub height: u64,
    pub digest: Digest,
    pub parent: Digest,
    pub timestamp_ms: u64,
    pub proposer: types::AccountId,
    pub state_root: Digest,
    pub tx_ids: Vec<types::TxId>,
    /// Who signed each transaction, and what it called ("bank.transfer", ...).
    pub signers: Vec<(types::AccountId, &'static str)>,
    pub receipts: Vec<ledger::Receipt>,
}

/// A read-only view of an application's shared state, for RPC, status and tests.
#[derive(Clone, Debug)]
pub struct AppHandle {
    shared: Arc<Mutex<Shared>>,
}

impl AppHandle {
    pub fn finalized(&self) -> Option<FinalizedState> {
        self.shared.lock().expect("lock").finalized.clone()
    }

    /// The latest finalized ledger state this node holds, and its height: the state after the
    /// last block it finalized since it started, or else the state it read back from its store
    /// at start (which was finalized before it stopped). `None` on a node that holds only
    /// genesis.
    pub fn committed_state(&self) -> Option<(u64, Arc<MemoryStore>)> {
        let shared = self.shared.lock().expect("lock");
        shared
            .finalized
            .as_ref()
            .map(|finalized| (finalized.height, finalized.store.clone()))
            .or_else(|| shared.recovered.clone())
    }

    pub fn audit_failures(&self) -> Vec<String> {
        self.shared.lock().expect("lock").audit_failures.clone()
    }

    /// How many blocks were re-executed to rebuild states missing from memory.
    pub fn replayed_blocks(&self) -> u64 {
        self.shared.lock().expect("lock").replayed_blocks
    }

    /// How many times the ledger was read back from the authenticated store (once per start
    /// on a store that holds it).
    pub fn restores(&self) -> u64 {
        self.shared.lock().expect("lock").restores
    }

    /// A recent finalized block by height.
    pub fn block(&self, height: u64) -> Option<Arc<FinalizedBlock>> {
        let shared = self.shared.lock().expect("lock");
        let first = shared.recent.front()?.height;
        let index = usize::try_from(height.checked_sub(first)?).ok()?;
        shared.recent.get(index).cloned()
    }

    /// The receipt of a recently finalized transaction, with its block height.
    pub fn receipt(&self, id: &types::TxId) -> Option<(u64, ledger::Receipt)> {
        let shared = self.shared.lock().expect("lock");
        let (height, index) = *shared.receipts.get(id)?;
        let first = shared.recent.front()?.height;
        let block = shared
            .recent
            .get(usize::try_from(height.checked_sub(first)?).ok()?)?;
        block
            .receipts
            .get(index)
            .map(|receipt| (height, receipt.clone()))
    }

    /// How many block states are held in memory.
    pub fn cached_states(&self) -> usize {
        self.shared.lock().expect("lock").states.len()
    }
}

/// The Equa application. Clones share one state cache.
#[derive(Clone, Debug)]
pub struct App {
    genesis: Block,
    genesis_digest: Digest,
    genesis_state: Arc<MemoryStore>,
    config: AppConfig,
    shared: Arc<Mutex<Shared>>,
    /// Told about every finalized block (a mempool evicting included transactions).
    observer: Option<Provider>,
    /// Measures execution and finality; none in simulations that do not look.
    metrics: Option<crate::metrics::NodeMetrics>,
    /// Where every finalized transaction is recorded for the account history; none in
    /// simulations.
    history: Option<crate::history::SharedHistory>,
    /// Unix milliseconds when this process started: blocks proposed before it were not seen
    /// being finalized, so their finality time is not measured.
    started_ms: u64,
    /// The round seeds this node saw in certificates, for the blocks it proposes.
    seeds: crate::seeds::Seeds,
    /// Checks the seed every block carries against the chain's key. The engine always sets it
    /// (`engine::start_node`); an application driven without the engine (unit tests) checks
    /// only that a seed is present where one must be.
    seed_verifier: Option<crate::threshold::SeedVerifier>,
    /// Evidence of contradictory votes waiting for a block; the vote channel's receiver adds to
    /// it ([`crate::evidence::SignedReceiver`]).
    evidence: crate::evidence::Pending,
    /// What this chain's node keys sign votes under ([`crate::evidence::chain_tag`]).
    chain_tag: Digest,
    /// The rounds this node entered, for the vote channel's receiver to compare peers' votes
    /// near them: every block proposed, verified or finalized here enters its round.
    rounds: crate::evidence::OwnRounds,
    /// Changes every block this node proposes, after executing it (a byzantine leader).
    #[cfg(feature = "fault-injection")]
    tamper: Option<ProposalTampering>,
    /// Sends a second, contradictory notarize after each of its own (a byzantine validator).
    #[cfg(feature = "fault-injection")]
    equivocate_votes: bool,
}

/// Transactions a byzantine leader adds to its proposal after executing it, given the parent
/// state and the block's context; see [`App::with_proposal_tampering`].
#[cfg(feature = "fault-injection")]
#[derive(Clone)]
#[allow(clippy::type_complexity)]
pub struct ProposalTampering(
    pub Arc<dyn Fn(&MemoryStore, &BlockContext) -> Vec<types::SignedTransaction> + Send + Sync>,
);

#[cfg(feature = "fault-injection")]
impl std::fmt::Debug for ProposalTampering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProposalTampering")
    }
}

impl App {
    /// An application for the chain whose genesis ledger state is `genesis_state`, with genesis
    /// time `genesis_time_ms`.
    pub fn new(genesis_state: MemoryStore, genesis_time_ms: u64, config: AppConfig) -> Self {
        // The empty store's commitments do not depend on the runtime; any context type names them.
        let target = <Databases<commonware_runtime::deterministic::Context> as DatabaseSet<_>>::initial_sync_targets();
        let genesis = Block::genesis(genesis_time_ms, target.root, target.range, None);
        let genesis_digest = genesis.digest();
        let chain_tag = crate::evidence::chain_tag(&genesis_state);
        // Finality decides which states settle (see `finalized`).
        let genesis_state = genesis_state.settled_by_hand();
        Self {
            genesis,
            genesis_digest,
            genesis_state: Arc::new(genesis_state),
            config,
            shared: Arc::new(Mutex::new(Shared::default())),
            observer: None,
            metrics: None,
            history: None,
            started_ms: 0,
            seeds: crate::seeds::Seeds::default(),
            seed_verifier: None,
            evidence: crate::evidence::Pending::default(),
            chain_tag,
            rounds: crate::evidence::OwnRounds::default(),
            #[cfg(feature = "fault-injection")]
            tamper: None,
            #[cfg(feature = "fault-injection")]
            equivocate_votes: false,
        }
    }

    /// The application of a chain whose genesis block carries `info`, epoch 0's info of the key
    /// resharing (glue reads it from the genesis block at every start).
    pub fn with_epoch_info(mut self, info: crate::block::EpochInfo) -> Self {
        let genesis = Block::genesis(
            self.genesis.timestamp_ms,
            self.genesis.ops_root,
            self.genesis.range.clone(),
            Some(info),
        );
        self.genesis_digest = genesis.digest();
        self.genesis = genesis;
        self
    }

    /// Checks every block's seed against `verifier` (the chain's key).
    pub fn with_seed_verifier(mut self, verifier: crate::threshold::SeedVerifier) -> Self {
        self.seed_verifier = Some(verifier);
        self
    }

    /// The evidence this application proposes; the vote channel's receiver adds to it.
    pub fn pending_evidence(&self) -> crate::evidence::Pending {
        self.evidence.clone()
    }

    /// What this chain's node keys sign their votes under.
    pub fn chain_tag(&self) -> Digest {
        self.chain_tag
    }

    /// The rounds this node entered (shared with the vote channel, see
    /// [`crate::evidence::OwnRounds`]).
    pub fn own_rounds(&self) -> crate::evidence::OwnRounds {
        self.rounds.clone()
    }

    /// The seeds this application proposes with; consensus's reporter records into them.
    pub fn seeds(&self) -> crate::seeds::Seeds {
        self.seeds.clone()
    }

    /// Reports block execution and finalization to `metrics`; finality times are measured for
    /// blocks proposed after `started_ms`.
    pub fn with_metrics(mut self, metrics: crate::metrics::NodeMetrics, started_ms: u64) -> Self {
        self.metrics = Some(metrics);
        self.started_ms = started_ms;
        self
    }

    /// An empty ledger state, held where the genesis state is (in memory or on disk).
    pub fn empty_state(&self) -> MemoryStore {
        self.genesis_state.empty_like()
    }

    /// Takes the ledger state read back from the authenticated store as glue attached it after
    /// a restart ([`state::restore`]): the state after the block whose state root is
    /// `state_root`, the store's latest commit. The first block built or verified on that block
    /// then starts from it instead of re-executing the chain. An empty store (a new node, at
    /// genesis) holds nothing to take.
    ///
    /// A state without a readable last-block record is refused (the node then re-executes).
    pub fn restored(&self, state_root: Digest, store: MemoryStore) -> Result<(), String> {
        if store.is_empty() {
            return Ok(());
        }
        let (height, timestamp_ms) = ledger::state::try_last_block(&store)
            .ok_or("the ledger read back has no readable last-block record")?;
        let store = store.settled_by_hand();
        if let Some(metrics) = &self.metrics {
            metrics.ledger_restored(store.len());
        }
        let store = Arc::new(store);
        if let Some(observer) = &self.observer {
            observer.finalized(&store, height);
        }
        let mut shared = self.shared.lock().expect("lock");
        shared.restores += 1;
        shared.recovered = Some((height, store.clone()));
        shared.restored = Some(Restored {
            state_root,
            executed: Arc::new(Executed {
                height,
                timestamp_ms,
                store,
                receipts: Vec::new(),
            }),
        });
        Ok(())
    }

    /// Makes this node a byzantine leader for tests: every block it proposes also carries what
    /// `tamper` returns, added after the block was executed, so neither its own execution nor
    /// its state root accounts for them.
    #[cfg(feature = "fault-injection")]
    pub fn with_proposal_tampering(mut self, tamper: ProposalTampering) -> Self {
        self.tamper = Some(tamper);
        self
    }

    /// Makes this node a byzantine validator for tests: after each notarize it sends, it sends
    /// a second one of another payload for the same round, signed with its node key like every
    /// vote (see [`crate::evidence::SignedSender::equivocating`]).
    #[cfg(feature = "fault-injection")]
    pub fn with_vote_equivocation(mut self) -> Self {
        self.equivocate_votes = true;
        self
    }

    #[cfg(feature = "fault-injection")]
    pub fn equivocates_votes(&self) -> bool {
        self.equivocate_votes
    }

    /// Records every finalized transaction in `history` (the node's on-disk account history).
    pub fn with_history(mut self, history: crate::history::SharedHistory) -> Self {
        self.history = Some(history);
        self
    }

    /// Tells `source` about every finalized block, as a mempool needs.
    pub fn with_observer(mut self, source: Provider) -> Self {
        self.observer = Some(source);
        self
    }

    pub fn genesis_block(&self) -> &Block {
        &self.genesis
    }

    pub fn handle(&self) -> AppHandle {
        AppHandle {
            shared: self.shared.clone(),
        }
    }

    fn cached(&self, digest: &Digest) -> Option<Arc<MemoryStore>> {
        if *digest == self.genesis_digest {
            // The chain builds on a copy: the genesis state is kept for good, and a base shared
            // with it would keep every value written since. The copy is kept until a block is
            // finalized (no block builds on genesis after that), and made outside the lock.
            if let Some(line) = &self.shared.lock().expect("lock").genesis_line {
                return Some(line.clone());
            }
            let copy = Arc::new(self.genesis_state.detached());
            let mut shared = self.shared.lock().expect("lock");
            return Some(shared.genesis_line.get_or_insert(copy).clone());
        }
        let shared = self.shared.lock().expect("lock");
        shared
            .states
            .get(digest)
            .map(|executed| executed.store.clone())
    }

    /// Keeps `executed` as the state after the block `digest`, unless one is kept already, and
    /// returns the state kept. A block executes to the same contents every time, and the states
    /// already built on the kept one must stay on the line its finalization settles: a second
    /// copy put in its place would settle instead, leaving every state built on the first
    /// unable to settle.
    fn remember(&self, digest: Digest, executed: Executed) -> Arc<MemoryStore> {
        let mut shared = self.shared.lock().expect("lock");
        let floor = shared.finalized.as_ref().map_or(0, |f| f.height);
        if executed.height < floor {
            return executed.store;
        }
        shared
            .states
            .entry(digest)
            .or_insert_with(|| Arc::new(executed))
            .store
            .clone()
    }

    /// The state read back from the store, if it is the state after `block`: then it is kept as
    /// `block`'s state.
    fn restored_for(&self, block: &Digested<Block>) -> Option<Arc<MemoryStore>> {
        let mut shared = self.shared.lock().expect("lock");
        let restored = shared.restored.as_ref()?;
        if restored.state_root != block.inner().state_root
            || restored.executed.height != block.inner().height.get()
        {
            return None;
        }
        let executed = shared.restored.take()?.executed;
        let store = executed.store.clone();
        shared.states.insert(block.digest(), executed);
        Some(store)
    }

    /// The ledger state after `target`. When it is not in memory, it is the state read back from
    /// the store after a restart ([`App::restored`]), or `ancestors` (which yields `target`'s
    /// parent, then its parent, ...) are walked back to a known state and re-executed forward.
    async fn state_after(
        &self,
        target: &Digested<Block>,
        ancestors: &mut impl Ancestry<Block>,
    ) -> Arc<MemoryStore> {
        if let Some(store) = self
            .cached(&target.digest())
            .or_else(|| self.restored_for(target))
        {
            return store;
        }
        let mut missing = vec![target.clone()];
        let base = loop {
            let oldest = missing.last().expect("never empty").inner();
            if let Some(store) = self.cached(&oldest.parent) {
                break store;
            }
            let parent = ancestors
                .next()
                .await
                .expect("marshal must provide every ancestor back to a known state");
            assert_eq!(parent.digest(), oldest.parent, "ancestry is contiguous");
            if let Some(store) = self.restored_for(&parent) {
                break store;
            }
            missing.push(parent);
        };
        let mut store = base;
        while let Some(block) = missing.pop() {
            let block = block.inner();
            let context = self.block_context(block);
            let executed = state::replay(&store, &context, &block.txs);
            self.shared.lock().expect("lock").replayed_blocks += 1;
            if let Some(metrics) = &self.metrics {
                metrics.block_reexecuted();
            }
            store = self.remember(block.digest(), executed);
        }
        store
    }

    fn block_context(&self, block: &Block) -> BlockContext {
        BlockContext {
            height: block.height.get(),
            timestamp_ms: block.timestamp_ms,
            proposer: block.proposer,
            round: ledger_round(block.context.round),
            seeded: block.seed.is_some(),
            randomness: state::block_randomness(block),
            // Checked by the validators before they voted for the block (`check_evidence`).
            offenses: block
                .evidence
                .iter()
                .filter_map(|evidence| Some(evidence.offense(evidence.epoch()?)))
                .collect(),
            next_holders: next_holders(block),
        }
    }

    /// Executes `block` on `parent`, checking signatures the observer has not already checked.
    fn run(&self, parent: &MemoryStore, block: &Block) -> Result<Execution, BlockError> {
        let mut known_valid = self.observer.as_ref().map_or_else(
            || vec![false; block.txs.len()],
            |source| source.signatures_known_valid(&block.txs),
        );
        // One flag per transaction; an observer that answers otherwise gets them checked.
        if known_valid.len() != block.txs.len() {
            known_valid = vec![false; block.txs.len()];
        }
        let started = std::time::Instant::now();
        let execution =
            state::execute(parent, &self.block_context(block), &block.txs, &known_valid);
        if let Some(metrics) = &self.metrics {
            metrics.block_executed(block.height.get(), block.txs.len(), started.elapsed());
        }
        execution
    }

    /// Everything a vote for `block` depends on but the clock and the state root: its header,
    /// and its execution on `parent`. A candidate must not carry a transaction the ledger
    /// refuses without a fee; a finalized block is applied as the network agreed on it.
    fn verify(
        &self,
        parent: &MemoryStore,
        block: &Block,
        finality: Finality,
    ) -> Result<Execution, InvalidBlock> {
        self.rounds.entered(
            block.context.round.epoch().get(),
            block.context.round.view().get(),
        );
        self.check_header(block, parent)
            .map_err(InvalidBlock::Header)?;
        // A finalized block's evidence was checked by the validators that finalized it.
        if finality == Finality::Candidate {
            self.check_evidence(block, parent)
                .map_err(InvalidBlock::Header)?;
        }
        let execution = self.run(parent, block)?;
        if finality == Finality::Candidate
            && let Some((index, receipt)) = execution
                .executed
                .receipts
                .iter()
                .enumerate()
                .find(|(_, receipt)| is_refused(receipt))
            && let Outcome::Rejected(error) = &receipt.outcome
        {
            return Err(InvalidBlock::RefusedTransaction {
                index,
                tx_id: receipt.tx_id,
                error: error.clone(),
            });
        }
        Ok(execution)
    }

    /// Writes `execution` into `batches` and merkleizes them.
    async fn merkleize<E>(
        &self,
        height: u64,
        execution: Execution,
        mut batches: <Databases<E> as DatabaseSet<E>>::Unmerkleized,
    ) -> (Executed, <Databases<E> as DatabaseSet<E>>::Merkleized)
    where
        E: Spawner + commonware_storage::Context,
    {
        for (key, value) in execution.writes {
            batches = batches.write(key, value);
        }
        match batches.merkleize().await {
            Ok(merkleized) => (execution.executed, merkleized),
            Err(_) => {
                // A storage failure says nothing about the block, so it must not reject it.
                // The batch is stale or the store failed: wait to be cancelled instead.
                tracing::warn!(height, "merkleize failed; waiting for cancellation");
                futures::future::pending::<()>().await;
                unreachable!("pending never resolves");
            }
        }
    }

    /// Checks the block's own fields against its parent's state and its consensus context.
    fn check_header(&self, block: &Block, parent: &MemoryStore) -> Result<(), String> {
        let (parent_height, parent_timestamp_ms) = ledger::state::last_block(parent);
        if Some(block.height.get()) != parent_height.checked_add(1) {
            return Err(format!(
                "height {} does not follow {parent_height}",
                block.height.get()
            ));
        }
        if block.timestamp_ms <= parent_timestamp_ms {
            return Err(format!(
                "timestamp {} ms is not after the parent's {parent_timestamp_ms} ms",
                block.timestamp_ms
            ));
        }
        let step_ms = block.timestamp_ms - parent_timestamp_ms;
        if step_ms > self.config.max_timestamp_step_ms {
            return Err(format!(
                "timestamp is {step_ms} ms after the parent's; the limit is {} ms",
                self.config.max_timestamp_step_ms
            ));
        }
        if block.proposer != AccountId::from_public_key(&block.context.leader) {
            return Err("proposer is not the view's leader".into());
        }
        self.check_seed(block)?;
        if block
            .reshare
            .as_ref()
            .is_some_and(|reshare| reshare.payload().is_none())
        {
            return Err("the resharing payload does not decode".into());
        }
        if block.txs.len() > MAX_BLOCK_TXS || block.tx_bytes() > MAX_BLOCK_TX_BYTES {
            return Err("block exceeds transaction limits".into());
        }
        Ok(())
    }
}

/// Who holds shares of the chain key in the next epoch, when `block` is an epoch's final block:
/// the players of the output its epoch info carries (the resharing's outcome, as consensus
/// agreed on it). `None` for every other block, the genesis block's epoch 0 info included.
fn next_holders(block: &Block) -> Option<Vec<AccountId>> {
    // A payload's first byte names its kind: 1 is an epoch info (glue's `Payload`). Dealer
    // logs are not decoded here.
    let reshare = block.reshare.as_ref()?;
    if block.height.get() == 0 || reshare.bytes().first() != Some(&1) {
        return None;
    }
    match reshare.payload()? {
        commonware_glue::dkg::types::Payload::EpochInfo(info) => Some(
            info.output
                .players()
                .iter()
                .map(AccountId::from_public_key)
                .collect(),
        ),
        commonware_glue::dkg::types::Payload::DealerLog(_) => None,
    }
}

/// The ledger's round of consensus round `round`: the epoch in the high 64 bits and the view in
/// the low 64, so it increases along the chain across epochs although views start again at 1 in
/// each, and never saturates.
pub fn ledger_round(round: Round) -> u128 {
    (u128::from(round.epoch().get()) << 64) | u128::from(round.view().get())
}

impl App {
    /// The block's evidence: each piece proves a contradiction of an epoch up to the block's,
    /// against an offender the parent state has not slashed for that epoch, at most one piece
    /// per offender and epoch.
    fn check_evidence(&self, block: &Block, parent: &MemoryStore) -> Result<(), String> {
        let block_epoch = block.context.round.epoch().get();
        let mut seen = std::collections::BTreeSet::new();
        for evidence in &block.evidence {
            let epoch = evidence
                .check(&self.chain_tag)
                .map_err(|error| format!("evidence against {}: {error}", evidence.offender))?;
            if epoch > block_epoch {
                return Err(format!(
                    "evidence against {} of epoch {epoch}, after the block's {block_epoch}",
                    evidence.offender
                ));
            }
            let node_key = AccountId::from_public_key(&evidence.offender);
            if !seen.insert((node_key, epoch)) {
                return Err(format!(
                    "evidence against {} in epoch {epoch} twice",
                    evidence.offender
                ));
            }
            if ledger::staking::Db::slash(parent, &node_key, epoch).is_some() {
                return Err(format!(
                    "{} is already slashed for epoch {epoch}",
                    evidence.offender
                ));
            }
        }
        Ok(())
    }

    /// A block of view 1 carries no seed (round 0 is genesis); every later one carries the seed
    /// of the round before its own, which must verify under the chain's key.
    fn check_seed(&self, block: &Block) -> Result<(), String> {
        let round = block.context.round;
        let previous = round.view().get().checked_sub(1).filter(|view| *view > 0);
        match (previous, &block.seed) {
            (None, None) => Ok(()),
            (None, Some(_)) => Err("a block of the first view carries a seed".into()),
            (Some(_), None) => Err("the block carries no seed of the previous round".into()),
            (Some(view), Some(seed)) => {
                let seeded = Round::new(round.epoch(), View::new(view));
                match &self.seed_verifier {
                    Some(verifier) if !verifier.verify(seeded, seed) => Err(format!(
                        "the seed is not round {view}'s under the chain key"
                    )),
                    _ => Ok(()),
                }
            }
        }
    }

    /// Logs a finalized block and its transactions, and measures it.
    /// `receipts` are the block's, when its transactions are to be logged (at debug level).
    fn report_finalized(
        &self,
        block: &Block,
        digest: &Digest,
        now_ms: u64,
        receipts: Option<Vec<ledger::Receipt>>,
    ) {
        let height = block.height.get();
        let finality = (block.timestamp_ms >= self.started_ms)
            .then(|| Duration::from_millis(now_ms.saturating_sub(block.timestamp_ms)));
        tracing::debug!(
            height,
            digest = %digest,
            transactions = block.txs.len(),
            finality_ms = finality.map(|f| f.as_millis() as u64),
            "finalized a block"
        );
        if let Some(receipts) = receipts {
            {
                for (tx, receipt) in block.txs.iter().zip(&receipts) {
                    match &receipt.outcome {
                        ledger::Outcome::Success => {
                            tracing::debug!(tx = %rpc::views::tx_id_hex(&tx.id()), height, "transaction finalized: success");
                        }
                        ledger::Outcome::Failed(error) => tracing::debug!(
                            tx = %rpc::views::tx_id_hex(&tx.id()),
                            height,
                            %error,
                            "transaction finalized: failed"
                        ),
                        ledger::Outcome::Rejected(error) => tracing::debug!(
                            tx = %rpc::views::tx_id_hex(&tx.id()),
                            height,
                            %error,
                            "transaction finalized: rejected"
                        ),
                    }
                }
            }
        }
        if let Some(metrics) = &self.metrics {
            metrics.block_finalized(height, block.txs.len(), finality);
        }
    }
}

fn now_ms(clock: &impl Clock) -> u64 {
    clock
        .current()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

impl<E> Application<E> for App
where
    E: Spawner + commonware_storage::Context,
{
    type SigningScheme = Scheme;
    type Context = ConsensusContext;
    type Block = Block;
    type Databases = Databases<E>;
    type Captured = ();
    type Provider = Provider;
    /// What glue's reshare wrapper hands over: the resharing's payload for the block.
    type Input = ReshareInput;

    fn sync_targets(block: &Block) -> <Databases<E> as DatabaseSet<E>>::SyncTargets {
        Target::new(block.ops_root, block.range.clone())
    }

    async fn genesis(&mut self) -> Block {
        self.genesis.clone()
    }

    async fn propose(
        &mut self,
        (runtime, context): (E, ConsensusContext),
        mut ancestry: impl Ancestry<Block>,
        batches: <Databases<E> as DatabaseSet<E>>::Unmerkleized,
        input: Input<ReshareInput, Provider>,
    ) -> Option<Proposed<Self, E>> {
        let parent = ancestry.next().await?;
        let parent_state = self.state_after(&parent, &mut ancestry).await;
        let (parent_height, parent_timestamp_ms) = ledger::state::last_block(parent_state.as_ref());
        let paced_ms = parent_timestamp_ms.saturating_add(self.config.min_block_interval_ms);
        let now = now_ms(&runtime);
        if now < paced_ms {
            runtime
                .sleep_until(UNIX_EPOCH + Duration::from_millis(paced_ms))
                .await;
        }
        let earliest_ms = parent_timestamp_ms.checked_add(1)?;
        let latest_ms = parent_timestamp_ms.saturating_add(self.config.max_timestamp_step_ms);
        let timestamp_ms = now_ms(&runtime).clamp(earliest_ms, latest_ms);
        let height = Height::new(parent_height.checked_add(1)?);
        // The seed of the round before this one: simplex entered this view with a certificate
        // of it, and reports the certificate once its journal is synced.
        let view = context.round.view().get();
        let seed = match view.checked_sub(1).filter(|previous| *previous > 0) {
            None => None,
            Some(previous) => {
                let previous = Round::new(context.round.epoch(), View::new(previous));
                let seed = self
                    .seeds
                    .wait(&runtime, previous, crate::seeds::SEED_WAIT)
                    .await;
                if seed.is_none() {
                    tracing::warn!(view, "no seed of the previous round; not proposing");
                }
                Some(seed?)
            }
        };
        let context_epoch = context.round.epoch().get();
        self.rounds
            .entered(context_epoch, context.round.view().get());
        let mut block = Block {
            proposer: AccountId::from_public_key(&context.leader),
            context,
            parent: parent.digest(),
            height,
            timestamp_ms,
            state_root: Digest([0; 32]),
            ops_root: Digest([0; 32]),
            range: non_empty_range!(
                commonware_storage::mmr::Location::new(0),
                commonware_storage::mmr::Location::new(1)
            ),
            seed,
            reshare: input.upstream.payload.map(Into::into),
            evidence: self.evidence.select(context_epoch, |epoch, offender| {
                ledger::staking::Db::slash(&*parent_state, offender, epoch).is_none()
            }),
            txs: Vec::new(),
        };
        let limit = self.config.max_block_txs.min(MAX_BLOCK_TXS);
        let block_context = self.block_context(&block);
        let mut txs = input.provider.select(&parent_state, &block_context, limit);
        txs.truncate(limit);
        let mut tx_bytes = 0usize;
        txs.retain(|tx| {
            tx_bytes = tx_bytes.saturating_add(tx.size());
            tx_bytes <= MAX_BLOCK_TX_BYTES
        });
        let (txs, execution) =
            match execute_proposal(&parent_state, &block_context, txs, input.provider.as_ref()) {
                Ok(proposal) => proposal,
                Err(error) => {
                    tracing::warn!(height = height.get(), %error, "proposal refused by the ledger");
                    return None;
                }
            };
        block.txs = txs;
        #[cfg(feature = "fault-injection")]
        if let Some(tamper) = &self.tamper {
            block.txs.extend((tamper.0)(&parent_state, &block_context));
        }
        let (executed, merkleized) = self.merkleize::<E>(height.get(), execution, batches).await;
        block.state_root = merkleized.root();
        block.ops_root = merkleized.ops_root();
        // State sync starts at the inactivity floor rounded down to a bitmap chunk.
        block.range = non_empty_range!(merkleized.sync_boundary(), merkleized.bounds().tip.size);
        self.remember(block.digest(), executed);
        Some(Proposed { block, merkleized })
    }

    async fn process(
        &mut self,
        (runtime, _context): (E, ConsensusContext),
        mut ancestry: impl Ancestry<Block>,
        batches: <Databases<E> as DatabaseSet<E>>::Unmerkleized,
        finality: Finality,
    ) -> Option<<Databases<E> as DatabaseSet<E>>::Merkleized> {
        let block = ancestry.next().await?;
        let parent = ancestry.next().await?;
        if parent.digest() != block.inner().parent {
            return None;
        }
        let parent_state = self.state_after(&parent, &mut ancestry).await;
        let block = block.inner();
        let execution = match self.verify(&parent_state, block, finality) {
            Ok(execution) => execution,
            Err(error) => {
                tracing::warn!(height = block.height.get(), %error, "invalid block");
                return None;
            }
        };
        if finality == Finality::Candidate {
            // The step rule above bounds this wait by the block's own data.
            let earliest_vote_ms = block.timestamp_ms.saturating_sub(self.config.max_drift_ms);
            if now_ms(&runtime) < earliest_vote_ms {
                let deadline = UNIX_EPOCH + Duration::from_millis(earliest_vote_ms);
                runtime.sleep_until(deadline).await;
            }
        }
        let (executed, merkleized) = self
            .merkleize::<E>(block.height.get(), execution, batches)
            .await;
        // Stateful checks the sync target (ops root and range); the canonical root, which
        // key-value proofs verify against, is ours to check.
        if merkleized.root() != block.state_root {
            tracing::warn!(height = block.height.get(), "state root mismatch");
            return None;
        }
        self.remember(block.digest(), executed);
        Some(merkleized)
    }

    /// Records the block's transactions in the account history before its state is applied to
    /// the store, so the history holds every block the store does (see [`crate::history`]).
    async fn capture(
        &mut self,
        _context: (E, ConsensusContext),
        block: &Block,
        _batches: &<Databases<E> as DatabaseSet<E>>::Merkleized,
        _readers: <Databases<E> as DatabaseSet<E>>::Readers,
    ) {
        let Some(history) = &self.history else {
            return;
        };
        let executed = {
            let shared = self.shared.lock().expect("lock");
            shared
                .states
                .get(&block.digest())
                .cloned()
                .expect("a finalized block was processed first")
        };
        let recorded = history.record(block_history(block, &executed)).await;
        // A history that cannot be written would silently miss blocks; stop instead, as the
        // node's other stores do, and replay the block on restart.
        if let Err(error) = recorded {
            panic!(
                "cannot write the account history at height {}: {error}",
                block.height.get()
            );
        }
    }

    async fn finalized(
        &mut self,
        (runtime, _context): (E, ConsensusContext),
        block: &Block,
        _captured: (),
        readers: <Databases<E> as DatabaseSet<E>>::Readers,
    ) {
        let digest = block.digest();
        let height = block.height.get();
        let (store, receipts) = {
            let shared = self.shared.lock().expect("lock");
            shared
                .states
                .get(&digest)
                .map(|executed| (executed.store.clone(), executed.receipts.clone()))
                .expect("a finalized block was processed first")
        };
        // The shared base follows the finalized line: reads of this state and of the states
        // built on it find what it wrote there, not in layers.
        if !store.settle() {
            tracing::warn!(
                height,
                "the finalized state could not settle: its base follows another line, so reads pass through more layers"
            );
            if let Some(metrics) = &self.metrics {
                metrics.state_unsettled();
            }
        }
        let mut failures = Vec::new();
        if self.config.audit_finalized {
            if let Err(error) = audit::check_conservation(&store) {
                failures.push(format!("height {height}: {error}"));
            }
            // Every in-memory record must be in the authenticated store, chunk by chunk.
            let database = readers.read().await;
            for (key, value) in state::entries(&store) {
                let stored = database
                    .get(&key)
                    .await
                    .expect("read the authenticated store");
                if stored != Some(value) {
                    failures.push(format!(
                        "height {height}: authenticated store differs from the ledger at {key}"
                    ));
                }
            }
        }
        let mut shared = self.shared.lock().expect("lock");
        shared.audit_failures.extend(failures);
        // States below the finalized height can no longer be built on.
        shared
            .states
            .retain(|_, executed| executed.height >= height);
        let market_calls = block
            .txs
            .iter()
            .any(|tx| matches!(tx.tx().call, types::Call::Market(_)));
        let market_revision = shared.finalized.as_ref().map_or(0, |f| {
            f.market_revision.saturating_add(u64::from(market_calls))
        });
        shared.recovered = None;
        shared.genesis_line = None;
        // A state read back that no block claimed is behind the finalized line for good.
        if shared
            .restored
            .as_ref()
            .is_some_and(|restored| restored.executed.height < height)
        {
            shared.restored = None;
        }
        shared.finalized = Some(FinalizedState {
            height,
            digest,
            state_root: block.state_root,
            timestamp_ms: block.timestamp_ms,
            store: store.clone(),
            market_revision,
        });
        // Hooks may be replayed after a restart: record each height once, in order.
        let next = shared.recent.back().map(|b| b.height.saturating_add(1));
        if next.is_none_or(|next| next == height) {
            let tx_ids: Vec<types::TxId> = block.txs.iter().map(|tx| tx.id()).collect();
            let signers = block
                .txs
                .iter()
                .map(|tx| (tx.tx().signer, tx.tx().call.kind()))
                .collect();
            for (index, id) in tx_ids.iter().enumerate() {
                shared.receipts.insert(*id, (height, index));
            }
            shared.recent.push_back(Arc::new(FinalizedBlock {
                height,
                digest,
                parent: block.parent,
                timestamp_ms: block.timestamp_ms,
                proposer: block.proposer,
                state_root: block.state_root,
                tx_ids,
                signers,
                receipts,
            }));
            if shared.recent.len() > RECENT_BLOCKS
                && let Some(old) = shared.recent.pop_front()
            {
                for id in &old.tx_ids {
                    if shared
                        .receipts
                        .get(id)
                        .is_some_and(|(h, _)| *h == old.height)
                    {
                        shared.receipts.remove(id);
                    }
                }
            }
        }
        let newly_recorded = shared.recent.back().is_some_and(|b| b.height == height)
            && next.is_none_or(|next| next == height);
        let receipts_to_log = (newly_recorded && tracing::enabled!(tracing::Level::DEBUG))
            .then(|| shared.recent.back().map(|b| b.receipts.clone()))
            .flatten();
        drop(shared);
        if newly_recorded {
            self.report_finalized(block, &digest, now_ms(&runtime), receipts_to_log);
        }
        if let Some(observer) = &self.observer {
            observer.finalized(&store, height);
        }
    }
}

/// A finalized block's transactions as the account history records them: each as the RPC
/// shows it, with its signer and every account whose balance it moved.
fn block_history(block: &Block, executed: &Executed) -> crate::history::BlockHistory {
    use ledger::receipt::Event;
    let height = block.height.get();
    let entries = block
        .txs
        .iter()
        .zip(&executed.receipts)
        .map(|(tx, receipt)| {
            let signer = tx.tx().signer;
            let mut accounts = vec![signer];
            for event in &receipt.events {
                match event {
                    Event::Transferred { from, to, .. } => accounts.extend([*from, *to]),
                    Event::Minted { to, .. } => accounts.push(*to),
                    Event::Burned { from, .. } => accounts.push(*from),
                    _ => {}
                }
            }
            let view = rpc::views::HistoryView {
                cursor: String::new(),
                timestamp_ms: block.timestamp_ms,
                signer: signer.to_string(),
                call: tx.tx().call.kind().to_string(),
                receipt: rpc::views::ReceiptView::new(&*executed.store, receipt, height),
            };
            (view, accounts)
        })
        .collect();
    crate::history::BlockHistory { height, entries }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::{Signer, ed25519};
    use ledger::testing::{GENESIS_TIME_MS, TestChain};

    fn app_and_child() -> (App, MemoryStore, Block) {
        child_of(TestChain::new(1, 1_000))
    }

    fn child_of(chain: TestChain) -> (App, MemoryStore, Block) {
        let app = App::new(chain.store.clone(), GENESIS_TIME_MS, AppConfig::default());
        let leader = ed25519::PrivateKey::from_seed(7).public_key();
        let mut block = app.genesis_block().clone();
        block.context.leader = leader.clone();
        block.proposer = AccountId::from_public_key(&leader);
        block.parent = app.genesis_block().digest();
        block.height = Height::new(1);
        block.timestamp_ms = GENESIS_TIME_MS + 1_000;
        (app, chain.store, block)
    }

    /// A block executed again (a repeated check, a replay) keeps the state object the first
    /// execution left: states built on it must stay on the line its finalization settles.
    #[test]
    fn a_block_executed_again_keeps_the_state_its_children_were_built_on() {
        let (app, parent, block) = app_and_child();
        let executed = || Executed {
            height: block.height.get(),
            timestamp_ms: block.timestamp_ms,
            store: Arc::new(parent.clone()),
            receipts: Vec::new(),
        };
        let first = app.remember(block.digest(), executed());
        let again = app.remember(block.digest(), executed());
        assert!(Arc::ptr_eq(&first, &again));
        let cached = app.cached(&block.digest()).expect("kept");
        assert!(Arc::ptr_eq(&cached, &first));
        // Genesis hands out one copy on a base of its own until a block is finalized.
        let genesis = app.cached(&app.genesis_block().digest()).expect("genesis");
        let twice = app.cached(&app.genesis_block().digest()).expect("genesis");
        assert!(Arc::ptr_eq(&genesis, &twice));
        assert_eq!(*genesis, parent);
    }

    #[test]
    fn a_ledger_read_back_is_kept_only_with_a_readable_last_block() {
        let (app, store, _) = app_and_child();
        let handle = app.handle();
        assert_eq!(app.restored(Digest([1; 32]), MemoryStore::new()), Ok(()));
        assert_eq!(handle.restores(), 0, "an empty store holds nothing to take");

        let mut damaged = store.clone();
        ledger::Store::put(&mut damaged, &ledger::state::last_block_key(), vec![1, 2]);
        assert!(app.restored(Digest([1; 32]), damaged).is_err());
        let mut missing = store.clone();
        ledger::Store::delete(&mut missing, &ledger::state::last_block_key());
        assert!(app.restored(Digest([1; 32]), missing).is_err());
        assert_eq!(handle.restores(), 0, "a refused ledger is not kept");

        assert_eq!(app.restored(Digest([1; 32]), store.clone()), Ok(()));
        assert_eq!(handle.restores(), 1);
    }

    #[test]
    fn the_ledger_round_increases_across_epochs() {
        use commonware_consensus::types::Epoch;
        let round = |epoch, view| ledger_round(Round::new(Epoch::new(epoch), View::new(view)));
        assert_eq!(round(0, 0), 0);
        assert_eq!(round(0, 7), 7);
        // However many views an epoch takes, the next epoch's rounds come after them.
        assert!(round(0, u64::MAX) < round(1, 1));
        assert!(round(0, u64::MAX - 1) < round(0, u64::MAX));
        assert!(round(1, 1) < round(1, 2));
        assert_eq!(round(2, 3), (2 << 64) | 3);
        assert_eq!(round(u64::MAX, u64::MAX), u128::MAX);
    }

    /// A block past the first view carries the seed of the round before its own, under the
    /// chain key: missing, another round's, another key's, or one in the first view, refused.
    #[test]
    fn every_block_carries_the_seed_of_the_round_before_its_own() {
        use crate::{engine::CONSENSUS_NAMESPACE, threshold};
        use commonware_consensus::types::Epoch;
        let validators: Vec<_> = (0..4)
            .map(|i| ed25519::PrivateKey::from_seed(i).public_key())
            .collect();
        let dealt = |seed| {
            threshold::deal(
                <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(seed),
                &validators,
            )
        };
        let (key, shares) = dealt(1);
        let (other_key, other_shares) = dealt(2);
        let shares: Vec<_> = shares.into_iter().map(|(_, share)| share).collect();
        let other_shares: Vec<_> = other_shares.into_iter().map(|(_, s)| s).collect();
        let round = |view| Round::new(Epoch::zero(), View::new(view));
        let seed_of = |view| threshold::sign_seed(CONSENSUS_NAMESPACE, &key, &shares, round(view));

        let (app, parent, mut block) = app_and_child();
        let app = app.with_seed_verifier(threshold::SeedVerifier::new(
            CONSENSUS_NAMESPACE,
            threshold::identity(&key),
        ));
        block.context.round = round(5);
        let refused = |block: &Block| app.check_header(block, &parent).unwrap_err();
        assert!(refused(&block).contains("no seed"), "{}", refused(&block));
        block.seed = seed_of(4);
        assert!(block.seed.is_some());
        assert_eq!(app.check_header(&block, &parent), Ok(()));
        for wrong in [
            seed_of(3),
            seed_of(5),
            threshold::sign_seed(CONSENSUS_NAMESPACE, &other_key, &other_shares, round(4)),
            threshold::sign_seed(b"another namespace", &key, &shares, round(4)),
        ] {
            block.seed = wrong;
            assert!(
                refused(&block).contains("not round 4's"),
                "{}",
                refused(&block)
            );
        }
        // Too few shares recover no seed at all.
        assert_eq!(
            threshold::sign_seed(CONSENSUS_NAMESPACE, &key, &shares[..2], round(4)),
            None
        );
        // The first view's block has no previous round to draw on.
        block.context.round = round(1);
        block.seed = seed_of(0);
        assert!(
            refused(&block).contains("first view"),
            "{}",
            refused(&block)
        );
        block.seed = None;
        assert_eq!(app.check_header(&block, &parent), Ok(()));
    }

    #[test]
    fn header_rules_accept_a_well_formed_child() {
        let (app, parent, block) = app_and_child();
        assert_eq!(app.check_header(&block, &parent), Ok(()));
    }

    #[test]
    fn timestamps_must_increase_within_the_step() {
        let (app, parent, mut block) = app_and_child();
        block.timestamp_ms = GENESIS_TIME_MS;
        assert!(
            app.check_header(&block, &parent)
                .unwrap_err()
                .contains("not after")
        );
        block.timestamp_ms = GENESIS_TIME_MS + app.config.max_timestamp_step_ms + 1;
        assert!(
            app.check_header(&block, &parent)
                .unwrap_err()
                .contains("limit")
        );
        block.timestamp_ms = GENESIS_TIME_MS + app.config.max_timestamp_step_ms;
        assert_eq!(app.check_header(&block, &parent), Ok(()));
    }

    #[test]
    fn proposer_and_height_must_match() {
        let (app, parent, mut block) = app_and_child();
        block.proposer = ledger::testing::account(3);
        assert!(
            app.check_header(&block, &parent)
                .unwrap_err()
                .contains("leader")
        );
        let (app, parent, mut block) = app_and_child();
        block.height = Height::new(2);
        assert!(
            app.check_header(&block, &parent)
                .unwrap_err()
                .contains("height")
        );
    }

    #[test]
    fn a_block_whose_resharing_bytes_do_not_decode_is_refused() {
        let (app, parent, mut block) = app_and_child();
        assert!(app.check_header(&block, &parent).is_ok());
        block.reshare = Some(crate::block::Reshare::from_bytes(
            bytes::Bytes::from_static(&[0xff; 40]),
        ));
        assert_eq!(
            app.check_header(&block, &parent).unwrap_err(),
            "the resharing payload does not decode"
        );
        // A payload that decodes passes; the same bytes with one more do not.
        let info =
            commonware_glue::dkg::types::Payload::EpochInfo(crate::block::tests::epoch_info());
        let valid = crate::block::Reshare::from(info);
        block.reshare = Some(valid.clone());
        assert!(app.check_header(&block, &parent).is_ok());
        let trailing = [valid.bytes(), &[0]].concat();
        block.reshare = Some(crate::block::Reshare::from_bytes(trailing.into()));
        assert_eq!(
            app.check_header(&block, &parent).unwrap_err(),
            "the resharing payload does not decode"
        );
    }

    #[test]
    fn block_carrying_a_refused_transaction_is_not_verified() {
        use ledger::TxError;
        use types::{AssetId, Call, bank::BankCall, bank::Transfer};
        let chain = TestChain::new(2, 1_000_000_000);
        let pay = |signer, nonce| {
            chain.tx_with(
                signer,
                nonce,
                Call::Bank(BankCall::Transfer(Transfer {
                    to: ledger::testing::account(9),
                    asset: AssetId::NATIVE,
                    amount: 1,
                })),
            )
        };
        // Nonce 3 is ahead of the signer's next (0): the ledger refuses it without a fee.
        let paid = pay(1, 0);
        let refused = pay(0, 3);
        let (app, parent, mut block) = child_of(chain);
        block.txs = vec![paid.clone(), refused.clone()];
        assert_eq!(
            app.verify(&parent, &block, Finality::Candidate)
                .unwrap_err(),
            InvalidBlock::RefusedTransaction {
                index: 1,
                tx_id: refused.id(),
                error: TxError::NonceTooHigh {
                    expected: 0,
                    found: 3
                },
            }
        );
        // The network may finalize such a block only if it was built under other rules; it
        // is applied as finalized then (refusing it would halt this node), and pays nothing.
        let applied = app.verify(&parent, &block, Finality::Finalized).unwrap();
        assert_eq!(applied.executed.receipts[1].fee_paid, 0);
        // Without it, the block is a valid candidate.
        block.txs = vec![paid];
        let execution = app.verify(&parent, &block, Finality::Candidate).unwrap();
        assert!(execution.executed.receipts[0].is_success());
    }

    /// A chain whose staking module registers `committee`'s node keys, bonded 100 EQA each.
    fn committee_genesis(committee: &crate::evidence::tests::Committee) -> ledger::Genesis {
        let mut text = ledger::testing::staking_genesis_text(
            "min_bond = \"100\"\ncommittee_size = 4\nmax_candidates = 8\nblocks_per_epoch = 16",
            4,
        );
        for (index, key) in committee.keys.iter().enumerate() {
            text.push_str(&ledger::testing::validator_entry(
                index as u64,
                &AccountId::from_public_key(&key.public_key()),
                &format!("127.0.0.1:{}", 9_000 + index),
                "100",
            ));
        }
        let mut genesis = ledger::Genesis::from_toml(&text).unwrap();
        genesis.params = ledger::testing::test_params();
        genesis
    }

    /// A proposal's evidence is checked before a vote: signed by the offender for this chain,
    /// of an epoch up to the block's, once per offender and epoch, against an offender the
    /// parent has not slashed for it. Executing the block slashes the offender; a finalized
    /// block is applied as agreed.
    #[test]
    fn evidence_is_checked_before_a_vote_and_slashes_when_executed() {
        use crate::evidence::{Evidence, EvidenceError, SignedVote, tests::Committee};
        use commonware_consensus::types::Epoch;
        use ledger::staking::Db;
        let committee = Committee::new();
        let genesis = committee_genesis(&committee);
        let (app, parent, mut block) = child_of(TestChain::from_genesis(&genesis));
        let tag = app.chain_tag();
        block.context.round = Round::new(Epoch::zero(), View::new(1));
        let offender = AccountId::from_public_key(&committee.keys[1].public_key());
        let piece = |epoch: u64| {
            committee.evidence(
                1,
                &tag,
                &committee.notarize(1, epoch, 3, 1),
                &committee.notarize(1, epoch, 3, 2),
            )
        };
        let refused = |parent: &MemoryStore, block: &Block| match app.verify(
            parent,
            block,
            Finality::Candidate,
        ) {
            Err(InvalidBlock::Header(error)) => error,
            other => panic!("{other:?}"),
        };
        let slashed = |store: &MemoryStore| {
            let account = Db::node_key_owner(store, &offender).unwrap();
            Db::validator(store, &account).unwrap().slashed
        };
        block.evidence = vec![piece(0)];
        let execution = app.verify(&parent, &block, Finality::Candidate).unwrap();
        assert_eq!(slashed(&execution.executed.store), 5_000_000_000);
        assert_eq!(slashed(&parent), 0);

        // Twice in one block, already slashed, of a later epoch than the block's.
        block.evidence = vec![piece(0), piece(0)];
        assert!(refused(&parent, &block).contains("twice"));
        block.evidence = vec![piece(0)];
        let mut already = parent.clone();
        Db::put_slash(&mut already, &offender, 0, 1);
        assert!(refused(&already, &block).contains("already slashed"));
        block.evidence = vec![piece(1)];
        assert!(refused(&parent, &block).contains("after the block's"));
        // Signed for another chain, named against another validator, or no contradiction.
        let other_chain = committee.evidence(
            1,
            &Digest([9; 32]),
            &committee.notarize(1, 0, 3, 1),
            &committee.notarize(1, 0, 3, 2),
        );
        block.evidence = vec![other_chain];
        assert!(refused(&parent, &block).contains(&EvidenceError::Signature("first").to_string()));
        block.evidence = vec![Evidence {
            offender: committee.keys[2].public_key(),
            ..piece(0)
        }];
        assert!(refused(&parent, &block).contains("not signed by the offender"));
        let vote = committee.notarize(1, 0, 3, 1);
        block.evidence = vec![Evidence {
            offender: committee.keys[1].public_key(),
            first: SignedVote::sign(&committee.keys[1], &tag, &vote),
            second: SignedVote::sign(&committee.keys[1], &tag, &vote),
        }];
        assert!(refused(&parent, &block).contains("do not contradict"));

        // Finalized, it is applied as agreed, without the checks.
        block.evidence = vec![piece(0)];
        let applied = app.verify(&already, &block, Finality::Finalized).unwrap();
        assert_eq!(
            slashed(&applied.executed.store),
            0,
            "slashed once per epoch"
        );
    }

    /// A chain restarted from a new genesis (as every data-format change requires) with the
    /// old `node.toml` files keeps its chain id and consensus key (threat model G16), but not
    /// its genesis state, so not its chain tag: a vote an honest validator signed on the old
    /// chain and its vote of the same epoch and view on the new one are no evidence.
    #[test]
    fn votes_of_a_relaunched_chain_are_no_evidence_on_the_new_one() {
        use crate::evidence::tests::Committee;
        let committee = Committee::new();
        let genesis_at = |time_ms: u64| {
            let mut genesis = committee_genesis(&committee);
            genesis.genesis_time_ms = time_ms;
            // The same dealt key on both chains (the old node.toml files).
            genesis.consensus_key = Some("ab".repeat(48));
            genesis
        };
        let old = TestChain::from_genesis(&genesis_at(GENESIS_TIME_MS));
        let old_app = App::new(old.store.clone(), GENESIS_TIME_MS, AppConfig::default());
        // Relaunched a week later from a new genesis file.
        let relaunch = GENESIS_TIME_MS + 7 * 24 * 3_600 * 1_000;
        let chain = TestChain::from_genesis(&genesis_at(relaunch));
        let app = App::new(chain.store.clone(), relaunch, AppConfig::default());
        let parent = chain.store;
        let leader = ed25519::PrivateKey::from_seed(7).public_key();
        let mut block = app.genesis_block().clone();
        block.context.leader = leader.clone();
        block.proposer = AccountId::from_public_key(&leader);
        block.parent = app.genesis_block().digest();
        block.height = Height::new(1);
        block.timestamp_ms = relaunch + 1_000;
        assert_ne!(
            old_app.genesis_block().digest(),
            app.genesis_block().digest(),
            "two different chains"
        );
        block.context.round = Round::new(commonware_consensus::types::Epoch::zero(), View::new(1));
        // Honest validator 1 notarized block 1 at epoch 0 view 3 on the old chain, and block 2
        // at epoch 0 view 3 on the new one: each under its own chain's tag.
        let honest = &committee.keys[1];
        let on_old = crate::evidence::SignedVote::sign(
            honest,
            &old_app.chain_tag(),
            &committee.notarize(1, 0, 3, 1),
        );
        let on_new = crate::evidence::SignedVote::sign(
            honest,
            &app.chain_tag(),
            &committee.notarize(1, 0, 3, 2),
        );
        block.evidence = vec![crate::evidence::Evidence {
            offender: honest.public_key(),
            first: on_old,
            second: on_new,
        }];
        let verdict = app.verify(&parent, &block, Finality::Candidate);
        if let Ok(execution) = &verdict {
            let store: &MemoryStore = &execution.executed.store;
            let owner = ledger::staking::Db::node_key_owner(
                store,
                &AccountId::from_public_key(&honest.public_key()),
            )
            .unwrap();
            let record = ledger::staking::Db::validator(store, &owner).unwrap();
            panic!(
                "a vote of the old chain slashed an honest validator on the new one: {} burned, \
                 unbonding {}, key banned {} (chain tags equal: {})",
                record.slashed,
                record.unbonding.is_some(),
                ledger::staking::Db::banned(
                    store,
                    &AccountId::from_public_key(&honest.public_key())
                ),
                old_app.chain_tag() == app.chain_tag()
            );
        }
        assert!(matches!(verdict, Err(InvalidBlock::Header(_))));
    }
}
