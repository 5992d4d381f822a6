//! `clawvisor ctl wait-idle`: polls clawvisor's status until the GPU is idle. The GPU is the
//! fake one (`CLAWVISOR_FAKE_GPU` names a JSON file clawvisor re-reads every interval).

mod common;
mod control_support;

use std::time::{Duration, Instant};

use common::{Clawvisor, write_fake_gpu};
use control_support::{T, ctl, fake_argv, wait_for_socket, wait_status};

/// A clawvisor reading the fake GPU file `gpu` every 100ms.
fn start_with_fake_gpu(gpu: &std::path::Path) -> Clawvisor {
    let argv = fake_argv(&[]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let gpu = gpu.display().to_string();
    let cv = Clawvisor::start_with_env(
        &argv,
        "[gpu]\ninterval = \"100ms\"",
        &[("CLAWVISOR_FAKE_GPU", gpu.as_str())],
    );
    wait_for_socket(&cv);
    cv
}

/// Waits until clawvisor's `gpu` part shows device 0 at `util` percent.
fn wait_gpu_util(cv: &Clawvisor, util: f64) {
    wait_status(cv, &format!("GPU at {util}%"), |s| {
        s["parts"]["gpu"]["devices"][0]["utilization_percent"].as_f64() == Some(util)
    });
}

// ---- a fake GPU ----

#[test]
fn busy_times_out_with_what_it_saw_then_idle_exits_0() {
    let d = tempfile::tempdir().unwrap();
    let gpu = d.path().join("gpu.json");
    write_fake_gpu(&gpu, 95, &[]);
    let cv = start_with_fake_gpu(&gpu);
    wait_gpu_util(&cv, 95.0);

    let t0 = Instant::now();
    let (code, out, err) = ctl(&cv, &["wait-idle", "--timeout", "2s"]);
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert!(t0.elapsed() >= Duration::from_secs(2), "{:?}", t0.elapsed());
    assert!(out.contains("busy: GPU 0 95% busy, 15.0 GiB free"), "{out}");
    assert!(
        out.contains("still busy after 2s: GPU 0 95% busy") && out.contains("below 90%"),
        "{out}"
    );

    // A stricter threshold and a memory floor the device cannot meet: still busy.
    write_fake_gpu(&gpu, 10, &[]);
    wait_gpu_util(&cv, 10.0);
    let (code, out, _) = ctl(
        &cv,
        &[
            "wait-idle",
            "--gpu-util-below",
            "5",
            "--gpu-mem-free-above",
            "20GiB",
            "--timeout",
            "1s",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("below 5% utilisation and at least 20.0 GiB free"),
        "{out}"
    );

    let (code, out, err) = ctl(&cv, &["wait-idle", "--timeout", "30s"]);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("idle: GPU 0 10% busy, 15.0 GiB free"), "{out}");
}

#[test]
fn the_wait_ends_when_the_gpu_calms_down() {
    let d = tempfile::tempdir().unwrap();
    let gpu = d.path().join("gpu.json");
    write_fake_gpu(&gpu, 95, &[]);
    let cv = start_with_fake_gpu(&gpu);
    wait_gpu_util(&cv, 95.0);
    let mut waiter = control_support::CtlChild::spawn(&cv, &["wait-idle", "--timeout", "2m"]);
    let lines = control_support::line_reader(waiter.0.stdout.take().unwrap());
    control_support::wait_line(&lines, "busy: GPU 0 95% busy").expect("a busy line");
    write_fake_gpu(&gpu, 10, &[]);
    control_support::wait_line(&lines, "idle: GPU 0 10% busy").expect("an idle line");
    let st = waiter.0.wait().unwrap();
    assert_eq!(st.code(), Some(0));
}

// ---- no GPU, no clawvisor ----

#[test]
fn without_gpu_watching_there_is_nothing_to_wait_for() {
    let cv = control_support::start(&[], "");
    let gpu = wait_status(&cv, "with a gpu part", |s| s["parts"]["gpu"].is_object());
    if gpu["parts"]["gpu"]["enabled"] != false {
        // This machine has a real GPU and NVML: "no GPU" cannot be tested here.
        eprintln!("skipped: NVML found a GPU: {}", gpu["parts"]["gpu"]);
        return;
    }
    let (code, out, err) = ctl(&cv, &["wait-idle", "--timeout", "1s"]);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("idle: GPU watching is off"), "{out}");
}

#[test]
fn no_clawvisor_is_exit_3() {
    let d = tempfile::tempdir().unwrap();
    let sock = d.path().join("none.sock").display().to_string();
    let t0 = Instant::now();
    let (code, out, err) =
        common::run_cli(&["ctl", "--socket", &sock, "wait-idle", "--timeout", "1m"]);
    assert_eq!(code, 3, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("cannot read clawvisor's status"), "{out}");
    assert!(t0.elapsed() < T, "gave up at once, not after the wait");
}
