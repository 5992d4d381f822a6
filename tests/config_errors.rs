//! Common config mistakes get the key, file:line:col and the fix, through `clawvisor check`
//! and `run`, as text or (with `--log-format json`) as JSON events.

mod common;

use common::*;

/// `check` on `body`: exit 1 and stderr containing `want` (after the file path).
fn check_says(body: &str, want: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, body).unwrap();
    let p = path.display().to_string();
    let (code, _, err) = run_cli(&["check", "--config", &p]);
    assert_eq!(code, 1, "{err}");
    let want = want.replace("FILE", &p);
    assert!(err.contains(&want), "want {want:?} in:\n{err}");
}

#[test]
fn a_shell_string_command_is_told_to_be_an_array() {
    check_says(
        "[gateway]\ncommand = \"openclaw gateway\"\n",
        "gateway.command at FILE:2:11: \"openclaw gateway\" is a string; write an array: command = [\"openclaw\", \"gateway\"]",
    );
}

#[test]
fn single_brackets_on_a_list_section_are_named() {
    check_says(
        "[logs]\ntee = false\n\n[logs.patterns]\nliteral = \"OOM\"\n",
        "logs.patterns at FILE:4:1: [logs.patterns] is a list: write [[logs.patterns]] (double brackets)",
    );
}

#[test]
fn umask_mistakes_name_the_key_and_the_octal_string() {
    check_says(
        "[gateway]\numask = 022\n",
        "gateway.umask at FILE:2:9: 022 is not a TOML number (no leading zeros); an octal value is a string: umask = \"022\"",
    );
    check_says(
        "[gateway]\numask = 27\n",
        "gateway.umask at FILE:2:9: 27 is ambiguous (decimal 27 is octal 033); write the umask as an octal string: umask = \"027\"",
    );
}

#[test]
fn a_top_level_key_is_pointed_to_its_section() {
    check_says(
        "command = [\"openclaw\", \"gateway\"]\n",
        "command at FILE:1:1: command is not a section; it belongs in [gateway]",
    );
}

#[test]
fn a_duplicate_section_is_named() {
    check_says(
        "[gateway]\ncommand = [\"sh\"]\n\n[gateway]\ncwd = \"/\"\n",
        "gateway at FILE:4:2: [gateway] appears twice: put all its keys under one [gateway] header",
    );
}

#[test]
fn wrong_choices_and_numbers_say_what_to_write() {
    check_says(
        "[restart]\npolicy = \"sometimes\"\n",
        "restart.policy at FILE:2:10: \"sometimes\" is not a choice here: write one of \"always\", \"on-failure\", \"never\"",
    );
    check_says(
        "[restart]\nmax_restarts = \"5\"\n",
        "restart.max_restarts at FILE:2:16: must be a whole number without quotes: max_restarts = 5",
    );
}

#[test]
fn config_errors_are_json_events_with_log_format_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[restart]\npolicy = \"sometimes\"\n").unwrap();
    let p = path.display().to_string();
    for cmd in ["check", "run"] {
        let (code, _, err) = run_cli(&["--log-format", "json", cmd, "--config", &p]);
        assert_eq!(code, if cmd == "run" { 78 } else { 1 }, "{err}");
        let events: Vec<serde_json::Value> = err
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let e = events
            .iter()
            .find(|e| e["key"] == "restart.policy")
            .unwrap_or_else(|| panic!("{cmd}: no JSON event for the error:\n{err}"));
        assert_eq!(e["level"], "ERROR");
        assert_eq!(
            (e["line"].as_u64(), e["column"].as_u64()),
            (Some(2), Some(10))
        );
        assert!(msg(e).contains("not a choice here"), "{e}");
    }
}

#[test]
fn an_invalid_log_level_is_an_error() {
    let (code, _, err) = run_cli(&["--log-level", "loud", "check", "--config", "/nonexistent"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--log-level \"loud\""), "{err}");
}
