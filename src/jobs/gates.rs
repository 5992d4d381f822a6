//! The gates a due run waits on, pure: the gateway (ready, or merely running) and the GPU
//! (utilisation below / free memory above, held for a while). Each answers `None` when it
//! passes, or what it waits for, in words for `ctl jobs`.

use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::config::{JobConfig, Requires};
use crate::supervisor::GatewayView;
use crate::watch::wait_idle::{Seen, WaitIdleOpts, judge_idle};

/// `None` when the gateway is as the job requires.
pub fn gateway_gate(req: Requires, v: &GatewayView) -> Option<String> {
    match req {
        Requires::None => None,
        _ if v.shutting_down => Some("clawvisor is stopping".into()),
        Requires::Running if v.pid.is_some() => None,
        Requires::Running => Some("gateway not running".into()),
        Requires::Ready if v.ready => None,
        Requires::Ready if v.pid.is_some() => Some("gateway not ready".into()),
        Requires::Ready => Some("gateway not running".into()),
    }
}

/// Whether the job has a GPU gate at all.
pub fn has_gpu_gate(job: &JobConfig) -> bool {
    job.gpu_util_below.is_some() || job.gpu_mem_free_above.is_some()
}

/// The GPU gate of one waiting run: it passes once the GPU has been idle (by the job's
/// thresholds) for `gpu_held_for` without a break.
#[derive(Clone, Debug, Default)]
pub struct GpuGate {
    idle_since: Option<Instant>,
}

impl GpuGate {
    /// Looks at the latest readings (`parts` as in `ctl status`) at `now`.
    pub fn observe(
        &mut self,
        job: &JobConfig,
        parts: &Map<String, Value>,
        now: Instant,
    ) -> Option<String> {
        if !has_gpu_gate(job) {
            return None;
        }
        let opts = WaitIdleOpts {
            gpu_util_below: job.gpu_util_below.map_or(100.1, |p| p.0),
            gpu_mem_free_above: job.gpu_mem_free_above.map(|s| s.bytes()),
            ..WaitIdleOpts::default()
        };
        match judge_idle(parts, &opts) {
            // No GPU watching on this machine: nothing to wait for.
            Seen::NoGpu(_) => None,
            Seen::Busy(what) => {
                self.idle_since = None;
                Some(format!("gpu busy ({what})"))
            }
            // A reading that cannot be judged (MIG, a hung driver, a stale value) is not idle:
            // wait, and `max_wait` turns a long wait into a skipped run and an alert.
            Seen::Unknown(why) => {
                self.idle_since = None;
                Some(format!("gpu unknown ({why})"))
            }
            Seen::Idle(what) => {
                let since = *self.idle_since.get_or_insert(now);
                let held = now.saturating_duration_since(since);
                let need: Duration = job.gpu_held_for.get();
                if held >= need {
                    None
                } else {
                    Some(format!(
                        "gpu idle for {:.0}s of {} ({what})",
                        held.as_secs_f64(),
                        humantime::format_duration(need)
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(extra: &str) -> JobConfig {
        toml::from_str(&format!(
            "name = \"j\"\ncommand = [\"true\"]\nevery = \"1m\"\n{extra}"
        ))
        .unwrap()
    }

    fn parts(util: f64) -> Map<String, Value> {
        let v = json!({"gpu": {"enabled": true, "devices": [
            {"index": 0, "utilization_percent": util, "memory_free": 8u64 << 30}
        ]}});
        v.as_object().unwrap().clone()
    }

    #[test]
    fn gateway_requirements() {
        let up = GatewayView {
            pid: Some(7),
            ready: false,
            epoch: 1,
            shutting_down: false,
        };
        assert_eq!(
            gateway_gate(Requires::Ready, &up).as_deref(),
            Some("gateway not ready")
        );
        assert_eq!(gateway_gate(Requires::Running, &up), None);
        let ready = GatewayView { ready: true, ..up };
        assert_eq!(gateway_gate(Requires::Ready, &ready), None);
        assert!(gateway_gate(Requires::Running, &GatewayView::default()).is_some());
        assert_eq!(gateway_gate(Requires::None, &GatewayView::default()), None);
    }

    #[test]
    fn gpu_gate_needs_idle_held_and_restarts_on_busy() {
        let j = job("gpu_util_below = 50\ngpu_held_for = \"10s\"");
        let mut g = GpuGate::default();
        let t0 = Instant::now();
        assert!(
            g.observe(&j, &parts(95.0), t0)
                .unwrap()
                .starts_with("gpu busy")
        );
        assert!(
            g.observe(&j, &parts(10.0), t0)
                .unwrap()
                .contains("idle for 0s")
        );
        assert!(
            g.observe(&j, &parts(10.0), t0 + Duration::from_secs(5))
                .is_some()
        );
        assert!(
            g.observe(&j, &parts(90.0), t0 + Duration::from_secs(6))
                .is_some()
        );
        assert!(
            g.observe(&j, &parts(10.0), t0 + Duration::from_secs(7))
                .is_some()
        );
        assert!(
            g.observe(&j, &parts(10.0), t0 + Duration::from_secs(16))
                .is_some()
        );
        assert_eq!(
            g.observe(&j, &parts(10.0), t0 + Duration::from_secs(17)),
            None
        );
        // No gate configured, or no GPU watching: passes.
        assert_eq!(GpuGate::default().observe(&job(""), &parts(99.0), t0), None);
        let off = json!({"gpu": {"enabled": false, "why": "no NVML"}});
        assert_eq!(g.observe(&j, off.as_object().unwrap(), t0), None);
    }
}
