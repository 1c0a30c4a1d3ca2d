//! The web interface's actions: the words a form posts to `/api/act` and `/api/preview`
//! (`{"args": ["trade", "take", "7", "25", "USDX", "--method", "SEPA"]}`), parsed by the command
//! line's own parser, and the field parsers its values go through (amounts, addresses, rates,
//! currencies).
//!
//! The input is the list of words, one per line. A refused action must come with a short reason
//! (one line, not clap's usage text) that the page shows next to the form. Every word is also
//! given to each field parser: none may panic, an amount that parses formats back to itself, and
//! an address that parses prints as an address that parses to the same account.

use equa::{
    cli::{chain::parse_address, input},
    web::action,
};
use types::{AccountId, amount};

/// The words of an action, one per line.
pub fn words(data: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(data);
    if text.is_empty() {
        return Vec::new();
    }
    text.split('\n').map(str::to_string).collect()
}

pub fn run(data: &[u8]) {
    let args = words(data);
    if let Err(reason) = action::parse(&args) {
        assert!(
            !reason.trim().is_empty(),
            "{args:?} was refused without a reason"
        );
        assert!(
            !reason.contains('\n'),
            "{args:?}: a reason is one line: {reason}"
        );
        assert!(!reason.contains("Usage"), "{args:?}: {reason}");
    }
    // The decimals of an asset are set at issue (at most 18); the parser must refuse the others.
    let decimals = data.first().map_or(6, |byte| byte % 24);
    for word in &args {
        fields(word, decimals);
    }
}

fn fields(word: &str, decimals: u8) {
    match amount::parse(word, decimals) {
        Ok(value) => {
            let text = amount::format(value, decimals);
            assert_eq!(
                amount::parse(&text, decimals),
                Ok(value),
                "{word:?} as {text}"
            );
        }
        Err(error) => {
            // A whole number of up to 20 digits fits any asset's minor units (10^38 < 2^128).
            let trimmed = word.trim();
            let whole =
                (1..=20).contains(&trimmed.len()) && trimmed.bytes().all(|b| b.is_ascii_digit());
            assert!(
                !whole || amount::unit(decimals).is_err(),
                "{word:?} with {decimals} decimals: {error}"
            );
        }
    }
    if let Ok(account) = parse_address(word) {
        assert_eq!(AccountId::parse(&account.to_address()), Ok(account));
    }
    let _ = input::basis_points(word);
    let _ = input::basis_points_u16(word);
    let _ = input::fiat(word);
}
