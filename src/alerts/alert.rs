//! An alert: what happened, how bad, about what. Any subsystem raises one with
//! [`Alert::new`] (and [`Alert::resolved`] when the condition clears); the policy decides
//! what reaches a person.

use std::time::SystemTime;

use serde::Serialize;

/// How bad it is; channels can ask for a minimum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// Context that makes an alert actionable. Everything is optional: a job failure has no
/// resume command, a disk alert no last exit.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Details {
    /// Why, in one line (the pause reason, the probe's failure).
    pub reason: Option<String>,
    /// The gateway's pid when this happened.
    pub gateway_pid: Option<i32>,
    /// "code 1", "signal 9 (SIGKILL)".
    pub last_exit: Option<String>,
    /// The gateway's last lines of output, oldest first.
    pub last_lines: Vec<String>,
    /// Failures counted in the crash-loop window.
    pub restarts_in_window: Option<u64>,
    /// The exact command that clears the condition.
    pub resume_command: Option<String>,
}

/// One occurrence of a condition (firing) or its end (resolved).
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// What kind of trouble: "pause", "crash", "memory", "probe", "job", ... Channels filter
    /// on it; (kind, subject) identifies the condition.
    pub kind: String,
    pub severity: Severity,
    /// What it is about: "gateway", "probes.liveness", "job:backup".
    pub subject: String,
    /// One line for a person.
    pub summary: String,
    pub details: Details,
    /// This clears the (kind, subject) condition.
    pub resolved: bool,
    pub at: SystemTime,
}

impl Alert {
    /// A firing alert, now.
    pub fn new(
        kind: impl Into<String>,
        severity: Severity,
        subject: impl Into<String>,
        summary: impl Into<String>,
    ) -> Alert {
        Alert {
            kind: kind.into(),
            severity,
            subject: subject.into(),
            summary: summary.into(),
            details: Details::default(),
            resolved: false,
            at: SystemTime::now(),
        }
    }

    /// The end of the (kind, subject) condition; ignored when nothing of it was firing.
    pub fn resolved(
        kind: impl Into<String>,
        subject: impl Into<String>,
        summary: impl Into<String>,
    ) -> Alert {
        Alert {
            resolved: true,
            ..Alert::new(kind, Severity::Info, subject, summary)
        }
    }

    pub fn with_details(mut self, details: Details) -> Alert {
        self.details = details;
        self
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Alert {
        self.details.reason = Some(reason.into());
        self
    }

    /// Stable per (kind, subject): receivers deduplicate and pair a recovery with its alert.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.kind, &self.subject)
    }
}

/// 16 hex digits of FNV-1a over "kind\0subject": stable across runs and versions.
pub fn fingerprint(kind: &str, subject: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in kind.bytes().chain([0]).chain(subject.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Firing or resolved, as receivers (Alertmanager, our JSON) spell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Firing,
    Resolved,
}

/// What a channel delivers: the latest occurrence of an alert, plus what the policy knows.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    pub alert: Alert,
    pub status: Status,
    pub fingerprint: String,
    /// Occurrences this message stands for (a burst merged, or repeats since the last one).
    pub occurrences: u64,
    /// When the condition started firing.
    pub started_at: SystemTime,
    /// A repeat of a still-firing alert.
    pub reminder: bool,
    /// Sent by `clawvisor ctl alert test`.
    pub test: bool,
    pub host: String,
}

impl Notification {
    /// The first message of a condition or its recovery: never dropped on overflow.
    pub fn is_protected(&self) -> bool {
        self.test || self.status == Status::Resolved || !self.reminder
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable_and_separates_kind_from_subject() {
        assert_eq!(
            fingerprint("pause", "gateway"),
            fingerprint("pause", "gateway")
        );
        assert_ne!(fingerprint("ab", "c"), fingerprint("a", "bc"));
        // Pinned: receivers store it, so it must not change between versions.
        assert_eq!(fingerprint("pause", "gateway").len(), 16);
        assert_eq!(fingerprint("", ""), "af63bd4c8601b7df");
        assert_eq!(fingerprint("pause", "gateway"), "126f42f406171a8f");
    }

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Critical > Severity::Warning && Severity::Warning > Severity::Info);
        assert_eq!(Severity::parse("warning"), Some(Severity::Warning));
        assert_eq!(Severity::parse("loud"), None);
    }
}
