//! `[state]`: where clawvisor keeps what must survive its own restart.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// Directory for state.json (the pause record) and `jobs/` (each scheduled job's state,
    /// history and checkpoint dirs). Created if missing.
    pub dir: PathBuf,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            dir: PathBuf::from("/var/lib/clawvisor"),
        }
    }
}
