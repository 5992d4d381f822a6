//! `[gateway] command` / `cwd` that cannot start: every failed start is survived, reported
//! in words, and fixing the config brings the gateway up without restarting clawvisor.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(60);
/// Failed starts in a row before the config is fixed.
const FAILURES: usize = 500;

/// Busy loops that keep both CPUs contended while clawvisor forks; killed by pid on drop.
struct CpuLoad(Vec<Child>);

impl CpuLoad {
    fn start(n: usize) -> CpuLoad {
        CpuLoad(
            (0..n)
                .map(|_| {
                    Command::new("yes")
                        .stdout(Stdio::null())
                        .spawn()
                        .expect("start yes")
                })
                .collect(),
        )
    }
}

impl Drop for CpuLoad {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Zero backoff, and a crash-loop limit that pauses at the 500th failed start (the first
/// failure is the gateway's own exit, which takes the program or cwd away).
fn restart_section() -> String {
    format!(
        "[restart]\nmax_restarts = {FAILURES}\nwindow = \"1h\"\n[restart.backoff]\ninitial = \"0s\"\nmultiplier = 1.0\njitter = 0.0\nmax = \"0s\"\n"
    )
}

fn ctl(cv: &Clawvisor, args: &[&str]) -> (i32, String, String) {
    let sock = cv.path("clawvisor.sock").display().to_string();
    let mut all = vec!["ctl", "--socket", sock.as_str()];
    all.extend_from_slice(args);
    run_cli(&all)
}

/// Runs `gateway` (a `[gateway]` section whose first run removes its own program or cwd, as
/// an `npm update` does for a moment) until 500 starts failed under CPU load; checks the
/// reason reads `want`; then fixes the section, reloads, resumes and expects a running
/// gateway.
fn fail_500_then_fix(dir: tempfile::TempDir, gateway: &str, want: &str) {
    let _load = CpuLoad::start(2);
    let broken = format!(
        "[gateway]\n{gateway}\n{}{}",
        restart_section(),
        base_config(dir.path(), "")
    );
    let cv = Clawvisor::start_in(dir, &broken, &[]);
    let paused = cv.wait_for("paused: crash loop", 1, Duration::from_secs(300));
    assert!(msg(&paused[0]).contains(want), "{}", msg(&paused[0]));
    let failed: Vec<_> = cv
        .find("gateway failed (")
        .into_iter()
        .filter(|e| msg(e).contains(want))
        .collect();
    // 499 failed starts backed off, the 500th became the pause.
    assert_eq!(failed.len(), FAILURES - 1, "failed starts before the pause");
    let stderr = std::fs::read_to_string(&cv.stderr_path).unwrap();
    assert!(
        !stderr.contains("panicked") && !stderr.contains("spawner thread"),
        "the spawner survived"
    );
    let (code, out, _) = ctl(&cv, &["status", "--json"]);
    assert_eq!(code, 0);
    let st: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(st["state"], "paused", "{st}");
    assert!(
        st["pause"]["reason"].as_str().unwrap().contains(want),
        "{st}"
    );

    let port = free_port();
    let fixed = format!(
        "[gateway]\ncommand = {}\n{}{}",
        toml_argv(&[FAKE_GATEWAY, "--port", &port.to_string()]),
        restart_section(),
        base_config(cv.dir.path(), "")
    );
    std::fs::write(&cv.config_path, fixed).unwrap();
    let (code, out, err) = ctl(&cv, &["reload"]);
    assert_eq!(code, 0, "reload: {out}{err}");
    let (code, out, err) = ctl(&cv, &["resume"]);
    assert_eq!(code, 0, "resume: {out}{err}");
    let started = cv.wait_for("gateway started", 2, T);
    wait_listening(port, T);
    let (_, out, _) = ctl(&cv, &["status", "--json"]);
    let st: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(st["state"] == "running" || st["state"] == "ready", "{st}");
    assert_eq!(st["pid"], started[1]["pid"], "{st}");
    assert!(alive(st["pid"].as_i64().unwrap() as i32));
}

#[test]
fn five_hundred_missing_programs_then_a_fixed_config_runs() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let prog = bin.join("clawvisor-test-gw");
    std::fs::write(&prog, "#!/bin/sh\nrm -f \"$0\"\nexit 1\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.display());
    fail_500_then_fix(
        dir,
        &format!("command = [\"clawvisor-test-gw\", \"gateway\"]\nenv = {{ PATH = {path:?} }}"),
        &format!("\"clawvisor-test-gw\": not found on PATH ({path}) for user "),
    );
}

#[test]
fn five_hundred_missing_cwds_then_a_fixed_config_runs() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    fail_500_then_fix(
        dir,
        &format!(
            "command = [\"sh\", \"-c\", \"rmdir \\\"$PWD\\\"; exit 1\"]\ncwd = {:?}",
            work.display().to_string()
        ),
        &format!(
            "gateway.cwd {:?} does not exist",
            work.display().to_string()
        ),
    );
}

#[test]
fn a_file_that_is_not_a_program_is_an_exec_format_error() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("not-a-program");
    std::fs::write(&script, "just text, no #! line\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let body = format!(
        "[gateway]\ncommand = [{:?}]\n[restart.backoff]\ninitial = \"50ms\"\n{}",
        script.display().to_string(),
        base_config(dir.path(), "")
    );
    let cv = Clawvisor::start_in(dir, &body, &[]);
    let f = cv.wait_for("gateway failed", 3, T);
    assert!(msg(&f[0]).contains("exec format error"), "{}", msg(&f[0]));
}
