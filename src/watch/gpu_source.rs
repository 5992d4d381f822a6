//! Where GPU readings come from: NVML on a real machine, a JSON file in tests.
//!
//! NVML is loaded at run time (`Nvml::init()` fails cleanly without a driver), so a machine
//! without a GPU runs the same binary with GPU watching off.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Test hook: read GPU readings from this JSON file instead of NVML (see [`FakeGpuSource`]).
pub const FAKE_GPU_ENV: &str = "CLAWVISOR_FAKE_GPU";

/// One device as NVML reports it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GpuDevice {
    pub index: u32,
    pub name: String,
    /// Percent of time a kernel was running over the last sample period.
    pub utilization_percent: f64,
    pub memory_used: u64,
    pub memory_total: u64,
    /// Processes with a context on this device, by the pid NVML reports (in containers,
    /// possibly the host's pid).
    pub processes: Vec<GpuProcess>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GpuProcess {
    pub pid: u32,
    pub memory_used: u64,
}

/// A source of GPU readings. Reading may block briefly (NVML calls the driver).
pub trait GpuSource: Send {
    fn read(&mut self) -> Result<Vec<GpuDevice>, String>;
}

/// Opens the GPU source: the fake when `CLAWVISOR_FAKE_GPU` names a file, else NVML.
pub fn open_gpu_source() -> Result<Box<dyn GpuSource>, String> {
    if let Some(path) = std::env::var_os(FAKE_GPU_ENV) {
        return Ok(Box::new(FakeGpuSource {
            path: PathBuf::from(path),
        }));
    }
    NvmlSource::open().map(|s| Box::new(s) as Box<dyn GpuSource>)
}

pub struct NvmlSource {
    nvml: nvml_wrapper::Nvml,
}

impl NvmlSource {
    pub fn open() -> Result<NvmlSource, String> {
        let nvml = nvml_wrapper::Nvml::init().map_err(|e| format!("NVML is not available: {e}"))?;
        let n = nvml.device_count().map_err(|e| format!("NVML: {e}"))?;
        if n == 0 {
            return Err("NVML reports no GPU".into());
        }
        Ok(NvmlSource { nvml })
    }
}

impl GpuSource for NvmlSource {
    fn read(&mut self) -> Result<Vec<GpuDevice>, String> {
        use nvml_wrapper::enums::device::UsedGpuMemory;
        let n = self.nvml.device_count().map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for index in 0..n {
            let d = self
                .nvml
                .device_by_index(index)
                .map_err(|e| format!("GPU {index}: {e}"))?;
            let mem = d.memory_info().map_err(|e| format!("GPU {index}: {e}"))?;
            let util = d.utilization_rates().map(|u| u.gpu as f64).unwrap_or(0.0);
            let mut processes = Vec::new();
            let procs = d
                .running_compute_processes()
                .unwrap_or_default()
                .into_iter();
            for p in procs.chain(d.running_graphics_processes().unwrap_or_default()) {
                let used = match p.used_gpu_memory {
                    UsedGpuMemory::Used(b) => b,
                    UsedGpuMemory::Unavailable => 0,
                };
                processes.push(GpuProcess {
                    pid: p.pid,
                    memory_used: used,
                });
            }
            out.push(GpuDevice {
                index,
                name: d.name().unwrap_or_default(),
                utilization_percent: util,
                memory_used: mem.used,
                memory_total: mem.total,
                processes,
            });
        }
        Ok(out)
    }
}

/// Reads `{"devices": [GpuDevice...]}` from a file at every read, so a test can change the
/// readings while clawvisor runs. A missing or broken file is a read error.
pub struct FakeGpuSource {
    pub path: PathBuf,
}

#[derive(Deserialize)]
struct FakeFile {
    devices: Vec<GpuDevice>,
}

impl GpuSource for FakeGpuSource {
    fn read(&mut self) -> Result<Vec<GpuDevice>, String> {
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        serde_json::from_str::<FakeFile>(&text)
            .map(|f| f.devices)
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }
}
