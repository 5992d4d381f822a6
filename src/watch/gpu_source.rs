//! What a GPU reading is, and where readings come from: NVML on a real machine
//! (`gpu_nvml`), a JSON file in tests (`gpu_fake`); `gpu_open` picks one.
//!
//! A value NVML cannot give is `None` with the reason next to it, never 0: "utilisation not
//! supported" (MIG, WSL2) is not "idle", and a failed process query is not "no processes".

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One device (a GPU, or one MIG slice of it) as NVML reports it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GpuDevice {
    /// NVML's index of the GPU (not the CUDA index; not stable across reboots).
    pub index: u32,
    /// The MIG slice of GPU `index` this reading is for; `None` for a whole GPU.
    pub mig: Option<u32>,
    /// `GPU-…` or `MIG-…`: the stable name of the device, when NVML gives it.
    pub uuid: Option<String>,
    pub name: String,
    /// The device could not be read at all (lost, not permitted): every value is unknown.
    pub error: Option<String>,
    /// Percent of time a kernel was running over the last sample period; `None` when NVML
    /// cannot say (MIG, WSL2), with the reason in `utilization_why`.
    pub utilization_percent: Option<f64>,
    pub utilization_why: Option<String>,
    pub memory_used: Option<u64>,
    pub memory_total: Option<u64>,
    /// NVML's own figure where it has one (it excludes reserved memory); else total − used.
    pub memory_free: Option<u64>,
    pub memory_why: Option<String>,
    /// Processes with a context on this device, each once (a process with compute and
    /// graphics contexts is listed in both NVML lists), by the pid NVML reports. `None`:
    /// the query failed, so who holds memory is unknown (reason in `processes_why`).
    pub processes: Option<Vec<GpuProcess>>,
    pub processes_why: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GpuProcess {
    pub pid: u32,
    /// `None`: NVML reports "not available" (always under WDDM/WSL2; in some containers).
    pub memory_used: Option<u64>,
}

impl GpuDevice {
    /// A device that could not be read at all.
    pub fn failed(index: u32, mig: Option<u32>, error: String) -> GpuDevice {
        GpuDevice {
            index,
            mig,
            error: Some(error),
            ..GpuDevice::default()
        }
    }

    /// `0` for GPU 0, `0:1` for MIG slice 1 of GPU 0: how messages and `gpu.devices` name it.
    pub fn label(&self) -> String {
        match self.mig {
            Some(m) => format!("{}:{m}", self.index),
            None => self.index.to_string(),
        }
    }
}

/// Adds `p` to `list` unless its pid is there already; then keeps the larger known figure.
/// NVML lists a process with compute and graphics contexts in both lists, each time with its
/// whole usage: counting both would double it.
pub fn add_process(list: &mut Vec<GpuProcess>, p: GpuProcess) {
    match list.iter_mut().find(|q| q.pid == p.pid) {
        Some(q) => {
            q.memory_used = match (q.memory_used, p.memory_used) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            }
        }
        None => list.push(p),
    }
}

/// Why a reading could not be had at all.
#[derive(Clone, Debug, PartialEq)]
pub enum GpuError {
    /// No NVIDIA stack here (no NVML library, no GPU): GPU watching is off.
    Off(String),
    /// NVML is there but fails (driver not loaded yet, version mismatch, …): retried.
    Failed(String),
    /// An NVML call has not returned for this long (a GPU fallen off the bus can leave the
    /// driver's ioctls asleep for ever): the reading is stale.
    Hung(Duration),
}

impl std::fmt::Display for GpuError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GpuError::Off(s) | GpuError::Failed(s) => f.write_str(s),
            GpuError::Hung(d) => write!(
                f,
                "an NVML call has not returned for {:.1}s (the driver may be hung)",
                d.as_secs_f64()
            ),
        }
    }
}

/// One reading of every device.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GpuRead {
    pub devices: Vec<GpuDevice>,
    /// The driver's version, when known.
    pub driver: Option<String>,
    /// How the driver is being read when that is not the plain way (old driver, known bug).
    pub note: Option<String>,
}

/// A source of GPU readings. Reading may block, even for ever (NVML calls the driver): it
/// only ever runs on the NVML thread (`gpu_reader`).
pub trait GpuSource: Send {
    fn read(&mut self) -> Result<GpuRead, GpuError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_in_both_lists_counts_once_with_its_larger_figure() {
        let mut l = Vec::new();
        let p = |pid, m: Option<u64>| GpuProcess {
            pid,
            memory_used: m,
        };
        add_process(&mut l, p(1, Some(3 << 30)));
        add_process(&mut l, p(2, None));
        add_process(&mut l, p(1, Some(3 << 30)));
        add_process(&mut l, p(2, Some(5)));
        assert_eq!(l, [p(1, Some(3 << 30)), p(2, Some(5))]);
    }
}
