//! `[state] dir`: the pause record in state.json. It stays small enough for `ctl status`
//! (item 1 of the fault table), an unusable file never wedges or silently replaces anything
//! (item 8), and the file is private (item 10).

mod common;
mod control_support;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::Clawvisor;
use control_support::*;

/// A gateway that prints 50 lines of 60,000 bytes (stack traces, JSON dumps) and exits 78,
/// which pauses at once.
const LONG_LINES_THEN_78: &str =
    "i=0; while [ $i -lt 50 ]; do printf \"line $i %060000d\\n\" 0; i=$((i+1)); done; exit 78";

#[test]
fn a_pause_record_of_long_lines_fits_status_before_and_after_a_restart() {
    let cv = Clawvisor::start(&["sh", "-c", LONG_LINES_THEN_78], "");
    wait_for_socket(&cv);
    let st = wait_status(&cv, "paused", |s| s["state"] == "paused");
    let lines = st["pause"]["last_lines"].as_array().unwrap().clone();
    let total: usize = lines.iter().map(|l| l.as_str().unwrap().len()).sum();
    assert!(total <= 40 * 1024, "record of {total} bytes: {st:.300}");
    let last = lines.last().unwrap().as_str().unwrap();
    assert!(
        last.starts_with("[out] line 49 ") && last.contains("trimmed"),
        "the newest line is kept, cut, and says so: {last:.120}"
    );
    assert!(lines[0].as_str().unwrap().contains("earlier lines trimmed"));
    // The text table too (it prints the record).
    let (code, out, err) = ctl(&cv, &["status"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("line 49"), "{out:.500}");

    // The saved record is the capped one, and a new clawvisor answers status with it.
    let saved = std::fs::metadata(cv.path("state/state.json"))
        .unwrap()
        .len();
    assert!(saved < 64 * 1024, "state.json is {saved} bytes");
    cv.signal(libc::SIGKILL);
    let (dir, config) = cv.into_dir();
    let cv = Clawvisor::launch(dir, config, &[]);
    wait_for_socket(&cv);
    let st = status(&cv);
    assert_eq!(st["state"], "paused", "{st:.300}");
    assert!(st["pause"]["last_lines"].as_array().unwrap().len() <= 50);
}

#[test]
fn a_huge_record_saved_by_an_older_version_is_capped_when_loaded() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    // 50 lines of 64 KiB: the ~3 MiB record that broke status before.
    let lines: Vec<String> = (0..50)
        .map(|i| format!("[err] {i} {}", "x".repeat(64 * 1024)))
        .collect();
    let record = serde_json::json!({"version": 1, "pause": {
        "reason": "crash loop: 6 failures in 1m", "since": "2026-11-24T13:05:01.123Z",
        "last_exit": null, "last_lines": lines}});
    let text = serde_json::to_string(&record).unwrap();
    assert!(text.len() > 3_000_000);
    std::fs::write(dir.path().join("state/state.json"), text).unwrap();
    let body = format!(
        "[gateway]\ncommand = [\"sleep\", \"60\"]\n{}",
        common::base_config(dir.path(), "")
    );
    let cv = Clawvisor::start_in(dir, &body, &[]);
    wait_for_socket(&cv);
    let (code, out, err) = ctl(&cv, &["status", "--json"]);
    assert_eq!(code, 0, "status failed: {err}");
    let st: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(st["pause"]["reason"], "crash loop: 6 failures in 1m");
    assert!(out.len() < 100 * 1024, "status is {} bytes", out.len());
}

#[test]
fn a_fifo_as_state_file_does_not_wedge_clawvisor() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    let fifo = dir.path().join("state/state.json");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let body = format!(
        "[gateway]\ncommand = [\"sleep\", \"60\"]\n{}",
        common::base_config(dir.path(), "")
    );
    let mut cv = Clawvisor::start_in(dir, &body, &[]);
    wait_for_socket(&cv);
    let st = status(&cv);
    assert_eq!(st["state"], "paused", "{st}");
    let reason = st["pause"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("state.json is not a regular file (a FIFO)"),
        "{reason}"
    );
    let t = Instant::now();
    assert!(cv.stop().success());
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
}

#[test]
fn an_oversized_or_corrupt_state_file_is_kept_aside_not_overwritten() {
    for (what, content) in [
        ("oversized", vec![b' '; 100 * 1024 * 1024]),
        ("corrupt", b"{\"version\": 1, \"pause\": {".to_vec()),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("state")).unwrap();
        std::fs::write(dir.path().join("state/state.json"), &content).unwrap();
        let body = format!(
            "[gateway]\ncommand = [\"sleep\", \"60\"]\n{}",
            common::base_config(dir.path(), "")
        );
        let t = Instant::now();
        let cv = Clawvisor::start_in(dir, &body, &[]);
        wait_for_socket(&cv);
        let st = status(&cv);
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "{what}: {:?}",
            t.elapsed()
        );
        assert_eq!(st["state"], "paused", "{what}: {st}");
        let reason = st["pause"]["reason"].as_str().unwrap();
        let expect = if what == "corrupt" {
            "is corrupt"
        } else {
            "more than the 16777216 a state file may have"
        };
        assert!(
            reason.contains(expect) && reason.contains("kept as"),
            "{reason}"
        );
        // The pause clawvisor saved went to a new state.json; the old content is intact.
        let kept: Vec<_> = std::fs::read_dir(cv.path("state"))
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("state.json.corrupt-")
            })
            .collect();
        assert_eq!(kept.len(), 1, "{what}");
        assert_eq!(std::fs::read(kept[0].path()).unwrap(), content, "{what}");
        // Resuming works and rewrites state.json as a good file.
        let (code, _, err) = ctl(&cv, &["resume"]);
        assert_eq!(code, 0, "{what}: {err}");
        wait_status(&cv, "running", |s| s["state"] == "running");
    }
}

#[test]
fn state_json_is_private() {
    let cv = Clawvisor::start(&["sh", "-c", "echo secret-ish; exit 78"], "");
    wait_for_socket(&cv);
    wait_status(&cv, "paused", |s| s["state"] == "paused");
    assert!(common::eventually(T, || cv
        .path("state/state.json")
        .exists()));
    let mode = |p: &str| std::fs::metadata(cv.path(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("state/state.json"), 0o600);
    assert_eq!(
        mode("state") & 0o007,
        0,
        "the state dir is not world-readable"
    );
}
