//! Fault suite, part 3: resource limits, through the real binary. clawvisor's descriptors
//! used up (RLIMIT_NOFILE lowered under it with prlimit, and a tiny `ulimit -n` at start),
//! and a gateway user at its process limit (RLIMIT_NPROC): a clear error naming the limit,
//! retried with backoff, clawvisor alive and answering `ctl status`, and back to running
//! once the limit allows.

mod common;
mod control_support;

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use control_support::{ctl, status, wait_for_socket};

const T: Duration = Duration::from_secs(30);

/// Short backoff (0.3 s doubling to 2 s) and no crash-loop pause.
const RESTART: &str = "[restart]\nmax_restarts = 1000\nwindow = \"1h\"\n[restart.backoff]\ninitial = \"300ms\"\nmultiplier = 2.0\njitter = 0.0\nmax = \"2s\"\n";

fn open_fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// The soft RLIMIT_NOFILE of `pid`, from /proc/PID/limits.
fn soft_nofile(pid: i32) -> String {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace().nth(3).unwrap().to_string()
}

fn prlimit(pid: i32, what: &str) {
    let ok = Command::new("prlimit")
        .arg(format!("--pid={pid}"))
        .arg(what)
        .status()
        .expect("prlimit (util-linux) is needed for this test")
        .success();
    assert!(ok, "prlimit --pid={pid} {what}");
}

/// The seconds between consecutive events (their timestamps).
fn gaps(events: &[serde_json::Value]) -> Vec<f64> {
    events.windows(2).map(|w| ts(&w[1]) - ts(&w[0])).collect()
}

#[test]
fn descriptors_used_up_fail_starts_with_the_limit_named_and_backoff_until_raised() {
    // A gateway that exits after a moment, so clawvisor must start it again and again.
    let cv = Clawvisor::start(&["sh", "-c", "echo up; sleep 0.2; exit 3"], RESTART);
    wait_for_socket(&cv);
    cv.wait_for("gateway started", 1, T);
    let pid = cv.pid();
    // Room for a control connection, not for a start (stdin and three pipes: 7). The
    // fewest descriptors seen over a second is the count between starts (no pipes open).
    let mut fewest = usize::MAX;
    let sampled = Instant::now();
    while sampled.elapsed() < Duration::from_secs(1) {
        fewest = fewest.min(open_fds(pid));
        std::thread::sleep(Duration::from_millis(5));
    }
    let limit = fewest + 3;
    let soft = soft_nofile(pid);
    // The soft limit only: raising a hard limit again needs CAP_SYS_RESOURCE.
    prlimit(pid, &format!("--nofile={limit}:"));
    let lowered = Instant::now();
    let failed = cv.wait_for("RLIMIT_NOFILE", 3, T);
    let first = msg(&failed[0]).to_string();
    assert!(
        first.contains("Too many open files")
            && first.contains(&format!("RLIMIT_NOFILE is {limit}")),
        "{first}"
    );
    // Retried with backoff: the gaps between failures grow.
    let g = gaps(&failed);
    assert!(g[1] > g[0] * 1.5, "no backoff between failed starts: {g:?}");
    // Alive and answering, and status says why.
    let (code, out, err) = ctl(&cv, &["status", "--json"]);
    assert_eq!(code, 0, "ctl status under the lowered limit: {err}");
    assert!(
        out.contains("RLIMIT_NOFILE"),
        "status does not say why: {out}"
    );
    let starts_before = cv.gateway_pids().len();
    // Raised again: the next retry starts the gateway.
    prlimit(pid, &format!("--nofile={soft}:"));
    let raised = Instant::now();
    assert!(
        eventually(T, || cv.gateway_pids().len() > starts_before),
        "no start after the limit was raised"
    );
    let recovered_ms = raised.elapsed().as_millis();
    assert!(alive(pid));
    fault_row(
        "descriptors used up (RLIMIT_NOFILE lowered to open+3 under a running clawvisor)",
        "failed starts say EMFILE and the limit; backoff; ctl status answers; starts again when raised",
        &format!(
            "{} failed starts in {:.1} s, gaps {:.1?} s; ctl status answered (exit 0); message: {first:?}; running again {recovered_ms} ms after the limit was raised",
            cv.find("RLIMIT_NOFILE").len(),
            lowered.elapsed().as_secs_f64(),
            g
        ),
    );
}

