//! What the senses tell the brain, and what the brain asks the hands to do.

use super::exit::Exit;
use super::pause::PauseRecord;
use super::state::Rules;

/// Something that happened. Every sense (reaper, signals, log patterns, probes, samplers,
/// the control socket) reaches `decide()` only through one of these.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// clawvisor started; a pause left by an earlier run, if any.
    Boot {
        persisted_pause: Option<PauseRecord>,
    },
    Spawned {
        pid: i32,
    },
    SpawnFailed {
        error: String,
    },
    Exited {
        pid: i32,
        exit: Exit,
    },
    /// The gateway answers: its readiness probe passed (or, without probes, it started).
    Ready {
        pid: i32,
    },
    /// A deadline (`State::next_deadline`) may have passed.
    Tick,
    /// SIGTERM/SIGINT/SIGQUIT or `ctl shutdown`: stop the child and exit.
    Shutdown {
        why: String,
    },
    /// A signal to pass on to the child's process group.
    Forward {
        signal: i32,
    },
    /// The config was reloaded.
    Reload(Box<Rules>),
    /// A person or a script asked for something (control socket).
    Command(Command),
    /// A watcher, probe or log rule saw trouble and wants this reaction.
    Trouble {
        source: String,
        reason: String,
        reaction: Reaction,
    },
    /// The trouble a watcher or probe alerted about is over.
    Cleared {
        source: String,
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Pause { reason: Option<String> },
    Resume,
    Restart,
    Stop,
    Start,
}

pub use crate::config::Reaction;

/// Something to do: the imperative shell executes these in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Spawn,
    /// Send a signal to the child's process group.
    Signal {
        pid: i32,
        signal: i32,
    },
    /// SIGKILL the child's group and every descendant, wherever it moved.
    KillTree {
        pid: i32,
    },
    /// Kill what is left of a dead child's tree (descendants that outlived it).
    KillStragglers,
    SavePause(PauseRecord),
    ClearPause,
    /// Tell a person (the alert router decides whom and how often).
    Alert {
        about: AlertAbout,
        summary: String,
    },
    /// The condition an earlier alert was about has ended (a recovery message).
    Resolved {
        about: AlertAbout,
        summary: String,
    },
    /// Answer the control command being handled.
    Reply(Result<String, String>),
    Exit {
        code: i32,
    },
}

/// What an alert is about: the alert router tells conditions apart by it and pairs each
/// with its recovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlertAbout {
    /// Held down until `ctl resume`; recovered by the resume.
    Pause,
    /// The gateway failed and is restarted; recovered when it is ready again.
    Crash,
    /// A rule restarts the gateway; recovered when it is ready again.
    Restart,
    /// clawvisor is exiting because the gateway ended (restart.policy).
    Exit,
    /// The gateway did not stop in time.
    Stop,
    /// A watcher, probe or log rule (the source: "memory", "probes.liveness", ...).
    Trouble { source: String },
}
