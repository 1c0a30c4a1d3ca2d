//! Calls of the staking module: an account bonds EQA to stand as a validator, unbonds to leave,
//! and withdraws its bond once the unbonding delay has passed; and registers full nodes' keys
//! against a deposit, so that every node admits them as peers.

use crate::{
    AccountId, ChainId, Text,
    codec::{Buf, CodecError, EncodeSize, Read, Write},
    impl_codec, impl_codec_enum,
    market::Nothing,
};
use bytes::BufMut;
use commonware_cryptography::{Signer, Verifier, ed25519};

/// The namespace of a validator's key proof.
pub const KEY_PROOF_NAMESPACE: &[u8] = b"EQUA_VALIDATOR_KEY_V1";
/// The namespace of a full node's key proof: a proof given for one role never registers the
/// key in the other.
pub const NODE_KEY_PROOF_NAMESPACE: &[u8] = b"EQUA_FULL_NODE_KEY_V1";

/// Registers the signer's account as a validator candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisterValidator {
    /// The node's ed25519 key: it signs consensus votes and authenticates the node's peer
    /// connections. A validated curve point, like an account id.
    pub node_key: AccountId,
    /// Where the node listens for peers: `ip:port`.
    pub address: Text<64>,
    /// EQA minor units locked as the bond, at least the chain's minimum. Sent again by a
    /// registered validator with the same node key, it is the new total: more raises a
    /// candidate's bond, and at least the old bond brings an unbonding validator back.
    pub bond: u128,
    /// The node key's signature over [`key_proof_message`]: proof that whoever registers the
    /// key holds it, so nobody can claim another operator's key (and keep it from registering).
    pub key_proof: KeyProof,
}
impl_codec!(RegisterValidator {
    node_key,
    address,
    bond,
    key_proof
});

/// An ed25519 signature by a node key (see [`RegisterValidator::key_proof`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyProof(pub ed25519::Signature);

impl KeyProof {
    /// Signs the proof that `node` is registered by `account` on `chain_id`.
    pub fn sign(node: &ed25519::PrivateKey, chain_id: &ChainId, account: &AccountId) -> Self {
        Self(node.sign(KEY_PROOF_NAMESPACE, &key_proof_message(chain_id, account)))
    }

    /// Whether this is `node_key`'s proof for `account` on `chain_id`.
    pub fn verify(&self, node_key: &AccountId, chain_id: &ChainId, account: &AccountId) -> bool {
        node_key.public_key().verify(
            KEY_PROOF_NAMESPACE,
            &key_proof_message(chain_id, account),
            &self.0,
        )
    }

    /// Signs the proof that full node `node` is registered by `account` on `chain_id`.
    pub fn sign_node(node: &ed25519::PrivateKey, chain_id: &ChainId, account: &AccountId) -> Self {
        Self(node.sign(
            NODE_KEY_PROOF_NAMESPACE,
            &key_proof_message(chain_id, account),
        ))
    }

    /// Whether this is `node_key`'s full-node proof for `account` on `chain_id`.
    pub fn verify_node(
        &self,
        node_key: &AccountId,
        chain_id: &ChainId,
        account: &AccountId,
    ) -> bool {
        node_key.public_key().verify(
            NODE_KEY_PROOF_NAMESPACE,
            &key_proof_message(chain_id, account),
            &self.0,
        )
    }
}

/// What a key proof signs: the chain and the account registering the key, so a proof works for
/// one account on one chain and cannot be replayed by anyone else.
pub fn key_proof_message(chain_id: &ChainId, account: &AccountId) -> Vec<u8> {
    let chain = chain_id.as_str().as_bytes();
    let mut message = Vec::with_capacity(1 + chain.len() + AccountId::SIZE);
    message.push(u8::try_from(chain.len()).unwrap_or(u8::MAX));
    message.extend_from_slice(chain);
    message.extend_from_slice(account.as_bytes());
    message
}

impl Write for KeyProof {
    fn write(&self, buf: &mut impl BufMut) {
        self.0.write(buf);
    }
}

impl EncodeSize for KeyProof {
    fn encode_size(&self) -> usize {
        self.0.encode_size()
    }
}

impl Read for KeyProof {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(Self(ed25519::Signature::read_cfg(buf, &())?))
    }
}

