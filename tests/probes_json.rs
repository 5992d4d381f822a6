//! Probe expectations read JSON as JSON: compact, spaced and reordered bodies all pass the
//! default checks; a field with the wrong value fails them; `expect_json` checks a user's own
//! fields.

mod common;
mod control_support;

use std::time::Duration;

use common::{Clawvisor, FAKE_GATEWAY};
use control_support::{T, ctl, status, wait_for_socket};

fn start(style: &str, extra: &str) -> Clawvisor {
    let port = common::free_port().to_string();
    let cv = Clawvisor::start(
        &[FAKE_GATEWAY, "--port", &port, "--json-style", style],
        &format!(
            "[probes.liveness]\nurl = \"http://127.0.0.1:{port}/healthz\"\nperiod = \"200ms\"\n\
             [probes.readiness]\nurl = \"http://127.0.0.1:{port}/readyz\"\nperiod = \"200ms\"\n{extra}"
        ),
    );
    wait_for_socket(&cv);
    cv
}

#[test]
fn compact_spaced_and_reordered_json_bodies_are_ready() {
    let all: Vec<(&str, Clawvisor)> = ["compact", "spaced", "reordered"]
        .into_iter()
        .map(|s| (s, start(s, "")))
        .collect();
    for (style, cv) in &all {
        let mut st = serde_json::Value::Null;
        let ready = common::eventually(T, || {
            st = status(cv);
            st["ready"] == true && st["parts"]["probes.liveness"]["state"] == "ok"
        });
        assert!(ready, "{style}: {st:#}");
    }
}

#[test]
fn a_json_field_with_the_wrong_value_fails_and_says_which() {
    let cv = start("wrong-value", "");
    let mut table = String::new();
    let seen = common::eventually(T, || {
        table = ctl(&cv, &["status"]).1;
        table.contains(r#"HTTP 200 but "ready" is false, not true"#)
            && table.contains(r#"HTTP 200 but "ok" is false, not true"#)
    });
    assert!(seen, "{table}");
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(status(&cv)["ready"], false);
}

#[test]
fn expect_json_checks_the_users_own_fields() {
    let port = common::free_port().to_string();
    let cv = Clawvisor::start(
        &[FAKE_GATEWAY, "--port", &port, "--json-style", "spaced"],
        &format!(
            "[probes.readiness]\nurl = \"http://127.0.0.1:{port}/healthz\"\nperiod = \"200ms\"\n\
             expect_json = {{ status = \"live\", ok = true }}\n\
             [probes.liveness]\nurl = \"http://127.0.0.1:{port}/healthz\"\nperiod = \"200ms\"\n\
             on_failure = \"alert\"\nexpect_json = {{ status = \"dead\" }}\n"
        ),
    );
    wait_for_socket(&cv);
    let mut st = serde_json::Value::Null;
    let ok = common::eventually(T, || {
        st = status(&cv);
        st["ready"] == true
            && st["parts"]["probes.liveness"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains(r#""status" is "live", not "dead""#))
    });
    assert!(ok, "{st:#}");
}
