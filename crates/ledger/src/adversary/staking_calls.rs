//! Staking calls: registrations with keys shared between actors, bonds at and around the
//! minimum and the lowest candidate's (so a small registry fills and pushes candidates out),
//! addresses and key proofs that are wrong in each way they can be, and unbonding and
//! withdrawal by validators and by anyone else, before and after the delay.

use super::generate::Ctx;
use crate::{staking::Validator, state, testing};
use commonware_cryptography::Signer;
use types::{
    AccountId, Call, ChainId, Text,
    market::Nothing,
    staking::{KeyProof, RegisterValidator, StakingCall},
};

/// Node keys come from this few, so that two actors reach for the same key.
const NODE_KEYS: u64 = 8;
/// The seed of the first node key, far from the actors' account keys.
const NODE_KEY_SEED: u64 = 9_000;

pub fn call(ctx: &mut Ctx) -> (u64, Call) {
    let (signer, call) = match ctx.dice.below(6) {
        0..=3 => register(ctx),
        4 => (validator_signer(ctx), StakingCall::Unbond(Nothing)),
        _ => (validator_signer(ctx), StakingCall::Withdraw(Nothing)),
    };
    (signer, Call::Staking(call))
}

fn validator_signer(ctx: &mut Ctx) -> u64 {
    let accounts: Vec<AccountId> = ctx.view.validators.iter().map(|v| v.account).collect();
    ctx.signer_among(&accounts)
}

fn register(ctx: &mut Ctx) -> (u64, StakingCall) {
    let signer = ctx.actor();
    let account = ctx.setup.account(signer);
    let node = testing::key(NODE_KEY_SEED + ctx.dice.below(NODE_KEYS));
    let node_key = AccountId::from_public_key(&node.public_key());
    let minimum = ctx.view.staking.min_bond;
    let lowest = ctx
        .view
        .validators
        .iter()
        .filter(|v| v.unbonding.is_none())
        .map(|v: &Validator| v.bond)
        .min()
        .unwrap_or(minimum);
    let bond = if ctx.edgy() {
        let balance = ctx.balance(signer, types::AssetId::NATIVE);
        ctx.dice.edge(&[minimum, lowest, balance])
    } else {
        ctx.dice.between(minimum, minimum.saturating_mul(3))
    };
    let address = if ctx.edgy() {
        *ctx.dice
            .pick(&[
                "0.0.0.0:9000",
                "127.0.0.1:0",
                "localhost:9000",
                "",
                "[::1]:9000",
            ])
            .expect("not empty")
    } else {
        "127.0.0.1:9000"
    };
    let chain = state::chain_id(ctx.store);
    let key_proof = if ctx.edgy() {
        match ctx.dice.below(3) {
            0 => KeyProof::sign(&node, &chain, &ctx.account()),
            1 => KeyProof::sign(
                &node,
                &ChainId::new("equa-elsewhere").expect("a valid chain id"),
                &account,
            ),
            _ => KeyProof::sign(&testing::key(signer), &chain, &account),
        }
    } else {
        KeyProof::sign(&node, &chain, &account)
    };
    let call = RegisterValidator {
        node_key,
        address: Text::new(address).expect("short"),
        bond,
        key_proof,
    };
    (signer, StakingCall::Register(call))
}
