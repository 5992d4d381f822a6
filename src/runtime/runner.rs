//! The imperative shell: owns the state, feeds events to `decide()`, executes its actions.
//! It never awaits the network or a slow disk: slow work runs on other tasks or threads.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::alerts::{Alert, AlertRouter, HookRunner};
use crate::config::Config;
use crate::logs::{FileOwner, LogPipeline, Options as LogOptions};
use std::sync::Arc;

use crate::config::resolve_credentials;
use crate::health::CommandRunner;
use crate::process::aux::{AuxRunner, AuxSet};
use crate::process::leftover::{self, ChildRecord, Verdict};
use crate::process::ops::{ProcessOps, RealOps};
use crate::process::reaper::Reaper;
use crate::process::signals;
use crate::process::spawn::{ChildSpec, Spawner};

use super::alerting::{self, GATEWAY};
use crate::supervisor::GatewayView;
use crate::supervisor::PauseRecord;
use crate::supervisor::Status;
use crate::supervisor::decide;
use crate::supervisor::persist::{self, StateWriter};
use crate::supervisor::start_job::{EXTEND_EVERY, StartJob, start_job};
use crate::supervisor::{Action, Event};
use crate::supervisor::{Inbox, Input};
use crate::supervisor::{Notice, NoticeSender};
use crate::supervisor::{Now, Phase, Rules, State};

/// Lines of output kept in a pause record.
const PAUSE_LINES: usize = 50;
/// How long stragglers get between SIGTERM and SIGKILL.
const STRAGGLER_GRACE: Duration = Duration::from_secs(2);
/// How long an exit waits for the child's last lines to reach the log pipeline.
const LOG_SETTLE: Duration = Duration::from_millis(250);
/// How long reading state.json at start may take (a hung mount blocks it for good).
const STATE_LOAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the members of a group left by an earlier clawvisor get to die after SIGKILL.
const LEFTOVER_WAIT: Duration = Duration::from_secs(2);
/// How long the log pipeline gets to write the child's last lines at exit.
const LOG_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Everything the runner drives; built by [`Runner::start`].
pub struct Runner {
    cfg: Config,
    state: State,
    inbox: Inbox,
    rx: mpsc::UnboundedReceiver<Input>,
    ops: Arc<dyn ProcessOps>,
    logs: LogPipeline,
    notices: NoticeSender,
    child_pid: watch::Sender<Option<i32>>,
    reply: Option<oneshot::Sender<Result<String, String>>>,
    exit_code: Option<i32>,
    notified_ready: bool,
    /// When clawvisor started: the start job's extensions are bounded from here.
    booted_at: std::time::Instant,
    /// Under systemd (NOTIFY_SOCKET set): when STATUS= (and, during the start job,
    /// EXTEND_TIMEOUT_USEC) is next refreshed while the gateway loads or backs off.
    next_progress: Option<std::time::Instant>,
    state_writer: StateWriter,
    /// Why the last write of state.json failed, until one succeeds: a pause that is not
    /// saved does not survive a restart of clawvisor, and status and replies say so.
    state_file_error: Option<String>,
    /// A write failed while handling the current command (its reply says so).
    save_failed_now: bool,
    /// The gateway started last, kept in the state dir until clawvisor exits cleanly, so a
    /// clawvisor killed meanwhile lets the next one end what is left of its group.
    child_record: Option<ChildRecord>,
    watchers: super::watchers::Watchers,
    /// What scheduled jobs see of the gateway; `epoch` moves at every start, exit and
    /// forwarded SIGUSR2.
    view: watch::Sender<GatewayView>,
    epoch: u64,
    alerts: AlertRouter,
}

