//! Whole-state invariant checks for tests, simulations and offline tools.

use crate::{
    state::{self, Module, table},
    store::MemoryStore,
};
use std::collections::BTreeMap;
use types::{AssetId, codec::decode};

/// Where an asset's books do not balance.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "asset {asset}: balances {balances} + held by modules {held} = {total}, but the supply is {supply}"
)]
pub struct ConservationError {
    pub asset: AssetId,
    pub balances: u128,
    pub held: u128,
    pub total: u128,
    pub supply: u128,
}

/// Checks, for every asset, that the sum of all balances plus everything modules hold (escrow,
/// bonds, loan funds) equals the asset's supply, which is minted minus burned.
pub fn check_conservation(store: &MemoryStore) -> Result<(), ConservationError> {
    let mut balances: BTreeMap<AssetId, u128> = BTreeMap::new();
    for (key, value) in store.scan_prefix(&[table::BALANCE]) {
        let asset_bytes: [u8; 4] = key[33..37].try_into().expect("balance keys are 37 bytes");
        let asset = AssetId(u32::from_be_bytes(asset_bytes));
        let amount: u128 = decode(&value).expect("balances decode");
        let sum = balances.entry(asset).or_default();
        *sum = sum
            .checked_add(amount)
            .expect("balances of one asset fit in u128");
    }
    let next = state::next_asset_id(store);
    for id in 0..next.0 {
        let asset = AssetId(id);
        let supply = state::asset(store, asset).map_or(0, |info| info.supply);
        let held = Module::ALL
            .iter()
            .map(|module| state::held(store, *module, asset))
            .fold(0u128, |sum, value| {
                sum.checked_add(value).expect("held fits")
            });
        let balance_sum = balances.remove(&asset).unwrap_or(0);
        let total = balance_sum.checked_add(held).expect("holdings fit in u128");
        if total != supply {
            return Err(ConservationError {
                asset,
                balances: balance_sum,
                held,
                total,
                supply,
            });
        }
    }
    if let Some((&asset, &amount)) = balances.iter().next() {
        return Err(ConservationError {
            asset,
            balances: amount,
            held: 0,
            total: amount,
            supply: 0,
        });
    }
    Ok(())
}

/// Where the per-account indexes ([`crate::index`]) disagree with the records.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("index: {0}")]
pub struct IndexError(pub String);

