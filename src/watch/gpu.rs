//! `[gpu]`: thresholds on device utilisation and on the tree's GPU memory, and what the
//! VRAM-release wait waits for. Pure: readings and `now` are passed in.
//!
//! Unknown stays unknown: a device NVML could not read, a process list it refused, a
//! process memory figure it calls "not available" are never taken as 0. The status says
//! `null` with the reason, thresholds judge only what is known (a known lower bound above a
//! limit still counts), and the release wait keeps its holders while it cannot see them.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::gpu_source::{GpuDevice, GpuRead};
use super::held_threshold::HeldThreshold;
use super::verdict::Verdict;
use crate::config::{GpuConfig, Size};
use crate::supervisor::Reaction;

#[derive(Debug)]
pub struct GpuTracker {
    cfg: GpuConfig,
    /// Per device (by UUID, else label).
    utilization: BTreeMap<String, HeldThreshold>,
    memory_warn: HeldThreshold,
    memory_restart: HeldThreshold,
    /// NVML pids that belonged to a gateway tree (this child's or an earlier one's) and that
    /// NVML still lists: the memory a new child must wait for.
    held_by_old_trees: HashSet<u32>,
    /// Every pid of the latest sample of a live tree, listed by NVML or not: a context made
    /// after the last reading still has to be waited for after a crash.
    last_tree: HashSet<u32>,
    /// Warnings already given (each once per tracker).
    said: HashSet<&'static str>,
}

