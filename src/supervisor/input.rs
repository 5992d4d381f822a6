//! The supervisor's inbox: events from the senses, and requests that want an answer.

use tokio::sync::{mpsc, oneshot};

use super::event::{Command, Event};
use super::status::Status;

pub enum Input {
    Event(Event),
    /// A control command; the reply says whether it was done.
    Command {
        command: Command,
        reply: oneshot::Sender<Result<String, String>>,
    },
    /// A snapshot of the supervisor's state for `ctl status`.
    Status {
        reply: oneshot::Sender<Status>,
    },
    /// Reload the config from its file (SIGHUP, `ctl reload`).
    Reload {
        reply: Option<oneshot::Sender<Result<String, String>>>,
    },
    /// An OS signal other than the shutdown and reload ones (forwarded if configured).
    Signal {
        signal: i32,
    },
    /// Shut clawvisor down (`ctl shutdown`).
    Shutdown {
        why: String,
    },
    /// The GPU memory of the old tree is released: do the pending spawn.
    SpawnNow,
    /// Send a test alert to every channel, or the one named (`ctl alert test`).
    AlertTest {
        channel: Option<String>,
        reply: oneshot::Sender<Result<Vec<crate::alerts::TestResult>, String>>,
    },
    /// Run the quality tests now (`ctl probe quality`); the reply is the report.
    ProbeQuality {
        reply: oneshot::Sender<Result<serde_json::Value, String>>,
    },
}

/// Where senses send to the supervisor. Unbounded, so a sender (a reader thread, a signal
/// thread) never blocks on the brain; every sender rate-limits itself (cooldowns, periods).
#[derive(Clone)]
pub struct Inbox(pub mpsc::UnboundedSender<Input>);

impl Inbox {
    pub fn channel() -> (Inbox, mpsc::UnboundedReceiver<Input>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Inbox(tx), rx)
    }

    /// Sends an event; a closed inbox means clawvisor is exiting, which is fine to ignore.
    pub fn event(&self, e: Event) {
        let _ = self.0.send(Input::Event(e));
    }

    pub fn send(&self, i: Input) {
        let _ = self.0.send(i);
    }
}
