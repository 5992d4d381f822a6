//! What systemd hears while its start job runs (`Type=notify`): READY=1, or
//! EXTEND_TIMEOUT_USEC while the gateway is loading or backing off. Pure: the phase and the
//! time since boot go in, so every rule is unit-tested without a clock.
//!
//! The rule: the start job never fails while clawvisor is doing its job. A ready gateway, a
//! pause (waiting for a person: a restart by systemd would only repeat it) and a gateway
//! still not ready once the start-up grace has passed all end the job with READY=1; before
//! that, extensions keep a short `TimeoutStartSec` from killing a slow model load.

use std::time::Duration;

use crate::config::ReadyWhen;

use super::state::Phase;

/// How far each EXTEND_TIMEOUT_USEC pushes systemd's start timeout.
pub const EXTEND_BY: Duration = Duration::from_secs(30);
/// How often the extension is renewed (well inside `EXTEND_BY`).
pub const EXTEND_EVERY: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartJob {
    /// Send READY=1 now; the text says why, for STATUS= and the log.
    Ready(&'static str),
    /// Not ready yet and making progress: extend the start timeout by this much.
    Extend(Duration),
}

/// `since_boot`: time since clawvisor started; `grace`: `probes.startup_timeout`.
pub fn start_job(
    phase: &Phase,
    since_boot: Duration,
    grace: Duration,
    when: ReadyWhen,
) -> StartJob {
    if when == ReadyWhen::Clawvisor {
        return StartJob::Ready("clawvisor is up ([systemd] ready = \"clawvisor\")");
    }
    match phase {
        Phase::Running { ready: true, .. } => StartJob::Ready("the gateway is ready"),
        Phase::Paused => StartJob::Ready("paused: waiting for a person"),
        // Held down by `ctl stop`, or exiting: nothing is loading.
        Phase::Down | Phase::Exiting { .. } => StartJob::Ready("not starting the gateway"),
        Phase::Starting
        | Phase::Running { .. }
        | Phase::Backoff { .. }
        | Phase::Stopping { .. } => {
            if since_boot >= grace {
                StartJob::Ready(
                    "the gateway is not ready within probes.startup_timeout; still trying",
                )
            } else {
                StartJob::Extend(EXTEND_BY.min(grace - since_boot + EXTEND_EVERY))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Instant, SystemTime};

    fn running(ready: bool) -> Phase {
        Phase::Running {
            pid: 1,
            started_at: SystemTime::now(),
            ready,
        }
    }

    #[test]
    fn ready_when_ready_paused_or_out_of_grace_else_extend() {
        let s = Duration::from_secs;
        let grace = s(300);
        let g = ReadyWhen::Gateway;
        let backoff = Phase::Backoff {
            until: Instant::now(),
            delay: s(1),
        };
        let cases: Vec<(Phase, u64, bool)> = vec![
            (running(true), 0, true),
            (Phase::Paused, 0, true),
            (Phase::Down, 0, true),
            (running(false), 0, false),
            (running(false), 299, false),
            (running(false), 300, true),
            (Phase::Starting, 10, false),
            (backoff.clone(), 10, false),
            (backoff, 400, true),
        ];
        for (phase, at, ready) in cases {
            let got = start_job(&phase, s(at), grace, g);
            assert_eq!(
                matches!(got, StartJob::Ready(_)),
                ready,
                "{phase:?} at {at}s: {got:?}"
            );
        }
        assert_eq!(
            start_job(&running(false), s(0), grace, g),
            StartJob::Extend(EXTEND_BY)
        );
        // Near the end of the grace the extension reaches just past it.
        assert_eq!(
            start_job(&running(false), s(295), grace, g),
            StartJob::Extend(s(15))
        );
        assert!(matches!(
            start_job(&running(false), s(0), grace, ReadyWhen::Clawvisor),
            StartJob::Ready(_)
        ));
    }
}
