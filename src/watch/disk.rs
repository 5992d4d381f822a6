//! `[disk]`: usage of the filesystems holding the logs and the state, and the emergency
//! clean-up of rotated logs when the logs' filesystem is too full.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

/// Usage of one filesystem, as `df` computes it (reserved blocks count as unavailable).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FsUsage {
    pub path: PathBuf,
    pub used_bytes: u64,
    pub available_bytes: u64,
    pub used_percent: f64,
    #[serde(skip)]
    pub device: u64,
}

pub fn usage(path: &Path) -> Result<FsUsage, String> {
    let st = nix::sys::statvfs::statvfs(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let frag = st.fragment_size() as u64;
    let used = (st.blocks() as u64).saturating_sub(st.blocks_free() as u64) * frag;
    let avail = st.blocks_available() as u64 * frag;
    Ok(FsUsage {
        path: path.to_path_buf(),
        used_bytes: used,
        available_bytes: avail,
        used_percent: percent(used, avail),
        device: std::os::unix::fs::MetadataExt::dev(&meta),
    })
}

fn percent(used: u64, avail: u64) -> f64 {
    let total = used + avail;
    if total == 0 {
        0.0
    } else {
        used as f64 * 100.0 / total as f64
    }
}

/// A rotated log: the log pipeline's `BASE.20261124T130501.123Z.log[.gz]` (live files are
/// `BASE.log`), or logrotate's `NAME.log.1` / `NAME.log.2026-05-01.gz` left by an older
/// setup. Compressions in progress (`.tmp`) are left alone.
pub fn is_rotated_log(name: &str) -> bool {
    if name.ends_with(".tmp") {
        return false;
    }
    let plain = name.strip_suffix(".gz").unwrap_or(name);
    match plain.strip_suffix(".log") {
        Some(stem) => has_rotation_stamp(stem),
        None => plain.contains(".log."),
    }
}

/// Ends in `.YYYYMMDDTHHMMSS.mmmZ` (the log pipeline's rotation stamp).
fn has_rotation_stamp(stem: &str) -> bool {
    let Some(stamp) = stem.len().checked_sub(20).and_then(|i| stem.get(i..)) else {
        return false;
    };
    let before_dot = stem.len() > 20 && stem.as_bytes()[stem.len() - 21] == b'.';
    let b = stamp.as_bytes();
    before_dot
        && b[8] == b'T'
        && b[15] == b'.'
        && b[19] == b'Z'
        && b.iter()
            .enumerate()
            .all(|(i, c)| matches!(i, 8 | 15 | 19) || c.is_ascii_digit())
}

#[derive(Clone, Debug, PartialEq)]
pub struct LogFile {
    pub path: PathBuf,
    pub modified: SystemTime,
    pub size: u64,
}

/// The newest rotated logs of each stream are never deleted by the clean-up: after it,
/// the last hours before the trouble are still there to read.
pub const KEEP_NEWEST_PER_STREAM: usize = 2;

impl LogFile {
    fn name(&self) -> &str {
        self.path.file_name().and_then(|n| n.to_str()).unwrap_or("")
    }

    /// Which stream's series the file belongs to: the name without its rotation stamp
    /// (`gateway.out`), or up to `.log` for logrotate's names (`gateway.log`).
    fn series(&self) -> &str {
        let name = self.name();
        let plain = name.strip_suffix(".gz").unwrap_or(name);
        if let Some(stem) = plain.strip_suffix(".log")
            && has_rotation_stamp(stem)
        {
            return &stem[..stem.len() - 21];
        }
        plain.find(".log.").map_or(plain, |i| &plain[..i + 4])
    }

    /// When it was rotated: the stamp in our names (the writer keeps stamps in rotation
    /// order even when the clock is wrong; mtimes follow the clock), else the mtime.
    fn rotated_at(&self) -> SystemTime {
        let name = self.name();
        let plain = name.strip_suffix(".gz").unwrap_or(name);
        plain
            .strip_suffix(".log")
            .filter(|stem| has_rotation_stamp(stem))
            .and_then(|stem| crate::logs::parse_stamp(&stem[stem.len() - 20..]))
            .unwrap_or(self.modified)
    }
}

/// What the clean-up would delete.
#[derive(Debug, PartialEq)]
pub enum Plan {
    /// Below the threshold: nothing to do.
    Nothing,
    /// These files, oldest first.
    Delete(Vec<PathBuf>),
    /// Deleting every rotated log that may go (all but the newest of each stream) would not
    /// bring usage below the threshold: something else fills the disk, so none are deleted.
    Hopeless,
}

/// Rotated logs directly in `dir`.
pub fn rotated_logs(dir: &Path) -> Vec<LogFile> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| e.file_name().to_str().is_some_and(is_rotated_log))
        .filter_map(|e| {
            let m = e.metadata().ok().filter(|m| m.is_file())?;
            Some(LogFile {
                path: e.path(),
                modified: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                size: m.len(),
            })
        })
        .collect()
}

