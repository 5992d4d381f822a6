//! clawvisor's own stderr: no ANSI colour in a file or pipe, and the journal's form
//! (`<N>` priority prefixes, no timestamp) when JOURNAL_STREAM names stderr.

mod common;

use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{CLAWVISOR, FAKE_GATEWAY, base_config, eventually};

/// Runs `clawvisor run` (text logs) with stderr to a file until the gateway has failed once
/// (a warning) and restarted (info lines); returns what stderr got.
fn run_to_file(journal: bool, no_color: bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[gateway]\ncommand = [\"{FAKE_GATEWAY}\", \"--port\", \"0\", \"--exit-after\", \"300ms\"]\n\
             [restart.backoff]\ninitial = \"100ms\"\n{}",
            base_config(dir.path(), "")
        ),
    )
    .unwrap();
    let err_path = dir.path().join("stderr.txt");
    let err = std::fs::File::create(&err_path).unwrap();
    let meta = err.metadata().unwrap();
    let mut cmd = Command::new(CLAWVISOR);
    cmd.args(["run", "--config", &cfg.display().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .env_remove("JOURNAL_STREAM")
        .env_remove("NO_COLOR")
        .env_remove("CLAWVISOR_LOG_FORMAT");
    if journal {
        cmd.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
    }
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    let mut child = cmd.spawn().unwrap();
    let read = || std::fs::read_to_string(&err_path).unwrap_or_default();
    let ok = eventually(Duration::from_secs(30), || {
        read().matches("gateway started").count() >= 2
    });
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    let text = read();
    assert!(ok, "no restart seen:\n{text}");
    text
}

#[test]
fn stderr_to_a_file_has_no_escape_codes() {
    let text = run_to_file(false, false);
    assert!(!text.contains('\u{1b}'), "ESC in a file:\n{text:?}");
    assert!(
        text.contains("WARN") && text.contains("gateway failed"),
        "{text}"
    );
}

#[test]
fn under_journald_lines_carry_priorities_and_no_timestamp() {
    let text = run_to_file(true, false);
    assert!(!text.contains('\u{1b}'), "{text:?}");
    let lines: Vec<&str> = text.lines().collect();
    for l in &lines {
        assert!(
            l.starts_with("<3>")
                || l.starts_with("<4>")
                || l.starts_with("<6>")
                || l.starts_with("<7>"),
            "no priority prefix: {l:?}"
        );
        // A journal line has no timestamp of its own (journald adds one).
        assert!(!l[3..].starts_with("20"), "timestamp in {l:?}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<4>") && l.contains("gateway failed")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<6>") && l.contains("gateway started")),
        "{text}"
    );
}
