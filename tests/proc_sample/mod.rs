//! What the fault tests measure of a live process, read from /proc: resident memory (now
//! and its peak), open file descriptors, and the processes that carry a test's marker in
//! their environment (a marker set in `[gateway] env` is inherited by every descendant,
//! whatever session or group it moved to, so a /proc scan finds every leftover).
#![allow(dead_code)]

use std::fs;

/// A `Vm*:` figure of /proc/PID/status, in KiB (0 when the process is gone).
pub fn status_kib(pid: i32, key: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Resident memory now, KiB.
pub fn rss_kib(pid: i32) -> u64 {
    status_kib(pid, "VmRSS")
}

/// The peak resident memory since the process started, KiB.
pub fn hwm_kib(pid: i32) -> u64 {
    status_kib(pid, "VmHWM")
}

/// How many file descriptors `pid` holds open.
pub fn fd_count(pid: i32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// A marker unique to this test run, for `[gateway] env`.
pub fn new_marker(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{test}-{}-{nanos}", std::process::id())
}

/// One live process found with the marker: its pid and session id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marked {
    pub pid: i32,
    pub session: i32,
}

/// Every live process whose environment holds `MARKER_VAR=marker`. A zombie's environment
/// reads empty, so zombies are not found here: [`zombie_children`] counts those.
pub fn marked(marker: &str) -> Vec<Marked> {
    let needle = format!("{MARKER_VAR}={marker}");
    let mut out = Vec::new();
    for pid in clawvisor::process::tree::all_pids() {
        let Ok(env) = fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if !env.split(|&b| b == 0).any(|kv| kv == needle.as_bytes()) {
            continue;
        }
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let after: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        out.push(Marked {
            pid,
            session: after.get(3).and_then(|s| s.parse().ok()).unwrap_or(0),
        });
    }
    out
}

/// The environment variable that carries the marker.
pub const MARKER_VAR: &str = "CLAWVISOR_FAULT_MARK";

/// Zombies among `pid`'s children (what a supervisor failed to reap).
pub fn zombie_children(pid: i32) -> usize {
    clawvisor::process::tree::all_pids()
        .filter(|&p| clawvisor::process::tree::read_ppid(p) == Some(pid))
        .filter(|&p| {
            fs::read_to_string(format!("/proc/{p}/stat"))
                .unwrap_or_default()
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .count()
}
