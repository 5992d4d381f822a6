//! `[[jobs]]` through the real binary: shell jobs that checkpoint and resume across a
//! gateway crash and a restart of clawvisor, the GPU gate on the fake GPU, catch-up after
//! downtime, overlap, and `ctl jobs` / `history` / `logs`.

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const T: Duration = Duration::from_secs(40);

/// A shell job that counts to `steps`, one step per 0.3 s, keeping its position in an
/// atomically replaced file in `$CLAWVISOR_CHECKPOINT_DIR`, and logging what it saw.
fn checkpointing_job(log: &Path, steps: u32) -> String {
    format!(
        r#"cp="$CLAWVISOR_CHECKPOINT_DIR/step"
i=$(cat "$cp" 2>/dev/null || echo 0)
echo "start run=$CLAWVISOR_RUN_ID attempt=$CLAWVISOR_ATTEMPT resume=$CLAWVISOR_RESUME from=$i dir=$CLAWVISOR_CHECKPOINT_DIR" >> {log}
while [ "$i" -lt {steps} ]; do
  i=$((i+1)); echo "$i" > "$cp.tmp"; mv "$cp.tmp" "$cp"; echo "step $i"; sleep 0.3
done
echo "done attempt=$CLAWVISOR_ATTEMPT" >> {log}"#,
        log = log.display()
    )
}

fn job_section(name: &str, script: &str, extra: &str) -> String {
    format!(
        "[[jobs]]\nname = \"{name}\"\ncommand = {}\n{extra}\n",
        toml_argv(&["sh", "-c", script])
    )
}

fn ctl(cv: &Clawvisor, args: &[&str]) -> (i32, String, String) {
    let sock = cv.path("clawvisor.sock");
    let mut a = vec!["ctl", "--socket", sock.to_str().unwrap()];
    a.extend(args);
    run_cli(&a)
}

fn ctl_json(cv: &Clawvisor, args: &[&str]) -> Value {
    let mut a = vec!["--json"];
    a.extend(args);
    let (code, out, err) = ctl(cv, &a);
    assert_eq!(code, 0, "ctl {args:?}: {out} {err}");
    serde_json::from_str(&out).unwrap()
}

fn history(cv: &Clawvisor, job: &str) -> Vec<Value> {
    ctl_json(cv, &["jobs", "history", job, "-n", "100"])["runs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_default()
}

fn fake_gateway(port: u16) -> Vec<String> {
    vec![FAKE_GATEWAY.to_string(), "--port".into(), port.to_string()]
}

const FAST_RESTART: &str =
    "[restart]\nmax_restarts = 20\n[restart.backoff]\ninitial = \"200ms\"\njitter = 0.0\n";

/// The attempt lines ("start ...") the job logged, as (attempt, resume, from, dir).
fn starts(log: &Path) -> Vec<(u32, u32, u32, String)> {
    read(log)
        .lines()
        .filter_map(|l| l.strip_prefix("start "))
        .map(|l| {
            let f = |k: &str| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix(k))
                    .unwrap_or("")
                    .to_string()
            };
            (
                f("attempt=").parse().unwrap(),
                f("resume=").parse().unwrap(),
                f("from=").parse().unwrap(),
                f("dir="),
            )
        })
        .collect()
}

fn step_of(dir: &str) -> u32 {
    read(&Path::new(dir).join("step"))
        .trim()
        .parse()
        .unwrap_or(0)
}

