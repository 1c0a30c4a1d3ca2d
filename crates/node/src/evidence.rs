//! Attributable evidence of contradictory votes, and how it reaches the ledger.
//!
//! Under the threshold scheme a vote's partial signature proves nothing about who made it: any
//! `t` partials on one message let anyone compute every other member's partial on it. So every
//! node signs each message it sends on the consensus vote channel with its ed25519 node key
//! ([`SignedSender`]): the signature covers the chain's tag ([`chain_tag`]) and the exact bytes
//! sent (the epoch's subchannel and simplex's vote). Receivers check it against the peer the
//! message came from and drop what does not verify ([`SignedReceiver`]). Simplex publishes only
//! the node's own votes on that channel, so a node key's signature over a vote is that node's
//! statement, and two signed votes that contradict each other (two notarizes or two finalizes of
//! different proposals in one round, or a nullify and a finalize of one round: simplex's own
//! faults) prove the key holder misbehaved. Nobody else can produce them.
//!
//! A receiver that sees a peer contradict itself keeps the pair ([`Pending`]). A leader puts up to
//! [`MAX_BLOCK_EVIDENCE`] pieces in its block ([`crate::block::Block::evidence`]); every validator
//! checks each piece ([`Evidence::check`]) before voting for the block, and the ledger burns
//! `slash_bps` of the bond behind the node key once per epoch (`ledger::staking::slash`).
//!
//! What it does not catch: a validator that shows each half of the committee one side of a
//! contradiction leaves no honest node holding both, and a node that sends no signature is
//! merely silent to everyone.

use bytes::BufMut;
use commonware_actor::{Feedback, Unreliable};
use commonware_codec::{
    Buf, DecodeExt as _, Encode, EncodeSize, Error as CodecError, FixedSize, Read, ReadExt, Write,
    varint::UInt,
};
use commonware_consensus::{
    Epochable as _, Viewable as _,
    simplex::types::Vote,
    types::{Epoch, View},
};
use commonware_cryptography::{Signer as _, Verifier as _, ed25519};
use commonware_p2p::{CheckedSender, LimitedSender, Receiver, Recipients};
use commonware_runtime::{IoBuf, IoBufs};
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::SystemTime,
};
use types::{AccountId, Digest};

/// The domain of a node key's signature over a vote-channel message.
pub const SIGNED_VOTE_NAMESPACE: &[u8] = b"EQUA_SIGNED_VOTE_V1";
const CHAIN_TAG_NAMESPACE: &[u8] = b"EQUA_CHAIN_TAG_V1";

/// The most pieces of evidence one block carries.
pub const MAX_BLOCK_EVIDENCE: usize = 4;
/// The longest vote-channel message a piece of evidence carries (a vote of the threshold scheme
/// with its subchannel prefix is a few hundred bytes).
pub const MAX_VOTE_BYTES: usize = 1024;
/// The most pieces of evidence a node keeps waiting for a block, one per offender and epoch.
const MAX_PENDING: usize = 256;
/// How many views either side of the latest one this node voted in, in the same epoch, a
/// peer's vote is compared in. Votes further off go on to simplex unchecked (p2p already
/// authenticates their sender; simplex ignores far views), so a peer cannot push its real
/// rounds out of the receiver's memory, nor make it verify signatures on replays of old ones.
pub const VIEW_WINDOW: u64 = 16;
/// How many views after the latest one this node entered a peer's vote is compared in.
pub const VIEW_AHEAD: u64 = 64;

/// The bytes a signature adds to every vote-channel message.
pub const SIGNATURE_BYTES: usize = ed25519::Signature::SIZE;

type ConsensusVote = Vote<crate::Scheme, Digest>;

/// What makes a node key's statements belong to one chain: a digest of its whole genesis state
/// (chain id, consensus key, genesis time, parameters, allocations and validators). Votes signed
/// for another chain, a relaunch from a new genesis on the same keys included, are not evidence
/// here. (A relaunch from the very same genesis is the same chain to everyone: its old votes
/// would count. Relaunch with a new genesis time.)
pub fn chain_tag(genesis: &ledger::MemoryStore) -> Digest {
    types::hash(CHAIN_TAG_NAMESPACE, &[genesis.digest().as_ref()])
}

fn signed_payload(tag: &Digest, message: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(Digest::SIZE + message.len());
    payload.extend_from_slice(tag.as_ref());
    payload.extend_from_slice(message);
    payload
}

/// A vote-channel message as its sender signed it: the subchannel prefix and the vote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedVote {
    pub message: bytes::Bytes,
    pub signature: ed25519::Signature,
}

impl SignedVote {
    pub fn sign(key: &ed25519::PrivateKey, tag: &Digest, message: &[u8]) -> Self {
        Self {
            message: bytes::Bytes::copy_from_slice(message),
            signature: key.sign(SIGNED_VOTE_NAMESPACE, &signed_payload(tag, message)),
        }
    }

    fn verify(&self, signer: &ed25519::PublicKey, tag: &Digest) -> bool {
        signer.verify(
            SIGNED_VOTE_NAMESPACE,
            &signed_payload(tag, &self.message),
            &self.signature,
        )
    }

    /// The vote, when the message is one: its subchannel must be the vote's epoch.
    fn vote(&self) -> Option<ConsensusVote> {
        decode_vote(&self.message)
    }
}

fn decode_vote(message: &bytes::Bytes) -> Option<ConsensusVote> {
    let mut buf = message.clone();
    let subchannel: u64 = UInt::<u64>::read(&mut buf).ok()?.into();
    let vote = ConsensusVote::decode(buf).ok()?;
    (vote.epoch().get() == subchannel).then_some(vote)
}

impl Write for SignedVote {
    fn write(&self, buf: &mut impl BufMut) {
        self.message.write(buf);
        self.signature.write(buf);
    }
}

impl EncodeSize for SignedVote {
    fn encode_size(&self) -> usize {
        self.message.encode_size() + ed25519::Signature::SIZE
    }
}

impl Read for SignedVote {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(Self {
            message: bytes::Bytes::read_cfg(buf, &(..=MAX_VOTE_BYTES).into())?,
            signature: ed25519::Signature::read(buf)?,
        })
    }
}

/// Two votes one node key signed that contradict each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    pub offender: ed25519::PublicKey,
    pub first: SignedVote,
    pub second: SignedVote,
}

impl Write for Evidence {
    fn write(&self, buf: &mut impl BufMut) {
        self.offender.write(buf);
        self.first.write(buf);
        self.second.write(buf);
    }
}

impl EncodeSize for Evidence {
    fn encode_size(&self) -> usize {
        ed25519::PublicKey::SIZE + self.first.encode_size() + self.second.encode_size()
    }
}

impl Read for Evidence {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(Self {
            offender: ed25519::PublicKey::read(buf)?,
            first: SignedVote::read(buf)?,
            second: SignedVote::read(buf)?,
        })
    }
}

