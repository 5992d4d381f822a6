//! HTTP probes (startup, liveness, readiness): status 200 and the expected text in the body.
//! A 200 alone proves nothing on openclaw: any unknown path answers 200 with HTML.

use std::time::{Duration, Instant};

use super::client::excerpt;
use super::tracker::Outcome;

/// The result of one GET, with its latency.
pub async fn probe_http(
    client: &reqwest::Client,
    url: &str,
    expect: &str,
    timeout: Duration,
) -> (Outcome, Duration) {
    let start = Instant::now();
    let outcome = match tokio::time::timeout(timeout, get(client, url)).await {
        Err(_) => Outcome::Fail(format!("GET {url}: no answer within {}", fmt(timeout))),
        Ok(Err(e)) if e.is_timeout() => {
            Outcome::Fail(format!("GET {url}: no answer within {}", fmt(timeout)))
        }
        Ok(Err(e)) => Outcome::Fail(format!("GET {url}: {}", error_chain(&e))),
        Ok(Ok((status, body))) => judge(url, status, &body, expect),
    };
    (outcome, start.elapsed())
}

async fn get(client: &reqwest::Client, url: &str) -> reqwest::Result<(u16, String)> {
    let r = client.get(url).send().await?;
    let status = r.status().as_u16();
    Ok((status, r.text().await?))
}

fn judge(url: &str, status: u16, body: &str, expect: &str) -> Outcome {
    if status != 200 {
        return Outcome::Fail(format!("GET {url}: status {status}: {}", excerpt(body)));
    }
    if !body.contains(expect) {
        return Outcome::Fail(format!(
            "GET {url}: 200 but the body lacks {expect:?}: {}",
            excerpt(body)
        ));
    }
    Outcome::Pass
}

pub fn fmt(d: Duration) -> String {
    humantime::format_duration(Duration::from_millis(d.as_millis() as u64)).to_string()
}

/// reqwest's own message is often just "error sending request"; the cause says why.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_status_and_body() {
        let u = "http://x/healthz";
        assert_eq!(
            judge(u, 200, r#"{"ok":true,"status":"live"}"#, "\"ok\":true"),
            Outcome::Pass
        );
        let html = judge(u, 200, "<html>control ui</html>", "\"ok\":true");
        assert!(
            matches!(html, Outcome::Fail(ref r) if r.contains("lacks")),
            "{html:?}"
        );
        assert!(matches!(judge(u, 503, "down", ""), Outcome::Fail(_)));
        assert_eq!(judge(u, 200, "anything", ""), Outcome::Pass);
    }
}
