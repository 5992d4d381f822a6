//! `[gateway]`: argv, env add/remove, the external-supervisor variables, cwd, umask, user.

mod common;

use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(30);

fn dump_env(extra_gateway: &str, outer_env: &[(&str, &str)]) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    // World-writable so a child dropped to `nobody` can write its report here.
    let child_dir = dir.path().join("child");
    std::fs::create_dir(&child_dir).unwrap();
    std::fs::set_permissions(
        &child_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let out = child_dir.join("child.txt");
    let script = format!(
        "env > {o}.tmp; echo PWD_IS=$(pwd) >> {o}.tmp; echo UMASK_IS=$(umask) >> {o}.tmp; echo UID_IS=$(id -u) >> {o}.tmp; mv {o}.tmp {o}; exec sleep 30",
        o = out.display()
    );
    let config = format!(
        "[gateway]\ncommand = [\"sh\", \"-c\", {script:?}]\n{extra_gateway}\n{}",
        base_config(dir.path(), "")
    );
    let config_path = dir.path().join("c.toml");
    std::fs::write(&config_path, &config).unwrap();
    let mut cmd = std::process::Command::new(CLAWVISOR);
    cmd.args(["run", "--config", &config_path.display().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (k, v) in outer_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    assert!(
        eventually(T, || out.exists()),
        "child never wrote its environment"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    (text, dir)
}

#[test]
fn env_is_added_removed_and_systemd_variables_are_hidden() {
    let (env, _d) = dump_env(
        "env = { OPENCLAW_STATE_DIR = \"/tmp/oc\", FOO = \"bar baz\" }\nenv_remove = [\"DROP_ME\"]\numask = \"027\"\ncwd = \"/tmp\"",
        &[
            ("INVOCATION_ID", "abc"),
            ("JOURNAL_STREAM", "8:9"),
            ("NOTIFY_SOCKET", "/run/x"),
            ("DROP_ME", "1"),
            ("KEEP_ME", "1"),
        ],
    );
    assert!(env.contains("OPENCLAW_SUPERVISOR_MODE=external\n"), "{env}");
    assert!(env.contains("OPENCLAW_STATE_DIR=/tmp/oc\n"));
    assert!(env.contains("FOO=bar baz\n"));
    assert!(env.contains("KEEP_ME=1\n"));
    for gone in [
        "INVOCATION_ID",
        "JOURNAL_STREAM",
        "NOTIFY_SOCKET",
        "DROP_ME",
    ] {
        assert!(
            !env.contains(&format!("\n{gone}=")) && !env.starts_with(&format!("{gone}=")),
            "{gone} leaked:\n{env}"
        );
    }
    assert!(env.contains("PWD_IS=/tmp\n"), "{env}");
    assert!(env.contains("UMASK_IS=0027\n"), "{env}");
}

#[test]
fn external_supervisor_off_keeps_systemd_variables_but_not_notify_socket() {
    let (env, _d) = dump_env(
        "external_supervisor = false",
        &[("INVOCATION_ID", "abc"), ("NOTIFY_SOCKET", "/run/x")],
    );
    assert!(env.contains("INVOCATION_ID=abc\n"), "{env}");
    assert!(!env.contains("OPENCLAW_SUPERVISOR_MODE"), "{env}");
    assert!(!env.contains("NOTIFY_SOCKET"), "{env}");
}

#[test]
fn user_drop_runs_the_child_as_that_user() {
    if !nix_is_root() {
        eprintln!("SKIPPED: needs root");
        return;
    }
    let (env, _d) = dump_env("user = \"nobody\"\ncwd = \"/\"", &[]);
    assert!(env.contains("UID_IS=65534\n"), "{env}");
    assert!(env.contains("USER=nobody\n"), "{env}");
}

fn nix_is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}
