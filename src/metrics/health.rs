//! /healthz and /readyz: what each answers, as pure functions of a snapshot.

use crate::supervisor::Status;

/// /readyz: ready as clawvisor sees it, or why not (for a load balancer or Kubernetes).
pub fn readiness(s: &Status) -> Result<String, String> {
    match s.state.as_str() {
        "running" if s.ready => Ok(format!(
            "ready: gateway pid {} answers",
            s.pid.map_or("?".into(), |p| p.to_string())
        )),
        "running" => Err("loading: the gateway runs but its readiness probe has not passed".into()),
        "paused" => Err(format!(
            "paused: {}",
            s.pause
                .as_ref()
                .map_or("no reason recorded", |p| p.reason.as_str())
        )),
        "backoff" => Err(format!(
            "backoff: restart in {:.1}s{}",
            s.backoff_remaining_secs.unwrap_or(0.0),
            s.last_exit
                .as_ref()
                .map_or(String::new(), |e| format!(" (last: {})", e.exit))
        )),
        "starting" => Err("starting: the gateway is being spawned".into()),
        "stopping" => Err("stopping: the gateway is being stopped".into()),
        "stopped" => Err("stopped: held down by `clawvisor ctl stop`".into()),
        other => Err(format!("{other}: not serving")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: &str, ready: bool) -> Status {
        Status {
            state: state.into(),
            pid: Some(7),
            uptime_secs: None,
            ready,
            restarts: 0,
            restarts_by_reason: Default::default(),
            last_exit: None,
            backoff_remaining_secs: Some(2.0),
            pause: None,
            resume_hint: None,
            last_reason: None,
            parts: Default::default(),
        }
    }

    #[test]
    fn only_a_ready_running_gateway_is_ready() {
        assert!(readiness(&status("running", true)).is_ok());
        assert!(
            readiness(&status("running", false))
                .unwrap_err()
                .starts_with("loading")
        );
        assert!(
            readiness(&status("backoff", false))
                .unwrap_err()
                .starts_with("backoff: restart in 2.0s")
        );
        assert!(
            readiness(&status("paused", false))
                .unwrap_err()
                .starts_with("paused")
        );
        assert!(readiness(&status("stopped", false)).is_err());
    }
}
