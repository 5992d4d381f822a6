//! Starting the gateway: argv, environment, credentials, its own session, and a parent-death
//! signal so a SIGKILLed clawvisor leaves no orphan gateway holding its port.

use std::io;
use std::os::fd::OwnedFd;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc;

use tokio::sync::oneshot;

pub use super::child_spec::ChildSpec;
use super::fork_exec;
use super::reaper::Reaper;

pub struct SpawnedChild {
    pub pid: i32,
    /// Read ends of the child's stdout and stderr pipes.
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// Forks and execs `spec` in its own session. Call only from the spawner thread. A child
/// that failed at exec is left to the reaper, its status discarded (it never ran).
fn spawn_now(spec: &ChildSpec, reaper: &Reaper) -> io::Result<SpawnedChild> {
    match fork_exec::start(spec) {
        Ok(c) => Ok(SpawnedChild {
            pid: c.pid,
            stdout: c.stdout,
            stderr: c.stderr,
        }),
        Err(e) => {
            if let Some(pid) = e.pid {
                reaper.discard(pid);
            }
            Err(io::Error::other(e.message))
        }
    }
}

type Request = (ChildSpec, oneshot::Sender<io::Result<SpawnedChild>>);

/// A thread that lives as long as clawvisor and does every fork. PR_SET_PDEATHSIG fires
/// when the *thread* that forked exits, so forking from a short-lived thread (a blocking
/// pool worker) would kill the gateway when that thread retires.
#[derive(Clone)]
pub struct Spawner {
    tx: mpsc::Sender<Request>,
}

impl Spawner {
    pub fn start(reaper: Reaper) -> Spawner {
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("spawner".into())
            .spawn(move || {
                for (spec, reply) in rx {
                    // A bug in one start must not take every later start with it.
                    let result =
                        std::panic::catch_unwind(AssertUnwindSafe(|| spawn_now(&spec, &reaper)))
                            .unwrap_or_else(|_| Err(io::Error::other("the spawner panicked")));
                    let _ = reply.send(result);
                }
                // The channel closes only when clawvisor is exiting; keep the thread (and so
                // the children's parent-death link) alive until the process ends.
                loop {
                    std::thread::park();
                }
            })
            .expect("spawn the spawner thread");
        Spawner { tx }
    }

    pub async fn spawn(&self, spec: ChildSpec) -> io::Result<SpawnedChild> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send((spec, tx))
            .map_err(|_| io::Error::other("spawner thread is gone"))?;
        rx.await
            .map_err(|_| io::Error::other("spawner thread is gone"))?
    }
}
