//! Light verification of account state.
//!
//! A node proves an account's records at its latest finalized height: the block, the block's
//! finalization certificate, and for each ledger record (the nonce, every balance) a QMDB
//! `current` proof that the authenticated store maps the record's key to the record's value under
//! the block's `state_root` (see [`crate::state`] for how ledger records map onto the store).
//!
//! [`verify`] needs nothing from the node but these bytes and the chain's public key (its
//! consensus identity, [`crate::threshold`]): the finalization's recovered signature, which only
//! a quorum of the key's share holders can make, verifies under it, the finalization names the
//! block's digest, and every record verifies against the root inside that block.
//!
//! What it cannot show: that the node sent every record. The store proves values, not absence,
//! so a node could leave a balance out; it cannot add or change one.

use crate::{
    AppHandle, BITMAP_CHUNK, Databases, Scheme,
    block::Block,
    engine::CONSENSUS_NAMESPACE,
    state::record_chunks,
    threshold::{self, Identity},
};
use commonware_codec::{DecodeExt, Encode, Read};
use commonware_consensus::{
    marshal::{Identifier, core::Mailbox as MarshalMailbox, standard::Standard},
    simplex::types::Finalization,
    types::Height,
};
use commonware_cryptography::{Digestible, certificate::Verifier as _};
use commonware_parallel::Sequential;
use commonware_storage::{mmr, qmdb::current::proof::constant::OperationProof};
use rpc::views::{AccountProofView, ProofRecordView};
use std::{collections::BTreeMap, time::Duration};
use types::{AccountId, AssetId, Digest};

/// The longest a proof may be (in digests) when decoded: far above any real store's depth.
const MAX_PROOF_DIGESTS: usize = 256;

/// The proof of one store entry.
type KeyValueProof = OperationProof<mmr::Family, Digest, BITMAP_CHUNK>;

/// Where a node's proofs come from: its authenticated store and its finalization certificates.
pub struct ProofSource {
    db: Databases<commonware_runtime::tokio::Context>,
    marshal: MarshalMailbox<Scheme, Standard<Block>>,
    app: AppHandle,
    blocks_per_epoch: std::num::NonZeroU64,
    /// The checkpoint the node's state sync started from (see [`crate::checkpoint::answer`]).
    held_checkpoint: Option<crate::checkpoint::Checkpoint>,
}

impl std::fmt::Debug for ProofSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofSource").finish_non_exhaustive()
    }
}

impl ProofSource {
    pub fn new(
        db: Databases<commonware_runtime::tokio::Context>,
        marshal: MarshalMailbox<Scheme, Standard<Block>>,
        app: AppHandle,
        blocks_per_epoch: std::num::NonZeroU64,
        held_checkpoint: Option<crate::checkpoint::Checkpoint>,
    ) -> Self {
        Self {
            db,
            marshal,
            app,
            blocks_per_epoch,
            held_checkpoint,
        }
    }

    /// The boundary of the epoch of the latest finalized block (see [`crate::checkpoint`]), or
    /// else the checkpoint the node's state sync started from.
    pub async fn checkpoint(&self) -> Result<rpc::views::CheckpointView, String> {
        crate::checkpoint::current(
            &self.marshal,
            &self.app,
            self.blocks_per_epoch,
            self.held_checkpoint.as_ref(),
        )
        .await
    }

