//! What clawvisor tells a person to do works when they do it: the resume hint pasted into a
//! shell, the demo run again after a pause, `ctl` when the config cannot be read.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use clawvisor::supervisor::PauseRecord;
use clawvisor::supervisor::persist::{self, PersistedState};
use common::*;

const T: Duration = Duration::from_secs(30);

/// The command between the backticks of "resume with `...`".
fn hint_in(text: &str) -> String {
    let at = text.find("resume with `").expect("a resume hint") + "resume with `".len();
    text[at..].split('`').next().unwrap().to_string()
}

#[test]
fn the_resume_hint_in_the_log_works_when_pasted() {
    let cv = Clawvisor::start(&["sh", "-c", "sleep 60"], "");
    cv.wait_for("gateway started", 1, T);
    let sock = cv.path("clawvisor.sock").display().to_string();
    let (code, _, err) = run_cli(&["ctl", "--socket", &sock, "pause", "--reason", "look"]);
    assert_eq!(code, 0, "{err}");
    let paused = cv.wait_for("paused: look; resume with `", 1, T);
    let hint = hint_in(msg(&paused[0]));
    assert!(
        hint.contains(" ctl --config ") && hint.ends_with(" resume"),
        "{hint}"
    );
    // The state line (STATUS= carries the same text) has the same hint.
    let state = cv.wait_for("-> paused: look; resume with `", 1, T);
    assert_eq!(hint_in(msg(&state[0])), hint);

    // Pasted into a shell elsewhere, without clawvisor on PATH or its config in the env.
    let out = Command::new("sh")
        .args(["-c", &hint])
        .current_dir("/")
        .env("PATH", "/usr/bin:/bin")
        .env_remove("CLAWVISOR_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{hint}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    cv.wait_for("gateway started", 2, T);
}

#[test]
fn the_demo_run_again_after_a_pause_says_so_and_starts_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let record = PauseRecord {
        reason: "crash loop: 6 failures within 10m".into(),
        since: SystemTime::now(),
        last_exit: None,
        last_lines: Vec::new(),
    };
    persist::save(
        &demo.join("state"),
        &PersistedState {
            version: 1,
            pause: Some(record),
        },
    )
    .unwrap();
    let err_path = dir.path().join("demo.stderr");
    let mut child = Command::new(CLAWVISOR)
        .args(["--log-format", "json", "demo", "--dir"])
        .arg(&demo)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let read = || std::fs::read_to_string(&err_path).unwrap_or_default();
    let deadline = Instant::now() + T;
    while !read().contains("gateway started") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let _ = child.wait();
    let log = read();
    assert!(
        log.contains(
            "the last demo run ended paused (crash loop: 6 failures within 10m); starting fresh"
        ),
        "{log}"
    );
    assert!(log.contains("gateway started"), "{log}");
}

#[test]
fn ctl_says_which_config_it_could_not_read_and_why() {
    let cv = Clawvisor::start(&["sh", "-c", "sleep 60"], "");
    cv.wait_for("gateway started", 1, T);
    // A group member (here: nobody) may use the socket, but the config is root's 0600.
    std::fs::set_permissions(cv.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    std::fs::set_permissions(&cv.config_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(CLAWVISOR)
        .args(["ctl", "status"])
        .env("CLAWVISOR_CONFIG", &cv.config_path)
        .output()
        .expect("setpriv (util-linux) is needed for this test");
    let err = String::from_utf8_lossy(&out.stderr);
    let p = cv.config_path.display().to_string();
    assert!(
        err.contains(&format!("{p}: cannot read the config: Permission denied"))
            && err.contains("--socket PATH"),
        "{err}"
    );
}
