//! What each receiver reads: clawvisor's versioned JSON, and the Slack, Discord, ntfy and
//! Gotify presets. Pure: a notification in, a request body and headers out.

use serde_json::{Value, json};

use super::alert::{Notification, Severity, Status};
use super::text::{self, rfc3339, truncate_bytes, truncate_chars};
use crate::config::WebhookFormat;

/// The generic JSON's schema version; bumped only on an incompatible change.
pub const SCHEMA_VERSION: &str = "1";
/// Discord rejects `content` over 2000 characters.
const DISCORD_MAX_CHARS: usize = 2000;
/// ntfy turns a body over 4096 bytes into an attachment.
const NTFY_MAX_BYTES: usize = 4096;
/// Slack shows about 4000 characters of `text` before cutting it itself.
const SLACK_MAX_CHARS: usize = 3900;

/// An HTTP request body with its content type and extra headers.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub content_type: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// clawvisor's own JSON (schema "1"), also the exec channel's stdin. Documented in the README
/// ("Alert JSON"); fields are only ever added.
pub fn json_v1(n: &Notification) -> Value {
    let a = &n.alert;
    let d = &a.details;
    json!({
        "version": SCHEMA_VERSION,
        "status": n.status,
        "kind": a.kind,
        "severity": a.severity,
        "subject": a.subject,
        "summary": a.summary,
        "title": text::title(n),
        "text": text::body(n),
        "fingerprint": n.fingerprint,
        "host": n.host,
        "gateway_pid": d.gateway_pid,
        "reason": d.reason,
        "last_exit": d.last_exit,
        "last_lines": text::last_lines(n),
        "restarts_in_window": d.restarts_in_window,
        "resume_command": d.resume_command,
        "occurrences": n.occurrences,
        "reminder": n.reminder,
        "test": n.test,
        "started_at": rfc3339(n.started_at),
        "at": rfc3339(a.at),
        "resolved_at": (n.status == Status::Resolved).then(|| rfc3339(a.at)),
    })
}

pub fn render(format: WebhookFormat, n: &Notification) -> Rendered {
    let json_body = |v: Value| Rendered {
        content_type: "application/json",
        headers: Vec::new(),
        body: serde_json::to_vec(&v).unwrap_or_default(),
    };
    let title = text::title(n);
    let body = text::body(n);
    match format {
        WebhookFormat::Json => json_body(json_v1(n)),
        WebhookFormat::Slack => {
            let t = format!("*{}*\n{}", slack_escape(&title), slack_escape(&body));
            json_body(json!({ "text": truncate_chars(&t, SLACK_MAX_CHARS) }))
        }
        WebhookFormat::Discord => {
            let t = format!("**{title}**\n{body}");
            json_body(json!({ "content": truncate_chars(&t, DISCORD_MAX_CHARS) }))
        }
        WebhookFormat::Gotify => json_body(json!({
            "title": title,
            "message": body,
            "priority": gotify_priority(n),
        })),
        WebhookFormat::Ntfy => Rendered {
            content_type: "text/plain; charset=utf-8",
            headers: vec![
                ("Title".into(), header_text(&title)),
                ("Priority".into(), ntfy_priority(n).to_string()),
                ("Tags".into(), ntfy_tags(n)),
            ],
            body: truncate_bytes(&body, NTFY_MAX_BYTES).into_bytes(),
        },
    }
}

/// Slack's three control characters, every occurrence (not only the first).
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// ntfy: 1 (min) to 5 (urgent).
fn ntfy_priority(n: &Notification) -> u8 {
    match (n.status, n.alert.severity) {
        (Status::Resolved, _) => 3,
        (_, Severity::Critical) => 5,
        (_, Severity::Warning) => 4,
        (_, Severity::Info) => 3,
    }
}

fn ntfy_tags(n: &Notification) -> String {
    let emoji = match (n.status, n.alert.severity) {
        (Status::Resolved, _) => "white_check_mark",
        (_, Severity::Critical) => "rotating_light",
        (_, Severity::Warning) => "warning",
        (_, Severity::Info) => "information_source",
    };
    format!("{emoji},clawvisor,{}", header_text(&n.alert.kind))
}

