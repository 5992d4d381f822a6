//! `clawvisor ctl wait-idle`: the seed's "if GPU utilisation > 90%, delay the next task" as
//! a gate a cron job calls before heavy work. It polls clawvisor's status (the `gpu` part)
//! and exits 0 when idle, 1 on timeout, [`EXIT_UNKNOWN`] when it cannot judge (a value NVML
//! does not give, a device it cannot read, a stale reading), and the caller's code when
//! clawvisor cannot be asked (`ctl` uses 3, "not reachable").
//!
//! It judges the devices the `gpu` part marks `watched` (the gateway's GPUs, or
//! `gpu.devices`), never a reading older than [`STALE_INTERVALS`] intervals.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::config::Size;

/// Exit code when the GPU's state cannot be judged (and unknown is not taken as idle).
pub const EXIT_UNKNOWN: i32 = 4;

/// A reading older than this many GPU intervals (plus [`STALE_SLACK_SECS`]) is stale.
pub const STALE_INTERVALS: f64 = 3.0;
const STALE_SLACK_SECS: f64 = 2.0;

#[derive(Clone, Debug)]
pub struct WaitIdleOpts {
    /// Idle needs every device's utilisation below this percentage.
    pub gpu_util_below: f64,
    /// Idle also needs at least this much free memory on every device.
    pub gpu_mem_free_above: Option<u64>,
    pub timeout: Duration,
    pub poll: Duration,
    /// Take a value that cannot be known (utilisation of a MIG slice, a lost device, a stale
    /// reading) as idle instead of exiting with [`EXIT_UNKNOWN`].
    pub unknown_is_idle: bool,
}

impl Default for WaitIdleOpts {
    fn default() -> Self {
        WaitIdleOpts {
            gpu_util_below: 90.0,
            gpu_mem_free_above: None,
            timeout: Duration::from_secs(15 * 60),
            poll: Duration::from_secs(2),
            unknown_is_idle: false,
        }
    }
}

/// What one status says, with a description for people; see [`judge_idle`].
#[derive(Debug, PartialEq)]
pub enum Seen {
    Idle(String),
    Busy(String),
    /// GPU watching is off: there is nothing to wait for.
    NoGpu(String),
    /// Whether the GPU is idle cannot be told, and why.
    Unknown(String),
}

/// Judges the status parts against the options. Pure.
pub fn judge_idle(parts: &Map<String, Value>, o: &WaitIdleOpts) -> Seen {
    let Some(gpu) = parts.get("gpu") else {
        // Right after start-up the first reading may not be in yet: that is not "idle".
        return Seen::Busy("no GPU reading yet".into());
    };
    if gpu["enabled"] == Value::Bool(false) {
        let why = gpu["why"].as_str().unwrap_or("no reason given");
        return Seen::NoGpu(format!("GPU watching is off ({why}): nothing to wait for"));
    }
    let unknown = |why: String| {
        if o.unknown_is_idle {
            Seen::Idle(format!("{why} (taken as idle: --unknown-is-idle)"))
        } else {
            Seen::Unknown(why)
        }
    };
    if let (Some(age), Some(interval)) = (gpu["age_secs"].as_f64(), gpu["interval_secs"].as_f64())
        && age > interval * STALE_INTERVALS + STALE_SLACK_SECS
    {
        return unknown(format!(
            "the GPU reading is stale ({age:.0}s old, read every {interval}s)"
        ));
    }
    let Some(devices) = gpu["devices"].as_array() else {
        let err = gpu["error"].as_str().unwrap_or("no device readings yet");
        return unknown(format!("GPU state unknown: {err}"));
    };
    let mut busy = false;
    let mut seen = Vec::new();
    let mut unknowns = Vec::new();
    for d in devices
        .iter()
        .filter(|d| d["watched"] != Value::Bool(false))
    {
        let label = d["label"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| d["index"].as_u64().unwrap_or(0).to_string());
        if let Some(err) = d["error"].as_str() {
            unknowns.push(format!("GPU {label}: {err}"));
            continue;
        }
        let mut parts = Vec::new();
        match d["utilization_percent"].as_f64() {
            Some(util) => {
                busy |= util >= o.gpu_util_below;
                parts.push(format!("{util:.0}% busy"));
            }
            None => {
                let why = d["utilization_why"].as_str().unwrap_or("not reported");
                unknowns.push(format!("GPU {label} utilisation unknown: {why}"));
                parts.push("utilisation unknown".into());
            }
        }
        match d["memory_free"].as_u64() {
            Some(free) => {
                busy |= o.gpu_mem_free_above.is_some_and(|min| free < min);
                parts.push(format!("{} free", Size(free)));
            }
            None => {
                if o.gpu_mem_free_above.is_some() {
                    let why = d["memory_why"].as_str().unwrap_or("not reported");
                    unknowns.push(format!("GPU {label} free memory unknown: {why}"));
                }
                parts.push("free memory unknown".into());
            }
        }
        seen.push(format!("GPU {label} {}", parts.join(", ")));
    }
    let seen = seen.join("; ");
    if busy {
        Seen::Busy(seen)
    } else if !unknowns.is_empty() {
        unknown(unknowns.join("; "))
    } else {
        Seen::Idle(seen)
    }
}

