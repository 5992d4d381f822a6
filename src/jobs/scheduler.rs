//! The scheduler task: one loop for all jobs. It wakes at least every [`TICK`] and reads
//! the wall clock each time (tokio's timers are monotonic: they stop in a suspend and ignore
//! clock steps), turns the slots due in (anchor, now] into runs through the catch-up and
//! overlap policies, walks each due run through its gates, starts it, interrupts it when
//! the gateway restarts or clawvisor stops, and records every end. The decisions are the
//! pure functions of `schedule`, `gates` and `plan`; this file is the imperative glue.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};

use super::attempt::{self, Attempt};
use super::clock_step;
use super::gates::{GpuGate, gateway_gate};
use super::ping::{self, Ping};
use super::plan::{Ended, Next, after_attempt};
use super::schedule::{Schedule, plan_catch_up, wall_jump};
use super::store::{self, JobState, Outcome, PendingRun, RunRecord};
use super::{Deps, JobsRequest};
use crate::config::{Config, JobConfig, OnGatewayRestart, Overlap, Requires};
use crate::logs::LogPipeline;
use crate::supervisor::{Event, GatewayView, Reaction};

/// The longest the loop sleeps without looking at the wall clock and the gates.
pub const TICK: Duration = Duration::from_millis(500);
/// A slot at most this late was seen in time (not a catch-up).
const ON_TIME: Duration = Duration::from_secs(90);
/// Checkpoint dirs kept per job after runs that failed for good.
const KEEP_FAILED_CHECKPOINTS: usize = 3;
/// A wall-clock move this much beyond the monotonic clock is logged as a jump or suspend.
const JUMP: f64 = 5.0;

pub type Request = (JobsRequest, oneshot::Sender<Result<Value, String>>);

struct Active {
    cancel: watch::Sender<Option<String>>,
    pid: Arc<AtomicI32>,
    start: Timestamp,
    epoch: u64,
    waited: (f64, f64),
    stopping: Option<String>,
}

struct Waiting {
    since: Instant,
    last: Instant,
    gateway_secs: f64,
    gpu_secs: f64,
    on: Option<String>,
    gpu: GpuGate,
}

impl Waiting {
    fn new(now: Instant) -> Waiting {
        Waiting {
            since: now,
            last: now,
            gateway_secs: 0.0,
            gpu_secs: 0.0,
            on: None,
            gpu: GpuGate::default(),
        }
    }
}

struct JobRt {
    cfg: Arc<JobConfig>,
    sched: Schedule,
    st: JobState,
    logs: LogPipeline,
    active: Option<Active>,
    wait: Option<Waiting>,
    last: Option<RunRecord>,
    counts: BTreeMap<&'static str, u64>,
}

pub struct Scheduler {
    jobs: Vec<JobRt>,
    dir: PathBuf,
    logs_dir: PathBuf,
    deps: Deps,
    gateway_url: String,
    /// clawvisor's secret variables, kept out of the jobs' environment.
    hidden_env: Arc<Vec<String>>,
    http: reqwest::Client,
    done_tx: mpsc::UnboundedSender<(usize, Ended)>,
    done_rx: mpsc::UnboundedReceiver<(usize, Ended)>,
    stopping: bool,
    last_wall: Timestamp,
    last_mono: Instant,
}

