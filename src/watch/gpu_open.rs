//! Which GPU source a run reads: the fake file when the test hook names one, else NVML.

use std::path::PathBuf;

use super::gpu_fake::{FAKE_GPU_ENV, FakeGpuSource};
use super::gpu_nvml::NvmlSource;
use super::gpu_source::{GpuError, GpuSource};

/// Opens the GPU source: the fake when `CLAWVISOR_FAKE_GPU` names a file, else NVML. May
/// block (nvmlInit): called on the NVML thread.
pub fn open_gpu_source() -> Result<Box<dyn GpuSource>, GpuError> {
    if let Some(path) = std::env::var_os(FAKE_GPU_ENV) {
        return Ok(Box::new(FakeGpuSource {
            path: PathBuf::from(path),
        }));
    }
    NvmlSource::open().map(|s| Box::new(s) as Box<dyn GpuSource>)
}