/// Why a piece of evidence proves nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    #[error("the {0} vote is not signed by the offender for this chain")]
    Signature(&'static str),
    #[error("the {0} message is not a vote of its subchannel's epoch")]
    NotAVote(&'static str),
    #[error("the votes are of different rounds")]
    DifferentRounds,
    #[error("the votes do not contradict each other")]
    NoContradiction,
    #[error("the votes are of epoch {0}, after the block's")]
    FutureEpoch(u64),
}

impl Evidence {
    /// The largest encoding of one piece.
    pub fn max_encode_size() -> usize {
        ed25519::PublicKey::SIZE
            + 2 * (UInt(MAX_VOTE_BYTES as u32).encode_size()
                + MAX_VOTE_BYTES
                + ed25519::Signature::SIZE)
    }

    /// The epoch the contradiction happened in, if the evidence proves one for the chain `tag`:
    /// both messages signed by the offender's key, both votes of one round, and a pair simplex
    /// counts as a fault.
    pub fn check(&self, tag: &Digest) -> Result<u64, EvidenceError> {
        for (which, vote) in [("first", &self.first), ("second", &self.second)] {
            if !vote.verify(&self.offender, tag) {
                return Err(EvidenceError::Signature(which));
            }
        }
        let first = self.first.vote().ok_or(EvidenceError::NotAVote("first"))?;
        let second = self
            .second
            .vote()
            .ok_or(EvidenceError::NotAVote("second"))?;
        let round = |vote: &ConsensusVote| match vote {
            Vote::Notarize(vote) => vote.proposal.round,
            Vote::Nullify(vote) => vote.round,
            Vote::Finalize(vote) => vote.proposal.round,
        };
        if round(&first) != round(&second) {
            return Err(EvidenceError::DifferentRounds);
        }
        if !contradict(&first, &second) {
            return Err(EvidenceError::NoContradiction);
        }
        Ok(first.epoch().get())
    }

    /// The epoch of the first vote, without checking anything: for a block that validators
    /// checked before finalizing it.
    pub fn epoch(&self) -> Option<u64> {
        self.first.vote().map(|vote| vote.epoch().get())
    }

    /// The ledger's offense for this evidence of epoch `epoch`.
    pub fn offense(&self, epoch: u64) -> ledger::Offense {
        ledger::Offense {
            node_key: AccountId::from_public_key(&self.offender),
            epoch,
        }
    }
}

/// Whether two votes of one round are one of simplex's faults.
fn contradict(first: &ConsensusVote, second: &ConsensusVote) -> bool {
    match (first, second) {
        (Vote::Notarize(a), Vote::Notarize(b)) => a.proposal != b.proposal,
        (Vote::Finalize(a), Vote::Finalize(b)) => a.proposal != b.proposal,
        (Vote::Nullify(_), Vote::Finalize(_)) | (Vote::Finalize(_), Vote::Nullify(_)) => true,
        _ => false,
    }
}

/// Evidence waiting for a block: one piece per offender and epoch, at most
/// [`MAX_PIECES_PER_OFFENDER`] per offender (its earliest epochs, which blocks can carry
/// soonest) and [`MAX_PENDING`] in all (a piece of the latest epoch gives way to an earlier one).
/// The receiver compares votes of three epochs at most, so an offender has no more to give.
#[derive(Clone, Debug, Default)]
pub struct Pending(Arc<Mutex<BTreeMap<(AccountId, u64), Evidence>>>);

/// The most pieces against one offender a node keeps: one per epoch the receiver compares.
pub const MAX_PIECES_PER_OFFENDER: usize = 3;

impl Pending {
    /// Keeps `evidence` of `epoch`; whether it is kept (it was already, or it took a place).
    pub fn add(&self, epoch: u64, evidence: Evidence) -> bool {
        let mut pending = self.0.lock().expect("lock");
        let offender = AccountId::from_public_key(&evidence.offender);
        if pending.contains_key(&(offender, epoch)) {
            return true;
        }
        let theirs = pending.range((offender, 0)..=(offender, u64::MAX)).count();
        // When full, the latest piece (of this offender, or of all) gives way to an earlier one.
        let full = if theirs >= MAX_PIECES_PER_OFFENDER {
            Some(
                pending
                    .range((offender, 0)..=(offender, u64::MAX))
                    .map(|(key, _)| *key)
                    .max_by_key(|(_, of)| *of),
            )
        } else if pending.len() >= MAX_PENDING {
            Some(pending.keys().copied().max_by_key(|(_, of)| *of))
        } else {
            None
        };
        if let Some(latest) = full {
            match latest {
                Some(latest) if latest.1 > epoch => {
                    pending.remove(&latest);
                }
                _ => return false,
            }
        }
        pending.insert((offender, epoch), evidence);
        true
    }

    /// Up to [`MAX_BLOCK_EVIDENCE`] pieces of epochs up to `epoch` (a block's), earliest first,
    /// for which `wanted` holds (the parent state has not slashed them). Drops the pieces of
    /// earlier epochs `wanted` refuses, and every piece of an epoch after the next one; a
    /// refused piece of the block's own epoch stays, for a block on another branch.
    pub fn select(&self, epoch: u64, wanted: impl Fn(u64, &AccountId) -> bool) -> Vec<Evidence> {
        let mut pending = self.0.lock().expect("lock");
        pending.retain(|(offender, of), _| {
            *of <= epoch.saturating_add(1) && (*of >= epoch || wanted(*of, offender))
        });
        let mut ready: Vec<_> = pending
            .iter()
            .filter(|((offender, of), _)| *of <= epoch && wanted(*of, offender))
            .collect();
        ready.sort_by_key(|((offender, of), _)| (*of, *offender));
        ready
            .into_iter()
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

/// The latest view this node entered, per epoch (the two latest epochs): it voted there
/// ([`SignedSender`] records each vote it signs), or its application proposed, verified or
/// finalized a block of that round. The receiver compares only peers' votes near these rounds.
#[derive(Clone, Debug, Default)]
pub struct OwnRounds(Arc<Mutex<BTreeMap<u64, u64>>>);

impl OwnRounds {
    /// Records that this node is at least at `view` of `epoch`.
    pub fn entered(&self, epoch: u64, view: u64) {
        let mut rounds = self.0.lock().expect("lock");
        let latest = rounds.entry(epoch).or_default();
        *latest = (*latest).max(view);
        while rounds.len() > 2 {
            rounds.pop_first();
        }
    }

    /// Whether a vote of `epoch` and `view` is near the latest view this node entered in that
    /// epoch ([`VIEW_WINDOW`] before it to [`VIEW_AHEAD`] after it: a node catching up sees
    /// peers' votes of views it has not reached), or among the first views of the epoch after
    /// the latest it entered (epoch 0 before it entered any): peers' first votes of an epoch
    /// may arrive before this node enters it.
    fn near(&self, epoch: u64, view: u64) -> bool {
        let rounds = self.0.lock().expect("lock");
        match rounds.get(&epoch) {
            Some(latest) => {
                view.saturating_add(VIEW_WINDOW) >= *latest
                    && view <= latest.saturating_add(VIEW_AHEAD)
            }
            None => {
                let next = rounds
                    .last_key_value()
                    .map_or(0, |(latest, _)| latest.saturating_add(1));
                epoch == next && view <= VIEW_AHEAD
            }
        }
    }
}

/// Signs every message with the node key before it leaves (see the module docs); a plain one
/// (for the channels beside the vote channel, which glue takes as one type) passes messages on.
#[derive(Clone, Debug)]
pub struct SignedSender<S> {
    inner: S,
    signing: Option<(Arc<ed25519::PrivateKey>, Digest, OwnRounds)>,
    #[cfg(feature = "fault-injection")]
    equivocate: bool,
}

impl<S> SignedSender<S> {
    /// Signs with `key` for chain `tag`, and records in `rounds` the rounds it votes in.
    pub fn new(inner: S, key: ed25519::PrivateKey, tag: Digest, rounds: OwnRounds) -> Self {
        Self {
            inner,
            signing: Some((Arc::new(key), tag, rounds)),
            #[cfg(feature = "fault-injection")]
            equivocate: false,
        }
    }

    pub fn plain(inner: S) -> Self {
        Self {
            inner,
            signing: None,
            #[cfg(feature = "fault-injection")]
            equivocate: false,
        }
    }

    /// A byzantine sender for tests: after each notarize it sends, it sends the same vote for
    /// another payload to the same peers, signed like the first.
    #[cfg(feature = "fault-injection")]
    pub fn equivocating(mut self) -> Self {
        self.equivocate = true;
        self
    }
}

impl<S: LimitedSender> LimitedSender for SignedSender<S> {
    type PublicKey = S::PublicKey;
    type Checked<'a>
        = SignedChecked<'a, S>
    where
        Self: 'a;

    fn check(
        &mut self,
        recipients: Recipients<Self::PublicKey>,
    ) -> Result<Self::Checked<'_>, SystemTime> {
        #[cfg(feature = "fault-injection")]
        let twin = self.equivocate.then(|| self.inner.clone());
        let inner = self.inner.check(recipients)?;
        Ok(SignedChecked {
            #[cfg(feature = "fault-injection")]
            twin: twin.map(|sender| (sender, inner.recipients())),
            inner,
            signing: self
                .signing
                .as_ref()
                .map(|(key, tag, rounds)| (&**key, tag, rounds)),
        })
    }
}

#[allow(missing_debug_implementations)]
pub struct SignedChecked<'a, S: LimitedSender + 'a> {
    inner: S::Checked<'a>,
    signing: Option<(&'a ed25519::PrivateKey, &'a Digest, &'a OwnRounds)>,
    /// An equivocating sender's second channel, and whom to send the contradiction to.
    #[cfg(feature = "fault-injection")]
    twin: Option<(S, Vec<S::PublicKey>)>,
}

impl<'a, S: LimitedSender + 'a> CheckedSender for SignedChecked<'a, S> {
    type PublicKey = S::PublicKey;

    fn recipients(&self) -> Vec<Self::PublicKey> {
        self.inner.recipients()
    }

    fn send(self, message: impl Into<IoBufs> + Send, priority: bool) -> Unreliable<Feedback> {
        let Some((key, tag, rounds)) = self.signing else {
            return self.inner.send(message, priority);
        };
        let message = message.into().coalesce();
        if let Some(vote) = decode_vote(&bytes::Bytes::copy_from_slice(message.as_ref())) {
            rounds.entered(vote.epoch().get(), vote.view().get());
        }
        let signature = key.sign(
            SIGNED_VOTE_NAMESPACE,
            &signed_payload(tag, message.as_ref()),
        );
        #[cfg(feature = "fault-injection")]
        let contradiction = self
            .twin
            .and_then(|twin| Some((twin, contradiction(message.as_ref())?)));
        let mut signed = IoBufs::from(message);
        signed.append(IoBuf::from(signature.encode().to_vec()));
        let feedback = self.inner.send(signed, priority);
        #[cfg(feature = "fault-injection")]
        if let Some(((mut sender, to), other)) = contradiction
            && let Ok(checked) = sender.check(Recipients::Some(to))
        {
            let signature = key.sign(SIGNED_VOTE_NAMESPACE, &signed_payload(tag, &other));
            let mut signed = IoBufs::from(other);
            signed.append(IoBuf::from(signature.encode().to_vec()));
            let _ = checked.send(signed, priority);
        }
        feedback
    }
}

/// The message of a notarize of the same round for another payload, when `message` is a
/// notarize.
#[cfg(feature = "fault-injection")]
fn contradiction(message: &[u8]) -> Option<Vec<u8>> {
    let Vote::Notarize(mut notarize) = decode_vote(&bytes::Bytes::copy_from_slice(message))? else {
        return None;
    };
    notarize.proposal.payload.0[0] ^= 0xFF;
    let vote = Vote::Notarize(notarize);
    let mut other = UInt(vote.epoch().get()).encode().to_vec();
    other.extend_from_slice(&vote.encode());
    Some(other)
}

/// Checks every message's signature against the peer that sent it, drops what does not verify,
/// strips the signature from the rest, and keeps evidence of peers that contradict themselves;
/// a plain one passes messages on.
pub struct SignedReceiver<R> {
    inner: R,
    checking: Option<Checking>,
}

struct Checking {
    tag: Digest,
    rounds: OwnRounds,
    detector: Detector,
    pending: Pending,
    /// Blocks a peer that sent a message it did not sign: no honest node does.
    block: Box<dyn FnMut(&ed25519::PublicKey) + Send>,
}

impl<R: std::fmt::Debug> std::fmt::Debug for SignedReceiver<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedReceiver")
            .field("inner", &self.inner)
            .field("checking", &self.checking.is_some())
            .finish()
    }
}

