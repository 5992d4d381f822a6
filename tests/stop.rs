//! `[stop]`: graceful stop, SIGKILL after the timeout, the whole tree, exit codes.

mod common;

use std::time::{Duration, Instant};

use common::*;

const T: Duration = Duration::from_secs(30);

#[test]
fn sigterm_stops_the_child_and_exits_with_its_code() {
    let mut cv = Clawvisor::start(&[FAKE_GATEWAY, "--port", "0"], "");
    cv.wait_for("gateway started", 1, T);
    let pid = cv.gateway_pids()[0];
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cv.stop().code(), Some(0));
    assert!(!alive(pid));
    assert!(
        cv.captured_output().contains("received SIGTERM"),
        "the child saw TERM"
    );
}

#[test]
fn exit_code_of_the_child_is_passed_on() {
    let mut cv = Clawvisor::start(
        &[
            "sh",
            "-c",
            "trap 'exit 7' TERM; while :; do sleep 0.05; done",
        ],
        "",
    );
    cv.wait_for("gateway started", 1, T);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cv.stop().code(), Some(7));
}

#[test]
fn ignored_term_gets_sigkill_after_the_timeout() {
    let mut cv = Clawvisor::start(
        &[FAKE_GATEWAY, "--port", "0", "--ignore-term"],
        "[stop]\ntimeout = \"1s\"\n",
    );
    cv.wait_for("gateway started", 1, T);
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    cv.signal(libc::SIGTERM);
    let st = cv.wait_exit(T);
    let took = t0.elapsed();
    assert_eq!(st.code(), Some(128 + libc::SIGKILL));
    assert!(
        took >= Duration::from_millis(950),
        "waited the timeout: {took:?}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(cv.find("sending SIGKILL").len(), 1);
}

#[test]
fn setsid_grandchild_is_killed_on_stop() {
    let mut cv = Clawvisor::start(&[FAKE_GATEWAY, "--port", "0", "--spawn-setsid-child"], "");
    cv.wait_for("gateway started", 1, T);
    let mut grandchild = None;
    assert!(eventually(T, || {
        grandchild = cv.captured_output().lines().find_map(|l| {
            l.split("grandchild pid=")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<i32>()
                .ok()
        });
        grandchild.is_some()
    }));
    let grandchild = grandchild.unwrap();
    assert!(alive(grandchild));
    let gateway = cv.gateway_pids()[0];
    // The grandchild calls setsid() first thing after its exec: give it that moment.
    assert!(
        eventually(T, || {
            let stat = std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap();
            !stat.contains(&format!(" {gateway} {gateway} "))
        }),
        "grandchild is in its own session"
    );
    cv.stop();
    assert!(
        eventually(Duration::from_secs(5), || !alive(grandchild)),
        "setsid grandchild {grandchild} survived"
    );
}

#[test]
fn sigkilled_clawvisor_leaves_no_orphan_gateway() {
    let mut cv = Clawvisor::start(&[FAKE_GATEWAY, "--port", "0", "--ignore-term"], "");
    cv.wait_for("gateway started", 1, T);
    let pid = cv.gateway_pids()[0];
    assert!(alive(pid));
    cv.signal(libc::SIGKILL);
    cv.wait_exit(T);
    assert!(
        eventually(Duration::from_secs(2), || !alive(pid)),
        "gateway {pid} outlived a SIGKILLed clawvisor"
    );
}

#[test]
fn stop_during_backoff_exits_at_once() {
    let mut cv = Clawvisor::start(
        &["sh", "-c", "exit 1"],
        "[restart.backoff]\ninitial = \"30s\"\n",
    );
    cv.wait_for("gateway failed", 1, T);
    let t0 = Instant::now();
    assert_eq!(cv.stop().code(), Some(0));
    assert!(t0.elapsed() < Duration::from_secs(5));
}
