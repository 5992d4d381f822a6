//! `clawvisor completions`, `clawvisor man`, `clawvisor --version`: checked by the shells and
//! the roff renderer that users have, not by looking at the text.

mod common;

use std::process::Command;

use common::*;

/// Whether `tool` is on PATH. In CI (CI=true) a missing tool fails the test: CI installs it.
fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is missing (.ci/run installs it)"
        );
        eprintln!("skipped: {tool} is not installed");
    }
    found
}

fn sh(shell: &str, script: &str) -> (i32, String, String) {
    let out = Command::new(shell).args(["-c", script]).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What bash's programmable completion offers for `words` (the last one being completed).
fn bash_complete(script: &std::path::Path, words: &str) -> Vec<String> {
    let (code, out, err) = sh(
        "bash",
        &format!(
            "source {s}\nCOMP_WORDS=({words})\nCOMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n\
             COMP_LINE=\"${{COMP_WORDS[*]}}\"\nCOMP_POINT=${{#COMP_LINE}}\n\
             _clawvisor clawvisor \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            s = script.display()
        ),
    );
    assert_eq!(code, 0, "bash completion failed: {err}");
    out.lines().map(str::to_string).collect()
}

#[test]
fn bash_completion_offers_subcommands_ctl_commands_and_values() {
    if !have("bash") {
        return;
    }
    let (code, script, err) = run_cli(&["completions", "bash"]);
    assert_eq!(code, 0, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clawvisor.bash");
    std::fs::write(&path, script).unwrap();

    let top = bash_complete(&path, "clawvisor ''");
    for want in ["run", "check", "ctl", "init", "completions", "man"] {
        assert!(top.contains(&want.to_string()), "{want} not in {top:?}");
    }
    let ctl = bash_complete(&path, "clawvisor ctl re");
    for want in ["resume", "restart", "reload"] {
        assert!(ctl.contains(&want.to_string()), "{want} not in {ctl:?}");
    }
    assert!(!ctl.contains(&"status".to_string()), "{ctl:?}");
    let shells = bash_complete(&path, "clawvisor completions ''");
    for want in ["bash", "zsh", "fish"] {
        assert!(
            shells.contains(&want.to_string()),
            "{want} not in {shells:?}"
        );
    }
}

#[test]
fn zsh_and_fish_completions_parse_in_their_shells() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, file, check) in [
        ("zsh", "_clawvisor", "zsh -n"),
        ("fish", "clawvisor.fish", "fish --no-execute"),
    ] {
        if !have(shell) {
            continue;
        }
        let (code, script, err) = run_cli(&["completions", shell]);
        assert_eq!(code, 0, "{err}");
        assert!(script.contains("clawvisor"), "{script}");
        let path = dir.path().join(file);
        std::fs::write(&path, script).unwrap();
        let (code, out, err) = sh("sh", &format!("{check} {}", path.display()));
        assert_eq!(
            code, 0,
            "{check} rejected the {shell} completion: {out}{err}"
        );
    }
    // fish can also load it and list what it completes.
    if have("fish") {
        let (code, out, err) = sh(
            "fish",
            &format!(
                "source {}; complete -C 'clawvisor ctl '",
                dir.path().join("clawvisor.fish").display()
            ),
        );
        assert_eq!(code, 0, "{err}");
        for want in ["status", "pause", "resume", "wait-idle"] {
            assert!(
                out.lines().any(|l| l.starts_with(want)),
                "{want} not in {out}"
            );
        }
    }
}

#[test]
fn unknown_shell_is_a_usage_error_naming_the_choices() {
    let (code, _, err) = run_cli(&["completions", "tcsh"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("tcsh") && err.contains("bash"), "{err}");
}

#[test]
fn man_page_renders_without_warnings() {
    if !have("groff") {
        return;
    }
    let (code, page, err) = run_cli(&["man"]);
    assert_eq!(code, 0, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clawvisor.1");
    std::fs::write(&path, &page).unwrap();
    // -ww: all warnings; groff prints them on stderr.
    let (code, text, warnings) = sh(
        "sh",
        &format!("groff -man -Tutf8 -ww {} | col -b", path.display()),
    );
    assert_eq!(code, 0, "{warnings}");
    assert!(warnings.trim().is_empty(), "groff warnings:\n{warnings}");
    for want in [
        "SYNOPSIS",
        "clawvisor-ctl(1)",
        "EXIT STATUS",
        "SIGNALS",
        "/etc/clawvisor/clawvisor.toml",
        "clawvisor@NAME.service",
    ] {
        assert!(
            text.contains(want),
            "{want} not in the rendered page:\n{text}"
        );
    }
}

#[test]
fn man_dir_writes_a_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let (code, _, err) = run_cli(&["man", "--dir", &out.display().to_string()]);
    assert_eq!(code, 0, "{err}");
    for page in [
        "clawvisor.1",
        "clawvisor-run.1",
        "clawvisor-check.1",
        "clawvisor-ctl.1",
        "clawvisor-ctl-status.1",
        "clawvisor-ctl-wait-idle.1",
        "clawvisor-completions.1",
    ] {
        let text =
            std::fs::read_to_string(out.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page}: {text}"
        );
    }
    // A directory that cannot be made is an error naming it, not a panic.
    let blocked = dir.path().join("file");
    std::fs::write(&blocked, "").unwrap();
    let bad = blocked.join("man1").display().to_string();
    let (code, _, err) = run_cli(&["man", "--dir", &bad]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&bad), "{err}");
}

#[test]
fn version_names_the_git_commit_it_was_built_from() {
    let (code, out, err) = run_cli(&["--version"]);
    assert_eq!(code, 0, "{err}");
    let want = match std::env::var("CLAWVISOR_GIT_COMMIT") {
        Ok(c) if !c.is_empty() => c,
        _ => {
            let git = Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output();
            match git {
                Ok(o) if o.status.success() => {
                    String::from_utf8(o.stdout).unwrap().trim().to_string()
                }
                _ => "unknown".to_string(),
            }
        }
    };
    assert_eq!(
        out.trim(),
        format!("clawvisor {} (git {want})", env!("CARGO_PKG_VERSION")),
    );
}
