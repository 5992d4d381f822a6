//! How a child ended, and the exit code clawvisor passes on.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// The way a process ended, as waitpid reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    /// The shell convention: the code itself, or 128+N for signal N.
    pub fn as_exit_code(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(n) => 128 + n,
        }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Exit::Code(c) => write!(f, "exit code {c}"),
            Exit::Signal(n) => match nix::sys::signal::Signal::try_from(n) {
                Ok(s) => write!(f, "killed by {}", s.as_str()),
                Err(_) => write!(f, "killed by signal {n}"),
            },
        }
    }
}

/// The last exit of the gateway, kept for status and the pause record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExitRecord {
    pub pid: i32,
    pub exit: Exit,
    #[serde(with = "super::wall_time")]
    pub at: SystemTime,
    #[serde(with = "humantime_serde")]
    pub uptime: Duration,
}
