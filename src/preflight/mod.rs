//! The preflight: the config checked against this machine before anything starts. One list
//! of problems shared by `clawvisor check` (exit 1) and `clawvisor run` (exit 78, so a unit's
//! `RestartPreventExitStatus=78` ends a restart loop) and by `ctl reload` (refused).
//!
//! What `run` would otherwise only find out later: a program that is not on the gateway
//! user's PATH, a cwd that does not exist, a control group that does not exist, a state, log
//! or socket directory clawvisor cannot create or write.

mod dirs;
mod warnings;

pub use warnings::warnings;

use std::path::Path;

use nix::unistd::{Group, Uid};

use crate::config::Config;
use crate::config::user_name;
use crate::process::fork_exec::child_env;
use crate::process::program;
use crate::process::spawn::ChildSpec;

/// Every problem found, as (key path, what is wrong and what to do). `socket` is the
/// control socket's path when it is about to be bound (not at a reload, which keeps it).
pub fn problems(cfg: &Config, socket: Option<&Path>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    gateway(cfg, &mut out);
    if let Some(g) = &cfg.control.group
        && !g.trim().is_empty()
        && !matches!(Group::from_name(g), Ok(Some(_)))
    {
        out.push((
            "control.group".into(),
            format!("no such group {g:?} (create it with `groupadd {g}`, or leave the key out)"),
        ));
    }
    let me = format!("user {}", user_name(Uid::effective()));
    if let Err(e) = dirs::writable_dir(&cfg.state.dir, &me) {
        out.push(("state.dir".into(), e));
    }
    if let Err(e) = dirs::writable_dir(&cfg.logs.dir, &me) {
        out.push(("logs.dir".into(), e));
    }
    if let Some(socket) = socket
        && let Some(parent) = socket.parent().filter(|p| !p.as_os_str().is_empty())
        && let Err(e) = dirs::writable_dir(parent, &me)
    {
        out.push((
            "control.socket".into(),
            format!("{}: {e}", socket.display()),
        ));
    }
    out
}

/// The program resolves on the gateway user's PATH; the cwd exists and is theirs to enter.
fn gateway(cfg: &Config, out: &mut Vec<(String, String)>) {
    // Unknown users and groups are reported by the config's own validation.
    let Ok(spec) = ChildSpec::for_gateway(&cfg.gateway, &[]) else {
        return;
    };
    let Some(prog) = spec.argv.first().filter(|p| !p.is_empty()) else {
        return;
    };
    let (uid, gids): (u32, Vec<u32>) = match &spec.credentials {
        Some(c) => (
            c.uid.as_raw(),
            c.groups.iter().map(|g| g.as_raw()).collect(),
        ),
        None => (
            Uid::effective().as_raw(),
            nix::unistd::getgroups()
                .unwrap_or_default()
                .iter()
                .map(|g| g.as_raw())
                .chain([nix::unistd::Gid::effective().as_raw()])
                .collect(),
        ),
    };
    let who = program::Runner {
        name: &spec.user,
        uid,
        gids: &gids,
    };
    if let Some(dir) = &spec.cwd
        && let Err(e) = dirs::enterable_dir(dir, &who)
    {
        out.push(("gateway.cwd".into(), e));
        return;
    }
    let env = child_env(&spec);
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_os_str());
    if let Err(e) = program::find(prog, path, spec.cwd.as_deref(), &who) {
        out.push(("gateway.command".into(), e));
    }
}
