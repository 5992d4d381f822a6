//! `[memory]`: the gateway tree's memory is sampled and a leak is restarted at the hard
//! threshold once it has stayed there for `restart_after`.

mod common;

use std::time::Duration;

use common::{Clawvisor, FAKE_GATEWAY};

#[test]
fn a_leak_is_warned_then_restarted_at_the_hard_threshold() {
    let cv = Clawvisor::start(
        &[
            FAKE_GATEWAY,
            "--port",
            "0",
            "--leak-rate",
            "40MiB",
            "--leak-max",
            "400MiB",
        ],
        r#"
[memory]
interval = "200ms"
warn_above = "60MiB"
restart_above = "120MiB"
restart_after = "1s"
"#,
    );
    let warn = cv.wait_for("memory.warn_above", 1, Duration::from_secs(60));
    assert_eq!(warn[0]["source"], "memory", "{warn:?}");
    let restart = cv.wait_for(
        "memory.restart_above (120.0 MiB) for 1s",
        1,
        Duration::from_secs(60),
    );
    assert_eq!(restart[0]["reaction"], "Restart", "{restart:?}");
    // Restarted: a second gateway started.
    cv.wait_for("gateway started", 2, Duration::from_secs(60));
    // The warning came first, and the restart only after the hold.
    assert!(common::ts(&warn[0]) <= common::ts(&restart[0]));
}

#[test]
fn a_tree_below_the_thresholds_is_left_alone() {
    let mut cv = Clawvisor::start(
        &[FAKE_GATEWAY, "--port", "0", "--spawn-setsid-child"],
        r#"
[memory]
interval = "100ms"
warn_above = "1GiB"
restart_above = "2GiB"
restart_after = "0s"
"#,
    );
    cv.wait_for("gateway started", 1, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(2));
    assert!(cv.find("memory.").is_empty(), "{:?}", cv.find("memory."));
    assert_eq!(cv.gateway_pids().len(), 1);
    // A graceful stop ends the setsid grandchild too (the harness's kill would miss it).
    cv.stop();
}
