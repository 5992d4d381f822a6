//! Type=notify: READY=1 once the gateway runs, STATUS= on state changes, WATCHDOG=1 pings,
//! STOPPING=1 at exit; and the notify socket is never passed to the gateway.

mod common;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn notifies_ready_status_watchdog_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let env_out = dir.path().join("env.txt");
    let config = format!(
        "[gateway]\ncommand = [\"{FAKE_GATEWAY}\", \"--port\", \"0\", \"--env-dump\", \"{}\"]\n{}",
        env_out.display(),
        base_config(dir.path(), "")
    );
    let cfg_path = dir.path().join("c.toml");
    std::fs::write(&cfg_path, config).unwrap();
    let mut child = std::process::Command::new(CLAWVISOR)
        .args(["run", "--config", &cfg_path.display().to_string()])
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "200000")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        if got.iter().filter(|m| m.contains("WATCHDOG=1")).count() >= 3
            && got.iter().any(|m| m.contains("READY=1"))
        {
            break;
        }
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        if got.iter().any(|m| m.contains("STOPPING=1")) {
            break;
        }
    }
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(0));
    let all = got.join("\n");
    assert!(all.contains("READY=1"), "{all}");
    assert!(all.contains("STATUS=running: pid "), "{all}");
    assert!(
        got.iter().filter(|m| m.contains("WATCHDOG=1")).count() >= 3,
        "{all}"
    );
    assert!(all.contains("STOPPING=1"), "{all}");
    let env = std::fs::read_to_string(&env_out).unwrap();
    assert!(
        !env.contains("NOTIFY_SOCKET") && !env.contains("WATCHDOG_USEC"),
        "{env}"
    );
}

#[test]
fn with_a_readiness_probe_ready_waits_for_it_to_pass() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let port = free_port().to_string();
    let extra = format!(
        "[probes.readiness]\nurl = \"http://127.0.0.1:{port}/readyz\"\nperiod = \"100ms\"\n"
    );
    let config = format!(
        "[gateway]\ncommand = [\"{FAKE_GATEWAY}\", \"--port\", \"{port}\", \"--ready-delay\", \"1500ms\"]\n{}",
        base_config(dir.path(), &extra)
    );
    let cfg_path = dir.path().join("c.toml");
    std::fs::write(&cfg_path, config).unwrap();
    let t0 = Instant::now();
    let mut child = std::process::Command::new(CLAWVISOR)
        .args(["run", "--config", &cfg_path.display().to_string()])
        .env("NOTIFY_SOCKET", &sock_path)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 4096];
    let mut running_at = None;
    let mut ready_at = None;
    while t0.elapsed() < Duration::from_secs(30) && ready_at.is_none() {
        if let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            if msg.contains("STATUS=running") && running_at.is_none() {
                running_at = Some(t0.elapsed());
            }
            if msg.contains("READY=1") {
                ready_at = Some(t0.elapsed());
            }
        }
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    let (running, ready) = (
        running_at.expect("STATUS=running"),
        ready_at.expect("READY=1"),
    );
    assert!(
        ready >= running + Duration::from_millis(1200),
        "READY=1 at {ready:?}, running at {running:?}: not gated by /readyz"
    );
}
