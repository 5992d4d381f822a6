//! `[logs]` under faults, through the real `clawvisor run` (issue 11's fault table, and
//! retention from issue 9): a rename that fails at rotation, clock steps (libfaketime), a
//! torn last line, a full disk (a small tmpfs), control bytes in `ctl logs`, the memory of
//! the recent-lines ring, and `keep_files` during bursts and at shutdown.

mod common;
mod control_support;
mod fault_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use common::*;
use control_support::{ctl, status, wait_for_socket};
use fault_support::{Mount, faketime_env, have_root, set_fake_time};

const T: Duration = Duration::from_secs(30);

/// A whole config with `[logs]` keys and other sections of the test's own.
fn config(dir: &Path, argv: &[&str], logs: &str, extra: &str) -> String {
    format!(
        "[gateway]\ncommand = {}\n[state]\ndir = \"{d}/state\"\n[control]\nsocket = \"{d}/clawvisor.sock\"\n[logs]\ndir = \"{d}/logs\"\n{logs}\n{extra}\n",
        toml_argv(argv),
        d = dir.display()
    )
}

/// Rotated files of `base` in `dir`, by name (not an abandoned `.gz.tmp`, which the next
/// start removes).
fn rotated(dir: &Path, base: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    n.starts_with(&format!("{base}."))
                        && n.contains("Z.log")
                        && !n.ends_with(".tmp")
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// clawvisor's CPU time (user + system) so far, in seconds.
fn cpu_secs(pid: i32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn logs_stat(cv: &Clawvisor, key: &str) -> u64 {
    status(cv)["parts"]["logs"][key].as_u64().unwrap_or(0)
}

// ---- 2. a failed rename at size rotation ----

#[test]
fn a_failed_rename_at_rotation_is_counted_backs_off_and_writing_goes_on() {
    if !have_root("rename failure") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    // The live file is a mount point: rename(2) fails with EBUSY, appends work.
    let live = logs.join("gateway.out.log");
    let elsewhere = dir.path().join("elsewhere.log");
    std::fs::write(&live, "").unwrap();
    std::fs::write(&elsewhere, "").unwrap();
    let bind = Mount::bind(&elsewhere, &live);
    let body = config(
        dir.path(),
        &["sh", "-c", "while :; do seq 1 2000; sleep 0.1; done"],
        "max_size = \"64KiB\"\ncompress = false\nrotate_every = \"never\"",
        "",
    );
    let mut cv = Clawvisor::start_in(dir, &body, &[]);
    wait_for_socket(&cv);
    assert!(eventually(T, || logs_stat(&cv, "rotate_errors") >= 1));
    // No spin: the writer backs off instead of retrying the rename at every write.
    let (cpu0, t0) = (cpu_secs(cv.pid()), Instant::now());
    std::thread::sleep(Duration::from_secs(3));
    let cpu = (cpu_secs(cv.pid()) - cpu0) / t0.elapsed().as_secs_f64();
    eprintln!(
        "clawvisor CPU while rotation fails: {:.1}% of a core",
        cpu * 100.0
    );
    assert!(cpu < 0.3, "clawvisor used {:.0}% of a core", cpu * 100.0);
    let st = status(&cv);
    let l = &st["parts"]["logs"];
    assert!(l["write_errors"].as_u64().unwrap() >= 1, "{l}");
    assert!(l["rotate_errors"].as_u64().unwrap() <= 4, "backs off: {l}");
    // Capture goes on past max_size.
    let written = std::fs::metadata(&elsewhere).unwrap().len();
    assert!(written > 2 * 64 * 1024, "{written} bytes");
    let warnings = cv.find("rotating").len();
    assert!(
        warnings <= 1,
        "{warnings} warnings (rate-limited to one a minute)"
    );
    // Once the rename works again, rotation resumes.
    bind.unmount();
    assert!(
        eventually(T, || logs_stat(&cv, "rotations") >= 1),
        "no rotation after the fault went away"
    );
    let t = Instant::now();
    cv.stop();
    eprintln!("stop on a failing disk took {:?}", t.elapsed());
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "stop took {:?}",
        t.elapsed()
    );
}

// ---- 3 and 4. clock steps, with libfaketime ----

fn utc_midnight_after(t: SystemTime, days: u64) -> SystemTime {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    SystemTime::UNIX_EPOCH + Duration::from_secs((secs / 86_400 + days) * 86_400)
}

#[test]
fn a_backward_clock_step_does_not_suspend_daily_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let offset = dir.path().join("faketime");
    let Some(env) = faketime_env(&offset) else {
        return;
    };
    // Ten seconds past a midnight: the next daily rotation is a day away.
    let midnight = utc_midnight_after(SystemTime::now(), 3);
    set_fake_time(&offset, midnight + Duration::from_secs(10));
    let body = config(
        dir.path(),
        &[
            "sh",
            "-c",
            "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.2; done",
        ],
        "rotate_every = \"daily\"\nrotate_timezone = \"utc\"\ncompress = false",
        "",
    );
    let env: Vec<&str> = env.iter().map(String::as_str).collect();
    let cv = Clawvisor::start_in(dir, &body, &env);
    wait_for_socket(&cv);
    let logs = cv.path("logs");
    assert!(eventually(T, || logs_stat(&cv, "lines_written") >= 3));
    assert!(rotated(&logs, "gateway.out").is_empty());
    // Two days back, to 4 s before a midnight: that midnight must rotate, not the one
    // two days later.
    let two_days = Duration::from_secs(2 * 86_400);
    set_fake_time(&offset, midnight - two_days - Duration::from_secs(4));
    assert!(
        eventually(T, || !rotated(&logs, "gateway.out").is_empty()),
        "no rotation at the first midnight after the clock went back; files: {:?}",
        std::fs::read_dir(&logs)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect::<Vec<_>>()
    );
    assert!(!cv.find("the clock went back").is_empty());
}

