//! clawvisor: a process supervisor for a self-hosted AI gateway.

pub mod alerts;
pub mod cli;
pub mod cli_docs;
pub mod config;
pub mod control;
pub mod fuzzing;
pub mod health;
pub mod jobs;
pub mod logs;
pub mod metrics;
pub mod nofollow;
pub mod preflight;
pub mod process;
pub mod runtime;
pub mod self_log;
pub mod supervisor;
pub mod tls;
pub mod watch;
