//! `[state] dir` + `[control]`: a pause made with `ctl pause` outlives clawvisor itself.

mod common;
mod control_support;

use std::time::Duration;

use common::{Clawvisor, alive};
use control_support::*;

#[test]
fn a_pause_survives_sigkill_of_clawvisor_and_only_ctl_resume_starts_the_gateway() {
    let cv = start(&["--print", "last-words-before-pause"], "");
    let pid = running_pid(&cv);
    assert!(common::eventually(T, || ctl(&cv, &["logs"])
        .1
        .contains("last-words-before-pause")));
    let (code, _, err) = ctl(&cv, &["pause", "--reason", "investigating OOM"]);
    assert_eq!(code, 0, "{err}");
    wait_status(&cv, "paused", |s| s["state"] == "paused");
    assert!(common::eventually(T, || !alive(pid as i32)));

    // Kill clawvisor the hard way: no clean-up, the socket file stays behind.
    cv.signal(libc::SIGKILL);
    let sock = socket(&cv);
    let (dir, config) = cv.into_dir();
    assert!(
        sock.exists(),
        "a SIGKILLed clawvisor leaves its socket file"
    );

    // A new clawvisor replaces the stale socket and keeps the pause.
    let cv = Clawvisor::launch(dir, config, &[]);
    wait_for_socket(&cv);
    let st = status(&cv);
    assert_eq!(st["state"], "paused", "{st}");
    assert_eq!(st["pause"]["reason"], "investigating OOM", "{st}");
    assert!(st["pause"]["since"].is_string(), "{st}");
    assert!(
        st["pause"]["last_lines"]
            .to_string()
            .contains("last-words-before-pause"),
        "{st}"
    );
    let (_, table, _) = ctl(&cv, &["status"]);
    assert!(
        table.contains("pause reason   investigating OOM"),
        "{table}"
    );
    assert!(
        table.contains(&format!("clawvisor ctl resume --socket {}", sock.display())),
        "{table}"
    );

    // Held down: give it time in which a restart would have happened, then look.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        cv.gateway_pids().is_empty(),
        "the gateway started while paused"
    );
    assert!(status(&cv)["pid"].is_null());

    let (code, _, err) = ctl(&cv, &["resume"]);
    assert_eq!(code, 0, "{err}");
    let new_pid = running_pid(&cv);
    assert_eq!(cv.gateway_pids(), vec![new_pid as i32]);
    assert!(cv.state_json().is_none_or(|s| s["pause"].is_null()));
}