    /// The account's records with proofs at the latest finalized height.
    pub async fn prove(&self, account: &AccountId) -> Result<AccountProofView, String> {
        // The store moves to a block's state just before the node records that block as
        // finalized; try again until both name the same block.
        for _ in 0..40 {
            if let Some(view) = self.try_prove(account).await? {
                return Ok(view);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err("the node's store and finalized state did not settle on one block; try again".into())
    }

    async fn try_prove(&self, account: &AccountId) -> Result<Option<AccountProofView>, String> {
        let (height, records) = {
            let db = self.db.shared().read().await;
            let Some(finalized) = self.app.finalized() else {
                return Err("the node has not finalized a block yet".into());
            };
            if db.root() != finalized.state_root {
                return Ok(None);
            }
            let mut records = Vec::new();
            for (key, value) in account_records(&finalized.store, account) {
                let [(stored_at, _)] = record_chunks(&key, &value)[..] else {
                    return Err(format!("record {} spans several chunks", hex::encode(&key)));
                };
                let proof = db
                    .key_value_proof(stored_at)
                    .await
                    .map_err(|e| format!("cannot prove {}: {e}", hex::encode(&key)))?;
                records.push(ProofRecordView {
                    key: hex::encode(&key),
                    value: hex::encode(&value),
                    proof: hex::encode(proof.encode()),
                });
            }
            (finalized.height, records)
        };
        let block = self
            .marshal
            .get_block(Identifier::Height(Height::new(height)))
            .await
            .ok_or_else(|| format!("block {height} is no longer stored"))?;
        let finalization = self
            .marshal
            .get_finalization(Height::new(height))
            .await
            .ok_or_else(|| format!("the finalization of block {height} is no longer stored"))?;
        Ok(Some(AccountProofView {
            account: account.to_string(),
            height,
            block: hex::encode(block.encode()),
            finalization: hex::encode(finalization.encode()),
            records,
        }))
    }
}

/// The ledger records of `account`: its nonce and its balances, in key order.
fn account_records(store: &ledger::MemoryStore, account: &AccountId) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut records: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let nonce_key = ledger::state::nonce_key(account);
    if let Some(value) = ledger::Store::get(store, &nonce_key) {
        records.push((nonce_key, value.to_vec()));
    }
    let prefix = ledger::state::balance_key(account, AssetId(0));
    let prefix = &prefix[..prefix.len() - ASSET_ID_BYTES];
    for (key, value) in store.scan_prefix(prefix) {
        records.push((key.to_vec(), value.to_vec()));
    }
    records
}

/// An account's state as verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub height: u64,
    /// The consensus epoch whose committee signed the certificate; every epoch signs under the
    /// one chain key.
    pub epoch: u64,
    pub block: Digest,
    pub state_root: Digest,
    pub nonce: u64,
    /// Balances by asset, in minor units; assets the node sent no record for are absent.
    pub balances: BTreeMap<AssetId, u128>,
}

/// Why a proof does not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the proof is malformed: {0}")]
    Malformed(String),
    #[error("the finalization certificate is not signed under the chain's consensus key")]
    Certificate,
    #[error("the certificate finalizes another block than the one sent")]
    WrongBlock,
    #[error("the proof is for account {found}, not {expected}")]
    WrongAccount { expected: String, found: String },
    #[error("record {key} is not this account's nonce or balance")]
    ForeignRecord { key: String },
    #[error("record {key} does not verify against the block's state root")]
    Record { key: String },
}

fn unhex(what: &str, text: &str) -> Result<Vec<u8>, VerifyError> {
    hex::decode(text).map_err(|e| VerifyError::Malformed(format!("{what}: {e}")))
}

