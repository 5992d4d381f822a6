//! Stopping processes: a signal to the gateway's group, SIGKILL to its whole tree, and the
//! clean-up of descendants that outlived it (they were re-parented to us, the subreaper).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::tree;

/// Sends `signal` to the process group led by `pid` (the gateway is a session leader).
pub fn signal_group(pid: i32, signal: i32) {
    let Ok(sig) = Signal::try_from(signal) else {
        tracing::warn!(signal, "not a signal number; nothing sent");
        return;
    };
    if let Err(e) = killpg(Pid::from_raw(pid), sig) {
        // ESRCH: the group is already gone, which is what we wanted.
        if e != nix::errno::Errno::ESRCH {
            tracing::warn!(
                pid,
                "cannot send {} to the gateway's group: {e}",
                sig.as_str()
            );
        }
    }
}

/// SIGKILL to the gateway's group and to every descendant, whatever session it moved to.
pub fn kill_tree(pid: i32) {
    let descendants = tree::descendants(pid);
    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    for d in descendants {
        let _ = kill(Pid::from_raw(d), Signal::SIGKILL);
    }
}

/// Our descendants that are not auxiliary processes (probes, hooks). Called while no
/// gateway runs (after its exit), so this is what is left of earlier gateway trees.
pub fn stragglers(aux: &HashSet<i32>) -> Vec<i32> {
    let me = std::process::id() as i32;
    tree::descendants_in(&tree::parent_map(), &[me], aux)
}

/// Asks stragglers to stop (SIGTERM), then SIGKILLs those still there after `grace`.
/// Blocking: run it off the supervisor task.
pub fn end_stragglers(pids: Vec<i32>, grace: Duration) {
    if pids.is_empty() {
        return;
    }
    tracing::info!(
        ?pids,
        "stopping processes left over from the gateway's tree"
    );
    for &p in &pids {
        let _ = kill(Pid::from_raw(p), Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    let alive = |p: &i32| kill(Pid::from_raw(*p), None).is_ok() && !is_zombie(*p);
    while pids.iter().any(alive) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for p in pids.iter().filter(|p| alive(p)) {
        tracing::info!(
            pid = p,
            "left-over process ignored SIGTERM; sending SIGKILL"
        );
        let _ = kill(Pid::from_raw(*p), Signal::SIGKILL);
    }
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rfind(')')
                .and_then(|i| s.get(i + 2..i + 3).map(|c| c == "Z"))
        })
        .unwrap_or(true)
}
