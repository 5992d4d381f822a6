//! Exec probes: a command's exit status (0 passes), killed at its timeout. How the command
//! is run and waited for belongs to the process layer (`process::command_runner`).

use std::time::Duration;

use super::tracker::Outcome;
use crate::process::command_runner::CommandRunner;
use crate::supervisor::Exit;

/// One exec probe run as an outcome.
pub async fn probe_exec(runner: &dyn CommandRunner, argv: &[String], timeout: Duration) -> Outcome {
    let shown = argv.join(" ");
    match runner.run(argv.to_vec(), timeout).await {
        Ok((Exit::Code(0), _)) => Outcome::Pass,
        Ok((exit, out)) => {
            let out = super::client::excerpt(&out);
            Outcome::Fail(format!("`{shown}`: {exit} {out}").trim_end().to_string())
        }
        Err(e) => Outcome::Fail(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::command_runner::StdRunner;
    use std::time::Instant;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[tokio::test]
    async fn exit_status_is_the_verdict_and_timeouts_kill() {
        let r = StdRunner;
        let p = |a: &[&str], t| {
            let a = argv(a);
            async move { probe_exec(&StdRunner, &a, t).await }
        };
        let _ = &r;
        assert_eq!(p(&["true"], Duration::from_secs(10)).await, Outcome::Pass);
        let f = p(&["sh", "-c", "exit 3"], Duration::from_secs(10)).await;
        assert!(
            matches!(f, Outcome::Fail(ref m) if m.contains("exit code 3")),
            "{f:?}"
        );
        let t0 = Instant::now();
        let f = p(&["sleep", "30"], Duration::from_millis(200)).await;
        assert!(
            matches!(f, Outcome::Fail(ref m) if m.contains("did not finish")),
            "{f:?}"
        );
        assert!(t0.elapsed() < Duration::from_secs(20));
        let f = p(&["/nonexistent/x"], Duration::from_secs(1)).await;
        assert!(
            matches!(f, Outcome::Fail(ref m) if m.contains("cannot run")),
            "{f:?}"
        );
    }
}
