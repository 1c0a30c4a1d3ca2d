//! The `equa` command line: one subcommand per file.

pub mod demo;
pub mod keys;
