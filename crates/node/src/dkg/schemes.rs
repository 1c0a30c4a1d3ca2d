//! Each epoch's consensus scheme: where the orchestrator and the fault reporter find it ([`EpochSchemes`])
//! and what builds and installs it for the reshare actor ([`EquaRegistrar`]).

use crate::{Scheme, engine::CONSENSUS_NAMESPACE, threshold::ConsensusVariant};
use commonware_consensus::types::Epoch;
use commonware_cryptography::{
    bls12381::primitives::sharing::Sharing,
    certificate::{Provider, Scoped},
    ed25519,
};
use commonware_glue::dkg::{Registrar, types::SchemeInfo};
use commonware_utils::{
    N3f1, Widen,
    ordered::{Quorum as _, Set},
    sync::Mutex,
};
use std::{
    collections::{BTreeMap, btree_map::Entry},
    sync::Arc,
};

/// The consensus scheme of each epoch the node still needs, shared by every clone: the
/// orchestrator, the fault reporter and the registrar see the same map.
#[derive(Clone, Debug, Default)]
pub struct EpochSchemes {
    schemes: Arc<Mutex<BTreeMap<Epoch, Arc<Scheme>>>>,
}

impl EpochSchemes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `scheme` for `epoch` unless one is served already: the first registration of an
    /// epoch stays (an engine may already run with it) and `false` says this one was ignored.
    pub fn register(&self, epoch: Epoch, scheme: Scheme) -> bool {
        match self.schemes.lock().entry(epoch) {
            Entry::Vacant(slot) => {
                slot.insert(Arc::new(scheme));
                true
            }
            Entry::Occupied(_) => false,
        }
    }

    /// The scheme of `epoch`, if it is registered and not yet pruned.
    pub fn get(&self, epoch: Epoch) -> Option<Arc<Scheme>> {
        self.schemes.lock().get(&epoch).cloned()
    }

    /// Drops the scheme of every epoch before `oldest_kept`; returns how many were dropped.
    pub fn retain_from(&self, oldest_kept: Epoch) -> usize {
        let mut schemes = self.schemes.lock();
        let kept = schemes.split_off(&oldest_kept);
        let dropped = schemes.len();
        *schemes = kept;
        dropped
    }

    /// The epochs served, oldest first.
    pub fn epochs(&self) -> Vec<Epoch> {
        self.schemes.lock().keys().copied().collect()
    }
}

impl Provider for EpochSchemes {
    type Scope = Epoch;
    type Scheme = Scheme;

    /// A signing scope for every registered epoch, a verifier's included: the orchestrator runs
    /// an engine for each epoch it enters from `scheme(epoch)`, which a verify-only scope would
    /// leave empty. A scheme without a share refuses to sign by itself.
    fn scoped(&self, epoch: Epoch) -> Option<Scoped<Scheme>> {
        self.get(epoch).map(Scoped::scheme)
    }

    fn scheme(&self, epoch: Epoch) -> Option<Arc<Scheme>> {
        self.get(epoch)
    }
}

/// An epoch's public polynomial that does not fit its committee: no scheme of any role can be
/// built from it (commonware's constructors assert the fit).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "the epoch's polynomial has {total} shares with threshold {required}; its committee of \
     {participants} needs {participants} shares with threshold {quorum}"
)]
pub struct CommitteeMismatch {
    pub participants: usize,
    pub total: u32,
    pub required: u32,
    pub quorum: u32,
}

/// Why a scheme was installed with less than the role glue named: the share cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Downgrade {
    /// This node holds a share but is not in the epoch's committee.
    #[error("this node holds a share but is not in the committee")]
    NotParticipant,
    /// The share is another participant's: signing with it would sign as that participant.
    #[error("the share has index {share_index}, this node's place in the committee is {our_index}")]
    ShareNotOurs { share_index: u32, our_index: u32 },
    /// The share does not match the epoch's public polynomial at its index.
    #[error("share {share_index} does not match the epoch's public polynomial")]
    ShareMismatch { share_index: u32 },
}

