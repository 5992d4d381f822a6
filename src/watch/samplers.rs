//! The layer-1 sampling tasks: memory tree and disk (the GPU's is in [`super::gpu_task`]).
//! Each runs on its own tokio task and does its /proc and statvfs reads on the blocking pool,
//! never on the brain's task.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use super::disk;
use super::held_threshold::HeldThreshold;
use super::memory::MemoryTracker;
use super::shared::{Shared, sleep_or_child_change};
use super::tree_sample::TreeSampler;
use super::verdict::Verdict;
use crate::config::{DiskConfig, MemoryConfig, MemoryMeasure, Size};
use crate::supervisor::Reaction;

fn me() -> i32 {
    std::process::id() as i32
}

/// When thresholds compare RSS, PSS (a page-table walk per process: ~40 µs each, 50 ms for
/// a tree of 1000) is read only every this many samples, for status.
const PSS_EVERY: u64 = 12;

pub async fn memory_task(shared: Arc<Shared>, cfg: MemoryConfig) {
    let mut child = shared.child.clone();
    let sampler = Arc::new(Mutex::new(TreeSampler::new(true)));
    let mut samples = 0u64;
    let mut last_pss: Option<(u64, usize, Instant)> = None;
    let mut tracker = MemoryTracker::new(&cfg);
    let mut last_pid = None;
    loop {
        let pid = shared.child_pid();
        if pid != last_pid {
            tracker.reset();
            last_pid = pid;
            samples = 0;
            last_pss = None;
        }
        match pid {
            None => shared
                .readings
                .publish("memory", json!({"gateway_running": false})),
            Some(pid) => {
                let s = sampler.clone();
                let read_pss =
                    cfg.measure == MemoryMeasure::Pss || samples.is_multiple_of(PSS_EVERY);
                samples += 1;
                let sample = tokio::task::spawn_blocking(move || {
                    let started = Instant::now();
                    let mut s = s.lock().unwrap_or_else(|p| p.into_inner());
                    s.read_pss = read_pss;
                    let sample = s.sample(pid, me(), &HashSet::new());
                    (sample, started.elapsed())
                })
                .await;
                let Ok((mut sample, cost)) = sample else {
                    continue;
                };
                if read_pss {
                    last_pss = Some((sample.pss_bytes, sample.pss_unreadable, Instant::now()));
                } else if let Some((pss, unreadable, _)) = last_pss {
                    sample.pss_bytes = pss;
                    sample.pss_unreadable = unreadable;
                }
                let now = Instant::now();
                for v in tracker.observe(&sample, now) {
                    shared.send("memory", v);
                }
                let mut reading = serde_json::to_value(&sample).unwrap_or_default();
                reading["gateway_running"] = json!(true);
                reading["measure"] = json!(cfg.measure);
                reading["measured_bytes"] = json!(tracker.measured(&sample));
                reading["rss"] = json!(Size(sample.rss_bytes).to_string());
                reading["pss"] = json!(Size(sample.pss_bytes).to_string());
                reading["pss_age_secs"] = json!(last_pss.map(|(_, _, at)| at.elapsed().as_secs()));
                reading["growth_per_hour_bytes"] =
                    json!(tracker.growth_per_hour().map(|g| g as i64));
                reading["warn_above"] = json!(cfg.warn_above.to_string());
                reading["restart_above"] = json!(cfg.restart_above.to_string());
                reading["above_restart_for_secs"] =
                    json!(tracker.above_restart_for(now).map(|d| d.as_secs()));
                reading["sample_cost_us"] = json!(cost.as_micros() as u64);
                shared.readings.publish("memory", reading);
            }
        }
        sleep_or_child_change(cfg.interval.get(), &mut child).await;
    }
}

pub async fn disk_task(
    shared: Arc<Shared>,
    cfg: DiskConfig,
    logs_dir: PathBuf,
    state_dir: PathBuf,
) {
    let mut alerts: Vec<HeldThreshold> = Vec::new();
    loop {
        let (logs, state) = (logs_dir.clone(), state_dir.clone());
        let warn = cfg.warn_above.0;
        let clean = cfg.clean_rotated_logs;
        let result = tokio::task::spawn_blocking(move || {
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for (role, dir) in [("logs", &logs), ("state", &state)] {
                let Ok(u) = disk::usage(dir) else { continue };
                if !seen.insert(u.device) {
                    continue;
                }
                let deleted = if role == "logs" && clean && u.used_percent >= warn {
                    disk::clean_rotated_logs(dir, warn)
                } else {
                    Vec::new()
                };
                out.push((role, u, deleted));
            }
            out
        })
        .await
        .unwrap_or_default();
        alerts.resize_with(result.len(), || HeldThreshold::new(warn, Duration::ZERO));
        let mut filesystems = Vec::new();
        for (i, (role, u, deleted)) in result.iter().enumerate() {
            if alerts[i].observe(u.used_percent, Instant::now()) {
                shared.send(
                    "disk",
                    Verdict::new(
                        Reaction::Alert,
                        format!(
                            "the filesystem of {} ({}) is {:.1}% full, above disk.warn_above ({})",
                            u.path.display(),
                            role,
                            u.used_percent,
                            cfg.warn_above
                        ),
                    ),
                );
            }
            if !deleted.is_empty() {
                let bytes: u64 = deleted.iter().map(|d| d.1).sum();
                shared.send(
                    "disk",
                    Verdict::new(
                        Reaction::Alert,
                        format!(
                            "deleted the {} oldest rotated logs ({}) in {} to get below {}",
                            deleted.len(),
                            Size(bytes),
                            u.path.display(),
                            cfg.warn_above
                        ),
                    ),
                );
            }
            let mut v = serde_json::to_value(u).unwrap_or_default();
            v["role"] = json!(role);
            v["deleted_rotated_logs"] = json!(deleted.len());
            filesystems.push(v);
        }
        shared.readings.publish(
            "disk",
            json!({"filesystems": filesystems, "warn_above": cfg.warn_above.0}),
        );
        tokio::time::sleep(cfg.interval.get()).await;
    }
}
