//! Fuzzing every parser of outside input (RELIABILITY.md, "Fuzzing").
//!
//! - [`targets`]: one entry function per parser, `fn(&[u8])`, that panics only when the
//!   code under test panics or breaks an invariant the target checks. The same functions
//!   are called by the coverage-guided `fuzz/` crate (cargo-fuzz), by `scripts/fuzz` (the
//!   stable runner, `examples/fuzz.rs`) and by the bounded CI run in the lib tests.
//! - [`driver`]: a mutation fuzzer for stable Rust — seeded, catches panics, times every
//!   input, stops the process on a hang.
//! - [`mutate`], [`json`]: byte-level and JSON-aware mutations; [`input`]: reading typed
//!   values off the fuzzer's bytes.
//!
//! Not part of the daemon's API: hidden from the docs, used only by the fuzzers and tests.
pub mod driver;
pub mod input;
pub mod json;
pub mod mutate;
pub mod targets;

pub use driver::{Budget, Finding, Options, Report, run};
pub use targets::{TARGETS, Target, find, run_target};

#[cfg(test)]
mod tests;
