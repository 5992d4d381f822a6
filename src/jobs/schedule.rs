//! Schedule math, pure: which slots fall in (after, now], when the next one is, and what the
//! catch-up policy makes of a backlog. The clock is always an argument.
//!
//! Cron slots come from croner 4 on `jiff::Zoned` values in the job's zone, which gives
//! Vixie cron's DST rules: a fixed-time slot inside the spring-forward gap runs once, just
//! after the gap; a fixed-time slot in the repeated fall-back hour runs once, on its first
//! pass. Slots are stored as UTC instants, so a repeated hour is never confused.

use std::time::Duration;

use croner::Cron;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::config::{CatchUp, JobConfig, cron_parser};

/// Slots computed at most per call: a minutely job down for a year is not a million runs.
pub const MAX_SLOTS: usize = 1000;

#[derive(Clone, Debug)]
pub enum Schedule {
    Cron {
        cron: Box<Cron>,
        text: String,
        tz: TimeZone,
    },
    Every(Duration),
}

impl Schedule {
    pub fn from_job(job: &JobConfig) -> Result<Schedule, String> {
        match (&job.schedule, job.every) {
            (Some(text), _) => Ok(Schedule::Cron {
                cron: Box::new(cron_parser().parse(text).map_err(|e| e.to_string())?),
                text: text.clone(),
                tz: job.zone()?,
            }),
            (None, Some(d)) => Ok(Schedule::Every(d.get())),
            (None, None) => Err("no schedule".into()),
        }
    }

    /// What the slots depend on; a change re-anchors the job instead of replaying slots.
    pub fn signature(&self) -> String {
        match self {
            Schedule::Cron { text, tz, .. } => {
                format!("cron {text} {}", tz.iana_name().unwrap_or("system"))
            }
            Schedule::Every(d) => format!("every {}", humantime::format_duration(*d)),
        }
    }

    /// The zone slots are shown in.
    pub fn zone(&self) -> TimeZone {
        match self {
            Schedule::Cron { tz, .. } => tz.clone(),
            Schedule::Every(_) => TimeZone::system(),
        }
    }

    /// The first slot strictly after `after`.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        match self {
            Schedule::Cron { cron, tz, .. } => cron
                .find_next_occurrence(&after.to_zoned(tz.clone()), false)
                .ok()
                .map(|z| z.timestamp()),
            Schedule::Every(d) => after.checked_add(*d).ok(),
        }
    }

    /// The slots in (after, now], oldest first, at most [`MAX_SLOTS`] (the newest kept).
    pub fn due(&self, after: Timestamp, now: Timestamp) -> Vec<Timestamp> {
        let mut out = Vec::new();
        match self {
            Schedule::Cron { cron, tz, .. } => {
                // One iterator from the exact previous slot: croner then stays on the right
                // pass through a repeated hour. Over a long gap that slot is the one before
                // the newest MAX_SLOTS, not the anchor (see `window_start`).
                let from = window_start(cron, tz, after, now).unwrap_or(after);
                for z in cron.iter_after(from.to_zoned(tz.clone())) {
                    if z.timestamp() > now {
                        break;
                    }
                    push_capped(&mut out, z.timestamp());
                }
            }
            Schedule::Every(d) => {
                if d.is_zero() {
                    return out;
                }
                let span = now.duration_since(after);
                let Ok(span) = Duration::try_from(span) else {
                    return out; // now is before after: the clock went back
                };
                let n = (span.as_nanos() / d.as_nanos()) as u64;
                let first = n.saturating_sub(MAX_SLOTS as u64) + 1;
                for k in first..=n {
                    if let Ok(t) = after.checked_add(d.mul_f64(k as f64)) {
                        out.push(t);
                    }
                }
            }
        }
        out
    }
}

/// Over a long gap (a clock set years ahead, a machine off for months) the slot that starts
/// the newest [`MAX_SLOTS`] in (after, now], found by walking back from `now`; None when
/// the gap holds fewer. Walking forward from the anchor instead visits every slot of the
/// gap: a year of a minutely job is half a million steps, seconds on the scheduler's task,
/// to keep only the last thousand.
fn window_start(cron: &Cron, tz: &TimeZone, after: Timestamp, now: Timestamp) -> Option<Timestamp> {
    // Slots strictly before `now`; with `now` itself possibly a slot, the newest MAX_SLOTS
    // start after the (MAX_SLOTS + 1)-th of them. A normal tick stops at the first step.
    let mut oldest = None;
    let mut steps = 0;
    for z in cron
        .iter_before(now.to_zoned(tz.clone()))
        .take(MAX_SLOTS + 1)
    {
        let t = z.timestamp();
        if t <= after {
            return None;
        }
        oldest = Some(t);
        steps += 1;
    }
    oldest.filter(|_| steps == MAX_SLOTS + 1)
}

