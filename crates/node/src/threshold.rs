//! The chain's consensus key: a BLS12-381 threshold key shared among the validators.
//!
//! Every vote carries a partial signature made with a validator's share; any `2f + 1` of them
//! recover one signature under the chain's public key (its *identity*), so a certificate of any
//! size of committee is one 48-byte signature pair, and a light client needs that one key.
//! Every vote also carries a partial signature over its round alone; the recovered round
//! signature is the round's seed, unique to the round, which nobody knows before `f + 1` honest
//! validators voted in it. A byzantine leader may learn its own round's seed before the round
//! resolves and pick among a few outcomes of that round, so a seed may only drive what was fixed
//! before its round began.
//!
//! The key's public side (the [`ConsensusKey`], a DKG output: the public polynomial and the
//! validators holding shares, in key order) is the same in every node's configuration; each
//! validator's configuration also holds its own [`Share`]. [`deal`] makes both for a devnet from
//! one trusted dealer (it sees every share); a production chain runs the distributed ceremony of
//! commonware's `dkg` module instead, which produces the same types.

use crate::{Scheme, block::SeedSignature};
use commonware_codec::{Encode, Read};
use commonware_consensus::types::Round;
use commonware_cryptography::{
    bls12381::{
        dkg::feldman_desmedt::{self, Output},
        primitives::{
            group::Share,
            ops,
            sharing::{Mode, ModeVersion},
            variant::{MinSig, Variant},
        },
    },
    ed25519,
};
use commonware_parallel::Sequential;
use commonware_utils::{
    N3f1,
    ordered::{Quorum, Set},
};
use std::num::NonZeroU32;

/// The threshold signature variant: 48-byte signatures (G1), 96-byte public keys (G2), so
/// certificates, carried by every finalized block and every light-client proof, are small.
pub type ConsensusVariant = MinSig;

/// The public side of the chain's threshold key.
pub type ConsensusKey = Output<ConsensusVariant, ed25519::PublicKey>;

/// The chain's public key: every certificate, of any epoch, verifies against it.
pub type Identity = <ConsensusVariant as Variant>::Public;

/// The most validators a consensus key may name. It bounds what decoding one allocates and what
/// building a scheme costs (the public polynomial is evaluated at every validator's index).
pub const MAX_VALIDATORS: u32 = 256;

/// [`MAX_VALIDATORS`], as the bounds of commonware's codecs take it.
pub fn max_validators() -> NonZeroU32 {
    NonZeroU32::new(MAX_VALIDATORS).expect("non-zero")
}

/// Why a consensus key, share or identity was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("{field}: not hex: {message}")]
    Hex { field: String, message: String },
    #[error("{field}: not a valid encoding: {message}")]
    Decode { field: String, message: String },
    #[error(
        "consensus_key names {named} validators, the configuration lists {listed}; both must \
         name the same validators"
    )]
    Validators { named: usize, listed: usize },
    #[error("consensus_key does not name validator {0}")]
    NotNamed(String),
    #[error(
        "the consensus key's threshold is {found}, a quorum of {validators} validators is {quorum}"
    )]
    Threshold {
        found: u32,
        validators: usize,
        quorum: u32,
    },
    #[error("consensus_share is not this validator's share of the consensus key")]
    WrongShare,
    #[error(
        "consensus_key reveals the shares of {0} validators: a key whose ceremony exposed shares \
         must be reshared before it is used"
    )]
    Revealed(usize),
}

/// Deals a fresh consensus key to `validators` from one dealer. For devnets and tests: whoever
/// runs it sees every share.
pub fn deal(
    rng: impl rand_core::CryptoRng,
    validators: &[ed25519::PublicKey],
) -> (ConsensusKey, Vec<(ed25519::PublicKey, Share)>) {
    let players = Set::from_iter_dedup(validators.iter().cloned());
    let (output, shares) =
        feldman_desmedt::deal::<ConsensusVariant, _, N3f1>(rng, Mode::NonZeroCounter, players)
            .expect("a devnet has at least one validator");
    let shares = shares
        .iter_pairs()
        .map(|(key, share)| (key.clone(), share.clone()))
        .collect();
    (output, shares)
}

/// [`deal`] with randomness from the operating system.
pub fn deal_from_os(
    validators: &[ed25519::PublicKey],
) -> (ConsensusKey, Vec<(ed25519::PublicKey, Share)>) {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("the operating system provides randomness");
    deal(
        <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::from_seed(seed),
        validators,
    )
}

/// The chain's identity (public key) of `key`.
pub fn identity(key: &ConsensusKey) -> Identity {
    *key.public().public()
}

