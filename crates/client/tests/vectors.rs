//! Published test vectors: BIP39 (English, passphrase "TREZOR") and SLIP-0010 for ed25519.

use bip39::{Language, Mnemonic};
use client::keys::derive;

#[test]
fn bip39_english_vectors() {
    let data: serde_json::Value =
        serde_json::from_str(include_str!("data/bip39-english.json")).unwrap();
    let vectors = data["english"].as_array().unwrap();
    assert_eq!(vectors.len(), 24);
    for vector in vectors {
        let entropy = hex::decode(vector[0].as_str().unwrap()).unwrap();
        let phrase = vector[1].as_str().unwrap();
        let seed = vector[2].as_str().unwrap();
        let mnemonic = Mnemonic::from_entropy_in(Language::English, &entropy).unwrap();
        assert_eq!(mnemonic.to_string(), phrase);
        assert_eq!(hex::encode(mnemonic.to_seed("TREZOR")), seed, "{phrase}");
        if mnemonic.word_count() == 24 {
            // The wallet accepts the phrase and derives from exactly this seed.
            let wallet = client::Wallet::from_mnemonic(phrase, "TREZOR").unwrap();
            assert_eq!(hex::encode(wallet.seed()), seed);
        }
    }
}

/// (seed, path, private key, public key with the 0x00 prefix the specification prints).
const SLIP10_ED25519: &[(&str, &str, &str, &str)] = &[
    (
        "000102030405060708090a0b0c0d0e0f",
        "m",
        "2b4be7f19ee27bbf30c667b642d5f4aa69fd169872f8fc3059c08ebae2eb19e7",
        "00a4b2856bfec510abab89753fac1ac0e1112364e7d250545963f135f2a33188ed",
    ),
    (
        "000102030405060708090a0b0c0d0e0f",
        "m/0'",
        "68e0fe46dfb67e368c75379acec591dad19df3cde26e63b93a8e704f1dade7a3",
        "008c8a13df77a28f3445213a0f432fde644acaa215fc72dcdf300d5efaa85d350c",
    ),
    (
        "000102030405060708090a0b0c0d0e0f",
        "m/0'/1'",
        "b1d0bad404bf35da785a64ca1ac54b2617211d2777696fbffaf208f746ae84f2",
        "001932a5270f335bed617d5b935c80aedb1a35bd9fc1e31acafd5372c30f5c1187",
    ),
    (
        "000102030405060708090a0b0c0d0e0f",
        "m/0'/1'/2'",
        "92a5b23c0b8a99e37d07df3fb9966917f5d06e02ddbd909c7e184371463e9fc9",
        "00ae98736566d30ed0e9d2f4486a64bc95740d89c7db33f52121f8ea8f76ff0fc1",
    ),
    (
        "000102030405060708090a0b0c0d0e0f",
        "m/0'/1'/2'/2'",
        "30d1dc7e5fc04c31219ab25a27ae00b50f6fd66622f6e9c913253d6511d1e662",
        "008abae2d66361c879b900d204ad2cc4984fa2aa344dd7ddc46007329ac76c429c",
    ),
    (
        "000102030405060708090a0b0c0d0e0f",
        "m/0'/1'/2'/2'/1000000000'",
        "8f94d394a8e8fd6b1bc2f3f49f5c47e385281d5c17e65324b0f62483e37e8793",
        "003c24da049451555d51a7014a37337aa4e12d41e485abccfa46b47dfb2af54b7a",
    ),
    (
        "fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a29f9c999693908d8a8784817e7b7875726f6c696663605d5a5754514e4b484542",
        "m",
        "171cb88b1b3c1db25add599712e36245d75bc65a1a5c9e18d76f9f2b1eab4012",
        "008fe9693f8fa62a4305a140b9764c5ee01e455963744fe18204b4fb948249308a",
    ),
    (
        "fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a29f9c999693908d8a8784817e7b7875726f6c696663605d5a5754514e4b484542",
        "m/0'",
        "1559eb2bbec5790b0c65d8693e4d0875b1747f4970ae8b650486ed7470845635",
        "0086fab68dcb57aa196c77c5f264f215a112c22a912c10d123b0d03c3c28ef1037",
    ),
    (
        "fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a29f9c999693908d8a8784817e7b7875726f6c696663605d5a5754514e4b484542",
        "m/0'/2147483647'",
        "ea4f5bfe8694d8bb74b7b59404632fd5968b774ed545e810de9c32a4fb4192f4",
        "005ba3b9ac6e90e83effcd25ac4e58a1365a9e35a3d3ae5eb07b9e4d90bcf7506d",
    ),
    (
        "fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a29f9c999693908d8a8784817e7b7875726f6c696663605d5a5754514e4b484542",
        "m/0'/2147483647'/1'",
        "3757c7577170179c7868353ada796c839135b3d30554bbb74a4b1e4a5a58505c",
        "002e66aa57069c86cc18249aecf5cb5a9cebbfd6fadeab056254763874a9352b45",
    ),
    (
        "fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a29f9c999693908d8a8784817e7b7875726f6c696663605d5a5754514e4b484542",
        "m/0'/2147483647'/1'/2147483646'",
        "5837736c89570de861ebc173b1086da4f505d4adb387c6a1b1342d5e4ac9ec72",
        "00e33c0f7d81d843c572275f287498e8d408654fdf0d1e065b84e2e6f157aab09b",
    ),
    (
        "fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a29f9c999693908d8a8784817e7b7875726f6c696663605d5a5754514e4b484542",
        "m/0'/2147483647'/1'/2147483646'/2'",
        "551d333177df541ad876a60ea71f00447931c0a9da16f227c11ea080d7391b8d",
        "0047150c75db263559a70d5778bf36abbab30fb061ad69f69ece61a72b0cfa4fc0",
    ),
];

#[test]
fn slip10_ed25519_vectors() {
    use commonware_cryptography::Signer;
    for (seed, path, private, public) in SLIP10_ED25519 {
        let seed = hex::decode(seed).unwrap();
        let key = derive(&seed, path);
        assert_eq!(hex::encode(key), *private, "{path}");
        // The same secret as a commonware ed25519 key has the published public key, so account
        // ids derived here match every other SLIP-0010 wallet.
        let signer =
            types::codec::decode::<commonware_cryptography::ed25519::PrivateKey>(&key).unwrap();
        assert_eq!(
            format!("00{}", hex::encode(signer.public_key().as_ref() as &[u8])),
            *public,
            "{path}"
        );
    }
}
