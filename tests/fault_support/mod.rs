//! What the fault tests share: root-only mounts (a small tmpfs, a bind, a read-only dir) that
//! undo themselves, and libfaketime to move clawvisor's wall clock while it runs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

/// Tests that mount need root; CI runs as root and must not skip them.
pub fn have_root(test: &str) -> bool {
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    assert!(
        std::env::var("CI").is_err(),
        "{test} needs root (mount) and CI runs as root"
    );
    eprintln!("SKIPPED {test}: needs root");
    false
}

/// Something mounted for the test, lazily unmounted when dropped (after clawvisor is gone).
pub struct Mount(PathBuf);

impl Mount {
    pub fn run(args: &[&str], path: &Path) -> Mount {
        if !path.exists() {
            std::fs::create_dir_all(path).unwrap();
        }
        let ok = Command::new("mount")
            .args(args)
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "mount {args:?} {}", path.display());
        Mount(path.to_path_buf())
    }

    pub fn tmpfs(path: &Path, size: &str) -> Mount {
        Self::run(
            &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"],
            path,
        )
    }

    /// `from` bound onto `onto`.
    pub fn bind(from: &Path, onto: &Path) -> Mount {
        Self::run(&["--bind", &from.display().to_string()], onto)
    }

    /// `path` bound onto itself, read-only.
    pub fn read_only(path: &Path) -> Mount {
        let m = Self::run(&["--bind", &path.display().to_string()], path);
        // The same mount, now read-only (not a second one to unmount).
        std::mem::forget(Self::run(&["-o", "remount,ro,bind"], path));
        m
    }

    /// Lazily: clawvisor may still hold a file open under it.
    pub fn unmount(&self) {
        let ok = Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "umount -l {}", self.0.display());
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        // Quietly: it may have been unmounted already.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .stderr(Stdio::null())
            .status();
    }
}

pub const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// The `env` wrapper that runs clawvisor on a clock shifted by what `offset_file` says
/// (`+N` / `-N` seconds), re-read at every call so a test can step it; the monotonic clock
/// and file times stay the kernel's. None (skipped) only outside CI without libfaketime.
pub fn faketime_env(offset_file: &Path) -> Option<Vec<String>> {
    if !Path::new(LIBFAKETIME).exists() {
        assert!(
            std::env::var("CI").is_err(),
            "libfaketime is missing ({LIBFAKETIME}); .ci/run installs the faketime package"
        );
        eprintln!("SKIPPED: libfaketime is not installed (apt-get install faketime)");
        return None;
    }
    Some(vec![
        "env".into(),
        format!("LD_PRELOAD={LIBFAKETIME}"),
        format!("FAKETIME_TIMESTAMP_FILE={}", offset_file.display()),
        "FAKETIME_NO_CACHE=1".into(),
        "FAKETIME_DONT_FAKE_MONOTONIC=1".into(),
        "NO_FAKE_STAT=1".into(),
    ])
}

/// Sets the faked clock to `at` from now on.
pub fn set_fake_time(offset_file: &Path, at: SystemTime) {
    let offset = match at.duration_since(SystemTime::now()) {
        Ok(d) => format!("+{}", d.as_secs()),
        Err(e) => format!("-{}", e.duration().as_secs()),
    };
    std::fs::write(offset_file, offset).unwrap();
}
