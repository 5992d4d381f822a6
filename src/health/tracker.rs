//! When a probe's results become a verdict: failure thresholds, the startup grace, and "busy
//! is not hung". Pure: results and `now` are passed in, so every rule is unit-tested.

use std::time::{Duration, Instant};

use crate::supervisor::Reaction;
use crate::watch::Verdict;

/// One probe result.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Pass,
    /// A real failure: refused, wrong status, wrong body, wrong answer, non-zero exit.
    Fail(String),
    /// Timed out (or too slow) while possibly just busy: see `ProbeRules::slow_window`.
    Slow(String),
    /// Worth a person's attention but not a failure: below a speed floor, a rejected token.
    Warn(String),
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail(_) => "fail",
            Outcome::Slow(_) => "slow",
            Outcome::Warn(_) => "warn",
        }
    }
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Pass => None,
            Outcome::Fail(r) | Outcome::Slow(r) | Outcome::Warn(r) => Some(r),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ProbeRules {
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub reaction: Reaction,
    /// For the completion probe: slow results restart only once their streak spans this.
    /// None: a slow result is a failure like any other.
    pub slow_window: Option<Duration>,
    /// The probe's `period`. Before its first pass a probe retries at the faster start-up
    /// cadence, but failures count at most once per `period`, so the cadence only makes a
    /// pass come sooner, never a restart.
    pub period: Duration,
}

/// What the rest of the watchers know when a result comes in.
#[derive(Clone, Copy, Debug)]
pub struct Context {
    pub now: Instant,
    /// Inside the startup grace: failures are counted but never acted on.
    pub in_grace: bool,
    /// The liveness probe's latest result was a failure.
    pub liveness_failing: bool,
}

#[derive(Debug)]
pub struct ProbeTracker {
    rules: ProbeRules,
    failures: u32,
    passes: u32,
    streak_since: Option<Instant>,
    failed: bool,
    fired: bool,
    noted: bool,
    /// Passed at least once since the spawn: before that the probe is "starting".
    passed_once: bool,
    /// When the latest failure was counted (before the first pass, once per `period`).
    counted_at: Option<Instant>,
    pub last: Option<Outcome>,
}

impl ProbeTracker {
    pub fn new(rules: ProbeRules) -> ProbeTracker {
        ProbeTracker {
            rules,
            failures: 0,
            passes: 0,
            streak_since: None,
            failed: false,
            fired: false,
            noted: false,
            passed_once: false,
            counted_at: None,
            last: None,
        }
    }

    /// A new child: everything starts afresh.
    pub fn reset(&mut self) {
        *self = ProbeTracker::new(self.rules.clone());
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Whether the probe passed since the spawn; until then it runs at the start-up cadence.
    pub fn passed_once(&self) -> bool {
        self.passed_once
    }

    /// For status: "not run yet", "starting" (no pass since the spawn: the gateway may still
    /// be loading), "ok", "failing" (it passed once, then failed), "failed" (past its
    /// threshold), "slow" or "warn".
    pub fn state(&self) -> &'static str {
        match (&self.last, self.failed) {
            (None, _) => "not run yet",
            (_, true) => "failed",
            (Some(Outcome::Pass), _) => "ok",
            (Some(Outcome::Warn(_)), _) => "warn",
            (Some(Outcome::Slow(_)), _) => "slow",
            (Some(Outcome::Fail(_)), _) if !self.passed_once => "starting",
            (Some(Outcome::Fail(_)), _) => "failing",
        }
    }

    pub fn observe(&mut self, outcome: Outcome, ctx: Context) -> Option<Verdict> {
        self.last = Some(outcome.clone());
        let before_first_pass = !self.passed_once
            && matches!(outcome, Outcome::Fail(_) | Outcome::Slow(_))
            && self
                .counted_at
                .is_some_and(|t| ctx.now.duration_since(t) < self.rules.period);
        if before_first_pass {
            // A start-up retry: shown in status, not counted (failures keep `period`'s pace).
            return None;
        }
        let reason = match outcome {
            Outcome::Pass => {
                self.passed_once = true;
                self.failures = 0;
                self.streak_since = None;
                self.passes += 1;
                // An alert (a failure that only alerts, or a warning) is answered by a recovery.
                let mut alerted = std::mem::take(&mut self.noted);
                if self.failed && self.passes >= self.rules.success_threshold {
                    self.failed = false;
                    alerted |=
                        std::mem::take(&mut self.fired) && self.rules.reaction == Reaction::Alert;
                }
                return alerted.then(|| Verdict::cleared("passes again"));
            }
            // A warning is not a failure: it does not break a streak of passes either way.
            Outcome::Warn(r) => return self.note(format!("warning: {r}")),
            Outcome::Fail(r) | Outcome::Slow(r) if ctx.liveness_failing => r,
            Outcome::Slow(r) if self.rules.slow_window.is_some() => {
                return self.slow(r, ctx);
            }
            Outcome::Fail(r) | Outcome::Slow(r) => r,
        };
        self.count_failure(ctx.now);
        if self.failures >= self.rules.failure_threshold {
            self.failed = true;
            if !ctx.in_grace && !self.fired {
                self.fired = true;
                return Some(Verdict::new(
                    self.rules.reaction,
                    format!("failed {} times in a row: {reason}", self.failures),
                ));
            }
        }
        None
    }