impl<R> SignedReceiver<R> {
    /// Checks `inner`'s messages against chain `tag` near the `rounds` this node votes in,
    /// keeps evidence in `pending`, and blocks with `blocker` every peer that sends a message
    /// it did not sign.
    pub fn new<B>(inner: R, tag: Digest, rounds: OwnRounds, pending: Pending, blocker: B) -> Self
    where
        B: commonware_p2p::Blocker<PublicKey = ed25519::PublicKey>,
    {
        let mut blocker = blocker;
        Self {
            inner,
            checking: Some(Checking {
                tag,
                rounds,
                detector: Detector::default(),
                pending,
                block: Box::new(move |peer| {
                    let _ = blocker.block(peer.clone());
                }),
            }),
        }
    }

    pub fn plain(inner: R) -> Self {
        Self {
            inner,
            checking: None,
        }
    }
}

impl<R: Receiver<PublicKey = ed25519::PublicKey>> Receiver for SignedReceiver<R> {
    type Error = R::Error;
    type PublicKey = ed25519::PublicKey;

    async fn recv(&mut self) -> Result<commonware_p2p::Message<Self::PublicKey>, Self::Error> {
        loop {
            let (peer, message) = self.inner.recv().await?;
            let Some(checking) = &mut self.checking else {
                return Ok((peer, message));
            };
            if let Some(body) = checking.accept(&peer, &message) {
                return Ok((peer, body));
            }
        }
    }

    fn capacity(&self) -> std::num::NonZeroUsize {
        self.inner.capacity()
    }
}

impl Checking {
    /// The message without its signature. A vote near the rounds this node votes in is
    /// compared with what the peer sent before in its round: its signature is verified when it
    /// differs from that, a peer that did not sign it is blocked and the message dropped, and a
    /// contradiction is kept as evidence. Everything else is passed on unchecked.
    fn accept(&mut self, peer: &ed25519::PublicKey, message: &IoBuf) -> Option<IoBuf> {
        let Some(body_len) = message.len().checked_sub(SIGNATURE_BYTES) else {
            tracing::warn!(%peer, "vote-channel message too short to be signed: peer blocked");
            (self.block)(peer);
            return None;
        };
        let body = message.slice(..body_len);
        let bytes = bytes::Bytes::copy_from_slice(body.as_ref());
        let Some(vote) = decode_vote(&bytes) else {
            return Some(body);
        };
        if !self.rounds.near(vote.epoch().get(), vote.view().get()) {
            return Some(body);
        }
        let signed = match self.detector.fresh(peer, &vote, &bytes) {
            Fresh::Known | Fresh::Convicted => return Some(body),
            Fresh::New => {
                let Ok(signature) = ed25519::Signature::decode(bytes::Bytes::copy_from_slice(
                    &message.as_ref()[body_len..],
                )) else {
                    tracing::warn!(%peer, "vote with a malformed signature: peer blocked");
                    (self.block)(peer);
                    return None;
                };
                SignedVote {
                    message: bytes,
                    signature,
                }
            }
        };
        if !signed.verify(peer, &self.tag) {
            tracing::warn!(%peer, "vote not signed by its sender: peer blocked");
            (self.block)(peer);
            return None;
        }
        let rounds = &self.rounds;
        if let Some((epoch, evidence)) = self
            .detector
            .observe(peer, vote, signed, |epoch, view| rounds.near(epoch, view))
        {
            tracing::warn!(%peer, epoch, "byzantine peer: signed contradictory votes");
            if !self.pending.add(epoch, evidence) {
                // Not kept: keep watching the peer in that epoch.
                self.detector
                    .convicted
                    .remove(&(peer.clone(), Epoch::new(epoch)));
            }
        }
        Some(body)
    }
}

/// What the receiver has of a peer's vote before checking it.
enum Fresh {
    /// The peer sent these very bytes in this round before (a rebroadcast): checked already.
    Known,
    /// The peer's contradiction is kept already: nothing more is needed of it.
    Convicted,
    New,
}

/// The signed votes each peer sent in the rounds near this node's, one of each kind per round,
/// to find two that contradict.
#[derive(Default)]
struct Detector {
    seen: BTreeMap<ed25519::PublicKey, BTreeMap<(Epoch, View), Slots>>,
    convicted: std::collections::BTreeSet<(ed25519::PublicKey, Epoch)>,
}

/// A peer's first notarize, nullify and finalize of one round.
#[derive(Default)]
struct Slots {
    notarize: Option<(ConsensusVote, SignedVote)>,
    nullify: Option<(ConsensusVote, SignedVote)>,
    finalize: Option<(ConsensusVote, SignedVote)>,
}

