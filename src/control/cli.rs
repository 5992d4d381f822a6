//! `clawvisor ctl`: the command line over the control socket.
//!
//! Exit codes (scripts rely on them):
//! - 0: done;
//! - 1: refused or failed (clawvisor said no, or this user may not use the socket);
//! - 2: usage (bad arguments, unreadable `--config`);
//! - 3: clawvisor is not reachable (not running, wrong socket, no answer in time,
//!   shutting down).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand, ValueEnum};

use super::client::{Client, ClientError, request};
use super::exit_codes::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, client_exit_code, server_exit_code};
use super::protocol::{ErrorKind, JobsOp, ProbeKind, Request, Response};
use super::render;
use super::wait_idle_cmd;
use super::{SYSTEM_SOCKET, socket_path};
use crate::config::{Config, ControlConfig, DEFAULT_CONFIG_PATH, Dur, Percent, SignalName, Size};
use crate::logs::Stream;
use crate::watch::wait_idle::WaitIdleOpts;

/// How long most commands wait for clawvisor's answer.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// `probe quality` waits for a whole run of reasoning tests (each may take minutes).
const PROBE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// `wait-idle` waits for the GPU, not for clawvisor.
const WAIT_IDLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// `alert test` waits for every channel's attempt (each bounded by its own timeout).
const ALERT_TEST_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Talk to a running clawvisor through its control socket.
///
/// Exit codes: 0 done, 1 refused or failed, 2 usage error, 3 clawvisor not reachable.
#[derive(Args, Debug, Clone)]
#[command(
    after_help = "Exit codes: 0 done; 1 refused or failed (clawvisor said no, or this user \
may not use the socket); 2 usage error; 3 clawvisor not reachable (not running, wrong socket, \
no answer in time)."
)]
pub struct CtlArgs {
    /// The control socket (default: `[control] socket` from --config, else the default path).
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Find the socket through this config file's `[control] socket`.
    #[arg(long, short = 'c', global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Output for scripts: one JSON document; streams print one JSON object per line.
    #[arg(long, global = true)]
    pub json: bool,
    /// How long to wait for clawvisor's answer (default 30s; 10m for `probe quality`; for
    /// `wait-idle`, how long to wait for the GPU, default 15m).
    #[arg(long, global = true, value_name = "DURATION")]
    pub timeout: Option<Dur>,
    #[command(subcommand)]
    pub command: CtlCommand,
}

