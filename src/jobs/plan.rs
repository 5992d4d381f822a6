//! What follows an attempt, pure: done, a retry after `retry_delay`, or a re-run of the same
//! run after an interruption. Interruptions never use up `retries`; they have their own cap.

use std::time::Duration;

use jiff::Timestamp;

use super::store::{Outcome, PendingRun};
use crate::config::JobConfig;
use crate::supervisor::Exit;

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Ended {
    Exited(Exit),
    /// `timeout` passed; the group was stopped.
    TimedOut(Exit),
    /// Stopped from outside (gateway restart, clawvisor stop); the cause in words.
    Interrupted {
        cause: String,
        exit: Option<Exit>,
    },
    SpawnFailed(String),
}

impl Ended {
    pub fn exit(&self) -> Option<Exit> {
        match self {
            Ended::Exited(e) | Ended::TimedOut(e) => Some(*e),
            Ended::Interrupted { exit, .. } => *exit,
            Ended::SpawnFailed(_) => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Next {
    /// The run is over (succeeded, or failed for good).
    Done,
    /// Run again (attempt + 1) once `not_before` has passed and the gates pass.
    Again(PendingRun),
}

/// The outcome to record, a cause, and what happens to the run. Pure.
pub fn after_attempt(
    run: &PendingRun,
    ended: &Ended,
    job: &JobConfig,
    now: Timestamp,
) -> (Outcome, Option<String>, Next) {
    let mut again = run.clone();
    again.attempt += 1;
    again.started = None;
    let (outcome, cause) = match ended {
        Ended::Exited(Exit::Code(0)) => return (Outcome::Succeeded, None, Next::Done),
        Ended::Interrupted { cause, .. } => {
            if run.interruptions >= job.max_interruptions {
                let why = format!(
                    "{cause}; interrupted {} times, max_interruptions = {}: giving up",
                    run.interruptions + 1,
                    job.max_interruptions
                );
                return (Outcome::Interrupted, Some(why), Next::Done);
            }
            again.interruptions += 1;
            again.resume = true;
            again.not_before = None;
            return (
                Outcome::Interrupted,
                Some(cause.clone()),
                Next::Again(again),
            );
        }
        Ended::Exited(e) => (Outcome::Failed, e.to_string()),
        Ended::TimedOut(_) => (
            Outcome::TimedOut,
            format!(
                "ran longer than timeout = {}",
                job.timeout
                    .map_or("-".into(), |t| humantime::format_duration(t.get())
                        .to_string())
            ),
        ),
        Ended::SpawnFailed(e) => (Outcome::Failed, e.clone()),
    };
    if run.retries_used >= job.retries {
        let why = if job.retries > 0 {
            format!("{cause}; no retries left ({} used)", run.retries_used)
        } else {
            cause
        };
        return (outcome, Some(why), Next::Done);
    }
    again.retries_used += 1;
    // A retry resumes too: the failed attempt may have left a checkpoint.
    again.resume = true;
    let delay: Duration = job.retry_delay.get();
    again.not_before = now.checked_add(delay).ok();
    let why = format!(
        "{cause}; retry {}/{} in {}",
        again.retries_used,
        job.retries,
        humantime::format_duration(delay)
    );
    (outcome, Some(why), Next::Again(again))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(extra: &str) -> JobConfig {
        toml::from_str(&format!(
            "name = \"j\"\ncommand = [\"true\"]\nevery = \"1m\"\n{extra}"
        ))
        .unwrap()
    }

    fn run() -> PendingRun {
        PendingRun::new("j", Timestamp::UNIX_EPOCH, false, 0)
    }

    #[test]
    fn success_is_done_failure_retries_then_gives_up() {
        let j = job("retries = 1\nretry_delay = \"5s\"");
        let now = Timestamp::UNIX_EPOCH;
        let (o, _, n) = after_attempt(&run(), &Ended::Exited(Exit::Code(0)), &j, now);
        assert_eq!((o, n), (Outcome::Succeeded, Next::Done));
        let (o, cause, n) = after_attempt(&run(), &Ended::Exited(Exit::Code(3)), &j, now);
        assert_eq!(o, Outcome::Failed);
        assert!(cause.unwrap().contains("retry 1/1 in 5s"));
        let Next::Again(r2) = n else { panic!() };
        assert_eq!((r2.attempt, r2.retries_used, r2.interruptions), (2, 1, 0));
        assert_eq!(r2.run_id, run().run_id, "the same run");
        let (_, _, n) = after_attempt(&r2, &Ended::Exited(Exit::Signal(9)), &j, now);
        assert_eq!(n, Next::Done);
    }

    #[test]
    fn interruptions_do_not_use_retries_and_are_capped_apart() {
        let j = job("retries = 0\nmax_interruptions = 2");
        let now = Timestamp::UNIX_EPOCH;
        let cut = Ended::Interrupted {
            cause: "gateway restart".into(),
            exit: Some(Exit::Signal(15)),
        };
        let mut r = run();
        for i in 1..=2 {
            let (o, _, n) = after_attempt(&r, &cut, &j, now);
            assert_eq!(o, Outcome::Interrupted);
            let Next::Again(next) = n else {
                panic!("interruption {i} re-runs")
            };
            assert!(next.resume && next.retries_used == 0);
            assert_eq!(next.attempt, i + 1);
            r = next;
        }
        let (_, cause, n) = after_attempt(&r, &cut, &j, now);
        assert_eq!(n, Next::Done);
        assert!(cause.unwrap().contains("max_interruptions = 2"));
    }
}
