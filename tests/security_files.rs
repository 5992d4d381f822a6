//! Security pass, files: clawvisor (often root) never writes or reads through a symbolic link
//! planted among its log and state files by someone else: not at the live log, not under a
//! rotated or compressed log's name, not at state.json or its temporary file. Each planted
//! link points at a file in another directory; the test checks that file is unchanged, that
//! nothing of it was copied into the log dir, and that clawvisor named the path.

mod common;
mod control_support;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::time::Duration;

use common::{Clawvisor, base_config, eventually, toml_argv};
use control_support::{T, ctl, wait_for_socket, wait_status};

/// clawvisor started on `dir` (already holding the planted links) with `argv` as gateway.
fn start_on(dir: tempfile::TempDir, argv: &[&str], extra: &str) -> Clawvisor {
    let body = format!(
        "[gateway]\ncommand = {}\n{}",
        toml_argv(argv),
        base_config(dir.path(), extra)
    );
    Clawvisor::start_in(dir, &body, &[])
}

/// A file outside clawvisor's dirs that an attacker wants clobbered or read.
fn victim(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn is_link(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

/// Text of every regular file in the log dir (gzip decoded); links are not followed.
fn regular_log_text(dir: &Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if !e.file_type().unwrap().is_file() {
            continue;
        }
        let bytes = std::fs::read(e.path()).unwrap();
        if e.path().extension().is_some_and(|x| x == "gz") {
            use std::io::Read;
            let _ = flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_string(&mut out);
        } else {
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    out
}

#[test]
fn a_link_at_the_live_log_is_refused_and_its_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let target = victim(elsewhere.path(), "shadow", "root:precious:1\n");
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    let live = dir.path().join("logs/gateway.out.log");
    symlink(&target, &live).unwrap();
    let cv = start_on(
        dir,
        &[
            "sh",
            "-c",
            "echo planted-line; echo err-line >&2; exec sleep 60",
        ],
        "",
    );
    let v = cv.wait_for("is a symbolic link", 1, T);
    assert!(
        common::msg(&v[0]).contains(&live.display().to_string()),
        "the event names the path: {v:?}"
    );
    // stderr goes on being captured in its own (regular) file.
    assert!(
        eventually(T, || std::fs::read_to_string(
            cv.path("logs/gateway.err.log")
        )
        .is_ok_and(|t| t.contains("err-line"))),
        "stderr was not captured"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "root:precious:1\n"
    );
    assert!(is_link(&live), "the link was left for a person to look at");
    // The lines that could not be written are counted, not silently lost.
    let st = control_support::status(&cv);
    assert!(
        st["parts"]["logs"]["write_errors"].as_u64() >= Some(1),
        "{}",
        st["parts"]["logs"]
    );
}

#[test]
fn links_under_rotated_and_compressed_names_are_neither_read_nor_written() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let secret = victim(elsewhere.path(), "secret", "top-secret-content\n");
    let precious = victim(elsewhere.path(), "precious", "precious-content\n");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    // An hour ago, so retention keeps it.
    let stamp = (chrono::Utc::now() - chrono::Duration::hours(1))
        .format("%Y%m%dT%H%M%S%.3fZ")
        .to_string();
    // A "rotated log" that is a link: compressing it would copy the secret into the log dir.
    let out_link = logs.join(format!("gateway.out.{stamp}.log"));
    symlink(&secret, &out_link).unwrap();
    // A real rotated log whose .gz name is a link: compressing must not write through it
    // (nor take the link as a finished compression and delete the log).
    let err_plain = logs.join(format!("gateway.err.{stamp}.log"));
    std::fs::write(&err_plain, "old-err-line\n").unwrap();
    let err_gz = logs.join(format!("gateway.err.{stamp}.log.gz"));
    symlink(&precious, &err_gz).unwrap();

    let cv = start_on(
        dir,
        &[
            "sh",
            "-c",
            "echo new-out-line; echo new-err-line >&2; exec sleep 60",
        ],
        "",
    );
    wait_for_socket(&cv);
    let v = cv.wait_for("not a regular file", 1, T);
    assert!(
        v.iter()
            .any(|e| common::msg(e).contains(&out_link.display().to_string())),
        "{v:?}"
    );
    // A rotation now, so the archiver runs over everything again.
    assert!(
        eventually(T, || std::fs::read_to_string(
            cv.path("logs/gateway.err.log")
        )
        .is_ok_and(|t| t.contains("new-err-line"))),
        "nothing captured"
    );
    let (code, out, err) = ctl(&cv, &["rotate"]);
    assert_eq!(code, 0, "{out}{err}");
    // The real rotated log is compressed into a regular .gz (the link replaced, not followed).
    assert!(
        eventually(T, || std::fs::symlink_metadata(&err_gz)
            .is_ok_and(|m| m.file_type().is_file())),
        "the old stderr log was never compressed"
    );
    assert!(
        eventually(
            T,
            || control_support::status(&cv)["parts"]["logs"]["compress_backlog"] == 0
        ),
        "compression never finished"
    );
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap(),
        "top-secret-content\n"
    );
    assert_eq!(
        std::fs::read_to_string(&precious).unwrap(),
        "precious-content\n"
    );
    assert!(is_link(&out_link), "the planted link was left alone");
    let text = regular_log_text(&logs);
    assert!(
        !text.contains("top-secret-content"),
        "the secret was copied into the log dir:\n{text}"
    );
    for line in ["old-err-line", "new-err-line", "new-out-line"] {
        assert!(text.contains(line), "{line} lost:\n{text}");
    }
}

