//! `[gpu]`: thresholds on device utilisation and on the tree's GPU memory, and what the
//! VRAM-release wait waits for. Pure: readings and `now` are passed in.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::gpu_source::GpuDevice;
use super::held_threshold::HeldThreshold;
use super::verdict::Verdict;
use crate::config::{GpuConfig, Size};
use crate::supervisor::Reaction;

#[derive(Debug)]
pub struct GpuTracker {
    cfg: GpuConfig,
    utilization: BTreeMap<u32, HeldThreshold>,
    memory_warn: HeldThreshold,
    memory_restart: HeldThreshold,
    /// NVML pids that belonged to a gateway tree (this child's or an earlier one's) and that
    /// NVML still lists: the memory a new child must wait for.
    held_by_old_trees: HashSet<u32>,
}

impl GpuTracker {
    pub fn new(cfg: &GpuConfig) -> GpuTracker {
        let limit = |s: Option<Size>| s.map_or(0.0, |s| s.0 as f64);
        GpuTracker {
            cfg: cfg.clone(),
            utilization: BTreeMap::new(),
            memory_warn: HeldThreshold::new(limit(cfg.warn_memory_above), Duration::ZERO),
            memory_restart: HeldThreshold::new(limit(cfg.restart_memory_above), cfg.held_for.get()),
            held_by_old_trees: HashSet::new(),
        }
    }

    /// A new child: threshold timers restart; pids of old trees are still remembered.
    pub fn reset(&mut self) {
        self.memory_warn.reset();
        self.memory_restart.reset();
    }

    /// One reading. `tree_ids` holds every pid of the gateway tree under every name it has
    /// (its NSpid list), since NVML may report host pids inside a container.
    pub fn observe(
        &mut self,
        devices: &[GpuDevice],
        tree_ids: &HashSet<u32>,
        now: Instant,
    ) -> (Value, Vec<Verdict>) {
        let mut out = Vec::new();
        let mut tree_memory = 0u64;
        let mut listed = HashSet::new();
        let mut dev_json = Vec::new();
        for d in devices {
            let mut mine = 0u64;
            for p in &d.processes {
                listed.insert(p.pid);
                if tree_ids.contains(&p.pid) {
                    mine += p.memory_used;
                    self.held_by_old_trees.insert(p.pid);
                }
            }
            tree_memory += mine;
            if let Some(limit) = self.cfg.warn_utilization_above {
                let t = self
                    .utilization
                    .entry(d.index)
                    .or_insert_with(|| HeldThreshold::new(limit.0, self.cfg.held_for.get()));
                if t.observe(d.utilization_percent, now) {
                    out.push(Verdict::new(
                        Reaction::Alert,
                        format!(
                            "GPU {} utilisation {:.0}% stayed above gpu.warn_utilization_above ({limit}) for {}",
                            d.index, d.utilization_percent, self.cfg.held_for
                        ),
                    ));
                }
            }
            dev_json.push(json!({
                "index": d.index,
                "name": d.name,
                "utilization_percent": d.utilization_percent,
                "memory_used": d.memory_used,
                "memory_total": d.memory_total,
                "memory_free": d.memory_total.saturating_sub(d.memory_used),
                "gateway_memory": mine,
            }));
        }
        self.held_by_old_trees.retain(|p| listed.contains(p));
        if self.memory_warn.observe(tree_memory as f64, now) {
            out.push(Verdict::new(
                Reaction::Alert,
                format!(
                    "gateway tree GPU memory {} is above gpu.warn_memory_above ({})",
                    Size(tree_memory),
                    self.cfg.warn_memory_above.unwrap_or_default()
                ),
            ));
        }
        if self.memory_restart.observe(tree_memory as f64, now) {
            out.push(Verdict::new(
                Reaction::Restart,
                format!(
                    "gateway tree GPU memory {} stayed above gpu.restart_memory_above ({}) for {}",
                    Size(tree_memory),
                    self.cfg.restart_memory_above.unwrap_or_default(),
                    self.cfg.held_for
                ),
            ));
        }
        let summary = json!({
            "enabled": true,
            "devices": dev_json,
            "gateway_memory": tree_memory,
            "gateway_gpu_pids": sorted(&self.held_by_old_trees),
        });
        (summary, out)
    }