    fn count_failure(&mut self, now: Instant) {
        self.counted_at = Some(now);
        self.passes = 0;
        self.failures += 1;
        self.streak_since.get_or_insert(now);
    }

    /// Busy is not hung: alert once, act only when the slowness has lasted `slow_window`.
    fn slow(&mut self, reason: String, ctx: Context) -> Option<Verdict> {
        self.count_failure(ctx.now);
        let window = self.rules.slow_window.unwrap_or_default();
        let span = ctx.now.duration_since(self.streak_since.unwrap_or(ctx.now));
        if self.failures >= self.rules.failure_threshold && span >= window {
            self.failed = true;
            if !ctx.in_grace && !self.fired {
                self.fired = true;
                return Some(Verdict::new(
                    self.rules.reaction,
                    format!(
                        "slow for {} ({} times in a row): {reason}",
                        humantime::format_duration(Duration::from_secs(span.as_secs())),
                        self.failures
                    ),
                ));
            }
            return None;
        }
        self.note(format!("slow (busy, not dead yet): {reason}"))
    }

    fn note(&mut self, reason: String) -> Option<Verdict> {
        if self.noted {
            return None;
        }
        self.noted = true;
        Some(Verdict::new(Reaction::Alert, reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(slow: Option<u64>) -> ProbeRules {
        ProbeRules {
            failure_threshold: 3,
            success_threshold: 1,
            reaction: Reaction::Restart,
            slow_window: slow.map(Duration::from_secs),
            period: Duration::from_secs(1),
        }
    }

    fn ctx(t0: Instant, secs: u64) -> Context {
        Context {
            now: t0 + Duration::from_secs(secs),
            in_grace: false,
            liveness_failing: false,
        }
    }

    fn fail() -> Outcome {
        Outcome::Fail("refused".into())
    }

    #[test]
    fn restarts_after_the_threshold_once() {
        let t0 = Instant::now();
        let mut t = ProbeTracker::new(rules(None));
        assert_eq!(t.observe(fail(), ctx(t0, 0)), None);
        assert_eq!(t.observe(fail(), ctx(t0, 10)), None);
        let v = t.observe(fail(), ctx(t0, 20)).unwrap();
        assert_eq!(v.reaction, Reaction::Restart);
        assert!(v.reason.contains("3 times") && v.reason.contains("refused"));
        assert_eq!(t.observe(fail(), ctx(t0, 30)), None, "once per failure");
        assert_eq!(t.state(), "failed");
        t.observe(Outcome::Pass, ctx(t0, 40));
        assert_eq!(t.state(), "ok");
        t.observe(fail(), ctx(t0, 50));
        t.observe(fail(), ctx(t0, 60));
        assert!(
            t.observe(fail(), ctx(t0, 70)).is_some(),
            "re-armed by a pass"
        );
    }

    #[test]
    fn an_alerting_probe_that_passes_again_reports_its_recovery_once() {
        let t0 = Instant::now();
        let mut t = ProbeTracker::new(ProbeRules {
            reaction: Reaction::Alert,
            ..rules(None)
        });
        for i in 0..3 {
            t.observe(fail(), ctx(t0, i));
        }
        let v = t.observe(Outcome::Pass, ctx(t0, 4)).unwrap();
        assert!(v.cleared, "{v:?}");
        assert_eq!(t.observe(Outcome::Pass, ctx(t0, 5)), None, "once");
        // A restarting probe's recovery is the gateway's readiness, not the probe's.
        let mut r = ProbeTracker::new(rules(None));
        for i in 0..3 {
            r.observe(fail(), ctx(t0, i));
        }
        assert_eq!(r.observe(Outcome::Pass, ctx(t0, 4)), None);
    }

    #[test]
    fn a_pass_breaks_the_streak_and_grace_suppresses_action() {
        let t0 = Instant::now();
        let mut t = ProbeTracker::new(rules(None));
        t.observe(fail(), ctx(t0, 0));
        t.observe(fail(), ctx(t0, 1));
        t.observe(Outcome::Pass, ctx(t0, 2));
        t.observe(fail(), ctx(t0, 3));
        assert_eq!(t.observe(fail(), ctx(t0, 4)), None);
        let mut g = ctx(t0, 5);
        g.in_grace = true;
        assert_eq!(t.observe(fail(), g), None, "a slow start is not restarted");
        assert_eq!(t.state(), "failed");
        assert!(
            t.observe(fail(), ctx(t0, 6)).is_some(),
            "acts once the grace is over"
        );
    }

    #[test]
    fn slow_is_not_dead_until_the_window_spans() {
        let t0 = Instant::now();
        let mut t = ProbeTracker::new(rules(Some(900)));
        let slow = || Outcome::Slow("timed out after 60s".into());
        let v = t.observe(slow(), ctx(t0, 0)).unwrap();
        assert_eq!(v.reaction, Reaction::Alert);
        assert!(v.reason.contains("slow"));
        for s in [300, 600, 899] {
            assert_eq!(t.observe(slow(), ctx(t0, s)), None, "at {s}s");
        }
        assert_eq!(t.state(), "slow");
        let v = t.observe(slow(), ctx(t0, 900)).unwrap();
        assert_eq!(v.reaction, Reaction::Restart);
        assert!(v.reason.contains("15m"), "{}", v.reason);
    }

    #[test]
    fn slow_with_liveness_failing_is_dead() {
        let t0 = Instant::now();
        let mut t = ProbeTracker::new(rules(Some(900)));
        let c = |s| Context {
            liveness_failing: true,
            ..ctx(t0, s)
        };
        let slow = || Outcome::Slow("timed out".into());
        t.observe(slow(), c(0));
        t.observe(slow(), c(1));
        assert_eq!(t.observe(slow(), c(2)).unwrap().reaction, Reaction::Restart);
    }

    #[test]
    fn warnings_alert_once_and_never_restart() {
        let t0 = Instant::now();
        let mut t = ProbeTracker::new(rules(None));
        let w = || Outcome::Warn("401: check the token".into());
        assert_eq!(
            t.observe(w(), ctx(t0, 0)).unwrap().reaction,
            Reaction::Alert
        );
        for s in 1..10 {
            assert_eq!(t.observe(w(), ctx(t0, s)), None);
        }
    }

    #[test]
    fn before_the_first_pass_a_probe_is_starting_and_counts_once_per_period() {
        let t0 = Instant::now();
        let mut r = rules(None);
        r.period = Duration::from_secs(300);
        let mut t = ProbeTracker::new(r);
        assert_eq!(t.state(), "not run yet");
        let at = |ms: u64| Context {
            now: t0 + Duration::from_millis(ms),
            in_grace: false,
            liveness_failing: false,
        };
        // Start-up retries every 2 s for a minute: one failure counted, no verdict.
        for i in 0..30 {
            assert_eq!(t.observe(fail(), at(i * 2000)), None);
        }
        assert_eq!((t.state(), t.failures()), ("starting", 1));
        assert!(!t.passed_once());
        t.observe(Outcome::Pass, at(61_000));
        assert!(t.passed_once());
        // After a pass, every failure counts and the state is "failing".
        t.observe(fail(), at(62_000));
        t.observe(fail(), at(62_100));
        assert_eq!((t.state(), t.failures()), ("failing", 2));
        assert!(t.observe(fail(), at(62_200)).is_some());
    }

    #[test]
    fn before_the_first_pass_failures_a_period_apart_still_restart() {
        let t0 = Instant::now();
        let mut t = ProbeTracker::new(rules(None));
        assert_eq!(t.observe(fail(), ctx(t0, 0)), None);
        assert_eq!(t.observe(fail(), ctx(t0, 1)), None);
        assert_eq!(t.state(), "starting");
        assert!(
            t.observe(fail(), ctx(t0, 2)).is_some(),
            "a gateway that never answers"
        );
        assert_eq!(t.state(), "failed");
    }
}
