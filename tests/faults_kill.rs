//! Fault suite, part 1: clawvisor SIGKILLed mid-burst and mid-compression, through the real
//! binary. On restart nothing complete is lost, leftovers of the interrupted compression are
//! recovered, and the orphaned gateway and its process group are gone; a tampered record
//! of the last gateway (`<state dir>/gateway-group.json`) that names someone else's process
//! kills nothing.

mod common;
mod control_support;

use std::collections::HashSet;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use control_support::{status, wait_for_socket};

const T: Duration = Duration::from_secs(30);

/// The log keys of both tests: small files, many rotations, compression.
const LOG_KEYS: &str = "max_size = \"256KiB\"\ncompress = true\ncompress_level = 6\nkeep_files = 10000\nrotate_every = \"never\"";

/// The burst: numbered lines (`[ws] res id=N ...`) from the fake gateway, which also leaves
/// a sleeping worker in its process group (`--spawn-child`).
fn burst_argv(rate: &str, lines: &str) -> Vec<String> {
    [
        FAKE_GATEWAY,
        "--port",
        "0",
        "--spawn-child",
        "--log-rate",
        rate,
        "--log-lines",
        lines,
    ]
    .map(String::from)
    .to_vec()
}

/// State, logs and socket live in `base`, which the test owns: both clawvisors use them.
fn config(base: &Path, argv: &[String]) -> String {
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    format!(
        "[gateway]\ncommand = {}\n[state]\ndir = \"{d}/state\"\n[control]\nsocket = \"{d}/clawvisor.sock\"\n[logs]\ndir = \"{d}/logs\"\n{LOG_KEYS}\n[disk]\nclean_rotated_logs = false\n",
        toml_argv(&argv),
        d = base.display()
    )
}

/// What the log dir holds: the complete `id=` lines of every plain and finished .gz file,
/// the half-written files (`.tmp`), and whether every .gz decoded to its end.
struct Captured {
    lines: HashSet<String>,
    tmp: Vec<PathBuf>,
    plain_rotated: usize,
    gz: usize,
    bad_gz: Vec<String>,
}

fn captured(logs: &Path) -> Captured {
    let mut c = Captured {
        lines: HashSet::new(),
        tmp: Vec::new(),
        plain_rotated: 0,
        gz: 0,
        bad_gz: Vec::new(),
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(logs)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".tmp") {
            c.tmp.push(f);
            continue;
        }
        let Ok(bytes) = std::fs::read(&f) else {
            continue;
        };
        let text = if name.ends_with(".gz") {
            c.gz += 1;
            let mut s = Vec::new();
            if let Err(e) = flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut s) {
                c.bad_gz.push(format!("{name}: {e}"));
            }
            s
        } else {
            if name.contains("Z.log") {
                c.plain_rotated += 1;
            }
            bytes
        };
        let text = String::from_utf8_lossy(&text);
        // Only whole lines: a torn last line is not "complete".
        let whole = match text.rfind('\n') {
            Some(i) => &text[..=i],
            None => "",
        };
        c.lines.extend(
            whole
                .lines()
                .filter(|l| l.contains("[ws] res id="))
                .map(str::to_string),
        );
    }
    c
}

/// All the text in the log dir (plain files only).
fn plain_text(logs: &Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(logs).into_iter().flatten().flatten() {
        if e.path().extension().is_some_and(|x| x == "log") {
            out.push_str(&String::from_utf8_lossy(
                &std::fs::read(e.path()).unwrap_or_default(),
            ));
        }
    }
    out
}

/// The pid in the fake gateway's "grandchild pid=N" line.
fn worker_pid(logs: &Path) -> i32 {
    let mut pid = None;
    assert!(
        eventually(T, || {
            pid = plain_text(logs)
                .lines()
                .find_map(|l| l.split("grandchild pid=").nth(1))
                .and_then(|r| r.split_whitespace().next())
                .and_then(|p| p.parse::<i32>().ok());
            pid.is_some()
        }),
        "the gateway never said its worker's pid"
    );
    pid.unwrap()
}

fn pgid(pid: i32) -> i32 {
    unsafe { libc::getpgid(pid) }
}

/// `ctl status --json` over the socket in `base`, once it answers.
fn status_in(base: &Path) -> serde_json::Value {
    let sock = base.join("clawvisor.sock").display().to_string();
    let mut out = String::new();
    assert!(
        eventually(T, || {
            let (code, o, _) = run_cli(&["ctl", "--socket", &sock, "status", "--json"]);
            out = o;
            code == 0
        }),
        "the control socket never answered"
    );
    serde_json::from_str(&out).unwrap()
}

