//! healthchecks.io-style pings: `<url>/start?rid=<run id>` when an attempt starts, `<url>`
//! on success, `<url>/<exit code>` on failure. Sent from their own task with a timeout and a
//! few retries: a ping never delays, blocks or fails the job.

use std::time::Duration;

const PING_TIMEOUT: Duration = Duration::from_secs(10);
const PING_TRIES: u32 = 3;

/// What to ping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ping {
    Start,
    Success,
    /// Failed with this exit code (128+N for signal N; 1 when it never ran).
    Fail(i32),
}

/// The URL for one ping. Pure.
pub fn ping_url(base: &str, ping: Ping, run_id: &str) -> String {
    let base = base.trim_end_matches('/');
    let path = match ping {
        Ping::Start => format!("{base}/start"),
        Ping::Success => base.to_string(),
        Ping::Fail(code) => format!("{base}/{}", code.clamp(1, 255)),
    };
    format!("{path}?rid={}", rid(run_id))
}

/// healthchecks wants a UUID for `rid`: one derived from the run id, stable across attempts.
fn rid(run_id: &str) -> String {
    // FNV-1a, twice with different seeds, laid out as a version-4-shaped UUID.
    let h = |seed: u64| {
        run_id.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let (a, b) = (h(0xcbf2_9ce4_8422_2325), h(0x8422_2325_cbf2_9ce4));
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

/// Sends the ping in the background.
pub fn send(client: &reqwest::Client, base: &str, ping: Ping, run_id: &str) {
    let url = ping_url(base, ping, run_id);
    let client = client.clone();
    tokio::spawn(async move {
        for attempt in 1..=PING_TRIES {
            match client.get(&url).timeout(PING_TIMEOUT).send().await {
                Ok(r) if r.status().is_success() => return,
                Ok(r) => tracing::warn!(url, status = %r.status(), attempt, "job ping refused"),
                Err(e) => tracing::warn!(url, attempt, "job ping failed: {e}"),
            }
            tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_healthchecks_api() {
        let b = "http://hc.local/ping/abc/";
        let s = ping_url(b, Ping::Start, "nightly-20261124T020000Z");
        assert!(s.starts_with("http://hc.local/ping/abc/start?rid="), "{s}");
        let ok = ping_url(b, Ping::Success, "nightly-20261124T020000Z");
        assert!(ok.starts_with("http://hc.local/ping/abc?rid="));
        assert!(ping_url(b, Ping::Fail(137), "x").starts_with("http://hc.local/ping/abc/137?"));
        // The same run pairs its start and end.
        assert_eq!(s.split("rid=").nth(1), ok.split("rid=").nth(1));
        assert_eq!(s.split("rid=").nth(1).unwrap().len(), 36);
    }
}