/// Handles other parts (control socket, watchers) need from the runner.
pub struct Parts {
    pub inbox: Inbox,
    pub logs: LogPipeline,
    pub notices: NoticeSender,
    /// The gateway as scheduled jobs see it.
    pub gateway: watch::Receiver<GatewayView>,
    /// Shared readings (GPU for job gates; jobs publish their own part there).
    pub readings: crate::watch::readings::Readings,
    /// Spawner, reaper and auxiliary-pid set, for scheduled jobs (None on a test's fake ops).
    pub aux: Option<AuxRunner>,
}

impl Runner {
    /// Sets up the reaper, signal handling, subreaper status and the log pipeline.
    pub fn start(cfg: Config) -> Result<(Runner, Parts), String> {
        crate::process::become_subreaper();
        let reaper = Reaper::start().map_err(|e| {
            format!(
                "cannot install the SIGCHLD handler: {}",
                crate::process::limits::explain(&e)
            )
        })?;
        let aux = AuxRunner {
            spawner: Spawner::start(reaper.clone()),
            reaper,
            aux: AuxSet::default(),
        };
        let ops = Arc::new(RealOps {
            spawner: aux.spawner.clone(),
            reaper: aux.reaper.clone(),
            aux: aux.aux.clone(),
        });
        let hooks: Arc<dyn HookRunner> = Arc::new(aux.clone());
        let (runner, mut parts) = Runner::start_full(cfg, ops, Arc::new(aux.clone()), Some(hooks))?;
        parts.aux = Some(aux);
        signals::start(parts.inbox.clone()).map_err(|e| {
            format!(
                "cannot install signal handlers: {}",
                crate::process::limits::explain(&e)
            )
        })?;
        Ok((runner, parts))
    }

    /// The runner on given process operations (the real ones, or a test's fake) and a
    /// runner for auxiliary commands (exec probes). No OS signal handling.
    pub fn start_with(
        cfg: Config,
        ops: Arc<dyn ProcessOps>,
        commands: Arc<dyn CommandRunner>,
    ) -> Result<(Runner, Parts), String> {
        Runner::start_full(cfg, ops, commands, None)
    }