#[derive(Subcommand, Debug, Clone, PartialEq)]
pub enum CtlCommand {
    /// State, pid, uptime, restarts, last exit, backoff, pause reason, log statistics.
    Status,
    /// Stop the gateway gracefully and hold it down until `resume` (kept across restarts).
    Pause {
        /// Why, for whoever reads `status` next.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Clear a pause and the crash-loop counter, and start the gateway.
    Resume,
    /// Stop the gateway and start it again.
    Restart,
    /// Stop the gateway only; it stays down until `start` or `resume`.
    Stop,
    /// Start a stopped gateway.
    Start,
    /// Stop the gateway and exit clawvisor.
    Shutdown,
    /// Send a signal to the gateway's process group (e.g. `USR2`, `HUP`).
    Signal {
        /// Signal name, with or without `SIG`.
        name: String,
    },
    /// The gateway's recent output.
    Logs {
        /// How many lines.
        #[arg(short = 'n', long = "lines", default_value_t = 50)]
        lines: usize,
        /// Keep printing new lines until interrupted.
        #[arg(short, long)]
        follow: bool,
        /// Only one stream.
        #[arg(long, value_enum)]
        stream: Option<StreamArg>,
    },
    /// Rotate the log files now.
    Rotate,
    /// Re-read the config file.
    Reload,
    /// Print state changes and alerts as they happen, until interrupted.
    Events,
    /// Run a check now and print its report (`probe quality`: the reasoning tests; exit 1
    /// when the pass rate is below `quality.min_pass_rate`).
    Probe {
        #[arg(value_enum)]
        kind: ProbeArg,
    },
    /// Alert channels: `alert test [--channel NAME]` sends a test message through each
    /// channel (or one) and prints each result; exit 1 when any failed.
    Alert {
        #[command(subcommand)]
        action: AlertAction,
    },
    /// Wait until the GPU is idle (exit 0), or until --timeout, default 15m (exit 1); for
    /// cron jobs before heavy work. Without GPU watching there is nothing to wait for: 0.
    /// When it cannot judge (utilisation NVML does not report, as on MIG or WSL2; a device it
    /// cannot read; a stale reading) it says why and exits 4. It judges the gateway's GPUs
    /// (or `gpu.devices`).
    WaitIdle {
        /// Idle needs every device's utilisation below this percentage.
        #[arg(long, value_name = "PERCENT", default_value = "90")]
        gpu_util_below: Percent,
        /// Idle also needs at least this much free memory on every device ("20GiB").
        #[arg(long, value_name = "SIZE")]
        gpu_mem_free_above: Option<Size>,
        /// Take values that cannot be known as idle instead of exiting 4.
        #[arg(long)]
        unknown_is_idle: bool,
    },
    /// Scheduled jobs: name, schedule, zone, next run (local and UTC), state (which gate a
    /// due run waits on), last outcome. Subcommands run one now, or show its history or logs.
    Jobs {
        #[command(subcommand)]
        action: Option<JobsAction>,
    },
}

#[derive(Subcommand, Debug, Clone, PartialEq)]
pub enum JobsAction {
    /// Run the job now, through the same gates (refused while a run of it is running or due).
    Run { name: String },
    /// The job's last runs: slot, attempt, start, end, exit, gate waits, cause.
    History {
        name: String,
        /// How many runs.
        #[arg(short = 'n', long = "lines", default_value_t = 20)]
        lines: usize,
    },
    /// The job's recent output (from its log file, all runs).
    Logs {
        name: String,
        /// How many lines.
        #[arg(short = 'n', long = "lines", default_value_t = 50)]
        lines: usize,
    },
}

#[derive(Subcommand, Debug, Clone, PartialEq)]
pub enum AlertAction {
    /// Send a test alert through the running clawvisor and print each channel's result.
    Test {
        /// Only this channel (its `name`).
        #[arg(long, value_name = "NAME")]
        channel: Option<String>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeArg {
    /// The `[quality]` reasoning tests.
    Quality,
}

impl From<ProbeArg> for ProbeKind {
    fn from(p: ProbeArg) -> ProbeKind {
        match p {
            ProbeArg::Quality => ProbeKind::Quality,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamArg {
    Out,
    Err,
}

impl From<StreamArg> for Stream {
    fn from(s: StreamArg) -> Stream {
        match s {
            StreamArg::Out => Stream::Out,
            StreamArg::Err => Stream::Err,
        }
    }
}

impl CtlCommand {
    fn to_request(&self) -> Result<Request, String> {
        Ok(match self {
            CtlCommand::Status => Request::Status,
            CtlCommand::Pause { reason } => Request::Pause {
                reason: reason.clone(),
            },
            CtlCommand::Resume => Request::Resume,
            CtlCommand::Restart => Request::Restart,
            CtlCommand::Stop => Request::Stop,
            CtlCommand::Start => Request::Start,
            CtlCommand::Shutdown => Request::Shutdown,
            CtlCommand::Signal { name } => {
                let sig: SignalName = name.parse()?;
                Request::Signal {
                    name: sig.to_string(),
                }
            }
            CtlCommand::Logs {
                lines,
                follow,
                stream,
            } => Request::Logs {
                lines: *lines,
                follow: *follow,
                stream: stream.map(Stream::from),
            },
            CtlCommand::Rotate => Request::Rotate,
            CtlCommand::Reload => Request::Reload,
            CtlCommand::Events => Request::Events,
            CtlCommand::Probe { kind } => Request::Probe {
                kind: (*kind).into(),
            },
            CtlCommand::Jobs { action } => {
                let (op, name, lines) = match action {
                    None => (JobsOp::List, None, 50),
                    Some(JobsAction::Run { name }) => (JobsOp::Run, Some(name.clone()), 50),
                    Some(JobsAction::History { name, lines }) => {
                        (JobsOp::History, Some(name.clone()), *lines)
                    }
                    Some(JobsAction::Logs { name, lines }) => {
                        (JobsOp::Logs, Some(name.clone()), *lines)
                    }
                };
                Request::Jobs { op, name, lines }
            }
            CtlCommand::Alert {
                action: AlertAction::Test { channel },
            } => Request::AlertTest {
                channel: channel.clone(),
            },
            // Polled by `wait_idle_cmd` until the GPU is idle.
            CtlCommand::WaitIdle { .. } => Request::Status,
        })
    }

    /// How long to wait when `--timeout` is not given.
    fn default_timeout(&self) -> Duration {
        match self {
            CtlCommand::Probe { .. } => PROBE_TIMEOUT,
            CtlCommand::WaitIdle { .. } => WAIT_IDLE_TIMEOUT,
            CtlCommand::Alert { .. } => ALERT_TEST_TIMEOUT,
            _ => DEFAULT_TIMEOUT,
        }
    }
}

impl CtlArgs {
    fn timeout(&self) -> Duration {
        self.timeout
            .map_or_else(|| self.command.default_timeout(), Dur::get)
    }
}

/// Runs `clawvisor ctl ...` and returns the process exit code.
pub fn run_ctl(args: CtlArgs) -> i32 {
    let req = match args.command.to_request() {
        Ok(r) => r,
        Err(e) => return fail(EXIT_USAGE, &e),
    };
    let target = match Target::resolve(&args) {
        Ok(t) => t,
        Err(e) => return fail(EXIT_USAGE, &e),
    };
    let out = &mut io::stdout().lock();
    let code = if let CtlCommand::WaitIdle {
        gpu_util_below,
        gpu_mem_free_above,
        unknown_is_idle,
    } = &args.command
    {
        let opts = WaitIdleOpts {
            gpu_util_below: gpu_util_below.0,
            gpu_mem_free_above: gpu_mem_free_above.map(Size::bytes),
            unknown_is_idle: *unknown_is_idle,
            timeout: args.timeout(),
            ..WaitIdleOpts::default()
        };
        wait_idle_cmd::run(&target.path, &opts, out)
    } else if req.is_stream() {
        run_stream(&target, &req, &args, out)
    } else {
        match request(&target.path, &req, args.timeout()) {
            Ok(resp) => print_answer(&target, resp, &args, out),
            Err(e) => client_failure(&e),
        }
    };
    let _ = out.flush();
    code
}

/// The socket to talk to, and the resume command that names it.
struct Target {
    path: PathBuf,
    /// True when a plain `clawvisor ctl` would not find this socket by itself.
    non_default: bool,
}

impl Target {
    fn resolve(args: &CtlArgs) -> Result<Target, String> {
        let default = socket_path(&ControlConfig::default());
        let path = if let Some(p) = &args.socket {
            p.clone()
        } else if let Some(c) = &args.config {
            socket_path(&Config::load(c).map_err(|e| e.to_string())?.control)
        } else {
            from_installed_config().unwrap_or_else(|| {
                // A user's shell looks in its own runtime dir; root's clawvisor is elsewhere.
                if !default.exists() && Path::new(SYSTEM_SOCKET).exists() {
                    PathBuf::from(SYSTEM_SOCKET)
                } else {
                    default.clone()
                }
            })
        };
        Ok(Target {
            non_default: path != default,
            path,
        })
    }

    fn resume_command(&self) -> String {
        if self.non_default {
            format!("clawvisor ctl resume --socket {}", self.path.display())
        } else {
            "clawvisor ctl resume".into()
        }
    }
}

/// The socket named by the installed config ($CLAWVISOR_CONFIG, else the default path), when
/// it names one. A config that exists but cannot be read (0600 is common: it holds tokens)
/// is said out loud, with the file and why, before the default socket is tried.
fn from_installed_config() -> Option<PathBuf> {
    let p = std::env::var_os("CLAWVISOR_CONFIG")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH), PathBuf::from);
    if !p.exists() {
        return None;
    }
    match Config::load(&p) {
        Ok(c) => c.control.socket,
        Err(e) => {
            eprintln!(
                "clawvisor ctl: warning: {e}\n  so its [control] socket is unknown; trying the default socket (name it with --socket PATH)"
            );
            None
        }
    }
}

fn print_answer(target: &Target, resp: Response, args: &CtlArgs, out: &mut impl Write) -> i32 {
    let res = match resp {
        Response::Error { kind, message } => return server_failure(kind, &message, args, out),
        Response::Status { mut status } => {
            if status.pause.is_some() {
                status.resume_hint = Some(target.resume_command());
            }
            if args.json {
                writeln!(out, "{}", json(&status))
            } else {
                write!(
                    out,
                    "{}",
                    render::status_table(&status, &target.resume_command(), SystemTime::now())
                )
            }
        }
        Response::Logs { lines } => print_lines(&lines, args, out),
        Response::QualityReport { report } => {
            let res = if args.json {
                writeln!(out, "{}", json(&report))
            } else {
                write!(out, "{}", render::quality_table(&report))
            };
            // A run below the floor is a failed check: scripts gate on the exit code.
            if res.is_ok() && report["ok"] == serde_json::Value::Bool(false) {
                return EXIT_FAILED;
            }
            res
        }
        Response::Jobs { data, .. } if args.json => writeln!(out, "{}", json(&data)),
        Response::Jobs { op, data } => write!(out, "{}", jobs_text(op, &data)),
        Response::AlertResults { results } => {
            let res = if args.json {
                writeln!(out, "{}", json(&results))
            } else {
                results.iter().try_for_each(|r| {
                    let mark = if r.ok { "ok    " } else { "FAILED" };
                    writeln!(out, "{mark} {}: {}", r.channel, r.message)
                })
            };
            if res.is_ok() && results.iter().any(|r| !r.ok) {
                return EXIT_FAILED;
            }
            res
        }
        r @ Response::Ok { .. } if args.json => writeln!(out, "{}", json(&r)),
        Response::Ok { message } => writeln!(out, "{message}"),
        other => return fail(EXIT_FAILED, &format!("unexpected answer: {}", json(&other))),
    };
    match res {
        Ok(()) => EXIT_OK,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(e) => fail(EXIT_FAILED, &format!("cannot write the answer: {e}")),
    }
}

fn jobs_text(op: JobsOp, data: &serde_json::Value) -> String {
    match op {
        JobsOp::List => crate::jobs::render::jobs_table(data),
        JobsOp::History => crate::jobs::render::history_table(data),
        JobsOp::Logs => data["lines"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|x| x.as_str())
                    .map(|x| format!("{x}\n"))
                    .collect()
            })
            .unwrap_or_default(),
        JobsOp::Run => format!("{}\n", data["message"].as_str().unwrap_or("queued")),
    }
}

fn print_lines(
    lines: &[crate::logs::LogLine],
    args: &CtlArgs,
    out: &mut impl Write,
) -> io::Result<()> {
    let both = !matches!(
        args.command,
        CtlCommand::Logs {
            stream: Some(_),
            ..
        }
    );
    for l in lines {
        if args.json {
            writeln!(out, "{}", json(l))?;
        } else {
            writeln!(out, "{}", render::log_line(l, both))?;
        }
    }
    Ok(())
}

fn run_stream(target: &Target, req: &Request, args: &CtlArgs, out: &mut impl Write) -> i32 {
    let first = Client::connect(&target.path, Some(args.timeout())).and_then(|mut c| {
        let first = c.call(req)?;
        c.wait_forever()?;
        Ok((c, first))
    });
    let (mut client, first) = match first {
        Ok(v) => v,
        Err(e) => return client_failure(&e),
    };
    let mut next = Some(first);
    loop {
        let resp = match next.take() {
            Some(r) => r,
            None => match client.recv() {
                Ok(Some(r)) => r,
                // clawvisor exited: the stream is over.
                Ok(None) => return EXIT_OK,
                Err(e) => return client_failure(&e),
            },
        };
        let res = match resp {
            Response::Error { kind, message } => return server_failure(kind, &message, args, out),
            Response::Logs { lines } => print_lines(&lines, args, out),
            Response::Line { line } => print_lines(std::slice::from_ref(&line), args, out),
            Response::Subscribed => {
                eprintln!(
                    "clawvisor ctl: watching events on {} (Ctrl-C to stop)",
                    target.path.display()
                );
                Ok(())
            }
            Response::Notice { notice } if args.json => writeln!(out, "{}", json(&notice)),
            Response::Notice { notice } => writeln!(out, "{}", render::notice_line(&notice)),
            Response::Lagged { missed } => {
                eprintln!("clawvisor ctl: fell behind, {missed} missed");
                Ok(())
            }
            other => return fail(EXIT_FAILED, &format!("unexpected answer: {}", json(&other))),
        };
        // Flush per message: a script reading the pipe wants each line as it happens.
        if let Err(e) = res.and_then(|()| out.flush()) {
            return if e.kind() == io::ErrorKind::BrokenPipe {
                EXIT_OK
            } else {
                fail(EXIT_FAILED, &format!("cannot write: {e}"))
            };
        }
    }
}

fn server_failure(kind: ErrorKind, message: &str, args: &CtlArgs, out: &mut impl Write) -> i32 {
    if args.json {
        let _ = writeln!(
            out,
            "{}",
            json(&Response::Error {
                kind,
                message: message.to_string()
            })
        );
    }
    fail(server_exit_code(kind), message)
}

fn client_failure(e: &ClientError) -> i32 {
    fail(client_exit_code(e), &e.to_string())
}

fn fail(code: i32, message: &str) -> i32 {
    eprintln!("clawvisor ctl: {message}");
    code
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("answers always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::exit_codes::EXIT_UNREACHABLE;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        ctl: CtlArgs,
    }

    fn parse(args: &[&str]) -> Result<CtlArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("ctl").chain(args.iter().copied())).map(|c| c.ctl)
    }

