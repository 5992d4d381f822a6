//! `clawvisor ctl wait-idle`: the seed's "if GPU utilisation > 90%, delay the next task" as
//! a gate a cron job calls before heavy work. It polls clawvisor's status (the `gpu` part)
//! and exits 0 when idle, 1 on timeout, and the caller's code when clawvisor cannot be
//! asked (`ctl` uses 3, "not reachable").

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::config::Size;

#[derive(Clone, Debug)]
pub struct WaitIdleOpts {
    /// Idle needs every device's utilisation below this percentage.
    pub gpu_util_below: f64,
    /// Idle also needs at least this much free memory on every device.
    pub gpu_mem_free_above: Option<u64>,
    pub timeout: Duration,
    pub poll: Duration,
}

impl Default for WaitIdleOpts {
    fn default() -> Self {
        WaitIdleOpts {
            gpu_util_below: 90.0,
            gpu_mem_free_above: None,
            timeout: Duration::from_secs(15 * 60),
            poll: Duration::from_secs(2),
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
    let Some(devices) = gpu["devices"].as_array() else {
        let err = gpu["error"].as_str().unwrap_or("no device readings yet");
        return Seen::Busy(format!("GPU state unknown: {err}"));
    };
    let mut busy = false;
    let mut seen = Vec::new();
    for d in devices {
        let util = d["utilization_percent"].as_f64().unwrap_or(100.0);
        let free = d["memory_free"].as_u64().unwrap_or(0);
        busy |= util >= o.gpu_util_below;
        busy |= o.gpu_mem_free_above.is_some_and(|min| free < min);
        seen.push(format!(
            "GPU {} {util:.0}% busy, {} free",
            d["index"].as_u64().unwrap_or(0),
            Size(free)
        ));
    }
    let seen = seen.join("; ");
    if busy {
        Seen::Busy(seen)
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

    #[test]
    fn no_reading_yet_is_not_idle() {
        let o = WaitIdleOpts::default();
        assert_eq!(
            judge_idle(&Map::new(), &o),
            Seen::Busy("no GPU reading yet".into())
        );
    }
}
