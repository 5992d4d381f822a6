//! The GPU sampling task and the VRAM-release wait. NVML runs only on the NVML thread
//! ([`GpuReader`]), each read under a timeout; the tracker has its own lock, never held
//! across an NVML call, so a reload or the brain never waits on the driver.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::json;

use super::gpu::{GpuTracker, invisible_pids};
use super::gpu_reader::GpuReader;
use super::gpu_source::GpuError;
use super::shared::{Shared, sleep_or_child_change};
use super::tree_sample::TreeSampler;
use crate::config::GpuConfig;

/// The NVML thread and the tracker, shared by the sampling task and the release wait.
#[derive(Clone)]
pub struct GpuState {
    pub reader: GpuReader,
    pub tracker: Arc<Mutex<GpuTracker>>,
}

impl GpuState {
    pub fn tracker(&self) -> MutexGuard<'_, GpuTracker> {
        self.tracker.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How long one reading may take before it counts as hung: twice the interval, within
/// 2–20 s (NVML answers in milliseconds when the driver is well).
pub fn read_limit(interval: Duration) -> Duration {
    (interval * 2).clamp(Duration::from_secs(2), Duration::from_secs(20))
}

fn me() -> i32 {
    std::process::id() as i32
}

pub async fn gpu_task(shared: Arc<Shared>, cfg: GpuConfig, gpu: GpuState) {
    let mut child = shared.child.clone();
    let sampler = Arc::new(Mutex::new(TreeSampler::new(false)));
    let limit = read_limit(cfg.interval.get());
    let mut last_pid = None;
    let mut last_ok: Option<Instant> = None;
    // What was last warned about, so a lasting problem is logged once.
    let mut warned = String::new();
    loop {
        let pid = shared.child_pid();
        if pid != last_pid {
            gpu.tracker().reset();
            last_pid = pid;
        }
        let trouble = match gpu.reader.read(limit).await {
            Ok(read) => {
                let s = sampler.clone();
                // /proc reads, off the runtime's workers.
                let seen = tokio::task::spawn_blocking(move || {
                    let mut tree = HashSet::new();
                    if let Some(pid) = pid {
                        let sample = s.lock().unwrap_or_else(|p| p.into_inner()).sample(
                            pid,
                            me(),
                            &HashSet::new(),
                        );
                        tree.extend(sample.pids.iter().map(|&p| p as u32));
                    }
                    let hidden = invisible_pids(&read);
                    (read, tree, hidden)
                })
                .await;
                let Ok((read, tree, hidden)) = seen else {
                    sleep_or_child_change(cfg.interval.get(), &mut child).await;
                    continue;
                };
                let o = gpu.tracker().observe(&read, &tree, &hidden, Instant::now());
                for w in o.warnings {
                    tracing::warn!("{w}");
                }
                for v in o.verdicts {
                    shared.send("gpu", v);
                }
                shared.readings.publish("gpu", o.summary);
                last_ok = Some(Instant::now());
                read.devices
                    .iter()
                    .filter_map(|d| d.error.as_ref().map(|e| format!("GPU {}: {e}", d.label())))
                    .collect::<Vec<_>>()
                    .join("; ")
            }
            Err(GpuError::Off(why)) => {
                shared
                    .readings
                    .publish("gpu", json!({"enabled": false, "why": why}));
                String::new()
            }
            Err(e) => {
                let mut part = json!({
                    "enabled": true,
                    "error": e.to_string(),
                    "stale": matches!(e, GpuError::Hung(_)),
                    "last_reading_secs_ago": last_ok.map(|t| t.elapsed().as_secs()),
                    "interval_secs": cfg.interval.get().as_secs_f64(),
                });
                if matches!(e, GpuError::Failed(_)) {
                    part["retry_secs"] = json!(super::gpu_reader::OPEN_RETRY.as_secs());
                }
                shared.readings.publish("gpu", part);
                match e {
                    // The reader warns about opening; a hung call is warned here once.
                    GpuError::Hung(_) => "an NVML call is hung".to_string(),
                    _ => String::new(),
                }
            }
        };
        if trouble != warned {
            if !trouble.is_empty() {
                tracing::warn!("GPU readings are incomplete: {trouble}");
            } else if !warned.is_empty() {
                tracing::info!("GPU readings are complete again");
            }
            warned = trouble;
        }
        sleep_or_child_change(cfg.interval.get(), &mut child).await;
    }
}

/// Waits (at most `timeout`) until no process of an old gateway tree holds GPU memory. A
/// reading that fails or hangs does not end the wait while holders are known: only a
/// reading that shows them gone, or the timeout, does.
pub async fn wait_released(gpu: GpuState, timeout: Duration) {
    if !gpu.tracker().waiting_for_any() {
        return;
    }
    let deadline = Instant::now() + timeout;
    let mut said = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let released = match gpu.reader.read(left).await {
            Ok(read) => gpu.tracker().released(Some(&read)),
            Err(GpuError::Off(_)) => return,
            Err(e) => {
                if !said {
                    said = true;
                    tracing::warn!(
                        holders = ?gpu.tracker().holders(),
                        "cannot read the GPU while waiting for the old gateway tree's VRAM: {e}"
                    );
                }
                gpu.tracker().released(None)
            }
        };
        if released {
            return;
        }
        let now = Instant::now();
        if now >= deadline {
            tracing::warn!(
                holders = ?gpu.tracker().holders(),
                "GPU memory of the old gateway tree not released after {}; starting anyway",
                humantime::format_duration(timeout)
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(250).min(deadline - now)).await;
    }
}