impl Slots {
    fn slot(&mut self, vote: &ConsensusVote) -> &mut Option<(ConsensusVote, SignedVote)> {
        match vote {
            Vote::Notarize(_) => &mut self.notarize,
            Vote::Nullify(_) => &mut self.nullify,
            Vote::Finalize(_) => &mut self.finalize,
        }
    }
}

impl Detector {
    fn fresh(&mut self, peer: &ed25519::PublicKey, vote: &ConsensusVote, bytes: &[u8]) -> Fresh {
        if self.convicted.contains(&(peer.clone(), vote.epoch())) {
            return Fresh::Convicted;
        }
        // A vote of a kind the peer already sent in the round is worth a signature check only
        // if it can contradict the one kept: a notarize or finalize of another proposal.
        // (Honest rebroadcasts are the same bytes; anything else of the same kind and proposal,
        // or another nullify, proves nothing.)
        let known = self
            .seen
            .get_mut(peer)
            .and_then(|rounds| rounds.get_mut(&(vote.epoch(), vote.view())))
            .and_then(|slots| slots.slot(vote).as_ref())
            .is_some_and(|(kept, signed)| {
                signed.message.as_ref() == bytes || !contradict(kept, vote)
            });
        if known { Fresh::Known } else { Fresh::New }
    }

