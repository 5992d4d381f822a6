//! When a failed delivery is tried again: 5xx, 429 (honouring Retry-After), network errors
//! and timeouts are retried with a growing delay; any other 4xx is not (the request itself
//! is wrong, and sending it again changes nothing).

use std::time::{Duration, SystemTime};

/// The first retry's delay; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A Retry-After beyond this is cut to it: a message hours late helps nobody.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Whether and how a failure may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    No,
    Backoff,
    After(Duration),
}

/// A failed attempt: what to tell a person, and whether to try again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendError {
    pub message: String,
    pub retry: Retry,
}

impl SendError {
    pub fn retryable(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            retry: Retry::Backoff,
        }
    }

    pub fn fatal(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            retry: Retry::No,
        }
    }
}

/// The wait before attempt `failed + 1`, after `failed` attempts (1-based) ended in `retry`.
pub fn delay_after(failed: u32, retry: Retry) -> Option<Duration> {
    match retry {
        Retry::No => None,
        Retry::After(d) => Some(d.min(MAX_RETRY_AFTER)),
        Retry::Backoff => {
            let exp = failed.saturating_sub(1).min(16);
            Some((FIRST_BACKOFF * 2u32.pow(exp)).min(MAX_BACKOFF))
        }
    }
}

/// How an HTTP status is treated; None means delivered.
pub fn classify_http(status: u16, retry_after: Option<&str>, now: SystemTime) -> Option<Retry> {
    match status {
        200..=299 => None,
        429 | 503 => Some(
            retry_after
                .and_then(|v| parse_retry_after(v, now))
                .map_or(Retry::Backoff, Retry::After),
        ),
        500..=599 | 408 => Some(Retry::Backoff),
        _ => Some(Retry::No),
    }
}

/// `Retry-After: 120` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`.
pub fn parse_retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let when = SystemTime::from(when);
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        let now = SystemTime::now();
        assert_eq!(classify_http(200, None, now), None);
        assert_eq!(classify_http(204, None, now), None);
        assert_eq!(classify_http(500, None, now), Some(Retry::Backoff));
        assert_eq!(classify_http(502, None, now), Some(Retry::Backoff));
        assert_eq!(classify_http(400, None, now), Some(Retry::No));
        assert_eq!(classify_http(404, None, now), Some(Retry::No));
        assert_eq!(
            classify_http(429, Some("7"), now),
            Some(Retry::After(Duration::from_secs(7)))
        );
        assert_eq!(classify_http(429, Some("soon"), now), Some(Retry::Backoff));
    }

    #[test]
    fn retry_after_takes_an_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_460);
        let d = parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now);
        assert_eq!(d, Some(Duration::from_secs(20)));
        let past = parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now);
        assert_eq!(past, Some(Duration::ZERO));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let d: Vec<_> = (1..=9)
            .map(|n| delay_after(n, Retry::Backoff).unwrap())
            .collect();
        assert_eq!(d[0], Duration::from_secs(1));
        assert_eq!(d[1], Duration::from_secs(2));
        assert_eq!(d[2], Duration::from_secs(4));
        assert_eq!(d[8], MAX_BACKOFF);
        assert_eq!(delay_after(1, Retry::No), None);
        assert_eq!(
            delay_after(1, Retry::After(Duration::from_secs(3600))),
            Some(MAX_RETRY_AFTER)
        );
    }
}
