//! Evidence of contradictory votes, carried in blocks so that the ledger slashes the signer.
//!
//! Simplex reports a validator that signed two notarizes or two finalizes of different proposals
//! in one round, or a nullify and a finalize of one round. The reporter verifies the two votes
//! and keeps them here ([`Pending`]); a leader puts the pending evidence of its block's epoch in
//! its block ([`crate::block::Block::evidence`]), each piece naming its offender's node key; and
//! every validator, before it votes for the block, decodes the votes, checks they belong to the
//! block's epoch, that they verify under that epoch's scheme and that their signer is the node
//! key named ([`EvidenceVerifier`]). The ledger then takes each as proven and slashes the bond
//! behind the key once per epoch (`ledger::staking::slash`). A finalized block is applied as the
//! network agreed on it, without its evidence checked again: a node that follows the chain
//! needs no epoch's scheme to execute it.
//!
//! Only the block's own epoch is accepted: every member of its committee holds that epoch's
//! scheme, so no honest validator refuses a block for lack of one. Evidence seen after the
//! epoch's last block is dropped; that is the window an offender may escape in.

use crate::{Scheme, block::Evidence};
use bytes::BufMut;
use commonware_codec::{
    Buf, DecodeExt as _, Encode, EncodeSize, Error as CodecError, Read, ReadExt, Write,
};
use commonware_consensus::{
    Epochable as _,
    simplex::types::{
        Activity, Attributable as _, ConflictingFinalize, ConflictingNotarize, NullifyFinalize,
    },
    types::{Epoch, Participant},
};
use commonware_parallel::Sequential;
use commonware_utils::ordered::Quorum as _;
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};
use types::{AccountId, Digest};

/// The most pieces of evidence one block carries.
pub const MAX_BLOCK_EVIDENCE: usize = 4;

/// The most pieces of evidence a node keeps waiting for a block: one per offender and epoch,
/// so an epoch's offenders beyond it wait for the earlier ones to be included.
const MAX_PENDING: usize = 256;

/// Two votes of one validator that contradict each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    ConflictingNotarize(ConflictingNotarize<Scheme, Digest>),
    ConflictingFinalize(ConflictingFinalize<Scheme, Digest>),
    NullifyFinalize(NullifyFinalize<Scheme, Digest>),
}

impl Fault {
    /// The fault `activity` reports, if it reports one.
    pub fn of(activity: &Activity<Scheme, Digest>) -> Option<Self> {
        match activity {
            Activity::ConflictingNotarize(fault) => Some(Self::ConflictingNotarize(fault.clone())),
            Activity::ConflictingFinalize(fault) => Some(Self::ConflictingFinalize(fault.clone())),
            Activity::NullifyFinalize(fault) => Some(Self::NullifyFinalize(fault.clone())),
            _ => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::ConflictingNotarize(_) => "conflicting notarize",
            Self::ConflictingFinalize(_) => "conflicting finalize",
            Self::NullifyFinalize(_) => "nullify and finalize",
        }
    }

    pub fn epoch(&self) -> Epoch {
        match self {
            Self::ConflictingNotarize(fault) => fault.epoch(),
            Self::ConflictingFinalize(fault) => fault.epoch(),
            Self::NullifyFinalize(fault) => fault.epoch(),
        }
    }

    /// The signer's index in the epoch's committee.
    pub fn signer(&self) -> Participant {
        match self {
            Self::ConflictingNotarize(fault) => fault.signer(),
            Self::ConflictingFinalize(fault) => fault.signer(),
            Self::NullifyFinalize(fault) => fault.signer(),
        }
    }

    /// Whether both votes verify under `scheme`.
    pub fn verify(&self, rng: &mut impl rand_core::CryptoRng, scheme: &Scheme) -> bool {
        match self {
            Self::ConflictingNotarize(fault) => fault.verify(rng, scheme, &Sequential),
            Self::ConflictingFinalize(fault) => fault.verify(rng, scheme, &Sequential),
            Self::NullifyFinalize(fault) => fault.verify(rng, scheme, &Sequential),
        }
    }

    /// The node key of the signer under `scheme`, if it is one of its participants.
    pub fn offender(&self, scheme: &Scheme) -> Option<AccountId> {
        scheme
            .participants()
            .key(self.signer())
            .map(AccountId::from_public_key)
    }
}