    /// True when no process of an old tree still holds GPU memory (by the latest reading).
    pub fn released(&mut self, devices: &[GpuDevice]) -> bool {
        let listed: HashSet<u32> = devices
            .iter()
            .flat_map(|d| d.processes.iter().map(|p| p.pid))
            .collect();
        self.held_by_old_trees.retain(|p| listed.contains(p));
        self.held_by_old_trees.is_empty()
    }

    /// Carries the pids still to be released over into a tracker with new settings.
    pub fn remember(&mut self, pids: Vec<u32>) {
        self.held_by_old_trees.extend(pids);
    }

    pub fn holders(&self) -> Vec<u32> {
        sorted(&self.held_by_old_trees)
    }
}

fn sorted(s: &HashSet<u32>) -> Vec<u32> {
    let mut v: Vec<u32> = s.iter().copied().collect();
    v.sort_unstable();
    v
}

/// Every name of a process: its pid here plus its NSpid entries (`NSpid: 4711 12`), read
/// from /proc/PID/status. A host pid that NVML reports matches one of them when clawvisor
/// can see the outer namespace.
pub fn pid_aliases(pid: i32) -> Vec<u32> {
    let mut out = vec![pid as u32];
    if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
        out.extend(parse_nspid(&status));
    }
    out
}

fn parse_nspid(status: &str) -> Vec<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|v| {
            v.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Dur, Percent};
    use crate::watch::gpu_source::GpuProcess;

    fn dev(util: f64, procs: &[(u32, u64)]) -> GpuDevice {
        GpuDevice {
            index: 0,
            name: "fake".into(),
            utilization_percent: util,
            memory_used: procs.iter().map(|p| p.1).sum(),
            memory_total: 16 << 30,
            processes: procs
                .iter()
                .map(|&(pid, memory_used)| GpuProcess { pid, memory_used })
                .collect(),
        }
    }

    #[test]
    fn thresholds_alert_and_restart_on_the_trees_memory_only() {
        let cfg = GpuConfig {
            warn_utilization_above: Some(Percent(90.0)),
            warn_memory_above: Some(Size::gib(4)),
            restart_memory_above: Some(Size::gib(8)),
            held_for: Dur::secs(30),
            ..GpuConfig::default()
        };
        let mut g = GpuTracker::new(&cfg);
        let tree: HashSet<u32> = [100].into_iter().collect();
        let t0 = Instant::now();
        let s = Duration::from_secs;
        // Another process's 10 GiB is not the gateway's.
        let (sum, v) = g.observe(&[dev(50.0, &[(100, 1 << 30), (200, 10 << 30)])], &tree, t0);
        assert!(v.is_empty());
        assert_eq!(sum["gateway_memory"], 1u64 << 30);
        let (_, v) = g.observe(&[dev(95.0, &[(100, 9 << 30)])], &tree, t0 + s(1));
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].reason.contains("warn_memory_above"));
        let (_, v) = g.observe(&[dev(95.0, &[(100, 9 << 30)])], &tree, t0 + s(31));
        let reactions: Vec<_> = v.iter().map(|v| v.reaction).collect();
        assert_eq!(reactions, [Reaction::Alert, Reaction::Restart], "{v:?}");
    }

    #[test]
    fn release_waits_for_old_tree_pids_to_leave_the_device() {
        let mut g = GpuTracker::new(&GpuConfig::default());
        let tree: HashSet<u32> = [100, 101].into_iter().collect();
        g.observe(&[dev(0.0, &[(100, 1 << 30)])], &tree, Instant::now());
        // The child died: its pid is still listed, so memory is not released yet.
        assert!(!g.released(&[dev(0.0, &[(100, 1 << 30), (300, 5)])]));
        assert_eq!(g.holders(), [100]);
        g.reset();
        assert!(
            !g.released(&[dev(0.0, &[(100, 1 << 30)])]),
            "reset keeps old holders"
        );
        assert!(g.released(&[dev(0.0, &[(300, 5)])]));
    }

    #[test]
    fn nspid_lists_every_namespace_pid() {
        assert_eq!(parse_nspid("Name:\tx\nNSpid:\t4711\t12\n"), [4711, 12]);
        assert!(parse_nspid("Name:\tx\n").is_empty());
        let me = std::process::id() as i32;
        assert!(pid_aliases(me).contains(&(me as u32)));
    }
}