/// Registers a full node's key, so that every node admits it as a peer: it follows the chain
/// and serves it, but does not vote. The deposit stands against filling every node's peer sets
/// with keys nobody runs; it is returned when the key is unregistered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisterNode {
    /// The full node's ed25519 key, which authenticates its peer connections.
    pub node_key: AccountId,
    /// Where the node listens for peers: `ip:port`. Newcomers may bootstrap from it.
    pub address: Text<64>,
    /// EQA minor units locked as the deposit, at least the chain's minimum. Sent again by the
    /// same account for the same key, it is the new total (at least the old one) and the
    /// address is updated.
    pub deposit: u128,
    /// The node key's signature over [`key_proof_message`] in the full-node namespace
    /// ([`KeyProof::sign_node`]).
    pub key_proof: KeyProof,
}
impl_codec!(RegisterNode {
    node_key,
    address,
    deposit,
    key_proof
});

/// Unregisters a full node's key and returns its deposit to the account that registered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnregisterNode {
    pub node_key: AccountId,
}
impl_codec!(UnregisterNode { node_key });

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StakingCall {
    Register(RegisterValidator),
    /// Leaves the candidates at once; the bond stays locked (and answerable for what the
    /// validator did) until the unbonding delay has passed.
    Unbond(Nothing),
    /// Returns the bond of a validator whose unbonding delay has passed.
    Withdraw(Nothing),
    RegisterNode(RegisterNode),
    UnregisterNode(UnregisterNode),
}
impl_codec_enum!(StakingCall {
    0 => Register,
    1 => Unbond,
    2 => Withdraw,
    3 => RegisterNode,
    4 => UnregisterNode,
});

impl StakingCall {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Register(_) => "staking.register",
            Self::Unbond(_) => "staking.unbond",
            Self::Withdraw(_) => "staking.withdraw",
            Self::RegisterNode(_) => "staking.register_node",
            Self::UnregisterNode(_) => "staking.unregister_node",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Encode, decode};

    fn key(seed: u64) -> ed25519::PrivateKey {
        ed25519::PrivateKey::from_seed(seed)
    }

    fn account(seed: u64) -> AccountId {
        AccountId::from_public_key(&key(seed).public_key())
    }

    #[test]
    fn a_key_proof_holds_for_its_account_and_chain_only() {
        let chain = ChainId::new("equa-test").unwrap();
        let other_chain = ChainId::new("equa-other").unwrap();
        let node = key(1);
        let node_key = AccountId::from_public_key(&node.public_key());
        let proof = KeyProof::sign(&node, &chain, &account(2));
        assert!(proof.verify(&node_key, &chain, &account(2)));
        assert!(!proof.verify(&node_key, &chain, &account(3)));
        assert!(!proof.verify(&node_key, &other_chain, &account(2)));
        assert!(!proof.verify(&account(4), &chain, &account(2)));
        // A validator's proof is no full node's, and the other way round.
        assert!(!proof.verify_node(&node_key, &chain, &account(2)));
        let node_proof = KeyProof::sign_node(&node, &chain, &account(2));
        assert!(node_proof.verify_node(&node_key, &chain, &account(2)));
        assert!(!node_proof.verify(&node_key, &chain, &account(2)));
    }

    #[test]
    fn calls_round_trip() {
        let chain = ChainId::new("equa-test").unwrap();
        let node = key(1);
        let calls = [
            StakingCall::Register(RegisterValidator {
                node_key: AccountId::from_public_key(&node.public_key()),
                address: Text::new("127.0.0.1:30303").unwrap(),
                bond: u128::MAX,
                key_proof: KeyProof::sign(&node, &chain, &account(2)),
            }),
            StakingCall::Unbond(Nothing),
            StakingCall::Withdraw(Nothing),
            StakingCall::RegisterNode(RegisterNode {
                node_key: AccountId::from_public_key(&node.public_key()),
                address: Text::new("[2001:db8::1]:9000").unwrap(),
                deposit: 1,
                key_proof: KeyProof::sign_node(&node, &chain, &account(2)),
            }),
            StakingCall::UnregisterNode(UnregisterNode {
                node_key: AccountId::from_public_key(&node.public_key()),
            }),
        ];
        for call in calls {
            assert_eq!(decode::<StakingCall>(&call.encode()).unwrap(), call);
        }
        assert!(decode::<StakingCall>(&[5]).is_err());
    }
}
