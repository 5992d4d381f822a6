//! HTTP probes (startup, liveness, readiness): status 200 and the expected body.
//! A 200 alone proves nothing on openclaw: any unknown path answers 200 with HTML.

use std::time::{Duration, Instant};

use super::client::excerpt;
use super::expect::Expect;
use super::tracker::Outcome;

/// The result of one GET, with its latency.
pub async fn probe_http(
    client: &reqwest::Client,
    url: &str,
    expect: &Expect,
    timeout: Duration,
) -> (Outcome, Duration) {
    let start = Instant::now();
    let outcome = match tokio::time::timeout(timeout, get(client, url)).await {
        Err(_) => Outcome::Fail(format!("no answer within {}", fmt(timeout))),
        Ok(Err(e)) if e.is_timeout() => Outcome::Fail(format!("no answer within {}", fmt(timeout))),
        Ok(Err(e)) => Outcome::Fail(plain_error(&e)),
        Ok(Ok((status, body))) => judge(status, &body, expect),
    };
    (outcome, start.elapsed())
}

async fn get(client: &reqwest::Client, url: &str) -> reqwest::Result<(u16, String)> {
    let r = client.get(url).send().await?;
    let status = r.status().as_u16();
    Ok((status, r.text().await?))
}

fn judge(status: u16, body: &str, expect: &Expect) -> Outcome {
    if status != 200 {
        return Outcome::Fail(format!("HTTP {status}: {}", excerpt(body)));
    }
    match expect.unmet(body) {
        Some(why) => Outcome::Fail(format!("HTTP 200 but {why}")),
        None => Outcome::Pass,
    }
}

pub fn fmt(d: Duration) -> String {
    humantime::format_duration(Duration::from_millis(d.as_millis() as u64)).to_string()
}

/// What went wrong with a request, in the words a person uses ("connection refused"), not
/// the HTTP library's chain ("error sending request for url (...): client error (Connect):
/// tcp connect error: Connection refused (os error 111)").
pub fn plain_error(e: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost = e;
    let mut src = Some(e);
    while let Some(c) = src {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return plain_io(io);
        }
        innermost = c;
        src = c.source();
    }
    let text = innermost.to_string();
    if text.contains("timed out") {
        return "no answer in time".into();
    }
    text
}

fn plain_io(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused".into(),
        ConnectionReset => "connection reset".into(),
        ConnectionAborted => "connection aborted".into(),
        TimedOut => "no answer in time".into(),
        UnexpectedEof => "the connection closed before an answer".into(),
        _ => {
            let s = e.to_string();
            // "No route to host (os error 113)" -> "no route to host"
            let s = s.split(" (os error").next().unwrap_or(&s).to_string();
            let mut c = s.chars();
            c.next().map_or(s.clone(), |f| {
                f.to_lowercase().collect::<String>() + c.as_str()
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_status_and_body() {
        let ok = Expect::new(None, "\"ok\":true");
        assert_eq!(
            judge(200, r#"{"ok":true,"status":"live"}"#, &ok),
            Outcome::Pass
        );
        let html = judge(200, "<html>control ui</html>", &ok);
        assert!(
            matches!(html, Outcome::Fail(ref r) if r.starts_with("HTTP 200 but the body lacks")),
            "{html:?}"
        );
        assert_eq!(
            judge(503, "down", &Expect::Any),
            Outcome::Fail("HTTP 503: down".into())
        );
        assert_eq!(judge(200, "anything", &Expect::Any), Outcome::Pass);
    }

    #[tokio::test]
    async fn a_refused_connection_reads_as_such() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/healthz", l.local_addr().unwrap());
        drop(l);
        let client = super::super::client::client_for(&url, Duration::from_secs(2));
        let (o, _) = probe_http(&client, &url, &Expect::Any, Duration::from_secs(2)).await;
        assert_eq!(o, Outcome::Fail("connection refused".into()));
    }
}
