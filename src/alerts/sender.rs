//! One sender task per channel: it takes messages from the channel's bounded queue and
//! delivers them one at a time, each attempt under a hard timeout, retrying what may succeed
//! later. A dead or hanging receiver costs its own channel time and counted failures; the
//! supervisor and the other channels never wait for it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::Notify;

use super::alert::Notification;
use super::channel::ChannelSpec;
use super::queue::{BoundedQueue, Pushed};
use super::retry::{self, Retry};
use super::text::rfc3339;

/// A channel's counters, shown in `ctl status` (`alerts.channels[]`) and exported as metrics.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ChannelStats {
    pub name: String,
    pub kind: String,
    /// Messages delivered.
    pub sent: u64,
    /// Messages given up on (a 4xx, or every attempt failed).
    pub failed: u64,
    /// Messages refused by the full queue (only reminders are ever dropped).
    pub dropped: u64,
    /// Failed attempts that were tried again.
    pub retries: u64,
    /// Messages waiting now.
    pub queued: usize,
    /// Why the last failed attempt failed (never a URL or a secret).
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    /// When a message was last delivered.
    pub last_success: Option<String>,
}

/// The channel as the router sees it: a queue to push to, counters to read.
#[derive(Clone)]
pub struct ChannelHandle {
    spec: Arc<ChannelSpec>,
    queue: Arc<Mutex<BoundedQueue>>,
    wake: Arc<Notify>,
    stats: Arc<Mutex<ChannelStats>>,
    attempts: u32,
}

impl ChannelHandle {
    /// Starts the channel's sender task on the current tokio runtime.
    pub fn start(spec: ChannelSpec, queue_len: usize, attempts: u32) -> ChannelHandle {
        let stats = ChannelStats {
            name: spec.name.clone(),
            kind: spec.kind.clone(),
            ..ChannelStats::default()
        };
        let h = ChannelHandle {
            spec: Arc::new(spec),
            queue: Arc::new(Mutex::new(BoundedQueue::new(queue_len))),
            wake: Arc::new(Notify::new()),
            stats: Arc::new(Mutex::new(stats)),
            attempts: attempts.max(1),
        };
        tokio::spawn(h.clone().run());
        h
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Queues `n` if this channel takes it; never blocks.
    pub fn offer(&self, n: &Notification) {
        if !self.spec.filter.accepts(n) {
            return;
        }
        let pushed = self.queue.lock().unwrap().push(n.clone());
        let dropped = match pushed {
            Pushed::Queued => 0,
            Pushed::QueuedDropping(k) => k,
            Pushed::Dropped => 1,
        };
        if dropped > 0 {
            self.stats.lock().unwrap().dropped += dropped;
            tracing::warn!(
                channel = %self.spec.name,
                "alert queue full: dropped {dropped} reminder(s)"
            );
        }
        self.wake.notify_one();
    }

    pub fn stats(&self) -> ChannelStats {
        let mut s = self.stats.lock().unwrap().clone();
        s.queued = self.queue.lock().unwrap().len();
        s
    }

    async fn run(self) {
        loop {
            let next = self.queue.lock().unwrap().pop();
            match next {
                Some(n) => {
                    let _ = self.deliver(&n, self.attempts).await;
                }
                None => self.wake.notified().await,
            }
        }
    }

    /// Delivers `n` now, in up to `attempts` attempts. `ctl alert test` calls it directly
    /// (one attempt, outside the queue) to report each channel's result.
    pub async fn deliver(&self, n: &Notification, attempts: u32) -> Result<String, String> {
        let spec = &self.spec;
        let mut failed = 0;
        loop {
            let attempt = tokio::time::timeout(spec.timeout, spec.transport.send(n)).await;
            let err = match attempt {
                Ok(Ok(())) => {
                    let mut s = self.stats.lock().unwrap();
                    s.sent += 1;
                    s.last_success = Some(rfc3339(SystemTime::now()));
                    let tries = if failed == 0 {
                        String::new()
                    } else {
                        format!(" after {} attempts", failed + 1)
                    };
                    return Ok(format!("delivered{tries}"));
                }
                Ok(Err(e)) => e,
                Err(_) => retry::SendError::retryable(format!(
                    "timed out after {}",
                    humantime::format_duration(spec.timeout)
                )),
            };
            failed += 1;
            let delay = (failed < attempts)
                .then(|| retry::delay_after(failed, err.retry))
                .flatten();
            {
                let mut s = self.stats.lock().unwrap();
                s.last_error = Some(err.message.clone());
                s.last_error_at = Some(rfc3339(SystemTime::now()));
                if delay.is_some() {
                    s.retries += 1;
                } else {
                    s.failed += 1;
                }
            }
            let Some(delay) = delay else {
                let why = if err.retry == Retry::No {
                    "not retried"
                } else {
                    "giving up"
                };
                tracing::warn!(
                    channel = %spec.name,
                    kind = %n.alert.kind,
                    "alert not delivered after {failed} attempt(s) ({why}): {}",
                    err.message
                );
                return Err(err.message);
            };
            tracing::info!(
                channel = %spec.name,
                "alert delivery failed ({}); retrying in {}",
                err.message,
                humantime::format_duration(delay)
            );
            tokio::time::sleep(delay.max(Duration::from_millis(10))).await;
        }
    }
}
