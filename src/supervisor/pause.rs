//! The pause record: why the child is held down until a person runs `clawvisor ctl resume`.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::exit::ExitRecord;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PauseRecord {
    pub reason: String,
    #[serde(with = "super::wall_time")]
    pub since: SystemTime,
    pub last_exit: Option<ExitRecord>,
    /// The child's last lines of output before the pause (filled in by the shell).
    #[serde(default)]
    pub last_lines: Vec<String>,
}
