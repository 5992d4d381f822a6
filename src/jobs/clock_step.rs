//! What a backward step of the wall clock does to a job's position, pure.
//!
//! A job's anchor is the newest slot already handled, in wall-clock time, and slots come due
//! once the wall clock passes them. When the clock steps back (an NTP correction of a clock
//! that ran ahead, a restored VM snapshot), everything measured from the old clock lies in
//! the future:
//! - an `every` job means elapsed time, so its anchor moves back with the clock: the next
//!   run comes one interval after the last, as if nothing happened (before this, an
//!   `every = "10s"` job stopped for the whole size of the step, days if need be);
//! - a cron job's slots are wall-clock times: the anchor stays, so a slot that ran is never
//!   run again when the clock passes it a second time (the job resumes at the first slot
//!   after the newest one handled, which the caller logs);
//! - a retry's delay (`not_before`) is elapsed time too and moves back with the clock.
//!
//! Forward steps need nothing here: they look like downtime (or a suspend, which the
//! monotonic clock does not see either), and catch-up decides how many slots run.

use std::time::Duration;

use jiff::Timestamp;

use super::schedule::Schedule;
use super::store::JobState;

/// Moves what measures elapsed time in `st` back by `back`. Returns the anchor a cron job
/// waits for when that still lies ahead of `now` (None for `every` jobs, or when the
/// clock is already past it).
pub fn after_clock_back(
    sched: &Schedule,
    st: &mut JobState,
    back: Duration,
    now: Timestamp,
) -> Option<Timestamp> {
    let earlier = |t: Timestamp| t.checked_sub(back).unwrap_or(t);
    for run in &mut st.queue {
        run.not_before = run.not_before.map(earlier);
    }
    match sched {
        Schedule::Every(_) => {
            st.anchor = st.anchor.map(earlier);
            None
        }
        Schedule::Cron { .. } => st.anchor.filter(|a| *a > now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::store::PendingRun;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn cron() -> Schedule {
        Schedule::Cron {
            cron: Box::new(crate::config::cron_parser().parse("* * * * *").unwrap()),
            text: "* * * * *".into(),
            tz: jiff::tz::TimeZone::UTC,
        }
    }

    const TWO_DAYS: Duration = Duration::from_secs(2 * 86_400);

    #[test]
    fn an_every_job_keeps_its_pace_after_the_clock_steps_back() {
        let s = Schedule::Every(Duration::from_secs(10));
        let mut st = JobState {
            anchor: Some(ts("2026-06-03T12:00:00Z")),
            ..Default::default()
        };
        // Two days back, 4 s after the last slot by the monotonic clock.
        let now = ts("2026-06-01T12:00:04Z");
        assert_eq!(after_clock_back(&s, &mut st, TWO_DAYS, now), None);
        assert_eq!(st.anchor, Some(ts("2026-06-01T12:00:00Z")));
        // The next slot is 6 s away, not two days.
        assert_eq!(s.due(st.anchor.unwrap(), now), vec![]);
        assert_eq!(
            s.due(st.anchor.unwrap(), ts("2026-06-01T12:00:10Z")),
            vec![ts("2026-06-01T12:00:10Z")]
        );
    }

    #[test]
    fn a_cron_job_does_not_replay_slots_it_ran() {
        let s = cron();
        let anchor = ts("2026-06-03T12:00:00Z");
        let mut st = JobState {
            anchor: Some(anchor),
            ..Default::default()
        };
        let now = ts("2026-06-01T12:00:04Z");
        assert_eq!(after_clock_back(&s, &mut st, TWO_DAYS, now), Some(anchor));
        assert_eq!(st.anchor, Some(anchor));
        assert!(s.due(anchor, ts("2026-06-03T12:00:00Z")).is_empty());
        // A small step back behind the anchor's own minute: nothing to wait for.
        let mut st = JobState {
            anchor: Some(anchor),
            ..Default::default()
        };
        let later = ts("2026-06-03T12:00:30Z");
        assert_eq!(
            after_clock_back(&s, &mut st, Duration::from_secs(20), later),
            None
        );
    }

    #[test]
    fn a_retry_delay_moves_back_with_the_clock() {
        let mut run = PendingRun::new("j", ts("2026-06-03T12:00:00Z"), false, 0);
        run.not_before = Some(ts("2026-06-03T12:00:30Z"));
        let mut st = JobState {
            anchor: Some(ts("2026-06-03T12:00:00Z")),
            queue: [run].into(),
            ..Default::default()
        };
        after_clock_back(&cron(), &mut st, TWO_DAYS, ts("2026-06-01T12:00:01Z"));
        assert_eq!(st.queue[0].not_before, Some(ts("2026-06-01T12:00:30Z")));
    }
}
