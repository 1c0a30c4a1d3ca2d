//! Numbers put into words for people: moments, durations, percentages and counts, and the
//! ledger's error messages with their timestamps and units worded. Everything here is pure; the
//! callers bring the time ("now" is the chain's latest block time) and the assets.
//!
//! The node words the amounts in ledger errors (`rpc::words`); what it leaves as the ledger
//! wrote it (block times in milliseconds, windows in seconds, basis points, `min..=max`
//! ranges) is worded here, at the edge, as the style guide asks.

use rpc::views::AssetView;
use types::amount;

const MINUTE_SECS: u64 = 60;
const HOUR_SECS: u64 = 3_600;
const DAY_SECS: u64 = 86_400;

/// `count` followed by `noun`, plural unless the count is one: "1 trade", "3 trades",
/// "2 counterparties".
pub fn count(count: impl Into<u64>, noun: &str) -> String {
    let count = count.into();
    if count == 1 {
        return format!("1 {noun}");
    }
    match noun.strip_suffix('y') {
        Some(stem) if !stem.ends_with(['a', 'e', 'o', 'u']) => format!("{count} {stem}ies"),
        _ => format!("{count} {noun}s"),
    }
}

/// A span of seconds in its two largest units: "15 minutes", "8 days", "1 day 6 hours".
pub fn duration_secs(secs: u64) -> String {
    let units = [
        (DAY_SECS, "day"),
        (HOUR_SECS, "hour"),
        (MINUTE_SECS, "minute"),
        (1, "second"),
    ];
    let mut rest = secs;
    let mut parts = Vec::new();
    for (size, name) in units {
        if rest >= size {
            parts.push(count(rest / size, name));
            rest %= size;
        }
        if parts.len() == 2 || (!parts.is_empty() && rest == 0) {
            break;
        }
    }
    if parts.is_empty() {
        return "0 seconds".into();
    }
    parts.join(" ")
}

/// A span of milliseconds in words, as [`duration_secs`] (below a second: "less than a second").
pub fn duration_ms(ms: u64) -> String {
    if ms < 1_000 {
        "less than a second".into()
    } else {
        duration_secs(ms / 1_000)
    }
}

/// How far `at_ms` is from `now_ms`, rounded to one unit: "in 3 days", "5 hours ago".
pub fn relative(at_ms: u64, now_ms: u64) -> String {
    let (distance_ms, future) = if at_ms >= now_ms {
        (at_ms - now_ms, true)
    } else {
        (now_ms - at_ms, false)
    };
    let secs = distance_ms / 1_000;
    // Rounded to the nearest unit; hours up to a day and a half, as "in 30 hours" says more
    // than "in 1 day" does.
    let rounded = |unit: u64| (secs + unit / 2) / unit;
    let span = if secs < MINUTE_SECS {
        return if future {
            "in less than a minute".into()
        } else {
            "less than a minute ago".into()
        };
    } else if secs < HOUR_SECS {
        count(rounded(MINUTE_SECS), "minute")
    } else if secs < 36 * HOUR_SECS {
        count(rounded(HOUR_SECS), "hour")
    } else {
        count(rounded(DAY_SECS), "day")
    };
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// A block time (milliseconds since 1970 UTC) as `2026-11-24 14:58:31 UTC`.
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / DAY_SECS).unwrap_or(i64::MAX / 2);
    let of_day = secs % DAY_SECS;
    // Days to a civil date (proleptic Gregorian), after Howard Hinnant's `civil_from_days`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// A moment as a date to the minute and its distance from now:
/// "2027-03-01 14:25 UTC (in 3 days)".
pub fn moment(at_ms: u64, now_ms: u64) -> String {
    let full = utc(at_ms);
    // "YYYY-MM-DD HH:MM:SS UTC" without the seconds.
    let minute = format!("{} UTC", &full[..16]);
    format!("{minute} ({})", relative(at_ms, now_ms))
}

/// Basis points as a percentage: 1200 is "12%", 1250 "12.5%", 1 "0.01%".
pub fn percent(bps: impl Into<u128>) -> String {
    format!("{}%", amount::format(bps.into(), 2))
}

/// Text another party wrote, safe to print in a listing: its line breaks indented as the
/// continuation of the line it starts on, and every other control character (escape sequences
/// included) shown as U+FFFD, so it cannot pass for lines or formatting of the listing.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\n    "),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// An identifier of the ledger's (`awaiting_payment`, `very_low`) as words.
pub fn spaced(name: &str) -> String {
    name.replace('_', " ")
}

/// Milliseconds at or above this are moments (2001 onwards), below it spans of time: the
/// ledger's messages say "ms" for both.
const MOMENT_FROM_MS: u128 = 1_000_000_000_000;

