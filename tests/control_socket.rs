//! `[control] socket`: one clawvisor per socket; a live one is never stolen from.

mod common;
mod control_support;

use common::Clawvisor;
use control_support::*;

#[test]
fn a_second_clawvisor_on_a_live_socket_refuses_to_start() {
    let first = start(&[], "");
    let pid = running_pid(&first);
    // The same config again: same socket.
    let body = std::fs::read_to_string(&first.config_path).unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let mut second = Clawvisor::start_in(other_dir, &body, &[]);
    let st = second.wait_exit(T);
    assert_ne!(st.code(), Some(0), "the second clawvisor must fail");
    assert!(
        !second
            .find("another clawvisor is already running")
            .is_empty(),
        "{:?}",
        second.events()
    );
    assert!(
        second.gateway_pids().is_empty(),
        "the second one spawned a gateway"
    );
    // The first one still owns its socket and its gateway.
    assert!(socket(&first).exists());
    let s = status(&first);
    assert_eq!(
        (s["state"].as_str(), s["pid"].as_i64()),
        (Some("running"), Some(pid))
    );
}

#[test]
fn a_file_that_is_not_a_socket_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("clawvisor.sock");
    std::fs::write(&sock, "not a socket").unwrap();
    let body = format!(
        "[gateway]\ncommand = [{:?}, \"--port\", \"0\"]\n{}",
        common::FAKE_GATEWAY,
        common::base_config(dir.path(), "")
    );
    let mut cv = Clawvisor::start_in(dir, &body, &[]);
    cv.wait_exit(T);
    assert!(!cv.find("is not a socket").is_empty(), "{:?}", cv.events());
    assert_eq!(std::fs::read_to_string(&sock).unwrap(), "not a socket");
}

#[test]
fn a_socket_path_too_long_is_a_config_error_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[control]\nsocket = \"/tmp/{}.sock\"\nmax_clients = 0\n",
            "x".repeat(120)
        ),
    )
    .unwrap();
    let (code, _, err) = common::run_cli(&["check", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("control.socket at"), "{err}");
    assert!(err.contains("at most 107"), "{err}");
    assert!(err.contains("control.max_clients at"), "{err}");
}
