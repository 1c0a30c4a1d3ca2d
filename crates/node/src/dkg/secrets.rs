//! This node's private ceremony material on disk: glue's `SecretStore` ([`DiskSecretStore`]).

use bytes::BufMut;
use commonware_codec::{
    Buf, EncodeSize, Error as CodecError, FixedSize, RangeCfg, Read, ReadExt as _, Write,
};
use commonware_consensus::types::Epoch;
use commonware_cryptography::{
    PublicKey,
    bls12381::{dkg::feldman_desmedt::DealerPrivMsg, primitives::group::Share},
    transcript::Summary,
};
use commonware_glue::dkg::SecretStore;
use commonware_storage::{
    Context,
    metadata::{self, Metadata},
};
use commonware_utils::{Widen, sequence::FixedBytes, sync::AsyncMutex};
use std::{collections::BTreeMap, num::NonZeroU32, sync::Arc};

/// The most participants (dealers, players) of one ceremony. It bounds how many dealings the
/// secret store keeps per epoch and so what decoding a stored epoch allocates. The reshare
/// actor's `max_participants` must not exceed it. It is the consensus key's own bound.
pub const MAX_PARTICIPANTS: NonZeroU32 = match NonZeroU32::new(crate::threshold::MAX_VALIDATORS) {
    Some(max) => max,
    None => panic!("a committee has at least one member"),
};

/// The longest encoded dealer key the secret store accepts (ed25519's is 32 bytes, a BLS
/// public key 48 or 96). Checked when the store is compiled for a key type, never at run time.
pub const MAX_DEALER_KEY_BYTES: usize = 96;

/// A key of the secret store: a tag byte, then an epoch big-endian. Fixed width, so two distinct
/// (tag, epoch) pairs never share a key: no hashing, nothing to collide.
type Key = FixedBytes<9>;

/// The tag of the key holding everything kept for one epoch.
const EPOCH_TAG: u8 = 0;

/// The tag of [`INITIALIZED`].
const INITIALIZED_TAG: u8 = 1;

/// Written together with the store's first secret and never pruned: a store pruned down to
/// nothing still held secrets once, and must not be seeded again.
const INITIALIZED: Key = FixedBytes::new([INITIALIZED_TAG, 0, 0, 0, 0, 0, 0, 0, 0]);

fn epoch_key(epoch: Epoch) -> Key {
    let mut key = [EPOCH_TAG; 9];
    key[1..].copy_from_slice(&epoch.get().to_be_bytes());
    FixedBytes::new(key)
}

/// The epoch an epoch key names; `None` for [`INITIALIZED`].
fn key_epoch(key: &Key) -> Option<Epoch> {
    let [tag, epoch @ ..]: [u8; 9] = key.as_ref().try_into().ok()?;
    (tag == EPOCH_TAG).then(|| Epoch::new(u64::from_be_bytes(epoch)))
}

/// The dealer's encoded public key, as dealings are kept under it.
fn dealer_id<P: PublicKey>(dealer: &P) -> Vec<u8> {
    const {
        assert!(
            P::SIZE <= MAX_DEALER_KEY_BYTES,
            "the secret store keeps dealer keys of at most MAX_DEALER_KEY_BYTES"
        )
    };
    dealer.encode().to_vec()
}

/// Everything this node keeps for one epoch, under one key: pruning is then dropping the keys
/// below an epoch, with no index to keep.
#[derive(Clone, Debug, Default)]
struct EpochSecrets {
    share: Option<Share>,
    seed: Option<Summary>,
    /// The private dealings received, by the dealer's encoded public key. Keys of one type
    /// encode to distinct byte strings of one width, so two dealers never share an entry.
    dealings: BTreeMap<Vec<u8>, DealerPrivMsg>,
}

/// A dealing refused because its epoch holds dealings from [`MAX_PARTICIPANTS`] other dealers
/// already: stored, it would make the epoch undecodable and the store unable to open.
#[derive(Debug, PartialEq, Eq)]
struct DealingsFull;

impl EpochSecrets {
    fn insert_dealing(
        &mut self,
        dealer: Vec<u8>,
        private: DealerPrivMsg,
    ) -> Result<(), DealingsFull> {
        let full = self.dealings.len() >= max_participants();
        if full && !self.dealings.contains_key(&dealer) {
            return Err(DealingsFull);
        }
        self.dealings.insert(dealer, private);
        Ok(())
    }
}

