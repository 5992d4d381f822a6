//! The socket file on disk: claiming it at start-up and removing it at the end.
//!
//! Two clawvisors must never share a socket, and a crash must not lock the next start out.
//! So: an advisory lock on `<socket>.lock` (released by the kernel when its holder dies,
//! even by SIGKILL) says whether the owner is alive; a socket file whose lock is free and
//! that refuses connections is stale and is replaced. Anything that is not a socket is
//! never deleted. The lock file itself stays (deleting it would race with the next start).

use std::fs::{self, File};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use super::error::ControlError;
use super::socket_dir;
use crate::config::MAX_SOCKET_PATH;

/// A bound socket file; dropping it removes the file if it is still the one we made.
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
    /// Held for our lifetime: the kernel drops the lock when clawvisor dies.
    _lock: File,
}

impl SocketFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        // Only our own inode: a newer clawvisor may have replaced a file we thought ours.
        if let Ok(m) = fs::symlink_metadata(&self.path)
            && m.dev() == self.dev
            && m.ino() == self.ino
        {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Who owns the socket file and with which permissions.
pub struct Ownership {
    /// 0o600 by default; 0o660 when a group may use it.
    pub mode: u32,
    pub gid: Option<u32>,
}

/// Claims `path`: replaces a stale socket, refuses a live one, binds, sets ownership.
pub fn bind(path: &Path, own: &Ownership) -> Result<(UnixListener, SocketFile), ControlError> {
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(ControlError::PathTooLong {
            path: path.to_path_buf(),
            len,
        });
    }
    let dir_path = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(name) = path.file_name() else {
        return Err(ControlError::NotASocket {
            path: path.to_path_buf(),
        });
    };
    // Checked once, then used through its descriptor (see `socket_dir`).
    let dir = socket_dir::prepare(dir_path, own.gid)?;
    let lock = take_lock(&dir, name, path)?;
    remove_if_stale(path)?;
    let bind_at = dir.through_fd(name).unwrap_or_else(|| path.to_path_buf());
    let listener = UnixListener::bind(&bind_at).map_err(ControlError::io("bind", path))?;
    let in_dir = |what: &'static str, e: nix::Error| ControlError::io(what, path)(e.into());
    if let Err(e) = dir.unchanged() {
        let _ = nix::unistd::unlinkat(&dir.fd, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
        return Err(e);
    }
    let st = nix::sys::stat::fstatat(&dir.fd, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(|e| in_dir("stat", e))?;
    let file = SocketFile {
        path: path.to_path_buf(),
        dev: st.st_dev,
        ino: st.st_ino,
        _lock: lock,
    };
    // The peer-credential check is the real guard; the mode keeps other users from even
    // connecting. (Setting it after bind leaves a moment where the umask applies.) Through
    // the directory's descriptor, on the entry just made in a directory only we can write.
    if let Some(gid) = own.gid {
        nix::unistd::fchownat(
            &dir.fd,
            name,
            None,
            Some(nix::unistd::Gid::from_raw(gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| in_dir("set the group of", e))?;
    }
    nix::sys::stat::fchmodat(
        &dir.fd,
        name,
        nix::sys::stat::Mode::from_bits_truncate(own.mode),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .map_err(|e| in_dir("set the mode of", e))?;
    listener
        .set_nonblocking(true)
        .map_err(ControlError::io("configure", path))?;
    Ok((listener, file))
}

fn lock_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// Opens `<name>.lock` in the checked directory, never through a symlink.
fn take_lock(
    dir: &socket_dir::VerifiedDir,
    name: &std::ffi::OsStr,
    path: &Path,
) -> Result<File, ControlError> {
    use nix::fcntl::OFlag;
    let lp = lock_path(path);
    let mut lock_name = name.to_owned();
    lock_name.push(".lock");
    let fd = nix::fcntl::openat(
        &dir.fd,
        lock_name.as_os_str(),
        OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| {
        ControlError::io("open the lock file", &lp)(crate::nofollow::explain(&lp, e.into()))
    })?;
    let f = File::from(fd);
    // SAFETY: flock on a file descriptor we own; no memory is involved.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Err(ControlError::InUse {
                path: path.to_path_buf(),
            });
        }
        return Err(ControlError::io("lock", &lp)(e));
    }
    Ok(f)
}

/// A leftover socket nobody listens on is removed; a listening one or a non-socket is an error.
fn remove_if_stale(path: &Path) -> Result<(), ControlError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ControlError::io("stat", path)(e)),
    };
    if !meta.file_type().is_socket() {
        return Err(ControlError::NotASocket {
            path: path.to_path_buf(),
        });
    }
    // Something that does not take our lock (an older build, another tool) may still be
    // listening: asking is the only way to know.
    match UnixStream::connect(path) {
        Ok(_) => Err(ControlError::InUse {
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(socket = %path.display(), "replacing a stale control socket");
            fs::remove_file(path).map_err(ControlError::io("remove the stale socket", path))
        }
        Err(e) => Err(ControlError::io("check the existing socket", path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIVATE: Ownership = Ownership {
        mode: 0o600,
        gid: None,
    };

    #[test]
    fn binds_with_mode_0600_and_removes_the_file_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/c.sock");
        let (_l, file) = bind(&path, &PRIVATE).unwrap();
        let m = fs::symlink_metadata(&path).unwrap();
        assert!(m.file_type().is_socket());
        assert_eq!(m.mode() & 0o777, 0o600);
        drop(file);
        assert!(!path.exists());
    }

    #[test]
    fn a_live_socket_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sock");
        let (_l, _file) = bind(&path, &PRIVATE).unwrap();
        let err = bind(&path, &PRIVATE).unwrap_err();
        assert!(matches!(err, ControlError::InUse { .. }), "{err}");
        assert!(err.to_string().contains("already running"));
        assert!(
            UnixStream::connect(&path).is_ok(),
            "the first owner keeps its socket"
        );
    }

    #[test]
    fn a_listener_without_our_lock_is_also_live() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sock");
        let _other = UnixListener::bind(&path).unwrap();
        assert!(matches!(
            bind(&path, &PRIVATE),
            Err(ControlError::InUse { .. })
        ));
    }

    #[test]
    fn a_stale_socket_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sock");
        drop(UnixListener::bind(&path).unwrap()); // the file stays, nobody listens
        assert!(path.exists());
        let (l, _file) = bind(&path, &PRIVATE).unwrap();
        l.set_nonblocking(false).unwrap();
        let _c = UnixStream::connect(&path).unwrap();
        assert!(l.accept().is_ok());
    }

    #[test]
    fn a_regular_file_is_never_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sock");
        fs::write(&path, "precious").unwrap();
        assert!(matches!(
            bind(&path, &PRIVATE),
            Err(ControlError::NotASocket { .. })
        ));
        assert_eq!(fs::read_to_string(&path).unwrap(), "precious");
    }

    #[test]
    fn drop_leaves_a_replacement_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sock");
        let (_l, file) = bind(&path, &PRIVATE).unwrap();
        fs::remove_file(&path).unwrap();
        let _other = UnixListener::bind(&path).unwrap();
        drop(file);
        assert!(path.exists());
    }
}
