//! clawvisor: a process supervisor for a self-hosted AI gateway.

pub mod cli;
pub mod config;
pub mod control;
pub mod fuzzing;
pub mod health;
pub mod logs;
pub mod metrics;
pub mod preflight;
pub mod process;
pub mod self_log;
pub mod supervisor;
pub mod watch;
