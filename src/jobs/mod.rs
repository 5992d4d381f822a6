//! Scheduled jobs (`[[jobs]]`): cron or interval schedules in a zone, gated on the gateway
//! (and optionally the GPU), resumed after a gateway restart or a restart of clawvisor,
//! with atomic per-job state, history and logs. The scheduler runs on its own task and
//! meets the brain only through its inbox (alerts as `Event::Trouble`) and the gateway view
//! the runner publishes.

mod attempt;
pub mod clock_step;
pub mod gates;
pub mod ping;
pub mod plan;
pub mod render;
pub mod schedule;
mod scheduler;
pub mod store;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::process::aux::AuxRunner;
use crate::supervisor::{GatewayView, Inbox};
use crate::watch::readings::Readings;

/// What the scheduler needs from the rest of clawvisor.
pub struct Deps {
    /// Spawner, reaper and the auxiliary-pid set (None: jobs never start, e.g. in a test of
    /// the runner on fake process operations).
    pub aux: Option<AuxRunner>,
    pub inbox: Inbox,
    pub gateway: watch::Receiver<GatewayView>,
    pub readings: Readings,
}

/// A question for the scheduler (`ctl jobs ...`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobsRequest {
    List,
    Run { name: String },
    History { name: String, limit: usize },
    Logs { name: String, lines: usize },
}

/// A handle on the running scheduler; cheap to clone.
#[derive(Clone)]
pub struct JobsHandle {
    tx: mpsc::Sender<scheduler::Request>,
}

/// The scheduler task; await [`JobsTask::finished`] before clawvisor exits, so running jobs
/// are stopped and recorded as interrupted.
pub struct JobsTask {
    task: JoinHandle<()>,
}

/// Starts the scheduler when the config has jobs.
pub fn start(cfg: &Config, deps: Deps) -> Result<Option<(JobsHandle, JobsTask)>, String> {
    if cfg.jobs.is_empty() {
        return Ok(None);
    }
    let s = scheduler::Scheduler::new(cfg, deps)?;
    let (tx, rx) = mpsc::channel(16);
    let task = tokio::spawn(s.run(rx));
    Ok(Some((JobsHandle { tx }, JobsTask { task })))
}

impl JobsHandle {
    pub async fn ask(&self, req: JobsRequest) -> Result<Value, String> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send((req, tx))
            .await
            .map_err(|_| "the job scheduler has stopped".to_string())?;
        rx.await
            .map_err(|_| "the job scheduler has stopped".to_string())?
    }
}

impl JobsTask {
    /// Waits (at most `limit`) for the scheduler to stop its jobs and exit.
    pub async fn finished(self, limit: Duration) {
        if tokio::time::timeout(limit, self.task).await.is_err() {
            tracing::warn!("the job scheduler did not stop within {limit:?}");
        }
    }
}
