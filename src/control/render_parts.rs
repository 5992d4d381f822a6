//! One readable line per `status` part (logs, memory, GPU, disk, probes, quality) for people;
//! `--json` keeps every field. Unknown parts fall back to `key=value` pairs.

use serde_json::Value;

use crate::config::Size;

/// The summary of part `name`, or None when there is no curated form for it.
pub fn summary(name: &str, v: &Value) -> Option<String> {
    let text = match name {
        "logs" => logs(v),
        "memory" => memory(v),
        "gpu" => gpu(v),
        "disk" => disk(v),
        "quality" => quality(v),
        "alerts" => alerts(v),
        n if n.starts_with("probes.") => probe(v),
        _ => return None,
    }?;
    Some(match v["age_secs"].as_f64() {
        Some(age) => format!("{text}  ({age:.0}s ago)"),
        None => text,
    })
}

fn size(v: &Value) -> String {
    v.as_u64().map_or("-".into(), |b| Size(b).to_string())
}

fn num(v: &Value) -> String {
    v.as_u64().map_or("-".into(), |n| n.to_string())
}

fn logs(v: &Value) -> Option<String> {
    v.get("lines_written")?;
    let mut s = format!(
        "{} lines ({}) written, {} rotations, {} compressed",
        num(&v["lines_written"]),
        size(&v["bytes_written"]),
        num(&v["rotations"]),
        num(&v["files_compressed"])
    );
    let dropped = v["lines_dropped"].as_u64().unwrap_or(0);
    if dropped > 0 || v["dropping"] == Value::Bool(true) {
        s.push_str(&format!(
            ", {dropped} lines DROPPED ({})",
            size(&v["bytes_dropped"])
        ));
    }
    if v["dropping"] == Value::Bool(true) {
        s.push_str(", dropping now: the disk is failing or stalled");
    }
    Some(s)
}

/// "slack: 3 sent, 1 failed (HTTP 500), 0 dropped; mail: ..." or "no channels".
fn alerts(v: &Value) -> Option<String> {
    let channels = v.get("channels")?.as_array()?;
    if channels.is_empty() {
        return Some("no channels".into());
    }
    let each: Vec<String> = channels
        .iter()
        .map(|c| {
            let mut s = format!(
                "{}: {} sent, {} failed, {} dropped",
                c["name"].as_str().unwrap_or("?"),
                num(&c["sent"]),
                num(&c["failed"]),
                num(&c["dropped"])
            );
            if let Some(e) = c["last_error"].as_str() {
                s.push_str(&format!(" (last error: {e})"));
            }
            s
        })
        .collect();
    Some(each.join("; "))
}

fn memory(v: &Value) -> Option<String> {
    if v["gateway_running"] == Value::Bool(false) {
        return Some("gateway not running".into());
    }
    v.get("rss_bytes")?;
    let growth = match v["growth_per_hour_bytes"].as_f64() {
        Some(g) if g >= 0.0 => format!("+{}/h", Size(g as u64)),
        Some(g) => format!("-{}/h", Size((-g) as u64)),
        None => "growth: not enough samples".into(),
    };
    // PSS is read less often than RSS (smaps_rollup is costly): say how old it is.
    let pss_age = v["pss_age_secs"]
        .as_f64()
        .map(|a| a + v["age_secs"].as_f64().unwrap_or(0.0));
    let pss = match pss_age {
        Some(a) if a >= 1.0 => format!("{} (sampled {a:.0}s ago)", size(&v["pss_bytes"])),
        _ => size(&v["pss_bytes"]),
    };
    Some(format!(
        "rss {}, pss {pss} over {} processes, {growth}; warn above {}, restart above {}",
        size(&v["rss_bytes"]),
        num(&v["processes"]),
        v["warn_above"].as_str().unwrap_or("-"),
        v["restart_above"].as_str().unwrap_or("-"),
    ))
}

fn gpu(v: &Value) -> Option<String> {
    if v["enabled"] == Value::Bool(false) {
        return Some(format!("off: {}", v["why"].as_str().unwrap_or("disabled")));
    }
    let Some(devices) = v["devices"].as_array() else {
        return v["error"].as_str().map(|e| format!("unknown: {e}"));
    };
    // `null` is a value NVML could not give: shown as "?", never as 0.
    let each: Vec<String> = devices
        .iter()
        .map(|d| {
            let label = d["label"]
                .as_str()
                .map_or_else(|| num(&d["index"]), str::to_string);
            if let Some(e) = d["error"].as_str() {
                return format!("GPU {label} unreadable: {e}");
            }
            format!(
                "GPU {label} {}% busy, {} of {} used ({} by the gateway)",
                d["utilization_percent"]
                    .as_f64()
                    .map_or("?".into(), |u| format!("{u:.0}")),
                known_size(&d["memory_used"]),
                known_size(&d["memory_total"]),
                known_size(&d["gateway_memory"]),
            )
        })
        .collect();
    Some(each.join("; "))
}

fn known_size(v: &Value) -> String {
    if v.is_null() { "?".into() } else { size(v) }
}

fn disk(v: &Value) -> Option<String> {
    let fss = v["filesystems"].as_array()?;
    let each: Vec<String> = fss
        .iter()
        .map(|f| {
            format!(
                "{} {:.1}% used",
                f["role"].as_str().unwrap_or("?"),
                f["used_percent"].as_f64().unwrap_or(f64::NAN)
            )
        })
        .collect();
    Some(format!(
        "{} (warn above {}%)",
        each.join(", "),
        v["warn_above"]
            .as_f64()
            .map_or("-".into(), |w| format!("{w:.0}"))
    ))
}

