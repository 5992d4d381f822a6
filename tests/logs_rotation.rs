//! `[logs]` rotation, compression and retention: max_size, rotate_every (with an injected
//! clock), compress / delay_compress, leftover .gz.tmp, keep_files / max_age / max_total_size.

mod logs_support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clawvisor::config::{RotateEvery, RotateTimezone, Size};
use clawvisor::logs::{ManualClock, Options};
use logs_support::*;

const T: Duration = Duration::from_secs(60);

fn check_numbered(bytes: &[u8], count: u32) {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let mut n = 0u32;
    for line in text.lines() {
        n += 1;
        assert_eq!(
            line,
            format!("{n} abcdefghijklmnopqrstuvwxyz0123456789"),
            "line {n} lost, duplicated or damaged"
        );
    }
    assert_eq!(n, count, "line count");
}

#[test]
fn no_line_is_lost_or_duplicated_across_many_rotations_through_gz_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = logs_config(dir.path());
    cfg.max_size = Size::kib(64);
    cfg.compress = true;
    cfg.compress_level = 1;
    cfg.keep_files = 100_000;
    let h = start(cfg, Options::default());
    // seq + sed write as fast as the pipe takes it: a burst.
    let mut child = spawn_sh(
        &h,
        "seq 1 200000 | sed 's/$/ abcdefghijklmnopqrstuvwxyz0123456789/'",
    );
    assert!(wait_child(&mut child, T));
    h.pipeline.finish(T);
    let files = stream_files(dir.path(), "gateway.out");
    assert!(
        files.len() > 50,
        "expected many rotations, got {} files: {:?}",
        files.len(),
        names(dir.path())
    );
    // Give the archiver another go (a fresh pipeline on the same dir), then check that
    // everything is in .gz files and still complete.
    let h2 = start(h.cfg.clone(), Options::default());
    assert!(eventually(T, || names(dir.path())
        .iter()
        .filter(|n| n.ends_with(".log") && n.contains("Z."))
        .count()
        == 0));
    h2.pipeline.finish(T);
    let files = stream_files(dir.path(), "gateway.out");
    assert!(
        files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "gz"))
            .count()
            > 50
    );
    let mut all = Vec::new();
    for f in &files {
        let bytes = read_any(f);
        assert!(
            bytes.len() as u64 <= 64 * 1024,
            "{} is too big",
            f.display()
        );
        all.extend(bytes);
    }
    check_numbered(&all, 200_000);
}

#[test]
fn time_rotation_happens_at_the_boundary_of_an_injected_clock() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = logs_config(dir.path());
    cfg.rotate_every = RotateEvery::Hourly;
    cfg.rotate_timezone = RotateTimezone::Utc;
    cfg.compress = false;
    let t0: SystemTime = chrono::DateTime::parse_from_rfc3339("2026-11-24T13:59:59Z")
        .unwrap()
        .into();
    let clock = Arc::new(ManualClock::new(t0));
    let h = start(
        cfg,
        Options {
            clock: Some(clock.clone()),
            ..Default::default()
        },
    );
    let (r, w) = nix::unistd::pipe().unwrap();
    h.pipeline.attach_fd(clawvisor::logs::Stream::Out, r);
    let mut w = std::fs::File::from(w);
    use std::io::Write;
    writeln!(w, "before the hour").unwrap();
    assert!(eventually(T, || h.pipeline.flush(T)
        && std::fs::read_to_string(dir.path().join("gateway.out.log"))
            .unwrap_or_default()
            .contains("before")));
    // Not yet: nothing rotated before the boundary.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(stream_files(dir.path(), "gateway.out").len(), 1);
    clock.advance(Duration::from_secs(2));
    let rotated = dir.path().join("gateway.out.20261124T140001.000Z.log");
    assert!(
        eventually(T, || rotated.exists()),
        "files: {:?}",
        names(dir.path())
    );
    assert_eq!(
        std::fs::read_to_string(&rotated).unwrap(),
        "before the hour\n"
    );
    writeln!(w, "after the hour").unwrap();
    drop(w);
    h.pipeline.finish(T);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("gateway.out.log")).unwrap(),
        "after the hour\n"
    );
    // The empty err file was not rotated (notifempty).
    assert!(stream_files(dir.path(), "gateway.err").len() == 1);
    // The next boundary is an hour later, not sooner.
    clock.advance(Duration::from_secs(1800));
}