/// Gotify: 0 to 10; 8 and above rings on Android.
fn gotify_priority(n: &Notification) -> u8 {
    match (n.status, n.alert.severity) {
        (Status::Resolved, _) => 4,
        (_, Severity::Critical) => 8,
        (_, Severity::Warning) => 5,
        (_, Severity::Info) => 2,
    }
}

/// A header value: plain when it is printable ASCII, else RFC 2047 (which ntfy decodes).
fn header_text(s: &str) -> String {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return s.to_string();
    }
    use base64::Engine;
    let clean: String = s.chars().filter(|c| !c.is_control()).collect();
    format!(
        "=?UTF-8?B?{}?=",
        base64::engine::general_purpose::STANDARD.encode(clean)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::alert::{Alert, Details};
    use std::time::SystemTime;

    fn pause(lines: usize, line: &str) -> Notification {
        let a = Alert::new(
            "pause",
            Severity::Critical,
            "gateway",
            "paused: crash loop <&>",
        )
        .with_details(Details {
            reason: Some("crash loop: 6 failures within 1m".into()),
            gateway_pid: Some(42),
            last_exit: Some("code 1".into()),
            last_lines: (0..lines).map(|i| format!("{line} {i}")).collect(),
            restarts_in_window: Some(6),
            resume_command: Some("clawvisor ctl resume".into()),
        });
        Notification {
            fingerprint: a.fingerprint(),
            alert: a,
            status: Status::Firing,
            occurrences: 1,
            started_at: SystemTime::UNIX_EPOCH,
            reminder: false,
            test: false,
            host: "box".into(),
        }
    }

    fn body_json(r: &Rendered) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn generic_json_carries_the_documented_fields() {
        let v = body_json(&render(WebhookFormat::Json, &pause(3, "boom")));
        assert_eq!(v["version"], "1");
        assert_eq!(v["status"], "firing");
        assert_eq!(v["kind"], "pause");
        assert_eq!(v["severity"], "critical");
        assert_eq!(v["gateway_pid"], 42);
        assert_eq!(v["resume_command"], "clawvisor ctl resume");
        assert_eq!(v["last_lines"][2], "boom 2");
        assert_eq!(v["started_at"], "1970-01-01T00:00:00Z");
        assert!(v["resolved_at"].is_null());
        assert_eq!(v["fingerprint"].as_str().unwrap().len(), 16);
    }

    #[test]
    fn slack_escapes_every_control_character() {
        let v = body_json(&render(WebhookFormat::Slack, &pause(1, "a<b>&c<d")));
        let t = v["text"].as_str().unwrap();
        assert!(t.contains("a&lt;b&gt;&amp;c&lt;d 0"), "{t}");
        assert!(!t.contains('<') && !t.contains('>'));
    }

    #[test]
    fn discord_stays_within_2000_characters() {
        let v = body_json(&render(
            WebhookFormat::Discord,
            &pause(20, &"é".repeat(290)),
        ));
        let c = v["content"].as_str().unwrap();
        assert_eq!(c.chars().count(), 2000);
        assert!(c.starts_with("**[box] FIRING pause (gateway)"));
    }

    #[test]
    fn ntfy_sends_text_with_headers_under_4096_bytes() {
        let r = render(WebhookFormat::Ntfy, &pause(20, &"ü".repeat(290)));
        assert!(r.body.len() <= 4096);
        assert!(String::from_utf8(r.body.clone()).is_ok());
        let h: std::collections::HashMap<_, _> = r.headers.into_iter().collect();
        assert_eq!(h["Priority"], "5");
        assert!(h["Title"].starts_with("[box] FIRING pause"));
        assert!(h["Tags"].contains("rotating_light"));
        assert_eq!(header_text("日本"), "=?UTF-8?B?5pel5pys?=");
    }

    #[test]
    fn gotify_has_title_message_and_priority() {
        let mut n = pause(1, "x");
        n.status = Status::Resolved;
        let v = body_json(&render(WebhookFormat::Gotify, &n));
        assert!(
            v["title"]
                .as_str()
                .unwrap()
                .starts_with("[box] RESOLVED pause")
        );
        assert!(v["message"].as_str().unwrap().contains("resolved: "));
        assert!(!v["message"].as_str().unwrap().contains("resume with"));
        assert_eq!(v["priority"], 4);
    }
}