#[test]
fn a_tiny_ulimit_n_at_start_is_a_clear_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "[gateway]\ncommand = [\"sleep\", \"600\"]\n{}",
        base_config(dir.path(), "")
    );
    let config = dir.path().join("clawvisor.toml");
    std::fs::write(&config, body).unwrap();
    let mut seen = Vec::new();
    // Every limit from "cannot start at all" up to "starts": each stage that runs out of
    // descriptors (runtime, socket, handlers, ...) must say so and exit; none may panic.
    let mut failed = 0;
    for n in 5..=14 {
        let out = Command::new("timeout")
            .args(["5", "sh", "-c"])
            .arg(format!("ulimit -n {n}; exec \"$0\" run --config \"$1\""))
            .arg(CLAWVISOR)
            .arg(&config)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        assert!(!err.contains("panicked"), "ulimit -n {n}: {err}");
        if code == Some(124) {
            // It started (and ran until `timeout` stopped it): the limit was enough.
            seen.push(format!("-n {n}: ran"));
            continue;
        }
        assert!(
            matches!(code, Some(1) | Some(78)),
            "ulimit -n {n}: exit {code:?}, {err}"
        );
        assert!(
            err.contains("Too many open files") && err.contains(&format!("RLIMIT_NOFILE is {n}")),
            "ulimit -n {n}: {err}"
        );
        failed += 1;
        seen.push(format!(
            "-n {n}: exit {}, {:?}",
            code.unwrap(),
            err.lines()
                .find(|l| l.contains("RLIMIT_NOFILE"))
                .unwrap_or("")
                .split_once(' ')
                .map_or("", |(_, m)| m)
                .trim()
        ));
    }
    assert!(failed >= 3, "hardly any limit failed: {seen:?}");
    fault_row(
        "tiny `ulimit -n` at start (5 to 14)",
        "a clear error naming RLIMIT_NOFILE and an exit status, or a normal start; no panic",
        &seen.join("; "),
    );
}

const NOBODY: u32 = 65534;

/// nobody's tasks now (RLIMIT_NPROC counts threads).
fn nobody_tasks() -> usize {
    let mut n = 0;
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        for t in std::fs::read_dir(p.path().join("task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if std::fs::read_to_string(t.path().join("status"))
                .is_ok_and(|s| s.contains(&format!("Uid:\t{NOBODY}\t")))
            {
                n += 1;
            }
        }
    }
    n
}

/// A process of `nobody`, killed when dropped. Two of them put that user over a process
/// limit of (what it had before) + 1: the kernel compares the count before the gateway's own
/// setuid moves it to nobody, and refuses the exec that follows.
struct NobodyProcess(std::process::Child);

impl Drop for NobodyProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn nobody_process() -> NobodyProcess {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
        "sleep",
        "600",
    ]);
    cmd.stdin(Stdio::null());
    // SAFETY: setsid is async-signal-safe; its own session keeps it out of any group.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .expect("setpriv (util-linux) is needed for this test");
    let pid = child.id() as i32;
    assert!(eventually(T, || std::fs::read_to_string(format!(
        "/proc/{pid}/status"
    ))
    .is_ok_and(|s| s.contains(&format!("Uid:\t{NOBODY}")))));
    NobodyProcess(child)
}

#[test]
fn the_gateway_user_at_its_process_limit_is_named_retried_and_recovers() {
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            std::env::var("CI").is_err(),
            "this test needs root (a gateway user) and CI runs as root"
        );
        eprintln!("SKIPPED: needs root to start the gateway as another user");
        return;
    }
    let limit = nobody_tasks() + 1;
    let others = vec![nobody_process(), nobody_process()];
    // clawvisor (root, exempt) passes RLIMIT_NPROC = 1 on to the gateway it starts as nobody.
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "[gateway]\ncommand = [\"sh\", \"-c\", \"echo STARTED; exec sleep 600\"]\nuser = \"nobody\"\ncwd = \"/\"\n{RESTART}{}",
        base_config(dir.path(), "")
    );
    let nproc = format!("--nproc={limit}:{limit}");
    let cv = Clawvisor::start_in(dir, &body, &["prlimit", &nproc, "--"]);
    wait_for_socket(&cv);
    let failed = cv.wait_for("RLIMIT_NPROC", 3, T);
    let first = msg(&failed[0]).to_string();
    assert!(
        first.contains("Resource temporarily unavailable")
            && first.contains("EAGAIN")
            && first.contains(&format!("RLIMIT_NPROC is {limit} for uid 65534")),
        "{first}"
    );
    let g = gaps(&failed);
    assert!(g[1] > g[0] * 1.5, "no backoff between failed starts: {g:?}");
    let st = status(&cv);
    assert!(
        st.to_string().contains("RLIMIT_NPROC"),
        "status does not say why: {st}"
    );
    // nobody's other processes end: the next retry starts the gateway.
    drop(others);
    let freed = Instant::now();
    assert!(
        eventually(T, || cv.captured_output().contains("STARTED")),
        "the gateway never started once nobody had room"
    );
    let gateway = *cv.gateway_pids().last().unwrap();
    let uid_line = std::fs::read_to_string(format!("/proc/{gateway}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap()
        .to_string();
    assert!(uid_line.contains(&format!("\t{NOBODY}\t")), "{uid_line}");
    let recovered_ms = freed.elapsed().as_millis();
    fault_row(
        "fork/exec refused: gateway user nobody over RLIMIT_NPROC (limit = its tasks + 1, two more started)",
        "EAGAIN named with the limit and uid; backoff; ctl status answers; starts once room is made",
        &format!(
            "{} failed starts, gaps {:.1?} s; ctl status answered; message: {first:?}; started {recovered_ms} ms after nobody's other processes ended",
            cv.find("RLIMIT_NPROC").len(),
            g
        ),
    );
}