    #[test]
    fn global_flags_go_before_or_after_the_command() {
        let a = parse(&[
            "--socket",
            "/tmp/a.sock",
            "logs",
            "-n",
            "5",
            "--follow",
            "--stream",
            "err",
            "--json",
        ])
        .unwrap();
        assert_eq!(a.socket.as_deref(), Some(Path::new("/tmp/a.sock")));
        assert!(a.json);
        assert_eq!(
            a.command.to_request().unwrap(),
            Request::Logs {
                lines: 5,
                follow: true,
                stream: Some(Stream::Err)
            }
        );
        let b = parse(&["pause", "--reason", "new GPU driver", "--timeout", "5s"]).unwrap();
        assert_eq!(b.timeout(), Duration::from_secs(5));
        assert_eq!(
            b.command.to_request().unwrap(),
            Request::Pause {
                reason: Some("new GPU driver".into())
            }
        );
    }

    #[test]
    fn signal_names_are_checked_before_connecting() {
        let a = parse(&["signal", "sigusr2"]).unwrap();
        assert_eq!(
            a.command.to_request().unwrap(),
            Request::Signal {
                name: "USR2".into()
            }
        );
        let bad = parse(&["signal", "BOGUS"]).unwrap();
        assert!(
            bad.command
                .to_request()
                .unwrap_err()
                .contains("not a signal name")
        );
        assert_eq!(run_ctl(bad), EXIT_USAGE);
    }

