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
