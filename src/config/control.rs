//! `[control]`: the Unix control socket.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ControlConfig {
    /// Path of the control socket. Default: `$RUNTIME_DIRECTORY/clawvisor.sock`, else
    /// `/run/clawvisor/clawvisor.sock` as root, else `$XDG_RUNTIME_DIR/clawvisor.sock`.
    pub socket: Option<PathBuf>,
    /// A group whose members may also use the socket (besides root and the owner).
    pub group: Option<String>,
}
