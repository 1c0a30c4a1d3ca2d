//! Reading what people type: rates as percentages or basis points, currency codes in any case,
//! and texts checked against their limits in characters before anything is signed. Pure
//! functions; each error says in words what was expected.

use rpc::market::MethodView;
use types::{Text, amount, market::Fiat};

/// How to see the currencies the market's payment methods pay in.
pub const CURRENCIES_HINT: &str = "`equa market currencies` lists them with their payment methods";

/// A rate or share written as a percentage ("12%", "12.5%", "0.25 %") or in basis points
/// ("1200", which is 12%), in basis points. A clap value parser.
pub fn basis_points(text: &str) -> Result<u32, String> {
    let trimmed = text.trim();
    let expected = "write a percentage such as 12% or 12.5%, or basis points such as 1200 \
                    (hundredths of a percent: 1200 is 12%)";
    if trimmed.starts_with('-') {
        return Err(format!("'{trimmed}' is negative; {expected}"));
    }
    let bps = match trimmed.strip_suffix('%') {
        Some(number) => {
            let number = number.trim();
            if number.is_empty() {
                return Err(format!("a percentage needs a number; {expected}"));
            }
            // Basis points are hundredths of a percent: a percentage with two decimals.
            match amount::parse(number, 2) {
                Ok(bps) => bps,
                Err(amount::AmountError::TooPrecise { .. }) => {
                    return Err(format!(
                        "'{trimmed}' is finer than a basis point: a percentage has at most two \
                         decimals, such as 12.25%"
                    ));
                }
                Err(_) => {
                    return Err(format!(
                        "'{trimmed}' is neither a percentage nor basis points; {expected}"
                    ));
                }
            }
        }
        None if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) => trimmed
            .parse::<u128>()
            .map_err(|_| format!("'{trimmed}' is too large; {expected}"))?,
        None if trimmed.contains('.') && trimmed.parse::<f64>().is_ok() => {
            return Err(format!(
                "'{trimmed}' has decimals but no '%': write {trimmed}% for a percentage; basis \
                 points are whole numbers (1200 is 12%)"
            ));
        }
        None => {
            return Err(format!(
                "'{trimmed}' is neither a percentage nor basis points; {expected}"
            ));
        }
    };
    u32::try_from(bps).map_err(|_| format!("'{trimmed}' is too large; {expected}"))
}

/// [`basis_points`] for a share that must fit 16 bits: deposits and fees (at most 655.35%).
pub fn basis_points_u16(text: &str) -> Result<u16, String> {
    let bps = basis_points(text)?;
    u16::try_from(bps).map_err(|_| {
        format!(
            "'{}' is too large: at most 655.35% (65535 basis points)",
            text.trim()
        )
    })
}

/// A currency code in any case ("eur", " Eur ") as the ledger's upper-case `Fiat`.
pub fn fiat(text: &str) -> Result<Fiat, String> {
    let code = text.trim().to_ascii_uppercase();
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(format!(
            "'{}' is not a currency code: use the three letters of ISO 4217, such as EUR or usd; \
             {CURRENCIES_HINT}",
            text.trim()
        ));
    }
    Fiat::new(&code).map_err(|e| e.to_string())
}

/// Checks that every registered method among `chosen` (by registry index into `registry`)
/// pays in `fiat`, before an offer is signed. Methods that pay in any currency (and free-text
/// ones) accept it; a currency no method of the registry pays in is named as unknown.
pub fn check_currency(
    fiat: &Fiat,
    registry: &[MethodView],
    chosen: &[Option<u16>],
) -> Result<(), String> {
    let code = fiat.as_str();
    let known = registry
        .iter()
        .any(|m| m.currencies.iter().any(|c| c == code));
    for index in chosen.iter().flatten() {
        let Some(method) = registry.get(usize::from(*index)) else {
            continue;
        };
        if method.currencies.is_empty() || method.currencies.iter().any(|c| c == code) {
            continue;
        }
        if !known {
            return Err(format!(
                "unknown currency {code}: no payment method of the market pays in it; \
                 {CURRENCIES_HINT}"
            ));
        }
        return Err(format!(
            "{} pays in {}, not in {code}; `equa market methods` lists each method's currencies",
            method.code,
            method.currencies.join(", ")
        ));
    }
    Ok(())
}

