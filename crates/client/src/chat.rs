//! End-to-end encryption of trade chat.
//!
//! The two parties of a trade agree on a *conversation key* without talking: each combines its
//! own X25519 chat secret with the other's published chat key (Diffie-Hellman), and HKDF-SHA256
//! turns the shared secret into a key bound to the trade. Every message is sealed with
//! ChaCha20-Poly1305 under a fresh random nonce, with the sender's account as associated data, so
//! a message cannot be replayed as if the other party had sent it.
//!
//! In a dispute a party may hand the conversation key to the arbitrator: it is sealed to the
//! arbitrator's chat key under a one-time (ephemeral) X25519 key. The ledger only ever stores
//! ciphertext.

use chacha20poly1305::{
    ChaCha20Poly1305, KeyInit,
    aead::{Aead, Payload},
};
use hkdf::Hkdf;
use sha2::Sha256;
use types::AccountId;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

const CONVERSATION_INFO: &[u8] = b"EQUA_CHAT_CONVERSATION_V1";
const REVEAL_INFO: &[u8] = b"EQUA_CHAT_REVEAL_V1";
const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    #[error("the message is too short to be a sealed chat message")]
    Truncated,
    #[error("the message was not sealed with this conversation's key, or was altered")]
    NotAuthentic,
    #[error("the other party's chat key is not a usable X25519 public key")]
    WeakKey,
}

/// The symmetric key of one trade's conversation.
#[derive(Clone)]
pub struct ConversationKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for ConversationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConversationKey(..)")
    }
}

impl ConversationKey {
    /// The key `me` shares with the owner of `their_public` for trade `trade_id`. Both parties
    /// compute the same key.
    pub fn agree(
        me: &StaticSecret,
        their_public: &[u8; 32],
        trade_id: &[u8],
    ) -> Result<Self, ChatError> {
        let shared = me.diffie_hellman(&PublicKey::from(*their_public));
        // An all-zero result means the other key has small order: no secret was agreed.
        if !shared.was_contributory() {
            return Err(ChatError::WeakKey);
        }
        Ok(Self(expand(shared.as_bytes(), trade_id, CONVERSATION_INFO)))
    }

    /// Seals `plaintext` as sent by `sender`: nonce (12 bytes) then ciphertext and tag.
    pub fn seal(&self, sender: &AccountId, plaintext: &[u8]) -> Vec<u8> {
        seal(&self.0, sender.as_bytes(), plaintext)
    }

    /// Opens a message that claims to be from `sender`.
    pub fn open(&self, sender: &AccountId, sealed: &[u8]) -> Result<Vec<u8>, ChatError> {
        open(&self.0, sender.as_bytes(), sealed)
    }

    /// Seals this key to an arbitrator's chat key, for `reveal_key`. The result is the one-time
    /// public key (32 bytes), a nonce (12) and the sealed key (32 + 16).
    pub fn reveal_to(&self, arbitrator_public: &[u8; 32], trade_id: &[u8]) -> Vec<u8> {
        let ephemeral = StaticSecret::from(crate::random_bytes::<32>());
        let ephemeral_public = PublicKey::from(&ephemeral).to_bytes();
        let shared = ephemeral.diffie_hellman(&PublicKey::from(*arbitrator_public));
        let wrapping = expand(shared.as_bytes(), trade_id, REVEAL_INFO);
        let mut out = ephemeral_public.to_vec();
        out.extend(seal(&wrapping, &ephemeral_public, self.0.as_ref()));
        out
    }

    /// The arbitrator's side of [`ConversationKey::reveal_to`].
    pub fn open_revealed(
        arbitrator: &StaticSecret,
        revealed: &[u8],
        trade_id: &[u8],
    ) -> Result<Self, ChatError> {
        let (ephemeral_public, sealed) = revealed
            .split_first_chunk::<32>()
            .ok_or(ChatError::Truncated)?;
        let shared = arbitrator.diffie_hellman(&PublicKey::from(*ephemeral_public));
        let wrapping = expand(shared.as_bytes(), trade_id, REVEAL_INFO);
        let key = Zeroizing::new(open(&wrapping, ephemeral_public, sealed)?);
        let key: [u8; 32] = key
            .as_slice()
            .try_into()
            .map_err(|_| ChatError::NotAuthentic)?;
        Ok(Self(Zeroizing::new(key)))
    }
}

fn expand(shared: &[u8; 32], trade_id: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(trade_id), shared)
        .expand(info, key.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    key
}

