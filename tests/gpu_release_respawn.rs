//! The VRAM-release wait through the real binary: after a crash, the next gateway starts
//! only once the fake GPU no longer lists the old one's pid (or after `gpu.release_timeout`).
//! The order shows in clawvisor's JSON diagnostics: their timestamps against the moment the
//! test released the memory.

mod common;
mod control_support;

use std::time::{Duration, SystemTime};

use common::{Clawvisor, msg, ts, write_fake_gpu};
use control_support::{T, fake_argv, wait_for_socket, wait_status};
use serde_json::Value;

/// Restarts are quick (100ms backoff), so any longer pause before the second start is the
/// VRAM-release wait.
fn start_with_fake_gpu(gpu: &std::path::Path, release_timeout: &str) -> Clawvisor {
    let argv = fake_argv(&[]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let gpu = gpu.display().to_string();
    let cv = Clawvisor::start_with_env(
        &argv,
        &format!(
            r#"
[restart.backoff]
initial = "100ms"
jitter = 0.0
[gpu]
interval = "100ms"
release_timeout = "{release_timeout}"
"#
        ),
        &[("CLAWVISOR_FAKE_GPU", gpu.as_str())],
    );
    wait_for_socket(&cv);
    cv
}

/// The gateway takes 2 GiB of the fake GPU; once clawvisor has seen that, it is killed
/// (a crash) while the fake still lists its pid. Returns the crash's "to backoff" event.
fn crash_while_holding_vram(cv: &Clawvisor, gpu: &std::path::Path) -> (i32, Value) {
    let pid = cv.wait_for("gateway started", 1, T)[0]["pid"]
        .as_i64()
        .unwrap() as i32;
    write_fake_gpu(gpu, 50, &[(pid, 2 << 30)]);
    wait_status(cv, "holding 2 GiB of VRAM", |s| {
        s["parts"]["gpu"]["gateway_memory"] == serde_json::json!(2u64 << 30)
    });
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(
        common::eventually(T, || !backoffs(cv).is_empty()),
        "the crash never led to a backoff"
    );
    (pid, backoffs(cv).remove(0))
}

fn backoffs(cv: &Clawvisor) -> Vec<Value> {
    cv.events()
        .into_iter()
        .filter(|e| e["to"] == "backoff")
        .collect()
}

fn second_start(cv: &Clawvisor) -> Value {
    cv.wait_for("gateway started", 2, T)[1].clone()
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

// ---- released ----

#[test]
fn the_respawn_waits_until_the_old_pid_leaves_the_gpu() {
    let d = tempfile::tempdir().unwrap();
    let gpu = d.path().join("gpu.json");
    write_fake_gpu(&gpu, 50, &[]);
    let cv = start_with_fake_gpu(&gpu, "60s");
    let (_pid, crashed) = crash_while_holding_vram(&cv, &gpu);

    // The backoff is 100ms; two seconds later the old pid still "holds" VRAM: no start.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        cv.gateway_pids().len(),
        1,
        "started before the VRAM was free"
    );
    let released_at = now_secs();
    write_fake_gpu(&gpu, 50, &[]);

    let started = second_start(&cv);
    assert!(
        ts(&started) >= released_at,
        "second start at {} is before the release at {released_at}",
        ts(&started)
    );
    assert!(
        ts(&started) - ts(&crashed) >= 2.0,
        "crash {} -> start {}",
        ts(&crashed),
        ts(&started)
    );
    assert!(
        cv.find("not released after").is_empty(),
        "a release in time is not a timeout"
    );
}

// ---- release_timeout ----

#[test]
fn release_timeout_bounds_the_wait_and_says_who_held_on() {
    let d = tempfile::tempdir().unwrap();
    let gpu = d.path().join("gpu.json");
    write_fake_gpu(&gpu, 50, &[]);
    let cv = start_with_fake_gpu(&gpu, "1s");
    let (pid, crashed) = crash_while_holding_vram(&cv, &gpu);

    // The fake never lets go: after 1s clawvisor starts anyway, and says so first.
    let started = second_start(&cv);
    let gave_up = cv.find("GPU memory of the old gateway tree not released after 1s");
    assert_eq!(gave_up.len(), 1, "{:?}", cv.events());
    let gave_up = &gave_up[0];
    assert_eq!(gave_up["level"], "WARN", "{gave_up}");
    assert!(
        gave_up.to_string().contains(&pid.to_string()),
        "the warning names the holder {pid}: {}",
        msg(gave_up)
    );
    assert!(ts(gave_up) - ts(&crashed) >= 1.0, "{gave_up} vs {crashed}");
    assert!(ts(&started) >= ts(gave_up), "{started} vs {gave_up}");
}
