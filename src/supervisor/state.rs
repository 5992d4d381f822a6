//! The supervisor's state: owned by the supervisor task, changed only by `decide()`.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use crate::config::{RestartConfig, SignalName, StopConfig};

use super::exit::ExitRecord;
use super::pause::PauseRecord;

/// The resume hint shown wherever a pause is reported.
pub const RESUME_HINT: &str = "clawvisor ctl resume";

/// The clock, passed into `decide()` so tests never sleep.
#[derive(Clone, Copy, Debug)]
pub struct Now {
    pub mono: Instant,
    pub wall: SystemTime,
}

impl Now {
    pub fn real() -> Now {
        Now {
            mono: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// The same clock `d` later (for tests and simulations).
    pub fn after(self, d: Duration) -> Now {
        Now {
            mono: self.mono + d,
            wall: self.wall + d,
        }
    }
}

/// What happens once a stopping child has exited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterStop {
    /// Start it again at once (ctl restart, a restart rule).
    Restart,
    /// clawvisor exits (SIGTERM, ctl shutdown).
    Exit,
    /// Hold it down until `ctl resume` (ctl pause, a pause rule).
    Pause,
    /// Hold it down until `ctl start` (ctl stop).
    Hold,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    /// Not running and not scheduled: before the first start, or after `ctl stop`.
    Down,
    /// A spawn was asked for; the result is the next event.
    Starting,
    /// `ready`: its readiness probe (or, without one, its first proof of life) passed.
    Running {
        pid: i32,
        started_at: SystemTime,
        ready: bool,
    },
    /// Waiting out the restart delay.
    Backoff { until: Instant, delay: Duration },
    /// The stop signal was sent; SIGKILL follows at `deadline`.
    Stopping {
        pid: i32,
        deadline: Instant,
        killed: bool,
        then: AfterStop,
    },
    /// Held down until a person resumes; the reason is in `State::pause`.
    Paused,
    /// clawvisor is exiting with this code.
    Exiting { code: i32 },
}

impl Phase {
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Down => "stopped",
            Phase::Starting => "starting",
            Phase::Running { .. } => "running",
            Phase::Backoff { .. } => "backoff",
            Phase::Stopping { .. } => "stopping",
            Phase::Paused => "paused",
            Phase::Exiting { .. } => "exiting",
        }
    }

    pub fn pid(&self) -> Option<i32> {
        match *self {
            Phase::Running { pid, .. } | Phase::Stopping { pid, .. } => Some(pid),
            _ => None,
        }
    }
}

/// The part of the config `decide()` reads.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    pub restart: RestartConfig,
    pub stop_signal: SignalName,
    pub stop_timeout: Duration,
}

impl Rules {
    pub fn new(restart: &RestartConfig, stop: &StopConfig) -> Rules {
        Rules {
            restart: restart.clone(),
            stop_signal: stop.signal,
            stop_timeout: stop.timeout.get(),
        }
    }
}

/// How long a SIGKILLed child may take to be reaped before we stop waiting for it.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub struct State {
    pub phase: Phase,
    pub rules: Rules,
    pub pause: Option<PauseRecord>,
    /// Consecutive failures: the backoff exponent. Reset after a healthy run or a resume.
    pub failures: u32,
    /// When recent unrequested exits happened, for crash-loop detection (oldest first).
    pub crashes: VecDeque<Instant>,
    /// Spawns after the first one.
    pub restarts: u64,
    /// `restarts` split by reason (see `restart_reason`); only reasons seen so far.
    pub restarts_by_reason: std::collections::BTreeMap<&'static str, u64>,
    /// The reason the pending restart (after a backoff or a stop) will be counted under.
    pub pending_restart: &'static str,
    pub last_exit: Option<ExitRecord>,
    /// A restart request was passed to the gateway (SIGUSR2): its clean exit restarts at once.
    pub restart_requested: bool,
    /// `ctl restart` came while the gateway was starting: restart it once it has started.
    pub restart_when_started: bool,
    /// Why the current stop/restart was asked for, for the log and status.
    pub last_reason: Option<String>,
    /// When the current (or last) child was spawned.
    pub started: Option<Instant>,
    pub rng: u64,
    /// The command that clears a pause, as printed in alerts (see [`super::hint`]).
    pub resume_hint: String,
}

impl State {
    pub fn new(rules: Rules, seed: u64) -> State {
        State {
            phase: Phase::Down,
            rules,
            pause: None,
            failures: 0,
            crashes: VecDeque::new(),
            restarts: 0,
            restarts_by_reason: Default::default(),
            pending_restart: "other",
            last_exit: None,
            restart_requested: false,
            restart_when_started: false,
            last_reason: None,
            started: None,
            rng: seed | 1,
            resume_hint: RESUME_HINT.to_string(),
        }
    }

    /// The next moment `decide()` wants a `Tick`, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Backoff { until, .. } => Some(until),
            Phase::Stopping {
                deadline, killed, ..
            } => Some(if killed {
                deadline + KILL_GRACE
            } else {
                deadline
            }),
            _ => None,
        }
    }
}
