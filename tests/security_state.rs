//! Security pass, state.json: a tampered file can keep the gateway down (a person should
//! look) but can never make clawvisor run a command or signal a process. A file others could
//! have written (another owner, group/world-writable) is refused before its content is read;
//! wrong types are refused as corrupt; fields that name a process or a command are ignored;
//! a pause record full of terminal escapes and megabytes of text reaches `ctl status` capped
//! and escaped. (tests/state_file.rs covers the size cap, FIFOs and syntax errors.)

mod common;
mod control_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Clawvisor, alive, base_config, toml_argv};
use control_support::{ctl, status, wait_for_socket, wait_status};

/// clawvisor on a dir whose state/state.json holds `content` (mode `mode`), supervising a
/// gateway that leaves a marker file when it runs. Returns clawvisor and the marker path.
fn start_with_state(content: &[u8], mode: u32) -> (Clawvisor, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let marker = outside.path().join("gateway-ran");
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o750)).unwrap();
    let file = state.join("state.json");
    std::fs::write(&file, content).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
    let argv = [
        "sh",
        "-c",
        &format!("touch {}; exec sleep 60", marker.display()),
    ];
    let body = format!(
        "[gateway]\ncommand = {}\n{}",
        toml_argv(&argv),
        base_config(dir.path(), "")
    );
    let cv = Clawvisor::start_in(dir, &body, &[]);
    wait_for_socket(&cv);
    (cv, marker, outside)
}

fn assert_nothing_ran(cv: &Clawvisor, marker: &Path) {
    // Long enough for a gateway that was going to start to have started.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!marker.exists(), "the gateway ran");
    assert!(cv.gateway_pids().is_empty(), "{:?}", cv.gateway_pids());
}

fn paused_reason(cv: &Clawvisor) -> String {
    let st = wait_status(cv, "paused", |s| s["state"] == "paused");
    st["pause"]["reason"].as_str().unwrap().to_string()
}

const NOT_PAUSED: &[u8] = b"{\"version\": 1, \"pause\": null}\n";

