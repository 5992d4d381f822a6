//! `clawvisor check` / `init` / `run` with good and bad configs.

mod common;

use common::*;

#[test]
fn check_reports_every_error_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[gateway]\ncommand = \"openclaw gateway\"\n\n[restart]\npolicy = \"sometimes\"\n\n[stop]\ntimeout = \"soon\"\nsignal = \"TERMINATE\"\n\n[logz]\ndir = \"/x\"\n",
    )
    .unwrap();
    let p = path.display().to_string();
    let (code, _out, err) = run_cli(&["check", "--config", &p]);
    assert_eq!(code, 1, "{err}");
    for want in [
        format!("gateway.command at {p}:2:11"),
        format!("restart.policy at {p}:5:10"),
        format!("stop.timeout at {p}:8:11"),
        format!("stop.signal at {p}:9:10"),
        format!("logz at {p}:11:2"),
    ] {
        assert!(err.contains(&want), "missing {want:?} in:\n{err}");
    }
    assert!(err.contains("\"soon\" is not a duration"), "{err}");
    assert!(err.contains("5 problem(s)"), "{err}");
}

#[test]
fn init_prints_a_config_that_checks_clean() {
    let (code, out, _) = run_cli(&["init"]);
    assert_eq!(code, 0);
    assert!(out.contains("[restart.backoff]"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("init.toml");
    std::fs::write(&path, &out).unwrap();
    // On a machine without openclaw, check says so (the preflight `run` also does) ...
    let p = path.display().to_string();
    let (code, _, err) = run_cli(&["check", "--config", &p]);
    if !std::path::Path::new("/usr/local/bin/openclaw").exists() {
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains(&format!("gateway.command at {p}:"))
                && err.contains("\"openclaw\": not found on PATH"),
            "{err}"
        );
    }
    // ... and with a program that exists and dirs of its own, the rest checks clean.
    let d = dir.path().display();
    let fixed = out
        .replace(
            r#"command = ["openclaw", "gateway"]"#,
            r#"command = ["sh", "-c", "sleep 1"]"#,
        )
        .replace("/var/lib/clawvisor", &format!("{d}/state"))
        .replace("/var/log/clawvisor", &format!("{d}/logs"))
        .replace(
            "[control]\n",
            &format!("[control]\nsocket = \"{d}/c.sock\"\n"),
        );
    std::fs::write(&path, fixed).unwrap();
    let (code, out, err) = run_cli(&["check", "--config", &p]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn minimal_contract_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("min.toml");
    std::fs::write(
        &path,
        format!(
            "[gateway]\ncommand = [\"sh\", \"gateway.sh\"]\n{}",
            base_config(dir.path(), "")
        ),
    )
    .unwrap();
    let (code, out, err) = run_cli(&["check", "--config", &path.display().to_string()]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn run_refuses_a_bad_config_without_starting_anything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[restart.backoff]\nmultiplier = 0.5\n").unwrap();
    let (code, _, err) = run_cli(&["run", "--config", &path.display().to_string()]);
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("restart.backoff.multiplier at"), "{err}");
}

#[test]
fn missing_config_file_is_a_clear_error() {
    let (code, _, err) = run_cli(&["check", "--config", "/nonexistent/clawvisor.toml"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("/nonexistent/clawvisor.toml: cannot read the config"),
        "{err}"
    );
}

#[test]
fn cli_usage_errors_exit_2() {
    let (code, _, err) = run_cli(&["frobnicate"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn unknown_users_are_errors_and_missing_files_are_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[gateway]\nuser = \"no-such-user-here\"\n").unwrap();
    let p = path.display().to_string();
    let (code, _, err) = run_cli(&["check", "--config", &p]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("gateway.user at {p}:2:8: no such user")),
        "{err}"
    );

    std::fs::write(
        &path,
        format!(
            "[quality]\ntests = \"/nonexistent/tests.json\"\n[probes.completion]\ntoken_file = \"/nonexistent/token\"\n[gateway]\ncommand = [\"sh\"]\n{}",
            base_config(dir.path(), "")
        ),
    )
    .unwrap();
    let (code, out, err) = run_cli(&["check", "--config", &p]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains(&format!(
            "warning: quality.tests at {p}:2:9: /nonexistent/tests.json"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "warning: probes.completion.token_file at {p}:4:14: /nonexistent/token"
        )),
        "{err}"
    );
    assert!(out.contains("ok (2 warning(s))"), "{out}");
}
