//! `[[probes.exec]]`: a command's exit status is a probe; run through clawvisor's one reaper.

mod common;

use std::time::Duration;

use common::{Clawvisor, FAKE_GATEWAY};

#[test]
fn a_failing_command_restarts_when_so_configured() {
    let d = tempfile::tempdir().unwrap();
    let flag = d.path().join("healthy");
    let cv = Clawvisor::start(
        &[FAKE_GATEWAY, "--port", "0"],
        &format!(
            r#"
[[probes.exec]]
name = "flag"
command = ["test", "-e", "{}"]
period = "200ms"
timeout = "5s"
failure_threshold = 2
on_failure = "restart"
"#,
            flag.display()
        ),
    );
    let v = cv.wait_for("failed 2 times in a row", 1, Duration::from_secs(60));
    assert_eq!(v[0]["source"], "probes.exec.flag", "{v:?}");
    assert!(common::msg(&v[0]).contains("exit code 1"), "{v:?}");
    cv.wait_for("gateway started", 2, Duration::from_secs(60));
    // Once the command passes, the restarted gateway is left alone.
    std::fs::write(&flag, "").unwrap();
    let pids = cv.gateway_pids().len();
    std::thread::sleep(Duration::from_secs(2));
    assert!(cv.gateway_pids().len() <= pids + 1);
}

#[test]
fn a_command_that_hangs_is_killed_at_its_timeout() {
    let cv = Clawvisor::start(
        &[FAKE_GATEWAY, "--port", "0"],
        r#"
[[probes.exec]]
command = ["sleep", "600"]
period = "100ms"
timeout = "300ms"
failure_threshold = 1
"#,
    );
    let v = cv.wait_for("failed 1 times in a row", 1, Duration::from_secs(60));
    assert_eq!(v[0]["source"], "probes.exec.sleep", "{v:?}");
    // The alert reaction leaves the gateway running.
    assert_eq!(cv.gateway_pids().len(), 1);
}