    #[test]
    fn slow_commands_wait_longer_unless_told() {
        assert_eq!(parse(&["status"]).unwrap().timeout(), DEFAULT_TIMEOUT);
        let probe = parse(&["probe", "quality"]).unwrap();
        assert_eq!(probe.timeout(), PROBE_TIMEOUT);
        assert_eq!(
            probe.command.to_request().unwrap(),
            Request::Probe {
                kind: ProbeKind::Quality
            }
        );
        let probe = parse(&["probe", "quality", "--timeout", "2m"]).unwrap();
        assert_eq!(probe.timeout(), Duration::from_secs(120));
        let wait = parse(&["wait-idle", "--gpu-mem-free-above", "20GiB"]).unwrap();
        assert_eq!(wait.timeout(), WAIT_IDLE_TIMEOUT);
        assert_eq!(
            wait.command,
            CtlCommand::WaitIdle {
                gpu_util_below: Percent(90.0),
                gpu_mem_free_above: Some(Size::gib(20)),
                unknown_is_idle: false,
            }
        );
        assert!(parse(&["probe", "liveness"]).is_err());
        assert!(parse(&["wait-idle", "--gpu-util-below", "120"]).is_err());
    }

    #[test]
    fn usage_errors_are_clap_errors() {
        assert!(parse(&["explode"]).is_err());
        assert!(parse(&["logs", "--stream", "both"]).is_err());
        assert!(parse(&["status", "--timeout", "soon"]).is_err());
    }

    #[test]
    fn nothing_listening_is_exit_3() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("none.sock");
        let a = parse(&["--socket", sock.to_str().unwrap(), "status"]).unwrap();
        assert_eq!(run_ctl(a), EXIT_UNREACHABLE);
    }
}