    /// Records `signed` (whose vote is `vote`) from `peer`, forgetting the peer's rounds that
    /// are no longer `near`; returns the evidence, and its epoch, when it contradicts a vote the
    /// peer sent before in the same round.
    fn observe(
        &mut self,
        peer: &ed25519::PublicKey,
        vote: ConsensusVote,
        signed: SignedVote,
        near: impl Fn(u64, u64) -> bool,
    ) -> Option<(u64, Evidence)> {
        let rounds = self.seen.entry(peer.clone()).or_default();
        rounds.retain(|(epoch, view), _| near(epoch.get(), view.get()));
        let slots = rounds.entry((vote.epoch(), vote.view())).or_default();
        let earlier = [&slots.notarize, &slots.nullify, &slots.finalize]
            .into_iter()
            .flatten()
            .find(|(kept, _)| contradict(kept, &vote))
            .map(|(_, kept)| kept.clone());
        let slot = slots.slot(&vote);
        if slot.is_none() {
            *slot = Some((vote.clone(), signed.clone()));
        }
        let earlier = earlier?;
        let epoch = vote.epoch();
        // Convicted for this epoch only (the ledger slashes once per key and epoch); near
        // covers at most three epochs, so older convictions are let go.
        self.convicted
            .retain(|(who, of)| who != peer || of.get().saturating_add(3) >= epoch.get());
        self.convicted.insert((peer.clone(), epoch));
        rounds.retain(|(of, _), _| *of != epoch);
        if rounds.is_empty() {
            self.seen.remove(peer);
        }
        Some((
            vote.epoch().get(),
            Evidence {
                offender: peer.clone(),
                first: earlier,
                second: signed,
            },
        ))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{engine::CONSENSUS_NAMESPACE, threshold};
    use commonware_consensus::{
        simplex::types::{Finalize, Notarize, Nullify, Proposal},
        types::Round,
    };
    use commonware_utils::ordered::Set;
    use rand_core::SeedableRng as _;

    /// Four validators under one dealt key: their node keys and signing schemes, in key order.
    pub(crate) struct Committee {
        pub(crate) keys: Vec<ed25519::PrivateKey>,
        pub(crate) schemes: Vec<crate::Scheme>,
    }

    impl Committee {
        pub(crate) fn new() -> Self {
            let mut keys: Vec<_> = (0..4).map(ed25519::PrivateKey::from_seed).collect();
            keys.sort_by_key(|key| key.public_key());
            let public: Vec<_> = keys.iter().map(|key| key.public_key()).collect();
            let (group, shares) =
                threshold::deal(rand_chacha::ChaCha20Rng::seed_from_u64(1), &public);
            let set = Set::from_iter_dedup(public.iter().cloned());
            let schemes = public
                .iter()
                .map(|me| {
                    let share = shares
                        .iter()
                        .find(|(key, _)| key == me)
                        .map(|(_, share)| share.clone())
                        .unwrap();
                    threshold::signer(CONSENSUS_NAMESPACE, &group, set.clone(), me, share).unwrap()
                })
                .collect();
            Self { keys, schemes }
        }

        fn proposal(epoch: u64, view: u64, payload: u8) -> Proposal<Digest> {
            Proposal::new(
                Round::new(Epoch::new(epoch), View::new(view)),
                View::new(view - 1),
                Digest([payload; 32]),
            )
        }

        /// A vote as the muxer sends it: its epoch's subchannel, then the vote.
        fn muxed(vote: ConsensusVote) -> Vec<u8> {
            let mut message = UInt(vote.epoch().get()).encode().to_vec();
            message.extend_from_slice(&vote.encode());
            message
        }

        pub(crate) fn notarize(&self, who: usize, epoch: u64, view: u64, payload: u8) -> Vec<u8> {
            let proposal = Self::proposal(epoch, view, payload);
            Self::muxed(Vote::Notarize(
                Notarize::sign(&self.schemes[who], proposal).unwrap(),
            ))
        }

        pub(crate) fn finalize(&self, who: usize, epoch: u64, view: u64, payload: u8) -> Vec<u8> {
            let proposal = Self::proposal(epoch, view, payload);
            Self::muxed(Vote::Finalize(
                Finalize::sign(&self.schemes[who], proposal).unwrap(),
            ))
        }

        pub(crate) fn nullify(&self, who: usize, epoch: u64, view: u64) -> Vec<u8> {
            let round = Round::new(Epoch::new(epoch), View::new(view));
            Self::muxed(Vote::Nullify(
                Nullify::sign::<Digest>(&self.schemes[who], round).unwrap(),
            ))
        }

        /// Evidence that member `who` signed both messages, for the chain `tag`.
        pub(crate) fn evidence(&self, who: usize, tag: &Digest, a: &[u8], b: &[u8]) -> Evidence {
            Evidence {
                offender: self.keys[who].public_key(),
                first: SignedVote::sign(&self.keys[who], tag, a),
                second: SignedVote::sign(&self.keys[who], tag, b),
            }
        }
    }

    const TAG: Digest = Digest([7; 32]);

    #[test]
    fn each_contradiction_proves_the_key_that_signed_it() {
        let committee = Committee::new();
        let cases = [
            (
                committee.notarize(1, 2, 3, 1),
                committee.notarize(1, 2, 3, 2),
            ),
            (
                committee.finalize(2, 2, 4, 1),
                committee.finalize(2, 2, 4, 2),
            ),
            (committee.nullify(3, 2, 5), committee.finalize(3, 2, 5, 1)),
            (committee.finalize(3, 2, 5, 1), committee.nullify(3, 2, 5)),
        ];
        for (who, (a, b)) in [1, 2, 3, 3].into_iter().zip(cases) {
            let evidence = committee.evidence(who, &TAG, &a, &b);
            assert_eq!(evidence.check(&TAG), Ok(2));
            assert_eq!(
                Evidence::decode(evidence.encode()).unwrap(),
                evidence,
                "the encoding reads back"
            );
            assert!(evidence.encode().len() <= Evidence::max_encode_size());
            // Named against another key, or for another chain.
            let framed = Evidence {
                offender: committee.keys[(who + 1) % 4].public_key(),
                ..evidence.clone()
            };
            assert_eq!(framed.check(&TAG), Err(EvidenceError::Signature("first")));
            assert_eq!(
                evidence.check(&Digest([8; 32])),
                Err(EvidenceError::Signature("first"))
            );
            // One side re-signed by another key.
            let mixed = Evidence {
                second: SignedVote::sign(&committee.keys[(who + 1) % 4], &TAG, &b),
                ..evidence.clone()
            };
            assert_eq!(mixed.check(&TAG), Err(EvidenceError::Signature("second")));
        }
    }

    #[test]
    fn what_an_honest_node_signs_is_no_evidence() {
        let committee = Committee::new();
        let key = &committee.keys[0];
        let refused = |a: &[u8], b: &[u8]| committee.evidence(0, &TAG, a, b).check(&TAG);
        // The same vote twice (a rebroadcast), a notarize then a nullify (a timeout), votes of
        // different views or epochs, a notarize and a finalize of one proposal.
        let notarize = committee.notarize(0, 1, 3, 1);
        assert_eq!(
            refused(&notarize, &notarize),
            Err(EvidenceError::NoContradiction)
        );
        assert_eq!(
            refused(&notarize, &committee.nullify(0, 1, 3)),
            Err(EvidenceError::NoContradiction)
        );
        assert_eq!(
            refused(&notarize, &committee.finalize(0, 1, 3, 1)),
            Err(EvidenceError::NoContradiction)
        );
        assert_eq!(
            refused(&notarize, &committee.notarize(0, 1, 4, 2)),
            Err(EvidenceError::DifferentRounds)
        );
        assert_eq!(
            refused(&notarize, &committee.notarize(0, 2, 3, 2)),
            Err(EvidenceError::DifferentRounds)
        );
        // Signed bytes that are no vote, or a vote under another epoch's subchannel.
        assert_eq!(
            refused(b"\x01not a vote", &notarize),
            Err(EvidenceError::NotAVote("first"))
        );
        let mut moved = notarize.clone();
        moved[0] = 5;
        assert_eq!(
            refused(&notarize, &moved),
            Err(EvidenceError::NotAVote("second"))
        );
        // A message longer than any vote does not decode as evidence.
        let long = Evidence {
            offender: key.public_key(),
            first: SignedVote::sign(key, &TAG, &vec![0; MAX_VOTE_BYTES + 1]),
            second: SignedVote::sign(key, &TAG, &notarize),
        };
        assert!(Evidence::decode(long.encode()).is_err());
    }

    /// A receiver for chain [`TAG`] whose node voted in epoch 0 up to `view`, and the peers it
    /// blocked.
    fn checking(view: u64) -> (Checking, Arc<Mutex<Vec<ed25519::PublicKey>>>) {
        let blocked = Arc::new(Mutex::new(Vec::new()));
        let record = blocked.clone();
        let rounds = OwnRounds::default();
        rounds.entered(0, view);
        let checking = Checking {
            tag: TAG,
            rounds,
            detector: Detector::default(),
            pending: Pending::default(),
            block: Box::new(move |peer| record.lock().unwrap().push(peer.clone())),
        };
        (checking, blocked)
    }

    /// `message` as `key` sends it: signed for chain [`TAG`].
    fn wire(key: &ed25519::PrivateKey, message: &[u8]) -> IoBuf {
        let mut bytes = message.to_vec();
        bytes.extend_from_slice(&SignedVote::sign(key, &TAG, message).signature.encode());
        IoBuf::from(bytes)
    }

    #[test]
    fn a_receiver_keeps_a_peer_contradicting_itself_once() {
        let committee = Committee::new();
        let key = &committee.keys[2];
        let peer = key.public_key();
        let (mut checking, blocked) = checking(5);
        let mut send = |message: Vec<u8>| {
            let body = checking.accept(&peer, &wire(key, &message));
            assert_eq!(body.as_ref().map(|b| b.as_ref()), Some(&message[..]));
            checking.pending.len()
        };
        assert_eq!(send(committee.notarize(2, 0, 3, 1)), 0);
        // A rebroadcast and a timeout's nullify are no evidence.
        assert_eq!(send(committee.notarize(2, 0, 3, 1)), 0);
        assert_eq!(send(committee.nullify(2, 0, 3)), 0);
        assert_eq!(
            send(committee.notarize(2, 0, 3, 2)),
            1,
            "two proposals in a round"
        );
        let pending = checking.pending.select(0, |_, _| true);
        assert_eq!(pending[0].check(&TAG), Ok(0));
        assert!(blocked.lock().unwrap().is_empty());

        // Nullify and finalize of one round, in either order, from two other peers.
        for (who, first, second) in [
            (
                1,
                committee.finalize(1, 0, 4, 1),
                committee.nullify(1, 0, 4),
            ),
            (
                3,
                committee.nullify(3, 0, 6),
                committee.finalize(3, 0, 6, 1),
            ),
        ] {
            let key = &committee.keys[who];
            checking.accept(&key.public_key(), &wire(key, &first));
            checking.accept(&key.public_key(), &wire(key, &second));
        }
        assert_eq!(checking.pending.select(0, |_, _| true).len(), 3);
    }

    /// Filler cannot hide a contradiction: votes far from the rounds this node votes in are
    /// passed on unrecorded (another epoch, a view beyond the window), and a round keeps one
    /// vote of each kind, so distinct nullifies do not push out a notarize.
    #[test]
    fn filler_of_other_epochs_views_or_kinds_does_not_hide_a_contradiction() {
        let committee = Committee::new();
        let key = &committee.keys[1];
        let peer = key.public_key();
        let (mut checking, blocked) = checking(3);
        checking.accept(&peer, &wire(key, &committee.notarize(1, 0, 3, 1)));
        for view in 1..=4 * VIEW_WINDOW {
            checking.accept(&peer, &wire(key, &committee.nullify(1, 1 << 40, view)));
            checking.accept(&peer, &wire(key, &committee.nullify(1, 0, 1_000 + view)));
        }
        for who in [0, 2, 3] {
            checking.accept(&peer, &wire(key, &committee.nullify(who, 0, 3)));
        }
        checking.accept(&peer, &wire(key, &committee.notarize(1, 0, 3, 2)));
        assert!(blocked.lock().unwrap().is_empty());
        assert_eq!(checking.pending.len(), 1, "the contradiction was kept");
        assert!(
            checking.detector.seen.is_empty(),
            "a convicted peer's votes are let go"
        );

        // Rounds of a peer this node's view has moved past are forgotten as it moves.
        let other = &committee.keys[2];
        checking.accept(
            &other.public_key(),
            &wire(other, &committee.notarize(2, 0, 3, 1)),
        );
        checking.rounds.entered(0, 3 + 2 * VIEW_WINDOW);
        checking.accept(
            &other.public_key(),
            &wire(other, &committee.notarize(2, 0, 3 + 2 * VIEW_WINDOW, 1)),
        );
        assert_eq!(checking.detector.seen[&other.public_key()].len(), 1);
    }

    /// A peer's votes in the first views of an epoch are compared before this node has voted
    /// in it (its first votes of an epoch may come before this node's own), and only there.
    #[test]
    fn the_first_views_of_the_next_epoch_are_compared_before_this_node_votes() {
        let committee = Committee::new();
        let key = &committee.keys[1];
        let rounds = OwnRounds::default();
        assert!(rounds.near(0, 1) && rounds.near(0, VIEW_AHEAD));
        assert!(!rounds.near(0, VIEW_AHEAD + 1) && !rounds.near(1, 1));
        rounds.entered(0, 40);
        assert!(rounds.near(0, 40 - VIEW_WINDOW) && rounds.near(0, 40 + VIEW_AHEAD));
        assert!(!rounds.near(0, 39 - VIEW_WINDOW) && !rounds.near(0, 41 + VIEW_AHEAD));
        assert!(rounds.near(1, 1) && !rounds.near(1, VIEW_AHEAD + 1) && !rounds.near(2, 1));
        let (mut checking, _) = checking(40);
        checking.rounds = rounds;
        checking.accept(
            &key.public_key(),
            &wire(key, &committee.notarize(1, 1, 1, 1)),
        );
        checking.accept(
            &key.public_key(),
            &wire(key, &committee.notarize(1, 1, 1, 2)),
        );
        assert_eq!(checking.pending.select(1, |_, _| true).len(), 1);
    }

    /// Only votes near this node's rounds cost a signature check, once per distinct message:
    /// a replay of a checked vote and anything far off are passed on without one.
    #[test]
    fn replays_and_far_votes_cost_no_signature_check() {
        let committee = Committee::new();
        let key = &committee.keys[1];
        let peer = key.public_key();
        let (mut checking, blocked) = checking(3);
        let vote = committee.notarize(1, 0, 3, 1);
        checking.accept(&peer, &wire(key, &vote));
        checking.accept(&peer, &wire(key, &committee.nullify(1, 0, 3)));
        let unsigned = |mut message: Vec<u8>| {
            message.extend_from_slice(&[0; SIGNATURE_BYTES]);
            IoBuf::from(message)
        };
        // The same bytes with a signature that does not verify: known, so not checked again.
        // Another nullify of the round, or the notarize of the same proposal with another
        // attestation: they cannot contradict what was kept, so their signatures are not looked
        // at either. Nor is a far-off vote's.
        for message in [
            vote.clone(),
            committee.nullify(2, 0, 3),
            committee.notarize(2, 0, 3, 1),
            committee.finalize(1, 7, 3, 1),
        ] {
            assert!(checking.accept(&peer, &unsigned(message)).is_some());
        }
        assert!(blocked.lock().unwrap().is_empty());
        assert!(checking.pending.is_empty());
        let rounds = 2_000u32;
        let replay = wire(key, &vote);
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            checking.accept(&peer, &replay);
        }
        eprintln!(
            "a replayed vote costs the receiver {:?}",
            started.elapsed() / rounds
        );
    }