fn max_participants() -> usize {
    Widen::widen(MAX_PARTICIPANTS.get())
}

impl Write for EpochSecrets {
    fn write(&self, buf: &mut impl BufMut) {
        self.share.write(buf);
        self.seed.write(buf);
        self.dealings.write(buf);
    }
}

impl EncodeSize for EpochSecrets {
    fn encode_size(&self) -> usize {
        self.share.encode_size() + self.seed.encode_size() + self.dealings.encode_size()
    }
}

impl Read for EpochSecrets {
    type Cfg = ();

    /// Bounded: at most [`MAX_PARTICIPANTS`] dealings, each under a key of at most
    /// [`MAX_DEALER_KEY_BYTES`].
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let share = Option::<Share>::read(buf)?;
        let seed = Option::<Summary>::read(buf)?;
        let dealer_cfg = (RangeCfg::new(1..=MAX_DEALER_KEY_BYTES), ());
        let dealings = BTreeMap::<Vec<u8>, DealerPrivMsg>::read_cfg(
            buf,
            &(RangeCfg::new(0..=max_participants()), (dealer_cfg, ())),
        )?;
        Ok(Self {
            share,
            seed,
            dealings,
        })
    }
}

/// What the store holds under one key.
#[derive(Clone, Debug)]
enum Record {
    /// Under [`INITIALIZED`].
    Initialized,
    /// Under an epoch's key.
    Epoch(EpochSecrets),
}

impl Write for Record {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Self::Initialized => 0u8.write(buf),
            Self::Epoch(secrets) => {
                1u8.write(buf);
                secrets.write(buf);
            }
        }
    }
}

impl EncodeSize for Record {
    fn encode_size(&self) -> usize {
        u8::SIZE
            + match self {
                Self::Initialized => 0,
                Self::Epoch(secrets) => secrets.encode_size(),
            }
    }
}

impl Read for Record {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        match u8::read(buf)? {
            0 => Ok(Self::Initialized),
            1 => Ok(Self::Epoch(EpochSecrets::read(buf)?)),
            tag => Err(CodecError::InvalidEnum(tag)),
        }
    }
}

/// Why the secret store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretStoreError {
    #[error("the DKG secret store {partition} could not be opened: {source}")]
    Open {
        partition: String,
        source: metadata::Error,
    },
    #[error("the DKG secret store {partition} could not be written: {source}")]
    Write {
        partition: String,
        source: metadata::Error,
    },
    /// A write failed before; the store's handle went with it (commonware's metadata store
    /// drops itself on a failed sync) and what is on disk is only what was synced before.
    #[error("the DKG secret store {partition} failed a write earlier; restart the node")]
    FailedBefore { partition: String },
}

/// This node's private DKG material (shares, dealer seeds, received dealings) on disk, in a
/// commonware [`Metadata`] store under partition `{prefix}-dkg-secrets`: glue's [`SecretStore`].
///
/// Each epoch is one value (share, seed and dealings together) under a key naming the epoch, so
/// [`SecretStore::prune`] drops keys below an epoch. Every write syncs before it returns. The
/// store rewrites its file on a write that changes a value's size; with at most
/// [`MAX_PARTICIPANTS`] dealings of 32 bytes per epoch and two epochs kept, that is some tens
/// of kilobytes, a few hundred times an epoch.
///
/// Clones share one store. Secrets are held as plain bytes: the partition must be as private
/// as the node's signing key.
pub struct DiskSecretStore<E: Context> {
    inner: Arc<AsyncMutex<Inner<E>>>,
    partition: Arc<str>,
    /// Where a dealer's seed comes from when none is stored (see [`Self::with_seed_secret`]).
    seed_secret: Option<[u8; 32]>,
}

impl<E: Context> Clone for DiskSecretStore<E> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            partition: self.partition.clone(),
            seed_secret: self.seed_secret,
        }
    }
}

/// The namespace of dealer seeds derived from a node's secret.
const DEALER_SEED_NAMESPACE: &[u8] = b"EQUA_DKG_DEALER_SEED_V1";

