//! Relative paths in a config file are relative to the file's directory, wherever clawvisor
//! was started (under systemd its working directory is `/`).

mod common;

use std::time::Duration;

use common::*;

#[test]
fn relative_dirs_and_socket_resolve_next_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("work")).unwrap();
    let body = "[gateway]\ncommand = [\"sh\", \"-c\", \"pwd; sleep 60\"]\ncwd = \"work\"\n[state]\ndir = \"state\"\n[logs]\ndir = \"logs\"\n[control]\nsocket = \"cv.sock\"\n";
    // Started from / (as systemd does), with the config named by an absolute path.
    let cv = Clawvisor::start_in(dir, body, &["sh", "-c", "cd / && exec \"$@\"", "sh"]);
    cv.wait_for("gateway started", 1, Duration::from_secs(30));
    assert!(
        eventually(Duration::from_secs(10), || cv.path("cv.sock").exists()),
        "socket beside the config"
    );
    let sock = cv.path("cv.sock").display().to_string();
    let (code, _, err) = run_cli(&["ctl", "--socket", &sock, "pause", "--reason", "x"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        cv.path("state/state.json").is_file(),
        "state beside the config"
    );
    let work = cv.path("work").canonicalize().unwrap();
    assert!(
        eventually(Duration::from_secs(10), || cv
            .captured_output()
            .contains(&work.display().to_string())),
        "the gateway ran in work/ and its output is in logs/: {}",
        cv.captured_output()
    );
    assert!(!std::path::Path::new("/state").exists() && !std::path::Path::new("/cv.sock").exists());
}
