//! Time rotation boundaries: aligned to midnight (local or UTC), computed from an injected
//! `now` so tests need not wait.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Local, NaiveDateTime, TimeZone, Utc};

use crate::config::{RotateEvery, RotateTimezone};

const DAY: Duration = Duration::from_secs(86_400);

fn period(every: RotateEvery) -> Option<Duration> {
    match every {
        RotateEvery::Never => None,
        RotateEvery::Hourly => Some(Duration::from_secs(3600)),
        RotateEvery::Daily => Some(DAY),
        RotateEvery::Every(d) => Some(d),
    }
}

/// The start of the day containing `now`, in the configured zone.
fn midnight(now: SystemTime, tz: RotateTimezone) -> SystemTime {
    let naive: NaiveDateTime = match tz {
        RotateTimezone::Utc => DateTime::<Utc>::from(now).date_naive().into(),
        RotateTimezone::Local => DateTime::<Local>::from(now).date_naive().into(),
    };
    let start = match tz {
        RotateTimezone::Utc => Some(Utc.from_utc_datetime(&naive).into()),
        // A midnight skipped by a DST change: fall back to the earliest valid time.
        RotateTimezone::Local => Local.from_local_datetime(&naive).earliest().map(Into::into),
    };
    start.unwrap_or(now)
}

/// The first boundary strictly after `now`, or None when time rotation is off.
pub fn next_boundary(
    now: SystemTime,
    every: RotateEvery,
    tz: RotateTimezone,
) -> Option<SystemTime> {
    let p = period(every)?;
    if p > DAY {
        // Longer than a day: boundaries counted from the Unix epoch.
        let since = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let k = since.as_nanos() / p.as_nanos() + 1;
        return Some(SystemTime::UNIX_EPOCH + p * k as u32);
    }
    let day = midnight(now, tz);
    let since = now.duration_since(day).unwrap_or_default();
    let k = since.as_nanos() / p.as_nanos() + 1;
    let next = day + p * k as u32;
    // Periods that do not divide a day restart at the next midnight.
    let next_midnight = midnight(day + DAY + Duration::from_secs(3 * 3600), tz);
    Some(next.min(next_midnight))
}

/// The boundary at or before `now` (start of the current period).
pub fn period_start(now: SystemTime, every: RotateEvery, tz: RotateTimezone) -> Option<SystemTime> {
    let p = period(every)?;
    if p > DAY {
        let since = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let k = since.as_nanos() / p.as_nanos();
        return Some(SystemTime::UNIX_EPOCH + p * k as u32);
    }
    let day = midnight(now, tz);
    let since = now.duration_since(day).unwrap_or_default();
    let k = since.as_nanos() / p.as_nanos();
    Some(day + p * k as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> SystemTime {
        DateTime::parse_from_rfc3339(s).unwrap().into()
    }

    #[test]
    fn daily_and_hourly_boundaries_in_utc() {
        let now = utc("2026-11-24T13:05:01Z");
        let tz = RotateTimezone::Utc;
        assert_eq!(
            next_boundary(now, RotateEvery::Daily, tz),
            Some(utc("2026-11-25T00:00:00Z"))
        );
        assert_eq!(
            next_boundary(now, RotateEvery::Hourly, tz),
            Some(utc("2026-11-24T14:00:00Z"))
        );
        assert_eq!(
            next_boundary(now, RotateEvery::Every(Duration::from_secs(7 * 3600)), tz),
            Some(utc("2026-11-24T14:00:00Z"))
        );
        assert_eq!(
            next_boundary(
                utc("2026-11-24T22:00:00Z"),
                RotateEvery::Every(Duration::from_secs(7 * 3600)),
                tz
            ),
            Some(utc("2026-11-25T00:00:00Z"))
        );
        assert_eq!(
            period_start(now, RotateEvery::Daily, tz),
            Some(utc("2026-11-24T00:00:00Z"))
        );
        assert_eq!(next_boundary(now, RotateEvery::Never, tz), None);
    }
}
