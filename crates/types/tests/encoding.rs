//! The canonical encoding: pinned bytes for one transaction and one header, and decoding that
//! refuses trailing bytes, oversized input, unknown tags and non-canonical values.

use commonware_cryptography::{Signer, ed25519::PrivateKey};
use types::{
    AccountId, AssetId, BlockHeader, Call, ChainId, Digest, SignedTransaction, Transaction,
    bank::{BankCall, IssueAsset, Transfer},
    codec::{Encode, decode},
    hash,
    tx::{MAX_TX_BYTES, TxDecodeError},
};

fn account(seed: u64) -> AccountId {
    AccountId::from_public_key(&PrivateKey::from_seed(seed).public_key())
}

fn fixed_transaction() -> SignedTransaction {
    let tx = Transaction {
        chain_id: ChainId::new("equa-conformance").unwrap(),
        signer: account(1),
        nonce: 7,
        fee: 1_500,
        expires_at_height: 1_000,
        call: Call::Bank(BankCall::Transfer(Transfer {
            to: account(2),
            asset: AssetId(3),
            amount: 12_500_000,
        })),
    };
    SignedTransaction::sign(tx, &PrivateKey::from_seed(1))
}

fn fixed_header() -> BlockHeader {
    BlockHeader {
        parent: Digest([0x11; 32]),
        height: 42,
        timestamp_ms: 1_767_225_600_000,
        proposer: account(3),
        tx_root: types::tx_root(&[fixed_transaction().id()]),
        state_root: Digest([0x22; 32]),
    }
}

fn fingerprint(bytes: &[u8]) -> String {
    hash(b"conformance", &[bytes]).to_string()
}

/// If this test fails, the wire format changed: every node and wallet must change with it.
/// Update the pinned values only for an intended, coordinated format change.
#[test]
fn transaction_encoding_is_pinned() {
    let tx = fixed_transaction();
    let bytes = tx.encode();
    assert_eq!(bytes.len(), tx.size());
    assert_eq!(bytes.len(), 199);
    assert_eq!(
        fingerprint(&bytes),
        "1b6a8f3ea1ee48295793434a2b29a9e28bb50dc5a68ddfce5de8bc97e4b3601e"
    );
    assert_eq!(decode::<SignedTransaction>(&bytes).unwrap(), tx);
    assert!(tx.verify_signature());
}

#[test]
fn header_encoding_is_pinned() {
    let header = fixed_header();
    let bytes = header.encode();
    assert_eq!(bytes.len(), 32 + 8 + 8 + 32 + 32 + 32);
    assert_eq!(
        fingerprint(&bytes),
        "47db010136731a5ddd91d84dc6eae8da63989ec14ed254a00137c5a7e50ea6af"
    );
    assert_eq!(decode::<BlockHeader>(&bytes).unwrap(), header);
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut bytes = fixed_transaction().encode().to_vec();
    bytes.push(0);
    assert!(decode::<SignedTransaction>(&bytes).is_err());
    let mut header = fixed_header().encode().to_vec();
    header.push(0);
    assert!(decode::<BlockHeader>(&header).is_err());
}

#[test]
fn truncated_input_is_rejected() {
    let bytes = fixed_transaction().encode();
    for cut in [0, 1, 10, bytes.len() - 1] {
        assert!(
            decode::<SignedTransaction>(&bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
}

#[test]
fn oversized_input_is_rejected_before_decoding() {
    let bytes = vec![0u8; MAX_TX_BYTES + 1];
    assert!(matches!(
        SignedTransaction::decode(&bytes),
        Err(TxDecodeError::Oversized { size, limit }) if size == MAX_TX_BYTES + 1 && limit == MAX_TX_BYTES
    ));
}

#[test]
fn unknown_call_tags_are_rejected() {
    let tx = fixed_transaction();
    let bytes = tx.encode().to_vec();
    // The call tag follows chain id (1 + 16 bytes), signer (32), nonce (8), fee (16) and
    // expiry (8).
    let tag_at = 1 + 16 + 32 + 8 + 16 + 8;
    assert_eq!(bytes[tag_at], 0, "the bank module's tag");
    for tag in [200u8, 255] {
        let mut bad = bytes.clone();
        bad[tag_at] = tag;
        assert!(decode::<SignedTransaction>(&bad).is_err());
    }
    let mut bad = bytes.clone();
    bad[tag_at + 1] = 99; // the bank call's own tag
    assert!(decode::<SignedTransaction>(&bad).is_err());
}

#[test]
fn non_canonical_values_are_rejected() {
    let issue = Call::Bank(BankCall::IssueAsset(IssueAsset {
        symbol: "USDX".parse().unwrap(),
        name: types::Text::new("Dollar").unwrap(),
        decimals: 6,
        max_supply: Some(5),
    }));
    let bytes = issue.encode().to_vec();
    assert_eq!(decode::<Call>(&bytes).unwrap(), issue);
    // The option tag of max_supply must be 0 or 1; 2 is not a canonical boolean.
    let option_at = bytes.len() - 17;
    assert_eq!(bytes[option_at], 1);
    let mut bad = bytes.clone();
    bad[option_at] = 2;
    assert!(decode::<Call>(&bad).is_err());
    // An overlong length prefix (0x84 0x00 for 4) is not the canonical varint.
    let mut overlong = vec![bytes[0], bytes[1], 0x84, 0x00];
    overlong.extend_from_slice(&bytes[3..]);
    assert!(decode::<Call>(&overlong).is_err());
    // A lower-case symbol is not a symbol.
    let mut lower = bytes.clone();
    lower[3] = b'u';
    assert!(decode::<Call>(&lower).is_err());
}

#[test]
fn signatures_are_bound_to_the_chain() {
    let tx = fixed_transaction();
    let mut body = tx.tx().clone();
    body.chain_id = ChainId::new("equa-elsewhere").unwrap();
    let moved = SignedTransaction::from_parts(body, tx.signature().clone());
    assert!(!moved.verify_signature());
}