    #[test]
    fn pending_keeps_a_piece_per_offender_and_epoch_earliest_first_until_slashed() {
        let committee = Committee::new();
        let pending = Pending::default();
        let piece = |who: usize, epoch: u64| {
            committee.evidence(
                who,
                &TAG,
                &committee.notarize(who, epoch, 3, 1),
                &committee.notarize(who, epoch, 3, 2),
            )
        };
        let key = |who: usize| AccountId::from_public_key(&committee.keys[who].public_key());
        // Made-up epochs take at most three places per offender; earlier pieces replace later
        // ones, and a piece later than all three is refused.
        for epoch in [1_000, 7, 900] {
            assert!(pending.add(epoch, piece(1, epoch)));
        }
        assert!(pending.add(2, piece(1, 2)));
        assert!(pending.add(5, piece(1, 5)));
        assert!(!pending.add(8, piece(1, 8)), "later than every piece kept");
        assert!(pending.add(2, piece(1, 2)), "kept already");
        assert!(pending.add(0, piece(2, 0)));
        assert_eq!(pending.len(), 4);
        assert_eq!(pending.select(1, |_, _| true), vec![piece(2, 0)]);
        assert_eq!(
            pending.len(),
            2,
            "the pieces of epochs after the next are dropped"
        );
        let selected = pending.select(2, |_, offender| *offender != key(2));
        assert_eq!(selected, vec![piece(1, 2)]);
        assert_eq!(
            pending.len(),
            1,
            "the slashed piece of an earlier epoch is dropped"
        );
        // Earliest epochs first, four a block.
        for who in 0..4 {
            pending.add(3, piece(who, 3));
            pending.add(4, piece(who, 4));
        }
        let selected = pending.select(4, |_, _| true);
        assert_eq!(selected.len(), MAX_BLOCK_EVIDENCE);
        let epochs: Vec<_> = selected.iter().map(Evidence::epoch).collect();
        assert_eq!(epochs, [Some(2), Some(3), Some(3), Some(3)]);
        // The bound.
        for seed in 0..MAX_PENDING as u64 + 5 {
            let key = ed25519::PrivateKey::from_seed(1_000 + seed);
            pending.add(
                9,
                Evidence {
                    offender: key.public_key(),
                    ..piece(1, 9)
                },
            );
        }
        assert_eq!(pending.len(), MAX_PENDING);
    }

    #[test]
    fn a_message_its_sender_did_not_sign_is_dropped_and_the_sender_blocked() {
        let committee = Committee::new();
        let (mut checking, blocked) = checking(1);
        let vote = committee.notarize(0, 0, 1, 1);
        let signed = |key: &ed25519::PrivateKey, tag: &Digest| {
            let mut message = vote.clone();
            message.extend_from_slice(&SignedVote::sign(key, tag, &vote).signature.encode());
            IoBuf::from(message)
        };
        let sender = committee.keys[0].public_key();
        // Too short to hold a signature, signed by another key or for another chain.
        for message in [
            IoBuf::from(vec![1; SIGNATURE_BYTES - 1]),
            signed(&committee.keys[1], &TAG),
            signed(&committee.keys[0], &Digest([1; 32])),
        ] {
            assert!(checking.accept(&sender, &message).is_none());
        }
        assert_eq!(*blocked.lock().unwrap(), vec![sender.clone(); 3]);
        // Unsigned: without what it took for a signature it is no vote, and goes on to simplex
        // as the undecodable bytes it is.
        let unsigned = checking
            .accept(&sender, &IoBuf::from(vote.clone()))
            .unwrap();
        assert_eq!(unsigned.as_ref(), &vote[..vote.len() - SIGNATURE_BYTES]);
        // Signed by its sender for this chain: passed on without the signature.
        let accepted = checking.accept(&sender, &signed(&committee.keys[0], &TAG));
        assert_eq!(accepted.as_ref().map(|body| body.as_ref()), Some(&vote[..]));
        assert_eq!(blocked.lock().unwrap().len(), 3);
    }

    /// Pieces against 256 keys contradicting themselves in the next epoch give way to real
    /// evidence of the current one.
    #[test]
    fn next_epoch_pieces_do_not_crowd_out_evidence_for_the_current_epoch() {
        let committee = Committee::new();
        let pending = Pending::default();
        for seed in 0..MAX_PENDING as u64 {
            let mut piece = committee.evidence(
                0,
                &TAG,
                &committee.notarize(0, 6, 3, 1),
                &committee.notarize(0, 6, 3, 2),
            );
            piece.offender = ed25519::PrivateKey::from_seed(10_000 + seed).public_key();
            pending.add(6, piece);
        }
        let real = committee.evidence(
            1,
            &TAG,
            &committee.notarize(1, 5, 3, 1),
            &committee.notarize(1, 5, 3, 2),
        );
        pending.add(5, real.clone());
        assert_eq!(pending.len(), MAX_PENDING);
        assert_eq!(pending.select(5, |_, _| true), vec![real]);
    }

    /// Mutated evidence never panics decoding or checking, and what the receiver keeps is what
    /// `Evidence::check` accepts after a block's encoding.
    #[test]
    fn mutated_evidence_never_panics_and_kept_evidence_checks() {
        let committee = Committee::new();
        let mut pieces = Vec::new();
        for (who, a, b) in [
            (
                0,
                committee.notarize(0, 0, 3, 1),
                committee.notarize(0, 0, 3, 2),
            ),
            (
                1,
                committee.finalize(1, 0, 4, 1),
                committee.finalize(1, 0, 4, 2),
            ),
            (
                2,
                committee.nullify(2, 0, 5),
                committee.finalize(2, 0, 5, 1),
            ),
            (
                3,
                committee.finalize(3, 0, 6, 1),
                committee.nullify(3, 0, 6),
            ),
        ] {
            let (mut checking, _) = checking(4);
            let key = &committee.keys[who];
            checking.accept(&key.public_key(), &wire(key, &a));
            checking.accept(&key.public_key(), &wire(key, &b));
            let piece = checking.pending.select(0, |_, _| true).pop().expect("kept");
            let decoded = Evidence::decode(piece.encode()).unwrap();
            assert_eq!(decoded.check(&TAG), Ok(0));
            pieces.push(piece);
        }
        // A xorshift generator: reproducible, and enough to scatter the damage.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 16) as usize % bound.max(1)
        };
        for round in 0..20_000 {
            let mut bytes = pieces[round % pieces.len()].encode().to_vec();
            for _ in 0..1 + next(4) {
                let at = next(bytes.len());
                bytes[at] = next(256) as u8;
            }
            if next(8) == 0 {
                let keep = next(bytes.len());
                bytes.truncate(keep);
            }
            if let Ok(piece) = Evidence::decode(bytes::Bytes::from(bytes)) {
                let _ = piece.check(&TAG);
                let _ = piece.epoch();
            }
        }
    }
}

