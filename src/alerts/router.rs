//! The alert router: takes alerts from anywhere (the brain, a job runner), runs them
//! through the policy and hands the resulting messages to each channel's queue. Raising an
//! alert is a short, lock-protected computation: the caller never waits for a network.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Value, json};
use tokio::sync::Notify;

use super::alert::{Alert, Notification, Severity, Status};
use super::channel::{ChannelSpec, Filter, Transport};
use super::exec::{ExecHook, HookRunner};
use super::policy::{Policy, PolicyConfig};
use super::retry::SendError;
use super::sender::ChannelHandle;
use super::smtp::Smtp;
use super::webhook::Webhook;
use crate::config::AlertsConfig;

/// A cheap, cloneable handle; every clone feeds the same policy and channels.
#[derive(Clone)]
pub struct AlertRouter {
    inner: Arc<Inner>,
}

struct Inner {
    policy: Mutex<Policy>,
    channels: Vec<ChannelHandle>,
    wake: Notify,
    host: String,
}

/// One channel's answer to `ctl alert test`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct TestResult {
    pub channel: String,
    pub ok: bool,
    pub message: String,
}

impl AlertRouter {
    /// Builds the channels and starts their senders and the policy's timer on the current
    /// tokio runtime. `hooks` runs exec channels (None: they fail with a clear error).
    pub fn start(cfg: &AlertsConfig, hooks: Option<Arc<dyn HookRunner>>) -> AlertRouter {
        let host = cfg.host.clone().unwrap_or_else(|| {
            nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| "localhost".into())
        });
        let names = cfg.channel_names();
        let mut specs = Vec::new();
        for (w, (_, name)) in cfg.webhook.iter().zip(&names) {
            specs.push(spec(
                name,
                format!("webhook:{}", w.format.name()),
                Filter::from_config(&w.filter()),
                w.timeout.get(),
                Webhook::new(w).map(|t| Box::new(t) as Box<dyn Transport>),
            ));
        }
        let names = &names[cfg.webhook.len()..];
        for (m, (_, name)) in cfg.smtp.iter().zip(names) {
            specs.push(spec(
                name,
                "smtp".into(),
                Filter::from_config(&m.filter()),
                m.timeout.get(),
                Smtp::new(m).map(|t| Box::new(t) as Box<dyn Transport>),
            ));
        }
        let names = &names[cfg.smtp.len()..];
        for (e, (_, name)) in cfg.exec.iter().zip(names) {
            let hook = match &hooks {
                Some(runner) => Ok(Box::new(ExecHook {
                    command: e.command.clone(),
                    timeout: e.timeout.get(),
                    runner: runner.clone(),
                }) as Box<dyn Transport>),
                None => Err("exec channels need clawvisor's process layer".to_string()),
            };
            // The hook's own timeout kills its group; this outer bound only backs it up.
            let bound = e.timeout.get() + std::time::Duration::from_secs(5);
            specs.push(spec(
                name,
                "exec".into(),
                Filter::from_config(&e.filter()),
                bound,
                hook,
            ));
        }
        let channels = specs
            .into_iter()
            .map(|s| ChannelHandle::start(s, cfg.queue, cfg.attempts))
            .collect();
        let inner = Arc::new(Inner {
            policy: Mutex::new(Policy::new(PolicyConfig {
                group_wait: cfg.group_wait.get(),
                reminders: cfg.reminders.iter().map(|d| d.get()).collect(),
                host: host.clone(),
            })),
            channels,
            wake: Notify::new(),
            host,
        });
        tokio::spawn(timer(inner.clone()));
        AlertRouter { inner }
    }

    /// Takes an alert in; whatever is due goes to the channels' queues at once, the rest
    /// when its group wait or reminder comes. Never blocks on delivery.
    pub fn raise(&self, alert: Alert) {
        let out = self
            .inner
            .policy
            .lock()
            .unwrap()
            .on_alert(alert, Instant::now());
        self.dispatch(&out);
        // The timer may need an earlier wake-up now.
        self.inner.wake.notify_one();
    }

    fn dispatch(&self, out: &[Notification]) {
        for n in out {
            for c in &self.inner.channels {
                c.offer(n);
            }
        }
    }

    /// Sends a test message to every channel (or the one named), once each, concurrently,
    /// bypassing filters, grouping and queues; answers each channel's result.
    pub async fn test(&self, channel: Option<String>) -> Result<Vec<TestResult>, String> {
        let chosen: Vec<ChannelHandle> = self
            .inner
            .channels
            .iter()
            .filter(|c| channel.as_deref().is_none_or(|n| n == c.name()))
            .cloned()
            .collect();
        if chosen.is_empty() {
            return Err(match channel {
                Some(n) => {
                    let known: Vec<&str> = self.inner.channels.iter().map(|c| c.name()).collect();
                    format!("no alert channel named {n:?} (channels: {})", known.join(", "))
                }
                None => "no alert channels are configured ([[alerts.webhook]], [alerts.smtp], [[alerts.exec]])".into(),
            });
        }
        let alert = Alert::new(
            "test",
            Severity::Info,
            "clawvisor",
            "test alert from `clawvisor ctl alert test`: this channel works",
        );
        let n = Notification {
            fingerprint: alert.fingerprint(),
            started_at: alert.at,
            alert,
            status: Status::Firing,
            occurrences: 1,
            reminder: false,
            test: true,
            host: self.inner.host.clone(),
        };
        let runs = chosen.into_iter().map(|c| {
            let n = n.clone();
            tokio::spawn(async move {
                let r = c.deliver(&n, 1).await;
                TestResult {
                    channel: c.name().to_string(),
                    ok: r.is_ok(),
                    message: r.unwrap_or_else(|e| e),
                }
            })
        });
        let mut results = Vec::new();
        for r in runs.collect::<Vec<_>>() {
            if let Ok(t) = r.await {
                results.push(t);
            }
        }
        Ok(results)
    }

    /// For `ctl status` and metrics: `{"channels": [...], "suppressed": {...}, "firing": N}`.
    pub fn snapshot(&self) -> Value {
        let (suppressed, firing) = {
            let p = self.inner.policy.lock().unwrap();
            (p.suppressed, p.firing())
        };
        let channels: Vec<_> = self.inner.channels.iter().map(|c| c.stats()).collect();
        json!({
            "channels": channels,
            "suppressed": suppressed,
            "firing": firing,
        })
    }
}