/// What one reading concludes.
#[derive(Debug)]
pub struct Observed {
    /// The `gpu` part of the status.
    pub summary: Value,
    pub verdicts: Vec<Verdict>,
    /// Problems to log once (WARN), already deduplicated.
    pub warnings: Vec<String>,
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
            last_tree: HashSet::new(),
            said: HashSet::new(),
        }
    }

    /// A new child: threshold timers restart; pids of old trees are still remembered.
    pub fn reset(&mut self) {
        self.memory_warn.reset();
        self.memory_restart.reset();
    }

    /// One reading. `tree` holds every pid of the gateway tree (empty while it is down);
    /// `hidden` the pids NVML lists that are not in this /proc (another PID namespace).
    pub fn observe(
        &mut self,
        read: &GpuRead,
        tree: &HashSet<u32>,
        hidden: &[u32],
        now: Instant,
    ) -> Observed {
        let mut verdicts = Vec::new();
        let mut warnings = Vec::new();
        if !tree.is_empty() {
            self.last_tree = tree.clone();
        }
        let watched = self.watched(&read.devices, tree);
        let mut tree_memory = 0u64;
        let mut memory_why: Option<String> = None;
        let mut dev_json = Vec::new();
        for (d, &watch) in read.devices.iter().zip(&watched) {
            let mut mine = Some(0u64);
            match &d.processes {
                Some(list) => {
                    for p in list.iter().filter(|p| tree.contains(&p.pid)) {
                        self.held_by_old_trees.insert(p.pid);
                        // 0 bytes for a process while the device has memory in use is the
                        // container case where the driver cannot match the pid (535.113–565).
                        let figure = p
                            .memory_used
                            .filter(|&m| m > 0 || d.memory_used.unwrap_or(0) == 0);
                        match figure {
                            Some(m) => {
                                tree_memory += m;
                                mine = mine.map(|x| x + m);
                            }
                            None => {
                                mine = None;
                                memory_why.get_or_insert_with(|| {
                                    format!(
                                        "NVML does not report the GPU memory of pid {} on GPU {} \
                                         (\"not available\": WDDM/WSL2, or a container on a driver \
                                         from 535.113 to 565.57)",
                                        p.pid,
                                        d.label()
                                    )
                                });
                            }
                        }
                    }
                }
                None if !tree.is_empty() => {
                    mine = None;
                    memory_why.get_or_insert_with(|| {
                        format!(
                            "the processes on GPU {} are unknown: {}",
                            d.label(),
                            d.error
                                .as_deref()
                                .or(d.processes_why.as_deref())
                                .unwrap_or("no reason given")
                        )
                    });
                }
                None => mine = None,
            }
            if watch {
                self.judge_utilization(d, now, &mut verdicts);
            }
            dev_json.push(device_json(d, watch, mine));
        }
        self.retain_listed(&read.devices);
        let known = memory_why.is_none();
        let thresholds_set =
            self.cfg.warn_memory_above.is_some() || self.cfg.restart_memory_above.is_some();
        if let Some(why) = &memory_why
            && thresholds_set
            && self.once("memory_unknown")
        {
            warnings.push(format!(
                "{why}: gpu.warn_memory_above and gpu.restart_memory_above judge only the \
                 memory NVML does report"
            ));
        }
        if self.judge_memory(&self.memory_warn.clone(), tree_memory, known)
            && self.memory_warn.observe(tree_memory as f64, now)
        {
            verdicts.push(Verdict::new(
                Reaction::Alert,
                format!(
                    "gateway tree GPU memory {} is above gpu.warn_memory_above ({})",
                    Size(tree_memory),
                    self.cfg.warn_memory_above.unwrap_or_default()
                ),
            ));
        }
        if self.judge_memory(&self.memory_restart.clone(), tree_memory, known)
            && self.memory_restart.observe(tree_memory as f64, now)
        {
            verdicts.push(Verdict::new(
                Reaction::Restart,
                format!(
                    "gateway tree GPU memory {} stayed above gpu.restart_memory_above ({}) for {}",
                    Size(tree_memory),
                    self.cfg.restart_memory_above.unwrap_or_default(),
                    self.cfg.held_for
                ),
            ));
        }
        if !hidden.is_empty() && self.once("pids_not_visible") {
            warnings.push(format!(
                "NVML lists GPU processes whose pids ({}) are not in this /proc: clawvisor runs in \
                 another PID namespace than NVML reports (a container on a driver before \
                 535.113), so the gateway's GPU memory and its release cannot be seen. Run the \
                 container with --pid=host, or use driver 565.57 or newer",
                hidden
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut summary = json!({
            "enabled": true,
            "devices": dev_json,
            "gateway_memory": known.then_some(tree_memory),
            "gateway_memory_known": known,
            "gateway_gpu_pids": sorted(&self.held_by_old_trees),
            "pids_not_visible": !hidden.is_empty(),
            "interval_secs": self.cfg.interval.get().as_secs_f64(),
            "driver": read.driver,
        });
        if let Some(why) = memory_why {
            summary["gateway_memory_why"] = json!(why);
            summary["gateway_memory_at_least"] = json!(tree_memory);
        }
        if let Some(note) = &read.note {
            summary["note"] = json!(note);
        }
        Observed {
            summary,
            verdicts,
            warnings,
        }
    }

    /// Whether a memory threshold can be judged: when the figure is known, or when the part
    /// that is known is already above the limit.
    fn judge_memory(&self, t: &HeldThreshold, total: u64, known: bool) -> bool {
        known || total as f64 > t.limit()
    }

    fn judge_utilization(&mut self, d: &GpuDevice, now: Instant, out: &mut Vec<Verdict>) {
        let (Some(limit), Some(util)) = (self.cfg.warn_utilization_above, d.utilization_percent)
        else {
            return;
        };
        let key = d.uuid.clone().unwrap_or_else(|| d.label());
        let t = self
            .utilization
            .entry(key)
            .or_insert_with(|| HeldThreshold::new(limit.0, self.cfg.held_for.get()));
        if t.observe(util, now) {
            out.push(Verdict::new(
                Reaction::Alert,
                format!(
                    "GPU {}{} utilisation {util:.0}% stayed above gpu.warn_utilization_above \
                     ({limit}) for {}",
                    d.label(),
                    d.uuid
                        .as_ref()
                        .map(|u| format!(" ({u})"))
                        .unwrap_or_default(),
                    self.cfg.held_for
                ),
            ));
        }
    }

    /// Which devices alerts and `wait-idle` judge: those `gpu.devices` names; else those
    /// the tree has a process on; else (no tree process anywhere) all.
    fn watched(&self, devices: &[GpuDevice], tree: &HashSet<u32>) -> Vec<bool> {
        if !self.cfg.devices.is_empty() {
            return devices
                .iter()
                .map(|d| {
                    self.cfg.devices.iter().any(|n| {
                        *n == d.label()
                            || *n == d.index.to_string()
                            || d.uuid.as_deref() == Some(n.as_str())
                    })
                })
                .collect();
        }
        let used: Vec<bool> = devices
            .iter()
            .map(|d| d.processes.iter().flatten().any(|p| tree.contains(&p.pid)))
            .collect();
        if used.iter().any(|&u| u) {
            used
        } else {
            vec![true; devices.len()]
        }
    }

    fn once(&mut self, what: &'static str) -> bool {
        self.said.insert(what)
    }

    /// Forgets holders NVML no longer lists, only when every device's list is known: a list
    /// that could not be read may still hold them.
    fn retain_listed(&mut self, devices: &[GpuDevice]) {
        if devices.iter().all(|d| d.processes.is_some()) {
            let listed = listed(devices);
            self.held_by_old_trees.retain(|p| listed.contains(p));
        }
    }

    /// Whether anything could still hold the old trees' GPU memory: known holders, or pids
    /// of the last tree not yet checked against NVML.
    pub fn waiting_for_any(&self) -> bool {
        !self.held_by_old_trees.is_empty() || !self.last_tree.is_empty()
    }

    /// True when no process of an old tree still holds GPU memory. `read` is the latest
    /// reading; `None` when it could not be had, which releases only when nothing was held.
    pub fn released(&mut self, read: Option<&GpuRead>) -> bool {
        if let Some(read) = read {
            let listed = listed(&read.devices);
            // Pids of the last tree that NVML lists now are holders, even if no reading saw
            // them while the tree lived.
            let late: Vec<u32> = self.last_tree.intersection(&listed).copied().collect();
            self.held_by_old_trees.extend(late);
            self.last_tree.clear();
            self.retain_listed(&read.devices);
        }
        self.held_by_old_trees.is_empty()
    }

    /// Carries the pids still to be released over into a tracker with new settings.
    pub fn remember(&mut self, other: &GpuTracker) {
        self.held_by_old_trees
            .extend(other.held_by_old_trees.iter().copied());
        self.last_tree.extend(other.last_tree.iter().copied());
    }

    pub fn holders(&self) -> Vec<u32> {
        sorted(&self.held_by_old_trees)
    }
}

fn listed(devices: &[GpuDevice]) -> HashSet<u32> {
    devices
        .iter()
        .flat_map(|d| d.processes.iter().flatten().map(|p| p.pid))
        .collect()
}

/// One device in the status: every value NVML could not give is `null`, with a `*_why`.
fn device_json(d: &GpuDevice, watched: bool, mine: Option<u64>) -> Value {
    let mut v = json!({
        "index": d.index,
        "mig": d.mig,
        "label": d.label(),
        "uuid": d.uuid,
        "name": d.name,
        "watched": watched,
        "utilization_percent": d.utilization_percent,
        "memory_used": d.memory_used,
        "memory_total": d.memory_total,
        "memory_free": d.memory_free,
        "processes": d.processes.as_ref().map(Vec::len),
        "gateway_memory": mine,
    });
    let whys = [
        ("error", &d.error),
        ("utilization_why", &d.utilization_why),
        ("memory_why", &d.memory_why),
        ("processes_why", &d.processes_why),
    ];
    for (k, why) in whys {
        if let Some(w) = why {
            v[k] = json!(w);
        }
    }
    v
}

fn sorted(s: &HashSet<u32>) -> Vec<u32> {
    let mut v: Vec<u32> = s.iter().copied().collect();
    v.sort_unstable();
    v
}

/// The pids NVML lists that have no `/proc/<pid>` here: NVML and clawvisor do not share a
/// PID namespace. Reads /proc: call off the runtime's workers.
pub fn invisible_pids(read: &GpuRead) -> Vec<u32> {
    let mut out: Vec<u32> = listed(&read.devices)
        .into_iter()
        .filter(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
        .collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Dur, Percent};
    use crate::watch::gpu_source::GpuProcess;

    fn dev(index: u32, util: Option<f64>, procs: &[(u32, Option<u64>)]) -> GpuDevice {
        let used: u64 = procs.iter().filter_map(|p| p.1).sum();
        GpuDevice {
            index,
            name: "fake".into(),
            utilization_percent: util,
            memory_used: Some(used),
            memory_total: Some(16 << 30),
            memory_free: Some((16 << 30) - used),
            processes: Some(
                procs
                    .iter()
                    .map(|&(pid, memory_used)| GpuProcess { pid, memory_used })
                    .collect(),
            ),
            ..GpuDevice::default()
        }
    }

    fn read(devices: Vec<GpuDevice>) -> GpuRead {
        GpuRead {
            devices,
            ..GpuRead::default()
        }
    }

    fn tree(pids: &[u32]) -> HashSet<u32> {
        pids.iter().copied().collect()
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
        let tree = tree(&[100]);
        let t0 = Instant::now();
        let s = Duration::from_secs;
        // Another process's 10 GiB is not the gateway's.
        let d = dev(
            0,
            Some(50.0),
            &[(100, Some(1 << 30)), (200, Some(10 << 30))],
        );
        let o = g.observe(&read(vec![d]), &tree, &[], t0);
        assert!(o.verdicts.is_empty());
        assert_eq!(o.summary["gateway_memory"], 1u64 << 30);
        let busy = || read(vec![dev(0, Some(95.0), &[(100, Some(9 << 30))])]);
        let o = g.observe(&busy(), &tree, &[], t0 + s(1));
        assert_eq!(o.verdicts.len(), 1, "{:?}", o.verdicts);
        assert!(o.verdicts[0].reason.contains("warn_memory_above"));
        let o = g.observe(&busy(), &tree, &[], t0 + s(31));
        let reactions: Vec<_> = o.verdicts.iter().map(|v| v.reaction).collect();
        assert_eq!(reactions, [Reaction::Alert, Reaction::Restart], "{o:?}");
    }

    #[test]
    fn unknown_memory_is_null_and_never_compared_as_zero() {
        let cfg = GpuConfig {
            restart_memory_above: Some(Size::gib(1)),
            held_for: Dur::secs(0),
            ..GpuConfig::default()
        };
        let mut g = GpuTracker::new(&cfg);
        let t0 = Instant::now();
        let o = g.observe(
            &read(vec![dev(0, None, &[(7, None)])]),
            &tree(&[7]),
            &[],
            t0,
        );
        assert_eq!(o.summary["gateway_memory"], Value::Null);
        assert_eq!(o.summary["gateway_memory_known"], false);
        assert_eq!(o.summary["devices"][0]["utilization_percent"], Value::Null);
        assert!(o.verdicts.is_empty());
        assert_eq!(o.warnings.len(), 1, "{:?}", o.warnings);
        let o = g.observe(
            &read(vec![dev(0, None, &[(7, None)])]),
            &tree(&[7]),
            &[],
            t0,
        );
        assert!(o.warnings.is_empty(), "said once");
        // A known part above the limit is enough to judge.
        let d = dev(0, None, &[(7, None), (8, Some(2 << 30))]);
        let o = g.observe(&read(vec![d]), &tree(&[7, 8]), &[], t0);
        assert_eq!(o.verdicts.len(), 1, "{:?}", o.verdicts);
    }

    #[test]
    fn release_waits_for_old_tree_pids_to_leave_the_device() {
        let mut g = GpuTracker::new(&GpuConfig::default());
        let t = tree(&[100, 101]);
        g.observe(
            &read(vec![dev(0, None, &[(100, Some(1 << 30))])]),
            &t,
            &[],
            Instant::now(),
        );
        // The child died: its pid is still listed, so memory is not released yet.
        let still = || read(vec![dev(0, None, &[(100, Some(1 << 30)), (300, Some(5))])]);
        assert!(!g.released(Some(&still())));
        assert_eq!(g.holders(), [100]);
        g.reset();
        assert!(!g.released(Some(&still())), "reset keeps old holders");
        // A failed reading, or a failed process list, keeps the holders.
        assert!(!g.released(None));
        let mut unknown = dev(0, None, &[]);
        unknown.processes = None;
        assert!(!g.released(Some(&read(vec![unknown]))));
        assert!(g.released(Some(&read(vec![dev(0, None, &[(300, Some(5))])]))));
    }

    #[test]
    fn a_context_made_after_the_last_reading_is_still_waited_for() {
        let mut g = GpuTracker::new(&GpuConfig::default());
        // The tree (100, 101) was sampled while NVML listed none of it.
        g.observe(
            &read(vec![dev(0, None, &[])]),
            &tree(&[100, 101]),
            &[],
            Instant::now(),
        );
        assert!(g.waiting_for_any());
        assert!(!g.released(Some(&read(vec![dev(0, None, &[(101, Some(8 << 30))])]))));
        assert_eq!(g.holders(), [101]);
        assert!(g.released(Some(&read(vec![dev(0, None, &[])]))));
        assert!(!g.waiting_for_any());
        // Nothing was seen and nothing is listed: no wait, even without a reading.
        assert!(g.released(None));
    }

    #[test]
    fn alerts_judge_the_gateways_gpu_or_the_configured_ones() {
        let cfg = GpuConfig {
            warn_utilization_above: Some(Percent(90.0)),
            held_for: Dur::secs(0),
            ..GpuConfig::default()
        };
        let two = || {
            read(vec![
                dev(0, Some(5.0), &[(100, Some(1))]),
                dev(1, Some(100.0), &[(900, Some(1))]),
            ])
        };
        let mut g = GpuTracker::new(&cfg);
        let o = g.observe(&two(), &tree(&[100]), &[], Instant::now());
        assert!(o.verdicts.is_empty(), "{:?}", o.verdicts);
        assert_eq!(o.summary["devices"][1]["watched"], false);
        // No tree process anywhere: every GPU is judged.
        let mut g = GpuTracker::new(&cfg);
        let o = g.observe(&two(), &tree(&[]), &[], Instant::now());
        assert_eq!(o.verdicts.len(), 1);
        assert!(o.verdicts[0].reason.starts_with("GPU 1 utilisation 100%"));
        // gpu.devices names GPU 0 only.
        let cfg = GpuConfig {
            devices: vec!["0".into()],
            ..cfg
        };
        let mut g = GpuTracker::new(&cfg);
        let o = g.observe(&two(), &tree(&[]), &[], Instant::now());
        assert!(o.verdicts.is_empty(), "{:?}", o.verdicts);
    }

    #[test]
    fn pids_from_another_namespace_are_said_once() {
        let mut g = GpuTracker::new(&GpuConfig::default());
        let r = read(vec![dev(0, None, &[(4_000_000, Some(1))])]);
        let o = g.observe(&r, &tree(&[]), &[4_000_000], Instant::now());
        assert_eq!(o.summary["pids_not_visible"], true);
        assert!(o.warnings[0].contains("--pid=host"), "{:?}", o.warnings);
        let o = g.observe(&r, &tree(&[]), &[4_000_000], Instant::now());
        assert!(o.warnings.is_empty());
        assert_eq!(invisible_pids(&r), [4_000_000]);
        let me = std::process::id();
        assert!(invisible_pids(&read(vec![dev(0, None, &[(me, None)])])).is_empty());
    }
}