#[test]
fn a_state_file_others_can_write_is_refused_kept_and_nothing_runs() {
    let (cv, marker, _o) = start_with_state(NOT_PAUSED, 0o666);
    let reason = paused_reason(&cv);
    assert!(
        reason.contains("writable by its group or by others (mode 0666)")
            && reason.contains("state.json"),
        "{reason}"
    );
    assert_nothing_ran(&cv, &marker);
    // Not set aside: the person who must look finds it where it was.
    assert!(
        !std::fs::read_dir(cv.path("state"))
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains("corrupt")),
    );
    // Once a person resumes, clawvisor writes its own private file and runs.
    let (code, _, err) = ctl(&cv, &["resume"]);
    assert_eq!(code, 0, "{err}");
    wait_status(&cv, "running", |s| s["state"] == "running");
    assert!(common::eventually(control_support::T, || marker.exists()));
    let mode = std::fs::metadata(cv.path("state/state.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_state_file_owned_by_another_user_is_refused() {
    if !nix::unistd::geteuid().is_root() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI runs as root; this test needs it to chown"
        );
        eprintln!("SKIPPED: needs root to give state.json to another user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let marker = outside.path().join("gateway-ran");
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let file = state.join("state.json");
    std::fs::write(&file, NOT_PAUSED).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    // `nobody`: a real second user, as the gateway's user would be.
    std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
    let argv = [
        "sh",
        "-c",
        &format!("touch {}; exec sleep 60", marker.display()),
    ];
    let body = format!(
        "[gateway]\ncommand = {}\n{}",
        toml_argv(&argv),
        base_config(dir.path(), "")
    );
    let cv = Clawvisor::start_in(dir, &body, &[]);
    wait_for_socket(&cv);
    let reason = paused_reason(&cv);
    assert!(
        reason.contains("belongs to uid 65534, not to clawvisor's user (uid 0)"),
        "{reason}"
    );
    assert_nothing_ran(&cv, &marker);
}

#[test]
fn fields_naming_a_process_or_a_command_are_ignored_and_escapes_are_defused() {
    // A process of ours that a state file "asks" clawvisor to kill.
    let mut bystander = std::process::Command::new("sleep")
        .arg("300")
        .spawn()
        .unwrap();
    let pid = bystander.id();
    let outside = tempfile::tempdir().unwrap();
    let planted = outside.path().join("command-ran");
    let huge = "A".repeat(2 * 1024 * 1024);
    let record = serde_json::json!({
        "version": 1,
        "pause": {
            "reason": format!("\u{1b}[2J\u{1b}]0;pwned\u{7}\rFAKE: all good {huge}"),
            "since": "2026-01-01T00:00:00.000Z",
            "last_exit": null,
            "last_lines": ["\u{1b}[31mred\u{1b}[0m", "\u{9b}6n"],
        },
        // What a tamperer might hope clawvisor acts on (names a later version might use:
        // an orphaned child to reap, with a start time that does not match).
        "pid": pid, "pgid": pid,
        "child": {"pid": pid, "pgid": pid, "uid": 0, "start_time": 1},
        "orphan": {"pid": pid, "pgid": pid, "uid": 0, "start_time": 1},
        "command": ["sh", "-c", format!("touch {}", planted.display())],
        "exec": format!("touch {}", planted.display()),
    });
    let text = serde_json::to_vec(&record).unwrap();
    assert!(text.len() < 16 * 1024 * 1024);
    let (cv, marker, _o) = start_with_state(&text, 0o600);
    // Unknown fields are tolerated: the pause record itself is honoured.
    let reason = paused_reason(&cv);
    assert!(reason.contains("FAKE: all good"), "{}", &reason[..200]);
    assert!(
        reason.len() < 4096 + 200,
        "not capped: {} bytes",
        reason.len()
    );
    assert_nothing_ran(&cv, &marker);
    assert!(!planted.exists(), "a command from state.json ran");
    assert!(alive(pid as i32), "a pid from state.json was signalled");
    // On a terminal the escapes are shown, not executed.
    let (code, out, err) = ctl(&cv, &["status"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("FAKE: all good"), "{out}");
    for raw in ['\u{1b}', '\u{7}', '\r', '\u{9b}'] {
        assert!(!out.contains(raw), "raw {raw:?} in ctl status:\n{out:?}");
    }
    assert!(out.contains("\\x1b"), "{out}");
    let (code, out, _) = ctl(&cv, &["logs"]);
    assert_eq!(code, 0);
    assert!(!out.contains('\u{1b}'), "{out:?}");
    let _ = bystander.kill();
    let _ = bystander.wait();
}

#[test]
fn wrong_types_are_refused_as_corrupt_and_nothing_runs() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let cases: Vec<(&str, String)> = vec![
        ("version as text", r#"{"version": "one", "pause": null}"#.into()),
        ("pause as a list", r#"{"version": 1, "pause": ["x"]}"#.into()),
        (
            "reason as a number",
            r#"{"version": 1, "pause": {"reason": 42, "since": "2026-01-01T00:00:00Z", "last_exit": null}}"#.into(),
        ),
        (
            "since not a time",
            r#"{"version": 1, "pause": {"reason": "r", "since": "yesterday", "last_exit": null}}"#.into(),
        ),
        (
            "last_lines as a map",
            r#"{"version": 1, "pause": {"reason": "r", "since": "2026-01-01T00:00:00Z", "last_exit": null, "last_lines": {"a": 1}}}"#.into(),
        ),
        ("deeply nested", deep),
        ("not an object", "\"paused\"".into()),
    ];
    for (what, content) in cases {
        let (cv, marker, _o) = start_with_state(content.as_bytes(), 0o600);
        let reason = paused_reason(&cv);
        assert!(reason.contains("is corrupt"), "{what}: {reason}");
        assert_nothing_ran(&cv, &marker);
        let _ = status(&cv);
    }
}

#[test]
fn times_at_the_edges_of_the_calendar_do_not_crash_status() {
    for since in ["9999-12-31T23:59:59.999Z", "1900-01-01T00:00:00Z"] {
        let text = format!(
            r#"{{"version": 1, "pause": {{"reason": "edge {since}", "since": "{since}", "last_exit": null}}}}"#
        );
        let (cv, marker, _o) = start_with_state(text.as_bytes(), 0o600);
        let reason = paused_reason(&cv);
        assert!(reason.contains("edge"), "{reason}");
        let (code, out, err) = ctl(&cv, &["status"]);
        assert_eq!(code, 0, "{since}: {out}{err}");
        assert_nothing_ran(&cv, &marker);
        assert!(alive(cv.pid()), "clawvisor died on since = {since}");
    }
}
