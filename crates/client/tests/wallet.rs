//! Wallets, keystore files and chat encryption, each round-tripped and attacked.

use client::{
    KeyError, Keystore, KeystoreError, ScryptCost, Wallet,
    chat::{ChatError, ConversationKey},
};

const PHRASE: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art";

#[test]
fn generated_mnemonics_restore_the_same_wallet() {
    let (wallet, phrase) = Wallet::generate("");
    assert_eq!(phrase.split(' ').count(), 24);
    let restored = Wallet::from_mnemonic(&phrase, "").unwrap();
    assert_eq!(restored.account(), wallet.account());
    // A passphrase is a different wallet.
    assert_ne!(
        Wallet::from_mnemonic(&phrase, "extra").unwrap().account(),
        wallet.account()
    );
    let (other, _) = Wallet::generate("");
    assert_ne!(other.account(), wallet.account());
}

#[test]
fn mnemonic_input_is_normalised_and_checked() {
    let wallet = Wallet::from_mnemonic(PHRASE, "").unwrap();
    let messy = format!("  {}  ", PHRASE.to_uppercase().replace(' ', "   "));
    assert_eq!(
        Wallet::from_mnemonic(&messy, "").unwrap().account(),
        wallet.account()
    );
    // A wrong checksum word.
    let wrong = PHRASE.replace(" art", " zoo");
    assert!(matches!(
        Wallet::from_mnemonic(&wrong, ""),
        Err(KeyError::Mnemonic(_))
    ));
    // Not an English word.
    let typo = PHRASE.replacen("abandon", "abandom", 1);
    assert!(matches!(
        Wallet::from_mnemonic(&typo, ""),
        Err(KeyError::Mnemonic(_))
    ));
    // Valid 12-word mnemonics are not Equa wallets.
    let twelve = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
    assert!(matches!(
        Wallet::from_mnemonic(twelve, ""),
        Err(KeyError::WordCount { words: 12 })
    ));
}

#[test]
fn the_signing_key_is_pinned_for_a_known_mnemonic() {
    // If this changes, every wallet restored from a mnemonic would open a different account.
    let wallet = Wallet::from_mnemonic(PHRASE, "").unwrap();
    assert_eq!(
        wallet.account().to_string(),
        "equa1q359rkxmx2x89f4kfscc36llvy2qxgqsep6z3vphmpmwygvpnvaqmz34af"
    );
}

