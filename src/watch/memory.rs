//! `[memory]`: thresholds on the tree's memory and its growth rate. Pure: `now` is passed in.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::held_threshold::{Crossing, HeldThreshold};
use super::tree_sample::TreeSample;
use super::verdict::Verdict;
use crate::config::{MemoryConfig, MemoryMeasure, Size};
use crate::supervisor::Reaction;

/// The growth rate is measured over this much history.
pub const GROWTH_WINDOW: Duration = Duration::from_secs(3600);

#[derive(Debug)]
pub struct MemoryTracker {
    measure: MemoryMeasure,
    warn: HeldThreshold,
    restart: HeldThreshold,
    warn_above: Size,
    restart_above: Size,
    restart_after: Duration,
    history: VecDeque<(Instant, u64)>,
}

impl MemoryTracker {
    pub fn new(cfg: &MemoryConfig) -> MemoryTracker {
        MemoryTracker {
            measure: cfg.measure,
            warn: HeldThreshold::new(cfg.warn_above.0 as f64, Duration::ZERO),
            restart: HeldThreshold::new(cfg.restart_above.0 as f64, cfg.restart_after.get()),
            warn_above: cfg.warn_above,
            restart_above: cfg.restart_above,
            restart_after: cfg.restart_after.get(),
            history: VecDeque::new(),
        }
    }

    /// The figure thresholds compare against.
    pub fn measured(&self, s: &TreeSample) -> u64 {
        match self.measure {
            MemoryMeasure::Rss => s.rss_bytes,
            MemoryMeasure::Pss => s.pss_bytes,
        }
    }

    /// A new child: its memory history and threshold timers start afresh.
    pub fn reset(&mut self) {
        self.warn.reset();
        self.restart.reset();
        self.history.clear();
    }

    pub fn observe(&mut self, s: &TreeSample, now: Instant) -> Vec<Verdict> {
        let bytes = self.measured(s);
        self.history.push_back((now, bytes));
        while let Some(&(t, _)) = self.history.front() {
            if now.duration_since(t) > GROWTH_WINDOW {
                self.history.pop_front();
            } else {
                break;
            }
        }
        let name = match self.measure {
            MemoryMeasure::Rss => "RSS",
            MemoryMeasure::Pss => "PSS",
        };
        let mut out = Vec::new();
        let used = Size(bytes);
        match self.warn.update(bytes as f64, now) {
            Crossing::Fired => out.push(Verdict::new(
                Reaction::Alert,
                format!(
                    "gateway tree {name} {used} is above memory.warn_above ({}) [{} processes]",
                    self.warn_above, s.processes
                ),
            )),
            Crossing::Cleared => out.push(Verdict::cleared(format!(
                "gateway tree {name} {used} is back under memory.warn_above ({})",
                self.warn_above
            ))),
            Crossing::None => {}
        }
        if self.restart.observe(bytes as f64, now) {
            out.push(Verdict::new(
                Reaction::Restart,
                format!(
                    "gateway tree {name} {used} stayed above memory.restart_above ({}) for {}",
                    self.restart_above,
                    humantime::format_duration(self.restart_after)
                ),
            ));
        }
        out
    }

    /// Bytes per hour over the history (up to the last hour); None with under a minute of it.
    pub fn growth_per_hour(&self) -> Option<f64> {
        let (&(t0, b0), &(t1, b1)) = (self.history.front()?, self.history.back()?);
        let span = t1.duration_since(t0).as_secs_f64();
        if span < 60.0 {
            return None;
        }
        Some((b1 as f64 - b0 as f64) / span * 3600.0)
    }

    /// How long the tree has been above `restart_above`, for status.
    pub fn above_restart_for(&self, now: Instant) -> Option<Duration> {
        self.restart.above_for(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(rss: u64) -> TreeSample {
        TreeSample {
            processes: 2,
            rss_bytes: rss,
            pss_bytes: rss / 2,
            ..TreeSample::default()
        }
    }

    #[test]
    fn warns_at_once_and_restarts_after_the_hold() {
        let cfg = MemoryConfig {
            warn_above: Size::mib(100),
            restart_above: Size::mib(200),
            restart_after: crate::config::Dur::secs(30),
            ..MemoryConfig::default()
        };
        let mut m = MemoryTracker::new(&cfg);
        let t0 = Instant::now();
        let s = Duration::from_secs;
        assert!(m.observe(&sample(50 << 20), t0).is_empty());
        let v = m.observe(&sample(150 << 20), t0 + s(5));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].reaction, Reaction::Alert);
        assert!(v[0].reason.contains("memory.warn_above"), "{}", v[0].reason);
        assert!(m.observe(&sample(250 << 20), t0 + s(10)).is_empty());
        assert!(m.observe(&sample(250 << 20), t0 + s(35)).is_empty());
        let v = m.observe(&sample(250 << 20), t0 + s(40));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].reaction, Reaction::Restart);
        assert!(v[0].reason.contains("for 30s"), "{}", v[0].reason);
        assert!(m.observe(&sample(250 << 20), t0 + s(45)).is_empty());
        // Back under the warning: one recovery, then quiet.
        let v = m.observe(&sample(50 << 20), t0 + s(50));
        assert_eq!(v.len(), 1);
        assert!(v[0].cleared, "{v:?}");
        assert!(
            v[0].reason.contains("back under memory.warn_above"),
            "{}",
            v[0].reason
        );
        assert!(m.observe(&sample(50 << 20), t0 + s(55)).is_empty());
    }

    #[test]
    fn pss_measure_compares_pss_and_growth_is_per_hour() {
        let cfg = MemoryConfig {
            measure: MemoryMeasure::Pss,
            warn_above: Size::mib(100),
            restart_above: Size(0),
            ..MemoryConfig::default()
        };
        let mut m = MemoryTracker::new(&cfg);
        let t0 = Instant::now();
        // RSS 150 MiB is above the warning but PSS (75 MiB) is not.
        assert!(m.observe(&sample(150 << 20), t0).is_empty());
        assert_eq!(m.growth_per_hour(), None);
        m.observe(&sample(170 << 20), t0 + Duration::from_secs(600));
        let g = m.growth_per_hour().unwrap();
        assert!((g - (60.0 * 1024.0 * 1024.0)).abs() < 1.0, "{g}");
        m.reset();
        assert_eq!(m.growth_per_hour(), None);
    }
}
