//! The one reaper: on SIGCHLD, `waitpid(-1, WNOHANG)` until nothing is left. Statuses go to
//! whoever watches that pid (the gateway's exit, an exec probe); anything else is an adopted
//! orphan (we are a subreaper or PID 1) and is only logged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use signal_hook::consts::SIGCHLD;
use signal_hook::iterator::Signals;
use tokio::sync::oneshot;

use crate::supervisor::Exit;

/// How long an unclaimed status is kept for a watcher that registers late (the child can
/// exit before its spawner has registered it).
const UNCLAIMED_TTL: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Registry {
    waiters: HashMap<i32, oneshot::Sender<Exit>>,
    unclaimed: HashMap<i32, (Exit, Instant)>,
}

#[derive(Clone)]
pub struct Reaper {
    reg: Arc<Mutex<Registry>>,
}

impl Reaper {
    /// Installs the SIGCHLD handler and starts the reaper thread. Call before any spawn.
    pub fn start() -> std::io::Result<Reaper> {
        let reg = Arc::new(Mutex::new(Registry::default()));
        let mut signals = Signals::new([SIGCHLD])?;
        let r = reg.clone();
        std::thread::Builder::new()
            .name("reaper".into())
            .spawn(move || {
                reap_all(&r);
                for _ in signals.forever() {
                    reap_all(&r);
                }
            })?;
        Ok(Reaper { reg })
    }

    /// A receiver for `pid`'s exit status.
    pub fn watch(&self, pid: i32) -> oneshot::Receiver<Exit> {
        let (tx, rx) = oneshot::channel();
        let mut reg = self.reg.lock().unwrap();
        match reg.unclaimed.remove(&pid) {
            Some((exit, _)) => {
                let _ = tx.send(exit);
            }
            None => {
                reg.waiters.insert(pid, tx);
            }
        }
        rx
    }
}

impl Reaper {
    /// Drops `pid`'s status whenever it is reaped (a child that failed before exec: it never
    /// ran, so its exit means nothing to anyone).
    pub fn discard(&self, pid: i32) {
        drop(self.watch(pid));
    }
}

fn reap_all(reg: &Mutex<Registry>) {
    loop {
        let (pid, exit) = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => (pid.as_raw(), Exit::Code(code)),
            Ok(WaitStatus::Signaled(pid, sig, _)) => (pid.as_raw(), Exit::Signal(sig as i32)),
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            Err(e) => {
                tracing::error!("waitpid failed: {e}");
                return;
            }
        };
        let mut reg = reg.lock().unwrap();
        match reg.waiters.remove(&pid) {
            Some(tx) => {
                let _ = tx.send(exit);
            }
            None => {
                let now = Instant::now();
                reg.unclaimed
                    .retain(|_, (_, t)| now.duration_since(*t) < UNCLAIMED_TTL);
                tracing::debug!(pid, ?exit, "reaped an adopted orphan");
                reg.unclaimed.insert(pid, (exit, now));
            }
        }
    }
}
