//! `[probes.completion]`: wrong answers fail and restart; a slow answer while liveness still
//! answers is "slow" (alerted), not dead; the token comes from `token_file`.

mod common;

use std::time::Duration;

use common::{Clawvisor, FAKE_GATEWAY};

fn free_port() -> String {
    common::free_port().to_string()
}

fn token_file() -> (tempfile::TempDir, String) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("token");
    std::fs::write(&p, "sekrit\n").unwrap();
    let s = p.display().to_string();
    (d, s)
}

#[test]
fn wrong_answers_fail_the_probe_and_restart() {
    let port = free_port();
    let (_t, token) = token_file();
    let cv = Clawvisor::start(
        &[
            FAKE_GATEWAY,
            "--port",
            &port,
            "--wrong-answers",
            "--token",
            "sekrit",
        ],
        &format!(
            r#"
[probes.liveness]
url = "http://127.0.0.1:{port}/healthz"
period = "200ms"
[probes.completion]
url = "http://127.0.0.1:{port}/v1/chat/completions"
token_file = "{token}"
period = "200ms"
timeout = "5s"
failure_threshold = 2
"#
        ),
    );
    let v = cv.wait_for("failed 2 times in a row", 1, Duration::from_secs(60));
    assert_eq!(v[0]["source"], "probes.completion", "{v:?}");
    assert!(common::msg(&v[0]).contains(r#"which lacks "2""#), "{v:?}");
    // Restarted: a second gateway started.
    cv.wait_for("gateway started", 2, Duration::from_secs(60));
}

#[test]
fn a_right_answer_with_the_token_passes_and_a_wrong_token_only_warns() {
    let port = free_port();
    let (_t, token) = token_file();
    let cv = Clawvisor::start(
        &[FAKE_GATEWAY, "--port", &port, "--token", "other"],
        &format!(
            r#"
[probes.completion]
url = "http://127.0.0.1:{port}/v1/chat/completions"
token_file = "{token}"
period = "200ms"
failure_threshold = 1
"#
        ),
    );
    let v = cv.wait_for("check the token", 1, Duration::from_secs(60));
    assert_eq!(v[0]["source"], "probes.completion", "{v:?}");
    // A refused token is a configuration problem: restarting cannot help.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(cv.gateway_pids().len(), 1);
    assert!(cv.find("failed 1 times").is_empty());
}

/// A gateway whose completions take 30 s while /healthz answers, probed every 100 ms with a
/// 300 ms timeout, and `slow_window` as given.
fn start_busy_gateway(slow_window: &str) -> Clawvisor {
    let port = free_port();
    Clawvisor::start(
        &[FAKE_GATEWAY, "--port", &port, "--slow-completion", "30s"],
        &format!(
            r#"
[probes.liveness]
url = "http://127.0.0.1:{port}/healthz"
period = "200ms"
[probes.completion]
url = "http://127.0.0.1:{port}/v1/chat/completions"
period = "100ms"
timeout = "300ms"
failure_threshold = 2
slow_window = "{slow_window}"
"#
        ),
    )
}

#[test]
fn slow_while_liveness_answers_is_busy_not_dead() {
    let cv = start_busy_gateway("1h");
    let v = cv.wait_for("slow (busy, not dead yet)", 1, Duration::from_secs(60));
    assert_eq!(v[0]["source"], "probes.completion", "{v:?}");
    // Several more timed-out probes later, still one gateway and one alert.
    std::thread::sleep(Duration::from_secs(2));
    let alerts = cv.find("slow (busy");
    let from_probe: Vec<_> = alerts
        .iter()
        .filter(|e| e["source"] == "probes.completion")
        .collect();
    assert_eq!(from_probe.len(), 1, "{alerts:?}");
    assert_eq!(cv.gateway_pids().len(), 1);
}

#[test]
fn slow_past_the_window_restarts() {
    let cv = start_busy_gateway("2s");
    let v = cv.wait_for(
        "times in a row): no complete answer within",
        1,
        Duration::from_secs(60),
    );
    assert_eq!(v[0]["reaction"], "Restart", "{v:?}");
    // Restarted: a second gateway started.
    cv.wait_for("gateway started", 2, Duration::from_secs(60));
}
