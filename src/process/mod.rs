//! Process operations: spawn, signals, the reaper, the tree under the gateway.

pub mod aux;
pub mod child_spec;
pub mod command_runner;
pub mod fork_exec;
mod hook;
pub mod kill;
pub mod ops;
pub mod program;
pub mod reaper;
pub mod signals;
pub mod spawn;
pub mod tree;

/// Becomes the reaper of orphaned descendants (not needed as PID 1, which already is).
pub fn become_subreaper() {
    if std::process::id() == 1 {
        tracing::info!("running as PID 1: reaping every orphan, handling TERM/INT/QUIT/HUP");
        return;
    }
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        tracing::warn!("cannot become a child subreaper ({e}): daemonized descendants escape");
    }
}
