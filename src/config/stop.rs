//! `[stop]`: how the child is stopped.

use serde::{Deserialize, Serialize};

use super::units::{Dur, SignalName};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StopConfig {
    /// Signal sent to the child's process group to ask it to stop.
    pub signal: SignalName,
    /// How long to wait after `signal` before SIGKILL to the group and every descendant.
    pub timeout: Dur,
}

impl Default for StopConfig {
    fn default() -> Self {
        StopConfig {
            signal: SignalName(nix::sys::signal::Signal::SIGTERM),
            timeout: Dur::secs(30),
        }
    }
}
