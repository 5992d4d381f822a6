//! `clawvisor ctl probe quality`: runs the `[quality]` reasoning tests now, against the fake
//! gateway, and prints the report (a table, or the JSON with `--json`).

mod common;
mod control_support;

use std::time::{Duration, Instant};

use common::{Clawvisor, FAKE_GATEWAY, free_port, wait_listening};
use control_support::{T, ctl, wait_for_socket};
use serde_json::Value;

/// Two tests the fake can pass: it answers "2" to "1+1=" and `--answer` to anything else.
const TESTS: &str = r#"{"tests": [
    {"type": "arithmetic", "prompt": "1+1=", "expected_keywords": ["2"]},
    {"type": "geography", "prompt": "The capital of France?", "expected_keywords": ["Paris", "Lyon"]}
]}"#;

/// A clawvisor whose quality tests target the fake gateway (started with `fake_args`).
/// The tests file lives in the returned dir; `control_keys` go into `[control]`.
fn start_with_quality(fake_args: &[&str], control_keys: &str) -> (Clawvisor, tempfile::TempDir) {
    let port = free_port();
    let tests_dir = tempfile::tempdir().unwrap();
    let tests = tests_dir.path().join("reasoning_tests.json");
    std::fs::write(&tests, TESTS).unwrap();
    let port_arg = port.to_string();
    let mut argv = vec![FAKE_GATEWAY, "--port", &port_arg];
    argv.extend_from_slice(fake_args);
    let cv = Clawvisor::start(
        &argv,
        &format!(
            r#"{control_keys}
[probes.completion]
url = "http://127.0.0.1:{port}/v1/chat/completions"
period = "1h"
[quality]
tests = "{}"
min_pass_rate = 0.8
"#,
            tests.display()
        ),
    );
    wait_for_socket(&cv);
    wait_listening(port, T);
    (cv, tests_dir)
}

fn probe_json(cv: &Clawvisor) -> (i32, Value) {
    let (code, out, err) = ctl(cv, &["probe", "quality", "--json"]);
    let report = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {out:?}; stderr: {err}"));
    (code, report)
}

// ---- a passing run ----

#[test]
fn a_passing_run_prints_every_test_and_a_full_pass_rate() {
    let (cv, _tests) = start_with_quality(&["--answer", "Paris, says the fake gateway"], "");
    let (code, out, err) = ctl(&cv, &["probe", "quality"]);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let row = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name}: {out}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(row("arithmetic")[1..3], ["pass", "2"], "{out}");
    assert_eq!(row("geography")[1..3], ["pass", "Paris"], "{out}");
    assert!(
        out.contains("pass rate 2/2 (100%), at least 80%: ok"),
        "{out}"
    );

    let (code, report) = probe_json(&cv);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["pass_rate"], 1.0, "{report}");
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["results"][0]["type"], "arithmetic", "{report}");
    assert_eq!(
        report["results"][1]["matched"],
        serde_json::json!(["Paris"])
    );
    // An on-demand run is a run: the status part counts it too.
    assert_eq!(report["runs"], 2, "{report}");
}

// ---- failures ----

#[test]
fn wrong_answers_show_as_failures_and_exit_1() {
    let (cv, _tests) = start_with_quality(&["--wrong-answers"], "");
    let (code, out, err) = ctl(&cv, &["probe", "quality"]);
    assert_eq!(code, 1, "a run below min_pass_rate fails: {out}\n{err}");
    let arithmetic = out
        .lines()
        .find(|l| l.starts_with("arithmetic"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        arithmetic.contains("FAIL") && arithmetic.contains(r#"missing ["2"] in "3""#),
        "{out}"
    );
    assert!(
        out.contains("pass rate 0/2 (0%), below quality.min_pass_rate 80%"),
        "{out}"
    );

    let (code, report) = probe_json(&cv);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["pass_rate"], 0.0, "{report}");
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["results"][1]["passed"], false, "{report}");
    assert_eq!(report["results"][1]["matched"], serde_json::json!([]));
}

#[test]
fn quality_off_is_exit_1_with_the_reason() {
    let cv = control_support::start(&[], "");
    let (code, out, err) = ctl(&cv, &["probe", "quality"]);
    assert_eq!(code, 1, "stdout: {out}");
    assert!(
        err.contains("quality testing is off: set quality.tests in the config"),
        "{err}"
    );
}

// ---- slow runs ----

#[test]
fn a_slow_run_is_not_cut_by_reply_timeout() {
    // Each answer takes 2s; the supervisor's usual answer deadline is 1s.
    let (cv, _tests) = start_with_quality(
        &["--slow-completion", "2s", "--answer", "Paris"],
        "reply_timeout = \"1s\"",
    );
    let t0 = Instant::now();
    let (code, report) = probe_json(&cv);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["passed"], 2, "{report}");
    assert!(t0.elapsed() >= Duration::from_secs(4), "{:?}", t0.elapsed());
}
