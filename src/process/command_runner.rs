//! Running a helper command (exec probe, alert hook) to completion or its timeout.
//!
//! clawvisor has one reaper (waitpid(-1) on SIGCHLD), so the real binary runs helpers through
//! [`AuxRunner`], spawned by the spawner and reaped by the one reaper. [`StdRunner`] waits
//! with std and is only right where nothing else reaps (tests, tools).

use std::future::Future;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::aux::AuxRunner;
use crate::supervisor::Exit;

/// What running a helper command gives: how it ended and its output, or why it did not run
/// or finish.
pub type RunResult = Result<(Exit, String), String>;

/// Runs an argv to completion, or kills it at the timeout.
pub trait CommandRunner: Send + Sync {
    fn run(
        &self,
        argv: Vec<String>,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = RunResult> + Send>>;
}

/// The real binary's runner: spawned by the spawner, reaped by the one reaper.
impl CommandRunner for AuxRunner {
    fn run(
        &self,
        argv: Vec<String>,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = RunResult> + Send>> {
        let me = self.clone();
        Box::pin(async move { AuxRunner::run(&me, argv, timeout).await })
    }
}

/// Waits with std: only right where nothing else reaps children (tests, tools).
pub struct StdRunner;

impl CommandRunner for StdRunner {
    fn run(
        &self,
        argv: Vec<String>,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = RunResult> + Send>> {
        Box::pin(async move {
            tokio::task::spawn_blocking(move || run_std(&argv, timeout))
                .await
                .unwrap_or_else(|e| Err(format!("exec probe task failed: {e}")))
        })
    }
}

fn run_std(argv: &[String], timeout: Duration) -> RunResult {
    use std::os::unix::process::ExitStatusExt;
    let (prog, args) = argv.split_first().ok_or("empty command")?;
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {prog:?}: {e}"))?;
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => {
                let exit = match (st.code(), st.signal()) {
                    (Some(c), _) => Exit::Code(c),
                    (None, Some(s)) => Exit::Signal(s),
                    _ => Exit::Code(-1),
                };
                return Ok((exit, String::new()));
            }
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{prog} did not finish within {}",
                    humantime::format_duration(timeout)
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {prog}: {e}")),
        }
    }
}
