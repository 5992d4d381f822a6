//! `decide()`: the whole lifecycle policy in one pure function.
//!
//! No I/O, no clock reads: the state, one event and the time go in; the next state and the
//! actions to perform come out. Where a crash loop becomes a pause: [`paused_for_crash_loop`].

use std::time::Duration;

use crate::config::RestartPolicy;

use super::backoff;
use super::event::{Action, AlertAbout, Command, Event, Reaction};
use super::exit::{Exit, ExitRecord};
use super::pause::PauseRecord;
use super::restart_reason;
use super::state::{AfterStop, Now, Phase, State};

pub fn decide(state: &State, event: Event, now: Now) -> (State, Vec<Action>) {
    let mut s = state.clone();
    let mut out = Vec::new();
    match event {
        Event::Boot { persisted_pause } => match persisted_pause {
            Some(p) => {
                out.push(Action::Alert {
                    about: AlertAbout::Pause,
                    summary: format!(
                        "still paused since an earlier run: {}; the gateway stays down until `{}`",
                        p.reason, s.resume_hint
                    ),
                });
                s.pause = Some(p);
                s.phase = Phase::Paused;
            }
            None => start(&mut s, &mut out),
        },
        Event::Spawned { pid } => {
            if s.phase == Phase::Starting {
                s.started = Some(now.mono);
                s.phase = Phase::Running {
                    pid,
                    started_at: now.wall,
                    ready: false,
                };
                if std::mem::take(&mut s.restart_when_started) {
                    s.last_reason = Some("restart requested by `clawvisor ctl restart`".into());
                    s.pending_restart = "operator";
                    begin_stop(&mut s, &mut out, now, pid, AfterStop::Restart);
                }
            } else {
                // A child nobody wants any more (the plan changed while it was starting):
                // never leave it running unsupervised.
                s.restart_when_started = false;
                out.push(Action::KillTree { pid });
            }
        }
        Event::SpawnFailed { error } => {
            if s.phase == Phase::Starting {
                // The failure's own restart serves a pending `ctl restart`.
                s.restart_when_started = false;
                s.last_reason = Some(format!("cannot start the gateway: {error}"));
                s.pending_restart = "spawn_failed";
                on_failure(&mut s, &mut out, now, &error);
            }
        }
        Event::Exited { pid, exit } => on_exit(&mut s, &mut out, now, pid, exit),
        Event::Ready { pid } => {
            if let Phase::Running { pid: p, ready, .. } = &mut s.phase
                && *p == pid
            {
                *ready = true;
            }
        }
        Event::Tick => on_tick(&mut s, &mut out, now),
        Event::Shutdown { why } => shutdown(&mut s, &mut out, now, why),
        Event::Forward { signal } => {
            if let Some(pid) = s.phase.pid() {
                out.push(Action::Signal { pid, signal });
                if signal == libc::SIGUSR2 {
                    s.restart_requested = true;
                }
            }
        }
        Event::Reload(rules) => s.rules = *rules,
        Event::Command(cmd) => command(&mut s, &mut out, now, cmd),
        Event::Trouble {
            source,
            reason,
            reaction,
        } => trouble(&mut s, &mut out, now, source, reason, reaction),
        Event::Cleared { source, reason } => out.push(Action::Resolved {
            summary: format!("{source}: {reason}"),
            about: AlertAbout::Trouble { source },
        }),
    }
    (s, out)
}

fn start(s: &mut State, out: &mut Vec<Action>) {
    s.phase = Phase::Starting;
    out.push(Action::Spawn);
}

fn restart_now(s: &mut State, out: &mut Vec<Action>, reason: &'static str) {
    s.restarts += 1;
    *s.restarts_by_reason.entry(reason).or_default() += 1;
    start(s, out);
}

/// Ask the running child to stop; `then` says what follows its exit.
fn begin_stop(s: &mut State, out: &mut Vec<Action>, now: Now, pid: i32, then: AfterStop) {
    out.push(Action::Signal {
        pid,
        signal: s.rules.stop_signal.0 as i32,
    });
    s.phase = Phase::Stopping {
        pid,
        deadline: now.mono + s.rules.stop_timeout,
        killed: false,
        then,
    };
}

