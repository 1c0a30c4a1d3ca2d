//! The command line's own errors (clap's) in words: which argument was wrong and what it
//! expects, without Rust's parse errors ("invalid digit found in string") and with a negative
//! number called what it is.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use std::error::Error as _;

/// The error in one paragraph of words (no "error: " prefix, no usage).
pub fn message(error: &clap::Error) -> String {
    let context = |kind| match error.get(kind) {
        Some(ContextValue::String(text)) => Some(text.clone()),
        Some(ContextValue::Strings(texts)) => texts.first().cloned(),
        _ => None,
    };
    match error.kind() {
        ErrorKind::ValueValidation => {
            let arg = context(ContextKind::InvalidArg).unwrap_or_default();
            let value = context(ContextKind::InvalidValue).unwrap_or_default();
            let reason = error.source().map(ToString::to_string).unwrap_or_default();
            invalid_value(&arg, &value, &reason)
        }
        ErrorKind::UnknownArgument => {
            let arg = context(ContextKind::InvalidArg).unwrap_or_default();
            unknown_argument(&arg, context(ContextKind::SuggestedArg).as_deref())
        }
        ErrorKind::InvalidSubcommand => {
            let word = context(ContextKind::InvalidSubcommand).unwrap_or_default();
            match context(ContextKind::SuggestedSubcommand) {
                Some(suggested) => format!("unknown command '{word}'; did you mean '{suggested}'?"),
                None => format!("unknown command '{word}'; add --help to list the commands"),
            }
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
            "this command needs a subcommand; add --help to list them".into()
        }
        _ => first_paragraph(&error.render().to_string()),
    }
}

/// What follows the message in clap's rendering: the usage line and the pointer to --help.
pub fn usage(error: &clap::Error) -> String {
    let text = error.render().to_string();
    match text.find("Usage:") {
        Some(start) => text[start..].trim_end().to_string(),
        None => "For more information, try '--help'.".into(),
    }
}

/// `arg` (`--apr-bps <APR_BPS>` or `<OFFER>`) refused `value` for `reason`.
fn invalid_value(arg: &str, value: &str, reason: &str) -> String {
    // Options by their flag alone; positionals as the usage line shows them.
    let name = arg.split(' ').next().unwrap_or(arg);
    let reason = match reason {
        "invalid digit found in string" if value.starts_with('-') => {
            format!("'{value}' is negative; it must be a whole number, 0 or more")
        }
        "invalid digit found in string" => format!("'{value}' is not a whole number"),
        "number too large to fit in target type" => format!("{value} is too large"),
        "cannot parse integer from empty string" => "a whole number is needed".into(),
        other => other.to_string(),
    };
    format!("{name}: {reason}")
}

fn unknown_argument(arg: &str, suggested: Option<&str>) -> String {
    if arg.starts_with('-') && arg[1..].parse::<f64>().is_ok() {
        return format!("{arg} is negative: this command takes no negative numbers");
    }
    match suggested {
        Some(suggested) => format!("unknown option {arg}; did you mean {suggested}?"),
        None if arg.starts_with('-') => {
            format!("unknown option {arg}; add --help to list this command's options")
        }
        None => format!("unexpected argument '{arg}'; add --help to see what this command takes"),
    }
}

/// clap's own message without its "error: " prefix and tips, on one line.
fn first_paragraph(rendered: &str) -> String {
    let text = rendered.trim_start();
    let text = text.strip_prefix("error: ").unwrap_or(text);
    let message = text.split("\n\n").next().unwrap_or(text);
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("tip:"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Parser, Subcommand};

    #[derive(Debug, Parser)]
    struct Line {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Debug, Subcommand)]
    enum Command {
        Show {
            id: u64,
        },
        Rate {
            #[arg(long, value_parser = crate::cli::input::basis_points)]
            apr_bps: u32,
            #[arg(long)]
            method: Option<String>,
        },
    }

    fn error(args: &[&str]) -> String {
        let mut all = vec!["equa"];
        all.extend(args);
        message(&Line::try_parse_from(all).unwrap_err())
    }

    #[test]
    fn argument_errors_read_in_words() {
        assert_eq!(
            error(&["show", "seven"]),
            "<ID>: 'seven' is not a whole number"
        );
        assert_eq!(
            error(&["show", "-3"]),
            "-3 is negative: this command takes no negative numbers"
        );
        assert_eq!(
            error(&["show", "99999999999999999999999"]),
            "<ID>: 99999999999999999999999 is too large"
        );
        let rate = error(&["rate", "--apr-bps", "12x"]);
        assert!(
            rate.starts_with("--apr-bps: '12x' is neither a percentage nor basis points; write"),
            "{rate}"
        );
        assert_eq!(
            error(&["rate", "--apr-bps", "1", "--metod", "x"]),
            "unknown option --metod; did you mean --method?"
        );
        assert_eq!(
            error(&["shw", "3"]),
            "unknown command 'shw'; did you mean 'show'?"
        );
        let missing = error(&["rate"]);
        assert!(missing.contains("--apr-bps"), "{missing}");
        assert!(!missing.contains('\n'), "{missing}");
    }
}