impl Write for Fault {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Self::ConflictingNotarize(fault) => {
                0u8.write(buf);
                fault.write(buf);
            }
            Self::ConflictingFinalize(fault) => {
                1u8.write(buf);
                fault.write(buf);
            }
            Self::NullifyFinalize(fault) => {
                2u8.write(buf);
                fault.write(buf);
            }
        }
    }
}

impl EncodeSize for Fault {
    fn encode_size(&self) -> usize {
        1 + match self {
            Self::ConflictingNotarize(fault) => fault.encode_size(),
            Self::ConflictingFinalize(fault) => fault.encode_size(),
            Self::NullifyFinalize(fault) => fault.encode_size(),
        }
    }
}

impl Read for Fault {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        match u8::read(buf)? {
            0 => Ok(Self::ConflictingNotarize(ConflictingNotarize::read(buf)?)),
            1 => Ok(Self::ConflictingFinalize(ConflictingFinalize::read(buf)?)),
            2 => Ok(Self::NullifyFinalize(NullifyFinalize::read(buf)?)),
            tag => Err(CodecError::InvalidEnum(tag)),
        }
    }
}

impl Evidence {
    /// The evidence of `fault` against `offender`.
    pub fn new(offender: AccountId, fault: &Fault) -> Self {
        Self {
            offender,
            epoch: fault.epoch().get(),
            proof: fault.encode(),
        }
    }

    /// The fault its proof encodes, if it encodes exactly one.
    pub fn fault(&self) -> Option<Fault> {
        Fault::decode(self.proof.clone()).ok()
    }

    /// What the ledger takes from it.
    pub fn offense(&self) -> ledger::Offense {
        ledger::Offense {
            node_key: self.offender,
            epoch: self.epoch,
        }
    }
}

/// Evidence this node verified and no block of its chain has carried yet, by epoch and
/// offender, shared by the consensus reporter (which adds) and the application (which
/// proposes it).
#[derive(Clone, Debug, Default)]
pub struct Pending(Arc<Mutex<BTreeMap<(u64, AccountId), Evidence>>>);

impl Pending {
    /// Keeps `evidence` unless evidence against its offender in its epoch is kept already, or
    /// as many pieces as a node keeps are.
    pub fn add(&self, evidence: Evidence) {
        let mut pending = self.0.lock().expect("lock");
        if pending.len() < MAX_PENDING {
            pending
                .entry((evidence.epoch, evidence.offender))
                .or_insert(evidence);
        }
    }

    /// Up to [`MAX_BLOCK_EVIDENCE`] pieces of `epoch` for which `wanted` holds (the parent
    /// state has not slashed them); drops every piece of an earlier epoch, which no block may
    /// carry any more, and every piece of `epoch` that `wanted` refuses.
    pub fn select(&self, epoch: u64, wanted: impl Fn(&Evidence) -> bool) -> Vec<Evidence> {
        let mut pending = self.0.lock().expect("lock");
        pending.retain(|(of, _), evidence| *of > epoch || (*of == epoch && wanted(evidence)));
        pending
            .iter()
            .filter(|((of, _), _)| *of == epoch)
            .take(MAX_BLOCK_EVIDENCE)
            .map(|(_, evidence)| evidence.clone())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.0.lock().expect("lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Checks the evidence a proposed block carries against the schemes of the epochs this node
/// takes part in.
#[derive(Clone)]
pub struct EvidenceVerifier {
    schemes: crate::dkg::EpochSchemes,
    /// Randomness for verifying the votes' signatures as a batch.
    rng: Arc<Mutex<rand_chacha::ChaCha20Rng>>,
}

impl std::fmt::Debug for EvidenceVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvidenceVerifier").finish_non_exhaustive()
    }
}

impl EvidenceVerifier {
    pub fn new(schemes: crate::dkg::EpochSchemes, rng: rand_chacha::ChaCha20Rng) -> Self {
        Self {
            schemes,
            rng: Arc::new(Mutex::new(rng)),
        }
    }