impl Scheduler {
    pub fn new(cfg: &Config, deps: Deps) -> Result<Scheduler, String> {
        let dir = store::dir_in(&cfg.state.dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let logs_dir = cfg.logs.dir.join("jobs");
        let mut jobs = Vec::new();
        for j in &cfg.jobs {
            let sched = Schedule::from_job(j).map_err(|e| format!("job {}: {e}", j.name))?;
            let st = store::load(&dir, &j.name)?.unwrap_or_default();
            let logs = job_logs(cfg, &logs_dir, &j.name, &deps)?;
            let last = store::history(&dir, &j.name, 1).pop();
            jobs.push(JobRt {
                cfg: Arc::new(j.clone()),
                sched,
                st,
                logs,
                active: None,
                wait: None,
                last,
                counts: BTreeMap::new(),
            });
        }
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let http = crate::tls::client(reqwest::Client::builder, "job pings");
        let mut s = Scheduler {
            jobs,
            dir,
            logs_dir,
            deps,
            gateway_url: gateway_url(),
            hidden_env: Arc::new(cfg.secret_env_vars()),
            http,
            done_tx,
            done_rx,
            stopping: false,
            last_wall: Timestamp::now(),
            last_mono: Instant::now(),
        };
        s.recover_after_crash(Timestamp::now());
        Ok(s)
    }

    /// An attempt still marked as started means clawvisor ended without stopping it (it
    /// was killed, or the machine went down): that attempt was interrupted.
    fn recover_after_crash(&mut self, now: Timestamp) {
        for i in 0..self.jobs.len() {
            let Some(head) = self.jobs[i].st.queue.front().cloned() else {
                continue;
            };
            let Some(started) = head.started else {
                continue;
            };
            let ended = Ended::Interrupted {
                cause: "clawvisor restart (it ended without stopping the job)".into(),
                exit: None,
            };
            self.finish_attempt(i, head, ended, started, (0.0, 0.0), now);
        }
    }

    pub async fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        let mut gateway = self.deps.gateway.clone();
        let mut gateway_gone = false;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                Some((i, ended)) = self.done_rx.recv() => self.on_done(i, ended),
                Some((req, reply)) = requests.recv() => {
                    let answer = self.answer(req).await;
                    let _ = reply.send(answer);
                }
                r = gateway.changed(), if !gateway_gone => {
                    // The runner is gone: clawvisor is exiting.
                    gateway_gone = r.is_err();
                }
            }
            let view = *gateway.borrow();
            if (view.shutting_down || gateway_gone) && !self.stopping {
                self.stop_all("clawvisor stop");
            }
            if self.stopping && self.jobs.iter().all(|j| j.active.is_none()) {
                break;
            }
            self.tick(&view);
            self.publish();
        }
        self.publish();
        let pipes: Vec<LogPipeline> = self.jobs.iter().map(|j| j.logs.clone()).collect();
        let _ = tokio::task::spawn_blocking(move || {
            for p in pipes {
                p.finish(Duration::from_secs(2));
            }
        })
        .await;
    }

    fn stop_all(&mut self, cause: &str) {
        self.stopping = true;
        for j in &mut self.jobs {
            if let Some(a) = &mut j.active
                && a.stopping.is_none()
            {
                tracing::info!(job = %j.cfg.name, "stopping the job: {cause}");
                a.stopping = Some(cause.to_string());
                let _ = a.cancel.send(Some(cause.to_string()));
            }
        }
    }

    fn tick(&mut self, view: &GatewayView) {
        let now = Timestamp::now();
        let mono = Instant::now();
        let jump = wall_jump(self.last_wall, now, mono.duration_since(self.last_mono));
        if jump.abs() > JUMP {
            tracing::warn!(
                seconds = jump,
                "the wall clock moved {jump:+.0}s against the monotonic clock (suspend or clock \
                 step): job slots are recomputed from the wall clock"
            );
        }
        self.last_wall = now;
        self.last_mono = mono;
        if self.stopping {
            return;
        }
        if jump < -JUMP {
            self.on_clock_back(Duration::from_secs_f64(-jump), now);
        }
        // Only the GPU reading matters here, and only to jobs with a GPU gate.
        let mut parts = serde_json::Map::new();
        if self.jobs.iter().any(|j| super::gates::has_gpu_gate(&j.cfg))
            && let Some(gpu) = self.deps.readings.get("gpu")
        {
            parts.insert("gpu".into(), gpu);
        }
        for i in 0..self.jobs.len() {
            self.schedule(i, now);
            self.advance(i, now, mono, view, &parts);
        }
    }

    /// The wall clock stepped back by `back`: interval jobs and retry delays keep their
    /// pace, cron jobs wait for their next slot after the newest one handled.
    fn on_clock_back(&mut self, back: Duration, now: Timestamp) {
        for i in 0..self.jobs.len() {
            let j = &mut self.jobs[i];
            if let Some(until) = clock_step::after_clock_back(&j.sched, &mut j.st, back, now) {
                tracing::warn!(
                    job = %j.cfg.name,
                    "the clock went back: slots up to {} were already handled and are not run \
                     again; the next run is the first slot after it",
                    until.strftime("%Y-%m-%d %H:%M:%S UTC")
                );
            }
            self.save(i);
        }
    }

    /// Turns newly due slots into runs (catch-up, overlap).
    fn schedule(&mut self, i: usize, now: Timestamp) {
        let j = &mut self.jobs[i];
        let sig = j.sched.signature();
        if j.st.signature != sig || j.st.anchor.is_none() {
            if !j.st.signature.is_empty() && j.st.signature != sig {
                tracing::warn!(
                    job = %j.cfg.name,
                    "the schedule changed ({} -> {sig}): counting slots from now, none replayed",
                    j.st.signature
                );
            }
            j.st.signature = sig;
            j.st.anchor = Some(now);
            self.save(i);
            return;
        }
        let anchor = j.st.anchor.unwrap_or(now);
        let slots = j.sched.due(anchor, now);
        let Some(&newest) = slots.last() else { return };
        j.st.anchor = Some(newest);
        let plan = plan_catch_up(&slots, j.cfg.catch_up, now, ON_TIME);
        let missed = plan.missed.len() as u32;
        let name = j.cfg.name.clone();
        if missed > 0 {
            j.st.missed_total += u64::from(missed);
            tracing::warn!(
                job = %name,
                missed,
                "{missed} slot(s) missed (clawvisor was down, or the clock jumped); catch_up = {:?}",
                j.cfg.catch_up
            );
        }
        if plan.run.is_empty() && missed > 0 {
            let last = *plan.missed.last().unwrap_or(&newest);
            let cause = format!(
                "catch_up = none: {missed} slot(s) missed, the newest {}",
                last.strftime("%Y-%m-%d %H:%M UTC")
            );
            let mut pr = PendingRun::new(&name, last, false, missed);
            pr.attempt = 0;
            self.record_skip(i, &pr, cause, now);
        }
        let busy_before = !self.jobs[i].st.queue.is_empty();
        let n = plan.run.len();
        for (k, slot) in plan.run.into_iter().enumerate() {
            let missed_before = if k + 1 == n { missed } else { 0 };
            let run = PendingRun::new(&name, slot, false, missed_before);
            let j = &mut self.jobs[i];
            let queued = j.st.queue.len();
            let conflict = busy_before && queued > 0;
            // The run for a backlog (slots missed while clawvisor was down) waits behind a
            // run carried over from before: overlap is about a slot that comes while its
            // predecessor runs late, not about downtime.
            let backlog = missed > 0 || n > 1;
            let all = j.cfg.catch_up == crate::config::CatchUp::All;
            match (conflict, j.cfg.overlap) {
                (false, _) => j.st.queue.push_back(run),
                (true, Overlap::Queue) if queued < 2 => j.st.queue.push_back(run),
                (true, _) if backlog && (all || queued < 2) => j.st.queue.push_back(run),
                (true, _) => {
                    let head =
                        j.st.queue
                            .front()
                            .map_or(String::new(), |h| h.run_id.clone());
                    let what = if j.active.is_some() {
                        "running"
                    } else {
                        "waiting"
                    };
                    j.st.missed_total += 1;
                    let cause =
                        format!("overlap = {:?}: run {head} is still {what}", j.cfg.overlap)
                            .to_lowercase();
                    tracing::warn!(job = %name, "slot {slot} not run: {cause}");
                    let mut pr = run;
                    pr.attempt = 0;
                    self.record_skip(i, &pr, cause, now);
                }
            }
        }
        self.save(i);
    }

    /// Walks the head run: interruption of a running attempt, or gates then start.
    fn advance(
        &mut self,
        i: usize,
        now: Timestamp,
        mono: Instant,
        view: &GatewayView,
        parts: &serde_json::Map<String, Value>,
    ) {
        let j = &mut self.jobs[i];
        if let Some(a) = &mut j.active {
            let watches_gateway = j.cfg.requires != Requires::None
                && j.cfg.on_gateway_restart == OnGatewayRestart::Rerun;
            if watches_gateway && a.stopping.is_none() && view.epoch != a.epoch {
                let cause = if view.pid.is_none() {
                    "gateway exited"
                } else {
                    "gateway restarted"
                };
                tracing::info!(job = %j.cfg.name, "stopping the job: {cause}; it re-runs once the gates pass");
                a.stopping = Some(cause.into());
                let _ = a.cancel.send(Some(cause.into()));
            }
            return;
        }
        let Some(head) = j.st.queue.front() else {
            j.wait = None;
            return;
        };
        let w = j.wait.get_or_insert_with(|| Waiting::new(mono));
        let dt = mono.saturating_duration_since(w.last).as_secs_f64();
        w.last = mono;
        if let Some(at) = head.not_before
            && at > now
        {
            // A retry's delay is not waiting on a gate.
            w.since = mono;
            w.on = Some(format!("retry at {}", at.strftime("%H:%M:%S UTC")));
            return;
        }
        let blocked = match gateway_gate(j.cfg.requires, view) {
            Some(g) => {
                w.gateway_secs += dt;
                Some(g)
            }
            None => w.gpu.observe(&j.cfg, parts, mono).inspect(|_| {
                w.gpu_secs += dt;
            }),
        };
        let Some(on) = blocked else {
            self.start(i, now, view.epoch);
            return;
        };
        if w.on.is_none() {
            tracing::info!(job = %j.cfg.name, run = %head.run_id, "due; waiting: {on}");
        }
        w.on = Some(on.clone());
        let waited = mono.saturating_duration_since(w.since);
        if waited > j.cfg.max_wait.get() {
            let head = head.clone();
            let cause = format!(
                "gate timeout: waited {} (max_wait) for: {on}",
                humantime::format_duration(j.cfg.max_wait.get())
            );
            j.st.queue.pop_front();
            j.st.missed_total += 1;
            j.wait = None;
            self.record_skip(i, &head, cause, now);
            self.save(i);
        }
    }

    fn start(&mut self, i: usize, now: Timestamp, epoch: u64) {
        let Some(aux) = self.deps.aux.clone() else {
            return;
        };
        let j = &mut self.jobs[i];
        let Some(head) = j.st.queue.front_mut() else {
            return;
        };
        head.started = Some(now);
        let run = head.clone();
        let w = j.wait.take();
        let waited = w.map_or((0.0, 0.0), |w| (w.gateway_secs, w.gpu_secs));
        let (cancel, cancel_rx) = watch::channel(None);
        let pid = Arc::new(AtomicI32::new(0));
        let a = Attempt {
            job: j.cfg.clone(),
            checkpoint: attempt::checkpoint_dir(&self.dir, &j.cfg.name, &run.run_id),
            run: run.clone(),
            gateway_url: self.gateway_url.clone(),
            hidden_env: self.hidden_env.clone(),
            logs: j.logs.clone(),
            aux,
        };
        tracing::info!(
            job = %j.cfg.name,
            run = %run.run_id,
            attempt = run.attempt,
            resume = run.resume,
            "job started"
        );
        if let Some(url) = &j.cfg.ping_url {
            ping::send(&self.http, url, Ping::Start, &run.run_id);
        }
        let done = self.done_tx.clone();
        let pid_slot = pid.clone();
        tokio::spawn(async move {
            let ended = attempt::run(a, pid_slot, cancel_rx).await;
            let _ = done.send((i, ended));
        });
        j.active = Some(Active {
            cancel,
            pid,
            start: now,
            epoch,
            waited,
            stopping: None,
        });
        self.save(i);
    }

    fn on_done(&mut self, i: usize, ended: Ended) {
        let Some(a) = self.jobs[i].active.take() else {
            return;
        };
        let Some(head) = self.jobs[i].st.queue.front().cloned() else {
            return;
        };
        self.finish_attempt(i, head, ended, a.start, a.waited, Timestamp::now());
    }

    fn finish_attempt(
        &mut self,
        i: usize,
        head: PendingRun,
        ended: Ended,
        start: Timestamp,
        waited: (f64, f64),
        now: Timestamp,
    ) {
        let cfg = self.jobs[i].cfg.clone();
        let (outcome, cause, next) = after_attempt(&head, &ended, &cfg, now);
        let exit = ended.exit();
        let rec = RunRecord {
            run_id: head.run_id.clone(),
            slot: head.slot,
            attempt: head.attempt,
            outcome,
            start: Some(start),
            end: now,
            exit: exit.map(|e| e.to_string()),
            exit_code: exit.map(|e| e.as_exit_code()),
            waited_gateway_secs: round1(waited.0),
            waited_gpu_secs: round1(waited.1),
            cause: cause.clone(),
            missed: head.missed_before,
            manual: head.manual,
        };
        tracing::info!(
            job = %cfg.name,
            run = %head.run_id,
            attempt = head.attempt,
            outcome = outcome.name(),
            "job attempt ended{}",
            cause.as_deref().map_or(String::new(), |c| format!(": {c}"))
        );
        self.record(i, rec);
        let checkpoint = attempt::checkpoint_dir(&self.dir, &cfg.name, &head.run_id);
        let j = &mut self.jobs[i];
        match next {
            Next::Again(again) => {
                if let Some(h) = j.st.queue.front_mut() {
                    *h = again;
                }
            }
            Next::Done => {
                j.st.queue.pop_front();
                let code = exit.map_or(1, |e| e.as_exit_code());
                if outcome == Outcome::Succeeded {
                    // A finished run needs no checkpoint; a failed one keeps it to look at.
                    let _ = std::fs::remove_dir_all(&checkpoint);
                    if let Some(url) = &cfg.ping_url {
                        ping::send(&self.http, url, Ping::Success, &head.run_id);
                    }
                } else {
                    prune_checkpoints(&checkpoint);
                    if let Some(url) = &cfg.ping_url {
                        ping::send(&self.http, url, Ping::Fail(code), &head.run_id);
                    }
                    self.alert(
                        &cfg.name,
                        format!(
                            "run {} {} (attempt {}): {}",
                            head.run_id,
                            outcome.name(),
                            head.attempt,
                            cause.unwrap_or_default()
                        ),
                    );
                }
            }
        }
        self.save(i);
    }

    fn record_skip(&mut self, i: usize, run: &PendingRun, cause: String, now: Timestamp) {
        let name = self.jobs[i].cfg.name.clone();
        self.alert(&name, format!("slot {} skipped: {cause}", run.slot));
        self.record(
            i,
            RunRecord {
                run_id: run.run_id.clone(),
                slot: run.slot,
                attempt: run.attempt,
                outcome: Outcome::Skipped,
                start: None,
                end: now,
                exit: None,
                exit_code: None,
                waited_gateway_secs: 0.0,
                waited_gpu_secs: 0.0,
                cause: Some(cause),
                missed: run.missed_before,
                manual: run.manual,
            },
        );
    }

    fn record(&mut self, i: usize, rec: RunRecord) {
        let j = &mut self.jobs[i];
        *j.counts.entry(outcome_key(rec.outcome)).or_default() += 1;
        if let Err(e) = store::append_history(&self.dir, &j.cfg.name, &rec, j.cfg.history as usize)
        {
            tracing::error!(job = %j.cfg.name, "cannot append to the job's history: {e}");
        }
        j.last = Some(rec);
    }

    fn alert(&self, job: &str, reason: String) {
        self.deps.inbox.event(Event::Trouble {
            source: format!("job {job}"),
            reason,
            reaction: Reaction::Alert,
        });
    }

    fn save(&self, i: usize) {
        let j = &self.jobs[i];
        if let Err(e) = store::save(&self.dir, &j.cfg.name, &j.st) {
            tracing::error!(job = %j.cfg.name, "cannot save the job's state: {e}");
        }
    }

    /// The jobs part of `ctl status` (and `ctl jobs`).
    fn publish(&self) {
        self.deps.readings.publish("jobs", self.list());
    }

    fn list(&self) -> Value {
        let now = Timestamp::now();
        let jobs: Vec<Value> = self.jobs.iter().map(|j| view(j, now)).collect();
        json!({ "jobs": jobs })
    }

    async fn answer(&mut self, req: JobsRequest) -> Result<Value, String> {
        match req {
            JobsRequest::List => Ok(self.list()),
            JobsRequest::Run { name } => {
                let i = self.find(&name)?;
                let j = &mut self.jobs[i];
                if let Some(h) = j.st.queue.front() {
                    let what = if j.active.is_some() {
                        "running"
                    } else {
                        "waiting"
                    };
                    return Err(format!(
                        "job {name} already has run {} {what}; one run at a time",
                        h.run_id
                    ));
                }
                if self.stopping {
                    return Err("clawvisor is stopping".into());
                }
                let run = PendingRun::new(&name, Timestamp::now(), true, 0);
                let id = run.run_id.clone();
                j.st.queue.push_back(run);
                self.save(i);
                Ok(json!({
                    "message": format!("run {id} queued: it starts when its gates pass")
                }))
            }
            JobsRequest::History { name, limit } => {
                self.find(&name)?;
                let dir = self.dir.clone();
                let recs = tokio::task::spawn_blocking(move || store::history(&dir, &name, limit))
                    .await
                    .unwrap_or_default();
                Ok(json!({ "runs": recs }))
            }
            JobsRequest::Logs { name, lines } => {
                self.find(&name)?;
                let path = self.logs_dir.join(format!("{name}.log"));
                let tail = tokio::task::spawn_blocking(move || tail_lines(&path, lines))
                    .await
                    .unwrap_or_default();
                Ok(json!({ "lines": tail }))
            }
        }
    }

    fn find(&self, name: &str) -> Result<usize, String> {
        self.jobs
            .iter()
            .position(|j| j.cfg.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = self.jobs.iter().map(|j| j.cfg.name.as_str()).collect();
                format!("no job named {name:?} (jobs: {})", names.join(", "))
            })
    }
}

