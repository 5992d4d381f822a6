//! `ctl pause --reason`: the operator's reason stands while the gateway stops, even when a
//! second pause arrives meanwhile.

mod common;

use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(30);

#[test]
fn a_second_pause_during_the_stop_keeps_the_operators_reason() {
    // A gateway that ignores SIGTERM keeps the first pause in its stop for 5 s.
    let cv = Clawvisor::start(
        &["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"],
        "[stop]\ntimeout = \"5s\"\n",
    );
    cv.wait_for("gateway started", 1, T);
    let sock = cv.path("clawvisor.sock").display().to_string();
    let ctl = |args: &[&str]| {
        let mut all = vec!["ctl", "--socket", sock.as_str()];
        all.extend_from_slice(args);
        run_cli(&all)
    };
    let (code, _, err) = ctl(&["pause", "--reason", "swapping the GPU"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = ctl(&["pause"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("already pausing") && err.contains("swapping the GPU"),
        "{err}"
    );
    let (code, _, _) = ctl(&["pause", "--reason", "someone else"]);
    assert_eq!(code, 1);
    cv.wait_for("-> paused", 1, T);
    let (_, out, _) = ctl(&["status", "--json"]);
    let st: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(st["pause"]["reason"], "swapping the GPU", "{st}");
    assert_eq!(
        cv.state_json().unwrap()["pause"]["reason"],
        "swapping the GPU"
    );
}
