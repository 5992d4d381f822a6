//! GPU readings from a JSON file, for tests and demos on machines without a GPU.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::gpu_source::{GpuDevice, GpuError, GpuRead, GpuSource};

/// Test hook: read GPU readings from this JSON file instead of NVML (see [`FakeGpuSource`]).
pub const FAKE_GPU_ENV: &str = "CLAWVISOR_FAKE_GPU";

/// Reads `{"devices": [GpuDevice...]}` from a file at every read, so a test can change the
/// readings while clawvisor runs. A missing or broken file is a read error. Beyond the
/// devices, the file may say `"hang_ms": N` (the read sleeps that long, as a hung driver
/// call would), `"error": "…"` (the whole read fails) and `"driver": "…"`. In a device,
/// `null` or a missing value is unknown, as from NVML: leaving out `processes` means the
/// process list could not be read, not that it is empty.
pub struct FakeGpuSource {
    pub path: PathBuf,
}

#[derive(Deserialize)]
struct FakeFile {
    #[serde(default)]
    devices: Vec<GpuDevice>,
    #[serde(default)]
    hang_ms: u64,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    driver: Option<String>,
}

impl GpuSource for FakeGpuSource {
    fn read(&mut self) -> Result<GpuRead, GpuError> {
        let fail = |e: String| GpuError::Failed(format!("{}: {e}", self.path.display()));
        let text = std::fs::read_to_string(&self.path).map_err(|e| fail(e.to_string()))?;
        let file = serde_json::from_str::<FakeFile>(&text).map_err(|e| fail(e.to_string()))?;
        if file.hang_ms > 0 {
            std::thread::sleep(Duration::from_millis(file.hang_ms));
        }
        if let Some(e) = file.error {
            return Err(GpuError::Failed(e));
        }
        let mut devices = file.devices;
        for d in &mut devices {
            if d.memory_free.is_none() {
                d.memory_free = d.memory_total.zip(d.memory_used).map(|(t, u)| t - u.min(t));
            }
        }
        Ok(GpuRead {
            devices,
            driver: file.driver,
            note: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fake_says_unknown_as_null_and_fails_as_told() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("gpu.json");
        std::fs::write(
            &path,
            r#"{"devices": [{"index": 0, "utilization_percent": null, "memory_used": 1,
                "memory_total": 3, "processes": [{"pid": 5, "memory_used": null}]}]}"#,
        )
        .unwrap();
        let mut f = FakeGpuSource { path: path.clone() };
        let r = f.read().unwrap();
        assert_eq!(r.devices[0].utilization_percent, None);
        assert_eq!(r.devices[0].memory_free, Some(2));
        assert_eq!(
            r.devices[0].processes.as_ref().unwrap()[0].memory_used,
            None
        );
        std::fs::write(&path, r#"{"error": "GPU is lost"}"#).unwrap();
        assert_eq!(f.read(), Err(GpuError::Failed("GPU is lost".into())));
        std::fs::write(&path, "{").unwrap();
        assert!(matches!(f.read(), Err(GpuError::Failed(e)) if e.contains("gpu.json")));
    }
}
