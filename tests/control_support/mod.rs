//! Helpers for the control-socket tests: `clawvisor ctl` against a running clawvisor.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{CLAWVISOR, Clawvisor, eventually};

pub const T: Duration = Duration::from_secs(30);

/// The gateway every control test supervises: the fake, on a free port, chatty.
pub fn fake_argv(extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [crate::common::FAKE_GATEWAY, "--port", "0"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

pub fn start(extra_argv: &[&str], extra_config: &str) -> Clawvisor {
    let argv = fake_argv(extra_argv);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let cv = Clawvisor::start(&argv, extra_config);
    wait_for_socket(&cv);
    cv
}

pub fn socket(cv: &Clawvisor) -> PathBuf {
    cv.path("clawvisor.sock")
}

pub fn wait_for_socket(cv: &Clawvisor) {
    assert!(
        eventually(T, || ctl(cv, &["status"]).0 == 0),
        "the control socket never answered"
    );
}

/// `clawvisor ctl --socket <cv's socket> ARGS`: (exit code, stdout, stderr).
pub fn ctl(cv: &Clawvisor, args: &[&str]) -> (i32, String, String) {
    let sock = socket(cv).display().to_string();
    let mut all = vec!["ctl", "--socket", sock.as_str()];
    all.extend_from_slice(args);
    crate::common::run_cli(&all)
}

/// `ctl status --json` parsed.
pub fn status(cv: &Clawvisor) -> serde_json::Value {
    let (code, out, err) = ctl(cv, &["status", "--json"]);
    assert_eq!(code, 0, "status failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("status is not JSON ({e}): {out}"))
}

/// Polls status until `cond` holds; returns that status.
pub fn wait_status(
    cv: &Clawvisor,
    what: &str,
    cond: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    if eventually(T, || {
        last = status(cv);
        cond(&last)
    }) {
        return last;
    }
    panic!("status never became {what}; last: {last}");
}

pub fn running_pid(cv: &Clawvisor) -> i64 {
    let st = wait_status(cv, "running", |s| {
        s["state"] == "running" && s["pid"].is_i64()
    });
    st["pid"].as_i64().unwrap()
}

/// A `clawvisor ctl` left running (streams); killed on drop.
pub struct CtlChild(pub Child);

impl CtlChild {
    pub fn spawn(cv: &Clawvisor, args: &[&str]) -> CtlChild {
        let sock = socket(cv).display().to_string();
        let child = Command::new(CLAWVISOR)
            .args(["ctl", "--socket", sock.as_str()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        CtlChild(child)
    }
}

impl Drop for CtlChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads lines from a pipe on a thread, so a test can wait for one with a timeout.
pub fn line_reader(pipe: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line containing `needle`; returns every line read so far if it never comes.
pub fn wait_line(
    rx: &std::sync::mpsc::Receiver<String>,
    needle: &str,
) -> Result<String, Vec<String>> {
    let deadline = std::time::Instant::now() + T;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) if l.contains(needle) => return Ok(l),
            Ok(l) => seen.push(l),
            Err(_) => break,
        }
    }
    Err(seen)
}
