//! fork + exec done by hand, with an error pipe.
//!
//! std's `Command::spawn` reports a failed exec by waiting for the failed child itself
//! (`waitpid(pid)`). Our one reaper loops `waitpid(-1)` and can take that status first;
//! std then panics ("wait() should either return Ok or panic") and the spawner thread is gone
//! for good. Here the child writes what failed (a stage and an errno) into a close-on-exec
//! pipe and `_exit`s; the parent reads the pipe (EOF means exec succeeded) and never waits:
//! the reaper collects the failed child like any other.
//!
//! Everything that allocates happens before `fork`; between fork and exec the child makes
//! only async-signal-safe system calls.

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use super::child_spec::ChildSpec;
use super::program;
use crate::config::Credentials;

/// What the child was doing when it failed; sent through the error pipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Stage {
    Stdio = 1,
    Setsid = 2,
    Groups = 3,
    Gid = 4,
    Uid = 5,
    DeathSignal = 6,
    Cwd = 7,
    Exec = 8,
}

impl Stage {
    fn from_u8(b: u8) -> Option<Stage> {
        Some(match b {
            1 => Stage::Stdio,
            2 => Stage::Setsid,
            3 => Stage::Groups,
            4 => Stage::Gid,
            5 => Stage::Uid,
            6 => Stage::DeathSignal,
            7 => Stage::Cwd,
            8 => Stage::Exec,
            _ => return None,
        })
    }
}

/// A started child: its pid and the read ends of its stdout and stderr.
pub struct Forked {
    pub pid: i32,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// Why a start failed. `pid` is set when a child was forked (and failed before or at exec):
/// its status goes to the reaper, which nobody should mistake for a gateway exit.
#[derive(Debug)]
pub struct StartError {
    pub pid: Option<i32>,
    pub message: String,
}

/// The child's environment: clawvisor's own (unless cleared), minus `env_remove`, plus
/// `env_set` (later wins).
pub fn child_env(spec: &ChildSpec) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = if spec.env_clear {
        Vec::new()
    } else {
        std::env::vars_os().collect()
    };
    env.retain(|(k, _)| !spec.env_remove.iter().any(|r| k.as_bytes() == r.as_bytes()));
    for (k, v) in &spec.env_set {
        env.retain(|(ek, _)| ek.as_bytes() != k.as_bytes());
        env.push((k.into(), v.into()));
    }
    env
}

fn cstring(bytes: &[u8], what: &str) -> Result<CString, StartError> {
    CString::new(bytes).map_err(|_| StartError {
        pid: None,
        message: format!("{what} contains a NUL byte"),
    })
}

fn os_error(what: &str, e: io::Error) -> StartError {
    StartError {
        pid: None,
        message: format!("{what}: {e}"),
    }
}

