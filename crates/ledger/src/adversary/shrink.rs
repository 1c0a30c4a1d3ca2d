//! Shrinking a failing plan: remove blocks (halves, then quarters, down to single blocks), then
//! single transactions, then transactions that created a record together with the renumbering
//! of every later reference to records of its kind, then make envelopes plain, as long as the
//! plan still fails the same invariant; repeat until nothing more can go.

use super::plan::{Envelope, Plan};
use types::{Call, lending::LendingCall, market::MarketCall};

/// The kinds of records whose ids calls name: ids of each kind are allocated in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Space {
    Offer,
    Trade,
    Loan,
    Credit,
}

/// A transaction, by block and position, that created record `id` of kind `space`.
pub type Creation = (usize, usize, Space, u64);

/// The record id a call names, if it names one.
pub(super) fn named_id(call: &mut Call) -> Option<(Space, &mut u64)> {
    Some(match call {
        Call::Market(call) => match call {
            MarketCall::UpdateOffer(c) => (Space::Offer, &mut c.offer),
            MarketCall::CancelOffer(c) => (Space::Offer, &mut c.offer),
            MarketCall::TakeOffer(c) => (Space::Offer, &mut c.offer),
            MarketCall::MarkPaid(c) => (Space::Trade, &mut c.trade),
            MarketCall::Rule(c) => (Space::Trade, &mut c.trade),
            MarketCall::OpenDispute(c) => (Space::Trade, &mut c.trade),
            MarketCall::PostMessage(c) => (Space::Trade, &mut c.trade),
            MarketCall::RevealKey(c) => (Space::Trade, &mut c.trade),
            MarketCall::Rate(c) => (Space::Trade, &mut c.trade),
            MarketCall::Release(c)
            | MarketCall::CancelTrade(c)
            | MarketCall::ClaimTimeout(c)
            | MarketCall::Reassign(c) => (Space::Trade, &mut c.trade),
            _ => return None,
        },
        Call::Lending(call) => match call {
            LendingCall::Fund(c) => (Space::Loan, &mut c.loan),
            LendingCall::Repay(c) => (Space::Loan, &mut c.loan),
            LendingCall::CancelRequest(c)
            | LendingCall::Withdraw(c)
            | LendingCall::Accept(c)
            | LendingCall::Expire(c)
            | LendingCall::Claim(c)
            | LendingCall::DeclareDefault(c) => (Space::Loan, &mut c.loan),
            LendingCall::CancelCredit(c) => (Space::Credit, &mut c.offer),
            LendingCall::TakeCredit(c) => (Space::Credit, &mut c.offer),
            _ => return None,
        },
        Call::Bank(_) | Call::Staking(_) => return None,
    })
}

/// `plan` without the transaction of `creation`, with every later reference to a record of the
/// same kind created after it moved down by one, as the ids will be.
fn without_creation(plan: &Plan, (block, tx, space, id): Creation) -> Plan {
    let mut candidate = plan.clone();
    candidate.blocks[block].txs.remove(tx);
    for (b, later) in candidate.blocks.iter_mut().enumerate().skip(block) {
        for (t, planned) in later.txs.iter_mut().enumerate() {
            if b == block && t < tx {
                continue;
            }
            if let Some((named, value)) = named_id(&mut planned.call)
                && named == space
                && *value > id
                && *value != u64::MAX
            {
                *value -= 1;
            }
        }
    }
    candidate.blocks.retain(|block| !block.txs.is_empty());
    candidate
}

/// The most replays one shrink may spend.
const MAX_REPLAYS: usize = 4_000;

