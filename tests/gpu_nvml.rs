//! GPU watching through the real NVML path: a stub `libnvidia-ml.so.1` (tests/nvml_stub,
//! built here with `cc`) is loaded by nvml-wrapper through LD_LIBRARY_PATH, and each test
//! scripts it (devices, processes, errors, hangs) through the file FAKE_NVML_STATE names.
//! clawvisor is the real binary, supervising the fake gateway.

mod common;
mod control_support;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Clawvisor, alive, eventually, msg};
use control_support::{T, ctl, fake_argv, status, wait_for_socket, wait_status};
use serde_json::Value;

const GIB: u64 = 1 << 30;

/// A built stub and its script.
struct Stub {
    dir: tempfile::TempDir,
    state: PathBuf,
}

impl Stub {
    /// `old_driver`: built without the calls drivers before R510 lack.
    fn build(old_driver: bool) -> Stub {
        let dir = tempfile::tempdir().unwrap();
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/nvml_stub/fakenvml.c");
        let mut cc = Command::new("cc");
        cc.args(["-shared", "-fPIC", "-O1", "-o"])
            .arg(dir.path().join("libnvidia-ml.so.1"))
            .arg(src);
        if old_driver {
            cc.arg("-DOLD_DRIVER");
        }
        let st = cc
            .status()
            .expect("cc (a C compiler) builds the NVML stub; install gcc");
        assert!(st.success(), "the NVML stub did not build");
        let state = dir.path().join("state");
        let stub = Stub { dir, state };
        stub.set("");
        stub
    }

