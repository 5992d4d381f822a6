//! `Type=notify` start job: READY=1 once the gateway is ready, or at once when clawvisor
//! settles paused (a persisted pause at boot, a crash loop); EXTEND_TIMEOUT_USEC while the
//! gateway loads; `[systemd] ready = "clawvisor"`. Against a NOTIFY_SOCKET receiver.

mod common;
mod control_support;
mod notify_support;

use std::time::Duration;

use common::{Clawvisor, FAKE_GATEWAY, base_config, toml_argv};
use control_support::*;
use notify_support::{NotifyReceiver, has};

/// Starts clawvisor under `NOTIFY_SOCKET` with `[gateway] command = argv` plus `extra`.
fn start_notified(argv: &[&str], extra: &str) -> (Clawvisor, NotifyReceiver) {
    let dir = tempfile::tempdir().unwrap();
    let rx = NotifyReceiver::bind(dir.path());
    let body = format!(
        "[gateway]\ncommand = {}\n{}",
        toml_argv(argv),
        base_config(dir.path(), extra)
    );
    let env = rx.env();
    let cv = Clawvisor::start_in(dir, &body, &["env", &env]);
    (cv, rx)
}

#[test]
fn a_pause_persisted_by_an_earlier_run_sends_ready_within_a_second() {
    // The earlier run: paused by a person, then clawvisor stopped.
    let mut cv = start(&[], "");
    running_pid(&cv);
    let (code, _, err) = ctl(&cv, &["pause", "--reason", "look at the GPU first"]);
    assert_eq!(code, 0, "{err}");
    wait_status(&cv, "paused", |s| s["state"] == "paused");
    assert_eq!(cv.stop().code(), Some(0));
    let (dir, config) = cv.into_dir();

    // The next boot, under systemd.
    let mut rx = NotifyReceiver::bind(dir.path());
    let env = rx.env();
    let cv = Clawvisor::launch(dir, config, &["env", &env]);
    let ok = rx.until(Duration::from_secs(10), |_| {}, |g| has(g, "READY=1"));
    let dump = rx.dump();
    assert!(ok, "no READY=1:\n{dump}");
    let (at, msg) = rx.first("READY=1").unwrap();
    assert!(
        *at < Duration::from_secs(1),
        "READY=1 after {at:?}:\n{dump}"
    );
    assert!(
        msg.contains("STATUS=paused: look at the GPU first")
            && msg.contains("resume with `")
            && msg.contains(" resume`"),
        "{dump}"
    );
    assert_eq!(rx.count("EXTEND_TIMEOUT_USEC"), 0, "{dump}");
    assert!(cv.gateway_pids().is_empty(), "started while paused");
}

#[test]
fn a_gateway_that_loads_long_gets_extensions_then_ready_soon_after_it_answers() {
    // Only the completion probe, with its default 5-minute period: the start-up cadence
    // must still see the gateway ready within seconds of its first answer.
    let port = free_port_s();
    let delay = 5.0;
    let (cv, mut rx) = start_notified(
        &[FAKE_GATEWAY, "--port", &port, "--startup-delay", "5s"],
        &format!("[probes.completion]\nurl = \"http://127.0.0.1:{port}/v1/chat/completions\"\n"),
    );
    wait_for_socket(&cv);
    // While it loads: the probe says so in plain words.
    let mut loading_line = String::new();
    assert!(
        common::eventually(Duration::from_secs(4), || {
            loading_line = ctl(&cv, &["status"]).1;
            loading_line.contains("starting (no answer yet: connection refused)")
        }),
        "{loading_line}"
    );
    assert!(
        loading_line.contains("running, not ready yet"),
        "{loading_line}"
    );
    let mut answering_at = None;
    let ok = rx.until(
        Duration::from_secs(40),
        |t| {
            if answering_at.is_none()
                && std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).is_ok()
            {
                answering_at = Some(t);
            }
        },
        |g| has(g, "READY=1"),
    );
    let dump = rx.dump();
    assert!(ok, "no READY=1:\n{dump}");
    let answering = answering_at.expect("the gateway never listened");
    let (ready, ready_msg) = rx.first("READY=1").unwrap().clone();
    let (extend, _) = rx.first("EXTEND_TIMEOUT_USEC=").expect(&dump).clone();
    assert!(extend < ready, "no extension before READY=1:\n{dump}");
    assert!(
        answering >= Duration::from_secs_f64(delay - 1.0),
        "answered at {answering:?}"
    );
    assert!(
        ready < answering + Duration::from_secs(5),
        "READY=1 at {ready:?}, {:?} after the gateway answered:\n{dump}",
        ready - answering
    );
    assert!(ready_msg.contains("STATUS=running: pid "), "{dump}");
    assert!(ready_msg.contains("ready"), "{dump}");
    assert!(
        rx.got
            .iter()
            .any(|(t, m)| *t < ready && m.contains("loading") && m.contains("not ready yet")),
        "no loading STATUS before READY=1:\n{dump}"
    );
    let (_, table, _) = ctl(&cv, &["status"]);
    assert!(table.contains("running, ready"), "{table}");
    assert!(table.contains("latest check took"), "{table}");
}