/// Checkpoint dirs of runs that failed for good are kept to look at, the newest
/// [`KEEP_FAILED_CHECKPOINTS`] of them.
fn prune_checkpoints(latest: &std::path::Path) {
    let Some(parent) = latest.parent() else {
        return;
    };
    let Ok(rd) = std::fs::read_dir(parent) else {
        return;
    };
    let mut dirs: Vec<(std::time::SystemTime, PathBuf)> = rd
        .flatten()
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    dirs.sort();
    let excess = dirs.len().saturating_sub(KEEP_FAILED_CHECKPOINTS);
    for (_, d) in dirs.into_iter().take(excess) {
        if d != latest {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn outcome_key(o: Outcome) -> &'static str {
    match o {
        Outcome::Succeeded => "succeeded",
        Outcome::Failed => "failed",
        Outcome::TimedOut => "timed_out",
        Outcome::Interrupted => "interrupted",
        Outcome::Skipped => "skipped",
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// One job as `ctl jobs` and the status snapshot show it.
fn view(j: &JobRt, now: Timestamp) -> Value {
    let zone = j.sched.zone();
    let next = j.st.anchor.and_then(|a| j.sched.next_after(a.max(now)));
    let (state, waiting_on) = match (&j.active, &j.wait, j.st.queue.front()) {
        (Some(a), _, _) if a.stopping.is_some() => ("stopping", a.stopping.clone()),
        (Some(_), _, _) => ("running", None),
        (None, Some(w), Some(_)) => ("waiting", w.on.clone()),
        (None, _, Some(_)) => ("due", None),
        _ => ("idle", None),
    };
    let head = j.st.queue.front();
    let pid = j
        .active
        .as_ref()
        .map(|a| a.pid.load(Ordering::Relaxed))
        .filter(|p| *p > 0);
    json!({
        "name": j.cfg.name,
        "schedule": match &j.sched {
            Schedule::Cron { text, .. } => text.clone(),
            Schedule::Every(d) => format!("every {}", humantime::format_duration(*d)),
        },
        "timezone": zone.iana_name().unwrap_or("system"),
        "next_run_utc": next.map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
        "next_run_local": next.map(|t| t.to_zoned(zone.clone()).strftime("%Y-%m-%d %H:%M %Z").to_string()),
        "state": state,
        "waiting_on": waiting_on,
        "pid": pid,
        "run_id": head.map(|h| h.run_id.clone()),
        "attempt": head.map(|h| h.attempt),
        "queued": j.st.queue.len(),
        "missed_total": j.st.missed_total,
        "runs": j.counts,
        "last": j.last,
    })
}

/// The last `n` lines of a file (reads at most the last 1 MiB).
fn tail_lines(path: &std::path::Path, n: usize) -> Vec<String> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let from = len.saturating_sub(1 << 20);
    let _ = f.seek(SeekFrom::Start(from));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(n);
    lines[skip..].iter().map(|s| s.to_string()).collect()
}

/// Where jobs reach the gateway (`CLAWVISOR_GATEWAY_URL`): openclaw's default address; a
/// job's `env` may set another.
fn gateway_url() -> String {
    crate::config::DEFAULT_BASE_URL.to_string()
}

/// The job's own log pipeline: `<logs dir>/jobs/<job>.log`, merged streams, timestamped,
/// rotated and kept like the gateway's logs, without the gateway's pattern rules.
fn job_logs(
    cfg: &Config,
    dir: &std::path::Path,
    name: &str,
    deps: &Deps,
) -> Result<LogPipeline, String> {
    let mut lc = cfg.logs.clone();
    lc.dir = dir.to_path_buf();
    lc.layout = crate::config::LogLayout::Merged;
    lc.timestamps = true;
    lc.tee = false;
    lc.default_patterns = false;
    lc.patterns = Vec::new();
    lc.ring_lines = 100;
    lc.max_total_size = None;
    let opts = crate::logs::Options {
        stem: Some(name.to_string()),
        ..Default::default()
    };
    LogPipeline::start_with(&lc, deps.inbox.clone(), opts)
        .map_err(|e| format!("job {name}: logs in {}: {e}", dir.display()))
}