fn pause(s: &mut State, out: &mut Vec<Action>, now: Now, reason: String) {
    let record = PauseRecord {
        reason: reason.clone(),
        since: now.wall,
        last_exit: s.last_exit.clone(),
        last_lines: Vec::new(),
    };
    out.push(Action::SavePause(record.clone()));
    out.push(Action::Alert {
        about: AlertAbout::Pause,
        summary: format!("paused: {reason}; resume with `{}`", s.resume_hint),
    });
    s.pause = Some(record);
    match s.phase.clone() {
        Phase::Running { pid, .. } => begin_stop(s, out, now, pid, AfterStop::Pause),
        Phase::Stopping { .. } => set_after_stop(s, AfterStop::Pause),
        _ => s.phase = Phase::Paused,
    }
}

fn set_after_stop(s: &mut State, next: AfterStop) {
    if let Phase::Stopping { then, .. } = &mut s.phase {
        // Exiting wins over everything; otherwise the latest request wins.
        if *then != AfterStop::Exit {
            *then = next;
        }
    }
}

fn is_success(s: &State, exit: Exit) -> bool {
    match exit {
        Exit::Code(c) => s.rules.restart.success_exit_codes.contains(&c),
        Exit::Signal(n) => s
            .rules
            .restart
            .success_signals
            .iter()
            .any(|sig| sig.0 as i32 == n),
    }
}

fn on_exit(s: &mut State, out: &mut Vec<Action>, now: Now, pid: i32, exit: Exit) {
    let stop_then = match s.phase {
        Phase::Running { pid: p, .. } if p == pid => None,
        Phase::Stopping { pid: p, then, .. } if p == pid => Some(then),
        // A stale or unknown pid: not our gateway.
        _ => return,
    };
    let uptime = s
        .started
        .map_or(Duration::ZERO, |t| now.mono.saturating_duration_since(t));
    s.last_exit = Some(ExitRecord {
        pid,
        exit,
        at: now.wall,
        uptime,
    });
    out.push(Action::KillStragglers);
    // The child is gone; every branch below sets what comes next.
    s.phase = Phase::Down;

    if let Some(then) = stop_then {
        match then {
            AfterStop::Restart => restart_now(s, out, s.pending_restart),
            AfterStop::Exit => {
                let code = exit.as_exit_code();
                s.phase = Phase::Exiting { code };
                out.push(Action::Exit { code });
            }
            AfterStop::Pause => s.phase = Phase::Paused,
            AfterStop::Hold => s.phase = Phase::Down,
        }
        return;
    }

    let success = is_success(s, exit);
    if std::mem::take(&mut s.restart_requested) && success {
        // The gateway asked to be restarted (SIGUSR2 in external-supervisor mode): not a crash.
        out.push(Action::Alert {
            about: AlertAbout::Restart,
            summary: format!("gateway exited after a restart request ({exit}); restarting now"),
        });
        restart_now(s, out, "requested");
        return;
    }
    if let Exit::Code(c) = exit
        && s.rules.restart.pause_on_exit_codes.contains(&c)
    {
        let hint = if c == 78 {
            " (EX_CONFIG: the gateway's config is invalid or its state dir is in use; restarting cannot help)"
        } else {
            " (listed in restart.pause_on_exit_codes)"
        };
        pause(s, out, now, format!("gateway exited with code {c}{hint}"));
        return;
    }
    let restart = match s.rules.restart.policy {
        RestartPolicy::Always => true,
        RestartPolicy::OnFailure => !success,
        RestartPolicy::Never => false,
    };
    if !restart {
        let code = exit.as_exit_code();
        let summary = if s.rules.restart.policy == RestartPolicy::OnFailure {
            format!(
                "gateway ended cleanly ({exit}); restart.policy = \"on-failure\" restarts only after a failure, so clawvisor exits too"
            )
        } else {
            format!("gateway ended ({exit}); restart.policy = \"never\": clawvisor exits too")
        };
        out.push(Action::Alert {
            about: AlertAbout::Exit,
            summary,
        });
        s.phase = Phase::Exiting { code };
        out.push(Action::Exit { code });
        return;
    }
    if uptime >= s.rules.restart.backoff.reset_after.get() {
        s.failures = 0;
    }
    s.pending_restart = restart_reason::of_exit(exit);
    on_failure(s, out, now, &exit.to_string());
}

