//! Amounts: `u128` counts of an asset's minor units, and their decimal text form.
//!
//! An asset with `decimals = 6` has one million minor units per whole unit, so the text
//! `12.5` means `12_500_000` minor units. Parsing is exact: it never rounds, and rejects input
//! that has more fractional digits than the asset allows.

/// The largest number of decimals an asset may have.
pub const MAX_DECIMALS: u8 = 18;

/// Why a decimal amount was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("amount is empty")]
    Empty,
    #[error("amount {text:?} is negative; amounts are never negative")]
    Negative { text: String },
    #[error("amount {text:?} is not a decimal number (digits with at most one '.')")]
    Malformed { text: String },
    #[error("amount {text:?} has {found} decimal places; this asset allows at most {decimals}")]
    TooPrecise {
        text: String,
        found: usize,
        decimals: u8,
    },
    #[error("amount {text:?} is too large to represent")]
    Overflow { text: String },
    #[error("an asset has at most {MAX_DECIMALS} decimals, not {decimals}")]
    Decimals { decimals: u8 },
}

/// `10^decimals`, the number of minor units in one whole unit.
pub fn unit(decimals: u8) -> Result<u128, AmountError> {
    if decimals > MAX_DECIMALS {
        return Err(AmountError::Decimals { decimals });
    }
    Ok(10u128.pow(u32::from(decimals)))
}

/// Parses decimal text (`"12.5"`, `"0.000001"`, `"7"`) into minor units of an asset with
/// `decimals` decimals. Surrounding whitespace is ignored; signs, exponents, separators and
/// excess precision are rejected.
pub fn parse(text: &str, decimals: u8) -> Result<u128, AmountError> {
    let scale = unit(decimals)?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(AmountError::Empty);
    }
    if trimmed.starts_with('-') {
        return Err(AmountError::Negative { text: text.into() });
    }
    let malformed = || AmountError::Malformed { text: text.into() };
    let (whole, fraction) = match trimmed.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (trimmed, ""),
    };
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits_only(whole) || !digits_only(fraction) {
        return Err(malformed());
    }
    if whole.is_empty() && fraction.is_empty() {
        return Err(malformed());
    }
    if trimmed.contains('.') && fraction.is_empty() {
        // "12." is a typing slip more often than an intended integer.
        return Err(malformed());
    }
    let significant = fraction.trim_end_matches('0');
    if significant.len() > usize::from(decimals) {
        return Err(AmountError::TooPrecise {
            text: text.into(),
            found: significant.len(),
            decimals,
        });
    }
    let overflow = || AmountError::Overflow { text: text.into() };
    let mut whole_units: u128 = 0;
    for digit in whole.bytes() {
        whole_units = whole_units
            .checked_mul(10)
            .and_then(|v| v.checked_add(u128::from(digit - b'0')))
            .ok_or_else(overflow)?;
    }
    let mut fraction_units: u128 = 0;
    for position in 0..usize::from(decimals) {
        let digit = significant.as_bytes().get(position).map_or(0, |d| d - b'0');
        // Cannot overflow: at most 18 digits.
        fraction_units = fraction_units * 10 + u128::from(digit);
    }
    whole_units
        .checked_mul(scale)
        .and_then(|v| v.checked_add(fraction_units))
        .ok_or_else(overflow)
}

/// Formats minor units as decimal text with no trailing zeros (`12_500_000` with 6 decimals is
/// `"12.5"`). `format` and `parse` round-trip exactly.
pub fn format(amount: u128, decimals: u8) -> String {
    let decimals = decimals.min(MAX_DECIMALS);
    let scale = 10u128.pow(u32::from(decimals));
    let whole = amount / scale;
    let fraction = amount % scale;
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:0width$}", width = usize::from(decimals));
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Formats minor units with exactly `decimals` digits after the point (`1250` with 2 decimals is
/// `"12.50"`), as prices and rates are usually shown.
pub fn format_fixed(amount: u128, decimals: u8) -> String {
    let decimals = decimals.min(MAX_DECIMALS);
    let scale = 10u128.pow(u32::from(decimals));
    if decimals == 0 {
        return amount.to_string();
    }
    format!(
        "{}.{:0width$}",
        amount / scale,
        amount % scale,
        width = usize::from(decimals)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_formats() {
        assert_eq!(parse("12.5", 6), Ok(12_500_000));
        assert_eq!(parse("0.000001", 6), Ok(1));
        assert_eq!(parse("7", 0), Ok(7));
        assert_eq!(format_fixed(1250, 2), "12.50");
        assert_eq!(format_fixed(5, 2), "0.05");
        assert_eq!(format_fixed(7, 0), "7");
        assert_eq!(parse(" 3.10 ", 2), Ok(310));
        assert_eq!(parse(".5", 1), Ok(5));
        assert_eq!(
            parse("1.500000000", 1),
            Ok(15),
            "trailing zeros are not precision"
        );
        assert_eq!(format(12_500_000, 6), "12.5");
        assert_eq!(format(1, 6), "0.000001");
        assert_eq!(format(0, 6), "0");
        assert_eq!(
            format(u128::MAX, 18),
            "340282366920938463463.374607431768211455"
        );
    }

    #[test]
    fn rejects_bad_text() {
        assert_eq!(parse("", 6), Err(AmountError::Empty));
        assert!(matches!(parse("-1", 6), Err(AmountError::Negative { .. })));
        for bad in [
            "1.2.3", "1e5", "+1", "1,000", "abc", ".", "12.", "1 000", "0x10",
        ] {
            assert!(
                matches!(parse(bad, 6), Err(AmountError::Malformed { .. })),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse("0.0000001", 6),
            Err(AmountError::TooPrecise {
                text: "0.0000001".into(),
                found: 7,
                decimals: 6
            })
        );
        assert!(matches!(
            parse("0.5", 0),
            Err(AmountError::TooPrecise { .. })
        ));
        assert!(matches!(
            parse("340282366920938463463.374607431768211456", 18),
            Err(AmountError::Overflow { .. })
        ));
        assert!(matches!(
            parse("99999999999999999999999999999999999999999", 0),
            Err(AmountError::Overflow { .. })
        ));
        assert_eq!(parse("1", 19), Err(AmountError::Decimals { decimals: 19 }));
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(amount: u128, decimals in 0u8..=18) {
            prop_assert_eq!(parse(&format(amount, decimals), decimals), Ok(amount));
        }
    }
}
