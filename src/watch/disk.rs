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

/// A rotated log: `NAME.log.1`, `NAME.log.2026-05-01`, `NAME-2026-05-01.log.gz`, ... Live
/// logs end in `.log`; compressions in progress end in `.tmp` and are left alone.
pub fn is_rotated_log(name: &str) -> bool {
    if name.ends_with(".tmp") || name.ends_with(".log") {
        return false;
    }
    name.ends_with(".gz") || name.contains(".log.")
}

#[derive(Clone, Debug, PartialEq)]
pub struct LogFile {
    pub path: PathBuf,
    pub modified: SystemTime,
    pub size: u64,
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

/// The oldest files whose deletion brings usage below `below_percent`, oldest first (all of
/// them if even that is not enough). Pure.
pub fn plan_cleanup(mut files: Vec<LogFile>, fs: &FsUsage, below_percent: f64) -> Vec<PathBuf> {
    files.sort_by_key(|f| f.modified);
    let (mut used, mut avail) = (fs.used_bytes, fs.available_bytes);
    let mut out = Vec::new();
    for f in files {
        if percent(used, avail) < below_percent {
            break;
        }
        used = used.saturating_sub(f.size);
        avail += f.size;
        out.push(f.path);
    }
    out
}

/// Deletes rotated logs in `dir`, oldest first, until its filesystem is below
/// `below_percent`, re-reading the usage as it goes. Returns what it deleted.
pub fn clean_rotated_logs(dir: &Path, below_percent: f64) -> Vec<(PathBuf, u64)> {
    let mut deleted = Vec::new();
    while let Ok(fs) = usage(dir) {
        let files = rotated_logs(dir);
        let plan = plan_cleanup(files.clone(), &fs, below_percent);
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
            "gateway.log.1",
            "gateway.log.2026-05-01",
            "stdout-2026-05-01.log.gz",
            "x.gz",
        ] {
            assert!(is_rotated_log(n), "{n}");
        }
        for n in [
            "gateway.log",
            "stdout.log",
            "gateway.log.1.gz.tmp",
            "state.json",
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
        let files = vec![f("new", 30, 3), f("old", 10, 3), f("mid", 20, 3)];
        assert_eq!(
            plan_cleanup(files.clone(), &fs, 90.0),
            [PathBuf::from("old"), PathBuf::from("mid")]
        );
        assert!(plan_cleanup(files, &fs, 99.0).is_empty());
    }

    #[test]
    fn reads_real_usage_and_deletes_nothing_when_below() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.log.1"), b"x").unwrap();
        let u = usage(dir.path()).unwrap();
        assert!(u.used_percent > 0.0 && u.used_percent <= 100.0, "{u:?}");
        assert!(clean_rotated_logs(dir.path(), 100.0).is_empty());
        assert!(dir.path().join("a.log.1").exists());
        // A threshold of 0% means "always too full": every rotated log goes, live logs stay.
        std::fs::write(dir.path().join("a.log"), b"live").unwrap();
        let gone = clean_rotated_logs(dir.path(), 0.0);
        assert_eq!(gone.len(), 1);
        assert!(dir.path().join("a.log").exists());
    }
}