#[test]
fn a_link_at_the_state_temp_file_is_refused_and_the_pause_error_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let target = victim(elsewhere.path(), "passwd", "root:x:0:0\n");
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let tmp = state.join(".state.json.tmp");
    symlink(&target, &tmp).unwrap();
    let cv = start_on(dir, &["sleep", "60"], "");
    wait_for_socket(&cv);
    let (code, out, err) = ctl(&cv, &["pause", "--reason", "planted link test"]);
    assert_eq!(code, 0, "{out}{err}");
    let v = cv.wait_for("is a symbolic link", 1, T);
    assert!(
        common::msg(&v[0]).contains(&tmp.display().to_string()),
        "{v:?}"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "root:x:0:0\n");
    assert!(is_link(&tmp));
    assert!(!state.join("state.json").exists());
}

#[test]
fn a_link_at_state_json_is_not_followed_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    // A record that, if followed, would say "not paused": the gateway would start.
    let target = victim(
        elsewhere.path(),
        "chosen.json",
        "{\"version\": 1, \"pause\": null}\n",
    );
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let link = state.join("state.json");
    symlink(&target, &link).unwrap();
    let marker = elsewhere.path().join("gateway-ran");
    let cv = start_on(
        dir,
        &[
            "sh",
            "-c",
            &format!("touch {}; exec sleep 60", marker.display()),
        ],
        "",
    );
    wait_for_socket(&cv);
    let st = wait_status(&cv, "paused", |s| s["state"] == "paused");
    let reason = st["pause"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("symbolic link") && reason.contains(&link.display().to_string()),
        "{reason}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !marker.exists(),
        "the gateway ran past an unreadable state file"
    );
    assert!(cv.gateway_pids().is_empty());
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "{\"version\": 1, \"pause\": null}\n"
    );
}

// ---- The control socket's directory ----------------------------------------------------

/// clawvisor with its control socket at `socket` (and `control` extra keys), everything else
/// in `dir`.
fn start_with_socket(dir: tempfile::TempDir, socket: &Path, control: &str) -> Clawvisor {
    let d = dir.path().display().to_string();
    let body = format!(
        "[gateway]\ncommand = [\"sleep\", \"60\"]\n[state]\ndir = \"{d}/state\"\n[logs]\ndir = \"{d}/logs\"\n[control]\nsocket = \"{}\"\n{control}\n",
        socket.display()
    );
    Clawvisor::start_in(dir, &body, &[])
}

