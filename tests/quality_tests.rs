//! `[quality]`: the reasoning tests run on schedule; below `min_pass_rate` they pause the
//! gateway when `on_failure = "pause"` (the seed's "auto-pause + manual confirm").

mod common;

use std::time::Duration;

use common::{Clawvisor, FAKE_GATEWAY};

fn free_port() -> String {
    common::free_port().to_string()
}

fn tests_file(dir: &std::path::Path) -> String {
    let p = dir.join("reasoning_tests.json");
    std::fs::write(
        &p,
        r#"{"tests": [
            {"type": "arithmetic", "prompt": "What is 17 * 23?", "expected_keywords": ["391"]},
            {"type": "echo", "prompt": "Say hi", "expected_keywords": ["fake gateway"]}
        ]}"#,
    )
    .unwrap();
    p.display().to_string()
}

#[test]
fn a_quality_failure_pauses_when_so_configured() {
    let port = free_port();
    let d = tempfile::tempdir().unwrap();
    let tests = tests_file(d.path());
    let cv = Clawvisor::start(
        &[FAKE_GATEWAY, "--port", &port],
        &format!(
            r#"
[probes.liveness]
url = "http://127.0.0.1:{port}/healthz"
period = "200ms"
[probes.completion]
url = "http://127.0.0.1:{port}/v1/chat/completions"
period = "1h"
[quality]
tests = "{tests}"
every = "1s"
min_pass_rate = 0.9
on_failure = "pause"
"#
        ),
    );
    // The fake answers "I am a fake gateway." to everything: one of two tests passes.
    let v = cv.wait_for("quality pass rate 1/2", 1, Duration::from_secs(60));
    assert_eq!(v[0]["source"], "quality", "{v:?}");
    assert!(common::msg(&v[0]).contains("failed: arithmetic"), "{v:?}");
    assert!(
        common::eventually(Duration::from_secs(30), || cv.state_json().is_some_and(
            |s| s["pause"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("quality"))
        )),
        "no pause record: {:?}",
        cv.state_json()
    );
    assert_eq!(cv.gateway_pids().len(), 1, "a pause is not a restart");
}

#[test]
fn passing_tests_only_report() {
    let port = free_port();
    let d = tempfile::tempdir().unwrap();
    let tests = tests_file(d.path());
    let cv = Clawvisor::start(
        &[
            FAKE_GATEWAY,
            "--port",
            &port,
            "--answer",
            "391, says the fake gateway",
        ],
        &format!(
            r#"
[probes.completion]
url = "http://127.0.0.1:{port}/v1/chat/completions"
period = "200ms"
[quality]
tests = "{tests}"
every = "500ms"
on_failure = "pause"
"#
        ),
    );
    cv.wait_for("startup grace over", 1, Duration::from_secs(60));
    // Several scheduled runs pass: nothing is reported, nothing paused.
    std::thread::sleep(Duration::from_secs(2));
    assert!(cv.find("quality pass rate").is_empty());
    assert!(cv.state_json().is_none_or(|s| s["pause"].is_null()));
}