/// Decodes a hex block and its hex finalization certificate and checks that a quorum of the
/// chain key's share holders finalized that block at `height`, trusting only `identity`.
pub(crate) fn finalized_block(
    block: &str,
    finalization: &str,
    height: u64,
    identity: &Identity,
) -> Result<(Block, Finalization<Scheme, Digest>), VerifyError> {
    let block = Block::decode(bytes::Bytes::from(unhex("block", block)?))
        .map_err(|e| VerifyError::Malformed(format!("block: {e}")))?;
    if block.height.get() != height {
        return Err(VerifyError::Malformed(format!(
            "the block is at height {}, not {height}",
            block.height.get(),
        )));
    }
    let verifier = threshold::certificate_verifier(CONSENSUS_NAMESPACE, *identity);
    let mut bytes = bytes::Bytes::from(unhex("finalization", finalization)?);
    let finalization =
        Finalization::<Scheme, Digest>::read_cfg(&mut bytes, &verifier.certificate_codec_config())
            .map_err(|e| VerifyError::Malformed(format!("finalization: {e}")))?;
    if !bytes.is_empty() {
        return Err(VerifyError::Malformed(
            "finalization: trailing bytes".into(),
        ));
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("the operating system provides randomness");
    let mut rng = <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::from_seed(seed);
    if !finalization.verify(&mut rng, &verifier, &Sequential) {
        return Err(VerifyError::Certificate);
    }
    if finalization.proposal.payload != block.digest() {
        return Err(VerifyError::WrongBlock);
    }
    Ok((block, finalization))
}

/// Checks `view` for `account` trusting only `identity`, the chain's consensus key: a quorum of
/// whichever validators held its shares signed the finalization.
pub fn verify(
    view: &AccountProofView,
    account: &AccountId,
    identity: &Identity,
) -> Result<Verified, VerifyError> {
    if view.account != account.to_string() {
        return Err(VerifyError::WrongAccount {
            expected: account.to_string(),
            found: view.account.clone(),
        });
    }
    let (block, finalization) =
        finalized_block(&view.block, &view.finalization, view.height, identity)?;
    let nonce_key = ledger::state::nonce_key(account);
    let mut verified = Verified {
        height: view.height,
        epoch: commonware_consensus::Epochable::epoch(&finalization).get(),
        block: block.digest(),
        state_root: block.state_root,
        nonce: 0,
        balances: BTreeMap::new(),
    };
    for record in &view.records {
        let key = unhex("record key", &record.key)?;
        let value = unhex("record value", &record.value)?;
        let proof = KeyValueProof::read_cfg(
            &mut bytes::Bytes::from(unhex("record proof", &record.proof)?),
            &MAX_PROOF_DIGESTS,
        )
        .map_err(|e| VerifyError::Malformed(format!("proof of {}: {e}", record.key)))?;
        // An account record always fits one chunk; one that does not is not an account record.
        // (Checked on the lengths first: a node's record may be of any length.)
        let fits = key.len() + value.len() <= crate::state::CHUNK_BYTES;
        let chunks = if fits {
            record_chunks(&key, &value)
        } else {
            Vec::new()
        };
        let [(stored_at, chunk)] = chunks[..] else {
            return Err(VerifyError::ForeignRecord {
                key: record.key.clone(),
            });
        };
        if !crate::Qmdb::<commonware_runtime::tokio::Context>::verify_key_value_proof(
            stored_at,
            chunk,
            &proof,
            &block.state_root,
        ) {
            return Err(VerifyError::Record {
                key: record.key.clone(),
            });
        }
        // Only now that the record is proven does its meaning matter.
        let decode = |what: &str| VerifyError::Malformed(format!("{what} {}", record.value));
        if key == nonce_key {
            verified.nonce = types::codec::decode(&value).map_err(|_| decode("nonce"))?;
        } else if let Some(asset) = balance_asset(&key, account) {
            let amount: u128 = types::codec::decode(&value).map_err(|_| decode("balance"))?;
            verified.balances.insert(asset, amount);
        } else {
            return Err(VerifyError::ForeignRecord {
                key: record.key.clone(),
            });
        }
    }
    Ok(verified)
}

/// The asset of `key` when it is one of `account`'s balance keys.
fn balance_asset(key: &[u8], account: &AccountId) -> Option<AssetId> {
    let tail = key.get(key.len().checked_sub(ASSET_ID_BYTES)?..)?;
    let asset = AssetId(u32::from_be_bytes(tail.try_into().ok()?));
    (ledger::state::balance_key(account, asset) == key).then_some(asset)
}

/// A balance key ends with the asset id, big-endian.
const ASSET_ID_BYTES: usize = 4;
