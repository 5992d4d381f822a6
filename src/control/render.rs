//! How `clawvisor ctl` shows answers to people. Pure functions of the answer and `now`, so
//! they are tested without a socket. (Scripts use `--json`, which prints the answer as is.)

use std::fmt::Write;
use std::time::{Duration, SystemTime};

use super::escape::printable;
use crate::logs::{LogLine, Stream};
use crate::supervisor::{ExitRecord, Notice, Status};

/// How many of the pause record's last lines the status table shows.
const PAUSE_LINES_SHOWN: usize = 20;

/// The status as an aligned two-column table. When paused it says why, since when, how the
/// gateway last ended, its last lines, and the exact command that resumes it.
pub fn status_table(s: &Status, resume_command: &str, now: SystemTime) -> String {
    let mut rows: Vec<(&str, String)> = vec![
        (
            "state",
            match (s.state.as_str(), s.ready) {
                ("running", true) => "running, ready".to_string(),
                ("running", false) => "running, not ready yet".to_string(),
                (other, _) => other.to_string(),
            },
        ),
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
        rows.push(("pause reason", printable(&p.reason).into_owned()));
        let skip = p.last_lines.len().saturating_sub(PAUSE_LINES_SHOWN);
        let lines = &p.last_lines[skip..];
        if lines.is_empty() {
            rows.push(("last lines", "(none captured)".into()));
        }
        for (i, l) in lines.iter().enumerate() {
            rows.push((
                if i == 0 { "last lines" } else { "" },
                format!("| {}", printable(l)),
            ));
        }
    }
    for (name, value) in &s.parts {
        let text = super::render_parts::summary(name, value).unwrap_or_else(|| part_text(value));
        rows.push((name.as_str(), text));
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
        format!("[err] {}", printable(&l.text))
    } else {
        printable(&l.text).into_owned()
    }
}

pub fn notice_line(n: &Notice) -> String {
    let local: chrono::DateTime<chrono::Local> = n.at.into();
    format!(
        "{}  {:<9} {}: {}",
        local.format("%Y-%m-%d %H:%M:%S"),
        n.state,
        n.kind,
        printable(&n.message)
    )
}

/// A quality report (`probe quality`) as a table, one test a row, then the pass rate and
/// whether it clears `quality.min_pass_rate`. Reads the report's JSON leniently: a field
/// a newer clawvisor dropped shows as `-` rather than failing the command.
pub fn quality_table(report: &serde_json::Value) -> String {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
    let mut rows = vec![[
        "test".to_string(),
        "result".into(),
        "matched".into(),
        "time".into(),
        "detail".into(),
    ]];
    for r in report["results"].as_array().into_iter().flatten() {
        let matched: Vec<String> = r["matched"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        let passed = r["passed"].as_bool() == Some(true);
        rows.push([
            text(&r["type"]),
            if passed { "pass" } else { "FAIL" }.into(),
            if matched.is_empty() {
                "-".into()
            } else {
                matched.join(", ")
            },
            r["latency_ms"]
                .as_f64()
                .map_or("-".into(), |ms| secs(ms / 1000.0)),
            // A pass needs no explanation; a failure says what was missing or went wrong.
            if passed {
                String::new()
            } else {
                text(&r["detail"])
            },
        ]);
    }
    let widths: Vec<usize> = (0..4)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, w) in widths.iter().enumerate() {
            let _ = write!(line, "{:<w$}  ", r[i]);
        }
        line.push_str(&r[4]);
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let rate = report["pass_rate"].as_f64().unwrap_or(0.0);
    let verdict = match (report["ok"].as_bool(), report["min_pass_rate"].as_f64()) {
        (Some(true), Some(min)) => format!(", at least {:.0}%: ok", min * 100.0),
        (Some(false), Some(min)) => format!(", below quality.min_pass_rate {:.0}%", min * 100.0),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "pass rate {}/{} ({:.0}%){verdict}",
        report["passed"],
        report["total"],
        rate * 100.0
    );
    out
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
            ready: false,
            restarts: 5,
            restarts_by_reason: Default::default(),
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

    #[test]
    fn a_quality_report_shows_each_test_and_the_pass_rate() {
        let report = serde_json::json!({
            "pass_rate": 0.5, "passed": 1, "total": 2, "min_pass_rate": 0.8, "ok": false,
            "results": [
                {"type": "arithmetic", "passed": true, "matched": ["2"], "detail": "ok",
                 "latency_ms": 12},
                {"type": "logical_reasoning", "passed": false, "matched": [],
                 "detail": "missing [\"不一定\"] in \"3\"", "latency_ms": 1500}
            ]
        });
        let t = quality_table(&report);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "test               result  matched  time  detail");
        assert_eq!(lines[1], "arithmetic         pass    2        0.0s");
        assert!(
            lines[2].starts_with("logical_reasoning  FAIL    -        1.5s  missing"),
            "{t}"
        );
        assert_eq!(
            lines[3],
            "pass rate 1/2 (50%), below quality.min_pass_rate 80%"
        );
    }
}