/// Every "<number> ms" in `text` in words: a moment as [`moment`], a span as [`duration_ms`].
pub fn times_in_words(text: &str, now_ms: u64) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        let (before, from_digits) = rest.split_at(start);
        out.push_str(before);
        let digits_end = from_digits
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(from_digits.len());
        let (digits, after) = from_digits.split_at(digits_end);
        // A number glued to letters before it (an address, "asset#7") is not a time.
        let standalone = !before.ends_with(|c: char| c.is_ascii_alphanumeric());
        match (
            standalone,
            after.strip_prefix(" ms"),
            digits.parse::<u128>(),
        ) {
            (true, Some(tail), Ok(value))
                if !tail.starts_with(|c: char| c.is_ascii_alphanumeric()) =>
            {
                let value_ms = u64::try_from(value).unwrap_or(u64::MAX);
                if value >= MOMENT_FROM_MS {
                    out.push_str(&moment(value_ms, now_ms));
                } else {
                    out.push_str(&duration_ms(value_ms));
                }
                rest = tail;
            }
            _ => {
                out.push_str(digits);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The numbers in `text`, in order (digits that stand alone, not inside a word).
fn numbers(text: &str) -> Vec<u128> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter_map(|word| word.parse().ok())
        .collect()
}

/// A ledger error (`code` and the message the node sent) in words, with `now_ms` the chain's
/// time and `assets` the chain's assets (for amounts the node left in minor units).
pub fn ledger_error(code: &str, message: &str, now_ms: u64, assets: &[AssetView]) -> String {
    let specific = match (code, numbers(message).as_slice()) {
        ("WindowOutOfRange", &[secs, min, max]) => Some(format!(
            "a payment window of {} is not allowed: it must be between {} and {}",
            duration_secs(secs as u64),
            duration_secs(min as u64),
            duration_secs(max as u64)
        )),
        ("DepositOutOfRange", &[bps, min, max]) => Some(format!(
            "a security deposit of {} is not allowed: it must be between {} and {} of the amount",
            percent(bps),
            percent(min),
            percent(max)
        )),
        ("FeeTooHigh", &[fee, max]) => Some(format!(
            "an arbitrator fee of {} is above the most allowed, {}",
            percent(fee),
            percent(max)
        )),
        ("RateTooHigh", &[rate, max]) => Some(format!(
            "a yearly rate of {} is above the most allowed, {}",
            percent(rate),
            percent(max)
        )),
        ("PrincipalTooLarge", &[principal, max, asset]) => assets
            .iter()
            .find(|a| u128::from(a.asset) == asset)
            .map(|a| {
                let money = |minor| format!("{} {}", amount::format(minor, a.decimals), a.symbol);
                format!(
                    "a principal of {} is above the largest a loan may have, {}",
                    money(principal),
                    money(max)
                )
            }),
        ("WrongState", _) => Some(spaced(message)),
        _ => None,
    };
    let message = specific.unwrap_or_else(|| message.to_string());
    times_in_words(&message, now_ms).replace("..=", " to ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::{lending::LendingError, market::MarketError};
    use rpc::views::error_code;
    use types::AssetId;

    /// 2027-03-01 14:25:00 UTC.
    const MARCH_FIRST_MS: u64 = 1_803_911_100_000;
    const DAY_MS: u64 = 86_400_000;

    #[test]
    fn counts_agree_with_their_number() {
        assert_eq!(count(1u32, "trade"), "1 trade");
        assert_eq!(count(0u32, "trade"), "0 trades");
        assert_eq!(count(3u32, "loan"), "3 loans");
        assert_eq!(count(2u32, "counterparty"), "2 counterparties");
        assert_eq!(count(1u32, "counterparty"), "1 counterparty");
        assert_eq!(count(2u32, "day"), "2 days");
    }

    #[test]
    fn durations_read_in_their_largest_units() {
        assert_eq!(duration_secs(900), "15 minutes");
        assert_eq!(duration_secs(691_200), "8 days");
        assert_eq!(duration_secs(86_400 + 6 * 3_600), "1 day 6 hours");
        assert_eq!(duration_secs(3_600 + 60 + 1), "1 hour 1 minute");
        assert_eq!(duration_secs(1), "1 second");
        assert_eq!(duration_secs(0), "0 seconds");
        assert_eq!(duration_ms(120_000), "2 minutes");
        assert_eq!(duration_ms(5), "less than a second");
    }

    #[test]
    fn moments_read_as_dates_with_their_distance() {
        assert_eq!(utc(MARCH_FIRST_MS), "2027-03-01 14:25:00 UTC");
        let now = MARCH_FIRST_MS - 3 * DAY_MS;
        assert_eq!(
            moment(MARCH_FIRST_MS, now),
            "2027-03-01 14:25 UTC (in 3 days)"
        );
        assert_eq!(relative(now, MARCH_FIRST_MS), "3 days ago");
        assert_eq!(relative(now + 5 * 3_600_000, now), "in 5 hours");
        assert_eq!(relative(now + 30 * 3_600_000, now), "in 30 hours");
        assert_eq!(relative(now + 10 * 60_000, now), "in 10 minutes");
        assert_eq!(relative(now + 10_000, now), "in less than a minute");
        assert_eq!(relative(now, now + 1), "less than a minute ago");
    }

    #[test]
    fn block_times_read_as_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_767_225_600_000), "2026-01-01 00:00:00 UTC");
        assert_eq!(utc(1_709_251_199_999), "2024-02-29 23:59:59 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_795_532_226_582), "2026-11-24 14:57:06 UTC");
    }

    #[test]
    fn percentages_from_basis_points() {
        assert_eq!(percent(1_200u32), "12%");
        assert_eq!(percent(1_250u32), "12.5%");
        assert_eq!(percent(1u32), "0.01%");
        assert_eq!(percent(0u32), "0%");
    }

    #[test]
    fn milliseconds_in_text_become_moments_or_spans() {
        let now = MARCH_FIRST_MS - 3 * DAY_MS;
        assert_eq!(
            times_in_words(&format!("loan 4 ... before {MARCH_FIRST_MS} ms"), now),
            "loan 4 ... before 2027-03-01 14:25 UTC (in 3 days)"
        );
        assert_eq!(
            times_in_words("no receipt after 60000 ms; it may", now),
            "no receipt after 1 minute; it may"
        );
        // Numbers without "ms", or inside a word, are left alone.
        assert_eq!(
            times_in_words("trade 12 of equa1x9 ms", now),
            "trade 12 of equa1x9 ms"
        );
        assert_eq!(times_in_words("12 msgs", now), "12 msgs");
    }

    /// The ledger's own messages, worded: each case goes through the ledger's Display and the
    /// node's error code, so a change of the ledger's wording shows up here.
    #[test]
    fn ledger_errors_read_in_words() {
        let now = MARCH_FIRST_MS - 3 * DAY_MS;
        let words = |error: &dyn LedgerError| {
            ledger_error(&error.code(), &error.to_string(), now, &assets())
        };
        assert_eq!(
            words(&MarketError::WindowOutOfRange {
                secs: 0,
                min: 900,
                max: 691_200
            }),
            "a payment window of 0 seconds is not allowed: it must be between 15 minutes and 8 days"
        );
        assert_eq!(
            words(&LendingError::NotInDefault {
                loan: 4,
                at_ms: MARCH_FIRST_MS
            }),
            "loan 4 cannot be declared in default before 2027-03-01 14:25 UTC (in 3 days)"
        );
        assert_eq!(
            words(&MarketError::DepositOutOfRange {
                bps: 1,
                min: 500,
                max: 5_000
            }),
            "a security deposit of 0.01% is not allowed: it must be between 5% and 50% of the \
             amount"
        );
        assert_eq!(
            words(&LendingError::RateTooHigh {
                rate_bps: 12_000,
                max: 10_000
            }),
            "a yearly rate of 120% is above the most allowed, 100%"
        );
        assert_eq!(
            words(&MarketError::FeeTooHigh {
                fee_bps: 1_500,
                max: 1_000
            }),
            "an arbitrator fee of 15% is above the most allowed, 10%"
        );
        assert_eq!(
            words(&MarketError::WrongState {
                trade: 3,
                state: "awaiting_payment",
                expected: "paid"
            }),
            "trade 3 is awaiting payment; this needs it to be paid"
        );
        assert_eq!(
            words(&LendingError::PrincipalTooLarge {
                asset: AssetId(1),
                principal: 5_000_000,
                max: 2_500_000
            }),
            "a principal of 5 USDX is above the largest a loan may have, 2.5 USDX"
        );
        assert_eq!(
            words(&MarketError::PaymentWindowOpen {
                trade: 2,
                closes_at_ms: MARCH_FIRST_MS - 3 * DAY_MS - 3_600_000
            }),
            "the payment window of trade 2 is open until 2027-02-26 13:25 UTC (1 hour ago)"
        );
        // What needs no words passes as it is.
        let unknown = MarketError::UnknownTrade { trade: 99 };
        assert_eq!(words(&unknown), unknown.to_string());
    }

    trait LedgerError: std::fmt::Display {
        fn code(&self) -> String;
    }
    impl<E: std::fmt::Debug + std::fmt::Display> LedgerError for E {
        fn code(&self) -> String {
            error_code(self)
        }
    }

    fn assets() -> Vec<AssetView> {
        vec![AssetView {
            asset: 1,
            symbol: "USDX".into(),
            name: "Demo dollar".into(),
            decimals: 6,
            issuer: None,
            max_supply: None,
            supply: "0".into(),
        }]
    }
}
