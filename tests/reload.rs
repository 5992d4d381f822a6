//! SIGHUP reloads the config; a bad new config keeps the old one and logs every error.

mod common;

use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(30);

#[test]
fn bad_reload_keeps_the_old_config_and_logs_every_error() {
    let cv = Clawvisor::start(&[FAKE_GATEWAY, "--port", "0"], "");
    cv.wait_for("gateway started", 1, T);
    let good = std::fs::read_to_string(&cv.config_path).unwrap();
    std::fs::write(
        &cv.config_path,
        format!("{good}\n[stop]\ntimeout = \"never\"\nsignal = \"NOPE\"\n"),
    )
    .unwrap();
    cv.signal(libc::SIGHUP);
    cv.wait_for("keeping the old one", 1, T);
    let errors: Vec<String> = cv
        .events()
        .iter()
        .filter(|e| e["level"] == "ERROR")
        .map(|e| msg(e).to_string())
        .collect();
    assert!(
        errors.iter().any(|m| m.starts_with("stop.timeout at")),
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(|m| m.starts_with("stop.signal at")),
        "{errors:#?}"
    );
    // Still supervising the same gateway.
    assert_eq!(cv.gateway_pids().len(), 1);
    assert!(alive(cv.gateway_pids()[0]));

    std::fs::write(
        &cv.config_path,
        format!("{good}\n[restart]\nmax_restarts = 9\n"),
    )
    .unwrap();
    cv.signal(libc::SIGHUP);
    cv.wait_for("config reloaded", 1, T);
    assert_eq!(
        cv.gateway_pids().len(),
        1,
        "a reload does not restart the gateway"
    );
}

#[test]
fn reload_during_backoff_applies_the_new_backoff() {
    let cv = Clawvisor::start(
        &["sh", "-c", "exit 1"],
        "[restart.backoff]\ninitial = \"1500ms\"\njitter = 0.0\n",
    );
    cv.wait_for("gateway failed", 1, T);
    let text = std::fs::read_to_string(&cv.config_path)
        .unwrap()
        .replace("1500ms", "100ms");
    std::fs::write(&cv.config_path, text).unwrap();
    cv.signal(libc::SIGHUP);
    cv.wait_for("config reloaded", 1, T);
    // The pending restart keeps its timer; the next failure uses the new rules (100ms * 2).
    let starts = cv.wait_for("gateway started", 3, T);
    let fails = cv.find("gateway failed");
    let gap = ts(&starts[2]) - ts(&fails[1]);
    assert!(
        (0.18..1.2).contains(&gap),
        "second restart after {gap:.3}s, want ~0.2s"
    );
}