/// Checks that `key` names exactly `validators` with a quorum threshold.
pub fn check(key: &ConsensusKey, validators: &Set<ed25519::PublicKey>) -> Result<(), KeyError> {
    if key.players().len() != validators.len() {
        return Err(KeyError::Validators {
            named: key.players().len(),
            listed: validators.len(),
        });
    }
    if let Some(missing) = validators
        .iter()
        .find(|validator| key.players().position(validator).is_none())
    {
        return Err(KeyError::NotNamed(missing.to_string()));
    }
    if !key.revealed().is_empty() {
        return Err(KeyError::Revealed(key.revealed().len()));
    }
    let quorum = validators.quorum::<N3f1>();
    let sharing = key.public();
    if sharing.required() != quorum || sharing.total().get() as usize != validators.len() {
        return Err(KeyError::Threshold {
            found: sharing.required(),
            validators: validators.len(),
            quorum,
        });
    }
    Ok(())
}

/// The signing scheme of validator `me` holding `share`, after [`check`]. The share must be the
/// one dealt to `me`: at `me`'s place among the validators (in key order) and matching the key
/// there. Another validator's share would make this node sign as that validator.
pub fn signer(
    namespace: &[u8],
    key: &ConsensusKey,
    validators: Set<ed25519::PublicKey>,
    me: &ed25519::PublicKey,
    share: Share,
) -> Result<Scheme, KeyError> {
    check(key, &validators)?;
    let place = validators
        .position(me)
        .ok_or_else(|| KeyError::NotNamed(me.to_string()))?;
    if usize::from(share.index) != place {
        return Err(KeyError::WrongShare);
    }
    Scheme::signer(namespace, validators, key.public().clone(), share).ok_or(KeyError::WrongShare)
}

/// The scheme of a node that verifies votes and certificates but does not vote, after [`check`].
pub fn verifier(
    namespace: &[u8],
    key: &ConsensusKey,
    validators: Set<ed25519::PublicKey>,
) -> Result<Scheme, KeyError> {
    check(key, &validators)?;
    Ok(Scheme::verifier(
        namespace,
        validators,
        key.public().clone(),
    ))
}

/// Checks a round's seed (the recovered threshold signature over the round that every
/// certificate of the round carries) against the chain's identity.
#[derive(Clone, Debug)]
pub struct SeedVerifier {
    identity: Identity,
    namespace: Vec<u8>,
}

impl SeedVerifier {
    /// For certificates signed under `namespace` (the consensus namespace).
    pub fn new(namespace: &[u8], identity: Identity) -> Self {
        Self {
            identity,
            namespace: commonware_consensus::simplex::scheme::Namespace::new(namespace).seed,
        }
    }

    /// Whether `seed` is the seed of `round`.
    pub fn verify(&self, round: Round, seed: &SeedSignature) -> bool {
        ops::verify_message::<ConsensusVariant>(
            &self.identity,
            &self.namespace,
            &round.encode(),
            seed,
        )
        .is_ok()
    }
}

/// The seed of `round` that `shares` (a quorum of `key`'s, with distinct indices) sign together,
/// as a round's votes do; `None` when they cannot recover it.
pub fn sign_seed(
    namespace: &[u8],
    key: &ConsensusKey,
    shares: &[Share],
    round: Round,
) -> Option<SeedSignature> {
    let namespace = commonware_consensus::simplex::scheme::Namespace::new(namespace).seed;
    let message = round.encode();
    let partials: Vec<_> = shares
        .iter()
        .map(|share| ops::threshold::sign_message::<ConsensusVariant>(share, &namespace, &message))
        .collect();
    ops::threshold::recover::<ConsensusVariant, _>(key.public(), &partials, &Sequential).ok()
}

/// The scheme of a light client: it checks recovered certificates against `identity` alone.
pub fn certificate_verifier(namespace: &[u8], identity: Identity) -> Scheme {
    Scheme::certificate_verifier(namespace, identity)
}

fn decode<T: Read>(field: &str, text: &str, cfg: &T::Cfg) -> Result<T, KeyError> {
    let bytes = hex::decode(text.trim()).map_err(|e| KeyError::Hex {
        field: field.into(),
        message: e.to_string(),
    })?;
    let mut buf = bytes::Bytes::from(bytes);
    let value = T::read_cfg(&mut buf, cfg).map_err(|e| KeyError::Decode {
        field: field.into(),
        message: e.to_string(),
    })?;
    if !buf.is_empty() {
        return Err(KeyError::Decode {
            field: field.into(),
            message: format!("{} bytes after the value", buf.len()),
        });
    }
    Ok(value)
}

/// Reads a consensus key from hex.
pub fn decode_key(field: &str, text: &str) -> Result<ConsensusKey, KeyError> {
    let max = NonZeroU32::new(MAX_VALIDATORS).expect("non-zero");
    decode(field, text, &(max, ModeVersion::v0()))
}

/// Reads a share from hex.
pub fn decode_share(field: &str, text: &str) -> Result<Share, KeyError> {
    decode(field, text, &())
}

/// Reads a chain identity from hex.
pub fn decode_identity(field: &str, text: &str) -> Result<Identity, KeyError> {
    decode(field, text, &())
}

