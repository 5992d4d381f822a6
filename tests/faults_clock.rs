//! Fault suite, wall-clock jumps (issue 17): clawvisor runs on a clock that libfaketime
//! moves days forwards and backwards while it runs (the monotonic clock is left alone, as a
//! real clock step leaves it). Everything that must not notice, watched at once: hourly
//! rotation of the gateway's logs, the restart backoff and healthy-uptime timers of a
//! crash-looping gateway, a cron job (`* * * * *`) and an interval job (`every = "3s"`).
//!
//! Expected: a forward jump rotates once and runs each job once (catch_up = "latest");
//! a backward jump rotates nothing, runs no cron slot twice and does not stall the
//! interval job; restarts keep their monotonic pace and failure count throughout.
//! tests/logs_faults.rs shows single backward steps for daily rotation and retention; this
//! shows a sequence of steps across rotation, restarts and jobs together.

mod common;
mod control_support;
mod fault_support;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use common::*;
use control_support::{ctl, status, wait_for_socket};
use fault_support::{faketime_env, set_fake_time};
use serde_json::Value;

const T: Duration = Duration::from_secs(30);
const DAY: u64 = 86_400;
/// How long each clock position is held, in real (monotonic) time.
const STAGE: Duration = Duration::from_secs(7);
/// The job interval, and how long a gateway runs before it crashes plus its backoff.
const EVERY: f64 = 3.0;
const GATEWAY_RUN: f64 = 2.0;
const BACKOFF: f64 = 1.0;

