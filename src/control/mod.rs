//! The control socket: how people and scripts drive a running clawvisor.
//!
//! - [`protocol`]: the typed requests and responses, shared by both ends.
//! - [`frame`]: length-prefixed JSON frames with a size limit.
//! - [`server`]: binds the socket at start-up and answers on its own task; every command
//!   reaches the supervisor through its inbox, never by touching its state.
//! - [`client`] and [`cli`]: `clawvisor ctl`.

pub mod cli;
pub mod client;
mod connection;
mod dispatch;
mod error;
mod escape;
mod exit_codes;
pub mod frame;
mod peer;
pub mod protocol;
mod render;
mod render_parts;
pub mod server;
mod socket_dir;
mod socket_file;
mod stream;
mod wait_idle_cmd;

use std::path::PathBuf;

pub use cli::{CtlArgs, CtlCommand, run_ctl};
pub use connection::ControlContext;
pub use error::ControlError;
pub use peer::{Access, Peer};
pub use protocol::{ErrorKind, MAX_FRAME, PROTOCOL_VERSION, ProbeKind, Request, Response};
pub use server::ControlServer;

use crate::config::ControlConfig;

/// The socket's file name inside a runtime directory.
pub const SOCKET_NAME: &str = "clawvisor.sock";

/// Where root's clawvisor listens when nothing else is configured.
pub const SYSTEM_SOCKET: &str = "/run/clawvisor/clawvisor.sock";

/// The socket path, used alike by the server and by `clawvisor ctl`: the configured
/// `[control] socket`, else `$RUNTIME_DIRECTORY` (systemd's `RuntimeDirectory=`; the first
/// one if it lists several), else `/run/clawvisor` as root, else `$XDG_RUNTIME_DIR`, else a
/// per-user directory in /tmp.
pub fn socket_path(cfg: &ControlConfig) -> PathBuf {
    if let Some(p) = &cfg.socket {
        return p.clone();
    }
    let env_dir = |name: &str| {
        std::env::var_os(name)
            .and_then(|v| {
                v.to_str()
                    .and_then(|s| s.split(':').next())
                    .map(PathBuf::from)
            })
            .filter(|p| p.is_absolute())
    };
    if let Some(dir) = env_dir("RUNTIME_DIRECTORY") {
        return dir.join(SOCKET_NAME);
    }
    let uid = nix::unistd::Uid::effective();
    if uid.is_root() {
        return PathBuf::from(SYSTEM_SOCKET);
    }
    if let Some(dir) = env_dir("XDG_RUNTIME_DIR") {
        return dir.join(SOCKET_NAME);
    }
    PathBuf::from(format!("/tmp/clawvisor-{uid}")).join(SOCKET_NAME)
}
