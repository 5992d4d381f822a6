//! `ctl jobs` and `ctl jobs history` as text, pure: from the JSON the scheduler answers.

use std::fmt::Write;

use serde_json::Value;

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<String>, out: &mut String| {
        let n = cells.len();
        for (i, c) in cells.into_iter().enumerate() {
            if i + 1 == n {
                let _ = write!(out, "{c}");
            } else {
                let pad = w[i] - c.chars().count();
                let _ = write!(out, "{c}{}  ", " ".repeat(pad));
            }
        }
        out.push('\n');
    };
    line(head.iter().map(|h| h.to_string()).collect(), &mut out);
    for r in rows {
        line(r.clone(), &mut out);
    }
    out
}

/// Short UTC time from an RFC 3339 instant: `2026-12-01 17:20:05Z`.
fn short(v: &Value) -> String {
    match v.as_str() {
        Some(t) => t
            .parse::<jiff::Timestamp>()
            .map(|t| t.strftime("%Y-%m-%d %H:%M:%SZ").to_string())
            .unwrap_or_else(|_| t.to_string()),
        None => "-".into(),
    }
}

fn last_outcome(last: &Value) -> String {
    if last.is_null() {
        return "-".into();
    }
    let mut out = format!("{} {}", s(&last["outcome"]), short(&last["end"]));
    if let Some(e) = last["exit"].as_str() {
        let _ = write!(out, " ({e})");
    }
    out
}

/// The `ctl jobs` table.
pub fn jobs_table(v: &Value) -> String {
    let empty = Vec::new();
    let jobs = v["jobs"].as_array().unwrap_or(&empty);
    if jobs.is_empty() {
        return "no [[jobs]] configured\n".into();
    }
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            let mut state = s(&j["state"]);
            if let Some(w) = j["waiting_on"].as_str() {
                let _ = write!(state, ": {w}");
            }
            if let (Some(run), Some(a)) = (j["run_id"].as_str(), j["attempt"].as_u64())
                && state != "idle"
            {
                let _ = write!(state, " [{run} attempt {a}]");
            }
            vec![
                s(&j["name"]),
                s(&j["schedule"]),
                s(&j["timezone"]),
                s(&j["next_run_local"]),
                short(&j["next_run_utc"]),
                state,
                last_outcome(&j["last"]),
            ]
        })
        .collect();
    table(
        &[
            "NAME",
            "SCHEDULE",
            "ZONE",
            "NEXT (LOCAL)",
            "NEXT (UTC)",
            "STATE",
            "LAST",
        ],
        &rows,
    )
}

/// The `ctl jobs history NAME` table, oldest first.
pub fn history_table(v: &Value) -> String {
    let empty = Vec::new();
    let runs = v["runs"].as_array().unwrap_or(&empty);
    if runs.is_empty() {
        return "no runs recorded yet\n".into();
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let waits = format!(
                "{}s/{}s",
                r["waited_gateway_secs"].as_f64().unwrap_or(0.0),
                r["waited_gpu_secs"].as_f64().unwrap_or(0.0)
            );
            let mut cause = s(&r["cause"]);
            let missed = r["missed"].as_u64().unwrap_or(0);
            if missed > 0 && r["outcome"] != "skipped" {
                cause = format!("{missed} earlier slot(s) missed; {cause}");
            }
            vec![
                short(&r["slot"]),
                s(&r["attempt"]),
                s(&r["outcome"]),
                short(&r["start"]),
                short(&r["end"]),
                s(&r["exit"]),
                waits,
                s(&r["run_id"]),
                cause,
            ]
        })
        .collect();
    table(
        &[
            "SLOT",
            "ATTEMPT",
            "OUTCOME",
            "START",
            "END",
            "EXIT",
            "WAIT GW/GPU",
            "RUN ID",
            "CAUSE",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_show_the_gate_and_the_outcome() {
        let v = json!({"jobs": [{
            "name": "nightly", "schedule": "0 3 * * *", "timezone": "Europe/Berlin",
            "next_run_local": "2026-12-02 03:00 CET", "next_run_utc": "2026-12-02T02:00:00Z",
            "state": "waiting", "waiting_on": "gpu busy (GPU 0 95% busy)",
            "run_id": "nightly-20261201T020000Z", "attempt": 2,
            "last": {"outcome": "interrupted", "end": "2026-12-01T02:10:00Z", "exit": "killed by SIGTERM"}
        }]});
        let t = jobs_table(&v);
        assert!(
            t.contains("waiting: gpu busy (GPU 0 95% busy) [nightly-20261201T020000Z attempt 2]"),
            "{t}"
        );
        assert!(
            t.contains("interrupted 2026-12-01 02:10:00Z (killed by SIGTERM)"),
            "{t}"
        );
        assert_eq!(jobs_table(&json!({"jobs": []})), "no [[jobs]] configured\n");
        let h = json!({"runs": [{"slot": "2026-12-01T02:00:00Z", "attempt": 1, "outcome": "succeeded",
            "start": "2026-12-01T02:00:01Z", "end": "2026-12-01T02:05:00Z", "exit": "exit code 0",
            "waited_gateway_secs": 0.5, "waited_gpu_secs": 30.0, "run_id": "r", "cause": null, "missed": 2}]});
        let t = history_table(&h);
        assert!(
            t.contains("0.5s/30s") && t.contains("2 earlier slot(s) missed"),
            "{t}"
        );
    }
}
