//! What reaches a person: dedup, grouping, reminders, recovery and inhibition, as a pure
//! state machine. The clock comes in as an argument, so the rules are tested without sleeping.
//!
//! - A condition is identified by its fingerprint (kind, subject). Its first occurrence waits
//!   `group_wait` for more of the same, then goes out as one message counting them all; a
//!   condition that clears within that wait sends nothing (a flap). A pause goes out at once.
//! - While it keeps firing, repeats are only counted; a reminder goes out after each of the
//!   `reminders` intervals (the last one repeats), carrying the count.
//! - When it clears, one recovery goes out (only if its firing message did).
//! - While the gateway is paused, crash, restart and probe alerts are held back: the pause
//!   says it all.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use super::alert::{Alert, Notification, Status};

/// Kinds that say nothing new while the gateway is paused.
const INHIBITED_WHILE_PAUSED: [&str; 3] = ["crash", "restart", "probe"];
/// Kinds sent without waiting for a burst to gather.
const IMMEDIATE: [&str; 2] = ["pause", "test"];
/// Conditions tracked at once; beyond it the oldest resolved-or-quiet one is forgotten.
const MAX_ENTRIES: usize = 1024;

#[derive(Clone, Debug)]
pub struct PolicyConfig {
    pub group_wait: Duration,
    pub reminders: Vec<Duration>,
    pub host: String,
}

/// Alerts that did not become messages, by why.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Suppressed {
    /// Repeats of a firing condition, merged into the next message.
    pub dedup: u64,
    /// Held back while paused.
    pub inhibited: u64,
    /// Fired and cleared within `group_wait`: nothing was sent.
    pub flapped: u64,
}

#[derive(Clone, Debug)]
struct Entry {
    latest: Alert,
    started_at: SystemTime,
    /// Waiting for the burst to gather until then; None once the firing message went out.
    pending_until: Option<Instant>,
    last_sent: Option<Instant>,
    reminders_sent: usize,
    /// Occurrences not yet reported in a message.
    unreported: u64,
}

#[derive(Clone, Debug)]
pub struct Policy {
    cfg: PolicyConfig,
    entries: BTreeMap<String, Entry>,
    pub suppressed: Suppressed,
}

impl Policy {
    pub fn new(cfg: PolicyConfig) -> Policy {
        Policy {
            cfg,
            entries: BTreeMap::new(),
            suppressed: Suppressed::default(),
        }
    }

    fn paused(&self) -> bool {
        self.entries.values().any(|e| e.latest.kind == "pause")
    }

    /// Takes one alert in; returns the messages due now.
    pub fn on_alert(&mut self, alert: Alert, now: Instant) -> Vec<Notification> {
        let fp = alert.fingerprint();
        if alert.resolved {
            return self.resolve(&fp, alert);
        }
        if INHIBITED_WHILE_PAUSED.contains(&alert.kind.as_str()) && self.paused() {
            self.suppressed.inhibited += 1;
            return Vec::new();
        }
        if let Some(e) = self.entries.get_mut(&fp) {
            e.latest = alert;
            e.unreported += 1;
            if e.pending_until.is_none() {
                self.suppressed.dedup += 1;
            }
            return Vec::new();
        }
        if alert.kind == "pause" {
            // Symptoms still gathering are part of the pause's story: drop them.
            let before = self.entries.len();
            self.entries.retain(|_, e| {
                !(e.pending_until.is_some()
                    && INHIBITED_WHILE_PAUSED.contains(&e.latest.kind.as_str()))
            });
            self.suppressed.inhibited += (before - self.entries.len()) as u64;
        }
        self.forget_if_full();
        let immediate = IMMEDIATE.contains(&alert.kind.as_str()) || self.cfg.group_wait.is_zero();
        let entry = Entry {
            started_at: alert.at,
            latest: alert,
            pending_until: Some(now + self.cfg.group_wait),
            last_sent: None,
            reminders_sent: 0,
            unreported: 1,
        };
        self.entries.insert(fp.clone(), entry);
        if immediate {
            return self.on_tick_one(&fp, now).into_iter().collect();
        }
        Vec::new()
    }

    fn resolve(&mut self, fp: &str, alert: Alert) -> Vec<Notification> {
        let Some(e) = self.entries.remove(fp) else {
            return Vec::new();
        };
        if e.pending_until.is_some() {
            self.suppressed.flapped += 1;
            return Vec::new();
        }
        vec![Notification {
            fingerprint: fp.to_string(),
            status: Status::Resolved,
            occurrences: e.unreported,
            started_at: e.started_at,
            reminder: false,
            test: false,
            host: self.cfg.host.clone(),
            alert: Alert {
                severity: e.latest.severity,
                details: e.latest.details,
                ..alert
            },
        }]
    }