    /// Whether `evidence`, carried by a block of epoch `epoch`, proves what it says: its proof
    /// decodes to one fault of that epoch, whose votes verify under the epoch's scheme and
    /// whose signer is the offender named.
    pub fn check(&self, epoch: Epoch, evidence: &Evidence) -> Result<(), String> {
        check(
            &self.schemes,
            &mut *self.rng.lock().expect("lock"),
            epoch,
            evidence,
        )
    }
}

fn check(
    schemes: &crate::dkg::EpochSchemes,
    rng: &mut impl rand_core::CryptoRng,
    epoch: Epoch,
    evidence: &Evidence,
) -> Result<(), String> {
    if evidence.epoch != epoch.get() {
        return Err(format!(
            "evidence of epoch {} in a block of epoch {epoch}",
            evidence.epoch
        ));
    }
    let fault = evidence
        .fault()
        .ok_or("the evidence's proof is not one pair of contradictory votes")?;
    if fault.epoch() != epoch {
        return Err(format!(
            "the evidence's votes are of epoch {}, not {epoch}",
            fault.epoch()
        ));
    }
    let scheme = schemes
        .get(epoch)
        .ok_or_else(|| format!("no scheme of epoch {epoch} to check evidence with"))?;
    if fault.offender(&scheme) != Some(evidence.offender) {
        return Err(format!(
            "the evidence's votes are not signed by {}",
            evidence.offender
        ));
    }
    if !fault.verify(rng, &scheme) {
        return Err(format!("the evidence's {} does not verify", fault.kind()));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{block::Block, dkg::EpochSchemes, engine::CONSENSUS_NAMESPACE, threshold};
    use commonware_consensus::{
        simplex::types::{Finalize, Notarize, Nullify, Proposal},
        types::{Round, View},
    };
    use commonware_cryptography::{Signer as _, ed25519};
    use commonware_utils::ordered::Set;
    use rand_core::SeedableRng as _;

    /// Four validators' signing schemes under one dealt key, in key order, and their node keys.
    pub(crate) struct Committee {
        pub signers: Vec<Scheme>,
        pub keys: Vec<ed25519::PublicKey>,
        pub verifier: Scheme,
    }

    pub(crate) fn committee(seed: u64) -> Committee {
        let validators: Vec<_> = (0..4)
            .map(|i| ed25519::PrivateKey::from_seed(i).public_key())
            .collect();
        let (key, shares) =
            threshold::deal(rand_chacha::ChaCha20Rng::seed_from_u64(seed), &validators);
        let set = Set::from_iter_dedup(validators.iter().cloned());
        let keys: Vec<_> = set.iter().cloned().collect();
        let signers = keys
            .iter()
            .map(|me| {
                let share = shares
                    .iter()
                    .find(|(key, _)| key == me)
                    .map(|(_, share)| share.clone())
                    .unwrap();
                threshold::signer(CONSENSUS_NAMESPACE, &key, set.clone(), me, share).unwrap()
            })
            .collect();
        let verifier = threshold::verifier(CONSENSUS_NAMESPACE, &key, set).unwrap();
        Committee {
            signers,
            keys,
            verifier,
        }
    }

    fn proposal(epoch: u64, view: u64, payload: u8) -> Proposal<Digest> {
        Proposal::new(
            Round::new(Epoch::new(epoch), View::new(view)),
            View::new(view - 1),
            Digest([payload; 32]),
        )
    }

    /// Validator `who` notarizing two proposals of one round of `epoch`.
    pub(crate) fn double_notarize(committee: &Committee, who: usize, epoch: u64) -> Fault {
        let scheme = &committee.signers[who];
        Fault::ConflictingNotarize(ConflictingNotarize::new(
            Notarize::sign(scheme, proposal(epoch, 3, 1)).unwrap(),
            Notarize::sign(scheme, proposal(epoch, 3, 2)).unwrap(),
        ))
    }

    fn double_finalize(committee: &Committee, who: usize, epoch: u64) -> Fault {
        let scheme = &committee.signers[who];
        Fault::ConflictingFinalize(ConflictingFinalize::new(
            Finalize::sign(scheme, proposal(epoch, 4, 1)).unwrap(),
            Finalize::sign(scheme, proposal(epoch, 4, 2)).unwrap(),
        ))
    }

    fn nullify_and_finalize(committee: &Committee, who: usize, epoch: u64) -> Fault {
        let scheme = &committee.signers[who];
        let round = Round::new(Epoch::new(epoch), View::new(5));
        Fault::NullifyFinalize(NullifyFinalize::new(
            Nullify::sign::<Digest>(scheme, round).unwrap(),
            Finalize::sign(scheme, proposal(epoch, 5, 1)).unwrap(),
        ))
    }

    pub(crate) fn schemes_of(committee: &Committee, epoch: u64) -> EpochSchemes {
        let schemes = EpochSchemes::new();
        schemes.register(Epoch::new(epoch), committee.verifier.clone());
        schemes
    }

    fn rng() -> rand_chacha::ChaCha20Rng {
        rand_chacha::ChaCha20Rng::seed_from_u64(9)
    }

    fn node_key(committee: &Committee, who: usize) -> AccountId {
        AccountId::from_public_key(&committee.keys[who])
    }

    #[test]
    fn each_kind_of_contradiction_proves_its_signer_and_no_one_else() {
        let committee = committee(1);
        let schemes = schemes_of(&committee, 2);
        let epoch = Epoch::new(2);
        for fault in [
            double_notarize(&committee, 1, 2),
            double_finalize(&committee, 2, 2),
            nullify_and_finalize(&committee, 3, 2),
        ] {
            let who = committee
                .keys
                .iter()
                .position(|key| {
                    AccountId::from_public_key(key) == fault.offender(&committee.verifier).unwrap()
                })
                .unwrap();
            let evidence = Evidence::new(node_key(&committee, who), &fault);
            assert_eq!(
                evidence.fault(),
                Some(fault.clone()),
                "the proof decodes to itself"
            );
            assert_eq!(check(&schemes, &mut rng(), epoch, &evidence), Ok(()));
            // Named against any other validator, or against a key outside the committee.
            for other in (0..4).filter(|other| *other != who) {
                let framed = Evidence {
                    offender: node_key(&committee, other),
                    ..evidence.clone()
                };
                let error = check(&schemes, &mut rng(), epoch, &framed).unwrap_err();
                assert!(error.contains("not signed by"), "{error}");
            }
            let stranger = Evidence {
                offender: AccountId::from_public_key(
                    &ed25519::PrivateKey::from_seed(99).public_key(),
                ),
                ..evidence
            };
            assert!(check(&schemes, &mut rng(), epoch, &stranger).is_err());
        }
    }

    #[test]
    fn evidence_of_another_epoch_or_without_a_scheme_is_refused() {
        let committee = committee(1);
        let schemes = schemes_of(&committee, 2);
        let fault = double_notarize(&committee, 0, 2);
        let evidence = Evidence::new(node_key(&committee, 0), &fault);
        // In a block of another epoch.
        let error = check(&schemes, &mut rng(), Epoch::new(3), &evidence).unwrap_err();
        assert!(error.contains("in a block of epoch 3"), "{error}");
        // Claiming the block's epoch while its votes are of another.
        let relabelled = Evidence {
            epoch: 3,
            ..evidence.clone()
        };
        let schemes_3 = schemes_of(&committee, 3);
        let error = check(&schemes_3, &mut rng(), Epoch::new(3), &relabelled).unwrap_err();
        assert!(error.contains("votes are of epoch 2"), "{error}");
        // An epoch this node holds no scheme of.
        let fault = double_notarize(&committee, 0, 5);
        let evidence = Evidence::new(node_key(&committee, 0), &fault);
        let error = check(&schemes, &mut rng(), Epoch::new(5), &evidence).unwrap_err();
        assert!(error.contains("no scheme of epoch 5"), "{error}");
    }

    #[test]
    fn forged_or_malformed_proofs_are_refused() {
        let committee = committee(1);
        let other = committee_with_other_key();
        let schemes = schemes_of(&committee, 2);
        let epoch = Epoch::new(2);
        // Votes signed with shares of another key, at the same places.
        let forged = double_notarize(&other, 1, 2);
        let evidence = Evidence::new(node_key(&committee, 1), &forged);
        let error = check(&schemes, &mut rng(), epoch, &evidence).unwrap_err();
        assert!(error.contains("does not verify"), "{error}");
        // One real vote and one forged: still refused.
        let scheme = &committee.signers[1];
        let mixed = Fault::ConflictingNotarize(ConflictingNotarize::new(
            Notarize::sign(scheme, proposal(2, 3, 1)).unwrap(),
            Notarize::sign(&other.signers[1], proposal(2, 3, 2)).unwrap(),
        ));
        let evidence = Evidence::new(node_key(&committee, 1), &mixed);
        assert!(check(&schemes, &mut rng(), epoch, &evidence).is_err());

        // Two votes of different signers, one vote twice, an unknown tag, trailing bytes, and
        // nothing at all do not decode.
        let one = Notarize::sign(&committee.signers[0], proposal(2, 3, 1)).unwrap();
        let two = Notarize::sign(&committee.signers[1], proposal(2, 3, 2)).unwrap();
        let mut proofs = Vec::new();
        for (first, second) in [(&one, &two), (&one, &one)] {
            let mut bytes = vec![0u8];
            bytes.extend_from_slice(&first.encode());
            bytes.extend_from_slice(&second.encode());
            proofs.push(bytes);
        }
        let valid = double_notarize(&committee, 0, 2).encode().to_vec();
        let mut tagged = valid.clone();
        tagged[0] = 3;
        let mut trailing = valid.clone();
        trailing.push(0);
        proofs.extend([tagged, trailing, Vec::new()]);
        for proof in proofs {
            let evidence = Evidence {
                offender: node_key(&committee, 0),
                epoch: 2,
                proof: proof.into(),
            };
            assert_eq!(evidence.fault(), None);
            let error = check(&schemes, &mut rng(), epoch, &evidence).unwrap_err();
            assert!(error.contains("not one pair"), "{error}");
        }
    }

    /// The same validators with another dealt key.
    fn committee_with_other_key() -> Committee {
        committee(2)
    }

    #[test]
    fn pending_evidence_is_kept_once_per_offender_and_epoch_and_dropped_when_its_epoch_passed() {
        let committee = committee(1);
        let pending = Pending::default();
        for epoch in [2, 3] {
            for who in 0..4 {
                let fault = double_notarize(&committee, who, epoch);
                pending.add(Evidence::new(node_key(&committee, who), &fault));
                // A second fault of the same validator in the same epoch adds nothing.
                let again = double_finalize(&committee, who, epoch);
                pending.add(Evidence::new(node_key(&committee, who), &again));
            }
        }
        assert_eq!(pending.len(), 8);
        // Epoch 2's, those the state has not slashed, at most one block's worth.
        let slashed = node_key(&committee, 2);
        let selected = pending.select(2, |evidence| evidence.offender != slashed);
        assert_eq!(selected.len(), 3);
        assert!(
            selected
                .iter()
                .all(|e| e.epoch == 2 && e.offender != slashed)
        );
        assert_eq!(pending.len(), 7, "the slashed offender's piece is dropped");
        // Once a block of epoch 3 is proposed, epoch 2's pieces are gone.
        assert_eq!(pending.select(3, |_| true).len(), MAX_BLOCK_EVIDENCE);
        assert_eq!(pending.len(), 4);
        assert!(pending.select(4, |_| true).is_empty());
        assert!(pending.is_empty());
    }

    #[test]
    fn blocks_carry_up_to_four_pieces_each_within_its_size_bound() {
        let committee = committee(1);
        let pieces: Vec<Evidence> = (0..4)
            .map(|who| {
                let fault = match who {
                    0 => double_notarize(&committee, who, 2),
                    1 => double_finalize(&committee, who, 2),
                    _ => nullify_and_finalize(&committee, who, 2),
                };
                Evidence::new(node_key(&committee, who), &fault)
            })
            .collect();
        for piece in &pieces {
            assert!(
                piece.proof.len() <= crate::block::MAX_EVIDENCE_BYTES,
                "a proof of {} bytes",
                piece.proof.len()
            );
        }
        let mut block = crate::block::tests::bare(7);
        block.evidence = pieces.clone();
        let bytes = block.encode();
        assert!(bytes.len() <= <Block as commonware_consensus::BoundedBlock>::max_encode_size(&()));
        assert_eq!(Block::decode(bytes).unwrap(), block);
        // A fifth piece, or a proof past the bound, does not decode.
        block.evidence.push(pieces[0].clone());
        assert!(Block::decode(block.encode()).is_err());
        block.evidence = vec![Evidence {
            proof: vec![0; crate::block::MAX_EVIDENCE_BYTES + 1].into(),
            ..pieces[0].clone()
        }];
        assert!(Block::decode(block.encode()).is_err());
    }
}