/// The dealer seed of `epoch` derived from `secret`: the same at every start, so a node that
/// lost its store deals exactly what it dealt before.
fn derived_seed(secret: &[u8; 32], epoch: Epoch) -> Summary {
    use commonware_codec::DecodeExt as _;
    let digest = types::hash(DEALER_SEED_NAMESPACE, &[secret, &epoch.get().to_be_bytes()]);
    Summary::decode(bytes::Bytes::copy_from_slice(&digest.0)).expect("a summary is any 32 bytes")
}

impl<E: Context> std::fmt::Debug for DiskSecretStore<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskSecretStore")
            .field("partition", &self.partition)
            .finish_non_exhaustive()
    }
}

struct Inner<E: Context> {
    partition: Arc<str>,
    /// `None` only after a sync failed: the metadata store consumes itself to sync.
    metadata: Option<Metadata<E, Key, Record>>,
}

impl<E: Context> Inner<E> {
    fn open(&mut self) -> Result<&mut Metadata<E, Key, Record>, SecretStoreError> {
        self.metadata
            .as_mut()
            .ok_or_else(|| SecretStoreError::FailedBefore {
                partition: self.partition.to_string(),
            })
    }

    fn epoch(&mut self, epoch: Epoch) -> Result<Option<&EpochSecrets>, SecretStoreError> {
        Ok(match self.open()?.get(&epoch_key(epoch)) {
            Some(Record::Epoch(secrets)) => Some(secrets),
            _ => None,
        })
    }

    /// Applies `change` to `epoch`'s secrets (created empty if absent), marks the store
    /// initialized, and syncs both in one atomic commit.
    async fn write<R>(
        &mut self,
        epoch: Epoch,
        change: impl FnOnce(&mut EpochSecrets) -> R,
    ) -> Result<R, SecretStoreError> {
        let metadata = self.open()?;
        if metadata.get(&INITIALIZED).is_none() {
            metadata.put(INITIALIZED, Record::Initialized);
        }
        let key = epoch_key(epoch);
        let result = match metadata.get_mut(&key) {
            Some(Record::Epoch(secrets)) => change(secrets),
            _ => {
                let mut secrets = EpochSecrets::default();
                let result = change(&mut secrets);
                metadata.put(key, Record::Epoch(secrets));
                result
            }
        };
        self.sync().await?;
        Ok(result)
    }

    async fn sync(&mut self) -> Result<(), SecretStoreError> {
        let metadata = self
            .metadata
            .take()
            .ok_or_else(|| SecretStoreError::FailedBefore {
                partition: self.partition.to_string(),
            })?;
        let metadata = metadata
            .sync()
            .await
            .map_err(|source| SecretStoreError::Write {
                partition: self.partition.to_string(),
                source,
            })?;
        self.metadata = Some(metadata);
        Ok(())
    }

    /// Drops every epoch below `min`; returns how many.
    async fn prune(&mut self, min: Epoch) -> Result<usize, SecretStoreError> {
        let metadata = self.open()?;
        let before = metadata.keys().count();
        metadata.retain(|key, _| key_epoch(key).is_none_or(|epoch| epoch >= min));
        let pruned = before - metadata.keys().count();
        if pruned > 0 {
            // The metadata store alternates between two files and the other one still holds
            // the state before this prune: a second commit overwrites it too, so a pruned share
            // does not linger in the store's files (the file system may keep old blocks).
            self.sync().await?;
            self.sync().await?;
        }
        Ok(pruned)
    }
}

/// Stops the node on a failed write: glue's [`SecretStore`] has no error path, and going on as
/// if the write were durable could make this node deal twice in one epoch after a restart or
/// lose a share it signs with. The disk needs attention; nothing a peer sends can cause this.
fn halt(error: SecretStoreError) -> ! {
    panic!("{error}")
}

impl<E: Context> DiskSecretStore<E> {
    /// Opens (or creates) the store in partition `{prefix}-dkg-secrets`. `context` should be
    /// the store's own (its metrics are registered on it).
    pub async fn init(context: E, prefix: &str) -> Result<Self, SecretStoreError> {
        let partition: Arc<str> = format!("{prefix}-dkg-secrets").into();
        let metadata = Metadata::init(
            context,
            metadata::Config {
                partition: partition.to_string(),
                codec_config: (),
            },
        )
        .await
        .map_err(|source| SecretStoreError::Open {
            partition: partition.to_string(),
            source,
        })?;
        Ok(Self {
            inner: Arc::new(AsyncMutex::new(Inner {
                partition: partition.clone(),
                metadata: Some(metadata),
            })),
            partition,
            seed_secret: None,
        })
    }

