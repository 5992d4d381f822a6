//! What a watcher or probe concludes: the brain receives it as `Event::Trouble`.

use crate::supervisor::{Event, Inbox, Reaction};

/// A conclusion worth telling the brain: what to do and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub reaction: Reaction,
    pub reason: String,
    /// The trouble this source alerted about is over (memory back under, probe passing).
    pub cleared: bool,
}

impl Verdict {
    pub fn new(reaction: Reaction, reason: impl Into<String>) -> Verdict {
        Verdict {
            reaction,
            reason: reason.into(),
            cleared: false,
        }
    }

    /// The source's alert condition has ended: its alerts get a recovery message.
    pub fn cleared(reason: impl Into<String>) -> Verdict {
        Verdict {
            cleared: true,
            ..Verdict::new(Reaction::Alert, reason)
        }
    }

    /// Sends this verdict to the brain as trouble from `source` ("memory", "probes.liveness").
    pub fn send(self, source: &str, inbox: &Inbox) {
        // The brain logs the alert or the restart itself; this line keeps the structured
        // source and reaction for whoever greps the journal.
        if self.cleared {
            tracing::info!(source, "recovered: {}", self.reason);
            inbox.event(Event::Cleared {
                source: source.to_string(),
                reason: self.reason,
            });
            return;
        }
        tracing::info!(source, reaction = ?self.reaction, "{}", self.reason);
        inbox.event(Event::Trouble {
            source: source.to_string(),
            reason: self.reason,
            reaction: self.reaction,
        });
    }
}