fn seal(key: &[u8; 32], associated: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let nonce = crate::random_bytes::<NONCE_BYTES>();
    let cipher = ChaCha20Poly1305::new_from_slice(key).expect("32-byte key");
    let sealed = cipher
        .encrypt(
            &nonce.into(),
            Payload {
                msg: plaintext,
                aad: associated,
            },
        )
        .expect("sealing cannot fail for messages under 256 GiB");
    let mut out = nonce.to_vec();
    out.extend(sealed);
    out
}

fn open(key: &[u8; 32], associated: &[u8], sealed: &[u8]) -> Result<Vec<u8>, ChatError> {
    if sealed.len() < NONCE_BYTES + TAG_BYTES {
        return Err(ChatError::Truncated);
    }
    let (nonce, body) = sealed.split_at(NONCE_BYTES);
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().expect("split at the nonce length");
    let cipher = ChaCha20Poly1305::new_from_slice(key).expect("32-byte key");
    cipher
        .decrypt(
            &nonce.into(),
            Payload {
                msg: body,
                aad: associated,
            },
        )
        .map_err(|_| ChatError::NotAuthentic)
}

/// What binds a conversation key to one trade: the trade id, big-endian.
pub fn trade_context(trade: u64) -> [u8; 8] {
    trade.to_be_bytes()
}

/// One message of a trade's chat, opened for the reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    pub index: u32,
    pub sender: String,
    pub at_ms: u64,
    /// The text, or why it could not be opened.
    pub text: Result<String, String>,
}

/// The conversation key of `trade` for the holder of `secret` (whose account is `me`): a party
/// agrees it with the other party's chat key; the arbitrator opens a key a party revealed.
pub fn conversation_for(
    secret: &StaticSecret,
    me: &str,
    trade: &rpc::market::TradeView,
    chat: &rpc::market::ChatView,
) -> Result<ConversationKey, String> {
    let context = trade_context(trade.id);
    let key = |hex_key: &Option<String>, whose: &str| -> Result<[u8; 32], String> {
        let text = hex_key.as_ref().ok_or_else(|| {
            format!("the {whose} has not published a chat key yet (`equa profile set`)")
        })?;
        hex::decode(text)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| format!("the {whose}'s chat key is malformed"))
    };
    if me == trade.buyer {
        ConversationKey::agree(secret, &key(&chat.seller_key, "seller")?, &context)
            .map_err(|e| e.to_string())
    } else if me == trade.seller {
        ConversationKey::agree(secret, &key(&chat.buyer_key, "buyer")?, &context)
            .map_err(|e| e.to_string())
    } else if trade.arbitrator.as_deref() == Some(me) {
        arbitrator_key(secret, chat, &context)
    } else {
        Err(format!("{me} is not a party to trade {}", trade.id))
    }
}

/// The conversation key an arbitrator opens from the keys the parties revealed to it. The
/// ledger cannot check a revealed key, so a party may reveal a false one to hide the other
/// side's messages: of the keys revealed, the one that opens the most messages is taken (a
/// false key opens none), the buyer's on a tie.
pub fn arbitrator_key(
    secret: &StaticSecret,
    chat: &rpc::market::ChatView,
    context: &[u8],
) -> Result<ConversationKey, String> {
    if chat.revealed_by_buyer.is_none() && chat.revealed_by_seller.is_none() {
        return Err("neither party has revealed the conversation to the arbitrator yet".into());
    }
    let opened = |key: &ConversationKey| {
        open_all(key, chat)
            .iter()
            .filter(|message| message.text.is_ok())
            .count()
    };
    [&chat.revealed_by_seller, &chat.revealed_by_buyer]
        .into_iter()
        .flatten()
        .filter_map(|revealed| {
            let revealed = hex::decode(revealed).ok()?;
            ConversationKey::open_revealed(secret, &revealed, context).ok()
        })
        .max_by_key(opened)
        .ok_or_else(|| "no revealed key opens for this arbitrator".to_string())
}

/// Opens every message of `chat` with `key`.
pub fn open_all(key: &ConversationKey, chat: &rpc::market::ChatView) -> Vec<Opened> {
    chat.messages
        .iter()
        .map(|message| {
            let text = AccountId::parse(&message.sender)
                .map_err(|e| e.to_string())
                .and_then(|sender| {
                    let sealed = hex::decode(&message.ciphertext).map_err(|e| e.to_string())?;
                    key.open(&sender, &sealed).map_err(|e| e.to_string())
                })
                .map(|plain| String::from_utf8_lossy(&plain).into_owned());
            Opened {
                index: message.index,
                sender: message.sender.clone(),
                at_ms: message.at_ms,
                text,
            }
        })
        .collect()
}