/// The scheme that `info` describes for the node `public_key`, under the consensus namespace.
///
/// A signer's share is used only when it is this node's (at its place in the committee) and
/// matches the public polynomial; otherwise the node gets the scheme it would have without a
/// share (member, or verifier outside the committee) and the reason comes back with it. Glue
/// builds a `Member` only for a participant, so a `Member` naming an outsider is a verifier.
pub fn scheme_for(
    public_key: &ed25519::PublicKey,
    info: SchemeInfo<ConsensusVariant, ed25519::PublicKey>,
) -> Result<(Scheme, Option<Downgrade>), CommitteeMismatch> {
    match info {
        SchemeInfo::Verifier {
            participants,
            sharing,
        } => {
            check_committee(&participants, &sharing)?;
            Ok((
                Scheme::verifier(CONSENSUS_NAMESPACE, participants, sharing),
                None,
            ))
        }
        SchemeInfo::Member {
            participants,
            sharing,
            public_key: member,
        } => {
            check_committee(&participants, &sharing)?;
            Ok((without_share(&member, participants, sharing), None))
        }
        SchemeInfo::Signer {
            participants,
            sharing,
            share,
        } => {
            check_committee(&participants, &sharing)?;
            let share_index = share.index.get();
            let downgrade = match participants.index(public_key) {
                None => Downgrade::NotParticipant,
                Some(ours) if ours != share.index => Downgrade::ShareNotOurs {
                    share_index,
                    our_index: ours.get(),
                },
                Some(_) => {
                    match Scheme::signer(
                        CONSENSUS_NAMESPACE,
                        participants.clone(),
                        sharing.clone(),
                        share,
                    ) {
                        Some(scheme) => return Ok((scheme, None)),
                        None => Downgrade::ShareMismatch { share_index },
                    }
                }
            };
            Ok((
                without_share(public_key, participants, sharing),
                Some(downgrade),
            ))
        }
    }
}

/// The committee checks commonware's scheme constructors assert, as a value.
fn check_committee(
    participants: &Set<ed25519::PublicKey>,
    sharing: &Sharing<ConsensusVariant>,
) -> Result<(), CommitteeMismatch> {
    let quorum = participants.quorum::<N3f1>();
    let total = sharing.total().get();
    let fits = Widen::<usize>::widen(total) == participants.len() && sharing.required() == quorum;
    if fits {
        Ok(())
    } else {
        Err(CommitteeMismatch {
            participants: participants.len(),
            total,
            required: sharing.required(),
            quorum,
        })
    }
}

/// A member's scheme for `public_key` in the committee, or a verifier's outside it.
fn without_share(
    public_key: &ed25519::PublicKey,
    participants: Set<ed25519::PublicKey>,
    sharing: Sharing<ConsensusVariant>,
) -> Scheme {
    if participants.position(public_key).is_none() {
        return Scheme::verifier(CONSENSUS_NAMESPACE, participants, sharing);
    }
    Scheme::member(CONSENSUS_NAMESPACE, participants, sharing, public_key)
        .expect("a participant is a member")
}

/// Installs each epoch's scheme into [`EpochSchemes`] for the reshare actor (glue's
/// [`Registrar`]), and forgets schemes the node no longer needs.
#[derive(Clone, Debug)]
pub struct EquaRegistrar {
    public_key: ed25519::PublicKey,
    schemes: EpochSchemes,
}

impl EquaRegistrar {
    /// For the node `public_key` (the reshare actor's signer), serving into `schemes`.
    pub fn new(public_key: ed25519::PublicKey, schemes: EpochSchemes) -> Self {
        Self {
            public_key,
            schemes,
        }
    }

    pub fn schemes(&self) -> &EpochSchemes {
        &self.schemes
    }