#[test]
fn a_crash_loop_sends_ready_once_paused() {
    let (cv, mut rx) = start_notified(
        &[
            FAKE_GATEWAY,
            "--port",
            "0",
            "--startup-delay",
            "10s",
            "--exit-after",
            "200ms",
        ],
        // A probe decides readiness (it never passes: the gateway dies first).
        &format!(
            "[restart]\nmax_restarts = 2\n[restart.backoff]\ninitial = \"100ms\"\nmultiplier = 1.0\n\
             [probes.liveness]\nurl = \"http://127.0.0.1:{}/healthz\"\n",
            common::free_port()
        ),
    );
    let ok = rx.until(Duration::from_secs(40), |_| {}, |g| has(g, "READY=1"));
    let dump = rx.dump();
    assert!(ok, "no READY=1:\n{dump}");
    let (ready, msg) = rx.first("READY=1").unwrap();
    assert!(
        msg.contains("STATUS=paused: crash loop")
            && msg.contains(" ctl --config ")
            && msg.contains(" resume`"),
        "{dump}"
    );
    let (extend, _) = rx.first("EXTEND_TIMEOUT_USEC=").expect(&dump);
    assert!(extend < ready, "{dump}");
    assert!(
        rx.got
            .iter()
            .any(|(t, m)| t < ready && m.contains("STATUS=backoff")),
        "{dump}"
    );
    assert_eq!(rx.count("READY=1"), 1, "{dump}");
    drop(cv);
}

#[test]
fn ready_clawvisor_sends_ready_at_once_while_the_gateway_still_loads() {
    let port = free_port_s();
    let (_cv, mut rx) = start_notified(
        &[FAKE_GATEWAY, "--port", &port, "--startup-delay", "30s"],
        &format!(
            "[systemd]\nready = \"clawvisor\"\n[probes.liveness]\nurl = \"http://127.0.0.1:{port}/healthz\"\n"
        ),
    );
    let ok = rx.until(
        Duration::from_secs(10),
        |_| {},
        |g| has(g, "READY=1") && has(g, "loading"),
    );
    let dump = rx.dump();
    assert!(ok, "{dump}");
    let (at, _) = rx.first("READY=1").unwrap();
    assert!(*at < Duration::from_secs(3), "{dump}");
    assert_eq!(rx.count("EXTEND_TIMEOUT_USEC"), 0, "{dump}");
    // STATUS= still says the gateway is loading.
    let (loading, _) = rx.first("loading").unwrap();
    assert!(loading < &Duration::from_secs(3), "{dump}");
}

#[test]
fn past_the_startup_grace_ready_goes_out_anyway_and_says_why() {
    let port = free_port_s();
    let (_cv, mut rx) = start_notified(
        &[FAKE_GATEWAY, "--port", &port, "--startup-delay", "60s"],
        &format!(
            "[probes]\nstartup_timeout = \"3s\"\n[probes.liveness]\nurl = \"http://127.0.0.1:{port}/healthz\"\n"
        ),
    );
    let ok = rx.until(Duration::from_secs(30), |_| {}, |g| has(g, "READY=1"));
    let dump = rx.dump();
    assert!(ok, "{dump}");
    let (at, _) = rx.first("READY=1").unwrap();
    assert!(*at >= Duration::from_secs(3), "{dump}");
    let (first_extend, _) = rx.first("EXTEND_TIMEOUT_USEC=").expect(&dump);
    assert!(first_extend < at, "{dump}");
    assert!(
        !rx.got
            .iter()
            .any(|(t, m)| t > at && m.contains("EXTEND_TIMEOUT_USEC")),
        "{dump}"
    );
}

fn free_port_s() -> String {
    common::free_port().to_string()
}
