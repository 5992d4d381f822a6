//! [`NvmlSource`]: GPU readings from NVML (nvml-wrapper, loaded at run time, so a machine
//! without a driver runs the same binary with GPU watching off).
//!
//! Errors are kept per device and per query: one lost GPU keeps the others, and a query
//! NVML refuses is `None` with its reason, never 0. MIG GPUs are read per slice (the parent
//! handle gives nothing without admin rights). Old drivers (before R510) lack the `_v2`
//! memory and `_v3` process calls: the older ones are used. Drivers 535.43–535.85 write the
//! 32-byte v3 process entry into the 24-byte slots nvml-wrapper hands them: the `_v2` process
//! calls are used there.

use std::cell::{Cell, RefCell};

use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::error::{NvmlError, nvml_try};
use nvml_wrapper::struct_wrappers::device::ProcessInfo;
use nvml_wrapper::{Device, Nvml};

use super::gpu_source::{GpuDevice, GpuError, GpuProcess, GpuRead, GpuSource, add_process};

pub struct NvmlSource {
    nvml: Nvml,
    driver: Option<String>,
    /// Use the `_v2` process calls (old driver, or the 535 struct-size bug).
    processes_v2: Cell<bool>,
    /// Use `nvmlDeviceGetMemoryInfo` (v1): the driver lacks `_v2`.
    memory_v1: Cell<bool>,
    note: RefCell<Option<String>>,
}

impl NvmlSource {
    /// Loads and starts NVML. [`GpuError::Off`] when there is no NVIDIA stack here (no
    /// library, no GPU), [`GpuError::Failed`] when there is one that fails (worth retrying).
    pub fn open() -> Result<NvmlSource, GpuError> {
        let nvml = Nvml::init().map_err(|e| match e {
            NvmlError::LibloadingError(_) => GpuError::Off(format!("NVML is not available: {e}")),
            e => GpuError::Failed(format!("NVML is installed but does not start: {e}")),
        })?;
        let n = nvml
            .device_count()
            .map_err(|e| GpuError::Failed(format!("NVML cannot count the GPUs: {e}")))?;
        if n == 0 {
            return Err(GpuError::Off("NVML reports no GPU".into()));
        }
        let driver = nvml.sys_driver_version().ok();
        let buggy = driver.as_deref().is_some_and(has_535_struct_bug);
        let note = buggy.then(|| {
            format!(
                "driver {} writes process entries larger than announced (fixed in 535.86): \
                 using the _v2 process calls",
                driver.as_deref().unwrap_or_default()
            )
        });
        Ok(NvmlSource {
            nvml,
            driver,
            processes_v2: Cell::new(buggy),
            memory_v1: Cell::new(false),
            note: RefCell::new(note),
        })
    }

    fn read_device(&self, d: &Device, index: u32, mig: Option<u32>) -> GpuDevice {
        let mut out = GpuDevice {
            index,
            mig,
            uuid: d.uuid().ok(),
            name: d.name().unwrap_or_default(),
            ..GpuDevice::default()
        };
        match self.memory(d) {
            Ok((total, free, used)) => {
                out.memory_total = Some(total);
                out.memory_free = Some(free);
                out.memory_used = Some(used);
            }
            Err(e) => out.memory_why = Some(e.to_string()),
        }
        if mig.is_some() {
            out.utilization_why = Some("NVML does not report utilisation of MIG slices".into());
        } else {
            match d.utilization_rates() {
                Ok(u) => out.utilization_percent = Some(u.gpu as f64),
                Err(e) => out.utilization_why = Some(e.to_string()),
            }
        }
        match self.processes(d) {
            Ok(p) => out.processes = Some(p),
            Err(e) => out.processes_why = Some(e.to_string()),
        }
        out
    }

    /// (total, free, used) in bytes.
    fn memory(&self, d: &Device) -> Result<(u64, u64, u64), NvmlError> {
        if !self.memory_v1.get() {
            match d.memory_info() {
                Ok(m) => return Ok((m.total, m.free, m.used)),
                Err(NvmlError::FailedToLoadSymbol(_)) => self.old_driver("memory"),
                Err(e) => return Err(e),
            }
        }
        #[repr(C)]
        #[derive(Default)]
        struct MemoryV1 {
            total: u64,
            free: u64,
            used: u64,
        }
        let sym = self
            .nvml
            .lib()
            .nvmlDeviceGetMemoryInfo
            .as_ref()
            .map_err(|e| NvmlError::FailedToLoadSymbol(e.to_string()))?;
        let mut m = MemoryV1::default();
        // SAFETY: `MemoryV1` has the layout of nvml.h's `nvmlMemory_t` (three unsigned long
        // longs); the handle comes from this NVML instance.
        nvml_try(unsafe { sym(d.handle(), &mut m as *mut MemoryV1 as *mut _) })?;
        Ok((m.total, m.free, m.used))
    }

