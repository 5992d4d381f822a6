//! `[control] socket` and `group`: who may use the socket (tests run as root; the other uid
//! is `nobody`, via setpriv).

mod common;
mod control_support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

use control_support::*;

const NOBODY: u32 = 65534;

/// `clawvisor ctl --socket S ARGS` as nobody: (exit code, stdout, stderr).
fn ctl_as_nobody(cv: &common::Clawvisor, args: &[&str]) -> (i32, String, String) {
    let sock = socket(cv).display().to_string();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(common::CLAWVISOR)
        .args(["ctl", "--socket", &sock])
        .args(args)
        .output()
        .expect("setpriv (util-linux) is needed for this test");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Lets nobody reach the socket's directory (temp dirs are 0700).
fn open_dir(cv: &common::Clawvisor) {
    std::fs::set_permissions(cv.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn the_socket_is_mode_0600_and_another_uid_cannot_connect() {
    let cv = start(&[], "");
    let meta = std::fs::metadata(socket(&cv)).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert_eq!(meta.uid(), 0);
    open_dir(&cv);
    let (code, _, err) = ctl_as_nobody(&cv, &["status"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("permission denied"), "{err}");
}

#[test]
fn peer_credentials_refuse_another_uid_even_when_the_file_mode_would_let_it_in() {
    let cv = start(&[], "");
    running_pid(&cv);
    open_dir(&cv);
    // A careless chmod must not open the door: the kernel-reported uid decides.
    std::fs::set_permissions(socket(&cv), std::fs::Permissions::from_mode(0o666)).unwrap();
    let (code, out, err) = ctl_as_nobody(&cv, &["pause", "--reason", "not yours"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("uid 65534 may not use this control socket"),
        "{err}"
    );
    let refused = cv.wait_for("refused a client", 1, T);
    assert_eq!(refused[0]["uid"], NOBODY, "{:?}", refused[0]);
    // Nothing happened, and root still gets through.
    assert_eq!(status(&cv)["state"], "running");
}

#[test]
fn a_configured_group_may_use_the_socket() {
    let cv = start(&[], "group = \"nogroup\"");
    let meta = std::fs::metadata(socket(&cv)).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o660);
    assert_eq!(meta.gid(), NOBODY, "socket owned by the group");
    open_dir(&cv);
    let (code, out, err) = ctl_as_nobody(&cv, &["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"state\""), "{out}");
}

#[test]
fn an_unknown_group_stops_start_up_with_a_clear_error() {
    let mut cv = common::Clawvisor::start(
        &[common::FAKE_GATEWAY, "--port", "0"],
        "group = \"no-such-group-xyz\"",
    );
    let st = cv.wait_exit(T);
    assert_ne!(st.code(), Some(0));
    assert!(
        !cv.find("no-such-group-xyz").is_empty(),
        "{:?}",
        cv.events()
    );
    assert!(cv.gateway_pids().is_empty(), "nothing may be spawned");
}
