//! A snapshot of the supervisor for `ctl status` and metrics.

use serde::{Deserialize, Serialize};

use super::exit::ExitRecord;
use super::pause::PauseRecord;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Status {
    /// "starting", "running", "backoff", "stopping", "paused", "stopped", "exiting".
    pub state: String,
    pub pid: Option<i32>,
    pub uptime_secs: Option<f64>,
    /// The gateway answers: its readiness probe passed (or it runs, when no probe decides).
    #[serde(default)]
    pub ready: bool,
    pub restarts: u64,
    /// `restarts` by reason, every reason of `restart_reason::RESTART_REASONS` present.
    #[serde(default)]
    pub restarts_by_reason: std::collections::BTreeMap<String, u64>,
    pub last_exit: Option<ExitRecord>,
    pub backoff_remaining_secs: Option<f64>,
    pub pause: Option<PauseRecord>,
    /// The command that clears the pause, when paused.
    pub resume_hint: Option<String>,
    pub last_reason: Option<String>,
    /// Statistics and latest readings of the other parts (logs, watchers, probes), by name.
    pub parts: serde_json::Map<String, serde_json::Value>,
}
