//! Staking calls: registrations with keys shared between actors, bonds at and around the
//! minimum and the lowest candidate's (so a small registry fills and pushes candidates out),
//! addresses and key proofs that are wrong in each way they can be, and unbonding and
//! withdrawal by validators and by anyone else, before and after the delay; full nodes'
//! registrations on the same keys, with deposits at and around the minimum and the lowest (so a
//! small registry fills and pushes keys out), and unregistrations by owners and by others.

use super::generate::Ctx;
use crate::{staking::Validator, state, testing};
use commonware_cryptography::Signer;
use types::{
    AccountId, Call, ChainId, Text,
    market::Nothing,
    staking::{KeyProof, RegisterNode, RegisterValidator, StakingCall, UnregisterNode},
};

/// Node keys come from this few, so that two actors reach for the same key.
const NODE_KEYS: u64 = 8;
/// The seed of the first node key, far from the actors' account keys.
const NODE_KEY_SEED: u64 = 9_000;
/// Full nodes reach for keys from this far into the validators' few, so that two of theirs are
/// validators' too.
const FULL_NODE_KEY_OFFSET: u64 = NODE_KEYS - 2;

pub fn call(ctx: &mut Ctx) -> (u64, Call) {
    let (signer, call) = match ctx.dice.below(10) {
        0..=5 => register(ctx),
        6 => (validator_signer(ctx), StakingCall::Unbond(Nothing)),
        7 => (validator_signer(ctx), StakingCall::Withdraw(Nothing)),
        8 => register_node(ctx),
        _ => unregister_node(ctx),
    };
    (signer, Call::Staking(call))
}

/// The offenses a block carries: in one block of eight, one or two against the validators' few
/// node keys or one nobody holds, in one of the first four epochs (so the same offense comes
/// again, and a key is slashed in several epochs).
pub fn offenses(dice: &mut super::dice::Dice, view: &super::view::View) -> Vec<crate::Offense> {
    if view.validators.is_empty() || dice.below(8) != 0 {
        return Vec::new();
    }
    (0..1 + dice.below(2))
        .map(|_| crate::Offense {
            node_key: AccountId::from_public_key(
                &testing::key(NODE_KEY_SEED + dice.below(NODE_KEYS + 1)).public_key(),
            ),
            epoch: dice.below(4),
        })
        .collect()
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
    let address = address(ctx);
    let key_proof = key_proof(ctx, &node, signer, &account, false);
    let call = RegisterValidator {
        node_key,
        address,
        bond,
        key_proof,
    };
    (signer, StakingCall::Register(call))
}

/// A full node's registration: a key from a few that overlap the validators', a deposit at and
/// around the minimum, the lowest registered and the signer's balance.
fn register_node(ctx: &mut Ctx) -> (u64, StakingCall) {
    // Often the owner of a registered key, to raise its deposit or move it.
    let owners: Vec<AccountId> = ctx.view.full_nodes.iter().map(|n| n.owner).collect();
    let signer = if !owners.is_empty() && ctx.dice.below(2) == 0 {
        ctx.signer_among(&owners)
    } else {
        ctx.actor()
    };
    let account = ctx.setup.account(signer);
    let node = full_node_key(ctx);
    let node_key = AccountId::from_public_key(&node.public_key());
    let minimum = ctx.view.staking.node_deposit;
    let lowest = ctx
        .view
        .full_nodes
        .iter()
        .map(|n| n.deposit)
        .min()
        .unwrap_or(minimum);
    let deposit = if ctx.edgy() {
        let balance = ctx.balance(signer, types::AssetId::NATIVE);
        ctx.dice.edge(&[minimum, lowest, balance])
    } else {
        ctx.dice.between(minimum, minimum.saturating_mul(3))
    };
    let address = address(ctx);
    let key_proof = key_proof(ctx, &node, signer, &account, true);
    let call = RegisterNode {
        node_key,
        address,
        deposit,
        key_proof,
    };
    (signer, StakingCall::RegisterNode(call))
}

/// Unregisters a registered key, by its owner or (to be refused) by anyone else, or a key
/// nobody registered.
fn unregister_node(ctx: &mut Ctx) -> (u64, StakingCall) {
    let registered: Vec<(AccountId, AccountId)> = ctx
        .view
        .full_nodes
        .iter()
        .map(|n| (n.node_key, n.owner))
        .collect();
    let (node_key, signer) = match ctx.dice.pick(&registered).copied() {
        Some((key, owner)) if !ctx.edgy() => (key, ctx.signer_among(&[owner])),
        Some((key, _)) => (key, ctx.actor()),
        None => {
            let node = full_node_key(ctx);
            (AccountId::from_public_key(&node.public_key()), ctx.actor())
        }
    };
    (
        signer,
        StakingCall::UnregisterNode(UnregisterNode { node_key }),
    )
}

fn full_node_key(ctx: &mut Ctx) -> commonware_cryptography::ed25519::PrivateKey {
    testing::key(NODE_KEY_SEED + FULL_NODE_KEY_OFFSET + ctx.dice.below(NODE_KEYS))
}

fn address(ctx: &mut Ctx) -> Text<64> {
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
    Text::new(address).expect("short")
}

/// The node key's proof for the signer in the role's namespace (a full node's when
/// `full_node`), or (when edgy) one for another account, another chain, signed by the wrong
/// key, or given for the other role.
fn key_proof(
    ctx: &mut Ctx,
    node: &commonware_cryptography::ed25519::PrivateKey,
    signer: u64,
    account: &AccountId,
    full_node: bool,
) -> KeyProof {
    let chain = state::chain_id(ctx.store);
    let sign = |role_is_node: bool, key, chain: &ChainId, account: &AccountId| {
        if role_is_node {
            KeyProof::sign_node(key, chain, account)
        } else {
            KeyProof::sign(key, chain, account)
        }
    };
    if ctx.edgy() {
        match ctx.dice.below(4) {
            0 => sign(full_node, node, &chain, &ctx.account()),
            1 => sign(
                full_node,
                node,
                &ChainId::new("equa-elsewhere").expect("a valid chain id"),
                account,
            ),
            2 => sign(full_node, &testing::key(signer), &chain, account),
            _ => sign(!full_node, node, &chain, account),
        }
    } else {
        sign(full_node, node, &chain, account)
    }
}