/// A failure (crash, failed spawn): back off, or pause when it has become a crash loop.
fn on_failure(s: &mut State, out: &mut Vec<Action>, now: Now, what: &str) {
    if paused_for_crash_loop(s, out, now, what) {
        return;
    }
    s.failures = s.failures.saturating_add(1);
    let base = backoff::base_delay(&s.rules.restart.backoff, s.failures);
    let unit = backoff::next_unit(&mut s.rng);
    let delay = backoff::with_jitter(base, s.rules.restart.backoff.jitter, unit);
    out.push(Action::Alert {
        about: AlertAbout::Crash,
        summary: format!(
            "gateway failed ({what}); restart {} in {}",
            s.failures,
            fmt_delay(delay)
        ),
    });
    s.phase = Phase::Backoff {
        until: now.mono + delay,
        delay,
    };
}

/// Counts a failure in the crash-loop window and pauses when it exceeds the limit. This is
/// where a crash loop becomes a pause.
fn paused_for_crash_loop(s: &mut State, out: &mut Vec<Action>, now: Now, what: &str) -> bool {
    let Some(n) = record_crash(s, now) else {
        return false;
    };
    let window = humantime::format_duration(s.rules.restart.window.get());
    let reason = format!("crash loop: {n} failures within {window} (last: {what})");
    pause(s, out, now, reason);
    true
}

/// Counts a failure in the crash-loop window; returns the count when it exceeds the limit.
fn record_crash(s: &mut State, now: Now) -> Option<usize> {
    let window = s.rules.restart.window.get();
    s.crashes.push_back(now.mono);
    while let Some(&t) = s.crashes.front() {
        if now.mono.saturating_duration_since(t) > window {
            s.crashes.pop_front();
        } else {
            break;
        }
    }
    let n = s.crashes.len();
    (n > s.rules.restart.max_restarts as usize).then_some(n)
}