    /// Messages due at `now`: bursts whose wait is over, reminders.
    pub fn on_tick(&mut self, now: Instant) -> Vec<Notification> {
        let due: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| self.due_at(e).is_some_and(|t| t <= now))
            .map(|(fp, _)| fp.clone())
            .collect();
        due.iter()
            .filter_map(|fp| self.on_tick_one(fp, now))
            .collect()
    }

    fn on_tick_one(&mut self, fp: &str, now: Instant) -> Option<Notification> {
        let paused = self.paused();
        let host = self.cfg.host.clone();
        let e = self.entries.get_mut(fp)?;
        let reminder = e.pending_until.is_none();
        if reminder {
            if paused && INHIBITED_WHILE_PAUSED.contains(&e.latest.kind.as_str()) {
                // No reminders of symptoms while paused; the clock restarts after the pause.
                e.last_sent = Some(now);
                return None;
            }
            e.reminders_sent += 1;
        }
        e.pending_until = None;
        e.last_sent = Some(now);
        let occurrences = std::mem::take(&mut e.unreported);
        Some(Notification {
            alert: e.latest.clone(),
            status: Status::Firing,
            fingerprint: fp.to_string(),
            occurrences,
            started_at: e.started_at,
            reminder,
            test: false,
            host,
        })
    }

    /// When this entry wants its next message, if ever.
    fn due_at(&self, e: &Entry) -> Option<Instant> {
        if let Some(t) = e.pending_until {
            return Some(t);
        }
        let last = e.last_sent?;
        let i = e
            .reminders_sent
            .min(self.cfg.reminders.len().checked_sub(1)?);
        Some(last + self.cfg.reminders[i])
    }

    /// The next moment `on_tick` has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.entries.values().filter_map(|e| self.due_at(e)).min()
    }

    /// Conditions firing now, for status.
    pub fn firing(&self) -> usize {
        self.entries.len()
    }

    fn forget_if_full(&mut self) {
        if self.entries.len() < MAX_ENTRIES {
            return;
        }
        // The one quiet longest: it will come back as new if it fires again.
        if let Some(fp) = self
            .entries
            .iter()
            .filter(|(_, e)| e.latest.kind != "pause")
            .min_by_key(|(_, e)| e.last_sent)
            .map(|(fp, _)| fp.clone())
        {
            self.entries.remove(&fp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::alert::Severity;

    const WAIT: Duration = Duration::from_secs(10);
    const HOUR: Duration = Duration::from_secs(3600);

    fn policy() -> Policy {
        Policy::new(PolicyConfig {
            group_wait: WAIT,
            reminders: vec![HOUR, 4 * HOUR],
            host: "box".into(),
        })
    }

    fn crash(n: u32) -> Alert {
        Alert::new("crash", Severity::Warning, "gateway", format!("crash {n}"))
    }

    fn pause() -> Alert {
        Alert::new("pause", Severity::Critical, "gateway", "paused: crash loop")
    }

    #[test]
    fn a_burst_becomes_one_message_after_the_group_wait() {
        let mut p = policy();
        let t0 = Instant::now();
        for i in 0..50 {
            assert!(
                p.on_alert(crash(i), t0 + Duration::from_millis(100 * u64::from(i)))
                    .is_empty()
            );
        }
        assert_eq!(p.next_deadline(), Some(t0 + WAIT));
        assert!(p.on_tick(t0 + WAIT - Duration::from_millis(1)).is_empty());
        let out = p.on_tick(t0 + WAIT);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].occurrences, 50);
        assert_eq!(
            out[0].alert.summary, "crash 49",
            "the latest occurrence is shown"
        );
        assert!(!out[0].reminder && out[0].status == Status::Firing);
        // More of the same only counts, until the first reminder an hour later.
        for i in 0..5 {
            assert!(
                p.on_alert(crash(i), t0 + WAIT + Duration::from_secs(1))
                    .is_empty()
            );
        }
        assert_eq!(p.suppressed.dedup, 5);
        assert_eq!(p.next_deadline(), Some(t0 + WAIT + HOUR));
        let r = p.on_tick(t0 + WAIT + HOUR);
        assert_eq!(r.len(), 1);
        assert!(r[0].reminder);
        assert_eq!(r[0].occurrences, 5);
    }

    #[test]
    fn reminders_grow_and_the_last_interval_repeats() {
        let mut p = policy();
        let t0 = Instant::now();
        p.on_alert(crash(0), t0);
        assert_eq!(p.on_tick(t0 + WAIT).len(), 1);
        let mut t = t0 + WAIT;
        let mut gaps = Vec::new();
        for _ in 0..4 {
            let next = p.next_deadline().unwrap();
            gaps.push(next - t);
            assert_eq!(p.on_tick(next).len(), 1);
            t = next;
        }
        assert_eq!(gaps, [HOUR, 4 * HOUR, 4 * HOUR, 4 * HOUR]);
    }

    #[test]
    fn no_reminders_when_none_are_configured() {
        let mut p = Policy::new(PolicyConfig {
            group_wait: WAIT,
            reminders: Vec::new(),
            host: "box".into(),
        });
        let t0 = Instant::now();
        p.on_alert(crash(0), t0);
        assert_eq!(p.on_tick(t0 + WAIT).len(), 1);
        assert_eq!(p.next_deadline(), None);
    }

    #[test]
    fn recovery_follows_a_sent_alert_once() {
        let mut p = policy();
        let t0 = Instant::now();
        p.on_alert(crash(0), t0);
        p.on_tick(t0 + WAIT);
        let r = p.on_alert(
            Alert::resolved("crash", "gateway", "ready again"),
            t0 + HOUR / 2,
        );
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].status, Status::Resolved);
        assert_eq!(
            r[0].alert.severity,
            Severity::Warning,
            "keeps the alert's severity"
        );
        assert_eq!(r[0].fingerprint, crash(0).fingerprint());
        // A second recovery, or one for something never firing, sends nothing.
        assert!(
            p.on_alert(Alert::resolved("crash", "gateway", "again"), t0 + HOUR)
                .is_empty()
        );
        assert!(
            p.on_alert(Alert::resolved("disk", "logs", "fine"), t0 + HOUR)
                .is_empty()
        );
        assert_eq!(p.next_deadline(), None);
    }

    #[test]
    fn a_flap_within_the_group_wait_sends_nothing() {
        let mut p = policy();
        let t0 = Instant::now();
        p.on_alert(crash(0), t0);
        let r = p.on_alert(Alert::resolved("crash", "gateway", "ok"), t0 + WAIT / 2);
        assert!(r.is_empty());
        assert!(p.on_tick(t0 + WAIT).is_empty());
        assert_eq!(p.suppressed.flapped, 1);
    }

    #[test]
    fn a_pause_goes_out_at_once_and_holds_back_its_symptoms() {
        let mut p = policy();
        let t0 = Instant::now();
        p.on_alert(crash(0), t0);
        let out = p.on_alert(pause(), t0 + Duration::from_secs(1));
        assert_eq!(out.len(), 1, "not held for the group wait");
        assert_eq!(out[0].alert.kind, "pause");
        // The gathering crash burst is part of the pause's story.
        assert!(p.on_tick(t0 + WAIT).is_empty());
        assert!(p.on_alert(crash(1), t0 + WAIT).is_empty());
        let probe = Alert::new("probe", Severity::Warning, "probes.liveness", "down");
        assert!(p.on_alert(probe, t0 + WAIT).is_empty());
        assert_eq!(p.suppressed.inhibited, 3);
        // Memory trouble is not a symptom of the pause: it still goes out.
        let mem = Alert::new("memory", Severity::Warning, "memory", "high");
        p.on_alert(mem, t0 + WAIT);
        assert_eq!(p.on_tick(t0 + 2 * WAIT).len(), 1);
        // Resume: one recovery; symptoms alert again afterwards.
        let r = p.on_alert(Alert::resolved("pause", "gateway", "resumed"), t0 + HOUR);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].status, Status::Resolved);
        p.on_alert(crash(2), t0 + HOUR);
        assert_eq!(p.on_tick(t0 + HOUR + WAIT).len(), 1);
    }

    #[test]
    fn a_pause_repeated_at_boot_is_one_condition() {
        let mut p = policy();
        let t0 = Instant::now();
        assert_eq!(p.on_alert(pause(), t0).len(), 1);
        assert!(p.on_alert(pause(), t0 + Duration::from_secs(5)).is_empty());
        assert_eq!(p.suppressed.dedup, 1);
    }

    #[test]
    fn tracked_conditions_are_bounded() {
        let mut p = policy();
        let t0 = Instant::now();
        for i in 0..(MAX_ENTRIES + 100) {
            let a = Alert::new("pattern", Severity::Warning, format!("rule-{i}"), "x");
            p.on_alert(a, t0);
        }
        assert!(p.firing() <= MAX_ENTRIES);
    }
}