/// `text` as the ledger's bounded text; `what` names the field for the error, which says the
/// limit in characters.
pub fn text<const MAX: usize>(value: &str, what: &str) -> Result<Text<MAX>, String> {
    Text::new(value).map_err(|_| too_long(what, value, MAX))
}

/// Why `value` does not fit `limit_bytes` (the ledger bounds texts in bytes of UTF-8), in
/// characters.
pub fn too_long(what: &str, value: &str, limit_bytes: usize) -> String {
    let characters = value.chars().count();
    let bytes = value.len();
    if characters == bytes {
        format!("{what} is too long: at most {limit_bytes} characters, and this has {characters}")
    } else {
        format!(
            "{what} is too long: at most {limit_bytes} characters of plain text, fewer with \
             accented letters or emoji (each counts as 2 to 4); this has {characters} characters \
             that count as {bytes}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_percentages_or_basis_points() {
        assert_eq!(basis_points("12%"), Ok(1_200));
        assert_eq!(basis_points("12.5%"), Ok(1_250));
        assert_eq!(basis_points(" 0.25 % "), Ok(25));
        assert_eq!(basis_points("1200"), Ok(1_200));
        assert_eq!(basis_points("0"), Ok(0));
        for (text, words) in [
            ("12.345%", "at most two decimals"),
            ("12.5", "write 12.5% for a percentage"),
            (
                "twelve",
                "neither a percentage nor basis points; write a percentage such as 12%",
            ),
            ("%", "needs a number"),
            ("-3%", "negative"),
            ("99999999999", "too large"),
        ] {
            let error = basis_points(text).unwrap_err();
            assert!(error.contains(words), "{text}: {error}");
        }
        assert_eq!(basis_points_u16("15%"), Ok(1_500));
        assert!(basis_points_u16("700%").unwrap_err().contains("655.35%"));
    }

    #[test]
    fn currency_codes_in_any_case() {
        assert_eq!(fiat("eur").unwrap().as_str(), "EUR");
        assert_eq!(fiat(" Usd ").unwrap().as_str(), "USD");
        for bad in ["euro", "e1r", "", "€"] {
            let error = fiat(bad).unwrap_err();
            assert!(error.contains("equa market currencies"), "{bad}: {error}");
        }
    }

    fn method(code: &str, currencies: &[&str]) -> MethodView {
        MethodView {
            code: code.into(),
            name: code.into(),
            index: None,
            risk: "high".into(),
            min_window_secs: 0,
            new_account_limit: "500.00".into(),
            currencies: currencies.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn a_currency_must_be_one_the_chosen_methods_pay_in() {
        let registry = [
            method("SEPA", &["EUR"]),
            method("SWIFT", &[]),
            method("ZELLE", &["USD"]),
        ];
        let eur = fiat("eur").unwrap();
        assert_eq!(check_currency(&eur, &registry, &[Some(0), Some(1)]), Ok(()));
        // A free-text method (no index) pays in anything.
        assert_eq!(check_currency(&eur, &registry, &[None]), Ok(()));
        let error = check_currency(&eur, &registry, &[Some(2)]).unwrap_err();
        assert!(error.contains("ZELLE pays in USD, not in EUR"), "{error}");
        let error = check_currency(&fiat("XYZ").unwrap(), &registry, &[Some(0)]).unwrap_err();
        assert!(error.starts_with("unknown currency XYZ"), "{error}");
        assert!(error.contains("equa market currencies"), "{error}");
    }

    #[test]
    fn texts_over_their_limit_say_it_in_characters() {
        assert_eq!(text::<8>("short", "name").unwrap().as_str(), "short");
        assert_eq!(
            text::<4>("hello", "name").unwrap_err(),
            "name is too long: at most 4 characters, and this has 5"
        );
        let error = text::<4>("ééé", "name").unwrap_err();
        assert!(error.contains("3 characters that count as 6"), "{error}");
    }
}
