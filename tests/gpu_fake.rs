//! `[gpu]` with the fake NVML source (CLAWVISOR_FAKE_GPU): thresholds on utilisation and on
//! the gateway tree's GPU memory drive alerts and a restart.

mod common;

use std::time::Duration;

use common::{Clawvisor, FAKE_GATEWAY};

#[test]
fn gpu_thresholds_alert_and_restart_on_the_trees_vram() {
    let d = tempfile::tempdir().unwrap();
    let gpu = d.path().join("gpu.json");
    common::write_fake_gpu(&gpu, 10, &[(1, 8 << 30)]);
    // SAFETY: the only test in this binary; set before any thread reads the environment.
    unsafe { std::env::set_var("CLAWVISOR_FAKE_GPU", &gpu) };
    let cv = Clawvisor::start(
        &[FAKE_GATEWAY, "--port", "0"],
        r#"
[gpu]
interval = "100ms"
warn_utilization_above = 90
restart_memory_above = "2GiB"
held_for = "500ms"
# The fake keeps listing the old gateway's VRAM: bound the respawn's wait for its release.
release_timeout = "1s"
"#,
    );
    let pid = cv.wait_for("gateway started", 1, Duration::from_secs(30))[0]["pid"]
        .as_i64()
        .unwrap() as i32;
    // pid 1's 8 GiB is not the gateway's: nothing happens for it.
    common::write_fake_gpu(&gpu, 95, &[(1, 8 << 30), (pid, 3 << 30)]);
    let v = cv.wait_for("gpu.warn_utilization_above", 1, Duration::from_secs(60));
    assert_eq!(v[0]["source"], "gpu", "{v:?}");
    let v = cv.wait_for(
        "gpu.restart_memory_above (2.0 GiB)",
        1,
        Duration::from_secs(60),
    );
    assert_eq!(v[0]["reaction"], "Restart", "{v:?}");
    assert!(common::msg(&v[0]).contains("3.0 GiB"), "{v:?}");
    cv.wait_for("gateway started", 2, Duration::from_secs(60));
}