/// A pipe whose both ends are close-on-exec: (read, write).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 just returned these two fresh descriptors, owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Forks and execs `spec` in its own session with stdin from /dev/null (or `spec.stdin`) and stdout/stderr
/// piped. Never waits for the child. Call only from the spawner thread (the parent-death
/// signal is tied to the thread that forks).
pub fn start(spec: &ChildSpec) -> Result<Forked, StartError> {
    let Some(program) = spec.argv.first() else {
        return Err(StartError {
            pid: None,
            message: "empty command".into(),
        });
    };
    let env = child_env(spec);
    let path_var = env
        .iter()
        .find(|(k, _)| k.as_bytes() == b"PATH")
        .map(|(_, v)| v.clone());
    let candidates: Vec<CString> = program::candidates(program, path_var.as_deref())
        .into_iter()
        .map(|p| cstring(p.as_os_str().as_bytes(), "the program path"))
        .collect::<Result<_, _>>()?;
    let argv: Vec<CString> = spec
        .argv
        .iter()
        .map(|a| cstring(a.as_bytes(), "an argument"))
        .collect::<Result<_, _>>()?;
    let envp: Vec<CString> = env
        .iter()
        .map(|(k, v)| {
            let mut kv = k.clone().into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            cstring(&kv, "an environment variable")
        })
        .collect::<Result<_, _>>()?;
    let cwd = match &spec.cwd {
        Some(d) => Some(cstring(d.as_os_str().as_bytes(), "gateway.cwd")?),
        None => None,
    };
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut envp_ptrs: Vec<*const libc::c_char> = envp.iter().map(|a| a.as_ptr()).collect();
    envp_ptrs.push(std::ptr::null());
    let groups: Vec<libc::gid_t> = spec
        .credentials
        .as_ref()
        .map(|c| c.groups.iter().map(|g| g.as_raw()).collect())
        .unwrap_or_default();

    let devnull: OwnedFd = match &spec.stdin {
        // An alert hook's input, shared read-only with this child.
        Some(fd) => fd
            .try_clone()
            .map_err(|e| os_error("cannot pass stdin", e))?,
        None => std::fs::File::open("/dev/null")
            .map_err(|e| os_error("/dev/null", e))?
            .into(),
    };
    let (out_r, out_w) = pipe().map_err(|e| os_error("cannot make a pipe", e))?;
    let (err_r, err_w) = pipe().map_err(|e| os_error("cannot make a pipe", e))?;
    let (report_r, report_w) = pipe().map_err(|e| os_error("cannot make a pipe", e))?;
    let parent = nix::unistd::getpid().as_raw();

    let plan = ChildPlan {
        stdin: devnull.as_raw_fd(),
        stdout: out_w.as_raw_fd(),
        stderr: err_w.as_raw_fd(),
        report: report_w.as_raw_fd(),
        parent,
        credentials: spec.credentials.as_ref(),
        groups: &groups,
        umask: spec.umask,
        cwd: cwd.as_ref(),
        candidates: &candidates,
        argv: argv_ptrs.as_ptr(),
        envp: envp_ptrs.as_ptr(),
    };
    // SAFETY: the child branch only runs `plan.exec()`, which makes async-signal-safe system
    // calls on memory prepared above and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = io::Error::last_os_error();
        let hint = if e.raw_os_error() == Some(libc::EAGAIN) {
            " (the process limit for this user is reached, or memory is short)"
        } else {
            ""
        };
        return Err(StartError {
            pid: None,
            message: format!("cannot fork: {e}{hint}"),
        });
    }
    if pid == 0 {
        // SAFETY: we are the freshly forked child.
        unsafe { plan.exec() }
    }
    // The parent keeps only the read ends.
    drop((out_w, err_w, report_w, devnull));
    match read_report(&report_r) {
        None => Ok(Forked {
            pid,
            stdout: out_r,
            stderr: err_r,
        }),
        Some((stage, errno)) => Err(StartError {
            pid: Some(pid),
            message: describe(spec, path_var.as_deref(), stage, errno),
        }),
    }
}

/// Reads the child's failure report; `None` when the pipe closed empty (exec succeeded).
fn read_report(fd: &OwnedFd) -> Option<(Option<Stage>, i32)> {
    let mut buf = [0u8; 5];
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: reading into the unfilled tail of a local buffer.
        let n = unsafe {
            libc::read(
                fd.as_raw_fd(),
                buf[got..].as_mut_ptr().cast(),
                buf.len() - got,
            )
        };
        if n > 0 {
            got += n as usize;
        } else if n == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
    if got == 0 {
        return None;
    }
    let errno = i32::from_ne_bytes([buf[1], buf[2], buf[3], buf[4]]);
    Some((Stage::from_u8(buf[0]), errno))
}

fn describe(
    spec: &ChildSpec,
    path: Option<&std::ffi::OsStr>,
    stage: Option<Stage>,
    errno: i32,
) -> String {
    let err = nix::errno::Errno::from_raw(errno);
    let user = &spec.user;
    match stage {
        Some(Stage::Exec) => program::exec_error(&spec.argv[0], path, user, errno),
        Some(Stage::Cwd) => {
            let dir = spec
                .cwd
                .as_ref()
                .map_or_else(String::new, |d| d.display().to_string());
            match errno {
                libc::ENOENT => format!("gateway.cwd {dir:?} does not exist"),
                libc::ENOTDIR => format!("gateway.cwd {dir:?} is not a directory"),
                libc::EACCES => format!("gateway.cwd {dir:?} is not accessible to user {user}"),
                _ => format!("gateway.cwd {dir:?}: {}", err.desc()),
            }
        }
        Some(Stage::Groups | Stage::Gid | Stage::Uid) => {
            let why = if errno == libc::EPERM {
                " (only root can start a child as another user)"
            } else {
                ""
            };
            format!("cannot switch to user {user}: {}{why}", err.desc())
        }
        Some(s) => format!("cannot prepare the child ({s:?}): {}", err.desc()),
        None => format!("the child failed before exec: {}", err.desc()),
    }
}

