//! `[[alerts.webhook]]`: every preset as its receiver reads it, retries on 500 and 429
//! (Retry-After honoured), no retry on 400, a closed port counted as failures, and
//! `[alerts]` checks in `clawvisor check`. Receivers are real HTTP servers started here.

mod alerts_support;
mod common;
mod control_support;

use std::time::Duration;

use alerts_support::{Recorder, Reply, closed_port};
use control_support::{T, ctl, start, status, wait_status};
use serde_json::Value;

fn channel<'a>(st: &'a Value, name: &str) -> &'a Value {
    st["parts"]["alerts"]["channels"]
        .as_array()
        .unwrap_or_else(|| panic!("no alerts.channels in status: {st}"))
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no channel {name}: {st}"))
}

fn show(name: &str, r: &alerts_support::Received) {
    let mut headers: Vec<_> = r.headers.iter().collect();
    headers.sort();
    eprintln!("===== {name}: {} {}", r.method, r.path);
    for (k, v) in headers {
        if !matches!(k.as_str(), "host" | "accept" | "content-length") {
            eprintln!("{k}: {v}");
        }
    }
    eprintln!("\n{}\n", r.text());
}

#[test]
fn each_preset_reaches_its_receiver_with_retries_only_where_they_can_help() {
    let json = Recorder::start(vec![Reply::status(200)]);
    let slack = Recorder::start(vec![Reply::status(500), Reply::status(200).with_body("ok")]);
    let discord = Recorder::start(vec![
        Reply::status(429).with_header("Retry-After", "1"),
        Reply::status(204),
    ]);
    let gotify = Recorder::start(vec![Reply::status(200)]);
    let ntfy = Recorder::start(vec![Reply::status(200)]);
    let rejected = Recorder::start(vec![Reply::status(400).with_body("invalid_payload")]);
    let down = closed_port();

    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "tok-123\n").unwrap();
    let config = format!(
        r#"
[alerts]
group_wait = "1s"
attempts = 3
host = "gw-box"

[[alerts.webhook]]
name = "json"
kinds = ["pause"]
url = "{json}"
format = "json"
token_file = "{token}"
headers = {{ X-Team = "ops" }}

[[alerts.webhook]]
name = "slack"
kinds = ["pause"]
url = "{slack}"
format = "slack"

[[alerts.webhook]]
name = "discord"
kinds = ["pause"]
url = "{discord}"
format = "discord"

[[alerts.webhook]]
name = "gotify"
kinds = ["pause"]
url = "{gotify}"
format = "gotify"

[[alerts.webhook]]
name = "ntfy"
kinds = ["pause"]
url = "{ntfy}"
format = "ntfy"

[[alerts.webhook]]
name = "rejected"
kinds = ["pause"]
url = "{rejected}"

[[alerts.webhook]]
name = "down"
kinds = ["pause"]
url = "http://127.0.0.1:{down}/hooks/SECRET-IN-URL"
timeout = "2s"
"#,
        json = json.url("/alert"),
        token = token.display(),
        slack = slack.url("/services/T000/B000/XXXX"),
        discord = discord.url("/api/webhooks/1/abc"),
        gotify = gotify.url("/message"),
        ntfy = ntfy.url("/clawvisor-alerts"),
        rejected = rejected.url("/bad"),
    );
    let cv = start(&["--print", "a line before the pause"], &config);
    wait_status(&cv, "running", |s| s["state"] == "running");
    let (code, _, err) = ctl(&cv, &["pause", "--reason", "maintenance window"]);
    assert_eq!(code, 0, "{err}");

    // json: one POST with the documented schema, the bearer token and the extra header.
    let r = &json.wait_for(1, T)[0];
    show("json", r);
    assert_eq!(r.method, "POST");
    assert_eq!(r.headers["authorization"], "Bearer tok-123");
    assert_eq!(r.headers["x-team"], "ops");
    assert_eq!(r.headers["content-type"], "application/json");
    let v = r.json();
    assert_eq!(v["version"], "1");
    assert_eq!(v["status"], "firing");
    assert_eq!(v["kind"], "pause");
    assert_eq!(v["severity"], "critical");
    assert_eq!(v["host"], "gw-box");
    assert_eq!(v["reason"], "maintenance window");
    assert_eq!(
        v["resume_command"],
        // The exact command: this binary, this config.
        format!(
            "{} ctl --config {} resume",
            common::CLAWVISOR,
            cv.config_path.display()
        )
    );
    assert!(
        v["last_lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("a line before the pause")),
        "{v}"
    );

    // slack: 500, then retried and delivered.
    let s = slack.wait_for(2, T);
    show("slack", &s[1]);
    let text = s[1].json()["text"].as_str().unwrap().to_string();
    assert!(
        text.starts_with("*[gw-box] FIRING pause (gateway)"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "resume with: {} ctl --config {} resume",
            common::CLAWVISOR,
            cv.config_path.display()
        )),
        "{text}"
    );

    // discord: 429 with Retry-After: 1 is honoured.
    let d = discord.wait_for(2, T);
    show("discord", &d[1]);
    let waited = d[1].at - d[0].at;
    assert!(
        waited >= Duration::from_millis(900),
        "retried after {waited:?}"
    );
    let content = d[1].json()["content"].as_str().unwrap().to_string();
    assert!(content.chars().count() <= 2000);
    assert!(content.contains("maintenance window"));

    // gotify and ntfy presets.
    let g = &gotify.wait_for(1, T)[0];
    show("gotify", g);
    let gv = g.json();
    assert!(gv["title"].as_str().unwrap().contains("FIRING pause"));
    assert!(
        gv["message"]
            .as_str()
            .unwrap()
            .contains("maintenance window")
    );
    assert_eq!(gv["priority"], 8);
    let n = &ntfy.wait_for(1, T)[0];
    show("ntfy", n);
    assert!(n.headers["title"].starts_with("[gw-box] FIRING pause"));
    assert_eq!(n.headers["priority"], "5");
    assert!(n.headers["tags"].contains("rotating_light"));
    assert!(n.text().contains("maintenance window") && n.body.len() <= 4096);

    // 400: not retried; a closed port: retried, then counted as failed. Neither leaks a URL.
    let st = wait_status(&cv, "every channel settled", |s| {
        channel(s, "down")["failed"] == 1 && channel(s, "rejected")["failed"] == 1
    });
    assert_eq!(rejected.requests().len(), 1, "a 400 is not retried");
    let rj = channel(&st, "rejected");
    assert_eq!(rj["retries"], 0);
    assert!(rj["last_error"].as_str().unwrap().contains("400"), "{rj}");
    let dn = channel(&st, "down");
    assert_eq!(dn["retries"], 2, "{dn}");
    assert_eq!(dn["sent"], 0);
    assert!(dn["last_error_at"].is_string());
    assert!(
        !st.to_string().contains("SECRET-IN-URL"),
        "a URL leaked: {st}"
    );
    assert!(
        !st.to_string().contains("tok-123"),
        "the token leaked: {st}"
    );
    let sl = channel(&st, "slack");
    assert_eq!(
        (sl["sent"].as_u64(), sl["retries"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(sl["last_success"].is_string(), "{sl}");
    assert_eq!(channel(&st, "json")["kind"], "webhook:json");
    let (_, text, _) = ctl(&cv, &["status"]);
    assert!(text.contains("json: 1 sent, 0 failed, 0 dropped"), "{text}");

    // Resume: exactly one recovery per working channel.
    let (code, _, err) = ctl(&cv, &["resume"]);
    assert_eq!(code, 0, "{err}");
    let r = json.wait_for(2, T);
    show("json (recovery)", &r[1]);
    let v = r[1].json();
    assert_eq!(v["status"], "resolved");
    assert_eq!(v["fingerprint"], r[0].json()["fingerprint"]);
    assert!(v["resolved_at"].is_string());
    gotify.wait_for(2, T);
    ntfy.wait_for(2, T);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(json.requests().len(), 2, "one pause, one recovery");
    assert_eq!(gotify.requests().len(), 2);
    assert_eq!(ntfy.requests().len(), 2);
    let _ = status(&cv);
}

#[test]
fn ctl_alert_test_reports_each_channel() {
    let ok = Recorder::start(vec![Reply::status(200)]);
    let bad = Recorder::start(vec![Reply::status(400)]);
    let config = format!(
        "[[alerts.webhook]]\nname = \"ok\"\nurl = \"{}\"\n[[alerts.webhook]]\nname = \"bad\"\nurl = \"{}\"\nformat = \"slack\"\nkinds = [\"pause\"]\n",
        ok.url("/a"),
        bad.url("/b")
    );
    let cv = start(&[], &config);
    let (code, out, _) = ctl(&cv, &["alert", "test"]);
    assert_eq!(code, 1, "a failed channel fails the command: {out}");
    assert!(out.contains("ok     ok: delivered"), "{out}");
    assert!(out.contains("FAILED bad: HTTP 400"), "{out}");
    let v = ok.wait_for(1, T)[0].json();
    assert_eq!(v["test"], true);
    assert_eq!(v["kind"], "test");

    let (code, out, _) = ctl(&cv, &["alert", "test", "--channel", "ok", "--json"]);
    assert_eq!(code, 0, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v[0]["ok"], true);
    let (code, _, err) = ctl(&cv, &["alert", "test", "--channel", "nope"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no alert channel named \"nope\" (channels: ok, bad)"),
        "{err}"
    );
}

#[test]
fn check_names_each_bad_channel_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        r#"
[gateway]
command = ["sh"]
[alerts]
queue = 0
[[alerts.webhook]]
url = "ftp://example.com/x"
min_severity = "loud"
[[alerts.webhook]]
url = "https://hooks.example.com/T/B/secret"
token_env = "CLAWVISOR_TEST_NO_SUCH_VAR"
[alerts.smtp]
server = "smtp.example.com"
from = "not an address"
to = []
password_file = "/nonexistent/pw"
[[alerts.exec]]
command = ["/nonexistent/page-me"]
"#,
    )
    .unwrap();
    let (code, _, err) = common::run_cli(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    for needle in [
        "alerts.queue at",
        "alerts.webhook.0.url at",
        "is a ftp: URL",
        "alerts.webhook.0.min_severity",
        "alerts.smtp.0.from",
        "alerts.smtp.0.to",
        "alerts.smtp.0.username",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    // Machine problems are warnings, shown once the text is valid.
    std::fs::write(
        &path,
        r#"
[gateway]
command = ["sh"]
[[alerts.webhook]]
url = "https://hooks.example.com/T/B/secret"
token_env = "CLAWVISOR_TEST_NO_SUCH_VAR"
[alerts.smtp]
server = "smtp.example.com"
from = "clawvisor@example.com"
to = ["ops@example.com"]
username = "u"
password_file = "/nonexistent/pw"
[[alerts.exec]]
command = ["/nonexistent/page-me"]
"#,
    )
    .unwrap();
    let (code, out, err) = common::run_cli(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("3 warning(s)"), "{out}{err}");
    assert!(err.contains("alerts.webhook.0.token_env"), "{err}");
    assert!(
        err.contains("$CLAWVISOR_TEST_NO_SUCH_VAR is not set"),
        "{err}"
    );
    assert!(err.contains("alerts.smtp.0.password_file"), "{err}");
    assert!(err.contains("alerts.exec.0.command"), "{err}");
    assert!(!err.contains("secret"), "a URL leaked: {err}");
}

#[test]
fn the_example_config_documents_every_channel_kind() {
    let text = common::example_config_all_on();
    let cfg =
        clawvisor::config::Config::parse(&text, "clawvisor.toml").unwrap_or_else(|e| panic!("{e}"));
    let a = &cfg.alerts;
    assert_eq!(a.webhook.len(), 2);
    assert_eq!(a.smtp.len(), 1);
    assert_eq!(a.exec.len(), 1);
    assert_eq!(a.webhook[1].format, clawvisor::config::WebhookFormat::Ntfy);
    assert_eq!(a.smtp[0].port(), 587);
    assert_eq!(a.reminders.len(), 3);
}