    /// Builds and serves the scheme of `epoch` (see [`scheme_for`]) unless it is served already,
    /// then drops schemes older than the epoch before `epoch`. Returns whether it was new.
    ///
    /// # Panics
    ///
    /// When `info`'s polynomial does not fit its committee ([`CommitteeMismatch`]). Glue's
    /// registrar has no error path and the orchestrator cannot enter an epoch without a scheme,
    /// so the node stops here, naming why, rather than inside commonware's constructors.
    pub fn install(
        &self,
        epoch: Epoch,
        info: SchemeInfo<ConsensusVariant, ed25519::PublicKey>,
    ) -> bool {
        // The epoch before stays: its last certificates may still be reported after the
        // orchestrator entered this one. A repeated, older registration drops nothing newer.
        let oldest_kept = epoch.previous().unwrap_or(epoch);
        if self.schemes.get(epoch).is_some() {
            self.schemes.retain_from(oldest_kept);
            tracing::debug!(%epoch, "consensus scheme already registered");
            return false;
        }
        let (scheme, downgrade) = scheme_for(&self.public_key, info)
            .unwrap_or_else(|mismatch| panic!("epoch {epoch}: no consensus scheme: {mismatch}"));
        if let Some(downgrade) = &downgrade {
            tracing::error!(
                %epoch,
                %downgrade,
                "consensus share refused; this node will not sign in the epoch"
            );
        }
        let signs = scheme.share().is_some();
        let new = self.schemes.register(epoch, scheme);
        self.schemes.retain_from(oldest_kept);
        tracing::info!(%epoch, signs, "consensus scheme registered");
        new
    }
}

impl Registrar for EquaRegistrar {
    type Variant = ConsensusVariant;
    type PublicKey = ed25519::PublicKey;