    /// Derives a dealer's seed for an epoch with none stored from `secret` (which must be as
    /// private as the node's key, and the same at every start). A node whose store was lost or
    /// wiped (an operator restarting it empty, with state sync) then deals in the current epoch
    /// exactly what it dealt before, so the acknowledgements the players kept still fit, instead
    /// of dealing anew, which the players' kept acknowledgements would not fit (it would block
    /// every one of them as a faulty player and cut itself off).
    pub fn with_seed_secret(mut self, secret: [u8; 32]) -> Self {
        self.seed_secret = Some(secret);
        self
    }

    pub fn partition(&self) -> &str {
        &self.partition
    }

    /// Whether the store has never held a secret (pruning does not make a store vacant again).
    pub async fn is_vacant(&self) -> Result<bool, SecretStoreError> {
        let mut inner = self.inner.lock().await;
        Ok(inner.open()?.get(&INITIALIZED).is_none())
    }

    /// Stores `share` as this node's epoch-zero share (from its configuration) if the store has
    /// never held a secret, durably; returns whether it did. A restarted node has stored or
    /// pruned its shares since, and seeding again would bring back a share the ceremonies
    /// replaced.
    pub async fn seed_epoch_zero(&self, share: Share) -> Result<bool, SecretStoreError> {
        let mut inner = self.inner.lock().await;
        if inner.open()?.get(&INITIALIZED).is_some() {
            return Ok(false);
        }
        inner
            .write(Epoch::zero(), |secrets| secrets.share = Some(share))
            .await?;
        Ok(true)
    }
}

impl<E: Context> SecretStore for DiskSecretStore<E> {
    async fn put_share(&mut self, epoch: Epoch, share: Share) {
        let mut inner = self.inner.lock().await;
        inner
            .write(epoch, |secrets| secrets.share = Some(share))
            .await
            .unwrap_or_else(|error| halt(error));
    }

    async fn get_share(&mut self, epoch: Epoch) -> Option<Share> {
        let mut inner = self.inner.lock().await;
        let secrets = inner.epoch(epoch).unwrap_or_else(|error| halt(error));
        secrets.and_then(|secrets| secrets.share.clone())
    }

    async fn put_seed(&mut self, epoch: Epoch, seed: Summary) {
        let mut inner = self.inner.lock().await;
        inner
            .write(epoch, |secrets| secrets.seed = Some(seed))
            .await
            .unwrap_or_else(|error| halt(error));
    }

    async fn get_seed(&mut self, epoch: Epoch) -> Option<Summary> {
        let mut inner = self.inner.lock().await;
        let secrets = inner.epoch(epoch).unwrap_or_else(|error| halt(error));
        secrets
            .and_then(|secrets| secrets.seed)
            .or_else(|| self.seed_secret.map(|secret| derived_seed(&secret, epoch)))
    }

    async fn put_dealing<P: PublicKey>(&mut self, epoch: Epoch, dealer: P, private: DealerPrivMsg) {
        let id = dealer_id(&dealer);
        let mut inner = self.inner.lock().await;
        let stored = inner
            .write(epoch, |secrets| secrets.insert_dealing(id, private))
            .await
            .unwrap_or_else(|error| halt(error));
        if stored.is_err() {
            // Only a reshare actor allowed more participants than MAX_PARTICIPANTS gets here.
            // Glue restores a journaled dealing only with its private half, so this one is lost
            // on a restart, as if the node had crashed before storing it.
            tracing::error!(
                %epoch,
                %dealer,
                max = MAX_PARTICIPANTS.get(),
                "dealing not stored: the epoch holds the most dealings the secret store keeps"
            );
        }
    }

    async fn get_dealing<P: PublicKey>(
        &mut self,
        epoch: Epoch,
        dealer: &P,
    ) -> Option<DealerPrivMsg> {
        let id = dealer_id(dealer);
        let mut inner = self.inner.lock().await;
        let secrets = inner.epoch(epoch).unwrap_or_else(|error| halt(error));
        secrets.and_then(|secrets| secrets.dealings.get(&id).cloned())
    }

