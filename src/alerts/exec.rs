//! Exec channels: a program run for each message, with the alert in `CLAWVISOR_ALERT_*`
//! environment variables and the JSON (as sent to a "json" webhook) on stdin. It runs through
//! the one reaper, in its own process group, killed as a group at its timeout.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::alert::Notification;
use super::channel::Transport;
use super::format;
use super::retry::SendError;
use super::text;

/// What an alert hook's run gives: "exited with code 0" or why it failed, plus its output.
pub type HookResult = Result<(bool, String, String), String>;

/// Runs a hook command: in clawvisor, the process layer's [`AuxRunner`].
pub trait HookRunner: Send + Sync + 'static {
    fn run_hook(
        &self,
        argv: Vec<String>,
        env: Vec<(String, String)>,
        stdin: Vec<u8>,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = HookResult> + Send>>;
}

pub struct ExecHook {
    pub command: Vec<String>,
    pub timeout: Duration,
    pub runner: Arc<dyn HookRunner>,
}

/// The `CLAWVISOR_ALERT_*` variables for `n`.
pub fn environment(n: &Notification) -> Vec<(String, String)> {
    let a = &n.alert;
    let d = &a.details;
    let status = match n.status {
        super::alert::Status::Firing => "firing",
        super::alert::Status::Resolved => "resolved",
    };
    let mut env = vec![
        ("KIND", a.kind.clone()),
        ("SEVERITY", a.severity.name().to_string()),
        ("STATUS", status.to_string()),
        ("SUBJECT", a.subject.clone()),
        ("SUMMARY", a.summary.clone()),
        ("TITLE", text::title(n)),
        ("FINGERPRINT", n.fingerprint.clone()),
        ("HOST", n.host.clone()),
        ("OCCURRENCES", n.occurrences.to_string()),
        ("TEST", if n.test { "1" } else { "0" }.to_string()),
        ("AT", text::rfc3339(a.at)),
    ];
    let optional = [
        ("REASON", d.reason.clone()),
        ("GATEWAY_PID", d.gateway_pid.map(|p| p.to_string())),
        ("LAST_EXIT", d.last_exit.clone()),
        ("RESUME_CMD", d.resume_command.clone()),
        (
            "RESTARTS_IN_WINDOW",
            d.restarts_in_window.map(|r| r.to_string()),
        ),
    ];
    env.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
    env.into_iter()
        .map(|(k, v)| {
            // An environment string cannot hold NUL.
            (format!("CLAWVISOR_ALERT_{k}"), v.replace('\0', " "))
        })
        .collect()
}

impl ExecHook {
    async fn run(&self, n: &Notification) -> Result<(), SendError> {
        let json = serde_json::to_vec(&format::json_v1(n)).unwrap_or_default();
        let result = self
            .runner
            .run_hook(self.command.clone(), environment(n), json, self.timeout)
            .await;
        match result {
            Ok((true, _, _)) => Ok(()),
            Ok((false, exit, output)) => {
                let tail: String = output.trim().chars().rev().take(200).collect();
                let tail: String = tail.chars().rev().collect();
                let mut message = format!("{:?} {exit}", self.command[0]);
                if !tail.is_empty() {
                    message.push_str(&format!(": {tail}"));
                }
                Err(SendError::retryable(message))
            }
            Err(e) => Err(SendError::retryable(e)),
        }
    }
}

impl Transport for ExecHook {
    fn send<'a>(
        &'a self,
        n: &'a Notification,
    ) -> Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>> {
        Box::pin(self.run(n))
    }
}