/// SIGKILLs clawvisor when `moment` says so, restarts it on the same dirs with a quiet
/// gateway, and checks what the issue asks; returns the fault table's observed column.
fn kill_and_restart(what: &str, rate: &str, lines: &str, moment: impl Fn(&Path) -> bool) -> String {
    let base = tempfile::tempdir().unwrap();
    let logs = base.path().join("logs");
    let body = config(base.path(), &burst_argv(rate, lines));
    // The first clawvisor's object outlives its process: dropping it would end the
    // gateway's group, which is the next clawvisor's job here.
    let mut first = Clawvisor::start_in(tempfile::tempdir().unwrap(), &body, &[]);
    let cv = &first;
    status_in(base.path());
    let gateway = cv.gateway_pids()[0];
    let worker = worker_pid(&logs);
    assert_eq!(
        pgid(worker),
        gateway,
        "the worker is in the gateway's group"
    );
    assert!(
        eventually(Duration::from_secs(60), || moment(base.path())),
        "the moment to kill ({what}) never came: {}",
        status_in(base.path())["parts"]["logs"]
    );
    let stats = status_in(base.path())["parts"]["logs"].clone();
    cv.signal(libc::SIGKILL);
    let killed_at = Instant::now();
    let before = captured(&logs);
    assert!(
        eventually(Duration::from_secs(2), || !alive(gateway)),
        "gateway {gateway} outlived the SIGKILLed clawvisor by 2 s"
    );
    let gateway_gone_ms = killed_at.elapsed().as_millis();
    assert!(alive(worker), "the worker died without anyone ending it");
    assert!(before.bad_gz.is_empty(), "{:?}", before.bad_gz);

    // The next clawvisor as soon as the killed one is gone (systemd's Restart= waits for the
    // main process too; a SIGKILL lands only when an fsync under it returns, and until then
    // the old one still holds the control socket's lock), with a quiet gateway.
    first.wait_exit(T);
    let first_gone_ms = killed_at.elapsed().as_millis();
    let quiet = ["sh", "-c", "echo SECOND RUN; exec sleep 600"].map(String::from);
    let cv = Clawvisor::start_in(
        tempfile::tempdir().unwrap(),
        &config(base.path(), &quiet),
        &[],
    );
    assert!(
        eventually(Duration::from_secs(10), || !alive(worker)),
        "the old gateway's worker {worker} survived the restart"
    );
    let group_gone_ms = killed_at.elapsed().as_millis();
    let ended = cv.wait_for("left in the group of gateway pid", 1, T);
    assert_eq!(
        ended[0]["pids"].as_str().unwrap_or(""),
        format!("[{worker}]")
    );
    // Leftovers recovered: the .tmp removed and its source compressed again.
    assert!(
        eventually(Duration::from_secs(90), || {
            let c = captured(&logs);
            c.tmp.is_empty() && c.plain_rotated == 0
        }),
        "compression never finished after the restart: {:?} left, status {}",
        captured(&logs).tmp,
        status_in(base.path())["parts"]["logs"]
    );
    let after = captured(&logs);
    assert!(after.bad_gz.is_empty(), "{:?}", after.bad_gz);
    let lost: Vec<&String> = before.lines.difference(&after.lines).collect();
    assert!(
        lost.is_empty(),
        "{} complete line(s) lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    assert!(eventually(T, || plain_text(&logs).contains("SECOND RUN")));
    let observed = format!(
        "{} lines on disk at the kill ({} rotated .gz, {} .tmp half-written, {} dropped by then), all {} still there after restart, {} .gz all readable, 0 .tmp; gateway gone {} ms after SIGKILL, clawvisor itself {} ms, its group's worker {} ms (next clawvisor started at once)",
        before.lines.len(),
        before.gz,
        before.tmp.len(),
        stats["lines_dropped"].as_u64().unwrap_or(0),
        before.lines.len(),
        after.gz,
        gateway_gone_ms,
        first_gone_ms,
        group_gone_ms
    );
    eprintln!("{what}: {observed}");
    observed
}

#[test]
fn sigkill_mid_burst_loses_no_complete_line_and_the_group_is_ended() {
    // Killed while the gateway writes as fast as it can (after a few rotations).
    let observed = kill_and_restart("mid-burst", "400000", "100000000", |base| {
        status_in(base)["parts"]["logs"]["rotations"]
            .as_u64()
            .unwrap_or(0)
            >= 4
    });
    fault_row(
        "clawvisor SIGKILLed mid-burst (fake gateway at full rate, 256 KiB rotations)",
        "no complete line lost; gateway gone < 2 s; its process group ended at restart",
        &observed,
    );
}

#[test]
fn sigkill_mid_compression_leaves_nothing_half_done() {
    // A short burst makes many rotated files; the archiver gzips them in the lull after it.
    // Killed while a `.gz.tmp` is being written.
    let observed = kill_and_restart("mid-compression", "200000", "20000", |base| {
        std::fs::read_dir(base.join("logs"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".gz.tmp"))
    });
    fault_row(
        "clawvisor SIGKILLed mid-compression (a .gz.tmp half written)",
        "the .tmp removed, its source compressed again, no line lost",
        &observed,
    );
}

// ---- a tampered record that names someone else's process ----

/// A `sleep` in a session of its own, as `uid` (via setpriv when not root's).
fn session_leader(uid: Option<u32>) -> Child {
    let mut cmd = match uid {
        Some(u) => {
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={u}"),
                &format!("--regid={u}"),
                "--clear-groups",
                "--",
                "sleep",
                "600",
            ]);
            c
        }
        None => {
            let mut c = Command::new("sleep");
            c.arg("600");
            c
        }
    };
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    cmd.spawn()
        .expect("start a session leader (setpriv from util-linux)")
}