#[test]
fn a_checkpointing_job_interrupted_by_a_gateway_crash_resumes_and_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("job.log");
    let port = free_port();
    let gw = fake_gateway(port);
    let argv: Vec<&str> = gw.iter().map(String::as_str).collect();
    let extra = format!(
        "{FAST_RESTART}{}",
        job_section(
            "report",
            &checkpointing_job(&log, 12),
            "every = \"1h\"\nstop_grace = \"2s\""
        )
    );
    let cv = Clawvisor::start(&argv, &extra);
    cv.wait_for("gateway started", 1, T);
    let (code, out, err) = ctl(&cv, &["jobs", "run", "report"]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains("queued"), "{out}");
    // Let it get a few steps in, then crash the gateway under it.
    assert!(eventually(T, || starts(&log)
        .first()
        .is_some_and(|s| step_of(&s.3) >= 3)));
    let first = starts(&log)[0].clone();
    assert_eq!(
        (first.0, first.1, first.2),
        (1, 0, 0),
        "a fresh first attempt"
    );
    let gw_pid = cv.gateway_pids()[0];
    unsafe { libc::kill(gw_pid, libc::SIGKILL) };
    // The gateway comes back; the job re-runs as the same run, attempt 2, resuming.
    assert!(
        eventually(T, || read(&log).contains("done attempt=2")),
        "no completed second attempt; log:\n{}",
        read(&log)
    );
    let s = starts(&log);
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!(
        (s[1].0, s[1].1),
        (2, 1),
        "attempt 2 with CLAWVISOR_RESUME=1"
    );
    assert_eq!(s[1].3, first.3, "the same checkpoint dir");
    assert!(
        s[1].2 >= 3,
        "resumed from its checkpoint, not from 0: {s:?}"
    );
    assert!(cv.gateway_pids().len() >= 2, "the gateway was restarted");
    // The checkpoint dir was private while it existed and is gone after success.
    assert!(eventually(T, || !Path::new(&first.3).exists()));
    let h = history(&cv, "report");
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(h[0]["outcome"], "interrupted");
    assert!(h[0]["cause"].as_str().unwrap().contains("gateway"), "{h:?}");
    assert_eq!(h[1]["outcome"], "succeeded");
    assert_eq!(h[1]["attempt"], 2);
    assert_eq!(h[0]["run_id"], h[1]["run_id"]);
    // The job's output went through the log pipeline into its own file.
    let (code, out, _) = ctl(&cv, &["jobs", "logs", "report", "-n", "100"]);
    assert_eq!(code, 0);
    assert!(out.contains("step 12"), "{out}");
    assert!(cv.path("logs/jobs/report.log").exists());
    // The closing note's examples: the list and the history, as printed.
    let (_, list, _) = ctl(&cv, &["jobs"]);
    let (_, hist, _) = ctl(&cv, &["jobs", "history", "report"]);
    eprintln!("--- ctl jobs\n{list}--- ctl jobs history report\n{hist}");
    assert!(
        list.contains("report") && list.contains("every 1h"),
        "{list}"
    );
    assert!(
        hist.contains("interrupted") && hist.contains("succeeded"),
        "{hist}"
    );
}

#[test]
fn a_job_interrupted_by_stopping_clawvisor_resumes_after_its_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("job.log");
    let port = free_port();
    let gw = fake_gateway(port);
    let argv: Vec<&str> = gw.iter().map(String::as_str).collect();
    let extra = job_section(
        "report",
        &checkpointing_job(&log, 12),
        "every = \"1h\"\nstop_grace = \"2s\"",
    );
    let mut cv = Clawvisor::start(&argv, &extra);
    cv.wait_for("gateway started", 1, T);
    assert_eq!(ctl(&cv, &["jobs", "run", "report"]).0, 0);
    assert!(eventually(T, || starts(&log)
        .first()
        .is_some_and(|s| step_of(&s.3) >= 3)));
    let first = starts(&log)[0].clone();
    let st = cv.stop();
    assert!(st.success(), "{st:?}");
    assert!(!read(&log).contains("done"), "stopped before it finished");
    let saved: Value = serde_json::from_str(&read(&cv.path("state/jobs/report.json"))).unwrap();
    assert_eq!(saved["queue"][0]["attempt"], 2, "{saved}");
    assert_eq!(saved["queue"][0]["resume"], true);
    let (dir, config) = cv.into_dir();
    let cv = Clawvisor::launch(dir, config, &[]);
    assert!(
        eventually(T, || read(&log).contains("done attempt=2")),
        "log:\n{}",
        read(&log)
    );
    let s = starts(&log);
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!((s[1].0, s[1].1), (2, 1));
    assert_eq!(s[1].3, first.3, "the same checkpoint dir");
    assert!(s[1].2 >= 3, "{s:?}");
    let h = history(&cv, "report");
    assert_eq!(h[0]["outcome"], "interrupted");
    assert_eq!(h[0]["cause"], "clawvisor stop");
    assert_eq!(h[1]["outcome"], "succeeded");
}