/// Checks the per-account indexes against the records: every live offer and credit offer is in
/// its maker's index and nothing else is; every trade is in its buyer's, seller's and current
/// arbitrator's, every loan in its borrower's and each lender's; every trade or loan entry points
/// at a record the account is or was part of; and exactly the loans collecting lenders are in
/// the list of them.
pub fn check_indexes(store: &MemoryStore) -> Result<(), IndexError> {
    use crate::index::{self, Kind};
    use crate::{lending, market};
    let present = |account: &types::AccountId, kind: Kind, id: u64| match store
        .contains(&index::key(account, kind, id))
    {
        true => Ok(()),
        false => Err(IndexError(format!(
            "{kind:?} {id} is missing from the index of {account}"
        ))),
    };
    let mut expected_offers = std::collections::BTreeSet::new();
    for id in market::queries::offer_ids(store) {
        let offer = market::Db::offer(store, id).expect("a live offer decodes");
        present(&offer.maker, Kind::Offer, id)?;
        expected_offers.insert((offer.maker, id));
    }
    let mut expected_credit = std::collections::BTreeSet::new();
    for offer in lending::queries::credit_offers(store, None, lending::queries::SortBy::Rate) {
        present(&offer.lender, Kind::CreditOffer, offer.id)?;
        expected_credit.insert((offer.lender, offer.id));
    }
    for id in 1..=market::Db::last_trade_id(store) {
        if let Some(trade) = market::Db::trade(store, id) {
            for party in [Some(trade.buyer), Some(trade.seller), trade.arbitrator]
                .into_iter()
                .flatten()
            {
                present(&party, Kind::Trade, id)?;
            }
        }
    }
    let (mut funding, mut active) = (Vec::new(), Vec::new());
    for id in 1..=lending::Db::last_loan_id(store) {
        let Some(loan) = lending::Db::loan(store, id) else {
            continue;
        };
        present(&loan.borrower, Kind::Loan, id)?;
        for lender in lending::Db::lenders(store, id) {
            if lending::Db::position(store, id, &lender).is_some() {
                present(&lender, Kind::Loan, id)?;
            }
        }
        match loan.state {
            lending::LoanState::Funding => funding.push(id),
            lending::LoanState::Active => active.push(id),
            _ => {}
        }
    }
    for (what, expected, listed) in [
        ("collecting lenders", funding, index::FUNDING_LOANS),
        ("active", active, index::ACTIVE_LOANS),
    ] {
        let listed: Vec<u64> = index::listed_loans(store, listed).collect();
        if listed != expected {
            return Err(IndexError(format!(
                "the loans {what} are {expected:?}, but {listed:?} are listed"
            )));
        }
    }
    // Every entry points at a record of its kind; offer entries exactly at the live ones.
    for (key, value) in store.scan_prefix(&[index::TABLE]) {
        let entry = index::parse(&key)
            .ok_or_else(|| IndexError(format!("malformed index key {}", hex(&key))))?;
        if !value.is_empty() {
            return Err(IndexError(format!("index entry {} has a value", hex(&key))));
        }
        let (account, kind, id) = entry;
        let exists = match kind {
            Kind::Offer => expected_offers.contains(&(account, id)),
            Kind::CreditOffer => expected_credit.contains(&(account, id)),
            // A trade's parties, its arbitrator, or one it had before a reassignment. The last
            // arbitrator reassigned away once the list is full is not listed anywhere.
            Kind::Trade => market::Db::trade(store, id).is_some_and(|trade| {
                trade.buyer == account
                    || trade.seller == account
                    || trade.arbitrator == Some(account)
                    || trade.reassigned.contains(&account)
                    || (trade.reassigned.len() >= market::records::MAX_REASSIGNMENTS
                        && trade.arbitrator.is_none())
            }),
            // A loan's borrower or one of its lenders (a withdrawal removes the entry).
            Kind::Loan => lending::Db::loan(store, id).is_some_and(|loan| {
                loan.borrower == account || lending::Db::position(store, id, &account).is_some()
            }),
        };
        if !exists {
            return Err(IndexError(format!(
                "{kind:?} {id} in the index of {account} does not exist or is not theirs"
            )));
        }
    }
    check_staking(store)
}

