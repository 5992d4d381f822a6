//! `[logs]` capture through the real `clawvisor run`: framing (long lines, a last line
//! without newline, a child that closes stdout early), prefixes, and `[[logs.patterns]]`.

mod common;
mod logs_support;

use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(60);

/// A whole config with `logs` keys of the test's own.
fn config(dir: &std::path::Path, argv: &[&str], logs: &str, extra: &str) -> String {
    format!(
        "[gateway]\ncommand = {}\n[state]\ndir = \"{d}/state\"\n[control]\nsocket = \"{d}/clawvisor.sock\"\n[logs]\ndir = \"{d}/logs\"\n{logs}\n{extra}\n",
        toml_argv(argv),
        d = dir.display()
    )
}

/// Runs clawvisor with `restart.policy = "never"` until the child is done.
fn run_once(argv: &[&str], logs: &str) -> Clawvisor {
    let dir = tempfile::tempdir().unwrap();
    let body = config(dir.path(), argv, logs, "[restart]\npolicy = \"never\"\n");
    let mut cv = Clawvisor::start_in(dir, &body, &[]);
    cv.wait_exit(T);
    cv
}

#[test]
fn a_10_mib_line_without_newline_is_kept_in_marked_pieces() {
    let script = "head -c 10485760 /dev/zero | tr '\\0' 'x'";
    let cv = run_once(
        &["sh", "-c", script],
        "max_line = \"64KiB\"\ncompress = false",
    );
    let out = logs_support::read_stream(&cv.path("logs"), "gateway.out");
    let text = String::from_utf8(out).unwrap();
    let pieces: Vec<&str> = text.lines().collect();
    assert_eq!(pieces.len(), 160, "10 MiB / 64 KiB pieces");
    let mut joined = String::new();
    for (i, p) in pieces.iter().enumerate() {
        let body = if i + 1 < pieces.len() {
            p.strip_suffix(" [continued]")
                .unwrap_or_else(|| panic!("piece {i} has no marker"))
        } else {
            assert!(!p.ends_with("[continued]"));
            p
        };
        assert_eq!(body.len(), 65536);
        joined.push_str(body);
    }
    assert_eq!(joined.len(), 10 * 1024 * 1024);
    assert!(joined.bytes().all(|b| b == b'x'));
}

#[test]
fn a_child_that_closes_stdout_early_keeps_its_stderr_and_its_last_partial_line() {
    let script = "printf 'first\\nno newline'; exec 1>&-; sleep 0.3; echo 'still on stderr' >&2; printf 'last err' >&2";
    let cv = run_once(&["sh", "-c", script], "compress = false");
    let out = logs_support::read_stream(&cv.path("logs"), "gateway.out");
    let err = logs_support::read_stream(&cv.path("logs"), "gateway.err");
    assert_eq!(String::from_utf8_lossy(&out), "first\nno newline\n");
    assert_eq!(String::from_utf8_lossy(&err), "still on stderr\nlast err\n");
}

#[test]
fn merged_layout_tags_streams_and_timestamps_are_rfc3339_utc_millis() {
    let script = "echo to-out; sleep 0.1; echo to-err >&2";
    let cv = run_once(
        &["sh", "-c", script],
        "layout = \"merged\"\ntimestamps = true\ncompress = false",
    );
    let text = String::from_utf8(logs_support::read_stream(&cv.path("logs"), "gateway")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for (l, want) in lines.iter().zip(["out to-out", "err to-err"]) {
        let (stamp, rest) = l.split_at(24);
        assert_eq!(&rest[1..], want);
        chrono::DateTime::parse_from_rfc3339(stamp).unwrap_or_else(|e| panic!("{stamp}: {e}"));
        assert!(
            stamp.ends_with('Z') && stamp.as_bytes()[19] == b'.',
            "{stamp}"
        );
    }
}

#[test]
fn a_pattern_rule_with_action_restart_restarts_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let argv = [
        FAKE_GATEWAY,
        "--port",
        "0",
        "--print-after",
        "300ms",
        "--print",
        "fatal: engine wedged (code 7)",
    ];
    let logs = "compress = false\ntimestamps = true\n[[logs.patterns]]\nname = \"wedged\"\nregex = 'engine wedged \\(code \\d+\\)'\nstream = \"out\"\naction = \"restart\"\ncooldown = \"1s\"\n";
    let body = config(
        dir.path(),
        &argv,
        logs,
        "[restart]\nmax_restarts = 20\n[restart.backoff]\ninitial = \"100ms\"\n",
    );
    let mut cv = Clawvisor::start_in(dir, &body, &[]);
    let starts = cv.wait_for("gateway started", 2, T);
    assert!(starts.len() >= 2);
    let pids = cv.gateway_pids();
    assert_ne!(pids[0], pids[1]);
    let events = cv.events();
    assert!(
        events.iter().any(|e| msg(e).contains("wedged")),
        "no event names the rule: {:#?}",
        events.iter().map(msg).collect::<Vec<_>>()
    );
    cv.stop();
}
