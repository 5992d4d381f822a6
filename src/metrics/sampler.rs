//! The sampler task: asks the brain for a status snapshot (the same one `ctl status`
//! gets), feeds the tally every poll and the history ring every `sample_every`, and keeps
//! the last notices for the page. It runs on its own task; the brain only answers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, oneshot};

use super::history::{History, Sample};
use super::tally::Tally;
use crate::supervisor::{Inbox, Input, Notice, Status};

/// How long a snapshot may take before the brain counts as not answering.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);
/// The tally polls at least this often, so probe results running every second are counted.
const MAX_POLL: Duration = Duration::from_secs(1);

/// What the sampler and the HTTP handlers share.
pub struct Shared {
    pub inbox: Inbox,
    pub history: Mutex<History>,
    pub tally: Mutex<Tally>,
}

impl Shared {
    /// A fresh snapshot from the brain, or None when it did not answer in time.
    pub async fn snapshot(&self) -> Option<Status> {
        let (tx, rx) = oneshot::channel();
        self.inbox.send(Input::Status { reply: tx });
        match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
            Ok(Ok(s)) => Some(s),
            _ => None,
        }
    }

    /// A snapshot with the tally brought up to date, for a scrape.
    pub async fn observed_snapshot(&self) -> Option<Status> {
        let s = self.snapshot().await?;
        lock(&self.tally).observe(&s);
        Some(s)
    }
}

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub async fn run(shared: Arc<Shared>, mut notices: broadcast::Receiver<Notice>, every: Duration) {
    let poll = every.min(MAX_POLL);
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_push: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            n = notices.recv() => match n {
                Ok(n) => lock(&shared.history).event(n),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tick.tick() => {
                let Some(status) = shared.observed_snapshot().await else { continue };
                let now = tokio::time::Instant::now();
                // A little slack, so a poll that lands a hair early does not skip a sample.
                if last_push.is_none_or(|t| now.duration_since(t) + poll / 2 >= every) {
                    last_push = Some(now);
                    lock(&shared.history).push(Sample::from_status(&status, super::unix_now()));
                }
            }
        }
    }
}
