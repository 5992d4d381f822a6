//! `[systemd]`: what clawvisor tells systemd under `Type=notify`.

use serde::{Deserialize, Serialize};

/// When READY=1 goes out.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ReadyWhen {
    /// When the gateway is ready, or at once when clawvisor settles in a state that waits
    /// for a person (paused, stopped). Until then EXTEND_TIMEOUT_USEC keeps systemd's start
    /// job alive, for at most `probes.startup_timeout`.
    #[default]
    Gateway,
    /// As soon as clawvisor itself is up (units ordered after clawvisor may then find the
    /// gateway still loading).
    Clawvisor,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SystemdConfig {
    /// `"gateway"`: READY=1 once the gateway is ready, or once clawvisor waits for a person
    /// (a pause, at boot or later), or once `probes.startup_timeout` has passed since
    /// clawvisor started while it keeps trying; meanwhile EXTEND_TIMEOUT_USEC keeps the
    /// start job alive past a short `TimeoutStartSec`. `"clawvisor"`: READY=1 as soon as
    /// clawvisor itself is up. Default "gateway".
    pub ready: ReadyWhen,
}