#[test]
fn with_the_clock_behind_after_a_restart_retention_keeps_the_newest_logs() {
    let dir = tempfile::tempdir().unwrap();
    let offset = dir.path().join("faketime");
    let Some(env) = faketime_env(&offset) else {
        return;
    };
    let gateway = |run: &str| {
        format!(
            "i=0; while [ $i -lt 400 ]; do echo \"{run} line $i ........................................\"; i=$((i+1)); done; sleep 60"
        )
    };
    let logs_keys =
        "max_size = \"4KiB\"\nkeep_files = 3\ncompress = false\nrotate_every = \"never\"";
    // Run 1 on the right clock.
    let script = gateway("run1");
    let body = config(dir.path(), &["sh", "-c", &script], logs_keys, "");
    let cv = Clawvisor::start_in(dir, &body, &[]);
    wait_for_socket(&cv);
    assert!(eventually(T, || logs_stat(&cv, "lines_written") >= 400));
    assert!(eventually(T, || rotated(&cv.path("logs"), "gateway.out")
        .len()
        == 3));
    let (dir, config_path) = cv.into_dir();
    // Run 2 on a clock two days behind (a box without RTC, a restored VM snapshot).
    set_fake_time(&offset, SystemTime::now() - Duration::from_secs(2 * 86_400));
    let script = gateway("run2");
    std::fs::write(
        &config_path,
        config(dir.path(), &["sh", "-c", &script], logs_keys, ""),
    )
    .unwrap();
    let env: Vec<&str> = env.iter().map(String::as_str).collect();
    let cv = Clawvisor::launch(dir, config_path, &env);
    wait_for_socket(&cv);
    assert!(eventually(T, || logs_stat(&cv, "lines_written") >= 400));
    let logs = cv.path("logs");
    // Every kept file is from run 2, the newest output.
    assert!(
        eventually(T, || {
            let kept = rotated(&logs, "gateway.out");
            kept.len() == 3
                && kept.iter().all(|n| {
                    std::fs::read_to_string(logs.join(n))
                        .unwrap_or_default()
                        .contains("run2 line")
                })
        }),
        "kept: {:?}",
        rotated(&logs, "gateway.out")
    );
    // And each deletion was logged, with the limit that made it.
    assert!(
        cv.find("deleted a rotated log (logs.keep_files)").len() >= 3,
        "deletions are logged"
    );
    assert!(!cv.find("is behind the newest rotated log").is_empty());
}