/// Hex of any of the three.
pub fn to_hex(value: &impl Encode) -> String {
    hex::encode(value.encode())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::CONSENSUS_NAMESPACE;
    use commonware_cryptography::Signer;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn keys(n: u64) -> Vec<ed25519::PublicKey> {
        (0..n)
            .map(|i| ed25519::PrivateKey::from_seed(i).public_key())
            .collect()
    }

    #[test]
    fn dealt_keys_round_trip_and_each_share_signs_only_for_its_holder() {
        let validators = keys(4);
        let (key, shares) = deal(ChaCha20Rng::seed_from_u64(1), &validators);
        let set = Set::from_iter_dedup(validators.iter().cloned());
        let key = decode_key("k", &to_hex(&key)).expect("round trip");
        let id = decode_identity("i", &to_hex(&identity(&key))).expect("round trip");
        assert_eq!(id, identity(&key));
        // What loading `share` as `holder`'s gives: `None` when it is accepted.
        let load = |holder: &ed25519::PublicKey, share: &Share| {
            signer(
                CONSENSUS_NAMESPACE,
                &key,
                set.clone(),
                holder,
                share.clone(),
            )
            .err()
        };
        for (holder, share) in &shares {
            let share = decode_share("s", &to_hex(share)).expect("round trip");
            assert_eq!(load(holder, &share), None);
            // Every other validator's share is refused: loaded, it would sign as its holder.
            for (other, other_share) in shares.iter().filter(|(k, _)| k != holder) {
                assert_eq!(
                    load(holder, other_share),
                    Some(KeyError::WrongShare),
                    "{other}'s share loaded by {holder}"
                );
            }
        }
        // A share of another dealing does not match this key, at the right place or not.
        let (_, foreign) = deal(ChaCha20Rng::seed_from_u64(2), &validators);
        for (holder, share) in &foreign {
            assert_eq!(load(holder, share), Some(KeyError::WrongShare));
        }
        // A share of a larger committee, at an index this one does not have: refused, no panic.
        let (_, larger) = deal(ChaCha20Rng::seed_from_u64(3), &keys(7));
        let beyond = larger
            .iter()
            .find(|(_, share)| usize::from(share.index) >= 4)
            .unwrap()
            .1
            .clone();
        assert_eq!(load(&validators[0], &beyond), Some(KeyError::WrongShare));
        // A node that is not a validator cannot sign at all.
        let stranger = ed25519::PrivateKey::from_seed(99).public_key();
        assert!(matches!(
            load(&stranger, &shares[0].1),
            Some(KeyError::NotNamed(_))
        ));
    }

    /// A key whose ceremony revealed shares lets an equivocating leader gather a second quorum:
    /// it is refused. (The dealt key reveals none; the test writes one that does.)
    #[test]
    fn a_key_that_reveals_shares_is_refused() {
        let validators = keys(4);
        let (key, _) = deal(ChaCha20Rng::seed_from_u64(1), &validators);
        let mut bytes = key.encode().to_vec();
        // The revealed set is encoded last: its length (0) and then its keys.
        assert_eq!(bytes.pop(), Some(0));
        bytes.push(1);
        bytes.extend_from_slice(&key.players().iter().next().unwrap().encode());
        let revealing = decode_key("consensus_key", &hex::encode(&bytes)).expect("well formed");
        assert_eq!(revealing.revealed().len(), 1);
        assert_eq!(
            check(&revealing, &Set::from_iter_dedup(validators)),
            Err(KeyError::Revealed(1))
        );
    }

    #[test]
    fn a_key_for_other_validators_is_refused_by_name() {
        let (key, _) = deal(ChaCha20Rng::seed_from_u64(1), &keys(4));
        let fewer = Set::from_iter_dedup(keys(3));
        assert_eq!(
            check(&key, &fewer),
            Err(KeyError::Validators {
                named: 4,
                listed: 3
            })
        );
        let mut others = keys(3);
        others.push(ed25519::PrivateKey::from_seed(99).public_key());
        let others = Set::from_iter_dedup(others);
        assert!(matches!(check(&key, &others), Err(KeyError::NotNamed(_))));
        assert!(verifier(CONSENSUS_NAMESPACE, &key, Set::from_iter_dedup(keys(4))).is_ok());
    }

    #[test]
    fn garbage_and_trailing_bytes_are_refused() {
        let (key, shares) = deal(ChaCha20Rng::seed_from_u64(1), &keys(4));
        assert!(matches!(
            decode_key("consensus_key", "zz"),
            Err(KeyError::Hex { .. })
        ));
        assert!(matches!(
            decode_key("consensus_key", &format!("{}00", to_hex(&key))),
            Err(KeyError::Decode { .. })
        ));
        assert!(matches!(
            decode_share("consensus_share", &to_hex(&shares[0].1)[2..]),
            Err(KeyError::Decode { .. })
        ));
        assert!(matches!(
            decode_identity("chain key", "00"),
            Err(KeyError::Decode { .. })
        ));
    }
}