    /// Replaces the script (atomically: the stub re-reads it at every call).
    fn set(&self, text: &str) {
        let tmp = self.state.with_extension("tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &self.state).unwrap();
    }

    /// clawvisor over the fake gateway, NVML from the stub; `gpu` is more of `[gpu]`, `more`
    /// other sections.
    fn start(&self, gpu: &str, more: &str) -> Clawvisor {
        let argv = fake_argv(&[]);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let lib = self.dir.path().display().to_string();
        let state = self.state.display().to_string();
        let cv = Clawvisor::start_with_env(
            &argv,
            &format!(
                "[gpu]\n{}{gpu}\n[restart.backoff]\ninitial = \"200ms\"\n{more}",
                if gpu.contains("interval") {
                    ""
                } else {
                    "interval = \"200ms\"\n"
                }
            ),
            &[
                ("LD_LIBRARY_PATH", lib.as_str()),
                ("FAKE_NVML_STATE", state.as_str()),
            ],
        );
        wait_for_socket(&cv);
        cv
    }
}

fn gateway_pid(cv: &Clawvisor, n: usize) -> i32 {
    cv.wait_for("gateway started", n, T)[n - 1]["pid"]
        .as_i64()
        .unwrap() as i32
}

/// Waits until the `gpu` part satisfies `cond`; returns it.
fn wait_gpu(cv: &Clawvisor, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
    wait_status(cv, what, |s| cond(&s["parts"]["gpu"]))["parts"]["gpu"].clone()
}

fn warnings(cv: &Clawvisor, needle: &str) -> Vec<Value> {
    cv.find(needle)
        .into_iter()
        .filter(|e| e["level"] == "WARN")
        .collect()
}

fn kill(pid: i32) {
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

// 1. C+G: one process in the compute and the graphics list counts once.
#[test]
fn a_process_with_compute_and_graphics_contexts_counts_once() {
    let stub = Stub::build(false);
    let cv = stub.start("restart_memory_above = \"4GiB\"\nheld_for = \"200ms\"", "");
    let gw = gateway_pid(&cv, 1);
    stub.set(&format!("compute 0 {gw}:3G\ngraphics 0 {gw}:3G\n"));
    let g = wait_gpu(&cv, "the gateway's 3 GiB", |g| {
        g["gateway_memory"] == 3 * GIB
    });
    assert_eq!(g["devices"][0]["processes"], 1, "{g}");
    // Well past held_for: still no restart (6 GiB would be above the 4 GiB limit).
    std::thread::sleep(Duration::from_millis(1500));
    assert!(cv.find("restart_memory_above").is_empty());
    assert_eq!(cv.gateway_pids(), [gw]);
}

// 2. A failed process query keeps the holders: the respawn waits for a reading that shows
// the old pid gone.
#[test]
fn a_failed_process_query_does_not_end_the_vram_wait() {
    let stub = Stub::build(false);
    let cv = stub.start("release_timeout = \"60s\"", "");
    let gw = gateway_pid(&cv, 1);
    stub.set(&format!("compute 0 {gw}:2G\n"));
    wait_gpu(&cv, "the gateway holding VRAM", |g| {
        g["gateway_gpu_pids"] == serde_json::json!([gw])
    });
    stub.set(&format!("compute 0 {gw}:2G\ncompute_err 0 999\n"));
    wait_gpu(&cv, "the process query failing", |g| {
        g["devices"][0]["processes_why"].is_string()
    });
    let t0 = Instant::now();
    kill(gw);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        cv.gateway_pids(),
        [gw],
        "respawned while the holders were unknown"
    );
    // A good reading without the old pid releases the wait.
    stub.set("compute 0 \n");
    gateway_pid(&cv, 2);
    assert!(t0.elapsed() >= Duration::from_secs(3));
    assert!(t0.elapsed() < Duration::from_secs(40), "{:?}", t0.elapsed());
}

// 3a. A hung NVML call: the respawn keeps to release_timeout; status, reload, wait-idle
// and SIGTERM are answered while NVML hangs.
#[test]
fn a_hung_nvml_call_blocks_nothing() {
    let stub = Stub::build(false);
    let mut cv = stub.start("release_timeout = \"3s\"", "[stop]\ntimeout = \"5s\"");
    let gw = gateway_pid(&cv, 1);
    stub.set(&format!("compute 0 {gw}:1G\n"));
    wait_gpu(&cv, "the gateway holding VRAM", |g| {
        g["gateway_gpu_pids"] == serde_json::json!([gw])
    });
    stub.set(&format!("compute 0 {gw}:1G\nhang_compute 0\n"));
    wait_gpu(&cv, "a stale reading", |g| g["stale"] == true);
    let t0 = Instant::now();
    kill(gw);
    gateway_pid(&cv, 2);
    let took = t0.elapsed();
    // 3 s of release_timeout after a 200 ms backoff, plus a margin for a loaded machine.
    assert!(took >= Duration::from_millis(2500), "{took:?}");
    assert!(took < Duration::from_secs(12), "{took:?}");
    assert!(!cv.find("not released after 3s").is_empty());

    let t = Instant::now();
    let g = status(&cv)["parts"]["gpu"].clone();
    assert!(
        g["error"].as_str().unwrap().contains("has not returned"),
        "{g}"
    );
    assert_eq!(warnings(&cv, "an NVML call is hung").len(), 1);
    let (code, out, err) = ctl(&cv, &["reload"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = ctl(&cv, &["wait-idle", "--timeout", "30s"]);
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("cannot judge") && out.contains("has not returned"),
        "{out}"
    );
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());

    let t = Instant::now();
    let st = cv.stop();
    assert!(st.success(), "{st:?}");
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
}

// 3b. A hung nvmlInit does not keep the gateway from starting; once it returns, readings come.
#[test]
fn a_hung_nvml_init_does_not_hold_the_gateway() {
    let stub = Stub::build(false);
    stub.set("hang_init\n");
    let cv = stub.start("", "");
    gateway_pid(&cv, 1);
    let g = wait_gpu(&cv, "a hung reading", |g| g["stale"] == true);
    assert_eq!(g["enabled"], true, "{g}");
    stub.set("util 0 7\n");
    wait_gpu(&cv, "readings", |g| {
        g["devices"][0]["utilization_percent"] == 7.0
    });
}

// 4. MIG: the parent gives nothing without admin rights; each slice is read on its own.
#[test]
fn mig_slices_are_read_one_by_one() {
    let stub = Stub::build(false);
    let cv = stub.start("", "");
    let gw = gateway_pid(&cv, 1);
    stub.set(&format!(
        "mig 0 2\nmem_err 0 4\nmem 0:0 10G 1G\nmem 0:1 10G 3G\ncompute 0:1 {gw}:2G\n"
    ));
    let g = wait_gpu(&cv, "two slices", |g| {
        g["devices"].as_array().is_some_and(|d| d.len() == 2)
    });
    let d = &g["devices"];
    assert_eq!(d[0]["label"], "0:0", "{g}");
    assert_eq!(d[1]["uuid"], "MIG-fake-0-1", "{g}");
    assert_eq!(d[1]["memory_free"], 7 * GIB, "{g}");
    assert_eq!(d[1]["utilization_percent"], Value::Null, "{g}");
    assert!(
        d[1]["utilization_why"].as_str().unwrap().contains("MIG"),
        "{g}"
    );
    assert_eq!(d[1]["watched"], true, "{g}");
    assert_eq!(d[0]["watched"], false, "{g}");
    assert_eq!(g["gateway_memory"], 2 * GIB, "{g}");
}

// 5. One lost GPU of two keeps the other's readings.
#[test]
fn one_lost_gpu_keeps_the_others_readings() {
    let stub = Stub::build(false);
    let cv = stub.start("", "");
    gateway_pid(&cv, 1);
    stub.set("count 2\nhandle_err 1 15\nutil 0 12\n");
    let g = wait_gpu(&cv, "GPU 1 lost", |g| g["devices"][1]["error"].is_string());
    assert_eq!(g["devices"][0]["utilization_percent"], 12.0, "{g}");
    assert!(
        g["devices"][1]["error"]
            .as_str()
            .unwrap()
            .contains("fell off the bus"),
        "{g}"
    );
    cv.wait_for("GPU readings are incomplete: GPU 1:", 1, T);
}

// 6. "Utilisation not supported" is unknown, not 0 %: no alert, and wait-idle cannot judge.
#[test]
fn unsupported_utilisation_is_unknown_not_idle() {
    let stub = Stub::build(false);
    stub.set("util_err 0 3\n");
    let cv = stub.start("warn_utilization_above = 1\nheld_for = \"0s\"", "");
    gateway_pid(&cv, 1);
    let g = wait_gpu(&cv, "a reading", |g| g["devices"].is_array());
    assert_eq!(g["devices"][0]["utilization_percent"], Value::Null, "{g}");
    assert!(g["devices"][0]["utilization_why"].is_string(), "{g}");
    let (code, out, _) = ctl(&cv, &["wait-idle", "--timeout", "30s"]);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("GPU 0 utilisation unknown"), "{out}");
    assert!(!out.contains("idle:"), "{out}");
    let (code, out, _) = ctl(&cv, &["wait-idle", "--unknown-is-idle"]);
    assert_eq!(code, 0, "{out}");
    assert!(cv.find("warn_utilization_above").is_empty());
    // The same machine with utilisation back: the alert fires (so the check above can fail).
    stub.set("util 0 50\n");
    cv.wait_for("warn_utilization_above", 1, T);
}