// ---- 5. a torn last line ----

#[test]
fn an_unterminated_live_file_is_ended_before_the_next_run_appends() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    // What a SIGKILL in the middle of a line leaves.
    std::fs::write(
        dir.path().join("logs/gateway.out.log"),
        "GET /a status=200\nGET /b status=200 xx",
    )
    .unwrap();
    let body = config(
        dir.path(),
        &["sh", "-c", "echo RESTARTED first line; sleep 60"],
        "",
        "",
    );
    let cv = Clawvisor::start_in(dir, &body, &[]);
    let live = cv.path("logs/gateway.out.log");
    assert!(eventually(T, || std::fs::read_to_string(&live)
        .unwrap()
        .contains("RESTARTED")));
    assert_eq!(
        std::fs::read_to_string(&live).unwrap(),
        "GET /a status=200\nGET /b status=200 xx\nRESTARTED first line\n"
    );
    assert!(!cv.find("ended in the middle of a line").is_empty());
}

// ---- 6. a full disk must not starve compression ----

#[test]
fn on_a_full_disk_a_fast_writer_leaves_room_for_compression() {
    if !have_root("full disk compression") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let _tmpfs = Mount::tmpfs(&dir.path().join("logs"), "4m");
    let body = config(
        dir.path(),
        &[
            "sh",
            "-c",
            "while :; do yes 'GET /v1/chat/completions 200 12ms model=llama user=42' | head -n 20000; sleep 0.05; done",
        ],
        "max_size = \"256KiB\"\ncompress = true\ncompress_level = 1\nkeep_files = 1000\nrotate_every = \"never\"",
        "[disk]\nclean_rotated_logs = false\n",
    );
    let cv = Clawvisor::start_in(dir, &body, &[]);
    wait_for_socket(&cv);
    let logs = cv.path("logs");
    let gz = || {
        rotated(&logs, "gateway.out")
            .iter()
            .filter(|n| n.ends_with(".gz"))
            .count()
    };
    assert!(
        eventually(Duration::from_secs(45), || gz() >= 3
            && logs_stat(&cv, "files_compressed") >= 3),
        "compression starved: {} .gz files, status {}",
        gz(),
        status(&cv)["parts"]["logs"]
    );
    // The drops are counted, with the reason.
    assert!(logs_stat(&cv, "lines_dropped") > 0);
}

// ---- 7. stopping while the disk fails ----

#[test]
fn stopping_while_the_disk_fails_is_quick_and_logs_the_lines_lost() {
    if !have_root("stop on a failing disk") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let _tmpfs = Mount::tmpfs(&logs, "1m");
    let body = config(
        dir.path(),
        &["sh", "-c", "while :; do seq 1 300; sleep 0.005; done"],
        "compress = false\nrotate_every = \"never\"\nmax_size = \"0\"",
        "",
    );
    let mut cv = Clawvisor::start_in(dir, &body, &[]);
    wait_for_socket(&cv);
    // Fill the disk under the writer.
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=64k", "status=none"])
        .arg(format!("of={}", logs.join("filler").display()))
        .status();
    assert!(eventually(T, || logs_stat(&cv, "lines_dropped") > 1000));
    std::thread::sleep(Duration::from_secs(1));
    let t = Instant::now();
    cv.stop();
    eprintln!("stop on a failing disk took {:?}", t.elapsed());
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "stop took {:?}",
        t.elapsed()
    );
    let lost = cv.find("never reached the log files");
    assert!(!lost.is_empty(), "the last gap is not recorded");
    assert!(lost[0]["lines"].as_u64().unwrap() > 0, "{lost:?}");
}

// ---- 9. control bytes in `ctl logs` ----

