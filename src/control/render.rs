//! How `clawvisor ctl` shows answers to people. Pure functions of the answer and `now`, so
//! they are tested without a socket. (Scripts use `--json`, which prints the answer as is.)

use std::fmt::Write;
use std::time::{Duration, SystemTime};

use crate::logs::{LogLine, Stream};
use crate::supervisor::{ExitRecord, Notice, Status};

/// How many of the pause record's last lines the status table shows.
const PAUSE_LINES_SHOWN: usize = 20;

/// The status as an aligned two-column table. When paused it says why, since when, how the
/// gateway last ended, its last lines, and the exact command that resumes it.
pub fn status_table(s: &Status, resume_command: &str, now: SystemTime) -> String {
    let mut rows: Vec<(&str, String)> = vec![
        ("state", s.state.clone()),
        ("pid", s.pid.map_or("-".into(), |p| p.to_string())),
        ("uptime", s.uptime_secs.map_or("-".into(), secs)),
        ("restarts", s.restarts.to_string()),
    ];
    let last_exit = s
        .last_exit
        .as_ref()
        .or_else(|| s.pause.as_ref().and_then(|p| p.last_exit.as_ref()));
    rows.push((
        "last exit",
        last_exit.map_or("-".into(), |e| exit_text(e, now)),
    ));
    if let Some(b) = s.backoff_remaining_secs {
        rows.push(("next start in", secs(b)));
    }
    if let Some(r) = &s.last_reason {
        rows.push(("last reason", r.clone()));
    }
    if let Some(p) = &s.pause {
        rows.push(("paused since", at_text(p.since, now)));
        rows.push(("pause reason", p.reason.clone()));
        let skip = p.last_lines.len().saturating_sub(PAUSE_LINES_SHOWN);
        let lines = &p.last_lines[skip..];
        if lines.is_empty() {
            rows.push(("last lines", "(none captured)".into()));
        }
        for (i, l) in lines.iter().enumerate() {
            rows.push((if i == 0 { "last lines" } else { "" }, format!("| {l}")));
        }
    }
    for (name, value) in &s.parts {
        rows.push((name.as_str(), part_text(value)));
    }
    if s.pause.is_some() {
        rows.push(("to resume", resume_command.to_string()));
    }
    // A fixed minimum width keeps the value column in one place whatever the state.
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0).max(13);
    let mut out = String::new();
    for (k, v) in rows {
        let _ = writeln!(out, "{k:<width$}  {v}");
    }
    out
}

fn secs(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "-".into();
    }
    if s < 10.0 {
        return format!("{s:.1}s");
    }
    humantime::format_duration(Duration::from_secs(s.round() as u64)).to_string()
}

fn ago(t: SystemTime, now: SystemTime) -> String {
    match now.duration_since(t) {
        Ok(d) => format!(
            "{} ago",
            humantime::format_duration(Duration::from_secs(d.as_secs()))
        ),
        Err(_) => "just now".into(),
    }
}

fn at_text(t: SystemTime, now: SystemTime) -> String {
    let local: chrono::DateTime<chrono::Local> = t.into();
    format!(
        "{} ({})",
        local.format("%Y-%m-%d %H:%M:%S %:z"),
        ago(t, now)
    )
}

fn exit_text(e: &ExitRecord, now: SystemTime) -> String {
    format!(
        "{} (pid {}, {}, after {} up)",
        e.exit,
        e.pid,
        ago(e.at, now),
        secs(e.uptime.as_secs_f64())
    )
}

/// A part's readings on one line: `key=value` pairs for an object, the JSON otherwise.
fn part_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join("  "),
        other => other.to_string(),
    }
}

/// One log line for people: stderr lines are marked when both streams are shown.
pub fn log_line(l: &LogLine, both_streams: bool) -> String {
    if both_streams && l.stream == Stream::Err {
        format!("[err] {}", l.text)
    } else {
        l.text.clone()
    }
}

pub fn notice_line(n: &Notice) -> String {
    let local: chrono::DateTime<chrono::Local> = n.at.into();
    format!(
        "{}  {:<9} {}: {}",
        local.format("%Y-%m-%d %H:%M:%S"),
        n.state,
        n.kind,
        n.message
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::{Exit, PauseRecord};

    fn paused_status(now: SystemTime) -> Status {
        let exit = ExitRecord {
            pid: 4321,
            exit: Exit::Code(1),
            at: now - Duration::from_secs(125),
            uptime: Duration::from_millis(1500),
        };
        let mut parts = serde_json::Map::new();
        parts.insert(
            "logs".into(),
            serde_json::json!({"dir": "/var/log/clawvisor", "dropped": 0}),
        );
        Status {
            state: "paused".into(),
            pid: None,
            uptime_secs: None,
            restarts: 5,
            last_exit: None,
            backoff_remaining_secs: None,
            pause: Some(PauseRecord {
                reason: "crash loop: 5 exits within 60s".into(),
                since: now - Duration::from_secs(120),
                last_exit: Some(exit),
                last_lines: vec!["listening on 18789".into(), "FATAL: out of memory".into()],
            }),
            resume_hint: Some("clawvisor ctl resume".into()),
            last_reason: None,
            parts,
        }
    }

    #[test]
    fn a_paused_status_says_why_since_when_and_how_to_resume() {
        let now = SystemTime::now();
        let t = status_table(
            &paused_status(now),
            "clawvisor ctl resume --socket /tmp/x.sock",
            now,
        );
        for needle in [
            "state          paused",
            "pause reason   crash loop: 5 exits within 60s",
            "(2m ago)",
            "exit code 1 (pid 4321, 2m 5s ago, after 1.5s up)",
            "| FATAL: out of memory",
            "logs           dir=/var/log/clawvisor  dropped=0",
            "to resume      clawvisor ctl resume --socket /tmp/x.sock",
        ] {
            assert!(t.contains(needle), "{needle:?} missing from:\n{t}");
        }
    }

    #[test]
    fn a_running_status_has_no_resume_line() {
        let now = SystemTime::now();
        let mut s = paused_status(now);
        s.state = "running".into();
        s.pause = None;
        s.pid = Some(99);
        s.uptime_secs = Some(3725.2);
        let t = status_table(&s, "clawvisor ctl resume", now);
        assert!(t.contains("pid            99"), "{t}");
        assert!(t.contains("uptime         1h 2m 5s"), "{t}");
        assert!(!t.contains("to resume"), "{t}");
    }
}
