//! `[restart]`: backoff, crash loops, pause_on_exit_codes, restart requests.

mod common;

use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(30);

fn backoff(initial: &str, extra: &str) -> String {
    format!(
        "[restart]\nmax_restarts = 20\n{extra}\n[restart.backoff]\ninitial = \"{initial}\"\nmultiplier = 2.0\njitter = 0.0\nmax = \"10s\"\n"
    )
}

#[test]
fn crash_is_restarted_after_the_configured_backoff() {
    let cv = Clawvisor::start(
        &[
            FAKE_GATEWAY,
            "--port",
            "0",
            "--exit-after",
            "200ms",
            "--exit-code",
            "3",
        ],
        &backoff("400ms", ""),
    );
    let starts = cv.wait_for("gateway started", 4, T);
    let failures = cv.find("gateway failed");
    assert!(failures.len() >= 3);
    assert!(
        msg(&failures[0]).contains("exit code 3"),
        "{}",
        msg(&failures[0])
    );
    // Each restart waits initial * 2^(n-1) after the exit that caused it.
    for (i, want) in [0.4, 0.8, 1.6].iter().enumerate() {
        let gap = ts(&starts[i + 1]) - ts(&failures[i]);
        assert!(
            gap >= want - 0.02 && gap < want + 1.0,
            "restart {}: waited {gap:.3}s, want {want}s",
            i + 1
        );
    }
}

#[test]
fn restart_latency_with_zero_backoff_is_small() {
    let cv = Clawvisor::start(&["sh", "-c", "exit 1"], &backoff("0s", ""));
    let starts = cv.wait_for("gateway started", 5, T);
    let failures = cv.find("gateway failed");
    let gaps: Vec<f64> = (0..4)
        .map(|i| ts(&starts[i + 1]) - ts(&failures[i]))
        .collect();
    // Generous bound for a loaded 2-core CI machine; the closing note has real figures.
    assert!(gaps.iter().all(|g| *g < 0.5), "exit-to-spawn gaps {gaps:?}");
}

#[test]
fn exit_78_pauses_and_is_not_restarted() {
    let cv = Clawvisor::start(
        &[
            "sh",
            "-c",
            "echo 'invalid config: gateway.mode missing'; exit 78",
        ],
        "",
    );
    cv.wait_for("paused: gateway exited with code 78", 1, T);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(cv.gateway_pids().len(), 1, "not restarted");
    let st = cv.state_json().expect("state.json written");
    let pause = &st["pause"];
    assert!(
        pause["reason"].as_str().unwrap().contains("EX_CONFIG"),
        "{st}"
    );
    assert_eq!(pause["last_exit"]["exit"]["code"], 78, "{st}");
    let lines = pause["last_lines"].to_string();
    assert!(
        lines.contains("gateway.mode missing"),
        "last lines kept: {lines}"
    );
}

#[test]
fn crash_loop_pauses_with_reason_and_last_lines() {
    let cv = Clawvisor::start(
        &["sh", "-c", "echo boom-$$; exit 1"],
        "[restart]\nmax_restarts = 2\nwindow = \"1m\"\n[restart.backoff]\ninitial = \"50ms\"\n",
    );
    cv.wait_for("paused: crash loop: 3 failures", 1, T);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(cv.gateway_pids().len(), 3);
    let st = cv.state_json().unwrap();
    assert!(
        st["pause"]["last_lines"].to_string().contains("boom-"),
        "{st}"
    );
}

#[test]
fn a_persisted_pause_survives_a_clawvisor_restart() {
    let cv = Clawvisor::start(&["sh", "-c", "exit 78"], "");
    cv.wait_for("paused:", 1, T);
    let (dir, config) = cv.into_dir();
    let cv = Clawvisor::launch(dir, config, &[]);
    cv.wait_for("still paused since an earlier run", 1, T);
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        cv.gateway_pids().is_empty(),
        "a paused gateway is not started"
    );
}

#[test]
fn restart_request_usr2_restarts_at_once_without_backoff() {
    let cv = Clawvisor::start(
        &[FAKE_GATEWAY, "--port", "0", "--usr2-exit"],
        &backoff("5s", ""),
    );
    cv.wait_for("gateway started", 1, T);
    std::thread::sleep(Duration::from_millis(300));
    cv.signal(libc::SIGUSR2);
    let starts = cv.wait_for("gateway started", 2, T);
    let exit = &cv.find("exited after a restart request")[0];
    let gap = ts(&starts[1]) - ts(exit);
    assert!(
        gap < 1.0,
        "restarted {gap:.3}s after the requested exit; backoff is 5s"
    );
}

#[test]
fn policy_never_exits_with_the_childs_code() {
    let mut cv = Clawvisor::start(&["sh", "-c", "exit 5"], "[restart]\npolicy = \"never\"\n");
    assert_eq!(cv.wait_exit(T).code(), Some(5));
    assert_eq!(cv.gateway_pids().len(), 1);
}

#[test]
fn a_program_that_disappears_backs_off_then_pauses() {
    // Present at start-up (the preflight refuses a missing one), gone after its first run,
    // as during an `npm update`.
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("gateway.sh");
    std::fs::write(&prog, "#!/bin/sh\nrm -f \"$0\"\nexit 1\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
    let p = prog.display().to_string();
    let body = format!(
        "[gateway]\ncommand = [{p:?}]\n[restart]\nmax_restarts = 2\n[restart.backoff]\ninitial = \"50ms\"\n{}",
        base_config(dir.path(), "")
    );
    let cv = Clawvisor::start_in(dir, &body, &[]);
    let paused = cv.wait_for("paused: crash loop", 1, T);
    assert!(
        msg(&paused[0]).contains(&format!("{p:?}: no such file")),
        "{}",
        msg(&paused[0])
    );
}