    /// Serves the scheme before resolving, as glue requires; a repeated call is harmless.
    async fn register(&self, epoch: Epoch, info: SchemeInfo<Self::Variant, Self::PublicKey>) {
        self.install(epoch, info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threshold::{self, ConsensusKey};
    use commonware_consensus::{
        simplex::types::Subject,
        types::{Round, View},
    };
    use commonware_cryptography::{
        Signer as _,
        bls12381::primitives::group::Share,
        certificate::{Membership, Scheme as _, Verifier as _},
        sha256,
    };
    use commonware_parallel::Sequential;
    use commonware_runtime::{Runner as _, deterministic};
    use commonware_utils::{Participant, iter::NonEmpty};
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn key_of(seed: u64) -> ed25519::PublicKey {
        ed25519::PrivateKey::from_seed(seed).public_key()
    }

    /// A consensus key dealt to `validators` validators, and each one's share in key order.
    fn dealt(validators: u64, rng_seed: u64) -> (ConsensusKey, Vec<(ed25519::PublicKey, Share)>) {
        let validators: Vec<_> = (0..validators).map(key_of).collect();
        threshold::deal(ChaCha20Rng::seed_from_u64(rng_seed), &validators)
    }

    fn info(
        key: &ConsensusKey,
        node: &ed25519::PublicKey,
        share: Option<Share>,
    ) -> SchemeInfo<ConsensusVariant, ed25519::PublicKey> {
        SchemeInfo::new(node, key.players().clone(), key.public().clone(), share)
    }

    /// Runs glue's `register` to completion, as the reshare actor does.
    fn register(
        registrar: &EquaRegistrar,
        epoch: u64,
        info: SchemeInfo<ConsensusVariant, ed25519::PublicKey>,
    ) {
        let registrar = registrar.clone();
        deterministic::Runner::default().start(|_| async move {
            registrar.register(Epoch::new(epoch), info).await;
        });
    }

    fn place(key: &ConsensusKey, node: &ed25519::PublicKey) -> Participant {
        key.players().index(node).expect("a validator of the key")
    }

    #[test]
    fn epoch_schemes_keep_the_first_registration_of_an_epoch() {
        let (key, shares) = dealt(4, 1);
        let (holder, share) = shares[0].clone();
        let players = key.players().clone();
        let signer = Scheme::signer(
            CONSENSUS_NAMESPACE,
            players.clone(),
            key.public().clone(),
            share,
        )
        .expect("the holder's share");
        let verifier = Scheme::verifier(CONSENSUS_NAMESPACE, players, key.public().clone());
        let schemes = EpochSchemes::new();
        assert!(schemes.register(Epoch::new(1), signer));
        assert!(!schemes.register(Epoch::new(1), verifier));
        // A clone serves the same map, still the signer.
        let served = schemes.clone().get(Epoch::new(1)).expect("registered");
        assert_eq!(served.me(), Some(Membership::Signer(place(&key, &holder))));
        assert!(schemes.get(Epoch::new(2)).is_none());
    }

    #[test]
    fn retain_from_drops_only_the_earlier_epochs() {
        let (key, _) = dealt(4, 1);
        let schemes = EpochSchemes::new();
        for epoch in 0..5 {
            let verifier = Scheme::verifier(
                CONSENSUS_NAMESPACE,
                key.players().clone(),
                key.public().clone(),
            );
            assert!(schemes.register(Epoch::new(epoch), verifier));
        }
        assert_eq!(schemes.retain_from(Epoch::new(2)), 2);
        assert_eq!(
            schemes.epochs(),
            vec![Epoch::new(2), Epoch::new(3), Epoch::new(4)]
        );
        assert!(schemes.scoped(Epoch::new(1)).is_none());
        assert!(schemes.scoped(Epoch::new(2)).is_some());
        // Glue's orchestrator takes `scheme`: a verifier's epoch must give one too.
        assert!(Provider::scheme(&schemes, Epoch::new(4)).is_some());
        assert_eq!(schemes.retain_from(Epoch::new(2)), 0);
    }

    #[test]
    fn a_share_holder_is_registered_as_signer_under_the_dealt_identity() {
        let (key, shares) = dealt(4, 1);
        let (holder, share) = shares[2].clone();
        let registrar = EquaRegistrar::new(holder.clone(), EpochSchemes::new());
        register(&registrar, 1, info(&key, &holder, Some(share)));
        let scheme = registrar
            .schemes()
            .scheme(Epoch::new(1))
            .expect("served once register resolves");
        assert_eq!(scheme.me(), Some(Membership::Signer(place(&key, &holder))));
        assert_eq!(*scheme.identity(), threshold::identity(&key));
    }

    #[test]
    fn an_outsider_is_registered_as_verifier_and_a_shareless_validator_as_member() {
        let (key, shares) = dealt(4, 1);
        let outsider = key_of(99);
        let registrar = EquaRegistrar::new(outsider.clone(), EpochSchemes::new());
        register(&registrar, 1, info(&key, &outsider, None));
        let verifier = registrar.schemes().get(Epoch::new(1)).expect("served");
        assert_eq!(verifier.me(), None);
        assert_eq!(*verifier.identity(), threshold::identity(&key));

        let validator = shares[1].0.clone();
        let registrar = EquaRegistrar::new(validator.clone(), EpochSchemes::new());
        register(&registrar, 1, info(&key, &validator, None));
        let member = registrar.schemes().get(Epoch::new(1)).expect("served");
        assert_eq!(
            member.me(),
            Some(Membership::Member(place(&key, &validator)))
        );
        assert!(member.share().is_none());
    }

    #[test]
    fn an_outsiders_scheme_verifies_what_the_signers_sign() {
        let (key, shares) = dealt(4, 1);
        let outsider = key_of(99);
        let registrar = EquaRegistrar::new(outsider.clone(), EpochSchemes::new());
        register(&registrar, 1, info(&key, &outsider, None));
        let verifier = registrar.schemes().get(Epoch::new(1)).expect("served");

        let round = Round::new(Epoch::new(1), View::new(5));
        let subject: Subject<'_, sha256::Digest> = Subject::Nullify { round };
        let quorum = key.players().quorum::<N3f1>();
        let attestations: Vec<_> = shares
            .iter()
            .take(Widen::<usize>::widen(quorum))
            .map(|(holder, share)| {
                let (signer, downgrade) =
                    scheme_for(holder, info(&key, holder, Some(share.clone()))).unwrap();
                assert_eq!(downgrade, None);
                signer.sign(subject).expect("a signer signs")
            })
            .collect();
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        for attestation in &attestations {
            assert!(verifier.verify_attestation(&mut rng, subject, attestation, &Sequential));
        }
        let certificate = verifier
            .assemble(
                NonEmpty::try_new(attestations.into_iter()).expect("a quorum"),
                &Sequential,
            )
            .expect("a quorum assembles");
        assert!(verifier.verify_certificate(&mut rng, subject, &certificate, &Sequential));
        let later: Subject<'_, sha256::Digest> = Subject::Nullify {
            round: Round::new(Epoch::new(1), View::new(6)),
        };
        assert!(!verifier.verify_certificate(&mut rng, later, &certificate, &Sequential));
        assert!(verifier.sign(subject).is_none());
    }

    #[test]
    fn the_registrar_keeps_the_epoch_it_registers_and_the_one_before() {
        let (key, shares) = dealt(4, 1);
        let (holder, share) = shares[0].clone();
        let registrar = EquaRegistrar::new(holder.clone(), EpochSchemes::new());
        for epoch in 0..3 {
            register(&registrar, epoch, info(&key, &holder, Some(share.clone())));
        }
        assert_eq!(
            registrar.schemes().epochs(),
            vec![Epoch::new(1), Epoch::new(2)]
        );

        // Registering an epoch again changes nothing: the first scheme (the signer) stays.
        assert!(!registrar.install(Epoch::new(2), info(&key, &holder, None)));
        let served = registrar.schemes().get(Epoch::new(2)).expect("served");
        assert_eq!(served.me(), Some(Membership::Signer(place(&key, &holder))));

        // An older epoch registered late is served and evicts nothing newer.
        assert!(registrar.install(Epoch::new(0), info(&key, &holder, None)));
        assert_eq!(
            registrar.schemes().epochs(),
            vec![Epoch::new(0), Epoch::new(1), Epoch::new(2)]
        );
        register(&registrar, 3, info(&key, &holder, Some(share)));
        assert_eq!(
            registrar.schemes().epochs(),
            vec![Epoch::new(2), Epoch::new(3)]
        );
    }

    #[test]
    fn a_share_this_node_cannot_sign_with_is_refused_and_the_node_kept_as_member() {
        let (key, shares) = dealt(4, 1);
        let (node, _) = &shares[0];
        let (_, theirs) = &shares[1];
        let (scheme, downgrade) = scheme_for(node, info(&key, node, Some(theirs.clone()))).unwrap();
        assert_eq!(
            downgrade,
            Some(Downgrade::ShareNotOurs {
                share_index: 1,
                our_index: 0
            })
        );
        assert_eq!(scheme.me(), Some(Membership::Member(place(&key, node))));

        // A share at this node's place from another dealing does not match this key.
        let (_, other_dealing) = dealt(4, 2);
        let forged = other_dealing[0].1.clone();
        let (scheme, downgrade) = scheme_for(node, info(&key, node, Some(forged.clone()))).unwrap();
        assert_eq!(downgrade, Some(Downgrade::ShareMismatch { share_index: 0 }));
        assert_eq!(scheme.me(), Some(Membership::Member(place(&key, node))));

        // A share held outside the committee.
        let outsider = key_of(99);
        let (scheme, downgrade) =
            scheme_for(&outsider, info(&key, &outsider, Some(forged.clone()))).unwrap();
        assert_eq!(downgrade, Some(Downgrade::NotParticipant));
        assert_eq!(scheme.me(), None);

        // The registrar installs what the node can be: a member that does not sign.
        let registrar = EquaRegistrar::new(node.clone(), EpochSchemes::new());
        register(&registrar, 1, info(&key, node, Some(forged)));
        let served = registrar.schemes().get(Epoch::new(1)).expect("served");
        assert_eq!(served.me(), Some(Membership::Member(place(&key, node))));
    }

    #[test]
    fn a_polynomial_that_does_not_fit_the_committee_is_named() {
        let (three, _) = dealt(3, 1);
        let (four, _) = dealt(4, 1);
        let info = SchemeInfo::Verifier {
            participants: four.players().clone(),
            sharing: three.public().clone(),
        };
        assert_eq!(
            scheme_for(&key_of(0), info).map(|_| ()),
            Err(CommitteeMismatch {
                participants: 4,
                total: 3,
                required: 3,
                quorum: 3,
            })
        );
    }

    #[test]
    #[should_panic(expected = "epoch 1: no consensus scheme")]
    fn the_registrar_stops_on_a_polynomial_that_fits_no_scheme() {
        let (three, _) = dealt(3, 1);
        let (four, _) = dealt(4, 1);
        let registrar = EquaRegistrar::new(key_of(0), EpochSchemes::new());
        registrar.install(
            Epoch::new(1),
            SchemeInfo::Verifier {
                participants: four.players().clone(),
                sharing: three.public().clone(),
            },
        );
    }
}
