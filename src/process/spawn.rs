//! Starting the gateway: argv, environment, credentials, its own session, and a parent-death
//! signal so a SIGKILLed clawvisor leaves no orphan gateway holding its port.

use std::ffi::CString;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;

use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
use nix::unistd::{Gid, Group, Uid, User};
use tokio::sync::oneshot;

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
    pub fn for_gateway(cfg: &GatewayConfig) -> Result<ChildSpec, String> {
        let credentials = resolve_credentials(cfg.user.as_deref(), cfg.group.as_deref())?;
        let mut env_remove = cfg.env_remove.clone();
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
        Ok(ChildSpec {
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
            stdin: None,
        }
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

/// Forks and execs `spec` in its own session. Call only from the spawner thread.
fn spawn_now(spec: &ChildSpec) -> io::Result<SpawnedChild> {
    let (prog, args) = spec
        .argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
    let mut cmd = Command::new(prog);
    let stdin = match &spec.stdin {
        Some(fd) => Stdio::from(fd.try_clone()?),
        None => Stdio::null(),
    };
    cmd.args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if spec.env_clear {
        cmd.env_clear();
    }
    for k in &spec.env_remove {
        cmd.env_remove(k);
    }
    cmd.envs(spec.env_set.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    let parent = nix::unistd::getpid();
    let creds = spec.credentials.clone();
    let umask = spec.umask;
    // SAFETY: the closure only makes async-signal-safe system calls (no allocation, no locks).
    unsafe {
        cmd.pre_exec(move || {
            pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?;
            // Own session and process group: a group signal reaches the gateway and its
            // workers, and a terminal's Ctrl-C reaches only clawvisor, which stops it cleanly.
            nix::unistd::setsid()?;
            if let Some(c) = &creds {
                nix::unistd::setgroups(&c.groups)?;
                nix::unistd::setgid(c.gid)?;
                nix::unistd::setuid(c.uid)?;
            }
            // After the credential change: changing uid clears the parent-death signal.
            nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL))?;
            if nix::unistd::getppid() != parent {
                // clawvisor died between fork and prctl: do not start an orphan.
                libc::_exit(1);
            }
            if let Some(m) = umask {
                libc::umask(m as libc::mode_t);
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    let pid = child.id() as i32;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    // Dropping `Child` does not wait: the one reaper collects its status.
    drop(child);
    Ok(SpawnedChild {
        pid,
        stdout: stdout.into(),
        stderr: stderr.into(),
    })
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
    pub fn start() -> Spawner {
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("spawner".into())
            .spawn(move || {
                for (spec, reply) in rx {
                    let _ = reply.send(spawn_now(&spec));
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