fn spec(
    name: &str,
    kind: String,
    filter: Filter,
    timeout: std::time::Duration,
    transport: Result<Box<dyn Transport>, String>,
) -> ChannelSpec {
    let transport = transport.unwrap_or_else(|e| {
        tracing::error!(channel = name, "alert channel unusable: {e}");
        Box::new(Broken(e)) as Box<dyn Transport>
    });
    ChannelSpec {
        name: name.to_string(),
        kind,
        filter,
        timeout,
        transport,
    }
}

/// A channel whose setup failed: every send reports why.
struct Broken(String);

impl Transport for Broken {
    fn send<'a>(
        &'a self,
        _: &'a Notification,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>> {
        let e = SendError::fatal(self.0.clone());
        Box::pin(async move { Err(e) })
    }
}

use std::future::Future;

/// Wakes the policy when a group wait or a reminder is due. Lives as long as the runtime
/// (clawvisor has one router for its whole life).
async fn timer(inner: Arc<Inner>) {
    loop {
        let deadline = inner.policy.lock().unwrap().next_deadline();
        let wake = inner.wake.notified();
        tokio::select! {
            _ = wake => {}
            _ = sleep_until(deadline) => {}
        }
        let out = inner.policy.lock().unwrap().on_tick(Instant::now());
        AlertRouter {
            inner: inner.clone(),
        }
        .dispatch(&out);
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}
