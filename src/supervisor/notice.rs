//! Notices: what happened, broadcast to `ctl events` subscribers (and later alert channels).

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Notice {
    #[serde(with = "super::wall_time")]
    pub at: SystemTime,
    /// "state" (a phase change), "alert", "exit", "spawn", "drop", ...
    pub kind: String,
    /// The supervisor's phase after this notice.
    pub state: String,
    pub message: String,
}

pub type NoticeSender = tokio::sync::broadcast::Sender<Notice>;
