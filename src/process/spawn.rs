//! Starting the gateway: argv, environment, credentials, its own session, and a parent-death
//! signal so a SIGKILLed clawvisor leaves no orphan gateway holding its port.

use std::ffi::CString;
use std::io;
use std::os::fd::OwnedFd;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::mpsc;

use nix::unistd::{Gid, Group, Uid, User};
use tokio::sync::oneshot;

use super::fork_exec;
use super::reaper::Reaper;
use crate::config::{GatewayConfig, SYSTEMD_ENV_VARS};

/// Everything needed to start the child, resolved before fork (name lookups are not safe
/// between fork and exec).
#[derive(Clone, Debug)]
pub struct ChildSpec {
    pub argv: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub env_clear: bool,
    pub env_remove: Vec<String>,
    pub env_set: Vec<(String, String)>,
    pub credentials: Option<Credentials>,
    pub umask: Option<u32>,
    /// Who the child runs as, for messages ("not found on PATH ... for user openclaw").
    pub user: String,
    /// A file to read stdin from (an alert hook's JSON); None: /dev/null.
    pub stdin: Option<std::sync::Arc<OwnedFd>>,
}

#[derive(Clone, Debug)]
pub struct Credentials {
    pub uid: Uid,
    pub gid: Gid,
    pub groups: Vec<Gid>,
}

impl ChildSpec {
    /// `hidden`: clawvisor's secret variables (`Config::secret_env_vars`), never inherited;
    /// `cfg.env` is applied after, so a value written there explicitly is still passed.
    pub fn for_gateway(cfg: &GatewayConfig, hidden: &[String]) -> Result<ChildSpec, String> {
        let credentials = resolve_credentials(cfg.user.as_deref(), cfg.group.as_deref())?;
        let mut env_remove = cfg.env_remove.clone();
        env_remove.extend(hidden.iter().cloned());
        let mut env_set = Vec::new();
        // clawvisor's own systemd notify socket is never the gateway's to use.
        env_remove.extend(["NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC"].map(String::from));
        if cfg.external_supervisor {
            env_remove.extend(SYSTEMD_ENV_VARS.iter().map(|s| s.to_string()));
            env_set.push(("OPENCLAW_SUPERVISOR_MODE".into(), "external".into()));
        }
        if let (Some(c), Some(_)) = (&credentials, &cfg.user)
            && let Ok(Some(u)) = User::from_uid(c.uid)
        {
            env_set.push(("HOME".into(), u.dir.display().to_string()));
            env_set.push(("USER".into(), u.name.clone()));
            env_set.push(("LOGNAME".into(), u.name));
        }
        env_set.extend(cfg.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        let uid = credentials.as_ref().map_or_else(Uid::current, |c| c.uid);
        Ok(ChildSpec {
            user: user_name(uid),
            argv: cfg.command.clone(),
            cwd: cfg.cwd.clone(),
            env_clear: cfg.env_clear,
            env_remove,
            env_set,
            credentials,
            umask: cfg.umask.map(|u| u.0),
            stdin: None,
        })
    }

    /// An auxiliary command (exec probe, alert hook) in clawvisor's own environment.
    pub fn aux(argv: Vec<String>) -> ChildSpec {
        ChildSpec {
            argv,
            cwd: None,
            env_clear: false,
            env_remove: Vec::new(),
            env_set: Vec::new(),
            credentials: None,
            umask: None,
            user: user_name(Uid::current()),
            stdin: None,
        }
    }
}

/// A user's name, or their numeric id when the passwd database has none.
pub fn user_name(uid: Uid) -> String {
    match User::from_uid(uid) {
        Ok(Some(u)) => u.name,
        _ => uid.to_string(),
    }
}

/// Looks up `user` and `group` (names or numeric ids) and the user's supplementary groups.
pub fn resolve_credentials(
    user: Option<&str>,
    group: Option<&str>,
) -> Result<Option<Credentials>, String> {
    if user.is_none() && group.is_none() {
        return Ok(None);
    }
    let u = match user {
        Some(name) => Some(lookup_user(name)?),
        None => None,
    };
    let gid = match group {
        Some(g) => lookup_group(g)?,
        None => u.as_ref().map(|u| u.gid).unwrap_or_else(Gid::current),
    };
    let uid = u.as_ref().map(|u| u.uid).unwrap_or_else(Uid::current);
    let groups = match &u {
        Some(u) => {
            let cname = CString::new(u.name.as_str()).map_err(|e| e.to_string())?;
            nix::unistd::getgrouplist(&cname, gid).unwrap_or_else(|_| vec![gid])
        }
        None => vec![gid],
    };
    Ok(Some(Credentials { uid, gid, groups }))
}

fn lookup_user(name: &str) -> Result<User, String> {
    let found = match name.parse::<u32>() {
        Ok(n) => User::from_uid(Uid::from_raw(n)),
        Err(_) => User::from_name(name),
    };
    found
        .map_err(|e| format!("gateway.user {name:?}: {e}"))?
        .ok_or_else(|| format!("gateway.user {name:?}: no such user"))
}

fn lookup_group(name: &str) -> Result<Gid, String> {
    if let Ok(n) = name.parse::<u32>() {
        return Ok(Gid::from_raw(n));
    }
    Group::from_name(name)
        .map_err(|e| format!("gateway.group {name:?}: {e}"))?
        .map(|g| g.gid)
        .ok_or_else(|| format!("gateway.group {name:?}: no such group"))
}

pub struct SpawnedChild {
    pub pid: i32,
    /// Read ends of the child's stdout and stderr pipes.
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// Forks and execs `spec` in its own session. Call only from the spawner thread. A child
/// that failed at exec is left to the reaper, its status discarded (it never ran).
fn spawn_now(spec: &ChildSpec, reaper: &Reaper) -> io::Result<SpawnedChild> {
    match fork_exec::start(spec) {
        Ok(c) => Ok(SpawnedChild {
            pid: c.pid,
            stdout: c.stdout,
            stderr: c.stderr,
        }),
        Err(e) => {
            if let Some(pid) = e.pid {
                reaper.discard(pid);
            }
            Err(io::Error::other(e.message))
        }
    }
}

type Request = (ChildSpec, oneshot::Sender<io::Result<SpawnedChild>>);

/// A thread that lives as long as clawvisor and does every fork. PR_SET_PDEATHSIG fires
/// when the *thread* that forked exits, so forking from a short-lived thread (a blocking
/// pool worker) would kill the gateway when that thread retires.
#[derive(Clone)]
pub struct Spawner {
    tx: mpsc::Sender<Request>,
}

impl Spawner {
    pub fn start(reaper: Reaper) -> Spawner {
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("spawner".into())
            .spawn(move || {
                for (spec, reply) in rx {
                    // A bug in one start must not take every later start with it.
                    let result =
                        std::panic::catch_unwind(AssertUnwindSafe(|| spawn_now(&spec, &reaper)))
                            .unwrap_or_else(|_| Err(io::Error::other("the spawner panicked")));
                    let _ = reply.send(result);
                }
                // The channel closes only when clawvisor is exiting; keep the thread (and so
                // the children's parent-death link) alive until the process ends.
                loop {
                    std::thread::park();
                }
            })
            .expect("spawn the spawner thread");
        Spawner { tx }
    }

    pub async fn spawn(&self, spec: ChildSpec) -> io::Result<SpawnedChild> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send((spec, tx))
            .map_err(|_| io::Error::other("spawner thread is gone"))?;
        rx.await
            .map_err(|_| io::Error::other("spawner thread is gone"))?
    }
}
