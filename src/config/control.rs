//! `[control]`: the Unix control socket (`clawvisor ctl`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::units::Dur;

/// The longest socket path Linux accepts (`sun_path` is 108 bytes with its NUL).
pub const MAX_SOCKET_PATH: usize = 107;

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ControlConfig {
    /// Path of the control socket. Default: `$RUNTIME_DIRECTORY/clawvisor.sock` (systemd's
    /// `RuntimeDirectory=`), else `/run/clawvisor/clawvisor.sock` as root, else
    /// `$XDG_RUNTIME_DIR/clawvisor.sock`. The socket is created with mode 0600; a stale one
    /// left by a dead clawvisor is replaced, a live one is an error at start-up.
    pub socket: Option<PathBuf>,
    /// A group whose members may also use the socket, besides root and the user clawvisor
    /// runs as. With a group the socket is made `0660` and owned by that group.
    pub group: Option<String>,
    /// How long a connected client may take to send a whole request; a silent or
    /// half-sent request is answered with a timeout error and the connection is closed.
    pub read_timeout: Dur,
    /// How long the socket waits for the supervisor to answer a command before telling
    /// the client it timed out.
    pub reply_timeout: Dur,
    /// How many clients may be connected at once (`ctl logs --follow` and `ctl events`
    /// each hold one); clients beyond it get a "busy" error.
    pub max_clients: usize,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            socket: None,
            group: None,
            read_timeout: Dur::secs(10),
            reply_timeout: Dur::secs(10),
            max_clients: 256,
        }
    }
}

impl ControlConfig {
    pub fn validate(&self, out: &mut Vec<(String, String)>) {
        if let Some(p) = &self.socket {
            let len = p.as_os_str().len();
            if len == 0 {
                out.push(("control.socket".into(), "must not be empty".into()));
            } else if len > MAX_SOCKET_PATH {
                out.push((
                    "control.socket".into(),
                    format!(
                        "{:?} is {len} bytes long; a Unix socket path may have at most \
                         {MAX_SOCKET_PATH} (pick a shorter directory)",
                        p.display().to_string()
                    ),
                ));
            }
        }
        if self.group.as_deref().is_some_and(|g| g.trim().is_empty()) {
            out.push((
                "control.group".into(),
                "must be a group name (or leave it out)".into(),
            ));
        }
        for (key, d) in [
            ("control.read_timeout", self.read_timeout),
            ("control.reply_timeout", self.reply_timeout),
        ] {
            if d.get().is_zero() {
                out.push((key.into(), "must be longer than 0s".into()));
            }
        }
        if self.max_clients == 0 {
            out.push(("control.max_clients".into(), "must be at least 1".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(cfg: &ControlConfig) -> Vec<(String, String)> {
        let mut out = Vec::new();
        cfg.validate(&mut out);
        out
    }

    #[test]
    fn defaults_are_valid() {
        assert!(problems(&ControlConfig::default()).is_empty());
    }

    #[test]
    fn too_long_path_zero_timeouts_and_no_clients_are_reported() {
        let cfg = ControlConfig {
            socket: Some(PathBuf::from(format!("/tmp/{}.sock", "x".repeat(120)))),
            group: Some(" ".into()),
            read_timeout: Dur::secs(0),
            reply_timeout: Dur::secs(0),
            max_clients: 0,
        };
        let keys: Vec<String> = problems(&cfg).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "control.socket",
                "control.group",
                "control.read_timeout",
                "control.reply_timeout",
                "control.max_clients"
            ]
        );
    }
}
