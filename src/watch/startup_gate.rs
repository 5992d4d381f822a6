//! The startup grace shared by every probe of one child. Pure: `now` is passed in.

use std::time::{Duration, Instant};

use super::verdict::Verdict;
use crate::supervisor::Reaction;

/// The startup grace shared by all probes of one child: it ends at the first proof of life,
/// or `timeout` after the spawn, when the child is restarted if nothing ever passed.
#[derive(Debug)]
pub struct StartupGate {
    timeout: Duration,
    spawned_at: Option<Instant>,
    started: bool,
    fired: bool,
}

impl StartupGate {
    pub fn new(timeout: Duration) -> StartupGate {
        StartupGate {
            timeout,
            spawned_at: None,
            started: false,
            fired: false,
        }
    }

    pub fn on_spawn(&mut self, now: Instant) {
        self.spawned_at = Some(now);
        self.started = false;
        self.fired = false;
    }

    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    pub fn on_exit(&mut self) {
        self.spawned_at = None;
    }

    pub fn proof_of_life(&mut self) {
        self.started = true;
    }

    pub fn started(&self) -> bool {
        self.started
    }

    pub fn in_grace(&self, now: Instant) -> bool {
        match self.spawned_at {
            Some(t) => !self.started && now.duration_since(t) < self.timeout,
            None => true,
        }
    }

    /// The restart verdict, once, when the timeout passes without proof of life.
    pub fn check(&mut self, now: Instant) -> Option<Verdict> {
        if !self.timed_out(now) || self.fired {
            return None;
        }
        self.fired = true;
        Some(Verdict::new(Reaction::Restart, self.timeout_reason()))
    }

    /// The timeout passed and no probe has passed yet for this child.
    pub fn timed_out(&self, now: Instant) -> bool {
        self.spawned_at
            .is_some_and(|t| !self.started && now.duration_since(t) >= self.timeout)
    }

    /// Why a child that never passed a probe in time is restarted; marks the gate as fired.
    pub fn timeout_reason(&mut self) -> String {
        self.fired = true;
        format!(
            "no probe passed within probes.startup_timeout ({}) of the start",
            humantime::format_duration(self.timeout)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_gate_ends_at_proof_of_life_or_restarts_at_timeout() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut g = StartupGate::new(s(300));
        g.on_spawn(t0);
        assert!(g.in_grace(t0 + s(299)));
        assert_eq!(g.check(t0 + s(299)), None);
        let v = g.check(t0 + s(300)).unwrap();
        assert_eq!(v.reaction, Reaction::Restart);
        assert_eq!(g.check(t0 + s(301)), None);
        g.on_spawn(t0 + s(400));
        g.proof_of_life();
        assert!(!g.in_grace(t0 + s(401)));
        assert_eq!(g.check(t0 + s(1000)), None);
    }
}
