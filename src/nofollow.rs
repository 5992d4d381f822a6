//! Opening and renaming clawvisor's own files (logs, state) without following symbolic links.
//!
//! clawvisor often runs as root and writes into directories that other users may be able to
//! write to by mistake (a log dir shared with the gateway's user, a state dir made by hand).
//! A symlink planted at `gateway.out.log` or `.state.json.tmp` pointing at, say,
//! `/etc/shadow` would otherwise have root append to or truncate that file. So every open of
//! these files uses `O_NOFOLLOW` (std adds `O_CLOEXEC` itself), and a rotation's rename
//! never replaces an existing name. A refused link is an error that names the path.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Opens `path` for appending, creating it with `mode`; a symlink there is refused.
pub fn open_append(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| explain(path, e))
}

/// Opens `path` for writing, truncated, creating it with `mode`; a symlink is refused.
pub fn open_truncate(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| explain(path, e))
}

/// Opens `path` for reading; a symlink is refused. `O_NONBLOCK` so that a FIFO planted
/// there does not block the open (callers check that it is a regular file).
pub fn open_read(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| explain(path, e))
}

/// Renames `from` to `to` unless `to` exists (a file, or a link someone planted): a rotated
/// log never replaces anything. Filesystems without `RENAME_NOREPLACE` get a check first.
pub fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in a path"))
    };
    let (cf, ct) = (c(from)?, c(to)?);
    // SAFETY: two NUL-terminated paths that live across the call; no memory is shared.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            cf.as_ptr(),
            libc::AT_FDCWD,
            ct.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EEXIST) => Err(exists(to)),
        Some(libc::EINVAL) | Some(libc::ENOSYS) => {
            if std::fs::symlink_metadata(to).is_ok() {
                return Err(exists(to));
            }
            std::fs::rename(from, to)
        }
        _ => Err(e),
    }
}

fn exists(to: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "{} already exists; not replacing it (who made it?)",
            to.display()
        ),
    )
}

/// Says in words what `ELOOP` from an `O_NOFOLLOW` open means, naming the path.
pub fn explain(path: &Path, e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        return io::Error::new(
            e.kind(),
            format!(
                "{} is a symbolic link; clawvisor does not follow links in its log and state \
                 directories (someone else may have planted it): remove it",
                path.display()
            ),
        );
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_refused_and_their_targets_untouched() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        for r in [
            open_append(&link, 0o600).map(drop),
            open_truncate(&link, 0o600).map(drop),
            open_read(&link).map(drop),
        ] {
            let e = r.unwrap_err();
            assert!(e.to_string().contains("is a symbolic link"), "{e}");
            assert!(e.to_string().contains(&link.display().to_string()), "{e}");
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }

    #[test]
    fn a_rename_never_replaces() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        std::fs::write(&a, "a").unwrap();
        std::fs::write(&b, "b").unwrap();
        let e = rename_noreplace(&a, &b).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "b");
        let c = d.path().join("c");
        rename_noreplace(&a, &c).unwrap();
        assert_eq!(std::fs::read_to_string(&c).unwrap(), "a");
    }
}
