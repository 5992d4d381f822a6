//! Directories clawvisor must create or write, and the gateway's cwd.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::process::program::Runner;

/// `dir` exists and is writable by clawvisor, or can be created (its nearest existing
/// ancestor is a writable directory). `me` names clawvisor's user for the message.
pub fn writable_dir(dir: &Path, me: &str) -> Result<(), String> {
    let shown = shown_with_link(dir);
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => return Err(format!("{shown} exists and is not a directory")),
        Ok(_) => {
            return can_write(dir).map_err(|e| format!("{shown} is not writable by {me} ({e})"));
        }
        Err(_) => {}
    }
    let mut ancestor = dir.parent();
    while let Some(a) = ancestor {
        let probe = if a.as_os_str().is_empty() {
            Path::new(".")
        } else {
            a
        };
        match std::fs::metadata(probe) {
            Ok(m) if m.is_dir() => {
                return can_write(probe).map_err(|e| {
                    format!(
                        "{shown} cannot be created: {} is not writable by {me} ({e})",
                        probe.display()
                    )
                });
            }
            Ok(_) => {
                return Err(format!(
                    "{shown} cannot be created: {} is not a directory",
                    probe.display()
                ));
            }
            Err(_) => ancestor = a.parent(),
        }
    }
    Err(format!("{shown} cannot be created"))
}

/// The path as a person should read it: a symlink says where it leads, since that is the
/// directory whose permissions or mount decide (a link into a read-only or foreign place
/// looks fine from its own name).
fn shown_with_link(dir: &Path) -> String {
    let is_link = std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink());
    if !is_link {
        return dir.display().to_string();
    }
    let target = std::fs::canonicalize(dir)
        .or_else(|_| std::fs::read_link(dir))
        .map_or_else(|e| format!("? ({e})"), |t| t.display().to_string());
    format!("{} (a symlink to {target})", dir.display())
}

/// Write and search permission for clawvisor's effective user (a read-only mount counts).
fn can_write(dir: &Path) -> Result<(), String> {
    let c = CString::new(dir.as_os_str().as_bytes()).map_err(|_| "NUL in path".to_string())?;
    // SAFETY: a valid C string; AT_EACCESS checks with the effective ids, as opens will.
    let rc = unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::W_OK | libc::X_OK,
            libc::AT_EACCESS,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error().to_string())
    }
}

/// The gateway's cwd exists, is a directory, and `who` may enter it (mode bits).
pub fn enterable_dir(dir: &Path, who: &Runner<'_>) -> Result<(), String> {
    let shown = format!("{:?}", dir.display().to_string());
    let m = std::fs::metadata(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{shown} does not exist"),
        _ => format!("{shown}: {e}"),
    })?;
    if !m.is_dir() {
        return Err(format!("{shown} is not a directory"));
    }
    let mode = m.permissions().mode();
    let ok = who.uid == 0
        || if m.uid() == who.uid {
            mode & 0o100 != 0
        } else if who.gids.contains(&m.gid()) {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
    if ok {
        Ok(())
    } else {
        Err(format!("{shown} is not accessible to user {}", who.name))
    }
}
