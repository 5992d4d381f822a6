//! `[logs]`: capture of the child's stdout/stderr.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogsConfig {
    /// Directory for the gateway's captured logs. Created if missing.
    pub dir: PathBuf,
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            dir: PathBuf::from("/var/log/clawvisor"),
        }
    }
}
