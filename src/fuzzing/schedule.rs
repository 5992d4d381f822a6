//! The job schedule parser and slot math: any `schedule` line either is refused with an error
//! or yields slots that are strictly increasing, inside the window asked for, capped, and
//! agree with `next_after`; the catch-up plan neither loses nor invents a slot.

use std::time::Duration;

use jiff::Timestamp;

use crate::config::{CatchUp, Config};
use crate::jobs::schedule::{MAX_SLOTS, Schedule, plan_catch_up};

/// Zones with the awkward cases: DST both ways, half-hour offsets, a date-line jump.
const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Apia",
    "America/Sao_Paulo",
    "Asia/Shanghai",
];

pub fn check(data: &[u8]) {
    let [zone, start @ .., span_hi, span_lo, policy] = data else {
        return;
    };
    // The line is everything before the first NUL, the start instant is hashed from the rest.
    let (text, tail) = match start.iter().position(|b| *b == 0) {
        Some(p) => (&start[..p], &start[p + 1..]),
        None => (start, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    // Through the config, as a user writes it: what validation accepts must build a schedule,
    // and what it refuses must be refused with the job's key.
    let zone = ZONES[*zone as usize % ZONES.len()];
    let toml = format!(
        "[[jobs]]\nname = \"f\"\ncommand = [\"true\"]\nschedule = {}\ntimezone = \"{zone}\"\n",
        toml::Value::String(text.to_string())
    );
    let cfg = match Config::parse(&toml, "fuzz.toml") {
        Ok(cfg) => cfg,
        Err(errors) => {
            assert!(
                errors
                    .0
                    .iter()
                    .all(|e| e.key.as_deref().is_some_and(|k| k.starts_with("jobs"))
                        || e.line_col.is_some()),
                "an error that names no place: {errors}"
            );
            return;
        }
    };
    let schedule = Schedule::from_job(&cfg.jobs[0])
        .unwrap_or_else(|e| panic!("{text:?} passed validation but builds no schedule: {e}"));
    // Any second between 1990 and 2090, and a window up to 3 days.
    let seed = tail.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    });
    let after = Timestamp::from_second(631_152_000 + (seed % 3_155_760_000) as i64).unwrap();
    let span = Duration::from_secs((u16::from_be_bytes([*span_hi, *span_lo]) as u64 % 4320) * 60);
    let now = after.checked_add(span).unwrap();

    let slots = schedule.due(after, now);
    assert!(
        slots.len() <= MAX_SLOTS,
        "{} slots over the cap",
        slots.len()
    );
    for w in slots.windows(2) {
        assert!(w[0] < w[1], "slots out of order: {} then {}", w[0], w[1]);
    }
    if let Some(&first) = slots.first() {
        assert!(
            first > after && slots.last().unwrap() <= &now,
            "a slot outside the window"
        );
        if slots.len() < MAX_SLOTS {
            assert_eq!(
                schedule.next_after(after),
                Some(first),
                "next_after disagrees with due for {text:?}"
            );
        }
    }
    if let Some(next) = schedule.next_after(after) {
        assert!(next > after, "next_after({after}) = {next} is not after");
    }

    let policy = [CatchUp::Latest, CatchUp::All, CatchUp::None][*policy as usize % 3];
    let plan = plan_catch_up(&slots, policy, now, Duration::from_secs(90));
    let mut both: Vec<Timestamp> = plan.run.iter().chain(&plan.missed).copied().collect();
    both.sort();
    assert_eq!(
        both, slots,
        "the catch-up plan lost or invented slots ({policy:?})"
    );
}