/// Asserts clawvisor stopped at start-up with an error naming `path` and saying `why`,
/// having started nothing and bound no socket.
fn assert_refused(mut cv: Clawvisor, socket: &Path, path: &Path, why: &str) {
    let st = cv.wait_exit(T);
    assert_ne!(st.code(), Some(0));
    let needle = format!("directory {} {why}", path.display());
    assert!(
        !cv.find(&needle).is_empty(),
        "no {needle:?} in {:?}",
        cv.events()
    );
    assert!(cv.gateway_pids().is_empty(), "nothing may be spawned");
    assert!(
        std::fs::symlink_metadata(socket).is_err(),
        "a socket was made"
    );
}

fn need_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI runs as root; this test needs it to chown to another user"
    );
    eprintln!("SKIPPED: needs root to give a directory to another user");
    false
}

const NOBODY: u32 = 65534;

#[test]
fn a_socket_dir_owned_by_another_user_is_refused() {
    if !need_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::os::unix::fs::chown(&run, Some(NOBODY), Some(NOBODY)).unwrap();
    let socket = run.join("clawvisor.sock");
    let cv = start_with_socket(dir, &socket, "");
    assert_refused(
        cv,
        &socket,
        &run,
        "belongs to uid 65534, not to clawvisor's user (uid 0) or root",
    );
}

#[test]
fn a_parent_owned_by_another_user_is_refused() {
    // nobody could rename `sub` (theirs to change) and put another directory in its place.
    if !need_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let theirs = dir.path().join("theirs");
    let sub = theirs.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    std::os::unix::fs::chown(&theirs, Some(NOBODY), Some(NOBODY)).unwrap();
    let socket = sub.join("clawvisor.sock");
    let cv = start_with_socket(dir, &socket, "");
    assert_refused(cv, &socket, &theirs, "belongs to uid 65534");
}

#[test]
fn a_writable_socket_dir_is_refused_unless_sticky() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o777)).unwrap();
    let socket = run.join("clawvisor.sock");
    let cv = start_with_socket(dir, &socket, "");
    assert_refused(
        cv,
        &socket,
        &run,
        "is writable by its group or by others without the sticky bit (mode 0777)",
    );
    // Sticky, as /tmp is: others cannot rename or remove what is ours. Accepted.
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let socket = run.join("clawvisor.sock");
    let cv = start_with_socket(dir, &socket, "");
    wait_for_socket_at(&cv, &socket);
}

#[test]
fn a_socket_dir_that_is_a_symlink_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let real = elsewhere.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = dir.path().join("run");
    symlink(&real, &link).unwrap();
    let socket = link.join("clawvisor.sock");
    let cv = start_with_socket(dir, &socket, "");
    assert_refused(cv, &socket, &link, "is a symbolic link");
    assert_eq!(
        std::fs::read_dir(&real).unwrap().count(),
        0,
        "nothing in the target"
    );
}

#[test]
fn a_missing_socket_dir_is_made_private_and_group_dirs_0750() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run/clawvisor");
    let socket = run.join("clawvisor.sock");
    let cv = start_with_socket(dir, &socket, "");
    wait_for_socket_at(&cv, &socket);
    let m = std::fs::symlink_metadata(&run).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o700);
    assert_eq!(m.uid(), nix::unistd::geteuid().as_raw());
    drop(cv);
    if !need_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run/clawvisor");
    let socket = run.join("clawvisor.sock");
    let cv = start_with_socket(dir, &socket, "group = \"nogroup\"");
    wait_for_socket_at(&cv, &socket);
    let m = std::fs::symlink_metadata(&run).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o750);
    assert_eq!(m.gid(), NOBODY);
    let s = std::fs::symlink_metadata(&socket).unwrap();
    assert_eq!((s.mode() & 0o777, s.gid()), (0o660, NOBODY));
}

fn wait_for_socket_at(cv: &Clawvisor, socket: &Path) {
    let sock = socket.display().to_string();
    assert!(
        eventually(T, || common::run_cli(&["ctl", "--socket", &sock, "status"])
            .0
            == 0),
        "the control socket never answered: {:?}",
        cv.events()
    );
}