/// /proc/PID/stat field 22 (start time in ticks).
fn start_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .collect();
    f[19].parse().unwrap()
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn a_tampered_gateway_record_naming_pid_1_or_another_users_process_kills_nothing() {
    let root = unsafe { libc::geteuid() } == 0;
    let me = unsafe { libc::getuid() };
    let mut ours = session_leader(None);
    let mut theirs = root.then(|| session_leader(Some(65534)));
    let ours_pid = ours.id() as i32;
    // Wait for the session and, for setpriv, the uid switch.
    assert!(eventually(T, || pgid(ours_pid) == ours_pid));
    if let Some(t) = &theirs {
        let pid = t.id() as i32;
        assert!(eventually(T, || std::fs::read_to_string(format!(
            "/proc/{pid}/status"
        ))
        .is_ok_and(|s| s.contains("Uid:\t65534"))));
    }
    let mut cases: Vec<(String, i32, u64, u32)> = vec![
        // pid 1 with its true start time and uid.
        ("pid 1".into(), 1, start_ticks(1), 0),
        // A process of ours whose start time does not match (a reused pid).
        (
            "a reused pid".into(),
            ours_pid,
            start_ticks(ours_pid) + 1,
            me,
        ),
    ];
    if let Some(t) = &theirs {
        let pid = t.id() as i32;
        // Another user's session leader, described exactly.
        cases.push(("nobody's process".into(), pid, start_ticks(pid), 65534));
    } else {
        eprintln!("(not root: the other user's case needs root to start a process as nobody)");
    }
    let mut said = Vec::new();
    for (name, pid, ticks, uid) in &cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("state")).unwrap();
        let record = serde_json::json!(
            {"pid": pid, "start_ticks": ticks, "uid": uid, "boot_id": boot_id()}
        );
        std::fs::write(
            dir.path().join("state/gateway-group.json"),
            record.to_string(),
        )
        .unwrap();
        let body = format!(
            "[gateway]\ncommand = [\"sleep\", \"600\"]\n{}",
            base_config(dir.path(), "")
        );
        let mut cv = Clawvisor::start_in(dir, &body, &[]);
        wait_for_socket(&cv);
        let why = msg(&cv.wait_for("nothing killed", 1, T)[0]).to_string();
        assert!(alive(1) && alive(ours_pid), "{name}: a process was killed");
        if let Some(t) = &theirs {
            assert!(alive(t.id() as i32), "{name}: nobody's process was killed");
        }
        assert!(!status(&cv)["state"].is_null(), "clawvisor answers status");
        cv.stop();
        said.push(format!("{name}: {why}"));
    }
    for c in [Some(&mut ours), theirs.as_mut()].into_iter().flatten() {
        let _ = c.kill();
        let _ = c.wait();
    }
    fault_row(
        "the last gateway's record tampered: names pid 1, a reused pid, another user's process",
        "nothing killed, said why, clawvisor runs on",
        &format!(
            "{} records, {} processes killed; {}",
            cases.len(),
            0,
            said.join("; ")
        ),
    );
}
