//! The transaction envelope, its signature and its identifier.

use crate::{
    AccountId, ChainId, Digest,
    bank::BankCall,
    codec::{Buf, CodecError, Encode, EncodeSize, Read, Write},
    hash, impl_codec, impl_codec_enum,
    lending::LendingCall,
    market::MarketCall,
    staking::StakingCall,
};
use bytes::BufMut;
use commonware_cryptography::{Signer, Verifier, ed25519};

/// The namespace prefix of transaction signatures; the chain id is appended to it, so a
/// signature made for one chain never verifies on another. Changing it is a breaking change.
pub const TX_SIGNATURE_NAMESPACE: &[u8] = b"EQUA_TX_V1:";
/// The domain of transaction identifiers.
const TX_ID_NAMESPACE: &[u8] = b"EQUA_TX_ID_V1";
/// The largest encoded signed transaction any node accepts.
pub const MAX_TX_BYTES: usize = 64 * 1024;

/// What a transaction asks the ledger to do. Each module owns one variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    Bank(BankCall),
    Market(MarketCall),
    Lending(LendingCall),
    Staking(StakingCall),
}
impl_codec_enum!(Call { 0 => Bank, 1 => Market, 2 => Lending, 3 => Staking });

impl Call {
    /// The name under which this call's fee is set in the chain's parameters.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Bank(call) => call.kind(),
            Self::Market(call) => call.kind(),
            Self::Lending(call) => call.kind(),
            Self::Staking(call) => call.kind(),
        }
    }
}

/// The signed content of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    pub chain_id: ChainId,
    pub signer: AccountId,
    /// Must equal the signer's current nonce; it increases by one with every included transaction.
    pub nonce: u64,
    /// EQA minor units the signer pays, at least the chain's fee for this call and size.
    pub fee: u128,
    /// The last block height at which the transaction may be included.
    pub expires_at_height: u64,
    pub call: Call,
}
impl_codec!(Transaction {
    chain_id,
    signer,
    nonce,
    fee,
    expires_at_height,
    call
});

/// The identifier of a transaction: a hash of its signed content (not of the signature, so
/// a re-encoded signature cannot give the same transaction a second identity).
pub type TxId = Digest;

/// The namespace a transaction for `chain_id` is signed under.
pub fn signature_namespace(chain_id: &ChainId) -> Vec<u8> {
    let mut namespace = TX_SIGNATURE_NAMESPACE.to_vec();
    namespace.extend_from_slice(chain_id.as_str().as_bytes());
    namespace
}

/// Why bytes could not be read as a signed transaction.
#[derive(Debug, thiserror::Error)]
pub enum TxDecodeError {
    #[error("transaction is {size} bytes; the limit is {limit}")]
    Oversized { size: usize, limit: usize },
    #[error("transaction bytes are malformed: {0}")]
    Malformed(CodecError),
}

/// A transaction with its signature. The encoded size and identifier are computed once, when the
/// value is built or decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTransaction {
    tx: Transaction,
    signature: ed25519::Signature,
    /// The signer's key, decompressed once.
    signer_key: ed25519::PublicKey,
    id: TxId,
    encoded_size: usize,
}

impl SignedTransaction {
    /// Signs `tx` with `key`. The key need not be the signer's: a mismatched key yields a
    /// transaction that the ledger rejects, which tests rely on.
    pub fn sign(tx: Transaction, key: &ed25519::PrivateKey) -> Self {
        let signature = key.sign(&signature_namespace(&tx.chain_id), &tx.encode());
        Self::from_parts(tx, signature)
    }

    pub fn from_parts(tx: Transaction, signature: ed25519::Signature) -> Self {
        let message = tx.encode();
        let id = hash(TX_ID_NAMESPACE, &[&message]);
        let encoded_size = message.len() + signature.encode_size();
        let signer_key = tx.signer.public_key();
        Self {
            tx,
            signature,
            signer_key,
            id,
            encoded_size,
        }
    }

    pub fn tx(&self) -> &Transaction {
        &self.tx
    }

    pub fn signature(&self) -> &ed25519::Signature {
        &self.signature
    }

    pub fn signer_key(&self) -> &ed25519::PublicKey {
        &self.signer_key
    }

    pub fn id(&self) -> TxId {
        self.id
    }

    /// The size of the canonical encoding, on which the per-byte fee is charged.
    pub fn size(&self) -> usize {
        self.encoded_size
    }

    /// Decodes one complete signed transaction, refusing input over [`MAX_TX_BYTES`] before
    /// looking at it and rejecting trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, TxDecodeError> {
        if bytes.len() > MAX_TX_BYTES {
            return Err(TxDecodeError::Oversized {
                size: bytes.len(),
                limit: MAX_TX_BYTES,
            });
        }
        crate::codec::decode(bytes).map_err(TxDecodeError::Malformed)
    }

    /// The bytes the signature covers.
    pub fn signing_message(&self) -> Vec<u8> {
        self.tx.encode().to_vec()
    }

    /// Checks the signature against the signer and the chain id inside the transaction.
    pub fn verify_signature(&self) -> bool {
        self.signer_key.verify(
            &signature_namespace(&self.tx.chain_id),
            &self.tx.encode(),
            &self.signature,
        )
    }
}

impl Write for SignedTransaction {
    fn write(&self, buf: &mut impl BufMut) {
        self.tx.write(buf);
        self.signature.write(buf);
    }
}

impl EncodeSize for SignedTransaction {
    fn encode_size(&self) -> usize {
        self.encoded_size
    }
}

impl Read for SignedTransaction {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let tx = Transaction::read_cfg(buf, &())?;
        let signature = ed25519::Signature::read_cfg(buf, &())?;
        Ok(Self::from_parts(tx, signature))
    }
}