#[test]
fn ctl_logs_escapes_control_characters_and_json_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let body = config(
        dir.path(),
        &[
            "sh",
            "-c",
            r"printf 'GET /\033]0;pwned\007\033[31mred\r\001end\n'; sleep 60",
        ],
        "",
        "",
    );
    let cv = Clawvisor::start_in(dir, &body, &[]);
    wait_for_socket(&cv);
    let mut out = String::new();
    assert!(eventually(T, || {
        out = ctl(&cv, &["logs"]).1;
        out.contains("end")
    }));
    assert!(
        out.contains(r"GET /\x1b]0;pwned\x07\x1b[31mred\x0d\x01end"),
        "{out:?}"
    );
    assert!(
        !out.bytes().any(|b| b < 0x20 && b != b'\n' && b != b'\t'),
        "raw control bytes reached the terminal: {out:?}"
    );
    // --json carries the line as it was (JSON escapes it).
    let json = ctl(&cv, &["logs", "--json"]).1;
    let v: serde_json::Value = serde_json::from_str(json.lines().last().unwrap()).unwrap();
    assert_eq!(v["text"], "GET /\u{1b}]0;pwned\u{7}\u{1b}[31mred\r\u{1}end");
}

// ---- 11. the ring's memory ----

#[test]
fn maximum_length_lines_do_not_grow_the_ring_past_its_byte_bound() {
    let dir = tempfile::tempdir().unwrap();
    // 2000 lines of 64 KiB (max_line): a ring of 1000 such lines held 62 MiB.
    let body = config(
        dir.path(),
        &[
            "sh",
            "-c",
            "i=0; while [ $i -lt 2000 ]; do printf \"$i %065000d\\n\" 0; i=$((i+1)); done; echo done; sleep 60",
        ],
        "compress = false",
        "",
    );
    let cv = Clawvisor::start_in(dir, &body, &[]);
    wait_for_socket(&cv);
    assert!(eventually(T, || logs_stat(&cv, "lines_written") >= 2001));
    std::thread::sleep(Duration::from_millis(500));
    let rss = rss_kib(cv.pid());
    eprintln!(
        "clawvisor RSS after 2000 lines of 64 KiB: {} MiB",
        rss / 1024
    );
    assert!(rss < 40 * 1024, "RSS {} MiB", rss / 1024);
    // The newest lines are still there for `ctl logs`.
    let out = ctl(&cv, &["logs", "-n", "3"]).1;
    assert!(
        out.contains("1999 000") && out.ends_with("done\n"),
        "{:.200}",
        out
    );
}

// ---- issue 9: keep_files during bursts and at shutdown ----

#[test]
fn keep_files_holds_during_a_burst_of_rotations_and_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    // ~30 rotations a second, each well under 0.5 s after the last.
    let body = config(
        dir.path(),
        &["sh", "-c", "while :; do seq 1 20000; sleep 0.05; done"],
        "max_size = \"64KiB\"\nkeep_files = 3\ncompress = true\nrotate_every = \"never\"",
        "",
    );
    let mut cv = Clawvisor::start_in(dir, &body, &[]);
    wait_for_socket(&cv);
    let logs = cv.path("logs");
    assert!(eventually(T, || logs_stat(&cv, "rotations") >= 20));
    let mut most = 0;
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        most = most.max(rotated(&logs, "gateway.out").len());
        std::thread::sleep(Duration::from_millis(50));
    }
    let rotations = logs_stat(&cv, "rotations");
    assert!(rotations >= 40, "not a burst: {rotations} rotations");
    // The writer applies retention after every rotation (before the fix every rotated
    // file stayed until the burst ended: 93 of 93). One more may be seen between a rename
    // and the retention pass, and one more while a file and its .gz both exist.
    eprintln!("at most {most} rotated files during {rotations} rotations");
    assert!(most <= 3 + 2, "{most} rotated files with keep_files = 3");
    cv.stop();
    let left = rotated(&logs, "gateway.out");
    assert!(left.len() <= 3, "after shutdown: {left:?}");
}
