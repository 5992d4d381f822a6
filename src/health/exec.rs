//! Exec probes: a command's exit status (0 passes), killed at its timeout.
//!
//! clawvisor has one reaper (waitpid(-1) on SIGCHLD), so how a helper command is run and
//! waited for belongs to the process layer. Probes use it through [`CommandRunner`]; the
//! runner passes the process layer's implementation in. [`StdRunner`] waits with std and is
//! only right where nothing else reaps (tests, `ctl` commands).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::tracker::Outcome;

/// How a finished helper command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finished {
    Code(i32),
    Signal(i32),
}

/// Runs an argv to completion or timeout (then kills it); blocking.
pub trait CommandRunner: Send + Sync {
    /// `Ok((how it ended, combined output excerpt))`, or `Err` when it could not run or timed out.
    fn run(&self, argv: &[String], timeout: Duration) -> Result<(Finished, String), String>;
}

pub struct StdRunner;

impl CommandRunner for StdRunner {
    fn run(&self, argv: &[String], timeout: Duration) -> Result<(Finished, String), String> {
        use std::os::unix::process::ExitStatusExt;
        let (prog, args) = argv.split_first().ok_or("empty command")?;
        let mut child = Command::new(prog)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {prog}: {e}"))?;
        let deadline = Instant::now() + timeout;
        loop {
            match child.try_wait() {
                Ok(Some(st)) => {
                    let f = match (st.code(), st.signal()) {
                        (Some(c), _) => Finished::Code(c),
                        (None, Some(s)) => Finished::Signal(s),
                        _ => Finished::Code(-1),
                    };
                    return Ok((f, String::new()));
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
}

/// One exec probe run as an outcome.
pub fn probe_exec(runner: &dyn CommandRunner, argv: &[String], timeout: Duration) -> Outcome {
    let shown = argv.join(" ");
    match runner.run(argv, timeout) {
        Ok((Finished::Code(0), _)) => Outcome::Pass,
        Ok((Finished::Code(c), out)) => Outcome::Fail(format!("`{shown}` exited {c} {out}").trim_end().to_string()),
        Ok((Finished::Signal(s), _)) => Outcome::Fail(format!("`{shown}` was killed by signal {s}")),
        Err(e) => Outcome::Fail(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn exit_status_is_the_verdict_and_timeouts_kill() {
        let r = StdRunner;
        assert_eq!(probe_exec(&r, &argv(&["true"]), Duration::from_secs(10)), Outcome::Pass);
        let f = probe_exec(&r, &argv(&["sh", "-c", "exit 3"]), Duration::from_secs(10));
        assert!(matches!(f, Outcome::Fail(ref m) if m.contains("exited 3")), "{f:?}");
        let t0 = Instant::now();
        let f = probe_exec(&r, &argv(&["sleep", "30"]), Duration::from_millis(200));
        assert!(matches!(f, Outcome::Fail(ref m) if m.contains("did not finish")), "{f:?}");
        assert!(t0.elapsed() < Duration::from_secs(20));
        let f = probe_exec(&r, &argv(&["/nonexistent/x"]), Duration::from_secs(1));
        assert!(matches!(f, Outcome::Fail(ref m) if m.contains("cannot run")), "{f:?}");
    }
}
