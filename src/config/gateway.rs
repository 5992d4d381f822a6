//! `[gateway]`: what to run and in which environment.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::units::SignalName;

/// Variables that make openclaw believe systemd restarts it; removed by default so that a
/// restart request (SIGUSR2) becomes a clean exit that clawvisor restarts at once.
pub const SYSTEMD_ENV_VARS: &[&str] = &[
    "INVOCATION_ID",
    "JOURNAL_STREAM",
    "SYSTEMD_EXEC_PID",
    "OPENCLAW_SYSTEMD_UNIT",
    "NOTIFY_SOCKET",
    "WATCHDOG_PID",
    "WATCHDOG_USEC",
];

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// The gateway's argv: an array, never a shell string. Default `["openclaw", "gateway"]`.
    pub command: Vec<String>,
    /// Working directory of the child. Default: clawvisor's own.
    pub cwd: Option<PathBuf>,
    /// Variables to add to (or override in) the child's environment.
    pub env: BTreeMap<String, String>,
    /// Variables to remove from the child's environment. The variables named by `token_env`
    /// and `password_env` are always removed as well (clawvisor's secrets, not the gateway's).
    pub env_remove: Vec<String>,
    /// Start from an empty environment instead of clawvisor's own (then only `env` is passed).
    pub env_clear: bool,
    /// Set OPENCLAW_SUPERVISOR_MODE=external and remove systemd's variables (INVOCATION_ID,
    /// JOURNAL_STREAM, SYSTEMD_EXEC_PID, OPENCLAW_SYSTEMD_UNIT, NOTIFY_SOCKET, WATCHDOG_PID,
    /// WATCHDOG_USEC) so a gateway restart request is a clean exit that clawvisor restarts.
    pub external_supervisor: bool,
    /// Run the child as this user (name or uid). Needs clawvisor to run as root.
    pub user: Option<String>,
    /// Run the child with this group (name or gid). Default: the user's primary group.
    pub group: Option<String>,
    /// File mode creation mask for the child, as an octal string ("027"). An integer is
    /// refused: `27` would be decimal, octal 033.
    pub umask: Option<Umask>,
    /// Signals clawvisor passes on to the child's process group when it receives them: USR2,
    /// WINCH, ALRM. USR2 is openclaw's restart request: the clean exit that follows restarts
    /// at once. HUP (clawvisor's reload), TERM/INT/QUIT (clawvisor's stop) and USR1 (the Node
    /// inspector) are refused with the reason.
    pub forward_signals: Vec<SignalName>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            command: vec!["openclaw".into(), "gateway".into()],
            cwd: None,
            env: BTreeMap::new(),
            env_remove: Vec::new(),
            env_clear: false,
            external_supervisor: true,
            user: None,
            group: None,
            umask: None,
            forward_signals: vec![SignalName(nix::sys::signal::Signal::SIGUSR2)],
        }
    }
}

/// A umask, written "027" (octal string) or as an integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Umask(pub u32);

impl<'de> Deserialize<'de> for Umask {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u32),
            Str(String),
        }
        let v = match Raw::deserialize(d)? {
            // 27 would be decimal 27 = octal 033, surely not what was meant: only a string
            // says octal without doubt.
            Raw::Int(n) => {
                let digits = n.to_string();
                let meant = if digits.chars().all(|c| ('0'..='7').contains(&c)) {
                    format!("0{digits}")
                } else {
                    "027".to_string()
                };
                return Err(serde::de::Error::custom(format!(
                    "{n} is ambiguous (decimal {n} is octal {n:03o}); write the umask as an octal string: umask = \"{meant}\""
                )));
            }
            Raw::Str(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8).map_err(|_| {
                serde::de::Error::custom(format!("{s:?} is not an octal umask (try \"027\")"))
            })?,
        };
        if v > 0o777 {
            return Err(serde::de::Error::custom(format!(
                "umask {v:o} is out of range (0 to 777 octal)"
            )));
        }
        Ok(Umask(v))
    }
}

impl GatewayConfig {
    pub fn validate(&self, out: &mut Vec<(String, String)>) {
        if self.command.is_empty() || self.command[0].is_empty() {
            out.push(("gateway.command".into(), "must name a program".into()));
        }
        // The names must exist here: a typo would otherwise surface as a crash loop.
        if let Err(e) =
            super::users::resolve_credentials(self.user.as_deref(), self.group.as_deref())
        {
            let key = if e.starts_with("gateway.group") {
                "gateway.group"
            } else {
                "gateway.user"
            };
            let msg = e
                .split_once(": ")
                .map_or(e.as_str(), |(_, m)| m)
                .to_string();
            out.push((key.into(), msg));
        }
        if self.group.is_some() && self.user.is_none() && !nix::unistd::Uid::effective().is_root() {
            out.push((
                "gateway.group".into(),
                "needs clawvisor to run as root".into(),
            ));
        }
        for (i, sig) in self.forward_signals.iter().enumerate() {
            use nix::sys::signal::Signal::*;
            let why = match sig.0 {
                SIGUSR2 | SIGWINCH | SIGALRM => continue,
                SIGHUP => "HUP reloads clawvisor's own config, so it is never forwarded (to signal the gateway: `clawvisor ctl signal HUP`)".to_string(),
                SIGTERM | SIGINT | SIGQUIT => format!("{sig} stops clawvisor (and the gateway with it), so it is never forwarded"),
                SIGUSR1 => "USR1 opens the Node inspector (a debugger port) in openclaw: never forward it".to_string(),
                _ => format!("{sig} is not caught by clawvisor, so it cannot be forwarded (forwardable: USR2, WINCH, ALRM; any signal: `clawvisor ctl signal NAME`)"),
            };
            out.push((format!("gateway.forward_signals.{i}"), why));
        }
        for k in self.env.keys() {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                out.push((
                    format!("gateway.env.{k}"),
                    "is not a valid variable name".into(),
                ));
            }
        }
    }
}
