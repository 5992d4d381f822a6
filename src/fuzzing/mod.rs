//! Entry points for coverage-guided fuzzing (`fuzz/`, run by `scripts/fuzz.sh`).
//!
//! Each `check` takes arbitrary bytes, drives one input-facing parser the way clawvisor does,
//! and panics only when an invariant breaks (a panic inside the parser is a finding too). The
//! same functions replay the kept inputs in `fuzz/regressions/` as ordinary tests
//! (`tests/fuzz_regressions.rs`), so a crash once found stays fixed.

pub mod config;
pub mod control;
pub mod framer;
pub mod quality;
pub mod schedule;

/// The targets by name, as the fuzz crate and the regression test know them.
/// A target: it panics when an input breaks an invariant.
pub type Check = fn(&[u8]);

pub const TARGETS: &[(&str, Check)] = &[
    ("config", config::check),
    ("control", control::check),
    ("framer", framer::check),
    ("quality", quality::check),
    ("schedule", schedule::check),
];
