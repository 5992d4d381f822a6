//! clawvisor as PID 1 (a container): orphans are reaped, signals still stop it.

mod common;

use std::time::Duration;

use common::*;

fn unshare_works() -> bool {
    std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

/// The pid (in our namespace) of the process whose parent is `parent`.
fn child_of(parent: i32) -> Option<i32> {
    clawvisor::process::tree::parent_map()
        .into_iter()
        .find_map(|(pid, ppid)| (ppid == parent).then_some(pid))
}

fn zombie_children(parent: i32) -> Vec<i32> {
    clawvisor::process::tree::parent_map()
        .into_iter()
        .filter(|&(pid, ppid)| ppid == parent && !alive(pid))
        .map(|(pid, _)| pid)
        .collect()
}

#[test]
fn as_pid_1_orphans_are_reaped_and_sigterm_stops() {
    if !unshare_works() {
        eprintln!("SKIPPED: unshare --pid needs root (CI runs as root)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Each round leaves an orphan: the subshell exits at once, its `sleep` is re-parented to
    // PID 1 (clawvisor) and exits shortly after. Unreaped, they would stay zombies.
    let child =
        r#"for i in 1 2 3 4 5 6 7 8; do (sleep 0.1 &); done; echo orphans-made; exec sleep 60"#;
    let config = format!(
        "[gateway]\ncommand = [\"sh\", \"-c\", {child:?}]\n{}",
        base_config(dir.path(), "")
    );
    let mut cv = Clawvisor::start_in(
        dir,
        &config,
        &["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"],
    );
    let mut inner = None;
    assert!(eventually(Duration::from_secs(10), || {
        inner = child_of(cv.pid());
        inner.is_some()
    }));
    let inner = inner.unwrap();
    assert!(eventually(Duration::from_secs(10), || cv
        .captured_output()
        .contains("orphans-made")));
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        cv.find("becomes PID 1").len() + cv.find("running as PID 1").len() >= 1,
        "clawvisor knows it is PID 1"
    );
    assert_eq!(
        zombie_children(inner),
        Vec::<i32>::new(),
        "orphans left as zombies"
    );
    let reaped = cv.find("reaped an adopted orphan").len();
    assert!(reaped >= 1, "no orphan reaped; saw {reaped}");
    // SIGTERM reaches PID 1 through its handler (PID 1 has no default action).
    unsafe { libc::kill(inner, libc::SIGTERM) };
    let st = cv.wait_exit(Duration::from_secs(20));
    assert_eq!(
        st.code(),
        Some(128 + libc::SIGTERM),
        "sleep dies of TERM: 143"
    );
}
