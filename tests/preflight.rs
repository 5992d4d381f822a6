//! The preflight shared by `check` and `run`: what `run` cannot use, `check` rejects with
//! the key, its place and the fix; `run` exits 78 for it without starting anything.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(30);

fn write_config(dir: &Path, body: &str) -> String {
    let path = dir.join("c.toml");
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

/// `check` exits 1 naming `want`; `run` exits 78 naming it, starting nothing, and with
/// `--log-format json` the problem is a JSON event carrying its key.
fn check_and_run_refuse(body: &str, dir: &Path, key: &str, want: &str) {
    let p = write_config(dir, body);
    let (code, out, err) = run_cli(&["check", "--config", &p]);
    assert_eq!(code, 1, "check: {out}{err}");
    assert!(err.contains(&format!("{key} at {p}:")), "check:\n{err}");
    assert!(err.contains(want), "check:\n{err}");

    let (code, out, err) = run_cli(&["run", "--config", &p]);
    assert_eq!(code, 78, "run: {out}{err}");
    assert!(err.contains(want), "run:\n{err}");
    assert!(err.contains("not starting"), "run:\n{err}");

    let (code, _, err) = run_cli(&["--log-format", "json", "run", "--config", &p]);
    assert_eq!(code, 78);
    let events: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["key"] == key && msg(e).contains(want) && e["level"] == "ERROR"),
        "{events:#?}"
    );
}

#[test]
fn a_program_not_on_the_path_is_refused_by_check_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "[gateway]\ncommand = [\"clawvisor-test-absent\", \"gateway\"]\nenv = {{ PATH = \"/nonexistent/bin:/usr/bin\" }}\n{}",
        base_config(dir.path(), "")
    );
    let me = clawvisor::config::user_name(nix::unistd::Uid::effective());
    check_and_run_refuse(
        &body,
        dir.path(),
        "gateway.command",
        &format!(
            "\"clawvisor-test-absent\": not found on PATH (/nonexistent/bin:/usr/bin) for user {me}"
        ),
    );
}

#[test]
fn a_missing_cwd_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "[gateway]\ncommand = [\"sh\", \"-c\", \"sleep 1\"]\ncwd = \"/nonexistent/clawvisor-cwd\"\n{}",
        base_config(dir.path(), "")
    );
    check_and_run_refuse(
        &body,
        dir.path(),
        "gateway.cwd",
        "\"/nonexistent/clawvisor-cwd\" does not exist",
    );
}

#[test]
fn an_unknown_control_group_is_refused_with_exit_78() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "[gateway]\ncommand = [\"sh\", \"-c\", \"sleep 1\"]\n{}",
        base_config(dir.path(), "group = \"clawvisor-no-such-group\"")
    );
    check_and_run_refuse(
        &body,
        dir.path(),
        "control.group",
        "no such group \"clawvisor-no-such-group\"",
    );
}

#[test]
fn a_state_dir_that_cannot_be_created_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A plain file where a directory is needed stops even root.
    std::fs::write(dir.path().join("blocker"), "").unwrap();
    let d = dir.path().display();
    let body = format!(
        "[gateway]\ncommand = [\"sh\", \"-c\", \"sleep 1\"]\n[state]\ndir = \"{d}/blocker/state\"\n[logs]\ndir = \"{d}/logs\"\n[control]\nsocket = \"{d}/c.sock\"\n"
    );
    check_and_run_refuse(
        &body,
        dir.path(),
        "state.dir",
        &format!("{d}/blocker/state cannot be created: {d}/blocker is not a directory"),
    );
    let body = body.replace(
        &format!("{d}/blocker/state\"\n[logs]\ndir = \"{d}/logs"),
        &format!("{d}/state\"\n[logs]\ndir = \"{d}/blocker"),
    );
    check_and_run_refuse(
        &body,
        dir.path(),
        "logs.dir",
        &format!("{d}/blocker exists and is not a directory"),
    );
}

#[test]
fn a_pause_that_cannot_be_saved_says_so() {
    let cv = Clawvisor::start(&["sh", "-c", "sleep 60"], "");
    cv.wait_for("gateway started", 1, T);
    // The state dir turns into a file under clawvisor's feet.
    let state = cv.path("state");
    let _ = std::fs::remove_dir_all(&state);
    std::fs::write(&state, "not a directory").unwrap();
    let sock = cv.path("clawvisor.sock").display().to_string();
    let (code, out, err) = run_cli(&["ctl", "--socket", &sock, "pause", "--reason", "x"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("paused; but the pause could not be saved")
            && out.contains("will not survive a restart of clawvisor"),
        "{out}"
    );
    let (_, out, _) = run_cli(&["ctl", "--socket", &sock, "status", "--json"]);
    let st: serde_json::Value = serde_json::from_str(&out).unwrap();
    let e = st["parts"]["state_file"]["error"].as_str().unwrap_or("");
    assert!(
        e.contains("state.json") && e.contains("will not survive"),
        "{st}"
    );
    let (_, out, _) = run_cli(&["ctl", "--socket", &sock, "status"]);
    assert!(out.contains("state_file"), "{out}");
}
