//! What the README says is what happens: `ctl events` output, `on-failure` after a clean
//! exit, signals that cannot be forwarded, what `ctl reload` applies, the first quality run.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(30);

fn ctl(cv: &Clawvisor, args: &[&str]) -> (i32, String, String) {
    let sock = cv.path("clawvisor.sock").display().to_string();
    let mut all = vec!["ctl", "--socket", sock.as_str()];
    all.extend_from_slice(args);
    run_cli(&all)
}

/// `ctl events [extra]` while the gateway is restarted: what it printed.
fn events_during_a_restart(cv: &Clawvisor, extra: &[&str]) -> String {
    let sock = cv.path("clawvisor.sock").display().to_string();
    let mut watcher = Command::new(CLAWVISOR)
        .args(["ctl", "--socket", &sock, "events"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let starts = cv.gateway_pids().len();
    assert_eq!(ctl(cv, &["restart"]).0, 0);
    cv.wait_for("gateway started", starts + 1, T);
    std::thread::sleep(Duration::from_millis(500));
    let _ = watcher.kill();
    let mut out = String::new();
    watcher
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let _ = watcher.wait();
    out
}

#[test]
fn ctl_events_prints_text_and_json_lines_with_json() {
    let cv = Clawvisor::start(&["sh", "-c", "sleep 60"], "");
    cv.wait_for("gateway started", 1, T);
    let text = events_during_a_restart(&cv, &[]);
    assert!(text.contains("gateway started, pid"), "{text}");
    assert!(
        text.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_err()),
        "text by default:\n{text}"
    );
    let json = events_during_a_restart(&cv, &["--json"]);
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.iter().any(|e| e["kind"] == "spawn"), "{json}");
}

#[test]
fn on_failure_exits_after_a_clean_exit_and_says_so() {
    let mut cv = Clawvisor::start(
        &["sh", "-c", "sleep 0.3; exit 0"],
        "[restart]\npolicy = \"on-failure\"\n",
    );
    assert_eq!(cv.wait_exit(T).code(), Some(0));
    assert_eq!(cv.gateway_pids().len(), 1);
    assert!(
        !cv.find(
            "restart.policy = \"on-failure\" restarts only after a failure, so clawvisor exits too"
        )
        .is_empty(),
        "{:?}",
        cv.events()
    );
}

#[test]
fn hup_and_usr1_in_forward_signals_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        format!(
            "[gateway]\ncommand = [\"sh\"]\nforward_signals = [\"USR2\", \"HUP\", \"USR1\"]\n{}",
            base_config(dir.path(), "")
        ),
    )
    .unwrap();
    let p = path.display().to_string();
    let (code, _, err) = run_cli(&["check", "--config", &p]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("gateway.forward_signals.1 at {p}:3:28: HUP reloads clawvisor's own config, so it is never forwarded")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "gateway.forward_signals.2 at {p}:3:35: USR1 opens the Node inspector"
        )),
        "{err}"
    );
    let (code, _, _) = run_cli(&["run", "--config", &p]);
    assert_eq!(code, 78);
}

#[test]
fn reload_says_what_waits_for_a_restart() {
    let cv = Clawvisor::start(&["sh", "-c", "sleep 60"], "");
    cv.wait_for("gateway started", 1, T);
    let body = std::fs::read_to_string(&cv.config_path).unwrap();
    let changed = body
        .replace("sleep 60", "sleep 61")
        .replace("[logs]\n", "[logs]\nkeep_files = 3\n")
        .replace("[control]\n", "[control]\nmax_clients = 9\n")
        + "[restart]\nmax_restarts = 9\n";
    std::fs::write(&cv.config_path, changed).unwrap();
    let (code, out, err) = ctl(&cv, &["reload"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("reloaded"), "{out}");
    for want in [
        "not yet applied: [gateway] command: at the gateway's next start",
        "not yet applied: [logs] keep_files: when clawvisor restarts",
        "not yet applied: [control] max_clients: when clawvisor restarts",
    ] {
        assert!(out.contains(want), "{want:?} in:\n{out}");
    }
    assert!(
        !out.contains("[restart]"),
        "restart rules apply now:\n{out}"
    );
}

#[test]
fn the_first_quality_run_comes_once_the_gateway_is_ready() {
    let port = free_port();
    let d = tempfile::tempdir().unwrap();
    let tests = d.path().join("tests.json");
    std::fs::write(
        &tests,
        r#"{"tests": [{"type": "echo", "prompt": "Say hi", "expected_keywords": ["fake gateway"]}]}"#,
    )
    .unwrap();
    let cv = Clawvisor::start(
        &[FAKE_GATEWAY, "--port", &port.to_string()],
        &format!(
            "[probes.liveness]\nurl = \"http://127.0.0.1:{port}/healthz\"\nperiod = \"200ms\"\n[probes.completion]\nurl = \"http://127.0.0.1:{port}/v1/chat/completions\"\nperiod = \"1h\"\n[quality]\ntests = {:?}\nevery = \"6h\"\n",
            tests.display().to_string()
        ),
    );
    cv.wait_for("running the quality tests for the first time", 1, T);
    assert!(
        eventually(T, || {
            let (_, out, _) = ctl(&cv, &["status", "--json"]);
            serde_json::from_str::<serde_json::Value>(&out)
                .is_ok_and(|st| st["parts"]["quality"]["runs"] == 1)
        }),
        "one run long before 6h"
    );
}
