//! The probe tasks: one tokio task per configured probe, each with its own tracker.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::client::client_for;
use super::completion::{probe_completion, resolve_token};
use super::exec::probe_exec;
use super::expect::Expect;
use super::http::probe_http;
use super::quality::{Endpoint, judge, load_tests, run_tests};
use super::tracker::{Context, Outcome, ProbeRules, ProbeTracker};
use crate::config::{
    CompletionProbeConfig, ExecProbeConfig, HttpProbeConfig, HttpProbeKind, QualityConfig,
};
use crate::watch::Verdict;
use crate::watch::shared::{Shared, sleep_or_child_change};

/// Ends the startup grace with a restart when nothing passed in time.
pub async fn startup_gate_task(shared: Arc<Shared>) {
    loop {
        if let Some(v) = shared.with_gate(Instant::now(), |g| g.check(Instant::now())) {
            shared.send(crate::watch::shared::STARTUP_SOURCE, v);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Publishes a probe's state with its latest details.
fn publish(shared: &Shared, part: &str, t: &ProbeTracker, extra: Value) {
    let mut v = json!({
        "state": t.state(),
        "last": t.last.as_ref().map(Outcome::label),
        "reason": t.last.as_ref().and_then(Outcome::reason),
        "failures_in_a_row": t.failures(),
    });
    if let (Value::Object(o), Value::Object(e)) = (&mut v, extra) {
        o.extend(e);
    }
    shared.readings.publish(part, v);
}

/// Publishes why a probe is not running now: no gateway, or it waits for another probe.
fn publish_waiting(shared: &Shared, part: &str, gated: bool, mut extra: Value) {
    let (state, reason) = match shared.child_pid() {
        None => ("not run yet", "no gateway is running"),
        Some(_) if gated => (
            "waiting for the startup probe",
            "the gateway has not answered yet",
        ),
        Some(_) => ("not run yet", "about to run"),
    };
    extra["state"] = json!(state);
    extra["reason"] = json!(reason);
    extra["failures_in_a_row"] = json!(0);
    extra["waiting"] = json!(true);
    shared.readings.publish(part, extra);
}

/// Waits for a child; resets the tracker when it is a new one. None: no child right now.
fn current_child(shared: &Shared, last: &mut Option<i32>, t: &mut ProbeTracker) -> Option<i32> {
    let pid = shared.child_pid();
    if pid != *last {
        t.reset();
        *last = pid;
    }
    pid
}

/// The wait before the next run: the start-up cadence until the probe has passed once
/// since the spawn, then its period.
fn next_wait(t: &ProbeTracker, period: Duration, startup_period: Duration) -> Duration {
    if t.passed_once() {
        period
    } else {
        startup_period.min(period)
    }
}

/// `gated`: wait for the startup probe before probing (liveness and readiness when a
/// startup probe exists, as in Kubernetes).
pub async fn http_probe_task(
    shared: Arc<Shared>,
    kind: HttpProbeKind,
    cfg: HttpProbeConfig,
    gated: bool,
    startup_period: Duration,
) {
    let part = format!("probes.{}", kind.name());
    let url = cfg.url(kind);
    let expect = Expect::new(cfg.expect_json.as_ref(), &cfg.expect(kind));
    let client = client_for(&url, cfg.timeout.get());
    let mut tracker = ProbeTracker::new(ProbeRules {
        failure_threshold: cfg.failure_threshold,
        success_threshold: cfg.success_threshold,
        reaction: cfg.reaction(kind),
        slow_window: None,
        period: cfg.period.get(),
    });
    let mut child = shared.child.clone();
    let mut last = None;
    loop {
        let started = shared.started();
        if current_child(&shared, &mut last, &mut tracker).is_none() || (gated && !started) {
            publish_waiting(&shared, &part, gated, json!({"url": url}));
            sleep_or_child_change(startup_period.min(Duration::from_secs(1)), &mut child).await;
            continue;
        }
        if kind == HttpProbeKind::Startup && started {
            // Like Kubernetes: the startup probe's work is done once it passed.
            publish(
                &shared,
                &part,
                &tracker,
                json!({"url": url, "started": true}),
            );
            sleep_or_child_change(Duration::from_secs(3600), &mut child).await;
            continue;
        }
        let (outcome, latency) = probe_http(&client, &url, &expect, cfg.timeout.get()).await;
        let now = Instant::now();
        let passed = outcome == Outcome::Pass;
        let proves_life = kind == HttpProbeKind::Startup || !gated;
        if passed && proves_life {
            shared.proof_of_life(&part);
        }
        if passed && kind == HttpProbeKind::Readiness {
            shared.mark_ready(&part);
        }
        let in_grace = shared.in_grace(now);
        if kind == HttpProbeKind::Liveness {
            shared.set_liveness_failing(!passed);
        }
        let ctx = Context {
            now,
            in_grace: in_grace || kind == HttpProbeKind::Startup,
            liveness_failing: false,
        };
        if let Some(v) = tracker.observe(outcome, ctx) {
            shared.send(&part, v);
        }
        let extra =
            json!({"url": url, "latency_ms": latency.as_millis() as u64, "in_grace": in_grace});
        publish(&shared, &part, &tracker, extra);
        let wait = next_wait(&tracker, cfg.period.get(), startup_period);
        sleep_or_child_change(wait, &mut child).await;
    }
}

/// `gated`: an HTTP probe exists to end the startup grace; wait for it before the first
/// completion (a loading model would only queue it). Without one, the completion probe runs
/// from the start and its first pass ends the grace.
pub async fn completion_task(
    shared: Arc<Shared>,
    cfg: CompletionProbeConfig,
    gated: bool,
    startup_period: Duration,
) {
    let part = "probes.completion";
    let client = client_for(&cfg.url, cfg.timeout.get());
    let mut tracker = ProbeTracker::new(ProbeRules {
        failure_threshold: cfg.failure_threshold,
        success_threshold: 1,
        reaction: cfg.on_failure,
        slow_window: Some(cfg.slow_window.get()),
        period: cfg.period.get(),
    });
    let mut child = shared.child.clone();
    let mut last = None;
    loop {
        if current_child(&shared, &mut last, &mut tracker).is_none() || (gated && !shared.started())
        {
            publish_waiting(&shared, part, gated, json!({}));
            sleep_or_child_change(startup_period.min(Duration::from_secs(1)), &mut child).await;
            continue;
        }
        let (outcome, details) = probe_completion(&client, &cfg).await;
        if outcome == Outcome::Pass {
            shared.proof_of_life(part);
        }
        let now = Instant::now();
        let ctx = Context {
            now,
            in_grace: shared.in_grace(now),
            liveness_failing: shared.liveness_failing(),
        };
        if let Some(v) = tracker.observe(outcome, ctx) {
            shared.send(part, v);
        }
        publish(&shared, part, &tracker, details);
        let wait = next_wait(&tracker, cfg.period.get(), startup_period);
        sleep_or_child_change(wait, &mut child).await;
    }
}

pub async fn exec_probe_task(shared: Arc<Shared>, cfg: ExecProbeConfig, startup_period: Duration) {
    let part = format!("probes.exec.{}", cfg.name());
    let mut tracker = ProbeTracker::new(ProbeRules {
        failure_threshold: cfg.failure_threshold,
        success_threshold: 1,
        reaction: cfg.on_failure,
        slow_window: None,
        period: cfg.period.get(),
    });
    let mut child = shared.child.clone();
    let mut last = None;
    loop {
        if current_child(&shared, &mut last, &mut tracker).is_none() {
            publish_waiting(&shared, &part, false, json!({"command": cfg.command}));
            sleep_or_child_change(startup_period.min(cfg.period.get()), &mut child).await;
            continue;
        }
        let started = Instant::now();
        let outcome = probe_exec(&*shared.runner, &cfg.command, cfg.timeout.get()).await;
        let now = Instant::now();
        let in_grace = shared.in_grace(now);
        let ctx = Context {
            now,
            in_grace,
            liveness_failing: false,
        };
        if let Some(v) = tracker.observe(outcome, ctx) {
            shared.send(&part, v);
        }
        let extra =
            json!({"command": cfg.command, "latency_ms": started.elapsed().as_millis() as u64});
        publish(&shared, &part, &tracker, extra);
        let wait = next_wait(&tracker, cfg.period.get(), startup_period);
        sleep_or_child_change(wait, &mut child).await;
    }
}

/// A request to run the quality tests now; the report (or why not) comes back.
pub type QualityRequest = oneshot::Sender<Result<Value, String>>;

/// How often the quality task looks whether the gateway is ready, before its first run.
const READY_POLL: Duration = Duration::from_millis(500);

pub async fn quality_task(
    shared: Arc<Shared>,
    cfg: QualityConfig,
    completion: CompletionProbeConfig,
    mut now_requests: mpsc::UnboundedReceiver<QualityRequest>,
) {
    let part = "quality";
    let Some(path) = cfg.tests.clone() else {
        return;
    };
    let client = client_for(&completion.url, cfg.timeout.get());
    let mut next_run = Instant::now() + cfg.every.get();
    let mut told_unloadable = false;
    shared.readings.publish(
        part,
        json!({"tests": path, "runs": 0, "next_run_in_secs": cfg.every.get().as_secs()}),
    );
    let mut runs = 0u64;
    // The first run comes as soon as the gateway is first ready, not a whole `every` (6h by
    // default) later: a model that answers badly from the start is found at once.
    let mut first_pending = true;
    loop {
        let mut wait = next_run.saturating_duration_since(Instant::now());
        if first_pending {
            wait = wait.min(READY_POLL);
        }
        let reply = tokio::select! {
            _ = tokio::time::sleep(wait) => None,
            r = now_requests.recv() => match r {
                Some(r) => Some(r),
                None => { tokio::time::sleep(wait).await; None }
            },
        };
        let scheduled = reply.is_none();
        if scheduled && first_pending && Instant::now() < next_run {
            if !shared.is_ready() {
                continue;
            }
            tracing::info!("the gateway is ready: running the quality tests for the first time");
        }
        if scheduled {
            next_run = Instant::now() + cfg.every.get();
        }
        if shared.child_pid().is_none() || (scheduled && !shared.started()) {
            if let Some(r) = reply {
                let _ = r.send(Err("the gateway is not running".into()));
            }
            continue;
        }
        let tests = match load_tests(&path) {
            Ok(t) => t,
            Err(e) => {
                first_pending = false;
                shared
                    .readings
                    .publish(part, json!({"tests": path, "error": e}));
                if !told_unloadable {
                    told_unloadable = true;
                    shared.send(
                        part,
                        Verdict::new(
                            crate::supervisor::Reaction::Alert,
                            format!("cannot load the quality tests: {e}"),
                        ),
                    );
                }
                if let Some(r) = reply {
                    let _ = r.send(Err(e));
                }
                continue;
            }
        };
        told_unloadable = false;
        let token = resolve_token(&completion).unwrap_or(None);
        let endpoint = Endpoint {
            url: &completion.url,
            model: &completion.model,
            token: token.as_deref(),
        };
        let report = run_tests(&client, &tests, &endpoint, &cfg).await;
        first_pending = false;
        runs += 1;
        let mut v = report.to_json(cfg.min_pass_rate);
        v["tests"] = json!(path);
        v["runs"] = json!(runs);
        v["next_run_in_secs"] = json!(next_run.saturating_duration_since(Instant::now()).as_secs());
        shared.readings.publish(part, v.clone());
        if let Some(verdict) = judge(&report, &cfg) {
            shared.send(part, verdict);
        }
        if let Some(r) = reply {
            let _ = r.send(Ok(v));
        }
    }
}
