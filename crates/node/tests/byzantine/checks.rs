//! What every run checks, and what it records for the scenarios to assert on.

use super::*;
use commonware_cryptography::Digestible as _;

/// What the checks saw at the end of a run.
#[derive(Clone, Debug, Default)]
pub(crate) struct Seen {
    /// The state root every honest validator holds at [`HEIGHT`].
    pub(crate) root: Option<Digest>,
    /// (blocker, blocked) pairs on the simulated network.
    pub(crate) blocked: Vec<(ed25519::PublicKey, ed25519::PublicKey)>,
    /// Per honest validator: the faults it recorded, by validator.
    pub(crate) faults: Vec<BTreeMap<ed25519::PublicKey, u64>>,
    /// Per honest validator: how many finalized blocks (1..=HEIGHT) the byzantine validators
    /// proposed.
    pub(crate) byzantine_blocks: Vec<u64>,
    /// Per honest validator: how many finalized transactions are forged.
    pub(crate) forged_finalized: Vec<u64>,
    /// Per honest validator: transactions in its relay pool.
    pub(crate) pool_sizes: Vec<usize>,
    /// Per twin: the height up to which it holds finalized blocks, all of them the honest ones.
    pub(crate) twin_heights: Vec<u64>,
    /// Per honest validator: what its finalized state burned from each byzantine validator's
    /// bond (by node key), for contradictory votes.
    pub(crate) slashed: Vec<BTreeMap<AccountId, u128>>,
}

#[derive(Clone)]
pub(crate) struct Checks {
    pub(crate) sim: Sim,
    pub(crate) seen: Arc<Mutex<Seen>>,
}

impl Property<ed25519::PublicKey, Validator> for Checks {
    fn name(&self) -> &str {
        "byzantine_checks"
    }

    fn check<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a Validator],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let mut seen = Seen::default();
            let forged_ids = self.sim.forged_ids.lock().unwrap().clone();
            let byzantine_accounts: Vec<AccountId> = states
                .iter()
                .filter(|validator| validator.byzantine)
                .map(|validator| AccountId::from_public_key(&validator.public_key))
                .collect();
            for validator in states.iter().filter(|validator| !validator.byzantine) {
                let index = validator.index;
                let node = validator
                    .node
                    .as_ref()
                    .expect("honest validators run a node");
                let block = node
                    .marshal
                    .get_block(Identifier::Height(Height::new(HEIGHT)))
                    .await
                    .ok_or_else(|| format!("validator {index} has no block at {HEIGHT}"))?;
                let root = block.inner().state_root;
                if *seen.root.get_or_insert(root) != root {
                    return Err(format!("validator {index} disagrees at height {HEIGHT}"));
                }
                let failures = node.app.audit_failures();
                if !failures.is_empty() {
                    return Err(format!("validator {index}: {failures:?}"));
                }
                let finalized = node
                    .app
                    .finalized()
                    .ok_or_else(|| format!("validator {index} finalized nothing"))?;
                audit::check_conservation(&finalized.store)
                    .map_err(|error| format!("validator {index}: {error}"))?;
                let mut slashed = BTreeMap::new();
                for other in states.iter() {
                    let node_key = AccountId::from_public_key(&other.public_key);
                    let burned = ledger::staking::Db::node_key_owner(&*finalized.store, &node_key)
                        .and_then(|owner| ledger::staking::Db::validator(&*finalized.store, &owner))
                        .map_or(0, |record| record.slashed);
                    if other.byzantine {
                        slashed.insert(node_key, burned);
                    } else if burned > 0 {
                        return Err(format!(
                            "validator {index} slashed honest validator {}",
                            other.index
                        ));
                    }
                }
                seen.slashed.push(slashed);
                let mut byzantine_blocks = 0;
                let mut forged_finalized = 0;
                for height in 1..=HEIGHT {
                    let block = node
                        .app
                        .block(height)
                        .ok_or_else(|| format!("validator {index} lacks block {height}"))?;
                    if byzantine_accounts.contains(&block.proposer) {
                        byzantine_blocks += 1;
                    }
                    forged_finalized += block
                        .tx_ids
                        .iter()
                        .filter(|id| forged_ids.contains(id))
                        .count() as u64;
                    if let Some(receipt) = block
                        .receipts
                        .iter()
                        .find(|receipt| matches!(receipt.outcome, ledger::Outcome::Rejected(_)))
                    {
                        return Err(format!(
                            "validator {index}: block {height} carries a refused transaction: \
                             {receipt:?}"
                        ));
                    }
                }
                seen.byzantine_blocks.push(byzantine_blocks);
                seen.forged_finalized.push(forged_finalized);
                seen.faults.push(node.faults.all());
                if let Some(pool) = &validator.pool {
                    seen.pool_sizes.push(pool.len());
                }
            }
            // What either twin finalized is what the honest validators finalized at that height
            // (the harness checks the same as the twins report it; this also covers blocks a twin
            // only backfilled).
            let twin_nodes = self.sim.twin_nodes.lock().unwrap().clone();
            if !twin_nodes.is_empty() {
                let reference = states
                    .iter()
                    .find_map(|validator| validator.node.as_ref().filter(|_| !validator.byzantine))
                    .expect("an honest validator");
                for (twin, node) in twin_nodes.iter().enumerate() {
                    let mut height = 1;
                    while let Some(block) = node
                        .marshal
                        .get_block(Identifier::Height(Height::new(height)))
                        .await
                    {
                        let honest = reference
                            .marshal
                            .get_block(Identifier::Height(Height::new(height)))
                            .await;
                        if let Some(honest) = honest
                            && honest.digest() != block.digest()
                        {
                            return Err(format!(
                                "twin {twin} finalized another block than the honest validators \
                                 at height {height}"
                            ));
                        }
                        height += 1;
                    }
                    seen.twin_heights.push(height - 1);
                }
            }
            let oracle = self.sim.oracle.lock().unwrap().clone();
            if let Some(oracle) = oracle {
                seen.blocked = oracle
                    .blocked()
                    .await
                    .map_err(|error| format!("ask the network whom it blocked: {error}"))?;
            }
            *self.seen.lock().unwrap() = seen;
            Ok(())
        })
    }
}
