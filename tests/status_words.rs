//! Status a person can read: a restart because nothing passed within `startup_timeout`
//! says so; PSS, sampled less often than RSS, shows its age.

mod common;

use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(60);

fn ctl(cv: &Clawvisor, args: &[&str]) -> (i32, String, String) {
    let sock = cv.path("clawvisor.sock").display().to_string();
    let mut all = vec!["ctl", "--socket", sock.as_str()];
    all.extend_from_slice(args);
    run_cli(&all)
}

#[test]
fn a_restart_at_the_startup_timeout_says_so() {
    // Only a liveness probe, on a port nobody answers: its failures pile up during the grace;
    // the restart that follows is the startup timeout's, and reads as such.
    let port = free_port();
    let cv = Clawvisor::start(
        &["sh", "-c", "sleep 60"],
        &format!(
            "[probes]\nstartup_timeout = \"2s\"\n[probes.liveness]\nurl = \"http://127.0.0.1:{port}/healthz\"\nperiod = \"200ms\"\n"
        ),
    );
    let v = cv.wait_for("restarting the gateway: startup: no probe passed within probes.startup_timeout (2s) of the start (last: probes.liveness:", 1, T);
    assert_eq!(v.len(), 1, "{v:?}");
    cv.wait_for("gateway started", 2, T);
    let (_, out, _) = ctl(&cv, &["status", "--json"]);
    let st: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        st["last_reason"].as_str().is_some_and(
            |r| r.starts_with("startup: no probe passed within probes.startup_timeout (2s)")
        ),
        "{st}"
    );
}

#[test]
fn pss_shows_its_age() {
    // RSS every 200ms, PSS every 12th sample: PSS is up to 2.4 s old.
    let cv = Clawvisor::start(
        &["sh", "-c", "sleep 60"],
        "[memory]\ninterval = \"200ms\"\nmeasure = \"rss\"\n",
    );
    cv.wait_for("gateway started", 1, T);
    let mut seen = String::new();
    let shown = eventually(Duration::from_secs(20), || {
        let (_, out, _) = ctl(&cv, &["status"]);
        seen = out
            .lines()
            .find(|l| l.starts_with("memory"))
            .unwrap_or("")
            .to_string();
        seen.contains("(sampled ") && seen.contains("s ago) over")
    });
    assert!(shown, "memory line: {seen}");
    let (_, out, _) = ctl(&cv, &["status", "--json"]);
    let st: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(st["parts"]["memory"]["pss_age_secs"].is_u64(), "{st}");
}
