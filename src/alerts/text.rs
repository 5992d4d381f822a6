//! The words of a message: a title and a plain-text body, shared by every format, and
//! truncation that never cuts a UTF-8 sequence.

use std::fmt::Write;

use super::alert::{Notification, Status};

/// Lines of the gateway's output shown in a message.
pub const SHOWN_LINES: usize = 20;
/// Characters kept of one output line.
const LINE_CHARS: usize = 300;

/// "[host] PAUSED gateway: crash loop ..." style title: host and what happened.
pub fn title(n: &Notification) -> String {
    let state = match (n.status, n.test, n.reminder) {
        (_, true, _) => "TEST",
        (Status::Resolved, ..) => "RESOLVED",
        (Status::Firing, _, true) => "STILL FIRING",
        (Status::Firing, ..) => "FIRING",
    };
    let a = &n.alert;
    let mut t = format!("[{}] {state} {}", n.host, a.kind);
    if a.subject != a.kind {
        let _ = write!(t, " ({})", a.subject);
    }
    let _ = write!(t, ": {}", first_line(&a.summary));
    truncate_chars(&t, 250)
}

/// The plain-text body: the summary, the facts, the resume command, the last lines.
pub fn body(n: &Notification) -> String {
    let a = &n.alert;
    let d = &a.details;
    let mut b = String::new();
    let _ = writeln!(b, "{}", a.summary);
    let _ = writeln!(b);
    let _ = writeln!(
        b,
        "kind: {} ({}), subject: {}",
        a.kind,
        a.severity.name(),
        a.subject
    );
    let _ = writeln!(b, "host: {}", n.host);
    if let Some(r) = &d.reason
        && r != &a.summary
    {
        let _ = writeln!(b, "reason: {r}");
    }
    if let Some(pid) = d.gateway_pid {
        let _ = writeln!(b, "gateway pid: {pid}");
    }
    if let Some(e) = &d.last_exit {
        let _ = writeln!(b, "last exit: {e}");
    }
    if let Some(r) = d.restarts_in_window {
        let _ = writeln!(b, "failures in the crash-loop window: {r}");
    }
    if n.occurrences > 1 {
        let _ = writeln!(b, "occurrences: {}", n.occurrences);
    }
    let _ = writeln!(b, "since: {}", rfc3339(n.started_at));
    if n.status == Status::Resolved {
        let _ = writeln!(b, "resolved: {}", rfc3339(a.at));
    }
    if let Some(cmd) = &d.resume_command
        && n.status == Status::Firing
    {
        let _ = writeln!(b, "resume with: {cmd}");
    }
    let shown = last_lines(n);
    if !shown.is_empty() {
        let _ = writeln!(b, "\nlast {} lines of output:", shown.len());
        for l in shown {
            let _ = writeln!(b, "  {l}");
        }
    }
    b
}

/// The last lines to show, each cut to a sane length.
pub fn last_lines(n: &Notification) -> Vec<String> {
    let lines = &n.alert.details.last_lines;
    lines[lines.len().saturating_sub(SHOWN_LINES)..]
        .iter()
        .map(|l| truncate_chars(l, LINE_CHARS))
        .collect()
}

/// UTC, to the second: "2026-12-01T17:30:00Z".
pub fn rfc3339(t: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// At most `max` characters; a cut one ends in "…".
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// At most `max` bytes, cut at a character boundary; a cut one ends in "…".
pub fn truncate_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_never_splits_a_character() {
        let s = "日本語のログ".repeat(1000);
        let c = truncate_chars(&s, 2000);
        assert_eq!(c.chars().count(), 2000);
        assert!(c.ends_with('…'));
        for max in [1, 2, 3, 4, 5, 4096, 4097] {
            let b = truncate_bytes(&s, max);
            assert!(b.len() <= max.max(3), "{max}: {}", b.len());
            // It is a String, so valid UTF-8 by construction; the cut kept whole characters.
            assert!(
                b.trim_end_matches('…')
                    .chars()
                    .all(|ch| "日本語のログ".contains(ch))
            );
        }
        assert_eq!(truncate_chars("short", 10), "short");
        assert_eq!(truncate_bytes("short", 10), "short");
    }
}