/// The oldest files whose deletion brings usage below `below_percent`, oldest first,
/// keeping the newest [`KEEP_NEWEST_PER_STREAM`] of each stream. Pure.
pub fn plan_cleanup(mut files: Vec<LogFile>, fs: &FsUsage, below_percent: f64) -> Plan {
    let (mut used, mut avail) = (fs.used_bytes, fs.available_bytes);
    if percent(used, avail) < below_percent {
        return Plan::Nothing;
    }
    // Newest first, to mark the floor of each stream.
    files.sort_by_key(|f| std::cmp::Reverse(f.rotated_at()));
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    let mut deletable: Vec<LogFile> = Vec::new();
    for f in files {
        let n = seen.entry(f.series().to_string()).or_default();
        *n += 1;
        if *n > KEEP_NEWEST_PER_STREAM {
            deletable.push(f);
        }
    }
    deletable.reverse();
    let freeable: u64 = deletable.iter().map(|f| f.size).sum();
    if percent(used.saturating_sub(freeable), avail + freeable) >= below_percent {
        return Plan::Hopeless;
    }
    let mut out = Vec::new();
    for f in deletable {
        if percent(used, avail) < below_percent {
            break;
        }
        used = used.saturating_sub(f.size);
        avail += f.size;
        out.push(f.path);
    }
    Plan::Delete(out)
}

/// Deletes rotated logs in `dir`, oldest first, until its filesystem is below
/// `below_percent`, re-reading the usage as it goes. Returns what it deleted.
pub fn clean_rotated_logs(dir: &Path, below_percent: f64) -> Vec<(PathBuf, u64)> {
    let mut deleted = Vec::new();
    while let Ok(fs) = usage(dir) {
        let files = rotated_logs(dir);
        let plan = match plan_cleanup(files.clone(), &fs, below_percent) {
            Plan::Delete(p) => p,
            Plan::Nothing => break,
            Plan::Hopeless => {
                if deleted.is_empty() {
                    tracing::warn!(
                        dir = %dir.display(),
                        "disk above {below_percent}% ({:.1}%), but deleting rotated logs cannot bring it below: something else fills it; no log deleted",
                        fs.used_percent
                    );
                }
                break;
            }
        };
        let Some(first) = plan.first() else { break };
        let size = files
            .iter()
            .find(|f| &f.path == first)
            .map_or(0, |f| f.size);
        match std::fs::remove_file(first) {
            Ok(()) => {
                tracing::warn!(
                    file = %first.display(),
                    bytes = size,
                    "disk above {below_percent}%: deleted the oldest rotated log"
                );
                deleted.push((first.clone(), size));
            }
            Err(e) => {
                tracing::warn!(file = %first.display(), "cannot delete a rotated log: {e}");
                break;
            }
        }
    }
    deleted
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn recognises_rotated_logs_only() {
        for n in [
            "gateway.out.20261124T130501.123Z.log",
            "gateway.err.20261124T130501.123Z.log.gz",
            "gateway.log.1",
            "gateway.log.2026-05-01.gz",
        ] {
            assert!(is_rotated_log(n), "{n}");
        }
        for n in [
            "gateway.out.log",
            "gateway.out.20261124T130501.123Z.log.gz.tmp",
            "gateway.log.1.gz.tmp",
            "x20261124T130501.123Z.log",
            "state.json",
            "notes.gz",
        ] {
            assert!(!is_rotated_log(n), "{n}");
        }
    }

    #[test]
    fn plans_the_oldest_files_until_below() {
        let t = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        let f = |name: &str, age, size| LogFile {
            path: PathBuf::from(name),
            modified: t(age),
            size,
        };
        let fs = FsUsage {
            path: PathBuf::from("/"),
            used_bytes: 95,
            available_bytes: 5,
            used_percent: 95.0,
            device: 0,
        };
        let files: Vec<LogFile> = (0..5)
            .map(|i| f(&format!("gateway.log.{i}"), 50 - i * 10, 3))
            .collect();
        // Oldest (by mtime, for names without a stamp) first, until below.
        assert_eq!(
            plan_cleanup(files.clone(), &fs, 90.0),
            Plan::Delete(vec![
                PathBuf::from("gateway.log.4"),
                PathBuf::from("gateway.log.3")
            ])
        );
        assert_eq!(plan_cleanup(files.clone(), &fs, 99.0), Plan::Nothing);
        // The newest two are never planned; if the rest cannot get below, nothing is.
        assert_eq!(plan_cleanup(files, &fs, 80.0), Plan::Hopeless);
    }

    #[test]
    fn orders_by_rotation_stamp_not_mtime() {
        let fs = FsUsage {
            path: PathBuf::from("/"),
            used_bytes: 95,
            available_bytes: 5,
            used_percent: 95.0,
            device: 0,
        };
        // The newest stamp has the oldest mtime (the clock was behind when it was written).
        let f = |stamp: &str, mtime: u64| LogFile {
            path: PathBuf::from(format!("gateway.out.{stamp}.log.gz")),
            modified: SystemTime::UNIX_EPOCH + Duration::from_secs(mtime),
            size: 3,
        };
        let files = vec![
            f("20261124T010000.000Z", 300),
            f("20261124T020000.000Z", 200),
            f("20261124T030000.000Z", 100),
            f("20261124T040000.000Z", 50),
        ];
        assert_eq!(
            plan_cleanup(files, &fs, 94.0),
            Plan::Delete(vec![PathBuf::from(
                "gateway.out.20261124T010000.000Z.log.gz"
            )])
        );
    }

    #[test]
    fn reads_real_usage_and_deletes_nothing_when_below() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.20261124T130501.123Z.log"), b"x").unwrap();
        let u = usage(dir.path()).unwrap();
        assert!(u.used_percent > 0.0 && u.used_percent <= 100.0, "{u:?}");
        assert!(clean_rotated_logs(dir.path(), 100.0).is_empty());
        assert!(dir.path().join("a.20261124T130501.123Z.log").exists());
        // A threshold of 0% cannot be reached by deleting logs: nothing goes.
        std::fs::write(dir.path().join("a.log"), b"live").unwrap();
        assert!(clean_rotated_logs(dir.path(), 0.0).is_empty());
        assert!(dir.path().join("a.log").exists());
    }
}