/// Everything the child needs between fork and exec, prepared (allocated) beforehand.
struct ChildPlan<'a> {
    stdin: RawFd,
    stdout: RawFd,
    stderr: RawFd,
    report: RawFd,
    parent: libc::pid_t,
    credentials: Option<&'a Credentials>,
    groups: &'a [libc::gid_t],
    umask: Option<u32>,
    cwd: Option<&'a CString>,
    candidates: &'a [CString],
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
}

impl ChildPlan<'_> {
    /// Runs in the forked child: only async-signal-safe calls, no allocation, no locks.
    unsafe fn exec(&self) -> ! {
        unsafe {
            let fail = |stage: Stage| -> ! {
                let errno = *libc::__errno_location();
                self.fail(stage, errno)
            };
            // Signals: the spawner thread's mask and Rust's ignored SIGPIPE must not leak
            // into the gateway (exec keeps both).
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            for (from, to) in [(self.stdin, 0), (self.stdout, 1), (self.stderr, 2)] {
                if from == to {
                    // dup2 onto itself keeps close-on-exec: clear it instead.
                    if libc::fcntl(from, libc::F_SETFD, 0) < 0 {
                        fail(Stage::Stdio);
                    }
                } else if libc::dup2(from, to) < 0 {
                    fail(Stage::Stdio);
                }
            }
            // Own session and process group: a group signal reaches the gateway and its
            // workers, and a terminal's Ctrl-C reaches only clawvisor, which stops it cleanly.
            if libc::setsid() < 0 {
                fail(Stage::Setsid);
            }
            if let Some(c) = self.credentials {
                if libc::setgroups(self.groups.len(), self.groups.as_ptr()) < 0 {
                    fail(Stage::Groups);
                }
                if libc::setgid(c.gid.as_raw()) < 0 {
                    fail(Stage::Gid);
                }
                if libc::setuid(c.uid.as_raw()) < 0 {
                    fail(Stage::Uid);
                }
            }
            // After the credential change: changing uid clears the parent-death signal.
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) < 0
            {
                fail(Stage::DeathSignal);
            }
            if libc::getppid() != self.parent {
                // clawvisor died between fork and prctl: do not start an orphan.
                libc::_exit(1);
            }
            if let Some(m) = self.umask {
                libc::umask(m as libc::mode_t);
            }
            if let Some(dir) = self.cwd
                && libc::chdir(dir.as_ptr()) < 0
            {
                fail(Stage::Cwd);
            }
            // execvp's rules: try every candidate; "not here" moves on, "permission denied"
            // is remembered, anything else (a bad binary) is the answer.
            let mut denied = false;
            let mut last = libc::ENOENT;
            for cand in self.candidates {
                libc::execve(cand.as_ptr(), self.argv, self.envp);
                let e = *libc::__errno_location();
                match e {
                    libc::ENOENT
                    | libc::ENOTDIR
                    | libc::ESTALE
                    | libc::ELOOP
                    | libc::ENAMETOOLONG => last = e,
                    libc::EACCES => denied = true,
                    _ => self.fail(Stage::Exec, e),
                }
            }
            self.fail(Stage::Exec, if denied { libc::EACCES } else { last })
        }
    }

    unsafe fn fail(&self, stage: Stage, errno: i32) -> ! {
        let e = errno.to_ne_bytes();
        let msg = [stage as u8, e[0], e[1], e[2], e[3]];
        unsafe {
            // A 5-byte write to a pipe is atomic; if it fails the parent sees EOF and the
            // child's exit 127 tells the rest.
            libc::write(self.report, msg.as_ptr().cast(), msg.len());
            libc::_exit(127)
        }
    }
}
