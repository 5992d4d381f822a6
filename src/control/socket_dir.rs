//! The control socket's directory must be clawvisor's: whoever can rename or replace it can
//! put their own socket where `ctl` looks (and read or answer what `ctl` sends), or swap in
//! a symlink just before clawvisor sets the socket's mode and owner (and have root chmod a
//! file of their choice). So:
//!
//! - a directory clawvisor creates is 0700 (0750 with the `[control] group`, given to it);
//! - an existing one, and every directory above it, must belong to clawvisor's user or root
//!   and be writable by nobody else unless sticky (as /tmp is); the socket's own directory
//!   must not be a symbolic link;
//! - the directory is opened once and the socket bound through that descriptor
//!   (`/proc/self/fd/N/name`), so a swap after the check cannot move the socket elsewhere;
//!   after the bind the path must still lead to the same directory, or clawvisor refuses.

use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::error::ControlError;

/// The socket's directory, opened and checked.
#[derive(Debug)]
pub struct VerifiedDir {
    pub path: PathBuf,
    pub fd: File,
    dev: u64,
    ino: u64,
}

/// Creates `dir` if missing (0700, or 0750 owned by `gid`), then checks it and its parents.
pub fn prepare(dir: &Path, gid: Option<u32>) -> Result<VerifiedDir, ControlError> {
    let euid = nix::unistd::geteuid().as_raw();
    if fs::symlink_metadata(dir).is_err() {
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(parent)
                .map_err(ControlError::io("create the directory", parent))?;
        }
        let mode = if gid.is_some() { 0o750 } else { 0o700 };
        match fs::DirBuilder::new().mode(mode).create(dir) {
            Ok(()) => {
                if let Some(g) = gid {
                    std::os::unix::fs::lchown(dir, None, Some(g))
                        .map_err(ControlError::io("set the group of", dir))?;
                }
            }
            // Made meanwhile (by whom is checked below).
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(ControlError::io("create the directory", dir)(e)),
        }
    }
    let fd = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir)
        .map_err(|e| match e.raw_os_error() {
            // With O_DIRECTORY a link is ENOTDIR (not ELOOP): say which it is.
            Some(libc::ELOOP | libc::ENOTDIR)
                if fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) =>
            {
                unsafe_dir(dir, "is a symbolic link".into())
            }
            Some(libc::ENOTDIR) => unsafe_dir(dir, "is not a directory".into()),
            _ => ControlError::io("open the directory", dir)(e),
        })?;
    let meta = fd
        .metadata()
        .map_err(ControlError::io("check the directory", dir))?;
    if let Some(why) = distrust(&meta, euid) {
        return Err(unsafe_dir(dir, why));
    }
    for a in ancestors(dir) {
        let m = fs::metadata(&a).map_err(ControlError::io("check the directory", &a))?;
        if let Some(why) = distrust(&m, euid) {
            return Err(unsafe_dir(
                &a,
                format!("{why}, and it holds {}", dir.display()),
            ));
        }
    }
    Ok(VerifiedDir {
        path: dir.to_path_buf(),
        fd,
        dev: meta.dev(),
        ino: meta.ino(),
    })
}

impl VerifiedDir {
    /// A path to `name` in this very directory, through its descriptor; None when /proc is
    /// not mounted or the path would be too long for a socket (then the plain path is used
    /// and [`VerifiedDir::unchanged`] is the guard).
    pub fn through_fd(&self, name: &std::ffi::OsStr) -> Option<PathBuf> {
        let p = PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd())).join(name);
        let fits = p.as_os_str().len() <= crate::config::MAX_SOCKET_PATH;
        (fits && Path::new("/proc/self/fd").is_dir()).then_some(p)
    }

    /// Whether the path still leads to the directory that was checked.
    pub fn unchanged(&self) -> Result<(), ControlError> {
        match fs::symlink_metadata(&self.path) {
            Ok(m) if m.dev() == self.dev && m.ino() == self.ino => Ok(()),
            _ => Err(unsafe_dir(
                &self.path,
                "was replaced while clawvisor was setting up its socket".into(),
            )),
        }
    }
}

/// Why a directory with this metadata cannot hold clawvisor's socket; None when it can.
pub fn distrust(meta: &fs::Metadata, euid: u32) -> Option<String> {
    let (uid, mode) = (meta.uid(), meta.mode() & 0o7777);
    if uid != euid && uid != 0 {
        return Some(format!(
            "belongs to uid {uid}, not to clawvisor's user (uid {euid}) or root"
        ));
    }
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Some(format!(
            "is writable by its group or by others without the sticky bit (mode {mode:04o})"
        ));
    }
    None
}

/// The directories above `dir`, both as written (a symlink's own directory matters) and as
/// resolved (the real directories); the root last.
fn ancestors(dir: &Path) -> Vec<PathBuf> {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut out: Vec<PathBuf> = abs.ancestors().skip(1).map(Path::to_path_buf).collect();
    if let Ok(real) = fs::canonicalize(&abs) {
        out.extend(real.ancestors().skip(1).map(Path::to_path_buf));
    }
    out.sort();
    out.dedup();
    out.retain(|p| !p.as_os_str().is_empty());
    out
}

fn unsafe_dir(path: &Path, why: String) -> ControlError {
    ControlError::UnsafeDir {
        path: path.to_path_buf(),
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_directory_is_private() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("run/clawvisor");
        let v = prepare(&dir, None).unwrap();
        assert_eq!(v.fd.metadata().unwrap().mode() & 0o777, 0o700);
        v.unchanged().unwrap();
    }

    #[test]
    fn writable_by_others_needs_the_sticky_bit() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("s");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let e = prepare(&dir, None).unwrap_err().to_string();
        assert!(e.contains("without the sticky bit (mode 0777)"), "{e}");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o1777)).unwrap();
        prepare(&dir, None).unwrap();
    }

    #[test]
    fn a_swap_after_the_check_is_noticed() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("s");
        fs::create_dir(&dir).unwrap();
        let v = prepare(&dir, None).unwrap();
        fs::rename(&dir, d.path().join("moved")).unwrap();
        fs::create_dir(&dir).unwrap();
        let e = v.unchanged().unwrap_err().to_string();
        assert!(e.contains("was replaced"), "{e}");
        // The descriptor still names the checked directory, wherever it went.
        let p = v.through_fd("x".as_ref()).unwrap();
        fs::write(&p, "").unwrap();
        assert!(d.path().join("moved/x").exists());
    }
}
