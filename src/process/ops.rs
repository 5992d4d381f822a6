//! What the supervisor does to processes, behind one small trait: the real implementation
//! stays thin (spawner thread, the one reaper, signals by group), and the runner can be
//! tested against a recording fake without forking anything.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::oneshot;

use super::aux::AuxSet;
use super::kill;
use super::leftover::{self, ChildRecord, Verdict};
use super::reaper::Reaper;
use super::spawn::{ChildSpec, SpawnedChild, Spawner};
use crate::supervisor::Exit;

pub type Spawning = Pin<Box<dyn Future<Output = io::Result<SpawnedChild>> + Send>>;

pub trait ProcessOps: Send + Sync {
    /// Starts the child; its stdout and stderr come back as the read ends of pipes.
    fn spawn(&self, spec: ChildSpec) -> Spawning;
    /// Resolves with `pid`'s exit status once it is reaped.
    fn exited(&self, pid: i32) -> oneshot::Receiver<Exit>;
    /// Sends `signal` to the process group led by `pid`.
    fn signal_group(&self, pid: i32, signal: i32);
    /// SIGKILL to `pid`'s group and every descendant, wherever it moved.
    fn kill_tree(&self, pid: i32);
    /// Our descendants that are neither the gateway nor auxiliary: what is left of earlier
    /// gateway trees.
    fn stragglers(&self) -> Vec<i32>;
    /// SIGTERM to `pids`, SIGKILL to those left after `grace`. Blocking.
    fn end_stragglers(&self, pids: Vec<i32>, grace: Duration);
    /// Who the gateway `pid` is, for state.json (None: nothing to record, as for a fake).
    fn record(&self, _pid: i32) -> Option<ChildRecord> {
        None
    }
    /// Ends what /proc confirms is left of a recorded gateway's group, if it ran as `uid`.
    /// Blocking.
    fn end_leftover(&self, _rec: &ChildRecord, _uid: u32, _wait: Duration) -> Verdict {
        Verdict::Gone
    }
}

/// The real thing: forks on the spawner thread, statuses from the one reaper.
pub struct RealOps {
    pub spawner: Spawner,
    pub reaper: Reaper,
    pub aux: AuxSet,
}

impl ProcessOps for RealOps {
    fn spawn(&self, spec: ChildSpec) -> Spawning {
        let spawner = self.spawner.clone();
        Box::pin(async move { spawner.spawn(spec).await })
    }

    fn exited(&self, pid: i32) -> oneshot::Receiver<Exit> {
        self.reaper.watch(pid)
    }

    fn signal_group(&self, pid: i32, signal: i32) {
        kill::signal_group(pid, signal)
    }

    fn kill_tree(&self, pid: i32) {
        kill::kill_tree(pid)
    }

    fn stragglers(&self) -> Vec<i32> {
        let aux = self.aux.lock().unwrap_or_else(|p| p.into_inner()).clone();
        kill::stragglers(&aux)
    }

    fn end_stragglers(&self, pids: Vec<i32>, grace: Duration) {
        kill::end_stragglers(pids, grace)
    }

    fn record(&self, pid: i32) -> Option<ChildRecord> {
        leftover::record_of(pid)
    }

    fn end_leftover(&self, rec: &ChildRecord, uid: u32, wait: Duration) -> Verdict {
        leftover::end_group(rec, uid, wait)
    }
}
