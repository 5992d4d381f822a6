//! Why the control socket could not be set up. These stop clawvisor at start-up: a
//! supervisor nobody can reach, or one that stole another's socket, is worse than none.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(
        "another clawvisor is already running with the control socket {path}: stop it first, \
         or give this one another `[control] socket`"
    )]
    InUse { path: PathBuf },
    #[error(
        "{path} exists and is not a socket; refusing to replace it (remove it or pick another `[control] socket`)"
    )]
    NotASocket { path: PathBuf },
    #[error("control socket path {path} is {len} bytes long; Unix sockets allow at most 107")]
    PathTooLong { path: PathBuf, len: usize },
    #[error(
        "the control socket's directory {path} {why}; refusing to use it (whoever can replace \
         it can stand in for clawvisor's socket): fix it, or pick another \
         `[control] socket`"
    )]
    UnsafeDir { path: PathBuf, why: String },
    #[error("`[control] group` {group:?} does not exist on this machine")]
    UnknownGroup { group: String },
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl ControlError {
    pub(crate) fn io(what: &'static str, path: &std::path::Path) -> impl FnOnce(io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| ControlError::Io { what, path, source }
    }
}
