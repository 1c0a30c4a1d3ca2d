//! Admission and fees: every admitted transaction paid exactly its fee and used its nonce;
//! every refused one paid nothing and was refused for the first reason that applies, in the
//! ledger's order; the proposer received exactly the fees charged.

use super::{
    Violation,
    world::{Applied, World},
};
use crate::{Outcome, TxError, state};
use std::collections::BTreeMap;
use types::{AccountId, AssetId};

/// Which admission check a transaction fails first, in the ledger's order, if any (the
/// affordability of the fee is judged from the receipt: it depends on calls earlier in the block).
fn first_refusal(
    world: &World,
    applied: &Applied,
    index: usize,
    tracked_nonce: u64,
) -> Option<&'static str> {
    let tx = &applied.txs[index];
    let body = tx.tx();
    let required = world
        .params
        .required_fee(body.call.kind(), tx.size())
        .unwrap_or(u128::MAX);
    if &body.chain_id != world.setup.chain_id() {
        Some("WrongChainId")
    } else if !tx.verify_signature() {
        Some("BadSignature")
    } else if applied.context.height > body.expires_at_height {
        Some("Expired")
    } else if body.nonce < tracked_nonce {
        Some("NonceReplayed")
    } else if body.nonce > tracked_nonce {
        Some("NonceTooHigh")
    } else if body.fee < required {
        Some("FeeTooLow")
    } else {
        None
    }
}

fn refusal_name(error: &TxError) -> &'static str {
    match error {
        TxError::BadSignature => "BadSignature",
        TxError::WrongChainId { .. } => "WrongChainId",
        TxError::NonceReplayed { .. } => "NonceReplayed",
        TxError::NonceTooHigh { .. } => "NonceTooHigh",
        TxError::Expired { .. } => "Expired",
        TxError::FeeTooLow { .. } => "FeeTooLow",
        TxError::FeeNotAffordable { .. } => "FeeNotAffordable",
        TxError::NonceExhausted => "NonceExhausted",
        TxError::Oversized { .. } => "Oversized",
    }
}

/// Every admitted transaction paid exactly its fee and used its nonce; every refused one paid
/// nothing and was refused for the first reason that applies; the proposer received the fees.
pub fn check_receipts(world: &World, applied: &Applied) -> Result<(), Violation> {
    if applied.receipts.len() != applied.txs.len() {
        return Err(Violation::new(
            "one receipt per transaction",
            format!(
                "{} transactions, {} receipts",
                applied.txs.len(),
                applied.receipts.len()
            ),
        ));
    }
    let mut nonces: BTreeMap<AccountId, u64> = applied.nonces_before.clone();
    let mut fees: u128 = 0;
    for (index, (tx, receipt)) in applied.txs.iter().zip(&applied.receipts).enumerate() {
        let body = tx.tx();
        let tracked = nonces.get(&body.signer).copied().unwrap_or(0);
        let refusal = first_refusal(world, applied, index, tracked);
        let fail = |what: String| {
            Err(Violation::new(
                "admission and fees",
                format!("transaction {index} ({}): {what}", body.call.kind()),
            ))
        };
        match (&receipt.outcome, refusal) {
            (Outcome::Rejected(error), Some(expected)) => {
                if refusal_name(error) != expected {
                    return fail(format!("refused with {error:?}, expected {expected}"));
                }
                if receipt.fee_paid != 0 {
                    return fail(format!("refused but charged {}", receipt.fee_paid));
                }
            }
            (Outcome::Rejected(TxError::FeeNotAffordable { fee, balance }), None) => {
                if *fee != body.fee || balance >= fee || receipt.fee_paid != 0 {
                    return fail(format!(
                        "refused as unaffordable with fee {fee} and balance {balance}, charged {}",
                        receipt.fee_paid
                    ));
                }
            }
            (Outcome::Rejected(error), None) => {
                return fail(format!("a valid transaction was refused: {error:?}"));
            }
            (_, Some(expected)) => {
                return fail(format!("admitted although it fails {expected}"));
            }
            (_, None) => {
                if receipt.fee_paid != body.fee {
                    return fail(format!(
                        "admitted with fee {} but charged {}",
                        body.fee, receipt.fee_paid
                    ));
                }
                nonces.insert(body.signer, tracked.saturating_add(1));
                fees = fees.saturating_add(receipt.fee_paid);
            }
        }
        if !receipt.is_success() && !receipt.events.is_empty() {
            return fail("a call that did not succeed left events".into());
        }
    }
    for (signer, nonce) in &nonces {
        let actual = state::nonce(&world.store, signer);
        if actual != *nonce {
            return Err(Violation::new(
                "admission and fees",
                format!(
                    "{signer}'s nonce is {actual} after the block, {nonce} admitted transactions say"
                ),
            ));
        }
    }
    let proposer_after = state::balance(&world.store, &world.setup.proposer, AssetId::NATIVE);
    if proposer_after != applied.proposer_before.saturating_add(fees) {
        return Err(Violation::new(
            "admission and fees",
            format!(
                "the proposer gained {} EQA minor units; the receipts charged {fees}",
                proposer_after.wrapping_sub(applied.proposer_before)
            ),
        ));
    }
    Ok(())
}