/// Checks the staking registry against its records: the candidate list holds exactly the
/// validators that are not unbonding, in account order; each node key maps to the one record
/// that registered it and nothing else; the full-node list holds exactly the full-node records'
/// keys, none of them a validator's, at most `max_nodes`; and the staking module holds exactly
/// the sum of bonds and full-node deposits.
fn check_staking(store: &MemoryStore) -> Result<(), IndexError> {
    use crate::staking::{self, records::table};
    let mut candidates = Vec::new();
    let mut keys = std::collections::BTreeMap::new();
    let mut bonds: u128 = 0;
    for (key, value) in store.scan_prefix(&[table::VALIDATOR]) {
        let validator: staking::Validator = decode(&value).map_err(|e| {
            IndexError(format!(
                "validator record {} does not decode: {e}",
                hex(&key)
            ))
        })?;
        if validator.unbonding.is_none() {
            candidates.push(validator.account);
        }
        if let Some(other) = keys.insert(validator.node_key, validator.account) {
            return Err(IndexError(format!(
                "node key {} is held by {} and {other}",
                validator.node_key, validator.account
            )));
        }
        bonds = bonds
            .checked_add(validator.bond)
            .ok_or_else(|| IndexError("the bonds overflow".into()))?;
    }
    let listed = staking::Db::candidates(store);
    if listed != candidates {
        return Err(IndexError(format!(
            "the candidates are {candidates:?}, but {listed:?} are listed"
        )));
    }
    let indexed: std::collections::BTreeMap<_, _> = store
        .scan_prefix(&[table::NODE_KEY])
        .map(|(key, value)| {
            let node_key = key
                .get(1..)
                .and_then(|bytes| decode::<types::AccountId>(bytes).ok());
            let account = decode::<types::AccountId>(&value).ok();
            node_key
                .zip(account)
                .ok_or_else(|| IndexError(format!("malformed node key entry {}", hex(&key))))
        })
        .collect::<Result<_, _>>()?;
    if indexed != keys {
        return Err(IndexError(format!(
            "the node keys of the records are {keys:?}, but the index holds {indexed:?}"
        )));
    }
    let mut nodes = Vec::new();
    for (key, value) in store.scan_prefix(&[table::FULL_NODE]) {
        let node: staking::FullNode = decode(&value).map_err(|e| {
            IndexError(format!(
                "full node record {} does not decode: {e}",
                hex(&key)
            ))
        })?;
        if key.get(1..) != Some(node.node_key.as_bytes().as_slice()) {
            return Err(IndexError(format!(
                "full node record {} holds node key {}",
                hex(&key),
                node.node_key
            )));
        }
        if let Some(account) = keys.get(&node.node_key) {
            return Err(IndexError(format!(
                "node key {} is validator {account}'s and a full node's",
                node.node_key
            )));
        }
        bonds = bonds
            .checked_add(node.deposit)
            .ok_or_else(|| IndexError("the bonds and deposits overflow".into()))?;
        nodes.push(node.node_key);
    }
    let listed = staking::Db::full_nodes(store);
    if listed != nodes {
        return Err(IndexError(format!(
            "the full nodes are {nodes:?}, but {listed:?} are listed"
        )));
    }
    if let Some(params) = staking::params::try_load(store)
        && nodes.len() > usize::from(params.max_nodes)
    {
        return Err(IndexError(format!(
            "{} full nodes are registered, more than max_nodes {}",
            nodes.len(),
            params.max_nodes
        )));
    }
    check_epochs(store)?;
    let held = state::held(store, Module::Staking, types::AssetId::NATIVE);
    if held != bonds {
        return Err(IndexError(format!(
            "the staking module holds {held} EQA minor units, the bonds and deposits sum to {bonds}"
        )));
    }
    Ok(())
}

