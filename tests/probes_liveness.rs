//! `[probes.liveness]`, `[probes.startup]` and `probes.startup_timeout`: a hang is restarted
//! by liveness; a slow start inside the grace is not; a start that never comes is.

mod common;

use std::time::Duration;

use common::{Clawvisor, FAKE_GATEWAY};

fn free_port() -> String {
    common::free_port().to_string()
}

#[test]
fn a_hang_is_restarted_by_liveness() {
    let port = free_port();
    let cv = Clawvisor::start(
        &[FAKE_GATEWAY, "--port", &port, "--hang-after", "2s"],
        &format!(
            r#"
[probes.liveness]
url = "http://127.0.0.1:{port}/healthz"
period = "250ms"
timeout = "500ms"
failure_threshold = 3
"#
        ),
    );
    cv.wait_for("startup grace over", 1, Duration::from_secs(60));
    let restart = cv.wait_for("failed 3 times in a row", 1, Duration::from_secs(60));
    assert_eq!(restart[0]["source"], "probes.liveness", "{restart:?}");
    assert!(
        common::msg(&restart[0]).contains("no answer within 500ms"),
        "{restart:?}"
    );
    // Restarted: a second gateway started.
    cv.wait_for("gateway started", 2, Duration::from_secs(60));
}

#[test]
fn a_slow_start_inside_the_grace_is_not_restarted() {
    let port = free_port();
    let cv = Clawvisor::start(
        &[FAKE_GATEWAY, "--port", &port, "--startup-delay", "3s"],
        &format!(
            r#"
[probes]
startup_timeout = "60s"
[probes.liveness]
url = "http://127.0.0.1:{port}/healthz"
period = "100ms"
timeout = "200ms"
failure_threshold = 2
"#
        ),
    );
    // Liveness fails many times over (3 s at 100 ms) before the first pass ...
    cv.wait_for("startup grace over", 1, Duration::from_secs(60));
    // ... yet nothing was restarted.
    assert!(
        cv.find("failed 2 times").is_empty(),
        "{:?}",
        cv.find("failed")
    );
    assert_eq!(cv.gateway_pids().len(), 1);
}

#[test]
fn a_start_that_never_comes_is_restarted_at_the_startup_timeout() {
    let port = free_port();
    let cv = Clawvisor::start(
        &[FAKE_GATEWAY, "--port", &port, "--startup-delay", "600s"],
        &format!(
            r#"
[probes]
startup_timeout = "2s"
[probes.startup]
url = "http://127.0.0.1:{port}/startupz"
period = "200ms"
[probes.liveness]
url = "http://127.0.0.1:{port}/healthz"
"#
        ),
    );
    let v = cv.wait_for("probes.startup_timeout (2s)", 1, Duration::from_secs(60));
    assert_eq!(v[0]["source"], "startup", "{v:?}");
    // Restarted: a second gateway started.
    cv.wait_for("gateway started", 2, Duration::from_secs(60));
}

#[test]
fn a_200_html_page_is_not_a_live_gateway() {
    let port = free_port();
    let cv = Clawvisor::start(
        &[FAKE_GATEWAY, "--port", &port],
        &format!(
            r#"
[probes]
startup_timeout = "1s"
[probes.liveness]
url = "http://127.0.0.1:{port}/some-ui-page"
period = "200ms"
failure_threshold = 2
"#
        ),
    );
    let v = cv.wait_for("lacks", 1, Duration::from_secs(60));
    assert!(
        common::msg(&v[0]).contains("200 but the body lacks"),
        "{v:?}"
    );
}