/// Attacks on the receiver's memory and conviction rules (`OwnRounds`, `Detector`, `Pending`).
#[cfg(test)]
mod receiver_attacks {
    use super::*;
    use crate::evidence::tests::Committee;

    const TAG: Digest = Digest([7; 32]);

    fn checking_with(rounds: OwnRounds) -> (Checking, Arc<Mutex<Vec<ed25519::PublicKey>>>) {
        let blocked = Arc::new(Mutex::new(Vec::new()));
        let record = blocked.clone();
        let checking = Checking {
            tag: TAG,
            rounds,
            detector: Detector::default(),
            pending: Pending::default(),
            block: Box::new(move |peer| record.lock().unwrap().push(peer.clone())),
        };
        (checking, blocked)
    }

    fn wire(key: &ed25519::PrivateKey, message: &[u8]) -> IoBuf {
        let mut bytes = message.to_vec();
        bytes.extend_from_slice(&SignedVote::sign(key, &TAG, message).signature.encode());
        IoBuf::from(bytes)
    }

    fn send(checking: &mut Checking, key: &ed25519::PrivateKey, message: &[u8]) {
        checking.accept(&key.public_key(), &wire(key, message));
    }

    fn pending_epochs(pending: &Pending) -> Vec<(AccountId, u64)> {
        pending.0.lock().unwrap().keys().copied().collect()
    }

    /// convicted-peer rule: a validator slashed for epoch 0 (banned, unbonding, but still
    /// on the committees already fixed) equivocates again in epoch 1. The ledger slashes once
    /// per key *and epoch*, but the receiver never looks at a convicted peer again.
    #[test]
    fn a_peer_slashed_for_one_epoch_is_caught_again_in_a_later_one() {
        let committee = Committee::new();
        let byz = &committee.keys[1];
        let id = AccountId::from_public_key(&byz.public_key());
        let rounds = OwnRounds::default();
        rounds.entered(0, 5);
        let (mut checking, _) = checking_with(rounds);
        send(&mut checking, byz, &committee.notarize(1, 0, 5, 1));
        send(&mut checking, byz, &committee.notarize(1, 0, 5, 2));
        assert_eq!(checking.pending.select(0, |_, _| true).len(), 1);
        // Slashed for epoch 0 by a block; the next epoch's first block drops the piece.
        let slashed = move |epoch: u64, offender: &AccountId| !(epoch == 0 && *offender == id);
        checking.pending.select(1, slashed);
        assert!(checking.pending.is_empty());
        checking.rounds.entered(1, 3);
        send(&mut checking, byz, &committee.notarize(1, 1, 3, 1));
        send(&mut checking, byz, &committee.notarize(1, 1, 3, 2));
        assert!(
            pending_epochs(&checking.pending).contains(&(id, 1)),
            "the epoch-1 contradiction of a peer convicted in epoch 0 was not kept"
        );
    }

    /// convicted-peer rule abuse: a peer convicts itself on purpose with a contradiction
    /// the chain refuses (of an epoch it was already slashed for, still near as the previous
    /// epoch) or postpones (of the next epoch), then equivocates in the current epoch.
    #[test]
    fn a_self_conviction_does_not_shield_the_current_epoch() {
        let committee = Committee::new();
        let byz = &committee.keys[2];
        let id = AccountId::from_public_key(&byz.public_key());
        // (a) Already slashed for epoch 0; the node votes in epoch 1 and still keeps epoch 0.
        let rounds = OwnRounds::default();
        rounds.entered(0, 40);
        rounds.entered(1, 3);
        let (mut checking, _) = checking_with(rounds);
        send(&mut checking, byz, &committee.notarize(2, 0, 40, 1));
        send(&mut checking, byz, &committee.notarize(2, 0, 40, 2));
        let slashed = move |epoch: u64, offender: &AccountId| !(epoch == 0 && *offender == id);
        checking.pending.select(1, slashed);
        send(&mut checking, byz, &committee.notarize(2, 1, 3, 1));
        send(&mut checking, byz, &committee.notarize(2, 1, 3, 2));
        let a = pending_epochs(&checking.pending);

        // (b) A next-epoch contradiction first: the current one is never recorded.
        let rounds = OwnRounds::default();
        rounds.entered(1, 3);
        let (mut checking, _) = checking_with(rounds);
        send(&mut checking, byz, &committee.notarize(2, 2, 1, 1));
        send(&mut checking, byz, &committee.notarize(2, 2, 1, 2));
        send(&mut checking, byz, &committee.notarize(2, 1, 3, 1));
        send(&mut checking, byz, &committee.notarize(2, 1, 3, 2));
        let b = pending_epochs(&checking.pending);
        assert_eq!(
            (a, b),
            (vec![(id, 1)], vec![(id, 1), (id, 2)]),
            "(a) refused-piece shield, (b) next-epoch shield: the epoch-1 offense is missing"
        );
    }

    /// A node compares from the rounds its application entered, before it votes: a restarted
    /// node from the blocks it verifies or finalizes, a newcomer from the chain it follows (the
    /// next epoch's first views too), a node back after several epochs from its latest.
    #[test]
    fn a_newcomer_or_restarted_node_compares_before_its_first_vote() {
        let committee = Committee::new();
        let byz = &committee.keys[3];
        let mut kept = Vec::new();
        for (label, entered, epoch, view) in [
            ("restarted, epoch 5 view 300", (5, 298), 5, 300),
            ("newcomer, epoch 5 view 1", (4, 200), 5, 1),
            ("followed the chain to epoch 5", (5, 0), 5, 1),
        ] {
            let rounds = OwnRounds::default();
            rounds.entered(entered.0, entered.1);
            let (mut checking, _) = checking_with(rounds);
            send(&mut checking, byz, &committee.notarize(3, epoch, view, 1));
            send(&mut checking, byz, &committee.notarize(3, epoch, view, 2));
            kept.push((label, checking.pending.len()));
        }
        assert!(
            kept.iter().all(|(_, n)| *n == 1),
            "contradictions missed before the node's first vote: {kept:?}"
        );
        // A node that entered nothing yet compares only epoch 0's first views.
        let (mut checking, _) = checking_with(OwnRounds::default());
        send(&mut checking, byz, &committee.notarize(3, 5, 300, 1));
        send(&mut checking, byz, &committee.notarize(3, 5, 300, 2));
        assert!(checking.pending.is_empty());
    }

    /// a lagging node catching up: it voted up to view 10, certificates take it to view 40;
    /// the peer's first notarize of view 40 arrives before this node votes there (not near,
    /// passed on unrecorded), the second after (near): no evidence.
    #[test]
    fn a_node_catching_up_keeps_the_first_half_that_arrived_before_its_vote() {
        let committee = Committee::new();
        let byz = &committee.keys[1];
        let rounds = OwnRounds::default();
        rounds.entered(0, 10);
        let (mut checking, _) = checking_with(rounds);
        send(&mut checking, byz, &committee.notarize(1, 0, 40, 1));
        checking.rounds.entered(0, 40);
        send(&mut checking, byz, &committee.notarize(1, 0, 40, 2));
        assert_eq!(checking.pending.len(), 1, "the lagging node missed it");
    }

    /// Known-rule ordering: the first notarize of A carries another member's attestation
    /// (junk for this signer), the second the right one, the third is of B. Also a nullify
    /// variant first, then a finalize.
    #[test]
    fn known_rule_ordering_does_not_hide_a_contradiction() {
        let committee = Committee::new();
        let byz = &committee.keys[1];
        let rounds = OwnRounds::default();
        rounds.entered(0, 5);
        let (mut checking, blocked) = checking_with(rounds);
        send(&mut checking, byz, &committee.notarize(2, 0, 5, 1)); // A, junk attestation
        send(&mut checking, byz, &committee.notarize(1, 0, 5, 1)); // A, real one
        send(&mut checking, byz, &committee.notarize(1, 0, 5, 2)); // B
        let piece = checking.pending.select(0, |_, _| true).pop().expect("kept");
        assert_eq!(Evidence::decode(piece.encode()).unwrap().check(&TAG), Ok(0));
        let other = &committee.keys[3];
        send(&mut checking, other, &committee.nullify(2, 0, 6));
        send(&mut checking, other, &committee.nullify(3, 0, 6));
        send(&mut checking, other, &committee.finalize(3, 0, 6, 1));
        assert_eq!(checking.pending.len(), 2);
        assert!(blocked.lock().unwrap().is_empty());
    }