    fn processes(&self, d: &Device) -> Result<Vec<GpuProcess>, NvmlError> {
        let (compute, graphics) = if self.processes_v2.get() {
            (
                d.running_compute_processes_v2()?,
                d.running_graphics_processes_v2()?,
            )
        } else {
            match d
                .running_compute_processes()
                .and_then(|c| Ok((c, d.running_graphics_processes()?)))
            {
                Ok(lists) => lists,
                Err(NvmlError::FailedToLoadSymbol(_)) => {
                    self.old_driver("process");
                    return self.processes(d);
                }
                Err(e) => return Err(e),
            }
        };
        let mut out = Vec::new();
        for p in compute.into_iter().chain(graphics) {
            add_process(&mut out, process(p));
        }
        Ok(out)
    }

    /// The driver lacks a current call: use the older one from now on, and say so.
    fn old_driver(&self, what: &str) {
        match what {
            "memory" => self.memory_v1.set(true),
            _ => self.processes_v2.set(true),
        }
        let note = format!(
            "driver {} predates R510: using the older {what} calls",
            self.driver.as_deref().unwrap_or("(unknown version)")
        );
        tracing::info!("{note}");
        *self.note.borrow_mut() = Some(note);
    }
}

fn process(p: ProcessInfo) -> GpuProcess {
    GpuProcess {
        pid: p.pid,
        memory_used: match p.used_gpu_memory {
            UsedGpuMemory::Used(b) => Some(b),
            UsedGpuMemory::Unavailable => None,
        },
    }
}

/// Drivers 535.43 up to (not including) 535.86 fill `nvmlProcessInfo_v3` entries (32 bytes)
/// into `_v3` calls without a version bump (gpustat, nvitop and go-nvml guard the same range).
pub fn has_535_struct_bug(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(535), Some(minor)) => (43..86).contains(&minor),
        _ => false,
    }
}

impl GpuSource for NvmlSource {
    fn read(&mut self) -> Result<GpuRead, GpuError> {
        let n = self
            .nvml
            .device_count()
            .map_err(|e| GpuError::Failed(format!("NVML cannot count the GPUs: {e}")))?;
        let mut devices = Vec::new();
        for index in 0..n {
            let d = match self.nvml.device_by_index(index) {
                Ok(d) => d,
                Err(e) => {
                    devices.push(GpuDevice::failed(index, None, e.to_string()));
                    continue;
                }
            };
            // MIG on: the parent handle gives aggregates only to admins; each slice has its
            // own memory and processes.
            let slices = match d.mig_mode() {
                Ok(m) if m.current == 1 => d.mig_device_count().unwrap_or(0),
                _ => 0,
            };
            if slices == 0 {
                devices.push(self.read_device(&d, index, None));
                continue;
            }
            let mut any = false;
            for s in 0..slices {
                match d.mig_device_by_index(s) {
                    Ok(m) => {
                        any = true;
                        devices.push(self.read_device(&m, index, Some(s)));
                    }
                    // Slots without a slice, or slices of other containers/users.
                    Err(NvmlError::NotFound | NvmlError::NoPermission) => {}
                    Err(e) => devices.push(GpuDevice::failed(index, Some(s), e.to_string())),
                }
            }
            if !any {
                devices.push(GpuDevice::failed(
                    index,
                    None,
                    "MIG is on and no slice of this GPU is visible here".into(),
                ));
            }
        }
        Ok(GpuRead {
            devices,
            driver: self.driver.clone(),
            note: self.note.borrow().clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_535_struct_bug_range() {
        assert!(has_535_struct_bug("535.54.03"));
        assert!(has_535_struct_bug("535.43.02"));
        assert!(!has_535_struct_bug("535.86.05"));
        assert!(!has_535_struct_bug("535.42"));
        assert!(!has_535_struct_bug("550.54.15"));
        assert!(!has_535_struct_bug("garbage"));
    }
}
