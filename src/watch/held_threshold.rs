//! A threshold that must be exceeded for a while before it counts, and fires once until the
//! value comes back below it. Pure: the caller passes `now`.

use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct HeldThreshold {
    limit: f64,
    hold: Duration,
    above_since: Option<Instant>,
    fired: bool,
}

impl HeldThreshold {
    /// `limit` <= 0 never fires (a threshold of "0" is off).
    pub fn new(limit: f64, hold: Duration) -> HeldThreshold {
        HeldThreshold {
            limit,
            hold,
            above_since: None,
            fired: false,
        }
    }

    pub fn limit(&self) -> f64 {
        self.limit
    }

    pub fn is_off(&self) -> bool {
        self.limit <= 0.0
    }

    /// True exactly once per excursion: when `value` has stayed above the limit for `hold`.
    pub fn observe(&mut self, value: f64, now: Instant) -> bool {
        if self.is_off() || value <= self.limit {
            self.above_since = None;
            self.fired = false;
            return false;
        }
        let since = *self.above_since.get_or_insert(now);
        if !self.fired && now.duration_since(since) >= self.hold {
            self.fired = true;
            return true;
        }
        false
    }

    /// How long the value has been above the limit, if it is.
    pub fn above_for(&self, now: Instant) -> Option<Duration> {
        self.above_since.map(|s| now.duration_since(s))
    }

    pub fn reset(&mut self) {
        self.above_since = None;
        self.fired = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_after_the_hold_and_rearms_below() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut t = HeldThreshold::new(100.0, s(30));
        assert!(!t.observe(150.0, t0));
        assert!(!t.observe(150.0, t0 + s(29)));
        assert!(t.observe(150.0, t0 + s(30)));
        assert!(!t.observe(150.0, t0 + s(60)), "fires once per excursion");
        assert!(!t.observe(50.0, t0 + s(61)));
        assert!(!t.observe(150.0, t0 + s(62)), "the hold starts again");
        assert!(t.observe(150.0, t0 + s(92)));
    }

    #[test]
    fn a_dip_below_restarts_the_hold_and_zero_is_off() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut t = HeldThreshold::new(100.0, s(30));
        t.observe(150.0, t0);
        t.observe(90.0, t0 + s(20));
        assert!(!t.observe(150.0, t0 + s(35)));
        let mut off = HeldThreshold::new(0.0, s(0));
        assert!(!off.observe(1e18, t0));
        let mut now = HeldThreshold::new(100.0, s(0));
        assert!(now.observe(101.0, t0), "no hold fires at once");
    }
}
