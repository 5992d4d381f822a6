//! `[restart]` and `[restart.backoff]`: when and how fast the child is started again.

use serde::{Deserialize, Serialize};

use super::units::{Dur, SignalName};

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Restart after every exit that clawvisor did not ask for.
    Always,
    /// Restart only after a failure (an exit code or signal not listed as success).
    OnFailure,
    /// Never restart: clawvisor exits with the child's status.
    Never,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RestartConfig {
    /// `"always"`, `"on-failure"` or `"never"`.
    pub policy: RestartPolicy,
    /// Exit codes that count as success (for `on-failure`, and for the crash-loop count).
    pub success_exit_codes: Vec<i32>,
    /// Signals that count as success when they end the child (e.g. ["TERM"]).
    pub success_signals: Vec<SignalName>,
    /// Exit codes after which restarting cannot help: pause at once and wait for `ctl resume`.
    /// 78 is openclaw's EX_CONFIG (invalid config, second gateway on the same state dir).
    pub pause_on_exit_codes: Vec<i32>,
    /// More than this many restarts within `window` is a crash loop: pause instead.
    pub max_restarts: u32,
    /// The sliding window for `max_restarts`.
    pub window: Dur,
    pub backoff: BackoffConfig,
}

impl Default for RestartConfig {
    fn default() -> Self {
        RestartConfig {
            policy: RestartPolicy::Always,
            success_exit_codes: vec![0],
            success_signals: Vec::new(),
            pause_on_exit_codes: vec![78],
            max_restarts: 5,
            window: Dur::secs(600),
            backoff: BackoffConfig::default(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BackoffConfig {
    /// Delay before the first restart. Default "1s" (or `max`, when only that is written
    /// and shorter).
    pub initial: Dur,
    /// Each further failure multiplies the delay by this.
    pub multiplier: f64,
    /// The delay never grows past this. Default "5m" (or `initial`, when only that is
    /// written and longer).
    pub max: Dur,
    /// Random spread of each delay, as a fraction (0.1 = ±10%).
    pub jitter: f64,
    /// A child that ran this long is healthy: the next failure starts again from `initial`.
    pub reset_after: Dur,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: Dur::secs(1),
            multiplier: 2.0,
            max: Dur::secs(300),
            jitter: 0.1,
            reset_after: Dur::secs(600),
        }
    }
}

impl RestartConfig {
    pub fn validate(&self, out: &mut Vec<(String, String)>) {
        let b = &self.backoff;
        if !(b.multiplier.is_finite() && b.multiplier >= 1.0) {
            out.push((
                "restart.backoff.multiplier".into(),
                format!("{} must be a number >= 1", b.multiplier),
            ));
        }
        if !(0.0..=1.0).contains(&b.jitter) {
            out.push((
                "restart.backoff.jitter".into(),
                format!("{} must be between 0 and 1 (0.1 = ±10%)", b.jitter),
            ));
        }
        if self.window.get().is_zero() {
            out.push(("restart.window".into(), "must be longer than 0s".into()));
        }
    }
}
