//! `[disk]`: above `warn_above`, clawvisor alerts and deletes the oldest rotated logs until
//! the filesystem is below it again, even inside retention (a small tmpfs as the log disk).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::*;

/// A tmpfs mounted for the test, unmounted when dropped (after clawvisor is gone).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn used_percent(dir: &Path) -> f64 {
    let st = nix::sys::statvfs::statvfs(dir).unwrap();
    let total = st.blocks() as f64;
    let free = st.blocks_available() as f64;
    100.0 * (total - free) / total
}

#[test]
fn above_warn_the_oldest_rotated_logs_are_deleted_until_below() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let Some(_tmpfs) = Tmpfs::mount(&logs, "4m") else {
        eprintln!("SKIPPED: mounting a tmpfs needs root (CI runs as root)");
        return;
    };
    // Nine rotated files of 420 KiB fill the 4 MiB disk to ~92%; the oldest has the oldest
    // stamp and the oldest mtime.
    let base = SystemTime::now() - Duration::from_secs(3600);
    let mut names = Vec::new();
    for i in 0..9u64 {
        let name = format!("gateway.out.20261124T0{i}0000.000Z.log.gz");
        let path = logs.join(&name);
        std::fs::write(&path, vec![b'x'; 420 * 1024]).unwrap();
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(base + Duration::from_secs(60 * i)).unwrap();
        names.push(name);
    }
    assert!(
        used_percent(&logs) > 90.0,
        "setup: {:.1}%",
        used_percent(&logs)
    );
    let config = format!(
        "[gateway]\ncommand = [\"sleep\", \"60\"]\n{}\n[disk]\ninterval = \"100ms\"\nwarn_above = 90\n",
        base_config(dir.path(), "")
    );
    let cv = Clawvisor::start_in(tempfile::tempdir().unwrap(), &config, &[]);
    let deleted = cv.wait_for("deleted the oldest rotated log", 1, Duration::from_secs(30));
    assert!(eventually(Duration::from_secs(10), || used_percent(&logs) < 90.0));
    let gone: Vec<&String> = names.iter().filter(|n| !logs.join(n).exists()).collect();
    assert!(!gone.is_empty());
    // Oldest first: what is gone is a prefix of the list, and the newest are kept.
    assert_eq!(
        gone,
        names.iter().take(gone.len()).collect::<Vec<_>>(),
        "{deleted:?}"
    );
    assert!(logs.join(&names[8]).exists());
    // The alert comes from the sampler's threshold, which may report a moment later.
    assert!(
        eventually(Duration::from_secs(10), || !cv
            .find("disk.warn_above")
            .is_empty()
            || !cv.find("full").is_empty()),
        "an alert says why"
    );
    drop(cv);
}

#[test]
fn logs_that_cannot_bring_the_disk_below_are_not_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let Some(_tmpfs) = Tmpfs::mount(&logs, "4m") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI runs as root: mount must work"
        );
        eprintln!("SKIPPED: mounting a tmpfs needs root (CI runs as root)");
        return;
    };
    // A model fills the disk; four rotated logs of 100 KiB are a small part of it. Deleting
    // all of them but the newest two (the floor) cannot get below 90%.
    std::fs::write(logs.join("model.gguf"), vec![7u8; 3500 * 1024]).unwrap();
    let mut names = Vec::new();
    for i in 0..4u64 {
        let name = format!("gateway.out.20261124T0{i}0000.000Z.log.gz");
        std::fs::write(logs.join(&name), vec![b'x'; 100 * 1024]).unwrap();
        names.push(name);
    }
    assert!(
        used_percent(&logs) > 93.0,
        "setup: {:.1}%",
        used_percent(&logs)
    );
    let config = format!(
        "[gateway]\ncommand = [\"sleep\", \"60\"]\n{}\n[disk]\ninterval = \"100ms\"\nwarn_above = 90\n",
        base_config(dir.path(), "")
    );
    let cv = Clawvisor::start_in(tempfile::tempdir().unwrap(), &config, &[]);
    cv.wait_for("cannot bring it below", 1, Duration::from_secs(30));
    // Several more intervals: still nothing deleted, and the warning is not repeated
    // more than once per interval.
    std::thread::sleep(Duration::from_secs(1));
    for n in &names {
        assert!(logs.join(n).exists(), "{n} was deleted");
    }
    assert!(cv.find("deleted the oldest rotated log").is_empty());
    assert!(logs.join("model.gguf").exists());
}
