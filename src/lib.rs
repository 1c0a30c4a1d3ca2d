//! The `equa` binary's command line and web interface. They are a library so that what parses
//! untrusted input (the web interface's actions) can be driven from outside the binary: the
//! fuzz targets in `crates/fuzzing` call it.

pub mod cli;
pub mod web;