fn history(cv: &Clawvisor, job: &str) -> Vec<Value> {
    let (code, out, err) = ctl(cv, &["--json", "jobs", "history", job, "-n", "500"]);
    assert_eq!(code, 0, "ctl jobs history {job}: {out}{err}");
    serde_json::from_str::<Value>(&out).unwrap()["runs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The failure numbers of "gateway failed (...); restart N in ..." alerts, in order.
fn failure_numbers(cv: &Clawvisor) -> Vec<u64> {
    cv.find("gateway failed")
        .iter()
        .filter_map(|e| {
            msg(e)
                .split("; restart ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

fn rotated_files(logs: &Path) -> usize {
    std::fs::read_dir(logs)
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.starts_with("gateway.out.") && n.contains("Z.log")
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn clock_jumps_cause_no_burst_of_rotations_restarts_or_job_runs() {
    let dir = tempfile::tempdir().unwrap();
    let offset = dir.path().join("faketime");
    let Some(env) = faketime_env(&offset) else {
        return;
    };
    // Ten minutes and five seconds past a UTC midnight three days ahead: no hour and no
    // minute boundary falls inside a stage, so every rotation and cron run comes from a jump.
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs((secs / DAY + 3) * DAY + 605);
    // (days from base, forward?) for each stage after the first.
    // The last is a clock set more than a year ahead (a bad RTC): half a million minutely
    // slots to skip, which once took the scheduler seconds to walk.
    let jumps: [(u64, bool); 5] = [(3, true), (1, false), (5, true), (4, false), (400, true)];
    set_fake_time(&offset, base);
    let ran = dir.path().join("ran");
    let job = |name: &str, sched: &str| {
        format!(
            "[[jobs]]\nname = \"{name}\"\ncommand = {}\n{sched}\nrequires = \"none\"\n",
            toml_argv(&["sh", "-c", &format!("echo {name} >> {}", ran.display())])
        )
    };
    let script = format!("echo up; sleep {GATEWAY_RUN}; exit 1");
    // The gateway's shell runs on the real clock: only clawvisor's is wrong.
    let body = format!(
        "[gateway]\ncommand = {argv}\nenv_remove = [\"LD_PRELOAD\"]\n\
         [state]\ndir = \"{d}/state\"\n[control]\nsocket = \"{d}/clawvisor.sock\"\n\
         [logs]\ndir = \"{d}/logs\"\nrotate_every = \"hourly\"\nrotate_timezone = \"utc\"\ncompress = false\n\
         [restart]\nmax_restarts = 1000\n\
         [restart.backoff]\ninitial = \"{BACKOFF}s\"\nmax = \"{BACKOFF}s\"\nmultiplier = 1.0\n\
         jitter = 0.0\nreset_after = \"20s\"\n{cron}{interval}",
        argv = toml_argv(&["sh", "-c", &script]),
        d = dir.path().display(),
        cron = job("cron", "schedule = \"* * * * *\"\ntimezone = \"UTC\""),
        interval = job("interval", &format!("every = \"{EVERY}s\"")),
    );
    let env: Vec<&str> = env.iter().map(String::as_str).collect();
    let cv = Clawvisor::start_in(dir, &body, &env);
    wait_for_socket(&cv);
    cv.wait_for("gateway started", 1, T);

    // Watch restarts with our own monotonic clock while the stages run.
    let t0 = Instant::now();
    // Starts as this test sees them (polled every 0.1 s), from the second gateway on.
    let mut starts: Vec<Instant> = Vec::new();
    let mut seen = cv.gateway_pids().len();
    let mut per_stage: Vec<(String, usize, usize, u64)> = Vec::new();
    let runs_of = |name: &str| {
        std::fs::read_to_string(&ran)
            .unwrap_or_default()
            .lines()
            .filter(|l| *l == name)
            .count()
    };
    let logs_rotations = |cv: &Clawvisor| {
        status(cv)["parts"]["logs"]["rotations"]
            .as_u64()
            .unwrap_or(0)
    };
    // Each stage's counts are taken before the next jump, so a rotation or run that follows
    // a jump at once is not missed.
    let (mut cron0, mut int0, mut rot0) =
        (runs_of("cron"), runs_of("interval"), logs_rotations(&cv));
    for stage in 0..=jumps.len() {
        let label = if stage == 0 {
            "start".to_string()
        } else {
            let (days, fwd) = jumps[stage - 1];
            set_fake_time(&offset, base + Duration::from_secs(days * DAY));
            // Where the clock went (days after the start) and from which side.
            format!("{} to day {days}", if fwd { "fwd" } else { "back" })
        };
        let until = Instant::now() + STAGE;
        while Instant::now() < until {
            let n = cv.gateway_pids().len();
            for _ in seen..n {
                starts.push(Instant::now());
            }
            seen = n;
            std::thread::sleep(Duration::from_millis(100));
        }
        let (cron1, int1, rot1) = (runs_of("cron"), runs_of("interval"), logs_rotations(&cv));
        per_stage.push((label, cron1 - cron0, int1 - int0, rot1 - rot0));
        (cron0, int0, rot0) = (cron1, int1, rot1);
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let st = status(&cv);
    let rotations = st["parts"]["logs"]["rotations"].as_u64().unwrap_or(0);
    let cron_hist = history(&cv, "cron");
    let int_hist = history(&cv, "interval");
    let failures = failure_numbers(&cv);
    let gaps: Vec<f64> = starts
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    let min_gap = gaps.iter().copied().fold(f64::INFINITY, f64::min);
    let max_gap = gaps.iter().copied().fold(0.0, f64::max);
    let forward = jumps.iter().filter(|j| j.1).count();
    let backward = jumps.len() - forward;
    eprintln!("per stage (jump, cron runs, interval runs, rotations): {per_stage:?}");
    eprintln!(
        "{elapsed:.1}s: {} restarts, gaps {min_gap:.2}..{max_gap:.2}s, failure numbers {failures:?}",
        starts.len()
    );
    let ids = |h: &[Value]| -> Vec<String> {
        h.iter()
            .filter(|r| r["outcome"] != "skipped")
            .map(|r| r["run_id"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let (cron_ids, int_ids) = (ids(&cron_hist), ids(&int_hist));
    let unique = |v: &[String]| v.iter().collect::<std::collections::HashSet<_>>().len() == v.len();
    let cron_missed = cron_hist
        .iter()
        .map(|r| r["missed"].as_u64().unwrap_or(0))
        .sum::<u64>();
    let interval_runs = runs_of("interval");
    let paced = (elapsed / EVERY).floor() as usize;
    let restart_pace = (elapsed / (GATEWAY_RUN + BACKOFF)).floor() as usize;
    fault_row(
        &format!("wall clock {forward} jumps forward (days), {backward} back: hourly rotation"),
        &format!("{forward} rotations (one per forward jump), none backwards"),
        &format!(
            "{rotations} rotations, {} rotated files left ({} deleted by logs.max_age = 30d after the {}-day jump); per stage {:?}",
            rotated_files(&cv.path("logs")),
            cv.find("deleted a rotated log (logs.max_age)").len(),
            jumps.iter().map(|j| j.0).max().unwrap_or(0),
            per_stage
                .iter()
                .map(|s| (s.0.as_str(), s.3))
                .collect::<Vec<_>>()
        ),
    );
    fault_row(
        "wall clock jumps: crash-looping gateway (run 2s, backoff 1s, reset_after 20s)",
        "restarts at the monotonic pace; failure count never reset by a jump",
        &format!(
            "{} restarts in {elapsed:.0}s (pace allows {restart_pace}), gaps {min_gap:.1}-{max_gap:.1}s; failure numbers 1..{}",
            starts.len(),
            failures.last().copied().unwrap_or(0)
        ),
    );
    fault_row(
        "wall clock jumps: cron job (* * * * *) and every = 3s, catch_up = latest",
        "one run per forward jump; nothing twice; interval keeps its pace",
        &format!(
            "cron {} runs ({} ids unique: {}, {cron_missed} slots recorded missed); interval {interval_runs} runs in {elapsed:.0}s (pace {paced}), per stage {:?}",
            cron_ids.len(),
            cron_ids.len(),
            unique(&cron_ids),
            per_stage
                .iter()
                .map(|s| (s.0.as_str(), s.2))
                .collect::<Vec<_>>()
        ),
    );

    // Rotation: exactly one per forward jump (each crosses hours), none for a backward one.
    assert_eq!(
        rotations as usize, forward,
        "rotations per stage: {per_stage:?}"
    );
    for s in &per_stage {
        let expect = usize::from(s.0.starts_with("fwd"));
        assert_eq!(
            s.3 as usize, expect,
            "rotations in stage {}: {per_stage:?}",
            s.0
        );
    }
    // Restarts: on the monotonic pace, no burst after a forward jump, no stall after a
    // backward one; and the failure count only grows (a 3-day jump during a 2 s run is not
    // 3 days of healthy uptime).
    assert!(
        min_gap >= GATEWAY_RUN + BACKOFF - 0.6,
        "a restart came early: gaps {gaps:?}"
    );
    assert!(
        max_gap <= GATEWAY_RUN + BACKOFF + 4.0,
        "restarts stalled: gaps {gaps:?}"
    );
    assert!(
        starts.len() <= restart_pace + 1,
        "{} restarts",
        starts.len()
    );
    assert!(
        failures.windows(2).all(|w| w[1] == w[0] + 1) && failures.first() == Some(&1),
        "failure numbers {failures:?}"
    );
    // Cron: one catch-up run per forward jump, none after a backward one, no id twice.
    assert_eq!(cron_ids.len(), forward, "cron runs: {cron_hist:?}");
    assert!(unique(&cron_ids), "a cron slot ran twice: {cron_ids:?}");
    for s in &per_stage {
        let expect = usize::from(s.0.starts_with("fwd"));
        assert_eq!(s.1, expect, "cron runs in stage {}: {per_stage:?}", s.0);
    }
    // Each jump skipped days of minutes; the scheduler looks at most MAX_SLOTS of them per
    // catch-up (a minutely job down for a year is not a million slots), so each jump records
    // at least MAX_SLOTS - 1 as missed.
    let cap = clawvisor::jobs::schedule::MAX_SLOTS as u64 - 1;
    assert!(
        cron_missed >= forward as u64 * cap,
        "the skipped slots are recorded as missed: {cron_missed}"
    );
    // Interval: the pace holds through every stage (no stall after a step back, no burst
    // after a step forward), and no run id twice.
    assert!(unique(&int_ids), "an interval run ran twice: {int_ids:?}");
    // At its pace, plus one catch-up run per forward jump (the slot it stood for is the
    // newest, so the next regular one can follow within the interval), plus the edges.
    assert!(
        interval_runs <= paced + forward + 2,
        "{interval_runs} interval runs in {elapsed:.0}s"
    );
    for s in &per_stage {
        assert!(
            s.2 >= 1,
            "the interval job stalled in stage {}: {per_stage:?}",
            s.0
        );
        // 7 s at 3 s is at most 3 slots, plus a catch-up run after a forward jump, plus
        // one that a stage's edge can move into the next stage.
        assert!(
            s.2 <= 5,
            "a burst of interval runs in stage {}: {per_stage:?}",
            s.0
        );
    }
}
