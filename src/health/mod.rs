//! Layer 2 and 3: HTTP probes, the completion probe, exec probes and quality tests, and the
//! pure rules that turn their results into verdicts.

pub mod chat;
pub mod client;
pub mod completion;
pub mod exec;
pub mod expect;
pub mod http;
pub mod quality;
pub mod tasks;
pub mod tracker;

pub use crate::process::command_runner::{CommandRunner, StdRunner};
pub use tracker::{Context, Outcome, ProbeRules, ProbeTracker};