#[test]
fn leftover_gz_tmp_is_cleaned_up_and_the_file_compressed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("gateway.out.20261124T000000.000Z.log"), "old day\n").unwrap();
    std::fs::write(
        d.join("gateway.out.20261124T000000.000Z.log.gz.tmp"),
        "half a gzip",
    )
    .unwrap();
    // Crashed after the rename, before the unlink: the .gz is complete, the plain is stale.
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut e, b"second day\n").unwrap();
        e.finish().unwrap()
    };
    std::fs::write(d.join("gateway.out.20261125T000000.000Z.log.gz"), gz).unwrap();
    std::fs::write(
        d.join("gateway.out.20261125T000000.000Z.log"),
        "second day\n",
    )
    .unwrap();
    let h = start(logs_config(d), Options::default());
    assert!(
        eventually(T, || names(d)
            .iter()
            .all(|n| !n.ends_with(".tmp") && !n.ends_with("Z.log"))),
        "files: {:?}",
        names(d)
    );
    h.pipeline.finish(T);
    assert_eq!(read_stream(d, "gateway.out"), b"old day\nsecond day\n");
}

fn touch_rotated(dir: &std::path::Path, stamp: &str, bytes: usize, age: Duration) {
    let p = dir.join(format!("gateway.out.{stamp}.log"));
    std::fs::write(&p, vec![b'x'; bytes]).unwrap();
    let f = std::fs::File::options().write(true).open(&p).unwrap();
    f.set_modified(SystemTime::now() - age).unwrap();
}

fn rotated(dir: &std::path::Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.contains("Z.log"))
        .collect()
}

#[test]
fn retention_by_count_age_and_total_size_deletes_the_oldest_first() {
    let day = Duration::from_secs(86_400);
    // By count.
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5 {
        touch_rotated(
            dir.path(),
            &format!("2026112{i}T000000.000Z"),
            10,
            Duration::ZERO,
        );
    }
    let mut cfg = logs_config(dir.path());
    cfg.compress = false;
    cfg.keep_files = 3;
    let h = start(cfg.clone(), Options::default());
    assert!(eventually(T, || rotated(dir.path()).len() == 3));
    h.pipeline.finish(T);
    assert!(
        rotated(dir.path())[0].contains("20261122T"),
        "{:?}",
        rotated(dir.path())
    );

    // By age.
    let dir = tempfile::tempdir().unwrap();
    touch_rotated(dir.path(), "20261101T000000.000Z", 10, day * 40);
    touch_rotated(dir.path(), "20261120T000000.000Z", 10, day * 2);
    cfg.dir = dir.path().to_path_buf();
    cfg.keep_files = 30;
    let h = start(cfg.clone(), Options::default());
    assert!(eventually(T, || rotated(dir.path()).len() == 1));
    h.pipeline.finish(T);
    assert!(rotated(dir.path())[0].contains("20261120T"));

    // By total size (compressed or not).
    let dir = tempfile::tempdir().unwrap();
    touch_rotated(dir.path(), "20261120T000000.000Z", 1000, Duration::ZERO);
    touch_rotated(dir.path(), "20261121T000000.000Z", 1000, Duration::ZERO);
    std::fs::write(
        dir.path().join("gateway.err.20261122T000000.000Z.log.gz"),
        vec![0u8; 1000],
    )
    .unwrap();
    cfg.dir = dir.path().to_path_buf();
    cfg.max_total_size = Some(Size(2500));
    let h = start(cfg, Options::default());
    assert!(eventually(T, || rotated(dir.path()).len() == 2));
    h.pipeline.finish(T);
    assert_eq!(
        rotated(dir.path()),
        vec![
            "gateway.err.20261122T000000.000Z.log.gz",
            "gateway.out.20261121T000000.000Z.log"
        ]
    );
}

#[test]
fn delay_compress_keeps_the_newest_rotated_file_plain() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = logs_config(dir.path());
    cfg.delay_compress = true;
    let h = start(cfg, Options::default());
    let (r, w) = nix::unistd::pipe().unwrap();
    h.pipeline.attach_fd(clawvisor::logs::Stream::Out, r);
    let mut w = std::fs::File::from(w);
    use std::io::Write;
    for i in 0..3 {
        writeln!(w, "file {i}").unwrap();
        assert!(
            h.pipeline.flush(T)
                && eventually(T, || std::fs::metadata(dir.path().join("gateway.out.log"))
                    .is_ok_and(|m| m.len() > 0))
        );
        h.pipeline.rotate();
        assert!(eventually(T, || rotated(dir.path()).len() == i + 1));
    }
    assert!(eventually(T, || rotated(dir.path())
        .iter()
        .filter(|n| n.ends_with(".gz"))
        .count()
        == 2));
    let r = rotated(dir.path());
    assert!(r[2].ends_with(".log"), "{r:?}");
    drop(w);
    h.pipeline.finish(T);
    assert_eq!(
        read_stream(dir.path(), "gateway.out"),
        b"file 0\nfile 1\nfile 2\n"
    );
}
