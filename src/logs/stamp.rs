//! RFC 3339 UTC timestamps with milliseconds, formatted cheaply: the date and time of day
//! are formatted once per second, only the milliseconds per call.

use std::time::{SystemTime, UNIX_EPOCH};

/// `2026-11-24T13:05:01.123Z` is 24 bytes.
pub const STAMP_LEN: usize = 24;

#[derive(Default)]
pub struct StampCache {
    second: u64,
    /// `2026-11-24T13:05:01.` for `second`.
    head: [u8; 20],
    valid: bool,
}

impl StampCache {
    pub fn format(&mut self, at: SystemTime) -> [u8; STAMP_LEN] {
        let d = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let (secs, millis) = (d.as_secs(), d.subsec_millis());
        if !self.valid || secs != self.second {
            let dt =
                chrono::DateTime::<chrono::Utc>::from_timestamp(secs as i64, 0).unwrap_or_default();
            let s = dt.format("%Y-%m-%dT%H:%M:%S.").to_string();
            self.head.copy_from_slice(&s.as_bytes()[..20]);
            self.second = secs;
            self.valid = true;
        }
        let mut out = [0u8; STAMP_LEN];
        out[..20].copy_from_slice(&self.head);
        out[20] = b'0' + (millis / 100) as u8;
        out[21] = b'0' + (millis / 10 % 10) as u8;
        out[22] = b'0' + (millis % 10) as u8;
        out[23] = b'Z';
        out
    }
}

/// A one-off timestamp as a String (markers, names).
pub fn rfc3339_millis(at: SystemTime) -> String {
    String::from_utf8_lossy(&StampCache::default().format(at)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_millis_and_caches_the_second() {
        let mut c = StampCache::default();
        let t = UNIX_EPOCH + Duration::from_millis(1_795_000_000_007);
        assert_eq!(&c.format(t), b"2026-11-18T11:06:40.007Z");
        let t2 = t + Duration::from_millis(990);
        assert_eq!(&c.format(t2), b"2026-11-18T11:06:40.997Z");
        let t3 = t2 + Duration::from_millis(10);
        assert_eq!(&c.format(t3), b"2026-11-18T11:06:41.007Z");
    }
}
