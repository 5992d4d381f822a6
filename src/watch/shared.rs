//! What the watcher and probe tasks share: readings, the inbox, the current child, the
//! startup gate, and the liveness flag that tells "busy" from "dead".

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::readings::Readings;
use super::startup_gate::StartupGate;
use super::verdict::Verdict;
use crate::process::command_runner::CommandRunner;
use crate::supervisor::{Inbox, Reaction};

/// The source named when the startup grace runs out without any probe passing.
pub const STARTUP_SOURCE: &str = "startup";

pub struct Shared {
    pub readings: Readings,
    pub inbox: Inbox,
    pub child: watch::Receiver<Option<i32>>,
    gate: Mutex<(Option<i32>, StartupGate)>,
    liveness_failing: AtomicBool,
    /// Some probe can prove the child alive; without one the child counts as started at once.
    life_probes: AtomicBool,
    /// A readiness probe is configured: its first pass, not the first proof of life, makes
    /// the child ready.
    ready_probe: AtomicBool,
    /// The child already reported ready (once per child).
    ready_sent: Mutex<Option<i32>>,
    pub runner: Arc<dyn CommandRunner>,
}

impl Shared {
    pub fn new(
        inbox: Inbox,
        child: watch::Receiver<Option<i32>>,
        startup_timeout: Duration,
        runner: Arc<dyn CommandRunner>,
    ) -> Shared {
        Shared {
            readings: Readings::default(),
            inbox,
            child,
            gate: Mutex::new((None, StartupGate::new(startup_timeout))),
            liveness_failing: AtomicBool::new(false),
            life_probes: AtomicBool::new(false),
            ready_probe: AtomicBool::new(false),
            ready_sent: Mutex::new(None),
            runner,
        }
    }

    pub fn child_pid(&self) -> Option<i32> {
        *self.child.borrow()
    }

    /// Passes a verdict to the supervisor. A probe's restart once the startup grace ran out
    /// without any probe passing is, first of all, that: the reason says so, with the
    /// probe's own failure after it.
    pub fn send(&self, source: &str, v: Verdict) {
        let now = Instant::now();
        if v.reaction == Reaction::Restart && source != STARTUP_SOURCE {
            let timed_out = self.with_gate(now, |g| g.timed_out(now).then(|| g.timeout_reason()));
            if let Some(why) = timed_out {
                let reason = format!("{why} (last: {source}: {})", v.reason);
                Verdict::new(Reaction::Restart, reason).send(STARTUP_SOURCE, &self.inbox);
                return;
            }
        }
        v.send(source, &self.inbox);
    }

    /// Runs `f` on the startup gate of the current child (a new pid opens a new grace).
    pub fn with_gate<T>(&self, now: Instant, f: impl FnOnce(&mut StartupGate) -> T) -> T {
        let mut g = self.gate.lock().unwrap_or_else(|p| p.into_inner());
        let pid = self.child_pid();
        if g.0 != pid {
            g.0 = pid;
            match pid {
                Some(_) => g.1.on_spawn(now),
                None => g.1.on_exit(),
            }
            self.liveness_failing.store(false, Ordering::Relaxed);
        }
        f(&mut g.1)
    }

    pub fn set_ready_probe(&self, configured: bool) {
        self.ready_probe.store(configured, Ordering::Relaxed);
    }

    /// Whether some probe decides when the gateway is ready (else it is ready once spawned).
    pub fn gates_readiness(&self) -> bool {
        self.life_probes.load(Ordering::Relaxed)
    }

    /// The current child is ready: tells the supervisor once per child.
    pub fn mark_ready(&self, source: &str) {
        let Some(pid) = self.child_pid() else { return };
        let mut sent = self.ready_sent.lock().unwrap_or_else(|p| p.into_inner());
        if *sent != Some(pid) {
            *sent = Some(pid);
            tracing::info!(source, pid, "the gateway is ready");
            self.inbox.event(crate::supervisor::Event::Ready { pid });
        }
    }

    /// The current child is ready: a probe said so, or (when none decides) it runs.
    pub fn is_ready(&self) -> bool {
        let Some(pid) = self.child_pid() else {
            return false;
        };
        !self.gates_readiness()
            || *self.ready_sent.lock().unwrap_or_else(|p| p.into_inner()) == Some(pid)
    }

    pub fn set_life_probes(&self, any: bool) {
        self.life_probes.store(any, Ordering::Relaxed);
    }

    /// The current child has proved it is up (or no probe could tell).
    pub fn started(&self) -> bool {
        !self.life_probes.load(Ordering::Relaxed) || self.with_gate(Instant::now(), |g| g.started())
    }

    /// Inside the current child's startup grace (never, when no probe can end it).
    pub fn in_grace(&self, now: Instant) -> bool {
        self.life_probes.load(Ordering::Relaxed) && self.with_gate(now, |g| g.in_grace(now))
    }

    /// Records that a probe passed; the first pass of a child ends its startup grace.
    pub fn proof_of_life(&self, source: &str) {
        let pid = self.child_pid();
        self.with_gate(Instant::now(), |g| {
            if !g.started() {
                g.proof_of_life();
                tracing::info!(
                    source,
                    pid,
                    "the gateway passed its first probe: startup grace over"
                );
            }
        });
        if !self.ready_probe.load(Ordering::Relaxed) {
            self.mark_ready(source);
        }
    }

    pub fn set_startup_timeout(&self, timeout: Duration) {
        let mut g = self.gate.lock().unwrap_or_else(|p| p.into_inner());
        g.1.set_timeout(timeout);
    }

    pub fn liveness_failing(&self) -> bool {
        self.liveness_failing.load(Ordering::Relaxed)
    }

    pub fn set_liveness_failing(&self, failing: bool) {
        self.liveness_failing.store(failing, Ordering::Relaxed);
    }
}

/// Sleeps for `period`, waking early when the child changes (a new child is probed at once).
pub async fn sleep_or_child_change(period: Duration, child: &mut watch::Receiver<Option<i32>>) {
    tokio::select! {
        _ = tokio::time::sleep(period) => {}
        r = child.changed() => {
            if r.is_err() {
                // The runner is gone: clawvisor is exiting. Keep the period anyway.
                tokio::time::sleep(period).await;
            }
        }
    }
}