#[test]
fn the_gpu_gate_holds_a_job_until_utilisation_drops() {
    let tmp = tempfile::tempdir().unwrap();
    let gpu = tmp.path().join("gpu.json");
    let log = tmp.path().join("job.log");
    write_fake_gpu(&gpu, 95, &[]);
    let extra = format!(
        "[gpu]\ninterval = \"200ms\"\n{}",
        job_section(
            "nightly",
            &format!("echo ran >> {}", log.display()),
            "every = \"1h\"\nrequires = \"none\"\ngpu_util_below = 50\ngpu_held_for = \"1s\""
        )
    );
    let cv = Clawvisor::start_with_env(
        &["sleep", "600"],
        &extra,
        &[("CLAWVISOR_FAKE_GPU", gpu.to_str().unwrap())],
    );
    cv.wait_for("gateway started", 1, T);
    let (code, out, err) = ctl(&cv, &["jobs", "run", "nightly"]);
    assert_eq!(code, 0, "{out} {err}");
    let waiting = |cv: &Clawvisor| {
        let v = ctl_json(cv, &["jobs"]);
        v["jobs"][0]["waiting_on"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert!(eventually(T, || waiting(&cv).starts_with("gpu busy")));
    let (_, table, _) = ctl(&cv, &["jobs"]);
    assert!(table.contains("waiting: gpu busy"), "{table}");
    std::thread::sleep(Duration::from_secs(2));
    assert!(!log.exists(), "ran while the GPU was busy");
    let dropped = Instant::now();
    write_fake_gpu(&gpu, 10, &[]);
    assert!(eventually(T, || log.exists()), "never ran");
    assert!(
        dropped.elapsed() >= Duration::from_millis(900),
        "ran before the idle GPU was held for gpu_held_for"
    );
    assert!(eventually(T, || history(&cv, "nightly").len() == 1));
    let h = history(&cv, "nightly");
    assert_eq!(h[0]["outcome"], "succeeded");
    assert!(h[0]["waited_gpu_secs"].as_f64().unwrap() >= 2.0, "{h:?}");
}

#[test]
fn a_slot_missed_while_clawvisor_was_down_is_caught_up_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("job.log");
    let extra = job_section(
        "tick",
        &format!("echo \"$CLAWVISOR_SCHEDULED_FOR\" >> {}", log.display()),
        "every = \"3s\"\nrequires = \"none\"",
    );
    let mut cv = Clawvisor::start(&["sleep", "600"], &extra);
    assert!(eventually(T, || read(&log).lines().count() >= 1));
    cv.stop();
    let before = read(&log).lines().count();
    let stopped = jiff::Timestamp::now();
    // Down across three slots or more.
    std::thread::sleep(Duration::from_secs(10));
    let (dir, config) = cv.into_dir();
    let restarted = jiff::Timestamp::now();
    let cv = Clawvisor::launch(dir, config, &[]);
    assert!(eventually(T, || read(&log).lines().count() > before));
    // Let a couple of regular slots pass too.
    std::thread::sleep(Duration::from_secs(4));
    let slot_of = |r: &Value| -> jiff::Timestamp { r["slot"].as_str().unwrap().parse().unwrap() };
    let after: Vec<Value> = history(&cv, "tick")
        .into_iter()
        .filter(|r| slot_of(r) > stopped)
        .collect();
    // The first run after the restart stands for all the slots missed while down (how many
    // is recorded); none of those slots got a run of its own.
    assert!(!after.is_empty());
    assert_eq!(after[0]["outcome"], "succeeded", "{after:?}");
    assert!(
        after[0]["missed"].as_u64().unwrap() >= 2,
        "the skipped slots are recorded: {after:?}"
    );
    let in_gap = after.iter().filter(|r| slot_of(r) < restarted).count();
    assert!(
        in_gap <= 1,
        "one catch-up run at most for the gap: {after:?}"
    );
    for w in after.windows(2) {
        let gap = slot_of(&w[1]).duration_since(slot_of(&w[0])).as_secs_f64();
        assert!(
            gap >= 2.9,
            "regular slots only after the catch-up: {after:?}"
        );
        assert_eq!(w[1]["missed"], 0, "{after:?}");
    }
    let v = ctl_json(&cv, &["jobs"]);
    assert!(v["jobs"][0]["missed_total"].as_u64().unwrap() >= 2, "{v}");
}

#[test]
fn overlapping_slots_are_not_run_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("job.log");
    let script = format!(
        "echo start >> {l}; sleep 2.5; echo end >> {l}",
        l = log.display()
    );
    let extra = job_section("slow", &script, "every = \"1s\"\nrequires = \"none\"");
    let cv = Clawvisor::start(&["sleep", "600"], &extra);
    assert!(eventually(T, || read(&log).matches("end").count() >= 2));
    let text = read(&log);
    let seq: Vec<&str> = text.lines().collect();
    for w in seq.windows(2) {
        assert_ne!(w, ["start", "start"], "two runs at once: {seq:?}");
    }
    let h = history(&cv, "slow");
    let skipped: Vec<&Value> = h.iter().filter(|r| r["outcome"] == "skipped").collect();
    assert!(!skipped.is_empty(), "{h:?}");
    assert!(
        skipped[0]["cause"]
            .as_str()
            .unwrap()
            .contains("overlap = forbid"),
        "{skipped:?}"
    );
    // A manual run while one is running is refused, not doubled.
    let (code, _, err) = ctl(&cv, &["jobs", "run", "slow"]);
    if code != 0 {
        assert!(err.contains("one run at a time"), "{err}");
    }
}