fn push_capped(out: &mut Vec<Timestamp>, t: Timestamp) {
    if out.len() == MAX_SLOTS {
        out.remove(0);
    }
    out.push(t);
}

/// What to do with the slots that came due.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CatchUpPlan {
    /// Slots to run, oldest first.
    pub run: Vec<Timestamp>,
    /// Slots not run (recorded as missed).
    pub missed: Vec<Timestamp>,
}

/// Applies the catch-up policy. A slot at most `on_time` old is simply due (the loop saw
/// it in time) and always runs; older ones are a backlog (downtime, suspend, a clock jump).
pub fn plan_catch_up(
    slots: &[Timestamp],
    policy: CatchUp,
    now: Timestamp,
    on_time: Duration,
) -> CatchUpPlan {
    let Some((&last, older)) = slots.split_last() else {
        return CatchUpPlan::default();
    };
    let fresh =
        Duration::try_from(now.duration_since(last)).is_ok_and(|age| age <= on_time) || now < last;
    match policy {
        CatchUp::All => CatchUpPlan {
            run: slots.to_vec(),
            missed: Vec::new(),
        },
        CatchUp::Latest => CatchUpPlan {
            run: vec![last],
            missed: older.to_vec(),
        },
        CatchUp::None if fresh => CatchUpPlan {
            run: vec![last],
            missed: older.to_vec(),
        },
        CatchUp::None => CatchUpPlan {
            run: Vec::new(),
            missed: slots.to_vec(),
        },
    }
}