    async fn prune(&mut self, min: Epoch) {
        let mut inner = self.inner.lock().await;
        let pruned = inner.prune(min).await.unwrap_or_else(|error| halt(error));
        if pruned > 0 {
            tracing::debug!(%min, pruned, "DKG secrets of earlier epochs pruned");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{DecodeExt as _, Encode as _};
    use commonware_cryptography::{Signer as _, bls12381::primitives::group::Scalar, ed25519};
    use commonware_runtime::{Runner as _, Supervisor as _, deterministic};
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    const PREFIX: &str = "node";

    fn key_of(seed: u64) -> ed25519::PublicKey {
        ed25519::PrivateKey::from_seed(seed).public_key()
    }

    /// Four real shares, one per validator of a dealt key.
    fn shares() -> Vec<Share> {
        let validators: Vec<_> = (0..4).map(key_of).collect();
        let (_, shares) = crate::threshold::deal(ChaCha20Rng::seed_from_u64(1), &validators);
        shares.into_iter().map(|(_, share)| share).collect()
    }

    fn bytes(share: Option<Share>) -> Option<Vec<u8>> {
        share.map(|share| share.encode().to_vec())
    }

    fn seed(byte: u8) -> Summary {
        Summary::decode(vec![byte; 32]).expect("any 32 bytes are a summary")
    }

    /// A private dealing; `value` must not be zero (a zero share does not decode).
    fn dealing(value: u64) -> DealerPrivMsg {
        DealerPrivMsg::new(Scalar::from_u64(value))
    }

    async fn open(
        context: &deterministic::Context,
        label: &'static str,
    ) -> DiskSecretStore<deterministic::Context> {
        DiskSecretStore::init(context.child(label), PREFIX)
            .await
            .expect("the store opens")
    }

    #[test]
    fn writes_survive_a_crash_and_a_reopen() {
        let shares = shares();
        let share = shares[1].clone();
        let dealer = key_of(9);
        let epoch = Epoch::new(3);
        // Nothing is closed or synced by hand: what the crash keeps, each put synced.
        let (_, checkpoint) = deterministic::Runner::default().start_and_recover({
            let share = share.clone();
            let dealer = dealer.clone();
            move |context| async move {
                let mut store = open(&context, "first").await;
                store.put_share(epoch, share).await;
                store.put_seed(epoch, seed(7)).await;
                store.put_dealing(epoch, dealer, dealing(11)).await;
            }
        });
        deterministic::Runner::from(checkpoint).start(|context| async move {
            for label in ["second", "third"] {
                let mut store = open(&context, label).await;
                assert_eq!(store.partition(), "node-dkg-secrets");
                assert_eq!(
                    bytes(store.get_share(epoch).await),
                    bytes(Some(share.clone()))
                );
                assert_eq!(store.get_seed(epoch).await, Some(seed(7)));
                assert_eq!(store.get_dealing(epoch, &dealer).await, Some(dealing(11)));
                // Nothing under another epoch or from another dealer.
                assert!(store.get_share(epoch.next()).await.is_none());
                assert!(store.get_seed(Epoch::new(2)).await.is_none());
                assert!(store.get_dealing(epoch, &key_of(10)).await.is_none());
                assert!(!store.is_vacant().await.unwrap());
                drop(store);
            }
        });
    }

    /// A wiped store with a seed secret hands out, for every epoch without a stored seed, the
    /// same seed at every start and for every store under that secret: another secret, or an
    /// epoch, gives another; a stored seed still wins.
    #[test]
    fn a_store_without_a_seed_derives_the_same_one_from_its_secret() {
        deterministic::Runner::default().start(|context| async move {
            let mut first = open(&context, "first").await.with_seed_secret([1; 32]);
            let mut wiped = DiskSecretStore::init(context.child("wiped"), "other")
                .await
                .unwrap()
                .with_seed_secret([1; 32]);
            let mut stranger = DiskSecretStore::init(context.child("stranger"), "third")
                .await
                .unwrap()
                .with_seed_secret([2; 32]);
            let epoch = Epoch::new(4);
            let derived = first.get_seed(epoch).await.expect("derived");
            assert_eq!(wiped.get_seed(epoch).await, Some(derived));
            assert_ne!(stranger.get_seed(epoch).await, Some(derived));
            assert_ne!(first.get_seed(epoch.next()).await, Some(derived));
            first.put_seed(epoch, seed(7)).await;
            assert_eq!(first.get_seed(epoch).await, Some(seed(7)));
            // Without a secret, nothing is made up.
            let mut plain = DiskSecretStore::init(context.child("plain"), "fourth")
                .await
                .unwrap();
            assert_eq!(plain.get_seed(epoch).await, None);
        });
    }

    #[test]
    fn prune_removes_exactly_the_epochs_below_min() {
        let shares = shares();
        let dealer = key_of(9);
        async fn held(
            store: &mut DiskSecretStore<deterministic::Context>,
            dealer: &ed25519::PublicKey,
            epoch: u64,
        ) -> [bool; 3] {
            let epoch = Epoch::new(epoch);
            [
                store.get_share(epoch).await.is_some(),
                store.get_seed(epoch).await.is_some(),
                store.get_dealing(epoch, dealer).await.is_some(),
            ]
        }
        let (_, checkpoint) = deterministic::Runner::default().start_and_recover({
            let dealer = dealer.clone();
            move |context| async move {
                let mut store = open(&context, "first").await;
                for epoch in 0..5u8 {
                    let at = Epoch::new(epoch.into());
                    store
                        .put_share(at, shares[usize::from(epoch) % 4].clone())
                        .await;
                    store.put_seed(at, seed(epoch)).await;
                    store
                        .put_dealing(at, dealer.clone(), dealing(u64::from(epoch) + 1))
                        .await;
                }
                store.prune(Epoch::new(3)).await;
                for epoch in 0..3 {
                    assert_eq!(
                        held(&mut store, &dealer, epoch).await,
                        [false; 3],
                        "epoch {epoch}"
                    );
                }
                for epoch in 3..5 {
                    assert_eq!(
                        held(&mut store, &dealer, epoch).await,
                        [true; 3],
                        "epoch {epoch}"
                    );
                }
            }
        });
        deterministic::Runner::from(checkpoint).start(|context| async move {
            let mut store = open(&context, "second").await;
            for epoch in 0..3 {
                assert_eq!(
                    held(&mut store, &dealer, epoch).await,
                    [false; 3],
                    "epoch {epoch}"
                );
            }
            for epoch in 3..5 {
                assert_eq!(
                    held(&mut store, &dealer, epoch).await,
                    [true; 3],
                    "epoch {epoch}"
                );
            }
            assert_eq!(
                store.get_dealing(Epoch::new(4), &dealer).await,
                Some(dealing(5))
            );
            // Pruning everything leaves a store that held secrets, not a vacant one.
            store.prune(Epoch::new(100)).await;
            assert_eq!(held(&mut store, &dealer, 4).await, [false; 3]);
            assert!(!store.is_vacant().await.unwrap());
        });
    }

    #[test]
    fn epoch_zero_is_seeded_once_only() {
        let shares = shares();
        let (_, checkpoint) = deterministic::Runner::default().start_and_recover({
            let shares = shares.clone();
            move |context| async move {
                let mut store = open(&context, "first").await;
                assert!(store.is_vacant().await.unwrap());
                assert!(store.seed_epoch_zero(shares[0].clone()).await.unwrap());
                assert!(!store.is_vacant().await.unwrap());
                assert_eq!(
                    bytes(store.get_share(Epoch::zero()).await),
                    bytes(Some(shares[0].clone()))
                );
                // A second seed, even of another share, changes nothing.
                assert!(!store.seed_epoch_zero(shares[1].clone()).await.unwrap());
                assert_eq!(
                    bytes(store.get_share(Epoch::zero()).await),
                    bytes(Some(shares[0].clone()))
                );
                // The reshare actor moved on and pruned epoch zero.
                store.prune(Epoch::new(1)).await;
                assert!(store.get_share(Epoch::zero()).await.is_none());
            }
        });
        deterministic::Runner::from(checkpoint).start(|context| async move {
            let mut store = open(&context, "second").await;
            assert!(!store.is_vacant().await.unwrap());
            assert!(!store.seed_epoch_zero(shares[0].clone()).await.unwrap());
            assert!(store.get_share(Epoch::zero()).await.is_none());
        });
    }

    #[test]
    fn a_store_the_reshare_actor_wrote_to_is_not_seeded() {
        let shares = shares();
        deterministic::Runner::default().start(|context| async move {
            let mut store = open(&context, "first").await;
            store.put_seed(Epoch::zero(), seed(1)).await;
            assert!(!store.seed_epoch_zero(shares[0].clone()).await.unwrap());
            assert!(store.get_share(Epoch::zero()).await.is_none());
        });
    }

    #[test]
    fn dealings_beyond_the_bound_are_refused_and_the_store_still_opens() {
        let max = max_participants();
        let dealers: Vec<_> = (0..=u64::try_from(max).unwrap()).map(key_of).collect();
        deterministic::Runner::default().start(|context| async move {
            let mut store = open(&context, "first").await;
            let epoch = Epoch::new(1);
            for (value, dealer) in (1..).zip(&dealers[..max]) {
                store
                    .put_dealing(epoch, dealer.clone(), dealing(value))
                    .await;
            }
            let extra = &dealers[max];
            store.put_dealing(epoch, extra.clone(), dealing(999)).await;
            assert!(store.get_dealing(epoch, extra).await.is_none());
            // A dealer already held may still be written.
            store
                .put_dealing(epoch, dealers[0].clone(), dealing(1000))
                .await;
            drop(store);

            let mut store = open(&context, "second").await;
            assert_eq!(
                store.get_dealing(epoch, &dealers[0]).await,
                Some(dealing(1000))
            );
            assert_eq!(
                store.get_dealing(epoch, &dealers[max - 1]).await,
                Some(dealing(u64::try_from(max).unwrap()))
            );
            assert!(store.get_dealing(epoch, extra).await.is_none());
        });
    }

    #[test]
    fn an_epoch_decodes_within_its_bounds_only() {
        let mut secrets = EpochSecrets {
            share: Some(shares()[2].clone()),
            seed: Some(seed(4)),
            dealings: BTreeMap::new(),
        };
        secrets
            .insert_dealing(key_of(1).encode().to_vec(), dealing(5))
            .unwrap();
        let encoded = Record::Epoch(secrets.clone()).encode();
        let Record::Epoch(decoded) = Record::decode(encoded.clone()).expect("round trip") else {
            panic!("an epoch record decodes as one");
        };
        assert_eq!(Record::Epoch(decoded).encode(), encoded);
        assert!(matches!(
            Record::decode(Record::Initialized.encode()),
            Ok(Record::Initialized)
        ));

        // One dealing more than a ceremony has dealers.
        let mut crowded = EpochSecrets::default();
        for seed in 0..=u64::try_from(max_participants()).unwrap() {
            crowded
                .dealings
                .insert(key_of(seed).encode().to_vec(), dealing(1));
        }
        assert!(Record::decode(Record::Epoch(crowded).encode()).is_err());

        // A dealer key longer than any key type the store is built for.
        let mut long = EpochSecrets::default();
        long.dealings
            .insert(vec![7; MAX_DEALER_KEY_BYTES + 1], dealing(1));
        assert!(Record::decode(Record::Epoch(long).encode()).is_err());

        // insert_dealing stops at the bound rather than write what cannot be read back.
        let mut full = EpochSecrets::default();
        for seed in 0..u64::try_from(max_participants()).unwrap() {
            full.insert_dealing(key_of(seed).encode().to_vec(), dealing(1))
                .unwrap();
        }
        assert_eq!(
            full.insert_dealing(key_of(9999).encode().to_vec(), dealing(1)),
            Err(DealingsFull)
        );
    }

    #[test]
    fn keys_name_one_epoch_each_and_the_mark_none() {
        for epoch in [0, 1, u64::MAX] {
            assert_eq!(
                key_epoch(&epoch_key(Epoch::new(epoch))),
                Some(Epoch::new(epoch))
            );
        }
        assert_ne!(epoch_key(Epoch::zero()), INITIALIZED);
        assert_eq!(key_epoch(&INITIALIZED), None);
    }
}
