//! File names: the live file (`gateway.out.log`) and rotated ones
//! (`gateway.out.20261124T130501.123Z.log`, then `.log.gz`). The stamp is the UTC time of
//! the rotation, fixed width, so names sort by time.

use std::time::SystemTime;

use crate::config::LogLayout;

/// The live files' base names: `<stem>.out` and `<stem>.err`, or `<stem>` when merged.
pub fn bases(layout: LogLayout, stem: &str) -> Vec<String> {
    match layout {
        LogLayout::Split => vec![format!("{stem}.out"), format!("{stem}.err")],
        LogLayout::Merged => vec![stem.to_string()],
    }
}

/// `20261124T130501.123Z`
pub const STAMP_CHARS: usize = 20;

pub fn stamp(at: SystemTime) -> String {
    let dt: chrono::DateTime<chrono::Utc> = at.into();
    dt.format("%Y%m%dT%H%M%S%.3fZ").to_string()
}

/// The time a stamp names (None for anything else).
pub fn parse_stamp(s: &str) -> Option<SystemTime> {
    let dt = chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%S%.3fZ").ok()?;
    Some(dt.and_utc().into())
}

pub fn live_name(base: &str) -> String {
    format!("{base}.log")
}

pub fn rotated_name(base: &str, stamp: &str) -> String {
    format!("{base}.{stamp}.log")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Plain,
    Gz,
    /// An interrupted compression.
    GzTmp,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RotatedName {
    pub base: String,
    pub stamp: String,
    pub kind: Kind,
}

/// Recognizes a rotated file of one of `bases`.
pub fn parse_rotated(name: &str, bases: &[&str]) -> Option<RotatedName> {
    let (rest, kind) = if let Some(r) = name.strip_suffix(".log.gz.tmp") {
        (r, Kind::GzTmp)
    } else if let Some(r) = name.strip_suffix(".log.gz") {
        (r, Kind::Gz)
    } else {
        (name.strip_suffix(".log")?, Kind::Plain)
    };
    if rest.len() < STAMP_CHARS + 2 || !rest.is_char_boundary(rest.len() - STAMP_CHARS) {
        return None;
    }
    let (head, stamp) = rest.split_at(rest.len() - STAMP_CHARS);
    let base = head.strip_suffix('.')?;
    let b = stamp.as_bytes();
    let shape_ok = b[8] == b'T'
        && b[15] == b'.'
        && b[19] == b'Z'
        && b.iter()
            .enumerate()
            .all(|(i, c)| matches!(i, 8 | 15 | 19) || c.is_ascii_digit());
    (shape_ok && bases.contains(&base)).then(|| RotatedName {
        base: base.to_string(),
        stamp: stamp.to_string(),
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn rotated_names_round_trip_and_sort_by_time() {
        let a = stamp(UNIX_EPOCH + Duration::from_millis(1_795_000_000_007));
        let b = stamp(UNIX_EPOCH + Duration::from_millis(1_795_000_000_100));
        assert_eq!(a, "20261118T110640.007Z");
        assert_eq!(
            parse_stamp(&a),
            Some(UNIX_EPOCH + Duration::from_millis(1_795_000_000_007))
        );
        assert_eq!(parse_stamp("gateway"), None);
        assert!(rotated_name("gateway.out", &a) < rotated_name("gateway.out", &b));
        let p = parse_rotated(
            &format!("{}.gz", rotated_name("gateway.out", &a)),
            &["gateway.out"],
        );
        assert_eq!(p.unwrap().kind, Kind::Gz);
        assert!(parse_rotated("gateway.out.log", &["gateway.out"]).is_none());
        assert!(parse_rotated("other.20261118T110640.007Z.log", &["gateway.out"]).is_none());
    }
}