/// Checks the committees of epochs: exactly those from the epoch before the current one to two
/// ahead are kept, none larger than the committee size; every member is a registered validator
/// with that node key, still serving (its last epoch at least this one); and every validator
/// marked as serving sits on the committee of its last epoch, while one marked as served stopped
/// serving two epochs or more ago.
fn check_epochs(store: &MemoryStore) -> Result<(), IndexError> {
    use crate::staking::{self, EpochCommittee, records::table};
    let Some(params) = staking::params::try_load(store) else {
        return Ok(());
    };
    let (height, last_ms) = state::last_block(store);
    let current = params.epoch_of(height);
    let mut kept = std::collections::BTreeMap::new();
    for (key, value) in store.scan_prefix(&[table::EPOCH_COMMITTEE]) {
        let epoch = key
            .get(1..)
            .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| IndexError(format!("malformed epoch committee key {}", hex(&key))))?;
        let committee: EpochCommittee = decode(&value).map_err(|e| {
            IndexError(format!(
                "the committee of epoch {epoch} does not decode: {e}"
            ))
        })?;
        kept.insert(epoch, committee);
    }
    let expected: Vec<u64> =
        (current.saturating_sub(1)..=current.saturating_add(staking::LOOKAHEAD_EPOCHS)).collect();
    let found: Vec<u64> = kept.keys().copied().collect();
    if found != expected {
        return Err(IndexError(format!(
            "at height {height} (epoch {current}) the committees of epochs {expected:?} should be kept, not {found:?}"
        )));
    }
    for (epoch, committee) in &kept {
        if committee.members.len() > usize::from(params.committee_size) {
            return Err(IndexError(format!(
                "the committee of epoch {epoch} has {} members, more than {}",
                committee.members.len(),
                params.committee_size
            )));
        }
        let accounts: std::collections::BTreeSet<_> =
            committee.members.iter().map(|m| m.account).collect();
        let node_keys: std::collections::BTreeSet<_> =
            committee.members.iter().map(|m| m.node_key).collect();
        if accounts.len() != committee.members.len() || node_keys.len() != committee.members.len() {
            return Err(IndexError(format!(
                "the committee of epoch {epoch} seats a validator or a node key twice"
            )));
        }
        for member in &committee.members {
            let validator = staking::Db::validator(store, &member.account);
            let serving = validator.as_ref().is_some_and(|v| {
                v.node_key == member.node_key
                    && v.last_epoch.is_some_and(|last| last >= *epoch)
                    && v.served_until_ms.is_none()
            });
            if !serving {
                return Err(IndexError(format!(
                    "member {} of epoch {epoch}'s committee is not a validator serving with node key {}: {validator:?}",
                    member.account, member.node_key
                )));
            }
        }
    }
    // Holders named by an epoch's final block are kept from it until the first block of the
    // epoch after next: at most for the current epoch and the one before.
    let mut holders = std::collections::BTreeMap::new();
    for (key, value) in store.scan_prefix(&[table::HOLDERS]) {
        let epoch = key
            .get(1..)
            .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| IndexError(format!("malformed holders key {}", hex(&key))))?;
        let named: EpochCommittee = decode(&value).map_err(|e| {
            IndexError(format!(
                "the holders after epoch {epoch} do not decode: {e}"
            ))
        })?;
        if epoch.saturating_add(1) < current || epoch > current {
            return Err(IndexError(format!(
                "at epoch {current} the holders after epoch {epoch} are still kept"
            )));
        }
        holders.insert(epoch, named);
    }
    // Each holders record comes with the count of all the keys its block named, validators or
    // not, which is at least the validators among them.
    let mut players = std::collections::BTreeMap::new();
    for (key, value) in store.scan_prefix(&[table::PLAYERS]) {
        let epoch = key
            .get(1..)
            .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| IndexError(format!("malformed players key {}", hex(&key))))?;
        let count: u16 = decode(&value).map_err(|e| {
            IndexError(format!(
                "the players after epoch {epoch} do not decode: {e}"
            ))
        })?;
        players.insert(epoch, count);
    }
    let paired = players.len() == holders.len()
        && holders.iter().all(|(epoch, named)| {
            players
                .get(epoch)
                .is_some_and(|count| usize::from(*count) >= named.members.len())
        });
    if !paired {
        return Err(IndexError(format!(
            "at epoch {current} the holders kept ({:?}) and the player counts kept ({players:?}) do not pair up",
            holders.keys().collect::<Vec<_>>()
        )));
    }
    for (_, value) in store.scan_prefix(&[table::VALIDATOR]) {
        let validator: staking::Validator = decode(&value)
            .map_err(|e| IndexError(format!("a validator record does not decode: {e}")))?;
        let Some(last) = validator.last_epoch else {
            if validator.served_until_ms.is_some() {
                return Err(IndexError(format!(
                    "{} is marked served but never sat on a committee",
                    validator.account
                )));
            }
            continue;
        };
        let consistent = match validator.served_until_ms {
            // On the committee of its last epoch, or among the holders that epoch's final block
            // named (a failed resharing's carried-forward holders).
            None => kept
                .get(&last)
                .into_iter()
                .chain(holders.get(&last))
                .any(|c| c.members.iter().any(|m| m.account == validator.account)),
            // Marked by the first block of epoch `last + 2` with its own time.
            Some(served) => last.saturating_add(2) <= current && served <= last_ms,
        };
        if !consistent {
            return Err(IndexError(format!(
                "{} has last epoch {last} and served until {:?} at epoch {current}",
                validator.account, validator.served_until_ms
            )));
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
