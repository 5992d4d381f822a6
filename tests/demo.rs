//! The README's demo command works: the fake gateway crashes, backs off and restarts.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

#[test]
fn demo_shows_a_crash_a_backoff_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let err_path = dir.path().join("demo.stderr");
    let mut child = Command::new(CLAWVISOR)
        .args(["--log-format", "json", "demo", "--dir"])
        .arg(dir.path().join("demo"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let read = || std::fs::read_to_string(&err_path).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(40);
    let restarted = loop {
        let log = read();
        let failed = log.find("gateway failed");
        let restarted = failed.is_some_and(|at| log[at..].contains("gateway started"));
        if restarted || Instant::now() > deadline {
            break restarted;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let st = child.wait().unwrap();
    let log = read();
    assert!(restarted, "no crash and restart within 40s:\n{log}");
    assert!(log.contains("restart 1 in"), "backoff shown:\n{log}");
    assert_eq!(st.code(), Some(0), "{log}");
    assert!(dir.path().join("demo/logs").is_dir());
}