    /// As [`Runner::start_with`], plus the runner of alert hooks (exec channels).
    pub fn start_full(
        cfg: Config,
        ops: Arc<dyn ProcessOps>,
        commands: Arc<dyn CommandRunner>,
        hooks: Option<Arc<dyn HookRunner>>,
    ) -> Result<(Runner, Parts), String> {
        let (inbox, rx) = Inbox::channel();
        let alerts = AlertRouter::start(&cfg.alerts, hooks);
        // Log files belong to the gateway's user, when it has one.
        let owner = resolve_credentials(cfg.gateway.user.as_deref(), cfg.gateway.group.as_deref())?
            .map(|c| FileOwner {
                uid: c.uid.as_raw(),
                gid: c.gid.as_raw(),
            });
        let opts = LogOptions {
            owner,
            clock: None,
            stem: None,
        };
        let logs = LogPipeline::start_with(&cfg.logs, inbox.clone(), opts)
            .map_err(|e| format!("logs.dir {}: {e}", cfg.logs.dir.display()))?;
        let (notices, _) = broadcast::channel(256);
        let (child_tx, child_rx) = watch::channel(None);
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id());
        let mut state = State::new(Rules::new(&cfg.restart, &cfg.stop), seed);
        state.resume_hint =
            super::hint::resume_command(cfg.source.as_deref(), cfg.control.socket.as_deref());
        let watchers =
            super::watchers::Watchers::start_with_runner(&cfg, inbox.clone(), child_rx, commands);
        let (view, gateway) = watch::channel(GatewayView::default());
        let parts = Parts {
            inbox: inbox.clone(),
            logs: logs.clone(),
            notices: notices.clone(),
            gateway,
            readings: watchers.readings(),
            aux: None,
        };
        Ok((
            Runner {
                cfg,
                state,
                inbox,
                rx,
                ops,
                logs,
                notices,
                child_pid: child_tx,
                reply: None,
                exit_code: None,
                notified_ready: false,
                booted_at: std::time::Instant::now(),
                next_progress: std::env::var_os("NOTIFY_SOCKET").map(|_| std::time::Instant::now()),
                state_writer: StateWriter::start(),
                state_file_error: None,
                save_failed_now: false,
                child_record: None,
                watchers,
                view,
                epoch: 0,
                alerts,
            },
            parts,
        ))
    }

    /// Runs until clawvisor should exit; returns its exit code.
    pub async fn run(mut self) -> i32 {
        let persisted_pause = match load_state(&self.cfg.state.dir).await {
            Ok(p) => p.pause.map(PauseRecord::capped),
            Err(e) => {
                tracing::error!("{e}");
                // Never run blindly past a record we cannot read: a person should look.
                Some(
                    PauseRecord {
                        reason: format!("state file unreadable ({e}); check it, then resume"),
                        since: SystemTime::now(),
                        last_exit: None,
                        last_lines: Vec::new(),
                    }
                    .capped(),
                )
            }
        };
        self.end_leftover().await;
        self.handle(Event::Boot { persisted_pause }).await;
        // systemd's watchdog (WatchdogSec=): pinged from this loop, so a wedged brain is
        // restarted by systemd. Half the interval, as sd_watchdog_enabled(3) advises.
        let watchdog = sd_notify::watchdog_enabled().map(|d| d / 2);
        let mut next_ping = tokio::time::Instant::now();
        while self.exit_code.is_none() {
            if let Some(every) = watchdog
                && tokio::time::Instant::now() >= next_ping
            {
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
                next_ping = tokio::time::Instant::now() + every;
            }
            let wake = [
                self.state.next_deadline(),
                watchdog.map(|_| next_ping.into_std()),
                self.next_progress,
            ]
            .into_iter()
            .flatten()
            .min();
            let input = tokio::select! {
                i = self.rx.recv() => match i {
                    Some(i) => i,
                    None => break,
                },
                _ = sleep_until(wake) => Input::Event(Event::Tick),
            };
            self.on_input(input).await;
            self.report_progress();
        }
        self.finish().await
    }

    async fn on_input(&mut self, input: Input) {
        match input {
            Input::Event(e @ Event::Exited { pid, exit }) => {
                tracing::info!(pid, "gateway exited ({exit})");
                // Its last lines (often the reason it died) reach the ring before anything
                // (a pause record, an alert) is built from the exit.
                let logs = self.logs.clone();
                let _ = tokio::task::spawn_blocking(move || logs.settle(LOG_SETTLE)).await;
                self.handle(e).await
            }
            Input::Event(e) => self.handle(e).await,
            Input::Command { command, reply } => {
                self.reply = Some(reply);
                self.save_failed_now = false;
                self.handle(Event::Command(command)).await;
                if let Some(r) = self.reply.take() {
                    let _ = r.send(Err("no answer".into()));
                }
            }
            Input::Status { reply } => {
                let _ = reply.send(self.status());
            }
            Input::Reload { reply } => {
                let result = self.reload().await;
                if let Some(r) = reply {
                    let _ = r.send(result);
                }
            }
            Input::Signal { signal } => {
                if self
                    .cfg
                    .gateway
                    .forward_signals
                    .iter()
                    .any(|s| s.0 as i32 == signal)
                {
                    self.handle(Event::Forward { signal }).await;
                } else {
                    tracing::info!(
                        signal,
                        "ignoring a signal not listed in gateway.forward_signals"
                    );
                }
            }
            Input::Shutdown { why } => self.handle(Event::Shutdown { why }).await,
            // Only while a start is still wanted: the plan may have changed meanwhile.
            Input::SpawnNow if self.state.phase == Phase::Starting => {
                let spawned = self.spawn().await;
                self.handle(spawned).await;
            }
            Input::SpawnNow => {}
            Input::AlertTest { channel, reply } => {
                let alerts = self.alerts.clone();
                tokio::spawn(async move {
                    let _ = reply.send(alerts.test(channel).await);
                });
            }
            Input::ProbeQuality { reply } => {
                let run = self.watchers.run_quality_now();
                tokio::spawn(async move {
                    let _ = reply.send(run.await);
                });
            }
        }
    }

    /// Feeds one event to `decide()` and executes the actions, including the events those
    /// actions produce at once (a spawn's result).
    async fn handle(&mut self, event: Event) {
        let mut events = VecDeque::from([event]);
        while let Some(ev) = events.pop_front() {
            let before = self.state.phase.name();
            if matches!(ev, Event::Spawned { .. } | Event::Exited { .. })
                || ev
                    == (Event::Forward {
                        signal: libc::SIGUSR2,
                    })
            {
                self.epoch += 1;
            }
            let (was_paused, was_ready) = (self.state.pause.is_some(), self.is_ready());
            let (next, actions) = decide(&self.state, ev, Now::real());
            self.state = next;
            for a in actions {
                if let Some(follow) = self.execute(a).await {
                    events.push_back(follow);
                }
            }
            let after = self.state.phase.name();
            if before != after {
                self.on_phase_change(before, after);
            } else if !was_ready && self.is_ready() {
                let status = self.status_line();
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(&status)]);
            }
            self.raise_recoveries(was_paused, was_ready);
            self.notify_start_job();
            let view = GatewayView::of(&self.state, self.epoch);
            self.view
                .send_if_modified(|v| std::mem::replace(v, view) != view);
        }
    }

    async fn execute(&mut self, action: Action) -> Option<Event> {
        match action {
            Action::Spawn if self.state.restarts == 0 => return Some(self.spawn().await),
            Action::Spawn => {
                // A respawn waits (bounded by gpu.release_timeout) until the old tree's GPU
                // memory is free, off the brain's task; `Input::SpawnNow` comes back after.
                let released = self.watchers.wait_gpu_released();
                let inbox = self.inbox.clone();
                tokio::spawn(async move {
                    released.await;
                    inbox.send(Input::SpawnNow);
                });
            }
            Action::Signal { pid, signal } => self.ops.signal_group(pid, signal),
            Action::KillTree { pid } => self.ops.kill_tree(pid),
            Action::KillStragglers => {
                let _ = self.child_pid.send(None);
                let pids = self.ops.stragglers();
                let ops = self.ops.clone();
                // Off the supervisor task: the grace period must not hold the brain.
                tokio::task::spawn_blocking(move || ops.end_stragglers(pids, STRAGGLER_GRACE));
            }
            Action::SavePause(mut record) => {
                record.last_lines = self
                    .logs
                    .tail(PAUSE_LINES, None)
                    .into_iter()
                    .map(|l| format!("[{}] {}", l.stream.name(), l.text))
                    .collect();
                let record = record.capped();
                self.state.pause = Some(record.clone());
                self.save_state(Some(record));
            }
            Action::ClearPause => self.save_state(None),
            Action::Alert { about, summary } => {
                tracing::warn!("{summary}");
                self.alerts.raise(alerting::alert_for(
                    &about,
                    summary.clone(),
                    &self.state,
                    &self.state.resume_hint,
                ));
                self.notice("alert", summary);
            }
            Action::Resolved { about, summary } => {
                tracing::info!("{summary}");
                self.alerts
                    .raise(alerting::resolved_for(&about, summary.clone()));
                self.notice("recovered", summary);
            }
            Action::Reply(r) => {
                let r = match (r, &self.state_file_error) {
                    (Ok(msg), Some(e)) if self.save_failed_now => {
                        let what = if self.state.pause.is_some() {
                            "the pause"
                        } else {
                            "clearing the pause"
                        };
                        Ok(format!(
                            "{msg}; but {what} could not be saved ({e}): it will not survive a restart of clawvisor"
                        ))
                    }
                    (r, _) => r,
                };
                if let Some(tx) = self.reply.take() {
                    let _ = tx.send(r);
                }
            }
            Action::Exit { code } => self.exit_code = Some(code),
        }
        None
    }

    /// A pause cleared (resume) or a gateway ready again ends those conditions' alerts.
    fn raise_recoveries(&self, was_paused: bool, was_ready: bool) {
        if was_paused && self.state.pause.is_none() {
            self.alerts.raise(Alert::resolved(
                "pause",
                GATEWAY,
                "resumed: the gateway is starting again",
            ));
        }
        if !was_ready && self.is_ready() {
            let pid = self.state.phase.pid().unwrap_or_default();
            for kind in ["crash", "restart"] {
                self.alerts.raise(Alert::resolved(
                    kind,
                    GATEWAY,
                    format!("the gateway (pid {pid}) is ready again"),
                ));
            }
        }
    }

    /// Before the first start: ends what is left of the group of the gateway an earlier
    /// clawvisor started and never stopped (it was killed), once /proc confirms the record
    /// names a group of ours. A record that names anything else kills nothing and is said.
    async fn end_leftover(&mut self) {
        let ops = self.ops.clone();
        let dir = self.cfg.state.dir.clone();
        // Only the gateway's own user's processes can be its leftovers.
        let uid = resolve_credentials(
            self.cfg.gateway.user.as_deref(),
            self.cfg.gateway.group.as_deref(),
        )
        .ok()
        .flatten()
        .map_or_else(nix::unistd::getuid, |c| c.uid)
        .as_raw();
        let work = tokio::task::spawn_blocking(move || {
            let rec = leftover::load_record(&dir)?;
            Ok::<_, String>(rec.map(|r| (r.pid, ops.end_leftover(&r, uid, LEFTOVER_WAIT))))
        });
        // Bounded: a hung state dir must not hold the first start for ever.
        let verdict = match tokio::time::timeout(STATE_LOAD_TIMEOUT, work).await {
            Ok(Ok(Ok(Some(v)))) => v,
            Ok(Ok(Ok(None))) => return,
            Ok(Ok(Err(e))) => return tracing::warn!("{e}"),
            Ok(Err(e)) => return tracing::warn!("checking the last run's gateway failed: {e}"),
            Err(_) => return tracing::warn!("checking the last run's gateway timed out"),
        };
        let file = leftover::record_path(&self.cfg.state.dir);
        match verdict {
            (pid, Verdict::Ended { pids, survivors }) => {
                let msg = format!(
                    "ended {} process(es) left in the group of gateway pid {pid} by an earlier clawvisor that did not stop it",
                    pids.len()
                );
                tracing::warn!(pid, ?pids, ?survivors, "{msg}");
                self.notice("leftover", msg);
            }
            (pid, Verdict::Gone) => {
                tracing::info!(pid, "nothing is left of the last run's gateway group");
            }
            (pid, Verdict::NotOurs(why)) => tracing::warn!(
                pid,
                "{} names pid {pid} as the last gateway, but {why}: nothing killed",
                file.display()
            ),
        }
    }

    async fn spawn(&mut self) -> Event {
        let spec = match ChildSpec::for_gateway(&self.cfg.gateway, &self.cfg.secret_env_vars()) {
            Ok(s) => s,
            Err(error) => return Event::SpawnFailed { error },
        };
        match self.ops.spawn(spec).await {
            Ok(child) => {
                let pid = child.pid;
                self.logs.attach(child.stdout, child.stderr);
                let exited = self.ops.exited(pid);
                let inbox = self.inbox.clone();
                tokio::spawn(async move {
                    if let Ok(exit) = exited.await {
                        inbox.event(Event::Exited { pid, exit });
                    }
                });
                let _ = self.child_pid.send(Some(pid));
                if let Some(rec) = self.ops.record(pid) {
                    self.child_record = Some(rec.clone());
                    let dir = self.cfg.state.dir.clone();
                    self.state_writer.post(
                        &self.cfg.state.dir,
                        Box::new(move || leftover::save_record(&dir, Some(&rec))),
                    );
                }
                if !self.watchers.gates_readiness() {
                    // No probe says when it answers: running is as ready as we can know.
                    self.inbox.event(Event::Ready { pid });
                }
                tracing::info!(pid, command = ?self.cfg.gateway.command, "gateway started");
                self.notice("spawn", format!("gateway started, pid {pid}"));
                Event::Spawned { pid }
            }
            Err(e) => Event::SpawnFailed {
                error: e.to_string(),
            },
        }
    }

    fn on_phase_change(&mut self, before: &str, after: &str) {
        let detail = match &self.state.phase {
            Phase::Running { pid, .. } => format!("pid {pid}"),
            Phase::Backoff { delay, .. } => format!("restart in {:.1}s", delay.as_secs_f64()),
            Phase::Paused => self.state.pause.as_ref().map_or(String::new(), |p| {
                format!("{}; resume with `{}`", p.reason, self.state.resume_hint)
            }),
            Phase::Stopping { then, .. } => format!("then {}", format!("{then:?}").to_lowercase()),
            Phase::Exiting { code } => format!("exit code {code}"),
            _ => String::new(),
        };
        let sep = if detail.is_empty() { "" } else { ": " };
        let change = format!("{before} -> {after}{sep}{detail}");
        tracing::info!(from = before, to = after, "{change}");
        self.notice("state", change);
        let status = self.status_line();
        let mut states = vec![sd_notify::NotifyState::Status(&status)];
        if matches!(self.state.phase, Phase::Exiting { .. }) {
            states.push(sd_notify::NotifyState::Stopping);
        }
        let _ = sd_notify::notify(&states);
    }

    fn is_ready(&self) -> bool {
        matches!(self.state.phase, Phase::Running { ready: true, .. })
    }

    /// What STATUS= says: the phase and what is happening in it ("running: pid 42, loading
    /// 42s", "paused: ...; resume with `clawvisor ctl resume`").
    fn status_line(&self) -> String {
        let now = std::time::Instant::now();
        let s = &self.state;
        match &s.phase {
            Phase::Running {
                pid, ready: true, ..
            } => format!("running: pid {pid}, ready"),
            Phase::Running { pid, .. } => {
                let loading = s
                    .started
                    .map_or(0, |t| now.saturating_duration_since(t).as_secs());
                format!("running: pid {pid}, loading {loading}s (not ready yet)")
            }
            Phase::Backoff { until, .. } => format!(
                "backoff: restart in {:.0}s{}",
                until.saturating_duration_since(now).as_secs_f64().ceil(),
                s.last_exit
                    .as_ref()
                    .map_or(String::new(), |e| format!(" (last: {})", e.exit))
            ),
            Phase::Paused => s.pause.as_ref().map_or("paused".into(), |p| {
                format!("paused: {}; resume with `{}`", p.reason, s.resume_hint)
            }),
            Phase::Stopping { pid, then, .. } => format!(
                "stopping: pid {pid}, then {}",
                format!("{then:?}").to_lowercase()
            ),
            Phase::Exiting { code } => format!("exiting: exit code {code}"),
            Phase::Starting => "starting".into(),
            Phase::Down => "stopped: start with `clawvisor ctl start`".into(),
        }
    }

    /// systemd's start job (Type=notify): READY=1 once the gateway is ready, or at once when
    /// clawvisor settles waiting for a person (a pause), or when the start-up grace has run
    /// out; until then EXTEND_TIMEOUT_USEC, renewed by `report_progress`. See `start_job`.
    fn notify_start_job(&mut self) {
        if self.notified_ready {
            return;
        }
        let grace = self.cfg.probes.startup_timeout.get();
        let since_boot = self.booted_at.elapsed();
        match start_job(&self.state.phase, since_boot, grace, self.cfg.systemd.ready) {
            StartJob::Ready(why) => {
                self.notified_ready = true;
                if let Phase::Running {
                    pid, ready: true, ..
                } = self.state.phase
                {
                    self.notice("ready", format!("gateway pid {pid} is ready"));
                }
                let status = self.status_line();
                tracing::info!("start-up complete ({why}): {status}");
                let _ = sd_notify::notify(&[
                    sd_notify::NotifyState::Ready,
                    sd_notify::NotifyState::Status(&status),
                ]);
            }
            StartJob::Extend(by) => {
                let now = std::time::Instant::now();
                if self.next_progress.is_some_and(|t| now >= t) {
                    let status = self.status_line();
                    let usec = u32::try_from(by.as_micros()).unwrap_or(u32::MAX);
                    let _ = sd_notify::notify(&[
                        sd_notify::NotifyState::ExtendTimeoutUsec(usec),
                        sd_notify::NotifyState::Status(&status),
                    ]);
                    self.next_progress = Some(now + EXTEND_EVERY.min(by / 2));
                }
            }
        }
    }

    /// Under systemd, keeps STATUS= current while the gateway loads or backs off (and the
    /// start job extended); called after every input, including the wake-up it asked for.
    fn report_progress(&mut self) {
        let Some(at) = self.next_progress else {
            return;
        };
        if !self.notified_ready {
            return self.notify_start_job();
        }
        let loading = matches!(
            self.state.phase,
            Phase::Running { ready: false, .. } | Phase::Backoff { .. }
        );
        let now = std::time::Instant::now();
        if now >= at {
            if loading {
                let status = self.status_line();
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(&status)]);
            }
            self.next_progress = Some(now + EXTEND_EVERY);
        }
    }

    fn notice(&self, kind: &str, message: String) {
        let _ = self.notices.send(Notice {
            at: SystemTime::now(),
            kind: kind.to_string(),
            state: self.state.phase.name().to_string(),
            message,
        });
    }

    fn save_state(&mut self, pause: Option<PauseRecord>) {
        match self.state_writer.save(&self.cfg.state.dir, pause) {
            Ok(()) => self.state_file_error = None,
            Err(e) => {
                let e = format!(
                    "cannot write {}: {e}",
                    persist::path_in(&self.cfg.state.dir).display()
                );
                tracing::error!("{e} (the pause will not survive a restart of clawvisor)");
                self.state_file_error = Some(e);
                self.save_failed_now = true;
            }
        }
    }

    async fn reload(&mut self) -> Result<String, String> {
        let Some(path) = self.cfg.source.clone() else {
            return Err("clawvisor runs on its built-in config: nothing to reload".into());
        };
        let loaded = Config::load(&path).and_then(|new| {
            // The same preflight as at start-up (the socket is kept, so not checked).
            let problems = crate::preflight::problems(&new, None);
            if problems.is_empty() {
                Ok(new)
            } else {
                Err(crate::config::locate(new.source.as_deref(), problems))
            }
        });
        match loaded {
            Ok(new) => {
                self.alerts.raise(Alert::resolved(
                    "config",
                    "config",
                    "the config reloads again",
                ));
                let later = crate::supervisor::reload_scope::not_applied_now(&self.cfg, &new);
                self.logs.reconfigure(&new.logs);
                self.watchers.reconfigure(&new);
                self.handle(Event::Reload(Box::new(Rules::new(&new.restart, &new.stop))))
                    .await;
                self.cfg = new;
                let mut msg = format!("reloaded {}", path.display());
                for l in &later {
                    msg.push_str(&format!("\n  not yet applied: {l}"));
                }
                tracing::info!(config = %path.display(), "config {msg}");
                self.notice("reload", msg.clone());
                Ok(msg)
            }
            Err(errors) => {
                for e in &errors.0 {
                    tracing::error!("{e}");
                }
                tracing::error!(
                    "reload refused: {} has {} error(s); keeping the old one",
                    path.display(),
                    errors.0.len()
                );
                let msg = format!("the new config has errors; keeping the old one:\n{errors}");
                self.alerts.raise(
                    Alert::new(
                        "config",
                        crate::alerts::Severity::Warning,
                        "config",
                        "reload refused: the new config has errors; keeping the old one",
                    )
                    .with_reason(errors.to_string()),
                );
                self.notice("alert", msg.clone());
                Err(msg)
            }
        }
    }

    pub fn status(&self) -> Status {
        let now = std::time::Instant::now();
        let s = &self.state;
        let running = matches!(s.phase, Phase::Running { .. } | Phase::Stopping { .. });
        let mut parts = serde_json::Map::new();
        parts.insert("logs".into(), self.logs.stats());
        parts.extend(self.watchers.snapshot());
        parts.insert("alerts".into(), self.alerts.snapshot());
        if let Some(e) = &self.state_file_error {
            parts.insert(
                "state_file".into(),
                serde_json::json!({ "error": format!("{e}; the pause will not survive a restart of clawvisor") }),
            );
        }
        Status {
            state: s.phase.name().to_string(),
            pid: s.phase.pid(),
            uptime_secs: s
                .started
                .filter(|_| running)
                .map(|t| now.saturating_duration_since(t).as_secs_f64()),
            ready: matches!(s.phase, Phase::Running { ready: true, .. }),
            restarts: s.restarts,
            restarts_by_reason: {
                let mut m = crate::supervisor::restart_reason::zeroed();
                for (k, v) in &s.restarts_by_reason {
                    m.insert(k.to_string(), *v);
                }
                m
            },
            last_exit: s.last_exit.clone(),
            backoff_remaining_secs: match s.phase {
                Phase::Backoff { until, .. } => {
                    Some(until.saturating_duration_since(now).as_secs_f64())
                }
                _ => None,
            },
            pause: s.pause.clone(),
            resume_hint: s.pause.as_ref().map(|_| s.resume_hint.clone()),
            last_reason: s.last_reason.clone(),
            parts,
        }
    }

    async fn finish(mut self) -> i32 {
        let code = self.exit_code.unwrap_or(0);
        // The gateway is gone; end whatever is left of its tree, then flush its last lines.
        let pids = self.ops.stragglers();
        let ops = self.ops.clone();
        let _ =
            tokio::task::spawn_blocking(move || ops.end_stragglers(pids, STRAGGLER_GRACE)).await;
        // Nothing is left to end at the next start: drop the record (keeping the pause).
        if self.child_record.take().is_some() {
            let dir = self.cfg.state.dir.clone();
            let _ = self.state_writer.run(
                &dir.clone(),
                Box::new(move || leftover::save_record(&dir, None)),
            );
        }
        let logs = self.logs.clone();
        let _ = tokio::task::spawn_blocking(move || logs.finish(LOG_FLUSH_TIMEOUT)).await;
        tracing::info!(code, "clawvisor exiting");
        code
    }
}

async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// Reads state.json on a thread of its own, bounded by [`STATE_LOAD_TIMEOUT`]: a hung mount
/// must not wedge the supervisor before its event loop (and its signal handling) runs. A
/// plain thread, not the runtime's blocking pool, so a read that never returns cannot hold
/// up clawvisor's exit.
async fn load_state(dir: &std::path::Path) -> std::io::Result<persist::PersistedState> {
    let (tx, rx) = oneshot::channel();
    let d = dir.to_path_buf();
    std::thread::Builder::new()
        .name("state-load".into())
        .spawn(move || {
            let _ = tx.send(persist::load(&d));
        })?;
    match tokio::time::timeout(STATE_LOAD_TIMEOUT, rx).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => Err(std::io::Error::other("the state reader thread is gone")),
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "reading {} took longer than {STATE_LOAD_TIMEOUT:?}",
                persist::path_in(dir).display()
            ),
        )),
    }
}