/// A local HTTP receiver standing in for healthchecks.io: records each request line and
/// answers 200.
fn ping_receiver() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut first = String::new();
            let _ = r.read_line(&mut first);
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            s.lock().unwrap().push(first.trim().to_string());
            let mut c = conn;
            let _ =
                c.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nOK");
        }
    });
    (port, seen)
}

#[test]
fn failures_retry_then_alert_and_ping_with_the_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("job.log");
    let (port, seen) = ping_receiver();
    let dead = free_port();
    let extra = format!(
        "{}{}",
        job_section(
            "flaky",
            &format!(
                "echo \"attempt $CLAWVISOR_ATTEMPT\" >> {}; exit 3",
                log.display()
            ),
            &format!(
                "every = \"1h\"\nrequires = \"none\"\nretries = 1\nretry_delay = \"1s\"\nping_url = \"http://127.0.0.1:{port}/ping/abc\""
            ),
        ),
        job_section(
            "fine",
            "echo fine",
            &format!(
                "every = \"1h\"\nrequires = \"none\"\nping_url = \"http://127.0.0.1:{dead}/nobody\""
            ),
        )
    );
    let cv = Clawvisor::start(&["sleep", "600"], &extra);
    cv.wait_for("gateway started", 1, T);
    assert_eq!(ctl(&cv, &["jobs", "run", "flaky"]).0, 0);
    assert_eq!(ctl(&cv, &["jobs", "run", "fine"]).0, 0);
    assert!(eventually(T, || history(&cv, "flaky").len() == 2));
    let h = history(&cv, "flaky");
    assert_eq!(h[0]["outcome"], "failed");
    assert!(
        h[0]["cause"].as_str().unwrap().contains("retry 1/1"),
        "{h:?}"
    );
    assert_eq!(h[1]["outcome"], "failed");
    assert_eq!(
        (h[1]["attempt"].clone(), h[1]["exit_code"].clone()),
        (2.into(), 3.into())
    );
    assert_eq!(read(&log), "attempt 1\nattempt 2\n");
    // One alert, after the retries ran out, through the supervisor's alert path.
    let alerts = cv.wait_for("job flaky: run flaky-manual-", 1, T);
    assert!(
        msg(&alerts[0]).contains("failed (attempt 2)"),
        "{}",
        msg(&alerts[0])
    );
    assert_eq!(cv.find("job flaky: run").len(), 1);
    // Pings: a start per attempt, then /3 for the final failure, all with the same rid.
    assert!(eventually(T, || seen
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("/ping/abc/3?rid="))));
    let lines = seen.lock().unwrap().clone();
    let starts = lines
        .iter()
        .filter(|l| l.contains("/ping/abc/start?rid="))
        .count();
    assert_eq!(starts, 2, "{lines:?}");
    let rids: std::collections::HashSet<&str> = lines
        .iter()
        .filter_map(|l| l.split("rid=").nth(1))
        .collect();
    assert_eq!(rids.len(), 1, "{lines:?}");
    // A ping to nowhere neither blocks nor fails its job.
    assert!(eventually(T, || history(&cv, "fine").len() == 1));
    assert_eq!(history(&cv, "fine")[0]["outcome"], "succeeded");
    // Per-job counts are in the status snapshot, for metrics.
    let st = ctl_json(&cv, &["status"]);
    let jobs = st["parts"]["jobs"]["jobs"].as_array().unwrap();
    let flaky = jobs.iter().find(|j| j["name"] == "flaky").unwrap();
    assert_eq!(flaky["runs"]["failed"], 2, "{flaky}");
}

