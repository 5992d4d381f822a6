//! Checks of the config's own files against this machine (alert channels' token and
//! password files), separate from its syntax. A missing file is a warning: clawvisor still
//! supervises the gateway, and the channel reports the problem when it sends. The files other
//! parts read (quality tests, the completion probe's token) are `preflight::warnings`.

use super::Config;

impl Config {
    /// (key path, problem) pairs worth a warning at `check` and at start-up.
    pub(super) fn environment_warnings(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        self.alerts.environment_warnings(&mut out);
        out
    }
}
