//! `[control]`: every `clawvisor ctl` command against the real binary and the fake gateway.

mod common;
mod control_support;

use std::time::Duration;

use common::{alive, eventually};
use control_support::*;

#[test]
fn status_shows_the_running_gateway_in_a_table_and_as_json() {
    let cv = start(&[], "");
    let pid = running_pid(&cv);
    assert!(alive(pid as i32));
    let st = status(&cv);
    assert_eq!(st["restarts"], 0, "{st}");
    assert!(st["uptime_secs"].as_f64().unwrap() >= 0.0, "{st}");
    assert!(st["parts"]["logs"].is_object(), "log stats missing: {st}");
    let (code, out, err) = ctl(&cv, &["status"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("state          running"), "{out}");
    assert!(out.contains(&format!("pid            {pid}")), "{out}");
    assert!(!out.contains("to resume"), "{out}");
}

#[test]
fn pause_holds_the_gateway_down_and_resume_starts_it() {
    let cv = start(&[], "");
    let pid = running_pid(&cv);
    // The pause record keeps the last lines: let the first ones reach the ring buffer.
    assert!(eventually(T, || ctl(&cv, &["logs", "-n", "5"])
        .1
        .contains("listening")));

    let (code, out, err) = ctl(&cv, &["pause", "--reason", "swapping the GPU"]);
    assert_eq!((code, out.trim()), (0, "paused"), "{err}");
    let st = wait_status(&cv, "paused", |s| s["state"] == "paused");
    assert_eq!(st["pause"]["reason"], "swapping the GPU");
    assert!(st["pid"].is_null(), "{st}");
    assert!(
        eventually(T, || !alive(pid as i32)),
        "the gateway was not stopped"
    );
    let sock = socket(&cv).display().to_string();
    assert_eq!(
        st["resume_hint"],
        format!("clawvisor ctl resume --socket {sock}"),
        "{st}"
    );
    let saved = cv.state_json().expect("state.json written");
    assert_eq!(saved["pause"]["reason"], "swapping the GPU", "{saved}");

    // The table says why, since when, and the exact command that resumes it.
    let (_, table, _) = ctl(&cv, &["status"]);
    for needle in [
        "state          paused",
        "pause reason   swapping the GPU",
        "paused since",
        "last lines     | ",
        &format!("to resume      clawvisor ctl resume --socket {sock}"),
    ] {
        assert!(table.contains(needle), "{needle:?} missing from:\n{table}");
    }

    // While paused, start and restart are refused (exit 1), saying how to resume.
    for cmd in ["start", "restart"] {
        let (code, _, err) = ctl(&cv, &[cmd]);
        assert_eq!(code, 1, "{cmd} while paused: {err}");
        // The hint is the pasteable command: this binary, this config, `resume`.
        assert!(err.contains(" ctl ") && err.contains(" resume`"), "{err}");
    }
    let (code, _, err) = ctl(&cv, &["pause"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("already paused"), "{err}");

    let (code, out, err) = ctl(&cv, &["resume"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("resumed"), "{out}");
    let new_pid = running_pid(&cv);
    assert_ne!(new_pid, pid);
    assert!(status(&cv)["pause"].is_null());
    assert!(cv.state_json().is_none_or(|s| s["pause"].is_null()));
    let (code, _, err) = ctl(&cv, &["resume"]);
    assert_eq!(code, 1, "resume when not paused: {err}");
}

#[test]
fn restart_stop_and_start_drive_the_child() {
    let cv = start(&[], "[stop]\ntimeout = \"5s\"");
    let first = running_pid(&cv);

    let (code, out, err) = ctl(&cv, &["restart"]);
    assert_eq!((code, out.trim()), (0, "restarting"), "{err}");
    let second = wait_status(&cv, "a new pid", |s| {
        s["state"] == "running" && s["pid"].is_i64() && s["pid"] != first
    })["pid"]
        .as_i64()
        .unwrap();
    assert!(eventually(T, || !alive(first as i32)));

    let (code, out, err) = ctl(&cv, &["stop"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("stays down"), "{out}");
    let st = wait_status(&cv, "stopped", |s| {
        s["pid"].is_null() && s["state"] != "stopping"
    });
    assert!(eventually(T, || !alive(second as i32)));
    assert_ne!(st["state"], "running", "{st}");
    // It stays down: no new gateway appears by itself.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(status(&cv)["pid"].is_null());
    let (code, _, err) = ctl(&cv, &["stop"]);
    assert_eq!(code, 1, "stop while stopped: {err}");

    let (code, _, err) = ctl(&cv, &["start"]);
    assert_eq!(code, 0, "{err}");
    let third = running_pid(&cv);
    assert!(![first, second].contains(&third));
    let (code, _, err) = ctl(&cv, &["start"]);
    assert_eq!(code, 1, "start while running: {err}");
    assert!(err.contains("already running"), "{err}");
}

#[test]
fn signal_reaches_the_gateway_and_bad_names_are_usage_errors() {
    let cv = start(&[], "");
    let pid = running_pid(&cv);
    let (code, out, err) = ctl(&cv, &["signal", "hup"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("SIGHUP"), "{out}");
    assert!(
        eventually(T, || ctl(&cv, &["logs", "-n", "100"])
            .1
            .contains("received SIGHUP")),
        "the gateway never logged the signal"
    );
    assert_eq!(running_pid(&cv), pid, "HUP must not restart the fake");

    let (code, _, err) = ctl(&cv, &["signal", "BOGUS"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a signal name"), "{err}");
}

#[test]
fn logs_tail_filters_by_stream_and_follows() {
    let cv = start(
        &[
            "--print",
            "hello-out-marker",
            "--print-err",
            "hello-err-marker",
            "--log-rate",
            "20",
        ],
        "",
    );
    running_pid(&cv);
    assert!(eventually(T, || {
        let out = ctl(&cv, &["logs", "-n", "1000"]).1;
        out.contains("hello-out-marker")
            && out
                .lines()
                .any(|l| l.starts_with("[err] ") && l.contains("hello-err-marker"))
    }));
    let (code, out, _) = ctl(&cv, &["logs", "-n", "1000", "--stream", "err"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("hello-err-marker") && !out.contains("hello-out-marker"),
        "{out}"
    );
    assert!(
        !out.contains("[err]"),
        "a single stream needs no marks: {out}"
    );
    let (_, out, _) = ctl(&cv, &["logs", "-n", "3", "--stream", "out"]);
    assert_eq!(out.lines().count(), 3, "{out}");
    let (_, json, _) = ctl(&cv, &["logs", "-n", "2", "--json"]);
    for l in json.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["stream"].is_string() && v["text"].is_string(), "{l}");
    }

    // --follow prints lines written after it started.
    let mut follow = CtlChild::spawn(&cv, &["logs", "-n", "0", "--follow", "--json"]);
    let rx = line_reader(follow.0.stdout.take().unwrap());
    // The fake's steady chatter shows the subscription is live before we make a new line.
    wait_line(&rx, "\"stream\"").unwrap_or_else(|seen| panic!("follow printed nothing: {seen:?}"));
    let (code, _, err) = ctl(&cv, &["signal", "HUP"]);
    assert_eq!(code, 0, "{err}");
    let line = wait_line(&rx, "received SIGHUP")
        .unwrap_or_else(|seen| panic!("follow never showed the new line; saw {seen:?}"));
    assert!(line.starts_with('{'), "{line}");
}

#[test]
fn events_stream_state_changes() {
    let cv = start(&[], "");
    let first = running_pid(&cv);
    let mut events = CtlChild::spawn(&cv, &["events", "--json"]);
    let out = line_reader(events.0.stdout.take().unwrap());
    let err = line_reader(events.0.stderr.take().unwrap());
    wait_line(&err, "watching events").unwrap_or_else(|e| panic!("no subscription: {e:?}"));
    assert_eq!(ctl(&cv, &["restart"]).0, 0);
    let stopping = wait_line(&out, "\"stopping\"").unwrap_or_else(|e| panic!("{e:?}"));
    let notice: serde_json::Value = serde_json::from_str(&stopping).unwrap();
    assert!(
        notice["at"].is_string() && notice["kind"].is_string(),
        "{notice}"
    );
    wait_line(&out, "\"running\"").unwrap_or_else(|e| panic!("{e:?}"));
    assert_ne!(running_pid(&cv), first);
}

#[test]
fn rotate_and_reload_answer() {
    let cv = start(&[], "");
    running_pid(&cv);
    let (code, out, err) = ctl(&cv, &["rotate"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rotated"), "{out}");
    let (code, out, err) = ctl(&cv, &["reload", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["type"], "ok", "{v}");
}

#[test]
fn the_config_path_finds_the_socket_too() {
    let cv = start(&[], "");
    let cfg = cv.config_path.display().to_string();
    let (code, out, err) = common::run_cli(&["ctl", "--config", &cfg, "status", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"state\""), "{out}");
    let (code, _, err) = common::run_cli(&["ctl", "--config", "/nonexistent/c.toml", "status"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/c.toml"), "{err}");
}

#[test]
fn shutdown_exits_clawvisor_removes_the_socket_and_then_ctl_says_unreachable() {
    let mut cv = start(&[], "");
    let pid = running_pid(&cv);
    let (code, out, err) = ctl(&cv, &["shutdown"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("shutting down"), "{out}");
    let st = cv.wait_exit(T);
    assert_eq!(st.code(), Some(0), "clawvisor exit status");
    assert!(!alive(pid as i32), "the gateway outlived clawvisor");
    assert!(!socket(&cv).exists(), "socket file left behind");
    let (code, _, err) = ctl(&cv, &["status"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("not reachable"), "{err}");
}