#[test]
fn a_run_that_waits_past_max_wait_is_skipped_and_alerted() {
    let tmp = tempfile::tempdir().unwrap();
    let gpu = tmp.path().join("gpu.json");
    write_fake_gpu(&gpu, 99, &[]);
    let extra = format!(
        "[gpu]\ninterval = \"200ms\"\n{}",
        job_section(
            "gpu-heavy",
            "echo ran",
            "every = \"1h\"\nrequires = \"none\"\ngpu_util_below = 50\nmax_wait = \"2s\""
        )
    );
    let cv = Clawvisor::start_with_env(
        &["sleep", "600"],
        &extra,
        &[("CLAWVISOR_FAKE_GPU", gpu.to_str().unwrap())],
    );
    cv.wait_for("gateway started", 1, T);
    assert_eq!(ctl(&cv, &["jobs", "run", "gpu-heavy"]).0, 0);
    assert!(eventually(T, || history(&cv, "gpu-heavy").len() == 1));
    let h = history(&cv, "gpu-heavy");
    assert_eq!(h[0]["outcome"], "skipped");
    let cause = h[0]["cause"].as_str().unwrap();
    assert!(
        cause.contains("gate timeout") && cause.contains("gpu busy"),
        "{cause}"
    );
    cv.wait_for("job gpu-heavy: slot", 1, T);
}

#[test]
fn a_job_cut_off_by_a_killed_clawvisor_is_re_run_as_the_same_run() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("job.log");
    let extra = job_section(
        "report",
        &checkpointing_job(&log, 10),
        "every = \"1h\"\nrequires = \"none\"",
    );
    let cv = Clawvisor::start(&["sleep", "600"], &extra);
    cv.wait_for("gateway started", 1, T);
    assert_eq!(ctl(&cv, &["jobs", "run", "report"]).0, 0);
    assert!(eventually(T, || starts(&log)
        .first()
        .is_some_and(|s| step_of(&s.3) >= 2)));
    let first = starts(&log)[0].clone();
    let mode = fs::metadata(&first.3).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o700
    );
    cv.signal(libc::SIGKILL);
    let (dir, config) = cv.into_dir();
    let cv = Clawvisor::launch(dir, config, &[]);
    assert!(
        eventually(T, || read(&log).contains("done attempt=2")),
        "{}",
        read(&log)
    );
    let s = starts(&log);
    assert_eq!((s[1].0, s[1].1, s[1].3.clone()), (2, 1, first.3.clone()));
    let h = history(&cv, "report");
    assert_eq!(h[0]["outcome"], "interrupted");
    assert!(
        h[0]["cause"]
            .as_str()
            .unwrap()
            .contains("clawvisor restart")
    );
    assert_eq!(h[1]["outcome"], "succeeded");
}

#[test]
fn the_example_config_carries_the_seeds_jobs() {
    let cfg = clawvisor::config::Config::parse(&example_config_all_on(), "clawvisor.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = cfg.jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["nightly-report", "reasoning-tests"]);
    let nightly = &cfg.jobs[0];
    assert!(nightly.gpu_util_below.is_some() && nightly.schedule.is_some());
    assert_eq!(nightly.timezone.as_deref(), Some("Europe/Berlin"));
}