/// How far the wall clock moved against the monotonic clock since the last look (positive:
/// forward, e.g. after a suspend or a step; negative: backwards). Pure.
pub fn wall_jump(wall_before: Timestamp, wall_now: Timestamp, mono_elapsed: Duration) -> f64 {
    let wall = wall_now.duration_since(wall_before).as_secs_f64();
    wall - mono_elapsed.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cron(expr: &str, zone: &str) -> Schedule {
        Schedule::Cron {
            cron: Box::new(cron_parser().parse(expr).unwrap()),
            text: expr.into(),
            tz: TimeZone::get(zone).unwrap(),
        }
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn utc(v: &[Timestamp]) -> Vec<String> {
        v.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn new_york_spring_forward_runs_the_0230_job_once_just_after_the_gap() {
        // 2026-03-08: 02:00 EST -> 03:00 EDT. 02:30 does not exist that day.
        let s = cron("30 2 * * *", "America/New_York");
        let due = s.due(ts("2026-03-07T12:00:00Z"), ts("2026-03-09T12:00:00Z"));
        assert_eq!(
            utc(&due),
            ["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"],
            "03:00 EDT on the 8th (once), 02:30 EDT on the 9th"
        );
    }

    #[test]
    fn new_york_fall_back_runs_the_0130_job_once() {
        // 2026-11-01: 02:00 EDT -> 01:00 EST; 01:30 happens twice.
        let s = cron("30 1 * * *", "America/New_York");
        let due = s.due(ts("2026-10-31T12:00:00Z"), ts("2026-11-02T12:00:00Z"));
        assert_eq!(
            utc(&due),
            ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"],
            "01:30 EDT only on the 1st, then 01:30 EST on the 2nd"
        );
        // Resuming from the stored first pass does not produce the second pass.
        let again = s.due(ts("2026-11-01T05:30:00Z"), ts("2026-11-01T07:00:00Z"));
        assert!(again.is_empty(), "{again:?}");
    }

    #[test]
    fn berlin_spring_forward_and_fall_back() {
        // 2026-03-29: 02:00 CET -> 03:00 CEST. 2026-10-25: 03:00 CEST -> 02:00 CET.
        let s = cron("30 2 * * *", "Europe/Berlin");
        let spring = s.due(ts("2026-03-28T12:00:00Z"), ts("2026-03-30T12:00:00Z"));
        assert_eq!(
            utc(&spring),
            ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]
        );
        let fall = s.due(ts("2026-10-24T12:00:00Z"), ts("2026-10-26T12:00:00Z"));
        assert_eq!(utc(&fall), ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]);
    }

    #[test]
    fn london_spring_forward_and_fall_back() {
        // 2026-03-29: 01:00 GMT -> 02:00 BST. 2026-10-25: 02:00 BST -> 01:00 GMT.
        let s = cron("30 1 * * *", "Europe/London");
        let spring = s.due(ts("2026-03-28T12:00:00Z"), ts("2026-03-30T12:00:00Z"));
        assert_eq!(
            utc(&spring),
            ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]
        );
        let fall = s.due(ts("2026-10-24T12:00:00Z"), ts("2026-10-26T12:00:00Z"));
        assert_eq!(utc(&fall), ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]);
        // croner 3's bug: a midnight job also fired after the gap. Not here.
        let midnight = cron("@daily", "Europe/London");
        let d = midnight.due(ts("2026-03-28T12:00:00Z"), ts("2026-03-29T12:00:00Z"));
        assert_eq!(utc(&d), ["2026-03-29T00:00:00Z"]);
    }

    #[test]
    fn next_after_is_strict_and_interval_slots_count_from_the_anchor() {
        let s = cron("0 2 * * *", "Europe/Berlin");
        let next = s.next_after(ts("2026-09-21T14:13:20Z")).unwrap();
        assert_eq!(next.to_string(), "2026-09-22T00:00:00Z");
        assert_eq!(
            s.next_after(next).unwrap().to_string(),
            "2026-09-23T00:00:00Z"
        );
        let e = Schedule::Every(Duration::from_secs(600));
        let due = e.due(ts("2026-01-01T00:00:00Z"), ts("2026-01-01T00:35:00Z"));
        assert_eq!(
            utc(&due),
            [
                "2026-01-01T00:10:00Z",
                "2026-01-01T00:20:00Z",
                "2026-01-01T00:30:00Z"
            ]
        );
        assert!(
            e.due(ts("2026-01-01T00:00:00Z"), ts("2025-12-31T00:00:00Z"))
                .is_empty()
        );
    }

    #[test]
    fn a_long_downtime_is_capped_not_a_flood() {
        let s = cron("* * * * *", "UTC");
        let due = s.due(ts("2026-01-01T00:00:00Z"), ts("2026-01-03T00:00:00Z"));
        assert_eq!(due.len(), MAX_SLOTS);
        assert_eq!(due.last().unwrap().to_string(), "2026-01-03T00:00:00Z");
    }

    #[test]
    fn catch_up_policies() {
        let now = ts("2026-11-24T09:30:00Z");
        let slots: Vec<Timestamp> = [
            "2026-11-21T02:00:00Z",
            "2026-11-22T02:00:00Z",
            "2026-11-24T02:00:00Z",
        ]
        .iter()
        .map(|s| ts(s))
        .collect();
        let grace = Duration::from_secs(90);
        let latest = plan_catch_up(&slots, CatchUp::Latest, now, grace);
        assert_eq!((latest.run.len(), latest.missed.len()), (1, 2));
        assert_eq!(latest.run[0], slots[2]);
        let all = plan_catch_up(&slots, CatchUp::All, now, grace);
        assert_eq!((all.run.len(), all.missed.len()), (3, 0));
        let none = plan_catch_up(&slots, CatchUp::None, now, grace);
        assert_eq!((none.run.len(), none.missed.len()), (0, 3));
        // A slot seen in time runs whatever the policy.
        let fresh = plan_catch_up(
            &slots[2..],
            CatchUp::None,
            ts("2026-11-24T02:00:30Z"),
            grace,
        );
        assert_eq!(fresh.run, vec![slots[2]]);
        assert_eq!(
            plan_catch_up(&[], CatchUp::All, now, grace),
            CatchUpPlan::default()
        );
    }

    #[test]
    fn wall_jump_is_wall_minus_monotonic() {
        let a = ts("2026-01-01T00:00:00Z");
        let b = ts("2026-01-01T01:00:01Z");
        let j = wall_jump(a, b, Duration::from_secs(1));
        assert!((j - 3600.0).abs() < 1e-6);
        assert!(wall_jump(b, a, Duration::from_secs(1)) < -3600.0);
    }

    #[test]
    fn a_year_long_gap_keeps_the_newest_slots_without_walking_the_year() {
        let s = cron("* * * * *", "UTC");
        let (after, now) = (ts("2026-01-01T00:00:00Z"), ts("2027-01-01T00:00:30Z"));
        let t = std::time::Instant::now();
        let due = s.due(after, now);
        // Walking half a million minutes took 9 s in a debug build.
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(due.len(), MAX_SLOTS);
        assert_eq!(due.last(), Some(&ts("2027-01-01T00:00:00Z")));
        assert_eq!(due[0], ts("2026-12-31T07:21:00Z"));
        assert!(
            due.windows(2)
                .all(|w| w[1].duration_since(w[0]).as_secs() == 60)
        );
        // At a slot exactly, `now` is the newest; and a gap of exactly MAX_SLOTS is whole.
        let at = ts("2027-01-01T00:00:00Z");
        assert_eq!(s.due(after, at).last(), Some(&at));
        let short = s.due(ts("2026-12-31T07:20:00Z"), at);
        assert_eq!(
            (short.len(), short[0]),
            (MAX_SLOTS, ts("2026-12-31T07:21:00Z"))
        );
    }
}