fn fmt_delay(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

fn on_tick(s: &mut State, out: &mut Vec<Action>, now: Now) {
    match s.phase {
        Phase::Backoff { until, .. } if now.mono >= until => restart_now(s, out, s.pending_restart),
        Phase::Stopping {
            pid,
            deadline,
            killed: false,
            then,
        } if now.mono >= deadline => {
            out.push(Action::Alert {
                about: AlertAbout::Stop,
                summary: format!(
                    "gateway did not stop within {}; sending SIGKILL to its process tree",
                    humantime::format_duration(s.rules.stop_timeout)
                ),
            });
            kill_now(s, out, now, pid, then);
        }
        Phase::Stopping {
            pid,
            deadline,
            killed: true,
            ..
        } if now.mono >= deadline + super::state::KILL_GRACE => {
            // SIGKILL was not reaped in time (a process stuck in the kernel): go on without it.
            out.push(Action::Alert {
                about: AlertAbout::Stop,
                summary: format!("gateway pid {pid} survived SIGKILL; giving up on it"),
            });
            on_exit(s, out, now, pid, Exit::Signal(libc::SIGKILL));
        }
        _ => {}
    }
}

/// SIGKILL the stopping child's tree now; its exit (or `KILL_GRACE`) is awaited next.
fn kill_now(s: &mut State, out: &mut Vec<Action>, now: Now, pid: i32, then: AfterStop) {
    out.push(Action::KillTree { pid });
    s.phase = Phase::Stopping {
        pid,
        deadline: now.mono,
        killed: true,
        then,
    };
}

fn shutdown(s: &mut State, out: &mut Vec<Action>, now: Now, why: String) {
    s.last_reason = Some(why);
    match s.phase.clone() {
        Phase::Running { pid, .. } => begin_stop(s, out, now, pid, AfterStop::Exit),
        Phase::Stopping {
            pid, then, killed, ..
        } => {
            if then == AfterStop::Exit && !killed {
                // Asked twice: do not wait out the timeout.
                kill_now(s, out, now, pid, then);
            } else {
                set_after_stop(s, AfterStop::Exit);
            }
        }
        Phase::Exiting { .. } => {}
        // Nothing is running: exit now. A pause stays persisted for the next run.
        _ => {
            s.phase = Phase::Exiting { code: 0 };
            out.push(Action::Exit { code: 0 });
        }
    }
}

fn command(s: &mut State, out: &mut Vec<Action>, now: Now, cmd: Command) {
    let reply = |out: &mut Vec<Action>, r: Result<&str, String>| {
        out.push(Action::Reply(r.map(str::to_string)));
    };
    let paused_err = || {
        format!(
            "paused ({}): run `{}` first",
            s.pause.as_ref().map_or("no reason", |p| p.reason.as_str()),
            s.resume_hint
        )
    };
    match (cmd, s.phase.clone()) {
        (_, Phase::Exiting { .. }) => reply(out, Err("clawvisor is shutting down".into())),
        (Command::Pause { reason }, phase) => {
            if phase == Phase::Paused {
                return reply(out, Err("already paused".into()));
            }
            if let Some(p) = &s.pause {
                // A pause is stopping the gateway: its reason (often a person's) stands.
                let msg = format!("already pausing (stopping the gateway): {}", p.reason);
                return reply(out, Err(msg));
            }
            let reason = reason.unwrap_or_else(|| "paused by `clawvisor ctl pause`".into());
            pause(s, out, now, reason);
            reply(out, Ok("paused"));
        }
        (Command::Resume, Phase::Paused) => {
            s.pause = None;
            s.failures = 0;
            s.crashes.clear();
            out.push(Action::ClearPause);
            restart_now(s, out, "operator");
            reply(out, Ok("resumed: starting the gateway"));
        }
        (Command::Resume, Phase::Down) => {
            start(s, out);
            reply(out, Ok("starting the gateway"));
        }
        (Command::Resume, Phase::Stopping { .. }) if s.pause.is_some() => {
            s.pause = None;
            s.failures = 0;
            s.crashes.clear();
            out.push(Action::ClearPause);
            s.pending_restart = "operator";
            set_after_stop(s, AfterStop::Restart);
            reply(
                out,
                Ok("resumed: the gateway starts once the old one has stopped"),
            );
        }
        (Command::Resume, _) => reply(out, Err("not paused".into())),
        (Command::Restart | Command::Start, Phase::Paused) => reply(out, Err(paused_err())),
        (Command::Restart, Phase::Running { pid, .. }) => {
            s.last_reason = Some("restart requested by `clawvisor ctl restart`".into());
            s.pending_restart = "operator";
            begin_stop(s, out, now, pid, AfterStop::Restart);
            reply(out, Ok("restarting"));
        }
        (Command::Restart | Command::Start, Phase::Backoff { .. } | Phase::Down) => {
            restart_now(s, out, "operator");
            reply(out, Ok("starting the gateway"));
        }
        (Command::Restart, Phase::Stopping { .. }) => {
            s.pending_restart = "operator";
            set_after_stop(s, AfterStop::Restart);
            reply(out, Ok("restarting once the gateway has stopped"));
        }
        (Command::Restart, Phase::Starting) => {
            s.restart_when_started = true;
            reply(out, Ok("restarting once the gateway has started"));
        }
        (Command::Start, Phase::Starting) => reply(out, Ok("the gateway is starting")),
        (Command::Start, _) => reply(out, Err("the gateway is already running".into())),
        (Command::Stop, Phase::Running { pid, .. }) => {
            begin_stop(s, out, now, pid, AfterStop::Hold);
            reply(
                out,
                Ok("stopping; it stays down until `clawvisor ctl start`"),
            );
        }
        (Command::Stop, Phase::Stopping { .. }) => {
            set_after_stop(s, AfterStop::Hold);
            reply(out, Ok("stopping"));
        }
        (Command::Stop, Phase::Backoff { .. }) => {
            s.phase = Phase::Down;
            reply(
                out,
                Ok("restart cancelled; it stays down until `clawvisor ctl start`"),
            );
        }
        (Command::Stop, _) => reply(out, Err("the gateway is not running".into())),
    }
}

fn trouble(
    s: &mut State,
    out: &mut Vec<Action>,
    now: Now,
    source: String,
    reason: String,
    reaction: Reaction,
) {
    let what = format!("{source}: {reason}");
    match reaction {
        Reaction::Alert => out.push(Action::Alert {
            about: AlertAbout::Trouble { source },
            summary: what,
        }),
        Reaction::Pause => {
            if s.phase != Phase::Paused && !matches!(s.phase, Phase::Exiting { .. }) {
                pause(s, out, now, what);
            }
        }
        Reaction::Restart => {
            let Phase::Running { pid, .. } = s.phase else {
                return;
            };
            s.last_reason = Some(what.clone());
            s.pending_restart = restart_reason::of_source(&source);
            // A rule-driven restart counts towards the crash loop: a gateway that keeps
            // tripping the same rule is paused for a person instead of restarted forever.
            if paused_for_crash_loop(s, out, now, &what) {
                return;
            }
            out.push(Action::Alert {
                about: AlertAbout::Restart,
                summary: format!("restarting the gateway: {what}"),
            });
            begin_stop(s, out, now, pid, AfterStop::Restart);
        }
    }
}
