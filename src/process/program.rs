//! Where a command's program is found: the `PATH` the child will see, searched the way
//! `execvp` does, and the words a person reads when it is not there. Shared by the spawner
//! (which tries the candidates in the child) and the preflight (which checks them up front).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The search path when the child's environment has no `PATH` (glibc's confstr default,
/// plus /usr/local/bin where npm puts openclaw).
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The files `execvp` would try for `program`, in order: the program itself when it names a
/// path (contains `/`), else each `PATH` entry joined with it (an empty entry is `.`).
pub fn candidates(program: &str, path: Option<&OsStr>) -> Vec<PathBuf> {
    if program.contains('/') {
        return vec![PathBuf::from(program)];
    }
    let path = path.unwrap_or(OsStr::new(DEFAULT_PATH));
    path.as_bytes()
        .split(|b| *b == b':')
        .map(|dir| {
            let dir = if dir.is_empty() { b"." as &[u8] } else { dir };
            Path::new(OsStr::from_bytes(dir)).join(program)
        })
        .collect()
}

/// Who will exec the program: their ids decide which execute bits count.
#[derive(Clone, Debug)]
pub struct Runner<'a> {
    pub name: &'a str,
    pub uid: u32,
    pub gids: &'a [u32],
}

/// Why an exec failed, in words naming the program, the search path and the user:
/// `"openclaw": not found on PATH (/usr/local/bin:/usr/bin) for user openclaw`.
pub fn exec_error(program: &str, path: Option<&OsStr>, user: &str, errno: i32) -> String {
    let search = path.unwrap_or(OsStr::new(DEFAULT_PATH)).to_string_lossy();
    match errno {
        libc::ENOENT | libc::ENOTDIR if !program.contains('/') => {
            format!("{program:?}: not found on PATH ({search}) for user {user}")
        }
        libc::ENOENT | libc::ENOTDIR => format!("{program:?}: no such file (for user {user})"),
        libc::EACCES => format!(
            "{program:?}: permission denied for user {user} (not executable, or a directory on the way is not searchable)"
        ),
        libc::ENOEXEC => format!(
            "{program:?}: exec format error (not a program for this machine, or a script without a #! line)"
        ),
        libc::ETXTBSY => format!("{program:?}: the file is being written (text file busy)"),
        e => format!("{program:?}: {}", nix::errno::Errno::from_raw(e).desc()),
    }
}

/// Finds `program` as `execvp` would for `who`, checking execute permission by mode bits.
/// `cwd` is where a relative program name (`./gw`) is resolved. The error is
/// [`exec_error`]'s sentence.
pub fn find(
    program: &str,
    path: Option<&OsStr>,
    cwd: Option<&Path>,
    who: &Runner<'_>,
) -> Result<PathBuf, String> {
    let mut denied = false;
    for cand in candidates(program, path) {
        let full = match cwd {
            Some(dir) if cand.is_relative() => dir.join(&cand),
            _ => cand.clone(),
        };
        let Ok(meta) = std::fs::metadata(&full) else {
            continue;
        };
        if meta.is_file() && executable_by(&meta, who) {
            return Ok(full);
        }
        denied = true;
    }
    let errno = if denied { libc::EACCES } else { libc::ENOENT };
    Err(exec_error(program, path, who.name, errno))
}

fn executable_by(meta: &std::fs::Metadata, who: &Runner<'_>) -> bool {
    let mode = meta.permissions().mode();
    if who.uid == 0 {
        return mode & 0o111 != 0;
    }
    if meta.uid() == who.uid {
        mode & 0o100 != 0
    } else if who.gids.contains(&meta.gid()) {
        mode & 0o010 != 0
    } else {
        mode & 0o001 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_name_is_searched_on_every_path_entry() {
        let c = candidates("gw", Some(OsStr::new("/a::/b")));
        assert_eq!(
            c,
            vec![
                PathBuf::from("/a/gw"),
                PathBuf::from("./gw"),
                PathBuf::from("/b/gw")
            ]
        );
        assert_eq!(candidates("./gw", None), vec![PathBuf::from("./gw")]);
    }

    #[test]
    fn a_missing_program_names_path_and_user() {
        let who = Runner {
            name: "openclaw",
            uid: 4242,
            gids: &[4242],
        };
        let e = find(
            "no-such-program-x",
            Some(OsStr::new("/nonexistent")),
            None,
            &who,
        )
        .unwrap_err();
        assert_eq!(
            e,
            "\"no-such-program-x\": not found on PATH (/nonexistent) for user openclaw"
        );
        assert!(find("sh", None, None, &who).is_ok());
    }
}
