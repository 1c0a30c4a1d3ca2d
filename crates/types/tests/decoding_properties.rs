//! Property tests for every decoder: arbitrary bytes never panic, and every encodable value
//! decodes back to itself with nothing left over.

use commonware_cryptography::{Signer, ed25519::PrivateKey};
use proptest::prelude::*;
use types::{
    AccountId, AssetId, BlockHeader, Call, ChainId, Digest, SignedTransaction, Symbol, Text,
    Transaction,
    bank::{BankCall, Burn, IssueAsset, Mint, Transfer},
    codec::{Encode, decode},
};

fn account() -> impl Strategy<Value = AccountId> {
    (0u64..64)
        .prop_map(|seed| AccountId::from_public_key(&PrivateKey::from_seed(seed).public_key()))
}

fn symbol() -> impl Strategy<Value = Symbol> {
    "[A-Z][A-Z0-9]{1,11}".prop_map(|text| Symbol::new(&text).unwrap())
}

fn bank_call() -> impl Strategy<Value = BankCall> {
    prop_oneof![
        (account(), any::<u32>(), any::<u128>()).prop_map(|(to, asset, amount)| {
            BankCall::Transfer(Transfer {
                to,
                asset: AssetId(asset),
                amount,
            })
        }),
        (
            symbol(),
            ".{0,16}",
            any::<u8>(),
            proptest::option::of(any::<u128>())
        )
            .prop_map(|(symbol, name, decimals, max_supply)| {
                BankCall::IssueAsset(IssueAsset {
                    symbol,
                    name: Text::new(name.chars().take(16).collect::<String>()).unwrap(),
                    decimals,
                    max_supply,
                })
            }),
        (any::<u32>(), account(), any::<u128>()).prop_map(|(asset, to, amount)| {
            BankCall::Mint(Mint {
                asset: AssetId(asset),
                to,
                amount,
            })
        }),
        (any::<u32>(), any::<u128>()).prop_map(|(asset, amount)| BankCall::Burn(Burn {
            asset: AssetId(asset),
            amount
        })),
    ]
}

fn transaction() -> impl Strategy<Value = (Transaction, u64)> {
    (
        "[a-z0-9-]{1,32}",
        0u64..64,
        any::<u64>(),
        any::<u128>(),
        any::<u64>(),
        bank_call(),
    )
        .prop_map(|(chain, seed, nonce, fee, expires_at_height, call)| {
            let signer = AccountId::from_public_key(&PrivateKey::from_seed(seed).public_key());
            (
                Transaction {
                    chain_id: ChainId::new(&chain).unwrap(),
                    signer,
                    nonce,
                    fee,
                    expires_at_height,
                    call: Call::Bank(call),
                },
                seed,
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic_a_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode::<SignedTransaction>(&bytes);
        let _ = SignedTransaction::decode(&bytes);
        let _ = decode::<Transaction>(&bytes);
        let _ = decode::<Call>(&bytes);
        let _ = decode::<BlockHeader>(&bytes);
        let _ = decode::<AccountId>(&bytes);
        let _ = decode::<Symbol>(&bytes);
        let _ = decode::<ChainId>(&bytes);
        let _ = decode::<Text<64>>(&bytes);
    }

    #[test]
    fn signed_transactions_round_trip((tx, seed) in transaction()) {
        let signed = SignedTransaction::sign(tx, &PrivateKey::from_seed(seed));
        let bytes = signed.encode();
        prop_assert_eq!(bytes.len(), signed.size());
        let decoded = SignedTransaction::decode(&bytes).unwrap();
        prop_assert!(decoded.verify_signature());
        prop_assert_eq!(decoded.id(), signed.id());
        prop_assert_eq!(decoded, signed);
    }

    #[test]
    fn mutated_transactions_never_verify(
        (tx, seed) in transaction(),
        position in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let signed = SignedTransaction::sign(tx, &PrivateKey::from_seed(seed));
        let mut bytes = signed.encode().to_vec();
        let at = position.index(bytes.len());
        bytes[at] ^= flip;
        // A changed byte either fails to decode or yields a transaction whose signature does not
        // verify: no mutation makes a second valid transaction out of a signed one.
        if let Ok(decoded) = SignedTransaction::decode(&bytes) {
            prop_assert!(!decoded.verify_signature());
        }
    }

    #[test]
    fn headers_round_trip(
        parent in any::<[u8; 32]>(),
        height in any::<u64>(),
        timestamp_ms in any::<u64>(),
        proposer in account(),
        tx_root in any::<[u8; 32]>(),
        state_root in any::<[u8; 32]>(),
    ) {
        let header = BlockHeader {
            parent: Digest(parent),
            height,
            timestamp_ms,
            proposer,
            tx_root: Digest(tx_root),
            state_root: Digest(state_root),
        };
        prop_assert_eq!(decode::<BlockHeader>(&header.encode()).unwrap(), header);
    }
}