// 8. Per-process memory "not available": unknown in status, one warning, no restart at 0.
#[test]
fn process_memory_not_available_is_unknown() {
    let stub = Stub::build(false);
    let cv = stub.start("restart_memory_above = \"1GiB\"\nheld_for = \"0s\"", "");
    let gw = gateway_pid(&cv, 1);
    stub.set(&format!("compute 0 {gw}:NA\n"));
    let g = wait_gpu(&cv, "unknown gateway memory", |g| {
        g["gateway_memory_known"] == false
    });
    assert_eq!(g["gateway_memory"], Value::Null, "{g}");
    assert!(
        g["gateway_memory_why"]
            .as_str()
            .unwrap()
            .contains("not available"),
        "{g}"
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(warnings(&cv, "does not report the GPU memory").len(), 1);
    assert!(cv.find("restart_memory_above (").is_empty());
    assert_eq!(cv.gateway_pids(), [gw]);
}

// 9. NVML that fails to start is a warning, not "no GPU"; a reload tries again.
#[test]
fn an_nvml_init_failure_is_retried_on_reload() {
    let stub = Stub::build(false);
    stub.set("init 18\n");
    let cv = stub.start("", "");
    gateway_pid(&cv, 1);
    let g = wait_gpu(&cv, "an error", |g| g["error"].is_string());
    assert_eq!(g["enabled"], true, "{g}");
    assert!(
        g["error"].as_str().unwrap().contains("version mismatch"),
        "{g}"
    );
    assert_eq!(warnings(&cv, "cannot open NVML").len(), 1);
    let (code, out, _) = ctl(&cv, &["wait-idle", "--timeout", "10s"]);
    assert_eq!(code, 4, "{out}");
    stub.set("util 0 3\n");
    let (code, _, err) = ctl(&cv, &["reload"]);
    assert_eq!(code, 0, "{err}");
    wait_gpu(&cv, "readings after the reload", |g| {
        g["devices"][0]["utilization_percent"] == 3.0
    });
    let (code, out, _) = ctl(&cv, &["wait-idle", "--timeout", "10s"]);
    assert_eq!(code, 0, "{out}");
}

// 10. A driver before R510: the v1 memory and v2 process calls are used.
#[test]
fn an_old_driver_is_read_through_the_older_calls() {
    let stub = Stub::build(true);
    // The version is read once, when NVML is opened.
    stub.set("driver 470.161.03\n");
    let cv = stub.start("", "");
    let gw = gateway_pid(&cv, 1);
    stub.set(&format!(
        "driver 470.161.03\nmem 0 8G 2G\ncompute 0 {gw}:1G\n"
    ));
    let g = wait_gpu(&cv, "the gateway's memory", |g| g["gateway_memory"] == GIB);
    assert_eq!(g["devices"][0]["memory_total"], 8 * GIB, "{g}");
    assert_eq!(g["devices"][0]["memory_free"], 6 * GIB, "{g}");
    assert!(g["note"].as_str().unwrap().contains("predates R510"), "{g}");
}

// 11. Driver 535.54.03 writes 32-byte process entries into the _v3 calls: the _v2 calls are
// used and both processes are read.
#[test]
fn the_535_struct_bug_is_avoided() {
    let stub = Stub::build(false);
    let script =
        |driver: &str, gw: i32| format!("driver {driver}\nstride32\ncompute 0 1:1G {gw}:2G\n");
    // The version is read once, when NVML is opened.
    stub.set("driver 535.54.03\n");
    let cv = stub.start("", "");
    let gw = gateway_pid(&cv, 1);
    stub.set(&script("535.54.03", gw));
    let g = wait_gpu(&cv, "the gateway's memory", |g| {
        g["gateway_memory"] == 2 * GIB
    });
    assert_eq!(g["devices"][0]["processes"], 2, "{g}");
    assert!(g["note"].as_str().unwrap().contains("535.86"), "{g}");
}

// 12. Pids NVML lists that this /proc does not have: said once, with what to do.
#[test]
fn pids_from_another_namespace_are_reported() {
    let ghost = (3_000_000..4_000_000)
        .find(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
        .unwrap();
    let stub = Stub::build(false);
    let cv = stub.start("", "");
    gateway_pid(&cv, 1);
    stub.set(&format!("compute 0 {ghost}:1G\n"));
    wait_gpu(&cv, "pids not visible", |g| g["pids_not_visible"] == true);
    std::thread::sleep(Duration::from_secs(1));
    let w = warnings(&cv, "are not in this /proc");
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(msg(&w[0]).contains("--pid=host"), "{w:?}");
}

// 13. A context made after the last reading (a crash while loading a model) is still waited
// for.
#[test]
fn a_context_made_after_the_last_reading_is_waited_for() {
    let stub = Stub::build(false);
    let cv = stub.start("interval = \"60s\"\nrelease_timeout = \"60s\"", "");
    let gw = gateway_pid(&cv, 1);
    // The reading taken when the gateway started saw its tree without a GPU context.
    wait_gpu(&cv, "a reading", |g| g["devices"].is_array());
    std::thread::sleep(Duration::from_millis(500));
    stub.set(&format!("compute 0 {gw}:8G\n"));
    let t0 = Instant::now();
    kill(gw);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(cv.gateway_pids(), [gw], "did not wait for the late context");
    stub.set("");
    gateway_pid(&cv, 2);
    assert!(t0.elapsed() >= Duration::from_secs(3));
}

// 14. Alerts and wait-idle judge the gateway's GPU, not a busy neighbour.
#[test]
fn alerts_and_wait_idle_judge_the_gateways_gpu() {
    let stub = Stub::build(false);
    let cv = stub.start("warn_utilization_above = 90\nheld_for = \"0s\"", "");
    let gw = gateway_pid(&cv, 1);
    stub.set(&format!(
        "count 2\nutil 0 5\nutil 1 100\ncompute 0 {gw}:1G\ncompute 1 1:4G\n"
    ));
    let g = wait_gpu(&cv, "GPU 1 not watched", |g| {
        g["devices"][1]["watched"] == false
    });
    assert_eq!(g["devices"][0]["watched"], true, "{g}");
    let (code, out, _) = ctl(&cv, &["wait-idle", "--timeout", "10s"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("idle: GPU 0 5% busy") && !out.contains("GPU 1"),
        "{out}"
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(cv.find("GPU 1 utilisation").is_empty());
    // Without the gateway's process on it, GPU 1 counts again.
    stub.set("count 2\nutil 0 5\nutil 1 100\n");
    cv.wait_for("GPU 1 (GPU-fake-1) utilisation 100%", 1, T);
    assert!(alive(gw));
    assert!(eventually(T, || ctl(
        &cv,
        &["wait-idle", "--timeout", "1s"]
    )
    .0 == 1));
}