/// Why the status could not be read, and the exit code that says so.
#[derive(Debug)]
pub struct StatusUnavailable {
    pub code: i32,
    pub why: String,
}

/// Polls `status` (the `parts` of `ctl status`) until idle or the timeout; prints what it
/// saw to `out` (each new busy reading, then the outcome); returns the exit code.
pub fn wait_idle(
    mut status: impl FnMut() -> Result<Map<String, Value>, StatusUnavailable>,
    o: &WaitIdleOpts,
    out: &mut dyn Write,
) -> i32 {
    let deadline = Instant::now() + o.timeout;
    let mut last_busy = None;
    loop {
        let parts = match status() {
            Ok(p) => p,
            Err(e) => {
                let _ = writeln!(out, "cannot read clawvisor's status: {}", e.why);
                return e.code;
            }
        };
        match judge_idle(&parts, o) {
            Seen::Idle(s) => {
                let _ = writeln!(out, "idle: {s}");
                return 0;
            }
            Seen::NoGpu(s) => {
                let _ = writeln!(out, "idle: {s}");
                return 0;
            }
            Seen::Unknown(s) => {
                let _ = writeln!(
                    out,
                    "cannot judge: {s} (--unknown-is-idle takes unknown as idle)"
                );
                return EXIT_UNKNOWN;
            }
            Seen::Busy(s) if Instant::now() >= deadline => {
                let _ = writeln!(
                    out,
                    "still busy after {}: {s} (idle means below {}% utilisation{})",
                    humantime::format_duration(o.timeout),
                    o.gpu_util_below,
                    o.gpu_mem_free_above
                        .map(|m| format!(" and at least {} free", Size(m)))
                        .unwrap_or_default()
                );
                return 1;
            }
            Seen::Busy(s) => {
                // Once per change: a long wait should not flood a cron job's mail.
                if last_busy.as_ref() != Some(&s) {
                    let _ = writeln!(out, "busy: {s}");
                    let _ = out.flush();
                    last_busy = Some(s);
                }
                std::thread::sleep(
                    o.poll
                        .min(deadline.saturating_duration_since(Instant::now())),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parts(util: f64, free: u64) -> Map<String, Value> {
        let v = json!({"gpu": {"enabled": true, "devices": [
            {"index": 0, "utilization_percent": util, "memory_free": free}]}});
        v.as_object().unwrap().clone()
    }

    #[test]
    fn waits_until_utilisation_drops() {
        let o = WaitIdleOpts {
            poll: Duration::from_millis(1),
            ..WaitIdleOpts::default()
        };
        let mut readings = vec![parts(20.0, 1 << 30), parts(95.0, 1 << 30)];
        let mut out = Vec::new();
        let code = wait_idle(|| Ok(readings.pop().unwrap()), &o, &mut out);
        assert_eq!(code, 0);
        assert!(String::from_utf8(out).unwrap().contains("GPU 0 20% busy"));
    }

    #[test]
    fn times_out_with_what_it_saw_and_needs_free_memory() {
        let o = WaitIdleOpts {
            gpu_mem_free_above: Some(2 << 30),
            timeout: Duration::from_millis(30),
            poll: Duration::from_millis(5),
            ..WaitIdleOpts::default()
        };
        let mut out = Vec::new();
        assert_eq!(wait_idle(|| Ok(parts(10.0, 1 << 30)), &o, &mut out), 1);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("still busy") && text.contains("1.0 GiB free"),
            "{text}"
        );
        assert_eq!(text.matches("busy: ").count(), 1, "{text}");
    }

    #[test]
    fn no_gpu_is_idle_and_no_clawvisor_is_the_callers_code() {
        let off = json!({"gpu": {"enabled": false, "why": "NVML is not available"}});
        let o = WaitIdleOpts::default();
        let mut out = Vec::new();
        assert_eq!(
            wait_idle(|| Ok(off.as_object().unwrap().clone()), &o, &mut out),
            0
        );
        let gone = || {
            Err(StatusUnavailable {
                code: 3,
                why: "no socket".into(),
            })
        };
        assert_eq!(wait_idle(gone, &o, &mut out), 3);
    }

    fn judge(gpu: Value, o: &WaitIdleOpts) -> Seen {
        judge_idle(json!({ "gpu": gpu }).as_object().unwrap(), o)
    }

    #[test]
    fn unknown_is_never_idle_unless_asked() {
        let o = WaitIdleOpts::default();
        let mig = json!({"enabled": true, "devices": [{"index": 0, "label": "0:1",
            "utilization_percent": null, "utilization_why": "not on MIG", "memory_free": 5}]});
        assert_eq!(
            judge(mig.clone(), &o),
            Seen::Unknown("GPU 0:1 utilisation unknown: not on MIG".into())
        );
        let lenient = WaitIdleOpts {
            unknown_is_idle: true,
            ..WaitIdleOpts::default()
        };
        assert!(matches!(judge(mig, &lenient), Seen::Idle(s) if s.contains("--unknown-is-idle")));
        let failed = json!({"enabled": true, "error": "NVML is installed but does not start"});
        assert!(matches!(judge(failed, &o), Seen::Unknown(s) if s.contains("does not start")));
        let lost = json!({"enabled": true, "devices": [{"index": 1, "error": "GPU is lost"}]});
        assert_eq!(judge(lost, &o), Seen::Unknown("GPU 1: GPU is lost".into()));
        // A known busy device is busy, whatever else is unknown.
        let mixed = json!({"enabled": true, "devices": [{"index": 0, "utilization_percent": 99.0,
            "memory_free": 5}, {"index": 1, "error": "GPU is lost"}]});
        assert!(matches!(judge(mixed, &o), Seen::Busy(_)));
        let mut out = Vec::new();
        let off = json!({"gpu": {"enabled": true, "error": "x"}});
        assert_eq!(
            wait_idle(|| Ok(off.as_object().unwrap().clone()), &o, &mut out),
            EXIT_UNKNOWN
        );
        assert!(
            String::from_utf8(out)
                .unwrap()
                .starts_with("cannot judge: GPU state unknown: x")
        );
    }

    #[test]
    fn a_stale_reading_is_not_acted_on() {
        let o = WaitIdleOpts::default();
        let at = |age: f64| {
            json!({"enabled": true, "interval_secs": 10.0, "age_secs": age, "devices": [
                {"index": 0, "utilization_percent": 1.0, "memory_free": 5}]})
        };
        assert!(matches!(judge(at(31.0), &o), Seen::Idle(_)));
        assert!(matches!(judge(at(33.0), &o), Seen::Unknown(s) if s.contains("stale")));
    }

    #[test]
    fn only_watched_devices_are_judged() {
        let o = WaitIdleOpts::default();
        let g = json!({"enabled": true, "devices": [
            {"index": 0, "watched": true, "utilization_percent": 5.0, "memory_free": 5},
            {"index": 1, "watched": false, "utilization_percent": 100.0, "memory_free": 5}]});
        assert_eq!(judge(g, &o), Seen::Idle("GPU 0 5% busy, 5 B free".into()));
    }

    #[test]
    fn no_reading_yet_is_not_idle() {
        let o = WaitIdleOpts::default();
        assert_eq!(
            judge_idle(&Map::new(), &o),
            Seen::Busy("no GPU reading yet".into())
        );
    }
}
