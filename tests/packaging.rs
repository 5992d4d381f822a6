//! packaging/: the systemd units pass `systemd-analyze verify` and keep their hardening
//! score, and every config we ship (the .deb's, the template instance's, the container's,
//! the Kubernetes ConfigMap's) passes `clawvisor check`. CI also installs the .deb and runs
//! the units under a real systemd (.ci/packaging.sh).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

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

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The units as shipped, but starting the binary under test (verify checks ExecStart exists).
fn units_in(dir: &Path) -> Vec<PathBuf> {
    ["clawvisor.service", "clawvisor@.service"]
        .iter()
        .map(|name| {
            let text = read(&format!("packaging/systemd/{name}"));
            assert!(text.contains("/usr/bin/clawvisor "), "{name}: {text}");
            let path = dir.join(name);
            std::fs::write(
                &path,
                text.replace("/usr/bin/clawvisor ", &format!("{CLAWVISOR} ")),
            )
            .unwrap();
            path
        })
        .collect()
}

#[test]
fn units_pass_systemd_analyze_verify() {
    if !have("systemd-analyze") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let units = units_in(dir.path());
    // --man=no: the man page is checked by the dpkg step, where it is installed.
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&units)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "verify failed:\n{err}");
    assert!(err.trim().is_empty(), "verify warned:\n{err}");

    // A unit with a typo is caught by the same command: the check can fail.
    let broken = dir.path().join("broken.service");
    std::fs::write(
        &broken,
        read("packaging/systemd/clawvisor.service")
            .replace("/usr/bin/clawvisor ", &format!("{CLAWVISOR} "))
            .replace("ProtectSystem=strict", "ProtectSystem=sometimes"),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&broken)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Failed to parse protect system value"),
        "{err}"
    );
}

/// `systemd-analyze security` exposure (0 safe .. 10 unsafe) of a unit file, offline.
fn exposure(unit: &Path) -> f64 {
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(unit)
        .current_dir(unit.parent().unwrap())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no score:\n{text}{}", String::from_utf8_lossy(&out.stderr)));
    let after = line.split(": ").nth(1).unwrap();
    after.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn units_keep_their_hardening_score() {
    if !have("systemd-analyze") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let units = units_in(dir.path());
    // The template needs an instance name to be analysed.
    let instance = dir.path().join("clawvisor@lab.service");
    std::fs::copy(&units[1], &instance).unwrap();
    for unit in [&units[0], &instance] {
        let score = exposure(unit);
        // 1.7 when written (the seed's unit: 9.6, "UNSAFE"); losing a setting shows here.
        assert!(score <= 2.0, "{}: exposure {score}", unit.display());
    }
    // The seed's unit, for comparison: the measure really does tell them apart.
    let seed = dir.path().join("openclaw.service");
    std::fs::write(
        &seed,
        "[Unit]\nDescription=OpenClaw\n[Service]\nUser=openclaw\nExecStart=/usr/bin/true\nRestart=always\nRestartSec=30\n",
    )
    .unwrap();
    assert!(exposure(&seed) > 9.0);
}

/// The TOML of a YAML block scalar `key: |` in `yaml` (the ConfigMap's clawvisor.toml).
fn yaml_block(yaml: &str, key: &str) -> String {
    let mut lines = yaml.lines().skip_while(|l| l.trim() != format!("{key}: |"));
    let head = lines.next().unwrap_or_else(|| panic!("no {key}: | block"));
    let key_indent = head.len() - head.trim_start().len();
    let mut body = Vec::new();
    for line in lines {
        let indent = line.len() - line.trim_start().len();
        if !line.trim().is_empty() && indent <= key_indent {
            break;
        }
        body.push(line);
    }
    let strip = body
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    body.iter()
        .map(|l| l.get(strip..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `[metrics]` comes with issue 14. Until this binary knows it, the configs are checked
/// without that one table (and the test says so); once `clawvisor init` documents it, they
/// are checked whole.
fn without_unknown_metrics(text: &str) -> String {
    let (_, init, _) = run_cli(&["init"]);
    if init.contains("[metrics]") || !text.contains("[metrics]") {
        return text.to_string();
    }
    eprintln!("note: this clawvisor has no [metrics] yet; checking without it");
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        if line.starts_with('[') {
            skipping = line.trim() == "[metrics]";
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `clawvisor check` passes on `text`, with no warnings but those naming `expected_warnings`.
/// The configs run `openclaw`, which check's preflight must find on PATH: a stand-in is put
/// there, as npm would put the real one.
fn check_config(name: &str, text: &str, expected_warnings: &[&str]) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::write(bin.join("openclaw"), "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(bin.join("openclaw"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, without_unknown_metrics(text)).unwrap();
    let out = Command::new(CLAWVISOR)
        .args(["check", "--config", &path.display().to_string()])
        .env_remove("CLAWVISOR_CONFIG")
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .unwrap();
    let (code, out, err) = (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert_eq!(code, 0, "{name}:\n{out}{err}");
    assert!(
        out.contains(&format!("ok ({} warning(s))", expected_warnings.len())),
        "{name}:\n{out}{err}"
    );
    for want in expected_warnings {
        assert!(
            err.contains(want),
            "{name}: no warning about {want}:\n{err}"
        );
    }
}

#[test]
fn shipped_configs_pass_check() {
    // The package creates the clawvisor group in postinst; here it does not exist, so the
    // .deb's configs are checked with the group of the test (the dpkg CI step checks them as
    // installed, group and all).
    let deb_configs = [
        ("deb.toml", read("packaging/deb/clawvisor.toml")),
        ("instance.toml", read("packaging/deb/instance.toml")),
    ];
    for (name, text) in deb_configs {
        assert!(text.contains("group = \"clawvisor\""), "{name}");
        check_config(
            name,
            &text.replace("group = \"clawvisor\"", "group = \"root\""),
            &[],
        );
    }
    check_config(
        "container.toml",
        &read("packaging/container/clawvisor.toml"),
        &[],
    );
    let configmap = read("packaging/kubernetes/configmap.yaml");
    let k8s = yaml_block(&configmap, "clawvisor.toml");
    assert!(
        k8s.contains("[gateway]") && k8s.contains("listen = \"0.0.0.0:9820\""),
        "{k8s}"
    );
    // The token file is the Secret, mounted only in the pod.
    check_config("configmap.toml", &k8s, &["/run/secrets/openclaw/token"]);
    let openclaw: serde_json::Value =
        serde_json::from_str(&yaml_block(&configmap, "openclaw.json"))
            .expect("the ConfigMap's openclaw.json is JSON");
    assert_eq!(openclaw["gateway"]["port"], 18789);
}

#[test]
fn a_broken_shipped_config_would_be_caught() {
    // The check above can fail: the same path with a typo in a key is refused, with its place.
    let text = read("packaging/container/clawvisor.toml").replace("tee = true", "tea = true");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.toml");
    std::fs::write(&path, without_unknown_metrics(&text)).unwrap();
    let (code, _, err) = run_cli(&["check", "--config", &path.display().to_string()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("logs.tea at"), "{err}");
}
