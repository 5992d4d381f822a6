//! `[logs]` flow control: a full disk (a small tmpfs) never blocks the child; drops are
//! counted, reported, and recorded by a marker line once space is freed.

mod logs_support;

use std::process::Command;
use std::time::{Duration, Instant};

use clawvisor::config::Dur;
use clawvisor::logs::Options;
use logs_support::*;

const T: Duration = Duration::from_secs(60);

struct Tmpfs(std::path::PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn disk_full_drops_and_counts_lines_without_blocking_the_child_then_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: cannot mount a tmpfs (this test needs root, as in CI)");
        return;
    }
    let _guard = Tmpfs(mnt.clone());
    // Leave a little room, held by a file we delete later to "free space".
    let filler = mnt.join("filler");
    std::fs::write(&filler, vec![0u8; 1900 * 1024]).unwrap();

    let logs = mnt.join("logs");
    let mut cfg = logs_config(&logs);
    cfg.compress = false;
    cfg.stall_timeout = Dur::millis(500);
    let mut h = start(cfg, Options::default());

    // 20 MB through a 2 MB disk: without dropping, this child would block for ever.
    let t0 = Instant::now();
    let mut child = spawn_sh(
        &h,
        "yes 'a line of forty bytes, more or less....' | head -n 500000",
    );
    assert!(
        wait_child(&mut child, T),
        "the child was blocked by the full disk"
    );
    eprintln!("child finished in {:?}", t0.elapsed());
    // The pipe may still hold the child's last MiB: wait until the reader has it all.
    assert!(eventually(T, || h.pipeline.stats()["lines_read"] == 500_000));
    assert!(h.pipeline.flush(T));
    // A reader may still be waiting in the full queue (up to stall_timeout) with a batch it
    // has read but not yet queued or dropped: wait until every line is accounted for.
    let accounted = |s: &serde_json::Value| {
        s["lines_written"].as_u64().unwrap() + s["lines_dropped"].as_u64().unwrap()
    };
    eventually(T, || accounted(&h.pipeline.stats()) == 500_000);
    let stats = h.pipeline.stats();
    assert!(
        stats["lines_dropped"].as_u64().unwrap() > 100_000,
        "{stats}"
    );
    assert!(stats["write_errors"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(
        stats["lines_written"].as_u64().unwrap() + stats["lines_dropped"].as_u64().unwrap(),
        500_000,
        "every line is either written or counted as dropped: {stats}"
    );
    let troubles = h.troubles();
    assert!(
        troubles
            .iter()
            .any(|(s, r)| s == "logs" && r.contains("dropping")),
        "{troubles:?}"
    );

    // Free space; logging works again and a marker records the gap.
    std::fs::remove_file(&filler).unwrap();
    let mut child = spawn_sh(&h, "echo after the disk was freed");
    assert!(wait_child(&mut child, T));
    h.pipeline.finish(T);
    let text = String::from_utf8_lossy(&read_stream(&logs, "gateway.out")).into_owned();
    let marker = text
        .lines()
        .find(|l| l.starts_with("clawvisor: dropped"))
        .unwrap_or_else(|| panic!("no marker line"));
    assert!(marker.contains("No space left on device"), "{marker}");
    assert!(
        text.ends_with("after the disk was freed\n"),
        "tail: {:?}",
        &text[text.len().saturating_sub(200)..]
    );
    // Whole lines only: no line was cut by the failed writes.
    for l in text.lines() {
        assert!(
            l == "a line of forty bytes, more or less...."
                || l.starts_with("clawvisor: dropped")
                || l == "after the disk was freed",
            "damaged line {l:?}"
        );
    }
}