/// A probe in plain words: "not run yet", "waiting for the startup probe", "starting (no
/// answer yet: connection refused)", "ok", "failing 3 times in a row: HTTP 503", then what
/// the latest check measured.
fn probe(v: &Value) -> Option<String> {
    let state = v["state"].as_str()?;
    let reason = v["reason"].as_str();
    let fails = v["failures_in_a_row"].as_u64().unwrap_or(0);
    let times = |n: u64| match n {
        0 | 1 => "once".to_string(),
        n => format!("{n} times in a row"),
    };
    let mut s = match (state, reason) {
        ("starting", Some(r)) if r.starts_with("HTTP ") => {
            format!("starting (not passing yet: {r})")
        }
        ("starting", Some(r)) => format!("starting (no answer yet: {r})"),
        ("failing" | "failed" | "slow", Some(r)) => format!("{state} {}: {r}", times(fails)),
        ("warn", Some(r)) => format!("warning: {r}"),
        ("not run yet" | "waiting for the startup probe", Some(r)) if r != "about to run" => {
            format!("{state} ({r})")
        }
        _ => state.to_string(),
    };
    if v["waiting"] != Value::Bool(true)
        && let Some(ms) = v["latency_ms"].as_u64()
    {
        s.push_str(&format!("; latest check took {ms} ms"));
        if let Some(ft) = v["first_token_ms"].as_u64() {
            s.push_str(&format!(", first token after {ft} ms"));
        }
        if let Some(tps) = v["tokens_per_sec"].as_f64() {
            s.push_str(&format!(", {tps:.1} tokens/s"));
        }
    }
    Some(s)
}

fn quality(v: &Value) -> Option<String> {
    if v["enabled"] == Value::Bool(false) {
        return Some("off (set quality.tests)".into());
    }
    match v["pass_rate"].as_f64() {
        Some(rate) => Some(format!(
            "{}/{} passed ({:.0}%, floor {:.0}%), next run in {}s",
            num(&v["passed"]),
            num(&v["total"]),
            rate * 100.0,
            v["min_pass_rate"].as_f64().unwrap_or(0.0) * 100.0,
            num(&v["next_run_in_secs"])
        )),
        None => Some(format!(
            "no run yet, first in {}s{}",
            num(&v["next_run_in_secs"]),
            v["error"]
                .as_str()
                .map_or(String::new(), |e| format!(": {e}"))
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_parts_read_as_sentences() {
        let m = json!({"gateway_running": true, "rss_bytes": 3u64 << 30, "pss_bytes": 2u64 << 30,
            "processes": 3, "growth_per_hour_bytes": 104857600.0, "warn_above": "10.0 GiB",
            "restart_above": "12.0 GiB", "age_secs": 2.0});
        assert_eq!(
            summary("memory", &m).unwrap(),
            "rss 3.0 GiB, pss 2.0 GiB over 3 processes, +100.0 MiB/h; warn above 10.0 GiB, restart above 12.0 GiB  (2s ago)"
        );
        let mut m = m;
        m["pss_age_secs"] = json!(40);
        assert!(
            summary("memory", &m)
                .unwrap()
                .starts_with("rss 3.0 GiB, pss 2.0 GiB (sampled 42s ago) over 3 processes"),
            "PSS is read less often than RSS: its own age"
        );
        let g = json!({"enabled": false, "why": "NVML is not available"});
        assert_eq!(summary("gpu", &g).unwrap(), "off: NVML is not available");
        let g = json!({"enabled": true, "devices": [
            {"index": 0, "label": "0", "utilization_percent": null, "memory_used": 1u64 << 30,
             "memory_total": 2u64 << 30, "gateway_memory": null},
            {"index": 1, "label": "1", "error": "GPU is lost"}]});
        assert_eq!(
            summary("gpu", &g).unwrap(),
            "GPU 0 ?% busy, 1.0 GiB of 2.0 GiB used (? by the gateway); GPU 1 unreadable: GPU is lost"
        );
        let l = json!({"lines_written": 5, "bytes_written": 480, "rotations": 0, "files_compressed": 0,
            "lines_dropped": 7, "bytes_dropped": 700, "dropping": true});
        let s = summary("logs", &l).unwrap();
        assert!(
            s.contains("7 lines DROPPED") && s.contains("dropping now"),
            "{s}"
        );
        let p = json!({"state": "failing", "last": "fail", "failures_in_a_row": 3,
            "reason": "HTTP 503: down", "latency_ms": 4});
        assert_eq!(
            summary("probes.liveness", &p).unwrap(),
            "failing 3 times in a row: HTTP 503: down; latest check took 4 ms"
        );
        let p = json!({"state": "starting", "last": "fail", "failures_in_a_row": 1,
            "reason": "connection refused", "latency_ms": 0});
        assert_eq!(
            summary("probes.completion", &p).unwrap(),
            "starting (no answer yet: connection refused); latest check took 0 ms"
        );
        let p = json!({"state": "waiting for the startup probe", "waiting": true,
            "reason": "the gateway has not answered yet"});
        assert_eq!(
            summary("probes.liveness", &p).unwrap(),
            "waiting for the startup probe (the gateway has not answered yet)"
        );
        let p = json!({"state": "not run yet", "waiting": true, "reason": "about to run"});
        assert_eq!(summary("probes.exec.x", &p).unwrap(), "not run yet");
        assert!(summary("something-new", &json!({"a": 1})).is_none());
    }
}