#[test]
fn keystore_round_trips_and_rejects_a_wrong_password() {
    let wallet = Wallet::from_mnemonic(PHRASE, "").unwrap();
    let keystore = Keystore::encrypt(&wallet, "correct horse", ScryptCost::TEST).unwrap();
    assert_eq!(keystore.address(), wallet.account().to_string());
    let json = keystore.to_json();
    assert!(
        !json.contains(&hex::encode(wallet.seed())),
        "the seed is never stored in the clear"
    );
    let loaded = Keystore::from_json(&json).unwrap();
    assert_eq!(
        loaded.decrypt("correct horse").unwrap().account(),
        wallet.account()
    );
    match loaded.decrypt("wrong horse") {
        Err(KeystoreError::WrongPassword { address }) => assert_eq!(address, keystore.address()),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn damaged_keystores_are_reported_as_damaged() {
    let wallet = Wallet::from_mnemonic(PHRASE, "").unwrap();
    let json = Keystore::encrypt(&wallet, "pw", ScryptCost::TEST)
        .unwrap()
        .to_json();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    // Flip one hex digit of the ciphertext: the checksum catches it before any password check.
    let mut damaged = value.clone();
    let ciphertext = damaged["ciphertext"].as_str().unwrap().to_string();
    let flipped = if ciphertext.starts_with('0') {
        "1"
    } else {
        "0"
    };
    damaged["ciphertext"] = format!("{flipped}{}", &ciphertext[1..]).into();
    let keystore = Keystore::from_json(&damaged.to_string()).unwrap();
    assert!(matches!(
        keystore.decrypt("pw"),
        Err(KeystoreError::Damaged(_))
    ));
    // Swapping in another address is caught too.
    let mut swapped = value.clone();
    swapped["address"] = Wallet::generate("").0.account().to_string().into();
    let keystore = Keystore::from_json(&swapped.to_string()).unwrap();
    assert!(matches!(
        keystore.decrypt("pw"),
        Err(KeystoreError::Damaged(_))
    ));
    assert!(matches!(
        Keystore::from_json("{}"),
        Err(KeystoreError::Damaged(_))
    ));
    let mut future = value;
    future["version"] = 9.into();
    let keystore = Keystore::from_json(&future.to_string()).unwrap();
    assert!(matches!(
        keystore.decrypt("pw"),
        Err(KeystoreError::Version { found: 9 })
    ));
}

#[test]
fn keystore_files_are_private_and_never_overwritten() {
    let dir = std::env::temp_dir().join(format!("equa-keystore-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("wallet.json");
    let _ = std::fs::remove_file(&path);
    let wallet = Wallet::from_mnemonic(PHRASE, "").unwrap();
    let keystore = Keystore::encrypt(&wallet, "pw", ScryptCost::TEST).unwrap();
    keystore.save(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(matches!(
        keystore.save(&path),
        Err(KeystoreError::Io { .. })
    ));
    assert_eq!(Keystore::load(&path).unwrap(), keystore);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn both_parties_derive_one_conversation_key() {
    let (buyer, _) = Wallet::generate("");
    let (seller, _) = Wallet::generate("");
    let trade = b"trade-17";
    let buyer_key =
        ConversationKey::agree(&buyer.chat_secret(), &seller.chat_public_key(), trade).unwrap();
    let seller_key =
        ConversationKey::agree(&seller.chat_secret(), &buyer.chat_public_key(), trade).unwrap();

    let sealed = buyer_key.seal(&buyer.account(), b"IBAN DE89 3704 0044 0532 0130 00");
    assert_eq!(
        seller_key.open(&buyer.account(), &sealed).unwrap(),
        b"IBAN DE89 3704 0044 0532 0130 00"
    );
    let reply = seller_key.seal(&seller.account(), "paid? ✓".as_bytes());
    assert_eq!(
        buyer_key.open(&seller.account(), &reply).unwrap(),
        "paid? ✓".as_bytes()
    );
    // Two seals of one text differ (fresh nonces).
    assert_ne!(
        buyer_key.seal(&buyer.account(), b"x"),
        buyer_key.seal(&buyer.account(), b"x")
    );
}

#[test]
fn chat_messages_cannot_be_altered_misattributed_or_read_by_others() {
    let (buyer, _) = Wallet::generate("");
    let (seller, _) = Wallet::generate("");
    let (outsider, _) = Wallet::generate("");
    let key =
        ConversationKey::agree(&buyer.chat_secret(), &seller.chat_public_key(), b"t").unwrap();
    let sealed = key.seal(&buyer.account(), b"hello");

    let mut altered = sealed.clone();
    *altered.last_mut().unwrap() ^= 1;
    assert_eq!(
        key.open(&buyer.account(), &altered),
        Err(ChatError::NotAuthentic)
    );
    // Replayed as if the seller had said it.
    assert_eq!(
        key.open(&seller.account(), &sealed),
        Err(ChatError::NotAuthentic)
    );
    assert_eq!(
        key.open(&buyer.account(), &sealed[..20]),
        Err(ChatError::Truncated)
    );
    // An outsider's key for the same pair of public keys is different.
    let outsider_key =
        ConversationKey::agree(&outsider.chat_secret(), &seller.chat_public_key(), b"t").unwrap();
    assert_eq!(
        outsider_key.open(&buyer.account(), &sealed),
        Err(ChatError::NotAuthentic)
    );
    // Another trade between the same parties has another key.
    let other_trade =
        ConversationKey::agree(&buyer.chat_secret(), &seller.chat_public_key(), b"u").unwrap();
    assert_eq!(
        other_trade.open(&buyer.account(), &sealed),
        Err(ChatError::NotAuthentic)
    );
    // A small-order public key agrees no secret.
    assert!(matches!(
        ConversationKey::agree(&buyer.chat_secret(), &[0u8; 32], b"t"),
        Err(ChatError::WeakKey)
    ));
}

#[test]
fn a_revealed_key_opens_the_transcript_for_the_arbitrator_only() {
    let (buyer, _) = Wallet::generate("");
    let (seller, _) = Wallet::generate("");
    let (arbitrator, _) = Wallet::generate("");
    let (outsider, _) = Wallet::generate("");
    let key =
        ConversationKey::agree(&buyer.chat_secret(), &seller.chat_public_key(), b"t").unwrap();
    let sealed = key.seal(&seller.account(), b"I never received the money");

    let revealed = key.reveal_to(&arbitrator.chat_public_key(), b"t");
    let opened =
        ConversationKey::open_revealed(&arbitrator.chat_secret(), &revealed, b"t").unwrap();
    assert_eq!(
        opened.open(&seller.account(), &sealed).unwrap(),
        b"I never received the money"
    );

    assert_eq!(
        ConversationKey::open_revealed(&outsider.chat_secret(), &revealed, b"t").unwrap_err(),
        ChatError::NotAuthentic
    );
    assert_eq!(
        ConversationKey::open_revealed(&arbitrator.chat_secret(), &revealed, b"other").unwrap_err(),
        ChatError::NotAuthentic
    );
    assert_eq!(
        ConversationKey::open_revealed(&arbitrator.chat_secret(), &revealed[..31], b"t")
            .unwrap_err(),
        ChatError::Truncated
    );
}

#[test]
fn a_false_key_revealed_by_one_party_does_not_hide_the_other_partys_messages() {
    let (buyer, _) = Wallet::generate("");
    let (seller, _) = Wallet::generate("");
    let (arbitrator, _) = Wallet::generate("");
    let (stranger, _) = Wallet::generate("");
    let context = client::chat::trade_context(7);
    let real =
        ConversationKey::agree(&buyer.chat_secret(), &seller.chat_public_key(), &context).unwrap();
    let message = |index, sender: &Wallet, text: &str| rpc::market::MessageView {
        index,
        sender: sender.account().to_string(),
        at_ms: 0,
        ciphertext: hex::encode(real.seal(&sender.account(), text.as_bytes())),
    };
    // The buyer reveals a key of another conversation; the seller reveals the real one.
    let false_key =
        ConversationKey::agree(&buyer.chat_secret(), &stranger.chat_public_key(), &context)
            .unwrap();
    let reveal = |key: &ConversationKey| {
        Some(hex::encode(
            key.reveal_to(&arbitrator.chat_public_key(), &context),
        ))
    };
    let mut chat = rpc::market::ChatView {
        trade: 7,
        buyer_key: None,
        seller_key: None,
        arbitrator_key: None,
        revealed_by_buyer: reveal(&false_key),
        revealed_by_seller: None,
        messages: vec![
            message(0, &seller, "IBAN DE89 3704"),
            message(1, &buyer, "paid"),
        ],
    };
    // With only the false key, nothing opens: the arbitrator sees that, not a wrong transcript.
    let only_false =
        client::chat::arbitrator_key(&arbitrator.chat_secret(), &chat, &context).unwrap();
    assert!(
        client::chat::open_all(&only_false, &chat)
            .iter()
            .all(|m| m.text.is_err())
    );
    chat.revealed_by_seller = reveal(&real);
    let key = client::chat::arbitrator_key(&arbitrator.chat_secret(), &chat, &context).unwrap();
    let opened: Vec<_> = client::chat::open_all(&key, &chat)
        .into_iter()
        .map(|m| m.text.unwrap())
        .collect();
    assert_eq!(opened, ["IBAN DE89 3704", "paid"]);
    // Nothing revealed: said in words.
    chat.revealed_by_buyer = None;
    chat.revealed_by_seller = None;
    assert!(
        client::chat::arbitrator_key(&arbitrator.chat_secret(), &chat, &context)
            .unwrap_err()
            .contains("neither party")
    );
}