    /// Q2, framing: a byzantine peer relays an honest peer's signed votes as its own, or signs
    /// votes carrying the honest member's attestation; an honest sequence (rebroadcasts,
    /// timeout nullify, finalize of the notarized proposal) is no evidence.
    #[test]
    fn nobody_frames_an_honest_peer() {
        let committee = Committee::new();
        let honest = &committee.keys[0];
        let byz = &committee.keys[1];
        let rounds = OwnRounds::default();
        rounds.entered(0, 5);
        let (mut checking, blocked) = checking_with(rounds);
        for view in 3..=6 {
            send(&mut checking, honest, &committee.notarize(0, 0, view, 1));
            send(&mut checking, honest, &committee.notarize(0, 0, view, 1));
            send(&mut checking, honest, &committee.finalize(0, 0, view, 1));
        }
        send(&mut checking, honest, &committee.nullify(0, 0, 7));
        send(&mut checking, honest, &committee.nullify(0, 0, 7));
        // The honest peer's own signature over its vote, relayed by the byzantine one.
        let relayed = wire(honest, &committee.notarize(0, 0, 8, 2));
        assert!(checking.accept(&byz.public_key(), &relayed).is_none());
        // Votes with the honest member's attestation, signed by the byzantine key.
        send(&mut checking, byz, &committee.notarize(0, 0, 4, 1));
        send(&mut checking, byz, &committee.notarize(0, 0, 4, 2));
        let pending = pending_epochs(&checking.pending);
        let honest_id = AccountId::from_public_key(&honest.public_key());
        assert!(pending.iter().all(|(offender, _)| *offender != honest_id));
        assert_eq!(pending.len(), 1, "the byzantine key is the offender");
        assert_eq!(*blocked.lock().unwrap(), vec![byz.public_key()]);
    }

    /// what one peer can make a receiver store and verify: every kind in every near
    /// round (two kept epochs and the next epoch's first views), plus far filler. Bounded by
    /// (2 * (2 * VIEW_WINDOW + 1) + VIEW_WINDOW + 1) rounds of 3 votes.
    #[test]
    fn what_one_peer_costs_a_receiver_is_bounded() {
        let committee = Committee::new();
        let byz = &committee.keys[1];
        let rounds = OwnRounds::default();
        rounds.entered(0, 100);
        rounds.entered(1, 100);
        let (mut checking, _) = checking_with(rounds);
        let mut messages = Vec::new();
        for epoch in 0..=3u64 {
            for view in 0..=200u64 {
                messages.push(committee.nullify(1, epoch, view));
                messages.push(committee.notarize(1, epoch, view.max(1), 1));
            }
        }
        let started = std::time::Instant::now();
        for message in &messages {
            send(&mut checking, byz, message);
        }
        let stored: usize = checking.detector.seen[&byz.public_key()]
            .values()
            .map(|slots| {
                [&slots.notarize, &slots.nullify, &slots.finalize]
                    .into_iter()
                    .flatten()
                    .count()
            })
            .sum();
        let per_epoch = (VIEW_WINDOW + 1 + VIEW_AHEAD) as usize;
        let bound = 3 * (2 * per_epoch + VIEW_AHEAD as usize + 1);
        eprintln!(
            "{} messages (signing included) in {:?}; {} rounds, {} votes stored, bound {}",
            messages.len(),
            started.elapsed(),
            checking.detector.seen[&byz.public_key()].len(),
            stored,
            bound
        );
        assert!(stored <= bound);
        assert!(checking.pending.is_empty());
        // The real contradiction still lands.
        send(&mut checking, byz, &committee.notarize(1, 1, 100, 2));
        assert_eq!(checking.pending.len(), 1);
    }

    /// what a message costs before any signature check: the body is decoded as a vote (two
    /// BLS points for the VRF scheme) on every message, replays and far votes included.
    #[test]
    fn cost_per_message_decode_versus_verify() {
        let committee = Committee::new();
        let key = &committee.keys[1];
        let message = bytes::Bytes::from(committee.notarize(1, 0, 3, 1));
        let signed = SignedVote::sign(key, &TAG, &message);
        let n = 500u32;
        let started = std::time::Instant::now();
        for _ in 0..n {
            assert!(decode_vote(&message).is_some());
        }
        let decode = started.elapsed() / n;
        let started = std::time::Instant::now();
        for _ in 0..n {
            assert!(signed.verify(&key.public_key(), &TAG));
        }
        let verify = started.elapsed() / n;
        eprintln!("decode_vote {decode:?}, ed25519 verify {verify:?} per message");
    }

    /// a full Pending (one same-epoch piece per key of 256 self-convicting peers, e.g.
    /// registered full nodes whose slash burns nothing) refuses a validator's piece, yet the
    /// validator is convicted, so it is never looked at again once Pending drains.
    #[test]
    fn a_refused_piece_does_not_convict_for_good() {
        let committee = Committee::new();
        let byz = &committee.keys[1];
        let id = AccountId::from_public_key(&byz.public_key());
        let rounds = OwnRounds::default();
        rounds.entered(0, 5);
        let (mut checking, _) = checking_with(rounds);
        let fillers: Vec<_> = (0..MAX_PENDING as u64)
            .map(|seed| ed25519::PrivateKey::from_seed(50_000 + seed))
            .collect();
        for filler in &fillers {
            send(&mut checking, filler, &committee.notarize(2, 0, 5, 1));
            send(&mut checking, filler, &committee.notarize(2, 0, 5, 2));
        }
        assert_eq!(checking.pending.len(), MAX_PENDING);
        send(&mut checking, byz, &committee.notarize(1, 0, 5, 1));
        send(&mut checking, byz, &committee.notarize(1, 0, 5, 2));
        // The fillers are slashed (settled, nothing burned) and drained.
        checking
            .pending
            .select(1, move |_, offender| *offender == id);
        checking.rounds.entered(1, 2);
        send(&mut checking, byz, &committee.notarize(1, 1, 2, 1));
        send(&mut checking, byz, &committee.notarize(1, 1, 2, 2));
        assert!(
            pending_epochs(&checking.pending)
                .iter()
                .any(|(offender, _)| *offender == id),
            "the validator's offense was lost for good"
        );
    }
}

#[cfg(test)]
mod pending_attacks {
    use super::*;
    use crate::evidence::tests::Committee;

    const TAG: Digest = Digest([7; 32]);

    /// offenses in two epochs before the first piece reaches a block: Pending keeps one
    /// piece per offender, so the second epoch's is dropped even when the receiver looks.
    #[test]
    fn a_second_epochs_offense_waits_behind_the_first() {
        let committee = Committee::new();
        let byz = &committee.keys[1];
        let id = AccountId::from_public_key(&byz.public_key());
        let rounds = OwnRounds::default();
        rounds.entered(0, 40);
        rounds.entered(1, 2);
        let mut checking = Checking {
            tag: TAG,
            rounds,
            detector: Detector::default(),
            pending: Pending::default(),
            block: Box::new(|_| {}),
        };
        for (epoch, view) in [(0, 40), (1, 2)] {
            for payload in [1, 2] {
                let message = committee.notarize(1, epoch, view, payload);
                let mut bytes = message.clone();
                bytes.extend_from_slice(&SignedVote::sign(byz, &TAG, &message).signature.encode());
                checking.accept(&byz.public_key(), &IoBuf::from(bytes));
            }
        }
        // Epoch 0's piece is included and slashed; epoch 1's should still be waiting.
        checking
            .pending
            .select(1, move |epoch, offender| !(epoch == 0 && *offender == id));
        assert_eq!(
            checking.pending.select(1, |_, _| true).len(),
            1,
            "the epoch-1 offense was dropped behind the epoch-0 piece"
        );
    }
}