/// Shrinks `plan` while `fails` holds of it. `fails(plan)` must hold to begin with;
/// `creations(plan)` lists the transactions of `plan` that created records.
pub fn shrink(
    mut plan: Plan,
    mut fails: impl FnMut(&Plan) -> bool,
    creations: impl Fn(&Plan) -> Vec<Creation>,
) -> Plan {
    let mut replays = 0usize;
    let mut try_plan = |candidate: &Plan, replays: &mut usize| -> bool {
        if *replays >= MAX_REPLAYS {
            return false;
        }
        *replays += 1;
        fails(candidate)
    };
    loop {
        let before = (plan.blocks.len(), plan.tx_count());
        // Blocks, in chunks of decreasing size.
        let mut chunk = plan.blocks.len().div_ceil(2).max(1);
        loop {
            let mut start = 0;
            while start < plan.blocks.len() {
                let mut candidate = plan.clone();
                let end = (start + chunk).min(candidate.blocks.len());
                candidate.blocks.drain(start..end);
                if try_plan(&candidate, &mut replays) {
                    plan = candidate;
                } else {
                    start += chunk;
                }
            }
            if chunk == 1 {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
        // Single transactions.
        let mut block = 0;
        while block < plan.blocks.len() {
            let mut tx = 0;
            while tx < plan.blocks[block].txs.len() {
                let mut candidate = plan.clone();
                candidate.blocks[block].txs.remove(tx);
                if candidate.blocks[block].txs.is_empty() {
                    candidate.blocks.remove(block);
                }
                if try_plan(&candidate, &mut replays) {
                    let emptied = candidate.blocks.len() < plan.blocks.len();
                    plan = candidate;
                    if emptied {
                        break;
                    }
                } else {
                    tx += 1;
                }
            }
            block += 1;
        }
        // Creations, with the ids after them renumbered; the latest first, so that the earlier
        // creations' positions stay valid.
        let mut made = creations(&plan);
        while let Some(creation) = made.pop() {
            let candidate = without_creation(&plan, creation);
            if try_plan(&candidate, &mut replays) {
                plan = candidate;
                made = creations(&plan);
            }
        }
        // Plain envelopes.
        for block in 0..plan.blocks.len() {
            for tx in 0..plan.blocks[block].txs.len() {
                if plan.blocks[block].txs[tx].envelope == Envelope::Valid {
                    continue;
                }
                let mut candidate = plan.clone();
                candidate.blocks[block].txs[tx].envelope = Envelope::Valid;
                if try_plan(&candidate, &mut replays) {
                    plan = candidate;
                }
            }
        }
        if (plan.blocks.len(), plan.tx_count()) == before || replays >= MAX_REPLAYS {
            return plan;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adversary::plan::{BlockPlan, TxPlan};
    use types::{
        AssetId, Call,
        bank::{BankCall, Burn},
    };

    fn burn(amount: u128) -> TxPlan {
        TxPlan {
            signer: 0,
            call: Call::Bank(BankCall::Burn(Burn {
                asset: AssetId(1),
                amount,
            })),
            envelope: Envelope::StaleNonce,
        }
    }

    /// A plan "fails" when it burns 7 somewhere after burning 3: the shrink keeps exactly those
    /// two transactions, in their blocks, with plain envelopes.
    #[test]
    fn keeps_only_what_the_failure_needs() {
        let plan = Plan {
            profile: 0,
            blocks: (0..20)
                .map(|b| BlockPlan {
                    timestamp_ms: b,
                    txs: (0..5).map(|t| burn(b as u128 * 10 + t)).collect(),
                    offenses: Vec::new(),
                })
                .collect(),
        };
        let amounts = |plan: &Plan| -> Vec<u128> {
            plan.blocks
                .iter()
                .flat_map(|b| &b.txs)
                .map(|tx| match &tx.call {
                    Call::Bank(BankCall::Burn(burn)) => burn.amount,
                    _ => unreachable!(),
                })
                .collect()
        };
        let fails = |plan: &Plan| {
            let amounts = amounts(plan);
            let three = amounts.iter().position(|a| *a == 3);
            let forty_one = amounts.iter().position(|a| *a == 41);
            matches!((three, forty_one), (Some(a), Some(b)) if a < b)
        };
        let shrunk = shrink(plan, fails, |_| Vec::new());
        assert_eq!(amounts(&shrunk), vec![3, 41]);
        assert_eq!(shrunk.blocks.len(), 2);
        assert_eq!(shrunk.blocks[1].timestamp_ms, 4);
        assert!(
            shrunk
                .blocks
                .iter()
                .flat_map(|b| &b.txs)
                .all(|tx| tx.envelope == Envelope::Valid)
        );
    }
}
